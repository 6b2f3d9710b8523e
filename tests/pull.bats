#!/usr/bin/env bats
# ctr-image pull, login and logout against a real registry (Debian's
# docker-registry, started per test by helpers/registry.bash), with skopeo
# as the oracle for what was pushed; and against small scripted servers
# for what a real registry does not do on demand (stalls, 5xx, 429,
# broken JSON).

load helpers/common
load helpers/registry
load helpers/registry-faults

setup_file() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  # The rich 3-layer fixture, and a relative of it sharing its lower two
  # layers; a big one for interrupted downloads; a multi-platform index.
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt pull-a "$BATS_FILE_TMPDIR/rich"
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt pull-b "$BATS_FILE_TMPDIR/sibling"
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt pull-big --bulk 8192 "$BATS_FILE_TMPDIR/big"
  python3 "$FAULTS_PY/mkmulti.py" "$BATS_FILE_TMPDIR/multi" multi linux/amd64 linux/arm64 linux/arm/v7 >/dev/null
}

setup() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  setup_store
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  # Credentials and certificates only from what a test puts there.
  export HOME=$BATS_TEST_TMPDIR/home XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg-run
  unset XDG_CONFIG_HOME REGISTRY_AUTH_FILE DOCKER_CONFIG CTR_CERTS_DIR CTR_REGISTRY_STALL_SECONDS CTR_REGISTRIES_CONF
  # curl honours these as docker does; the registries here are local.
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
  SERVER_PIDS=()
}

teardown() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  registry_stop
  if [ -n "${SERVER_NETNS:-}" ]; then
    ip netns del "$SERVER_NETNS" 2>/dev/null || true
  fi
}

# ---- helpers ---------------------------------------------------------------

# Everything about a tree a container could see (as image-interop.bats).
tree_listing() {
  (cd "$1" && find . -mindepth 1 -printf '%p %y %#m %U:%G ' \
    \( -type d -printf '\n' \) -o \( -type l -printf '%n %l\n' \) -o -printf '%n %s\n' |
    LC_ALL=C sort)
  (cd "$1" && find . -mindepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

push() { # LAYOUT-DIR REPO:TAG
  run registry_push_skopeo "oci:$BATS_FILE_TMPDIR/$1:test:latest" "$2"
  assert_success
}

# The store, byte for byte, but for resumable partial downloads.
listing_sans_partials() {
  store_listing | grep -v '\./images/\.partial' || true
}

# Blob GETs of a repository in the registry's access log.
blob_gets() {
  grep -c "\"GET /v2/$1/blobs/sha256:[0-9a-f]* HTTP" "$REGISTRY_DIR/registry.log" || true
}

# Bring the registry back on its port, with its storage, after a kill.
restart_registry() {
  local unset=() v
  for v in $(compgen -e); do
    [[ $v == REGISTRY_* ]] && unset+=(-u "$v")
  done
  env "${unset[@]}" docker-registry serve "$REGISTRY_DIR/config.yml" \
    </dev/null >>"$REGISTRY_DIR/registry.log" 2>&1 3>&- &
  REGISTRY_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "$REGISTRY_URL/v2/" && return 0
    sleep 0.1
  done
  return 1
}

# Wait until a partial download holds more than KIB KiB; echo its path.
wait_partial() {
  local f
  for _ in $(seq 200); do
    f=$(find "$CTR_ROOT/images/.partial" -type f -size +"$1"k 2>/dev/null | head -n 1)
    [[ -n $f ]] && { echo "$f"; return 0; }
    sleep 0.05
  done
  return 1
}

# This machine's platform as OCI names it.
host_arch() {
  case $(uname -m) in
  x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l) echo arm ;; *) uname -m ;;
  esac
}

# ---- interop ---------------------------------------------------------------

@test "pull: what skopeo pushed arrives with the same digests and unpacks as an import of it does" {
  registry_start plain
  push rich x:1
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_success
  [ -z "$stderr" ]
  want=$(registry_inspect_skopeo x:1 | jq -r .Digest)
  [ "$(index_digest "$REGISTRY/x:1")" = "$want" ]
  config=$(registry_inspect_skopeo x:1 --raw | jq -r .config.digest)
  # As podman: the image ID on stdout
  assert_output "${config#sha256:}"
  [ "$(ctr-image inspect --format json "$REGISTRY/x:1" | jq -r '.[0].Id')" = "$config" ]
  # every blob hashes to its name; nothing temporary is left
  for f in "$CTR_ROOT"/images/blobs/sha256/*; do
    [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
  done
  [ -z "$(find "$CTR_ROOT" -name '.tmp-*')" ]
  [ -z "$(ls -A "$CTR_ROOT/images/.partial")" ]
  # skopeo's copy of the same image, imported into another store: the
  # same unpacked layers, entry for entry.
  registry_pull_skopeo x:1 "oci:$W/layout:x"
  CTR_ROOT=$W/other ctr-image import "$W/layout" >/dev/null
  run ls "$CTR_ROOT/layers"
  assert_success
  [ "$output" = "$(ls "$W/other/layers")" ]
  [ "${#lines[@]}" -eq 3 ]
  for l in "${lines[@]}"; do
    diff <(tree_listing "$CTR_ROOT/layers/$l") <(tree_listing "$W/other/layers/$l")
  done
  [ -f "$CTR_ROOT/layers/${lines[0]}/salt" ] || [ -f "$CTR_ROOT/layers/${lines[1]}/salt" ] ||
    [ -f "$CTR_ROOT/layers/${lines[2]}/salt" ]
  # and skopeo reads the store as the same image
  run skopeo inspect "oci:$CTR_ROOT/images:$REGISTRY/x:1"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$want" ]
}

@test "pull -q prints only the ID; a name without a tag is :latest" {
  registry_start plain
  push rich x:latest
  run --separate-stderr ctr-image pull -q "$REGISTRY/x"
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]]
  [ -z "$stderr" ]
  [ -n "$(index_digest "$REGISTRY/x:latest")" ]
}

@test "pulling again fetches no blob and changes nothing" {
  registry_start plain
  push rich x:1
  ctr-image pull "$REGISTRY/x:1" >/dev/null
  before=$(store_listing)
  gets=$(blob_gets x)
  [ "$gets" -eq 4 ] # a config and three layers
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  [ "$(blob_gets x)" -eq "$gets" ]
  [ "$(store_listing)" = "$before" ]
}

@test "layers another image brought are not fetched again" {
  registry_start plain
  push rich a:1
  push sibling b:1
  ctr-image pull "$REGISTRY/a:1" >/dev/null
  run ctr-image pull "$REGISTRY/b:1"
  assert_success
  # b shares its two lower layers with a: only its config and top layer
  [ "$(blob_gets b)" -eq 2 ]
  [ "$(ls "$CTR_ROOT/layers" | wc -l)" -eq 4 ]
  run ctr-image unpack "$REGISTRY/b:1"
  assert_success
  grep -qx pull-b "${lines[0]}/salt"
}

@test "an unpacked layer whose blob is gone is fetched and checked again" {
  registry_start plain
  push rich x:1
  ctr-image pull "$REGISTRY/x:1" >/dev/null
  top=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].digest')
  rm "$CTR_ROOT/images/blobs/sha256/${top#sha256:}"
  gets=$(blob_gets x)
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  [ "$(blob_gets x)" -eq $((gets + 1)) ]
  [ -f "$CTR_ROOT/images/blobs/sha256/${top#sha256:}" ]
}

# ---- platforms -------------------------------------------------------------

@test "a multi-platform index: this machine's image by default" {
  [ "$(host_arch)" = amd64 ] || [ "$(host_arch)" = arm64 ] || skip "the index has amd64, arm64 and arm/v7 only"
  registry_start plain
  run skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/multi:multi" \
    "docker://$REGISTRY/multi:1"
  assert_success
  run ctr-image pull "$REGISTRY/multi:1"
  assert_success
  run ctr-image inspect --format json "$REGISTRY/multi:1"
  [ "$(jq -r '.[0].Config.architecture' <<<"$output")" = "$(host_arch)" ]
  # the stored image is that platform's manifest, as the index lists it
  want=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/multi:1" |
    jq -r --arg a "$(host_arch)" '.manifests[] | select(.platform.architecture == $a) | .digest')
  [ "$(index_digest "$REGISTRY/multi:1")" = "$want" ]
  run ctr-image unpack "$REGISTRY/multi:1"
  assert_success
  grep -qx "linux/$(host_arch)" "$output/arch"
}

@test "--platform picks another image of the index; the name moves to it" {
  registry_start plain
  skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/multi:multi" "docker://$REGISTRY/multi:1"
  ctr-image pull --platform linux/amd64 "$REGISTRY/multi:1" >/dev/null
  run ctr-image pull --platform linux/arm64 "$REGISTRY/multi:1"
  assert_success
  run ctr-image unpack "$REGISTRY/multi:1"
  assert_success
  grep -qx linux/arm64 "$output/arch"
  [ -f "$output/bin/only-arm64" ]
  run ctr-image pull --platform linux/arm/v7 "$REGISTRY/multi:1"
  assert_success
  run ctr-image inspect --format json "$REGISTRY/multi:1"
  [ "$(jq -r '.[0].Config.architecture + "/" + .[0].Config.variant' <<<"$output")" = arm/v7 ]
}

@test "--platform the index lacks: the error names those it has; nothing changes" {
  registry_start plain
  skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/multi:multi" "docker://$REGISTRY/multi:1"
  import_busybox
  before=$(listing_sans_partials)
  run --separate-stderr ctr-image pull --platform linux/s390x "$REGISTRY/multi:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/multi:1: no image for linux/s390x (the index has linux/amd64, linux/arm64, linux/arm/v7)" ]
  [ "$(listing_sans_partials)" = "$before" ]
}

@test "--all-platforms keeps the whole index and every image in it" {
  registry_start plain
  skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/multi:multi" "docker://$REGISTRY/multi:1"
  run ctr-image pull --all-platforms "$REGISTRY/multi:1"
  assert_success
  raw=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/multi:1")
  [ "$(index_digest "$REGISTRY/multi:1")" = "sha256:$(printf %s "$raw" | sha256sum | cut -d' ' -f1)" ]
  [ "$(jq -r '.manifests[0].mediaType' "$CTR_ROOT/images/index.json")" = application/vnd.oci.image.index.v1+json ]
  for m in $(jq -r '.manifests[].digest' <<<"$raw"); do
    blob "$m" >"$W/m.json"
    for d in $(jq -r '.config.digest, .layers[].digest' "$W/m.json"); do
      [ -f "$CTR_ROOT/images/blobs/sha256/${d#sha256:}" ]
    done
  done
  [ "$(ls "$CTR_ROOT/layers" | wc -l)" -eq 3 ]
  cat "$CTR_ROOT"/layers/*/arch | LC_ALL=C sort >"$W/arches"
  printf '%s\n' linux/amd64 linux/arm/v7 linux/arm64 | diff - "$W/arches"
  # skopeo reads the stored index back as the same
  run skopeo inspect --raw "oci:$CTR_ROOT/images:$REGISTRY/multi:1"
  assert_success
  [ "$output" = "$raw" ]
}

@test "an image for one platform is refused when --platform asks for another" {
  registry_start plain
  push rich x:1
  import_busybox
  before=$(listing_sans_partials)
  run --separate-stderr ctr-image pull --platform linux/arm64 "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/x:1: the image is for linux/amd64, not linux/arm64" ]
  [ "$(listing_sans_partials)" = "$before" ]
}

# ---- credentials -----------------------------------------------------------

@test "basic auth: pull without credentials is refused" {
  registry_start basic
  push rich x:1
  import_busybox
  before=$(listing_sans_partials)
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/x:1: authentication required" ]
  [ "$(listing_sans_partials)" = "$before" ]
}

@test "login refuses a wrong password, checked with the registry, and saves nothing" {
  registry_start basic
  run --separate-stderr ctr-image login -u "$REGISTRY_USER" -p wrong "$REGISTRY"
  assert_failure 1
  [ "$stderr" = "ctr-image: login $REGISTRY: unauthorized: bad credentials" ]
  [ ! -e "$HOME/.config/ctr/auth.json" ]
}

@test "login saves credentials 0600, pull uses them, and they are never printed" {
  registry_start basic
  push rich x:1
  run bash -c 'printf "%s\n" "$REGISTRY_PASS" | ctr-image login -u "$REGISTRY_USER" --password-stdin "$REGISTRY"'
  assert_success
  assert_output "Login Succeeded!"
  f=$HOME/.config/ctr/auth.json
  [ "$(stat -c %a "$f")" = 600 ]
  [ "$(stat -c %a "$(dirname "$f")")" = 700 ]
  enc=$(printf %s "$REGISTRY_USER:$REGISTRY_PASS" | base64 -w0)
  [ "$(jq -r --arg r "$REGISTRY" '.auths[$r].auth' "$f")" = "$enc" ]
  run ctr-image --debug pull "$REGISTRY/x:1"
  assert_success
  refute_output --partial "$REGISTRY_PASS"
  refute_output --partial "$enc"
  [ -n "$(index_digest "$REGISTRY/x:1")" ]
  # -p on the command line works as well; XDG_CONFIG_HOME moves the file
  export XDG_CONFIG_HOME=$W/cfg
  run ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "http://$REGISTRY/v2/"
  assert_success
  refute_output --partial "$REGISTRY_PASS"
  [ "$(jq -r '.auths | keys[]' "$W/cfg/ctr/auth.json")" = "$REGISTRY" ]
}

@test "logout removes the credentials; pull is refused again; a second logout fails" {
  registry_start basic
  push rich x:1
  ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY" >/dev/null
  jq -e '.other = 1' "$HOME/.config/ctr/auth.json" >"$W/a" && mv "$W/a" "$HOME/.config/ctr/auth.json"
  chmod 600 "$HOME/.config/ctr/auth.json"
  run ctr-image logout "$REGISTRY"
  assert_success
  assert_output "Removed login credentials for $REGISTRY"
  # the rest of the file is kept
  [ "$(jq -c . "$HOME/.config/ctr/auth.json")" = '{"auths":{},"other":1}' ]
  [ "$(stat -c %a "$HOME/.config/ctr/auth.json")" = 600 ]
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/x:1: authentication required" ]
  run --separate-stderr ctr-image logout "$REGISTRY"
  assert_failure 1
  [ "$stderr" = "ctr-image: logout $REGISTRY: not logged in" ]
}

@test "--authfile and REGISTRY_AUTH_FILE choose the file; Docker's and containers' files are read" {
  registry_start basic
  push rich x:1
  run ctr-image login --authfile "$W/mine.json" -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY"
  assert_success
  [ "$(stat -c %a "$W/mine.json")" = 600 ]
  [ ! -e "$HOME/.config/ctr/auth.json" ]
  run ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  run ctr-image pull --authfile "$W/mine.json" "$REGISTRY/x:1"
  assert_success
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  REGISTRY_AUTH_FILE=$W/mine.json run ctr-image pull "$REGISTRY/x:1"
  assert_success
  REGISTRY_AUTH_FILE=$W/mine.json run ctr-image logout "$REGISTRY"
  assert_success
  [ "$(jq -c .auths "$W/mine.json")" = '{}' ]
  # Docker's config.json (its keys may be URLs) ...
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  mkdir -p "$HOME/.docker"
  jq -n --arg k "https://$REGISTRY/v1/" --arg a "$(printf %s "$REGISTRY_USER:$REGISTRY_PASS" | base64 -w0)" \
    '{auths: {($k): {auth: $a}}}' >"$HOME/.docker/config.json"
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  # ... which logout leaves to docker
  run --separate-stderr ctr-image logout "$REGISTRY"
  assert_failure 1
  [[ $stderr == *"not logged in with ctr-image; the credentials in use come from $HOME/.docker/config.json" ]]
  # containers' auth.json under XDG_RUNTIME_DIR
  rm "$HOME/.docker/config.json"
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  mkdir -p "$XDG_RUNTIME_DIR/containers"
  jq -n --arg k "$REGISTRY" --arg a "$(printf %s "$REGISTRY_USER:$REGISTRY_PASS" | base64 -w0)" \
    '{auths: {($k): {auth: $a}}}' >"$XDG_RUNTIME_DIR/containers/auth.json"
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
}

@test "a malformed auth file is an error naming it" {
  registry_start basic
  mkdir -p "$HOME/.config/ctr"
  echo '{"auths": [' >"$HOME/.config/ctr/auth.json"
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/x:1: $HOME/.config/ctr/auth.json: invalid JSON"* ]]
  run --separate-stderr ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY"
  assert_failure 1
  [[ $stderr == *"auth.json: invalid JSON"* ]]
  [ "$(cat "$HOME/.config/ctr/auth.json")" = '{"auths": [' ]
}

@test "token auth: one token serves the manifest and every blob" {
  registry_start token
  push rich x:1
  : >"$TOKEN_LOG"
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  run cat "$TOKEN_LOG"
  assert_output "200 GET user=- scope=repository:x:pull granted=x:pull"
  [ "$(blob_gets x)" -eq 4 ]
  [ "$(index_digest "$REGISTRY/x:1")" = "$(registry_inspect_skopeo x:1 | jq -r .Digest)" ]
}

@test "token auth: login gets a token with the credentials; a wrong password gets none" {
  REGISTRY_TOKEN_ANON=none registry_start token
  push rich x:1
  : >"$TOKEN_LOG"
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/x:1: authentication required" ]
  run --separate-stderr ctr-image login -u "$REGISTRY_USER" -p wrong "$REGISTRY"
  assert_failure 1
  [ "$stderr" = "ctr-image: login $REGISTRY: unauthorized: bad credentials" ]
  [ ! -e "$HOME/.config/ctr/auth.json" ]
  ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY" >/dev/null
  : >"$TOKEN_LOG"
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  run cat "$TOKEN_LOG"
  assert_output "200 GET user=$REGISTRY_USER scope=repository:x:pull granted=x:pull"
}

# ---- TLS -------------------------------------------------------------------

@test "TLS: the CA from --cert-dir or CTR_CERTS_DIR; without it, a clear refusal" {
  registry_start tls
  push rich x:1
  import_busybox
  before=$(listing_sans_partials)
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/x:1: TLS certificate of $REGISTRY not trusted"* ]]
  [[ $stderr == *"/etc/ctr/certs.d/$REGISTRY/ca.crt, or use --tls-verify=false" ]]
  [ "$(listing_sans_partials)" = "$before" ]
  run ctr-image pull --cert-dir "$REGISTRY_CERTS_D" "$REGISTRY/x:1"
  assert_success
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  CTR_CERTS_DIR=$REGISTRY_CERTS_D run ctr-image pull "$REGISTRY/x:1"
  assert_success
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  # podman's --cert-dir: the directory with the files itself
  run ctr-image pull --cert-dir "$REGISTRY_CERTS_D/$REGISTRY" "$REGISTRY/x:1"
  assert_success
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  run ctr-image pull --tls-verify=false "$REGISTRY/x:1"
  assert_success
}

@test "TLS: a client certificate from certs.d" {
  registry_start tls-client
  push rich x:1
  run ctr-image pull --cert-dir "$REGISTRY_CERTS_D" "$REGISTRY/x:1"
  assert_success
  mkdir "$W/ca-only"
  cp "$REGISTRY_CERTS_D/$REGISTRY/ca.crt" "$W/ca-only/"
  run --separate-stderr ctr-image pull --cert-dir "$W/ca-only" "$REGISTRY/y:1"
  assert_failure 1
}

@test "plain http is for loopback and --tls-verify=false only; --tls-verify=true refuses it" {
  registry_start plain
  push rich x:1
  run --separate-stderr ctr-image pull --tls-verify=true "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/x:1: TLS handshake with $REGISTRY failed"* ]]
  run ctr-image pull --tls-verify=false "$REGISTRY/x:1"
  assert_success
}

@test "a non-loopback registry speaks http only when registries.json lists it as insecure" {
  # A host address that is not loopback needs a namespace of its own:
  # 10.250.0.1 on its lo, the registry and ctr-image both inside.
  local ns=ctrt-$$-insecure port=5123 d=$BATS_TEST_TMPDIR/reg
  ip netns add "$ns"
  SERVER_NETNS=$ns
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add 10.250.0.1/32 dev lo
  mkdir -p "$d"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 10.250.0.1:%s\n' \
    "$d" "$port" > "$d/config.yml"
  ip netns exec "$ns" docker-registry serve "$d/config.yml" > "$d/log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 50); do
    ip netns exec "$ns" curl -sf "http://10.250.0.1:$port/v2/" >/dev/null && break
    sleep 0.1
  done
  ip netns exec "$ns" skopeo copy --dest-tls-verify=false \
    "oci:$BATS_FILE_TMPDIR/rich:test:latest" "docker://10.250.0.1:$port/x:1" >/dev/null
  import_busybox
  before=$(store_listing)
  # not listed: https only, and this server does not speak it
  export CTR_REGISTRIES_CONF=$W/registries.json
  echo '{"insecure-registries": ["10.250.0.2:5123", "10.250.0.1"]}' > "$CTR_REGISTRIES_CONF"
  run --separate-stderr ip netns exec "$ns" ctr-image pull -q "10.250.0.1:$port/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull 10.250.0.1:$port/x:1: TLS handshake with 10.250.0.1:$port failed"* ]] ||
    fail "$stderr"
  [ "$(store_listing)" = "$before" ]
  # a malformed list is an error, never "insecure"
  echo '{"insecure-registries": "10.250.0.1:5123"}' > "$CTR_REGISTRIES_CONF"
  run --separate-stderr ip netns exec "$ns" ctr-image pull -q "10.250.0.1:$port/x:1"
  assert_failure 1
  [[ $stderr == *"registries.json: insecure-registries is not an array" ]] || fail "$stderr"
  # listed with its port (Docker's daemon.json key)
  echo '{"insecure-registries": ["10.250.0.1:5123"]}' > "$CTR_REGISTRIES_CONF"
  run ip netns exec "$ns" ctr-image pull -q "10.250.0.1:$port/x:1"
  assert_success
  run ctr-image inspect "10.250.0.1:$port/x:1"
  assert_success
  # --tls-verify=true overrides the list
  run --separate-stderr ip netns exec "$ns" ctr-image pull --tls-verify=true "10.250.0.1:$port/x:1"
  assert_failure 1
}

# ---- bad input and faults ------------------------------------------------------

@test "unknown repository or tag: manifest unknown, exit 1, the store unchanged" {
  registry_start plain
  push rich x:1
  import_busybox
  before=$(store_listing)
  run --separate-stderr ctr-image pull "$REGISTRY/x:2"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/x:2: manifest unknown" ]
  run --separate-stderr ctr-image pull "$REGISTRY/nothing/here:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $REGISTRY/nothing/here:1: manifest unknown" ]
  [ "$(store_listing)" = "$before" ]
}

@test "a failed pull into a store that does not exist creates none" {
  registry_start plain
  run ctr-image pull "$REGISTRY/x:2"
  assert_failure 1
  [ ! -e "$CTR_ROOT" ]
}

@test "a blob whose bytes are not its digest is refused; nothing of it is kept" {
  registry_start plain
  push rich x:1
  import_busybox
  before=$(listing_sans_partials)
  top=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].digest')
  data=$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${top:7:2}/${top#sha256:}/data
  # same size, one byte different
  printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc status=none
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/x:1: blob $top: digest mismatch (got sha256:"* ]]
  [ "$(listing_sans_partials)" = "$before" ]
  # bytes that are not the blob are not kept to resume from
  [ ! -e "$CTR_ROOT/images/.partial/${top#sha256:}" ]
  [ -z "$(index_digest "$REGISTRY/x:1")" ]
}

@test "a blob longer than its descriptor is cut off and refused" {
  registry_start plain
  push rich x:1
  import_busybox
  before=$(listing_sans_partials)
  cfg=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[1].digest')
  data=$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${cfg:7:2}/${cfg#sha256:}/data
  head -c 100000 /dev/urandom >>"$data"
  run --separate-stderr ctr-image pull "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == *"layer $cfg: blob $cfg: more than the "*" bytes the manifest says" ]]
  [ "$(listing_sans_partials)" = "$before" ]
}

@test "answers a registry should not give: broken JSON, 5xx then 404, 429, 403" {
  cat >"$W/spec.json" <<'EOF'
{"/v2/bad/manifests/1": [{"status": 200, "headers": {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, "body": "{\"schemaVersion\": 2, \"layers\": ["}],
 "/v2/busy/manifests/1": [{"status": 503}, {"status": 502}, {"status": 404, "headers": {"Content-Type": "application/json"}, "body": "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"}],
 "/v2/limit/manifests/1": [{"status": 429}],
 "/v2/deny/manifests/1": [{"status": 403, "headers": {"Content-Type": "application/json"}, "body": "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}"}],
 "/v2/old/manifests/1": [{"status": 200, "headers": {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}, "body": "{\"schemaVersion\": 1, \"name\": \"old\"}"}]}
EOF
  start_server fakereg "$W/spec.json" "$W/requests.log"
  F=127.0.0.1:$(server_port fakereg)
  import_busybox
  before=$(store_listing)
  run --separate-stderr ctr-image pull "$F/bad:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $F/bad:1: manifest: invalid JSON at line 1: ']' expected near end of file" ]
  run --separate-stderr ctr-image pull "$F/busy:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $F/busy:1: manifest unknown" ]
  [ "$(grep -c '^GET /v2/busy/manifests/1 ' "$W/requests.log")" -eq 3 ]
  run --separate-stderr ctr-image pull "$F/limit:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $F/limit:1: too many requests" ]
  [ "$(grep -c '^GET /v2/limit/manifests/1 ' "$W/requests.log")" -eq 4 ]
  run --separate-stderr ctr-image pull "$F/deny:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $F/deny:1: denied: requested access to the resource is denied" ]
  [ "$(grep -c '^GET /v2/deny/manifests/1 ' "$W/requests.log")" -eq 1 ]
  run --separate-stderr ctr-image pull "$F/old:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $F/old:1: Docker schema 1 manifests are not supported"* ]]
  [ "$(store_listing)" = "$before" ]
}

@test "a registry that never answers: given up after the stall time, tried 4 times" {
  start_server stall
  S=127.0.0.1:$(server_port stall)
  import_busybox
  before=$(store_listing)
  SECONDS=0
  CTR_REGISTRY_STALL_SECONDS=1 run --separate-stderr ctr-image pull "$S/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull $S/x:1: $S sent nothing for 1 s (tried 4 times)" ]
  # four stalls of a second, and 0.5 + 1 + 2 s between them
  [ "$SECONDS" -ge 7 ] && [ "$SECONDS" -le 20 ]
  [ "$(store_listing)" = "$before" ]
}

@test "nothing listening: cannot connect, after 4 tries" {
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run --separate-stderr ctr-image pull "127.0.0.1:$port/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: pull 127.0.0.1:$port/x:1: cannot connect to 127.0.0.1:$port (tried 4 times)" ]
}

@test "the registry dies mid-pull: a clear error, only a partial kept; back again, the pull resumes" {
  registry_start plain
  push big x:1
  big=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].digest')
  size=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].size')
  # Clients reach it through a proxy slowed to 1 MB/s, so the big layer
  # takes seconds; both the proxy and the registry die mid-layer.
  start_server slowproxy "$REGISTRY" 1000000 down
  P=127.0.0.1:$(server_port slowproxy)
  import_busybox
  before=$(listing_sans_partials)
  ctr-image pull "$P/x:1" >"$W/out" 2>"$W/err" &
  pull=$!
  part=$(wait_partial 512)
  kill -9 "${SERVER_PIDS[0]}" "$REGISTRY_PID"
  rc=0
  wait "$pull" || rc=$?
  [ "$rc" -eq 1 ]
  run cat "$W/err"
  [[ $output =~ ^"ctr-image: pull $P/x:1: layer $big: "(connection to $P lost|cannot connect to $P) ]]
  # no blob, layer or name of the pull; the partial holds a prefix
  [ "$(listing_sans_partials)" = "$before" ]
  [ "$(basename "$part")" = "${big#sha256:}" ]
  have=$(stat -c %s "$part")
  [ "$have" -gt 0 ] && [ "$have" -lt "$size" ]
  cmp -n "$have" "$part" "$BATS_FILE_TMPDIR/big/blobs/sha256/${big#sha256:}"
  restart_registry
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  # the rest only: a Range request, answered 206 with fewer bytes
  run grep "\"GET /v2/x/blobs/$big HTTP/1.1\" 206 " "$REGISTRY_DIR/registry.log"
  assert_success
  [ "$(awk '{ print $(NF-2) }' <<<"$output")" -eq $((size - have)) ]
  [ -z "$(ls -A "$CTR_ROOT/images/.partial")" ]
  [ "$(sha256sum <"$CTR_ROOT/images/blobs/sha256/${big#sha256:}" | cut -d' ' -f1)" = "${big#sha256:}" ]
}

@test "kill -9 of ctr-image mid-pull: the next pull resumes where it stopped" {
  registry_start plain
  push big x:1
  big=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].digest')
  size=$(registry_inspect_skopeo x:1 --raw | jq -r '.layers[2].size')
  start_server slowproxy "$REGISTRY" 1000000 down
  P=127.0.0.1:$(server_port slowproxy)
  ctr-image pull "$P/x:1" >/dev/null 2>&1 &
  pull=$!
  part=$(wait_partial 512)
  kill -9 "$pull"
  wait "$pull" || true
  # a killed pull leaves no name and no layer; temp files are prune's
  [ -z "$(jq -r '.manifests[]' "$CTR_ROOT/images/index.json")" ]
  [ -z "$(ls "$CTR_ROOT/layers")" ]
  have=$(stat -c %s "$part")
  [ "$have" -lt "$size" ]
  run ctr-image pull "$REGISTRY/x:1"
  assert_success
  run grep -c "\"GET /v2/x/blobs/$big HTTP/1.1\" 206 " "$REGISTRY_DIR/registry.log"
  assert_output 1
  [ "$(index_digest "$REGISTRY/x:1")" = "$(registry_inspect_skopeo x:1 | jq -r .Digest)" ]
  [ -z "$(ls -A "$CTR_ROOT/images/.partial")" ]
  # the killed process's staged copy of the partial went with it
  [ -z "$(find "$CTR_ROOT/images/blobs" -name '.tmp-blob.*' -size +512k)" ]
  run ctr-image prune -q
  assert_success
  [ -z "$(find "$CTR_ROOT" -name '.tmp-*')" ]
  run ctr-image unpack "$REGISTRY/x:1"
  assert_success
  [ "$(stat -c %s "${lines[0]}/bulk")" -eq $((8192 * 1024)) ]
}

# ---- the command line --------------------------------------------------------

@test "progress on a terminal: a line per layer; none in a pipe" {
  registry_start plain
  push rich x:1
  run script -qec "ctr-image pull $REGISTRY/x:1" /dev/null
  assert_success
  assert_output --partial "Pull complete"
  [ "$(grep -c 'Pull complete' <<<"$output")" -ge 3 ]
  ctr-image rm "$REGISTRY/x:1" >/dev/null
  run script -qec "ctr-image pull -q $REGISTRY/x:1" /dev/null
  assert_success
  refute_output --partial "Pull complete"
}

@test "bad usage: one line, exit 2" {
  run --separate-stderr ctr-image pull
  assert_failure 2
  [ "$stderr" = "ctr-image: pull needs one NAME (see --help)" ]
  run --separate-stderr ctr-image pull 'UPPER/x:1'
  assert_failure 2
  [[ $stderr == "ctr-image: invalid reference UPPER/x:1"* ]]
  run --separate-stderr ctr-image pull --platform linux x:1
  assert_failure 2
  [[ $stderr == "ctr-image: invalid platform 'linux'"* ]]
  run --separate-stderr ctr-image pull --tls-verify=maybe x:1
  assert_failure 2
  [ "$stderr" = "ctr-image: --tls-verify takes true or false, not 'maybe'" ]
  run --separate-stderr ctr-image login 127.0.0.1:1 </dev/null
  assert_failure 2
  [ "$stderr" = "ctr-image: login needs -u USER" ]
  run --separate-stderr ctr-image login -u a -p b --password-stdin 127.0.0.1:1
  assert_failure 2
  run --separate-stderr ctr-image logout
  assert_failure 2
  [ ! -e "$CTR_ROOT" ]
}
