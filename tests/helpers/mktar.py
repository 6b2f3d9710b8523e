#!/usr/bin/env python3
"""Write an uncompressed layer tar fixture for the extractor's tests.

usage: mktar.py KIND OUT [OUTSIDE]
       mktar.py --list

OUT is a file name, or "-" for stdout. OUTSIDE (default /tmp) is the
directory the hostile kinds aim at, so a test can use a private one and
check nothing appeared there.

Hostile kinds (extraction must fail, naming the entry; nothing may be
written outside the destination):
  dotdot                entry ../ctr-evil
  symlink-escape        symlink lnk -> OUTSIDE, then file lnk/ctr-evil
  symlink-dotdot        symlink lnk -> ../../.., then file lnk/ctr-evil
  hardlink-escape       hardlink pw -> ../../etc/passwd
  hardlink-via-symlink  symlink l -> OUTSIDE, hardlink pw -> l/passwd
Kinds that must extract:
  absolute   file OUTSIDE/ctr-evil-abs (an absolute name): the leading "/"
             is stripped, as GNU tar and Docker do, so it lands inside
  good       a couple of plain files and a directory
  special    owners, setuid/setgid/sticky, nanosecond mtimes, xattrs
             (user.foo, security.capability), a hardlink pair, symlinks,
             a char device, a fifo, a sparse file, empty directories
  whiteout   .wh.gone, sub/.wh..wh..opq and sub/keep
  overwrite  duplicate names: later entries win, a file replaces a symlink
             and empty directories
"""
import io
import sys
import tarfile

MTIME = 1700000000
# vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE (10)
CAPABILITY = bytes([1, 0, 0, 2, 0, 4, 0, 0] + [0] * 12)


def info(name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, mtime=MTIME,
         **extra):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = mtime
    for k, v in extra.items():
        setattr(ti, k, v)
    return ti


def add_file(tar, name, data=b"", **kw):
    ti = info(name, **kw)
    ti.size = len(data)
    tar.addfile(ti, io.BytesIO(data))


def add_dir(tar, name, mode=0o755, **kw):
    tar.addfile(info(name, tarfile.DIRTYPE, mode=mode, **kw))


def add_symlink(tar, name, target, **kw):
    tar.addfile(info(name, tarfile.SYMTYPE, mode=0o777, linkname=target, **kw))


def add_hardlink(tar, name, target, **kw):
    tar.addfile(info(name, tarfile.LNKTYPE, linkname=target, **kw))


def add_sparse(tar, name, realsize, chunks, **kw):
    """A PAX 1.0 sparse file (what GNU tar --sparse --format=pax writes):
    the data starts with a map block, then the chunks' bytes."""
    mapping = "%d\n" % len(chunks)
    for off, data in chunks:
        mapping += "%d\n%d\n" % (off, len(data))
    raw = mapping.encode()
    raw += b"\0" * (-len(raw) % tarfile.BLOCKSIZE)
    for _, data in chunks:
        raw += data
    ti = info("GNUSparseFile.0/" + name, **kw)
    ti.size = len(raw)
    ti.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(realsize),
    }
    tar.addfile(ti, io.BytesIO(raw))


def good(tar, outside):
    add_dir(tar, "etc/")
    add_file(tar, "etc/hostname", b"ctr\n")
    add_file(tar, "hello.txt", b"hello, layer\n")
    add_file(tar, "bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755)


def dotdot(tar, outside):
    add_file(tar, "ok", b"fine\n")
    add_file(tar, "../ctr-evil", b"evil\n")


def absolute(tar, outside):
    add_file(tar, outside.rstrip("/") + "/ctr-evil-abs", b"inside\n")


def symlink_escape(tar, outside):
    add_symlink(tar, "lnk", outside)
    add_file(tar, "lnk/ctr-evil", b"evil\n")


def symlink_dotdot(tar, outside):
    add_symlink(tar, "lnk", "../../..")
    add_file(tar, "lnk/ctr-evil", b"evil\n")


def hardlink_escape(tar, outside):
    add_hardlink(tar, "pw", "../../etc/passwd")


def hardlink_via_symlink(tar, outside):
    add_symlink(tar, "l", outside)
    add_hardlink(tar, "pw", "l/passwd")


def special(tar, outside):
    add_dir(tar, "owned/", mode=0o755, uid=1000, gid=1000, mtime=1111111111)
    add_file(tar, "owned/file", b"mine\n", mode=0o640, uid=1000, gid=1000)
    add_file(tar, "suid", b"#!/bin/sh\n", mode=0o4755)
    add_file(tar, "sgid", b"#!/bin/sh\n", mode=0o2755, gid=50)
    add_dir(tar, "sticky/", mode=0o1777)
    add_file(tar, "mtime", b"t\n", mtime=1234567890.5)
    add_file(tar, "xattr", b"caps\n", pax_headers={
        "SCHILY.xattr.user.foo": "bar",
        "SCHILY.xattr.security.capability": CAPABILITY.decode("latin-1"),
    })
    add_file(tar, "hl-a", b"shared\n")
    add_hardlink(tar, "hl-b", "hl-a")
    add_symlink(tar, "rel", "hl-a")
    add_symlink(tar, "abs", "/etc/passwd")
    tar.addfile(info("null", tarfile.CHRTYPE, mode=0o666, devmajor=1,
                     devminor=3))
    tar.addfile(info("fifo", tarfile.FIFOTYPE, mode=0o644))
    add_sparse(tar, "sparse", 4 << 20, [(1 << 20, b"x" * 4096)])
    add_dir(tar, "empty/", mode=0o750, mtime=1000000000)


def whiteout(tar, outside):
    add_file(tar, ".wh.gone")
    add_file(tar, "sub/.wh..wh..opq")
    add_file(tar, "sub/keep", b"kept\n")


def overwrite(tar, outside):
    add_file(tar, "f", b"one\n")
    add_file(tar, "f", b"two\n")
    add_symlink(tar, "s", "f")
    add_file(tar, "s", b"not through the link\n")
    add_dir(tar, "d/")
    add_file(tar, "d", b"replaces an empty dir\n")
    add_dir(tar, "p/")
    add_dir(tar, "p/d/")
    add_file(tar, "p/d", b"replaces an empty subdir\n")
    add_file(tar, "p/e", b"after it\n")
    add_file(tar, "q/.wh..wh..opq")
    add_file(tar, "q", b"replaces an opaque empty dir\n")
    add_file(tar, "r/x", b"after it\n")


KINDS = {
    "good": good,
    "dotdot": dotdot,
    "absolute": absolute,
    "symlink-escape": symlink_escape,
    "symlink-dotdot": symlink_dotdot,
    "hardlink-escape": hardlink_escape,
    "hardlink-via-symlink": hardlink_via_symlink,
    "special": special,
    "whiteout": whiteout,
    "overwrite": overwrite,
}


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(KINDS))
        return 0
    if len(argv) not in (3, 4) or argv[1] not in KINDS:
        sys.stderr.write(__doc__)
        return 2
    outside = argv[3] if len(argv) == 4 else "/tmp"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        KINDS[argv[1]](tar, outside)
    if argv[2] == "-":
        sys.stdout.buffer.write(buf.getvalue())
    else:
        with open(argv[2], "wb") as f:
            f.write(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
