# Shared by every tests/*.bats: `load helpers/common` in each file.
# The tools under test are on PATH (tests/run-all.sh puts wrappers there,
# which add CTR_TEST_WRAPPER such as valgrind in front of the real binary).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TESTS_DIR=$(cd "$BATS_TEST_DIRNAME" && pwd)
export TESTS_DIR
# Containers join no network unless a test asks (ctr-run's default is the
# bridge network, which lives in the caller's network namespace: the
# machine's own, here). tests/run-net.bats clears it inside its "hosts".
export CTR_DEFAULT_NETWORK=none
if ! command -v ctr-image >/dev/null 2>&1; then
  PATH="$TESTS_DIR/../build/bin:$PATH"
fi

# A private store for one test; removed by bats with BATS_TEST_TMPDIR.
setup_store() {
  export CTR_ROOT="$BATS_TEST_TMPDIR/root"
  export CTR_RUNDIR="$BATS_TEST_TMPDIR/run"
}

# The store the tests of one file share (setup_file, and again in setup:
# bats runs them in separate processes).
use_file_store() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
}

# setup_file of the container suites: the file's store, with probe:latest
# (tests/helpers/probe-image.sh) in it.
setup_probe_store() {
  use_file_store
  export CTR_PROBE="${CTR_BUILD:-$TESTS_DIR/../build}/probe/ctr-probe"
  bash "$TESTS_DIR/helpers/probe-image.sh" "$CTR_PROBE" >/dev/null
}

# teardown of the container suites: whatever containers a test left, by
# ctr-rm -f, and by hand should that fail.
remove_containers() {
  local id
  for id in $(ls "$CTR_ROOT/containers" 2>/dev/null); do
    ctr-rm -f "$id" >/dev/null 2>&1 || true
    umount -l "$CTR_ROOT/containers/$id/rootfs" 2>/dev/null || true
    rm -rf "$CTR_ROOT/containers/$id" "$CTR_RUNDIR/containers/$id".*
  done
}

# Skip, naming what is missing (runc's `requires`).
requires() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "requires $c"
  done
}

# Every path in the store with type, mode, owner, size and a content hash:
# two listings are equal when the store is byte-for-byte the same.
store_listing() {
  local root=${1:-$CTR_ROOT}
  (cd "$root" && find . -printf '%p %y %m %U:%G %s\n' | LC_ALL=C sort) 
  (cd "$root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# The base image, once per test (it is fast and reproducible).
import_busybox() {
  run ctr-image import --from-host busybox
  assert_success
}

# Manifest digest of a stored name, straight from index.json.
index_digest() {
  jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
    "$CTR_ROOT/images/index.json"
}

# Read a blob of the store by digest.
blob() {
  cat "$CTR_ROOT/images/blobs/sha256/${1#sha256:}"
}

# After `run --separate-stderr`: exit STATUS, exactly one line on stderr,
# "TOOL: " first, and every WORD in it (case-insensitive). Each suite
# wraps it as its own assert_error for the tool it tests.
assert_tool_error() {
  local tool=$1 want=$2 w
  shift 2
  [ "$status" -eq "$want" ] || fail "exit $status, expected $want; stderr: $stderr"
  [ "${#stderr_lines[@]}" -eq 1 ] || fail "stderr is not one line: $stderr"
  [[ "$stderr" == "$tool: "?* ]] || fail "stderr lacks the $tool: prefix: $stderr"
  for w in "$@"; do
    [[ "${stderr,,}" == *"${w,,}"* ]] || fail "stderr lacks '$w': $stderr"
  done
}
