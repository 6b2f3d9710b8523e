#define _GNU_SOURCE
#include "cni.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"

#define STDIN_MAX (4 << 20) /* a network configuration is a few KiB */

static const char *const versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                       "1.1.0"};
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

/* ---- error codes ----------------------------------------------------------- */

int net_fail(ctr_err *err, int code, const char *fmt, ...) {
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  ctr_fail(err, 0, "%s", msg ? msg : "out of memory");
  free(msg);
  if (err != NULL && *err != NULL) {
    (*err)->errnum = -code;
    if (code == NET_CNI_E_CONFIG || code == NET_CNI_E_FIELD ||
        code == NET_CNI_E_ENV)
      (*err)->exit = 2; /* bad input, for tools that print it themselves */
  }
  return -1;
}

int net_cni_code(const ctr_err err) {
  if (err != NULL && err->errnum < 0)
    return -err->errnum;
  return NET_CNI_E_FAILED;
}

/* ---- versions ---------------------------------------------------------------- */

static int version_index(const char *v) {
  for (size_t i = 0; v != NULL && i < NVERSIONS; i++)
    if (strcmp(v, versions[i]) == 0)
      return (int)i;
  return -1;
}

bool net_cni_version_supported(const char *v) { return version_index(v) >= 0; }

json_t *net_cni_version_info(void) {
  json_t *list = json_array();
  for (size_t i = 0; i < NVERSIONS; i++)
    json_array_append_new(list, json_string(versions[i]));
  return json_pack("{s:s, s:o}", "cniVersion", NET_CNI_VERSION,
                   "supportedVersions", list);
}

/* ---- the environment ----------------------------------------------------------- */

static const struct {
  const char *name;
  enum net_cni_command cmd;
} commands[] = {
    {"ADD", NET_CNI_ADD},     {"DEL", NET_CNI_DEL},
    {"CHECK", NET_CNI_CHECK}, {"VERSION", NET_CNI_VERSION_CMD},
    {"GC", NET_CNI_GC},       {"STATUS", NET_CNI_STATUS},
};

/* The spec's container id: an alphanumeric, then alphanumerics, '_', '.',
 * '-'. */
static bool id_valid(const char *s) {
  size_t n = 0;
  if (s == NULL || !isalnum((unsigned char)s[0]))
    return false;
  for (; s[n]; n++)
    if (!isalnum((unsigned char)s[n]) && !strchr("_.-", s[n]))
      return false;
  return n <= 1024;
}

/* What Linux takes as an interface name. */
static bool ifname_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n >= NET_IFNAMSIZ || strcmp(s, ".") == 0 ||
      strcmp(s, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
        !isprint((unsigned char)s[i]))
      return false;
  return true;
}

static int parse_mac(const char *text, char out[NET_MAC_STRLEN], int code,
                     const char *what, ctr_err *err) {
  unsigned char mac[6];
  if (net_mac_parse(text, mac, err) < 0)
    return net_fail(err, code, "%s: %s", what, (*err)->msg);
  snprintf(out, NET_MAC_STRLEN, "%s", text);
  return 0;
}

static int parse_cni_args(const char *args, uint32_t *ip,
                          char mac[NET_MAC_STRLEN], ctr_err *err) {
  cleanup_free char *copy = args ? strdup(args) : NULL;
  char *save = NULL;
  if (args == NULL || args[0] == '\0')
    return 0;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "CNI_ARGS");
  for (char *kv = strtok_r(copy, ";", &save); kv != NULL;
       kv = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
      return net_fail(err, NET_CNI_E_ENV,
                      "CNI_ARGS: '%s' is not KEY=VALUE", kv);
    *eq = '\0';
    if (strcmp(kv, "IP") == 0 && net_ip4_parse(eq + 1, ip) < 0)
      return net_fail(err, NET_CNI_E_ENV,
                      "CNI_ARGS: IP=%s is not an IPv4 address", eq + 1);
    if (strcmp(kv, "MAC") == 0 &&
        parse_mac(eq + 1, mac, NET_CNI_E_ENV, "CNI_ARGS: MAC", err) < 0)
      return -1;
  }
  return 0;
}

static int parse_env(const struct net_cni_env *env,
                     struct net_cni_request *req, ctr_err *err) {
  enum net_cni_command c = req->command;
  if (c == NET_CNI_GC || c == NET_CNI_STATUS)
    return 0;
  if (env->containerid == NULL || env->containerid[0] == '\0')
    return net_fail(err, NET_CNI_E_ENV, "CNI_CONTAINERID is not set");
  if (!id_valid(env->containerid))
    return net_fail(err, NET_CNI_E_ENV,
                    "CNI_CONTAINERID '%s' is not a valid container id "
                    "(letters, digits, '_', '.', '-', starting with a letter "
                    "or digit)",
                    env->containerid);
  if (env->ifname == NULL || env->ifname[0] == '\0')
    return net_fail(err, NET_CNI_E_ENV, "CNI_IFNAME is not set");
  if (!ifname_valid(env->ifname))
    return net_fail(err, NET_CNI_E_ENV,
                    "CNI_IFNAME '%s' is not a valid interface name",
                    env->ifname);
  if ((env->netns == NULL || env->netns[0] == '\0') && c != NET_CNI_DEL)
    return net_fail(err, NET_CNI_E_ENV, "CNI_NETNS is not set");
  req->containerid = env->containerid;
  req->ifname = env->ifname;
  req->netns = env->netns && env->netns[0] ? env->netns : NULL;
  return parse_cni_args(env->args, &req->ip, req->mac, err);
}

/* ---- stdin -------------------------------------------------------------------------- */

static int json_int_field(const json_t *o, const char *key, long min, long max,
                          long dflt, long *out) {
  const json_t *v = json_object_get(o, key);
  if (v == NULL) {
    *out = dflt;
    return dflt < min ? -1 : 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < min ||
      json_integer_value(v) > max)
    return -1;
  *out = (long)json_integer_value(v);
  return 0;
}

int net_cni_parse_ports(const json_t *mappings, struct net_port_mapping **out,
                        size_t *n, ctr_err *err) {
  const json_t *m;
  size_t i;
  struct net_port_mapping *p;
  *out = NULL;
  *n = 0;
  if (mappings == NULL || json_is_null(mappings))
    return 0;
  if (!json_is_array(mappings))
    return net_fail(err, NET_CNI_E_CONFIG,
                    "runtimeConfig.portMappings: not an array");
  if (json_array_size(mappings) == 0)
    return 0;
  p = calloc(json_array_size(mappings), sizeof(*p));
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "port mappings");
  json_array_foreach(mappings, i, m) {
    const char *proto = ctr_json_str(m, "protocol");
    const json_t *hip = json_object_get(m, "hostIP");
    long hp, cp;
    if (!json_is_object(m)) {
      free(p);
      return net_fail(err, NET_CNI_E_CONFIG,
                      "runtimeConfig.portMappings[%zu]: not an object", i);
    }
    if (json_int_field(m, "hostPort", 1, 65535, 0, &hp) < 0 ||
        json_int_field(m, "containerPort", 1, 65535, 0, &cp) < 0) {
      free(p);
      return net_fail(err, NET_CNI_E_CONFIG,
                      "runtimeConfig.portMappings[%zu]: hostPort and "
                      "containerPort must be integers 1-65535",
                      i);
    }
    p[i].host_port = (uint16_t)hp;
    p[i].container_port = (uint16_t)cp;
    if (proto == NULL && json_object_get(m, "protocol") == NULL)
      proto = "tcp";
    if (proto != NULL && strcasecmp(proto, "tcp") == 0)
      p[i].proto = IPPROTO_TCP;
    else if (proto != NULL && strcasecmp(proto, "udp") == 0)
      p[i].proto = IPPROTO_UDP;
    else if (proto != NULL && strcasecmp(proto, "sctp") == 0)
      p[i].proto = IPPROTO_SCTP;
    else {
      free(p);
      return net_fail(err, NET_CNI_E_CONFIG,
                      "runtimeConfig.portMappings[%zu].protocol: want tcp, "
                      "udp or sctp",
                      i);
    }
    if (hip != NULL && !json_is_null(hip)) {
      const char *s = json_string_value(hip);
      if (s != NULL && strchr(s, ':') != NULL) {
        free(p);
        return net_fail(err, NET_CNI_E_FIELD,
                        "runtimeConfig.portMappings[%zu].hostIP \"%s\": IPv6 "
                        "is not yet supported",
                        i, s);
      }
      if (s == NULL ||
          (s[0] != '\0' && strcmp(s, "0.0.0.0") != 0 &&
           net_ip4_parse(s, &p[i].host_ip) < 0)) {
        free(p);
        return net_fail(err, NET_CNI_E_CONFIG,
                        "runtimeConfig.portMappings[%zu].hostIP: not an IPv4 "
                        "address",
                        i);
      }
    }
    for (size_t j = 0; j < i; j++)
      if (p[j].proto == p[i].proto && p[j].host_port == p[i].host_port) {
        free(p);
        return net_fail(err, NET_CNI_E_CONFIG,
                        "runtimeConfig.portMappings[%zu]: host port %ld "
                        "published twice",
                        i, hp);
      }
  }
  *out = p;
  *n = json_array_size(mappings);
  return 0;
}

/* prevResult's address in our subnet, if it lists one. */
static int parse_prev_result(struct net_cni_request *req, ctr_err *err) {
  const json_t *prev = json_object_get(req->conf, "prevResult"), *ip;
  size_t i;
  if (prev == NULL || json_is_null(prev))
    return 0;
  if (!json_is_object(prev))
    return net_fail(err, NET_CNI_E_CONFIG, "prevResult: not an object");
  req->prev_result = prev;
  json_array_foreach(json_object_get(prev, "ips"), i, ip) {
    const char *a = ctr_json_str(ip, "address");
    char buf[32];
    const char *slash;
    struct net_cidr host;
    uint32_t addr;
    if (a == NULL || (slash = strchr(a, '/')) == NULL ||
        (size_t)(slash - a) >= NET_IP4_STRLEN)
      continue;
    snprintf(buf, sizeof(buf), "%.*s", (int)(slash - a), a);
    if (net_ip4_parse(buf, &addr) < 0)
      continue;
    snprintf(buf, sizeof(buf), "0.0.0.0%s", slash);
    if (net_cidr_parse(buf, &host, NULL) < 0 ||
        !net_cidr_contains(&req->bridge.subnet, addr))
      continue;
    req->prev_ip = addr;
    req->prev_prefix = host.prefix;
    break;
  }
  return 0;
}

static int parse_attachments(struct net_cni_request *req, ctr_err *err) {
  const json_t *list = json_object_get(req->conf, "cni.dev/valid-attachments");
  const json_t *a;
  size_t i;
  if (list == NULL) /* the name of an early draft, which libcni also sends */
    list = json_object_get(req->conf, "cni.dev/attachments");
  if (!json_is_array(list))
    return net_fail(err, NET_CNI_E_CONFIG,
                    "cni.dev/valid-attachments: %s",
                    list ? "not an array" : "missing");
  req->keep = calloc(json_array_size(list) + 1, sizeof(*req->keep));
  if (req->keep == NULL)
    return ctr_fail(err, ENOMEM, "attachments");
  json_array_foreach(list, i, a) {
    const char *id = ctr_json_str(a, "containerID");
    const char *ifname = ctr_json_str(a, "ifname");
    if (id == NULL || ifname == NULL)
      return net_fail(err, NET_CNI_E_CONFIG,
                      "cni.dev/valid-attachments[%zu]: want containerID and "
                      "ifname strings",
                      i);
    req->keep[req->nkeep++] = (struct net_attachment){id, ifname};
  }
  return 0;
}

static int parse_command(const struct net_cni_env *env,
                         struct net_cni_request *req, ctr_err *err) {
  if (env->command == NULL || env->command[0] == '\0')
    return net_fail(err, NET_CNI_E_ENV, "CNI_COMMAND is not set");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(env->command, commands[i].name) == 0) {
      req->command = commands[i].cmd;
      return 0;
    }
  return net_fail(err, NET_CNI_E_ENV,
                  "CNI_COMMAND: unknown command '%.32s' (want ADD, DEL, "
                  "CHECK, VERSION, GC or STATUS)",
                  env->command);
}

static int parse_version(struct net_cni_request *req, ctr_err *err) {
  const json_t *v = json_object_get(req->conf, "cniVersion");
  int idx;
  if (v == NULL)
    return net_fail(err, NET_CNI_E_CONFIG, "cniVersion: missing");
  if (!json_is_string(v))
    return net_fail(err, NET_CNI_E_CONFIG, "cniVersion: not a string");
  idx = version_index(json_string_value(v));
  if (idx < 0)
    return net_fail(err, NET_CNI_E_VERSION,
                    "cniVersion \"%.32s\" is not supported (supported: 0.3.0, "
                    "0.3.1, 0.4.0, 1.0.0, 1.1.0)",
                    json_string_value(v));
  if (req->command == NET_CNI_CHECK && idx < version_index("0.4.0"))
    return net_fail(err, NET_CNI_E_VERSION,
                    "cniVersion %s does not define CHECK (0.4.0 and later do)",
                    versions[idx]);
  if ((req->command == NET_CNI_GC || req->command == NET_CNI_STATUS) &&
      idx < version_index("1.1.0"))
    return net_fail(err, NET_CNI_E_VERSION,
                    "cniVersion %s does not define %s (1.1.0 does)",
                    versions[idx],
                    req->command == NET_CNI_GC ? "GC" : "STATUS");
  return 0;
}

int net_cni_parse(const struct net_cni_env *env, const char *in, size_t len,
                  struct net_cni_request *req, ctr_err *err) {
  json_error_t je;
  const json_t *rc;
  memset(req, 0, sizeof(*req));
  snprintf(req->version, sizeof(req->version), "%s", NET_CNI_VERSION);
  req->conf = len > 0 ? json_loadb(in, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je) : NULL;
  /* answer errors in the caller's version when it is one we speak */
  if (json_is_object(req->conf) &&
      net_cni_version_supported(ctr_json_str(req->conf, "cniVersion")))
    snprintf(req->version, sizeof(req->version), "%s",
             ctr_json_str(req->conf, "cniVersion"));
  if (parse_command(env, req, err) < 0)
    return -1;
  if (req->command == NET_CNI_VERSION_CMD)
    return 0; /* needs nothing else */
  if (len == 0)
    return net_fail(err, NET_CNI_E_DECODE,
                    "stdin: no network configuration");
  if (req->conf == NULL)
    return net_fail(err, NET_CNI_E_DECODE,
                    "stdin: invalid JSON at line %d: %s", je.line, je.text);
  if (!json_is_object(req->conf))
    return net_fail(err, NET_CNI_E_DECODE,
                    "stdin: the network configuration is not a JSON object");
  if (parse_version(req, err) < 0 || parse_env(env, req, err) < 0 ||
      net_bridge_conf_parse(req->conf, &req->bridge, err) < 0)
    return -1;
  rc = json_object_get(req->conf, "runtimeConfig");
  if (rc != NULL && !json_is_object(rc) && !json_is_null(rc))
    return net_fail(err, NET_CNI_E_CONFIG, "runtimeConfig: not an object");
  if (req->command == NET_CNI_ADD && json_object_get(rc, "mac") != NULL &&
      parse_mac(ctr_json_str(rc, "mac"), req->mac, NET_CNI_E_CONFIG,
                "runtimeConfig.mac", err) < 0)
    return -1;
  if (req->command == NET_CNI_ADD || req->command == NET_CNI_CHECK)
    if (net_cni_parse_ports(json_object_get(rc, "portMappings"), &req->ports,
                            &req->nports, err) < 0)
      return -1;
  if (parse_prev_result(req, err) < 0)
    return -1;
  if (req->command == NET_CNI_GC)
    return parse_attachments(req, err);
  return 0;
}

void net_cni_request_free(struct net_cni_request *req) {
  json_decref(req->conf);
  net_bridge_conf_free(&req->bridge);
  free(req->ports);
  free(req->keep);
  memset(req, 0, sizeof(*req));
}

/* ---- answers ------------------------------------------------------------------------ */

static json_t *iface(const struct net_link_info *l, const char *sandbox) {
  json_t *o = json_pack("{s:s}", "name", l->name);
  if (o != NULL && l->mac[0])
    json_object_set_new(o, "mac", json_string(l->mac));
  if (o != NULL && sandbox != NULL)
    json_object_set_new(o, "sandbox", json_string(sandbox));
  return o;
}

/* prev[key] as an array we may append to (made when missing). */
static json_t *list_of(json_t *res, const char *key) {
  json_t *a = json_object_get(res, key);
  if (!json_is_array(a)) {
    a = json_array();
    json_object_set_new(res, key, a);
  }
  return a;
}

json_t *net_cni_result(const struct net_attach_result *r, const char *sandbox,
                       const char *version, const json_t *prev) {
  json_t *res = prev ? json_deep_copy(prev) : json_object();
  json_t *ifs, *ips, *routes, *ip;
  char addr[NET_IP4_STRLEN + 4], gw[NET_IP4_STRLEN];
  size_t base;
  if (res == NULL)
    return NULL;
  /* cniVersion first, as every reader prints it */
  json_object_del(res, "cniVersion");
  {
    json_t *ordered = json_pack("{s:s}", "cniVersion", version);
    json_object_update(ordered, res);
    json_decref(res);
    res = ordered;
  }
  ifs = list_of(res, "interfaces");
  base = json_array_size(ifs);
  json_array_append_new(ifs, iface(&r->bridge, NULL));
  json_array_append_new(ifs, iface(&r->host, NULL));
  json_array_append_new(ifs, iface(&r->container, sandbox));
  net_ip4_format(r->ip, addr);
  snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), "/%u", r->prefix);
  net_ip4_format(r->gateway, gw);
  ips = list_of(res, "ips");
  ip = json_object();
  if (version_index(version) < version_index("1.0.0"))
    json_object_set_new(ip, "version", json_string("4"));
  json_object_set_new(ip, "address", json_string(addr));
  json_object_set_new(ip, "gateway", json_string(gw));
  json_object_set_new(ip, "interface", json_integer((json_int_t)base + 2));
  json_array_append_new(ips, ip);
  routes = list_of(res, "routes");
  if (r->default_route)
    json_array_append_new(
        routes, json_pack("{s:s, s:s}", "dst", "0.0.0.0/0", "gw", gw));
  if (!json_is_object(json_object_get(res, "dns")))
    json_object_set_new(res, "dns", json_object());
  return res;
}

json_t *net_cni_error(const char *version, int code, const char *msg,
                      const char *details) {
  json_t *e = json_pack("{s:s, s:i, s:s}", "cniVersion", version, "code", code,
                        "msg", msg ? msg : "out of memory");
  if (e != NULL && details != NULL && details[0])
    json_object_set_new(e, "details", json_string(details));
  return e;
}

/* ---- the plugin --------------------------------------------------------------------- */

static int print_json(json_t *j) {
  int rc = -1;
  if (j != NULL && json_dumpf(j, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER) == 0 &&
      fputc('\n', stdout) != EOF && fflush(stdout) == 0)
    rc = 0;
  json_decref(j);
  return rc;
}

static int run_command(struct net_cni_request *req, ctr_err *err) {
  struct net_attach_req a = {
      .id = req->containerid,
      .netns = req->netns,
      .ifname = req->ifname,
      .ports = req->ports,
      .nports = req->nports,
      .ip = req->ip,
      .mac = req->mac[0] ? req->mac : NULL,
  };
  struct net_attach_result r;
  switch (req->command) {
  case NET_CNI_VERSION_CMD:
    return print_json(net_cni_version_info()) < 0
               ? ctr_fail(err, errno, "write the answer")
               : 0;
  case NET_CNI_ADD:
    if (net_bridge_attach(&req->bridge, &a, &r, err) < 0)
      return -1;
    if (print_json(net_cni_result(&r, req->netns, req->version,
                                  req->prev_result)) < 0) {
      int e = errno;
      ctr_err ignored = NULL;
      net_bridge_detach(&req->bridge, a.id, a.ifname, &ignored);
      ctr_err_free(&ignored);
      return ctr_fail(err, e, "write the result");
    }
    return 0;
  case NET_CNI_DEL:
    return net_bridge_detach(&req->bridge, a.id, a.ifname, err);
  case NET_CNI_CHECK:
    return net_bridge_check(&req->bridge, &a, req->prev_ip, req->prev_prefix,
                            err);
  case NET_CNI_GC:
    return net_bridge_gc(&req->bridge, req->keep, req->nkeep, err);
  case NET_CNI_STATUS:
    return net_bridge_status(&req->bridge, err);
  }
  return net_fail(err, NET_CNI_E_ENV, "CNI_COMMAND: unknown");
}

int net_cni_plugin_main(void) {
  struct net_cni_env env = {
      .command = getenv("CNI_COMMAND"),
      .containerid = getenv("CNI_CONTAINERID"),
      .netns = getenv("CNI_NETNS"),
      .ifname = getenv("CNI_IFNAME"),
      .args = getenv("CNI_ARGS"),
      .path = getenv("CNI_PATH"),
  };
  struct net_cni_request req;
  cleanup_free char *in = NULL;
  cleanup_free char *details = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  int rc = 0;
  /* VERSION may come with nothing on stdin; a terminal is nothing too */
  if (!isatty(STDIN_FILENO) && ctr_read_fd(STDIN_FILENO, STDIN_MAX, &in, &len, &err) < 0) {
    ctr_wrap(&err, "read the network configuration from stdin");
    if (err != NULL)
      err->errnum = -NET_CNI_E_IO;
    memset(&req, 0, sizeof(req));
    snprintf(req.version, sizeof(req.version), "%s", NET_CNI_VERSION);
    rc = -1;
  } else {
    rc = net_cni_parse(&env, in, len, &req, &err);
    if (rc == 0)
      rc = run_command(&req, &err);
  }
  if (rc < 0) {
    if (req.bridge.name[0] != '\0' &&
        asprintf(&details, "ctr-net %s: network %s, container %s, ifname %s",
                 env.command ? env.command : "-", req.bridge.name,
                 env.containerid ? env.containerid : "-",
                 env.ifname ? env.ifname : "-") < 0)
      details = NULL;
    print_json(net_cni_error(req.version, net_cni_code(err),
                             err ? err->msg : NULL, details));
    ctr_err_free(&err);
  }
  net_cni_request_free(&req);
  return rc < 0 ? 1 : 0;
}
