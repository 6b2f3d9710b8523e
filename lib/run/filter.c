#define _GNU_SOURCE
#include "filter.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container.h"
#include "core/cleanup.h"
#include "core/json.h"
#include "image/ref.h"
#include "image/store.h"
#include "logs.h"

enum key { K_ID, K_NAME, K_LABEL, K_STATUS, K_EXITED, K_ANCESTOR, K_BEFORE, K_SINCE, K_COUNT };

static const char *const key_names[K_COUNT] = {"id", "name", "label", "status",
                                               "exited", "ancestor", "before", "since"};

struct term {
  enum key key;
  char *value;       /* label: the key; ancestor: the image as given */
  char *label_value; /* label=KEY=VALUE: VALUE; NULL for label=KEY */
  char *image_name;  /* ancestor: the familiar "repo:tag", when it parses */
  json_t *image_ids; /* ancestor: digests the store resolves it to */
  regex_t re;        /* id, name */
  bool has_re;
  long code;         /* exited */
};

struct bound {
  bool set;
  char *ref;
  char id[65];
  struct timespec created;
};

struct run_filter {
  struct term *terms;
  size_t n;
  struct bound before, since;
};

struct run_filter *run_filter_new(void) { return calloc(1, sizeof(struct run_filter)); }

void run_filter_free(struct run_filter *f) {
  if (f == NULL)
    return;
  for (size_t i = 0; i < f->n; i++) {
    struct term *t = &f->terms[i];
    free(t->value);
    free(t->label_value);
    free(t->image_name);
    json_decref(t->image_ids);
    if (t->has_re)
      regfree(&t->re);
  }
  free(f->terms);
  free(f->before.ref);
  free(f->since.ref);
  free(f);
}

static bool valid_status(const char *s) {
  static const char *const all[] = {"created", "running", "restarting", "exited",
                                    "paused",  "removing", "dead"};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strcmp(s, all[i]) == 0)
      return true;
  return false;
}

static int parse_code(const char *s, long *out) {
  char *end;
  errno = 0;
  *out = strtol(s, &end, 10);
  return s[0] == '\0' || *end != '\0' || errno != 0 || *out < -1 || *out > 255 ? -1 : 0;
}

/* The familiar name an image reference stands for ("busybox" ->
 * "busybox:latest"), or NULL when it is not a name. */
static char *familiar_name(const char *ref) {
  struct image_ref r = {0};
  ctr_err e = NULL;
  char *name = NULL;
  if (image_ref_parse(ref, &r, &e) == 0)
    name = image_ref_name(&r);
  image_ref_free(&r);
  ctr_err_free(&e);
  return name;
}

static int set_bound(struct bound *b, const char *ref, ctr_err *err) {
  free(b->ref);
  b->ref = strdup(ref);
  b->set = true;
  return b->ref ? 0 : ctr_fail(err, ENOMEM, "filter");
}

static int add_term(struct run_filter *f, enum key key, const char *value,
                    const char *spec, ctr_err *err) {
  struct term *t, *grown = realloc(f->terms, (f->n + 1) * sizeof(*f->terms));
  if (grown == NULL)
    return ctr_fail(err, ENOMEM, "filter");
  f->terms = grown;
  t = &f->terms[f->n];
  memset(t, 0, sizeof(*t));
  t->key = key;
  if (key == K_LABEL && strchr(value, '=') != NULL) {
    const char *eq = strchr(value, '=');
    t->value = strndup(value, (size_t)(eq - value));
    t->label_value = strdup(eq + 1);
    if (t->label_value == NULL) {
      free(t->value);
      return ctr_fail(err, ENOMEM, "filter");
    }
  } else {
    t->value = strdup(value);
  }
  if (t->value == NULL) {
    free(t->label_value);
    return ctr_fail(err, ENOMEM, "filter");
  }
  if (key == K_ID || key == K_NAME) {
    if (regcomp(&t->re, value, REG_EXTENDED | REG_NOSUB) != 0) {
      free(t->value);
      return ctr_usage(err, "invalid filter '%s': not a regular expression", spec);
    }
    t->has_re = true;
  }
  if (key == K_ANCESTOR)
    t->image_name = familiar_name(value);
  t->code = 0;
  f->n++;
  return 0;
}

int run_filter_add(struct run_filter *f, const char *spec, ctr_err *err) {
  const char *eq = strchr(spec, '=');
  cleanup_free char *name = NULL;
  const char *value;
  int key;
  long code = 0;
  if (eq == NULL || eq == spec)
    return ctr_usage(err, "bad format of filter '%s' (expected name=value)", spec);
  name = strndup(spec, (size_t)(eq - spec));
  if (name == NULL)
    return ctr_fail(err, ENOMEM, "filter");
  value = eq + 1;
  for (key = 0; key < K_COUNT && strcmp(key_names[key], name) != 0; key++)
    ;
  switch (key) {
  case K_COUNT:
    return ctr_usage(err, "invalid filter '%s'", name);
  case K_STATUS:
    if (!valid_status(value))
      return ctr_usage(err, "invalid filter 'status=%s' (created, running, restarting, exited, paused, removing or dead)", value);
    break;
  case K_EXITED:
    if (parse_code(value, &code) < 0)
      return ctr_usage(err, "invalid filter 'exited=%s' (an exit code)", value);
    break;
  case K_LABEL:
    if (value[0] == '\0' || value[0] == '=')
      return ctr_usage(err, "invalid filter 'label=%s' (KEY or KEY=VALUE)", value);
    break;
  case K_BEFORE:
  case K_SINCE:
  case K_ANCESTOR:
    if (value[0] == '\0')
      return ctr_usage(err, "invalid filter '%s=' (a %s)", name,
                       key == K_ANCESTOR ? "image" : "container");
    if (key != K_ANCESTOR)
      return set_bound(key == K_BEFORE ? &f->before : &f->since, value, err);
    break;
  default:
    break;
  }
  if (add_term(f, (enum key)key, value, spec, err) < 0)
    return -1;
  f->terms[f->n - 1].code = code;
  return 0;
}

bool run_filter_wants_all(const struct run_filter *f) {
  if (f->before.set || f->since.set)
    return true;
  for (size_t i = 0; i < f->n; i++)
    if (f->terms[i].key == K_STATUS)
      return true;
  return false;
}

static int resolve_bound(struct bound *b, const struct ctr_paths *p, ctr_err *err) {
  struct run_container c = {0};
  const char *created;
  if (!b->set)
    return 0;
  if (run_container_find(p, b->ref, &c, err) < 0)
    return -1;
  snprintf(b->id, sizeof(b->id), "%s", c.id);
  created = ctr_json_str(c.state, "created");
  if (created == NULL || run_log_parse_rfc3339(created, &b->created) < 0) {
    run_container_free(&c);
    return ctr_fail(err, 0, "container %s: no creation time", b->ref);
  }
  run_container_free(&c);
  return 0;
}

/* What the store says an ancestor= value is: its manifest and config
 * digests. Unknown images (removed, or never pulled) match by name only. */
static void resolve_ancestor(struct image_store *s, struct term *t) {
  struct image img = {0};
  ctr_err e = NULL;
  t->image_ids = json_array();
  if (s != NULL && image_resolve(s, t->value, &img, &e) == 0) {
    json_array_append_new(t->image_ids, json_string(img.digest));
    json_array_append_new(t->image_ids, json_string(img.config_digest));
  }
  image_free(&img);
  ctr_err_free(&e);
}

int run_filter_resolve(struct run_filter *f, const struct ctr_paths *p, ctr_err *err) {
  struct image_store store;
  bool store_open = false;
  if (resolve_bound(&f->before, p, err) < 0 || resolve_bound(&f->since, p, err) < 0)
    return -1;
  for (size_t i = 0; i < f->n; i++) {
    ctr_err e = NULL;
    if (f->terms[i].key != K_ANCESTOR)
      continue;
    if (!store_open) {
      memset(&store, 0, sizeof(store));
      store_open = image_store_open(&store, p, STORE_READ, &e) == 0;
      ctr_err_free(&e);
    }
    resolve_ancestor(store_open ? &store : NULL, &f->terms[i]);
  }
  if (store_open)
    image_store_close(&store);
  return 0;
}

static bool regex_hit(const regex_t *re, const char *s) {
  return s != NULL && regexec(re, s, 0, NULL, 0) == 0;
}

static bool hex_prefix_of(const char *value, const char *digest) {
  const char *hex = strncmp(value, "sha256:", 7) == 0 ? value + 7 : value;
  size_t n = strlen(hex);
  if (digest == NULL || n == 0 || strncmp(digest, "sha256:", 7) != 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)hex[i]) || isupper((unsigned char)hex[i]))
      return false;
  return strncmp(digest + 7, hex, n) == 0;
}

static bool ancestor_hit(const struct term *t, const json_t *st) {
  const char *image = ctr_json_str(st, "image");
  const char *image_id = ctr_json_str(st, "image_id");
  const char *image_digest = ctr_json_str(st, "image_digest");
  size_t i;
  json_t *d;
  if (image != NULL) {
    cleanup_free char *name = familiar_name(image);
    if (strcmp(image, t->value) == 0 ||
        (name != NULL && t->image_name != NULL && strcmp(name, t->image_name) == 0))
      return true;
  }
  if (hex_prefix_of(t->value, image_id) || hex_prefix_of(t->value, image_digest))
    return true;
  json_array_foreach(t->image_ids, i, d) {
    const char *id = json_string_value(d);
    if ((image_id && strcmp(id, image_id) == 0) || (image_digest && strcmp(id, image_digest) == 0))
      return true;
  }
  return false;
}

static bool term_hit(const struct term *t, const json_t *st) {
  const char *status = ctr_json_str(st, "status");
  switch (t->key) {
  case K_ID:
    return regex_hit(&t->re, ctr_json_str(st, "id"));
  case K_NAME: {
    const char *name = ctr_json_str(st, "name");
    cleanup_free char *slashed = NULL;
    if (regex_hit(&t->re, name))
      return true;
    return name != NULL && asprintf(&slashed, "/%s", name) >= 0 && regex_hit(&t->re, slashed);
  }
  case K_LABEL: {
    json_t *v = json_object_get(json_object_get(st, "labels"), t->value);
    if (v == NULL)
      return false;
    return t->label_value == NULL ||
           (json_is_string(v) && strcmp(json_string_value(v), t->label_value) == 0);
  }
  case K_STATUS:
    return status != NULL && strcmp(status, t->value) == 0;
  case K_EXITED:
    return status != NULL && strcmp(status, "exited") == 0 &&
           json_is_integer(json_object_get(st, "exit_code")) &&
           json_integer_value(json_object_get(st, "exit_code")) == t->code;
  case K_ANCESTOR:
    return ancestor_hit(t, st);
  default:
    return false;
  }
}

static int created_cmp(const json_t *st, const struct bound *b) {
  struct timespec t;
  const char *created = ctr_json_str(st, "created");
  if (created == NULL || run_log_parse_rfc3339(created, &t) < 0)
    return 0;
  if (t.tv_sec != b->created.tv_sec)
    return t.tv_sec < b->created.tv_sec ? -1 : 1;
  if (t.tv_nsec != b->created.tv_nsec)
    return t.tv_nsec < b->created.tv_nsec ? -1 : 1;
  /* same instant: the id decides, as the list's order does */
  return strcmp(ctr_json_str(st, "id") ? ctr_json_str(st, "id") : "", b->id);
}

bool run_filter_match(const struct run_filter *f, const json_t *st) {
  if (f->before.set && created_cmp(st, &f->before) >= 0)
    return false;
  if (f->since.set && created_cmp(st, &f->since) <= 0)
    return false;
  for (int key = 0; key < K_COUNT; key++) {
    bool seen = false, hit = false;
    for (size_t i = 0; i < f->n; i++) {
      const struct term *t = &f->terms[i];
      if ((int)t->key != key)
        continue;
      seen = true;
      if (term_hit(t, st)) {
        hit = true;
      } else if (key == K_LABEL) {
        return false; /* every label must match */
      }
    }
    if (seen && !hit)
      return false;
  }
  return true;
}
