#!/usr/bin/env bats
# ctr-exec: one more process in a running container, as docker exec. One
# container (the probe image, `/probe pause` as its init) serves the whole
# file; the probe (tests/probe) reports what the exec'd process sees, and
# the host side checks /proc of the container's init against it.

load helpers/common

setup_file() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
  export CTR_PROBE="${CTR_BUILD:-$TESTS_DIR/../build}/probe/ctr-probe"
  bash "$TESTS_DIR/helpers/probe-image.sh" "$CTR_PROBE" >/dev/null
  export C=exectest
  ctr-run -d --name "$C" probe sh -c 'hostname > /tmp/marker; exec /probe pause' \
    > "$BATS_FILE_TMPDIR/id" 3>&-
  CID=$(cat "$BATS_FILE_TMPDIR/id")
  export CID
  for _ in $(seq 100); do
    [ -n "$(ctr-exec "$C" cat /tmp/marker 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "the container never came up" >&2
  return 1
}

setup() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
  INIT=$(jq -r .pid "$CTR_RUNDIR/containers/$CID.json")
  [ -n "$INIT" ]
  [ -d "/proc/$INIT" ]
}

teardown() {
  if [ -n "${SLEEPER:-}" ]; then
    kill -KILL "$SLEEPER" 2>/dev/null || true
    wait "$SLEEPER" 2>/dev/null || true
  fi
}

teardown_file() {
  local run_file="$CTR_RUNDIR/containers/$CID.json" mon pid d
  if [ -f "$run_file" ]; then
    mon=$(jq -r .monitor_pid "$run_file")
    pid=$(jq -r .pid "$run_file")
    # the monitor sees its container end and cleans up after it
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
  fi
  for d in "$CTR_ROOT"/containers/*/; do
    [ -d "$d" ] || continue
    umount -l "$d/rootfs" 2>/dev/null || true
    rmdir /sys/fs/cgroup/*/ctr/"$(basename "$d")" /sys/fs/cgroup/ctr/"$(basename "$d")" 2>/dev/null || true
  done
}

cgroup_procs() { # the container's cgroup.procs (v1 pids controller, or v2)
  local f
  for f in /sys/fs/cgroup/pids/ctr/$CID/cgroup.procs /sys/fs/cgroup/ctr/$CID/cgroup.procs; do
    [ -f "$f" ] && { cat "$f"; return 0; }
  done
  return 1
}

find_in_cgroup() { # pid of the process in the container's cgroup whose argv is "$*"
  local p
  for _ in $(seq 50); do
    for p in $(cgroup_procs); do
      [ "$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)" = "$* " ] && { echo "$p"; return 0; }
    done
    sleep 0.1
  done
  return 1
}

@test "exec runs in the container's pid namespace: its init is pid 1" {
  run ctr-exec "$C" ps -o pid,comm
  assert_success
  assert_line --regexp '^ +1 probe$'
  run ctr-exec "$C" sh -c 'echo $$'
  assert_success
  [ "$output" -gt 1 ]
  [ "$output" -lt 100 ]
}

@test "every namespace is the init's; hostname, files and network are the container's" {
  run ctr-exec "$C" /probe info
  assert_success
  for ns in mnt pid net uts ipc cgroup user; do
    [ "$(jq -r ".ns.$ns" <<<"$output")" = "$(readlink "/proc/$INIT/ns/$ns")" ]
  done
  [ "$(jq -r .ns.mnt <<<"$output")" != "$(readlink /proc/self/ns/mnt)" ]
  [ "$(jq -r .hostname <<<"$output")" = "$(cat "$CTR_ROOT/containers/$CID/rootfs/tmp/marker")" ]
  # a file the init wrote in its /tmp
  run ctr-exec "$C" cat /tmp/marker
  assert_success
  assert_output "$(jq -r .hostname "$CTR_ROOT/containers/$CID/state.json")"
  # the container's network: lo only
  run ctr-exec "$C" sh -c "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
  assert_output lo
}

@test "exec runs in the container's cgroup" {
  run ctr-exec "$C" sh -c 'cat /proc/self/cgroup; echo --; cat /proc/1/cgroup'
  assert_success
  [ "$(sed '/^--$/,$d' <<<"$output")" = "$(sed '1,/^--$/d' <<<"$output")" ]
  run ctr-exec "$C" sh -c 'grep -qx $$ /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null || grep -qx $$ /sys/fs/cgroup/cgroup.procs && echo in'
  assert_output in
}

@test "-d: starts it and returns 0; it runs in the cgroup, as the container's binary" {
  run ctr-exec -d "$C" /probe sleep 30
  assert_success
  assert_output ""
  SLEEPER=$(find_in_cgroup /probe sleep 30)
  grep -q ":/ctr/$CID\$" "/proc/$SLEEPER/cgroup"
  # /proc/PID/exe is the probe in the container, not ctr-exec (CVE-2019-5736)
  cmp "/proc/$SLEEPER/exe" "$CTR_ROOT/containers/$CID/rootfs/probe"
  ! cmp -s "/proc/$SLEEPER/exe" "$(command -v ctr-exec)" || fail "the process is ctr-exec itself"
  [ "$(readlink "/proc/$SLEEPER/fd/1")" = /dev/null ]
  [ "$(readlink "/proc/$SLEEPER/ns/pid")" = "$(readlink "/proc/$INIT/ns/pid")" ]
  [ "$(readlink "/proc/$SLEEPER/root")" = / ]
}

@test "the init's capabilities, seccomp filter, no_new_privs and rlimits" {
  run ctr-exec "$C" /probe info
  assert_success
  [ "$(jq -r .caps.effective <<<"$output")" = "$(awk '/^CapEff/ {print $2}' "/proc/$INIT/status")" ]
  [ "$(jq -r .caps.bounding <<<"$output")" = "$(awk '/^CapBnd/ {print $2}' "/proc/$INIT/status")" ]
  [ "$(jq -r '.caps.names | length' <<<"$output")" = 14 ]
  [ "$(jq -r .seccomp <<<"$output")" = 2 ]
  [ "$(awk '/^Seccomp:/ {print $2}' "/proc/$INIT/status")" = 2 ]
  [ "$(jq -r .no_new_privs <<<"$output")" = "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$INIT/status")" ]
  [ "$(jq -r '.rlimits.nofile[1]' <<<"$output")" = "$(awk '/^Max open files/ {print $5}' "/proc/$INIT/limits")" ]
  run ctr-exec "$C" /probe syscall unshare-user
  [ "$(jq -r .errno <<<"$output")" = EPERM ]
}

@test "--privileged: every capability, no seccomp filter" {
  run ctr-exec --privileged "$C" /probe info
  assert_success
  [ "$(jq -r .seccomp <<<"$output")" = 0 ]
  jq -e '.caps.names | index("CAP_SYS_ADMIN")' <<<"$output" >/dev/null
}

@test "-u by name and by uid:gid, from the container's passwd" {
  run ctr-exec -u app "$C" /probe whoami
  assert_success
  [ "$(jq -c '[.uid, .gid, .groups, .home]' <<<"$output")" = '[1000,1000,[50],"/home/app"]' ]
  run ctr-exec -u app "$C" /probe env HOME
  assert_output /home/app
  run ctr-exec -u 1000:50 "$C" /probe info
  assert_success
  [ "$(jq -r .uid <<<"$output")" = 1000 ]
  [ "$(jq -r .gid <<<"$output")" = 50 ]
  [ "$(jq -r '.caps.names | length' <<<"$output")" = 0 ]
  run -126 --separate-stderr ctr-exec -u nosuchuser "$C" true
  [ "$stderr" = "ctr-exec: -u nosuchuser: unable to find user nosuchuser: no matching entries in passwd file" ]
}

@test "-e, --env-file, -w; the container's environment stays" {
  printf 'A=from-file\n# comment\nB=2\n' > "$BATS_TEST_TMPDIR/env"
  FROMHOST=ours run ctr-exec --env-file "$BATS_TEST_TMPDIR/env" -e A=from-flag -e C=3 -e FROMHOST \
    -e UNSETONE -w /tmp "$C" sh -c 'echo $A $B $C $FROMHOST ${UNSETONE-unset} $(pwd) $HOSTNAME $PATH'
  assert_success
  assert_output "from-flag 2 3 ours unset /tmp $(jq -r .hostname "$CTR_ROOT/containers/$CID/state.json") /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  run -127 ctr-exec -e PATH=/nowhere "$C" ls
  run -126 --separate-stderr ctr-exec -w /nonexistent "$C" true
  [ "$stderr" = "ctr-exec: chdir /nonexistent: No such file or directory" ]
  run -2 ctr-exec -w relative "$C" true
}

@test "exit status: the command's, 127 not found, 126 not executable, 128+N killed" {
  run ctr-exec "$C" sh -c 'exit 3'
  assert_failure 3
  run -127 --separate-stderr ctr-exec "$C" nosuchcommand
  [ "$stderr" = "ctr-exec: exec nosuchcommand: executable file not found in \$PATH" ]
  run -126 --separate-stderr ctr-exec "$C" /notexec
  [ "$stderr" = "ctr-exec: exec /notexec: permission denied" ]
  run -137 ctr-exec "$C" sh -c 'kill -KILL $$'
}

@test "-t: a pty of the container's devpts as controlling terminal, with our size" {
  requires script
  run script -qec "stty rows 33 cols 111; ctr-exec -it $C /probe tty" /dev/null <<<hello
  assert_success
  first=$(tr -d '\r' <<<"$output" | grep '^{"isatty"')
  [ "$(jq -c '[.isatty, .rows, .cols, .ctty, .foreground, .stdout_isatty]' <<<"$first")" = '[true,33,111,true,true,true]' ]
  [ "$(tr -d '\r' <<<"$output" | grep '^{"line"' | jq -r .line)" = hello ]
  run script -qec "ctr-exec -t $C sh -c 'tty; echo \$TERM; exit 4'" /dev/null
  assert_failure 4
  [[ "$(tr -d '\r' <<<"$output")" =~ ^/dev/pts/[0-9]+$'\n'xterm$ ]]
}

@test "-i passes our stdin; without it the command reads /dev/null" {
  run bash -c "printf 'some\nbytes' | ctr-exec -i $C /probe stdin"
  assert_success
  assert_output "$(printf 'some\nbyteseof')"
  run bash -c "printf 'some bytes\n' | ctr-exec $C /probe stdin"
  assert_success
  assert_output eof
}

@test "signals sent to ctr-exec reach the command" {
  ctr-exec "$C" /probe pause > "$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
  kill -USR1 $pid
  sleep 0.3
  kill -TERM $pid
  st=0
  wait $pid || st=$?
  [ "$st" = 0 ]
  run cat "$BATS_TEST_TMPDIR/out"
  assert_line "signal 10"
  assert_line "signal 15"
}

@test "the command starts with no signal blocked or ignored, whatever ctr-exec had" {
  run bash -c "trap '' INT QUIT HUP PIPE; ctr-exec $C grep -E '^Sig(Blk|Ign)' /proc/self/status"
  assert_success
  assert_line --regexp '^SigBlk:[[:space:]]+0+$'
  assert_line --regexp '^SigIgn:[[:space:]]+0+$'
}

@test "only fds 0-2 and no host cwd reach the command" {
  cd "$BATS_TEST_TMPDIR"
  exec 7</etc/hostname
  run ctr-exec "$C" /probe info
  exec 7<&-
  assert_success
  [ "$(jq -c '[.fds[].fd]' <<<"$output")" = "[0,1,2]" ]
  [ "$(jq -r .cwd <<<"$output")" = / ]
}

@test "nothing of ctr-exec is visible in the container (CVE-2019-5736)" {
  run ctr-exec "$C" sh -c 'ls -l /proc/[0-9]*/exe 2>/dev/null'
  assert_success
  refute_output --partial ctr-exec
  assert_output --partial /probe
}

@test "--userns auto: exec joins the user namespace too" {
  # the container's uid must reach its bundle, as it can under /var/lib/ctr
  d=$CTR_ROOT
  while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+x "$d"; d=$(dirname "$d"); done
  run ctr-run -d --userns auto --name userns probe /probe pause
  assert_success
  uid=$output
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$uid.json")
  userns=$(readlink "/proc/$pid/ns/user")
  run ctr-exec userns /probe info
  kill -KILL "$pid"
  assert_success
  [ "$(jq -r .uid <<<"$output")" = 0 ]
  [ "$(jq -r .ns.user <<<"$output")" = "$userns" ]
  [ "$userns" != "$(readlink /proc/self/ns/user)" ]
  [ "$(jq -r .uid_map <<<"$output" | awk 'NF {print $1, $3}')" = "0 65536" ]
  [ "$(jq -r .seccomp <<<"$output")" = 2 ]
}

@test "a stopped, unknown or stale container: one line, status 1" {
  run ctr-run --name stopped probe true
  assert_success
  run -1 --separate-stderr ctr-exec stopped true
  [ "$stderr" = "ctr-exec: container stopped is not running" ]
  run -1 --separate-stderr ctr-exec nosuchcontainer true
  [[ "$stderr" == "ctr-exec: "* ]]
  [ "$(wc -l <<<"$stderr")" = 1 ]
  # a running file whose pid is now some other process of the host
  sleep 60 3>&- &
  SLEEPER=$!
  id=$(basename "$(dirname "$(grep -l '"stopped"' "$CTR_ROOT"/containers/*/state.json)")")
  jq -n --argjson pid "$SLEEPER" --argjson start "$(awk '{print $22}' /proc/$SLEEPER/stat)" \
    '{status:"running", pid:$pid, pid_start:$start, monitor_pid:$pid}' > "$CTR_RUNDIR/containers/$id.json"
  run -1 --separate-stderr ctr-exec stopped true
  rm -f "$CTR_RUNDIR/containers/$id.json"
  [ "$stderr" = "ctr-exec: container stopped is not running" ]
}

@test "usage: a container and a command are needed" {
  run -2 ctr-exec
  run -2 ctr-exec "$C"
  run -2 ctr-exec --frobnicate "$C" true
  run ctr-exec --help
  assert_success
  assert_output --partial "Usage: ctr-exec"
}
