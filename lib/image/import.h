/* ctr-image import: archives, layout directories, root filesystem
 * tarballs and the host's own packages become images in the store. */
#ifndef CTR_IMAGE_IMPORT_H
#define CTR_IMAGE_IMPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "source.h"
#include "store.h"

struct image_import_opts {
  const char *name;      /* --name: the one image's name */
  bool rootfs;           /* --rootfs: a plain root filesystem tarball */
  bool force;            /* --force: move names already in use */
  const char *from_host; /* --from-host PACKAGE */
};

struct image_imported {
  char *name; /* NULL for a nameless image */
  char digest[CTR_DIGEST_LEN + 1];
  char source_digest[CTR_DIGEST_LEN + 1]; /* the input's sha256, or "" */
  bool unchanged; /* the image and its names were there already */
};

/* Import path ("-" for stdin). On success *out lists what was stored. */
int image_import(struct image_store *s, const char *path,
                 const struct image_import_opts *o,
                 struct image_imported **out, size_t *nout, ctr_err *err);
void image_imported_free(struct image_imported *v, size_t n);

/* What an import is about to store: staged blobs in src, and for each
 * image its manifest descriptor and names. Nothing is visible until
 * import_plan_commit. */
struct plan_image {
  json_t *desc;  /* manifest descriptor */
  json_t *names; /* array of store names */
};
struct import_plan {
  struct import_source src;
  struct plan_image *imgs;
  size_t n;
};
int import_plan_add(struct import_plan *p, json_t *desc, json_t *names,
                    ctr_err *err); /* steals desc and names */
/* Stage a JSON document as a blob; fills a descriptor for it. */
int import_plan_json_blob(struct import_plan *p, const json_t *doc,
                          const char *media_type, json_t **desc, ctr_err *err);
/* Check names, publish blobs, unpack layers, then name the images, all
 * under the index lock; on any failure the store is left as it was. */
int import_plan_commit(struct import_plan *p, bool force,
                       struct image_imported **out, size_t *nout, ctr_err *err);
void import_plan_free(struct import_plan *p);

/* Build the base image for a host package (today: busybox). */
int image_from_host(struct import_plan *p, const char *package,
                    const char *name, ctr_err *err);
/* Plan a one-layer image from a staged gzip layer and its config;
 * steals lw and names. */
int image_from_host_layer(struct import_plan *p, struct image_blob_writer *lw,
                          const char *diff_id, json_t *config, json_t *names,
                          ctr_err *err);
/* The config for a one-layer image made here. */
json_t *import_new_config(const char *diff_id, const char *created,
                          const char *created_by, const json_t *cfg);

#endif
