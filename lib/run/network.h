/* A container on networks. ctr-run does no netlink or nftables work of
 * its own: it pins the container's new network namespace at
 * $CTR_RUNDIR/netns/<id> and runs `ctr-net connect --netns PIN ...` for
 * each network, as a user could by hand, then writes the container's
 * /etc/hosts and /etc/resolv.conf from what ctr-net answered. Every end
 * of a run hands it all back with `ctr-net disconnect --all <id>`.
 *
 * The durable request, in state.json at create (start and restarts
 * reconnect from it):
 *   "network_mode": "none" | "host" | "bridge" (on named networks)
 *   "networks": [{"name", "aliases": [...], "ip", "mac"}]  (ip, mac: the
 *       first network's --ip / --mac-address, or null)
 *   "ports": ["[IP:][HOSTPORT:]PORT[/PROTO]", ...]  (-p, and -P's picks)
 *   "dns": [IP, ...], "extra_hosts": ["HOST:IP", ...]
 * What a container holds now is ctr-net's: $CTR_RUNDIR/networks/<id>.json. */
#ifndef CTR_RUN_NETWORK_H
#define CTR_RUN_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "container.h"
#include "core/error.h"
#include "core/paths.h"
#include "spec.h"

/* The network a container without --network joins; $CTR_DEFAULT_NETWORK
 * (e.g. "none") replaces it when set and not empty. */
#define RUN_NET_DEFAULT "bridge"

/* ---- the options (usage errors name the option and the value) ---------- */

/* --network NAME[,NAME...]: append each to list. */
int run_net_opt_network(json_t *list, const char *arg, ctr_err *err);
/* --ip, --dns: an address; --mac-address; --add-host HOST:IP; -p SPEC. */
int run_net_opt_ip(const char *opt, const char *arg, bool ipv6_ok, ctr_err *err);
int run_net_opt_mac(const char *arg, ctr_err *err);
int run_net_opt_add_host(const char *arg, ctr_err *err);
int run_net_opt_publish(const char *spec, ctr_err *err);

/* Once every option is read: the default network, o->network set to
 * "none", "host" or NULL (named networks in o->networks), and the
 * options that conflict refused. Pure. */
int run_net_settle(struct run_opts *o, ctr_err *err);
/* Every named network exists (the default one always does), and --ip
 * lies in the first one's subnet. Reads the store, creates nothing. */
int run_net_check(const struct ctr_paths *p, const struct run_opts *o, ctr_err *err);

/* The request into state (see above); -P's picks from the image config's
 * ExposedPorts (icfg may be NULL). */
int run_net_request(const struct run_opts *o, const json_t *icfg, json_t *state, ctr_err *err);

/* hosts and resolv.conf in the container directory dfd, from state (the
 * request), the hostname and the attachments ctr-net made (NULL: none
 * yet, or none at all). host_net keeps the host's own resolvers. */
int run_net_write_etc(int dfd, const json_t *state, const char *hostname,
                      const json_t *attachments, bool host_net, ctr_err *err);

/* ---- a start ------------------------------------------------------------- */

struct run_start;

/* What run_net_attach needs; lives as long as the start. */
struct run_net_start {
  const struct ctr_paths *p;
  struct run_container *c;
  const json_t *config;
};
/* Make s attach c's networks once its namespaces exist and before it
 * runs anything (nothing for a container without networks). */
void run_net_start_init(struct run_net_start *ns, const struct ctr_paths *p,
                        struct run_container *c, const json_t *config, struct run_start *s);
/* The hook itself: a leftover of a crashed run released, the pin, one
 * `ctr-net connect` per network, hosts and resolv.conf. On failure all
 * of it is undone and err holds ctr-net's own line. */
int run_net_attach(void *arg, pid_t pid, ctr_err *err);

/* ---- an end -------------------------------------------------------------- */

/* `ctr-net disconnect --all <id>` and the pin gone, when the container
 * has (or may have) anything: no exec otherwise. Failures are warnings:
 * an end goes on, and `ctr-net gc` sees to what is left. */
void run_net_release(const struct ctr_paths *p, const struct run_container *c);

/* ---- what it holds now ------------------------------------------------- */

/* The live attachments of a container (an array, empty when none). */
json_t *run_net_live(const struct ctr_paths *p, const char *id);
/* "0.0.0.0:8080->80/tcp, ..." of the attachments (docker ps's PORTS). */
void run_net_ports_text(const json_t *attachments, char *out, size_t len);
/* docker inspect's NetworkSettings from state and the attachments. */
json_t *run_net_settings(const struct ctr_paths *p, const json_t *state,
                         const json_t *attachments, bool running);

#endif
