#!/usr/bin/env bats
# --userns auto: a block of 65536 host ids per container, from the
# subordinate ranges of "containers" (or systemd's container range), and
# the image's layers idmapped into it, so the container's root owns the
# image's files without a chown of any layer.

load helpers/common

setup_file() {
  setup_probe_store
  # the container's uid must reach its bundle, as it can under /var/lib/ctr
  local d=$CTR_ROOT
  while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+x "$d"; d=$(dirname "$d"); done
}

setup() {
  use_file_store
}

teardown() {
  remove_containers
}

@test "the container's root owns the image's files, and can change them; the layer stays as it was" {
  layer=$(ctr-image unpack probe | head -1)
  before=$(stat -c '%u:%g %s' "$layer/etc/passwd")
  run ctr-run --name un --userns auto probe sh -c \
    'stat -c "%u:%g" /etc/passwd /bin/busybox /home/app; echo extra:x:5:5::/:/bin/sh >> /etc/passwd && echo changed'
  assert_success
  assert_output "$(printf '0:0\n0:0\n1000:1000\nchanged')"
  id=$(jq -r .id "$CTR_ROOT"/containers/*/state.json)
  base=$(jq -r .userns.uid "$CTR_ROOT/containers/$id/state.json")
  # the copy-up is the container's root on the host; the layer is untouched
  [ "$(stat -c '%u' "$CTR_ROOT/containers/$id/upper/etc/passwd")" = "$base" ]
  [ "$(stat -c '%u:%g %s' "$layer/etc/passwd")" = "$before" ]
  ! grep -q extra "$layer/etc/passwd"
}

@test "each container gets its own block, recorded in state.json; a block is free again after rm" {
  a=$(ctr-run -d --userns auto probe /probe pause)
  b=$(ctr-run -d --userns auto probe /probe pause)
  ua=$(jq -r .userns.uid "$CTR_ROOT/containers/$a/state.json")
  ub=$(jq -r .userns.uid "$CTR_ROOT/containers/$b/state.json")
  # without /etc/subuid entries: systemd's container range, from 524288
  [ "$ua" -ge 524288 ] && [ "$ub" -ge 524288 ]
  [ $(( ua > ub ? ua - ub : ub - ua )) -ge 65536 ]
  [ "$(jq -r .userns.size "$CTR_ROOT/containers/$a/state.json")" = 65536 ]
  # the kernel's maps say the same
  pid=$(jq -r .pid "$CTR_RUNDIR/containers/$b.json")
  [ "$(awk '{print $1, $2, $3}' /proc/"$pid"/uid_map)" = "0 $ub 65536" ]
  ctr-rm -f "$a"
  c=$(ctr-run -d --userns auto probe /probe pause)
  [ "$(jq -r .userns.uid "$CTR_ROOT/containers/$c/state.json")" = "$ua" ]
}

@test "/etc/subuid and /etc/subgid ranges of \"containers\" are used; when all are taken, 125 and nothing made" {
  printf 'someone:100000:65536\ncontainers:2000000:131072\n' > "$BATS_TEST_TMPDIR/subuid"
  printf 'containers:3000000:131072\n' > "$BATS_TEST_TMPDIR/subgid"
  run unshare -m sh -c '
    # a private view of /etc with our two files (made whole where the
    # host has no /etc/subuid to bind over)
    if [ -e /etc/subuid ] && [ -e /etc/subgid ]; then
      mount --bind "$1/subuid" /etc/subuid && mount --bind "$1/subgid" /etc/subgid || exit 1
    else
      cp -a /etc "$1/etc" && cp "$1/subuid" "$1/subgid" "$1/etc/" && mount --bind "$1/etc" /etc || exit 1
    fi
    a=$(ctr-run -d --userns auto probe /probe pause) || exit 1
    b=$(ctr-run -d --userns auto probe /probe pause) || exit 1
    ctr-run -d --userns auto probe /probe pause; echo "status $?"
    jq -c "[.userns.uid, .userns.gid]" "$CTR_ROOT/containers/$a/state.json" "$CTR_ROOT/containers/$b/state.json"
    ls "$CTR_ROOT/containers" | wc -l
    ctr-rm -f "$a" "$b" >/dev/null' sh "$BATS_TEST_TMPDIR"
  assert_success
  assert_line "ctr-run: --userns auto: every block of 65536 ids in the subordinate ranges of \"containers\" is taken: No space left on device"
  assert_line "status 125"
  assert_line "[2000000,3000000]"
  assert_line "[2065536,3065536]"
  assert_line 2
}

@test "exec in a --userns auto container: the same ids, the same view of the files" {
  id=$(ctr-run -d --userns auto probe /probe pause)
  run ctr-exec "$id" sh -c 'id -u; stat -c %u /etc/passwd'
  assert_success
  assert_output "$(printf '0\n0')"
}
