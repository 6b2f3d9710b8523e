/* IPv4 address management for ctr-net's bridge networks: CIDR arithmetic
 * (pure), and leases on disk in host-local's layout, so host-local and
 * ctr-net can share one directory:
 *
 *   DATADIR/NETWORK/lock                 flock(LOCK_EX) while changing
 *   DATADIR/NETWORK/<ip>                 a lease: "<container id>\r\n<ifname>"
 *   DATADIR/NETWORK/last_reserved_ip.0   the last address handed out
 *
 * Addresses are handed out round robin: the first free one after
 * last_reserved_ip (wrapping), skipping the network, gateway and broadcast
 * addresses, as host-local does. Leases are written durably (file and
 * directory fsynced) and appear whole (linked into place from a temp file).
 * Addresses are uint32_t in host byte order throughout. */
#ifndef CTR_NET_IPAM_H
#define CTR_NET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#include "net/cidr.h"

/* Lease picking, pure: the first assignable address after `last`
 * (wrapping around the subnet; from the start when last is outside it)
 * for which in_use() is false. 0 when the pool is exhausted. */
uint32_t net_ipam_pick(const struct net_cidr *c, uint32_t gateway,
                       uint32_t last, bool (*in_use)(uint32_t ip, void *ctx),
                       void *ctx);

/* A lease file's content: "<id>\r\n<ifname>" (host-local), "<id>\n<ifname>"
 * or just "<id>" (older host-local; *ifname is then ""). Both results are
 * malloc'd. Returns -1 for empty or binary content. */
int net_lease_parse(const char *buf, size_t len, char **id, char **ifname);
/* True when a lease of (lease_id, lease_ifname) belongs to (id, ifname). */
bool net_lease_matches(const char *lease_id, const char *lease_ifname,
                       const char *id, const char *ifname);

/* An open, locked lease directory. */
struct net_ipam {
  int dirfd;  /* DATADIR/NETWORK */
  int lockfd; /* DATADIR/NETWORK/lock, flock'ed */
};

struct net_lease {
  uint32_t ip;
  char *id;
  char *ifname;
};

/* mkdir -p DATADIR/NETWORK and take its lock (blocks). */
int net_ipam_open(const char *data_dir, const char *network,
                  struct net_ipam *out, ctr_err *err);
/* Open without creating anything: *out->dirfd is -1 (and 0 returned)
 * when the directory does not exist. */
int net_ipam_open_existing(const char *data_dir, const char *network,
                           struct net_ipam *out, ctr_err *err);
/* Drop the lock, close. Safe on a zeroed/closed struct. */
void net_ipam_close(struct net_ipam *ipam);

/* Reserve an address for (id, ifname): `want` when non-zero (it must be
 * assignable and free: NET_CNI_E_ADDR_IN_USE otherwise), else the next
 * free one (NET_CNI_E_EXHAUSTED when none). */
int net_ipam_reserve(struct net_ipam *ipam, const struct net_cidr *c,
                     uint32_t gateway, const char *id, const char *ifname,
                     uint32_t want, uint32_t *out, ctr_err *err);
/* The same in two halves, so the caller can make links while the lease
 * is written: start chooses the address (*out; the errors of choosing are
 * its own) and writes, fsyncs and links the lease on a thread; finish waits
 * for that, frees *job (NULL afterwards) and returns its result (ADDR_IN_USE
 * when a holder that does not take the lock took the address meanwhile).
 * The lease is durable once finish returns 0. finish must be called, also
 * on failure paths, before the ipam is closed; 0 at once for a NULL job. */
struct net_ipam_job;
int net_ipam_reserve_start(struct net_ipam *ipam, const struct net_cidr *c,
                           uint32_t gateway, const char *id,
                           const char *ifname, uint32_t want, uint32_t *out,
                           struct net_ipam_job **job, ctr_err *err);
int net_ipam_reserve_finish(struct net_ipam_job **job, ctr_err *err);
/* Every lease in the directory (files named by an IPv4 address), sorted
 * by address. *out is NULL when there are none. */
int net_ipam_list(struct net_ipam *ipam, struct net_lease **out, size_t *n,
                  ctr_err *err);
void net_leases_free(struct net_lease *l, size_t n);
/* The address leased to (id, ifname): 1 and *ip, 0 when none. */
int net_ipam_find(struct net_ipam *ipam, const char *id, const char *ifname,
                  uint32_t *ip, ctr_err *err);
/* Release every lease of (id, ifname); returns how many went (0 is fine). */
int net_ipam_release(struct net_ipam *ipam, const char *id,
                     const char *ifname, ctr_err *err);
/* Release one address (whoever holds it); missing is fine. */
int net_ipam_release_ip(struct net_ipam *ipam, uint32_t ip, ctr_err *err);
/* How many leases the directory holds (any holder, host-local's too). */
int net_ipam_count(struct net_ipam *ipam, ctr_err *err);

#endif
