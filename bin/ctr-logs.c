/* ctr-logs: a container's output, as docker logs prints it: what it wrote
 * to stdout on our stdout, to stderr on our stderr, in order. With -f it
 * keeps printing what comes until the container is no longer running. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "run/container.h"
#include "run/logs.h"
#include "run/state.h"

static const char usage[] =
    "Usage: ctr-logs [OPTIONS] CONTAINER\n"
    "\n"
    "Print a container's output (by name, id or id prefix), as docker logs\n"
    "does: its stdout on stdout, its stderr on stderr.\n"
    "\n"
    "Options:\n"
    "  -f, --follow         keep printing new output until the container stops\n"
    "  -n, --tail N|all     only the last N lines (default all)\n"
    "      --since TIME     only lines from TIME on\n"
    "      --until TIME     only lines up to TIME\n"
    "                       TIME: RFC 3339 (2024-05-01T10:00:00Z, 2024-05-01;\n"
    "                       without a zone, local time), a duration before now\n"
    "                       (10m, 1h30m, 30s) or a Unix timestamp (1714557600)\n"
    "  -t, --timestamps     put each line's time in front of it\n"
    "      --root DIR, --rundir DIR, --debug\n"
    "  -h, --help           this help\n"
    "      --version        version and features\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 bad usage. See ctr-logs(1).\n";

static const char features[] = "+JSON-FILE +FOLLOW";

enum { OPT_SINCE = CTR_OPT_FIRST_TOOL, OPT_UNTIL };

struct args {
  struct ctr_cli cli;
  struct run_logs_opts o;
  const char *ref;
};

static int parse_time(const char *opt, const char *s, struct timespec *out, ctr_err *err) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (run_log_parse_time(s, &now, out, err) < 0)
    return ctr_wrap(err, "invalid value for %s", opt);
  return 0;
}

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"follow", no_argument, NULL, 'f'},
      {"tail", required_argument, NULL, 'n'},
      {"since", required_argument, NULL, OPT_SINCE},
      {"until", required_argument, NULL, OPT_UNTIL},
      {"timestamps", no_argument, NULL, 't'},
      CTR_CLI_LONGOPTS,
      {0, 0, 0, 0}};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "fn:th", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 'f': a->o.follow = true; break;
    case 't': a->o.timestamps = true; break;
    case 'h': a->cli.help = true; break;
    case 'n':
      if (run_log_parse_tail(optarg, &a->o.tail, err) < 0)
        return -1;
      break;
    case OPT_SINCE:
      if (parse_time("--since", optarg, &a->o.since, err) < 0)
        return -1;
      a->o.has_since = true;
      break;
    case OPT_UNTIL:
      if (parse_time("--until", optarg, &a->o.until, err) < 0)
        return -1;
      a->o.has_until = true;
      break;
    default:
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "one CONTAINER is needed (see --help)");
  a->ref = argv[optind];
  return 0;
}

struct watch {
  const struct ctr_paths *paths;
  const char *id;
  bool ending;             /* its process is gone; its monitor still works */
  struct timespec ending_since;
};

/* A process that exists and is not a zombie. */
static bool pid_alive(pid_t pid) {
  char path[64], buf[512];
  cleanup_fclose FILE *f = NULL;
  const char *paren;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "re");
  if (f == NULL || fgets(buf, sizeof(buf), f) == NULL || (paren = strrchr(buf, ')')) == NULL)
    return false;
  return paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X' && paren[2] != '\0';
}

/* The monitor reaps the container's process before it has written the
 * last of its output to the log and recorded the exit: while the running
 * file is there and its monitor lives, more may come. */
static bool monitor_finishing(const struct watch *w) {
  cleanup_free char *path = run_state_rundir_path(w->paths, w->id, ".json");
  cleanup_json json_t *run = NULL;
  ctr_err e = NULL;
  json_int_t mon;
  if (path == NULL || ctr_json_load_object(AT_FDCWD, path, 1 << 16, &run, &e) < 0) {
    ctr_err_free(&e);
    return false;
  }
  mon = json_integer_value(json_object_get(run, "monitor_pid"));
  return mon > 0 && mon <= INT32_MAX && pid_alive((pid_t)mon);
}

/* Asked by the follower each time it has read the whole log: running as
 * run_state_refresh sees it, or just ended with its monitor still at work
 * (for at most MONITOR_GRACE seconds: a pid reused after the monitor was
 * killed must not keep us here). */
#define MONITOR_GRACE 10
static bool still_running(void *arg) {
  struct watch *w = arg;
  struct run_container c = {0};
  struct timespec now;
  ctr_err e = NULL;
  const char *status;
  bool up;
  snprintf(c.id, sizeof(c.id), "%s", w->id);
  c.state = json_object();
  if (c.state == NULL || run_state_refresh(w->paths, &c, &e) < 0) {
    ctr_err_free(&e);
    json_decref(c.state);
    return false;
  }
  status = ctr_json_str(c.state, "status");
  up = status != NULL && (strcmp(status, "running") == 0 || strcmp(status, "restarting") == 0);
  json_decref(c.state);
  if (up) {
    w->ending = false;
    return true;
  }
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (!w->ending) {
    w->ending = true;
    w->ending_since = now;
  }
  return now.tv_sec - w->ending_since.tv_sec < MONITOR_GRACE && monitor_finishing(w);
}

static int logs(struct args *a, ctr_err *err) {
  struct ctr_paths paths = {0};
  struct run_container c = {0};
  cleanup_free char *path = NULL;
  struct watch w = {.paths = &paths};
  int ret = -1;
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  if (run_container_find(&paths, a->ref, &c, err) < 0)
    goto out;
  if (asprintf(&path, "%s/log", c.dir) < 0) {
    ctr_fail(err, ENOMEM, "logs");
    goto out;
  }
  w.id = c.id;
  a->o.still_running = still_running;
  a->o.arg = &w;
  a->o.out_fd = STDOUT_FILENO;
  a->o.err_fd = STDERR_FILENO;
  ret = run_logs_copy(path, &a->o, err);
  if (ret < 0)
    ctr_wrap(err, "%s", a->ref);
out:
  run_container_free(&c);
  ctr_paths_free(&paths);
  return ret;
}

int main(int argc, char **argv) {
  struct args a;
  ctr_err err = NULL;

  memset(&a, 0, sizeof(a));
  a.cli.prog = "ctr-logs";
  a.cli.usage = usage;
  a.cli.features = features;
  a.o.tail = -1;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) == 0 && !ctr_cli_done(&a.cli))
    logs(&a, &err);
  if (err == NULL && (fflush(stdout) != 0 || ferror(stdout)))
    ctr_fail(&err, errno, "write output");
  return err != NULL ? ctr_err_report(a.cli.prog, &err) : 0;
}
