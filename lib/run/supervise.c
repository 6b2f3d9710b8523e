#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "core/log.h"
#include "create.h"
#include "logwrite.h"
#include "attach.h"
#include "monitor.h"
#include "network.h"
#include "process.h"
#include "relay.h"
#include "state.h"
#include "volumes.h"

/* The foreground's streams: the container's output (a pty master, or
 * two pipes) goes both to our stdout/stderr and to the log. */
struct fg_io {
  int master; /* with -t */
  bool interactive;
  int in;     /* what the container reads: our stdin, or the front's socket */
  int ctl;    /* the front's messages, or -1 */
  int logfd;
  struct run_log_stream out, errs;
};

enum { LOOP_ENDED, LOOP_DETACH };

/* Forward signals to the container and move its bytes until its process
 * ends (LOOP_ENDED), or the front asks to detach or is gone (LOOP_DETACH). */
static int wait_loop(pid_t pid, struct fg_io *io, const sigset_t *set, int *status,
                     ctr_err *err) {
  cleanup_close int sfd = -1;
  bool in_open = io->master >= 0 && io->interactive;
  sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    return ctr_fail(err, errno, "signalfd");
  if (io->master >= 0 && isatty(STDIN_FILENO))
    run_relay_copy_winsize(STDIN_FILENO, io->master);
  for (;;) {
    struct pollfd fds[5] = {{sfd, POLLIN, 0},
                            {in_open ? io->in : -1, POLLIN, 0},
                            {io->out.fd, POLLIN, 0},
                            {io->errs.fd, POLLIN, 0},
                            {io->ctl, POLLIN, 0}};
    struct signalfd_siginfo si;
    if (poll(fds, 5, -1) < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "poll");
    }
    if (fds[2].revents && run_log_drain(&io->out, io->logfd) < 0)
      io->out.fd = -1;
    if (fds[3].revents && run_log_drain(&io->errs, io->logfd) < 0)
      io->errs.fd = -1;
    if (fds[4].revents) {
      char m = 0;
      /* 'D', or EOF: the front was killed; either way the container runs
       * on without a terminal to answer to */
      if (read(io->ctl, &m, 1) <= 0 || m == 'D')
        return LOOP_DETACH;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
      if (run_relay_pump(io->in, io->master) < 0) {
        /* EOF on our stdin: send the terminal's EOF character. */
        if (write(io->master, "\x04", 1) < 0) {
        }
        in_open = false;
      }
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      if (si.ssi_signo == SIGCHLD)
        continue;
      if (si.ssi_signo == SIGWINCH) {
        if (io->master >= 0 && isatty(STDIN_FILENO))
          run_relay_copy_winsize(STDIN_FILENO, io->master);
        continue;
      }
      kill(pid, (int)si.ssi_signo);
    }
    if (waitpid(pid, status, WNOHANG) == pid) {
      run_log_drain_now(&io->out, io->logfd);
      run_log_drain_now(&io->errs, io->logfd);
      return LOOP_ENDED;
    }
  }
}

bool run_config_has_ns(const json_t *config, const char *type) {
  size_t i;
  json_t *n;
  json_array_foreach(json_object_get(json_object_get(config, "linux"), "namespaces"), i, n) {
    const char *t = ctr_json_str(n, "type");
    if (t != NULL && strcmp(t, type) == 0 && ctr_json_str(n, "path") == NULL)
      return true;
  }
  return false;
}

int run_container_cgroup(struct run_container *c, const json_t *config, struct run_cgroup **cg,
                         ctr_err *err) {
  cleanup_json json_t *loaded = NULL;
  cleanup_free char *fallback = NULL;
  const char *path;
  ctr_err e = NULL;
  *cg = NULL;
  if (config == NULL && run_config_load(c, &loaded, &e) < 0)
    ctr_err_free(&e);
  if (config == NULL)
    config = loaded;
  path = ctr_json_str(json_object_get(config, "linux"), "cgroupsPath");
  if (path == NULL && config != NULL)
    return 0; /* made without a cgroup */
  if (path == NULL) {
    if (asprintf(&fallback, "ctr/%s", c->id) < 0)
      return ctr_fail(err, ENOMEM, "cgroup");
    path = fallback;
  }
  if (run_cgroup_open(path, cg, &e) < 0) {
    if (e != NULL && e->errnum == ENOENT) {
      ctr_err_free(&e);
      return 0;
    }
    *err = e;
    return -1;
  }
  return 0;
}

int run_supervise_remove(const struct ctr_paths *p, struct run_container *c, ctr_err *err) {
  cleanup_free char *run = run_state_rundir_path(p, c->id, ".json");
  ctr_err e = NULL;
  if (run != NULL)
    unlink(run);
  run_state_clear_stop(p, c->id);
  /* docker run --rm takes the anonymous volumes along, never named ones */
  if (run_volumes_remove(p, json_object_get(c->state, "anonymous_volumes"), &e) < 0) {
    ctr_warn("%s", e->msg);
    ctr_err_free(&e);
  }
  return run_container_delete(c, err);
}

int run_supervise_finish(const struct ctr_paths *p, struct run_container *c,
                         const json_t *config, struct run_cgroup *cg, int status, bool rm,
                         bool record, bool *oom_out, ctr_err *err) {
  bool oom = false;
  ctr_err e = NULL;
  /* the network first: its names and addresses go with the process */
  run_net_release(p, c);
  if (cg != NULL) {
    if (run_cgroup_oom_killed(cg, &oom, &e) < 0)
      ctr_err_free(&e);
    /* Nothing the container started may outlive it. With its own pid
     * namespace the kernel has seen to that already, when its init died. */
    if (!run_config_has_ns(config, "pid")) {
      run_cgroup_kill(cg, SIGKILL, &e);
      ctr_err_free(&e);
    }
    if (run_cgroup_destroy(cg, &e) < 0)
      ctr_err_free(&e);
  }
  if (oom_out != NULL)
    *oom_out = oom;
  if (run_rootfs_unmount(c, err) < 0)
    return -1;
  if (!record)
    return 0;
  if (rm)
    return run_supervise_remove(p, c, err);
  run_state_clear_stop(p, c->id);
  return run_state_exited(p, c, run_exit_code(status), oom, err);
}

static void close_all(int po[2], int pe[2], int logfd) {
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0)
      close(po[i]);
    if (pe[i] >= 0)
      close(pe[i]);
    po[i] = pe[i] = -1;
  }
  if (logfd >= 0)
    close(logfd);
}

/* The user typed the detach keys (or the front is gone): this process,
 * the container's parent, leaves the terminal's session and becomes its
 * monitor, as if it had been started with -d. Returns only on failure. */
static int detach(struct run_supervise *sv, struct run_container *c, struct run_start *s,
                  struct fg_io *io, ctr_err *err) {
  int status;
  if (io->out.len > 0)
    run_log_line(io->logfd, io->out.name, io->out.buf, io->out.len);
  run_monitor_leave_session();
  /* out of the terminal's session: the front may go (and the terminal
   * with it) */
  run_front_say(io->ctl, 'd');
  run_cgroup_free(s->cgroup);
  s->cgroup = NULL;
  run_monitor_exec(sv->paths, c, s->pid, io->logfd, s->pty_master, -1, sv->pidfile, 0, 100, err);
  /* no monitor: nothing would record the end, so end it now */
  kill(s->pid, SIGKILL);
  waitpid(s->pid, &status, 0);
  sv->exit_code = RUN_EXIT_FAILED;
  return -1;
}

int run_supervise_foreground(struct run_container *c, const json_t *config,
                             struct run_supervise *sv, ctr_err *err) {
  struct run_start s = {.bundle = c->dir, .config = config, .stdio = {-1, -1, -1}};
  struct run_net_start ns;
  struct termios saved;
  bool raw = false;
  sigset_t set, old;
  cleanup_close int devnull = -1;
  int status = 0, exit_class = RUN_EXIT_FAILED, ret;

  bool front = sv->front_io >= 0;
  struct fg_io io = {.master = -1,
                     .interactive = sv->interactive,
                     .in = front ? sv->front_io : STDIN_FILENO,
                     .ctl = front ? sv->front_ctl : -1,
                     .out = {.fd = -1, .name = "stdout",
                             .echo_fd = front ? sv->front_io : STDOUT_FILENO},
                     .errs = {.fd = -1, .name = "stderr", .echo_fd = STDERR_FILENO}};
  int po[2] = {-1, -1}, pe[2] = {-1, -1};
  bool tty = json_is_true(json_object_get(json_object_get(config, "process"), "terminal"));

  cleanup_free char *cache = NULL;
  sv->exit_code = RUN_EXIT_FAILED;
  if (asprintf(&cache, "%s/seccomp", sv->paths->rundir) >= 0)
    s.seccomp_cache = cache;
  if (!sv->interactive) {
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.stdio[0] = devnull;
  }
  /* like docker run, the output also goes to the container's log */
  io.logfd = run_log_open(c);
  if (!tty) {
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
      return ctr_fail(err, errno, "pipe");
    s.stdio[1] = po[1];
    s.stdio[2] = pe[1];
  }
  /* Signals wait in the signalfd from before the start, so none is lost
   * between fork and the loop. */
  sigemptyset(&set);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
        sig != SIGFPE && sig != SIGILL && sig != SIGTTIN && sig != SIGTTOU && sig != SIGPIPE)
      sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  run_net_start_init(&ns, sv->paths, c, config, &s);
  if (run_rootfs_mount(c, err) < 0 || run_process_start(&s, &exit_class, err) < 0) {
    ctr_err e = NULL;
    sv->exit_code = exit_class;
    run_net_release(sv->paths, c);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close_all(po, pe, io.logfd);
    run_rootfs_unmount(c, &e);
    ctr_err_free(&e);
    if (sv->rm)
      run_supervise_remove(sv->paths, c, &e);
    ctr_err_free(&e);
    return -1;
  }
  if (run_state_running(sv->paths, c, s.pid, getpid(), "running", err) < 0 ||
      (sv->pidfile && run_pidfile_write(sv->pidfile, s.pid, err) < 0)) {
    kill(s.pid, SIGKILL);
  }
  /* the terminal is the container's now (with a front, the front sets it) */
  run_front_say(io.ctl, 'S');
  if (!front && s.pty_master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
  }
  if (po[1] >= 0)
    close(po[1]);
  if (pe[1] >= 0)
    close(pe[1]);
  po[1] = pe[1] = -1;
  io.master = s.pty_master;
  io.out.fd = tty ? s.pty_master : po[0];
  io.errs.fd = tty ? -1 : pe[0];
  ret = wait_loop(s.pid, &io, &set, &status, err);
  if (ret == LOOP_DETACH)
    return detach(sv, c, &s, &io, err);
  close_all(po, pe, io.logfd);
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
  if (run_supervise_finish(sv->paths, c, config, s.cgroup, status, sv->rm, true, NULL,
                           ret < 0 ? NULL : err) < 0)
    return -1;
  return ret < 0 ? -1 : 0;
}
