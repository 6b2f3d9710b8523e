/* Writing a container's output to its log, docker's json-file format:
 * one {"stream","time","log"} object per line (see state.h). */
#ifndef CTR_RUN_LOGWRITE_H
#define CTR_RUN_LOGWRITE_H

#include <stddef.h>

#include "container.h"

struct run_log_stream {
  int fd;          /* read side of the container's stdout/stderr (or pty) */
  const char *name; /* "stdout" or "stderr" */
  int echo_fd;     /* where the raw bytes also go (foreground), or -1 */
  size_t len;
  char buf[16384];
};

/* Open (create) the container's log for appending; -1 on failure. */
int run_log_open(const struct run_container *c);
/* Read what st->fd has; log every whole line (a full buffer counts as a
 * line, as docker splits long ones). Returns -1 at EOF or error. */
int run_log_drain(struct run_log_stream *st, int logfd);
/* After the container's end: what is already written, without waiting
 * for writers it may have left behind (a partial line is logged too). */
void run_log_drain_now(struct run_log_stream *st, int logfd);
/* Everything until EOF. */
void run_log_drain_all(struct run_log_stream *st, int logfd);
void run_log_line(int logfd, const char *stream, const char *line, size_t len);

#endif
