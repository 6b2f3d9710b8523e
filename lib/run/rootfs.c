#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "devices.h"
#include "inroot.h"
#include "mounts.h"

/* linux.rootfsPropagation: what "/" is during the setup (always
 * recursive, never shared, so nothing made here reaches the host), and
 * what it becomes at the end when that differs. */
struct propagation {
  unsigned long setup, final;
};

static int parse_propagation(const char *s, struct propagation *p, ctr_err *err) {
  static const struct {
    const char *name;
    unsigned long setup, final;
  } table[] = {
      {"rprivate", MS_PRIVATE | MS_REC, 0},
      {"private", MS_PRIVATE | MS_REC, 0},
      {"rslave", MS_SLAVE | MS_REC, 0},
      {"slave", MS_SLAVE | MS_REC, 0},
      {"rshared", MS_SLAVE | MS_REC, MS_SHARED | MS_REC},
      {"shared", MS_SLAVE | MS_REC, MS_SHARED},
      {"runbindable", MS_PRIVATE | MS_REC, MS_UNBINDABLE | MS_REC},
      {"unbindable", MS_PRIVATE | MS_REC, MS_UNBINDABLE},
  };
  if (s == NULL || s[0] == '\0')
    s = "rprivate";
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(s, table[i].name) == 0) {
      p->setup = table[i].setup;
      p->final = table[i].final;
      return 0;
    }
  return ctr_fail(err, 0, "linux.rootfsPropagation: unknown value '%s'", s);
}

/* Bind the root onto itself: a mount of its own (pivot_root needs one),
 * whose propagation is ours to set whatever the overlay under it has. */
static int prepare_root(const char *bundle_dir, const char *path,
                        const struct propagation *prop, ctr_err *err) {
  cleanup_free char *abs = NULL;
  cleanup_close int fd = -1;
  char fdp[RUN_FD_PATH_MAX];
  if (path[0] == '/')
    abs = strdup(path);
  else if (asprintf(&abs, "%s/%s", bundle_dir, path) < 0)
    abs = NULL;
  if (abs == NULL)
    return ctr_fail(err, ENOMEM, "root");
  fd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "root %s", abs);
  if (run_bind_fds(fd, fd, true) < 0)
    return ctr_fail(err, errno, "root %s: bind onto itself", abs);
  close(fd);
  /* Opened again: the fd before is of what is now beneath the bind. */
  fd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "root %s", abs);
  if (mount(NULL, run_fd_path(fdp, fd), "", prop->setup, NULL) < 0)
    return ctr_fail(err, errno, "root %s: propagation", abs);
  return ctr_steal_fd(fd);
}

static int make_mounts(int root_fd, const char *bundle_dir, const json_t *mounts,
                       ctr_err *err) {
  size_t i;
  json_t *m;
  if (mounts != NULL && !json_is_array(mounts))
    return ctr_fail(err, 0, "mounts: not an array");
  json_array_foreach(mounts, i, m) {
    if (run_mount_entry(root_fd, bundle_dir, m, err) < 0)
      return -1;
  }
  return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it
 * from there leaves only the new root (as runc and crun do, so no
 * put_old directory is needed in the image). */
static int pivot_into(int root_fd, ctr_err *err) {
  cleanup_close int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old < 0)
    return ctr_fail(err, errno, "open /");
  if (fchdir(root_fd) < 0)
    return ctr_fail(err, errno, "chdir to the root");
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return ctr_fail(err, errno, "pivot_root");
  if (fchdir(old) < 0)
    return ctr_fail(err, errno, "chdir to the old root");
  /* Slave first, so the unmount cannot propagate anywhere. */
  if (mount(NULL, ".", "", MS_SLAVE | MS_REC, NULL) < 0)
    return ctr_fail(err, errno, "old root: propagation");
  if (umount2(".", MNT_DETACH) < 0)
    return ctr_fail(err, errno, "detach the old root");
  if (chdir("/") < 0)
    return ctr_fail(err, errno, "chdir /");
  return 0;
}

/* Mounts of step 6 go through /proc/self/fd: it must be the container's
 * procfs, not a directory of the image that only looks like one. */
static int check_proc(int root_fd, bool *checked, ctr_err *err) {
  cleanup_close int fd = -1;
  struct statfs sfs;
  if (*checked)
    return 0;
  fd = openat(root_fd, "proc", O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return ctr_fail(err, 0, "masked and read-only paths need procfs mounted at /proc");
  *checked = true;
  return 0;
}

/* A masked or read-only path; 0 with *fd -1 when it is not there. */
static int open_existing(int root_fd, const char *path, int *fd, ctr_err *err) {
  *fd = run_inroot_open(root_fd, path, RUN_INROOT_EXISTING);
  if (*fd < 0 && errno != ENOENT && errno != ENOTDIR)
    return ctr_fail(err, errno, "%s", path);
  return 0;
}

static int mask_path(int root_fd, const char *path, bool *proc_ok, ctr_err *err) {
  cleanup_close int fd = -1;
  cleanup_close int null = -1;
  char fdp[RUN_FD_PATH_MAX];
  struct stat st;
  if (open_existing(root_fd, path, &fd, err) < 0)
    return -1;
  if (fd < 0)
    return 0;
  if (check_proc(root_fd, proc_ok, err) < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return ctr_fail(err, errno, "%s", path);
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", run_fd_path(fdp, fd), "tmpfs",
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
      return ctr_fail(err, errno, "%s: tmpfs", path);
    return 0;
  }
  null = run_inroot_open(root_fd, "/dev/null", RUN_INROOT_EXISTING);
  if (null < 0 || fstat(null, &st) < 0)
    return ctr_fail(err, errno, "%s: /dev/null", path);
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return ctr_fail(err, 0, "%s: /dev/null is not the null device", path);
  if (run_bind_fds(null, fd, false) < 0)
    return ctr_fail(err, errno, "%s: bind /dev/null", path);
  return 0;
}

static int readonly_path(int root_fd, const char *path, bool *proc_ok, ctr_err *err) {
  cleanup_close int fd = -1;
  if (open_existing(root_fd, path, &fd, err) < 0)
    return -1;
  if (fd < 0)
    return 0;
  if (check_proc(root_fd, proc_ok, err) < 0)
    return -1;
  if (run_bind_fds(fd, fd, true) < 0)
    return ctr_fail(err, errno, "%s: bind onto itself", path);
  close(fd);
  fd = run_inroot_open(root_fd, path, RUN_INROOT_EXISTING);
  if (fd < 0 || run_bind_remount(fd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0) < 0)
    return ctr_fail(err, errno, "%s: remount read-only", path);
  return 0;
}

static int each_path(int root_fd, const json_t *paths, const char *what, bool *proc_ok,
                     int (*fn)(int, const char *, bool *, ctr_err *), ctr_err *err) {
  size_t i;
  json_t *p;
  if (paths != NULL && !json_is_array(paths))
    return ctr_fail(err, 0, "linux.%s: not an array of strings", what);
  json_array_foreach(paths, i, p) {
    if (!json_is_string(p))
      return ctr_fail(err, 0, "linux.%s: not an array of strings", what);
    if (fn(root_fd, json_string_value(p), proc_ok, err) < 0)
      return ctr_wrap(err, "%s", strcmp(what, "maskedPaths") == 0 ? "mask" : "read-only path");
  }
  return 0;
}

/* Step 6, in the new root. */
static int finish_root(const json_t *config, const struct propagation *prop, ctr_err *err) {
  const json_t *lx = json_object_get(config, "linux");
  cleanup_close int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  bool proc_ok = false;
  if (root_fd < 0)
    return ctr_fail(err, errno, "open /");
  if (each_path(root_fd, json_object_get(lx, "maskedPaths"), "maskedPaths", &proc_ok,
                mask_path, err) < 0 ||
      each_path(root_fd, json_object_get(lx, "readonlyPaths"), "readonlyPaths", &proc_ok,
                readonly_path, err) < 0)
    return -1;
  if (json_is_true(json_object_get(json_object_get(config, "root"), "readonly")) &&
      run_bind_remount_path("/", MS_RDONLY, 0) < 0)
    return ctr_fail(err, errno, "remount / read-only");
  if (prop->final != 0 && mount(NULL, "/", "", prop->final, NULL) < 0)
    return ctr_fail(err, errno, "linux.rootfsPropagation");
  return 0;
}

int run_rootfs_setup(const char *bundle_dir, const json_t *config, ctr_err *err) {
  const json_t *lx = json_object_get(config, "linux");
  const char *root_path = ctr_json_str(json_object_get(config, "root"), "path");
  struct propagation prop = {0, 0};
  cleanup_close int root_fd = -1;
  if (root_path == NULL || root_path[0] == '\0')
    return ctr_fail(err, 0, "config.json: root.path is missing");
  if (parse_propagation(ctr_json_str(lx, "rootfsPropagation"), &prop, err) < 0)
    return -1;
  if (mount(NULL, "/", "", prop.setup, NULL) < 0)
    return ctr_fail(err, errno, "make / %s", (prop.setup & MS_SLAVE) ? "rslave" : "rprivate");
  root_fd = prepare_root(bundle_dir, root_path, &prop, err);
  if (root_fd < 0)
    return -1;
  if (make_mounts(root_fd, bundle_dir, json_object_get(config, "mounts"), err) < 0 ||
      run_devices_create(root_fd, json_object_get(lx, "devices"), err) < 0 ||
      pivot_into(root_fd, err) < 0)
    return -1;
  return finish_root(config, &prop, err);
}
