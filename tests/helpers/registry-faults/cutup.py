"""A proxy to UPSTREAM that cuts the first connection whose client has sent
more than CUT bytes, once. usage: cutup.py UPSTREAM CUT PORTFILE"""
import socket, sys, threading, serve
cut = int(sys.argv[2])
state = {"cut": False}
lock = threading.Lock()

def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

def up(c, u):
    sent = 0
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            with lock:
                if not state["cut"] and sent + len(data) > cut:
                    state["cut"] = True
                    u.sendall(data[: cut - sent])
                    close(c, u)
                    return
            u.sendall(data)
            sent += len(data)
    except OSError:
        pass
    close(c, u)

def down(u, c):
    try:
        while True:
            data = u.recv(65536)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass

serve.proxy(sys.argv[3], sys.argv[1], up, down)
