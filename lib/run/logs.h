/* Reading a container's log, $CTR_ROOT/containers/<id>/log: one JSON
 * object per line as docker's json-file driver writes them,
 * {"log":"<bytes, with their \n>","stream":"stdout"|"stderr",
 *  "time":"<RFC 3339, nanoseconds>"}. The file is written by the
 * container's monitor from what the container prints, so it is outside
 * input: a malformed line is skipped (with one warning), never trusted. */
#ifndef CTR_RUN_LOGS_H
#define CTR_RUN_LOGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"

/* Longer lines are malformed (docker splits at 16 KiB; this is generous). */
#define RUN_LOG_MAX_LINE (1 << 20)

struct run_log_entry {
  bool is_stderr;
  struct timespec time; /* UTC */
  const char *log;      /* borrowed from json; may hold NULs */
  size_t len;
  json_t *json;         /* owns log */
};

/* Parse one log line (without its \n). 0, or -1 with why in err. On
 * success the caller clears e. */
int run_log_parse_line(const char *line, size_t len, struct run_log_entry *e,
                       ctr_err *err);
void run_log_entry_clear(struct run_log_entry *e);

/* RFC 3339 with optional fraction (up to nanoseconds) and a zone ("Z" or
 * ±hh:mm) to a UTC timespec. -1 if it is not exactly that. */
int run_log_parse_rfc3339(const char *s, struct timespec *out);

/* What users give --since/--until, as docker reads it: a duration before
 * now ("10m", "1h30m", "2.5s"), an RFC 3339 date or time (without a zone:
 * local time; "2024-05-01", "2024-05-01T10:00"), or a Unix timestamp
 * with optional fraction ("1700000000.5"). Usage error when none fits. */
int run_log_parse_time(const char *s, const struct timespec *now,
                       struct timespec *out, ctr_err *err);
/* "N" or "all" (-1) for --tail; usage error otherwise. */
int run_log_parse_tail(const char *s, long *out, ctr_err *err);

struct run_logs_opts {
  long tail;        /* the last N lines only; -1 for all */
  bool timestamps;  /* prefix each line with its time, as docker logs -t */
  bool has_since, has_until;
  struct timespec since, until; /* inclusive bounds */
  bool follow;      /* wait for more while still_running() says so */
  bool (*still_running)(void *arg);
  void *arg;
  int out_fd, err_fd; /* where stdout and stderr lines go */
  bool quiet;         /* no warning for malformed lines */
};

/* Copy the log at path to o->out_fd/o->err_fd by stream. A missing file
 * is an empty log (the container has not run yet); with follow, it is
 * waited for. */
int run_logs_copy(const char *path, const struct run_logs_opts *o,
                  ctr_err *err);
/* The same from an open file (not followed past its end unless o->follow). */
int run_logs_copy_fd(int fd, const struct run_logs_opts *o, ctr_err *err);

#endif
