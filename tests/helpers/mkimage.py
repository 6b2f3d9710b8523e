#!/usr/bin/env python3
"""Build small OCI images for ctr-image's tests (stdlib, plus the zstd CLI
for --compression zstd). The same options always give the same bytes.

usage: mkimage.py [options] OUT

OUT is an OCI layout directory (--format layout, the default) or an archive
file (--format oci-archive | docker-archive).

  --layers N          built-in layers (default 3). The first three are a
                      rich fixture: dirs, files, a 64 KiB binary, symlinks
                      (relative, absolute, dangling), a hardlink pair, setuid,
                      setgid and sticky modes, owned files; layer 2 whites out
                      a file (.wh.gone) and a dir (.wh.olddir) of layer 1 and
                      makes opq/ opaque; layer 3 recreates olddir/. Layers
                      past the third add one file each.
  --layer-tar FILE    use FILE (a plain tar, e.g. from mktar.py) as a layer
                      instead of the built-in ones; repeatable, bottom first
  --compression gzip|zstd|none   layer compression (default gzip)
  --format layout|oci-archive|docker-archive
  --name NAME         the image's name (ref.name annotation / RepoTags);
                      default test:latest, "" for none
  --images N          N images in one archive, named NAME-1 … (different
                      salts, so different images)
  --salt TEXT         add the file "salt" (TEXT) to the top layer
  --bulk KIB          add KIB KiB of incompressible bytes ("bulk") to the
                      top layer, for imports that take a while
  --break KIND        a deliberately broken variant:
      blob-digest         the top layer's bytes differ from its digest
      size                the top layer's descriptor size is off by one
      index-json          index.json is not JSON
      manifest-json       the manifest blob is not JSON (its digest is right)
      config-json         the config blob is not JSON (its digest is right)
      layer-mediatype     the top layer has an unknown mediaType
      manifest-mediatype  the manifest (and its descriptor) has an unknown
                          mediaType
      diffid-count        the config lists one diff_id fewer than layers
      diffid-mismatch     the top diff_id is not the layer's content
      missing-blob        the top layer's blob is absent
      layer-truncated     the top layer is cut in half (digest and size
                          match the cut bytes: only unpacking can tell)
      no-layout           there is no oci-layout file
    docker-archive takes config-json, diffid-count, diffid-mismatch,
    missing-blob and layer-truncated.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

MTIME = 1700000000
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {"none": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
BREAKS = ["blob-digest", "size", "index-json", "manifest-json", "config-json",
          "layer-mediatype", "manifest-mediatype", "diffid-count",
          "diffid-mismatch", "missing-blob", "layer-truncated", "no-layout"]
DOCKER_BREAKS = ["config-json", "diffid-count", "diffid-mismatch",
                 "missing-blob", "layer-truncated"]


class Layer:
    """A tar being written, with helpers for each entry type."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w",
                                format=tarfile.PAX_FORMAT)

    def _info(self, name, kind, mode, uid=0, gid=0):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, MTIME
        ti.uname = ti.gname = ""
        return ti

    def dir(self, name, mode=0o755, **kw):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, **kw))

    def file(self, name, data=b"", mode=0o644, **kw):
        ti = self._info(name, tarfile.REGTYPE, mode, **kw)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def noise(n, seed=b"ctr"):
    """n pseudo-random bytes: a hash chain, 4 KiB at a time."""
    out, h = [], hashlib.sha256(seed).digest()
    for _ in range((n + 4095) // 4096):
        h = hashlib.sha256(h).digest()
        out.append(hashlib.shake_256(h).digest(4096))
    return b"".join(out)[:n]


def rich_layer(i, salt, bulk):
    """Layer i (0-based) of the built-in image."""
    t = Layer()
    if i == 0:
        for d in ("bin/", "etc/", "usr/", "usr/bin/", "usr/lib/", "opq/",
                  "olddir/"):
            t.dir(d)
        t.dir("tmp/", 0o1777)
        t.dir("home/")
        t.dir("home/user/", 0o750, uid=1000, gid=1000)
        t.file("etc/hostname", b"ctr-test\n")
        t.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
               b"user:x:1000:1000::/home/user:/bin/sh\n")
        t.file("bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
        t.hardlink("bin/tool-hard", "bin/tool")
        t.symlink("bin/sh", "tool")
        t.file("usr/bin/su", b"setuid\n", 0o4755)
        t.file("usr/lib/blob.bin", noise(65536))
        t.file("home/user/file", b"mine\n", 0o640, uid=1000, gid=1000)
        t.file("gone", b"whited out by layer 2\n")
        t.file("opq/a", b"a\n")
        t.file("opq/b", b"b\n")
        t.file("olddir/x", b"x\n")
        t.file("replaced", b"old\n")
    elif i == 1:
        t.dir("etc/")
        t.dir("usr/")
        t.dir("usr/bin/")
        t.file(".wh.gone")
        t.file(".wh.olddir")
        t.dir("opq/", 0o750)
        t.file("opq/.wh..wh..opq")
        t.file("opq/c", b"c\n")
        t.file("replaced", b"new, longer\n", 0o600)
        t.file("etc/motd", b"layer 2\n")
        t.dir("secret/", 0o700)
        t.symlink("etc/abs-link", "/etc/passwd")
        t.symlink("dangling", "does/not/exist")
        t.file("usr/bin/sg", b"setgid\n", 0o2755, gid=50)
    elif i == 2:
        t.dir("etc/")
        t.file("etc/motd", b"layer 3\n")
        t.dir("olddir/", 0o711)
        t.file("olddir/y", b"y\n")
        t.file("empty", b"")
        t.dir("lib/")
        t.file("lib/one", b"linked\n", 0o444)
        t.hardlink("lib/two", "lib/one")
    else:
        t.file("layer%d.txt" % (i + 1), b"layer %d\n" % (i + 1))
    if salt is not None:
        t.file("salt", salt.encode())
    if bulk:
        t.file("bulk", noise(bulk * 1024, (salt or "").encode()))
    return t.bytes()


def compress(data, how):
    if how == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
            g.write(data)
        return out.getvalue()
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, check=True,
                              stdout=subprocess.PIPE).stdout
    return data


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(doc):
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def build_image(a, salt, blobs):
    """Add one image's blobs to blobs {digest: bytes}; return its parts."""
    if a.layer_tar:
        tars = []
        for i, path in enumerate(a.layer_tar):
            with open(path, "rb") as f:
                data = f.read()
            if salt is not None and i == len(a.layer_tar) - 1:
                data = add_salt(data, salt)
            tars.append(data)
    else:
        tars = [rich_layer(i, salt if i == a.layers - 1 else None,
                           a.bulk if i == a.layers - 1 else 0)
                for i in range(a.layers)]
    diff_ids = [sha(t) for t in tars]
    layers = []
    for i, t in enumerate(tars):
        data = compress(t, a.compression)
        if a.brk == "layer-truncated" and i == len(tars) - 1:
            data = data[:len(data) // 2]
        layers.append({"mediaType": MT_LAYER[a.compression],
                       "digest": sha(data), "size": len(data)})
        blobs[sha(data)] = data
    if a.brk == "diffid-count":
        diff_ids = diff_ids[:-1]
    if a.brk == "diffid-mismatch":
        diff_ids[-1] = sha(b"not the layer")
    config = {"created": "2023-11-14T22:13:20Z", "architecture": "amd64",
              "os": "linux",
              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin:/usr/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": "2023-11-14T22:13:20Z",
                           "created_by": "mkimage.py layer %d" % i}
                          for i in range(len(tars))]}
    cbytes = b"{not json" if a.brk == "config-json" else dumps(config)
    blobs[sha(cbytes)] = cbytes
    top = layers[-1]
    if a.brk == "size":
        top["size"] += 1
    if a.brk == "layer-mediatype":
        top["mediaType"] = "application/vnd.example.layer.v1.tar+lz4"
    if a.brk == "blob-digest":
        data = bytearray(blobs[top["digest"]])
        data[len(data) // 2] ^= 0xFF
        blobs[top["digest"]] = bytes(data)
    if a.brk == "missing-blob":
        blobs[top["digest"]] = None
    mtype = MT_MANIFEST
    if a.brk == "manifest-mediatype":
        mtype = "application/vnd.example.manifest.v9+json"
    manifest = {"schemaVersion": 2, "mediaType": mtype,
                "config": {"mediaType": MT_CONFIG, "digest": sha(cbytes),
                           "size": len(cbytes)},
                "layers": layers}
    mbytes = b"[1, 2," if a.brk == "manifest-json" else dumps(manifest)
    blobs[sha(mbytes)] = mbytes
    return {"tars": tars, "diff_ids": diff_ids, "config": cbytes,
            "desc": {"mediaType": mtype, "digest": sha(mbytes),
                     "size": len(mbytes)}}


def add_salt(tar_bytes, salt):
    """Append a file "salt" to an existing tar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)
        ti = tarfile.TarInfo("salt")
        ti.size, ti.mtime = len(salt), MTIME
        dst.addfile(ti, io.BytesIO(salt.encode()))
    return out.getvalue()


def names(a):
    if a.images == 1 or not a.name:
        return [a.name] * a.images
    repo, _, tag = a.name.rpartition(":") if ":" in a.name else (a.name, "", "")
    return ["%s-%d%s" % (repo, i + 1, ":" + tag if tag else "")
            for i in range(a.images)]


def salts(a):
    if a.images == 1:
        return [a.salt]
    return ["%s%d" % (a.salt or "image-", i + 1) for i in range(a.images)]


def oci_files(a):
    """The layout as {path: bytes}."""
    blobs, entries = {}, []
    for name, salt in zip(names(a), salts(a)):
        desc = build_image(a, salt, blobs)["desc"]
        if name:
            desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        entries.append(desc)
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries}
    files = {"index.json": b"{\"manifests\": [" if a.brk == "index-json"
             else dumps(index)}
    if a.brk != "no-layout":
        files["oci-layout"] = dumps({"imageLayoutVersion": "1.0.0"})
    for d, data in blobs.items():
        if data is not None:
            files["blobs/sha256/" + d[7:]] = data
    return files


def docker_files(a):
    """A docker-archive as {path: bytes}: layers are <diff_id hex>.tar."""
    files, entries = {}, []
    for name, salt in zip(names(a), salts(a)):
        blobs = {}
        img = build_image(a, salt, blobs)
        paths = []
        for i, t in enumerate(img["tars"]):
            path = "%s.tar" % hashlib.sha256(t).hexdigest()
            data = compress(t, a.compression)
            top = i == len(img["tars"]) - 1
            if top and a.brk == "layer-truncated":
                data = data[:len(data) // 2]
            if not (top and a.brk == "missing-blob"):
                files[path] = data
            paths.append(path)
        cpath = "%s.json" % hashlib.sha256(img["config"]).hexdigest()
        files[cpath] = img["config"]
        entries.append({"Config": cpath, "RepoTags": [name] if name else [],
                        "Layers": paths})
    files["manifest.json"] = json.dumps(entries).encode()
    return files


def write_tar(path, files):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({os.path.dirname(p) for p in files} - {""})
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(ti)
        for p in sorted(files):
            ti = tarfile.TarInfo(p)
            ti.size, ti.mode, ti.mtime = len(files[p]), 0o644, MTIME
            tar.addfile(ti, io.BytesIO(files[p]))


def write_dir(path, files):
    if os.path.exists(path):
        shutil.rmtree(path)
    for p, data in files.items():
        full = os.path.join(path, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)


def main():
    p = argparse.ArgumentParser(
        usage="%(prog)s [options] OUT", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--layer-tar", action="append")
    p.add_argument("--compression", choices=sorted(MT_LAYER), default="gzip")
    p.add_argument("--format", default="layout",
                   choices=["layout", "oci-archive", "docker-archive"])
    p.add_argument("--name", default="test:latest")
    p.add_argument("--images", type=int, default=1)
    p.add_argument("--salt")
    p.add_argument("--bulk", type=int, default=0)
    p.add_argument("--break", dest="brk", choices=BREAKS)
    a = p.parse_args()
    if a.layers < 1 or a.images < 1:
        p.error("--layers and --images must be at least 1")
    if a.format == "docker-archive":
        if a.brk is not None and a.brk not in DOCKER_BREAKS:
            p.error("--break %s makes no sense for a docker-archive" % a.brk)
        write_tar(a.out, docker_files(a))
    elif a.format == "oci-archive":
        write_tar(a.out, oci_files(a))
    else:
        write_dir(a.out, oci_files(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
