/* ctr-stop: stop running containers, as `docker stop` does: the stop
 * signal, a grace period, then SIGKILL. Several containers stop at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "core/cli.h"
#include "run/each.h"
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

static int option(void *args, int opt, const char *arg, ctr_err *err) {
  struct args *a = args;
  switch (opt) {
  case 't': return parse_timeout(arg, &a->timeout, err);
  case 's': return run_signal_parse(arg, &a->signal, err);
  default: return 1;
  }
}

static int stop_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                    ctr_err *err) {
  const struct args *a = arg;
  return run_stop(p, c, a->signal, a->timeout, err);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"timeout", required_argument, NULL, 't'},
                                       {"time", required_argument, NULL, 't'},
                                       {"signal", required_argument, NULL, 's'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  static const struct run_each_tool tool = {":t:s:h", opts, option, stop_one};
  struct args a = {.cli = {.prog = "ctr-stop", .usage = usage, .features = features},
                   .signal = RUN_STOP_SIGNAL_DEFAULT,
                   .timeout = RUN_STOP_TIMEOUT_DEFAULT};
  return run_each_main(&tool, &a.cli, &a, argc, argv);
}
