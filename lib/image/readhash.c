#define _GNU_SOURCE
#include "readhash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t hashed_read(struct read_hash *r) {
  ssize_t n;
  do
    n = read(r->fd, r->buf, r->size);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    ctr_sha256_update(r->h, r->buf, (size_t)n);
  return n;
}

static la_ssize_t on_read(struct archive *a, void *data, const void **out) {
  struct read_hash *r = data;
  ssize_t n = hashed_read(r);
  *out = r->buf;
  if (n < 0)
    archive_set_error(a, errno, "read: %s", strerror(errno));
  return n;
}

int read_hash_open(struct archive *a, struct read_hash *r, int fd, size_t block) {
  memset(r, 0, sizeof(*r));
  r->fd = fd;
  r->size = block;
  r->h = ctr_sha256_new();
  r->buf = malloc(block);
  if (r->h == NULL || r->buf == NULL) {
    archive_set_error(a, ENOMEM, "out of memory");
    return ARCHIVE_FATAL;
  }
  /* no skip callback: skipped bytes must pass through the hash too */
  return archive_read_open(a, r, NULL, on_read, NULL);
}

int read_hash_finish(struct read_hash *r, char out[CTR_DIGEST_LEN + 1],
                     ctr_err *err) {
  ssize_t n;
  if (r->h == NULL)
    return ctr_fail(err, ENOMEM, "hash");
  while ((n = hashed_read(r)) > 0)
    ;
  if (n < 0)
    return ctr_fail(err, errno, "read");
  ctr_sha256_final(r->h, out);
  r->h = NULL;
  return 0;
}

void read_hash_free(struct read_hash *r) {
  ctr_sha256_free(r->h);
  r->h = NULL;
  free(r->buf);
  r->buf = NULL;
}
