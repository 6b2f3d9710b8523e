#define _GNU_SOURCE
#include "fs.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int random_suffix(char *buf, size_t len) {
  static const char chars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char r[16];
  cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
    return -1;
  for (size_t i = 0; i + 1 < len && i < sizeof(r); i++)
    buf[i] = chars[r[i] % (sizeof(chars) - 1)];
  buf[len - 1] = '\0';
  return 0;
}

int ctr_mkstemp_at(int dirfd, const char *prefix, char **name, ctr_err *err) {
  for (int tries = 0; tries < 100; tries++) {
    char suffix[11];
    char *n = NULL;
    int fd;
    if (random_suffix(suffix, sizeof(suffix)) < 0)
      return ctr_fail(err, errno, "read /dev/urandom");
    if (asprintf(&n, "%s.%s", prefix, suffix) < 0)
      return ctr_fail(err, ENOMEM, "temp name");
    fd = openat(dirfd, n, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      *name = n;
      return fd;
    }
    free(n);
    if (errno != EEXIST)
      return ctr_fail(err, errno, "create temp file %s.*", prefix);
  }
  return ctr_fail(err, EEXIST, "create temp file %s.*", prefix);
}

int ctr_mkdtemp_at(int dirfd, const char *prefix, char **name, ctr_err *err) {
  for (int tries = 0; tries < 100; tries++) {
    char suffix[11];
    char *n = NULL;
    if (random_suffix(suffix, sizeof(suffix)) < 0)
      return ctr_fail(err, errno, "read /dev/urandom");
    if (asprintf(&n, "%s.%s", prefix, suffix) < 0)
      return ctr_fail(err, ENOMEM, "temp name");
    if (mkdirat(dirfd, n, 0700) == 0) {
      *name = n;
      return 0;
    }
    free(n);
    if (errno != EEXIST)
      return ctr_fail(err, errno, "create temp directory %s.*", prefix);
  }
  return ctr_fail(err, EEXIST, "create temp directory %s.*", prefix);
}

int ctr_fsync_dir(int dirfd, ctr_err *err) {
  cleanup_close int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) < 0)
    return ctr_fail(err, errno, "fsync directory");
  return 0;
}

int ctr_atomic_write(int dirfd, const char *name, const void *buf, size_t len,
                     mode_t mode, bool durable, ctr_err *err) {
  cleanup_free char *tmp = NULL;
  cleanup_free char *dir = NULL;
  cleanup_close int dfd = -1;
  const char *slash = strrchr(name, '/');
  const char *base = slash ? slash + 1 : name;
  cleanup_free char *prefix = NULL;
  cleanup_close int fd = -1;

  /* The temp file must live in the target's own directory so the rename
   * is atomic; open that directory once and work relative to it. */
  if (slash != NULL) {
    dir = strndup(name, (size_t)(slash - name));
    if (dir == NULL)
      return ctr_fail(err, ENOMEM, "write %s", name);
    dfd = ctr_open_dir(dirfd, dir[0] ? dir : "/", err);
    if (dfd < 0)
      return ctr_wrap(err, "write %s", name);
  } else {
    dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (dirfd == AT_FDCWD)
      dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      return ctr_fail(err, errno, "write %s", name);
  }
  if (asprintf(&prefix, ".%s.tmp", base) < 0)
    return ctr_fail(err, ENOMEM, "write %s", name);
  fd = ctr_mkstemp_at(dfd, prefix, &tmp, err);
  if (fd < 0)
    return ctr_wrap(err, "write %s", name);
  if (write_all(fd, buf, len) < 0 || fchmod(fd, mode) < 0 ||
      (durable && fsync(fd) < 0)) {
    int e = errno;
    unlinkat(dfd, tmp, 0);
    return ctr_fail(err, e, "write %s", name);
  }
  if (renameat(dfd, tmp, dfd, base) < 0) {
    int e = errno;
    unlinkat(dfd, tmp, 0);
    return ctr_fail(err, e, "rename into %s", name);
  }
  if (durable && fsync(dfd) < 0)
    return ctr_fail(err, errno, "fsync directory of %s", name);
  return 0;
}

int ctr_open_dir(int dirfd, const char *path, ctr_err *err) {
  int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", path);
  return fd;
}

int ctr_mkdir_p(int dirfd, const char *path, mode_t mode, ctr_err *err) {
  cleanup_free char *copy = strdup(path);
  char *p;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "mkdir %s", path);
  for (p = copy + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdirat(dirfd, copy, mode) < 0 && errno != EEXIST)
        return ctr_fail(err, errno, "mkdir %s", copy);
      *p = saved;
      if (saved == '\0')
        break;
    }
  }
  return 0;
}

static int rm_rf_at(int parent, const char *name, ctr_err *err) {
  cleanup_close int fd = -1;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return ctr_fail(err, errno, "remove %s", name);
  fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", name);
  d = fdopendir(fd);
  if (d == NULL)
    return ctr_fail(err, errno, "read %s", name);
  fd = -1; /* owned by d now */
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (rm_rf_at(dirfd(d), de->d_name, err) < 0)
      return ctr_wrap(err, "%s", name);
  }
  if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "remove %s", name);
  return 0;
}

int ctr_rm_rf(int dirfd, const char *name, ctr_err *err) {
  return rm_rf_at(dirfd, name, err);
}

int ctr_read_fd(int fd, size_t max, char **out, size_t *len, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t used = 0, cap = 0;
  for (;;) {
    ssize_t n;
    if (used + 1 >= cap) {
      char *nb;
      cap = cap ? cap * 2 : 4096;
      nb = realloc(buf, cap);
      if (nb == NULL)
        return ctr_fail(err, ENOMEM, "read");
      buf = nb;
    }
    n = read(fd, buf + used, cap - used - 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ctr_fail(err, errno, "read");
    }
    if (n == 0)
      break;
    used += (size_t)n;
    if (used > max)
      return ctr_fail(err, EFBIG, "read");
  }
  buf[used] = '\0';
  *out = ctr_steal(buf);
  if (len)
    *len = used;
  return 0;
}

int ctr_read_file(int dirfd, const char *path, size_t max, char **out,
                  size_t *len, ctr_err *err) {
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", path);
  if (ctr_read_fd(fd, max, out, len, err) < 0)
    return ctr_wrap(err, "%s", path);
  return 0;
}

static int du_at(int parent, const char *name, off_t *bytes, ctr_err *err) {
  struct stat st;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return ctr_fail(err, errno, "stat %s", name);
  *bytes += (off_t)st.st_blocks * 512;
  if (!S_ISDIR(st.st_mode))
    return 0;
  fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", name);
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return ctr_fail(err, errno, "read %s", name);
  }
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (du_at(dirfd(d), de->d_name, bytes, err) < 0)
      return -1;
  }
  return 0;
}

int ctr_du(int dirfd, const char *name, off_t *bytes, ctr_err *err) {
  *bytes = 0;
  return du_at(dirfd, name, bytes, err);
}

/* Where openat2 is missing (kernels before 5.6, valgrind, some seccomp
 * profiles): the same walk by hand, one component at a time, none of them
 * followed. Paths here are clean (no "..", ".", or empty components), so
 * this cannot leave dirfd either. */
static int walk_beneath(int dirfd, const char *path, int flags) {
  cleanup_free char *copy = strdup(path);
  char *comp, *next, *save = NULL;
  int cur = dirfd;
  if (copy == NULL) {
    errno = ENOMEM;
    return -1;
  }
  for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = next) {
    struct stat st;
    int fd;
    next = strtok_r(NULL, "/", &save);
    fd = openat(cur, comp,
                (next ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP) &&
        fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
      errno = ELOOP;
    if (cur != dirfd) {
      int e = errno;
      close(cur);
      errno = e;
    }
    if (fd < 0)
      return -1;
    cur = fd;
  }
  if (cur == dirfd)
    return openat(dirfd, ".", flags | O_CLOEXEC);
  return cur;
}

int ctr_open_beneath(int dirfd, const char *path, int flags) {
  static int no_openat2; /* set once, read by every thread */
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  int fd, tries = 0;
  if (__atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
    return walk_beneath(dirfd, path, flags);
  do
    fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 16)));
  if (fd < 0 && errno == ENOSYS) {
    __atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
    return walk_beneath(dirfd, path, flags);
  }
  return fd;
}

DIR *ctr_opendir_at(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  if (fd < 0)
    return NULL;
  d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    errno = e;
  }
  return d;
}
