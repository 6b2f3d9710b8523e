#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "inroot.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define MOUNT_FLAGS                                                                      \
  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |           \
   MS_RELATIME | MS_STRICTATIME)

/* One cgroup hierarchy the host has mounted under /sys/fs/cgroup, from a
 * line of /proc/self/mountinfo. */
struct hierarchy {
  const char *root;       /* the cgroup shown at the mount's root */
  const char *mountpoint; /* /sys/fs/cgroup/<name> */
  const char *fstype;     /* cgroup or cgroup2 */
  const char *superopts;  /* rw,memory / rw,name=systemd / … */
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s) {
  char *o = s;
  while (*s) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
        s[3] >= '0' && s[3] <= '7') {
      *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 4;
    } else {
      *o++ = *s++;
    }
  }
  *o = '\0';
}

/* Split a mountinfo line in place; false unless it is a cgroup hierarchy
 * mounted right under /sys/fs/cgroup. */
static bool parse_hierarchy(char *line, struct hierarchy *h) {
  char *f[64], *save = NULL;
  size_t n = 0, dash;
  for (char *t = strtok_r(line, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
    f[n++] = t;
  for (dash = 6; dash < n && strcmp(f[dash], "-") != 0; dash++)
    ;
  if (n < 7 || dash + 3 >= n)
    return false;
  unescape(f[3]);
  unescape(f[4]);
  h->root = f[3];
  h->mountpoint = f[4];
  h->fstype = f[dash + 1];
  h->superopts = f[dash + 3];
  if (strcmp(h->fstype, "cgroup") != 0 && strcmp(h->fstype, "cgroup2") != 0)
    return false;
  return strncmp(h->mountpoint, CGROUP_ROOT "/", strlen(CGROUP_ROOT) + 1) == 0 &&
         strchr(h->mountpoint + strlen(CGROUP_ROOT) + 1, '/') == NULL;
}

static bool has_token(const char *list, const char *tok, size_t len) {
  for (const char *p = list; *p;) {
    const char *end = strchrnul(p, ',');
    if ((size_t)(end - p) == len && strncmp(p, tok, len) == 0)
      return true;
    p = *end ? end + 1 : end;
  }
  return false;
}

/* Every controller of ctrls is in the hierarchy's mount options. */
static bool controllers_match(const char *ctrls, size_t len, const char *superopts) {
  if (len == 0)
    return false;
  for (const char *p = ctrls; p < ctrls + len;) {
    const char *end = memchr(p, ',', (size_t)(ctrls + len - p));
    if (end == NULL)
      end = ctrls + len;
    if (!has_token(superopts, p, (size_t)(end - p)))
      return false;
    p = end + 1;
  }
  return true;
}

/* Our cgroup in hierarchy h, from /proc/self/cgroup ("4:memory:/a/b",
 * "0::/a/b" for cgroup2): *ctrls and *path malloc'd; 0 if not there. */
static int own_cgroup(const char *cgroups, const struct hierarchy *h, char **ctrls,
                      char **path) {
  bool v2 = strcmp(h->fstype, "cgroup2") == 0;
  for (const char *line = cgroups; *line;) {
    const char *eol = strchrnul(line, '\n');
    const char *c1 = memchr(line, ':', (size_t)(eol - line));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
    if (c2 != NULL && (v2 ? (c2 == c1 + 1 && c1 - line == 1 && line[0] == '0')
                          : controllers_match(c1 + 1, (size_t)(c2 - c1 - 1), h->superopts))) {
      *ctrls = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
      *path = strndup(c2 + 1, (size_t)(eol - c2 - 1));
      if (*ctrls == NULL || *path == NULL) {
        free(*ctrls);
        free(*path);
        errno = ENOMEM;
        return -1;
      }
      return 1;
    }
    line = *eol ? eol + 1 : eol;
  }
  return 0;
}

/* "/a" is a path prefix of "/a" and "/a/b", not of "/ab"; "/" of all. */
static const char *path_below(const char *path, const char *root) {
  size_t n = strlen(root);
  if (strcmp(root, "/") == 0)
    return path;
  if (strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/'))
    return path + n;
  return NULL;
}

/* Bind the host's directory src onto dest inside the root, then give it
 * the flags of the cgroup mount. */
static int bind_cgroup_dir(int root_fd, const char *dest, const char *src,
                           const struct run_mount_opts *o, ctr_err *err) {
  cleanup_close int sfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int dfd = -1;
  if (sfd < 0)
    return ctr_fail(err, errno, "bind %s", src);
  dfd = run_inroot_open(root_fd, dest, RUN_INROOT_MKDIR);
  if (dfd < 0)
    return ctr_fail(err, errno, "mount point %s", dest);
  if (run_bind_fds(sfd, dfd, false) < 0)
    return ctr_fail(err, errno, "bind %s", src);
  close(dfd);
  dfd = run_inroot_open(root_fd, dest, RUN_INROOT_EXISTING);
  if (dfd < 0 || run_bind_remount(dfd, o->flags & MOUNT_FLAGS, o->cleared) < 0)
    return ctr_fail(err, errno, "remount %s", dest);
  return 0;
}

/* Co-mounted controllers ("cpu,cpuacct") get a symlink per controller,
 * as on the host. */
static int link_comounted(int top_fd, const char *name, ctr_err *err) {
  cleanup_free char *copy = strdup(name);
  char *save = NULL;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "cgroup");
  if (strchr(name, ',') == NULL)
    return 0;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (symlinkat(name, top_fd, t) < 0 && errno != EEXIST)
      return ctr_fail(err, errno, "symlink %s -> %s", t, name);
  return 0;
}

static int mount_hierarchy(int root_fd, int top_fd, const char *dest, const struct hierarchy *h,
                           const char *cgroups, const struct run_mount_opts *o, ctr_err *err) {
  const char *name = strrchr(h->mountpoint, '/') + 1;
  cleanup_free char *ctrls = NULL, *path = NULL, *sub = NULL, *src = NULL;
  cleanup_close int dfd = -1;
  const char *below;
  char fdp[RUN_FD_PATH_MAX];
  int found = own_cgroup(cgroups, h, &ctrls, &path);
  if (found <= 0)
    return found < 0 ? ctr_fail(err, errno, "cgroup") : 0;
  if (asprintf(&sub, "%s/%s", dest, name) < 0)
    return ctr_fail(err, ENOMEM, "cgroup");
  below = path_below(path, h->root);
  if (below != NULL) {
    if (asprintf(&src, "%s%s", h->mountpoint, below) < 0)
      return ctr_fail(err, ENOMEM, "cgroup");
    if (bind_cgroup_dir(root_fd, sub, src, o, err) < 0)
      return -1;
    return link_comounted(top_fd, name, err);
  }
  /* In a cgroup namespace the host's mount root lies above ours and our
   * path is not below it: a new mount of the hierarchy has the
   * namespace's root, which is the container's cgroup. */
  dfd = run_inroot_open(root_fd, sub, RUN_INROOT_MKDIR);
  if (dfd < 0)
    return ctr_fail(err, errno, "mount point %s", sub);
  if (mount(h->fstype, run_fd_path(fdp, dfd), h->fstype, o->flags & MOUNT_FLAGS,
            strcmp(h->fstype, "cgroup") == 0 ? ctrls : NULL) < 0)
    return ctr_fail(err, errno, "%s %s at %s", h->fstype, ctrls, sub);
  return link_comounted(top_fd, name, err);
}

static int mount_v1(int root_fd, const char *dest, const struct run_mount_opts *o, ctr_err *err) {
  cleanup_free char *mountinfo = NULL, *cgroups = NULL;
  cleanup_close int top = -1;
  char fdp[RUN_FD_PATH_MAX], *save = NULL;
  if (ctr_read_file(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &mountinfo, NULL, err) < 0 ||
      ctr_read_file(AT_FDCWD, "/proc/self/cgroup", 1 << 20, &cgroups, NULL, err) < 0)
    return -1;
  top = run_inroot_open(root_fd, dest, RUN_INROOT_MKDIR);
  if (top < 0)
    return ctr_fail(err, errno, "mount point");
  /* Writable until the hierarchies are in, then as asked (ro). */
  if (mount("tmpfs", run_fd_path(fdp, top), "tmpfs", o->flags & MOUNT_FLAGS & ~MS_RDONLY,
            "mode=755") < 0)
    return ctr_fail(err, errno, "tmpfs");
  close(top);
  top = run_inroot_open(root_fd, dest, RUN_INROOT_EXISTING);
  if (top < 0)
    return ctr_fail(err, errno, "reopen the mount point");
  for (char *line = strtok_r(mountinfo, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    struct hierarchy h;
    if (parse_hierarchy(line, &h) && mount_hierarchy(root_fd, top, dest, &h, cgroups, o, err) < 0)
      return -1;
  }
  if ((o->flags & MS_RDONLY) && run_bind_remount(top, o->flags & MOUNT_FLAGS, o->cleared) < 0)
    return ctr_fail(err, errno, "remount read-only");
  return 0;
}

static int mount_v2(int root_fd, const char *dest, const struct run_mount_opts *o, ctr_err *err) {
  cleanup_close int dfd = run_inroot_open(root_fd, dest, RUN_INROOT_MKDIR);
  cleanup_free char *cgroups = NULL, *ctrls = NULL, *path = NULL, *src = NULL;
  struct hierarchy h = {.root = "/", .mountpoint = CGROUP_ROOT, .fstype = "cgroup2"};
  char fdp[RUN_FD_PATH_MAX];
  if (dfd < 0)
    return ctr_fail(err, errno, "mount point");
  if (mount("cgroup2", run_fd_path(fdp, dfd), "cgroup2", o->flags & MOUNT_FLAGS, NULL) == 0)
    return 0;
  if (errno != EPERM && errno != EBUSY)
    return ctr_fail(err, errno, "cgroup2");
  /* Not allowed (no cgroup namespace of our own): our cgroup's directory. */
  if (ctr_read_file(AT_FDCWD, "/proc/self/cgroup", 1 << 20, &cgroups, NULL, err) < 0)
    return -1;
  switch (own_cgroup(cgroups, &h, &ctrls, &path)) {
  case -1:
    return ctr_fail(err, errno, "cgroup2");
  case 0:
    return ctr_fail(err, 0, "cgroup2: not in a cgroup2 hierarchy");
  }
  if (asprintf(&src, "%s%s", CGROUP_ROOT, path) < 0)
    return ctr_fail(err, ENOMEM, "cgroup2");
  return bind_cgroup_dir(root_fd, dest, src, o, err);
}

int run_mount_cgroupfs(int root_fd, const char *dest, const struct run_mount_opts *o,
                       ctr_err *err) {
  struct statfs sfs;
  if (statfs(CGROUP_ROOT, &sfs) < 0)
    return ctr_fail(err, errno, "statfs %s", CGROUP_ROOT);
  if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    return mount_v2(root_fd, dest, o, err);
  return mount_v1(root_fd, dest, o, err);
}
