#!/usr/bin/env bats
# The README's first command ends in `make demo`, which runs
# examples/base-image.sh: here it runs as written, inside a network
# namespace of the test's own (it publishes a port and makes a network)
# and with a store of its own, and must leave nothing behind.

load helpers/common

setup() {
  requires ip nft jq busybox nsenter skopeo
  setup_store
  NS=ctrtest-demo-$$
  ip netns add "$NS"
  ip -n "$NS" link set lo up
}

teardown() {
  local pid pin
  for pid in $(ip netns pids "$NS" 2>/dev/null); do
    kill -9 "$pid" 2>/dev/null || true
  done
  for pin in "$CTR_RUNDIR"/netns/*; do
    [ -e "$pin" ] && umount -l "$pin" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
}

@test "make demo: the base image, containers, and an application of two answering through a published port" {
  run nsenter --net="/run/netns/$NS" env -u CTR_DEFAULT_NETWORK \
    PATH="$CTR_BUILD/bin:$PATH" "$TESTS_DIR/../examples/base-image.sh"
  assert_success
  assert_output --partial "Loaded image: busybox:latest"
  assert_output --partial "tick 3"
  assert_output --regexp "host -> 127\.0\.0\.1:8088 -> web -> db: web [0-9a-f]{12} asked db: rows: 42, kept in volume demo-data"
  # nothing left: no container, network, volume, link but lo, name server
  [ -z "$(ls "$CTR_ROOT/containers")" ]
  [ ! -e "$CTR_ROOT/networks/demo-app.conflist" ]
  [ ! -e "$CTR_ROOT/volumes/demo-data" ]
  [ "$(ip -n "$NS" -o link show | grep -vc ': lo:')" -eq 0 ]
  [ -z "$(ip netns pids "$NS")" ]
}
