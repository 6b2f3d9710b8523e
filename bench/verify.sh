#!/bin/bash
# bench/verify.sh — what judging an image by a signedBy trust policy costs,
# side by side in one run:
#
#  1. per-image verification: `ctr-verify verify -q --digest D REF` (what
#     ctr-run runs at every start) against `skopeo standalone-verify` of
#     the same manifest, reference, key and signature. ctr is timed three
#     ways: cold (no cache under $CTR_RUNDIR/trust at all), keyring-warm
#     (its throw-away keyring of the policy's keys cached, no verdict:
#     skopeo's GNUPGHOME keyring is the same kind of state), warm (an
#     accepted verdict cached, the common case at a container's start).
#  2. the start latency `ctr-run --rm busybox /bin/true` adds with a
#     signedBy policy against none (no policy: ctr-verify is not run),
#     with the verdict cache cold (emptied before each run) and warm.
#
#   bench/verify.sh                      # RUNS=30 rounds
#   RUNS=50 bench/verify.sh
#   CTR_BUILD=build-bench bench/verify.sh   # tools from another build dir
#
# Cases are interleaved round by round so the machine's noise hits them
# alike; medians are printed, with the ratios and the targets beside them
# (≥ 2× faster than skopeo; < 5 ms added per start). Targets are
# reported, not asserted. Needs root, skopeo, gpg, jq, awk. Everything it
# makes (store, keys, agents, containers, cgroups) is removed at exit.
set -euo pipefail

BENCH_NAME=bench/verify
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

((EUID == 0)) || { echo "$BENCH_NAME: run as root (containers, mounts, cgroups)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-30}
CTR_BUILD=${CTR_BUILD:-build}
[[ $CTR_BUILD == /* ]] || CTR_BUILD=$top/$CTR_BUILD
BIN=$CTR_BUILD/bin
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer"
for t in ctr-image ctr-run ctr-verify ctr-rm; do
  [[ -x $BIN/$t ]] || bench_die "$BIN/$t not built (run make)"
done
bench_need skopeo gpg gpgconf jq awk

bench_init
W=$BENCH_TMP
TAG=ctr-bench-verify-$$
export CTR_ROOT=$W/root CTR_RUNDIR=$W/run CTR_CGROUP_PARENT=$TAG/ctr
export CTR_DEFAULT_NETWORK=none # never the machine's own network namespace
mkdir -p "$CTR_RUNDIR"

remove_all() {
  local d
  for d in "$CTR_ROOT"/containers/*/; do
    [[ -d $d ]] && "$BIN/ctr-rm" -f "$(basename "$d")" >/dev/null 2>&1
  done
  for d in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/*/*/"$TAG"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  for d in "$CTR_ROOT/trust/gnupg" "$W/skopeo-gnupg" "$CTR_RUNDIR"/trust/keyrings/*/ \
    "$CTR_RUNDIR"/trust/keyrings/*/*/; do
    [[ -d $d ]] && gpgconf --homedir "$d" --kill all 2>/dev/null
  done
  return 0
}
bench_on_exit remove_all

# ---- preparing -----------------------------------------------------------

bench_log "store at $W: busybox, a host key, a signature, a signedBy policy"
"$BIN/ctr-image" import --from-host busybox >/dev/null
FPR=$("$BIN/ctr-verify" key gen --uid "bench <bench@ctr.test>")
SIG=$("$BIN/ctr-verify" sign busybox)
REF=docker.io/library/busybox:latest
DIGEST=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "busybox:latest") | .digest' \
  "$CTR_ROOT/images/index.json")
MANIFEST=$CTR_ROOT/images/blobs/sha256/${DIGEST#sha256:}
[[ -f $SIG && -f $MANIFEST ]] || bench_die "no signature or manifest to verify"

"$BIN/ctr-verify" key export -o "$W/key.gpg" "$FPR"
# the policy, in containers-policy.json(5) form: the same file skopeo reads
jq -n --arg k "$W/key.gpg" '{default: [{type: "reject"}],
  transports: {docker: {"docker.io/library/busybox": [{type: "signedBy", keyType: "GPGKeys", keyPath: $k}]}}}' \
  >"$W/policy.json"
install_policy() { cp "$W/policy.json" "$CTR_ROOT/trust/policy.json"; }
install_policy

# skopeo's keyring: the same public key in a GnuPG home of its own
mkdir -m 0700 "$W/skopeo-gnupg"
gpg --homedir "$W/skopeo-gnupg" --batch --quiet --import "$W/key.gpg" 2>/dev/null

# both must accept before either is timed
"$BIN/ctr-verify" verify -q --digest "$DIGEST" "$REF" ||
  bench_die "ctr-verify does not accept the signed image"
GNUPGHOME=$W/skopeo-gnupg skopeo standalone-verify "$MANIFEST" "$REF" "$FPR" "$SIG" >/dev/null ||
  bench_die "skopeo standalone-verify does not accept the signature"
"$BIN/ctr-run" --rm busybox /bin/true || bench_die "ctr-run with the policy failed"

# ---- the cases -----------------------------------------------------------

clear_caches() { rm -rf "$CTR_RUNDIR/trust"; }
clear_verdicts() { rm -rf "$CTR_RUNDIR/trust/verdicts"; }
ensure_warm() { "$BIN/ctr-verify" verify -q --digest "$DIGEST" "$REF"; }
no_policy() { rm -f "$CTR_ROOT/trust/policy.json"; }
cold_policy() { install_policy; clear_verdicts; }
warm_policy() { install_policy; ensure_warm; }

verify_ctr=("$BIN/ctr-verify" verify -q --digest "$DIGEST" "$REF")
verify_skopeo=(env GNUPGHOME="$W/skopeo-gnupg" skopeo standalone-verify "$MANIFEST" "$REF" "$FPR" "$SIG")
run_ctr=("$BIN/ctr-run" --rm busybox /bin/true)

bench_log "verification, $RUNS rounds"
for ((i = 1; i <= RUNS; i++)); do
  bench_once skopeo : "${verify_skopeo[@]}"
  bench_once ctr-cold clear_caches "${verify_ctr[@]}"
  bench_once ctr-keyring clear_verdicts "${verify_ctr[@]}"
  bench_once ctr-warm ensure_warm "${verify_ctr[@]}"
done

bench_log "ctr-run --rm busybox /bin/true, $RUNS rounds"
"${run_ctr[@]}" # one untimed start: page cache, layers, seccomp cache
for ((i = 1; i <= RUNS; i++)); do
  bench_once run-none no_policy "${run_ctr[@]}"
  bench_once run-cold cold_policy "${run_ctr[@]}"
  bench_once run-warm warm_policy "${run_ctr[@]}"
done

# ---- the report ----------------------------------------------------------

# medians in ms from the raw times (bench_median rounds to whole ms)
med_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]}" | awk '$1 ~ /^[0-9.]+$/' | sort -g | awk '
    { v[NR] = $1 * 1000 }
    END { if (NR == 0) { print "n/a"; exit }
          printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minmax_ms() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]}" | awk 'NF' | sort -g | awk '
    NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f\n", lo * 1000, hi * 1000 }'
}
# the median of the round-by-round differences A - B (the cases of a round
# ran back to back, so this cancels more of the machine's drift than a
# difference of medians)
diff_ms() {
  paste <(tr ' ' '\n' <<<"${BENCH_WALL[$1]}" | awk 'NF') <(tr ' ' '\n' <<<"${BENCH_WALL[$2]}" | awk 'NF') |
    awk '{ print ($1 - $2) * 1000 }' | sort -g | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "n/a"; exit }
          printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
row() { printf '%-44s %10s %13s %8s %8s\n' "$@"; }

echo
printf 'ctr-verify benchmark  %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'machine: %s CPUs, %s, load %s; %s rounds, cases interleaved\n' \
  "$(nproc)" "$(uname -r)" "$(cut -d' ' -f1 /proc/loadavg)" "$RUNS"
printf 'peer: %s; %s\n' "$(skopeo --version)" "$(gpg --version | head -n 1)"
printf 'image: %s@%s, one signature by %s (ed25519)\n' "$REF" "${DIGEST:0:19}…" "${FPR:0:16}…"
echo
row "per-image verification" "median ms" "min-max ms" "" ""
row "skopeo standalone-verify" "$(med_ms skopeo)" "$(minmax_ms skopeo)" "" ""
row "ctr-verify verify, cold (no cache)" "$(med_ms ctr-cold)" "$(minmax_ms ctr-cold)" "" ""
row "ctr-verify verify, keyring cached" "$(med_ms ctr-keyring)" "$(minmax_ms ctr-keyring)" "" ""
row "ctr-verify verify, verdict cached" "$(med_ms ctr-warm)" "$(minmax_ms ctr-warm)" "" ""
echo
row "speed-up over skopeo" "ratio" "target" "" ""
speedup() { bench_ratio "$(med_ms skopeo)" "$(med_ms "$1")"; }
for c in ctr-cold ctr-keyring ctr-warm; do
  r=$(speedup "$c")
  row "  skopeo / $c" "$r" ">= 2.00" "$(bench_check "$r" '>=' 2.00)" ""
done
echo
row "ctr-run --rm busybox /bin/true" "median ms" "min-max ms" "added" "target"
row "no policy (ctr-verify not run)" "$(med_ms run-none)" "$(minmax_ms run-none)" "" ""
for c in run-cold run-warm; do
  added=$(diff_ms "$c" run-none)
  label="signedBy, verdict cache ${c#run-}"
  row "$label" "$(med_ms "$c")" "$(minmax_ms "$c")" "$added" \
    "$(awk -v a="$added" 'BEGIN { print (a + 0 < 5) ? "met" : "MISSED" }')"
done
echo "(added: median over the rounds of (with the policy - without), the runs of a"
echo " round back to back; target < 5 ms. The verdict-cached ctr-verify row above is"
echo " the exec ctr-run adds, measured alone.)"
