#define _GNU_SOURCE
#include "logs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/log.h"

#define NSEC_PER_SEC 1000000000LL

/* ---- times ---------------------------------------------------------------- */

static int take_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD[Thh[:mm[:ss[.frac]]]][Z|±hh:mm]". strict: only the full
 * form with seconds and a zone. Without a zone the time is local. */
static int parse_datetime(const char *s, bool strict, struct timespec *out) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0, parts = 0;
  long nsec = 0, off = 0;
  bool zone = false;
  struct tm tm;
  time_t t;

  if (take_digits(&p, 4, &y) < 0 || *p++ != '-' || take_digits(&p, 2, &mo) < 0 ||
      *p++ != '-' || take_digits(&p, 2, &d) < 0)
    return -1;
  if (*p == 'T' || *p == 't') {
    p++;
    if (take_digits(&p, 2, &h) < 0)
      return -1;
    parts = 1;
    if (*p == ':') {
      p++;
      if (take_digits(&p, 2, &mi) < 0)
        return -1;
      parts = 2;
      if (*p == ':') {
        p++;
        if (take_digits(&p, 2, &sec) < 0)
          return -1;
        parts = 3;
        if (*p == '.') {
          int n = 0;
          for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 9)
              nsec = nsec * 10 + (*p - '0');
          if (n == 0)
            return -1;
          for (; n < 9; n++)
            nsec *= 10;
        }
      }
    }
  }
  if (*p == 'Z' || *p == 'z') {
    zone = true;
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    char sign = *p++;
    if (take_digits(&p, 2, &oh) < 0 || *p++ != ':' || take_digits(&p, 2, &om) < 0 ||
        oh > 23 || om > 59)
      return -1;
    off = (oh * 3600L + om * 60L) * (sign == '+' ? 1 : -1);
    zone = true;
  }
  if (*p != '\0' || (strict && (parts < 3 || !zone)))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
      sec > 59)
    return -1;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  if (zone) {
    t = timegm(&tm) - off;
  } else {
    tm.tm_isdst = -1;
    t = mktime(&tm);
  }
  out->tv_sec = t;
  out->tv_nsec = nsec;
  return 0;
}

int run_log_parse_rfc3339(const char *s, struct timespec *out) {
  return parse_datetime(s, true, out);
}

/* Go's time.ParseDuration, which docker uses: [-+](number unit)+, units
 * ns us µs ms s m h, numbers with an optional fraction. */
static int parse_duration(const char *s, __int128 *ns) {
  static const struct {
    const char *name;
    long long ns;
  } units[] = {{"ns", 1},           {"us", 1000},         {"\xc2\xb5s", 1000},
               {"\xce\xbcs", 1000}, {"ms", 1000000},      {"h", 3600 * NSEC_PER_SEC},
               {"m", 60 * NSEC_PER_SEC}, {"s", NSEC_PER_SEC}};
  const char *p = s;
  __int128 total = 0;
  bool neg = false;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (*p == '\0')
    return -1;
  while (*p != '\0') {
    unsigned __int128 whole = 0, frac = 0, scale = 1;
    bool any = false;
    size_t u;
    for (; isdigit((unsigned char)*p); p++, any = true) {
      whole = whole * 10 + (unsigned)(*p - '0');
      if (whole > (unsigned __int128)INT64_MAX)
        return -1;
    }
    if (*p == '.')
      for (p++; isdigit((unsigned char)*p); p++, any = true)
        if (scale < 1000000000000000000ULL) {
          frac = frac * 10 + (unsigned)(*p - '0');
          scale *= 10;
        }
    if (!any)
      return -1;
    for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
      if (strncmp(p, units[u].name, strlen(units[u].name)) == 0)
        break;
    if (u == sizeof(units) / sizeof(units[0]))
      return -1;
    p += strlen(units[u].name);
    total += (__int128)(whole * (unsigned __int128)units[u].ns +
                        frac * (unsigned __int128)units[u].ns / scale);
    if (total > (__int128)INT64_MAX)
      return -1;
  }
  *ns = neg ? -total : total;
  return 0;
}

/* "SECONDS[.FRACTION]" */
static int parse_unix(const char *s, struct timespec *out) {
  const char *p = s;
  long long secs = 0;
  long nsec = 0;
  int n = 0;
  if (!isdigit((unsigned char)*p))
    return -1;
  for (; isdigit((unsigned char)*p); p++) {
    if (secs > (INT64_MAX - 9) / 10)
      return -1;
    secs = secs * 10 + (*p - '0');
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, n++)
      if (n < 9)
        nsec = nsec * 10 + (*p - '0');
    if (n == 0)
      return -1;
    for (; n < 9; n++)
      nsec *= 10;
  }
  if (*p != '\0')
    return -1;
  out->tv_sec = (time_t)secs;
  out->tv_nsec = nsec;
  return 0;
}

int run_log_parse_time(const char *s, const struct timespec *now,
                       struct timespec *out, ctr_err *err) {
  __int128 ns;
  if (parse_duration(s, &ns) == 0) {
    __int128 t = (__int128)now->tv_sec * NSEC_PER_SEC + now->tv_nsec - ns;
    __int128 secs = t / NSEC_PER_SEC, rem = t % NSEC_PER_SEC;
    if (rem < 0) {
      rem += NSEC_PER_SEC;
      secs--;
    }
    out->tv_sec = (time_t)secs;
    out->tv_nsec = (long)rem;
    return 0;
  }
  if (parse_datetime(s, false, out) == 0 || (strchr(s, '-') == NULL && parse_unix(s, out) == 0))
    return 0;
  return ctr_usage(err, "failed to parse value as time or duration: \"%s\"", s);
}

int run_log_parse_tail(const char *s, long *out, ctr_err *err) {
  char *end;
  long v;
  if (strcmp(s, "all") == 0) {
    *out = -1;
    return 0;
  }
  errno = 0;
  v = strtol(s, &end, 10);
  if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0)
    return ctr_usage(err, "invalid value \"%s\" for --tail: want a number of lines or all", s);
  *out = v;
  return 0;
}

static int timespec_cmp(const struct timespec *a, const struct timespec *b) {
  if (a->tv_sec != b->tv_sec)
    return a->tv_sec < b->tv_sec ? -1 : 1;
  if (a->tv_nsec != b->tv_nsec)
    return a->tv_nsec < b->tv_nsec ? -1 : 1;
  return 0;
}

/* ---- one line ----------------------------------------------------------- */

int run_log_parse_line(const char *line, size_t len, struct run_log_entry *e,
                       ctr_err *err) {
  json_error_t je;
  json_t *log;
  const char *stream, *time;
  memset(e, 0, sizeof(*e));
  e->json = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  /* jansson's message may quote the line: report the position only, so a
   * container cannot put bytes of its choosing on our terminal. */
  if (e->json == NULL)
    return ctr_fail(err, 0, "not JSON (at byte %d)", je.position);
  if (!json_is_object(e->json)) {
    run_log_entry_clear(e);
    return ctr_fail(err, 0, "not a JSON object");
  }
  log = json_object_get(e->json, "log");
  stream = json_string_value(json_object_get(e->json, "stream"));
  time = json_string_value(json_object_get(e->json, "time"));
  if (!json_is_string(log) || stream == NULL || time == NULL) {
    run_log_entry_clear(e);
    return ctr_fail(err, 0, "\"log\", \"stream\" and \"time\" must be strings");
  }
  if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
    run_log_entry_clear(e);
    return ctr_fail(err, 0, "\"stream\" is neither stdout nor stderr");
  }
  if (run_log_parse_rfc3339(time, &e->time) < 0) {
    run_log_entry_clear(e);
    return ctr_fail(err, 0, "\"time\" is not an RFC 3339 time");
  }
  e->is_stderr = stream[3] == 'e';
  e->log = json_string_value(log);
  e->len = json_string_length(log);
  return 0;
}

void run_log_entry_clear(struct run_log_entry *e) {
  json_decref(e->json);
  memset(e, 0, sizeof(*e));
}

/* ---- output: by stream, buffered, order kept ----------------------------- */

struct out {
  int fd[2]; /* stdout, stderr */
  int cur;   /* the stream buf holds bytes for */
  size_t len;
  char buf[1 << 16];
};

static int write_all(int fd, const char *p, size_t n, ctr_err *err) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "write the log");
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int out_flush(struct out *o, ctr_err *err) {
  size_t n = o->len;
  o->len = 0;
  return n ? write_all(o->fd[o->cur], o->buf, n, err) : 0;
}

static int out_put(struct out *o, int stream, const char *p, size_t n, ctr_err *err) {
  if ((o->cur != stream || o->len + n > sizeof(o->buf)) && out_flush(o, err) < 0)
    return -1;
  o->cur = stream;
  if (n > sizeof(o->buf))
    return write_all(o->fd[stream], p, n, err);
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  return 0;
}

/* ---- the reader ------------------------------------------------------------ */

struct reader {
  const struct run_logs_opts *o;
  struct out out;
  char *line; /* an unfinished line, len bytes */
  size_t len;
  bool discarding; /* in a line over RUN_LOG_MAX_LINE: drop to its end */
  bool warned;
  bool past_until;
};

static void warn_malformed(struct reader *r, const char *why) {
  if (r->warned || r->o->quiet)
    return;
  r->warned = true;
  ctr_warn("skipping a malformed log line (%s); later ones are skipped silently",
           why ? why : "out of memory");
}

static bool blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)p[i]))
      return false;
  return true;
}

/* last: the file's final bytes without a \n — maybe a line still being
 * written, so not worth a warning when it does not parse. */
static int handle_line(struct reader *r, const char *p, size_t n, bool last, ctr_err *err) {
  struct run_log_entry e;
  ctr_err why = NULL;
  int stream, ret = 0;
  if (blank(p, n))
    return 0;
  if (run_log_parse_line(p, n, &e, &why) < 0) {
    if (!last)
      warn_malformed(r, why ? why->msg : NULL);
    ctr_err_free(&why);
    return 0;
  }
  stream = e.is_stderr ? 1 : 0;
  if (r->o->has_since && timespec_cmp(&e.time, &r->o->since) < 0)
    goto out;
  if (r->o->has_until && timespec_cmp(&e.time, &r->o->until) > 0) {
    r->past_until = true;
    goto out;
  }
  if (r->o->timestamps) {
    char stamp[80], base[48];
    struct tm tm;
    int len;
    if (gmtime_r(&e.time.tv_sec, &tm) == NULL)
      goto out;
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    len = snprintf(stamp, sizeof(stamp), "%s.%09ldZ ", base, e.time.tv_nsec);
    if ((ret = out_put(&r->out, stream, stamp, (size_t)len, err)) < 0)
      goto out;
  }
  ret = out_put(&r->out, stream, e.log, e.len, err);
out:
  run_log_entry_clear(&e);
  return ret;
}

static int feed(struct reader *r, const char *data, size_t n, ctr_err *err) {
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl ? (size_t)(nl - data) : n, used = take + (nl ? 1 : 0);
    if (r->discarding) {
      r->discarding = nl == NULL;
    } else if (r->len + take > RUN_LOG_MAX_LINE) {
      warn_malformed(r, "longer than 1 MiB");
      r->len = 0;
      r->discarding = nl == NULL;
    } else if (r->len == 0 && nl != NULL) {
      if (handle_line(r, data, take, false, err) < 0)
        return -1;
    } else {
      if (r->line == NULL && (r->line = malloc(RUN_LOG_MAX_LINE)) == NULL)
        return ctr_fail(err, ENOMEM, "read the log");
      memcpy(r->line + r->len, data, take);
      r->len += take;
      if (nl != NULL) {
        size_t len = r->len;
        r->len = 0;
        if (handle_line(r, r->line, len, false, err) < 0)
          return -1;
      }
    }
    data += used;
    n -= used;
  }
  return 0;
}

static int drain(struct reader *r, int fd, ctr_err *err) {
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "read the log");
    }
    if (n == 0)
      return out_flush(&r->out, err);
    if (feed(r, chunk, (size_t)n, err) < 0)
      return -1;
  }
}

/* Where the last n lines start (a final line without \n counts). */
static int tail_offset(int fd, long n, off_t *start, ctr_err *err) {
  char buf[1 << 16];
  struct stat st;
  off_t pos;
  long seen = 0;
  if (fstat(fd, &st) < 0)
    return ctr_fail(err, errno, "read the log");
  *start = 0;
  if (n < 0)
    return 0;
  *start = pos = st.st_size;
  while (n > 0 && pos > 0) {
    size_t chunk = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
    pos -= (off_t)chunk;
    for (size_t got = 0; got < chunk;) {
      ssize_t k = pread(fd, buf + got, chunk - got, pos + (off_t)got);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return ctr_fail(err, k < 0 ? errno : EIO, "read the log");
      got += (size_t)k;
    }
    for (size_t i = chunk; i-- > 0;) {
      if (buf[i] != '\n' || pos + (off_t)i == st.st_size - 1)
        continue;
      if (++seen == n) {
        *start = pos + (off_t)i + 1;
        return 0;
      }
    }
  }
  if (n > 0)
    *start = 0; /* fewer lines than asked: all of them */
  return 0;
}

static bool past(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return timespec_cmp(&now, t) > 0;
}

static void nap(void) {
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

static bool running(const struct run_logs_opts *o) {
  return o->still_running != NULL && o->still_running(o->arg);
}

int run_logs_copy_fd(int fd, const struct run_logs_opts *o, ctr_err *err) {
  struct reader r = {.o = o, .out = {.fd = {o->out_fd, o->err_fd}}};
  off_t start = 0;
  int ret = -1;
  if (tail_offset(fd, o->tail, &start, err) < 0)
    return -1;
  if (lseek(fd, start, SEEK_SET) < 0 && start != 0) {
    ctr_fail(err, errno, "read the log");
    goto out;
  }
  for (;;) {
    struct stat st;
    off_t at;
    if (drain(&r, fd, err) < 0)
      goto out;
    if (!o->follow || r.past_until || (o->has_until && past(&o->until)))
      break;
    if (!running(o)) {
      /* what it wrote before it ended is there now */
      if (drain(&r, fd, err) < 0)
        goto out;
      break;
    }
    /* truncated under us: start over */
    at = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) == 0 && at > st.st_size) {
      lseek(fd, 0, SEEK_SET);
      r.len = 0;
      r.discarding = false;
    }
    nap();
  }
  if (r.len > 0 && !r.discarding &&
      (handle_line(&r, r.line, r.len, true, err) < 0 || out_flush(&r.out, err) < 0))
    goto out;
  ret = 0;
out:
  free(r.line);
  return ret;
}

int run_logs_copy(const char *path, const struct run_logs_opts *o, ctr_err *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == ENOENT && o->follow) {
    bool more = running(o);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || !more || (o->has_until && past(&o->until)))
      break;
    nap();
  }
  if (fd < 0 && errno == ENOENT)
    return 0; /* not run yet: nothing logged */
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", path);
  return run_logs_copy_fd(fd, o, err);
}
