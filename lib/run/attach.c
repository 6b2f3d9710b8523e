#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "process.h"
#include "relay.h"

int run_detach_keys_parse(const char *s, char keys[RUN_DETACH_KEYS_MAX], size_t *n,
                          ctr_err *err) {
  const char *p = s;
  *n = 0;
  while (*p) {
    size_t len = strcspn(p, ",");
    char k;
    if (len == 1) {
      k = p[0];
    } else if (len == 6 && strncmp(p, "ctrl-", 5) == 0 &&
               ((p[5] >= 'a' && p[5] <= 'z') || strchr("@[\\]^_", p[5]))) {
      /* ctrl-a is 1, ctrl-@ 0, ctrl-[ 27 …: the letter's code & 0x1f */
      k = (char)(p[5] & 0x1f);
    } else {
      return ctr_usage(err, "--detach-keys %s: '%.*s' is not a key (want a character or "
                            "ctrl-<a-z @ [ \\ ] ^ _>, comma-separated)",
                       s, (int)len, p);
    }
    if (*n == RUN_DETACH_KEYS_MAX)
      return ctr_usage(err, "--detach-keys %s: at most %d keys", s, RUN_DETACH_KEYS_MAX);
    keys[(*n)++] = k;
    p += len;
    if (*p == ',') {
      p++;
      if (*p == '\0')
        return ctr_usage(err, "--detach-keys %s: a key is missing after ','", s);
    }
  }
  return 0;
}

int run_front_fork(struct run_front *f, pid_t *child, ctr_err *err) {
  int io[2], ctl[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) < 0)
    return ctr_fail(err, errno, "socketpair");
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
    close(io[0]);
    close(io[1]);
    return ctr_fail(err, errno, "socketpair");
  }
  *child = fork();
  if (*child < 0) {
    for (int i = 0; i < 2; i++) {
      close(io[i]);
      close(ctl[i]);
    }
    return ctr_fail(err, errno, "fork");
  }
  if (*child == 0) {
    close(io[0]);
    close(ctl[0]);
    f->io = io[1];
    f->ctl = ctl[1];
    /* the front may go first (killed): a write to it must not kill us */
    signal(SIGPIPE, SIG_IGN);
    return 0;
  }
  close(io[1]);
  close(ctl[1]);
  f->io = io[0];
  f->ctl = ctl[0];
  return 1;
}

void run_front_say(int ctl, char what) {
  if (ctl >= 0 && write(ctl, &what, 1) < 0) {
    /* the front is gone: nobody to tell */
  }
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    buf += w;
    len -= (size_t)w;
  }
}

/* What was typed goes to the child, less the detach keys: a prefix of
 * them is held back until the next key shows whether it is one. Returns
 * true when the whole sequence was typed. */
static bool forward_typed(int to, const char *buf, size_t len, const char *keys, size_t nkeys,
                          size_t *matched) {
  char out[8192 + RUN_DETACH_KEYS_MAX];
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (nkeys > 0 && buf[i] == keys[*matched]) {
      if (++*matched == nkeys) {
        write_all(to, out, o);
        return true;
      }
      continue;
    }
    /* not the sequence after all: what was held goes first */
    memcpy(out + o, keys, *matched);
    o += *matched;
    *matched = 0;
    if (nkeys > 0 && buf[i] == keys[0])
      *matched = 1;
    else
      out[o++] = buf[i];
    if (o >= 8192) {
      write_all(to, out, o);
      o = 0;
    }
  }
  write_all(to, out, o);
  return false;
}

int run_front_loop(const struct run_front *f, pid_t child, bool interactive, const char *keys,
                   size_t nkeys, int *exit_code, bool *detached, ctr_err *err) {
  sigset_t set, old;
  cleanup_close int sfd = -1;
  struct termios saved;
  bool raw = false, in_open = interactive, ctl_open = true, io_open = true;
  bool detaching = false, done = false;
  size_t matched = 0;
  int status = 0;

  *exit_code = RUN_EXIT_FAILED;
  *detached = false;
  run_relay_signals(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);
  sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return ctr_fail(err, errno, "signalfd");
  }
  while (!done) {
    struct pollfd fds[4] = {{sfd, POLLIN, 0},
                            {ctl_open ? f->ctl : -1, POLLIN, 0},
                            {io_open ? f->io : -1, POLLIN, 0},
                            {raw && in_open && !detaching ? STDIN_FILENO : -1, POLLIN, 0}};
    struct signalfd_siginfo si;
    char buf[8192];
    ssize_t n;
    if (poll(fds, 4, -1) < 0 && errno != EINTR)
      break;
    if (fds[1].revents) {
      char m;
      n = read(f->ctl, &m, 1);
      if (n <= 0) {
        ctl_open = false;
      } else if (m == 'S' && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        /* the container runs: the terminal is now its */
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
      } else if (m == 'S') {
        raw = true; /* not a terminal: no mode to set, but read it */
      } else if (m == 'd') {
        *detached = true;
        done = true;
      }
    }
    if (fds[2].revents) {
      n = read(f->io, buf, sizeof(buf));
      if (n > 0)
        write_all(STDOUT_FILENO, buf, (size_t)n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        io_open = false;
    }
    if (fds[3].revents) {
      n = read(STDIN_FILENO, buf, sizeof(buf));
      if (n > 0 && forward_typed(f->io, buf, (size_t)n, keys, nkeys, &matched)) {
        detaching = true;
        run_front_say(f->ctl, 'D');
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        in_open = false;
        shutdown(f->io, SHUT_WR); /* the container reads EOF */
      }
    }
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      /* the child is in our process group: it has its own SIGWINCH */
      if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH)
        kill(child, (int)si.ssi_signo);
    }
    if (!*detached && waitpid(child, &status, WNOHANG) == child) {
      /* what it wrote last */
      while (io_open && (n = read(f->io, buf, sizeof(buf))) > 0)
        write_all(STDOUT_FILENO, buf, (size_t)n);
      *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : run_exit_code(status);
      done = true;
    }
  }
  if (raw && isatty(STDIN_FILENO))
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (*detached)
    *exit_code = 0;
  return 0;
}
