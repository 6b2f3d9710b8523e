/* $CTR_ROOT/blob-sources.json: for each blob of the store, the registry
 * repositories known to have it ("HOST/REPO", most recent first), so a
 * push can mount a blob from one of them instead of sending its bytes:
 *
 *   {"sha256:3f4c…": ["127.0.0.1:5000/app", "quay.io/org/base"], …}
 *
 * A hint, not a record: written atomically but never fsynced, read
 * leniently (anything malformed counts as nothing known), and a mount the
 * registry refuses just becomes an upload. Kept out of images/ so the OCI
 * layout holds only what the specification lists. */
#define _GNU_SOURCE
#include "push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"

#define SOURCES_FILE "blob-sources.json"
#define SOURCES_MAX_FILE (64 << 20)
#define SOURCES_PER_BLOB 8

json_t *image_sources_load(struct image_store *s) {
  json_t *j = NULL;
  ctr_err e = NULL;
  if (s->missing || s->root_fd < 0 ||
      ctr_json_load_object(s->root_fd, SOURCES_FILE, SOURCES_MAX_FILE, &j, &e) < 0) {
    if (e != NULL && e->errnum != ENOENT)
      ctr_debug("ignoring %s: %s", SOURCES_FILE, e->msg);
    ctr_err_free(&e);
    return json_object();
  }
  return j;
}

const char *image_sources_pick(const json_t *sources, const char *digest,
                               const char *host, const char *not_repo) {
  const json_t *list = json_object_get(sources, digest), *v;
  size_t hl = strlen(host), i;
  json_array_foreach(list, i, v) {
    const char *e = json_string_value(v);
    if (e != NULL && strncmp(e, host, hl) == 0 && e[hl] == '/' && e[hl + 1] != '\0' &&
        strcmp(e + hl + 1, not_repo) != 0)
      return e + hl + 1;
  }
  return NULL;
}

/* Put entry first in digest's list, keeping at most SOURCES_PER_BLOB. */
static void remember(json_t *sources, const char *digest, const char *entry) {
  json_t *list = json_object_get(sources, digest), *v;
  size_t i;
  if (!json_is_array(list)) {
    list = json_array();
    if (list == NULL || json_object_set_new(sources, digest, list) < 0)
      return;
  }
  for (i = json_array_size(list); i-- > 0;) {
    v = json_array_get(list, i);
    if (!json_is_string(v) || strcmp(json_string_value(v), entry) == 0)
      json_array_remove(list, i);
  }
  json_array_insert_new(list, 0, json_string(entry));
  while (json_array_size(list) > SOURCES_PER_BLOB)
    json_array_remove(list, SOURCES_PER_BLOB);
}

/* Blobs deleted since (rm, prune) need no entry. */
static void forget_gone(struct image_store *s, json_t *sources) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(sources, tmp, key, v) {
    if (!image_blob_exists(s, key))
      json_object_del(sources, key);
  }
}

void image_sources_record(struct image_store *s, const char *host,
                          const char *repo, const char *const *digests,
                          size_t n) {
  cleanup_close int lock = -1;
  cleanup_json json_t *sources = NULL;
  cleanup_free char *entry = NULL;
  ctr_err e = NULL;
  if (s->missing || s->root_fd < 0 || n == 0 || asprintf(&entry, "%s/%s", host, repo) < 0)
    return;
  lock = ctr_lock(s->paths, "blob-sources", LOCK_EX, &e);
  if (lock < 0) {
    ctr_debug("%s not updated: %s", SOURCES_FILE, e->msg);
    ctr_err_free(&e);
    return;
  }
  sources = image_sources_load(s);
  if (sources == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    if (ctr_digest_valid(digests[i]))
      remember(sources, digests[i], entry);
  forget_gone(s, sources);
  if (ctr_json_save(s->root_fd, SOURCES_FILE, sources, false, false, &e) < 0) {
    ctr_debug("%s not updated: %s", SOURCES_FILE, e->msg);
    ctr_err_free(&e);
  }
}
