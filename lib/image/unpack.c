/* An image's layers unpacked under $CTR_ROOT/layers/<chain-id hex>/, the
 * overlay lowerdirs containers run on. A layer directory appears only
 * complete: it is extracted into a temp directory, synced, and renamed. */
#define _GNU_SOURCE
#include "unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/progress.h"
#include "manifest.h"

/* One layer to extract, and how that went. */
struct unpack_job {
  const char *blob;    /* layer digest in the manifest */
  const char *diff_id; /* from the config */
  const char *hex;     /* chain id hex: the directory's name */
  json_int_t size;     /* compressed size, for progress */
  int ret;
  ctr_err err;
};

struct unpack_pool {
  struct image_store *s;
  struct unpack_job *jobs;
  size_t njobs, next;
  bool stop; /* a job failed: take no more */
  pthread_mutex_t lock;
  struct ctr_progress *progress; /* NULL unless shown */
};

static void discard_tmp(int layers_fd, const char *tmp) {
  ctr_err ignored = NULL;
  ctr_rm_rf(layers_fd, tmp, &ignored);
  ctr_err_free(&ignored);
}

/* Extract into a temp dir, sync, rename into place. Losing the rename to a
 * concurrent unpack of the same layer is success. */
static int unpack_layer(struct image_store *s, const struct unpack_job *j,
                        ctr_err *err) {
  cleanup_free char *prefix = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int dfd = -1;
  cleanup_close int bfd = -1;
  struct stat st;

  if (asprintf(&prefix, ".tmp-%s", j->hex) < 0)
    return ctr_fail(err, ENOMEM, "layer %s", j->blob);
  if (ctr_mkdtemp_at(s->layers_fd, prefix, &tmp, err) < 0)
    return ctr_wrap(err, "layer %s", j->blob);
  dfd = ctr_open_dir(s->layers_fd, tmp, err);
  if (dfd < 0)
    goto fail;
  if (fchmod(dfd, 0755) < 0) {
    ctr_fail(err, errno, "chmod %s", tmp);
    goto fail;
  }
  bfd = image_blob_open(s, j->blob, err);
  if (bfd < 0 || image_layer_extract(bfd, dfd, j->diff_id, err) < 0)
    goto fail;
  /* The rename publishes the layer: its content must be on disk first. */
  if (syncfs(dfd) < 0) {
    ctr_fail(err, errno, "sync %s", tmp);
    goto fail;
  }
  if (renameat2(s->layers_fd, tmp, s->layers_fd, j->hex, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EEXIST) {
    ctr_fail(err, errno, "rename %s to %s", tmp, j->hex);
    goto fail;
  }
  discard_tmp(s->layers_fd, tmp);
  if (fstatat(s->layers_fd, j->hex, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !S_ISDIR(st.st_mode))
    return ctr_fail(err, 0, "layer %s: layers/%s is not a directory", j->blob,
                    j->hex);
  return 0;
fail:
  discard_tmp(s->layers_fd, tmp);
  return ctr_wrap(err, "layer %s", j->blob);
}

static void *unpack_worker(void *arg) {
  struct unpack_pool *p = arg;
  for (;;) {
    struct unpack_job *j = NULL;
    pthread_mutex_lock(&p->lock);
    if (!p->stop && p->next < p->njobs)
      j = &p->jobs[p->next++];
    pthread_mutex_unlock(&p->lock);
    if (j == NULL)
      return NULL;
    j->ret = unpack_layer(p->s, j, &j->err);
    if (j->ret == 0)
      ctr_progress_add(p->progress, (uint64_t)j->size);
    if (j->ret < 0) {
      pthread_mutex_lock(&p->lock);
      p->stop = true;
      pthread_mutex_unlock(&p->lock);
    }
  }
}

/* Run the jobs on at most one thread per online CPU; the caller's thread
 * works too, so one job needs no thread at all. Reports the first failed
 * job in layer order. */
static int run_jobs(struct image_store *s, struct unpack_job *jobs, size_t n,
                    ctr_err *err) {
  struct unpack_pool p = {.s = s, .jobs = jobs, .njobs = n};
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t nthreads = (size_t)(cpus > 0 ? cpus : 1);
  pthread_t *threads;
  size_t started = 0;
  int ret = 0;

  uint64_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += (uint64_t)jobs[i].size;
  if (nthreads > n)
    nthreads = n;
  threads = calloc(nthreads, sizeof(*threads));
  if (threads == NULL)
    return ctr_fail(err, ENOMEM, "unpack");
  pthread_mutex_init(&p.lock, NULL);
  for (size_t i = 1; i < nthreads; i++) {
    if (pthread_create(&threads[started], NULL, unpack_worker, &p) != 0)
      break; /* fewer threads just means slower */
    started++;
  }
  p.progress = ctr_progress_start("Unpacking", total);
  unpack_worker(&p);
  for (size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  ctr_progress_done(p.progress);
  pthread_mutex_destroy(&p.lock);
  free(threads);
  for (size_t i = 0; i < n; i++) {
    if (jobs[i].ret < 0 && ret == 0) {
      ret = -1;
      ctr_err_free(err);
      *err = jobs[i].err;
      jobs[i].err = NULL;
    }
    ctr_err_free(&jobs[i].err);
  }
  return ret;
}

static bool layer_present(struct image_store *s, const char *hex) {
  struct stat st;
  return fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode);
}

/* Pair manifest layers with chain ids and queue the missing ones. */
static int plan_jobs(struct image_store *s, const struct image *img,
                     char (*chain)[CTR_DIGEST_LEN + 1], size_t n,
                     struct unpack_job *jobs, size_t *njobs, ctr_err *err) {
  const json_t *layers = json_object_get(img->manifest, "layers");
  const json_t *diff_ids =
      json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
  if (json_array_size(layers) != n)
    return ctr_fail(err, 0, "image %s: %zu layers but %zu diff_ids", img->digest,
                    json_array_size(layers), n);
  *njobs = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *l = json_array_get(layers, i);
    const char *blob = ctr_json_str(l, "digest");
    enum layer_compression c;
    if (!ctr_digest_valid(blob))
      return ctr_fail(err, 0, "image %s: layer %zu has no valid digest",
                      img->digest, i);
    if (image_layer_compression(ctr_json_str(l, "mediaType"), &c, err) < 0)
      return ctr_wrap(err, "layer %s", blob);
    if (layer_present(s, ctr_digest_hex(chain[i])))
      continue;
    jobs[*njobs].blob = blob;
    jobs[*njobs].diff_id = json_string_value(json_array_get(diff_ids, i));
    jobs[*njobs].hex = ctr_digest_hex(chain[i]);
    jobs[*njobs].size = json_integer_value(json_object_get(l, "size"));
    (*njobs)++;
  }
  return 0;
}

int image_unpack(struct image_store *s, const struct image *img, char ***dirs,
                 size_t *ndirs, ctr_err *err) {
  cleanup_free char(*chain)[CTR_DIGEST_LEN + 1] = NULL;
  cleanup_free struct unpack_job *jobs = NULL;
  size_t n = 0, njobs = 0;
  char **out;

  if (s->layers_fd < 0)
    return ctr_fail(err, 0, "unpack: the image store is not open for writing");
  if (image_chain_ids(img->config, &chain, &n, err) < 0)
    return -1;
  jobs = calloc(n ? n : 1, sizeof(*jobs));
  if (jobs == NULL)
    return ctr_fail(err, ENOMEM, "unpack");
  if (plan_jobs(s, img, chain, n, jobs, &njobs, err) < 0)
    return -1;
  if (njobs > 0 && run_jobs(s, jobs, njobs, err) < 0)
    return -1;
  image_chain_remember(s, img, chain, n);
  out = calloc(n ? n : 1, sizeof(*out));
  if (out == NULL)
    return ctr_fail(err, ENOMEM, "unpack");
  for (size_t i = 0; i < n; i++) {
    /* overlay lists the topmost lowerdir first */
    if (asprintf(&out[i], "%s/layers/%s", s->paths->root,
                 ctr_digest_hex(chain[n - 1 - i])) < 0) {
      image_unpack_free(out, i);
      return ctr_fail(err, ENOMEM, "unpack");
    }
  }
  *dirs = out;
  *ndirs = n;
  return 0;
}

