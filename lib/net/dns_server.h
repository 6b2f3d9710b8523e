/* A name server per network, started on demand (no daemon before the first
 * container), in the spirit of podman's aardvark-dns:
 *
 *   RUNDIR/networks/<network>.hosts    the records (hosts(5) lines
 *                                      "IP name alias... # <container id>",
 *                                      replaced by rename; written by
 *                                      ctr-net connect/disconnect)
 *   RUNDIR/networks/<network>.dns.pid  the server's pid; flock(LOCK_EX)
 *                                      held by the server while it runs
 *
 * The server is `ctr-net _dns --network NAME --listen IP [--peer IP]...`:
 * it answers A/AAAA/PTR for the network's names from the hosts file (re-read
 * when it changes), asks the peers (other hosts' servers of the same
 * network, with RD=0 so they never forward) for unknown single-label names,
 * forwards everything else to the host's resolv.conf upstreams, and exits
 * by itself a few seconds after the hosts file empties or disappears. */
#ifndef CTR_NET_DNS_SERVER_H
#define CTR_NET_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/paths.h"

/* Start the network's name server unless one runs: listens on listen_ip:53
 * (UDP and TCP) in the caller's network namespace; answers from
 * $CTR_RUNDIR/networks/<network>.hosts; peers (NULL-ended, may be NULL) are
 * other hosts' servers for the same network. Returns once the server
 * answers queries, or -1 with why (address in use, ...). */
int net_dns_ensure(const struct ctr_paths *p, const char *network,
                   const char *listen_ip, const char *const *peers,
                   ctr_err *err);
/* The same, with flags: NET_DNS_NO_UPSTREAM for a network that reaches
 * nothing outside (--internal): its names, its peers, and no question is
 * passed to the host's resolvers. */
#define NET_DNS_NO_UPSTREAM 0x1u
int net_dns_ensure_flags(const struct ctr_paths *p, const char *network,
                         const char *listen_ip, const char *const *peers,
                         unsigned flags, ctr_err *err);
/* Stop it if its hosts file has no records left (or is gone). */
void net_dns_stop_if_idle(const struct ctr_paths *p, const char *network);

/* What `ctr-net _dns` runs. */
struct net_dns_opts {
  const char *network;
  const char *listen_ip;            /* IPv4; port 53, UDP and TCP */
  const char *const *peers;         /* NULL-ended, may be NULL */
  const char *const *upstreams;     /* NULL: the host's /etc/resolv.conf */
  int ready_fd;                     /* -1, or where "ok\n", "busy\n" or the
                                       error line goes once bound */
};

/* The server itself, in the calling process: runs until idle or SIGTERM.
 * Returns 0 also when another server already holds the network's pid
 * lock. */
int net_dns_serve(const struct ctr_paths *p, const struct net_dns_opts *o,
                  ctr_err *err);

/* ---- pure parts, for the server and its tests ---- */

#define NET_DNS_TTL 2 /* seconds: names follow containers quickly */

/* A hosts file's names: every name of a line is an entry. */
struct net_dns_entry {
  const char *name;  /* points into net_dns_records.text */
  uint8_t addr[4];   /* IPv4, network order */
  bool primary;      /* the line's first name: what PTR answers */
};
struct net_dns_records {
  char *text;
  struct net_dns_entry *e;
  size_t n;
};

/* Parse hosts(5) text: "IPv4 name [alias...] [# comment]" lines; IPv6
 * lines, bad addresses and names that are not host names are skipped.
 * -1 only when out of memory. */
int net_dns_records_parse(const char *buf, size_t len,
                          struct net_dns_records *out);
void net_dns_records_free(struct net_dns_records *r);

enum net_dns_action {
  NET_DNS_DROP,      /* not a query: say nothing */
  NET_DNS_REPLY,     /* send out[0..len) */
  NET_DNS_ASK_PEERS, /* unknown single-label or reverse name: ask the
                        peers, then the upstreams; out is the reply when
                        nobody knows */
  NET_DNS_FORWARD,   /* ask the upstreams; out is the reply when none
                        answers */
};
struct net_dns_verdict {
  enum net_dns_action action;
  size_t len;  /* of the reply in out */
  size_t qend; /* end of the query's question: what is sent to peers */
};
/* Decide what the server does with the message q[0..len) given the
 * records: answers names and aliases (A; no data for other types), PTR
 * for their addresses, FORMERR/NOTIMP for what it cannot parse; never
 * forwards a query that came with RD clear. out must hold cap >=
 * DNS_UDP_MAX bytes. */
void net_dns_decide(const struct net_dns_records *r, const uint8_t *q,
                    size_t len, uint8_t *out, size_t cap,
                    struct net_dns_verdict *v);

#endif
