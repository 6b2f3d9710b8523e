#!/usr/bin/env bats
# ctr-verify verify and policy: containers-policy.json judged as
# containers/image judges it (scopes, requirements, signedIdentity), with
# its reasons; strict parsing (a malformed policy is an error, never
# "accept"); policy set/rm/import/show edit the file atomically and leave
# it untouched on bad input; accepted verdicts are cached, rejections not.

load helpers/common
load helpers/gpg

setup_file() {
  export GPG_KEYS=$BATS_FILE_TMPDIR
  gpg_key alice >"$BATS_FILE_TMPDIR/alice.fpr"
  gpg_key bob >"$BATS_FILE_TMPDIR/bob.fpr"
}

teardown_file() {
  GPG_KEYS=$BATS_FILE_TMPDIR gpg_kill_agents
}

setup() {
  export GPG_KEYS=$BATS_FILE_TMPDIR
  setup_store
  import_busybox
  D=$(index_digest busybox:latest)
  ALICE=$(cat "$BATS_FILE_TMPDIR/alice.fpr")
  BOB=$(cat "$BATS_FILE_TMPDIR/bob.fpr")
  SIGS=$BATS_TEST_TMPDIR/sigs
  mkdir -p "$SIGS" "$CTR_ROOT/trust"
}

teardown() {
  gpg_kill_agents
}

# A simple-signing payload, signed by NAME's key as an OpenPGP message,
# written as signature-N in $SIGS: sign_as NAME IDENTITY DIGEST N
sign_as() {
  jq -cn --arg r "$2" --arg d "$3" \
    '{critical: {identity: {"docker-reference": $r}, image: {"docker-manifest-digest": $d},
      type: "atomic container signature"}, optional: {creator: "verify-policy.bats"}}' |
    gpg_as "$1" --yes --sign --output "$SIGS/signature-$4"
}

# policy DEFAULT-JSON [DOCKER-SCOPES-JSON]
policy() {
  jq -n --argjson d "$1" --argjson s "${2:-{\}}" '{default: $d, transports: {docker: $s}}' \
    >"$CTR_ROOT/trust/policy.json"
}
signed_by() { # KEYFILE [IDENTITY-JSON]
  local req
  req=$(jq -n --arg k "$1" --argjson i "${2:-null}" \
    '{type: "signedBy", keyType: "GPGKeys", keyPath: $k} + (if $i then {signedIdentity: $i} else {} end)')
  policy "[$req]"
}

trust_listing() { store_listing "$CTR_ROOT/trust"; }

# ---- no policy, accept, reject ----

@test "verify without a policy: nothing is enforced, exit 0" {
  run ctr-verify verify busybox
  assert_success
  assert_output --partial "nothing is enforced"
  assert_line accepted
  [ ! -e "$CTR_ROOT/trust/policy.json" ]
}

@test "insecureAcceptAnything: accepted, the table says which requirement passed" {
  policy '[{"type":"insecureAcceptAnything"}]'
  run ctr-verify verify busybox
  assert_success
  assert_line --regexp '^PASS +insecureAcceptAnything +any image is accepted$'
  assert_line accepted
}

@test "reject: exit 1 and skopeo's reason on one stderr line; store unchanged" {
  policy '[{"type":"reject"}]'
  before=$(store_listing)
  run --separate-stderr ctr-verify verify busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: Running image docker://busybox:latest is rejected by policy." ]
  assert_line --regexp '^FAIL +reject '
  assert_line rejected
  [ "$(store_listing)" = "$before" ]
}

@test "verify -q: silent when accepted; rejected prints only the stderr line" {
  policy '[{"type":"insecureAcceptAnything"}]'
  run --separate-stderr ctr-verify verify -q busybox
  assert_success
  [ -z "$output" ] && [ -z "$stderr" ]
  policy '[{"type":"reject"}]'
  run --separate-stderr ctr-verify verify -q busybox
  assert_failure 1
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
}

@test "verify --format json: the report as one JSON document" {
  policy '[{"type":"reject"}]'
  run --separate-stderr ctr-verify verify --format json busybox
  assert_failure 1
  [ "$(jq -r .accepted <<<"$output")" = false ]
  [ "$(jq -r .reference <<<"$output")" = docker.io/library/busybox:latest ]
  [ "$(jq -r .digest <<<"$output")" = "$D" ]
  [ "$(jq -r .scope <<<"$output")" = default ]
  [ "$(jq -r '.checks[0].requirement' <<<"$output")" = reject ]
}

# ---- signedBy ----

@test "signedBy: a good signature is accepted, naming the key" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  assert_line --regexp "^PASS +signedBy +signature-1 by $ALICE \(alice <alice@ctr.test>\) for docker.io/library/busybox:latest$"
}

@test "signedBy: no signature at all" {
  signed_by "$GPG_KEYS/alice.pub"
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: A signature was required, but no signature exists" ]
}

@test "signedBy: a signature by a key the policy does not name" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as bob docker.io/library/busybox:latest "$D" 1
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [[ "$stderr" == "ctr-verify: verify busybox: Invalid GPG signature"* ]]
}

@test "signedBy: a signature for another digest" {
  signed_by "$GPG_KEYS/alice.pub"
  other=sha256:$(printf 'a%.0s' {1..64})
  sign_as alice docker.io/library/busybox:latest "$other" 1
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: Signature for digest $other does not match" ]
}

@test "signedBy: a signature for another identity" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/alpine:latest "$D" 1
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: Signature for identity docker.io/library/alpine:latest is not accepted" ]
}

@test "signedBy: a corrupted signature file" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  printf 'garbage' | dd of="$SIGS/signature-1" bs=1 seek=20 conv=notrunc 2>/dev/null
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  # containers/image's words for an unreadable OpenPGP message
  [[ "$stderr" == "ctr-verify: verify busybox: Invalid GPG signature"* ||
    "$stderr" == "ctr-verify: verify busybox: Unexpected GPG signature count 0" ]]
}

@test "signedBy: an expired key is refused" {
  gpg_key old 1d 20200101T000000 >/dev/null
  jq -cn --arg d "$D" '{critical: {identity: {"docker-reference": "docker.io/library/busybox:latest"},
      image: {"docker-manifest-digest": $d}, type: "atomic container signature"}, optional: {}}' |
    gpg_as old --faked-system-time 20200101T010000 --sign --output "$SIGS/signature-1" 2>/dev/null
  signed_by "$GPG_KEYS/old.pub"
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [[ "$stderr" == "ctr-verify: verify busybox: Invalid GPG signature"*expired* ]]
}

@test "signedBy: a revoked key is refused" {
  GPG_KEYS=$BATS_TEST_TMPDIR
  gpg_key carol >/dev/null
  sign_as carol docker.io/library/busybox:latest "$D" 1
  gpg_revoke carol
  signed_by "$GPG_KEYS/carol.pub"
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [[ "$stderr" == "ctr-verify: verify busybox: Invalid GPG signature"*revoked* ]]
}

@test "signedBy: several bad signatures give every reason" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/alpine:latest "$D" 1
  sign_as alice docker.io/library/busybox:latest sha256:$(printf 'b%.0s' {1..64}) 2
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ "$stderr" = "ctr-verify: verify busybox: None of the signatures were accepted, reasons: Signature for identity docker.io/library/alpine:latest is not accepted; Signature for digest sha256:$(printf 'b%.0s' {1..64}) does not match" ]
}

@test "signedBy: one good signature among bad ones is enough" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as bob docker.io/library/busybox:latest "$D" 1
  sign_as alice docker.io/library/busybox:latest "$D" 2
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  assert_line --regexp "signature-2 by $ALICE"
}

@test "signedBy: keyPaths accepts any of the keys, keyData an inline key" {
  policy "$(jq -n --arg a "$GPG_KEYS/alice.pub" --arg b "$GPG_KEYS/bob.pub" \
    '[{type: "signedBy", keyType: "GPGKeys", keyPaths: [$a, $b]}]')"
  sign_as bob docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  policy "$(jq -n --arg k "$(base64 -w0 "$GPG_KEYS/bob.pub")" \
    '[{type: "signedBy", keyType: "GPGKeys", keyData: $k}]')"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
}

@test "signedBy: a keyPath that cannot be read rejects" {
  signed_by "$BATS_TEST_TMPDIR/missing.gpg"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [[ "$stderr" == *"missing.gpg"* ]]
}

@test "signedBy: a relative keyPath is read from the trust directory" {
  mkdir -p "$CTR_ROOT/trust/keys"
  cp "$GPG_KEYS/alice.pub" "$CTR_ROOT/trust/keys/alice.gpg"
  signed_by keys/alice.gpg
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
}

# ---- signedIdentity ----

@test "signedIdentity matchRepoDigestOrExact (default) wants the tag, matchRepository does not" {
  sign_as alice docker.io/library/busybox:1.36 "$D" 1
  signed_by "$GPG_KEYS/alice.pub"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  signed_by "$GPG_KEYS/alice.pub" '{"type":"matchRepository"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
}

@test "signedIdentity matchRepoDigestOrExact: a reference by digest needs only the repository" {
  sign_as alice docker.io/library/busybox:1.36 "$D" 1
  signed_by "$GPG_KEYS/alice.pub"
  run ctr-verify verify --signatures "$SIGS" --digest "$D" "busybox@$D"
  assert_success
  signed_by "$GPG_KEYS/alice.pub" '{"type":"matchExact"}'
  run ctr-verify verify --signatures "$SIGS" --digest "$D" "busybox@$D"
  assert_failure 1
}

@test "signedIdentity exactReference and exactRepository" {
  sign_as alice quay.io/ns/signed:v1 "$D" 1
  signed_by "$GPG_KEYS/alice.pub" '{"type":"exactReference","dockerReference":"quay.io/ns/signed:v1"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  signed_by "$GPG_KEYS/alice.pub" '{"type":"exactReference","dockerReference":"quay.io/ns/signed:v2"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  signed_by "$GPG_KEYS/alice.pub" '{"type":"exactRepository","dockerRepository":"quay.io/ns/signed"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
}

@test "signedIdentity remapIdentity: a mirror's image signed under the upstream name" {
  sign_as alice quay.io/upstream/busybox:latest "$D" 1
  signed_by "$GPG_KEYS/alice.pub" '{"type":"remapIdentity","prefix":"docker.io/library","signedPrefix":"quay.io/upstream"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  signed_by "$GPG_KEYS/alice.pub" '{"type":"remapIdentity","prefix":"docker.io/other","signedPrefix":"quay.io/upstream"}'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
}

# ---- scopes ----

@test "scopes: the most specific one applies" {
  policy '[{"type":"reject"}]' '{"docker.io": [{"type":"reject"}],
    "docker.io/library/busybox": [{"type":"insecureAcceptAnything"}],
    "docker.io/library": [{"type":"reject"}]}'
  run ctr-verify verify --format json busybox
  assert_success
  [ "$(jq -r .scope <<<"$output")" = docker.io/library/busybox ]
  policy '[{"type":"insecureAcceptAnything"}]' '{"docker.io/library/busybox": [{"type":"insecureAcceptAnything"}],
    "docker.io/library/busybox:latest": [{"type":"reject"}]}'
  run --separate-stderr ctr-verify verify --format json busybox
  assert_failure 1
  [ "$(jq -r .scope <<<"$output")" = docker.io/library/busybox:latest ]
}

@test "scopes: parent namespaces, the host, *.domain, the transport's \"\", then default" {
  ctr-image tag busybox registry.example.com:5000/team/app:1
  want() { # SCOPES-JSON SCOPE
    policy '[{"type":"reject"}]' "$1"
    run ctr-verify verify --format json registry.example.com:5000/team/app:1
    assert_success
    [ "$(jq -r .scope <<<"$output")" = "$2" ]
  }
  acc='[{"type":"insecureAcceptAnything"}]'
  want "{\"registry.example.com:5000/team\": $acc, \"registry.example.com:5000\": [{\"type\":\"reject\"}]}" registry.example.com:5000/team
  want "{\"registry.example.com:5000\": $acc, \"*.example.com\": [{\"type\":\"reject\"}]}" registry.example.com:5000
  want "{\"*.example.com\": $acc, \"*.com\": [{\"type\":\"reject\"}]}" '*.example.com'
  want "{\"*.com\": $acc, \"\": [{\"type\":\"reject\"}]}" '*.com'
  want "{\"\": $acc}" docker
}

# ---- malformed policies ----

@test "malformed policies are errors, never accepted" {
  sign_as alice docker.io/library/busybox:latest "$D" 1
  k=$GPG_KEYS/alice.pub
  while IFS='|' read -r json want; do
    printf '%s' "$json" >"$CTR_ROOT/trust/policy.json"
    run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
    [ "$status" -eq 1 ] || { echo "accepted: $json"; false; }
    [[ "$stderr" == "ctr-verify: verify busybox: invalid policy in \"$CTR_ROOT/trust/policy.json\": "*"$want"* ]] ||
      { echo "for $json: $stderr (want $want)"; false; }
  done <<EOF
{|near end of file
not json|'[' or '{' expected
{}|Default policy is missing
{"default": []}|List of verification policy requirements must not be empty
{"default": null}|List of verification policy requirements must not be empty
{"default": [{"type":"insecureAcceptAnything"}], "extra": 1}|Unknown key "extra"
{"default": [{"type":"insecureAcceptAnything","x":1}]}|Unknown key "x"
{"default": [{"type":"accept"}]}|Unknown policy requirement type "accept"
{"default": [{}]}|Unknown policy requirement type ""
{"default": [{"type":"signedBy","keyType":"GPGKeys"}]}|none of them present
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"$k","keyData":"AA=="}]}|more than one present
{"default": [{"type":"signedBy","keyType":"PGP","keyPath":"$k"}]}|Unrecognized keyType value "PGP"
{"default": [{"type":"signedBy","keyPath":"$k"}]}|invalid keyType ""
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"$k","signedIdentity":{"type":"matchFoo"}}]}|Unknown policy reference match type "matchFoo"
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"$k","signedIdentity":{"type":"exactReference","dockerReference":"busybox"}}]}|contains neither a tag nor digest
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"$k","signedIdentity":{"type":"exactReference"}}]}|Key "dockerReference" missing in a JSON object
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"$k","signedIdentity":{"type":"remapIdentity","prefix":"docker.io/Lib","signedPrefix":"quay.io"}}]}|prefix "docker.io/Lib" is not valid
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyData":"not base64!"}]}|illegal base64 data
{"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":7}]}|cannot unmarshal number
{"default": [{"type":"reject"}], "default": [{"type":"insecureAcceptAnything"}]}|duplicate object key
{"default": [{"type":"insecureAcceptAnything"}], "transports": {"docker": {"docker.io": []}}}|must not be empty
{"default": [{"type":"insecureAcceptAnything"}], "transports": {"docker": {"docker.io": [{"type":"sigstoreSigned"}]}}}|not supported
EOF
}

# ---- the sigstore, --digest and the verdict cache ----

@test "verify --digest REF reads the sigstore, as ctr-run asks at every start" {
  ctr-verify key import "$GPG_KEYS/alice.pub" >/dev/null
  run ctr-verify policy set --signed-by "$ALICE"
  assert_success
  dir=$CTR_ROOT/trust/sigstore/library/busybox@sha256=${D#sha256:}
  mkdir -p "$dir"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  cp "$SIGS/signature-1" "$dir/signature-1"
  run --separate-stderr ctr-verify verify -q --digest "$D" busybox:latest
  assert_success
  [ -z "$output" ] && [ -z "$stderr" ]
  run ctr-verify verify -q --digest "sha256:$(printf '0%.0s' {1..64})" busybox:latest
  assert_failure 1
}

@test "verdict cache: accepted verdicts are kept, rejections never" {
  signed_by "$GPG_KEYS/alice.pub"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [ -z "$(ls "$CTR_RUNDIR/trust/verdicts" 2>/dev/null)" ]
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  [ "$(ls "$CTR_RUNDIR/trust/verdicts" | wc -l)" = 1 ]
  # the cached answer is the same report
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  assert_line --regexp "signature-1 by $ALICE"
  [ "$(ls "$CTR_RUNDIR/trust/verdicts" | wc -l)" = 1 ]
}

@test "verdict cache: a changed signature, key or policy is judged afresh" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  # the same key file now holds bob's key: alice's signature no longer passes
  cp "$GPG_KEYS/alice.pub" "$BATS_TEST_TMPDIR/k.gpg"
  signed_by "$BATS_TEST_TMPDIR/k.gpg"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  cp "$GPG_KEYS/bob.pub" "$BATS_TEST_TMPDIR/k.gpg"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  # a signature replaced by a bad one
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/alpine:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  # the policy changed to reject
  sign_as alice docker.io/library/busybox:latest "$D" 1
  policy '[{"type":"reject"}]'
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
}

@test "verdict cache: a verdict past its key's expiry is not used" {
  signed_by "$GPG_KEYS/alice.pub"
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  f=$(ls "$CTR_RUNDIR/trust/verdicts"/*)
  # forge an expired verdict that would say "accepted" for a rejecting input
  jq '.expires = 1' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
  rm -rf "$CTR_RUNDIR/trust/keyrings"
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  [ "$(jq .expires "$f")" = 0 ]
}

# ---- verify's own bad input ----

@test "verify: unknown image, bad --digest, no operand" {
  policy '[{"type":"insecureAcceptAnything"}]'
  run --separate-stderr ctr-verify verify nosuch:1
  assert_failure 1
  [[ "$stderr" == "ctr-verify: verify nosuch:1: "* ]]
  run --separate-stderr ctr-verify verify --digest sha256:xyz busybox
  assert_failure 2
  [[ "$stderr" == "ctr-verify: verify busybox: --digest sha256:xyz: "* ]]
  run ctr-verify verify
  assert_failure 2
  run --separate-stderr ctr-verify verify --digest "$D" "busybox@sha256:$(printf 'c%.0s' {1..64})"
  assert_failure 2
  [[ "$stderr" == *"names another digest than $D" ]]
}

# ---- policy set / rm / import / show ----

@test "policy set --signed-by FPR: the key is exported to trust/keys, the policy names it" {
  ctr-verify key import "$GPG_KEYS/alice.pub" >/dev/null
  run ctr-verify policy set --scope docker.io/library/busybox --signed-by "$ALICE"
  assert_success
  key=$CTR_ROOT/trust/keys/$ALICE.gpg
  [ -f "$key" ]
  [ "$(gpg --show-keys --with-colons "$key" | awk -F: '$1=="fpr"{print $10; exit}')" = "$ALICE" ]
  p=$CTR_ROOT/trust/policy.json
  [ "$(jq -r '.default[0].type' "$p")" = insecureAcceptAnything ]
  [ "$(jq -r '.transports.docker["docker.io/library/busybox"][0].keyPath' "$p")" = "$key" ]
  [ "$(jq -r '.transports.docker["docker.io/library/busybox"][0].keyType' "$p")" = GPGKeys ]
  [ "$(stat -c %a "$p")" = 644 ]
  sign_as alice docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
}

@test "policy set: several --signed-by make keyPaths; identity options" {
  run ctr-verify policy set --signed-by "$GPG_KEYS/alice.pub" --signed-by "$GPG_KEYS/bob.pub" \
    --remap docker.io/library=quay.io/upstream
  assert_success
  p=$CTR_ROOT/trust/policy.json
  [ "$(jq -r '.default[0].keyPaths | length' "$p")" = 2 ]
  [ "$(jq -r '.default[0].signedIdentity.type' "$p")" = remapIdentity ]
  [ "$(jq -r '.default[0].signedIdentity.signedPrefix' "$p")" = quay.io/upstream ]
  run ctr-verify policy set --signed-by "$GPG_KEYS/alice.pub" --exact-reference quay.io/a/b:1
  assert_success
  [ "$(jq -r '.default[0].signedIdentity.dockerReference' "$p")" = quay.io/a/b:1 ]
  run ctr-verify policy set --signed-by "$GPG_KEYS/alice.pub" --match repository
  assert_success
  [ "$(jq -r '.default[0].signedIdentity.type' "$p")" = matchRepository ]
}

@test "policy set: bad input changes nothing" {
  ctr-verify policy set --reject
  before=$(trust_listing)
  for args in "--accept --reject" "--scope busybox --reject" "--scope docker.io/busybox --reject" \
    "--signed-by 0123456789ABCDEF0123" "--signed-by /nonexistent" "--match sometimes --signed-by $GPG_KEYS/alice.pub" \
    "--exact-reference quay.io/a/b --signed-by $GPG_KEYS/alice.pub" "--match exact" \
    "--remap docker.io --signed-by $GPG_KEYS/alice.pub" "--remap docker.io/Lib=quay.io --signed-by $GPG_KEYS/alice.pub" \
    "--signed-by /etc/hostname" "--require-origin ftp:x" ""; do
    # shellcheck disable=SC2086
    run --separate-stderr ctr-verify policy set $args
    [ "$status" -ne 0 ] || { echo "accepted: $args"; false; }
    [[ "$stderr" == "ctr-verify: policy"* ]] || { echo "$args: $stderr"; false; }
    [ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
    [ "$(trust_listing)" = "$before" ] || { echo "changed by: $args"; false; }
  done
  run --separate-stderr ctr-verify policy set --scope busybox --reject
  assert_failure 2
  [[ "$stderr" == *"fully qualified: docker.io/library/busybox"* ]]
}

@test "policy set refuses to edit a malformed policy.json" {
  echo '{"default": [{"type": "rejekt"}]}' >"$CTR_ROOT/trust/policy.json"
  run --separate-stderr ctr-verify policy set --accept
  assert_failure 1
  [[ "$stderr" == *'Unknown policy requirement type "rejekt"'* ]]
  [ "$(cat "$CTR_ROOT/trust/policy.json")" = '{"default": [{"type": "rejekt"}]}' ]
}

@test "policy rm --scope drops the scope; a missing scope is an error" {
  ctr-verify policy set --reject
  ctr-verify policy set --scope quay.io --accept
  ctr-verify policy set --scope docker.io/library/busybox --accept
  run ctr-verify policy rm --scope quay.io
  assert_success
  p=$CTR_ROOT/trust/policy.json
  [ "$(jq -r '.transports.docker | keys | join(",")' "$p")" = docker.io/library/busybox ]
  before=$(trust_listing)
  run --separate-stderr ctr-verify policy rm --scope quay.io
  assert_failure 1
  [ "$stderr" = "ctr-verify: policy rm: no requirements for scope quay.io" ]
  run ctr-verify policy rm
  assert_failure 2
  [ "$(trust_listing)" = "$before" ]
  ctr-verify policy rm --scope docker.io/library/busybox
  [ "$(jq -c . "$p")" = '{"default":[{"type":"reject"}]}' ]
}

@test "policy import: a checked copy replaces policy.json; a bad file changes nothing" {
  cat >"$BATS_TEST_TMPDIR/good.json" <<'EOF'
{
  "default": [{"type": "reject"}],
  "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}
}
EOF
  run ctr-verify policy import "$BATS_TEST_TMPDIR/good.json"
  assert_success
  cmp "$BATS_TEST_TMPDIR/good.json" "$CTR_ROOT/trust/policy.json"
  before=$(trust_listing)
  echo '{"default": [{"type": "reject"}], "transport": {}}' >"$BATS_TEST_TMPDIR/bad.json"
  run --separate-stderr ctr-verify policy import "$BATS_TEST_TMPDIR/bad.json"
  assert_failure 1
  [[ "$stderr" == "ctr-verify: policy import: invalid policy: "*'Unknown key "transport"' ]]
  run --separate-stderr ctr-verify policy import - <"$BATS_TEST_TMPDIR/bad.json"
  assert_failure 1
  [ "$(trust_listing)" = "$before" ]
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' | ctr-verify policy import -
  [ "$(jq -r '.default[0].type' "$CTR_ROOT/trust/policy.json")" = insecureAcceptAnything ]
}

@test "policy show: a table per scope, or both files as JSON" {
  run ctr-verify policy show
  assert_success
  assert_output --partial "nothing is enforced"
  ctr-verify policy set --reject
  ctr-verify policy set --scope docker.io/library/busybox --signed-by "$GPG_KEYS/alice.pub" --match exact
  run ctr-verify policy show
  assert_success
  assert_line --index 0 --regexp '^SCOPE +REQUIREMENT +DETAIL$'
  assert_line --regexp '^default +reject'
  assert_line --regexp "^docker.io/library/busybox +signedBy +GPGKeys keyPath=$GPG_KEYS/alice.pub identity=matchExact$"
  run ctr-verify policy show --format json
  assert_success
  [ "$(jq -r '.policy.default[0].type' <<<"$output")" = reject ]
  [ "$(jq -r '.provenance' <<<"$output")" = null ]
}

@test "skopeo reads the policy ctr writes" {
  requires skopeo
  ctr-verify policy set --reject
  ctr-verify policy set --scope docker.io/library/busybox --signed-by "$GPG_KEYS/alice.pub" \
    --remap docker.io/library=quay.io/upstream
  ctr-image export --format oci-archive -o "$BATS_TEST_TMPDIR/bb.tar" busybox
  # the oci-archive transport is not scoped: the default (reject) applies,
  # but only after skopeo parsed every scope of the file
  run skopeo --policy "$CTR_ROOT/trust/policy.json" copy \
    "oci-archive:$BATS_TEST_TMPDIR/bb.tar" "dir:$BATS_TEST_TMPDIR/out"
  assert_failure
  assert_output --partial "rejected by policy"
  ctr-verify policy set --accept
  run skopeo --policy "$CTR_ROOT/trust/policy.json" copy \
    "oci-archive:$BATS_TEST_TMPDIR/bb.tar" "dir:$BATS_TEST_TMPDIR/out"
  assert_success
}

@test "policy set --require-origin goes to provenance.json; rm --origin drops only that" {
  run ctr-verify policy set --scope docker.io/library/busybox --reject --require-origin "import:$D"
  assert_success
  [ "$(jq -r '.transports.docker["docker.io/library/busybox"][0].type' "$CTR_ROOT/trust/policy.json")" = reject ]
  [ -f "$CTR_ROOT/trust/provenance.json" ]
  run ctr-verify policy show
  assert_line --regexp "^docker.io/library/busybox +origin +from import:$D"
  run ctr-verify policy show --format json
  [ "$(jq -r '.provenance' <<<"$output")" != null ]
  run ctr-verify policy rm --scope docker.io/library/busybox --origin
  assert_success
  [ "$(jq -r '.transports.docker["docker.io/library/busybox"][0].type' "$CTR_ROOT/trust/policy.json")" = reject ]
  run ctr-verify policy show
  refute_line --regexp ' origin '
  run ctr-verify policy rm --scope docker.io/library/busybox --origin
  assert_failure 1
}

@test "policy set checks the origin side before it writes anything" {
  ctr-verify key import "$GPG_KEYS/alice.pub" >/dev/null
  ctr-verify policy set --reject
  before=$(trust_listing)
  # the policy side is good (an exported key, a new scope): it must not be
  # written when the origin side then fails
  run --separate-stderr ctr-verify policy set --scope docker.io/library/busybox --signed-by "$ALICE" \
    --require-origin pull:docker.io --origin-signed-by /nonexistent
  assert_failure 2
  [ "$stderr" = "ctr-verify: policy set: origin key /nonexistent: neither a key file nor a key fingerprint" ]
  [ "$(trust_listing)" = "$before" ]
  # a file that holds no key would make every later verify an error
  run --separate-stderr ctr-verify policy set --scope docker.io/library/busybox --signed-by "$ALICE" \
    --origin-signed-by /etc/hostname
  assert_failure 1
  [[ "$stderr" == "ctr-verify: policy set: origin key /etc/hostname: "* ]]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "$(trust_listing)" = "$before" ]
  run --separate-stderr ctr-verify policy set --accept --origin-signed-by 0123456789ABCDEF0123
  assert_failure
  [[ "$stderr" == "ctr-verify: policy set: origin key 0123456789ABCDEF0123: "* ]]
  [ "$(trust_listing)" = "$before" ]
  # an existing provenance.json that does not parse is not edited, and
  # policy.json is not written either
  echo '{"scopes": {"quay.io": {}}}' >"$CTR_ROOT/trust/provenance.json"
  before=$(trust_listing)
  run --separate-stderr ctr-verify policy set --accept --require-origin pull:quay.io
  assert_failure 1
  [[ "$stderr" == "ctr-verify: policy set: provenance.json: "* ]]
  [ "$(trust_listing)" = "$before" ]
  rm "$CTR_ROOT/trust/provenance.json"
  # and the same command with a good key writes all three
  run ctr-verify policy set --scope docker.io/library/busybox --signed-by "$ALICE" \
    --require-origin pull:docker.io --origin-signed-by "$ALICE"
  assert_success
  [ -f "$CTR_ROOT/trust/keys/$ALICE.gpg" ]
  [ "$(jq -r '.transports.docker["docker.io/library/busybox"][0].type' "$CTR_ROOT/trust/policy.json")" = signedBy ]
  [ "$(jq -c '.scopes["docker.io/library/busybox"]' "$CTR_ROOT/trust/provenance.json")" = \
    "{\"origins\":[\"pull:docker.io\"],\"keyPaths\":[\"keys/$ALICE.gpg\"]}" ]
}

# ---- what bounds a cached verdict: signature, subkey, origin signer ----

# The expiry a cached verdict carries (there is one verdict).
cached_expiry() { jq .expires "$CTR_RUNDIR"/trust/verdicts/*; }

@test "verdict cache: a signature's own expiry bounds the cached verdict" {
  signed_by "$GPG_KEYS/alice.pub"
  jq -cn --arg d "$D" '{critical: {identity: {"docker-reference": "docker.io/library/busybox:latest"},
      image: {"docker-manifest-digest": $d}, type: "atomic container signature"}, optional: {}}' |
    gpg_as alice --yes --default-sig-expire seconds=8 --sign --output "$SIGS/signature-1"
  exp=$(gpg_as alice --status-fd 1 --verify "$SIGS/signature-1" 2>/dev/null | awk '$2 == "VALIDSIG" { print $6 }')
  [ "$exp" -gt "$(date +%s)" ]
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  [ "$(cached_expiry)" = "$exp" ]
  # the same inputs once the signature has expired: judged afresh, refused
  while [ "$(date +%s)" -le "$exp" ]; do sleep 1; done
  run --separate-stderr ctr-verify verify --signatures "$SIGS" busybox
  assert_failure 1
  [[ "$stderr" == "ctr-verify: verify busybox: Invalid GPG signature by key $ALICE: the signature has expired" ]]
}

@test "verdict cache: the signing subkey's expiry bounds the cached verdict" {
  GPG_KEYS=$BATS_TEST_TMPDIR
  dave=$(gpg_key dave)
  gpg_as dave --quick-add-key "$dave" ed25519 sign 2d 2>/dev/null
  gpg_as dave --export >"$GPG_KEYS/dave.pub"
  sub=$(gpg_as dave --list-keys --with-colons "$dave" | awk -F: '$1 == "sub" { print $7; exit }')
  [ -n "$sub" ]
  signed_by "$GPG_KEYS/dave.pub"
  # gpg signs with the newest signing subkey; the primary key never expires
  sign_as dave docker.io/library/busybox:latest "$D" 1
  run ctr-verify verify --signatures "$SIGS" busybox
  assert_success
  [ "$(cached_expiry)" = "$sub" ]
}

@test "verdict cache: the key that signed the origin statement bounds the cached verdict" {
  run ctr-verify key gen --expire 3
  assert_success
  host=$output
  run ctr-verify key ls --format json
  exp=$(date -d "$(jq -r '.[0].expires' <<<"$output")" +%s)
  [ "$exp" -gt "$(date +%s)" ]
  A=sha256:$(printf 'a%.0s' {1..64})
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  run ctr-verify policy set --require-origin pull:quay.io --origin-signed-by "$host"
  assert_success
  run ctr-verify verify --digest "$A" quay.io/a/b:1
  assert_success
  assert_line --regexp "^PASS +origin +pull:quay.io/a/b, statement signed by $host$"
  [ "$(cached_expiry)" = "$exp" ]
}
