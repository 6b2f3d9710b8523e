/* What an import reads from: an archive streamed once (a file or stdin,
 * any compression) whose files are staged as hidden blobs in the store,
 * or an OCI layout directory read in place. Either way, the importer asks
 * for files by path and gets verified, staged blobs back. */
#ifndef CTR_IMAGE_SOURCE_H
#define CTR_IMAGE_SOURCE_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "store.h"

struct source_file {
  char *path;
  char *link; /* hard or symbolic link: the path it names */
  struct image_blob_writer *w; /* staged bytes; NULL once published */
};

struct import_source {
  struct image_store *s;
  const char *what; /* the user's name for it, for errors */
  int dirfd;        /* a layout directory, or -1 for an archive */
  struct source_file *files;
  size_t n, cap;
  struct image_blob_writer **needed; /* what the images reference */
  size_t nneeded;
  /* sha256 of the input's bytes as read (an archive, a rootfs tarball,
   * a host program), for the import's provenance; "" for a directory */
  char digest[CTR_DIGEST_LEN + 1];
};

/* Stream the archive on fd (tar, optionally compressed) into staging. */
int source_open_archive(struct import_source *src, struct image_store *s,
                        int fd, const char *what, ctr_err *err);
int source_open_dir(struct import_source *src, struct image_store *s,
                    const char *path, ctr_err *err);
bool source_has(struct import_source *src, const char *path);
/* Read a small file into memory (NUL-terminated). */
int source_read(struct import_source *src, const char *path, size_t max,
                char **buf, size_t *len, ctr_err *err);
/* The staged blob for path, checked against expected digest (may be NULL)
 * and size (-1: any). The writer stays owned by src. */
int source_blob(struct import_source *src, const char *path,
                const char *expected, off_t size,
                struct image_blob_writer **w, ctr_err *err);
/* Publish a staged blob returned by source_blob (once per writer). */
int source_publish(struct import_source *src, struct image_blob_writer *w,
                   ctr_err *err);
/* Discard everything staged and not published. */
void source_close(struct import_source *src);

/* A source with nothing in it yet, for images made from scratch. */
void source_init_empty(struct import_source *src, struct image_store *s,
                       const char *what);
/* Hand a blob the importer made itself (a manifest, a layer) to the
 * source, which then owns, publishes and discards it like the others. */
int source_adopt(struct import_source *src, struct image_blob_writer *w,
                 ctr_err *err);
/* Mark a staged blob as referenced by an image being imported. */
int source_need(struct import_source *src, struct image_blob_writer *w,
                ctr_err *err);
bool source_needed(const struct import_source *src,
                   const struct image_blob_writer *w);
#endif
