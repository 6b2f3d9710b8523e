#define _GNU_SOURCE
#include "digest.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest_int.h"

/* libcrypto is loaded when something is first hashed, not linked: a
 * runtime's warm start hashes nothing (blobs are verified once, when they
 * come in, and chain ids are remembered), and linking libcrypto alone
 * would cost it 1.4 MB of resident memory at every start (relocations of
 * a 4.5 MB library). The table of its functions is filled once per
 * process and never changes after.
 *
 * The hashing is SHA256_Init/Update/Final, not EVP: through EVP,
 * OpenSSL 3 starts its default provider and builds its algorithm name
 * tables on the first digest, 1.4 ms of CPU in every process that hashes
 * anything (ctr-verify at each container start hashes a few small files);
 * the low-level functions run the same assembly with none of that
 * (measured equal at 1.2 GB/s on this machine). */

static struct crypto crypto_fns;
static bool crypto_ok;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

/* Tools that link libcrypto anyway (ctr-net and ctr-verify, statically:
 * they run once per network attach and once per container start) pull
 * in lib/core/digest_linked.c with -u ctr_crypto_linked; then the
 * library already in the program serves, and nothing is loaded. */
extern void ctr_crypto_linked(struct crypto *c) __attribute__((weak));

static void crypto_load(void) {
  void *h;
  if (ctr_crypto_linked != NULL) {
    ctr_crypto_linked(&crypto_fns);
    crypto_ok = true;
    return;
  }
  h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    /* an installation without libssl3: every hash fails, said once */
    fprintf(stderr, "ctr: cannot load libcrypto.so.3 (package libssl3): %s\n", dlerror());
    return;
  }
  crypto_fns.init = (int (*)(SHA256_CTX *))dlsym(h, "SHA256_Init");
  crypto_fns.update = (int (*)(SHA256_CTX *, const void *, size_t))dlsym(h, "SHA256_Update");
  crypto_fns.final = (int (*)(unsigned char *, SHA256_CTX *))dlsym(h, "SHA256_Final");
  crypto_ok = crypto_fns.init && crypto_fns.update && crypto_fns.final;
  if (!crypto_ok)
    fprintf(stderr, "ctr: libcrypto.so.3 lacks the SHA256 functions\n");
}

static const struct crypto *crypto(void) {
  pthread_once(&crypto_once, crypto_load);
  return crypto_ok ? &crypto_fns : NULL;
}

struct ctr_sha256 {
  const struct crypto *c;
  SHA256_CTX ctx;
  bool failed;
};

ctr_sha256 *ctr_sha256_new(void) {
  const struct crypto *c = crypto();
  ctr_sha256 *h;
  if (c == NULL)
    return NULL;
  h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->c = c;
  if (c->init(&h->ctx) != 1) {
    free(h);
    return NULL;
  }
  return h;
}

void ctr_sha256_update(ctr_sha256 *h, const void *buf, size_t len) {
  if (h->c->update(&h->ctx, buf, len) != 1)
    h->failed = true;
}

static void to_hex(const unsigned char *md, char out[CTR_DIGEST_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[7 + 2 * i + 1] = hex[md[i] & 15];
  }
  out[CTR_DIGEST_LEN] = '\0';
}

/* No digest could be computed: a value no valid digest equals, so every
 * comparison fails closed. */
static void no_digest(char out[CTR_DIGEST_LEN + 1]) {
  memcpy(out, "sha256:", 7);
  memset(out + 7, 'x', CTR_DIGEST_HEX_LEN);
  out[CTR_DIGEST_LEN] = '\0';
}

void ctr_sha256_final(ctr_sha256 *h, char out[CTR_DIGEST_LEN + 1]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  if (h->failed || h->c->final(md, &h->ctx) != 1)
    no_digest(out);
  else
    to_hex(md, out);
  ctr_sha256_free(h);
}

void ctr_sha256_free(ctr_sha256 *h) {
  if (h == NULL)
    return;
  free(h);
}

void ctr_sha256_buf(const void *buf, size_t len, char out[CTR_DIGEST_LEN + 1]) {
  ctr_sha256 *h = ctr_sha256_new();
  if (h == NULL) {
    no_digest(out);
    return;
  }
  ctr_sha256_update(h, buf, len);
  ctr_sha256_final(h, out);
}

int ctr_sha256_file(int dirfd, const char *path, char out[CTR_DIGEST_LEN + 1],
                    ctr_err *err) {
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  ctr_sha256 *h;
  char buf[65536];
  ssize_t n;
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", path);
  h = ctr_sha256_new();
  if (h == NULL)
    return ctr_fail(err, ENOMEM, "hash %s", path);
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    ctr_sha256_update(h, buf, (size_t)n);
  if (n < 0) {
    ctr_sha256_free(h);
    return ctr_fail(err, errno, "read %s", path);
  }
  ctr_sha256_final(h, out);
  return 0;
}

bool ctr_digest_valid(const char *digest) {
  if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
    return false;
  if (strlen(digest) != CTR_DIGEST_LEN)
    return false;
  for (const char *p = digest + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

const char *ctr_digest_hex(const char *digest) { return digest + 7; }
