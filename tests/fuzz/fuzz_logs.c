/* libFuzzer target: a container's log is written from what the container
 * prints, so everything that reads it must take any bytes: the line
 * parser, the whole reader (tail, since/until, timestamps, over-long and
 * unfinished lines) and the --since/--until time parser. The writer is
 * checked too: whatever bytes a container prints, the record it makes
 * parses back, and gives back the very bytes when they were UTF-8
 * (ASCII is checked strictly; other bytes may become U+FFFD). */
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
#include "run/logwrite.h"
#include <stdio.h>

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

static void write_and_read_back(const uint8_t *data, size_t size) {
  struct run_log_entry e;
  ctr_err err = NULL;
  char *rec;
  size_t len;
  bool ascii = true;
  int fd = memfd_create("rec", MFD_CLOEXEC);
  if (fd < 0)
    return;
  run_log_line(fd, "stderr", (const char *)data, size);
  len = (size_t)lseek(fd, 0, SEEK_CUR);
  rec = malloc(len + 1);
  if (rec == NULL || pread(fd, rec, len, 0) != (ssize_t)len)
    abort();
  if (len == 0 || rec[len - 1] != '\n' || memchr(rec, '\n', len - 1) != NULL)
    abort(); /* one record, one line */
  if (run_log_parse_line(rec, len - 1, &e, &err) < 0) {
    fprintf(stderr, "record does not parse: %s\n", err->msg);
    abort();
  }
  for (size_t i = 0; i < size; i++)
    ascii = ascii && data[i] < 0x80;
  if (!e.is_stderr || (ascii && (e.len != size || memcmp(e.log, data, size) != 0)))
    abort();
  run_log_entry_clear(&e);
  free(rec);
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  each_line(data, size);
  whole_log(data, size);
  time_value(data, size);
  write_and_read_back(data, size);
  return 0;
}
