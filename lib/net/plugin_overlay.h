/* ctr-net's overlay driver: one L2 segment across hosts, VXLAN over the
 * hosts' own network ("the underlay"), with no control plane. Every host
 * keeps the same peer list (its own address may be in it) and gets its
 * own slice of the subnet by a rule each host computes alone:
 *
 *   slices have the subnet's prefix + 8 (a /16 is cut into 256 /24s);
 *   a host's slice index is its underlay address modulo the number of
 *   slices (the last octet for 256 slices): 192.168.7.12 on 10.50.0.0/16
 *   has 10.50.12.0/24, gateway 10.50.12.1, its slice's first host.
 *
 * Two peers whose addresses give one index are refused at create and
 * update, so slices never collide; a peer's slice does not depend on the
 * others, so peers come and go without anyone's addresses moving.
 *
 * On a host the network is a bridge (the slice's gateway address with
 * the whole subnet's prefix: containers of every host are on-link, and
 * it is their default route) with a VXLAN device "vx-<8 hex>" as a port:
 * the network's VNI, this host's underlay address as source, UDP 4789,
 * MTU of the underlay minus 50, learning off, and one all-zeros FDB
 * entry per other peer. Containers attach exactly as on a bridge network
 * (plugin_bridge.h: this driver is that one with an address range and an
 * uplink); outbound traffic is masqueraded except toward the subnet. The
 * VXLAN device comes and goes with the bridge (first attach, last
 * detach). */
#ifndef CTR_NET_PLUGIN_OVERLAY_H
#define CTR_NET_PLUGIN_OVERLAY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/paths.h"
#include "net/cidr.h"
#include "net/plugin_bridge.h"

#define NET_OVERLAY_PREFIX_MIN 8   /* a /8 makes /16 slices */
#define NET_OVERLAY_PREFIX_MAX 20  /* a /20 makes /28 slices: 13 containers */
#define NET_OVERLAY_SLICE_BITS 8   /* 256 slices */
#define NET_OVERLAY_PEERS_MAX 256

/* The overlay's part of a network's conf (its uplink). */
struct net_overlay {
  struct net_bridge_uplink uplink; /* first: plugin_bridge calls through it */
  char vxlan[NET_IFNAMSIZ];
  uint32_t vni;
  uint32_t local;
  uint16_t port;
  struct net_cidr slice;
  uint32_t *peers; /* the list as written, local included if it is there */
  size_t npeers;
};

/* ---- the rule (pure) ---- */

/* The slice of `underlay` in subnet (prefix NET_OVERLAY_PREFIX_MIN..MAX). */
void net_overlay_slice(const struct net_cidr *subnet, uint32_t underlay,
                       struct net_cidr *out);
/* The slice's gateway: its first host. */
uint32_t net_overlay_slice_gateway(const struct net_cidr *slice);
/* Usage error naming two of peers[0..n) (local counted as a peer too)
 * that get one slice. */
int net_overlay_slices_check(const struct net_cidr *subnet,
                             const uint32_t *peers, size_t n, uint32_t local,
                             ctr_err *err);
/* "vx-" + the 8 hex digits of the network's bridge name ("ctr-<8 hex>"),
 * so taken bridge names keep VXLAN names apart too. */
void net_overlay_vxlan_name(const char *bridge, char out[NET_IFNAMSIZ]);

/* ---- the driver ---- */

/* A plugin entry of driver "overlay" into a bridge conf whose range is
 * the slice and whose uplink is the VXLAN device (struct net_overlay,
 * freed by net_bridge_conf_free). Keys, beyond the bridge driver's:
 * vxlan, vni, local, peers, port (optional, 4789), slice (checked
 * against the rule). CNI codes as net_bridge_conf_parse's. */
int net_overlay_conf_parse(const json_t *plugin, struct net_bridge_conf *out,
                           ctr_err *err);
/* The overlay of a parsed conf, NULL when it is a plain bridge. */
const struct net_overlay *net_overlay_of(const struct net_bridge_conf *conf);

/* The name servers of the overlay's other hosts, which listen on their
 * slices' gateways: one per peer but this host, into buf, pointed to by
 * peers[] (NULL-ended; at most max - 1). Returns how many. */
size_t net_overlay_peer_gateways(const struct net_bridge_conf *conf,
                                 char (*buf)[NET_IP4_STRLEN],
                                 const char **peers, size_t max);

/* Bring this host's VXLAN device in line with network `name`'s conflist
 * (after `ctr-net update`), under the network's lease lock: its FDB
 * entries become the peer list. 1 when done, 0 when the device does not
 * exist (no container attached here: nothing to do). *added and
 * *removed count the entries changed. */
int net_overlay_apply(const struct ctr_paths *p, const char *name,
                      size_t *added, size_t *removed, ctr_err *err);

#endif
