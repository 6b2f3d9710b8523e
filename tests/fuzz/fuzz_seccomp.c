/* libFuzzer target: a user's --security-opt seccomp=FILE is outside input.
 * The profile parser must refuse garbage with an error, and whatever it
 * accepts must compile (never load) or be refused in turn. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "run/seccomp.h"

static const char *const caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",  "CAP_SYS_ADMIN",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *oci = NULL;
  scmp_filter_ctx ctx = NULL;
  ctr_err err = NULL;
  /* The length's parity picks Docker's 14 capabilities or those plus
   * CAP_SYS_ADMIN, so both sides of includes/excludes get exercised. */
  size_t ncaps = (size & 1) ? 15 : 14;
  if (run_seccomp_from_profile((const char *)data, size, caps, ncaps, &oci,
                               &err) < 0) {
    if (err == NULL || err->msg == NULL)
      abort(); /* a failure must say why */
    ctr_err_free(&err);
    return 0;
  }
  if (run_seccomp_compile(oci, &ctx, &err) == 0)
    seccomp_release(ctx);
  else if (err == NULL || err->msg == NULL)
    abort();
  ctr_err_free(&err);
  json_decref(oci);
  return 0;
}
