#define _GNU_SOURCE
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/progress.h"
#include "readhash.h"

#define READ_BLOCK (1 << 20)

/* "./a//b/../c" -> "a/c"; NULL when it climbs above the top. */
static char *normalise(const char *path) {
  char *out = malloc(strlen(path) + 1);
  size_t o = 0;
  const char *p = path;
  if (out == NULL)
    return NULL;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 0 || (n == 1 && p[0] == '.')) {
      /* skip */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (o == 0) {
        free(out);
        return NULL;
      }
      while (o > 0 && out[o - 1] != '/')
        o--;
      if (o > 0)
        o--;
    } else {
      if (o > 0)
        out[o++] = '/';
      memcpy(out + o, p, n);
      o += n;
    }
    p += n;
    if (*p == '/')
      p++;
  }
  out[o] = '\0';
  return out;
}

static struct source_file *add_file(struct import_source *src, char *path,
                                    ctr_err *err) {
  struct source_file *f;
  /* A later entry of the same name replaces an earlier one, as in tar. */
  for (size_t i = 0; i < src->n; i++)
    if (strcmp(src->files[i].path, path) == 0) {
      f = &src->files[i];
      image_blob_abort(f->w);
      free(f->link);
      free(path);
      f->w = NULL;
      f->link = NULL;
      return f;
    }
  if (src->n == src->cap) {
    size_t cap = src->cap ? src->cap * 2 : 32;
    struct source_file *n = realloc(src->files, cap * sizeof(*n));
    if (n == NULL) {
      free(path);
      ctr_fail(err, ENOMEM, "read %s", src->what);
      return NULL;
    }
    src->files = n;
    src->cap = cap;
  }
  f = &src->files[src->n++];
  memset(f, 0, sizeof(*f));
  f->path = path;
  return f;
}

/* Progress counts the archive's bytes as read from the file. */
static void read_progress(struct ctr_progress *p, struct archive *a,
                          int64_t *seen) {
  int64_t now = archive_filter_bytes(a, -1);
  if (p != NULL && now > *seen) {
    ctr_progress_add(p, (uint64_t)(now - *seen));
    *seen = now;
  }
}

static int stage_entry_data(struct import_source *src, struct archive *a,
                            struct source_file *f, struct ctr_progress *prog,
                            int64_t *seen, ctr_err *err) {
  const void *buf;
  size_t len;
  la_int64_t off, pos = 0;
  static const char zeros[65536];
  if (image_blob_begin(src->s, &f->w, err) < 0)
    return -1;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK)
      return ctr_fail(err, 0, "%s: %s: %s", src->what, f->path,
                      archive_error_string(a));
    /* Sparse entries arrive with holes; fill them so the blob is whole. */
    while (pos < off) {
      size_t z = (size_t)(off - pos) < sizeof(zeros) ? (size_t)(off - pos)
                                                     : sizeof(zeros);
      if (image_blob_write(f->w, zeros, z, err) < 0)
        return -1;
      pos += (la_int64_t)z;
    }
    if (image_blob_write(f->w, buf, len, err) < 0)
      return -1;
    pos += (la_int64_t)len;
    read_progress(prog, a, seen);
  }
  return image_blob_finish(f->w, NULL, -1, err);
}

static char *link_target(const char *entry, const char *target, bool symbolic) {
  char *joined = NULL, *out;
  if (!symbolic || target[0] == '/')
    return normalise(target);
  {
    const char *slash = strrchr(entry, '/');
    int dirlen = slash ? (int)(slash - entry) : 0;
    if (asprintf(&joined, "%.*s%s%s", dirlen, entry, dirlen ? "/" : "",
                 target) < 0)
      return NULL;
  }
  out = normalise(joined);
  free(joined);
  return out;
}

int source_open_archive(struct import_source *src, struct image_store *s,
                        int fd, const char *what, ctr_err *err) {
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  struct ctr_progress *prog = NULL;
  struct read_hash rh;
  int64_t seen = 0;
  struct stat st;
  int r, ret = -1;

  memset(src, 0, sizeof(*src));
  src->s = s;
  src->what = what;
  src->dirfd = -1;
  if (a == NULL)
    return ctr_fail(err, ENOMEM, "read %s", what);
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  if (read_hash_open(a, &rh, fd, READ_BLOCK) != ARCHIVE_OK) {
    ctr_fail(err, 0, "%s: %s", what, archive_error_string(a));
    goto out;
  }
  prog = ctr_progress_start("Reading", fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
                                           ? (uint64_t)st.st_size
                                           : 0);
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(e);
    char *path = name ? normalise(name) : NULL;
    struct source_file *f;
    mode_t type = archive_entry_filetype(e);
    if (path == NULL) {
      ctr_fail(err, 0, "%s: bad entry name %s", what, name ? name : "(none)");
      goto out;
    }
    if (type == AE_IFDIR || path[0] == '\0') {
      free(path);
      continue;
    }
    if (archive_entry_hardlink(e) != NULL || type == AE_IFLNK) {
      bool sym = archive_entry_hardlink(e) == NULL;
      const char *t = sym ? archive_entry_symlink(e) : archive_entry_hardlink(e);
      char *target = t ? link_target(path, t, sym) : NULL;
      if (target == NULL) {
        ctr_fail(err, 0, "%s: entry %s: link points outside the archive", what,
                 path);
        free(path);
        goto out;
      }
      f = add_file(src, path, err);
      if (f == NULL) {
        free(target);
        goto out;
      }
      f->link = target;
      continue;
    }
    if (type != AE_IFREG) {
      free(path);
      continue; /* devices and fifos mean nothing in an image archive */
    }
    f = add_file(src, path, err);
    if (f == NULL)
      goto out;
    if (stage_entry_data(src, a, f, prog, &seen, err) < 0)
      goto out;
  }
  if (r != ARCHIVE_EOF) {
    ctr_fail(err, 0, "%s: %s", what, archive_error_string(a));
    goto out;
  }
  if (src->n == 0) {
    ctr_fail(err, 0, "%s: empty archive", what);
    goto out;
  }
  if (read_hash_finish(&rh, src->digest, err) < 0) {
    ctr_wrap(err, "%s", what);
    goto out;
  }
  ret = 0;
out:
  read_progress(prog, a, &seen);
  ctr_progress_done(prog);
  archive_read_free(a);
  read_hash_free(&rh);
  if (ret < 0)
    source_close(src);
  return ret;
}

int source_open_dir(struct import_source *src, struct image_store *s,
                    const char *path, ctr_err *err) {
  memset(src, 0, sizeof(*src));
  src->s = s;
  src->what = path;
  src->dirfd = ctr_open_dir(AT_FDCWD, path, err);
  return src->dirfd < 0 ? -1 : 0;
}

static struct source_file *find(struct import_source *src, const char *path) {
  for (int depth = 0; depth < 16; depth++) {
    struct source_file *f = NULL;
    for (size_t i = 0; i < src->n; i++)
      if (strcmp(src->files[i].path, path) == 0) {
        f = &src->files[i];
        break;
      }
    if (f == NULL || f->link == NULL)
      return f;
    path = f->link;
  }
  return NULL;
}

/* Open a file of a layout directory without leaving the directory. */
static int open_beneath(int dirfd, const char *path) {
  return ctr_open_beneath(dirfd, path, O_RDONLY);
}

bool source_has(struct import_source *src, const char *path) {
  if (src->dirfd >= 0) {
    int fd = open_beneath(src->dirfd, path);
    if (fd < 0)
      return false;
    close(fd);
    return true;
  }
  return find(src, path) != NULL;
}

/* A directory source is copied into staging the first time a path is
 * asked for, so both kinds of source hand out the same thing. */
static int stage_from_dir(struct import_source *src, const char *path,
                          struct source_file **out, ctr_err *err) {
  cleanup_close int fd = open_beneath(src->dirfd, path);
  struct source_file *f;
  char *copy;
  static __thread char buf[READ_BLOCK];
  ssize_t n;
  if (fd < 0)
    return ctr_fail(err, errno, "%s: %s", src->what, path);
  copy = strdup(path);
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "%s", path);
  f = add_file(src, copy, err);
  if (f == NULL)
    return -1;
  if (image_blob_begin(src->s, &f->w, err) < 0)
    return -1;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    if (image_blob_write(f->w, buf, (size_t)n, err) < 0)
      return -1;
  if (n < 0)
    return ctr_fail(err, errno, "%s: read %s", src->what, path);
  if (image_blob_finish(f->w, NULL, -1, err) < 0)
    return -1;
  *out = f;
  return 0;
}

static int lookup(struct import_source *src, const char *path,
                  struct source_file **out, ctr_err *err) {
  struct source_file *f = find(src, path);
  if (f != NULL && (f->w != NULL || src->dirfd < 0)) {
    if (f->w == NULL)
      return ctr_fail(err, 0, "%s: %s is used twice", src->what, path);
    *out = f;
    return 0;
  }
  if (src->dirfd >= 0)
    return stage_from_dir(src, path, out, err);
  return ctr_fail(err, 0, "%s: no %s in the archive", src->what, path);
}

int source_read(struct import_source *src, const char *path, size_t max,
                char **buf, size_t *len, ctr_err *err) {
  struct source_file *f;
  cleanup_close int fd = -1;
  if (src->dirfd >= 0) {
    fd = open_beneath(src->dirfd, path);
    if (fd < 0)
      return ctr_fail(err, errno, "%s: %s", src->what, path);
    if (ctr_read_fd(fd, max, buf, len, err) < 0)
      return ctr_wrap(err, "%s: %s", src->what, path);
    return 0;
  }
  if (lookup(src, path, &f, err) < 0)
    return -1;
  if (image_blob_size(f->w) > (off_t)max)
    return ctr_fail(err, EFBIG, "%s: %s", src->what, path);
  fd = image_blob_reopen(f->w, err);
  if (fd < 0)
    return -1;
  if (ctr_read_fd(fd, max, buf, len, err) < 0)
    return ctr_wrap(err, "%s: %s", src->what, path);
  return 0;
}

int source_blob(struct import_source *src, const char *path,
                const char *expected, off_t size,
                struct image_blob_writer **w, ctr_err *err) {
  struct source_file *f;
  if (lookup(src, path, &f, err) < 0)
    return -1;
  if (expected != NULL && strcmp(image_blob_digest(f->w), expected) != 0)
    return ctr_fail(err, 0, "%s: %s: digest mismatch (got %s)", src->what,
                    expected, image_blob_digest(f->w));
  if (size >= 0 && image_blob_size(f->w) != size)
    return ctr_fail(err, 0, "%s: %s: size %lld, descriptor says %lld",
                    src->what, path, (long long)image_blob_size(f->w),
                    (long long)size);
  *w = f->w;
  return 0;
}

int source_publish(struct import_source *src, struct image_blob_writer *w,
                   ctr_err *err) {
  for (size_t i = 0; i < src->n; i++)
    if (src->files[i].w == w) {
      src->files[i].w = NULL;
      return image_blob_publish(w, err);
    }
  return 0; /* already published through another path */
}

void source_close(struct import_source *src) {
  for (size_t i = 0; i < src->n; i++) {
    image_blob_abort(src->files[i].w);
    free(src->files[i].path);
    free(src->files[i].link);
  }
  free(src->files);
  free(src->needed);
  if (src->dirfd >= 0)
    close(src->dirfd);
  memset(src, 0, sizeof(*src));
  src->dirfd = -1;
}

int source_adopt(struct import_source *src, struct image_blob_writer *w,
                 ctr_err *err) {
  char *name = NULL;
  struct source_file *f;
  /* A name no archive entry can have (they never start with NUL-ish
   * control bytes after normalisation). */
  if (asprintf(&name, "\x01made/%zu", src->n) < 0) {
    image_blob_abort(w);
    return ctr_fail(err, ENOMEM, "stage blob");
  }
  f = add_file(src, name, err);
  if (f == NULL) {
    image_blob_abort(w);
    return -1;
  }
  f->w = w;
  return 0;
}

void source_init_empty(struct import_source *src, struct image_store *s,
                       const char *what) {
  memset(src, 0, sizeof(*src));
  src->s = s;
  src->what = what;
  src->dirfd = -1;
}

int source_need(struct import_source *src, struct image_blob_writer *w,
                ctr_err *err) {
  struct image_blob_writer **n;
  if (source_needed(src, w))
    return 0;
  n = realloc(src->needed, (src->nneeded + 1) * sizeof(*n));
  if (n == NULL)
    return ctr_fail(err, ENOMEM, "plan import");
  src->needed = n;
  src->needed[src->nneeded++] = w;
  return 0;
}

bool source_needed(const struct import_source *src,
                   const struct image_blob_writer *w) {
  for (size_t i = 0; i < src->nneeded; i++)
    if (src->needed[i] == w)
      return true;
  return false;
}
