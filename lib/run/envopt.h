/* Environment lists: JSON arrays of "KEY=VALUE" strings, filled from
 * -e/--env and --env-file as ctr-run and ctr-exec take them (docker's
 * rules). */
#ifndef CTR_RUN_ENVOPT_H
#define CTR_RUN_ENVOPT_H

#include <jansson.h>

#include "core/error.h"

/* Append kv to env: KEY=VALUE as given; KEY alone takes our value, or is
 * dropped when we have none. Usage error for "" or "=...". */
int run_envopt_add(json_t *env, const char *kv, ctr_err *err);

/* Append each line of the file at path as run_envopt_add does, skipping
 * blank lines and '#' comments (after leading blanks). */
int run_envopt_file(json_t *env, const char *path, ctr_err *err);

/* Replace KEY=... in env with kv ("KEY=VALUE"), or append it. */
void run_env_set(json_t *env, const char *kv);

#endif
