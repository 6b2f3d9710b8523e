/* libFuzzer target: everything a registry, a token server or an auth file
 * hands to a pull must be refused cleanly when it is garbage: challenges
 * (WWW-Authenticate), token answers, auth files and their keys,
 * Content-Range, error bodies, and the choice of a platform from an
 * index. Each input is tried as all of them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/auth.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "image/registry.h"

static void as_text(const char *s) {
  struct registry_challenge c;
  struct image_platform p;
  char buf[256], *k, *u;
  off_t a, b, t;
  ctr_err err = NULL;
  if (registry_challenge_parse(s, &c) == 0) {
    u = registry_token_url(c.realm, c.service, c.scope);
    free(u);
    registry_challenge_free(&c);
  }
  registry_content_range(s, &a, &b, &t);
  k = auth_normalize_key(s);
  free(k);
  if (image_platform_parse(s, &p, buf, sizeof(buf), &err) == 0)
    image_platform_format(&p, buf, sizeof(buf));
  ctr_err_free(&err);
}

static void as_json(const char *data, size_t size) {
  static const long statuses[] = {401, 403, 404, 429, 500, 302};
  static const struct image_platform plats[] = {
      {"linux", "amd64", NULL}, {"linux", "arm", "v7"}, {"linux", "arm64", NULL}};
  struct auth_creds creds;
  json_t *index = NULL;
  char *tok = NULL;
  long exp = 0;
  ctr_err err = NULL;
  if (registry_token_parse(data, size, &tok, &exp, &err) < 0)
    ctr_err_free(&err);
  free(tok);
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
    free(registry_error_message(statuses[i], data, size, i % 2 == 0));
  if (auth_parse(data, size, "auth.json", "127.0.0.1:5000", "a/b", &creds, &err) < 0)
    ctr_err_free(&err);
  auth_creds_free(&creds);
  if (auth_parse(data, size, "auth.json", "docker.io", NULL, &creds, &err) < 0)
    ctr_err_free(&err);
  auth_creds_free(&creds);
  if (image_index_parse(data, size, &index, &err) == 0) {
    for (size_t i = 0; i < sizeof(plats) / sizeof(plats[0]); i++) {
      const json_t *d = NULL;
      if (image_platform_select(index, &plats[i], &d, &err) < 0)
        ctr_err_free(&err);
    }
    json_decref(index);
  }
  ctr_err_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  as_text(s);
  as_json((const char *)data, size);
  free(s);
  return 0;
}
