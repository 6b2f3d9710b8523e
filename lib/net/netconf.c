/* Network definitions on disk: conflists under $CTR_ROOT/networks, their
 * names, parsed, validated, loaded and listed (see netconf.h). The plugin
 * side (lib/net/cni.c) reads the same documents from its standard input. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"
#include "net/link.h"
#include "net/plugin_overlay.h"

#define CONFLIST_MAX (1u << 20)

/* None yet: a key goes here once the ctr-net plugin honours it, so that
 * `--opt` never sets something nothing reads. */
const char *const net_bridge_option_keys[] = {NULL};

/* ---- names -------------------------------------------------------------- */

bool netconf_word_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max)
    return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
        (s[0] >= '0' && s[0] <= '9')))
    return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
      return false;
  return true;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool net_name_valid(const char *name) {
  return name != NULL && netconf_word_ok(name, NET_NAME_MAX);
}

int net_name_check(const char *name, ctr_err *err) {
  if (!net_name_valid(name))
    return ctr_usage(err, "invalid network name '%.80s': want [a-zA-Z0-9][a-zA-Z0-9_.-]*, "
                          "at most %d characters", name, NET_NAME_MAX);
  if (ends_with(name, SUFFIX))
    return ctr_usage(err, "invalid network name '%s': it may not end in %s", name, SUFFIX);
  if (strcmp(name, "host") == 0 || strcmp(name, "none") == 0)
    return ctr_usage(err, "network name '%s' is reserved", name);
  return 0;
}

static bool ifname_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > NET_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  for (const char *c = s; *c; c++)
    if (*c == '/' || *c == ':' || *c == '%' || (unsigned char)*c <= ' ' || *c == 0x7f)
      return false;
  return true;
}

void net_bridge_name(const char *name, unsigned salt, char out[NET_IFNAME_MAX + 1]) {
  char salt_text[16];
  if (strcmp(name, NET_DEFAULT_NAME) == 0 && salt == 0) {
    snprintf(out, NET_IFNAME_MAX + 1, "%s", NET_DEFAULT_BRIDGE);
    return;
  }
  snprintf(salt_text, sizeof(salt_text), "%u", salt);
  snprintf(out, NET_IFNAME_MAX + 1, "ctr-%08x",
           (unsigned)(net_name_hash("bridge", name, salt ? salt_text : NULL) >> 32));
}

/* ---- parsing and validating ------------------------------------------------ */

void net_config_free(struct net_config *c) {
  if (c == NULL)
    return;
  free(c->name);
  free(c->driver);
  free(c->subnet_text);
  free(c->gateway_text);
  free(c->created);
  json_decref(c->conflist);
  memset(c, 0, sizeof(*c));
}

static int dup_into(char **dst, const char *src, ctr_err *err) {
  if (src == NULL)
    return 0;
  *dst = strdup(src);
  return *dst == NULL ? ctr_fail(err, ENOMEM, "conflist") : 0;
}

int netconf_check_mtu(long mtu, ctr_err *err) {
  if (mtu < 68 || mtu > 65535)
    return ctr_usage(err, "invalid MTU %ld: want 68 to 65535", mtu);
  return 0;
}

int netconf_parse_subnet_gateway(struct net_config *c, const char *subnet, const char *gateway,
                                 ctr_err *err) {
  char ip[NET_IP4_STRLEN];
  if (net_cidr_parse(subnet, &c->subnet, err) < 0) {
    (*err)->exit = 2; /* the user's --subnet */
    return ctr_wrap(err, "invalid subnet");
  }
  if (c->subnet.prefix < 8 || c->subnet.prefix > 30)
    return ctr_usage(err, "invalid subnet %s: the prefix length must be 8 to 30", subnet);
  if (gateway == NULL) {
    c->gateway = c->subnet.addr + 1;
  } else {
    if (net_ip4_parse(gateway, &c->gateway) < 0)
      return ctr_usage(err, "invalid gateway '%.64s': want an IPv4 address", gateway);
    if (!net_cidr_is_host(&c->subnet, c->gateway))
      return ctr_usage(err, "gateway %s is not a host address of subnet %s", gateway, subnet);
  }
  net_ip4_format(c->gateway, ip);
  c->has_subnet = true;
  if (dup_into(&c->subnet_text, subnet, err) < 0 || dup_into(&c->gateway_text, ip, err) < 0)
    return -1;
  return 0;
}

/* An overlay's own keys, checked by the driver itself, so that what
 * `create` writes and what the plugin accepts never drift apart. */
static int parse_overlay_entry(struct net_config *c, const json_t *pl, ctr_err *err) {
  cleanup_json json_t *entry = json_deep_copy(pl);
  struct net_bridge_conf conf;
  const struct net_overlay *ov;
  if (entry == NULL || json_object_set_new(entry, "name", json_string(c->name)) < 0)
    return ctr_fail(err, ENOMEM, "conflist");
  if (net_overlay_conf_parse(entry, &conf, err) < 0)
    return ctr_wrap(err, "plugins[0]");
  ov = net_overlay_of(&conf);
  c->vni = ov->vni;
  c->local = ov->local;
  net_bridge_conf_free(&conf);
  return 0;
}

static int parse_builtin(struct net_config *c, const json_t *pl, ctr_err *err) {
  const char *driver = ctr_json_str(pl, "driver"), *bridge = ctr_json_str(pl, "bridge");
  const char *subnet = ctr_json_str(pl, "subnet"), *key;
  json_t *v, *opts = json_object_get(pl, "options");
  c->builtin = true;
  if (driver == NULL)
    return ctr_fail(err, 0, "plugins[0].driver: missing");
  if (strcmp(driver, "bridge") != 0 && strcmp(driver, "overlay") != 0)
    return ctr_fail(err, 0, "plugins[0].driver: unknown driver '%.64s'", driver);
  if (dup_into(&c->driver, driver, err) < 0)
    return -1;
  if (bridge == NULL || !ifname_ok(bridge))
    return ctr_fail(err, 0, "plugins[0].bridge: want an interface name of 1 to %d characters",
                    NET_IFNAME_MAX);
  snprintf(c->bridge, sizeof(c->bridge), "%s", bridge);
  if (subnet == NULL)
    return ctr_fail(err, 0, "plugins[0].subnet: missing");
  v = json_object_get(pl, "gateway");
  if (v != NULL && !json_is_string(v))
    return ctr_fail(err, 0, "plugins[0].gateway: want a string");
  if (netconf_parse_subnet_gateway(c, subnet, json_string_value(v), err) < 0)
    return ctr_wrap(err, "plugins[0]");
  v = json_object_get(pl, "internal");
  if (v != NULL && !json_is_boolean(v))
    return ctr_fail(err, 0, "plugins[0].internal: want true or false");
  c->internal = json_is_true(v);
  v = json_object_get(pl, "mtu");
  if (v != NULL && !json_is_integer(v))
    return ctr_fail(err, 0, "plugins[0].mtu: want a number");
  c->mtu = v ? (long)json_integer_value(v) : NET_DEFAULT_MTU;
  if (v != NULL && (json_integer_value(v) < 68 || json_integer_value(v) > 65535))
    return ctr_fail(err, 0, "plugins[0].mtu: want 68 to 65535");
  v = json_object_get(pl, "dataDir");
  if (v != NULL && !json_is_string(v))
    return ctr_fail(err, 0, "plugins[0].dataDir: want a string");
  if (opts != NULL && !json_is_object(opts))
    return ctr_fail(err, 0, "plugins[0].options: want an object");
  json_object_foreach(opts, key, v) if (!json_is_string(v))
      return ctr_fail(err, 0, "plugins[0].options.%.64s: want a string", key);
  if (strcmp(driver, "overlay") == 0)
    return parse_overlay_entry(c, pl, err);
  return 0;
}

/* An external plugin: what we know of its addresses is host-local's
 * range (or old-style subnet); anything else leaves the subnet unknown. */
static int parse_external(struct net_config *c, const char *type, const json_t *pl,
                          ctr_err *err) {
  const json_t *ipam = json_object_get(pl, "ipam"), *v = json_object_get(pl, "mtu");
  const json_t *range = json_array_get(json_array_get(json_object_get(ipam, "ranges"), 0), 0);
  const char *subnet, *gateway;
  struct net_config probe = {0};
  ctr_err ignored = NULL;
  if (!netconf_word_ok(type, 255))
    return ctr_fail(err, 0, "plugins[0].type: invalid plugin name '%.64s'", type);
  if (dup_into(&c->driver, type, err) < 0)
    return -1;
  if (v != NULL && !json_is_integer(v))
    return ctr_fail(err, 0, "plugins[0].mtu: want a number");
  c->mtu = (long)json_integer_value(v);
  if (ipam != NULL && !json_is_object(ipam))
    return ctr_fail(err, 0, "plugins[0].ipam: want an object");
  subnet = ctr_json_str(range ? range : ipam, "subnet");
  gateway = ctr_json_str(range ? range : ipam, "gateway");
  if (subnet == NULL)
    return 0;
  /* IPv4 we understand and check for overlaps; anything else is shown */
  if (netconf_parse_subnet_gateway(&probe, subnet, gateway, &ignored) == 0) {
    c->has_subnet = true;
    c->subnet = probe.subnet;
    c->gateway = probe.gateway;
  }
  ctr_err_free(&ignored);
  net_config_free(&probe);
  if (dup_into(&c->subnet_text, subnet, err) < 0 || dup_into(&c->gateway_text, gateway, err) < 0)
    return -1;
  if (c->has_subnet && c->gateway_text == NULL) {
    char ip[NET_IP4_STRLEN];
    net_ip4_format(c->gateway, ip);
    return dup_into(&c->gateway_text, ip, err);
  }
  return 0;
}

static int parse_doc(const char *name, struct net_config *c, ctr_err *err) {
  const json_t *doc = c->conflist, *pl, *meta;
  const char *docname = ctr_json_str(doc, "name"), *type;
  if (ctr_json_str(doc, "cniVersion") == NULL)
    return ctr_fail(err, 0, "cniVersion: want a string");
  if (docname == NULL)
    return ctr_fail(err, 0, "name: want a string");
  if (net_name_check(docname, err) < 0)
    return ctr_wrap(err, "name");
  if (name != NULL && strcmp(name, docname) != 0)
    return ctr_fail(err, 0, "it names network '%s', not '%s'", docname, name);
  if (dup_into(&c->name, docname, err) < 0)
    return -1;
  c->is_default = strcmp(docname, NET_DEFAULT_NAME) == 0;
  pl = json_array_get(json_object_get(doc, "plugins"), 0);
  if (!json_is_object(pl))
    return ctr_fail(err, 0, "plugins: want an array of at least one object");
  type = ctr_json_str(pl, "type");
  if (type == NULL || type[0] == '\0')
    return ctr_fail(err, 0, "plugins[0].type: want a string");
  meta = json_object_get(doc, "ctr");
  if (meta != NULL && !json_is_object(meta))
    return ctr_fail(err, 0, "ctr: want an object");
  if (dup_into(&c->created, ctr_json_str(meta, "created"), err) < 0)
    return -1;
  if (strcmp(type, NET_PLUGIN_TYPE) == 0)
    return parse_builtin(c, pl, err);
  return parse_external(c, type, pl, err);
}

int net_config_parse(const char *name, const char *buf, size_t len, struct net_config *out,
                     ctr_err *err) {
  memset(out, 0, sizeof(*out));
  if (ctr_json_parse_object(buf, len, "conflist", &out->conflist, err) < 0)
    return -1;
  if (parse_doc(name, out, err) < 0) {
    net_config_free(out);
    if (*err != NULL)
      (*err)->exit = 1; /* a bad file, not bad usage */
    return -1;
  }
  out->on_disk = true;
  return 0;
}

int netconf_no_such(ctr_err *err, const char *name) {
  ctr_fail(err, 0, "no such network: %.80s", name);
  if (*err != NULL)
    (*err)->errnum = ENOENT;
  return -1;
}

/* Directories are read through a new open of "." each time, never a
 * dup: a dup shares the read position, so a second listing of the same
 * fd would find nothing. */
int netconf_name_or_no_such(const char *name, ctr_err *err) {
  ctr_err ignored = NULL;
  if (net_name_check(name, &ignored) < 0) {
    ctr_err_free(&ignored);
    return netconf_no_such(err, name);
  }
  return 0;
}

/* ---- reading the store -------------------------------------------------------- */

int netconf_open_ro(const struct ctr_paths *p, ctr_err *err) {
  cleanup_free char *dir = netconf_data_dir(p);
  int fd;
  if (dir == NULL)
    return ctr_fail(err, ENOMEM, "networks");
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "open %s", dir);
  return fd;
}

int netconf_lock_network(const struct ctr_paths *p, const char *name, int *dfd,
                         ctr_err *err) {
  *dfd = netconf_open_ro(p, err);
  if (*dfd < 0)
    return errno == ENOENT ? netconf_no_such(err, name) : -1;
  return ctr_lock(p, "networks", LOCK_EX, err);
}

int netconf_load_at(int dfd, const char *name, struct net_config *out, ctr_err *err) {
  cleanup_free char *file = NULL, *buf = NULL;
  cleanup_close int fd = -1;
  size_t len = 0;
  if (asprintf(&file, "%s%s", name, SUFFIX) < 0)
    return ctr_fail(err, ENOMEM, "network %s", name);
  fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return 1;
  if (fd < 0)
    return ctr_fail(err, errno, "networks/%s", file);
  if (ctr_read_fd(fd, CONFLIST_MAX, &buf, &len, err) < 0)
    return ctr_wrap(err, "networks/%s", file);
  if (net_config_parse(name, buf, len, out, err) < 0)
    return ctr_wrap(err, "networks/%s", file);
  return 0;
}

static int describe_default(const struct ctr_paths *p, struct net_config *out, ctr_err *err) {
  json_t *doc = netconf_default_conflist(p, NULL);
  memset(out, 0, sizeof(*out));
  if (doc == NULL)
    return ctr_fail(err, ENOMEM, "default network");
  out->conflist = doc;
  if (parse_doc(NET_DEFAULT_NAME, out, err) < 0) {
    net_config_free(out);
    return -1;
  }
  return 0;
}

int net_config_load(const struct ctr_paths *p, const char *name, struct net_config *out,
                    ctr_err *err) {
  cleanup_close int dfd = -1;
  int r = 1;
  memset(out, 0, sizeof(*out));
  if (netconf_name_or_no_such(name, err) < 0)
    return -1;
  dfd = netconf_open_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  if (dfd >= 0)
    r = netconf_load_at(dfd, name, out, err);
  if (r <= 0)
    return r;
  if (strcmp(name, NET_DEFAULT_NAME) == 0)
    return describe_default(p, out, err);
  return netconf_no_such(err, name);
}

void net_config_list_free(struct net_config *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    net_config_free(&list[i]);
  free(list);
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const struct net_config *)a)->name, ((const struct net_config *)b)->name);
}

static int list_push(struct net_config **list, size_t *n, size_t *cap, struct net_config *c,
                     ctr_err *err) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    struct net_config *nl = realloc(*list, nc * sizeof(*nl));
    if (nl == NULL) {
      net_config_free(c);
      return ctr_fail(err, ENOMEM, "list networks");
    }
    *list = nl;
    *cap = nc;
  }
  (*list)[(*n)++] = *c;
  return 0;
}

int netconf_list_at(const struct ctr_paths *p, int dfd, struct net_config **out, size_t *count,
                    ctr_err *err) {
  struct net_config *list = NULL, c;
  size_t n = 0, cap = 0;
  bool have_default = false;
  if (dfd >= 0) {
    cleanup_dir DIR *d = ctr_opendir_at(dfd);
    struct dirent *de;
    if (d == NULL)
      return ctr_fail(err, errno, "read %s/networks", p->root);
    while ((errno = 0, de = readdir(d)) != NULL) {
      cleanup_free char *name = NULL;
      ctr_err e = NULL;
      int r = 0;
      if (de->d_name[0] == '.' || !ends_with(de->d_name, SUFFIX))
        continue;
      name = strndup(de->d_name, strlen(de->d_name) - strlen(SUFFIX));
      if (name == NULL) {
        net_config_list_free(list, n);
        return ctr_fail(err, ENOMEM, "list networks");
      }
      if (net_name_check(name, &e) < 0 || (r = netconf_load_at(dfd, name, &c, &e)) < 0) {
        ctr_warn("%s/networks/%s: left out: %s", p->root, de->d_name, e ? e->msg : "?");
        ctr_err_free(&e);
        continue;
      }
      if (r == 1)
        continue; /* removed meanwhile */
      have_default |= c.is_default;
      if (list_push(&list, &n, &cap, &c, err) < 0) {
        net_config_list_free(list, n);
        return -1;
      }
    }
  }
  if (!have_default) {
    if (describe_default(p, &c, err) < 0 || list_push(&list, &n, &cap, &c, err) < 0) {
      net_config_list_free(list, n);
      return -1;
    }
  }
  qsort(list, n, sizeof(*list), by_name);
  *out = list;
  *count = n;
  return 0;
}

int net_config_list(const struct ctr_paths *p, struct net_config **out, size_t *n,
                    ctr_err *err) {
  cleanup_close int dfd = netconf_open_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  return netconf_list_at(p, dfd, out, n, err);
}

/* ---- plugins ---------------------------------------------------------------------- */

static bool executable_at(const char *dir, const char *type, char **path) {
  struct stat st;
  char *full = NULL;
  if (dir[0] == '\0' || asprintf(&full, "%s/%s", dir, type) < 0)
    return false;
  if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
    *path = full;
    return true;
  }
  free(full);
  return false;
}

int net_plugin_find(const char *type, char **path, ctr_err *err) {
  const char *env = getenv("CNI_PATH");
  if (!netconf_word_ok(type, 255))
    return ctr_usage(err, "invalid driver '%.64s': want bridge or a CNI plugin's name", type);
  if (env != NULL) {
    cleanup_free char *copy = strdup(env);
    char *save = NULL;
    if (copy == NULL)
      return ctr_fail(err, ENOMEM, "find plugin %s", type);
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
      if (executable_at(dir, type, path))
        return 0;
  }
  if (executable_at(NET_PLUGIN_DIR, type, path))
    return 0;
  return ctr_fail(err, 0, "unknown driver '%s': no CNI plugin of that name in %s%s%s", type,
                  env ? "$CNI_PATH" : "", env ? " or " : "", NET_PLUGIN_DIR);
}
