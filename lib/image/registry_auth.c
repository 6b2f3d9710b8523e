/* Registry auth: answering challenges, and Bearer tokens fetched from the
 * realm a registry names, kept per scope until they expire (see the
 * distribution spec's token.md). */
#define _GNU_SOURCE
#include "registry_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/log.h"

#define TOKEN_ANSWER_MAX ((size_t)1 << 20)
/* A token this close to its end is not used for a new request. */
#define TOKEN_MARGIN 10.0

void registry_tokens_free(struct registry *r) {
  for (size_t i = 0; i < r->ntokens; i++) {
    free(r->tokens[i].scope);
    if (r->tokens[i].value != NULL)
      explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
    free(r->tokens[i].value);
  }
  free(r->tokens);
  free(r->realm);
  free(r->service);
  r->tokens = NULL;
  r->ntokens = 0;
  r->realm = r->service = NULL;
}

static struct registry_token *find_token(struct registry *r, const char *scope) {
  const char *key = scope ? scope : "";
  for (size_t i = 0; i < r->ntokens; i++)
    if (strcmp(r->tokens[i].scope, key) == 0)
      return &r->tokens[i];
  return NULL;
}

static void drop_token(struct registry *r, const char *scope) {
  struct registry_token *t = find_token(r, scope);
  if (t == NULL)
    return;
  free(t->value);
  t->value = NULL;
  t->expires = 0;
}

static int keep_token(struct registry *r, const char *scope, char *value,
                      long expires_in, ctr_err *err) {
  struct registry_token *t = find_token(r, scope);
  if (t == NULL) {
    struct registry_token *n = realloc(r->tokens, (r->ntokens + 1) * sizeof(*n));
    if (n == NULL) {
      free(value);
      return ctr_fail(err, ENOMEM, "token");
    }
    r->tokens = n;
    t = &r->tokens[r->ntokens];
    memset(t, 0, sizeof(*t));
    t->scope = strdup(scope ? scope : "");
    if (t->scope == NULL) {
      free(value);
      return ctr_fail(err, ENOMEM, "token");
    }
    r->ntokens++;
  }
  free(t->value);
  t->value = value;
  t->expires = registry_now() + (double)expires_in;
  return 0;
}

/* One GET of the token URL; its status in *status. */
static CURLcode token_get(struct registry *r, const char *url, struct http_body *a,
                          long *status, char *errbuf) {
  CURL *h = curl_easy_init();
  CURLcode rc;
  if (h == NULL)
    return CURLE_OUT_OF_MEMORY;
  registry_setup_handle(r, h, errbuf);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_body_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
  if (r->user != NULL) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, r->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, r->pass);
  }
  rc = curl_easy_perform(h);
  *status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(h);
  return rc;
}

static void sleep_for(double secs) {
  struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Ask the realm for a token for scope, with the same retries as any
 * request. Blocking: it is one small request, and whatever waits for it
 * needs the token anyway. */
static int fetch_token(struct registry *r, const char *scope, ctr_err *err) {
  cleanup_free char *url = registry_token_url(r->realm, r->service, scope);
  if (url == NULL)
    return ctr_fail(err, ENOMEM, "token");
  for (int tries = 1;; tries++) {
    struct http_body a = {.max = TOKEN_ANSWER_MAX};
    char errbuf[CURL_ERROR_SIZE];
    long status;
    char *token = NULL;
    long expires_in = 0;
    CURLcode rc = token_get(r, url, &a, &status, errbuf);
    ctr_debug("token for %s from %s: %ld", scope && scope[0] ? scope : "(no scope)",
              r->realm, status);
    if (rc == CURLE_OK && status == 200) {
      int ret = registry_token_parse(a.buf ? a.buf : "", a.len, &token, &expires_in, err);
      free(a.buf);
      if (ret < 0)
        return ctr_wrap(err, "token server %s", r->realm);
      return keep_token(r, scope, token, expires_in, err);
    }
    free(a.buf);
    if (tries < REGISTRY_MAX_TRIES &&
        (rc != CURLE_OK ? registry_retryable(rc) : status >= 500 || status == 429)) {
      sleep_for(registry_backoff(tries));
      continue;
    }
    if (rc != CURLE_OK)
      return ctr_fail(err, 0, "token server %s: %s%s", r->realm,
                      errbuf[0] ? errbuf : curl_easy_strerror(rc),
                      tries > 1 ? " (tried 4 times)" : "");
    if (status == 401 || status == 403)
      return ctr_fail(err, 0, "%s", r->user ? "unauthorized: bad credentials"
                                           : "authentication required");
    return ctr_fail(err, 0, "token server %s: HTTP %ld", r->realm, status);
  }
}

int registry_attach_auth(struct registry *r, CURL *h, struct curl_slist **hdrs,
                         const char *scope, enum registry_sent *sent,
                         ctr_err *err) {
  struct registry_token *t;
  cleanup_free char *line = NULL;
  struct curl_slist *n;
  *sent = SENT_NOTHING;
  if (r->auth == REG_AUTH_BASIC && r->user != NULL) {
    /* Basic alone makes curl send the credentials with the request. */
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, r->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, r->pass);
    *sent = SENT_BASIC;
    return 0;
  }
  if (r->auth != REG_AUTH_BEARER)
    return 0;
  t = find_token(r, scope);
  if (t == NULL || t->value == NULL || t->expires - TOKEN_MARGIN < registry_now()) {
    if (fetch_token(r, scope, err) < 0)
      return -1;
    t = find_token(r, scope);
  }
  /* curl keeps a custom Authorization header from hosts a redirect
   * leads to (blob storage), as it must. */
  if (asprintf(&line, "Authorization: Bearer %s", t->value) < 0)
    return ctr_fail(err, ENOMEM, "token");
  n = curl_slist_append(*hdrs, line);
  explicit_bzero(line, strlen(line));
  if (n == NULL)
    return ctr_fail(err, ENOMEM, "token");
  *hdrs = n;
  *sent = r->user ? SENT_TOKEN_CREDS : SENT_TOKEN_ANON;
  return 0;
}

int registry_answer_challenge(struct registry *r, const char *www_auth,
                              const char *scope, enum registry_sent sent) {
  struct registry_challenge c;
  int again = 0;
  if (www_auth == NULL || registry_challenge_parse(www_auth, &c) < 0)
    return 0;
  if (strcmp(c.scheme, "bearer") == 0) {
    if (r->realm == NULL || strcmp(r->realm, c.realm) != 0 ||
        (c.service && (r->service == NULL || strcmp(r->service, c.service) != 0))) {
      free(r->realm);
      free(r->service);
      r->realm = c.realm;
      r->service = c.service;
      c.realm = c.service = NULL;
    }
    r->auth = REG_AUTH_BEARER;
    drop_token(r, scope); /* refused or missing: fetch a new one */
    again = 1;
  } else if (strcmp(c.scheme, "basic") == 0 && r->user != NULL &&
             sent != SENT_BASIC) {
    r->auth = REG_AUTH_BASIC;
    again = 1;
  }
  registry_challenge_free(&c);
  return again;
}

int registry_status_error(enum registry_sent sent, long status,
                          const char *body, size_t len, ctr_err *err) {
  cleanup_free char *msg = NULL;
  if (status == 401 && sent == SENT_TOKEN_CREDS)
    msg = strdup("unauthorized: access denied");
  else
    msg = registry_error_message(status, body, len, sent == SENT_BASIC);
  return ctr_fail(err, 0, "%s", msg ? msg : "registry error");
}
