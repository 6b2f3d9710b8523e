/* ctr-kill: send a signal to containers' main process, as `docker kill`
 * does (SIGKILL unless told otherwise). */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>

#include "core/cli.h"
#include "run/each.h"
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

static int option(void *args, int opt, const char *arg, ctr_err *err) {
  struct args *a = args;
  switch (opt) {
  case 's': return run_signal_parse(arg, &a->signal, err);
  default: return 1;
  }
}

static int kill_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                    ctr_err *err) {
  const struct args *a = arg;
  return run_kill(p, c, a->signal, err);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"signal", required_argument, NULL, 's'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  static const struct run_each_tool tool = {":s:h", opts, option, kill_one};
  struct args a = {.cli = {.prog = "ctr-kill", .usage = usage, .features = features},
                   .signal = SIGKILL};
  return run_each_main(&tool, &a.cli, &a, argc, argv);
}
