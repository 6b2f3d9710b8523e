/* How ctr-image and ctr-run hand trust decisions and lifecycle events to
 * ctr-verify (by exec, DESIGN §1: they do not link gpgme). */
#ifndef CTR_IMAGE_TRUST_H
#define CTR_IMAGE_TRUST_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

struct image_store;
struct image;

/* $CTR_ROOT/trust/policy.json or provenance.json exists: images are
 * judged before they are pulled and before containers start. */
bool trust_policy_present(const struct ctr_paths *p);

/* `ctr-verify verify -q [--digest D] [--signatures DIR] REF`. 0 when
 * accepted; -1 with err "rejected by policy: <ctr-verify's reason>" when
 * rejected, or the failure to ask (which also refuses: fail closed). */
int trust_check(const struct ctr_paths *p, const char *ref,
                const char *digest, const char *sigdir, ctr_err *err);

/* The names ctr-run judges an image under, worked out once at create
 * (and recorded in the container's state.json as "trust_names", so every
 * start and restart judges exactly those, whatever the store's names are
 * by then). A new JSON array of strings in *names:
 *   - ref names the image by a store name ("busybox", "busybox:1"): that
 *     store name alone;
 *   - ref is REPO@DIGEST: ref itself, and, unless the store has a name in
 *     REPO for the image, every store name of it too;
 *   - by ID, digest or a prefix: every store name that points at the
 *     image's digest (an ID names no repository: each repository it is
 *     in must accept it);
 *   - none of these: TRUST_NAMELESS_REPO@DIGEST, a name no registry has,
 *     so only the policy's default (or a scope naming it) judges it.
 * img is what ref resolved to in s. */
int trust_names(struct image_store *s, const char *ref, const struct image *img,
                json_t **names, ctr_err *err);
#define TRUST_NAMELESS_REPO "nameless.invalid/image"

/* ctr-run's gate before a container starts or restarts: 0 when no
 * policy is present (ctr-verify is not run), else trust_check of digest
 * under every name of names, all of which must accept (the first refusal
 * is the reason), err "<image>: rejected by policy: <reason>". names
 * NULL (a container created before names were recorded): trust_names of
 * image, as it was given to create, in the store as it is now, or image
 * itself when it names an image the store no longer has. */
int trust_enforce(const struct ctr_paths *p, const char *image, const json_t *names,
                  const char *digest, ctr_err *err);

/* `ctr-verify attest EVENT DIGEST KEY=VALUE...` (params NULL-ended). An
 * event that cannot be recorded is a warning on stderr; it never undoes
 * or fails what already happened. */
void trust_record(const struct ctr_paths *p, const char *event,
                  const char *digest, const char *const *params);

#endif
