/* This machine's platform in OCI terms (GOARCH names). */
#ifndef CTR_IMAGE_PLATFORM_H
#define CTR_IMAGE_PLATFORM_H

#include <jansson.h>
#include <stdbool.h>

struct image_platform {
  const char *os;      /* "linux" */
  const char *arch;    /* "amd64", "arm64", … */
  const char *variant; /* "v7" for 32-bit arm, else NULL */
};

void image_platform_host(struct image_platform *p);
/* Does an index entry's "platform" object match p? */
bool image_platform_matches(const json_t *platform, const struct image_platform *p);

#endif
