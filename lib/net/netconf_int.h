/* What the pieces of netconf.h share: netconf.c (names, parsing,
 * loading, listing), netconf_build.c (conflists written), netconf_leases.c,
 * netconf_create.c, netconf_overlay.c (an overlay's part of create, and
 * update), netconf_remove.c (remove, prune). Not for callers outside them. */
#ifndef CTR_NET_NETCONF_INT_H
#define CTR_NET_NETCONF_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/netconf.h"

#define SUFFIX ".conflist"
#define REMOVING_SUFFIX ".removing"

/* ---- netconf.c ---- */

/* s is 1..max of [a-zA-Z0-9_.-], starting with a letter or digit. */
bool netconf_word_ok(const char *s, size_t max);
/* Usage error unless 68 <= mtu <= 65535. */
int netconf_check_mtu(long mtu, ctr_err *err);
/* subnet (and gateway, default the first host) of ctr's own networks:
 * strict, prefix 8..30, gateway a host of the subnet. */
int netconf_parse_subnet_gateway(struct net_config *c, const char *subnet,
                                 const char *gateway, ctr_err *err);
/* "no such network: NAME", with errnum ENOENT for callers to test but no
 * strerror text. Returns -1. */
int netconf_no_such(ctr_err *err, const char *name);
/* netconf_no_such for a name that is no network name (no network can
 * have it); 0 for one that may be. */
int netconf_name_or_no_such(const char *name, ctr_err *err);
/* $CTR_ROOT/networks, opened without creating it; -1 with errno ENOENT
 * (and no error set) when there is none. */
int netconf_open_ro(const struct ctr_paths *p, ctr_err *err);
/* For a change to network name: networks/ opened into *dfd (no store:
 * no such network, nothing created) and networks.lock taken. The lock's
 * fd, or -1. */
int netconf_lock_network(const struct ctr_paths *p, const char *name, int *dfd,
                         ctr_err *err);
/* 0 loaded, 1 no such conflist (err untouched), -1 error. */
int netconf_load_at(int dfd, const char *name, struct net_config *out, ctr_err *err);
/* Every conflist in dfd (which may be -1: none), the default described
 * when it is not there, sorted. */
int netconf_list_at(const struct ctr_paths *p, int dfd, struct net_config **out,
                    size_t *count, ctr_err *err);

/* ---- netconf_build.c ---- */

/* json_object_set_new, -1 also when v is NULL (out of memory). */
int netconf_set_new(json_t *obj, const char *key, json_t *v);
/* ctr's own bridge driver; options is stolen. NULL: out of memory. */
json_t *netconf_conflist_bridge(const char *name, const char *bridge, const char *subnet,
                                const char *gateway, bool internal, long mtu,
                                const char *data_dir, json_t *options, const char *created);
/* An external CNI plugin with host-local addresses; options (stolen) are
 * the plugin's own keys. NULL: out of memory. */
json_t *netconf_conflist_external(const char *name, const char *type, json_t *options,
                                  long mtu, const char *subnet, const char *gateway,
                                  const char *data_dir, const char *created);
/* $CTR_ROOT/networks, malloc'd. */
char *netconf_data_dir(const struct ctr_paths *p);
/* The default network's conflist; created may be NULL. */
json_t *netconf_default_conflist(const struct ctr_paths *p, const char *created);

/* ---- netconf_leases.c ---- */

/* Leases in the lease directory ldfd. */
int netconf_leases_at(const struct ctr_paths *p, int ldfd, struct net_lease_info **out,
                      size_t *count, ctr_err *err);

/* ---- netconf_create.c ---- */

/* Write doc as networks/<name>.conflist in dfd, atomically, fsynced. */
int netconf_save_conflist(int dfd, const char *name, const json_t *doc, ctr_err *err);

/* What is known before looking at the store: driver, MTU, options,
 * the subnet and gateway as given. */
struct create_plan {
  bool builtin;
  char *plugin; /* external driver's path */
  long mtu;
  json_t *options;
  bool subnet_given;
  struct net_cidr subnet;
  uint32_t gateway;
  bool gateway_given;
  /* overlay */
  bool overlay;
  uint32_t vni, local;
  uint32_t *peers;
  size_t npeers;
};

/* ---- netconf_overlay.c ---- */

/* The overlay's options, and what this host adds: its underlay address
 * and the underlay's MTU (all checked before the store is looked at). */
int netconf_plan_overlay(const struct net_create_opts *o, struct create_plan *pl,
                         ctr_err *err);
/* A bridge conflist made an overlay's: the driver and its own keys (see
 * ctr-layout(5)). */
int netconf_overlay_keys(json_t *doc, const struct create_plan *pl, const char *bridge);
/* An overlay's bridge is named from its network and this host's
 * underlay address: the bridge's MAC derives from its name, and the
 * bridges of all hosts share one L2 segment, so their names (and MACs)
 * must differ from host to host. */
void netconf_overlay_bridge_name(const char *name, uint32_t local, unsigned salt,
                                 char out[NET_IFNAME_MAX + 1]);

#endif
