/* Docker references as containers/image compares them for a policy:
 * normalized names, the scopes a reference is looked up under, and the
 * signedIdentity rules (signature/policy_reference_match.go). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "image/ref.h"
#include "verify/policy_int.h"

/* image_ref_parse fills in "latest" when neither a tag nor a digest was
 * written; containers/image tells a name-only reference apart. */
static bool has_explicit_tag(const char *s) {
  const char *at = strchr(s, '@');
  size_t n = at ? (size_t)(at - s) : strlen(s);
  const char *slash = memrchr(s, '/', n);
  const char *from = slash ? slash : s;
  return memchr(from, ':', n - (size_t)(from - s)) != NULL;
}

int dref_parse(const char *s, struct dref *d, ctr_err *err) {
  struct image_ref r;

  memset(d, 0, sizeof(*d));
  if (image_ref_parse(s, &r, err) < 0)
    return -1;
  d->name = image_ref_full_repo(&r);
  if (r.tag != NULL && has_explicit_tag(s))
    d->tag = strdup(r.tag);
  if (r.digest != NULL)
    d->digest = strdup(r.digest);
  if (d->name == NULL || (has_explicit_tag(s) && d->tag == NULL) ||
      (r.digest != NULL && d->digest == NULL)) {
    image_ref_free(&r);
    dref_free(d);
    return ctr_fail(err, ENOMEM, "parse %s", s);
  }
  image_ref_free(&r);
  return 0;
}

void dref_free(struct dref *d) {
  free(d->name);
  free(d->tag);
  free(d->digest);
  memset(d, 0, sizeof(*d));
}

char *dref_string(const struct dref *d) {
  char *s = NULL;
  if (asprintf(&s, "%s%s%s%s%s", d->name, d->tag ? ":" : "",
               d->tag ? d->tag : "", d->digest ? "@" : "",
               d->digest ? d->digest : "") < 0)
    return NULL;
  return s;
}

char *dref_familiar(const struct dref *d) {
  const char *name = d->name;
  char *s = NULL;
  if (strncmp(name, "docker.io/", 10) == 0) {
    name += 10;
    if (strncmp(name, "library/", 8) == 0 && strchr(name + 8, '/') == NULL)
      name += 8;
  }
  if (asprintf(&s, "%s%s%s%s%s", name, d->tag ? ":" : "", d->tag ? d->tag : "",
               d->digest ? "@" : "", d->digest ? d->digest : "") < 0)
    return NULL;
  return s;
}

void dref_scopes_free(char **v) {
  for (size_t i = 0; v != NULL && v[i] != NULL; i++)
    free(v[i]);
  free(v);
}

/* containers/image (docker/policyconfiguration): the identity, the
 * repository and each parent namespace up to the host (port included),
 * then "*.domain" for each parent domain of the host without its port. */
char **dref_scopes(const struct dref *d) {
  size_t cap = 4, n = 0;
  char **v = calloc(cap, sizeof(*v));
  cleanup_free char *name = strdup(d->name);
  cleanup_free char *host = NULL;
  char *slash, *colon, *dot;

#define PUSH(expr)                                                             \
  do {                                                                         \
    if (n + 2 > cap) {                                                         \
      char **g_ = realloc(v, (cap *= 2) * sizeof(*v));                         \
      if (g_ == NULL)                                                          \
        goto fail;                                                             \
      v = g_;                                                                  \
    }                                                                          \
    if ((v[n] = (expr)) == NULL)                                               \
      goto fail;                                                               \
    v[++n] = NULL;                                                             \
  } while (0)

  if (v == NULL || name == NULL)
    goto fail;
  if (d->tag != NULL || d->digest != NULL)
    PUSH(dref_string(d));
  for (;;) {
    PUSH(strdup(name));
    slash = strrchr(name, '/');
    if (slash == NULL)
      break;
    *slash = '\0';
  }
  host = strdup(name);
  if (host == NULL)
    goto fail;
  colon = strrchr(host, ':');
  if (colon != NULL && strchr(host, ']') < colon)
    *colon = '\0';
  for (char *h = host; (dot = strchr(h, '.')) != NULL; h = dot + 1) {
    char *w = NULL;
    if (asprintf(&w, "*.%s", dot + 1) < 0)
      goto fail;
    PUSH(w);
  }
  return v;
fail:
  dref_scopes_free(v);
  return NULL;
#undef PUSH
}

/* reference.DomainRegexp: dot-separated labels of [a-zA-Z0-9-] that start
 * and end alphanumeric, or a bracketed IPv6 address, then an optional
 * :port. */
static bool valid_domain(const char *s, size_t n) {
  size_t i = 0;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || close == s + 1)
      return false;
    for (const char *p = s + 1; p < close; p++)
      if (!isxdigit((unsigned char)*p) && *p != ':')
        return false;
    i = (size_t)(close - s) + 1;
  } else {
    for (;;) {
      size_t start = i;
      while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
        i++;
      if (i == start || s[start] == '-' || s[i - 1] == '-')
        return false;
      if (i < n && s[i] == '.') {
        i++;
        continue;
      }
      break;
    }
  }
  if (i < n && s[i] == ':') {
    size_t start = ++i;
    while (i < n && isdigit((unsigned char)s[i]))
      i++;
    if (i == start)
      return false;
  }
  return i == n;
}

/* reference's path component: [a-z0-9]+ joined by ".", "_", "__", "-"+. */
static bool valid_path_component(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n &&
           (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
      i++;
    if (i == start)
      return false;
    if (i == n)
      return true;
    if (s[i] == '.' || (s[i] == '_' && (i + 1 >= n || s[i + 1] != '_')))
      i++;
    else if (s[i] == '_')
      i += 2;
    else if (s[i] == '-')
      while (i < n && s[i] == '-')
        i++;
    else
      return false;
  }
  return false; /* ended on a separator */
}

bool dref_valid_remap_prefix(const char *s) {
  const char *slash = strchr(s, '/');
  if (valid_domain(s, strlen(s)))
    return true;
  if (slash == NULL || !valid_domain(s, (size_t)(slash - s)))
    return false;
  for (const char *p = slash + 1;;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!valid_path_component(p, n))
      return false;
    if (e == NULL)
      return true;
    p = e + 1;
  }
}

static bool name_only(const struct dref *d) {
  return d->tag == NULL && d->digest == NULL;
}

static bool same_string(const struct dref *a, const struct dref *b) {
  cleanup_free char *sa = dref_string(a);
  cleanup_free char *sb = dref_string(b);
  return sa != NULL && sb != NULL && strcmp(sa, sb) == 0;
}

/* matchRepoDigestOrExact on parsed values. */
static bool repo_digest_or_exact(const struct dref *intended,
                                 const struct dref *sig) {
  if (name_only(sig))
    return false;
  if (intended->tag != NULL)
    return same_string(sig, intended);
  if (intended->digest != NULL)
    /* The signature's digest was checked against the manifest already. */
    return strcmp(sig->name, intended->name) == 0;
  return false;
}

/* remapIdentity: rewrite intended's prefix to signedPrefix. Only the
 * name is matched, on a '/' boundary, as containers/image does. */
static int remap(const struct prm *m, const struct dref *in, struct dref *out) {
  size_t pl = strlen(m->arg);
  cleanup_free char *s = NULL, *re = NULL;
  ctr_err err = NULL;

  memset(out, 0, sizeof(*out));
  s = dref_string(in);
  if (s == NULL)
    return -1;
  if (strncmp(in->name, m->arg, pl) != 0 ||
      (in->name[pl] != '\0' && in->name[pl] != '/'))
    return dref_parse(s, out, NULL);
  if (asprintf(&re, "%s%s", m->signed_prefix, s + pl) < 0)
    return -1;
  if (dref_parse(re, out, &err) < 0) {
    ctr_err_free(&err);
    return -1;
  }
  /* reference.ParseNamed wants the result canonical already. */
  cleanup_free char *canon = dref_string(out);
  if (canon == NULL || strcmp(canon, re) != 0) {
    dref_free(out);
    return -1;
  }
  return 0;
}

bool prm_matches(const struct prm *m, const struct dref *intended,
                 const char *signed_ref) {
  struct dref sig, want;
  ctr_err err = NULL;
  bool ok = false;

  if (dref_parse(signed_ref, &sig, &err) < 0) {
    ctr_err_free(&err);
    return false;
  }
  switch (m->type) {
  case PRM_MATCH_EXACT:
    ok =
        !name_only(intended) && !name_only(&sig) && same_string(&sig, intended);
    break;
  case PRM_MATCH_REPO_DIGEST_OR_EXACT:
    ok = repo_digest_or_exact(intended, &sig);
    break;
  case PRM_MATCH_REPOSITORY:
    ok = strcmp(sig.name, intended->name) == 0;
    break;
  case PRM_EXACT_REFERENCE:
    if (dref_parse(m->arg, &want, &err) == 0) {
      ok = !name_only(&want) && !name_only(&sig) && same_string(&sig, &want);
      dref_free(&want);
    }
    break;
  case PRM_EXACT_REPOSITORY:
    if (dref_parse(m->arg, &want, &err) == 0) {
      ok = strcmp(sig.name, want.name) == 0;
      dref_free(&want);
    }
    break;
  case PRM_REMAP_IDENTITY:
    if (remap(m, intended, &want) == 0) {
      ok = repo_digest_or_exact(&want, &sig);
      dref_free(&want);
    }
    break;
  }
  ctr_err_free(&err);
  dref_free(&sig);
  return ok;
}

bool policy_scope_valid(const char *scope, char **canonical) {
  const char *slash = strchr(scope, '/');
  struct dref d;
  ctr_err err = NULL;
  bool ok;

  if (canonical != NULL) {
    *canonical = NULL;
    if (strncmp(scope, "*.", 2) != 0 && dref_parse(scope, &d, &err) == 0) {
      *canonical = dref_string(&d);
      dref_free(&d);
    }
    ctr_err_free(&err);
  }
  if (strncmp(scope, "*.", 2) == 0)
    return strchr(scope, ':') == NULL &&
           valid_domain(scope + 2, strlen(scope + 2));
  if (slash == NULL)
    return valid_domain(scope, strlen(scope)) &&
           (strchr(scope, '.') || strchr(scope, ':') ||
            strcmp(scope, "localhost") == 0);
  if (!valid_domain(scope, (size_t)(slash - scope)) ||
      !(memchr(scope, '.', (size_t)(slash - scope)) ||
        memchr(scope, ':', (size_t)(slash - scope)) ||
        strncmp(scope, "localhost/", 10) == 0))
    return false;
  if (dref_parse(scope, &d, &err) < 0) {
    ctr_err_free(&err);
    return false;
  }
  {
    char *s = dref_string(&d);
    ok = s != NULL && strcmp(s, scope) == 0;
    free(s);
  }
  dref_free(&d);
  return ok;
}
