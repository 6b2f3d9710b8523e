/* Judging an image by the policy, as containers/image does
 * (signature/policy_eval*.go): the most specific docker scope wins, every
 * requirement of it must pass, and signedBy passes when one signature
 * verifies with one of its keys, names the manifest digest and carries
 * an identity signedIdentity accepts. Reasons are containers/image's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "verify/gpg.h"
#include "verify/policy_int.h"
#include "verify/sigpayload.h"

#define KEY_FILE_MAX (1 << 20)

static const struct policy_transport *find_transport(const struct policy *p,
                                                     const char *name) {
  for (size_t i = 0; i < p->ntransports; i++)
    if (strcmp(p->transports[i].name, name) == 0)
      return &p->transports[i];
  return NULL;
}

static const struct policy_scope *find_scope(const struct policy_transport *t,
                                             const char *name) {
  for (size_t i = 0; t != NULL && i < t->n; i++)
    if (strcmp(t->scopes[i].name, name) == 0)
      return &t->scopes[i];
  return NULL;
}

int policy_requirements_for(const struct policy *p, const char *ref,
                            const struct pr_list **reqs, const char **scope,
                            ctr_err *err) {
  const struct policy_transport *t = find_transport(p, "docker");
  const struct policy_scope *s;
  struct dref d;
  char **scopes;

  if (dref_parse(ref, &d, err) < 0)
    return -1;
  if (d.tag != NULL && d.digest != NULL) {
    dref_free(&d);
    return ctr_fail(err, 0,
                    "Docker references with both a tag and digest are "
                    "currently not supported");
  }
  if (d.tag == NULL && d.digest == NULL) {
    /* docker's transport adds the default tag. */
    d.tag = strdup("latest");
  }
  scopes = dref_scopes(&d);
  dref_free(&d);
  if (scopes == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  for (size_t i = 0; scopes[i] != NULL; i++) {
    if ((s = find_scope(t, scopes[i])) != NULL) {
      dref_scopes_free(scopes);
      *reqs = &s->reqs;
      *scope = s->name;
      return 0;
    }
  }
  dref_scopes_free(scopes);
  if ((s = find_scope(t, "")) != NULL) {
    *reqs = &s->reqs;
    *scope = "docker";
    return 0;
  }
  *reqs = &p->def;
  *scope = "default";
  return 0;
}

/* The key blocks a signedBy names; a file that cannot be read is a
 * rejection (containers/image reads them at evaluation too). */
struct keyset {
  char **bufs;
  size_t *lens;
  size_t n;
};

static void keyset_free(struct keyset *k) {
  for (size_t i = 0; i < k->n; i++)
    free(k->bufs[i]);
  free(k->bufs);
  free(k->lens);
  memset(k, 0, sizeof(*k));
}

static int keyset_add_file(struct keyset *k, const char *trust_dir,
                           const char *path, ctr_err *err) {
  cleanup_free char *full = NULL;
  if (path[0] != '/' && asprintf(&full, "%s/%s", trust_dir, path) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  if (ctr_read_file(AT_FDCWD, full ? full : path, KEY_FILE_MAX, &k->bufs[k->n],
                    &k->lens[k->n], err) < 0)
    return -1;
  k->n++;
  return 0;
}

static int keyset_load(const struct pr *r, const char *trust_dir,
                       struct keyset *k, ctr_err *err) {
  size_t cap = r->nkey_paths + 1;
  memset(k, 0, sizeof(*k));
  k->bufs = calloc(cap, sizeof(*k->bufs));
  k->lens = calloc(cap, sizeof(*k->lens));
  if (k->bufs == NULL || k->lens == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  if (r->key_path != NULL && *r->key_path)
    return keyset_add_file(k, trust_dir, r->key_path, err);
  for (size_t i = 0; i < r->nkey_paths; i++)
    if (keyset_add_file(k, trust_dir, r->key_paths[i], err) < 0)
      return -1;
  if (r->has_key_data) {
    k->bufs[0] = malloc(r->key_data_len + 1);
    if (k->bufs[0] == NULL)
      return ctr_fail(err, ENOMEM, "policy");
    memcpy(k->bufs[0], r->key_data, r->key_data_len);
    k->lens[0] = r->key_data_len;
    k->n = 1;
  }
  return 0;
}

/* The digests a signature may name for the image: its manifest's, and
 * those of indexes the caller found listing that manifest (what skopeo
 * signs for a tag that names an index). */
struct covered {
  const char *digest;
  const char *const *index;
  size_t nindex;
};

/* NULL when the signature names none of them; else the index it names,
 * or "" for the manifest itself. */
static const char *covered_by(const struct covered *c, const char *signed_digest) {
  if (strcmp(signed_digest, c->digest) == 0)
    return "";
  for (size_t i = 0; i < c->nindex; i++)
    if (c->index[i] != NULL && strcmp(signed_digest, c->index[i]) == 0)
      return c->index[i];
  return NULL;
}

/* What checking one signature against a signedBy found. */
struct sig_outcome {
  bool accepted;
  char *reason; /* when not accepted */
  char *signer; /* fingerprint, when accepted */
  char *identity;
  const char *via;  /* the index the signature covered, or NULL */
  time_t not_after; /* the verdict's (vgpg_verdict), when accepted */
};

static int reject_with(struct sig_outcome *o, ctr_err *err, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
static int reject_with(struct sig_outcome *o, ctr_err *err, const char *fmt,
                       ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&o->reason, fmt, ap) < 0)
    o->reason = NULL;
  va_end(ap);
  if (o->reason == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  return 0;
}

/* containers/image's verifyAndExtractSignature: the signature, then the
 * manifest digest, then the identity. The key is necessarily one of the
 * policy's: the keyring holds nothing else. */
static int check_signature(struct vgpg *g, const struct pr *r,
                           const struct dref *intended, const struct covered *c,
                           const struct sig_blob *sig, struct sig_outcome *o,
                           ctr_err *err) {
  struct vgpg_verdict v;
  struct sig_payload pl;
  const char *via;
  ctr_err e = NULL;
  int ret = 0;

  memset(o, 0, sizeof(*o));
  if (vgpg_verify(g, sig->data, sig->len, NULL, 0, &v, &e) < 0) {
    ret = reject_with(o, err, "%s",
                      e && e->msg ? e->msg : "signature not checked");
    ctr_err_free(&e);
    return ret;
  }
  if (!v.valid) {
    ret = reject_with(o, err, "%s",
                      v.reason ? v.reason : "Invalid GPG signature");
    vgpg_verdict_free(&v);
    return ret;
  }
  if (sig_payload_parse(v.payload ? v.payload : "", v.payload_len, &pl, &e) <
      0) {
    ret = reject_with(o, err, "%s", e && e->msg ? e->msg : "invalid signature");
    ctr_err_free(&e);
    vgpg_verdict_free(&v);
    return ret;
  }
  if ((via = covered_by(c, pl.manifest_digest)) == NULL)
    ret = reject_with(o, err, "Signature for digest %s does not match",
                      pl.manifest_digest);
  else if (!prm_matches(&r->identity, intended, pl.docker_reference))
    ret = reject_with(o, err, "Signature for identity %s is not accepted",
                      pl.docker_reference);
  else {
    o->accepted = true;
    o->via = *via ? via : NULL;
    o->not_after = v.not_after;
    o->signer = strdup(v.fpr);
    o->identity = strdup(pl.docker_reference);
    if (o->signer == NULL || o->identity == NULL)
      ret = ctr_fail(err, ENOMEM, "policy");
  }
  vgpg_verdict_free(&v);
  sig_payload_free(&pl);
  return ret;
}

/* The accepted signature's line in the report, with who signed it; the
 * signature's own expiry and its key's (subkey and primary) bound how
 * long the verdict may be cached. */
static int report_accepted(struct vgpg *g, const struct sig_blob *sig,
                           const struct sig_outcome *o,
                           struct verify_report *rep, time_t *valid_until,
                           ctr_err *err) {
  struct vgpg_key key;
  ctr_err e = NULL;
  int ret;

  if (vgpg_find(g, o->signer, false, &key, &e) < 0) {
    ctr_err_free(&e);
    return verify_report_add(rep, false, "signedBy", err,
                             "Signature by key %s is not accepted", o->signer);
  }
  *valid_until = vgpg_earlier(*valid_until, o->not_after);
  ret = verify_report_add(
      rep, true, "signedBy", err, "signature-%d by %s%s%s%s for %s%s%s",
      sig->index, key.fpr, key.uid && *key.uid ? " (" : "",
      key.uid ? key.uid : "", key.uid && *key.uid ? ")" : "", o->identity,
      o->via ? " via index " : "", o->via ? o->via : "");
  free(key.uid);
  free(key.algo);
  return ret;
}

/* Summarize rejections as prSignedBy.isRunningImageAllowed does. */
static int add_rejection(struct verify_report *rep, char **reasons, size_t n,
                         ctr_err *err) {
  size_t total = 0;
  cleanup_free char *joined = NULL;
  if (n == 0)
    return verify_report_add(
        rep, false, "signedBy", err,
        "A signature was required, but no signature exists");
  if (n == 1)
    return verify_report_add(rep, false, "signedBy", err, "%s", reasons[0]);
  for (size_t i = 0; i < n; i++)
    total += strlen(reasons[i]) + 2;
  joined = calloc(1, total + 1);
  if (joined == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      strcat(joined, "; ");
    strcat(joined, reasons[i]);
  }
  return verify_report_add(rep, false, "signedBy", err,
                           "None of the signatures were accepted, reasons: %s",
                           joined);
}

static void reasons_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static int eval_signed_by(const struct pr *r, const char *trust_dir,
                          const char *keyring_cache,
                          const struct dref *intended, const struct covered *c,
                          const struct sig_blob *sigs, size_t nsigs,
                          struct verify_report *rep, time_t *valid_until,
                          ctr_err *err) {
  char **reasons = calloc(nsigs + 1, sizeof(char *));
  cleanup_free char *common = NULL;
  struct keyset ks = {0};
  struct vgpg *g = NULL;
  size_t nr = 0;
  ctr_err e = NULL;
  int ret = 0;

  if (reasons == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  if (nsigs == 0)
    goto summary;
  /* A reason that holds for every signature, found before checking any. */
  if (strcmp(r->key_type, "GPGKeys") != 0) {
    if (asprintf(&common, "Unimplemented \"keyType\" value \"%s\"",
                 r->key_type) < 0)
      common = NULL;
  } else if (keyset_load(r, trust_dir, &ks, &e) < 0) {
    common = strdup(e && e->msg ? e->msg : "keys not loaded");
  }
  ctr_err_free(&e);
  for (size_t i = 0; i < nsigs && ret == 0; i++) {
    struct sig_outcome o;
    if (common != NULL) {
      reasons[nr] = strdup(common);
      if (reasons[nr++] == NULL)
        ret = ctr_fail(err, ENOMEM, "policy");
      continue;
    }
    /* A keyring of the policy's keys per signature, as containers/image
     * has it: one check never sees another's state. The keyring is
     * cached on disk, so this costs a gpgme context, not an import. */
    if (vgpg_open_keys(keyring_cache, (const void *const *)ks.bufs, ks.lens,
                       ks.n, &g, &e) < 0) {
      reasons[nr] = strdup(e && e->msg ? e->msg : "keys not loaded");
      ctr_err_free(&e);
      if (reasons[nr++] == NULL)
        ret = ctr_fail(err, ENOMEM, "policy");
      continue;
    }
    ret = check_signature(g, r, intended, c, &sigs[i], &o, err);
    if (ret < 0)
      break;
    if (o.accepted) {
      /* One accepted signature is enough. */
      ret = report_accepted(g, &sigs[i], &o, rep, valid_until, err);
      free(o.signer);
      free(o.identity);
      goto out;
    }
    reasons[nr++] = o.reason;
    vgpg_close(g);
    g = NULL;
  }
  if (ret < 0)
    goto out;
summary:
  ret = add_rejection(rep, reasons, nr, err);
out:
  reasons_free(reasons, nr);
  if (g != NULL)
    vgpg_close(g);
  keyset_free(&ks);
  return ret;
}

int policy_evaluate_image(const struct policy *p, const char *trust_dir,
                          const char *keyring_cache, const char *ref,
                          const char *digest, const char *const *index_digests,
                          size_t nindex, const struct sig_blob *sigs,
                          size_t nsigs, struct verify_report *r,
                          time_t *valid_until, ctr_err *err) {
  const struct covered c = {digest, index_digests, nindex};
  const struct pr_list *reqs;
  const char *scope;
  cleanup_free char *familiar = NULL;
  struct dref intended;
  int ret = 0;

  *valid_until = 0;
  if (policy_requirements_for(p, ref, &reqs, &scope, err) < 0)
    return -1;
  free(r->scope);
  r->scope = strdup(scope);
  if (dref_parse(ref, &intended, err) < 0)
    return -1;
  if (intended.tag == NULL && intended.digest == NULL &&
      (intended.tag = strdup("latest")) == NULL) {
    dref_free(&intended);
    return ctr_fail(err, ENOMEM, "policy");
  }
  familiar = dref_familiar(&intended);
  if (r->scope == NULL || familiar == NULL) {
    dref_free(&intended);
    return ctr_fail(err, ENOMEM, "policy");
  }
  for (size_t i = 0; i < reqs->n && ret == 0; i++) {
    const struct pr *q = &reqs->v[i];
    switch (q->type) {
    case PR_INSECURE_ACCEPT_ANYTHING:
      ret = verify_report_add(r, true, "insecureAcceptAnything", err,
                              "any image is accepted");
      break;
    case PR_REJECT:
      ret = verify_report_add(
          r, false, "reject", err,
          "Running image docker://%s is rejected by policy.", familiar);
      break;
    case PR_SIGNED_BASE_LAYER:
      ret = verify_report_add(r, false, "signedBaseLayer", err,
                              "signedBaseLayer not implemented yet!");
      break;
    case PR_SIGNED_BY:
      ret = eval_signed_by(q, trust_dir, keyring_cache, &intended, &c, sigs,
                           nsigs, r, valid_until, err);
      break;
    }
  }
  dref_free(&intended);
  return ret;
}

int policy_evaluate_until(const struct policy *p, const char *trust_dir,
                          const char *keyring_cache, const char *ref,
                          const char *digest, const struct sig_blob *sigs,
                          size_t nsigs, struct verify_report *r,
                          time_t *valid_until, ctr_err *err) {
  return policy_evaluate_image(p, trust_dir, keyring_cache, ref, digest, NULL,
                               0, sigs, nsigs, r, valid_until, err);
}

int policy_evaluate(const struct policy *p, const char *trust_dir,
                    const char *keyring_cache, const char *ref,
                    const char *digest, const struct sig_blob *sigs,
                    size_t nsigs, struct verify_report *r, ctr_err *err) {
  time_t until;
  return policy_evaluate_until(p, trust_dir, keyring_cache, ref, digest, sigs,
                               nsigs, r, &until, err);
}
