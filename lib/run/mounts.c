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
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "inroot.h"

#define ATIME_FLAGS (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
/* What a bind mount takes only through a remount. */
#define BIND_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | ATIME_FLAGS)
#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

static const struct {
  const char *name;
  unsigned long flag;
  bool clear;
} mount_flag_names[] = {
    {"async", MS_SYNCHRONOUS, true},   {"atime", MS_NOATIME, true},
    {"bind", MS_BIND, false},          {"defaults", 0, false},
    {"dev", MS_NODEV, true},           {"diratime", MS_NODIRATIME, true},
    {"dirsync", MS_DIRSYNC, false},    {"exec", MS_NOEXEC, true},
    {"iversion", MS_I_VERSION, false}, {"lazytime", MS_LAZYTIME, false},
    {"loud", MS_SILENT, true},         {"mand", MS_MANDLOCK, false},
    {"noatime", MS_NOATIME, false},    {"nodev", MS_NODEV, false},
    {"nodiratime", MS_NODIRATIME, false}, {"noexec", MS_NOEXEC, false},
    {"noiversion", MS_I_VERSION, true}, {"nolazytime", MS_LAZYTIME, true},
    {"nomand", MS_MANDLOCK, true},     {"norelatime", MS_RELATIME, true},
    {"nostrictatime", MS_STRICTATIME, true}, {"nosuid", MS_NOSUID, false},
    {"nosymfollow", MS_NOSYMFOLLOW, false}, {"rbind", MS_BIND | MS_REC, false},
    {"relatime", MS_RELATIME, false},  {"ro", MS_RDONLY, false},
    {"rw", MS_RDONLY, true},           {"silent", MS_SILENT, false},
    {"strictatime", MS_STRICTATIME, false}, {"suid", MS_NOSUID, true},
    {"sync", MS_SYNCHRONOUS, false},
};

static const struct {
  const char *name;
  unsigned long flag;
} propagation_names[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* Files of /proc that may be mounted over, as lxcfs does to show a
 * container its own figures; anything else in procfs could lift a
 * security setting (/proc/self/attr, /proc/sys…) and is refused. */
static const char *const proc_overmount_ok[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", NULL,
};

const char *run_fd_path(char buf[RUN_FD_PATH_MAX], int fd) {
  snprintf(buf, RUN_FD_PATH_MAX, "/proc/self/fd/%d", fd);
  return buf;
}

void run_mount_opts_free(struct run_mount_opts *o) {
  free(o->data);
  o->data = NULL;
}

static int opts_add_data(struct run_mount_opts *o, const char *opt) {
  char *d = NULL;
  if (asprintf(&d, "%s%s%s", o->data ? o->data : "", o->data ? "," : "", opt) < 0)
    return -1;
  free(o->data);
  o->data = d;
  return 0;
}

static int opts_add(struct run_mount_opts *o, const char *opt, ctr_err *err) {
  for (size_t i = 0; i < sizeof(mount_flag_names) / sizeof(mount_flag_names[0]); i++) {
    if (strcmp(opt, mount_flag_names[i].name) != 0)
      continue;
    if (mount_flag_names[i].clear) {
      o->flags &= ~mount_flag_names[i].flag;
      o->cleared |= mount_flag_names[i].flag;
    } else {
      o->flags |= mount_flag_names[i].flag;
      o->cleared &= ~mount_flag_names[i].flag;
    }
    return 0;
  }
  for (size_t i = 0; i < sizeof(propagation_names) / sizeof(propagation_names[0]); i++) {
    if (strcmp(opt, propagation_names[i].name) != 0)
      continue;
    if (o->npropagation == sizeof(o->propagation) / sizeof(o->propagation[0]))
      return ctr_fail(err, 0, "too many propagation options");
    o->propagation[o->npropagation++] = propagation_names[i].flag;
    return 0;
  }
  if (opt[0] == '\0' || strchr(opt, ',') != NULL)
    return ctr_fail(err, 0, "invalid mount option '%s'", opt);
  if (opts_add_data(o, opt) < 0)
    return ctr_fail(err, ENOMEM, "mount options");
  return 0;
}

int run_mount_opts_parse(const json_t *options, struct run_mount_opts *o, ctr_err *err) {
  size_t i;
  json_t *v;
  memset(o, 0, sizeof(*o));
  if (options != NULL && !json_is_array(options))
    return ctr_fail(err, 0, "options: not an array of strings");
  json_array_foreach(options, i, v) {
    if (!json_is_string(v)) {
      run_mount_opts_free(o);
      return ctr_fail(err, 0, "options: not an array of strings");
    }
    if (opts_add(o, json_string_value(v), err) < 0) {
      run_mount_opts_free(o);
      return -1;
    }
  }
  return 0;
}

/* The type of a bind, remount or propagation change is ignored; it is ""
 * rather than NULL, which valgrind 3.19 reports as a bad pointer. */
int run_bind_fds(int src_fd, int dst_fd, bool recursive) {
  char src[RUN_FD_PATH_MAX], dst[RUN_FD_PATH_MAX];
  return mount(run_fd_path(src, src_fd), run_fd_path(dst, dst_fd), "",
               MS_BIND | (recursive ? MS_REC : 0), NULL);
}

int run_bind_remount_path(const char *path, unsigned long flags, unsigned long cleared) {
  const unsigned long kept = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  unsigned long have = 0, want, atime = flags & ATIME_FLAGS;
  struct statvfs sv;
  if (statvfs(path, &sv) < 0)
    return -1;
  have |= (sv.f_flag & ST_RDONLY) ? MS_RDONLY : 0;
  have |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
  have |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
  have |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
  want = ((have & ~cleared) | flags) & kept;
  /* Without an atime flag a remount keeps the mount's (a user namespace
   * may not change it either). */
  if (want == have && atime == 0)
    return 0;
  return mount(NULL, path, "", MS_BIND | MS_REMOUNT | want | atime, NULL);
}

int run_bind_remount(int fd, unsigned long flags, unsigned long cleared) {
  char path[RUN_FD_PATH_MAX];
  return run_bind_remount_path(run_fd_path(path, fd), flags, cleared);
}

static bool proc_overmount_allowed(const char *dest) {
  for (const char *const *p = proc_overmount_ok; *p; p++)
    if (strcmp(dest, *p) == 0)
      return true;
  return false;
}

/* The mount point dest, resolved (and created) inside the root. */
static int open_mount_point(int root_fd, const char *dest, enum run_inroot_create how,
                            ctr_err *err) {
  struct statfs sfs;
  int fd = run_inroot_open(root_fd, dest, how);
  if (fd < 0)
    return ctr_fail(err, errno, "mount point");
  if (fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC &&
      !proc_overmount_allowed(dest)) {
    close(fd);
    return ctr_fail(err, 0, "refusing to mount over a file of /proc");
  }
  return fd;
}

/* After the mount is made: the flags a bind takes only by a remount, and
 * the propagation, both on a fresh open of the mount point (the fd taken
 * before the mount refers to what is now beneath it). */
static int mount_finish(int root_fd, const char *dest, const struct run_mount_opts *o,
                        bool bind, ctr_err *err) {
  cleanup_close int fd = -1;
  char path[RUN_FD_PATH_MAX];
  bool remount = bind && ((o->flags & BIND_FLAGS) != 0 || (o->cleared & BIND_FLAGS) != 0);
  if (!remount && o->npropagation == 0)
    return 0;
  fd = run_inroot_open(root_fd, dest, RUN_INROOT_EXISTING);
  if (fd < 0)
    return ctr_fail(err, errno, "reopen the mount point");
  if (remount && run_bind_remount(fd, o->flags & BIND_FLAGS, o->cleared) < 0)
    return ctr_fail(err, errno, "remount%s", (o->flags & MS_RDONLY) ? " read-only" : "");
  for (size_t i = 0; i < o->npropagation; i++)
    if (mount(NULL, run_fd_path(path, fd), "", o->propagation[i], NULL) < 0)
      return ctr_fail(err, errno, "set the propagation");
  return 0;
}

static int mount_bind(int root_fd, const char *bundle_dir, const char *dest,
                      const char *source, const struct run_mount_opts *o, ctr_err *err) {
  cleanup_free char *abs = NULL;
  cleanup_close int src = -1;
  cleanup_close int dst = -1;
  struct stat st;
  if (source == NULL || source[0] == '\0')
    return ctr_fail(err, 0, "bind: no source");
  if (source[0] != '/' && bundle_dir != NULL) {
    if (asprintf(&abs, "%s/%s", bundle_dir, source) < 0)
      return ctr_fail(err, ENOMEM, "bind %s", source);
    source = abs;
  }
  /* The host side is the user's choice, taken as it is; holding it open
   * keeps it from being swapped between the check and the mount. */
  src = open(source, O_PATH | O_CLOEXEC);
  if (src < 0 || fstat(src, &st) < 0)
    return ctr_fail(err, errno, "bind %s", source);
  dst = open_mount_point(root_fd, dest, S_ISDIR(st.st_mode) ? RUN_INROOT_MKDIR : RUN_INROOT_MKFILE,
                         err);
  if (dst < 0)
    return -1;
  if (run_bind_fds(src, dst, (o->flags & MS_REC) != 0) < 0)
    return ctr_fail(err, errno, "bind %s", source);
  return mount_finish(root_fd, dest, o, true, err);
}

/* data without its gid= option: a user namespace may not map group 5. */
static char *data_without_gid(const char *data) {
  cleanup_free char *copy = strdup(data);
  char *out = calloc(1, strlen(data) + 1), *save = NULL;
  if (copy == NULL || out == NULL) {
    free(out);
    return NULL;
  }
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strncmp(t, "gid=", 4) == 0)
      continue;
    if (out[0])
      strcat(out, ",");
    strcat(out, t);
  }
  return out;
}

/* A filesystem the kernel may refuse in a user namespace (sysfs without
 * its own network namespace, mqueue without its own IPC one): bind the
 * host's instead, as runc and crun do. */
static const char *host_fallback(const char *type) {
  if (strcmp(type, "sysfs") == 0)
    return "/sys";
  if (strcmp(type, "mqueue") == 0)
    return "/dev/mqueue";
  return NULL;
}

static int mount_new(int root_fd, const char *dest, const char *type, const char *source,
                     const struct run_mount_opts *o, ctr_err *err) {
  cleanup_close int dst = open_mount_point(root_fd, dest, RUN_INROOT_MKDIR, err);
  char path[RUN_FD_PATH_MAX];
  const char *data = o->data;
  cleanup_free char *nogid = NULL;
  int r;
  if (dst < 0)
    return -1;
  if (source == NULL || source[0] == '\0')
    source = type;
  run_fd_path(path, dst);
  r = mount(source, path, type, o->flags & ~MS_REC, data);
  if (r < 0 && errno == EINVAL && strcmp(type, "devpts") == 0 && data && strstr(data, "gid=")) {
    nogid = data_without_gid(data);
    if (nogid == NULL)
      return ctr_fail(err, ENOMEM, "%s", type);
    r = mount(source, path, type, o->flags & ~MS_REC, nogid);
  }
  if (r < 0 && errno == EPERM && host_fallback(type) != NULL) {
    struct run_mount_opts bind = *o;
    bind.flags |= MS_BIND | MS_REC;
    if (mount_bind(root_fd, NULL, dest, host_fallback(type), &bind, err) < 0)
      return ctr_wrap(err, "%s: %s; binding the host's", type, strerror(EPERM));
    return 0;
  }
  if (r < 0)
    return ctr_fail(err, errno, "%s%s%s", type, data ? " " : "", data ? data : "");
  return mount_finish(root_fd, dest, o, false, err);
}

int run_mount_entry(int root_fd, const char *bundle_dir, const json_t *entry, ctr_err *err) {
  const char *dest = ctr_json_str(entry, "destination");
  const char *type = ctr_json_str(entry, "type");
  const char *source = ctr_json_str(entry, "source");
  struct run_mount_opts o;
  cleanup_free char *clean = NULL;
  int r;
  if (!json_is_object(entry) || dest == NULL || dest[0] == '\0')
    return ctr_fail(err, 0, "mounts: an entry without a destination");
  if (run_mount_opts_parse(json_object_get(entry, "options"), &o, err) < 0)
    return ctr_wrap(err, "mount %s", dest);
  clean = run_path_clean(dest);
  if (clean == NULL)
    r = ctr_fail(err, ENOMEM, "mount");
  else if (strcmp(clean, "/") == 0)
    r = ctr_fail(err, 0, "cannot mount over the container's root");
  else if ((o.flags & MS_BIND) || (type != NULL && strcmp(type, "bind") == 0))
    r = mount_bind(root_fd, bundle_dir, clean, source, &o, err);
  else if (type == NULL || type[0] == '\0')
    r = ctr_fail(err, 0, "no type");
  else if (strcmp(type, "cgroup") == 0)
    r = run_mount_cgroupfs(root_fd, clean, &o, err);
  else
    r = mount_new(root_fd, clean, type, source, &o, err);
  run_mount_opts_free(&o);
  if (r < 0)
    return ctr_wrap(err, "mount %s", dest);
  return 0;
}
