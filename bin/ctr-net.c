/* ctr-net: networks for containers. Each verb parses its own options and
 * calls into lib/net/netconf; with CNI_COMMAND set in its environment the
 * same program is a CNI plugin (lib/net/cni.c) instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "net/cni.h"
#include "net/netconf.h"

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
    "  rm NAME...               remove networks no container is attached to\n"
    "  prune [-f]               remove every network no container is attached to\n"
    "\n"
    "Options of create:\n"
    "  -d, --driver DRIVER      bridge (the default), or a CNI plugin's name\n"
    "                           found in $CNI_PATH or /usr/lib/cni\n"
    "      --subnet CIDR        IPv4 subnet, /8 to /30 (default: the first free\n"
    "                           /24 of 10.89.0.0/16)\n"
    "      --gateway IP         gateway (default: the subnet's first host)\n"
    "      --internal           bridge: no route out of the network\n"
    "      --mtu N              MTU, 68 to 65535 (bridge default: 1500)\n"
    "  -o, --opt KEY=VALUE      an option of the driver; repeat for more\n"
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

static const char features[] = "+BRIDGE +CNI +HOST-LOCAL +JSON";

enum {
  OPT_SUBNET = CTR_OPT_FIRST_TOOL,
  OPT_GATEWAY,
  OPT_INTERNAL,
  OPT_MTU,
};

struct ctx {
  struct ctr_cli cli;
  struct ctr_paths paths;
};

#define OPT_ERROR (-2)

/* getopt over a verb's arguments, with the shared options mixed in;
 * returns the next option of the verb, -1 at the end, OPT_ERROR. */
static int next_opt(struct ctx *c, int argc, char **argv, const char *shorts,
                    const struct option *verb_opts, ctr_err *err) {
  static const struct option common[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct option all[24];
  size_t n = 0;
  int opt;
  for (const struct option *o = verb_opts; o && o->name; o++)
    all[n++] = *o;
  for (const struct option *o = common; o->name; o++)
    all[n++] = *o;
  memset(&all[n], 0, sizeof(all[n]));
  for (;;) {
    opt = getopt_long(argc, argv, shorts, all, NULL);
    if (opt == 'h') {
      c->cli.help = true;
      continue;
    }
    if (opt == -1 || !ctr_cli_common(&c->cli, opt, optarg))
      break;
  }
  if (opt == '?' || opt == ':') {
    ctr_cli_bad_option(&c->cli, argc, argv, err);
    return OPT_ERROR;
  }
  return opt;
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
      {0, 0, 0, 0}};
  struct net_create_opts o = {0};
  cleanup_free const char **kv = calloc((size_t)argc + 1, sizeof(char *));
  char *end;
  int opt;
  if (kv == NULL)
    return ctr_fail(err, ENOMEM, "create");
  o.opts = kv;
  while ((opt = next_opt(c, argc, argv, "+d:o:h", opts, err)) != -1) {
    switch (opt) {
    case 'd': o.driver = optarg; break;
    case OPT_SUBNET: o.subnet = optarg; break;
    case OPT_GATEWAY: o.gateway = optarg; break;
    case OPT_INTERNAL: o.internal = true; break;
    case 'o': kv[o.nopts++] = optarg; break;
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

/* ---- main ------------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*run)(struct ctx *, int, char **, ctr_err *);
} verbs[] = {
    {"create", cmd_create}, {"ls", cmd_ls},       {"list", cmd_ls},
    {"inspect", cmd_inspect}, {"rm", cmd_rm},     {"remove", cmd_rm},
    {"prune", cmd_prune},
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
