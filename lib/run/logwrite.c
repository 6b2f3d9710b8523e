#define _GNU_SOURCE
#include "logwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rfc3339.h"

int run_log_open(const struct run_container *c) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/log", c->dir);
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* One json-file record, written by hand rather than through jansson:
 * the static ctr-monitor writes every line of a detached container and
 * stays small without a JSON library (docker's json-file writer is
 * hand-made for the same reason). The only free text is the line itself:
 * escaped as RFC 8259 asks, and bytes that are not UTF-8 become U+FFFD,
 * as docker does. ctr-logs reads it back with jansson, and the unit
 * tests check that every input round-trips. */
static size_t put_escaped(char *out, const char *in, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
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
    if (!ok) {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
      continue;
    }
    if (n > 1) {
      memcpy(out + o, in + i, n);
      o += n;
      i += n;
      continue;
    }
    i++;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c == '\n' || c == '\t' || c == '\r') {
      out[o++] = '\\';
      out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
    } else if (c < 0x20) {
      memcpy(out + o, "\\u00", 4);
      out[o + 4] = hex[c >> 4];
      out[o + 5] = hex[c & 15];
      o += 6;
    } else {
      out[o++] = (char)c;
    }
  }
  return o;
}

static size_t put_str(char *out, const char *s) {
  size_t n = strlen(s);
  memcpy(out, s, n);
  return n;
}

void run_log_line(int logfd, const char *stream, const char *raw, size_t rawlen) {
  char when[64];
  char *rec;
  size_t o = 0;
  if (logfd < 0)
    return;
  /* each input byte takes at most 6 output bytes ("\u001f") */
  rec = malloc(rawlen * 6 + 128);
  if (rec == NULL)
    return;
  ctr_now_rfc3339(when, sizeof(when));
  o += put_str(rec + o, "{\"stream\":\"");
  o += put_str(rec + o, stream);
  o += put_str(rec + o, "\",\"time\":\"");
  o += put_str(rec + o, when);
  o += put_str(rec + o, "\",\"log\":\"");
  o += put_escaped(rec + o, raw, rawlen);
  o += put_str(rec + o, "\"}\n");
  /* one write per record: readers never see half of one */
  if (write(logfd, rec, o) < 0) {
    /* a full disk loses log lines, never the container */
  }
  free(rec);
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

/* After the container's end, take what is already written without
 * waiting for writers it may have left behind. */
void run_log_drain_now(struct run_log_stream *st, int logfd) {
  if (st->fd < 0)
    return;
  fcntl(st->fd, F_SETFL, fcntl(st->fd, F_GETFL) | O_NONBLOCK);
  while (run_log_drain(st, logfd) == 0) {
    struct pollfd p = {st->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
      break;
  }
  if (st->len > 0)
    run_log_line(logfd, st->name, st->buf, st->len);
  st->len = 0;
}
