/* ctr-rm: remove containers, as `docker rm` does: stopped ones, or with
 * -f running ones too (SIGKILL first). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdbool.h>

#include "core/cli.h"
#include "run/each.h"
#include "run/stop.h"

static const char usage[] =
    "Usage: ctr-rm [OPTIONS] CONTAINER [CONTAINER...]\n"
    "\n"
    "Remove containers: their directory, root filesystem mount and cgroup.\n"
    "Prints each CONTAINER as given once removed. Named volumes stay.\n"
    "\n"
    "Options:\n"
    "  -f, --force             kill (SIGKILL) and remove a running container\n"
    "  -v, --volumes           also remove the container's anonymous volumes\n"
    "      --root DIR          store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "      --rundir DIR        volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "      --debug             debug output on stderr\n"
    "  -h, --help              this help\n"
    "      --version           version and features\n"
    "\n"
    "Exit status: 0 all removed, 1 one or more failed, 2 bad usage.\n"
    "See ctr-rm(1).\n";

static const char features[] = "+PIDFD +CGROUPV1 +CGROUPV2";

struct args {
  struct ctr_cli cli;
  bool force, volumes;
};

static int option(void *args, int opt, const char *arg, ctr_err *err) {
  struct args *a = args;
  (void)arg;
  (void)err;
  switch (opt) {
  case 'f': a->force = true; return 0;
  case 'v': a->volumes = true; return 0;
  default: return 1;
  }
}

static int rm_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                  ctr_err *err) {
  const struct args *a = arg;
  return run_remove(p, c, a->force, a->volumes, err);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                       {"volumes", no_argument, NULL, 'v'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  static const struct run_each_tool tool = {":fvh", opts, option, rm_one};
  struct args a = {.cli = {.prog = "ctr-rm", .usage = usage, .features = features}};
  return run_each_main(&tool, &a.cli, &a, argc, argv);
}
