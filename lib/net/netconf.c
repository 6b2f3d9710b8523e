/* Network definitions on disk: conflists under $CTR_ROOT/networks, built,
 * validated, listed and removed. The plugin side (lib/net/cni.c) reads
 * the same documents from its standard input. */
#define _GNU_SOURCE
#include "netconf.h"

#include <arpa/inet.h>
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
#include "core/rfc3339.h"
#include "net/link.h"

#define CONFLIST_MAX (1u << 20)
#define LEASE_MAX 4096
#define SUFFIX ".conflist"
#define REMOVING_SUFFIX ".removing"

/* None yet: a key goes here once the ctr-net plugin honours it, so that
 * `--opt` never sets something nothing reads. */
const char *const net_bridge_option_keys[] = {NULL};

/* Keys of a plugin's configuration that CNI or ctr-net itself sets. */
static const char *const reserved_plugin_keys[] = {
    "cniVersion", "name", "type", "ipam", "dns", "args", "runtimeConfig",
    "capabilities", "prevResult", "mtu", NULL};

/* ---- names -------------------------------------------------------------- */

static bool word_ok(const char *s, size_t max) {
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

bool net_name_valid(const char *name) { return name != NULL && word_ok(name, NET_NAME_MAX); }

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

/* ---- building conflists --------------------------------------------------- */

static int set_new(json_t *obj, const char *key, json_t *v) {
  return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

/* {"cniVersion","name","plugins":[plugin]} and ctr's own metadata. */
static json_t *conflist_wrap(const char *name, json_t *plugin, const char *created) {
  json_t *doc = json_object(), *plugins = json_array(), *meta;
  if (doc == NULL || plugins == NULL || plugin == NULL ||
      set_new(doc, "cniVersion", json_string(NET_CONFLIST_VERSION)) < 0 ||
      set_new(doc, "name", json_string(name)) < 0 || json_array_append(plugins, plugin) < 0 ||
      json_object_set(doc, "plugins", plugins) < 0)
    goto fail;
  if (created != NULL) {
    meta = json_object();
    if (set_new(doc, "ctr", meta) < 0 || set_new(meta, "created", json_string(created)) < 0)
      goto fail;
  }
  json_decref(plugins);
  json_decref(plugin);
  return doc;
fail:
  json_decref(doc);
  json_decref(plugins);
  json_decref(plugin);
  return NULL;
}

/* ctr's own bridge driver; options is stolen. */
static json_t *conflist_bridge(const char *name, const char *bridge, const char *subnet,
                               const char *gateway, bool internal, long mtu,
                               const char *data_dir, json_t *options, const char *created) {
  json_t *pl = json_object(), *caps = json_object();
  if (pl == NULL || caps == NULL || options == NULL ||
      set_new(pl, "type", json_string(NET_PLUGIN_TYPE)) < 0 ||
      set_new(pl, "driver", json_string("bridge")) < 0 ||
      set_new(pl, "bridge", json_string(bridge)) < 0 ||
      set_new(pl, "subnet", json_string(subnet)) < 0 ||
      set_new(pl, "gateway", json_string(gateway)) < 0 ||
      set_new(pl, "internal", json_boolean(internal)) < 0 ||
      set_new(pl, "mtu", json_integer(mtu)) < 0 ||
      set_new(pl, "dataDir", json_string(data_dir)) < 0 ||
      set_new(caps, "portMappings", json_true()) < 0 ||
      json_object_set(pl, "capabilities", caps) < 0 ||
      json_object_set(pl, "options", options) < 0) {
    json_decref(pl);
    pl = NULL;
  }
  json_decref(caps);
  json_decref(options);
  return conflist_wrap(name, pl, created);
}

/* An external CNI plugin with host-local addresses; options (stolen) are
 * the plugin's own keys. */
static json_t *conflist_external(const char *name, const char *type, json_t *options,
                                 long mtu, const char *subnet, const char *gateway,
                                 const char *data_dir, const char *created) {
  json_t *pl = json_object(), *ipam = json_object(), *range = json_object();
  json_t *ranges = json_pack("[[O]]", range);
  const char *key;
  json_t *v;
  if (pl == NULL || ipam == NULL || range == NULL || ranges == NULL || options == NULL ||
      set_new(pl, "type", json_string(type)) < 0)
    goto fail;
  json_object_foreach(options, key, v) if (json_object_set(pl, key, v) < 0) goto fail;
  if ((mtu > 0 && set_new(pl, "mtu", json_integer(mtu)) < 0) ||
      set_new(range, "subnet", json_string(subnet)) < 0 ||
      set_new(range, "gateway", json_string(gateway)) < 0 ||
      set_new(ipam, "type", json_string("host-local")) < 0 ||
      json_object_set(ipam, "ranges", ranges) < 0 ||
      set_new(ipam, "dataDir", json_string(data_dir)) < 0 ||
      json_object_set(pl, "ipam", ipam) < 0)
    goto fail;
  json_decref(ipam);
  json_decref(range);
  json_decref(ranges);
  json_decref(options);
  return conflist_wrap(name, pl, created);
fail:
  json_decref(pl);
  json_decref(ipam);
  json_decref(range);
  json_decref(ranges);
  json_decref(options);
  return NULL;
}

static char *data_dir_of(const struct ctr_paths *p) {
  char *d = NULL;
  if (asprintf(&d, "%s/networks", p->root) < 0)
    return NULL;
  return d;
}

static json_t *default_conflist(const struct ctr_paths *p, const char *created) {
  cleanup_free char *data_dir = data_dir_of(p);
  if (data_dir == NULL)
    return NULL;
  return conflist_bridge(NET_DEFAULT_NAME, NET_DEFAULT_BRIDGE, NET_DEFAULT_SUBNET,
                         NET_DEFAULT_GATEWAY, false, NET_DEFAULT_MTU, data_dir,
                         json_object(), created);
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

static int check_mtu(long mtu, ctr_err *err) {
  if (mtu < 68 || mtu > 65535)
    return ctr_usage(err, "invalid MTU %ld: want 68 to 65535", mtu);
  return 0;
}

/* subnet (and gateway, default the first host) of ctr's own networks:
 * strict, prefix 8..30, gateway a host of the subnet. */
static int parse_subnet_gateway(struct net_config *c, const char *subnet, const char *gateway,
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

static int parse_builtin(struct net_config *c, const json_t *pl, ctr_err *err) {
  const char *driver = ctr_json_str(pl, "driver"), *bridge = ctr_json_str(pl, "bridge");
  const char *subnet = ctr_json_str(pl, "subnet"), *key;
  json_t *v, *opts = json_object_get(pl, "options");
  c->builtin = true;
  if (driver == NULL)
    return ctr_fail(err, 0, "plugins[0].driver: missing");
  if (strcmp(driver, "overlay") == 0)
    return ctr_fail(err, 0, "the overlay driver is not yet supported");
  if (strcmp(driver, "bridge") != 0)
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
  if (parse_subnet_gateway(c, subnet, json_string_value(v), err) < 0)
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
  if (!word_ok(type, 255))
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
  if (parse_subnet_gateway(&probe, subnet, gateway, &ignored) == 0) {
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

/* "no such network: NAME", with errnum ENOENT for callers to test but no
 * strerror text. */
static int no_such(ctr_err *err, const char *name) {
  ctr_fail(err, 0, "no such network: %.80s", name);
  if (*err != NULL)
    (*err)->errnum = ENOENT;
  return -1;
}

/* Directories are read through a new open of "." each time, never a
 * dup: a dup shares the read position, so a second listing of the same
 * fd would find nothing. */

/* ---- reading the store -------------------------------------------------------- */

/* $CTR_ROOT/networks, opened without creating it; -1 with errno ENOENT
 * (and no error set) when there is none. */
static int open_networks_ro(const struct ctr_paths *p, ctr_err *err) {
  cleanup_free char *dir = data_dir_of(p);
  int fd;
  if (dir == NULL)
    return ctr_fail(err, ENOMEM, "networks");
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "open %s", dir);
  return fd;
}

/* 0 loaded, 1 no such conflist (err untouched), -1 error. */
static int load_at(int dfd, const char *name, struct net_config *out, ctr_err *err) {
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
  json_t *doc = default_conflist(p, NULL);
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
  ctr_err ignored = NULL;
  int r = 1;
  memset(out, 0, sizeof(*out));
  if (net_name_check(name, &ignored) < 0) {
    ctr_err_free(&ignored);
    return no_such(err, name);
  }
  dfd = open_networks_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  if (dfd >= 0)
    r = load_at(dfd, name, out, err);
  if (r <= 0)
    return r;
  if (strcmp(name, NET_DEFAULT_NAME) == 0)
    return describe_default(p, out, err);
  return no_such(err, name);
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

/* Every conflist in dfd (which may be -1: none), the default described
 * when it is not there, sorted. */
static int list_at(const struct ctr_paths *p, int dfd, struct net_config **out, size_t *count,
                   ctr_err *err) {
  struct net_config *list = NULL, c;
  size_t n = 0, cap = 0;
  bool have_default = false;
  if (dfd >= 0) {
    cleanup_dir DIR *d = NULL;
    struct dirent *de;
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
      if (fd >= 0)
        close(fd);
      return ctr_fail(err, errno, "read %s/networks", p->root);
    }
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
      if (net_name_check(name, &e) < 0 || (r = load_at(dfd, name, &c, &e)) < 0) {
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
  cleanup_close int dfd = open_networks_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  return list_at(p, dfd, out, n, err);
}

/* ---- leases -------------------------------------------------------------------- */

void net_lease_info_free(struct net_lease_info *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(l[i].address);
    free(l[i].container);
    free(l[i].ifname);
  }
  free(l);
}

static bool is_address(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool component_ok(const char *s) {
  return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
         strcmp(s, "..") != 0 && strlen(s) < 256;
}

/* "id\r\nifname" (host-local since 0.8) or just "id". */
static int read_lease(int dfd, struct net_lease_info *l, int containers_fd) {
  cleanup_close int fd = openat(dfd, l->address, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free char *buf = NULL;
  ctr_err e = NULL;
  struct stat st;
  size_t len = 0, n;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
      ctr_read_fd(fd, LEASE_MAX, &buf, &len, &e) < 0) {
    ctr_err_free(&e);
    return 0; /* an unreadable lease still holds its address */
  }
  n = strcspn(buf, "\r\n");
  if (n > 0 && (l->container = strndup(buf, n)) == NULL)
    return -1;
  buf[n] = '\0';
  if (n < len) {
    char *rest = buf + n + 1;
    rest += strspn(rest, "\r\n");
    rest[strcspn(rest, "\r\n")] = '\0';
    if (rest[0] != '\0' && (l->ifname = strdup(rest)) == NULL)
      return -1;
  }
  l->live = l->container != NULL && containers_fd >= 0 && component_ok(l->container) &&
            fstatat(containers_fd, l->container, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode);
  return 0;
}

static int by_address(const void *a, const void *b) {
  const char *x = ((const struct net_lease_info *)a)->address;
  const char *y = ((const struct net_lease_info *)b)->address;
  uint32_t ix, iy;
  bool vx = net_ip4_parse(x, &ix) == 0, vy = net_ip4_parse(y, &iy) == 0;
  if (vx && vy)
    return ix < iy ? -1 : ix > iy;
  if (vx != vy)
    return vx ? -1 : 1;
  return strcmp(x, y);
}

/* Leases in the lease directory ldfd. */
static int leases_at(const struct ctr_paths *p, int ldfd, struct net_lease_info **out,
                     size_t *count, ctr_err *err) {
  cleanup_free char *cdir = NULL;
  cleanup_close int cfd = -1;
  cleanup_dir DIR *d = NULL;
  struct net_lease_info *l = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int fd = openat(ldfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir(fd)) == NULL) {
    if (fd >= 0)
      close(fd);
    return ctr_fail(err, errno, "read leases");
  }
  if (asprintf(&cdir, "%s/containers", p->root) < 0)
    return ctr_fail(err, ENOMEM, "read leases");
  cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || !is_address(de->d_name))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      struct net_lease_info *nl = realloc(l, nc * sizeof(*nl));
      if (nl == NULL)
        goto oom;
      l = nl;
      cap = nc;
    }
    memset(&l[n], 0, sizeof(l[n]));
    l[n].address = strdup(de->d_name);
    if (l[n].address == NULL)
      goto oom;
    n++;
    if (read_lease(ldfd, &l[n - 1], cfd) < 0)
      goto oom;
  }
  if (n > 1)
    qsort(l, n, sizeof(*l), by_address);
  *out = l;
  *count = n;
  return 0;
oom:
  net_lease_info_free(l, n);
  return ctr_fail(err, ENOMEM, "read leases");
}

int net_lease_info_list(const struct ctr_paths *p, const char *name, struct net_lease_info **out,
                     size_t *n, ctr_err *err) {
  cleanup_close int dfd = open_networks_ro(p, err);
  cleanup_close int ldfd = -1;
  ctr_err ignored = NULL;
  *out = NULL;
  *n = 0;
  if (dfd < 0)
    return errno == ENOENT ? 0 : -1;
  if (net_name_check(name, &ignored) < 0) {
    ctr_err_free(&ignored);
    return 0;
  }
  ldfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ldfd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "open networks/%s", name);
  return leases_at(p, ldfd, out, n, err);
}

size_t net_lease_info_live(const struct net_lease_info *l, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    if (!l[i].live)
      continue;
    for (size_t k = 0; k < i && !seen; k++)
      seen = l[k].live && strcmp(l[k].container, l[i].container) == 0;
    count += !seen;
  }
  return count;
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
  if (!word_ok(type, 255))
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

/* ---- writing ------------------------------------------------------------------------- */

static int save_conflist(int dfd, const char *name, const json_t *doc, ctr_err *err) {
  cleanup_free char *file = NULL;
  if (asprintf(&file, "%s%s", name, SUFFIX) < 0)
    return ctr_fail(err, ENOMEM, "write network %s", name);
  if (ctr_json_save(dfd, file, doc, true, true, err) < 0)
    return ctr_wrap(err, "network %s", name);
  return 0;
}

/* With networks.lock held and networks/ open: write the default
 * network's conflist unless it is there. 1 written, 0 there. */
static int default_ensure_at(const struct ctr_paths *p, int dfd, ctr_err *err) {
  char now[64];
  struct stat st;
  cleanup_json json_t *doc = NULL;
  if (fstatat(dfd, NET_DEFAULT_NAME SUFFIX, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  if (errno != ENOENT)
    return ctr_fail(err, errno, "networks/%s%s", NET_DEFAULT_NAME, SUFFIX);
  ctr_now_rfc3339(now, sizeof(now));
  doc = default_conflist(p, now);
  if (doc == NULL)
    return ctr_fail(err, ENOMEM, "default network");
  if (save_conflist(dfd, NET_DEFAULT_NAME, doc, err) < 0)
    return -1;
  ctr_debug("created the default network %s (%s on %s)", NET_DEFAULT_NAME, NET_DEFAULT_SUBNET,
            NET_DEFAULT_BRIDGE);
  return 1;
}

/* Take networks.lock and open networks/, creating both. */
static int lock_for_write(const struct ctr_paths *p, int *dfd, ctr_err *err) {
  int lock = ctr_lock(p, "networks", LOCK_EX, err);
  if (lock < 0)
    return -1;
  *dfd = ctr_paths_open(p->root, "networks", err);
  if (*dfd < 0) {
    close(lock);
    return -1;
  }
  return lock;
}

int net_default_ensure(const struct ctr_paths *p, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = lock_for_write(p, &dfd, err);
  if (lock < 0)
    return -1;
  return default_ensure_at(p, dfd, err);
}

/* The --opt pairs as a JSON object for the driver, checked. */
static json_t *options_object(const struct net_create_opts *o, bool builtin, ctr_err *err) {
  json_t *obj = json_object();
  if (obj == NULL) {
    ctr_fail(err, ENOMEM, "options");
    return NULL;
  }
  for (size_t i = 0; i < o->nopts; i++) {
    const char *kv = o->opts[i], *eq = strchr(kv, '=');
    cleanup_free char *key = eq ? strndup(kv, (size_t)(eq - kv)) : NULL;
    const char *val = eq ? eq + 1 : NULL;
    json_t *jv;
    bool known = !builtin;
    char *end;
    long long num;
    if (eq == NULL || eq == kv || (key != NULL && !word_ok(key, 128))) {
      ctr_usage(err, "invalid --opt '%.80s': want KEY=VALUE", kv);
      goto fail;
    }
    if (key == NULL) {
      ctr_fail(err, ENOMEM, "options");
      goto fail;
    }
    if (json_object_get(obj, key) != NULL) {
      ctr_usage(err, "--opt %s is given twice", key);
      goto fail;
    }
    for (const char *const *k = net_bridge_option_keys; builtin && *k; k++)
      known |= strcmp(*k, key) == 0;
    if (!known) {
      ctr_usage(err, "unknown --opt %s: the bridge driver takes no options yet", key);
      goto fail;
    }
    for (const char *const *k = reserved_plugin_keys; !builtin && *k; k++)
      if (strcmp(*k, key) == 0) {
        ctr_usage(err, "--opt %s: ctr-net sets that key itself%s", key,
                  strcmp(key, "mtu") == 0 ? " (use --mtu)" : "");
        goto fail;
      }
    /* plugins decode typed fields: true/false and integers as such */
    errno = 0;
    num = strtoll(val, &end, 10);
    if (builtin)
      jv = json_string(val);
    else if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)
      jv = json_boolean(val[0] == 't');
    else if (val[0] != '\0' && *end == '\0' && errno == 0 && (val[0] != '0' || val[1] == '\0'))
      jv = json_integer(num);
    else
      jv = json_string(val);
    if (jv == NULL || json_object_set_new(obj, key, jv) < 0) {
      ctr_fail(err, ENOMEM, "options");
      goto fail;
    }
  }
  return obj;
fail:
  json_decref(obj);
  return NULL;
}

/* What is known before looking at the store: driver, MTU, options,
 * the subnet and gateway as given. */
struct create_plan {
  bool builtin;
  char *plugin; /* external driver's path */
  long mtu;
  json_t *options;
  bool subnet_given;
  struct net_cidr subnet;
  uint32_t gateway;
  bool gateway_given;
};

static void plan_free(struct create_plan *pl) {
  free(pl->plugin);
  json_decref(pl->options);
}

static int plan_create(const struct net_create_opts *o, struct create_plan *pl, ctr_err *err) {
  const char *driver = o->driver ? o->driver : "bridge";
  memset(pl, 0, sizeof(*pl));
  if (net_name_check(o->name, err) < 0)
    return -1;
  if (strcmp(driver, "overlay") == 0)
    return ctr_fail(err, 0, "the overlay driver is not yet supported");
  pl->builtin = strcmp(driver, "bridge") == 0;
  if (strcmp(driver, NET_PLUGIN_TYPE) == 0)
    return ctr_usage(err, "driver %s is ctr's own plugin: use --driver bridge", driver);
  if (!pl->builtin && net_plugin_find(driver, &pl->plugin, err) < 0)
    return -1;
  if (!pl->builtin && o->internal)
    return ctr_usage(err, "--internal needs the bridge driver (a CNI plugin has no such "
                          "setting)");
  if (o->mtu_set && check_mtu(o->mtu, err) < 0)
    return -1;
  pl->mtu = o->mtu_set ? o->mtu : pl->builtin ? NET_DEFAULT_MTU : 0;
  pl->options = options_object(o, pl->builtin, err);
  if (pl->options == NULL)
    return -1;
  if (o->gateway != NULL && o->subnet == NULL)
    return ctr_usage(err, "--gateway needs --subnet");
  if (o->subnet != NULL) {
    struct net_config c = {0};
    int r = parse_subnet_gateway(&c, o->subnet, o->gateway, err);
    pl->subnet = c.subnet;
    pl->gateway = c.gateway;
    net_config_free(&c);
    if (r < 0)
      return -1;
    pl->subnet_given = true;
    pl->gateway_given = o->gateway != NULL;
  }
  return 0;
}

/* Subnet and bridge device, against the networks there are. */
static int place_network(const struct net_create_opts *o, struct create_plan *pl,
                         const struct net_config *nets, size_t n, char *bridge, ctr_err *err) {
  struct net_cidr *used = calloc(n + 1, sizeof(*used)), pool;
  size_t nused = 0;
  ctr_err ignored = NULL;
  unsigned salt = 0;
  if (used == NULL)
    return ctr_fail(err, ENOMEM, "create network");
  for (size_t i = 0; i < n; i++) {
    if (strcmp(nets[i].name, o->name) == 0) {
      free(used);
      ctr_fail(err, 0, "network %s already exists", o->name);
      if (*err != NULL)
        (*err)->errnum = EEXIST;
      return -1;
    }
    if (!nets[i].has_subnet)
      continue;
    used[nused++] = nets[i].subnet;
    if (pl->subnet_given && net_cidr_overlaps(&pl->subnet, &nets[i].subnet)) {
      char a[NET_CIDR_STRLEN], b[NET_CIDR_STRLEN];
      net_cidr_format(&pl->subnet, a);
      net_cidr_format(&nets[i].subnet, b);
      free(used);
      return ctr_fail(err, 0, "subnet %s overlaps network %s (%s)", a, nets[i].name, b);
    }
  }
  if (!pl->subnet_given) {
    net_cidr_parse(NET_AUTO_POOL, &pool, &ignored);
    if (net_cidr_find_free(&pool, NET_AUTO_PREFIX, used, nused, &pl->subnet) < 0) {
      free(used);
      return ctr_fail(err, 0, "no free /%d left in %s: give --subnet", NET_AUTO_PREFIX,
                      NET_AUTO_POOL);
    }
    pl->gateway = pl->subnet.addr + 1;
  }
  free(used);
  bridge[0] = '\0';
  for (bool taken = pl->builtin; taken; salt++) {
    net_bridge_name(o->name, salt, bridge);
    taken = false;
    for (size_t i = 0; i < n && !taken; i++)
      taken = nets[i].builtin && strcmp(nets[i].bridge, bridge) == 0;
  }
  return 0;
}

int net_create(const struct ctr_paths *p, const struct net_create_opts *o,
               struct net_config *out, ctr_err *err) {
  struct create_plan pl;
  struct net_config *nets = NULL;
  size_t n = 0;
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  cleanup_free char *data_dir = data_dir_of(p);
  cleanup_json json_t *doc = NULL;
  char bridge[NET_IFNAME_MAX + 1], subnet[NET_CIDR_STRLEN], gateway[NET_IP4_STRLEN], now[64];
  int ret = -1;

  if (data_dir == NULL)
    return ctr_fail(err, ENOMEM, "create network");
  if (plan_create(o, &pl, err) < 0)
    goto out;
  /* Validate against the store before touching it: a refused network
   * leaves it exactly as it was (the lock file lives in $CTR_RUNDIR). */
  lock = ctr_lock(p, "networks", LOCK_EX, err);
  if (lock < 0)
    goto out;
  if (net_config_list(p, &nets, &n, err) < 0)
    goto out;
  if (place_network(o, &pl, nets, n, bridge, err) < 0)
    goto out;
  net_cidr_format(&pl.subnet, subnet);
  net_ip4_format(pl.gateway, gateway);
  ctr_now_rfc3339(now, sizeof(now));
  doc = pl.builtin
            ? conflist_bridge(o->name, bridge, subnet, gateway, o->internal, pl.mtu, data_dir,
                              json_incref(pl.options), now)
            : conflist_external(o->name, o->driver, json_incref(pl.options), pl.mtu, subnet,
                                gateway, data_dir, now);
  if (doc == NULL) {
    ctr_fail(err, ENOMEM, "create network");
    goto out;
  }
  dfd = ctr_paths_open(p->root, "networks", err);
  if (dfd < 0 || default_ensure_at(p, dfd, err) < 0)
    goto out;
  /* leases a crash left of an earlier network of this name are void */
  if (ctr_rm_rf(dfd, o->name, err) < 0 || save_conflist(dfd, o->name, doc, err) < 0)
    goto out;
  ret = 0;
  if (out != NULL) {
    cleanup_free char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
      ret = ctr_fail(err, ENOMEM, "create network");
    else
      ret = net_config_parse(o->name, text, strlen(text), out, err);
  }
out:
  net_config_list_free(nets, n);
  plan_free(&pl);
  if (ret < 0)
    ctr_wrap(err, "create %s", o->name);
  return ret;
}

/* ---- removing ---------------------------------------------------------------------------- */

/* With networks.lock held: remove network name unless a live container
 * holds a lease. The lease directory is first renamed to a dot-name (so
 * a crash leaves the network, without its stale leases, or nothing),
 * then the conflist goes, then the renamed directory. 1 removed, 0 kept
 * because of live leases (*live set), -1 error. */
static int remove_at(const struct ctr_paths *p, int dfd, const char *name, size_t *live,
                     ctr_err *err) {
  cleanup_free char *file = NULL, *hidden = NULL;
  cleanup_close int ldfd = -1;
  cleanup_close int llock = -1;
  struct net_lease_info *leases = NULL;
  size_t n = 0;
  if (asprintf(&file, "%s%s", name, SUFFIX) < 0 ||
      asprintf(&hidden, ".%s%s", name, REMOVING_SUFFIX) < 0)
    return ctr_fail(err, ENOMEM, "remove %s", name);
  ldfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ldfd < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "open networks/%s", name);
  if (ldfd >= 0) {
    /* the lease lock host-local and ctr-net's plugin take: nobody leases
     * while we look. They make it before their first lease; where it is
     * missing nobody has leased, and a refusal must change nothing. */
    llock = openat(ldfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (llock < 0 && errno != ENOENT)
      return ctr_fail(err, errno, "open networks/%s/lock", name);
    if (llock >= 0 && flock(llock, LOCK_EX) < 0)
      return ctr_fail(err, errno, "lock networks/%s/lock", name);
    if (leases_at(p, ldfd, &leases, &n, err) < 0)
      return -1;
    *live = net_lease_info_live(leases, n);
    net_lease_info_free(leases, n);
    if (*live > 0)
      return 0;
    if (ctr_rm_rf(dfd, hidden, err) < 0)
      return -1;
    if (renameat(dfd, name, dfd, hidden) < 0)
      return ctr_fail(err, errno, "rename networks/%s", name);
  }
  if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "remove networks/%s", file);
  if (ctr_fsync_dir(dfd, err) < 0)
    return -1;
  if (ldfd >= 0 && ctr_rm_rf(dfd, hidden, err) < 0)
    return -1;
  return 1;
}

int net_remove(const struct ctr_paths *p, const char *name, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  struct stat st;
  size_t live = 0;
  int r;
  if (strcmp(name, NET_DEFAULT_NAME) == 0)
    return ctr_fail(err, 0, "%s is the default network and cannot be removed", name);
  {
    ctr_err ignored = NULL;
    if (net_name_check(name, &ignored) < 0) {
      ctr_err_free(&ignored);
      return no_such(err, name);
    }
  }
  /* nothing to remove (and nothing to create) when there is no store */
  dfd = open_networks_ro(p, err);
  if (dfd < 0)
    return errno == ENOENT ? no_such(err, name) : -1;
  lock = ctr_lock(p, "networks", LOCK_EX, err);
  if (lock < 0)
    return -1;
  {
    cleanup_free char *file = NULL;
    if (asprintf(&file, "%s%s", name, SUFFIX) < 0)
      return ctr_fail(err, ENOMEM, "remove %s", name);
    if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return errno == ENOENT ? no_such(err, name)
                             : ctr_fail(err, errno, "networks/%s", file);
  }
  r = remove_at(p, dfd, name, &live, err);
  if (r == 0)
    return ctr_fail(err, 0, "network %s has %zu container%s attached", name, live,
                    live == 1 ? "" : "s");
  return r < 0 ? -1 : 0;
}

void net_names_free(char **names) {
  if (names == NULL)
    return;
  for (char **n = names; *n; n++)
    free(*n);
  free(names);
}

static int by_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Leftovers of a crash: dot-names (temp files, renamed lease
 * directories) and lease directories without a conflist. */
static int prune_leftovers(int dfd, ctr_err *err) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir(fd)) == NULL) {
    if (fd >= 0)
      close(fd);
    return ctr_fail(err, errno, "read networks");
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat st;
    cleanup_free char *file = NULL;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (de->d_name[0] != '.') {
      if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        continue;
      if (asprintf(&file, "%s%s", de->d_name, SUFFIX) < 0)
        return ctr_fail(err, ENOMEM, "prune");
      if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        continue;
    }
    if (ctr_rm_rf(dfd, de->d_name, err) < 0)
      return ctr_wrap(err, "prune");
  }
  return 0;
}

int net_prune(const struct ctr_paths *p, char ***removed, ctr_err *err) {
  cleanup_close int dfd = -1;
  cleanup_close int lock = -1;
  struct net_config *nets = NULL;
  size_t n = 0, k = 0;
  char **names;
  int ret = -1;
  *removed = NULL;
  dfd = open_networks_ro(p, err);
  if (dfd < 0 && errno != ENOENT)
    return -1;
  if (dfd < 0)
    return (*removed = calloc(1, sizeof(char *))) ? 0 : ctr_fail(err, ENOMEM, "prune");
  lock = ctr_lock(p, "networks", LOCK_EX, err);
  if (lock < 0 || list_at(p, dfd, &nets, &n, err) < 0)
    return -1;
  names = calloc(n + 1, sizeof(char *));
  if (names == NULL) {
    ctr_fail(err, ENOMEM, "prune");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    size_t live = 0;
    int r;
    if (nets[i].is_default)
      continue;
    r = remove_at(p, dfd, nets[i].name, &live, err);
    if (r < 0) {
      ctr_wrap(err, "prune: remove %s", nets[i].name);
      goto out;
    }
    if (r == 1 && (names[k++] = strdup(nets[i].name)) == NULL) {
      ctr_fail(err, ENOMEM, "prune");
      goto out;
    }
  }
  if (prune_leftovers(dfd, err) < 0)
    goto out;
  qsort(names, k, sizeof(char *), by_str);
  *removed = names;
  names = NULL;
  ret = 0;
out:
  net_names_free(names);
  net_config_list_free(nets, n);
  return ret;
}
