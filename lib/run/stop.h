/* Ending containers: stop (the stop signal, a grace period, then SIGKILL
 * for the whole cgroup), kill (one signal to the container's init) and
 * remove. Shared by ctr-stop, ctr-kill, ctr-rm and ctr-up.
 *
 * The container's monitor (ctr-run, in the foreground or with -d) records
 * how it ended; these functions only ask and wait for it. When the monitor
 * is gone (killed with -9), they do its job instead: destroy the cgroup,
 * unmount the rootfs, record "exited" and, for --rm, delete the container. */
#ifndef CTR_RUN_STOP_H
#define CTR_RUN_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"

/* For run_stop: take the stop signal / timeout from state.json
 * (stop_signal, default SIGTERM; stop_timeout, default 10 s). */
#define RUN_STOP_SIGNAL_DEFAULT 0
#define RUN_STOP_TIMEOUT_DEFAULT (-2)
/* For run_stop: wait for the process however long it takes (docker -t -1). */
#define RUN_STOP_TIMEOUT_FOREVER (-1)

/* A signal as docker takes it: a number (1-64) or a name, any case, with or
 * without SIG ("KILL", "sigterm", "RTMIN+3"). Usage error
 * "invalid signal: S" otherwise. */
int run_signal_parse(const char *s, int *sig, ctr_err *err);

/* Stop c: nothing to do when it is not running. Otherwise ask the monitor
 * not to restart it, send sig, wait timeout_s seconds for the process to
 * end, SIGKILL everything in its cgroup, and wait (bounded) until the end
 * is recorded. c->state is stale afterwards (and c's directory is gone
 * when it was a --rm container): reload it with run_container_find. */
int run_stop(const struct ctr_paths *p, struct run_container *c, int sig,
             int timeout_s, ctr_err *err);

/* Send sig to the container's init. Error "container NAME is not running"
 * when it is not. SIGKILL or the container's stop signal also tell the
 * monitor not to restart it (docker's rule); SIGKILL then waits for the
 * end to be recorded, as run_stop does. */
int run_kill(const struct ctr_paths *p, struct run_container *c, int sig,
             ctr_err *err);

/* Remove c: error "cannot remove a running container NAME: stop it first
 * or use -f" unless force, which SIGKILLs it first. Makes sure its rootfs
 * is unmounted and its cgroup gone (also when its monitor was killed),
 * then deletes its directory. With volumes, also removes the named volumes
 * listed in state.json "anonymous_volumes" (never any other volume). */
int run_remove(const struct ctr_paths *p, struct run_container *c, bool force,
               bool volumes, ctr_err *err);

#endif
