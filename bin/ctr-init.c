/* ctr-init: the tiny init of `ctr-run --init`, as tini is docker's.
 *
 * It runs as pid 1 of a container, where the kernel drops every signal
 * that has no handler and nobody reaps orphans. So it forks the real
 * command, passes on every signal it is sent, reaps every zombie, and
 * exits with the command's status when the command ends.
 *
 * One file, libc only, no allocation: it is built statically and
 * bind-mounted into containers whatever their image holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CTR_VERSION
#define CTR_VERSION "0.1.0"
#endif

#define PROG "ctr-init"

/* Exit statuses of our own, as docker and the shells use them. */
enum {
  EXIT_USAGE = 2,
  EXIT_INIT_FAILED = 125, /* ctr-init itself could not go on */
  EXIT_CANNOT_EXEC = 126,
  EXIT_NOT_FOUND = 127,
};

static const char usage[] =
    "Usage: ctr-init [--] COMMAND [ARG...]\n"
    "\n"
    "Run COMMAND as the child of a minimal init: every signal ctr-init\n"
    "receives is passed on to COMMAND, every orphan is reaped, and\n"
    "ctr-init exits with COMMAND's status (128+N if killed by signal N).\n"
    "\n"
    "Options:\n"
    "  -h, --help       this help\n"
    "      --version    version\n"
    "\n"
    "Exit status: COMMAND's; 126 if it cannot be executed, 127 if it was\n"
    "not found, 125 if ctr-init failed, 2 for bad usage.\n";

/* "ctr-init: " A B C D "\n" to stderr in one write (no stdio: nothing
 * to flush, and lines of two processes do not interleave). */
static void say(const char *a, const char *b, const char *c, const char *d) {
  struct iovec iov[6] = {
      {(void *)PROG ": ", sizeof(PROG ": ") - 1},
      {(void *)a, strlen(a)},
      {(void *)b, strlen(b)},
      {(void *)c, strlen(c)},
      {(void *)d, strlen(d)},
      {(void *)"\n", 1},
  };
  ssize_t ignored = writev(STDERR_FILENO, iov, 6);
  (void)ignored;
}

/* "ctr-init: WHAT: strerror(errno)" */
static void say_errno(const char *what) {
  say(what, ": ", strerror(errno), "");
}

static void print(const char *text) {
  ssize_t ignored = write(STDOUT_FILENO, text, strlen(text));
  (void)ignored;
}

static int fail_errno(const char *what) {
  say_errno(what);
  return EXIT_INIT_FAILED;
}

static void reset_signal_dispositions(void) {
  struct sigaction dfl;
  int sig;

  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (sig = 1; sig < NSIG; sig++)
    sigaction(sig, &dfl, NULL); /* fails for KILL, STOP and glibc's own */
  /* glibc refuses its own two (32, 33) to sigaction, yet an ignored one
   * survives exec: ask the kernel directly (all-zero is SIG_DFL). */
  {
    unsigned long kdfl[4] = {0, 0, 0, 0};
    for (sig = 32; sig < SIGRTMIN; sig++)
      syscall(SYS_rt_sigaction, sig, kdfl, NULL, 8);
  }
}

/* In the child: its own process group, which takes the terminal's
 * foreground if ours had it (so ^C reaches the command, not us), nothing
 * blocked, then the command. Never returns. */
static void exec_command(char **argv, int foreground) {
  sigset_t none;

  setpgid(0, 0);
  /* SIGTTOU is still blocked here, so a background group may do this. */
  if (foreground && tcsetpgrp(STDIN_FILENO, getpid()) < 0)
    say_errno("set the terminal's foreground process group");
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp(argv[0], argv);
  int exec_errno = errno;
  say("exec ", argv[0], ": ", strerror(exec_errno));
  _exit(exec_errno == ENOENT || exec_errno == ENOTDIR ? EXIT_NOT_FOUND
                                                      : EXIT_CANNOT_EXEC);
}

static int status_to_exit(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return EXIT_INIT_FAILED;
}

/* Reap every zombie there is; returns 1 and sets *code once the command
 * itself has been reaped. */
static int reap_zombies(pid_t child, int *code) {
  int status, done = 0;
  pid_t pid;

  while ((pid = waitpid(-1, &status, WNOHANG)) > 0 ||
         (pid < 0 && errno == EINTR)) {
    if (pid == child) {
      *code = status_to_exit(status);
      done = 1;
    }
  }
  return done;
}

/* Wait for signals: SIGCHLD reaps, everything else goes to the command. */
static int supervise(pid_t child) {
  sigset_t all;
  siginfo_t info;
  int sig, code = EXIT_INIT_FAILED;

  sigfillset(&all);
  for (;;) {
    sig = sigwaitinfo(&all, &info);
    if (sig < 0) {
      if (errno == EINTR)
        continue;
      return fail_errno("wait for a signal");
    }
    if (sig == SIGCHLD) {
      if (reap_zombies(child, &code))
        return code;
      continue;
    }
    /* ESRCH: the command is gone and its SIGCHLD is on its way. */
    kill(child, sig);
  }
}

/* Returns the index of COMMAND in argv, or -1 after printing help,
 * version or a usage error, with *exit_code set. Options come only
 * before COMMAND: everything after it is COMMAND's. */
static int parse_args(int argc, char **argv, int *exit_code) {
  const char *arg = argc > 1 ? argv[1] : NULL;

  *exit_code = 0;
  if (arg && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
    print(usage);
    return -1;
  }
  if (arg && strcmp(arg, "--version") == 0) {
    print(PROG " version " CTR_VERSION "\n");
    return -1;
  }
  *exit_code = EXIT_USAGE;
  if (arg && strcmp(arg, "--") == 0)
    arg = argc > 2 ? argv[2] : NULL;
  else if (arg && arg[0] == '-') {
    say("invalid option ", arg, " (see --help)", "");
    return -1;
  }
  if (!arg) {
    say("no command given (see --help)", "", "", "");
    return -1;
  }
  return arg == argv[1] ? 1 : 2;
}

int main(int argc, char **argv) {
  sigset_t all;
  pid_t child;
  int cmd, code, foreground;

  cmd = parse_args(argc, argv, &code);
  if (cmd < 0)
    return code;

  /* Blocked signals are queued even for pid 1, which would drop them
   * without a handler: sigwaitinfo then takes them one by one. Blocking
   * before fork means none is lost while the child starts. */
  sigfillset(&all);
  if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
    return fail_errno("block signals");
  /* and the command starts with default handling of every signal */
  reset_signal_dispositions();
  /* Outside a pid namespace, orphans of the command still come to us. */
  if (getpid() != 1)
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  /* asked before fork: the parent's setpgid below may come first */
  foreground = tcgetpgrp(STDIN_FILENO) == getpgrp();
  child = fork();
  if (child < 0)
    return fail_errno("fork");
  if (child == 0)
    exec_command(argv + cmd, foreground);
  setpgid(child, child); /* also here, so it holds before we signal */
  return supervise(child);
}
