/* Diagnostics beside the one error line: warnings always, debug output
 * when --debug or CTR_DEBUG=1 asked for it. */
#ifndef CTR_CORE_LOG_H
#define CTR_CORE_LOG_H

#include <stdbool.h>

void ctr_log_init(const char *prog, bool debug);
void ctr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool ctr_debug_enabled(void);

#endif
