#!/usr/bin/env bats
# skopeo (containers/image) as the oracle for simple signing: what
# `skopeo standalone-sign` makes, ctr-verify accepts; what `ctr-verify
# sign` makes, `skopeo standalone-verify` accepts; bad signatures are
# refused by both; and the sigstore's directory names are the ones
# `skopeo copy --sign-by` writes into a lookaside-staging directory.

load helpers/common
load helpers/gpg

bats_require_minimum_version 1.5.0

setup() {
  setup_store
  requires jq gpg skopeo
  import_busybox
  DIGEST=$(index_digest busybox:latest)
  HEX=${DIGEST#sha256:}
  MANIFEST="$CTR_ROOT/images/blobs/sha256/$HEX"
  SIGDIR="$CTR_ROOT/trust/sigstore/library/busybox@sha256=$HEX"
  NETNS=""
}

teardown() {
  if [ -n "$NETNS" ]; then
    ip netns pids "$NETNS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$NETNS" 2>/dev/null || true
  fi
  gpg_kill_agents
}

# skopeo reads its keys from $GNUPGHOME: a home holding only KEYFILE.
skopeo_home() {
  local home="$BATS_TEST_TMPDIR/skopeo-gnupg"
  rm -rf "$home"
  mkdir -m 0700 "$home"
  gpg --homedir "$home" --batch --quiet --import "$@" 2>/dev/null
  echo "$home"
}

# A policy.json requiring a signature by KEYFILE for busybox, rejecting
# everything else.
policy_signed_by() {
  mkdir -p "$CTR_ROOT/trust"
  jq -n --arg k "$1" '{default: [{type: "reject"}],
    transports: {docker: {"docker.io/library/busybox": [
      {type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}}}' >"$CTR_ROOT/trust/policy.json"
}

# skopeo standalone-sign as NAME (a gpg_key) for IDENTITY → file OUT.
skopeo_sign() {
  local name=$1 fpr=$2 identity=$3 out=$4
  GNUPGHOME=$(gpg_home "$name") skopeo standalone-sign -o "$out" "$MANIFEST" "$identity" "$fpr"
}

@test "ctr-verify sign: skopeo standalone-verify accepts the signature" {
  run --separate-stderr ctr-verify key gen
  assert_success
  host=$output
  run --separate-stderr ctr-verify sign busybox
  assert_success
  sig=$output
  ctr-verify key export "$host" >"$BATS_TEST_TMPDIR/host.pub"
  home=$(skopeo_home "$BATS_TEST_TMPDIR/host.pub")
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/busybox:latest "$host" "$sig"
  assert_success
  assert_output "Signature verified, digest $DIGEST"
  # and skopeo holds it to what it says: another identity is refused
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/other:latest "$host" "$sig"
  assert_failure
  assert_output --partial "does not match"
}

@test "ctr-verify sign --identity --key: skopeo accepts it for that identity" {
  alice=$(gpg_key alice)
  gpg_as alice --export-secret-keys >"$BATS_TEST_TMPDIR/alice.sec"
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.sec" >/dev/null
  run --separate-stderr ctr-verify sign -k "$alice" --identity quay.io/team/app:2 busybox
  assert_success
  assert_output "$CTR_ROOT/trust/sigstore/team/app@sha256=$HEX/signature-1"
  home=$(skopeo_home "$BATS_TEST_TMPDIR/alice.pub")
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" quay.io/team/app:2 "$alice" "$output"
  assert_success
}

@test "skopeo standalone-sign: ctr-verify verify accepts it from the sigstore and from --signatures" {
  alice=$(gpg_key alice)
  mkdir -p "$SIGDIR"
  skopeo_sign alice "$alice" docker.io/library/busybox:latest "$SIGDIR/signature-1"
  policy_signed_by "$BATS_TEST_TMPDIR/alice.pub"
  run --separate-stderr ctr-verify verify busybox
  assert_success
  assert_line --regexp "^PASS +signedBy +.*$alice"
  assert_line accepted
  mkdir "$BATS_TEST_TMPDIR/sigs"
  cp "$SIGDIR/signature-1" "$BATS_TEST_TMPDIR/sigs/"
  rm -rf "$CTR_ROOT/trust/sigstore"
  run --separate-stderr ctr-verify verify -q --digest "$DIGEST" --signatures "$BATS_TEST_TMPDIR/sigs" busybox
  assert_success
  assert_output ""
}

@test "skopeo's signature by an untrusted key, for another image or another digest: both refuse" {
  alice=$(gpg_key alice)
  bob=$(gpg_key bob)
  policy_signed_by "$BATS_TEST_TMPDIR/alice.pub"
  mkdir -p "$SIGDIR"
  BEFORE=$(store_listing)
  # by bob, whom the policy does not trust
  skopeo_sign bob "$bob" docker.io/library/busybox:latest "$SIGDIR/signature-1"
  run --separate-stderr ctr-verify verify busybox
  [ "$status" -eq 1 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == "ctr-verify: verify busybox"* ]]
  home=$(skopeo_home "$BATS_TEST_TMPDIR/alice.pub")
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/busybox:latest "$alice" "$SIGDIR/signature-1"
  assert_failure
  # by alice, but for another repository
  skopeo_sign alice "$alice" docker.io/library/alpine:latest "$SIGDIR/signature-1"
  run --separate-stderr ctr-verify verify busybox
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"identity"* ]]
  # by alice, but for another manifest
  echo '{"schemaVersion":2}' >"$BATS_TEST_TMPDIR/other-manifest"
  GNUPGHOME=$(gpg_home alice) skopeo standalone-sign -o "$SIGDIR/signature-1" \
    "$BATS_TEST_TMPDIR/other-manifest" docker.io/library/busybox:latest "$alice"
  run --separate-stderr ctr-verify verify busybox
  [ "$status" -eq 1 ]
  [[ "${stderr,,}" == *"digest"* ]]
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/busybox:latest "$alice" "$SIGDIR/signature-1"
  assert_failure
}

@test "expired, revoked and corrupted signatures: skopeo and ctr-verify both refuse" {
  old=$(gpg_key old 1d 20200101T000000)
  rev=$(gpg_key rev)
  alice=$(gpg_key alice)
  payload="$BATS_TEST_TMPDIR/payload.json"
  jq -cn --arg d "$DIGEST" '{critical: {identity: {"docker-reference": "docker.io/library/busybox:latest"},
    image: {"docker-manifest-digest": $d}, type: "atomic container signature"}, optional: {}}' >"$payload"
  # made while the key was valid; checked after it expired
  gpg_as old --faked-system-time 20200101T010000 --sign -o "$BATS_TEST_TMPDIR/s.old" "$payload" 2>/dev/null
  gpg_as rev --sign -o "$BATS_TEST_TMPDIR/s.rev" "$payload"
  gpg_revoke rev
  skopeo_sign alice "$alice" docker.io/library/busybox:latest "$BATS_TEST_TMPDIR/s.good"
  cp "$BATS_TEST_TMPDIR/s.good" "$BATS_TEST_TMPDIR/s.corrupt"
  size=$(stat -c %s "$BATS_TEST_TMPDIR/s.corrupt")
  printf '\xff\xff\xff\xff' | dd of="$BATS_TEST_TMPDIR/s.corrupt" bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null
  head -c 60 "$BATS_TEST_TMPDIR/s.good" >"$BATS_TEST_TMPDIR/s.trunc"
  cat "$BATS_TEST_TMPDIR/old.pub" "$BATS_TEST_TMPDIR/rev.pub" "$BATS_TEST_TMPDIR/alice.pub" >"$BATS_TEST_TMPDIR/keys.pub"
  policy_signed_by "$BATS_TEST_TMPDIR/keys.pub"
  home=$(skopeo_home "$BATS_TEST_TMPDIR/keys.pub")
  for case in old:"$old":expired rev:"$rev":revoked corrupt:"$alice": trunc:"$alice":; do
    IFS=: read -r name fpr why <<<"$case"
    mkdir -p "$BATS_TEST_TMPDIR/d-$name"
    cp "$BATS_TEST_TMPDIR/s.$name" "$BATS_TEST_TMPDIR/d-$name/signature-1"
    run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/busybox:latest "$fpr" "$BATS_TEST_TMPDIR/s.$name"
    [ "$status" -ne 0 ] || fail "skopeo accepted the $name signature"
    run --separate-stderr ctr-verify verify --signatures "$BATS_TEST_TMPDIR/d-$name" busybox
    [ "$status" -eq 1 ] || fail "ctr-verify: exit $status for the $name signature: $stderr"
    [ "${#stderr_lines[@]}" -eq 1 ] || fail "not one line: $stderr"
    [[ "${stderr,,}" == *"$why"* ]] || fail "the $name reason lacks '$why': $stderr"
  done
  # the good one passes both with the same keys
  mkdir -p "$BATS_TEST_TMPDIR/d-good"
  cp "$BATS_TEST_TMPDIR/s.good" "$BATS_TEST_TMPDIR/d-good/signature-1"
  run env GNUPGHOME="$home" skopeo standalone-verify "$MANIFEST" docker.io/library/busybox:latest "$alice" "$BATS_TEST_TMPDIR/s.good"
  assert_success
  run --separate-stderr ctr-verify verify -q --signatures "$BATS_TEST_TMPDIR/d-good" busybox
  assert_success
}

@test "the sigstore's directory is the one skopeo copy --sign-by writes to a lookaside" {
  requires docker-registry ip python3
  alice=$(gpg_key alice)
  gpg_as alice --export-secret-keys >"$BATS_TEST_TMPDIR/alice.sec"
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.sec" >/dev/null
  NETNS="ctrt-$$-keys"
  ip netns add "$NETNS"
  ip netns exec "$NETNS" ip link set lo up
  W="$BATS_TEST_TMPDIR/w"
  mkdir -p "$W/regd" "$W/stage"
  printf 'default-docker:\n  lookaside-staging: file://%s\n' "$W/stage" >"$W/regd/default.yaml"
  # the registry and skopeo run inside the test's own network namespace
  cat >"$W/push.sh" <<EOF
set -e
source "$TESTS_DIR/helpers/registry.bash"
REGISTRY_TMPDIR="$W" registry_start plain
trap registry_stop EXIT
echo "\$REGISTRY" >"$W/registry"
GNUPGHOME="$(gpg_home alice)" skopeo --registries.d "$W/regd" copy -q --dest-tls-verify=false \
  --sign-by "$alice" "oci:$CTR_ROOT/images:busybox:latest" "docker://\$REGISTRY/lib/bb:1"
EOF
  run ip netns exec "$NETNS" bash "$W/push.sh"
  assert_success
  registry=$(cat "$W/registry")
  skopeo_made=$(cd "$W/stage" && find . -type f | sed 's|^\./||')
  [ -n "$skopeo_made" ]
  # ctr-verify sign for the same reference names the same path
  run --separate-stderr ctr-verify sign -k "$alice" --identity "$registry/lib/bb:1" busybox
  assert_success
  assert_equal "${output#"$CTR_ROOT/trust/sigstore/"}" "$skopeo_made"
  # skopeo's signature (its payload names the pushed manifest) verifies with
  # ctr-verify, read from the staging tree as a sigstore
  pushed=$(basename "$(dirname "$skopeo_made")")
  pushed="sha256:${pushed#bb@sha256=}"
  mkdir -p "$CTR_ROOT/trust"
  jq -n --arg k "$BATS_TEST_TMPDIR/alice.pub" --arg s "$registry/lib/bb" '{default: [{type: "reject"}],
    transports: {docker: {($s): [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}}}' >"$CTR_ROOT/trust/policy.json"
  run --separate-stderr ctr-verify verify --digest "$pushed" --signatures "$W/stage/$(dirname "$skopeo_made")" "$registry/lib/bb:1"
  assert_success
  assert_line accepted
}

@test "policy keys: one cached keyring per key set, made once, no gpg-agent for it" {
  alice=$(gpg_key alice)
  mkdir -p "$SIGDIR"
  skopeo_sign alice "$alice" docker.io/library/busybox:latest "$SIGDIR/signature-1"
  policy_signed_by "$BATS_TEST_TMPDIR/alice.pub"
  run --separate-stderr ctr-verify verify -q busybox
  assert_success
  run ls -A "$CTR_RUNDIR/trust/keyrings"
  assert_equal "${#lines[@]}" 1
  ring="$CTR_RUNDIR/trust/keyrings/${lines[0]}"
  [[ "${lines[0]}" =~ ^[0-9a-f]{64}$ ]]
  [ "$(jq -r '.keys[0].fpr' "$ring/keys.json")" = "$alice" ]
  stamp=$(stat -c %Y.%i "$ring/pubring.kbx")
  rm -rf "$CTR_RUNDIR/trust/verdicts"
  run --separate-stderr ctr-verify verify -q busybox
  assert_success
  [ "$(stat -c %Y.%i "$ring/pubring.kbx")" = "$stamp" ]
  [ "$(ls -A "$CTR_RUNDIR/trust/keyrings" | wc -l)" = 1 ]
  ! pgrep -f "gpg-agent --homedir $CTR_RUNDIR/trust/keyrings" >/dev/null
}
