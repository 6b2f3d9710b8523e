#!/bin/bash
# probe-image.sh [PROBE] — make the image probe:latest in $CTR_ROOT: the
# busybox base plus /probe (the static tests/probe helper), /notexec (a
# script without the x bit), user app (1000:1000, home /home/app, also in
# group staff) and group staff (50).
#
# PROBE defaults to $CTR_BUILD/probe/ctr-probe (tests/run-all.sh sets
# CTR_BUILD), else build/probe/ctr-probe.  Needs ctr-image on PATH and
# CTR_ROOT set.  Does nothing when probe:latest exists, so every test may
# call it.  Exit status: 0 ok, 1 failed, 2 bad usage.
set -euo pipefail

readonly NAME=probe:latest
prog=${0##*/}

die() {
  echo "$prog: $*" >&2
  exit 1
}

[ $# -le 1 ] || { echo "usage: $prog [PROBE]" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
probe=${1:-${CTR_BUILD:-$repo/build}/probe/ctr-probe}

[ -n "${CTR_ROOT:-}" ] || die "CTR_ROOT is not set"
command -v ctr-image >/dev/null || die "ctr-image is not on PATH"
if [ ! -f "$probe" ] || [ ! -x "$probe" ]; then
  die "no probe at $probe (make $probe)"
fi

if ctr-image inspect "$NAME" >/dev/null 2>&1; then
  exit 0
fi
if ! ctr-image inspect busybox >/dev/null 2>&1; then
  ctr-image import --from-host busybox >/dev/null || die "cannot import busybox"
fi

# Top layer first, one per line; the host busybox image is a single layer,
# and copying several would need whiteouts handled.
mapfile -t layers < <(ctr-image unpack busybox)
[ ${#layers[@]} -eq 1 ] || die "busybox has ${#layers[@]} layers; expected 1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/probe-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
mkdir "$rootfs"
cp -a "${layers[0]}/." "$rootfs/"

install -m 0755 "$probe" "$rootfs/probe"
printf '#!/bin/sh\n' > "$rootfs/notexec"
chmod 0644 "$rootfs/notexec"

echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> "$rootfs/etc/passwd"
printf 'staff:x:50:app\napp:x:1000:\n' >> "$rootfs/etc/group"
mkdir -p "$rootfs/home/app"
chown 1000:1000 "$rootfs/home/app"
chmod 0755 "$rootfs/home/app"

tar -C "$rootfs" --numeric-owner -cf - . | ctr-image import -q --rootfs --name "$NAME" - >/dev/null \
  || die "cannot import $NAME"
