/* libFuzzer target: every parser of image JSON from outside (manifests,
 * configs, indexes, references) must reject garbage cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/manifest.h"
#include "image/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *m = NULL, *c = NULL, *i = NULL;
  ctr_err err = NULL;
  char *s;
  if (image_manifest_parse((const char *)data, size, &m, &err) < 0)
    ctr_err_free(&err);
  if (image_config_parse((const char *)data, size, m, &c, &err) < 0)
    ctr_err_free(&err);
  if (image_index_parse((const char *)data, size, &i, &err) < 0)
    ctr_err_free(&err);
  json_decref(m);
  json_decref(c);
  json_decref(i);
  s = malloc(size + 1);
  if (s != NULL) {
    struct image_ref r;
    memcpy(s, data, size);
    s[size] = '\0';
    if (image_ref_parse(s, &r, &err) == 0) {
      free(image_ref_name(&r));
      free(image_ref_full_repo(&r));
      image_ref_free(&r);
    }
    ctr_err_free(&err);
    free(s);
  }
  return 0;
}
