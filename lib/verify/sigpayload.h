/* The "simple signing" payload of containers/image
 * (docs/containers-signature.5): what an OpenPGP signature of an image
 * vouches for. */
#ifndef CTR_VERIFY_SIGPAYLOAD_H
#define CTR_VERIFY_SIGPAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SIG_PAYLOAD_TYPE "atomic container signature"

struct sig_payload {
  char *docker_reference; /* critical.identity.docker-reference */
  char *manifest_digest;  /* critical.image.docker-manifest-digest */
  char *creator;          /* optional.creator, NULL if absent */
  int64_t timestamp;      /* optional.timestamp, 0 if absent */
};

/* Parse strictly, as containers/image does: unknown members of critical
 * and its objects, a wrong type, a missing field are errors. */
int sig_payload_parse(const char *buf, size_t len, struct sig_payload *p,
                      ctr_err *err);
/* The JSON to sign; caller frees. */
char *sig_payload_build(const char *docker_reference,
                        const char *manifest_digest, const char *creator,
                        int64_t timestamp);
void sig_payload_free(struct sig_payload *p);

#endif
