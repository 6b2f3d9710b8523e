/* Network definitions: each network is a CNI network configuration list
 * at $CTR_ROOT/networks/NAME.conflist, its address leases in
 * $CTR_ROOT/networks/NAME/ (host-local's layout). Creating, listing,
 * loading (parsed and validated) and removing them, for ctr-net, ctr-run
 * and ctr-up alike. Writers hold networks.lock; readers take no lock
 * (every file is replaced atomically) and never create the store. */
#ifndef CTR_NET_NETCONF_H
#define CTR_NET_NETCONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/paths.h"
#include "net/cidr.h"

#define NET_DEFAULT_NAME "bridge"
#define NET_DEFAULT_BRIDGE "ctr0"
#define NET_DEFAULT_SUBNET "10.88.0.0/16"
#define NET_DEFAULT_GATEWAY "10.88.0.1"
#define NET_AUTO_POOL "10.89.0.0/16" /* where subnets nobody gave come from */
#define NET_AUTO_PREFIX 24
#define NET_NAME_MAX 64
#define NET_DEFAULT_MTU 1500
#define NET_CONFLIST_VERSION "1.0.0" /* cniVersion of the conflists written */
#define NET_PLUGIN_TYPE "ctr-net" /* the CNI type of ctr's own drivers */
#define NET_PLUGIN_DIR "/usr/lib/cni"
#define NET_IFNAME_MAX 15

/* One network, as loaded from its conflist (or, for the default network
 * before its first use, as it will be written). */
struct net_config {
  char *name;
  char *driver;       /* "bridge" (ctr's own) or the external plugin's type */
  bool builtin;       /* ctr's own driver: plugin type "ctr-net" */
  bool is_default;    /* the network named NET_DEFAULT_NAME */
  bool on_disk;       /* false: the default network, not written yet */
  char bridge[NET_IFNAME_MAX + 1]; /* builtin: the bridge device */
  char *subnet_text;  /* as written; NULL when the plugin has none we know */
  char *gateway_text; /* NULL when none */
  bool has_subnet;    /* subnet and gateway parsed (IPv4): used for overlap */
  struct net_cidr subnet;
  uint32_t gateway;
  bool internal;      /* builtin: no route out, no masquerading */
  long mtu;           /* 0: the plugin's own default */
  uint32_t vni;       /* overlay: its VNI (0: not an overlay) */
  uint32_t local;     /* overlay: this host's underlay address */
  char *created;      /* RFC 3339 from the "ctr" metadata, or NULL */
  json_t *conflist;   /* the whole document, owned */
};

/* What `ctr-net create` asks for; NULL/0/false fields take defaults. */
struct net_create_opts {
  const char *name;
  const char *driver;  /* NULL or "bridge": ctr's own; "overlay": ctr's
                          VXLAN overlay (plugin_overlay.h); anything else:
                          a CNI plugin's type */
  const char *subnet;  /* NULL: the first free /24 of NET_AUTO_POOL */
  const char *gateway; /* NULL: the subnet's first host */
  bool internal;       /* bridge driver only */
  bool mtu_set;
  long mtu;            /* 68..65535 when mtu_set */
  const char *const *opts; /* "KEY=VALUE" strings, nopts of them */
  size_t nopts;
  /* overlay only (usage error with another driver) */
  bool vni_set;
  long vni;                  /* 1..16777215, required */
  const char *const *peers;  /* underlay IPv4 addresses, at least one */
  size_t npeers;
  const char *local;         /* NULL: the source address toward peers[0] */
};

/* One lease file of a network: an address and who holds it. */
struct net_lease_info {
  char *address;   /* the file's name: an IPv4 or IPv6 address */
  char *container; /* first line of the file; NULL when unreadable */
  char *ifname;    /* second line; NULL when absent */
  bool live;       /* $CTR_ROOT/containers/<container>/ exists */
};

/* The keys `--opt` may set for ctr's own bridge driver (NULL-ended).
 * A key is listed here only once the plugin honours it. */
extern const char *const net_bridge_option_keys[];

/* Network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most NET_NAME_MAX, not
 * ending in ".conflist" (its lease directory would be another network's
 * file); "host" and "none" are reserved. Usage error otherwise. */
int net_name_check(const char *name, ctr_err *err);
/* The form alone, without the reserved names (what a CNI plugin checks). */
bool net_name_valid(const char *name);
/* Parse and validate a conflist; name, when not NULL, must be the name
 * inside. Pure: reads nothing else. *out is freed with net_config_free. */
int net_config_parse(const char *name, const char *buf, size_t len,
                     struct net_config *out, ctr_err *err);
void net_config_free(struct net_config *c);
/* Load network `name`; "no such network" (errnum ENOENT) when it has no
 * conflist, but for the default network, which is then described as it
 * will be written (on_disk false). Creates nothing. */
int net_config_load(const struct ctr_paths *p, const char *name,
                    struct net_config *out, ctr_err *err);
/* Every network, sorted by name, the default one included. Conflists
 * that do not load are left out with a warning. *out is freed with
 * net_config_list_free. Creates nothing. */
int net_config_list(const struct ctr_paths *p, struct net_config **out,
                    size_t *n, ctr_err *err);
void net_config_list_free(struct net_config *list, size_t n);

/* Make sure the default network's conflist exists, under networks.lock:
 * 1 when this call wrote it, 0 when it was there, -1 on error. Safe to
 * call from any number of processes at once; it creates $CTR_ROOT. */
int net_default_ensure(const struct ctr_paths *p, ctr_err *err);
/* Validate o against the networks there are and write the conflist
 * (atomically, fsynced, under networks.lock); the default network is
 * written too if it was not yet. Leaves the store as it was on error.
 * *out (may be NULL) receives the new network. */
int net_create(const struct ctr_paths *p, const struct net_create_opts *o,
               struct net_config *out, ctr_err *err);
/* Change an overlay's peer list: add[0..nadd) joined, rm[0..nrm) taken
 * off (usage errors for malformed addresses, a peer added twice or
 * removed while absent, no peer left, two peers sharing a slice), the
 * conflist rewritten atomically under networks.lock. Only the file: the
 * live part is net_overlay_apply's. */
int net_update(const struct ctr_paths *p, const char *name,
               const char *const *add, size_t nadd, const char *const *rm,
               size_t nrm, ctr_err *err);
/* Remove a network: refuses the default one and one with leases of
 * containers that still exist ("network NAME has N containers
 * attached"), changing nothing. A crash leaves either the network or
 * nothing. Creates no store when there is none. */
int net_remove(const struct ctr_paths *p, const char *name, ctr_err *err);
/* Remove every network but the default one that has no lease of a live
 * container, and what a crash left behind. The names removed, sorted,
 * in *removed (a NULL-ended array, free with net_names_free). Creates no
 * store when there is none. */
int net_prune(const struct ctr_paths *p, char ***removed, ctr_err *err);
void net_names_free(char **names);

/* The leases of network `name`, sorted by address; none when it has no
 * lease directory. Creates nothing. */
int net_lease_info_list(const struct ctr_paths *p, const char *name,
                        struct net_lease_info **out, size_t *n, ctr_err *err);
void net_lease_info_free(struct net_lease_info *l, size_t n);
/* How many distinct containers hold live leases among l[0..n). */
size_t net_lease_info_live(const struct net_lease_info *l, size_t n);

/* The executable of CNI plugin `type`: searched in $CNI_PATH (a colon
 * list), then NET_PLUGIN_DIR. *path is malloc'd. */
int net_plugin_find(const char *type, char **path, ctr_err *err);
/* The bridge device of a network made with ctr's bridge driver:
 * "ctr0" for the default, else "ctr-" and 8 hex digits of a hash of the
 * name and salt (salt 0 first, more when taken). */
void net_bridge_name(const char *name, unsigned salt,
                     char out[NET_IFNAME_MAX + 1]);

#endif
