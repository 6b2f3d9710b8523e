/* One action on each CONTAINER argument: the shared body of ctr-stop,
 * ctr-kill and ctr-rm (and anything else that takes CONTAINER...). */
#ifndef CTR_RUN_EACH_H
#define CTR_RUN_EACH_H

#include <getopt.h>
#include <stddef.h>

#include "container.h"
#include "core/cli.h"
#include "core/error.h"
#include "core/paths.h"

/* What the tool does to one container; arg is the tool's options. */
typedef int (*run_container_op)(const struct ctr_paths *p,
                                struct run_container *c, const void *arg,
                                ctr_err *err);
/* Called in the caller's thread, in the order of refs: err is NULL on
 * success; the callee owns (and frees) *err. */
typedef void (*run_container_report)(size_t i, const char *ref, ctr_err *err,
                                     void *ctx);

/* Find each of refs[0..n) and apply op to it, several at once (one thread
 * each, a bounded number at a time), so ten containers that ignore their
 * stop signal take one timeout, not ten. Returns how many failed. */
size_t run_each_container(const struct ctr_paths *p, char *const *refs,
                          size_t n, run_container_op op, const void *arg,
                          run_container_report report, void *ctx);

/* A CONTAINER... tool as a table: its options and its action. */
struct run_each_tool {
  const char *shortopts;         /* getopt string, ':' first, with 'h' */
  const struct option *longopts; /* ends with CTR_CLI_LONGOPTS, {0} */
  /* Apply one of the tool's own options to args: 0 done, -1 *err set,
   * 1 not one of its options (a usage error). */
  int (*option)(void *args, int opt, const char *arg, ctr_err *err);
  run_container_op op;
};

/* The whole main of such a tool: parse argv into cli (the common options)
 * and args (the tool's own), require one CONTAINER or more, then run
 * tool->op on each (run_each_container), printing each CONTAINER as given
 * on success and one error line on failure. Returns the exit status:
 * 0 all done, 1 one or more failed, 2 bad usage. */
int run_each_main(const struct run_each_tool *tool, struct ctr_cli *cli,
                  void *args, int argc, char **argv);

#endif
