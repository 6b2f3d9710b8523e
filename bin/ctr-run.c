/* ctr-run: create and run a container from an image, as `docker run`
 * does. `ctr-run create` and `ctr-run start` split the two steps. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "image/trust.h"
#include "net/attach.h"
#include "run/envopt.h"
#include "run/attach.h"
#include "run/cgroup.h"
#include "run/container.h"
#include "run/create.h"
#include "run/monitor.h"
#include "run/network.h"
#include "run/process.h"
#include "run/spec.h"
#include "run/state.h"
#include "run/stop.h"
#include "run/supervise.h"

static const char usage[] =
    "Usage: ctr-run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "       ctr-run create [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "       ctr-run start [-a [-i]] CONTAINER   (-a: attached, in the foreground)\n"
    "\n"
    "Run a command in a new container, as docker run does.\n"
    "\n"
    "Options:\n"
    "  -d, --detach               run in the background, print the id\n"
    "      --rm                   remove the container when it exits\n"
    "      --restart POLICY       no, on-failure[:N], always, unless-stopped\n"
    "      --name NAME            name the container\n"
    "  -e, --env KEY[=VALUE]      set an environment variable (KEY alone: from ours)\n"
    "      --env-file FILE        read KEY=VALUE lines\n"
    "  -w, --workdir DIR          working directory inside\n"
    "  -u, --user USER[:GROUP]    user, by name or id, from the image's passwd\n"
    "      --entrypoint CMD       override the image's entrypoint\n"
    "  -h, --hostname NAME        container host name\n"
    "  -v, --volume SRC:DST[:ro]  bind a host path or a named volume\n"
    "      --tmpfs DST[:OPTS]     mount a tmpfs\n"
    "      --read-only            read-only root filesystem\n"
    "  -i, --interactive          keep stdin open\n"
    "  -t, --tty                  allocate a pseudo-terminal\n"
    "      --detach-keys KEYS     with -it, the keys that detach (default ctrl-p,ctrl-q)\n"
    "  -m, --memory BYTES         memory limit (e.g. 512m, 1g)\n"
    "      --memory-swap BYTES    memory + swap limit (-1: unlimited)\n"
    "      --memory-reservation BYTES  soft memory limit\n"
    "      --cpus N               CPU quota (e.g. 1.5)\n"
    "      --cpu-shares N         relative CPU weight\n"
    "      --pids-limit N         process limit (-1: unlimited)\n"
    "      --ulimit TYPE=SOFT[:HARD]  resource limit (e.g. nofile=1024:2048)\n"
    "      --cap-add CAP, --cap-drop CAP   change capabilities (ALL for all)\n"
    "      --security-opt OPT     seccomp=FILE|unconfined, no-new-privileges\n"
    "      --privileged           all capabilities, devices, no seccomp\n"
    "      --init                 run a tiny init (ctr-init) as pid 1\n"
    "      --label KEY=VALUE      set metadata\n"
    "      --network NET[,NET...] networks to join (repeatable; default bridge,\n"
    "                             or $CTR_DEFAULT_NETWORK), none, host\n"
    "      --ip IP                address on the first network\n"
    "      --mac-address MAC      MAC address on the first network\n"
    "      --network-alias NAME   another name on its networks (repeatable)\n"
    "      --dns IP               nameserver, instead of the network's (repeatable)\n"
    "      --add-host HOST:IP     a line of /etc/hosts (repeatable)\n"
    "  -p, --publish [IP:][HOSTPORT:]PORT[/PROTO]  publish a port (repeatable;\n"
    "                             no HOSTPORT: a free one)\n"
    "  -P, --publish-all          publish the image's exposed ports on free ports\n"
    "      --userns auto|host     auto: root inside is an unprivileged uid outside\n"
    "      --stop-signal SIG      signal ctr-stop sends (default SIGTERM)\n"
    "      --stop-timeout SECS    seconds before SIGKILL (default 10)\n"
    "      --pidfile FILE         write the container's pid there\n"
    "      --cgroup-parent PATH   cgroup under which the container's goes\n"
    "                             (default $CTR_CGROUP_PARENT, else ctr)\n"
    "      --root DIR, --rundir DIR, --debug, --help, --version\n"
    "\n"
    "Exit status: the container's, or 125 if ctr-run failed, 126 if the\n"
    "command cannot be executed, 127 if it was not found. See ctr-run(1).\n";

static const char features[] = "+SECCOMP +CAP +CGROUPV1 +CGROUPV2 +OVERLAY +USERNS +PTY +NETWORK";

enum {
  OPT_RM = CTR_OPT_FIRST_TOOL, OPT_NAME, OPT_ENV_FILE, OPT_ENTRYPOINT, OPT_TMPFS,
  OPT_READ_ONLY, OPT_MEMORY_SWAP, OPT_MEMORY_RES, OPT_CPUS, OPT_CPU_SHARES, OPT_PIDS,
  OPT_ULIMIT, OPT_CAP_ADD, OPT_CAP_DROP, OPT_SECURITY, OPT_PRIVILEGED, OPT_LABEL,
  OPT_NETWORK, OPT_USERNS, OPT_STOP_SIGNAL, OPT_STOP_TIMEOUT, OPT_PIDFILE, OPT_INIT,
  OPT_RESTART, OPT_CGROUP_PARENT, OPT_DETACH_KEYS, OPT_IP, OPT_MAC, OPT_ALIAS, OPT_DNS,
  OPT_ADD_HOST,
};

static const struct option long_opts[] = {
    {"detach", no_argument, NULL, 'd'},
    {"rm", no_argument, NULL, OPT_RM},
    {"name", required_argument, NULL, OPT_NAME},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"workdir", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
    {"hostname", required_argument, NULL, 'h'},
    {"volume", required_argument, NULL, 'v'},
    {"tmpfs", required_argument, NULL, OPT_TMPFS},
    {"read-only", no_argument, NULL, OPT_READ_ONLY},
    {"interactive", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"memory", required_argument, NULL, 'm'},
    {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
    {"memory-reservation", required_argument, NULL, OPT_MEMORY_RES},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
    {"pids-limit", required_argument, NULL, OPT_PIDS},
    {"ulimit", required_argument, NULL, OPT_ULIMIT},
    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
    {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
    {"security-opt", required_argument, NULL, OPT_SECURITY},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    {"label", required_argument, NULL, OPT_LABEL},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"net", required_argument, NULL, OPT_NETWORK},
    {"ip", required_argument, NULL, OPT_IP},
    {"mac-address", required_argument, NULL, OPT_MAC},
    {"network-alias", required_argument, NULL, OPT_ALIAS},
    {"net-alias", required_argument, NULL, OPT_ALIAS},
    {"dns", required_argument, NULL, OPT_DNS},
    {"add-host", required_argument, NULL, OPT_ADD_HOST},
    {"publish", required_argument, NULL, 'p'},
    {"publish-all", no_argument, NULL, 'P'},
    {"userns", required_argument, NULL, OPT_USERNS},
    {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT},
    {"restart", required_argument, NULL, OPT_RESTART},
    {"init", no_argument, NULL, OPT_INIT},
    {"detach-keys", required_argument, NULL, OPT_DETACH_KEYS},
    CTR_CLI_LONGOPTS,
    {0, 0, 0, 0}};

static int parse_int(const char *s, long long min, long long max, long long *out) {
  char *end;
  long long v;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_ulimit(json_t *list, const char *spec, ctr_err *err) {
  static const char *const names[] = {"core", "cpu", "data", "fsize", "locks", "memlock",
                                      "msgqueue", "nice", "nofile", "nproc", "rss",
                                      "rtprio", "rttime", "sigpending", "stack", "as", NULL};
  cleanup_free char *copy = strdup(spec);
  char *eq, *colon, type[32];
  long long soft, hard;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "--ulimit");
  eq = strchr(copy, '=');
  if (eq == NULL)
    return ctr_usage(err, "--ulimit %s: want TYPE=SOFT[:HARD]", spec);
  *eq++ = '\0';
  colon = strchr(eq, ':');
  if (colon)
    *colon++ = '\0';
  const char *const *n;
  for (n = names; *n && strcmp(*n, copy) != 0; n++)
    ;
  if (*n == NULL)
    return ctr_usage(err, "--ulimit %s: unknown type '%s'", spec, copy);
  if (parse_int(eq, -1, INT64_MAX, &soft) < 0 ||
      (colon && parse_int(colon, -1, INT64_MAX, &hard) < 0))
    return ctr_usage(err, "--ulimit %s: invalid value", spec);
  if (!colon)
    hard = soft;
  if (soft == -1)
    soft = (long long)RLIM_INFINITY;
  if (hard == -1)
    hard = (long long)RLIM_INFINITY;
  if ((unsigned long long)soft > (unsigned long long)hard)
    return ctr_usage(err, "--ulimit %s: soft limit above the hard limit", spec);
  snprintf(type, sizeof(type), "RLIMIT_%s", copy);
  for (char *p = type; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 32);
  json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "type", type, "hard",
                                        (json_int_t)hard, "soft", (json_int_t)soft));
  return 0;
}

static int parse_signal(const char *s, ctr_err *err) {
  long long n;
  const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  if (parse_int(s, 1, 64, &n) == 0)
    return (int)n;
  for (int sig = 1; sig < NSIG; sig++) {
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev && strcasecmp(abbrev, name) == 0)
      return sig;
  }
  return ctr_usage(err, "invalid signal: %s", s);
}

struct args {
  struct ctr_cli cli;
  struct run_opts o;
  struct run_restart restart;
  const char *pidfile;
  char detach_keys[RUN_DETACH_KEYS_MAX];
  size_t n_detach_keys;
};

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  struct run_opts *o = &a->o;
  long long n;
  int opt;
  if (run_detach_keys_parse(RUN_DETACH_KEYS_DEFAULT, a->detach_keys, &a->n_detach_keys, err) < 0)
    return -1;
  o->cmd = json_array();
  o->env = json_array();
  o->volumes = json_array();
  o->tmpfs = json_array();
  o->cap_add = json_array();
  o->cap_drop = json_array();
  o->labels = json_object();
  o->ulimits = json_array();
  o->networks = json_array();
  o->aliases = json_array();
  o->dns = json_array();
  o->add_hosts = json_array();
  o->publish = json_array();
  o->stop_timeout = -1;
  o->cgroup_parent = getenv("CTR_CGROUP_PARENT");
  if (o->cgroup_parent != NULL && o->cgroup_parent[0] == '\0')
    o->cgroup_parent = NULL;
  opterr = 0;
  /* '+': options stop at IMAGE; what follows belongs to the command. */
  while ((opt = getopt_long(argc, argv, "+de:w:u:h:v:itm:p:P", long_opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 'd': o->detach = true; break;
    case OPT_RM: o->rm = true; break;
    case OPT_NAME: o->name = optarg; break;
    case 'e':
      if (run_envopt_add(o->env, optarg, err) < 0)
        return -1;
      break;
    case OPT_ENV_FILE:
      if (run_envopt_file(o->env, optarg, err) < 0)
        return -1;
      break;
    case 'w': o->workdir = optarg; break;
    case 'u': o->user = optarg; break;
    case OPT_ENTRYPOINT:
      json_decref(o->entrypoint);
      o->entrypoint = json_pack("[s]", optarg);
      break;
    case 'h': o->hostname = optarg; break;
    case 'v': json_array_append_new(o->volumes, json_string(optarg)); break;
    case OPT_TMPFS: json_array_append_new(o->tmpfs, json_string(optarg)); break;
    case OPT_READ_ONLY: o->read_only = true; break;
    case 'i': o->interactive = true; break;
    case OPT_DETACH_KEYS:
      if (run_detach_keys_parse(optarg, a->detach_keys, &a->n_detach_keys, err) < 0)
        return -1;
      break;
    case 't': o->tty = true; break;
    case 'm':
      if (run_parse_memory(optarg, &o->memory, err) < 0)
        return ctr_wrap(err, "--memory");
      break;
    case OPT_MEMORY_SWAP:
      if (strcmp(optarg, "-1") == 0)
        o->memory_swap = -1;
      else if (run_parse_memory(optarg, &o->memory_swap, err) < 0)
        return ctr_wrap(err, "--memory-swap");
      break;
    case OPT_MEMORY_RES:
      if (run_parse_memory(optarg, &o->memory_reservation, err) < 0)
        return ctr_wrap(err, "--memory-reservation");
      break;
    case OPT_CPUS:
      if (run_parse_cpus(optarg, &o->cpu_quota, &o->cpu_period, err) < 0)
        return ctr_wrap(err, "--cpus");
      break;
    case OPT_CPU_SHARES:
      if (parse_int(optarg, 2, 262144, &n) < 0)
        return ctr_usage(err, "--cpu-shares %s: want 2 to 262144", optarg);
      o->cpu_shares = (uint64_t)n;
      break;
    case OPT_PIDS:
      if (parse_int(optarg, -1, INT32_MAX, &n) < 0 || n == 0)
        return ctr_usage(err, "--pids-limit %s: want a positive number or -1", optarg);
      o->pids_limit = n;
      break;
    case OPT_ULIMIT:
      if (parse_ulimit(o->ulimits, optarg, err) < 0)
        return -1;
      break;
    case OPT_CAP_ADD: json_array_append_new(o->cap_add, json_string(optarg)); break;
    case OPT_CAP_DROP: json_array_append_new(o->cap_drop, json_string(optarg)); break;
    case OPT_SECURITY:
      if (strncmp(optarg, "seccomp=", 8) == 0 || strncmp(optarg, "seccomp:", 8) == 0)
        o->seccomp = optarg + 8;
      else if (strcmp(optarg, "no-new-privileges") == 0 ||
               strcmp(optarg, "no-new-privileges=true") == 0 ||
               strcmp(optarg, "no-new-privileges:true") == 0)
        o->no_new_privs = true;
      else if (strcmp(optarg, "no-new-privileges=false") == 0 ||
               strcmp(optarg, "no-new-privileges:false") == 0)
        o->no_new_privs = false;
      else
        return ctr_usage(err, "unknown --security-opt %s (seccomp=FILE|unconfined, no-new-privileges)", optarg);
      break;
    case OPT_PRIVILEGED: o->privileged = true; break;
    case OPT_LABEL: {
      const char *eq = strchr(optarg, '=');
      char *key = strndup(optarg, eq ? (size_t)(eq - optarg) : strlen(optarg));
      if (key == NULL || key[0] == '\0') {
        free(key);
        return ctr_usage(err, "--label %s: want KEY=VALUE", optarg);
      }
      json_object_set_new(o->labels, key, json_string(eq ? eq + 1 : ""));
      free(key);
      break;
    }
    case OPT_NETWORK:
      if (run_net_opt_network(o->networks, optarg, err) < 0)
        return -1;
      break;
    case OPT_IP:
      if (run_net_opt_ip("--ip", optarg, false, err) < 0)
        return -1;
      o->ip = optarg;
      break;
    case OPT_MAC:
      if (run_net_opt_mac(optarg, err) < 0)
        return -1;
      o->mac = optarg;
      break;
    case OPT_ALIAS:
      if (!net_alias_valid(optarg))
        return ctr_usage(err, "--network-alias '%s': want 1 to 63 of [A-Za-z0-9_.-], "
                              "a letter or digit first", optarg);
      json_array_append_new(o->aliases, json_string(optarg));
      break;
    case OPT_DNS:
      if (run_net_opt_ip("--dns", optarg, true, err) < 0)
        return -1;
      json_array_append_new(o->dns, json_string(optarg));
      break;
    case OPT_ADD_HOST:
      if (run_net_opt_add_host(optarg, err) < 0)
        return -1;
      json_array_append_new(o->add_hosts, json_string(optarg));
      break;
    case 'p':
      if (run_net_opt_publish(optarg, err) < 0)
        return -1;
      json_array_append_new(o->publish, json_string(optarg));
      break;
    case 'P': o->publish_all = true; break;
    case OPT_USERNS:
      if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "host") != 0 && strcmp(optarg, "") != 0)
        return ctr_usage(err, "--userns %s: want auto or host", optarg);
      o->userns = optarg;
      break;
    case OPT_STOP_SIGNAL:
      if (parse_signal(optarg, err) < 0)
        return -1;
      o->stop_signal = optarg;
      break;
    case OPT_STOP_TIMEOUT:
      if (parse_int(optarg, -1, 86400, &n) < 0)
        return ctr_usage(err, "--stop-timeout %s: want seconds", optarg);
      o->stop_timeout = (int)n;
      break;
    case OPT_PIDFILE: a->pidfile = optarg; break;
    case OPT_INIT: o->init = true; break;
    case OPT_RESTART:
      if (run_restart_parse(optarg, &a->restart, err) < 0)
        return -1;
      break;
    case OPT_CGROUP_PARENT:
      if (optarg[0] == '\0' || strstr(optarg, "..") != NULL)
        return ctr_usage(err, "--cgroup-parent %s: want a relative cgroup path", optarg);
      o->cgroup_parent = optarg;
      break;
    default:
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "an IMAGE is needed (see --help)");
  o->image = argv[optind++];
  for (; optind < argc; optind++)
    json_array_append_new(o->cmd, json_string(argv[optind]));
  if (o->rm && a->restart.policy != RESTART_NO)
    return ctr_usage(err, "conflicting options: --restart and --rm");
  if (run_net_settle(o, err) < 0)
    return -1;
  o->restart_policy = run_restart_name(&a->restart);
  o->restart_max = a->restart.max;
  return 0;
}

static void opts_free(struct run_opts *o) {
  json_t **all[] = {&o->cmd, &o->entrypoint, &o->env, &o->volumes, &o->tmpfs,
                    &o->cap_add, &o->cap_drop, &o->labels, &o->ulimits,
                    &o->networks, &o->aliases, &o->dns, &o->add_hosts, &o->publish};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    json_decref(*all[i]);
    *all[i] = NULL;
  }
}

static int cmd_run(struct args *a, bool create_only, int *status, ctr_err *err) {
  struct ctr_paths paths = {0};
  struct run_container c = {0};
  struct run_supervise sv = {.interactive = a->o.interactive, .rm = a->o.rm,
                             .pidfile = a->pidfile, .front_io = -1, .front_ctl = -1};
  sv.paths = &paths;
  json_t *config = NULL;
  int ret = -1;
  *status = RUN_EXIT_FAILED;
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  if (run_net_check(&paths, &a->o, err) < 0 || run_create(&paths, &a->o, &c, &config, err) < 0)
    goto out;
  if (a->o.detach && !create_only) {
    int cls;
    /* the monitor works from "/": a relative pidfile is ours */
    cleanup_free char *abs_pidfile = NULL;
    if (a->pidfile != NULL && a->pidfile[0] != '/') {
      char *cwd = getcwd(NULL, 0);
      if (cwd == NULL || asprintf(&abs_pidfile, "%s/%s", cwd, a->pidfile) < 0)
        abs_pidfile = NULL;
      free(cwd);
    } else if (a->pidfile != NULL) {
      abs_pidfile = strdup(a->pidfile);
    }
    if (run_monitor_start(&paths, &c, config, abs_pidfile, &cls, err) < 0) {
      *status = cls;
      goto out;
    }
    printf("%s\n", c.id);
    *status = 0;
    ret = 0;
    goto out;
  }
  if (create_only) {
    ctr_err e = NULL;
    run_rootfs_unmount(&c, &e);
    ctr_err_free(&e);
    printf("%s\n", c.id);
    *status = 0;
    ret = 0;
    goto out;
  }
  if (a->o.tty && a->o.interactive) {
    /* -it: a front keeps the terminal, so that the detach keys can leave
     * the container running under its parent, this process's child */
    struct run_front f;
    pid_t child;
    bool detached;
    int r = run_front_fork(&f, &child, err);
    if (r < 0)
      goto out;
    if (r == 1) {
      ret = run_front_loop(&f, child, true, a->detach_keys, a->n_detach_keys, status, &detached,
                           err);
      close(f.io);
      close(f.ctl);
      goto out;
    }
    sv.front_io = f.io;
    sv.front_ctl = f.ctl;
  }
  ret = run_supervise_foreground(&c, config, &sv, err);
  *status = sv.exit_code;
out:
  json_decref(config);
  run_container_free(&c);
  ctr_paths_free(&paths);
  return ret;
}

static int cmd_start(struct args *a, int argc, char **argv, int *status, ctr_err *err) {
  struct ctr_paths paths = {0};
  struct run_container c = {0};
  struct run_supervise sv = {.front_io = -1, .front_ctl = -1};
  json_t *config = NULL;
  bool attach = false;
  int opt, ret = -1;
  static const struct option opts[] = {{"attach", no_argument, NULL, 'a'},
                                       {"interactive", no_argument, NULL, 'i'},
                                       CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  *status = RUN_EXIT_FAILED;
  optind = 0;
  while ((opt = getopt_long(argc, argv, "ai", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    if (opt == 'i')
      sv.interactive = true;
    else if (opt == 'a')
      attach = true;
    else
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "start needs one CONTAINER");
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  sv.paths = &paths;
  if (run_container_find(&paths, argv[optind], &c, err) < 0 ||
      run_state_refresh(&paths, &c, err) < 0 || run_config_load(&c, &config, err) < 0)
    goto out;
  if (strcmp(ctr_json_str(c.state, "status"), "running") == 0) {
    ctr_fail(err, 0, "container %s is already running", argv[optind]);
    goto out;
  }
  /* the policy may have changed since create: a rejected image's
   * container stays, not started */
  if (trust_enforce(&paths, ctr_json_str(c.state, "image"),
                    json_object_get(c.state, "trust_names"),
                    ctr_json_str(c.state, "image_digest"), err) < 0) {
    ctr_wrap(err, "start %s", argv[optind]);
    goto out;
  }
  /* A run whose monitor was killed left its cgroup, mount, network and
   * running file: end it for good first, as ctr-stop would. */
  if (run_stop(&paths, &c, SIGKILL, 0, err) < 0)
    goto out;
  {
    char id[65];
    memcpy(id, c.id, sizeof(id));
    run_container_free(&c);
    json_decref(config);
    config = NULL;
    if (run_container_find(&paths, id, &c, err) < 0 || run_config_load(&c, &config, err) < 0)
      goto out;
  }
  sv.rm = json_is_true(json_object_get(c.state, "rm"));
  if (!attach) {
    /* as docker start: in the background, under a monitor */
    int cls;
    ret = run_monitor_start(&paths, &c, config, NULL, &cls, err);
    *status = ret < 0 ? cls : 0;
    if (ret == 0)
      printf("%s\n", argv[optind]);
    goto out;
  }
  ret = run_supervise_foreground(&c, config, &sv, err);
  *status = sv.exit_code;
out:
  json_decref(config);
  run_container_free(&c);
  ctr_paths_free(&paths);
  return ret;
}

/* `ctr-run _monitor-exit`: ctr-monitor's call when the container ended
 * (see ctr-monitor(1)). Not for people; it records the end and applies
 * the restart policy in the monitor's own process. */
static int cmd_monitor_exit(struct args *a, int argc, char **argv, ctr_err *err) {
  struct ctr_paths paths = {0};
  struct run_container c = {0};
  struct run_monitor_exit e = {.delay_ms = 100};
  json_t *config = NULL;
  int opt, ret = -1;
  static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                       {"count", required_argument, NULL, 'c'},
                                       {"delay", required_argument, NULL, 'd'},
                                       {"ran", required_argument, NULL, 'r'},
                                       {"pidfile", required_argument, NULL, 'f'},
                                       CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    long *dst = NULL, v;
    char *end;
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    if (opt == 'f') {
      e.pidfile = optarg;
      continue;
    }
    if (opt != 's' && opt != 'c' && opt != 'd' && opt != 'r')
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    errno = 0;
    v = strtol(optarg, &end, 10);
    if (errno || *end || end == optarg || v < 0 || v > INT_MAX)
      return ctr_usage(err, "_monitor-exit: bad number %s", optarg);
    if (opt == 's')
      e.status = (int)v;
    else if (opt == 'c')
      e.count = (int)v;
    else
      dst = opt == 'd' ? &e.delay_ms : &e.ran_s;
    if (dst != NULL)
      *dst = v;
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "_monitor-exit needs one CONTAINER");
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  if (run_container_find(&paths, argv[optind], &c, err) == 0 &&
      run_config_load(&c, &config, err) == 0)
    ret = run_monitor_exit(&paths, &c, config, &e);
  json_decref(config);
  run_container_free(&c);
  ctr_paths_free(&paths);
  return ret;
}

int main(int argc, char **argv) {
  struct args a;
  ctr_err err = NULL;
  int status = RUN_EXIT_FAILED;
  bool create_only = false, start = argc > 1 && strcmp(argv[1], "start") == 0;

  memset(&a, 0, sizeof(a));
  a.cli.prog = "ctr-run";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  if (start) {
    cmd_start(&a, argc - 1, argv + 1, &status, &err);
  } else if (argc > 1 && strcmp(argv[1], "_monitor-exit") == 0) {
    status = cmd_monitor_exit(&a, argc - 1, argv + 1, &err) < 0 ? 1 : 0;
  } else {
    if (argc > 1 && strcmp(argv[1], "create") == 0) {
      create_only = true;
      argc--;
      argv++;
    }
    if (parse(&a, argc, argv, &err) == 0 && !a.cli.help && !a.cli.version)
      cmd_run(&a, create_only, &status, &err);
    opts_free(&a.o);
  }
  if (err == NULL && ctr_cli_done(&a.cli))
    return 0;
  if (err != NULL) {
    /* Usage errors exit 125 too, as docker run does. */
    ctr_err_report(a.cli.prog, &err);
    return status == 0 ? RUN_EXIT_FAILED : status;
  }
  return status;
}
