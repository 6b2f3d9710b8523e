#!/usr/bin/env bats
# ctr-net as a CNI plugin (lib/net/cni.c, plugin_bridge.c), driven exactly
# as a CNI runtime drives it: CNI_* in the environment, the network's
# plugin entry on stdin, the plugin run inside a "host" network namespace
# (ip netns exec), containers as namespaces of their own. Every test makes
# its namespaces (ctrtest-cniN-PID-*) and teardown removes them, with
# every link, rule and server in them; the machine's own namespace is
# never touched.

load helpers/common
load helpers/netns

# Under valgrind (make valgrind: CTR_TEST_WRAPPER), libnftables 1.0.6
# sends netlink messages whose padding libnftnl never wrote (its batch
# buffer is malloc'd, its dump requests are built on the stack): memcheck
# reports those bytes at sendmsg/sendto, inside libnftables, for any
# input. Those two reports, and only from inside libnftables, are
# suppressed for this suite; everything of ctr's stays checked.
setup_file() {
  cat > "$BATS_FILE_TMPDIR/libnftables.supp" <<'EOF'
{
   libnftables-batch-padding
   Memcheck:Param
   sendmsg(msg.msg_iov[0])
   ...
   obj:*/libnftables.so.1*
}
{
   libnftables-dump-request-padding
   Memcheck:Param
   socketcall.sendto(msg)
   ...
   obj:*/libnftables.so.1*
}
EOF
}

setup() {
  export VALGRIND_OPTS="${VALGRIND_OPTS:+$VALGRIND_OPTS }--suppressions=$BATS_FILE_TMPDIR/libnftables.supp"
  requires ip nft jq busybox
  P="ctrtest-cni${BATS_TEST_NUMBER}-$$"
  H="$P-h"
  DATA="$BATS_TEST_TMPDIR/data"
  SERVERS=()
  mkns h
  ip -n "$H" link set lo up
}

teardown() {
  local pid ns
  for pid in "${SERVERS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  netns_remove_all "$P-"
}

# A namespace of this test: mkns NAME... makes $P-NAME.
mkns() {
  local n
  for n in "$@"; do
    ip netns add "$P-$n"
  done
}

# netconf NAME BRIDGE SUBNET GATEWAY [JSON-TO-MERGE]: the plugin entry as
# the runtime passes it (the contract's fields, "name" and "cniVersion"
# added), in $BATS_TEST_TMPDIR/NAME.json; prints that path.
netconf() {
  local f="$BATS_TEST_TMPDIR/$1.json"
  jq -nc --arg n "$1" --arg b "$2" --arg s "$3" --arg g "$4" --arg d "$DATA" \
    --argjson x "${5:-{\}}" \
    '{cniVersion: "1.0.0", name: $n, type: "ctr-net", driver: "bridge", bridge: $b,
      subnet: $s, gateway: $g, internal: false, mtu: 1500, dataDir: $d,
      capabilities: {portMappings: true}, options: {}} + $x' > "$f"
  echo "$f"
}

# cni COMMAND CONTAINER [IFNAME] <CONF: ctr-net in the host namespace for
# container namespace $P-CONTAINER (its id: CONTAINER).
cni() {
  ip netns exec "$H" env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS="/run/netns/$P-$2" CNI_IFNAME="${3:-eth0}" CNI_PATH=/usr/lib/cni \
    ${CNI_ARGS:+CNI_ARGS="$CNI_ARGS"} ctr-net
}

# After `run cni …` that must fail: exit non-zero, a CNI error object on
# stdout with that code and every WORD in its msg.
assert_cni_error() {
  local code=$1 w
  shift
  [ "$status" -ne 0 ] || fail "succeeded: $output"
  echo "$output" | jq -e 'has("cniVersion") and (.msg | type == "string")' >/dev/null ||
    fail "not a CNI error object: $output"
  [ "$(echo "$output" | jq .code)" = "$code" ] || fail "code is not $code: $output"
  for w in "$@"; do
    [[ "$(echo "$output" | jq -r .msg)" == *"$w"* ]] || fail "msg lacks '$w': $output"
  done
}

# The address (without prefix) ADD gave, from its result in $output.
result_ip() { echo "$output" | jq -r '.ips[0].address' | cut -d/ -f1; }

# ctr's rules and set elements in the host namespace (the empty table and
# its base chains may stay, as docker's and netavark's do).
rules() {
  ip netns exec "$H" nft -j list ruleset |
    jq -c '[.nftables[] | select(.rule) | .rule | {chain, comment}]'
}
nrules() { rules | jq length; }
elements() {
  ip netns exec "$H" nft -j list ruleset |
    jq -c '[.nftables[] | select(.set) | .set.elem // [] | .[]]'
}
# Everything ctr-net may leave behind: host links, rules, set elements,
# lease files, and the links of the given containers.
leftovers() {
  local c
  ip -n "$H" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
  rules
  elements
  (cd "$DATA" 2>/dev/null && find . -type f ! -name lock ! -name 'last_reserved_ip.0' | sort)
  for c in "$@"; do
    ip -n "$P-$c" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
  done
}


# One TCP server in namespace $P-$1 on port $2 that answers $3 to every
# connection, stopped by teardown.
serve() {
  ip netns exec "$P-$1" busybox nc -ll -p "$2" -e echo "$3" >/dev/null 2>&1 &
  SERVERS+=($!)
}

# fetch NS ADDR PORT: what a TCP connection from namespace NS (a full
# name) to ADDR:PORT reads (retried while the server starts).
fetch() {
  local out _
  for _ in $(seq 30); do
    out=$(timeout 3 ip netns exec "$1" busybox nc -w 2 "$2" "$3" </dev/null 2>/dev/null) &&
      [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.1
  done
  return 1
}

pings() { ip netns exec "$P-$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

@test "VERSION: the versions spoken, with or without a configuration on stdin" {
  run ip netns exec "$H" env CNI_COMMAND=VERSION ctr-net </dev/null
  assert_success
  echo "$output" | jq -e '.cniVersion == "1.1.0" and
    .supportedVersions == ["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'
  run ip netns exec "$H" env CNI_COMMAND=VERSION ctr-net <<<'{"cniVersion":"0.4.0"}'
  assert_success
  echo "$output" | jq -e '.supportedVersions | index("1.0.0") != null'
}

@test "ADD: the result names bridge, host veth and eth0; the container has its address and default route" {
  mkns c1
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  echo "$output" | jq -e --arg ns "/run/netns/$P-c1" '
    .cniVersion == "1.0.0" and (.interfaces | length) == 3 and
    .interfaces[0].name == "ctr0" and (.interfaces[1].name | test("^veth[0-9a-f]{8}$")) and
    .interfaces[2].name == "eth0" and .interfaces[2].sandbox == $ns and
    (.interfaces | all(.mac | test("^([0-9a-f]{2}:){5}[0-9a-f]{2}$"))) and
    .ips == [{"address":"10.88.0.2/16","gateway":"10.88.0.1","interface":2}] and
    .routes == [{"dst":"0.0.0.0/0","gw":"10.88.0.1"}] and .dns == {} and
    (.ips[0] | has("version") | not)'
  veth=$(echo "$output" | jq -r '.interfaces[1].name')
  mac=$(echo "$output" | jq -r '.interfaces[2].mac')
  # the container side, as ip sees it
  run ip -n "$P-c1" -j addr show eth0
  echo "$output" | jq -e --arg mac "$mac" '.[0] | .operstate == "UP" and .mtu == 1500 and
    .address == $mac and ([.addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen) \(.broadcast)"] == ["10.88.0.2/16 10.88.255.255"])'
  run ip -n "$P-c1" -j route show default
  echo "$output" | jq -e '.[0].gateway == "10.88.0.1" and .[0].dev == "eth0"'
  # the host side: the bridge with the gateway, the veth its port, up
  run ip -n "$H" -j -d link show ctr0
  echo "$output" | jq -e '.[0].linkinfo.info_kind == "bridge" and (.[0].flags | index("UP"))'
  run ip -n "$H" -j addr show ctr0
  echo "$output" | jq -e '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] == ["10.88.0.1/16"]'
  run ip -n "$H" -j -d link show "$veth"
  echo "$output" | jq -e '.[0].master == "ctr0" and .[0].linkinfo.info_slave_data.hairpin == true and (.[0].flags | index("UP"))'
  # forwarding on, and route_localnet on the bridge (for 127.0.0.1:PORT)
  [ "$(ip netns exec "$H" cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
  [ "$(ip netns exec "$H" cat /proc/sys/net/ipv4/conf/ctr0/route_localnet)" = 1 ]
  # the lease, in host-local's format
  [ "$(cat "$DATA/web/10.88.0.2")" = "$(printf 'c1\r\neth0')" ]
  [ "$(cat "$DATA/web/last_reserved_ip.0")" = 10.88.0.2 ]
  [ -f "$DATA/web/lock" ]
}

@test "two containers reach each other and the gateway; the next address follows the last one" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.88.0.2 ]
  run cni ADD c2 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.88.0.3 ]
  pings c1 10.88.0.3
  pings c2 10.88.0.2
  pings c1 10.88.0.1
  # the bridge's MAC is fixed (derived from its name): it does not change
  # as ports come and go, so containers' ARP entries for the gateway hold
  mac=$(ip -n "$H" -j link show ctr0 | jq -r '.[0].address')
  cni DEL c2 <"$conf"
  [ "$(ip -n "$H" -j link show ctr0 | jq -r '.[0].address')" = "$mac" ]
}

@test "masquerade: a container reaches an outside namespace that has no route back to it" {
  mkns c1
  netns_outside
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  pings c1 192.168.77.2
  # only ctr's own table, and its masquerade rule for the subnet
  run ip netns exec "$H" nft -j list ruleset
  echo "$output" | jq -e '[.nftables[] | select(.table) | .table | "\(.family) \(.name)"] == ["inet ctr"]'
  rules | jq -e 'map(select(.chain == "postrouting" and .comment == "ctr-net n=web")) | length == 3'
  run ip netns exec "$H" nft list chain inet ctr postrouting
  assert_output --partial 'ip saddr 10.88.0.0/16 ip daddr != 10.88.0.0/16 masquerade comment "ctr-net n=web"'
}

@test "a published port answers on the host's address, on its 127.0.0.1, from other containers and from itself" {
  mkns c1 c2
  netns_outside
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1 \
    '{"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""}]}}')
  plain=$(netconf web2 ctr0 10.88.0.0/16 10.88.0.1 '{"name":"web"}')
  run cni ADD c1 <"$conf"
  assert_success
  run cni ADD c2 <"$plain"
  assert_success
  serve c1 80 hello-from-c1
  run fetch "$P-out" 192.168.77.1 8080
  assert_output hello-from-c1
  run fetch "$H" 127.0.0.1 8080
  assert_output hello-from-c1
  run fetch "$H" 192.168.77.1 8080
  assert_output hello-from-c1
  run fetch "$P-c2" 192.168.77.1 8080
  assert_output hello-from-c1
  # hairpin: the container through the host's port to itself
  run fetch "$P-c1" 10.88.0.1 8080
  assert_output hello-from-c1
  # the port is reserved, with its owner's tag, and two DNAT rules
  elements | jq -e 'map(select(type == "object")) | .[0].elem.val.concat == ["tcp", 8080]'
  rules | jq -e 'map(select(.comment | test("^ctr-net n=web a=[0-9a-f]{16}$"))) | map(.chain) | sort == ["output","prerouting"]'
}

@test "a host port published twice: the second ADD fails (102) and leaves nothing; the first keeps it" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1 \
    '{"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80},{"hostPort":53,"containerPort":53,"protocol":"udp"}]}}')
  run cni ADD c1 <"$conf"
  assert_success
  before=$(leftovers c2)
  conf2=$(netconf web2 ctr0 10.88.0.0/16 10.88.0.1 \
    '{"name":"web","runtimeConfig":{"portMappings":[{"hostPort":8081,"containerPort":80},{"hostPort":8080,"containerPort":81}]}}')
  run cni ADD c2 <"$conf2"
  assert_cni_error 102 "tcp/8080" "already published"
  [ "$(leftovers c2)" = "$before" ]
  run cni CHECK c1 <"$conf"
  assert_success
}

@test "two networks cannot reach each other; each reaches its gateway and the outside" {
  mkns a1 b1
  netns_outside
  a=$(netconf neta ctra 10.91.0.0/24 10.91.0.1)
  b=$(netconf netb ctrb 10.92.0.0/24 10.92.0.1)
  run cni ADD a1 <"$a"
  assert_success
  run cni ADD b1 <"$b"
  assert_success
  pings a1 10.91.0.1
  pings b1 10.92.0.1
  pings a1 192.168.77.2
  pings b1 192.168.77.2
  run ! pings a1 10.92.0.2
  run ! pings b1 10.91.0.2
  elements | jq -e 'map(select(type == "string")) | sort == ["ctra","ctrb"]'
}

@test "an internal network: containers reach each other, not the outside; no masquerade" {
  mkns c1 c2
  netns_outside
  conf=$(netconf intra ctri 10.96.0.0/24 10.96.0.1 '{"internal":true}')
  run cni ADD c1 <"$conf"
  assert_success
  run cni ADD c2 <"$conf"
  assert_success
  pings c1 10.96.0.3
  run ! pings c1 192.168.77.2
  # and the outside cannot get in either (given a route)
  ip -n "$P-out" route add 10.96.0.0/24 via 192.168.77.1
  run ! ip netns exec "$P-out" busybox ping -c 1 -W 1 10.96.0.2 >/dev/null 2>&1
  rules | jq -e 'map(select(.comment == "ctr-net n=intra")) | map(.chain) == ["forward","forward"]'
  run ip netns exec "$H" nft list chain inet ctr postrouting
  refute_output --partial masquerade
}

@test "DEL removes the veth, the lease and the rules; twice is fine; the last one takes the bridge" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1 \
    '{"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80}]}}')
  plain=$(netconf web2 ctr0 10.88.0.0/16 10.88.0.1 '{"name":"web"}')
  run cni ADD c1 <"$conf"
  assert_success
  veth=$(echo "$output" | jq -r '.interfaces[1].name')
  run cni ADD c2 <"$plain"
  assert_success
  n=$(nrules)
  [ "$n" -eq 7 ] # the network's 5, c1's 2
  run cni DEL c1 <"$conf"
  assert_success
  [ -z "$output" ]
  [ "$(nrules)" -eq 5 ]
  run ! ip -n "$H" link show "$veth" 2>/dev/null
  run ! ip -n "$P-c1" link show eth0 2>/dev/null
  [ ! -e "$DATA/web/10.88.0.2" ]
  elements | jq -e 'map(select(type == "object")) == []'
  run cni DEL c1 <"$conf"
  assert_success
  # the network's last container: bridge and rules go
  run cni DEL c2 <"$plain"
  assert_success
  run ! ip -n "$H" link show ctr0 2>/dev/null
  [ "$(nrules)" -eq 0 ]
  [ "$(elements)" = "[]" ]
  [ -z "$(ls "$DATA/web" | grep -v -e lock -e last_reserved)" ]
}

@test "DEL after the container's namespace is gone, and DEL without CNI_NETNS, succeed" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  run cni ADD c2 <"$conf"
  assert_success
  ip netns del "$P-c1"
  run cni DEL c1 <"$conf"
  assert_success
  [ ! -e "$DATA/web/10.88.0.2" ]
  run ip netns exec "$H" env CNI_COMMAND=DEL CNI_CONTAINERID=c2 CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_success
  [ ! -e "$DATA/web/10.88.0.3" ]
  [ "$(ip -n "$H" -o link show | grep -c veth)" -eq 0 ]
}

@test "CHECK passes after ADD and fails (103) when the address, the route, the lease or the rules went" {
  mkns c1
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  # a runtime passes the ADD result as prevResult
  jq --argjson r "$output" '. + {prevResult: $r}' "$conf" > "$BATS_TEST_TMPDIR/check.json"
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_success
  [ -z "$output" ]
  # a prevResult naming another address
  jq '.prevResult.ips[0].address = "10.88.0.9/16"' "$BATS_TEST_TMPDIR/check.json" > "$BATS_TEST_TMPDIR/wrong.json"
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/wrong.json"
  assert_cni_error 103 "10.88.0.9"
  ip -n "$P-c1" route del default
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_cni_error 103 "default route"
  ip -n "$P-c1" route add default via 10.88.0.1
  ip -n "$P-c1" addr del 10.88.0.2/16 dev eth0
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_cni_error 103 "10.88.0.2/16"
  ip -n "$P-c1" addr add 10.88.0.2/16 dev eth0
  ip -n "$P-c1" route add default via 10.88.0.1
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_success
  ip netns exec "$H" nft flush chain inet ctr postrouting
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_cni_error 103 "nftables"
  mv "$DATA/web/10.88.0.2" "$BATS_TEST_TMPDIR/lease"
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/check.json"
  assert_cni_error 103 "no lease"
  # CHECK does not exist before 0.4.0
  jq '.cniVersion = "0.3.1"' "$conf" > "$BATS_TEST_TMPDIR/old.json"
  run cni CHECK c1 <"$BATS_TEST_TMPDIR/old.json"
  assert_cni_error 1 "CHECK"
}

@test "GC releases what belongs to attachments not in cni.dev/valid-attachments" {
  mkns c1 c2 c3
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1 \
    '{"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80}]}}')
  for c in c1 c2 c3; do
    jq --arg p $((8080 + ${c#c})) '.runtimeConfig.portMappings[0].hostPort = ($p | tonumber)' "$conf" > "$BATS_TEST_TMPDIR/$c.json"
    run cni ADD $c <"$BATS_TEST_TMPDIR/$c.json"
    assert_success
  done
  v2=$(ip -n "$P-c2" -o link show eth0 | wc -l)
  [ "$v2" -eq 1 ]
  [ "$(nrules)" -eq 11 ]
  jq '. + {cniVersion: "1.1.0", "cni.dev/valid-attachments": [{containerID: "c2", ifname: "eth0"}]}' \
    "$conf" > "$BATS_TEST_TMPDIR/gc.json"
  run ip netns exec "$H" env CNI_COMMAND=GC CNI_PATH=/usr/lib/cni ctr-net <"$BATS_TEST_TMPDIR/gc.json"
  assert_success
  [ -z "$output" ]
  [ "$(ls "$DATA/web" | grep -c '^10\.')" -eq 1 ]
  [ -e "$DATA/web/10.88.0.3" ]
  [ "$(nrules)" -eq 7 ]
  rules | jq -e 'map(select(.comment | test(" a="))) | length == 2'
  [ "$(ip -n "$H" -o link show | grep -c veth)" -eq 1 ]
  run ! ip -n "$P-c1" link show eth0 2>/dev/null
  pings c2 10.88.0.1
  # GC wants 1.1.0 and the list
  run ip netns exec "$H" env CNI_COMMAND=GC ctr-net <"$conf"
  assert_cni_error 1 "GC"
  jq 'del(."cni.dev/valid-attachments")' "$BATS_TEST_TMPDIR/gc.json" > "$BATS_TEST_TMPDIR/gc2.json"
  run ip netns exec "$H" env CNI_COMMAND=GC ctr-net <"$BATS_TEST_TMPDIR/gc2.json"
  assert_cni_error 7 "valid-attachments"
  # an empty list: everything goes, the bridge too
  jq '."cni.dev/valid-attachments" = []' "$BATS_TEST_TMPDIR/gc.json" > "$BATS_TEST_TMPDIR/gc3.json"
  run ip netns exec "$H" env CNI_COMMAND=GC ctr-net <"$BATS_TEST_TMPDIR/gc3.json"
  assert_success
  run ! ip -n "$H" link show ctr0 2>/dev/null
  [ "$(nrules)" -eq 0 ]
}

@test "STATUS: 0 while an address is free, 50 when the subnet is full" {
  mkns c1
  conf=$(netconf tiny ctrt 10.97.0.0/30 10.97.0.1 '{"cniVersion":"1.1.0"}')
  run ip netns exec "$H" env CNI_COMMAND=STATUS ctr-net <"$conf"
  assert_success
  [ -z "$output" ]
  run cni ADD c1 <"$conf"
  assert_success
  run ip netns exec "$H" env CNI_COMMAND=STATUS ctr-net <"$conf"
  assert_cni_error 50 "no free address"
}

@test "an exhausted /30: the second ADD fails (101) and leaves nothing" {
  mkns c1 c2
  conf=$(netconf tiny ctrt 10.97.0.0/30 10.97.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.97.0.2 ]
  before=$(leftovers c2)
  run cni ADD c2 <"$conf"
  assert_cni_error 101 "no free address" "10.97.0.0/30"
  [ "$(leftovers c2)" = "$before" ]
  run cni DEL c1 <"$conf"
  assert_success
  run cni ADD c2 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.97.0.2 ]
}

@test "bad input: each a CNI error object with the spec's code, and nothing made" {
  mkns c1
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  before=$(leftovers c1)
  run cni ADD c1 <<<'{"cniVersion": "1.0.0", garbage'
  assert_cni_error 6 "invalid JSON"
  run cni ADD c1 </dev/null
  assert_cni_error 6 "no network configuration"
  run cni ADD c1 <<<'[1,2]'
  assert_cni_error 6 "not a JSON object"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_cni_error 4 "CNI_NETNS"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_NETNS="/run/netns/$P-c1" CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_cni_error 4 "CNI_CONTAINERID"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID='bad/id' CNI_NETNS="/run/netns/$P-c1" CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_cni_error 4 "CNI_CONTAINERID"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/run/netns/$P-c1" CNI_IFNAME=much-too-long-name ctr-net <"$conf"
  assert_cni_error 4 "CNI_IFNAME"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="$BATS_TEST_TMPDIR" CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_cni_error 4 "not a network namespace"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/nonexistent-$$ CNI_IFNAME=eth0 ctr-net <"$conf"
  assert_cni_error 4 "CNI_NETNS"
  run ip netns exec "$H" env CNI_COMMAND=FROB CNI_CONTAINERID=c1 ctr-net <"$conf"
  assert_cni_error 4 "unknown command" "FROB"
  run ip netns exec "$H" env CNI_COMMAND= ctr-net <"$conf"
  [ "$status" -ne 0 ]
  jq '.cniVersion = "9.9.9"' "$conf" > "$BATS_TEST_TMPDIR/v.json"
  run cni ADD c1 <"$BATS_TEST_TMPDIR/v.json"
  assert_cni_error 1 "9.9.9"
  run cni ADD c1 <"$(netconf bad1 ctr0 10.88.0.0/33 10.88.0.1)"
  assert_cni_error 7 "subnet"
  run cni ADD c1 <"$(netconf bad2 ctr0 10.88.0.1/16 10.88.0.1)"
  assert_cni_error 7 "subnet" "host bits"
  run cni ADD c1 <"$(netconf bad3 ctr0 not-a-subnet 10.88.0.1)"
  assert_cni_error 7 "subnet"
  run cni ADD c1 <"$(netconf bad4 ctr0 fd00::/64 fd00::1)"
  assert_cni_error 2 "IPv6"
  run cni ADD c1 <"$(netconf bad5 ctr0 10.88.0.0/16 10.99.0.1)"
  assert_cni_error 7 "gateway"
  run cni ADD c1 <"$(netconf bad6 'ctr0;drop' 10.88.0.0/16 10.88.0.1)"
  assert_cni_error 7 "bridge"
  run cni ADD c1 <"$(netconf bad7 ctr0 10.88.0.0/16 10.88.0.1 '{"mtu": 20}')"
  assert_cni_error 7 "mtu"
  run cni ADD c1 <"$(netconf bad8 ctr0 10.88.0.0/16 10.88.0.1 '{"dataDir": "relative"}')"
  assert_cni_error 7 "dataDir"
  run cni ADD c1 <"$(netconf bad9 ctr0 10.88.0.0/16 10.88.0.1 '{"internal": "yes"}')"
  assert_cni_error 7 "internal"
  run cni ADD c1 <"$(netconf bad10 ctr0 10.88.0.0/16 10.88.0.1 '{"options": {"hairpin": false}}')"
  assert_cni_error 2 "options.hairpin=false"
  run cni ADD c1 <"$(netconf bad11 ctr0 10.88.0.0/16 10.88.0.1 '{"driver": "overlay"}')"
  assert_cni_error 7 "vxlan: missing"
  run cni ADD c1 <"$(netconf bad12 ctr0 10.88.0.0/16 10.88.0.1 '{"driver": "macvlan"}')"
  assert_cni_error 2 'driver "macvlan"'
  run cni ADD c1 <"$(netconf bad13 ctr0 10.88.0.0/16 10.88.0.1 '{"type": "bridge"}')"
  assert_cni_error 7 "type"
  run cni ADD c1 <"$(netconf 'bad name' ctr0 10.88.0.0/16 10.88.0.1)"
  assert_cni_error 7 "name"
  run cni ADD c1 <"$(netconf bad14 ctr0 10.88.0.0/16 10.88.0.1 '{"runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":80}]}}')"
  assert_cni_error 7 "portMappings[0]"
  run cni ADD c1 <"$(netconf bad15 ctr0 10.88.0.0/16 10.88.0.1 '{"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"protocol":"icmp"}]}}')"
  assert_cni_error 7 "protocol"
  CNI_ARGS="IP=300.1.1.1" run cni ADD c1 <"$conf"
  assert_cni_error 4 "CNI_ARGS"
  [ "$(leftovers c1)" = "$before" ]
  [ ! -e "$DATA/web" ] || [ -z "$(ls "$DATA/web" | grep '^10\.')" ]
}

@test "a subnet overlapping the host's addresses or another network's fails (104) and makes nothing" {
  mkns c1 c2
  ip -n "$H" link add lan0 type veth peer name lan1
  ip -n "$H" addr add 10.88.5.1/24 dev lan0
  before=$(leftovers c1)
  run cni ADD c1 <"$(netconf web ctr0 10.88.0.0/16 10.88.0.1)"
  assert_cni_error 104 "10.88.0.0/16" "10.88.5.1/24" "lan0"
  [ "$(leftovers c1)" = "$before" ]
  ip -n "$H" link del lan0
  run cni ADD c1 <"$(netconf web ctr0 10.88.0.0/16 10.88.0.1)"
  assert_success
  before=$(leftovers c2)
  run cni ADD c2 <"$(netconf other ctr1 10.88.128.0/17 10.88.128.1)"
  assert_cni_error 104 "ctr0"
  [ "$(leftovers c2)" = "$before" ]
}

@test "ADD of an attached container (105) or into a namespace whose ifname is taken (105) changes nothing" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  before=$(leftovers c1 c2)
  run cni ADD c1 <"$conf"
  assert_cni_error 105 "already attached"
  ip -n "$P-c2" link add eth0 type veth peer name eth9
  before=$(leftovers c1 c2)
  run cni ADD c2 <"$conf"
  assert_cni_error 105 "eth0 already exists"
  [ "$(leftovers c1 c2)" = "$before" ]
  pings c1 10.88.0.1
}

@test "CNI_ARGS IP= asks for an address; a taken one fails (106)" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  CNI_ARGS="IgnoreUnknown=1;IP=10.88.3.7" run cni ADD c1 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.88.3.7 ]
  [ -e "$DATA/web/10.88.3.7" ]
  CNI_ARGS="IP=10.88.3.7" run cni ADD c2 <"$conf"
  assert_cni_error 106 "10.88.3.7"
  CNI_ARGS="IP=10.88.0.1" run cni ADD c2 <"$conf"
  assert_cni_error 106 "not assignable"
  [ "$(ip -n "$H" -o link show | grep -c veth)" -eq 1 ]
}

@test "results in the requested version's shape (0.3.1, 0.4.0); prevResult is extended, not replaced" {
  mkns c1 c2
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1 '{"cniVersion":"0.3.1"}')
  run cni ADD c1 <"$conf"
  assert_success
  echo "$output" | jq -e '.cniVersion == "0.3.1" and .ips[0].version == "4" and .ips[0].interface == 2'
  prev='{"cniVersion":"0.4.0","interfaces":[{"name":"lo0"}],"ips":[{"version":"6","address":"fd00::5/64","interface":0}],"dns":{"nameservers":["10.0.0.53"]}}'
  conf=$(netconf web2 ctr0 10.88.0.0/16 10.88.0.1 "{\"name\":\"web\",\"cniVersion\":\"0.4.0\",\"prevResult\":$prev}")
  run cni ADD c2 <"$conf"
  assert_success
  echo "$output" | jq -e '.cniVersion == "0.4.0" and (.interfaces | length) == 4 and
    .interfaces[0].name == "lo0" and .interfaces[3].name == "eth0" and
    .ips[0].address == "fd00::5/64" and .ips[1] == {"version":"4","address":"10.88.0.3/16","gateway":"10.88.0.1","interface":3} and
    .dns.nameservers == ["10.0.0.53"]'
}

@test "a container on two networks: eth1 joins the second, the first keeps the default route" {
  mkns c1
  a=$(netconf neta ctra 10.91.0.0/24 10.91.0.1)
  b=$(netconf netb ctrb 10.92.0.0/24 10.92.0.1)
  run cni ADD c1 eth0 <"$a"
  assert_success
  run cni ADD c1 eth1 <"$b"
  assert_success
  echo "$output" | jq -e '.routes == [] and .ips[0].address == "10.92.0.2/24"'
  run ip -n "$P-c1" -j route show default
  echo "$output" | jq -e 'length == 1 and .[0].dev == "eth0"'
  pings c1 10.92.0.1
  run cni CHECK c1 eth1 <"$b"
  assert_success
  run cni DEL c1 eth1 <"$b"
  assert_success
  ip -n "$P-c1" link show eth0 >/dev/null
  run ! ip -n "$P-c1" link show eth1 2>/dev/null
}

@test "interop: the reference bridge plugin with host-local gives a container the same shape" {
  requires /usr/lib/cni/bridge /usr/lib/cni/host-local
  mkns c1 r1
  run cni ADD c1 <"$(netconf web ctr0 10.88.0.0/16 10.88.0.1)"
  assert_success
  jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "refnet", type: "bridge", bridge: "cni0",
    isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true,
    ipam: {type: "host-local", subnet: "10.93.0.0/16",
    gateway: "10.93.0.1", dataDir: $d}}' > "$BATS_TEST_TMPDIR/ref.json"
  run ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID=r1 CNI_NETNS="/run/netns/$P-r1" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <"$BATS_TEST_TMPDIR/ref.json"
  assert_success
  # what the container sees: one IPv4 address of the subnet on eth0 (up,
  # with its broadcast address), and a default route via the gateway on
  # eth0 -- the same shape
  shape() {
    local ns=$1 gw=$2
    jq -n --argjson a "$(ip -n "$ns" -j addr show eth0)" --argjson r "$(ip -n "$ns" -j route show default)" --arg gw "$gw" '
      {up: ($a[0].operstate == "UP"), mtu: $a[0].mtu,
       v4: [$a[0].addr_info[] | select(.family == "inet") | {prefixlen, scope, brd: (.broadcast != null)}],
       default: [$r[] | select(.gateway == $gw) | .dev]}'
  }
  ours=$(shape "$P-c1" 10.88.0.1)
  theirs=$(shape "$P-r1" 10.93.0.1)
  [ "$ours" = "$theirs" ]
  [ "$(ip -n "$P-c1" -j addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')" = 10.88.0.2 ]
  [ "$(ip -n "$P-r1" -j addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')" = 10.93.0.2 ]
  # and the lease files are byte for byte of one format
  [ "$(cat "$DATA/web/10.88.0.2")" = "$(printf 'c1\r\neth0')" ]
  [ "$(cat "$DATA/refnet/10.93.0.2")" = "$(printf 'r1\r\neth0')" ]
  ip netns exec "$H" env CNI_COMMAND=DEL CNI_CONTAINERID=r1 CNI_NETNS="/run/netns/$P-r1" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <"$BATS_TEST_TMPDIR/ref.json"
}

@test "interop: host-local allocates from ctr-net's lease directory without reusing its addresses" {
  requires /usr/lib/cni/host-local
  mkns c1 c3 h2
  conf=$(netconf shared ctr0 10.94.0.0/24 10.94.0.1)
  run cni ADD c1 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.94.0.2 ]
  # host-local, as the IPAM of another plugin of the same network
  jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "shared", type: "bridge",
    ipam: {type: "host-local", subnet: "10.94.0.0/24", gateway: "10.94.0.1", dataDir: $d}}' \
    > "$BATS_TEST_TMPDIR/hl.json"
  hl() {
    ip netns exec "$H" env CNI_COMMAND="$1" CNI_CONTAINERID=hl1 CNI_NETNS="/run/netns/$P-h2" \
      CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/host-local <"$BATS_TEST_TMPDIR/hl.json"
  }
  run hl ADD
  assert_success
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.94.0.3/24 ]
  [ "$(cat "$DATA/shared/10.94.0.3")" = "$(printf 'hl1\r\neth0')" ]
  # and ctr-net skips host-local's lease in turn
  run cni ADD c3 <"$conf"
  assert_success
  [ "$(result_ip)" = 10.94.0.4 ]
  # host-local releases its own; ctr-net's stay
  run hl DEL
  assert_success
  [ ! -e "$DATA/shared/10.94.0.3" ]
  [ -e "$DATA/shared/10.94.0.2" ] && [ -e "$DATA/shared/10.94.0.4" ]
}

@test "50 ADDs at once into 50 namespaces: 50 different addresses; 50 DELs at once leave nothing" {
  conf=$(netconf web ctr0 10.88.0.0/16 10.88.0.1)
  before=$(leftovers)
  for i in $(seq 50); do mkns "p$i"; done
  for i in $(seq 50); do
    cni ADD "p$i" <"$conf" >"$BATS_TEST_TMPDIR/add.$i" 2>&1 &
  done
  wait
  for i in $(seq 50); do
    jq -r '.ips[0].address' "$BATS_TEST_TMPDIR/add.$i" || fail "ADD $i: $(cat "$BATS_TEST_TMPDIR/add.$i")"
  done > "$BATS_TEST_TMPDIR/addrs"
  [ "$(sort -u "$BATS_TEST_TMPDIR/addrs" | grep -c '^10\.88\.0\.[0-9]*/16$')" -eq 50 ]
  [ "$(ls "$DATA/web" | grep -c '^10\.')" -eq 50 ]
  [ "$(ip -n "$H" -o link show master ctr0 | wc -l)" -eq 50 ]
  # every lease is the address its container has
  for i in 1 25 50; do
    a=$(jq -r '.ips[0].address' "$BATS_TEST_TMPDIR/add.$i")
    ip -n "$P-p$i" -o addr show eth0 | grep -q "inet $a "
    [ "$(cat "$DATA/web/${a%/*}")" = "$(printf 'p%s\r\neth0' "$i")" ]
  done
  for i in $(seq 50); do
    cni DEL "p$i" <"$conf" >"$BATS_TEST_TMPDIR/del.$i" 2>&1 &
  done
  wait
  for i in $(seq 50); do
    [ ! -s "$BATS_TEST_TMPDIR/del.$i" ] || fail "DEL $i: $(cat "$BATS_TEST_TMPDIR/del.$i")"
  done
  [ "$(leftovers)" = "$before" ]
}

@test "the CLI's network is the plugin's configuration: ctr-net create, then ADD with its entry" {
  setup_store
  run ctr-net create --subnet 10.98.0.0/24 clinet
  [ "$status" -eq 0 ] || skip "ctr-net create unavailable: $output"
  mkns c1
  jq --arg d "$DATA" '.plugins[] | select(.type == "ctr-net")' "$CTR_ROOT/networks/clinet.conflist" >/dev/null
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$CTR_ROOT/networks/clinet.conflist" \
    > "$BATS_TEST_TMPDIR/cli.json"
  run cni ADD c1 <"$BATS_TEST_TMPDIR/cli.json"
  assert_success
  [ "$(result_ip)" = 10.98.0.2 ]
  bridge=$(jq -r '.plugins[0].bridge' "$CTR_ROOT/networks/clinet.conflist")
  ip -n "$H" link show "$bridge" >/dev/null
  [ -e "$CTR_ROOT/networks/clinet/10.98.0.2" ]
  run cni DEL c1 <"$BATS_TEST_TMPDIR/cli.json"
  assert_success
  [ ! -e "$CTR_ROOT/networks/clinet/10.98.0.2" ]
}
