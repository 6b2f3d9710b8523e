/* --userns auto: each container gets its own 65536 host ids, root inside
 * being an unprivileged uid outside, and sees the image's files as its
 * own through idmapped layers.
 *
 * The ids come from the subordinate ranges /etc/subuid and /etc/subgid
 * give the user "containers" (as podman's --userns=auto takes them);
 * without such entries, from systemd's range for containers, 524288 to
 * 1879048191. A container takes the first block of 65536 that no other
 * container in $CTR_ROOT holds, under $CTR_RUNDIR/locks/userns.lock, and
 * records it in its state.json as "userns": {"uid", "gid", "size"}. */
#ifndef CTR_RUN_USERNS_H
#define CTR_RUN_USERNS_H

#include <stdint.h>
#include <sys/types.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"

struct run_idmap {
  uint32_t uid, gid, size; /* host ids of the container's 0 */
};

/* Parse the ranges of user name in a subuid/subgid text: "name:start:count"
 * lines (uid-named lines count too, as shadow-utils reads them when uid
 * is given). Returns how many, up to max, filled in starts/counts. */
size_t run_subid_parse(const char *text, const char *name, const char *uid, uint64_t *starts,
                       uint64_t *counts, size_t max);

/* Pick a free block for c and record it in c's state.json. */
int run_userns_allocate(const struct ctr_paths *p, struct run_container *c,
                        struct run_idmap *m, ctr_err *err);
/* The block recorded for c, or 0 if it has none. */
int run_userns_of(const struct run_container *c, struct run_idmap *m);

/* A user namespace mapping 0..size-1 to m (an fd, for idmapped mounts). */
int run_userns_fd(const struct run_idmap *m, ctr_err *err);

#endif
