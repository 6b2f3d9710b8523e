/* ctr-image pull: an image from a registry into the store.
 *
 * The reference's manifest is fetched first (an index or manifest list
 * picks one platform, or with all_platforms keeps every one); then the
 * store is opened, and configs and missing layers are fetched, at most
 * `parallel` at once. Each layer is hashed into a staged blob and unpacked
 * into a hidden directory in one pass over its bytes, as they arrive.
 * Blobs and layers the store already has are not fetched again. Nothing
 * becomes visible before every blob is verified against its digest and
 * size and every layer against its diff_id; then blobs, layers and the
 * name appear together, under the index lock. A failed pull leaves the
 * store as it was, but for what a later pull may resume from:
 * $CTR_ROOT/images/.partial/<hex>, the bytes of an unfinished blob
 * download (see ctr-layout(5)). */
#ifndef CTR_IMAGE_PULL_H
#define CTR_IMAGE_PULL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/paths.h"
#include "registry.h"

struct image_pull_opts {
  const char *platform; /* --platform os/arch[/variant]; NULL: this machine */
  bool all_platforms;   /* keep the whole index */
  bool quiet;           /* no progress display */
  const char *authfile; /* --authfile, else the usual auth files */
  struct registry_opts reg; /* credentials, when NULL, from the auth files */
  size_t parallel;      /* layers fetched at once; 0: 6 */
  const char *registries_d; /* --registries.d: where lookaside locations
                               are configured (lookaside.h); NULL: default */
};

struct image_pulled {
  char *name;                     /* the store's name; NULL if by digest */
  char digest[CTR_DIGEST_LEN + 1]; /* what the name points at */
  char id[CTR_DIGEST_LEN + 1];     /* config digest of the image for this
                                      platform; "" when there is none */
};

int image_pull(const struct ctr_paths *paths, const char *ref,
               const struct image_pull_opts *o, struct image_pulled *out,
               ctr_err *err);
void image_pulled_free(struct image_pulled *p);

#endif
