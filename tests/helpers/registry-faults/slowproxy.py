"""A proxy to UPSTREAM that slows one direction to RATE bytes/s: "down"
(what the server answers: a slow pull) or "up" (what the client sends: a
slow push). usage: slowproxy.py UPSTREAM RATE up|down PORTFILE"""
import socket, sys, threading, time, serve
host, port = sys.argv[1].rsplit(":", 1)
rate = int(sys.argv[2])
slow_up = sys.argv[3] == "up"

def pipe(src, dst, slow):
    try:
        while True:
            data = src.recv(8192 if slow else 65536)
            if not data:
                break
            dst.sendall(data)
            if slow:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

srv = serve.listen(sys.argv[4])
while True:
    c = srv.accept()[0]
    try:
        u = socket.create_connection((host, int(port)))
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u, slow_up), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, not slow_up), daemon=True).start()
