/* Running a sibling tool and hearing what it said. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/tool.h"

extern char **environ;

char *ctr_tool_path(const char *name) {
  char self[4096], *out = NULL;
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    if (strrchr(self, '/') != NULL)
      *strrchr(self, '/') = '\0';
    if (asprintf(&out, "%s/%s", self, name) < 0)
      return NULL;
    if (access(out, X_OK) == 0)
      return out;
    free(out);
  }
  return strdup(name);
}

/* The last non-empty line of text, without the tool's "name: ". */
static void last_line(char *text, const char *name, char *out, size_t len) {
  char *line = NULL;
  size_t nl = strlen(name);
  out[0] = '\0';
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (l[strspn(l, " \t\r")] != '\0')
      line = l;
  if (line == NULL)
    return;
  if (strncmp(line, name, nl) == 0 && strncmp(line + nl, ": ", 2) == 0)
    line += nl + 2;
  snprintf(out, len, "%s", line);
}

/* Read both pipes to their ends (the tool may fill either first). */
static int drain(int fds[2], char *bufs[2], size_t lens[2]) {
  FILE *f[2] = {open_memstream(&bufs[0], &lens[0]), open_memstream(&bufs[1], &lens[1])};
  int ret = 0;
  while (fds[0] >= 0 || fds[1] >= 0) {
    struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      ret = -1;
      break;
    }
    for (int i = 0; i < 2; i++) {
      char chunk[4096];
      ssize_t n;
      if (fds[i] < 0 || pfd[i].revents == 0)
        continue;
      n = read(fds[i], chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        close(fds[i]);
        fds[i] = -1;
      } else if (f[i] != NULL) {
        fwrite(chunk, 1, (size_t)n, f[i]);
      }
    }
  }
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    if (f[i] == NULL || fclose(f[i]) != 0)
      ret = -1;
  }
  return ret;
}

/* Our environment less CNI_*: with CNI_COMMAND set, ctr-net would be a
 * CNI plugin instead of the command line. NULL when out of memory. */
static char **env_without_cni(void) {
  size_t n = 0;
  char **envp;
  for (char **e = environ; *e; e++)
    n++;
  envp = calloc(n + 1, sizeof(*envp));
  if (envp == NULL)
    return NULL;
  n = 0;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "CNI_", 4) != 0)
      envp[n++] = *e;
  return envp;
}

/* Start argv with stdin /dev/null and its stdout and stderr into pipes
 * (their read ends in fds), every signal at its default and none
 * blocked: ours may be blocked while we supervise a container. */
static int spawn_tool(const char *const *argv, pid_t *pid, int fds[2], ctr_err *err) {
  cleanup_free char **envp = env_without_cni();
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, rc;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, all;
  if (envp == NULL)
    return ctr_fail(err, ENOMEM, "%s", argv[0]);
  if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
    rc = errno;
    if (po[0] >= 0) {
      close(po[0]);
      close(po[1]);
    }
    return ctr_fail(err, rc, "pipe");
  }
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
  rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(po[1]);
  close(pe[1]);
  if (rc != 0) {
    close(po[0]);
    close(pe[0]);
    return ctr_fail(err, rc, "run %s", argv[0]);
  }
  fds[0] = po[0];
  fds[1] = pe[0];
  return 0;
}

int ctr_tool_run(const struct ctr_paths *p, const char *name,
                 const char *const *args, char **out, int *status,
                 ctr_err *err) {
  cleanup_free char *tool = ctr_tool_path(name);
  cleanup_free const char **argv = NULL;
  cleanup_free char *text = NULL, *errors = NULL;
  char *bufs[2] = {NULL, NULL};
  size_t n = 0, lens[2] = {0, 0};
  int fds[2] = {-1, -1}, st = 0, code;
  struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
  bool reset;
  pid_t pid, w;
  if (out != NULL)
    *out = NULL;
  if (status != NULL)
    *status = -1;
  while (args[n] != NULL)
    n++;
  argv = calloc(n + 6, sizeof(*argv));
  if (tool == NULL || argv == NULL)
    return ctr_fail(err, ENOMEM, "%s", name);
  argv[0] = tool;
  argv[1] = "--root";
  argv[2] = p->root;
  argv[3] = "--rundir";
  argv[4] = p->rundir;
  memcpy(argv + 5, args, n * sizeof(*argv));
  /* With SIGCHLD ignored (a disposition that survives exec: some
   * daemons and launchers leave it so) the kernel reaps the tool itself
   * and its status is lost; a trust check must never read that as 0. */
  sigaction(SIGCHLD, NULL, &old);
  reset = old.sa_handler == SIG_IGN;
  if (reset)
    sigaction(SIGCHLD, &dfl, NULL);
  if (spawn_tool(argv, &pid, fds, err) < 0) {
    if (reset)
      sigaction(SIGCHLD, &old, NULL);
    return -1;
  }
  drain(fds, bufs, lens);
  text = bufs[0];
  errors = bufs[1];
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
    ;
  if (reset)
    sigaction(SIGCHLD, &old, NULL);
  if (w != pid)
    return ctr_fail(err, errno, "%s %s: its exit status is lost", name, args[0] ? args[0] : "");
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (status != NULL)
    *status = code;
  if (code != 0) {
    char why[1024];
    last_line(errors ? errors : (char *)"", name, why, sizeof(why));
    if (why[0] != '\0')
      return ctr_fail(err, 0, "%s", why);
    return ctr_fail(err, 0, "%s %s: exit status %d", name, args[0] ? args[0] : "", code);
  }
  if (out != NULL) {
    *out = text;
    text = NULL;
  }
  return 0;
}
