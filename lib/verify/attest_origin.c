/* Origins ("pull:REGISTRY[/PATH]", "import:sha256:HEX") and the docker
 * scopes provenance.json is keyed by. Scopes are containers-policy.json's
 * (most specific first, then *.DOMAIN wildcards), so one --scope means
 * the same images in policy.json and provenance.json. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/json.h"
#include "image/ref.h"
#include "verify/attest_int.h"

static bool host_valid(const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  size_t hn = colon ? (size_t)(colon - s) : n;

  if (hn == 0 || hn > 253)
    return false;
  for (size_t i = 0; i < hn; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '.' || s[i] == '-'))
      return false;
  if (colon != NULL) {
    size_t pn = n - hn - 1;
    if (pn == 0 || pn > 5 || strspn(colon + 1, "0123456789") < pn)
      return false;
  }
  return true;
}

/* [a-z0-9._-]+ components joined by '/'. */
static bool path_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//") != NULL)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          strchr("._-/", s[i])))
      return false;
  return true;
}

/* REGISTRY[/PATH]: split into host (up to the first '/') and path. */
static bool location_valid(const char *loc) {
  const char *slash = strchr(loc, '/');
  size_t hn = slash ? (size_t)(slash - loc) : strlen(loc);
  return host_valid(loc, hn) && (slash == NULL || path_valid(slash + 1));
}

bool origin_valid(const char *origin) {
  if (strncmp(origin, "pull:", 5) == 0)
    return location_valid(origin + 5);
  if (strncmp(origin, "import:", 7) == 0)
    return ctr_digest_valid(origin + 7);
  return false;
}

/* A pull's registry and repository path, from its reference. */
static int pull_location(const struct attest_event *ev, char **host,
                         char **path) {
  const char *refs = ctr_json_str(ev->params, "reference");
  struct image_ref ref;
  ctr_err err = NULL;
  int rc;

  if (refs == NULL || image_ref_parse(refs, &ref, &err) < 0) {
    ctr_err_free(&err);
    return -1;
  }
  rc = image_ref_registry(&ref, host, path, &err);
  ctr_err_free(&err);
  image_ref_free(&ref);
  return rc;
}

bool origin_matches(const char *origin, const struct attest_event *ev) {
  cleanup_free char *host = NULL, *path = NULL;
  const char *want, *slash;
  size_t hn, pn;

  if (strncmp(origin, "import:", 7) == 0)
    return strcmp(ev->event, "import") == 0 &&
           strcmp(ctr_json_str(ev->params, "source-digest") ?: "",
                  origin + 7) == 0;
  if (strncmp(origin, "pull:", 5) != 0 || strcmp(ev->event, "pull") != 0 ||
      pull_location(ev, &host, &path) < 0)
    return false;
  want = origin + 5;
  slash = strchr(want, '/');
  hn = slash ? (size_t)(slash - want) : strlen(want);
  if (strlen(host) != hn || strncmp(host, want, hn) != 0)
    return false;
  if (slash == NULL)
    return true;
  /* A path names that repository or a namespace above it, whole
   * components only: pull:host/a matches host/a/b, never host/ab. */
  pn = strlen(slash + 1);
  return strncmp(path, slash + 1, pn) == 0 &&
         (path[pn] == '\0' || path[pn] == '/');
}

char *origin_of_event(const struct attest_event *ev) {
  cleanup_free char *host = NULL, *path = NULL;
  char *out = NULL;
  int rc = -1;

  if (strcmp(ev->event, "pull") == 0 && pull_location(ev, &host, &path) == 0)
    rc = asprintf(&out, "pull:%s/%s", host, path);
  else if (strcmp(ev->event, "import") == 0 &&
           ctr_json_str(ev->params, "source-digest") != NULL)
    rc = asprintf(&out, "import:%s",
                  ctr_json_str(ev->params, "source-digest"));
  else
    rc = asprintf(&out, "%s", ev->event);
  return rc < 0 ? NULL : out;
}

bool origin_scope_valid(const char *scope) {
  cleanup_free char *copy = NULL;
  char *at, *slash, *colon;

  if (strncmp(scope, "*.", 2) == 0)
    return host_valid(scope + 2, strlen(scope + 2)) &&
           strchr(scope + 2, ':') == NULL;
  copy = strdup(scope);
  if (copy == NULL || *copy == '\0')
    return false;
  at = strchr(copy, '@');
  if (at != NULL) {
    if (!ctr_digest_valid(at + 1))
      return false;
    *at = '\0';
  }
  slash = strchr(copy, '/');
  if (slash == NULL) /* a registry alone: no tag, no digest */
    return at == NULL && host_valid(copy, strlen(copy));
  colon = strrchr(slash, ':');
  if (colon != NULL) {
    if (at != NULL || colon[1] == '\0' || strlen(colon + 1) > 128)
      return false;
    for (const char *t = colon + 1; *t; t++)
      if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
            (*t >= '0' && *t <= '9') || strchr("_.-", *t)))
        return false;
    *colon = '\0';
  }
  return location_valid(copy);
}

static int push_scope(char ***list, size_t *n, char *s) {
  char **grown;
  if (s == NULL)
    return -1;
  grown = realloc(*list, (*n + 2) * sizeof(**list));
  if (grown == NULL) {
    free(s);
    return -1;
  }
  *list = grown;
  grown[(*n)++] = s;
  grown[*n] = NULL;
  return 0;
}

void origin_scopes_free(char **scopes) {
  for (size_t i = 0; scopes && scopes[i]; i++)
    free(scopes[i]);
  free(scopes);
}

char **origin_scopes_for(const char *full_ref) {
  struct image_ref ref;
  cleanup_free char *repo = NULL;
  char **list = NULL, *s = NULL, *slash, *colon;
  const char *dot;
  size_t n = 0;
  ctr_err err = NULL;
  int rc = 0;

  if (image_ref_parse(full_ref, &ref, &err) < 0) {
    ctr_err_free(&err);
    return NULL;
  }
  repo = image_ref_full_repo(&ref);
  if (repo != NULL && ref.digest != NULL && asprintf(&s, "%s@%s", repo, ref.digest) >= 0)
    rc |= push_scope(&list, &n, s);
  else if (repo != NULL && ref.tag != NULL && asprintf(&s, "%s:%s", repo, ref.tag) >= 0)
    rc |= push_scope(&list, &n, s);
  image_ref_free(&ref);
  if (repo == NULL)
    rc = -1;
  /* The repository, then each namespace above it, up to the registry. */
  while (rc == 0) {
    rc |= push_scope(&list, &n, strdup(repo));
    slash = strrchr(repo, '/');
    if (slash == NULL)
      break;
    *slash = '\0';
  }
  /* repo is the registry now: *.DOMAIN for each domain above its host. */
  colon = rc == 0 ? strchr(repo, ':') : NULL;
  if (colon != NULL)
    *colon = '\0';
  for (dot = rc == 0 ? strchr(repo, '.') : NULL; dot != NULL && rc == 0;
       dot = strchr(dot + 1, '.'))
    if (asprintf(&s, "*%s", dot) >= 0)
      rc |= push_scope(&list, &n, s);
    else
      rc = -1;
  if (rc != 0 || list == NULL) {
    origin_scopes_free(list);
    return NULL;
  }
  return list;
}
