/* What the name server's pieces share: dns_records.c (the hosts file and
 * the answers), dns_server.c (the server loop), dns_spawn.c (starting and
 * stopping it, its pid file). Not for callers outside them: theirs is
 * dns_server.h. */
#ifndef CTR_NET_DNS_SERVER_INT_H
#define CTR_NET_DNS_SERVER_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "net/dns_server.h"

#define DNS_PORT 53
#define MAX_PEERS 16
#define READY_TIMEOUT_MS 5000

static inline uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A peer's, an upstream's or a client's address. */
struct dns_addr {
  struct sockaddr_storage sa;
  socklen_t len;
};
/* s, IPv4 or IPv6, at port 53; -1 when it is no address. */
int dns_addr_parse(const char *s, struct dns_addr *a);

/* The network's records from the hosts file at path: none when it is gone
 * or unreadable; -1 only when out of memory. */
int net_dns_read_hosts(const char *path, struct net_dns_records *r);

/* RUNDIR/networks/<network><suffix>, malloc'd into *out. */
int net_dns_path(const struct ctr_paths *p, const char *network, const char *suffix,
                 char **out, ctr_err *err);
/* flock(LOCK_EX|LOCK_NB) the pid file, making sure the file locked is the
 * one at the path (a stopping server unlinks it). 1 and *fd when locked,
 * 0 when another process holds it, -1 on error. */
int net_dns_pidfile_lock(const char *path, int *fd, ctr_err *err);
/* "PID\nLISTEN\nPEER\n...": what the server serves, so that ensure can
 * tell a server started with other peers (the overlay's list changed).
 * malloc'd; NULL when out of memory. */
char *net_dns_pidfile_text(pid_t pid, const char *listen_ip, const char *const *peers);

#endif
