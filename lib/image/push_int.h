/* What push.c (the image: which manifests and blobs, the verb) and
 * push_upload.c (the registry's side: blobs, then manifests) share. */
#ifndef CTR_IMAGE_PUSH_INT_H
#define CTR_IMAGE_PUSH_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "push.h"
#include "registry.h"
#include "store.h"

struct pull_progress;

enum push_blob_state {
  BLOB_UNKNOWN, /* not asked yet */
  BLOB_THERE,   /* the repository has it */
  BLOB_MOUNTED, /* mounted from another repository */
  BLOB_SEND,    /* to be uploaded */
  BLOB_SENT,    /* uploaded */
};

/* A blob of the image: a config or a layer. */
struct push_blob {
  char digest[CTR_DIGEST_LEN + 1];
  off_t size;
  const char *kind;      /* "config" or "layer", for messages */
  enum push_blob_state state;
  const char *from;      /* a repository to mount it from; in p->sources */
  char *location;        /* the upload session, once started */
  int fd;                /* the store's file, while it is sent */
  int restarts;          /* upload sessions begun again */
  size_t line;           /* progress line */
  struct push *p;
};

/* A manifest or index, as the store holds it. */
struct push_manifest {
  char digest[CTR_DIGEST_LEN + 1];
  char *media_type;
  char *buf;
  size_t len;
};

struct push {
  const struct image_push_opts *o;
  struct image_store s;
  bool store_open;
  char *host, *repo;   /* the destination, as the distribution API names it */
  char *reference;     /* the tag, or the digest, the image goes under */
  char *scope;         /* "repository:<repo>:pull,push" */
  struct registry *reg;
  bool contacted; /* a request was answered: scheme and auth are known */
  struct push_blob *blobs;
  size_t nblobs;
  struct push_manifest *children; /* an index's manifests, pushed first */
  size_t nchildren;
  struct push_manifest top;       /* what the reference names */
  json_t *sources;                /* blob-sources.json */
  struct pull_progress *progress;
  struct push_sigs *sigs; /* push_trust.c's */
};

/* push_upload.c: every blob into the repository; then the manifests,
 * children first and the top one under p->reference last. */
int push_send_blobs(struct push *p, ctr_err *err);
int push_send_manifests(struct push *p, ctr_err *err);

/* push_trust.c: before anything is sent, the destination's staging
 * lookaside (registries.d) and, with --sign-by, its signature (kept only
 * if the push succeeds); after the manifests, the signatures of the
 * image's repository path and digest to the staging location and the
 * push's provenance event. */
int push_trust_prepare(struct push *p, const struct ctr_paths *paths,
                       const char *name, const char *dest, ctr_err *err);
int push_trust_commit(struct push *p, const struct ctr_paths *paths,
                      ctr_err *err);
void push_trust_free(struct push *p);

#endif
