/* The conflists ctr writes: ctr's own bridge (and overlay) driver, an
 * external CNI plugin with host-local addresses, the default network. */
#define _GNU_SOURCE
#include "net/netconf_int.h"

#include <stdio.h>

#include "core/cleanup.h"

/* ---- building conflists --------------------------------------------------- */

int netconf_set_new(json_t *obj, const char *key, json_t *v) {
  return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

/* {"cniVersion","name","plugins":[plugin]} and ctr's own metadata. */
static json_t *conflist_wrap(const char *name, json_t *plugin, const char *created) {
  json_t *doc = json_object(), *plugins = json_array(), *meta;
  if (doc == NULL || plugins == NULL || plugin == NULL ||
      netconf_set_new(doc, "cniVersion", json_string(NET_CONFLIST_VERSION)) < 0 ||
      netconf_set_new(doc, "name", json_string(name)) < 0 ||
      json_array_append(plugins, plugin) < 0 ||
      json_object_set(doc, "plugins", plugins) < 0)
    goto fail;
  if (created != NULL) {
    meta = json_object();
    if (netconf_set_new(doc, "ctr", meta) < 0 ||
        netconf_set_new(meta, "created", json_string(created)) < 0)
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

json_t *netconf_conflist_bridge(const char *name, const char *bridge, const char *subnet,
                                const char *gateway, bool internal, long mtu,
                                const char *data_dir, json_t *options, const char *created) {
  json_t *pl = json_object(), *caps = json_object();
  if (pl == NULL || caps == NULL || options == NULL ||
      netconf_set_new(pl, "type", json_string(NET_PLUGIN_TYPE)) < 0 ||
      netconf_set_new(pl, "driver", json_string("bridge")) < 0 ||
      netconf_set_new(pl, "bridge", json_string(bridge)) < 0 ||
      netconf_set_new(pl, "subnet", json_string(subnet)) < 0 ||
      netconf_set_new(pl, "gateway", json_string(gateway)) < 0 ||
      netconf_set_new(pl, "internal", json_boolean(internal)) < 0 ||
      netconf_set_new(pl, "mtu", json_integer(mtu)) < 0 ||
      netconf_set_new(pl, "dataDir", json_string(data_dir)) < 0 ||
      netconf_set_new(caps, "portMappings", json_true()) < 0 ||
      json_object_set(pl, "capabilities", caps) < 0 ||
      json_object_set(pl, "options", options) < 0) {
    json_decref(pl);
    pl = NULL;
  }
  json_decref(caps);
  json_decref(options);
  return conflist_wrap(name, pl, created);
}

json_t *netconf_conflist_external(const char *name, const char *type, json_t *options,
                                  long mtu, const char *subnet, const char *gateway,
                                  const char *data_dir, const char *created) {
  json_t *pl = json_object(), *ipam = json_object(), *range = json_object();
  json_t *ranges = json_pack("[[O]]", range);
  const char *key;
  json_t *v;
  if (pl == NULL || ipam == NULL || range == NULL || ranges == NULL || options == NULL ||
      netconf_set_new(pl, "type", json_string(type)) < 0)
    goto fail;
  json_object_foreach(options, key, v) if (json_object_set(pl, key, v) < 0) goto fail;
  if ((mtu > 0 && netconf_set_new(pl, "mtu", json_integer(mtu)) < 0) ||
      netconf_set_new(range, "subnet", json_string(subnet)) < 0 ||
      netconf_set_new(range, "gateway", json_string(gateway)) < 0 ||
      netconf_set_new(ipam, "type", json_string("host-local")) < 0 ||
      json_object_set(ipam, "ranges", ranges) < 0 ||
      netconf_set_new(ipam, "dataDir", json_string(data_dir)) < 0 ||
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

char *netconf_data_dir(const struct ctr_paths *p) {
  char *d = NULL;
  if (asprintf(&d, "%s/networks", p->root) < 0)
    return NULL;
  return d;
}

json_t *netconf_default_conflist(const struct ctr_paths *p, const char *created) {
  cleanup_free char *data_dir = netconf_data_dir(p);
  if (data_dir == NULL)
    return NULL;
  return netconf_conflist_bridge(NET_DEFAULT_NAME, NET_DEFAULT_BRIDGE, NET_DEFAULT_SUBNET,
                                 NET_DEFAULT_GATEWAY, false, NET_DEFAULT_MTU, data_dir,
                                 json_object(), created);
}
