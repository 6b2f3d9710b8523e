/* An import reads its input once, through libarchive. These callbacks
 * hash the bytes on their way in, for the provenance record's
 * source-digest, so the file is never read a second time. */
#ifndef CTR_IMAGE_READHASH_H
#define CTR_IMAGE_READHASH_H

#include <archive.h>
#include <stddef.h>

#include "core/digest.h"
#include "core/error.h"

struct read_hash {
  int fd;        /* not owned */
  ctr_sha256 *h;
  char *buf;
  size_t size;
};

/* archive_read_open on fd through r (r must outlive a's reading);
 * returns libarchive's status, ARCHIVE_FATAL when out of memory. */
int read_hash_open(struct archive *a, struct read_hash *r, int fd, size_t block);
/* Hash what libarchive left unread (a tar's trailing blocks) to the end
 * of fd, so out is the whole input's digest, as sha256sum would say. */
int read_hash_finish(struct read_hash *r, char out[CTR_DIGEST_LEN + 1],
                     ctr_err *err);
void read_hash_free(struct read_hash *r);

#endif
