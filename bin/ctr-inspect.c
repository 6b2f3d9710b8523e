/* ctr-inspect: everything known about containers, as docker inspect
 * prints it: one JSON array, an element per container found — its state
 * (refreshed), its OCI config, where its bundle and log are and, while it
 * runs, its cgroup's figures. Containers not found are reported one line
 * each on stderr; the others are still printed, and the exit status is 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "run/cgroup.h"
#include "run/container.h"
#include "run/create.h"
#include "run/network.h"
#include "run/state.h"

static const char usage[] =
    "Usage: ctr-inspect [OPTIONS] CONTAINER...\n"
    "\n"
    "Everything known about containers (by name, id or id prefix): a JSON\n"
    "array with an element per container, as docker inspect prints.\n"
    "\n"
    "Options:\n"
    "      --format json|table  table: the key facts, for people\n"
    "  -s, --size               add SizeRw (the container's own files) and\n"
    "                           SizeRootFs (with its image's layers), in bytes\n"
    "      --root DIR, --rundir DIR, --debug\n"
    "  -h, --help               this help\n"
    "      --version            version and features\n"
    "\n"
    "Exit status: 0 ok, 1 a container was not found or could not be read,\n"
    "2 bad usage. See ctr-inspect(1).\n";

static const char features[] = "+JSON +STATS +SIZE";

struct args {
  struct ctr_cli cli;
  bool table, size;
};

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {"size", no_argument, NULL, 's'},
      CTR_CLI_LONGOPTS,
      {0, 0, 0, 0}};
  bool json = true;
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 's': a->size = true; break;
    case 'h': a->cli.help = true; break;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(optarg, &json, err) < 0)
        return -1;
      a->table = !json;
      break;
    default:
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (optind >= argc && !a->cli.help && !a->cli.version)
    return ctr_usage(err, "at least one CONTAINER is needed (see --help)");
  return 0;
}

/* ---- one container's record ----------------------------------------------- */

static bool is_up(const json_t *st) {
  const char *s = ctr_json_str(st, "status");
  return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0);
}

/* The cgroup is where config.json says (--cgroup-parent moves it). */
static json_t *stats(const char *id, const json_t *config) {
  struct run_cgroup *cg = NULL;
  struct run_cgroup_stats s;
  const char *path = ctr_json_str(json_object_get(config, "linux"), "cgroupsPath");
  ctr_err e = NULL;
  json_t *out = NULL;
  if (path == NULL)
    return NULL;
  if (run_cgroup_open(path, &cg, &e) == 0 && run_cgroup_stats(cg, &s, &e) == 0)
    out = json_pack("{s:I, s:I, s:I, s:I}", "memory_usage", (json_int_t)s.mem_usage,
                    "memory_limit", (json_int_t)s.mem_limit, "pids", (json_int_t)s.pids,
                    "cpu_ns", (json_int_t)s.cpu_ns);
  if (e != NULL)
    ctr_debug("%.12s: stats: %s", id, e->msg ? e->msg : "failed");
  ctr_err_free(&e);
  if (cg != NULL)
    run_cgroup_free(cg);
  return out;
}

static json_int_t du(const char *path) {
  off_t bytes = 0;
  ctr_err e = NULL;
  if (ctr_du(AT_FDCWD, path, &bytes, &e) < 0) {
    ctr_debug("size of %s: %s", path, e && e->msg ? e->msg : "failed");
    ctr_err_free(&e);
    return 0;
  }
  return (json_int_t)bytes;
}

static void add_sizes(struct run_container *c, json_t *rec) {
  cleanup_free char *upper = NULL;
  json_int_t rw, all;
  size_t i;
  json_t *l;
  if (asprintf(&upper, "%s/upper", c->dir) < 0)
    return;
  rw = all = du(upper);
  json_array_foreach(json_object_get(c->state, "lower"), i, l)
      if (json_is_string(l)) all += du(json_string_value(l));
  json_object_set_new(rec, "SizeRw", json_integer(rw));
  json_object_set_new(rec, "SizeRootFs", json_integer(all));
}

/* The state, then Config, Bundle, Log and (running) Stats. */
static int record(const struct args *a, const struct ctr_paths *p, const char *ref,
                  json_t **out, ctr_err *err) {
  struct run_container c = {0};
  json_t *config = NULL, *rec;
  ctr_err e = NULL;
  cleanup_free char *log = NULL;
  if (run_container_find(p, ref, &c, err) < 0)
    return -1;
  if (run_state_refresh(p, &c, err) < 0) {
    run_container_free(&c);
    return ctr_wrap(err, "%s", ref);
  }
  if (run_config_load(&c, &config, &e) < 0) {
    ctr_debug("%.12s: %s", c.id, e && e->msg ? e->msg : "no config");
    ctr_err_free(&e);
  }
  rec = json_incref(c.state);
  json_object_set_new(rec, "Config", config ? config : json_null());
  json_object_set_new(rec, "Bundle", json_string(c.dir));
  if (asprintf(&log, "%s/log", c.dir) >= 0)
    json_object_set_new(rec, "Log", json_string(log));
  {
    cleanup_json json_t *live = is_up(rec) ? run_net_live(p, c.id) : json_array();
    json_object_set_new(rec, "NetworkSettings", run_net_settings(p, c.state, live, is_up(rec)));
  }
  if (is_up(rec)) {
    json_t *s = stats(c.id, config);
    json_object_set_new(rec, "Stats", s ? s : json_null());
  }
  if (a->size)
    add_sizes(&c, rec);
  run_container_free(&c);
  *out = rec;
  return 0;
}

/* ---- for people -------------------------------------------------------------- */

static const char *str_or(const json_t *o, const char *key, const char *dflt) {
  const char *s = ctr_json_str(o, key);
  return s && s[0] ? s : dflt;
}

/* 67108864 -> "64MiB": limits are given in binary units. */
static void bytes_text(json_int_t n, char *out, size_t len) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && n != 0 && n % 1024 == 0) {
    n /= 1024;
    u++;
  }
  snprintf(out, len, "%" JSON_INTEGER_FORMAT "%s", n, units[u]);
}

/* Arguments joined, quoted where a shell would need it. */
static void print_command(const json_t *cmd) {
  size_t i;
  json_t *arg;
  json_array_foreach(cmd, i, arg) {
    const char *s = json_is_string(arg) ? json_string_value(arg) : "";
    bool plain = s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_-./:=@%+,") == strlen(s);
    if (i > 0)
      putchar(' ');
    if (plain) {
      fputs(s, stdout);
      continue;
    }
    putchar('\'');
    for (; *s; s++)
      if (*s == '\'')
        fputs("'\\''", stdout);
      else
        putchar(*s);
    putchar('\'');
  }
  putchar('\n');
}

/* Mounts the user asked for: not the defaults every container gets, nor
 * the bundle's own hosts, hostname and resolv.conf. */
static void print_mounts(const json_t *rec) {
  static const char *const defaults[] = {"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup",
                                         "/dev/mqueue", "/dev/shm"};
  const char *bundle = ctr_json_str(rec, "Bundle");
  size_t i, shown = 0, blen = bundle ? strlen(bundle) : 0;
  json_t *m, *opt;
  json_array_foreach(json_object_get(json_object_get(rec, "Config"), "mounts"), i, m) {
    const char *dst = str_or(m, "destination", "?"), *src = str_or(m, "source", "");
    const char *type = str_or(m, "type", "bind");
    bool dflt = false;
    size_t k;
    for (size_t d = 0; d < sizeof(defaults) / sizeof(defaults[0]); d++)
      dflt |= strcmp(dst, defaults[d]) == 0 && strcmp(type, "bind") != 0;
    if (dflt || (bundle && strncmp(src, bundle, blen) == 0 && src[blen] == '/'))
      continue;
    printf("%s%s <- %s (%s", shown++ ? "             " : "", dst, src, type);
    json_array_foreach(json_object_get(m, "options"), k, opt)
        if (json_is_string(opt)) printf("%s%s", k ? "," : ", ", json_string_value(opt));
    printf(")\n");
  }
  if (shown == 0)
    printf("-\n");
}

static void print_limits(const json_t *rec) {
  json_t *res = json_object_get(json_object_get(json_object_get(rec, "Config"), "linux"), "resources");
  json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu");
  json_int_t v, period;
  char b[64];
  bool any = false;
  if ((v = json_integer_value(json_object_get(mem, "limit"))) > 0) {
    bytes_text(v, b, sizeof(b));
    printf("memory=%s", b);
    any = true;
  }
  if ((v = json_integer_value(json_object_get(mem, "swap"))) != 0) {
    if (v > 0)
      bytes_text(v, b, sizeof(b));
    printf("%smemory-swap=%s", any ? " " : "", v > 0 ? b : "unlimited");
    any = true;
  }
  if ((v = json_integer_value(json_object_get(mem, "reservation"))) > 0) {
    bytes_text(v, b, sizeof(b));
    printf("%smemory-reservation=%s", any ? " " : "", b);
    any = true;
  }
  v = json_integer_value(json_object_get(cpu, "quota"));
  period = json_integer_value(json_object_get(cpu, "period"));
  if (v > 0 && period > 0) {
    printf("%scpus=%g", any ? " " : "", (double)v / (double)period);
    any = true;
  }
  if ((v = json_integer_value(json_object_get(cpu, "shares"))) > 0) {
    printf("%scpu-shares=%" JSON_INTEGER_FORMAT, any ? " " : "", v);
    any = true;
  }
  if ((v = json_integer_value(json_object_get(json_object_get(res, "pids"), "limit"))) != 0) {
    if (v > 0)
      printf("%spids=%" JSON_INTEGER_FORMAT, any ? " " : "", v);
    else
      printf("%spids=unlimited", any ? " " : "");
    any = true;
  }
  printf("%s\n", any ? "" : "none");
}

/* The networks with their addresses, and the published ports. */
static void print_network(const json_t *rec) {
  const json_t *ns = json_object_get(rec, "NetworkSettings");
  const char *key;
  json_t *v, *b;
  size_t i;
  bool any = false;
  /* the networks, each with its address while it runs; or none, host */
  printf("Network:     ");
  json_object_foreach(json_object_get(ns, "Networks"), key, v) {
    const char *ip = str_or(v, "IPAddress", NULL);
    printf("%s%s", any ? ", " : "", key);
    if (ip != NULL)
      printf(" %s/%" JSON_INTEGER_FORMAT, ip, json_integer_value(json_object_get(v, "IPPrefixLen")));
    any = true;
  }
  if (!any)
    printf("%s", str_or(ns, "NetworkMode", "-"));
  printf("\nPorts:       ");
  any = false;
  json_object_foreach(json_object_get(ns, "Ports"), key, v) {
    json_array_foreach(v, i, b) {
      printf("%s%s:%s->%s", any ? ", " : "", str_or(b, "HostIp", "0.0.0.0"), str_or(b, "HostPort", "?"),
             key);
      any = true;
    }
  }
  printf("%s\n", any ? "" : "-");
}

static void print_table(const json_t *rec) {
  const char *status = str_or(rec, "status", "unknown");
  json_t *code = json_object_get(rec, "exit_code"), *st = json_object_get(rec, "Stats");
  bool up = is_up(rec);
  printf("Id:          %s\n", str_or(rec, "id", "-"));
  printf("Name:        %s\n", str_or(rec, "name", "-"));
  printf("Image:       %s (%s)\n", str_or(rec, "image", "-"), str_or(rec, "image_id", "-"));
  if (strcmp(status, "exited") == 0 && json_is_integer(code))
    printf("Status:      exited (%" JSON_INTEGER_FORMAT ")\n", json_integer_value(code));
  else
    printf("Status:      %s\n", status);
  printf("Pid:         %" JSON_INTEGER_FORMAT "\n", up ? json_integer_value(json_object_get(rec, "pid")) : 0);
  printf("Created:     %s\n", str_or(rec, "created", "-"));
  printf("Started:     %s\n", str_or(rec, "started", "-"));
  printf("Finished:    %s\n", up ? "-" : str_or(rec, "finished", "-"));
  if (!up && json_is_integer(code))
    printf("ExitCode:    %" JSON_INTEGER_FORMAT "\n", json_integer_value(code));
  else
    printf("ExitCode:    -\n");
  printf("OOMKilled:   %s\n", json_is_true(json_object_get(rec, "oom_killed")) ? "true" : "false");
  printf("Command:     ");
  print_command(json_object_get(rec, "command"));
  printf("Mounts:      ");
  print_mounts(rec);
  printf("Limits:      ");
  print_limits(rec);
  print_network(rec);
  if (json_is_object(st)) {
    char use[32], lim[32];
    json_int_t l = json_integer_value(json_object_get(st, "memory_limit"));
    ctr_human_size((double)json_integer_value(json_object_get(st, "memory_usage")), use, sizeof(use));
    if (l >= 0)
      ctr_human_size((double)l, lim, sizeof(lim));
    printf("Memory:      %s / %s\n", use, l >= 0 ? lim : "unlimited");
    printf("Pids:        %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(st, "pids")));
  }
  if (json_is_integer(json_object_get(rec, "SizeRw")))
    printf("Size:        %" JSON_INTEGER_FORMAT " (virtual %" JSON_INTEGER_FORMAT ")\n",
           json_integer_value(json_object_get(rec, "SizeRw")),
           json_integer_value(json_object_get(rec, "SizeRootFs")));
  printf("Bundle:      %s\n", str_or(rec, "Bundle", "-"));
  printf("Log:         %s\n", str_or(rec, "Log", "-"));
}

/* ---- the tool -------------------------------------------------------------- */

/* Each reference not found is reported here, at once, one line each: the
 * one error type holds one message, and inspect goes on with the rest.
 * Returns 1 when some were not found, -1 on a failure in err. */
static int inspect(struct args *a, int argc, char **argv, ctr_err *err) {
  struct ctr_paths paths = {0};
  cleanup_json json_t *out = json_array();
  int failed = 0, ret = 0;
  size_t i;
  json_t *rec = NULL;
  if (out == NULL)
    return ctr_fail(err, ENOMEM, "inspect");
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  for (int k = optind; k < argc; k++) {
    ctr_err e = NULL;
    if (record(a, &paths, argv[k], &rec, &e) < 0) {
      ctr_err_report(a->cli.prog, &e);
      failed++;
      continue;
    }
    json_array_append_new(out, rec);
  }
  ctr_paths_free(&paths);
  if (a->table) {
    json_array_foreach(out, i, rec) {
      if (i > 0)
        putchar('\n');
      print_table(rec);
    }
  } else {
    ret = ctr_json_print(out, err);
  }
  if (ret < 0)
    return -1;
  return failed > 0 ? 1 : 0; /* those were reported already */
}

int main(int argc, char **argv) {
  struct args a;
  ctr_err err = NULL;
  int status = 0;

  memset(&a, 0, sizeof(a));
  a.cli.prog = "ctr-inspect";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) == 0 && !ctr_cli_done(&a.cli))
    status = inspect(&a, argc, argv, &err) > 0 ? 1 : 0;
  if (err == NULL && (fflush(stdout) != 0 || ferror(stdout)))
    ctr_fail(&err, errno, "write output");
  if (err != NULL)
    status = ctr_err_report(a.cli.prog, &err);
  return status;
}
