#!/usr/bin/env bats
# ctr-monitor: the small static process behind each detached container.
# ctr-run -d starts the container, then becomes ctr-monitor; when the
# container ends, ctr-monitor runs `ctr-run _monitor-exit`, which records
# the end and restarts it (same process) or finishes.

load helpers/common

setup_file() {
  setup_probe_store
}

setup() {
  use_file_store
}

teardown() {
  remove_containers
}

running() { # the running file's field $2 of container $1
  jq -r ".$2" "$CTR_RUNDIR/containers/$1.json"
}

# wait until the running file of $1 says status $2 (up to 10 s)
await_status() {
  for _ in $(seq 100); do
    [ "$(jq -r .status "$CTR_RUNDIR/containers/$1.json" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 never became $2"
}

@test "the container's parent is ctr-monitor, a static program mapping no shared library" {
  id=$(ctr-run -d probe /probe sleep 100)
  await_status "$id" running
  pid=$(running "$id" pid)
  mon=$(running "$id" monitor_pid)
  [ "$(awk '/^PPid:/ {print $2}' /proc/"$pid"/status)" = "$mon" ]
  [ "$(cat /proc/"$mon"/comm)" = ctr-monitor ]
  run grep -c '\.so' /proc/"$mon"/maps
  assert_output 0
  # it holds the log and the output pipes, nothing of the caller's
  [ "$(readlink /proc/"$mon"/fd/3)" = "$CTR_ROOT/containers/$id/log" ]
  [[ "$(readlink /proc/"$mon"/fd/4)" == pipe:* ]]
  [[ "$(readlink /proc/"$mon"/fd/5)" == pipe:* ]]
  [ "$(readlink /proc/"$mon"/fd/0)" = /dev/null ]
  [ "$(readlink /proc/"$mon"/cwd)" = / ]
  # nothing else is open in it
  run ls /proc/"$mon"/fd
  assert_output "$(printf '0\n1\n2\n3\n4\n5\n6')" # 6: its signalfd
  [ "$(readlink /proc/"$mon"/fd/6)" = "anon_inode:[signalfd]" ]
  ctr-stop -t 1 "$id"
  [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ]
  [ ! -e "$CTR_RUNDIR/containers/$id.json" ]
  for _ in $(seq 50); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$mon" 2>/dev/null
}

@test "with -t the monitor reads the pty master, and logs what the container printed" {
  id=$(ctr-run -d -t probe sh -c 'echo on-the-tty; sleep 100')
  await_status "$id" running
  mon=$(running "$id" monitor_pid)
  [ "$(readlink /proc/"$mon"/fd/4)" = /dev/pts/ptmx ]
  [[ "$(readlink /proc/"$mon"/fd/5)" != pipe:* ]]
  for _ in $(seq 50); do ctr-logs "$id" | grep -q on-the-tty && break; sleep 0.1; done
  run ctr-logs "$id"
  assert_output --partial on-the-tty
}

@test "restarts keep the same monitor process; each run is logged and counted" {
  id=$(ctr-run -d --restart on-failure:3 probe sh -c 'echo run; sleep 0.3; exit 4')
  await_status "$id" running
  mon=$(running "$id" monitor_pid)
  first=$(running "$id" pid)
  for _ in $(seq 100); do
    [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ] && break
    # while it runs again, the same monitor is its parent
    # one read of the running file: it is replaced as the runs go
    now=$(jq -r '"\(.status) \(.pid) \(.monitor_pid)"' "$CTR_RUNDIR/containers/$id.json" 2>/dev/null || true)
    if [ "${now%% *}" = running ] && [ "$(echo "$now" | cut -d' ' -f2)" != "$first" ]; then
      [ "${now##* }" = "$mon" ]
      saw_restart=1
    fi
    sleep 0.05
  done
  [ "${saw_restart:-}" = 1 ]
  run jq -c '[.status, .exit_code, .restart_count]' "$CTR_ROOT/containers/$id/state.json"
  assert_output '["exited",4,3]'
  [ "$(ctr-logs "$id" | grep -c '^run$')" = 4 ]
  for _ in $(seq 50); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$mon" 2>/dev/null
}

@test "log records: quotes, backslashes, control bytes and tabs come back byte for byte" {
  id=$(ctr-run -d probe sh -c 'printf "a\"b\\\\c\ttab\001\033[1mbold\r\n"; printf "no newline"')
  for _ in $(seq 100); do
    [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ] && break
    sleep 0.05
  done
  ctr-logs "$id" > "$BATS_TEST_TMPDIR/got"
  printf 'a"b\\c\ttab\001\033[1mbold\r\nno newline' > "$BATS_TEST_TMPDIR/want"
  cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
  # and every line of the log is one JSON object docker's reader would take
  run jq -c 'keys' "$CTR_ROOT/containers/$id/log"
  assert_success
  assert_line '["log","stream","time"]'
}

@test "ctr-monitor missing: ctr-run -d fails with 125 and one line, and leaves no mount or cgroup" {
  dir="$BATS_TEST_TMPDIR/bin"
  mkdir "$dir"
  for t in ctr-run ctr-image ctr-init; do cp "$CTR_BUILD/bin/$t" "$dir/"; done
  CTR_SECCOMP_PROFILE="$TESTS_DIR/../share/seccomp/default.json" run "$dir/ctr-run" -d --name nomon probe /probe sleep 100
  [ "$status" -eq 125 ]
  assert_output "ctr-run: ctr-monitor is not installed beside ctr-run: No such file or directory"
  id=$(jq -r .id "$CTR_ROOT"/containers/*/state.json | head -1)
  ! grep -q "$CTR_ROOT/containers/$id/rootfs" /proc/self/mountinfo || fail "its rootfs is still mounted"
  [ ! -e /sys/fs/cgroup/memory/ctr/"$id" ]
  [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ]
}

@test "ctr-monitor by hand: bad usage and missing descriptors exit 2 with a message" {
  # the binary itself, as ctr-run execs it: a wrapper (valgrind) would
  # hold descriptors of its own
  mon="${CTR_BUILD:-$TESTS_DIR/../build}/bin/ctr-monitor"
  run "$mon"
  [ "$status" -eq 2 ]
  assert_output --partial "Usage: ctr-monitor"
  run "$mon" --root /nonexistent --rundir /nonexistent --pid 1 abc 3<&- 4<&-
  [ "$status" -eq 2 ]
  assert_output "ctr-monitor: descriptors 3 (log) and 4 (output) must be open"
  run "$mon" --help
  assert_success
}

@test "_monitor-exit refuses bad numbers and unknown containers without touching anything" {
  before=$(store_listing)
  run ctr-run _monitor-exit --status x abc
  [ "$status" -ne 0 ]
  assert_output "ctr-run: _monitor-exit: bad number x"
  run ctr-run _monitor-exit --status 0 nosuchcontainer
  [ "$status" -ne 0 ]
  assert_output --partial "nosuchcontainer"
  [ "$(store_listing)" = "$before" ]
}
