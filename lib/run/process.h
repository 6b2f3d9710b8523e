/* Starting a container's first process from an OCI bundle: namespaces,
 * cgroup, id maps, root filesystem, limits, user, capabilities, seccomp,
 * then exec — in that order, as crun does. The caller supervises. */
#ifndef CTR_RUN_PROCESS_H
#define CTR_RUN_PROCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"

struct run_cgroup;

struct run_start {
  const char *bundle;   /* absolute path of the bundle directory */
  const json_t *config; /* its config.json */
  int stdio[3];         /* the container's 0, 1, 2 (ignored with a tty) */
  const char *seccomp_cache; /* a directory for compiled filters, or NULL */
  /* When set: called once the container's namespaces exist and it is in
   * its cgroup, before it runs anything (its network is set up there); a
   * failure ends the start, with before_start's error. */
  int (*before_start)(void *arg, pid_t pid, ctr_err *err);
  void *before_start_arg;
  /* out */
  pid_t pid;               /* the container's init, in our pid namespace */
  int pty_master;          /* with process.terminal: the master side, else -1 */
  struct run_cgroup *cgroup;
};

/* Exit status classes of a failed start, as docker run reports them. */
enum { RUN_EXIT_FAILED = 125, RUN_EXIT_CANNOT_EXEC = 126, RUN_EXIT_NOT_FOUND = 127 };

/* Start it. On failure, *exit_class says which of the three classes above
 * applies, and nothing is left running (the cgroup is removed). */
int run_process_start(struct run_start *s, int *exit_class, ctr_err *err);

/* Decode a wait status the way shells do: code, or 128 + signal. */
int run_exit_code(int status);

#endif
