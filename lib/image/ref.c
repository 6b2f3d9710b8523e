#define _GNU_SOURCE
#include "ref.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/digest.h"

/* A path component: [a-z0-9]+ joined by ".", "_", "__" or "-"+. */
static bool valid_component(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
    return false;
  while (i < n) {
    if (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])) {
      i++;
      continue;
    }
    if (s[i] == '.' || s[i] == '_' || s[i] == '-') {
      size_t j = i;
      while (j < n && (s[j] == '.' || s[j] == '_' || s[j] == '-'))
        j++;
      if (j == n)
        return false; /* must end alphanumeric */
      if (!(j - i == 1 || (j - i == 2 && s[i] == '_' && s[i + 1] == '_') ||
            (s[i] == '-' && strspn(s + i, "-") == j - i)))
        return false;
      i = j;
      continue;
    }
    return false;
  }
  return true;
}

/* A registry host: has a '.' or ':' or is "localhost". */
static bool looks_like_host(const char *s, size_t n) {
  return memchr(s, '.', n) != NULL || memchr(s, ':', n) != NULL ||
         (n == 9 && strncmp(s, "localhost", 9) == 0) ||
         memchr(s, '[', n) != NULL;
}

static bool valid_host(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || strchr(".-:[]", s[i])))
      return false;
  return n > 0;
}

static bool valid_tag(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > 128)
    return false;
  if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' ||
          t[i] == '-'))
      return false;
  return true;
}

int image_ref_parse(const char *s, struct image_ref *r, ctr_err *err) {
  cleanup_free char *copy = strdup(s);
  char *at, *name, *colon, *slash, *repo;
  char *first;
  size_t hostlen = 0;

  memset(r, 0, sizeof(*r));
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "parse %s", s);
  if (*s == '\0')
    return ctr_usage(err, "empty image reference");
  if (strlen(s) > 4096)
    return ctr_usage(err, "image reference too long");
  at = strchr(copy, '@');
  if (at != NULL) {
    *at = '\0';
    if (!ctr_digest_valid(at + 1))
      return ctr_usage(err, "invalid reference %s: bad digest", s);
    r->digest = strdup(at + 1);
  }
  name = copy;
  /* The tag is after the last ':' that follows the last '/'. */
  slash = strrchr(name, '/');
  colon = strrchr(slash ? slash : name, ':');
  if (colon != NULL) {
    *colon = '\0';
    if (!valid_tag(colon + 1)) {
      image_ref_free(r);
      return ctr_usage(err, "invalid reference %s: bad tag", s);
    }
    r->tag = strdup(colon + 1);
  }
  /* Optional registry host, then path components. */
  first = strchr(name, '/');
  if (first != NULL && looks_like_host(name, (size_t)(first - name))) {
    hostlen = (size_t)(first - name);
    if (!valid_host(name, hostlen)) {
      image_ref_free(r);
      return ctr_usage(err, "invalid reference %s: bad registry", s);
    }
  }
  repo = name + (hostlen ? hostlen + 1 : 0);
  if (*repo == '\0') {
    image_ref_free(r);
    return ctr_usage(err, "invalid reference %s: no repository", s);
  }
  for (char *p = repo;;) {
    char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!valid_component(p, n)) {
      image_ref_free(r);
      return ctr_usage(err,
                       "invalid reference %s: repository must be lowercase "
                       "[a-z0-9] separated by . _ __ -",
                       s);
    }
    if (e == NULL)
      break;
    p = e + 1;
  }
  /* Familiar form: drop docker.io (or its legacy name index.docker.io)
   * and library/, as docker does. */
  if ((hostlen == 9 && strncmp(name, "docker.io", 9) == 0) ||
      (hostlen == 15 && strncmp(name, "index.docker.io", 15) == 0)) {
    name += hostlen + 1;
    if (strncmp(name, "library/", 8) == 0 && strchr(name + 8, '/') == NULL)
      name += 8;
  }
  r->repo = strdup(name);
  if (r->tag == NULL && r->digest == NULL)
    r->tag = strdup("latest");
  if (r->repo == NULL || (r->tag == NULL && r->digest == NULL)) {
    image_ref_free(r);
    return ctr_fail(err, ENOMEM, "parse %s", s);
  }
  return 0;
}

void image_ref_free(struct image_ref *r) {
  free(r->repo);
  free(r->tag);
  free(r->digest);
  memset(r, 0, sizeof(*r));
}

char *image_ref_name(const struct image_ref *r) {
  char *out = NULL;
  if (r->tag == NULL)
    return NULL;
  if (asprintf(&out, "%s:%s", r->repo, r->tag) < 0)
    return NULL;
  return out;
}

char *image_ref_full_repo(const struct image_ref *r) {
  const char *slash = strchr(r->repo, '/');
  char *out = NULL;
  int rc;
  if (slash != NULL && looks_like_host(r->repo, (size_t)(slash - r->repo)))
    return strdup(r->repo);
  if (slash == NULL)
    rc = asprintf(&out, "docker.io/library/%s", r->repo);
  else
    rc = asprintf(&out, "docker.io/%s", r->repo);
  return rc < 0 ? NULL : out;
}

int image_ref_registry(const struct image_ref *r, char **host, char **path,
                       ctr_err *err) {
  cleanup_free char *full = image_ref_full_repo(r);
  char *slash = full ? strchr(full, '/') : NULL;
  *host = *path = NULL;
  if (slash == NULL)
    return ctr_fail(err, ENOMEM, "reference %s", r->repo);
  *host = strndup(full, (size_t)(slash - full));
  *path = strdup(slash + 1);
  if (*host == NULL || *path == NULL) {
    free(*host);
    free(*path);
    *host = *path = NULL;
    return ctr_fail(err, ENOMEM, "reference %s", r->repo);
  }
  return 0;
}
