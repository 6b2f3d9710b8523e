/* ctr-image's and ctr-run's side of ctr-verify: they ask it by exec, so
 * neither links gpgme, and a user can ask it the same thing by hand. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tool.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "image/store.h"
#include "image/trust.h"

bool trust_policy_present(const struct ctr_paths *p) {
  char path[4096];
  /* Only "no such file" means no policy: a policy that cannot be read
   * is left for ctr-verify to refuse with its reason (fail closed). */
  snprintf(path, sizeof(path), "%s/trust/policy.json", p->root);
  if (access(path, F_OK) == 0 || errno != ENOENT)
    return true;
  snprintf(path, sizeof(path), "%s/trust/provenance.json", p->root);
  return access(path, F_OK) == 0 || errno != ENOENT;
}

/* ctr-verify says "verify REF: <reason>"; the caller names the image
 * itself, so keep only the reason. */
static const char *reason_of(const char *line) {
  const char *sep;
  if (line == NULL)
    return "";
  if (strncmp(line, "verify ", 7) == 0 && (sep = strstr(line, ": ")) != NULL)
    return sep + 2;
  return line;
}

int trust_check(const struct ctr_paths *p, const char *ref, const char *digest,
                const char *sigdir, ctr_err *err) {
  const char *args[10];
  size_t n = 0;
  int status;
  args[n++] = "verify";
  args[n++] = "-q";
  if (digest != NULL) {
    args[n++] = "--digest";
    args[n++] = digest;
  }
  if (sigdir != NULL) {
    args[n++] = "--signatures";
    args[n++] = sigdir;
  }
  args[n++] = "--";
  args[n++] = ref;
  args[n] = NULL;
  if (ctr_tool_run(p, "ctr-verify", args, NULL, &status, err) == 0)
    return 0;
  /* fail closed: a verifier that cannot answer refuses too */
  if (status == 1) {
    char *why = strdup(reason_of(*err ? (*err)->msg : NULL));
    if (why == NULL)
      return ctr_wrap(err, "rejected by policy");
    ctr_fail(err, 0, "rejected by policy: %s", why);
    free(why);
    return -1;
  }
  return ctr_wrap(err, "rejected: the policy could not be checked");
}

static const char *desc_name(const json_t *d) {
  return ctr_json_str(json_object_get(d, "annotations"), IMAGE_REF_ANNOTATION);
}

/* The index.json descriptor d is the image digest: it names that
 * manifest, or an index whose platform pick is that manifest. */
static bool desc_is(struct image_store *s, const json_t *d, const char *digest) {
  struct image img = {0};
  ctr_err e = NULL;
  bool is;
  if (strcmp(ctr_json_str(d, "digest") ?: "", digest) == 0)
    return true;
  if (!image_media_is_index(ctr_json_str(d, "mediaType")))
    return false;
  is = image_load(s, d, &img, &e) == 0 && strcmp(img.digest, digest) == 0;
  image_free(&img);
  ctr_err_free(&e);
  return is;
}

/* An image ID or digest, or a prefix of one: what docker's ID rule
 * resolves, never a repository to judge by. */
static bool id_like(const char *ref) {
  const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
  if (*hex == '\0')
    return false;
  for (; *hex; hex++)
    if (!isxdigit((unsigned char)*hex) || isupper((unsigned char)*hex))
      return false;
  return true;
}

static char *full_repo_of(const char *name) {
  struct image_ref r;
  ctr_err e = NULL;
  char *repo = NULL;
  if (image_ref_parse(name, &r, &e) == 0) {
    repo = image_ref_full_repo(&r);
    image_ref_free(&r);
  }
  ctr_err_free(&e);
  return repo;
}

static int add_name(json_t *names, const char *name, ctr_err *err) {
  if (json_array_append_new(names, json_string(name)) < 0)
    return ctr_fail(err, ENOMEM, "trust names");
  return 0;
}

/* The names of digest in s when ref did not name it by a store name.
 * legacy: ref is what a container was created from before names were
 * recorded, and a tag name in it still counts. */
static int names_of_digest(struct image_store *s, const char *ref, const char *digest,
                           bool legacy, json_t *names, ctr_err *err) {
  cleanup_json json_t *index = NULL;
  cleanup_json json_t *stored = json_array();
  cleanup_free char *repo = NULL;
  struct image_ref r;
  ctr_err e = NULL;
  bool covered = false, parsed;
  const json_t *d;
  size_t i;

  if (stored == NULL)
    return ctr_fail(err, ENOMEM, "trust names");
  parsed = image_ref_parse(ref, &r, &e) == 0;
  ctr_err_free(&e);
  if (parsed) {
    /* REPO@DIGEST names a repository, as a tag does; a legacy tag name
     * whose tag has moved on is still the name the user chose */
    if (r.digest != NULL)
      repo = image_ref_full_repo(&r);
    else if (legacy && !id_like(ref))
      covered = true;
    image_ref_free(&r);
    if ((repo != NULL || covered) && add_name(names, ref, err) < 0)
      return -1;
    if (covered)
      return 0;
  }
  /* a store that cannot say which names it has judges nothing (a
   * nameless image would be left to the default: fail closed) */
  if (image_index_load(s, &index, err) < 0)
    return -1;
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    const char *n = desc_name(d);
    cleanup_free char *nrepo = NULL;
    if (n == NULL || !desc_is(s, d, digest))
      continue;
    if (repo != NULL && (nrepo = full_repo_of(n)) != NULL && strcmp(nrepo, repo) == 0)
      covered = true;
    if (add_name(stored, n, err) < 0)
      return -1;
  }
  if (!covered && json_array_extend(names, stored) < 0)
    return ctr_fail(err, ENOMEM, "trust names");
  if (json_array_size(names) == 0) {
    cleanup_free char *nameless = NULL;
    if (asprintf(&nameless, "%s@%s", TRUST_NAMELESS_REPO, digest) < 0)
      return ctr_fail(err, ENOMEM, "trust names");
    return add_name(names, nameless, err);
  }
  return 0;
}

/* ref resolved to img by img's store name, not by a digest or an ID. */
static bool by_store_name(const char *ref, const struct image *img) {
  struct image_ref r;
  ctr_err e = NULL;
  cleanup_free char *name = NULL;
  if (img->name == NULL)
    return false;
  if (image_ref_parse(ref, &r, &e) == 0) {
    name = image_ref_name(&r);
    image_ref_free(&r);
  }
  ctr_err_free(&e);
  return name != NULL && strcmp(name, img->name) == 0;
}

int trust_names(struct image_store *s, const char *ref, const struct image *img,
                json_t **names, ctr_err *err) {
  json_t *v = json_array();
  int ret;
  if (v == NULL)
    return ctr_fail(err, ENOMEM, "trust names");
  if (by_store_name(ref, img))
    ret = add_name(v, img->name, err);
  else
    ret = names_of_digest(s, ref, img->digest, false, v, err);
  if (ret < 0) {
    json_decref(v);
    return -1;
  }
  *names = v;
  return 0;
}

/* A container from before names were recorded: what create would have
 * recorded, from the store as it is now. */
static int legacy_names(const struct ctr_paths *p, const char *image, const char *digest,
                        json_t **names, ctr_err *err) {
  struct image_store s;
  struct image img = {0};
  ctr_err e = NULL;
  int ret;
  *names = NULL;
  if (image_store_open(&s, p, STORE_READ, err) < 0)
    return -1;
  if (image_resolve(&s, image, &img, &e) == 0 && strcmp(img.digest, digest) == 0)
    ret = trust_names(&s, image, &img, names, err);
  else if ((*names = json_array()) == NULL)
    ret = ctr_fail(err, ENOMEM, "trust names");
  else
    ret = names_of_digest(&s, image, digest, true, *names, err);
  ctr_err_free(&e);
  image_free(&img);
  image_store_close(&s);
  if (ret < 0) {
    json_decref(*names);
    *names = NULL;
  }
  return ret;
}

int trust_enforce(const struct ctr_paths *p, const char *image, const json_t *names,
                  const char *digest, ctr_err *err) {
  cleanup_json json_t *computed = NULL;
  const json_t *v;
  size_t i;
  if (!trust_policy_present(p))
    return 0;
  if (image == NULL || digest == NULL)
    return ctr_fail(err, 0, "rejected by policy: no image digest recorded to judge");
  if (names == NULL) {
    if (legacy_names(p, image, digest, &computed, err) < 0)
      return ctr_wrap(err, "%s: rejected: the names to judge it under could not be read",
                      image);
    names = computed;
  }
  /* a state.json that lists no name (or not as strings) judges nothing:
   * refuse rather than let it run unjudged */
  if (!json_is_array(names) || json_array_size(names) == 0)
    return ctr_fail(err, 0, "%s: rejected by policy: no image name recorded to judge",
                    image);
  json_array_foreach(names, i, v) {
    if (!json_is_string(v))
      return ctr_fail(err, 0, "%s: rejected by policy: no image name recorded to judge",
                      image);
  }
  json_array_foreach(names, i, v) {
    if (trust_check(p, json_string_value(v), digest, NULL, err) < 0)
      return ctr_wrap(err, "%s", image);
  }
  return 0;
}

void trust_record(const struct ctr_paths *p, const char *event,
                  const char *digest, const char *const *params) {
  const char *args[64];
  size_t n = 0;
  ctr_err err = NULL;
  args[n++] = "attest";
  args[n++] = event;
  args[n++] = digest;
  for (; params != NULL && *params != NULL && n < 63; params++)
    args[n++] = *params;
  args[n] = NULL;
  if (ctr_tool_run(p, "ctr-verify", args, NULL, NULL, &err) < 0) {
    ctr_warn("%s %s: provenance not recorded: %s", event, digest,
             err && err->msg ? err->msg : "ctr-verify failed");
    ctr_err_free(&err);
  }
}
