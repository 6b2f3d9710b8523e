/* $CTR_ROOT/trust/provenance.json: where images of a scope may come from.
 *
 *   {"default": {"origins": [...], "keyPaths": [...]},
 *    "scopes": {"SCOPE": {"origins": [...], "keyPaths": [...]}}}
 *
 * ctr's own file, beside policy.json rather than in it, so policy.json
 * stays what skopeo and podman read. An image's origin is the first event
 * this store recorded about its digest (the pull or import that brought
 * it); it must be one of the origins (none listed: any), and when keys
 * are listed, its statement must be signed by one of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/json.h"
#include "verify/attest.h"
#include "verify/attest_chain.h"
#include "verify/attest_int.h"
#include "verify/gpg.h"

#define PROVENANCE_FILE "provenance.json"
#define PROVENANCE_MAX (1 << 20)
#define KEY_FILE_MAX (1 << 20)

static int req_parse(const json_t *req, const char *where, ctr_err *err) {
  const char *key;
  json_t *v, *item;
  size_t i, count = 0;

  if (!json_is_object(req))
    return ctr_fail(err, 0, "%s: not an object", where);
  json_object_foreach((json_t *)req, key, v) {
    if (strcmp(key, "origins") != 0 && strcmp(key, "keyPaths") != 0)
      return ctr_fail(err, 0, "%s: unknown member \"%s\"", where, key);
    if (!json_is_array(v))
      return ctr_fail(err, 0, "%s.%s: not an array", where, key);
    json_array_foreach(v, i, item) {
      const char *s = json_string_value(item);
      if (s == NULL || *s == '\0')
        return ctr_fail(err, 0, "%s.%s: not a non-empty string", where, key);
      if (strcmp(key, "origins") == 0 && !origin_valid(s))
        return ctr_fail(err, 0, "%s: bad origin \"%s\" (want pull:REGISTRY[/PATH] "
                                "or import:sha256:HEX)", where, s);
      count++;
    }
  }
  if (count == 0)
    return ctr_fail(err, 0, "%s: neither origins nor keyPaths", where);
  return 0;
}

int origin_policy_parse(const char *buf, size_t len, json_t **out,
                        ctr_err *err) {
  cleanup_json json_t *j = NULL;
  const char *key;
  json_t *v, *scopes;

  if (ctr_json_parse_object(buf, len, PROVENANCE_FILE, &j, err) < 0)
    return -1;
  json_object_foreach(j, key, v) {
    if (strcmp(key, "default") != 0 && strcmp(key, "scopes") != 0)
      return ctr_fail(err, 0, PROVENANCE_FILE ": unknown member \"%s\"", key);
  }
  if ((v = json_object_get(j, "default")) != NULL &&
      req_parse(v, "default", err) < 0)
    return ctr_wrap(err, PROVENANCE_FILE);
  scopes = json_object_get(j, "scopes");
  if (scopes != NULL && !json_is_object(scopes))
    return ctr_fail(err, 0, PROVENANCE_FILE ": scopes: not an object");
  json_object_foreach(scopes, key, v) {
    if (!origin_scope_valid(key))
      return ctr_fail(err, 0, PROVENANCE_FILE ": bad scope \"%s\"", key);
    if (req_parse(v, key, err) < 0)
      return ctr_wrap(err, PROVENANCE_FILE ": scopes");
  }
  *out = ctr_steal(j);
  return 0;
}

int origin_policy_show(const char *trust_dir, json_t **out, ctr_err *err) {
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;

  *out = NULL;
  if (asprintf(&path, "%s/" PROVENANCE_FILE, trust_dir) < 0)
    return ctr_fail(err, ENOMEM, PROVENANCE_FILE);
  if (ctr_read_file(AT_FDCWD, path, PROVENANCE_MAX, &buf, &len, err) < 0) {
    if ((*err)->errnum == ENOENT) {
      ctr_err_free(err);
      return 0;
    }
    return -1;
  }
  return origin_policy_parse(buf, len, out, err);
}

/* A change to provenance.json, checked and ready to write. */
struct origin_key_export {
  char *name; /* <FPR>.gpg under trust/keys */
  char *data;
  size_t len;
};
struct origin_change {
  char *trust_dir;
  json_t *file; /* the new provenance.json; empty: remove it */
  struct origin_key_export *exports;
  size_t nexports;
};

void origin_change_free(struct origin_change *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->nexports; i++) {
    free(c->exports[i].name);
    free(c->exports[i].data);
  }
  free(c->exports);
  json_decref(c->file);
  free(c->trust_dir);
  free(c);
}

/* A key file must hold a public key: one that does not would make every
 * later verify an error. Proved by opening it as verify will (which also
 * warms the keyring cache). */
static int key_file_check(const char *keyring_cache, const char *key,
                          const char *path, ctr_err *err) {
  cleanup_free char *buf = NULL;
  const void *blocks[1];
  struct vgpg *g = NULL;
  size_t len;

  if (ctr_read_file(AT_FDCWD, path, KEY_FILE_MAX, &buf, &len, err) < 0)
    return ctr_wrap(err, "origin key %s", key);
  blocks[0] = buf;
  if (vgpg_open_keys(keyring_cache, blocks, &len, 1, &g, err) < 0)
    return ctr_wrap(err, "origin key %s", key);
  vgpg_close(g);
  return 0;
}

/* A key named on the command line, as provenance.json keeps it: a file
 * (absolute path), or a fingerprint in ctr's keyring, exported (into c,
 * written by commit) to trust/keys/<FPR>.gpg, where `policy set
 * --signed-by` puts them too, and kept relative to the trust directory.
 * Writes nothing. */
static int key_path(const char *trust_dir, const char *keyring_cache,
                    const char *key, struct origin_change *c, char **out,
                    ctr_err *err) {
  cleanup_free char *home = NULL, *data = NULL, *name = NULL;
  struct origin_key_export *grown;
  struct vgpg *g = NULL;
  struct vgpg_key k;
  char resolved[PATH_MAX];
  struct stat st;
  size_t len;
  int rc;

  if (stat(key, &st) == 0) {
    if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > KEY_FILE_MAX)
      return ctr_usage(err, "origin key %s: not a key file", key);
    if (realpath(key, resolved) == NULL)
      return ctr_fail(err, errno, "origin key %s", key);
    if (keyring_cache != NULL &&
        key_file_check(keyring_cache, key, resolved, err) < 0)
      return -1;
    *out = strdup(resolved);
    return *out ? 0 : ctr_fail(err, ENOMEM, "key");
  }
  if (strlen(key) < 16 || strspn(key, "0123456789ABCDEFabcdef") != strlen(key))
    return ctr_usage(
        err, "origin key %s: neither a key file nor a key fingerprint", key);
  if (asprintf(&home, "%s/gnupg", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "key");
  if (vgpg_open(home, false, &g, err) < 0)
    return ctr_wrap(err, "origin key %s", key);
  rc = vgpg_find(g, key, false, &k, err);
  if (rc == 0) {
    rc = vgpg_export(g, k.fpr, false, &data, &len, err);
    free(k.uid);
    free(k.algo);
  }
  vgpg_close(g);
  if (rc < 0)
    return ctr_wrap(err, "origin key %s", key);
  if (asprintf(&name, "%s.gpg", k.fpr) < 0 ||
      asprintf(out, "keys/%s", name) < 0)
    return ctr_fail(err, ENOMEM, "key");
  grown = realloc(c->exports, (c->nexports + 1) * sizeof(*grown));
  if (grown == NULL) {
    free(*out);
    *out = NULL;
    return ctr_fail(err, ENOMEM, "key");
  }
  c->exports = grown;
  c->exports[c->nexports++] =
      (struct origin_key_export){ctr_steal(name), ctr_steal(data), len};
  return 0;
}

static json_t *req_build(char *const *origins, size_t norigins,
                         json_t *keys) {
  json_t *req = json_object(), *arr = json_array();
  for (size_t i = 0; arr && i < norigins; i++)
    json_array_append_new(arr, json_string(origins[i]));
  if (req == NULL || arr == NULL) {
    json_decref(req);
    json_decref(arr);
    return NULL;
  }
  if (norigins > 0)
    json_object_set_new(req, "origins", arr);
  else
    json_decref(arr);
  if (json_array_size(keys) > 0)
    json_object_set(req, "keyPaths", keys);
  return req;
}

/* Check j as verify will read it (nothing to check when it requires
 * nothing any more: the file goes). */
static int change_check(json_t *j, ctr_err *err) {
  cleanup_free char *text = NULL;
  cleanup_json json_t *check = NULL;
  json_t *scopes = json_object_get(j, "scopes");

  if (scopes != NULL && json_object_size(scopes) == 0)
    json_object_del(j, "scopes");
  if (json_object_size(j) == 0)
    return 0;
  text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text == NULL)
    return ctr_fail(err, ENOMEM, PROVENANCE_FILE);
  if (origin_policy_parse(text, strlen(text), &check, err) < 0)
    return ctr_wrap(err, "refusing to write");
  return 0;
}

int origin_policy_prepare(const char *trust_dir, const char *keyring_cache,
                          const char *scope, char *const *origins,
                          size_t norigins, char *const *keys, size_t nkeys,
                          bool remove, struct origin_change **out,
                          ctr_err *err) {
  cleanup_json json_t *j = NULL, *keyarr = NULL;
  struct origin_change *c = NULL;
  json_t *scopes, *req, *old;
  bool is_default = scope == NULL || *scope == '\0';
  int rc = -1;

  *out = NULL;
  if (!is_default && !origin_scope_valid(scope))
    return ctr_usage(err, "bad scope '%s' (want HOST[:PORT][/PATH][:TAG|@DIGEST] "
                          "or *.DOMAIN)", scope);
  for (size_t i = 0; i < norigins; i++)
    if (!origin_valid(origins[i]))
      return ctr_usage(err, "bad origin '%s' (want pull:REGISTRY[/PATH] or "
                            "import:sha256:HEX)", origins[i]);
  if (!remove && norigins == 0 && nkeys == 0)
    return ctr_usage(err, "an origin requirement needs origins or keys");
  if (origin_policy_show(trust_dir, &j, err) < 0)
    return -1;
  if (j == NULL && remove)
    return 1;
  if (j == NULL && (j = json_object()) == NULL)
    return ctr_fail(err, ENOMEM, PROVENANCE_FILE);
  scopes = json_object_get(j, "scopes");
  old = is_default ? json_object_get(j, "default")
                   : json_object_get(scopes, scope);
  if (remove && old == NULL)
    return 1;
  c = calloc(1, sizeof(*c));
  if (c == NULL || (c->trust_dir = strdup(trust_dir)) == NULL) {
    ctr_fail(err, ENOMEM, PROVENANCE_FILE);
    goto out;
  }
  if (remove) {
    if (is_default)
      json_object_del(j, "default");
    else
      json_object_del(scopes, scope);
  } else {
    if ((keyarr = json_array()) == NULL) {
      ctr_fail(err, ENOMEM, "key");
      goto out;
    }
    for (size_t i = 0; i < nkeys; i++) {
      char *p = NULL;
      if (key_path(trust_dir, keyring_cache, keys[i], c, &p, err) < 0)
        goto out;
      json_array_append_new(keyarr, json_string(p));
      free(p);
    }
    req = req_build(origins, norigins, keyarr);
    if (req == NULL) {
      ctr_fail(err, ENOMEM, PROVENANCE_FILE);
      goto out;
    }
    if (is_default) {
      json_object_set_new(j, "default", req);
    } else {
      if (scopes == NULL) {
        scopes = json_object();
        json_object_set_new(j, "scopes", scopes);
      }
      json_object_set_new(scopes, scope, req);
    }
  }
  if (change_check(j, err) < 0)
    goto out;
  c->file = ctr_steal(j);
  *out = c;
  c = NULL;
  rc = 0;
out:
  origin_change_free(c);
  return rc;
}

/* The keys first, so provenance.json never names a file not there yet;
 * then the file itself, or its removal when it requires nothing. */
int origin_policy_commit(struct origin_change *c, ctr_err *err) {
  cleanup_free char *dir = NULL;
  cleanup_close int dfd = -1, kfd = -1;

  if (c->nexports > 0) {
    if (asprintf(&dir, "%s/keys", c->trust_dir) < 0)
      return ctr_fail(err, ENOMEM, "key");
    if (ctr_mkdir_p(AT_FDCWD, dir, 0700, err) < 0 ||
        (kfd = ctr_open_dir(AT_FDCWD, dir, err)) < 0)
      return -1;
    for (size_t i = 0; i < c->nexports; i++)
      if (ctr_atomic_write(kfd, c->exports[i].name, c->exports[i].data,
                           c->exports[i].len, 0644, true, err) < 0)
        return -1;
  }
  if (ctr_mkdir_p(AT_FDCWD, c->trust_dir, 0700, err) < 0)
    return -1;
  dfd = ctr_open_dir(AT_FDCWD, c->trust_dir, err);
  if (dfd < 0)
    return -1;
  if (json_object_size(c->file) == 0) {
    if (unlinkat(dfd, PROVENANCE_FILE, 0) < 0 && errno != ENOENT)
      return ctr_fail(err, errno, "remove " PROVENANCE_FILE);
    return ctr_fsync_dir(dfd, err);
  }
  return ctr_json_save(dfd, PROVENANCE_FILE, c->file, true, true, err);
}

int origin_policy_set(const char *trust_dir, const char *scope,
                      char *const *origins, size_t norigins,
                      char *const *keys, size_t nkeys, bool remove,
                      ctr_err *err) {
  struct origin_change *c = NULL;
  int rc = origin_policy_prepare(trust_dir, NULL, scope, origins, norigins,
                                 keys, nkeys, remove, &c, err);
  if (rc == 0)
    rc = origin_policy_commit(c, err);
  origin_change_free(c);
  return rc;
}

/* The requirement for ref (most specific scope, else default) and the
 * scope's name, or NULL. */
static json_t *req_for(json_t *policy, const char *ref, const char **scope,
                       ctr_err *err) {
  char **cands = origin_scopes_for(ref);
  json_t *scopes = json_object_get(policy, "scopes"), *req = NULL;

  if (cands == NULL) {
    ctr_usage(err, "not an image reference: %s", ref);
    return NULL;
  }
  for (size_t i = 0; cands[i] != NULL && req == NULL; i++)
    if ((req = json_object_get(scopes, cands[i])) != NULL)
      *scope = json_object_iter_key(json_object_iter_at(scopes, cands[i]));
  origin_scopes_free(cands);
  if (req == NULL && (req = json_object_get(policy, "default")) != NULL)
    *scope = "default";
  return req;
}

/* A throw-away keyring of the requirement's keys (relative paths are
 * under trust_dir). */
static int keys_open(const char *trust_dir, const char *cache,
                     const json_t *paths, struct vgpg **g, ctr_err *err) {
  size_t n = json_array_size(paths), i;
  char **blocks = calloc(n + 1, sizeof(*blocks));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  json_t *p;
  int rc = 0;

  if (blocks == NULL || lens == NULL)
    rc = ctr_fail(err, ENOMEM, "keys");
  json_array_foreach(paths, i, p) {
    const char *s = json_string_value(p);
    cleanup_free char *full = NULL;
    if (rc < 0)
      break;
    if (s[0] != '/' && asprintf(&full, "%s/%s", trust_dir, s) < 0)
      rc = ctr_fail(err, ENOMEM, "keys");
    else if (ctr_read_file(AT_FDCWD, full ? full : s, KEY_FILE_MAX, &blocks[i],
                           &lens[i], err) < 0)
      rc = ctr_wrap(err, "origin key");
  }
  if (rc == 0)
    rc = vgpg_open_keys(cache, (const void *const *)blocks, lens, n, g, err);
  for (i = 0; blocks != NULL && i < n; i++)
    free(blocks[i]);
  free(blocks);
  free(lens);
  return rc;
}

static bool origin_listed(const json_t *origins, const struct attest_event *ev) {
  size_t i;
  json_t *o;
  json_array_foreach(origins, i, o) {
    if (origin_matches(json_string_value(o), ev))
      return true;
  }
  return false;
}

static char *origins_text(const json_t *origins) {
  size_t i, len = 0;
  json_t *o;
  char *out = NULL;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  json_array_foreach(origins, i, o) {
    fprintf(f, "%s%s", i ? ", " : "", json_string_value(o));
  }
  fclose(f);
  return out;
}

/* Judge the first statement: entry is attest_entry_check's. */
static int judge(const json_t *req, const json_t *entry,
                 const struct attest_event *ev, bool keyed,
                 struct verify_report *r, ctr_err *err) {
  json_t *origins = json_object_get(req, "origins");
  const char *sig = ctr_json_str(entry, "signature");
  const char *file = ctr_json_str(entry, "file");
  const char *signer = ctr_json_str(entry, "signer");
  cleanup_free char *have = NULL, *want = NULL;

  if (!json_is_true(json_object_get(entry, "intact")))
    return verify_report_add(r, false, "origin", err,
                             "The origin statement %s is %s", file, sig);
  if (ev->event == NULL)
    return verify_report_add(r, false, "origin", err,
                             "The origin statement %s is unreadable", file);
  have = origin_of_event(ev);
  if (have == NULL)
    return ctr_fail(err, ENOMEM, "origin");
  if (json_array_size(origins) > 0 && !origin_listed(origins, ev)) {
    want = origins_text(origins);
    return verify_report_add(r, false, "origin", err,
                             "Image origin %s is not accepted (accepted: %s)",
                             have, want ? want : "?");
  }
  if (keyed && strcmp(sig, "unsigned") == 0)
    return verify_report_add(r, false, "origin", err,
                             "A signed origin statement was required, but %s "
                             "is not signed", file);
  if (keyed && strcmp(sig, "valid") != 0)
    return verify_report_add(r, false, "origin", err,
                             "The origin statement %s is not accepted: %s", file,
                             sig + strlen("invalid: "));
  if (keyed)
    return verify_report_add(r, true, "origin", err, "%s, statement signed by %s",
                             have, signer);
  /* Without keys the signature is not what is judged (whoever can write
   * the chain could as well write it unsigned), so it is not checked. */
  return verify_report_add(r, true, "origin", err, "%s (statement %s)", have,
                           strcmp(sig, "unsigned") == 0
                               ? "unsigned"
                               : "signed; no key required, not checked");
}

int origin_policy_check(const char *trust_dir, const char *keyring_cache,
                        const char *ref, const char *digest,
                        struct verify_report *r, time_t *until, ctr_err *err) {
  cleanup_json json_t *policy = NULL, *entry = NULL;
  struct vgpg *g = NULL;
  struct attest_event ev = {0};
  cleanup_close int dirfd = -1;
  char **names = NULL;
  const char *scope = NULL;
  json_t *req, *keys;
  size_t n = 0;
  int rc;

  if (origin_policy_show(trust_dir, &policy, err) < 0)
    return -1;
  if (policy == NULL)
    return 0;
  if (!ctr_digest_valid(digest))
    return ctr_usage(err, "not a sha256 digest: %s", digest);
  req = req_for(policy, ref, &scope, err);
  if (req == NULL)
    return *err ? -1
                : verify_report_add(r, true, "origin", err,
                                    "no origin requirement applies");
  /* Only provenance.json applies: its scope is the report's. */
  if (r->scope == NULL && (r->scope = strdup(scope)) == NULL)
    return ctr_fail(err, ENOMEM, "origin");
  dirfd = attest_open_dir(trust_dir, digest, false, err);
  if (dirfd < 0 && (*err)->errnum == ENOENT) {
    ctr_err_free(err);
    return verify_report_add(r, false, "origin", err,
                             "An origin was required (scope %s), but no "
                             "provenance is recorded for %s", scope, digest);
  }
  if (dirfd < 0 || attest_list(dirfd, &names, &n, err) < 0)
    return -1;
  if (n == 0) {
    attest_names_free(names, n);
    return verify_report_add(r, false, "origin", err,
                             "An origin was required (scope %s), but no "
                             "provenance is recorded for %s", scope, digest);
  }
  keys = json_object_get(req, "keyPaths");
  rc = json_array_size(keys) > 0
           ? keys_open(trust_dir, keyring_cache, keys, &g, err)
           : 0;
  if (rc == 0)
    rc = attest_entry_check(dirfd, names[0], 1, NULL, digest, g, &entry, &ev,
                            err);
  attest_names_free(names, n);
  vgpg_close(g);
  if (rc == 0)
    rc = judge(req, entry, &ev, json_array_size(keys) > 0, r, err);
  if (rc == 0 && json_array_size(keys) > 0)
    *until = (time_t)json_integer_value(json_object_get(entry, "not_after"));
  attest_event_free(&ev);
  return rc;
}
