/* Accepted verdicts, remembered under $CTR_RUNDIR/trust/verdicts so that
 * ctr-run, which asks at every container start, does not pay for gpgme
 * (a gpg process) each time. A verdict is named by the sha256 of every
 * input it was reached from, so any change to the policy, the
 * provenance requirements, the signatures, the keys or the image's
 * recorded events names another file; it holds until the accepted key
 * expires. Rejections are never cached: a fix takes effect at once. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/json.h"
#include "verify/policy_int.h"

#define VERDICT_MAX (256 << 10)

/* Length-prefixed, so fields can never run into each other. */
static void field(ctr_sha256 *h, const void *buf, size_t len) {
  unsigned char be[8];
  uint64_t l = buf ? len : UINT64_MAX;
  for (int b = 0; b < 8; b++)
    be[b] = (unsigned char)(l >> (56 - 8 * b));
  ctr_sha256_update(h, be, sizeof(be));
  if (buf != NULL)
    ctr_sha256_update(h, buf, len);
}

static void field_str(ctr_sha256 *h, const char *s) {
  field(h, s, s ? strlen(s) : 0);
}

static void field_file(ctr_sha256 *h, const char *trust_dir, const char *path) {
  cleanup_free char *full = NULL, *buf = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  if (path[0] != '/' && asprintf(&full, "%s/%s", trust_dir, path) < 0)
    full = NULL;
  if (ctr_read_file(AT_FDCWD, full ? full : path, 1 << 20, &buf, &len, &err) <
      0)
    ctr_err_free(&err);
  field_str(h, path);
  field(h, buf, len);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names, sizes and change times of a directory's entries, in order: what
 * the origin check reads (attestations, keys) without hashing it all. */
static void field_dir(ctr_sha256 *h, const char *dir) {
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0, cap = 0;
  field_str(h, dir);
  if (d == NULL) {
    field(h, NULL, 0);
    return;
  }
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **g = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
      if (g == NULL)
        break;
      names = g;
    }
    if ((names[n] = strdup(de->d_name)) != NULL)
      n++;
  }
  qsort(names, n, sizeof(*names), cmp_str);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    int64_t meta[4] = {0};
    if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
      meta[0] = st.st_size;
      meta[1] = st.st_mtim.tv_sec;
      meta[2] = st.st_mtim.tv_nsec;
      meta[3] = (int64_t)st.st_ino;
    }
    field_str(h, names[i]);
    field(h, meta, sizeof(meta));
    free(names[i]);
  }
  free(names);
}

/* The key files provenance.json names ({"default": {"keyPaths": [...]},
 * "scopes": {SCOPE: {"keyPaths": [...]}}}): a re-exported or replaced key
 * changes the verdict. */
static void field_origin_keys(ctr_sha256 *h, const char *trust_dir,
                              const char *prov, size_t len) {
  cleanup_json json_t *j = json_loadb(prov, len, 0, NULL);
  json_t *req, *path;
  const char *scope;
  size_t i;
  json_array_foreach(json_object_get(json_object_get(j, "default"), "keyPaths"),
                     i, path) if (json_is_string(path))
      field_file(h, trust_dir, json_string_value(path));
  json_object_foreach(json_object_get(j, "scopes"), scope, req) {
    json_array_foreach(json_object_get(req, "keyPaths"), i,
                       path) if (json_is_string(path))
        field_file(h, trust_dir, json_string_value(path));
  }
}

int policy_cache_key(const char *trust_dir, const struct policy *p,
                     const char *policy_bytes, size_t policy_len,
                     const char *prov_bytes, size_t prov_len, const char *ref,
                     const char *digest, const struct sig_blob *sigs,
                     size_t nsigs, struct verdict_key *k, ctr_err *err) {
  ctr_sha256 *h = ctr_sha256_new();
  char out[CTR_DIGEST_LEN + 1];
  cleanup_free char *dir = NULL;

  if (h == NULL)
    return ctr_fail(err, ENOMEM, "verdict cache");
  field_str(h, "ctr verdict v1");
  field(h, policy_bytes, policy_len);
  field(h, prov_bytes, prov_len);
  field_str(h, ref);
  field_str(h, digest);
  for (size_t i = 0; i < nsigs; i++)
    field(h, sigs[i].data, sigs[i].len);
  if (p != NULL) {
    const struct pr_list *reqs;
    const char *scope;
    if (policy_requirements_for(p, ref, &reqs, &scope, err) < 0) {
      ctr_sha256_free(h);
      return -1;
    }
    for (size_t i = 0; i < reqs->n; i++) {
      const struct pr *r = &reqs->v[i];
      if (r->key_path != NULL && *r->key_path)
        field_file(h, trust_dir, r->key_path);
      for (size_t j = 0; j < r->nkey_paths; j++)
        field_file(h, trust_dir, r->key_paths[j]);
    }
  }
  if (prov_bytes != NULL) {
    field_origin_keys(h, trust_dir, prov_bytes, prov_len);
    if (asprintf(&dir, "%s/attestations/%s", trust_dir,
                 ctr_digest_hex(digest)) < 0) {
      ctr_sha256_free(h);
      return ctr_fail(err, ENOMEM, "verdict cache");
    }
    field_dir(h, dir);
    free(dir);
    if (asprintf(&dir, "%s/keys", trust_dir) < 0) {
      ctr_sha256_free(h);
      return ctr_fail(err, ENOMEM, "verdict cache");
    }
    field_dir(h, dir);
  }
  ctr_sha256_final(h, out);
  memcpy(k->hex, ctr_digest_hex(out), sizeof(k->hex));
  return 0;
}

int policy_cache_lookup(const char *verdict_dir, const struct verdict_key *k,
                        struct verify_report *r) {
  cleanup_free char *path = NULL, *buf = NULL;
  cleanup_json json_t *j = NULL;
  json_t *checks, *c, *exp;
  ctr_err err = NULL;
  size_t len, i;

  if (asprintf(&path, "%s/%s", verdict_dir, k->hex) < 0)
    return 0;
  if (ctr_read_file(AT_FDCWD, path, VERDICT_MAX, &buf, &len, &err) < 0) {
    ctr_err_free(&err);
    return 0;
  }
  j = json_loadb(buf, len, 0, NULL);
  exp = json_object_get(j, "expires");
  checks = json_object_get(json_object_get(j, "report"), "checks");
  if (!json_is_integer(exp) || !json_is_array(checks) ||
      json_array_size(checks) == 0)
    return 0;
  if (json_integer_value(exp) != 0 && json_integer_value(exp) <= time(NULL))
    return 0;
  json_array_foreach(checks, i, c) {
    json_t *ok = json_object_get(c, "ok");
    const char *req = ctr_json_str(c, "requirement");
    const char *detail = ctr_json_str(c, "detail");
    /* Only accepted verdicts are stored; anything else is not ours. */
    if (!json_is_true(ok) || req == NULL || detail == NULL ||
        verify_report_add(r, true, req, &err, "%s", detail) < 0) {
      ctr_err_free(&err);
      for (size_t n = 0; n < r->n; n++) {
        free(r->checks[n].requirement);
        free(r->checks[n].detail);
      }
      r->n = 0;
      return 0;
    }
  }
  if (r->scope == NULL && ctr_json_str(json_object_get(j, "report"), "scope"))
    r->scope = strdup(ctr_json_str(json_object_get(j, "report"), "scope"));
  return 1;
}

void policy_cache_store(const char *verdict_dir, const struct verdict_key *k,
                        const struct verify_report *r, time_t expires) {
  cleanup_json json_t *j = NULL;
  cleanup_free char *text = NULL;
  cleanup_close int fd = -1;
  ctr_err err = NULL;

  if (!verify_report_accepted(r))
    return;
  j = json_pack("{s:I, s:o}", "expires", (json_int_t)expires, "report",
                verify_report_json(r));
  text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (text == NULL || ctr_mkdir_p(AT_FDCWD, verdict_dir, 0700, &err) < 0 ||
      (fd = ctr_open_dir(AT_FDCWD, verdict_dir, &err)) < 0 ||
      ctr_atomic_write(fd, k->hex, text, strlen(text), 0600, false, &err) < 0)
    ctr_err_free(&err);
}
