/* The entries of config.json "mounts", made inside the container's root
 * before pivot_root (mounts.c, and cgroupfs.c for type "cgroup"), and the
 * option parsing and fd-based mount helpers the rest of the rootfs setup
 * shares. Every mount point is resolved inside the root (inroot.h) and
 * the mount is made onto /proc/self/fd/N of what was resolved, so no
 * symlink in the image can move it. */
#ifndef CTR_RUN_MOUNTS_H
#define CTR_RUN_MOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* OCI mount options, split the way mount(2) takes them. */
struct run_mount_opts {
  unsigned long flags;          /* MS_* turned on: MS_BIND, MS_REC, MS_RDONLY… */
  unsigned long cleared;        /* MS_* an option turned off: "rw", "suid", "exec"… */
  unsigned long propagation[8]; /* MS_PRIVATE, MS_SLAVE|MS_REC…, in order given */
  size_t npropagation;
  char *data; /* every other option ("size=64k,mode=755"), comma-joined; NULL if none */
};

/* options: a JSON array of strings, or NULL. On failure o holds nothing. */
int run_mount_opts_parse(const json_t *options, struct run_mount_opts *o, ctr_err *err);
void run_mount_opts_free(struct run_mount_opts *o);

/* "/proc/self/fd/N": the path mount(2) is given for an fd. */
#define RUN_FD_PATH_MAX 32
const char *run_fd_path(char buf[RUN_FD_PATH_MAX], int fd);

/* The per-mount flags of a bind mount, changed by a remount: MS_RDONLY,
 * MS_NOSUID, MS_NODEV, MS_NOEXEC and atime flags from flags, less those in
 * cleared. What the mount has of nosuid/nodev/noexec/ro is kept unless
 * cleared (a user namespace may not drop them: the remount would fail
 * with EPERM); nothing is done when nothing changes. fd must be opened on
 * the mount itself, after it was made. -1 with errno. */
int run_bind_remount(int fd, unsigned long flags, unsigned long cleared);
/* The same for the mount at path ("/"). */
int run_bind_remount_path(const char *path, unsigned long flags, unsigned long cleared);

/* Bind src_fd onto dst_fd (MS_REC when recursive). -1 with errno. */
int run_bind_fds(int src_fd, int dst_fd, bool recursive);

/* Make one object of "mounts" inside root_fd; a relative bind source is
 * taken from bundle_dir. Errors name the destination: "mount /etc/hosts:
 * bind /x/hosts: No such file or directory". */
int run_mount_entry(int root_fd, const char *bundle_dir, const json_t *entry, ctr_err *err);

/* Type "cgroup" at dest (cgroupfs.c). cgroup v2: a cgroup2 mount (in a new
 * cgroup namespace its root is the container's cgroup). v1: a tmpfs with,
 * for each hierarchy mounted under the host's /sys/fs/cgroup, the
 * container's own cgroup directory bound at dest/<name> — or, in a cgroup
 * namespace, a mount of that hierarchy, whose root is then the
 * container's cgroup — with the mount's flags (ro, nosuid…). */
int run_mount_cgroupfs(int root_fd, const char *dest, const struct run_mount_opts *o,
                       ctr_err *err);

#endif
