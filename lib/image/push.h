/* ctr-image push: a stored image to a registry.
 *
 * The image is what a name of the store points at: one manifest, or (an
 * image pulled with --all-platforms) an index and every manifest in it.
 * Its blobs go first, at most `parallel` at once: a blob the destination
 * repository has already (HEAD) is not sent; one the store knows the
 * registry has in another repository is mounted from there (POST
 * ?mount=&from=); any other is uploaded, streamed from its file (POST, then
 * one PUT with the whole body). Then the manifests, with the exact bytes
 * the store holds, so their digests do not change: each manifest of an
 * index by digest, and last the image itself under the reference's tag.
 * Nothing is tagged before every blob is there, so a failed push leaves no
 * new tag; it leaves the store as it was too.
 *
 * Where blobs are known to be: $CTR_ROOT/blob-sources.json (see
 * ctr-layout(5)), filled by pull and by successful pushes, read to choose
 * what to mount from. It is a hint: losing it costs only uploads. */
#ifndef CTR_IMAGE_PUSH_H
#define CTR_IMAGE_PUSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/paths.h"
#include "registry.h"
#include "store.h"

struct image_push_opts {
  bool quiet;               /* no progress display */
  const char *authfile;     /* --authfile, else the usual auth files */
  struct registry_opts reg; /* credentials, when NULL, from the auth files */
  size_t parallel;          /* blobs sent at once; 0: 6 */
  const char *sign_by;      /* --sign-by FPR: sign the destination first */
  const char *registries_d; /* --registries.d DIR (lookaside.h); NULL: default */
};

struct image_pushed {
  char digest[CTR_DIGEST_LEN + 1]; /* of the manifest (or index) pushed */
};

/* Push the stored image `name` to `dest` ([registry/]repo[:tag|@digest]),
 * or, with dest NULL, to name itself (which must then be a name of the
 * store). The destination must name its registry: a familiar name that
 * Docker would send to docker.io is refused as bad usage (write
 * docker.io/... to mean it). */
int image_push(const struct ctr_paths *paths, const char *name, const char *dest,
               const struct image_push_opts *o, struct image_pushed *out,
               ctr_err *err);

/* ---- blob-sources.json (push_sources.c) ------------------------------- */

/* Record that the registry `host` has these blobs in repository `repo`
 * (its path there). Best effort, under $CTR_RUNDIR/locks/blob-sources.lock;
 * entries of blobs the store no longer has are dropped on the way. */
void image_sources_record(struct image_store *s, const char *host,
                          const char *repo, const char *const *digests,
                          size_t n);
/* The file's object, or an empty one when it is missing or unreadable.
 * Caller decrefs. */
json_t *image_sources_load(struct image_store *s);
/* A repository of `host`, other than not_repo, known to have digest (the
 * most recently seen first); NULL when none. Points into sources. */
const char *image_sources_pick(const json_t *sources, const char *digest,
                               const char *host, const char *not_repo);

#endif
