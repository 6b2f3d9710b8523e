#define _GNU_SOURCE
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "manifest.h"
#include "platform.h"
#include "ref.h"

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* First use makes the OCI layout skeleton; later opens change nothing, so
 * a failed command leaves an existing store byte-for-byte as it was. */
static int init_layout(struct image_store *s, ctr_err *err) {
  struct stat st;
  if (fstatat(s->images_fd, "oci-layout", &st, 0) < 0) {
    if (errno != ENOENT)
      return ctr_fail(err, errno, "stat oci-layout");
    if (ctr_atomic_write(s->images_fd, "oci-layout", oci_layout,
                         strlen(oci_layout), 0644, true, err) < 0)
      return -1;
  }
  if (fstatat(s->images_fd, "index.json", &st, 0) < 0) {
    cleanup_json json_t *idx = NULL;
    if (errno != ENOENT)
      return ctr_fail(err, errno, "stat index.json");
    idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                    MT_OCI_INDEX, "manifests");
    if (idx == NULL)
      return ctr_fail(err, ENOMEM, "create index.json");
    if (ctr_json_save(s->images_fd, "index.json", idx, false, true, err) < 0)
      return -1;
  }
  return 0;
}

int image_store_open(struct image_store *s, const struct ctr_paths *paths,
                     enum image_store_mode mode, ctr_err *err) {
  cleanup_free char *layout = NULL;
  memset(s, 0, sizeof(*s));
  s->root_fd = s->images_fd = s->blobs_fd = s->layers_fd = s->gc_fd = -1;
  s->paths = paths;
  s->gc_fd = ctr_lock(paths, "images-gc", mode == STORE_GC ? LOCK_EX : LOCK_SH, err);
  if (s->gc_fd < 0)
    goto fail;
  if (asprintf(&layout, "%s/images/oci-layout", paths->root) < 0) {
    ctr_fail(err, ENOMEM, "store path");
    goto fail;
  }
  if (mode != STORE_WRITE && access(layout, F_OK) < 0 && errno == ENOENT) {
    /* Looking must not create: a missing store is an empty one. */
    s->missing = true;
    return 0;
  }
  s->root_fd = ctr_paths_open(paths->root, ".", err);
  if (s->root_fd < 0)
    goto fail;
  s->images_fd = ctr_paths_open(paths->root, "images", err);
  if (s->images_fd < 0)
    goto fail;
  s->blobs_fd = ctr_paths_open(paths->root, "images/blobs/sha256", err);
  if (s->blobs_fd < 0)
    goto fail;
  s->layers_fd = ctr_paths_open(paths->root, "layers", err);
  if (s->layers_fd < 0)
    goto fail;
  if (init_layout(s, err) < 0)
    goto fail;
  return 0;
fail:
  image_store_close(s);
  return ctr_wrap(err, "open the image store at %s", paths->root);
}

void image_store_close(struct image_store *s) {
  int *fds[] = {&s->root_fd, &s->images_fd, &s->blobs_fd, &s->layers_fd,
                &s->gc_fd};
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
    if (*fds[i] >= 0)
      close(*fds[i]);
    *fds[i] = -1;
  }
}

struct image_blob_writer {
  struct image_store *s;
  int fd;
  char *tmp;
  ctr_sha256 *hash;
  off_t size;
  char digest[CTR_DIGEST_LEN + 1]; /* set by finish */
};

int image_blob_begin(struct image_store *s, struct image_blob_writer **out,
                     ctr_err *err) {
  struct image_blob_writer *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return ctr_fail(err, ENOMEM, "new blob");
  w->s = s;
  w->hash = ctr_sha256_new();
  if (w->hash == NULL) {
    free(w);
    return ctr_fail(err, ENOMEM, "new blob");
  }
  w->fd = ctr_mkstemp_at(s->blobs_fd, ".tmp-blob", &w->tmp, err);
  if (w->fd < 0) {
    ctr_sha256_free(w->hash);
    free(w);
    return ctr_wrap(err, "new blob");
  }
  *out = w;
  return 0;
}

int image_blob_write(struct image_blob_writer *w, const void *buf, size_t len,
                     ctr_err *err) {
  const char *p = buf;
  ctr_sha256_update(w->hash, buf, len);
  w->size += (off_t)len;
  while (len > 0) {
    ssize_t n = write(w->fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "write blob");
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void image_blob_abort(struct image_blob_writer *w) {
  if (w == NULL)
    return;
  if (w->fd >= 0)
    close(w->fd);
  if (w->tmp != NULL)
    unlinkat(w->s->blobs_fd, w->tmp, 0);
  free(w->tmp);
  ctr_sha256_free(w->hash);
  free(w);
}

int image_blob_finish(struct image_blob_writer *w, const char *expected,
                      off_t expected_size, ctr_err *err) {
  ctr_sha256_final(w->hash, w->digest);
  w->hash = NULL;
  if (expected != NULL && strcmp(w->digest, expected) != 0)
    return ctr_fail(err, 0, "blob %s: digest mismatch (got %s)", expected,
                    w->digest);
  if (expected_size >= 0 && w->size != expected_size)
    return ctr_fail(err, 0, "blob %s: size %lld, expected %lld", w->digest,
                    (long long)w->size, (long long)expected_size);
  if (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0)
    return ctr_fail(err, errno, "write blob %s", w->digest);
  return 0;
}

int image_blob_publish(struct image_blob_writer *w, ctr_err *err) {
  if (renameat(w->s->blobs_fd, w->tmp, w->s->blobs_fd,
               ctr_digest_hex(w->digest)) < 0) {
    ctr_fail(err, errno, "store blob %s", w->digest);
    image_blob_abort(w);
    return -1;
  }
  free(w->tmp);
  w->tmp = NULL;
  image_blob_abort(w);
  return 0;
}

const char *image_blob_digest(const struct image_blob_writer *w) {
  return w->digest;
}

off_t image_blob_size(const struct image_blob_writer *w) { return w->size; }

int image_blob_reopen(const struct image_blob_writer *w, ctr_err *err) {
  int fd = openat(w->s->blobs_fd, w->tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return ctr_fail(err, errno, "reopen staged blob %s", w->digest);
  return fd;
}

int image_blob_commit(struct image_blob_writer *w, const char *expected,
                      off_t expected_size, char digest[CTR_DIGEST_LEN + 1],
                      off_t *size, ctr_err *err) {
  char d[CTR_DIGEST_LEN + 1];
  off_t n = w->size;
  struct image_store *s = w->s;
  if (image_blob_finish(w, expected, expected_size, err) < 0) {
    image_blob_abort(w);
    return -1;
  }
  memcpy(d, w->digest, sizeof(d));
  if (image_blob_publish(w, err) < 0)
    return -1;
  if (ctr_fsync_dir(s->blobs_fd, err) < 0)
    return -1;
  if (digest != NULL)
    memcpy(digest, d, sizeof(d));
  if (size != NULL)
    *size = n;
  return 0;
}

int image_blob_put(struct image_store *s, const void *buf, size_t len,
                   char digest[CTR_DIGEST_LEN + 1], ctr_err *err) {
  struct image_blob_writer *w = NULL;
  char d[CTR_DIGEST_LEN + 1];
  ctr_sha256_buf(buf, len, d);
  if (image_blob_exists(s, d)) {
    memcpy(digest, d, sizeof(d));
    return 0;
  }
  if (image_blob_begin(s, &w, err) < 0)
    return -1;
  if (image_blob_write(w, buf, len, err) < 0) {
    image_blob_abort(w);
    return -1;
  }
  return image_blob_commit(w, d, (off_t)len, digest, NULL, err);
}

bool image_blob_exists(struct image_store *s, const char *digest) {
  struct stat st;
  if (s->missing || !ctr_digest_valid(digest))
    return false;
  return fstatat(s->blobs_fd, ctr_digest_hex(digest), &st, 0) == 0 &&
         S_ISREG(st.st_mode);
}

int image_blob_open(struct image_store *s, const char *digest, ctr_err *err) {
  int fd;
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "invalid digest %s", digest ? digest : "(none)");
  fd = openat(s->blobs_fd, ctr_digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return ctr_fail(err, errno, "blob %s", digest);
  return fd;
}

int image_blob_read(struct image_store *s, const char *digest, size_t max,
                    char **buf, size_t *len, ctr_err *err) {
  char got[CTR_DIGEST_LEN + 1];
  cleanup_free char *b = NULL;
  size_t n = 0;
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "invalid digest %s", digest ? digest : "(none)");
  if (ctr_read_file(s->blobs_fd, ctr_digest_hex(digest), max, &b, &n, err) < 0)
    return ctr_wrap(err, "blob %s", digest);
  if (s->trusted) {
    *buf = ctr_steal(b);
    *len = n;
    return 0;
  }
  ctr_sha256_buf(b, n, got);
  if (strcmp(got, digest) != 0)
    return ctr_fail(err, 0, "blob %s: digest mismatch (got %s)", digest, got);
  *buf = ctr_steal(b);
  *len = n;
  return 0;
}

int image_index_lock(struct image_store *s, ctr_err *err) {
  return ctr_lock(s->paths, "images", LOCK_EX, err);
}

int image_index_load(struct image_store *s, json_t **index, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (s->missing) {
    *index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                       MT_OCI_INDEX, "manifests");
    return *index ? 0 : ctr_fail(err, ENOMEM, "index");
  }
  if (ctr_read_file(s->images_fd, "index.json", IMAGE_JSON_MAX * 4, &buf, &len,
                    err) < 0)
    return -1;
  if (image_index_parse(buf, len, index, err) < 0)
    return ctr_wrap(err, "%s/images/index.json", s->paths->root);
  return 0;
}

int image_index_save(struct image_store *s, json_t *index, ctr_err *err) {
  if (s->missing)
    return ctr_fail(err, ENOENT, "%s/images", s->paths->root);
  return ctr_json_save(s->images_fd, "index.json", index, false, true, err);
}

static const char *desc_name(const json_t *desc) {
  return ctr_json_str(json_object_get(desc, "annotations"), IMAGE_REF_ANNOTATION);
}

int image_index_set_name(json_t *index, const char *name, const json_t *desc,
                         bool replace, ctr_err *err) {
  json_t *manifests = json_object_get(index, "manifests");
  json_t *copy, *ann;
  const char *digest = ctr_json_str(desc, "digest");
  size_t i;
  for (i = 0; i < json_array_size(manifests); i++) {
    json_t *d = json_array_get(manifests, i);
    const char *n = desc_name(d);
    if (n == NULL || strcmp(n, name) != 0)
      continue;
    if (strcmp(ctr_json_str(d, "digest"), digest) == 0)
      return 0; /* already so */
    if (!replace)
      return ctr_fail(err, 0, "name %s is already used by image %s (use --force)",
                      name, ctr_json_str(d, "digest"));
    json_array_remove(manifests, i);
    break;
  }
  copy = json_deep_copy(desc);
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "name %s", name);
  ann = json_object_get(copy, "annotations");
  if (!json_is_object(ann)) {
    ann = json_object();
    json_object_set_new(copy, "annotations", ann);
  }
  json_object_set_new(ann, IMAGE_REF_ANNOTATION, json_string(name));
  /* A nameless entry for the same image is now redundant. */
  for (i = 0; i < json_array_size(manifests); i++) {
    json_t *d = json_array_get(manifests, i);
    if (desc_name(d) == NULL && strcmp(ctr_json_str(d, "digest"), digest) == 0) {
      json_array_remove(manifests, i);
      break;
    }
  }
  json_array_append_new(manifests, copy);
  return 0;
}

void image_free(struct image *img) {
  free(img->name);
  json_decref(img->desc);
  json_decref(img->manifest);
  json_decref(img->config);
  memset(img, 0, sizeof(*img));
}

/* A nested index (multi-platform image): pick this machine's manifest. */
static int pick_platform(struct image_store *s, const char *digest,
                         json_t **desc, ctr_err *err) {
  cleanup_free char *buf = NULL;
  cleanup_json json_t *idx = NULL;
  struct image_platform host;
  json_t *manifests;
  size_t len = 0;
  image_platform_host(&host);
  if (image_blob_read(s, digest, IMAGE_JSON_MAX, &buf, &len, err) < 0 ||
      image_index_parse(buf, len, &idx, err) < 0)
    return -1;
  manifests = json_object_get(idx, "manifests");
  for (size_t i = 0; i < json_array_size(manifests); i++) {
    json_t *d = json_array_get(manifests, i);
    if (image_media_is_manifest(ctr_json_str(d, "mediaType")) &&
        image_platform_matches(json_object_get(d, "platform"), &host)) {
      *desc = json_incref(d);
      return 0;
    }
  }
  return ctr_fail(err, 0, "no manifest for %s/%s in index %s", host.os,
                  host.arch, digest);
}

int image_load(struct image_store *s, const json_t *desc, struct image *img,
               ctr_err *err) {
  cleanup_free char *mbuf = NULL;
  cleanup_free char *cbuf = NULL;
  cleanup_json json_t *mdesc = NULL;
  size_t mlen = 0, clen = 0;
  const char *mt = ctr_json_str(desc, "mediaType");
  const char *digest = ctr_json_str(desc, "digest");
  const char *cdigest;

  if (image_media_is_index(mt)) {
    if (pick_platform(s, digest, &mdesc, err) < 0)
      return -1;
    digest = ctr_json_str(mdesc, "digest");
  } else if (!image_media_is_manifest(mt)) {
    return ctr_fail(err, 0, "image %s: unsupported media type %s", digest,
                    mt ? mt : "(none)");
  }
  if (image_blob_read(s, digest, IMAGE_JSON_MAX, &mbuf, &mlen, err) < 0 ||
      image_manifest_parse(mbuf, mlen, &img->manifest, err) < 0)
    return ctr_wrap(err, "manifest %s", digest);
  snprintf(img->digest, sizeof(img->digest), "%s", digest);
  cdigest = ctr_json_str(json_object_get(img->manifest, "config"), "digest");
  if (image_blob_read(s, cdigest, IMAGE_JSON_MAX, &cbuf, &clen, err) < 0 ||
      image_config_parse(cbuf, clen, img->manifest, &img->config, err) < 0)
    return ctr_wrap(err, "config %s", cdigest);
  snprintf(img->config_digest, sizeof(img->config_digest), "%s", cdigest);
  img->desc = json_deep_copy(desc);
  if (desc_name(desc) != NULL)
    img->name = strdup(desc_name(desc));
  return 0;
}

static bool is_hex(const char *s) {
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
      return false;
  return true;
}

/* The config digest of an index entry, for id lookups; "" if unreadable. */
static void entry_config_digest(struct image_store *s, const json_t *d,
                                char out[CTR_DIGEST_LEN + 1]) {
  struct image img = {0};
  ctr_err e = NULL;
  out[0] = '\0';
  if (image_load(s, d, &img, &e) == 0)
    snprintf(out, CTR_DIGEST_LEN + 1, "%s", img.config_digest);
  ctr_err_free(&e);
  image_free(&img);
}

static int resolve_by_prefix(struct image_store *s, json_t *manifests,
                             const char *hex, const char *ref, json_t **found,
                             ctr_err *err) {
  size_t n = strlen(hex);
  json_t *match = NULL;
  for (size_t i = 0; i < json_array_size(manifests); i++) {
    json_t *d = json_array_get(manifests, i);
    const char *dg = ctr_json_str(d, "digest");
    char cfg[CTR_DIGEST_LEN + 1];
    bool hit = strncmp(dg + 7, hex, n) == 0;
    if (!hit) {
      entry_config_digest(s, d, cfg);
      hit = cfg[0] && strncmp(cfg + 7, hex, n) == 0;
    }
    if (!hit)
      continue;
    if (match != NULL && strcmp(ctr_json_str(match, "digest"), dg) != 0)
      return ctr_fail(err, 0, "%s: ambiguous, matches more than one image", ref);
    if (match == NULL || desc_name(match) == NULL)
      match = d;
  }
  if (match == NULL)
    return ctr_fail(err, 0, "no such image: %s", ref);
  *found = match;
  return 0;
}

int image_resolve(struct image_store *s, const char *ref, struct image *img,
                  ctr_err *err) {
  cleanup_json json_t *index = NULL;
  struct image_ref r = {0};
  ctr_err perr = NULL;
  json_t *manifests, *found = NULL;
  cleanup_free char *name = NULL;
  int parsed;

  memset(img, 0, sizeof(*img));
  if (image_index_load(s, &index, err) < 0)
    return -1;
  manifests = json_object_get(index, "manifests");
  parsed = image_ref_parse(ref, &r, &perr);
  if (parsed == 0) {
    name = image_ref_name(&r);
    for (size_t i = 0; i < json_array_size(manifests); i++) {
      json_t *d = json_array_get(manifests, i);
      const char *n = desc_name(d);
      const char *dg = ctr_json_str(d, "digest");
      if (name != NULL && n != NULL && strcmp(n, name) == 0) {
        found = d;
        break;
      }
      if (name == NULL && r.digest != NULL && strcmp(dg, r.digest) == 0 &&
          (found == NULL || desc_name(found) == NULL))
        found = d;
    }
    if (found != NULL && r.digest != NULL &&
        strcmp(ctr_json_str(found, "digest"), r.digest) != 0) {
      image_ref_free(&r);
      ctr_err_free(&perr);
      return ctr_fail(err, 0, "%s: image %s has digest %s", ref, name,
                      ctr_json_str(found, "digest"));
    }
  }
  image_ref_free(&r);
  if (found == NULL) {
    const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
    if (is_hex(hex) && strlen(hex) <= CTR_DIGEST_HEX_LEN) {
      ctr_err_free(&perr);
      if (resolve_by_prefix(s, manifests, hex, ref, &found, err) < 0)
        return -1;
    } else if (parsed < 0) {
      ctr_err_free(err);
      *err = perr;
      return -1;
    } else {
      ctr_err_free(&perr);
      return ctr_fail(err, 0, "no such image: %s", ref);
    }
  }
  ctr_err_free(&perr);
  if (image_load(s, found, img, err) < 0) {
    image_free(img);
    return ctr_wrap(err, "image %s", ref);
  }
  return 0;
}
