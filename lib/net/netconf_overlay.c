/* An overlay's part of its network definition: what `create` checks
 * and adds for the driver, and `update`, which changes the peer list. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "net/link.h"
#include "net/plugin_overlay.h"
#include "net/vxlan.h"

/* ---- peer lists ------------------------------------------------------------------------ */

static int parse_peer_args(const char *flag, const char *const *v, size_t n, uint32_t *out,
                           ctr_err *err) {
  for (size_t i = 0; i < n; i++) {
    if (net_ip4_parse(v[i], &out[i]) < 0)
      return ctr_usage(err, "invalid %s '%.64s': want an IPv4 address", flag, v[i]);
    for (size_t k = 0; k < i; k++)
      if (out[k] == out[i])
        return ctr_usage(err, "%s %s is given twice", flag, v[i]);
  }
  return 0;
}

static ssize_t peer_index(const uint32_t *v, size_t n, uint32_t ip) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == ip)
      return (ssize_t)i;
  return -1;
}

/* The JSON array of an overlay's peers. */
static json_t *peers_json(const uint32_t *peers, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < n; i++) {
    char ip[NET_IP4_STRLEN];
    net_ip4_format(peers[i], ip);
    if (json_array_append_new(a, json_string(ip)) < 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* ---- create -------------------------------------------------------------------------------- */

int netconf_plan_overlay(const struct net_create_opts *o, struct create_plan *pl,
                         ctr_err *err) {
  struct nl_sock *sk = NULL;
  struct net_link_info link;
  struct net_cidr slice;
  char a[NET_IP4_STRLEN];
  int rc;
  if (!o->vni_set)
    return ctr_usage(err, "--driver overlay needs --vni N (1 to %u), the same on every host",
                     NET_VXLAN_VNI_MAX);
  if (o->vni < 1 || o->vni > (long)NET_VXLAN_VNI_MAX)
    return ctr_usage(err, "invalid --vni %ld: want 1 to %u", o->vni, NET_VXLAN_VNI_MAX);
  pl->vni = (uint32_t)o->vni;
  if (o->npeers == 0)
    return ctr_usage(err, "--driver overlay needs --peer ADDR (every host's underlay "
                          "address; repeat it)");
  if (o->npeers > NET_OVERLAY_PEERS_MAX)
    return ctr_usage(err, "too many peers: at most %d", NET_OVERLAY_PEERS_MAX);
  if (!pl->subnet_given)
    return ctr_usage(err, "--driver overlay needs --subnet (the same on every host)");
  if (pl->gateway_given)
    return ctr_usage(err, "--gateway: an overlay's gateway on each host is its slice's "
                          "first address");
  if (pl->subnet.prefix < NET_OVERLAY_PREFIX_MIN || pl->subnet.prefix > NET_OVERLAY_PREFIX_MAX)
    return ctr_usage(err, "invalid subnet for an overlay: the prefix length must be %d to %d "
                          "(each host gets a /prefix+%d)",
                     NET_OVERLAY_PREFIX_MIN, NET_OVERLAY_PREFIX_MAX, NET_OVERLAY_SLICE_BITS);
  pl->peers = calloc(o->npeers, sizeof(*pl->peers));
  if (pl->peers == NULL)
    return ctr_fail(err, ENOMEM, "create network");
  if (parse_peer_args("--peer", o->peers, o->npeers, pl->peers, err) < 0)
    return -1;
  pl->npeers = o->npeers;
  if (o->local != NULL && net_ip4_parse(o->local, &pl->local) < 0)
    return ctr_usage(err, "invalid --local '%.64s': want an IPv4 address", o->local);
  if (o->local == NULL && net_underlay_source(pl->peers[0], &pl->local, err) < 0)
    return ctr_wrap(err, "find this host's underlay address (give --local)");
  if (net_overlay_slices_check(&pl->subnet, pl->peers, pl->npeers, pl->local, err) < 0)
    return -1;
  net_ip4_format(pl->local, a);
  if (net_nl_open_in(-1, &sk, err) < 0)
    return -1;
  rc = net_underlay_link(sk, pl->local, &link, err);
  net_nl_close(sk);
  if (rc < 0)
    return -1;
  if (rc == 0)
    return ctr_usage(err, "--local %s is not an address of this host", a);
  if (!o->mtu_set)
    pl->mtu = (long)link.mtu - NET_VXLAN_OVERHEAD;
  if (pl->mtu < 68)
    return ctr_fail(err, 0, "the underlay %s has MTU %u: too small for VXLAN", link.name,
                    link.mtu);
  net_overlay_slice(&pl->subnet, pl->local, &slice);
  pl->gateway = net_overlay_slice_gateway(&slice);
  return 0;
}

int netconf_overlay_keys(json_t *doc, const struct create_plan *pl, const char *bridge) {
  json_t *entry = json_array_get(json_object_get(doc, "plugins"), 0);
  char vxlan[NET_IFNAMSIZ], local[NET_IP4_STRLEN], slice[NET_CIDR_STRLEN];
  struct net_cidr s;
  net_overlay_vxlan_name(bridge, vxlan);
  net_ip4_format(pl->local, local);
  net_overlay_slice(&pl->subnet, pl->local, &s);
  net_cidr_format(&s, slice);
  if (entry == NULL || netconf_set_new(entry, "driver", json_string("overlay")) < 0 ||
      netconf_set_new(entry, "vxlan", json_string(vxlan)) < 0 ||
      netconf_set_new(entry, "vni", json_integer(pl->vni)) < 0 ||
      netconf_set_new(entry, "port", json_integer(NET_VXLAN_PORT)) < 0 ||
      netconf_set_new(entry, "local", json_string(local)) < 0 ||
      netconf_set_new(entry, "peers", peers_json(pl->peers, pl->npeers)) < 0 ||
      netconf_set_new(entry, "slice", json_string(slice)) < 0)
    return -1;
  return 0;
}

void netconf_overlay_bridge_name(const char *name, uint32_t local, unsigned salt,
                                 char out[NET_IFNAME_MAX + 1]) {
  char host[NET_IP4_STRLEN + 16];
  net_ip4_format(local, host);
  snprintf(host + strlen(host), sizeof(host) - strlen(host), "/%u", salt);
  snprintf(out, NET_IFNAME_MAX + 1, "ctr-%08x",
           (unsigned)(net_name_hash("overlay", name, host) >> 32));
}

/* ---- updating an overlay's peers ------------------------------------------------------------ */

/* The new peer list: c's with rm taken off and add appended. */
static int new_peers(const struct net_config *c, const uint32_t *add, size_t nadd,
                     const uint32_t *rm, size_t nrm, uint32_t **out, size_t *nout,
                     ctr_err *err) {
  const json_t *old = json_object_get(json_array_get(json_object_get(c->conflist, "plugins"),
                                                     0), "peers"), *e;
  uint32_t *v = calloc(json_array_size(old) + nadd + 1, sizeof(*v));
  size_t n = 0, i;
  char ip[NET_IP4_STRLEN];
  if (v == NULL)
    return ctr_fail(err, ENOMEM, "update");
  *out = v;
  json_array_foreach(old, i, e) if (net_ip4_parse(json_string_value(e), &v[n]) == 0) n++;
  for (i = 0; i < nrm; i++) {
    ssize_t at = peer_index(v, n, rm[i]);
    net_ip4_format(rm[i], ip);
    if (at < 0)
      return ctr_fail(err, 0, "%s is not a peer of network %s", ip, c->name);
    memmove(&v[at], &v[at + 1], (n - (size_t)at - 1) * sizeof(*v));
    n--;
  }
  for (i = 0; i < nadd; i++) {
    net_ip4_format(add[i], ip);
    if (peer_index(v, n, add[i]) >= 0)
      return ctr_fail(err, 0, "%s is already a peer of network %s", ip, c->name);
    v[n++] = add[i];
  }
  if (n == 0)
    return ctr_usage(err, "that would leave network %s without peers (remove it instead)",
                     c->name);
  if (n > NET_OVERLAY_PEERS_MAX)
    return ctr_usage(err, "too many peers: at most %d", NET_OVERLAY_PEERS_MAX);
  *nout = n;
  return net_overlay_slices_check(&c->subnet, v, n, c->local, err);
}

int net_update(const struct ctr_paths *p, const char *name, const char *const *add, size_t nadd,
               const char *const *rm, size_t nrm, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  cleanup_free uint32_t *adds = calloc(nadd + 1, sizeof(uint32_t));
  cleanup_free uint32_t *rms = calloc(nrm + 1, sizeof(uint32_t));
  cleanup_free uint32_t *peers = NULL;
  cleanup_json json_t *doc = NULL;
  struct net_config c = {0};
  size_t n = 0;
  int r, ret = -1;
  if (adds == NULL || rms == NULL)
    return ctr_fail(err, ENOMEM, "update");
  if (parse_peer_args("--peer-add", add, nadd, adds, err) < 0 ||
      parse_peer_args("--peer-rm", rm, nrm, rms, err) < 0)
    return -1;
  for (size_t i = 0; i < nadd; i++)
    if (peer_index(rms, nrm, adds[i]) >= 0)
      return ctr_usage(err, "%s is both added and removed", add[i]);
  lock = netconf_lock_network(p, name, &dfd, err);
  if (lock < 0)
    return -1;
  if (netconf_name_or_no_such(name, err) < 0)
    return -1;
  r = netconf_load_at(dfd, name, &c, err);
  if (r != 0)
    return r < 0 ? -1 : netconf_no_such(err, name);
  if (c.vni == 0) {
    ctr_fail(err, 0, "network %s is a %s network: only an overlay has peers", name, c.driver);
    goto out;
  }
  if (nadd + nrm == 0) {
    ret = 0; /* nothing to write; the caller re-applies the list */
    goto out;
  }
  if (new_peers(&c, adds, nadd, rms, nrm, &peers, &n, err) < 0)
    goto out;
  doc = json_deep_copy(c.conflist);
  if (doc == NULL ||
      json_object_set_new(json_array_get(json_object_get(doc, "plugins"), 0), "peers",
                          peers_json(peers, n)) < 0) {
    ctr_fail(err, ENOMEM, "update");
    goto out;
  }
  ret = netconf_save_conflist(dfd, name, doc, err);
out:
  net_config_free(&c);
  return ret;
}

