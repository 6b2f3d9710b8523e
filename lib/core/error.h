/* One error type for the whole toolkit: fallible functions take a
 * `ctr_err *err`, return a negative value on failure and leave a message
 * there; callers add context on the way up and only main prints it. */
#ifndef CTR_CORE_ERROR_H
#define CTR_CORE_ERROR_H

#include <stdarg.h>

struct ctr_err_s {
  int errnum; /* errno behind the failure, 0 if none */
  int exit;   /* exit status main should use: 1 failure, 2 usage */
  char *msg;
};
typedef struct ctr_err_s *ctr_err;

/* Set *err to a new error; appends ": strerror(errnum)" when errnum != 0.
 * Always returns -1 so callers can `return ctr_fail(...)`. Any previous
 * error in *err is freed first. */
int ctr_fail(ctr_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, but marks the error as bad usage (exit status 2). */
int ctr_usage(ctr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix context: "<fmt>: <previous message>". Returns -1. */
int ctr_wrap(ctr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "prog: message" on stderr, free the error, return its exit status. */
int ctr_err_report(const char *prog, ctr_err *err);
void ctr_err_free(ctr_err *err);

#endif
