/* Removing network definitions: `ctr-net rm` and `prune`, refusing a
 * network live containers hold leases on, crash-safe. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/lock.h"

/* ---- removing ---------------------------------------------------------------------------- */

/* With networks.lock held: remove network name unless a live container
 * holds a lease. The lease directory is first renamed to a dot-name (so
 * a crash leaves the network, without its stale leases, or nothing),
 * then the conflist goes, then the renamed directory. 1 removed, 0 kept
 * because of live leases (*live set), -1 error. */
static int remove_at(const struct ctr_paths *p, int dfd, const char *name, size_t *live,
                     ctr_err *err) {
  cleanup_free char *file = NULL, *hidden = NULL;
  cleanup_close int ldfd = -1;
  cleanup_close int llock = -1;
  struct net_lease_info *leases = NULL;
  size_t n = 0;
  if (asprintf(&file, "%s%s", name, SUFFIX) < 0 ||
      asprintf(&hidden, ".%s%s", name, REMOVING_SUFFIX) < 0)
    return ctr_fail(err, ENOMEM, "remove %s", name);
  ldfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ldfd < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "open networks/%s", name);
  if (ldfd >= 0) {
    /* the lease lock host-local and ctr-net's plugin take: nobody leases
     * while we look. They make it before their first lease; where it is
     * missing nobody has leased, and a refusal must change nothing. */
    llock = openat(ldfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (llock < 0 && errno != ENOENT)
      return ctr_fail(err, errno, "open networks/%s/lock", name);
    if (llock >= 0 && flock(llock, LOCK_EX) < 0)
      return ctr_fail(err, errno, "lock networks/%s/lock", name);
    if (netconf_leases_at(p, ldfd, &leases, &n, err) < 0)
      return -1;
    *live = net_lease_info_live(leases, n);
    net_lease_info_free(leases, n);
    if (*live > 0)
      return 0;
    if (ctr_rm_rf(dfd, hidden, err) < 0)
      return -1;
    if (renameat(dfd, name, dfd, hidden) < 0)
      return ctr_fail(err, errno, "rename networks/%s", name);
  }
  if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "remove networks/%s", file);
  if (ctr_fsync_dir(dfd, err) < 0)
    return -1;
  if (ldfd >= 0 && ctr_rm_rf(dfd, hidden, err) < 0)
    return -1;
  return 1;
}

int net_remove(const struct ctr_paths *p, const char *name, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  struct stat st;
  size_t live = 0;
  int r;
  if (strcmp(name, NET_DEFAULT_NAME) == 0)
    return ctr_fail(err, 0, "%s is the default network and cannot be removed", name);
  if (netconf_name_or_no_such(name, err) < 0)
    return -1;
  /* nothing to remove (and nothing to create) when there is no store */
  lock = netconf_lock_network(p, name, &dfd, err);
  if (lock < 0)
    return -1;
  {
    cleanup_free char *file = NULL;
    if (asprintf(&file, "%s%s", name, SUFFIX) < 0)
      return ctr_fail(err, ENOMEM, "remove %s", name);
    if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return errno == ENOENT ? netconf_no_such(err, name)
                             : ctr_fail(err, errno, "networks/%s", file);
  }
  r = remove_at(p, dfd, name, &live, err);
  if (r == 0)
    return ctr_fail(err, 0, "network %s has %zu container%s attached", name, live,
                    live == 1 ? "" : "s");
  return r < 0 ? -1 : 0;
}

void net_names_free(char **names) {
  if (names == NULL)
    return;
  for (char **n = names; *n; n++)
    free(*n);
  free(names);
}

static int by_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Leftovers of a crash: dot-names (temp files, renamed lease
 * directories) and lease directories without a conflist. */
static int prune_leftovers(int dfd, ctr_err *err) {
  cleanup_dir DIR *d = ctr_opendir_at(dfd);
  struct dirent *de;
  if (d == NULL)
    return ctr_fail(err, errno, "read networks");
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat st;
    cleanup_free char *file = NULL;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (de->d_name[0] != '.') {
      if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        continue;
      if (asprintf(&file, "%s%s", de->d_name, SUFFIX) < 0)
        return ctr_fail(err, ENOMEM, "prune");
      if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        continue;
    }
    if (ctr_rm_rf(dfd, de->d_name, err) < 0)
      return ctr_wrap(err, "prune");
  }
  return 0;
}

int net_prune(const struct ctr_paths *p, char ***removed, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  struct net_config *nets = NULL;
  size_t n = 0, k = 0;
  char **names;
  int ret = -1;
  *removed = NULL;
  dfd = netconf_open_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  if (dfd < 0)
    return (*removed = calloc(1, sizeof(char *))) ? 0 : ctr_fail(err, ENOMEM, "prune");
  lock = ctr_lock(p, "networks", LOCK_EX, err);
  if (lock < 0 || netconf_list_at(p, dfd, &nets, &n, err) < 0)
    return -1;
  names = calloc(n + 1, sizeof(char *));
  if (names == NULL) {
    ctr_fail(err, ENOMEM, "prune");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    size_t live = 0;
    int r;
    if (nets[i].is_default)
      continue;
    r = remove_at(p, dfd, nets[i].name, &live, err);
    if (r < 0) {
      ctr_wrap(err, "prune: remove %s", nets[i].name);
      goto out;
    }
    if (r == 1 && (names[k++] = strdup(nets[i].name)) == NULL) {
      ctr_fail(err, ENOMEM, "prune");
      goto out;
    }
  }
  if (prune_leftovers(dfd, err) < 0)
    goto out;
  qsort(names, k, sizeof(char *), by_str);
  *removed = names;
  names = NULL;
  ret = 0;
out:
  net_names_free(names);
  net_config_list_free(nets, n);
  return ret;
}
