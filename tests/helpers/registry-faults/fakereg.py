"""A scripted registry. SPEC (JSON) maps a path to the answers it gets in
turn, the last repeating: {"/v2/x/manifests/1": [{"status": 503},
{"status": 200, "headers": {...}, "body": "..."}]}. Other paths: 404
MANIFEST_UNKNOWN; /v2/: 200. LOG gets "METHOD PATH RANGE" per request.
usage: fakereg.py SPEC LOG PORTFILE"""
import http.server, json, sys, threading, serve
spec, log, lock = json.load(open(sys.argv[1])), sys.argv[2], threading.Lock()
unknown = {"status": 404, "headers": {"Content-Type": "application/json"},
           "body": '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self):
        with lock:
            with open(log, "a") as f:
                f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Range", "-")))
            q = spec.get(self.path)
            a = {"status": 200, "body": "{}"} if self.path == "/v2/" else \
                (q.pop(0) if len(q) > 1 else q[0]) if q else unknown
        body = a.get("body", "").encode()
        self.send_response(a["status"])
        for k, v in a.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = answer

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
serve.tell(sys.argv[3], srv.server_address[1])
srv.serve_forever()
