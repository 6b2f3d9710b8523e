#define _GNU_SOURCE
#include "each.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

/* Threads run_each_container runs at once. */
#define EACH_PARALLEL 32

/* ---- several at once ------------------------------------------------------ */

struct each_job {
  const struct ctr_paths *p;
  const char *ref;
  run_container_op op;
  const void *arg;
  ctr_err err;
  pthread_t thread;
  bool started;
};

static void *each_run(void *data) {
  struct each_job *j = data;
  struct run_container c = {0};
  if (run_container_find(j->p, j->ref, &c, &j->err) == 0) {
    j->op(j->p, &c, j->arg, &j->err);
    run_container_free(&c);
  }
  return NULL;
}

size_t run_each_container(const struct ctr_paths *p, char *const *refs, size_t n,
                          run_container_op op, const void *arg, run_container_report report,
                          void *ctx) {
  struct each_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
  size_t failed = 0, next = 0;
  if (jobs == NULL) {
    for (size_t i = 0; i < n; i++) {
      ctr_err e = NULL;
      ctr_fail(&e, ENOMEM, "%s", refs[i]);
      report(i, refs[i], &e, ctx);
    }
    return n;
  }
  for (size_t i = 0; i < n; i++)
    jobs[i] = (struct each_job){.p = p, .ref = refs[i], .op = op, .arg = arg};
  for (size_t i = 0; i < n; i++) {
    /* keep up to EACH_PARALLEL running; report in order as they finish */
    for (; next < n && next < i + EACH_PARALLEL; next++) {
      jobs[next].started = n > 1 && pthread_create(&jobs[next].thread, NULL, each_run, &jobs[next]) == 0;
      if (!jobs[next].started)
        each_run(&jobs[next]);
    }
    if (jobs[i].started)
      pthread_join(jobs[i].thread, NULL);
    if (jobs[i].err != NULL)
      failed++;
    report(i, refs[i], &jobs[i].err, ctx);
    ctr_err_free(&jobs[i].err);
  }
  free(jobs);
  return failed;
}

/* ---- the tool ------------------------------------------------------------- */

static int each_parse(const struct run_each_tool *tool, struct ctr_cli *cli, void *args,
                      int argc, char **argv, ctr_err *err) {
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, tool->shortopts, tool->longopts, NULL)) != -1) {
    int rc;
    if (ctr_cli_common(cli, opt, optarg))
      continue;
    if (opt == 'h') {
      cli->help = true;
      continue;
    }
    rc = opt == '?' || opt == ':' ? 1 : tool->option(args, opt, optarg, err);
    if (rc < 0)
      return -1;
    if (rc > 0)
      return ctr_cli_bad_option(cli, argc, argv, err);
  }
  if (cli->help || cli->version)
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "requires at least 1 CONTAINER (see --help)");
  return 0;
}

static void each_report(size_t i, const char *ref, ctr_err *err, void *ctx) {
  (void)i;
  if (*err != NULL)
    ctr_err_report(ctx, err);
  else
    printf("%s\n", ref);
  fflush(stdout);
}

int run_each_main(const struct run_each_tool *tool, struct ctr_cli *cli, void *args,
                  int argc, char **argv) {
  struct ctr_paths paths = {0};
  ctr_err err = NULL;
  size_t failed;

  ctr_log_init(cli->prog, false);
  if (each_parse(tool, cli, args, argc, argv, &err) < 0)
    return ctr_err_report(cli->prog, &err);
  if (ctr_cli_done(cli))
    return 0;
  if (ctr_cli_paths(cli, &paths, &err) < 0)
    return ctr_err_report(cli->prog, &err);
  failed = run_each_container(&paths, argv + optind, (size_t)(argc - optind), tool->op, args,
                              each_report, (void *)cli->prog);
  ctr_paths_free(&paths);
  return failed ? 1 : 0;
}
