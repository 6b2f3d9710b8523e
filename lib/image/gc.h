/* Garbage collection of the store: blobs no image references, unpacked
 * layers no image uses, and temp files a crash left behind. */
#ifndef CTR_IMAGE_GC_H
#define CTR_IMAGE_GC_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "store.h"

struct gc_report {
  size_t blobs, layers, temps, images;
  off_t bytes;
  json_t *deleted_manifests; /* array of manifest digests removed */
};

/* Remove everything index does not reference (a descriptor's
 * IMAGE_INDEX_DIGEST_ANNOTATION blob is referenced by it). The store must be open with
 * the gc lock held exclusively and the index lock held; with
 * drop_dangling, nameless index entries are removed first (and index is
 * saved). Unreadable references make it refuse rather than guess. */
int image_gc(struct image_store *s, json_t *index, bool drop_dangling,
             struct gc_report *r, ctr_err *err);
void gc_report_free(struct gc_report *r);

#endif
