/* The image store: an OCI image layout at $CTR_ROOT/images and unpacked
 * layers at $CTR_ROOT/layers/<chain-id hex>/. */
#ifndef CTR_IMAGE_STORE_H
#define CTR_IMAGE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/paths.h"

#define IMAGE_REF_ANNOTATION "org.opencontainers.image.ref.name"
/* On an image's index.json descriptor: the digest of the index
 * (manifest list) it was picked from when a pull chose one platform. The
 * index's bytes are a blob of the store as long as a descriptor names
 * it, so that signatures of the index (which is what skopeo signs for a
 * tag) still judge the image after the pull: ctr-verify accepts them when
 * that blob lists the image's manifest. */
#define IMAGE_INDEX_DIGEST_ANNOTATION "io.ctr.image.index.digest"
/* Upper bound for a manifest, config or index read into memory. */
#define IMAGE_JSON_MAX (4 << 20)

struct image_store {
  const struct ctr_paths *paths;
  int root_fd;   /* $CTR_ROOT */
  int images_fd; /* $CTR_ROOT/images */
  int blobs_fd;  /* $CTR_ROOT/images/blobs/sha256 */
  int layers_fd; /* $CTR_ROOT/layers */
  int gc_fd;     /* flock on "images-gc": shared for writers, exclusive for gc */
  bool missing;  /* read-only open of a store that does not exist yet */
  /* Blobs were verified against their digest when they came in; a
   * runtime that only reads may trust them rather than hash them again
   * on every start (and keep OpenSSL out of its start path). */
  bool trusted;
};

enum image_store_mode {
  STORE_READ,  /* never creates anything; a missing store reads as empty */
  STORE_WRITE, /* creates the layout on first use */
  STORE_GC,    /* like READ, but holds the gc lock exclusively */
};

/* Open the store. Every mode holds the gc lock: shared, or exclusive for
 * STORE_GC. Only STORE_WRITE creates the layout. */
int image_store_open(struct image_store *s, const struct ctr_paths *paths,
                     enum image_store_mode mode, ctr_err *err);
void image_store_close(struct image_store *s);

/* Writing a blob: bytes go to a temp file in blobs/sha256, hashed as they
 * arrive; commit verifies the digest (when expected is non-NULL) and the
 * size (when expected_size >= 0), then renames into place. */
struct image_blob_writer;
int image_blob_begin(struct image_store *s, struct image_blob_writer **w,
                     ctr_err *err);
int image_blob_write(struct image_blob_writer *w, const void *buf, size_t len,
                     ctr_err *err);
/* On success fills digest and size (optional) and frees w. */
int image_blob_commit(struct image_blob_writer *w, const char *expected,
                      off_t expected_size, char digest[CTR_DIGEST_LEN + 1],
                      off_t *size, ctr_err *err);
/* Discard a writer and its temp file; NULL is fine. */
void image_blob_abort(struct image_blob_writer *w);
/* Staging, for imports that must check everything before anything is
 * visible: finish verifies and fsyncs the temp file but keeps it hidden;
 * publish renames it into place (the caller fsyncs blobs_fd once after a
 * batch) and frees w. expected may be NULL, expected_size -1. */
int image_blob_finish(struct image_blob_writer *w, const char *expected,
                      off_t expected_size, ctr_err *err);
int image_blob_publish(struct image_blob_writer *w, ctr_err *err);
/* After finish: the digest, size and an fd to read the staged bytes. */
const char *image_blob_digest(const struct image_blob_writer *w);
off_t image_blob_size(const struct image_blob_writer *w);
int image_blob_reopen(const struct image_blob_writer *w, ctr_err *err);
/* Store a whole buffer as a blob. */
int image_blob_put(struct image_store *s, const void *buf, size_t len,
                   char digest[CTR_DIGEST_LEN + 1], ctr_err *err);

bool image_blob_exists(struct image_store *s, const char *digest);
/* Open a blob read-only; returns fd. */
int image_blob_open(struct image_store *s, const char *digest, ctr_err *err);
/* Read a small blob and check it hashes to its digest. */
int image_blob_read(struct image_store *s, const char *digest, size_t max,
                    char **buf, size_t *len, ctr_err *err);

/* index.json. Changes go: lock, load, modify, save, unlock. */
int image_index_lock(struct image_store *s, ctr_err *err); /* returns fd */
int image_index_load(struct image_store *s, json_t **index, ctr_err *err);
int image_index_save(struct image_store *s, json_t *index, ctr_err *err);

/* An image resolved from a name, digest or id prefix. */
struct image {
  char *name;                           /* store name, NULL if by digest */
  char digest[CTR_DIGEST_LEN + 1];      /* manifest digest */
  char config_digest[CTR_DIGEST_LEN + 1];
  json_t *desc;     /* the index.json descriptor */
  json_t *manifest; /* validated manifest */
  json_t *config;   /* validated config */
};

/* Resolve a user's reference: a name ("busybox", "busybox:1"),
 * "name@sha256:…", a manifest or config digest, or a unique prefix of
 * either's hex (docker's image-id prefix rule). */
int image_resolve(struct image_store *s, const char *ref, struct image *img,
                  ctr_err *err);
/* Load manifest and config for a manifest descriptor. */
int image_load(struct image_store *s, const json_t *desc, struct image *img,
               ctr_err *err);
void image_free(struct image *img);

/* Add or move name -> descriptor in the index (descriptor is copied and
 * given the ref.name annotation). With `replace` false, an existing name
 * pointing elsewhere is an error. Caller holds the index lock. */
int image_index_set_name(json_t *index, const char *name, const json_t *desc,
                         bool replace, ctr_err *err);

#endif
