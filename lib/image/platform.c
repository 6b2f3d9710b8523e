#include "platform.h"

#include <string.h>
#include <sys/utsname.h>

#include "core/json.h"

void image_platform_host(struct image_platform *p) {
  /* Compile-time, not uname: a 32-bit build on a 64-bit kernel runs
   * 32-bit images. */
  p->os = "linux";
  p->variant = NULL;
#if defined(__x86_64__)
  p->arch = "amd64";
#elif defined(__aarch64__)
  p->arch = "arm64";
#elif defined(__arm__)
  p->arch = "arm";
  p->variant = "v7";
#elif defined(__i386__)
  p->arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  p->arch = "ppc64le";
#elif defined(__s390x__)
  p->arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p->arch = "riscv64";
#elif defined(__mips64)
  p->arch = "mips64le";
#else
  p->arch = "unknown";
#endif
}

bool image_platform_matches(const json_t *platform, const struct image_platform *p) {
  const char *os = ctr_json_str(platform, "os");
  const char *arch = ctr_json_str(platform, "architecture");
  const char *variant = ctr_json_str(platform, "variant");
  if (os == NULL || arch == NULL)
    return false;
  if (strcmp(os, p->os) != 0 || strcmp(arch, p->arch) != 0)
    return false;
  if (p->variant != NULL && variant != NULL && strcmp(variant, p->variant) != 0)
    return false;
  return true;
}
