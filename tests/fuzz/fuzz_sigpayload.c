/* libFuzzer target: a signature's payload comes from whoever serves the
 * lookaside or the registry, so the simple signing parser must refuse
 * garbage cleanly, and whatever it accepts must survive a round trip
 * through the builder unchanged. The input is also tried as key
 * material (the sniff before a keyring is touched) and as a reference
 * for the lookaside directory name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "verify/gpg.h"
#include "verify/sigpayload.h"
#include "verify/sigstore.h"

#define D1                                                                     \
  "sha256:5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e"

static void round_trip(const struct sig_payload *p) {
  struct sig_payload q;
  ctr_err err = NULL;
  char *j = sig_payload_build(p->docker_reference, p->manifest_digest,
                              p->creator, p->timestamp);
  if (j == NULL)
    return;
  if (sig_payload_parse(j, strlen(j), &q, &err) != 0)
    abort();
  if (strcmp(q.docker_reference, p->docker_reference) != 0 ||
      strcmp(q.manifest_digest, p->manifest_digest) != 0 ||
      q.timestamp != p->timestamp ||
      ((q.creator == NULL) != (p->creator == NULL || p->creator[0] == '\0')))
    abort();
  sig_payload_free(&q);
  free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sig_payload p;
  ctr_err err = NULL;
  char *s, *dir = NULL;

  if (sig_payload_parse((const char *)data, size, &p, &err) == 0) {
    round_trip(&p);
    sig_payload_free(&p);
  }
  ctr_err_free(&err);
  (void)vgpg_looks_like_keys(data, size);
  s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (sigstore_dir(s, D1, &dir, &err) == 0) {
    if (strstr(dir, "..") != NULL || dir[0] == '/')
      abort(); /* a name must never leave the sigstore */
    free(dir);
  }
  ctr_err_free(&err);
  free(s);
  return 0;
}
