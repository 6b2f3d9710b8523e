#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"

char *run_state_rundir_path(const struct ctr_paths *p, const char *id,
                            const char *suffix) {
  char *out = NULL;
  ctr_err e = NULL;
  int fd = ctr_paths_open(p->rundir, "containers", &e);
  ctr_err_free(&e);
  if (fd >= 0)
    close(fd);
  if (asprintf(&out, "%s/containers/%s%s", p->rundir, id, suffix) < 0)
    return NULL;
  return out;
}

unsigned long long run_pid_start_time(pid_t pid) {
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;
  unsigned long long start = 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
    return 0;
  buf[n] = '\0';
  /* the command may hold spaces and parentheses: fields follow the last ')' */
  p = strrchr(buf, ')');
  if (p == NULL)
    return 0;
  p++;
  /* a zombie or a dying process is gone for our purposes */
  if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
    return 0;
  for (int field = 3; field < 22 && p; field++)
    p = strchr(p + 1, ' ');
  if (p == NULL || sscanf(p + 1, "%llu", &start) != 1)
    return 0;
  return start;
}

int run_state_refresh(const struct ctr_paths *p, struct run_container *c,
                      ctr_err *err) {
  cleanup_free char *path = run_state_rundir_path(p, c->id, ".json");
  cleanup_json json_t *run = NULL;
  ctr_err e = NULL;
  pid_t pid, mon;
  unsigned long long start, mon_start;
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "state");
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 16, &run, &e) < 0) {
    ctr_err_free(&e);
    return 0; /* not running: state.json says it all */
  }
  pid = (pid_t)json_integer_value(json_object_get(run, "pid"));
  start = (unsigned long long)json_integer_value(json_object_get(run, "pid_start"));
  mon = (pid_t)json_integer_value(json_object_get(run, "monitor_pid"));
  mon_start = (unsigned long long)json_integer_value(json_object_get(run, "monitor_start"));
  /* The process is alive; or it has ended and its monitor, alive, is
   * still recording that: it is running until the record is written. */
  if ((pid > 0 && start != 0 && run_pid_start_time(pid) == start) ||
      (mon > 0 && mon_start != 0 && run_pid_start_time(mon) == mon_start)) {
    json_object_set(c->state, "status", json_object_get(run, "status"));
    json_object_set(c->state, "pid", json_object_get(run, "pid"));
    json_object_set(c->state, "monitor_pid", json_object_get(run, "monitor_pid"));
    json_object_set(c->state, "started", json_object_get(run, "started"));
    return 0;
  }
  /* The process is gone and nobody recorded how it ended: its monitor was
   * killed. Say so rather than guess. */
  json_object_set_new(c->state, "status", json_string("exited"));
  json_object_set(c->state, "started", json_object_get(run, "started"));
  json_object_set_new(c->state, "exit_code", json_integer(-1));
  json_object_set_new(c->state, "pid", json_integer(0));
  return 0;
}

int run_state_running(const struct ctr_paths *p, struct run_container *c,
                      pid_t pid, pid_t monitor, const char *status,
                      ctr_err *err) {
  cleanup_free char *path = run_state_rundir_path(p, c->id, ".json");
  cleanup_json json_t *run = NULL;
  char when[64];
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "state");
  ctr_now_rfc3339(when, sizeof(when));
  run = json_pack("{s:s, s:i, s:I, s:i, s:I, s:s}", "status", status, "pid", (int)pid,
                  "pid_start", (json_int_t)run_pid_start_time(pid), "monitor_pid",
                  (int)monitor, "monitor_start", (json_int_t)run_pid_start_time(monitor),
                  "started", when);
  if (run == NULL)
    return ctr_fail(err, ENOMEM, "state");
  if (ctr_json_save(AT_FDCWD, path, run, false, false, err) < 0)
    return -1;
  json_object_set_new(c->state, "status", json_string(status));
  json_object_set_new(c->state, "pid", json_integer(pid));
  json_object_set_new(c->state, "monitor_pid", json_integer(monitor));
  json_object_set_new(c->state, "started", json_string(when));
  return 0;
}

int run_state_exited(const struct ctr_paths *p, struct run_container *c,
                     int exit_code, bool oom, ctr_err *err) {
  cleanup_free char *path = run_state_rundir_path(p, c->id, ".json");
  char when[64];
  ctr_now_rfc3339(when, sizeof(when));
  json_object_set_new(c->state, "status", json_string("exited"));
  json_object_set_new(c->state, "exit_code", json_integer(exit_code));
  json_object_set_new(c->state, "oom_killed", json_boolean(oom));
  json_object_set_new(c->state, "finished", json_string(when));
  json_object_set_new(c->state, "pid", json_integer(0));
  json_object_del(c->state, "monitor_pid");
  if (run_container_save_fresh(c, true, err) < 0)
    return -1;
  if (path != NULL)
    unlink(path);
  return 0;
}

int run_pidfile_write(const char *path, pid_t pid, ctr_err *err) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d\n", pid);
  return ctr_atomic_write(AT_FDCWD, path, buf, (size_t)n, 0644, false, err);
}

int run_state_request_stop(const struct ctr_paths *p, const char *id, ctr_err *err) {
  cleanup_free char *path = run_state_rundir_path(p, id, ".stop");
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "stop");
  return ctr_atomic_write(AT_FDCWD, path, "", 0, 0600, false, err);
}

bool run_state_stop_requested(const struct ctr_paths *p, const char *id) {
  cleanup_free char *path = run_state_rundir_path(p, id, ".stop");
  return path != NULL && access(path, F_OK) == 0;
}

void run_state_clear_stop(const struct ctr_paths *p, const char *id) {
  cleanup_free char *path = run_state_rundir_path(p, id, ".stop");
  if (path != NULL)
    unlink(path);
}
