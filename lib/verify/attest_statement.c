/* Lifecycle events as in-toto Statements v1 with a SLSA Provenance v1
 * predicate. The event is the buildType (CTR_EVENT_TYPE_PREFIX<event>/v1),
 * ctr-image's KEY=VALUE parameters are the externalParameters, and the
 * chain's bookkeeping (sequence, digest of the previous envelope) sits in
 * internalParameters, so it is signed with the rest: a statement cannot be
 * moved, dropped or reordered in the chain without that showing. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/digest.h"
#include "core/json.h"
#include "image/ref.h"
#include "verify/attest_int.h"

#define PARAM_VALUE_MAX 4096
#define PARAMS_MAX 32

/* What each event must and may carry. Events still to come (migrate,
 * build) take any well-formed keys: their parameters are not fixed yet. */
static const struct event_spec {
  const char *event;
  const char *required[3];
  const char *optional[5];
  bool open;
} events[] = {
    {"import", {"source"}, {"name", "source-digest"}, false},
    {"pull", {"reference"}, {"name", "registry", "index-digest"}, false},
    {"tag", {"name"}, {"from"}, false},
    {"export", {"destination"}, {"name", "destination-digest"}, false},
    {"push", {"reference"}, {"name", "registry"}, false},
    {"migrate", {NULL}, {NULL}, true},
    {"build", {NULL}, {NULL}, true},
};

static const struct event_spec *event_find(const char *event) {
  for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
    if (strcmp(events[i].event, event) == 0)
      return &events[i];
  return NULL;
}

static bool in_list(const char *const *list, size_t n, const char *key) {
  for (size_t i = 0; i < n && list[i] != NULL; i++)
    if (strcmp(list[i], key) == 0)
      return true;
  return false;
}

static bool key_valid(const char *k, size_t n) {
  if (n == 0 || n > 64 || k[0] < 'a' || k[0] > 'z')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
          k[i] == '-'))
      return false;
  return true;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Values that name images must parse as references. */
static int value_check(const char *key, const char *val, ctr_err *err) {
  struct image_ref ref;

  if (*val == '\0')
    return ctr_usage(err, "%s: empty value", key);
  if (strlen(val) > PARAM_VALUE_MAX)
    return ctr_usage(err, "%s: value too long", key);
  for (const unsigned char *p = (const unsigned char *)val; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return ctr_usage(err, "%s: control character in value", key);
  if (ends_with(key, "-digest") && !ctr_digest_valid(val))
    return ctr_usage(err, "%s: not a sha256 digest: %s", key, val);
  if (strcmp(key, "reference") == 0 || strcmp(key, "name") == 0 ||
      strcmp(key, "from") == 0) {
    if (image_ref_parse(val, &ref, err) < 0)
      return ctr_usage(err, "%s: not an image reference: %s", key, val);
    image_ref_free(&ref);
  }
  return 0;
}

int attest_params_parse(const char *event, char *const *params, size_t n,
                        json_t **params_out, ctr_err *err) {
  const struct event_spec *spec = event_find(event);
  cleanup_json json_t *obj = json_object();
  cleanup_free char *key = NULL;

  if (spec == NULL)
    return ctr_usage(err, "unknown event '%s' (import, pull, tag, export, "
                          "push, migrate, build)", event);
  if (n > PARAMS_MAX)
    return ctr_usage(err, "too many parameters (at most %d)", PARAMS_MAX);
  if (obj == NULL)
    return ctr_fail(err, ENOMEM, "attest");
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(params[i], '=');
    json_t *s;
    if (eq == NULL || !key_valid(params[i], (size_t)(eq - params[i])))
      return ctr_usage(err, "bad parameter '%s' (want KEY=VALUE, KEY in "
                            "[a-z0-9-])", params[i]);
    free(key);
    key = strndup(params[i], (size_t)(eq - params[i]));
    if (key == NULL)
      return ctr_fail(err, ENOMEM, "attest");
    if (!spec->open && !in_list(spec->required, 3, key) &&
        !in_list(spec->optional, 5, key))
      return ctr_usage(err, "unknown parameter '%s' for %s", key, event);
    if (json_object_get(obj, key) != NULL)
      return ctr_usage(err, "parameter '%s' given twice", key);
    if (value_check(key, eq + 1, err) < 0)
      return -1;
    s = json_string(eq + 1);
    if (s == NULL)
      return ctr_usage(err, "%s: value is not UTF-8", key);
    json_object_set_new(obj, key, s);
  }
  for (size_t i = 0; i < 3 && spec->required[i] != NULL; i++)
    if (json_object_get(obj, spec->required[i]) == NULL)
      return ctr_usage(err, "missing parameter '%s' for %s",
                       spec->required[i], event);
  *params_out = ctr_steal(obj);
  return 0;
}

void attest_event_free(struct attest_event *ev) {
  free(ev->event);
  free(ev->subject);
  free(ev->name);
  free(ev->time);
  free(ev->previous);
  json_decref(ev->params);
  memset(ev, 0, sizeof(*ev));
}

static json_t *resource(const char *key, const char *value, const char *digest) {
  return json_pack("{s:s, s:{s:s}}", key, value, "digest", "sha256",
                   ctr_digest_hex(digest));
}

/* What the event consumed: an import's source file, a pull's manifest
 * (or index) at its reference, a tag's old name. */
static json_t *dependencies(const struct attest_event *ev) {
  json_t *deps = json_array();
  const char *ref = ctr_json_str(ev->params, "reference");
  const char *src = ctr_json_str(ev->params, "source");
  const char *sd = ctr_json_str(ev->params, "source-digest");
  const char *idx = ctr_json_str(ev->params, "index-digest");
  const char *from = ctr_json_str(ev->params, "from");
  cleanup_free char *uri = NULL;

  if (deps == NULL)
    return NULL;
  if (strcmp(ev->event, "import") == 0 && src != NULL && sd != NULL)
    json_array_append_new(deps, resource("name", src, sd));
  if (strcmp(ev->event, "pull") == 0 && ref != NULL &&
      asprintf(&uri, "docker://%s", ref) >= 0)
    json_array_append_new(deps, resource("uri", uri, idx ? idx : ev->subject));
  if (strcmp(ev->event, "tag") == 0 && from != NULL)
    json_array_append_new(deps, resource("name", from, ev->subject));
  return deps;
}

json_t *attest_statement_build(const struct attest_event *ev,
                               const char *hostname) {
  json_t *internal, *build, *deps;

  internal = json_pack("{s:I, s:s}", "sequence", (json_int_t)ev->sequence,
                       "host", hostname);
  if (internal != NULL && ev->previous != NULL)
    json_object_set_new(internal, "previous", json_string(ev->previous));
  build = json_pack("{s:s++, s:O, s:o}", "buildType", CTR_EVENT_TYPE_PREFIX,
                    ev->event, "/v1", "externalParameters", ev->params,
                    "internalParameters", internal);
  deps = build ? dependencies(ev) : NULL;
  if (deps != NULL && json_array_size(deps) > 0)
    json_object_set_new(build, "resolvedDependencies", deps);
  else
    json_decref(deps);
  return json_pack(
      "{s:s, s:[{s:s, s:{s:s}}], s:s, s:{s:o, s:{s:{s:s, s:{s:s}}, "
      "s:{s:s}}}}",
      "_type", INTOTO_STATEMENT_V1, "subject", "name",
      *ev->name ? ev->name : ev->subject, "digest", "sha256",
      ctr_digest_hex(ev->subject), "predicateType", SLSA_PROVENANCE_V1,
      "predicate", "buildDefinition", build, "runDetails", "builder", "id",
      CTR_BUILDER_ID, "version", "ctr", CTR_VERSION, "metadata",
      "startedOn", ev->time);
}

static int statement_subject(const json_t *st, struct attest_event *ev,
                             ctr_err *err) {
  json_t *subj = json_object_get(st, "subject"), *first;
  const char *hex, *name;
  char digest[CTR_DIGEST_LEN + 8];

  if (!json_is_array(subj) || json_array_size(subj) == 0)
    return ctr_fail(err, 0, "statement has no subject");
  first = json_array_get(subj, 0);
  hex = ctr_json_str(json_object_get(first, "digest"), "sha256");
  name = ctr_json_str(first, "name");
  if (hex == NULL)
    return ctr_fail(err, 0, "statement subject has no sha256 digest");
  snprintf(digest, sizeof(digest), "sha256:%s", hex);
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "statement subject: bad sha256 digest");
  ev->subject = strdup(digest);
  ev->name = strdup(name && strcmp(name, digest) != 0 ? name : "");
  return ev->subject && ev->name ? 0 : ctr_fail(err, ENOMEM, "statement");
}

static int statement_definition(const json_t *def, struct attest_event *ev,
                                ctr_err *err) {
  const char *type = ctr_json_str(def, "buildType"), *key;
  json_t *params = json_object_get(def, "externalParameters");
  json_t *internal = json_object_get(def, "internalParameters");
  json_t *seq = json_object_get(internal, "sequence"), *v;
  const char *prev = ctr_json_str(internal, "previous");
  size_t plen = strlen(CTR_EVENT_TYPE_PREFIX), n;

  if (type == NULL || strncmp(type, CTR_EVENT_TYPE_PREFIX, plen) != 0 ||
      !ends_with(type, "/v1") || strlen(type) <= plen + 3)
    return ctr_fail(err, 0, "statement: buildType is not a ctr image event");
  n = strlen(type) - plen - 3;
  ev->event = strndup(type + plen, n);
  if (ev->event == NULL)
    return ctr_fail(err, ENOMEM, "statement");
  if (event_find(ev->event) == NULL)
    return ctr_fail(err, 0, "statement: unknown event '%s'", ev->event);
  if (!json_is_object(params))
    return ctr_fail(err, 0, "statement: externalParameters is not an object");
  json_object_foreach(params, key, v) {
    if (!json_is_string(v))
      return ctr_fail(err, 0, "statement: parameter %s is not a string", key);
  }
  ev->params = json_incref(params);
  if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
      json_integer_value(seq) > 999999)
    return ctr_fail(err, 0, "statement: no sequence number");
  ev->sequence = (long)json_integer_value(seq);
  if (json_object_get(internal, "previous") != NULL &&
      (prev == NULL || !ctr_digest_valid(prev)))
    return ctr_fail(err, 0, "statement: bad previous digest");
  if (prev != NULL && (ev->previous = strdup(prev)) == NULL)
    return ctr_fail(err, ENOMEM, "statement");
  return 0;
}

int attest_statement_parse(const char *buf, size_t len,
                           struct attest_event *ev, ctr_err *err) {
  cleanup_json json_t *st = NULL;
  json_t *pred, *meta;
  const char *time;

  memset(ev, 0, sizeof(*ev));
  if (ctr_json_parse_object(buf, len, "statement", &st, err) < 0)
    return -1;
  if (strcmp(ctr_json_str(st, "_type") ?: "", INTOTO_STATEMENT_V1) != 0)
    return ctr_fail(err, 0, "not an in-toto Statement v1");
  if (strcmp(ctr_json_str(st, "predicateType") ?: "", SLSA_PROVENANCE_V1) != 0)
    return ctr_fail(err, 0, "statement: predicate is not SLSA Provenance v1");
  pred = json_object_get(st, "predicate");
  meta = json_object_get(json_object_get(pred, "runDetails"), "metadata");
  time = ctr_json_str(meta, "startedOn");
  if (statement_subject(st, ev, err) < 0 ||
      statement_definition(json_object_get(pred, "buildDefinition"), ev,
                           err) < 0) {
    attest_event_free(ev);
    return -1;
  }
  ev->time = strdup(time ? time : "");
  if (ev->time == NULL) {
    attest_event_free(ev);
    return ctr_fail(err, ENOMEM, "statement");
  }
  return 0;
}
