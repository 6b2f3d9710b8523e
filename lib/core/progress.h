/* A live progress line on stderr for long work (imports, unpacks), drawn
 * only when stderr is a terminal and the command line did not ask for
 * quiet. Safe to update from several threads. */
#ifndef CTR_CORE_PROGRESS_H
#define CTR_CORE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct ctr_progress;

/* Set once from the command line (-q turns progress off). */
void ctr_progress_allow(bool allow);
/* NULL (and every call below a no-op) when progress is not shown. total
 * is in bytes; 0 when unknown. */
struct ctr_progress *ctr_progress_start(const char *label, uint64_t total);
void ctr_progress_add(struct ctr_progress *p, uint64_t bytes);
/* Draw the final state, end the line, free. */
void ctr_progress_done(struct ctr_progress *p);

#endif
