#!/usr/bin/env bats
# Provenance: `ctr-verify attest` records a lifecycle event of an image as
# an in-toto Statement v1 (SLSA Provenance v1 predicate) in a DSSE
# envelope, signed with the host's key when it has one, under
# $CTR_ROOT/trust/attestations/<hex>/; `ctr-verify provenance` prints the
# chain and who signed each statement; provenance.json makes `verify`
# require an origin. Signatures are checked with plain gpg over a PAE the
# test builds itself, and the files with jq.

load helpers/common
load helpers/gpg

bats_require_minimum_version 1.5.0

setup() {
  setup_store
  requires jq python3 gpg sha256sum
  W="$BATS_TEST_TMPDIR/work"
  mkdir -p "$W"
  A=sha256:$(printf 'a%.0s' {1..64})
  B=sha256:$(printf 'b%.0s' {1..64})
  C=sha256:$(printf 'c%.0s' {1..64})
}

teardown() {
  local h
  gpg_kill_agents
  # and those of the throw-away keyrings origin checks made
  for h in "$CTR_RUNDIR"/trust/keyrings/*/; do
    [ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null
  done
  true
}

chain() { echo "$CTR_ROOT/trust/attestations/${1#sha256:}"; }

# The statement inside an envelope file.
statement() { jq -r .payload "$1" | base64 -d; }

# After `run --separate-stderr`: see assert_tool_error (helpers/common).
assert_error() { assert_tool_error ctr-verify "$@"; }

trust_unchanged() {
  diff <(echo "$BEFORE") <(store_listing) || fail "the store or trust tree changed"
}

host_key() {
  run ctr-verify key gen --uid "prov <prov@ctr.test>"
  assert_success
  FPR=$(cat "$CTR_ROOT/trust/signing-key")
  [ "$output" = "$FPR" ]
}

# Check FILE's DSSE signature with gpg alone: the PAE built here from the
# envelope, the public key exported from ctr's keyring into another home.
gpg_checks() {
  local file=$1 fpr=$2
  python3 - "$file" "$W/pae" <<'EOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
body = base64.b64decode(e["payload"])
t = e["payloadType"].encode()
open(sys.argv[2], "wb").write(b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body))
EOF
  jq -r '.signatures[0].sig' "$file" | base64 -d >"$W/sig"
  ctr-verify key export -o "$W/host.pub" "$fpr"
  mkdir -p -m 0700 "$(gpg_home checker)"
  gpg_as checker --import "$W/host.pub" 2>/dev/null
  gpg_as checker --status-fd 1 --verify "$W/sig" "$W/pae" 2>/dev/null | grep "VALIDSIG $fpr"
}

# ---- attest ----------------------------------------------------------------

@test "attest without a host key stores an unsigned in-toto statement" {
  run ctr-verify attest import "$A" source=/srv/app.tar source-digest="$B" name=app:1
  assert_success
  assert_output "$(chain "$A")/000001-import.dsse.json"
  f=$output
  run jq -r '.payloadType, (.signatures | length)' "$f"
  assert_output $'application/vnd.in-toto+json\n0'
  statement "$f" >"$W/st.json"
  run jq -r '._type, .predicateType, .subject[0].name, .subject[0].digest.sha256,
             .predicate.buildDefinition.buildType,
             .predicate.buildDefinition.externalParameters.source,
             .predicate.buildDefinition.externalParameters["source-digest"],
             .predicate.buildDefinition.resolvedDependencies[0].digest.sha256,
             .predicate.buildDefinition.internalParameters.sequence,
             .predicate.runDetails.builder.id' "$W/st.json"
  assert_output "https://in-toto.io/Statement/v1
https://slsa.dev/provenance/v1
app:1
${A#sha256:}
https://ctr.dev/image-event/import/v1
/srv/app.tar
$B
${B#sha256:}
1
https://ctr.dev/ctr-verify/v1"
  # startedOn is now, RFC 3339 UTC
  t=$(jq -r .predicate.runDetails.metadata.startedOn "$W/st.json")
  [ $(( $(date +%s) - $(date -d "$t" +%s) )) -lt 60 ]
  run ctr-verify provenance "$A"
  assert_success
  assert_line --index 1 --regexp '^20[0-9-]+T[0-9:]+Z +import +source=/srv/app.tar source-digest=sha256:bbbbbbbbbbbb name=app:1 +unsigned$'
}

@test "attest signs with the host's key: the DSSE signature verifies with gpg" {
  host_key
  run ctr-verify attest tag "$A" name=app:2 from=app:1
  assert_success
  f=$output
  run jq -r '.signatures | length, .[0].keyid' "$f"
  assert_output $'1\n'"$FPR"
  run gpg_checks "$f" "$FPR"
  assert_success
  run ctr-verify provenance "$A"
  assert_success
  assert_line --index 1 --regexp " tag +name=app:2 from=app:1 +$FPR \(prov <prov@ctr.test>\)$"
}

@test "attest --key signs with another key of ctr's keyring" {
  host_key
  old=$FPR
  host_key
  [ "$old" != "$FPR" ]
  run ctr-verify attest -k "$old" push "$A" reference=127.0.0.1:5000/app:1
  assert_success
  [ "$(jq -r '.signatures[0].keyid' "$output")" = "$old" ]
  run gpg_checks "$output" "$old"
  assert_success
}

@test "attest --key with a key ctr cannot sign with fails and writes nothing" {
  host_key
  BEFORE=$(store_listing)
  run --separate-stderr ctr-verify attest -k 0123456789ABCDEF0123456789ABCDEF01234567 tag "$A" name=a:1
  assert_error 1 "attest tag $A" "0123456789ABCDEF0123456789ABCDEF01234567"
  trust_unchanged
}

@test "the chain keeps the order of events; each statement names its place and the one before" {
  for i in 1 2 3 4; do
    run ctr-verify attest tag "$A" name=app:$i
    assert_success
  done
  run ls "$(chain "$A")"
  assert_output $'000001-tag.dsse.json\n000002-tag.dsse.json\n000003-tag.dsse.json\n000004-tag.dsse.json'
  d=$(chain "$A")
  for i in 2 3 4; do
    prev=$(sha256sum "$d/00000$((i - 1))-tag.dsse.json" | cut -d' ' -f1)
    statement "$d/00000$i-tag.dsse.json" >"$W/st.json"
    [ "$(jq -r .predicate.buildDefinition.internalParameters.sequence "$W/st.json")" = "$i" ]
    [ "$(jq -r .predicate.buildDefinition.internalParameters.previous "$W/st.json")" = "sha256:$prev" ]
  done
  run ctr-verify provenance --format json "$A"
  assert_success
  run jq -r '[.[] | .statement.predicate.buildDefinition.externalParameters.name] | join(" ")' <<<"$output"
  assert_output "app:1 app:2 app:3 app:4"
}

@test "concurrent attests make one unbroken chain" {
  for i in $(seq 1 12); do
    ctr-verify attest tag "$A" name=app:$i >/dev/null &
  done
  wait
  run ls "$(chain "$A")"
  [ "${#lines[@]}" -eq 12 ]
  [ "${lines[11]}" = "000012-tag.dsse.json" ]
  run ctr-verify provenance "$A"
  assert_success
  [ "$(grep -c unsigned <<<"$output")" -eq 12 ]
}

@test "attest takes an image name for SUBJECT" {
  import_busybox
  dig=$(index_digest busybox:latest)
  run ctr-verify attest export busybox destination=/tmp/x.tar
  assert_success
  assert_output --partial "$(chain "$dig")/"
}

# ---- bad input to attest: usage error, nothing written -----------------------

attest_refused() {
  local words=$1
  shift
  mkdir -p "$CTR_ROOT"
  BEFORE=$(store_listing)
  run --separate-stderr ctr-verify attest "$@"
  # shellcheck disable=SC2086
  assert_error 2 $words
  trust_unchanged
  [ ! -e "$CTR_ROOT/trust/attestations" ]
}

@test "attest refuses an unknown event" {
  attest_refused "unknown event 'remove'" remove "$A"
}
@test "attest refuses a subject that is not a digest" {
  attest_refused "sha256:12" tag sha256:12 name=a:1
}
@test "attest refuses a parameter without =" {
  attest_refused "bad parameter 'name'" tag "$A" name
}
@test "attest refuses an unknown parameter" {
  attest_refused "unknown parameter 'colour'" tag "$A" name=a:1 colour=red
}
@test "attest refuses a parameter given twice" {
  attest_refused "'name' given twice" tag "$A" name=a:1 name=b:1
}
@test "attest refuses an event without its required parameter" {
  attest_refused "missing parameter 'reference'" pull "$A" registry=127.0.0.1:5000
}
@test "attest refuses a -digest parameter that is not a digest" {
  attest_refused "source-digest: not a sha256 digest" import "$A" source=x source-digest=md5:1
}
@test "attest refuses a reference that does not parse" {
  attest_refused "reference: not an image reference" pull "$A" reference=Bad/Ref
}
@test "attest refuses a control character in a value" {
  attest_refused "control character" export "$A" destination=$'a\nb'
}
@test "attest refuses a missing subject" {
  attest_refused "attest takes EVENT SUBJECT" tag
}
@test "attest refuses an unknown image name" {
  import_busybox
  BEFORE=$(store_listing)
  run --separate-stderr ctr-verify attest tag nosuch:1 name=a:1
  assert_error 1 "attest tag nosuch:1"
  trust_unchanged
}

# ---- provenance --------------------------------------------------------------

@test "ctr-image import, tag and export each record an event" {
  import_busybox
  dig=$(index_digest busybox:latest)
  run ctr-image tag busybox bb:2
  assert_success
  run ctr-image export -o "$W/bb.tar" bb:2
  assert_success
  sum=$(sha256sum "$W/bb.tar" | cut -d' ' -f1)
  # a re-import that changes nothing records nothing: drop the name first
  run ctr-image rm bb:2
  assert_success
  run ctr-image import "$W/bb.tar"
  assert_success
  run ctr-verify provenance busybox
  assert_success
  [ "${#lines[@]}" -eq 5 ]
  assert_line --index 1 --regexp ' import +name=busybox:latest source=host:busybox source-digest=sha256:[0-9a-f]{12} +unsigned$'
  assert_line --index 2 --regexp ' tag +name=bb:2 from=busybox:latest +unsigned$'
  assert_line --index 3 --regexp " export +name=bb:2 destination=$W/bb.tar destination-digest=sha256:${sum:0:12} +unsigned$"
  assert_line --index 4 --regexp " import +name=bb:2 source=$W/bb.tar source-digest=sha256:${sum:0:12} +unsigned$"
  run ctr-verify provenance --format json "$dig"
  assert_success
  run jq -r '.[3].statement.predicate.buildDefinition.externalParameters["source-digest"]' <<<"$output"
  assert_output "sha256:$sum"
}

@test "provenance --format json: the statements, their envelopes and verdicts" {
  host_key
  ctr-verify attest pull "$A" reference=127.0.0.1:5000/team/app:1 registry=127.0.0.1:5000 >/dev/null
  run ctr-verify provenance --format json "$A"
  assert_success
  run jq -r '.[0] | .file, .sequence, .intact, .signature, .signer, .uid, .statement._type,
             .envelope.payloadType, .statement.predicate.buildDefinition.resolvedDependencies[0].uri' <<<"$output"
  assert_output "000001-pull.dsse.json
1
true
valid
$FPR
prov <prov@ctr.test>
https://in-toto.io/Statement/v1
application/vnd.in-toto+json
docker://127.0.0.1:5000/team/app:1"
}

@test "provenance of an image with no recorded events prints only the header" {
  run ctr-verify provenance "$C"
  assert_success
  assert_output --regexp '^TIME +EVENT +DETAILS +SIGNER$'
  run ctr-verify provenance --format json "$C"
  assert_output "[]"
}

@test "provenance of an unknown name fails with one line" {
  run --separate-stderr ctr-verify provenance nosuch:1
  assert_error 1 "provenance nosuch:1"
}

@test "provenance refuses a bad --format and a missing operand" {
  run --separate-stderr ctr-verify provenance --format xml "$A"
  assert_error 2 "xml"
  run --separate-stderr ctr-verify provenance
  assert_error 2 "provenance takes one"
}

@test "a changed statement shows INVALID and provenance exits 1" {
  host_key
  f=$(ctr-verify attest tag "$A" name=app:1)
  python3 - "$f" <<'EOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
e["payload"] = base64.b64encode(base64.b64decode(e["payload"]).replace(b"app:1", b"app:9")).decode()
json.dump(e, open(sys.argv[1], "w"))
EOF
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "000001-tag.dsse.json is not valid" "Invalid GPG signature"
  [[ "${lines[1]}" == *"name=app:9"*"INVALID: Invalid GPG signature"* ]]
}

@test "a dropped statement breaks the chain" {
  for i in 1 2 3; do ctr-verify attest tag "$A" name=app:$i >/dev/null; done
  rm "$(chain "$A")/000001-tag.dsse.json"
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "000002-tag.dsse.json is not valid" "out of sequence"
}

@test "swapped statements break the chain" {
  for i in 1 2; do ctr-verify attest tag "$A" name=app:$i >/dev/null; done
  d=$(chain "$A")
  mv "$d/000001-tag.dsse.json" "$W/x" && mv "$d/000002-tag.dsse.json" "$d/000001-tag.dsse.json" && mv "$W/x" "$d/000002-tag.dsse.json"
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "000001-tag.dsse.json is not valid" "out of sequence"
}

@test "a statement about another image is invalid in this chain" {
  f=$(ctr-verify attest tag "$B" name=app:1)
  mkdir -p "$(chain "$A")"
  cp "$f" "$(chain "$A")/"
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "statement is about $B"
}

@test "a garbage envelope is invalid, not a crash" {
  mkdir -p "$(chain "$A")"
  echo '{"payloadType": 1' >"$(chain "$A")/000001-tag.dsse.json"
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "000001-tag.dsse.json is not valid"
  [[ "${lines[1]}" == *"INVALID:"* ]]
}

@test "a statement signed by a key ctr's keyring lacks is INVALID" {
  host_key
  f=$(ctr-verify attest tag "$A" name=app:1)
  run ctr-verify key rm --secret "$FPR"
  assert_success
  run --separate-stderr ctr-verify provenance "$A"
  assert_error 1 "000001-tag.dsse.json is not valid"
}

# ---- origin requirements (provenance.json) ---------------------------------

@test "an imported image passes an import:DIGEST origin and fails a pull origin" {
  import_busybox
  sd=$(ctr-verify provenance --format json busybox | jq -r '.[0].statement.predicate.buildDefinition.externalParameters["source-digest"]')
  run ctr-verify policy set --scope docker.io/library/busybox --require-origin "import:$sd"
  assert_success
  run jq -c . "$CTR_ROOT/trust/provenance.json"
  assert_output "{\"scopes\":{\"docker.io/library/busybox\":{\"origins\":[\"import:$sd\"]}}}"
  run ctr-verify verify busybox
  assert_success
  assert_line --regexp "^PASS +origin +import:$sd \(statement unsigned\)$"
  run ctr-verify policy set --scope docker.io/library/busybox --require-origin pull:docker.io/library
  assert_success
  run --separate-stderr ctr-verify verify -q busybox
  assert_error 1 "verify busybox: Image origin import:$sd is not accepted (accepted: pull:docker.io/library)"
}

@test "a pull origin matches the registry and namespace, whole components only" {
  ctr-verify attest pull "$A" reference=127.0.0.1:5000/team/app:1 >/dev/null
  for o in pull:127.0.0.1:5000 pull:127.0.0.1:5000/team pull:127.0.0.1:5000/team/app; do
    ctr-verify policy set --require-origin "$o"
    run ctr-verify verify --digest "$A" 127.0.0.1:5000/team/app:1
    assert_success
  done
  for o in pull:127.0.0.1:5000/tea pull:127.0.0.1 pull:localhost:5000/team; do
    ctr-verify policy set --require-origin "$o"
    run --separate-stderr ctr-verify verify -q --digest "$A" 127.0.0.1:5000/team/app:1
    assert_error 1 "Image origin pull:127.0.0.1:5000/team/app is not accepted"
  done
}

@test "the origin is the first event: a later pull does not replace an import" {
  ctr-verify attest import "$A" source=x.tar source-digest="$B" >/dev/null
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  ctr-verify policy set --require-origin pull:quay.io
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 "Image origin import:$B is not accepted"
}

@test "the most specific scope applies, then the default" {
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  ctr-verify policy set --require-origin pull:docker.io
  ctr-verify policy set --scope quay.io/a --require-origin pull:quay.io/a
  run ctr-verify verify --digest "$A" quay.io/a/b:1
  assert_success
  assert_output --partial "(scope quay.io/a)"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/c/d:1
  assert_error 1 "is not accepted (accepted: pull:docker.io)"
  ctr-verify policy set --scope '*.io' --require-origin pull:quay.io
  run ctr-verify verify --digest "$A" quay.io/c/d:1
  assert_success
}

@test "no recorded provenance fails an origin requirement" {
  ctr-verify policy set --require-origin pull:quay.io
  run --separate-stderr ctr-verify verify -q --digest "$C" quay.io/a/b:1
  assert_error 1 "An origin was required" "no provenance is recorded for $C"
}

@test "a scope with no origin requirement passes and says so" {
  ctr-verify policy set --scope quay.io --require-origin pull:quay.io
  run ctr-verify verify --digest "$C" docker.io/library/busybox:1
  assert_success
  assert_line --regexp '^PASS +origin +no origin requirement applies$'
}

@test "--origin-signed-by: a statement signed by that key passes; unsigned and other keys fail" {
  host_key
  good=$FPR
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  run ctr-verify policy set --require-origin pull:quay.io --origin-signed-by "$good"
  assert_success
  [ "$(jq -r '.default.keyPaths[0]' "$CTR_ROOT/trust/provenance.json")" = "keys/$good.gpg" ]
  [ -s "$CTR_ROOT/trust/keys/$good.gpg" ]
  run ctr-verify verify --digest "$A" quay.io/a/b:1
  assert_success
  assert_line --regexp "^PASS +origin +pull:quay.io/a/b, statement signed by $good$"

  # unsigned: recorded before the host had a key
  rm "$CTR_ROOT/trust/signing-key"
  ctr-verify attest pull "$B" reference=quay.io/a/b:1 >/dev/null
  run --separate-stderr ctr-verify verify -q --digest "$B" quay.io/a/b:1
  assert_error 1 "A signed origin statement was required, but 000001-pull.dsse.json is not signed"

  # signed by a key the requirement does not list
  host_key
  ctr-verify attest pull "$C" reference=quay.io/a/b:1 >/dev/null
  run --separate-stderr ctr-verify verify -q --digest "$C" quay.io/a/b:1
  assert_error 1 "The origin statement 000001-pull.dsse.json is not accepted"
}

@test "--origin-signed-by takes a key file" {
  host_key
  ctr-verify key export -o "$W/host.pub" "$FPR"
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  run ctr-verify policy set --scope quay.io --origin-signed-by "$W/host.pub"
  assert_success
  [ "$(jq -r '.scopes["quay.io"].keyPaths[0]' "$CTR_ROOT/trust/provenance.json")" = "$W/host.pub" ]
  run ctr-verify verify --digest "$A" quay.io/a/b:1
  assert_success
  # a key that did not sign it
  GPG_KEYS=$W gpg_key other >/dev/null
  ctr-verify policy set --scope quay.io --origin-signed-by "$W/other.pub"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 "The origin statement 000001-pull.dsse.json is not accepted"
}

@test "a tampered origin statement is rejected even without keys" {
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  ctr-verify attest tag "$A" name=x:1 >/dev/null
  rm "$(chain "$A")/000001-pull.dsse.json"
  ctr-verify policy set --require-origin pull:quay.io
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 "The origin statement 000002-tag.dsse.json is invalid: " "out of sequence"
}

@test "a malformed provenance.json is an error, never an acceptance" {
  ctr-verify attest pull "$A" reference=quay.io/a/b:1 >/dev/null
  mkdir -p "$CTR_ROOT/trust"
  echo '{"default": {"origins": ["pull:quay.io"]}, "extra": 1}' >"$CTR_ROOT/trust/provenance.json"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 'unknown member "extra"'
  echo '{"default": {"origins": ["fetch:quay.io"]}}' >"$CTR_ROOT/trust/provenance.json"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 'bad origin "fetch:quay.io"'
  echo '{"default": ' >"$CTR_ROOT/trust/provenance.json"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  [ "$status" -eq 1 ]
}

@test "policy set refuses bad origins and scopes and writes nothing" {
  ctr-verify policy set --require-origin pull:quay.io
  BEFORE=$(store_listing)
  for o in fetch:quay.io pull: pull:Quay.io "import:sha256:12" "pull:q//a"; do
    run --separate-stderr ctr-verify policy set --require-origin "$o"
    [ "$status" -eq 2 ] || fail "$o: exit $status"
    [[ "$stderr" == *"$o"* && "${#stderr_lines[@]}" -eq 1 ]] || fail "$o: $stderr"
  done
  run --separate-stderr ctr-verify policy set --origin-signed-by "$W/nosuch.pub"
  [ "$status" -ne 0 ]
  trust_unchanged
}

@test "policy show includes provenance.json; policy rm --origin drops it" {
  ctr-verify policy set --scope quay.io --require-origin pull:quay.io
  run ctr-verify policy show --format json
  assert_success
  assert_output --partial 'pull:quay.io'
  run ctr-verify policy rm --scope quay.io --origin
  assert_success
  [ ! -e "$CTR_ROOT/trust/provenance.json" ]
}

@test "an origin statement signed by a key revoked since is not accepted" {
  alice=$(gpg_key alice)
  # alice's secret key into ctr's keyring, so attest can sign with it
  mkdir -p -m 0700 "$CTR_ROOT/trust/gnupg"
  gpg_as alice --export-secret-keys "$alice" |
    gpg --homedir "$CTR_ROOT/trust/gnupg" --batch --quiet --import 2>/dev/null
  run ctr-verify attest -k "$alice" pull "$A" reference=quay.io/a/b:1
  assert_success
  ctr-verify policy set --scope quay.io --require-origin pull:quay.io --origin-signed-by "$BATS_TEST_TMPDIR/alice.pub"
  run ctr-verify verify --digest "$A" quay.io/a/b:1
  assert_success
  gpg_revoke alice
  cp "$BATS_TEST_TMPDIR/alice.pub" "$W/alice-revoked.pub"
  ctr-verify policy set --scope quay.io --require-origin pull:quay.io --origin-signed-by "$W/alice-revoked.pub"
  run --separate-stderr ctr-verify verify -q --digest "$A" quay.io/a/b:1
  assert_error 1 "The origin statement 000001-pull.dsse.json is not accepted" "revoked"
}
