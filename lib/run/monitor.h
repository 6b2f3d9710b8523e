/* The monitor of a detached container: one small process per container,
 * not a daemon for all. It is the container's parent, keeps its output in
 * the log as json-file lines, records how it ended, applies the restart
 * policy, and survives the shell that started it. */
#ifndef CTR_RUN_MONITOR_H
#define CTR_RUN_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

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

/* Become the monitor of a running container (pid, our child): exec
 * ctr-monitor with the log, its output (pipe or pty master) and stderr
 * pipe (or -1). Returns only on failure. */
int run_monitor_exec(const struct ctr_paths *p, const struct run_container *c, pid_t pid,
                     int logfd, int out, int errfd, const char *pidfile, int count,
                     long delay_ms, ctr_err *err);
/* A monitor's start: out of the caller's session (the caller must not
 * lead a process group), /dev/null as stdio, "/" as cwd, only SIGCHLD
 * blocked, SIGHUP and SIGPIPE ignored. */
void run_monitor_leave_session(void);

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
