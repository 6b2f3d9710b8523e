#!/usr/bin/env bats
# ctr-run -it in the foreground, and the detach keys: ctrl-p ctrl-q (or
# --detach-keys) leave the container running under a monitor, as -d
# would have, and ctr-run exits 0. Driven through a real pseudo-terminal
# (tests/helpers/pty-drive.py).

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

drive() { # drive STEP... -- COMMAND...: pty-drive.py, its lines in $output
  run python3 "$TESTS_DIR/helpers/pty-drive.py" "$@"
}

id_of() { jq -r --arg n "$1" 'select(.name == $n) | .id' "$CTR_ROOT"/containers/*/state.json; }

@test "-it: what is typed reaches the container, its exit status is ctr-run's" {
  drive 'expect:# ' 'send:echo "got $((6*7))"; exit 7\r' exit -- ctr-run -it --rm probe sh
  assert_success
  assert_line "exit 7"
  assert_output --partial 'got 42'
}

@test "ctrl-p ctrl-q detaches: ctr-run exits 0, the container runs on under a monitor that was its parent" {
  drive 'expect:# ' 'send:echo before\r' 'expect:before\r\n' 'send:\x10\x11' exit -- \
    ctr-run -it --name det probe sh
  assert_success
  assert_line "exit 0"
  id=$(id_of det)
  run jq -r .status "$CTR_RUNDIR/containers/$id.json"
  assert_output running
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$id.json")
  mon=$(jq -r .monitor_pid "$CTR_RUNDIR/containers/$id.json")
  # the same process, now ctr-monitor, still its parent, in a session of its own
  for _ in $(seq 50); do [ "$(cat /proc/"$mon"/comm)" = ctr-monitor ] && break; sleep 0.1; done
  [ "$(cat /proc/"$mon"/comm)" = ctr-monitor ]
  [ "$(awk '/^PPid:/ {print $2}' /proc/"$pid"/status)" = "$mon" ]
  [ "$(ps -o sid= -p "$mon" | tr -d ' ')" = "$mon" ]
  # what it printed before is in the log, and it can be reached
  run ctr-logs det
  assert_output --partial before
  run ctr-exec det echo still-here
  assert_output still-here
  # and its end is recorded by the monitor
  ctr-kill det
  for _ in $(seq 100); do [ "$(jq -r .status "$CTR_ROOT/containers/$id/state.json")" = exited ] && break; sleep 0.1; done
  run jq -c '[.status, .exit_code]' "$CTR_ROOT/containers/$id/state.json"
  assert_output '["exited",137]'
}

@test "--detach-keys: its own keys detach; a prefix that goes no further is typed as it was" {
  # cat -v shows ctrl-a as ^A: it reached the container, with what followed
  drive 'expect:\n' 'send:a\x01yb\r' 'expect:a^Ayb' 'send:\x01x' exit -- \
    ctr-run -it --name keys --detach-keys ctrl-a,x probe sh -c 'echo; exec cat -v'
  assert_success
  assert_line "exit 0"
  run ctr-ps -q -f name=keys
  assert_output "$(id_of keys | cut -c1-12)"
  # the default keys are plain bytes to this container
  run ctr-logs keys
  assert_output --partial 'a^Ayb'
}

@test "--rm then detach: the monitor removes the container when it ends" {
  drive 'expect:\n' 'send:\x10\x11' exit -- ctr-run -it --rm --name gone probe sh -c 'echo; sleep 2; exit 3'
  assert_line "exit 0"
  [ -n "$(id_of gone)" ]
  for _ in $(seq 100); do [ -z "$(id_of gone)" ] && break; sleep 0.1; done
  [ -z "$(id_of gone)" ]
}

@test "the front killed: the container runs on under its monitor" {
  drive 'expect:# ' pid 'sleep:0.2' -- ctr-run -it --name orphan probe sh
  front=$(sed -n 's/^pid //p' <<<"$output")
  # pty-drive killed the front at its end (SIGKILL, as a lost ssh would)
  id=$(id_of orphan)
  for _ in $(seq 50); do
    mon=$(jq -r .monitor_pid "$CTR_RUNDIR/containers/$id.json")
    [ "$(cat /proc/"$mon"/comm 2>/dev/null)" = ctr-monitor ] && break
    sleep 0.1
  done
  [ "$(cat /proc/"$mon"/comm)" = ctr-monitor ]
  [ "$mon" != "$front" ]
  run ctr-exec orphan echo alive
  assert_output alive
}

@test "bad --detach-keys: 125 and one line, nothing made" {
  before=$(store_listing)
  for keys in ctrl-1 ctrl- ab 'a,' ; do
    run ctr-run -it --detach-keys "$keys" probe true
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    assert_output --partial "--detach-keys $keys"
  done
  [ "$(store_listing)" = "$before" ]
}
