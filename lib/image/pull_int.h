/* What pull.c (manifests, the plan, the commit), pull_fetch.c (layers:
 * download, hash and unpack in one pass) and pull_progress.c share. */
#ifndef CTR_IMAGE_PULL_INT_H
#define CTR_IMAGE_PULL_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "import.h"
#include "platform.h"
#include "pull.h"
#include "registry.h"
#include "store.h"

struct pull_progress;

struct pull_layer;

/* A layer blob the images need. */
struct pull_blob {
  char digest[CTR_DIGEST_LEN + 1];
  off_t size;
  bool in_store;                /* already a blob of the store */
  struct image_blob_writer *w;  /* the download, staged (then adopted) */
  struct pull_layer *stream;    /* the layer its download unpacks, or NULL */
  size_t line;                  /* progress line */
  /* the download */
  int partial_fd;   /* our .partial/<hex>, locked; -1 when none */
  int resume_fd;    /* an earlier download's, locked; -1 when none */
  off_t resume;     /* its length: where the download goes on */
  off_t got;        /* bytes in w */
  bool partial_busy; /* another pull holds .partial/<hex>: leave it be */
  bool started;     /* w exists and the unpacker runs */
  bool unpacker_gone; /* it stopped reading: the rest goes to w only */
  int sock;         /* our end of the unpacker's socket; -1 when none */
  ctr_err err;      /* a failure found after the transfer (in done) */
  struct pull *p;
};

/* An unpacked layer to make: layers/<hex>/ from its blob, checked against
 * diff_id, in a temp directory renamed at commit. */
struct pull_layer {
  char hex[CTR_DIGEST_HEX_LEN + 1]; /* chain id */
  char diff_id[CTR_DIGEST_LEN + 1];
  struct pull_blob *blob;
  char *tmp;      /* the temp directory under layers/, once made */
  int src;        /* what the unpacker reads: a socket or a blob */
  bool thread_started;
  pthread_t thread;
  int ret;
  ctr_err err;
  struct pull *p;
};

struct pull {
  const struct image_pull_opts *o;
  const char *ref; /* as the user wrote it */
  const struct image_platform *want; /* --platform, or this machine */
  char *host, *repo, *scope;
  struct registry *reg;
  struct image_store s;
  bool store_open;
  int partial_dirfd; /* images/.partial */
  struct import_plan plan;
  struct pull_blob **blobs;
  size_t nblobs;
  struct pull_layer **layers;
  size_t nlayers;
  json_t *known; /* "blob diff_id" pairs the store's images vouch for */
  struct pull_progress *progress;
  struct pull_sigs *sigs; /* pull_trust.c's */
};

/* pull_fetch.c: fetch what no store has, unpack every layer needed. On
 * failure, temp directories are removed by pull_layers_discard. */
int pull_fetch_layers(struct pull *p, ctr_err *err);
void pull_layers_discard(struct pull *p);
/* After a commit: downloads are blobs now, their partials are done. */
void pull_partials_done(struct pull *p);
void pull_blob_free(struct pull_blob *b);

/* pull_trust.c: the top manifest's signatures from its lookaside into a
 * temp dir, and the policy's verdict on them, before anything else is
 * fetched; after the commit, the signatures into $CTR_ROOT/trust/sigstore
 * and the pull's provenance event. */
int pull_trust_check(struct pull *p, const struct ctr_paths *paths,
                     const char *top_digest, ctr_err *err);
void pull_trust_commit(struct pull *p, const struct ctr_paths *paths,
                       const char *name, const char *digest);
/* Before the commit: does the store have it all already (name pointing
 * at desc's digest, or, without a name, that digest)? Then the pull is no
 * event of the image's life, and records none. */
void pull_trust_note_store(struct pull *p, const char *name, const json_t *desc);
void pull_trust_free(struct pull *p);

/* pull_progress.c: one line per layer blob on a terminal, as docker
 * draws it; NULL and silent elsewhere or when quiet. */
struct pull_progress *pull_progress_new(bool quiet);
size_t pull_progress_add(struct pull_progress *pp, const char *digest,
                         uint64_t total, const char *status);
void pull_progress_set(struct pull_progress *pp, size_t line, uint64_t done,
                       const char *status);
void pull_progress_free(struct pull_progress *pp);

#endif
