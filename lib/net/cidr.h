/* IPv4 addresses and networks in CIDR notation: parse, format, compare,
 * hand out, find a free subnet in a pool. Pure functions over host-order
 * addresses. IPv6 is refused with a clear message, not half supported. */
#ifndef CTR_NET_CIDR_H
#define CTR_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define NET_IP4_STRLEN 16  /* "255.255.255.255" + NUL */
#define NET_CIDR_STRLEN 19 /* "255.255.255.255/32" + NUL */

struct net_cidr {
  uint32_t addr;   /* the network address (no host bits) */
  unsigned prefix; /* 0..32 */
};

/* Strict dotted quad ("10.0.0.1": four decimal parts 0..255, no leading
 * zeros, nothing else). Returns 0, or -1 when s is not one. */
int net_ip4_parse(const char *s, uint32_t *out);
void net_ip4_format(uint32_t ip, char out[NET_IP4_STRLEN]);
/* "10.88.0.0/16" into a network; -1 and a message (naming nothing: the
 * caller names the field) when malformed, IPv6, or with host bits set. */
int net_cidr_parse(const char *s, struct net_cidr *out, ctr_err *err);
uint32_t net_cidr_mask(unsigned prefix);
uint32_t net_cidr_broadcast(const struct net_cidr *c);
bool net_cidr_contains(const struct net_cidr *c, uint32_t ip);
bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b);
/* Number of addresses a container can get: hosts minus the gateway. */
uint64_t net_cidr_pool_size(const struct net_cidr *c, uint32_t gateway);
/* True for an address a container may hold: inside c, not the network,
 * broadcast or gateway address. */
bool net_cidr_assignable(const struct net_cidr *c, uint32_t gateway,
                         uint32_t ip);

void net_cidr_format(const struct net_cidr *c, char out[NET_CIDR_STRLEN]);
/* Is ip usable as a host of c: inside it, and for prefixes up to /30
 * neither its network nor its broadcast address. */
bool net_cidr_is_host(const struct net_cidr *c, uint32_t ip);
/* The first subnet of length prefix inside pool, in address order, that
 * overlaps none of used[0..n). 0 and *out set, or -1 when none is free
 * (or prefix is shorter than the pool's). */
int net_cidr_find_free(const struct net_cidr *pool, unsigned prefix,
                       const struct net_cidr *used, size_t n,
                       struct net_cidr *out);

#endif
