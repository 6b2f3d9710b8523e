/* Unit tests for the pure parts of connect (lib/net/attach.c and the
 * bridge driver's additions): aliases, interface names, the hosts file,
 * port specs with a host port to pick, MAC addresses, and the CNI
 * requests that carry a MAC. Nothing here touches a namespace. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/attach.h"
#include "net/cni.h"
#include "net/plugin_bridge.h"
#include "tap.h"

static void test_aliases(void) {
  static const char *good[] = {"db", "web-1", "a.b_c", "X9"};
  static const char *bad[] = {"", "-db", ".x", "a b", "a/b", "ü",
                              "0123456789012345678901234567890123456789012345678901234567890123"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    ok(net_alias_valid(good[i]), "alias '%s' valid", good[i]);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ok(!net_alias_valid(bad[i]), "alias '%s' refused", bad[i]);
  ok(!net_alias_valid(NULL), "NULL alias refused");
}

static void test_next_ifname(void) {
  char out[16];
  json_t *r = json_array();
  net_attach_next_ifname(r, out);
  ok(strcmp(out, "eth0") == 0, "no attachment: eth0 (%s)", out);
  json_array_append_new(r, json_pack("{s:s}", "ifname", "eth0"));
  json_array_append_new(r, json_pack("{s:s}", "ifname", "eth2"));
  net_attach_next_ifname(r, out);
  ok(strcmp(out, "eth1") == 0, "eth0, eth2 used: eth1 (%s)", out);
  json_array_append_new(r, json_pack("{s:s}", "ifname", "eth1"));
  net_attach_next_ifname(r, out);
  ok(strcmp(out, "eth3") == 0, "eth0-2 used: eth3 (%s)", out);
  json_decref(r);
}

static void test_hosts(void) {
  const char *a = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  const char *b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  json_t *all = json_pack(
      "{s:{s:s, s:[{s:s, s:s, s:[s, s]}, {s:s, s:s, s:[]}]},"
      " s:{s:n, s:[{s:s, s:s, s:[s]}]}}",
      a, "name", "web", "records", "network", "front", "ip", "10.1.0.2", "aliases", "www",
      "bad alias", "network", "back", "ip", "10.2.0.2", "aliases",
      b, "name", "records", "network", "front", "ip", "10.1.0.3", "aliases", "api");
  char *front = net_hosts_render("front", all);
  char *back = net_hosts_render("back", all);
  char *none = net_hosts_render("other", all);
  char want[512];
  snprintf(want, sizeof(want), "10.1.0.3 aaaaaaaaaaaa api # %s\n10.1.0.2 web bbbbbbbbbbbb www # %s\n",
           b, a);
  ok(front && strcmp(front, want) == 0,
     "hosts of front: sorted by id, name, short id, valid aliases");
  snprintf(want, sizeof(want), "10.2.0.2 web bbbbbbbbbbbb # %s\n", a);
  ok(back && strcmp(back, want) == 0, "hosts of back: only its records");
  ok(none && none[0] == '\0', "a network nobody is on: empty");
  free(front);
  free(back);
  free(none);
  json_decref(all);
}

static void test_ports(void) {
  static const struct {
    const char *spec;
    uint16_t host, ctr;
    int proto;
  } good[] = {
      {"80", 0, 80, IPPROTO_TCP},         {"53/udp", 0, 53, IPPROTO_UDP},
      {"0:80", 0, 80, IPPROTO_TCP},       {":80", 0, 80, IPPROTO_TCP},
      {"127.0.0.1::80", 0, 80, IPPROTO_TCP}, {"127.0.0.1:0:80/sctp", 0, 80, IPPROTO_SCTP},
      {"8080:80", 8080, 80, IPPROTO_TCP},
  };
  static const char *bad[] = {"0", "80:0", "8080:", "x", "0:80/icmp", "1.2.3.4::", "-1:80"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct net_port_mapping p;
    ctr_err err = NULL;
    int rc = net_port_parse(good[i].spec, &p, &err);
    ok(rc == 0 && p.host_port == good[i].host && p.container_port == good[i].ctr &&
           p.proto == good[i].proto,
       "port %s: host %u container %u", good[i].spec, p.host_port, p.container_port);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct net_port_mapping p;
    ctr_err err = NULL;
    ok(net_port_parse(bad[i], &p, &err) < 0 && err->exit == 2 && strstr(err->msg, bad[i]),
       "port '%s' refused: %s", bad[i], err ? err->msg : "(accepted)");
    ctr_err_free(&err);
  }
  {
    uint16_t avoid[2] = {0, 0};
    uint16_t a = net_port_pick(IPPROTO_TCP, 0, NULL, 0), b;
    avoid[0] = a;
    b = net_port_pick(IPPROTO_TCP, 0, avoid, 1);
    ok(a >= NET_PORT_EPHEMERAL_MIN && a <= NET_PORT_EPHEMERAL_MAX && b != a &&
           b >= NET_PORT_EPHEMERAL_MIN && b <= NET_PORT_EPHEMERAL_MAX,
       "picked ports are ephemeral and avoid the given ones (%u, %u)", a, b);
  }
}

static void test_mac(void) {
  static const char *good[] = {"02:42:ac:11:00:02", "AA:BB:CC:DD:EE:FE", "00:00:00:00:00:01"};
  static const char *bad[] = {"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                              "02:42:ac:11:00", "02:42:ac:11:00:02:03", "02-42-ac-11-00-02",
                              "0g:42:ac:11:00:02", " 2:42:ac:11:00:02", ""};
  unsigned char m[6];
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ctr_err err = NULL;
    ok(net_mac_parse(good[i], m, &err) == 0, "MAC %s", good[i]);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ctr_err err = NULL;
    ok(net_mac_parse(bad[i], m, &err) < 0 && err->exit == 2, "MAC '%s' refused: %s", bad[i],
       err ? err->msg : "(accepted)");
    ctr_err_free(&err);
  }
}

static void test_cni_mac(void) {
  static const char conf[] =
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"ctr-net\",\"bridge\":\"br0\","
      "\"subnet\":\"10.9.0.0/24\",\"dataDir\":\"/tmp\",\"runtimeConfig\":{\"mac\":%s}}";
  struct net_cni_env env = {.command = "ADD", .containerid = "c1", .netns = "/x",
                            .ifname = "eth0", .args = "IgnoreUnknown=1;MAC=02:00:00:00:00:09"};
  struct net_cni_request req;
  char buf[512];
  ctr_err err = NULL;
  snprintf(buf, sizeof(buf), conf, "\"02:00:00:00:00:0a\"");
  ok(net_cni_parse(&env, buf, strlen(buf), &req, &err) == 0 &&
         strcmp(req.mac, "02:00:00:00:00:0a") == 0,
     "runtimeConfig.mac wins over CNI_ARGS MAC= (%s)", req.mac);
  net_cni_request_free(&req);
  ctr_err_free(&err);
  snprintf(buf, sizeof(buf), conf, "null");
  ok(net_cni_parse(&env, buf, strlen(buf), &req, &err) < 0 &&
         net_cni_code(err) == NET_CNI_E_CONFIG,
     "runtimeConfig.mac null: code 7 (%s)", err ? err->msg : "accepted");
  net_cni_request_free(&req);
  ctr_err_free(&err);
  env.args = "MAC=01:00:00:00:00:01";
  snprintf(buf, sizeof(buf), "%.*s}", (int)(strstr(conf, ",\"runtimeConfig\"") - conf), conf);
  ok(net_cni_parse(&env, buf, strlen(buf), &req, &err) < 0 &&
         net_cni_code(err) == NET_CNI_E_ENV,
     "CNI_ARGS MAC= multicast: code 4 (%s)", err ? err->msg : "accepted");
  net_cni_request_free(&req);
  ctr_err_free(&err);
}

int main(void) {
  test_aliases();
  test_next_ifname();
  test_hosts();
  test_ports();
  test_mac();
  test_cni_mac();
  return tap_done();
}
