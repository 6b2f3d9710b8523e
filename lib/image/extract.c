/* Extracting one layer blob into a directory, safely.
 *
 * Two libarchive readers are nested: the outer one (raw format, the
 * decompression filters) yields the uncompressed stream, which is hashed
 * for the diff_id on its way to the inner one (tar formats only) through a
 * read callback. Entries are written by our own loop rather than
 * archive_write_disk, which works relative to the process's cwd and
 * follows symlinks in ways we do not want: every parent directory here is
 * resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and every
 * final component is created with calls that never follow it. */
#define _GNU_SOURCE
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"

#define READ_BLOCK (1 << 20)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

/* The uncompressed stream, hashed as the tar reader pulls it. */
struct layer_stream {
  struct archive *outer;
  ctr_sha256 *hash;
  bool eof;
  bool failed; /* the outer reader failed; its message is in outer */
};

/* A directory whose times are set at the end, once its children exist. */
struct dir_time {
  char *path;
  struct timespec ts[2];
  size_t depth, seq;
};

struct extractor {
  int root;
  struct archive *tar;
  bool same_owner;  /* restore uid/gid (root only, as tar does) */
  const char *name; /* the current entry's name as stored, for messages */
  char *cached_parent; /* parent path of the last entry, and its fd */
  int cached_fd;
  struct dir_time *dirs;
  size_t ndirs, dirs_cap;
};

/* ---- the stream ---------------------------------------------------- */

static int stream_open(struct layer_stream *st, int blob_fd, ctr_err *err) {
  struct archive_entry *e;
  st->outer = archive_read_new();
  st->hash = ctr_sha256_new();
  if (st->outer == NULL || st->hash == NULL)
    return ctr_fail(err, ENOMEM, "read layer");
  /* The compressions Docker accepts for layers; all run in-process. */
  if (archive_read_support_filter_gzip(st->outer) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(st->outer) != ARCHIVE_OK ||
      archive_read_support_filter_xz(st->outer) != ARCHIVE_OK ||
      archive_read_support_filter_bzip2(st->outer) != ARCHIVE_OK ||
      archive_read_support_format_raw(st->outer) != ARCHIVE_OK)
    return ctr_fail(err, 0, "read layer: %s", archive_error_string(st->outer));
  if (archive_read_open_fd(st->outer, blob_fd, READ_BLOCK) != ARCHIVE_OK ||
      archive_read_next_header(st->outer, &e) != ARCHIVE_OK)
    return ctr_fail(err, 0, "read layer: %s",
                    archive_error_string(st->outer) ? archive_error_string(st->outer)
                                                    : "empty");
  return 0;
}

/* Next block of the uncompressed stream: its length, 0 at the end, or -1
 * (st->failed set). */
static ssize_t stream_next(struct layer_stream *st, const void **buf) {
  while (!st->eof) {
    size_t len = 0;
    la_int64_t off;
    int r = archive_read_data_block(st->outer, buf, &len, &off);
    if (r == ARCHIVE_EOF) {
      st->eof = true;
      break;
    }
    if (r < ARCHIVE_WARN) {
      st->failed = true;
      return -1;
    }
    if (len == 0)
      continue;
    ctr_sha256_update(st->hash, *buf, len);
    return (ssize_t)len;
  }
  return 0;
}

static la_ssize_t stream_read_cb(struct archive *tar, void *data,
                                 const void **buf) {
  struct layer_stream *st = data;
  ssize_t n = stream_next(st, buf);
  if (n < 0) {
    const char *msg = archive_error_string(st->outer);
    archive_set_error(tar, EIO, "%s", msg ? msg : "decompression failed");
  }
  return n;
}

/* The diff_id covers the whole stream, also what follows the tar's end. */
static int stream_drain(struct layer_stream *st, ctr_err *err) {
  const void *buf;
  ssize_t n;
  while ((n = stream_next(st, &buf)) > 0)
    ;
  if (n < 0)
    return ctr_fail(err, 0, "decompress layer: %s",
                    archive_error_string(st->outer) ? archive_error_string(st->outer)
                                                    : "failed");
  return 0;
}

static void stream_close(struct layer_stream *st) {
  if (st->outer != NULL)
    archive_read_free(st->outer);
  ctr_sha256_free(st->hash);
}

/* A failure of the tar reader: name the real cause when it was the
 * decompression underneath. */
static int read_fail(struct extractor *x, const struct layer_stream *st,
                     ctr_err *err) {
  const char *msg = archive_error_string(st->failed ? st->outer : x->tar);
  if (msg == NULL)
    msg = "unknown error";
  if (x->name != NULL)
    return ctr_fail(err, 0, "entry %s: %s layer: %s", x->name,
                    st->failed ? "decompress" : "read", msg);
  return ctr_fail(err, 0, "%s layer: %s", st->failed ? "decompress" : "read", msg);
}

/* ---- paths ---------------------------------------------------------- */

/* Normalise an entry path in place: drop leading "/", "." and empty
 * components. Returns -1 on any ".." component. "" means the root. */
static int clean_path(char *p) {
  char *out = p, *in = p;
  while (*in != '\0') {
    char *comp = in;
    size_t len;
    while (*in != '\0' && *in != '/')
      in++;
    len = (size_t)(in - comp);
    if (*in == '/')
      in++;
    if (len == 0 || (len == 1 && comp[0] == '.'))
      continue;
    if (len == 2 && comp[0] == '.' && comp[1] == '.')
      return -1;
    if (out != p)
      *out++ = '/';
    memmove(out, comp, len);
    out += len;
  }
  *out = '\0';
  return 0;
}

/* Split a clean, non-empty path into parent ("" for the root) and base;
 * path is cut in two in place. */
static void split_path(char *path, const char **parent, const char **base) {
  char *slash = strrchr(path, '/');
  if (slash == NULL) {
    *parent = "";
    *base = path;
  } else {
    *slash = '\0';
    *parent = path;
    *base = slash + 1;
  }
}

static bool is_whiteout(const char *name) {
  return strncmp(name, WHITEOUT_PREFIX, sizeof(WHITEOUT_PREFIX) - 1) == 0;
}

/* An error resolving `what` (the entry's own path or a hardlink target). */
static int resolve_fail(struct extractor *x, int e, const char *what,
                        ctr_err *err) {
  switch (e) {
  case ELOOP:
    return ctr_fail(err, 0, "entry %s: %s goes through a symlink", x->name, what);
  case EXDEV:
    return ctr_fail(err, 0, "entry %s: %s escapes the layer", x->name, what);
  case ENOTDIR:
    return ctr_fail(err, 0, "entry %s: %s goes through a non-directory", x->name,
                    what);
  default:
    return ctr_fail(err, e, "entry %s: %s", x->name, what);
  }
}

/* Create the missing directories of a parent path (0755, as tar does) and
 * return an O_PATH fd on it. A ".wh." name is never made a directory. */
static int make_parents(struct extractor *x, const char *parent, ctr_err *err) {
  cleanup_free char *copy = strdup(parent);
  char *comp, *save = NULL;
  int cur = x->root;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  for (comp = strtok_r(copy, "/", &save); comp != NULL;
       comp = strtok_r(NULL, "/", &save)) {
    int next;
    if (is_whiteout(comp)) {
      if (cur != x->root)
        close(cur);
      return ctr_fail(err, 0, "entry %s: whiteout %s used as a directory",
                      x->name, comp);
    }
    if (mkdirat(cur, comp, 0755) == 0)
      (void)fchmodat(cur, comp, 0755, 0);
    else if (errno != EEXIST) {
      int e = errno;
      if (cur != x->root)
        close(cur);
      return ctr_fail(err, e, "entry %s: create directory %s", x->name, comp);
    }
    next = ctr_open_beneath(cur, comp, O_PATH | O_DIRECTORY);
    if (next < 0) {
      int e = errno;
      if (cur != x->root)
        close(cur);
      return resolve_fail(x, e, "path", err);
    }
    if (cur != x->root)
      close(cur);
    cur = next;
  }
  return cur;
}

static void drop_cache(struct extractor *x) {
  if (x->cached_fd >= 0)
    close(x->cached_fd);
  x->cached_fd = -1;
  free(x->cached_parent);
  x->cached_parent = NULL;
}

/* The directory an entry goes into, as a borrowed fd: the root, or the
 * cached fd of the last parent. With `create`, missing directories are
 * made. */
static int entry_parent(struct extractor *x, const char *parent, bool create,
                        ctr_err *err) {
  int fd;
  if (parent[0] == '\0')
    return x->root;
  if (x->cached_parent != NULL && strcmp(x->cached_parent, parent) == 0)
    return x->cached_fd;
  fd = ctr_open_beneath(x->root, parent, O_PATH | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT && create)
    fd = make_parents(x, parent, err);
  else if (fd < 0)
    return resolve_fail(x, errno, "path", err);
  if (fd < 0)
    return -1;
  drop_cache(x);
  x->cached_parent = strdup(parent);
  if (x->cached_parent == NULL) {
    close(fd);
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  }
  x->cached_fd = fd;
  return fd;
}

/* Make room for an entry: later entries win, as with tar. Only an empty
 * directory can be replaced. */
static int remove_existing(struct extractor *x, int pfd, const char *base,
                           ctr_err *err) {
  if (unlinkat(pfd, base, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno == EISDIR) {
    if (unlinkat(pfd, base, AT_REMOVEDIR) == 0) {
      /* The removed (empty) directory may be the cached parent, unless
       * pfd is the cache: then it was its child. Never close pfd here,
       * the caller is still using it. */
      if (pfd != x->cached_fd)
        drop_cache(x);
      return 0;
    }
    if (errno == ENOTEMPTY || errno == EEXIST)
      return ctr_fail(err, 0, "entry %s: cannot replace a non-empty directory",
                      x->name);
  }
  return ctr_fail(err, errno, "entry %s: replace existing entry", x->name);
}

/* ---- metadata ------------------------------------------------------- */

static void entry_times(struct archive_entry *e, struct timespec ts[2]) {
  if (!archive_entry_mtime_is_set(e)) {
    ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
    ts[0].tv_sec = ts[1].tv_sec = 0;
    return;
  }
  ts[1].tv_sec = archive_entry_mtime(e);
  ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    ts[0].tv_sec = archive_entry_atime(e);
    ts[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    ts[0] = ts[1];
  }
}

static bool xattr_skipped(const char *name, bool symlink) {
  /* Overlay metadata (redirects, origins, opacity) must not come from a
   * layer's content; opacity is expressed with .wh..wh..opq. Symlinks
   * cannot hold user.* xattrs. */
  if (strncmp(name, "trusted.overlay.", 16) == 0)
    return true;
  return symlink && strncmp(name, "user.", 5) == 0;
}

/* xattrs through fd when there is one, else by a /proc path that does not
 * follow the final component (devices, fifos, symlinks). */
static int set_xattrs(struct extractor *x, struct archive_entry *e, int fd,
                      int pfd, const char *base, bool symlink, ctr_err *err) {
  const char *name;
  const void *value;
  size_t size;
  char proc[64 + NAME_MAX];
  if (archive_entry_xattr_reset(e) == 0)
    return 0;
  if (fd < 0)
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, base);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    int r;
    if (name == NULL || name[0] == '\0' || xattr_skipped(name, symlink))
      continue;
    r = fd >= 0 ? fsetxattr(fd, name, value, size, 0)
                : lsetxattr(proc, name, value, size, 0);
    if (r < 0 && !(errno == EPERM && !x->same_owner))
      return ctr_fail(err, errno, "entry %s: set xattr %s", x->name, name);
  }
  return 0;
}

/* Owner, then mode (chown clears setuid/setgid), then xattrs (chown also
 * clears security.capability). Times are the caller's. */
static int set_metadata(struct extractor *x, struct archive_entry *e, int fd,
                        int pfd, const char *base, bool symlink, ctr_err *err) {
  if (x->same_owner) {
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    int r = fd >= 0 ? fchown(fd, uid, gid)
                    : fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (r < 0)
      return ctr_fail(err, errno, "entry %s: chown %u:%u", x->name,
                      (unsigned)uid, (unsigned)gid);
  }
  if (!symlink) {
    mode_t mode = archive_entry_perm(e) & 07777;
    /* Without fd this is a node we just created; nothing else writes in
     * the destination, so following is not a concern. */
    int r = fd >= 0 ? fchmod(fd, mode) : fchmodat(pfd, base, mode, 0);
    if (r < 0)
      return ctr_fail(err, errno, "entry %s: chmod %o", x->name, (unsigned)mode);
  }
  return set_xattrs(x, e, fd, pfd, base, symlink, err);
}

static int set_times_at(struct extractor *x, struct archive_entry *e, int pfd,
                        const char *base, ctr_err *err) {
  struct timespec ts[2];
  entry_times(e, ts);
  if (ts[1].tv_nsec == UTIME_OMIT)
    return 0;
  if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return ctr_fail(err, errno, "entry %s: set times", x->name);
  return 0;
}

static int defer_dir_times(struct extractor *x, const char *path,
                           struct archive_entry *e, ctr_err *err) {
  struct dir_time *d;
  struct timespec ts[2];
  entry_times(e, ts);
  if (ts[1].tv_nsec == UTIME_OMIT)
    return 0;
  if (x->ndirs == x->dirs_cap) {
    size_t cap = x->dirs_cap ? x->dirs_cap * 2 : 64;
    struct dir_time *nd = realloc(x->dirs, cap * sizeof(*nd));
    if (nd == NULL)
      return ctr_fail(err, ENOMEM, "entry %s", x->name);
    x->dirs = nd;
    x->dirs_cap = cap;
  }
  d = &x->dirs[x->ndirs];
  d->path = strdup(path);
  if (d->path == NULL)
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  d->ts[0] = ts[0];
  d->ts[1] = ts[1];
  d->depth = 0;
  for (const char *p = path; *p; p++)
    d->depth += *p == '/';
  d->seq = x->ndirs++;
  return 0;
}

static int dir_time_cmp(const void *a, const void *b) {
  const struct dir_time *da = a, *db = b;
  int c;
  if (da->depth != db->depth)
    return da->depth > db->depth ? -1 : 1;
  c = strcmp(da->path, db->path);
  if (c != 0)
    return c;
  return da->seq < db->seq ? -1 : da->seq > db->seq;
}

/* Directory times last, deepest first: creating children changed them. A
 * directory later replaced by something else is skipped. */
static int apply_dir_times(struct extractor *x, ctr_err *err) {
  if (x->ndirs > 1)
    qsort(x->dirs, x->ndirs, sizeof(*x->dirs), dir_time_cmp);
  for (size_t i = 0; i < x->ndirs; i++) {
    struct dir_time *d = &x->dirs[i];
    char *slash = strrchr(d->path, '/');
    const char *base = d->path[0] == '\0' ? "." : d->path;
    struct stat st;
    int pfd = x->root;
    x->name = d->path;
    if (slash != NULL) {
      *slash = '\0';
      pfd = entry_parent(x, d->path, false, err);
      *slash = '/';
      base = slash + 1;
      if (pfd < 0)
        return -1;
    }
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
      continue;
    if (utimensat(pfd, base, d->ts, AT_SYMLINK_NOFOLLOW) < 0)
      return ctr_fail(err, errno, "directory %s: set times", d->path);
  }
  return 0;
}

/* ---- entry types ---------------------------------------------------- */

static int pwrite_all(int fd, const char *p, size_t len, off_t off) {
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    off += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Copy the entry's data blocks at their offsets, so holes stay holes. */
static int write_data(struct extractor *x, const struct layer_stream *st,
                      struct archive_entry *e, int fd, ctr_err *err) {
  int64_t size = archive_entry_size(e), end = 0;
  for (;;) {
    const void *buf;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(x->tar, &buf, &len, &off);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN)
      return read_fail(x, st, err);
    if (len == 0)
      continue;
    if (off < 0 || pwrite_all(fd, buf, len, (off_t)off) < 0)
      return ctr_fail(err, off < 0 ? EINVAL : errno, "entry %s: write", x->name);
    if (off + (int64_t)len > end)
      end = off + (int64_t)len;
  }
  if (size > end && ftruncate(fd, (off_t)size) < 0)
    return ctr_fail(err, errno, "entry %s: set size", x->name);
  return 0;
}

static int extract_file(struct extractor *x, const struct layer_stream *st,
                        struct archive_entry *e, int pfd, const char *base,
                        ctr_err *err) {
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  struct timespec ts[2];
  int fd = openat(pfd, base, flags, 0600);
  if (fd < 0 && errno == EEXIST) {
    if (remove_existing(x, pfd, base, err) < 0)
      return -1;
    fd = openat(pfd, base, flags, 0600);
  }
  if (fd < 0)
    return ctr_fail(err, errno, "entry %s: create", x->name);
  if (write_data(x, st, e, fd, err) < 0 ||
      set_metadata(x, e, fd, pfd, base, false, err) < 0)
    goto fail;
  entry_times(e, ts);
  if (ts[1].tv_nsec != UTIME_OMIT && futimens(fd, ts) < 0) {
    ctr_fail(err, errno, "entry %s: set times", x->name);
    goto fail;
  }
  if (close(fd) < 0)
    return ctr_fail(err, errno, "entry %s: write", x->name);
  return 0;
fail:
  close(fd);
  return -1;
}

static int extract_dir(struct extractor *x, struct archive_entry *e, int pfd,
                       const char *base, const char *path, ctr_err *err) {
  cleanup_close int fd = -1;
  if (mkdirat(pfd, base, 0700) < 0) {
    struct stat st;
    if (errno != EEXIST)
      return ctr_fail(err, errno, "entry %s: create directory", x->name);
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return ctr_fail(err, errno, "entry %s: stat", x->name);
    if (!S_ISDIR(st.st_mode)) {
      if (remove_existing(x, pfd, base, err) < 0)
        return -1;
      if (mkdirat(pfd, base, 0700) < 0)
        return ctr_fail(err, errno, "entry %s: create directory", x->name);
    }
  }
  fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "entry %s: open directory", x->name);
  if (set_metadata(x, e, fd, pfd, base, false, err) < 0)
    return -1;
  return defer_dir_times(x, path, e, err);
}

static int extract_root(struct extractor *x, struct archive_entry *e,
                        ctr_err *err) {
  cleanup_close int fd = -1;
  if (archive_entry_hardlink(e) != NULL || archive_entry_filetype(e) != AE_IFDIR)
    return ctr_fail(err, 0, "entry %s: the layer root must be a directory",
                    x->name);
  fd = openat(x->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "entry %s: open the layer root", x->name);
  if (set_metadata(x, e, fd, x->root, ".", false, err) < 0)
    return -1;
  return defer_dir_times(x, "", e, err);
}

static int extract_symlink(struct extractor *x, struct archive_entry *e,
                           int pfd, const char *base, ctr_err *err) {
  const char *target = archive_entry_symlink(e);
  if (target == NULL || target[0] == '\0')
    return ctr_fail(err, 0, "entry %s: symlink with an empty target", x->name);
  /* The target is stored verbatim and never followed by us. */
  if (symlinkat(target, pfd, base) < 0) {
    if (errno != EEXIST)
      return ctr_fail(err, errno, "entry %s: create symlink", x->name);
    if (remove_existing(x, pfd, base, err) < 0)
      return -1;
    if (symlinkat(target, pfd, base) < 0)
      return ctr_fail(err, errno, "entry %s: create symlink", x->name);
  }
  if (set_metadata(x, e, -1, pfd, base, true, err) < 0)
    return -1;
  return set_times_at(x, e, pfd, base, err);
}

static int extract_node(struct extractor *x, struct archive_entry *e, int pfd,
                        const char *base, mode_t type, ctr_err *err) {
  dev_t dev = type == S_IFIFO ? 0
                              : makedev(archive_entry_rdevmajor(e),
                                        archive_entry_rdevminor(e));
  if (mknodat(pfd, base, type | 0600, dev) < 0) {
    if (errno != EEXIST)
      return ctr_fail(err, errno, "entry %s: create node", x->name);
    if (remove_existing(x, pfd, base, err) < 0)
      return -1;
    if (mknodat(pfd, base, type | 0600, dev) < 0)
      return ctr_fail(err, errno, "entry %s: create node", x->name);
  }
  if (set_metadata(x, e, -1, pfd, base, false, err) < 0)
    return -1;
  return set_times_at(x, e, pfd, base, err);
}

/* A hardlink's target is another entry of this layer, resolved beneath the
 * root without following any symlink; a symlink itself may be linked. */
static int extract_hardlink(struct extractor *x, const struct layer_stream *st,
                            struct archive_entry *e, int pfd, const char *base,
                            const char *path, ctr_err *err) {
  cleanup_free char *target = strdup(archive_entry_hardlink(e));
  cleanup_free char *shown = NULL;
  cleanup_close int tfd = -1;
  const char *tparent, *tbase;
  if (target == NULL || (shown = strdup(target)) == NULL)
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  if (clean_path(target) < 0)
    return ctr_fail(err, 0, "entry %s: hardlink target %s escapes the layer",
                    x->name, shown);
  if (target[0] == '\0')
    return ctr_fail(err, 0, "entry %s: hardlink to the layer root", x->name);
  if (strcmp(target, path) == 0)
    return 0; /* a link to itself: nothing to do */
  split_path(target, &tparent, &tbase);
  if (tparent[0] == '\0')
    tfd = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
  else
    tfd = ctr_open_beneath(x->root, tparent, O_PATH | O_DIRECTORY);
  if (tfd < 0) {
    cleanup_free char *what = NULL;
    if (asprintf(&what, "hardlink target %s", shown) < 0)
      return ctr_fail(err, ENOMEM, "entry %s", x->name);
    return resolve_fail(x, errno, what, err);
  }
  if (linkat(tfd, tbase, pfd, base, 0) < 0) {
    if (errno != EEXIST)
      return ctr_fail(err, errno, "entry %s: hardlink to %s", x->name, shown);
    if (remove_existing(x, pfd, base, err) < 0)
      return -1;
    if (linkat(tfd, tbase, pfd, base, 0) < 0)
      return ctr_fail(err, errno, "entry %s: hardlink to %s", x->name, shown);
  }
  if (archive_entry_size(e) > 0) {
    /* pax lets a hardlink carry the file's data; only ever written into
     * a regular file, never a device the link might point at. */
    struct stat sb;
    int fd;
    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
      return 0;
    fd = openat(pfd, base, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return ctr_fail(err, errno, "entry %s: open", x->name);
    if (write_data(x, st, e, fd, err) < 0) {
      close(fd);
      return -1;
    }
    if (close(fd) < 0)
      return ctr_fail(err, errno, "entry %s: write", x->name);
  }
  return 0;
}

/* "dir/.wh.NAME" hides NAME of lower layers: a 0:0 character device for
 * overlayfs. "dir/.wh..wh..opq" hides all of dir's lower content. */
static int extract_whiteout(struct extractor *x, const char *parent,
                            const char *base, ctr_err *err) {
  const char *name = base + sizeof(WHITEOUT_PREFIX) - 1;
  int pfd = entry_parent(x, parent, true, err);
  if (pfd < 0)
    return -1;
  if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
    cleanup_close int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsetxattr(dfd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
      return ctr_fail(err, errno, "entry %s: mark directory opaque", x->name);
    return 0;
  }
  if (strncmp(base, WHITEOUT_META_PREFIX, sizeof(WHITEOUT_META_PREFIX) - 1) == 0)
    return 0; /* other aufs metadata (.wh..wh.plnk…): meaningless here */
  if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return ctr_fail(err, 0, "entry %s: invalid whiteout", x->name);
  if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0) {
    if (errno != EEXIST)
      return ctr_fail(err, errno, "entry %s: create whiteout", x->name);
    if (remove_existing(x, pfd, name, err) < 0)
      return -1;
    if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
      return ctr_fail(err, errno, "entry %s: create whiteout", x->name);
  }
  return 0;
}

static int extract_entry(struct extractor *x, const struct layer_stream *st,
                         struct archive_entry *e, ctr_err *err) {
  cleanup_free char *path = NULL, *whole = NULL;
  const char *parent, *base;
  int pfd;
  x->name = archive_entry_pathname(e);
  if (x->name == NULL || x->name[0] == '\0')
    return ctr_fail(err, 0, "entry with an empty name");
  path = strdup(x->name);
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  if (clean_path(path) < 0)
    return ctr_fail(err, 0, "entry %s: path escapes the layer", x->name);
  if (path[0] == '\0')
    return extract_root(x, e, err);
  whole = strdup(path);
  if (whole == NULL)
    return ctr_fail(err, ENOMEM, "entry %s", x->name);
  split_path(path, &parent, &base);
  if (is_whiteout(base))
    return extract_whiteout(x, parent, base, err);
  pfd = entry_parent(x, parent, true, err);
  if (pfd < 0)
    return -1;
  if (archive_entry_hardlink(e) != NULL)
    return extract_hardlink(x, st, e, pfd, base, whole, err);
  switch (archive_entry_filetype(e)) {
  case AE_IFREG:
    return extract_file(x, st, e, pfd, base, err);
  case AE_IFDIR:
    return extract_dir(x, e, pfd, base, whole, err);
  case AE_IFLNK:
    return extract_symlink(x, e, pfd, base, err);
  case AE_IFCHR:
    return extract_node(x, e, pfd, base, S_IFCHR, err);
  case AE_IFBLK:
    return extract_node(x, e, pfd, base, S_IFBLK, err);
  case AE_IFIFO:
    return extract_node(x, e, pfd, base, S_IFIFO, err);
  default:
    return ctr_fail(err, 0, "entry %s: unsupported file type 0%o", x->name,
                    (unsigned)archive_entry_filetype(e));
  }
}

/* ---- the layer ------------------------------------------------------ */

static int extract_all(struct extractor *x, struct layer_stream *st,
                       ctr_err *err) {
  for (;;) {
    struct archive_entry *e;
    int r;
    x->name = NULL; /* the last entry's name is freed by the next header */
    r = archive_read_next_header(x->tar, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN)
      return read_fail(x, st, err);
    if (extract_entry(x, st, e, err) < 0)
      return -1;
  }
  x->name = NULL;
  return apply_dir_times(x, err);
}

int image_layer_extract(int blob_fd, int dest_dirfd, const char *diff_id,
                        ctr_err *err) {
  struct layer_stream st = {0};
  struct extractor x = {.root = dest_dirfd, .cached_fd = -1,
                        .same_owner = geteuid() == 0};
  char got[CTR_DIGEST_LEN + 1];
  int ret = -1;

  if (stream_open(&st, blob_fd, err) < 0)
    goto out;
  x.tar = archive_read_new();
  if (x.tar == NULL) {
    ctr_fail(err, ENOMEM, "read layer");
    goto out;
  }
  archive_read_support_format_tar(x.tar); /* ustar, pax, GNU */
  if (archive_read_open(x.tar, &st, NULL, stream_read_cb, NULL) != ARCHIVE_OK) {
    read_fail(&x, &st, err);
    goto out;
  }
  if (extract_all(&x, &st, err) < 0 || stream_drain(&st, err) < 0)
    goto out;
  ctr_sha256_final(st.hash, got);
  st.hash = NULL;
  if (diff_id != NULL && strcmp(got, diff_id) != 0) {
    ctr_fail(err, 0, "diff_id mismatch (got %s)", got);
    goto out;
  }
  ret = 0;
out:
  if (x.tar != NULL)
    archive_read_free(x.tar);
  stream_close(&st);
  drop_cache(&x);
  for (size_t i = 0; i < x.ndirs; i++)
    free(x.dirs[i].path);
  free(x.dirs);
  return ret;
}
