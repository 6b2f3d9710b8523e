/* What is true of a container now. Two files make it up:
 *
 *   $CTR_ROOT/containers/<id>/state.json   durable: id, name, image,
 *       image_digest, image_id, trust_names (the names the trust policy
 *       judges the image under, fixed at create: image/trust.h
 *       trust_names), created, command, labels, hostname, rm,
 *       stop_signal, stop_timeout, restart {name, max}, lower, and how it
 *       last ended: status ("created" or "exited"), exit_code, oom_killed,
 *       started, finished, restart_count.
 *   $CTR_RUNDIR/containers/<id>.json       volatile, only while it runs:
 *       {"status":"running"|"restarting", "pid", "pid_start",
 *        "monitor_pid", "monitor_start", "started"}
 *
 * The running file lives on tmpfs, so starting costs no disk flush and a
 * reboot leaves no container "running". A running file whose pid is gone
 * (or is another process: pid_start is the kernel's start time of it)
 * while its monitor (monitor_start likewise) is alive is still "running":
 * the monitor is recording the end. Both gone means the monitor was
 * killed: the container is reported "exited" with an unknown code (-1). $CTR_RUNDIR/containers/<id>.stop, made by ctr-stop,
 * tells the monitor not to restart it.
 *
 * Logs: $CTR_ROOT/containers/<id>/log, one JSON object per line as
 * docker's json-file driver writes them: {"stream":"stdout"|"stderr",
 * "time":"<RFC 3339 with nanoseconds>","log":"<the line, with its \n>"}. */
#ifndef CTR_RUN_STATE_H
#define CTR_RUN_STATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"

/* Merge the running file into c->state (status, pid, monitor_pid,
 * started), checking the pid is alive and the same process. */
int run_state_refresh(const struct ctr_paths *p, struct run_container *c,
                      ctr_err *err);
/* The container's process started (or restarted): write the running file
 * and record started/restart_count in state.json (not fsynced). */
int run_state_running(const struct ctr_paths *p, struct run_container *c,
                      pid_t pid, pid_t monitor, const char *status,
                      ctr_err *err);
/* It ended: state.json gets status exited, exit_code, oom_killed,
 * finished (fsynced); the running file goes. */
int run_state_exited(const struct ctr_paths *p, struct run_container *c,
                     int exit_code, bool oom, ctr_err *err);
/* ctr-stop's request, and the monitor's check of it. */
int run_state_request_stop(const struct ctr_paths *p, const char *id,
                           ctr_err *err);
bool run_state_stop_requested(const struct ctr_paths *p, const char *id);
void run_state_clear_stop(const struct ctr_paths *p, const char *id);
/* The kernel's start time of a pid (field 22 of /proc/PID/stat), 0 if
 * it does not exist. */
unsigned long long run_pid_start_time(pid_t pid);
/* --pidfile: the container's pid, atomically. */
int run_pidfile_write(const char *path, pid_t pid, ctr_err *err);
/* Path of a file under $CTR_RUNDIR/containers (made on demand). */
char *run_state_rundir_path(const struct ctr_paths *p, const char *id,
                            const char *suffix);

#endif
