#define _GNU_SOURCE
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

struct ctr_sha256 {
  EVP_MD_CTX *ctx;
};

ctr_sha256 *ctr_sha256_new(void) {
  ctr_sha256 *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    ctr_sha256_free(h);
    return NULL;
  }
  return h;
}

void ctr_sha256_update(ctr_sha256 *h, const void *buf, size_t len) {
  EVP_DigestUpdate(h->ctx, buf, len);
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

void ctr_sha256_final(ctr_sha256 *h, char out[CTR_DIGEST_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(h->ctx, md, &n);
  to_hex(md, out);
  ctr_sha256_free(h);
}

void ctr_sha256_free(ctr_sha256 *h) {
  if (h == NULL)
    return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

void ctr_sha256_buf(const void *buf, size_t len, char out[CTR_DIGEST_LEN + 1]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
  to_hex(md, out);
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
