/* ctr-image push: which image, where to, and what it is made of (its
 * manifests and blobs, all read from the store and checked there before
 * anything is sent). The registry's side is push_upload.c's. */
#define _GNU_SOURCE
#include "push.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"
#include "manifest.h"
#include "pull_int.h"
#include "push_int.h"
#include "ref.h"

/* ---- where to ----------------------------------------------------------- */

/* Does the reference begin with a registry host, as Docker tells one
 * ("host.domain/", "host:port/", "localhost/")? */
static bool names_registry(const char *ref) {
  size_t n = strcspn(ref, "/");
  if (ref[n] != '/')
    return false;
  return memchr(ref, '.', n) != NULL || memchr(ref, ':', n) != NULL ||
         memchr(ref, '[', n) != NULL || (n == 9 && strncmp(ref, "localhost", 9) == 0);
}

static int parse_dest(struct push *p, const char *dest, const char *top_digest,
                      ctr_err *err) {
  struct image_ref r;
  int ret = 0;
  if (!names_registry(dest))
    return ctr_usage(err, "%s names no registry (Docker would send it to "
                          "docker.io); write the registry, e.g. "
                          "127.0.0.1:5000/%s, or docker.io/... for Docker Hub",
                     dest, dest);
  if (image_ref_parse(dest, &r, err) < 0)
    return -1;
  if (r.digest != NULL && strcmp(r.digest, top_digest) != 0)
    ret = ctr_fail(err, 0, "the image's digest is %s, not %s", top_digest, r.digest);
  else if (image_ref_registry(&r, &p->host, &p->repo, err) < 0)
    ret = -1;
  else if ((p->reference = strdup(r.tag ? r.tag : r.digest)) == NULL ||
           asprintf(&p->scope, "repository:%s:pull,push", p->repo) < 0)
    ret = ctr_fail(err, ENOMEM, "push");
  image_ref_free(&r);
  return ret;
}

/* ---- which image -------------------------------------------------------- */

/* The index.json entry for name: the one with that name (whatever it is,
 * even an index without this machine's platform), else whatever
 * image_resolve finds (a digest, an ID prefix). *by_name tells which. */
static int find_image(struct push *p, const char *name, json_t **desc,
                      bool *by_name, ctr_err *err) {
  cleanup_json json_t *index = NULL;
  cleanup_free char *want = NULL;
  struct image_ref r;
  struct image img = {0};
  ctr_err perr = NULL;
  json_t *d;
  size_t i;
  *by_name = false;
  if (image_index_load(&p->s, &index, err) < 0)
    return -1;
  if (image_ref_parse(name, &r, &perr) == 0) {
    want = image_ref_name(&r);
    image_ref_free(&r);
  }
  ctr_err_free(&perr);
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    const char *n = ctr_json_str(json_object_get(d, "annotations"), IMAGE_REF_ANNOTATION);
    if (want != NULL && n != NULL && strcmp(n, want) == 0) {
      *desc = json_incref(d);
      *by_name = true;
      return 0;
    }
  }
  if (image_resolve(&p->s, name, &img, err) < 0)
    return -1;
  *desc = ctr_steal(img.desc);
  image_free(&img);
  return 0;
}

/* ---- what it is made of ------------------------------------------------- */

static int add_blob(struct push *p, const json_t *desc, const char *kind,
                    ctr_err *err) {
  const char *digest = ctr_json_str(desc, "digest");
  off_t size = (off_t)json_integer_value(json_object_get(desc, "size"));
  struct push_blob *nv, *b;
  struct stat st;
  for (size_t i = 0; i < p->nblobs; i++)
    if (strcmp(p->blobs[i].digest, digest) == 0)
      return 0;
  if (!ctr_digest_valid(digest) ||
      fstatat(p->s.blobs_fd, ctr_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !S_ISREG(st.st_mode))
    return ctr_fail(err, 0, "%s %s is not in the store", kind, digest ? digest : "?");
  if (st.st_size != size)
    return ctr_fail(err, 0, "%s %s: %lld bytes in the store, the manifest says %lld",
                    kind, digest, (long long)st.st_size, (long long)size);
  nv = realloc(p->blobs, (p->nblobs + 1) * sizeof(*nv));
  if (nv == NULL)
    return ctr_fail(err, ENOMEM, "push");
  p->blobs = nv;
  b = &p->blobs[p->nblobs++];
  memset(b, 0, sizeof(*b));
  snprintf(b->digest, sizeof(b->digest), "%s", digest);
  b->size = size;
  b->kind = kind;
  b->fd = -1;
  return 0;
}

/* Read a manifest or index from the store (image_blob_read checks its
 * digest) and name its type: the document's own mediaType, else the
 * descriptor's. */
static int load_doc(struct push *p, const json_t *desc, struct push_manifest *m,
                    json_t **doc, ctr_err *err) {
  const char *digest = ctr_json_str(desc, "digest");
  const char *mt = ctr_json_str(desc, "mediaType");
  const char *own;
  int ret;
  memset(m, 0, sizeof(*m));
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "invalid digest %s", digest ? digest : "(none)");
  snprintf(m->digest, sizeof(m->digest), "%s", digest);
  if (image_blob_read(&p->s, digest, IMAGE_JSON_MAX, &m->buf, &m->len, err) < 0)
    return -1;
  ret = image_media_is_index(mt) ? image_index_parse(m->buf, m->len, doc, err)
                                 : image_manifest_parse(m->buf, m->len, doc, err);
  if (ret < 0)
    return ctr_wrap(err, "%s", digest);
  own = ctr_json_str(*doc, "mediaType");
  m->media_type = strdup(own ? own : mt ? mt : MT_OCI_MANIFEST);
  return m->media_type ? 0 : ctr_fail(err, ENOMEM, "push");
}

static int plan_manifest(struct push *p, const json_t *desc, struct push_manifest *m,
                         ctr_err *err) {
  cleanup_json json_t *doc = NULL;
  const json_t *l;
  size_t i;
  if (load_doc(p, desc, m, &doc, err) < 0)
    return -1;
  if (!image_media_is_manifest(m->media_type))
    return ctr_fail(err, 0, "%s: unsupported media type %s", m->digest, m->media_type);
  if (add_blob(p, json_object_get(doc, "config"), "config", err) < 0)
    return -1;
  json_array_foreach(json_object_get(doc, "layers"), i, l) {
    if (add_blob(p, l, "layer", err) < 0)
      return -1;
  }
  return 0;
}

/* An index: every manifest it lists must be in the store (an image
 * pulled with --all-platforms has them all), pushed before it. */
static int plan_index(struct push *p, const json_t *desc, ctr_err *err) {
  cleanup_json json_t *doc = NULL;
  const json_t *d;
  size_t i, n;
  if (load_doc(p, desc, &p->top, &doc, err) < 0)
    return -1;
  n = json_array_size(json_object_get(doc, "manifests"));
  p->children = calloc(n ? n : 1, sizeof(*p->children));
  if (p->children == NULL)
    return ctr_fail(err, ENOMEM, "push");
  json_array_foreach(json_object_get(doc, "manifests"), i, d) {
    char plat[128];
    const char *digest = ctr_json_str(d, "digest");
    image_platform_format_json(json_object_get(d, "platform"), plat, sizeof(plat));
    if (!image_media_is_manifest(ctr_json_str(d, "mediaType")))
      return ctr_fail(err, 0, "index %s: an index inside an index is not supported",
                      p->top.digest);
    if (!image_blob_exists(&p->s, digest))
      return ctr_fail(err, 0, "index %s lists %s (%s), which the store does not have",
                      p->top.digest, digest, plat);
    if (plan_manifest(p, d, &p->children[p->nchildren], err) < 0)
      return ctr_wrap(err, "%s", plat);
    p->nchildren++;
  }
  return 0;
}

static int plan(struct push *p, const json_t *desc, ctr_err *err) {
  if (image_media_is_index(ctr_json_str(desc, "mediaType")))
    return plan_index(p, desc, err);
  return plan_manifest(p, desc, &p->top, err);
}

/* ---- the verb ------------------------------------------------------------ */

/* What the registry now has where: next time, a mount. */
static void record_sources(struct push *p) {
  const char **digests = calloc(p->nblobs + 1, sizeof(*digests));
  if (digests == NULL)
    return;
  for (size_t i = 0; i < p->nblobs; i++)
    digests[i] = p->blobs[i].digest;
  image_sources_record(&p->s, p->host, p->repo, digests, p->nblobs);
  free(digests);
}

static int push_image(struct push *p, const struct ctr_paths *paths, const char *name,
                      const char *dest, ctr_err *err) {
  cleanup_json json_t *desc = NULL;
  bool by_name;
  if (image_store_open(&p->s, paths, STORE_READ, err) < 0)
    return -1;
  p->store_open = true;
  if (find_image(p, name, &desc, &by_name, err) < 0)
    return -1;
  if (dest == NULL && !by_name)
    return ctr_usage(err, "%s is not a name of the store: give the destination "
                          "(push NAME REF)", name);
  if (parse_dest(p, dest ? dest : name, ctr_json_str(desc, "digest"), err) < 0 ||
      plan(p, desc, err) < 0 || push_trust_prepare(p, paths, name, dest ? dest : name, err) < 0)
    return -1;
  p->sources = image_sources_load(&p->s);
  p->progress = pull_progress_new(p->o->quiet);
  if (auth_registry_open(p->o->authfile, p->host, p->repo, &p->o->reg, &p->reg, err) < 0 || push_send_blobs(p, err) < 0 ||
      push_send_manifests(p, err) < 0)
    return -1;
  record_sources(p);
  if (push_trust_commit(p, paths, err) < 0)
    return -1;
  return 0;
}

static void manifest_free(struct push_manifest *m) {
  free(m->media_type);
  free(m->buf);
}

static void push_free(struct push *p) {
  push_trust_free(p);
  for (size_t i = 0; i < p->nblobs; i++) {
    free(p->blobs[i].location);
    if (p->blobs[i].fd >= 0)
      close(p->blobs[i].fd);
  }
  free(p->blobs);
  for (size_t i = 0; i < p->nchildren; i++)
    manifest_free(&p->children[i]);
  free(p->children);
  manifest_free(&p->top);
  pull_progress_free(p->progress);
  json_decref(p->sources);
  registry_close(p->reg);
  if (p->store_open)
    image_store_close(&p->s);
  free(p->host);
  free(p->repo);
  free(p->reference);
  free(p->scope);
}

int image_push(const struct ctr_paths *paths, const char *name, const char *dest,
               const struct image_push_opts *o, struct image_pushed *out,
               ctr_err *err) {
  struct push p = {.o = o};
  int ret;
  memset(out, 0, sizeof(*out));
  ret = push_image(&p, paths, name, dest, err);
  if (ret == 0)
    snprintf(out->digest, sizeof(out->digest), "%s", p.top.digest);
  push_free(&p);
  if (ret < 0)
    return dest ? ctr_wrap(err, "push %s %s", name, dest) : ctr_wrap(err, "push %s", name);
  return 0;
}
