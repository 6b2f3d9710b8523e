#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "create.h"
#include "process.h"
#include "state.h"

static int write_pidfile(const char *path, pid_t pid, ctr_err *err) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d\n", pid);
  return ctr_atomic_write(AT_FDCWD, path, buf, (size_t)n, 0644, false, err);
}

/* Copy what is readable from `from` to `to`; -1 at EOF or error. */
static int pump(int from, int to) {
  char buf[8192];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0)
    return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    off += w;
  }
  return 0;
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0)
    ioctl(to, TIOCSWINSZ, &ws);
}

/* Forward signals to the container and, with a pty, move bytes between
 * our terminal and it, until the container's process ends. */
static int wait_loop(pid_t pid, int master, bool interactive, const sigset_t *set,
                     int *status, ctr_err *err) {
  cleanup_close int sfd = -1;
  bool in_open = master >= 0 && interactive, out_open = master >= 0;
  sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    return ctr_fail(err, errno, "signalfd");
  if (master >= 0 && isatty(STDIN_FILENO))
    copy_winsize(STDIN_FILENO, master);
  for (;;) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0},
                            {out_open ? master : -1, POLLIN, 0}};
    struct signalfd_siginfo si;
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "poll");
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
      if (pump(master, STDOUT_FILENO) < 0)
        out_open = false;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
      if (pump(STDIN_FILENO, master) < 0) {
        /* EOF on our stdin: send the terminal's EOF character. */
        if (write(master, "\x04", 1) < 0) {
        }
        in_open = false;
      }
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      if (si.ssi_signo == SIGCHLD)
        continue;
      if (si.ssi_signo == SIGWINCH) {
        if (master >= 0 && isatty(STDIN_FILENO))
          copy_winsize(STDIN_FILENO, master);
        continue;
      }
      kill(pid, (int)si.ssi_signo);
    }
    if (waitpid(pid, status, WNOHANG) == pid) {
      /* Whatever the container wrote last is still in the pty. */
      while (out_open && pump(master, STDOUT_FILENO) == 0) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
          break;
      }
      return 0;
    }
  }
}

int run_supervise_finish(const struct ctr_paths *p, struct run_container *c,
                         struct run_cgroup *cg, int status, bool rm, bool record,
                         bool *oom_out, ctr_err *err) {
  bool oom = false;
  ctr_err e = NULL;
  if (cg != NULL) {
    if (run_cgroup_oom_killed(cg, &oom, &e) < 0)
      ctr_err_free(&e);
    /* nothing the container started may outlive it */
    run_cgroup_kill(cg, SIGKILL, &e);
    ctr_err_free(&e);
    if (run_cgroup_destroy(cg, &e) < 0)
      ctr_err_free(&e);
  }
  if (oom_out != NULL)
    *oom_out = oom;
  if (run_rootfs_unmount(c, err) < 0)
    return -1;
  if (!record)
    return 0;
  if (rm) {
    cleanup_free char *run = run_state_rundir_path(p, c->id, ".json");
    if (run != NULL)
      unlink(run);
    run_state_clear_stop(p, c->id);
    return run_container_delete(c, err);
  }
  run_state_clear_stop(p, c->id);
  return run_state_exited(p, c, run_exit_code(status), oom, err);
}

int run_supervise_foreground(struct run_container *c, const json_t *config,
                             struct run_supervise *sv, ctr_err *err) {
  struct run_start s = {.bundle = c->dir, .config = config, .stdio = {-1, -1, -1}};
  struct termios saved;
  bool raw = false;
  sigset_t set, old;
  cleanup_close int devnull = -1;
  int status = 0, exit_class, ret;

  sv->exit_code = RUN_EXIT_FAILED;
  if (!sv->interactive) {
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.stdio[0] = devnull;
  }
  /* Signals wait in the signalfd from before the start, so none is lost
   * between fork and the loop. */
  sigemptyset(&set);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
        sig != SIGFPE && sig != SIGILL && sig != SIGTTIN && sig != SIGTTOU && sig != SIGPIPE)
      sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  if (run_rootfs_mount(c, err) < 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return -1;
  }
  if (run_process_start(&s, &exit_class, err) < 0) {
    ctr_err e = NULL;
    sv->exit_code = exit_class;
    sigprocmask(SIG_SETMASK, &old, NULL);
    run_rootfs_unmount(c, &e);
    ctr_err_free(&e);
    if (sv->rm)
      run_container_delete(c, &e);
    ctr_err_free(&e);
    return -1;
  }
  if (run_state_running(sv->paths, c, s.pid, getpid(), "running", err) < 0 ||
      (sv->pidfile && write_pidfile(sv->pidfile, s.pid, err) < 0)) {
    kill(s.pid, SIGKILL);
  }
  if (s.pty_master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
  }
  ret = wait_loop(s.pid, s.pty_master, sv->interactive, &set, &status, err);
  if (raw)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (s.pty_master >= 0)
    close(s.pty_master);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (ret < 0) {
    kill(s.pid, SIGKILL);
    waitpid(s.pid, &status, 0);
  }
  if (sv->pidfile)
    unlink(sv->pidfile);
  sv->exit_code = run_exit_code(status);
  if (run_supervise_finish(sv->paths, c, s.cgroup, status, sv->rm, true, NULL,
                           ret < 0 ? NULL : err) < 0)
    return -1;
  return ret < 0 ? -1 : 0;
}
