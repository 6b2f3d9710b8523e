#define _GNU_SOURCE
#include "procsetup.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "core/cleanup.h"
#include "core/json.h"
#include "process.h"

static const struct {
  const char *name;
  int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int run_proc_rlimits(const json_t *process, ctr_err *err) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(process, "rlimits"), i, r) {
    const char *type = ctr_json_str(r, "type");
    struct rlimit rl = {(rlim_t)json_integer_value(json_object_get(r, "soft")),
                        (rlim_t)json_integer_value(json_object_get(r, "hard"))};
    size_t k, n = sizeof(rlimit_names) / sizeof(rlimit_names[0]);
    for (k = 0; k < n; k++)
      if (type && strcmp(type, rlimit_names[k].name) == 0)
        break;
    if (k == n)
      return ctr_fail(err, 0, "unknown rlimit %s", type ? type : "(none)");
    if (setrlimit(rlimit_names[k].res, &rl) < 0)
      return ctr_fail(err, errno, "setrlimit %s", type);
  }
  return 0;
}

void run_proc_oom_score(const json_t *process) {
  const json_t *adj = json_object_get(process, "oomScoreAdj");
  cleanup_close int fd = -1;
  char buf[32];
  int len;
  if (adj == NULL)
    return;
  fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  len = snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(adj));
  if (fd >= 0 && write(fd, buf, (size_t)len) < 0) {
    /* best effort, as runc: lowering it needs CAP_SYS_RESOURCE */
  }
}

int run_proc_user(const json_t *process, ctr_err *err) {
  const json_t *user = json_object_get(process, "user");
  uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
  gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
  gid_t groups[256];
  size_t n = 0, i;
  json_t *g;
  json_array_foreach(json_object_get(user, "additionalGids"), i, g) {
    if (n < sizeof(groups) / sizeof(groups[0]))
      groups[n++] = (gid_t)json_integer_value(g);
  }
  if (setgroups(n, groups) < 0)
    return ctr_fail(err, errno, "setgroups");
  if (setresgid(gid, gid, gid) < 0)
    return ctr_fail(err, errno, "setgid %u", gid);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return ctr_fail(err, errno, "keep capabilities");
  if (setresuid(uid, uid, uid) < 0)
    return ctr_fail(err, errno, "setuid %u", uid);
  return 0;
}

int run_proc_lookup(const json_t *process, char *out, size_t len,
                    int *exit_class, ctr_err *err) {
  const char *arg0 = json_string_value(json_array_get(json_object_get(process, "args"), 0));
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  bool saw_eacces = false;
  size_t i;
  json_t *e;
  *exit_class = RUN_EXIT_NOT_FOUND;
  if (arg0 == NULL || *arg0 == '\0')
    return ctr_fail(err, 0, "exec: no command");
  if (strchr(arg0, '/') != NULL) {
    snprintf(out, len, "%s", arg0);
    return 0;
  }
  json_array_foreach(json_object_get(process, "env"), i, e) {
    const char *s = json_string_value(e);
    if (s && strncmp(s, "PATH=", 5) == 0)
      path = s + 5;
  }
  for (const char *p = path; *p;) {
    const char *colon = strchrnul(p, ':');
    struct stat st;
    snprintf(out, len, "%.*s/%s", (int)(colon - p), p, arg0);
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(out, X_OK) == 0)
        return 0;
      saw_eacces = true;
    }
    p = *colon ? colon + 1 : colon;
  }
  if (saw_eacces) {
    *exit_class = RUN_EXIT_CANNOT_EXEC;
    return ctr_fail(err, 0, "exec %s: permission denied", arg0);
  }
  return ctr_fail(err, 0, "exec %s: executable file not found in $PATH", arg0);
}

int run_proc_exec_failed(const char *path, int e, ctr_err *err) {
  ctr_fail(err, 0, "exec %s: %s", path,
           e == EACCES   ? "permission denied"
           : e == ENOENT ? "no such file or directory"
           : e == ENOEXEC ? "exec format error"
                         : strerror(e));
  return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}

void run_proc_reset_signals(void) {
  sigset_t none;
  /* All-zero is SIG_DFL whatever the architecture's layout of the
   * kernel's struct sigaction. */
  unsigned long kdfl[4] = {0, 0, 0, 0};
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  /* glibc keeps 32 and 33 for itself and refuses them to signal(); an
   * ignored one would still survive exec, so ask the kernel directly. */
  for (int sig = 32; sig < SIGRTMIN; sig++)
    syscall(SYS_rt_sigaction, sig, kdfl, NULL, sizeof(sigset_t) > 8 ? 8 : sizeof(sigset_t));
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static char **string_array(const json_t *a) {
  char **out = calloc(json_array_size(a) + 1, sizeof(char *));
  size_t i;
  json_t *v;
  if (out != NULL)
    json_array_foreach(a, i, v) out[i] = (char *)json_string_value(v);
  return out;
}

int run_proc_finish(const json_t *process, const struct run_seccomp_prog *prog,
                    int fail_class, ctr_err *err) {
  const json_t *caps = json_object_get(process, "capabilities");
  bool nnp = json_is_true(json_object_get(process, "noNewPrivileges"));
  bool seccomp = prog->fprog.len > 0;
  char exe[4096], **argv, **envp;
  int cls;

  if (run_caps_bound(caps, err) < 0)
    return fail_class;
  /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
   * while we still have it (the profile allows what follows). */
  if (!nnp && seccomp && run_seccomp_load(prog, err) < 0)
    return fail_class;
  if (run_proc_user(process, err) < 0 || run_caps_apply(caps, err) < 0)
    return fail_class;
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    ctr_fail(err, errno, "no_new_privs");
    return fail_class;
  }
  if (run_proc_lookup(process, exe, sizeof(exe), &cls, err) < 0)
    return cls;
  argv = string_array(json_object_get(process, "args"));
  envp = string_array(json_object_get(process, "env"));
  if (argv == NULL || envp == NULL) {
    ctr_fail(err, ENOMEM, "exec");
    return fail_class;
  }
  if (nnp && seccomp && run_seccomp_load(prog, err) < 0)
    return fail_class;
  /* No host fd may reach the container (CVE-2024-21626): everything but
   * 0-2 closes on exec, the parent's socket included, which tells it the
   * exec happened. */
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(exe, argv, envp);
  return run_proc_exec_failed(exe, errno, err);
}

int run_proc_send_fd(int sock, const void *data, size_t len, int fd) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {(void *)data, len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof(ctl.buf)};
  struct cmsghdr *c;
  memset(&ctl, 0, sizeof(ctl));
  c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}
