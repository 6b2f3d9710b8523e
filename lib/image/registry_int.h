/* What registry.c and registry_auth.c share; the rest of the tree uses
 * registry.h only. */
#ifndef CTR_IMAGE_REGISTRY_INT_H
#define CTR_IMAGE_REGISTRY_INT_H

#include <curl/curl.h>

#include "registry.h"

enum registry_auth { REG_AUTH_UNKNOWN, REG_AUTH_BASIC, REG_AUTH_BEARER };

/* What credentials an attempt carried, for the error a 401 gets. */
enum registry_sent { SENT_NOTHING, SENT_BASIC, SENT_TOKEN_ANON, SENT_TOKEN_CREDS };

struct registry_token {
  char *scope; /* "" for none */
  char *value;
  double expires; /* registry_now() seconds */
};

struct registry {
  char *host;     /* as the user named it: "127.0.0.1:5000", "docker.io" */
  char *endpoint; /* where to connect: "registry-1.docker.io" for docker.io */
  bool loopback;
  enum registry_tls tls;
  bool http; /* https was tried and the server speaks plain http */
  char *ca;  /* PEM: the system's CAs and certs.d's, or NULL for curl's */
  size_t ca_len;
  char *certs_root; /* the certs.d tree looked in, for messages */
  char *cert, *key; /* client certificate and key files, or NULL */
  char *user, *pass;
  enum registry_auth auth; /* learned from the first challenge */
  char *realm, *service;
  struct registry_token *tokens;
  size_t ntokens;
  long stall; /* seconds without a byte before a transfer is given up */
  CURLM *multi;
};

/* registry_tls.c */
/* CAs and a client certificate from certs.d (see registry_opts). */
int registry_load_certs(struct registry *r, const char *cert_dir, ctr_err *err);
/* Is host ("HOST[:PORT]", as written in references) in the
 * insecure-registries list of $CTR_REGISTRIES_CONF or
 * /etc/ctr/registries.json (a missing default file lists none)? */
int registry_insecure_listed(const char *host, bool *listed, ctr_err *err);
/* Timeouts, redirects, TLS: what every handle to the registry gets. */
void registry_setup_handle(struct registry *r, CURL *h, char *errbuf);

/* registry.c */
int registry_transport_error(struct registry *r, CURLcode rc,
                             const char *errbuf, int tries, ctr_err *err);
bool registry_retryable(CURLcode rc);
double registry_now(void);
double registry_backoff(int tries);
#define REGISTRY_MAX_TRIES 4

/* registry_auth.c */
/* Put what the registry wants on a new attempt: Basic credentials, or a
 * Bearer token for scope (fetched when none is cached). */
int registry_attach_auth(struct registry *r, CURL *h, struct curl_slist **hdrs,
                         const char *scope, enum registry_sent *sent,
                         ctr_err *err);
/* A 401's challenge: 1 when a new attempt may succeed (auth learned, a
 * refused token dropped), 0 when there is nothing more to try. */
int registry_answer_challenge(struct registry *r, const char *www_auth,
                              const char *scope, enum registry_sent sent);
int registry_status_error(enum registry_sent sent, long status,
                          const char *body, size_t len, ctr_err *err);
void registry_tokens_free(struct registry *r);

#endif
