#!/bin/bash
# The main job: build a base image from the host's busybox-static package
# into a store, show it, run containers from it, then a small
# multi-container application on a network of its own: a "db" serving a
# named volume, a "web" front whose CGI asks the db by name, its port
# published on the host. Everything it makes is removed at the end.
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
echo
echo "== an application: db and web on network demo-app, web published on :8088"
cleanup() {
  ctr-rm -f demo-web demo-db >/dev/null 2>&1 || true
  ctr-net rm demo-app >/dev/null 2>&1 || true
  rm -rf "$CTR_ROOT/volumes/demo-data"
}
cleanup
trap cleanup EXIT
ctr-net create demo-app
ctr-run -d --name demo-db --network demo-app -v demo-data:/data busybox \
  sh -c 'echo "rows: 42, kept in volume demo-data" > /data/index.html; exec httpd -f -p 80 -h /data' >/dev/null
ctr-run -d --name demo-web --network demo-app -p 8088:80 busybox sh -c '
  mkdir -p /www/cgi-bin
  printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \"web \$(hostname) asked db: \$(wget -qO- http://demo-db/)\"\n" > /www/cgi-bin/hello
  chmod +x /www/cgi-bin/hello
  exec httpd -f -p 80 -h /www' >/dev/null
ctr-ps --filter name=demo-
for _ in $(seq 50); do
  if out=$(busybox wget -qO- http://127.0.0.1:8088/cgi-bin/hello 2>/dev/null); then
    break
  fi
  sleep 0.1
done
echo "host -> 127.0.0.1:8088 -> web -> db: ${out:-no answer}"
[ -n "${out:-}" ]
