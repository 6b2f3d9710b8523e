/* sha256 digests in OCI form ("sha256:" + 64 lowercase hex). */
#ifndef CTR_CORE_DIGEST_H
#define CTR_CORE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CTR_DIGEST_HEX_LEN 64
#define CTR_DIGEST_LEN (7 + CTR_DIGEST_HEX_LEN) /* without NUL */

typedef struct ctr_sha256 ctr_sha256;

/* Streaming hash; returns NULL only when out of memory. */
ctr_sha256 *ctr_sha256_new(void);
void ctr_sha256_update(ctr_sha256 *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" into out (CTR_DIGEST_LEN + 1 bytes) and frees h. */
void ctr_sha256_final(ctr_sha256 *h, char out[CTR_DIGEST_LEN + 1]);
void ctr_sha256_free(ctr_sha256 *h);

void ctr_sha256_buf(const void *buf, size_t len, char out[CTR_DIGEST_LEN + 1]);
/* Hash a whole file. */
int ctr_sha256_file(int dirfd, const char *path, char out[CTR_DIGEST_LEN + 1],
                    ctr_err *err);

/* True for a well-formed "sha256:<64 lowercase hex>". */
bool ctr_digest_valid(const char *digest);
/* The hex part of a valid digest (pointer into the argument). */
const char *ctr_digest_hex(const char *digest);

#endif
