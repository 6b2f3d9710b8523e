/* Starting and stopping a network's name server (see dns_server.h): the
 * detached `ctr-net _dns` process, and its pid file, whose lock says
 * whether one runs. */
#define _GNU_SOURCE
#include "net/dns_server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "net/dns_wire.h"
#include "net/netconf.h"

#define PROBE_TIMEOUT_MS 200

/* ---- paths and the pid lock ---------------------------------------------- */

int net_dns_path(const struct ctr_paths *p, const char *network, const char *suffix,
                 char **out, ctr_err *err) {
  if (asprintf(out, "%s/networks/%s%s", p->rundir, network, suffix) < 0) {
    *out = NULL;
    return ctr_fail(err, ENOMEM, "name server");
  }
  return 0;
}

int net_dns_pidfile_lock(const char *path, int *fd, ctr_err *err) {
  for (int tries = 0; tries < 100; tries++) {
    struct stat a, b;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0)
      return ctr_fail(err, errno, "open %s", path);
    if (flock(f, LOCK_EX | LOCK_NB) < 0) {
      int e = errno;
      close(f);
      if (e == EWOULDBLOCK)
        return 0;
      return ctr_fail(err, e, "lock %s", path);
    }
    if (fstat(f, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
      *fd = f;
      return 1;
    }
    close(f);
  }
  return ctr_fail(err, EAGAIN, "lock %s", path);
}

char *net_dns_pidfile_text(pid_t pid, const char *listen_ip, const char *const *peers) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return NULL;
  fprintf(f, "%d\n%s\n", (int)pid, listen_ip);
  for (const char *const *q = peers; q && *q; q++)
    fprintf(f, "%s\n", *q);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* ---- starting and stopping ----------------------------------------------- */

/* ctr-net itself when we are ctr-net, else the one beside us, else PATH's. */
static const char *ctr_net_path(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  char *slash;
  if (n <= 0)
    return "ctr-net";
  buf[n] = '\0';
  slash = strrchr(buf, '/');
  if (slash != NULL && strcmp(slash + 1, "ctr-net") == 0)
    return buf;
  if (slash != NULL && (size_t)(slash - buf) + sizeof("/ctr-net") <= len) {
    strcpy(slash, "/ctr-net");
    if (access(buf, X_OK) == 0)
      return buf;
  }
  return "ctr-net";
}

/* Ask listen_ip:53 something only a live server answers at once; true when
 * a reply came back in time. */
static bool probe(const struct sockaddr_in *to) {
  uint8_t q[64], r[DNS_UDP_MAX];
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  uint16_t id = (uint16_t)(getpid() ^ now_ms());
  uint64_t end = now_ms() + PROBE_TIMEOUT_MS;
  int n = dns_query_build(q, sizeof(q), id, "ctr-dns-probe", DNS_TYPE_A, false);
  if (fd < 0 || n < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 ||
      send(fd, q, (size_t)n, 0) != n)
    return false;
  for (uint64_t now = now_ms(); now < end; now = now_ms()) {
    struct dns_header h;
    ssize_t got;
    if (poll(&pfd, 1, (int)(end - now)) <= 0)
      return false;
    got = recv(fd, r, sizeof(r), 0);
    if (got < 0)
      return false; /* ECONNREFUSED: nobody listens */
    if (dns_header_read(r, (size_t)got, &h) == 0 && h.id == id && (h.flags & DNS_QR))
      return true;
  }
  return false;
}

static void spawn_child(const struct ctr_paths *p, const char *network, const char *listen_ip,
                        const char *const *peers, unsigned flags, int ready_fd) {
  char exe[4096], fdtext[16];
  const char *argv[16 + 2 * MAX_PEERS];
  size_t n = 0;
  int null;
  if (setsid() < 0 || fork() != 0)
    _exit(0); /* the middle child: the server is reparented, no zombie */
  /* out of the way of stdio and of 3 first: the caller may have had any
   * of them closed, so the pipe may sit there */
  ready_fd = fcntl(ready_fd, F_DUPFD, 10);
  null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  if (ready_fd < 0 || dup2(ready_fd, 3) < 0)
    _exit(127);
  close_range(4, ~0U, 0);
  /* a long-lived process should hold no directory of its caller's */
  if (chdir("/") < 0)
    _exit(127);
  snprintf(fdtext, sizeof(fdtext), "%d", 3);
  argv[n++] = ctr_net_path(exe, sizeof(exe));
  argv[n++] = "--root";
  argv[n++] = p->root;
  argv[n++] = "--rundir";
  argv[n++] = p->rundir;
  argv[n++] = "_dns";
  argv[n++] = "--network";
  argv[n++] = network;
  argv[n++] = "--listen";
  argv[n++] = listen_ip;
  argv[n++] = "--ready-fd";
  argv[n++] = fdtext;
  if (flags & NET_DNS_NO_UPSTREAM)
    argv[n++] = "--no-upstream";
  for (const char *const *q = peers; q && *q && n < sizeof(argv) / sizeof(argv[0]) - 3; q++) {
    argv[n++] = "--peer";
    argv[n++] = *q;
  }
  argv[n] = NULL;
  execvp(argv[0], (char *const *)argv);
  {
    char msg[256];
    int len = snprintf(msg, sizeof(msg), "cannot run %s: %s\n", argv[0], strerror(errno));
    if (write(3, msg, (size_t)len) < 0)
      _exit(127);
  }
  _exit(127);
}

/* Start a server and wait for its word: 1 it serves, 0 another one won
 * the lock meanwhile, -1 it could not start (why in err). */
static int spawn(const struct ctr_paths *p, const char *network, const char *listen_ip,
                 const char *const *peers, unsigned flags, ctr_err *err) {
  int fds[2];
  char msg[512];
  size_t got = 0;
  pid_t pid;
  uint64_t end = now_ms() + READY_TIMEOUT_MS;
  if (pipe2(fds, O_CLOEXEC) < 0)
    return ctr_fail(err, errno, "pipe");
  pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return ctr_fail(err, errno, "fork");
  }
  if (pid == 0) {
    close(fds[0]);
    spawn_child(p, network, listen_ip, peers, flags, fds[1]);
  }
  close(fds[1]);
  waitpid(pid, NULL, 0);
  while (got < sizeof(msg) - 1) {
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    uint64_t now = now_ms();
    ssize_t n;
    if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
      break;
    n = read(fds[0], msg + got, sizeof(msg) - 1 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fds[0]);
  msg[got] = '\0';
  msg[strcspn(msg, "\n")] = '\0';
  if (strcmp(msg, "ok") == 0)
    return 1;
  if (strcmp(msg, "busy") == 0)
    return 0;
  return ctr_fail(err, 0, "%s", got > 0 ? msg : "it exited without a word");
}

/* The pid file at path, into buf (NUL-ended): its length, or 0 when no
 * server holds its lock (the pid in it may then be anyone's) or it says
 * nothing yet (a server starting). */
static size_t pidfile_read_held(const char *path, char *buf, size_t cap) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;
  if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
    return 0;
  n = pread(fd, buf, cap - 1, 0);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return (size_t)n;
}

/* True when the server holding the pid lock serves another address or
 * other peers: it is told to stop (SIGTERM), for ensure to start another. */
static bool running_other(const char *path, const char *listen_ip, const char *const *peers) {
  cleanup_free char *want = net_dns_pidfile_text(0, listen_ip, peers);
  char buf[4096], *nl;
  long pid;
  if (want == NULL || pidfile_read_held(path, buf, sizeof(buf)) == 0)
    return false;
  nl = strchr(buf, '\n');
  if (nl == NULL || strcmp(nl, strchr(want, '\n')) == 0)
    return false;
  pid = strtol(buf, NULL, 10);
  if (pid > 1)
    kill((pid_t)pid, SIGTERM);
  return true;
}

int net_dns_ensure(const struct ctr_paths *p, const char *network, const char *listen_ip,
                   const char *const *peers, ctr_err *err) {
  return net_dns_ensure_flags(p, network, listen_ip, peers, 0, err);
}

int net_dns_ensure_flags(const struct ctr_paths *p, const char *network, const char *listen_ip,
                         const char *const *peers, unsigned flags, ctr_err *err) {
  cleanup_free char *pid = NULL, *dir = NULL;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(DNS_PORT)};
  uint64_t end = now_ms() + READY_TIMEOUT_MS;
  if (net_name_check(network, err) < 0)
    return ctr_wrap(err, "name server");
  if (inet_pton(AF_INET, listen_ip, &to.sin_addr) != 1)
    return ctr_usage(err, "name server for %s: invalid address '%.64s'", network, listen_ip);
  for (const char *const *q = peers; q && *q; q++) {
    struct dns_addr a;
    if (dns_addr_parse(*q, &a) < 0)
      return ctr_usage(err, "name server for %s: invalid peer '%.64s'", network, *q);
  }
  if (net_dns_path(p, network, ".dns.pid", &pid, err) < 0)
    return -1;
  if (asprintf(&dir, "%s/networks", p->rundir) < 0)
    return ctr_fail(err, ENOMEM, "name server");
  if (ctr_mkdir_p(AT_FDCWD, dir, 0755, err) < 0)
    return ctr_wrap(err, "name server for %s", network);
  while (now_ms() < end) {
    int fd = -1, ret = net_dns_pidfile_lock(pid, &fd, err);
    if (ret < 0)
      return ctr_wrap(err, "name server for %s", network);
    if (ret == 1) {
      /* nobody serves: let go of the lock for the server to take */
      close(fd);
      ret = spawn(p, network, listen_ip, peers, flags, err);
      if (ret < 0)
        return ctr_wrap(err, "name server for %s on %s", network, listen_ip);
      if (ret == 1)
        return 0;
    }
    /* one runs (or is stopping, or starting): it must serve what we ask,
     * and answer */
    if (running_other(pid, listen_ip, peers)) {
      usleep(20 * 1000);
      continue;
    }
    if (probe(&to))
      return 0;
    usleep(20 * 1000);
  }
  return ctr_fail(err, ETIMEDOUT, "name server for %s on %s does not answer", network, listen_ip);
}

void net_dns_stop_if_idle(const struct ctr_paths *p, const char *network) {
  cleanup_free char *hosts = NULL, *pid = NULL;
  struct net_dns_records r;
  ctr_err err = NULL;
  char buf[32];
  long v;
  if (!net_name_valid(network) || net_dns_path(p, network, ".hosts", &hosts, &err) < 0 ||
      net_dns_path(p, network, ".dns.pid", &pid, &err) < 0) {
    ctr_err_free(&err);
    return;
  }
  if (net_dns_read_hosts(hosts, &r) < 0)
    return;
  v = (long)r.n;
  net_dns_records_free(&r);
  if (v > 0)
    return;
  if (pidfile_read_held(pid, buf, sizeof(buf)) == 0)
    return;
  v = strtol(buf, NULL, 10);
  /* SIGHUP, not SIGTERM: the server looks again itself, so a container
   * connected since we read the file keeps its names */
  if (v > 1)
    kill((pid_t)v, SIGHUP);
}
