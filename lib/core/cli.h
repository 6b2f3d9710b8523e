/* What every tool's command line shares: --root, --rundir, --debug,
 * --help, --version (with feature tags), --format json, -q, and table
 * output for people. */
#ifndef CTR_CORE_CLI_H
#define CTR_CORE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "error.h"
#include "paths.h"
#include "rfc3339.h"

#define CTR_VERSION "0.1.0"

enum {
  CTR_OPT_ROOT = 0x1000,
  CTR_OPT_RUNDIR,
  CTR_OPT_DEBUG,
  CTR_OPT_FORMAT,
  CTR_OPT_HELP,
  CTR_OPT_VERSION,
  CTR_OPT_FIRST_TOOL /* tools number their own long-only options from here */
};

/* Spliced into every getopt_long table so the shared options work before
 * and after the verb alike. */
#define CTR_CLI_LONGOPTS                                                       \
  {"root", required_argument, NULL, CTR_OPT_ROOT},                             \
      {"rundir", required_argument, NULL, CTR_OPT_RUNDIR},                     \
      {"debug", no_argument, NULL, CTR_OPT_DEBUG},                             \
      {"help", no_argument, NULL, CTR_OPT_HELP},                               \
      {"version", no_argument, NULL, CTR_OPT_VERSION}

struct ctr_cli {
  const char *prog;
  const char *features; /* "+A +B" for --version */
  const char *usage;    /* full --help text */
  const char *root_opt;
  const char *rundir_opt;
  bool debug;
  bool help;
  bool version;
};

/* Handle one shared option; returns 1 if it was one, 0 if not. */
int ctr_cli_common(struct ctr_cli *cli, int opt, const char *arg);
/* After parsing: prints help/version and returns 1 when the tool should
 * exit 0 right away; 0 to go on. */
int ctr_cli_done(struct ctr_cli *cli);
/* getopt_long over a verb's arguments with the shared options mixed in
 * (handled on the way, -h included): the verb's next option, -1 at the
 * end, or CTR_CLI_OPT_ERROR with err set. */
#define CTR_CLI_OPT_ERROR (-2)
int ctr_cli_next_opt(struct ctr_cli *cli, int argc, char **argv,
                     const char *shorts, const struct option *verb_opts,
                     ctr_err *err);
/* An unknown option or missing argument (getopt returned '?'/':'). */
int ctr_cli_bad_option(const struct ctr_cli *cli, int argc, char **argv,
                       ctr_err *err);
/* Parse "--format" values: "json" sets *json, "table" clears it. */
int ctr_cli_format(const char *arg, bool *json, ctr_err *err);
int ctr_cli_paths(const struct ctr_cli *cli, struct ctr_paths *paths,
                  ctr_err *err);

/* Aligned text tables with a header row. */
struct ctr_table;
struct ctr_table *ctr_table_new(int ncols, const char *const *headers);
/* Adds a row of ncols cells (copied). Returns -1 when out of memory. */
int ctr_table_row(struct ctr_table *t, const char *const *cells);
void ctr_table_print(struct ctr_table *t, FILE *out);
void ctr_table_free(struct ctr_table *t);

/* "12.3MB", as Docker prints sizes (powers of 1000). */
void ctr_human_size(double bytes, char *out, size_t len);
/* "3 hours ago" from an RFC 3339 time; "" when unparsable. */
void ctr_human_ago(const char *rfc3339, time_t now, char *out, size_t len);

#endif
