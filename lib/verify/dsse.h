/* DSSE envelopes (github.com/secure-systems-lab/dsse, protocol v1) and the
 * encoding they sign. Pure (no keyring, no files), so unit tests and the
 * fuzzer reach all of it. */
#ifndef CTR_VERIFY_DSSE_H
#define CTR_VERIFY_DSSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define DSSE_INTOTO_TYPE "application/vnd.in-toto+json"
/* Bounds on what we read back: an envelope file, a statement. */
#define DSSE_MAX (1 << 20)

/* The pre-authentication encoding DSSE signs:
 * "DSSEv1 <len(type)> <type> <len(body)> <body>". malloc'd. */
char *dsse_pae(const char *type, const void *body, size_t len, size_t *outlen);

/* Standard base64 with padding; malloc'd, NUL-terminated. */
char *dsse_b64_encode(const void *buf, size_t len);
/* Standard or URL-safe base64, padded or not (DSSE asks decoders to take
 * both); anything else (whitespace too) is an error. *out is malloc'd and
 * NUL-terminated. */
int dsse_b64_decode(const char *s, char **out, size_t *len, ctr_err *err);

struct dsse_sig {
  char *keyid; /* "" when absent */
  char *sig;   /* decoded bytes */
  size_t siglen;
};

struct dsse_envelope {
  char *payload_type;
  char *payload; /* decoded, NUL-terminated */
  size_t payload_len;
  struct dsse_sig *sigs;
  size_t nsigs;
};

/* Parse an envelope strictly: exactly payloadType, payload, signatures;
 * each signature {sig[, keyid]}; base64 must decode. */
int dsse_parse(const char *buf, size_t len, struct dsse_envelope *env,
               ctr_err *err);
void dsse_free(struct dsse_envelope *env);
/* An envelope around payload with zero or one signature (keyid, sig). */
json_t *dsse_build(const char *type, const void *payload, size_t len,
                   const char *keyid, const void *sig, size_t siglen);

#endif
