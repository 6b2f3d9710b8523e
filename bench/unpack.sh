#!/bin/bash
# bench/unpack.sh — how fast `ctr-image unpack` turns a gzip OCI image into
# layer directories, side by side in one run with umoci and with the floor
# (gzip -dc | tar -x), on a tmpfs so the disk is not what is measured.
#
#   bench/unpack.sh                  # or: make bench
#   RUNS=9 bench/unpack.sh           # timed runs per case (default 5)
#   SCALE=10 bench/unpack.sh         # image size in percent (default 100)
#   CTR_IMAGE=/path/ctr-image bench/unpack.sh
#
# Prints a table (median wall time, spread, peak RSS), the ratios beside
# their targets, and whether ctr's and umoci's trees hold the same files.
# Exits 1 if they do not; the targets are reported, not asserted.
# Needs root (tmpfs and overlay mounts, ownership), umoci, GNU tar, gzip,
# pigz, jq, openssl, mawk/gawk; GNU time for peak RSS (else a tiny
# getrusage wrapper is compiled with cc). See bench/README.md.
set -euo pipefail

BENCH_NAME=bench/unpack
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-5}
SCALE=${SCALE:-100}
CTR_IMAGE=${CTR_IMAGE:-$top/build/bin/ctr-image}
JOBS=$(nproc)
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer"
[[ $SCALE =~ ^[1-9][0-9]*$ ]] || bench_die "SCALE must be a positive integer (percent)"
[[ -x $CTR_IMAGE ]] || bench_die "$CTR_IMAGE not built (run make)"
bench_need umoci tar gzip pigz jq openssl awk sha256sum find mount umount mountpoint
tar --version 2>/dev/null | grep -q 'GNU tar' || bench_die "tar is not GNU tar"
((EUID == 0)) || bench_die "run as root (tmpfs, overlay, file owners)"

bench_init
# Peak use at SCALE=100: ~210 MB of layout, the same again in ctr's store,
# and ~310 MB per unpacked tree (ctr, umoci, one floor at a time): ~1.4 GB.
bench_tmpfs "$((SCALE * 30 + 256))m"

fs=$BENCH_FS
export CTR_ROOT=$fs/ctr-root CTR_RUNDIR=$fs/ctr-run
layout=$fs/layout          # the OCI image layout built here
gen=$fs/gen                # layer trees and tars while building
floor=$fs/floor            # the floors' trees (umoci's is $fs/umoci)
mkdir -p "$layout/blobs/sha256" "$gen" "$floor" "$CTR_RUNDIR"
TAG=bench

sc() { echo $(($1 * SCALE / 100 > 0 ? $1 * SCALE / 100 : 1)); }

# ---- building the image -------------------------------------------------

# random BYTES SEED: incompressible but reproducible bytes on stdout (an
# AES-CTR keystream), so the image, and its digests, are the same each run.
random() {
  head -c "$1" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:ctr-bench-$2"
}

# Text that compresses about 3:1 with gzip, like logs and docs. With
# out=FILE size=BYTES it writes one file; with root=DIR ndirs=N it writes
# N package dirs of 100 small files each (50 in doc/, 50 in src/).
gen_awk='
function word(  w, n, j) {
  w = ""; n = 1 + int(rand() * 3)
  for (j = 0; j < n; j++) w = w C[1 + int(rand() * 23)] V[1 + int(rand() * 9)]
  return w
}
function line(  l, k, j) {
  k = 4 + int(rand() * 12); l = sprintf("%06d", int(rand() * 999999))
  for (j = 0; j < k; j++) l = l " " W[1 + int(rand() * rand() * 400)]
  return l
}
function fill(f, bytes,  t, l) {
  t = 0
  while (t < bytes) { l = line(); print l > f; t += length(l) + 1 }
  close(f)
}
BEGIN {
  srand(seed)
  split("a e i o u ai ea io ou", V, " ")
  split("b c d f g h k l m n p r s t v w z st tr ch sh pl gr", C, " ")
  for (i = 1; i <= 400; i++) W[i] = word()
  if (out != "") { fill(out, size); exit }
  for (d = 0; d < ndirs; d++)
    for (f = 0; f < 100; f++) {
      r = rand()
      fill(sprintf("%s/usr/share/pkg%03d/%s/file%03d.txt", root, d,
                   f < 50 ? "doc" : "src", f % 50), 200 + int(r * r * 5000))
    }
}'
text() { awk -v seed="$2" -v size="$1" -v out="$3" "$gen_awk"; }

build_layers() {
  local l1=$gen/l1 l2=$gen/l2 l3=$gen/l3 l4=$gen/l4 l5=$gen/l5 ndirs i
  ndirs=$(sc 200)
  # 1: a base of many small text files (20k at SCALE=100), symlinks,
  #    hardlinks, a few modes
  mkdir -p "$l1/usr/share" "$l1/usr/bin" "$l1/etc" "$l1/tmp"
  for ((i = 0; i < ndirs; i++)); do
    printf -v p '%s/usr/share/pkg%03d' "$l1" "$i"
    mkdir -p "$p/doc" "$p/src"
  done
  awk -v seed=1 -v root="$l1" -v ndirs="$ndirs" "$gen_awk"
  for ((i = 0; i < ndirs; i++)); do
    printf -v p 'usr/share/pkg%03d' "$i"
    ln -s "src/file000.txt" "$l1/$p/README"
    ((i % 2)) || ln "$l1/$p/doc/file049.txt" "$l1/$p/doc/copy.txt"
    chmod 0755 "$l1/$p/src/file001.txt" "$l1/$p/src/file002.txt"
    chmod 0600 "$l1/$p/doc/file003.txt"
  done
  random 200000 busybox >"$l1/usr/bin/tool" && chmod 04755 "$l1/usr/bin/tool"
  ln -s tool "$l1/usr/bin/sh"
  text 4000 2 "$l1/etc/config"
  chmod 1777 "$l1/tmp"
  # 2: large incompressible files (120 MB)
  mkdir -p "$l2/usr/lib/bench"
  for i in 1 2 3 4; do
    random "$(sc 30000000)" "lib$i" >"$l2/usr/lib/bench/lib$i.so"
    chmod 0755 "$l2/usr/lib/bench/lib$i.so"
  done
  # 3: large compressible text (60 MB)
  mkdir -p "$l3/var/log/bench"
  for i in 1 2 3 4 5; do
    text "$(sc 12000000)" "$((10 + i))" "$l3/var/log/bench/app$i.log"
  done
  # 4: medium files, half random and half text (2000 × 20 KB)
  mkdir -p "$l4/opt/app/bin" "$l4/opt/app/data"
  random "$(sc 20000000)" data | (cd "$l4/opt/app/bin" && split -b 20000 -a 4 -d - obj.)
  text "$(sc 20000000)" 20 "$gen/l4.txt"
  (cd "$l4/opt/app/data" && split -b 20000 -a 4 -d "$gen/l4.txt" page.)
  rm -f "$gen/l4.txt"
  # 5: an update: rewritten files, new files, whiteouts of a file and a
  #    directory, an opaque directory
  for ((i = 0; i < ndirs; i++)); do
    printf -v p 'usr/share/pkg%03d/doc' "$i"
    mkdir -p "$l5/$p"
  done
  awk -v seed=30 -v root="$l5" -v ndirs="$ndirs" '
    BEGIN { srand(seed)
      for (d = 0; d < ndirs; d++) {
        f = sprintf("%s/usr/share/pkg%03d/doc/file000.txt", root, d)
        n = 1 + int(rand() * 40)
        for (i = 0; i < n; i++) print "updated line " i " of " d > f
        close(f) } }'
  mkdir -p "$l5/usr/lib/bench" "$l5/var/log/bench"
  random "$(sc 20000000)" update >"$l5/usr/lib/bench/lib5.so"
  text "$(sc 10000000)" 31 "$l5/var/log/bench/app6.log"
  : >"$l5/usr/share/pkg000/doc/.wh.file001.txt"
  : >"$l5/usr/share/pkg000/.wh.src"
  if ((ndirs > 1)); then
    : >"$l5/usr/share/pkg001/doc/.wh..wh..opq"
    echo "the only file left" >"$l5/usr/share/pkg001/doc/new.txt"
  fi
}

# add_blob FILE MEDIATYPE: move FILE into the layout; print a descriptor.
add_blob() {
  local hex size
  hex=$(bench_sha256 "$1")
  size=$(stat -c %s "$1")
  mv "$1" "$layout/blobs/sha256/$hex"
  jq -cn --arg m "$2" --arg d "sha256:$hex" --argjson s "$size" \
    '{mediaType: $m, digest: $d, size: $s}'
}

build_image() {
  local i diff_ids=() layers=() top cfg man arch
  build_layers
  UNCOMPRESSED=0 COMPRESSED=0 ENTRIES=0
  for i in 1 2 3 4 5; do
    mapfile -t top < <(find "$gen/l$i" -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort)
    tar -C "$gen/l$i" --sort=name --owner=0 --group=0 --numeric-owner \
      --mtime=@1700000000 -cf "$gen/l$i.tar" "${top[@]}"
    ENTRIES=$((ENTRIES + $(tar -tf "$gen/l$i.tar" | wc -l)))
    rm -rf "${gen:?}/l$i"
    UNCOMPRESSED=$((UNCOMPRESSED + $(stat -c %s "$gen/l$i.tar")))
    diff_ids+=("sha256:$(bench_sha256 "$gen/l$i.tar")")
    pigz -n -6 -p "$JOBS" -c "$gen/l$i.tar" >"$gen/l$i.tar.gz"
    rm -f "$gen/l$i.tar"
    COMPRESSED=$((COMPRESSED + $(stat -c %s "$gen/l$i.tar.gz")))
    layers+=("$(add_blob "$gen/l$i.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)")
  done
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  jq -cn --arg arch "$arch" --args '{
      created: "2023-11-14T22:13:20Z", architecture: $arch, os: "linux",
      config: {Env: ["PATH=/usr/bin:/bin"], Cmd: ["/usr/bin/sh"]},
      rootfs: {type: "layers", diff_ids: $ARGS.positional},
      history: [$ARGS.positional[] | {created: "2023-11-14T22:13:20Z",
                                      created_by: "bench/unpack.sh"}]}' \
    "${diff_ids[@]}" >"$gen/config.json"
  cfg=$(add_blob "$gen/config.json" application/vnd.oci.image.config.v1+json)
  printf '%s\n' "${layers[@]}" | jq -cs --argjson cfg "$cfg" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $cfg, layers: .}' >"$gen/manifest.json"
  man=$(add_blob "$gen/manifest.json" application/vnd.oci.image.manifest.v1+json)
  MANIFEST_DIGEST=$(jq -r .digest <<<"$man")
  jq -cn --argjson m "$man" --arg tag "$TAG" --arg arch "$arch" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [$m + {platform: {architecture: $arch, os: "linux"},
                        annotations: {"org.opencontainers.image.ref.name": $tag}}]}' \
    >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  mapfile -t LAYER_BLOBS < <(jq -r '.layers[].digest | sub("sha256:"; "")' \
    "$layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}")
  LAYER_BLOBS=("${LAYER_BLOBS[@]/#/$layout/blobs/sha256/}")
  rmdir "$gen"
}

# ---- the cases --------------------------------------------------------------

clear_dir() { find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; }
# shellcheck disable=SC2317 # PREP functions are called through bench_once
prep_ctr() { clear_dir "$CTR_ROOT/layers"; }
# shellcheck disable=SC2317
prep_umoci() { rm -rf "$fs/umoci"; }
prep_floor() { clear_dir "$floor"; }

# The floors: the layers in order into one tree, and one tree per layer
# with $JOBS layers at a time (the way ctr-image works).
# shellcheck disable=SC2016 # expanded by the inner bash
floor_seq='set -eo pipefail; dc=$1 d=$2; shift 2
  for l; do $dc -dc "$l" | tar -x -C "$d"; done'
# shellcheck disable=SC2016
floor_par='set -eo pipefail; d=$1 j=$2; shift 2; n=0
  for l; do
    mkdir "$d/${l##*/}"
    (gzip -dc "$l" | tar -x -C "$d/${l##*/}") &
    if ((++n >= j)); then wait -n; n=$((n - 1)); fi
  done
  while ((n > 0)); do wait -n; n=$((n - 1)); done'

CASES=(ctr umoci floor-gzip floor-pigz floor-par)
declare -A LABEL=(
  [ctr]="ctr-image unpack"
  [umoci]="umoci raw unpack"
  [floor-gzip]="floor: gzip -dc | tar -x, in order"
  [floor-pigz]="floor: pigz -dc | tar -x, in order"
  [floor-par]="floor: gzip|tar, $JOBS layers at a time"
)
run_case() {
  case $1 in
  ctr) bench_once ctr prep_ctr "$CTR_IMAGE" unpack "$TAG"
    cp "$BENCH_TMP/.last.out" "$BENCH_TMP/ctr-dirs" ;;
  umoci) bench_once umoci prep_umoci umoci raw unpack --image "$layout:$TAG" "$fs/umoci" ;;
  floor-gzip) bench_once floor-gzip prep_floor bash -c "$floor_seq" - gzip "$floor" "${LAYER_BLOBS[@]}" ;;
  floor-pigz) bench_once floor-pigz prep_floor bash -c "$floor_seq" - pigz "$floor" "${LAYER_BLOBS[@]}" ;;
  floor-par) bench_once floor-par prep_floor bash -c "$floor_par" - "$floor" "$JOBS" "${LAYER_BLOBS[@]}" ;;
  esac
}

# ---- correctness --------------------------------------------------------------

# listing DIR: every entry's type, mode, owner; size, mtime and link
# target for all but directories (whose sizes are the filesystem's own).
listing() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%P %y %m %U %G\n' \) -o \
    -printf '%P %y %m %U %G %s %T@ %l\n') | LC_ALL=C sort
}
checksums() {
  (cd "$1" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# ctr's layer dirs as a container sees them (an overlay, top first) against
# umoci's rootfs.
verify() {
  local merged=$BENCH_TMP/merged lower
  [[ -d $fs/umoci ]] || { VERIFY="umoci's tree is missing"; return 1; }
  lower=$(paste -sd: "$BENCH_TMP/ctr-dirs")
  mkdir -p "$merged"
  bench_mount -t overlay ctr-bench -o "ro,lowerdir=$lower" "$merged" ||
    { VERIFY="could not mount an overlay of ctr's layers"; return 1; }
  listing "$merged" >"$BENCH_TMP/ctr.list"
  listing "$fs/umoci" >"$BENCH_TMP/umoci.list"
  checksums "$merged" >"$BENCH_TMP/ctr.sums"
  checksums "$fs/umoci" >"$BENCH_TMP/umoci.sums"
  bench_umount "$merged"
  NFILES=$(wc -l <"$BENCH_TMP/ctr.sums")
  NLIST=$(wc -l <"$BENCH_TMP/ctr.list")
  if cmp -s "$BENCH_TMP/ctr.list" "$BENCH_TMP/umoci.list" &&
    cmp -s "$BENCH_TMP/ctr.sums" "$BENCH_TMP/umoci.sums"; then
    VERIFY="ctr (overlay of its layer dirs) and umoci trees match: $NLIST entries, $NFILES regular files, same sha256"
    return 0
  fi
  VERIFY="ctr and umoci trees DIFFER (first differences below)"
  {
    diff "$BENCH_TMP/umoci.list" "$BENCH_TMP/ctr.list" | head -n 10 || true
    diff "$BENCH_TMP/umoci.sums" "$BENCH_TMP/ctr.sums" | head -n 10 || true
  } | sed 's/^/  /' >"$BENCH_TMP/verify.diff"
  return 1
}

# ---- the run --------------------------------------------------------------------

t0=$EPOCHREALTIME
bench_log "building the image (SCALE=$SCALE%) on a tmpfs at $fs"
build_image
bench_log "image $MANIFEST_DIGEST: $((UNCOMPRESSED / 1048576)) MiB in 5 layers, $((COMPRESSED / 1048576)) MiB gzip, $ENTRIES tar entries"

# import copies and verifies the blobs and unpacks the layers itself
bench_time_once "$CTR_IMAGE" import -q --name "$TAG" "$layout"
IMPORT_WALL=$BENCH_LAST_WALL IMPORT_RSS=$BENCH_LAST_RSS IMPORT_CPU=$BENCH_LAST_CPU
[[ -n $(find "$CTR_ROOT/layers" -mindepth 1 -maxdepth 1) ]] ||
  bench_log "note: import did not unpack the layers"

bench_log "timing $RUNS rounds of: ${CASES[*]}"
for ((round = 1; round <= RUNS; round++)); do
  bench_log "round $round/$RUNS"
  for c in "${CASES[@]}"; do run_case "$c"; done
done
prep_floor

verify_rc=0
verify || verify_rc=$?

# ---- the report ---------------------------------------------------------------------

med() { bench_median "$1"; }
ctr=$(med ctr) umoci=$(med umoci) fgz=$(med floor-gzip) fpz=$(med floor-pigz) fpar=$(med floor-par)
speedup=$(bench_ratio "$umoci" "$ctr")
vs_floor=$(bench_ratio "$ctr" "$fgz")

echo
printf 'ctr-image unpack benchmark  %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'image: 5 gzip layers, %s MiB uncompressed, %s MiB compressed, %s tar entries (SCALE=%s%%)\n' \
  "$(bench_mib $((UNCOMPRESSED / 1024)))" "$(bench_mib $((COMPRESSED / 1024)))" "$ENTRIES" "$SCALE"
printf 'machine: %s CPUs, %s; tmpfs; %s runs each, interleaved; peak RSS by %s\n' \
  "$JOBS" "$(uname -r)" "$RUNS" "$BENCH_RSS_TOOL"
echo
row() { printf '%-40s %9s %13s %9s %9s\n' "$@"; }
row case "wall s" "wall min-max" "cpu s" "RSS MiB"
for c in "${CASES[@]}"; do
  row "${LABEL[$c]}" "$(med "$c")" "$(bench_minmax "$c")" "$(bench_cpu "$c")" \
    "$(bench_mib "$(bench_rss "$c")")"
done
row "(ctr-image import, once, incl. unpack)" "$(printf %.3f "$IMPORT_WALL")" "" \
  "$IMPORT_CPU" "$(bench_mib "$IMPORT_RSS")"
echo "(wall and cpu: medians; cpu = user+sys of all processes; RSS: the largest process, worst run)"
echo
row ratio "wall" "target" "" "cpu"
row "speedup: umoci / ctr" "${speedup}x" ">= 1.70x" "$(bench_check "$speedup" '>=' 1.70)" \
  "$(bench_ratio "$(bench_cpu umoci)" "$(bench_cpu ctr)")x"
row "ctr / floor (gzip|tar, in order)" "$vs_floor" "<= 1.00" "$(bench_check "$vs_floor" '<=' 1.00)" \
  "$(bench_ratio "$(bench_cpu ctr)" "$(bench_cpu floor-gzip)")"
row "ctr / floor (pigz|tar, in order)" "$(bench_ratio "$ctr" "$fpz")" "" "(info)" \
  "$(bench_ratio "$(bench_cpu ctr)" "$(bench_cpu floor-pigz)")"
row "ctr / floor ($JOBS layers at a time)" "$(bench_ratio "$ctr" "$fpar")" "" "(info)" \
  "$(bench_ratio "$(bench_cpu ctr)" "$(bench_cpu floor-par)")"
echo
echo "correctness: $VERIFY"
[[ $verify_rc -eq 0 ]] || cat "$BENCH_TMP/verify.diff"
bench_log "done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
exit "$verify_rc"
