/* VXLAN devices and their forwarding entries through libnl-route-3, for
 * the overlay driver (plugin_overlay.h): a device per network and host,
 * learning off, and one all-zeros FDB entry per peer, so broadcast, ARP
 * and frames to MACs it has not been told of go to every peer (head-end
 * replication). Addresses are IPv4 in host byte order. */
#ifndef CTR_NET_VXLAN_H
#define CTR_NET_VXLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "net/link.h"

#define NET_VXLAN_PORT 4789     /* IANA's VXLAN port */
#define NET_VXLAN_OVERHEAD 50   /* outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define NET_VXLAN_VNI_MAX 16777215u

struct net_vxlan_spec {
  const char *name;
  uint32_t vni;
  uint32_t local; /* source address of the tunnel */
  uint16_t port;  /* UDP destination port */
  unsigned mtu;
};

/* Make sure the device exists as spec says, a port of bridge `master`,
 * and up. A new device gets one FDB entry per address of peers[0..n)
 * but local. 1 made, 0 it was there (its entries left as they are: a
 * live `ctr-net update` owns them), -1 error; NET_CNI_E_CONFLICT when a
 * device of that name is not such a VXLAN device. */
int net_vxlan_ensure(struct nl_sock *sk, const struct net_vxlan_spec *spec,
                     int master, const uint32_t *peers, size_t n,
                     struct net_link_info *out, ctr_err *err);
/* 1 when the device of that name is a VXLAN device with spec's VNI,
 * local address and port, 0 and *why (a static string) when not or
 * missing. */
int net_vxlan_matches(struct nl_sock *sk, const struct net_vxlan_spec *spec,
                      struct net_link_info *out, const char **why,
                      ctr_err *err);
/* The destinations of the all-zeros FDB entries of ifindex, sorted, in
 * *dsts (malloc'd; NULL when none). */
int net_vxlan_fdb_list(struct nl_sock *sk, int ifindex, uint32_t **dsts,
                       size_t *n, ctr_err *err);
int net_vxlan_fdb_add(struct nl_sock *sk, int ifindex, uint32_t dst,
                      ctr_err *err);
/* Every FDB entry of ifindex toward dst (the all-zeros one and any
 * other); none is fine. */
int net_vxlan_fdb_del(struct nl_sock *sk, int ifindex, uint32_t dst,
                      ctr_err *err);
/* Make the all-zeros entries of ifindex exactly peers[0..n) but local:
 * missing ones added, others removed. *added and *removed (may be NULL)
 * count the changes. */
int net_vxlan_fdb_sync(struct nl_sock *sk, int ifindex, const uint32_t *peers,
                       size_t n, uint32_t local, size_t *added,
                       size_t *removed, ctr_err *err);

/* The source address this host would use toward dst (a connected UDP
 * socket's name: no packet is sent). */
int net_underlay_source(uint32_t dst, uint32_t *local, ctr_err *err);
/* The link carrying address local in sk's namespace: 1 and *out, 0 when
 * no link has it. */
int net_underlay_link(struct nl_sock *sk, uint32_t local,
                      struct net_link_info *out, ctr_err *err);

#endif
