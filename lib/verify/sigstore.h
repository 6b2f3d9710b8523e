/* Signatures in the lookaside layout containers/image reads and writes
 * (docs/signature-protocols.md): BASE/<repository path>@sha256=<hex>/signature-N,
 * N from 1 with no gaps. $CTR_ROOT/trust/sigstore is one such BASE, so a
 * registries.d `lookaside: file://$CTR_ROOT/trust/sigstore` lets skopeo
 * and podman read what ctr stores. */
#ifndef CTR_VERIFY_SIGSTORE_H
#define CTR_VERIFY_SIGSTORE_H

#include <stddef.h>

#include "core/error.h"

struct sig_blob {
  char *data;
  size_t len;
  int index; /* N of signature-N */
};
void sig_blobs_free(struct sig_blob *s, size_t n);

/* "<path>@sha256=<hex>" for a docker reference's repository path as
 * containers/image forms it (see sigstore.c for which part of the name);
 * caller frees. ref is any reference ctr-image accepts. */
int sigstore_dir(const char *ref, const char *manifest_digest, char **out,
                 ctr_err *err);
/* Every signature-N under base (a directory path) for ref@digest, in
 * order; none is not an error. */
int sigstore_list(const char *base, const char *ref,
                  const char *manifest_digest, struct sig_blob **sigs,
                  size_t *n, ctr_err *err);
/* Read signature-1.. from a directory that holds them directly (what
 * `ctr-verify verify --signatures DIR` takes). */
int sigstore_list_dir(const char *dir, struct sig_blob **sigs, size_t *n,
                      ctr_err *err);
/* Add a signature as the next signature-N (atomically, fsynced), unless
 * the same bytes are there already; *index gets its N. */
int sigstore_add(const char *base, const char *ref,
                 const char *manifest_digest, const void *sig, size_t len,
                 int *index, ctr_err *err);

#endif
