#!/usr/bin/env bats
# The read side of a container's life: ctr-ps, ctr-inspect, ctr-logs.
# Containers are real (ctr-run create, foreground runs with known exit
# codes, foreground runs left in the background, detached runs); some
# logs and times are written by hand in the documented formats (state.h),
# where a test needs exact times or malformed lines.

load helpers/common

setup() {
  setup_store
  ctr-image import --from-host busybox >/dev/null
  PIDS="$BATS_TEST_TMPDIR/pids"
  : >"$PIDS"
}

# Everything a test started goes, then nothing of it may be left: no
# process, no mount, no cgroup.
teardown() {
  local f pid id d monitors=()
  for f in "$CTR_RUNDIR"/containers/*.json; do
    [ -f "$f" ] || continue
    monitors+=("$(jq -r '.monitor_pid // 0' "$f")")
    kill_same "$(jq -r '.pid // 0' "$f")" "$(jq -r '.pid_start // 0' "$f")"
  done
  # and whatever else is in a container's cgroup (a test may have
  # rewritten the running file before it failed)
  for d in "$CTR_ROOT"/containers/*/; do
    [ -d "$d" ] || continue
    for pid in $(cat /sys/fs/cgroup/*/ctr/"$(basename "$d")"/cgroup.procs 2>/dev/null | sort -u); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  # monitors end once their container has: give them time, then insist
  for pid in $(cat "$PIDS" 2>/dev/null) "${monitors[@]}"; do
    [ "$pid" -gt 0 ] 2>/dev/null || continue
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # what a killed monitor leaves behind
  for d in "$CTR_ROOT"/containers/*/; do
    [ -d "$d" ] || continue
    id=$(basename "$d")
    umount -l "$d/rootfs" 2>/dev/null || true
    for _ in $(seq 30); do
      rmdir /sys/fs/cgroup/*/ctr/"$id" 2>/dev/null || true
      [ -z "$(ls -d /sys/fs/cgroup/*/ctr/"$id" 2>/dev/null)" ] && break
      sleep 0.1 # killed processes leave their cgroup as they exit
    done
  done
  if grep -q " $BATS_TEST_TMPDIR/" /proc/self/mountinfo; then
    fail "mounts left: $(grep " $BATS_TEST_TMPDIR/" /proc/self/mountinfo)"
  fi
  for d in "$CTR_ROOT"/containers/*/; do
    [ -d "$d" ] || continue
    id=$(basename "$d")
    [ -z "$(ls -d /sys/fs/cgroup/*/ctr/"$id" 2>/dev/null)" ]
  done
}

alive() { # a process that exists and is not a zombie
  [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^[ZX]'
}

kill_same() { # PID START: kill -9 PID if it is still the process that started at START
  [ "$1" -gt 0 ] 2>/dev/null || return 0
  [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)" = "$2" ] || return 0
  kill -KILL "$1" 2>/dev/null || true
}

# run_bg NAME CMD…: a foreground ctr-run left running in the background
# (it is the container's monitor); returns once the container runs.
run_bg() {
  local name=$1
  shift
  ctr-run --name "$name" busybox "$@" >/dev/null 2>&1 3>&- &
  echo $! >>"$PIDS"
  wait_status "$name" running
}

wait_status() { # NAME STATUS: wait up to 10 s for ctr-inspect to say so
  for _ in $(seq 100); do
    [ "$(ctr-inspect "$1" 2>/dev/null | jq -r '.[0].status')" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 never got $2: $(ctr-inspect "$1" 2>&1)"
}

cid() { ctr-inspect "$1" | jq -r '.[0].id'; }
field() { jq -r ".$2" "$CTR_RUNDIR/containers/$1.json"; } # ID FIELD of the running file
iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.%NZ; }          # "2 hours ago" -> RFC 3339

# Rewrite state.json fields: set_state ID JQ-EXPRESSION
set_state() {
  local f="$CTR_ROOT/containers/$1/state.json"
  jq "$2" "$f" >"$f.new" && mv "$f.new" "$f"
}

# ---- ctr-ps --------------------------------------------------------------

@test "ps: --help, --version, and bad usage exit 2 with one line" {
  run ctr-ps --help
  assert_success
  assert_line --index 0 "Usage: ctr-ps [OPTIONS]"
  run ctr-ps --version
  assert_success
  assert_line --index 0 --regexp '^ctr-ps version [0-9]+\.[0-9]+'
  for bad in "--frobnicate" "-n x" "--last=" "--format yaml" "extra" "--filter" "--filter nokey" \
    "--filter color=red" "--filter status=sleeping" "--filter exited=x" "--filter label=" \
    "--filter name=(" "--filter before="; do
    run --separate-stderr ctr-ps $bad
    [ "$status" -eq 2 ] || fail "ctr-ps $bad: status $status"
    [ "${#lines[@]}" -eq 0 ]
    [[ "$stderr" == "ctr-ps: "* ]] && [ "$(wc -l <<<"$stderr")" -eq 1 ] || fail "ctr-ps $bad: $stderr"
  done
  run --separate-stderr ctr-ps --filter color=red
  [ "$stderr" = "ctr-ps: invalid filter 'color'" ]
  run --separate-stderr ctr-ps --filter status=sleeping
  [[ "$stderr" == "ctr-ps: invalid filter 'status=sleeping'"* ]]
  run --separate-stderr ctr-ps --filter before=nosuch
  assert_failure 1
  [ "$stderr" = "ctr-ps: no such container: nosuch" ]
}

@test "ps: an empty store lists a header only; json is []" {
  run ctr-ps -a
  assert_success
  assert_output --regexp '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
  run ctr-ps -aq
  assert_success
  assert_output ""
  run ctr-ps -a --format json
  assert_output "[]"
}

@test "ps: running only by default; -a adds created and exited, newest first, docker's columns" {
  ctr-run create --name made busybox true >/dev/null
  run ctr-run --name three busybox sh -c 'exit 3'
  assert_failure 3
  run ctr-run --name zero busybox true
  assert_success
  run_bg runner sleep 100
  run ctr-ps
  assert_success
  [ "${#lines[@]}" -eq 2 ]
  assert_line --index 1 --regexp "^$(cid runner | cut -c1-12) +busybox +\"sleep 100\" +(Less than a second|[0-9]+ seconds?) ago +Up (Less than a second|[0-9]+ seconds?) +runner$"
  run ctr-ps -a
  assert_success
  [ "${#lines[@]}" -eq 5 ]
  # newest first, as docker lists them
  [ "$(tail -n +2 <<<"$output" | awk '{print $NF}' | tr '\n' ' ')" = "runner zero three made " ]
  assert_line --index 2 --regexp '^[0-9a-f]{12} +busybox +"true" +.* ago +Exited \(0\) (Less than a second|[0-9]+ seconds?) ago +zero$'
  assert_line --index 3 --regexp '^[0-9a-f]{12} +busybox +"sh -c exit 3" +.* ago +Exited \(3\) .* ago +three$'
  assert_line --index 4 --regexp '^[0-9a-f]{12} +busybox +"true" +.* ago +Created +made$'
  # -q: the short ids, same order; --no-trunc: the full ones
  run ctr-ps -aq
  [ "$output" = "$(for n in runner zero three made; do cid $n | cut -c1-12; done)" ]
  run ctr-ps -aq --no-trunc
  [ "$output" = "$(for n in runner zero three made; do cid $n; done)" ]
  run ctr-ps -q
  [ "$output" = "$(cid runner | cut -c1-12)" ]
}

@test "ps: COMMAND is quoted and cut at 20 characters unless --no-trunc" {
  ctr-run create --name long busybox sh -c 'echo hello world, a long line' >/dev/null
  ctr-run create --name quote busybox echo 'say "hi"' >/dev/null
  run ctr-ps -a --filter name=long
  assert_output --partial '"sh -c echo hello wo…"'
  run ctr-ps -a --no-trunc --filter name=long
  assert_output --partial '"sh -c echo hello world, a long line"'
  assert_output --partial "$(cid long)"
  run ctr-ps -a --no-trunc --filter name=quote
  assert_output --partial '"echo say \"hi\""'
}

@test "ps: CREATED and STATUS as docker words them, from the recorded times" {
  ctr-run create --name old busybox true >/dev/null
  run ctr-run --name done busybox sh -c 'exit 7'
  old=$(cid old)
  done_id=$(cid done)
  set_state "$old" ".created = \"$(iso '3 hours ago')\""
  set_state "$done_id" ".created = \"$(iso '2 days ago')\" | .started = \"$(iso '50 hours ago')\" | .finished = \"$(iso '90 minutes ago')\""
  run ctr-ps -a
  assert_line --regexp '"true" +3 hours ago +Created +old$'
  assert_line --regexp '"sh -c exit 7" +2 days ago +Exited \(7\) 2 hours ago +done$'
  set_state "$done_id" ".finished = \"$(iso '61 seconds ago')\""
  run ctr-ps -a --filter name=done
  assert_line --regexp 'Exited \(7\) About a minute ago +done$'
}

@test "ps: -n N and -l show the last created, in any state" {
  for n in c1 c2 c3; do ctr-run create --name $n busybox true >/dev/null; done
  run ctr-run --name c4 busybox true
  run ctr-ps -n 2 -q
  [ "$output" = "$(for n in c4 c3; do cid $n | cut -c1-12; done)" ]
  run ctr-ps --last 3 --format json
  [ "$(jq -r '[.[].name] | join(" ")' <<<"$output")" = "c4 c3 c2" ]
  run ctr-ps -l -q
  [ "$output" = "$(cid c4 | cut -c1-12)" ]
  run ctr-ps --latest --filter name=c1
  assert_line --index 1 --partial c1
}

@test "ps: --format json is one array of the merged states, ids in full" {
  run_bg runner sleep 100
  ctr-run create --name made --label tier=web busybox true >/dev/null
  run ctr-ps -a --format json
  assert_success
  [ "$(jq length <<<"$output")" = 2 ]
  id=$(cid runner)
  # newest first
  [ "$(jq -r '.[1].id' <<<"$output")" = "$id" ]
  [ "$(jq -r '.[1].status' <<<"$output")" = running ]
  # the running file's pid and monitor, merged in
  [ "$(jq -r '.[1].pid' <<<"$output")" = "$(field "$id" pid)" ]
  [ "$(jq -r '.[1].monitor_pid' <<<"$output")" = "$(field "$id" monitor_pid)" ]
  [ "$(jq -r '.[0].id' <<<"$output")" = "$(cid made)" ]
  [ "$(jq -r '.[0].status' <<<"$output")" = created ]
  [ "$(jq -r '.[0].labels.tier' <<<"$output")" = web ]
  [ "$(jq -r '.[0].image' <<<"$output")" = busybox ]
  run ctr-ps --format json
  [ "$(jq -r '[.[].name] | join(" ")' <<<"$output")" = runner ]
}

@test "ps --filter: id, name, label, status, exited, with docker's and/or rules" {
  ctr-run create --name web-1 --label tier=web --label env=prod busybox true >/dev/null
  ctr-run create --name web-2 --label tier=web busybox true >/dev/null
  run ctr-run --name db --label tier=db busybox sh -c 'exit 2'
  run ctr-run --name job busybox true
  run_bg up sleep 100
  names() { ctr-ps "$@" --format json | jq -r '[.[].name] | sort | join(" ")'; }
  [ "$(names -a --filter name=web)" = "web-1 web-2" ]
  [ "$(names -a --filter 'name=^/db$')" = "db" ]
  [ "$(names -a --filter 'name=^web-1$')" = "web-1" ]
  [ "$(names -a --filter name=web-1 --filter name=job)" = "job web-1" ]
  [ "$(names -a --filter id="$(cid db | cut -c1-10)")" = "db" ]
  [ "$(names -a --filter label=tier)" = "db web-1 web-2" ]
  [ "$(names -a --filter label=tier=web)" = "web-1 web-2" ]
  [ "$(names -a --filter label=tier=web --filter label=env=prod)" = "web-1" ]
  [ "$(names -a --filter label=env=dev)" = "" ]
  # status, exited=CODE; a status filter lists stopped ones without -a
  [ "$(names --filter status=created)" = "web-1 web-2" ]
  [ "$(names --filter status=exited)" = "db job" ]
  [ "$(names --filter status=running)" = "up" ]
  [ "$(names --filter status=exited --filter status=running)" = "db job up" ]
  [ "$(names --filter status=paused)" = "" ]
  [ "$(names -a --filter exited=2)" = "db" ]
  [ "$(names -a --filter exited=0)" = "job" ]
  [ "$(names --filter exited=0)" = "" ]
  # different keys must all match
  [ "$(names -a --filter status=exited --filter label=tier)" = "db" ]
  run ctr-ps -a --filter name=web --filter status=created -q
  [ "${#lines[@]}" -eq 2 ]
}

@test "ps --filter: ancestor by image name, id and digest; before and since" {
  ctr-image tag busybox other:1 >/dev/null
  ctr-run create --name first busybox true >/dev/null
  ctr-run create --name second other:1 true >/dev/null
  ctr-run create --name third busybox:latest true >/dev/null
  names() { ctr-ps -a "$@" --format json | jq -r '[.[].name] | sort | join(" ")'; }
  [ "$(names --filter ancestor=busybox)" = "first second third" ]   # the same image
  [ "$(names --filter ancestor=other:1)" = "first second third" ]
  image_id=$(jq -r .image_id "$CTR_ROOT/containers/$(cid first)/state.json")
  digest=$(jq -r .image_digest "$CTR_ROOT/containers/$(cid first)/state.json")
  [ "$(names --filter ancestor="$image_id")" = "first second third" ]
  [ "$(names --filter ancestor="${image_id:7:12}")" = "first second third" ]
  [ "$(names --filter ancestor="$digest")" = "first second third" ]
  [ "$(names --filter ancestor=nosuchimage)" = "" ]
  # the image is gone: containers still match by the name they were made from
  ctr-image rm other:1 >/dev/null
  [ "$(names --filter ancestor=other:1)" = "second" ]
  # before / since a container, by name or id prefix; they imply -a
  [ "$(ctr-ps --filter before=third --format json | jq -r '[.[].name] | join(" ")')" = "second first" ]
  [ "$(ctr-ps --filter since="$(cid first | cut -c1-12)" --format json | jq -r '[.[].name] | join(" ")')" = "third second" ]
  [ "$(names --filter since=first --filter before=third)" = "second" ]
}

@test "ps: a killed monitor — running while its process lives, then Exited (-1), never Up" {
  run_bg mon sleep 100
  id=$(cid mon)
  pid=$(field "$id" pid)
  monitor=$(field "$id" monitor_pid)
  grep -qx "$monitor" "$PIDS"
  kill -KILL "$monitor"
  for _ in $(seq 50); do alive "$monitor" || break; sleep 0.1; done
  run alive "$monitor"
  assert_failure
  alive "$pid"
  # the container lives on: still running, the same pid
  run ctr-ps
  assert_line --index 1 --regexp "^${id:0:12} .* Up .* mon$"
  [ "$(ctr-ps --format json | jq -r '.[0].pid')" = "$pid" ]
  [ "$(ctr-inspect mon | jq -r '.[0].status')" = running ]
  # its process ends and nobody records how: exited, code unknown
  # (once reaped: run_state_refresh takes a zombie for alive, see the report)
  kill -KILL "$pid"
  for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  run ctr-ps
  [ "${#lines[@]}" -eq 1 ]
  run ctr-ps -a
  assert_line --index 1 --regexp "^${id:0:12} +busybox +\"sleep 100\" +.* ago +Exited \(-1\) +mon$"
  refute_output --partial " Up "
  run ctr-ps -a --format json
  [ "$(jq -r '.[0].status' <<<"$output")" = exited ]
  [ "$(jq -r '.[0].exit_code' <<<"$output")" = -1 ]
  [ "$(ctr-ps -a --filter exited=-1 -q)" = "${id:0:12}" ]
  [ "$(ctr-inspect --format table mon | grep '^Status:')" = "Status:      exited (-1)" ]
  # ctr-logs -f does not wait for it
  run timeout 5 ctr-logs -f mon
  assert_success
}

@test "ps: restarting, from the running file a monitor writes between runs" {
  run_bg rr sleep 100
  id=$(cid rr)
  # what a monitor writes while it waits to restart: itself as the pid
  sleep 100 3>&- &
  waiter=$!
  echo $waiter >>"$PIDS"
  set_state "$id" ".exit_code = 1 | .finished = \"$(iso '5 seconds ago')\""
  run=$(jq -c --argjson p "$waiter" --argjson s "$(sed 's/.*) //' /proc/$waiter/stat | cut -d' ' -f20)" \
    '.status = "restarting" | .pid = $p | .pid_start = $s' "$CTR_RUNDIR/containers/$id.json")
  container=$(field "$id" pid)
  echo "$run" >"$CTR_RUNDIR/containers/$id.json"
  run ctr-ps
  assert_line --index 1 --regexp 'Restarting \(1\) [0-9]+ seconds ago +rr$'
  [ "$(ctr-ps --filter status=restarting -q)" = "${id:0:12}" ]
  [ "$(ctr-ps --filter status=running -q)" = "" ]
  kill -KILL "$waiter" "$container"
}

# ---- ctr-inspect ---------------------------------------------------------

@test "inspect: a JSON array of state, Config, Bundle, Log; by name, id and prefix" {
  run ctr-run --name done --label a=b busybox sh -c 'echo out; exit 4'
  id=$(cid done)
  for ref in done "$id" "${id:0:5}"; do
    run --separate-stderr ctr-inspect "$ref"
    assert_success
    [ "$(jq length <<<"$output")" = 1 ]
    [ "$(jq -r '.[0].id' <<<"$output")" = "$id" ]
  done
  run ctr-inspect done
  [ "$(jq -r '.[0].name' <<<"$output")" = done ]
  [ "$(jq -r '.[0].status' <<<"$output")" = exited ]
  [ "$(jq -r '.[0].exit_code' <<<"$output")" = 4 ]
  [ "$(jq -r '.[0].labels.a' <<<"$output")" = b ]
  [ "$(jq -r '.[0].Bundle' <<<"$output")" = "$CTR_ROOT/containers/$id" ]
  [ "$(jq -r '.[0].Log' <<<"$output")" = "$CTR_ROOT/containers/$id/log" ]
  [ "$(jq -c '.[0].Config' <<<"$output")" = "$(jq -c . "$CTR_ROOT/containers/$id/config.json")" ]
  [ "$(jq -r '.[0].Stats' <<<"$output")" = null ]
  # --format json is the default
  [ "$(ctr-inspect --format json done)" = "$output" ]
}

@test "inspect: a running container's cgroup figures; -s sizes" {
  ctr-run --name rr -m 64m --pids-limit 50 busybox sh -c 'head -c 300000 /dev/zero > /big; sleep 100' >/dev/null 2>&1 3>&- &
  echo $! >>"$PIDS"
  wait_status rr running
  for _ in $(seq 50); do [ "$(ctr-inspect -s rr | jq -r '.[0].SizeRw')" -ge 300000 ] && break; sleep 0.1; done
  run ctr-inspect -s rr
  assert_success
  [ "$(jq -r '.[0].pid' <<<"$output")" = "$(field "$(cid rr)" pid)" ]
  [ "$(jq -r '.[0].Stats.memory_limit' <<<"$output")" = 67108864 ]
  [ "$(jq -r '.[0].Stats.memory_usage' <<<"$output")" -gt 0 ]
  [ "$(jq -r '.[0].Stats.pids' <<<"$output")" -ge 1 ]
  [ "$(jq -r '.[0].Stats.cpu_ns' <<<"$output")" -gt 0 ]
  [ "$(jq -r '.[0].SizeRw' <<<"$output")" -ge 300000 ]
  [ "$(jq -r '.[0].SizeRootFs' <<<"$output")" -gt "$(jq -r '.[0].SizeRw' <<<"$output")" ]
  run ctr-inspect --format table rr
  assert_line "Status:      running"
  assert_line "Pid:         $(field "$(cid rr)" pid)"
  assert_line "Limits:      memory=64MiB memory-swap=128MiB pids=50"
  assert_line --regexp '^Memory: +[0-9.]+[kM]?B / 67.1MB$'
  assert_line "ExitCode:    -"
  assert_line "Finished:    -"
  [ "$(ctr-inspect rr | jq '.[0] | has("SizeRw")')" = false ]
  kill -KILL "$(field "$(cid rr)" pid)"
}

@test "inspect: --format table, the key facts for people" {
  mkdir "$BATS_TEST_TMPDIR/data"
  run ctr-run --name tt -v "$BATS_TEST_TMPDIR/data:/data:ro" --cpus 0.5 busybox sh -c 'exit 5' "it's"
  id=$(cid tt)
  run ctr-inspect --format table tt
  assert_success
  assert_line "Id:          $id"
  assert_line "Name:        tt"
  assert_line --regexp '^Image:       busybox \(sha256:[0-9a-f]{64}\)$'
  assert_line "Status:      exited (5)"
  assert_line "Pid:         0"
  assert_line "ExitCode:    5"
  assert_line "OOMKilled:   false"
  assert_line "Command:     sh -c 'exit 5' 'it'\\''s'"
  assert_line "Mounts:      /data <- $BATS_TEST_TMPDIR/data (bind, rbind,ro,rprivate)"
  assert_line "Limits:      cpus=0.5"
  assert_line --regexp "^Created:     $(date -u +%Y-%m-%d)T"
  assert_line --regexp '^Finished:    [0-9-]+T[0-9:.]+Z$'
  # several: one block each, a blank line between
  ctr-run create --name uu busybox true >/dev/null
  run ctr-inspect --format table tt uu
  [ "$(grep -c '^Id:' <<<"$output")" = 2 ]
  assert_line "Status:      created"
  assert_line "Started:     -"
  assert_line "Mounts:      -"
  assert_line "Limits:      none"
}

@test "inspect: unknown and ambiguous refs are errors; the others still print; exit 1" {
  ctr-run create --name here busybox true >/dev/null
  run --separate-stderr ctr-inspect here nope
  assert_failure 1
  [ "$stderr" = "ctr-inspect: no such container: nope" ]
  [ "$(jq -r '[.[].name] | join(" ")' <<<"$output")" = here ]
  run --separate-stderr ctr-inspect nope
  assert_failure 1
  [ "$(jq -c . <<<"$output")" = "[]" ]
  # ids sharing a first digit: an ambiguous prefix
  for i in $(seq 17); do ctr-run create busybox true >/dev/null; done
  prefix=$(ls "$CTR_ROOT/containers" | cut -c1 | sort | uniq -d | head -1)
  run --separate-stderr ctr-inspect "$prefix" here
  assert_failure 1
  [ "$stderr" = "ctr-inspect: $prefix: ambiguous, matches more than one container" ]
  [ "$(jq length <<<"$output")" = 1 ]
  # usage
  run --separate-stderr ctr-inspect
  assert_failure 2
  [[ "$stderr" == "ctr-inspect: "* ]]
  run --separate-stderr ctr-inspect --format yaml here
  assert_failure 2
  run --separate-stderr ctr-inspect --bogus here
  assert_failure 2
  run ctr-inspect --help
  assert_success
  assert_line --index 0 "Usage: ctr-inspect [OPTIONS] CONTAINER..."
  run ctr-inspect --version
  assert_line --index 0 --regexp '^ctr-inspect version '
}

# ---- ctr-logs ------------------------------------------------------------

@test "logs: a detached container's stdout and stderr, each on its own stream" {
  id=$(ctr-run -d --name lg busybox sh -c 'echo hi; sleep 0.2; echo err >&2; sleep 0.2; echo bye')
  wait_status lg exited
  run --separate-stderr ctr-logs lg
  assert_success
  [ "$output" = "$(printf 'hi\nbye')" ]
  [ "$stderr" = err ]
  run --separate-stderr ctr-logs "${id:0:6}"
  [ "$output" = "$(printf 'hi\nbye')" ]
  # -t: docker's fixed nanosecond time in front of each line
  run --separate-stderr ctr-logs -t "$id"
  assert_line --index 0 --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z hi$'
  [[ "$stderr" =~ ^[0-9-]+T[0-9:]+\.[0-9]{9}Z\ err$ ]]
  # in order: merged, they come as written
  run ctr-logs lg
  [ "$output" = "$(printf 'hi\nerr\nbye')" ]
}

@test "logs: a foreground run's output, a created container's (none)" {
  run ctr-run --name fg busybox sh -c 'seq 1 5'
  run ctr-logs fg
  assert_success
  [ "$output" = "$(seq 1 5)" ]
  ctr-run create --name never busybox true >/dev/null
  run ctr-logs never
  assert_success
  assert_output ""
}

# A log written by hand in the json-file format, with known times.
hand_log() { # NAME
  local id
  id=$(ctr-run create --name "$1" busybox true)
  cat >"$CTR_ROOT/containers/$id/log" <<'EOF'
{"stream":"stdout","time":"2024-01-01T00:00:00.000000001Z","log":"one\n"}
{"stream":"stderr","time":"2024-01-01T00:00:10Z","log":"two\n"}
{"stream":"stdout","time":"2024-01-01T01:00:20.5+01:00","log":"three\n"}
{"stream":"stdout","time":"2024-01-01T00:00:30Z","log":"four\n"}
{"stream":"stdout","time":"2024-01-01T00:00:40Z","log":"five, "}
{"stream":"stdout","time":"2024-01-01T00:00:50Z","log":"six\n"}
EOF
}

@test "logs: --tail N|all, --since and --until (RFC 3339, Unix time), -t in UTC" {
  hand_log hh
  run ctr-logs hh
  [ "$output" = "$(printf 'one\ntwo\nthree\nfour\nfive, six')" ]
  run ctr-logs --tail 2 hh
  [ "$output" = "five, six" ]
  run ctr-logs -n 3 hh
  [ "$output" = "$(printf 'four\nfive, six')" ]
  run ctr-logs --tail 0 hh
  assert_output ""
  run ctr-logs --tail 100 hh
  [ "${#lines[@]}" -eq 5 ]
  run ctr-logs --tail all hh
  [ "${#lines[@]}" -eq 5 ]
  run --separate-stderr ctr-logs --since 2024-01-01T00:00:10Z --until 2024-01-01T00:00:30Z hh
  [ "$output" = "$(printf 'three\nfour')" ]
  [ "$stderr" = two ]
  run ctr-logs --since 1704067230 hh
  [ "$output" = "$(printf 'four\nfive, six')" ]
  run ctr-logs --since 1704067220.6 hh
  [ "$output" = "$(printf 'four\nfive, six')" ]
  run ctr-logs --until 2024-01-01T01:00:00.000000001+01:00 hh
  [ "$output" = one ]
  run ctr-logs --since 2024-01-02 hh
  assert_output ""
  run ctr-logs --since 10m hh
  assert_output ""
  run ctr-logs --until 1h hh
  [ "${#lines[@]}" -eq 5 ]
  run ctr-logs -t --tail 4 hh
  [ "$output" = "$(printf '2024-01-01T00:00:20.500000000Z three\n2024-01-01T00:00:30.000000000Z four\n2024-01-01T00:00:40.000000000Z five, 2024-01-01T00:00:50.000000000Z six')" ]
}

@test "logs: malformed lines are skipped with one warning" {
  id=$(ctr-run create --name bad busybox true)
  {
    echo '{"stream":"stdout","time":"2024-01-01T00:00:00Z","log":"good 1\n"}'
    echo 'not json at all'
    echo '{"stream":"stdin","time":"2024-01-01T00:00:00Z","log":"x\n"}'
    echo '{"stream":"stdout","time":"yesterday","log":"x\n"}'
    echo '{"stream":"stdout","time":"2024-01-01T00:00:00Z","log":42}'
    echo '["an array"]'
    printf '\xff\xfe\x00 binary\n'
    echo
    echo '{"stream":"stdout","time":"2024-01-01T00:00:01Z","log":"good 2\n"}'
    head -c 1100000 /dev/zero | tr '\0' a
    echo
    echo '{"stream":"stdout","time":"2024-01-01T00:00:02Z","log":"good 3\n"}'
    printf '{"stream":"stdout","time":"2024-01-01T00:00:03Z","log":"being writ'
  } >"$CTR_ROOT/containers/$id/log"
  run --separate-stderr ctr-logs bad
  assert_success
  [ "$output" = "$(printf 'good 1\ngood 2\ngood 3')" ]
  [ "$(wc -l <<<"$stderr")" = 1 ]
  [[ "$stderr" == "ctr-logs: warning: skipping a malformed log line"* ]]
  run --separate-stderr ctr-logs --tail 1 bad
  [ "$output" = "" ]
  [ "$stderr" = "" ]
}

@test "logs -f: follows a running container to its end" {
  ctr-run -d --name ff busybox sh -c 'echo a; sleep 1; echo b >&2; sleep 1; echo c' >/dev/null
  start=$(date +%s)
  run --separate-stderr timeout 20 ctr-logs -f ff
  assert_success
  [ "$output" = "$(printf 'a\nc')" ]
  [ "$stderr" = b ]
  # it ended with the container, not at once and not much later
  [ $(($(date +%s) - start)) -ge 1 ]
  [ $(($(date +%s) - start)) -lt 10 ]
  wait_status ff exited
  # an exited container: -f prints what is there and returns
  run timeout 5 ctr-logs -f --tail 1 ff
  assert_success
  assert_output c
}

@test "logs -f: lines appended while it runs come out; --tail 0 only the new ones" {
  run_bg ww sleep 100
  id=$(cid ww)
  log="$CTR_ROOT/containers/$id/log"
  echo '{"stream":"stdout","time":"2024-01-01T00:00:00Z","log":"old\n"}' >>"$log"
  ctr-logs -f ww >"$BATS_TEST_TMPDIR/all" 2>&1 3>&- &
  all=$!
  ctr-logs -f --tail 0 ww >"$BATS_TEST_TMPDIR/new" 2>&1 3>&- &
  new=$!
  sleep 0.5
  echo '{"stream":"stdout","time":"2024-01-01T00:00:01Z","log":"new 1\n"}' >>"$log"
  printf '{"stream":"stdout","time":"2024-01-01T00:00:02Z",' >>"$log"
  sleep 0.3
  echo '"log":"new 2\n"}' >>"$log"
  for _ in $(seq 50); do grep -q "new 2" "$BATS_TEST_TMPDIR/all" && grep -q "new 2" "$BATS_TEST_TMPDIR/new" && break; sleep 0.1; done
  # both still follow while it runs
  alive $all
  alive $new
  kill -KILL "$(field "$id" pid)"
  wait $all
  wait $new
  [ "$(cat "$BATS_TEST_TMPDIR/all")" = "$(printf 'old\nnew 1\nnew 2')" ]
  [ "$(cat "$BATS_TEST_TMPDIR/new")" = "$(printf 'new 1\nnew 2')" ]
}

@test "logs: bad usage exits 2, an unknown or ambiguous container 1" {
  ctr-run create --name x1 busybox true >/dev/null
  for bad in "" "x1 x1" "--tail x x1" "--tail -1 x1" "--since yesterday x1" "--until 2024-13-01 x1" \
    "--since 5q x1" "--bogus x1" "--since"; do
    run --separate-stderr ctr-logs $bad
    [ "$status" -eq 2 ] || fail "ctr-logs $bad: status $status"
    [[ "$stderr" == "ctr-logs: "* ]] && [ "$(wc -l <<<"$stderr")" -eq 1 ] || fail "ctr-logs $bad: $stderr"
  done
  run --separate-stderr ctr-logs --since yesterday x1
  [ "$stderr" = 'ctr-logs: invalid value for --since: failed to parse value as time or duration: "yesterday"' ]
  run --separate-stderr ctr-logs nope
  assert_failure 1
  [ "$stderr" = "ctr-logs: no such container: nope" ]
  for i in $(seq 17); do ctr-run create busybox true >/dev/null; done
  prefix=$(ls "$CTR_ROOT/containers" | cut -c1 | sort | uniq -d | head -1)
  run --separate-stderr ctr-logs "$prefix"
  assert_failure 1
  [ "$stderr" = "ctr-logs: $prefix: ambiguous, matches more than one container" ]
  run ctr-logs --help
  assert_success
  assert_line --index 0 "Usage: ctr-logs [OPTIONS] CONTAINER"
  run ctr-logs --version
  assert_line --index 0 --regexp '^ctr-logs version '
}
