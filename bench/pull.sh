#!/bin/bash
# bench/pull.sh — how fast `ctr-image pull` fetches an image from a real
# registry (docker-registry on 127.0.0.1, plain HTTP) and unpacks it into
# layers, and how fast `ctr-image push` sends one back, side by side in one
# run with skopeo (+ umoci for the unpack) and with floors made of curl and
# pigz, everything on a tmpfs so the disk is not what is measured.
#
#   bench/pull.sh                    # RUNS=3 rounds, SCALE=100 (~300 MB)
#   RUNS=5 bench/pull.sh             # timed runs per case (default 3)
#   SCALE=10 bench/pull.sh           # image size in percent (default 100)
#   CTR_IMAGE=/path/ctr-image bench/pull.sh
#
# When ctr-image has no pull (or push) yet, it prints "ctr-image pull: not
# available" and still times the peers and floors. Prints a table (median
# wall time, spread, CPU, peak RSS) and ratios; nothing is asserted except
# that what ctr pulled and unpacked equals what skopeo+umoci did (exit 1 if
# not). Needs root (tmpfs, a private mount namespace, file owners),
# docker-registry, skopeo, umoci, curl, pigz, GNU tar, jq, openssl,
# python3; GNU time for peak RSS. The registry, the tmpfs and every temp
# dir are removed at exit, also on failure or ^C. Not part of `make check`.
set -euo pipefail

BENCH_NAME=bench/pull
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

((EUID == 0)) || { echo "$BENCH_NAME: run as root (tmpfs, mount namespace, file owners)" >&2; exit 1; }

# skopeo remembers where it saw each blob (/var/lib/containers/cache) and
# then mounts blobs across repositories instead of uploading them, or
# skips work across runs. So the benchmark runs in a private mount
# namespace where that cache is a tmpfs, emptied before every skopeo case:
# each run of each case starts cold, as ctr-image does, and nothing of the
# machine's cache is read or written.
if [[ -z ${CTR_BENCH_IN_NS:-} ]]; then
  CTR_BENCH_IN_NS=1 exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/helpers/registry.bash
. "$top/tests/helpers/registry.bash"

RUNS=${RUNS:-3}
SCALE=${SCALE:-100}
CTR_IMAGE=${CTR_IMAGE:-$top/build/bin/ctr-image}
JOBS=$(nproc)
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer"
[[ $SCALE =~ ^[1-9][0-9]*$ ]] || bench_die "SCALE must be a positive integer (percent)"
bench_need docker-registry skopeo umoci curl pigz tar jq openssl python3 htpasswd \
  awk sha256sum find mount umount mountpoint base64 split
tar --version 2>/dev/null | grep -q 'GNU tar' || bench_die "tar is not GNU tar"

bench_init
bench_on_exit registry_stop
# Peak use at SCALE=100: ~180 MB of gzip blobs each in the layout, the
# registry, ctr's pull store, ctr's push store and skopeo's layout, and
# ~300 MB per unpacked tree (ctr pull, ctr push store, umoci, floor): ~2.2 GB.
bench_tmpfs "$((SCALE * 30 + 512))m"
fs=$BENCH_FS

SKOPEO_CACHE=/var/lib/containers/cache
if [[ -d $SKOPEO_CACHE ]]; then
  bench_mount -t tmpfs -o size=64m,mode=0700 ctr-bench-cache "$SKOPEO_CACHE" ||
    bench_die "cannot mount a private tmpfs on $SKOPEO_CACHE"
else
  SKOPEO_CACHE=""
  bench_log "note: no $SKOPEO_CACHE; skopeo will make it"
fi

layout=$fs/layout          # the image, built here as an OCI layout
gen=$fs/gen                # layer tars while building
mkdir -p "$layout/blobs/sha256" "$gen"
TAG=latest

sc() { echo $(($1 * SCALE / 100 > 0 ? $1 * SCALE / 100 : 1)); }

# ---- building the image --------------------------------------------------

# random BYTES SEED: incompressible but reproducible bytes (AES-CTR).
random() {
  head -c "$1" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:ctr-bench-pull-$2"
}

# host_list DIR BYTES: paths under the host's DIR (no leading /), sorted,
# directories and symlinks included, regular files until BYTES are taken.
host_list() {
  (cd / && find "${1#/}" \( -type d -o -type l -o -type f \) -printf '%y %s %p\n' 2>/dev/null) |
    LC_ALL=C sort -k3 | awk -v max="$2" '
      $1 == "f" { if (t + $2 > max) next; t += $2 }
      { sub(/^[^ ]+ [^ ]+ /, ""); print }'
}

# layer_tar N SRC ARGS…: the layer's tar, reproducible (names sorted,
# owners 0, one mtime) from SRC (a directory) and ARGS (tar's operands).
layer_tar() {
  local n=$1 src=$2
  shift 2
  tar -C "$src" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=@1700000000 -cf "$gen/l$n.tar" "$@"
}

build_layers() {
  local t i
  # 1: a base of many small files: the host's /usr/share (docs, locales,
  #    data), ~60 MB at SCALE=100
  host_list /usr/share "$(sc 60000000)" >"$gen/l1.list"
  layer_tar 1 / --no-recursion -T "$gen/l1.list"
  # 2: shared libraries from the host (compress ~3:1), ~80 MB
  t=/usr/lib/$(uname -m)-linux-gnu
  [[ -d $t ]] || t=/usr/lib
  host_list "$t" "$(sc 80000000)" >"$gen/l2.list"
  layer_tar 2 / --no-recursion -T "$gen/l2.list"
  # 3: seven large files of random bytes (incompressible), 70 MB
  t=$gen/t3 && mkdir -p "$t/opt/data"
  for ((i = 1; i <= 7; i++)); do
    random "$(sc 10000000)" "$i" >"$t/opt/data/blob$i.bin"
  done
  layer_tar 3 "$t" opt && rm -rf "$t"
  # 4: 500 files of base64 text from random bytes (gzip to ~76 %), 50 MB
  t=$gen/t4 && mkdir -p "$t/var/lib/app"
  random "$(sc 37500000)" b64 | base64 -w 76 |
    (cd "$t/var/lib/app" && split -b "$(sc 100000)" -a 3 -d - rec.)
  layer_tar 4 "$t" var && rm -rf "$t"
  # 5: executables from the host's /usr/bin, ~40 MB
  host_list /usr/bin "$(sc 40000000)" >"$gen/l5.list"
  layer_tar 5 / --no-recursion -T "$gen/l5.list"
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
  local i diff_ids=() layers=() cfg man arch
  build_layers
  UNCOMPRESSED=0 COMPRESSED=0 ENTRIES=0
  for i in 1 2 3 4 5; do
    ENTRIES=$((ENTRIES + $(tar -tf "$gen/l$i.tar" | wc -l)))
    UNCOMPRESSED=$((UNCOMPRESSED + $(stat -c %s "$gen/l$i.tar")))
    diff_ids+=("sha256:$(bench_sha256 "$gen/l$i.tar")")
    pigz -n -6 -p "$JOBS" -c "$gen/l$i.tar" >"$gen/l$i.tar.gz"
    rm -f "$gen/l$i.tar" "$gen/l$i.list"
    COMPRESSED=$((COMPRESSED + $(stat -c %s "$gen/l$i.tar.gz")))
    layers+=("$(add_blob "$gen/l$i.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)")
  done
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  jq -cn --arg arch "$arch" --args '{
      created: "2023-11-14T22:13:20Z", architecture: $arch, os: "linux",
      config: {Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/sh"]},
      rootfs: {type: "layers", diff_ids: $ARGS.positional},
      history: [$ARGS.positional[] | {created: "2023-11-14T22:13:20Z",
                                      created_by: "bench/pull.sh"}]}' \
    "${diff_ids[@]}" >"$gen/config.json"
  cfg=$(add_blob "$gen/config.json" application/vnd.oci.image.config.v1+json)
  printf '%s\n' "${layers[@]}" | jq -cs --argjson cfg "$cfg" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $cfg, layers: .}' >"$gen/manifest.json"
  man=$(add_blob "$gen/manifest.json" application/vnd.oci.image.manifest.v1+json)
  MANIFEST_DIGEST=$(jq -r .digest <<<"$man")
  MANIFEST_BLOB=$layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}
  jq -cn --argjson m "$man" --arg tag "$TAG" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [$m + {annotations: {"org.opencontainers.image.ref.name": $tag}}]}' \
    >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  mapfile -t LAYER_HEX < <(jq -r '.layers[].digest | sub("sha256:"; "")' "$MANIFEST_BLOB")
  CONFIG_HEX=$(jq -r '.config.digest | sub("sha256:"; "")' "$MANIFEST_BLOB")
  LAYER_BLOBS=("${LAYER_HEX[@]/#/$layout/blobs/sha256/}")
  rmdir "$gen"
}

# ---- the cases ----------------------------------------------------------------

clear_dir() { find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; }
cold_skopeo() { [[ -z $SKOPEO_CACHE ]] || clear_dir "$SKOPEO_CACHE"; }
# shellcheck disable=SC2317 # PREP functions are called through bench_once
prep_ctr_pull() { rm -rf "$fs/ctr-pull"; }
# shellcheck disable=SC2317
prep_skopeo_pull() { rm -rf "$fs/skopeo" "$fs/umoci"; cold_skopeo; }
# shellcheck disable=SC2317
prep_umoci() { rm -rf "$fs/umoci"; }
# shellcheck disable=SC2317
prep_floor() { rm -rf "$fs/floor"; mkdir -p "$fs/floor"; }
# shellcheck disable=SC2317
# Cold, as skopeo's is: ctr-image push would otherwise mount every blob
# from the repository the last round pushed to (blob-sources.json).
prep_ctr_push() {
  rm -f "$fs/ctr-push/blob-sources.json"
  "$CTR_IMAGE" --root "$fs/ctr-push" --rundir "$fs/ctr-push-run" tag "$TAG" "$REGISTRY/push/ctr-$round:$TAG" >/dev/null
}

# The floors. Fetch: every blob by curl to /dev/null. Inflate: pigz -dc of
# the layers (local files) to /dev/null. Pull: curl | pigz -dc | tar -x of
# each layer in order into one directory (the plainest pull + unpack).
# Push: POST + monolithic PUT (streamed, curl -T) of each blob, then PUT
# the manifest.
# shellcheck disable=SC2016 # expanded by the inner bash
floor_fetch='set -eo pipefail; url=$1; shift
  for h; do curl -sfS -o /dev/null "$url/blobs/sha256:$h"; done'
# shellcheck disable=SC2016
floor_inflate='set -eo pipefail; for l; do pigz -dc "$l" >/dev/null; done'
# shellcheck disable=SC2016
floor_pull='set -eo pipefail; url=$1 d=$2; shift 2
  for h; do curl -sfS "$url/blobs/sha256:$h" | pigz -dc | tar -x -C "$d"; done'
# shellcheck disable=SC2016
floor_push='set -eo pipefail; base=$1 url=$2 man=$3; shift 3
  for b; do
    loc=$(curl -sfS -X POST -D - -o /dev/null "$url/blobs/uploads/" |
      tr -d "\r" | awk "tolower(\$1) == \"location:\" { print \$2 }")
    case $loc in http*) ;; *) loc=$base$loc ;; esac
    case $loc in *"?"*) sep="&" ;; *) sep="?" ;; esac
    curl -sfS -X PUT -H "Expect:" -H "Content-Type: application/octet-stream" \
      -T "$b" -o /dev/null "${loc}${sep}digest=sha256:${b##*/}"
  done
  curl -sfS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
    --data-binary "@$man" -o /dev/null "$url/manifests/latest"'

PULL_CASES=() PUSH_CASES=()
declare -A LABEL=(
  [ctr-pull]="ctr-image pull (fetch + unpack)"
  [skopeo-pull]="skopeo copy docker:// oci:"
  [umoci]="umoci raw unpack"
  [skopeo+umoci]="skopeo copy + umoci raw unpack"
  [floor-fetch]="floor: curl blobs > /dev/null"
  [floor-inflate]="floor: pigz -dc layers > /dev/null"
  [floor-pull]="floor: curl | pigz -dc | tar -x"
  [ctr-push]="ctr-image push (fresh repo)"
  [skopeo-push]="skopeo copy oci: docker:// (fresh repo)"
  [floor-push]="floor: curl POST + PUT per blob"
)

# the per-round sum of skopeo's pull and umoci's unpack, as one case
record_sum() {
  local name=$1 w=$2 c=$3 r=$4
  BENCH_WALL[$name]+="$w "
  BENCH_CPUS[$name]+="$c "
  BENCH_MAXRSS[$name]+="$r "
}

run_case() {
  local url=$REGISTRY_URL/v2/bench w c r
  case $1 in
  ctr-pull) bench_once ctr-pull prep_ctr_pull "$CTR_IMAGE" --root "$fs/ctr-pull" \
      --rundir "$fs/ctr-pull-run" pull --tls-verify=false "$REGISTRY/bench:$TAG" ;;
  skopeo-pull)
    bench_once skopeo-pull prep_skopeo_pull skopeo copy -q --src-tls-verify=false \
      "docker://$REGISTRY/bench:$TAG" "oci:$fs/skopeo:$TAG"
    w=$BENCH_LAST_WALL c=$BENCH_LAST_CPU r=$BENCH_LAST_RSS
    bench_once umoci prep_umoci umoci raw unpack --image "$fs/skopeo:$TAG" "$fs/umoci"
    record_sum skopeo+umoci "$(awk -v a="$w" -v b="$BENCH_LAST_WALL" 'BEGIN { printf "%.4f", a + b }')" \
      "$(awk -v a="$c" -v b="$BENCH_LAST_CPU" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%.2f", a + b; else print "n/a" }')" \
      "$(awk -v a="$r" -v b="$BENCH_LAST_RSS" 'BEGIN { if (a ~ /^[0-9]+$/) print (a > b ? a : b); else print "n/a" }')" ;;
  floor-fetch) bench_once floor-fetch : bash -c "$floor_fetch" - "$url" "${LAYER_HEX[@]}" "$CONFIG_HEX" ;;
  floor-inflate) bench_once floor-inflate : bash -c "$floor_inflate" - "${LAYER_BLOBS[@]}" ;;
  floor-pull) bench_once floor-pull prep_floor bash -c "$floor_pull" - "$url" "$fs/floor" "${LAYER_HEX[@]}" ;;
  ctr-push) bench_once ctr-push prep_ctr_push "$CTR_IMAGE" --root "$fs/ctr-push" \
      --rundir "$fs/ctr-push-run" push --tls-verify=false "$REGISTRY/push/ctr-$round:$TAG" ;;
  skopeo-push) bench_once skopeo-push cold_skopeo skopeo copy -q --dest-tls-verify=false \
      "oci:$layout:$TAG" "docker://$REGISTRY/push/skopeo-$round:$TAG" ;;
  floor-push) bench_once floor-push : bash -c "$floor_push" - "$REGISTRY_URL" \
      "$REGISTRY_URL/v2/push/floor-$round" "$MANIFEST_BLOB" \
      "$layout/blobs/sha256/$CONFIG_HEX" "${LAYER_BLOBS[@]}" ;;
  esac
}

# ---- correctness ----------------------------------------------------------------

listing() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%P %y %m %U %G\n' \) -o \
    -printf '%P %y %m %U %G %s %T@ %l\n') | LC_ALL=C sort
}
checksums() {
  (cd "$1" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# What ctr pulled: the manifest digest it stored, and its layer dirs as a
# container sees them (an overlay, top first) against umoci's rootfs.
verify_pull() {
  local merged=$BENCH_TMP/merged lower got
  got=$(jq -r '.manifests[0].digest' "$fs/ctr-pull/images/index.json" 2>/dev/null) || got=""
  [[ $got == "$MANIFEST_DIGEST" ]] ||
    { VERIFY="ctr's stored manifest digest is '$got', not $MANIFEST_DIGEST"; return 1; }
  [[ -d $fs/umoci ]] || { VERIFY="umoci's tree is missing"; return 1; }
  "$CTR_IMAGE" --root "$fs/ctr-pull" --rundir "$fs/ctr-pull-run" unpack "$REGISTRY/bench:$TAG" \
    >"$BENCH_TMP/ctr-dirs" 2>"$BENCH_TMP/unpack.err" ||
    { VERIFY="ctr-image unpack of the pulled image failed: $(head -n 1 "$BENCH_TMP/unpack.err")"; return 1; }
  lower=$(paste -sd: "$BENCH_TMP/ctr-dirs")
  mkdir -p "$merged"
  bench_mount -t overlay ctr-bench -o "ro,lowerdir=$lower" "$merged" ||
    { VERIFY="could not mount an overlay of ctr's layers"; return 1; }
  listing "$merged" >"$BENCH_TMP/ctr.list"
  listing "$fs/umoci" >"$BENCH_TMP/umoci.list"
  checksums "$merged" >"$BENCH_TMP/ctr.sums"
  checksums "$fs/umoci" >"$BENCH_TMP/umoci.sums"
  bench_umount "$merged"
  if cmp -s "$BENCH_TMP/ctr.list" "$BENCH_TMP/umoci.list" &&
    cmp -s "$BENCH_TMP/ctr.sums" "$BENCH_TMP/umoci.sums"; then
    VERIFY="ctr pulled $MANIFEST_DIGEST; its layers (as an overlay) and umoci's tree match: $(wc -l <"$BENCH_TMP/ctr.list") entries, same sha256"
    return 0
  fi
  VERIFY="ctr's pulled tree and umoci's DIFFER (first differences below)"
  {
    diff "$BENCH_TMP/umoci.list" "$BENCH_TMP/ctr.list" | head -n 10 || true
    diff "$BENCH_TMP/umoci.sums" "$BENCH_TMP/ctr.sums" | head -n 10 || true
  } | sed 's/^/  /' >"$BENCH_TMP/verify.diff"
  return 1
}

# Per pusher, from the first round's repo: the manifest digest it left in
# the registry, and how many blobs it uploaded (a PUT that completes an
# upload) or mounted from another repository (POST ?mount=, which moves no
# bytes) by the registry's access log.
pushed_report() {
  local c repo d up mnt log=$REGISTRY_DIR/registry.log
  for c in "${PUSH_CASES[@]}"; do
    repo=push/${c%-push}-1
    d=$(curl -sfS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      -o /dev/null -w '%header{docker-content-digest}' \
      "$REGISTRY_URL/v2/$repo/manifests/$TAG" 2>/dev/null) || d="(none)"
    [[ $d == "$MANIFEST_DIGEST" ]] && d="the source's"
    up=$(grep -c "\"PUT /v2/$repo/blobs/uploads/[^ ]*digest=[^ ]* HTTP/[0-9.]*\" 201 " "$log" || true)
    mnt=$(grep -c "\"POST /v2/$repo/blobs/uploads/?[^ ]*mount=[^ ]* HTTP/[0-9.]*\" 201 " "$log" || true)
    printf '  %-8s manifest %s; %s blobs uploaded, %s mounted\n' "${c%-push}" "$d" "$up" "$mnt"
  done
}

# ---- the run -------------------------------------------------------------------

t0=$EPOCHREALTIME
bench_log "building the image (SCALE=$SCALE%) on a tmpfs at $fs"
build_image
bench_log "image $MANIFEST_DIGEST: $((UNCOMPRESSED / 1048576)) MiB in 5 layers, $((COMPRESSED / 1048576)) MiB gzip, $ENTRIES tar entries"

# The registry's storage is on the tmpfs too.
REGISTRY_TMPDIR=$fs registry_start plain || bench_die "the registry did not start"
bench_log "registry $REGISTRY (docker-registry $(docker-registry --version | awk '{ print $NF }'), pid $REGISTRY_PID)"
cold_skopeo
skopeo copy -q --dest-tls-verify=false "oci:$layout:$TAG" "docker://$REGISTRY/bench:$TAG" ||
  bench_die "skopeo could not push the image to $REGISTRY"

HAVE_PULL=0 HAVE_PUSH=0
if [[ -x $CTR_IMAGE ]] && "$CTR_IMAGE" pull --help >/dev/null 2>&1; then HAVE_PULL=1; fi
if [[ -x $CTR_IMAGE ]] && "$CTR_IMAGE" push --help >/dev/null 2>&1; then HAVE_PUSH=1; fi
if ((HAVE_PUSH)); then
  # push reads from a store: import the same layout once, untimed
  "$CTR_IMAGE" --root "$fs/ctr-push" --rundir "$fs/ctr-push-run" import -q --name "$TAG" "$layout" >/dev/null ||
    { bench_log "ctr-image import failed: ctr-image push not timed"; HAVE_PUSH=0; }
fi
((HAVE_PULL)) && PULL_CASES+=(ctr-pull)
PULL_CASES+=(skopeo-pull floor-fetch floor-inflate floor-pull)
((HAVE_PUSH)) && PUSH_CASES+=(ctr-push)
PUSH_CASES+=(skopeo-push floor-push)
((HAVE_PULL)) || bench_log "ctr-image pull: not available"
((HAVE_PUSH)) || bench_log "ctr-image push: not available"

bench_log "timing $RUNS rounds of: ${PULL_CASES[*]} ${PUSH_CASES[*]}"
for ((round = 1; round <= RUNS; round++)); do
  bench_log "round $round/$RUNS"
  for c in "${PULL_CASES[@]}" "${PUSH_CASES[@]}"; do run_case "$c"; done
done
prep_floor

verify_rc=0
VERIFY="not checked: ctr-image pull not available"
if ((HAVE_PULL)); then verify_pull || verify_rc=$?; fi
PUSHED=$(pushed_report)

# ---- the report -------------------------------------------------------------------

med() { bench_median "$1"; }
echo
printf 'ctr-image pull/push benchmark  %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'image: 5 gzip layers, %s MiB uncompressed, %s MiB compressed, %s tar entries (SCALE=%s%%)\n' \
  "$(bench_mib $((UNCOMPRESSED / 1024)))" "$(bench_mib $((COMPRESSED / 1024)))" "$ENTRIES" "$SCALE"
printf 'registry: docker-registry %s on %s, plain HTTP, storage on the tmpfs\n' \
  "$(docker-registry --version | awk '{ print $NF }')" "$REGISTRY"
printf 'machine: %s CPUs, %s; tmpfs; %s runs each, interleaved; peak RSS by %s\n' \
  "$JOBS" "$(uname -r)" "$RUNS" "$BENCH_RSS_TOOL"
printf 'peers: %s; umoci %s\n' "$(skopeo --version)" "$(umoci --version | awk '{ print $NF }')"
echo
row() { printf '%-42s %9s %13s %9s %9s\n' "$@"; }
row case "wall s" "wall min-max" "cpu s" "RSS MiB"
REPORT=(skopeo-pull umoci skopeo+umoci floor-fetch floor-inflate floor-pull)
if ((HAVE_PULL)); then REPORT=(ctr-pull "${REPORT[@]}"); else row "ctr-image pull: not available" "" "" "" ""; fi
for c in "${REPORT[@]}"; do
  row "${LABEL[$c]}" "$(med "$c")" "$(bench_minmax "$c")" "$(bench_cpu "$c")" "$(bench_mib "$(bench_rss "$c")")"
done
((HAVE_PUSH)) || row "ctr-image push: not available" "" "" "" ""
for c in "${PUSH_CASES[@]}"; do
  row "${LABEL[$c]}" "$(med "$c")" "$(bench_minmax "$c")" "$(bench_cpu "$c")" "$(bench_mib "$(bench_rss "$c")")"
done
echo "(wall and cpu: medians; cpu = user+sys of the client's processes, not the registry's;"
echo " RSS: the largest process, worst run; skopeo+umoci: the sum of each round's two runs)"
echo
row ratio "wall" "" "" "cpu"
ratio_row() {
  row "$1" "$(bench_ratio "$(med "$2")" "$(med "$3")")" "" "" \
    "$(bench_ratio "$(bench_cpu "$2")" "$(bench_cpu "$3")")"
}
if ((HAVE_PULL)); then
  ratio_row "speedup: (skopeo + umoci) / ctr pull" skopeo+umoci ctr-pull
  ratio_row "ctr pull / floor (curl | pigz | tar)" ctr-pull floor-pull
  ratio_row "ctr pull / floor (curl > /dev/null)" ctr-pull floor-fetch
else
  row "ctr-image pull: not available" "" "" "" ""
fi
ratio_row "(skopeo + umoci) / floor (curl|pigz|tar)" skopeo+umoci floor-pull
if ((HAVE_PUSH)); then
  ratio_row "speedup: skopeo push / ctr push" skopeo-push ctr-push
  ratio_row "ctr push / floor (curl PUT)" ctr-push floor-push
else
  row "ctr-image push: not available" "" "" "" ""
fi
ratio_row "skopeo push / floor (curl PUT)" skopeo-push floor-push
echo
echo "correctness: $VERIFY"
[[ $verify_rc -eq 0 ]] || [[ ! -s $BENCH_TMP/verify.diff ]] || cat "$BENCH_TMP/verify.diff"
echo "pushes (first round's repos): $((${#LAYER_HEX[@]} + 1)) blobs each"
echo "$PUSHED"
bench_log "done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
exit "$verify_rc"
