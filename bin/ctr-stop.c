/* ctr-stop: stop running containers, as `docker stop` does: the stop
 * signal, a grace period, then SIGKILL. Several containers stop at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/log.h"
#include "run/stop.h"

static const char usage[] =
    "Usage: ctr-stop [OPTIONS] CONTAINER [CONTAINER...]\n"
    "\n"
    "Stop running containers: send each its stop signal (--stop-signal at\n"
    "create, SIGTERM by default), wait for it to end, then kill what is left.\n"
    "Prints each CONTAINER as given once it has stopped; a container that is\n"
    "not running is fine.\n"
    "\n"
    "Options:\n"
    "  -t, --timeout SECONDS   seconds to wait before killing (default: the\n"
    "                          container's --stop-timeout, else 10; -1: wait\n"
    "                          for ever)\n"
    "  -s, --signal SIGNAL     signal to send instead, by name or number\n"
    "      --root DIR          store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "      --rundir DIR        volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "      --debug             debug output on stderr\n"
    "  -h, --help              this help\n"
    "      --version           version and features\n"
    "\n"
    "Exit status: 0 all stopped, 1 one or more failed, 2 bad usage.\n"
    "See ctr-stop(1).\n";

static const char features[] = "+PIDFD +CGROUPV1 +CGROUPV2";

struct args {
  struct ctr_cli cli;
  int signal;
  int timeout;
};

static int parse_timeout(const char *s, int *out, ctr_err *err) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < -1 || v > 86400 * 365)
    return ctr_usage(err, "invalid timeout '%s': want whole seconds, or -1", s);
  *out = (int)v;
  return 0;
}

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"timeout", required_argument, NULL, 't'},
                                       {"time", required_argument, NULL, 't'},
                                       {"signal", required_argument, NULL, 's'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":t:s:h", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 't':
      if (parse_timeout(optarg, &a->timeout, err) < 0)
        return -1;
      break;
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

static int stop_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                    ctr_err *err) {
  const struct args *a = arg;
  return run_stop(p, c, a->signal, a->timeout, err);
}

static void report(size_t i, const char *ref, ctr_err *err, void *ctx) {
  const char *prog = ctx;
  (void)i;
  if (*err != NULL)
    ctr_err_report(prog, err);
  else
    printf("%s\n", ref);
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct args a = {.signal = RUN_STOP_SIGNAL_DEFAULT, .timeout = RUN_STOP_TIMEOUT_DEFAULT};
  struct ctr_paths paths = {0};
  ctr_err err = NULL;
  size_t failed;

  a.cli.prog = "ctr-stop";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  if (ctr_cli_done(&a.cli))
    return 0;
  if (ctr_cli_paths(&a.cli, &paths, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  failed = run_each_container(&paths, argv + optind, (size_t)(argc - optind), stop_one, &a,
                              report, (void *)a.cli.prog);
  ctr_paths_free(&paths);
  return failed ? 1 : 0;
}
