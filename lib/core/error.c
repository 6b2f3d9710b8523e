#define _GNU_SOURCE
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return NULL;
  return s;
}

static int set(ctr_err *err, int errnum, int exit, char *msg) {
  ctr_err e;
  if (err == NULL) {
    free(msg);
    return -1;
  }
  ctr_err_free(err);
  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    free(msg);
    return -1;
  }
  e->errnum = errnum;
  e->exit = exit;
  e->msg = msg;
  *err = e;
  return -1;
}

int ctr_fail(ctr_err *err, int errnum, const char *fmt, ...) {
  va_list ap;
  char *msg, *full = NULL;
  va_start(ap, fmt);
  msg = vformat(fmt, ap);
  va_end(ap);
  if (msg != NULL && errnum != 0) {
    if (asprintf(&full, "%s: %s", msg, strerror(errnum)) < 0)
      full = NULL;
    free(msg);
    msg = full;
  }
  return set(err, errnum, 1, msg);
}

int ctr_usage(ctr_err *err, const char *fmt, ...) {
  va_list ap;
  char *msg;
  va_start(ap, fmt);
  msg = vformat(fmt, ap);
  va_end(ap);
  return set(err, 0, 2, msg);
}

int ctr_wrap(ctr_err *err, const char *fmt, ...) {
  va_list ap;
  char *ctx, *full = NULL;
  if (err == NULL || *err == NULL)
    return -1;
  va_start(ap, fmt);
  ctx = vformat(fmt, ap);
  va_end(ap);
  if (ctx == NULL)
    return -1;
  if (asprintf(&full, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "error") >= 0) {
    free((*err)->msg);
    (*err)->msg = full;
  }
  free(ctx);
  return -1;
}

int ctr_err_report(const char *prog, ctr_err *err) {
  int status = 1;
  if (err == NULL || *err == NULL)
    return 0;
  status = (*err)->exit;
  fprintf(stderr, "%s: %s\n", prog, (*err)->msg ? (*err)->msg : "out of memory");
  ctr_err_free(err);
  return status;
}

void ctr_err_free(ctr_err *err) {
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}
