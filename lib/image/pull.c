/* ctr-image pull: the reference's manifest (and the platform's, from an
 * index), configs, the plan of blobs and layers, and the commit that makes
 * them visible together. The layers themselves are pull_fetch.c's. */
#define _GNU_SOURCE
#include "pull.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "gc.h"
#include "manifest.h"
#include "platform.h"
#include "pull_int.h"
#include "push.h"
#include "ref.h"
#include "unpack.h"

static const char *const accept_manifests[] = {
    "Accept: " MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST,
    NULL};

/* A manifest or index as the registry sent it. */
struct fetched {
  char *buf;
  size_t len;
  char digest[CTR_DIGEST_LEN + 1];
  char *media_type;
  json_t *doc; /* validated */
};

static void fetched_free(struct fetched *f) {
  free(f->buf);
  free(f->media_type);
  json_decref(f->doc);
  memset(f, 0, sizeof(*f));
}

/* An image of the pull: its manifest and what the plan learned. */
struct pulled_image {
  struct fetched m;
  json_t *desc; /* its descriptor, as an index would list it */
  char config[CTR_DIGEST_LEN + 1];
  char (*chain)[CTR_DIGEST_LEN + 1]; /* its layers' chain ids */
  size_t nchain;
};

/* ---- manifests ---------------------------------------------------------- */

/* What kind of document: its mediaType, else the Content-Type, else its
 * shape (OCI allows a manifest without mediaType). */
static int media_type_of(const json_t *raw, const char *content_type, char **out,
                         ctr_err *err) {
  const char *mt = ctr_json_str(raw, "mediaType");
  cleanup_free char *ct = content_type ? strndup(content_type, strcspn(content_type, "; ")) : NULL;
  json_t *sv = json_object_get(raw, "schemaVersion");
  if (json_is_integer(sv) && json_integer_value(sv) == 1)
    return ctr_fail(err, 0, "Docker schema 1 manifests are not supported");
  if (mt == NULL && ct != NULL && (image_media_is_index(ct) || image_media_is_manifest(ct)))
    mt = ct;
  if (mt == NULL)
    mt = json_object_get(raw, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
  if (!image_media_is_index(mt) && !image_media_is_manifest(mt))
    return ctr_fail(err, 0, "unsupported manifest type %s", mt);
  *out = strdup(mt);
  return *out ? 0 : ctr_fail(err, ENOMEM, "manifest");
}

/* GET <repo>/manifests/<reference>: checked against want (a digest, or
 * NULL) and want_size (-1: any), against the digest the registry says it
 * has, and validated as a manifest or index. */
static int fetch_manifest(struct pull *p, const char *reference, const char *want,
                          off_t want_size, struct fetched *f, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_json json_t *raw = NULL;
  struct registry_req q = {.path = NULL, .scope = p->scope, .headers = accept_manifests,
                           .pause_fd = -1, .max_body = IMAGE_JSON_MAX};
  struct registry_resp resp;
  int ret;

  memset(f, 0, sizeof(*f));
  if (asprintf(&path, "%s/manifests/%s", p->repo, reference) < 0)
    return ctr_fail(err, ENOMEM, "manifest");
  q.path = path;
  if (registry_do(p->reg, &q, &resp, err) < 0) {
    registry_resp_free(&resp);
    return -1;
  }
  f->buf = ctr_steal(resp.body);
  f->len = resp.len;
  ctr_sha256_buf(f->buf ? f->buf : "", f->len, f->digest);
  if (want != NULL && strcmp(want, f->digest) != 0)
    ret = ctr_fail(err, 0, "manifest %s: digest mismatch (got %s)", want, f->digest);
  else if (resp.digest != NULL && ctr_digest_valid(resp.digest) &&
           strcmp(resp.digest, f->digest) != 0)
    ret = ctr_fail(err, 0, "manifest: the registry says %s, its bytes are %s",
                   resp.digest, f->digest);
  else if (want_size >= 0 && (off_t)f->len != want_size)
    ret = ctr_fail(err, 0, "manifest %s: %zu bytes, the index says %lld", f->digest,
                   f->len, (long long)want_size);
  else if (ctr_json_parse_object(f->buf ? f->buf : "", f->len, "manifest", &raw, err) < 0 ||
           media_type_of(raw, resp.content_type, &f->media_type, err) < 0)
    ret = -1;
  else if (image_media_is_index(f->media_type))
    ret = image_index_parse(f->buf, f->len, &f->doc, err);
  else
    ret = image_manifest_parse(f->buf, f->len, &f->doc, err);
  registry_resp_free(&resp);
  if (ret < 0)
    fetched_free(f);
  return ret;
}

/* GET <repo>/blobs/<digest> of a small blob (a config) into memory. */
static int fetch_small_blob(struct pull *p, const char *digest, off_t size,
                            char **buf, size_t *len, ctr_err *err) {
  cleanup_free char *path = NULL;
  struct registry_req q = {.scope = p->scope, .pause_fd = -1, .max_body = IMAGE_JSON_MAX};
  struct registry_resp resp;
  char got[CTR_DIGEST_LEN + 1];
  if (asprintf(&path, "%s/blobs/%s", p->repo, digest) < 0)
    return ctr_fail(err, ENOMEM, "blob");
  q.path = path;
  if (registry_do(p->reg, &q, &resp, err) < 0) {
    registry_resp_free(&resp);
    return ctr_wrap(err, "config %s", digest);
  }
  ctr_sha256_buf(resp.body ? resp.body : "", resp.len, got);
  if (strcmp(got, digest) != 0 || (off_t)resp.len != size) {
    registry_resp_free(&resp);
    return ctr_fail(err, 0, "config %s: digest mismatch (got %s, %zu bytes)", digest,
                    got, resp.len);
  }
  *buf = ctr_steal(resp.body);
  *len = resp.len;
  registry_resp_free(&resp);
  return 0;
}

/* Stage a manifest, index or config for the commit, unless the store has
 * it. */
static int stage_bytes(struct pull *p, const char *buf, size_t len,
                       const char *digest, ctr_err *err) {
  struct image_blob_writer *w = NULL;
  if (image_blob_exists(&p->s, digest))
    return 0;
  if (image_blob_begin(&p->s, &w, err) < 0)
    return -1;
  if (image_blob_write(w, buf, len, err) < 0 ||
      image_blob_finish(w, digest, (off_t)len, err) < 0) {
    image_blob_abort(w);
    return -1;
  }
  if (source_adopt(&p->plan.src, w, err) < 0)
    return -1;
  return source_need(&p->plan.src, w, err);
}

/* ---- the plan ----------------------------------------------------------- */

/* "blob diff_id" pairs the store's images vouch for: each was checked
 * when it came in, so a layer already unpacked needs no new check. */
static bool vouched(struct pull *p, const char *blob, const char *diff_id) {
  cleanup_free char *key = NULL;
  if (p->known == NULL) {
    cleanup_json json_t *index = NULL;
    json_t *d;
    size_t i;
    ctr_err e = NULL;
    p->known = json_object();
    if (p->known == NULL || image_index_load(&p->s, &index, &e) < 0) {
      ctr_err_free(&e);
      return false;
    }
    json_array_foreach(json_object_get(index, "manifests"), i, d) {
      struct image img = {0};
      const json_t *ids, *l;
      size_t k;
      if (image_load(&p->s, d, &img, &e) == 0) {
        ids = json_object_get(json_object_get(img.config, "rootfs"), "diff_ids");
        json_array_foreach(json_object_get(img.manifest, "layers"), k, l) {
          char *pair = NULL;
          if (asprintf(&pair, "%s %s", ctr_json_str(l, "digest"),
                       json_string_value(json_array_get(ids, k))) >= 0)
            json_object_set_new(p->known, pair, json_true());
          free(pair);
        }
      }
      ctr_err_free(&e);
      image_free(&img);
    }
  }
  if (asprintf(&key, "%s %s", blob, diff_id) < 0)
    return false;
  return json_object_get(p->known, key) != NULL;
}

static struct pull_blob *find_blob(struct pull *p, const char *digest) {
  for (size_t i = 0; i < p->nblobs; i++)
    if (strcmp(p->blobs[i]->digest, digest) == 0)
      return p->blobs[i];
  return NULL;
}

static int add_blob(struct pull *p, const json_t *desc, struct pull_blob **out,
                    ctr_err *err) {
  const char *digest = ctr_json_str(desc, "digest");
  off_t size = (off_t)json_integer_value(json_object_get(desc, "size"));
  struct pull_blob *b = find_blob(p, digest), **nv;
  if (b != NULL) {
    if (b->size != size)
      return ctr_fail(err, 0, "layer %s: sizes %lld and %lld in the manifests",
                      digest, (long long)b->size, (long long)size);
    *out = b;
    return 0;
  }
  nv = realloc(p->blobs, (p->nblobs + 1) * sizeof(*nv));
  b = calloc(1, sizeof(*b));
  if (nv == NULL || b == NULL) {
    free(b);
    if (nv != NULL)
      p->blobs = nv;
    return ctr_fail(err, ENOMEM, "plan");
  }
  p->blobs = nv;
  snprintf(b->digest, sizeof(b->digest), "%s", digest);
  b->size = size;
  b->p = p;
  b->partial_fd = b->resume_fd = b->sock = -1;
  b->in_store = image_blob_exists(&p->s, digest);
  b->line = pull_progress_add(p->progress, digest, (uint64_t)size,
                              b->in_store ? "Already exists" : "Waiting");
  p->blobs[p->nblobs++] = b;
  *out = b;
  return 0;
}

static bool layer_dir_present(struct pull *p, const char *hex) {
  struct stat st;
  return fstatat(p->s.layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode);
}

/* Layer i of an image: which blob, and whether layers/<chain hex> must be
 * made (or, present, checked: an image cannot borrow an unpacked layer by
 * claiming its diff_id). */
static int plan_layer(struct pull *p, const json_t *desc, const char *diff_id,
                      const char *chain, ctr_err *err) {
  struct pull_blob *b = NULL;
  struct pull_layer *l, **nv;
  const char *hex = ctr_digest_hex(chain);
  bool present = layer_dir_present(p, hex);
  if (add_blob(p, desc, &b, err) < 0)
    return -1;
  if (present && b->in_store && vouched(p, b->digest, diff_id))
    return 0;
  for (size_t i = 0; i < p->nlayers; i++)
    if (strcmp(p->layers[i]->hex, hex) == 0)
      return 0;
  nv = realloc(p->layers, (p->nlayers + 1) * sizeof(*nv));
  l = calloc(1, sizeof(*l));
  if (nv == NULL || l == NULL) {
    free(l);
    if (nv != NULL)
      p->layers = nv;
    return ctr_fail(err, ENOMEM, "plan");
  }
  p->layers = nv;
  snprintf(l->hex, sizeof(l->hex), "%s", hex);
  snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_id);
  l->blob = b;
  l->src = -1;
  l->p = p;
  p->layers[p->nlayers++] = l;
  if (!b->in_store && b->stream == NULL)
    b->stream = l; /* unpacked from the download itself */
  return 0;
}

/* An image pulled by a reference to its manifest: is it for the platform
 * asked for? Asked explicitly, another platform is an error; by default,
 * a warning, as docker gives. */
static int check_platform(struct pull *p, const json_t *config,
                          const struct image_platform *want, ctr_err *err) {
  char have[128], wanted[128];
  if (image_platform_matches(config, want))
    return 0;
  image_platform_format_json(config, have, sizeof(have));
  image_platform_format(want, wanted, sizeof(wanted));
  if (p->o->platform != NULL)
    return ctr_fail(err, 0, "the image is for %s, not %s", have, wanted);
  ctr_warn("%s: the image is for %s, not this machine (%s)", p->ref, have, wanted);
  return 0;
}

static int plan_image(struct pull *p, struct pulled_image *img,
                      const struct image_platform *check, ctr_err *err) {
  const json_t *cdesc = json_object_get(img->m.doc, "config"), *layers, *l;
  const char *cd = ctr_json_str(cdesc, "digest");
  cleanup_free char *cbuf = NULL;
  cleanup_json json_t *config = NULL;
  char(*chain)[CTR_DIGEST_LEN + 1] = NULL;
  size_t clen = 0, n = 0, i;
  const json_t *ids;
  int ret = -1;

  snprintf(img->config, sizeof(img->config), "%s", cd);
  if (image_blob_exists(&p->s, cd)) {
    if (image_blob_read(&p->s, cd, IMAGE_JSON_MAX, &cbuf, &clen, err) < 0)
      return -1;
  } else if (fetch_small_blob(p, cd, (off_t)json_integer_value(json_object_get(cdesc, "size")),
                              &cbuf, &clen, err) < 0) {
    return -1;
  }
  if (image_config_parse(cbuf, clen, img->m.doc, &config, err) < 0)
    return ctr_wrap(err, "config %s", cd);
  if (check != NULL && check_platform(p, config, check, err) < 0)
    return -1;
  if (stage_bytes(p, cbuf, clen, cd, err) < 0 ||
      stage_bytes(p, img->m.buf, img->m.len, img->m.digest, err) < 0 ||
      image_chain_ids(config, &chain, &n, err) < 0)
    return -1;
  layers = json_object_get(img->m.doc, "layers");
  ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
  json_array_foreach(layers, i, l) {
    if (plan_layer(p, l, json_string_value(json_array_get(ids, i)), chain[i], err) < 0)
      goto out;
  }
  img->chain = ctr_steal(chain);
  img->nchain = n;
  ret = 0;
out:
  free(chain);
  return ret;
}

/* ---- which images -------------------------------------------------------- */

static json_t *descriptor(const struct fetched *f, const json_t *platform) {
  json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", f->media_type, "digest",
                        f->digest, "size", (json_int_t)f->len);
  if (d != NULL && platform != NULL)
    json_object_set(d, "platform", (json_t *)platform);
  return d;
}

static int annotate_index(json_t *desc, const char *index_digest, ctr_err *err) {
  json_t *ann = json_object_get(desc, "annotations");
  if (!json_is_object(ann) &&
      json_object_set_new(desc, "annotations", ann = json_object()) < 0)
    return ctr_fail(err, ENOMEM, "pull");
  if (json_object_set_new(ann, IMAGE_INDEX_DIGEST_ANNOTATION, json_string(index_digest)) < 0)
    return ctr_fail(err, ENOMEM, "pull");
  return 0;
}

static int add_image(struct pulled_image **v, size_t *n, struct fetched *m,
                     const json_t *platform, ctr_err *err) {
  struct pulled_image *nv = realloc(*v, (*n + 1) * sizeof(*nv));
  if (nv == NULL)
    return ctr_fail(err, ENOMEM, "pull");
  *v = nv;
  memset(&nv[*n], 0, sizeof(nv[*n]));
  nv[*n].m = *m;
  memset(m, 0, sizeof(*m));
  nv[*n].desc = descriptor(&nv[*n].m, platform);
  (*n)++;
  return nv[*n - 1].desc ? 0 : ctr_fail(err, ENOMEM, "pull");
}

/* The manifests of an index to pull: the platform's, or every image's. */
static int pick_from_index(struct pull *p, const struct fetched *top,
                           const struct image_platform *want,
                           struct pulled_image **imgs, size_t *n, ctr_err *err) {
  const json_t *manifests = json_object_get(top->doc, "manifests"), *d;
  size_t i;
  if (!p->o->all_platforms) {
    struct fetched m;
    if (image_platform_select(top->doc, want, &d, err) < 0 ||
        fetch_manifest(p, ctr_json_str(d, "digest"), ctr_json_str(d, "digest"),
                       (off_t)json_integer_value(json_object_get(d, "size")), &m, err) < 0)
      return -1;
    if (!image_media_is_manifest(m.media_type)) {
      fetched_free(&m);
      return ctr_fail(err, 0, "an index inside an index is not supported");
    }
    return add_image(imgs, n, &m, json_object_get(d, "platform"), err);
  }
  json_array_foreach(manifests, i, d) {
    struct fetched m;
    char plat[128];
    bool dup = false;
    image_platform_format_json(json_object_get(d, "platform"), plat, sizeof(plat));
    /* Attestations ride along in buildkit's indexes; they are no image. */
    if (!image_media_is_manifest(ctr_json_str(d, "mediaType")) ||
        strcmp(plat, "unknown/unknown") == 0)
      continue;
    for (size_t k = 0; k < *n; k++)
      dup |= strcmp((*imgs)[k].m.digest, ctr_json_str(d, "digest")) == 0;
    if (dup)
      continue;
    if (fetch_manifest(p, ctr_json_str(d, "digest"), ctr_json_str(d, "digest"),
                       (off_t)json_integer_value(json_object_get(d, "size")), &m, err) < 0)
      return ctr_wrap(err, "%s", plat);
    if (!image_media_is_manifest(m.media_type)) {
      fetched_free(&m);
      return ctr_fail(err, 0, "%s: an index inside an index is not supported", plat);
    }
    if (add_image(imgs, n, &m, json_object_get(d, "platform"), err) < 0)
      return -1;
  }
  if (*n == 0)
    return ctr_fail(err, 0, "the index lists no image");
  return 0;
}

/* ---- the commit ---------------------------------------------------------- */

struct undo {
  char **names;
  size_t n;
};

static void undo_add(struct undo *u, const char *name) {
  char **nv = realloc(u->names, (u->n + 1) * sizeof(*nv));
  if (nv == NULL)
    return;
  u->names = nv;
  if ((nv[u->n] = strdup(name)) != NULL)
    u->n++;
}

static void undo_run(int dirfd, struct undo *u, bool apply, bool dirs) {
  for (size_t i = 0; i < u->n; i++) {
    ctr_err e = NULL;
    if (apply && dirs)
      ctr_rm_rf(dirfd, u->names[i], &e);
    else if (apply)
      unlinkat(dirfd, u->names[i], 0);
    ctr_err_free(&e);
    free(u->names[i]);
  }
  free(u->names);
  memset(u, 0, sizeof(*u));
}

/* Unpacked layers into place; a directory that appeared meanwhile (a
 * concurrent unpack) wins, ours was only its check. */
static int publish_layers(struct pull *p, struct undo *u, ctr_err *err) {
  for (size_t i = 0; i < p->nlayers; i++) {
    struct pull_layer *l = p->layers[i];
    ctr_err e = NULL;
    if (l->tmp == NULL)
      continue;
    if (renameat2(p->s.layers_fd, l->tmp, p->s.layers_fd, l->hex, RENAME_NOREPLACE) == 0) {
      undo_add(u, l->hex);
    } else if (errno == EEXIST) {
      ctr_rm_rf(p->s.layers_fd, l->tmp, &e);
      ctr_err_free(&e);
    } else {
      return ctr_fail(err, errno, "layer %s: rename into place", l->hex);
    }
    free(l->tmp);
    l->tmp = NULL;
  }
  return 0;
}

static int publish_blobs(struct pull *p, struct undo *u, ctr_err *err) {
  for (size_t i = 0; i < p->plan.src.n; i++) {
    struct image_blob_writer *w = p->plan.src.files[i].w;
    if (w == NULL)
      continue;
    if (!image_blob_exists(&p->s, image_blob_digest(w)))
      undo_add(u, ctr_digest_hex(image_blob_digest(w)));
    if (source_publish(&p->plan.src, w, err) < 0)
      return -1;
  }
  return ctr_fsync_dir(p->s.blobs_fd, err);
}

/* A name that pointed at the same manifest already keeps its
 * descriptor (image_index_set_name changes nothing then), but the index
 * it came from may be another now, or none: the name's entry follows the
 * pull's. */
static void sync_index_annotation(json_t *index, const char *name, const json_t *desc) {
  const char *want = ctr_json_str(json_object_get(desc, "annotations"),
                                  IMAGE_INDEX_DIGEST_ANNOTATION);
  json_t *d;
  size_t i;
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    json_t *ann = json_object_get(d, "annotations");
    const char *n = ctr_json_str(ann, IMAGE_REF_ANNOTATION), *have;
    if (n == NULL || strcmp(n, name) != 0)
      continue;
    have = ctr_json_str(ann, IMAGE_INDEX_DIGEST_ANNOTATION);
    if (want == NULL && have != NULL)
      json_object_del(ann, IMAGE_INDEX_DIGEST_ANNOTATION);
    else if (want != NULL && (have == NULL || strcmp(have, want) != 0))
      json_object_set_new(ann, IMAGE_INDEX_DIGEST_ANNOTATION, json_string(want));
    return;
  }
}

/* Like import_plan_commit, but the layers were unpacked (and checked)
 * while they downloaded: they are renamed into place, not extracted from
 * the blobs again. A pulled name moves to the new image, as with docker. */
static int commit(struct pull *p, ctr_err *err) {
  cleanup_close int lock = image_index_lock(&p->s, err);
  cleanup_json json_t *index = NULL;
  struct undo layers = {0}, blobs = {0};
  if (lock < 0 || image_index_load(&p->s, &index, err) < 0)
    return -1;
  if (publish_layers(p, &layers, err) < 0 || publish_blobs(p, &blobs, err) < 0)
    goto fail;
  for (size_t i = 0; i < p->plan.n; i++) {
    const json_t *desc = p->plan.imgs[i].desc, *v;
    json_t *manifests = json_object_get(index, "manifests");
    bool present = false;
    size_t k;
    json_array_foreach(p->plan.imgs[i].names, k, v) {
      if (image_index_set_name(index, json_string_value(v), desc, true, err) < 0)
        goto fail;
      sync_index_annotation(index, json_string_value(v), desc);
    }
    if (json_array_size(p->plan.imgs[i].names) > 0)
      continue;
    json_array_foreach(manifests, k, v) present |=
        strcmp(ctr_json_str(v, "digest"), ctr_json_str(desc, "digest")) == 0;
    if (!present)
      json_array_append(manifests, (json_t *)desc);
  }
  if (image_index_save(&p->s, index, err) < 0)
    goto fail;
  undo_run(p->s.layers_fd, &layers, false, true);
  undo_run(p->s.blobs_fd, &blobs, false, false);
  return 0;
fail:
  undo_run(p->s.layers_fd, &layers, true, true);
  undo_run(p->s.blobs_fd, &blobs, true, false);
  ctr_fsync_dir(p->s.blobs_fd, NULL);
  return -1;
}

/* After the commit, for later commands: each image's chain ids, so the
 * first ctr-run of it hashes nothing; and where the blobs came from, so
 * a push to this registry can mount them (push.h). Best effort. */
static void remember_pulled(struct pull *p, const struct pulled_image *imgs, size_t n) {
  const char **digests = calloc(p->nblobs + n + 1, sizeof(*digests));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    struct image img = {0};
    snprintf(img.config_digest, sizeof(img.config_digest), "%s", imgs[i].config);
    image_chain_remember(&p->s, &img, imgs[i].chain, imgs[i].nchain);
    if (digests != NULL)
      digests[k++] = imgs[i].config;
  }
  for (size_t i = 0; i < p->nblobs && digests != NULL; i++)
    digests[k++] = p->blobs[i]->digest;
  if (digests != NULL)
    image_sources_record(&p->s, p->host, p->repo, digests, k);
  free(digests);
}

/* ---- the verb ------------------------------------------------------------ */

static int open_registry(struct pull *p, const struct image_ref *r, ctr_err *err) {
  if (image_ref_registry(r, &p->host, &p->repo, err) < 0)
    return -1;
  if (asprintf(&p->scope, "repository:%s:pull", p->repo) < 0)
    return ctr_fail(err, ENOMEM, "pull");
  return auth_registry_open(p->o->authfile, p->host, p->repo, &p->o->reg, &p->reg, err);
}

static int open_store(struct pull *p, const struct ctr_paths *paths, ctr_err *err) {
  if (image_store_open(&p->s, paths, STORE_WRITE, err) < 0)
    return -1;
  p->store_open = true;
  source_init_empty(&p->plan.src, &p->s, p->ref);
  if (mkdirat(p->s.images_fd, ".partial", 0700) < 0 && errno != EEXIST)
    ctr_debug("no partial downloads: mkdir .partial: %s", strerror(errno));
  p->partial_dirfd = openat(p->s.images_fd, ".partial",
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  p->progress = pull_progress_new(p->o->quiet);
  return 0;
}

/* The config id to report: this platform's image (or --platform's). */
static void report_id(const struct fetched *top, const struct pulled_image *imgs,
                      size_t n, const struct image_platform *want,
                      struct image_pulled *out) {
  const json_t *d = NULL;
  ctr_err e = NULL;
  out->id[0] = '\0';
  if (top->media_type != NULL && image_media_is_index(top->media_type)) {
    if (image_platform_select(top->doc, want, &d, &e) < 0) {
      ctr_err_free(&e);
      return;
    }
    for (size_t i = 0; i < n; i++)
      if (strcmp(imgs[i].m.digest, ctr_json_str(d, "digest")) == 0)
        snprintf(out->id, sizeof(out->id), "%s", imgs[i].config);
    return;
  }
  if (n > 0)
    snprintf(out->id, sizeof(out->id), "%s", imgs[0].config);
}

static int pull_images(struct pull *p, const struct ctr_paths *paths,
                       const struct image_ref *r, const char *name,
                       struct image_pulled *out, ctr_err *err) {
  struct image_platform want = *p->want;
  struct fetched top = {0};
  struct pulled_image *imgs = NULL;
  size_t n = 0;
  bool is_index;
  json_t *names = NULL, *desc = NULL;
  int ret = -1;

  if (open_registry(p, r, err) < 0 ||
      fetch_manifest(p, r->digest ? r->digest : r->tag, r->digest, -1, &top, err) < 0)
    return -1;
  if (pull_trust_check(p, paths, top.digest, err) < 0) {
    fetched_free(&top);
    return -1;
  }
  is_index = image_media_is_index(top.media_type);
  if (is_index ? pick_from_index(p, &top, &want, &imgs, &n, err) < 0
               : add_image(&imgs, &n, &top, NULL, err) < 0)
    goto out;
  if (!is_index) /* add_image took top's bytes; keep its kind for report_id */
    top.media_type = strdup(imgs[0].m.media_type);
  if (open_store(p, paths, err) < 0)
    goto out;
  for (size_t i = 0; i < n; i++)
    if (plan_image(p, &imgs[i], is_index ? NULL : &want, err) < 0)
      goto out;
  names = json_array();
  if (names == NULL || (name != NULL && json_array_append_new(names, json_string(name)) < 0)) {
    ctr_fail(err, ENOMEM, "pull");
    goto out;
  }
  if (is_index && p->o->all_platforms) {
    if (stage_bytes(p, top.buf, top.len, top.digest, err) < 0)
      goto out;
    desc = descriptor(&top, NULL);
  } else {
    /* One platform of an index: the index's signatures cover the index,
     * not this manifest, so its bytes stay to vouch for the manifest at
     * every later check (gc.h). */
    if (is_index && (stage_bytes(p, top.buf, top.len, top.digest, err) < 0 ||
                     annotate_index(imgs[0].desc, top.digest, err) < 0))
      goto out;
    desc = json_incref(imgs[0].desc);
  }
  if (desc == NULL || import_plan_add(&p->plan, ctr_steal(desc), ctr_steal(names), err) < 0)
    goto out;
  pull_trust_note_store(p, name, p->plan.imgs[0].desc);
  if (pull_fetch_layers(p, err) < 0 || commit(p, err) < 0)
    goto out;
  pull_partials_done(p);
  remember_pulled(p, imgs, n);
  snprintf(out->digest, sizeof(out->digest), "%s",
           ctr_json_str(p->plan.imgs[0].desc, "digest"));
  report_id(&top, imgs, n, &want, out);
  pull_trust_commit(p, paths, name, out->digest);
  ret = 0;
out:
  if (ret < 0)
    pull_layers_discard(p);
  json_decref(names);
  json_decref(desc);
  for (size_t i = 0; i < n; i++) {
    fetched_free(&imgs[i].m);
    json_decref(imgs[i].desc);
    free(imgs[i].chain);
  }
  free(imgs);
  fetched_free(&top);
  return ret;
}

static void pull_free(struct pull *p) {
  pull_trust_free(p);
  for (size_t i = 0; i < p->nlayers; i++) {
    if (p->layers[i]->src >= 0)
      close(p->layers[i]->src);
    ctr_err_free(&p->layers[i]->err);
    free(p->layers[i]->tmp);
    free(p->layers[i]);
  }
  for (size_t i = 0; i < p->nblobs; i++)
    pull_blob_free(p->blobs[i]);
  free(p->layers);
  free(p->blobs);
  pull_progress_free(p->progress);
  if (p->store_open)
    import_plan_free(&p->plan);
  json_decref(p->known);
  if (p->partial_dirfd >= 0)
    close(p->partial_dirfd);
  if (p->store_open)
    image_store_close(&p->s);
  registry_close(p->reg);
  free(p->host);
  free(p->repo);
  free(p->scope);
}

int image_pull(const struct ctr_paths *paths, const char *ref,
               const struct image_pull_opts *o, struct image_pulled *out,
               ctr_err *err) {
  struct pull p = {.o = o, .ref = ref, .partial_dirfd = -1};
  struct image_ref r;
  cleanup_free char *name = NULL;
  int ret;
  struct image_platform want;
  char pbuf[256];
  memset(out, 0, sizeof(*out));
  /* Bad usage says so itself, before anything is asked of anyone. */
  if (o->platform != NULL) {
    if (image_platform_parse(o->platform, &want, pbuf, sizeof(pbuf), err) < 0)
      return -1;
  } else {
    image_platform_host(&want);
  }
  p.want = &want;
  if (image_ref_parse(ref, &r, err) < 0)
    return -1;
  name = image_ref_name(&r);
  ret = pull_images(&p, paths, &r, name, out, err);
  image_ref_free(&r);
  pull_free(&p);
  if (ret < 0)
    return ctr_wrap(err, "pull %s", ref);
  out->name = ctr_steal(name);
  return 0;
}

void image_pulled_free(struct image_pulled *p) {
  free(p->name);
  p->name = NULL;
}
