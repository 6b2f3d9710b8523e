/* The "simple signing" payload. Parsing follows containers/image's
 * untrustedSignature.strictUnmarshalJSON: the payload comes from outside
 * (a registry, a lookaside server), so every object has exactly the
 * members it should, except optional, which may carry anything. Errors
 * use containers/image's words ("Unknown key", "missing in a JSON
 * object") so a rejection reads the same as skopeo's. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "verify/sigpayload.h"

void sig_payload_free(struct sig_payload *p) {
  if (p == NULL)
    return;
  free(p->docker_reference);
  free(p->manifest_digest);
  free(p->creator);
  memset(p, 0, sizeof(*p));
}

/* obj must be an object whose members are exactly names[0..n). */
static int exact_fields(const json_t *obj, const char *what,
                        const char *const *names, size_t n, ctr_err *err) {
  const char *key;
  json_t *val;
  if (!json_is_object(obj))
    return ctr_fail(err, 0, "%s: JSON object expected", what);
  json_object_foreach((json_t *)obj, key, val) {
    bool known = false;
    (void)val;
    for (size_t i = 0; i < n && !known; i++)
      known = strcmp(key, names[i]) == 0;
    if (!known)
      return ctr_fail(err, 0, "%s: Unknown key \"%s\"", what, key);
  }
  for (size_t i = 0; i < n; i++)
    if (json_object_get(obj, names[i]) == NULL)
      return ctr_fail(err, 0, "%s: Key \"%s\" missing in a JSON object", what,
                      names[i]);
  return 0;
}

static int string_field(const json_t *obj, const char *key, const char *what,
                        char **out, ctr_err *err) {
  const json_t *v = json_object_get(obj, key);
  if (!json_is_string(v))
    return ctr_fail(err, 0, "%s.%s: a string expected", what, key);
  /* A NUL inside would make the C string say less than the JSON does. */
  if (strlen(json_string_value(v)) != json_string_length(v))
    return ctr_fail(err, 0, "%s.%s: NUL in string", what, key);
  *out = strdup(json_string_value(v));
  if (*out == NULL)
    return ctr_fail(err, ENOMEM, "signature payload");
  return 0;
}

static int parse_optional(const json_t *opt, struct sig_payload *p,
                          ctr_err *err) {
  const json_t *ts;
  if (!json_is_object(opt))
    return ctr_fail(err, 0, "optional: JSON object expected");
  if (json_object_get(opt, "creator") != NULL &&
      string_field(opt, "creator", "optional", &p->creator, err) < 0)
    return -1;
  ts = json_object_get(opt, "timestamp");
  if (ts == NULL)
    return 0;
  if (json_is_integer(ts)) {
    p->timestamp = (int64_t)json_integer_value(ts);
    return 0;
  }
  /* JSON has one number type: 1.7e9 is as good as 1700000000. */
  if (json_is_real(ts)) {
    double d = json_real_value(ts);
    if (d >= -9.2e18 && d <= 9.2e18 && d == floor(d)) {
      p->timestamp = (int64_t)d;
      return 0;
    }
  }
  return ctr_fail(err, 0, "Field optional.timestamp is not an integer");
}

static int parse_critical(const json_t *crit, struct sig_payload *p,
                          ctr_err *err) {
  static const char *const crit_keys[] = {"type", "image", "identity"};
  static const char *const image_keys[] = {"docker-manifest-digest"};
  static const char *const ident_keys[] = {"docker-reference"};
  const json_t *type;

  if (exact_fields(crit, "critical", crit_keys, 3, err) < 0)
    return -1;
  type = json_object_get(crit, "type");
  if (!json_is_string(type))
    return ctr_fail(err, 0, "critical.type: a string expected");
  if (strcmp(json_string_value(type), SIG_PAYLOAD_TYPE) != 0 ||
      strlen(json_string_value(type)) != json_string_length(type))
    return ctr_fail(err, 0, "Unrecognized signature type %s",
                    json_string_value(type));
  if (exact_fields(json_object_get(crit, "image"), "critical.image", image_keys,
                   1, err) < 0 ||
      string_field(json_object_get(crit, "image"), "docker-manifest-digest",
                   "critical.image", &p->manifest_digest, err) < 0)
    return -1;
  if (exact_fields(json_object_get(crit, "identity"), "critical.identity",
                   ident_keys, 1, err) < 0 ||
      string_field(json_object_get(crit, "identity"), "docker-reference",
                   "critical.identity", &p->docker_reference, err) < 0)
    return -1;
  return 0;
}

int sig_payload_parse(const char *buf, size_t len, struct sig_payload *p,
                      ctr_err *err) {
  static const char *const top_keys[] = {"critical", "optional"};
  cleanup_json json_t *root = NULL;
  json_error_t jerr;

  memset(p, 0, sizeof(*p));
  root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return ctr_fail(err, 0, "signature payload: %s", jerr.text);
  if (exact_fields(root, "signature payload", top_keys, 2, err) < 0 ||
      parse_critical(json_object_get(root, "critical"), p, err) < 0 ||
      parse_optional(json_object_get(root, "optional"), p, err) < 0) {
    sig_payload_free(p);
    return -1;
  }
  return 0;
}

char *sig_payload_build(const char *docker_reference,
                        const char *manifest_digest, const char *creator,
                        int64_t timestamp) {
  cleanup_json json_t *root = NULL;
  json_t *optional;

  optional = json_object();
  if (optional == NULL)
    return NULL;
  if (creator != NULL && creator[0] != '\0')
    json_object_set_new(optional, "creator", json_string(creator));
  if (timestamp != 0)
    json_object_set_new(optional, "timestamp", json_integer(timestamp));
  root = json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:o}", "critical", "identity",
                   "docker-reference", docker_reference, "image",
                   "docker-manifest-digest", manifest_digest, "type",
                   SIG_PAYLOAD_TYPE, "optional", optional);
  if (root == NULL)
    return NULL;
  /* Sorted and compact, byte for byte what Go's encoding/json makes of
   * the same maps in containers/image. */
  return json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
}
