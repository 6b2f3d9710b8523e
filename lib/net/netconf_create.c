/* Writing network definitions: `ctr-net create` checked against the
 * networks there are and written, and the default network written on
 * first use. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

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

/* Keys of a plugin's configuration that CNI or ctr-net itself sets. */
static const char *const reserved_plugin_keys[] = {
    "cniVersion", "name", "type", "ipam", "dns", "args", "runtimeConfig",
    "capabilities", "prevResult", "mtu", NULL};

/* ---- writing ------------------------------------------------------------------------- */

int netconf_save_conflist(int dfd, const char *name, const json_t *doc, ctr_err *err) {
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
  doc = netconf_default_conflist(p, now);
  if (doc == NULL)
    return ctr_fail(err, ENOMEM, "default network");
  if (netconf_save_conflist(dfd, NET_DEFAULT_NAME, doc, err) < 0)
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
    if (eq == NULL || eq == kv || (key != NULL && !netconf_word_ok(key, 128))) {
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

static void plan_free(struct create_plan *pl) {
  free(pl->plugin);
  free(pl->peers);
  json_decref(pl->options);
}


static int plan_create(const struct net_create_opts *o, struct create_plan *pl, ctr_err *err) {
  const char *driver = o->driver ? o->driver : "bridge";
  memset(pl, 0, sizeof(*pl));
  if (net_name_check(o->name, err) < 0)
    return -1;
  pl->overlay = strcmp(driver, "overlay") == 0;
  pl->builtin = strcmp(driver, "bridge") == 0 || pl->overlay;
  if (!pl->overlay && (o->vni_set || o->npeers > 0 || o->local != NULL))
    return ctr_usage(err, "%s needs --driver overlay",
                     o->vni_set ? "--vni" : o->npeers > 0 ? "--peer" : "--local");
  if (strcmp(driver, NET_PLUGIN_TYPE) == 0)
    return ctr_usage(err, "driver %s is ctr's own plugin: use --driver bridge", driver);
  if (!pl->builtin && net_plugin_find(driver, &pl->plugin, err) < 0)
    return -1;
  if (!pl->builtin && o->internal)
    return ctr_usage(err, "--internal needs the bridge driver (a CNI plugin has no such "
                          "setting)");
  if (o->mtu_set && netconf_check_mtu(o->mtu, err) < 0)
    return -1;
  pl->mtu = o->mtu_set ? o->mtu : pl->builtin ? NET_DEFAULT_MTU : 0;
  pl->options = options_object(o, pl->builtin, err);
  if (pl->options == NULL)
    return -1;
  if (o->gateway != NULL && o->subnet == NULL)
    return ctr_usage(err, "--gateway needs --subnet");
  if (o->subnet != NULL) {
    struct net_config c = {0};
    int r = netconf_parse_subnet_gateway(&c, o->subnet, o->gateway, err);
    pl->subnet = c.subnet;
    pl->gateway = c.gateway;
    net_config_free(&c);
    if (r < 0)
      return -1;
    pl->subnet_given = true;
    pl->gateway_given = o->gateway != NULL;
  }
  return pl->overlay ? netconf_plan_overlay(o, pl, err) : 0;
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
    if (pl->overlay && nets[i].vni == pl->vni) {
      free(used);
      return ctr_fail(err, 0, "VNI %u is taken by network %s", pl->vni, nets[i].name);
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
    if (pl->overlay)
      netconf_overlay_bridge_name(o->name, pl->local, salt, bridge);
    else
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
  cleanup_free char *data_dir = netconf_data_dir(p);
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
  doc = pl.builtin ? netconf_conflist_bridge(o->name, bridge, subnet, gateway, o->internal,
                                             pl.mtu, data_dir, json_incref(pl.options), now)
                   : netconf_conflist_external(o->name, o->driver, json_incref(pl.options),
                                               pl.mtu, subnet, gateway, data_dir, now);
  if (doc != NULL && pl.overlay && netconf_overlay_keys(doc, &pl, bridge) < 0)
    json_decref(doc), doc = NULL;
  if (doc == NULL) {
    ctr_fail(err, ENOMEM, "create network");
    goto out;
  }
  dfd = ctr_paths_open(p->root, "networks", err);
  if (dfd < 0 || default_ensure_at(p, dfd, err) < 0)
    goto out;
  /* leases a crash left of an earlier network of this name are void */
  if (ctr_rm_rf(dfd, o->name, err) < 0 || netconf_save_conflist(dfd, o->name, doc, err) < 0)
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

