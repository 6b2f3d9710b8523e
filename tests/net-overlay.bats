#!/usr/bin/env bats
# ctr-net's overlay driver (lib/net/plugin_overlay.c, vxlan.c): a VXLAN
# network across "hosts". Each host is a network namespace with its own
# CTR_ROOT and CTR_RUNDIR, its eth0 on an underlay 192.168.77.0/24 that
# a "switch" namespace bridges; containers are namespaces of their own,
# attached by the CNI protocol exactly as a runtime does it, with the
# conflist ctr-net create wrote on that host. Every namespace is
# ctrtest-ovN-PID-*, and teardown removes them all (and with them every
# link, rule and server); the machine's own namespace is never touched.

load helpers/common
load helpers/netns

setup() {
  requires ip nft jq busybox bridge
  P="ctrtest-ov${BATS_TEST_NUMBER}-$$"
  W="$BATS_TEST_TMPDIR"
  SERVERS=()
  ip netns add "$P-sw"
  ip -n "$P-sw" link add br0 type bridge
  ip -n "$P-sw" link set br0 up
}

teardown() {
  local pid ns id n pin
  for n in 1 2 3; do
    for id in $(ls "$W/root$n/containers" 2>/dev/null); do
      hn "$n" ctr-rm -f "$id" >/dev/null 2>&1 || true
    done
  done
  for pid in "${SERVERS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  netns_remove_all "$P-"
  for pin in "$W"/run*/netns/*; do
    [ -e "$pin" ] && umount -l "$pin" 2>/dev/null || true
  done
  return 0
}

# hn N CMD...: CMD in host N's network namespace only (nsenter, not ip
# netns exec: the namespace pins ctr-run mounts stay visible to the next
# command, as on a real host), with host N's store.
hn() {
  local n=$1
  shift
  nsenter --net="/run/netns/$P-h$n" env CTR_ROOT="$W/root$n" CTR_RUNDIR="$W/run$n" \
    CTR_DEFAULT_NETWORK= "$@"
}

# host N...: namespace $P-hN with eth0 192.168.77.1N/24 on the switch.
host() {
  local n
  for n in "$@"; do
    ip netns add "$P-h$n"
    ip -n "$P-h$n" link set lo up
    ip -n "$P-sw" link add "u$n" type veth peer name eth0 netns "$P-h$n"
    ip -n "$P-sw" link set "u$n" master br0 up
    ip -n "$P-h$n" addr add "192.168.77.1$n/24" dev eth0
    ip -n "$P-h$n" link set eth0 up
  done
}

# on N CMD...: CMD in host N, with host N's store.
on() {
  local n=$1
  shift
  ip netns exec "$P-h$n" env CTR_ROOT="$W/root$n" CTR_RUNDIR="$W/run$n" "$@"
}

# create N [ARGS...]: the overlay "ov" (VNI 42, 10.50.0.0/16) on host N
# with the peers given (default: hosts 1 and 2).
PEERS=(--peer 192.168.77.11 --peer 192.168.77.12)
create() {
  local n=$1
  shift
  on "$n" ctr-net create --driver overlay --vni 42 --subnet 10.50.0.0/16 "${@:-${PEERS[@]}}" ov
}

# conf N: host N's plugin entry of "ov", as a runtime passes it.
conf() {
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$W/root$1/networks/ov.conflist" \
    >"$W/conf$1.json"
  echo "$W/conf$1.json"
}

# cni N COMMAND C: ctr-net as a CNI plugin on host N for container $P-C.
cni() {
  local n=$1 cmd=$2 c=$3 f
  f=$(conf "$n")
  on "$n" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$c" CNI_NETNS="/run/netns/$P-$c" \
    CNI_IFNAME=eth0 ctr-net <"$f"
}

# attach N C: a new container namespace $P-C on host N's overlay; prints
# its address.
attach() {
  local out
  ip netns add "$P-$2"
  out=$(cni "$1" ADD "$2") || fail "ADD $2 on host $1: $out"
  echo "$out" | jq -r '.ips[0].address' | cut -d/ -f1
}

pings() { ip netns exec "$P-$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

# serve NS PORT: a TCP server in namespace NS (a full name) that answers
# "hello from NS".
serve() {
  ip netns exec "$1" busybox nc -ll -p "$2" -e echo "hello from $1" >/dev/null 2>&1 3>&- &
  SERVERS+=($!)
}

# fetch NS ADDR PORT: what a TCP connection from NS to ADDR:PORT reads.
fetch() {
  local out _
  for _ in $(seq 30); do
    out=$(timeout 3 ip netns exec "$1" busybox nc -w 2 "$2" "$3" </dev/null 2>/dev/null) &&
      [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.1
  done
  return 1
}

# Everything ctr-net may leave on host N: links, FDB entries of VXLAN
# devices, nftables rules, leases.
leftovers() {
  ip -n "$P-h$1" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
  ip netns exec "$P-h$1" bridge fdb show | grep -v 'master br0' | grep ' dst ' || true
  ip netns exec "$P-h$1" nft -j list ruleset | jq -c '[.nftables[] | select(.rule) | .rule.comment]'
  (cd "$W/root$1/networks" 2>/dev/null && find . -path './ov/*' -type f ! -name lock \
    ! -name last_reserved_ip.0 | sort)
}

vxlan_of() { jq -r .plugins[0].vxlan "$W/root$1/networks/ov.conflist"; }
# fdb N: the destinations of host N's all-zeros FDB entries, sorted.
fdb() {
  ip netns exec "$P-h$1" bridge -j fdb show dev "$(vxlan_of "$1")" |
    jq -r '.[] | select(.mac == "00:00:00:00:00:00") | .dst' | sort | xargs
}

@test "create: each host gets its own slice, by its address, the same every time" {
  host 1 2
  run create 1
  assert_success
  assert_output ov
  create 2
  run jq -c '.plugins[0] | {driver, vni, port, subnet, slice, gateway, local, peers, mtu}' \
    "$W/root1/networks/ov.conflist"
  assert_output '{"driver":"overlay","vni":42,"port":4789,"subnet":"10.50.0.0/16","slice":"10.50.11.0/24","gateway":"10.50.11.1","local":"192.168.77.11","peers":["192.168.77.11","192.168.77.12"],"mtu":1450}'
  run jq -c '.plugins[0] | {slice, gateway, local}' "$W/root2/networks/ov.conflist"
  assert_output '{"slice":"10.50.12.0/24","gateway":"10.50.12.1","local":"192.168.77.12"}'
  # bridges (so their MACs) differ between hosts; the VXLAN name follows
  b1=$(jq -r .plugins[0].bridge "$W/root1/networks/ov.conflist")
  b2=$(jq -r .plugins[0].bridge "$W/root2/networks/ov.conflist")
  [ "$b1" != "$b2" ]
  [[ $b1 =~ ^ctr-[0-9a-f]{8}$ ]]
  [ "$(vxlan_of 1)" = "vx-${b1#ctr-}" ]
  # deterministic: removed and made again, host 1 gets the same
  before=$(jq -c '.plugins[0] | del(.dataDir)' "$W/root1/networks/ov.conflist")
  on 1 ctr-net rm ov
  create 1
  [ "$(jq -c '.plugins[0] | del(.dataDir)' "$W/root1/networks/ov.conflist")" = "$before" ]
  # --local picks the address; ls and inspect show the driver
  on 1 ctr-net rm ov
  create 1 --local 192.168.77.11 --peer 192.168.77.12
  run on 1 ctr-net ls --format json
  echo "$output" | jq -e '.[] | select(.name == "ov") | .driver == "overlay" and .subnet == "10.50.0.0/16" and .gateway == "10.50.11.1"'
  # creating makes nothing in the kernel: that waits for the first container
  run ip -n "$P-h1" -o link show
  refute_output --partial vx-
}

@test "containers on two hosts reach each other by address, over VXLAN, unmasqueraded" {
  host 1 2
  create 1
  create 2
  a1=$(attach 1 c1)
  a2=$(attach 2 c2)
  [ "$a1" = 10.50.11.2 ]
  [ "$a2" = 10.50.12.2 ]
  # the container: the whole subnet on-link, its slice's gateway as default route
  run ip -n "$P-c1" -j addr show eth0
  echo "$output" | jq -e '.[0].mtu == 1450 and ([.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] == ["10.50.11.2/16"])'
  run ip -n "$P-c1" -j route show default
  echo "$output" | jq -e '.[0].gateway == "10.50.11.1"'
  # the host: the VXLAN device, a port of the bridge, one FDB entry per other peer
  vx=$(vxlan_of 1)
  run ip -n "$P-h1" -j -d link show "$vx"
  echo "$output" | jq -e '.[0].linkinfo.info_kind == "vxlan" and .[0].linkinfo.info_data.id == 42 and
    .[0].linkinfo.info_data.local == "192.168.77.11" and .[0].linkinfo.info_data.port == 4789 and
    .[0].linkinfo.info_data.learning == false and .[0].mtu == 1450 and
    .[0].master == "'"$(jq -r .plugins[0].bridge "$W/root1/networks/ov.conflist")"'"'
  [ "$(fdb 1)" = 192.168.77.12 ]
  [ "$(fdb 2)" = 192.168.77.11 ]
  pings c1 10.50.12.2
  pings c2 10.50.11.2
  # the other host's gateway too (where its name server listens), and host to container
  pings c1 10.50.12.1
  ip netns exec "$P-h1" busybox ping -c 1 -W 2 10.50.12.2 >/dev/null
  # bytes over TCP, and the peer address the server sees is the container's own
  serve "$P-c2" 7000
  run fetch "$P-c1" 10.50.12.2 7000
  assert_output "hello from $P-c2"
  ip netns exec "$P-c2" busybox nc -ll -p 7001 -e sleep 3 >/dev/null 2>&1 3>&- &
  SERVERS+=($!)
  sleep 0.3
  (timeout 3 ip netns exec "$P-c1" busybox nc 10.50.12.2 7001 </dev/zero >/dev/null 2>&1 3>&- &)
  sleep 0.5
  run ip netns exec "$P-c2" ss -Htn state established '( sport = :7001 )'
  assert_output --regexp '[^0-9]10\.50\.11\.2\]?:[0-9]+$'
  # full-sized frames pass: 1450 on the overlay, no fragmentation
  ip netns exec "$P-c1" busybox ping -c 1 -W 2 -s 1422 10.50.12.2 >/dev/null
}

@test "outbound traffic is masqueraded, except toward the overlay's subnet" {
  host 1 2
  create 1
  create 2
  attach 1 c1 >/dev/null
  # host 2's own underlay address is "outside" for c1: masqueraded as host 1
  ip netns exec "$P-h2" busybox nc -ll -p 7002 -e sleep 3 >/dev/null 2>&1 3>&- &
  SERVERS+=($!)
  sleep 0.3
  (timeout 3 ip netns exec "$P-c1" busybox nc 192.168.77.12 7002 </dev/zero >/dev/null 2>&1 3>&- &)
  sleep 0.5
  run ip netns exec "$P-h2" ss -Htn state established '( sport = :7002 )'
  assert_output --regexp '[^0-9]192\.168\.77\.11\]?:[0-9]+$'
  run ip netns exec "$P-h1" nft list chain inet ctr postrouting
  assert_output --partial "ip saddr 10.50.0.0/16 ip daddr != 10.50.0.0/16 masquerade"
  # the tunnel's own packets skip conntrack, both ways
  run ip netns exec "$P-h1" nft list table inet ctr
  assert_output --partial 'ip daddr 192.168.77.11 udp dport 4789 notrack comment "ctr-net n=ov"'
  assert_output --partial 'ip saddr 192.168.77.11 udp dport 4789 notrack comment "ctr-net n=ov"'
}

@test "isolation holds with bridge-nf-call-iptables on and off: a bridge network cannot reach the overlay" {
  host 1 2
  create 1
  create 2
  on 1 ctr-net create --subnet 10.60.0.0/24 other >/dev/null
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$W/root1/networks/other.conflist" >"$W/other.json"
  attach 1 c1 >/dev/null
  attach 2 c2 >/dev/null
  ip netns add "$P-b1"
  on 1 env CNI_COMMAND=ADD CNI_CONTAINERID=b1 CNI_NETNS="/run/netns/$P-b1" CNI_IFNAME=eth0 \
    ctr-net <"$W/other.json" >/dev/null
  for v in 1 0; do
    for n in 1 2; do
      echo "$v" | ip netns exec "$P-h$n" tee /proc/sys/net/bridge/bridge-nf-call-iptables >/dev/null
    done
    pings c1 10.50.12.2 || fail "overlay traffic dropped with bridge-nf-call-iptables=$v"
    ! pings b1 10.50.11.2 || fail "bridge network reached the overlay with bridge-nf-call-iptables=$v"
    ! pings c1 10.60.0.2 || fail "overlay reached the bridge network with bridge-nf-call-iptables=$v"
  done
}

@test "CHECK passes; DEL of the last container takes the VXLAN device and bridge; nothing is left" {
  host 1 2
  create 1
  create 2
  before=$(leftovers 1)
  attach 1 c1 >/dev/null
  attach 1 c3 >/dev/null
  run cni 1 CHECK c1
  assert_success
  # an FDB entry gone: CHECK says which
  ip netns exec "$P-h1" bridge fdb del 00:00:00:00:00:00 dev "$(vxlan_of 1)" dst 192.168.77.12
  run cni 1 CHECK c1
  assert_failure
  echo "$output" | jq -e '.code == 103 and (.msg | contains("no FDB entry toward peer 192.168.77.12"))'
  # `update` with no change puts the list back
  on 1 ctr-net update ov
  [ "$(fdb 1)" = 192.168.77.12 ]
  run cni 1 CHECK c1
  assert_success
  cni 1 DEL c1
  # one container left: the device stays
  ip -n "$P-h1" link show "$(vxlan_of 1)" >/dev/null
  cni 1 DEL c3
  run cni 1 DEL c3
  assert_success
  [ "$(leftovers 1)" = "$before" ]
}

@test "update --peer-add: a third host joins live; the others' containers keep their connection" {
  host 1 2 3
  create 1
  create 2
  attach 1 c1 >/dev/null
  attach 2 c2 >/dev/null
  # a ping that runs through the whole update
  ip netns exec "$P-c1" busybox ping -i 0.2 -c 25 10.50.12.2 >"$W/ping.out" 2>&1 3>&- &
  pinger=$!
  create 3 --peer 192.168.77.11 --peer 192.168.77.12 --peer 192.168.77.13
  run on 1 ctr-net update ov --peer-add 192.168.77.13
  assert_success
  assert_output ov
  on 2 ctr-net update ov --peer-add 192.168.77.13
  a3=$(attach 3 c3)
  [ "$a3" = 10.50.13.2 ]
  [ "$(fdb 1)" = "192.168.77.12 192.168.77.13" ]
  run jq -c .plugins[0].peers "$W/root1/networks/ov.conflist"
  assert_output '["192.168.77.11","192.168.77.12","192.168.77.13"]'
  pings c3 10.50.11.2
  pings c3 10.50.12.2
  pings c1 10.50.13.2
  wait "$pinger"
  grep -q '25 packets transmitted, 25 packets received' "$W/ping.out" || fail "$(cat "$W/ping.out")"
  # and a host with no container: the file changes, nothing in the kernel
  run on 3 ctr-net update ov --peer-rm 192.168.77.13
  assert_success
}

@test "update --peer-rm: a removed peer is cut off; the rest still talk" {
  host 1 2 3
  create 1 --peer 192.168.77.11 --peer 192.168.77.12 --peer 192.168.77.13
  create 2 --peer 192.168.77.11 --peer 192.168.77.12 --peer 192.168.77.13
  create 3 --peer 192.168.77.11 --peer 192.168.77.12 --peer 192.168.77.13
  attach 1 c1 >/dev/null
  attach 2 c2 >/dev/null
  attach 3 c3 >/dev/null
  pings c1 10.50.13.2
  # host 3 leaves by host 1's list alone: it still sends, but host 1
  # learns nothing from it and answers nobody off its list
  on 1 ctr-net update ov --peer-rm 192.168.77.13
  [ "$(fdb 1)" = 192.168.77.12 ]
  ! pings c1 10.50.13.2 || fail "c1 reached 10.50.13.2"
  ! pings c3 10.50.11.2 || fail "c3 reached 10.50.11.2"
  pings c1 10.50.12.2
  pings c2 10.50.13.2
  # and back
  on 1 ctr-net update ov --peer-add 192.168.77.13
  pings c1 10.50.13.2
}

@test "bad input to create: one line, exit 2 or 1, nothing written, nothing made" {
  host 1
  on 1 ctr-net create --subnet 10.50.128.0/24 taken >/dev/null
  before=$(store_listing "$W/root1")
  links=$(ip -n "$P-h1" -o link show | wc -l)
  check() { # STATUS MESSAGE-PART ARGS...
    local st=$1 msg=$2
    shift 2
    run on 1 ctr-net create "$@" ov
    [ "$status" -eq "$st" ] || fail "status $status, not $st: $output"
    [ "${#lines[@]}" -eq 1 ] || fail "not one line: $output"
    assert_output --partial "$msg"
  }
  O=(--driver overlay --subnet 10.50.0.0/16 --peer 192.168.77.11)
  check 2 "invalid --vni '0': want 1 to 16777215" "${O[@]}" --vni 0
  check 2 "invalid --vni '16777216'" "${O[@]}" --vni 16777216
  check 2 "invalid --vni 'x'" "${O[@]}" --vni x
  check 2 "needs --vni" "${O[@]}"
  check 2 "needs --peer" --driver overlay --vni 42 --subnet 10.50.0.0/16
  check 2 "needs --subnet" --driver overlay --vni 42 --peer 192.168.77.11
  check 2 "--vni needs --driver overlay" --vni 42 --subnet 10.51.0.0/16
  check 2 "--peer needs --driver overlay" --peer 192.168.77.11
  check 2 "--local needs --driver overlay" --local 192.168.77.11
  check 2 "invalid --peer '192.168.77'" --driver overlay --vni 42 --subnet 10.50.0.0/16 --peer 192.168.77
  check 2 "--peer 192.168.77.11 is given twice" "${O[@]}" --vni 42 --peer 192.168.77.11
  check 2 "would share slice 10.50.11.0/24" "${O[@]}" --vni 42 --peer 192.168.78.11
  check 2 "prefix length must be 8 to 20" --driver overlay --vni 42 --subnet 10.50.0.0/24 --peer 192.168.77.11
  check 2 "--gateway: an overlay's gateway" "${O[@]}" --vni 42 --gateway 10.50.0.1
  check 2 "--local 192.168.77.99 is not an address of this host" "${O[@]}" --vni 42 --local 192.168.77.99
  check 1 "subnet 10.50.0.0/16 overlaps network taken (10.50.128.0/24)" "${O[@]}" --vni 42
  check 1 "no route to peer 10.9.9.9" --driver overlay --vni 42 --subnet 10.51.0.0/16 --peer 10.9.9.9
  # a VNI is one network's on a host
  on 1 ctr-net create --driver overlay --vni 42 --subnet 10.52.0.0/16 --peer 192.168.77.11 first >/dev/null
  before=$(store_listing "$W/root1")
  check 1 "VNI 42 is taken by network first" --driver overlay --vni 42 --subnet 10.53.0.0/16 --peer 192.168.77.11
  [ "$(store_listing "$W/root1")" = "$before" ]
  [ "$(ip -n "$P-h1" -o link show | wc -l)" = "$links" ]
}

@test "bad input to update: one line, the conflist unchanged, the FDB unchanged" {
  host 1 2
  create 1
  attach 1 c1 >/dev/null
  on 1 ctr-net create --subnet 10.60.0.0/24 plain >/dev/null
  file="$W/root1/networks/ov.conflist"
  sum=$(sha256sum <"$file")
  check() { # STATUS MESSAGE-PART ARGS...
    local st=$1 msg=$2
    shift 2
    run on 1 ctr-net update "$@"
    [ "$status" -eq "$st" ] || fail "status $status, not $st: $output"
    [ "${#lines[@]}" -eq 1 ] || fail "not one line: $output"
    assert_output --partial "$msg"
  }
  check 2 "update needs one NAME" --peer-add 192.168.77.13
  check 1 "no such network: nope" nope --peer-add 192.168.77.13
  check 1 "network plain is a bridge network: only an overlay has peers" plain --peer-add 192.168.77.13
  check 2 "invalid --peer-add 'x'" ov --peer-add x
  check 1 "192.168.77.12 is already a peer of network ov" ov --peer-add 192.168.77.12
  check 1 "192.168.77.13 is not a peer of network ov" ov --peer-rm 192.168.77.13
  check 2 "without peers" ov --peer-rm 192.168.77.11 --peer-rm 192.168.77.12
  check 2 "would share slice 10.50.12.0/24" ov --peer-add 192.168.78.12
  check 2 "192.168.77.13 is both added and removed" ov --peer-add 192.168.77.13 --peer-rm 192.168.77.13
  [ "$(sha256sum <"$file")" = "$sum" ]
  [ "$(fdb 1)" = 192.168.77.12 ]
}

@test "the plugin refuses a bad overlay entry with a CNI error and makes nothing" {
  host 1 2
  create 1
  ip netns add "$P-c1"
  before=$(leftovers 1)
  f=$(conf 1)
  bad() { # JQ-FILTER MESSAGE-PART
    jq "$1" "$f" >"$W/bad.json"
    run on 1 env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/run/netns/$P-c1" CNI_IFNAME=eth0 \
      ctr-net <"$W/bad.json"
    assert_failure
    echo "$output" | jq -e --arg m "$2" '.code == 7 and (.msg | contains($m))' || fail "$output"
  }
  bad 'del(.vni)' "vni: missing"
  bad '.vni = 16777216' "vni: want an integer from 1 to 16777215"
  bad '.peers = []' "peers: want an array"
  bad '.peers = ["192.168.77.11", "192.168.77.11"]' "peers[1]: listed twice"
  bad '.local = "nope"' "local: not an IPv4 address"
  bad '.slice = "10.50.99.0/24"' "slice: local address gives 10.50.11.0/24"
  bad '.subnet = "10.50.0.0/24" | .gateway = "10.50.0.1" | del(.slice)' "prefix must be /8 to /20"
  bad '.vxlan = "bad name"' "vxlan: want a device name"
  [ "$(leftovers 1)" = "$before" ]
}

@test "ctr-run containers on two hosts: by address and by name across the overlay; removal leaves nothing" {
  requires nsenter
  ctr-run --help 2>&1 | grep -q -- '--network' || skip "ctr-run has no --network"
  host 1 2
  for n in 1 2; do
    create "$n" >/dev/null
    hn "$n" ctr-image import --from-host busybox >/dev/null
  done
  before=$(leftovers 1)
  hn 1 ctr-run -d --name web1 --network ov busybox sleep 300 >/dev/null
  hn 2 ctr-run -d --name web2 --network ov busybox httpd -f -p 8080 -h /etc >/dev/null
  run hn 1 ctr-exec web1 ip -o -4 addr show eth0
  assert_output --partial "inet 10.50.11.2/16"
  run hn 1 ctr-exec web1 ping -c 1 -W 2 10.50.12.2
  assert_success
  run hn 1 ctr-exec web1 wget -q -O - http://10.50.12.2:8080/hostname
  assert_success
  # by name: host 1's name server asks host 2's, at host 2's slice gateway
  run hn 1 ctr-exec web1 ping -c 1 -W 2 web2
  assert_success
  assert_output --partial "10.50.12.2"
  hn 1 ctr-rm -f web1 >/dev/null
  [ "$(leftovers 1)" = "$before" ]
}

@test "ctr-run: a host that joins by update is found by name from the others' containers" {
  requires nsenter
  ctr-run --help 2>&1 | grep -q -- '--network' || skip "ctr-run has no --network"
  host 1 2 3
  create 1 >/dev/null
  create 3 --peer 192.168.77.11 --peer 192.168.77.12 --peer 192.168.77.13 >/dev/null
  for n in 1 3; do
    hn "$n" ctr-image import --from-host busybox >/dev/null
  done
  hn 1 ctr-run -d --name web1 --network ov busybox sleep 300 >/dev/null
  hn 3 ctr-run -d --name web3 --network ov busybox sleep 300 >/dev/null
  # host 1 does not know host 3 yet: neither its address nor its name
  run hn 1 ctr-exec web1 ping -c 1 -W 1 10.50.13.2
  assert_failure
  # it joins: host 1's device and name server learn of it, live
  hn 1 ctr-net update ov --peer-add 192.168.77.13 >/dev/null
  run hn 1 ctr-exec web1 ping -c 1 -W 2 web3
  assert_success
  assert_output --partial "10.50.13.2"
  run hn 3 ctr-exec web3 ping -c 1 -W 2 web1
  assert_success
  assert_output --partial "10.50.11.2"
}
