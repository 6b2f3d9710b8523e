#define _GNU_SOURCE
#include "logwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
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

/* JSON strings are UTF-8: bytes that are not become U+FFFD, as docker's
 * json-file does. Returns a malloc'd copy, *outlen its length. */
static char *valid_utf8(const char *in, size_t len, size_t *outlen) {
  char *out = malloc(len * 3 + 1);
  size_t o = 0;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)in[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= len;
    for (size_t k = 1; ok && k < n; k++)
      ok = ((unsigned char)in[i + k] >> 6) == 2;
    /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
    if (ok && n == 2 && c < 0xc2)
      ok = false;
    if (ok && n == 3) {
      unsigned char c1 = (unsigned char)in[i + 1];
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && n == 4) {
      unsigned char c1 = (unsigned char)in[i + 1];
      ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      memcpy(out + o, in + i, n);
      o += n;
      i += n;
    } else {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  *outlen = o;
  return out;
}

void run_log_line(int logfd, const char *stream, const char *raw, size_t rawlen) {
  char when[64];
  json_t *j;
  char *s;
  size_t len = 0;
  char *line;
  if (logfd < 0)
    return;
  line = valid_utf8(raw, rawlen, &len);
  if (line == NULL)
    return;
  ctr_now_rfc3339(when, sizeof(when));
  j = json_pack("{s:s, s:s, s:s%}", "stream", stream, "time", when, "log", line, len);
  free(line);
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
