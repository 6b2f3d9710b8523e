#define _GNU_SOURCE
#include "plugin_bridge.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <sys/socket.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "net/cni.h"
#include "net/nft.h"
#include "net/plugin_overlay.h"

static void nl_closep(struct nl_sock **sk) { net_nl_close(*sk); }
static void ipam_closep(struct net_ipam *i) { net_ipam_close(i); }
#define cleanup_nl __attribute__((cleanup(nl_closep)))
#define cleanup_ipam __attribute__((cleanup(ipam_closep)))

/* ---- configuration --------------------------------------------------------- */

/* Bridge names go into nft rules and /proc/sys paths: a conservative set. */
static bool bridge_name_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n >= NET_IFNAMSIZ || strcmp(s, ".") == 0 ||
      strcmp(s, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
      return false;
  return true;
}

static int bad(ctr_err *err, const char *field, const char *why) {
  return net_fail(err, NET_CNI_E_CONFIG, "network configuration: %s: %s",
                  field, why);
}

static int parse_subnet(const json_t *p, struct net_bridge_conf *out,
                        ctr_err *err) {
  const json_t *v = json_object_get(p, "subnet");
  if (v == NULL)
    return bad(err, "subnet", "missing");
  if (!json_is_string(v))
    return bad(err, "subnet", "not a string");
  if (net_cidr_parse(json_string_value(v), &out->subnet, err) < 0) {
    int code = net_cni_code(*err);
    if (code == NET_CNI_E_FAILED)
      code = NET_CNI_E_CONFIG;
    ctr_wrap(err, "network configuration: subnet");
    (*err)->errnum = -code;
    return -1;
  }
  if (out->subnet.prefix < 1 || out->subnet.prefix > 30)
    return bad(err, "subnet",
               "the prefix must be /1 to /30 (a /31 or /32 leaves no "
               "address for a container)");
  return 0;
}

static int parse_gateway(const json_t *p, struct net_bridge_conf *out,
                         ctr_err *err) {
  const json_t *v = json_object_get(p, "gateway");
  char net[NET_IP4_STRLEN];
  if (v == NULL) {
    out->gateway = out->subnet.addr + 1;
    return 0;
  }
  if (!json_is_string(v) || net_ip4_parse(json_string_value(v), &out->gateway) < 0)
    return bad(err, "gateway", "not an IPv4 address");
  net_ip4_format(out->subnet.addr, net);
  if (!net_cidr_assignable(&out->subnet, 0, out->gateway))
    return net_fail(err, NET_CNI_E_CONFIG,
                    "network configuration: gateway: %s is not a host address "
                    "of %s/%u",
                    json_string_value(v), net, out->subnet.prefix);
  return 0;
}

static int parse_data_dir(const json_t *p, struct net_bridge_conf *out,
                          ctr_err *err) {
  const json_t *v = json_object_get(p, "dataDir");
  struct ctr_paths paths;
  if (v != NULL) {
    const char *s = json_string_value(v);
    if (s == NULL || s[0] != '/' || strlen(s) >= PATH_MAX - NET_NAME_MAX - 32)
      return bad(err, "dataDir", "not an absolute path");
    out->data_dir = strdup(s);
  } else {
    if (ctr_paths_init(&paths, NULL, NULL, err) < 0)
      return -1;
    if (asprintf(&out->data_dir, "%s/networks", paths.root) < 0)
      out->data_dir = NULL;
    ctr_paths_free(&paths);
  }
  if (out->data_dir == NULL)
    return ctr_fail(err, ENOMEM, "network configuration");
  return 0;
}

int net_bridge_conf_parse(const json_t *p, struct net_bridge_conf *out,
                          ctr_err *err) {
  const char *name = ctr_json_str(p, "name"), *type = ctr_json_str(p, "type");
  const json_t *driver = json_object_get(p, "driver"), *v;
  const char *k;
  memset(out, 0, sizeof(*out));
  if (!json_is_object(p))
    return bad(err, "plugin", "not a JSON object");
  if (!net_name_valid(name))
    return bad(err, "name",
               name ? "want letters, digits, '_', '.', '-' (at most 64), "
                      "starting with a letter or digit"
                    : "missing");
  snprintf(out->name, sizeof(out->name), "%s", name);
  if (type == NULL || strcmp(type, "ctr-net") != 0)
    return bad(err, "type", "must be \"ctr-net\"");
  if (driver != NULL && !json_is_string(driver))
    return bad(err, "driver", "not a string");
  /* the overlay driver is this one with a slice and a VXLAN uplink */
  if (driver != NULL && strcmp(json_string_value(driver), "overlay") == 0)
    return net_overlay_conf_parse(p, out, err);
  if (driver != NULL && strcmp(json_string_value(driver), "bridge") != 0)
    return net_fail(err, NET_CNI_E_FIELD,
                    "network configuration: driver \"%.32s\" is %s (only "
                    "\"bridge\" is, for now)",
                    json_string_value(driver),
                    strcmp(json_string_value(driver), "overlay") == 0
                        ? "not yet supported"
                        : "unknown");
  v = json_object_get(p, "bridge");
  if (v == NULL)
    return bad(err, "bridge", "missing");
  if (!bridge_name_valid(json_string_value(v)))
    return bad(err, "bridge",
               "want a device name of 1-15 letters, digits, '_', '.', '-'");
  snprintf(out->bridge, sizeof(out->bridge), "%s", json_string_value(v));
  if (parse_subnet(p, out, err) < 0 || parse_gateway(p, out, err) < 0)
    return -1;
  out->range = out->subnet;
  v = json_object_get(p, "internal");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, "internal", "not true or false");
  out->internal = json_is_true(v);
  v = json_object_get(p, "mtu");
  out->mtu = 1500;
  if (v != NULL) {
    if (!json_is_integer(v) || json_integer_value(v) < 68 ||
        json_integer_value(v) > 65535)
      return bad(err, "mtu", "want an integer from 68 to 65535");
    out->mtu = (unsigned)json_integer_value(v);
  }
  v = json_object_get(p, "capabilities");
  if (v != NULL && !json_is_object(v))
    return bad(err, "capabilities", "not an object");
  v = json_object_get(p, "options");
  if (v != NULL && !json_is_object(v))
    return bad(err, "options", "not an object");
  json_object_foreach((json_t *)v, k, driver) {
    cleanup_free char *val = json_dumps(driver, JSON_ENCODE_ANY | JSON_COMPACT);
    return net_fail(err, NET_CNI_E_FIELD,
                    "network configuration: options.%.64s=%.64s: not supported "
                    "by the bridge driver",
                    k, val ? val : "?");
  }
  if (json_object_get(p, "ipam") != NULL)
    return net_fail(err, NET_CNI_E_FIELD,
                    "network configuration: ipam: not supported (ctr-net "
                    "hands out addresses itself, from subnet and gateway)");
  return parse_data_dir(p, out, err);
}

void net_bridge_conf_free(struct net_bridge_conf *conf) {
  free(conf->data_dir);
  conf->data_dir = NULL;
  if (conf->uplink != NULL)
    conf->uplink->free(conf->uplink);
  conf->uplink = NULL;
}

int net_bridge_conf_load(const struct ctr_paths *paths, const char *network,
                         struct net_bridge_conf *out, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_json json_t *list = NULL;
  const json_t *plugins, *p;
  size_t i;
  memset(out, 0, sizeof(*out));
  if (!net_name_valid(network))
    return net_fail(err, NET_CNI_E_CONFIG, "'%s' is not a network name",
                    network);
  if (asprintf(&path, "%s/networks/%s.conflist", paths->root, network) < 0)
    return ctr_fail(err, ENOMEM, "network %s", network);
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &list, err) < 0) {
    if ((*err)->errnum == ENOENT)
      return net_fail(err, NET_CNI_E_CONFIG, "network %s does not exist",
                      network);
    return ctr_wrap(err, "network %s", network);
  }
  plugins = json_object_get(list, "plugins");
  json_array_foreach(plugins, i, p) {
    cleanup_json json_t *entry = NULL;
    const char *type = ctr_json_str(p, "type");
    if (type == NULL || strcmp(type, "ctr-net") != 0)
      continue;
    entry = json_deep_copy(p);
    if (entry == NULL)
      return ctr_fail(err, ENOMEM, "network %s", network);
    json_object_set(entry, "name", json_object_get(list, "name"));
    if (net_bridge_conf_parse(entry, out, err) < 0)
      return ctr_wrap(err, "%s", path);
    return 0;
  }
  return net_fail(err, NET_CNI_E_CONFIG, "%s: no plugin of type ctr-net",
                  path);
}

static int port_number(const char *s, size_t len, uint16_t *out) {
  unsigned long v = 0;
  if (len == 0 || len > 5)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v < 1 || v > 65535)
    return -1;
  *out = (uint16_t)v;
  return 0;
}

int net_port_parse(const char *spec, struct net_port_mapping *out,
                   ctr_err *err) {
  const char *slash = strchr(spec, '/'), *end, *colon, *ports = spec, *cport;
  char host[NET_IP4_STRLEN];
  memset(out, 0, sizeof(*out));
  out->proto = IPPROTO_TCP;
  if (slash != NULL) {
    if (strcmp(slash + 1, "tcp") == 0)
      out->proto = IPPROTO_TCP;
    else if (strcmp(slash + 1, "udp") == 0)
      out->proto = IPPROTO_UDP;
    else if (strcmp(slash + 1, "sctp") == 0)
      out->proto = IPPROTO_SCTP;
    else
      return ctr_usage(err, "port '%s': the protocol is tcp, udp or sctp",
                       spec);
  }
  end = slash ? slash : spec + strlen(spec);
  if (spec[0] == '[')
    return ctr_usage(err, "port '%s': IPv6 host addresses are not yet "
                          "supported", spec);
  /* HOSTIP:HOSTPORT:CONTAINERPORT or HOSTPORT:CONTAINERPORT */
  colon = memchr(spec, ':', (size_t)(end - spec));
  if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
    if ((size_t)(colon - spec) >= sizeof(host))
      return ctr_usage(err, "port '%s': bad host address", spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] != '\0' && strcmp(host, "0.0.0.0") != 0 &&
        net_ip4_parse(host, &out->host_ip) < 0)
      return ctr_usage(err, "port '%s': '%s' is not an IPv4 address", spec,
                       host);
    ports = colon + 1;
    colon = memchr(ports, ':', (size_t)(end - ports));
  }
  /* "CONTAINERPORT" alone, an empty HOSTPORT or 0: a host port is picked */
  cport = colon ? colon + 1 : ports;
  if (colon != NULL && !(colon - ports == 1 && ports[0] == '0') &&
      colon != ports &&
      port_number(ports, (size_t)(colon - ports), &out->host_port) < 0)
    cport = NULL;
  if (cport == NULL ||
      port_number(cport, (size_t)(end - cport), &out->container_port) < 0)
    return ctr_usage(err, "port '%s': want [[HOSTIP:]HOSTPORT:]CONTAINERPORT"
                          "[/PROTO], ports from 1 to 65535 (HOSTPORT 0: any)",
                     spec);
  return 0;
}

/* Whether a socket of proto could bind host_ip:port now. */
static bool port_bindable(int proto, uint32_t host_ip, uint16_t port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                           .sin_addr.s_addr = htonl(host_ip)};
  int type = proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, proto);
  bool ok;
  if (fd < 0) /* no SCTP in this kernel: nothing can be bound to it */
    return true;
  ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}

uint16_t net_port_pick(int proto, uint32_t host_ip, const uint16_t *avoid,
                       size_t navoid) {
  unsigned span = NET_PORT_EPHEMERAL_MAX - NET_PORT_EPHEMERAL_MIN + 1;
  unsigned start, r = 0;
  cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
    r = (unsigned)getpid() ^ (unsigned)time(NULL);
  start = r % span;
  /* a random start spreads concurrent pickers; then a walk finds a free
   * one even on a crowded host */
  for (unsigned i = 0; i < span; i++) {
    uint16_t port = (uint16_t)(NET_PORT_EPHEMERAL_MIN + (start + i) % span);
    bool taken = false;
    for (size_t k = 0; k < navoid && !taken; k++)
      taken = avoid[k] == port;
    if (!taken && port_bindable(proto, host_ip, port))
      return port;
  }
  return 0;
}

int net_mac_parse(const char *s, unsigned char out[6], ctr_err *err) {
  unsigned v[6];
  char tail;
  if (s == NULL || strlen(s) != 17 ||
      sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
             &v[4], &v[5], &tail) != 6)
    return ctr_usage(err, "invalid MAC address '%.32s': want "
                          "aa:bb:cc:dd:ee:ff", s ? s : "");
  for (int i = 0; i < 6; i++) {
    if (!isxdigit((unsigned char)s[3 * i]) ||
        !isxdigit((unsigned char)s[3 * i + 1]) || (i < 5 && s[3 * i + 2] != ':'))
      return ctr_usage(err, "invalid MAC address '%.32s': want "
                            "aa:bb:cc:dd:ee:ff", s);
    out[i] = (unsigned char)v[i];
  }
  if (out[0] & 1)
    return ctr_usage(err, "invalid MAC address '%s': a multicast address "
                          "(the first octet is odd)", s);
  if ((out[0] | out[1] | out[2] | out[3] | out[4] | out[5]) == 0)
    return ctr_usage(err, "invalid MAC address '%s': all zeros", s);
  return 0;
}

json_t *net_ports_json(const struct net_port_mapping *ports, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < n; i++) {
    char h[NET_IP4_STRLEN] = "";
    const char *proto = ports[i].proto == IPPROTO_UDP    ? "udp"
                        : ports[i].proto == IPPROTO_SCTP ? "sctp"
                                                         : "tcp";
    if (ports[i].host_ip != 0)
      net_ip4_format(ports[i].host_ip, h);
    if (json_array_append_new(
            a, json_pack("{s:i, s:i, s:s, s:s}", "hostPort",
                         ports[i].host_port, "containerPort",
                         ports[i].container_port, "protocol", proto, "hostIP",
                         h)) < 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

void net_bridge_host_ifname(const char *network, const char *id,
                            const char *ifname, char out[NET_IFNAMSIZ]) {
  uint64_t h = net_name_hash(network, id, ifname);
  snprintf(out, NET_IFNAMSIZ, "veth%08x", (unsigned)(h >> 32));
}

void net_bridge_attachment_tag(const char *network, const char *id,
                               const char *ifname, char out[17]) {
  uint64_t h = net_name_hash(network, id, ifname);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The host side's alias when an attachment publishes no port: DEL then
 * knows, from the link it looks up anyway, that there are no rules of it
 * to remove, without asking nftables (that costs more than the rest of a
 * detach). Without it (or when the link is gone) the rules are looked for. */
static void no_ports_alias(const char *tag, char out[48]) {
  snprintf(out, 48, "ctr-net a=%s ports=0", tag);
}

/* ---- the network's shared parts ------------------------------------------------- */

/* Bridge and the network's rules, once no lease is left; lock held. */
static int teardown_locked(const struct net_bridge_conf *conf,
                           struct nl_sock *host, ctr_err *err) {
  struct net_link_info br;
  int rc = net_link_get(host, conf->bridge, &br, err);
  if (rc < 0)
    return -1;
  if (conf->uplink != NULL && conf->uplink->remove(conf->uplink, host, err) < 0)
    return -1;
  if (rc == 1 && strcmp(br.kind, "bridge") == 0 &&
      net_link_delete_unlisted(host, conf->bridge, err) < 0)
    return -1;
  return net_nft_remove(conf, NULL, err);
}

static int teardown_if_unused(const struct net_bridge_conf *conf,
                              struct net_ipam *ipam, struct nl_sock *host,
                              ctr_err *err) {
  int n = net_ipam_count(ipam, err);
  if (n < 0)
    return -1;
  return n == 0 ? teardown_locked(conf, host, err) : 0;
}

static int host_sysctls(const struct net_bridge_conf *conf, ctr_err *err) {
  char path[128];
  if (conf->internal)
    return 0; /* nothing is forwarded off an internal network */
  if (net_sysctl_enable("/proc/sys/net/ipv4/ip_forward", err) < 0)
    return -1;
  /* published ports on 127.0.0.1: DNAT sends loopback-sourced packets out
   * of the bridge (masqueraded there; the input rule keeps containers from
   * using it the other way) */
  snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet",
           conf->bridge);
  return net_sysctl_enable(path, err);
}

/* ---- attach ------------------------------------------------------------------------ */

static int open_netns(const char *path, int code, ctr_err *err) {
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (path == NULL)
    return net_fail(err, code, "CNI_NETNS is not set");
  if (fd < 0)
    return net_fail(err, code, "CNI_NETNS %s: %s", path, strerror(errno));
  if (!net_fd_is_netns(fd)) {
    close(fd);
    return net_fail(err, code, "CNI_NETNS %s is not a network namespace",
                    path);
  }
  return fd;
}

/* Set while the link is still down: a MAC set before the first packet
 * is the only one the neighbours ever see. */
static int set_mac(struct nl_sock *sk, int ifindex, const char *text,
                   ctr_err *err) {
  unsigned char mac[6];
  struct rtnl_link *l;
  struct nl_addr *a;
  int rc;
  if (net_mac_parse(text, mac, err) < 0)
    return -1;
  l = rtnl_link_alloc();
  a = nl_addr_build(AF_LLC, mac, sizeof(mac));
  if (l == NULL || a == NULL) {
    if (l != NULL)
      rtnl_link_put(l);
    if (a != NULL)
      nl_addr_put(a);
    return ctr_fail(err, ENOMEM, "set MAC address");
  }
  rtnl_link_set_ifindex(l, ifindex);
  rtnl_link_set_addr(l, a);
  rc = rtnl_link_change(sk, l, l, 0);
  rtnl_link_put(l);
  nl_addr_put(a);
  if (rc < 0)
    return ctr_fail(err, 0, "set MAC address %s: %s", text, nl_geterror(rc));
  return 0;
}

/* The ports' DNAT rules and reservations. Host ports asked as 0 are
 * picked; a concurrent attach may take the same one between the pick and
 * the transaction, which then fails as a whole: pick again. */
static int publish_ports(const struct net_bridge_conf *conf,
                         const struct net_attach_req *req, const char *tag,
                         uint32_t ip, ctr_err *err) {
  cleanup_free struct net_port_mapping *p = NULL;
  size_t nrandom = 0;
  if (req->nports == 0)
    return net_nft_attach(conf, tag, ip, req->ports, 0, err);
  p = calloc(req->nports, sizeof(*p));
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "publish ports");
  for (size_t i = 0; i < req->nports; i++)
    nrandom += req->ports[i].host_port == 0;
  for (int tries = 0;; tries++) {
    cleanup_free uint16_t *used = calloc(req->nports, sizeof(*used));
    if (used == NULL)
      return ctr_fail(err, ENOMEM, "publish ports");
    for (size_t i = 0; i < req->nports; i++) {
      p[i] = req->ports[i];
      if (p[i].host_port == 0) {
        p[i].host_port = net_port_pick(p[i].proto, p[i].host_ip, used, i);
        if (p[i].host_port == 0)
          return net_fail(err, NET_CNI_E_PORT_IN_USE,
                          "no free host port in %d-%d",
                          NET_PORT_EPHEMERAL_MIN, NET_PORT_EPHEMERAL_MAX);
      }
      used[i] = p[i].host_port;
    }
    if (net_nft_attach(conf, tag, ip, p, req->nports, err) == 0)
      break;
    if (nrandom == 0 || net_cni_code(*err) != NET_CNI_E_PORT_IN_USE ||
        tries >= 16)
      return -1;
    ctr_err_free(err);
  }
  for (size_t i = 0; req->bound_ports != NULL && i < req->nports; i++)
    req->bound_ports[i] = p[i].host_port;
  return 0;
}

struct attach_state {
  bool leased, veth;
  uint32_t ip;
  char host_if[NET_IFNAMSIZ];
  struct net_ipam_job *lease; /* the lease, while it is being written */
};

static int attach_locked(const struct net_bridge_conf *conf,
                         const struct net_attach_req *req, struct net_ipam *ipam,
                         struct nl_sock *host, struct nl_sock *ctn, int nsfd,
                         struct attach_state *st, struct net_attach_result *out,
                         ctr_err *err) {
  char tag[17], alias[48] = "";
  bool created;
  int rc;
  /* attached already: its host side, named from (network, id, ifname),
   * exists (a look-up, where scanning the leases would read them all) */
  net_bridge_host_ifname(conf->name, req->id, req->ifname, st->host_if);
  rc = net_link_get(host, st->host_if, &out->host, err);
  if (rc != 0)
    return rc < 0 ? -1
                  : net_fail(err, NET_CNI_E_EXISTS,
                             "container %s is already attached to network %s "
                             "as %s (host side %s)",
                             req->id, conf->name, req->ifname, st->host_if);
  rc = net_link_get(ctn, req->ifname, &out->container, err);
  if (rc != 0)
    return rc < 0 ? ctr_wrap(err, "container namespace")
                  : net_fail(err, NET_CNI_E_EXISTS,
                             "CNI_IFNAME %s already exists in %s",
                             req->ifname, req->netns);
  /* the address now; its lease is written and fsynced on a thread while
   * the links are made, and durable before the rules go in */
  if (net_ipam_reserve_start(ipam, &conf->range, conf->gateway, req->id,
                             req->ifname, req->ip, &st->ip, &st->lease,
                             err) < 0)
    return -1;
  st->leased = true;
  /* the bridge: a new one must not overlap what the host has. The
   * network's rules go in first and out last (teardown_locked), so a
   * bridge never exists without them, even after a crash; an existing
   * bridge means they are there. */
  rc = net_link_get(host, conf->bridge, &out->bridge, err);
  if (rc < 0 || (rc == 0 && (net_check_overlap(host, &conf->subnet, 0, err) < 0 ||
                             net_nft_network_ensure(conf, err) < 0)))
    return -1;
  if (net_bridge_ensure(host, conf->bridge, conf->gateway, conf->subnet.prefix,
                        conf->mtu, &out->bridge, &created, err) < 0 ||
      host_sysctls(conf, err) < 0)
    return -1;
  if (conf->uplink != NULL &&
      conf->uplink->ensure(conf->uplink, host, out->bridge.ifindex, err) < 0)
    return -1;
  if (net_veth_create(host, st->host_if, req->ifname, conf->mtu,
                      out->bridge.ifindex, nsfd, err) < 0) {
    if ((*err)->errnum == EEXIST)
      return net_fail(err, NET_CNI_E_EXISTS,
                      "host interface %s already exists (left by an earlier "
                      "attach of %s? detach it first)",
                      st->host_if, req->id);
    return -1;
  }
  st->veth = true;
  if (net_link_get(host, st->host_if, &out->host, err) <= 0 ||
      net_link_get(ctn, req->ifname, &out->container, err) <= 0)
    return ctr_fail(err, ENODEV, "veth %s vanished", st->host_if);
  if (req->mac != NULL &&
      (set_mac(ctn, out->container.ifindex, req->mac, err) < 0 ||
       net_link_get(ctn, req->ifname, &out->container, err) <= 0))
    return ctr_wrap(err, "set up %s", req->ifname);
  if (req->nports == 0 || conf->internal) {
    net_bridge_attachment_tag(conf->name, req->id, req->ifname, tag);
    no_ports_alias(tag, alias);
  }
  if (net_link_set_hairpin(host, out->host.ifindex, err) < 0 ||
      net_link_set_up_alias(host, out->host.ifindex, alias[0] ? alias : NULL,
                            err) < 0 ||
      net_addr_add(ctn, out->container.ifindex, st->ip, conf->subnet.prefix,
                   err) < 0 ||
      net_link_set_up(ctn, out->container.ifindex, err) < 0)
    return ctr_wrap(err, "set up %s", req->ifname);
  /* the first network a container joins gives its default route (as
   * docker does); a later one finds it there and leaves it */
  rc = net_route_default_add(ctn, out->container.ifindex, conf->gateway, err);
  if (rc < 0)
    return ctr_wrap(err, "set up %s", req->ifname);
  out->default_route = rc == 0;
  if (net_ipam_reserve_finish(&st->lease, err) < 0) {
    st->leased = false; /* nothing of it is left, or it is not ours */
    return -1;
  }
  net_bridge_attachment_tag(conf->name, req->id, req->ifname, tag);
  if (publish_ports(conf, req, tag, st->ip, err) < 0)
    return -1;
  out->host.up = out->container.up = true;
  out->ip = st->ip;
  out->prefix = conf->subnet.prefix;
  out->gateway = conf->gateway;
  return 0;
}

int net_bridge_attach(const struct net_bridge_conf *conf,
                      const struct net_attach_req *req,
                      struct net_attach_result *out, ctr_err *err) {
  cleanup_close int nsfd = open_netns(req->netns, NET_CNI_E_ENV, err);
  cleanup_nl struct nl_sock *host = NULL;
  cleanup_nl struct nl_sock *ctn = NULL;
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  struct attach_state st = {0};
  ctr_err undo = NULL;
  struct net_nl_open_job *ctn_job = NULL;
  memset(out, 0, sizeof(*out));
  /* the container's socket is made on a thread (it enters the namespace)
   * while this one opens the host's and takes the lock */
  if (nsfd < 0 || net_nl_open_start(nsfd, &ctn_job, err) < 0)
    return -1;
  if (net_nl_open_in(-1, &host, err) < 0 ||
      net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0) {
    ctr_err ignored = NULL;
    net_nl_open_finish(ctn_job, &ctn, &ignored);
    ctr_err_free(&ignored);
    return -1;
  }
  if (net_nl_open_finish(ctn_job, &ctn, err) < 0)
    return -1;
  if (attach_locked(conf, req, &ipam, host, ctn, nsfd, &st, out, err) == 0)
    return 0;
  /* undo, in reverse; the rules went in one transaction, all or nothing */
  if (net_ipam_reserve_finish(&st.lease, &undo) < 0)
    st.leased = false;
  if (st.veth)
    net_link_delete(host, st.host_if, &undo);
  if (st.leased)
    net_ipam_release_ip(&ipam, st.ip, &undo);
  teardown_if_unused(conf, &ipam, host, &undo);
  ctr_err_free(&undo);
  return ctr_wrap(err, "attach %s to network %s", req->id, conf->name);
}

/* ---- detach ------------------------------------------------------------------------ */

static int detach_locked(const struct net_bridge_conf *conf, const char *id,
                         const char *ifname, struct net_ipam *ipam,
                         struct nl_sock *host, ctr_err *err) {
  char host_if[NET_IFNAMSIZ], tag[17], alias[48];
  struct net_link_delete_job *veth;
  struct net_link_info found;
  int rc;
  /* the host side's name is ours by construction; deleting it takes the
   * container's end along (and if the namespace is gone, so is the pair).
   * The container's ifname could belong to another plugin: not touched.
   * The rules go while the kernel unregisters the pair; the lease only
   * once it has. */
  net_bridge_host_ifname(conf->name, id, ifname, host_if);
  net_bridge_attachment_tag(conf->name, id, ifname, tag);
  rc = net_link_delete_start(host, host_if, &veth, &found, err);
  if (rc < 0)
    return -1;
  no_ports_alias(tag, alias);
  if ((rc == 0 || strcmp(found.alias, alias) != 0) &&
      net_nft_remove(conf, tag, err) < 0) {
    ctr_err ignored = NULL;
    net_link_delete_finish(veth, &ignored);
    ctr_err_free(&ignored);
    return -1;
  }
  if (net_link_delete_finish(veth, err) < 0 ||
      net_ipam_release(ipam, id, ifname, err) < 0)
    return -1;
  return 0;
}

int net_bridge_detach(const struct net_bridge_conf *conf, const char *id,
                      const char *ifname, ctr_err *err) {
  cleanup_nl struct nl_sock *host = NULL;
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  if (net_nl_open_in(-1, &host, err) < 0 ||
      net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0 ||
      detach_locked(conf, id, ifname, &ipam, host, err) < 0 ||
      teardown_if_unused(conf, &ipam, host, err) < 0)
    return ctr_wrap(err, "detach %s from network %s", id, conf->name);
  return 0;
}

/* ---- check ------------------------------------------------------------------------- */

static int mismatch(ctr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int mismatch(ctr_err *err, const char *fmt, ...) {
  va_list ap;
  char *msg = NULL;
  int rc;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  rc = net_fail(err, NET_CNI_E_CHECK, "%s", msg ? msg : "CHECK failed");
  free(msg);
  return rc;
}

static int check_host(const struct net_bridge_conf *conf, const char *host_if,
                      struct nl_sock *host, ctr_err *err) {
  struct net_link_info br, h;
  char gw[NET_IP4_STRLEN];
  int rc = net_link_get(host, conf->bridge, &br, err);
  if (rc < 0)
    return -1;
  if (rc == 0 || strcmp(br.kind, "bridge") != 0 || !br.up)
    return mismatch(err, "bridge %s is %s", conf->bridge,
                    rc == 0 ? "missing" : "not an up bridge");
  net_ip4_format(conf->gateway, gw);
  rc = net_addr_has(host, br.ifindex, conf->gateway, conf->subnet.prefix, err);
  if (rc <= 0)
    return rc < 0 ? -1 : mismatch(err, "bridge %s lacks the gateway address %s",
                                  conf->bridge, gw);
  rc = net_link_get(host, host_if, &h, err);
  if (rc <= 0)
    return rc < 0 ? -1 : mismatch(err, "host interface %s is missing", host_if);
  if (h.master != br.ifindex || !h.up)
    return mismatch(err, "host interface %s is not an up port of %s", host_if,
                    conf->bridge);
  if (conf->uplink != NULL)
    return conf->uplink->check(conf->uplink, host, br.ifindex, err);
  return 0;
}

static int check_container(const struct net_bridge_conf *conf,
                           const struct net_attach_req *req, uint32_t ip,
                           struct nl_sock *ctn, ctr_err *err) {
  struct net_link_info c;
  char a[NET_IP4_STRLEN + 4], gw[NET_IP4_STRLEN];
  int rc = net_link_get(ctn, req->ifname, &c, err);
  if (rc <= 0)
    return rc < 0 ? -1 : mismatch(err, "%s is missing in %s", req->ifname,
                                  req->netns);
  if (!c.up || strcmp(c.kind, "veth") != 0)
    return mismatch(err, "%s in %s is not an up veth", req->ifname,
                    req->netns);
  net_ip4_format(ip, a);
  snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", conf->subnet.prefix);
  rc = net_addr_has(ctn, c.ifindex, ip, conf->subnet.prefix, err);
  if (rc <= 0)
    return rc < 0 ? -1 : mismatch(err, "%s lacks its address %s", req->ifname, a);
  net_ip4_format(conf->gateway, gw);
  rc = net_route_default_has(ctn, c.ifindex, conf->gateway, err);
  if (rc == 0) /* another network may have given the default route */
    rc = net_route_default_has(ctn, 0, 0, err);
  if (rc <= 0)
    return rc < 0 ? -1 : mismatch(err, "no default route via %s on %s", gw,
                                  req->ifname);
  return 0;
}

int net_bridge_check(const struct net_bridge_conf *conf,
                     const struct net_attach_req *req, uint32_t want_ip,
                     unsigned want_prefix, ctr_err *err) {
  cleanup_close int nsfd = open_netns(req->netns, NET_CNI_E_ENV, err);
  cleanup_nl struct nl_sock *host = NULL;
  cleanup_nl struct nl_sock *ctn = NULL;
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  char host_if[NET_IFNAMSIZ], tag[17], a[NET_IP4_STRLEN], b[NET_IP4_STRLEN];
  uint32_t ip;
  int rc, rules;
  size_t want_rules = conf->internal ? 0 : req->nports * 3;
  if (nsfd < 0 || net_nl_open_in(-1, &host, err) < 0 ||
      net_nl_open_in(nsfd, &ctn, err) < 0 ||
      net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0)
    return -1;
  rc = net_ipam_find(&ipam, req->id, req->ifname, &ip, err);
  if (rc <= 0)
    return rc < 0 ? -1
                  : mismatch(err, "no lease for %s on network %s", req->id,
                             conf->name);
  net_ip4_format(ip, a);
  net_ip4_format(want_ip, b);
  if (want_ip != 0 && (want_ip != ip || want_prefix != conf->subnet.prefix))
    return mismatch(err, "the lease is %s, the previous result said %s", a, b);
  net_bridge_host_ifname(conf->name, req->id, req->ifname, host_if);
  if (check_host(conf, host_if, host, err) < 0 ||
      check_container(conf, req, ip, ctn, err) < 0)
    return -1;
  net_bridge_attachment_tag(conf->name, req->id, req->ifname, tag);
  if ((rules = net_nft_count(conf, NULL, err)) < 0)
    return -1;
  if (rules != net_nft_network_rules(conf))
    return mismatch(err, "the nftables rules of network %s are %s",
                    conf->name, rules == 0 ? "missing" : "not all there");
  if ((rules = net_nft_count(conf, tag, err)) < 0)
    return -1;
  if ((size_t)rules != want_rules)
    return mismatch(err, "the published ports of %s are not as attached "
                         "(nftables rules of %s differ)",
                    req->id, tag);
  return 0;
}

/* ---- gc, status, teardown -------------------------------------------------------- */

static bool kept(const struct net_attachment *keep, size_t n, const char *id,
                 const char *ifname) {
  for (size_t i = 0; i < n; i++)
    if (net_lease_matches(id, ifname, keep[i].id, keep[i].ifname))
      return true;
  return false;
}

/* Ports of our bridge named as ours ("veth" + 8 hex) but of no kept
 * attachment: leftovers of a crash. */
static int gc_ports(const struct net_bridge_conf *conf, struct nl_sock *host,
                    const struct net_attachment *keep, size_t nkeep,
                    ctr_err *err) {
  struct net_link_info br;
  cleanup_free char *names = NULL;
  int rc = net_link_get(host, conf->bridge, &br, err);
  if (rc <= 0)
    return rc;
  if (net_bridge_ports(host, br.ifindex, &names, err) < 0)
    return -1;
  for (const char *n = names; *n; n += strlen(n) + 1) {
    bool ours = strlen(n) == 12 && strncmp(n, "veth", 4) == 0 &&
                strspn(n + 4, "0123456789abcdef") == 8;
    bool live = false;
    for (size_t i = 0; ours && i < nkeep && !live; i++) {
      char h[NET_IFNAMSIZ];
      net_bridge_host_ifname(conf->name, keep[i].id, keep[i].ifname, h);
      live = strcmp(h, n) == 0;
    }
    if (ours && !live && net_link_delete(host, n, err) < 0)
      return -1;
  }
  return 0;
}

int net_bridge_gc(const struct net_bridge_conf *conf,
                  const struct net_attachment *keep, size_t nkeep,
                  ctr_err *err) {
  cleanup_nl struct nl_sock *host = NULL;
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  cleanup_free char(*tags)[17] = calloc(nkeep + 1, sizeof(*tags));
  struct net_lease *l = NULL;
  size_t n = 0;
  int rc = 0;
  if (tags == NULL)
    return ctr_fail(err, ENOMEM, "gc");
  for (size_t i = 0; i < nkeep; i++)
    net_bridge_attachment_tag(conf->name, keep[i].id, keep[i].ifname, tags[i]);
  if (net_nl_open_in(-1, &host, err) < 0 ||
      net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0 ||
      net_ipam_list(&ipam, &l, &n, err) < 0)
    return ctr_wrap(err, "gc of network %s", conf->name);
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (kept(keep, nkeep, l[i].id, l[i].ifname))
      continue;
    /* old-format leases name no ifname: the host side is unknown, the
     * rest goes */
    if (l[i].ifname[0] != '\0')
      rc = detach_locked(conf, l[i].id, l[i].ifname, &ipam, host, err);
    else
      rc = net_ipam_release_ip(&ipam, l[i].ip, err);
  }
  net_leases_free(l, n);
  if (rc < 0 || net_nft_gc(conf, (const char(*)[17])tags, nkeep, err) < 0 ||
      gc_ports(conf, host, keep, nkeep, err) < 0 ||
      teardown_if_unused(conf, &ipam, host, err) < 0)
    return ctr_wrap(err, "gc of network %s", conf->name);
  return 0;
}

int net_bridge_status(const struct net_bridge_conf *conf, ctr_err *err) {
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  uint64_t pool = net_cidr_pool_size(&conf->range, conf->gateway);
  int n;
  if (net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0 ||
      (n = net_ipam_count(&ipam, err)) < 0 || net_nft_ping(err) < 0) {
    int e = (*err)->errnum;
    ctr_wrap(err, "network %s is not usable", conf->name);
    (*err)->errnum = e < 0 ? e : -NET_CNI_E_UNAVAILABLE;
    return -1;
  }
  if ((uint64_t)n >= pool)
    return net_fail(err, NET_CNI_E_UNAVAILABLE,
                    "network %s has no free address (%d leased)", conf->name, n);
  return 0;
}

int net_bridge_teardown(const struct net_bridge_conf *conf, ctr_err *err) {
  cleanup_nl struct nl_sock *host = NULL;
  cleanup_ipam struct net_ipam ipam = {-1, -1};
  int n;
  if (net_nl_open_in(-1, &host, err) < 0 ||
      net_ipam_open(conf->data_dir, conf->name, &ipam, err) < 0 ||
      (n = net_ipam_count(&ipam, err)) < 0)
    return ctr_wrap(err, "remove network %s", conf->name);
  if (n > 0)
    return net_fail(err, NET_CNI_E_CONFLICT,
                    "network %s still has %d attachment%s", conf->name, n,
                    n == 1 ? "" : "s");
  if (teardown_locked(conf, host, err) < 0)
    return ctr_wrap(err, "remove network %s", conf->name);
  return 0;
}
