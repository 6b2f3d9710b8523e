#!/usr/bin/env bats
# ctr-net connect, disconnect, gc (lib/net/attach.c, cniexec.c): containers
# made by `ctr-run create --network none`, each with a network namespace of
# its own ($P-NAME) passed with --netns, or pinned at $CTR_RUNDIR/netns/ID
# with a fake running process for the container; ctr-net itself runs in a
# "host" namespace $P-h (nsenter: the same mount namespace, so the pins it
# unmounts are ours). Teardown removes every namespace, mount and process.

load helpers/common
load helpers/netns

setup() {
  requires ip nft jq busybox nsenter
  setup_store
  P="ctrtest-nc${BATS_TEST_NUMBER}-$$"
  H="$P-h"
  SERVERS=()
  ip netns add "$H"
  ip -n "$H" link set lo up
  run ctr-image import --from-host busybox
  assert_success
}

teardown() {
  local pid ns m
  for pid in "${SERVERS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for m in $(awk -v d="$CTR_RUNDIR/netns/" 'index($2, d) == 1 {print $2}' /proc/self/mounts); do
    umount -l "$m" 2>/dev/null || true
  done
  netns_remove_all "$P-"
}

# ctr-net (or any command) in the host namespace.
inh() { nsenter --net="/run/netns/$H" "$@"; }

# mkctr NAME: a container NAME (ctr-run create) with namespace $P-NAME;
# its id in $ID.
mkctr() {
  ip netns add "$P-$1"
  ip -n "$P-$1" link set lo up
  ID=$(ctr-run create --name "$1" --network none busybox sleep 1000)
  [ -n "$ID" ] || fail "ctr-run create $1 failed"
}

# run_fake NAME: make NAME "running" as lib/run records it (a process in
# its namespace, its running file) and pin the namespace; pid in $FAKE_PID.
run_fake() {
  local id start
  id=$(idof "$1")
  ip netns exec "$P-$1" sleep 1000 &
  FAKE_PID=$!
  SERVERS+=("$FAKE_PID")
  sleep 0.1
  start=$(sed 's/.*) //' "/proc/$FAKE_PID/stat" | awk '{print $20}')
  mkdir -p "$CTR_RUNDIR/containers" "$CTR_RUNDIR/netns"
  jq -n --argjson pid "$FAKE_PID" --argjson s "$start" \
    '{status: "running", pid: $pid, pid_start: $s, monitor_pid: 0, monitor_start: 0,
      started: "2026-01-01T00:00:00Z"}' > "$CTR_RUNDIR/containers/$id.json"
  touch "$CTR_RUNDIR/netns/$id"
  mount --bind "/run/netns/$P-$1" "$CTR_RUNDIR/netns/$id"
}

# The id of container NAME.
idof() {
  local f
  for f in "$CTR_ROOT"/containers/*/state.json; do
    [ "$(jq -r .name "$f")" != "$1" ] || jq -r .id "$f"
  done
}

# Everything an attachment owns, counted: host links, ctr's rules and set
# elements, lease files, records, cache files, pins, hosts lines.
counts() {
  echo "veths $(ip -n "$H" -o link show type veth | wc -l)"
  echo "rules $(inh nft -j list ruleset 2>/dev/null | jq '[.nftables[] | select(.rule)] | length')"
  echo "elems $(inh nft -j list ruleset 2>/dev/null | jq '[.nftables[] | select(.set) | .set.elem // [] | .[]] | length')"
  echo "leases $(find "$CTR_ROOT/networks" -mindepth 2 -type f ! -name lock ! -name 'last_reserved_ip.0' 2>/dev/null | wc -l)"
  echo "records $(ls "$CTR_RUNDIR/networks" 2>/dev/null | grep -c '\.json$')"
  echo "cache $(find "$CTR_RUNDIR/networks/cache" -type f 2>/dev/null | wc -l)"
  echo "hosts $(cat "$CTR_RUNDIR"/networks/*.hosts 2>/dev/null | wc -l)"
  echo "pins $(ls "$CTR_RUNDIR/netns" 2>/dev/null | wc -l)"
}

serve() {
  ip netns exec "$P-$1" busybox nc -ll -p "$2" -e echo "$3" >/dev/null 2>&1 &
  SERVERS+=($!)
}

# fetch CMD... ADDR PORT: what a TCP connection made by CMD reads.
fetch() {
  local out _
  for _ in $(seq 30); do
    out=$(timeout 3 "$@" </dev/null 2>/dev/null) && [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.1
  done
  return 1
}


@test "connect --netns: address, route, MAC in the container, its record and name" {
  mkctr web
  run inh ctr-net connect --netns "/run/netns/$P-web" --alias www --mac-address 02:42:0a:58:00:09 \
    --format json bridge web
  assert_success
  echo "$output" | jq -e '.network == "bridge" and .ifname == "eth0" and .prefix == 16 and
    .gateway == "10.88.0.1" and .mac == "02:42:0a:58:00:09" and .aliases == ["www"] and
    .driver == "bridge" and (.ip | startswith("10.88."))'
  ip=$(echo "$output" | jq -r .ip)
  run ip -n "$P-web" -o -4 addr show eth0
  assert_output --partial "inet $ip/16"
  run ip -n "$P-web" link show eth0
  assert_output --partial "link/ether 02:42:0a:58:00:09"
  run ip -n "$P-web" route show default
  assert_output --partial "via 10.88.0.1 dev eth0"
  run jq -c '.[0] | [.network, .ip]' "$CTR_RUNDIR/networks/$ID.json"
  assert_output "[\"bridge\",\"$ip\"]"
  run cat "$CTR_RUNDIR/networks/bridge.hosts"
  assert_output "$ip web ${ID:0:12} www # $ID"
  # --netns: ctr-run owns state.json then
  run jq -c .networks "$CTR_ROOT/containers/$ID/state.json"
  assert_output "[]"
}

@test "names follow containers: a name and alias resolve on the network until disconnect" {
  mkctr db
  mkctr app
  run inh ctr-net connect --netns "/run/netns/$P-db" --alias postgres bridge db
  assert_success
  run inh ctr-net connect --netns "/run/netns/$P-app" bridge app
  assert_success
  ip=$(jq -r '.[0].ip' "$CTR_RUNDIR/networks/$(idof db).json")
  run ip netns exec "$P-app" busybox nslookup postgres 10.88.0.1
  assert_success
  assert_output --partial "Address: $ip"
  run ip netns exec "$P-app" busybox nslookup db 10.88.0.1
  assert_output --partial "Address: $ip"
  run inh ctr-net disconnect bridge db
  assert_success
  run ip netns exec "$P-app" busybox nslookup postgres 10.88.0.1
  refute_output --partial "Address: $ip"
  run grep -c postgres "$CTR_RUNDIR/networks/bridge.hosts"
  assert_output 0
}

@test "connect prints nothing without --format json; a second network is eth1" {
  mkctr c1
  run inh ctr-net create --subnet 10.60.0.0/24 other
  assert_success
  run inh ctr-net connect --netns "/run/netns/$P-c1" bridge c1
  assert_success
  assert_output ""
  run inh ctr-net connect --netns "/run/netns/$P-c1" other c1
  assert_success
  run ip -n "$P-c1" -o -4 addr show eth1
  assert_output --partial "inet 10.60.0.2/24"
  # the first network keeps the default route
  run ip -n "$P-c1" route show default
  assert_output --partial "dev eth0"
  run jq -r '[.[].network] | join(",")' "$CTR_RUNDIR/networks/$ID.json"
  assert_output "bridge,other"
}

@test "published ports carry bytes from another namespace and from the host's loopback" {
  mkctr web
  netns_outside
  run inh ctr-net connect --netns "/run/netns/$P-web" -p 8080:80 -p 0:81 -p 82/tcp --format json bridge web
  assert_success
  rec=$output
  p81=$(echo "$rec" | jq '.ports[] | select(.containerPort == 81) | .hostPort')
  p82=$(echo "$rec" | jq '.ports[] | select(.containerPort == 82) | .hostPort')
  [ "$p81" -ge 32768 ] && [ "$p81" -le 60999 ] && [ "$p82" -ge 32768 ] && [ "$p82" -le 60999 ]
  [ "$p81" != "$p82" ]
  serve web 80 hello-80
  serve web 81 hello-81
  run fetch ip netns exec "$P-out" busybox nc -w 2 192.168.77.1 8080
  assert_output "hello-80"
  run fetch nsenter --net="/run/netns/$H" busybox nc -w 2 127.0.0.1 8080
  assert_output "hello-80"
  run fetch ip netns exec "$P-out" busybox nc -w 2 192.168.77.1 "$p81"
  assert_output "hello-81"
}

@test "a running container: its pinned namespace, and state.json remembers the request" {
  mkctr app
  run_fake app
  run inh ctr-net connect --ip 10.88.0.50 --alias db -p 5432:5432 bridge app
  assert_success
  run ip -n "$P-app" -o -4 addr show eth0
  assert_output --partial "inet 10.88.0.50/16"
  run jq -c '[.networks, .ports]' "$CTR_ROOT/containers/$ID/state.json"
  assert_output '[[{"name":"bridge","aliases":["db"],"ip":"10.88.0.50","mac":null}],["5432:5432"]]'
  run inh ctr-net disconnect bridge app
  assert_success
  run jq -c .networks "$CTR_ROOT/containers/$ID/state.json"
  assert_output "[]"
  run ip -n "$P-app" link show eth0
  assert_failure
}

@test "connect refuses a container that does not run, without --netns" {
  mkctr idle
  before=$(counts)
  run inh ctr-net connect bridge idle
  assert_failure 1
  assert_output "ctr-net: connect bridge idle: container idle is not running (use --netns to connect one that is being started)"
  [ "$(counts)" = "$before" ]
}

@test "disconnect releases veth, lease, rules and name; -f and twice" {
  mkctr c1
  before=$(counts)
  run inh ctr-net connect --netns "/run/netns/$P-c1" -p 9000:90 bridge c1
  assert_success
  [ "$(counts)" != "$before" ]
  run inh ctr-net disconnect bridge c1
  assert_success
  [ "$(counts)" = "$before" ]
  run ip -n "$P-c1" link show eth0
  assert_failure
  run inh ctr-net disconnect bridge c1
  assert_failure 1
  assert_output "ctr-net: disconnect bridge c1: container c1 is not connected to network bridge"
  run inh ctr-net disconnect -f bridge c1
  assert_success
}

@test "disconnect --all: every network and the namespace pin; idempotent, also once removed" {
  mkctr app
  run_fake app
  run inh ctr-net create --subnet 10.61.0.0/24 n2
  run inh ctr-net connect bridge app
  assert_success
  run inh ctr-net connect n2 app
  assert_success
  run inh ctr-net disconnect --all app
  assert_success
  [ ! -e "$CTR_RUNDIR/netns/$ID" ]
  [ ! -e "$CTR_RUNDIR/networks/$ID.json" ]
  [ "$(ip -n "$H" -o link show | grep -c veth)" = 0 ]
  run inh ctr-net disconnect --all app
  assert_success
  ctr-rm -f app >/dev/null
  run inh ctr-net disconnect --all "$ID"
  assert_success
}

@test "bad input changes nothing: taken address, exhausted subnet, published port, unknown names" {
  mkctr ca
  mkctr cb
  run inh ctr-net create --subnet 10.62.0.0/30 tiny
  assert_success
  run inh ctr-net connect --netns "/run/netns/$P-ca" --ip 10.88.0.9 -p 8080:80 bridge ca
  assert_success
  run inh ctr-net connect --netns "/run/netns/$P-ca" tiny ca
  assert_success
  before=$(counts)
  run inh ctr-net connect --netns "/run/netns/$P-cb" --ip 10.88.0.9 bridge cb
  assert_failure 1
  assert_output --partial "ctr-net: connect bridge cb: "
  assert_output --partial "10.88.0.9"
  [ "$(counts)" = "$before" ]
  run inh ctr-net connect --netns "/run/netns/$P-cb" tiny cb
  assert_failure 1
  assert_output --partial "ctr-net: connect tiny cb: "
  [ "$(counts)" = "$before" ]
  run inh ctr-net connect --netns "/run/netns/$P-cb" -p 8080:80 bridge cb
  assert_failure 1
  assert_output --partial "8080"
  [ "$(counts)" = "$before" ]
  run inh ctr-net connect --netns "/run/netns/$P-cb" nosuch cb
  assert_failure
  assert_output --partial "nosuch"
  [ "$(counts)" = "$before" ]
  run inh ctr-net connect --netns "/run/netns/$P-cb" bridge nobody
  assert_failure 1
  assert_output "ctr-net: connect bridge nobody: no such container: nobody"
  [ "$(counts)" = "$before" ]
  run inh ctr-net connect --netns "/run/netns/$P-ca" bridge ca
  assert_failure 1
  assert_output --partial "already connected to network bridge"
  [ "$(counts)" = "$before" ]
  [ "$(ip -n "$P-cb" -o link show | grep -vc ' lo:')" = 0 ]
}

@test "usage errors: exit 2, one line, nothing changed" {
  mkctr cb
  before=$(counts)
  for args in "--mac-address 01:00:5e:00:00:01" "--mac-address zz" "--ip 10.88.0.300" \
              "-p 80:80/icmp" "-p 70000:80" "--alias -bad" "--ifname a/b" "-p 1:2 -p 1:3"; do
    # shellcheck disable=SC2086
    run inh ctr-net connect --netns "/run/netns/$P-cb" $args bridge cb
    assert_failure 2
    [ "${#lines[@]}" = 1 ] || fail "more than one line for $args: $output"
    [[ "$output" == "ctr-net: connect bridge cb: "* ]] || fail "$args: $output"
  done
  run inh ctr-net connect bridge
  assert_failure 2
  run inh ctr-net disconnect --all
  assert_failure 2
  run inh ctr-net gc extra
  assert_failure 2
  [ "$(counts)" = "$before" ]
}

@test "50 parallel connects never share an address" {
  local i pids=()
  run inh ctr-net create --subnet 10.63.0.0/24 par
  for i in $(seq 50); do mkctr "p$i"; done
  for i in $(seq 50); do
    inh ctr-net connect --netns "/run/netns/$P-p$i" par "p$i" 2>"$BATS_TEST_TMPDIR/err$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a connect failed: $(cat "$BATS_TEST_TMPDIR"/err*)"; done
  run bash -c "cat '$CTR_RUNDIR'/networks/*.json | jq -r '.[].ip' | sort | uniq -d"
  assert_output ""
  [ "$(cat "$CTR_RUNDIR"/networks/*.json | jq -r '.[].ip' | sort -u | wc -l)" = 50 ]
  [ "$(ls "$CTR_ROOT/networks/par" | grep -c '^10\.')" = 50 ]
  [ "$(wc -l < "$CTR_RUNDIR/networks/par.hosts")" = 50 ]
  for i in $(seq 50); do
    ip -n "$P-p$i" -o -4 addr show eth0 | awk '{print $4}'
  done | sort | uniq -d > "$BATS_TEST_TMPDIR/dups"
  [ ! -s "$BATS_TEST_TMPDIR/dups" ]
}

@test "gc after kill -9 releases everything the container had" {
  mkctr keep
  mkctr gone
  run_fake keep
  run inh ctr-net connect bridge keep
  assert_success
  before=$(counts)
  run_fake gone
  run inh ctr-net connect -p 7000:70 --alias g bridge gone
  assert_success
  GONE=$(idof gone)
  grep -q " gone " "$CTR_RUNDIR/networks/bridge.hosts"
  kill -9 "$FAKE_PID"
  wait "$FAKE_PID" 2>/dev/null || true
  run inh ctr-net gc
  assert_success
  assert_line --regexp "^attachment bridge ${GONE:0:12} eth0 10\.88\."
  assert_line "netns ${GONE:0:12}"
  [ "$(counts)" = "$before" ]
  run grep -c " gone " "$CTR_RUNDIR/networks/bridge.hosts"
  assert_output 0
  run ip -n "$P-keep" -o -4 addr show eth0
  assert_success
  run inh ctr-net gc
  assert_success
  assert_output ""
}

@test "gc releases what a connect killed half-way left (a lease without record)" {
  mkctr half
  before=$(counts)
  run inh ctr-net connect --netns "/run/netns/$P-half" -p 7100:71 bridge half
  assert_success
  HALF=$(idof half)
  rm "$CTR_RUNDIR/networks/$HALF.json"
  run inh ctr-net gc
  assert_success
  assert_line --regexp "^lease bridge 10\.88\.[0-9.]+ ${HALF:0:12}$"
  assert_line "names bridge"
  [ "$(counts)" = "$before" ]
}

# ---- external CNI plugins ---------------------------------------------------

# extnet NAME SUBNET [EXTRA-PLUGIN-JSON]: a conflist of Debian's bridge
# (host-local) and portmap, plus an extra plugin at the end.
extnet() {
  local extra=${3:-}
  mkdir -p "$CTR_ROOT/networks"
  jq -n --arg n "$1" --arg s "$2" --arg d "$CTR_ROOT/networks" --argjson x "${extra:-null}" \
    '{cniVersion: "1.0.0", name: $n, plugins: ([
      {type: "bridge", bridge: "cni-\($n)", isGateway: true, ipMasq: true,
       capabilities: {ips: true, mac: true},
       ipam: {type: "host-local", ranges: [[{subnet: $s}]], routes: [{dst: "0.0.0.0/0"}],
             dataDir: $d}},
      {type: "portmap", capabilities: {portMappings: true}, snat: true}
     ] + (if $x then [$x] else [] end))}' > "$CTR_ROOT/networks/$1.conflist"
}

@test "an external plugin network: Debian's bridge, host-local, portmap; cached; DEL on disconnect" {
  mkctr e1
  netns_outside
  extnet ext 10.70.0.0/24
  before=$(counts)
  run inh ctr-net connect --netns "/run/netns/$P-e1" --ip 10.70.0.7 -p 8081:80 --format json ext e1
  assert_success
  echo "$output" | jq -e '.ip == "10.70.0.7" and .prefix == 24 and .driver == "bridge" and
    .gateway == "10.70.0.1" and .ports[0].hostPort == 8081'
  run ip -n "$P-e1" -o -4 addr show eth0
  assert_output --partial "inet 10.70.0.7/24"
  cache="$CTR_RUNDIR/networks/cache/ext/$ID-eth0.json"
  run jq -r '[.kind, .networkName, .ifName, (.config | @base64d | fromjson | .name)] | join(" ")' "$cache"
  assert_output "cniCacheV1 ext eth0 ext"
  grep -q "^10.70.0.7 e1 " "$CTR_RUNDIR/networks/ext.hosts"
  serve e1 80 hello-ext
  run fetch ip netns exec "$P-out" busybox nc -w 2 192.168.77.1 8081
  assert_output "hello-ext"
  run inh ctr-net disconnect ext e1
  assert_success
  [ ! -e "$cache" ]
  [ ! -e "$CTR_ROOT/networks/ext/10.70.0.7" ]
  run ip -n "$P-e1" link show eth0
  assert_failure
  run inh nft list ruleset
  refute_output --partial "8081"
}

@test "a plugin that fails or prints garbage: one line naming it, everything undone" {
  mkctr e1
  bin="$BATS_TEST_TMPDIR/cni"
  mkdir -p "$bin"
  printf '#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho %s\nexit 1\n' \
    "'{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"fake says no\"}'" > "$bin/fakefail"
  printf '#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho this is not json\n' \
    > "$bin/fakegarbage"
  chmod +x "$bin"/fake*
  extnet bad1 10.71.0.0/24 '{"type":"fakefail"}'
  extnet bad2 10.72.0.0/24 '{"type":"fakegarbage"}'
  before=$(counts)
  run inh env CNI_PATH="$bin:/usr/lib/cni" ctr-net connect --netns "/run/netns/$P-e1" bad1 e1
  assert_failure 1
  assert_output "ctr-net: connect bad1 e1: plugin fakefail: fake says no"
  diff <(echo "$before") <(counts)
  run inh env CNI_PATH="$bin:/usr/lib/cni" ctr-net connect --netns "/run/netns/$P-e1" bad2 e1
  assert_failure 1
  assert_output "ctr-net: connect bad2 e1: plugin fakegarbage: ADD printed no result: this is not json"
  [ "$(counts)" = "$before" ]
  [ "$(ip -n "$P-e1" -o link show | grep -vc ' lo:')" = 0 ]
  [ -z "$(ls "$CTR_ROOT/networks/bad1" 2>/dev/null | grep '^10\.')" ]
  run inh env CNI_PATH="$bin" ctr-net connect --netns "/run/netns/$P-e1" bad1 e1
  assert_failure 1
  assert_output --partial "plugin bridge"
  [ "$(counts)" = "$before" ]
}

@test "gc: an external attachment of a dead container is given DEL from its cache" {
  mkctr e2
  run_fake e2
  extnet ext 10.73.0.0/24
  before=$(counts)
  run inh ctr-net connect ext e2
  assert_success
  E2=$(idof e2)
  kill -9 "$FAKE_PID"
  wait "$FAKE_PID" 2>/dev/null || true
  run inh ctr-net gc
  assert_success
  assert_line --regexp "^attachment ext ${E2:0:12} eth0 10\.73\."
  [ ! -e "$CTR_RUNDIR/networks/cache/ext/$E2-eth0.json" ]
  [ -z "$(ls "$CTR_ROOT/networks/ext" | grep '^10\.')" ]
}

@test "a macvlan network from --opt: two containers on the host's link reach each other; disconnect removes it" {
  requires /usr/lib/cni/macvlan /usr/lib/cni/host-local
  # a veth as the master: it needs no kernel module beyond veth
  ip -n "$H" link add mv0 type veth peer name mv1
  ip -n "$H" link set mv0 up
  ip -n "$H" link set mv1 up   # carrier: macvlans of a parent without one stay down
  run inh ctr-net create -d macvlan -o master=mv0 -o mode=bridge --subnet 10.71.0.0/24 mvnet
  assert_success
  mkctr m1
  ID1=$ID
  mkctr m2
  run inh ctr-net connect --netns "/run/netns/$P-m1" --ip 10.71.0.11 mvnet m1
  assert_success
  run inh ctr-net connect --netns "/run/netns/$P-m2" --ip 10.71.0.12 mvnet m2
  assert_success
  # the container's eth0 is a macvlan of the host's mv0
  run ip -n "$P-m1" -d -o link show eth0
  assert_output --partial "macvlan mode bridge"
  run ip -n "$P-m1" -o -4 addr show eth0
  assert_output --partial "inet 10.71.0.11/24"
  serve m2 80 hello-mv
  run fetch ip netns exec "$P-m1" busybox nc -w 2 10.71.0.12 80
  assert_output "hello-mv"
  run inh ctr-net disconnect mvnet m1
  assert_success
  run ip -n "$P-m1" link show eth0
  assert_failure
  [ ! -e "$CTR_ROOT/networks/mvnet/10.71.0.11" ]
  [ -e "$CTR_ROOT/networks/mvnet/10.71.0.12" ]
  [ ! -e "$CTR_RUNDIR/networks/cache/mvnet/$ID1-eth0.json" ]
}
