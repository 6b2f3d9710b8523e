/* Links, addresses and routes through libnl-route-3, in the caller's
 * network namespace or in another one: a route socket belongs to the
 * namespace it was created in, so net_nl_open_in() creates it on a
 * short-lived thread that setns()es first; the calling thread never
 * changes namespace. Failures are ctr_err with the errno behind them. */
#ifndef CTR_NET_LINK_H
#define CTR_NET_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "net/ipam.h"

struct nl_sock;

#define NET_IFNAMSIZ 16 /* IFNAMSIZ: 15 characters and a NUL */
#define NET_MAC_STRLEN 18

struct net_link_info {
  int ifindex;
  int master;   /* ifindex of the bridge it is a port of, 0 if none */
  int peer;     /* IFLA_LINK: a veth's peer ifindex (in its netns) */
  unsigned mtu;
  bool up;      /* IFF_UP */
  char kind[16]; /* "bridge", "veth", … ("" when the kernel says none) */
  char name[NET_IFNAMSIZ];
  char mac[NET_MAC_STRLEN]; /* "aa:bb:cc:dd:ee:ff" */
  char alias[48]; /* IFLA_IFALIAS, cut to fit ("" when none) */
};

/* A NETLINK_ROUTE socket in the current namespace (netns_fd < 0) or in
 * the namespace netns_fd refers to. Free with net_nl_close. */
int net_nl_open_in(int netns_fd, struct nl_sock **out, ctr_err *err);
void net_nl_close(struct nl_sock *sk);
/* net_nl_open_in for another namespace in two halves, so the caller can
 * work meanwhile: start runs the thread, finish joins it (and frees the
 * job) and gives the socket. finish must be called once start succeeded. */
struct net_nl_open_job;
int net_nl_open_start(int netns_fd, struct net_nl_open_job **job,
                      ctr_err *err);
int net_nl_open_finish(struct net_nl_open_job *job, struct nl_sock **out,
                       ctr_err *err);
/* True when fd refers to a network namespace (NS_GET_NSTYPE). */
bool net_fd_is_netns(int fd);

/* 1 and *out when a link of that name exists, 0 when not. */
int net_link_get(struct nl_sock *sk, const char *name,
                 struct net_link_info *out, ctr_err *err);
/* Delete a link by name; 1 when deleted, 0 when there was none. */
int net_link_delete(struct nl_sock *sk, const char *name, ctr_err *err);
/* The same, but returning as soon as the kernel has unregistered the link
 * (gone from every namespace, its addresses, routes and bridge port with
 * it) rather than after it has also freed it: a veth's deletion then waits
 * out an RCU barrier, tens of ms on a busy host. A short-lived grandchild
 * process sends the request and waits that out; it holds none of the
 * caller's descriptors. Falls back to net_link_delete when it cannot. It
 * forks: no other thread of the caller may be inside libnl meanwhile. */
int net_link_delete_unlisted(struct nl_sock *sk, const char *name,
                             ctr_err *err);
/* The same in two halves, so the caller can work while the kernel
 * unregisters the link: start returns 0 (and *job NULL) when there is no
 * such link, 1 when its deletion is under way; finish waits for it to be
 * unregistered (deleting it there and then if the deleter could not) and
 * frees the job. sk must stay open until then (the caller may use it).
 * found (may be NULL) gets the link as it was. */
struct net_link_delete_job;
int net_link_delete_start(struct nl_sock *sk, const char *name,
                          struct net_link_delete_job **job,
                          struct net_link_info *found, ctr_err *err);
int net_link_delete_finish(struct net_link_delete_job *job, ctr_err *err);
int net_link_set_up(struct nl_sock *sk, int ifindex, ctr_err *err);
/* The same, giving the link an alias (IFLA_IFALIAS) in the same request;
 * alias NULL: as net_link_set_up. */
int net_link_set_up_alias(struct nl_sock *sk, int ifindex, const char *alias,
                          ctr_err *err);
/* Turn hairpin mode on for a bridge port (a container can reach itself
 * through the host's published ports). */
int net_link_set_hairpin(struct nl_sock *sk, int ifindex, ctr_err *err);

/* Make sure bridge `name` exists, carries gw/prefix and is up: created
 * (with the given MTU and a fixed MAC derived from its name, so the
 * gateway's MAC never changes as ports come and go) when missing; a
 * concurrent creator is fine. *created tells whether this call made it.
 * NET_CNI_E_CONFLICT when `name` is not a bridge or carries an IPv4
 * address of another subnet. An *out already holding a look-up of name
 * (ifindex set) is taken as it is; zero it otherwise. */
int net_bridge_ensure(struct nl_sock *sk, const char *name, uint32_t gw,
                      unsigned prefix, unsigned mtu, struct net_link_info *out,
                      bool *created, ctr_err *err);
/* Any IPv4 address of the namespace, on a link other than except_ifindex,
 * whose network overlaps c: NET_CNI_E_CONFLICT naming it. */
int net_check_overlap(struct nl_sock *sk, const struct net_cidr *c,
                      int except_ifindex, ctr_err *err);

/* A veth pair: host_name in sk's namespace, a port of master (ifindex),
 * and peer_name created straight inside the namespace netns_fd; both with
 * the given MTU, both down. EEXIST when either name is taken. */
int net_veth_create(struct nl_sock *sk, const char *host_name,
                    const char *peer_name, unsigned mtu, int master,
                    int netns_fd, ctr_err *err);

int net_addr_add(struct nl_sock *sk, int ifindex, uint32_t ip,
                 unsigned prefix, ctr_err *err);
/* 1 when ifindex carries ip/prefix, 0 when not. */
int net_addr_has(struct nl_sock *sk, int ifindex, uint32_t ip,
                 unsigned prefix, ctr_err *err);
/* The IPv4 addresses of ifindex (at most max); returns how many. */
int net_addr_list(struct nl_sock *sk, int ifindex, uint32_t *ips,
                  unsigned *prefixes, int max, ctr_err *err);
/* default via gw dev ifindex, in the main table; 1 (and nothing done)
 * when the table has a default route already. */
int net_route_default_add(struct nl_sock *sk, int ifindex, uint32_t gw,
                          ctr_err *err);
/* 1 when the main table has that default route (ifindex 0: any default
 * route), 0 when not. */
int net_route_default_has(struct nl_sock *sk, int ifindex, uint32_t gw,
                          ctr_err *err);
/* Ports of bridge `master`: their names, NUL-separated in *names (malloc'd,
 * ending with an empty name). */
int net_bridge_ports(struct nl_sock *sk, int master, char **names,
                     ctr_err *err);

/* FNV-1a 64 over the NUL-terminated parts (c may be NULL): names and
 * tags derived from ids, stable across versions and hosts. */
uint64_t net_name_hash(const char *a, const char *b, const char *c);

/* Write "1" to a /proc/sys file of the current namespace unless it
 * already reads 1 (ip_forward, route_localnet). */
int net_sysctl_enable(const char *path, ctr_err *err);

#endif
