#!/usr/bin/env bats
# ctr-net's networks: create (ctr's bridge driver and external CNI
# plugins), ls, inspect, rm, prune, the default network, and bad input.
# Each test checks the files under $CTR_ROOT/networks (with jq), the exit
# status and the one line on stderr. The external-plugin test runs the
# reference plugin for real, between two network namespaces of its own.

load helpers/common

bats_require_minimum_version 1.5.0

setup() {
  setup_store
  requires jq
  NETS="$CTR_ROOT/networks"
}

teardown() {
  local ns
  for ns in "${NETNS_MADE[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# After `run --separate-stderr`: see assert_tool_error (helpers/common).
assert_error() { assert_tool_error ctr-net "$@"; }

# A fake container (a directory under containers/) and a lease it holds,
# as host-local writes them: "<id>\r\n<ifname>".
fake_lease() {
  local net=$1 ip=$2 id=$3
  mkdir -p "$CTR_ROOT/containers/$id" "$NETS/$net"
  printf '%s\r\neth0' "$id" > "$NETS/$net/$ip"
}

# A network namespace of this test, removed by teardown.
make_netns() {
  ip netns add "$1"
  NETNS_MADE+=("$1")
}

@test "--help and --version exit 0; no command, an unknown one or a bad option exit 2" {
  run ctr-net --help
  assert_success
  assert_output --partial "Usage: ctr-net"
  assert_output --partial "create [OPTIONS] NAME"
  run ctr-net create --help
  assert_success
  assert_output --partial "--subnet CIDR"
  run ctr-net --version
  assert_success
  assert_line --index 0 --regexp '^ctr-net version [0-9]'
  assert_output --partial "+BRIDGE"
  run --separate-stderr ctr-net
  [ "$status" -eq 2 ]
  run --separate-stderr ctr-net frobnicate
  assert_error 2 "unknown command" frobnicate
  run --separate-stderr ctr-net ls --bogus
  assert_error 2 "--bogus"
  run --separate-stderr ctr-net create
  assert_error 2 "one NAME"
  run --separate-stderr ctr-net ls extra
  assert_error 2 "no arguments"
  run --separate-stderr ctr-net inspect --format table bridge
  assert_error 2 "json"
  [ ! -e "$CTR_ROOT" ]
}

@test "with CNI_COMMAND set, ctr-net is a CNI plugin, not the command line" {
  run --separate-stderr env CNI_COMMAND=VERSION ctr-net ls </dev/null
  assert_success
  echo "$output" | jq -e '.supportedVersions | index("1.0.0")' >/dev/null ||
    fail "no CNI VERSION answer: $output"
  refute_output --partial "NAME"
}

@test "ls and inspect show the default network before its first use, and create nothing" {
  run --separate-stderr ctr-net ls
  assert_success
  assert_line --index 0 --regexp '^NAME +DRIVER +SUBNET +GATEWAY +CONTAINERS$'
  assert_line --index 1 --regexp '^bridge +bridge +10\.88\.0\.0/16 +10\.88\.0\.1 +0$'
  [ "${#lines[@]}" -eq 2 ]
  run --separate-stderr ctr-net inspect bridge
  assert_success
  [ "$(echo "$output" | jq -r '.[0].conflist.plugins[0].bridge')" = ctr0 ]
  [ "$(echo "$output" | jq -r '.[0].file')" = null ]
  run --separate-stderr ctr-net rm nothere
  assert_error 1 "no such network" nothere
  run --separate-stderr ctr-net prune -f
  assert_success
  for i in $(seq 1 10); do ctr-net ls >/dev/null & done
  wait
  [ ! -e "$CTR_ROOT" ] || fail "a read-only verb created $CTR_ROOT"
}

@test "create with no options: the first free /24 of 10.89.0.0/16 on ctr's bridge driver" {
  run --separate-stderr ctr-net create web
  assert_success
  assert_output web
  f="$NETS/web.conflist"
  [ -f "$f" ]
  jq -e --arg dd "$NETS" '
    .cniVersion == "1.0.0" and .name == "web" and (.plugins | length) == 1 and
    (.plugins[0] | .type == "ctr-net" and .driver == "bridge" and
      (.bridge | test("^ctr-[0-9a-f]{8}$")) and .subnet == "10.89.0.0/24" and
      .gateway == "10.89.0.1" and .internal == false and .mtu == 1500 and
      .dataDir == $dd and .capabilities.portMappings == true and .options == {}) and
    (.ctr.created | test("^20[0-9-]+T[0-9:.]+Z$"))' "$f" || fail "conflist: $(cat "$f")"
  # keys in the documented order, as CNI tools print them back
  [ "$(jq -c '.plugins[0] | keys_unsorted' "$f")" = \
    '["type","driver","bridge","subnet","gateway","internal","mtu","dataDir","capabilities","options"]' ]
  # the default network was made with it, on its first use
  jq -e '.name == "bridge" and .plugins[0].bridge == "ctr0" and
    .plugins[0].subnet == "10.88.0.0/16" and .plugins[0].gateway == "10.88.0.1"' \
    "$NETS/bridge.conflist"
  # nothing else: no temp files, no lease directory yet
  [ "$(ls -A "$NETS" | sort | tr '\n' ' ')" = "bridge.conflist web.conflist " ]
}

@test "create with --subnet, --gateway, --internal and --mtu" {
  run --separate-stderr ctr-net create --subnet 172.30.0.0/16 --gateway 172.30.0.254 \
    --internal --mtu 9000 db
  assert_success
  jq -e '.plugins[0] | .subnet == "172.30.0.0/16" and .gateway == "172.30.0.254" and
    .internal == true and .mtu == 9000' "$NETS/db.conflist"
  run --separate-stderr ctr-net --root "$CTR_ROOT" create --mtu=1400 --subnet=192.168.77.0/24 x
  assert_success
  jq -e '.plugins[0] | .gateway == "192.168.77.1" and .mtu == 1400' "$NETS/x.conflist"
}

@test "automatic subnets skip every subnet in use; bridge devices are unique" {
  ctr-net create a
  ctr-net create --subnet 10.89.1.0/24 b
  ctr-net create --subnet 10.89.2.0/23 c
  ctr-net create d
  [ "$(jq -r '.plugins[0].subnet' "$NETS/a.conflist")" = 10.89.0.0/24 ]
  [ "$(jq -r '.plugins[0].subnet' "$NETS/d.conflist")" = 10.89.4.0/24 ]
  run bash -c "jq -r '.plugins[0].bridge' '$NETS'/*.conflist | sort | uniq -d"
  assert_output ""
  for f in "$NETS"/*.conflist; do
    b=$(jq -r '.plugins[0].bridge' "$f")
    [ "${#b}" -le 15 ] || fail "$f: bridge $b is longer than 15"
  done
}

@test "10 creates at once: distinct subnets, and the default network written exactly once" {
  for i in $(seq 1 10); do
    ctr-net --debug create "n$i" >"$BATS_TEST_TMPDIR/out.$i" 2>"$BATS_TEST_TMPDIR/err.$i" &
  done
  wait
  for i in $(seq 1 10); do
    [ "$(cat "$BATS_TEST_TMPDIR/out.$i")" = "n$i" ] || fail "create n$i: $(cat "$BATS_TEST_TMPDIR/err.$i")"
  done
  [ "$(cat "$BATS_TEST_TMPDIR"/err.* | grep -c 'created the default network')" -eq 1 ]
  [ "$(jq -r '.plugins[0].subnet' "$NETS"/n*.conflist | sort -u | wc -l)" -eq 10 ]
  [ "$(jq -r '.plugins[0].bridge' "$NETS"/n*.conflist | sort -u | wc -l)" -eq 10 ]
  [ "$(ls -A "$NETS" | grep -c '^\.')" -eq 0 ]
}

@test "ls: a table with a header, -q names, --format json; live leases are counted" {
  ctr-net create web
  ctr-net create --subnet 10.50.0.0/24 db
  fake_lease web 10.89.0.2 aaaa1111
  fake_lease web 10.89.0.3 bbbb2222
  # a lease of a container that no longer exists is not counted
  printf 'gone\r\neth0' > "$NETS/web/10.89.0.4"
  run --separate-stderr ctr-net ls
  assert_success
  assert_line --index 0 --regexp '^NAME +DRIVER +SUBNET +GATEWAY +CONTAINERS$'
  assert_line --index 1 --regexp '^bridge +bridge +10\.88\.0\.0/16 +10\.88\.0\.1 +0$'
  assert_line --index 2 --regexp '^db +bridge +10\.50\.0\.0/24 +10\.50\.0\.1 +0$'
  assert_line --index 3 --regexp '^web +bridge +10\.89\.0\.0/24 +10\.89\.0\.1 +2$'
  run --separate-stderr ctr-net ls -q
  assert_output "$(printf 'bridge\ndb\nweb')"
  run --separate-stderr ctr-net ls --format json
  assert_success
  [ "$(echo "$output" | jq -r '[.[].name] | join(",")')" = bridge,db,web ]
  [ "$(echo "$output" | jq '.[] | select(.name == "web") | .containers')" -eq 2 ]
  [ "$(echo "$output" | jq -r '.[] | select(.name == "bridge") | .default')" = true ]
}

@test "inspect: the conflist as on disk and who holds which address" {
  ctr-net create --subnet 10.60.0.0/24 web
  fake_lease web 10.60.0.2 cafe0001
  printf 'gone' > "$NETS/web/10.60.0.10"
  run --separate-stderr ctr-net inspect --format json web bridge
  assert_success
  [ "$(echo "$output" | jq length)" -eq 2 ]
  diff <(echo "$output" | jq -S '.[0].conflist') <(jq -S . "$NETS/web.conflist")
  [ "$(echo "$output" | jq -r '.[0].file')" = "$NETS/web.conflist" ]
  [ "$(echo "$output" | jq -c '.[0].leases')" = \
    '[{"address":"10.60.0.2","container":"cafe0001","interface":"eth0","live":true},{"address":"10.60.0.10","container":"gone","interface":null,"live":false}]' ]
  [ "$(echo "$output" | jq -r '.[1].name')" = bridge ]
  run --separate-stderr ctr-net inspect web nope
  assert_error 1 "no such network: nope"
  [ "$output" = "" ]
}

@test "rm: the conflist and the lease directory go; the default network stays" {
  ctr-net create web
  mkdir -p "$NETS/web"
  printf 'gone\r\neth0' > "$NETS/web/10.89.0.2"
  run --separate-stderr ctr-net rm web
  assert_success
  assert_output web
  [ ! -e "$NETS/web.conflist" ] && [ ! -e "$NETS/web" ]
  [ "$(ls -A "$NETS")" = bridge.conflist ]
  run --separate-stderr ctr-net rm bridge
  assert_error 1 "default network"
  run --separate-stderr ctr-net rm web
  assert_error 1 "no such network: web"
}

@test "rm refuses a network a live container is attached to, until it is gone" {
  ctr-net create web
  fake_lease web 10.89.0.2 c0ffee00
  # as in a store from before the default network was first written: a
  # refused rm, and a prune with nothing to do, write nothing at all
  rm "$NETS/bridge.conflist"
  BEFORE=$(store_listing)
  run --separate-stderr ctr-net rm web
  assert_error 1 "network web has 1 container attached"
  diff <(echo "$BEFORE") <(store_listing) || fail "the store changed"
  run --separate-stderr ctr-net prune -f
  assert_success
  assert_output ""
  diff <(echo "$BEFORE") <(store_listing) || fail "the store changed"
  rm -rf "$CTR_ROOT/containers/c0ffee00"
  run --separate-stderr ctr-net rm web
  assert_success
  [ ! -e "$NETS/web" ] && [ ! -e "$NETS/web.conflist" ]
}

@test "rm of several names removes each it can and reports each it cannot" {
  ctr-net create a
  ctr-net create b
  run --separate-stderr ctr-net rm a nope b
  [ "$status" -eq 1 ]
  assert_output "$(printf 'a\nb')"
  [ "${#stderr_lines[@]}" -eq 1 ] && [[ $stderr == "ctr-net: rm nope: no such network: nope" ]]
  [ ! -e "$NETS/a.conflist" ] && [ ! -e "$NETS/b.conflist" ]
}

@test "prune: removes networks without live leases, keeps the rest, and crash leftovers go" {
  ctr-net create used
  ctr-net create idle
  ctr-net create stale
  fake_lease used 10.89.0.2 beef0001
  mkdir -p "$NETS/stale" && printf 'gone\r\neth0' > "$NETS/stale/10.89.2.2"
  # what a crash in rm or in a write leaves: all of it is garbage
  mkdir -p "$NETS/.old.removing" "$NETS/orphan"
  touch "$NETS/.x.conflist.tmp.abc" "$NETS/orphan/10.1.1.1"
  run --separate-stderr ctr-net prune </dev/null
  assert_success
  [ -f "$NETS/idle.conflist" ] || fail "prune without -f and without a yes removed something"
  run --separate-stderr ctr-net prune -f
  assert_success
  assert_output "$(printf 'Deleted Networks:\nidle\nstale')"
  [ "$(ls -A "$NETS" | sort | tr '\n' ' ')" = "bridge.conflist used used.conflist " ]
  echo y | ctr-net prune
  [ -f "$NETS/used.conflist" ]
}

@test "bad input: one line, non-zero exit, and the store byte-for-byte as it was" {
  ctr-net create --subnet 10.40.0.0/16 web
  ctr-net create --subnet 192.168.50.0/24 -d ptp p
  BEFORE=$(store_listing)
  check() {
    local want=$1 words=$2
    shift 2
    run --separate-stderr ctr-net create "$@"
    # shellcheck disable=SC2086
    assert_error "$want" $words
    diff <(echo "$BEFORE") <(store_listing) || fail "create $*: the store changed"
  }
  check 1 "overlaps web"          --subnet 10.40.3.0/24 x
  check 1 "overlaps bridge"       --subnet 10.0.0.0/8 x
  check 1 "overlaps p"            --subnet 192.168.0.0/16 x
  check 2 "invalid subnet 10.1.2" --subnet 10.1.2 x
  check 2 "invalid subnet"        --subnet 10.1.2.0/24x x
  check 2 "host bits 10.1.2.0/24" --subnet 10.1.2.3/24 x
  check 2 "prefix 8 to 30"        --subnet 10.1.2.0/31 x
  check 2 "IPv6"                  --subnet fd00::/64 x
  check 2 "gateway 10.2.0.1"      --subnet 10.1.0.0/16 --gateway 10.2.0.1 x
  check 2 "gateway 10.1.255.255"  --subnet 10.1.0.0/16 --gateway 10.1.255.255 x
  check 2 "invalid gateway"       --subnet 10.1.0.0/16 --gateway 10.1.0 x
  check 2 "--gateway --subnet"    --gateway 10.1.0.1 x
  check 1 "network web already exists" web
  check 1 "network bridge already exists" bridge
  check 2 "invalid network name"  'a b'
  check 2 "invalid network name"  -- -x
  check 2 "invalid network name"  "$(printf 'x%.0s' $(seq 1 65))"
  check 2 "reserved"              host
  check 1 "unknown driver nosuchplugin" -d nosuchplugin x
  check 2 "invalid driver"        -d ../../bin/sh x
  check 2 "needs --vni"           --driver overlay x
  check 2 "mtu"                   --mtu 67 x
  check 2 "mtu"                   --mtu 65536 x
  check 2 "mtu"                   --mtu 15k x
  check 2 "--opt KEY=VALUE"       -o novalue x
  check 2 "--opt KEY=VALUE"       -o =v x
  check 2 "bridge driver"         -o com.example.x=1 x
  check 2 "twice"                 -d ptp -o a=1 -o a=2 x
  check 2 "sets that key"         -d ptp -o ipam=x x
  check 2 "--internal bridge"     -d ptp --internal x
  check 2 "one NAME"              a b
}

@test "a hand-broken conflist is left out of ls with a warning; inspect says why" {
  ctr-net create good
  mkdir -p "$NETS"
  echo '{"cniVersion":"1.0.0","name":"broken","plugins":[{"type":"ctr-net","driver":"bridge","bridge":"b0","subnet":"10.1.0.0/33"}]}' \
    > "$NETS/broken.conflist"
  echo '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"ptp"}]}' > "$NETS/misnamed.conflist"
  run --separate-stderr ctr-net ls -q
  assert_success
  assert_output "$(printf 'bridge\ngood')"
  [[ $stderr == *"broken.conflist"* && $stderr == *"misnamed.conflist"* ]]
  run --separate-stderr ctr-net inspect broken
  assert_error 1 "broken.conflist" "invalid subnet"
}

@test "an external plugin's network works with the reference plugin: ptp ADD in a netns" {
  requires ip /usr/lib/cni/ptp /usr/lib/cni/host-local
  run --separate-stderr ctr-net create --driver ptp --mtu 1400 --opt ipMasq=false \
    --subnet 10.123.0.0/24 pnet
  assert_success
  jq -e --arg dd "$NETS" '.plugins[0] | .type == "ptp" and .ipMasq == false and .mtu == 1400 and
    .ipam.type == "host-local" and .ipam.dataDir == $dd and
    .ipam.ranges == [[{"subnet":"10.123.0.0/24","gateway":"10.123.0.1"}]] and
    (has("bridge") | not)' "$NETS/pnet.conflist"
  host=ctrtest-nh-$$ ctr=ctrtest-nc-$$ id=0123456789abcdef
  make_netns "$host"
  make_netns "$ctr"
  # as a CNI runtime does: the plugin's object with the list's name and version
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$NETS/pnet.conflist" > "$BATS_TEST_TMPDIR/conf"
  cni() {
    ip netns exec "$host" env CNI_COMMAND="$1" CNI_CONTAINERID=$id CNI_NETNS="/run/netns/$ctr" \
      CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp < "$BATS_TEST_TMPDIR/conf"
  }
  run cni ADD
  assert_success
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.123.0.2/24 ]
  run ip -n "$ctr" -4 -o addr show eth0
  assert_output --partial "inet 10.123.0.2/24"
  run ip -n "$ctr" -o link show eth0
  assert_output --partial "mtu 1400"
  # host-local kept the lease where ctr-net looks for it
  [ "$(head -n1 "$NETS/pnet/10.123.0.2" | tr -d '\r')" = "$id" ]
  mkdir -p "$CTR_ROOT/containers/$id"
  run --separate-stderr ctr-net inspect pnet
  [ "$(echo "$output" | jq -c '.[0].leases[0] | [.address, .container, .interface, .live]')" = \
    "[\"10.123.0.2\",\"$id\",\"eth0\",true]" ]
  run --separate-stderr ctr-net rm pnet
  assert_error 1 "network pnet has 1 container attached"
  run cni DEL
  assert_success
  [ ! -e "$NETS/pnet/10.123.0.2" ]
  run --separate-stderr ctr-net rm pnet
  assert_success
  [ ! -e "$NETS/pnet" ]
}

@test "macvlan takes its options from --opt, typed as the plugin wants them" {
  requires ip /usr/lib/cni/macvlan
  host=ctrtest-mh-$$ ctr=ctrtest-mc-$$
  make_netns "$host"
  make_netns "$ctr"
  # a veth as the master: it needs no kernel module beyond veth
  ip -n "$host" link add ctrdummy0 type veth peer name ctrdummy1
  ip -n "$host" link set ctrdummy0 up
  run --separate-stderr ctr-net create -d macvlan -o master=ctrdummy0 -o mode=bridge \
    --subnet 10.124.0.0/24 mv
  assert_success
  jq -e '.plugins[0] | .type == "macvlan" and .master == "ctrdummy0" and .mode == "bridge"' \
    "$NETS/mv.conflist"
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$NETS/mv.conflist" > "$BATS_TEST_TMPDIR/conf"
  run ip netns exec "$host" env CNI_COMMAND=ADD CNI_CONTAINERID=mv1 CNI_NETNS="/run/netns/$ctr" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/macvlan < "$BATS_TEST_TMPDIR/conf"
  assert_success
  run ip -n "$ctr" -4 -o addr show eth0
  assert_output --partial "inet 10.124.0.2/24"
  run ip netns exec "$host" env CNI_COMMAND=DEL CNI_CONTAINERID=mv1 CNI_NETNS="/run/netns/$ctr" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/macvlan < "$BATS_TEST_TMPDIR/conf"
  assert_success
  [ -z "$(ls "$NETS/mv" | grep -E '^[0-9.]+$')" ]
}

@test "CNI_PATH is searched for a plugin before /usr/lib/cni" {
  mkdir -p "$BATS_TEST_TMPDIR/plugins"
  printf '#!/bin/sh\nexit 0\n' > "$BATS_TEST_TMPDIR/plugins/myplug"
  chmod +x "$BATS_TEST_TMPDIR/plugins/myplug"
  run --separate-stderr ctr-net create -d myplug x
  assert_error 1 "unknown driver" myplug
  run --separate-stderr env CNI_PATH="/nonexistent:$BATS_TEST_TMPDIR/plugins" ctr-net create -d myplug x
  assert_success
  [ "$(jq -r '.plugins[0].type' "$NETS/x.conflist")" = myplug ]
}
