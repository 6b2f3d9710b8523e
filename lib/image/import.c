#define _GNU_SOURCE
#include "import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "layer_writer.h"
#include "manifest.h"
#include "platform.h"
#include "ref.h"
#include "unpack.h"

/* ---- the plan ---------------------------------------------------------- */

int import_plan_add(struct import_plan *p, json_t *desc, json_t *names,
                    ctr_err *err) {
  struct plan_image *n = realloc(p->imgs, (p->n + 1) * sizeof(*n));
  if (n == NULL) {
    json_decref(desc);
    json_decref(names);
    return ctr_fail(err, ENOMEM, "plan import");
  }
  p->imgs = n;
  p->imgs[p->n].desc = desc;
  p->imgs[p->n].names = names;
  p->n++;
  return 0;
}

int import_plan_json_blob(struct import_plan *p, const json_t *doc,
                          const char *media_type, json_t **desc, ctr_err *err) {
  cleanup_free char *s = ctr_json_compact(doc);
  struct image_blob_writer *w = NULL;
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "serialise %s", media_type);
  if (image_blob_begin(p->src.s, &w, err) < 0)
    return -1;
  if (image_blob_write(w, s, strlen(s), err) < 0 ||
      image_blob_finish(w, NULL, -1, err) < 0) {
    image_blob_abort(w);
    return -1;
  }
  *desc = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest",
                    image_blob_digest(w), "size", (json_int_t)image_blob_size(w));
  if (*desc == NULL) {
    image_blob_abort(w);
    return ctr_fail(err, ENOMEM, "describe %s", media_type);
  }
  return source_adopt(&p->src, w, err);
}

void import_plan_free(struct import_plan *p) {
  for (size_t i = 0; i < p->n; i++) {
    json_decref(p->imgs[i].desc);
    json_decref(p->imgs[i].names);
  }
  free(p->imgs);
  source_close(&p->src);
  p->imgs = NULL;
  p->n = 0;
}

void image_imported_free(struct image_imported *v, size_t n) {
  for (size_t i = 0; v != NULL && i < n; i++)
    free(v[i].name);
  free(v);
}

/* A name from an archive or the command line, in the store's form. */
static int store_name(const char *given, char **out, ctr_err *err) {
  struct image_ref r;
  if (image_ref_parse(given, &r, err) < 0)
    return -1;
  *out = image_ref_name(&r);
  image_ref_free(&r);
  if (*out == NULL)
    return ctr_usage(err, "%s: a name needs a tag, not only a digest", given);
  return 0;
}

static int add_name(json_t *names, const char *given, ctr_err *err) {
  cleanup_free char *n = NULL;
  size_t i;
  json_t *v;
  if (store_name(given, &n, err) < 0)
    return -1;
  json_array_foreach(names, i, v) if (strcmp(json_string_value(v), n) == 0) return 0;
  json_array_append_new(names, json_string(n));
  return 0;
}

/* ---- commit ------------------------------------------------------------ */

struct undo {
  char **blobs; /* hex names of blobs this import created */
  size_t nblobs;
  char **layers; /* layer dirs this import created */
  size_t nlayers;
};

static void undo_add(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 1) * sizeof(char *));
  if (nv == NULL)
    return;
  *v = nv;
  (*v)[*n] = strdup(s);
  if ((*v)[*n] != NULL)
    (*n)++;
}

static void undo_run(struct image_store *s, struct undo *u, bool apply) {
  for (size_t i = 0; i < u->nblobs; i++) {
    if (apply)
      unlinkat(s->blobs_fd, u->blobs[i], 0);
    free(u->blobs[i]);
  }
  for (size_t i = 0; i < u->nlayers; i++) {
    ctr_err e = NULL;
    if (apply)
      ctr_rm_rf(s->layers_fd, u->layers[i], &e);
    ctr_err_free(&e);
    free(u->layers[i]);
  }
  free(u->blobs);
  free(u->layers);
  memset(u, 0, sizeof(*u));
}

static int publish_all(struct import_plan *p, struct undo *u, ctr_err *err) {
  struct image_store *s = p->src.s;
  for (size_t i = 0; i < p->src.n; i++) {
    struct image_blob_writer *w = p->src.files[i].w;
    char hex[CTR_DIGEST_HEX_LEN + 1];
    if (w == NULL || p->src.files[i].link != NULL)
      continue;
    /* Only blobs some image needs; the archive's own bookkeeping files
     * (manifest.json, index.json, …) are dropped with the source. */
    if (p->src.files[i].path[0] != '\x01' && !source_needed(&p->src, w))
      continue;
    snprintf(hex, sizeof(hex), "%s", ctr_digest_hex(image_blob_digest(w)));
    if (!image_blob_exists(s, image_blob_digest(w)))
      undo_add(&u->blobs, &u->nblobs, hex);
    if (source_publish(&p->src, w, err) < 0)
      return -1;
  }
  return ctr_fsync_dir(s->blobs_fd, err);
}

static int uncompressed_digest(int fd, char out[CTR_DIGEST_LEN + 1],
                               ctr_err *err);

/* "blob diff_id" pairs the store's images already vouch for: every layer
 * was checked against its diff_id when it came in. */
static json_t *known_layers(struct image_store *s, const json_t *index) {
  json_t *set = json_object(), *d;
  size_t i;
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    struct image img = {0};
    ctr_err e = NULL;
    json_t *l;
    size_t k;
    if (image_load(s, d, &img, &e) == 0) {
      json_t *ids = json_object_get(json_object_get(img.config, "rootfs"), "diff_ids");
      json_array_foreach(json_object_get(img.manifest, "layers"), k, l) {
        char *key = NULL;
        if (asprintf(&key, "%s %s", ctr_json_str(l, "digest"),
                     json_string_value(json_array_get(ids, k))) >= 0)
          json_object_set_new(set, key, json_true());
        free(key);
      }
    }
    ctr_err_free(&e);
    image_free(&img);
  }
  return set;
}

/* A layer whose directory already exists is not extracted again, so its
 * blob must be checked against the diff_id another way: an image cannot
 * borrow an unpacked layer by claiming its diff_id. */
static int verify_layer(struct image_store *s, const json_t *known,
                        const char *blob, const char *diff_id, ctr_err *err) {
  cleanup_free char *key = NULL;
  cleanup_close int fd = -1;
  char got[CTR_DIGEST_LEN + 1];
  if (asprintf(&key, "%s %s", blob, diff_id) < 0)
    return ctr_fail(err, ENOMEM, "layer %s", blob);
  if (json_object_get(known, key) != NULL)
    return 0;
  fd = image_blob_open(s, blob, err);
  if (fd < 0 || uncompressed_digest(fd, got, err) < 0)
    return ctr_wrap(err, "layer %s", blob);
  if (strcmp(got, diff_id) != 0)
    return ctr_fail(err, 0, "layer %s: diff_id mismatch (got %s, config says %s)",
                    blob, got, diff_id);
  return 0;
}

static int unpack_image(struct import_plan *p, const json_t *desc,
                        const json_t *known, struct undo *u, ctr_err *err) {
  struct image_store *s = p->src.s;
  struct image img = {0};
  char(*chain)[CTR_DIGEST_LEN + 1] = NULL;
  char **dirs = NULL;
  size_t nchain = 0, ndirs = 0;
  int ret = -1;

  if (image_load(s, desc, &img, err) < 0)
    goto out;
  if (image_chain_ids(img.config, &chain, &nchain, err) < 0)
    goto out;
  for (size_t i = 0; i < nchain; i++) {
    struct stat st;
    const char *hex = ctr_digest_hex(chain[i]);
    json_t *layer = json_array_get(json_object_get(img.manifest, "layers"), i);
    json_t *ids = json_object_get(json_object_get(img.config, "rootfs"), "diff_ids");
    if (fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
      undo_add(&u->layers, &u->nlayers, hex);
    else if (verify_layer(s, known, ctr_json_str(layer, "digest"),
                          json_string_value(json_array_get(ids, i)), err) < 0)
      goto out;
  }
  if (image_unpack(s, &img, &dirs, &ndirs, err) < 0)
    goto out;
  ret = 0;
out:
  image_unpack_free(dirs, ndirs);
  free(chain);
  image_free(&img);
  return ret;
}

static json_t *find_name(json_t *index, const char *name) {
  json_t *manifests = json_object_get(index, "manifests"), *d;
  size_t i;
  json_array_foreach(manifests, i, d) {
    const char *n =
        ctr_json_str(json_object_get(d, "annotations"), IMAGE_REF_ANNOTATION);
    if (n != NULL && strcmp(n, name) == 0)
      return d;
  }
  return NULL;
}

static int name_images(struct import_plan *p, json_t *index, bool force,
                       ctr_err *err) {
  for (size_t i = 0; i < p->n; i++) {
    json_t *desc = p->imgs[i].desc, *v;
    json_t *manifests = json_object_get(index, "manifests");
    const char *digest = ctr_json_str(desc, "digest");
    bool present = false;
    size_t k;
    json_array_foreach(p->imgs[i].names, k, v) {
      if (image_index_set_name(index, json_string_value(v), desc, force, err) < 0)
        return -1;
    }
    if (json_array_size(p->imgs[i].names) > 0)
      continue;
    json_array_foreach(manifests, k, v) present |=
        strcmp(ctr_json_str(v, "digest"), digest) == 0;
    if (!present)
      json_array_append(manifests, desc);
  }
  return 0;
}

/* The image and every name it is to have are in the index already: the
 * import changes nothing for it (and records no event). */
static bool already_there(json_t *index, const struct plan_image *img) {
  const char *digest = ctr_json_str(img->desc, "digest");
  json_t *v;
  size_t k;
  bool present = false;
  json_array_foreach(img->names, k, v) {
    json_t *d = find_name(index, json_string_value(v));
    if (d == NULL || strcmp(ctr_json_str(d, "digest"), digest) != 0)
      return false;
  }
  json_array_foreach(json_object_get(index, "manifests"), k, v) present |=
      strcmp(ctr_json_str(v, "digest"), digest) == 0;
  return present;
}

int import_plan_commit(struct import_plan *p, bool force,
                       struct image_imported **out, size_t *nout, ctr_err *err) {
  struct image_store *s = p->src.s;
  cleanup_close int lock = image_index_lock(s, err);
  cleanup_json json_t *index = NULL;
  cleanup_json json_t *known = NULL;
  struct undo u = {0};
  struct image_imported *res = NULL;
  cleanup_free bool *unchanged = NULL;
  size_t nres = 0;

  if (lock < 0 || image_index_load(s, &index, err) < 0)
    return -1;
  unchanged = calloc(p->n ? p->n : 1, sizeof(*unchanged));
  if (unchanged == NULL)
    return ctr_fail(err, ENOMEM, "import");
  for (size_t i = 0; i < p->n; i++)
    unchanged[i] = already_there(index, &p->imgs[i]);
  /* Refuse a taken name before anything becomes visible. */
  for (size_t i = 0; i < p->n && !force; i++) {
    json_t *v;
    size_t k;
    json_array_foreach(p->imgs[i].names, k, v) {
      json_t *d = find_name(index, json_string_value(v));
      if (d != NULL && strcmp(ctr_json_str(d, "digest"),
                              ctr_json_str(p->imgs[i].desc, "digest")) != 0)
        return ctr_fail(err, 0,
                        "name %s is already used by image %s (use --force)",
                        json_string_value(v), ctr_json_str(d, "digest"));
    }
  }
  known = known_layers(s, index);
  if (known == NULL) {
    ctr_fail(err, ENOMEM, "import");
    goto fail;
  }
  if (publish_all(p, &u, err) < 0)
    goto fail;
  for (size_t i = 0; i < p->n; i++)
    if (unpack_image(p, p->imgs[i].desc, known, &u, err) < 0)
      goto fail;
  if (name_images(p, index, force, err) < 0 ||
      image_index_save(s, index, err) < 0)
    goto fail;
  undo_run(s, &u, false);

  res = calloc(p->n ? p->n : 1, sizeof(*res));
  if (res == NULL)
    return ctr_fail(err, ENOMEM, "import");
  for (size_t i = 0; i < p->n; i++) {
    json_t *first = json_array_get(p->imgs[i].names, 0);
    snprintf(res[nres].digest, sizeof(res[nres].digest), "%s",
             ctr_json_str(p->imgs[i].desc, "digest"));
    res[nres].unchanged = unchanged[i];
    if (first != NULL)
      res[nres].name = strdup(json_string_value(first));
    nres++;
    /* Every further name is reported too. */
    for (size_t k = 1; k < json_array_size(p->imgs[i].names); k++) {
      struct image_imported *nr = realloc(res, (nres + 1) * sizeof(*nr));
      if (nr == NULL)
        break;
      res = nr;
      snprintf(res[nres].digest, sizeof(res[nres].digest), "%s",
               ctr_json_str(p->imgs[i].desc, "digest"));
      res[nres].source_digest[0] = '\0';
      res[nres].unchanged = unchanged[i];
      res[nres].name =
          strdup(json_string_value(json_array_get(p->imgs[i].names, k)));
      nres++;
    }
  }
  *out = res;
  *nout = nres;
  return 0;
fail:
  undo_run(s, &u, true);
  ctr_fsync_dir(s->blobs_fd, NULL);
  return -1;
}

/* ---- OCI layouts and oci-archives -------------------------------------- */

static int blob_path(const char *digest, char **path, ctr_err *err) {
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "unsupported or invalid digest %s",
                    digest ? digest : "(none)");
  if (asprintf(path, "blobs/sha256/%s", ctr_digest_hex(digest)) < 0)
    return ctr_fail(err, ENOMEM, "blob path");
  return 0;
}

/* Stage the blob a descriptor names, checked against digest and size. */
static int need_blob(struct import_plan *p, const json_t *desc,
                     struct image_blob_writer **w, ctr_err *err) {
  cleanup_free char *path = NULL;
  const char *digest = ctr_json_str(desc, "digest");
  struct image_blob_writer *bw = NULL;
  if (blob_path(digest, &path, err) < 0)
    return -1;
  if (source_blob(&p->src, path, digest,
                  (off_t)json_integer_value(json_object_get(desc, "size")), &bw,
                  err) < 0)
    return -1;
  if (w != NULL)
    *w = bw;
  return source_need(&p->src, bw, err);
}

static int read_blob(struct import_plan *p, const char *digest, char **buf,
                     size_t *len, ctr_err *err) {
  cleanup_free char *path = NULL;
  if (blob_path(digest, &path, err) < 0)
    return -1;
  return source_read(&p->src, path, IMAGE_JSON_MAX, buf, len, err);
}

static int plan_manifest_tree(struct import_plan *p, const json_t *desc,
                              int depth, ctr_err *err) {
  const char *mt = ctr_json_str(desc, "mediaType");
  const char *digest = ctr_json_str(desc, "digest");
  cleanup_free char *buf = NULL;
  cleanup_free char *cbuf = NULL;
  cleanup_json json_t *doc = NULL;
  cleanup_json json_t *config = NULL;
  size_t len = 0, clen = 0, i;
  json_t *v;

  if (depth > 2)
    return ctr_fail(err, 0, "index %s: nested too deep", digest);
  if (need_blob(p, desc, NULL, err) < 0 ||
      read_blob(p, digest, &buf, &len, err) < 0)
    return -1;
  if (image_media_is_index(mt)) {
    if (image_index_parse(buf, len, &doc, err) < 0)
      return ctr_wrap(err, "index %s", digest);
    json_array_foreach(json_object_get(doc, "manifests"), i, v) {
      if (plan_manifest_tree(p, v, depth + 1, err) < 0)
        return -1;
    }
    return 0;
  }
  if (!image_media_is_manifest(mt))
    return ctr_fail(err, 0, "%s: unsupported media type %s", digest,
                    mt ? mt : "(none)");
  if (image_manifest_parse(buf, len, &doc, err) < 0)
    return ctr_wrap(err, "manifest %s", digest);
  v = json_object_get(doc, "config");
  if (need_blob(p, v, NULL, err) < 0 ||
      read_blob(p, ctr_json_str(v, "digest"), &cbuf, &clen, err) < 0 ||
      image_config_parse(cbuf, clen, doc, &config, err) < 0)
    return ctr_wrap(err, "manifest %s", digest);
  json_array_foreach(json_object_get(doc, "layers"), i, v) {
    if (need_blob(p, v, NULL, err) < 0)
      return ctr_wrap(err, "layer %s", ctr_json_str(v, "digest"));
  }
  return 0;
}

static int plan_oci(struct import_plan *p, ctr_err *err) {
  cleanup_free char *buf = NULL;
  cleanup_json json_t *layout = NULL;
  cleanup_json json_t *index = NULL;
  const char *version;
  size_t len = 0, i;
  json_t *desc;

  if (source_read(&p->src, "oci-layout", 65536, &buf, &len, err) < 0 ||
      ctr_json_parse_object(buf, len, "oci-layout", &layout, err) < 0)
    return -1;
  version = ctr_json_str(layout, "imageLayoutVersion");
  if (version == NULL || strncmp(version, "1.", 2) != 0)
    return ctr_fail(err, 0, "oci-layout: unsupported imageLayoutVersion %s",
                    version ? version : "(none)");
  free(buf);
  buf = NULL;
  if (source_read(&p->src, "index.json", IMAGE_JSON_MAX, &buf, &len, err) < 0 ||
      image_index_parse(buf, len, &index, err) < 0)
    return ctr_wrap(err, "index.json");
  /* a directory has no archive bytes: its index.json, which pins every
   * blob by digest, stands for it in the provenance record */
  if (p->src.dirfd >= 0)
    ctr_sha256_buf(buf, len, p->src.digest);
  json_array_foreach(json_object_get(index, "manifests"), i, desc) {
    json_t *ann = json_object_get(desc, "annotations");
    const char *name = ctr_json_str(ann, "io.containerd.image.name");
    json_t *names = json_array(), *copy;
    if (name == NULL)
      name = ctr_json_str(ann, IMAGE_REF_ANNOTATION);
    if (name != NULL && add_name(names, name, err) < 0) {
      json_decref(names);
      return ctr_wrap(err, "index.json entry %zu", i);
    }
    if (plan_manifest_tree(p, desc, 0, err) < 0) {
      json_decref(names);
      return -1;
    }
    copy = json_pack("{s:O, s:O, s:O}", "mediaType",
                     json_object_get(desc, "mediaType"), "digest",
                     json_object_get(desc, "digest"), "size",
                     json_object_get(desc, "size"));
    if (json_object_get(desc, "platform") != NULL)
      json_object_set(copy, "platform", json_object_get(desc, "platform"));
    if (import_plan_add(p, copy, names, err) < 0)
      return -1;
  }
  if (p->n == 0)
    return ctr_fail(err, 0, "index.json lists no image");
  return 0;
}

/* ---- docker-archive ------------------------------------------------------ */

/* The sha256 of a blob's decompressed bytes. */
static int uncompressed_digest(int fd, char out[CTR_DIGEST_LEN + 1],
                               ctr_err *err) {
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  ctr_sha256 *h = ctr_sha256_new();
  const void *buf;
  size_t len;
  la_int64_t off;
  int r = ARCHIVE_FATAL;
  if (a == NULL || h == NULL) {
    archive_read_free(a);
    ctr_sha256_free(h);
    return ctr_fail(err, ENOMEM, "hash layer");
  }
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  if (archive_read_open_fd(a, fd, 1 << 20) == ARCHIVE_OK &&
      archive_read_next_header(a, &e) == ARCHIVE_OK)
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
      ctr_sha256_update(h, buf, len);
  if (r != ARCHIVE_EOF) {
    ctr_fail(err, 0, "decompress layer: %s", archive_error_string(a));
    archive_read_free(a);
    ctr_sha256_free(h);
    return -1;
  }
  archive_read_free(a);
  ctr_sha256_final(h, out);
  return 0;
}

/* Docker archives carry layers as plain tar, sometimes compressed: the
 * media type follows the bytes, and the diff_id must match either way. */
static int docker_layer(struct import_plan *p, const char *path,
                        const char *diff_id, json_t **desc, ctr_err *err) {
  struct image_blob_writer *w = NULL;
  cleanup_close int fd = -1;
  unsigned char magic[4] = {0};
  const char *mt = MT_OCI_LAYER;
  char got[CTR_DIGEST_LEN + 1];

  if (source_blob(&p->src, path, NULL, -1, &w, err) < 0 ||
      source_need(&p->src, w, err) < 0)
    return -1;
  if (strcmp(image_blob_digest(w), diff_id) != 0) {
    fd = image_blob_reopen(w, err);
    if (fd < 0)
      return -1;
    if (pread(fd, magic, sizeof(magic), 0) < 0)
      return ctr_fail(err, errno, "read %s", path);
    if (magic[0] == 0x1f && magic[1] == 0x8b)
      mt = MT_OCI_LAYER_GZIP;
    else if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
             magic[3] == 0xfd)
      mt = MT_OCI_LAYER_ZSTD;
    else
      return ctr_fail(err, 0, "layer %s: digest %s does not match diff_id %s",
                      path, image_blob_digest(w), diff_id);
    if (uncompressed_digest(fd, got, err) < 0)
      return ctr_wrap(err, "layer %s", path);
    if (strcmp(got, diff_id) != 0)
      return ctr_fail(err, 0, "layer %s: diff_id mismatch (got %s, config says %s)",
                      path, got, diff_id);
  }
  *desc = json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
                    image_blob_digest(w), "size",
                    (json_int_t)image_blob_size(w));
  return *desc ? 0 : ctr_fail(err, ENOMEM, "describe layer");
}

static int plan_docker_entry(struct import_plan *p, const json_t *entry,
                             size_t idx, ctr_err *err) {
  const char *cpath = ctr_json_str(entry, "Config");
  json_t *layers = json_object_get(entry, "Layers");
  json_t *tags = json_object_get(entry, "RepoTags");
  struct image_blob_writer *cw = NULL;
  cleanup_free char *cbuf = NULL;
  cleanup_json json_t *config = NULL;
  cleanup_json json_t *manifest = NULL;
  json_t *diff_ids, *mlayers, *desc = NULL, *names, *v;
  size_t clen = 0, i;

  if (cpath == NULL || !json_is_array(layers))
    return ctr_fail(err, 0, "manifest.json entry %zu: needs Config and Layers",
                    idx);
  if (tags != NULL && !json_is_null(tags) && !json_is_array(tags))
    return ctr_fail(err, 0, "manifest.json entry %zu: RepoTags is not an array",
                    idx);
  if (source_blob(&p->src, cpath, NULL, -1, &cw, err) < 0 ||
      source_need(&p->src, cw, err) < 0 ||
      source_read(&p->src, cpath, IMAGE_JSON_MAX, &cbuf, &clen, err) < 0 ||
      image_config_parse(cbuf, clen, NULL, &config, err) < 0)
    return ctr_wrap(err, "config %s", cpath);
  diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
  if (json_array_size(diff_ids) != json_array_size(layers))
    return ctr_fail(err, 0, "config %s: %zu diff_ids for %zu layers", cpath,
                    json_array_size(diff_ids), json_array_size(layers));
  mlayers = json_array();
  manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2,
                       "mediaType", MT_OCI_MANIFEST, "config", "mediaType",
                       MT_OCI_CONFIG, "digest", image_blob_digest(cw), "size",
                       (json_int_t)image_blob_size(cw), "layers", mlayers);
  if (manifest == NULL)
    return ctr_fail(err, ENOMEM, "manifest");
  json_array_foreach(layers, i, v) {
    json_t *ld = NULL;
    if (!json_is_string(v))
      return ctr_fail(err, 0, "manifest.json entry %zu: layer %zu is not a path",
                      idx, i);
    if (docker_layer(p, json_string_value(v),
                     json_string_value(json_array_get(diff_ids, i)), &ld,
                     err) < 0)
      return -1;
    json_array_append_new(mlayers, ld);
  }
  if (import_plan_json_blob(p, manifest, MT_OCI_MANIFEST, &desc, err) < 0)
    return -1;
  names = json_array();
  json_array_foreach(tags, i, v) {
    if (!json_is_string(v) || add_name(names, json_string_value(v), err) < 0) {
      json_decref(names);
      json_decref(desc);
      return ctr_wrap(err, "manifest.json entry %zu: RepoTags", idx);
    }
  }
  return import_plan_add(p, desc, names, err);
}

static int plan_docker(struct import_plan *p, ctr_err *err) {
  cleanup_free char *buf = NULL;
  cleanup_json json_t *list = NULL;
  json_error_t je;
  size_t len = 0, i;
  json_t *entry;
  if (source_read(&p->src, "manifest.json", IMAGE_JSON_MAX, &buf, &len, err) < 0)
    return -1;
  if (p->src.dirfd >= 0) /* as index.json for a layout directory */
    ctr_sha256_buf(buf, len, p->src.digest);
  list = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (list == NULL)
    return ctr_fail(err, 0, "manifest.json: invalid JSON at line %d: %s",
                    je.line, je.text);
  if (!json_is_array(list) || json_array_size(list) == 0)
    return ctr_fail(err, 0, "manifest.json: not a non-empty array");
  json_array_foreach(list, i, entry) {
    if (!json_is_object(entry))
      return ctr_fail(err, 0, "manifest.json entry %zu: not an object", i);
    if (plan_docker_entry(p, entry, i, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- root filesystem tarballs ------------------------------------------ */

json_t *import_new_config(const char *diff_id, const char *created,
                          const char *created_by, const json_t *cfg) {
  struct image_platform host;
  image_platform_host(&host);
  json_t *c = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:[s]}, s:[{s:s, s:s}]}",
                        "created", created, "architecture", host.arch, "os",
                        host.os, "config", cfg ? json_deep_copy(cfg) : json_object(), "rootfs",
                        "type", "layers", "diff_ids", diff_id, "history",
                        "created", created, "created_by", created_by);
  if (c != NULL && host.variant != NULL)
    json_object_set_new(c, "variant", json_string(host.variant));
  return c;
}

static int plan_one_layer(struct import_plan *p, struct image_blob_writer *lw,
                          const char *diff_id, json_t *config, json_t *names,
                          ctr_err *err) {
  json_t *cdesc = NULL, *mdesc = NULL;
  cleanup_json json_t *manifest = NULL;
  json_t *ldesc = json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_LAYER_GZIP,
                            "digest", image_blob_digest(lw), "size",
                            (json_int_t)image_blob_size(lw));
  (void)diff_id;
  if (source_adopt(&p->src, lw, err) < 0) {
    json_decref(ldesc);
    json_decref(names);
    return -1;
  }
  if (ldesc == NULL ||
      import_plan_json_blob(p, config, MT_OCI_CONFIG, &cdesc, err) < 0) {
    json_decref(ldesc);
    json_decref(names);
    return ldesc ? -1 : ctr_fail(err, ENOMEM, "layer");
  }
  manifest = json_pack("{s:i, s:s, s:o, s:[o]}", "schemaVersion", 2,
                       "mediaType", MT_OCI_MANIFEST, "config", cdesc, "layers",
                       ldesc);
  if (manifest == NULL ||
      import_plan_json_blob(p, manifest, MT_OCI_MANIFEST, &mdesc, err) < 0) {
    json_decref(names);
    return manifest ? -1 : ctr_fail(err, ENOMEM, "manifest");
  }
  return import_plan_add(p, mdesc, names, err);
}

static int plan_rootfs(struct import_plan *p, int fd, const char *what,
                       const char *name, ctr_err *err) {
  struct image_blob_writer *lw = NULL;
  char diff_id[CTR_DIGEST_LEN + 1], created[64];
  cleanup_free char *by = NULL;
  cleanup_free char *copy = strdup(what);
  cleanup_json json_t *config = NULL;
  json_t *names = json_array();

  if (copy == NULL || names == NULL) {
    json_decref(names);
    return ctr_fail(err, ENOMEM, "import");
  }
  if (name != NULL && add_name(names, name, err) < 0) {
    json_decref(names);
    return -1;
  }
  if (layer_from_tar_fd(p->src.s, fd, what, &lw, diff_id, p->src.digest, err) < 0) {
    json_decref(names);
    return -1;
  }
  ctr_now_rfc3339(created, sizeof(created));
  if (asprintf(&by, "ctr-image import --rootfs %s", basename(copy)) < 0)
    by = NULL;
  config = import_new_config(diff_id, created, by ? by : "ctr-image import",
                             NULL);
  if (config == NULL) {
    image_blob_abort(lw);
    json_decref(names);
    return ctr_fail(err, ENOMEM, "config");
  }
  return plan_one_layer(p, lw, diff_id, config, names, err);
}

int image_from_host_layer(struct import_plan *p, struct image_blob_writer *lw,
                          const char *diff_id, json_t *config, json_t *names,
                          ctr_err *err) {
  return plan_one_layer(p, lw, diff_id, config, names, err);
}

/* ---- the verb ----------------------------------------------------------- */

static int open_input(const char *path, bool *is_dir, ctr_err *err) {
  struct stat st;
  int fd;
  *is_dir = false;
  if (strcmp(path, "-") == 0) {
    if (isatty(STDIN_FILENO))
      return ctr_usage(err, "refusing to read an archive from a terminal");
    return dup(STDIN_FILENO);
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "%s", path);
  if (fstat(fd, &st) < 0) {
    close(fd);
    return ctr_fail(err, errno, "%s", path);
  }
  if (S_ISDIR(st.st_mode))
    *is_dir = true;
  return fd;
}

static int plan_detect(struct import_plan *p, const char *what, ctr_err *err) {
  if (source_has(&p->src, "oci-layout") && source_has(&p->src, "index.json"))
    return plan_oci(p, err);
  if (source_has(&p->src, "manifest.json"))
    return plan_docker(p, err);
  return ctr_fail(err, 0,
                  "%s: not an image archive (no oci-layout or manifest.json); "
                  "for a root filesystem tarball use --rootfs",
                  what);
}

int image_import(struct image_store *s, const char *path,
                 const struct image_import_opts *o,
                 struct image_imported **out, size_t *nout, ctr_err *err) {
  struct import_plan p;
  cleanup_close int fd = -1;
  bool is_dir = false;
  int ret = -1;

  memset(&p, 0, sizeof(p));
  source_init_empty(&p.src, s, path ? path : "-");
  if (o->from_host != NULL) {
    if (image_from_host(&p, o->from_host, o->name, err) < 0)
      goto out;
  } else {
    fd = open_input(path, &is_dir, err);
    if (fd < 0)
      goto out;
    if (o->rootfs) {
      if (is_dir) {
        ctr_fail(err, EISDIR, "%s", path);
        goto out;
      }
      if (plan_rootfs(&p, fd, path, o->name, err) < 0)
        goto out;
    } else {
      int r = is_dir ? source_open_dir(&p.src, s, path, err)
                     : source_open_archive(&p.src, s, fd, path, err);
      if (r < 0 || plan_detect(&p, path, err) < 0)
        goto out;
      if (o->name != NULL) {
        json_t *names = json_array();
        if (p.n != 1) {
          json_decref(names);
          ctr_usage(err, "--name needs an archive with one image; %s has %zu",
                    path, p.n);
          goto out;
        }
        if (add_name(names, o->name, err) < 0) {
          json_decref(names);
          goto out;
        }
        json_decref(p.imgs[0].names);
        p.imgs[0].names = names;
      }
    }
  }
  ret = import_plan_commit(&p, o->force, out, nout, err);
  for (size_t i = 0; ret == 0 && i < *nout; i++)
    memcpy((*out)[i].source_digest, p.src.digest, sizeof(p.src.digest));
out:
  import_plan_free(&p);
  if (ret < 0 && err != NULL && *err != NULL && (*err)->exit == 2)
    return -1; /* usage errors speak for themselves */
  if (ret < 0 && path != NULL && o->from_host == NULL)
    return ctr_wrap(err, "import %s", path);
  if (ret < 0 && o->from_host != NULL)
    return ctr_wrap(err, "import --from-host %s", o->from_host);
  return ret;
}
