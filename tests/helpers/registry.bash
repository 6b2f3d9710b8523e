# shellcheck shell=bash
# A real registry on loopback for tests and benchmarks: Debian's
# docker-registry (distribution 2.8), started on 127.0.0.1 on a free port
# with its own config, storage, certificates and, for token auth, its own
# token server (tests/helpers/tokenserver.py). Source it after common.bash
# (or alone, from a bash script):
#
#   registry_start MODE     plain | basic | tls | token | tls-client
#                           (also tls-basic, tls-token: TLS plus that auth)
#   registry_stop           kill what registry_start started, remove its dir
#   registry_skopeo_creds [dest|src|none]
#                           skopeo's flags for this registry, one a line:
#                           --dest-tls-verify=false (HTTP) or
#                           --dest-cert-dir=$REGISTRY_CERTS_D/$REGISTRY (TLS),
#                           and --dest-creds=USER:PASS (basic, token);
#                           "src" gives --src-…, "none" the unprefixed form
#                           (skopeo inspect, delete)
#   registry_push_skopeo SRC REPO:TAG      skopeo copy SRC docker://$REGISTRY/REPO:TAG
#   registry_pull_skopeo REPO:TAG DEST     skopeo copy docker://$REGISTRY/REPO:TAG DEST
#   registry_inspect_skopeo REPO:TAG [ARGS…]  skopeo inspect [ARGS…] docker://…
#
# registry_start exports:
#   REGISTRY        127.0.0.1:PORT
#   REGISTRY_PID    the docker-registry process
#   REGISTRY_DIR    temp dir: config.yml, storage/, registry.log, certs, …
#   REGISTRY_MODE   the MODE given
#   REGISTRY_URL    http://127.0.0.1:PORT or https://127.0.0.1:PORT
#   basic, token:   REGISTRY_USER, REGISTRY_PASS (htpasswd -B, bcrypt)
#   tls*:           REGISTRY_CA (the CA's ca.crt), REGISTRY_CERTS_D (a
#                   certs.d tree: $REGISTRY_CERTS_D/127.0.0.1:PORT/ca.crt)
#   tls-client:     the registry requires a client certificate signed by
#                   that CA; $REGISTRY_CERTS_D/127.0.0.1:PORT/client.cert
#                   and client.key hold one, and so do REGISTRY_CLIENT_CERT
#                   and REGISTRY_CLIENT_KEY (paths without a ':', which the
#                   curl tool would read as "file:passphrase" in --cert)
#   token:          TOKEN_PID, TOKEN_REALM (http://127.0.0.1:TPORT/token),
#                   TOKEN_SERVICE, TOKEN_ISSUER, TOKEN_LOG
#                   ($REGISTRY_DIR/token.log: one line per token request,
#                   "200 GET user=NAME scope=S… granted=…" or
#                   "401 GET user=NAME"; user "-" when anonymous)
#
# Token policy: $REGISTRY_USER gets every action it asks for on every
# repository; an anonymous client gets a pull-only token (like a public
# repository), or a token granting nothing with REGISTRY_TOKEN_ANON=none
# set before registry_start. REGISTRY_TOKEN_TTL (seconds, default 300)
# sets the tokens' lifetime. Set REGISTRY_TMPDIR to choose where the temp
# dir goes (default $TMPDIR or /tmp).
#
# Call registry_start directly, not through bats' `run` (a subshell would
# lose the variables). One registry at a time per shell. It returns
# non-zero with a message and the log's tail on stderr if the registry
# does not answer GET /v2/ within 10 s. registry_stop is safe to call
# twice, or when nothing was started: call it from teardown(_file).

REGISTRY_START_TIMEOUT=${REGISTRY_START_TIMEOUT:-10}

# A port nobody listens on now (the kernel's pick, then released).
registry__free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

registry__fail() {
  local log
  echo "registry_start: $*" >&2
  for log in "$REGISTRY_DIR/registry.log" "$REGISTRY_DIR/token.err"; do
    if [[ -s $log ]]; then
      echo "--- last lines of ${log##*/}:" >&2
      tail -n 20 "$log" >&2
    fi
  done
  registry_stop
  return 1
}

# Is PID alive and still a process of ours (its command line names
# REGISTRY_DIR)? Guards against killing a recycled pid.
registry__ours() {
  local pid=$1 dir=$2
  [[ -n $pid && -n $dir ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$dir"
}

# SIGTERM, up to 5 s, then SIGKILL; reaps it when it is our child.
registry__kill() {
  local pid=$1 dir=$2 i
  registry__ours "$pid" "$dir" || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    registry__ours "$pid" "$dir" || break
    sleep 0.1
  done
  if registry__ours "$pid" "$dir"; then
    kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 20; i++)); do
      registry__ours "$pid" "$dir" || break
      sleep 0.1
    done
  fi
  wait "$pid" 2>/dev/null || true
}

# `env -u` flags for every exported REGISTRY_* variable: the registry must
# not read ours as config overrides (distribution maps REGISTRY_HTTP_ADDR
# to http.addr, and so on).
registry__env_unset() {
  local v
  for v in $(compgen -e); do
    if [[ $v == REGISTRY_* ]]; then
      echo -u
      echo "$v"
    fi
  done
}

registry__openssl() {
  openssl "$@" >>"$REGISTRY_DIR/openssl.log" 2>&1 ||
    { echo "registry_start: openssl $1 failed (see below)" >&2; cat "$REGISTRY_DIR/openssl.log" >&2; return 1; }
}

# A CA, a server certificate for 127.0.0.1 and localhost signed by it,
# and (with client=1) a client certificate; the certs.d tree.
registry__make_tls() {
  local client=$1 d=$REGISTRY_DIR/certs
  mkdir -p "$d"
  registry__openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj "/CN=ctr test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign || return 1
  registry__openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" || return 1
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/server.ext"
  registry__openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.crt" || return 1
  if ((client)); then
    registry__openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$d/client.key" -out "$d/client.csr" -subj "/CN=ctr test client" || return 1
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
      'extendedKeyUsage=clientAuth' >"$d/client.ext"
    registry__openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
      -CAcreateserial -days 2 -extfile "$d/client.ext" -out "$d/client.crt" || return 1
  fi
  export REGISTRY_CA=$d/ca.crt
  if ((client)); then
    export REGISTRY_CLIENT_CERT=$d/client.crt REGISTRY_CLIENT_KEY=$d/client.key
  fi
  export REGISTRY_CERTS_D=$REGISTRY_DIR/certs.d
}

# The certs.d entry, named after the port (known only at the end).
registry__make_certs_d() {
  local host=$REGISTRY_CERTS_D/$REGISTRY
  rm -rf "$REGISTRY_CERTS_D"
  mkdir -p "$host"
  cp "$REGISTRY_CA" "$host/ca.crt"
  if [[ -f $REGISTRY_DIR/certs/client.crt ]]; then
    cp "$REGISTRY_DIR/certs/client.crt" "$host/client.cert"
    cp "$REGISTRY_DIR/certs/client.key" "$host/client.key"
  fi
}

registry__make_htpasswd() {
  export REGISTRY_USER=ctr-tester
  REGISTRY_PASS=pw-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
  export REGISTRY_PASS
  htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$REGISTRY_DIR/htpasswd" 2>/dev/null ||
    { echo "registry_start: htpasswd -Bbn failed" >&2; return 1; }
  # the token server's copy, plain text, readable by us only
  (umask 077 && printf '%s:%s\n' "$REGISTRY_USER" "$REGISTRY_PASS" >"$REGISTRY_DIR/users")
}

# Start tokenserver.py; it picks its port and writes it to token.port.
registry__start_token() {
  local d=$REGISTRY_DIR i helpers
  helpers=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  registry__openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/token.key" \
    -out "$d/token.crt" -days 2 -subj "/CN=ctr test token signer" || return 1
  export TOKEN_SERVICE=ctr-test-registry TOKEN_ISSUER=ctr-test-token
  export TOKEN_LOG=$d/token.log
  python3 "$helpers/tokenserver.py" --key "$d/token.key" --cert "$d/token.crt" \
    --users "$d/users" --port-file "$d/token.port" --log "$TOKEN_LOG" \
    --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
    --anonymous "${REGISTRY_TOKEN_ANON:-pull}" --ttl "${REGISTRY_TOKEN_TTL:-300}" \
    </dev/null >"$d/token.err" 2>&1 3>&- &
  export TOKEN_PID=$!
  for ((i = 0; i < REGISTRY_START_TIMEOUT * 10; i++)); do
    [[ -s $d/token.port ]] && break
    kill -0 "$TOKEN_PID" 2>/dev/null || { registry__fail "the token server exited"; return 1; }
    sleep 0.1
  done
  [[ -s $d/token.port ]] || { registry__fail "the token server did not start in ${REGISTRY_START_TIMEOUT}s"; return 1; }
  TOKEN_REALM=http://127.0.0.1:$(<"$d/token.port")/token
  export TOKEN_REALM
}

registry__write_config() {
  local port=$1 tls=$2 auth=$3 client=$4 d=$REGISTRY_DIR
  {
    cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: ctr-test-$port-$RANDOM$RANDOM
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if ((tls)); then
      cat <<EOF
  tls:
    certificate: $d/certs/server.crt
    key: $d/certs/server.key
EOF
      ((client)) && printf '    clientcas:\n      - %s\n' "$d/certs/ca.crt"
    fi
    case $auth in
    basic) cat <<EOF
auth:
  htpasswd:
    realm: ctr-test
    path: $d/htpasswd
EOF
      ;;
    token) cat <<EOF
auth:
  token:
    realm: $TOKEN_REALM
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $d/token.crt
EOF
      ;;
    esac
  } >"$d/config.yml"
}

# Does the registry answer GET /v2/ (any HTTP status: 200, or 401 when
# it wants credentials)?
registry__answers() {
  local code args=(-s -o /dev/null -w '%{http_code}' --max-time 2)
  [[ -n ${REGISTRY_CA:-} ]] && args+=(--cacert "$REGISTRY_CA")
  [[ -n ${REGISTRY_CLIENT_CERT:-} ]] && args+=(--cert "$REGISTRY_CLIENT_CERT" --key "$REGISTRY_CLIENT_KEY")
  code=$(curl "${args[@]}" "$REGISTRY_URL/v2/" 2>/dev/null) || true
  [[ $code == 200 || $code == 401 ]]
}

registry_start() {
  local mode=${1:-} tls=0 auth=none client=0 attempt port i scheme=http unset
  case $mode in
  plain) ;;
  basic) auth=basic ;;
  token) auth=token ;;
  tls) tls=1 ;;
  tls-client) tls=1 client=1 ;;
  tls-basic) tls=1 auth=basic ;;
  tls-token) tls=1 auth=token ;;
  *) echo "registry_start: unknown mode '$mode' (plain, basic, tls, token, tls-client, tls-basic, tls-token)" >&2
    return 2 ;;
  esac
  local c
  for c in docker-registry python3 curl openssl htpasswd; do
    command -v "$c" >/dev/null 2>&1 || { echo "registry_start: $c not found" >&2; return 1; }
  done
  if [[ -n ${REGISTRY_PID:-} ]]; then
    echo "registry_start: a registry is already running ($REGISTRY); registry_stop first" >&2
    return 1
  fi

  REGISTRY_DIR=$(mktemp -d "${REGISTRY_TMPDIR:-${TMPDIR:-/tmp}}/ctr-registry.XXXXXX") ||
    { echo "registry_start: mktemp failed" >&2; return 1; }
  export REGISTRY_DIR REGISTRY_MODE=$mode
  mkdir -p "$REGISTRY_DIR/storage"
  ((tls)) && { registry__make_tls "$client" || { registry__fail "making certificates failed"; return 1; }; }
  [[ $auth == none ]] || registry__make_htpasswd || { registry__fail "making the htpasswd file failed"; return 1; }
  [[ $auth != token ]] || registry__start_token || return 1
  ((tls)) && scheme=https

  # The kernel's free port can be taken before the registry binds it:
  # then the registry exits at once, and we try another.
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(registry__free_port) || { registry__fail "cannot find a free port"; return 1; }
    export REGISTRY=127.0.0.1:$port REGISTRY_URL=$scheme://127.0.0.1:$port
    registry__write_config "$port" "$tls" "$auth" "$client"
    : >"$REGISTRY_DIR/registry.log"
    mapfile -t unset < <(registry__env_unset)
    # a simple command, so that $! is docker-registry itself (env execs it)
    env "${unset[@]}" docker-registry serve "$REGISTRY_DIR/config.yml" \
      </dev/null >>"$REGISTRY_DIR/registry.log" 2>&1 3>&- &
    export REGISTRY_PID=$!
    for ((i = 0; i < REGISTRY_START_TIMEOUT * 10; i++)); do
      registry__answers && break
      kill -0 "$REGISTRY_PID" 2>/dev/null || break
      sleep 0.1
    done
    if registry__answers; then
      ((tls)) && registry__make_certs_d
      return 0
    fi
    if kill -0 "$REGISTRY_PID" 2>/dev/null; then
      registry__fail "docker-registry ($mode) did not answer GET $REGISTRY_URL/v2/ within ${REGISTRY_START_TIMEOUT}s"
      return 1
    fi
    wait "$REGISTRY_PID" 2>/dev/null || true
    unset REGISTRY_PID
    grep -q 'address already in use' "$REGISTRY_DIR/registry.log" || break
  done
  registry__fail "docker-registry ($mode) exited instead of serving on ${REGISTRY:-?}"
  return 1
}

registry_stop() {
  local dir=${REGISTRY_DIR:-}
  if [[ -n $dir ]]; then
    registry__kill "${REGISTRY_PID:-}" "$dir"
    registry__kill "${TOKEN_PID:-}" "$dir"
    [[ -d $dir ]] && rm -rf -- "$dir"
  fi
  unset REGISTRY REGISTRY_PID REGISTRY_DIR REGISTRY_MODE REGISTRY_URL \
    REGISTRY_USER REGISTRY_PASS REGISTRY_CA REGISTRY_CERTS_D \
    REGISTRY_CLIENT_CERT REGISTRY_CLIENT_KEY \
    TOKEN_PID TOKEN_REALM TOKEN_SERVICE TOKEN_ISSUER TOKEN_LOG
  return 0
}

# registry_skopeo_creds [dest|src|none]: skopeo's flags for this registry,
# one per line (use: mapfile -t f < <(registry_skopeo_creds dest)).
registry_skopeo_creds() {
  local p
  case ${1:-dest} in
  dest) p=--dest- ;;
  src) p=--src- ;;
  none) p=-- ;;
  *) echo "registry_skopeo_creds: dest, src or none" >&2; return 2 ;;
  esac
  if [[ -n ${REGISTRY_CERTS_D:-} ]]; then
    echo "${p}cert-dir=$REGISTRY_CERTS_D/$REGISTRY"
  else
    echo "${p}tls-verify=false"
  fi
  if [[ -n ${REGISTRY_USER:-} ]]; then
    echo "${p}creds=$REGISTRY_USER:$REGISTRY_PASS"
  fi
}

# REPO:TAG (or $REGISTRY/REPO:TAG, or docker://…) as a docker:// reference.
registry__ref() {
  local r=${1#docker://}
  r=${r#"$REGISTRY"/}
  echo "docker://$REGISTRY/$r"
}

registry_push_skopeo() {
  local src=$1 dest flags
  dest=$(registry__ref "$2")
  mapfile -t flags < <(registry_skopeo_creds dest)
  skopeo copy -q "${flags[@]}" "$src" "$dest"
}

registry_pull_skopeo() {
  local src dest=$2 flags
  src=$(registry__ref "$1")
  mapfile -t flags < <(registry_skopeo_creds src)
  skopeo copy -q "${flags[@]}" "$src" "$dest"
}

registry_inspect_skopeo() {
  local ref flags
  ref=$(registry__ref "$1")
  shift
  mapfile -t flags < <(registry_skopeo_creds none)
  skopeo inspect "${flags[@]}" "$@" "$ref"
}
