/* ctr-image push and trust: --sign-by signs the destination's identity
 * (by `ctr-verify sign`) before anything is sent; once the manifests are
 * in, every signature of the image's repository path and digest in
 * $CTR_ROOT/trust/sigstore goes to the destination's lookaside-staging
 * (registries.d, file:// only) as containers/image writes it, and the
 * push is recorded as a provenance event. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/log.h"
#include "core/tool.h"
#include "lookaside.h"
#include "push_int.h"
#include "trust.h"
#include "verify/sigstore.h"

struct push_sigs {
  char *dest;     /* as the user wrote it */
  char *identity; /* fully qualified */
  char *signed_path; /* the signature --sign-by made, until the push is done */
  char *staging;  /* where signatures go, or NULL */
};

static int sign(struct push *p, const struct ctr_paths *paths, const char *name,
                struct push_sigs *s, ctr_err *err) {
  const char *args[] = {"sign", "-k", p->o->sign_by, "--identity", s->identity, name, NULL};
  cleanup_free char *out = NULL;
  if (ctr_tool_run(paths, "ctr-verify", args, &out, NULL, err) < 0)
    return ctr_wrap(err, "--sign-by %s", p->o->sign_by);
  if (out != NULL) {
    out[strcspn(out, "\n")] = '\0';
    if (out[0] == '/')
      s->signed_path = ctr_steal(out);
  }
  return 0;
}

static int find_staging(struct push *p, struct push_sigs *s, ctr_err *err) {
  struct lookaside_config cfg;
  bool must_exist;
  const char *dir = lookaside_config_dir(p->o->registries_d, &must_exist), *base;
  int ret = 0;
  if (lookaside_config_load(dir, must_exist, &cfg, err) < 0)
    return -1;
  base = lookaside_base(&cfg, s->identity, true);
  if (base != NULL) {
    cleanup_free char *path = lookaside_file_path(base, err);
    if (path == NULL)
      ret = ctr_fail(err, 0, "lookaside %s: signatures can only be written to file:// "
                             "locations", base);
    else if ((s->staging = strdup(base)) == NULL)
      ret = ctr_fail(err, ENOMEM, "push");
  }
  lookaside_config_free(&cfg);
  return ret;
}

int push_trust_prepare(struct push *p, const struct ctr_paths *paths, const char *name,
                       const char *dest, ctr_err *err) {
  struct push_sigs *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "push");
  p->sigs = s;
  if ((s->dest = strdup(dest)) == NULL)
    return ctr_fail(err, ENOMEM, "push");
  if ((s->identity = lookaside_identity(dest, err)) == NULL || find_staging(p, s, err) < 0)
    return -1;
  if (p->o->sign_by != NULL && sign(p, paths, name, s, err) < 0)
    return -1;
  return 0;
}

static int write_staging(struct push *p, const struct ctr_paths *paths, struct push_sigs *s,
                         ctr_err *err) {
  cleanup_free char *base = NULL;
  struct sig_blob *sigs = NULL;
  struct lookaside_sig *ls = NULL;
  size_t n = 0;
  int ret;
  if (s->staging == NULL)
    return 0;
  if (asprintf(&base, "%s/trust/sigstore", paths->root) < 0)
    return ctr_fail(err, ENOMEM, "push");
  if (sigstore_list(base, s->dest, p->top.digest, &sigs, &n, err) < 0)
    return -1;
  if (n == 0)
    return 0;
  if ((ls = calloc(n, sizeof(*ls))) == NULL) {
    sig_blobs_free(sigs, n);
    return ctr_fail(err, ENOMEM, "push");
  }
  for (size_t i = 0; i < n; i++) {
    ls[i].data = sigs[i].data;
    ls[i].len = sigs[i].len;
  }
  ret = lookaside_store(s->staging, p->repo, p->top.digest, ls, n, err);
  if (ret == 0)
    ctr_debug("%zu signature(s) of %s to %s", n, s->identity, s->staging);
  free(ls);
  sig_blobs_free(sigs, n);
  return ret;
}

int push_trust_commit(struct push *p, const struct ctr_paths *paths, ctr_err *err) {
  struct push_sigs *s = p->sigs;
  cleanup_free char *pref = NULL, *preg = NULL;
  const char *params[3];
  size_t n = 0;
  if (write_staging(p, paths, s, err) < 0)
    return ctr_wrap(err, "signatures");
  free(s->signed_path); /* kept: the push it was made for happened */
  s->signed_path = NULL;
  if (asprintf(&pref, "reference=%s", s->identity) >= 0)
    params[n++] = pref;
  if (asprintf(&preg, "registry=%s", p->host) >= 0)
    params[n++] = preg;
  params[n] = NULL;
  trust_record(paths, "push", p->top.digest, params);
  return 0;
}

void push_trust_free(struct push *p) {
  struct push_sigs *s = p->sigs;
  if (s == NULL)
    return;
  /* A push that failed leaves the sigstore as it was: the signature made
   * for it is the newest signature-N of its directory, so removing it
   * leaves no gap. */
  if (s->signed_path != NULL) {
    char *slash;
    if (unlink(s->signed_path) < 0)
      ctr_debug("remove %s: %s", s->signed_path, strerror(errno));
    /* and the directories sign made for it, while they are empty */
    while ((slash = strrchr(s->signed_path, '/')) != NULL && slash != s->signed_path) {
      *slash = '\0';
      if (strstr(s->signed_path, "/trust/sigstore") == NULL || rmdir(s->signed_path) < 0)
        break;
    }
  }
  free(s->signed_path);
  free(s->staging);
  free(s->identity);
  free(s->dest);
  free(s);
  p->sigs = NULL;
}
