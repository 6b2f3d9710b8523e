#!/usr/bin/env bats
# ctr-init, the init of `ctr-run --init`: run here as pid 1 of a fresh pid
# namespace (unshare -p -f --mount-proc), with busybox and the probe as
# the command. It must pass on signals, reap orphans and hand back the
# command's exit status. (`ctr-run --init` itself is tested in run.bats.)

load helpers/common

setup_file() {
  local build=${CTR_BUILD:-$TESTS_DIR/../build}
  export CTR_INIT="$build/bin/ctr-init" CTR_PROBE="$build/probe/ctr-probe"
}

setup() {
  [ -x "$CTR_INIT" ] || skip "requires $CTR_INIT (make)"
  requires unshare busybox
  UNSHARE_PID=""
}

teardown() {
  # a test that failed half-way: killing pid 1 ends its whole namespace
  # (unshare then reaps it and exits; killing unshare too would leave
  # ctr-init a zombie of the machine's init)
  if [ -n "$UNSHARE_PID" ] && kill -0 "$UNSHARE_PID" 2>/dev/null; then
    local pid
    pid=$(init_pid) || pid=""
    kill -KILL "${pid:-$UNSHARE_PID}" 2>/dev/null || true
    wait "$UNSHARE_PID" 2>/dev/null || true
  fi
}

as_pid1() { # ctr-init ARGS… as pid 1 of a new pid namespace
  unshare -p -f --mount-proc "$CTR_INIT" "$@"
}

init_pid() { # ctr-init's pid as seen from here: the unshare's only child
  local kids
  kids=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null) || return 1
  echo $kids
}

# start_init ARGS…: ctr-init ARGS… as pid 1, in the background, output to
# $OUT; returns once the command has printed "ready".
start_init() {
  OUT="$BATS_TEST_TMPDIR/out"
  # unshare itself, not a function (that would be a subshell in between)
  unshare -p -f --mount-proc "$CTR_INIT" "$@" >"$OUT" 2>&1 3>&- &
  UNSHARE_PID=$!
  for _ in $(seq 100); do
    grep -qx ready "$OUT" && [ -n "$(init_pid)" ] && return 0
    sleep 0.05
  done
  fail "the command never got ready: $(cat "$OUT")"
}

# wait_init: the exit status of the ctr-init started by start_init.
wait_init() {
  local rc=0
  wait "$UNSHARE_PID" || rc=$?
  UNSHARE_PID=""
  return "$rc"
}

@test "--version and --help print and exit 0; bad usage exits 2" {
  run "$CTR_INIT" --version
  assert_success
  assert_output --regexp '^ctr-init version [0-9]+\.[0-9]+'
  run "$CTR_INIT" --help
  assert_success
  assert_line --index 0 'Usage: ctr-init [--] COMMAND [ARG...]'
  run --separate-stderr "$CTR_INIT"
  [ "$status" -eq 2 ]
  [[ "$stderr" == "ctr-init: no command given"* ]]
  run --separate-stderr "$CTR_INIT" --bogus
  [ "$status" -eq 2 ]
  [[ "$stderr" == "ctr-init: invalid option --bogus"* ]]
  run --separate-stderr "$CTR_INIT" --
  [ "$status" -eq 2 ]
}

@test "the command runs with its arguments, stdin and stdout; -- ends options" {
  run as_pid1 busybox sh -c 'echo "pid $$: $*"; cat' x a "b c" <<<"from stdin"
  assert_success
  assert_line --index 0 "pid 2: a b c"
  assert_line --index 1 "from stdin"
  run as_pid1 -- busybox echo --version
  assert_success
  assert_output --version
}

@test "exit status: the command's code, or 128+signal" {
  run as_pid1 busybox sh -c 'exit 3'
  assert_failure 3
  run as_pid1 busybox sh -c 'kill -9 $$'
  assert_failure 137
  run as_pid1 busybox true
  assert_success
}

@test "exec failure: 127 when not found, 126 when not executable" {
  run -127 --separate-stderr as_pid1 /no/such/cmd
  [ "$stderr" = "ctr-init: exec /no/such/cmd: No such file or directory" ]
  run -127 --separate-stderr as_pid1 no-such-command-in-path
  [ "$stderr" = "ctr-init: exec no-such-command-in-path: No such file or directory" ]
  printf 'not a program\n' >"$BATS_TEST_TMPDIR/data"
  chmod 0644 "$BATS_TEST_TMPDIR/data"
  run --separate-stderr as_pid1 "$BATS_TEST_TMPDIR/data"
  [ "$status" -eq 126 ]
  [ "$stderr" = "ctr-init: exec $BATS_TEST_TMPDIR/data: Permission denied" ]
  run as_pid1 "$BATS_TEST_TMPDIR"
  [ "$status" -eq 126 ]
}

@test "orphaned zombies are reaped (the probe alone as pid 1 leaves them)" {
  [ -x "$CTR_PROBE" ] || skip "requires $CTR_PROBE (make)"
  # control: without an init nobody reaps them
  run unshare -p -f --mount-proc "$CTR_PROBE" zombies 5
  assert_success
  assert_line --index 3 "zombies 5"
  run as_pid1 "$CTR_PROBE" zombies 5
  assert_success
  assert_line --index 0 ready
  assert_line --index 1 "zombies 0"
  assert_line --index 3 "zombies 0"
}

@test "signals sent to ctr-init reach the command, one by one" {
  [ -x "$CTR_PROBE" ] || skip "requires $CTR_PROBE (make)"
  start_init "$CTR_PROBE" pause
  local pid
  pid=$(init_pid)
  kill -USR1 "$pid"
  kill -WINCH "$pid"
  kill -HUP "$pid"
  kill -s RTMIN+2 "$pid"
  sleep 0.3
  kill -TERM "$pid"
  wait_init
  run cat "$OUT"
  assert_line --index 0 ready
  assert_line "signal 10"
  assert_line "signal 28"
  assert_line "signal 1"
  assert_line "signal $(($(kill -l RTMIN) + 2))"
  assert_line --index 5 "signal 15"
}

@test "a forwarded SIGTERM ends a command that does not catch it: 143" {
  start_init busybox sh -c 'echo ready; exec busybox sleep 100'
  kill -TERM "$(init_pid)"
  local rc=0
  wait_init || rc=$?
  [ "$rc" -eq 143 ] || fail "exit $rc, expected 143: $(cat "$OUT")"
}

@test "the command starts with no signal blocked or ignored" {
  # ctr-init blocks everything itself; an ignored SIGUSR1 is inherited
  run bash -c 'trap "" USR1; exec unshare -p -f --mount-proc "$0" busybox grep -E "^Sig(Blk|Ign)" /proc/self/status' "$CTR_INIT"
  assert_success
  assert_line --regexp '^SigBlk:[[:space:]]+0+$'
  assert_line --regexp '^SigIgn:[[:space:]]+0+$'
}

@test "on a terminal the command is the foreground process group" {
  [ -x "$CTR_PROBE" ] || skip "requires $CTR_PROBE (make)"
  requires script
  run bash -c 'echo typed | timeout 20 script -qec "$0 $1 tty" /dev/null' "$CTR_INIT" "$CTR_PROBE"
  assert_success
  assert_output --partial '"foreground":true'
  assert_output --partial '{"line":"typed"}'
  # and in its own group: the probe's pgid is its own pid, not ctr-init's
  run as_pid1 busybox sh -c 'cut -d" " -f5 /proc/self/stat; echo $$'
  assert_success
  assert_line --index 0 "$(sed -n 2p <<<"$output")"
}
