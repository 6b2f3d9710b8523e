/* JSON through jansson, with errors in our form. */
#ifndef CTR_CORE_JSON_H
#define CTR_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

/* Parse a buffer that must hold one JSON object; `what` names it in errors. */
int ctr_json_parse_object(const char *buf, size_t len, const char *what,
                          json_t **out, ctr_err *err);
/* Read dirfd/path (at most max bytes) and parse it as one JSON object. */
int ctr_json_load_object(int dirfd, const char *path, size_t max,
                         json_t **out, ctr_err *err);
/* Compact serialisation with keys in insertion order; caller frees. */
char *ctr_json_compact(const json_t *j);
/* Write j atomically to dirfd/name (pretty when pretty is set). */
int ctr_json_save(int dirfd, const char *name, const json_t *j, bool pretty,
                  bool durable, ctr_err *err);
/* A member that must be a string when present; NULL when absent or not. */
const char *ctr_json_str(const json_t *obj, const char *key);
/* Print j to stdout, indented, with a final newline. */
int ctr_json_print(const json_t *j, ctr_err *err);

#endif
