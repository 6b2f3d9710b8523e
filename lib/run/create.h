/* ctr-run create: everything up to a container ready to start — its
 * directory, the image's layers under an overlay, the user resolved in
 * the image, the seccomp profile for its capabilities, and config.json. */
#ifndef CTR_RUN_CREATE_H
#define CTR_RUN_CREATE_H

#include <jansson.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"
#include "spec.h"

int run_create(const struct ctr_paths *p, const struct run_opts *o,
               struct run_container *c, json_t **config, ctr_err *err);
/* Make sure the container's overlay is mounted (after a reboot it is not). */
int run_rootfs_mount(struct run_container *c, ctr_err *err);
/* Unmount the container's overlay; not mounted is fine. */
int run_rootfs_unmount(struct run_container *c, ctr_err *err);
/* Load config.json of a container. */
int run_config_load(struct run_container *c, json_t **config, ctr_err *err);

/* An executable named name in our own binary's directory (a build tree
 * or the bindir: the tools are installed together), or NULL. */
char *run_beside_self(const char *name);

#endif
