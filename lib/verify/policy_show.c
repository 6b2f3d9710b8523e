/* `ctr-verify policy show`: what is enforced, per scope, for people (a
 * table) or for programs (both files in one JSON document). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "verify/attest.h"
#include "verify/cmd.h"
#include "verify/policy_int.h"

#define POLICY_SHOW_MAX (1 << 20)

/* One line about a requirement: its parameters, not its JSON. */
static char *describe(const json_t *req) {
  const char *type = ctr_json_str(req, "type");
  json_t *ident = json_object_get(req, "signedIdentity");
  json_t *paths = json_object_get(req, "keyPaths");
  cleanup_free char *keys = NULL, *id = NULL;
  char *out = NULL;
  json_t *v;
  size_t i;

  if (type == NULL || strcmp(type, "signedBy") != 0)
    return strdup("");
  if (ctr_json_str(req, "keyPath") != NULL) {
    if (asprintf(&keys, "keyPath=%s", ctr_json_str(req, "keyPath")) < 0)
      keys = NULL;
  } else if (json_is_array(paths)) {
    size_t n = 10;
    json_array_foreach(paths, i, v) n +=
        strlen(json_string_value(v) ? json_string_value(v) : "") + 1;
    keys = calloc(1, n);
    if (keys != NULL) {
      strcpy(keys, "keyPaths=");
      json_array_foreach(paths, i, v) {
        if (i > 0)
          strcat(keys, ",");
        strcat(keys, json_string_value(v) ? json_string_value(v) : "");
      }
    }
  } else {
    keys = strdup("keyData=(inline)");
  }
  if (ident == NULL)
    id = strdup("matchRepoDigestOrExact");
  else if (ctr_json_str(ident, "dockerReference") != NULL ||
           ctr_json_str(ident, "dockerRepository") != NULL) {
    const char *a = ctr_json_str(ident, "dockerReference");
    if (asprintf(&id, "%s %s", ctr_json_str(ident, "type"),
                 a ? a : ctr_json_str(ident, "dockerRepository")) < 0)
      id = NULL;
  } else if (ctr_json_str(ident, "prefix") != NULL) {
    if (asprintf(&id, "remapIdentity %s=%s", ctr_json_str(ident, "prefix"),
                 ctr_json_str(ident, "signedPrefix")
                     ? ctr_json_str(ident, "signedPrefix")
                     : "") < 0)
      id = NULL;
  } else {
    id =
        strdup(ctr_json_str(ident, "type") ? ctr_json_str(ident, "type") : "?");
  }
  if (asprintf(&out, "%s %s identity=%s",
               ctr_json_str(req, "keyType") ? ctr_json_str(req, "keyType") : "",
               keys ? keys : "", id ? id : "") < 0)
    return NULL;
  return out;
}

static int add_rows(struct ctr_table *t, const char *scope,
                    const json_t *reqs) {
  size_t i;
  json_t *req;
  json_array_foreach(reqs, i, req) {
    cleanup_free char *d = describe(req);
    const char *cells[3] = {scope, ctr_json_str(req, "type"), d ? d : ""};
    if (cells[1] == NULL || ctr_table_row(t, cells) < 0)
      return -1;
  }
  return 0;
}

static char *describe_origin(const json_t *req) {
  json_t *origins = json_object_get(req, "origins");
  json_t *keys = json_object_get(req, "keyPaths");
  size_t n = 32, i;
  json_t *v;
  char *out;
  json_array_foreach(origins, i, v) n +=
      strlen(json_string_value(v) ? json_string_value(v) : "") + 1;
  json_array_foreach(keys, i, v) n +=
      strlen(json_string_value(v) ? json_string_value(v) : "") + 1;
  out = calloc(1, n);
  if (out == NULL)
    return NULL;
  strcat(out, json_array_size(origins) ? "from " : "from anywhere");
  json_array_foreach(origins, i, v) {
    if (i > 0)
      strcat(out, ",");
    strcat(out, json_string_value(v) ? json_string_value(v) : "");
  }
  if (json_array_size(keys) > 0)
    strcat(out, " signed by ");
  json_array_foreach(keys, i, v) {
    if (i > 0)
      strcat(out, ",");
    strcat(out, json_string_value(v) ? json_string_value(v) : "");
  }
  return out;
}

static int add_origin_row(struct ctr_table *t, const char *scope,
                          const json_t *req) {
  cleanup_free char *d = describe_origin(req);
  const char *cells[3] = {scope, "origin", d ? d : ""};
  return d == NULL ? -1 : ctr_table_row(t, cells);
}

static int show_table(const json_t *policy, const json_t *prov, ctr_err *err) {
  static const char *const headers[] = {"SCOPE", "REQUIREMENT", "DETAIL"};
  struct ctr_table *t = ctr_table_new(3, headers);
  json_t *transports = json_object_get(policy, "transports"), *scopes, *reqs;
  const char *tname, *scope;
  int rc = 0;

  if (t == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  if (policy != NULL)
    rc |= add_rows(t, "default", json_object_get(policy, "default"));
  json_object_foreach(transports, tname, scopes) {
    json_object_foreach(scopes, scope, reqs) {
      cleanup_free char *label = NULL;
      if (strcmp(tname, "docker") == 0 && *scope)
        label = strdup(scope);
      else if (asprintf(&label, "%s:%s", tname, *scope ? scope : "\"\"") < 0)
        label = NULL;
      rc |= label ? add_rows(t, label, reqs) : -1;
    }
  }
  if (json_object_get(prov, "default") != NULL)
    rc |= add_origin_row(t, "default", json_object_get(prov, "default"));
  json_object_foreach(json_object_get(prov, "scopes"), scope, reqs) rc |=
      add_origin_row(t, scope, reqs);
  if (rc != 0) {
    ctr_table_free(t);
    return ctr_fail(err, ENOMEM, "policy");
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  return 0;
}

int policy_show(const struct ctr_paths *paths, bool json, ctr_err *err) {
  cleanup_free char *trust_dir = verify_trust_dir(paths), *path = NULL,
                    *buf = NULL;
  cleanup_json json_t *policy = NULL, *prov = NULL;
  struct policy *p = NULL;
  size_t len;

  if (trust_dir == NULL || asprintf(&path, "%s/policy.json", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  if (access(path, F_OK) == 0) {
    if (ctr_read_file(AT_FDCWD, path, POLICY_SHOW_MAX, &buf, &len, err) < 0)
      return -1;
    if (policy_parse(buf, len, &p, err) < 0)
      return ctr_wrap(err, "invalid policy in \"%s\"", path);
    policy_free(p);
    policy = json_loadb(buf, len, 0, NULL);
    if (policy == NULL)
      return ctr_fail(err, ENOMEM, "policy");
  }
  if (origin_policy_show(trust_dir, &prov, err) < 0)
    return -1;
  if (json) {
    cleanup_json json_t *j =
        json_pack("{s:O?, s:O?}", "policy", policy, "provenance", prov);
    if (j == NULL)
      return ctr_fail(err, ENOMEM, "policy");
    return ctr_json_print(j, err);
  }
  if (policy == NULL && prov == NULL) {
    printf("no policy (%s): nothing is enforced\n", path);
    return 0;
  }
  return show_table(policy, prov, err);
}
