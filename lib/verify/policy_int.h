/* The parsed form of containers-policy.json, shared by the parser
 * (policy.c), the evaluator (policy_eval.c), docker reference matching
 * (policy_ref.c) and the verdict cache (policy_cache.c). Not for other
 * areas: they go through policy.h. */
#ifndef CTR_VERIFY_POLICY_INT_H
#define CTR_VERIFY_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"
#include "core/paths.h"
#include "verify/policy.h"

enum pr_type {
  PR_INSECURE_ACCEPT_ANYTHING,
  PR_REJECT,
  PR_SIGNED_BY,
  PR_SIGNED_BASE_LAYER, /* parsed as containers/image does; never passes */
};

enum prm_type {
  PRM_MATCH_EXACT,
  PRM_MATCH_REPO_DIGEST_OR_EXACT,
  PRM_MATCH_REPOSITORY,
  PRM_EXACT_REFERENCE,
  PRM_EXACT_REPOSITORY,
  PRM_REMAP_IDENTITY,
};

/* signedIdentity (and signedBaseLayer's baseLayerIdentity). */
struct prm {
  enum prm_type type;
  char *arg;           /* dockerReference, dockerRepository or prefix */
  char *signed_prefix; /* remapIdentity */
};

struct pr {
  enum pr_type type;
  char *key_type; /* signedBy: GPGKeys (others parse, never pass) */
  char *key_path;
  char **key_paths;
  size_t nkey_paths;
  bool has_key_paths; /* "keyPaths": [] is a list of no keys, not absent */
  unsigned char *key_data;
  size_t key_data_len;
  bool has_key_data;
  struct prm identity;
};

struct pr_list {
  struct pr *v;
  size_t n;
};

struct policy_scope {
  char *name;
  struct pr_list reqs;
};

struct policy_transport {
  char *name;
  struct policy_scope *scopes;
  size_t n;
};

struct policy {
  struct pr_list def;
  struct policy_transport *transports;
  size_t ntransports;
};

/* The requirements that apply to ref under the docker transport and the
 * scope they came from ("default" for the policy's default, "docker" for
 * the transport's "" scope). */
int policy_requirements_for(const struct policy *p, const char *ref,
                            const struct pr_list **reqs, const char **scope,
                            ctr_err *err);
const char *policy_pr_type_name(enum pr_type t);
const char *policy_prm_type_name(enum prm_type t);

/* A docker reference normalized as docker/distribution does:
 * "busybox" → name "docker.io/library/busybox", no tag (name only). */
struct dref {
  char *name;   /* fully qualified repository */
  char *tag;    /* NULL when none was written */
  char *digest; /* NULL when none was written */
};
int dref_parse(const char *s, struct dref *d, ctr_err *err);
void dref_free(struct dref *d);
/* name[:tag][@digest]; caller frees. */
char *dref_string(const struct dref *d);
/* The familiar form transports.ImageName uses ("busybox:latest");
 * caller frees. */
char *dref_familiar(const struct dref *d);
/* Scopes to try for d, most specific first (identity, repository,
 * parent namespaces, host, *.domain wildcards), NULL-ended; caller frees
 * with dref_scopes_free. */
char **dref_scopes(const struct dref *d);
void dref_scopes_free(char **v);
/* A docker scope as `policy set --scope` takes it: fully qualified
 * HOST[:PORT][/PATH][:TAG|@DIGEST] in canonical form, or *.DOMAIN.
 * *canonical (optional) gets the normalized form of a name that is not
 * canonical, as a hint; caller frees. */
bool policy_scope_valid(const char *scope, char **canonical);
/* containers/image's validateIdentityRemappingPrefix. */
bool dref_valid_remap_prefix(const char *s);
/* Does the signature's claimed identity satisfy m for the image judged
 * as `intended`? */
bool prm_matches(const struct prm *m, const struct dref *intended,
                 const char *signed_ref);

/* Verdict cache under $CTR_RUNDIR/trust/verdicts: a file per accepted
 * verdict, named by the sha256 of everything it depended on. */
struct verdict_key {
  char hex[65];
};
int policy_cache_key(const char *trust_dir, const struct policy *p,
                     const char *policy_bytes, size_t policy_len,
                     const char *prov_bytes, size_t prov_len, const char *ref,
                     const char *digest, const struct sig_blob *sigs,
                     size_t nsigs, struct verdict_key *k, ctr_err *err);
/* 1 with the stored report when a live verdict exists, 0 when not. */
int policy_cache_lookup(const char *verdict_dir, const struct verdict_key *k,
                        struct verify_report *r);
/* Store an accepted verdict valid until `expires` (0: no expiry). A
 * failure to store only costs speed; it is not reported. */
void policy_cache_store(const char *verdict_dir, const struct verdict_key *k,
                        const struct verify_report *r, time_t expires);

/* `policy show`: policy.json's requirements per scope (and the origin
 * requirements of provenance.json) as a table, or both files as one JSON
 * document {"policy": …, "provenance": …} (null where there is none). */
int policy_show(const struct ctr_paths *paths, bool json, ctr_err *err);

#endif
