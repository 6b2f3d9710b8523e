#!/usr/bin/env bats
# The registry harness itself (helpers/registry.bash): each mode is a real
# docker-registry that a real client, skopeo, can push to and read back,
# and each refuses what it should. ctr-image's pull/push tests build on it.

load helpers/common
load helpers/registry

setup_file() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  # One small image for every test: the rich 3-layer fixture.
  python3 "$TESTS_DIR/helpers/mkimage.py" --salt registry-peer "$BATS_FILE_TMPDIR/img"
  export IMG="oci:$BATS_FILE_TMPDIR/img:test:latest"
  IMG_DIGEST=$(jq -r '.manifests[0].digest' "$BATS_FILE_TMPDIR/img/index.json")
  export IMG_DIGEST
}

setup() {
  requires docker-registry skopeo jq python3 curl openssl htpasswd
  W="$BATS_TEST_TMPDIR/work"
  mkdir -p "$W"
}

teardown() {
  registry_stop
}

# The manifest bytes of the test image, as pushed.
img_manifest() {
  cat "$BATS_FILE_TMPDIR/img/blobs/sha256/${IMG_DIGEST#sha256:}"
}

# HTTP status of a request to the registry (curl ARGS… PATH).
http_code() {
  local path=${!#}
  curl -s -o "$W/body" -D "$W/headers" -w '%{http_code}' "${@:1:$#-1}" "$REGISTRY_URL$path"
}

# The registry's own copy of a blob, in its storage driver's layout.
stored_blob() {
  local hex=${1#sha256:}
  echo "$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# Push the test image as REPO:v1 and check it came back whole: the same
# manifest digest from skopeo inspect, the same bytes from the registry's
# storage and from a skopeo pull into a fresh layout.
push_and_check() {
  local repo=$1
  run registry_push_skopeo "$IMG" "$repo:v1"
  assert_success
  run registry_inspect_skopeo "$repo:v1"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$IMG_DIGEST" ]
  [ "$(jq -r .Name <<<"$output")" = "$REGISTRY/$repo" ]
  run registry_inspect_skopeo "$repo:v1" --raw
  assert_success
  [ "$output" = "$(img_manifest)" ]
  # every blob is on the registry's disk, byte for byte
  local d
  for d in $(img_manifest | jq -r '.config.digest, .layers[].digest') "$IMG_DIGEST"; do
    cmp "$(stored_blob "$d")" "$BATS_FILE_TMPDIR/img/blobs/sha256/${d#sha256:}"
  done
  run registry_pull_skopeo "$repo:v1" "oci:$W/back:v1"
  assert_success
  [ "$(jq -r '.manifests[0].digest' "$W/back/index.json")" = "$IMG_DIGEST" ]
}

@test "plain: skopeo pushes over HTTP and reads back the same manifest digest and blobs" {
  registry_start plain
  [[ $REGISTRY =~ ^127\.0\.0\.1:[0-9]+$ ]]
  [ "$REGISTRY_URL" = "http://$REGISTRY" ]
  kill -0 "$REGISTRY_PID"
  [ -f "$REGISTRY_DIR/config.yml" ]
  [ -z "${REGISTRY_USER:-}${REGISTRY_CERTS_D:-}${TOKEN_PID:-}" ]
  run http_code /v2/
  assert_output 200
  grep -qi '^Docker-Distribution-Api-Version: registry/2.0' "$W/headers"

  push_and_check peer/plain
  # the registry serves the manifest by digest, with its digest header
  run http_code -H 'Accept: application/vnd.oci.image.manifest.v1+json' "/v2/peer/plain/manifests/$IMG_DIGEST"
  assert_output 200
  [ "sha256:$(sha256sum <"$W/body" | cut -d' ' -f1)" = "$IMG_DIGEST" ]
  grep -qi "^Docker-Content-Digest: $IMG_DIGEST" "$W/headers"
  run http_code /v2/peer/plain/tags/list
  assert_output 200
  [ "$(jq -c . "$W/body")" = '{"name":"peer/plain","tags":["v1"]}' ]
}

@test "basic: with REGISTRY_USER/PASS skopeo pushes; no or wrong credentials get 401" {
  registry_start basic
  [ -n "$REGISTRY_USER" ]
  [ -n "$REGISTRY_PASS" ]
  # bcrypt, as distribution requires
  [[ $(<"$REGISTRY_DIR/htpasswd") == "$REGISTRY_USER:\$2y\$"* ]]

  run http_code /v2/
  assert_output 401
  grep -qi '^Www-Authenticate: Basic realm=' "$W/headers"
  run http_code -u "$REGISTRY_USER:wrong-$REGISTRY_PASS" /v2/
  assert_output 401
  run http_code -u "$REGISTRY_USER:$REGISTRY_PASS" /v2/
  assert_output 200

  push_and_check peer/basic

  run skopeo inspect --tls-verify=false "docker://$REGISTRY/peer/basic:v1"
  assert_failure
  assert_output --partial 'unauthorized'
  run skopeo inspect --tls-verify=false --creds "$REGISTRY_USER:wrong" "docker://$REGISTRY/peer/basic:v1"
  assert_failure
  assert_output --partial 'unauthorized'
  run skopeo copy -q --dest-tls-verify=false --dest-creds "$REGISTRY_USER:wrong" "$IMG" "docker://$REGISTRY/peer/other:v1"
  assert_failure
  [ ! -e "$REGISTRY_DIR/storage/docker/registry/v2/repositories/peer/other" ]
}

@test "tls: skopeo without the CA fails on the certificate; with the certs.d dir it pushes" {
  registry_start tls
  [ "$REGISTRY_URL" = "https://$REGISTRY" ]
  [ -f "$REGISTRY_CA" ]
  [ -f "$REGISTRY_CERTS_D/$REGISTRY/ca.crt" ]
  cmp "$REGISTRY_CA" "$REGISTRY_CERTS_D/$REGISTRY/ca.crt"
  [ ! -e "$REGISTRY_CERTS_D/$REGISTRY/client.cert" ]
  # the server's certificate names 127.0.0.1 and localhost, signed by the CA
  run openssl s_client -connect "$REGISTRY" -CAfile "$REGISTRY_CA" -verify_return_error </dev/null
  assert_success
  assert_output --partial 'Verify return code: 0 (ok)'
  openssl s_client -connect "$REGISTRY" </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName >"$W/san"
  grep -q 'IP Address:127.0.0.1' "$W/san"
  grep -q 'DNS:localhost' "$W/san"
  run curl -sS --cacert "$REGISTRY_CA" "https://localhost:${REGISTRY#*:}/v2/"
  assert_success
  run curl -sS "$REGISTRY_URL/v2/"
  assert_failure

  run skopeo copy -q "$IMG" "docker://$REGISTRY/peer/tls:v1"
  assert_failure
  assert_output --partial 'x509: certificate signed by unknown authority'
  run skopeo inspect "docker://$REGISTRY/peer/tls:v1"
  assert_failure
  assert_output --partial 'x509: certificate signed by unknown authority'
  [ ! -e "$REGISTRY_DIR/storage/docker/registry/v2/repositories/peer/tls" ]

  push_and_check peer/tls
  run skopeo inspect --cert-dir "$REGISTRY_CERTS_D/$REGISTRY" "docker://$REGISTRY/peer/tls:v1"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$IMG_DIGEST" ]
}

@test "tls-client: the registry refuses a client without a certificate from the CA" {
  registry_start tls-client
  [ -f "$REGISTRY_CERTS_D/$REGISTRY/client.cert" ]
  [ -f "$REGISTRY_CERTS_D/$REGISTRY/client.key" ]
  cmp "$REGISTRY_CLIENT_CERT" "$REGISTRY_CERTS_D/$REGISTRY/client.cert"
  run curl -sS --cacert "$REGISTRY_CA" "$REGISTRY_URL/v2/"
  assert_failure
  run curl -sS -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" \
    --cert "$REGISTRY_CLIENT_CERT" --key "$REGISTRY_CLIENT_KEY" "$REGISTRY_URL/v2/"
  assert_success
  assert_output 200

  # skopeo with the CA alone (no client pair) is refused
  cp "$REGISTRY_CA" "$W/ca.crt"
  run skopeo inspect --cert-dir "$W" "docker://$REGISTRY/peer/tlsc:v1"
  assert_failure
  assert_output --regexp 'certificate|tls'

  push_and_check peer/tlsc
}

@test "token: skopeo gets a token for the right scope and pushes; wrong password refused" {
  registry_start token
  kill -0 "$TOKEN_PID"
  [[ $TOKEN_REALM =~ ^http://127\.0\.0\.1:[0-9]+/token$ ]]
  [ "$TOKEN_LOG" = "$REGISTRY_DIR/token.log" ]
  # the registry sends clients to the token server
  run http_code /v2/
  assert_output 401
  grep -qi "^Www-Authenticate: Bearer realm=\"$TOKEN_REALM\",service=\"$TOKEN_SERVICE\"" "$W/headers"

  push_and_check peer/token
  run grep -c "^200 GET user=$REGISTRY_USER scope=repository:peer/token:pull,push granted=peer/token:pull,push\$" "$TOKEN_LOG"
  assert_success
  [ "$output" -ge 1 ]
  grep -q "^200 GET user=$REGISTRY_USER scope=repository:peer/token:pull granted=peer/token:pull\$" "$TOKEN_LOG"

  # wrong password: the token server answers 401 and logs it; skopeo fails
  run curl -s -o /dev/null -w '%{http_code}' -u "$REGISTRY_USER:wrong" \
    "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:peer/token:pull"
  assert_output 401
  grep -q "^401 GET user=$REGISTRY_USER scope=repository:peer/token:pull\$" "$TOKEN_LOG"
  local n
  n=$(wc -l <"$TOKEN_LOG")
  run skopeo copy -q --dest-tls-verify=false --dest-creds "$REGISTRY_USER:wrong" "$IMG" "docker://$REGISTRY/peer/wrong:v1"
  assert_failure
  assert_output --partial 'invalid username/password'
  [ "$(tail -n +"$((n + 1))" "$TOKEN_LOG" | grep -c '^401 GET user=')" -ge 1 ]
  [ ! -e "$REGISTRY_DIR/storage/docker/registry/v2/repositories/peer/wrong" ]
}

@test "token: the JWT is RS256 with x5c and the claims distribution checks; the registry honours its access list" {
  registry_start token
  run curl -sS -u "$REGISTRY_USER:$REGISTRY_PASS" \
    "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:peer/jwt:pull,push&scope=repository:peer/other:pull"
  assert_success
  echo "$output" >"$W/reply"
  local token
  token=$(jq -r .token "$W/reply")
  [ "$(jq -r .access_token "$W/reply")" = "$token" ]
  [ "$(jq -r .expires_in "$W/reply")" = 300 ]
  [[ $(jq -r .issued_at "$W/reply") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
  grep -q "^200 GET user=$REGISTRY_USER scope=repository:peer/jwt:pull,push scope=repository:peer/other:pull granted=peer/jwt:pull,push;peer/other:pull\$" "$TOKEN_LOG"

  # header and claims (base64url segments)
  python3 - "$token" "$REGISTRY_DIR/token.crt" >"$W/jwt" <<'EOF'
import base64, json, sys
def seg(s): return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, c = (seg(p) for p in sys.argv[1].split(".")[:2])
pem = open(sys.argv[2]).read().split("-----")[2].replace("\n", "")
print(json.dumps({"h": h, "c": c, "x5c_is_cert": h["x5c"] == [pem]}))
EOF
  [ "$(jq -r .h.alg "$W/jwt")" = RS256 ]
  [ "$(jq -r .h.typ "$W/jwt")" = JWT ]
  [ "$(jq -r .x5c_is_cert "$W/jwt")" = true ]
  [ "$(jq -r .c.iss "$W/jwt")" = "$TOKEN_ISSUER" ]
  [ "$(jq -r .c.aud "$W/jwt")" = "$TOKEN_SERVICE" ]
  [ "$(jq -r .c.sub "$W/jwt")" = "$REGISTRY_USER" ]
  [ "$(jq -r '.c.exp - .c.iat' "$W/jwt")" = 300 ]
  [ "$(jq -r '.c.nbf <= .c.iat' "$W/jwt")" = true ]
  [ -n "$(jq -r .c.jti "$W/jwt")" ]
  [ "$(jq -c .c.access "$W/jwt")" = '[{"type":"repository","name":"peer/jwt","actions":["pull","push"]},{"type":"repository","name":"peer/other","actions":["pull"]}]' ]

  # the registry accepts it for what it grants, and only that
  run http_code -H "Authorization: Bearer $token" /v2/
  assert_output 200
  run http_code -X POST -H "Authorization: Bearer $token" /v2/peer/jwt/blobs/uploads/
  assert_output 202
  run http_code -X POST -H "Authorization: Bearer $token" /v2/peer/other/blobs/uploads/
  assert_output 401
  grep -qi 'error="insufficient_scope"' "$W/headers"
  # a token whose signature was tampered with is refused
  local bad=${token%?????}AAAAA
  run http_code -H "Authorization: Bearer $bad" /v2/
  assert_output 401
}

@test "token: an anonymous client may pull but not push" {
  registry_start token
  run registry_push_skopeo "$IMG" peer/anon:v1
  assert_success
  run curl -sS "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:peer/anon:pull,push"
  assert_success
  grep -q '^200 GET user=- scope=repository:peer/anon:pull,push granted=peer/anon:pull$' "$TOKEN_LOG"

  run skopeo inspect --tls-verify=false "docker://$REGISTRY/peer/anon:v1"
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$IMG_DIGEST" ]
  grep -q '^200 GET user=- scope=repository:peer/anon:pull granted=peer/anon:pull$' "$TOKEN_LOG"
  run skopeo copy -q --dest-tls-verify=false "$IMG" "docker://$REGISTRY/peer/anon2:v1"
  assert_failure
  assert_output --partial 'denied'
  [ ! -e "$REGISTRY_DIR/storage/docker/registry/v2/repositories/peer/anon2/_manifests" ]
}

@test "token: REGISTRY_TOKEN_ANON=none grants anonymous clients nothing; REGISTRY_TOKEN_TTL sets expires_in" {
  REGISTRY_TOKEN_ANON=none REGISTRY_TOKEN_TTL=120 registry_start token
  run registry_push_skopeo "$IMG" peer/private:v1
  assert_success
  run curl -sS "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:peer/private:pull"
  assert_success
  [ "$(jq -r .expires_in <<<"$output")" = 120 ]
  grep -q '^200 GET user=- scope=repository:peer/private:pull granted=$' "$TOKEN_LOG"
  run skopeo inspect --tls-verify=false "docker://$REGISTRY/peer/private:v1"
  assert_failure
  assert_output --regexp 'unauthorized|denied'
  run registry_inspect_skopeo peer/private:v1
  assert_success
  [ "$(jq -r .Digest <<<"$output")" = "$IMG_DIGEST" ]
}

@test "tls-token and tls-basic: auth over TLS" {
  registry_start tls-token
  [ -f "$REGISTRY_CERTS_D/$REGISTRY/ca.crt" ]
  push_and_check peer/tlstoken
  grep -q "^200 GET user=$REGISTRY_USER scope=repository:peer/tlstoken:pull,push" "$TOKEN_LOG"
  registry_stop

  registry_start tls-basic
  run http_code --cacert "$REGISTRY_CA" /v2/
  assert_output 401
  push_and_check peer/tlsbasic
}

@test "registry_stop ends both servers, removes the dir, unsets the variables; twice is fine" {
  registry_start token
  local pid=$REGISTRY_PID tpid=$TOKEN_PID dir=$REGISTRY_DIR addr=$REGISTRY
  kill -0 "$pid"
  kill -0 "$tpid"
  registry_stop
  run kill -0 "$pid"
  assert_failure
  run kill -0 "$tpid"
  assert_failure
  [ ! -e "$dir" ]
  [ -z "${REGISTRY:-}${REGISTRY_PID:-}${REGISTRY_DIR:-}${REGISTRY_USER:-}${TOKEN_PID:-}${TOKEN_REALM:-}" ]
  run curl -s --max-time 2 "http://$addr/v2/"
  assert_failure
  registry_stop
  # and a fresh one starts again
  registry_start plain
  [ "$REGISTRY_DIR" != "$dir" ]
}

@test "registry_start: an unknown mode is refused; a second start without stop is refused" {
  run registry_start bogus
  assert_failure 2
  assert_output --partial "unknown mode 'bogus'"
  registry_start plain
  run registry_start plain
  assert_failure
  assert_output --partial 'already running'
  # the first one still serves
  run curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/v2/"
  assert_output 200
}

@test "registry_start: a registry that cannot start fails with its log" {
  # a docker-registry that dies at once, as on a bad config
  mkdir -p "$W/bin"
  printf '#!/bin/sh\necho "fake registry: cannot serve" >&2\nexit 3\n' >"$W/bin/docker-registry"
  chmod +x "$W/bin/docker-registry"
  # its own parent dir, so another suite running at once cannot confuse
  # the check that nothing is left
  mkdir -p "$W/tmp"
  PATH="$W/bin:$PATH" REGISTRY_TMPDIR="$W/tmp" run registry_start plain
  assert_failure
  assert_output --partial 'registry_start: docker-registry (plain) exited'
  assert_output --partial 'fake registry: cannot serve'
  [ -z "$(ls -A "$W/tmp")" ]
}

@test "registry_skopeo_creds: the flags of each mode" {
  registry_start plain
  run registry_skopeo_creds
  assert_output -- '--dest-tls-verify=false'
  run registry_skopeo_creds src
  assert_output -- '--src-tls-verify=false'
  registry_stop
  registry_start tls-basic
  run registry_skopeo_creds none
  assert_line --index 0 -- "--cert-dir=$REGISTRY_CERTS_D/$REGISTRY"
  assert_line --index 1 -- "--creds=$REGISTRY_USER:$REGISTRY_PASS"
}
