/* Containers on networks: `ctr-net connect`, `disconnect`, `gc`. The
 * dispatcher over the drivers (ctr's bridge in-process, anything else
 * through the CNI protocol, cniexec.h) and the records that say what a
 * container is attached to:
 *
 *   $CTR_RUNDIR/networks/<id>.json        the container's live attachments,
 *       a JSON array of {"network","ifname","ip","prefix","gateway","mac",
 *       "aliases":[...],"ports":[{"hostIP","hostPort","containerPort",
 *       "protocol"}],"driver"}; replaced atomically under
 *       $CTR_RUNDIR/locks/net-<id>.lock, gone with the last attachment.
 *   $CTR_RUNDIR/networks/<network>.hosts  hosts(5) lines "IP name shortid
 *       alias... # <id>" for every live attachment on that network;
 *       rebuilt from the records, atomically, under the network's lease
 *       lock after every change (the network's name server reads it).
 *
 * A container is found by name, id or unique id prefix; its network
 * namespace is the one given (ctr-run, while starting it) or the one
 * pinned at $CTR_RUNDIR/netns/<id> (a running container). */
#ifndef CTR_NET_ATTACH_H
#define CTR_NET_ATTACH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/paths.h"

struct net_connect_opts {
  const char *network;
  const char *container; /* name, id or unique id prefix */
  const char *ip;        /* NULL: the next free address */
  const char *mac;       /* NULL: a random one */
  const char *const *aliases;
  size_t naliases;
  const char *const *ports; /* docker's -p SPECs */
  size_t nports;
  const char *ifname; /* NULL: the first ethN the container does not use */
  const char *netns;  /* NULL: the container must run; its pinned netns,
                         and the request is recorded in state.json */
};

/* Attach; *record (may be NULL) receives the attachment record. Bad input
 * changes nothing (exit 2 for usage, 1 otherwise). */
int net_connect(const struct ctr_paths *p, const struct net_connect_opts *o,
                json_t **record, ctr_err *err);
/* Release one attachment (network given) and drop it from state.json, or
 * every attachment and the netns pin (network NULL: what ctr-run calls
 * when a container ends). force: no error when not attached. With
 * network NULL, a container already removed is found by its full id. */
int net_disconnect(const struct ctr_paths *p, const char *network,
                   const char *container, bool force, ctr_err *err);
/* Release what containers that no longer run left: attachments, leases,
 * veths, rules, netns pins, names. *released: one line per thing, a
 * NULL-ended array (free with net_names_free, netconf.h). */
int net_gc(const struct ctr_paths *p, char ***released, ctr_err *err);

/* The live attachments of container id: *out is a JSON array (empty when
 * it has none), as in the record file. */
int net_attachments_load(const struct ctr_paths *p, const char *id,
                         json_t **out, ctr_err *err);

/* Pure helpers, for tests. */
/* A network alias: 1-63 of [A-Za-z0-9_.-], starting with a letter or
 * digit (a DNS label set, as docker takes them). */
bool net_alias_valid(const char *s);
/* The first "ethN" not among the ifnames of the records array. */
void net_attach_next_ifname(const json_t *records, char out[16]);
/* The hosts file of `network` from every container's records, given as
 * an object id -> {"name": container name, "records": [...]}; malloc'd. */
char *net_hosts_render(const char *network, const json_t *containers);

#endif
