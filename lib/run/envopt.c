#define _GNU_SOURCE
#include "envopt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/fs.h"

int run_envopt_add(json_t *env, const char *kv, ctr_err *err) {
  cleanup_free char *s = NULL;
  const char *v;
  if (kv[0] == '=' || kv[0] == '\0')
    return ctr_usage(err, "invalid environment variable '%s'", kv);
  if (strchr(kv, '=') != NULL)
    return json_array_append_new(env, json_string(kv)) == 0 ? 0 : ctr_fail(err, ENOMEM, "env");
  v = getenv(kv);
  if (v == NULL)
    return 0;
  if (asprintf(&s, "%s=%s", kv, v) < 0)
    return ctr_fail(err, ENOMEM, "env");
  json_array_append_new(env, json_string(s));
  return 0;
}

int run_envopt_file(json_t *env, const char *path, ctr_err *err) {
  cleanup_free char *buf = NULL;
  char *save = NULL;
  if (ctr_read_file(AT_FDCWD, path, 1 << 20, &buf, NULL, err) < 0)
    return ctr_wrap(err, "--env-file");
  for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    while (*l == ' ' || *l == '\t')
      l++;
    if (*l == '#' || *l == '\0')
      continue;
    if (run_envopt_add(env, l, err) < 0)
      return ctr_wrap(err, "--env-file %s", path);
  }
  return 0;
}

void run_env_set(json_t *env, const char *kv) {
  size_t klen = strcspn(kv, "="), i;
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
      json_array_set_new(env, i, json_string(kv));
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
}
