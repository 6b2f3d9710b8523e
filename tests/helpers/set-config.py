#!/usr/bin/env python3
"""set-config.py IN OUT JSON — copy the oci-archive IN (one image) to OUT
with JSON (an object) merged into its config's "config" (the image's run
settings: Volumes, Env, …). Digests and sizes are recomputed, so OUT is a
valid image that ctr-image import takes. stdlib only."""
import hashlib
import io
import json
import sys
import tarfile


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    src, dst, patch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    files = {}
    with tarfile.open(src) as t:
        for m in t.getmembers():
            if m.isfile():
                files[m.name.lstrip("./")] = t.extractfile(m).read()
    blob = lambda d: files["blobs/" + d.replace(":", "/")]
    index = json.loads(files["index.json"])
    mdesc = index["manifests"][0]
    manifest = json.loads(blob(mdesc["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    config.setdefault("config", {}).update(patch)

    def put(doc):
        data = json.dumps(doc, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        files["blobs/" + digest.replace(":", "/")] = data
        return digest, len(data)

    manifest["config"]["digest"], manifest["config"]["size"] = put(config)
    mdesc["digest"], mdesc["size"] = put(manifest)
    files["index.json"] = json.dumps(index).encode()
    with tarfile.open(dst, "w") as out:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            out.addfile(info, io.BytesIO(files[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
