/* Layers on disk: extracting a layer blob safely into a directory
 * (extract.c), and keeping an image's layers unpacked under
 * $CTR_ROOT/layers/<chain-id hex>/ for use as overlay lowerdirs (unpack.c).
 *
 * Extraction never writes outside its destination: every entry is resolved
 * beneath it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), ".."
 * components are refused, a leading "/" is stripped (as GNU tar and Docker
 * do, so "/etc/x" lands at <dest>/etc/x), and writing through a symlink or
 * hardlinking to something outside or behind a symlink is refused. OCI
 * whiteouts become overlayfs ones: "dir/.wh.NAME" a 0:0 character device
 * "dir/NAME", "dir/.wh..wh..opq" the xattr trusted.overlay.opaque=y on dir.
 * trusted.overlay.* xattrs carried by entries are dropped. Ownership is
 * restored only when running as root (as tar does). */
#ifndef CTR_IMAGE_UNPACK_H
#define CTR_IMAGE_UNPACK_H

#include <jansson.h>
#include <stddef.h>

#include "core/digest.h"
#include "core/error.h"
#include "store.h"

/* Extract one layer blob (tar, or tar compressed with gzip, zstd, xz or
 * bzip2, detected from its bytes) read from blob_fd into the empty
 * directory dest_dirfd. When diff_id is non-NULL the sha256 of the
 * uncompressed stream must equal it ("diff_id mismatch (got sha256:…)").
 * On failure dest_dirfd holds a partial tree the caller removes. */
int image_layer_extract(int blob_fd, int dest_dirfd, const char *diff_id,
                        ctr_err *err);

/* Chain IDs (OCI image spec) from config.rootfs.diff_ids: chain[0] =
 * diff_id[0], chain[n] = sha256(chain[n-1] + " " + diff_id[n]). *ids is
 * malloc'd (NULL when *n is 0); the caller frees it. */
int image_chain_ids(const json_t *config, char (**ids)[CTR_DIGEST_LEN + 1],
                    size_t *n, ctr_err *err);

/* Make sure every layer of img is unpacked under s->layers_fd as
 * <chain-id hex>/, extracting missing ones in parallel (each into a
 * ".tmp-<hex>.XXXXXX" directory, synced, then renamed into place; a
 * concurrent unpack that renamed first wins). *dirs gets the absolute
 * lowerdir paths, topmost layer first; free with image_unpack_free. On
 * failure no temp directory is left behind. */
int image_unpack(struct image_store *s, const struct image *img, char ***dirs,
                 size_t *ndirs, ctr_err *err);
void image_unpack_free(char **dirs, size_t ndirs);
/* Like image_unpack when every layer is there already (returns 1 and the
 * dirs); 0 when some layer is missing. Needs no unpacker (chain.c). */
int image_layers_present(struct image_store *s, const struct image *img,
                         char ***dirs, size_t *ndirs, ctr_err *err);

/* Remember img's chain ids in $CTR_RUNDIR/images/<config hex>.chain, so
 * a runtime that trusts the store finds its layers without hashing (and
 * without loading libcrypto). Whoever computes them for a verified
 * config may; failures are ignored (it is a cache). */
void image_chain_remember(const struct image_store *s, const struct image *img,
                          char (*ids)[CTR_DIGEST_LEN + 1], size_t n);

#endif
