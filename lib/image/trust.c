/* ctr-image's and ctr-run's side of ctr-verify: they ask it by exec, so
 * neither links gpgme, and a user can ask it the same thing by hand. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tool.h"
#include "image/store.h"
#include "image/trust.h"

bool trust_policy_present(const struct ctr_paths *p) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/trust/policy.json", p->root);
  if (access(path, F_OK) == 0)
    return true;
  snprintf(path, sizeof(path), "%s/trust/provenance.json", p->root);
  return access(path, F_OK) == 0;
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
  const char *args[9];
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

/* The name image is judged under: as at create, the store's name for
 * what image resolves to (an ID or digest names no repository), while it
 * still resolves to digest; else image as given. Caller frees. */
static char *judged_name(const struct ctr_paths *p, const char *image, const char *digest) {
  struct image_store s;
  struct image img = {0};
  ctr_err e = NULL;
  char *name = NULL;
  if (image_store_open(&s, p, STORE_READ, &e) == 0) {
    if (image_resolve(&s, image, &img, &e) == 0 && img.name != NULL &&
        strcmp(img.digest, digest) == 0)
      name = strdup(img.name);
    image_free(&img);
    image_store_close(&s);
  }
  ctr_err_free(&e);
  return name ? name : strdup(image);
}

int trust_enforce(const struct ctr_paths *p, const char *image, const char *digest,
                  ctr_err *err) {
  char *name;
  int ret;
  if (!trust_policy_present(p))
    return 0;
  if (image == NULL || digest == NULL)
    return ctr_fail(err, 0, "rejected by policy: no image digest recorded to judge");
  name = judged_name(p, image, digest);
  if (name == NULL)
    return ctr_fail(err, ENOMEM, "%s", image);
  ret = trust_check(p, name, digest, NULL, err);
  free(name);
  if (ret < 0)
    return ctr_wrap(err, "%s", image);
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
