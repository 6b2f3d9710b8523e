"""A proxy to UPSTREAM that slows one direction to RATE bytes/s: "down"
(what the server answers: a slow pull) or "up" (what the client sends: a
slow push). usage: slowproxy.py UPSTREAM RATE up|down PORTFILE"""
import socket, sys, time, serve
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

serve.proxy(sys.argv[4], sys.argv[1], lambda c, u: pipe(c, u, slow_up),
            lambda u, c: pipe(u, c, not slow_up))
