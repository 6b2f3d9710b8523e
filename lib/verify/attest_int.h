/* Provenance internals shared by lib/verify/attest*.c, the unit tests and
 * the fuzzer: lifecycle events as in-toto statements, and the origins and
 * scopes of provenance.json. Pure: no keyring, no files. */
#ifndef CTR_VERIFY_ATTEST_INT_H
#define CTR_VERIFY_ATTEST_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define INTOTO_STATEMENT_V1 "https://in-toto.io/Statement/v1"
#define SLSA_PROVENANCE_V1 "https://slsa.dev/provenance/v1"
/* buildType is this prefix, the event, then "/v1". */
#define CTR_EVENT_TYPE_PREFIX "https://ctr.dev/image-event/"
#define CTR_BUILDER_ID "https://ctr.dev/ctr-verify/v1"

/* One lifecycle event as ctr records it. */
struct attest_event {
  char *event;    /* import, pull, tag, export, push, migrate, build */
  char *subject;  /* sha256:<hex> */
  char *name;     /* the subject's name, "" when recorded by digest only */
  char *time;     /* RFC 3339, runDetails.metadata.startedOn */
  long sequence;  /* 1, 2, ... in this store's chain for the subject */
  char *previous; /* sha256 of the previous envelope file, NULL for 1 */
  json_t *params; /* externalParameters: {KEY: VALUE strings} */
};
void attest_event_free(struct attest_event *ev);

/* Check an event name and KEY=VALUE parameters as `attest` takes them:
 * known event, required keys there, keys [a-z][a-z0-9-]*, no key twice,
 * *-digest values digests, printable values. Usage errors. On success
 * *params_out gets {KEY: VALUE}. */
int attest_params_parse(const char *event, char *const *params, size_t n,
                        json_t **params_out, ctr_err *err);

/* The in-toto Statement v1 (SLSA Provenance v1 predicate) for ev. */
json_t *attest_statement_build(const struct attest_event *ev,
                               const char *hostname);
/* Parse a statement ctr wrote back into an event; strict on what ctr
 * relies on (type, subject digest, buildType, sequence), tolerant of
 * members it does not read. */
int attest_statement_parse(const char *buf, size_t len,
                           struct attest_event *ev, ctr_err *err);

/* Origins of provenance.json: "pull:REGISTRY[/PATH]", "import:sha256:HEX". */
bool origin_valid(const char *origin);
/* Does ev (a pull or import event) satisfy origin? */
bool origin_matches(const char *origin, const struct attest_event *ev);
/* How ev's origin reads in messages ("pull:127.0.0.1:5000/a/b",
 * "import:sha256:…", or "tag" …); malloc'd. */
char *origin_of_event(const struct attest_event *ev);

/* Scopes of provenance.json, as containers-policy.json's docker transport
 * has them: HOST[:PORT][/PATH][:TAG|@DIGEST] or *.DOMAIN. */
bool origin_scope_valid(const char *scope);
/* Candidate scopes for a fully qualified reference, most specific first
 * ("host/path:tag", "host/path", parents, "host", "*.domain"...),
 * NULL-ended; free with origin_scopes_free. */
char **origin_scopes_for(const char *full_ref);
void origin_scopes_free(char **scopes);

/* Parse provenance.json strictly (unknown members, bad scopes or
 * origins, a requirement with neither origins nor keyPaths: errors). */
int origin_policy_parse(const char *buf, size_t len, json_t **out,
                        ctr_err *err);

#endif
