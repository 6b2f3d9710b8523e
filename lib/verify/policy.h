/* containers-policy.json (containers-policy.json(5)): which images are
 * trusted, by transport and scope. ctr judges every image under the
 * "docker" transport by its docker reference: images are named by the
 * references they were pulled or imported as. */
#ifndef CTR_VERIFY_POLICY_H
#define CTR_VERIFY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "core/error.h"
#include "verify/report.h"
#include "verify/sigstore.h"

struct policy; /* a parsed, validated policy */

/* Parse strictly (unknown members, wrong types, unknown requirement
 * types, an empty requirement list: errors, as containers/image has
 * them). A malformed policy is an error, never "accept". */
int policy_parse(const char *buf, size_t len, struct policy **out,
                 ctr_err *err);
/* $CTR_ROOT/trust/policy.json; *out NULL when there is none. */
int policy_load(const char *trust_dir, struct policy **out, ctr_err *err);
void policy_free(struct policy *p);

/* Judge ref (a docker reference) whose manifest digest is `digest`, with
 * these signatures, adding one check per requirement of the scope that
 * applies (and setting r->scope). keyring_cache is where throw-away
 * keyrings for signedBy keys are kept ($CTR_RUNDIR/trust/keyrings).
 * Relative keyPaths resolve against trust_dir. */
int policy_evaluate(const struct policy *p, const char *trust_dir,
                    const char *keyring_cache, const char *ref,
                    const char *digest, const struct sig_blob *sigs,
                    size_t nsigs, struct verify_report *r, ctr_err *err);
/* Same, and *valid_until gets when the verdict stops holding by itself:
 * the earliest of the accepted signature's own expiry and its signing
 * subkey's and primary key's (0: never). */
int policy_evaluate_until(const struct policy *p, const char *trust_dir,
                          const char *keyring_cache, const char *ref,
                          const char *digest, const struct sig_blob *sigs,
                          size_t nsigs, struct verify_report *r,
                          time_t *valid_until, ctr_err *err);
/* Same, for an image picked from an index (manifest list): a signature
 * may also name one of index_digests, which the caller has found to list
 * `digest` (skopeo signs a tag's top-level digest, the index's). The
 * accepted line then says "via index <digest>". */
int policy_evaluate_image(const struct policy *p, const char *trust_dir,
                          const char *keyring_cache, const char *ref,
                          const char *digest, const char *const *index_digests,
                          size_t nindex, const struct sig_blob *sigs,
                          size_t nsigs, struct verify_report *r,
                          time_t *valid_until, ctr_err *err);

#endif
