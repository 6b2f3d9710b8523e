/* Making a gzip layer blob from an uncompressed tar stream: the bytes are
 * hashed (the diff_id) and compressed into a staged blob in one pass. */
#ifndef CTR_IMAGE_LAYER_WRITER_H
#define CTR_IMAGE_LAYER_WRITER_H

#include <archive.h>
#include <stddef.h>

#include "core/digest.h"
#include "core/error.h"
#include "store.h"

struct layer_writer;

int layer_writer_begin(struct image_store *s, struct layer_writer **lw,
                       ctr_err *err);
int layer_writer_write(struct layer_writer *lw, const void *buf, size_t len,
                       ctr_err *err);
/* Finish the stream; hands back the staged (unpublished) blob writer and
 * the diff_id, and frees lw. */
int layer_writer_finish(struct layer_writer *lw, struct image_blob_writer **blob,
                        char diff_id[CTR_DIGEST_LEN + 1], ctr_err *err);
void layer_writer_abort(struct layer_writer *lw);
/* A tar writer (pax) whose output is the layer's stream, for layers built
 * entry by entry; owned by lw, closed by layer_writer_finish. */
struct archive *layer_writer_tar(struct layer_writer *lw, ctr_err *err);
/* The error after a failed libarchive call on a (or on the layer beneath). */
int layer_writer_fail(struct layer_writer *lw, struct archive *a,
                      const char *what, ctr_err *err);

/* Copy a (possibly compressed) tar from fd into a new gzip layer;
 * src_digest (may be NULL) gets the sha256 of fd's bytes as read. */
int layer_from_tar_fd(struct image_store *s, int fd, const char *what,
                      struct image_blob_writer **blob,
                      char diff_id[CTR_DIGEST_LEN + 1],
                      char src_digest[CTR_DIGEST_LEN + 1], ctr_err *err);

#endif
