#!/usr/bin/env bats
# ctr-image records each lifecycle event of an image it causes (import,
# tag, export) through `ctr-verify attest`: one statement per event about
# the manifest digest, with where the bytes came from or went and their
# digest, hashed while they were read or written. tests/provenance.bats
# tests the verbs themselves.

load helpers/common

setup() {
  setup_store
}

# The events about DIGEST, oldest first: "EVENT KEY=VALUE..." per line.
events() {
  ctr-verify provenance "$1" --format json | jq -r '.[] | .statement.predicate.buildDefinition |
    [(.buildType | capture("image-event/(?<e>[^/]+)/").e)] +
    (.externalParameters | to_entries | map("\(.key)=\(.value)")) | join(" ")'
}

# param DIGEST EVENT KEY: KEY of the last EVENT about DIGEST.
param() {
  ctr-verify provenance "$1" --format json | jq -r --arg e "$2" --arg k "$3" '
    [.[] | .statement.predicate.buildDefinition |
     select(.buildType | test("image-event/" + $e + "/")) | .externalParameters[$k]] | last // empty'
}

sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

attestations() { find "$CTR_ROOT/trust/attestations" -type f 2>/dev/null | LC_ALL=C sort; }

@test "import --from-host: the host program is the source, by its digest" {
  import_busybox
  d=$(index_digest busybox:latest)
  run events "$d"
  assert_success
  assert_output "import name=busybox:latest source=host:busybox source-digest=$(sha /bin/busybox)"
}

@test "import FILE: its absolute path and the digest of its bytes as read" {
  import_busybox
  ctr-image export -o "$BATS_TEST_TMPDIR/bb.tar" busybox
  rm -rf "$CTR_ROOT/images" "$CTR_ROOT/layers" "$CTR_ROOT/trust"
  cd "$BATS_TEST_TMPDIR"
  run ctr-image import --name again:1 bb.tar
  assert_success
  d=$(index_digest again:1)
  run events "$d"
  assert_output "import name=again:1 source=$BATS_TEST_TMPDIR/bb.tar source-digest=$(sha bb.tar)"
}

@test "import of a compressed archive, from stdin: the compressed bytes' digest" {
  import_busybox
  ctr-image export --format docker-archive busybox | gzip -c > "$BATS_TEST_TMPDIR/bb.tar.gz"
  # trailing bytes after the tar's end count too: the file's digest, as sha256sum says
  rm -rf "$CTR_ROOT"
  run ctr-image import --name piped:1 - < "$BATS_TEST_TMPDIR/bb.tar.gz"
  assert_success
  d=$(index_digest piped:1)
  [ "$(param "$d" import source)" = - ]
  [ "$(param "$d" import source-digest)" = "$(sha "$BATS_TEST_TMPDIR/bb.tar.gz")" ]
}

@test "import --rootfs: the tarball's digest, not the layer's" {
  mkdir -p "$BATS_TEST_TMPDIR/fs/etc"
  echo hi > "$BATS_TEST_TMPDIR/fs/etc/motd"
  tar -C "$BATS_TEST_TMPDIR/fs" --numeric-owner -czf "$BATS_TEST_TMPDIR/fs.tgz" .
  run ctr-image import --rootfs --name distro:1 "$BATS_TEST_TMPDIR/fs.tgz"
  assert_success
  d=$(index_digest distro:1)
  run events "$d"
  assert_output "import name=distro:1 source=$BATS_TEST_TMPDIR/fs.tgz source-digest=$(sha "$BATS_TEST_TMPDIR/fs.tgz")"
}

@test "import of a layout directory: its path and its index.json's digest" {
  import_busybox
  mkdir "$BATS_TEST_TMPDIR/layout"
  ctr-image export busybox | tar -C "$BATS_TEST_TMPDIR/layout" -xf -
  rm -rf "$CTR_ROOT"
  run ctr-image import --name fromdir:1 "$BATS_TEST_TMPDIR/layout"
  assert_success
  run events "$(index_digest fromdir:1)"
  assert_output "import name=fromdir:1 source=$BATS_TEST_TMPDIR/layout source-digest=$(sha "$BATS_TEST_TMPDIR/layout/index.json")"
}

@test "tag: the new name and the one it came from" {
  import_busybox
  d=$(index_digest busybox:latest)
  run ctr-image tag busybox mine:2
  assert_success
  run events "$d"
  assert_line --index 1 "tag name=mine:2 from=busybox:latest"
  # a tag by digest names the image's store name as its origin
  ctr-image tag "$d" mine:3
  [ "$(param "$d" tag from)" = busybox:latest ]
}

@test "export -o FILE: where it went and the digest of what was written" {
  import_busybox
  d=$(index_digest busybox:latest)
  cd "$BATS_TEST_TMPDIR"
  run ctr-image export -o out.tar busybox
  assert_success
  run events "$d"
  assert_line --index 1 "export name=busybox:latest destination=$BATS_TEST_TMPDIR/out.tar destination-digest=$(sha out.tar)"
}

@test "export to stdout: destination -, the digest of the bytes piped" {
  import_busybox
  d=$(index_digest busybox:latest)
  ctr-image export --format docker-archive busybox > "$BATS_TEST_TMPDIR/piped.tar"
  [ "$(param "$d" export destination)" = - ]
  [ "$(param "$d" export destination-digest)" = "$(sha "$BATS_TEST_TMPDIR/piped.tar")" ]
  # the recorder's output never mixes into the archive
  tar -tf "$BATS_TEST_TMPDIR/piped.tar" | grep -qx manifest.json
}

@test "round trip: the import's source-digest is the export's destination-digest" {
  import_busybox
  d=$(index_digest busybox:latest)
  ctr-image export -o "$BATS_TEST_TMPDIR/rt.tar" busybox
  ctr-image import --name rt:1 "$BATS_TEST_TMPDIR/rt.tar"
  [ "$(index_digest rt:1)" = "$d" ]
  [ "$(param "$d" export destination-digest)" = "$(param "$d" import source-digest)" ]
  run events "$d"
  [ "${#lines[@]}" = 3 ]
  [[ "${lines[0]}" == "import "*"source=host:busybox"* ]]
  [[ "${lines[1]}" == "export "* ]]
  [[ "${lines[2]}" == "import name=rt:1 "* ]]
}

@test "failed import, tag or export: no event recorded" {
  import_busybox
  before=$(attestations)
  printf 'not a tar' > "$BATS_TEST_TMPDIR/bad.tar"
  run ctr-image import "$BATS_TEST_TMPDIR/bad.tar"
  assert_failure
  run ctr-image tag nosuch new:1
  assert_failure
  run ctr-image tag busybox 'Bad Name'
  assert_failure
  run ctr-image export -o "$BATS_TEST_TMPDIR/x.tar" nosuch
  assert_failure
  run ctr-image export -o "$BATS_TEST_TMPDIR/nodir/x.tar" busybox
  assert_failure
  [ "$(attestations)" = "$before" ]
}

@test "an event that cannot be recorded is a warning; the import stands" {
  mkdir -p "$CTR_ROOT/trust"
  echo blocker > "$CTR_ROOT/trust/attestations" # a file where the directory goes
  run --separate-stderr ctr-image import --from-host busybox
  assert_success
  [ "$output" = "Loaded image: busybox:latest" ]
  d=$(index_digest busybox:latest)
  [ -n "$d" ]
  [[ "$stderr" == "ctr-image: warning: import $d: provenance not recorded: "* ]]
  [ "$(echo "$stderr" | wc -l)" = 1 ]
}

@test "import records one event per image of a multi-image archive" {
  import_busybox
  ctr-image import --rootfs --name second:1 - < <(tar -C "$TESTS_DIR" -cf - helpers/common.bash)
  ctr-image export -o "$BATS_TEST_TMPDIR/one.tar" busybox
  ctr-image export -o "$BATS_TEST_TMPDIR/two.tar" second:1
  rm -rf "$CTR_ROOT"
  ctr-image import "$BATS_TEST_TMPDIR/one.tar"
  ctr-image import "$BATS_TEST_TMPDIR/two.tar"
  [ "$(param "$(index_digest second:1)" import source-digest)" = "$(sha "$BATS_TEST_TMPDIR/two.tar")" ]
  [ "$(param "$(index_digest busybox:latest)" import source-digest)" = "$(sha "$BATS_TEST_TMPDIR/one.tar")" ]
}

@test "a re-import that changes nothing records nothing; one with a new name does" {
  import_busybox
  d=$(index_digest busybox:latest)
  before=$(attestations)
  run ctr-image import --from-host busybox
  assert_success
  [ "$(attestations)" = "$before" ]
  run ctr-image import --from-host busybox --name bb:2
  assert_success
  run events "$d"
  [ "${#lines[@]}" = 2 ]
  [[ "${lines[1]}" == "import name=bb:2 source=host:busybox "* ]]
}
