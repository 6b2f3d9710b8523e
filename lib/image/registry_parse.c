/* The pure parts of talking to a registry: auth challenges, token
 * answers, Content-Range, the resume cursor and error messages. Kept
 * apart from the transport so tests and fuzzers reach them directly. */
#define _GNU_SOURCE
#include "registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cleanup.h"
#include "core/json.h"

/* ---- WWW-Authenticate (RFC 7235) --------------------------------------- */

static bool tchar(char c) {
  return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* A token or a quoted string at p; *out is malloc'd. Returns the end, or
 * NULL when there is neither. */
static const char *param_value(const char *p, char **out) {
  const char *s = p;
  size_t n = 0;
  char *v;
  if (*p != '"') {
    while (tchar(*p) || *p == '/' || *p == ':' || *p == '=')
      p++; /* lenient: realms are URLs, tokens end in '=' */
    if (p == s)
      return NULL;
    *out = strndup(s, (size_t)(p - s));
    return *out ? p : NULL;
  }
  v = malloc(strlen(p) + 1);
  if (v == NULL)
    return NULL;
  for (p++; *p != '"'; p++) {
    if (*p == '\0') {
      free(v);
      return NULL;
    }
    if (*p == '\\' && p[1] != '\0')
      p++;
    v[n++] = *p;
  }
  v[n] = '\0';
  *out = v;
  return p + 1;
}

/* One challenge: "Scheme name=value, name=value". Stops before the next
 * challenge's scheme. */
static const char *one_challenge(const char *p, struct registry_challenge *c) {
  const char *s = p;
  size_t n;
  while (tchar(*p))
    p++;
  n = (size_t)(p - s);
  if (n == 0)
    return NULL;
  snprintf(c->scheme, sizeof(c->scheme), "%.*s", (int)(n < 7 ? n : 7), s);
  if (n >= sizeof(c->scheme))
    c->scheme[0] = '?'; /* a scheme we do not know */
  for (char *k = c->scheme; *k; k++)
    *k = (char)tolower((unsigned char)*k);
  for (;;) {
    const char *name, *q;
    char *value = NULL;
    size_t nlen;
    p = skip_ws(p);
    while (*p == ',')
      p = skip_ws(p + 1);
    name = p;
    while (tchar(*p))
      p++;
    nlen = (size_t)(p - name);
    q = skip_ws(p);
    if (nlen == 0 || *q != '=')
      return name; /* the end, or the next challenge's scheme */
    p = param_value(skip_ws(q + 1), &value);
    if (p == NULL)
      return NULL;
    if (nlen == 5 && strncasecmp(name, "realm", 5) == 0 && c->realm == NULL)
      c->realm = value;
    else if (nlen == 7 && strncasecmp(name, "service", 7) == 0 && c->service == NULL)
      c->service = value;
    else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0 && c->scope == NULL)
      c->scope = value;
    else
      free(value);
  }
}

void registry_challenge_free(struct registry_challenge *c) {
  free(c->realm);
  free(c->service);
  free(c->scope);
  memset(c, 0, sizeof(*c));
}

int registry_challenge_parse(const char *value, struct registry_challenge *c) {
  struct registry_challenge basic = {0};
  const char *p = value;
  memset(c, 0, sizeof(*c));
  while (p != NULL && *(p = skip_ws(p)) != '\0') {
    struct registry_challenge one = {0};
    const char *next = one_challenge(p, &one);
    if (next == NULL || next == p) {
      registry_challenge_free(&one);
      break;
    }
    p = next;
    if (strcmp(one.scheme, "bearer") == 0 && one.realm != NULL &&
        c->scheme[0] == '\0') {
      *c = one;
      continue;
    }
    if (strcmp(one.scheme, "basic") == 0 && basic.scheme[0] == '\0') {
      basic = one;
      continue;
    }
    registry_challenge_free(&one);
  }
  if (c->scheme[0] != '\0') {
    registry_challenge_free(&basic);
    return 0;
  }
  *c = basic;
  return c->scheme[0] != '\0' ? 0 : -1;
}

/* ---- tokens ------------------------------------------------------------ */

int registry_token_parse(const char *buf, size_t len, char **token,
                         long *expires_in, ctr_err *err) {
  cleanup_json json_t *doc = NULL;
  const char *t;
  json_t *exp;
  *token = NULL;
  if (ctr_json_parse_object(buf, len, "token answer", &doc, err) < 0)
    return -1;
  t = ctr_json_str(doc, "token");
  if (t == NULL || t[0] == '\0')
    t = ctr_json_str(doc, "access_token");
  if (t == NULL || t[0] == '\0')
    return ctr_fail(err, 0, "token answer: no token");
  for (const char *k = t; *k; k++)
    if (*k <= ' ' || *k >= 0x7f)
      return ctr_fail(err, 0, "token answer: the token has bad characters");
  exp = json_object_get(doc, "expires_in");
  *expires_in = json_is_integer(exp) ? (long)json_integer_value(exp) : 0;
  if (*expires_in < 60)
    *expires_in = 60;
  if (*expires_in > 86400 * 365)
    *expires_in = 86400 * 365;
  *token = strdup(t);
  return *token ? 0 : ctr_fail(err, ENOMEM, "token");
}

char *registry_token_url(const char *realm, const char *service,
                         const char *scope) {
  char *out = NULL;
  size_t len = 0;
  FILE *f;
  char sep;
  if (realm == NULL)
    return NULL;
  f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  sep = strchr(realm, '?') ? '&' : '?';
  fputs(realm, f);
  if (service != NULL) {
    char *e = curl_easy_escape(NULL, service, 0);
    fprintf(f, "%cservice=%s", sep, e ? e : "");
    curl_free(e);
    sep = '&';
  }
  for (const char *p = scope; p != NULL && *p;) {
    size_t n = strcspn(p, " ");
    if (n > 0) {
      char *e = curl_easy_escape(NULL, p, (int)n);
      fprintf(f, "%cscope=%s", sep, e ? e : "");
      curl_free(e);
      sep = '&';
    }
    p += n;
    while (*p == ' ')
      p++;
  }
  if (fclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* ---- Content-Range and the resume cursor ------------------------------- */

static int parse_off(const char **p, off_t *out) {
  char *end;
  uintmax_t v;
  if (!isdigit((unsigned char)**p))
    return -1;
  errno = 0;
  v = strtoumax(*p, &end, 10);
  if (errno != 0 || v > INT64_MAX)
    return -1;
  *out = (off_t)v;
  *p = end;
  return 0;
}

int registry_content_range(const char *v, off_t *start, off_t *end,
                           off_t *total) {
  const char *p = v;
  if (strncasecmp(p, "bytes", 5) != 0)
    return -1;
  p = skip_ws(p + 5);
  if (parse_off(&p, start) < 0 || *p++ != '-' || parse_off(&p, end) < 0 ||
      *p++ != '/' || *end < *start)
    return -1;
  if (*p == '*') {
    *total = -1;
    p++;
  } else if (parse_off(&p, total) < 0 || *total <= *end) {
    return -1;
  }
  p = skip_ws(p);
  return *p == '\0' || *p == '\r' || *p == '\n' ? 0 : -1;
}

size_t registry_cursor_skip(const struct registry_cursor *c, size_t len) {
  off_t handled = c->done > c->dup ? c->done : c->dup;
  off_t skip = handled - c->next;
  if (skip <= 0)
    return 0;
  return (size_t)skip < len ? (size_t)skip : len;
}

bool registry_cursor_advance(struct registry_cursor *c, size_t len, size_t skip,
                             size_t took) {
  off_t reached = c->next + (off_t)skip + (off_t)took;
  if (reached > c->done)
    c->done = reached;
  if (skip + took >= len) {
    c->next += (off_t)len;
    return true;
  }
  return false; /* offered again from c->next */
}

/* ---- errors ------------------------------------------------------------ */

/* "MANIFEST_UNKNOWN" as words: "manifest unknown". */
static char *code_words(const char *code) {
  char *s = strdup(code);
  for (char *p = s; p && *p; p++)
    *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
  return s;
}

/* The first error of the API's error body, as "code words: message". */
static char *api_error(const char *body, size_t len) {
  cleanup_json json_t *doc = NULL;
  cleanup_free char *words = NULL;
  const json_t *first;
  const char *code, *msg;
  char *out = NULL;
  json_error_t je;
  if (body == NULL || len == 0)
    return NULL;
  doc = json_loadb(body, len, 0, &je);
  first = json_array_get(json_object_get(doc, "errors"), 0);
  code = ctr_json_str(first, "code");
  msg = ctr_json_str(first, "message");
  if (code == NULL && msg == NULL)
    return NULL;
  words = code ? code_words(code) : NULL;
  if (words == NULL || (msg != NULL && strcasecmp(words, msg) == 0) ||
      msg == NULL || msg[0] == '\0')
    return strdup(words ? words : msg);
  if (asprintf(&out, "%s: %s", words, msg) < 0)
    return NULL;
  return out;
}

/* Registry text goes into our one-line errors: no control characters,
 * and not too long. */
static char *one_line(char *s) {
  if (s == NULL)
    return NULL;
  for (char *p = s; *p; p++)
    if ((unsigned char)*p < ' ' || *p == 0x7f)
      *p = ' ';
  if (strlen(s) > 200)
    strcpy(s + 197, "...");
  return s;
}

char *registry_error_message(long status, const char *body, size_t len,
                             bool creds) {
  cleanup_free char *api = one_line(api_error(body, len));
  char *out = NULL;
  int r;
  switch (status) {
  case 401:
    return strdup(creds ? "unauthorized: bad credentials"
                        : "authentication required");
  case 403:
    if (api != NULL && strncmp(api, "denied", 6) == 0)
      return strdup(api);
    r = asprintf(&out, "denied%s%s", api ? ": " : "", api ? api : "");
    break;
  case 429:
    return strdup("too many requests");
  case 404:
    r = asprintf(&out, "%s", api ? api : "not found");
    break;
  default:
    if (api != NULL && status >= 400 && status < 500)
      r = asprintf(&out, "%s", api);
    else
      r = asprintf(&out, "%s (HTTP %ld)%s%s",
                   status >= 500 ? "registry error" : "unexpected answer", status,
                   api ? ": " : "", api ? api : "");
  }
  return r < 0 ? NULL : out;
}
