/* Talking to a registry (the OCI distribution API, /v2/) over libcurl.
 *
 * A struct registry stands for one registry host and holds what its
 * requests share: the endpoint and scheme, TLS material, credentials,
 * Bearer tokens by scope, and curl's connection cache. Every request goes
 * through registry_do (one) or registry_do_all (several at once, on curl's
 * multi interface), and both:
 *  - answer auth challenges: Basic with the credentials given, or Bearer
 *    with a token fetched from the realm the registry names (sending the
 *    credentials there, if any), one token per scope, reused by every
 *    request with that scope until it expires;
 *  - retry connection failures, stalls, 5xx and 429 answers with backoff
 *    (4 tries, 0.5 s doubling; a try that moved bytes starts the count
 *    again), and resume a GET that broke off with a Range request, so a
 *    sink sees every byte of the body exactly once;
 *  - stop a transfer that moves no byte for the stall time (30 s, or
 *    $CTR_REGISTRY_STALL_SECONDS, or registry_opts.stall_seconds);
 *  - turn failed answers into one-line errors: the registry's own message
 *    ("manifest unknown"), "authentication required" (401 without
 *    credentials), "unauthorized: bad credentials" (401 with them),
 *    "denied: ..." (403), "too many requests" (429).
 *
 * Schemes: https with the system's CAs plus those of certs.d (see
 * registry_opts.cert_dir). Plain http only for loopback hosts (localhost,
 * 127.0.0.0/8, ::1), hosts listed in insecure-registries of
 * /etc/ctr/registries.json (which also skips verification, as docker
 * does) and with --tls-verify=false, and only after https
 * failed because the server does not speak TLS: as docker does for its
 * insecure registries. A TLS server whose certificate does not verify is
 * an error, never a reason to fall back.
 *
 * Push is meant to be built on the same two calls:
 *   HEAD  <repo>/blobs/<digest>     .any_status: 200 there, 404 not
 *   POST  <repo>/blobs/uploads/?mount=<digest>&from=<other>
 *         .scope "repository:<repo>:pull,push repository:<other>:pull"
 *         (scopes are space separated; the token covers all of them);
 *         201 mounted, 202 upload started at resp.location
 *   PATCH <location>  .body_fd/.body_off/.body_len, Content-Type:
 *         application/octet-stream (or PUT <location>&digest=<d> with the
 *         whole body: monolithic)
 *   PUT   <location>&digest=<digest>
 *   PUT   <repo>/manifests/<tag>  .body/.body_len, Content-Type: <type>
 * .path is relative to /v2/, or an absolute URL, or an absolute path
 * ("/v2/..."), so a Location header can be used as it comes. A request
 * body is sent again from its start on every retry. */
#ifndef CTR_IMAGE_REGISTRY_H
#define CTR_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "core/error.h"

enum registry_tls {
  REGISTRY_TLS_DEFAULT, /* verify; http fallback for loopback hosts */
  REGISTRY_TLS_VERIFY,  /* --tls-verify=true: verify, never http */
  REGISTRY_TLS_NO_VERIFY /* --tls-verify=false: no verification, http ok */
};

struct registry_opts {
  /* A certs.d tree (DIR/HOST[:PORT]/ca.crt, *.crt, client *.cert and
   * *.key), or a directory holding those files itself, as podman's
   * --cert-dir. NULL: $CTR_CERTS_DIR, else /etc/ctr/certs.d. */
  const char *cert_dir;
  enum registry_tls tls;
  const char *username; /* credentials, or NULL for anonymous */
  const char *password;
  long stall_seconds; /* 0: $CTR_REGISTRY_STALL_SECONDS, else 30 */
};

struct registry;

/* host is "HOST[:PORT]" as in an image reference; "docker.io" is served
 * by registry-1.docker.io. Nothing is sent yet. */
int registry_open(const char *host, const struct registry_opts *o,
                  struct registry **out, ctr_err *err);
void registry_close(struct registry *r);
const char *registry_host(const struct registry *r);

/* Hands body bytes to the caller, in order, from the request's .offset.
 * Returns how many it took: fewer than len pauses the transfer until
 * .pause_fd polls writable (or a moment, without one), then the rest is
 * offered again. -1 stops the transfer with the error the sink set. */
typedef ssize_t (*registry_sink)(void *arg, const void *buf, size_t len,
                                 ctr_err *err);

struct registry_req {
  const char *method;  /* "GET" when NULL; HEAD, PUT, POST, PATCH, DELETE */
  const char *path;    /* "<repo>/manifests/<ref>"; see above */
  const char *scope;   /* token scope(s), e.g. "repository:<repo>:pull" */
  const char *const *headers; /* NULL-terminated "Name: value" lines */
  /* The request body: body/body_len from memory, or (body NULL,
   * body_len > 0) body_len bytes of body_fd from body_off. */
  const void *body;
  size_t body_len;
  int body_fd;
  off_t body_off;
  /* The response body: to the sink, else kept in resp.body (at most
   * max_body bytes; 0 means 4 MiB). */
  registry_sink sink;
  void *sink_arg;
  int pause_fd; /* with a sink: poll this for POLLOUT while paused; -1 none */
  off_t offset; /* GET from this byte on (a Range request): resuming */
  size_t max_body;
  /* Any answer below 500 but 401 and 429 is a result, not an error (a
   * HEAD's 404). Challenges and retries are answered all the same. */
  bool any_status;
  /* registry_do_all: called once when the request is over for good
   * (ok: 0, or -1), so the caller can close what the sink fed. */
  void (*done)(void *arg, int ok);
};

struct registry_resp {
  long status;
  char *body; /* NUL-terminated; the error body for failed answers */
  size_t len;
  char *content_type;
  char *digest;   /* Docker-Content-Digest */
  char *location; /* absolute URL, for uploads and redirects */
  off_t length;   /* Content-Length, -1 when not sent */
};
void registry_resp_free(struct registry_resp *resp);

/* One request. Returns 0 with resp filled for a 2xx answer (or, with
 * any_status, another one it allows), else -1 with a one-line error. */
int registry_do(struct registry *r, const struct registry_req *q,
                struct registry_resp *resp, ctr_err *err);
/* n requests, at most parallel at once, started in order. On the first
 * failure no more start and those running stop; -1 with that error and
 * its index in *failed. resps has n entries. */
int registry_do_all(struct registry *r, const struct registry_req *q, size_t n,
                    size_t parallel, struct registry_resp *resps,
                    size_t *failed, ctr_err *err);

/* Check that the registry accepts the credentials it was opened with:
 * GET /v2/ answering any challenge (Basic: the credentials; Bearer: a
 * token for no scope, which the token server only gives to good ones). */
int registry_login(struct registry *r, ctr_err *err);

/* ---- pure helpers, exposed for unit tests and fuzzing ---------------- */

/* A WWW-Authenticate challenge: scheme "bearer" or "basic", and the
 * parameters a registry uses. */
struct registry_challenge {
  char scheme[8];
  char *realm;
  char *service;
  char *scope;
};
/* Parse a WWW-Authenticate value (several challenges may be listed);
 * keeps the Bearer one if any, else Basic. 0 ok, -1 none usable. */
int registry_challenge_parse(const char *value, struct registry_challenge *c);
void registry_challenge_free(struct registry_challenge *c);

/* A token server's answer: "token" or "access_token", and "expires_in"
 * (60 s when absent or smaller, as the distribution spec says). */
int registry_token_parse(const char *buf, size_t len, char **token,
                         long *expires_in, ctr_err *err);
/* The token URL: realm plus service and one scope= per scope. */
char *registry_token_url(const char *realm, const char *service,
                         const char *scope);

/* "bytes START-END/TOTAL" (TOTAL may be "*", then -1). 0 ok, -1 bad. */
int registry_content_range(const char *v, off_t *start, off_t *end,
                           off_t *total);

/* Where the bytes of one response go. A response begins at stream offset
 * `from` (what a Range request asked for, or 0 when the server ignored
 * it: then `dup` leading bytes are ones the sink already has). curl
 * offers chunks at response offset `next`; after a pause it offers the
 * same chunk again, of which `done` bytes were already dealt with. */
struct registry_cursor {
  off_t next; /* response offset of the chunk being offered */
  off_t done; /* response bytes dealt with (taken or dropped) */
  off_t dup;  /* leading response bytes to drop */
};
/* How many leading bytes of a len-byte chunk to pass over. */
size_t registry_cursor_skip(const struct registry_cursor *c, size_t len);
/* The sink took `took` bytes after `skip`: true when the chunk is used up
 * (curl moves on), false when curl must pause and offer it again. */
bool registry_cursor_advance(struct registry_cursor *c, size_t len, size_t skip,
                             size_t took);

/* One line for a failed answer: the registry's error message when the
 * body is the API's {"errors":[{"code","message"}]}, else the status's
 * meaning. creds: credentials (or a token made with them) were sent.
 * Caller frees. */
char *registry_error_message(long status, const char *body, size_t len,
                             bool creds);

/* A small response body held in memory, NUL-terminated, refused past
 * max bytes (too_big set; the transfer then fails): a curl
 * CURLOPT_WRITEFUNCTION with the struct as CURLOPT_WRITEDATA. */
struct http_body {
  char *buf;
  size_t len, max;
  bool too_big;
};
size_t http_body_write(char *data, size_t size, size_t nmemb, void *arg);

#endif
