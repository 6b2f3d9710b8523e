/* How ctr-image and ctr-run hand trust decisions and lifecycle events to
 * ctr-verify (by exec, DESIGN §1: they do not link gpgme). */
#ifndef CTR_IMAGE_TRUST_H
#define CTR_IMAGE_TRUST_H

#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

/* $CTR_ROOT/trust/policy.json or provenance.json exists: images are
 * judged before they are pulled and before containers start. */
bool trust_policy_present(const struct ctr_paths *p);

/* `ctr-verify verify -q [--digest D] [--signatures DIR] REF`. 0 when
 * accepted; -1 with err "rejected by policy: <ctr-verify's reason>" when
 * rejected, or the failure to ask (which also refuses: fail closed). */
int trust_check(const struct ctr_paths *p, const char *ref,
                const char *digest, const char *sigdir, ctr_err *err);

/* ctr-run's gate before a container starts or restarts: 0 when no
 * policy is present (ctr-verify is not run), else trust_check of digest
 * under the store's name for image (as create judged it; image itself
 * when the store no longer has it), err "<image>: rejected by policy:
 * <reason>". */
int trust_enforce(const struct ctr_paths *p, const char *image,
                  const char *digest, ctr_err *err);

/* `ctr-verify attest EVENT DIGEST KEY=VALUE...` (params NULL-ended). An
 * event that cannot be recorded is a warning on stderr; it never undoes
 * or fails what already happened. */
void trust_record(const struct ctr_paths *p, const char *event,
                  const char *digest, const char *const *params);

#endif
