/* A container on disk: $CTR_ROOT/containers/<id>/, an OCI bundle plus
 * ctr's state.json. Names are unique; ids are 64 hex digits; every tool
 * finds a container by name, id or unique id prefix. */
#ifndef CTR_RUN_CONTAINER_H
#define CTR_RUN_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

struct run_container {
  char id[65];
  char *dir;     /* absolute */
  json_t *state; /* state.json */
  bool ephemeral; /* --rm: gone when it ends, so nothing is fsynced */
};

/* Make a new container directory with a fresh id and the given (or a
 * generated) name, reserved under the containers lock. state starts as
 * {"id","name","created","status":"created"}. */
int run_container_new(const struct ctr_paths *p, const char *name, bool ephemeral,
                      struct run_container *c, ctr_err *err);
/* Find by exact name, exact id, or unique id prefix. */
int run_container_find(const struct ctr_paths *p, const char *ref,
                       struct run_container *c, ctr_err *err);
/* Write state.json atomically (durable: fsynced, unless ephemeral). */
int run_container_save(struct run_container *c, bool durable, ctr_err *err);
/* The same for a process that loaded the state long ago (the monitor, the
 * end of a run): `ctr-net connect`/`disconnect` may have changed the
 * container's "networks" and "ports" since, so those are taken from the
 * file as it is now rather than written back stale. */
int run_container_save_fresh(struct run_container *c, bool durable, ctr_err *err);
/* Remove the directory (the rootfs must be unmounted). */
int run_container_delete(struct run_container *c, ctr_err *err);
void run_container_free(struct run_container *c);
/* Every container's state.json, in creation order. */
int run_container_list(const struct ctr_paths *p, json_t **states, ctr_err *err);

#endif
