/* The device nodes of a container. */
#ifndef CTR_RUN_DEVICES_H
#define CTR_RUN_DEVICES_H

#include <jansson.h>

#include "core/error.h"

/* Inside root_fd: the nodes of config.json linux.devices (devices, may be
 * NULL), and the ones every container gets — null, zero, full, random,
 * urandom, tty, mode 0666 — unless the config names their path; then the
 * links /dev/ptmx -> pts/ptmx, /dev/fd -> /proc/self/fd and /dev/stdin,
 * stdout, stderr. Whatever is at a node's path is replaced. mknod where
 * allowed; where it is refused (EPERM, as in a user namespace), a bind
 * mount of the host's node at the same path, which must be that device.
 * Errors name the node: "device /dev/fuse: bind /dev/fuse: No such file
 * or directory". */
int run_devices_create(int root_fd, const json_t *devices, ctr_err *err);

#endif
