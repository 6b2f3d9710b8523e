/* Where the layout lives: $CTR_ROOT (persistent) and $CTR_RUNDIR
 * (volatile), from --root/--rundir, the environment, or the defaults. */
#ifndef CTR_CORE_PATHS_H
#define CTR_CORE_PATHS_H

#include "error.h"

struct ctr_paths {
  char *root;   /* absolute */
  char *rundir; /* absolute */
};

/* Resolve root and rundir (options win over the environment, which wins
 * over the defaults). Creates neither. */
int ctr_paths_init(struct ctr_paths *p, const char *root_opt,
                   const char *rundir_opt, ctr_err *err);
void ctr_paths_free(struct ctr_paths *p);
/* A struct ctr_paths freed when it goes out of scope. */
static inline void ctr_paths_freep(struct ctr_paths *p) { ctr_paths_free(p); }
#define cleanup_paths __attribute__((cleanup(ctr_paths_freep)))
/* Make sure root/sub exists (mkdir -p, mode 0700 for new dirs) and open it. */
int ctr_paths_open(const char *base, const char *sub, ctr_err *err);

#endif
