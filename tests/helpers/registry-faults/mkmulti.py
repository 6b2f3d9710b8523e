"""An OCI layout whose index.json names (NAME) one image index with an
image per platform: a gzip layer holding /arch (the platform) and
/bin/only-<arch>, and a config for that platform.
usage: mkmulti.py OUT NAME PLATFORM..."""
import gzip, hashlib, io, json, os, sys, tarfile

out, name, plats = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(out + "/blobs/sha256", exist_ok=True)

def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(out + "/blobs/sha256/" + d, "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)

def layer(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in files:
            ti = tarfile.TarInfo(path)
            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
            t.addfile(ti, io.BytesIO(data))
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return gz.getvalue(), "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()

entries = []
for p in plats:
    parts = p.split("/")
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        plat["variant"] = parts[2]
    gz, diff = layer([("arch", (p + "\n").encode()), ("bin/only-" + "-".join(parts[1:]), b"x\n")])
    ld, ls = blob(gz)
    cfg = dict(plat, created="2023-11-14T22:13:20Z", config={"Cmd": ["/bin/sh"]},
               rootfs={"type": "layers", "diff_ids": [diff]},
               history=[{"created": "2023-11-14T22:13:20Z", "created_by": "mkmulti " + p}])
    cd, cs = blob(json.dumps(cfg, sort_keys=True).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}
    md, ms = blob(json.dumps(man, sort_keys=True).encode())
    entries.append({"mediaType": man["mediaType"], "digest": md, "size": ms, "platform": plat})
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
idd, ids = blob(json.dumps(idx, sort_keys=True).encode())
with open(out + "/oci-layout", "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(out + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": idx["mediaType"], "digest": idd,
               "size": ids, "annotations": {"org.opencontainers.image.ref.name": name}}]}, f)
print(idd)
