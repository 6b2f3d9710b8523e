/* What link.c and vxlan.c share over libnl: cleanup attributes for its
 * objects, and IPv4 addresses (host order, as everywhere in lib/net)
 * to and from struct nl_addr. Header-only: each is a line or two. */
#ifndef CTR_NET_NL_UTIL_H
#define CTR_NET_NL_UTIL_H

#include <arpa/inet.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static inline void net_nl_link_putp(struct rtnl_link **l) {
  if (*l != NULL)
    rtnl_link_put(*l);
}
static inline void net_nl_addr_putp(struct nl_addr **a) {
  if (*a != NULL)
    nl_addr_put(*a);
}
static inline void net_nl_neigh_putp(struct rtnl_neigh **n) {
  if (*n != NULL)
    rtnl_neigh_put(*n);
}
static inline void net_nl_cache_freep(struct nl_cache **c) {
  if (*c != NULL)
    nl_cache_free(*c);
}
#define cleanup_link __attribute__((cleanup(net_nl_link_putp)))
#define cleanup_nladdr __attribute__((cleanup(net_nl_addr_putp)))
#define cleanup_neigh __attribute__((cleanup(net_nl_neigh_putp)))
#define cleanup_cache __attribute__((cleanup(net_nl_cache_freep)))

/* ip/prefix as an nl_addr (prefix 32 for a host); NULL when out of
 * memory. */
static inline struct nl_addr *net_nl_ip4(uint32_t ip, unsigned prefix) {
  uint32_t be = htonl(ip);
  struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));
  if (a != NULL)
    nl_addr_set_prefixlen(a, (int)prefix);
  return a;
}

/* The IPv4 address in a, 0 when a is none. */
static inline uint32_t net_nl_ip4_of(struct nl_addr *a) {
  uint32_t be;
  if (a == NULL || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != sizeof(be))
    return 0;
  memcpy(&be, nl_addr_get_binary_addr(a), sizeof(be));
  return ntohl(be);
}

#endif
