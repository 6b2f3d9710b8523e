"""Accepts connections and never answers. usage: stall.py PORTFILE"""
import sys, serve
srv, held = serve.listen(sys.argv[1]), []
while True:
    held.append(srv.accept()[0])
