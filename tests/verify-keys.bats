#!/usr/bin/env bats
# ctr-verify key (import, ls, export, rm, gen) and sign: ctr's keyring in
# $CTR_ROOT/trust/gnupg, the host's key in trust/signing-key, simple
# signing signatures in trust/sigstore (the lookaside layout). Every bad
# input: one stderr line, exit 1 or 2, and the store byte-for-byte as it
# was (no keyring made, no signature file left).

load helpers/common
load helpers/gpg

bats_require_minimum_version 1.5.0

setup() {
  setup_store
  requires jq gpg
}

teardown() {
  gpg_kill_agents
}

# After `run --separate-stderr`: see assert_tool_error (helpers/common).
assert_error() { assert_tool_error ctr-verify "$@"; }

# The store as it is now; after a failure it must be the same. gpg's
# agent sockets come and go with the agent, so they are left out.
snapshot() {
  mkdir -p "$CTR_ROOT"
  store_listing | grep -v '/S\.gpg-agent'
}
remember() { BEFORE=$(snapshot); }
assert_unchanged() {
  diff <(echo "$BEFORE") <(snapshot) || fail "the store changed"
}

host_key() {
  run --separate-stderr ctr-verify key gen
  assert_success
  HOST_FPR=$output
}

# The payload of a signature, checked by gpg against KEYFILE.
payload_of() {
  local sig=$1 keyfile=$2 home="$BATS_TEST_TMPDIR/check-gnupg"
  mkdir -p -m 0700 "$home"
  gpg --homedir "$home" --batch --quiet --import "$keyfile" 2>/dev/null
  gpg --homedir "$home" --batch --quiet --decrypt "$sig" 2>/dev/null
}

@test "key ls: an empty store lists no keys and creates nothing" {
  run --separate-stderr ctr-verify key ls
  assert_success
  assert_output --regexp '^FINGERPRINT +TYPE +ALGO +CREATED +EXPIRES +STATUS +UID$'
  run ctr-verify key ls --format json
  assert_success
  assert_output '[]'
  [ ! -e "$CTR_ROOT/trust" ]
}

@test "key gen: a signing key without passphrase, the host's, in a 0700 keyring" {
  host_key
  [[ "$HOST_FPR" =~ ^[0-9A-F]{40}$ ]]
  [ "$(cat "$CTR_ROOT/trust/signing-key")" = "$HOST_FPR" ]
  [ "$(stat -c %a "$CTR_ROOT/trust/gnupg")" = 700 ]
  # gpg itself sees a secret ed25519 signing key
  run gpg --homedir "$CTR_ROOT/trust/gnupg" --batch --with-colons --list-secret-keys "$HOST_FPR"
  assert_success
  # sec, EdDSA (22) over 255 bits, no expiry, able to sign
  [ "$(awk -F: '$1 == "sec" { print $4 ":" $7 ":" ($12 ~ /s/) }' <<<"$output")" = "22::1" ]
  run ctr-verify key ls --format json
  assert_success
  [ "$(jq -r '.[0].fingerprint' <<<"$output")" = "$HOST_FPR" ]
  [ "$(jq -r '.[0].host_signing_key, .[0].secret, .[0].algorithm, .[0].expires' <<<"$output" | tr '\n' ' ')" = "true true ed25519 null " ]
  [[ "$(jq -r '.[0].uid' <<<"$output")" == "ctr on $(hostname)" ]]
  run ctr-verify key ls
  assert_line --regexp "^$HOST_FPR +sec\\* +ed25519 +[0-9-]{10} +never +valid +ctr on "
}

@test "key gen --uid --expire: the key says so; a second gen becomes the host's key" {
  host_key
  first=$HOST_FPR
  run --separate-stderr ctr-verify key gen --uid "build host <ops@example.com>" --expire 30
  assert_success
  second=$output
  [ "$second" != "$first" ]
  [ "$(cat "$CTR_ROOT/trust/signing-key")" = "$second" ]
  run ctr-verify key ls --format json
  k=$(jq -c --arg f "$second" '.[] | select(.fingerprint == $f)' <<<"$output")
  [ "$(jq -r .uid <<<"$k")" = "build host <ops@example.com>" ]
  exp=$(date -d "$(jq -r .expires <<<"$k")" +%s)
  want=$(($(date +%s) + 30 * 86400))
  [ $((exp - want)) -le 60 ] && [ $((want - exp)) -le 60 ]
  # the old key stays (what it signed still verifies), no longer the host's
  [ "$(jq -r --arg f "$first" '.[] | select(.fingerprint == $f) | .host_signing_key' <<<"$output")" = false ]
  run ctr-verify key ls -q
  assert_equal "${#lines[@]}" 2
}

@test "key gen: bad --expire and stray arguments are usage errors that change nothing" {
  remember
  for bad in 0 -1 abc 5x 36501 ""; do
    run --separate-stderr ctr-verify key gen --expire "$bad"
    assert_error 2 "--expire"
  done
  run --separate-stderr ctr-verify key gen extra
  assert_error 2 "no arguments"
  run --separate-stderr ctr-verify key gen --uid ""
  assert_error 2 "--uid"
  assert_unchanged
}

@test "key import FILE, stdin and armor: prints the fingerprints, the keys are listed" {
  alice=$(gpg_key alice)
  bob=$(gpg_key bob)
  carol=$(gpg_key carol)
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub"
  assert_success
  assert_output "$alice"
  run --separate-stderr ctr-verify key import - <"$BATS_TEST_TMPDIR/bob.pub"
  assert_success
  assert_output "$bob"
  gpg_as carol --armor --export >"$BATS_TEST_TMPDIR/carol.asc"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/carol.asc"
  assert_success
  assert_output "$carol"
  run ctr-verify key ls --format json
  [ "$(jq -r '.[].fingerprint' <<<"$output" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$alice" "$bob" "$carol" | sort | tr '\n' ' ')" ]
  [ "$(jq -r '[.[] | select(.secret)] | length' <<<"$output")" = 0 ]
  run ctr-verify key ls
  assert_line --regexp "^$alice +pub +ed25519 .* valid +alice <alice@ctr.test>$"
  # importing again is harmless: same fingerprint, still one key
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub"
  assert_success
  assert_output "$alice"
  run ctr-verify key ls -q
  assert_equal "${#lines[@]}" 3
}

@test "key import: a file of two keys prints both" {
  alice=$(gpg_key alice)
  bob=$(gpg_key bob)
  cat "$BATS_TEST_TMPDIR/alice.pub" "$BATS_TEST_TMPDIR/bob.pub" >"$BATS_TEST_TMPDIR/both.pub"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/both.pub"
  assert_success
  [ "$(sort <<<"$output" | tr '\n' ' ')" = "$(printf '%s\n' "$alice" "$bob" | sort | tr '\n' ' ')" ]
}

@test "key import: a revoked key is listed as revoked" {
  gpg_key rev >/dev/null
  gpg_revoke rev
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/rev.pub"
  assert_success
  run ctr-verify key ls --format json
  [ "$(jq -r '.[0].status' <<<"$output")" = revoked ]
}

@test "key import: garbage, empty, missing and truncated input change nothing" {
  gpg_key alice >/dev/null
  echo "not a key" >"$BATS_TEST_TMPDIR/garbage"
  : >"$BATS_TEST_TMPDIR/empty"
  head -c 40 "$BATS_TEST_TMPDIR/alice.pub" >"$BATS_TEST_TMPDIR/trunc.pub"
  remember
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/garbage"
  assert_error 1 "key import" "no OpenPGP keys"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/empty"
  assert_error 1 "empty"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/nonexistent"
  assert_error 1 "nonexistent" "no such file"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/trunc.pub"
  assert_error 1 "key import"
  run --separate-stderr ctr-verify key import
  assert_error 2 "one FILE"
  run --separate-stderr ctr-verify key import a b
  assert_error 2 "one FILE"
  [ ! -e "$CTR_ROOT/trust/gnupg" ]
  assert_unchanged
}

@test "key export: binary, --armor and -o FILE give the key gpg imports" {
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  home="$BATS_TEST_TMPDIR/fresh"
  mkdir -m 0700 "$home"
  ctr-verify key export "$alice" >"$BATS_TEST_TMPDIR/out.gpg"
  gpg --homedir "$home" --batch --quiet --import "$BATS_TEST_TMPDIR/out.gpg"
  run gpg --homedir "$home" --batch --with-colons --list-keys
  assert_line --regexp "^fpr:+$alice:$"
  run --separate-stderr ctr-verify key export -a "${alice: -16}"
  assert_success
  assert_line --index 0 -- "-----BEGIN PGP PUBLIC KEY BLOCK-----"
  run --separate-stderr ctr-verify key export --armor -o "$BATS_TEST_TMPDIR/out.asc" "$alice"
  assert_success
  assert_output ""
  run gpg --batch --with-colons --import-options show-only --import "$BATS_TEST_TMPDIR/out.asc"
  assert_line --regexp "^fpr:+$alice:$"
}

@test "key export never exports a secret key" {
  host_key
  ctr-verify key export "$HOST_FPR" >"$BATS_TEST_TMPDIR/host.gpg"
  run gpg --batch --list-packets "$BATS_TEST_TMPDIR/host.gpg"
  assert_output --partial ":public key packet:"
  refute_output --partial "secret key packet"
}

@test "key export: unknown, bad and ambiguous fingerprints; nothing written" {
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  remember
  run --separate-stderr ctr-verify key export -o "$BATS_TEST_TMPDIR/x" 0123456789ABCDEF0123456789ABCDEF01234567
  assert_error 1 "key export" "no key 0123456789ABCDEF0123456789ABCDEF01234567"
  [ ! -e "$BATS_TEST_TMPDIR/x" ]
  run --separate-stderr ctr-verify key export -o "$BATS_TEST_TMPDIR/x" "$alice" nothex
  assert_error 2 "nothex" "fingerprint"
  [ ! -e "$BATS_TEST_TMPDIR/x" ]
  run --separate-stderr ctr-verify key export "${alice:0:8}"
  assert_error 2 "fingerprint"
  run --separate-stderr ctr-verify key export
  assert_error 2 "fingerprint"
  assert_unchanged
}

@test "key rm: removes a public key; a key with a secret part needs --secret" {
  host_key
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  run --separate-stderr ctr-verify key rm "$alice"
  assert_success
  run ctr-verify key ls -q
  assert_output "$HOST_FPR"
  remember
  run --separate-stderr ctr-verify key rm "$HOST_FPR"
  assert_error 1 "secret" "--secret"
  assert_unchanged
  run --separate-stderr ctr-verify key rm --secret "$HOST_FPR"
  assert_success
  run ctr-verify key ls -q
  assert_output ""
  # the host has no signing key any more
  [ ! -e "$CTR_ROOT/trust/signing-key" ]
  run gpg --homedir "$CTR_ROOT/trust/gnupg" --batch --list-secret-keys
  assert_output ""
}

@test "key rm: all or nothing when one of several keys is unknown" {
  alice=$(gpg_key alice)
  bob=$(gpg_key bob)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  ctr-verify key import "$BATS_TEST_TMPDIR/bob.pub" >/dev/null
  remember
  run --separate-stderr ctr-verify key rm "$alice" 0123456789ABCDEF0123456789ABCDEF01234567 "$bob"
  assert_error 1 "key rm 0123456789ABCDEF0123456789ABCDEF01234567" "no key"
  run ctr-verify key ls -q
  assert_equal "${#lines[@]}" 2
  run --separate-stderr ctr-verify key rm
  assert_error 2 "fingerprint"
  run --separate-stderr ctr-verify key rm "../../etc"
  assert_error 2 "fingerprint"
  assert_unchanged
}

@test "key rm and export on a store without a keyring create nothing" {
  remember
  run --separate-stderr ctr-verify key rm 0123456789ABCDEF0123456789ABCDEF01234567
  assert_error 1 "no key"
  run --separate-stderr ctr-verify key export 0123456789ABCDEF0123456789ABCDEF01234567
  assert_error 1 "no key"
  [ ! -e "$CTR_ROOT/trust" ]
  assert_unchanged
}

@test "key: unknown sub-commands and options that belong to another are usage errors" {
  remember
  run --separate-stderr ctr-verify key
  assert_error 2 "import, ls"
  run --separate-stderr ctr-verify key frob
  assert_error 2 "frob"
  run --separate-stderr ctr-verify key ls --armor
  assert_error 2 "--armor"
  run --separate-stderr ctr-verify key import --uid x -
  assert_error 2 "--uid"
  run --separate-stderr ctr-verify key ls --bogus
  assert_error 2 "bogus"
  run --separate-stderr ctr-verify key ls --format yaml
  assert_error 2 "yaml"
  run --separate-stderr ctr-verify key ls extra
  assert_error 2 "no arguments"
  assert_unchanged
}

@test "sign: a simple signing signature in the lookaside layout, checked by gpg" {
  import_busybox
  host_key
  digest=$(index_digest busybox:latest)
  before=$(date +%s)
  run --separate-stderr ctr-verify sign busybox
  assert_success
  want="$CTR_ROOT/trust/sigstore/library/busybox@sha256=${digest#sha256:}/signature-1"
  assert_output "$want"
  [ -f "$want" ]
  ctr-verify key export "$HOST_FPR" >"$BATS_TEST_TMPDIR/host.pub"
  payload=$(payload_of "$want" "$BATS_TEST_TMPDIR/host.pub")
  [ "$(jq -r '.critical.type' <<<"$payload")" = "atomic container signature" ]
  [ "$(jq -r '.critical.identity["docker-reference"]' <<<"$payload")" = "docker.io/library/busybox:latest" ]
  [ "$(jq -r '.critical.image["docker-manifest-digest"]' <<<"$payload")" = "$digest" ]
  [ "$(jq -r '.optional.creator' <<<"$payload")" = "ctr-verify 0.1.0" ]
  ts=$(jq -r '.optional.timestamp' <<<"$payload")
  [ "$ts" -ge "$before" ] && [ "$ts" -le "$(date +%s)" ]
  # exactly critical and optional, nothing else (containers/image is strict)
  [ "$(jq -c 'keys' <<<"$payload")" = '["critical","optional"]' ]
  [ "$(jq -c '.critical | keys' <<<"$payload")" = '["identity","image","type"]' ]
  # an OpenPGP message (not detached), by the host's key
  run gpg --batch --list-packets "$want"
  assert_output --partial ":literal data packet:"
  assert_output --partial "$HOST_FPR"
}

@test "sign --identity and --key: the path is the repository without its host" {
  import_busybox
  host_key
  alice=$(gpg_key alice)
  gpg_as alice --export-secret-keys >"$BATS_TEST_TMPDIR/alice.sec"
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.sec" >/dev/null
  digest=$(index_digest busybox:latest)
  run --separate-stderr ctr-verify sign -k "$alice" --identity 127.0.0.1:5000/team/app:v2 busybox:latest
  assert_success
  assert_output "$CTR_ROOT/trust/sigstore/team/app@sha256=${digest#sha256:}/signature-1"
  payload=$(payload_of "$output" "$BATS_TEST_TMPDIR/alice.pub")
  [ "$(jq -r '.critical.identity["docker-reference"]' <<<"$payload")" = "127.0.0.1:5000/team/app:v2" ]
  run gpg --batch --list-packets "$CTR_ROOT/trust/sigstore/team/app@sha256=${digest#sha256:}/signature-1"
  assert_output --partial "$alice"
  # -q: nothing on stdout, the file is still written
  sleep 1
  run --separate-stderr ctr-verify sign -q busybox
  assert_success
  assert_output ""
  [ -f "$CTR_ROOT/trust/sigstore/library/busybox@sha256=${digest#sha256:}/signature-1" ]
}

@test "sign again: the next signature-N; the same bytes are not stored twice" {
  import_busybox
  host_key
  digest=$(index_digest busybox:latest)
  dir="$CTR_ROOT/trust/sigstore/library/busybox@sha256=${digest#sha256:}"
  ctr-verify sign busybox >/dev/null
  sleep 1
  run --separate-stderr ctr-verify sign busybox
  assert_success
  assert_output "$dir/signature-2"
  [ "$(ls "$dir")" = "$(printf 'signature-1\nsignature-2')" ]
  ! cmp -s "$dir/signature-1" "$dir/signature-2" || fail "the two signatures are the same bytes"
  # no temp files left behind
  [ -z "$(find "$CTR_ROOT/trust/sigstore" -name '.*')" ]
}

@test "sign: no key, a public-only key, unknown image, bad identity change nothing" {
  import_busybox
  remember
  run --separate-stderr ctr-verify sign busybox
  assert_error 1 "sign busybox" "no signing key" "key gen"
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  remember
  run --separate-stderr ctr-verify sign -k "$alice" busybox
  assert_error 1 "sign busybox" "no secret key $alice"
  run --separate-stderr ctr-verify sign -k nothex busybox
  assert_error 2 "nothex"
  run --separate-stderr ctr-verify sign -k "$alice" nosuchimage
  assert_error 1 "sign nosuchimage"
  run --separate-stderr ctr-verify sign -k "$alice" --identity "UPPER/Case:tag" busybox
  assert_error 2 "--identity"
  run --separate-stderr ctr-verify sign -k "$alice" --identity "a:b@sha256:1234" busybox
  assert_error 2 "--identity"
  run --separate-stderr ctr-verify sign
  assert_error 2 "one image"
  run --separate-stderr ctr-verify sign busybox busybox
  assert_error 2 "one image"
  [ ! -e "$CTR_ROOT/trust/sigstore" ]
  assert_unchanged
}

@test "sign: an expired or revoked host key does not sign" {
  import_busybox
  host_key
  old=$(gpg_key old 1d 20200101T000000)
  gpg_as old --export-secret-keys >"$BATS_TEST_TMPDIR/old.sec"
  ctr-verify key import "$BATS_TEST_TMPDIR/old.sec" >/dev/null
  remember
  run --separate-stderr ctr-verify sign -k "$old" busybox
  assert_error 1 "expired"
  assert_unchanged
}

@test "sign by digest names no repository: --identity is needed" {
  import_busybox
  host_key
  digest=$(index_digest busybox:latest)
  remember
  run --separate-stderr ctr-verify sign "$digest"
  assert_error 2 "--identity"
  assert_unchanged
  run --separate-stderr ctr-verify sign --identity example.com/x/y:1 "$digest"
  assert_success
  assert_output "$CTR_ROOT/trust/sigstore/x/y@sha256=${digest#sha256:}/signature-1"
}

@test "sign: concurrent signers get distinct signature-N, each complete" {
  import_busybox
  host_key
  alice=$(gpg_key alice)
  gpg_as alice --export-secret-keys >"$BATS_TEST_TMPDIR/alice.sec"
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.sec" >/dev/null
  digest=$(index_digest busybox:latest)
  dir="$CTR_ROOT/trust/sigstore/library/busybox@sha256=${digest#sha256:}"
  for i in 1 2 3; do
    ctr-verify sign -q busybox &
    ctr-verify sign -q -k "$alice" busybox &
  done
  wait
  # six signers, two keys, same second at most: 2 to 6 distinct files,
  # numbered without gaps, every one a valid signature by one of the keys
  n=$(ls "$dir" | wc -l)
  [ "$n" -ge 2 ] && [ "$n" -le 6 ]
  [ "$(ls "$dir" | sort -t- -k2n | tr '\n' ' ')" = "$(seq -f 'signature-%g' 1 "$n" | tr '\n' ' ')" ]
  ctr-verify key export "$HOST_FPR" "$alice" >"$BATS_TEST_TMPDIR/both.pub"
  for f in "$dir"/signature-*; do
    payload_of "$f" "$BATS_TEST_TMPDIR/both.pub" | jq -e --arg d "$digest" '.critical.image["docker-manifest-digest"] == $d' >/dev/null
  done
  # the agent of ctr's keyring was stopped by the last signer out
  sleep 1
  ! pgrep -f "gpg-agent --homedir $CTR_ROOT/trust/gnupg" >/dev/null
}

# ---- the copies policies name follow the keyring ----

# NAME's simple-signing signature of busybox:latest into $SIGS/signature-1.
sign_busybox_as() {
  SIGS=$BATS_TEST_TMPDIR/sigs
  mkdir -p "$SIGS"
  jq -cn --arg d "$(index_digest busybox:latest)" \
    '{critical: {identity: {"docker-reference": "docker.io/library/busybox:latest"},
      image: {"docker-manifest-digest": $d}, type: "atomic container signature"}, optional: {}}' |
    gpg_as "$1" --yes --sign --output "$SIGS/signature-1"
}

# The validity field of the primary key in a key file ("r": revoked).
key_file_validity() {
  local home=$BATS_TEST_TMPDIR/show-gnupg
  mkdir -p -m 0700 "$home"
  gpg --homedir "$home" --batch --show-keys --with-colons "$1" 2>/dev/null | awk -F: '$1 == "pub" { print $2; exit }'
}

@test "key import of a revocation certificate: exit 0, and the key a policy names is revoked at the next verify" {
  import_busybox
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  run ctr-verify policy set --signed-by "$alice"
  assert_success
  sign_busybox_as alice
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  # the certificate gpg made with the key, as a user would get it
  sed 's/^:-----/-----/' "$(gpg_home alice)/openpgp-revocs.d/$alice.rev" >"$BATS_TEST_TMPDIR/alice.rev"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice.rev"
  assert_success
  assert_output "$alice"
  run ctr-verify key ls --format json
  [ "$(jq -r '.[0].status' <<<"$output")" = revoked ]
  [ "$(key_file_validity "$CTR_ROOT/trust/keys/$alice.gpg")" = r ]
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: Invalid GPG signature by key $alice: the signing key has been revoked" ]
  # importing it again is harmless
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice.rev"
  assert_success
  assert_output "$alice"
}

@test "key import: a revocation certificate for a key not in the keyring changes nothing" {
  alice=$(gpg_key alice)
  bob=$(gpg_key bob)
  ctr-verify key import "$BATS_TEST_TMPDIR/bob.pub" >/dev/null
  sed 's/^:-----/-----/' "$(gpg_home alice)/openpgp-revocs.d/$alice.rev" >"$BATS_TEST_TMPDIR/alice.rev"
  remember
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice.rev"
  assert_error 1 "key import" "no usable OpenPGP keys"
  assert_unchanged
}

@test "key import: a new signing subkey of a known key reaches the policy's copy" {
  import_busybox
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  run ctr-verify policy set --signed-by "$alice"
  assert_success
  before=$(sha256sum <"$CTR_ROOT/trust/keys/$alice.gpg")
  gpg_as alice --quick-add-key "$alice" ed25519 sign never 2>/dev/null
  gpg_as alice --export >"$BATS_TEST_TMPDIR/alice2.pub"
  run --separate-stderr ctr-verify key import "$BATS_TEST_TMPDIR/alice2.pub"
  assert_success
  assert_output "$alice"
  [ "$(sha256sum <"$CTR_ROOT/trust/keys/$alice.gpg")" != "$before" ]
  [ "$(stat -c %a "$CTR_ROOT/trust/keys/$alice.gpg")" = 644 ]
  # gpg signs with the new subkey: only the refreshed copy knows it
  sign_busybox_as alice
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  assert_line --regexp "signature-1 by $alice"
}

@test "key rm refuses a key policy.json or provenance.json names, until the policy changes" {
  alice=$(gpg_key alice)
  ctr-verify key import "$BATS_TEST_TMPDIR/alice.pub" >/dev/null
  run ctr-verify policy set --scope docker.io/library/busybox --signed-by "$alice"
  assert_success
  remember
  run --separate-stderr ctr-verify key rm "$alice"
  assert_error 1 "key rm $alice" "$CTR_ROOT/trust/policy.json" "change the policy first"
  assert_unchanged
  run ctr-verify policy rm --scope docker.io/library/busybox
  assert_success
  run ctr-verify policy set --scope quay.io --require-origin pull:quay.io --origin-signed-by "$alice"
  assert_success
  remember
  run --separate-stderr ctr-verify key rm "$alice"
  assert_error 1 "key rm $alice" "$CTR_ROOT/trust/provenance.json" "change the policy first"
  assert_unchanged
  run ctr-verify policy rm --scope quay.io --origin
  assert_success
  run --separate-stderr ctr-verify key rm "$alice"
  assert_success
  run ctr-verify key ls -q
  assert_output ""
  # the copy stays: nothing names it, and removing it is not key rm's business
  [ -f "$CTR_ROOT/trust/keys/$alice.gpg" ]
}
