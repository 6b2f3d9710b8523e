/* ctr-kill: send a signal to containers' main process, as `docker kill`
 * does (SIGKILL unless told otherwise). */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/cli.h"
#include "core/log.h"
#include "run/stop.h"

static const char usage[] =
    "Usage: ctr-kill [OPTIONS] CONTAINER [CONTAINER...]\n"
    "\n"
    "Send a signal to the main process of running containers (SIGKILL by\n"
    "default). Prints each CONTAINER as given once signalled. SIGKILL and the\n"
    "container's stop signal turn its restart policy off until it is started\n"
    "again; with SIGKILL, ctr-kill returns once the container has ended.\n"
    "\n"
    "Options:\n"
    "  -s, --signal SIGNAL     signal by name or number (KILL, SIGHUP, 10...)\n"
    "      --root DIR          store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "      --rundir DIR        volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "      --debug             debug output on stderr\n"
    "  -h, --help              this help\n"
    "      --version           version and features\n"
    "\n"
    "Exit status: 0 all signalled, 1 one or more failed (not running, no such\n"
    "container), 2 bad usage. See ctr-kill(1).\n";

static const char features[] = "+PIDFD";

struct args {
  struct ctr_cli cli;
  int signal;
};

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"signal", required_argument, NULL, 's'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 's':
      if (run_signal_parse(optarg, &a->signal, err) < 0)
        return -1;
      break;
    case 'h': a->cli.help = true; break;
    default: return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "requires at least 1 CONTAINER (see --help)");
  return 0;
}

static int kill_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                    ctr_err *err) {
  const struct args *a = arg;
  return run_kill(p, c, a->signal, err);
}

static void report(size_t i, const char *ref, ctr_err *err, void *ctx) {
  (void)i;
  if (*err != NULL)
    ctr_err_report(ctx, err);
  else
    printf("%s\n", ref);
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct args a = {.signal = SIGKILL};
  struct ctr_paths paths = {0};
  ctr_err err = NULL;
  size_t failed;

  a.cli.prog = "ctr-kill";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  if (ctr_cli_done(&a.cli))
    return 0;
  if (ctr_cli_paths(&a.cli, &paths, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  failed = run_each_container(&paths, argv + optind, (size_t)(argc - optind), kill_one, &a,
                              report, (void *)a.cli.prog);
  ctr_paths_free(&paths);
  return failed ? 1 : 0;
}
