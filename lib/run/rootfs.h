/* A container's filesystem: the overlay of its image's layers (made on
 * the host by ctr-run create), and, inside the container's own mount
 * namespace, the tree of config.json — its mounts, /dev, the pivot into
 * the root, the masked and read-only paths. Mount points are resolved
 * inside the new root and mounted through /proc/self/fd, so no symlink in
 * an image can point a mount at the host (inroot.h, mounts.h). */
#ifndef CTR_RUN_ROOTFS_H
#define CTR_RUN_ROOTFS_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

/* In the container's child process, in its own mount namespace (and user
 * namespace, maps written), before privileges are dropped; bundle_dir is
 * the absolute bundle path, config the parsed config.json. In order:
 * 1. "/" made recursively private (linux.rootfsPropagation "rprivate",
 *    the default, "private", "unbindable", "runbindable") or slave (the
 *    others), so nothing leaks to the host; a shared or unbindable
 *    propagation is set on the new "/" at the end;
 * 2. root.path (relative to the bundle) bound onto itself, recursively,
 *    so that it is a mount of its own pivot_root can use;
 * 3. config "mounts" in order (mounts.h; type "cgroup" per cgroupfs.c);
 * 4. /dev: linux.devices and the default nodes and links (devices.h);
 * 5. pivot_root into it; the old root detached; cwd "/";
 * 6. linux.maskedPaths (/dev/null over files, an empty read-only tmpfs
 *    over directories; missing paths are skipped), linux.readonlyPaths
 *    (bound onto themselves, remounted ro,nosuid,nodev,noexec), then
 *    root.readonly. Step 6 uses the container's /proc, which must be
 *    procfs when there is something to mask.
 * The hostname is the caller's. Errors name the mount: "mount /etc/hosts:
 * bind /var/lib/ctr/containers/ab…/hosts: No such file or directory". */
int run_rootfs_setup(const char *bundle_dir, const json_t *config, ctr_err *err);

/* On the host: an overlay of lowerdirs (topmost first, as `ctr-image
 * unpack` prints them), upper and work (all absolute) on target. Options
 * too long for one mount(2) page go through fsconfig (one "lowerdir+" per
 * layer, kernel 6.8+), or else a mount from the lowers' common parent
 * directory with relative lowerdirs. Paths with ':', ',' or '\' are
 * refused (EINVAL). */
int run_overlay_mount(const char *const *lowerdirs, size_t n, const char *upper,
                      const char *work, const char *target, ctr_err *err);

/* The same with every layer idmapped through userns_fd (--userns auto),
 * so the container's root owns what the image's root owns. -2 (nothing
 * done, no error) where the kernel cannot: idmapped mounts, or layers
 * given as file descriptors (Linux 6.13). */
int run_overlay_mount_idmapped(const char *const *lowerdirs, size_t n, const char *upper,
                               const char *work, const char *target, int userns_fd,
                               ctr_err *err);

#endif
