#define _GNU_SOURCE
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "net/cni.h"
#include "net/nl_util.h"


/* libnl reports its own codes (NLE_*); its messages say enough. */
static int nl_fail(ctr_err *err, int nlerr, const char *what, const char *name) {
  return ctr_fail(err, 0, "%s %s: %s", what, name, nl_geterror(nlerr));
}

static bool nl_missing(int rc) {
  return rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV;
}

/* ---- sockets, in this namespace or another ------------------------------ */

static int socket_here(struct nl_sock **out, ctr_err *err) {
  struct nl_sock *sk = nl_socket_alloc();
  int rc;
  if (sk == NULL)
    return ctr_fail(err, ENOMEM, "netlink socket");
  rc = nl_connect(sk, NETLINK_ROUTE);
  if (rc < 0) {
    nl_socket_free(sk);
    return ctr_fail(err, 0, "netlink socket: %s", nl_geterror(rc));
  }
  *out = sk;
  return 0;
}

struct net_nl_open_job {
  int netns_fd;
  struct nl_sock *sk;
  int setns_errno;
  ctr_err err;
  pthread_t thread;
};

/* Runs on its own thread: joins the namespace, opens the socket there,
 * and ends, so no thread of the caller is left in a foreign namespace. */
static void *socket_in_ns(void *arg) {
  struct net_nl_open_job *job = arg;
  if (setns(job->netns_fd, CLONE_NEWNET) < 0) {
    job->setns_errno = errno;
    return NULL;
  }
  socket_here(&job->sk, &job->err);
  return NULL;
}

int net_nl_open_start(int netns_fd, struct net_nl_open_job **out,
                      ctr_err *err) {
  struct net_nl_open_job *job = calloc(1, sizeof(*job));
  int rc;
  *out = NULL;
  if (job == NULL)
    return ctr_fail(err, ENOMEM, "start a thread to enter the namespace");
  job->netns_fd = netns_fd;
  rc = pthread_create(&job->thread, NULL, socket_in_ns, job);
  if (rc != 0) {
    free(job);
    return ctr_fail(err, rc, "start a thread to enter the namespace");
  }
  *out = job;
  return 0;
}

int net_nl_open_finish(struct net_nl_open_job *job, struct nl_sock **out,
                       ctr_err *err) {
  int rc = 0;
  *out = NULL;
  if (job == NULL)
    return 0;
  pthread_join(job->thread, NULL);
  if (job->setns_errno != 0) {
    rc = ctr_fail(err, job->setns_errno, "enter the network namespace");
  } else if (job->sk == NULL) {
    ctr_err_free(err);
    *err = job->err; /* now the caller's */
    rc = ctr_wrap(err, "in the network namespace");
  } else {
    *out = job->sk;
  }
  free(job);
  return rc;
}

int net_nl_open_in(int netns_fd, struct nl_sock **out, ctr_err *err) {
  struct net_nl_open_job *job;
  if (netns_fd < 0)
    return socket_here(out, err);
  if (net_nl_open_start(netns_fd, &job, err) < 0)
    return -1;
  return net_nl_open_finish(job, out, err);
}

void net_nl_close(struct nl_sock *sk) {
  if (sk != NULL)
    nl_socket_free(sk);
}

bool net_fd_is_netns(int fd) {
  return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

/* ---- links --------------------------------------------------------------- */

static void fill_info(struct rtnl_link *l, struct net_link_info *out) {
  struct nl_addr *mac = rtnl_link_get_addr(l);
  const char *kind = rtnl_link_get_type(l);
  const char *name = rtnl_link_get_name(l);
  const char *alias = rtnl_link_get_ifalias(l);
  memset(out, 0, sizeof(*out));
  snprintf(out->alias, sizeof(out->alias), "%s", alias ? alias : "");
  out->ifindex = rtnl_link_get_ifindex(l);
  out->master = rtnl_link_get_master(l);
  out->peer = rtnl_link_get_link(l);
  out->mtu = rtnl_link_get_mtu(l);
  out->up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
  snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "");
  snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
  if (mac != NULL && nl_addr_get_len(mac) == 6) {
    const unsigned char *b = nl_addr_get_binary_addr(mac);
    snprintf(out->mac, sizeof(out->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
             b[0], b[1], b[2], b[3], b[4], b[5]);
  }
}

int net_link_get(struct nl_sock *sk, const char *name,
                 struct net_link_info *out, ctr_err *err) {
  cleanup_link struct rtnl_link *l = NULL;
  int rc = rtnl_link_get_kernel(sk, 0, name, &l);
  if (nl_missing(rc))
    return 0;
  if (rc < 0)
    return nl_fail(err, rc, "look up link", name);
  fill_info(l, out);
  return 1;
}

int net_link_delete(struct nl_sock *sk, const char *name, ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_alloc();
  int rc;
  if (l == NULL)
    return ctr_fail(err, ENOMEM, "delete link %s", name);
  rtnl_link_set_name(l, name);
  rc = rtnl_link_delete(sk, l);
  if (nl_missing(rc))
    return 0;
  if (rc < 0)
    return nl_fail(err, rc, "delete link", name);
  return 1;
}

/* ---- deleting without waiting out the kernel's RCU barrier -------------- */

struct unlist_watch {
  int ifindex;
  bool gone;
};

static int unlist_seen(struct nl_msg *msg, void *arg) {
  struct unlist_watch *w = arg;
  struct nlmsghdr *h = nlmsg_hdr(msg);
  const struct ifinfomsg *ifi = nlmsg_data(h);
  /* the bridge announces its port's removal first (AF_BRIDGE); the
   * link's own RTM_DELLINK (AF_UNSPEC) comes after its unregistration */
  if (h->nlmsg_type == RTM_DELLINK &&
      nlmsg_datalen(h) >= (int)sizeof(*ifi) && ifi->ifi_family == AF_UNSPEC &&
      ifi->ifi_index == w->ifindex)
    w->gone = true;
  return NL_OK;
}

/* The grandchild: sends RTM_DELLINK for ifindex, tells the result on fd 3,
 * then exits. All other descriptors are closed and it leaves the working
 * directory first, so it holds no lock, pipe, terminal or mount of its
 * caller's while it waits out the barrier. */
static void __attribute__((noreturn)) delete_in_background(int ifindex,
                                                           int report) {
  struct nl_sock *sk = nl_socket_alloc();
  struct rtnl_link *l = rtnl_link_alloc();
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), rc = -NLE_NOMEM;
  signal(SIGPIPE, SIG_IGN); /* the caller may be gone when we report */
  for (int fd = 0; fd < 3 && devnull >= 0; fd++)
    dup2(devnull, fd);
  if (dup2(report, 3) < 0)
    _exit(1);
  close_range(4, ~0U, 0);
  if (chdir("/") < 0)
    _exit(1);
  if (sk != NULL && l != NULL && (rc = nl_connect(sk, NETLINK_ROUTE)) >= 0) {
    rtnl_link_set_ifindex(l, ifindex);
    rc = rtnl_link_delete(sk, l);
  }
  /* freed though _exit follows: memcheck runs the tools in the tests */
  if (l != NULL)
    rtnl_link_put(l);
  if (sk != NULL)
    nl_socket_free(sk);
  if (write(3, &rc, sizeof(rc)) < 0)
    _exit(1);
  _exit(0);
}

/* Start the grandchild (the child exits at once and is reaped here, so
 * nothing is left for our caller to reap); 0, or -1 when it could not be
 * started. */
static int spawn_deleter(int ifindex, int report) {
  pid_t pid = fork();
  int status;
  if (pid < 0)
    return -1;
  if (pid == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0)
      delete_in_background(ifindex, report);
    _exit(grandchild < 0 ? 1 : 0);
  }
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Wait for the announcement of ifindex's removal on mon, or for the
 * deleter's report on rd: 1 when the link is gone, 0 when the deleter
 * reported nothing (died first), -1 with *nlerr when the kernel refused. */
static int await_unlist(struct nl_sock *mon, int rd, int ifindex, int *nlerr) {
  struct unlist_watch w = {.ifindex = ifindex};
  struct pollfd p[2] = {{.fd = nl_socket_get_fd(mon), .events = POLLIN},
                        {.fd = rd, .events = POLLIN}};
  nl_socket_modify_cb(mon, NL_CB_VALID, NL_CB_CUSTOM, unlist_seen, &w);
  while (!w.gone) {
    int n = poll(p, 2, 60000);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 0;
    n = p[0].revents != 0 ? nl_recvmsgs_default(mon) : 0;
    if (n < 0 && n != -NLE_AGAIN)
      return 0; /* an overrun, say: the caller asks the kernel instead */
    if (p[1].revents != 0) {
      int rc;
      ssize_t got = read(rd, &rc, sizeof(rc));
      if (got != (ssize_t)sizeof(rc))
        return 0;
      if (rc < 0 && !nl_missing(rc)) {
        *nlerr = rc;
        return -1;
      }
      return 1;
    }
  }
  return 1;
}

/* Whether sk is a socket of the namespace this process is in (the
 * deleter and the listener are made here). */
static bool socket_is_here(struct nl_sock *sk) {
  struct stat a, b;
  int fd = ioctl(nl_socket_get_fd(sk), SIOCGSKNS);
  bool same;
  if (fd < 0)
    return false;
  same = fstat(fd, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  close(fd);
  return same;
}

struct net_link_delete_job {
  struct nl_sock *sk;   /* the caller's; used again only on fallback */
  struct nl_sock *mon;  /* RTNLGRP_LINK listener, NULL: delete in finish */
  int report;           /* read end of the deleter's pipe */
  int ifindex;
  char name[NET_IFNAMSIZ];
};

static void delete_job_free(struct net_link_delete_job *job) {
  if (job->report >= 0)
    close(job->report);
  if (job->mon != NULL)
    nl_socket_free(job->mon);
  free(job);
}

int net_link_delete_start(struct nl_sock *sk, const char *name,
                          struct net_link_delete_job **out,
                          struct net_link_info *found, ctr_err *err) {
  struct net_link_delete_job *job;
  struct net_link_info li;
  int p[2] = {-1, -1}, rc = net_link_get(sk, name, &li, err);
  *out = NULL;
  if (rc <= 0)
    return rc;
  if (found != NULL)
    *found = li;
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return ctr_fail(err, ENOMEM, "delete link %s", name);
  job->sk = sk;
  job->report = -1;
  job->ifindex = li.ifindex;
  snprintf(job->name, sizeof(job->name), "%s", name);
  *out = job;
  if (!socket_is_here(sk))
    return 1; /* the deleter could not reach it: finish deletes */
  /* listening before the request is sent: the announcement cannot be
   * missed */
  job->mon = nl_socket_alloc();
  if (job->mon == NULL)
    return 1;
  nl_socket_disable_seq_check(job->mon);
  if (nl_connect(job->mon, NETLINK_ROUTE) >= 0 &&
      nl_socket_add_membership(job->mon, RTNLGRP_LINK) >= 0 &&
      nl_socket_set_nonblocking(job->mon) >= 0 && pipe2(p, O_CLOEXEC) == 0 &&
      spawn_deleter(li.ifindex, p[1]) == 0) {
    job->report = p[0];
    p[0] = -1;
  } else {
    nl_socket_free(job->mon);
    job->mon = NULL;
  }
  if (p[0] >= 0)
    close(p[0]);
  if (p[1] >= 0)
    close(p[1]);
  return 1;
}

int net_link_delete_finish(struct net_link_delete_job *job, ctr_err *err) {
  int rc = 0, nlerr = 0;
  if (job == NULL)
    return 0;
  if (job->mon != NULL)
    rc = await_unlist(job->mon, job->report, job->ifindex, &nlerr);
  if (rc < 0)
    rc = nl_fail(err, nlerr, "delete link", job->name);
  else if (rc == 0)
    /* no deleter, or it died before the kernel took the request: done
     * here, waiting (gone meanwhile is fine) */
    rc = net_link_delete(job->sk, job->name, err) < 0 ? -1 : 0;
  delete_job_free(job);
  return rc < 0 ? -1 : 0;
}

int net_link_delete_unlisted(struct nl_sock *sk, const char *name,
                             ctr_err *err) {
  struct net_link_delete_job *job;
  int rc = net_link_delete_start(sk, name, &job, NULL, err);
  if (rc <= 0)
    return rc;
  return net_link_delete_finish(job, err) < 0 ? -1 : 1;
}

int net_link_set_up(struct nl_sock *sk, int ifindex, ctr_err *err) {
  return net_link_set_up_alias(sk, ifindex, NULL, err);
}

int net_link_set_up_alias(struct nl_sock *sk, int ifindex, const char *alias,
                          ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_alloc();
  int rc;
  if (l == NULL)
    return ctr_fail(err, ENOMEM, "set link up");
  rtnl_link_set_ifindex(l, ifindex);
  rtnl_link_set_flags(l, IFF_UP);
  if (alias != NULL)
    rtnl_link_set_ifalias(l, alias);
  rc = rtnl_link_change(sk, l, l, 0);
  if (rc < 0)
    return ctr_fail(err, 0, "set link %d up: %s", ifindex, nl_geterror(rc));
  return 0;
}

int net_link_set_hairpin(struct nl_sock *sk, int ifindex, ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_alloc();
  int rc;
  if (l == NULL)
    return ctr_fail(err, ENOMEM, "set hairpin mode");
  rtnl_link_set_ifindex(l, ifindex);
  rtnl_link_set_family(l, AF_BRIDGE);
  rc = rtnl_link_bridge_set_flags(l, RTNL_BRIDGE_HAIRPIN_MODE);
  if (rc >= 0)
    rc = rtnl_link_change(sk, l, l, 0);
  if (rc < 0)
    return ctr_fail(err, 0, "set hairpin mode on link %d: %s", ifindex,
                    nl_geterror(rc));
  return 0;
}

/* ---- addresses ------------------------------------------------------------ */

int net_addr_add(struct nl_sock *sk, int ifindex, uint32_t ip,
                 unsigned prefix, ctr_err *err) {
  struct rtnl_addr *a = rtnl_addr_alloc();
  cleanup_nladdr struct nl_addr *local = net_nl_ip4(ip, prefix);
  /* the broadcast address, as `ip addr add … brd +` and the reference
   * plugins set it */
  cleanup_nladdr struct nl_addr *brd =
      net_nl_ip4(ip | ~net_cidr_mask(prefix), 32);
  char s[NET_IP4_STRLEN];
  int rc;
  net_ip4_format(ip, s);
  if (a == NULL || local == NULL || brd == NULL) {
    if (a != NULL)
      rtnl_addr_put(a);
    return ctr_fail(err, ENOMEM, "add address %s", s);
  }
  rtnl_addr_set_ifindex(a, ifindex);
  rtnl_addr_set_family(a, AF_INET);
  rtnl_addr_set_prefixlen(a, (int)prefix);
  rc = rtnl_addr_set_local(a, local);
  if (rc >= 0 && prefix < 31)
    rc = rtnl_addr_set_broadcast(a, brd);
  if (rc >= 0)
    rc = rtnl_addr_add(sk, a, NLM_F_EXCL);
  rtnl_addr_put(a);
  if (rc == -NLE_EXIST)
    return 0;
  if (rc < 0)
    return ctr_fail(err, 0, "add address %s/%u: %s", s, prefix,
                    nl_geterror(rc));
  return 0;
}

int net_addr_list(struct nl_sock *sk, int ifindex, uint32_t *ips,
                  unsigned *prefixes, int max, ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  int rc = rtnl_addr_alloc_cache(sk, &cache), n = 0;
  if (rc < 0)
    return ctr_fail(err, 0, "list addresses: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_addr *a = (struct rtnl_addr *)o;
    if (rtnl_addr_get_family(a) != AF_INET ||
        (ifindex > 0 && rtnl_addr_get_ifindex(a) != ifindex))
      continue;
    if (n < max) {
      ips[n] = net_nl_ip4_of(rtnl_addr_get_local(a));
      prefixes[n] = (unsigned)rtnl_addr_get_prefixlen(a);
    }
    n++;
  }
  return n < max ? n : max;
}

int net_addr_has(struct nl_sock *sk, int ifindex, uint32_t ip,
                 unsigned prefix, ctr_err *err) {
  uint32_t ips[64];
  unsigned prefixes[64];
  int n = net_addr_list(sk, ifindex, ips, prefixes, 64, err);
  if (n < 0)
    return -1;
  for (int i = 0; i < n; i++)
    if (ips[i] == ip && prefixes[i] == prefix)
      return 1;
  return 0;
}

int net_check_overlap(struct nl_sock *sk, const struct net_cidr *c,
                      int except_ifindex, ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  int rc = rtnl_addr_alloc_cache(sk, &cache);
  if (rc < 0)
    return ctr_fail(err, 0, "list addresses: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_addr *a = (struct rtnl_addr *)o;
    struct net_cidr other;
    char ip[NET_IP4_STRLEN], net[NET_IP4_STRLEN], dev[IFNAMSIZ] = "?";
    if (rtnl_addr_get_family(a) != AF_INET ||
        rtnl_addr_get_ifindex(a) == except_ifindex)
      continue;
    other.prefix = (unsigned)rtnl_addr_get_prefixlen(a);
    other.addr = net_nl_ip4_of(rtnl_addr_get_local(a)) & net_cidr_mask(other.prefix);
    if ((other.addr >> 24) == 127 || !net_cidr_overlaps(c, &other))
      continue;
    net_ip4_format(net_nl_ip4_of(rtnl_addr_get_local(a)), ip);
    net_ip4_format(c->addr, net);
    {
      struct rtnl_link *l = NULL;
      if (rtnl_link_get_kernel(sk, rtnl_addr_get_ifindex(a), NULL, &l) >= 0) {
        snprintf(dev, sizeof(dev), "%s", rtnl_link_get_name(l));
        rtnl_link_put(l);
      }
    }
    return net_fail(err, NET_CNI_E_CONFLICT,
                    "subnet %s/%u overlaps %s/%u on %s", net, c->prefix, ip,
                    other.prefix, dev);
  }
  return 0;
}

/* ---- the bridge ------------------------------------------------------------ */

uint64_t net_name_hash(const char *a, const char *b, const char *c) {
  const char *parts[3] = {a, b, c};
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
  for (int i = 0; i < 3 && parts[i] != NULL; i++)
    for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
      h = (h ^ *p) * 0x100000001b3ull; /* the NUL too: parts stay apart */
      if (*p == '\0')
        break;
    }
  return h;
}

/* A locally administered unicast MAC from the bridge's name. */
static void bridge_mac(const char *name, unsigned char mac[6]) {
  uint64_t h = net_name_hash("ctr-net bridge", name, NULL);
  for (int i = 0; i < 6; i++)
    mac[i] = (unsigned char)(h >> (8 * i));
  mac[0] = (unsigned char)((mac[0] & 0xfc) | 0x02);
}

static int bridge_create(struct nl_sock *sk, const char *name, unsigned mtu,
                         ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_bridge_alloc();
  cleanup_nladdr struct nl_addr *mac = NULL;
  unsigned char m[6];
  int rc;
  if (l == NULL)
    return ctr_fail(err, ENOMEM, "create bridge %s", name);
  bridge_mac(name, m);
  mac = nl_addr_build(AF_LLC, m, sizeof(m));
  if (mac == NULL)
    return ctr_fail(err, ENOMEM, "create bridge %s", name);
  rtnl_link_set_name(l, name);
  rtnl_link_set_addr(l, mac);
  if (mtu > 0)
    rtnl_link_set_mtu(l, mtu);
  rc = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
  if (rc == -NLE_EXIST)
    return 0; /* made by a concurrent ADD: fine */
  if (rc < 0)
    return nl_fail(err, rc, "create bridge", name);
  return 1;
}

int net_bridge_ensure(struct nl_sock *sk, const char *name, uint32_t gw,
                      unsigned prefix, unsigned mtu, struct net_link_info *out,
                      bool *created, ctr_err *err) {
  uint32_t ips[16];
  unsigned prefixes[16];
  /* the caller's fresh look-up of name, when it made one */
  int rc = out->ifindex > 0 && strcmp(out->name, name) == 0
               ? 1
               : net_link_get(sk, name, out, err),
      n;
  *created = false;
  if (rc < 0)
    return -1;
  if (rc == 0) {
    rc = bridge_create(sk, name, mtu, err);
    if (rc < 0)
      return -1;
    *created = rc == 1;
    rc = net_link_get(sk, name, out, err);
    if (rc <= 0)
      return rc < 0 ? -1 : ctr_fail(err, ENODEV, "bridge %s", name);
  }
  if (strcmp(out->kind, "bridge") != 0)
    return net_fail(err, NET_CNI_E_CONFLICT,
                    "bridge: %s exists and is not a bridge (%s)", name,
                    out->kind[0] ? out->kind : "no kind");
  n = net_addr_list(sk, out->ifindex, ips, prefixes, 16, err);
  if (n < 0)
    return -1;
  bool have = false;
  for (int i = 0; i < n; i++) {
    if (ips[i] == gw && prefixes[i] == prefix) {
      have = true;
      continue;
    }
    char a[NET_IP4_STRLEN];
    net_ip4_format(ips[i], a);
    return net_fail(err, NET_CNI_E_CONFLICT,
                    "bridge %s carries %s/%u, another network's address", name,
                    a, prefixes[i]);
  }
  if (!have && net_addr_add(sk, out->ifindex, gw, prefix, err) < 0)
    return ctr_wrap(err, "bridge %s", name);
  if (!out->up && net_link_set_up(sk, out->ifindex, err) < 0)
    return ctr_wrap(err, "bridge %s", name);
  out->up = true;
  return 0;
}

int net_bridge_ports(struct nl_sock *sk, int master, char **names,
                     ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  size_t len = 0;
  char *buf = NULL;
  int rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
  if (rc < 0)
    return ctr_fail(err, 0, "list links: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_link *l = (struct rtnl_link *)o;
    const char *n = rtnl_link_get_name(l);
    char *nb;
    if (rtnl_link_get_master(l) != master || n == NULL)
      continue;
    nb = realloc(buf, len + strlen(n) + 2);
    if (nb == NULL) {
      free(buf);
      return ctr_fail(err, ENOMEM, "list links");
    }
    buf = nb;
    memcpy(buf + len, n, strlen(n) + 1);
    len += strlen(n) + 1;
  }
  if ((buf = realloc(buf, len + 1)) == NULL)
    return ctr_fail(err, ENOMEM, "list links");
  buf[len] = '\0';
  *names = buf;
  return 0;
}

/* ---- veth ------------------------------------------------------------------ */

int net_veth_create(struct nl_sock *sk, const char *host_name,
                    const char *peer_name, unsigned mtu, int master,
                    int netns_fd, ctr_err *err) {
  cleanup_link struct rtnl_link *l = rtnl_link_veth_alloc();
  cleanup_link struct rtnl_link *peer = NULL;
  int rc;
  if (l == NULL)
    return ctr_fail(err, ENOMEM, "create veth %s", host_name);
  peer = rtnl_link_veth_get_peer(l);
  rtnl_link_set_name(l, host_name);
  rtnl_link_set_name(peer, peer_name);
  if (mtu > 0) {
    rtnl_link_set_mtu(l, mtu);
    rtnl_link_set_mtu(peer, mtu);
  }
  if (master > 0)
    rtnl_link_set_master(l, master);
  rtnl_link_set_ns_fd(peer, netns_fd);
  rc = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
  if (rc == -NLE_EXIST)
    return ctr_fail(err, EEXIST, "create veth %s (peer %s)", host_name,
                    peer_name);
  if (rc < 0)
    return ctr_fail(err, 0, "create veth %s (peer %s): %s", host_name,
                    peer_name, nl_geterror(rc));
  return 0;
}

/* ---- routes ---------------------------------------------------------------- */

int net_route_default_add(struct nl_sock *sk, int ifindex, uint32_t gw,
                          ctr_err *err) {
  struct rtnl_route *r = rtnl_route_alloc();
  struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
  cleanup_nladdr struct nl_addr *dst = net_nl_ip4(0, 0);
  cleanup_nladdr struct nl_addr *via = net_nl_ip4(gw, 32);
  char g[NET_IP4_STRLEN];
  int rc;
  net_ip4_format(gw, g);
  if (r == NULL || nh == NULL || dst == NULL || via == NULL) {
    if (r != NULL)
      rtnl_route_put(r);
    if (nh != NULL)
      rtnl_route_nh_free(nh);
    return ctr_fail(err, ENOMEM, "add default route via %s", g);
  }
  rtnl_route_set_family(r, AF_INET);
  rtnl_route_set_table(r, RT_TABLE_MAIN);
  rtnl_route_set_protocol(r, RTPROT_BOOT);
  rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(r, RTN_UNICAST);
  rtnl_route_set_dst(r, dst);
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_nh_set_gateway(nh, via);
  rtnl_route_add_nexthop(r, nh); /* the route owns nh now */
  rc = rtnl_route_add(sk, r, NLM_F_EXCL);
  rtnl_route_put(r);
  if (rc == -NLE_EXIST)
    return 1;
  if (rc < 0)
    return ctr_fail(err, 0, "add default route via %s: %s", g,
                    nl_geterror(rc));
  return 0;
}

int net_route_default_has(struct nl_sock *sk, int ifindex, uint32_t gw,
                          ctr_err *err) {
  cleanup_cache struct nl_cache *cache = NULL;
  int rc = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
  if (rc < 0)
    return ctr_fail(err, 0, "list routes: %s", nl_geterror(rc));
  for (struct nl_object *o = nl_cache_get_first(cache); o != NULL;
       o = nl_cache_get_next(o)) {
    struct rtnl_route *r = (struct rtnl_route *)o;
    struct rtnl_nexthop *nh;
    struct nl_addr *dst = rtnl_route_get_dst(r);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN ||
        (dst != NULL && nl_addr_get_prefixlen(dst) != 0) ||
        rtnl_route_get_nnexthops(r) != 1)
      continue;
    nh = rtnl_route_nexthop_n(r, 0);
    if (ifindex == 0 || (rtnl_route_nh_get_ifindex(nh) == ifindex &&
                         net_nl_ip4_of(rtnl_route_nh_get_gateway(nh)) == gw))
      return 1;
  }
  return 0;
}

/* ---- sysctls ---------------------------------------------------------------- */

int net_sysctl_enable(const char *path, ctr_err *err) {
  char buf[8] = "";
  cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", path);
  if (read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == '1')
    return 0;
  if (pwrite(fd, "1", 1, 0) != 1)
    return ctr_fail(err, errno, "write %s", path);
  return 0;
}
