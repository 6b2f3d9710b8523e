/* ctr-rm: remove containers, as `docker rm` does: stopped ones, or with
 * -f running ones too (SIGKILL first). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/cli.h"
#include "core/log.h"
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

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                       {"volumes", no_argument, NULL, 'v'},
                                       CTR_CLI_LONGOPTS,
                                       {0, 0, 0, 0}};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":fvh", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 'f': a->force = true; break;
    case 'v': a->volumes = true; break;
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

static int rm_one(const struct ctr_paths *p, struct run_container *c, const void *arg,
                  ctr_err *err) {
  const struct args *a = arg;
  return run_remove(p, c, a->force, a->volumes, err);
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
  struct args a = {0};
  struct ctr_paths paths = {0};
  ctr_err err = NULL;
  size_t failed;

  a.cli.prog = "ctr-rm";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  if (ctr_cli_done(&a.cli))
    return 0;
  if (ctr_cli_paths(&a.cli, &paths, &err) < 0)
    return ctr_err_report(a.cli.prog, &err);
  failed = run_each_container(&paths, argv + optind, (size_t)(argc - optind), rm_one, &a,
                              report, (void *)a.cli.prog);
  ctr_paths_free(&paths);
  return failed ? 1 : 0;
}
