# shellcheck shell=bash
# Misbehaving servers for the registry client's tests (pull.bats,
# push.bats): python scripts in tests/helpers/registry-faults/, each
# writing the port it listens on (127.0.0.1) to a file. Source after
# common.bash; $W must be the test's work directory, SERVER_PIDS an array
# that teardown kills.
#
#   start_server NAME ARGS…   stall | slowproxy UPSTREAM RATE up|down |
#                             cutup UPSTREAM CUT | fakereg SPEC LOG |
#                             fakepush SPEC LOG
#   server_port NAME          the port it listens on
#   $FAULTS_PY/mkmulti.py     builds a multi-platform OCI layout

FAULTS_PY=$TESTS_DIR/helpers/registry-faults

start_server() { # NAME ARGS…
  local name=$1 port=$W/$1.port
  shift
  PYTHONPATH=$FAULTS_PY python3 "$FAULTS_PY/$name.py" "$@" "$port" </dev/null >"$W/$name.log" 2>&1 3>&- &
  SERVER_PIDS+=($!)
  for _ in $(seq 100); do
    [[ -s $port ]] && break
    sleep 0.05
  done
  [[ -s $port ]]
}
server_port() { cat "$W/$1.port"; }
