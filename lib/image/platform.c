#define _GNU_SOURCE
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "manifest.h"

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

/* Other names users type for the same architectures (uname, Debian). */
static const struct {
  const char *alias, *arch, *variant;
} arch_aliases[] = {
    {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL},
    {"aarch64", "arm64", NULL}, {"armhf", "arm", "v7"},
    {"armel", "arm", "v6"},     {"i386", "386", NULL},
    {"i686", "386", NULL},
};

static bool platform_word(const char *s) {
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-' || *s == '.'))
      return false;
  return true;
}

int image_platform_parse(const char *s, struct image_platform *p, char *buf,
                         size_t len, ctr_err *err) {
  char *arch, *variant;
  memset(p, 0, sizeof(*p));
  if (strlen(s) + 1 > len)
    return ctr_usage(err, "invalid platform '%s'", s);
  memcpy(buf, s, strlen(s) + 1);
  arch = strchr(buf, '/');
  if (arch == NULL)
    return ctr_usage(err, "invalid platform '%s' (want os/arch[/variant], "
                          "e.g. linux/arm64)", s);
  *arch++ = '\0';
  variant = strchr(arch, '/');
  if (variant != NULL)
    *variant++ = '\0';
  if (!platform_word(buf) || !platform_word(arch) ||
      (variant != NULL && !platform_word(variant)))
    return ctr_usage(err, "invalid platform '%s' (want os/arch[/variant], "
                          "e.g. linux/arm64)", s);
  p->os = buf;
  p->arch = arch;
  p->variant = variant;
  for (size_t i = 0; i < sizeof(arch_aliases) / sizeof(arch_aliases[0]); i++)
    if (strcmp(arch, arch_aliases[i].alias) == 0) {
      p->arch = arch_aliases[i].arch;
      if (p->variant == NULL)
        p->variant = arch_aliases[i].variant;
    }
  return 0;
}

void image_platform_format(const struct image_platform *p, char *out,
                           size_t len) {
  snprintf(out, len, "%s/%s%s%s", p->os ? p->os : "?", p->arch ? p->arch : "?",
           p->variant ? "/" : "", p->variant ? p->variant : "");
}

void image_platform_format_json(const json_t *platform, char *out, size_t len) {
  struct image_platform p = {ctr_json_str(platform, "os"),
                             ctr_json_str(platform, "architecture"),
                             ctr_json_str(platform, "variant")};
  image_platform_format(&p, out, len);
}

int image_platform_select(const json_t *index, const struct image_platform *p,
                          const json_t **desc, ctr_err *err) {
  const json_t *manifests = json_object_get(index, "manifests"), *d;
  const json_t *best = NULL;
  int best_score = 0;
  char want[128];
  char *have = NULL;
  size_t have_len = 0, i;
  FILE *list;

  json_array_foreach(manifests, i, d) {
    const json_t *plat = json_object_get(d, "platform");
    int score;
    if (!image_media_is_manifest(ctr_json_str(d, "mediaType")) ||
        !image_platform_matches(plat, p))
      continue;
    score = p->variant != NULL && ctr_json_str(plat, "variant") != NULL ? 2 : 1;
    if (score > best_score) {
      best = d;
      best_score = score;
    }
  }
  if (best != NULL) {
    *desc = best;
    return 0;
  }
  image_platform_format(p, want, sizeof(want));
  list = open_memstream(&have, &have_len);
  if (list == NULL)
    return ctr_fail(err, 0, "no image for %s in the index", want);
  json_array_foreach(manifests, i, d) {
    char one[128];
    const json_t *plat = json_object_get(d, "platform");
    if (!json_is_object(plat))
      continue;
    image_platform_format_json(plat, one, sizeof(one));
    /* Attestations (buildkit's "unknown/unknown") are not images. */
    if (strcmp(one, "unknown/unknown") == 0)
      continue;
    fprintf(list, "%s%s", ftell(list) > 0 ? ", " : "", one);
  }
  fclose(list);
  ctr_fail(err, 0, "no image for %s (the index has %s)", want,
           have != NULL && have[0] ? have : "no platforms");
  free(have);
  return -1;
}
