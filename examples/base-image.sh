#!/bin/bash
# The main job, for now: build a base image from the host's busybox-static
# package into a store, and show it. Later tools extend this into a real
# multi-container application on that image.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PATH="$here/build/bin:$PATH"
export CTR_ROOT=${CTR_ROOT:-/var/lib/ctr}
export CTR_RUNDIR=${CTR_RUNDIR:-/run/ctr}

echo "== store: $CTR_ROOT"
ctr-image import --from-host busybox
echo
echo "== ctr-image ls"
ctr-image ls
echo
echo "== ctr-image history busybox"
ctr-image history busybox
echo
echo "== ctr-image unpack busybox (overlay lowerdirs, top first)"
lower=$(ctr-image unpack busybox)
echo "$lower"
echo
echo "== a look inside the unpacked layer"
chroot "$lower" /bin/busybox sh -c 'echo "busybox $(busybox | head -1 | cut -d" " -f2) with $(ls /bin /sbin /usr/bin /usr/sbin | wc -l) applets"; id'
echo
echo "== readable by skopeo as an OCI layout"
if command -v skopeo >/dev/null; then
  skopeo inspect "oci:$CTR_ROOT/images:busybox:latest" | jq -c '{Digest, Architecture, Os, Layers}'
fi
echo
echo "== a container from it (ctr-run), and one in the background"
ctr-run --rm busybox sh -c 'echo "hello from $(hostname), pid $$, as $(id -un)"'
ctr-rm -f demo-ticker >/dev/null 2>&1 || true
ctr-run -d --name demo-ticker busybox sh -c 'for i in 1 2 3; do echo "tick $i"; sleep 0.2; done' >/dev/null
sleep 1
ctr-ps -a --filter name=demo-ticker
ctr-logs demo-ticker
ctr-rm -f demo-ticker >/dev/null
