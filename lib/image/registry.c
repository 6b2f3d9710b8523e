/* The registry client: one per host, and the request engine on curl's
 * multi interface (see registry.h). TLS material and how a handle
 * connects are in registry_tls.c, tokens and challenges in
 * registry_auth.c, pure parsing in registry_parse.c. */
#define _GNU_SOURCE
#include "registry_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/log.h"

#define MAX_TRIES REGISTRY_MAX_TRIES
#define FIRST_BACKOFF 0.5
#define DEFAULT_STALL 30
#define DEFAULT_MAX_BODY ((size_t)4 << 20)
#define ERROR_BODY_MAX ((size_t)64 << 10)

/* ---- opening: endpoint, credentials ------------------------------------ */

/* localhost, 127.0.0.0/8 and ::1, with or without a port. */
static bool is_loopback(const char *host) {
  size_t n = strlen(host);
  const char *colon = strrchr(host, ':');
  if (host[0] == '[')
    return strncmp(host, "[::1]", 5) == 0;
  if (colon != NULL)
    n = (size_t)(colon - host);
  if (n == 9 && strncmp(host, "localhost", 9) == 0)
    return true;
  if (n >= 4 && strncmp(host, "127.", 4) == 0) {
    for (size_t i = 4; i < n; i++)
      if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
        return false;
    return true;
  }
  return false;
}

int registry_open(const char *host, const struct registry_opts *o,
                  struct registry **out, ctr_err *err) {
  struct registry *r = calloc(1, sizeof(*r));
  const char *stall = getenv("CTR_REGISTRY_STALL_SECONDS");
  if (r == NULL)
    return ctr_fail(err, ENOMEM, "registry %s", host);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  r->host = strdup(host);
  r->endpoint = strdup(strcmp(host, "docker.io") == 0 ? "registry-1.docker.io" : host);
  r->tls = o->tls;
  r->loopback = is_loopback(host);
  r->stall = o->stall_seconds > 0 ? o->stall_seconds
             : stall && atol(stall) > 0 ? atol(stall)
                                         : DEFAULT_STALL;
  if (o->username != NULL) {
    r->user = strdup(o->username);
    r->pass = strdup(o->password ? o->password : "");
  }
  r->multi = curl_multi_init();
  if (r->host == NULL || r->endpoint == NULL || r->multi == NULL ||
      (o->username && (r->user == NULL || r->pass == NULL))) {
    registry_close(r);
    return ctr_fail(err, ENOMEM, "registry %s", host);
  }
  /* A listed insecure registry is what docker makes of one: TLS without
   * verification, plain http when it does not speak TLS. An explicit
   * --tls-verify=true still wins. */
  if (r->tls == REGISTRY_TLS_DEFAULT) {
    bool listed;
    if (registry_insecure_listed(host, &listed, err) < 0) {
      registry_close(r);
      return -1;
    }
    if (listed)
      r->tls = REGISTRY_TLS_NO_VERIFY;
  }
  /* Without verification a client certificate may still be wanted. */
  if (registry_load_certs(r, o->cert_dir, err) < 0) {
    registry_close(r);
    return -1;
  }
  *out = r;
  return 0;
}

void registry_close(struct registry *r) {
  if (r == NULL)
    return;
  if (r->multi != NULL)
    curl_multi_cleanup(r->multi);
  if (r->pass != NULL)
    explicit_bzero(r->pass, strlen(r->pass));
  registry_tokens_free(r);
  free(r->host);
  free(r->endpoint);
  free(r->ca);
  free(r->certs_root);
  free(r->cert);
  free(r->key);
  free(r->user);
  free(r->pass);
  free(r);
  curl_global_cleanup();
}

const char *registry_host(const struct registry *r) { return r->host; }

void registry_resp_free(struct registry_resp *resp) {
  free(resp->body);
  free(resp->content_type);
  free(resp->digest);
  free(resp->location);
  memset(resp, 0, sizeof(*resp));
}

/* ---- errors for failed transfers --------------------------------------- */

int registry_transport_error(struct registry *r, CURLcode rc,
                             const char *errbuf, int tries, ctr_err *err) {
  const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
  char after[32] = "";
  if (tries > 1)
    snprintf(after, sizeof(after), " (tried %d times)", tries);
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
    return ctr_fail(err, 0, "cannot connect to %s%s", r->host, after);
  case CURLE_COULDNT_RESOLVE_HOST:
    return ctr_fail(err, 0, "cannot resolve %s (%s)", r->host, detail);
  case CURLE_OPERATION_TIMEDOUT:
    return ctr_fail(err, 0, "%s sent nothing for %ld s%s", r->host, r->stall,
                    after);
  case CURLE_PEER_FAILED_VERIFICATION:
    return ctr_fail(err, 0,
                    "TLS certificate of %s not trusted (%s): add its CA to "
                    "%s/%s/ca.crt, or use --tls-verify=false",
                    r->host, detail,
                    r->certs_root ? r->certs_root : "/etc/ctr/certs.d", r->host);
  case CURLE_SSL_CONNECT_ERROR:
    return ctr_fail(err, 0, "TLS handshake with %s failed (%s)", r->host, detail);
  case CURLE_SSL_CERTPROBLEM:
    return ctr_fail(err, 0, "%s: client certificate %s: %s", r->host,
                    r->cert ? r->cert : "", detail);
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
    return ctr_fail(err, 0, "connection to %s lost (%s)%s", r->host, detail,
                    after);
  default:
    return ctr_fail(err, 0, "%s: %s%s", r->host, detail, after);
  }
}

bool registry_retryable(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

double registry_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double registry_backoff(int tries) {
  double d = FIRST_BACKOFF;
  for (int i = 1; i < tries; i++)
    d *= 2;
  return d;
}

/* ---- one transfer ------------------------------------------------------ */

enum xfer_state { X_WAITING, X_RUNNING, X_DONE };

struct xfer {
  struct registry *r;
  const struct registry_req *q;
  struct registry_resp *resp;
  CURL *h;
  struct curl_slist *hdrs;
  char errbuf[CURL_ERROR_SIZE];
  enum xfer_state state;
  int tries;         /* failed attempts in a row */
  double not_before; /* when a retry may start */
  bool auth_retried;
  enum registry_sent sent; /* what credentials this attempt carried */
  bool paused;
  bool cursor_ready;
  bool sink_failed;
  bool too_big;
  struct registry_cursor cur;
  off_t taken;      /* body bytes the sink took, counted from q->offset */
  off_t took_now;   /* ... in this attempt */
  off_t body_pos;   /* request body bytes read in this attempt */
  char *www_auth;   /* WWW-Authenticate values, joined by ", " */
  char *content_range;
  int result;
  ctr_err err;
};

static void set_str(char **field, const char *v, size_t n) {
  free(*field);
  *field = strndup(v, n);
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg) {
  struct xfer *x = arg;
  size_t len = size * n, name_len;
  const char *colon, *v;
  size_t vlen;
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    /* A new answer (after a redirect, or a 100): forget the last one's. */
    free(x->www_auth);
    free(x->content_range);
    x->www_auth = x->content_range = NULL;
    free(x->resp->content_type);
    free(x->resp->digest);
    free(x->resp->location);
    x->resp->content_type = x->resp->digest = x->resp->location = NULL;
    return len;
  }
  colon = memchr(buf, ':', len);
  if (colon == NULL)
    return len;
  name_len = (size_t)(colon - buf);
  v = colon + 1;
  while (v < buf + len && (*v == ' ' || *v == '\t'))
    v++;
  vlen = (size_t)(buf + len - v);
  while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
                      v[vlen - 1] == ' '))
    vlen--;
#define IS(h) (name_len == sizeof(h) - 1 && strncasecmp(buf, h, name_len) == 0)
  if (IS("WWW-Authenticate")) {
    char *joined = NULL;
    if (x->www_auth == NULL)
      set_str(&x->www_auth, v, vlen);
    else if (asprintf(&joined, "%s, %.*s", x->www_auth, (int)vlen, v) >= 0) {
      free(x->www_auth);
      x->www_auth = joined;
    }
  } else if (IS("Content-Type")) {
    set_str(&x->resp->content_type, v, vlen);
  } else if (IS("Docker-Content-Digest")) {
    set_str(&x->resp->digest, v, vlen);
  } else if (IS("Location")) {
    set_str(&x->resp->location, v, vlen);
  } else if (IS("Content-Range")) {
    set_str(&x->content_range, v, vlen);
  }
#undef IS
  return len;
}

static bool keep_body(struct xfer *x, const char *buf, size_t len, size_t max) {
  char *nb;
  if (x->resp->len + len > max)
    return false;
  nb = realloc(x->resp->body, x->resp->len + len + 1);
  if (nb == NULL)
    return false;
  memcpy(nb + x->resp->len, buf, len);
  x->resp->body = nb;
  x->resp->len += len;
  nb[x->resp->len] = '\0';
  return true;
}

/* The first body bytes of a 2xx answer: where in the stream they start. */
static int start_cursor(struct xfer *x, long status) {
  off_t want = x->q->offset + x->taken, start, end, total;
  memset(&x->cur, 0, sizeof(x->cur));
  x->cursor_ready = true;
  if (status == 206) {
    if (x->content_range == NULL ||
        registry_content_range(x->content_range, &start, &end, &total) < 0 ||
        start != want)
      return ctr_fail(&x->err, 0, "%s answered a resumed download with the "
                                  "wrong range (%s)", x->r->host,
                      x->content_range ? x->content_range : "none");
    return 0;
  }
  x->cur.dup = want; /* the whole body again: drop what the sink has */
  return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg) {
  struct xfer *x = arg;
  size_t len = size * n, skip, took = 0;
  long status = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  if (status / 100 != 2 || x->q->sink == NULL) {
    size_t max = status / 100 != 2 ? ERROR_BODY_MAX
                 : x->q->max_body   ? x->q->max_body
                                    : DEFAULT_MAX_BODY;
    if (keep_body(x, buf, len, max))
      return len;
    if (status / 100 != 2)
      return len; /* an error text cut short is still an error text */
    x->too_big = true;
    return 0;
  }
  if (!x->cursor_ready && start_cursor(x, status) < 0) {
    x->sink_failed = true;
    return 0;
  }
  skip = registry_cursor_skip(&x->cur, len);
  if (skip < len) {
    ssize_t t = x->q->sink(x->q->sink_arg, buf + skip, len - skip, &x->err);
    if (t < 0) {
      x->sink_failed = true;
      return 0;
    }
    took = (size_t)t;
    x->taken += t;
    x->took_now += t;
  }
  if (registry_cursor_advance(&x->cur, len, skip, took))
    return len;
  x->paused = true;
  return CURL_WRITEFUNC_PAUSE;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg) {
  struct xfer *x = arg;
  size_t want = size * n, left = x->q->body_len - (size_t)x->body_pos;
  if (want > left)
    want = left;
  if (want == 0)
    return 0;
  if (x->q->body != NULL) {
    memcpy(buf, (const char *)x->q->body + x->body_pos, want);
  } else {
    ssize_t got = pread(x->q->body_fd, buf, want, x->q->body_off + x->body_pos);
    if (got <= 0)
      return CURL_READFUNC_ABORT;
    want = (size_t)got;
  }
  x->body_pos += (off_t)want;
  return want;
}

static int on_seek(void *arg, curl_off_t off, int origin) {
  struct xfer *x = arg;
  if (origin != SEEK_SET || off < 0 || (size_t)off > x->q->body_len)
    return CURL_SEEKFUNC_CANTSEEK;
  x->body_pos = (off_t)off;
  return CURL_SEEKFUNC_OK;
}

static char *request_url(struct registry *r, const char *path) {
  char *url = NULL;
  const char *scheme = r->http ? "http" : "https";
  int rc;
  if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0)
    return strdup(path);
  if (path[0] == '/')
    rc = asprintf(&url, "%s://%s%s", scheme, r->endpoint, path);
  else
    rc = asprintf(&url, "%s://%s/v2/%s", scheme, r->endpoint, path);
  return rc < 0 ? NULL : url;
}

static void set_method(struct xfer *x) {
  const char *m = x->q->method ? x->q->method : "GET";
  bool has_body = x->q->body_len > 0;
  if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(x->h, CURLOPT_NOBODY, 1L);
  } else if (strcmp(m, "POST") == 0) {
    curl_easy_setopt(x->h, CURLOPT_POST, 1L);
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->q->body_len);
  } else if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
    curl_easy_setopt(x->h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(x->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->q->body_len);
    if (strcmp(m, "PATCH") == 0)
      curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, "PATCH");
  } else if (strcmp(m, "GET") != 0) {
    curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, m);
  }
  if (has_body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
      strcmp(m, "PATCH") == 0) {
    curl_easy_setopt(x->h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(x->h, CURLOPT_READDATA, x);
    curl_easy_setopt(x->h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(x->h, CURLOPT_SEEKDATA, x);
  }
}

static int add_header(struct xfer *x, const char *h, ctr_err *err) {
  struct curl_slist *n = curl_slist_append(x->hdrs, h);
  if (n == NULL)
    return ctr_fail(err, ENOMEM, "request header");
  x->hdrs = n;
  return 0;
}

static void drop_handle(struct xfer *x) {
  if (x->h != NULL) {
    if (x->state == X_RUNNING)
      curl_multi_remove_handle(x->r->multi, x->h);
    curl_easy_cleanup(x->h);
  }
  curl_slist_free_all(x->hdrs);
  x->h = NULL;
  x->hdrs = NULL;
  x->paused = false;
}

/* A new attempt: a fresh handle, auth as known now, the Range still
 * missing, and the answer fields cleared. */
static int start_attempt(struct xfer *x, ctr_err *err) {
  struct registry *r = x->r;
  cleanup_free char *url = request_url(r, x->q->path);
  off_t from = x->q->offset + x->taken;
  char range[64];
  drop_handle(x);
  registry_resp_free(x->resp);
  x->resp->length = -1;
  free(x->www_auth);
  free(x->content_range);
  x->www_auth = x->content_range = NULL;
  x->cursor_ready = x->sink_failed = x->too_big = false;
  x->took_now = x->body_pos = 0;
  x->h = curl_easy_init();
  if (url == NULL || x->h == NULL)
    return ctr_fail(err, ENOMEM, "request to %s", r->host);
  registry_setup_handle(r, x->h, x->errbuf);
  curl_easy_setopt(x->h, CURLOPT_URL, url);
  curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
  curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
  set_method(x);
  for (const char *const *h = x->q->headers; h && *h; h++)
    if (add_header(x, *h, err) < 0)
      return -1;
  /* A body goes at once: no "Expect: 100-continue" round trip. */
  if (add_header(x, "Expect:", err) < 0)
    return -1;
  if (from > 0) {
    snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)from);
    if (add_header(x, range, err) < 0)
      return -1;
  }
  if (registry_attach_auth(r, x->h, &x->hdrs, x->q->scope, &x->sent, err) < 0)
    return -1;
  curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
  ctr_debug("%s %s%s", x->q->method ? x->q->method : "GET", url,
            from > 0 ? " (resuming)" : "");
  if (curl_multi_add_handle(r->multi, x->h) != CURLM_OK)
    return ctr_fail(err, ENOMEM, "request to %s", r->host);
  x->state = X_RUNNING;
  return 0;
}

static void finish(struct xfer *x, int result) {
  drop_handle(x);
  x->state = X_DONE;
  x->result = result;
  if (x->q->done != NULL)
    x->q->done(x->q->sink_arg, result);
}

static void retry_later(struct xfer *x) {
  drop_handle(x);
  /* Bytes moved: the connection works, so count again from one. */
  x->tries = x->took_now > 0 ? 1 : x->tries + 1;
  x->not_before = registry_now() + registry_backoff(x->tries);
  x->state = X_WAITING;
}

/* The answer's own failure: map it, or answer a challenge and go again. */
static void answered(struct xfer *x, long status) {
  struct registry *r = x->r;
  x->resp->status = status;
  if (status / 100 == 2 || (x->q->any_status && status != 401 && status < 500 &&
                            status != 429)) {
    curl_off_t len = -1;
    char *loc = NULL;
    curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    x->resp->length = len;
    if (x->resp->location != NULL && x->resp->location[0] == '/' &&
        (loc = request_url(r, x->resp->location)) != NULL) {
      free(x->resp->location);
      x->resp->location = loc;
    }
    finish(x, 0);
    return;
  }
  if (status == 401 && !x->auth_retried) {
    if (registry_answer_challenge(r, x->www_auth, x->q->scope, x->sent) > 0) {
      x->auth_retried = true;
      drop_handle(x);
      x->state = X_WAITING;
      x->not_before = 0;
      return;
    }
  }
  if ((status >= 500 || status == 429) && x->tries + 1 < MAX_TRIES) {
    ctr_debug("%s: HTTP %ld, trying again", r->host, status);
    retry_later(x);
    return;
  }
  registry_status_error(x->sent, status, x->resp->body, x->resp->len, &x->err);
  finish(x, -1);
}

static void attempt_over(struct xfer *x, CURLcode rc) {
  struct registry *r = x->r;
  long status = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  x->state = X_WAITING; /* off the multi handle from here on */
  curl_multi_remove_handle(r->multi, x->h);
  if (x->sink_failed) {
    finish(x, -1);
    return;
  }
  if (x->too_big) {
    ctr_fail(&x->err, 0, "%s: answer larger than %zu bytes", r->host,
             x->q->max_body ? x->q->max_body : DEFAULT_MAX_BODY);
    finish(x, -1);
    return;
  }
  if (rc == CURLE_OK) {
    answered(x, status);
    return;
  }
  /* https to a server that speaks plain http: the one case where docker
   * falls back, and only for hosts allowed to. */
  if (rc == CURLE_SSL_CONNECT_ERROR && !r->http && x->took_now == 0 &&
      (r->loopback ? r->tls != REGISTRY_TLS_VERIFY : r->tls == REGISTRY_TLS_NO_VERIFY)) {
    ctr_debug("%s does not speak TLS; using http", r->host);
    r->http = true;
    drop_handle(x);
    x->not_before = 0;
    return;
  }
  if (registry_retryable(rc) && (x->took_now > 0 || x->tries + 1 < MAX_TRIES)) {
    ctr_debug("%s: %s, trying again", r->host, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    retry_later(x);
    return;
  }
  registry_transport_error(r, rc, x->errbuf, x->tries + 1, &x->err);
  finish(x, -1);
}

/* ---- the loop ---------------------------------------------------------- */

static void stop_all(struct xfer *xs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (xs[i].state != X_DONE) {
      ctr_fail(&xs[i].err, 0, "stopped");
      finish(&xs[i], -1);
    }
}

/* Start what may start now, up to parallel running. */
static void start_ready(struct xfer *xs, size_t n, size_t parallel,
                        size_t *failed_at, bool *failed) {
  size_t running = 0;
  double now = registry_now();
  for (size_t i = 0; i < n; i++)
    running += xs[i].state == X_RUNNING;
  for (size_t i = 0; i < n && running < parallel && !*failed; i++) {
    if (xs[i].state != X_WAITING || xs[i].not_before > now)
      continue;
    if (start_attempt(&xs[i], &xs[i].err) < 0) {
      finish(&xs[i], -1);
      *failed = true;
      *failed_at = i;
      break;
    }
    running++;
  }
}

/* Time until the next retry is due, in ms, capped at cap. */
static int next_wake(struct xfer *xs, size_t n, int cap) {
  double now = registry_now();
  int ms = cap;
  for (size_t i = 0; i < n; i++) {
    if (xs[i].state == X_WAITING) {
      double d = (xs[i].not_before - now) * 1000;
      int w = d <= 0 ? 0 : (int)d + 1;
      if (w < ms)
        ms = w;
    }
    if (xs[i].paused && xs[i].q->pause_fd < 0 && ms > 10)
      ms = 10;
  }
  return ms;
}

static void poll_and_unpause(struct registry *r, struct xfer *xs, size_t n,
                             int timeout_ms) {
  struct curl_waitfd fds[64];
  size_t nfds = 0, which[64];
  for (size_t i = 0; i < n && nfds < 64; i++)
    if (xs[i].paused && xs[i].q->pause_fd >= 0) {
      fds[nfds].fd = xs[i].q->pause_fd;
      fds[nfds].events = CURL_WAIT_POLLOUT;
      fds[nfds].revents = 0;
      which[nfds++] = i;
    }
  curl_multi_poll(r->multi, fds, (unsigned)nfds, timeout_ms, NULL);
  for (size_t k = 0; k < nfds; k++)
    if (fds[k].revents != 0 && xs[which[k]].paused) {
      xs[which[k]].paused = false;
      curl_easy_pause(xs[which[k]].h, CURLPAUSE_CONT);
    }
  for (size_t i = 0; i < n; i++)
    if (xs[i].paused && xs[i].q->pause_fd < 0 && xs[i].state == X_RUNNING) {
      xs[i].paused = false;
      curl_easy_pause(xs[i].h, CURLPAUSE_CONT);
    }
}

int registry_do_all(struct registry *r, const struct registry_req *q, size_t n,
                    size_t parallel, struct registry_resp *resps,
                    size_t *failed, ctr_err *err) {
  struct xfer *xs = calloc(n ? n : 1, sizeof(*xs));
  size_t failed_at = 0;
  bool fail = false;
  if (xs == NULL)
    return ctr_fail(err, ENOMEM, "requests to %s", r->host);
  for (size_t i = 0; i < n; i++) {
    xs[i].r = r;
    xs[i].q = &q[i];
    xs[i].resp = &resps[i];
    memset(&resps[i], 0, sizeof(resps[i]));
  }
  for (;;) {
    int still = 0;
    CURLMsg *m;
    bool pending = false;
    start_ready(xs, n, parallel ? parallel : 1, &failed_at, &fail);
    for (size_t i = 0; i < n; i++)
      pending |= xs[i].state != X_DONE;
    if (!pending || fail)
      break;
    curl_multi_perform(r->multi, &still);
    while ((m = curl_multi_info_read(r->multi, &still)) != NULL) {
      struct xfer *x = NULL;
      if (m->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
      attempt_over(x, m->data.result);
      if (x->state == X_DONE && x->result < 0 && !fail) {
        fail = true;
        failed_at = (size_t)(x - xs);
      }
    }
    pending = false;
    for (size_t i = 0; i < n; i++)
      pending |= xs[i].state != X_DONE;
    if (fail || !pending)
      break;
    poll_and_unpause(r, xs, n, next_wake(xs, n, 1000));
  }
  stop_all(xs, n);
  for (size_t i = 0; i < n; i++) {
    free(xs[i].www_auth);
    free(xs[i].content_range);
    if (!(fail && i == failed_at))
      ctr_err_free(&xs[i].err);
  }
  if (fail) {
    ctr_err_free(err);
    *err = xs[failed_at].err;
    if (*err == NULL)
      ctr_fail(err, 0, "request to %s failed", r->host);
    if (failed != NULL)
      *failed = failed_at;
  }
  free(xs);
  return fail ? -1 : 0;
}

int registry_do(struct registry *r, const struct registry_req *q,
                struct registry_resp *resp, ctr_err *err) {
  return registry_do_all(r, q, 1, 1, resp, NULL, err);
}

int registry_login(struct registry *r, ctr_err *err) {
  struct registry_req q = {.path = "", .pause_fd = -1};
  struct registry_resp resp;
  int ret = registry_do(r, &q, &resp, err);
  registry_resp_free(&resp);
  return ret;
}

size_t http_body_write(char *data, size_t size, size_t nmemb, void *arg) {
  struct http_body *b = arg;
  size_t n = size * nmemb;
  char *nb;
  if (b->len + n > b->max) {
    b->too_big = true;
    return 0;
  }
  if ((nb = realloc(b->buf, b->len + n + 1)) == NULL)
    return 0;
  memcpy(nb + b->len, data, n);
  b->buf = nb;
  b->len += n;
  nb[b->len] = '\0';
  return n;
}
