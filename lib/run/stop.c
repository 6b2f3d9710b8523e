#define _GNU_SOURCE
#include "stop.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"
#include "create.h"
#include "network.h"
#include "process.h"
#include "state.h"
#include "supervise.h"
#include "volumes.h"

/* How long a monitor gets to record the end once the process is gone
 * (it destroys the cgroup, retrying while the last processes exit). */
#define RECORD_WAIT_MS 15000
/* How long a monitor waiting to restart its container may take to see the
 * stop request: it looks after its backoff delay, at most 60 s. */
#define RESTARTING_WAIT_MS 65000
/* How long SIGKILLed processes get to be gone. */
#define KILL_WAIT_MS 10000
#define POLL_STEP_MS 20
/* How long an orphaned container's exit status may take to be known. */
#define EXIT_INFO_WAIT_MS 1000

/* ---- signals ---------------------------------------------------------- */

static int parse_number(const char *s, long min, long max, long *out) {
  char *end;
  long v;
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* RTMIN, RTMIN+N, RTMAX, RTMAX-N (N up to the distance between them). */
static int parse_realtime(const char *name) {
  long n = 0;
  int span = SIGRTMAX - SIGRTMIN;
  if (strncasecmp(name, "RTMIN", 5) == 0) {
    if (name[5] == '\0')
      return SIGRTMIN;
    if (name[5] == '+' && parse_number(name + 6, 1, span, &n) == 0)
      return SIGRTMIN + (int)n;
  } else if (strncasecmp(name, "RTMAX", 5) == 0) {
    if (name[5] == '\0')
      return SIGRTMAX;
    if (name[5] == '-' && parse_number(name + 6, 1, span, &n) == 0)
      return SIGRTMAX - (int)n;
  }
  return -1;
}

int run_signal_parse(const char *s, int *sig, ctr_err *err) {
  static const struct {
    const char *name;
    int sig;
  } aliases[] = {{"IOT", SIGABRT}, {"IO", SIGIO}, {"CLD", SIGCHLD}};
  const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
  long n;
  if (parse_number(s, 1, SIGRTMAX, &n) == 0) {
    *sig = (int)n;
    return 0;
  }
  for (int i = 1; i < SIGRTMIN; i++) {
    const char *abbrev = sigabbrev_np(i);
    if (abbrev != NULL && strcasecmp(abbrev, name) == 0) {
      *sig = i;
      return 0;
    }
  }
  for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
    if (strcasecmp(aliases[i].name, name) == 0) {
      *sig = aliases[i].sig;
      return 0;
    }
  if ((*sig = parse_realtime(name)) > 0)
    return 0;
  return ctr_usage(err, "invalid signal: %s", s);
}

static const char *signal_name(int sig, char *buf, size_t len) {
  const char *abbrev = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
  if (abbrev != NULL)
    snprintf(buf, len, "SIG%s", abbrev);
  else
    snprintf(buf, len, "signal %d", sig);
  return buf;
}

/* The container's stop signal from state.json (docker's default SIGTERM). */
static int stop_signal_of(const struct run_container *c) {
  const char *s = ctr_json_str(c->state, "stop_signal");
  ctr_err e = NULL;
  int sig = SIGTERM;
  if (s != NULL && run_signal_parse(s, &sig, &e) < 0) {
    ctr_debug("container %.12s: stop_signal %s: %s; using SIGTERM", c->id, s, e->msg);
    ctr_err_free(&e);
    sig = SIGTERM;
  }
  return sig;
}

static int stop_timeout_of(const struct run_container *c) {
  json_t *t = json_object_get(c->state, "stop_timeout");
  if (!json_is_integer(t) || json_integer_value(t) < -1 || json_integer_value(t) > INT_MAX)
    return 10;
  return (int)json_integer_value(t);
}

static const char *name_of(const struct run_container *c) {
  const char *name = ctr_json_str(c->state, "name");
  return name ? name : c->id;
}

/* ---- time and processes --------------------------------------------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&d, &d) < 0 && errno == EINTR)
    ;
}

/* What /proc/PID/stat says of a process: its state letter ('\0' when there
 * is no such process) and its start time. */
static char pid_state(pid_t pid, unsigned long long *start) {
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;
  *start = 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
    return '\0';
  buf[n] = '\0';
  /* the command may hold spaces and parentheses: fields follow the last ')' */
  p = strrchr(buf, ')');
  if (p == NULL || p[1] != ' ' || p[2] == '\0')
    return '\0';
  {
    char state = p[2];
    /* p + 1 is the space before field 3; step to the one before field 22 */
    p++;
    for (int field = 3; field < 22 && p; field++)
      p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p + 1, "%llu", start) != 1)
      *start = 0;
    return state;
  }
}

/* Is the monitor alive (and the one that started at `start`, where the
 * running file says)? A zombie is not: its work is over. */
static bool monitor_alive(pid_t pid, unsigned long long start) {
  unsigned long long now;
  char st = pid > 0 ? pid_state(pid, &now) : '\0';
  return st != '\0' && st != 'Z' && st != 'X' && (start == 0 || now == start);
}

/* The container's process: a pidfd, or where there is none (valgrind does
 * not know the syscall) its pid and start time, checked at each use. */
struct proc {
  int fd;
  pid_t pid; /* 0: no process */
  unsigned long long start;
};

static void proc_close(struct proc *pr) {
  if (pr->fd >= 0)
    close(pr->fd);
  pr->fd = -1;
  pr->pid = 0;
}
#define cleanup_proc __attribute__((cleanup(proc_close)))

/* Open pid, only if it is still the process that started at `start` (a
 * pid can be reused once its process is reaped). False if it is not. */
static bool proc_open(struct proc *pr, pid_t pid, unsigned long long start) {
  unsigned long long now;
  pr->fd = -1;
  pr->pid = 0;
  if (pid <= 0 || start == 0)
    return false;
  pr->fd = pidfd_open(pid, 0);
  if (pr->fd < 0 && errno != ENOSYS)
    return false;
  /* Checked after the open: the pidfd now pins the process we compare. */
  if (pid_state(pid, &now) == '\0' || now != start) {
    proc_close(pr);
    return false;
  }
  pr->pid = pid;
  pr->start = start;
  return true;
}

/* Has it ended (a zombie, or gone)? */
static bool proc_ended(const struct proc *pr) {
  unsigned long long now;
  char st;
  if (pr->pid == 0)
    return true;
  if (pr->fd >= 0) {
    struct pollfd pfd = {pr->fd, POLLIN, 0};
    return poll(&pfd, 1, 0) != 0;
  }
  st = pid_state(pr->pid, &now);
  return st == '\0' || st == 'Z' || st == 'X' || now != pr->start;
}

/* Wait up to ms (-1: for ever) for it to end. True when it has. */
static bool proc_wait(const struct proc *pr, long ms) {
  int64_t deadline = ms < 0 ? INT64_MAX : now_ms() + ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (pr->fd >= 0) {
      struct pollfd pfd = {pr->fd, POLLIN, 0};
      int step = ms < 0 || left > INT_MAX ? -1 : (int)(left > 0 ? left : 0);
      int n = poll(&pfd, 1, step);
      if (n < 0 && errno == EINTR)
        continue;
      return n > 0;
    }
    if (proc_ended(pr))
      return true;
    if (left <= 0)
      return false;
    sleep_ms(left < POLL_STEP_MS ? (long)left : POLL_STEP_MS);
  }
}

/* Signal it; ESRCH once it has ended. */
static int proc_signal(const struct proc *pr, int sig) {
  if (pr->fd >= 0)
    return pidfd_send_signal(pr->fd, sig, NULL, 0);
  if (proc_ended(pr)) {
    errno = ESRCH;
    return -1;
  }
  return kill(pr->pid, sig);
}

/* The ended process's wait status, where the kernel keeps it for pidfds
 * (PIDFD_INFO_EXIT, Linux 6.15; only once the process has been reaped). */
struct stop_pidfd_info {
  uint64_t mask, cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
  uint32_t coredump_mask, spare;
};
#define STOP_PIDFD_INFO_EXIT (1ULL << 3)
#define STOP_PIDFD_GET_INFO _IOWR(0xFF, 11, struct stop_pidfd_info)

/* 1: *status holds it; 0: not yet (not reaped); -1: nobody can say. */
static int proc_exit_status(const struct proc *pr, int *status) {
  struct stop_pidfd_info info;
  memset(&info, 0, sizeof(info));
  info.mask = STOP_PIDFD_INFO_EXIT;
  if (pr->fd < 0 || ioctl(pr->fd, STOP_PIDFD_GET_INFO, &info) < 0)
    return -1;
  if (!(info.mask & STOP_PIDFD_INFO_EXIT))
    return 0;
  *status = info.exit_code;
  return 1;
}

/* The same for an orphan, whose reaping (by init or a subreaper) may lag
 * a little behind its end: wait up to ms for it. */
static bool proc_exit_status_wait(const struct proc *pr, long ms, int *status) {
  int64_t deadline = now_ms() + ms;
  int rc;
  while ((rc = proc_exit_status(pr, status)) == 0 && now_ms() < deadline)
    sleep_ms(POLL_STEP_MS);
  return rc == 1;
}

/* ---- the running file ----------------------------------------------------- */

struct live {
  bool present;
  bool restarting;
  pid_t pid, monitor;
  unsigned long long start, monitor_start;
  json_t *started;
};

static void live_free(struct live *lv) {
  json_decref(lv->started);
  memset(lv, 0, sizeof(*lv));
}

/* Read $CTR_RUNDIR/containers/<id>.json as it is now. */
static int live_read(const struct ctr_paths *p, const char *id, struct live *lv,
                     ctr_err *err) {
  cleanup_free char *path = run_state_rundir_path(p, id, ".json");
  cleanup_json json_t *run = NULL;
  ctr_err e = NULL;
  live_free(lv);
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "state");
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 16, &run, &e) < 0) {
    bool gone = e != NULL && e->errnum == ENOENT;
    if (gone || access(path, F_OK) < 0) {
      ctr_err_free(&e);
      return 0;
    }
    *err = e;
    return ctr_wrap(err, "container %.12s", id);
  }
  lv->present = true;
  lv->restarting = ctr_json_str(run, "status") &&
                   strcmp(ctr_json_str(run, "status"), "restarting") == 0;
  lv->pid = (pid_t)json_integer_value(json_object_get(run, "pid"));
  lv->start = (unsigned long long)json_integer_value(json_object_get(run, "pid_start"));
  lv->monitor = (pid_t)json_integer_value(json_object_get(run, "monitor_pid"));
  lv->monitor_start =
      (unsigned long long)json_integer_value(json_object_get(run, "monitor_start"));
  lv->started = json_incref(json_object_get(run, "started"));
  return 0;
}

/* The container's process, if it runs. While restarting the running file
 * names the monitor, which is not to be signalled. */
static bool live_open(const struct live *lv, struct proc *pr) {
  pr->fd = -1;
  pr->pid = 0;
  if (!lv->present || lv->restarting)
    return false;
  return proc_open(pr, lv->pid, lv->start);
}

/* ---- doing the monitor's job ------------------------------------------- */

/* Hold flock on the container's directory (it goes with the directory):
 * the fd, or -1 with *gone set when the directory no longer exists. */
static int lock_container(const struct run_container *c, bool *gone, ctr_err *err) {
  int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  *gone = fd < 0 && errno == ENOENT;
  if (fd < 0)
    return *gone ? -1 : ctr_fail(err, errno, "open %s", c->dir);
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR) {
      int saved = errno;
      close(fd);
      return ctr_fail(err, saved, "lock container %.12s", c->id);
    }
  }
  return fd;
}

static int reload_state(struct run_container *c, ctr_err *err) {
  cleanup_free char *path = NULL;
  json_t *st = NULL;
  if (asprintf(&path, "%s/state.json", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "state");
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &st, err) < 0)
    return -1;
  json_decref(c->state);
  c->state = st;
  return 0;
}

/* Open the container's cgroup (config.json's linux.cgroupsPath, or
 * ctr/<id> when the config is unreadable). *cg stays NULL, and 0 is
 * returned, when it has none or it is not there. */
/* Kill what is left in the container's cgroup and remove it; *oom says
 * whether the OOM killer struck. A cgroup that is not there is fine. */
static int cgroup_remove(struct run_container *c, bool *oom, ctr_err *err) {
  struct run_cgroup *cg = NULL;
  ctr_err e = NULL;
  *oom = false;
  if (run_container_cgroup(c, NULL, &cg, err) < 0)
    return -1;
  if (cg == NULL)
    return 0;
  if (run_cgroup_oom_killed(cg, oom, &e) < 0)
    ctr_err_free(&e);
  if (run_cgroup_kill(cg, SIGKILL, &e) < 0) {
    ctr_debug("container %.12s: kill its cgroup: %s", c->id, e->msg);
    ctr_err_free(&e);
  }
  return run_cgroup_destroy(cg, err);
}

static void keep_first(ctr_err *first, ctr_err *e) {
  if (*first == NULL) {
    *first = *e;
    *e = NULL;
  }
  ctr_err_free(e);
}

/* The monitor died without recording the end: record it ourselves, with
 * `code` (-1 when nobody can know it). */
static int take_over(const struct ctr_paths *p, struct run_container *c, int code,
                     ctr_err *err) {
  cleanup_close int lock = -1;
  struct live lv = {0};
  ctr_err first = NULL, e = NULL;
  bool oom = false, gone;
  lock = lock_container(c, &gone, err);
  if (lock < 0)
    return gone ? 0 : -1;
  /* Under the lock: someone else may have done it meanwhile. */
  if (live_read(p, c->id, &lv, err) < 0)
    return -1;
  if (!lv.present || monitor_alive(lv.monitor, lv.monitor_start)) {
    live_free(&lv);
    return 0;
  }
  ctr_debug("container %.12s: monitor %d is gone; cleaning up after it", c->id, lv.monitor);
  if (reload_state(c, &e) < 0)
    keep_first(&first, &e);
  run_net_release(p, c);
  if (cgroup_remove(c, &oom, &e) < 0)
    keep_first(&first, &e);
  if (run_rootfs_unmount(c, &e) < 0)
    keep_first(&first, &e);
  if (lv.started != NULL)
    json_object_set(c->state, "started", lv.started);
  live_free(&lv);
  if (run_state_exited(p, c, code, oom, &e) < 0)
    keep_first(&first, &e);
  run_state_clear_stop(p, c->id);
  if (first == NULL && json_is_true(json_object_get(c->state, "rm")) &&
      run_container_delete(c, &e) < 0)
    keep_first(&first, &e);
  if (first != NULL) {
    *err = first;
    return ctr_wrap(err, "clean up container %s", name_of(c));
  }
  return 0;
}

/* ---- stopping ------------------------------------------------------------ */

/* After the process ended: wait for the monitor to remove the running file;
 * if the monitor is dead, do its job. pr: the ended process (pid 0 if
 * unknown), for its exit status; killed: we SIGKILLed it. */
static int await_record(const struct ctr_paths *p, struct run_container *c,
                        const struct proc *pr, bool killed, ctr_err *err) {
  int64_t deadline = now_ms() + RECORD_WAIT_MS;
  struct live lv = {0};
  for (;;) {
    if (live_read(p, c->id, &lv, err) < 0)
      return -1;
    if (!lv.present)
      return 0;
    if (!monitor_alive(lv.monitor, lv.monitor_start)) {
      int status, code = killed ? 128 + SIGKILL : -1;
      live_free(&lv);
      if (proc_exit_status_wait(pr, EXIT_INFO_WAIT_MS, &status))
        code = run_exit_code(status);
      return take_over(p, c, code, err);
    }
    if (now_ms() >= deadline) {
      pid_t m = lv.monitor;
      live_free(&lv);
      return ctr_fail(err, 0, "container %s: its monitor (pid %d) did not record the end in %d s",
                      name_of(c), m, RECORD_WAIT_MS / 1000);
    }
    sleep_ms(POLL_STEP_MS);
  }
}

/* SIGKILL the container's cgroup and init; wait for init to be gone. */
static int kill_all(struct run_container *c, const struct proc *pr, ctr_err *err) {
  struct run_cgroup *cg = NULL;
  ctr_err e = NULL;
  if (run_container_cgroup(c, NULL, &cg, &e) == 0 && cg != NULL && run_cgroup_kill(cg, SIGKILL, &e) < 0)
    ctr_debug("container %.12s: kill its cgroup: %s", c->id, e->msg);
  run_cgroup_free(cg);
  ctr_err_free(&e);
  if (proc_signal(pr, SIGKILL) < 0 && errno != ESRCH)
    return ctr_fail(err, errno, "kill container %s", name_of(c));
  if (!proc_wait(pr, KILL_WAIT_MS))
    return ctr_fail(err, 0, "container %s: still there %d s after SIGKILL", name_of(c),
                    KILL_WAIT_MS / 1000);
  return 0;
}

/* Signal the running process, give it timeout_s, then SIGKILL; then see
 * the end recorded. */
static int end_process(const struct ctr_paths *p, struct run_container *c,
                       const struct proc *pr, int sig, int timeout_s, ctr_err *err) {
  char sname[32];
  bool killed = sig == SIGKILL;
  ctr_debug("container %.12s: sending %s, %d s to end", c->id,
            signal_name(sig, sname, sizeof(sname)), timeout_s);
  if (proc_signal(pr, sig) < 0 && errno != ESRCH)
    return ctr_fail(err, errno, "send %s to container %s", signal_name(sig, sname, sizeof(sname)),
                    name_of(c));
  if (sig == SIGKILL || !proc_wait(pr, timeout_s < 0 ? -1 : (long)timeout_s * 1000)) {
    if (sig != SIGKILL)
      ctr_debug("container %.12s: still running after %d s; SIGKILL", c->id, timeout_s);
    killed = true;
    if (kill_all(c, pr, err) < 0)
      return -1;
  }
  return await_record(p, c, pr, killed, err);
}

/* The stop, once the stop request is written. A restarting container has
 * no process: its monitor, told not to restart, ends it; should it start
 * the process again all the same, that process is stopped in turn. */
static int stop_requested(const struct ctr_paths *p, struct run_container *c, int sig,
                          int timeout_s, ctr_err *err) {
  int64_t deadline = now_ms() + RESTARTING_WAIT_MS;
  struct live lv = {0};
  for (;;) {
    cleanup_proc struct proc pr = {-1, 0, 0};
    if (live_read(p, c->id, &lv, err) < 0)
      return -1;
    if (!lv.present)
      return 0;
    if (live_open(&lv, &pr)) {
      live_free(&lv);
      return end_process(p, c, &pr, sig, timeout_s, err);
    }
    if (!lv.restarting || !monitor_alive(lv.monitor, lv.monitor_start)) {
      /* The process is gone: the end is the monitor's to record, or ours. */
      live_free(&lv);
      return await_record(p, c, &pr, false, err);
    }
    if (now_ms() >= deadline) {
      live_free(&lv);
      return ctr_fail(err, 0, "container %s is restarting and its monitor did not stop it in %d s",
                      name_of(c), RESTARTING_WAIT_MS / 1000);
    }
    live_free(&lv);
    sleep_ms(POLL_STEP_MS);
  }
}

int run_stop(const struct ctr_paths *p, struct run_container *c, int sig, int timeout_s,
             ctr_err *err) {
  struct live lv = {0};
  if (live_read(p, c->id, &lv, err) < 0)
    return -1;
  if (!lv.present)
    return 0; /* not running: docker stop succeeds */
  live_free(&lv);
  if (sig == RUN_STOP_SIGNAL_DEFAULT)
    sig = stop_signal_of(c);
  if (timeout_s == RUN_STOP_TIMEOUT_DEFAULT)
    timeout_s = stop_timeout_of(c);
  if (run_state_request_stop(p, c->id, err) < 0)
    return ctr_wrap(err, "stop container %s", name_of(c));
  return stop_requested(p, c, sig, timeout_s, err);
}

/* ---- kill ---------------------------------------------------------------- */

int run_kill(const struct ctr_paths *p, struct run_container *c, int sig, ctr_err *err) {
  cleanup_proc struct proc pr = {-1, 0, 0};
  struct live lv = {0};
  bool final = sig == SIGKILL || sig == stop_signal_of(c);
  char sname[32];
  if (live_read(p, c->id, &lv, err) < 0)
    return -1;
  if (!live_open(&lv, &pr) || proc_ended(&pr)) {
    bool restarting = lv.restarting && monitor_alive(lv.monitor, lv.monitor_start);
    live_free(&lv);
    /* docker: killing a restarting container just cancels the restart */
    if (restarting && final) {
      if (run_state_request_stop(p, c->id, err) < 0)
        return -1;
      return sig == SIGKILL ? stop_requested(p, c, SIGKILL, 0, err) : 0;
    }
    return ctr_fail(err, 0, "container %s is not running", name_of(c));
  }
  live_free(&lv);
  /* A fatal signal turns the restart policy off until the next start. */
  if (final && run_state_request_stop(p, c->id, err) < 0)
    return ctr_wrap(err, "kill container %s", name_of(c));
  if (sig == SIGKILL)
    return end_process(p, c, &pr, SIGKILL, 0, err);
  if (proc_signal(&pr, sig) < 0) {
    if (errno == ESRCH)
      return ctr_fail(err, 0, "container %s is not running", name_of(c));
    return ctr_fail(err, errno, "send %s to container %s", signal_name(sig, sname, sizeof(sname)),
                    name_of(c));
  }
  return 0;
}

/* ---- remove -------------------------------------------------------------- */

/* Make sure nothing of c is left: processes, cgroup, mount, run files,
 * directory; then its anonymous volumes if asked. */
static int remove_leftovers(const struct ctr_paths *p, struct run_container *c, bool volumes,
                            ctr_err *err) {
  cleanup_close int lock = -1;
  cleanup_json json_t *vols = NULL;
  cleanup_free char *runfile = run_state_rundir_path(p, c->id, ".json");
  ctr_err e = NULL;
  bool oom, gone;
  lock = lock_container(c, &gone, err);
  if (lock < 0)
    return gone ? 0 : -1;
  if (reload_state(c, &e) < 0)
    ctr_err_free(&e); /* half-made or half-removed: remove what is there */
  vols = json_incref(json_object_get(c->state, "anonymous_volumes"));
  run_net_release(p, c);
  if (cgroup_remove(c, &oom, err) < 0 || run_rootfs_unmount(c, err) < 0)
    return ctr_wrap(err, "remove container %s", name_of(c));
  if (runfile != NULL)
    unlink(runfile);
  run_state_clear_stop(p, c->id);
  if (run_container_delete(c, err) < 0)
    return -1;
  return volumes ? run_volumes_remove(p, vols, err) : 0;
}

/* A --rm container's monitor deletes it after the record: let it finish
 * rather than delete the same tree at the same time. */
static void await_monitor_exit(const struct run_container *c, const struct live *lv) {
  int64_t deadline = now_ms() + RECORD_WAIT_MS;
  while (monitor_alive(lv->monitor, lv->monitor_start) && access(c->dir, F_OK) == 0 &&
         now_ms() < deadline)
    sleep_ms(POLL_STEP_MS);
}

int run_remove(const struct ctr_paths *p, struct run_container *c, bool force, bool volumes,
               ctr_err *err) {
  struct live lv = {0};
  cleanup_proc struct proc pr = {-1, 0, 0};
  bool running;
  if (live_read(p, c->id, &lv, err) < 0)
    return -1;
  running = (live_open(&lv, &pr) && !proc_ended(&pr)) ||
            (lv.restarting && monitor_alive(lv.monitor, lv.monitor_start));
  if (running && !force) {
    live_free(&lv);
    return ctr_fail(err, 0, "cannot remove a running container %s: stop it first or use -f",
                    name_of(c));
  }
  if (lv.present) {
    int rc;
    /* docker rm -f: SIGKILL, no grace period. Not running: wait for the
     * monitor to record the end (or take over from a dead one). */
    if (running)
      rc = run_state_request_stop(p, c->id, err) < 0 ? -1 : stop_requested(p, c, SIGKILL, 0, err);
    else
      rc = await_record(p, c, &pr, false, err);
    if (rc == 0 && json_is_true(json_object_get(c->state, "rm")))
      await_monitor_exit(c, &lv);
    live_free(&lv);
    if (rc < 0)
      return -1;
  }
  return remove_leftovers(p, c, volumes, err);
}
