#!/usr/bin/env bats
# Bad input to ctr-image: every case gets one clear line on stderr
# ("ctr-image: …" naming what was wrong), a non-zero exit (1 failed,
# 2 bad usage), and leaves the store byte-for-byte as it was. Then hostile
# layers, and imports racing each other and prune.

load helpers/common

bats_require_minimum_version 1.5.0

setup_file() {
  # A 3-layer image whose layers the broken variants below share (a failed
  # import must not take them away); built once, imported by every test.
  export BASE="$BATS_FILE_TMPDIR/base"
  python3 "$BATS_TEST_DIRNAME/helpers/mkimage.py" --name base:1 "$BASE"
}

setup() {
  setup_store
  requires jq python3 zstd
  W="$BATS_TEST_TMPDIR/work"
  mkdir -p "$W"
  import_busybox
  run ctr-image import "$BASE"
  assert_success
  BEFORE=$(store_listing)
}

mkimage() {
  python3 "$TESTS_DIR/helpers/mkimage.py" "$@"
}

# mkbad KIND OUT [mkimage options]: a broken image named bad:1.
mkbad() {
  local kind=$1 out=$2
  shift 2
  mkimage --name bad:1 --break "$kind" "$@" "$out"
}

# After `run --separate-stderr`: see assert_tool_error (helpers/common).
assert_error() { assert_tool_error ctr-image "$@"; }

assert_store_unchanged() {
  diff <(echo "$BEFORE") <(store_listing) || fail "the store changed"
}

# import FILE must fail with one line holding WORDS; the store stays as it was.
import_fails() {
  local file=$1
  shift
  run --separate-stderr ctr-image import "$file"
  assert_error 1 "import" "$@"
  assert_store_unchanged
}

# ---- archives that are not whole -----------------------------------------

@test "a tar archive cut in the middle is refused" {
  mkimage --format oci-archive "$W/good.tar"
  head -c "$(($(stat -c %s "$W/good.tar") / 2))" "$W/good.tar" >"$W/cut.tar"
  import_fails "$W/cut.tar" "cut.tar" "truncated"
}

@test "a gzip-compressed archive cut in the middle is refused" {
  mkimage --format oci-archive "$W/good.tar"
  gzip -n -c "$W/good.tar" >"$W/good.tar.gz"
  head -c "$(($(stat -c %s "$W/good.tar.gz") / 2))" "$W/good.tar.gz" >"$W/cut.tar.gz"
  import_fails "$W/cut.tar.gz" "cut.tar.gz" "truncated gzip"
}

@test "a docker-archive cut in the middle is refused" {
  mkimage --format docker-archive "$W/good.tar"
  head -c "$(($(stat -c %s "$W/good.tar") * 3 / 4))" "$W/good.tar" >"$W/cut.tar"
  import_fails "$W/cut.tar" "truncated"
}

@test "a truncated archive on stdin is refused" {
  mkimage --format oci-archive "$W/good.tar"
  head -c "$(($(stat -c %s "$W/good.tar") / 2))" "$W/good.tar" >"$W/cut.tar"
  run --separate-stderr ctr-image import - <"$W/cut.tar"
  assert_error 1 "import -" "truncated"
  assert_store_unchanged
}

@test "a layer cut short (digest and size right) fails the whole import: gzip, zstd, plain" {
  local c
  for c in gzip zstd none; do
    mkbad layer-truncated "$W/lt-$c" --compression "$c" --salt new
    import_fails "$W/lt-$c" "layer"
  done
  mkbad layer-truncated "$W/lt-gzip.tar" --format docker-archive --salt new
  import_fails "$W/lt-gzip.tar" "layer" "truncated gzip"
}

@test "a bad layer is refused even when its diff_id is already unpacked in the store" {
  # Same config as base:1, but the top layer blob is cut short: the layer
  # dir for its chain id exists, yet the blob must still be checked, or a
  # corrupt blob enters the store (and every export of it is broken).
  local c
  for c in gzip zstd; do
    mkbad layer-truncated "$W/lt-$c" --compression "$c"
    import_fails "$W/lt-$c" "layer" "truncated"
  done
}

@test "a bad layer in the second image of an archive leaves the first out too" {
  mkimage --name good:1 --salt one "$W/two"
  mkbad layer-truncated "$W/bad" --salt two
  cp "$W"/bad/blobs/sha256/* "$W/two/blobs/sha256/"
  jq --slurpfile b "$W/bad/index.json" '.manifests += $b[0].manifests' \
    "$W/two/index.json" >"$W/index.json"
  mv "$W/index.json" "$W/two/index.json"
  import_fails "$W/two" "layer" "truncated gzip"
  run ctr-image inspect good:1
  assert_failure
}

# ---- blobs and descriptors that disagree ----------------------------------

@test "a blob whose bytes do not match its digest is refused" {
  mkbad blob-digest "$W/bad"
  import_fails "$W/bad" "digest mismatch"
  mkbad blob-digest "$W/bad.tar" --format oci-archive
  import_fails "$W/bad.tar" "digest mismatch"
}

@test "a descriptor with the wrong size is refused" {
  mkbad size "$W/bad"
  import_fails "$W/bad" "size" "descriptor"
}

@test "a blob the manifest names but the archive lacks is refused" {
  local hex
  mkbad missing-blob "$W/bad.tar" --format oci-archive
  hex=$(tar -xOf "$W/bad.tar" index.json | jq -r '.manifests[0].digest' | cut -c8-)
  hex=$(tar -xOf "$W/bad.tar" "blobs/sha256/$hex" | jq -r '.layers[-1].digest' | cut -c8-)
  import_fails "$W/bad.tar" "$hex"
  mkbad missing-blob "$W/bad-docker.tar" --format docker-archive
  import_fails "$W/bad-docker.tar" "no " "in the archive"
}

# ---- documents that are not what they claim --------------------------------

@test "malformed JSON in index.json is refused" {
  mkbad index-json "$W/bad"
  import_fails "$W/bad" "index.json" "invalid JSON"
}

@test "a malformed manifest is refused" {
  mkbad manifest-json "$W/bad"
  import_fails "$W/bad" "manifest" "invalid JSON"
}

@test "a malformed config is refused, in an OCI layout and a docker-archive" {
  mkbad config-json "$W/bad"
  import_fails "$W/bad" "config" "invalid JSON"
  mkbad config-json "$W/bad.tar" --format docker-archive
  import_fails "$W/bad.tar" "config" "invalid JSON"
}

@test "a manifest with an unknown layer media type is refused" {
  mkbad layer-mediatype "$W/bad"
  import_fails "$W/bad" "unknown layer media type" "application/vnd.example.layer.v1.tar+lz4"
}

@test "an unknown manifest media type is refused" {
  mkbad manifest-mediatype "$W/bad"
  import_fails "$W/bad" "media type" "application/vnd.example.manifest.v9+json"
}

@test "a config with fewer diff_ids than layers is refused" {
  mkbad diffid-count "$W/bad"
  import_fails "$W/bad" "2 diff_ids for 3 layers"
  mkbad diffid-count "$W/bad.tar" --format docker-archive
  import_fails "$W/bad.tar" "2 diff_ids for 3 layers"
}

@test "a layer whose content is not the config's diff_id is refused" {
  mkbad diffid-mismatch "$W/bad"
  import_fails "$W/bad" "diff_id mismatch"
  mkbad diffid-mismatch "$W/bad.tar" --format docker-archive
  import_fails "$W/bad.tar" "diff_id"
  mkbad diffid-mismatch "$W/bad-plain.tar" --format docker-archive --compression none
  import_fails "$W/bad-plain.tar" "diff_id"
}

# ---- things that are not image archives at all ------------------------------

@test "random bytes are not an archive" {
  head -c 65536 /dev/urandom >"$W/random.bin"
  import_fails "$W/random.bin" "random.bin" "archive"
}

@test "an empty file is not an archive" {
  : >"$W/empty"
  import_fails "$W/empty" "empty" "archive"
}

@test "a directory without oci-layout is not an image" {
  mkbad no-layout "$W/bad"
  import_fails "$W/bad" "not an image archive"
  mkdir "$W/nothing"
  import_fails "$W/nothing" "not an image archive"
}

@test "an oci-layout that is not JSON, or of an unknown version, is refused" {
  cp -a "$BASE" "$W/bad"
  echo '{"imageLayoutVersion":' >"$W/bad/oci-layout"
  import_fails "$W/bad" "oci-layout" "invalid JSON"
  echo '{"imageLayoutVersion":"9.0.0"}' >"$W/bad/oci-layout"
  import_fails "$W/bad" "oci-layout" "9.0.0"
}

@test "a file that does not exist" {
  import_fails "$W/no-such-file" "no-such-file" "No such file"
}

# ---- names -------------------------------------------------------------------

@test "--name with an archive holding two images is bad usage" {
  mkimage --images 2 --format oci-archive "$W/two.tar"
  run --separate-stderr ctr-image import --name one:1 "$W/two.tar"
  assert_error 2 "--name" "one image" "2"
  assert_store_unchanged
}

@test "importing a different image under a taken name needs -f" {
  mkimage --name base:1 --salt other "$W/other"
  import_fails "$W/other" "base:1" "already used" "--force"
  run --separate-stderr ctr-image import --name busybox "$W/other"
  assert_error 1 "busybox:latest" "already used"
  assert_store_unchanged
  mkimage --name base:1 --salt other --format docker-archive "$W/other.tar"
  import_fails "$W/other.tar" "base:1" "already used"
}

@test "tag onto a name that exists needs -f" {
  run --separate-stderr ctr-image tag base:1 busybox
  assert_error 1 "busybox:latest" "already used" "--force"
  run --separate-stderr ctr-image tag busybox base:1
  assert_error 1 "base:1" "already used"
  assert_store_unchanged
}

@test "rm, inspect, export, history, unpack of an unknown image" {
  local verb ref
  for verb in rm inspect export history unpack; do
    for ref in nosuch nosuch:1 example.com/a/b:c "sha256:$(printf '0%.0s' {1..64})"; do
      run --separate-stderr ctr-image "$verb" "$ref"
      assert_error 1 "no such image" "$ref"
    done
  done
  mkdir "$W/out"
  run --separate-stderr ctr-image export -o "$W/out/out.tar" nosuch
  assert_error 1 "no such image"
  [ -z "$(ls -A "$W/out")" ] || fail "export left files: $(ls -A "$W/out")"
  assert_store_unchanged
}

@test "an ambiguous id prefix is refused by every verb" {
  # Import small images until two of them share the first hex digit of a
  # manifest or config digest (17 make it certain; a few usually do).
  local i d prefix=
  for i in $(seq 1 17); do
    mkimage --layers 1 --compression none --salt "amb$i" --name "amb:$i" "$W/amb$i"
    ctr-image import -q "$W/amb$i" >/dev/null
    prefix=$(for d in $(jq -r '.manifests[].digest' "$CTR_ROOT/images/index.json"); do
      echo "${d:7:1} $d"
      echo "$(blob "$d" | jq -r .config.digest | cut -c8) $d"
    done | sort -u | cut -d' ' -f1 | uniq -d | head -n 1)
    [ -z "$prefix" ] || break
  done
  [ -n "$prefix" ]
  BEFORE=$(store_listing)
  local verb
  for verb in rm inspect export history unpack; do
    run --separate-stderr ctr-image "$verb" "$prefix"
    assert_error 1 "$prefix" "ambiguous"
  done
  run --separate-stderr ctr-image tag "$prefix" new:1
  assert_error 1 "ambiguous"
  assert_store_unchanged
}

@test "invalid references are bad usage" {
  local ref
  for ref in UPPER a:b:c @sha256:xyz "with space" "name:bad tag" ""; do
    run --separate-stderr ctr-image inspect "$ref"
    assert_error 2
    [[ "$stderr" == *"invalid reference"* || "$stderr" == *"empty image reference"* ]] ||
      fail "unclear: $stderr"
    run --separate-stderr ctr-image tag busybox "$ref"
    assert_error 2 "reference"
    run --separate-stderr ctr-image import --name "$ref" "$BASE"
    assert_error 2 "reference"
  done
  run --separate-stderr ctr-image tag busybox 'repo@sha256:0000000000000000000000000000000000000000000000000000000000000000'
  assert_error 2 "tag"
  assert_store_unchanged
}

@test "an unknown command is bad usage" {
  run --separate-stderr ctr-image frobnicate
  assert_error 2 "frobnicate"
  assert_store_unchanged
}

@test "an unknown flag is bad usage, before or after the command" {
  run --separate-stderr ctr-image ls --frob
  assert_error 2 "--frob"
  run --separate-stderr ctr-image --frob ls
  assert_error 2 "--frob"
  run --separate-stderr ctr-image import --frob "$BASE"
  assert_error 2 "--frob"
  run --separate-stderr ctr-image export --format zip busybox
  assert_error 2 "zip"
  run --separate-stderr ctr-image import
  assert_error 2 "import"
  assert_store_unchanged
}

# ---- hostile layers ----------------------------------------------------------

# hostile KIND ENTRY: a layer from mktar.py aimed at $OUTSIDE, wrapped as an
# OCI layout and as a docker-archive. Both are refused naming ENTRY, nothing
# appears outside, and the store is as it was.
hostile() {
  local kind=$1 entry=$2 f
  OUTSIDE="$BATS_TEST_TMPDIR/outside"
  mkdir -p "$OUTSIDE" "$W/cwd"
  echo "outside" >"$OUTSIDE/passwd"
  python3 "$TESTS_DIR/helpers/mktar.py" "$kind" "$W/$kind.tar" "$OUTSIDE"
  mkimage --name evil:1 --compression none --layer-tar "$W/$kind.tar" "$W/evil"
  mkimage --name evil:1 --format docker-archive --layer-tar "$W/$kind.tar" "$W/evil.tar"
  local passwd_links
  passwd_links=$(stat -c %h /etc/passwd)
  for f in "$W/evil" "$W/evil.tar"; do
    cd "$W/cwd"
    run --separate-stderr ctr-image import "$f"
    cd - >/dev/null
    assert_error 1 "layer" "$entry"
    assert_store_unchanged
    [ "$(ls -A "$OUTSIDE")" = passwd ] || fail "written outside: $(ls -A "$OUTSIDE")"
    [ "$(stat -c %h "$OUTSIDE/passwd")" -eq 1 ] || fail "a hardlink to $OUTSIDE/passwd"
    [ "$(cat "$OUTSIDE/passwd")" = outside ]
    [ -z "$(ls -A "$W/cwd")" ] || fail "written in the working directory"
    [ -z "$(find "$BATS_TEST_TMPDIR" -name 'ctr-evil*')" ] ||
      fail "escaped: $(find "$BATS_TEST_TMPDIR" -name 'ctr-evil*')"
    [ ! -e /tmp/ctr-evil ] && [ ! -e /ctr-evil ]
    [ "$(stat -c %h /etc/passwd)" -eq "$passwd_links" ]
  done
}

@test "hostile layer: ../ in an entry name" {
  hostile dotdot "../ctr-evil"
}

@test "hostile layer: a file written through a symlink to outside" {
  hostile symlink-escape "lnk/ctr-evil"
}

@test "hostile layer: a file written through a symlink climbing with ../" {
  hostile symlink-dotdot "lnk/ctr-evil"
}

@test "hostile layer: a hardlink to a file outside the layer" {
  hostile hardlink-escape "pw"
}

@test "hostile layer: a hardlink through a symlink to outside" {
  hostile hardlink-via-symlink "pw"
}

@test "an absolute entry name lands inside the layer, not at that path" {
  OUTSIDE="$BATS_TEST_TMPDIR/outside"
  mkdir -p "$OUTSIDE"
  python3 "$TESTS_DIR/helpers/mktar.py" absolute "$W/abs.tar" "$OUTSIDE"
  mkimage --name abs:1 --compression none --layer-tar "$W/abs.tar" "$W/abs"
  run ctr-image import "$W/abs"
  assert_success
  [ -z "$(ls -A "$OUTSIDE")" ]
  run ctr-image unpack abs:1
  assert_success
  [ "$(cat "$output/${OUTSIDE#/}/ctr-evil-abs")" = inside ]
}

# ---- concurrency -----------------------------------------------------------

# Every blob index.json reaches exists and hashes to its name, every
# image's layers are unpacked (layers/<chain id>), and no temp file is left.
assert_store_consistent() {
  local m l chain
  for m in $(jq -r '.manifests[].digest' "$CTR_ROOT/images/index.json"); do
    for l in "$m" $(blob "$m" | jq -r '.config.digest, .layers[].digest'); do
      [ "$(sha256sum <"$CTR_ROOT/images/blobs/sha256/${l#sha256:}" | cut -d' ' -f1)" = "${l#sha256:}" ] ||
        fail "blob $l is missing or wrong"
    done
    chain=
    for l in $(blob "$(blob "$m" | jq -r .config.digest)" | jq -r '.rootfs.diff_ids[]'); do
      if [ -z "$chain" ]; then
        chain=$l
      else
        chain="sha256:$(printf '%s %s' "$chain" "$l" | sha256sum | cut -d' ' -f1)"
      fi
      [ -d "$CTR_ROOT/layers/${chain#sha256:}" ] || fail "image $m: no layer dir for chain $chain"
    done
  done
  [ -z "$(find "$CTR_ROOT" -name '.tmp*' -o -name '*.tmp.*')" ] ||
    fail "temp files left: $(find "$CTR_ROOT" -name '.tmp*' -o -name '*.tmp.*')"
}

@test "two imports and a prune at once: all succeed, both images whole" {
  mkimage --format oci-archive --salt a --bulk 4096 --name conc-a:1 "$W/a.tar"
  mkimage --format docker-archive --salt b --bulk 4096 --name conc-b:1 "$W/b.tar"
  # A nameless image sharing layers with both gives prune work to do.
  mkimage --salt junk --name "" "$W/junk"
  local i p1 p2 p3
  for i in 1 2 3 4 5; do
    ctr-image rm conc-a:1 conc-b:1 >/dev/null 2>&1 || true
    ctr-image import -q "$W/junk" >/dev/null
    ctr-image import "$W/a.tar" >"$W/out-a" 2>&1 &
    p1=$!
    ctr-image import "$W/b.tar" >"$W/out-b" 2>&1 &
    p2=$!
    ctr-image prune >"$W/out-p" 2>&1 &
    p3=$!
    wait "$p1" || fail "import a failed (round $i): $(cat "$W/out-a")"
    wait "$p2" || fail "import b failed (round $i): $(cat "$W/out-b")"
    wait "$p3" || fail "prune failed (round $i): $(cat "$W/out-p")"
    run ctr-image ls --format json
    assert_success
    [ "$(jq -r '[.[].Name | select(. != null)] | sort | join(" ")' <<<"$output")" = \
      "base:1 busybox:latest conc-a:1 conc-b:1" ]
    run ctr-image unpack conc-a:1
    assert_success
    [ -f "${lines[0]}/bulk" ]
    run ctr-image unpack conc-b:1
    assert_success
    [ -f "${lines[0]}/bulk" ]
    assert_store_consistent
  done
}

@test "four imports of busybox from the host at once make one entry" {
  rm -rf "$CTR_ROOT"
  local i pids=()
  for i in 1 2 3 4; do
    ctr-image import --from-host busybox >"$W/out-$i" 2>&1 &
    pids+=($!)
  done
  for i in 0 1 2 3; do
    wait "${pids[$i]}" || fail "import $i failed: $(cat "$W/out-$((i + 1))")"
  done
  [ "$(jq '.manifests | length' "$CTR_ROOT/images/index.json")" -eq 1 ]
  [ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$CTR_ROOT/images/index.json")" = busybox:latest ]
  [ "$(find "$CTR_ROOT/images/blobs/sha256" -type f | wc -l)" -eq 3 ]
  [ "$(find "$CTR_ROOT/layers" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ]
  assert_store_consistent
  run ctr-image unpack busybox
  assert_success
  [ -x "$output/bin/busybox" ]
}
