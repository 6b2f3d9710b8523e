/* libFuzzer target: a container's log is written from what the container
 * prints, so everything that reads it must take any bytes: the line
 * parser, the whole reader (tail, since/until, timestamps, over-long and
 * unfinished lines) and the --since/--until time parser. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "run/logs.h"

static void each_line(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    struct run_log_entry e;
    ctr_err err = NULL;
    if (run_log_parse_line(p, len, &e, &err) == 0)
      run_log_entry_clear(&e);
    ctr_err_free(&err);
    p += len + 1;
  }
}

static void whole_log(const uint8_t *data, size_t size) {
  static int devnull = -1;
  struct run_logs_opts o = {.tail = -1, .quiet = true};
  ctr_err err = NULL;
  int fd = memfd_create("log", MFD_CLOEXEC);
  if (devnull < 0)
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || devnull < 0)
    goto out;
  if (write(fd, data, size) != (ssize_t)size)
    goto out;
  /* The first byte picks the options, so one input exercises one mix. */
  if (size > 0) {
    o.tail = (long)(data[0] & 7) - 1;
    o.timestamps = data[0] & 8;
    o.has_since = data[0] & 16;
    o.has_until = data[0] & 32;
    o.since.tv_sec = 1704067200; /* 2024-01-01 */
    o.until.tv_sec = 1735689600; /* 2025-01-01 */
  }
  o.out_fd = o.err_fd = devnull;
  if (run_logs_copy_fd(fd, &o, &err) < 0)
    ctr_err_free(&err);
out:
  if (fd >= 0)
    close(fd);
}

static void time_value(const uint8_t *data, size_t size) {
  struct timespec now = {1700000000, 0}, t;
  ctr_err err = NULL;
  char *s = strndup((const char *)data, size > 256 ? 256 : size);
  if (s == NULL)
    return;
  if (run_log_parse_time(s, &now, &t, &err) < 0)
    ctr_err_free(&err);
  run_log_parse_rfc3339(s, &t);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  each_line(data, size);
  whole_log(data, size);
  time_value(data, size);
  return 0;
}
