/* ctr-run -it in the foreground, with detach keys (docker's ctrl-p,ctrl-q).
 *
 * The process the shell waits for is a thin front that owns the terminal;
 * a child of it supervises the container (and is its parent). The front
 * puts the terminal in raw mode and copies it to and from the child over
 * a socket, watching what is typed for the detach keys. When they come,
 * the child leaves the terminal's session and execs ctr-monitor, and the
 * front exits 0: the container runs on under a monitor, as with -d. So the
 * container's parent never changes, and detaching costs nothing to whoever
 * does not detach but one process and a copy. */
#ifndef CTR_RUN_ATTACH_H
#define CTR_RUN_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

#define RUN_DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"
#define RUN_DETACH_KEYS_MAX 16

/* Docker's --detach-keys: comma-separated keys, each one character or
 * "ctrl-X" for X in a-z, @, [, \, ], ^, _. "" means none. */
int run_detach_keys_parse(const char *s, char keys[RUN_DETACH_KEYS_MAX], size_t *n,
                          ctr_err *err);

/* The two sockets between front and child. In the child: io carries the
 * terminal's bytes (in and out), ctl the front's messages ('D': detach;
 * EOF: the front is gone) and the child's ('S': the container started,
 * 'd': detached). */
struct run_front {
  int io, ctl;
};

/* Fork. Returns 0 in the child, with f holding its ends; 1 in the front
 * (f: its ends, *child the child). */
int run_front_fork(struct run_front *f, pid_t *child, ctr_err *err);

/* The front's whole life: until the child exits (*exit_code its status
 * as the shell's $?) or the user detaches (*exit_code 0, *detached). */
int run_front_loop(const struct run_front *f, pid_t child, bool interactive, const char *keys,
                   size_t nkeys, int *exit_code, bool *detached, ctr_err *err);

/* The child's side of the messages. */
void run_front_say(int ctl, char what);

#endif
