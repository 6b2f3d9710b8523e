/* ctr-exec: run a command in a running container, as `docker exec`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/log.h"
#include "run/envopt.h"
#include "run/exec.h"

static const char usage[] =
    "Usage: ctr-exec [OPTIONS] CONTAINER COMMAND [ARG...]\n"
    "\n"
    "Run a command in a running container, as docker exec does: in all of\n"
    "its namespaces and its cgroup, with its capabilities, seccomp filter,\n"
    "limits, user, working directory and environment.\n"
    "\n"
    "Options:\n"
    "  -i, --interactive          keep stdin open (else it reads /dev/null)\n"
    "  -t, --tty                  allocate a pseudo-terminal\n"
    "  -d, --detach               start it in the background and return; its\n"
    "                             stdio is /dev/null (-i and -t do nothing)\n"
    "  -e, --env KEY[=VALUE]      set an environment variable (KEY alone: from ours)\n"
    "      --env-file FILE        read KEY=VALUE lines\n"
    "  -u, --user USER[:GROUP]    user, by name or id, from the container's passwd\n"
    "  -w, --workdir DIR          working directory inside (absolute)\n"
    "      --privileged           all capabilities, no seccomp filter\n"
    "      --root DIR, --rundir DIR, --debug, --help, --version\n"
    "\n"
    "Exit status: the command's (128+N when killed by signal N); 0 with -d;\n"
    "1 if ctr-exec failed (e.g. the container is not running), 2 for bad\n"
    "usage, 126 if the command cannot be executed, 127 if it was not found.\n"
    "See ctr-exec(1).\n";

static const char features[] = "+PIDFD +SECCOMP +CAP +PTY";

enum { OPT_ENV_FILE = CTR_OPT_FIRST_TOOL, OPT_PRIVILEGED };

static const struct option long_opts[] = {
    {"interactive", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"detach", no_argument, NULL, 'd'},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"user", required_argument, NULL, 'u'},
    {"workdir", required_argument, NULL, 'w'},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    CTR_CLI_LONGOPTS,
    {0, 0, 0, 0}};

struct args {
  struct ctr_cli cli;
  struct run_exec x;
  const char *container;
};

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  struct run_exec *x = &a->x;
  int opt;
  opterr = 0;
  /* '+': options stop at CONTAINER; what follows is the command's. */
  while ((opt = getopt_long(argc, argv, "+itde:u:w:", long_opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 'i': x->interactive = true; break;
    case 't': x->tty = true; break;
    case 'd': x->detach = true; break;
    case 'e':
      if (run_envopt_add(x->env, optarg, err) < 0)
        return -1;
      break;
    case OPT_ENV_FILE:
      if (run_envopt_file(x->env, optarg, err) < 0)
        return -1;
      break;
    case 'u':
      if (optarg[0] == '\0')
        return ctr_usage(err, "-u needs a USER[:GROUP]");
      x->user = optarg;
      break;
    case 'w':
      if (optarg[0] != '/')
        return ctr_usage(err, "the working directory '%s' is invalid, it needs to be an absolute path",
                         optarg);
      x->workdir = optarg;
      break;
    case OPT_PRIVILEGED: x->privileged = true; break;
    default:
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (a->cli.help || a->cli.version)
    return 0;
  if (argc - optind < 2)
    return ctr_usage(err, "a CONTAINER and a COMMAND are needed (see --help)");
  a->container = argv[optind++];
  for (; optind < argc; optind++)
    json_array_append_new(x->args, json_string(argv[optind]));
  return 0;
}

static int cmd_exec(struct args *a, ctr_err *err) {
  struct ctr_paths paths = {0};
  int ret;
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  ret = run_exec(&paths, a->container, &a->x, err);
  ctr_paths_free(&paths);
  return ret;
}

int main(int argc, char **argv) {
  struct args a;
  ctr_err err = NULL;
  int status;

  memset(&a, 0, sizeof(a));
  a.cli.prog = "ctr-exec";
  a.cli.usage = usage;
  a.cli.features = features;
  a.x.args = json_array();
  a.x.env = json_array();
  a.x.exit_code = RUN_EXEC_FAILED;
  ctr_log_init(a.cli.prog, false);
  if (parse(&a, argc, argv, &err) == 0 && !a.cli.help && !a.cli.version)
    cmd_exec(&a, &err);
  json_decref(a.x.args);
  json_decref(a.x.env);
  if (err == NULL && ctr_cli_done(&a.cli))
    return 0;
  if (err != NULL) {
    bool usage_error = err->exit == 2;
    status = ctr_err_report(a.cli.prog, &err);
    return usage_error ? status : a.x.exit_code;
  }
  return a.x.exit_code;
}
