#define _GNU_SOURCE
#include "exec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "container.h"
#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"
#include "create.h"
#include "envopt.h"
#include "process.h"
#include "procsetup.h"
#include "relay.h"
#include "state.h"
#include "user.h"

/* ---- the plan: what the new process gets, decided before any fork --------- */

#define NS_KINDS 7

/* The container's init, whose namespaces the new process joins. */
struct exec_target {
  pid_t pid;
  unsigned long long start; /* its start time: a reused pid is another process */
  int pidfd;                /* -1 where pidfd_open is missing (valgrind) */
  int nsfd[NS_KINDS];       /* then an fd per namespace to join, else -1 */
  int nsflags;              /* the namespaces to join */
};

struct exec_start {
  struct exec_target t;
  const json_t *process;    /* OCI process object of the new process */
  struct run_seccomp_prog prog; /* linux.seccomp compiled; fprog.len 0: none */
  struct run_cgroup *cgroup;
  int stdio[3];             /* -1: keep ours (ignored with a pty) */
  bool tty;                 /* a pty from the container's devpts */
  pid_t pid;                /* out: the new process, our child */
  int pty_master;           /* out: with tty, its master side */
};

/* In the order they are joined one by one: the user namespace first, so
 * we hold capabilities in it for the others. */
static const struct {
  const char *type, *file;
  int flag;
} ns_kinds[NS_KINDS] = {
    {"user", "user", CLONE_NEWUSER}, {"pid", "pid", CLONE_NEWPID},
    {"network", "net", CLONE_NEWNET}, {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},     {"mount", "mnt", CLONE_NEWNS},
    {"cgroup", "cgroup", CLONE_NEWCGROUP},
};

/* Same namespace as ours? Joining it would be a no-op, and for a user
 * namespace the kernel refuses it. */
static bool same_ns(pid_t pid, const char *file) {
  char path[64];
  struct stat a, b;
  snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, file);
  if (stat(path, &a) < 0)
    return false;
  snprintf(path, sizeof(path), "/proc/self/ns/%s", file);
  return stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The namespaces config.json lists, as setns flags. */
static int ns_flags(const json_t *config, pid_t init, int *flags, ctr_err *err) {
  json_t *ns = json_object_get(json_object_get(config, "linux"), "namespaces"), *n;
  size_t i;
  *flags = 0;
  json_array_foreach(ns, i, n) {
    const char *type = ctr_json_str(n, "type");
    size_t k;
    for (k = 0; k < NS_KINDS; k++)
      if (type && strcmp(type, ns_kinds[k].type) == 0)
        break;
    if (k == NS_KINDS)
      return ctr_fail(err, 0, "unknown namespace type %s", type ? type : "(none)");
    if (!same_ns(init, ns_kinds[k].file))
      *flags |= ns_kinds[k].flag;
  }
  return 0;
}

/* Is pid in the cgroup `path` (or below it) in some hierarchy? Guards
 * against a recycled pid when the state is stale. */
static bool in_cgroup(pid_t pid, const char *path) {
  cleanup_fclose FILE *f = NULL;
  char file[64], line[4096], want[4096];
  size_t wl;
  snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
  snprintf(want, sizeof(want), "%s%s", path[0] == '/' ? "" : "/", path);
  wl = strlen(want);
  f = fopen(file, "re");
  if (f == NULL)
    return false;
  while (fgets(line, sizeof(line), f) != NULL) {
    char *p = strchr(line, ':');
    p = p ? strchr(p + 1, ':') : NULL;
    if (p == NULL)
      continue;
    p++;
    p[strcspn(p, "\n")] = '\0';
    if (strncmp(p, want, wl) == 0 && (p[wl] == '\0' || p[wl] == '/'))
      return true;
  }
  return false;
}

/* Still the process we looked at? Everything opened through /proc before
 * a true answer belongs to it. */
static bool target_alive(const struct exec_target *t) {
  if (t->pidfd >= 0) {
    if (syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) == 0)
      return true;
    if (errno != ENOSYS)
      return false;
  }
  return t->start != 0 && run_pid_start_time(t->pid) == t->start;
}

static void target_close(struct exec_target *t) {
  if (t->pidfd >= 0)
    close(ctr_steal_fd(t->pidfd));
  for (int k = 0; k < NS_KINDS; k++)
    if (t->nsfd[k] >= 0)
      close(ctr_steal_fd(t->nsfd[k]));
}

/* The container's init from its state, checked to be that process (a
 * stale state may name a recycled pid), and a handle on its namespaces:
 * a pidfd, or where the kernel (or valgrind) lacks pidfd_open, an fd for
 * each namespace. */
static int target_open(const struct run_container *c, const json_t *config, const char *ref,
                       struct exec_target *t, ctr_err *err) {
  const char *status = ctr_json_str(c->state, "status");
  const char *cgpath = ctr_json_str(json_object_get(config, "linux"), "cgroupsPath");
  t->pid = (pid_t)json_integer_value(json_object_get(c->state, "pid"));
  if (status == NULL || strcmp(status, "running") != 0 || t->pid <= 0)
    return ctr_fail(err, 0, "container %s is not running", ref);
  t->start = run_pid_start_time(t->pid);
  t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
  if (t->pidfd < 0 && errno != ENOSYS)
    return errno == ESRCH ? ctr_fail(err, 0, "container %s is not running", ref)
                          : ctr_fail(err, errno, "pidfd_open %d", t->pid);
  if (ns_flags(config, t->pid, &t->nsflags, err) < 0)
    return -1;
  for (int k = 0; t->pidfd < 0 && k < NS_KINDS; k++) {
    char path[64];
    if (!(t->nsflags & ns_kinds[k].flag))
      continue;
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", t->pid, ns_kinds[k].file);
    t->nsfd[k] = open(path, O_RDONLY | O_CLOEXEC);
    if (t->nsfd[k] < 0)
      return ctr_fail(err, 0, "container %s is not running", ref);
  }
  if ((cgpath != NULL && !in_cgroup(t->pid, cgpath)) || !target_alive(t))
    return ctr_fail(err, 0, "container %s is not running", ref);
  ctr_debug("exec: joining namespaces 0x%x of pid %d through %s", (unsigned)t->nsflags,
            (int)t->pid, t->pidfd >= 0 ? "a pidfd" : "/proc/PID/ns");
  return 0;
}

/* In A: enter them all, at once where a pidfd allows. */
static int target_join(const struct exec_target *t, ctr_err *err) {
  if (t->pidfd >= 0)
    return t->nsflags == 0 || setns(t->pidfd, t->nsflags) == 0
               ? 0
               : ctr_fail(err, errno, "join the container's namespaces");
  for (int k = 0; k < NS_KINDS; k++)
    if (t->nsfd[k] >= 0 && setns(t->nsfd[k], ns_kinds[k].flag) < 0)
      return ctr_fail(err, errno, "join the container's %s namespace", ns_kinds[k].type);
  return 0;
}

static const char *env_get(const json_t *env, const char *key) {
  size_t klen = strlen(key), i;
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
      return s + klen + 1;
  }
  return NULL;
}

/* Every capability in our bounding set, for --privileged. */
static json_t *bounding_caps(void) {
  json_t *all = json_array();
  for (cap_value_t v = 0; all != NULL && v <= CAP_LAST_CAP; v++) {
    char *name;
    if (prctl(PR_CAPBSET_READ, v, 0, 0, 0) != 1 || (name = cap_to_name(v)) == NULL)
      continue;
    for (char *p = name; *p; p++)
      *p = (char)toupper((unsigned char)*p);
    json_array_append_new(all, json_string(name));
    cap_free(name);
  }
  return all;
}

/* -u: the user from the container's passwd and group files. HOME follows
 * the user when it was the container user's home (docker sets it from the
 * user's passwd entry unless the image set it). */
static int exec_user(json_t *process, json_t *env, const char *spec, int rootfd,
                     ctr_err *err) {
  const json_t *cur = json_object_get(process, "user");
  struct run_user u, cu;
  char uid[24], *home = NULL;
  const char *old_home = env_get(env, "HOME");
  json_t *groups = json_array();
  ctr_err e = NULL;
  if (run_user_resolve(rootfd, spec, &u, err) < 0) {
    json_decref(groups);
    return ctr_wrap(err, "-u %s", spec);
  }
  snprintf(uid, sizeof(uid), "%lld", (long long)json_integer_value(json_object_get(cur, "uid")));
  for (size_t i = 0; i < u.ngroups; i++)
    json_array_append_new(groups, json_integer(u.groups[i]));
  /* replacing "user" frees cur */
  json_object_set_new(process, "user", json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u.uid,
                                                 "gid", (json_int_t)u.gid, "additionalGids", groups));
  if (old_home == NULL) {
    if (asprintf(&home, "HOME=%s", u.home ? u.home : "/") < 0)
      home = NULL;
  } else if (run_user_resolve(rootfd, uid, &cu, &e) == 0) {
    if (cu.home && strcmp(cu.home, old_home) == 0 &&
        asprintf(&home, "HOME=%s", u.home ? u.home : "/") < 0)
      home = NULL;
    run_user_free(&cu);
  }
  ctr_err_free(&e);
  if (home != NULL)
    run_env_set(env, home);
  free(home);
  run_user_free(&u);
  return 0;
}

/* The OCI process object of the new process: the container's, with the
 * command, environment, cwd, user and capabilities exec asks for. */
static int exec_process(const json_t *config, const struct run_exec *x, int rootfd,
                        json_t **out, ctr_err *err) {
  cleanup_json json_t *process = json_deep_copy(json_object_get(config, "process"));
  json_t *env, *v;
  size_t i;
  if (process == NULL)
    process = json_object();
  env = json_deep_copy(json_object_get(process, "env"));
  if (env == NULL)
    env = json_array();
  json_object_set_new(process, "env", env);
  if (x->tty && !x->detach && env_get(env, "TERM") == NULL)
    run_env_set(env, "TERM=xterm");
  if (x->user != NULL && exec_user(process, env, x->user, rootfd, err) < 0)
    return -1;
  json_array_foreach(x->env, i, v) run_env_set(env, json_string_value(v));
  json_object_set(process, "args", x->args);
  json_object_set_new(process, "terminal", json_boolean(x->tty && !x->detach));
  if (x->workdir != NULL)
    json_object_set_new(process, "cwd", json_string(x->workdir));
  else if (ctr_json_str(process, "cwd") == NULL)
    json_object_set_new(process, "cwd", json_string("/"));
  if (x->privileged) {
    json_t *all = bounding_caps();
    json_object_set_new(process, "capabilities",
                        json_pack("{s:O, s:O, s:O, s:[], s:[]}", "bounding", all, "effective",
                                  all, "permitted", all, "inheritable", "ambient"));
    json_decref(all);
  }
  *out = ctr_steal(process);
  return 0;
}

/* ---- the children ------------------------------------------------------------ */

/* What A or B tell the parent. */
struct exec_msg {
  enum { MSG_PID = 1, MSG_FAIL, MSG_PTY } kind;
  int exit_class;
  pid_t pid;
  char msg[1024];
};

static __attribute__((noreturn)) void child_fail(int sock, int exit_class, ctr_err *err) {
  struct exec_msg m = {.kind = MSG_FAIL, .exit_class = exit_class};
  snprintf(m.msg, sizeof(m.msg), "%s", *err && (*err)->msg ? (*err)->msg : "exec failed");
  if (write(sock, &m, sizeof(m)) < 0) {
    /* the parent is gone: nobody to tell */
  }
  _exit(exit_class);
}

/* The container's process starts with default signal handling, whatever
 * ctr-exec had blocked or ignored. */

/* A pty from the container's own devpts (so its name means something
 * inside): the slave becomes our controlling terminal and stdio, the
 * master goes to the parent. */
static int child_pty(int sock, ctr_err *err) {
  struct exec_msg m = {.kind = MSG_PTY};
  struct winsize ws;
  cleanup_close int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  cleanup_close int slave = -1;
  if (master < 0 || unlockpt(master) < 0)
    return ctr_fail(err, errno, "allocate a pty");
  slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return ctr_fail(err, errno, "open the pty");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return ctr_fail(err, errno, "set the controlling terminal");
  /* Our terminal's size, before the exec: the command may look at once,
   * before the parent's relay starts. */
  if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl(slave, TIOCSWINSZ, &ws);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0)
      return ctr_fail(err, errno, "set up the terminal");
  if (run_proc_send_fd(sock, &m, sizeof(m), master) < 0)
    return ctr_fail(err, errno, "send the pty");
  return 0;
}

static int child_stdio(const struct exec_start *s, int sock, ctr_err *err) {
  if (setsid() < 0)
    return ctr_fail(err, errno, "setsid");
  if (s->tty)
    return child_pty(sock, err);
  for (int fd = 0; fd < 3; fd++)
    if (s->stdio[fd] >= 0 && s->stdio[fd] != fd && dup2(s->stdio[fd], fd) < 0)
      return ctr_fail(err, errno, "set up stdio");
  return 0;
}

/* B: inside every namespace and the cgroup; become the process. */
static __attribute__((noreturn)) void exec_child(const struct exec_start *s, int sock) {
  const json_t *process = s->process;
  const char *cwd = ctr_json_str(process, "cwd");
  ctr_err err = NULL;

  run_proc_reset_signals();
  if (child_stdio(s, sock, &err) < 0)
    child_fail(sock, RUN_EXIT_CANNOT_EXEC, &err);
  if (chdir(cwd) < 0) {
    ctr_fail(&err, errno, "chdir %s", cwd);
    child_fail(sock, RUN_EXIT_CANNOT_EXEC, &err);
  }
  if (run_proc_rlimits(process, &err) < 0)
    child_fail(sock, RUN_EXIT_CANNOT_EXEC, &err);
  run_proc_oom_score(process);
  child_fail(sock, run_proc_finish(process, &s->prog, RUN_EXIT_CANNOT_EXEC, &err), &err);
}

/* A: waits until it is in the cgroup, joins the namespaces, starts B as
 * the parent's child, says who B is, and goes. */
static __attribute__((noreturn)) void exec_intermediate(const struct exec_start *s, int sock) {
  struct exec_msg m = {.kind = MSG_PID};
  ctr_err err = NULL;
  char go;
  pid_t pid;
  if (read(sock, &go, 1) != 1)
    _exit(RUN_EXEC_FAILED);
  /* Not dumpable: the container cannot ptrace us nor open our
   * /proc/PID/exe; B inherits it, and the exec resets it. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
    ctr_fail(&err, errno, "prctl PR_SET_DUMPABLE");
    child_fail(sock, RUN_EXEC_FAILED, &err);
  }
  if (target_join(&s->t, &err) < 0)
    child_fail(sock, RUN_EXEC_FAILED, &err);
  /* Joining the mount namespace put root and cwd at its root; make sure
   * no host directory stays our cwd either way. */
  if (chdir("/") < 0) {
    ctr_fail(&err, errno, "chdir /");
    child_fail(sock, RUN_EXEC_FAILED, &err);
  }
  pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), NULL, NULL, NULL, NULL);
  if (pid < 0) {
    ctr_fail(&err, errno, "start a process in the container");
    child_fail(sock, RUN_EXEC_FAILED, &err);
  }
  if (pid == 0)
    exec_child(s, sock);
  m.pid = pid;
  if (write(sock, &m, sizeof(m)) < 0)
    _exit(RUN_EXEC_FAILED);
  _exit(0);
}

/* ---- the parent -------------------------------------------------------------- */

static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* One message from A or B, with the fd it carries (else -1) in *fd.
 * Returns its size, 0 at EOF, -1 on error. */
static ssize_t recv_msg(int sock, struct exec_msg *m, int *fd) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {m, sizeof(*m)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof(ctl.buf)};
  struct cmsghdr *c;
  ssize_t n;
  *fd = -1;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
      c->cmsg_len == CMSG_LEN(sizeof(int)))
    memcpy(fd, CMSG_DATA(c), sizeof(int));
  if (n > 0 && n != (ssize_t)sizeof(*m))
    m->kind = 0;
  return n;
}

/* The container sent it: make sure it is a pty master before we relay
 * our terminal into it. */
static bool is_ptmx(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 &&
         minor(st.st_rdev) == 2;
}

/* Start the process; on success s->pid is it, exec'd. */
static int exec_start(struct exec_start *s, int *exit_class, ctr_err *err) {
  cleanup_close int parent_end = -1;
  struct exec_msg m, fail = {0};
  int sock[2], fd;
  pid_t a, b = -1;
  ssize_t n;

  *exit_class = RUN_EXEC_FAILED;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
    return ctr_fail(err, errno, "socketpair");
  parent_end = sock[0];
  a = fork();
  if (a < 0) {
    close(sock[1]);
    return ctr_fail(err, errno, "fork");
  }
  if (a == 0) {
    close(sock[0]);
    exec_intermediate(s, sock[1]);
  }
  close(sock[1]);
  /* In the cgroup before it enters: everything it starts is counted. */
  if (s->cgroup != NULL && run_cgroup_add(s->cgroup, a, err) < 0) {
    kill(a, SIGKILL);
    reap(a);
    return ctr_wrap(err, "join the container's cgroup");
  }
  if (write(parent_end, "g", 1) != 1) {
    kill(a, SIGKILL);
    reap(a);
    return ctr_fail(err, errno, "start the process");
  }
  /* B's pid from A, the pty's master from B, a failure from either, then
   * EOF: A is gone and B has exec'd (or died). */
  while ((n = recv_msg(parent_end, &m, &fd)) != 0) {
    if (n < 0)
      break;
    if (m.kind == MSG_PID)
      b = m.pid;
    else if (m.kind == MSG_FAIL && fail.kind == 0)
      fail = m;
    else if (m.kind == MSG_PTY && fd >= 0 && s->pty_master < 0 && is_ptmx(fd))
      s->pty_master = ctr_steal_fd(fd);
    if (fd >= 0)
      close(fd);
  }
  reap(a);
  if (fail.kind == MSG_FAIL) {
    if (b > 0)
      reap(b);
    if (s->pty_master >= 0)
      close(ctr_steal_fd(s->pty_master));
    fail.msg[sizeof(fail.msg) - 1] = '\0';
    *exit_class = fail.exit_class;
    return ctr_fail(err, 0, "%s", fail.msg);
  }
  if (b <= 0 || (s->tty && s->pty_master < 0)) {
    if (b > 0) {
      kill(b, SIGKILL);
      reap(b);
    }
    if (s->pty_master >= 0)
      close(ctr_steal_fd(s->pty_master));
    return ctr_fail(err, 0, "the process did not start");
  }
  s->pid = b;
  return 0;
}

/* Everything about the container the plan needs: init's pidfd, the
 * namespaces, the cgroup, the new process's description. */
static int exec_plan(const struct ctr_paths *p, const char *ref, struct run_exec *x,
                     struct exec_start *s, json_t **config, json_t **process, ctr_err *err) {
  struct run_container c = {0};
  cleanup_close int rootfd = -1;
  const json_t *seccomp;
  const char *cgpath;
  char root[64];
  int ret = -1;

  if (run_container_find(p, ref, &c, err) < 0)
    return -1;
  if (run_state_refresh(p, &c, err) < 0 || run_config_load(&c, config, err) < 0 ||
      target_open(&c, *config, ref, &s->t, err) < 0)
    goto out;
  /* The container's root as its init sees it, mounts and all: where -u
   * is looked up. */
  snprintf(root, sizeof(root), "/proc/%d/root", s->t.pid);
  rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || !target_alive(&s->t)) {
    ctr_fail(err, 0, "container %s is not running", ref);
    goto out;
  }
  cgpath = ctr_json_str(json_object_get(*config, "linux"), "cgroupsPath");
  if (cgpath != NULL && run_cgroup_open(cgpath, &s->cgroup, err) < 0) {
    ctr_wrap(err, "cgroup of container %s", ref);
    goto out;
  }
  if (exec_process(*config, x, rootfd, process, err) < 0) {
    /* docker exec's class for what its runtime refuses (an unknown user) */
    x->exit_code = RUN_EXIT_CANNOT_EXEC;
    goto out;
  }
  s->process = *process;
  /* compiled here, once, and only loaded by the new process */
  seccomp = x->privileged ? NULL : json_object_get(json_object_get(*config, "linux"), "seccomp");
  if (seccomp != NULL && run_seccomp_prepare(NULL, seccomp, &s->prog, err) < 0) {
    x->exit_code = RUN_EXIT_CANNOT_EXEC;
    goto out;
  }
  ret = 0;
out:
  run_container_free(&c);
  return ret;
}

int run_exec(const struct ctr_paths *p, const char *ref, struct run_exec *x, ctr_err *err) {
  struct exec_start s = {.t = {.pidfd = -1}, .stdio = {-1, -1, -1}, .pid = -1, .pty_master = -1};
  cleanup_json json_t *config = NULL;
  cleanup_json json_t *process = NULL;
  cleanup_close int devnull = -1;
  cleanup_close int master = -1;
  sigset_t set, old;
  int status = 0, ret = -1;

  for (int k = 0; k < NS_KINDS; k++)
    s.t.nsfd[k] = -1;
  x->exit_code = RUN_EXEC_FAILED;
  if (exec_plan(p, ref, x, &s, &config, &process, err) < 0)
    goto out;
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    ctr_fail(err, errno, "/dev/null");
    goto out;
  }
  if (x->detach)
    s.stdio[0] = s.stdio[1] = s.stdio[2] = devnull;
  else if (!x->interactive && !x->tty)
    s.stdio[0] = devnull;
  s.tty = x->tty && !x->detach;
  /* Signals wait in the signalfd from before the start: none is lost. */
  run_relay_signals(&set);
  sigprocmask(SIG_BLOCK, &set, &old);
  ret = exec_start(&s, &x->exit_code, err);
  master = s.pty_master;
  if (ret == 0 && x->detach) {
    x->exit_code = 0;
  } else if (ret == 0) {
    ret = run_relay_wait(s.pid, master, x->interactive, &set, &status, err);
    if (ret < 0) {
      kill(s.pid, SIGKILL);
      waitpid(s.pid, &status, 0);
    }
    x->exit_code = ret < 0 ? RUN_EXEC_FAILED : run_exit_code(status);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
out:
  target_close(&s.t);
  run_seccomp_prog_free(&s.prog);
  if (s.cgroup != NULL)
    run_cgroup_free(s.cgroup);
  return ret;
}
