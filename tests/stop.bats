#!/usr/bin/env bats
# ctr-stop, ctr-kill, ctr-rm: the end of a container's life, with docker's
# semantics. Containers run in the foreground as background jobs (ctr-run
# is then their monitor) with their output in a file, so a test sees which
# signals the probe received; -d is used where its monitor matters.

load helpers/common

setup_file() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
  export CTR_PROBE="${CTR_BUILD:-$TESTS_DIR/../build}/probe/ctr-probe"
  bash "$TESTS_DIR/helpers/probe-image.sh" "$CTR_PROBE" >/dev/null
}

setup() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
  BG_PIDS=()
}

teardown() {
  # whatever a failed test left: its containers, their processes and ctr-runs
  local id d pid
  for id in $(ls "$CTR_ROOT/containers" 2>/dev/null); do
    ctr-rm -f "$id" >/dev/null 2>&1 || true
    # should ctr-rm itself be what failed: by hand, from the cgroup
    for d in /sys/fs/cgroup/*/ctr/"$id" /sys/fs/cgroup/ctr/"$id"; do
      [ -d "$d" ] || continue
      for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    done
    for d in /sys/fs/cgroup/*/ctr/"$id" /sys/fs/cgroup/ctr/"$id"; do
      for _ in $(seq 50); do [ ! -d "$d" ] || rmdir "$d" 2>/dev/null && break; sleep 0.1; done
    done
    umount -l "$CTR_ROOT/containers/$id/rootfs" 2>/dev/null || true
    rm -rf "$CTR_ROOT/containers/$id" "$CTR_RUNDIR/containers/$id".*
  done
  for pid in "${BG_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# start NAME SUBCOMMAND… : the probe in a foreground ctr-run, as a
# background job; its output in $BATS_TEST_TMPDIR/NAME.out, its pid in
# $RUN_PID. Returns once the probe printed "ready". Options for ctr-run
# go in $RUN_OPTS.
start() {
  local name=$1
  shift
  # 3>&-: bats waits for every holder of its fd 3
  ctr-run --name "$name" ${RUN_OPTS:-} probe /probe "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 3>&- &
  RUN_PID=$!
  BG_PIDS+=("$RUN_PID")
  for _ in $(seq 200); do
    grep -qx ready "$BATS_TEST_TMPDIR/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "$name never got ready: $(cat "$BATS_TEST_TMPDIR/$name.out")"
}

cid() { # id of the container named $1
  jq -r --arg n "$1" 'select(.name == $n) | .id' "$CTR_ROOT"/containers/*/state.json 2>/dev/null
}

state() { # state.json field $2 of container id $1
  jq -r ".$2" "$CTR_ROOT/containers/$1/state.json"
}

ms() { date +%s%3N; }

# Nothing of container id $1 is left: mount, cgroups, running file.
no_traces() {
  ! grep -q "$CTR_ROOT/containers/$1" /proc/self/mountinfo
  [ -z "$(ls -d /sys/fs/cgroup/*/ctr/"$1" /sys/fs/cgroup/ctr/"$1" 2>/dev/null)" ]
  [ ! -e "$CTR_RUNDIR/containers/$1.json" ]
  [ ! -e "$CTR_RUNDIR/containers/$1.stop" ]
}

# The container's process: pid $1 must be gone (not even a zombie of ours).
gone() {
  for _ in $(seq 100); do
    [ -e "/proc/$1" ] || return 0
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.05
  done
  return 1
}

@test "--help and --version exit 0; bad usage exits 2 with one line" {
  for t in ctr-stop ctr-kill ctr-rm; do
    run "$t" --help
    assert_success
    assert_line --partial "Usage: $t"
    run "$t" --version
    assert_success
    assert_line --index 0 --partial "$t version"
    run --separate-stderr "$t"
    assert_failure 2
    [ "$stderr" = "$t: requires at least 1 CONTAINER (see --help)" ]
    run --separate-stderr "$t" --frobnicate x
    assert_failure 2
    [[ "$stderr" == "$t: invalid option"* ]]
  done
  run --separate-stderr ctr-stop -t soon x
  assert_failure 2
  [ "$stderr" = "ctr-stop: invalid timeout 'soon': want whole seconds, or -1" ]
  run ctr-stop -t -5 x
  assert_failure 2
  run --separate-stderr ctr-kill -s NOSUCH x
  assert_failure 2
  [ "$stderr" = "ctr-kill: invalid signal: NOSUCH" ]
  run ctr-kill -s 0 x
  assert_failure 2
  run ctr-stop -s 65 x
  assert_failure 2
  run ctr-stop -t
  assert_failure 2
}

@test "unknown container: exit 1, docker's message, the others still handled" {
  for t in ctr-stop ctr-kill ctr-rm; do
    run --separate-stderr "$t" nosuchcontainer
    assert_failure 1
    [ "$stderr" = "$t: no such container: nosuchcontainer" ]
  done
  start known pause
  run --separate-stderr ctr-stop nosuch known
  assert_failure 1
  [ "$output" = known ]
  [ "$stderr" = "ctr-stop: no such container: nosuch" ]
  wait "$RUN_PID"
}

@test "stop: SIGTERM reaches the process, which ends at once; recorded as exited" {
  start st pause
  id=$(cid st)
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  t0=$(ms)
  run ctr-stop st
  t1=$(ms)
  assert_success
  assert_output st
  # well inside the default 10 s grace period: the signal was handled
  [ $((t1 - t0)) -lt 8000 ]
  rc=0
  wait "$RUN_PID" || rc=$?
  [ "$rc" = 0 ]
  run cat "$BATS_TEST_TMPDIR/st.out"
  assert_line "signal 15"
  [ "$(state "$id" status)" = exited ]
  [ "$(state "$id" exit_code)" = 0 ]
  gone "$pid"
  no_traces "$id"
  # stopping a stopped container succeeds and changes nothing
  before=$(cat "$CTR_ROOT/containers/$id/state.json")
  run ctr-stop st
  assert_success
  assert_output st
  [ "$(cat "$CTR_ROOT/containers/$id/state.json")" = "$before" ]
  run ctr-rm st
  assert_success
  assert_output st
  [ ! -e "$CTR_ROOT/containers/$id" ]
}

@test "stop: the --stop-signal and --stop-timeout given at create are used" {
  RUN_OPTS="--stop-signal SIGUSR1 --stop-timeout 1" start sig pause
  id=$(cid sig)
  t0=$(ms)
  run ctr-stop sig
  t1=$(ms)
  assert_success
  echo "stop took $((t1 - t0)) ms" >&3
  rc=0
  wait "$RUN_PID" || rc=$?
  # USR1 does not end pause: after the 1 s timeout it was killed
  [ "$rc" = 137 ]
  run cat "$BATS_TEST_TMPDIR/sig.out"
  assert_line "signal 10"
  refute_line "signal 15"
  [ "$(state "$id" exit_code)" = 137 ]
  [ $((t1 - t0)) -ge 900 ]
  no_traces "$id"
  ctr-rm sig
}

@test "stop -t 1: a process ignoring SIGTERM is killed after the timeout (137)" {
  start stubborn ignore-term
  id=$(cid stubborn)
  t0=$(ms)
  run ctr-stop -t 1 stubborn
  t1=$(ms)
  assert_success
  assert_output stubborn
  echo "stop -t 1 took $((t1 - t0)) ms" >&3
  [ $((t1 - t0)) -ge 900 ]
  [ $((t1 - t0)) -lt 5000 ]
  rc=0
  wait "$RUN_PID" || rc=$?
  [ "$rc" = 137 ]
  [ "$(state "$id" status)" = exited ]
  [ "$(state "$id" exit_code)" = 137 ]
  no_traces "$id"
  # -s overrides the stop signal: KILL needs no timeout
  start stubborn2 ignore-term
  run ctr-stop -s KILL -t 30 stubborn2
  assert_success
  wait "$RUN_PID" || true
  [ "$(state "$(cid stubborn2)" exit_code)" = 137 ]
  ctr-rm stubborn stubborn2
}

@test "stop: several containers at once take one timeout, not one each" {
  names=(p1 p2 p3 p4 p5)
  for n in "${names[@]}"; do start "$n" ignore-term; done
  t0=$(ms)
  run ctr-stop -t 2 "${names[@]}"
  t1=$(ms)
  assert_success
  echo "5 x stop -t 2 took $((t1 - t0)) ms" >&3
  # one after the other would take 10 s
  [ $((t1 - t0)) -lt 8000 ]
  # printed in the order given
  [ "$output" = "$(printf '%s\n' "${names[@]}")" ]
  for n in "${names[@]}"; do
    [ "$(state "$(cid "$n")" exit_code)" = 137 ]
    no_traces "$(cid "$n")"
  done
  run ctr-rm "${names[@]}"
  assert_success
  [ -z "$(ls "$CTR_ROOT/containers")" ]
}

@test "stop by id prefix; a --rm container is gone once stopped" {
  RUN_OPTS=--rm start gone pause
  id=$(cid gone)
  run ctr-stop "${id:0:12}"
  assert_success
  assert_output "${id:0:12}"
  wait "$RUN_PID"
  [ ! -e "$CTR_ROOT/containers/$id" ]
  no_traces "$id"
  # rm -f of a running --rm container: its monitor and ctr-rm both remove it
  RUN_OPTS=--rm start gone2 pause
  id=$(cid gone2)
  run ctr-rm -f gone2
  assert_success
  assert_output gone2
  wait "$RUN_PID" || true
  [ ! -e "$CTR_ROOT/containers/$id" ]
  no_traces "$id"
}

@test "kill -s: the signal reaches the process, which keeps running" {
  start kk pause
  id=$(cid kk)
  run ctr-kill -s USR1 kk
  assert_success
  assert_output kk
  run ctr-kill --signal sigusr2 kk
  assert_success
  run ctr-kill -s 1 kk
  assert_success
  for _ in $(seq 100); do grep -qx "signal 1" "$BATS_TEST_TMPDIR/kk.out" && break; sleep 0.05; done
  run cat "$BATS_TEST_TMPDIR/kk.out"
  assert_line "signal 10"
  assert_line "signal 12"
  assert_line "signal 1"
  [ "$(jq -r .status "$CTR_RUNDIR/containers/$id.json")" = running ]
  kill -0 "$RUN_PID"
  # the default is KILL, and ctr-kill returns once the end is recorded
  run ctr-kill kk
  assert_success
  assert_output kk
  [ "$(state "$id" status)" = exited ]
  [ "$(state "$id" exit_code)" = 137 ]
  rc=0
  wait "$RUN_PID" || rc=$?
  [ "$rc" = 137 ]
  no_traces "$id"
  # a stopped container cannot be killed
  run --separate-stderr ctr-kill kk
  assert_failure 1
  [ "$stderr" = "ctr-kill: container kk is not running" ]
  ctr-rm kk
}

@test "rm: a running container is refused and left alone; -f kills and removes it" {
  start busy pause
  id=$(cid busy)
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  before=$(cat "$CTR_ROOT/containers/$id/state.json")
  run --separate-stderr ctr-rm busy
  assert_failure 1
  [ "$stderr" = "ctr-rm: cannot remove a running container busy: stop it first or use -f" ]
  [ "$(cat "$CTR_ROOT/containers/$id/state.json")" = "$before" ]
  [ "$(jq -r .status "$CTR_RUNDIR/containers/$id.json")" = running ]
  kill -0 "$pid"
  grep -q "$CTR_ROOT/containers/$id/rootfs" /proc/self/mountinfo
  run ctr-rm -f busy
  assert_success
  assert_output busy
  rc=0
  wait "$RUN_PID" || rc=$?
  [ "$rc" = 137 ]
  gone "$pid"
  [ ! -e "$CTR_ROOT/containers/$id" ]
  no_traces "$id"
  # -f is SIGKILL straight away, no stop signal first
  run cat "$BATS_TEST_TMPDIR/busy.out"
  refute_line "signal 15"
}

@test "rm: created and exited containers go, with their mounts; several at once" {
  run ctr-run create --name made probe /probe pause
  assert_success
  made=$output
  run ctr-run --name ran probe /probe exit 3
  assert_failure 3
  ran=$(cid ran)
  run ctr-rm "$made" ran
  assert_success
  assert_line --index 0 "$made"
  assert_line --index 1 ran
  for id in "$made" "$ran"; do
    [ ! -e "$CTR_ROOT/containers/$id" ]
    no_traces "$id"
  done
  run ctr-rm ran
  assert_failure 1
}

@test "rm -v removes the anonymous volumes state.json lists; named ones stay" {
  run ctr-run create --name vols -v keep:/data -v /anon1 -v /anon2 probe /probe pause
  assert_success
  id=$output
  mapfile -t anon < <(jq -r '.anonymous_volumes[]' "$CTR_ROOT/containers/$id/state.json")
  [ "${#anon[@]}" -eq 2 ]
  [ -d "$CTR_ROOT/volumes/${anon[0]}/_data" ] && [ -d "$CTR_ROOT/volumes/${anon[1]}/_data" ]
  run ctr-rm -v vols
  assert_success
  [ ! -e "$CTR_ROOT/volumes/${anon[0]}" ]
  [ ! -e "$CTR_ROOT/volumes/${anon[1]}" ]
  [ -d "$CTR_ROOT/volumes/keep" ]
  # without -v anonymous volumes stay too
  run ctr-run create --name vols2 -v /anon3 probe /probe pause
  id=$output
  anon3=$(jq -r '.anonymous_volumes[0]' "$CTR_ROOT/containers/$id/state.json")
  run ctr-rm vols2
  assert_success
  [ -d "$CTR_ROOT/volumes/$anon3/_data" ]
  rm -rf "$CTR_ROOT/volumes"
}

@test "monitor killed with -9: ctr-stop does its job (cgroup, mount, state)" {
  start orphan pause
  id=$(cid orphan)
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  kill -KILL "$RUN_PID"
  wait "$RUN_PID" || true
  # the container runs on without its monitor
  kill -0 "$pid"
  [ -n "$(ls -d /sys/fs/cgroup/*/ctr/"$id" 2>/dev/null)" ]
  run ctr-stop orphan
  assert_success
  assert_output orphan
  gone "$pid"
  [ "$(state "$id" status)" = exited ]
  no_traces "$id"
  run ctr-rm orphan
  assert_success
  [ ! -e "$CTR_ROOT/containers/$id" ]
}

@test "monitor killed with -9: ctr-rm refuses without -f, cleans up everything with it" {
  start orphan2 ignore-term
  id=$(cid orphan2)
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  kill -KILL "$RUN_PID"
  wait "$RUN_PID" || true
  run ctr-rm orphan2
  assert_failure 1
  kill -0 "$pid"
  run ctr-rm -f orphan2
  assert_success
  assert_output orphan2
  gone "$pid"
  [ ! -e "$CTR_ROOT/containers/$id" ]
  no_traces "$id"
}

@test "monitor and process both gone: rm cleans up what they left" {
  start lost pause
  id=$(cid lost)
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  kill -KILL "$RUN_PID"
  wait "$RUN_PID" || true
  kill -KILL "$pid"
  gone "$pid"
  # not running any more: no -f needed
  run ctr-rm lost
  assert_success
  [ ! -e "$CTR_ROOT/containers/$id" ]
  no_traces "$id"
}

@test "-d with --restart always: stop ends the restarts for good" {
  run ctr-run -d --name loop --restart always probe /probe exit 1
  assert_success
  id=$output
  sleep 0.5
  run ctr-stop loop
  assert_success
  assert_output loop
  [ "$(state "$id" status)" = exited ]
  count=$(state "$id" restart_count)
  sleep 1
  [ ! -e "$CTR_RUNDIR/containers/$id.json" ]
  [ "$(state "$id" restart_count)" = "$count" ]
  no_traces "$id"
  # a running one, stopped while it runs, is not restarted either
  run ctr-run -d --name loop2 --restart always probe /probe pause
  id2=$output
  run ctr-stop loop2
  assert_success
  sleep 0.5
  [ "$(state "$id2" status)" = exited ]
  [ "$(state "$id2" exit_code)" = 0 ]
  [ ! -e "$CTR_RUNDIR/containers/$id2.json" ]
  ctr-rm loop loop2
}
