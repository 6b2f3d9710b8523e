/* Provenance: every lifecycle event of an image is an in-toto Statement
 * (v1) about its manifest digest, in a DSSE envelope signed (OpenPGP,
 * detached, through gpgme) by the host's signing key when it has one,
 * stored under $CTR_ROOT/trust/attestations/<hex>/. And the origin
 * requirements of $CTR_ROOT/trust/provenance.json, which `ctr-verify
 * verify` checks after the signature policy. */
#ifndef CTR_VERIFY_ATTEST_H
#define CTR_VERIFY_ATTEST_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "core/error.h"
#include "verify/report.h"

/* Record event (import, pull, tag, export, push, migrate, build) about
 * subject (sha256:…) with params (KEY=VALUE strings, see ctr-verify(1)
 * `attest`); signed by key_fpr, or the host's key, or not at all when
 * the host has none. *path_out (optional) gets the stored file. */
int attest_record(const char *trust_dir, const char *event,
                  const char *subject, char *const *params, size_t nparams,
                  const char *key_fpr, char **path_out, ctr_err *err);

/* The statements about digest, oldest first, each checked against ctr's
 * keyring: an array of {"file", "sequence", "intact" (false: the entry
 * itself is broken or out of place), "statement", "envelope" (null when
 * unreadable), "signer":FPR|null, "uid":…|null, "signature":"valid"|
 * "unsigned"|"invalid: why"}. Nothing recorded: an empty array. */
int attest_chain(const char *trust_dir, const char *digest, json_t **out,
                 ctr_err *err);

/* provenance.json: origin requirements per docker scope. Adds one
 * "origin" check to r when the file exists (nothing when it does not):
 * the first statement recorded about digest must be intact, name one of
 * the scope's origins and, when the scope lists keys, be signed by one.
 * A malformed provenance.json is an error, never an acceptance. *until
 * (0: never) gets when an accepted keyed check stops holding by itself:
 * the statement signature's not_after (its own, its subkey's and its
 * key's expiry, the earliest). */
int origin_policy_check(const char *trust_dir, const char *keyring_cache,
                        const char *ref, const char *digest,
                        struct verify_report *r, time_t *until, ctr_err *err);
/* Add (or with `remove`, drop) a scope's origin requirement: origins are
 * "pull:REGISTRY[/REPO]" or "import:sha256:HEX", any of which satisfies
 * it; keys must have signed the statement when given: key files, or
 * fingerprints in ctr's keyring (exported to trust/keys/<FPR>.gpg). Scope
 * NULL or "" is the default. Returns 0, or 1 when `remove` found nothing
 * to remove; a file left requiring nothing is removed. */
int origin_policy_set(const char *trust_dir, const char *scope,
                      char *const *origins, size_t norigins,
                      char *const *keys, size_t nkeys, bool remove,
                      ctr_err *err);
/* origin_policy_set in two steps, so that `policy set`, which changes
 * policy.json too, runs every check before it writes anything. prepare
 * validates scope and origins, resolves the keys (a fingerprint is
 * exported from ctr's keyring into memory; a key file, when keyring_cache
 * is given, must open as a keyring) and builds and checks the new
 * provenance.json; it writes nothing. Returns 0 with *out, or 1 (*out
 * NULL) when `remove` finds nothing to remove. commit writes the exported
 * keys to trust/keys/, then provenance.json (removed when it requires
 * nothing any more). */
struct origin_change;
int origin_policy_prepare(const char *trust_dir, const char *keyring_cache,
                          const char *scope, char *const *origins,
                          size_t norigins, char *const *keys, size_t nkeys,
                          bool remove, struct origin_change **out,
                          ctr_err *err);
int origin_policy_commit(struct origin_change *c, ctr_err *err);
void origin_change_free(struct origin_change *c);
/* provenance.json as JSON (NULL when there is none). */
int origin_policy_show(const char *trust_dir, json_t **out, ctr_err *err);

#endif
