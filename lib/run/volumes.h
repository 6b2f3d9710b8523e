/* Volumes: directories under $CTR_ROOT/volumes/<name>/_data bound into
 * containers. Named ones (-v NAME:/path) live until removed; anonymous
 * ones (-v /path, or a VOLUME of the image that no -v or --tmpfs covers)
 * get a random 64-hex name, are listed in the container's state.json as
 * "anonymous_volumes", and go with `ctr-rm -v` or --rm, as docker's do.
 * A volume made for a container starts with what the image has at its
 * path, as docker copies it. */
#ifndef CTR_RUN_VOLUMES_H
#define CTR_RUN_VOLUMES_H

#include <jansson.h>

#include "core/error.h"
#include "core/paths.h"

/* n fresh anonymous volume names (64 hex digits each), as a JSON array. */
int run_volume_names(size_t n, json_t **names, ctr_err *err);

/* Before the first start: every bind source config.json names exists.
 * A host path missing is made (mkdir -p, as docker does); a volume's
 * _data that does not exist yet is made and filled with the image's
 * files at the mount's destination (resolved inside root_fd, the mounted
 * root file system). *made lists the volume names it made (for undo). */
int run_volumes_prepare(const struct ctr_paths *p, const json_t *config, int root_fd,
                        json_t *made, ctr_err *err);

/* Remove the volumes listed (names, or {"name": …} objects). */
int run_volumes_remove(const struct ctr_paths *p, const json_t *list, ctr_err *err);

#endif
