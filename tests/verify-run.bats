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
  # (LeakSanitizer cannot run under ptrace: an ASan build traced leaves it out)
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    run strace -f -qq -s 256 -e trace=execve -o "$BATS_TEST_TMPDIR/trace" ctr-run --rm busybox echo hi
  assert_success
  assert_output hi
  ! grep -q 'ctr-verify' "$BATS_TEST_TMPDIR/trace" || fail "ctr-run ran ctr-verify without a policy"
  # with a policy it does, once, with the image's digest
  accept_all
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
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

@test "by image ID: judged under every store name of it, unsigned:1 too" {
  signed_by "$BATS_FILE_TMPDIR/host.gpg"
  d=$(index_digest busybox:latest)
  # busybox:latest is signed, unsigned:1 (the same digest) is not: an ID
  # names no repository, so each one it is in must accept it
  run --separate-stderr ctr-run create "${d:7:12}" echo by-id
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: ${d:7:12}: rejected by policy: A signature was required, but no signature exists" ]
  nothing_left
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
  ! grep -q "$CTR_ROOT/containers/$id/rootfs" /proc/self/mountinfo || fail "its rootfs is still mounted"
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

# A store of the test's own (it tags and untags names): busybox, tagged
# also as each NAME given.
own_store() {
  export CTR_ROOT="$BATS_TEST_TMPDIR/root" CTR_RUNDIR="$BATS_TEST_TMPDIR/run"
  ctr-image import --from-host busybox >/dev/null
  local n
  for n in "$@"; do ctr-image tag busybox "$n"; done
}
trust_names() { jq -c .trust_names "$CTR_ROOT/containers/$1/state.json"; }
reject_scope() { # SCOPE: rejected, everything else accepted
  policy '[{"type":"insecureAcceptAnything"}]' "$(jq -n --arg s "$1" '{($s): [{type: "reject"}]}')"
}

@test "by ID or digest: a reject scope for one of its names refuses it" {
  own_store other:1
  d=$(index_digest busybox:latest)
  cfg=$(blob "$d" | jq -r .config.digest) # the image ID
  reject_scope docker.io/library/busybox
  before=$(listing)
  for ref in "${cfg#sha256:}" "${cfg:7:12}" "${d:7:12}" "$d"; do
    run --separate-stderr ctr-run --rm "$ref" true
    [ "$status" = 125 ]
    [ "$stderr" = "ctr-run: $ref: rejected by policy: Running image docker://busybox:latest is rejected by policy." ]
  done
  # the name listed second counts as much as the first
  reject_scope docker.io/library/other
  for ref in "${d:7:12}" "$d" "${cfg:7:12}"; do
    run --separate-stderr ctr-run --rm "$ref" true
    [ "$status" = 125 ]
    [ "$stderr" = "ctr-run: $ref: rejected by policy: Running image docker://other:1 is rejected by policy." ]
  done
  nothing_left
  [ "$(listing)" = "$before" ]
  # by a name: that name alone
  run ctr-run --rm busybox echo by-name
  assert_success
  assert_output by-name
  run --separate-stderr ctr-run --rm other:1 true
  [ "$status" = 125 ]
}

@test "REPO@DIGEST: judged under that reference; a repository the store lacks adds every name" {
  own_store other:1
  d=$(index_digest busybox:latest)
  reject_scope docker.io/library/other
  run ctr-run --rm "busybox@$d" echo busybox-at-digest
  assert_success
  assert_output busybox-at-digest
  run --separate-stderr ctr-run --rm "other@$d" true
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: other@$d: rejected by policy: Running image docker://other@$d is rejected by policy." ]
  # foo has no name for it in the store: foo's policy and every name's
  run --separate-stderr ctr-run --rm "foo@$d" true
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: foo@$d: rejected by policy: Running image docker://other:1 is rejected by policy." ]
  reject_scope docker.io/library/foo
  run --separate-stderr ctr-run --rm "foo@$d" true
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: foo@$d: rejected by policy: Running image docker://foo@$d is rejected by policy." ]
  nothing_left
}

@test "a nameless image is judged by the policy's default, as nameless.invalid/image@DIGEST" {
  own_store
  d=$(index_digest busybox:latest)
  # the store's only entry loses its name (as an imported archive without
  # ref names, or a tag removed while a nameless entry stays, leaves it)
  jq '.manifests |= map(del(.annotations))' "$CTR_ROOT/images/index.json" > "$BATS_TEST_TMPDIR/index"
  cp "$BATS_TEST_TMPDIR/index" "$CTR_ROOT/images/index.json"
  [ -z "$(index_digest busybox:latest)" ]
  # every docker.io name is rejected; the default accepts
  reject_scope docker.io
  id=$(ctr-run create "${d:7:12}" echo nameless)
  [ "$(trust_names "$id")" = "[\"nameless.invalid/image@$d\"]" ]
  run ctr-run start -a "$id"
  assert_success
  assert_output nameless
  run ctr-run --rm "$d" echo by-digest
  assert_success
  assert_output by-digest
  # and the default refuses it: with the name it was judged under
  policy '[{"type":"reject"}]' '{"docker.io": [{"type":"insecureAcceptAnything"}]}'
  run --separate-stderr ctr-run start -a "$id"
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: start $id: ${d:7:12}: rejected by policy: Running image docker://nameless.invalid/image@$d is rejected by policy." ]
  run --separate-stderr ctr-run --rm "$d" true
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: $d: rejected by policy: Running image docker://nameless.invalid/image@$d is rejected by policy." ]
}

@test "start judges the names recorded at create, whatever the tags are now" {
  own_store gone:1
  d=$(index_digest busybox:latest)
  # no policy at create: the names are recorded all the same
  [ ! -e "$CTR_ROOT/trust/policy.json" ]
  by_name=$(ctr-run create gone:1 echo by-name)
  by_id=$(ctr-run create "${d:7:12}" echo by-id)
  [ "$(trust_names "$by_name")" = '["gone:1"]' ]
  [ "$(trust_names "$by_id")" = '["busybox:latest","gone:1"]' ]
  ctr-image rm gone:1 >/dev/null
  [ -z "$(index_digest gone:1)" ]
  reject_scope docker.io/library/gone
  run --separate-stderr ctr-run start -a "$by_name"
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: start $by_name: gone:1: rejected by policy: Running image docker://gone:1 is rejected by policy." ]
  # by ID: the store now says only busybox:latest, but gone:1 was a name
  # of it at create
  run --separate-stderr ctr-run start -a "$by_id"
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: start $by_id: ${d:7:12}: rejected by policy: Running image docker://gone:1 is rejected by policy." ]
  [ "$(status_of "$by_name")" = created ]
  [ "$(status_of "$by_id")" = created ]
  # a new name for the image later does not widen or narrow them either
  ctr-image tag busybox later:1
  reject_scope docker.io/library/later
  run ctr-run start -a "$by_id"
  assert_success
  assert_output by-id
}

@test "restart judges the recorded names" {
  own_store gone:1
  accept_all
  id=$(ctr-run -d --restart always gone:1 sh -c 'echo ran; sleep 0.3; exit 3')
  [ "$(trust_names "$id")" = '["gone:1"]' ]
  for _ in $(seq 50); do
    [ "$(jq -r .restart_count "$CTR_ROOT/containers/$id/state.json")" -ge 1 ] 2>/dev/null && break
    sleep 0.1
  done
  ctr-image rm gone:1 >/dev/null
  reject_scope docker.io/library/gone
  for _ in $(seq 100); do
    [ "$(status_of "$id")" = exited ] && break
    sleep 0.1
  done
  [ "$(status_of "$id")" = exited ]
  run ctr-logs "$id"
  assert_output --partial "ctr-run: restart: gone:1: rejected by policy: Running image docker://gone:1 is rejected by policy."
}

@test "a container without recorded names (made before them) is judged as create would judge it now" {
  own_store other:1
  d=$(index_digest busybox:latest)
  by_id=$(ctr-run create "${d:7:12}" echo legacy-id)
  by_name=$(ctr-run create busybox echo legacy-name)
  for id in "$by_id" "$by_name"; do
    jq 'del(.trust_names)' "$CTR_ROOT/containers/$id/state.json" > "$BATS_TEST_TMPDIR/state"
    cp "$BATS_TEST_TMPDIR/state" "$CTR_ROOT/containers/$id/state.json"
  done
  reject_scope docker.io/library/other
  run --separate-stderr ctr-run start -a "$by_id"
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: start $by_id: ${d:7:12}: rejected by policy: Running image docker://other:1 is rejected by policy." ]
  run ctr-run start -a "$by_name"
  assert_success
  assert_output legacy-name
  # a name the store no longer has is judged as it was given
  ctr-image tag busybox gone:1
  id=$(ctr-run create gone:1 echo legacy-gone)
  jq 'del(.trust_names)' "$CTR_ROOT/containers/$id/state.json" > "$BATS_TEST_TMPDIR/state"
  cp "$BATS_TEST_TMPDIR/state" "$CTR_ROOT/containers/$id/state.json"
  ctr-image rm gone:1 >/dev/null
  reject_scope docker.io/library/gone
  run --separate-stderr ctr-run start -a "$id"
  [ "$status" = 125 ]
  [ "$stderr" = "ctr-run: start $id: gone:1: rejected by policy: Running image docker://gone:1 is rejected by policy." ]
}

@test "a state.json whose trust_names judge nothing refuses the start" {
  own_store
  id=$(ctr-run create busybox echo hi)
  accept_all
  for bad in '[]' '[1]' '"busybox"'; do
    jq --argjson b "$bad" '.trust_names = $b' "$CTR_ROOT/containers/$id/state.json" > "$BATS_TEST_TMPDIR/state"
    cp "$BATS_TEST_TMPDIR/state" "$CTR_ROOT/containers/$id/state.json"
    run --separate-stderr ctr-run start -a "$id"
    [ "$status" = 125 ]
    [ "$stderr" = "ctr-run: start $id: busybox: rejected by policy: no image name recorded to judge" ]
  done
}
