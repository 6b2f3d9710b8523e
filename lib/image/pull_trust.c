/* ctr-image pull and trust: the image's signatures come from its lookaside
 * (registries.d) and the policy judges the top-level manifest digest with
 * them (for an index, the index's digest, as skopeo signs and checks it)
 * before any config or layer is fetched, so a rejected image leaves no
 * byte in the store. Once the image is in, they are kept in
 * $CTR_ROOT/trust/sigstore, where ctr-run's checks find them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "lookaside.h"
#include "pull_int.h"
#include "trust.h"
#include "verify/sigstore.h"

struct pull_sigs {
  char *identity; /* the fully qualified reference */
  char top[CTR_DIGEST_LEN + 1];
  char *tmp;   /* $CTR_RUNDIR/pull-signatures.XXXXXX, or NULL */
  size_t n;    /* signature-1..n in it */
  bool known;  /* the store had the image under that name already */
};

static int make_tmp(const struct ctr_paths *paths, struct pull_sigs *s, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_free char *name = NULL;
  if (ctr_mkdir_p(AT_FDCWD, paths->rundir, 0700, err) < 0 ||
      (dfd = ctr_open_dir(AT_FDCWD, paths->rundir, err)) < 0 ||
      ctr_mkdtemp_at(dfd, "pull-signatures", &name, err) < 0)
    return ctr_wrap(err, "signatures");
  if (asprintf(&s->tmp, "%s/%s", paths->rundir, name) < 0)
    return ctr_fail(err, ENOMEM, "signatures");
  return 0;
}

/* The lookaside's signatures into s->tmp. No lookaside configured: none
 * fetched, and ctr-verify reads $CTR_ROOT/trust/sigstore instead, which
 * is then the image's lookaside (as containers/image falls back to its
 * own default directory). */
static int fetch_sigs(struct pull *p, const struct ctr_paths *paths, struct pull_sigs *s,
                      ctr_err *err) {
  cleanup_free char *base = NULL;
  if (lookaside_find(p->o->registries_d, s->identity, false, &base, err) < 0)
    return -1;
  if (base == NULL)
    return 0;
  ctr_debug("signatures of %s@%s from %s", s->identity, s->top, base);
  if (make_tmp(paths, s, err) < 0 || lookaside_fetch(base, p->repo, s->top, s->tmp, &s->n, err) < 0)
    return ctr_wrap(err, "signatures");
  return 0;
}

int pull_trust_check(struct pull *p, const struct ctr_paths *paths, const char *top_digest,
                     ctr_err *err) {
  struct pull_sigs *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "pull");
  p->sigs = s;
  snprintf(s->top, sizeof(s->top), "%s", top_digest);
  if ((s->identity = lookaside_identity(p->ref, err)) == NULL)
    return -1;
  if (fetch_sigs(p, paths, s, err) < 0)
    return -1;
  if (!trust_policy_present(paths))
    return 0;
  return trust_check(paths, p->ref, s->top, s->tmp, err);
}

/* Keep what the lookaside gave, as the next signature-N of the sigstore
 * unless the same bytes are there already. The image is in the store by
 * now: a failure here is a warning, the pull stands. */
static void store_sigs(struct pull *p, const struct ctr_paths *paths, struct pull_sigs *s) {
  cleanup_free char *base = NULL;
  cleanup_close int dfd = -1;
  ctr_err e = NULL;
  if (s->tmp == NULL || s->n == 0)
    return;
  if (asprintf(&base, "%s/trust/sigstore", paths->root) < 0 ||
      (dfd = ctr_open_dir(AT_FDCWD, s->tmp, &e)) < 0)
    goto fail;
  for (size_t i = 1; i <= s->n; i++) {
    cleanup_free char *buf = NULL;
    char name[32];
    size_t len;
    int index;
    snprintf(name, sizeof(name), "signature-%zu", i);
    if (ctr_read_file(dfd, name, LOOKASIDE_MAX_SIGNATURE_SIZE, &buf, &len, &e) < 0 ||
        sigstore_add(base, p->ref, s->top, buf, len, &index, &e) < 0)
      goto fail;
  }
  return;
fail:
  ctr_warn("pull %s: signatures not stored: %s", p->ref, e && e->msg ? e->msg : strerror(ENOMEM));
  ctr_err_free(&e);
}

void pull_trust_note_store(struct pull *p, const char *name, const json_t *desc) {
  cleanup_json json_t *index = NULL;
  const char *want = ctr_json_str(desc, "digest");
  const json_t *d;
  ctr_err e = NULL;
  size_t i;
  if (p->sigs == NULL || want == NULL || image_index_load(&p->s, &index, &e) < 0) {
    ctr_err_free(&e);
    return;
  }
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    const char *n = ctr_json_str(json_object_get(d, "annotations"), IMAGE_REF_ANNOTATION);
    if (strcmp(ctr_json_str(d, "digest") ?: "", want) == 0 &&
        (name == NULL || (n != NULL && strcmp(n, name) == 0)))
      p->sigs->known = true;
  }
}

void pull_trust_commit(struct pull *p, const struct ctr_paths *paths, const char *name,
                       const char *digest) {
  struct pull_sigs *s = p->sigs;
  cleanup_free char *pname = NULL, *pref = NULL, *preg = NULL, *pindex = NULL;
  const char *params[5];
  size_t n = 0;
  if (s == NULL)
    return;
  store_sigs(p, paths, s);
  if (s->known)
    return;
  if (name != NULL && asprintf(&pname, "name=%s", name) >= 0)
    params[n++] = pname;
  if (asprintf(&pref, "reference=%s", s->identity) >= 0)
    params[n++] = pref;
  if (asprintf(&preg, "registry=%s", p->host) >= 0)
    params[n++] = preg;
  if (strcmp(digest, s->top) != 0 && asprintf(&pindex, "index-digest=%s", s->top) >= 0)
    params[n++] = pindex;
  params[n] = NULL;
  trust_record(paths, "pull", digest, params);
}

void pull_trust_free(struct pull *p) {
  struct pull_sigs *s = p->sigs;
  if (s == NULL)
    return;
  if (s->tmp != NULL) {
    ctr_err e = NULL;
    if (ctr_rm_rf(AT_FDCWD, s->tmp, &e) < 0)
      ctr_debug("remove %s: %s", s->tmp, e && e->msg ? e->msg : "?");
    ctr_err_free(&e);
  }
  free(s->tmp);
  free(s->identity);
  free(s);
  p->sigs = NULL;
}
