/* The chain of statements of one subject on disk, shared by attest.c
 * (recording, `provenance`) and attest_policy.c (the origin check). */
#ifndef CTR_VERIFY_ATTEST_CHAIN_H
#define CTR_VERIFY_ATTEST_CHAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "verify/attest_int.h"
#include "verify/gpg.h"

/* Open $trust/attestations/<hex of digest> (made when create); -1 with
 * (*err)->errnum ENOENT when nothing was ever recorded about digest. */
int attest_open_dir(const char *trust_dir, const char *digest, bool create,
                    ctr_err *err);
/* The chain's file names in order (temp files and strangers left out). */
int attest_list(int dirfd, char ***names, size_t *n, ctr_err *err);
void attest_names_free(char **names, size_t n);
/* Check file, the index-th (from 1) of the chain, whose predecessor's
 * bytes hash to previous (NULL for the first): *entry_out gets the entry
 * attest_chain describes; a bad entry is not an error, its "signature"
 * says "invalid: …". ev_out (optional) gets the parsed event (zeroed when
 * it could not be parsed). err only when the file cannot be read. */
int attest_entry_check(int dirfd, const char *file, long index,
                       const char *previous, const char *digest,
                       struct vgpg *g, json_t **entry_out,
                       struct attest_event *ev_out, ctr_err *err);
/* attest_chain with signatures checked against g (NULL: none can be), at
 * most limit entries (0: all). */
int attest_chain_with(const char *trust_dir, const char *digest,
                      struct vgpg *g, size_t limit, json_t **out,
                      ctr_err *err);

#endif
