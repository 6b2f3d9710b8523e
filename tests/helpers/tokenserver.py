#!/usr/bin/env python3
"""A Docker token-auth server for tests (python3 + python3-cryptography).

usage: tokenserver.py --key KEY.pem --cert CERT.pem --users FILE
                      --port-file FILE --log FILE
                      [--issuer ISS] [--service SVC] [--anonymous pull|none]
                      [--ttl SECONDS]

It binds 127.0.0.1 on a port the kernel picks, writes that port to
--port-file (so the caller never races for a port), and serves
distribution's token flow (docs: spec/auth/token.md, jwt.md, oauth.md):

  GET  /token?service=SVC&scope=repository:NAME:pull,push[&scope=...]
       HTTP Basic credentials optional
  POST /token  (OAuth2 form: grant_type=password&username&password, or
       grant_type=refresh_token&refresh_token; service, scope)

Answer 200: {"token", "access_token", "expires_in", "issued_at"} (POST with
grant_type=password also gets a "refresh_token"). The token is a JWT signed
RS256 with KEY, its header carrying CERT in "x5c" (and the libtrust "kid"),
claims iss, sub, aud, exp, nbf, iat, jti and access.

Policy: a user of --users (lines "user:password", plain text) gets every
action asked for (pull, push, delete, *) on every repository, and
registry:catalog:*. An anonymous client gets pull only with --anonymous
pull (the default, like a public repository on Docker Hub), nothing with
--anonymous none; either way it gets a token (the registry then refuses
what the token does not grant). Wrong credentials, or a service other
than --service: 401 / 400, and no token.

Every request to /token appends one line to --log:
  200 GET user=NAME scope=repository:a/b:pull,push scope=... granted=a/b:pull,push;...
  401 GET user=NAME
user is "-" for an anonymous client; a request without scope logs none.
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ACTIONS = {"pull", "push", "delete", "*"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(public_key):
    """The key id distribution understands: sha256 of the DER public key,
    240 bits, base32, in 12 groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


class Issuer:
    """Signs tokens; holds the policy and the refresh tokens handed out."""

    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.header = {
            "typ": "JWT",
            "alg": "RS256",
            "kid": libtrust_kid(cert.public_key()),
            "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        self.users = {}
        with open(args.users) as f:
            for line in f:
                line = line.rstrip("\n")
                if ":" in line:
                    user, password = line.split(":", 1)
                    self.users[user] = password
        self.issuer = args.issuer
        self.service = args.service
        self.anonymous = args.anonymous
        self.ttl = args.ttl
        self.refresh = {}
        self.lock = threading.Lock()

    def check(self, user, password):
        want = self.users.get(user)
        return want is not None and secrets.compare_digest(want, password)

    def allowed(self, user, rtype, actions):
        if user:
            return actions & ACTIONS if rtype in ("repository", "registry") else set()
        if rtype == "repository" and self.anonymous == "pull":
            return actions & {"pull"}
        return set()

    def access(self, user, scopes):
        """Intersect what each scope asks with what the policy grants."""
        out = []
        for scope in scopes:
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3:
                    continue
                rtype, name, acts = parts[0], ":".join(parts[1:-1]), parts[-1]
                granted = self.allowed(user, rtype, set(acts.split(",")))
                if granted:
                    out.append({"type": rtype, "name": name,
                                "actions": sorted(granted)})
        return out

    def sign(self, user, access):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + self.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        head = b64url(json.dumps(self.header, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = (head + "." + body).encode()
        sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return head + "." + body + "." + b64url(sig), now

    def new_refresh(self, user):
        tok = secrets.token_urlsafe(24)
        with self.lock:
            self.refresh[tok] = user
        return tok

    def refresh_user(self, tok):
        with self.lock:
            return self.refresh.get(tok)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "ctr-test-tokenserver/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: token.log is the record
        pass

    def reply(self, code, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, code, user, scopes, access=None):
        line = "%d %s user=%s" % (code, self.command, user or "-")
        line += "".join(" scope=" + s for s in scopes)
        if access is not None:
            line += " granted=" + ";".join(
                "%s:%s" % (a["name"], ",".join(a["actions"])) for a in access)
        srv = self.server
        with srv.log_lock:
            with open(srv.log_path, "a") as f:
                f.write(line + "\n")

    def basic_credentials(self):
        """(user, password) from an Authorization: Basic header, or None."""
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(auth[6:].strip()).decode()
        except Exception:
            return ("", "")
        user, _, password = raw.partition(":")
        return (user, password)

    def deny(self, user, scopes):
        self.record(401, user, scopes)
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                     "message": "invalid username or password"}]},
                   {"WWW-Authenticate": 'Basic realm="ctr-test-token"'})

    def grant(self, user, service, scopes, with_refresh=False):
        iss = self.server.issuer
        if service and service != iss.service:
            self.record(400, user, scopes)
            self.reply(400, {"errors": [{"code": "DENIED",
                                         "message": "unknown service " + service}]})
            return
        access = iss.access(user, scopes)
        token, now = iss.sign(user, access)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": iss.ttl,
            "issued_at": datetime.datetime.fromtimestamp(
                now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if with_refresh and user:
            body["refresh_token"] = iss.new_refresh(user)
        self.record(200, user, scopes, access)
        self.reply(200, body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        q = urllib.parse.parse_qs(url.query)
        scopes = q.get("scope", [])
        service = q.get("service", [""])[0]
        cred = self.basic_credentials()
        user = None
        if cred is not None:
            if not self.server.issuer.check(*cred):
                self.deny(cred[0], scopes)
                return
            user = cred[0]
        self.grant(user, service, scopes)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        scopes = form.get("scope", [])
        service = form.get("service", [""])[0]
        grant_type = form.get("grant_type", [""])[0]
        iss = self.server.issuer
        if grant_type == "password":
            user = form.get("username", [""])[0]
            if not iss.check(user, form.get("password", [""])[0]):
                self.deny(user, scopes)
                return
            self.grant(user, service, scopes, with_refresh=True)
        elif grant_type == "refresh_token":
            user = iss.refresh_user(form.get("refresh_token", [""])[0])
            if user is None:
                self.deny("-", scopes)
                return
            self.grant(user, service, scopes, with_refresh=True)
        else:
            self.record(400, None, scopes)
            self.reply(400, {"error": "unsupported_grant_type"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--issuer", default="ctr-test-token")
    p.add_argument("--service", default="ctr-test-registry")
    p.add_argument("--anonymous", choices=["pull", "none"], default="pull")
    p.add_argument("--ttl", type=int, default=300)
    args = p.parse_args()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.issuer = Issuer(args)
    srv.log_path = args.log
    srv.log_lock = threading.Lock()
    open(args.log, "a").close()
    # The port is announced only once the socket listens: write, rename.
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
