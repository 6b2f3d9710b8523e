# shellcheck shell=bash
# bench/lib.sh — helpers shared by the bench/*.sh scripts. Source it from
# a bash script running with `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init                     # temp dir, cleanup trap, RSS meter
#   bench_tmpfs 2g                 # a tmpfs at $BENCH_FS (unmounted at exit)
#   bench_once NAME PREP CMD…      # one timed run of CMD, recorded under NAME;
#                                  # PREP (a shell function, or :) runs untimed
#                                  # first. Interleave cases round by round so
#                                  # the machine's noise hits them alike.
#   bench_run NAME RUNS PREP CMD…  # RUNS × bench_once
#   bench_median NAME              # median wall seconds of NAME's runs
#   bench_rss NAME                 # peak RSS (KiB) over NAME's runs, or n/a
#   bench_cpu NAME                 # median user+sys CPU seconds (n/a if not
#                                  # measured): less noisy than wall time on a
#                                  # shared machine
#   bench_ratio A B                # A/B with two decimals
#
# Everything made here lives under $BENCH_TMP and is removed at exit, also
# on failure or ^C; more cleanup steps can be queued with bench_on_exit.
# Progress goes to stderr, results are for the caller to print on stdout.

BENCH_TMP=""
BENCH_FS=""
BENCH_MOUNTS=()        # unmounted at exit, last first
BENCH_EXIT_HOOKS=()    # run at exit, last first
BENCH_RSS_TOOL=""      # how peak RSS is measured: gnu-time, wrapper or none
declare -gA BENCH_WALL=() BENCH_MAXRSS=() BENCH_CPUS=()

bench_log() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# bench_need CMD…: fail with one line naming every missing command.
bench_need() {
  local missing=() c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || bench_die "missing: ${missing[*]}"
}

bench_on_exit() { BENCH_EXIT_HOOKS+=("$*"); }

bench_cleanup() {
  local rc=$? i
  set +e
  for ((i = ${#BENCH_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
    eval "${BENCH_EXIT_HOOKS[i]}" >/dev/null 2>&1
  done
  for ((i = ${#BENCH_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${BENCH_MOUNTS[i]}" 2>/dev/null ||
      umount -l "${BENCH_MOUNTS[i]}" 2>/dev/null
  done
  if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
    # never delete through a mount that failed to go away
    if mountpoint -q "$BENCH_TMP"; then
      bench_log "warning: $BENCH_TMP still mounted; left in place"
    else
      rm -rf -- "$BENCH_TMP"
    fi
  fi
  exit "$rc"
}

# bench_init: the private temp dir, the cleanup trap, the RSS meter.
bench_init() {
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ctr-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M %U %S' -o /dev/null true 2>/dev/null; then
    BENCH_RSS_TOOL=gnu-time
  elif command -v cc >/dev/null 2>&1; then
    # No GNU time: a tiny wrapper reading getrusage(RUSAGE_CHILDREN).
    mkdir -p "$BENCH_TMP/.tools"
    cat >"$BENCH_TMP/.tools/rusage.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct rusage ru;
  int status;
  pid_t pid;
  FILE *out;
  if (argc < 3) return 2;
  pid = fork();
  if (pid == 0) { execvp(argv[2], argv + 2); _exit(127); }
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return 1;
  getrusage(RUSAGE_CHILDREN, &ru);
  if ((out = fopen(argv[1], "w")) == NULL) return 1;
  fprintf(out, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss,
          (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
          (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
  fclose(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
EOF
    cc -O2 -o "$BENCH_TMP/.tools/rusage" "$BENCH_TMP/.tools/rusage.c" ||
      bench_die "cannot build the getrusage wrapper"
    BENCH_RSS_TOOL=wrapper
  else
    BENCH_RSS_TOOL=none
    bench_log "no /usr/bin/time and no cc: peak RSS not measured (apt-get install time)"
  fi
}

# bench_tmpfs SIZE: mount a tmpfs of at most SIZE at $BENCH_FS
# ($BENCH_TMP/fs); its pages are only taken as files are written.
bench_tmpfs() {
  local size=$1
  ((EUID == 0)) || bench_die "mounting a tmpfs needs root"
  BENCH_FS=$BENCH_TMP/fs
  mkdir -p "$BENCH_FS"
  mount -t tmpfs -o "size=$size,mode=0755" ctr-bench "$BENCH_FS" ||
    bench_die "cannot mount a tmpfs on $BENCH_FS"
  BENCH_MOUNTS+=("$BENCH_FS")
}

# bench_mount ARGS… DIR: any other mount, unmounted at exit.
bench_mount() {
  mount "$@" || return
  BENCH_MOUNTS+=("${!#}")
}

bench_umount() {
  local dir=$1 i
  umount "$dir" || return
  for i in "${!BENCH_MOUNTS[@]}"; do
    [[ ${BENCH_MOUNTS[i]} == "$dir" ]] && unset 'BENCH_MOUNTS[i]'
  done
  BENCH_MOUNTS=("${BENCH_MOUNTS[@]}")
}

# bench_time_once CMD…: run CMD, stdout/stderr to $BENCH_TMP/.last.{out,err};
# sets BENCH_LAST_WALL (seconds), BENCH_LAST_RSS (peak RSS of the largest
# process, KiB) and BENCH_LAST_CPU (user+sys seconds of all processes), the
# last two n/a when they cannot be measured.
bench_time_once() {
  local rssf="$BENCH_TMP/.last.rss" t0 t1 rc=0
  rm -f "$rssf"
  t0=$EPOCHREALTIME
  case $BENCH_RSS_TOOL in
  gnu-time) /usr/bin/time -f '%M %U %S' -o "$rssf" -- "$@" >"$BENCH_TMP/.last.out" 2>"$BENCH_TMP/.last.err" || rc=$? ;;
  wrapper) "$BENCH_TMP/.tools/rusage" "$rssf" "$@" >"$BENCH_TMP/.last.out" 2>"$BENCH_TMP/.last.err" || rc=$? ;;
  *) "$@" >"$BENCH_TMP/.last.out" 2>"$BENCH_TMP/.last.err" || rc=$? ;;
  esac
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    bench_log "command failed (exit $rc): $*"
    sed 's/^/  | /' "$BENCH_TMP/.last.err" | tail -n 20 >&2
    return "$rc"
  fi
  BENCH_LAST_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  BENCH_LAST_RSS=n/a BENCH_LAST_CPU=n/a
  if [[ -s $rssf ]]; then
    read -r BENCH_LAST_RSS BENCH_LAST_CPU < <(tail -n 1 "$rssf" |
      awk '{ printf "%s %.2f\n", $1, $2 + $3 }')
  fi
}

# bench_once NAME PREP CMD…: PREP (untimed), then one timed run of CMD.
bench_once() {
  local name=$1 prep=$2
  shift 2
  "$prep"
  bench_time_once "$@"
  BENCH_WALL[$name]+="$BENCH_LAST_WALL "
  BENCH_MAXRSS[$name]+="$BENCH_LAST_RSS "
  BENCH_CPUS[$name]+="$BENCH_LAST_CPU "
  bench_log "  $name: ${BENCH_LAST_WALL}s wall, ${BENCH_LAST_CPU}s cpu, ${BENCH_LAST_RSS} KiB"
}

# bench_run NAME RUNS PREP CMD…: RUNS × bench_once, back to back.
bench_run() {
  local name=$1 runs=$2 prep=$3 i
  shift 3
  for ((i = 1; i <= runs; i++)); do
    bench_once "$name" "$prep" "$@"
  done
}

# bench_median NAME: median of the recorded wall times (seconds).
bench_median() { bench_median_of "${BENCH_WALL[$1]}"; }

# bench_cpu NAME: median of the recorded CPU times (seconds).
bench_cpu() { bench_median_of "${BENCH_CPUS[$1]:-}"; }

bench_median_of() {
  tr ' ' '\n' <<<"$1" | awk '$1 ~ /^[0-9.]+$/' | sort -g | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "n/a"; exit }
          if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
          else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_minmax NAME: "min–max" of the wall times, to show the noise.
bench_minmax() {
  tr ' ' '\n' <<<"${BENCH_WALL[$1]}" | awk 'NF' | sort -g | awk '
    NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f\n", lo, hi }'
}

# bench_rss NAME: the largest peak RSS of NAME's runs, in KiB.
bench_rss() {
  tr ' ' '\n' <<<"${BENCH_MAXRSS[$1]}" | awk '
    $1 ~ /^[0-9]+$/ { if ($1 > m) m = $1; seen = 1 }
    END { if (seen) print m; else print "n/a" }'
}

# bench_mib KIB: KiB as MiB with one decimal (n/a stays n/a).
bench_mib() {
  awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }'
}

# bench_ratio A B: A/B to two decimals ("n/a" if either is missing).
bench_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "n/a"
    else printf "%.2f\n", a / b }'
}

# bench_check RATIO OP LIMIT: "met" or "MISSED" for a target like ≤ 1.00.
bench_check() {
  awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (r !~ /^[0-9.]+$/) { print "n/a"; exit }
    ok = (op == "<=") ? (r + 0 <= l + 0) : (r + 0 >= l + 0)
    print ok ? "met" : "MISSED" }'
}

# bench_sha256 FILE: the hex digest alone.
bench_sha256() { sha256sum "$1" | cut -d' ' -f1; }
