#define _GNU_SOURCE
#include "manifest.h"

#include <errno.h>
#include <string.h>

#include "core/digest.h"
#include "core/json.h"

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

bool image_media_is_manifest(const char *mt) {
  return is(mt, MT_OCI_MANIFEST) || is(mt, MT_DOCKER_MANIFEST);
}

bool image_media_is_index(const char *mt) {
  return is(mt, MT_OCI_INDEX) || is(mt, MT_DOCKER_LIST);
}

int image_layer_compression(const char *mt, enum layer_compression *c,
                            ctr_err *err) {
  static const struct {
    const char *mt;
    enum layer_compression c;
  } known[] = {
      {MT_OCI_LAYER, LAYER_TAR},
      {MT_OCI_LAYER_GZIP, LAYER_GZIP},
      {MT_OCI_LAYER_ZSTD, LAYER_ZSTD},
      {MT_DOCKER_LAYER_GZIP, LAYER_GZIP},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_TAR},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_GZIP},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_ZSTD},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_GZIP},
      {"application/vnd.docker.image.rootfs.diff.tar", LAYER_TAR},
  };
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (is(mt, known[i].mt)) {
      *c = known[i].c;
      return 0;
    }
  return ctr_fail(err, 0, "unknown layer media type %s", mt ? mt : "(none)");
}

int image_descriptor_check(const json_t *desc, const char *what, ctr_err *err) {
  json_t *size;
  const char *digest;
  if (!json_is_object(desc))
    return ctr_fail(err, 0, "%s: descriptor is not an object", what);
  if (ctr_json_str(desc, "mediaType") == NULL)
    return ctr_fail(err, 0, "%s: descriptor has no mediaType", what);
  digest = ctr_json_str(desc, "digest");
  if (!ctr_digest_valid(digest))
    return ctr_fail(err, 0, "%s: invalid digest %s", what,
                    digest ? digest : "(none)");
  size = json_object_get(desc, "size");
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return ctr_fail(err, 0, "%s %s: invalid size", what, digest);
  return 0;
}

static int check_schema(const json_t *j, const char *what, ctr_err *err) {
  json_t *v = json_object_get(j, "schemaVersion");
  if (!json_is_integer(v) || json_integer_value(v) != 2)
    return ctr_fail(err, 0, "%s: schemaVersion must be 2", what);
  return 0;
}

int image_manifest_parse(const char *buf, size_t len, json_t **out,
                         ctr_err *err) {
  json_t *j = NULL, *layers, *config;
  const char *mt;
  size_t i;
  if (ctr_json_parse_object(buf, len, "manifest", &j, err) < 0)
    return -1;
  if (check_schema(j, "manifest", err) < 0)
    goto fail;
  mt = ctr_json_str(j, "mediaType");
  if (json_object_get(j, "mediaType") != NULL && !image_media_is_manifest(mt)) {
    ctr_fail(err, 0, "manifest: unsupported media type %s",
             mt ? mt : "(not a string)");
    goto fail;
  }
  config = json_object_get(j, "config");
  if (image_descriptor_check(config, "manifest config", err) < 0)
    goto fail;
  layers = json_object_get(j, "layers");
  if (!json_is_array(layers)) {
    ctr_fail(err, 0, "manifest: layers is not an array");
    goto fail;
  }
  for (i = 0; i < json_array_size(layers); i++) {
    enum layer_compression c;
    json_t *l = json_array_get(layers, i);
    if (image_descriptor_check(l, "manifest layer", err) < 0)
      goto fail;
    if (image_layer_compression(ctr_json_str(l, "mediaType"), &c, err) < 0) {
      ctr_wrap(err, "manifest layer %s", ctr_json_str(l, "digest"));
      goto fail;
    }
  }
  *out = j;
  return 0;
fail:
  json_decref(j);
  return -1;
}

int image_config_parse(const char *buf, size_t len, const json_t *manifest,
                       json_t **out, ctr_err *err) {
  json_t *j = NULL, *rootfs, *diff_ids, *cfg;
  size_t i;
  if (ctr_json_parse_object(buf, len, "config", &j, err) < 0)
    return -1;
  rootfs = json_object_get(j, "rootfs");
  if (!json_is_object(rootfs) ||
      strcmp(ctr_json_str(rootfs, "type") ? ctr_json_str(rootfs, "type") : "",
             "layers") != 0) {
    ctr_fail(err, 0, "config: rootfs.type must be \"layers\"");
    goto fail;
  }
  diff_ids = json_object_get(rootfs, "diff_ids");
  if (!json_is_array(diff_ids)) {
    ctr_fail(err, 0, "config: rootfs.diff_ids is not an array");
    goto fail;
  }
  for (i = 0; i < json_array_size(diff_ids); i++)
    if (!ctr_digest_valid(json_string_value(json_array_get(diff_ids, i)))) {
      ctr_fail(err, 0, "config: invalid diff_id #%zu", i);
      goto fail;
    }
  if (manifest != NULL &&
      json_array_size(json_object_get(manifest, "layers")) !=
          json_array_size(diff_ids)) {
    ctr_fail(err, 0, "config: %zu diff_ids for %zu layers",
             json_array_size(diff_ids),
             json_array_size(json_object_get(manifest, "layers")));
    goto fail;
  }
  cfg = json_object_get(j, "config");
  if (cfg != NULL && !json_is_object(cfg) && !json_is_null(cfg)) {
    ctr_fail(err, 0, "config: config is not an object");
    goto fail;
  }
  if (json_object_get(j, "history") != NULL &&
      !json_is_array(json_object_get(j, "history"))) {
    ctr_fail(err, 0, "config: history is not an array");
    goto fail;
  }
  *out = j;
  return 0;
fail:
  json_decref(j);
  return -1;
}

int image_index_parse(const char *buf, size_t len, json_t **out, ctr_err *err) {
  json_t *j = NULL, *manifests;
  const char *mt;
  size_t i;
  if (ctr_json_parse_object(buf, len, "index", &j, err) < 0)
    return -1;
  if (check_schema(j, "index", err) < 0)
    goto fail;
  mt = ctr_json_str(j, "mediaType");
  if (json_object_get(j, "mediaType") != NULL && !image_media_is_index(mt)) {
    ctr_fail(err, 0, "index: unsupported media type %s",
             mt ? mt : "(not a string)");
    goto fail;
  }
  manifests = json_object_get(j, "manifests");
  if (!json_is_array(manifests)) {
    ctr_fail(err, 0, "index: manifests is not an array");
    goto fail;
  }
  for (i = 0; i < json_array_size(manifests); i++) {
    json_t *d = json_array_get(manifests, i), *ann;
    if (image_descriptor_check(d, "index entry", err) < 0)
      goto fail;
    ann = json_object_get(d, "annotations");
    if (ann != NULL && !json_is_object(ann)) {
      ctr_fail(err, 0, "index entry: annotations is not an object");
      goto fail;
    }
  }
  *out = j;
  return 0;
fail:
  json_decref(j);
  return -1;
}
