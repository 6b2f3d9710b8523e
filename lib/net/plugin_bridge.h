/* ctr-net's bridge driver: what attaching a container to a bridge network
 * does, callable directly (ctr-run, the ctr-net CLI) or through the CNI
 * protocol (cni.h). Everything runs in the caller's network namespace,
 * "the host"; the container's side is reached through its netns path.
 *
 * Attach: the bridge (created on first use, with the gateway address, a
 * fixed MAC, route_localnet), IPv4 forwarding on, a lease, a veth pair
 * "veth<8 hex>" (hash of network, container id and ifname) whose peer is
 * created inside the container's namespace under its final name, address,
 * default route, hairpin on the bridge port, and the nftables rules (see
 * nft.h). A failed attach undoes all of it.
 * Detach: the veth (host side by name: deleting it takes the peer too),
 * the container's rules, its leases; idempotent. When the network's last
 * lease goes, the bridge and the network's own rules go too (as podman's
 * netavark does), so a host without containers carries nothing of ctr's;
 * the next attach makes them again.
 * Concurrency: the network's lease lock (DATADIR/NETWORK/lock) is held
 * through attach, detach and gc, so the bridge and the network's rules
 * are never set up and torn down at once. */
#ifndef CTR_NET_PLUGIN_BRIDGE_H
#define CTR_NET_PLUGIN_BRIDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/paths.h"
#include "net/ipam.h"
#include "net/link.h"
#include "net/netconf.h"


struct nl_sock;

/* A device the network's bridge gets as a port while the bridge exists
 * (the overlay's VXLAN device, plugin_overlay.h): made right after the
 * bridge on attach, looked at by CHECK, removed just before the bridge,
 * always under the network's lease lock. Owned by the conf (free). */
struct net_bridge_uplink {
  int (*ensure)(struct net_bridge_uplink *u, struct nl_sock *host,
                int bridge_ifindex, ctr_err *err);
  /* NET_CNI_E_CHECK naming what differs */
  int (*check)(struct net_bridge_uplink *u, struct nl_sock *host,
               int bridge_ifindex, ctr_err *err);
  int (*remove)(struct net_bridge_uplink *u, struct nl_sock *host,
                ctr_err *err);
  void (*free)(struct net_bridge_uplink *u);
};

/* A network's plugin entry, validated (net_bridge_conf_parse). */
struct net_bridge_conf {
  char name[NET_NAME_MAX + 1];
  char bridge[NET_IFNAMSIZ];
  struct net_cidr subnet;
  uint32_t gateway;
  bool internal;  /* no masquerade, no forwarding off the bridge */
  unsigned mtu;   /* 1500 when not given */
  char *data_dir; /* malloc'd; $CTR_ROOT/networks when not given */
  /* where container addresses come from: the subnet itself, or for an
   * overlay this host's slice of it (the subnet stays the on-link
   * prefix and what is not masqueraded) */
  struct net_cidr range;
  struct net_bridge_uplink *uplink; /* NULL for a plain bridge */
};

/* One published port: host_port on the host's addresses (host_ip 0: all
 * of them, loopback included) to container_port in the container. */
struct net_port_mapping {
  uint16_t host_port;
  uint16_t container_port;
  int proto;        /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
  uint32_t host_ip; /* 0 for any */
};

struct net_attach_req {
  const char *id;     /* container id ([A-Za-z0-9][A-Za-z0-9_.-]*) */
  const char *netns;  /* path of its network namespace */
  const char *ifname; /* the interface inside, e.g. "eth0" */
  const struct net_port_mapping *ports;
  size_t nports;
  uint32_t ip; /* a requested address, 0 for the next free one */
  const char *mac; /* the container interface's MAC ("02:42:ac:11:00:02"),
                      NULL for the kernel's random one */
  uint16_t *bound_ports; /* NULL, or nports entries: the host port each
                            mapping got (picked when its host_port is 0) */
};

/* What attach made (the CNI result is built from it). */
struct net_attach_result {
  struct net_link_info bridge, host, container;
  uint32_t ip;
  unsigned prefix;
  uint32_t gateway;
  bool default_route; /* false: the container had one (another network's) */
};

/* An attachment GC keeps. */
struct net_attachment {
  const char *id;
  const char *ifname;
};

/* Docker's -p form, "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]"
 * (no ranges): for ctr-run and ctr-up. HOSTPORT 0 or empty, or just
 * "CONTAINERPORT[/PROTO]", leave host_port 0: attach picks a free one
 * (NET_PORT_EPHEMERAL_*). Usage error (exit 2) naming the spec otherwise. */
int net_port_parse(const char *spec, struct net_port_mapping *out,
                   ctr_err *err);
/* Where random host ports come from (Linux's ip_local_port_range). */
#define NET_PORT_EPHEMERAL_MIN 32768
#define NET_PORT_EPHEMERAL_MAX 60999
/* A host port of proto in the ephemeral range that no socket of this
 * namespace is bound to (on host_ip, 0: any), and none of avoid[0..n);
 * 0 when none was found. The reservation itself is the nftables element
 * attach adds, which fails on a collision (attach then picks again). */
uint16_t net_port_pick(int proto, uint32_t host_ip, const uint16_t *avoid,
                       size_t navoid);
/* A unicast MAC "aa:bb:cc:dd:ee:ff" (case-insensitive, not all zeros,
 * the multicast bit clear). Usage error naming it otherwise. */
int net_mac_parse(const char *s, unsigned char out[6], ctr_err *err);
/* runtimeConfig.portMappings for ports (what a runtime that execs the
 * plugin passes on stdin); NULL when out of memory. */
json_t *net_ports_json(const struct net_port_mapping *ports, size_t n);

/* Validate a plugin entry ({"type":"ctr-net","driver":"bridge",...} with
 * "name" and "cniVersion" as the runtime adds them; cniVersion is checked
 * by the CNI layer, not here). Errors name the field and carry a CNI code
 * (cni.h): 7 invalid, 2 unsupported (another driver, IPv6, options). */
int net_bridge_conf_parse(const json_t *plugin, struct net_bridge_conf *out,
                          ctr_err *err);
/* $CTR_ROOT/networks/NAME.conflist: the list's ctr-net entry, with the
 * list's name added, parsed. */
int net_bridge_conf_load(const struct ctr_paths *paths, const char *network,
                         struct net_bridge_conf *out, ctr_err *err);
void net_bridge_conf_free(struct net_bridge_conf *conf);
/* "veth" + 8 hex of sha256(network NUL id NUL ifname). */
void net_bridge_host_ifname(const char *network, const char *id,
                            const char *ifname, char out[NET_IFNAMSIZ]);
/* The tag of an attachment's nftables rules: 16 hex of the same hash. */
void net_bridge_attachment_tag(const char *network, const char *id,
                               const char *ifname, char out[17]);

int net_bridge_attach(const struct net_bridge_conf *conf,
                      const struct net_attach_req *req,
                      struct net_attach_result *out, ctr_err *err);
/* Needs no namespace: the host side goes by its derived name (and takes
 * the container's end along). Missing pieces are fine. */
int net_bridge_detach(const struct net_bridge_conf *conf, const char *id,
                      const char *ifname, ctr_err *err);
/* The attachment is as attach left it: lease, address, route, veth,
 * bridge, rules. NET_CNI_E_CHECK naming the first thing that is not.
 * want_ip/want_prefix (from a previous result) are checked when set. */
int net_bridge_check(const struct net_bridge_conf *conf,
                     const struct net_attach_req *req, uint32_t want_ip,
                     unsigned want_prefix, ctr_err *err);
/* Release what belongs to attachments not in keep[]. */
int net_bridge_gc(const struct net_bridge_conf *conf,
                  const struct net_attachment *keep, size_t nkeep,
                  ctr_err *err);
/* Ready for attach: the lease directory is usable, nftables answers, and
 * an address is free (NET_CNI_E_UNAVAILABLE otherwise). */
int net_bridge_status(const struct net_bridge_conf *conf, ctr_err *err);
/* Remove the bridge and the network's rules if no lease is left (what
 * `ctr-net rm` wants); NET_CNI_E_CONFLICT when containers remain. */
int net_bridge_teardown(const struct net_bridge_conf *conf, ctr_err *err);

#endif
