/* The monitor of a detached container: one small process per container,
 * not a daemon for all. It is the container's parent, keeps its output in
 * the log as json-file lines, records how it ended, applies the restart
 * policy, and survives the shell that started it. */
#ifndef CTR_RUN_MONITOR_H
#define CTR_RUN_MONITOR_H

#include <jansson.h>
#include <stdbool.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"

struct run_restart {
  enum { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_UNLESS_STOPPED } policy;
  int max; /* on-failure:N; 0 = no limit */
};

/* Parse --restart: no | on-failure[:N] | always | unless-stopped. */
int run_restart_parse(const char *s, struct run_restart *r, ctr_err *err);
const char *run_restart_name(const struct run_restart *r);

/* Start the container under a new monitor and return once it runs (or
 * failed to start: then *exit_class is 125, 126 or 127). pidfile (may be
 * NULL, absolute) gets the container's pid at each start, and goes at the
 * end. */
int run_monitor_start(const struct ctr_paths *p, struct run_container *c,
                      const json_t *config, const char *pidfile, int *exit_class,
                      ctr_err *err);

/* `ctr-run _monitor-exit`, exec'd by ctr-monitor when the container
 * ended: what it passes on. */
struct run_monitor_exit {
  int status;          /* the wait status */
  int count;           /* restarts so far */
  long delay_ms;       /* the next backoff */
  long ran_s;          /* how long this run lasted */
  const char *pidfile; /* or NULL */
};
/* Record the end; restart (this process becomes the monitor again) or
 * make the end final. */
int run_monitor_exit(const struct ctr_paths *p, struct run_container *c, const json_t *config,
                     const struct run_monitor_exit *e);

#endif
