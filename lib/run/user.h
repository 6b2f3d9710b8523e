/* -u USER[:GROUP] resolved the way docker does, in the image's own
 * /etc/passwd and /etc/group (read inside the container's root, so a
 * symlink in the image cannot point the lookup at the host's files). */
#ifndef CTR_RUN_USER_H
#define CTR_RUN_USER_H

#include "core/error.h"
#include "spec.h"

/* spec: "name", "uid", "name:group", "uid:gid", … or NULL/"" for root.
 * rootfd: the container's root directory. u->home points into storage
 * owned by u (free with run_user_free). */
int run_user_resolve(int rootfd, const char *spec, struct run_user *u,
                     ctr_err *err);
void run_user_free(struct run_user *u);

/* Parse one passwd or group file's text: pure, for tests and fuzzing.
 * Looks up by name (when name != NULL) or by id. Returns 1 found, 0 not. */
int run_passwd_lookup(const char *text, const char *name, long id, uid_t *uid,
                      gid_t *gid, char *home, size_t homelen);
int run_group_lookup(const char *text, const char *name, long id, gid_t *gid);
/* Supplementary groups of user `name` from group-file text. */
size_t run_group_members(const char *text, const char *name, gid_t *out,
                         size_t max);

#endif
