/* libFuzzer target: a registries.d file is outside input (any package or
 * admin may drop one in). Parsing must refuse garbage cleanly, and what
 * parses must answer location queries and build signature URLs without
 * fault. The input is parsed twice into one config, as two files with the
 * same scopes are (which must be refused when the first defined any). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/lookaside.h"

static const char *const identities[] = {
    "docker.io/library/busybox:latest",
    "registry.example.com/team/app@sha256:5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e",
    "localhost:5000/a/b/c:1",
    "a.b.example.org/x:1",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct lookaside_config c = {0};
  ctr_err err = NULL;
  if (lookaside_config_parse(&c, "fuzz.yaml", (const char *)data, size, &err) == 0) {
    for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
      for (int w = 0; w < 2; w++) {
        const char *base = lookaside_base(&c, identities[i], w);
        char *url, *path;
        if (base == NULL)
          continue;
        url = lookaside_sig_url(base, "a/b", "sha256:5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e", 1, &err);
        ctr_err_free(&err);
        path = url ? lookaside_file_path(url, &err) : NULL;
        ctr_err_free(&err);
        free(path);
        free(url);
      }
    }
    if (lookaside_config_parse(&c, "again.yaml", (const char *)data, size, &err) == 0 &&
        (c.n > 0 || c.def != NULL))
      abort(); /* a scope defined twice went unnoticed */
  }
  ctr_err_free(&err);
  lookaside_config_free(&c);
  return 0;
}
