#define _GNU_SOURCE
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "procsetup.h"
#include "rootfs.h"
#include "seccomp_bpf.h"

/* What the child tells the parent when it cannot go on. */
struct child_report {
  int exit_class;
  char msg[1024];
};

static const struct {
  const char *type;
  int flag;
} ns_flags[] = {
    {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"mount", CLONE_NEWNS},    {"cgroup", CLONE_NEWCGROUP},
    {"user", CLONE_NEWUSER},
};

static int clone_flags(const json_t *config, ctr_err *err) {
  json_t *ns = json_object_get(json_object_get(config, "linux"), "namespaces"), *n;
  size_t i;
  int flags = 0;
  json_array_foreach(ns, i, n) {
    const char *type = ctr_json_str(n, "type");
    bool known = false;
    if (ctr_json_str(n, "path") != NULL)
      return ctr_fail(err, 0, "joining an existing %s namespace is not supported yet",
                      type ? type : "?");
    for (size_t k = 0; k < sizeof(ns_flags) / sizeof(ns_flags[0]); k++)
      if (type && strcmp(type, ns_flags[k].type) == 0) {
        flags |= ns_flags[k].flag;
        known = true;
      }
    if (!known)
      return ctr_fail(err, 0, "unknown namespace type %s", type ? type : "(none)");
  }
  return flags;
}

static int write_map(pid_t pid, const char *file, const json_t *maps, ctr_err *err) {
  char path[64], buf[4096];
  size_t off = 0, i;
  json_t *m;
  cleanup_close int fd = -1;
  json_array_foreach(maps, i, m) {
    int n = snprintf(buf + off, sizeof(buf) - off, "%lld %lld %lld\n",
                     (long long)json_integer_value(json_object_get(m, "containerID")),
                     (long long)json_integer_value(json_object_get(m, "hostID")),
                     (long long)json_integer_value(json_object_get(m, "size")));
    if (n < 0 || (size_t)n >= sizeof(buf) - off)
      return ctr_fail(err, E2BIG, "%s", file);
    off += (size_t)n;
  }
  snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, buf, off) != (ssize_t)off)
    return ctr_fail(err, errno, "write %s", path);
  return 0;
}

/* ---- the child ------------------------------------------------------------ */

static __attribute__((noreturn)) void child_fail(int sock, int exit_class, ctr_err *err) {
  struct child_report r = {.exit_class = exit_class};
  snprintf(r.msg, sizeof(r.msg), "%s", *err && (*err)->msg ? (*err)->msg : "container setup failed");
  if (write(sock, &r, sizeof(r)) < 0) {
    /* the parent is gone; nothing left to tell */
  }
  _exit(exit_class);
}

/* lo comes up in a new network namespace, as in docker's "none". */
static int loopback_up(ctr_err *err) {
  struct ifreq ifr = {0};
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return ctr_fail(err, errno, "socket");
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    return ctr_fail(err, errno, "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    return ctr_fail(err, errno, "bring lo up");
  return 0;
}

/* Open a pty in the container's /dev/pts, make its slave our controlling
 * terminal and stdio, and pass the master to the parent over sock. */
static int container_pty(int sock, ctr_err *err) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
  char name[64];
  struct child_report r = {.exit_class = 0};
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
      ptsname_r(master, name, sizeof(name)) != 0)
    return ctr_fail(err, errno, "allocate a pty");
  slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0)
    return ctr_fail(err, errno, "open %s", name);
  {
    /* our terminal's size, before the command can ask for it */
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
      ioctl(slave, TIOCSWINSZ, &ws);
  }
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return ctr_fail(err, errno, "set the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    dup2(slave, fd);
  if (slave > 2)
    close(slave);
  if (run_proc_send_fd(sock, &r, sizeof(r), master) < 0)
    return ctr_fail(err, errno, "send the pty");
  close(master);
  return 0;
}

static void child_main(struct run_start *s, int sock, int flags,
                       const struct run_seccomp_prog *prog) {
  const json_t *config = s->config;
  const json_t *process = json_object_get(config, "process");
  const char *cwd = ctr_json_str(process, "cwd");
  const char *hostname = ctr_json_str(config, "hostname");
  bool tty = json_is_true(json_object_get(process, "terminal"));
  char go;
  ctr_err err = NULL;

  /* Wait until the parent has placed us in the cgroup and written maps. */
  if (read(sock, &go, 1) != 1)
    _exit(RUN_EXIT_FAILED);
  /* nothing of the runtime's signal handling reaches the container */
  run_proc_reset_signals();
  if ((flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
    ctr_fail(&err, errno, "become root in the user namespace");
    child_fail(sock, RUN_EXIT_FAILED, &err);
  }
  /* Only now that we are in our cgroup: the namespace's root is it. */
  if ((flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
    ctr_fail(&err, errno, "cgroup namespace");
    child_fail(sock, RUN_EXIT_FAILED, &err);
  }
  if (setsid() < 0) {
    ctr_fail(&err, errno, "setsid");
    child_fail(sock, RUN_EXIT_FAILED, &err);
  }
  if (!tty) {
    for (int fd = 0; fd < 3; fd++)
      if (s->stdio[fd] >= 0 && s->stdio[fd] != fd && dup2(s->stdio[fd], fd) < 0) {
        ctr_fail(&err, errno, "set up stdio");
        child_fail(sock, RUN_EXIT_FAILED, &err);
      }
  }
  if ((flags & CLONE_NEWUTS) && hostname && sethostname(hostname, strlen(hostname)) < 0) {
    ctr_fail(&err, errno, "sethostname %s", hostname);
    child_fail(sock, RUN_EXIT_FAILED, &err);
  }
  if ((flags & CLONE_NEWNET) && loopback_up(&err) < 0)
    child_fail(sock, RUN_EXIT_FAILED, &err);
  if (run_rootfs_setup(s->bundle, config, &err) < 0)
    child_fail(sock, RUN_EXIT_FAILED, &err);
  /* The pty comes from the container's own devpts, so its name means
   * something inside; the master goes to the parent. */
  if (tty && container_pty(sock, &err) < 0)
    child_fail(sock, RUN_EXIT_FAILED, &err);
  if (run_proc_rlimits(process, &err) < 0)
    child_fail(sock, RUN_EXIT_FAILED, &err);
  run_proc_oom_score(process);
  /* docker creates a missing working directory */
  if (cwd == NULL)
    cwd = "/";
  if (ctr_mkdir_p(AT_FDCWD, cwd, 0755, &err) < 0 || chdir(cwd) < 0) {
    if (err == NULL)
      ctr_fail(&err, errno, "chdir %s", cwd);
    child_fail(sock, RUN_EXIT_FAILED, &err);
  }
  child_fail(sock, run_proc_finish(process, prog, RUN_EXIT_FAILED, &err), &err);
}

/* ---- the parent ----------------------------------------------------------- */

int run_exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 255;
}

static int reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

int run_process_start(struct run_start *s, int *exit_class, ctr_err *err) {
  const json_t *lx = json_object_get(s->config, "linux");
  const char *cgpath = ctr_json_str(lx, "cgroupsPath");
  int sock[2] = {-1, -1}, master = -1;
  int flags = clone_flags(s->config, err);
  struct child_report rep;
  struct run_seccomp_prog prog = {0};
  const json_t *seccomp = json_object_get(lx, "seccomp");
  ssize_t n;
  pid_t pid;

  *exit_class = RUN_EXIT_FAILED;
  s->pid = -1;
  s->pty_master = -1;
  s->cgroup = NULL;
  if (flags < 0)
    return -1;
  /* The filter is made here, where its cache is reachable; the child
   * only loads it. */
  if (seccomp != NULL && run_seccomp_prepare(s->seccomp_cache, seccomp, &prog, err) < 0)
    return -1;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
    ctr_fail(err, errno, "socketpair");
    goto fail;
  }
  if (cgpath != NULL &&
      run_cgroup_create(cgpath, json_object_get(lx, "resources"), &s->cgroup, err) < 0)
    goto fail;
  pid = (pid_t)syscall(SYS_clone, (unsigned long)(flags & ~CLONE_NEWCGROUP) | SIGCHLD, NULL,
                       NULL, NULL, NULL);
  if (pid < 0) {
    ctr_fail(err, errno, "clone");
    goto fail;
  }
  if (pid == 0) {
    close(sock[0]);
    child_main(s, sock[1], flags, &prog);
    _exit(RUN_EXIT_FAILED);
  }
  close(sock[1]);
  sock[1] = -1;
  s->pid = pid;
  if (flags & CLONE_NEWUSER) {
    if (write_map(pid, "uid_map", json_object_get(lx, "uidMappings"), err) < 0 ||
        write_map(pid, "gid_map", json_object_get(lx, "gidMappings"), err) < 0)
      goto fail_child;
  }
  /* In its cgroup before it does anything: its cgroup namespace, made
   * next, is rooted there. */
  if (s->cgroup != NULL && run_cgroup_add(s->cgroup, pid, err) < 0)
    goto fail_child;
  if (s->before_start != NULL && s->before_start(s->before_start_arg, pid, err) < 0)
    goto fail_child;
  if (write(sock[0], "g", 1) != 1) {
    ctr_fail(err, errno, "start the container");
    goto fail_child;
  }
  /* A message with an fd: the pty's master. A report: failure. EOF: the
   * exec happened and closed the child's end. */
  for (;;) {
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {&rep, sizeof(rep)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c;
    n = recvmsg(sock[0], &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
      continue;
    c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (c != NULL && c->cmsg_type == SCM_RIGHTS) {
      memcpy(&master, CMSG_DATA(c), sizeof(int));
      continue;
    }
    break;
  }
  close(sock[0]);
  sock[0] = -1;
  if (n > 0) {
    rep.msg[sizeof(rep.msg) - 1] = '\0';
    *exit_class = rep.exit_class;
    ctr_fail(err, 0, "%s", rep.msg);
    reap(pid);
    s->pid = -1;
    goto fail;
  }
  s->pty_master = master;
  run_seccomp_prog_free(&prog);
  return 0;
fail_child:
  kill(pid, SIGKILL);
  reap(pid);
  s->pid = -1;
fail:
  if (sock[0] >= 0)
    close(sock[0]);
  if (sock[1] >= 0)
    close(sock[1]);
  run_seccomp_prog_free(&prog);
  if (master >= 0)
    close(master);
  if (s->cgroup != NULL) {
    ctr_err e = NULL;
    run_cgroup_destroy(s->cgroup, &e);
    ctr_err_free(&e);
    s->cgroup = NULL;
  }
  return -1;
}
