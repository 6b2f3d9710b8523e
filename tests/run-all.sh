#!/bin/bash
# Runs every test: C unit tests, bats suites, short fuzz runs. Each prints
# TAP; this script counts them and ends with "tests: N passed, N failed".
# Usage: tests/run-all.sh BUILD_DIR   (CTR_TEST_WRAPPER, e.g. valgrind,
# goes in front of every tool the bats tests run.)
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" && pwd)

missing=()
for c in bats jq python3 skopeo umoci busybox zstd; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[ -f /usr/lib/bats/bats-assert/load.bash ] || missing+=(bats-assert)
[ -f /usr/lib/bats/bats-support/load.bash ] || missing+=(bats-support)
if [ ${#missing[@]} -gt 0 ]; then
  echo "make check: missing ${missing[*]}; run 'make deps' (as root) first" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

WRAP=$(mktemp -d /tmp/ctr-tests-bin.XXXXXX)
trap 'rm -rf "$WRAP"' EXIT
for t in "$BUILD"/bin/ctr-*; do
  [ -x "$t" ] || continue
  case "$t" in *.o) continue ;; esac
  name=$(basename "$t")
  printf '#!/bin/sh\nexec %s %s "$@"\n' "${CTR_TEST_WRAPPER:-}" "$t" > "$WRAP/$name"
  chmod +x "$WRAP/$name"
done
export PATH="$WRAP:$PATH"
export CTR_BUILD="$BUILD"

LOG=$(mktemp /tmp/ctr-tests-log.XXXXXX)
pass=0
fail=0
count() {
  local p f
  p=$(grep -cE '^ok ' "$LOG" || true)
  f=$(grep -cE '^not ok ' "$LOG" || true)
  pass=$((pass + p))
  fail=$((fail + f))
}

# C unit tests
for u in "$BUILD"/tests/*; do
  [ -f "$u" ] && [ -x "$u" ] || continue
  echo "# unit: $(basename "$u")"
  "$u" tests > "$LOG" 2>&1
  rc=$?
  cat "$LOG"
  count
  if [ $rc -ne 0 ] && ! grep -q '^not ok' "$LOG"; then
    echo "not ok - $(basename "$u") exited $rc"
    fail=$((fail + 1))
  fi
done

# bats suites
for b in tests/*.bats; do
  [ -f "$b" ] || continue
  echo "# bats: $b"
  bats --tap "$b" > "$LOG" 2>&1
  rc=$?
  cat "$LOG"
  count
  if [ $rc -ne 0 ] && ! grep -q '^not ok' "$LOG"; then
    echo "not ok - $b exited $rc"
    fail=$((fail + 1))
  fi
done

# Short fuzz runs (the long ones are `make fuzz`): each target replays its
# seed corpus and mutates for 8 s, so 13 targets stay under two minutes of
# a suite that must finish in 20.
FUZZ_CHECK_SECONDS=${FUZZ_CHECK_SECONDS:-8}
if [ "${CTR_SKIP_FUZZ:-0}" != 1 ]; then
  if make -s fuzz-build > "$LOG" 2>&1; then
    for f in build-fuzz/fuzz/fuzz_*; do
      [ -x "$f" ] || continue
      n=$(basename "$f")
      corpus=$(mktemp -d /tmp/ctr-fuzz.XXXXXX)
      if "$f" -max_total_time="$FUZZ_CHECK_SECONDS" -rss_limit_mb=2048 "$corpus" "tests/fuzz/corpus/$n" > "$LOG" 2>&1; then
        echo "ok - fuzz $n (${FUZZ_CHECK_SECONDS}s)"
        pass=$((pass + 1))
      else
        tail -40 "$LOG"
        echo "not ok - fuzz $n"
        fail=$((fail + 1))
      fi
      rm -rf "$corpus"
    done
  else
    cat "$LOG"
    echo "not ok - fuzz targets build"
    fail=$((fail + 1))
  fi
fi
rm -f "$LOG"

echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
