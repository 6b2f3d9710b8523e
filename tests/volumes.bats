#!/usr/bin/env bats
# Volumes: named (-v NAME:/path), anonymous (-v /path, and the image's
# VOLUMEs), filled from the image when new, removed with ctr-rm -v or --rm
# when anonymous, as docker does.

load helpers/common

setup_file() {
  setup_probe_store
  # probe with two VOLUMEs: /home (in the image: app/, owned 1000:1000)
  # and /data (not in the image)
  ctr-image export -o "$BATS_FILE_TMPDIR/probe.tar" probe
  python3 "$TESTS_DIR/helpers/set-config.py" "$BATS_FILE_TMPDIR/probe.tar" \
    "$BATS_FILE_TMPDIR/vol.tar" '{"Volumes":{"/home":{},"/data":{}}}'
  ctr-image import -q --name vol "$BATS_FILE_TMPDIR/vol.tar" >/dev/null
}

setup() {
  use_file_store
}

teardown() {
  remove_containers
  rm -rf "$CTR_ROOT/volumes"
}

anon() { # the anonymous volumes of container $1, one per line
  jq -r '.anonymous_volumes[]' "$CTR_ROOT/containers/$1/state.json"
}

source_of() { # the host directory bound at $2 in container $1
  jq -r --arg d "$2" '.mounts[] | select(.destination == $d) | .source' \
    "$CTR_ROOT/containers/$1/config.json"
}

@test "the image's VOLUMEs become anonymous volumes, filled with the image's files" {
  run ctr-run create vol /probe pause
  assert_success
  id=$output
  [ "$(anon "$id" | wc -l)" -eq 2 ]
  home=$(source_of "$id" /home)
  data=$(source_of "$id" /data)
  # named by 64 hex digits, under volumes/, and listed in state.json
  [[ "$home" =~ ^$CTR_ROOT/volumes/[0-9a-f]{64}/_data$ ]]
  [[ "$data" =~ ^$CTR_ROOT/volumes/[0-9a-f]{64}/_data$ ]]
  anon "$id" | grep -qx "$(basename "$(dirname "$home")")"
  # /home had app/ (1000:1000, 0755) in the image: copied with its owner
  [ "$(stat -c '%u:%g %a' "$home/app")" = "1000:1000 755" ]
  # /data was not in the image: an empty directory
  [ -z "$(ls -A "$data")" ]
}

@test "what the container writes in a volume is in the volume, and stays over a restart" {
  id=$(ctr-run -d vol sh -c 'echo kept > /data/f; sleep 100')
  data=$(source_of "$id" /data)
  for _ in $(seq 50); do [ -s "$data/f" ] && break; sleep 0.1; done
  [ "$(cat "$data/f")" = kept ]
  ctr-stop -t 1 "$id"
  # the writable layer has none of it: it went to the volume
  [ ! -e "$CTR_ROOT/containers/$id/upper/data/f" ]
  run ctr-run start -a "$id"
  assert_success
  [ "$(source_of "$id" /data)" = "$data" ]
  [ "$(cat "$data/f")" = kept ]
}

@test "-v /path makes an anonymous volume; -v NAME: and --tmpfs over a VOLUME take its place" {
  run ctr-run create -v /cache -v named:/data --tmpfs /home vol /probe pause
  assert_success
  id=$output
  # /cache only: /data is the named volume, /home a tmpfs
  [ "$(anon "$id" | wc -l)" -eq 1 ]
  [ "$(source_of "$id" /cache)" = "$CTR_ROOT/volumes/$(anon "$id")/_data" ]
  [ "$(source_of "$id" /data)" = "$CTR_ROOT/volumes/named/_data" ]
  run jq -r '.mounts[] | select(.destination == "/home") | .type' "$CTR_ROOT/containers/$id/config.json"
  assert_output tmpfs
}

@test "a new named volume gets the image's files; one that exists keeps its own" {
  run ctr-run --rm -v fresh:/home vol ls /home
  assert_success
  assert_output app
  mkdir -p "$CTR_ROOT/volumes/mine/_data"
  echo own > "$CTR_ROOT/volumes/mine/_data/file"
  run ctr-run --rm -v mine:/home vol ls /home
  assert_success
  assert_output file
}

@test "--rm takes the anonymous volumes along, in the foreground and with -d; named ones stay" {
  run ctr-run --rm -v keepme:/data vol sh -c 'ls -d /home/app'
  assert_success
  run ls "$CTR_ROOT/volumes"
  assert_output keepme
  run ctr-run -d --rm vol sleep 0.2
  assert_success
  for _ in $(seq 100); do [ ! -e "$CTR_ROOT/containers/$output" ] && break; sleep 0.1; done
  run ls "$CTR_ROOT/volumes"
  assert_output keepme
}

@test "ctr-rm without -v keeps anonymous volumes; with -v removes them" {
  run ctr-run create vol true
  id=$output
  mapfile -t vols < <(anon "$id")
  run ctr-rm "$id"
  assert_success
  for v in "${vols[@]}"; do [ -d "$CTR_ROOT/volumes/$v/_data" ]; done
  run ctr-run create vol true
  id=$output
  mapfile -t vols < <(anon "$id")
  run ctr-rm -v "$id"
  assert_success
  for v in "${vols[@]}"; do [ ! -e "$CTR_ROOT/volumes/$v" ]; done
}

@test "bad -v: one line, exit 125, and no volume or container made" {
  before=$(store_listing)
  run ctr-run -v / vol true
  [ "$status" -eq 125 ]
  assert_output "ctr-run: -v /: cannot mount over the container's root"
  run ctr-run -v 'bad name:/x' vol true
  [ "$status" -eq 125 ]
  assert_output --partial "invalid volume name"
  run ctr-run -u nosuchuser vol true
  [ "$status" -eq 125 ]
  [ "$(store_listing)" = "$before" ]
}
