/* The lookaside layout on a local directory. containers/image names the
 * directory after the repository's path WITHOUT its registry host
 * (reference.Path: docker.io/library/busybox → library/busybox), then
 * "@sha256=<hex>" (the algorithm and the hex joined by "=", since ":" is
 * awkward in URLs and on some file systems), then signature-1, -2, ...
 * `skopeo copy --sign-by` into a lookaside-staging file:// directory
 * makes exactly these names (tests/verify-skopeo.bats checks it). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "image/ref.h"
#include "verify/sigstore.h"

/* containers/image reads at most 4 MiB per signature and stops at the
 * first gap; we also bound how many, so a hostile tree cannot make a
 * verification read without end. */
#define SIG_MAX_SIZE (4u << 20)
#define SIG_MAX_COUNT 128

void sig_blobs_free(struct sig_blob *s, size_t n) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    free(s[i].data);
  free(s);
}

int sigstore_dir(const char *ref, const char *manifest_digest, char **out,
                 ctr_err *err) {
  struct image_ref r;
  cleanup_free char *host = NULL;
  cleanup_free char *path = NULL;
  int rc;

  if (!ctr_digest_valid(manifest_digest))
    return ctr_fail(err, 0, "'%s' is not a sha256 manifest digest",
                    manifest_digest ? manifest_digest : "");
  if (image_ref_parse(ref, &r, err) < 0)
    return -1;
  rc = image_ref_registry(&r, &host, &path, err);
  image_ref_free(&r);
  if (rc < 0)
    return -1;
  if (asprintf(out, "%s@sha256=%s", path, ctr_digest_hex(manifest_digest)) < 0)
    return ctr_fail(err, ENOMEM, "sigstore");
  return 0;
}

/* Read signature-1.. from the open directory dfd until the first gap. */
static int list_at(int dfd, const char *where, struct sig_blob **sigs,
                   size_t *n, ctr_err *err) {
  struct sig_blob *v = NULL;
  size_t used = 0;

  for (int i = 1; i <= SIG_MAX_COUNT + 1; i++) {
    char name[32];
    cleanup_close int fd = -1;
    struct sig_blob *nv;
    char *data = NULL;
    size_t len = 0;

    snprintf(name, sizeof(name), "signature-%d", i);
    fd = ctr_open_beneath(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
      break;
    if (i > SIG_MAX_COUNT) {
      sig_blobs_free(v, used);
      return ctr_fail(err, 0, "%s: more than %d signatures", where,
                      SIG_MAX_COUNT);
    }
    if (fd < 0 || ctr_read_fd(fd, SIG_MAX_SIZE, &data, &len, err) < 0) {
      if (fd < 0)
        ctr_fail(err, errno, "open");
      sig_blobs_free(v, used);
      return ctr_wrap(err, "%s/%s", where, name);
    }
    nv = realloc(v, (used + 1) * sizeof(*v));
    if (nv == NULL) {
      free(data);
      sig_blobs_free(v, used);
      return ctr_fail(err, ENOMEM, "%s", where);
    }
    v = nv;
    v[used].data = data;
    v[used].len = len;
    v[used].index = i;
    used++;
  }
  *sigs = v;
  *n = used;
  return 0;
}

int sigstore_list_dir(const char *dir, struct sig_blob **sigs, size_t *n,
                      ctr_err *err) {
  cleanup_close int dfd = ctr_open_dir(AT_FDCWD, dir, err);
  *sigs = NULL;
  *n = 0;
  if (dfd < 0)
    return ctr_wrap(err, "signatures");
  return list_at(dfd, dir, sigs, n, err);
}

int sigstore_list(const char *base, const char *ref,
                  const char *manifest_digest, struct sig_blob **sigs,
                  size_t *n, ctr_err *err) {
  cleanup_free char *sub = NULL;
  cleanup_free char *where = NULL;
  cleanup_close int bfd = -1;
  cleanup_close int dfd = -1;

  *sigs = NULL;
  *n = 0;
  if (sigstore_dir(ref, manifest_digest, &sub, err) < 0)
    return -1;
  bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0) {
    if (errno == ENOENT)
      return 0;
    return ctr_fail(err, errno, "sigstore %s", base);
  }
  dfd = ctr_open_beneath(bfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    if (errno == ENOENT)
      return 0;
    return ctr_fail(err, errno, "sigstore %s/%s", base, sub);
  }
  if (asprintf(&where, "%s/%s", base, sub) < 0)
    return ctr_fail(err, ENOMEM, "sigstore");
  return list_at(dfd, where, sigs, n, err);
}

/* The directories between base and where may be new: make their
 * entries durable too, or a crash could lose a fsynced signature file
 * together with the directory that named it. */
static int sync_parents(const char *base, const char *where, ctr_err *err) {
  cleanup_free char *p = strdup(where);
  size_t blen = strlen(base);
  char *slash;
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "sigstore");
  while ((slash = strrchr(p, '/')) != NULL && (size_t)(slash - p) >= blen) {
    cleanup_close int fd = -1;
    *slash = '\0';
    fd = ctr_open_dir(AT_FDCWD, p, err);
    if (fd < 0 || ctr_fsync_dir(fd, err) < 0)
      return -1;
  }
  return 0;
}

int sigstore_add(const char *base, const char *ref, const char *manifest_digest,
                 const void *sig, size_t len, int *index, ctr_err *err) {
  cleanup_free char *sub = NULL;
  cleanup_free char *where = NULL;
  cleanup_close int dfd = -1;
  struct sig_blob *have = NULL;
  size_t n = 0;
  char name[32];

  if (len == 0 || len > SIG_MAX_SIZE)
    return ctr_fail(err, 0, "a signature of %zu bytes", len);
  if (sigstore_dir(ref, manifest_digest, &sub, err) < 0)
    return -1;
  if (asprintf(&where, "%s/%s", base, sub) < 0)
    return ctr_fail(err, ENOMEM, "sigstore");
  /* trust/ itself is 0700 (it holds the keyring); below it signatures
   * are public data, readable as skopeo's lookaside would serve them. */
  if (ctr_mkdir_p(AT_FDCWD, base, 0700, err) < 0 ||
      ctr_mkdir_p(AT_FDCWD, where, 0755, err) < 0)
    return ctr_wrap(err, "sigstore");
  if (sync_parents(base, where, err) < 0)
    return ctr_wrap(err, "sigstore");
  dfd = ctr_open_dir(AT_FDCWD, where, err);
  if (dfd < 0)
    return ctr_wrap(err, "sigstore");
  /* Two writers must not both pick the same next N: hold the directory
   * itself locked while choosing and writing. */
  if (flock(dfd, LOCK_EX) < 0)
    return ctr_fail(err, errno, "lock %s", where);
  if (list_at(dfd, where, &have, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (have[i].len == len && memcmp(have[i].data, sig, len) == 0) {
      *index = have[i].index;
      sig_blobs_free(have, n);
      return 0;
    }
  }
  sig_blobs_free(have, n);
  if (n >= SIG_MAX_COUNT)
    return ctr_fail(err, 0, "%s: more than %d signatures", where,
                    SIG_MAX_COUNT);
  snprintf(name, sizeof(name), "signature-%zu", n + 1);
  if (ctr_atomic_write(dfd, name, sig, len, 0644, true, err) < 0)
    return ctr_wrap(err, "sigstore");
  *index = (int)n + 1;
  return 0;
}
