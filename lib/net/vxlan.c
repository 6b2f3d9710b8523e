#define _GNU_SOURCE
#include "vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <netinet/in.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "net/cni.h"
#include "net/nl_util.h"


static bool zero_mac(struct nl_addr *a) {
  static const unsigned char z[6];
  return a != NULL && nl_addr_get_len(a) == 6 &&
         memcmp(nl_addr_get_binary_addr(a), z, 6) == 0;
}

/* ---- the device ------------------------------------------------------------ */

int net_vxlan_matches(struct nl_sock *sk, const struct net_vxlan_spec *spec,
                      struct net_link_info *out, const char **why,
                      ctr_err *err) {
  cleanup_link struct rtnl_link *l = NULL;
  struct nl_addr *local = NULL;
  uint32_t vni = 0, port = 0;
  int rc = rtnl_link_get_kernel(sk, 0, spec->name, &l);
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
    *why = "missing";
    return 0;
  }
  if (rc < 0)
    return ctr_fail(err, 0, "look up link %s: %s", spec->name, nl_geterror(rc));
  if (net_link_get(sk, spec->name, out, err) <= 0)
    return ctr_fail(err, ENODEV, "link %s vanished", spec->name);
  if (!rtnl_link_is_vxlan(l)) {
    *why = "not a VXLAN device";
    return 0;
  }
  if (rtnl_link_vxlan_get_id(l, &vni) < 0 || vni != spec->vni) {
    *why = "a VXLAN device of another VNI";
    return 0;
  }
  if (rtnl_link_vxlan_get_local(l, &local) < 0 || net_nl_ip4_of(local) != spec->local) {
    if (local != NULL)
      nl_addr_put(local);
    *why = "a VXLAN device of another local address";
    return 0;
  }
  nl_addr_put(local);
  if (rtnl_link_vxlan_get_port(l, &port) < 0 || port != spec->port) {
    *why = "a VXLAN device of another UDP port";
    return 0;
  }
  return 1;
}

static int vxlan_create(struct nl_sock *sk, const struct net_vxlan_spec *spec,
                        int master, ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_vxlan_alloc();
  cleanup_nladdr struct nl_addr *local = net_nl_ip4(spec->local, 32);
  int rc;
  if (l == NULL || local == NULL)
    return ctr_fail(err, ENOMEM, "create VXLAN device %s", spec->name);
  rtnl_link_set_name(l, spec->name);
  if (rtnl_link_vxlan_set_id(l, spec->vni) < 0 ||
      rtnl_link_vxlan_set_local(l, local) < 0 ||
      rtnl_link_vxlan_set_port(l, spec->port) < 0 ||
      /* learning off: a peer taken off the list must not be learned back
       * from its own traffic; frames go where the FDB says */
      rtnl_link_vxlan_set_learning(l, 0) < 0)
    return ctr_fail(err, EINVAL, "create VXLAN device %s", spec->name);
  if (spec->mtu > 0)
    rtnl_link_set_mtu(l, spec->mtu);
  if (master > 0)
    rtnl_link_set_master(l, master);
  rc = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
  if (rc < 0)
    return ctr_fail(err, 0, "create VXLAN device %s (VNI %u): %s", spec->name,
                    spec->vni, nl_geterror(rc));
  return 0;
}

static int set_master(struct nl_sock *sk, int ifindex, int master,
                      ctr_err *err) {
  int rc = rtnl_link_enslave_ifindex(sk, master, ifindex);
  if (rc < 0)
    return ctr_fail(err, 0, "make link %d a port of %d: %s", ifindex, master,
                    nl_geterror(rc));
  return 0;
}

int net_vxlan_ensure(struct nl_sock *sk, const struct net_vxlan_spec *spec,
                     int master, const uint32_t *peers, size_t n,
                     struct net_link_info *out, ctr_err *err) {
  const char *why = NULL;
  int rc = net_vxlan_matches(sk, spec, out, &why, err), made = 0;
  if (rc < 0)
    return -1;
  if (rc == 0 && strcmp(why, "missing") != 0)
    return net_fail(err, NET_CNI_E_CONFLICT, "%s exists and is %s", spec->name,
                    why);
  if (rc == 0) {
    if (vxlan_create(sk, spec, master, err) < 0)
      return -1;
    made = 1;
    if (net_link_get(sk, spec->name, out, err) <= 0 ||
        net_vxlan_fdb_sync(sk, out->ifindex, peers, n, spec->local, NULL, NULL,
                           err) < 0) {
      ctr_err undo = NULL;
      net_link_delete(sk, spec->name, &undo);
      ctr_err_free(&undo);
      return *err ? -1 : ctr_fail(err, ENODEV, "link %s vanished", spec->name);
    }
  }
  if (out->master != master && set_master(sk, out->ifindex, master, err) < 0)
    return -1;
  out->master = master;
  if (!out->up && net_link_set_up(sk, out->ifindex, err) < 0)
    return -1;
  out->up = true;
  return made;
}

/* ---- forwarding entries ------------------------------------------------------- */

static struct rtnl_neigh *fdb_entry(int ifindex, struct nl_addr *mac,
                                    uint32_t dst) {
  struct rtnl_neigh *n = rtnl_neigh_alloc();
  cleanup_nladdr struct nl_addr *d = net_nl_ip4(dst, 32);
  if (n == NULL || d == NULL) {
    if (n != NULL)
      rtnl_neigh_put(n);
    return NULL;
  }
  /* the destination first: it checks its family against the entry's,
   * which is the bridge's, not IPv4 */
  if (rtnl_neigh_set_dst(n, d) < 0) {
    rtnl_neigh_put(n);
    return NULL;
  }
  rtnl_neigh_set_family(n, AF_BRIDGE);
  rtnl_neigh_set_ifindex(n, ifindex);
  rtnl_neigh_set_lladdr(n, mac);
  rtnl_neigh_set_state(n, NUD_PERMANENT);
  rtnl_neigh_set_flags(n, NTF_SELF);
  return n;
}

static struct nl_addr *zeros(void) {
  static const unsigned char z[6];
  return nl_addr_build(AF_LLC, z, sizeof(z));
}

int net_vxlan_fdb_add(struct nl_sock *sk, int ifindex, uint32_t dst,
                      ctr_err *err) {
  cleanup_nladdr struct nl_addr *mac = zeros();
  cleanup_neigh struct rtnl_neigh *n = mac ? fdb_entry(ifindex, mac, dst) : NULL;
  char d[NET_IP4_STRLEN];
  int rc;
  net_ip4_format(dst, d);
  if (n == NULL)
    return ctr_fail(err, ENOMEM, "add FDB entry toward %s", d);
  /* append: the all-zeros entry holds a list of remotes, one per peer */
  rc = rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_APPEND);
  if (rc < 0 && rc != -NLE_EXIST)
    return ctr_fail(err, 0, "add FDB entry toward %s: %s", d, nl_geterror(rc));
  return 0;
}

/* Each FDB entry of ifindex: its MAC (borrowed) and destination. */
typedef int (*fdb_fn)(struct rtnl_neigh *n, uint32_t dst, void *ctx,
                      ctr_err *err);

static int fdb_each(struct nl_sock *sk, int ifindex, fdb_fn fn, void *ctx,
                    ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  int rc = rtnl_neigh_alloc_cache_flags(sk, &cache, NL_CACHE_AF_ITER);
  if (rc < 0)
    return ctr_fail(err, 0, "list FDB entries: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_neigh *n = (struct rtnl_neigh *)o;
    uint32_t dst;
    if (rtnl_neigh_get_family(n) != AF_BRIDGE ||
        rtnl_neigh_get_ifindex(n) != ifindex)
      continue;
    dst = net_nl_ip4_of(rtnl_neigh_get_dst(n));
    if (dst != 0 && fn(n, dst, ctx, err) < 0)
      return -1;
  }
  return 0;
}

struct dst_list {
  uint32_t *v;
  size_t n, cap;
};

static int collect_zero(struct rtnl_neigh *n, uint32_t dst, void *ctx,
                        ctr_err *err) {
  struct dst_list *l = ctx;
  if (!zero_mac(rtnl_neigh_get_lladdr(n)))
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    uint32_t *v = realloc(l->v, cap * sizeof(*v));
    if (v == NULL)
      return ctr_fail(err, ENOMEM, "list FDB entries");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = dst;
  return 0;
}

static int by_ip(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int net_vxlan_fdb_list(struct nl_sock *sk, int ifindex, uint32_t **dsts,
                       size_t *n, ctr_err *err) {
  struct dst_list l = {0};
  *dsts = NULL;
  *n = 0;
  if (fdb_each(sk, ifindex, collect_zero, &l, err) < 0) {
    free(l.v);
    return -1;
  }
  if (l.n > 1)
    qsort(l.v, l.n, sizeof(*l.v), by_ip);
  *dsts = l.v;
  *n = l.n;
  return 0;
}

struct del_ctx {
  struct nl_sock *sk;
  uint32_t dst;
};

static int delete_toward(struct rtnl_neigh *n, uint32_t dst, void *p,
                         ctr_err *err) {
  struct del_ctx *c = p;
  cleanup_neigh struct rtnl_neigh *e = NULL;
  char d[NET_IP4_STRLEN];
  int rc;
  if (dst != c->dst)
    return 0;
  e = fdb_entry(rtnl_neigh_get_ifindex(n), rtnl_neigh_get_lladdr(n), dst);
  net_ip4_format(dst, d);
  if (e == NULL)
    return ctr_fail(err, ENOMEM, "delete FDB entry toward %s", d);
  rc = rtnl_neigh_delete(c->sk, e, 0);
  if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NOADDR)
    return ctr_fail(err, 0, "delete FDB entry toward %s: %s", d,
                    nl_geterror(rc));
  return 0;
}

int net_vxlan_fdb_del(struct nl_sock *sk, int ifindex, uint32_t dst,
                      ctr_err *err) {
  struct del_ctx c = {sk, dst};
  return fdb_each(sk, ifindex, delete_toward, &c, err);
}

static bool listed(const uint32_t *v, size_t n, uint32_t ip) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == ip)
      return true;
  return false;
}

int net_vxlan_fdb_sync(struct nl_sock *sk, int ifindex, const uint32_t *peers,
                       size_t n, uint32_t local, size_t *added,
                       size_t *removed, ctr_err *err) {
  cleanup_free uint32_t *have = NULL;
  size_t nhave = 0, nadd = 0, nrm = 0;
  if (net_vxlan_fdb_list(sk, ifindex, &have, &nhave, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (peers[i] == local || listed(have, nhave, peers[i]))
      continue;
    if (net_vxlan_fdb_add(sk, ifindex, peers[i], err) < 0)
      return -1;
    nadd++;
  }
  for (size_t i = 0; i < nhave; i++) {
    if (have[i] != local && listed(peers, n, have[i]))
      continue;
    if (net_vxlan_fdb_del(sk, ifindex, have[i], err) < 0)
      return -1;
    nrm++;
  }
  if (added != NULL)
    *added = nadd;
  if (removed != NULL)
    *removed = nrm;
  return 0;
}

/* ---- the underlay ------------------------------------------------------------- */

int net_underlay_source(uint32_t dst, uint32_t *local, ctr_err *err) {
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons(NET_VXLAN_PORT),
                           .sin_addr.s_addr = htonl(dst)};
  struct sockaddr_in me;
  socklen_t len = sizeof(me);
  char d[NET_IP4_STRLEN];
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  net_ip4_format(dst, d);
  if (fd < 0)
    return ctr_fail(err, errno, "find the route to %s", d);
  /* connect() on a datagram socket only picks the route and source */
  if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
    return ctr_fail(err, errno, "no route to peer %s", d);
  if (getsockname(fd, (struct sockaddr *)&me, &len) < 0)
    return ctr_fail(err, errno, "find the route to %s", d);
  *local = ntohl(me.sin_addr.s_addr);
  return 0;
}

int net_underlay_link(struct nl_sock *sk, uint32_t local,
                      struct net_link_info *out, ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  int rc = rtnl_addr_alloc_cache(sk, &cache);
  if (rc < 0)
    return ctr_fail(err, 0, "list addresses: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_addr *a = (struct rtnl_addr *)o;
    cleanup_link struct rtnl_link *l = NULL;
    if (rtnl_addr_get_family(a) != AF_INET ||
        net_nl_ip4_of(rtnl_addr_get_local(a)) != local)
      continue;
    rc = rtnl_link_get_kernel(sk, rtnl_addr_get_ifindex(a), NULL, &l);
    if (rc < 0)
      return ctr_fail(err, 0, "look up link %d: %s", rtnl_addr_get_ifindex(a),
                      nl_geterror(rc));
    rc = net_link_get(sk, rtnl_link_get_name(l), out, err);
    return rc < 0 ? -1 : rc;
  }
  return 0;
}
