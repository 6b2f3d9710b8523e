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
#include "logwrite.h"
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

/* ---- one run of the container --------------------------------------------- */

struct monitor {
  const struct ctr_paths *p;
  struct run_container *c;
  const json_t *config;
  int logfd;
  int report; /* to ctr-run until the first start; -1 after */
  const char *pidfile;
  bool oom;   /* the last run was OOM-killed */
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

/* Run the container once; its wait status in *status. -1: it never ran. */
static int run_once(struct monitor *m, int *status) {
  struct run_start s = {.bundle = m->c->dir, .config = m->config};
  struct run_log_stream out = {.name = "stdout", .echo_fd = -1};
  struct run_log_stream errs = {.name = "stderr", .echo_fd = -1};
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, exit_class = RUN_EXIT_FAILED;
  cleanup_close int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  cleanup_close int sfd = -1;
  sigset_t set;
  ctr_err err = NULL;
  bool tty = json_is_true(json_object_get(json_object_get(m->config, "process"), "terminal"));
  cleanup_free char *cache = NULL;

  if (asprintf(&cache, "%s/seccomp", m->p->rundir) >= 0)
    s.seccomp_cache = cache;

  if (run_rootfs_mount(m->c, &err) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
    if (err == NULL)
      ctr_fail(&err, errno, "pipe");
    goto fail;
  }
  s.stdio[0] = devnull;
  s.stdio[1] = po[1];
  s.stdio[2] = pe[1];
  if (run_process_start(&s, &exit_class, &err) < 0)
    goto fail;
  close(po[1]);
  close(pe[1]);
  po[1] = pe[1] = -1;
  out.fd = tty ? s.pty_master : po[0];
  errs.fd = tty ? -1 : pe[0];
  if (run_state_running(m->p, m->c, s.pid, getpid(), "running", &err) < 0)
    ctr_err_free(&err);
  if (m->pidfile != NULL && run_pidfile_write(m->pidfile, s.pid, &err) < 0)
    ctr_err_free(&err);
  report_start(m, 0, NULL);

  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  for (bool done = false; !done;) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0}, {out.fd, POLLIN, 0}, {errs.fd, POLLIN, 0}};
    struct signalfd_siginfo si;
    if (poll(fds, 3, -1) < 0 && errno != EINTR)
      break;
    if (fds[1].revents && run_log_drain(&out, m->logfd) < 0)
      out.fd = -1;
    if (fds[2].revents && run_log_drain(&errs, m->logfd) < 0)
      errs.fd = -1;
    while (read(sfd, &si, sizeof(si)) > 0)
      ;
    done = waitpid(s.pid, status, WNOHANG) == s.pid;
  }
  /* what the container wrote last */
  run_log_drain_all(&out, m->logfd);
  run_log_drain_all(&errs, m->logfd);
  close(po[0]);
  close(pe[0]);
  if (s.pty_master >= 0)
    close(s.pty_master);
  if (run_supervise_finish(m->p, m->c, m->config, s.cgroup, *status, false, false, &m->oom,
                           &err) < 0)
    ctr_err_free(&err);
  return 0;
fail:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0)
      close(po[i]);
    if (pe[i] >= 0)
      close(pe[i]);
  }
  report_start(m, exit_class, err ? err->msg : "start failed");
  if (err != NULL)
    run_log_line(m->logfd, "stderr", err->msg, strlen(err->msg));
  ctr_err_free(&err);
  {
    ctr_err e = NULL;
    run_rootfs_unmount(m->c, &e);
    ctr_err_free(&e);
  }
  *status = exit_class << 8;
  return -1;
}

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

static void monitor_main(struct monitor *m) {
  struct run_restart r = {0};
  json_t *rs = json_object_get(m->c->state, "restart");
  int count = 0, status = 0;
  long delay_ms = 100;
  ctr_err err = NULL;

  if (ctr_json_str(rs, "name") && run_restart_parse(ctr_json_str(rs, "name"), &r, &err) < 0)
    ctr_err_free(&err);
  r.max = (int)json_integer_value(json_object_get(rs, "max"));
  for (;;) {
    struct timespec t0, t1;
    int code;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (run_once(m, &status) < 0 && count == 0)
      break; /* never started: ctr-run reports it */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    code = run_exit_code(status);
    if (!should_restart(&r, code, count, run_state_stop_requested(m->p, m->c->id)))
      break;
    /* docker's backoff: doubling from 100 ms, reset after 10 s of running */
    if (t1.tv_sec - t0.tv_sec >= 10)
      delay_ms = 100;
    count++;
    json_object_set_new(m->c->state, "restart_count", json_integer(count));
    /* what ended, for ctr-ps's "Restarting (N)" */
    json_object_set_new(m->c->state, "exit_code", json_integer(code));
    {
      char when[64];
      ctr_now_rfc3339(when, sizeof(when));
      json_object_set_new(m->c->state, "finished", json_string(when));
    }
    if (run_container_save(m->c, false, &err) < 0)
      ctr_err_free(&err);
    if (run_state_running(m->p, m->c, getpid(), getpid(), "restarting", &err) < 0)
      ctr_err_free(&err);
    /* wait out the backoff, but a ctr-stop ends the wait */
    for (long waited = 0; waited < delay_ms && !run_state_stop_requested(m->p, m->c->id);
         waited += 100) {
      struct timespec d = {0, 100 * 1000000L};
      while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
    }
    delay_ms = delay_ms * 2 > 60000 ? 60000 : delay_ms * 2;
    if (run_state_stop_requested(m->p, m->c->id))
      break;
  }
  run_state_clear_stop(m->p, m->c->id);
  if (m->pidfile != NULL)
    unlink(m->pidfile);
  if (json_is_true(json_object_get(m->c->state, "rm"))) {
    cleanup_free char *run = run_state_rundir_path(m->p, m->c->id, ".json");
    if (run != NULL)
      unlink(run);
    run_container_delete(m->c, &err);
  } else {
    run_state_exited(m->p, m->c, run_exit_code(status), m->oom, &err);
  }
  ctr_err_free(&err);
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
    struct monitor m = {.p = p, .c = c, .config = config, .report = rp[1], .pidfile = pidfile};
    int devnull;
    close(rp[0]);
    if (setsid() < 0)
      _exit(RUN_EXIT_FAILED);
    if (fork() != 0)
      _exit(0);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; fd++)
      dup2(devnull, fd);
    if (chdir("/") < 0) {
    }
    prctl(PR_SET_NAME, "ctr-monitor", 0, 0, 0);
    m.logfd = run_log_open(c);
    if (m.logfd < 0) {
      report_start(&m, RUN_EXIT_FAILED, "cannot open the log");
      _exit(RUN_EXIT_FAILED);
    }
    {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGCHLD);
      sigprocmask(SIG_BLOCK, &set, NULL);
      signal(SIGHUP, SIG_IGN);
      signal(SIGPIPE, SIG_IGN);
    }
    monitor_main(&m);
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
