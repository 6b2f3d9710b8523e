/* ctr-ps --filter KEY=VALUE, with docker's keys and rules: id and name
 * (regular expressions, so a plain word matches a substring; a name is
 * also tried as "/NAME", so docker's "^/web$" works), label (KEY or
 * KEY=VALUE), status (created, running, restarting, exited; docker's
 * paused, removing and dead are valid and match nothing), exited=CODE,
 * ancestor=IMAGE (by the name the container was made from, or the image's
 * id or digest or a prefix of one), before= and since= (a container by
 * name, id or prefix: those made before or after it). Values of one key
 * are alternatives; different keys must all match; so must every label.
 * The last before= and since= count. */
#ifndef CTR_RUN_FILTER_H
#define CTR_RUN_FILTER_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/paths.h"

struct run_filter;

struct run_filter *run_filter_new(void);
void run_filter_free(struct run_filter *f);
/* Add one "KEY=VALUE"; usage error for a bad form, key or value. */
int run_filter_add(struct run_filter *f, const char *spec, ctr_err *err);
/* Stopped containers are listed without -a (status, before, since). */
bool run_filter_wants_all(const struct run_filter *f);
/* Look up what the filters name: before=/since= containers (an unknown
 * one is an error) and ancestor= images in the store (an unknown image
 * still matches by the name containers were made from). */
int run_filter_resolve(struct run_filter *f, const struct ctr_paths *p,
                       ctr_err *err);
/* Does a container's state (after run_state_refresh) pass every filter? */
bool run_filter_match(const struct run_filter *f, const json_t *state);

#endif
