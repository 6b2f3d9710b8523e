/* The name server's records and answers: a network's hosts file parsed,
 * and what to do with a query given them (see dns_server.h). Pure but for
 * reading the hosts file. */
#define _GNU_SOURCE
#include "net/dns_server_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "net/dns_wire.h"

#define HOSTS_MAX (1 << 20)

/* ---- records ------------------------------------------------------------- */

static bool hostname_valid(const char *s) {
  size_t n = strlen(s), label = 0;
  if (n == 0 || n > 253)
    return false;
  for (const char *p = s; *p; p++) {
    if (*p == '.') {
      if (label == 0)
        return false;
      label = 0;
      continue;
    }
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
      return false;
    if (++label > 63)
      return false;
  }
  return true;
}

int net_dns_records_parse(const char *buf, size_t len, struct net_dns_records *out) {
  size_t cap = 0;
  char *line, *next;
  memset(out, 0, sizeof(*out));
  out->text = malloc(len + 1);
  if (out->text == NULL)
    return -1;
  memcpy(out->text, buf, len);
  out->text[len] = '\0';
  for (line = out->text; line != NULL; line = next) {
    char *save = NULL, *tok, *hash;
    struct in_addr a;
    bool first = true;
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    hash = strchr(line, '#');
    if (hash != NULL)
      *hash = '\0';
    tok = strtok_r(line, " \t\r", &save);
    if (tok == NULL || inet_pton(AF_INET, tok, &a) != 1)
      continue;
    while ((tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
      size_t l = strlen(tok);
      if (l > 1 && tok[l - 1] == '.')
        tok[l - 1] = '\0';
      if (!hostname_valid(tok))
        continue;
      if (out->n == cap) {
        size_t ncap = cap ? cap * 2 : 8;
        struct net_dns_entry *e = realloc(out->e, ncap * sizeof(*e));
        if (e == NULL) {
          net_dns_records_free(out);
          return -1;
        }
        out->e = e;
        cap = ncap;
      }
      out->e[out->n].name = tok;
      memcpy(out->e[out->n].addr, &a, 4);
      out->e[out->n].primary = first;
      out->n++;
      first = false;
    }
  }
  return 0;
}

void net_dns_records_free(struct net_dns_records *r) {
  free(r->text);
  free(r->e);
  memset(r, 0, sizeof(*r));
}

/* ---- deciding ------------------------------------------------------------ */

static void reply_error(const uint8_t *q, size_t len, uint8_t *out, size_t cap, int rcode,
                        struct net_dns_verdict *v) {
  int n = dns_error_reply(out, cap, q, len, rcode);
  if (n > 0) {
    v->action = NET_DNS_REPLY;
    v->len = (size_t)n;
  }
}

/* Answer from the records; false when they do not know the name. */
static bool answer_local(const struct net_dns_records *r, const struct dns_question *qu,
                         const uint8_t *q, size_t qend, struct dns_msg *m) {
  bool found = false, full = false;
  uint32_t ip;
  if (qu->qclass != DNS_CLASS_IN && qu->qclass != DNS_TYPE_ANY)
    return false;
  for (size_t i = 0; i < r->n && !full; i++) {
    bool dup = false;
    if (!dns_name_equal(r->e[i].name, qu->name))
      continue;
    if (!found && dns_reply_begin(m, q, qend, DNS_AA, DNS_NOERROR) < 0)
      return false;
    found = true;
    if (qu->qtype != DNS_TYPE_A && qu->qtype != DNS_TYPE_ANY)
      continue; /* the name exists: no data of that type */
    /* a name on two lines for one address (an alias twice) answers once */
    for (size_t j = 0; j < i && !dup; j++)
      dup = dns_name_equal(r->e[j].name, qu->name) && memcmp(r->e[j].addr, r->e[i].addr, 4) == 0;
    if (!dup && dns_reply_add_a(m, NET_DNS_TTL, r->e[i].addr) < 0) {
      dns_reply_truncate(m);
      full = true;
    }
  }
  if (found || qu->qtype != DNS_TYPE_PTR || dns_reverse_ip4(qu->name, &ip) < 0)
    return found;
  ip = htonl(ip);
  for (size_t i = 0; i < r->n; i++) {
    if (!r->e[i].primary || memcmp(r->e[i].addr, &ip, 4) != 0)
      continue;
    if (dns_reply_begin(m, q, qend, DNS_AA, DNS_NOERROR) < 0)
      return false;
    if (dns_reply_add_ptr(m, NET_DNS_TTL, r->e[i].name) < 0)
      dns_reply_truncate(m);
    return true;
  }
  return false;
}

void net_dns_decide(const struct net_dns_records *r, const uint8_t *q, size_t len, uint8_t *out,
                    size_t cap, struct net_dns_verdict *v) {
  struct dns_header h;
  struct dns_question *qu;
  struct dns_msg m = {.buf = out, .cap = cap};
  bool single;
  uint32_t ip;
  size_t qend;
  memset(v, 0, sizeof(*v));
  v->action = NET_DNS_DROP;
  /* a reply (QR) is never answered: two servers could bounce it forever */
  if (dns_header_read(q, len, &h) < 0 || (h.flags & DNS_QR))
    return;
  if ((h.flags & DNS_OPCODE_MASK) != 0)
    return reply_error(q, len, out, cap, DNS_NOTIMP, v);
  qu = malloc(sizeof(*qu));
  if (qu == NULL)
    return reply_error(q, len, out, cap, DNS_SERVFAIL, v);
  if (dns_query_parse(q, len, &h, qu, &qend) < 0) {
    free(qu);
    return reply_error(q, len, out, cap, DNS_FORMERR, v);
  }
  v->qend = qend;
  if (answer_local(r, qu, q, qend, &m)) {
    v->action = NET_DNS_REPLY;
    v->len = m.len;
    free(qu);
    return;
  }
  single = qu->labels == 1 || (qu->qtype == DNS_TYPE_PTR && dns_reverse_ip4(qu->name, &ip) == 0);
  free(qu);
  if (!(h.flags & DNS_RD)) {
    /* a peer asks (or a client that wants no recursion): local only, so
     * two servers that are each other's peers cannot loop */
    if (dns_reply_begin(&m, q, qend, 0, single ? DNS_NXDOMAIN : DNS_REFUSED) == 0) {
      v->action = NET_DNS_REPLY;
      v->len = m.len;
    }
    return;
  }
  if (dns_reply_begin(&m, q, qend, 0, single ? DNS_NXDOMAIN : DNS_SERVFAIL) < 0)
    return;
  v->action = single ? NET_DNS_ASK_PEERS : NET_DNS_FORWARD;
  v->len = m.len;
}

/* ---- the hosts file ------------------------------------------------------ */

int net_dns_read_hosts(const char *path, struct net_dns_records *r) {
  cleanup_free char *buf = NULL;
  ctr_err e = NULL;
  size_t len = 0;
  memset(r, 0, sizeof(*r));
  if (ctr_read_file(AT_FDCWD, path, HOSTS_MAX, &buf, &len, &e) < 0) {
    ctr_err_free(&e);
    return 0; /* gone or unreadable: no records */
  }
  return net_dns_records_parse(buf, len, r);
}
