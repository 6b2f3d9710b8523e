/* The container process's capabilities, from config.json's
 * process.capabilities (names like "CAP_CHOWN"). */
#ifndef CTR_RUN_CAPS_H
#define CTR_RUN_CAPS_H

#include <jansson.h>

#include "core/error.h"

/* Drop from the bounding set every capability not in caps.bounding. Needs
 * CAP_SETPCAP; do it before changing uid. */
int run_caps_bound(const json_t *caps, ctr_err *err);
/* Set effective, permitted, inheritable and ambient sets. */
int run_caps_apply(const json_t *caps, ctr_err *err);

#endif
