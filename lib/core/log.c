#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once from the command line before any work starts; read-only after. */
static const char *log_prog = "ctr";
static bool log_debug;

void ctr_log_init(const char *prog, bool debug) {
  const char *env = getenv("CTR_DEBUG");
  log_prog = prog;
  log_debug = debug || (env != NULL && strcmp(env, "1") == 0);
}

bool ctr_debug_enabled(void) { return log_debug; }

static void vlog(const char *level, const char *fmt, va_list ap) {
  fprintf(stderr, "%s: %s", log_prog, level);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void ctr_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog("warning: ", fmt, ap);
  va_end(ap);
}

void ctr_debug(const char *fmt, ...) {
  va_list ap;
  if (!log_debug)
    return;
  va_start(ap, fmt);
  vlog("debug: ", fmt, ap);
  va_end(ap);
}
