#!/usr/bin/env bats
# ctr-image on a local store: the everyday verbs and their real effects.

load helpers/common

setup() {
  setup_store
}

@test "--version prints the version and feature tags" {
  run ctr-image --version
  assert_success
  assert_line --index 0 --regexp '^ctr-image version [0-9]+\.[0-9]+\.[0-9]+$'
  assert_output --partial '+LIBARCHIVE'
  assert_output --partial '+ZSTD'
}

@test "--help lists every verb" {
  run ctr-image --help
  assert_success
  for v in import export ls inspect tag rm prune history unpack; do
    assert_output --partial "  $v "
  done
}

@test "no command is bad usage (exit 2)" {
  run ctr-image
  assert_failure 2
}

@test "unknown command and unknown flag: one line, exit 2" {
  run --separate-stderr ctr-image frobnicate
  assert_failure 2
  [ "$stderr" = "ctr-image: unknown command 'frobnicate' (see --help)" ]
  run --separate-stderr ctr-image ls --frob
  assert_failure 2
  [[ "$stderr" == "ctr-image: invalid option"*"--frob"* ]]
}

@test "import --from-host busybox makes an OCI layout skopeo can read" {
  import_busybox
  assert_output "Loaded image: busybox:latest"
  [ "$(jq -r .imageLayoutVersion "$CTR_ROOT/images/oci-layout")" = 1.0.0 ]
  d=$(index_digest busybox:latest)
  [[ "$d" == sha256:* ]]
  # every blob hashes to its name
  for f in "$CTR_ROOT"/images/blobs/sha256/*; do
    [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
  done
  requires skopeo
  run skopeo inspect "oci:$CTR_ROOT/images:busybox:latest"
  assert_success
  [ "$(echo "$output" | jq -r .Digest)" = "$d" ]
}

@test "the busybox base image is reproducible" {
  import_busybox
  d1=$(index_digest busybox:latest)
  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  import_busybox
  [ "$(index_digest busybox:latest)" = "$d1" ]
}

@test "importing the same image twice is a no-op" {
  import_busybox
  before=$(store_listing)
  run ctr-image import --from-host busybox -q
  assert_success
  assert_output "$(index_digest busybox:latest)"
  [ "$(store_listing)" = "$before" ]
}

@test "the busybox image runs: static busybox, applets, passwd, sticky /tmp" {
  import_busybox
  run ctr-image unpack busybox
  assert_success
  lower=$output
  [ -d "$lower" ]
  [[ "$lower" == "$CTR_ROOT/layers/"* ]]
  [ "$(stat -c %a "$lower/tmp")" = 1777 ]
  [ "$(stat -c %a "$lower/root")" = 700 ]
  [ "$(readlink "$lower/bin/sh")" = /bin/busybox ]
  run chroot "$lower" /bin/sh -c 'echo hello from $(id -un); ls /etc'
  assert_success
  assert_line "hello from root"
  assert_line passwd
  assert_line group
}

@test "ls shows name, tag, id, created and size; -q and json agree" {
  import_busybox
  run ctr-image ls
  assert_success
  assert_line --index 0 --regexp '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
  id=$(jq -r .config.digest "$CTR_ROOT/images/blobs/sha256/$(index_digest busybox:latest | cut -d: -f2)")
  assert_line --index 1 --regexp "^busybox +latest +${id:7:12} +.* ago +[0-9.]+MB$"
  run ctr-image ls -q
  assert_output "${id:7:12}"
  run ctr-image ls --format json
  assert_success
  [ "$(echo "$output" | jq -r '.[0].Name')" = busybox:latest ]
  [ "$(echo "$output" | jq -r '.[0].Id')" = "$id" ]
  run ctr-image ls --digests
  assert_line --index 1 --partial "$(index_digest busybox:latest)"
  run ctr-image ls --format yaml
  assert_failure 2
}

@test "references: name, full docker.io name, digest, id prefix, name@digest" {
  import_busybox
  d=$(index_digest busybox:latest)
  id=$(ctr-image inspect --format json busybox | jq -r '.[0].Id')
  for ref in busybox busybox:latest docker.io/library/busybox docker.io/library/busybox:latest \
      "$d" "${d#sha256:}" "${d:7:12}" "${id:7:10}" "busybox@$d"; do
    run ctr-image inspect --format json "$ref"
    assert_success
    [ "$(echo "$output" | jq -r '.[0].Digest')" = "$d" ]
  done
  run ctr-image inspect busybox:nope
  assert_failure 1
  assert_output "ctr-image: no such image: busybox:nope"
}

@test "inspect shows manifest and config" {
  import_busybox
  run ctr-image inspect busybox
  assert_success
  assert_line --regexp '^Name: +busybox:latest$'
  assert_line --regexp '^Architecture: +(amd64|arm64|arm|386|ppc64le|s390x|riscv64)$'
  assert_line --regexp '^Cmd: +sh$'
  run ctr-image inspect --format json busybox
  assert_success
  [ "$(echo "$output" | jq -r '.[0].Manifest.layers | length')" = 1 ]
  [ "$(echo "$output" | jq -r '.[0].Config.rootfs.diff_ids | length')" = 1 ]
  [ "$(echo "$output" | jq -r '.[0].Config.config.Cmd[0]')" = sh ]
}

@test "tag adds a name; a taken name needs -f" {
  import_busybox
  run ctr-image tag busybox localhost:5000/tools/bb:1.0
  assert_success
  [ "$(index_digest localhost:5000/tools/bb:1.0)" = "$(index_digest busybox:latest)" ]
  run ctr-image ls
  assert_line --regexp '^localhost:5000/tools/bb +1\.0 '
  echo hello > "$BATS_TEST_TMPDIR/f"
  tar -C "$BATS_TEST_TMPDIR" -cf "$BATS_TEST_TMPDIR/rootfs.tar" f
  run ctr-image import --rootfs --name other:1 "$BATS_TEST_TMPDIR/rootfs.tar"
  assert_success
  before=$(store_listing)
  run ctr-image tag other:1 busybox
  assert_failure 1
  assert_output --partial "name busybox:latest is already used by image"
  [ "$(store_listing)" = "$before" ]
  run ctr-image tag -f other:1 busybox
  assert_success
  [ "$(index_digest busybox:latest)" = "$(index_digest other:1)" ]
}

@test "rm removes a name; the last name deletes blobs and layers" {
  import_busybox
  ctr-image unpack busybox >/dev/null
  ctr-image tag busybox bb:2
  d=$(index_digest busybox:latest)
  run ctr-image rm bb:2
  assert_success
  assert_output "Untagged: bb:2"
  [ -f "$CTR_ROOT/images/blobs/sha256/${d#sha256:}" ]
  run ctr-image rm busybox
  assert_success
  assert_line "Untagged: busybox:latest"
  assert_line "Deleted: $d"
  [ -z "$(ls "$CTR_ROOT/images/blobs/sha256")" ]
  [ -z "$(ls "$CTR_ROOT/layers")" ]
  [ "$(jq '.manifests | length' "$CTR_ROOT/images/index.json")" = 0 ]
}

@test "rm of an unknown name changes nothing; -f ignores it" {
  import_busybox
  before=$(store_listing)
  run --separate-stderr ctr-image rm busybox nosuch
  assert_failure 1
  [ "$stderr" = "ctr-image: no such image: nosuch" ]
  [ "$(store_listing)" = "$before" ]
  run ctr-image rm -f nosuch
  assert_success
}

@test "prune removes unreferenced blobs, stray layers, temp files, dangling images" {
  import_busybox
  keep=$(store_listing)
  printf 'junk' > "$CTR_ROOT/images/blobs/sha256/$(printf junk | sha256sum | cut -d' ' -f1)"
  touch "$CTR_ROOT/images/blobs/sha256/.tmp-blob.abc"
  mkdir -p "$CTR_ROOT/layers/$(printf x | sha256sum | cut -d' ' -f1)/etc" "$CTR_ROOT/layers/.tmp-1234.x"
  run ctr-image prune
  assert_success
  assert_output --regexp '^Removed 1 blob, 1 layer, 0 dangling images, 2 temp files; reclaimed'
  [ "$(store_listing)" = "$keep" ]
  # a nameless entry is dangling
  jq '.manifests[0].annotations = {}' "$CTR_ROOT/images/index.json" > "$BATS_TEST_TMPDIR/i" &&
    cp "$BATS_TEST_TMPDIR/i" "$CTR_ROOT/images/index.json"
  run ctr-image prune -q
  assert_success
  assert_output ""
  [ "$(jq '.manifests | length' "$CTR_ROOT/images/index.json")" = 0 ]
  [ -z "$(ls "$CTR_ROOT/images/blobs/sha256")" ]
}

@test "prune refuses to guess when the index references a missing blob" {
  import_busybox
  d=$(index_digest busybox:latest)
  cfg=$(blob "$d" | jq -r .config.digest)
  rm "$CTR_ROOT/images/blobs/sha256/${cfg#sha256:}"
  before=$(store_listing)
  run ctr-image prune
  assert_failure 1
  assert_output --partial "refusing to collect garbage"
  [ "$(store_listing)" = "$before" ]
}

@test "history lists the layers, newest first" {
  import_busybox
  run ctr-image history busybox
  assert_success
  assert_line --index 0 --regexp '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$'
  assert_line --index 1 --partial 'ctr-image import --from-host busybox'
  run ctr-image history --no-trunc --format json busybox
  [ "$(echo "$output" | jq -r '.[0].CreatedBy')" = "$(ctr-image inspect --format json busybox | jq -r '.[0].Config.history[-1].created_by')" ]
}

@test "import --rootfs makes a one-layer image from a root filesystem tarball" {
  mkdir -p "$BATS_TEST_TMPDIR/fs/etc" "$BATS_TEST_TMPDIR/fs/usr/bin"
  echo 'ID=test' > "$BATS_TEST_TMPDIR/fs/etc/os-release"
  ln -s ../usr/bin "$BATS_TEST_TMPDIR/fs/bin"
  tar -C "$BATS_TEST_TMPDIR/fs" --numeric-owner -czf "$BATS_TEST_TMPDIR/fs.tgz" .
  run ctr-image import --rootfs --name mydistro:1 "$BATS_TEST_TMPDIR/fs.tgz"
  assert_success
  assert_output "Loaded image: mydistro:1"
  lower=$(ctr-image unpack mydistro:1)
  [ "$(cat "$lower/etc/os-release")" = ID=test ]
  [ "$(readlink "$lower/bin")" = ../usr/bin ]
  # the layer's diff_id is the sha256 of the uncompressed tar
  [ "$(ctr-image inspect --format json mydistro:1 | jq -r '.[0].Config.rootfs.diff_ids[0]')" = \
    "sha256:$(gzip -dc "$BATS_TEST_TMPDIR/fs.tgz" | sha256sum | cut -d' ' -f1)" ]
  # from stdin, zstd-compressed
  tar -C "$BATS_TEST_TMPDIR/fs" -cf - . | zstd -q > "$BATS_TEST_TMPDIR/fs.tar.zst"
  run ctr-image import --rootfs --name mydistro:zst - < "$BATS_TEST_TMPDIR/fs.tar.zst"
  assert_success
}

@test "a root filesystem tarball without --rootfs is not taken for an image" {
  tar -C "$BATS_TEST_TMPDIR" -cf "$BATS_TEST_TMPDIR/x.tar" --files-from /dev/null --no-recursion .
  mkdir -p "$BATS_TEST_TMPDIR/fs/etc" && echo x > "$BATS_TEST_TMPDIR/fs/etc/x"
  tar -C "$BATS_TEST_TMPDIR/fs" -cf "$BATS_TEST_TMPDIR/fs.tar" .
  run ctr-image import "$BATS_TEST_TMPDIR/fs.tar"
  assert_failure 1
  assert_output --partial "not an image archive"
  assert_output --partial "--rootfs"
}

@test "export and import round-trip through oci-archive and docker-archive" {
  import_busybox
  d=$(index_digest busybox:latest)
  id=$(ctr-image inspect --format json busybox | jq -r '.[0].Id')
  run ctr-image export busybox -o "$BATS_TEST_TMPDIR/bb-oci.tar"
  assert_success
  run ctr-image export --format docker-archive busybox "$BATS_TEST_TMPDIR/bb-docker.tar"
  assert_success
  ctr-image export busybox - > "$BATS_TEST_TMPDIR/bb-stdout.tar"
  cmp "$BATS_TEST_TMPDIR/bb-oci.tar" "$BATS_TEST_TMPDIR/bb-stdout.tar"
  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run ctr-image import "$BATS_TEST_TMPDIR/bb-oci.tar"
  assert_success
  assert_output "Loaded image: busybox:latest"
  [ "$(index_digest busybox:latest)" = "$d" ]
  run ctr-image import --name fromdocker:1 "$BATS_TEST_TMPDIR/bb-docker.tar"
  assert_success
  [ "$(ctr-image inspect --format json fromdocker:1 | jq -r '.[0].Id')" = "$id" ]
  # compressed archive on stdin
  gzip -c "$BATS_TEST_TMPDIR/bb-docker.tar" | ctr-image import --name gz:1 -
  [ "$(ctr-image inspect --format json gz:1 | jq -r '.[0].Id')" = "$id" ]
}

@test "import of an OCI layout directory" {
  import_busybox
  d=$(index_digest busybox:latest)
  mkdir "$BATS_TEST_TMPDIR/layout"
  ctr-image export busybox | tar -C "$BATS_TEST_TMPDIR/layout" -xf -
  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run ctr-image import --name copy:1 "$BATS_TEST_TMPDIR/layout"
  assert_success
  [ "$(index_digest copy:1)" = "$d" ]
}

@test "a failed export leaves the target file as it was" {
  import_busybox
  echo precious > "$BATS_TEST_TMPDIR/out.tar"
  run ctr-image export nosuch "$BATS_TEST_TMPDIR/out.tar"
  assert_failure 1
  [ "$(cat "$BATS_TEST_TMPDIR/out.tar")" = precious ]
  run ctr-image export --format zip busybox "$BATS_TEST_TMPDIR/out.tar"
  assert_failure 2
  [ "$(cat "$BATS_TEST_TMPDIR/out.tar")" = precious ]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep ctr-export || true)" ]
}

@test "unpack prints lowerdirs top first and an overlay of them works" {
  import_busybox
  lower=$(ctr-image unpack busybox)
  [ "$(echo "$lower" | wc -l)" = 1 ]
  mnt="$BATS_TEST_TMPDIR/mnt"
  mkdir "$mnt" "$BATS_TEST_TMPDIR/up" "$BATS_TEST_TMPDIR/work"
  mount -t overlay overlay -o "lowerdir=$(echo "$lower" | paste -sd:),upperdir=$BATS_TEST_TMPDIR/up,workdir=$BATS_TEST_TMPDIR/work" "$mnt"
  run chroot "$mnt" /bin/sh -c 'echo ok > /tmp/x; cat /tmp/x'
  umount "$mnt"
  assert_output ok
  # writes went to the upper dir, the layer is untouched
  [ -f "$BATS_TEST_TMPDIR/up/tmp/x" ]
  [ ! -e "$lower/tmp/x" ]
}

@test "--root and --rundir options override the environment" {
  run ctr-image --root "$BATS_TEST_TMPDIR/other" --rundir "$BATS_TEST_TMPDIR/orun" import --from-host busybox
  assert_success
  [ -f "$BATS_TEST_TMPDIR/other/images/index.json" ]
  [ -f "$BATS_TEST_TMPDIR/orun/locks/images.lock" ]
  [ ! -e "$CTR_ROOT" ]
  run ctr-image ls --root "$BATS_TEST_TMPDIR/other" -q
  assert_success
  [ -n "$output" ]
}

@test "import --from-host with an unknown package is bad usage" {
  run ctr-image import --from-host alpine
  assert_failure 2
  assert_output "ctr-image: unknown host image 'alpine' (known: busybox)"
}

@test "looking at a store that does not exist creates nothing" {
  run ctr-image ls
  assert_success
  assert_output --regexp '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
  run ctr-image inspect busybox
  assert_failure 1
  run ctr-image history busybox
  assert_failure 1
  run ctr-image prune
  assert_success
  [ ! -e "$CTR_ROOT" ]
}

@test "progress is drawn on a terminal, not in pipes or with -q" {
  import_busybox
  ctr-image export busybox -o "$BATS_TEST_TMPDIR/bb.tar"
  export CTR_ROOT="$BATS_TEST_TMPDIR/root2"
  run script -qec "ctr-image import $BATS_TEST_TMPDIR/bb.tar" /dev/null
  assert_success
  assert_output --partial 'Reading ['
  assert_output --partial 'Unpacking ['
  assert_output --partial 'Loaded image: busybox:latest'
  rm -rf "$CTR_ROOT"
  run script -qec "ctr-image import -q $BATS_TEST_TMPDIR/bb.tar" /dev/null
  assert_success
  refute_output --partial 'Unpacking'
  rm -rf "$CTR_ROOT"
  run --separate-stderr ctr-image import "$BATS_TEST_TMPDIR/bb.tar"
  assert_success
  [ -z "$stderr" ]
}
