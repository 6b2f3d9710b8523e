#!/usr/bin/env bats
# Signed pull and push: ctr-image pull fetches the signatures of the image
# from its lookaside (registries.d, file:// and http://), lets the policy
# judge them before any layer is fetched, and keeps them in the sigstore;
# ctr-image push --sign-by signs and writes the staging lookaside. A real
# registry (Debian's docker-registry on 127.0.0.1), skopeo standalone-sign
# for signatures made elsewhere, and skopeo copy with our policy.json and
# registries.d as the oracle.

load helpers/common
load helpers/registry
load helpers/gpg

setup_file() {
  requires docker-registry skopeo jq gpg python3 curl openssl htpasswd
  export GPG_KEYS=$BATS_FILE_TMPDIR/keys
  mkdir -p "$GPG_KEYS"
  ALICE=$(gpg_key alice)
  MALLORY=$(gpg_key mallory)
  export ALICE MALLORY
  registry_start plain
  # The images, pushed by ctr from a store of their own: busybox as
  # lib/bb:1, and a second image (another digest) as lib/other:1.
  export SRC_ROOT=$BATS_FILE_TMPDIR/src
  CTR_ROOT=$SRC_ROOT CTR_RUNDIR=$BATS_FILE_TMPDIR/src-run ctr-image import --from-host busybox >/dev/null
  CTR_ROOT=$SRC_ROOT CTR_RUNDIR=$BATS_FILE_TMPDIR/src-run ctr-image push -q busybox "$REGISTRY/lib/bb:1"
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt verify-pull "$BATS_FILE_TMPDIR/other" >/dev/null
  skopeo copy -q --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/other:test:latest" \
    "docker://$REGISTRY/lib/other:1"
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/bb:1" >"$BATS_FILE_TMPDIR/bb.manifest"
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/other:1" >"$BATS_FILE_TMPDIR/other.manifest"
  BB_DIGEST=sha256:$(sha256sum <"$BATS_FILE_TMPDIR/bb.manifest" | cut -d' ' -f1)
  export BB_DIGEST
}

teardown_file() {
  registry_stop
  gpg_kill_agents
}

setup() {
  requires docker-registry skopeo jq gpg python3 curl
  setup_store
  export GPG_KEYS=$BATS_FILE_TMPDIR/keys
  W=$BATS_TEST_TMPDIR/work
  LA=$BATS_TEST_TMPDIR/lookaside
  mkdir -p "$W" "$LA" "$W/registries.d"
  export CTR_REGISTRIES_D=$W/registries.d
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  SERVER_PIDS=()
  lookaside_conf "file://$LA"
}

teardown() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  gpg_kill_agents
}

# ---- helpers ---------------------------------------------------------------

# registries.d: the registry's scope reads from URL (and writes to STAGING).
lookaside_conf() {
  {
    echo "docker:"
    echo "  $REGISTRY:"
    echo "    lookaside: $1"
    [ -z "${2:-}" ] || echo "    lookaside-staging: $2"
  } >"$CTR_REGISTRIES_D/test.yaml"
}

# policy.json: the registry's images must be signed by KEYFILE (with the
# identity rule given as JSON, default matchRepoDigestOrExact); anything
# else is rejected.
signed_policy() {
  local ident=${2:-'{"type": "matchRepoDigestOrExact"}'}
  mkdir -p "$CTR_ROOT/trust"
  cat >"$CTR_ROOT/trust/policy.json" <<EOF
{
  "default": [{"type": "reject"}],
  "transports": {
    "docker": {
      "$REGISTRY": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$1",
                     "signedIdentity": $ident}]
    }
  }
}
EOF
}

# sign WHO MANIFEST IDENTITY → a signature file (skopeo's standalone-sign).
sign() {
  local out=$W/sig-$1-$RANDOM fpr
  fpr=$(gpg_as "$1" --list-keys --with-colons | awk -F: '$1 == "fpr" { print $10; exit }')
  GNUPGHOME=$(gpg_home "$1") skopeo standalone-sign -o "$out" "$2" "$3" "$fpr" || return 1
  echo "$out"
}

# Put a signature into the test's lookaside as the next signature-N of
# REPO@DIGEST.
place() { # SIGFILE REPO DIGEST
  local d=$LA/$2@sha256=${3#sha256:} n=1
  mkdir -p "$d"
  while [ -e "$d/signature-$n" ]; do n=$((n + 1)); done
  cp "$1" "$d/signature-$n"
}

sigstore_of() { # REPO DIGEST
  echo "$CTR_ROOT/trust/sigstore/$1@sha256=${2#sha256:}"
}

# A pull the policy rejects: exit 1, one stderr line naming the reason,
# and the store and the trust tree exactly as they were.
assert_rejected() { # REF REASON
  local before logged
  before=$(store_listing 2>/dev/null || true)
  logged=$(wc -l <"$REGISTRY_DIR/registry.log")
  run --separate-stderr ctr-image pull -q "$1"
  assert_failure 1
  [ "${#stderr_lines[@]}" -eq 1 ] || fail "stderr has ${#stderr_lines[@]} lines: $stderr"
  [[ $stderr == "ctr-image: pull $1: rejected by policy: "* ]] || fail "stderr: $stderr"
  [[ $stderr == *"$2"* ]] || fail "stderr lacks '$2': $stderr"
  [ -z "$output" ]
  [ "$(store_listing 2>/dev/null || true)" = "$before" ] || fail "the store changed"
  # no layer was asked for: the verdict came first (the registry's log
  # since the pull began names no blob; its manifest was asked for)
  tail -n "+$((logged + 1))" "$REGISTRY_DIR/registry.log" >"$BATS_TEST_TMPDIR/pull.log"
  grep -q "GET /v2/lib/[a-z]*/manifests/" "$BATS_TEST_TMPDIR/pull.log" ||
    fail "the pull asked no manifest: $(cat "$BATS_TEST_TMPDIR/pull.log")"
  run grep "GET /v2/lib/[a-z]*/blobs/" "$BATS_TEST_TMPDIR/pull.log"
  assert_failure 1
  [ -z "$(ls -A "$CTR_RUNDIR" 2>/dev/null | grep pull-signatures)" ]
}

# Serve DIR over http on 127.0.0.1; sets HTTP_URL.
serve_http() {
  local port
  port=$(registry__free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" \
    </dev/null >"$W/http.log" 2>&1 3>&- &
  SERVER_PIDS+=($!)
  HTTP_URL=http://127.0.0.1:$port
  for _ in $(seq 50); do
    curl -s -o /dev/null "$HTTP_URL/" && return 0
    sleep 0.1
  done
  return 1
}

# A server answering 500 to everything; sets HTTP_URL.
serve_500() {
  local port
  port=$(registry__free_port)
  python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$port" \
    </dev/null >/dev/null 2>&1 3>&- &
  SERVER_PIDS+=($!)
  HTTP_URL=http://127.0.0.1:$port
  for _ in $(seq 50); do
    curl -s -o /dev/null "$HTTP_URL/" && return 0
    sleep 0.1
  done
  return 1
}

# ---- pull ------------------------------------------------------------------

@test "pull: an image signed by the policy's key is accepted, and its signature kept in the sigstore" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  [ "$(index_digest "$REGISTRY/lib/bb:1")" = "$BB_DIGEST" ]
  s=$(sigstore_of lib/bb "$BB_DIGEST")
  cmp "$s/signature-1" "$LA/lib/bb@sha256=${BB_DIGEST#sha256:}/signature-1"
  [ ! -e "$s/signature-2" ]
  # ctr-verify judges the stored image the same with what pull kept
  run ctr-verify verify -q "$REGISTRY/lib/bb:1"
  assert_success
  # nothing temporary left behind
  [ -z "$(ls -A "$CTR_RUNDIR" | grep pull-signatures)" ]
  # a second pull adds no duplicate
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  [ ! -e "$s/signature-2" ]
}

@test "pull: an unsigned image is rejected before any layer is fetched; the store is unchanged" {
  signed_policy "$GPG_KEYS/alice.pub"
  : >"$REGISTRY_DIR/registry.log.mark"
  before_gets=$(grep -c "GET /v2/lib/bb/blobs/" "$REGISTRY_DIR/registry.log" || true)
  assert_rejected "$REGISTRY/lib/bb:1" "A signature was required, but no signature exists"
  after_gets=$(grep -c "GET /v2/lib/bb/blobs/" "$REGISTRY_DIR/registry.log" || true)
  [ "$before_gets" = "$after_gets" ] || fail "blobs were fetched: $before_gets -> $after_gets"
  [ ! -e "$CTR_ROOT/images/index.json" ] || [ -z "$(index_digest "$REGISTRY/lib/bb:1")" ]
  [ ! -e "$CTR_ROOT/trust/sigstore" ]
}

@test "pull: a signature by a key the policy does not name is rejected" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign mallory "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  assert_rejected "$REGISTRY/lib/bb:1" "Invalid GPG signature by key $MALLORY"
  [ ! -e "$CTR_ROOT/trust/sigstore" ]
}

@test "pull: a signature for another identity is rejected" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/evil:1")" lib/bb "$BB_DIGEST"
  assert_rejected "$REGISTRY/lib/bb:1" "is not accepted"
  [[ $stderr == *"$REGISTRY/lib/evil:1"* ]] || fail "the reason does not name the identity: $stderr"
}

@test "pull: a signature of another manifest digest is rejected" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$BATS_FILE_TMPDIR/other.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  assert_rejected "$REGISTRY/lib/bb:1" "Signature for digest sha256:"
  [[ $stderr == *"does not match" ]] || fail "no digest reason: $stderr"
}

@test "pull: a corrupted signature file is rejected" {
  signed_policy "$GPG_KEYS/alice.pub"
  s=$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")
  head -c 40 "$s" >"$W/broken"
  place "$W/broken" lib/bb "$BB_DIGEST"
  assert_rejected "$REGISTRY/lib/bb:1" "GPG signature"
}

@test "pull: one good signature among bad ones is enough, and all are kept in order" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign mallory "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  s=$(sigstore_of lib/bb "$BB_DIGEST")
  cmp "$s/signature-1" "$LA/lib/bb@sha256=${BB_DIGEST#sha256:}/signature-1"
  cmp "$s/signature-2" "$LA/lib/bb@sha256=${BB_DIGEST#sha256:}/signature-2"
}

@test "pull: by digest, the signature is judged against the digest reference" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run ctr-image pull -q "$REGISTRY/lib/bb@$BB_DIGEST"
  assert_success
  [ -f "$(sigstore_of lib/bb "$BB_DIGEST")/signature-1" ]
}

@test "pull: from an index, the signature covers the index digest, as skopeo's does" {
  python3 "$TESTS_DIR/helpers/registry-faults/mkmulti.py" "$W/multi" multi linux/amd64 linux/arm64 >/dev/null
  skopeo copy -q --all --dest-tls-verify=false "oci:$W/multi:multi" "docker://$REGISTRY/lib/multi:1"
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/multi:1" >"$W/index.json"
  top=sha256:$(sha256sum <"$W/index.json" | cut -d' ' -f1)
  plat=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$W/index.json")
  signed_policy "$GPG_KEYS/alice.pub"
  # a signature of one platform's manifest does not do
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/multi@$plat" >"$W/plat.json"
  place "$(sign alice "$W/plat.json" "$REGISTRY/lib/multi:1")" lib/multi "$plat"
  assert_rejected "$REGISTRY/lib/multi:1" "A signature was required, but no signature exists"
  # one of the index does, for every platform of it
  place "$(sign alice "$W/index.json" "$REGISTRY/lib/multi:1")" lib/multi "$top"
  run ctr-image pull -q --platform linux/amd64 "$REGISTRY/lib/multi:1"
  assert_success
  [ "$(index_digest "$REGISTRY/lib/multi:1")" = "$plat" ]
  [ -f "$(sigstore_of lib/multi "$top")/signature-1" ]
  # and skopeo agrees
  run skopeo --policy "$CTR_ROOT/trust/policy.json" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/lib/multi:1" "dir:$W/sk"
  assert_success
}

@test "pull: signatures from an http:// lookaside; a 404 ends them, another status fails" {
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  serve_http "$LA"
  lookaside_conf "$HTTP_URL"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  cmp "$(sigstore_of lib/bb "$BB_DIGEST")/signature-1" "$LA/lib/bb@sha256=${BB_DIGEST#sha256:}/signature-1"
  grep -q "GET /lib/bb@sha256=${BB_DIGEST#sha256:}/signature-2 .* 404" "$W/http.log"
  # a server answering 500, and a server that is not there: both fail
  # the pull, closed
  rm -rf "$CTR_ROOT" && setup_store
  signed_policy "$GPG_KEYS/alice.pub"
  serve_500
  lookaside_conf "$HTTP_URL/srv"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/lib/bb:1: signatures: reading signature from $HTTP_URL/srv/lib/bb@sha256="*"/signature-1: status 500" ]] ||
    fail "stderr: $stderr"
  [ ! -e "$CTR_ROOT/images" ]
  lookaside_conf "http://127.0.0.1:1"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/lib/bb:1: signatures: reading signature from http://127.0.0.1:1/lib/bb@"* ]] ||
    fail "stderr: $stderr"
  [ ! -e "$CTR_ROOT/images" ]
}

@test "pull: without a policy nothing is judged, but the lookaside's signatures are kept" {
  place "$(sign mallory "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  [ -f "$(sigstore_of lib/bb "$BB_DIGEST")/signature-1" ]
  [ ! -e "$CTR_ROOT/trust/policy.json" ]
}

@test "pull: the most specific registries.d scope wins; default-docker is the last resort" {
  signed_policy "$GPG_KEYS/alice.pub"
  mkdir -p "$W/good" "$W/bad"
  LA=$W/good place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  cat >"$CTR_REGISTRIES_D/test.yaml" <<EOF
default-docker:
  lookaside: file://$W/bad
docker:
  $REGISTRY:
    lookaside: file://$W/bad
  $REGISTRY/lib:
    sigstore: file://$W/good
  $REGISTRY/lib/bb:
    lookaside-staging: file://$W/bad
EOF
  # lib/bb names no location to read from: its parent lib does
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  # only default-docker: it is read
  rm -rf "$CTR_ROOT" && setup_store && signed_policy "$GPG_KEYS/alice.pub"
  printf 'default-docker:\n  lookaside: file://%s\n' "$W/good" >"$CTR_REGISTRIES_D/test.yaml"
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  # --registries.d wins over $CTR_REGISTRIES_D
  rm -rf "$CTR_ROOT" && setup_store && signed_policy "$GPG_KEYS/alice.pub"
  mkdir -p "$W/rd2"
  printf 'docker:\n  %s/lib/bb:1:\n    lookaside: file://%s\n' "$REGISTRY" "$W/good" >"$W/rd2/a.yaml"
  printf 'default-docker:\n  lookaside: file://%s\n' "$W/bad" >"$CTR_REGISTRIES_D/test.yaml"
  run ctr-image pull -q --registries.d "$W/rd2" "$REGISTRY/lib/bb:1"
  assert_success
}

@test "pull: a malformed registries.d is an error; nothing is fetched or changed" {
  signed_policy "$GPG_KEYS/alice.pub"
  before=$(store_listing)
  for bad in 'docker: [1, 2' 'docker: [a, b]' $'docker:\n  h:\n    lookaside: [x]' \
    $'default-docker: {}\n---\n' $'docker:\n  a: {}\n  a: {}' 'just a string'; do
    printf '%s\n' "$bad" >"$CTR_REGISTRIES_D/test.yaml"
    run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
    if [ "$bad" = $'default-docker: {}\n---\n' ]; then
      # a second, empty document is no error (containers/image reads the first)
      continue
    fi
    assert_failure 1
    [ "${#stderr_lines[@]}" -eq 1 ] || fail "$bad: stderr: $stderr"
    [[ $stderr == "ctr-image: pull $REGISTRY/lib/bb:1: $CTR_REGISTRIES_D/test.yaml: line "* ]] ||
      fail "$bad: stderr: $stderr"
  done
  # the same scope in two files
  printf 'docker:\n  %s:\n    lookaside: file:///a\n' "$REGISTRY" >"$CTR_REGISTRIES_D/test.yaml"
  printf 'docker:\n  %s:\n    lookaside: file:///b\n' "$REGISTRY" >"$CTR_REGISTRIES_D/z.yaml"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  assert_equal "$stderr" "ctr-image: pull $REGISTRY/lib/bb:1: $CTR_REGISTRIES_D/z.yaml: line 2: scope $REGISTRY is defined in $CTR_REGISTRIES_D/test.yaml already"
  rm "$CTR_REGISTRIES_D/z.yaml"
  # an unsupported scheme, a missing --registries.d
  lookaside_conf "ftp://127.0.0.1/sigs"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  assert_equal "$stderr" "ctr-image: pull $REGISTRY/lib/bb:1: signatures: lookaside ftp://127.0.0.1/sigs: unsupported scheme (file, http, https)"
  run --separate-stderr ctr-image pull -q --registries.d "$W/missing" "$REGISTRY/lib/bb:1"
  assert_failure 1
  [[ $stderr == "ctr-image: pull $REGISTRY/lib/bb:1: registries.d $W/missing: No such file or directory" ]] ||
    fail "stderr: $stderr"
  [ "$(store_listing)" = "$before" ]
}

@test "pull: a lookaside handing over too many or too large signatures fails" {
  d=$LA/lib/bb@sha256=${BB_DIGEST#sha256:}
  mkdir -p "$d"
  for i in $(seq 1 129); do echo x >"$d/signature-$i"; done
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  [[ $stderr == *"more than 128 signatures"* ]] || fail "stderr: $stderr"
  rm -rf "$d" && mkdir -p "$d"
  head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$d/signature-1"
  run --separate-stderr ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  [[ $stderr == *"reading signature from file://$d/signature-1"* ]] || fail "stderr: $stderr"
  [ ! -e "$CTR_ROOT/images" ]
}

@test "pull: the pull is recorded as a provenance event" {
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
  run ctr-verify provenance --format json "$REGISTRY/lib/bb:1"
  assert_success
  [[ $output == *"$REGISTRY/lib/bb:1"* ]] || fail "no pull event: $output"
}

# ---- push ------------------------------------------------------------------

# ctr's keyring gets alice's secret key, so ctr can sign as alice.
import_alice_secret() {
  gpg_as alice --export-secret-keys >"$W/alice.sec"
  run ctr-verify key import "$W/alice.sec"
  assert_success
}

@test "push --sign-by: signs the destination, writes the staging lookaside; skopeo and ctr agree" {
  import_alice_secret
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  ST=$W/staging
  lookaside_conf "file://$ST" "file://$ST"
  run --separate-stderr ctr-image push --sign-by "$ALICE" busybox "$REGISTRY/signed/bb:1"
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  digest=$(index_digest busybox:latest)
  sig=$ST/signed/bb@sha256=${digest#sha256:}/signature-1
  [ -f "$sig" ]
  cmp "$sig" "$(sigstore_of signed/bb "$digest")/signature-1"
  # the payload: the destination's identity and the manifest's digest
  gpg_as alice --decrypt "$sig" 2>/dev/null >"$W/payload"
  [ "$(jq -r '.critical.identity["docker-reference"]' "$W/payload")" = "$REGISTRY/signed/bb:1" ]
  [ "$(jq -r '.critical.image["docker-manifest-digest"]' "$W/payload")" = "$digest" ]
  [ "$(jq -r '.critical.type' "$W/payload")" = "atomic container signature" ]

  # skopeo with our policy.json and a registries.d reading the staging
  # tree accepts it; so does a ctr pull into a fresh store.
  signed_policy "$GPG_KEYS/alice.pub"
  run skopeo --policy "$CTR_ROOT/trust/policy.json" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/signed/bb:1" "dir:$W/skopeo-out"
  assert_success
  policy=$CTR_ROOT/trust/policy.json
  CTR_ROOT=$W/fresh CTR_RUNDIR=$W/fresh-run
  mkdir -p "$CTR_ROOT/trust" && cp "$policy" "$CTR_ROOT/trust/policy.json"
  run ctr-image pull -q "$REGISTRY/signed/bb:1"
  assert_success

  # the same image under a name nobody signed: both refuse it
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REGISTRY/signed/bb:1" "docker://$REGISTRY/signed/unsigned:1"
  run skopeo --policy "$policy" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/signed/unsigned:1" "dir:$W/skopeo-out2"
  assert_failure
  [[ $output == *"is rejected by policy"* || $output == *"not accepted"* || $output == *"signature"* ]] || fail "skopeo: $output"
  run ctr-image pull -q "$REGISTRY/signed/unsigned:1"
  assert_failure 1
}

@test "skopeo and ctr agree: wrong key, wrong identity, unsigned" {
  signed_policy "$GPG_KEYS/alice.pub"
  policy=$CTR_ROOT/trust/policy.json
  # mallory's signature: rejected by both
  place "$(sign mallory "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run skopeo --policy "$policy" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/lib/bb:1" "dir:$W/o1"
  assert_failure
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  # alice's, for lib/evil: rejected by both
  rm -rf "$LA"/*
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/evil:1")" lib/bb "$BB_DIGEST"
  run skopeo --policy "$policy" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/lib/bb:1" "dir:$W/o2"
  assert_failure
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_failure 1
  # alice's, right: accepted by both
  rm -rf "$LA"/*
  place "$(sign alice "$BATS_FILE_TMPDIR/bb.manifest" "$REGISTRY/lib/bb:1")" lib/bb "$BB_DIGEST"
  run skopeo --policy "$policy" --registries.d "$CTR_REGISTRIES_D" \
    copy -q --src-tls-verify=false "docker://$REGISTRY/lib/bb:1" "dir:$W/o3"
  assert_success
  run ctr-image pull -q "$REGISTRY/lib/bb:1"
  assert_success
}

@test "push: signatures already in the sigstore go to the staging lookaside; old extra ones are removed" {
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  digest=$(index_digest busybox:latest)
  s=$(sigstore_of again/bb "$digest")
  mkdir -p "$s"
  echo one >"$s/signature-1"
  ST=$W/staging
  d=$ST/again/bb@sha256=${digest#sha256:}
  mkdir -p "$d"
  echo old1 >"$d/signature-1"; echo old2 >"$d/signature-2"; echo old3 >"$d/signature-3"
  lookaside_conf "file://$W/elsewhere" "file://$ST"
  run --separate-stderr ctr-image push -q busybox "$REGISTRY/again/bb:1"
  assert_success
  [ "$(cat "$d/signature-1")" = one ]
  [ ! -e "$d/signature-2" ] && [ ! -e "$d/signature-3" ]
}

@test "push: bad --sign-by, or an http staging location, fail before anything is sent" {
  import_alice_secret
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  before=$(store_listing)
  run --separate-stderr ctr-image push --sign-by 0123456789ABCDEF0123456789ABCDEF01234567 busybox "$REGISTRY/bad/bb:1"
  assert_failure 1
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ $stderr == "ctr-image: push busybox $REGISTRY/bad/bb:1: --sign-by 0123456789ABCDEF0123456789ABCDEF01234567: "* ]] ||
    fail "stderr: $stderr"
  run skopeo inspect --tls-verify=false "docker://$REGISTRY/bad/bb:1"
  assert_failure
  lookaside_conf "file://$W/x" "http://127.0.0.1:1/staging"
  run --separate-stderr ctr-image push --sign-by "$ALICE" busybox "$REGISTRY/bad/bb:1"
  assert_failure 1
  assert_equal "$stderr" "ctr-image: push busybox $REGISTRY/bad/bb:1: lookaside http://127.0.0.1:1/staging: signatures can only be written to file:// locations"
  run skopeo inspect --tls-verify=false "docker://$REGISTRY/bad/bb:1"
  assert_failure
  [ "$(store_listing)" = "$before" ]
}

@test "push --sign-by: a push that fails leaves no signature behind" {
  import_alice_secret
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  # gpg-agent rewrites its own files on first use: the rest must not change
  sign_listing() { store_listing | grep -v '/trust/gnupg/' || true; }
  run ctr-verify sign -q -k "$ALICE" busybox
  assert_success
  before=$(sign_listing)
  # a registry nobody listens on
  run --separate-stderr ctr-image push --sign-by "$ALICE" busybox "127.0.0.1:1/gone/bb:1"
  assert_failure 1
  [ "$(sign_listing)" = "$before" ] || diff <(echo "$before") <(sign_listing)
}

# A registry that holds every request until $W/release exists, then
# answers 400: a push to it fails when the test says so. Sets HOLD.
serve_hold() {
  local port
  port=$(registry__free_port)
  python3 -c '
import os, socket, sys, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
def serve(c):
    try:
        c.recv(65536)
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.05)
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()' "$port" "$W/release" \
    </dev/null >/dev/null 2>&1 3>&- &
  SERVER_PIDS+=($!)
  HOLD=127.0.0.1:$port
  for _ in $(seq 50); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' \
      "$port" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

@test "push --sign-by: a failed push keeps its signature once another signer added a newer one" {
  import_alice_secret
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  digest=$(index_digest busybox:latest)
  serve_hold
  s=$(sigstore_of race/bb "$digest")
  ctr-image push -q --sign-by "$ALICE" busybox "$HOLD/race/bb:1" 2>"$W/push.err" 3>&- &
  push=$!
  for _ in $(seq 100); do
    [ -e "$s/signature-1" ] && break
    sleep 0.1
  done
  [ -e "$s/signature-1" ] || fail "the push made no signature"
  cp "$s/signature-1" "$W/pushed"
  # another push signs the same image for the same name while this one
  # waits on the registry: a second later, so other bytes, signature-2
  sleep 1
  run ctr-verify sign -k "$ALICE" --identity "$HOLD/race/bb:1" busybox
  assert_success
  assert_output "$s/signature-2"
  touch "$W/release"
  rc=0
  wait "$push" || rc=$?
  [ "$rc" -eq 1 ] || fail "push exited $rc: $(cat "$W/push.err")"
  [ "$(wc -l <"$W/push.err")" -eq 1 ] || fail "stderr: $(cat "$W/push.err")"
  grep -q "^ctr-image: push busybox $HOLD/race/bb:1: " "$W/push.err" || fail "stderr: $(cat "$W/push.err")"
  # removing signature-1 would have hidden signature-2: a reader stops
  # at the first gap
  cmp "$s/signature-1" "$W/pushed"
  [ -e "$s/signature-2" ]
  [ ! -e "$s/signature-3" ]
}

@test "push --sign-by: a failed push keeps a signature that was there before it, even with the same bytes" {
  import_alice_secret
  CTR_ROOT=$CTR_ROOT ctr-image import --from-host busybox >/dev/null
  digest=$(index_digest busybox:latest)
  s=$(sigstore_of gone/bb "$digest")
  # a registry that fails the push at once (a refused connection is
  # tried again, for seconds)
  touch "$W/release"
  serve_hold
  # The same key, image, name and second make the same bytes, and
  # sigstore_add hands back the signature-N already there. Both must
  # fall into one second: start each try at the beginning of one.
  for _ in 1 2 3 4 5 6 7 8; do
    rm -rf "$CTR_ROOT/trust/sigstore"
    sleep "$(python3 -c 'import time; print(1.02 - time.time() % 1)')"
    t0=$(date +%s)
    run ctr-verify sign -q -k "$ALICE" --identity "$HOLD/gone/bb:1" busybox
    assert_success
    cp "$s/signature-1" "$W/earlier"
    run --separate-stderr ctr-image push -q --sign-by "$ALICE" busybox "$HOLD/gone/bb:1"
    t1=$(date +%s)
    assert_failure 1
    [ "$t0" = "$t1" ] && break
  done
  [ "$t0" = "$t1" ] || skip "signing and pushing never fit into one second"
  [ -f "$s/signature-1" ] || fail "the failed push removed the signature made before it"
  cmp "$s/signature-1" "$W/earlier"
  [ ! -e "$s/signature-2" ]
}

# ---- an image picked from a signed index, judged again at run ----------------

# lib/runmulti:1: an index of busybox (linux/amd64, so it runs here) and
# the other image (linux/arm64), pushed by skopeo; sets W/runmulti.index
# (its bytes as the registry serves them), TOP (its digest) and PLAT (the
# amd64 manifest's digest).
push_run_multi() {
  local l=$W/rm
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/lib/bb:1" "oci:$l:bb"
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/lib/other:1" "oci:$l:other"
  python3 - "$l" <<'PY'
import hashlib, json, sys
l = sys.argv[1]
top = json.load(open(l + "/index.json"))
plat = {"bb": {"architecture": "amd64", "os": "linux"},
        "other": {"architecture": "arm64", "os": "linux"}}
entries = [dict({k: m[k] for k in ("mediaType", "digest", "size")},
                platform=plat[m["annotations"]["org.opencontainers.image.ref.name"]])
           for m in top["manifests"]]
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": entries}).encode()
d = hashlib.sha256(idx).hexdigest()
open(l + "/blobs/sha256/" + d, "wb").write(idx)
top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                         "digest": "sha256:" + d, "size": len(idx),
                         "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(top, open(l + "/index.json", "w"))
PY
  skopeo copy -q --all --dest-tls-verify=false "oci:$l:multi" "docker://$REGISTRY/lib/runmulti:1"
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/runmulti:1" >"$W/runmulti.index"
  TOP=sha256:$(sha256sum <"$W/runmulti.index" | cut -d' ' -f1)
  PLAT=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$W/runmulti.index")
}

# The index annotation of a stored name.
index_annotation() {
  jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n)
    | .annotations["io.ctr.image.index.digest"] // empty' "$CTR_ROOT/images/index.json"
}

@test "pull from a signed index: the index is kept, and ctr-run accepts the image by the index's signature" {
  push_run_multi
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$W/runmulti.index" "$REGISTRY/lib/runmulti:1")" lib/runmulti "$TOP"
  name=$REGISTRY/lib/runmulti:1
  run ctr-image pull -q "$name"
  assert_success
  [ "$(index_digest "$name")" = "$PLAT" ]
  # the index's exact bytes are a blob, named on the image's descriptor
  [ "$(index_annotation "$name")" = "$TOP" ]
  cmp "$CTR_ROOT/images/blobs/sha256/${TOP#sha256:}" "$W/runmulti.index"
  # a pull that changes nothing changes nothing
  before=$(store_listing)
  run ctr-image pull -q "$name"
  assert_success
  [ "$(store_listing)" = "$before" ] || fail "a second pull changed the store"

  # ctr-run judges the platform manifest: the index's signature covers it
  run --separate-stderr ctr-run --rm "$name" true
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  run ctr-verify verify "$name"
  assert_success
  [[ $output == *"signature-1 by $ALICE"*"via index $TOP"* ]] || fail "no index in the report: $output"
  [[ $output == *accepted ]]
  run ctr-verify verify -q --digest "$PLAT" "$name"
  assert_success
  # a manifest's own signature still counts, and says no index
  skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/lib/runmulti@$PLAT" >"$W/plat.json"
  place "$(sign alice "$W/plat.json" "$name")" lib/runmulti "$PLAT"
  run ctr-verify verify --signatures "$LA/lib/runmulti@sha256=${PLAT#sha256:}" "$name"
  assert_success
  [[ $output == *"signature-1 by $ALICE"* && $output != *"via index"* ]] || fail "report: $output"
  remove_containers
}

@test "pull from a signed index: a tampered index blob, or an index not listing the manifest, makes ctr-run refuse" {
  push_run_multi
  signed_policy "$GPG_KEYS/alice.pub"
  place "$(sign alice "$W/runmulti.index" "$REGISTRY/lib/runmulti:1")" lib/runmulti "$TOP"
  name=$REGISTRY/lib/runmulti:1
  run ctr-image pull -q "$name"
  assert_success
  run ctr-run --rm "$name" true
  assert_success
  blob=$CTR_ROOT/images/blobs/sha256/${TOP#sha256:}

  # the index blob changed (one byte more): no longer the signed index
  cp "$blob" "$W/index.saved"
  chmod u+w "$blob"
  printf ' ' >>"$blob"
  run --separate-stderr ctr-run --rm "$name" true
  assert_failure 125
  [ "${#stderr_lines[@]}" -eq 1 ] || fail "stderr: $stderr"
  [[ $stderr == "ctr-run: $name: rejected by policy: A signature was required, but no signature exists (the index $TOP it was pulled from is not used: "*"digest mismatch"* ]] ||
    fail "stderr: $stderr"
  [ -z "$(ls "$CTR_ROOT/containers" 2>/dev/null)" ]
  # the index blob gone: the same
  rm "$blob"
  run --separate-stderr ctr-run --rm "$name" true
  assert_failure 125
  [[ $stderr == *"(the index $TOP it was pulled from is not used: "* ]] || fail "stderr: $stderr"
  cp "$W/index.saved" "$blob"
  run ctr-run --rm "$name" true
  assert_success

  # the annotation moved to another index, validly signed, that lists only
  # the arm64 image: it vouches for nothing here
  jq -c '.manifests |= map(select(.platform.architecture != "amd64"))' "$W/runmulti.index" >"$W/evil.index"
  evil=sha256:$(sha256sum <"$W/evil.index" | cut -d' ' -f1)
  cp "$W/evil.index" "$CTR_ROOT/images/blobs/sha256/${evil#sha256:}"
  mkdir -p "$(sigstore_of lib/runmulti "$evil")"
  cp "$(sign alice "$W/evil.index" "$name")" "$(sigstore_of lib/runmulti "$evil")/signature-1"
  jq --arg e "$evil" '(.manifests[] | .annotations | select(.["io.ctr.image.index.digest"])
    | .["io.ctr.image.index.digest"]) = $e' "$CTR_ROOT/images/index.json" >"$W/index.json"
  cp "$W/index.json" "$CTR_ROOT/images/index.json"
  [ "$(index_annotation "$name")" = "$evil" ]
  run --separate-stderr ctr-run --rm "$name" true
  assert_failure 125
  [[ $stderr == "ctr-run: $name: rejected by policy: "*"(the index $evil it was pulled from does not list $PLAT)" ]] ||
    fail "stderr: $stderr"
  run ctr-verify verify -q "$name"
  assert_failure 1
  [ -z "$(ls "$CTR_ROOT/containers" 2>/dev/null)" ]
}

@test "pull from an index: prune keeps the index blob while a name points at it; rm drops it" {
  push_run_multi
  name=$REGISTRY/lib/runmulti:1
  run ctr-image pull -q "$name"
  assert_success
  blob=$CTR_ROOT/images/blobs/sha256/${TOP#sha256:}
  [ -f "$blob" ]
  run ctr-image prune
  assert_success
  [ -f "$blob" ]
  # a second name for the image carries the index with it
  run ctr-image tag "$name" local/multi:1
  assert_success
  [ "$(index_annotation local/multi:1)" = "$TOP" ]
  run ctr-image rm "$name"
  assert_success
  run ctr-image prune
  assert_success
  [ -f "$blob" ]
  run ctr-image rm local/multi:1
  assert_success
  [ ! -e "$blob" ]
  [ ! -e "$CTR_ROOT/images/blobs/sha256/${PLAT#sha256:}" ]
  # pulled by a tag that now names a plain manifest: the name's index goes
  run ctr-image pull -q "$name"
  assert_success
  [ "$(index_annotation "$name")" = "$TOP" ]
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REGISTRY/lib/runmulti@$PLAT" "docker://$REGISTRY/lib/runmulti:1"
  run ctr-image pull -q "$name"
  assert_success
  [ "$(index_digest "$name")" = "$PLAT" ]
  [ -z "$(index_annotation "$name")" ]
  run ctr-image prune
  assert_success
  [ ! -e "$blob" ]
}
