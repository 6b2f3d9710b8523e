/* libFuzzer target: containers-policy.json as anyone may write it (policy
 * import takes a user's file, verify reads whatever is in trust/). Every
 * input is parsed strictly; what parses is then asked which scope judges
 * a few references, and its signedIdentity rules are run against
 * signature identities taken from the input itself. Nothing may crash,
 * leak or read out of bounds; no gpg is involved. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "verify/policy_int.h"

static const char *const refs[] = {
    "busybox",
    "docker.io/library/busybox:1",
    "quay.io/a/"
    "b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "localhost:5000/x/y:z",
    "a.b.example.com/p",
};

static void judge(const struct policy *p, const char *text) {
  for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
    const struct pr_list *reqs;
    const char *scope;
    struct dref intended;
    ctr_err err = NULL;
    if (policy_requirements_for(p, refs[i], &reqs, &scope, &err) < 0 ||
        dref_parse(refs[i], &intended, &err) < 0) {
      ctr_err_free(&err);
      continue;
    }
    for (size_t r = 0; r < reqs->n; r++)
      if (reqs->v[r].type == PR_SIGNED_BY) {
        prm_matches(&reqs->v[r].identity, &intended, text);
        prm_matches(&reqs->v[r].identity, &intended, refs[(i + 1) % 5]);
      }
    dref_free(&intended);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct policy *p = NULL;
  ctr_err err = NULL;
  char *text = malloc(size + 1);
  char *canon = NULL;

  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  if (policy_parse((const char *)data, size, &p, &err) == 0)
    judge(p, text);
  ctr_err_free(&err);
  policy_free(p);
  /* The input as a scope, a remap prefix and a reference. */
  policy_scope_valid(text, &canon);
  free(canon);
  dref_valid_remap_prefix(text);
  {
    struct dref d;
    if (dref_parse(text, &d, &err) == 0) {
      char **v = dref_scopes(&d);
      char *s = dref_string(&d), *f = dref_familiar(&d);
      dref_scopes_free(v);
      free(s);
      free(f);
      dref_free(&d);
    }
    ctr_err_free(&err);
  }
  free(text);
  return 0;
}
