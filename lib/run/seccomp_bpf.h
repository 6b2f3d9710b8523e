/* A container's seccomp filter as a raw BPF program, made in ctr-run
 * before the container exists and only loaded by the container's process
 * as its last step. Compiling docker's profile with libseccomp costs more
 * than the rest of a start, so programs are cached by what they were made
 * from (the OCI object and libseccomp's version) in $CTR_RUNDIR/seccomp. */
#ifndef CTR_RUN_SECCOMP_BPF_H
#define CTR_RUN_SECCOMP_BPF_H

#include <jansson.h>
#include <linux/filter.h>

#include "core/error.h"

struct run_seccomp_prog {
  struct sock_fprog fprog; /* filter is malloc'd */
  unsigned int flags;      /* SECCOMP_FILTER_FLAG_* */
};

/* cache_dir may be NULL (no cache). */
int run_seccomp_prepare(const char *cache_dir, const json_t *oci,
                        struct run_seccomp_prog *out, ctr_err *err);
/* Load into the calling thread: needs no_new_privs or CAP_SYS_ADMIN. */
int run_seccomp_load(const struct run_seccomp_prog *prog, ctr_err *err);
void run_seccomp_prog_free(struct run_seccomp_prog *prog);

#endif
