#define _GNU_SOURCE
#include "layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "readhash.h"

struct layer_writer {
  struct archive *gz;  /* raw format + gzip filter: a plain compressor */
  struct archive *tar; /* optional tar writer feeding the layer */
  struct image_blob_writer *blob;
  ctr_sha256 *hash;
  ctr_err werr; /* an error from the write callback, reported on return */
};

static la_ssize_t to_blob(struct archive *a, void *data, const void *buf,
                          size_t len) {
  struct layer_writer *lw = data;
  (void)a;
  if (image_blob_write(lw->blob, buf, len, &lw->werr) < 0)
    return -1;
  return (la_ssize_t)len;
}

int layer_writer_fail(struct layer_writer *lw, struct archive *a,
                      const char *what, ctr_err *err) {
  if (lw->werr != NULL) {
    ctr_err_free(err);
    *err = lw->werr;
    lw->werr = NULL;
    return ctr_wrap(err, "%s", what);
  }
  return ctr_fail(err, 0, "%s: %s", what, archive_error_string(a));
}

static int gz_fail(struct layer_writer *lw, const char *what, ctr_err *err) {
  return layer_writer_fail(lw, lw->gz, what, err);
}

static la_ssize_t tar_to_layer(struct archive *a, void *data, const void *buf,
                               size_t len) {
  struct layer_writer *lw = data;
  (void)a;
  if (layer_writer_write(lw, buf, len, &lw->werr) < 0)
    return -1;
  return (la_ssize_t)len;
}

struct archive *layer_writer_tar(struct layer_writer *lw, ctr_err *err) {
  lw->tar = archive_write_new();
  if (lw->tar == NULL) {
    ctr_fail(err, ENOMEM, "tar");
    return NULL;
  }
  if (archive_write_set_format_pax_restricted(lw->tar) != ARCHIVE_OK ||
      archive_write_open(lw->tar, lw, NULL, tar_to_layer, NULL) != ARCHIVE_OK) {
    layer_writer_fail(lw, lw->tar, "start tar", err);
    return NULL;
  }
  return lw->tar;
}

int layer_writer_begin(struct image_store *s, struct layer_writer **out,
                       ctr_err *err) {
  struct layer_writer *lw = calloc(1, sizeof(*lw));
  struct archive_entry *e;
  if (lw == NULL)
    return ctr_fail(err, ENOMEM, "new layer");
  lw->hash = ctr_sha256_new();
  lw->gz = archive_write_new();
  if (lw->hash == NULL || lw->gz == NULL) {
    layer_writer_abort(lw);
    return ctr_fail(err, ENOMEM, "new layer");
  }
  if (image_blob_begin(s, &lw->blob, err) < 0) {
    layer_writer_abort(lw);
    return -1;
  }
  /* No timestamp in the gzip header: the same tar gives the same blob. */
  if (archive_write_set_format_raw(lw->gz) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(lw->gz) != ARCHIVE_OK ||
      archive_write_set_filter_option(lw->gz, "gzip", "timestamp", NULL) <
          ARCHIVE_WARN ||
      archive_write_set_bytes_per_block(lw->gz, 1 << 16) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(lw->gz, 1) != ARCHIVE_OK ||
      archive_write_open(lw->gz, lw, NULL, to_blob, NULL) != ARCHIVE_OK) {
    gz_fail(lw, "start gzip", err);
    layer_writer_abort(lw);
    return -1;
  }
  e = archive_entry_new();
  archive_entry_set_pathname(e, "layer.tar");
  archive_entry_set_filetype(e, AE_IFREG);
  if (archive_write_header(lw->gz, e) != ARCHIVE_OK) {
    archive_entry_free(e);
    gz_fail(lw, "start gzip", err);
    layer_writer_abort(lw);
    return -1;
  }
  archive_entry_free(e);
  *out = lw;
  return 0;
}

int layer_writer_write(struct layer_writer *lw, const void *buf, size_t len,
                       ctr_err *err) {
  ctr_sha256_update(lw->hash, buf, len);
  while (len > 0) {
    la_ssize_t n = archive_write_data(lw->gz, buf, len);
    if (n <= 0)
      return gz_fail(lw, "compress layer", err);
    buf = (const char *)buf + n;
    len -= (size_t)n;
  }
  return 0;
}

int layer_writer_finish(struct layer_writer *lw, struct image_blob_writer **blob,
                        char diff_id[CTR_DIGEST_LEN + 1], ctr_err *err) {
  if (lw->tar != NULL && archive_write_close(lw->tar) != ARCHIVE_OK) {
    layer_writer_fail(lw, lw->tar, "finish tar", err);
    layer_writer_abort(lw);
    return -1;
  }
  if (archive_write_close(lw->gz) != ARCHIVE_OK) {
    gz_fail(lw, "compress layer", err);
    layer_writer_abort(lw);
    return -1;
  }
  if (image_blob_finish(lw->blob, NULL, -1, err) < 0) {
    layer_writer_abort(lw);
    return -1;
  }
  ctr_sha256_final(lw->hash, diff_id);
  lw->hash = NULL;
  *blob = lw->blob;
  lw->blob = NULL;
  layer_writer_abort(lw);
  return 0;
}

void layer_writer_abort(struct layer_writer *lw) {
  if (lw == NULL)
    return;
  if (lw->tar != NULL)
    archive_write_free(lw->tar);
  if (lw->gz != NULL)
    archive_write_free(lw->gz);
  image_blob_abort(lw->blob);
  ctr_sha256_free(lw->hash);
  ctr_err_free(&lw->werr);
  free(lw);
}

int layer_from_tar_fd(struct image_store *s, int fd, const char *what,
                      struct image_blob_writer **blob,
                      char diff_id[CTR_DIGEST_LEN + 1],
                      char src_digest[CTR_DIGEST_LEN + 1], ctr_err *err) {
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  struct layer_writer *lw = NULL;
  struct read_hash rh;
  const void *buf;
  size_t len;
  la_int64_t off;
  int r, ret = -1;

  if (a == NULL)
    return ctr_fail(err, ENOMEM, "read %s", what);
  /* Raw format: the decompressed bytes, whatever the compression. */
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  if (read_hash_open(a, &rh, fd, 1 << 20) != ARCHIVE_OK ||
      archive_read_next_header(a, &e) != ARCHIVE_OK) {
    ctr_fail(err, 0, "%s: %s", what, archive_error_string(a));
    goto out;
  }
  if (layer_writer_begin(s, &lw, err) < 0)
    goto out;
  while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
    if (layer_writer_write(lw, buf, len, err) < 0)
      goto out;
  if (r != ARCHIVE_EOF) {
    ctr_fail(err, 0, "%s: %s", what, archive_error_string(a));
    goto out;
  }
  if (src_digest != NULL && read_hash_finish(&rh, src_digest, err) < 0) {
    ctr_wrap(err, "%s", what);
    goto out;
  }
  ret = layer_writer_finish(lw, blob, diff_id, err);
  lw = NULL;
out:
  layer_writer_abort(lw);
  archive_read_free(a);
  read_hash_free(&rh);
  return ret;
}
