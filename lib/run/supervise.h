/* Running a created container to its end: start its process, relay
 * stdio or a pty, forward signals, then record how it ended and clean up
 * (cgroup, overlay, and with --rm the container itself). */
#ifndef CTR_RUN_SUPERVISE_H
#define CTR_RUN_SUPERVISE_H

#include <jansson.h>
#include <stdbool.h>

#include "cgroup.h"
#include "container.h"
#include "core/error.h"
#include "core/paths.h"

struct run_supervise {
  const struct ctr_paths *paths;
  bool interactive; /* -i: the container reads our stdin */
  bool rm;          /* --rm: remove the container when it ends */
  const char *pidfile;
  /* ctr-run -it: a front (attach.h) owns the terminal; the container's
   * bytes go through front_io, its messages through front_ctl. -1 and
   * -1 otherwise. */
  int front_io, front_ctl;
  int exit_code;    /* out: the container's status, or 125/126/127 */
  bool detached;    /* out: the user detached; the container runs on */
};

/* In the foreground: returns 0 once the container has run and ended (its
 * status in sv->exit_code), -1 when it could not start (sv->exit_code is
 * 125, 126 or 127). */
int run_supervise_foreground(struct run_container *c, const json_t *config,
                             struct run_supervise *sv, ctr_err *err);

/* The end of a run, shared with the monitor: cgroup removed (after
 * checking for an OOM kill, reported in *oom), overlay unmounted; with
 * record, the end written to state.json, and with rm the container
 * deleted. A monitor that may restart records only the last end. */
int run_supervise_finish(const struct ctr_paths *p, struct run_container *c,
                         const json_t *config, struct run_cgroup *cg, int status, bool rm,
                         bool record, bool *oom, ctr_err *err);
/* --rm at the end: the running and stop files, the anonymous volumes and
 * the container go. */
int run_supervise_remove(const struct ctr_paths *p, struct run_container *c, ctr_err *err);
/* The container's cgroup (config may be NULL: read from the bundle); *cg
 * is NULL when it has none or it is gone. */
int run_container_cgroup(struct run_container *c, const json_t *config, struct run_cgroup **cg,
                         ctr_err *err);
/* Does config.json give the container a new namespace of this type? */
bool run_config_has_ns(const json_t *config, const char *type);

#endif
