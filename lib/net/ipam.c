#define _GNU_SOURCE
#include "ipam.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "net/cni.h"

#define LAST_RESERVED "last_reserved_ip.0"
#define LEASE_MAX 4096 /* bytes of a lease file we read */

uint32_t net_ipam_pick(const struct net_cidr *c, uint32_t gateway,
                       uint32_t last, bool (*in_use)(uint32_t ip, void *ctx),
                       void *ctx) {
  uint32_t first = c->addr + 1, end = net_cidr_broadcast(c) - 1;
  uint32_t ip;
  uint64_t n, size;
  if (c->prefix >= 31)
    return 0;
  size = (uint64_t)end - first + 1;
  ip = net_cidr_contains(c, last) && last >= first && last < end ? last + 1
                                                                  : first;
  for (n = 0; n < size; n++, ip = ip == end ? first : ip + 1) {
    if (ip == gateway)
      continue;
    if (!in_use(ip, ctx))
      return ip;
  }
  return 0;
}

/* ---- lease files -------------------------------------------------------- */

static char *trimmed_dup(const char *s, size_t len) {
  while (len > 0 && isspace((unsigned char)*s))
    s++, len--;
  while (len > 0 && isspace((unsigned char)s[len - 1]))
    len--;
  return strndup(s, len);
}

int net_lease_parse(const char *buf, size_t len, char **id, char **ifname) {
  const char *nl = memchr(buf, '\n', len);
  size_t idlen = nl ? (size_t)(nl - buf) : len;
  cleanup_free char *i = NULL, *f = NULL;
  if (memchr(buf, '\0', len) != NULL)
    return -1;
  i = trimmed_dup(buf, idlen);
  f = nl ? trimmed_dup(nl + 1, len - idlen - 1) : strdup("");
  if (i == NULL || f == NULL || i[0] == '\0')
    return -1;
  *id = ctr_steal(i);
  *ifname = ctr_steal(f);
  return 0;
}

bool net_lease_matches(const char *lease_id, const char *lease_ifname,
                       const char *id, const char *ifname) {
  if (strcmp(lease_id, id) != 0)
    return false;
  return lease_ifname[0] == '\0' || strcmp(lease_ifname, ifname) == 0;
}

static int lock_in(int dirfd, ctr_err *err) {
  int fd = openat(dirfd, "lock", O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return ctr_fail(err, errno, "open lock");
  while (flock(fd, LOCK_EX) < 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    close(fd);
    return ctr_fail(err, e, "lock");
  }
  return fd;
}

static int open_network_dir(const char *data_dir, const char *network,
                            bool create, ctr_err *err) {
  cleanup_close int top = -1;
  int fd;
  if (create && ctr_mkdir_p(AT_FDCWD, data_dir, 0755, err) < 0)
    return -1;
  top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) {
    if (!create && errno == ENOENT)
      return -2;
    return ctr_fail(err, errno, "open %s", data_dir);
  }
  if (create && mkdirat(top, network, 0755) < 0 && errno != EEXIST)
    return ctr_fail(err, errno, "create %s/%s", data_dir, network);
  fd = openat(top, network, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (!create && errno == ENOENT)
      return -2;
    return ctr_fail(err, errno, "open %s/%s", data_dir, network);
  }
  return fd;
}

/* The lease directory, locked; with create false a missing directory
 * is no error: *out->dirfd stays -1. */
static int ipam_open(const char *data_dir, const char *network, bool create,
                     struct net_ipam *out, ctr_err *err) {
  cleanup_close int dfd = open_network_dir(data_dir, network, create, err);
  int lfd;
  out->dirfd = out->lockfd = -1;
  if (dfd == -2)
    return 0;
  if (dfd < 0)
    return ctr_wrap(err, "lease directory");
  lfd = lock_in(dfd, err);
  if (lfd < 0)
    return ctr_wrap(err, "lease directory %s/%s", data_dir, network);
  out->dirfd = ctr_steal_fd(dfd);
  out->lockfd = lfd;
  return 0;
}

int net_ipam_open(const char *data_dir, const char *network,
                  struct net_ipam *out, ctr_err *err) {
  return ipam_open(data_dir, network, true, out, err);
}

int net_ipam_open_existing(const char *data_dir, const char *network,
                           struct net_ipam *out, ctr_err *err) {
  return ipam_open(data_dir, network, false, out, err);
}

void net_ipam_close(struct net_ipam *ipam) {
  if (ipam->lockfd >= 0)
    close(ipam->lockfd); /* releases the flock */
  if (ipam->dirfd >= 0)
    close(ipam->dirfd);
  ipam->lockfd = ipam->dirfd = -1;
}

static bool lease_exists(uint32_t ip, void *ctx) {
  struct net_ipam *ipam = ctx;
  char name[NET_IP4_STRLEN];
  net_ip4_format(ip, name);
  return faccessat(ipam->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
         errno != ENOENT; /* unreadable: treat as taken */
}

static uint32_t read_last_reserved(int dirfd) {
  char buf[64];
  uint32_t ip = 0;
  ssize_t n;
  cleanup_close int fd =
      openat(dirfd, LAST_RESERVED, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  buf[strcspn(buf, " \t\r\n")] = '\0';
  return net_ip4_parse(buf, &ip) == 0 ? ip : 0;
}

/* Write the lease whole and exclusively: an unnamed file (or a temp name,
 * where O_TMPFILE is missing) with its content, fsynced, then linked to
 * its name; linkat fails with EEXIST rather than replace anyone's lease. */
static int write_lease(int dirfd, const char *name, const char *content,
                       ctr_err *err) {
  size_t len = strlen(content);
  char tmp[64] = "";
  cleanup_close int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
                                0644);
  int rc;
  if (fd < 0) {
    snprintf(tmp, sizeof(tmp), ".%s.ctr-tmp.%d", name, (int)getpid());
    unlinkat(dirfd, tmp, 0);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      return ctr_fail(err, errno, "create lease %s", name);
  }
  if (write(fd, content, len) != (ssize_t)len || fchmod(fd, 0644) < 0 ||
      fsync(fd) < 0) {
    int e = errno ? errno : EIO;
    if (tmp[0])
      unlinkat(dirfd, tmp, 0);
    return ctr_fail(err, e, "write lease %s", name);
  }
  if (tmp[0]) {
    rc = linkat(dirfd, tmp, dirfd, name, 0);
    int e = errno;
    unlinkat(dirfd, tmp, 0);
    errno = e;
  } else {
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    rc = linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
  }
  if (rc < 0)
    return errno == EEXIST ? 1 : ctr_fail(err, errno, "link lease %s", name);
  return 0;
}

/* The last address handed out, overwritten in place as host-local does:
 * it is a hint for where the next search starts, read back leniently (an
 * unreadable one starts it at the beginning), so it needs neither a temp
 * file and a rename nor an fsync of its own. */
static int write_last_reserved(int dirfd, const char *ip, ctr_err *err) {
  size_t len = strlen(ip);
  cleanup_close int fd = openat(dirfd, LAST_RESERVED,
                                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
                                    O_CLOEXEC,
                                0644);
  ssize_t n;
  if (fd < 0)
    return ctr_fail(err, errno, "write %s", LAST_RESERVED);
  n = write(fd, ip, len);
  if (n != (ssize_t)len)
    return ctr_fail(err, n < 0 ? errno : EIO, "write %s", LAST_RESERVED);
  return 0;
}

/* The address to lease: want when it is assignable and free, else the
 * next free one after the last handed out. */
static int choose(struct net_ipam *ipam, const struct net_cidr *c,
                  uint32_t gateway, uint32_t want, uint32_t *ip,
                  ctr_err *err) {
  char name[NET_IP4_STRLEN], net[NET_IP4_STRLEN];
  net_ip4_format(c->addr, net);
  if (want != 0) {
    net_ip4_format(want, name);
    if (!net_cidr_assignable(c, gateway, want))
      return net_fail(err, NET_CNI_E_ADDR_IN_USE,
                      "requested address %s is not assignable in %s/%u", name,
                      net, c->prefix);
    if (lease_exists(want, ipam))
      return net_fail(err, NET_CNI_E_ADDR_IN_USE,
                      "requested address %s is already in use", name);
    *ip = want;
    return 0;
  }
  *ip = net_ipam_pick(c, gateway, read_last_reserved(ipam->dirfd),
                      lease_exists, ipam);
  if (*ip == 0)
    return net_fail(err, NET_CNI_E_EXHAUSTED, "no free address left in %s/%u",
                    net, c->prefix);
  return 0;
}

/* The durable reservation of a chosen address: the lease written, fsynced
 * and linked, noted as the last handed out, the directory fsynced.
 * NET_CNI_E_ADDR_IN_USE when it was taken meanwhile (by a holder that does
 * not take the lock); nothing is left behind on failure. */
static int commit_lease(int dirfd, const char *name, const char *content,
                        ctr_err *err) {
  int rc = write_lease(dirfd, name, content, err);
  if (rc < 0)
    return -1;
  if (rc == 1)
    return net_fail(err, NET_CNI_E_ADDR_IN_USE,
                    "requested address %s is already in use", name);
  if (write_last_reserved(dirfd, name, err) < 0 ||
      ctr_fsync_dir(dirfd, err) < 0) {
    unlinkat(dirfd, name, 0);
    return -1;
  }
  return 0;
}

int net_ipam_reserve(struct net_ipam *ipam, const struct net_cidr *c,
                     uint32_t gateway, const char *id, const char *ifname,
                     uint32_t want, uint32_t *out, ctr_err *err) {
  char name[NET_IP4_STRLEN];
  cleanup_free char *content = NULL;
  uint32_t ip;
  if (asprintf(&content, "%s\r\n%s", id, ifname) < 0)
    return ctr_fail(err, ENOMEM, "lease");
  for (int tries = 0; tries < 16; tries++) {
    if (choose(ipam, c, gateway, want, &ip, err) < 0)
      return -1;
    net_ip4_format(ip, name);
    if (commit_lease(ipam->dirfd, name, content, err) == 0) {
      *out = ip;
      return 0;
    }
    if (want != 0 || net_cni_code(*err) != NET_CNI_E_ADDR_IN_USE)
      return -1;
    ctr_err_free(err); /* taken meanwhile: the next one */
  }
  return net_fail(err, NET_CNI_E_TRY_AGAIN, "addresses kept changing under "
                                            "the lease directory's lock");
}

struct net_ipam_job {
  pthread_t thread;
  bool threaded;
  int dirfd;
  char name[NET_IP4_STRLEN];
  char *content;
  int rc;
  ctr_err err;
};

static void *commit_job(void *arg) {
  struct net_ipam_job *j = arg;
  j->rc = commit_lease(j->dirfd, j->name, j->content, &j->err);
  return NULL;
}

int net_ipam_reserve_start(struct net_ipam *ipam, const struct net_cidr *c,
                           uint32_t gateway, const char *id,
                           const char *ifname, uint32_t want, uint32_t *out,
                           struct net_ipam_job **job, ctr_err *err) {
  struct net_ipam_job *j = calloc(1, sizeof(*j));
  uint32_t ip;
  *job = NULL;
  if (j == NULL || asprintf(&j->content, "%s\r\n%s", id, ifname) < 0) {
    free(j);
    return ctr_fail(err, ENOMEM, "lease");
  }
  if (choose(ipam, c, gateway, want, &ip, err) < 0) {
    free(j->content);
    free(j);
    return -1;
  }
  net_ip4_format(ip, j->name);
  j->dirfd = ipam->dirfd;
  j->threaded = pthread_create(&j->thread, NULL, commit_job, j) == 0;
  if (!j->threaded) /* no thread to spare: written here, in order */
    commit_job(j);
  *out = ip;
  *job = j;
  return 0;
}

int net_ipam_reserve_finish(struct net_ipam_job **job, ctr_err *err) {
  struct net_ipam_job *j = *job;
  int rc;
  if (j == NULL)
    return 0;
  if (j->threaded)
    pthread_join(j->thread, NULL);
  rc = j->rc;
  if (rc < 0) {
    ctr_err_free(err);
    *err = j->err;
  }
  free(j->content);
  free(j);
  *job = NULL;
  return rc < 0 ? -1 : 0;
}

static int read_lease(int dirfd, const char *name, char **id, char **ifname) {
  cleanup_close int fd =
      openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  char buf[LEASE_MAX];
  ssize_t n;
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof(buf));
  if (n < 0)
    return -1;
  return net_lease_parse(buf, (size_t)n, id, ifname);
}

static int cmp_lease(const void *a, const void *b) {
  const struct net_lease *x = a, *y = b;
  return x->ip < y->ip ? -1 : x->ip > y->ip;
}

void net_leases_free(struct net_lease *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(l[i].id);
    free(l[i].ifname);
  }
  free(l);
}

int net_ipam_list(struct net_ipam *ipam, struct net_lease **out, size_t *n,
                  ctr_err *err) {
  /* a description of its own: a dup would share (and find at its end)
   * the offset of the last listing */
  cleanup_dir DIR *d = ctr_opendir_at(ipam->dirfd);
  struct net_lease *l = NULL;
  size_t len = 0, cap = 0;
  struct dirent *e;
  *out = NULL;
  *n = 0;
  if (d == NULL)
    return ctr_fail(err, errno, "read lease directory");
  while ((e = readdir(d)) != NULL) {
    uint32_t ip;
    char *id, *ifname;
    if (net_ip4_parse(e->d_name, &ip) < 0)
      continue;
    if (read_lease(ipam->dirfd, e->d_name, &id, &ifname) < 0)
      continue; /* released meanwhile, or not a lease of any shape */
    if (len == cap) {
      struct net_lease *nl = realloc(l, (cap = cap ? cap * 2 : 16) * sizeof(*l));
      if (nl == NULL) {
        free(id);
        free(ifname);
        net_leases_free(l, len);
        return ctr_fail(err, ENOMEM, "list leases");
      }
      l = nl;
    }
    l[len++] = (struct net_lease){ip, id, ifname};
  }
  if (len > 1)
    qsort(l, len, sizeof(*l), cmp_lease);
  *out = l;
  *n = len;
  return 0;
}

int net_ipam_find(struct net_ipam *ipam, const char *id, const char *ifname,
                  uint32_t *ip, ctr_err *err) {
  struct net_lease *l;
  size_t n;
  int found = 0;
  if (net_ipam_list(ipam, &l, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && !found; i++)
    if (net_lease_matches(l[i].id, l[i].ifname, id, ifname)) {
      *ip = l[i].ip;
      found = 1;
    }
  net_leases_free(l, n);
  return found;
}

int net_ipam_release_ip(struct net_ipam *ipam, uint32_t ip, ctr_err *err) {
  char name[NET_IP4_STRLEN];
  net_ip4_format(ip, name);
  if (unlinkat(ipam->dirfd, name, 0) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "release %s", name);
  return ctr_fsync_dir(ipam->dirfd, err);
}

int net_ipam_release(struct net_ipam *ipam, const char *id,
                     const char *ifname, ctr_err *err) {
  struct net_lease *l;
  size_t n;
  int released = 0;
  if (net_ipam_list(ipam, &l, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    char name[NET_IP4_STRLEN];
    if (!net_lease_matches(l[i].id, l[i].ifname, id, ifname))
      continue;
    net_ip4_format(l[i].ip, name);
    if (unlinkat(ipam->dirfd, name, 0) < 0 && errno != ENOENT) {
      int e = errno;
      net_leases_free(l, n);
      return ctr_fail(err, e, "release %s", name);
    }
    released++;
  }
  net_leases_free(l, n);
  if (released > 0 && ctr_fsync_dir(ipam->dirfd, err) < 0)
    return -1;
  return released;
}

int net_ipam_count(struct net_ipam *ipam, ctr_err *err) {
  cleanup_dir DIR *d = ctr_opendir_at(ipam->dirfd);
  struct dirent *e;
  int n = 0;
  if (d == NULL)
    return ctr_fail(err, errno, "read lease directory");
  while ((e = readdir(d)) != NULL) {
    uint32_t ip;
    if (net_ip4_parse(e->d_name, &ip) == 0)
      n++;
  }
  return n;
}
