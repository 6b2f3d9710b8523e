#!/usr/bin/env bats
# ctr-run enforces the trust policy at every start: `ctr-run IMAGE`,
# `ctr-run create`, `ctr-run start` and the monitor's restarts ask
# `ctr-verify verify` first when $CTR_ROOT/trust/policy.json (or
# provenance.json) exists. A rejected image's container does not start:
# exit 125, one line with ctr-verify's reason, nothing left behind.

load helpers/common
load helpers/gpg

setup_file() {
  use_file_store
  export CTR_CGROUP_PARENT="ctr-test-vrun-$$"
  ctr-image import --from-host busybox >/dev/null
  # a second image with no signature: the same content under another name
  ctr-image tag busybox unsigned:1
  ctr-verify key gen --uid "verify-run <run@ctr.test>" >/dev/null
  ctr-verify sign busybox >/dev/null
  ctr-verify key export -o "$BATS_FILE_TMPDIR/host.gpg" "$(cat "$CTR_ROOT/trust/signing-key")"
  GPG_KEYS=$BATS_FILE_TMPDIR gpg_key stranger >/dev/null
}

setup() {
  use_file_store
  export GPG_KEYS=$BATS_FILE_TMPDIR
}

teardown() {
  remove_containers
  rm -f "$CTR_ROOT/trust/policy.json" "$CTR_ROOT/trust/provenance.json"
}

teardown_file() {
  use_file_store
  remove_containers
  for d in /sys/fs/cgroup/*/"$CTR_CGROUP_PARENT"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  GPG_KEYS=$BATS_FILE_TMPDIR gpg_kill_agents
  # agents ctr-verify's cached keyrings may have started
  for h in "$CTR_RUNDIR"/trust/keyrings/*/ "$CTR_RUNDIR"/trust/keyrings/*/*/; do
    [ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null
  done
  true
}

# policy REQUIREMENTS-JSON [SCOPE-JSON]: default and the docker scopes;
# replaced whole (a monitor may read it at any moment)
policy() {
  jq -n --argjson d "$1" --argjson s "${2:-{\}}" '{default: $d, transports: {docker: $s}}' \
    > "$CTR_ROOT/trust/.policy.new"
  mv "$CTR_ROOT/trust/.policy.new" "$CTR_ROOT/trust/policy.json"
}
accept_all() { policy '[{"type":"insecureAcceptAnything"}]'; }
reject_all() { policy '[{"type":"reject"}]'; }
signed_by() { # KEYFILE: busybox's repository must be signed with it
  policy '[{"type":"reject"}]' "$(jq -n --arg k "$1" \
    '{"docker.io/library/busybox": [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}],
      "docker.io/library/unsigned": [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}')"
}

# Everything outside trust/, byte for byte: a refused run changes none of it.
listing() { store_listing "$CTR_ROOT" | grep -v '^\./trust\|  \./trust/'; }

nothing_left() {
  [ -z "$(ls "$CTR_ROOT/containers" 2>/dev/null)" ]
  ! grep -q "$CTR_ROOT/containers" /proc/self/mountinfo
}

status_of() { jq -r .status "$CTR_ROOT/containers/$1/state.json"; }

@test "no policy: ctr-run does not run ctr-verify at all" {
  [ ! -e "$CTR_ROOT/trust/policy.json" ]
  run strace -f -qq -s 256 -e trace=execve -o "$BATS_TEST_TMPDIR/trace" ctr-run --rm busybox echo hi
  assert_success
  assert_output hi
  ! grep -q 'ctr-verify' "$BATS_TEST_TMPDIR/trace"
  # with a policy it does, once, with the image's digest
  accept_all
  run strace -f -qq -s 256 -e trace=execve -o "$BATS_TEST_TMPDIR/trace" ctr-run --rm busybox echo hi
  assert_success
  assert_output hi
  [ "$(grep -c 'execve(".*ctr-verify"' "$BATS_TEST_TMPDIR/trace")" = 1 ]
  grep 'execve(".*ctr-verify"' "$BATS_TEST_TMPDIR/trace" |
    grep -q "\"--digest\", \"$(index_digest busybox:latest)\""
}

@test "rejected run: exit 125, ctr-verify's reason on one line, nothing made" {
  reject_all
  before=$(listing)
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  [ -z "$output" ]
  [ "$stderr" = "ctr-run: busybox: rejected by policy: Running image docker://busybox:latest is rejected by policy." ]
  nothing_left
  [ "$(listing)" = "$before" ]
}

@test "rejected -d and create: exit 125, no container" {
  reject_all
  before=$(listing)
  run --separate-stderr ctr-run -d busybox sleep 10
  [ "$status" = 125 ]
  [ -z "$output" ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "* ]]
  run --separate-stderr ctr-run create --name never busybox true
  [ "$status" = 125 ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "* ]]
  nothing_left
  [ "$(listing)" = "$before" ]
}

@test "signedBy: a signed image runs" {
  signed_by "$BATS_FILE_TMPDIR/host.gpg"
  run ctr-verify verify -q busybox
  assert_success
  run ctr-run --rm busybox echo signed
  assert_success
  assert_output signed
  nothing_left
}

@test "signedBy: an unsigned image is refused with skopeo's reason" {
  signed_by "$BATS_FILE_TMPDIR/host.gpg"
  before=$(listing)
  run --separate-stderr ctr-run --rm unsigned:1 echo hi
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: unsigned:1: rejected by policy: A signature was required, but no signature exists" ]
  nothing_left
  [ "$(listing)" = "$before" ]
}

@test "signedBy another key: refused, the reason names the signature" {
  [ -s "$BATS_FILE_TMPDIR/stranger.pub" ]
  signed_by "$BATS_FILE_TMPDIR/stranger.pub"
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "*ignature* ]]
  nothing_left
}

@test "by digest: the image is judged under its store name" {
  signed_by "$BATS_FILE_TMPDIR/host.gpg"
  d=$(index_digest busybox:latest)
  run ctr-run --rm "busybox@$d" echo by-digest
  assert_success
  assert_output by-digest
}

@test "by image ID: create and start judge it under its store name" {
  signed_by "$BATS_FILE_TMPDIR/host.gpg"
  d=$(index_digest busybox:latest)
  id=$(ctr-run create "${d:7:12}" echo by-id)
  run ctr-run start -a "$id"
  assert_success
  assert_output by-id
}

@test "start: a created container whose image is now rejected stays, not started" {
  accept_all
  id=$(ctr-run create --name later busybox echo started)
  [ "$(status_of "$id")" = created ]
  reject_all
  run --separate-stderr ctr-run start later
  [ "$status" = 125 ]
  [ -z "$output" ]
  [ "$stderr" = "ctr-run: start later: busybox: rejected by policy: Running image docker://busybox:latest is rejected by policy." ]
  [ "$(status_of "$id")" = created ]
  [ ! -e "$CTR_RUNDIR/containers/$id.json" ]
  ! grep -q "$CTR_ROOT/containers/$id/rootfs" /proc/self/mountinfo
  run --separate-stderr ctr-run start -a later
  [ "$status" = 125 ]
  # accepted again: it starts
  accept_all
  run ctr-run start -a later
  assert_success
  assert_output started
}

@test "start of an exited container is judged too" {
  accept_all
  id=$(ctr-run create busybox echo again)
  run ctr-run start -a "$id"
  assert_success
  [ "$(status_of "$id")" = exited ]
  reject_all
  run --separate-stderr ctr-run start "$id"
  [ "$status" = 125 ]
  [[ "$stderr" == "ctr-run: start $id: busybox: rejected by policy: "* ]]
  [ "$(status_of "$id")" = exited ]
}

@test "restart: the monitor judges every restart; a rejected one ends it, logged" {
  accept_all
  id=$(ctr-run -d --restart always busybox sh -c 'echo ran; sleep 0.3; exit 3')
  for _ in $(seq 50); do
    [ "$(jq -r .restart_count "$CTR_ROOT/containers/$id/state.json")" -ge 1 ] 2>/dev/null && break
    sleep 0.1
  done
  reject_all
  for _ in $(seq 100); do
    [ "$(status_of "$id")" = exited ] && break
    sleep 0.1
  done
  [ "$(status_of "$id")" = exited ]
  [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 3 ]
  n=$(ctr-logs "$id" 2>&1 | grep -c '^ran$')
  sleep 1
  # it stays down
  [ "$(status_of "$id")" = exited ]
  [ "$(ctr-logs "$id" 2>&1 | grep -c '^ran$')" = "$n" ]
  run ctr-logs "$id"
  assert_output --partial "ctr-run: restart: busybox: rejected by policy: Running image docker://busybox:latest is rejected by policy."
}

@test "malformed policy: refused with the parse error, never accepted" {
  before=$(listing)
  printf '{"default": [' > "$CTR_ROOT/trust/policy.json"
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  [ -z "$output" ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "* ]]
  [ "$(echo "$stderr" | wc -l)" = 1 ]
  echo '{"default": [{"type": "acceptEverything"}]}' > "$CTR_ROOT/trust/policy.json"
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "* ]]
  echo '{"default": [{"type": "insecureAcceptAnything"}], "extra": 1}' > "$CTR_ROOT/trust/policy.json"
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  nothing_left
  [ "$(listing)" = "$before" ]
}

@test "provenance.json alone is enforced: an origin the image does not have" {
  [ ! -e "$CTR_ROOT/trust/policy.json" ]
  ctr-verify policy set --scope docker.io/library/busybox --require-origin pull:registry.ctr.test
  rm -f "$CTR_ROOT/trust/policy.json"
  [ -e "$CTR_ROOT/trust/provenance.json" ]
  run --separate-stderr ctr-run --rm busybox echo hi
  [ "$status" = 125 ]
  [[ "$stderr" == "ctr-run: busybox: rejected by policy: "* ]]
  nothing_left
  # the origin it has (its import from the host) is accepted
  src=$(ctr-verify provenance busybox --format json |
    jq -r '[.[] | .statement.predicate.buildDefinition.externalParameters["source-digest"] // empty][0]')
  ctr-verify policy rm --scope docker.io/library/busybox --origin
  ctr-verify policy set --scope docker.io/library/busybox --require-origin "import:$src"
  rm -f "$CTR_ROOT/trust/policy.json"
  run ctr-run --rm busybox echo origin-ok
  assert_success
  assert_output origin-ok
}

@test "fail closed: no ctr-verify to ask means no start" {
  accept_all
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cp "${CTR_BUILD:-$TESTS_DIR/../build}/bin/ctr-run" "$BATS_TEST_TMPDIR/bin/"
  run --separate-stderr env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$BATS_TEST_TMPDIR/bin/ctr-run" --rm busybox echo hi
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: busybox: rejected: the policy could not be checked: run ctr-verify: No such file or directory" ]
  nothing_left
}
