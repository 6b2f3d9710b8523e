#!/usr/bin/env bats
# The per-network name server (`ctr-net _dns`, lib/net/dns_server.c):
# names and aliases from $CTR_RUNDIR/networks/<net>.hosts, forwarding to
# upstreams, peers on other hosts, start on demand (_dns --ensure, what
# `ctr-net connect` calls), stop when idle, and bad packets. Every server
# runs inside network namespaces the test makes ("hosts"), listening on a
# bridge or veth address there; queries are made with python3's socket
# (a hand-built DNS message) and busybox nslookup.

load helpers/common

bats_require_minimum_version 1.5.0

setup_file() {
  requires python3 busybox
  # dnsq.py SERVER NAME [TYPE] [--norec] [--tcp] [--from=IP]: prints the rcode, then the
  # answers (A addresses, PTR names), then "ttl=N" of the first answer
  # (TC after the rcode when the reply is truncated);
  # TIMEOUT when nothing came back within 3 s.
  cat > "$BATS_FILE_TMPDIR/dnsq.py" <<'EOF'
import random, socket, struct, sys
args = sys.argv[1:]
tcp, norec = '--tcp' in args, '--norec' in args
src = [a[7:] for a in args if a.startswith('--from=')]
src = (src[0], 0) if src else None
args = [a for a in args if not a.startswith('--')]
server, name = args[0], args[1]
qtype = {'A': 1, 'PTR': 12, 'AAAA': 28, 'MX': 15}[args[2] if len(args) > 2 else 'A']
qid = random.randint(0, 65535)
q = struct.pack('>HHHHHH', qid, 0 if norec else 0x100, 1, 0, 0, 0)
for l in name.rstrip('.').split('.'):
    q += bytes([len(l)]) + l.encode()
q += b'\0' + struct.pack('>HH', qtype, 1)
def name_at(m, o):
    out, end = [], None
    while True:
        c = m[o]
        if c >= 0xc0:
            end = o + 2 if end is None else end
            o = ((c & 0x3f) << 8) | m[o + 1]
            continue
        if c == 0:
            return '.'.join(out), (o + 1 if end is None else end)
        out.append(m[o + 1:o + 1 + c].decode())
        o += 1 + c
try:
    if tcp:
        s = socket.create_connection((server, 53), timeout=3, source_address=src)
        s.sendall(struct.pack('>H', len(q)) + q)
        m = b''
        while len(m) < 2 or len(m) < 2 + struct.unpack('>H', m[:2])[0]:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError
            m += chunk
        m = m[2:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        if src:
            s.bind(src)
        s.sendto(q, (server, 53))
        m = s.recv(4096)
except (OSError, ConnectionError):
    print('TIMEOUT')
    sys.exit(0)
rid, fl, qd, an = struct.unpack('>HHHH', m[:8])
assert rid == qid, 'reply to another id'
words = [['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][fl & 15]]
if fl & 0x200:
    words.append('TC')
o, ttl = 12, None
for _ in range(qd):
    o = name_at(m, o)[1] + 4
for _ in range(an):
    o = name_at(m, o)[1]
    t, c, rttl, rdl = struct.unpack('>HHIH', m[o:o + 10])
    o += 10
    ttl = rttl if ttl is None else ttl
    if t == 1:
        words.append(socket.inet_ntoa(m[o:o + 4]))
    elif t == 12:
        words.append(name_at(m, o)[0])
    o += rdl
if ttl is not None:
    words.append('ttl=%d' % ttl)
print(' '.join(words))
EOF
  # fakeup.py IP LOG: an "upstream" resolver on IP:53 that answers every A
  # question with 192.0.2.7 (names starting "big": 300 times, 4.8 kB) and
  # writes "name rd=0|1" to LOG for each.
  cat > "$BATS_FILE_TMPDIR/fakeup.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
log = open(sys.argv[2], 'a', buffering=1)
while True:
    m, peer = s.recvfrom(4096)
    qid, fl = struct.unpack('>HH', m[:4])
    o, labels = 12, []
    while m[o]:
        labels.append(m[o + 1:o + 1 + m[o]].decode())
        o += 1 + m[o]
    q = m[12:o + 5]
    log.write('%s rd=%d\n' % ('.'.join(labels), 1 if fl & 0x100 else 0))
    ans = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 30, 4) + socket.inet_aton('192.0.2.7')
    n = 300 if labels and labels[0].startswith('big') else 1
    s.sendto(struct.pack('>HHHHHH', qid, 0x8180 | (fl & 0x100), 1, n, 0, 0) + q + ans * n, peer)
EOF
}

setup() {
  setup_store
  NETS="$CTR_RUNDIR/networks"
  mkdir -p "$NETS"
  DNSQ="$BATS_FILE_TMPDIR/dnsq.py"
  H1="ctrt-$$-${BATS_TEST_NUMBER}-h1"
  H2="ctrt-$$-${BATS_TEST_NUMBER}-h2"
  PIDS=()
  NETNS_MADE=()
}

teardown() {
  local f pid ns n id pin
  # the overlay test's containers and namespace pins
  for n in 1 2; do
    for id in $(ls "$BATS_TEST_TMPDIR/root$n/containers" 2>/dev/null); do
      on_host "$n" ctr-rm -f "$id" >/dev/null 2>&1 || true
    done
  done
  for pin in "$BATS_TEST_TMPDIR"/run*/netns/*; do
    [ -e "$pin" ] && umount -l "$pin" 2>/dev/null
  done
  # servers this test started write their pid files; the python helpers
  # are in PIDS
  for f in "$CTR_RUNDIR"/networks/*.dns.pid "$BATS_TEST_TMPDIR"/run*/networks/*.dns.pid; do
    [ -s "$f" ] && kill "$(head -n1 "$f")" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for ns in "${NETNS_MADE[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "/etc/netns/$H1"
  rmdir /etc/netns 2>/dev/null || true
}

# A "host": a namespace with lo up and a bridge d0 carrying ADDR/24.
make_host() {
  local ns=$1 addr=$2
  ip netns add "$ns"
  NETNS_MADE+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$ns" link add d0 type bridge
  ip -n "$ns" addr add "$addr/24" dev d0
  ip -n "$ns" link set d0 up
}

# Two hosts joined by a veth pair: 10.98.0.1 in H1, 10.98.0.2 in H2.
make_two_hosts() {
  make_host "$H1" 10.99.1.1
  make_host "$H2" 10.99.2.1
  ip link add "ctrt$$a" netns "$H1" type veth peer name "ctrt$$b" netns "$H2"
  ip -n "$H1" link set "ctrt$$a" name v0
  ip -n "$H2" link set "ctrt$$b" name v0
  ip -n "$H1" addr add 10.98.0.1/24 dev v0
  ip -n "$H2" addr add 10.98.0.2/24 dev v0
  ip -n "$H1" link set v0 up
  ip -n "$H2" link set v0 up
}

# hosts(5) content for network NET, replaced by rename as connect does.
write_hosts() {
  local net=$1
  shift
  printf '%s\n' "$@" > "$NETS/$net.hosts.tmp"
  mv "$NETS/$net.hosts.tmp" "$NETS/$net.hosts"
}

# on_host N CMD...: CMD in host N of the overlay test ($H1-N), with its
# own store (nsenter, so the namespace pins ctr-net mounts stay visible).
on_host() {
  local n=$1
  shift
  nsenter --net="/run/netns/$H1-$n" env CTR_ROOT="$BATS_TEST_TMPDIR/root$n" \
    CTR_RUNDIR="$BATS_TEST_TMPDIR/run$n" CTR_DEFAULT_NETWORK= "$@"
}

q() {
  local ns=$1
  shift
  ip netns exec "$ns" python3 "$DNSQ" "$@"
}

# Run the server in the background in NS (as net_dns_ensure would, but
# with extra flags such as --upstream), and wait until it answers.
start_dns() {
  local ns=$1 net=$2 ip=$3 i
  shift 3
  ip netns exec "$ns" ctr-net _dns --network "$net" --listen "$ip" "$@" >/dev/null 2>&1 3>&- &
  for i in $(seq 1 50); do
    [ -s "$NETS/$net.dns.pid" ] && [ "$(q "$ns" "$ip" ctr-probe --norec)" != TIMEOUT ] && return 0
    sleep 0.1
  done
  fail "the name server for $net on $ip did not start"
}

# A fake upstream on NS's address IP, logging to LOG.
start_upstream() {
  local ns=$1 ip=$2 log=$3 i
  ip -n "$ns" addr add "$ip/24" dev d0 2>/dev/null || true
  ip netns exec "$ns" python3 "$BATS_FILE_TMPDIR/fakeup.py" "$ip" "$log" >/dev/null 2>&1 3>&- &
  PIDS+=($!)
  for i in $(seq 1 50); do
    ip netns exec "$ns" ss -lun | grep -q "$ip:53" && return 0
    sleep 0.1
  done
  fail "the fake upstream did not start"
}

# How many servers for network NET run under this test's CTR_RUNDIR.
count_servers() {
  pgrep -f -- "--rundir $CTR_RUNDIR [_]dns --network $1 " | wc -l
}

dns_pid() {
  head -n1 "$NETS/$1.dns.pid"
}

@test "names and aliases resolve in any case, also fully qualified; AAAA has no data" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web www # c1" "10.99.0.3 db cache # c2"
  start_dns "$H1" web 10.99.0.1
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
  run q "$H1" 10.99.0.1 WWW.
  assert_output "NOERROR 10.99.0.2 ttl=2"
  run q "$H1" 10.99.0.1 Cache
  assert_output "NOERROR 10.99.0.3 ttl=2"
  run q "$H1" 10.99.0.1 db AAAA
  assert_output "NOERROR"
  run q "$H1" 10.99.0.1 db MX
  assert_output "NOERROR"
  # a client as containers have one: busybox's nslookup
  run ip netns exec "$H1" busybox nslookup db 10.99.0.1
  assert_success
  assert_output --partial "Address: 10.99.0.3"
}

@test "PTR names a container's address by its first name" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web www # c1"
  start_dns "$H1" web 10.99.0.1
  run q "$H1" 10.99.0.1 2.0.99.10.in-addr.arpa PTR
  assert_output "NOERROR web ttl=2"
  run ip netns exec "$H1" busybox nslookup 10.99.0.2 10.99.0.1
  assert_output --partial "name = web"
}

@test "names follow the hosts file: added and removed names show at once" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  start_dns "$H1" web 10.99.0.1
  run q "$H1" 10.99.0.1 api --norec
  assert_output "NXDOMAIN"
  write_hosts web "10.99.0.2 web # c1" "10.99.0.4 api # c3"
  run q "$H1" 10.99.0.1 api
  assert_output "NOERROR 10.99.0.4 ttl=2"
  write_hosts web "10.99.0.4 api # c3"
  run q "$H1" 10.99.0.1 web --norec
  assert_output "NXDOMAIN"
  # rewritten in place (no rename) works too
  printf '10.99.0.5 api # c4\n' > "$NETS/web.hosts"
  run q "$H1" 10.99.0.1 api
  assert_output "NOERROR 10.99.0.5 ttl=2"
}

@test "TCP gets the same answers, length-prefixed" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web www # c1"
  start_dns "$H1" web 10.99.0.1
  run q "$H1" 10.99.0.1 www --tcp
  assert_output "NOERROR 10.99.0.2 ttl=2"
  run q "$H1" 10.99.0.1 nobody --tcp --norec
  assert_output "NXDOMAIN"
}

@test "other names go to the upstream and its reply comes back; RD clear is never forwarded" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  start_upstream "$H1" 10.99.0.53 "$BATS_TEST_TMPDIR/up.log"
  start_dns "$H1" web 10.99.0.1 --upstream 10.99.0.53
  run q "$H1" 10.99.0.1 example.com
  assert_output "NOERROR 192.0.2.7 ttl=30"
  run cat "$BATS_TEST_TMPDIR/up.log"
  assert_output "example.com rd=1"
  # a TCP client too (asked of the upstream over UDP)
  run q "$H1" 10.99.0.1 example.net --tcp
  assert_output "NOERROR 192.0.2.7 ttl=30"
  # an unknown single label, no peers: the upstream is asked too
  run q "$H1" 10.99.0.1 nobody
  assert_output "NOERROR 192.0.2.7 ttl=30"
  run q "$H1" 10.99.0.1 other.example --norec
  assert_output "REFUSED"
  # a reply larger than the server keeps (4 kB): cut, marked truncated
  run q "$H1" 10.99.0.1 big.example
  assert_output "NOERROR TC"
  run cat "$BATS_TEST_TMPDIR/up.log"
  assert_output $'example.com rd=1\nexample.net rd=1\nnobody rd=1\nbig.example rd=1'
}

@test "only the network's containers and the host itself may recurse; anyone gets the names" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  start_upstream "$H1" 10.99.0.53 "$BATS_TEST_TMPDIR/up.log"
  start_dns "$H1" web 10.99.0.1 --upstream 10.99.0.53
  # an outsider: an address that is no container's
  ip -n "$H1" addr add 10.99.0.200/24 dev d0
  ip -n "$H1" addr add 10.99.0.2/24 dev d0
  run q "$H1" 10.99.0.1 example.com --from=10.99.0.200
  assert_output "REFUSED"
  run q "$H1" 10.99.0.1 example.com --from=10.99.0.200 --tcp
  assert_output "REFUSED"
  run q "$H1" 10.99.0.1 nobody --from=10.99.0.200
  assert_output "NXDOMAIN"
  run q "$H1" 10.99.0.1 web --from=10.99.0.200
  assert_output "NOERROR 10.99.0.2 ttl=2"
  [ ! -s "$BATS_TEST_TMPDIR/up.log" ] || fail "forwarded for an outsider: $(cat "$BATS_TEST_TMPDIR/up.log")"
  # the container web
  run q "$H1" 10.99.0.1 example.com --from=10.99.0.2
  assert_output "NOERROR 192.0.2.7 ttl=30"
  run q "$H1" 10.99.0.1 example.org --from=10.99.0.2 --tcp
  assert_output "NOERROR 192.0.2.7 ttl=30"
}

@test "no upstream answering: SERVFAIL, and NXDOMAIN for a single label" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  # 10.99.0.99 is on the bridge but nobody is there; the server's own
  # address is never asked
  start_dns "$H1" web 10.99.0.1 --upstream 10.99.0.1 --upstream 10.99.0.99
  run q "$H1" 10.99.0.1 example.com
  assert_output "SERVFAIL"
  run q "$H1" 10.99.0.1 nobody
  assert_output "NXDOMAIN"
}

@test "ensure takes the upstreams from the host's resolv.conf, but not itself" {
  make_host "$H1" 10.99.0.1
  mkdir -p "/etc/netns/$H1"
  printf 'nameserver 10.99.0.1\nnameserver 10.99.0.53\n' > "/etc/netns/$H1/resolv.conf"
  start_upstream "$H1" 10.99.0.53 "$BATS_TEST_TMPDIR/up.log"
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  run q "$H1" 10.99.0.1 example.org
  assert_output "NOERROR 192.0.2.7 ttl=30"
  run cat "$BATS_TEST_TMPDIR/up.log"
  assert_output "example.org rd=1"
}

@test "an internal network's server (--no-upstream) answers its names and asks no resolver" {
  make_host "$H1" 10.99.0.1
  mkdir -p "/etc/netns/$H1"
  printf 'nameserver 10.99.0.53\n' > "/etc/netns/$H1/resolv.conf"
  start_upstream "$H1" 10.99.0.53 "$BATS_TEST_TMPDIR/up.log"
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --no-upstream --network web --listen 10.99.0.1
  assert_success
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
  run q "$H1" 10.99.0.1 example.org
  assert_output "SERVFAIL"
  run q "$H1" 10.99.0.1 nobody
  assert_output "NXDOMAIN"
  [ ! -s "$BATS_TEST_TMPDIR/up.log" ] || fail "asked the resolver: $(cat "$BATS_TEST_TMPDIR/up.log")"
  grep -q -- "--no-upstream" "/proc/$(dns_pid web)/cmdline"
}

@test "peers: a name on another host's server resolves; unknown names do not loop" {
  make_two_hosts
  write_hosts web "10.99.1.2 web # c1"
  start_upstream "$H1" 10.99.1.53 "$BATS_TEST_TMPDIR/up1.log"
  start_dns "$H1" web 10.98.0.1 --peer 10.98.0.2 --upstream 10.99.1.53
  # the second host: its own CTR_RUNDIR, its own records, H1 as its peer
  local run1=$CTR_RUNDIR
  export CTR_RUNDIR="$BATS_TEST_TMPDIR/run2"
  NETS="$CTR_RUNDIR/networks"
  mkdir -p "$NETS"
  write_hosts web "10.99.2.2 db # c2"
  start_upstream "$H2" 10.99.2.53 "$BATS_TEST_TMPDIR/up2.log"
  start_dns "$H2" web 10.98.0.2 --peer 10.98.0.1 --upstream 10.99.2.53
  local pid2
  pid2=$(dns_pid web)
  export CTR_RUNDIR=$run1
  NETS="$CTR_RUNDIR/networks"

  run q "$H1" 10.98.0.1 db
  assert_output "NOERROR 10.99.2.2 ttl=2"
  run q "$H2" 10.98.0.2 WEB.
  assert_output "NOERROR 10.99.1.2 ttl=2"
  run q "$H1" 10.98.0.1 2.2.99.10.in-addr.arpa PTR
  assert_output "NOERROR db ttl=2"
  # known by no one: the peer says so, H1's upstream is asked once, H2
  # forwards nothing
  run q "$H1" 10.98.0.1 nobody
  assert_output "NOERROR 192.0.2.7 ttl=30"
  sleep 0.5
  run cat "$BATS_TEST_TMPDIR/up1.log"
  assert_output "nobody rd=1"
  [ ! -s "$BATS_TEST_TMPDIR/up2.log" ] || fail "H2 forwarded: $(cat "$BATS_TEST_TMPDIR/up2.log")"
  kill -0 "$pid2"
  kill "$pid2"
}

@test "a peer that does not answer costs a short wait, not a failure" {
  make_two_hosts
  write_hosts web "10.99.1.2 web # c1"
  # no upstream at all: the host's resolv.conf (as `ip netns exec` shows
  # it) lists none
  mkdir -p "/etc/netns/$H1"
  : > "/etc/netns/$H1/resolv.conf"
  start_dns "$H1" web 10.98.0.1 --peer 10.98.0.2
  local t0 t1
  t0=$(date +%s%N)
  run q "$H1" 10.98.0.1 nobody
  t1=$(date +%s%N)
  assert_output "NXDOMAIN"
  [ $(((t1 - t0) / 1000000)) -lt 1500 ] || fail "took $(((t1 - t0) / 1000000)) ms"
}

@test "ensure starts one server that answers at once; a second ensure is a no-op" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  assert_output ""
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
  local pid
  pid=$(dns_pid web)
  kill -0 "$pid"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  [ "$(dns_pid web)" = "$pid" ]
  # detached: another session, reparented away from ensure
  [ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
  [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$$" ]
  [ "$(count_servers web)" = 1 ]
}

@test "ensure with other peers replaces the server; the pid file says what it serves" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1 --peer 10.98.0.2
  assert_success
  local pid
  pid=$(dns_pid web)
  run cat "$NETS/web.dns.pid"
  assert_output "$pid"$'\n10.99.0.1\n10.98.0.2'
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1 --peer 10.98.0.2 --peer 10.98.0.3
  assert_success
  [ "$(dns_pid web)" != "$pid" ]
  local i
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "server $pid still runs"; fi
  run cat "$NETS/web.dns.pid"
  assert_output "$(dns_pid web)"$'\n10.99.0.1\n10.98.0.2\n10.98.0.3'
  [ "$(count_servers web)" = 1 ]
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
}

@test "ensures racing start one server" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  local i
  for i in 1 2 3 4 5; do
    ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1 \
      > "$BATS_TEST_TMPDIR/e$i" 2>&1 3>&- &
  done
  wait
  for i in 1 2 3 4 5; do
    run cat "$BATS_TEST_TMPDIR/e$i"
    assert_output ""
  done
  [ "$(count_servers web)" = 1 ]
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
}

@test "ensure on an address another server holds, or not on this host: one line, exit 1, nothing left" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  write_hosts api "10.99.0.3 api # c2"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  run --separate-stderr ip netns exec "$H1" ctr-net _dns --ensure --network api --listen 10.99.0.1
  assert_failure 1
  assert_equal "$stderr" "ctr-net: name server for api on 10.99.0.1: listen on 10.99.0.1:53: Address already in use"
  run --separate-stderr ip netns exec "$H1" ctr-net _dns --ensure --network api --listen 10.99.7.1
  assert_failure 1
  [[ "$stderr" == "ctr-net: name server for api on 10.99.7.1: listen on 10.99.7.1:53: Cannot assign requested address" ]]
  [ ! -e "$NETS/api.dns.pid" ]
  [ "$(count_servers api)" = 0 ]
  run --separate-stderr ip netns exec "$H1" ctr-net _dns --ensure --network api --listen 10.99.0
  assert_failure 2
  assert_equal "$stderr" "ctr-net: name server for api: invalid address '10.99.0'"
}

@test "_dns without --listen, or with a second server's lock held, behaves" {
  run --separate-stderr ctr-net _dns --network web
  assert_failure 2
  assert_equal "$stderr" "ctr-net: _dns needs --network NAME --listen IP"
  run --separate-stderr ctr-net _dns --network ../x --listen 10.99.0.1
  assert_failure 2
  [[ "$stderr" == "ctr-net: name server for ../x: "* ]]
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  start_dns "$H1" web 10.99.0.1
  # a second server for the network sees the lock and leaves quietly
  run ip netns exec "$H1" ctr-net _dns --network web --listen 10.99.0.1
  assert_success
  assert_output ""
}

@test "stop-if-idle stops the server once its hosts file has no records" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  local pid
  pid=$(dns_pid web)
  run ctr-net _dns --stop-if-idle --network web
  assert_success
  sleep 0.3
  kill -0 "$pid"
  write_hosts web "# nobody left"
  run ctr-net _dns --stop-if-idle --network web
  assert_success
  local i
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "server $pid still runs"; fi
  [ ! -e "$NETS/web.dns.pid" ]
  run q "$H1" 10.99.0.1 web
  assert_output "TIMEOUT"
}

@test "the server exits by itself a few seconds after its hosts file is gone" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  local pid i
  pid=$(dns_pid web)
  rm "$NETS/web.hosts"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "server $pid still runs"; fi
  [ "$i" -gt 20 ] || fail "exited after $i tenths of a second: too soon"
  [ ! -e "$NETS/web.dns.pid" ]
}

@test "a name that comes back within the grace keeps the server" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  local pid
  pid=$(dns_pid web)
  write_hosts web "# none"
  sleep 2
  write_hosts web "10.99.0.9 next # c9"
  sleep 6
  kill -0 "$pid"
  run q "$H1" 10.99.0.1 next
  assert_output "NOERROR 10.99.0.9 ttl=2"
}

@test "SIGTERM stops the server and removes its pid file" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  local pid i
  pid=$(dns_pid web)
  kill -TERM "$pid"
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "server $pid still runs"; fi
  [ ! -e "$NETS/web.dns.pid" ]
  # and ensure brings one back
  run ip netns exec "$H1" ctr-net _dns --ensure --network web --listen 10.99.0.1
  assert_success
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
}

@test "garbage, cut queries, compression loops and replies do not kill it" {
  make_host "$H1" 10.99.0.1
  write_hosts web "10.99.0.2 web # c1"
  start_dns "$H1" web 10.99.0.1
  local pid
  pid=$(dns_pid web)
  run ip netns exec "$H1" python3 - <<'EOF'
import os, random, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def ask(m):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.settimeout(0.5)
    a.sendto(m, ('10.99.0.1', 53))
    try:
        r = a.recv(4096)
        return r if r[:2] == m[:2] else 'other id'
    except socket.timeout:
        return None
random.seed(5)
for i in range(300):
    s.sendto(os.urandom(random.randint(0, 600)), ('10.99.0.1', 53))
q = struct.pack('>HHHHHH', 9, 0x100, 1, 0, 0, 0) + b'\x03web\x00' + struct.pack('>HH', 1, 1)
for n in range(len(q)):
    s.sendto(q[:n], ('10.99.0.1', 53))
# a burst like that may overflow the server's socket buffer, as UDP
# allows: let it drain before asking
time.sleep(0.5)
r = ask(q[:15])
print('cut', r is not None and r[3] & 15)
r = ask(struct.pack('>HHHHHH', 10, 0x100, 1, 0, 0, 0) + b'\xc0\x0c\x00\x01\x00\x01')
print('loop', r is not None and r[3] & 15)
r = ask(struct.pack('>HHHHHH', 11, 0x8180, 1, 0, 0, 0) + b'\x03web\x00\x00\x01\x00\x01')
print('reply', r)
t = socket.create_connection(('10.99.0.1', 53))
t.sendall(b'\xff\xff' + os.urandom(100))
t.close()
t = socket.create_connection(('10.99.0.1', 53))
t.sendall(b'\x00\x05abc')
t.close()
EOF
  assert_success
  assert_output $'cut 1\nloop 1\nreply None'
  kill -0 "$pid"
  run q "$H1" 10.99.0.1 web
  assert_output "NOERROR 10.99.0.2 ttl=2"
  run q "$H1" 10.99.0.1 web --tcp
  assert_output "NOERROR 10.99.0.2 ttl=2"
}

@test "across hosts: containers connected to an overlay on two hosts resolve each other by name" {
  requires jq nsenter
  local n x c extra
  ip netns add "$H1-sw"
  NETNS_MADE+=("$H1-sw")
  ip -n "$H1-sw" link add br0 type bridge
  ip -n "$H1-sw" link set br0 up
  # two hosts on an underlay, each with its own store, the overlay "ov"
  for n in 1 2; do
    ip netns add "$H1-$n"
    NETNS_MADE+=("$H1-$n")
    ip -n "$H1-$n" link set lo up
    ip -n "$H1-sw" link add "u$n" type veth peer name eth0 netns "$H1-$n"
    ip -n "$H1-sw" link set "u$n" master br0 up
    ip -n "$H1-$n" addr add "192.168.77.1$n/24" dev eth0
    ip -n "$H1-$n" link set eth0 up
    run on_host "$n" ctr-image import --from-host busybox
    assert_success
    run on_host "$n" ctr-net create --driver overlay --vni 42 --subnet 10.50.0.0/16 \
      --peer 192.168.77.11 --peer 192.168.77.12 ov
    assert_success
  done
  # web on host 1, db (alias postgres) on host 2, by ctr-net connect
  for x in 1:web 2:db; do
    n=${x%%:*} c=${x#*:}
    ip netns add "$H1-$c"
    NETNS_MADE+=("$H1-$c")
    ip -n "$H1-$c" link set lo up
    run on_host "$n" ctr-run create --name "$c" --network none busybox sleep 1000
    assert_success
    extra=()
    [ "$c" != db ] || extra=(--alias postgres)
    run on_host "$n" ctr-net connect --netns "/run/netns/$H1-$c" "${extra[@]}" ov "$c"
    assert_success
  done
  # each container asks its own host's server (the gateway of its slice)
  run ip netns exec "$H1-web" busybox nslookup postgres 10.50.11.1
  assert_success
  assert_output --partial "Address: 10.50.12.2"
  run ip netns exec "$H1-db" busybox nslookup web 10.50.12.1
  assert_success
  assert_output --partial "Address: 10.50.11.2"
  # gone from host 2: gone for host 1 at once
  run on_host 2 ctr-net disconnect ov db
  assert_success
  run ip netns exec "$H1-web" python3 "$DNSQ" 10.50.11.1 postgres
  refute_output --partial "10.50.12.2"
}
