/* The layers of a pull. Every layer blob the store lacks is downloaded
 * (at most o->parallel at once), and each byte that arrives goes both into
 * a staged blob, hashed as it is written, and through a socket to a thread
 * that unpacks the layer into a hidden directory, checking its diff_id:
 * one pass over the bytes, while they stream. Layers whose blob the store
 * has already are unpacked from it.
 *
 * A download's staged file has a second name, images/.partial/<hex>, held
 * with flock while this process writes it. When a pull is interrupted the
 * partial stays; the next pull that needs the blob takes the lock, feeds
 * the bytes it has to the new blob and the unpacker, and asks the registry
 * for the rest with a Range request. A partial is never a blob: its bytes
 * are verified with the rest before anything is published. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/log.h"
#include "pull_int.h"
#include "unpack.h"

#define PARALLEL_DEFAULT 6
#define COPY_BLOCK (1 << 20)
#define SOCKET_BUFFER (1 << 20)

/* ---- unpacking ---------------------------------------------------------- */

/* Into layers/.tmp-<hex>.XXXXXX, as image_unpack does, but renamed into
 * place only by the commit. */
static int layer_unpack(struct pull_layer *l, ctr_err *err) {
  struct image_store *s = &l->p->s;
  cleanup_free char *prefix = NULL;
  cleanup_close int dfd = -1;
  if (asprintf(&prefix, ".tmp-%s", l->hex) < 0)
    return ctr_fail(err, ENOMEM, "unpack");
  if (ctr_mkdtemp_at(s->layers_fd, prefix, &l->tmp, err) < 0)
    return -1;
  dfd = ctr_open_dir(s->layers_fd, l->tmp, err);
  if (dfd < 0)
    return -1;
  if (fchmod(dfd, 0755) < 0)
    return ctr_fail(err, errno, "chmod %s", l->tmp);
  if (image_layer_extract(l->src, dfd, l->diff_id, err) < 0)
    return -1;
  if (syncfs(dfd) < 0)
    return ctr_fail(err, errno, "sync %s", l->tmp);
  return 0;
}

static void *unpacker_main(void *arg) {
  struct pull_layer *l = arg;
  l->ret = layer_unpack(l, &l->err);
  if (l->ret < 0)
    ctr_wrap(&l->err, "layer %s", l->blob->digest);
  /* Whoever feeds the socket learns at once that nobody reads any more. */
  shutdown(l->src, SHUT_RDWR);
  return NULL;
}

static int unpacker_start(struct pull_layer *l, ctr_err *err) {
  int e = pthread_create(&l->thread, NULL, unpacker_main, l);
  if (e != 0)
    return ctr_fail(err, e, "unpack layer %s", l->blob->digest);
  l->thread_started = true;
  return 0;
}

static void unpacker_join(struct pull_layer *l) {
  if (l != NULL && l->thread_started) {
    pthread_join(l->thread, NULL);
    l->thread_started = false;
  }
}

/* ---- partial downloads -------------------------------------------------- */

/* Drop .partial/<hex> if it is still the file fd has open. */
static void partial_unlink_if(struct pull *p, const char *hex, int fd) {
  struct stat a, b;
  if (fd >= 0 && p->partial_dirfd >= 0 && fstat(fd, &a) == 0 &&
      fstatat(p->partial_dirfd, hex, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    unlinkat(p->partial_dirfd, hex, 0);
}

static void partial_close(struct pull_blob *b, bool drop) {
  const char *hex = ctr_digest_hex(b->digest);
  if (drop) {
    partial_unlink_if(b->p, hex, b->partial_fd);
    partial_unlink_if(b->p, hex, b->resume_fd);
  }
  if (b->partial_fd >= 0)
    close(b->partial_fd);
  if (b->resume_fd >= 0)
    close(b->resume_fd);
  b->partial_fd = b->resume_fd = -1;
}

/* A process killed mid-download leaves its staged file (blobs/sha256/
 * .tmp-blob.*) as a second name of the partial. We hold the partial's
 * lock, so its writer is gone: drop that name, or the bytes would be kept
 * twice until the next prune. */
static void drop_stale_temp(struct pull *p, const struct stat *partial) {
  cleanup_dir DIR *d = ctr_opendir_at(p->s.blobs_fd);
  struct dirent *de;
  if (d == NULL)
    return;
  if (partial->st_nlink < 2)
    return;
  rewinddir(d); /* the duplicate shares blobs_fd's offset */
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    if (strncmp(de->d_name, ".tmp-blob.", 10) == 0 &&
        fstatat(p->s.blobs_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_dev == partial->st_dev && st.st_ino == partial->st_ino)
      unlinkat(p->s.blobs_fd, de->d_name, 0);
  }
}

/* Take over an earlier download of b, if one is there and nobody else is
 * writing it. */
static void partial_find(struct pull_blob *b) {
  struct pull *p = b->p;
  const char *hex = ctr_digest_hex(b->digest);
  struct stat st;
  int fd;
  if (p->partial_dirfd < 0)
    return;
  fd = openat(p->partial_dirfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return;
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    close(fd);
    b->partial_busy = true; /* another pull is downloading it right now */
    return;
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > b->size) {
    unlinkat(p->partial_dirfd, hex, 0); /* not a prefix of this blob */
    close(fd);
    return;
  }
  drop_stale_temp(p, &st);
  b->resume_fd = fd;
  b->resume = st.st_size;
}

/* Give the staged file the name .partial/<hex> (replacing the one resumed
 * from) and hold its lock. Best effort: without it there is no resume. */
static void partial_keep(struct pull_blob *b) {
  struct pull *p = b->p;
  const char *hex = ctr_digest_hex(b->digest);
  char proc[64], tmp[96];
  ctr_err e = NULL;
  int fd;
  if (p->partial_dirfd < 0 || b->partial_busy)
    return;
  fd = image_blob_reopen(b->w, &e);
  ctr_err_free(&e);
  if (fd < 0)
    return;
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  snprintf(tmp, sizeof(tmp), ".%s.%d", hex, (int)getpid());
  unlinkat(p->partial_dirfd, tmp, 0);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0 ||
      linkat(AT_FDCWD, proc, p->partial_dirfd, tmp, AT_SYMLINK_FOLLOW) < 0 ||
      renameat(p->partial_dirfd, tmp, p->partial_dirfd, hex) < 0) {
    ctr_debug("no partial download for %s: %s", b->digest, strerror(errno));
    unlinkat(p->partial_dirfd, tmp, 0);
    close(fd);
    return;
  }
  if (b->resume_fd >= 0)
    close(b->resume_fd);
  b->resume_fd = -1;
  b->partial_fd = fd;
}

/* ---- one download ------------------------------------------------------- */

/* The unpacker stopped reading: having checked its diff_id, it needed
 * nothing more, or it failed. Either way the download goes on into the
 * blob alone, so that the blob's digest is checked first: bytes that are
 * not the blob explain a failed unpack better than the unpacker can. */
static ssize_t unpacker_stopped(struct pull_blob *b, size_t len) {
  unpacker_join(b->stream);
  b->unpacker_gone = true;
  return (ssize_t)len;
}

/* Send bytes to the unpacker: how many it took, 0 when its socket is full
 * (without wait), -1 on failure. */
static ssize_t feed(struct pull_blob *b, const char *buf, size_t len, bool wait,
                    ctr_err *err) {
  ssize_t n;
  if (b->unpacker_gone || b->sock < 0)
    return (ssize_t)len;
  do
    n = send(b->sock, buf, len, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return 0;
  if (errno == EPIPE || errno == ECONNRESET)
    return unpacker_stopped(b, len);
  return ctr_fail(err, errno, "layer %s: unpack", b->digest);
}

/* The bytes of the earlier download, to the new blob and the unpacker. */
static int feed_resumed(struct pull_blob *b, ctr_err *err) {
  cleanup_free char *buf = malloc(COPY_BLOCK);
  off_t off = 0;
  if (buf == NULL)
    return ctr_fail(err, ENOMEM, "resume %s", b->digest);
  while (off < b->resume) {
    size_t want = b->resume - off < COPY_BLOCK ? (size_t)(b->resume - off) : COPY_BLOCK;
    ssize_t n = pread(b->resume_fd, buf, want, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return ctr_fail(err, n < 0 ? errno : 0, "read the partial download of %s",
                      b->digest);
    for (ssize_t sent = 0; sent < n;) {
      ssize_t k = feed(b, buf + sent, (size_t)(n - sent), true, err);
      if (k < 0)
        return -1;
      sent += k;
    }
    if (image_blob_write(b->w, buf, (size_t)n, err) < 0)
      return -1;
    off += n;
  }
  b->got = b->resume;
  ctr_debug("resuming %s at %lld of %lld bytes", b->digest, (long long)b->resume,
            (long long)b->size);
  return 0;
}

/* On the first bytes: the staged blob, the unpacker, what was kept. */
static int blob_start(struct pull_blob *b, ctr_err *err) {
  b->started = true;
  if (image_blob_begin(&b->p->s, &b->w, err) < 0)
    return -1;
  if (b->stream != NULL && unpacker_start(b->stream, err) < 0)
    return -1;
  if (b->resume > 0 && feed_resumed(b, err) < 0)
    return -1;
  partial_keep(b);
  return 0;
}

static ssize_t blob_sink(void *arg, const void *buf, size_t len, ctr_err *err) {
  struct pull_blob *b = arg;
  ssize_t n;
  if (!b->started && blob_start(b, err) < 0)
    return -1;
  if (b->got + (off_t)len > b->size)
    return ctr_fail(err, 0, "blob %s: more than the %lld bytes the manifest says",
                    b->digest, (long long)b->size);
  n = feed(b, buf, len, false, err);
  if (n <= 0)
    return n;
  if (image_blob_write(b->w, buf, (size_t)n, err) < 0)
    return -1;
  b->got += n;
  pull_progress_set(b->p->progress, b->line, (uint64_t)b->got, "Downloading");
  return n;
}

static void blob_done(void *arg, int ok) {
  struct pull_blob *b = arg;
  if (ok == 0 && !b->started && blob_start(b, &b->err) < 0)
    ok = -1;
  if (b->sock >= 0)
    shutdown(b->sock, SHUT_WR); /* the unpacker's end of stream */
  pull_progress_set(b->p->progress, b->line, (uint64_t)b->got,
                    ok == 0 ? "Verifying" : "Failed");
}

static int prepare_download(struct pull_blob *b, ctr_err *err) {
  int sv[2], size = SOCKET_BUFFER;
  partial_find(b);
  if (b->stream == NULL)
    return 0;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return ctr_fail(err, errno, "layer %s: socketpair", b->digest);
  /* Room for bursts, so a transfer pauses less often. */
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  b->sock = sv[0];
  b->stream->src = sv[1];
  return 0;
}

/* ---- all of them -------------------------------------------------------- */

static bool downloading(const struct pull_blob *b) { return !b->in_store; }

static int download_all(struct pull *p, ctr_err *err) {
  cleanup_free struct registry_req *reqs = calloc(p->nblobs + 1, sizeof(*reqs));
  cleanup_free struct registry_resp *resps = calloc(p->nblobs + 1, sizeof(*resps));
  cleanup_free char **paths = calloc(p->nblobs + 1, sizeof(*paths));
  cleanup_free struct pull_blob **which = calloc(p->nblobs + 1, sizeof(*which));
  size_t n = 0, failed = 0;
  int ret = -1;
  if (reqs == NULL || resps == NULL || paths == NULL || which == NULL)
    return ctr_fail(err, ENOMEM, "pull");
  for (size_t i = 0; i < p->nblobs; i++) {
    struct pull_blob *b = p->blobs[i];
    if (!downloading(b))
      continue;
    if (prepare_download(b, err) < 0)
      goto out;
    if (b->resume == b->size) {
      /* All there from before: only its bytes' check is left. */
      blob_done(b, 0);
      if (b->err != NULL) {
        *err = ctr_steal(b->err);
        goto out;
      }
      continue;
    }
    if (asprintf(&paths[n], "%s/blobs/%s", p->repo, b->digest) < 0) {
      paths[n] = NULL;
      ctr_fail(err, ENOMEM, "pull");
      goto out;
    }
    reqs[n] = (struct registry_req){
        .path = paths[n], .scope = p->scope, .sink = blob_sink, .sink_arg = b,
        .pause_fd = b->sock, .offset = b->resume, .done = blob_done};
    which[n++] = b;
  }
  ret = n == 0 ? 0
               : registry_do_all(p->reg, reqs, n,
                                 p->o->parallel ? p->o->parallel : PARALLEL_DEFAULT,
                                 resps, &failed, err);
  if (ret < 0) {
    /* Refused a Range: what was kept does not fit the registry's blob. */
    if (resps[failed].status == 416)
      partial_close(which[failed], true);
    ctr_wrap(err, "layer %s", which[failed]->digest);
  }
out:
  for (size_t i = 0; i < n; i++) {
    registry_resp_free(&resps[i]);
    free(paths[i]);
  }
  return ret;
}

/* After the transfers: every streamed unpacker ends (its input did). */
static void join_streams(struct pull *p) {
  for (size_t i = 0; i < p->nblobs; i++) {
    struct pull_blob *b = p->blobs[i];
    unpacker_join(b->stream);
    if (b->sock >= 0)
      close(b->sock);
    b->sock = -1;
    if (b->stream != NULL && b->stream->src >= 0) {
      close(b->stream->src);
      b->stream->src = -1;
    }
  }
}

/* Each download against its digest and size, then the source owns it. */
static int verify_downloads(struct pull *p, ctr_err *err) {
  for (size_t i = 0; i < p->nblobs; i++) {
    struct pull_blob *b = p->blobs[i];
    if (!downloading(b))
      continue;
    if (b->err != NULL) {
      ctr_err_free(err);
      *err = ctr_steal(b->err);
      return -1;
    }
    if (b->w == NULL)
      return ctr_fail(err, 0, "layer %s: nothing was downloaded", b->digest);
    if (image_blob_finish(b->w, b->digest, b->size, err) < 0) {
      /* Bytes that are not the blob: no use resuming from them. */
      partial_close(b, true);
      return -1;
    }
    if (source_adopt(&p->plan.src, b->w, err) < 0) {
      b->w = NULL; /* freed by source_adopt */
      return -1;
    }
    if (source_need(&p->plan.src, b->w, err) < 0)
      return -1;
    b->started = false; /* w belongs to the source now */
    pull_progress_set(p->progress, b->line, (uint64_t)b->got, "Pull complete");
  }
  return 0;
}

struct pool {
  struct pull_layer **todo;
  size_t n, next;
};

static void *pool_main(void *arg) {
  struct pool *pool = arg;
  for (;;) {
    size_t i = __atomic_fetch_add(&pool->next, 1, __ATOMIC_RELAXED);
    struct pull_layer *l;
    if (i >= pool->n)
      return NULL;
    l = pool->todo[i];
    l->ret = layer_unpack(l, &l->err);
    if (l->ret < 0)
      ctr_wrap(&l->err, "layer %s", l->blob->digest);
    close(l->src);
    l->src = -1;
  }
}

/* Layers not unpacked while downloading: their blob was in the store, or
 * another layer's download brought it. One thread per CPU at most. */
static int unpack_rest(struct pull *p, ctr_err *err) {
  cleanup_free struct pull_layer **todo = calloc(p->nlayers + 1, sizeof(*todo));
  struct pool pool = {.todo = todo};
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  pthread_t threads[64];
  size_t nthreads = 0;
  if (todo == NULL)
    return ctr_fail(err, ENOMEM, "unpack");
  for (size_t i = 0; i < p->nlayers; i++) {
    struct pull_layer *l = p->layers[i];
    ctr_err e = NULL;
    if (l->blob->stream == l)
      continue;
    l->src = l->blob->in_store ? image_blob_open(&p->s, l->blob->digest, &e)
                               : image_blob_reopen(l->blob->w, &e);
    if (l->src < 0) {
      *err = e;
      return ctr_wrap(err, "layer %s", l->blob->digest);
    }
    todo[pool.n++] = l;
  }
  for (long i = 1; i < cpus && (size_t)i < pool.n && nthreads < 64; i++)
    if (pthread_create(&threads[nthreads], NULL, pool_main, &pool) == 0)
      nthreads++;
  pool_main(&pool);
  for (size_t i = 0; i < nthreads; i++)
    pthread_join(threads[i], NULL);
  return 0;
}

static int check_unpacked(struct pull *p, ctr_err *err) {
  for (size_t i = 0; i < p->nlayers; i++)
    if (p->layers[i]->ret < 0) {
      *err = ctr_steal(p->layers[i]->err);
      if (*err == NULL)
        ctr_fail(err, 0, "layer %s: unpack failed", p->layers[i]->blob->digest);
      return -1;
    }
  return 0;
}

/* Blobs the store has: a partial left from a pull that committed but
 * died before removing it is of no more use. */
static void drop_done_partials(struct pull *p) {
  for (size_t i = 0; i < p->nblobs && p->partial_dirfd >= 0; i++) {
    const char *hex = ctr_digest_hex(p->blobs[i]->digest);
    int fd;
    if (!p->blobs[i]->in_store)
      continue;
    fd = openat(p->partial_dirfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
      unlinkat(p->partial_dirfd, hex, 0);
    if (fd >= 0)
      close(fd);
  }
}

int pull_fetch_layers(struct pull *p, ctr_err *err) {
  int ret;
  drop_done_partials(p);
  ret = download_all(p, err);
  join_streams(p);
  if (ret < 0)
    return -1;
  if (verify_downloads(p, err) < 0 || check_unpacked(p, err) < 0)
    return -1;
  if (unpack_rest(p, err) < 0 || check_unpacked(p, err) < 0)
    return -1;
  return 0;
}

void pull_layers_discard(struct pull *p) {
  join_streams(p);
  for (size_t i = 0; i < p->nlayers; i++) {
    struct pull_layer *l = p->layers[i];
    ctr_err e = NULL;
    if (l->tmp != NULL && ctr_rm_rf(p->s.layers_fd, l->tmp, &e) < 0)
      ctr_err_free(&e);
    free(l->tmp);
    l->tmp = NULL;
  }
}

void pull_partials_done(struct pull *p) {
  for (size_t i = 0; i < p->nblobs; i++)
    partial_close(p->blobs[i], true);
}

void pull_blob_free(struct pull_blob *b) {
  if (b == NULL)
    return;
  partial_close(b, false);
  if (b->started)
    image_blob_abort(b->w);
  if (b->sock >= 0)
    close(b->sock);
  ctr_err_free(&b->err);
  free(b);
}
