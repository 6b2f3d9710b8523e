/* A container's cgroup, on cgroup v1 (one directory per mounted
 * controller) or v2 (one unified directory), and the resource limits of
 * OCI `linux.resources` written into it. Also the parsers for the limits
 * users type on the command line (--memory, --cpus), with Docker's rules
 * and messages. */
#ifndef CTR_RUN_CGROUP_H
#define CTR_RUN_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* The container's cgroup: a path like "ctr/<id>" relative to the root of
 * each hierarchy (v1) or of the unified hierarchy (v2). */
struct run_cgroup;

/* 2 if /sys/fs/cgroup is a cgroup2 mount (unified), else 1 (v1 or hybrid). */
int run_cgroup_version(void);

/* Tests only: treat `root` as the cgroup mount point (v1: root/<controller>,
 * v2: root itself) and `version` as the cgroup version. Missing interface
 * files are then created as plain files when written, and plain files are
 * removed before rmdir, so a tree of ordinary directories stands in for
 * cgroupfs. NULL restores /sys/fs/cgroup and real detection. */
void run_cgroup_set_root_for_tests(const char *root, int version);

/* Create the cgroup and apply `resources` (OCI linux.resources; may be
 * NULL). v1: a directory in every mounted controller among memory, cpu,
 * cpuacct, pids, devices, freezer, cpuset (cpus/mems copied down from the
 * parent), blkio and name=systemd. v2: the needed controllers are enabled in
 * cgroup.subtree_control of every ancestor. An existing cgroup is an error
 * (EEXIST). A value of 0 means "not set", as runc reads it (but a present
 * pids.limit <= 0 writes "max"); -1 means unlimited. Device rules go to
 * devices.allow/deny on v1, and on v2 become a BPF program attached to
 * the cgroup (devices_bpf.h). On failure every directory this call made is
 * removed again. */
int run_cgroup_create(const char *path, const json_t *resources,
                      struct run_cgroup **out, ctr_err *err);
/* Open an existing container cgroup (for exec, stop, stats); ENOENT if it is
 * in no hierarchy. */
int run_cgroup_open(const char *path, struct run_cgroup **out, ctr_err *err);
/* Move pid (a process, not a thread) into the cgroup in every hierarchy. */
int run_cgroup_add(struct run_cgroup *cg, pid_t pid, ctr_err *err);
/* Has the OOM killer killed a process in it? v1 memory.oom_control oom_kill
 * (or failcnt with under_oom on old kernels); v2 memory.events oom_kill. */
int run_cgroup_oom_killed(struct run_cgroup *cg, bool *oom, ctr_err *err);
/* Every pid in the cgroup and its sub-cgroups; *pids is malloc'd (NULL when
 * *n is 0), caller frees. */
int run_cgroup_pids(struct run_cgroup *cg, pid_t **pids, size_t *n,
                    ctr_err *err);
/* Send sig to every process in it. Freezes it first (v1 freezer.state, v2
 * cgroup.freeze) so nothing forks away, then thaws; v2 SIGKILL uses
 * cgroup.kill where the kernel has it. Returns before the processes exit. */
int run_cgroup_kill(struct run_cgroup *cg, int sig, ctr_err *err);
/* Remove the cgroup and any sub-cgroups from every hierarchy (retrying for
 * a few seconds on EBUSY while the last processes exit). Missing
 * directories are fine. Frees cg in every case. */
int run_cgroup_destroy(struct run_cgroup *cg, ctr_err *err);
void run_cgroup_free(struct run_cgroup *cg);

/* Key figures for ctr-inspect/ctr-ps. -1 where unknown (controller not
 * mounted); mem_limit is -1 when unlimited. */
struct run_cgroup_stats {
  int64_t mem_usage, mem_limit, pids, cpu_ns;
};
int run_cgroup_stats(struct run_cgroup *cg, struct run_cgroup_stats *st,
                     ctr_err *err);
/* The cgroup's directory: v1 for a controller ("memory", "cpu", "systemd" or
 * "name=systemd"), e.g. "/sys/fs/cgroup/memory/ctr/<id>"; v2 the unified
 * directory (controller ignored). NULL if that controller is not mounted or
 * out of memory. Caller frees. */
char *run_cgroup_dir(struct run_cgroup *cg, const char *controller);

/* Docker's size syntax: "1024", "1b", "100k", "512m", "1.5g", "2GiB", "1 t"
 * (binary multiples, fractions truncated to whole bytes). Refuses negative
 * numbers, junk and values above INT64_MAX with "invalid size: 'S'". */
int run_parse_size(const char *s, int64_t *bytes, ctr_err *err);
/* --memory: a size, at least 6 MiB ("Minimum memory limit allowed is 6MB"). */
int run_parse_memory(const char *s, int64_t *bytes, ctr_err *err);
/* --cpus: a decimal number of CPUs -> CFS quota over a 100ms period (1.5 ->
 * 150000/100000). Refuses junk, more than nanosecond precision, and values
 * outside 0.01 .. the CPUs this process may run on, with Docker's messages. */
int run_parse_cpus(const char *s, int64_t *quota, uint64_t *period,
                   ctr_err *err);

#endif
