#define _GNU_SOURCE
#include "export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "manifest.h"
#include "ref.h"

#define COPY_BLOCK (1 << 20)

/* Entries carry a fixed time so one image always exports to the same
 * bytes. */
static int add_header(struct archive *a, const char *path, off_t size,
                      ctr_err *err) {
  struct archive_entry *e = archive_entry_new();
  int r;
  if (e == NULL)
    return ctr_fail(err, ENOMEM, "%s", path);
  archive_entry_set_pathname(e, path);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, size);
  archive_entry_set_mtime(e, 0, 0);
  r = archive_write_header(a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return ctr_fail(err, 0, "write %s: %s", path, archive_error_string(a));
  return 0;
}

static int add_buf(struct archive *a, const char *path, const void *buf,
                   size_t len, ctr_err *err) {
  if (add_header(a, path, (off_t)len, err) < 0)
    return -1;
  if (len > 0 && archive_write_data(a, buf, len) != (la_ssize_t)len)
    return ctr_fail(err, 0, "write %s: %s", path, archive_error_string(a));
  return 0;
}

static int add_json(struct archive *a, const char *path, const json_t *j,
                    ctr_err *err) {
  cleanup_free char *s = ctr_json_compact(j);
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "%s", path);
  return add_buf(a, path, s, strlen(s), err);
}

static int copy_fd(struct archive *a, int fd, const char *path, off_t size,
                   ctr_err *err) {
  cleanup_free char *buf = malloc(COPY_BLOCK);
  off_t done = 0;
  if (buf == NULL)
    return ctr_fail(err, ENOMEM, "%s", path);
  while (done < size) {
    ssize_t n = read(fd, buf, COPY_BLOCK);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "read %s", path);
    }
    if (n == 0)
      return ctr_fail(err, 0, "%s: shorter than expected", path);
    if (archive_write_data(a, buf, (size_t)n) != n)
      return ctr_fail(err, 0, "write %s: %s", path, archive_error_string(a));
    done += n;
  }
  return 0;
}

static int add_blob(struct image_store *s, struct archive *a, const char *digest,
                    const char *path, ctr_err *err) {
  cleanup_close int fd = image_blob_open(s, digest, err);
  struct stat st;
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return ctr_fail(err, errno, "blob %s", digest);
  if (add_header(a, path, st.st_size, err) < 0)
    return -1;
  return copy_fd(a, fd, path, st.st_size, err);
}

static int export_oci(struct image_store *s, struct archive *a,
                      const struct image *img, const char *name, ctr_err *err) {
  cleanup_json json_t *index = NULL;
  json_t *desc, *layers, *l;
  char path[256];
  size_t i;

  desc = json_pack("{s:s, s:s, s:O}", "mediaType",
                   ctr_json_str(img->desc, "mediaType") &&
                           image_media_is_manifest(ctr_json_str(img->desc, "mediaType"))
                       ? ctr_json_str(img->desc, "mediaType")
                       : MT_OCI_MANIFEST,
                   "digest", img->digest, "size", json_object_get(img->desc, "size"));
  if (desc == NULL)
    return ctr_fail(err, ENOMEM, "index");
  if (strcmp(ctr_json_str(img->desc, "digest"), img->digest) != 0) {
    /* The store entry is an index: describe the chosen manifest itself. */
    struct stat st;
    if (fstatat(s->blobs_fd, ctr_digest_hex(img->digest), &st, 0) < 0) {
      json_decref(desc);
      return ctr_fail(err, errno, "blob %s", img->digest);
    }
    json_object_set_new(desc, "size", json_integer(st.st_size));
    json_object_set_new(desc, "mediaType",
                        json_string(ctr_json_str(img->manifest, "mediaType")
                                        ? ctr_json_str(img->manifest, "mediaType")
                                        : MT_OCI_MANIFEST));
  }
  if (name != NULL)
    json_object_set_new(desc, "annotations",
                        json_pack("{s:s}", IMAGE_REF_ANNOTATION, name));
  index = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
                    MT_OCI_INDEX, "manifests", desc);
  if (index == NULL)
    return ctr_fail(err, ENOMEM, "index");
  if (add_buf(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, err) < 0 ||
      add_json(a, "index.json", index, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "blobs/sha256/%s", ctr_digest_hex(img->digest));
  if (add_blob(s, a, img->digest, path, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "blobs/sha256/%s", ctr_digest_hex(img->config_digest));
  if (add_blob(s, a, img->config_digest, path, err) < 0)
    return -1;
  layers = json_object_get(img->manifest, "layers");
  json_array_foreach(layers, i, l) {
    const char *d = ctr_json_str(l, "digest");
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++)
      dup = strcmp(ctr_json_str(json_array_get(layers, k), "digest"), d) == 0;
    if (dup)
      continue;
    snprintf(path, sizeof(path), "blobs/sha256/%s", ctr_digest_hex(d));
    if (add_blob(s, a, d, path, err) < 0)
      return -1;
  }
  return 0;
}

/* Docker archives want plain tar layers whose digest is the diff_id; a
 * compressed blob is decompressed into an unlinked temp file first, since
 * a tar header needs the size up front. */
static int plain_layer(struct image_store *s, const char *digest, int *out,
                       off_t *size, ctr_err *err) {
  struct archive *r = archive_read_new();
  struct archive_entry *e;
  cleanup_close int in = image_blob_open(s, digest, err);
  const char *tmpdir = getenv("TMPDIR");
  int fd = -1, rc = ARCHIVE_FATAL;
  const void *buf;
  size_t len;
  la_int64_t off;
  if (in < 0 || r == NULL) {
    archive_read_free(r);
    return in < 0 ? -1 : ctr_fail(err, ENOMEM, "layer");
  }
  fd = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    archive_read_free(r);
    return ctr_fail(err, errno, "temp file for layer %s", digest);
  }
  archive_read_support_filter_all(r);
  archive_read_support_format_raw(r);
  if (archive_read_open_fd(r, in, COPY_BLOCK) == ARCHIVE_OK &&
      archive_read_next_header(r, &e) == ARCHIVE_OK)
    while ((rc = archive_read_data_block(r, &buf, &len, &off)) == ARCHIVE_OK)
      if (write(fd, buf, len) != (ssize_t)len) {
        int e2 = errno;
        archive_read_free(r);
        close(fd);
        return ctr_fail(err, e2, "decompress layer %s", digest);
      }
  if (rc != ARCHIVE_EOF) {
    ctr_fail(err, 0, "decompress layer %s: %s", digest, archive_error_string(r));
    archive_read_free(r);
    close(fd);
    return -1;
  }
  archive_read_free(r);
  *size = lseek(fd, 0, SEEK_CUR);
  lseek(fd, 0, SEEK_SET);
  *out = fd;
  return 0;
}

static int export_docker(struct image_store *s, struct archive *a,
                         const struct image *img, const char *name,
                         ctr_err *err) {
  cleanup_json json_t *manifest = NULL;
  json_t *layers = json_object_get(img->manifest, "layers");
  json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
  json_t *paths = json_array(), *l;
  char path[256];
  size_t i;

  snprintf(path, sizeof(path), "%s.json", ctr_digest_hex(img->config_digest));
  manifest = json_pack("[{s:s, s:[], s:o}]", "Config", path, "RepoTags", "Layers", paths);
  if (manifest == NULL)
    return ctr_fail(err, ENOMEM, "manifest.json");
  if (name != NULL)
    json_array_append_new(json_object_get(json_array_get(manifest, 0), "RepoTags"),
                          json_string(name));
  if (add_blob(s, a, img->config_digest, path, err) < 0)
    return -1;
  json_array_foreach(layers, i, l) {
    const char *digest = ctr_json_str(l, "digest");
    const char *diff_id = json_string_value(json_array_get(diff_ids, i));
    enum layer_compression c;
    bool dup = false;
    snprintf(path, sizeof(path), "%s.tar", ctr_digest_hex(diff_id));
    json_array_append_new(paths, json_string(path));
    for (size_t k = 0; k < i && !dup; k++)
      dup = strcmp(json_string_value(json_array_get(diff_ids, k)), diff_id) == 0;
    if (dup)
      continue;
    if (image_layer_compression(ctr_json_str(l, "mediaType"), &c, err) < 0)
      return -1;
    if (c == LAYER_TAR) {
      if (add_blob(s, a, digest, path, err) < 0)
        return -1;
    } else {
      cleanup_close int fd = -1;
      off_t size = 0;
      if (plain_layer(s, digest, &fd, &size, err) < 0 ||
          add_header(a, path, size, err) < 0 || copy_fd(a, fd, path, size, err) < 0)
        return -1;
    }
  }
  return add_json(a, "manifest.json", manifest, err);
}

/* The archive's bytes go out through here, hashed on the way: the
 * export's provenance names what was written without reading it back
 * (it may have gone to a pipe). */
struct hashed_out {
  int fd;
  ctr_sha256 *h;
};

static la_ssize_t hashed_write(struct archive *a, void *data, const void *buf,
                               size_t len) {
  struct hashed_out *o = data;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(o->fd, (const char *)buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      archive_set_error(a, errno, "write: %s", strerror(errno));
      return -1;
    }
    done += (size_t)n;
  }
  ctr_sha256_update(o->h, buf, len);
  return (la_ssize_t)len;
}

int image_export(struct image_store *s, const struct image *img,
                 const char *name, enum export_format fmt, int fd,
                 char digest[CTR_DIGEST_LEN + 1], ctr_err *err) {
  struct archive *a = archive_write_new();
  struct hashed_out out = {fd, ctr_sha256_new()};
  int ret;
  if (a == NULL || out.h == NULL) {
    archive_write_free(a);
    ctr_sha256_free(out.h);
    return ctr_fail(err, ENOMEM, "export");
  }
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
      /* Same bytes to a file or a pipe: libarchive pads only pipes. */
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
      archive_write_open(a, &out, NULL, hashed_write, NULL) != ARCHIVE_OK) {
    ctr_fail(err, 0, "export: %s", archive_error_string(a));
    archive_write_free(a);
    ctr_sha256_free(out.h);
    return -1;
  }
  ret = fmt == EXPORT_OCI_ARCHIVE ? export_oci(s, a, img, name, err)
                                  : export_docker(s, a, img, name, err);
  if (ret == 0 && archive_write_close(a) != ARCHIVE_OK)
    ret = ctr_fail(err, 0, "export: %s", archive_error_string(a));
  archive_write_free(a);
  if (ret == 0 && digest != NULL)
    ctr_sha256_final(out.h, digest);
  else
    ctr_sha256_free(out.h);
  return ret;
}
