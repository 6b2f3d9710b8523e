/* Unit tests for network definitions: CIDR parsing, formatting, overlap
 * and the search for a free subnet; names; conflist validation; and the
 * store functions on a private root, including the default network made
 * by many processes at once. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "net/netconf.h"
#include "net/cidr.h"
#include "tap.h"

static struct net_cidr cidr(const char *s) {
  struct net_cidr c = {0, 0};
  ctr_err err = NULL;
  if (net_cidr_parse(s, &c, &err) < 0) {
    ok(0, "test subnet %s parses: %s", s, err ? err->msg : "?");
    ctr_err_free(&err);
  }
  return c;
}

static void test_ip4(void) {
  static const char *good[] = {"0.0.0.0", "10.88.0.1", "255.255.255.255", "192.168.100.9"};
  static const char *bad[] = {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                              "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.-4", "1.2.3.4/",
                              "0x1.2.3.4", "1000.1.1.1", "::1"};
  char out[NET_IP4_STRLEN];
  uint32_t ip;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    int rc = net_ip4_parse(good[i], &ip);
    if (rc == 0)
      net_ip4_format(ip, out);
    ok(rc == 0 && strcmp(out, good[i]) == 0, "ip %s round-trips", good[i]);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ok(net_ip4_parse(bad[i], &ip) < 0, "ip '%s' rejected", bad[i]);
}

static void test_cidr_parse(void) {
  static const char *good[] = {"10.88.0.0/16", "0.0.0.0/0", "10.89.255.0/24",
                               "192.168.1.128/25", "1.2.3.4/32", "10.0.0.0/8"};
  static const struct {
    const char *in, *word;
  } bad[] = {
      {"10.88.0.0", "CIDR"},         {"10.88.0.0/", "CIDR"},      {"10.88.0.0/33", "CIDR"},
      {"10.88.0.0/016", "CIDR"},     {"10.88.0/16", "CIDR"},      {"/16", "CIDR"},
      {"10.88.0.1/16", "10.88.0.0/16"}, {"fd00::/64", "IPv6"},   {"10.88.0.0/1x", "CIDR"},
      {"10.88.0.0/-1", "CIDR"},      {"", "CIDR"},                {"10.88.0.0/16/1", "CIDR"},
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct net_cidr c;
    char out[NET_CIDR_STRLEN] = "";
    ctr_err err = NULL;
    int rc = net_cidr_parse(good[i], &c, &err);
    if (rc == 0)
      net_cidr_format(&c, out);
    ok(rc == 0 && strcmp(out, good[i]) == 0, "subnet %s round-trips (%s)", good[i], out);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct net_cidr c;
    ctr_err err = NULL;
    int rc = net_cidr_parse(bad[i].in, &c, &err);
    ok(rc < 0 && err && strstr(err->msg, bad[i].word) != NULL,
       "subnet '%s' rejected naming %s: %s", bad[i].in, bad[i].word,
       err ? err->msg : "(accepted)");
    ctr_err_free(&err);
  }
}

static void test_cidr_math(void) {
  struct net_cidr a = cidr("10.88.0.0/16"), b = cidr("10.88.5.0/24"), c = cidr("10.89.0.0/24");
  struct net_cidr all = cidr("0.0.0.0/0"), slash30 = cidr("10.0.0.4/30"), out;
  uint32_t ip;
  ok(net_cidr_overlaps(&a, &b) && net_cidr_overlaps(&b, &a), "a /16 overlaps a /24 inside it");
  ok(!net_cidr_overlaps(&a, &c) && !net_cidr_overlaps(&c, &a), "10.88/16 and 10.89.0/24 do not");
  ok(net_cidr_overlaps(&all, &c), "0.0.0.0/0 overlaps everything");
  ok(net_cidr_broadcast(&a) == 0x0a58ffffu, "last address of 10.88.0.0/16");
  ok(net_cidr_mask(0) == 0 && net_cidr_mask(32) == 0xffffffffu &&
         net_cidr_mask(24) == 0xffffff00u,
     "masks of /0, /32, /24");
  net_ip4_parse("10.88.255.255", &ip);
  ok(net_cidr_contains(&a, ip) && !net_cidr_is_host(&a, ip), "broadcast is inside, not a host");
  ok(!net_cidr_is_host(&a, a.addr), "network address is not a host");
  ok(net_cidr_is_host(&a, a.addr + 1), "first address after it is");
  ok(net_cidr_is_host(&slash30, slash30.addr + 1) &&
         net_cidr_is_host(&slash30, slash30.addr + 2) &&
         !net_cidr_is_host(&slash30, slash30.addr + 3),
     "a /30 has two hosts");
  net_ip4_parse("10.90.0.1", &ip);
  ok(!net_cidr_contains(&a, ip) && !net_cidr_is_host(&a, ip), "outside address");

  {
    struct net_cidr pool = cidr("10.89.0.0/16");
    struct net_cidr used[] = {cidr("10.89.0.0/24"), cidr("10.89.2.0/23"), cidr("10.89.1.0/24")};
    char s[NET_CIDR_STRLEN];
    ok(net_cidr_find_free(&pool, 24, NULL, 0, &out) == 0 && out.addr == pool.addr,
       "empty pool: its first /24");
    ok(net_cidr_find_free(&pool, 24, used, 3, &out) == 0 && (net_cidr_format(&out, s), 1) &&
           strcmp(s, "10.89.4.0/24") == 0,
       "skips used /24s and a /23: %s", s);
    ok(net_cidr_find_free(&pool, 24, &all, 1, &out) < 0, "a /0 in use leaves nothing");
    ok(net_cidr_find_free(&pool, 8, NULL, 0, &out) < 0, "a prefix shorter than the pool's");
    {
      struct net_cidr big = cidr("10.0.0.0/8");
      ok(net_cidr_find_free(&pool, 24, &big, 1, &out) < 0, "a /8 over the pool fills it");
    }
    {
      struct net_cidr top = cidr("255.255.255.0/24"), in_top = cidr("255.255.255.0/25");
      ok(net_cidr_find_free(&top, 25, &in_top, 1, &out) == 0 && out.addr == 0xffffff80u,
         "search at the top of the address space");
      ok(net_cidr_find_free(&top, 24, &in_top, 1, &out) < 0, "and none when it is taken");
    }
  }
}

static void test_names(void) {
  static const char *good[] = {"web", "a", "A.b_c-d", "0net", "bridge",
                               "x234567890123456789012345678901234567890123456789012345678901234"};
  static const char *bad[] = {"", "-web", ".web", "_x", "a b", "a/b", "web!", "host", "none",
                              "x.conflist", "é",
                              "x2345678901234567890123456789012345678901234567890123456789012345"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ctr_err err = NULL;
    ok(net_name_check(good[i], &err) == 0, "name %s accepted", good[i]);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ctr_err err = NULL;
    ok(net_name_check(bad[i], &err) < 0 && err->exit == 2, "name '%s' rejected", bad[i]);
    ctr_err_free(&err);
  }
  {
    char a[NET_IFNAME_MAX + 1], b[NET_IFNAME_MAX + 1], d[NET_IFNAME_MAX + 1];
    net_bridge_name("web", 0, a);
    net_bridge_name("web", 1, b);
    net_bridge_name("bridge", 0, d);
    ok(strlen(a) == 12 && strncmp(a, "ctr-", 4) == 0 && strcmp(a, b) != 0,
       "bridge names: %s, salted %s", a, b);
    ok(strcmp(d, "ctr0") == 0, "the default network's bridge is ctr0");
  }
}

static const char good_bridge[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"web\",\"plugins\":[{\"type\":\"ctr-net\","
    "\"driver\":\"bridge\",\"bridge\":\"ctr-12345678\",\"subnet\":\"10.89.3.0/24\","
    "\"gateway\":\"10.89.3.1\",\"internal\":true,\"mtu\":9000,\"dataDir\":\"/x/networks\","
    "\"capabilities\":{\"portMappings\":true},\"options\":{}}],"
    "\"ctr\":{\"created\":\"2026-01-02T03:04:05Z\"}}";

static void test_parse(void) {
  struct net_config c;
  ctr_err err = NULL;
  int rc = net_config_parse("web", good_bridge, strlen(good_bridge), &c, &err);
  ok(rc == 0 && c.builtin && strcmp(c.driver, "bridge") == 0 &&
         strcmp(c.bridge, "ctr-12345678") == 0 &&
         c.has_subnet && strcmp(c.subnet_text, "10.89.3.0/24") == 0 &&
         strcmp(c.gateway_text, "10.89.3.1") == 0 && c.internal && c.mtu == 9000 &&
         c.created && strcmp(c.created, "2026-01-02T03:04:05Z") == 0 && !c.is_default,
     "a bridge conflist loads: %s", err ? err->msg : "ok");
  if (rc == 0)
    net_config_free(&c);
  ctr_err_free(&err);
  rc = net_config_parse("other", good_bridge, strlen(good_bridge), &c, &err);
  ok(rc < 0 && err->exit == 1 && strstr(err->msg, "names network 'web'"),
     "a conflist under another name is refused: %s", err ? err->msg : "accepted");
  ctr_err_free(&err);

  {
    static const char ext[] =
        "{\"cniVersion\":\"1.0.0\",\"name\":\"m\",\"plugins\":[{\"type\":\"macvlan\","
        "\"master\":\"eth0\",\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":"
        "\"10.9.0.0/16\"}]]}}]}";
    rc = net_config_parse(NULL, ext, strlen(ext), &c, &err);
    ok(rc == 0 && !c.builtin && strcmp(c.driver, "macvlan") == 0 && c.has_subnet &&
           strcmp(c.gateway_text, "10.9.0.1") == 0 && c.mtu == 0,
       "an external plugin's conflist loads, gateway defaulted: %s", err ? err->msg : "ok");
    if (rc == 0)
      net_config_free(&c);
    ctr_err_free(&err);
  }
  {
    static const char v6[] =
        "{\"cniVersion\":\"1.0.0\",\"name\":\"six\",\"plugins\":[{\"type\":\"ptp\","
        "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"fd00::/64\"}}]}";
    rc = net_config_parse(NULL, v6, strlen(v6), &c, &err);
    ok(rc == 0 && !c.has_subnet && strcmp(c.subnet_text, "fd00::/64") == 0,
       "an external IPv6 subnet is shown, not checked");
    if (rc == 0)
      net_config_free(&c);
    ctr_err_free(&err);
  }

  static const struct {
    const char *from, *to, *why;
  } breaks[] = {
      {"\"subnet\":\"10.89.3.0/24\"", "\"subnet\":\"10.89.3.0\"", "malformed subnet"},
      {"\"subnet\":\"10.89.3.0/24\"", "\"subnet\":\"10.89.3.0/31\"", "prefix too long"},
      {"\"gateway\":\"10.89.3.1\"", "\"gateway\":\"10.89.4.1\"", "gateway outside"},
      {"\"gateway\":\"10.89.3.1\"", "\"gateway\":\"10.89.3.255\"", "gateway is broadcast"},
      {"\"gateway\":\"10.89.3.1\"", "\"gateway\":1", "gateway not a string"},
      {"\"mtu\":9000", "\"mtu\":10", "MTU too small"},
      {"\"mtu\":9000", "\"mtu\":\"9000\"", "MTU a string"},
      {"\"internal\":true", "\"internal\":1", "internal not a boolean"},
      {"\"driver\":\"bridge\"", "\"driver\":\"overlay\"", "overlay driver"},
      {"\"driver\":\"bridge\"", "\"driver\":\"x\"", "unknown driver"},
      {"\"bridge\":\"ctr-12345678\"", "\"bridge\":\"ctr-1234567890123\"", "bridge name too long"},
      {"\"bridge\":\"ctr-12345678\"", "\"bridge\":\"a/b\"", "bridge name with a slash"},
      {"\"options\":{}", "\"options\":{\"a\":1}", "option not a string"},
      {"\"name\":\"web\"", "\"name\":\"a b\"", "bad name inside"},
      {"\"cniVersion\":\"1.0.0\",", "", "no cniVersion"},
      {"\"type\":\"ctr-net\"", "\"type\":\"../x\"", "plugin type with a path"},
      {"\"ctr\":{\"created\":\"2026-01-02T03:04:05Z\"}", "\"ctr\":\"x\"",
       "metadata not an object"},
  };
  for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
    cleanup_free char *doc = strdup(good_bridge);
    char *at = strstr(doc, breaks[i].from), *text = NULL;
    if (at == NULL) {
      ok(0, "test case %s applies", breaks[i].why);
      continue;
    }
    if (asprintf(&text, "%.*s%s%s", (int)(at - doc), doc, breaks[i].to,
                 at + strlen(breaks[i].from)) < 0)
      continue;
    rc = net_config_parse(NULL, text, strlen(text), &c, &err);
    ok(rc < 0 && err && err->exit == 1, "refused: %s: %s", breaks[i].why,
       err ? err->msg : "(accepted)");
    if (rc == 0)
      net_config_free(&c);
    ctr_err_free(&err);
    free(text);
  }
  {
    static const char *junk[] = {"", "[]", "{", "{\"plugins\":[]}", "null",
                                 "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[]}",
                                 "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[1]}"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
      rc = net_config_parse(NULL, junk[i], strlen(junk[i]), &c, &err);
      ok(rc < 0 && err, "junk '%s' refused: %s", junk[i], err ? err->msg : "(accepted)");
      if (rc == 0)
        net_config_free(&c);
      ctr_err_free(&err);
    }
  }
}

static void test_store(const char *base) {
  struct ctr_paths p = {0};
  struct net_config *list = NULL, c;
  struct net_create_opts o = {0};
  ctr_err err = NULL;
  size_t n = 0;
  struct stat st;
  char **removed = NULL;
  int rc;

  if (asprintf(&p.root, "%s/root", base) < 0 || asprintf(&p.rundir, "%s/run", base) < 0)
    return;
  rc = net_config_list(&p, &list, &n, &err);
  ok(rc == 0 && n == 1 && list[0].is_default && !list[0].on_disk &&
         strcmp(list[0].bridge, NET_DEFAULT_BRIDGE) == 0,
     "an empty store lists the default network");
  ok(stat(p.root, &st) < 0, "and listing created nothing");
  net_config_list_free(list, n);
  ctr_err_free(&err);

  o.name = "web";
  rc = net_create(&p, &o, &c, &err);
  ok(rc == 0 && c.builtin && strcmp(c.subnet_text, "10.89.0.0/24") == 0 &&
         strcmp(c.gateway_text, "10.89.0.1") == 0 && c.mtu == NET_DEFAULT_MTU,
     "create web: the first /24 of the pool: %s", err ? err->msg : "ok");
  if (rc == 0)
    net_config_free(&c);
  ctr_err_free(&err);
  rc = net_config_load(&p, NET_DEFAULT_NAME, &c, &err);
  ok(rc == 0 && c.on_disk && c.created != NULL, "the default network was written with it");
  if (rc == 0)
    net_config_free(&c);
  ctr_err_free(&err);
  ok(net_default_ensure(&p, &err) == 0, "ensure after that writes nothing");
  ctr_err_free(&err);

  o.name = "web";
  rc = net_create(&p, &o, NULL, &err);
  ok(rc < 0 && err->errnum == EEXIST, "create web again: %s", err ? err->msg : "accepted");
  ctr_err_free(&err);
  o.name = "db";
  o.subnet = "10.89.0.128/25";
  rc = net_create(&p, &o, NULL, &err);
  ok(rc < 0 && strstr(err->msg, "overlaps network web"), "an overlapping subnet: %s",
     err ? err->msg : "accepted");
  ctr_err_free(&err);
  o.subnet = NULL;
  rc = net_create(&p, &o, &c, &err);
  ok(rc == 0 && strcmp(c.subnet_text, "10.89.1.0/24") == 0, "db gets 10.89.1.0/24");
  if (rc == 0)
    net_config_free(&c);
  ctr_err_free(&err);

  rc = net_config_load(&p, "nope", &c, &err);
  ok(rc < 0 && err->errnum == ENOENT && strstr(err->msg, "no such network"),
     "load of a missing network: %s", err ? err->msg : "loaded");
  ctr_err_free(&err);

  ok(net_remove(&p, "db", &err) == 0, "remove db");
  ctr_err_free(&err);
  ok(net_remove(&p, NET_DEFAULT_NAME, &err) < 0, "the default cannot be removed");
  ctr_err_free(&err);
  ok(net_prune(&p, &removed, &err) == 0 && removed[0] && strcmp(removed[0], "web") == 0 &&
         removed[1] == NULL,
     "prune removes web, and only web");
  net_names_free(removed);
  ctr_err_free(&err);
  ctr_paths_free(&p);
}

/* Ten processes ensure the default network at once: exactly one writes. */
static void test_default_race(const char *base) {
  struct ctr_paths p = {0};
  pid_t pids[10];
  int written = 0, failed = 0;
  if (asprintf(&p.root, "%s/race/root", base) < 0 || asprintf(&p.rundir, "%s/race/run", base) < 0)
    return;
  for (int i = 0; i < 10; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      ctr_err err = NULL;
      int r = net_default_ensure(&p, &err);
      _exit(r < 0 ? 2 : r);
    }
  }
  for (int i = 0; i < 10; i++) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
      written++;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed++;
  }
  ok(written == 1 && failed == 0, "10 racing callers: %d wrote the default, %d failed", written,
     failed);
  ctr_paths_free(&p);
}

int main(void) {
  char base[] = "/tmp/ctr-test-netconf.XXXXXX";
  ctr_err err = NULL;
  test_ip4();
  test_cidr_parse();
  test_cidr_math();
  test_names();
  test_parse();
  if (mkdtemp(base) != NULL) {
    test_store(base);
    test_default_race(base);
    ctr_rm_rf(AT_FDCWD, base, &err);
    ctr_err_free(&err);
  }
  return tap_done();
}
