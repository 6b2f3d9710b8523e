/* ctr-net as a CNI runtime (what libcni does for podman or containerd):
 * running the plugins of a network configuration list by the CNI 1.0
 * protocol, for networks whose driver is an external plugin.
 *
 * ADD runs the list's plugins in order, each given the previous one's
 * result as prevResult; DEL runs them in reverse, each given the cached
 * ADD result. Every plugin gets CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME, CNI_ARGS and CNI_PATH ($CNI_PATH, else /usr/lib/cni) in its
 * environment, and on stdin its entry of the list with "name",
 * "cniVersion", prevResult and runtimeConfig (only the capability
 * arguments it declares in its "capabilities"). A plugin of type
 * "ctr-net" is this very program.
 *
 * A plugin that fails, or answers with something that is not a result,
 * fails the whole ADD with one line naming it and its message, after
 * every plugin already run (the failing one included, as libcni does)
 * was given DEL.
 *
 * Results are cached as libcni caches them, for DEL and CHECK after the
 * network or the process is gone:
 *   $CTR_RUNDIR/networks/cache/<network>/<id>-<ifname>.json
 *   {"kind":"cniCacheV1","containerId","config":<base64 of the list>,
 *    "ifName","networkName","netns","cniArgs":[[K,V]...],
 *    "capabilityArgs":{...},"result":{...}} */
#ifndef CTR_NET_CNIEXEC_H
#define CTR_NET_CNIEXEC_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

struct net_cniexec {
  const json_t *conflist; /* the whole list (cniVersion, name, plugins) */
  const char *container_id, *netns, *ifname;
  const char *args;            /* CNI_ARGS ("K=V;K=V"), or NULL */
  const json_t *capabilities;  /* capability arguments by name
                                  ({"portMappings":[...],"mac":"...",
                                  "ips":[...]}), or NULL */
};

/* Run ADD through the list; *result is the last plugin's result. */
int net_cniexec_add(const struct net_cniexec *x, json_t **result,
                    ctr_err *err);
/* Run DEL through the list in reverse; every plugin is run, the first
 * failure is returned. prev may be NULL (no cached result). */
int net_cniexec_del(const struct net_cniexec *x, const json_t *prev,
                    ctr_err *err);
/* Run CHECK through the list (cniVersion 0.4.0 and later). */
int net_cniexec_check(const struct net_cniexec *x, const json_t *prev,
                      ctr_err *err);

/* The cache file of an attachment (malloc'd path). */
char *net_cniexec_cache_path(const struct ctr_paths *p, const char *network,
                             const char *id, const char *ifname);
/* Write the cache entry for x's ADD result (atomically). */
int net_cniexec_cache_save(const struct ctr_paths *p, const char *network,
                           const struct net_cniexec *x, const json_t *result,
                           ctr_err *err);
/* 1 and *entry (the cache document) when there is one, 0 when not. */
int net_cniexec_cache_load(const struct ctr_paths *p, const char *network,
                           const char *id, const char *ifname, json_t **entry,
                           ctr_err *err);
/* The configuration list a cache entry was made with (its "config"). */
json_t *net_cniexec_cache_conflist(const json_t *entry);
void net_cniexec_cache_remove(const struct ctr_paths *p, const char *network,
                              const char *id, const char *ifname);

#endif
