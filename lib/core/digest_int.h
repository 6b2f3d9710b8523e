/* The libcrypto functions lib/core/digest.c hashes with, whether loaded
 * on first use or linked into the program (digest_linked.c). The
 * low-level SHA256 functions are deprecated in OpenSSL 3 in favour of
 * EVP, but kept; see digest.c for why ctr uses them. */
#ifndef CTR_CORE_DIGEST_INT_H
#define CTR_CORE_DIGEST_INT_H

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stddef.h>

struct crypto {
  int (*init)(SHA256_CTX *);
  int (*update)(SHA256_CTX *, const void *, size_t);
  int (*final)(unsigned char *, SHA256_CTX *);
};

#endif
