#define _GNU_SOURCE
#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "manifest.h"
#include "unpack.h"

/* A set of hex names as a JSON object's keys. */
static void mark(json_t *set, const char *digest) {
  if (ctr_digest_valid(digest))
    json_object_set_new(set, ctr_digest_hex(digest), json_true());
}

static int mark_manifest(struct image_store *s, const char *digest,
                         json_t *blobs, json_t *layers, ctr_err *err) {
  cleanup_free char *buf = NULL;
  cleanup_free char *cbuf = NULL;
  cleanup_json json_t *m = NULL;
  cleanup_json json_t *c = NULL;
  char(*chain)[CTR_DIGEST_LEN + 1] = NULL;
  size_t len = 0, clen = 0, n = 0, i;
  json_t *l;
  const char *cd;

  if (image_blob_read(s, digest, IMAGE_JSON_MAX, &buf, &len, err) < 0 ||
      image_manifest_parse(buf, len, &m, err) < 0)
    return -1;
  cd = ctr_json_str(json_object_get(m, "config"), "digest");
  mark(blobs, cd);
  json_array_foreach(json_object_get(m, "layers"), i, l)
      mark(blobs, ctr_json_str(l, "digest"));
  if (image_blob_read(s, cd, IMAGE_JSON_MAX, &cbuf, &clen, err) < 0 ||
      image_config_parse(cbuf, clen, m, &c, err) < 0 ||
      image_chain_ids(c, &chain, &n, err) < 0)
    return -1;
  for (i = 0; i < n; i++)
    mark(layers, chain[i]);
  free(chain);
  return 0;
}

static int mark_desc(struct image_store *s, const json_t *desc, json_t *blobs,
                     json_t *layers, int depth, ctr_err *err) {
  const char *digest = ctr_json_str(desc, "digest");
  const char *mt = ctr_json_str(desc, "mediaType");
  mark(blobs, digest);
  /* The index a platform was picked from: only its bytes are kept (what
   * its signatures cover), none of its other platforms. */
  mark(blobs, ctr_json_str(json_object_get(desc, "annotations"),
                           IMAGE_INDEX_DIGEST_ANNOTATION));
  if (image_media_is_index(mt)) {
    cleanup_free char *buf = NULL;
    cleanup_json json_t *idx = NULL;
    size_t len = 0, i;
    json_t *d;
    if (depth > 2)
      return 0;
    if (image_blob_read(s, digest, IMAGE_JSON_MAX, &buf, &len, err) < 0 ||
        image_index_parse(buf, len, &idx, err) < 0)
      return -1;
    json_array_foreach(json_object_get(idx, "manifests"), i, d) {
      /* Platforms not pulled are allowed to be absent. */
      if (image_blob_exists(s, ctr_json_str(d, "digest")) &&
          mark_desc(s, d, blobs, layers, depth + 1, err) < 0)
        return -1;
    }
    return 0;
  }
  return mark_manifest(s, digest, blobs, layers, err);
}

static bool is_hex64(const char *n) {
  if (strlen(n) != CTR_DIGEST_HEX_LEN)
    return false;
  for (; *n; n++)
    if (!((*n >= '0' && *n <= '9') || (*n >= 'a' && *n <= 'f')))
      return false;
  return true;
}

static int sweep(int dirfd, json_t *keep, size_t *count, size_t *temps,
                 off_t *bytes, json_t *deleted, ctr_err *err) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return ctr_fail(err, errno, "sweep");
  lseek(fd, 0, SEEK_SET);
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return ctr_fail(err, errno, "sweep");
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    bool temp = strncmp(de->d_name, ".tmp-", 5) == 0;
    off_t sz = 0;
    if (!temp && (!is_hex64(de->d_name) || json_object_get(keep, de->d_name)))
      continue;
    if (ctr_du(dirfd, de->d_name, &sz, err) < 0 ||
        ctr_rm_rf(dirfd, de->d_name, err) < 0)
      return -1;
    *bytes += sz;
    if (temp)
      (*temps)++;
    else {
      (*count)++;
      if (deleted != NULL) {
        char digest[CTR_DIGEST_LEN + 1];
        snprintf(digest, sizeof(digest), "sha256:%.64s", de->d_name);
        json_array_append_new(deleted, json_string(digest));
      }
    }
  }
  return 0;
}

/* Layers that containers run on stay, whatever happens to their image:
 * each container's state.json lists its lowerdirs (see ctr-layout(5)). */
static int mark_container_layers(struct image_store *s, json_t *layers, ctr_err *err) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd = openat(s->root_fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "containers");
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return ctr_fail(err, errno, "containers");
  }
  while ((de = readdir(d)) != NULL) {
    char path[300];
    json_t *st = NULL, *l;
    ctr_err e = NULL;
    size_t i;
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/state.json", de->d_name);
    /* A container being created holds the gc lock (shared) until its
     * state.json lists its layers, so none is missed here. */
    if (ctr_json_load_object(dirfd(d), path, 1 << 20, &st, &e) < 0) {
      ctr_err_free(&e);
      continue;
    }
    json_array_foreach(json_object_get(st, "lower"), i, l) {
      const char *dir = json_string_value(l);
      const char *base = dir ? strrchr(dir, '/') : NULL;
      if (base != NULL && strlen(base + 1) == CTR_DIGEST_HEX_LEN)
        json_object_set_new(layers, base + 1, json_true());
    }
    json_decref(st);
  }
  return 0;
}

/* Partial downloads (images/.partial/, see pull_fetch.c) that no pull
 * is writing: a pull holds an exclusive flock on the file while it
 * writes, and a lock taken here means nobody does. The bytes were only a
 * head start for a later pull. Counted as temp files. */
static int sweep_partials(struct image_store *s, struct gc_report *r, ctr_err *err) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd = openat(s->images_fd, ".partial", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "%s/images/.partial", s->paths->root);
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return ctr_fail(err, errno, "%s/images/.partial", s->paths->root);
  }
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    int pfd;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    pfd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (pfd < 0)
      continue;
    if (fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) && flock(pfd, LOCK_EX | LOCK_NB) == 0 &&
        unlinkat(dirfd(d), de->d_name, 0) == 0) {
      r->temps++;
      /* The last name goes: its blocks are freed. */
      if (st.st_nlink <= 1)
        r->bytes += (off_t)st.st_blocks * 512;
    }
    close(pfd);
  }
  return 0;
}

int image_gc(struct image_store *s, json_t *index, bool drop_dangling,
             struct gc_report *r, ctr_err *err) {
  cleanup_json json_t *blobs = json_object();
  cleanup_json json_t *layers = json_object();
  cleanup_json json_t *gone = json_array();
  json_t *manifests = json_object_get(index, "manifests"), *d;
  size_t i;

  memset(r, 0, sizeof(*r));
  if (s->missing) {
    r->deleted_manifests = json_array();
    return 0;
  }
  if (drop_dangling) {
    for (i = json_array_size(manifests); i-- > 0;) {
      json_t *ann = json_object_get(json_array_get(manifests, i), "annotations");
      if (ctr_json_str(ann, IMAGE_REF_ANNOTATION) == NULL) {
        json_array_remove(manifests, i);
        r->images++;
      }
    }
    if (r->images > 0 && image_index_save(s, index, err) < 0)
      return -1;
  }
  json_array_foreach(manifests, i, d) {
    if (mark_desc(s, d, blobs, layers, 0, err) < 0)
      return ctr_wrap(err, "refusing to collect garbage: image %s",
                      ctr_json_str(d, "digest"));
  }
  if (mark_container_layers(s, layers, err) < 0)
    return ctr_wrap(err, "refusing to collect garbage");
  if (drop_dangling && sweep_partials(s, r, err) < 0)
    return -1;
  if (sweep(s->blobs_fd, blobs, &r->blobs, &r->temps, &r->bytes, gone, err) < 0 ||
      sweep(s->layers_fd, layers, &r->layers, &r->temps, &r->bytes, NULL, err) < 0)
    return -1;
  if (ctr_fsync_dir(s->blobs_fd, err) < 0)
    return -1;
  r->deleted_manifests = ctr_steal(gone);
  return 0;
}

void gc_report_free(struct gc_report *r) {
  json_decref(r->deleted_manifests);
  r->deleted_manifests = NULL;
}
