#define _GNU_SOURCE
#include "plugin_overlay.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "net/cni.h"
#include "net/ipam.h"
#include "net/link.h"
#include "net/vxlan.h"

/* ---- the rule ------------------------------------------------------------------ */

void net_overlay_slice(const struct net_cidr *subnet, uint32_t underlay,
                       struct net_cidr *out) {
  unsigned prefix = subnet->prefix + NET_OVERLAY_SLICE_BITS;
  uint32_t index = underlay & ((1u << NET_OVERLAY_SLICE_BITS) - 1);
  out->prefix = prefix;
  out->addr = subnet->addr | (index << (32 - prefix));
}

uint32_t net_overlay_slice_gateway(const struct net_cidr *slice) {
  return slice->addr + 1;
}

int net_overlay_slices_check(const struct net_cidr *subnet,
                             const uint32_t *peers, size_t n, uint32_t local,
                             ctr_err *err) {
  for (size_t i = 0; i <= n; i++) {
    uint32_t a = i < n ? peers[i] : local;
    struct net_cidr sa, sb;
    net_overlay_slice(subnet, a, &sa);
    for (size_t j = 0; j < i; j++) {
      char x[NET_IP4_STRLEN], y[NET_IP4_STRLEN], s[NET_CIDR_STRLEN];
      if (peers[j] == a)
        continue;
      net_overlay_slice(subnet, peers[j], &sb);
      if (sb.addr != sa.addr)
        continue;
      net_ip4_format(peers[j], x);
      net_ip4_format(a, y);
      net_cidr_format(&sa, s);
      return ctr_usage(err,
                       "peers %s and %s would share slice %s (a host's slice "
                       "is its address modulo %u: their last octets must "
                       "differ)",
                       x, y, s, 1u << NET_OVERLAY_SLICE_BITS);
    }
  }
  return 0;
}

void net_overlay_vxlan_name(const char *bridge, char out[NET_IFNAMSIZ]) {
  const char *hex = strncmp(bridge, "ctr-", 4) == 0 ? bridge + 4 : bridge;
  snprintf(out, NET_IFNAMSIZ, "vx-%.8s", hex);
}

/* ---- the uplink ------------------------------------------------------------------ */

struct overlay_impl {
  struct net_overlay pub; /* first */
  unsigned mtu;
};

static void spec_of(const struct overlay_impl *o, struct net_vxlan_spec *s) {
  s->name = o->pub.vxlan;
  s->vni = o->pub.vni;
  s->local = o->pub.local;
  s->port = o->pub.port;
  s->mtu = o->mtu;
}

static int uplink_ensure(struct net_bridge_uplink *u, struct nl_sock *host,
                         int bridge_ifindex, ctr_err *err) {
  struct overlay_impl *o = (struct overlay_impl *)u;
  struct net_vxlan_spec spec;
  struct net_link_info info;
  spec_of(o, &spec);
  if (net_vxlan_ensure(host, &spec, bridge_ifindex, o->pub.peers,
                       o->pub.npeers, &info, err) < 0)
    return ctr_wrap(err, "overlay");
  return 0;
}

static int uplink_check(struct net_bridge_uplink *u, struct nl_sock *host,
                        int bridge_ifindex, ctr_err *err) {
  struct overlay_impl *o = (struct overlay_impl *)u;
  struct net_vxlan_spec spec;
  struct net_link_info info;
  cleanup_free uint32_t *have = NULL;
  size_t nhave = 0;
  const char *why = NULL;
  int rc;
  spec_of(o, &spec);
  rc = net_vxlan_matches(host, &spec, &info, &why, err);
  if (rc <= 0)
    return rc < 0 ? -1
                  : net_fail(err, NET_CNI_E_CHECK, "VXLAN device %s is %s",
                             spec.name, why);
  if (info.master != bridge_ifindex || !info.up)
    return net_fail(err, NET_CNI_E_CHECK,
                    "VXLAN device %s is not an up port of the bridge",
                    spec.name);
  if (net_vxlan_fdb_list(host, info.ifindex, &have, &nhave, err) < 0)
    return -1;
  for (size_t i = 0; i < o->pub.npeers; i++) {
    bool found = o->pub.peers[i] == o->pub.local;
    char p[NET_IP4_STRLEN];
    for (size_t k = 0; k < nhave && !found; k++)
      found = have[k] == o->pub.peers[i];
    net_ip4_format(o->pub.peers[i], p);
    if (!found)
      return net_fail(err, NET_CNI_E_CHECK,
                      "VXLAN device %s has no FDB entry toward peer %s",
                      spec.name, p);
  }
  return 0;
}

static int uplink_remove(struct net_bridge_uplink *u, struct nl_sock *host,
                         ctr_err *err) {
  struct overlay_impl *o = (struct overlay_impl *)u;
  struct net_vxlan_spec spec;
  struct net_link_info info;
  const char *why = NULL;
  int rc;
  spec_of(o, &spec);
  /* only our own device: a link of that name that is something else
   * belongs to someone else */
  rc = net_vxlan_matches(host, &spec, &info, &why, err);
  if (rc <= 0)
    return rc;
  return net_link_delete(host, spec.name, err) < 0 ? -1 : 0;
}

static void uplink_free(struct net_bridge_uplink *u) {
  struct overlay_impl *o = (struct overlay_impl *)u;
  free(o->pub.peers);
  free(o);
}

/* ---- parsing --------------------------------------------------------------------- */

static int bad(ctr_err *err, const char *field, const char *why) {
  return net_fail(err, NET_CNI_E_CONFIG, "network configuration: %s: %s",
                  field, why);
}

static bool ifname_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n >= NET_IFNAMSIZ)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
      return false;
  return true;
}

static int ip_field(const json_t *v, const char *field, uint32_t *out,
                    ctr_err *err) {
  if (v == NULL)
    return bad(err, field, "missing");
  if (!json_is_string(v) || net_ip4_parse(json_string_value(v), out) < 0)
    return bad(err, field, "not an IPv4 address");
  return 0;
}

static int parse_peers(const json_t *v, struct net_overlay *ov, ctr_err *err) {
  const json_t *e;
  size_t i;
  if (v == NULL)
    return bad(err, "peers", "missing");
  if (!json_is_array(v) || json_array_size(v) == 0 ||
      json_array_size(v) > NET_OVERLAY_PEERS_MAX)
    return bad(err, "peers", "want an array of 1 to 256 IPv4 addresses");
  ov->peers = calloc(json_array_size(v), sizeof(*ov->peers));
  if (ov->peers == NULL)
    return ctr_fail(err, ENOMEM, "network configuration");
  json_array_foreach(v, i, e) {
    char field[32];
    snprintf(field, sizeof(field), "peers[%zu]", i);
    if (ip_field(e, field, &ov->peers[i], err) < 0)
      return -1;
    for (size_t k = 0; k < i; k++)
      if (ov->peers[k] == ov->peers[i])
        return bad(err, field, "listed twice");
    ov->npeers++;
  }
  return 0;
}

static int parse_overlay(const json_t *p, struct overlay_impl *o,
                         const struct net_bridge_conf *br, ctr_err *err) {
  struct net_overlay *ov = &o->pub;
  const json_t *v = json_object_get(p, "vxlan");
  char want[NET_CIDR_STRLEN];
  if (!json_is_string(v) || !ifname_ok(json_string_value(v)))
    return bad(err, "vxlan",
               v ? "want a device name of 1-15 letters, digits, '_', '.', '-'"
                 : "missing");
  snprintf(ov->vxlan, sizeof(ov->vxlan), "%s", json_string_value(v));
  v = json_object_get(p, "vni");
  if (!json_is_integer(v) || json_integer_value(v) < 1 ||
      json_integer_value(v) > NET_VXLAN_VNI_MAX)
    return bad(err, "vni", v ? "want an integer from 1 to 16777215" : "missing");
  ov->vni = (uint32_t)json_integer_value(v);
  v = json_object_get(p, "port");
  ov->port = NET_VXLAN_PORT;
  if (v != NULL) {
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > 65535)
      return bad(err, "port", "want an integer from 1 to 65535");
    ov->port = (uint16_t)json_integer_value(v);
  }
  if (ip_field(json_object_get(p, "local"), "local", &ov->local, err) < 0 ||
      parse_peers(json_object_get(p, "peers"), ov, err) < 0)
    return -1;
  if (br->subnet.prefix < NET_OVERLAY_PREFIX_MIN ||
      br->subnet.prefix > NET_OVERLAY_PREFIX_MAX)
    return bad(err, "subnet", "an overlay's prefix must be /8 to /20");
  net_overlay_slice(&br->subnet, ov->local, &ov->slice);
  net_cidr_format(&ov->slice, want);
  v = json_object_get(p, "slice");
  if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), want) != 0))
    return net_fail(err, NET_CNI_E_CONFIG,
                    "network configuration: slice: local address gives %s", want);
  if (net_overlay_slices_check(&br->subnet, ov->peers, ov->npeers, ov->local,
                               err) < 0) {
    (*err)->errnum = -NET_CNI_E_CONFIG;
    return ctr_wrap(err, "network configuration: peers");
  }
  o->mtu = br->mtu;
  return 0;
}

int net_overlay_conf_parse(const json_t *plugin, struct net_bridge_conf *out,
                           ctr_err *err) {
  static const char *const own[] = {"driver", "vxlan", "vni",   "local",
                                    "peers",  "port",  "slice", NULL};
  cleanup_json json_t *common = json_deep_copy(plugin);
  struct overlay_impl *o;
  bool gateway_given = json_object_get(plugin, "gateway") != NULL;
  memset(out, 0, sizeof(*out));
  if (common == NULL)
    return ctr_fail(err, ENOMEM, "network configuration");
  /* the bridge driver's keys are read by the bridge driver */
  for (const char *const *k = own; *k; k++)
    json_object_del(common, *k);
  if (net_bridge_conf_parse(common, out, err) < 0)
    return -1;
  o = calloc(1, sizeof(*o));
  if (o == NULL) {
    net_bridge_conf_free(out);
    return ctr_fail(err, ENOMEM, "network configuration");
  }
  o->pub.uplink = (struct net_bridge_uplink){uplink_ensure, uplink_check,
                                             uplink_remove, uplink_free};
  out->uplink = &o->pub.uplink;
  if (parse_overlay(plugin, o, out, err) < 0) {
    net_bridge_conf_free(out);
    return -1;
  }
  if (!gateway_given)
    out->gateway = net_overlay_slice_gateway(&o->pub.slice);
  if (!net_cidr_is_host(&o->pub.slice, out->gateway) ||
      !net_cidr_contains(&o->pub.slice, out->gateway)) {
    net_bridge_conf_free(out);
    return bad(err, "gateway", "not a host address of this host's slice");
  }
  out->range = o->pub.slice;
  return 0;
}

const struct net_overlay *net_overlay_of(const struct net_bridge_conf *conf) {
  if (conf->uplink == NULL || conf->uplink->ensure != uplink_ensure)
    return NULL;
  return (const struct net_overlay *)conf->uplink;
}

size_t net_overlay_peer_gateways(const struct net_bridge_conf *conf,
                                 char (*buf)[NET_IP4_STRLEN],
                                 const char **peers, size_t max) {
  const struct net_overlay *o = net_overlay_of(conf);
  size_t n = 0;
  for (size_t i = 0; o != NULL && i < o->npeers && n + 1 < max; i++) {
    struct net_cidr slice;
    if (o->peers[i] == o->local)
      continue;
    net_overlay_slice(&conf->subnet, o->peers[i], &slice);
    net_ip4_format(net_overlay_slice_gateway(&slice), buf[n]);
    peers[n] = buf[n];
    n++;
  }
  if (max > 0)
    peers[n] = NULL;
  return n;
}

/* ---- update ------------------------------------------------------------------------ */

static void nl_closep(struct nl_sock **sk) { net_nl_close(*sk); }
static void ipam_closep(struct net_ipam *i) { net_ipam_close(i); }
static void conf_freep(struct net_bridge_conf *c) { net_bridge_conf_free(c); }

int net_overlay_apply(const struct ctr_paths *p, const char *name,
                      size_t *added, size_t *removed, ctr_err *err) {
  __attribute__((cleanup(conf_freep))) struct net_bridge_conf conf = {0};
  __attribute__((cleanup(ipam_closep))) struct net_ipam ipam = {-1, -1};
  __attribute__((cleanup(nl_closep))) struct nl_sock *host = NULL;
  const struct net_overlay *ov;
  struct overlay_impl *o;
  struct net_vxlan_spec spec;
  struct net_link_info info;
  const char *why = NULL;
  int rc;
  *added = *removed = 0;
  if (net_bridge_conf_load(p, name, &conf, err) < 0)
    return -1;
  ov = net_overlay_of(&conf);
  if (ov == NULL)
    return ctr_fail(err, 0, "network %s is not an overlay", name);
  o = (struct overlay_impl *)conf.uplink;
  /* the lease lock orders us with attaches and detaches, which make and
   * remove the device; no lease directory: nothing was ever attached */
  if (net_ipam_open_existing(conf.data_dir, name, &ipam, err) < 0)
    return -1;
  if (ipam.dirfd < 0)
    return 0;
  if (net_nl_open_in(-1, &host, err) < 0)
    return -1;
  spec_of(o, &spec);
  rc = net_vxlan_matches(host, &spec, &info, &why, err);
  if (rc <= 0)
    return rc; /* no container here: the next attach reads the new list */
  if (net_vxlan_fdb_sync(host, info.ifindex, ov->peers, ov->npeers, ov->local,
                         added, removed, err) < 0)
    return -1;
  return 1;
}
