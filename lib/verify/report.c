/* The verdict of `ctr-verify verify`, built up by the policy and the
 * provenance checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/report.h"

int verify_report_add(struct verify_report *r, bool ok, const char *req,
                      ctr_err *err, const char *fmt, ...) {
  struct verify_check *grown, *c;
  va_list ap;
  int n;

  grown = realloc(r->checks, (r->n + 1) * sizeof(*r->checks));
  if (grown == NULL)
    return ctr_fail(err, ENOMEM, "verify");
  r->checks = grown;
  c = &r->checks[r->n];
  c->ok = ok;
  c->requirement = strdup(req);
  va_start(ap, fmt);
  n = vasprintf(&c->detail, fmt, ap);
  va_end(ap);
  if (c->requirement == NULL || n < 0) {
    free(c->requirement);
    if (n >= 0)
      free(c->detail);
    return ctr_fail(err, ENOMEM, "verify");
  }
  r->n++;
  return 0;
}

bool verify_report_accepted(const struct verify_report *r) {
  if (r->n == 0)
    return false;
  for (size_t i = 0; i < r->n; i++)
    if (!r->checks[i].ok)
      return false;
  return true;
}

const char *verify_report_reason(const struct verify_report *r) {
  for (size_t i = 0; i < r->n; i++)
    if (!r->checks[i].ok)
      return r->checks[i].detail;
  return NULL;
}

json_t *verify_report_json(const struct verify_report *r) {
  json_t *checks = json_array(), *out;

  for (size_t i = 0; i < r->n; i++)
    json_array_append_new(checks,
                          json_pack("{s:s, s:b, s:s}", "requirement",
                                    r->checks[i].requirement, "ok",
                                    r->checks[i].ok, "detail",
                                    r->checks[i].detail));
  out = json_pack("{s:s?, s:s?, s:s?, s:b, s:o}", "reference", r->reference,
                  "digest", r->digest, "scope", r->scope, "accepted",
                  verify_report_accepted(r), "checks", checks);
  return out;
}

void verify_report_free(struct verify_report *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->checks[i].requirement);
    free(r->checks[i].detail);
  }
  free(r->checks);
  free(r->reference);
  free(r->digest);
  free(r->scope);
  memset(r, 0, sizeof(*r));
}
