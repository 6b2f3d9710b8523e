/* Unit tests for ctr-net's pure logic: IPv4 and CIDR parsing and
 * arithmetic, lease picking and lease files (in a temp directory), the
 * plugin configuration's validation, the CNI request parsing, results
 * and errors, names and tags, and the nft script. Nothing here touches a
 * network namespace. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "net/cni.h"
#include "net/ipam.h"
#include "net/nft.h"
#include "net/plugin_bridge.h"
#include "tap.h"

static uint32_t ip(const char *s) {
  uint32_t v = 0;
  net_ip4_parse(s, &v);
  return v;
}

static void test_ip4(void) {
  static const char *good[] = {"0.0.0.0", "10.88.0.1", "255.255.255.255", "1.2.3.4"};
  static const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                              "1.2.3.4 ", " 1.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.-4",
                              "1.2.3.4/8", "1234.1.1.1", "::1"};
  char out[NET_IP4_STRLEN];
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    uint32_t v;
    int rc = net_ip4_parse(good[i], &v);
    net_ip4_format(v, out);
    ok(rc == 0 && strcmp(out, good[i]) == 0, "ip %s round-trips (%s)", good[i], out);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint32_t v;
    ok(net_ip4_parse(bad[i], &v) < 0, "ip '%s' rejected", bad[i]);
  }
  ok(ip("10.88.0.1") == 0x0a580001, "host byte order");
}

static void test_cidr(void) {
  struct net_cidr c, d;
  ctr_err err = NULL;
  ok(net_cidr_parse("10.88.0.0/16", &c, &err) == 0 && c.addr == 0x0a580000 && c.prefix == 16,
     "10.88.0.0/16");
  ok(net_cidr_broadcast(&c) == ip("10.88.255.255"), "broadcast");
  ok(net_cidr_contains(&c, ip("10.88.200.1")) && !net_cidr_contains(&c, ip("10.89.0.1")),
     "contains");
  ok(net_cidr_parse("0.0.0.0/0", &d, &err) == 0 && net_cidr_overlaps(&c, &d), "/0 overlaps all");
  ok(net_cidr_parse("10.88.128.0/17", &d, &err) == 0 && net_cidr_overlaps(&c, &d) &&
         net_cidr_overlaps(&d, &c),
     "a subnet inside overlaps, both ways");
  ok(net_cidr_parse("10.89.0.0/16", &d, &err) == 0 && !net_cidr_overlaps(&c, &d),
     "neighbours do not overlap");
  ok(net_cidr_mask(0) == 0 && net_cidr_mask(32) == 0xffffffffu && net_cidr_mask(24) == 0xffffff00u,
     "masks");
  static const char *bad[] = {"10.88.0.0", "10.88.0.0/", "10.88.0.0/33", "10.88.0.1/16",
                              "10.88.0.0/016", "10.88.0.0/-1", "10.88.0.0/1x", "x/8",
                              "10.88.0.0/16/1", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = net_cidr_parse(bad[i], &d, &err);
    ok(rc < 0 && err && err->msg && net_cni_code(err) == NET_CNI_E_FAILED,
       "cidr '%s' rejected: %s", bad[i], err ? err->msg : "(accepted)");
    ctr_err_free(&err);
  }
  ok(net_cidr_parse("10.88.0.1/16", &d, &err) < 0 && strstr(err->msg, "10.88.0.0/16"),
     "host bits: the message names the network: %s", err ? err->msg : "");
  ctr_err_free(&err);
  ok(net_cidr_parse("fd00::/64", &d, &err) < 0 && net_cni_code(err) == NET_CNI_E_FIELD &&
         strstr(err->msg, "IPv6"),
     "IPv6 is 'not yet supported' (code 2)");
  ctr_err_free(&err);
  net_cidr_parse("10.97.0.0/30", &d, NULL);
  ok(net_cidr_pool_size(&d, ip("10.97.0.1")) == 1, "a /30 holds one container");
  ok(net_cidr_pool_size(&c, ip("10.88.0.1")) == 65533, "a /16 holds 65533");
  ok(net_cidr_assignable(&d, ip("10.97.0.1"), ip("10.97.0.2")) &&
         !net_cidr_assignable(&d, ip("10.97.0.1"), ip("10.97.0.1")) &&
         !net_cidr_assignable(&d, ip("10.97.0.1"), ip("10.97.0.0")) &&
         !net_cidr_assignable(&d, ip("10.97.0.1"), ip("10.97.0.3")) &&
         !net_cidr_assignable(&d, ip("10.97.0.1"), ip("10.97.0.4")),
     "assignable: not network, gateway, broadcast or outside");
}

struct used {
  uint32_t ips[8];
  size_t n;
};

static bool in_use(uint32_t a, void *ctx) {
  struct used *u = ctx;
  for (size_t i = 0; i < u->n; i++)
    if (u->ips[i] == a)
      return true;
  return false;
}

static void test_pick(void) {
  struct net_cidr c;
  struct used u = {.n = 0};
  uint32_t gw = ip("10.0.0.1");
  net_cidr_parse("10.0.0.0/29", &c, NULL); /* .1-.6 hosts, .1 the gateway */
  ok(net_ipam_pick(&c, gw, 0, in_use, &u) == ip("10.0.0.2"), "first: .2 (after the gateway)");
  ok(net_ipam_pick(&c, gw, ip("10.0.0.2"), in_use, &u) == ip("10.0.0.3"), "after last: .3");
  ok(net_ipam_pick(&c, gw, ip("10.0.0.6"), in_use, &u) == ip("10.0.0.2"),
     "wraps past the broadcast, skipping network and gateway");
  u = (struct used){{ip("10.0.0.3"), ip("10.0.0.4")}, 2};
  ok(net_ipam_pick(&c, gw, ip("10.0.0.2"), in_use, &u) == ip("10.0.0.5"), "skips used ones");
  u = (struct used){{ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.5"),
                     ip("10.0.0.6")},
                    5};
  ok(net_ipam_pick(&c, gw, ip("10.0.0.4"), in_use, &u) == 0, "exhausted: 0");
  u.n = 4;
  ok(net_ipam_pick(&c, gw, ip("10.0.0.6"), in_use, &u) == ip("10.0.0.6"),
     "the last one free is found by wrapping all the way");
  ok(net_ipam_pick(&c, gw, ip("192.168.0.1"), in_use, &(struct used){.n = 0}) ==
         ip("10.0.0.2"),
     "a last address outside the subnet starts from the beginning");
  /* a gateway other than the first host */
  ok(net_ipam_pick(&c, ip("10.0.0.2"), 0, in_use, &(struct used){.n = 0}) == ip("10.0.0.1"),
     "gateway .2: .1 is handed out");
  net_cidr_parse("10.0.0.0/31", &c, NULL);
  ok(net_ipam_pick(&c, 0, 0, in_use, &(struct used){.n = 0}) == 0, "/31: nothing");
}

static void test_leases(void) {
  char *id = NULL, *ifn = NULL;
  ok(net_lease_parse("abc\r\neth0", 9, &id, &ifn) == 0 && strcmp(id, "abc") == 0 &&
         strcmp(ifn, "eth0") == 0,
     "host-local's lease");
  free(id), free(ifn);
  ok(net_lease_parse("abc\neth1\n", 9, &id, &ifn) == 0 && strcmp(ifn, "eth1") == 0,
     "a bare newline too");
  free(id), free(ifn);
  ok(net_lease_parse("  abc  ", 7, &id, &ifn) == 0 && strcmp(id, "abc") == 0 && ifn[0] == 0,
     "an old lease: id alone");
  ok(net_lease_matches(id, ifn, "abc", "eth5"), "an id-only lease matches any ifname");
  free(id), free(ifn);
  ok(net_lease_parse("", 0, &id, &ifn) < 0, "empty rejected");
  ok(net_lease_parse("a\0b", 3, &id, &ifn) < 0, "NUL rejected");
  ok(net_lease_matches("abc", "eth0", "abc", "eth0") && !net_lease_matches("abc", "eth0", "abc", "eth1") &&
         !net_lease_matches("abc", "eth0", "abd", "eth0"),
     "matches by id and ifname");
}

static void test_lease_dir(void) {
  char tmpl[] = "/tmp/ctr-test-net.XXXXXX";
  char *dir = mkdtemp(tmpl);
  struct net_ipam ipam;
  struct net_cidr c;
  struct net_lease *l = NULL;
  size_t n = 0;
  uint32_t a = 0, b = 0, x = 0;
  ctr_err err = NULL;
  cleanup_free char *content = NULL;
  net_cidr_parse("10.97.0.0/29", &c, NULL);
  ok(dir && net_ipam_open(dir, "n1", &ipam, &err) == 0, "open a lease directory");
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c1", "eth0", 0, &a, &err) == 0 &&
         a == ip("10.97.0.2"),
     "first lease .2");
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c2", "eth0", 0, &b, &err) == 0 &&
         b == ip("10.97.0.3"),
     "second lease .3");
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c3", "eth0", ip("10.97.0.3"), &x, &err) < 0 &&
         net_cni_code(err) == NET_CNI_E_ADDR_IN_USE,
     "a taken address asked for: 106");
  ctr_err_free(&err);
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c3", "eth0", ip("10.97.0.6"), &x, &err) == 0 &&
         x == ip("10.97.0.6"),
     "a free one asked for");
  ok(ctr_read_file(ipam.dirfd, "10.97.0.2", 100, &content, &n, &err) == 0 &&
         strcmp(content, "c1\r\neth0") == 0,
     "lease content in host-local's form");
  ok(net_ipam_find(&ipam, "c2", "eth0", &x, &err) == 1 && x == b, "find by id and ifname");
  ok(net_ipam_find(&ipam, "c2", "eth1", &x, &err) == 0, "not under another ifname");
  ok(net_ipam_list(&ipam, &l, &n, &err) == 0 && n == 3 && l[0].ip == a && l[2].ip == ip("10.97.0.6"),
     "list, sorted");
  net_leases_free(l, n);
  ok(net_ipam_count(&ipam, &err) == 3, "count");
  ok(net_ipam_release(&ipam, "c1", "eth0", &err) == 1 && net_ipam_count(&ipam, &err) == 2,
     "release by id and ifname");
  ok(net_ipam_release(&ipam, "c1", "eth0", &err) == 0, "releasing twice is fine");
  /* round robin: after .6 comes .2 again (wrapping), not .4 */
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c4", "eth0", 0, &x, &err) == 0 &&
         x == ip("10.97.0.2"),
     "after the last reserved (.6) the next is .2: %08x", x);
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c5", "eth0", 0, &x, &err) == 0 &&
         x == ip("10.97.0.4"),
     "then .4");
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c6", "eth0", 0, &x, &err) == 0 &&
         x == ip("10.97.0.5"),
     "then .5");
  ok(net_ipam_reserve(&ipam, &c, ip("10.97.0.1"), "c7", "eth0", 0, &x, &err) < 0 &&
         net_cni_code(err) == NET_CNI_E_EXHAUSTED && strstr(err->msg, "10.97.0.0/29"),
     "exhausted: 101: %s", err ? err->msg : "");
  ctr_err_free(&err);
  {
    struct stat st;
    ok(fstatat(ipam.dirfd, "lock", &st, 0) == 0, "the lock file is host-local's: lock");
  }
  net_ipam_close(&ipam);
  {
    struct net_ipam none;
    ok(net_ipam_open_existing(dir, "nope", &none, &err) == 0 && none.dirfd < 0,
       "open_existing of a missing network: nothing, no error");
  }
  ctr_rm_rf(AT_FDCWD, dir, NULL);
}

static const char *contract =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"web\",\"type\":\"ctr-net\",\"driver\":\"bridge\","
    "\"bridge\":\"ctr0\",\"subnet\":\"10.88.0.0/16\",\"gateway\":\"10.88.0.1\","
    "\"internal\":false,\"mtu\":1500,\"dataDir\":\"/var/lib/ctr/networks\","
    "\"capabilities\":{\"portMappings\":true},\"options\":{}}";

/* parse contract with one field replaced (value NULL: removed) */
static int conf_with(const char *key, const char *value, struct net_bridge_conf *out,
                     ctr_err *err) {
  json_t *j = json_loads(contract, 0, NULL);
  int rc;
  if (value == NULL)
    json_object_del(j, key);
  else
    json_object_set_new(j, key, json_loads(value, JSON_DECODE_ANY, NULL));
  rc = net_bridge_conf_parse(j, out, err);
  json_decref(j);
  return rc;
}

static void test_conf(void) {
  struct net_bridge_conf c;
  ctr_err err = NULL;
  ok(conf_with("x", "1", &c, &err) == 0 && strcmp(c.name, "web") == 0 &&
         strcmp(c.bridge, "ctr0") == 0 && c.subnet.prefix == 16 && c.gateway == ip("10.88.0.1") &&
         !c.internal && c.mtu == 1500 && strcmp(c.data_dir, "/var/lib/ctr/networks") == 0,
     "the contract's entry parses (unknown keys ignored)");
  net_bridge_conf_free(&c);
  ok(conf_with("gateway", NULL, &c, &err) == 0 && c.gateway == ip("10.88.0.1"),
     "gateway defaults to the first host");
  net_bridge_conf_free(&c);
  setenv("CTR_ROOT", "/srv/ctr", 1);
  ok(conf_with("dataDir", NULL, &c, &err) == 0 && strcmp(c.data_dir, "/srv/ctr/networks") == 0,
     "dataDir defaults to $CTR_ROOT/networks");
  net_bridge_conf_free(&c);
  unsetenv("CTR_ROOT");
  static const struct {
    const char *key, *value;
    int code;
    const char *words;
  } bad[] = {
      {"name", NULL, 7, "name: missing"},
      {"name", "\"-web\"", 7, "name"},
      {"name", "\"a/b\"", 7, "name"},
      {"type", "\"bridge\"", 7, "type"},
      {"driver", "\"overlay\"", 7, "vxlan: missing"},
      {"driver", "\"vlan\"", 2, "driver \"vlan\""},
      {"driver", "3", 7, "driver"},
      {"bridge", NULL, 7, "bridge: missing"},
      {"bridge", "\"much-too-long-name\"", 7, "bridge"},
      {"bridge", "\"br 0\"", 7, "bridge"},
      {"bridge", "\"..\"", 7, "bridge"},
      {"subnet", NULL, 7, "subnet: missing"},
      {"subnet", "\"10.88.0.0/31\"", 7, "/30"},
      {"subnet", "\"10.88.0.0/0\"", 7, "subnet"},
      {"subnet", "\"10.88.0.1/16\"", 7, "host bits"},
      {"subnet", "\"fd00::/64\"", 2, "IPv6"},
      {"subnet", "16", 7, "subnet"},
      {"gateway", "\"10.89.0.1\"", 7, "gateway"},
      {"gateway", "\"10.88.0.0\"", 7, "gateway"},
      {"gateway", "\"10.88.255.255\"", 7, "gateway"},
      {"gateway", "\"x\"", 7, "gateway"},
      {"internal", "\"no\"", 7, "internal"},
      {"mtu", "67", 7, "mtu"},
      {"mtu", "65536", 7, "mtu"},
      {"mtu", "\"1500\"", 7, "mtu"},
      {"dataDir", "\"rel/dir\"", 7, "dataDir"},
      {"dataDir", "1", 7, "dataDir"},
      {"capabilities", "[]", 7, "capabilities"},
      {"options", "{\"foo\":\"bar\"}", 2, "options.foo=\"bar\""},
      {"options", "[]", 7, "options"},
      {"ipam", "{\"type\":\"host-local\"}", 2, "ipam"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = conf_with(bad[i].key, bad[i].value, &c, &err);
    ok(rc < 0 && net_cni_code(err) == bad[i].code && strstr(err->msg, bad[i].words),
       "%s=%s: code %d '%s': %s", bad[i].key, bad[i].value ? bad[i].value : "(none)",
       bad[i].code, bad[i].words, err ? err->msg : "(accepted)");
    ctr_err_free(&err);
    net_bridge_conf_free(&c);
  }
}

static int parse(const char *cmd, const char *id, const char *ns, const char *ifn,
                 const char *args, const char *in, struct net_cni_request *req, ctr_err *err) {
  struct net_cni_env env = {cmd, id, ns, ifn, args, "/usr/lib/cni"};
  return net_cni_parse(&env, in, in ? strlen(in) : 0, req, err);
}

static void test_request(void) {
  struct net_cni_request req;
  ctr_err err = NULL;
  cleanup_free char *with_ports = NULL;
  ok(parse("ADD", "c1", "/run/netns/x", "eth0", "IgnoreUnknown=1;IP=10.88.0.9", contract, &req,
           &err) == 0 &&
         req.command == NET_CNI_ADD && strcmp(req.version, "1.0.0") == 0 &&
         req.ip == ip("10.88.0.9") && req.nports == 0,
     "ADD parses; CNI_ARGS IP=");
  net_cni_request_free(&req);
  ok(parse("VERSION", NULL, NULL, NULL, NULL, NULL, &req, &err) == 0 &&
         req.command == NET_CNI_VERSION_CMD,
     "VERSION needs nothing");
  net_cni_request_free(&req);
  ok(parse("DEL", "c1", NULL, "eth0", NULL, contract, &req, &err) == 0 && req.netns == NULL,
     "DEL without CNI_NETNS");
  net_cni_request_free(&req);
  static const struct {
    const char *cmd, *id, *ns, *ifn, *args, *in;
    int code;
    const char *words;
  } bad[] = {
      {NULL, "c1", "/n", "eth0", NULL, "{}", 4, "CNI_COMMAND"},
      {"ADDX", "c1", "/n", "eth0", NULL, "{}", 4, "unknown command"},
      {"ADD", "c1", "/n", "eth0", NULL, NULL, 6, "no network configuration"},
      {"ADD", "c1", "/n", "eth0", NULL, "{nope", 6, "invalid JSON"},
      {"ADD", "c1", "/n", "eth0", NULL, "\"str\"", 6, "not a JSON object"},
      {"ADD", "c1", "/n", "eth0", NULL, "{\"name\":\"web\"}", 7, "cniVersion: missing"},
      {"ADD", "c1", "/n", "eth0", NULL, "{\"cniVersion\":\"0.2.0\"}", 1, "0.2.0"},
      {"ADD", NULL, "/n", "eth0", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_CONTAINERID"},
      {"ADD", "-c1", "/n", "eth0", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_CONTAINERID"},
      {"ADD", "c1", "/n", NULL, NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_IFNAME"},
      {"ADD", "c1", "/n", "eth/0", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_IFNAME"},
      {"ADD", "c1", "/n", "a23456789012345x", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_IFNAME"},
      {"ADD", "c1", NULL, "eth0", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_NETNS"},
      {"CHECK", "c1", "", "eth0", NULL, "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_NETNS"},
      {"ADD", "c1", "/n", "eth0", "IP", "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_ARGS"},
      {"ADD", "c1", "/n", "eth0", "IP=1.2.3", "{\"cniVersion\":\"1.0.0\"}", 4, "CNI_ARGS"},
      {"CHECK", "c1", "/n", "eth0", NULL, "{\"cniVersion\":\"0.3.1\"}", 1, "CHECK"},
      {"GC", NULL, NULL, NULL, NULL, "{\"cniVersion\":\"1.0.0\"}", 1, "GC"},
      {"STATUS", NULL, NULL, NULL, NULL, "{\"cniVersion\":\"0.4.0\"}", 1, "STATUS"},
      {"ADD", "c1", "/n", "eth0", NULL, "{\"cniVersion\":\"1.0.0\",\"type\":\"ctr-net\"}", 7, "name"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = parse(bad[i].cmd, bad[i].id, bad[i].ns, bad[i].ifn, bad[i].args, bad[i].in, &req, &err);
    ok(rc < 0 && net_cni_code(err) == bad[i].code && strstr(err->msg, bad[i].words),
       "bad request %zu: code %d '%s': %s", i, bad[i].code, bad[i].words,
       err ? err->msg : "(accepted)");
    ctr_err_free(&err);
    net_cni_request_free(&req);
  }
  /* errors answer in the caller's version when it is one we speak */
  parse("ADD", NULL, NULL, NULL, NULL, "{\"cniVersion\":\"0.4.0\"}", &req, &err);
  ok(strcmp(req.version, "0.4.0") == 0, "error version follows the config's");
  ctr_err_free(&err);
  net_cni_request_free(&req);
  /* ports, prevResult, attachments */
  {
    json_t *j = json_loads(contract, 0, NULL);
    json_object_set_new(j, "runtimeConfig",
                        json_loads("{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80},"
                                   "{\"hostPort\":53,\"containerPort\":5353,\"protocol\":\"UDP\","
                                   "\"hostIP\":\"127.0.0.1\"}]}",
                                   0, NULL));
    json_object_set_new(j, "prevResult",
                        json_loads("{\"ips\":[{\"address\":\"fd00::1/64\"},{\"address\":"
                                   "\"10.88.0.7/16\"}]}",
                                   0, NULL));
    with_ports = json_dumps(j, 0);
    json_decref(j);
  }
  ok(parse("CHECK", "c1", "/n", "eth0", NULL, with_ports, &req, &err) == 0 && req.nports == 2 &&
         req.ports[0].proto == IPPROTO_TCP && req.ports[0].host_port == 8080 &&
         req.ports[0].host_ip == 0 && req.ports[1].proto == IPPROTO_UDP &&
         req.ports[1].container_port == 5353 && req.ports[1].host_ip == ip("127.0.0.1") &&
         req.prev_ip == ip("10.88.0.7") && req.prev_prefix == 16,
     "ports and prevResult's address in our subnet");
  net_cni_request_free(&req);
  ok(parse("GC", NULL, NULL, NULL, NULL,
           "{\"cniVersion\":\"1.1.0\",\"name\":\"web\",\"type\":\"ctr-net\",\"bridge\":\"ctr0\","
           "\"subnet\":\"10.88.0.0/16\",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\","
           "\"ifname\":\"eth0\"}]}",
           &req, &err) == 0 &&
         req.nkeep == 1 && strcmp(req.keep[0].id, "a") == 0,
     "GC attachments");
  net_cni_request_free(&req);
  {
    static const char *badports[] = {
        "{}", "[1]", "[{\"hostPort\":0,\"containerPort\":1}]",
        "[{\"hostPort\":70000,\"containerPort\":1}]", "[{\"hostPort\":1}]",
        "[{\"hostPort\":1,\"containerPort\":1,\"protocol\":\"icmp\"}]",
        "[{\"hostPort\":1,\"containerPort\":1,\"protocol\":null}]",
        "[{\"hostPort\":1,\"containerPort\":1,\"hostIP\":\"1.2.3\"}]",
        "[{\"hostPort\":1,\"containerPort\":1,\"hostIP\":\"::1\"}]",
        "[{\"hostPort\":1,\"containerPort\":1},{\"hostPort\":1,\"containerPort\":2}]",
    };
    for (size_t i = 0; i < sizeof(badports) / sizeof(badports[0]); i++) {
      json_t *m = json_loads(badports[i], 0, NULL);
      struct net_port_mapping *p = NULL;
      size_t n = 0;
      int rc = net_cni_parse_ports(m, &p, &n, &err);
      ok(rc < 0 && p == NULL && (net_cni_code(err) == 7 || net_cni_code(err) == 2) &&
             strstr(err->msg, "portMappings"),
         "ports %s rejected: %s", badports[i], err ? err->msg : "(accepted)");
      ctr_err_free(&err);
      json_decref(m);
    }
  }
}

static void test_result(void) {
  struct net_attach_result r = {0};
  json_t *res, *prev;
  cleanup_free char *s = NULL, *s2 = NULL, *e = NULL;
  snprintf(r.bridge.name, sizeof(r.bridge.name), "ctr0");
  snprintf(r.bridge.mac, sizeof(r.bridge.mac), "02:00:00:00:00:01");
  snprintf(r.host.name, sizeof(r.host.name), "veth01234567");
  snprintf(r.host.mac, sizeof(r.host.mac), "02:00:00:00:00:02");
  snprintf(r.container.name, sizeof(r.container.name), "eth0");
  snprintf(r.container.mac, sizeof(r.container.mac), "02:00:00:00:00:03");
  r.ip = ip("10.88.0.2"), r.prefix = 16, r.gateway = ip("10.88.0.1"), r.default_route = true;
  res = net_cni_result(&r, "/run/netns/x", "1.0.0", NULL);
  s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
  ok(s && strcmp(s, "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"ctr0\",\"mac\":"
                    "\"02:00:00:00:00:01\"},{\"name\":\"veth01234567\",\"mac\":\"02:00:00:00:00:02\"},"
                    "{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:03\",\"sandbox\":\"/run/netns/x\"}],"
                    "\"ips\":[{\"address\":\"10.88.0.2/16\",\"gateway\":\"10.88.0.1\",\"interface\":2}],"
                    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.88.0.1\"}],\"dns\":{}}") == 0,
     "1.0.0 result: %s", s);
  json_decref(res);
  prev = json_loads("{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"x\"}],\"ips\":[],"
                    "\"dns\":{\"nameservers\":[\"1.1.1.1\"]}}",
                    0, NULL);
  r.default_route = false;
  res = net_cni_result(&r, "/run/netns/x", "0.3.1", prev);
  s2 = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
  ok(json_array_size(json_object_get(res, "interfaces")) == 4 &&
         json_integer_value(json_object_get(json_array_get(json_object_get(res, "ips"), 0),
                                            "interface")) == 3 &&
         strcmp(json_string_value(json_object_get(json_array_get(json_object_get(res, "ips"), 0),
                                                  "version")),
                "4") == 0 &&
         json_array_size(json_object_get(res, "routes")) == 0 &&
         json_array_size(json_object_get(json_object_get(res, "dns"), "nameservers")) == 1,
     "0.3.1 result extends prevResult: %s", s2);
  json_decref(res);
  json_decref(prev);
  res = net_cni_error("1.0.0", 7, "bad", "details");
  e = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
  ok(strcmp(e, "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad\",\"details\":\"details\"}") == 0,
     "error object: %s", e);
  json_decref(res);
  res = net_cni_version_info();
  ok(json_array_size(json_object_get(res, "supportedVersions")) == 5 &&
         net_cni_version_supported("0.3.0") && net_cni_version_supported("1.1.0") &&
         !net_cni_version_supported("0.2.0") && !net_cni_version_supported(NULL),
     "versions");
  json_decref(res);
}

static void test_names_and_rules(void) {
  char a[NET_IFNAMSIZ], b[NET_IFNAMSIZ], t[17];
  struct net_bridge_conf c;
  struct net_port_mapping p[2] = {{8080, 80, IPPROTO_TCP, 0}, {53, 53, IPPROTO_UDP, 0x7f000001}};
  json_t *j = json_loads(contract, 0, NULL);
  cleanup_free char *s = NULL, *s2 = NULL;
  net_bridge_host_ifname("web", "c1", "eth0", a);
  net_bridge_host_ifname("web", "c1", "eth1", b);
  ok(strlen(a) == 12 && strncmp(a, "veth", 4) == 0 && strcmp(a, b) != 0,
     "host ifnames: %s, %s", a, b);
  net_bridge_host_ifname("web", "c1", "eth0", b);
  ok(strcmp(a, b) == 0, "stable");
  net_bridge_host_ifname("web", "c1e", "th0", b);
  ok(strcmp(a, b) != 0, "the parts stay apart (c1/eth0 vs c1e/th0)");
  net_bridge_attachment_tag("web", "c1", "eth0", t);
  ok(strlen(t) == 16 && strncmp(t, a + 4, 8) == 0, "tag %s starts like the ifname", t);
  net_bridge_conf_parse(j, &c, NULL);
  s = net_nft_attach_script(&c, true, t, ip("10.88.0.2"), p, 2);
  ok(s && strstr(s, "add table inet ctr\n") &&
         strstr(s, "add rule inet ctr postrouting ip saddr 10.88.0.0/16 ip daddr != "
                   "10.88.0.0/16 masquerade comment \"ctr-net n=web\"") &&
         strstr(s, "create element inet ctr hostports { tcp . 8080 comment \"ctr-net n=web a=") &&
         strstr(s, "add rule inet ctr output meta nfproto ipv4 ip daddr 127.0.0.1 udp dport 53 dnat "
                   "ip to 10.88.0.2:53") &&
         strstr(s, "prerouting meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to "
                   "10.88.0.2:80"),
     "nft script");
  c.internal = true;
  s2 = net_nft_attach_script(&c, true, t, ip("10.88.0.2"), p, 2);
  ok(s2 && !strstr(s2, "masquerade") && !strstr(s2, "dnat") &&
         strstr(s2, "forward oifname \"ctr0\" iifname != \"ctr0\" drop"),
     "internal: no masquerade, no ports, forwarding off the bridge dropped");
  ok(net_nft_network_rules(&c) == 2, "internal: two rules of its own");
  net_bridge_conf_free(&c);
  json_decref(j);
}

static void test_port_specs(void) {
  static const struct {
    const char *spec;
    uint16_t host, ctr;
    int proto;
    const char *host_ip;
  } good[] = {
      {"8080:80", 8080, 80, IPPROTO_TCP, NULL},
      {"53:5353/udp", 53, 5353, IPPROTO_UDP, NULL},
      {"127.0.0.1:8443:443/tcp", 8443, 443, IPPROTO_TCP, "127.0.0.1"},
      {"0.0.0.0:1:65535/sctp", 1, 65535, IPPROTO_SCTP, NULL},
      {":9000:90", 9000, 90, IPPROTO_TCP, NULL},
      /* no host port, or 0: one is picked when the port is published */
      {"80", 0, 80, IPPROTO_TCP, NULL},
      {":80", 0, 80, IPPROTO_TCP, NULL},
      {"0:80/udp", 0, 80, IPPROTO_UDP, NULL},
      {"127.0.0.1::80", 0, 80, IPPROTO_TCP, "127.0.0.1"},
  };
  static const char *bad[] = {"8080:", "8080:65536", "a:80", "0", "80:0",
                              "8080:80/icmp", "1.2.3:8080:80", "[::1]:8080:80",
                              "8080-8081:80", "1.2.3.4:5:6:7", ""};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct net_port_mapping p;
    ctr_err err = NULL;
    int rc = net_port_parse(good[i].spec, &p, &err);
    ok(rc == 0 && p.host_port == good[i].host && p.container_port == good[i].ctr &&
           p.proto == good[i].proto &&
           p.host_ip == (good[i].host_ip ? ip(good[i].host_ip) : 0),
       "port %s", good[i].spec);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct net_port_mapping p;
    ctr_err err = NULL;
    ok(net_port_parse(bad[i], &p, &err) < 0 && err->exit == 2 && strstr(err->msg, bad[i]),
       "port '%s' rejected: %s", bad[i], err ? err->msg : "(accepted)");
    ctr_err_free(&err);
  }
  {
    struct net_port_mapping p[2];
    json_t *j, *back;
    struct net_port_mapping *q = NULL;
    size_t n = 0;
    ctr_err err = NULL;
    net_port_parse("8080:80", &p[0], NULL);
    net_port_parse("127.0.0.1:53:53/udp", &p[1], NULL);
    j = net_ports_json(p, 2);
    back = json_deep_copy(j);
    ok(net_cni_parse_ports(back, &q, &n, &err) == 0 && n == 2 && memcmp(q, p, sizeof(p)) == 0,
       "ports to runtimeConfig.portMappings and back");
    free(q);
    json_decref(j);
    json_decref(back);
  }
}

int main(void) {
  test_ip4();
  test_cidr();
  test_pick();
  test_leases();
  test_lease_dir();
  test_conf();
  test_request();
  test_result();
  test_names_and_rules();
  test_port_specs();
  return tap_done();
}
