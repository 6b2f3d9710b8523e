#!/usr/bin/env python3
"""pty-drive.py STEP... -- COMMAND [ARG...]: run COMMAND on a new pseudo-
terminal (24x80) and drive it as a person would. Steps, in order:

  expect:TEXT   wait (up to 15 s) until TEXT has been printed; fail if not
  send:TEXT     type TEXT (Python escapes: \\x10 is ctrl-p, \\r Enter)
  sleep:SECS    wait
  exit          wait for COMMAND to end, print "exit N" (its status)
  pid           print "pid N" (COMMAND's pid)

Everything COMMAND prints goes to stdout too, after the steps' lines are
done, as "output:" and the text with escapes. Exits 1 if a step fails.
stdlib only."""
import codecs
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time


def main():
    if "--" not in sys.argv:
        sys.stderr.write(__doc__)
        return 2
    i = sys.argv.index("--")
    steps, cmd = sys.argv[1:i], sys.argv[i + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    ok = True

    def pump(timeout):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        seen += data
        return bool(data)

    status = None
    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "expect":
            want = codecs.decode(arg, "unicode_escape").encode("latin-1")
            end = time.time() + 15
            while want not in seen and time.time() < end:
                if not pump(0.2):
                    break
            if want not in seen:
                print("step failed: " + step)
                ok = False
                break
        elif kind == "send":
            os.write(fd, codecs.decode(arg, "unicode_escape").encode("latin-1"))
        elif kind == "sleep":
            end = time.time() + float(arg)
            while time.time() < end:
                pump(0.05)
        elif kind == "pid":
            print("pid %d" % pid)
        elif kind == "exit":
            end = time.time() + 15
            while status is None and time.time() < end:
                pump(0.1)
                got, st = os.waitpid(pid, os.WNOHANG)
                if got == pid:
                    status = os.waitstatus_to_exitcode(st)
            if status is None:
                print("step failed: exit")
                ok = False
                break
            print("exit %d" % status)
    if status is None:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
    print("output:" + seen.decode("latin-1").encode("unicode_escape").decode("ascii"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
