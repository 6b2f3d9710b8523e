/* IPv4 addresses and networks: pure arithmetic over host-order
 * addresses, for network definitions (netconf.c) and address leases
 * (ipam.c) alike. */
#define _GNU_SOURCE
#include "cidr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/cni.h"

int net_ip4_parse(const char *s, uint32_t *out) {
  uint32_t ip = 0;
  for (int part = 0; part < 4; part++) {
    unsigned v = 0;
    int digits = 0;
    if (part > 0 && *s++ != '.')
      return -1;
    if (s[0] == '0' && isdigit((unsigned char)s[1]))
      return -1; /* no leading zeros: "010" is octal to some readers */
    while (isdigit((unsigned char)*s)) {
      v = v * 10 + (unsigned)(*s++ - '0');
      if (++digits > 3 || v > 255)
        return -1;
    }
    if (digits == 0)
      return -1;
    ip = ip << 8 | v;
  }
  if (*s != '\0')
    return -1;
  *out = ip;
  return 0;
}

void net_ip4_format(uint32_t ip, char out[NET_IP4_STRLEN]) {
  snprintf(out, NET_IP4_STRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
           (ip >> 8) & 255, ip & 255);
}

uint32_t net_cidr_mask(unsigned prefix) {
  return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

uint32_t net_cidr_broadcast(const struct net_cidr *c) {
  return c->addr | ~net_cidr_mask(c->prefix);
}

bool net_cidr_contains(const struct net_cidr *c, uint32_t ip) {
  return (ip & net_cidr_mask(c->prefix)) == c->addr;
}

bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b) {
  unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
  return ((a->addr ^ b->addr) & net_cidr_mask(p)) == 0;
}

static int bad_cidr(const char *s, ctr_err *err) {
  return ctr_fail(err, 0, "'%.64s' is not an IPv4 network in CIDR form (e.g. 10.89.5.0/24)", s);
}

int net_cidr_parse(const char *s, struct net_cidr *out, ctr_err *err) {
  const char *slash = strchr(s, '/');
  char ip[NET_IP4_STRLEN];
  char *end;
  unsigned long prefix;
  uint32_t addr;
  if (slash == NULL)
    return bad_cidr(s, err);
  if (strchr(s, ':') != NULL)
    return net_fail(err, NET_CNI_E_FIELD, "'%s': IPv6 is not yet supported",
                    s);
  if ((size_t)(slash - s) >= sizeof(ip))
    return bad_cidr(s, err);
  memcpy(ip, s, (size_t)(slash - s));
  ip[slash - s] = '\0';
  if (net_ip4_parse(ip, &addr) < 0)
    return bad_cidr(s, err);
  errno = 0;
  if (!isdigit((unsigned char)slash[1]) || (slash[1] == '0' && slash[2]))
    return bad_cidr(s, err);
  prefix = strtoul(slash + 1, &end, 10);
  if (errno != 0 || *end != '\0' || prefix > 32)
    return bad_cidr(s, err);
  if ((addr & ~net_cidr_mask((unsigned)prefix)) != 0) {
    char net[NET_IP4_STRLEN];
    net_ip4_format(addr & net_cidr_mask((unsigned)prefix), net);
    return ctr_fail(err, 0, "'%s' has host bits set (the network is %s/%lu)",
                    s, net, prefix);
  }
  out->addr = addr;
  out->prefix = (unsigned)prefix;
  return 0;
}

bool net_cidr_assignable(const struct net_cidr *c, uint32_t gateway,
                         uint32_t ip) {
  return net_cidr_contains(c, ip) && ip != c->addr &&
         ip != net_cidr_broadcast(c) && ip != gateway;
}

uint64_t net_cidr_pool_size(const struct net_cidr *c, uint32_t gateway) {
  uint64_t hosts = c->prefix >= 31 ? 0 : (1ull << (32 - c->prefix)) - 2;
  if (hosts > 0 && net_cidr_assignable(c, 0, gateway) && gateway != 0)
    hosts--;
  return hosts;
}

void net_cidr_format(const struct net_cidr *c, char out[NET_CIDR_STRLEN]) {
  unsigned p = c->prefix > 32 ? 32 : c->prefix;
  size_t n;
  net_ip4_format(c->addr, out);
  n = strlen(out);
  out[n++] = '/';
  if (p >= 10)
    out[n++] = (char)('0' + p / 10);
  out[n++] = (char)('0' + p % 10);
  out[n] = '\0';
}

bool net_cidr_is_host(const struct net_cidr *c, uint32_t ip) {
  if (!net_cidr_contains(c, ip))
    return false;
  if (c->prefix <= 30 && (ip == c->addr || ip == net_cidr_broadcast(c)))
    return false;
  return true;
}

int net_cidr_find_free(const struct net_cidr *pool, unsigned prefix,
                       const struct net_cidr *used, size_t n,
                       struct net_cidr *out) {
  uint64_t size, cand, end;
  if (prefix < pool->prefix || prefix > 32)
    return -1;
  size = (uint64_t)1 << (32 - prefix);
  end = (uint64_t)net_cidr_broadcast(pool) + 1;
  for (cand = pool->addr; cand + size <= end;) {
    struct net_cidr c = {(uint32_t)cand, prefix};
    uint64_t next = cand + size;
    bool clash = false;
    for (size_t i = 0; i < n; i++) {
      if (!net_cidr_overlaps(&c, &used[i]))
        continue;
      clash = true;
      /* skip past the whole of what is in the way, staying aligned */
      if ((uint64_t)net_cidr_broadcast(&used[i]) + 1 > next)
        next = (uint64_t)net_cidr_broadcast(&used[i]) + 1;
    }
    if (!clash) {
      *out = c;
      return 0;
    }
    next = (next + size - 1) / size * size;
    cand = next;
  }
  return -1;
}
