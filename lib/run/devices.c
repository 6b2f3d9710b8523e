#define _GNU_SOURCE
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "inroot.h"
#include "mounts.h"

struct device {
  const char *path;
  mode_t type; /* S_IFCHR, S_IFBLK or S_IFIFO */
  unsigned int major, minor;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

static const struct device default_devices[] = {
    {"/dev/null", S_IFCHR, 1, 3, 0666, 0, 0},    {"/dev/zero", S_IFCHR, 1, 5, 0666, 0, 0},
    {"/dev/full", S_IFCHR, 1, 7, 0666, 0, 0},    {"/dev/random", S_IFCHR, 1, 8, 0666, 0, 0},
    {"/dev/urandom", S_IFCHR, 1, 9, 0666, 0, 0}, {"/dev/tty", S_IFCHR, 5, 0, 0666, 0, 0},
};

static const struct {
  const char *name, *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

static int json_uint(const json_t *obj, const char *key, unsigned long max, unsigned long dflt,
                     unsigned long *out) {
  const json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v)) {
    *out = dflt;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (unsigned long long)json_integer_value(v) > max)
    return -1;
  *out = (unsigned long)json_integer_value(v);
  return 0;
}

static int parse_device(const json_t *j, struct device *d, ctr_err *err) {
  const char *type = ctr_json_str(j, "type");
  unsigned long major, minor, mode, uid, gid;
  d->path = ctr_json_str(j, "path");
  if (d->path == NULL || d->path[0] != '/')
    return ctr_fail(err, 0, "linux.devices: a device without an absolute path");
  if (type == NULL || strlen(type) != 1 || strchr("cubp", type[0]) == NULL)
    return ctr_fail(err, 0, "device %s: type must be c, u, b or p", d->path);
  d->type = type[0] == 'b' ? S_IFBLK : type[0] == 'p' ? S_IFIFO : S_IFCHR;
  if (json_uint(j, "major", 0xfff, d->type == S_IFIFO ? 0 : ~0UL, &major) < 0 ||
      json_uint(j, "minor", 0xfffff, d->type == S_IFIFO ? 0 : ~0UL, &minor) < 0 ||
      major == ~0UL || minor == ~0UL)
    return ctr_fail(err, 0, "device %s: major and minor must be numbers", d->path);
  if (json_uint(j, "fileMode", 07777, 0666, &mode) < 0 ||
      json_uint(j, "uid", 0xfffffffe, 0, &uid) < 0 || json_uint(j, "gid", 0xfffffffe, 0, &gid) < 0)
    return ctr_fail(err, 0, "device %s: bad fileMode, uid or gid", d->path);
  d->major = (unsigned int)major;
  d->minor = (unsigned int)minor;
  d->mode = (mode_t)mode & 0777;
  d->uid = (uid_t)uid;
  d->gid = (gid_t)gid;
  return 0;
}

/* mknod is refused: bind the host's node of the same path, if it is the
 * same device, over an empty file. */
static int bind_host_device(int dir, const char *name, const struct device *d, ctr_err *err) {
  cleanup_close int src = open(d->path, O_PATH | O_CLOEXEC);
  cleanup_close int dst = -1;
  struct stat st;
  int fd;
  if (src < 0 || fstat(src, &st) < 0)
    return ctr_fail(err, errno, "mknod refused; bind %s", d->path);
  if ((st.st_mode & S_IFMT) != d->type ||
      (d->type != S_IFIFO && st.st_rdev != makedev(d->major, d->minor)))
    return ctr_fail(err, 0, "mknod refused; bind %s: not device %u:%u", d->path, d->major,
                    d->minor);
  fd = openat(dir, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return ctr_fail(err, errno, "create %s", name);
  close(fd);
  dst = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0 || run_bind_fds(src, dst, false) < 0)
    return ctr_fail(err, errno, "mknod refused; bind %s", d->path);
  return 0;
}

static int make_device(int root_fd, const struct device *d, ctr_err *err) {
  cleanup_free char *clean = run_path_clean(d->path);
  cleanup_close int dir = -1;
  char *name;
  if (clean == NULL)
    return ctr_fail(err, ENOMEM, "device %s", d->path);
  name = strrchr(clean, '/');
  if (name[1] == '\0')
    return ctr_fail(err, 0, "device %s: not a file name", d->path);
  *name++ = '\0';
  dir = run_inroot_open(root_fd, clean[0] ? clean : "/", RUN_INROOT_MKDIR);
  if (dir < 0)
    return ctr_fail(err, errno, "device %s: its directory", d->path);
  /* What the image has there goes, a symlink included (never followed). */
  if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "device %s: remove what is there", d->path);
  if (mknodat(dir, name, d->type | d->mode, makedev(d->major, d->minor)) < 0) {
    if (errno != EPERM)
      return ctr_fail(err, errno, "device %s: mknod", d->path);
    if (bind_host_device(dir, name, d, err) < 0)
      return ctr_wrap(err, "device %s", d->path);
    return 0;
  }
  /* mknod's mode went through the umask. */
  if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
      fchmodat(dir, name, d->mode, 0) < 0)
    return ctr_fail(err, errno, "device %s: set owner and mode", d->path);
  return 0;
}

static bool configured(const json_t *devices, const char *path) {
  size_t i;
  json_t *d;
  json_array_foreach(devices, i, d) {
    cleanup_free char *clean = run_path_clean(ctr_json_str(d, "path") ? ctr_json_str(d, "path") : "");
    if (clean != NULL && strcmp(clean, path) == 0)
      return true;
  }
  return false;
}

static int make_links(int root_fd, ctr_err *err) {
  cleanup_close int dev = run_inroot_open(root_fd, "/dev", RUN_INROOT_MKDIR);
  if (dev < 0)
    return ctr_fail(err, errno, "/dev");
  for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
    if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0 && errno != EEXIST)
      return ctr_fail(err, errno, "symlink /dev/%s", dev_links[i].name);
  /* The pts instance of the container, not a node of the host's. */
  if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "remove /dev/ptmx");
  if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
    return ctr_fail(err, errno, "symlink /dev/ptmx");
  return 0;
}

int run_devices_create(int root_fd, const json_t *devices, ctr_err *err) {
  size_t i;
  json_t *j;
  if (devices != NULL && !json_is_array(devices))
    return ctr_fail(err, 0, "linux.devices: not an array");
  json_array_foreach(devices, i, j) {
    struct device d;
    if (parse_device(j, &d, err) < 0 || make_device(root_fd, &d, err) < 0)
      return -1;
  }
  for (i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++)
    if (!configured(devices, default_devices[i].path) &&
        make_device(root_fd, &default_devices[i], err) < 0)
      return -1;
  return make_links(root_fd, err);
}
