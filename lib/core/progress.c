#define _GNU_SOURCE
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Set once from the command line before any work starts. */
static bool progress_allowed = true;

struct ctr_progress {
  pthread_mutex_t lock;
  char label[48];
  uint64_t total, done;
  struct timespec last, start;
};

void ctr_progress_allow(bool allow) { progress_allowed = allow; }

struct ctr_progress *ctr_progress_start(const char *label, uint64_t total) {
  struct ctr_progress *p;
  if (!progress_allowed || !isatty(STDERR_FILENO))
    return NULL;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  pthread_mutex_init(&p->lock, NULL);
  snprintf(p->label, sizeof(p->label), "%s", label);
  p->total = total;
  clock_gettime(CLOCK_MONOTONIC, &p->start);
  return p;
}

static double since(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void draw(struct ctr_progress *p) {
  char done[32], total[32], bar[31];
  double secs = since(&p->start);
  ctr_human_size((double)p->done, done, sizeof(done));
  if (p->total > 0) {
    size_t fill = (size_t)(30.0 * (double)(p->done > p->total ? p->total : p->done) /
                           (double)p->total);
    memset(bar, '=', fill);
    memset(bar + fill, ' ', 30 - fill);
    if (fill < 30)
      bar[fill] = '>';
    bar[30] = '\0';
    ctr_human_size((double)p->total, total, sizeof(total));
    fprintf(stderr, "\r\033[K%s [%s] %s/%s", p->label, bar, done, total);
  } else {
    fprintf(stderr, "\r\033[K%s %s", p->label, done);
  }
  if (secs > 0.5) {
    char rate[32];
    ctr_human_size((double)p->done / secs, rate, sizeof(rate));
    fprintf(stderr, " %s/s", rate);
  }
  fflush(stderr);
}

void ctr_progress_add(struct ctr_progress *p, uint64_t bytes) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->lock);
  p->done += bytes;
  /* At most ten redraws a second: a terminal is slow. */
  if (since(&p->last) >= 0.1) {
    clock_gettime(CLOCK_MONOTONIC, &p->last);
    draw(p);
  }
  pthread_mutex_unlock(&p->lock);
}

void ctr_progress_done(struct ctr_progress *p) {
  if (p == NULL)
    return;
  draw(p);
  fputc('\n', stderr);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
