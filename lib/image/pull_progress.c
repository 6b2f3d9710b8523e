/* A line per layer while pulling, redrawn in place as docker does:
 * "3f4c12ab09e1: Downloading [====>      ] 1.2MB/3.4MB". Only on a
 * terminal; drawn from the thread that runs the transfers. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "pull_int.h"

struct progress_line {
  char id[13];
  char status[24];
  uint64_t done, total;
};

struct pull_progress {
  struct progress_line *lines;
  size_t n, drawn;
  struct timespec last;
};

struct pull_progress *pull_progress_new(bool quiet) {
  if (quiet || !isatty(STDERR_FILENO))
    return NULL;
  return calloc(1, sizeof(struct pull_progress));
}

static void draw_line(const struct progress_line *l) {
  char done[32], total[32], bar[31];
  fprintf(stderr, "\r\033[K%s: %-14s", l->id, l->status);
  if (l->total > 0 && l->done > 0 && l->done < l->total) {
    size_t fill = (size_t)(30.0 * (double)l->done / (double)l->total);
    memset(bar, '=', fill);
    memset(bar + fill, ' ', 30 - fill);
    if (fill < 30)
      bar[fill] = '>';
    bar[30] = '\0';
    ctr_human_size((double)l->done, done, sizeof(done));
    ctr_human_size((double)l->total, total, sizeof(total));
    fprintf(stderr, " [%s] %s/%s", bar, done, total);
  }
  fputc('\n', stderr);
}

static void redraw(struct pull_progress *pp) {
  if (pp->drawn > 0)
    fprintf(stderr, "\033[%zuA", pp->drawn);
  for (size_t i = 0; i < pp->n; i++)
    draw_line(&pp->lines[i]);
  pp->drawn = pp->n;
  fflush(stderr);
  clock_gettime(CLOCK_MONOTONIC, &pp->last);
}

size_t pull_progress_add(struct pull_progress *pp, const char *digest,
                         uint64_t total, const char *status) {
  struct progress_line *n;
  if (pp == NULL)
    return 0;
  n = realloc(pp->lines, (pp->n + 1) * sizeof(*n));
  if (n == NULL)
    return 0;
  pp->lines = n;
  n = &pp->lines[pp->n];
  memset(n, 0, sizeof(*n));
  snprintf(n->id, sizeof(n->id), "%.12s",
           strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest);
  snprintf(n->status, sizeof(n->status), "%s", status);
  n->total = total;
  pp->n++;
  redraw(pp);
  return pp->n - 1;
}

void pull_progress_set(struct pull_progress *pp, size_t line, uint64_t done,
                       const char *status) {
  struct timespec now;
  bool changed;
  if (pp == NULL || line >= pp->n)
    return;
  changed = status != NULL && strcmp(pp->lines[line].status, status) != 0;
  pp->lines[line].done = done;
  if (changed)
    snprintf(pp->lines[line].status, sizeof(pp->lines[line].status), "%s", status);
  clock_gettime(CLOCK_MONOTONIC, &now);
  /* Ten redraws a second at most, but every change of state at once. */
  if (changed || (double)(now.tv_sec - pp->last.tv_sec) +
                         (double)(now.tv_nsec - pp->last.tv_nsec) / 1e9 >= 0.1)
    redraw(pp);
}

void pull_progress_free(struct pull_progress *pp) {
  if (pp == NULL)
    return;
  if (pp->n > 0)
    redraw(pp);
  free(pp->lines);
  free(pp);
}
