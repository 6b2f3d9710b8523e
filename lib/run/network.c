#define _GNU_SOURCE
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tool.h"
#include "create.h"
#include "net/cidr.h"
#include "net/netconf.h"
#include "process.h"

extern char **environ;

/* ---- the options ----------------------------------------------------------- */

static bool is_special(const char *name) {
  return strcmp(name, "none") == 0 || strcmp(name, "host") == 0;
}

int run_net_opt_network(json_t *list, const char *arg, ctr_err *err) {
  cleanup_free char *copy = strdup(arg);
  char *save = NULL;
  size_t len = strlen(arg);
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "--network");
  if (len == 0 || arg[0] == ',' || arg[len - 1] == ',' || strstr(arg, ",,") != NULL)
    return ctr_usage(err, "--network '%s': want NAME[,NAME...]", arg);
  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    size_t i;
    json_t *have;
    if (strncmp(name, "container:", 10) == 0)
      return ctr_usage(err, "--network %s: joining another container's network is not supported",
                       name);
    if (!is_special(name) && net_name_check(name, err) < 0)
      return ctr_wrap(err, "--network");
    json_array_foreach(list, i, have) if (strcmp(json_string_value(have), name) == 0)
        return ctr_usage(err, "--network %s: given twice", name);
    json_array_append_new(list, json_string(name));
  }
  return 0;
}

int run_net_opt_ip(const char *opt, const char *arg, bool ipv6_ok, ctr_err *err) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, arg, buf) == 1 || (ipv6_ok && inet_pton(AF_INET6, arg, buf) == 1))
    return 0;
  return ctr_usage(err, "%s %s: not an IP%s address", opt, arg, ipv6_ok ? "" : "v4");
}

int run_net_opt_mac(const char *arg, ctr_err *err) {
  unsigned b[6];
  char tail;
  if (strlen(arg) != 17 ||
      sscanf(arg, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
             &tail) != 6)
    return ctr_usage(err, "--mac-address %s: want six hex bytes, 02:42:ac:11:00:02", arg);
  for (int i = 0; i < 17; i++)
    if ((i % 3 == 2) != (arg[i] == ':'))
      return ctr_usage(err, "--mac-address %s: want six hex bytes, 02:42:ac:11:00:02", arg);
  if (b[0] & 1)
    return ctr_usage(err, "--mac-address %s: a multicast address", arg);
  if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0)
    return ctr_usage(err, "--mac-address %s: the zero address", arg);
  return 0;
}

/* A host name of /etc/hosts: letters, digits, '-', '.', '_'. */
static bool host_name_ok(const char *s, size_t n) {
  if (n == 0 || n > 253)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
      return false;
  return true;
}

/* HOST:IP (docker's form; IP may be IPv6, or host-gateway) or HOST=IP. */
static int split_add_host(const char *arg, size_t *host_len, const char **ip) {
  const char *sep = strchr(arg, '=');
  if (sep == NULL)
    sep = strchr(arg, ':');
  if (sep == NULL)
    return -1;
  *host_len = (size_t)(sep - arg);
  *ip = sep + 1;
  return 0;
}

int run_net_opt_add_host(const char *arg, ctr_err *err) {
  size_t n;
  const char *ip;
  ctr_err e = NULL;
  if (split_add_host(arg, &n, &ip) < 0 || !host_name_ok(arg, n))
    return ctr_usage(err, "--add-host %s: want HOST:IP", arg);
  if (strcmp(ip, "host-gateway") == 0)
    return 0;
  if (run_net_opt_ip("--add-host", ip, true, &e) < 0) {
    ctr_err_free(&e);
    return ctr_usage(err, "--add-host %s: %s is not an IP address", arg, ip);
  }
  return 0;
}

struct port_spec {
  char ip[INET_ADDRSTRLEN]; /* "" for any */
  unsigned host;            /* 0: a free one */
  unsigned container;
  char proto[8];
};

static int port_number(const char *spec, const char *s, size_t n, bool zero_ok, unsigned *out,
                       ctr_err *err) {
  unsigned long v = 0;
  if (n == 0)
    return ctr_usage(err, "-p %s: a port is missing", spec);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '-')
      return ctr_usage(err, "-p %s: port ranges are not supported", spec);
    if (s[i] < '0' || s[i] > '9' || v > 65535)
      return ctr_usage(err, "-p %s: '%.*s' is not a port", spec, (int)n, s);
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535 || (v == 0 && !zero_ok))
    return ctr_usage(err, "-p %s: port %lu is out of range", spec, v);
  *out = (unsigned)v;
  return 0;
}

/* docker's -p: [IP:][HOSTPORT:]PORT[/tcp|udp|sctp]; no HOSTPORT (or 0):
 * a free one. */
static int port_parse(const char *spec, struct port_spec *o, ctr_err *err) {
  const char *slash = strchr(spec, '/'), *end = slash ? slash : spec + strlen(spec);
  const char *c1, *c2;
  memset(o, 0, sizeof(*o));
  snprintf(o->proto, sizeof(o->proto), "tcp");
  if (slash != NULL) {
    if (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0 &&
        strcmp(slash + 1, "sctp") != 0)
      return ctr_usage(err, "-p %s: the protocol is tcp, udp or sctp", spec);
    snprintf(o->proto, sizeof(o->proto), "%s", slash + 1);
  }
  if (spec[0] == '[')
    return ctr_usage(err, "-p %s: IPv6 host addresses are not supported", spec);
  c1 = memchr(spec, ':', (size_t)(end - spec));
  c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
  if (c2 != NULL && memchr(c2 + 1, ':', (size_t)(end - c2 - 1)) != NULL)
    return ctr_usage(err, "-p %s: want [IP:][HOSTPORT:]PORT[/PROTO]", spec);
  if (c2 != NULL) {
    unsigned char buf[4];
    size_t n = (size_t)(c1 - spec);
    if (n == 0 || n >= sizeof(o->ip))
      return ctr_usage(err, "-p %s: '%.*s' is not an IPv4 address", spec, (int)n, spec);
    memcpy(o->ip, spec, n);
    if (inet_pton(AF_INET, o->ip, buf) != 1)
      return ctr_usage(err, "-p %s: '%s' is not an IPv4 address", spec, o->ip);
    if (c2 > c1 + 1 && port_number(spec, c1 + 1, (size_t)(c2 - c1 - 1), true, &o->host, err) < 0)
      return -1;
    return port_number(spec, c2 + 1, (size_t)(end - c2 - 1), false, &o->container, err);
  }
  if (c1 != NULL) {
    if (port_number(spec, spec, (size_t)(c1 - spec), true, &o->host, err) < 0)
      return -1;
    return port_number(spec, c1 + 1, (size_t)(end - c1 - 1), false, &o->container, err);
  }
  return port_number(spec, spec, (size_t)(end - spec), false, &o->container, err);
}

int run_net_opt_publish(const char *spec, ctr_err *err) {
  struct port_spec ps;
  return port_parse(spec, &ps, err);
}

int run_net_settle(struct run_opts *o, ctr_err *err) {
  const char *first;
  if (json_array_size(o->networks) == 0) {
    const char *dflt = getenv("CTR_DEFAULT_NETWORK");
    if (dflt == NULL || dflt[0] == '\0')
      dflt = RUN_NET_DEFAULT;
    if (run_net_opt_network(o->networks, dflt, err) < 0)
      return ctr_wrap(err, "CTR_DEFAULT_NETWORK");
  }
  first = json_string_value(json_array_get(o->networks, 0));
  o->network = NULL;
  for (size_t i = 0; i < json_array_size(o->networks); i++) {
    const char *name = json_string_value(json_array_get(o->networks, i));
    if (is_special(name) && json_array_size(o->networks) > 1)
      return ctr_usage(err, "--network %s cannot be combined with other networks", name);
  }
  if (!is_special(first))
    return 0;
  o->network = first;
  if (json_array_size(o->publish) > 0 || o->publish_all)
    return ctr_usage(err, "conflicting options: -p/-P and --network %s", first);
  if (o->ip != NULL || o->mac != NULL)
    return ctr_usage(err, "conflicting options: --ip/--mac-address and --network %s", first);
  if (json_array_size(o->aliases) > 0)
    return ctr_usage(err, "conflicting options: --network-alias and --network %s", first);
  return 0;
}

int run_net_check(const struct ctr_paths *p, const struct run_opts *o, ctr_err *err) {
  size_t i;
  json_t *n;
  if (o->network != NULL)
    return 0; /* none or host */
  json_array_foreach(o->networks, i, n) {
    struct net_config nc;
    uint32_t ip;
    bool outside;
    if (net_config_load(p, json_string_value(n), &nc, err) < 0)
      return -1;
    outside = i == 0 && o->ip != NULL && nc.has_subnet && net_ip4_parse(o->ip, &ip) == 0 &&
              !net_cidr_contains(&nc.subnet, ip);
    if (outside) {
      ctr_usage(err, "--ip %s: not in network %s's subnet %s", o->ip, nc.name,
                nc.subnet_text ? nc.subnet_text : "");
      net_config_free(&nc);
      return -1;
    }
    net_config_free(&nc);
  }
  return 0;
}

/* -P: each of the image's ExposedPorts ("80/tcp", "53/udp", "8080") to a
 * free host port, unless a -p publishes that port already. */
static void publish_exposed(const json_t *icfg, json_t *ports) {
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(icfg, "ExposedPorts"), key, v) {
    struct port_spec want, have;
    char spec[64];
    bool taken = false;
    size_t i;
    json_t *p;
    ctr_err e = NULL;
    snprintf(spec, sizeof(spec), "%s", key);
    if (port_parse(spec, &want, &e) < 0) {
      ctr_warn("image: ExposedPorts %s: %s", key, e->msg);
      ctr_err_free(&e);
      continue;
    }
    json_array_foreach(ports, i, p) {
      if (port_parse(json_string_value(p), &have, &e) < 0)
        ctr_err_free(&e);
      else if (have.container == want.container && strcmp(have.proto, want.proto) == 0)
        taken = true;
    }
    if (taken)
      continue;
    snprintf(spec, sizeof(spec), "0:%u/%s", want.container, want.proto);
    json_array_append_new(ports, json_string(spec));
  }
}

static json_t *copy_or_empty(const json_t *a) {
  return a ? json_deep_copy(a) : json_array();
}

int run_net_request(const struct run_opts *o, const json_t *icfg, json_t *state, ctr_err *err) {
  json_t *nets = json_array(), *ports = copy_or_empty(o->publish);
  size_t i;
  json_t *n;
  if (nets == NULL || ports == NULL) {
    json_decref(nets);
    json_decref(ports);
    return ctr_fail(err, ENOMEM, "networks");
  }
  if (o->network == NULL) {
    json_array_foreach(o->networks, i, n) {
      json_array_append_new(nets, json_pack("{s:O, s:o, s:s?, s:s?}", "name", n, "aliases",
                                            copy_or_empty(o->aliases), "ip",
                                            i == 0 ? o->ip : NULL, "mac", i == 0 ? o->mac : NULL));
    }
    if (o->publish_all)
      publish_exposed(icfg, ports);
  }
  json_object_set_new(state, "network_mode", json_string(o->network ? o->network : "bridge"));
  json_object_set_new(state, "networks", nets);
  json_object_set_new(state, "ports", ports);
  json_object_set_new(state, "dns", copy_or_empty(o->dns));
  json_object_set_new(state, "extra_hosts", copy_or_empty(o->add_hosts));
  return 0;
}

/* ---- hosts and resolv.conf -------------------------------------------------- */

/* An attachment's address without a "/prefix", into buf; NULL if none. */
static const char *att_ip(const json_t *a, char *buf, size_t len) {
  const char *ip = ctr_json_str(a, "ip");
  if (ip == NULL || ip[0] == '\0')
    return NULL;
  snprintf(buf, len, "%.*s", (int)strcspn(ip, "/"), ip);
  return buf;
}

static const char *att_gateway(const json_t *a) {
  const char *gw = ctr_json_str(a, "gateway");
  return gw && gw[0] ? gw : NULL;
}

static int write_hosts(int dfd, const json_t *state, const char *hostname, const json_t *att,
                       ctr_err *err) {
  cleanup_free char *text = NULL;
  size_t len = 0, i;
  json_t *h;
  const json_t *first = json_array_get(att, 0);
  const char *name = ctr_json_str(state, "name"), *id = ctr_json_str(state, "id");
  char ip[64], shortid[13];
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return ctr_fail(err, errno, "hosts");
  if (hostname == NULL || hostname[0] == '\0')
    hostname = "localhost";
  snprintf(shortid, sizeof(shortid), "%s", id ? id : "");
  fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n", f);
  if (att_ip(first, ip, sizeof(ip)) != NULL) {
    /* its own names: the host name, the container's name, its short id */
    fprintf(f, "%s\t%s", ip, hostname);
    if (name && strcmp(name, hostname) != 0)
      fprintf(f, " %s", name);
    if (shortid[0] && strcmp(shortid, hostname) != 0 && (!name || strcmp(shortid, name) != 0))
      fprintf(f, " %s", shortid);
    fputc('\n', f);
  } else {
    fprintf(f, "127.0.1.1\t%s\n", hostname);
  }
  json_array_foreach(json_object_get(state, "extra_hosts"), i, h) {
    const char *spec = json_string_value(h), *addr;
    size_t n;
    if (spec == NULL || split_add_host(spec, &n, &addr) < 0)
      continue;
    if (strcmp(addr, "host-gateway") == 0 && (addr = att_gateway(first)) == NULL)
      continue; /* no network, no gateway to name */
    fprintf(f, "%s\t%.*s\n", addr, (int)n, spec);
  }
  if (fclose(f) != 0)
    return ctr_fail(err, ENOMEM, "hosts");
  return ctr_atomic_write(dfd, "hosts", text, len, 0644, false, err);
}

static bool is_nameserver(const char *l) {
  return strncmp(l, "nameserver", 10) == 0 && (l[10] == ' ' || l[10] == '\t');
}

/* The host's resolv.conf with its nameservers replaced by servers (when
 * not empty), or else less the loopback ones that mean nothing in
 * another network namespace (all kept with host_net). */
static int write_resolv(int dfd, const json_t *servers, bool host_net, ctr_err *err) {
  cleanup_free char *host = NULL, *text = NULL;
  size_t hlen = 0, len = 0, i;
  json_t *s;
  ctr_err e = NULL;
  FILE *f;
  if (ctr_read_file(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &host, &hlen, &e) < 0)
    ctr_err_free(&e);
  f = open_memstream(&text, &len);
  if (f == NULL)
    return ctr_fail(err, errno, "resolv.conf");
  json_array_foreach(servers, i, s) fprintf(f, "nameserver %s\n", json_string_value(s));
  for (char *save = NULL, *l = host ? strtok_r(host, "\n", &save) : NULL; l;
       l = strtok_r(NULL, "\n", &save)) {
    if (is_nameserver(l) && (json_array_size(servers) > 0 ||
                             (!host_net && (strstr(l, " 127.") || strstr(l, "\t127.") ||
                                            strstr(l, " ::1") || strstr(l, "\t::1")))))
      continue;
    fprintf(f, "%s\n", l);
  }
  if (fclose(f) != 0)
    return ctr_fail(err, ENOMEM, "resolv.conf");
  return ctr_atomic_write(dfd, "resolv.conf", text, len, 0644, false, err);
}

int run_net_write_etc(int dfd, const json_t *state, const char *hostname,
                      const json_t *attachments, bool host_net, ctr_err *err) {
  cleanup_json json_t *servers = NULL;
  const json_t *dns = json_object_get(state, "dns");
  const char *gw = att_gateway(json_array_get(attachments, 0));
  if (json_array_size(dns) > 0)
    servers = json_incref((json_t *)dns);
  else if (gw != NULL) /* ctr-net answers names on the network's gateway */
    servers = json_pack("[s]", gw);
  else
    servers = json_array();
  if (write_hosts(dfd, state, hostname, attachments, err) < 0)
    return -1;
  return write_resolv(dfd, servers, host_net, err);
}

/* ---- running ctr-net ---------------------------------------------------------- */

/* ctr-net with the store's paths, then args (NULL-ended). Its stdout in
 * *out (NULL: dropped); when it fails, its own message in err. */
static int ctr_net_run(const struct ctr_paths *p, const char *const *args, char **out,
                       ctr_err *err) {
  return ctr_tool_run(p, "ctr-net", args, out, NULL, err);
}

/* ---- the pin ------------------------------------------------------------------ */

static char *pin_path(const struct ctr_paths *p, const char *id) {
  char *path = NULL;
  return asprintf(&path, "%s/netns/%s", p->rundir, id) < 0 ? NULL : path;
}

static char *live_path(const struct ctr_paths *p, const char *id) {
  char *path = NULL;
  return asprintf(&path, "%s/networks/%s.json", p->rundir, id) < 0 ? NULL : path;
}

/* A bind mount of the namespace on an empty file keeps it, and names it
 * for `nsenter --net=` and ctr-net, as `ip netns add` does. */
static int pin_netns(const struct ctr_paths *p, const char *id, pid_t pid, char **out,
                     ctr_err *err) {
  cleanup_free char *dir = NULL, *path = pin_path(p, id);
  char src[64];
  int fd;
  if (path == NULL || asprintf(&dir, "%s/netns", p->rundir) < 0)
    return ctr_fail(err, ENOMEM, "netns");
  if (ctr_mkdir_p(AT_FDCWD, dir, 0755, err) < 0)
    return -1;
  fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0)
    return ctr_fail(err, errno, "create %s", path);
  close(fd);
  snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
  if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
    int saved = errno;
    unlink(path);
    return ctr_fail(err, saved, "pin the network namespace at %s", path);
  }
  *out = path;
  path = NULL;
  return 0;
}

static void unpin(const struct ctr_paths *p, const char *id) {
  cleanup_free char *path = pin_path(p, id);
  if (path == NULL)
    return;
  /* a mount stacked by two runs at once would leave one: take them all */
  while (umount2(path, MNT_DETACH) == 0)
    ;
  if (unlink(path) < 0 && errno != ENOENT)
    ctr_debug("remove %s: %s", path, strerror(errno));
}

static bool exists(char *path) {
  bool yes = path != NULL && access(path, F_OK) == 0;
  free(path);
  return yes;
}

/* What a run left behind: attachments ctr-net holds, or the pin. */
static bool leftovers(const struct ctr_paths *p, const char *id) {
  return exists(live_path(p, id)) || exists(pin_path(p, id));
}

/* ---- a start ------------------------------------------------------------------- */

static int release_now(const struct ctr_paths *p, const char *id, ctr_err *err) {
  const char *args[] = {"disconnect", "--all", id, NULL};
  int ret = ctr_net_run(p, args, NULL, err);
  unpin(p, id);
  return ret;
}

void run_net_release(const struct ctr_paths *p, const struct run_container *c) {
  ctr_err e = NULL;
  if (!leftovers(p, c->id))
    return;
  if (release_now(p, c->id, &e) < 0) {
    ctr_warn("container %.12s: %s", c->id, e->msg);
    ctr_err_free(&e);
  }
}

/* `ctr-net connect` of network number i (eth<i>); its record in *out. */
static int connect_one(const struct run_net_start *ns, const char *pin, size_t i,
                       const json_t *net, json_t **out, ctr_err *err) {
  const json_t *ports = i == 0 ? json_object_get(ns->c->state, "ports") : NULL;
  const json_t *aliases = json_object_get(net, "aliases");
  cleanup_free const char **args = NULL;
  cleanup_free char *text = NULL;
  char ifname[24];
  size_t n = 0, k;
  json_t *v;
  json_error_t jerr;
  const char *name = ctr_json_str(net, "name");
  if (name == NULL)
    return ctr_fail(err, 0, "state.json: a network without a name");
  args = calloc(16 + 2 * (json_array_size(aliases) + json_array_size(ports)), sizeof(*args));
  if (args == NULL)
    return ctr_fail(err, ENOMEM, "connect %s", name);
  snprintf(ifname, sizeof(ifname), "eth%zu", i);
  args[n++] = "connect";
  args[n++] = "--netns";
  args[n++] = pin;
  args[n++] = "--ifname";
  args[n++] = ifname;
  args[n++] = "--format";
  args[n++] = "json";
  if (ctr_json_str(net, "ip") != NULL) {
    args[n++] = "--ip";
    args[n++] = ctr_json_str(net, "ip");
  }
  if (ctr_json_str(net, "mac") != NULL) {
    args[n++] = "--mac-address";
    args[n++] = ctr_json_str(net, "mac");
  }
  json_array_foreach(aliases, k, v) {
    if (json_is_string(v)) {
      args[n++] = "--alias";
      args[n++] = json_string_value(v);
    }
  }
  /* published ports go with the first network, the one of the default
   * route, as in docker */
  json_array_foreach(ports, k, v) {
    if (json_is_string(v)) {
      args[n++] = "--publish";
      args[n++] = json_string_value(v);
    }
  }
  args[n++] = name;
  args[n++] = ns->c->id;
  args[n] = NULL;
  if (ctr_net_run(ns->p, args, &text, err) < 0)
    return -1;
  *out = json_loads(text ? text : "", 0, &jerr);
  if (!json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    return ctr_fail(err, 0, "connect %s: ctr-net's answer is not a JSON object", name);
  }
  return 0;
}

int run_net_attach(void *arg, pid_t pid, ctr_err *err) {
  struct run_net_start *ns = arg;
  const json_t *nets = json_object_get(ns->c->state, "networks");
  cleanup_json json_t *results = json_array();
  cleanup_free char *pin = NULL;
  cleanup_close int dfd = -1;
  size_t i;
  json_t *net;
  ctr_err e = NULL;
  /* a run that crashed left these: ctr-net gc would take them too */
  if (leftovers(ns->p, ns->c->id) && release_now(ns->p, ns->c->id, &e) < 0) {
    ctr_warn("container %.12s: %s", ns->c->id, e->msg);
    ctr_err_free(&e);
  }
  if (pin_netns(ns->p, ns->c->id, pid, &pin, err) < 0)
    return -1;
  json_array_foreach(nets, i, net) {
    json_t *one = NULL;
    if (connect_one(ns, pin, i, net, &one, err) < 0)
      goto fail;
    json_array_append_new(results, one);
  }
  dfd = ctr_open_dir(AT_FDCWD, ns->c->dir, err);
  if (dfd < 0 || run_net_write_etc(dfd, ns->c->state, ctr_json_str(ns->config, "hostname"),
                                   results, false, err) < 0)
    goto fail;
  return 0;
fail:
  if (release_now(ns->p, ns->c->id, &e) < 0) {
    ctr_debug("container %.12s: %s", ns->c->id, e->msg);
    ctr_err_free(&e);
  }
  return -1;
}

void run_net_start_init(struct run_net_start *ns, const struct ctr_paths *p,
                        struct run_container *c, const json_t *config, struct run_start *s) {
  ns->p = p;
  ns->c = c;
  ns->config = config;
  if (json_array_size(json_object_get(c->state, "networks")) > 0) {
    s->before_start = run_net_attach;
    s->before_start_arg = ns;
  } else {
    run_net_release(p, c);
  }
}

/* ---- what it holds now ---------------------------------------------------------- */

json_t *run_net_live(const struct ctr_paths *p, const char *id) {
  cleanup_free char *path = live_path(p, id), *buf = NULL;
  size_t len = 0;
  ctr_err e = NULL;
  json_t *doc;
  if (path == NULL || ctr_read_file(AT_FDCWD, path, 4 << 20, &buf, &len, &e) < 0) {
    ctr_err_free(&e);
    return json_array();
  }
  doc = json_loadb(buf, len, 0, NULL);
  if (json_is_object(doc) && json_is_array(json_object_get(doc, "attachments"))) {
    json_t *a = json_incref(json_object_get(doc, "attachments"));
    json_decref(doc);
    return a;
  }
  if (!json_is_array(doc)) {
    json_decref(doc);
    return json_array();
  }
  return doc;
}

static const char *port_host_ip(const json_t *pm) {
  const char *ip = ctr_json_str(pm, "hostIP");
  return ip && ip[0] ? ip : "0.0.0.0";
}

static const char *port_proto(const json_t *pm) {
  const char *proto = ctr_json_str(pm, "protocol");
  return proto && proto[0] ? proto : "tcp";
}

void run_net_ports_text(const json_t *attachments, char *out, size_t len) {
  size_t used = 0, i, k;
  json_t *a, *pm;
  out[0] = '\0';
  json_array_foreach(attachments, i, a) {
    json_array_foreach(json_object_get(a, "ports"), k, pm) {
      int n = snprintf(out + used, len - used, "%s%s:%lld->%lld/%s", used ? ", " : "",
                       port_host_ip(pm), (long long)json_integer_value(json_object_get(pm, "hostPort")),
                       (long long)json_integer_value(json_object_get(pm, "containerPort")),
                       port_proto(pm));
      if (n < 0 || (size_t)n >= len - used) {
        out[used] = '\0';
        return;
      }
      used += (size_t)n;
    }
  }
}

static const json_t *attachment_of(const json_t *attachments, const char *network) {
  size_t i;
  json_t *a;
  json_array_foreach(attachments, i, a) {
    const char *n = ctr_json_str(a, "network");
    if (n != NULL && strcmp(n, network) == 0)
      return a;
  }
  return NULL;
}

/* One network's entry, as docker inspect prints it. */
static json_t *endpoint(const json_t *req, const json_t *a) {
  char ip[64];
  const char *mac = ctr_json_str(a, "mac");
  json_t *aliases = json_object_get(req ? req : a, "aliases");
  json_t *e = json_pack("{s:s, s:I, s:s, s:s, s:O, s:s, s:s}", "IPAddress",
                        att_ip(a, ip, sizeof(ip)) ? ip : "", "IPPrefixLen",
                        (json_int_t)json_integer_value(json_object_get(a, "prefix")), "Gateway",
                        att_gateway(a) ? att_gateway(a) : "", "MacAddress", mac ? mac : "",
                        "Aliases", aliases ? aliases : json_null(), "InterfaceName",
                        ctr_json_str(a, "ifname") ? ctr_json_str(a, "ifname") : "", "Driver",
                        ctr_json_str(a, "driver") ? ctr_json_str(a, "driver") : "");
  if (req != NULL && ctr_json_str(req, "ip") != NULL)
    json_object_set_new(e, "IPAMConfig", json_pack("{s:s}", "IPv4Address", ctr_json_str(req, "ip")));
  return e;
}

json_t *run_net_settings(const struct ctr_paths *p, const json_t *state,
                         const json_t *attachments, bool running) {
  json_t *nets = json_object(), *ports = json_object(), *s;
  cleanup_free char *pin = pin_path(p, ctr_json_str(state, "id") ? ctr_json_str(state, "id") : "");
  const json_t *first = json_array_get(attachments, 0);
  size_t i, k;
  json_t *req, *a, *pm;
  json_array_foreach(json_object_get(state, "networks"), i, req) {
    const char *name = ctr_json_str(req, "name");
    if (name != NULL)
      json_object_set_new(nets, name, endpoint(req, attachment_of(attachments, name)));
  }
  /* and those `ctr-net connect` added while it runs */
  json_array_foreach(attachments, i, a) {
    const char *name = ctr_json_str(a, "network");
    if (name != NULL && json_object_get(nets, name) == NULL)
      json_object_set_new(nets, name, endpoint(NULL, a));
    json_array_foreach(json_object_get(a, "ports"), k, pm) {
      char key[32], port[16];
      json_t *list;
      snprintf(key, sizeof(key), "%lld/%s",
               (long long)json_integer_value(json_object_get(pm, "containerPort")), port_proto(pm));
      snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(json_object_get(pm, "hostPort")));
      if ((list = json_object_get(ports, key)) == NULL) {
        list = json_array();
        json_object_set_new(ports, key, list);
      }
      json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", port_host_ip(pm), "HostPort", port));
    }
  }
  {
    char ip[64];
    const char *mode = ctr_json_str(state, "network_mode");
    const char *mac = ctr_json_str(first, "mac");
    s = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o}", "NetworkMode", mode ? mode : "",
                  "SandboxKey", running && pin && access(pin, F_OK) == 0 ? pin : "", "IPAddress",
                  att_ip(first, ip, sizeof(ip)) ? ip : "", "IPPrefixLen",
                  (json_int_t)json_integer_value(json_object_get(first, "prefix")), "Gateway",
                  att_gateway(first) ? att_gateway(first) : "", "MacAddress", mac ? mac : "",
                  "Ports", ports, "Networks", nets);
  }
  return s;
}
