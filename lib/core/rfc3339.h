#ifndef CTR_CORE_RFC3339_H
#define CTR_CORE_RFC3339_H

#include <stddef.h>
#include <time.h>

/* Parse RFC 3339 ("2006-01-02T15:04:05[.frac](Z|±hh:mm)") to epoch secs. */
int ctr_parse_rfc3339(const char *s, time_t *out);
/* Format epoch secs as RFC 3339 UTC with nanoseconds "…Z". */
void ctr_format_rfc3339(time_t secs, long nsec, char *out, size_t len);
/* The current time, so formatted. */
void ctr_now_rfc3339(char *out, size_t len);

#endif
