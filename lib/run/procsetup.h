/* The steps every process that enters a container takes on its way to
 * exec, from an OCI `process` object: rlimits, OOM score, user ids,
 * capabilities, seccomp, the PATH lookup and the exec itself. Shared by a container's first process and the ones
 * ctr-exec adds, so both get exactly the same treatment. All of them run
 * in the child, inside the container's namespaces. */
#ifndef CTR_RUN_PROCSETUP_H
#define CTR_RUN_PROCSETUP_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "seccomp_bpf.h"

/* setrlimit for each of process.rlimits ("RLIMIT_NOFILE" {soft, hard}). */
int run_proc_rlimits(const json_t *process, ctr_err *err);
/* process.oomScoreAdj, best effort (the kernel may refuse lowering it). */
void run_proc_oom_score(const json_t *process);
/* process.user: supplementary groups, gid, then uid, keeping the permitted
 * capabilities across the uid change (run_caps_apply sets them after). */
int run_proc_user(const json_t *process, ctr_err *err);
/* Find args[0] through the PATH in process.env (docker's default PATH when
 * it has none) into out. Fails with docker's wording, *exit_class 127 when
 * nothing is found, 126 when only non-executable files are. */
int run_proc_lookup(const json_t *process, char *out, size_t len,
                    int *exit_class, ctr_err *err);
/* Every signal back to its default action and none blocked: what a
 * container's process must start with, whatever its runtime had. */
void run_proc_reset_signals(void);
/* Describe a failed execve(path) (errno e) in docker's lowercase words;
 * returns the exit class: 127 for ENOENT, else 126. */
int run_proc_exec_failed(const char *path, int e, ctr_err *err);

/* The last steps, after rlimits and the working directory: bound the
 * capabilities, process.user, the capability sets, no_new_privs, prog
 * (fprog.len 0: none; loaded before the uid change when no_new_privs is
 * off, since that needs CAP_SYS_ADMIN, else last) and execve of
 * process.args with process.env, every fd but 0-2 closed on exec. Returns
 * only on failure, with err set: the exit class, fail_class for a failed
 * step, 126/127 when the program cannot be found or run. */
int run_proc_finish(const json_t *process, const struct run_seccomp_prog *prog,
                    int fail_class, ctr_err *err);

/* Send len bytes at data over the unix socket sock with a copy of fd
 * attached (SCM_RIGHTS): how a child hands its pty master to the parent.
 * -1 with errno set on failure. */
int run_proc_send_fd(int sock, const void *data, size_t len, int fd);

#endif
