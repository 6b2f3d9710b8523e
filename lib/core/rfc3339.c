/* Times as RFC 3339 text, the form every file of the layout uses.
 *
 * Done with the proleptic Gregorian calendar's arithmetic rather than
 * gmtime/strftime/strptime: those bring glibc's time zone machinery
 * (tzset reads /etc/localtime) and scanf into the static ctr-monitor,
 * which writes a time on every log line and must stay small. UTC needs
 * none of it. */
#include "rfc3339.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's
 * algorithms, exact for every year of the proleptic calendar). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* n digits of s as a number, or -1 */
static long digits(const char *s, int n) {
  long v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int ctr_parse_rfc3339(const char *s, time_t *out) {
  static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  long y, mo, d, h, mi, sec, off = 0;
  const char *p = s + 19;
  if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return -1;
  y = digits(s, 4);
  mo = digits(s + 5, 2);
  d = digits(s + 8, 2);
  h = digits(s + 11, 2);
  mi = digits(s + 14, 2);
  sec = digits(s + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || sec < 0 || sec > 60)
    return -1;
  if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
    return -1;
  if (*p == '.') {
    const char *f = ++p;
    while (*p >= '0' && *p <= '9')
      p++;
    if (p == f)
      return -1;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    long oh = digits(p + 1, 2), om = p[3] == ':' ? digits(p + 4, 2) : -1;
    if (oh < 0 || oh > 23 || om < 0 || om > 59)
      return -1;
    off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    p += 6;
  } else {
    return -1;
  }
  if (*p != '\0')
    return -1;
  *out = (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                  sec - off);
  return 0;
}

/* n decimal digits of v, zero-padded, at p */
static char *put(char *p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + n;
}

void ctr_format_rfc3339(time_t secs, long nsec, char *out, size_t len) {
  char buf[40], *p = buf;
  int64_t days = (int64_t)secs / 86400, rem = (int64_t)secs % 86400, y;
  unsigned m, d;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999)
    y = 0;
  p = put(p, y, 4);
  *p++ = '-';
  p = put(p, m, 2);
  *p++ = '-';
  p = put(p, d, 2);
  *p++ = 'T';
  p = put(p, rem / 3600, 2);
  *p++ = ':';
  p = put(p, rem / 60 % 60, 2);
  *p++ = ':';
  p = put(p, rem % 60, 2);
  if (nsec > 0 && nsec < 1000000000L) {
    *p++ = '.';
    p = put(p, nsec, 9);
  }
  *p++ = 'Z';
  *p = '\0';
  if (len > 0) {
    size_t n = (size_t)(p - buf) < len ? (size_t)(p - buf) : len - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
  }
}

void ctr_now_rfc3339(char *out, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ctr_format_rfc3339(ts.tv_sec, ts.tv_nsec, out, len);
}
