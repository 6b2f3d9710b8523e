/* What `ctr-verify verify` found: one line per requirement checked, and
 * the verdict. Policy (signatures) and provenance checks add to the same
 * report, so the user sees exactly which requirement passed or failed. */
#ifndef CTR_VERIFY_REPORT_H
#define CTR_VERIFY_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct verify_check {
  bool ok;
  char *requirement; /* "signedBy", "reject", "origin", ... */
  char *detail;      /* one line */
};

struct verify_report {
  char *reference; /* what was judged */
  char *digest;
  char *scope;     /* the policy scope that applied */
  struct verify_check *checks;
  size_t n;
};

/* Append a check; returns -1 on ENOMEM (err set). */
int verify_report_add(struct verify_report *r, bool ok, const char *req,
                      ctr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Accepted when there is at least one check and every check passed. */
bool verify_report_accepted(const struct verify_report *r);
/* The first failed check's detail, or NULL. */
const char *verify_report_reason(const struct verify_report *r);
json_t *verify_report_json(const struct verify_report *r);
void verify_report_free(struct verify_report *r);

#endif
