#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "create.h"
#include "image/trust.h"
#include "logwrite.h"
#include "network.h"
#include "process.h"
#include "state.h"
#include "supervise.h"

int run_restart_parse(const char *s, struct run_restart *r, ctr_err *err) {
  memset(r, 0, sizeof(*r));
  if (strcmp(s, "no") == 0)
    r->policy = RESTART_NO;
  else if (strcmp(s, "always") == 0)
    r->policy = RESTART_ALWAYS;
  else if (strcmp(s, "unless-stopped") == 0)
    r->policy = RESTART_UNLESS_STOPPED;
  else if (strncmp(s, "on-failure", 10) == 0 && (s[10] == '\0' || s[10] == ':')) {
    char *end;
    long n = 0;
    r->policy = RESTART_ON_FAILURE;
    if (s[10] == ':') {
      errno = 0;
      n = strtol(s + 11, &end, 10);
      if (errno || end == s + 11 || *end || n < 0 || n > 1000000)
        return ctr_usage(err, "--restart %s: the count must be a number >= 0", s);
    }
    r->max = (int)n;
  } else {
    return ctr_usage(err, "--restart %s: want no, on-failure[:N], always or unless-stopped", s);
  }
  return 0;
}

const char *run_restart_name(const struct run_restart *r) {
  static const char *const names[] = {"no", "on-failure", "always", "unless-stopped"};
  return names[r->policy];
}

/* ---- the monitor ------------------------------------------------------------
 *
 * One process per detached container, its parent, made by ctr-run -d
 * (fork, setsid, fork). It starts the container, then execs ctr-monitor,
 * a small static program that only logs and waits. When the container
 * ends, ctr-monitor execs `ctr-run _monitor-exit` (run_monitor_exit
 * below) which records the end and, to restart, starts the container
 * again in the same process and goes back to ctr-monitor. */

struct monitor {
  const struct ctr_paths *p;
  struct run_container *c;
  const json_t *config;
  int report;          /* to ctr-run until the first start; -1 after */
  const char *pidfile; /* absolute, or NULL */
  int count;           /* restarts so far */
  long delay_ms;       /* the next restart's backoff */
};

static void report_start(struct monitor *m, int exit_class, const char *msg) {
  char buf[1100];
  int n;
  if (m->report < 0)
    return;
  n = snprintf(buf, sizeof(buf), "%d %s", exit_class, msg ? msg : "");
  if (write(m->report, buf, (size_t)n) < 0) {
  }
  close(m->report);
  m->report = -1;
}

static void log_error(const struct run_container *c, const char *msg) {
  int fd = run_log_open(c);
  run_log_line(fd, "stderr", msg, strlen(msg));
  if (fd >= 0)
    close(fd);
}

/* Put fd at target (3, 4, 5), without CLOEXEC; -1 closes target. */
static int place_fd(int fd, int target) {
  if (fd < 0) {
    close(target);
    return 0;
  }
  if (fd == target)
    return fcntl(fd, F_SETFD, 0);
  return dup2(fd, target) < 0 ? -1 : 0;
}

int run_monitor_exec(const struct ctr_paths *p, const struct run_container *c, pid_t pid,
                     int logfd, int out, int errfd, const char *pidfile, int count,
                     long delay_ms, ctr_err *err) {
  cleanup_free char *monitor = run_beside_self("ctr-monitor");
  char pid_s[32], count_s[32], delay_s[32];
  /* The fds ctr-monitor reads: 3 log, 4 output (or the pty), 5 stderr. A
   * source may sit on a target number, so move them all high first. */
  int log_hi, out_hi, err_hi;
  if (monitor == NULL)
    return ctr_fail(err, ENOENT, "ctr-monitor is not installed beside ctr-run");
  log_hi = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
  out_hi = fcntl(out, F_DUPFD_CLOEXEC, 10);
  err_hi = errfd < 0 ? -1 : fcntl(errfd, F_DUPFD_CLOEXEC, 10);
  if (log_hi < 0 || out_hi < 0 || (errfd >= 0 && err_hi < 0) || place_fd(log_hi, 3) < 0 ||
      place_fd(out_hi, 4) < 0 || place_fd(err_hi, 5) < 0)
    return ctr_fail(err, errno, "pass descriptors to ctr-monitor");
  {
    char *argv[] = {monitor, "--root", p->root, "--rundir", p->rundir, "--pid", pid_s,
                    "--count", count_s, "--delay", delay_s,
                    pidfile ? "--pidfile" : NULL, (char *)pidfile, NULL, NULL};
    snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
    snprintf(count_s, sizeof(count_s), "%d", count);
    snprintf(delay_s, sizeof(delay_s), "%ld", delay_ms);
    argv[pidfile ? 13 : 11] = (char *)c->id;
    execv(monitor, argv);
  }
  return ctr_fail(err, errno, "exec %s", monitor);
}

void run_monitor_leave_session(void) {
  sigset_t set;
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  /* first: a SIGHUP from the terminal we leave may be pending already */
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  setsid();
  for (int fd = 0; fd < 3; fd++)
    dup2(devnull, fd);
  if (devnull > 2)
    close(devnull);
  if (chdir("/") < 0) {
  }
  /* SIGCHLD stays blocked through the execs: ctr-monitor reads it from a
   * signalfd. Nothing else is. */
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Start the container once and become its ctr-monitor. Returns only if
 * it did not start, with its wait status (the exit class << 8). */
static int spawn(struct monitor *m) {
  struct run_start s = {.bundle = m->c->dir, .config = m->config};
  struct run_net_start ns;
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, exit_class = RUN_EXIT_FAILED, logfd = -1;
  cleanup_close int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  cleanup_free char *monitor = run_beside_self("ctr-monitor");
  cleanup_free char *cache = NULL;
  ctr_err err = NULL;
  bool tty = json_is_true(json_object_get(json_object_get(m->config, "process"), "terminal"));

  if (asprintf(&cache, "%s/seccomp", m->p->rundir) >= 0)
    s.seccomp_cache = cache;
  if (monitor == NULL) {
    ctr_fail(&err, ENOENT, "ctr-monitor is not installed beside ctr-run");
    goto fail;
  }
  logfd = run_log_open(m->c);
  if (logfd < 0) {
    ctr_fail(&err, errno, "open the log");
    goto fail;
  }
  if (run_rootfs_mount(m->c, &err) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
      (!tty && pipe2(pe, O_CLOEXEC) < 0)) {
    if (err == NULL)
      ctr_fail(&err, errno, "pipe");
    goto fail;
  }
  s.stdio[0] = devnull;
  s.stdio[1] = po[1];
  s.stdio[2] = tty ? po[1] : pe[1];
  run_net_start_init(&ns, m->p, m->c, m->config, &s);
  if (run_process_start(&s, &exit_class, &err) < 0)
    goto fail;
  if (run_state_running(m->p, m->c, s.pid, getpid(), "running", &err) < 0)
    ctr_err_free(&err);
  if (m->pidfile != NULL && run_pidfile_write(m->pidfile, s.pid, &err) < 0)
    ctr_err_free(&err);
  report_start(m, 0, NULL);
  run_cgroup_free(s.cgroup);

  run_monitor_exec(m->p, m->c, s.pid, logfd, tty ? s.pty_master : po[0], tty ? -1 : pe[0],
                   m->pidfile, m->count, m->delay_ms, &err);
  /* Without a monitor nothing would record its end: end it now. */
  {
    int status;
    kill(s.pid, SIGKILL);
    waitpid(s.pid, &status, 0);
    exit_class = RUN_EXIT_FAILED;
  }
fail:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0)
      close(po[i]);
    if (pe[i] >= 0)
      close(pe[i]);
  }
  if (logfd >= 0)
    close(logfd);
  report_start(m, exit_class, err ? err->msg : "start failed");
  if (err != NULL)
    log_error(m->c, err->msg);
  ctr_err_free(&err);
  {
    ctr_err e = NULL;
    struct run_cgroup *cg = NULL;
    run_net_release(m->p, m->c);
    if (run_container_cgroup(m->c, m->config, &cg, &e) == 0 && cg != NULL)
      run_cgroup_destroy(cg, &e); /* frees cg */
    ctr_err_free(&e);
    run_rootfs_unmount(m->c, &e);
    ctr_err_free(&e);
  }
  return exit_class << 8;
}

static void end_for_good(struct monitor *m, int status, bool oom);

static bool should_restart(const struct run_restart *r, int code, int count, bool stopped) {
  if (stopped)
    return false;
  switch (r->policy) {
  case RESTART_NO:
    return false;
  case RESTART_ON_FAILURE:
    return code != 0 && (r->max == 0 || count < r->max);
  default:
    return true;
  }
}

/* A run ended with status after ran_s seconds: record it, then restart
 * (spawn, which does not return on success) or make the end final. */
static void after_exit(struct monitor *m, int status, long ran_s) {
  struct run_restart r = {0};
  json_t *rs = json_object_get(m->c->state, "restart");
  ctr_err err = NULL;
  bool oom = false;

  if (ctr_json_str(rs, "name") && run_restart_parse(ctr_json_str(rs, "name"), &r, &err) < 0)
    ctr_err_free(&err);
  r.max = (int)json_integer_value(json_object_get(rs, "max"));
  for (;;) {
    int code = run_exit_code(status);
    struct run_cgroup *cg = NULL;
    if (run_container_cgroup(m->c, m->config, &cg, &err) < 0)
      ctr_err_free(&err);
    /* frees cg */
    if (run_supervise_finish(m->p, m->c, m->config, cg, status, false, false, &oom, &err) < 0)
      ctr_err_free(&err);
    if (!should_restart(&r, code, m->count, run_state_stop_requested(m->p, m->c->id)))
      break;
    /* docker's backoff: doubling from 100 ms, reset after 10 s of running */
    if (ran_s >= 10)
      m->delay_ms = 100;
    m->count++;
    json_object_set_new(m->c->state, "restart_count", json_integer(m->count));
    /* what ended, for ctr-ps's "Restarting (N)" */
    json_object_set_new(m->c->state, "exit_code", json_integer(code));
    {
      char when[64];
      ctr_now_rfc3339(when, sizeof(when));
      json_object_set_new(m->c->state, "finished", json_string(when));
    }
    if (run_container_save_fresh(m->c, false, &err) < 0)
      ctr_err_free(&err);
    if (run_state_running(m->p, m->c, getpid(), getpid(), "restarting", &err) < 0)
      ctr_err_free(&err);
    /* wait out the backoff, but a ctr-stop ends the wait */
    for (long waited = 0; waited < m->delay_ms && !run_state_stop_requested(m->p, m->c->id);
         waited += 100) {
      struct timespec d = {0, 100 * 1000000L};
      while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
    }
    m->delay_ms = m->delay_ms * 2 > 60000 ? 60000 : m->delay_ms * 2;
    if (run_state_stop_requested(m->p, m->c->id))
      break;
    /* every start is judged, a restart too: what the policy now rejects
     * stays down, and its log says why */
    if (trust_enforce(m->p, ctr_json_str(m->c->state, "image"),
                      json_object_get(m->c->state, "trust_names"),
                      ctr_json_str(m->c->state, "image_digest"), &err) < 0) {
      char line[1200];
      snprintf(line, sizeof(line), "ctr-run: restart: %s", err->msg);
      log_error(m->c, line);
      ctr_err_free(&err);
      break;
    }
    status = spawn(m);
    ran_s = 0;
  }
  end_for_good(m, status, oom);
}

/* No restart: the end is final. */
static void end_for_good(struct monitor *m, int status, bool oom) {
  ctr_err err = NULL;
  run_state_clear_stop(m->p, m->c->id);
  if (m->pidfile != NULL)
    unlink(m->pidfile);
  if (json_is_true(json_object_get(m->c->state, "rm"))) {
    run_supervise_remove(m->p, m->c, &err);
  } else {
    run_state_exited(m->p, m->c, run_exit_code(status), oom, &err);
  }
  ctr_err_free(&err);
}

int run_monitor_exit(const struct ctr_paths *p, struct run_container *c, const json_t *config,
                     const struct run_monitor_exit *e) {
  struct monitor m = {.p = p, .c = c, .config = config, .report = -1, .pidfile = e->pidfile,
                      .count = e->count, .delay_ms = e->delay_ms};
  after_exit(&m, e->status, e->ran_s);
  return 0;
}

int run_monitor_start(const struct ctr_paths *p, struct run_container *c,
                      const json_t *config, const char *pidfile, int *exit_class,
                      ctr_err *err) {
  int rp[2];
  pid_t mid;
  char buf[1100];
  ssize_t n;
  *exit_class = RUN_EXIT_FAILED;
  if (pipe2(rp, O_CLOEXEC) < 0)
    return ctr_fail(err, errno, "pipe");
  mid = fork();
  if (mid < 0) {
    close(rp[0]);
    close(rp[1]);
    return ctr_fail(err, errno, "fork");
  }
  if (mid == 0) {
    /* Leave the caller's session and process group, then fork again so
     * the monitor is no session leader and is reparented away from us. */
    struct monitor m = {.p = p, .c = c, .config = config, .report = rp[1], .pidfile = pidfile,
                        .delay_ms = 100};
    int status;
    close(rp[0]);
    if (setsid() < 0)
      _exit(RUN_EXIT_FAILED);
    if (fork() != 0)
      _exit(0);
    run_monitor_leave_session();
    /* spawn returns only if it did not start: ctr-run says why, and a
     * restart policy does not retry what never ran */
    status = spawn(&m);
    end_for_good(&m, status, false);
    _exit(0);
  }
  close(rp[1]);
  waitpid(mid, NULL, 0);
  do
    n = read(rp[0], buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  close(rp[0]);
  if (n <= 0)
    return ctr_fail(err, 0, "the monitor died before the container started");
  buf[n] = '\0';
  {
    char *sp = strchr(buf, ' ');
    int cls = atoi(buf);
    if (cls == 0)
      return 0;
    *exit_class = cls;
    return ctr_fail(err, 0, "%s", sp ? sp + 1 : "start failed");
  }
}
