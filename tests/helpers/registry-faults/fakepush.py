"""A scripted registry for pushes. SPEC (JSON) maps "METHOD PATH" (PATH
without its query) to the answers it gets in turn, the last repeating:
{"POST /v2/x/blobs/uploads/": [{"status": 503}, {"status": 403, ...}]}.
Unlisted: GET /v2/ 200; HEAD 404; POST 202 with a Location; PUT 201.
LOG gets "METHOD PATH" (with the query) per request.
usage: fakepush.py SPEC LOG PORTFILE"""
import http.server, json, sys, threading, uuid, serve
spec, log, lock = json.load(open(sys.argv[1])), sys.argv[2], threading.Lock()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path.split("?")[0]
        with lock:
            with open(log, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))
            q = spec.get(self.command + " " + path)
            a = (q.pop(0) if len(q) > 1 else q[0]) if q else None
        if a is None:
            if self.command == "POST":
                a = {"status": 202, "headers": {"Location": path + str(uuid.uuid4())}}
            elif self.command == "PUT":
                a = {"status": 201}
            elif self.command == "HEAD" or path != "/v2/":
                a = {"status": 404}
            else:
                a = {"status": 200, "body": "{}"}
        body = a.get("body", "").encode()
        self.send_response(a["status"])
        for k, v in a.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = answer

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
serve.tell(sys.argv[3], srv.server_address[1])
srv.serve_forever()
