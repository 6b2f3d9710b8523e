#!/usr/bin/env bats
# ctr-image push against real registries (Debian's docker-registry, started
# per test by helpers/registry.bash), with skopeo and ctr-image pull as the
# oracles of what arrived; a scripted server for answers a real registry
# does not give on demand. Also what came with push in lib/image: pull
# remembering chain ids and blob sources, and prune removing partial
# downloads nobody writes.

load helpers/common
load helpers/registry
load helpers/registry-faults

setup_file() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt push-a "$BATS_FILE_TMPDIR/rich"
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt push-big --bulk 8192 "$BATS_FILE_TMPDIR/big"
  python3 "$FAULTS_PY/mkmulti.py" "$BATS_FILE_TMPDIR/multi" multi linux/amd64 linux/arm64 linux/arm/v7 >/dev/null
}

setup() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  setup_store
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  export HOME=$BATS_TEST_TMPDIR/home XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg-run
  unset XDG_CONFIG_HOME REGISTRY_AUTH_FILE DOCKER_CONFIG CTR_CERTS_DIR CTR_REGISTRY_STALL_SECONDS CTR_REGISTRIES_CONF
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
}

# ---- helpers ---------------------------------------------------------------

# A fixture of setup_file in the store, under NAME.
local_image() { # FIXTURE NAME
  run ctr-image import -q --name "$2" "$BATS_FILE_TMPDIR/$1"
  assert_success
}

# Requests of the registry's access log, for one repository.
log_count() { # PATTERN (an ERE on the request line)
  grep -cE "\"$1 HTTP/1.1\"" "$REGISTRY_DIR/registry.log" || true
}
uploads() { log_count "PUT /v2/$1/blobs/uploads/[^ ]*digest=[^ ]*"; }
sessions() { log_count "POST /v2/$1/blobs/uploads/[^ ]*"; }
mounts() { grep -cE "\"POST /v2/$1/blobs/uploads/\?mount=[^ ]*&from=$2 HTTP/1.1\" 201 " "$REGISTRY_DIR/registry.log" || true; }

# The registry's answer for a manifest, without skopeo's retries: its
# status code.
manifest_status() { # REPO REF [CURL ARGS…]
  local repo=$1 ref=$2
  shift 2
  curl -s -o /dev/null -w '%{http_code}' "$@" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "$REGISTRY_URL/v2/$repo/manifests/$ref"
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

# ---- interop ---------------------------------------------------------------

@test "push: skopeo reads back the same manifest, config and blobs; nothing on stdout" {
  registry_start plain
  local_image rich "$REGISTRY/x:1"
  want=$(index_digest "$REGISTRY/x:1")
  before=$(store_listing)
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_success
  [ -z "$output" ]
  [ -z "$stderr" ]
  [ "$(registry_inspect_skopeo x:1 | jq -r .Digest)" = "$want" ]
  # the exact bytes: the registry's manifest is the stored blob
  registry_inspect_skopeo x:1 --raw >"$W/m.json"
  cmp "$W/m.json" "$CTR_ROOT/images/blobs/sha256/${want#sha256:}"
  config=$(jq -r .config.digest "$W/m.json")
  [ "$(ctr-image inspect --format json "$REGISTRY/x:1" | jq -r '.[0].Id')" = "$config" ]
  # skopeo's copy back has every blob byte for byte
  registry_pull_skopeo x:1 "oci:$W/back:x"
  for d in $config $(jq -r '.layers[].digest' "$W/m.json"); do
    cmp "$W/back/blobs/sha256/${d#sha256:}" "$CTR_ROOT/images/blobs/sha256/${d#sha256:}"
  done
  # the store is as it was, but for where its blobs now are known to be
  # and the push's provenance statement
  diff <(grep -v 'blob-sources.json\|trust/attestations' <<<"$before") \
    <(store_listing | grep -v 'blob-sources.json\|trust/attestations')
  ls "$CTR_ROOT"/trust/attestations/"${want#sha256:}"/*-push.dsse.json
  for d in $config $(jq -r '.layers[].digest' "$W/m.json"); do
    [ "$(jq -r --arg d "$d" '.[$d][0]' "$CTR_ROOT/blob-sources.json")" = "$REGISTRY/x" ]
  done
}

@test "push NAME REF: another name; a pull into a second store gives the same image ID" {
  registry_start plain
  local_image rich test:latest
  run --separate-stderr ctr-image push --digestfile "$W/digest" test:latest "$REGISTRY/team/app:v2"
  assert_success
  [ -z "$output" ]
  # as podman's --digestfile: the manifest digest, no newline
  [ "$(cat "$W/digest")" = "$(index_digest test:latest)" ]
  [ "$(wc -l <"$W/digest")" -eq 0 ]
  run --separate-stderr env CTR_ROOT="$W/other" ctr-image pull -q "$REGISTRY/team/app:v2"
  assert_success
  [ "sha256:$output" = "$(ctr-image inspect --format json test:latest | jq -r '.[0].Id')" ]
  [ "$(CTR_ROOT=$W/other index_digest "$REGISTRY/team/app:v2")" = "$(index_digest test:latest)" ]
  # and by the image ID, to a digest reference that matches
  id=$(ctr-image ls -q | head -n 1)
  run ctr-image push "$id" "$REGISTRY/team/app@$(index_digest test:latest)"
  assert_success
  run --separate-stderr ctr-image push "$id" "$REGISTRY/team/app@sha256:$(printf '%064d' 0)"
  assert_failure 1
  [ "$stderr" = "ctr-image: push $id $REGISTRY/team/app@sha256:$(printf '%064d' 0): the image's digest is $(index_digest test:latest), not sha256:$(printf '%064d' 0)" ]
}

@test "a multi-platform index pulled with --all-platforms is pushed whole, with its digest" {
  registry_start plain
  run skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/multi:multi" \
    "docker://$REGISTRY/multi:1"
  assert_success
  ctr-image pull -q --all-platforms "$REGISTRY/multi:1" >/dev/null
  raw=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/multi:1")
  : >"$REGISTRY_DIR/registry.log"
  run --separate-stderr ctr-image push "$REGISTRY/multi:1" "$REGISTRY/elsewhere:1"
  assert_success
  [ "$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/elsewhere:1")" = "$raw" ]
  # every platform's manifest, by digest, and its layers and config
  for m in $(jq -r '.manifests[].digest' <<<"$raw"); do
    [ "$(manifest_status elsewhere "$m")" = 200 ]
  done
  run skopeo copy -q --all --src-tls-verify=false "docker://$REGISTRY/elsewhere:1" "oci:$W/all:x"
  assert_success
  # the pull recorded where the blobs were: the six are mounted from multi
  [ "$(mounts elsewhere multi)" -eq 6 ]
  [ "$(uploads elsewhere)" -eq 0 ]
  # the manifests went before the index
  grep -nE '"PUT /v2/elsewhere/manifests/' "$REGISTRY_DIR/registry.log" | tail -n 1 | grep -q 'manifests/1 '
}

@test "a second push sends no blob; another repository mounts every blob" {
  registry_start plain
  local_image rich "$REGISTRY/x:1"
  ctr-image push "$REGISTRY/x:1"
  [ "$(uploads x)" -eq 4 ] # three layers and the config
  [ "$(sessions x)" -eq 4 ]
  run ctr-image push "$REGISTRY/x:1"
  assert_success
  [ "$(uploads x)" -eq 4 ]
  [ "$(sessions x)" -eq 4 ]
  run ctr-image push "$REGISTRY/x:1" "$REGISTRY/y:1"
  assert_success
  [ "$(uploads y)" -eq 0 ]
  [ "$(mounts y x)" -eq 4 ]
  [ "$(registry_inspect_skopeo y:1 | jq -r .Digest)" = "$(index_digest "$REGISTRY/x:1")" ]
}

@test "blobs a pull brought are mounted from the repository they came from" {
  registry_start plain
  run registry_push_skopeo "oci:$BATS_FILE_TMPDIR/rich:test:latest" base:1
  assert_success
  ctr-image pull -q "$REGISTRY/base:1" >/dev/null
  run ctr-image push "$REGISTRY/base:1" "$REGISTRY/derived:1"
  assert_success
  [ "$(mounts derived base)" -eq 4 ]
  [ "$(uploads derived)" -eq 0 ]
  # the layout stays what skopeo and umoci read
  run skopeo inspect "oci:$CTR_ROOT/images:$REGISTRY/base:1"
  assert_success
  run umoci stat --image "$CTR_ROOT/images:$REGISTRY/base:1"
  assert_success
}

@test "a source the registry has not got: the blob is uploaded instead" {
  registry_start plain
  local_image rich "$REGISTRY/x:1"
  for d in $(jq -r '.layers[].digest, .config.digest' "$CTR_ROOT/images/blobs/sha256/$(index_digest "$REGISTRY/x:1" | cut -c8-)"); do
    echo "\"$d\": [\"$REGISTRY/ghost\"]"
  done | paste -sd, | sed 's/^/{/; s/$/}/' >"$CTR_ROOT/blob-sources.json"
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_success
  [ "$(log_count "POST /v2/x/blobs/uploads/\?mount=[^ ]*&from=ghost")" -eq 4 ]
  [ "$(uploads x)" -eq 4 ]
  [ "$(registry_inspect_skopeo x:1 | jq -r .Digest)" = "$(index_digest "$REGISTRY/x:1")" ]
  # a malformed file is no more than nothing known
  echo '{"sha256:' >"$CTR_ROOT/blob-sources.json"
  run ctr-image push "$REGISTRY/x:1" "$REGISTRY/z:1"
  assert_success
  [ "$(uploads z)" -eq 4 ]
  jq -e . "$CTR_ROOT/blob-sources.json" >/dev/null
}

# ---- credentials -----------------------------------------------------------

@test "basic auth: refused without credentials, nothing tagged; after login it pushes" {
  registry_start basic
  local_image rich "$REGISTRY/x:1"
  before=$(store_listing)
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push $REGISTRY/x:1: authentication required" ]
  [ "$(manifest_status x 1 -u "$REGISTRY_USER:$REGISTRY_PASS")" = 404 ]
  [ "$(store_listing)" = "$before" ]
  ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY" >/dev/null
  run --separate-stderr ctr-image --debug push "$REGISTRY/x:1"
  assert_success
  refute_output --partial "$REGISTRY_PASS"
  [[ $stderr != *"$REGISTRY_PASS"* ]]
  [ "$(registry_inspect_skopeo x:1 | jq -r .Digest)" = "$(index_digest "$REGISTRY/x:1")" ]
  # --authfile: only that file
  run ctr-image push --authfile "$W/none.json" "$REGISTRY/x:1" "$REGISTRY/y:1"
  assert_failure 1
}

@test "token auth: a pull,push token; a mount asks pull on the source too; anonymous is refused" {
  registry_start token
  local_image rich "$REGISTRY/x:1"
  before=$(store_listing)
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push $REGISTRY/x:1: authentication required" ]
  [ "$(store_listing)" = "$before" ]
  ctr-image login -u "$REGISTRY_USER" -p "$REGISTRY_PASS" "$REGISTRY" >/dev/null
  : >"$TOKEN_LOG"
  run ctr-image push "$REGISTRY/x:1"
  assert_success
  run cat "$TOKEN_LOG"
  assert_output "200 GET user=$REGISTRY_USER scope=repository:x:pull,push granted=x:pull,push"
  : >"$TOKEN_LOG"
  run ctr-image push "$REGISTRY/x:1" "$REGISTRY/y:1"
  assert_success
  grep -qx "200 GET user=$REGISTRY_USER scope=repository:y:pull,push scope=repository:x:pull granted=y:pull,push;x:pull" "$TOKEN_LOG"
  [ "$(mounts y x)" -eq 4 ]
}

# ---- TLS -------------------------------------------------------------------

@test "TLS: the CA from --cert-dir or CTR_CERTS_DIR; without it, a clear refusal" {
  registry_start tls
  local_image rich "$REGISTRY/x:1"
  before=$(store_listing)
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_failure 1
  [[ $stderr == "ctr-image: push $REGISTRY/x:1: TLS certificate of $REGISTRY not trusted"* ]]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "$(store_listing)" = "$before" ]
  run ctr-image push --cert-dir "$REGISTRY_CERTS_D" "$REGISTRY/x:1"
  assert_success
  CTR_CERTS_DIR=$REGISTRY_CERTS_D run ctr-image push "$REGISTRY/x:1" "$REGISTRY/y:1"
  assert_success
  [ "$(registry_inspect_skopeo y:1 | jq -r .Digest)" = "$(index_digest "$REGISTRY/x:1")" ]
  run --separate-stderr ctr-image push --tls-verify=true "$REGISTRY/x:1" "$REGISTRY/z:1"
  assert_failure 1
}

# ---- bad input and faults ----------------------------------------------------

@test "an unknown local image: one line, exit 1, nothing made" {
  registry_start plain
  run --separate-stderr ctr-image push "$REGISTRY/nothing:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push $REGISTRY/nothing:1: no such image: $REGISTRY/nothing:1" ]
  [ ! -e "$CTR_ROOT" ]
  import_busybox
  before=$(store_listing)
  run --separate-stderr ctr-image push nothing:1 "$REGISTRY/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push nothing:1 $REGISTRY/x:1: no such image: nothing:1" ]
  [ "$(store_listing)" = "$before" ]
  [ "$(sessions x)" -eq 0 ]
}

@test "a destination without a registry is refused, not sent to docker.io" {
  import_busybox
  before=$(store_listing)
  run --separate-stderr ctr-image push busybox:latest
  assert_failure 2
  [ "$stderr" = "ctr-image: push busybox:latest: busybox:latest names no registry (Docker would send it to docker.io); write the registry, e.g. 127.0.0.1:5000/busybox:latest, or docker.io/... for Docker Hub" ]
  run --separate-stderr ctr-image push busybox me/app:1
  assert_failure 2
  [[ $stderr == "ctr-image: push busybox me/app:1: me/app:1 names no registry"* ]]
  # an image ID names no destination at all
  id=$(ctr-image ls -q | head -n 1)
  run --separate-stderr ctr-image push "$id"
  assert_failure 2
  [ "$stderr" = "ctr-image: push $id: $id is not a name of the store: give the destination (push NAME REF)" ]
  run --separate-stderr ctr-image push busybox 'UPPER/x:1'
  assert_failure 2
  [ "$(store_listing)" = "$before" ]
}

@test "bad usage: one line, exit 2" {
  run --separate-stderr ctr-image push
  assert_failure 2
  [ "$stderr" = "ctr-image: push needs NAME and at most one REF (see --help)" ]
  run --separate-stderr ctr-image push a b c
  assert_failure 2
  run --separate-stderr ctr-image push --tls-verify=maybe a
  assert_failure 2
  run --separate-stderr ctr-image push --nope a
  assert_failure 2
  [ ! -e "$CTR_ROOT" ]
}

@test "a registry that never answers: given up after the stall time, the store unchanged" {
  start_server stall
  S=127.0.0.1:$(server_port stall)
  local_image rich "$S/x:1"
  before=$(store_listing)
  SECONDS=0
  CTR_REGISTRY_STALL_SECONDS=1 run --separate-stderr ctr-image push "$S/x:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push $S/x:1: $S sent nothing for 1 s (tried 4 times)" ]
  [ "$SECONDS" -ge 7 ] && [ "$SECONDS" -le 20 ]
  [ "$(store_listing)" = "$before" ]
}

@test "answers a registry may give: 403, 404 name unknown, 429, 5xx then success, a bad manifest" {
  cat >"$W/spec.json" <<'EOF'
{"POST /v2/deny/blobs/uploads/": [{"status": 403, "headers": {"Content-Type": "application/json"}, "body": "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}"}],
 "POST /v2/noname/blobs/uploads/": [{"status": 404, "headers": {"Content-Type": "application/json"}, "body": "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\"}]}"}],
 "POST /v2/limit/blobs/uploads/": [{"status": 429}],
 "HEAD /v2/busy/blobs/sha256:CONFIG": [{"status": 503}, {"status": 502}, {"status": 404}],
 "PUT /v2/badman/manifests/1": [{"status": 400, "headers": {"Content-Type": "application/json"}, "body": "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":\"manifest invalid\"}]}"}]}
EOF
  local_image rich img:1
  m=$(index_digest img:1)
  config=$(jq -r .config.digest "$CTR_ROOT/images/blobs/sha256/${m#sha256:}")
  sed -i "s/sha256:CONFIG/$config/" "$W/spec.json"
  start_server fakepush "$W/spec.json" "$W/requests.log"
  F=127.0.0.1:$(server_port fakepush)
  before=$(store_listing)
  run --separate-stderr ctr-image push img:1 "$F/deny:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push img:1 $F/deny:1: denied: requested access to the resource is denied" ]
  run --separate-stderr ctr-image push img:1 "$F/noname:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push img:1 $F/noname:1: name unknown: repository name not known to registry" ]
  run --separate-stderr ctr-image push img:1 "$F/limit:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push img:1 $F/limit:1: too many requests" ]
  [ "$(grep -c '^POST /v2/limit/blobs/uploads/$' "$W/requests.log")" -ge 4 ]
  run --separate-stderr ctr-image push img:1 "$F/badman:1"
  assert_failure 1
  [ "$stderr" = "ctr-image: push img:1 $F/badman:1: manifest $m: manifest invalid" ]
  # no manifest is sent before every blob is there
  ! grep -q '^PUT /v2/\(deny\|noname\|limit\)/manifests' "$W/requests.log" || fail "a manifest was sent"
  [ "$(store_listing)" = "$before" ]
  run --separate-stderr ctr-image push img:1 "$F/busy:1"
  assert_success
  [ "$(grep -c "^HEAD /v2/busy/blobs/$config" "$W/requests.log")" -eq 3 ]
  [ "$(grep -c '^PUT /v2/busy/blobs/uploads/' "$W/requests.log")" -eq 4 ]
  grep -q '^PUT /v2/busy/manifests/1$' "$W/requests.log"
}

@test "the registry dies mid-push: one line, no tag, the store unchanged; pushing again completes" {
  registry_start plain
  local_image big "$REGISTRY/x:1"
  m=$(index_digest "$REGISTRY/x:1")
  big=$(jq -r '.layers[2].digest' "$CTR_ROOT/images/blobs/sha256/${m#sha256:}")
  # Uploads go through a proxy that passes 1 MB/s, so the 8 MiB layer
  # takes seconds; both the proxy and the registry die in the middle.
  start_server slowproxy "$REGISTRY" 1000000 up
  P=127.0.0.1:$(server_port slowproxy)
  ctr-image tag "$REGISTRY/x:1" "$P/x:1"
  before=$(store_listing)
  ctr-image push "$P/x:1" >"$W/out" 2>"$W/err" &
  push=$!
  for _ in $(seq 200); do
    [ -n "$(find "$REGISTRY_DIR/storage" -path '*/_uploads/*' -name data -size +512k 2>/dev/null)" ] && break
    sleep 0.05
  done
  kill -9 "${SERVER_PIDS[0]}" "$REGISTRY_PID"
  rc=0
  wait "$push" || rc=$?
  [ "$rc" -eq 1 ]
  run cat "$W/err"
  [ "${#lines[@]}" -eq 1 ]
  [[ $output =~ ^"ctr-image: push $P/x:1: layer $big: "(connection to $P lost|cannot connect to $P) ]]
  [ ! -s "$W/out" ]
  [ "$(store_listing)" = "$before" ]
  restart_registry
  [ "$(manifest_status x 1)" = 404 ]
  done_before=$(uploads x)
  run --separate-stderr ctr-image push "$REGISTRY/x:1"
  assert_success
  # what had arrived is not sent again: the big layer only
  [ "$(uploads x)" -eq $((done_before + 1)) ]
  [ "$(registry_inspect_skopeo x:1 | jq -r .Digest)" = "$m" ]
  registry_pull_skopeo x:1 "oci:$W/back:x"
  cmp "$W/back/blobs/sha256/${big#sha256:}" "$CTR_ROOT/images/blobs/sha256/${big#sha256:}"
}

@test "a connection cut mid-upload: the blob goes again in a new session; the push completes" {
  registry_start plain
  local_image big "$REGISTRY/x:1"
  m=$(index_digest "$REGISTRY/x:1")
  # The proxy cuts the first connection that has sent 2 MB: the big
  # layer's PUT. Sent again into its session, the registry refuses it
  # (its bytes went halfway in); a new session takes it.
  start_server cutup "$REGISTRY" 2000000
  P=127.0.0.1:$(server_port cutup)
  ctr-image tag "$REGISTRY/x:1" "$P/x:1"
  run --separate-stderr ctr-image push "$P/x:1"
  assert_success
  [ "$(sessions x)" -eq 5 ]
  [ "$(grep -cE '"PUT /v2/x/blobs/uploads/[^ ]*digest=[^ ]* HTTP/1.1" 201 ' "$REGISTRY_DIR/registry.log")" -eq 4 ]
  [ "$(registry_inspect_skopeo x:1 | jq -r .Digest)" = "$m" ]
}

# ---- the command line --------------------------------------------------------

@test "progress on a terminal: a line per blob; none with -q or in a pipe" {
  registry_start plain
  local_image rich "$REGISTRY/x:1"
  run script -qec "ctr-image push $REGISTRY/x:1" /dev/null
  assert_success
  [ "$(grep -o 'Pushed' <<<"$output" | wc -l)" -ge 4 ]
  run script -qec "ctr-image push $REGISTRY/x:1" /dev/null
  assert_success
  assert_output --partial "Layer already exists"
  refute_output --partial "Pushed"
  run script -qec "ctr-image push -q $REGISTRY/x:1 $REGISTRY/y:1" /dev/null
  assert_success
  [ -z "$output" ]
}

# ---- what came with push: pull's records, prune's partials -------------------

@test "pull remembers the chain ids of what it stored, for ctr-run" {
  registry_start plain
  run registry_push_skopeo "oci:$BATS_FILE_TMPDIR/rich:test:latest" x:1
  assert_success
  id=$(ctr-image pull -q "$REGISTRY/x:1")
  f=$CTR_RUNDIR/images/$id.chain
  [ -f "$f" ]
  [ "$(wc -l <"$f")" -eq 3 ]
  # bottom first: the layers ctr-image unpack prints, top first
  ctr-image unpack "$REGISTRY/x:1" | xargs -n1 basename | tac >"$W/dirs"
  diff <(sed 's/^sha256://' "$f") "$W/dirs"
}

@test "prune removes the partial downloads nobody writes and keeps a locked one" {
  import_busybox
  mkdir -p "$CTR_ROOT/images/.partial"
  a=$(printf 'a%.0s' $(seq 64)) b=$(printf 'b%.0s' $(seq 64))
  head -c 200000 /dev/urandom >"$CTR_ROOT/images/.partial/$a"
  head -c 100000 /dev/urandom >"$CTR_ROOT/images/.partial/$b"
  # a pull writing it holds its flock; here, the test's shell does
  exec 7<"$CTR_ROOT/images/.partial/$b"
  flock -n 7
  ! flock -n "$CTR_ROOT/images/.partial/$b" true || fail "the partial is not locked"
  run ctr-image prune
  assert_success
  assert_output --regexp "^Removed 0 blobs, 0 layers, 0 dangling images, 1 temp file; reclaimed 2[0-9.]*kB$"
  [ ! -e "$CTR_ROOT/images/.partial/$a" ]
  [ -f "$CTR_ROOT/images/.partial/$b" ]
  exec 7<&-
  run ctr-image prune -q
  assert_success
  [ -z "$output" ]
  [ -z "$(ls -A "$CTR_ROOT/images/.partial")" ]
  run ctr-image ls -q
  [ "${#lines[@]}" -eq 1 ]
}
