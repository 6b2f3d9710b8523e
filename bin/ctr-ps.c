/* ctr-ps: list containers, as docker ps does: running ones by default,
 * all with -a, the newest first. Each container's status is what
 * run_state_refresh makes of its files, so a container whose monitor was
 * killed shows as exited with an unknown code, never as up. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "run/container.h"
#include "run/filter.h"
#include "run/logs.h"
#include "run/network.h"
#include "run/state.h"

static const char usage[] =
    "Usage: ctr-ps [OPTIONS]\n"
    "\n"
    "List containers, as docker ps does: the running ones, newest first.\n"
    "\n"
    "Options:\n"
    "  -a, --all              all containers, not only the running ones\n"
    "  -q, --quiet            only the ids\n"
    "      --no-trunc         full ids and commands\n"
    "  -n, --last N           the N last created containers (any state)\n"
    "  -l, --latest           the last created container (any state)\n"
    "  -f, --filter KEY=VALUE only those that match; repeat for more:\n"
    "                           id=REGEX, name=REGEX, label=KEY[=VALUE],\n"
    "                           status=created|running|restarting|exited,\n"
    "                           exited=CODE, ancestor=IMAGE,\n"
    "                           before=CONTAINER, since=CONTAINER\n"
    "      --format table|json  json: an array of the containers' state\n"
    "      --root DIR, --rundir DIR, --debug\n"
    "  -h, --help             this help\n"
    "      --version          version and features\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 bad usage. See ctr-ps(1).\n";

static const char features[] = "+FILTER +JSON";

enum { OPT_NO_TRUNC = CTR_OPT_FIRST_TOOL };

struct args {
  struct ctr_cli cli;
  bool all, quiet, no_trunc, json;
  long last; /* <= 0: no limit */
  struct run_filter *filter;
};

static int parse(struct args *a, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},
      {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
      {"last", required_argument, NULL, 'n'},
      {"latest", no_argument, NULL, 'l'},
      {"filter", required_argument, NULL, 'f'},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      CTR_CLI_LONGOPTS,
      {0, 0, 0, 0}};
  int opt;
  char *end;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "aqn:lf:h", opts, NULL)) != -1) {
    if (ctr_cli_common(&a->cli, opt, optarg))
      continue;
    switch (opt) {
    case 'a': a->all = true; break;
    case 'q': a->quiet = true; break;
    case OPT_NO_TRUNC: a->no_trunc = true; break;
    case 'l': a->last = 1; break;
    case 'h': a->cli.help = true; break;
    case 'n':
      errno = 0;
      a->last = strtol(optarg, &end, 10);
      if (optarg[0] == '\0' || *end != '\0' || errno != 0)
        return ctr_usage(err, "invalid value \"%s\" for --last: want a number", optarg);
      break;
    case 'f':
      if (run_filter_add(a->filter, optarg, err) < 0)
        return -1;
      break;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(optarg, &a->json, err) < 0)
        return -1;
      break;
    default:
      return ctr_cli_bad_option(&a->cli, argc, argv, err);
    }
  }
  if (optind != argc && !a->cli.help && !a->cli.version)
    return ctr_usage(err, "ctr-ps takes no arguments (see --help)");
  return 0;
}

/* ---- what a row says ----------------------------------------------------- */

/* Seconds from an RFC 3339 time to now; -1 when there is no such time. */
static long long since_secs(const char *rfc3339, const struct timespec *now) {
  struct timespec t;
  long long d;
  if (rfc3339 == NULL || run_log_parse_rfc3339(rfc3339, &t) < 0)
    return -1;
  d = (long long)(now->tv_sec - t.tv_sec) - (now->tv_nsec < t.tv_nsec ? 1 : 0);
  return d < 0 ? 0 : d;
}

/* Docker's units.HumanDuration: "3 seconds", "About a minute", "2 hours". */
static void human_duration(long long secs, char *out, size_t len) {
  long long minutes = secs / 60, hours = (secs + 1800) / 3600;
  if (secs < 1)
    snprintf(out, len, "Less than a second");
  else if (secs == 1)
    snprintf(out, len, "1 second");
  else if (secs < 60)
    snprintf(out, len, "%lld seconds", secs);
  else if (minutes == 1)
    snprintf(out, len, "About a minute");
  else if (minutes < 60)
    snprintf(out, len, "%lld minutes", minutes);
  else if (hours == 1)
    snprintf(out, len, "About an hour");
  else if (hours < 48)
    snprintf(out, len, "%lld hours", hours);
  else if (hours < 24 * 7 * 2)
    snprintf(out, len, "%lld days", hours / 24);
  else if (hours < 24 * 30 * 2)
    snprintf(out, len, "%lld weeks", hours / 24 / 7);
  else if (hours < 24 * 365 * 2)
    snprintf(out, len, "%lld months", hours / 24 / 30);
  else
    snprintf(out, len, "%lld years", secs / 3600 / 24 / 365);
}

static void ago(const char *rfc3339, const struct timespec *now, char *out, size_t len) {
  char d[64];
  long long secs = since_secs(rfc3339, now);
  if (secs < 0) {
    snprintf(out, len, "%s", "");
    return;
  }
  human_duration(secs, d, sizeof(d));
  snprintf(out, len, "%s ago", d);
}

/* A "finished" from before the last start belongs to an earlier run. */
static bool finished_known(const json_t *st) {
  struct timespec s, f;
  const char *started = ctr_json_str(st, "started"), *finished = ctr_json_str(st, "finished");
  if (finished == NULL || run_log_parse_rfc3339(finished, &f) < 0)
    return false;
  if (started == NULL || run_log_parse_rfc3339(started, &s) < 0)
    return true;
  return f.tv_sec > s.tv_sec || (f.tv_sec == s.tv_sec && f.tv_nsec >= s.tv_nsec);
}

static void status_text(const json_t *st, const struct timespec *now, char *out, size_t len) {
  const char *status = ctr_json_str(st, "status");
  long long code = json_integer_value(json_object_get(st, "exit_code"));
  char when[80] = "", d[64];
  if (status == NULL)
    status = "unknown";
  if (strcmp(status, "running") == 0) {
    human_duration(since_secs(ctr_json_str(st, "started"), now), d, sizeof(d));
    snprintf(out, len, "Up %s", d);
    return;
  }
  if (strcmp(status, "created") == 0) {
    snprintf(out, len, "Created");
    return;
  }
  if (strcmp(status, "exited") == 0 || strcmp(status, "restarting") == 0) {
    /* restarting: the running file's "started" is when the wait began */
    if (status[0] == 'r' ? ctr_json_str(st, "finished") != NULL : finished_known(st)) {
      when[0] = ' ';
      ago(ctr_json_str(st, "finished"), now, when + 1, sizeof(when) - 1);
    }
    snprintf(out, len, "%s (%lld)%s", status[0] == 'e' ? "Exited" : "Restarting", code, when);
    return;
  }
  snprintf(out, len, "%c%s", status[0] >= 'a' && status[0] <= 'z' ? status[0] - 32 : status[0],
           status + 1);
}

static size_t utf8_len(const unsigned char *p) {
  size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* Go's strconv.Quote, which docker ps puts around the command. */
static char *go_quote(const char *s) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = utf8_len(p);
    const char *esc = NULL;
    switch (*p) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\a': esc = "\\a"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\v': esc = "\\v"; break;
    }
    if (esc != NULL)
      fputs(esc, f);
    else if (n == 0 || *p < 0x20 || *p == 0x7f)
      fprintf(f, "\\x%02x", *p);
    else
      fwrite(p, 1, n, f);
    p += n ? n : 1;
  }
  fputc('"', f);
  if (fclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* The command as one line, cut to max characters with "…" (docker's
 * Ellipsis), then quoted. */
static char *command_text(const json_t *st, bool trunc) {
  cleanup_free char *joined = NULL;
  size_t len = 0, i;
  json_t *arg;
  FILE *f = open_memstream(&joined, &len);
  if (f == NULL)
    return NULL;
  json_array_foreach(json_object_get(st, "command"), i, arg) {
    if (i > 0)
      fputc(' ', f);
    fputs(json_is_string(arg) ? json_string_value(arg) : "", f);
  }
  if (fclose(f) != 0)
    return NULL;
  if (trunc) {
    size_t chars = 0, cut = 0;
    for (const unsigned char *p = (const unsigned char *)joined; *p;) {
      size_t n = utf8_len(p);
      if (++chars == 20)
        cut = (size_t)((const char *)p - joined);
      p += n ? n : 1;
    }
    if (chars > 20) {
      char *shorter = NULL;
      if (asprintf(&shorter, "%.*s\xe2\x80\xa6", (int)cut, joined) < 0)
        return NULL;
      free(joined);
      joined = shorter;
    }
  }
  return go_quote(joined);
}

static void image_text(const json_t *st, bool trunc, char *out, size_t len) {
  const char *image = ctr_json_str(st, "image");
  const char *at;
  if (image == NULL || image[0] == '\0') {
    snprintf(out, len, "<no image>");
    return;
  }
  if (trunc && strncmp(image, "sha256:", 7) == 0) {
    snprintf(out, len, "%.12s", image + 7);
    return;
  }
  at = strchr(image, '@');
  if (trunc && at != NULL)
    snprintf(out, len, "%.*s", (int)(at - image), image);
  else
    snprintf(out, len, "%s", image);
}

static bool is_up(const json_t *st) {
  const char *s = ctr_json_str(st, "status");
  return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0 ||
                       strcmp(s, "paused") == 0);
}

/* "0.0.0.0:8080->80/tcp, …": what ctr-net publishes for it now. */
static void ports_text(const struct ctr_paths *p, const json_t *st, char *out, size_t len) {
  cleanup_json json_t *live = NULL;
  out[0] = '\0';
  if (!is_up(st) || ctr_json_str(st, "id") == NULL)
    return;
  live = run_net_live(p, ctr_json_str(st, "id"));
  run_net_ports_text(live, out, len);
}

/* ---- the listing ---------------------------------------------------------- */

/* Every container, refreshed and filtered, newest first. */
static int select_containers(struct args *a, const struct ctr_paths *p, json_t **out,
                             ctr_err *err) {
  cleanup_json json_t *all = NULL;
  json_t *sel = json_array();
  bool everything = a->all || a->last > 0 || run_filter_wants_all(a->filter);
  if (sel == NULL)
    return ctr_fail(err, ENOMEM, "list");
  if (run_container_list(p, &all, err) < 0 || run_filter_resolve(a->filter, p, err) < 0) {
    json_decref(sel);
    return -1;
  }
  for (size_t i = json_array_size(all); i-- > 0;) {
    json_t *st = json_array_get(all, i);
    struct run_container c = {.state = st};
    ctr_err e = NULL;
    if (ctr_json_str(st, "id") == NULL)
      continue; /* not ours to show: a state.json without its id */
    snprintf(c.id, sizeof(c.id), "%s", ctr_json_str(st, "id"));
    if (run_state_refresh(p, &c, &e) < 0) {
      ctr_debug("%.12s: %s", c.id, e && e->msg ? e->msg : "refresh failed");
      ctr_err_free(&e);
    }
    if ((!everything && !is_up(st)) || !run_filter_match(a->filter, st))
      continue;
    json_array_append(sel, st);
    if (a->last > 0 && (long)json_array_size(sel) >= a->last)
      break;
  }
  *out = sel;
  return 0;
}

static int print_table(struct args *a, const struct ctr_paths *p, const json_t *list,
                       ctr_err *err) {
  static const char *const head[] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                                     "STATUS", "PORTS", "NAMES"};
  struct ctr_table *t = ctr_table_new(7, head);
  struct timespec now;
  size_t i;
  json_t *st;
  if (t == NULL)
    return ctr_fail(err, ENOMEM, "table");
  clock_gettime(CLOCK_REALTIME, &now);
  json_array_foreach(list, i, st) {
    char id[65], image[512], created[80], status[160], ports[1024];
    cleanup_free char *cmd = command_text(st, !a->no_trunc);
    const char *row[7] = {id, image, cmd, created, status, ports, ctr_json_str(st, "name")};
    snprintf(id, sizeof(id), "%.*s", a->no_trunc ? 64 : 12, ctr_json_str(st, "id"));
    image_text(st, !a->no_trunc, image, sizeof(image));
    ago(ctr_json_str(st, "created"), &now, created, sizeof(created));
    status_text(st, &now, status, sizeof(status));
    ports_text(p, st, ports, sizeof(ports));
    if (cmd == NULL || ctr_table_row(t, row) < 0) {
      ctr_table_free(t);
      return ctr_fail(err, ENOMEM, "table");
    }
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  return 0;
}

static int list(struct args *a, ctr_err *err) {
  struct ctr_paths paths = {0};
  cleanup_json json_t *sel = NULL;
  size_t i;
  json_t *st;
  int ret = -1;
  if (ctr_cli_paths(&a->cli, &paths, err) < 0)
    return -1;
  if (select_containers(a, &paths, &sel, err) < 0)
    goto out;
  if (a->quiet) {
    json_array_foreach(sel, i, st)
        printf("%.*s\n", a->no_trunc ? 64 : 12, ctr_json_str(st, "id"));
    ret = 0;
  } else if (a->json) {
    json_array_foreach(sel, i, st) {
      char ports[1024];
      ports_text(&paths, st, ports, sizeof(ports));
      json_object_set_new(st, "Ports", json_string(ports));
    }
    ret = ctr_json_print(sel, err);
  } else {
    ret = print_table(a, &paths, sel, err);
  }
out:
  ctr_paths_free(&paths);
  return ret;
}

int main(int argc, char **argv) {
  struct args a;
  ctr_err err = NULL;

  memset(&a, 0, sizeof(a));
  a.cli.prog = "ctr-ps";
  a.cli.usage = usage;
  a.cli.features = features;
  ctr_log_init(a.cli.prog, false);
  a.filter = run_filter_new();
  if (a.filter == NULL) {
    ctr_fail(&err, ENOMEM, "filter");
  } else if (parse(&a, argc, argv, &err) == 0 && !ctr_cli_done(&a.cli)) {
    list(&a, &err);
  }
  run_filter_free(a.filter);
  if (err == NULL && (fflush(stdout) != 0 || ferror(stdout)))
    ctr_fail(&err, errno, "write output");
  return err != NULL ? ctr_err_report(a.cli.prog, &err) : 0;
}
