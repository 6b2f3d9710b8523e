/* Unit tests for the overlay driver's pure parts: the slice rule (which
 * every host computes alone, so it must be exactly as documented), the
 * collision check, device names, and the plugin entry's validation.
 * Nothing here touches a network namespace. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/cni.h"
#include "net/plugin_overlay.h"
#include "tap.h"

static uint32_t ip(const char *s) {
  uint32_t v = 0;
  net_ip4_parse(s, &v);
  return v;
}

static struct net_cidr cidr(const char *s) {
  struct net_cidr c = {0};
  ctr_err e = NULL;
  net_cidr_parse(s, &c, &e);
  ctr_err_free(&e);
  return c;
}

static const char *slice_of(const char *subnet, const char *host) {
  static char out[NET_CIDR_STRLEN];
  struct net_cidr sub = cidr(subnet), s;
  net_overlay_slice(&sub, ip(host), &s);
  net_cidr_format(&s, out);
  return out;
}

static void test_slices(void) {
  static const struct {
    const char *subnet, *host, *slice;
  } cases[] = {
      {"10.50.0.0/16", "192.168.7.12", "10.50.12.0/24"},
      {"10.50.0.0/16", "192.168.7.0", "10.50.0.0/24"},
      {"10.50.0.0/16", "192.168.7.255", "10.50.255.0/24"},
      {"10.50.0.0/16", "172.16.3.12", "10.50.12.0/24"}, /* only the last octet */
      {"10.0.0.0/8", "192.168.1.77", "10.77.0.0/16"},
      {"172.16.0.0/12", "10.0.0.1", "172.16.16.0/20"},
      {"10.64.0.0/20", "192.168.0.5", "10.64.0.80/28"},
      {"10.64.0.0/20", "192.168.0.255", "10.64.15.240/28"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *got = slice_of(cases[i].subnet, cases[i].host);
    ok(strcmp(got, cases[i].slice) == 0, "%s on %s: slice %s (%s)", cases[i].host,
       cases[i].subnet, cases[i].slice, got);
  }
  struct net_cidr s = cidr("10.50.12.0/24");
  ok(net_overlay_slice_gateway(&s) == ip("10.50.12.1"), "a slice's gateway is its first host");
  /* every slice inside the subnet, all 256 distinct */
  struct net_cidr sub = cidr("10.50.0.0/16");
  bool inside = true, distinct = true;
  uint32_t seen[256];
  for (uint32_t h = 0; h < 256; h++) {
    net_overlay_slice(&sub, ip("192.168.7.0") + h, &s);
    inside &= net_cidr_contains(&sub, s.addr) && s.prefix == 24;
    seen[h] = s.addr;
    for (uint32_t k = 0; k < h; k++)
      distinct &= seen[k] != s.addr;
  }
  ok(inside && distinct, "256 hosts of a /24 underlay: 256 distinct /24 slices inside the /16");
}

static void test_collisions(void) {
  struct net_cidr sub = cidr("10.50.0.0/16");
  uint32_t peers[] = {ip("192.168.7.11"), ip("192.168.7.12"), ip("192.168.8.12")};
  ctr_err e = NULL;
  ok(net_overlay_slices_check(&sub, peers, 2, peers[0], &e) == 0,
     "distinct last octets: accepted (local among the peers)");
  ok(net_overlay_slices_check(&sub, peers, 3, peers[0], &e) < 0 && e != NULL &&
         e->exit == 2 && strstr(e->msg, "192.168.7.12 and 192.168.8.12") &&
         strstr(e->msg, "10.50.12.0/24"),
     "equal last octets: a usage error naming both and the slice (%s)", e ? e->msg : "-");
  ctr_err_free(&e);
  ok(net_overlay_slices_check(&sub, peers, 1, ip("10.0.0.11"), &e) < 0,
     "local clashing with a peer is refused too");
  ctr_err_free(&e);
}

static void test_names(void) {
  char out[NET_IFNAMSIZ];
  net_overlay_vxlan_name("ctr-3012918f", out);
  ok(strcmp(out, "vx-3012918f") == 0, "vxlan name follows the bridge's (%s)", out);
}

static json_t *entry(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:s, s:s, s:i, s:i, s:s,"
                   " s:[s,s], s:s}",
                   "cniVersion", "1.0.0", "name", "ov", "type", "ctr-net", "driver", "overlay",
                   "bridge", "ctr-3012918f", "subnet", "10.50.0.0/16", "internal", 0, "mtu",
                   1450, "dataDir", "/tmp/x", "vxlan", "vx-3012918f", "vni", 42, "port", 4789,
                   "local", "192.168.77.11", "peers", "192.168.77.11", "192.168.77.12", "slice",
                   "10.50.11.0/24");
}

static void test_parse(void) {
  struct net_bridge_conf c;
  const struct net_overlay *ov;
  ctr_err e = NULL;
  json_t *j = entry();
  int rc = net_bridge_conf_parse(j, &c, &e);
  ov = rc == 0 ? net_overlay_of(&c) : NULL;
  ok(rc == 0 && ov != NULL, "a valid entry parses through the bridge driver's entry point (%s)",
     e ? e->msg : "ok");
  if (ov != NULL) {
    ok(ov->vni == 42 && ov->port == 4789 && ov->npeers == 2 && ov->local == ip("192.168.77.11") &&
           strcmp(ov->vxlan, "vx-3012918f") == 0,
       "VNI, port, peers, local, device");
    ok(c.range.addr == ip("10.50.11.0") && c.range.prefix == 24 && c.subnet.prefix == 16 &&
           c.gateway == ip("10.50.11.1") && c.mtu == 1450,
       "addresses from the slice, the subnet on-link, the slice's gateway");
    net_bridge_conf_free(&c);
  }
  json_decref(j);
  static const struct {
    const char *key, *value_json, *msg;
  } bad[] = {
      {"vni", "0", "vni: want an integer"},
      {"vni", "\"42\"", "vni: want an integer"},
      {"peers", "[]", "peers: want an array"},
      {"peers", "[\"1.2.3\"]", "peers[0]: not an IPv4 address"},
      {"local", "null", "local: not an IPv4 address"},
      {"slice", "\"10.50.12.0/24\"", "slice: local address gives 10.50.11.0/24"},
      {"gateway", "\"10.50.12.1\"", "gateway: not a host address of this host's slice"},
      {"port", "0", "port: want an integer"},
      {"vxlan", "\"a/b\"", "vxlan: want a device name"},
      {"subnet", "\"10.50.0.0/24\"", "an overlay's prefix must be /8 to /20"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *b = entry();
    json_object_set_new(b, bad[i].key, json_loads(bad[i].value_json, JSON_DECODE_ANY, NULL));
    if (strcmp(bad[i].key, "subnet") == 0)
      json_object_del(b, "slice");
    rc = net_bridge_conf_parse(b, &c, &e);
    ok(rc < 0 && e != NULL && strstr(e->msg, bad[i].msg) && net_cni_code(e) == NET_CNI_E_CONFIG,
       "%s=%s refused: %s (%s)", bad[i].key, bad[i].value_json, bad[i].msg, e ? e->msg : "-");
    ctr_err_free(&e);
    json_decref(b);
  }
}

int main(void) {
  test_slices();
  test_collisions();
  test_names();
  test_parse();
  return tap_done();
}
