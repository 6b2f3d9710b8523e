#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "mounts.h"

/* mount(2) copies at most one page of options. */
static size_t options_max(void) {
  long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? (size_t)page - 1 : 4095;
}

static int check_path(const char *what, const char *p, ctr_err *err) {
  if (p == NULL || p[0] != '/')
    return ctr_fail(err, EINVAL, "overlay %s %s: not an absolute path", what, p ? p : "(null)");
  /* overlayfs splits its options on ',' and its lowerdir on ':'. */
  if (strpbrk(p, ":,\\") != NULL)
    return ctr_fail(err, EINVAL, "overlay %s %s: ':', ',' and '\\' cannot be used", what, p);
  return 0;
}

/* "lowerdir=A:B,upperdir=U,workdir=W", each lowerdir without its first
 * skip bytes. */
static char *overlay_options(const char *const *lowers, size_t n, size_t skip,
                             const char *upper, const char *work) {
  size_t len = strlen("lowerdir=,upperdir=,workdir=") + strlen(upper) + strlen(work) + 1;
  char *s, *p;
  for (size_t i = 0; i < n; i++)
    len += strlen(lowers[i]) - skip + 1;
  s = malloc(len);
  if (s == NULL)
    return NULL;
  p = stpcpy(s, "lowerdir=");
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      *p++ = ':';
    p = stpcpy(p, lowers[i] + skip);
  }
  sprintf(p, ",upperdir=%s,workdir=%s", upper, work);
  return s;
}

/* The filesystem's own message about a failed fsconfig ("e overlay: …"),
 * or "" */
static void fs_message(int fs, char *log, size_t len) {
  ssize_t r = read(fs, log, len - 1);
  if (r <= 2)
    r = 0;
  log[r] = '\0';
  if (r > 0 && log[r - 1] == '\n')
    log[r - 1] = '\0';
}

/* The rest of an overlay made with fsopen: upper and work, then the
 * mount on target. -1 with errno. */
static int fs_finish(int fs, const char *upper, const char *work, const char *target) {
  cleanup_close int mnt = -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return -1;
  mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
  if (mnt < 0 || move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return -1;
  return 0;
}

/* The new mount API takes each lowerdir on its own ("lowerdir+", Linux
 * 6.8), so there is no length limit. -2 when the kernel (or valgrind, or
 * a seccomp profile) does not offer that; -1 with errno on a failure. The
 * filesystem's own message, if any, goes to log. */
static int mount_fsconfig(const char *const *lowers, size_t n, const char *upper,
                          const char *work, const char *target, char *log, size_t loglen) {
  cleanup_close int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  int e;
  if (fs < 0)
    return -2;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0) {
      if (i == 0 && errno == EINVAL)
        return -2;
      goto fail;
    }
  if (fs_finish(fs, upper, work, target) < 0)
    goto fail;
  return 0;
fail:
  e = errno;
  fs_message(fs, log, loglen);
  errno = e;
  return -1;
}

/* Length of the longest directory (ending at a '/') all lowers are below;
 * 0 for "/". */
static size_t common_parent(const char *const *lowers, size_t n) {
  size_t len = (size_t)(strrchr(lowers[0], '/') - lowers[0]);
  for (size_t i = 1; i < n; i++)
    while (len > 0 && !(strncmp(lowers[i], lowers[0], len) == 0 && lowers[i][len] == '/'))
      len = (size_t)((const char *)memrchr(lowers[0], '/', len) - lowers[0]);
  return len;
}

/* The relative-path way (as Docker's short layer links): from a child
 * whose cwd is the lowers' common parent, lowerdirs relative to it. A
 * child, so the caller's cwd never changes under its other threads. */
static int mount_relative(const char *const *lowers, size_t n, const char *upper,
                          const char *work, const char *target, ctr_err *err) {
  size_t skip = common_parent(lowers, n);
  cleanup_free char *dir = strndup(lowers[0], skip ? skip : 1);
  cleanup_free char *data = overlay_options(lowers, n, skip + 1, upper, work);
  cleanup_close int tfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int rd = -1;
  char tpath[RUN_FD_PATH_MAX];
  int p[2], e = 0;
  pid_t pid;
  if (dir == NULL || data == NULL)
    return ctr_fail(err, ENOMEM, "mount overlay on %s", target);
  if (strlen(data) > options_max())
    return ctr_fail(err, E2BIG, "mount overlay on %s: %zu layers do not fit in the options",
                    target, n);
  if (tfd < 0)
    return ctr_fail(err, errno, "mount overlay on %s", target);
  run_fd_path(tpath, tfd);
  if (pipe2(p, O_CLOEXEC) < 0)
    return ctr_fail(err, errno, "mount overlay on %s: pipe", target);
  rd = p[0];
  pid = fork();
  if (pid < 0) {
    close(p[1]);
    return ctr_fail(err, errno, "mount overlay on %s: fork", target);
  }
  if (pid == 0) {
    if (chdir(dir) < 0 || mount("overlay", tpath, "overlay", 0, data) < 0)
      e = errno;
    if (write(p[1], &e, sizeof(e)) != (ssize_t)sizeof(e))
      _exit(1);
    /* This copy's, so that a leak checker in the child finds none. */
    free(dir);
    free(data);
    _exit(0);
  }
  close(p[1]);
  if (read(rd, &e, sizeof(e)) != (ssize_t)sizeof(e))
    e = -1;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (e < 0)
    return ctr_fail(err, 0, "mount overlay on %s: the mounting process died", target);
  if (e > 0)
    return ctr_fail(err, e, "mount overlay on %s", target);
  return 0;
}

int run_overlay_mount(const char *const *lowerdirs, size_t n, const char *upper,
                      const char *work, const char *target, ctr_err *err) {
  cleanup_free char *data = NULL;
  char log[256] = "";
  int r;
  if (n == 0)
    return ctr_fail(err, EINVAL, "mount overlay on %s: no layers", target);
  for (size_t i = 0; i < n; i++)
    if (check_path("lowerdir", lowerdirs[i], err) < 0)
      return -1;
  if (check_path("upperdir", upper, err) < 0 || check_path("workdir", work, err) < 0)
    return -1;
  data = overlay_options(lowerdirs, n, 0, upper, work);
  if (data == NULL)
    return ctr_fail(err, ENOMEM, "mount overlay on %s", target);
  if (strlen(data) <= options_max()) {
    if (mount("overlay", target, "overlay", 0, data) < 0)
      return ctr_fail(err, errno, "mount overlay on %s", target);
    return 0;
  }
  r = mount_fsconfig(lowerdirs, n, upper, work, target, log, sizeof(log));
  if (r == -2)
    return mount_relative(lowerdirs, n, upper, work, target, err);
  if (r < 0)
    return ctr_fail(err, errno, "mount overlay on %s%s%s%s", target, log[0] ? " (" : "",
                    log[0] ? log + 2 : "", log[0] ? ")" : "");
  return 0;
}

int run_overlay_mount_idmapped(const char *const *lowerdirs, size_t n, const char *upper,
                               const char *work, const char *target, int userns_fd,
                               ctr_err *err) {
  cleanup_close int fs = -1;
  cleanup_free int *trees = NULL;
  char log[256] = "";
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd};
  int ret = -1;
  if (n == 0)
    return ctr_fail(err, EINVAL, "mount overlay on %s: no layers", target);
  if (check_path("upperdir", upper, err) < 0 || check_path("workdir", work, err) < 0)
    return -1;
  /* The detached idmapped mounts must stay open until the overlay is
   * made: closing the last fd of one unmounts it. */
  trees = malloc(n * sizeof(*trees));
  if (trees == NULL)
    return ctr_fail(err, ENOMEM, "mount overlay on %s", target);
  for (size_t i = 0; i < n; i++)
    trees[i] = -1;
  fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) {
    ret = errno == ENOSYS ? -2 : ctr_fail(err, errno, "mount overlay on %s", target);
    goto out;
  }
  if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    /* Each layer as a private idmapped copy of its mount: the same files,
     * their owners shifted into the container's range. The layer itself
     * is never changed, so containers with other ranges share it. */
    trees[i] = open_tree(AT_FDCWD, lowerdirs[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (trees[i] < 0) {
      ret = errno == ENOSYS ? -2 : ctr_fail(err, errno, "layer %s", lowerdirs[i]);
      goto out;
    }
    if (mount_setattr(trees[i], "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
      ret = errno == ENOSYS || errno == EINVAL ? -2
                                               : ctr_fail(err, errno, "idmap layer %s", lowerdirs[i]);
      goto out;
    }
    /* layers as file descriptors: Linux 6.13 */
    if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, trees[i]) < 0) {
      ret = errno == EINVAL || errno == ENOSYS ? -2
                                               : ctr_fail(err, errno, "overlay layer %s", lowerdirs[i]);
      goto out;
    }
  }
  if (fs_finish(fs, upper, work, target) < 0)
    goto fail;
  ret = 0;
  goto out;
fail:
  {
    int e = errno;
    fs_message(fs, log, sizeof(log));
    ret = ctr_fail(err, e, "mount overlay on %s%s%s%s", target, log[0] ? " (" : "",
                   log[0] ? log + 2 : "", log[0] ? ")" : "");
  }
out:
  for (size_t i = 0; i < n; i++)
    if (trees[i] >= 0)
      close(trees[i]);
  return ret;
}
