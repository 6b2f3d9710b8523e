import os, socket, threading

def listen(portfile):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    tell(portfile, s.getsockname()[1])
    return s

def tell(portfile, port):
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(portfile + ".tmp", portfile)

def proxy(portfile, upstream, up, down):
    """Accept on a new port (told to portfile) and join each client to a
    connection of its own to UPSTREAM ("host:port"): up(client, upstream)
    and down(upstream, client), each on a thread, carry the bytes."""
    host, port = upstream.rsplit(":", 1)
    srv = listen(portfile)
    while True:
        c = srv.accept()[0]
        try:
            u = socket.create_connection((host, int(port)))
        except OSError:
            c.close()
            continue
        threading.Thread(target=up, args=(c, u), daemon=True).start()
        threading.Thread(target=down, args=(u, c), daemon=True).start()
