/* Validation of the JSON documents an image is made of: manifests (OCI and
 * Docker schema 2), configs and indexes. Everything read from outside goes
 * through these before any field is trusted. */
#ifndef CTR_IMAGE_MANIFEST_H
#define CTR_IMAGE_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

enum layer_compression { LAYER_TAR, LAYER_GZIP, LAYER_ZSTD };

/* Check a descriptor: mediaType string, digest valid, size >= 0. */
int image_descriptor_check(const json_t *desc, const char *what, ctr_err *err);
/* Parse and validate a manifest; *out gets a new reference. */
int image_manifest_parse(const char *buf, size_t len, json_t **out,
                         ctr_err *err);
/* Parse and validate a config; with a manifest, the diff_ids must match
 * its layer count. */
int image_config_parse(const char *buf, size_t len, const json_t *manifest,
                       json_t **out, ctr_err *err);
/* Parse and validate an index (OCI index or Docker manifest list). */
int image_index_parse(const char *buf, size_t len, json_t **out, ctr_err *err);
/* Classify a layer media type; -1 with an error for unknown ones. */
int image_layer_compression(const char *media_type, enum layer_compression *c,
                            ctr_err *err);
bool image_media_is_manifest(const char *mt);
bool image_media_is_index(const char *mt);

#endif
