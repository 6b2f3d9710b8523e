/* ctr-exec: one more process in a running container, as `docker exec`
 * starts it. It joins every namespace of the container's init (through a
 * pidfd, all at once) and its cgroup, and gets the container's
 * rlimits, capabilities, no_new_privs and seccomp filter, its user, cwd
 * and environment unless asked otherwise.
 *
 * How it starts, and why (CVE-2019-5736: nothing of ours may be reachable
 * from the container before the exec):
 *   ctr-exec ── fork ──> A   (put in the container's cgroup while it waits)
 *                        A: not dumpable; setns(pidfd, every namespace);
 *                           clone(CLONE_PARENT) — a pid namespace only
 *                           applies to children — then exits
 *   ctr-exec's child <── B   (in every namespace, the cgroup, not dumpable)
 *                        B: session, stdio or pty, cwd, rlimits, user,
 *                           capabilities, seccomp, every fd but 0-2 closed
 *                           on exec, exec.
 * A and B report a failure over a socket that closes on B's exec. */
#ifndef CTR_RUN_EXEC_H
#define CTR_RUN_EXEC_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

/* ctr-exec's exit status when it failed itself (the container is not
 * running, a namespace cannot be joined...). 126 and 127 are
 * RUN_EXIT_CANNOT_EXEC and RUN_EXIT_NOT_FOUND of process.h. */
enum { RUN_EXEC_FAILED = 1 };

struct run_exec {
  json_t *args;        /* COMMAND ARG..., strings */
  json_t *env;         /* KEY=VALUE from --env-file then -e, in order */
  const char *user;    /* -u USER[:GROUP]; NULL: the container's */
  const char *workdir; /* -w (absolute); NULL: the container's cwd */
  bool interactive;    /* -i: it reads our stdin */
  bool tty;            /* -t: a pty, its controlling terminal */
  bool detach;         /* -d: start it and return */
  bool privileged;     /* all of our capabilities, no seccomp filter */
  int exit_code;       /* out: its status (128+N when killed), 0 when
                          detached, or 1/126/127 when it did not start */
};

/* Run x in the container `ref` (name, id or unique id prefix). Returns 0
 * when the command ran (its status in x->exit_code; with x->detach, once
 * it has been exec'd), -1 when it could not start. */
int run_exec(const struct ctr_paths *p, const char *ref, struct run_exec *x,
             ctr_err *err);

#endif
