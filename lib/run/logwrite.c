#define _GNU_SOURCE
#include "logwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"

int run_log_open(const struct run_container *c) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/log", c->dir);
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

void run_log_line(int logfd, const char *stream, const char *line, size_t len) {
  struct timespec ts;
  char when[64];
  json_t *j;
  char *s;
  if (logfd < 0)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  ctr_format_rfc3339(ts.tv_sec, ts.tv_nsec, when, sizeof(when));
  j = json_pack("{s:s, s:s, s:s%}", "stream", stream, "time", when, "log", line, len);
  if (j == NULL)
    return;
  s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  if (s == NULL)
    return;
  {
    size_t n = strlen(s);
    s[n] = '\n';
    /* one write per record: readers never see half of one */
    if (write(logfd, s, n + 1) < 0) {
      /* a full disk loses log lines, never the container */
    }
  }
  free(s);
}

static void echo(int fd, const char *buf, size_t len) {
  while (fd >= 0 && len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    buf += w;
    len -= (size_t)w;
  }
}

int run_log_drain(struct run_log_stream *st, int logfd) {
  ssize_t n;
  if (st->fd < 0)
    return -1;
  n = read(st->fd, st->buf + st->len, sizeof(st->buf) - st->len);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (n == 0) {
    if (st->len > 0)
      run_log_line(logfd, st->name, st->buf, st->len);
    st->len = 0;
    return -1;
  }
  echo(st->echo_fd, st->buf + st->len, (size_t)n);
  st->len += (size_t)n;
  for (;;) {
    char *nl = memchr(st->buf, '\n', st->len);
    size_t take = nl ? (size_t)(nl - st->buf) + 1 : (st->len == sizeof(st->buf) ? st->len : 0);
    if (take == 0)
      return 0;
    run_log_line(logfd, st->name, st->buf, take);
    memmove(st->buf, st->buf + take, st->len - take);
    st->len -= take;
  }
}

void run_log_drain_all(struct run_log_stream *st, int logfd) {
  while (run_log_drain(st, logfd) == 0)
    ;
}
