/* Tools compose by exec (DESIGN §1): ctr-run runs ctr-net and
 * ctr-verify, ctr-image runs ctr-verify. The sibling is looked for beside
 * the running program first (a build tree, /usr/local/bin), then on PATH. */
#ifndef CTR_CORE_TOOL_H
#define CTR_CORE_TOOL_H

#include "core/error.h"
#include "core/paths.h"

/* The path of tool `name` beside /proc/self/exe if it is there and
 * executable, else `name` for PATH. Caller frees; NULL on ENOMEM. */
char *ctr_tool_path(const char *name);

/* Run `name --root R --rundir D args...` (args NULL-ended) with stdin
 * /dev/null, every signal at its default, no CNI_* in its environment.
 * Its stdout goes to *out (NULL: dropped). An exit status other than 0
 * is an error carrying the tool's last line of stderr (without its
 * "name: " prefix); *status (when non-NULL) gets the exit status, or
 * 128+signal, or -1 when it could not be run at all. */
int ctr_tool_run(const struct ctr_paths *p, const char *name,
                 const char *const *args, char **out, int *status,
                 ctr_err *err);

#endif
