/* Attaching a container in its network's driver, and detaching it: ctr's
 * own bridge and overlay in-process, anything else through the CNI
 * protocol (cniexec.h); the attachment record made of the result. */
#define _GNU_SOURCE
#include "net/attach_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "net/cni.h"
#include "net/cniexec.h"
#include "net/link.h"

/* ---- drivers --------------------------------------------------------------------- */

static const char *proto_name(int proto) {
  return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "tcp";
}

static json_t *ports_record(const struct net_port_mapping *ports, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < n; i++) {
    char h[NET_IP4_STRLEN] = "";
    if (ports[i].host_ip != 0)
      net_ip4_format(ports[i].host_ip, h);
    json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s}", "hostIP", h, "hostPort",
                                       ports[i].host_port, "containerPort",
                                       ports[i].container_port, "protocol",
                                       proto_name(ports[i].proto)));
  }
  return a;
}

/* What connect asked for, parsed. */
static json_t *record_new(const struct plan *pl, const struct net_config *cfg,
                          const char *ip, unsigned prefix, const char *gw,
                          const char *mac) {
  json_t *aliases = json_array();
  for (size_t i = 0; aliases != NULL && i < pl->o->naliases; i++)
    json_array_append_new(aliases, json_string(pl->o->aliases[i]));
  return json_pack("{s:s, s:s, s:s?, s:i, s:s?, s:s?, s:o, s:o, s:s}", "network",
                   cfg->name, "ifname", pl->ifname, "ip", ip, "prefix", (int)prefix,
                   "gateway", gw, "mac", mac && mac[0] ? mac : NULL, "aliases", aliases,
                   "ports", ports_record(pl->ports, pl->nports), "driver", cfg->driver);
}

int attach_bridge(const struct ctr_paths *p, const struct plan *pl,
                  const struct net_config *cfg, json_t **rec, ctr_err *err) {
  cleanup_bridge_conf struct net_bridge_conf bc = {0};
  cleanup_free uint16_t *bound = calloc(pl->nports + 1, sizeof(uint16_t));
  struct net_attach_req req = {
      .id = pl->id, .netns = pl->netns, .ifname = pl->ifname, .ports = pl->ports,
      .nports = pl->nports, .ip = pl->ip, .mac = pl->o->mac, .bound_ports = bound};
  struct net_attach_result r;
  char ip[NET_IP4_STRLEN], gw[NET_IP4_STRLEN];
  if (bound == NULL)
    return ctr_fail(err, ENOMEM, "connect");
  if (net_bridge_conf_load(p, cfg->name, &bc, err) < 0 ||
      net_bridge_attach(&bc, &req, &r, err) < 0)
    return -1;
  for (size_t i = 0; i < pl->nports; i++)
    pl->ports[i].host_port = bound[i];
  net_ip4_format(r.ip, ip);
  net_ip4_format(r.gateway, gw);
  *rec = record_new(pl, cfg, ip, r.prefix, gw, r.container.mac);
  if (*rec == NULL) {
    ctr_err e = NULL;
    net_bridge_detach(&bc, pl->id, pl->ifname, &e);
    ctr_err_free(&e);
    return ctr_fail(err, ENOMEM, "connect");
  }
  return 0;
}

/* The capability arguments and CNI_ARGS of an external attach. */
static json_t *capability_args(const struct plan *pl, const struct net_config *cfg) {
  json_t *caps = json_object();
  if (caps == NULL)
    return NULL;
  if (pl->nports > 0)
    json_object_set_new(caps, "portMappings", net_ports_json(pl->ports, pl->nports));
  if (pl->o->mac != NULL)
    json_object_set_new(caps, "mac", json_string(pl->o->mac));
  if (pl->ip != 0) {
    char a[NET_CIDR_STRLEN];
    net_ip4_format(pl->ip, a);
    snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u",
             cfg->has_subnet ? cfg->subnet.prefix : 32);
    json_object_set_new(caps, "ips", json_pack("[s]", a));
  }
  return caps;
}

/* The record's fields from a CNI result: its first IPv4 address, and the
 * MAC of the interface it is on. */
static json_t *record_from_result(const struct plan *pl, const struct net_config *cfg,
                                  const json_t *res) {
  const json_t *ipj, *ifs = json_object_get(res, "interfaces");
  size_t i;
  json_array_foreach(json_object_get(res, "ips"), i, ipj) {
    const char *a = ctr_json_str(ipj, "address");
    const json_t *idx = json_object_get(ipj, "interface");
    const char *slash = a ? strchr(a, '/') : NULL;
    const char *mac = NULL;
    char ip[NET_IP4_STRLEN];
    uint32_t v;
    if (slash == NULL || slash - a >= NET_IP4_STRLEN)
      continue;
    snprintf(ip, sizeof(ip), "%.*s", (int)(slash - a), a);
    if (net_ip4_parse(ip, &v) < 0)
      continue;
    if (json_is_integer(idx))
      mac = ctr_json_str(json_array_get(ifs, (size_t)json_integer_value(idx)), "mac");
    return record_new(pl, cfg, ip, (unsigned)atoi(slash + 1),
                      ctr_json_str(ipj, "gateway"), mac);
  }
  return record_new(pl, cfg, NULL, 0, NULL, NULL);
}

int attach_external(const struct ctr_paths *p, const struct plan *pl,
                    const struct net_config *cfg, json_t **rec, ctr_err *err) {
  cleanup_json json_t *caps = NULL;
  cleanup_json json_t *res = NULL;
  char args[128] = "";
  struct net_cniexec x = {.conflist = cfg->conflist, .container_id = pl->id,
                          .netns = pl->netns, .ifname = pl->ifname};
  ctr_err e = NULL;
  for (size_t i = 0; i < pl->nports; i++)
    if (pl->ports[i].host_port == 0) {
      uint16_t used[64];
      size_t n = 0;
      for (size_t k = 0; k < pl->nports && n < 64; k++)
        if (pl->ports[k].host_port != 0)
          used[n++] = pl->ports[k].host_port;
      pl->ports[i].host_port =
          net_port_pick(pl->ports[i].proto, pl->ports[i].host_ip, used, n);
      if (pl->ports[i].host_port == 0)
        return ctr_fail(err, 0, "no free host port in %d-%d", NET_PORT_EPHEMERAL_MIN,
                        NET_PORT_EPHEMERAL_MAX);
    }
  if (pl->ip != 0 || pl->o->mac != NULL) {
    /* for plugins that read CNI_ARGS rather than runtimeConfig */
    char ip[NET_IP4_STRLEN];
    net_ip4_format(pl->ip, ip);
    snprintf(args, sizeof(args), "IgnoreUnknown=1%s%s%s%s", pl->ip ? ";IP=" : "",
             pl->ip ? ip : "", pl->o->mac ? ";MAC=" : "", pl->o->mac ? pl->o->mac : "");
    x.args = args;
  }
  caps = capability_args(pl, cfg);
  x.capabilities = caps;
  if (caps == NULL)
    return ctr_fail(err, ENOMEM, "connect");
  if (net_cniexec_add(&x, &res, err) < 0)
    return -1;
  *rec = record_from_result(pl, cfg, res);
  if (*rec == NULL || net_cniexec_cache_save(p, cfg->name, &x, res, err) < 0) {
    if (*rec == NULL)
      ctr_fail(err, ENOMEM, "connect");
    json_decref(*rec);
    *rec = NULL;
    net_cniexec_del(&x, res, &e);
    ctr_err_free(&e);
    return -1;
  }
  return 0;
}

int attach_detach_record(const struct ctr_paths *p, const char *id, const json_t *rec,
                         ctr_err *err) {
  const char *network = ctr_json_str(rec, "network"), *ifname = ctr_json_str(rec, "ifname");
  cleanup_netconf struct net_config cfg = {0};
  ctr_err e = NULL;
  bool have = false;
  if (network == NULL || ifname == NULL)
    return 0; /* not ours to undo */
  if (net_config_load(p, network, &cfg, &e) == 0)
    have = true;
  else
    ctr_err_free(&e);
  if (have && cfg.builtin) {
    cleanup_bridge_conf struct net_bridge_conf bc = {0};
    if (!cfg.on_disk)
      return 0;
    if (net_bridge_conf_load(p, network, &bc, err) < 0 ||
        net_bridge_detach(&bc, id, ifname, err) < 0)
      return -1;
    return 0;
  }
  if (!have && strcmp(ctr_json_str(rec, "driver") ? ctr_json_str(rec, "driver") : "",
                      "bridge") == 0) {
    struct nl_sock *sk = NULL;
    char host_if[NET_IFNAMSIZ];
    int rc = net_nl_open_in(-1, &sk, err);
    net_bridge_host_ifname(network, id, ifname, host_if);
    if (rc == 0)
      rc = net_link_delete(sk, host_if, err) < 0 ? -1 : 0;
    net_nl_close(sk);
    return rc;
  }
  {
    cleanup_json json_t *entry = NULL;
    cleanup_json json_t *list = NULL;
    int found = net_cniexec_cache_load(p, network, id, ifname, &entry, err);
    struct net_cniexec x = {.container_id = id, .ifname = ifname};
    if (found < 0)
      return -1;
    if (!have && found == 0)
      return 0; /* neither the network nor what it did is known */
    list = have ? json_incref(cfg.conflist) : net_cniexec_cache_conflist(entry);
    if (list == NULL)
      return ctr_fail(err, 0, "network %s: its configuration is gone", network);
    x.conflist = list;
    x.netns = ctr_json_str(entry, "netns");
    x.capabilities = json_object_get(entry, "capabilityArgs");
    if (net_cniexec_del(&x, json_object_get(entry, "result"), err) < 0)
      return -1;
    net_cniexec_cache_remove(p, network, id, ifname);
  }
  return 0;
}
