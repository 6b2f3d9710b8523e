/* This machine's platform in OCI terms (GOARCH names). */
#ifndef CTR_IMAGE_PLATFORM_H
#define CTR_IMAGE_PLATFORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct image_platform {
  const char *os;      /* "linux" */
  const char *arch;    /* "amd64", "arm64", … */
  const char *variant; /* "v7" for 32-bit arm, else NULL */
};

void image_platform_host(struct image_platform *p);
/* Does an index entry's "platform" object match p? */
bool image_platform_matches(const json_t *platform, const struct image_platform *p);

/* Parse "os/arch[/variant]", as --platform takes it; p's strings point
 * into buf (strlen(s) + 1 bytes or more). Common other names are
 * accepted: x86_64 is amd64, aarch64 arm64, armhf arm/v7, i386 386. */
int image_platform_parse(const char *s, struct image_platform *p, char *buf,
                         size_t len, ctr_err *err);
/* "linux/arm64", "linux/arm/v7": p, or an index entry's "platform". */
void image_platform_format(const struct image_platform *p, char *out,
                           size_t len);
void image_platform_format_json(const json_t *platform, char *out, size_t len);
/* The manifest of an index (OCI index or Docker manifest list) for p: an
 * entry naming p's variant wins over one that names none. Without a
 * match, the error names every platform the index has. *desc is borrowed
 * from index. */
int image_platform_select(const json_t *index, const struct image_platform *p,
                          const json_t **desc, ctr_err *err);

#endif
