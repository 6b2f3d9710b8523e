/* Advisory locks on named files under $CTR_RUNDIR/locks: one per store
 * area or object, so concurrent tools serialise where they must. */
#ifndef CTR_CORE_LOCK_H
#define CTR_CORE_LOCK_H

#include <sys/file.h>

#include "error.h"
#include "paths.h"

/* Take flock(op) (LOCK_SH or LOCK_EX) on $rundir/locks/<name>.lock and
 * return the fd holding it; closing the fd releases the lock. */
int ctr_lock(const struct ctr_paths *paths, const char *name, int op,
             ctr_err *err);

#endif
