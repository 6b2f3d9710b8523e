#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "fs.h"

int ctr_json_parse_object(const char *buf, size_t len, const char *what,
                          json_t **out, ctr_err *err) {
  json_error_t je;
  json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL)
    return ctr_fail(err, 0, "%s: invalid JSON at line %d: %s", what, je.line,
                    je.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return ctr_fail(err, 0, "%s: not a JSON object", what);
  }
  *out = j;
  return 0;
}

int ctr_json_load_object(int dirfd, const char *path, size_t max,
                         json_t **out, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (ctr_read_file(dirfd, path, max, &buf, &len, err) < 0)
    return -1;
  return ctr_json_parse_object(buf, len, path, out, err);
}

char *ctr_json_compact(const json_t *j) {
  return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int ctr_json_save(int dirfd, const char *name, const json_t *j, bool pretty,
                  bool durable, ctr_err *err) {
  cleanup_free char *s = json_dumps(
      j, JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "serialise %s", name);
  return ctr_atomic_write(dirfd, name, s, strlen(s), 0644, durable, err);
}

const char *ctr_json_str(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int ctr_json_print(const json_t *j, ctr_err *err) {
  if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
      fputc('\n', stdout) == EOF)
    return ctr_fail(err, errno, "write JSON output");
  return 0;
}
