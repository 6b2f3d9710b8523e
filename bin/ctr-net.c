/* ctr-net: networks for containers. Each verb parses its own options and
 * calls into lib/net/netconf; with CNI_COMMAND set in its environment the
 * same program is a CNI plugin (lib/net/cni.c) instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "net/attach.h"
#include "net/cni.h"
#include "net/dns_server.h"
#include "net/netconf.h"
#include "net/plugin_overlay.h"

static const char usage[] =
    "Usage: ctr-net [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "Networks for containers: CNI network configuration lists in\n"
    "$CTR_ROOT/networks. The default network \"bridge\" (10.88.0.0/16 on ctr0)\n"
    "always exists. With CNI_COMMAND set, ctr-net is a CNI plugin instead.\n"
    "\n"
    "Commands:\n"
    "  create [OPTIONS] NAME    make a network; print its name\n"
    "  ls [-q] [--format table|json]\n"
    "                           list networks\n"
    "  inspect [--format json] NAME...\n"
    "                           a network's definition and its leases, as JSON\n"
    "  update NAME [--peer-add ADDR]... [--peer-rm ADDR]...\n"
    "                           change an overlay's peers, live\n"
    "  rm NAME...               remove networks no container is attached to\n"
    "  prune [-f]               remove every network no container is attached to\n"
    "  connect [OPTIONS] NETWORK CONTAINER\n"
    "                           attach a container to a network\n"
    "  disconnect [-f] NETWORK CONTAINER | --all CONTAINER\n"
    "                           detach a container from a network (or all)\n"
    "  gc                       release what containers that no longer run left\n"
    "\n"
    "Options of create:\n"
    "  -d, --driver DRIVER      bridge (the default), overlay (VXLAN across\n"
    "                           hosts), or a CNI plugin's name found in\n"
    "                           $CNI_PATH or /usr/lib/cni\n"
    "      --subnet CIDR        IPv4 subnet, /8 to /30 (default: the first free\n"
    "                           /24 of 10.89.0.0/16)\n"
    "      --gateway IP         gateway (default: the subnet's first host)\n"
    "      --internal           bridge: no route out of the network\n"
    "      --mtu N              MTU, 68 to 65535 (bridge default: 1500)\n"
    "  -o, --opt KEY=VALUE      an option of the driver; repeat for more\n"
    "      --vni N              overlay: the VXLAN network id, 1 to 16777215\n"
    "      --peer ADDR          overlay: a host's underlay address; repeat for\n"
    "                           every host (the same list on each)\n"
    "      --local ADDR         overlay: this host's underlay address (default:\n"
    "                           the source address toward the first peer)\n"
    "\n"
    "Options of update:\n"
    "      --peer-add ADDR      a host joins the overlay; repeat for more\n"
    "      --peer-rm ADDR       a host leaves the overlay; repeat for more\n"
    "\n"
    "Options of connect:\n"
    "      --ip IP              the container's address (default: the next free)\n"
    "      --mac-address MAC    the container's MAC address\n"
    "      --alias NAME         another name on this network; repeat for more\n"
    "  -p, --publish SPEC       [[IP:]HOSTPORT:]CTRPORT[/tcp|udp|sctp]; HOSTPORT 0\n"
    "                           or none: a free one; repeat for more\n"
    "      --ifname IF          the interface inside (default: the first free ethN)\n"
    "      --netns PATH         the container's network namespace (default: the\n"
    "                           running container's, $CTR_RUNDIR/netns/ID)\n"
    "      --format json        connect: print the attachment\n"
    "\n"
    "Options of disconnect:\n"
    "  -f, --force              no error when not connected\n"
    "      --all                every network, and the namespace's pin\n"
    "\n"
    "Options of ls, inspect, prune:\n"
    "  -q, --quiet              ls: only the names\n"
    "      --format FORMAT      ls: table or json; inspect: json\n"
    "  -f, --force              prune: do not ask for confirmation\n"
    "\n"
    "Options (before or after the command):\n"
    "      --root DIR           store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "      --rundir DIR         volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "      --debug              debug output on stderr\n"
    "  -h, --help               this help\n"
    "      --version            version and features\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 bad usage. See ctr-net(1).\n";

static const char features[] = "+BRIDGE +CNI +HOST-LOCAL +JSON +OVERLAY";

enum {
  OPT_SUBNET = CTR_OPT_FIRST_TOOL,
  OPT_GATEWAY,
  OPT_INTERNAL,
  OPT_MTU,
  OPT_VNI,
  OPT_PEER,
  OPT_LOCAL,
  OPT_PEER_ADD,
  OPT_PEER_RM,
};

struct ctx {
  struct ctr_cli cli;
  struct ctr_paths paths;
};

#define OPT_ERROR CTR_CLI_OPT_ERROR

/* getopt over a verb's arguments, with the shared options mixed in. */
static int next_opt(struct ctx *c, int argc, char **argv, const char *shorts,
                    const struct option *verb_opts, ctr_err *err) {
  return ctr_cli_next_opt(&c->cli, argc, argv, shorts, verb_opts, err);
}

static int open_paths(struct ctx *c, ctr_err *err) {
  return ctr_cli_paths(&c->cli, &c->paths, err);
}

/* ---- create --------------------------------------------------------------- */

static int cmd_create(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"driver", required_argument, NULL, 'd'},
      {"subnet", required_argument, NULL, OPT_SUBNET},
      {"gateway", required_argument, NULL, OPT_GATEWAY},
      {"internal", no_argument, NULL, OPT_INTERNAL},
      {"mtu", required_argument, NULL, OPT_MTU},
      {"opt", required_argument, NULL, 'o'},
      {"vni", required_argument, NULL, OPT_VNI},
      {"peer", required_argument, NULL, OPT_PEER},
      {"local", required_argument, NULL, OPT_LOCAL},
      {0, 0, 0, 0}};
  struct net_create_opts o = {0};
  cleanup_free const char **kv = calloc((size_t)argc + 1, sizeof(char *));
  cleanup_free const char **peers = calloc((size_t)argc + 1, sizeof(char *));
  char *end;
  int opt;
  if (kv == NULL || peers == NULL)
    return ctr_fail(err, ENOMEM, "create");
  o.opts = kv;
  o.peers = peers;
  while ((opt = next_opt(c, argc, argv, "+d:o:h", opts, err)) != -1) {
    switch (opt) {
    case 'd': o.driver = optarg; break;
    case OPT_SUBNET: o.subnet = optarg; break;
    case OPT_GATEWAY: o.gateway = optarg; break;
    case OPT_INTERNAL: o.internal = true; break;
    case 'o': kv[o.nopts++] = optarg; break;
    case OPT_PEER: peers[o.npeers++] = optarg; break;
    case OPT_LOCAL: o.local = optarg; break;
    case OPT_VNI:
      errno = 0;
      o.vni = strtol(optarg, &end, 10);
      if (optarg[0] == '\0' || *end != '\0' || errno != 0 || o.vni < 1 || o.vni > 16777215)
        return ctr_usage(err, "invalid --vni '%.32s': want 1 to 16777215", optarg);
      o.vni_set = true;
      break;
    case OPT_MTU:
      errno = 0;
      o.mtu = strtol(optarg, &end, 10);
      if (optarg[0] == '\0' || *end != '\0' || errno != 0 || o.mtu < 68 || o.mtu > 65535)
        return ctr_usage(err, "invalid --mtu '%.32s': want 68 to 65535", optarg);
      o.mtu_set = true;
      break;
    default:
      return -1;
    }
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "create needs one NAME (see --help)");
  o.name = argv[optind];
  if (open_paths(c, err) < 0 || net_create(&c->paths, &o, NULL, err) < 0)
    return -1;
  printf("%s\n", o.name);
  return 0;
}

/* ---- update ----------------------------------------------------------------- */

/* Containers with names are attached here (the network's hosts file has
 * records): this host's name server asks the peers' servers, so it must
 * learn the new list (ensure restarts it when the list differs). A
 * warning at worst, as for attach: addresses work without names. */
static void overlay_names_refresh(struct ctx *c, const char *name) {
  struct net_bridge_conf bc;
  char gw[NET_IP4_STRLEN], buf[NET_OVERLAY_PEERS_MAX][NET_IP4_STRLEN];
  const char *peers[NET_OVERLAY_PEERS_MAX + 1] = {NULL};
  cleanup_free char *hosts = NULL;
  struct stat st;
  ctr_err e = NULL;
  if (asprintf(&hosts, "%s/networks/%s.hosts", c->paths.rundir, name) < 0 ||
      stat(hosts, &st) < 0 || st.st_size == 0)
    return; /* no names here: no server to tell */
  if (net_bridge_conf_load(&c->paths, name, &bc, &e) == 0) {
    net_ip4_format(bc.gateway, gw);
    net_overlay_peer_gateways(&bc, buf, peers, NET_OVERLAY_PEERS_MAX + 1);
    if (net_dns_ensure(&c->paths, name, gw, peers, &e) < 0)
      ctr_warn("network %s: name server: %s", name, e->msg);
    net_bridge_conf_free(&bc);
  }
  ctr_err_free(&e);
}

static int cmd_update(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"peer-add", required_argument, NULL, OPT_PEER_ADD},
                                       {"peer-rm", required_argument, NULL, OPT_PEER_RM},
                                       {0, 0, 0, 0}};
  cleanup_free const char **add = calloc((size_t)argc + 1, sizeof(char *));
  cleanup_free const char **rm = calloc((size_t)argc + 1, sizeof(char *));
  size_t nadd = 0, nrm = 0, added = 0, removed = 0;
  int opt, live = 0;
  if (add == NULL || rm == NULL)
    return ctr_fail(err, ENOMEM, "update");
  /* no '+': NAME may come before the options (`update NAME --peer-add A`) */
  while ((opt = next_opt(c, argc, argv, "h", opts, err)) != -1) {
    if (opt == OPT_PEER_ADD)
      add[nadd++] = optarg;
    else if (opt == OPT_PEER_RM)
      rm[nrm++] = optarg;
    else
      return -1;
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "update needs one NAME (see --help)");
  /* the file first, then this host's VXLAN device from the file: a
   * failure in between is mended by running update again */
  if (open_paths(c, err) < 0 ||
      net_update(&c->paths, argv[optind], add, nadd, rm, nrm, err) < 0 ||
      (live = net_overlay_apply(&c->paths, argv[optind], &added, &removed, err)) < 0)
    return ctr_wrap(err, "update %s", argv[optind]);
  ctr_debug("update %s: %zu FDB entries added, %zu removed", argv[optind], added, removed);
  if (live == 1)
    overlay_names_refresh(c, argv[optind]);
  printf("%s\n", argv[optind]);
  return 0;
}

/* ---- ls ------------------------------------------------------------------- */

static json_t *summary(const struct net_config *n, size_t containers) {
  json_t *j = json_object();
  if (j == NULL)
    return NULL;
  json_object_set_new(j, "name", json_string(n->name));
  json_object_set_new(j, "driver", json_string(n->driver));
  json_object_set_new(j, "default", json_boolean(n->is_default));
  if (n->builtin)
    json_object_set_new(j, "bridge", json_string(n->bridge));
  json_object_set_new(j, "subnet", n->subnet_text ? json_string(n->subnet_text) : json_null());
  json_object_set_new(j, "gateway",
                      n->gateway_text ? json_string(n->gateway_text) : json_null());
  json_object_set_new(j, "internal", json_boolean(n->internal));
  json_object_set_new(j, "mtu", n->mtu > 0 ? json_integer(n->mtu) : json_null());
  json_object_set_new(j, "created", n->created ? json_string(n->created) : json_null());
  json_object_set_new(j, "containers", json_integer((json_int_t)containers));
  return j;
}

static int live_count(struct ctx *c, const char *name, size_t *live, ctr_err *err) {
  struct net_lease_info *l = NULL;
  size_t n = 0;
  if (net_lease_info_list(&c->paths, name, &l, &n, err) < 0)
    return -1;
  *live = net_lease_info_live(l, n);
  net_lease_info_free(l, n);
  return 0;
}

static int cmd_ls(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                       {"format", required_argument, NULL, CTR_OPT_FORMAT},
                                       {0, 0, 0, 0}};
  static const char *const head[] = {"NAME", "DRIVER", "SUBNET", "GATEWAY", "CONTAINERS"};
  struct net_config *nets = NULL;
  struct ctr_table *t = NULL;
  cleanup_json json_t *arr = NULL;
  bool quiet = false, json = false;
  size_t n = 0;
  int opt, ret = -1;
  while ((opt = next_opt(c, argc, argv, "+qh", opts, err)) != -1) {
    if (opt == 'q')
      quiet = true;
    else if (opt == CTR_OPT_FORMAT && ctr_cli_format(optarg, &json, err) == 0)
      continue;
    else
      return -1;
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (optind != argc)
    return ctr_usage(err, "ls takes no arguments (see --help)");
  if (open_paths(c, err) < 0 || net_config_list(&c->paths, &nets, &n, err) < 0)
    return -1;
  arr = json_array();
  t = ctr_table_new(5, head);
  if (arr == NULL || t == NULL) {
    ctr_fail(err, ENOMEM, "ls");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    size_t live = 0;
    char count[32];
    const char *row[5] = {nets[i].name, nets[i].driver, nets[i].subnet_text,
                          nets[i].gateway_text, count};
    if (live_count(c, nets[i].name, &live, err) < 0)
      goto out;
    snprintf(count, sizeof(count), "%zu", live);
    if (json_array_append_new(arr, summary(&nets[i], live)) < 0 || ctr_table_row(t, row) < 0) {
      ctr_fail(err, ENOMEM, "ls");
      goto out;
    }
  }
  if (quiet)
    for (size_t i = 0; i < n; i++)
      printf("%s\n", nets[i].name);
  else if (json)
    ctr_json_print(arr, err);
  else
    ctr_table_print(t, stdout);
  ret = *err ? -1 : 0;
out:
  ctr_table_free(t);
  net_config_list_free(nets, n);
  return ret;
}

/* ---- inspect ---------------------------------------------------------------- */

static json_t *describe(struct ctx *c, const struct net_config *n, ctr_err *err) {
  struct net_lease_info *l = NULL;
  size_t nl = 0;
  json_t *j, *leases;
  char *file = NULL;
  if (net_lease_info_list(&c->paths, n->name, &l, &nl, err) < 0)
    return NULL;
  j = summary(n, net_lease_info_live(l, nl));
  leases = json_array();
  if (j == NULL || leases == NULL || asprintf(&file, "%s/networks/%s.conflist", c->paths.root,
                                              n->name) < 0) {
    json_decref(j);
    json_decref(leases);
    net_lease_info_free(l, nl);
    ctr_fail(err, ENOMEM, "inspect");
    return NULL;
  }
  for (size_t i = 0; i < nl; i++)
    json_array_append_new(
        leases, json_pack("{s:s, s:s?, s:s?, s:b}", "address", l[i].address, "container",
                          l[i].container, "interface", l[i].ifname, "live", l[i].live));
  net_lease_info_free(l, nl);
  /* the default network before its first use has no file yet */
  json_object_set_new(j, "file", n->on_disk ? json_string(file) : json_null());
  free(file);
  json_object_set(j, "conflist", n->conflist);
  json_object_set_new(j, "leases", leases);
  return j;
}

static int cmd_inspect(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"format", required_argument, NULL, CTR_OPT_FORMAT},
                                       {0, 0, 0, 0}};
  cleanup_json json_t *arr = json_array();
  int opt;
  while ((opt = next_opt(c, argc, argv, "+h", opts, err)) != -1) {
    if (opt != CTR_OPT_FORMAT)
      return -1;
    if (strcmp(optarg, "json") != 0)
      return ctr_usage(err, "unknown --format '%s': inspect prints json", optarg);
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (optind == argc)
    return ctr_usage(err, "inspect needs at least one NAME (see --help)");
  if (arr == NULL)
    return ctr_fail(err, ENOMEM, "inspect");
  if (open_paths(c, err) < 0)
    return -1;
  for (int i = optind; i < argc; i++) {
    struct net_config n;
    json_t *j;
    if (net_config_load(&c->paths, argv[i], &n, err) < 0)
      return ctr_wrap(err, "inspect");
    j = describe(c, &n, err);
    net_config_free(&n);
    if (j == NULL || json_array_append_new(arr, j) < 0)
      return ctr_wrap(err, "inspect %s", argv[i]);
  }
  return ctr_json_print(arr, err);
}

/* ---- rm, prune -------------------------------------------------------------- */

static int cmd_rm(struct ctx *c, int argc, char **argv, ctr_err *err) {
  while (next_opt(c, argc, argv, "+h", NULL, err) != -1)
    return -1;
  if (c->cli.help || c->cli.version)
    return 0;
  if (optind == argc)
    return ctr_usage(err, "rm needs at least one NAME (see --help)");
  if (open_paths(c, err) < 0)
    return -1;
  /* as docker does: every name is tried, each failure is one line; the
   * last one is left for main to print */
  for (int i = optind; i < argc; i++) {
    ctr_err e = NULL;
    if (net_remove(&c->paths, argv[i], &e) == 0) {
      printf("%s\n", argv[i]);
      continue;
    }
    ctr_wrap(&e, "rm %s", argv[i]);
    if (*err != NULL) {
      fflush(stdout);
      ctr_err_report(c->cli.prog, err);
    }
    *err = e;
  }
  return *err != NULL ? -1 : 0;
}

static bool confirmed(void) {
  char answer[16] = "";
  fputs("WARNING! This will remove all networks not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] ",
        stderr);
  fflush(stderr);
  if (fgets(answer, sizeof(answer), stdin) == NULL)
    return false;
  answer[strcspn(answer, "\r\n")] = '\0';
  return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

static int cmd_prune(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0, 0, 0, 0}};
  char **removed = NULL;
  bool force = false;
  int opt;
  while ((opt = next_opt(c, argc, argv, "+fh", opts, err)) != -1) {
    if (opt != 'f')
      return -1;
    force = true;
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (optind != argc)
    return ctr_usage(err, "prune takes no arguments (see --help)");
  if (!force && !confirmed())
    return 0;
  if (open_paths(c, err) < 0 || net_prune(&c->paths, &removed, err) < 0)
    return -1;
  if (removed[0] != NULL)
    printf("Deleted Networks:\n");
  for (char **n = removed; *n; n++)
    printf("%s\n", *n);
  net_names_free(removed);
  return 0;
}

/* ---- connect, disconnect, gc ------------------------------------------------ */

enum {
  OPT_CONN_IP = CTR_OPT_FIRST_TOOL + 64, /* clear of the other verbs' */
  OPT_CONN_MAC,
  OPT_CONN_ALIAS,
  OPT_CONN_IFNAME,
  OPT_CONN_NETNS,
  OPT_CONN_ALL,
};

static int cmd_connect(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"ip", required_argument, NULL, OPT_CONN_IP},
      {"mac-address", required_argument, NULL, OPT_CONN_MAC},
      {"alias", required_argument, NULL, OPT_CONN_ALIAS},
      {"publish", required_argument, NULL, 'p'},
      {"ifname", required_argument, NULL, OPT_CONN_IFNAME},
      {"netns", required_argument, NULL, OPT_CONN_NETNS},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {0, 0, 0, 0}};
  cleanup_free const char **aliases = calloc((size_t)argc + 1, sizeof(char *));
  cleanup_free const char **ports = calloc((size_t)argc + 1, sizeof(char *));
  cleanup_json json_t *rec = NULL;
  struct net_connect_opts o = {.aliases = aliases, .ports = ports};
  bool json = false;
  int opt;
  if (aliases == NULL || ports == NULL)
    return ctr_fail(err, ENOMEM, "connect");
  while ((opt = next_opt(c, argc, argv, "+p:h", opts, err)) != -1) {
    switch (opt) {
    case OPT_CONN_IP: o.ip = optarg; break;
    case OPT_CONN_MAC: o.mac = optarg; break;
    case OPT_CONN_ALIAS: aliases[o.naliases++] = optarg; break;
    case 'p': ports[o.nports++] = optarg; break;
    case OPT_CONN_IFNAME: o.ifname = optarg; break;
    case OPT_CONN_NETNS: o.netns = optarg; break;
    case CTR_OPT_FORMAT:
      if (strcmp(optarg, "json") != 0)
        return ctr_usage(err, "unknown --format '%s': connect prints json", optarg);
      json = true;
      break;
    default:
      return -1;
    }
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (argc - optind != 2)
    return ctr_usage(err, "connect needs NETWORK and CONTAINER (see --help)");
  o.network = argv[optind];
  o.container = argv[optind + 1];
  if (open_paths(c, err) < 0 || net_connect(&c->paths, &o, json ? &rec : NULL, err) < 0)
    return ctr_wrap(err, "connect %s %s", o.network, o.container);
  return json ? ctr_json_print(rec, err) : 0;
}

static int cmd_disconnect(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                       {"all", no_argument, NULL, OPT_CONN_ALL},
                                       {0, 0, 0, 0}};
  bool force = false, all = false;
  int opt;
  while ((opt = next_opt(c, argc, argv, "+fh", opts, err)) != -1) {
    if (opt == 'f')
      force = true;
    else if (opt == OPT_CONN_ALL)
      all = true;
    else
      return -1;
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (argc - optind != (all ? 1 : 2))
    return ctr_usage(err, "%s", all ? "disconnect --all needs one CONTAINER (see --help)"
                                    : "disconnect needs NETWORK and CONTAINER (see --help)");
  if (open_paths(c, err) < 0)
    return -1;
  if (all) {
    if (net_disconnect(&c->paths, NULL, argv[optind], true, err) < 0)
      return ctr_wrap(err, "disconnect --all %s", argv[optind]);
    return 0;
  }
  if (net_disconnect(&c->paths, argv[optind], argv[optind + 1], force, err) < 0)
    return ctr_wrap(err, "disconnect %s %s", argv[optind], argv[optind + 1]);
  return 0;
}

static int cmd_gc(struct ctx *c, int argc, char **argv, ctr_err *err) {
  char **released = NULL;
  while (next_opt(c, argc, argv, "+h", NULL, err) != -1)
    return -1;
  if (c->cli.help || c->cli.version)
    return 0;
  if (optind != argc)
    return ctr_usage(err, "gc takes no arguments (see --help)");
  if (open_paths(c, err) < 0 || net_gc(&c->paths, &released, err) < 0)
    return ctr_wrap(err, "gc");
  for (char **r = released; *r; r++)
    printf("%s\n", *r);
  net_names_free(released);
  return 0;
}

/* ---- _dns (hidden: the name server net_dns_ensure starts) ---------------- */

enum { OPT_DNS_NETWORK = CTR_OPT_FIRST_TOOL + 100, OPT_DNS_LISTEN, OPT_DNS_PEER, OPT_DNS_UPSTREAM,
       OPT_DNS_READY_FD, OPT_DNS_ENSURE, OPT_DNS_STOP, OPT_DNS_NO_UPSTREAM };

static int cmd_dns(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"network", required_argument, NULL, OPT_DNS_NETWORK},
                                       {"listen", required_argument, NULL, OPT_DNS_LISTEN},
                                       {"peer", required_argument, NULL, OPT_DNS_PEER},
                                       {"upstream", required_argument, NULL, OPT_DNS_UPSTREAM},
                                       {"ready-fd", required_argument, NULL, OPT_DNS_READY_FD},
                                       {"ensure", no_argument, NULL, OPT_DNS_ENSURE},
                                       {"stop-if-idle", no_argument, NULL, OPT_DNS_STOP},
                                       {"no-upstream", no_argument, NULL, OPT_DNS_NO_UPSTREAM},
                                       {0, 0, 0, 0}};
  cleanup_free const char **peers = calloc((size_t)argc + 1, sizeof(char *));
  cleanup_free const char **ups = calloc((size_t)argc + 1, sizeof(char *));
  struct net_dns_opts o = {.ready_fd = -1, .peers = peers};
  size_t np = 0, nu = 0;
  bool ensure = false, stop = false;
  unsigned flags = 0;
  char *end;
  int opt;
  if (peers == NULL || ups == NULL)
    return ctr_fail(err, ENOMEM, "_dns");
  while ((opt = next_opt(c, argc, argv, "+h", opts, err)) != -1) {
    switch (opt) {
    case OPT_DNS_NETWORK: o.network = optarg; break;
    case OPT_DNS_LISTEN: o.listen_ip = optarg; break;
    case OPT_DNS_PEER: peers[np++] = optarg; break;
    case OPT_DNS_UPSTREAM: ups[nu++] = optarg; o.upstreams = ups; break;
    /* what connect and disconnect call, for scripts and tests */
    case OPT_DNS_ENSURE: ensure = true; break;
    case OPT_DNS_STOP: stop = true; break;
    case OPT_DNS_NO_UPSTREAM: flags |= NET_DNS_NO_UPSTREAM; o.upstreams = ups; break;
    case OPT_DNS_READY_FD:
      o.ready_fd = (int)strtol(optarg, &end, 10);
      if (*end != '\0' || o.ready_fd < 0)
        return ctr_usage(err, "invalid --ready-fd '%.32s'", optarg);
      break;
    default:
      return -1;
    }
  }
  if (c->cli.help || c->cli.version)
    return 0;
  if (o.network == NULL || (o.listen_ip == NULL && !stop) || optind != argc)
    return ctr_usage(err, "_dns needs --network NAME --listen IP");
  if (open_paths(c, err) < 0)
    return -1;
  if (stop) {
    net_dns_stop_if_idle(&c->paths, o.network);
    return 0;
  }
  if (ensure)
    return net_dns_ensure_flags(&c->paths, o.network, o.listen_ip, peers, flags, err);
  if (net_dns_serve(&c->paths, &o, err) < 0)
    return ctr_wrap(err, "name server for %s", o.network);
  return 0;
}

/* ---- main ------------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*run)(struct ctx *, int, char **, ctr_err *);
} verbs[] = {
    {"create", cmd_create}, {"ls", cmd_ls},       {"list", cmd_ls},
    {"inspect", cmd_inspect}, {"rm", cmd_rm},     {"remove", cmd_rm},
    {"prune", cmd_prune},     {"update", cmd_update},
    {"connect", cmd_connect}, {"disconnect", cmd_disconnect},
    {"gc", cmd_gc},
    {"_dns", cmd_dns}, /* hidden: see net_dns_ensure */
};

int main(int argc, char **argv) {
  static const struct option opts[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct ctx c;
  ctr_err err = NULL;
  const char *verb;
  int opt, ret = -1;

  /* a CNI runtime runs us as a plugin: it sets CNI_COMMAND */
  if (getenv("CNI_COMMAND") != NULL)
    return net_cni_plugin_main();

  memset(&c, 0, sizeof(c));
  c.cli.prog = "ctr-net";
  c.cli.usage = usage;
  c.cli.features = features;
  ctr_log_init(c.cli.prog, false);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (opt == 'h')
      c.cli.help = true;
    else if (!ctr_cli_common(&c.cli, opt, optarg)) {
      ctr_cli_bad_option(&c.cli, argc, argv, &err);
      return ctr_err_report(c.cli.prog, &err);
    }
  }
  if (ctr_cli_done(&c.cli))
    return 0;
  if (optind >= argc) {
    fputs(usage, stderr);
    return 2;
  }
  verb = argv[optind];
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    if (strcmp(verb, verbs[i].name) != 0)
      continue;
    {
      int vargc = argc - optind;
      char **vargv = argv + optind;
      optind = 0;
      ret = verbs[i].run(&c, vargc, vargv, &err);
    }
    if (ret == 0 && ctr_cli_done(&c.cli))
      ret = 0;
    break;
  }
  if (ret < 0 && err == NULL)
    ctr_usage(&err, "unknown command '%s' (see --help)", verb);
  ctr_paths_free(&c.paths);
  if (err != NULL)
    return ctr_err_report(c.cli.prog, &err);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    ctr_fail(&err, errno, "write output");
    return ctr_err_report(c.cli.prog, &err);
  }
  return 0;
}
