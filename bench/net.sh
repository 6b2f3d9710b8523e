#!/bin/bash
# bench/net.sh — how long attaching a container to a bridge network and
# detaching it take with ctr-net (run as a CNI plugin, exactly as a
# runtime runs it) against the reference plugins (bridge + host-local,
# containernetworking-plugins), both driven the same way from inside one
# "host" network namespace; and the TCP throughput (iperf3) between two
# containers on a ctr bridge against two bare namespaces on a plain bridge;
# and across a ctr overlay (VXLAN, two "hosts" joined by one veth) against
# that veth itself, the underlay, and against a bare VXLAN device of the
# same shape made with ip (what the kernel alone gives here).
#
#   bench/net.sh                       # RUNS=30 rounds, 3 iperf3 rounds of 5 s
#   RUNS=50 IPERF_ROUNDS=5 IPERF_SECONDS=10 bench/net.sh
#   STORE=tmpfs bench/net.sh           # lease directories on a tmpfs
#   CTR_BUILD=build-bench bench/net.sh # the tools of another build dir
#
# Every case runs in namespaces this script makes (ctrbench-PID-*) and
# removes at exit, also on failure or ^C; nothing touches the machine's own
# namespace. Progress goes to stderr, the report to stdout; targets are
# printed, not asserted. Needs root, ip (iproute2), iperf3, jq, nft,
# /usr/lib/cni/{bridge,host-local}; GNU time for peak RSS.
set -euo pipefail

BENCH_NAME=bench/net
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

((EUID == 0)) || { echo "$BENCH_NAME: run as root (network namespaces)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-30}
IPERF_ROUNDS=${IPERF_ROUNDS:-3}
IPERF_SECONDS=${IPERF_SECONDS:-5}
STORE=${STORE:-disk}
CTR_BUILD=${CTR_BUILD:-build}
[[ $CTR_BUILD == /* ]] || CTR_BUILD=$top/$CTR_BUILD
CTR_NET=${CTR_NET:-$CTR_BUILD/bin/ctr-net}
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer"
[[ $IPERF_ROUNDS =~ ^[0-9]+$ && $IPERF_SECONDS =~ ^[1-9][0-9]*$ ]] ||
  bench_die "IPERF_ROUNDS and IPERF_SECONDS must be integers"
[[ $STORE == disk || $STORE == tmpfs ]] || bench_die "STORE is disk or tmpfs"
[[ -x $CTR_NET ]] || bench_die "$CTR_NET not built (run make)"
[[ -x $CNI_DIR/bridge && -x $CNI_DIR/host-local ]] ||
  bench_die "missing $CNI_DIR/bridge or host-local (apt-get install containernetworking-plugins)"
bench_need ip iperf3 jq nft awk bridge

bench_init
if [[ $STORE == tmpfs ]]; then
  bench_tmpfs 64m
  W=$BENCH_FS
else
  W=$BENCH_TMP
fi

P=ctrbench-$$ # every namespace of ours: $P-NAME
ns() { echo "$P-$1"; }
remove_namespaces() {
  local n
  for n in $(ip netns list | awk '{print $1}' | grep "^$P-"); do
    ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$n"
  done
}
bench_on_exit remove_namespaces
mkns() { local n; for n in "$@"; do ip netns add "$(ns "$n")"; done; }

# ---- the namespaces -------------------------------------------------------------

# host: where both plugins run (each with its own bridge and subnet);
# c/r: the container ctr-net / the reference attaches and detaches each
# round; ca/ra: one container each that stays attached, so the rounds
# measure the steady state (bridge and network rules there), not the
# first attach; t1/t2: iperf3 peers on ctr's bridge; bare, b1, b2: a plain
# bridge with two namespaces on veths, made with ip, and no nftables at all.
mkns host c r ca ra t1 t2 bare b1 b2 fc fr
H=$(ns host)
ip -n "$H" link set lo up

CTR_CONF=$W/ctr.json
REF_CONF=$W/ref.json
REF_NOMASQ_CONF=$W/ref-nomasq.json
jq -n --arg d "$W/ctr-leases" '{cniVersion: "1.0.0", name: "benchnet", type: "ctr-net",
  driver: "bridge", bridge: "ctrb0", subnet: "10.88.0.0/16", gateway: "10.88.0.1",
  internal: false, mtu: 1500, dataDir: $d, capabilities: {portMappings: true}, options: {}}' >"$CTR_CONF"
# the reference as podman's CNI backend configured it: a gateway bridge,
# default route, masquerade, hairpin, host-local leases
jq -n --arg d "$W/ref-leases" '{cniVersion: "1.0.0", name: "refnet", type: "bridge",
  bridge: "cni0", isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true,
  mtu: 1500, ipam: {type: "host-local", subnet: "10.89.0.0/16", gateway: "10.89.0.1", dataDir: $d}}' >"$REF_CONF"
jq '.name = "refnet2" | .bridge = "cni1" | .ipMasq = false |
  .ipam.subnet = "10.90.0.0/16" | .ipam.gateway = "10.90.0.1"' "$REF_CONF" >"$REF_NOMASQ_CONF"

# plugin PLUGIN CONF COMMAND CONTAINER: the plugin, in the host namespace,
# as a runtime runs it (stdin: the configuration); its answer on failure
plugin() {
  local out
  out=$(ip netns exec "$H" env CNI_COMMAND="$3" CNI_CONTAINERID="bench-$4" \
    CNI_NETNS="/run/netns/$(ns "$4")" CNI_IFNAME=eth0 CNI_PATH="$CNI_DIR" "$1" <"$2") ||
    bench_die "$(basename "$1") $3 of $4 failed: $(jq -r .msg <<<"$out" 2>/dev/null || echo "$out")"
}

bench_log "first attaches (bridge and network rules made): ctr-net, reference, reference without ipMasq"
t=$EPOCHREALTIME
plugin "$CTR_NET" "$CTR_CONF" ADD ca
FIRST_CTR=$(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
t=$EPOCHREALTIME
plugin "$CNI_DIR/bridge" "$REF_CONF" ADD ra
FIRST_REF=$(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
plugin "$CNI_DIR/bridge" "$REF_NOMASQ_CONF" ADD fr

# ---- timing: one process per operation, run from inside the host namespace --------

# The timed commands must not pay for `ip netns exec` (a mount namespace
# and a remount of /sys each time): the timing loop itself runs inside the
# host namespace, a copy of this script's functions in a bash there.
INNER=$BENCH_TMP/inner.sh
cat >"$INNER" <<'EOF'
set -euo pipefail
. "$LIB"
BENCH_TMP=$TMPDIR_INNER
declare -gA BENCH_WALL=() BENCH_MAXRSS=() BENCH_CPUS=()
# measure NAME CMD…: one timed run (MODE=time) or one run for peak RSS only
# (MODE=rss). The timed runs go without the RSS meter: GNU time's own
# fork, exec and start-up (~2 ms here) would sit inside every interval,
# half of the 4 ms target.
measure() {
  local name=$1
  shift
  if [[ $MODE == time ]]; then
    bench_once "$name" : "$@"
  else
    bench_time_once "$@"
    BENCH_MAXRSS[$name]+="$BENCH_LAST_RSS "
  fi
}
one_round() {
  # interleaved, so the machine's noise hits every case alike
  CNI_COMMAND=ADD CNI_CONTAINERID=bench-c CNI_NETNS=/run/netns/$P-c CNI_IFNAME=eth0 \
    measure ctr-add "$CTR_NET" <"$CTR_CONF"
  CNI_COMMAND=ADD CNI_CONTAINERID=bench-r CNI_NETNS=/run/netns/$P-r CNI_IFNAME=eth0 CNI_PATH=$CNI_DIR \
    measure ref-add "$CNI_DIR/bridge" <"$REF_CONF"
  CNI_COMMAND=DEL CNI_CONTAINERID=bench-c CNI_NETNS=/run/netns/$P-c CNI_IFNAME=eth0 \
    measure ctr-del "$CTR_NET" <"$CTR_CONF"
  CNI_COMMAND=DEL CNI_CONTAINERID=bench-r CNI_NETNS=/run/netns/$P-r CNI_IFNAME=eth0 CNI_PATH=$CNI_DIR \
    measure ref-del "$CNI_DIR/bridge" <"$REF_CONF"
  CNI_COMMAND=ADD CNI_CONTAINERID=bench-r CNI_NETNS=/run/netns/$P-r CNI_IFNAME=eth0 CNI_PATH=$CNI_DIR \
    measure refnm-add "$CNI_DIR/bridge" <"$REF_NOMASQ_CONF"
  CNI_COMMAND=DEL CNI_CONTAINERID=bench-r CNI_NETNS=/run/netns/$P-r CNI_IFNAME=eth0 CNI_PATH=$CNI_DIR \
    measure refnm-del "$CNI_DIR/bridge" <"$REF_NOMASQ_CONF"
  # the floor: the kernel's part alone, one `ip` process each
  measure floor-add ip link add benchv0 type veth peer name eth0 netns "$P-fc"
  measure floor-del ip link del benchv0
}
BENCH_RSS_TOOL=none MODE=time
for ((round = 1; round <= RUNS; round++)); do
  echo "$BENCH_NAME: round $round/$RUNS" >&2
  one_round
done
if [[ $RSS_TOOL != none ]]; then
  echo "$BENCH_NAME: one more round for peak RSS, by $RSS_TOOL (untimed)" >&2
  BENCH_RSS_TOOL=$RSS_TOOL MODE=rss
  one_round
fi
# hand the measurements back
declare -p BENCH_WALL BENCH_MAXRSS BENCH_CPUS >"$OUT"
EOF
bench_log "timing $RUNS rounds of: ctr-net ADD/DEL, bridge+host-local ADD/DEL (with and without ipMasq), ip link add/del"
ip netns exec "$H" env LIB="$here/lib.sh" TMPDIR_INNER="$BENCH_TMP" RSS_TOOL="$BENCH_RSS_TOOL" \
  OUT="$BENCH_TMP/times" P="$P" RUNS="$RUNS" CTR_NET="$CTR_NET" CNI_DIR="$CNI_DIR" \
  CTR_CONF="$CTR_CONF" REF_CONF="$REF_CONF" REF_NOMASQ_CONF="$REF_NOMASQ_CONF" \
  BENCH_NAME="$BENCH_NAME" bash "$INNER" ||
  bench_die "a timed operation failed"
# shellcheck disable=SC1090
. "$BENCH_TMP/times"

# ---- throughput -------------------------------------------------------------------

plugin "$CTR_NET" "$CTR_CONF" ADD t1
plugin "$CTR_NET" "$CTR_CONF" ADD t2
T1=$(ip -n "$(ns t1)" -j addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')
# the bare bridge: what two namespaces get with nothing of ctr's around
B=$(ns bare)
ip -n "$B" link add br0 type bridge
ip -n "$B" link set br0 up
for i in 1 2; do
  ip -n "$B" link add "v$i" type veth peer name eth0 netns "$(ns b$i)"
  ip -n "$B" link set "v$i" master br0 up
  ip -n "$(ns b$i)" addr add "10.77.0.$((i + 1))/24" dev eth0
  ip -n "$(ns b$i)" link set eth0 up
done

# the overlay: two hosts, oh1 and oh2, joined by one veth (the underlay,
# 192.168.90.0/24), each with its own store and the overlay "benchov";
# a container on each (oc1, oc2) attached by the CNI protocol
mkns oh1 oh2 oc1 oc2
ip -n "$(ns oh1)" link add eth0 type veth peer name eth0 netns "$(ns oh2)"
for i in 1 2; do
  ip -n "$(ns oh$i)" link set lo up
  ip -n "$(ns oh$i)" addr add "192.168.90.$i/24" dev eth0
  ip -n "$(ns oh$i)" link set eth0 up
  ip netns exec "$(ns oh$i)" env CTR_ROOT="$W/ovroot$i" CTR_RUNDIR="$W/ovrun$i" "$CTR_NET" \
    create --driver overlay --vni 90 --subnet 10.91.0.0/16 \
    --peer 192.168.90.1 --peer 192.168.90.2 benchov >/dev/null ||
    bench_die "ctr-net create --driver overlay failed on oh$i"
  jq '.plugins[0] + {name: .name, cniVersion: .cniVersion}' \
    "$W/ovroot$i/networks/benchov.conflist" >"$W/ov$i.json"
  out=$(ip netns exec "$(ns oh$i)" env CNI_COMMAND=ADD CNI_CONTAINERID="bench-oc$i" \
    CNI_NETNS="/run/netns/$(ns oc$i)" CNI_IFNAME=eth0 "$CTR_NET" <"$W/ov$i.json") ||
    bench_die "overlay ADD on oh$i failed: $(jq -r .msg <<<"$out" 2>/dev/null || echo "$out")"
done
OC1=$(ip -n "$(ns oc1)" -j addr show eth0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')
# the same shape with ip alone, no ctr and no nftables: what the kernel's
# VXLAN gives on this machine (hosts xh1/xh2, "containers" xc1/xc2)
mkns xh1 xh2 xc1 xc2
ip -n "$(ns xh1)" link add eth0 type veth peer name eth0 netns "$(ns xh2)"
for i in 1 2; do
  X=$(ns xh$i)
  ip -n "$X" link set lo up
  ip -n "$X" addr add "192.168.90.$i/24" dev eth0
  ip -n "$X" link set eth0 up
  ip -n "$X" link add br0 type bridge
  ip -n "$X" link set br0 mtu 1450 up
  ip -n "$X" link add vx0 type vxlan id 90 local "192.168.90.$i" dstport 4789 nolearning
  ip -n "$X" link set vx0 mtu 1450 master br0 up
  ip netns exec "$X" bridge fdb append 00:00:00:00:00:00 dev vx0 dst "192.168.90.$((3 - i))"
  ip -n "$X" link add v0 mtu 1450 type veth peer name eth0 netns "$(ns xc$i)"
  ip -n "$X" link set v0 master br0 up
  ip -n "$(ns xc$i)" addr add "10.91.$i.2/16" dev eth0
  ip -n "$(ns xc$i)" link set eth0 up
done

# iperf NS_SERVER ADDR NS_CLIENT: received bits/s of one run
iperf() {
  local out
  ip netns exec "$1" iperf3 -s -1 -D -I "$BENCH_TMP/iperf.pid" >/dev/null 2>&1
  for _ in $(seq 50); do
    out=$(ip netns exec "$3" iperf3 -c "$2" -t "$IPERF_SECONDS" -J 2>/dev/null) && break
    sleep 0.1
  done
  kill "$(cat "$BENCH_TMP/iperf.pid" 2>/dev/null)" 2>/dev/null || true
  jq -r '.end.sum_received.bits_per_second' <<<"$out"
}
declare -A BPS=()
for ((round = 1; round <= IPERF_ROUNDS; round++)); do
  bench_log "iperf3 round $round/$IPERF_ROUNDS (${IPERF_SECONDS}s each)"
  BPS[ctr]+="$(iperf "$(ns t1)" "$T1" "$(ns t2)") "
  BPS[bare]+="$(iperf "$(ns b1)" 10.77.0.2 "$(ns b2)") "
  BPS[overlay]+="$(iperf "$(ns oc1)" "$OC1" "$(ns oc2)") "
  BPS[underlay]+="$(iperf "$(ns oh1)" 192.168.90.1 "$(ns oh2)") "
  BPS[barevx]+="$(iperf "$(ns xc1)" 10.91.1.2 "$(ns xc2)") "
done

# ---- the report ---------------------------------------------------------------------

med_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]:-}" | awk '$1 ~ /^[0-9.]+$/' | sort -g | awk '
    { v[NR] = $1 * 1000 }
    END { if (NR == 0) { print "n/a"; exit }
          printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minmax_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]:-}" | awk 'NF' | sort -g | awk '
    NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f\n", lo * 1000, hi * 1000 }'
}
kib_mb() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.2f", k / 1024; else print "n/a" }'; }
med_gbps() {
  tr ' ' '\n' <<<"${BPS[$1]:-}" | awk '$1 ~ /^[0-9.e+]+$/' | sort -g | awk '
    { v[NR] = $1 / 1e9 }
    END { if (NR == 0) { print "n/a"; exit }
          printf "%.2f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A LABEL=(
  [ctr-add]="ctr-net ADD"
  [ctr-del]="ctr-net DEL"
  [ref-add]="bridge+host-local ADD (ipMasq)"
  [ref-del]="bridge+host-local DEL (ipMasq)"
  [refnm-add]="bridge+host-local ADD (no ipMasq)"
  [refnm-del]="bridge+host-local DEL (no ipMasq)"
  [floor-add]="floor: ip link add veth (netns)"
  [floor-del]="floor: ip link del veth"
)
CASES=(ctr-add ref-add refnm-add floor-add ctr-del ref-del refnm-del floor-del)

echo
printf 'ctr-net attach/detach benchmark  %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'machine: %s CPUs, %s, load %s; leases on %s; %s runs each, interleaved\n' \
  "$(nproc)" "$(uname -r)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$STORE" "$RUNS"
printf 'peers: containernetworking-plugins %s (bridge + host-local); iperf3 %s\n' \
  "$(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?')" \
  "$(iperf3 --version | awk 'NR == 1 { print $2 }')"
echo
row() { printf '%-36s %9s %13s %10s %8s\n' "$@"; }
row case "wall ms" "wall min-max" "RSS MiB" ""
for c in "${CASES[@]}"; do
  row "${LABEL[$c]}" "$(med_ms "$c")" "$(minmax_ms "$c")" "$(kib_mb "$(bench_rss "$c")")" ""
done
row "first ctr-net ADD (makes the bridge)" "$FIRST_CTR" "(once)" "" ""
row "first reference ADD (makes cni0)" "$FIRST_REF" "(once)" "" ""
echo "(wall: median, each a whole process as a runtime execs it, nothing between it"
echo " and the clock; RSS: peak of the largest process, one extra run, by $BENCH_RSS_TOOL)"
echo
row ratio "value" "target" "" ""
add=$(med_ms ctr-add) del=$(med_ms ctr-del)
row "attach: ctr-net ADD, ms" "$add" "<= 4 ms" "$(bench_check "$add" '<=' 4)" ""
row "detach: ctr-net DEL, ms" "$del" "<= 10 ms" "$(bench_check "$del" '<=' 10)" ""
row "ADD ctr / reference (ipMasq)" "$(bench_ratio "$add" "$(med_ms ref-add)")" "" "" ""
row "DEL ctr / reference (ipMasq)" "$(bench_ratio "$del" "$(med_ms ref-del)")" "" "" ""
row "ADD ctr / reference (no ipMasq)" "$(bench_ratio "$add" "$(med_ms refnm-add)")" "" "" ""
row "DEL ctr / reference (no ipMasq)" "$(bench_ratio "$del" "$(med_ms refnm-del)")" "" "" ""
row "ADD ctr / floor (ip link add)" "$(bench_ratio "$add" "$(med_ms floor-add)")" "" "" ""
row "DEL ctr / floor (ip link del)" "$(bench_ratio "$del" "$(med_ms floor-del)")" "" "" ""
if ((IPERF_ROUNDS > 0)); then
  echo
  echo "TCP throughput, iperf3 -t $IPERF_SECONDS, median of $IPERF_ROUNDS (Gbit/s):"
  row "  two containers on a ctr bridge" "$(med_gbps ctr)" "" "" ""
  row "  two namespaces on a bare bridge" "$(med_gbps bare)" "" "" ""
  tr=$(bench_ratio "$(med_gbps ctr)" "$(med_gbps bare)")
  row "  ctr / bare" "$tr" ">= 0.95" "$(bench_check "$tr" '>=' 0.95)" ""
  row "  two containers across a ctr overlay" "$(med_gbps overlay)" "" "" ""
  row "  its underlay: the two hosts' veth" "$(med_gbps underlay)" "" "" ""
  tr=$(bench_ratio "$(med_gbps overlay)" "$(med_gbps underlay)")
  row "  overlay / underlay" "$tr" ">= 0.85" "$(bench_check "$tr" '>=' 0.85)" ""
  row "  bare VXLAN, same shape (ip only)" "$(med_gbps barevx)" "" "" ""
  row "  bare VXLAN / underlay" "$(bench_ratio "$(med_gbps barevx)" "$(med_gbps underlay)")" \
    "" "" ""
  row "  ctr overlay / bare VXLAN" "$(bench_ratio "$(med_gbps overlay)" "$(med_gbps barevx)")" \
    "" "" ""
fi
