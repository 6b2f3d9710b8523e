#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

int ctr_cli_common(struct ctr_cli *cli, int opt, const char *arg) {
  switch (opt) {
  case CTR_OPT_ROOT:
    cli->root_opt = arg;
    return 1;
  case CTR_OPT_RUNDIR:
    cli->rundir_opt = arg;
    return 1;
  case CTR_OPT_DEBUG:
    cli->debug = true;
    ctr_log_init(cli->prog, true);
    return 1;
  case CTR_OPT_HELP:
    cli->help = true;
    return 1;
  case CTR_OPT_VERSION:
    cli->version = true;
    return 1;
  default:
    return 0;
  }
}

int ctr_cli_done(struct ctr_cli *cli) {
  if (cli->help) {
    fputs(cli->usage, stdout);
    return 1;
  }
  if (cli->version) {
    printf("%s version %s\n%s\n", cli->prog, CTR_VERSION,
           cli->features ? cli->features : "");
    return 1;
  }
  return 0;
}

int ctr_cli_next_opt(struct ctr_cli *cli, int argc, char **argv,
                     const char *shorts, const struct option *verb_opts,
                     ctr_err *err) {
  static const struct option common[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct option all[64];
  size_t n = 0;
  int opt;
  for (const struct option *o = verb_opts; o && o->name && n < 56; o++)
    all[n++] = *o;
  for (const struct option *o = common; o->name; o++)
    all[n++] = *o;
  memset(&all[n], 0, sizeof(all[n]));
  for (;;) {
    opt = getopt_long(argc, argv, shorts, all, NULL);
    if (opt == 'h') {
      cli->help = true;
      continue;
    }
    if (opt == -1 || !ctr_cli_common(cli, opt, optarg))
      break;
  }
  if (opt == '?' || opt == ':') {
    ctr_cli_bad_option(cli, argc, argv, err);
    return CTR_CLI_OPT_ERROR;
  }
  return opt;
}

int ctr_cli_bad_option(const struct ctr_cli *cli, int argc, char **argv,
                       ctr_err *err) {
  const char *bad = (optind > 0 && optind <= argc) ? argv[optind - 1] : "?";
  (void)cli;
  if (optopt != 0 && optopt < 0x80)
    return ctr_usage(err, "invalid option -%c (see --help)", optopt);
  return ctr_usage(err, "invalid option or missing argument: %s (see --help)",
                   bad);
}

int ctr_cli_format(const char *arg, bool *json, ctr_err *err) {
  if (strcmp(arg, "json") == 0)
    *json = true;
  else if (strcmp(arg, "table") == 0)
    *json = false;
  else
    return ctr_usage(err, "unknown --format '%s' (json or table)", arg);
  return 0;
}

int ctr_cli_paths(const struct ctr_cli *cli, struct ctr_paths *paths,
                  ctr_err *err) {
  return ctr_paths_init(paths, cli->root_opt, cli->rundir_opt, err);
}

struct ctr_table {
  int ncols;
  size_t nrows, cap;
  char **cells; /* row-major, nrows * ncols, row 0 is the header */
};

struct ctr_table *ctr_table_new(int ncols, const char *const *headers) {
  struct ctr_table *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->ncols = ncols;
  if (ctr_table_row(t, headers) < 0) {
    ctr_table_free(t);
    return NULL;
  }
  return t;
}

int ctr_table_row(struct ctr_table *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **n = realloc(t->cells, cap * (size_t)t->ncols * sizeof(char *));
    if (n == NULL)
      return -1;
    t->cells = n;
    t->cap = cap;
  }
  for (int c = 0; c < t->ncols; c++) {
    char *s = strdup(cells[c] ? cells[c] : "");
    if (s == NULL) {
      for (int k = 0; k < c; k++)
        free(t->cells[t->nrows * (size_t)t->ncols + (size_t)k]);
      return -1;
    }
    t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = s;
  }
  t->nrows++;
  return 0;
}

/* Columns are as wide as what a terminal shows: UTF-8 characters, not
 * bytes ("…" is one column). */
static size_t display_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      w++;
  return w;
}

void ctr_table_print(struct ctr_table *t, FILE *out) {
  size_t width[32] = {0};
  int ncols = t->ncols < 32 ? t->ncols : 32;
  for (size_t r = 0; r < t->nrows; r++)
    for (int c = 0; c < ncols; c++) {
      size_t w = display_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
      if (w > width[c])
        width[c] = w;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (int c = 0; c < ncols; c++) {
      const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
      if (c == ncols - 1)
        fprintf(out, "%s\n", s);
      else
        fprintf(out, "%s%*s", s, (int)(width[c] - display_width(s) + 3), "");
    }
  }
}

void ctr_table_free(struct ctr_table *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

void ctr_human_size(double bytes, char *out, size_t len) {
  static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 5) {
    bytes /= 1000.0;
    u++;
  }
  if (u == 0)
    snprintf(out, len, "%.0f%s", bytes, units[u]);
  else
    snprintf(out, len, "%.3g%s", bytes, units[u]);
}

void ctr_human_ago(const char *rfc3339, time_t now, char *out, size_t len) {
  time_t t;
  long d;
  if (rfc3339 == NULL || ctr_parse_rfc3339(rfc3339, &t) < 0) {
    snprintf(out, len, "%s", "");
    return;
  }
  d = (long)(now - t);
  if (d < 0)
    snprintf(out, len, "%s", "in the future");
  else if (d < 60)
    snprintf(out, len, "%s", d < 2 ? "About a second ago" : "Less than a minute ago");
  else if (d < 3600)
    snprintf(out, len, "%ld minute%s ago", d / 60, d / 60 == 1 ? "" : "s");
  else if (d < 86400 * 2)
    snprintf(out, len, "%ld hour%s ago", d / 3600, d / 3600 == 1 ? "" : "s");
  else if (d < 86400L * 14)
    snprintf(out, len, "%ld days ago", d / 86400);
  else if (d < 86400L * 60)
    snprintf(out, len, "%ld weeks ago", d / (86400L * 7));
  else if (d < 86400L * 365 * 2)
    snprintf(out, len, "%ld months ago", d / (86400L * 30));
  else
    snprintf(out, len, "%ld years ago", d / (86400L * 365));
}
