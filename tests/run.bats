#!/usr/bin/env bats
# ctr-run: containers from images, with docker's semantics and defaults.
# The probe (tests/probe) reports from inside what the container sees.

load helpers/common

setup_file() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
  export CTR_PROBE="${CTR_BUILD:-$TESTS_DIR/../build}/probe/ctr-probe"
  # our own cgroup parent, so other runs' containers are not counted as ours
  export CTR_CGROUP_PARENT="ctr-test-run-$$"
  bash "$TESTS_DIR/helpers/probe-image.sh" "$CTR_PROBE" >/dev/null
}

setup() {
  export CTR_ROOT="$BATS_FILE_TMPDIR/root" CTR_RUNDIR="$BATS_FILE_TMPDIR/run"
}

cgroup_children() { # container cgroups left under our parent
  find /sys/fs/cgroup/memory/"$CTR_CGROUP_PARENT" /sys/fs/cgroup/pids/"$CTR_CGROUP_PARENT" \
    -mindepth 1 -type d 2>/dev/null
}

teardown_file() {
  # every container this file made is gone, and with it its mounts and cgroups
  if [ -d "$CTR_ROOT/containers" ]; then
    for d in "$CTR_ROOT"/containers/*/; do
      [ -d "$d" ] || continue
      umount -l "$d/rootfs" 2>/dev/null || true
    done
  fi
  for d in /sys/fs/cgroup/*/"$CTR_CGROUP_PARENT"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  true
}

probe() { # run the probe in a fresh container: probe [ctr-run opts] -- SUBCOMMAND…
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  ctr-run --rm "${opts[@]}" probe /probe "$@"
}

no_leftovers() {
  ! grep -q "$CTR_ROOT" /proc/self/mountinfo
  [ -z "$(cgroup_children)" ]
  [ -z "$(ls "$CTR_ROOT/containers" 2>/dev/null)" ]
}

@test "run: a command's output and status; --rm leaves nothing behind" {
  run ctr-run --rm busybox echo hello
  assert_success
  assert_output hello
  run ctr-run --rm busybox sh -c 'exit 3'
  assert_failure 3
  no_leftovers
}

@test "exit status: 127 not found, 126 not executable, 125 ctr-run failed" {
  run -127 --separate-stderr ctr-run --rm busybox nosuchcommand
  [ "$stderr" = "ctr-run: exec nosuchcommand: executable file not found in \$PATH" ]
  run -126 --separate-stderr ctr-run --rm probe /notexec
  [ "$stderr" = "ctr-run: exec /notexec: permission denied" ]
  run --separate-stderr ctr-run --rm nosuchimage true
  assert_failure 125
  [ "$stderr" = "ctr-run: no such image: nosuchimage" ]
  run --separate-stderr ctr-run --rm --memory lots busybox true
  assert_failure 125
  [[ "$stderr" == "ctr-run: --memory"* ]]
  run --separate-stderr ctr-run --rm -u nobodyatall busybox true
  assert_failure 125
  [[ "$stderr" == *"unable to find user nobodyatall"* ]]
  run ctr-run --frobnicate busybox true
  assert_failure 125
  no_leftovers
}

wait_file() { # wait up to 10 s for a non-empty file
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}

@test "signals sent to ctr-run reach the container; a killed container is 128+N" {
  ctr-run --rm --pidfile "$BATS_TEST_TMPDIR/pid" probe /probe pause > "$BATS_TEST_TMPDIR/out" &
  runpid=$!
  wait_file "$BATS_TEST_TMPDIR/out"
  kill -USR1 $runpid
  sleep 0.3
  kill -TERM $runpid
  wait $runpid
  run cat "$BATS_TEST_TMPDIR/out"
  assert_line ready
  assert_line "signal 10"
  assert_line "signal 15"
  ctr-run --rm --pidfile "$BATS_TEST_TMPDIR/pid2" probe /probe pause > /dev/null &
  runpid=$!
  wait_file "$BATS_TEST_TMPDIR/pid2"
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/pid2")"
  st=0
  wait $runpid || st=$?
  [ "$st" = 137 ]
  no_leftovers
}

@test "namespaces: pid, mount, uts, ipc, net, cgroup are the container's own" {
  run probe -- info
  assert_success
  for ns in mnt pid net uts ipc cgroup; do
    [ "$(jq -r ".ns.$ns" <<<"$output")" != "$(readlink /proc/self/ns/$ns)" ]
  done
  [ "$(jq -r .ns.user <<<"$output")" = "$(readlink /proc/self/ns/user)" ]
  [ "$(jq -r .pid <<<"$output")" = 1 ]
}

@test "docker's 14 capabilities, seccomp filter on, no_new_privs off" {
  run probe -- info
  assert_success
  caps=$(jq -r '.caps.names | sort | join(",")' <<<"$output")
  [ "$caps" = "CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_MKNOD,CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,CAP_SETUID,CAP_SYS_CHROOT" ]
  [ "$(jq -r .seccomp <<<"$output")" = 2 ]
  [ "$(jq -r .no_new_privs <<<"$output")" = 0 ]
  [ "$(jq -r .caps.inheritable <<<"$output")" = 0000000000000000 ]
}

@test "seccomp refuses namespace and mount syscalls; unconfined lifts it" {
  for call in unshare-user mount keyctl; do
    run probe -- syscall "$call"
    [ "$(jq -r .errno <<<"$output")" = EPERM ]
  done
  run probe -- syscall clone3
  [ "$(jq -r .errno <<<"$output")" = ENOSYS ]
  run probe --security-opt seccomp=unconfined -- info
  [ "$(jq -r .seccomp <<<"$output")" = 0 ]
  run probe --security-opt no-new-privileges -- info
  [ "$(jq -r .no_new_privs <<<"$output")" = 1 ]
}

@test "masked and read-only paths as docker's" {
  run probe -- info
  assert_success
  run probe -- write /proc/sys/kernel/hostname
  [ "$(jq -r .errno <<<"$output")" = EROFS ]
  run ctr-run --rm busybox sh -c 'stat -c %t:%T /proc/keys; ls /sys/firmware | wc -l'
  assert_success
  assert_line --index 0 1:3
  assert_line --index 1 0
}

@test "-e, --env-file, -w, -h, --entrypoint" {
  printf 'A=from-file\n# comment\nB=2\n' > "$BATS_TEST_TMPDIR/env"
  run ctr-run --rm --env-file "$BATS_TEST_TMPDIR/env" -e A=from-flag -e C=3 -w /tmp/work -h myhost \
    busybox sh -c 'echo $A $B $C $(pwd) $(hostname) $HOSTNAME'
  assert_success
  assert_output "from-flag 2 3 /tmp/work myhost myhost"
  run ctr-run --rm --entrypoint /bin/echo busybox hi there
  assert_output "hi there"
}

@test "-u by name, by uid:gid, with supplementary groups" {
  run probe -u app -- whoami
  assert_success
  [ "$(jq -r .uid <<<"$output")" = 1000 ]
  [ "$(jq -r .gid <<<"$output")" = 1000 ]
  run probe -u 1000:50 -- info
  [ "$(jq -r .uid <<<"$output")" = 1000 ]
  [ "$(jq -r .gid <<<"$output")" = 50 ]
  [ "$(jq -r '.caps.names | length' <<<"$output")" = 0 ]
}

@test "-v binds host paths rw and ro; named volumes persist" {
  mkdir "$BATS_TEST_TMPDIR/data"
  echo host > "$BATS_TEST_TMPDIR/data/f"
  run ctr-run --rm -v "$BATS_TEST_TMPDIR/data:/data" busybox sh -c 'cat /data/f; echo ctr > /data/g'
  assert_output host
  [ "$(cat "$BATS_TEST_TMPDIR/data/g")" = ctr ]
  run ctr-run --rm -v "$BATS_TEST_TMPDIR/data:/data:ro" busybox sh -c 'echo x > /data/h'
  assert_failure
  [ ! -e "$BATS_TEST_TMPDIR/data/h" ]
  run ctr-run --rm -v vol1:/v busybox sh -c 'echo kept > /v/k'
  assert_success
  run ctr-run --rm -v vol1:/v busybox cat /v/k
  assert_output kept
  [ -f "$CTR_ROOT/volumes/vol1/_data/k" ]
}

@test "--tmpfs and --read-only" {
  run ctr-run --rm --read-only --tmpfs /scratch:size=1m busybox sh -c 'echo x > /scratch/a && cat /scratch/a; echo y > /etc/x'
  assert_failure
  assert_line --index 0 x
  assert_output --partial "Read-only file system"
}

@test "--memory, --cpus, --cpu-shares, --pids-limit are applied to the cgroup" {
  run probe --memory 64m --cpus 0.5 --cpu-shares 512 --pids-limit 50 -- info
  assert_success
  [ "$(jq -r .limits.memory <<<"$output")" = 67108864 ]
  [ "$(jq -r .limits.cpu_quota <<<"$output")" = 50000 ]
  [ "$(jq -r .limits.cpu_period <<<"$output")" = 100000 ]
  [ "$(jq -r .limits.cpu_shares <<<"$output")" = 512 ]
  [ "$(jq -r .limits.pids_max <<<"$output")" = 50 ]
  # its cgroup namespace is rooted at its own cgroup, as docker's
  [ -z "$(jq -r '.cgroup[]' <<<"$output" | grep -v ':/$')" ]
  no_leftovers
}

@test "the OOM killer ends a container over its memory limit: 137, oom_killed" {
  run ctr-run --name oomer --memory 32m --memory-swap 32m probe /probe memhog 256
  assert_failure 137
  id=$(ls "$CTR_ROOT/containers")
  [ "$(jq -r .oom_killed "$CTR_ROOT/containers/$id/state.json")" = true ]
  [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 137 ]
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "--pids-limit stops a fork bomb" {
  run probe --pids-limit 20 -- forkbomb 60
  assert_success
  assert_output --regexp 'forked 1[0-9] failed EAGAIN'
}

@test "--ulimit sets rlimits; nofile defaults to docker's" {
  run probe --ulimit nofile=100:200 --ulimit nproc=50 -- info
  [ "$(jq -c .rlimits.nofile <<<"$output")" = "[100,200]" ]
  [ "$(jq -c .rlimits.nproc <<<"$output")" = "[50,50]" ]
  # docker's default, or our own hard limit where we may not raise it
  n=1048576
  if ! (( 0x$(awk '/CapEff/ {print $2}' /proc/self/status) >> 24 & 1 )) && [ "$(ulimit -Hn)" -lt $n ]; then
    n=$(ulimit -Hn)
  fi
  run probe -- info
  [ "$(jq -c .rlimits.nofile <<<"$output")" = "[$n,$n]" ]
}

@test "--cap-add, --cap-drop, --privileged" {
  run probe --cap-drop ALL --cap-add NET_ADMIN -- info
  [ "$(jq -c .caps.names <<<"$output")" = '["CAP_NET_ADMIN"]' ]
  run probe --cap-drop chown -- info
  [ "$(jq -r '.caps.names | index("CAP_CHOWN")' <<<"$output")" = null ]
  run probe --privileged -- info
  [ "$(jq -r '.caps.names | index("CAP_SYS_ADMIN")' <<<"$output")" != null ]
  [ "$(jq -r .seccomp <<<"$output")" = 0 ]
  run ctr-run --rm --cap-add NOTACAP busybox true
  assert_failure 125
}

@test "--network none has only lo, up; --network host shares the host's" {
  run ctr-run --rm busybox ip -o link
  assert_success
  [ "$(echo "$output" | wc -l)" = 1 ]
  assert_output --partial "lo:"
  assert_output --partial "UP"
  run probe --network host -- info
  [ "$(jq -r .ns.net <<<"$output")" = "$(readlink /proc/self/ns/net)" ]
}

@test "--name is unique; --label and the image are recorded" {
  run ctr-run --name same --label a=b busybox true
  assert_success
  run --separate-stderr ctr-run --name same busybox true
  assert_failure 125
  [ "$stderr" = 'ctr-run: the container name "same" is already in use' ]
  id=$(grep -l '"name": "same"' "$CTR_ROOT"/containers/*/state.json | xargs dirname | xargs basename)
  [ "$(jq -r .labels.a "$CTR_ROOT/containers/$id/state.json")" = b ]
  [ "$(jq -r .image "$CTR_ROOT/containers/$id/state.json")" = busybox ]
  [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ]
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "create then start; the bundle runs under crun too" {
  requires crun
  run ctr-run create --name two-step busybox sh -c 'echo started; cat /etc/hostname'
  assert_success
  id=$output
  [ -f "$CTR_ROOT/containers/$id/config.json" ]
  [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = created ]
  run ctr-run start -a two-step
  assert_success
  assert_line --index 0 started
  # crun, the oracle, runs the same bundle (cgroups and seccomp as written)
  mount -t overlay overlay -o "lowerdir=$(jq -r '.lower | join(":")' "$CTR_ROOT/containers/$id/state.json"),upperdir=$CTR_ROOT/containers/$id/upper,workdir=$CTR_ROOT/containers/$id/work" "$CTR_ROOT/containers/$id/rootfs"
  # crun refuses a hybrid hierarchy whose v2 part lists controllers: hide them
  : > "$BATS_TEST_TMPDIR/empty"
  run unshare -m sh -c "mount --bind '$BATS_TEST_TMPDIR/empty' /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; exec crun --root '$BATS_TEST_TMPDIR/crun' run --bundle '$CTR_ROOT/containers/$id' ctr-crun-$$"
  umount "$CTR_ROOT/containers/$id/rootfs"
  assert_success
  assert_line --index 0 started
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "no host fd and no host cwd reach the container (CVE-2024-21626)" {
  exec 7</etc/hostname
  run probe -- info
  exec 7<&-
  [ "$(jq -c '[.fds[].fd]' <<<"$output")" = "[0,1,2]" ]
  [ "$(jq -r .cwd <<<"$output")" = / ]
}

@test "a symlink in the image cannot redirect a mount to the host" {
  outside="$BATS_TEST_TMPDIR/outside"
  mkdir -p "$outside" "$BATS_TEST_TMPDIR/fs/bin" "$BATS_TEST_TMPDIR/fs/mnt"
  cp "$(ctr-image unpack busybox)/bin/busybox" "$BATS_TEST_TMPDIR/fs/bin/"
  ln -s busybox "$BATS_TEST_TMPDIR/fs/bin/sh"
  ln -s "$outside" "$BATS_TEST_TMPDIR/fs/etc"
  ln -s "../../../../../../$outside" "$BATS_TEST_TMPDIR/fs/mnt/x"
  tar -C "$BATS_TEST_TMPDIR/fs" -cf - . | ctr-image import --rootfs --name evil:1 - >/dev/null
  mkdir "$BATS_TEST_TMPDIR/src" && echo secret > "$BATS_TEST_TMPDIR/src/s"
  run ctr-run --rm -v "$BATS_TEST_TMPDIR/src:/mnt/x/y" evil:1 /bin/sh -c 'cat /mnt/x/y/s; ls /etc'
  [ -z "$(ls -A "$outside")" ]
  ! grep -q "$outside" /proc/self/mountinfo || fail "$outside is mounted"
  no_leftovers
}

wait_exited() { # wait up to 15 s for a container's state.json to say exited
  for _ in $(seq 150); do
    [ "$(jq -r .status "$CTR_ROOT/containers/$1/state.json" 2>/dev/null)" = exited ] && return 0
    sleep 0.1
  done
  return 1
}

@test "-d: a monitor runs it in the background and keeps its output in the log" {
  # sleeps long enough that a loaded machine still finds it running below
  run ctr-run -d --name bg busybox sh -c 'echo out; echo err >&2; sleep 2; echo late'
  assert_success
  id=$output
  [[ "$id" =~ ^[0-9a-f]{64}$ ]]
  run_file="$CTR_RUNDIR/containers/$id.json"
  [ "$(jq -r .status "$run_file")" = running ]
  mon=$(jq -r .monitor_pid "$run_file")
  [ "$(cat /proc/$mon/comm)" = ctr-monitor ]
  # the container's parent is the monitor, not us
  [ "$(awk '{print $4}' /proc/"$(jq -r .pid "$run_file")"/stat)" = "$mon" ]
  wait_exited "$id"
  log="$CTR_ROOT/containers/$id/log"
  [ "$(jq -r 'select(.stream=="stdout") | .log' "$log" | tr -d '\n')" = outlate ]
  [ "$(jq -r 'select(.stream=="stderr") | .log' "$log")" = err ]
  jq -e '.time | test("^[0-9-]+T[0-9:.]+Z$")' "$log" >/dev/null
  [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 0 ]
  [ ! -e "$run_file" ]
  ! grep -q "$CTR_ROOT/containers/$id" /proc/self/mountinfo || fail "its mounts are still there"
  [ -z "$(cgroup_children)" ]
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "-d survives the shell that started it; --rm removes it after" {
  bash -c 'ctr-run -d --rm --name orphan busybox sleep 1 > '"$BATS_TEST_TMPDIR/id"
  id=$(cat "$BATS_TEST_TMPDIR/id")
  [ "$(jq -r .status "$CTR_RUNDIR/containers/$id.json")" = running ]
  for _ in $(seq 100); do [ -d "$CTR_ROOT/containers/$id" ] || break; sleep 0.1; done
  [ ! -d "$CTR_ROOT/containers/$id" ]
  [ -z "$(cgroup_children)" ]
}

@test "--restart on-failure:2 restarts twice, then records the failure" {
  run ctr-run -d --restart on-failure:2 busybox sh -c 'echo run; exit 4'
  assert_success
  id=$output
  wait_exited "$id"
  [ "$(jq -r .log "$CTR_ROOT/containers/$id/log" | grep -c '^run$')" = 3 ]
  [ "$(jq -r .restart_count "$CTR_ROOT/containers/$id/state.json")" = 2 ]
  [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 4 ]
  run ctr-run -d --restart on-failure busybox true
  id2=$output
  wait_exited "$id2"
  [ "$(jq -r '.restart_count // 0' "$CTR_ROOT/containers/$id2/state.json")" = 0 ]
  rm -rf "$CTR_ROOT/containers/$id" "$CTR_ROOT/containers/$id2"
  run ctr-run --rm --restart always busybox true
  assert_failure 125
  run ctr-run --restart sometimes busybox true
  assert_failure 125
}

@test "-d with a missing command fails like docker run: 127, container kept as exited" {
  run -127 --separate-stderr ctr-run -d --name nocmd busybox nosuchcmd
  [[ "$stderr" == *"executable file not found"* ]]
  id=$(basename "$(dirname "$(grep -l '"nocmd"' "$CTR_ROOT"/containers/*/state.json)")")
  wait_exited "$id"
  [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 127 ]
  rm -rf "$CTR_ROOT/containers/$id"
  no_leftovers
}

@test "--init reaps zombies and forwards signals; without it zombies stay" {
  run probe --init -- zombies 5
  assert_success
  [ "$(echo "$output" | tail -1 | grep -o '[0-9]*$')" = 0 ]
  run probe -- zombies 5
  assert_success
  [ "$(echo "$output" | tail -1 | grep -o '[0-9]*$')" = 5 ]
  ctr-run --rm --init probe /probe pause > "$BATS_TEST_TMPDIR/out" &
  runpid=$!
  wait_file "$BATS_TEST_TMPDIR/out"
  kill -TERM $runpid
  wait $runpid
  grep -q "signal 15" "$BATS_TEST_TMPDIR/out"
  run ctr-run --rm --init busybox sh -c 'exit 5'
  assert_failure 5
  run ctr-run --rm --init busybox cat /proc/1/cmdline
  assert_output --partial ctr-init
}

@test "--userns auto: root inside is an unprivileged uid outside" {
  # the container's uid must reach its bundle, as it can under /var/lib/ctr
  d=$CTR_ROOT
  while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+x "$d"; d=$(dirname "$d"); done
  run ctr-run --rm --userns auto probe /probe info
  assert_success
  map=$(jq -r .uid_map <<<"$output" | awk 'NF {print $1, $3}')
  [ "$map" = "0 65536" ]
  [ "$(jq -r .uid_map <<<"$output" | awk 'NF {print $2}')" -ge 100000 ]
  [ "$(jq -r .uid <<<"$output")" = 0 ]
  [ "$(jq -r .ns.user <<<"$output")" != "$(readlink /proc/self/ns/user)" ]
  # its processes are that uid on the host
  ctr-run --rm --userns auto --pidfile "$BATS_TEST_TMPDIR/pid" busybox sleep 2 &
  runpid=$!
  wait_file "$BATS_TEST_TMPDIR/pid"
  [ "$(awk '/^Uid:/ {print $2}' /proc/"$(cat "$BATS_TEST_TMPDIR/pid")"/status)" -ge 100000 ]
  wait $runpid
}

@test "-t gives the container a pty of its own devpts, with our window size" {
  run script -qec "stty rows 33 cols 101; ctr-run --rm -t probe /probe info" /dev/null
  assert_success
  line=$(echo "$output" | tr -d '\r' | grep '^{')
  [ "$(jq -r .tty.stdin.isatty <<<"$line")" = true ]
  [ "$(jq -r .tty.stdin.rows <<<"$line")" = 33 ]
  [ "$(jq -r .tty.stdin.cols <<<"$line")" = 101 ]
  run script -qec "ctr-run --rm -t busybox tty" /dev/null
  assert_output --partial /dev/pts/0
}

@test "50 containers started in parallel: all run, ids and names unique, nothing left after" {
  seq 50 | xargs -P 25 -I{} sh -c 'ctr-run -d busybox sh -c "echo {}" > '"$BATS_TEST_TMPDIR"'/id.{}'
  ids=$(cat "$BATS_TEST_TMPDIR"/id.* | sort -u | wc -l)
  [ "$ids" = 50 ]
  for f in "$BATS_TEST_TMPDIR"/id.*; do wait_exited "$(cat "$f")"; done
  names=$(jq -r .name "$CTR_ROOT"/containers/*/state.json | sort -u | wc -l)
  [ "$names" = 50 ]
  for f in "$BATS_TEST_TMPDIR"/id.*; do
    id=$(cat "$f")
    [ "$(jq -r .exit_code "$CTR_ROOT/containers/$id/state.json")" = 0 ]
    [ "$(jq -r .log "$CTR_ROOT/containers/$id/log")" = "${f##*.}" ]
    rm -rf "$CTR_ROOT/containers/$id"
  done
  no_leftovers
}

@test "the host's binaries are not writable from inside (CVE-2019-5736)" {
  # ctr-init is bound read-only; no process of ctr's is visible inside
  run ctr-run --rm --init busybox sh -c 'echo x > /sbin/ctr-init; echo x > /proc/1/exe; ls -l /proc/[0-9]*/exe 2>/dev/null | grep -c ctr-run'
  assert_output --partial "Read-only file system"
  assert_line 0
  # the init bound in is the static binary itself (no interpreter to swap)
  [ "$(head -c 4 "${CTR_BUILD:-$TESTS_DIR/../build}/bin/ctr-init" | od -An -c | tr -d ' ')" = '177ELF' ]
}

@test "output that is not UTF-8 is logged with U+FFFD, as docker does" {
  run ctr-run --name utf busybox sh -c 'printf "ok1\n\377bad\nok2\n"'
  assert_success
  id=$(basename "$(dirname "$(grep -l '"utf"' "$CTR_ROOT"/containers/*/state.json)")")
  [ "$(jq -r .log "$CTR_ROOT/containers/$id/log" | tr -d '\n')" = "ok1$(printf '\357\277\275')badok2" ]
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "-d --pidfile has the container's pid while it runs; ctr-image rm keeps a container's layers" {
  run ctr-run -d --pidfile "$BATS_TEST_TMPDIR/pid" busybox sleep 1
  id=$output
  wait_file "$BATS_TEST_TMPDIR/pid"
  [ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")" ]
  wait_exited "$id"
  [ ! -e "$BATS_TEST_TMPDIR/pid" ]
  rm -rf "$CTR_ROOT/containers/$id"
  # a container keeps its layers even when its image goes
  tar -C "$(ctr-image unpack busybox)" -cf - . | ctr-image import --rootfs --name keepme:1 - >/dev/null
  lower=$(ctr-image unpack keepme:1)
  run ctr-run create --name keeper keepme:1 echo still-here
  id=$output
  ctr-image rm keepme:1
  ctr-image prune
  [ -d "$lower" ]
  run ctr-run start -a keeper
  assert_success
  assert_output still-here
  rm -rf "$CTR_ROOT/containers/$id"
}

@test "compiled seccomp filters are cached by what they were made from" {
  run probe -- syscall mount
  [ "$(jq -r .errno <<<"$output")" = EPERM ]
  [ -n "$(ls "$CTR_RUNDIR/seccomp")" ]
  # another capability set is another profile, hence another filter
  run probe --cap-add SYS_ADMIN -- syscall mount
  [ "$(jq -r .errno <<<"$output")" = 0 ]
  # a damaged cache entry is not trusted: the filter is made again
  for f in "$CTR_RUNDIR"/seccomp/*.bpf; do printf 'garbage' > "$f"; done
  run probe -- syscall mount
  [ "$(jq -r .errno <<<"$output")" = EPERM ]
  # warm starts remember chain ids per image config
  ls "$CTR_RUNDIR"/images/*.chain >/dev/null
}
