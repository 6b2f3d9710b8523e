/* containers-policy.json, parsed as strictly as containers/image does
 * (signature/policy_config.go): an unknown or duplicate member, a wrong
 * type, a missing default, an empty requirement list are errors, so a
 * typo can never quietly weaken a policy. Messages use containers/image's
 * words, prefixed with where in the file they were found. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "verify/policy_int.h"

#define POLICY_MAX (1 << 20)

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "bool";
  default:
    return "null";
  }
}

static int type_error(ctr_err *err, const char *where, const json_t *v,
                      const char *want) {
  return ctr_fail(err, 0,
                  "%s: json: cannot unmarshal %s into Go value of type %s",
                  where, json_kind(v), want);
}

/* Every member of obj must be one of `allowed` (NULL-ended). */
static int only_keys(const json_t *obj, const char *where,
                     const char *const *allowed, ctr_err *err) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    bool known = false;
    (void)v;
    for (const char *const *a = allowed; *a != NULL && !known; a++)
      known = strcmp(key, *a) == 0;
    if (!known)
      return ctr_fail(err, 0, "%s: Unknown key \"%s\"", where, key);
  }
  return 0;
}

/* Each of `exact` (NULL-ended) present, nothing else. */
static int exact_keys(const json_t *obj, const char *where,
                      const char *const *exact, ctr_err *err) {
  if (only_keys(obj, where, exact, err) < 0)
    return -1;
  for (const char *const *e = exact; *e != NULL; e++)
    if (json_object_get(obj, *e) == NULL)
      return ctr_fail(err, 0, "%s: Key \"%s\" missing in a JSON object", where,
                      *e);
  return 0;
}

static int need_object(const json_t *v, const char *where, ctr_err *err) {
  if (!json_is_object(v))
    return ctr_fail(err, 0, "%s: JSON object expected, got %s", where,
                    json_kind(v));
  return 0;
}

/* A string member; absent reads as "" (Go's zero value). */
static int get_string(const json_t *obj, const char *key, const char *where,
                      char **out, ctr_err *err) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return type_error(err, where, v, "string");
  *out = strdup(json_string_value(v));
  if (*out == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  return 0;
}

static const char *sv(const char *s) { return s ? s : ""; }

/* Go's encoding/json reads []byte as standard, padded base64. */
static int decode_base64(const char *in, unsigned char **out, size_t *len,
                         const char *where, ctr_err *err) {
  size_t n = strlen(in), pad = 0;
  int got;
  if (n % 4 != 0)
    return ctr_fail(err, 0, "%s: illegal base64 data at input byte %zu", where,
                    n);
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              (c == '=' && i >= n - 2 && (i == n - 1 || in[n - 1] == '='));
    if (!ok)
      return ctr_fail(err, 0, "%s: illegal base64 data at input byte %zu",
                      where, i);
  }
  if (n > 0 && in[n - 1] == '=')
    pad = (n > 1 && in[n - 2] == '=') ? 2 : 1;
  *out = malloc(n / 4 * 3 + 1);
  if (*out == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  got = n ? EVP_DecodeBlock(*out, (const unsigned char *)in, (int)n) : 0;
  if (got < 0) {
    free(*out);
    *out = NULL;
    return ctr_fail(err, 0, "%s: illegal base64 data", where);
  }
  *len = (size_t)got - pad;
  return 0;
}

static const struct {
  const char *name;
  enum prm_type type;
  const char *arg; /* the member holding arg, if any */
} prm_types[] = {
    {"matchExact", PRM_MATCH_EXACT, NULL},
    {"matchRepoDigestOrExact", PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL},
    {"matchRepository", PRM_MATCH_REPOSITORY, NULL},
    {"exactReference", PRM_EXACT_REFERENCE, "dockerReference"},
    {"exactRepository", PRM_EXACT_REPOSITORY, "dockerRepository"},
    {"remapIdentity", PRM_REMAP_IDENTITY, "prefix"},
};

const char *policy_prm_type_name(enum prm_type t) {
  for (size_t i = 0; i < sizeof(prm_types) / sizeof(prm_types[0]); i++)
    if (prm_types[i].type == t)
      return prm_types[i].name;
  return "?";
}

static int parse_prm(const json_t *j, const char *where, struct prm *m,
                     ctr_err *err) {
  const char *type;
  size_t i, n = sizeof(prm_types) / sizeof(prm_types[0]);
  struct dref d;

  memset(m, 0, sizeof(*m));
  if (need_object(j, where, err) < 0)
    return -1;
  type = ctr_json_str(j, "type");
  for (i = 0; i < n; i++)
    if (type != NULL && strcmp(type, prm_types[i].name) == 0)
      break;
  if (i == n)
    return ctr_fail(err, 0, "%s: Unknown policy reference match type \"%s\"",
                    where, sv(type));
  m->type = prm_types[i].type;
  {
    const char *keys[4] = {"type", prm_types[i].arg, NULL, NULL};
    if (m->type == PRM_REMAP_IDENTITY)
      keys[2] = "signedPrefix";
    if (exact_keys(j, where, keys, err) < 0)
      return -1;
  }
  if (prm_types[i].arg == NULL)
    return 0;
  if (get_string(j, prm_types[i].arg, where, &m->arg, err) < 0)
    return -1;
  if (m->arg == NULL) /* null: Go leaves the zero value */
    m->arg = strdup("");
  if (m->type == PRM_REMAP_IDENTITY) {
    if (get_string(j, "signedPrefix", where, &m->signed_prefix, err) < 0)
      return -1;
    if (m->signed_prefix == NULL)
      m->signed_prefix = strdup("");
  }
  if (m->arg == NULL ||
      (m->type == PRM_REMAP_IDENTITY && m->signed_prefix == NULL))
    return ctr_fail(err, ENOMEM, "policy");
  switch (m->type) {
  case PRM_EXACT_REFERENCE:
  case PRM_EXACT_REPOSITORY:
    if (dref_parse(m->arg, &d, err) < 0) {
      const char *why = (err && *err && (*err)->msg) ? (*err)->msg : "invalid";
      cleanup_free char *copy = strdup(why);
      return ctr_fail(err, 0, "%s: Invalid format of %s \"%s\": %s", where,
                      prm_types[i].arg, m->arg, sv(copy));
    }
    if (m->type == PRM_EXACT_REFERENCE && d.tag == NULL && d.digest == NULL) {
      dref_free(&d);
      return ctr_fail(
          err, 0,
          "%s: dockerReference \"%s\" contains neither a tag nor digest", where,
          m->arg);
    }
    dref_free(&d);
    break;
  case PRM_REMAP_IDENTITY:
    if (!dref_valid_remap_prefix(m->arg))
      return ctr_fail(err, 0, "%s: prefix \"%s\" is not valid", where, m->arg);
    if (!dref_valid_remap_prefix(m->signed_prefix))
      return ctr_fail(err, 0, "%s: prefix \"%s\" is not valid", where,
                      m->signed_prefix);
    break;
  default:
    break;
  }
  return 0;
}

static int parse_key_paths(const json_t *v, const char *where, struct pr *r,
                           ctr_err *err) {
  size_t i;
  json_t *e;
  if (json_is_null(v))
    return 0; /* nil in Go: counts as absent below */
  if (!json_is_array(v))
    return type_error(err, where, v, "[]string");
  r->has_key_paths = true;
  r->key_paths = calloc(json_array_size(v) + 1, sizeof(char *));
  if (r->key_paths == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  json_array_foreach(v, i, e) {
    if (!json_is_string(e))
      return type_error(err, where, e, "string");
    r->key_paths[i] = strdup(json_string_value(e));
    if (r->key_paths[i] == NULL)
      return ctr_fail(err, ENOMEM, "policy");
    r->nkey_paths = i + 1;
  }
  return 0;
}

static const char *const key_types[] = {
    "GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs", NULL};

static int parse_signed_by(const json_t *j, const char *where, struct pr *r,
                           ctr_err *err) {
  static const char *const allowed[] = {"type",     "keyType", "keyPath",
                                        "keyPaths", "keyData", "signedIdentity",
                                        NULL};
  json_t *v;
  bool got_path, got_paths, got_data, known = false;
  int sources = 0;
  char where2[512];

  if (only_keys(j, where, allowed, err) < 0)
    return -1;
  if (get_string(j, "keyType", where, &r->key_type, err) < 0)
    return -1;
  for (const char *const *k = key_types; *k && r->key_type; k++)
    known = known || strcmp(*k, r->key_type) == 0;
  if (json_object_get(j, "keyType") != NULL && !known)
    return ctr_fail(err, 0, "%s: Unrecognized keyType value \"%s\"", where,
                    sv(r->key_type));
  v = json_object_get(j, "signedIdentity");
  if (v == NULL) {
    r->identity.type = PRM_MATCH_REPO_DIGEST_OR_EXACT;
  } else {
    snprintf(where2, sizeof(where2), "%.480s.signedIdentity", where);
    if (parse_prm(v, where2, &r->identity, err) < 0)
      return -1;
  }
  got_path = json_object_get(j, "keyPath") != NULL;
  got_paths = json_object_get(j, "keyPaths") != NULL;
  got_data = json_object_get(j, "keyData") != NULL;
  if (!got_path && !got_paths && !got_data)
    return ctr_fail(err, 0,
                    "%s: Exactly one of keyPath, keyPaths and keyData must be "
                    "specified, none of them present",
                    where);
  if (got_path + got_paths + got_data > 1)
    return ctr_fail(err, 0,
                    "%s: Exactly one of keyPath, keyPaths and keyData must be "
                    "specified, more than one present",
                    where);
  if (!known)
    return ctr_fail(err, 0, "%s: invalid keyType \"%s\"", where,
                    sv(r->key_type));
  if (get_string(j, "keyPath", where, &r->key_path, err) < 0)
    return -1;
  if (got_paths &&
      parse_key_paths(json_object_get(j, "keyPaths"), where, r, err) < 0)
    return -1;
  v = json_object_get(j, "keyData");
  if (v != NULL && !json_is_null(v)) {
    if (!json_is_string(v))
      return type_error(err, where, v, "[]uint8");
    if (decode_base64(json_string_value(v), &r->key_data, &r->key_data_len,
                      where, err) < 0)
      return -1;
    r->has_key_data = true;
  }
  sources = (r->key_path != NULL && *r->key_path) + r->has_key_paths +
            r->has_key_data;
  if (sources != 1)
    return ctr_fail(
        err, 0,
        "%s: exactly one of keyPath, keyPaths and keyData must be specified",
        where);
  return 0;
}

const char *policy_pr_type_name(enum pr_type t) {
  switch (t) {
  case PR_INSECURE_ACCEPT_ANYTHING:
    return "insecureAcceptAnything";
  case PR_REJECT:
    return "reject";
  case PR_SIGNED_BY:
    return "signedBy";
  case PR_SIGNED_BASE_LAYER:
    return "signedBaseLayer";
  }
  return "?";
}

static int parse_requirement(const json_t *j, const char *where, struct pr *r,
                             ctr_err *err) {
  static const char *const just_type[] = {"type", NULL};
  static const char *const base_layer[] = {"type", "baseLayerIdentity", NULL};
  const char *type;
  char where2[512];

  memset(r, 0, sizeof(*r));
  if (need_object(j, where, err) < 0)
    return -1;
  type = ctr_json_str(j, "type");
  if (json_object_get(j, "type") != NULL && type == NULL &&
      !json_is_null(json_object_get(j, "type")))
    return type_error(err, where, json_object_get(j, "type"), "string");
  if (type != NULL && strcmp(type, "insecureAcceptAnything") == 0) {
    r->type = PR_INSECURE_ACCEPT_ANYTHING;
    return exact_keys(j, where, just_type, err);
  }
  if (type != NULL && strcmp(type, "reject") == 0) {
    r->type = PR_REJECT;
    return exact_keys(j, where, just_type, err);
  }
  if (type != NULL && strcmp(type, "signedBy") == 0) {
    r->type = PR_SIGNED_BY;
    return parse_signed_by(j, where, r, err);
  }
  if (type != NULL && strcmp(type, "signedBaseLayer") == 0) {
    r->type = PR_SIGNED_BASE_LAYER;
    if (exact_keys(j, where, base_layer, err) < 0)
      return -1;
    snprintf(where2, sizeof(where2), "%.480s.baseLayerIdentity", where);
    return parse_prm(json_object_get(j, "baseLayerIdentity"), where2,
                     &r->identity, err);
  }
  if (type != NULL && strcmp(type, "sigstoreSigned") == 0)
    /* Fail closed: a requirement ctr cannot check must not be skipped. */
    return ctr_fail(err, 0,
                    "%s: policy requirement type \"sigstoreSigned\" is not "
                    "supported by ctr (only signedBy with GPGKeys)",
                    where);
  return ctr_fail(err, 0, "%s: Unknown policy requirement type \"%s\"", where,
                  sv(type));
}

static int parse_requirements(const json_t *j, const char *where,
                              struct pr_list *l, ctr_err *err) {
  size_t i;
  json_t *e;
  char where2[512];

  if (!json_is_null(j) && !json_is_array(j))
    return type_error(err, where, j, "[]json.RawMessage");
  if (json_is_null(j) || json_array_size(j) == 0)
    return ctr_fail(
        err, 0,
        "%s: List of verification policy requirements must not be empty",
        where);
  l->v = calloc(json_array_size(j), sizeof(*l->v));
  if (l->v == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  json_array_foreach(j, i, e) {
    l->n = i + 1;
    snprintf(where2, sizeof(where2), "%.480s[%zu]", where, i);
    if (parse_requirement(e, where2, &l->v[i], err) < 0)
      return -1;
  }
  return 0;
}

static int parse_transport(const char *tname, const json_t *j,
                           struct policy_transport *t, ctr_err *err) {
  const char *scope;
  json_t *reqs;
  char where[600];

  t->name = strdup(tname);
  if (t->name == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  snprintf(where, sizeof(where), "transports.%s", tname);
  if (need_object(j, where, err) < 0)
    return -1;
  t->scopes = calloc(json_object_size(j) + 1, sizeof(*t->scopes));
  if (t->scopes == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  json_object_foreach((json_t *)j, scope, reqs) {
    struct policy_scope *s = &t->scopes[t->n++];
    snprintf(where, sizeof(where), "transports.%s[\"%.400s\"]", tname, scope);
    s->name = strdup(scope);
    if (s->name == NULL)
      return ctr_fail(err, ENOMEM, "policy");
    if (parse_requirements(reqs, where, &s->reqs, err) < 0)
      return -1;
  }
  return 0;
}

int policy_parse(const char *buf, size_t len, struct policy **out,
                 ctr_err *err) {
  static const char *const top[] = {"default", "transports", NULL};
  cleanup_json json_t *j = NULL;
  json_t *def, *transports, *v;
  json_error_t jerr;
  const char *name;
  struct policy *p;

  *out = NULL;
  j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL)
    return ctr_fail(err, 0, "%s (line %d, column %d)", jerr.text, jerr.line,
                    jerr.column);
  if (need_object(j, "policy", err) < 0 || only_keys(j, "policy", top, err) < 0)
    return -1;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  def = json_object_get(j, "default");
  if (def == NULL) {
    policy_free(p);
    return ctr_fail(err, 0, "Default policy is missing");
  }
  if (parse_requirements(def, "default", &p->def, err) < 0)
    goto fail;
  transports = json_object_get(j, "transports");
  if (transports != NULL && !json_is_null(transports)) {
    if (need_object(transports, "transports", err) < 0)
      goto fail;
    p->transports =
        calloc(json_object_size(transports) + 1, sizeof(*p->transports));
    if (p->transports == NULL) {
      ctr_fail(err, ENOMEM, "policy");
      goto fail;
    }
    json_object_foreach(transports, name, v) {
      if (parse_transport(name, v, &p->transports[p->ntransports++], err) < 0)
        goto fail;
    }
  }
  *out = p;
  return 0;
fail:
  policy_free(p);
  return -1;
}

int policy_load(const char *trust_dir, struct policy **out, ctr_err *err) {
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;

  *out = NULL;
  if (asprintf(&path, "%s/policy.json", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (ctr_read_file(AT_FDCWD, path, POLICY_MAX, &buf, &len, err) < 0)
    return -1;
  if (policy_parse(buf, len, out, err) < 0)
    return ctr_wrap(err, "invalid policy in \"%s\"", path);
  return 0;
}

static void free_list(struct pr_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    struct pr *r = &l->v[i];
    free(r->key_type);
    free(r->key_path);
    for (size_t k = 0; k < r->nkey_paths; k++)
      free(r->key_paths[k]);
    free(r->key_paths);
    free(r->key_data);
    free(r->identity.arg);
    free(r->identity.signed_prefix);
  }
  free(l->v);
}

void policy_free(struct policy *p) {
  if (p == NULL)
    return;
  free_list(&p->def);
  for (size_t i = 0; i < p->ntransports; i++) {
    struct policy_transport *t = &p->transports[i];
    for (size_t s = 0; s < t->n; s++) {
      free(t->scopes[s].name);
      free_list(&t->scopes[s].reqs);
    }
    free(t->scopes);
    free(t->name);
  }
  free(p->transports);
  free(p);
}
