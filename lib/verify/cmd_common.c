/* What the verbs of ctr-verify share: option parsing with the shared
 * options mixed in, and the trust directories. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/cmd.h"
#include "verify/cmd_int.h"

char *verify_trust_dir(const struct ctr_paths *paths) {
  char *s;
  if (asprintf(&s, "%s/trust", paths->root) < 0)
    return NULL;
  return s;
}

char *verify_keyring_cache(const struct ctr_paths *paths) {
  char *s;
  if (asprintf(&s, "%s/trust/keyrings", paths->rundir) < 0)
    return NULL;
  return s;
}
