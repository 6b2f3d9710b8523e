#!/bin/bash
# bench/run.sh — how long `ctr-run --rm busybox /bin/true` takes from start
# to exit, and how much memory it needs, side by side in one run with crun
# and runc on a prepared bundle of the same image and config, podman (when
# installed), and the floor: `unshare` of the same namespaces and /bin/true.
#
#   bench/run.sh                     # RUNS=50 rounds, store on /tmp's disk
#   RUNS=20 bench/run.sh             # timed runs per case
#   STORE=tmpfs bench/run.sh         # everything on a tmpfs instead
#   CTR_BUILD=build-bench bench/run.sh   # tools from another build dir
#
# Also measured once: the resident memory of ctr-run -d's monitor (when -d
# exists), of podman's conmon, and of ctr-init as pid 1. Prints a table,
# the ratios and the targets beside them; targets are reported, not
# asserted. Needs root, crun, runc, jq, unshare; GNU time for peak RSS.
# Everything it makes (store, bundles, containers, cgroups, mounts) is
# removed at exit. See bench/README.md.
set -euo pipefail

BENCH_NAME=bench/run
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

((EUID == 0)) || { echo "$BENCH_NAME: run as root (namespaces, mounts, cgroups)" >&2; exit 1; }

# crun refuses a hybrid cgroup setup while cgroup2 has controllers
# ("cgroups in hybrid mode not supported"). So the whole benchmark runs in
# a private mount namespace where that file reads empty: every case sees
# the same machine, and none pays for a workaround inside its timing.
CONTROLLERS=/sys/fs/cgroup/unified/cgroup.controllers
if [[ -z ${CTR_BENCH_IN_NS:-} ]]; then
  CTR_BENCH_IN_NS=1 exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-50}
STORE=${STORE:-disk}
CTR_BUILD=${CTR_BUILD:-build}
[[ $CTR_BUILD == /* ]] || CTR_BUILD=$top/$CTR_BUILD
CTR_RUN=${CTR_RUN:-$CTR_BUILD/bin/ctr-run}
CTR_IMAGE=${CTR_IMAGE:-$CTR_BUILD/bin/ctr-image}
CTR_INIT=${CTR_INIT:-$CTR_BUILD/bin/ctr-init}
CTR_RM=$CTR_BUILD/bin/ctr-rm
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer"
[[ $STORE == disk || $STORE == tmpfs ]] || bench_die "STORE is disk or tmpfs"
[[ -x $CTR_RUN && -x $CTR_IMAGE ]] || bench_die "$CTR_RUN or $CTR_IMAGE not built (run make)"
bench_need crun runc jq unshare busybox mount umount awk
HAVE_PODMAN=0
command -v podman >/dev/null 2>&1 && HAVE_PODMAN=1

bench_init
if [[ $STORE == tmpfs ]]; then
  bench_tmpfs 1g
  W=$BENCH_FS
else
  W=$BENCH_TMP
fi
TAG=ctr-bench-$$                    # our cgroup parent and id prefix
export CTR_ROOT=$W/ctr-root CTR_RUNDIR=$W/ctr-run CTR_CGROUP_PARENT=$TAG/ctr
# No network for any case (crun and runc have none, podman --network
# none): ctr-run would otherwise join its default bridge network here,
# in the machine's own network namespace.
export CTR_DEFAULT_NETWORK=none
mkdir -p "$CTR_RUNDIR"

if [[ -r $CONTROLLERS && -n $(<"$CONTROLLERS") ]]; then
  : >"$BENCH_TMP/no-controllers"
  bench_mount --bind "$BENCH_TMP/no-controllers" "$CONTROLLERS" ||
    bench_die "cannot hide $CONTROLLERS from crun"
fi

# ---- cleanup: queued first, so it runs last ------------------------------

# cgroups of every case live under $TAG in each hierarchy
remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/*/*/"$TAG"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
bench_on_exit remove_cgroups

# every mount left beneath our directory, deepest first
unmount_beneath() {
  local m
  awk -v top="$BENCH_TMP/" 'index($5, top) == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r m; do
    [[ $m == "$BENCH_FS" ]] && continue # lib.sh unmounts its tmpfs itself
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
}
bench_on_exit unmount_beneath

# ctr containers: ctr-rm -f when it exists, else by hand
remove_ctr_containers() {
  local d id run pid
  for d in "$CTR_ROOT"/containers/*/; do
    [[ -d $d ]] || continue
    id=$(basename "$d")
    if [[ -x $CTR_RM ]] && "$CTR_RM" -f "$id" >/dev/null; then
      continue
    fi
    run=$CTR_RUNDIR/containers/$id.json
    if [[ -f $run ]]; then
      for pid in $(jq -r '.pid, .monitor_pid | numbers' "$run" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
      done
      sleep 0.2
      rm -f -- "$run"
    fi
    umount -l "$d/rootfs" 2>/dev/null || true
    rm -rf -- "$d"
  done
}
bench_on_exit remove_ctr_containers

remove_oci_containers() {
  local rt id
  for rt in crun runc; do
    [[ -d $W/$rt-state ]] || continue
    for id in $("$rt" --root "$W/$rt-state" list -q 2>/dev/null); do
      "$rt" --root "$W/$rt-state" delete -f "$id"
    done
  done
}
bench_on_exit remove_oci_containers

# ---- preparing ---------------------------------------------------------------

bench_log "store on $STORE at $W; importing busybox"
"$CTR_IMAGE" import --from-host busybox >/dev/null ||
  bench_die "ctr-image import --from-host busybox failed"

# One rootfs for the peers: ctr's layers merged as a container sees them
# (overlayfs wants two lowerdirs at least for a read-only mount).
prepare_rootfs() {
  local merged=$BENCH_TMP/merged lower
  lower=$("$CTR_IMAGE" unpack busybox | awk 'NF' | paste -sd:)
  [[ -n $lower ]] || bench_die "ctr-image unpack busybox printed no layer"
  mkdir -p "$W/rootfs"
  if [[ $lower != *:* ]]; then
    cp -a "$lower/." "$W/rootfs/"
    return
  fi
  mkdir -p "$merged"
  bench_mount -t overlay ctr-bench -o "ro,lowerdir=$lower" "$merged" ||
    bench_die "cannot mount busybox's layers"
  cp -a "$merged/." "$W/rootfs/"
  bench_umount "$merged"
}

# make_bundle NAME [JQ FILTER]: ctr-run create's config.json, made to stand
# on its own: the shared rootfs, its own copies of hosts/hostname/
# resolv.conf, a cgroup under $TAG, and whatever FILTER changes.
make_bundle() {
  local b=$W/$1 filter=${2:-.}
  mkdir -p "$b"
  cp "$CREATED"/{hosts,hostname,resolv.conf} "$b/"
  jq --arg b "$b" --arg root "$W/rootfs" --arg cg "$TAG/$1" '
    .root.path = $root
    | .mounts |= map(if .type == "bind" and (.source | startswith($ENV.CTR_ROOT))
                     then .source = ($b + "/" + (.source | split("/") | last)) else . end)
    | .linux.cgroupsPath = $cg' "$CREATED/config.json" | jq "$filter" >"$b/config.json"
}

prepare_rootfs
id=$("$CTR_RUN" create busybox /bin/true) || bench_die "ctr-run create failed"
CREATED=$CTR_ROOT/containers/$id
make_bundle crun-bundle
make_bundle runc-bundle
make_bundle crun-noseccomp-bundle 'del(.linux.seccomp)'
remove_ctr_containers # the created one: only its config was wanted

PODMAN=()
PODMAN_NOTE=""
if ((HAVE_PODMAN)); then
  # podman's own defaults here fail on ulimits; its journald/systemd bits
  # are not what is measured
  mkdir -p "$W/podman"
  cat >"$W/podman/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  export CONTAINERS_CONF=$W/podman/containers.conf
  PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver vfs)
  cp -a "$W/rootfs" "$W/podman-rootfs" # podman writes into it (/etc/hosts…)
  bench_on_exit "${PODMAN[*]} rm -a -f -t 0"
  if ! "${PODMAN[@]}" run --rm --network none --cgroup-parent "/$TAG/podman" \
    --rootfs "$W/podman-rootfs" /bin/true >"$BENCH_TMP/podman.err" 2>&1; then
    PODMAN_NOTE="podman $(podman --version | awk '{print $3}') does not run here: $(head -n 1 "$BENCH_TMP/podman.err")"
    bench_log "$PODMAN_NOTE"
    HAVE_PODMAN=0
  fi
fi

# ---- the cases ----------------------------------------------------------------

declare -A LABEL=(
  [ctr]="ctr-run --rm busybox /bin/true"
  [crun]="crun run (prepared bundle)"
  [runc]="runc run (prepared bundle)"
  [podman]="podman run --rm --rootfs"
  [floor]="floor: unshare -fpmuin true"
  [ctr-noseccomp]="ctr-run, seccomp=unconfined"
  [ctr-cold]="ctr-run, \$CTR_RUNDIR caches cleared"
  [crun-noseccomp]="crun run, no seccomp"
)
CASES=(ctr crun runc)
((HAVE_PODMAN)) && CASES+=(podman)
CASES+=(floor ctr-noseccomp crun-noseccomp ctr-cold)

# as after a reboot: $CTR_RUNDIR (a tmpfs) holds neither the compiled
# seccomp filters nor the image's chain ids, so this start compiles the
# profile and hashes (loading libcrypto)
clear_caches() { rm -rf -- "$CTR_RUNDIR/seccomp" "$CTR_RUNDIR/images"; }

run_case() { # run_case CASE ROUND
  local c=$1 n=$2
  case $c in
  ctr) bench_once ctr : "$CTR_RUN" --rm busybox /bin/true ;;
  ctr-noseccomp) bench_once "$c" : "$CTR_RUN" --rm --security-opt seccomp=unconfined busybox /bin/true ;;
  ctr-cold) bench_once "$c" clear_caches "$CTR_RUN" --rm busybox /bin/true ;;
  crun | runc) bench_once "$c" : "$c" --root "$W/$c-state" run --bundle "$W/$c-bundle" "$TAG-$n" ;;
  crun-noseccomp) bench_once "$c" : crun --root "$W/crun-state" run --bundle "$W/$c-bundle" "$TAG-n$n" ;;
  podman) bench_once podman : "${PODMAN[@]}" run --rm --network none --cgroup-parent "/$TAG/podman" \
    --rootfs "$W/podman-rootfs" /bin/true ;;
  floor) bench_once floor : unshare --fork --pid --mount --uts --ipc --net /bin/true ;;
  esac
}

t0=$EPOCHREALTIME
bench_log "timing $RUNS rounds of: ${CASES[*]}"
for ((round = 1; round <= RUNS; round++)); do
  bench_log "round $round/$RUNS"
  for c in "${CASES[@]}"; do run_case "$c" "$round"; done
done

# ---- resident memory of what stays behind a running container ---------------

# rss_of PID: "VmRSS VmHWM" in KiB
rss_of() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' "/proc/$1/status"; }

MONITOR_RSS="n/a" MONITOR_HWM="n/a" MONITOR_NOTE=""
measure_monitor() {
  local out id run pid
  if ! out=$("$CTR_RUN" -d busybox sleep 60 2>&1); then
    MONITOR_NOTE="ctr-run -d: $(head -n 1 <<<"$out")"
    return 0
  fi
  id=$(tail -n 1 <<<"$out")
  run=$CTR_RUNDIR/containers/$id.json
  for _ in $(seq 50); do [[ -s $run ]] && break; sleep 0.1; done
  pid=$(jq -r '.monitor_pid // empty' "$run" 2>/dev/null || true)
  if [[ -z $pid || ! -d /proc/$pid ]]; then
    MONITOR_NOTE="ctr-run -d: no monitor_pid in $run"
  else
    sleep 0.5 # let it settle into its wait
    read -r MONITOR_RSS MONITOR_HWM < <(rss_of "$pid")
  fi
  remove_ctr_containers
}

CONMON_RSS="n/a" CONMON_HWM="n/a"
measure_conmon() {
  local cid pid
  cid=$("${PODMAN[@]}" run -d --network none --cgroup-parent "/$TAG/podman" \
    --rootfs "$W/podman-rootfs" /bin/sleep 60 2>/dev/null) || return 0
  pid=$("${PODMAN[@]}" inspect --format '{{.State.ConmonPid}}' "$cid" 2>/dev/null || true)
  if [[ -n $pid && -d /proc/$pid ]]; then
    sleep 0.5
    read -r CONMON_RSS CONMON_HWM < <(rss_of "$pid")
  fi
  "${PODMAN[@]}" rm -f -t 0 "$cid" >/dev/null 2>&1 || true
}

INIT_RSS="n/a" INIT_HWM="n/a"
measure_init() {
  local u pid=""
  [[ -x $CTR_INIT ]] || return 0
  unshare --fork --pid --mount-proc "$CTR_INIT" busybox sleep 60 &
  u=$!
  for _ in $(seq 50); do
    pid=$(cat "/proc/$u/task/$u/children" 2>/dev/null || true)
    pid=${pid// /}
    [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$CTR_INIT")" ]] &&
      [[ -n $(cat "/proc/$pid/task/$pid/children" 2>/dev/null) ]] && break
    sleep 0.1
  done
  if [[ -n $pid ]]; then
    read -r INIT_RSS INIT_HWM < <(rss_of "$pid")
  fi
  # passed on to sleep, whose end ends ctr-init and its namespace; unshare
  # reaps it and exits
  kill -TERM "${pid:-$u}" 2>/dev/null || true
  wait "$u" 2>/dev/null || true
}

bench_log "measuring what stays resident: ctr-run -d's monitor, conmon, ctr-init"
measure_monitor
((HAVE_PODMAN)) && measure_conmon
measure_init

# ---- the report -----------------------------------------------------------------

# median wall time in ms (lib.sh's bench_median rounds to whole ms)
med_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]:-}" | awk '$1 ~ /^[0-9.]+$/' | sort -g | awk '
    { v[NR] = $1 * 1000 }
    END { if (NR == 0) { print "n/a"; exit }
          printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# mean user+sys CPU in ms (GNU time counts in 10 ms steps: a mean over
# many runs says more than a median of steps)
cpu_ms() {
  tr ' ' '\n' <<<"${BENCH_CPUS[$1]:-}" | awk '$1 ~ /^[0-9.]+$/ { s += $1; n++ }
    END { if (n) printf "%.1f\n", s * 1000 / n; else print "n/a" }'
}
minmax_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]:-}" | awk 'NF' | sort -g | awk '
    NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f\n", lo * 1000, hi * 1000 }'
}
kib_mb() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.2f", k / 1024; else print "n/a" }'; }

echo
printf 'ctr-run start-to-exit benchmark  %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'machine: %s CPUs, %s, load %s; store on %s; %s runs each, interleaved\n' \
  "$(nproc)" "$(uname -r)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$STORE" "$RUNS"
printf 'peers: %s; %s%s\n' "$(crun --version | head -n 1)" "$(runc --version | head -n 1)" \
  "$( ((HAVE_PODMAN)) && printf '; %s' "$(podman --version)")"
[[ -n $PODMAN_NOTE ]] && echo "$PODMAN_NOTE"
echo
row() { printf '%-34s %9s %13s %9s %10s\n' "$@"; }
row case "wall ms" "wall min-max" "cpu ms" "RSS MiB"
for c in "${CASES[@]}"; do
  row "${LABEL[$c]}" "$(med_ms "$c")" "$(minmax_ms "$c")" "$(cpu_ms "$c")" \
    "$(kib_mb "$(bench_rss "$c")")"
done
echo "(wall: median; cpu: mean user+sys of all its processes; RSS: peak of the"
echo " largest process, worst run, by $BENCH_RSS_TOOL)"
echo
ctr=$(med_ms ctr)
ratio_row() { # ratio_row LABEL PEER [TARGET]
  local r
  r=$(bench_ratio "$ctr" "$(med_ms "$2")")
  row "$1" "$r" "${3:+<= $3}" "${3:+$(bench_check "$r" '<=' "$3")}" \
    "$(bench_ratio "$(cpu_ms ctr)" "$(cpu_ms "$2")")"
}
row ratio "wall" "target" "" "cpu"
ratio_row "ctr / crun" crun 1.00
ratio_row "ctr / runc" runc
((HAVE_PODMAN)) && ratio_row "ctr / podman" podman
ratio_row "ctr / floor" floor
rss_ratio=$(bench_ratio "$(bench_rss ctr)" "$(bench_rss crun)")
row "peak RSS ctr / crun" "$rss_ratio" "<= 1.00" "$(bench_check "$rss_ratio" '<=' 1.00)" ""
rss_cold=$(bench_ratio "$(bench_rss ctr-cold)" "$(bench_rss crun)")
row "  caches cleared / crun" "$rss_cold" "<= 1.00" "$(bench_check "$rss_cold" '<=' 1.00)" ""
echo
echo "without seccomp (what compiling the profile costs each):"
row "  ctr - ctr(seccomp=unconfined)" \
  "$(awk -v a="$ctr" -v b="$(med_ms ctr-noseccomp)" 'BEGIN { printf "%.1f", a - b }')" "" "" \
  "$(awk -v a="$(cpu_ms ctr)" -v b="$(cpu_ms ctr-noseccomp)" 'BEGIN { printf "%.1f", a - b }')"
row "  crun - crun(no seccomp)" \
  "$(awk -v a="$(med_ms crun)" -v b="$(med_ms crun-noseccomp)" 'BEGIN { printf "%.1f", a - b }')" "" "" \
  "$(awk -v a="$(cpu_ms crun)" -v b="$(cpu_ms crun-noseccomp)" 'BEGIN { printf "%.1f", a - b }')"
echo
echo "resident while a container runs (VmRSS, peak VmHWM):"
row "  ctr-run -d monitor" "$(kib_mb "$MONITOR_RSS") MiB" "<= 1.00 MiB" \
  "$(bench_check "$(kib_mb "$MONITOR_RSS")" '<=' 1.00)" "$(kib_mb "$MONITOR_HWM")"
[[ -n $MONITOR_NOTE ]] && echo "    ($MONITOR_NOTE)"
((HAVE_PODMAN)) && row "  podman's conmon" "$(kib_mb "$CONMON_RSS") MiB" "" "" "$(kib_mb "$CONMON_HWM")"
row "  ctr-init as pid 1" "$(kib_mb "$INIT_RSS") MiB" "<= 1.00 MiB" \
  "$(bench_check "$(kib_mb "$INIT_RSS")" '<=' 1.00)" "$(kib_mb "$INIT_HWM")"
bench_log "done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
