/* The address leases of a network (host-local's layout): who holds
 * which address, and whether that container still exists. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cleanup.h"
#include "core/fs.h"

#define LEASE_MAX 4096

/* ---- leases -------------------------------------------------------------------- */

void net_lease_info_free(struct net_lease_info *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(l[i].address);
    free(l[i].container);
    free(l[i].ifname);
  }
  free(l);
}

static bool is_address(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool component_ok(const char *s) {
  return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
         strcmp(s, "..") != 0 && strlen(s) < 256;
}

/* "id\r\nifname" (host-local since 0.8) or just "id". */
static int read_lease(int dfd, struct net_lease_info *l, int containers_fd) {
  cleanup_close int fd = openat(dfd, l->address, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free char *buf = NULL;
  ctr_err e = NULL;
  struct stat st;
  size_t len = 0, n;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
      ctr_read_fd(fd, LEASE_MAX, &buf, &len, &e) < 0) {
    ctr_err_free(&e);
    return 0; /* an unreadable lease still holds its address */
  }
  n = strcspn(buf, "\r\n");
  if (n > 0 && (l->container = strndup(buf, n)) == NULL)
    return -1;
  buf[n] = '\0';
  if (n < len) {
    char *rest = buf + n + 1;
    rest += strspn(rest, "\r\n");
    rest[strcspn(rest, "\r\n")] = '\0';
    if (rest[0] != '\0' && (l->ifname = strdup(rest)) == NULL)
      return -1;
  }
  l->live = l->container != NULL && containers_fd >= 0 && component_ok(l->container) &&
            fstatat(containers_fd, l->container, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode);
  return 0;
}

static int by_address(const void *a, const void *b) {
  const char *x = ((const struct net_lease_info *)a)->address;
  const char *y = ((const struct net_lease_info *)b)->address;
  uint32_t ix, iy;
  bool vx = net_ip4_parse(x, &ix) == 0, vy = net_ip4_parse(y, &iy) == 0;
  if (vx && vy)
    return ix < iy ? -1 : ix > iy;
  if (vx != vy)
    return vx ? -1 : 1;
  return strcmp(x, y);
}

int netconf_leases_at(const struct ctr_paths *p, int ldfd, struct net_lease_info **out,
                      size_t *count, ctr_err *err) {
  cleanup_free char *cdir = NULL;
  cleanup_close int cfd = -1;
  cleanup_dir DIR *d = ctr_opendir_at(ldfd);
  struct net_lease_info *l = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  if (d == NULL)
    return ctr_fail(err, errno, "read leases");
  if (asprintf(&cdir, "%s/containers", p->root) < 0)
    return ctr_fail(err, ENOMEM, "read leases");
  cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || !is_address(de->d_name))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      struct net_lease_info *nl = realloc(l, nc * sizeof(*nl));
      if (nl == NULL)
        goto oom;
      l = nl;
      cap = nc;
    }
    memset(&l[n], 0, sizeof(l[n]));
    l[n].address = strdup(de->d_name);
    if (l[n].address == NULL)
      goto oom;
    n++;
    if (read_lease(ldfd, &l[n - 1], cfd) < 0)
      goto oom;
  }
  if (n > 1)
    qsort(l, n, sizeof(*l), by_address);
  *out = l;
  *count = n;
  return 0;
oom:
  net_lease_info_free(l, n);
  return ctr_fail(err, ENOMEM, "read leases");
}

int net_lease_info_list(const struct ctr_paths *p, const char *name, struct net_lease_info **out,
                     size_t *n, ctr_err *err) {
  cleanup_close int dfd = netconf_open_ro(p, err);
  cleanup_close int ldfd = -1;
  ctr_err ignored = NULL;
  *out = NULL;
  *n = 0;
  if (dfd < 0)
    return errno == ENOENT ? 0 : -1;
  if (net_name_check(name, &ignored) < 0) {
    ctr_err_free(&ignored);
    return 0;
  }
  ldfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ldfd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "open networks/%s", name);
  return netconf_leases_at(p, ldfd, out, n, err);
}

size_t net_lease_info_live(const struct net_lease_info *l, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    if (!l[i].live)
      continue;
    for (size_t k = 0; k < i && !seen; k++)
      seen = l[k].live && strcmp(l[k].container, l[i].container) == 0;
    count += !seen;
  }
  return count;
}
