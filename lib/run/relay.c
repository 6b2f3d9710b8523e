#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "core/cleanup.h"

void run_relay_signals(sigset_t *set) {
  sigemptyset(set);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
        sig != SIGFPE && sig != SIGILL && sig != SIGTTIN && sig != SIGTTOU && sig != SIGPIPE)
      sigaddset(set, sig);
}

int run_relay_pump(int from, int to) {
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

void run_relay_copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0)
    ioctl(to, TIOCSWINSZ, &ws);
}

/* Whatever the process wrote last may still be in the pty. */
static void drain(int master) {
  for (;;) {
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN) || run_relay_pump(master, STDOUT_FILENO) < 0)
      return;
  }
}

static int loop(pid_t pid, int master, bool interactive, const sigset_t *set,
                int *status, ctr_err *err) {
  cleanup_close int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  bool in_open = master >= 0 && interactive, out_open = master >= 0;
  if (sfd < 0)
    return ctr_fail(err, errno, "signalfd");
  for (;;) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0},
                            {in_open ? STDIN_FILENO : -1, POLLIN, 0},
                            {out_open ? master : -1, POLLIN, 0}};
    struct signalfd_siginfo si;
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "poll");
    }
    if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
        run_relay_pump(master, STDOUT_FILENO) < 0)
      out_open = false;
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
        run_relay_pump(STDIN_FILENO, master) < 0) {
      if (write(master, "\x04", 1) < 0) {
        /* the process closed its terminal; nothing to tell it */
      }
      in_open = false;
    }
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      if (si.ssi_signo == SIGCHLD)
        continue;
      if (si.ssi_signo == SIGWINCH) {
        if (master >= 0 && isatty(STDIN_FILENO))
          run_relay_copy_winsize(STDIN_FILENO, master);
        continue;
      }
      kill(pid, (int)si.ssi_signo);
    }
    if (waitpid(pid, status, WNOHANG) == pid) {
      if (out_open)
        drain(master);
      return 0;
    }
  }
}

int run_relay_wait(pid_t pid, int master, bool interactive, const sigset_t *set,
                   int *status, ctr_err *err) {
  struct termios saved;
  bool raw = false;
  int ret;
  if (master >= 0 && isatty(STDIN_FILENO)) {
    run_relay_copy_winsize(STDIN_FILENO, master);
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      struct termios t = saved;
      cfmakeraw(&t);
      raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
  }
  ret = loop(pid, master, interactive, set, status, err);
  if (raw)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return ret;
}
