/* ctr-monitor: what stays behind a detached container while it runs.
 *
 * `ctr-run -d` starts the container, then execs this in the process that
 * is the container's parent. All it does is wait: it copies the
 * container's output into the log as json-file lines and reaps it. When
 * the container ends, it execs `ctr-run _monitor-exit`, which records the
 * end, applies the restart policy and (to restart) starts the container
 * again and comes back here. So the process that waits for weeks holds
 * only this small static program, never ctr-run's libraries; the pid the
 * running file names stays the same through every exec.
 *
 * Descriptors: 3 the log (open for appending), 4 the container's stdout
 * (a pipe) or its pty master, 5 its stderr (a pipe; absent with a pty). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/logwrite.h"

#define PROG "ctr-monitor"

static const char usage[] =
    "Usage: ctr-monitor --root DIR --rundir DIR --pid PID [--count N]\n"
    "                   [--delay MS] [--pidfile FILE] CONTAINER-ID\n"
    "\n"
    "Started by ctr-run -d, not by hand: waits for the container PID (its\n"
    "child), logs its output from descriptors 4 and 5 to the log on\n"
    "descriptor 3, then runs `ctr-run _monitor-exit` to record the end.\n"
    "See ctr-monitor(1).\n";

struct margs {
  const char *root, *rundir, *pidfile, *id;
  const char *count, *delay; /* passed through to ctr-run as given */
  pid_t pid;
};

static int parse(int argc, char **argv, struct margs *m) {
  static const struct option opts[] = {{"root", required_argument, NULL, 'R'},
                                       {"rundir", required_argument, NULL, 'D'},
                                       {"pid", required_argument, NULL, 'p'},
                                       {"count", required_argument, NULL, 'c'},
                                       {"delay", required_argument, NULL, 'd'},
                                       {"pidfile", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  int opt;
  char *end;
  long pid = 0;
  memset(m, 0, sizeof(*m));
  m->count = "0";
  m->delay = "100";
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'R': m->root = optarg; break;
    case 'D': m->rundir = optarg; break;
    case 'c': m->count = optarg; break;
    case 'd': m->delay = optarg; break;
    case 'f': m->pidfile = optarg; break;
    case 'p':
      errno = 0;
      pid = strtol(optarg, &end, 10);
      if (errno || *end || pid <= 0 || pid > INT_MAX)
        pid = 0;
      break;
    case 'h': fputs(usage, stdout); exit(0);
    default: fputs(usage, stderr); return -1;
    }
  }
  m->pid = (pid_t)pid;
  if (optind != argc - 1 || m->root == NULL || m->rundir == NULL || m->pid == 0) {
    fputs(usage, stderr);
    return -1;
  }
  m->id = argv[optind];
  return 0;
}

/* Wait for the container, logging its output; its wait status. */
static int wait_container(pid_t pid, int logfd, struct run_log_stream *out,
                          struct run_log_stream *errs) {
  sigset_t set;
  int sfd, status = 0;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  for (;;) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0}, {out->fd, POLLIN, 0}, {errs->fd, POLLIN, 0}};
    struct signalfd_siginfo si;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD))
      break;
    /* without a signalfd, look again every second */
    if (poll(fds, 3, sfd < 0 ? 1000 : -1) < 0 && errno != EINTR)
      break;
    if (fds[1].revents && run_log_drain(out, logfd) < 0)
      out->fd = -1;
    if (fds[2].revents && run_log_drain(errs, logfd) < 0)
      errs->fd = -1;
    while (sfd >= 0 && read(sfd, &si, sizeof(si)) > 0)
      ;
  }
  run_log_drain_now(out, logfd);
  run_log_drain_now(errs, logfd);
  if (sfd >= 0)
    close(sfd);
  return status;
}

/* ctr-run in our own directory: the two are installed together. */
static int ctr_run_path(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - sizeof("/ctr-run"));
  char *slash;
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  slash = strrchr(buf, '/');
  if (slash == NULL)
    return -1;
  strcpy(slash, "/ctr-run");
  return 0;
}

int main(int argc, char **argv) {
  struct margs m;
  struct run_log_stream out = {.fd = 4, .name = "stdout", .echo_fd = -1};
  struct run_log_stream errs = {.fd = 5, .name = "stderr", .echo_fd = -1};
  char self[PATH_MAX], status_s[32], ran_s[32];
  struct timespec t0, t1;
  int status;

  if (parse(argc, argv, &m) < 0)
    return 2;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (fcntl(3, F_GETFD) < 0 || fcntl(4, F_GETFD) < 0) {
    fputs(PROG ": descriptors 3 (log) and 4 (output) must be open\n", stderr);
    return 2;
  }
  if (fcntl(5, F_GETFD) < 0)
    errs.fd = -1;
  /* nothing else of whoever started ctr-run stays open for weeks */
  close_range(errs.fd < 0 ? 5 : 6, ~0U, 0);
  for (int fd = 3; fd <= 5; fd++)
    fcntl(fd, F_SETFD, FD_CLOEXEC);

  status = wait_container(m.pid, 3, &out, &errs);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  snprintf(status_s, sizeof(status_s), "%d", status);
  snprintf(ran_s, sizeof(ran_s), "%lld", (long long)(t1.tv_sec - t0.tv_sec));
  if (ctr_run_path(self, sizeof(self)) == 0) {
    char *args[20];
    int n = 0;
    args[n++] = self;
    args[n++] = "_monitor-exit";
    args[n++] = "--root";
    args[n++] = (char *)m.root;
    args[n++] = "--rundir";
    args[n++] = (char *)m.rundir;
    args[n++] = "--status";
    args[n++] = status_s;
    args[n++] = "--count";
    args[n++] = (char *)m.count;
    args[n++] = "--delay";
    args[n++] = (char *)m.delay;
    args[n++] = "--ran";
    args[n++] = ran_s;
    if (m.pidfile != NULL) {
      args[n++] = "--pidfile";
      args[n++] = (char *)m.pidfile;
    }
    args[n++] = (char *)m.id;
    args[n] = NULL;
    execv(self, args);
  }
  /* Nobody left to record the end: say so where the user will look. The
   * running file then names no live process, and every tool reports the
   * container exited with an unknown code. */
  {
    char msg[256];
    int len = snprintf(msg, sizeof(msg), PROG ": cannot run ctr-run to record the exit: %s\n",
                       strerror(errno));
    run_log_line(3, "stderr", msg, (size_t)len);
  }
  return 1;
}
