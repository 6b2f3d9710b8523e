#!/usr/bin/env bats
# ctr-run on networks (lib/run/network.c): the pinned namespace, ctr-net
# connect at start and disconnect --all at every end, hosts and
# resolv.conf, published ports, names.
#
# Every tool runs inside a "host" made by the test: a network namespace
# $P-h entered with nsenter --net (the network namespace only: the
# overlay and the netns pin ctr-run mounts stay visible to the next
# command, as on a real host, where `ip netns exec` would give every
# command a mount namespace of its own). Beside it: $P-out, a machine
# on the host's LAN (192.168.77.0/24) that also plays the internet: it
# has no route to any container network, so an answer from it proves
# the masquerade. teardown removes containers, processes, namespaces.

load helpers/common
load helpers/netns

setup() {
  requires ip nft jq busybox nsenter
  setup_store
  P="ctrtest-rn${BATS_TEST_NUMBER}-$$"
  H="$P-h"
  SERVERS=()
  ip netns add "$H"
  ip -n "$H" link set lo up
  ctr-image import --from-host busybox >/dev/null
  netns_outside
  BEFORE=$(leftovers)
}

teardown() {
  local id pid ns
  for id in $(ls "$CTR_ROOT/containers" 2>/dev/null); do
    h ctr-rm -f "$id" >/dev/null 2>&1 || true
  done
  h ctr-net gc >/dev/null 2>&1 || true
  for pid in "${SERVERS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # by hand what ctr-rm could not remove (not remove_containers: its
  # ctr-rm would run in the machine's own network namespace)
  for id in $(ls "$CTR_ROOT/containers" 2>/dev/null); do
    umount -l "$CTR_ROOT/containers/$id/rootfs" 2>/dev/null || true
    rm -rf "$CTR_ROOT/containers/$id"
  done
  netns_remove_all "$P-"
  for pin in "$CTR_RUNDIR"/netns/*; do
    [ -e "$pin" ] && umount -l "$pin" 2>/dev/null || true
  done
  return 0
}

# The tools in the host, on the default network unless told otherwise.
h() { nsenter --net="/run/netns/$H" env CTR_DEFAULT_NETWORK= "$@"; }


# A web server in namespace $P-$1 on port $2 answering "$3" at /.
serve_out() {
  mkdir -p "$BATS_TEST_TMPDIR/www-$1"
  echo "$3" > "$BATS_TEST_TMPDIR/www-$1/index.html"
  ip netns exec "$P-$1" busybox httpd -f -p "$2" -h "$BATS_TEST_TMPDIR/www-$1" &
  SERVERS+=($!)
}

# get NS URL: the body, from network namespace NS (a full path or a
# name under /run/netns), retried a little while a server starts.
get() {
  local ns=$1 url=$2 out _
  [[ $ns == /* ]] || ns=/run/netns/$ns
  for _ in $(seq 20); do
    out=$(timeout 4 nsenter --net="$ns" busybox wget -qO- "$url" 2>/dev/null) &&
      { echo "$out"; return 0; }
    sleep 0.2
  done
  return 1
}

# A container serving "$2" over HTTP on port 80: web NAME BODY [OPTS...]
web() {
  local name=$1 body=$2
  shift 2
  h ctr-run -d --name "$name" "$@" busybox \
    sh -c "mkdir -p /www && echo $body > /www/index.html && exec httpd -f -p 80 -h /www" >/dev/null
}

id_of() { ctr-inspect "$1" | jq -r '.[0].id'; }
pin_of() { echo "$CTR_RUNDIR/netns/$(id_of "$1")"; }
# The container's IPv4 address on IFNAME (default eth0), seen through its pin.
addr_of() {
  nsenter --net="$(pin_of "$1")" ip -4 -o addr show "${2:-eth0}" | awk '{print $4}' | cut -d/ -f1
}

# Everything a container's networking may leave behind in the host:
# links, ctr's nft rules and set elements, leases, pins and their
# mounts, records, processes.
leftovers() {
  ip -n "$H" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
  ip netns exec "$H" nft -j list ruleset |
    jq -c '[.nftables[] | select(.rule) | .rule | {chain, comment}]'
  ip netns exec "$H" nft -j list ruleset |
    jq -c '[.nftables[] | select(.set) | .set.elem // [] | .[]]'
  (cd "$CTR_ROOT/networks" 2>/dev/null &&
    find . -mindepth 2 -type f ! -name lock ! -name 'last_reserved_ip*' | sort)
  ls "$CTR_RUNDIR/netns" 2>/dev/null
  ls "$CTR_RUNDIR/networks" 2>/dev/null | grep -v '\.hosts$' || true
  grep -c " $CTR_RUNDIR/netns/" /proc/self/mountinfo || true
}
assert_nothing_left() {
  local now
  now=$(leftovers)
  [ "$now" = "$BEFORE" ] || fail "left behind:
$(diff <(echo "$BEFORE") <(echo "$now"))"
}

@test "the default network: an address and a route, the pin is a netns, hosts and resolv.conf" {
  h ctr-run -d --name c1 busybox sleep 300
  pin=$(pin_of c1)
  [ -f "$pin" ]
  run nsenter --net="$pin" ip -4 -o addr show eth0
  assert_success
  assert_output --regexp 'inet 10\.88\.[0-9]+\.[0-9]+/16'
  ip=$(addr_of c1)
  run h ctr-exec c1 ip route
  assert_output --partial "default via 10.88.0.1 dev eth0"
  run h ctr-exec c1 cat /etc/hosts
  id=$(id_of c1)
  assert_line "$ip	${id:0:12} c1"
  run h ctr-exec c1 cat /etc/resolv.conf
  assert_line --index 0 "nameserver 10.88.0.1"
  # the same namespace as the container's, not a copy
  [ "$(stat -L -c %i "$pin")" = "$(stat -L -c %i /proc/$(ctr-inspect c1 | jq .[0].pid)/ns/net)" ]
  # the host reaches it
  ip netns exec "$H" busybox ping -c 1 -W 2 "$ip" >/dev/null
}

@test "a published port answers from another machine and from the host's 127.0.0.1" {
  web w1 hello-from-w1 -p 8080:80
  run get "$P-out" http://192.168.77.1:8080/
  assert_success
  assert_output hello-from-w1
  run get "$H" http://127.0.0.1:8080/
  assert_success
  assert_output hello-from-w1
  run h ctr-ps
  assert_output --regexp '0\.0\.0\.0:8080->80/tcp +w1'
  run ctr-inspect w1
  assert_success
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Ports["80/tcp"][0].HostPort')" = 8080 ]
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.bridge.IPAddress')" = "$(addr_of w1)" ]
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.bridge.Gateway')" = 10.88.0.1 ]
}

@test "outbound traffic is masqueraded: a machine without a route back answers" {
  serve_out out 8000 internet-says-hi
  run h ctr-run --rm busybox timeout 3 wget -qO- http://192.168.77.2:8000/
  assert_success
  assert_output internet-says-hi
}

@test "an --internal network reaches nothing outside; two networks cannot reach each other but for published ports" {
  serve_out out 8000 internet-says-hi
  h ctr-net create --internal iso >/dev/null
  # --init: a command that is pid 1 ignores timeout's SIGTERM
  run h ctr-run --rm --init --network iso busybox timeout 2 wget -qO- http://192.168.77.2:8000/
  assert_failure
  h ctr-net create n1 >/dev/null
  h ctr-net create n2 >/dev/null
  web w1 on-n1 --network n1
  ip=$(addr_of w1)
  run h ctr-run --rm --network n1 busybox timeout 3 wget -qO- "http://$ip/"
  assert_success
  assert_output on-n1
  run h ctr-run --rm --init --network n2 busybox timeout 2 wget -qO- "http://$ip/"
  assert_failure
  # but a port w2 publishes is open to anyone, n2's containers too, at
  # the host's address (as from another machine)
  web w2 published-on-n1 --network n1 -p 8089:80
  run h ctr-run --rm --init --network n2 busybox timeout 3 wget -qO- "http://192.168.77.1:8089/"
  assert_success
  assert_output published-on-n1
  # and no further: n2 still cannot reach w2's address itself
  run h ctr-run --rm --init --network n2 busybox timeout 2 wget -qO- "http://$(addr_of w2)/"
  assert_failure
}

@test "two networks: eth0 and eth1, the default route on the first; --ip, --mac-address, --dns, --add-host" {
  h ctr-net create --subnet 10.99.1.0/24 front >/dev/null
  h ctr-net create --subnet 10.99.2.0/24 back >/dev/null
  run h ctr-run --rm --name two --network front --network back --ip 10.99.1.50 \
    --mac-address 02:42:0a:63:01:32 --dns 10.99.1.53 --add-host db:10.1.2.3 \
    --add-host gw:host-gateway busybox \
    sh -c 'ip -4 -o addr; ip link show eth0; ip route; cat /etc/resolv.conf /etc/hosts'
  assert_success
  assert_output --regexp 'eth0 +inet 10\.99\.1\.50/24'
  assert_output --regexp 'eth1 +inet 10\.99\.2\.[0-9]+/24'
  assert_output --partial "link/ether 02:42:0a:63:01:32"
  assert_line "default via 10.99.1.1 dev eth0 "
  assert_line "nameserver 10.99.1.53"
  refute_line "nameserver 10.99.1.1"
  assert_line "10.1.2.3	db"
  assert_line "10.99.1.1	gw"
  assert_nothing_left
}

@test "-P publishes the image's exposed ports on free ports, which ctr-ps shows" {
  exposed_image web
  h ctr-run -d --name pw -P web sh -c \
    'mkdir /www && echo picked > /www/index.html && exec httpd -f -p 80 -h /www'
  run h ctr-ps
  assert_success
  port=$(echo "$output" | grep -oE '0\.0\.0\.0:[0-9]+->80/tcp' | sed 's/^0.0.0.0:\([0-9]*\)-.*/\1/')
  [ -n "$port" ] && [ "$port" -gt 0 ]
  assert_output --regexp '0\.0\.0\.0:[0-9]+->8081/tcp'
  run get "$H" "http://127.0.0.1:$port/"
  assert_success
  assert_output picked
  run get "$P-out" "http://192.168.77.1:$port/"
  assert_output picked
  # the request keeps the picks free: "0:80/tcp", as docker's -P
  jq -e '.ports == ["0:80/tcp", "0:8081/tcp"]' "$CTR_ROOT/containers/$(id_of pw)/state.json"
}

# web: busybox with ExposedPorts 80/tcp and 8081/tcp in its config, by
# hand in an OCI layout.
exposed_image() {
  local d=$BATS_TEST_TMPDIR/layout m c n
  mkdir "$d"
  ctr-image export --format oci-archive -o "$BATS_TEST_TMPDIR/bb.tar" busybox
  tar -C "$d" -xf "$BATS_TEST_TMPDIR/bb.tar"
  m=$(jq -r '.manifests[0].digest' "$d/index.json" | cut -d: -f2)
  c=$(jq -r '.config.digest' "$d/blobs/sha256/$m" | cut -d: -f2)
  jq -c '.config.ExposedPorts = {"80/tcp": {}, "8081/tcp": {}}' "$d/blobs/sha256/$c" > "$d/new"
  n=$(sha256sum < "$d/new" | cut -d' ' -f1)
  mv "$d/new" "$d/blobs/sha256/$n"
  jq -c --arg d "sha256:$n" --argjson s "$(stat -c %s "$d/blobs/sha256/$n")" \
    '.config.digest = $d | .config.size = $s' "$d/blobs/sha256/$m" > "$d/new"
  n=$(sha256sum < "$d/new" | cut -d' ' -f1)
  mv "$d/new" "$d/blobs/sha256/$n"
  jq -c --arg d "sha256:$n" --argjson s "$(stat -c %s "$d/blobs/sha256/$n")" \
    '.manifests[0].digest = $d | .manifests[0].size = $s' "$d/index.json" > "$d/new"
  mv "$d/new" "$d/index.json"
  ctr-image import -q --name "$1" "$d" >/dev/null
}

@test "every end releases everything: exit, --rm, stop, rm -f, a restart" {
  h ctr-run --name fg busybox true
  assert_nothing_left
  h ctr-run --rm busybox true
  assert_nothing_left
  h ctr-run -d --name st busybox sleep 300
  [ -n "$(addr_of st)" ]
  h ctr-stop -t 1 st
  assert_nothing_left
  # a stopped container starts again on its networks
  h ctr-run start st
  [ -n "$(addr_of st)" ]
  h ctr-rm -f st
  assert_nothing_left
  h ctr-run -d --rm --name rr busybox sleep 300
  h ctr-stop -t 1 rr
  assert_nothing_left
  # each run of a restarting container has an address, and only one lease
  h ctr-run -d --name re --restart always busybox \
    sh -c 'ip -4 -o addr show eth0 >> /runs; sleep 0.3; exit 1'
  runs=$CTR_ROOT/containers/$(id_of re)/upper/runs
  for _ in $(seq 50); do
    [ "$(cat "$runs" 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.2
  done
  run cat "$runs"
  [ "${#lines[@]}" -ge 3 ]
  assert_line --index 2 --regexp 'eth0 +inet 10\.88\.'

  [ "$(find "$CTR_ROOT/networks/bridge" -name '10.*' | wc -l)" -le 1 ]
  h ctr-stop -t 1 re
  assert_nothing_left
}

@test "a killed monitor: ctr-net gc, the next start, or ctr-stop releases what it held" {
  h ctr-run -d --name kk busybox sleep 300
  id=$(id_of kk)
  run=$CTR_RUNDIR/containers/$id.json
  kill -9 "$(jq .monitor_pid "$run")" "$(jq .pid "$run")"
  sleep 0.3
  [ -f "$CTR_RUNDIR/netns/$id" ]
  run h ctr-net gc
  assert_success
  assert_nothing_left
  # again, and this time the next start cleans up
  h ctr-run start kk
  kill -9 "$(jq .monitor_pid "$run")" "$(jq .pid "$run")"
  sleep 0.3
  h ctr-run start kk
  [ -n "$(addr_of kk)" ]
  [ "$(find "$CTR_ROOT/networks/bridge" -name '10.*' | wc -l)" = 1 ]
  h ctr-rm -f kk
  assert_nothing_left
  # a killed monitor with its container still up: ctr-stop takes over
  h ctr-run -d --name km busybox sleep 300
  run=$CTR_RUNDIR/containers/$(id_of km).json
  kill -9 "$(jq .monitor_pid "$run")"
  h ctr-stop -t 1 km
  assert_nothing_left
}

@test "names: hosts file, and container A finds B by name and alias" {
  h ctr-net create names >/dev/null
  h ctr-run -d --name bee --network names --network-alias honey busybox sleep 300
  ip=$(addr_of bee)
  run h ctr-exec bee cat /etc/hosts
  assert_output --partial "$ip	"
  assert_output --partial " bee"
  # the network's name server, on its gateway, when ctr-net has one
  ip netns exec "$H" ss -Hlun | grep -q "^.* $(jq -r '.plugins[0].gateway // empty' \
    "$CTR_ROOT/networks/names.conflist"):53 " || skip "ctr-net serves no names on the gateway yet"
  for n in bee honey; do
    run h ctr-run --rm --network names busybox nslookup "$n"
    assert_success
    assert_output --partial "$ip"
    run h ctr-run --rm --network names busybox ping -c 1 -W 2 "$n"
    assert_success
  done
}

@test "ctr-run create records the request; start connects" {
  h ctr-net create cs >/dev/null
  h ctr-run create --name cc --network cs --network-alias web -p 9090:80 --dns 1.1.1.1 \
    --add-host a:1.2.3.4 busybox sleep 300 >/dev/null
  st=$CTR_ROOT/containers/$(id_of cc)/state.json
  jq -e '.network_mode == "bridge" and .networks == [{"name": "cs", "aliases": ["web"],
    "ip": null, "mac": null}] and .ports == ["9090:80"] and .dns == ["1.1.1.1"] and
    .extra_hosts == ["a:1.2.3.4"]' "$st"
  [ ! -e "$CTR_RUNDIR/netns/$(id_of cc)" ]
  h ctr-run start cc
  [ -n "$(addr_of cc)" ]
  run h ctr-ps
  assert_output --partial "0.0.0.0:9090->80/tcp"
  run ctr-inspect cc
  echo "$output" | jq -e '.[0].NetworkSettings.Networks.cs.Aliases == ["web"]'
}

@test "bad input: 125, one line, and nothing left behind" {
  run -125 --separate-stderr h ctr-run --rm --network nope busybox true
  [ "${#stderr_lines[@]}" = 1 ]
  assert_equal "$stderr" "ctr-run: no such network: nope"
  for bad in "--ip 10.88.1" "--ip 10.99.0.1" "--mac-address 01:02:03:04:05:06" \
    "-p 80-81:80" "-p 70000:80" "--add-host nocolon" "--dns x" "--network none -p 80" \
    "--network a,,b" "--network-alias -bad"; do
    # shellcheck disable=SC2086
    run -125 --separate-stderr h ctr-run --rm $bad busybox true
    [ "${#stderr_lines[@]}" = 1 ] || fail "$bad: $stderr"
  done
  [ -z "$(ls "$CTR_ROOT/containers" 2>/dev/null)" ]
  assert_nothing_left
  # what only the start can tell: a taken address, a published port
  h ctr-run -d --name first --ip 10.88.0.50 -p 8080:80 busybox sleep 300
  BEFORE=$(leftovers)
  run -125 --separate-stderr h ctr-run --rm --ip 10.88.0.50 busybox true
  [ "${#stderr_lines[@]}" = 1 ]
  assert_output --partial ""
  [[ $stderr == "ctr-run: "*"10.88.0.50"* ]] || fail "$stderr"
  run -125 --separate-stderr h ctr-run -d --rm -p 8080:80 busybox true
  [ "${#stderr_lines[@]}" = 1 ]
  [[ $stderr == "ctr-run: "*8080* ]] || fail "$stderr"
  run -125 --separate-stderr h ctr-run -p 8080:80 --name stays busybox true
  [ "${#stderr_lines[@]}" = 1 ]
  assert_nothing_left
  # as docker run: the container that could not start stays, created
  run h ctr-ps -a --filter name=stays --format json
  [ "$(echo "$output" | jq -r '.[0].status')" = created ]
}

@test "ctr-net connect to a running container is kept: its restarts rejoin both networks" {
  h ctr-net create extra >/dev/null
  # exits 1 every 2 s; --restart always brings it back under the same monitor
  h ctr-run -d --name flap --restart always --network bridge busybox \
    sh -c 'sleep 2; exit 1' >/dev/null
  h ctr-net connect --alias second extra flap
  [ "$(jq -r '[.networks[] | (.name // .)] | sort | join(",")' \
      "$CTR_ROOT/containers/$(id_of flap)/state.json")" = "bridge,extra" ]
  # after two more restarts the monitor has saved state.json again
  for _ in $(seq 60); do
    [ "$(ctr-inspect flap | jq -r '.[0].restart_count // 0')" -ge 2 ] && break
    sleep 0.2
  done
  [ "$(ctr-inspect flap | jq -r '.[0].restart_count // 0')" -ge 2 ]
  [ "$(jq -r '[.networks[] | (.name // .)] | sort | join(",")' \
      "$CTR_ROOT/containers/$(id_of flap)/state.json")" = "bridge,extra" ]
  for _ in $(seq 40); do
    nsenter --net="$(pin_of flap)" ip -o link show eth1 >/dev/null 2>&1 && break
    sleep 0.2
  done
  nsenter --net="$(pin_of flap)" ip -4 -o addr show eth1 | grep -q ' 10\.89\.'
  h ctr-rm -f flap >/dev/null
  h ctr-net rm extra
}

@test "a network connected while ctr-run waits in the foreground stays in state.json after the exit" {
  h ctr-net create extra >/dev/null
  h ctr-run --name fg --network bridge busybox sleep 3 >/dev/null &
  local runner=$!
  for _ in $(seq 50); do
    [ "$(ctr-inspect fg 2>/dev/null | jq -r '.[0].status')" = running ] && break
    sleep 0.1
  done
  h ctr-net connect extra fg
  wait "$runner"
  [ "$(ctr-inspect fg | jq -r '.[0].status')" = exited ]
  [ "$(jq -r '[.networks[] | (.name // .)] | sort | join(",")' \
      "$CTR_ROOT/containers/$(id_of fg)/state.json")" = "bridge,extra" ]
  h ctr-rm fg >/dev/null
  h ctr-net rm extra
}
