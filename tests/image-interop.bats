#!/usr/bin/env bats
# ctr-image against real peers: skopeo and umoci read and write the same
# formats, so what they make we must import unchanged, and what we make
# (the store itself, exports) they must read and agree with.

load helpers/common

setup() {
  setup_store
  requires skopeo umoci jq python3
  MNT="$BATS_TEST_TMPDIR/mnt"
  W="$BATS_TEST_TMPDIR/work"
  mkdir -p "$W"
}

teardown() {
  if mountpoint -q "$MNT" 2>/dev/null; then
    umount "$MNT"
  fi
}

mkimage() {
  python3 "$TESTS_DIR/helpers/mkimage.py" "$@"
}

# Everything about a tree a container could see: names, types, modes,
# owners, link counts and sizes of non-directories, symlink targets, and
# the contents of regular files. (Directory sizes and link counts are the
# file system's business, and overlayfs reports its own.)
tree_listing() {
  (cd "$1" && find . -mindepth 1 -printf '%p %y %#m %U:%G ' \
    \( -type d -printf '\n' \) -o \( -type l -printf '%n %l\n' \) -o -printf '%n %s\n' |
    LC_ALL=C sort)
  (cd "$1" && find . -mindepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# The merged root of an image: ctr-image's lowerdirs under overlayfs.
overlay_listing() {
  local lower
  lower=$(ctr-image unpack "$1" | paste -sd:)
  [ -n "$lower" ]
  mkdir -p "$MNT"
  mount -t overlay overlay -o "lowerdir=$lower" "$MNT"
  tree_listing "$MNT"
  umount "$MNT"
}

# The merged root umoci makes of NAME in an OCI layout.
umoci_listing() {
  rm -rf "$W/umoci-rootfs"
  umoci raw unpack --image "$1:$2" "$W/umoci-rootfs" >/dev/null 2>&1
  tree_listing "$W/umoci-rootfs"
}

config_digest() {
  blob "$(index_digest "$1")" | jq -r .config.digest
}

diff_ids() {
  ctr-image inspect --format json "$1" | jq -c '.[0].Config.rootfs.diff_ids'
}

@test "skopeo and umoci read the store as an OCI layout, and leave it as it was" {
  import_busybox
  local before
  before=$(store_listing)

  run skopeo inspect "oci:$CTR_ROOT/images:busybox:latest"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$(index_digest busybox:latest)" ]
  [ "$(jq -c .Layers <<<"$output")" = "$(blob "$(index_digest busybox:latest)" | jq -c '[.layers[].digest]')" ]

  run skopeo inspect --config "oci:$CTR_ROOT/images:busybox:latest"
  assert_success
  [ "$(jq -c .rootfs.diff_ids <<<"$output")" = "$(diff_ids busybox)" ]

  run umoci ls --layout "$CTR_ROOT/images"
  assert_success
  assert_line busybox:latest

  [ "$(store_listing)" = "$before" ]
}

@test "skopeo's docker-archive of our image imports into a fresh store with the same id and diff_ids" {
  import_busybox
  local id ids
  id=$(config_digest busybox:latest)
  ids=$(diff_ids busybox)
  run skopeo copy -q "oci:$CTR_ROOT/images:busybox:latest" "docker-archive:$W/x.tar:busybox:latest"
  assert_success

  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run ctr-image import "$W/x.tar"
  assert_success
  assert_output "Loaded image: busybox:latest"
  [ "$(config_digest busybox:latest)" = "$id" ]
  [ "$(diff_ids busybox)" = "$ids" ]
  run ctr-image inspect --format json busybox
  assert_success
  [ "$(jq -r '.[0].Id' <<<"$output")" = "$id" ]

  # Round trip: what we export again, skopeo reads as the same image.
  run ctr-image export --format docker-archive -o "$W/again.tar" busybox
  assert_success
  run skopeo inspect --raw "docker-archive:$W/again.tar"
  assert_success
  [ "$(jq -r .config.digest <<<"$output")" = "$id" ]
  run skopeo inspect --config "docker-archive:$W/again.tar"
  assert_success
  [ "$(jq -c .rootfs.diff_ids <<<"$output")" = "$ids" ]
  run ctr-image export -o "$W/again-oci.tar" busybox
  assert_success
  run skopeo inspect "oci-archive:$W/again-oci.tar"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$(index_digest busybox:latest)" ]
}

@test "skopeo's oci-archive of our image imports with the identical manifest digest" {
  import_busybox
  local digest
  digest=$(index_digest busybox:latest)
  run skopeo copy -q "oci:$CTR_ROOT/images:busybox:latest" "oci-archive:$W/y.tar"
  assert_success

  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run ctr-image import -q --name copy:1 "$W/y.tar"
  assert_success
  assert_output "$digest"
  [ "$(index_digest copy:1)" = "$digest" ]
  run ctr-image unpack copy:1
  assert_success
  [ -x "$output/bin/busybox" ]
}

@test "our oci-archive export: skopeo copies it to a layout with the identical manifest digest" {
  import_busybox
  run ctr-image export --format oci-archive -o "$W/e.tar" busybox
  assert_success
  run skopeo copy -q "oci-archive:$W/e.tar" "oci:$W/layout:x"
  assert_success
  [ "$(jq -r '.manifests[0].digest' "$W/layout/index.json")" = "$(index_digest busybox:latest)" ]
  # The same bytes: skopeo verified every blob against its digest.
  run diff -r "$W/layout/blobs" "$CTR_ROOT/images/blobs"
  assert_success
}

@test "our docker-archive export: skopeo inspect shows the same config and layers" {
  import_busybox
  run ctr-image export --format docker-archive busybox "$W/d.tar"
  assert_success
  run skopeo inspect "docker-archive:$W/d.tar"
  assert_success
  # docker-archive layers are uncompressed: their digests are the diff_ids.
  [ "$(jq -c .Layers <<<"$output")" = "$(diff_ids busybox)" ]
  run skopeo inspect --raw "docker-archive:$W/d.tar"
  assert_success
  [ "$(jq -r .config.digest <<<"$output")" = "$(config_digest busybox:latest)" ]
  run skopeo inspect --config "docker-archive:$W/d.tar"
  assert_success
  [ "$(jq -c .rootfs.diff_ids <<<"$output")" = "$(diff_ids busybox)" ]
  [ "$(jq -c .config.Cmd <<<"$output")" = '["sh"]' ]
}

@test "umoci unpacks busybox from our store to the same tree as ctr-image unpack" {
  import_busybox
  run ctr-image unpack busybox
  assert_success
  [ "${#lines[@]}" -eq 1 ]
  local ours=${lines[0]} theirs
  theirs=$(umoci_listing "$CTR_ROOT/images" busybox:latest)
  [ -n "$theirs" ]
  diff <(tree_listing "$ours") <(echo "$theirs")
}

@test "a 3-layer image with whiteouts: umoci's rootfs equals the overlay of ctr-image's layers" {
  mkimage "$W/rich"
  run ctr-image import "$W/rich"
  assert_success
  run ctr-image unpack test:latest
  assert_success
  [ "${#lines[@]}" -eq 3 ]

  local theirs ours
  theirs=$(umoci_listing "$CTR_ROOT/images" test:latest)
  ours=$(overlay_listing test:latest)
  diff <(echo "$ours") <(echo "$theirs")

  # Both could be wrong the same way: check the whiteouts did their work.
  mkdir -p "$MNT"
  mount -t overlay overlay -o "lowerdir=$(ctr-image unpack test:latest | paste -sd:)" "$MNT"
  [ ! -e "$MNT/gone" ]
  [ ! -e "$MNT/opq/a" ] && [ ! -e "$MNT/opq/b" ] && [ -f "$MNT/opq/c" ]
  [ ! -e "$MNT/olddir/x" ] && [ -f "$MNT/olddir/y" ]
  [ "$(cat "$MNT/replaced")" = "new, longer" ]
  [ "$(cat "$MNT/etc/motd")" = "layer 3" ]
  [ "$(stat -c %a "$MNT/usr/bin/su")" = 4755 ]
  [ "$(stat -c %i "$MNT/bin/tool")" = "$(stat -c %i "$MNT/bin/tool-hard")" ]
  [ "$(readlink "$MNT/bin/sh")" = tool ]
  umount "$MNT"
}

@test "zstd and uncompressed layers unpack to the same layers as gzip ones" {
  mkimage --compression gzip --name rich:gzip "$W/gz"
  mkimage --compression zstd --name rich:zstd "$W/zst"
  mkimage --compression none --name rich:none "$W/none"
  local n
  for n in gz zst none; do
    run ctr-image import "$W/$n"
    assert_success
  done
  [ "$(diff_ids rich:zstd)" = "$(diff_ids rich:gzip)" ]
  [ "$(diff_ids rich:none)" = "$(diff_ids rich:gzip)" ]
  # Same diff_ids, same chain ids: the layers are shared, not unpacked twice.
  [ "$(ctr-image unpack rich:zstd)" = "$(ctr-image unpack rich:gzip)" ]
  [ "$(ctr-image unpack rich:none)" = "$(ctr-image unpack rich:gzip)" ]
  [ "$(find "$CTR_ROOT/layers" -mindepth 1 -maxdepth 1 | wc -l)" -eq 3 ]
  # umoci 0.4.7 reads no zstd; the gzip twin stands in as the reference.
  diff <(overlay_listing rich:zstd) <(umoci_listing "$W/gz" rich:gzip)
  # skopeo reads our zstd image as it is.
  run skopeo inspect "oci:$CTR_ROOT/images:rich:zstd"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$(index_digest rich:zstd)" ]
  [ "$(jq -c .Layers <<<"$output")" = "$(blob "$(index_digest rich:zstd)" | jq -c '[.layers[].digest]')" ]
  run skopeo inspect --raw "oci:$CTR_ROOT/images:rich:zstd"
  assert_success
  [ "$(jq -r '[.layers[].mediaType] | unique | join(" ")' <<<"$output")" = "application/vnd.oci.image.layer.v1.tar+zstd" ]
}

@test "skopeo's docker-archive and oci-archive of a 3-layer image import cleanly" {
  mkimage "$W/rich"
  local reference id ids digest
  reference=$(umoci_listing "$W/rich" test:latest)
  digest=$(jq -r '.manifests[0].digest' "$W/rich/index.json")
  id=$(jq -r .config.digest "$W/rich/blobs/sha256/${digest#sha256:}")
  ids=$(jq -c .rootfs.diff_ids "$W/rich/blobs/sha256/${id#sha256:}")
  run skopeo copy -q "oci:$W/rich:test:latest" "docker-archive:$W/d.tar:rich:docker"
  assert_success
  run skopeo copy -q "oci:$W/rich:test:latest" "oci-archive:$W/o.tar:rich:oci"
  assert_success

  run ctr-image import "$W/d.tar"
  assert_success
  assert_output "Loaded image: rich:docker"
  [ "$(config_digest rich:docker)" = "$id" ]
  [ "$(diff_ids rich:docker)" = "$ids" ]
  diff <(overlay_listing rich:docker) <(echo "$reference")

  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run ctr-image import "$W/o.tar"
  assert_success
  assert_output "Loaded image: rich:oci"
  [ "$(index_digest rich:oci)" = "$digest" ]
  diff <(overlay_listing rich:oci) <(echo "$reference")
}

@test "an image skopeo copies into the store is usable by ctr-image" {
  import_busybox
  mkimage "$W/rich"
  run skopeo copy -q "oci:$W/rich:test:latest" "oci:$CTR_ROOT/images:rich:1"
  assert_success
  run ctr-image ls --format json
  assert_success
  [ "$(jq -r '[.[].Name] | sort | join(" ")' <<<"$output")" = "busybox:latest rich:1" ]
  run ctr-image history rich:1
  assert_success
  assert_line --partial "mkimage.py layer 2"
  diff <(overlay_listing rich:1) <(umoci_listing "$W/rich" test:latest)
}
