/* A foreground tool standing in for a process it started in a container
 * (ctr-run's container, ctr-exec's command): signals sent to the tool go
 * on to the process, and with a pty our terminal is its terminal. */
#ifndef CTR_RUN_RELAY_H
#define CTR_RUN_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"

/* The signals that are passed on: every catchable one but those that
 * report our own faults (SEGV, BUS, FPE, ILL), SIGPIPE, and the terminal's
 * job control of us (TTIN, TTOU). Block them before starting the process,
 * so none is lost before run_relay_wait reads them. */
void run_relay_signals(sigset_t *set);

/* Until pid (our child) ends: send it every signal of `set` we receive
 * (SIGWINCH resizes the pty instead), and with a pty master (else -1)
 * copy its output to our stdout and, when interactive, our stdin to it
 * (EOF on stdin becomes the terminal's EOF character), our terminal in raw
 * mode meanwhile with its size passed on. *status gets the wait status.
 * On failure (-1) pid is still running: kill and reap it. */
int run_relay_wait(pid_t pid, int master, bool interactive, const sigset_t *set,
                   int *status, ctr_err *err);

/* Copy what is readable from `from` to `to` (one read, all of it
 * written); 0 also when nothing was (EINTR, EAGAIN), -1 at EOF or error. */
int run_relay_pump(int from, int to);

/* Give the terminal `to` the window size of the terminal `from`. */
void run_relay_copy_winsize(int from, int to);

#endif
