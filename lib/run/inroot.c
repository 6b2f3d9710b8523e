#define _GNU_SOURCE
#include "inroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cleanup.h"

/* As the kernel: more links than this in one lookup is a loop. */
#define INROOT_MAX_LINKS 40

char *run_path_clean(const char *path) {
  size_t o = 0;
  char *out = malloc(strlen(path) + 2);
  if (out == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  for (const char *p = path; *p;) {
    const char *end;
    size_t n;
    while (*p == '/')
      p++;
    end = strchrnul(p, '/');
    n = (size_t)(end - p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      while (o > 0 && out[o - 1] != '/')
        o--;
      if (o > 0)
        o--;
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      out[o++] = '/';
      memcpy(out + o, p, n);
      o += n;
    }
    p = end;
  }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  return out;
}

static int openat2_in_root(int root_fd, const char *rel) {
  struct open_how how = {
      .flags = O_PATH | O_CLOEXEC,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd, tries = 0;
  /* EAGAIN: a rename or mount raced the lookup; the kernel asks to retry. */
  do
    fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 32)));
  return fd;
}

/* The directories walked so far, each held open: ".." pops one, so it is
 * never asked of the kernel and cannot climb above the root. */
struct walk {
  int root;
  int *fds;
  size_t n, cap;
};

static int walk_top(const struct walk *w) { return w->n ? w->fds[w->n - 1] : w->root; }

static void walk_pop(struct walk *w) {
  if (w->n > 0)
    close(w->fds[--w->n]);
}

static int walk_push(struct walk *w, int fd) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    int *fds = realloc(w->fds, cap * sizeof(*fds));
    if (fds == NULL) {
      errno = ENOMEM;
      return -1;
    }
    w->fds = fds;
    w->cap = cap;
  }
  w->fds[w->n++] = fd;
  return 0;
}

static void walk_free(struct walk *w) {
  int saved = errno;
  while (w->n > 0)
    walk_pop(w);
  free(w->fds);
  errno = saved;
}

/* dirfd/name without following it, created first when missing and asked
 * to. A symlink comes back as itself (O_PATH|O_NOFOLLOW). */
static int open_or_create(int dirfd, const char *name, enum run_inroot_create how) {
  for (int tries = 0; tries < 8; tries++) {
    int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || how == RUN_INROOT_EXISTING)
      return fd;
    if (how == RUN_INROOT_MKFILE) {
      /* O_EXCL never follows a (dangling) symlink: EEXIST instead. */
      fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0)
        close(fd);
    } else {
      fd = mkdirat(dirfd, name, 0755);
    }
    if (fd < 0 && errno != EEXIST)
      return -1;
  }
  errno = EAGAIN;
  return -1;
}

static char *read_link(int fd) {
  for (size_t size = 256; size <= PATH_MAX * 2; size *= 2) {
    char *buf = malloc(size);
    ssize_t n;
    if (buf == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    n = readlinkat(fd, "", buf, size);
    if (n < 0) {
      free(buf);
      return NULL;
    }
    if ((size_t)n < size) {
      buf[n] = '\0';
      return buf;
    }
    free(buf);
  }
  errno = ENAMETOOLONG;
  return NULL;
}

static bool only_slashes(const char *p) {
  while (*p == '/')
    p++;
  return *p == '\0';
}

/* Follow the symlink fd inside the root: its target replaces it in the
 * path still to walk; an absolute one starts again from the root. */
static int walk_follow(struct walk *w, int fd, char **todo, const char **rest) {
  cleanup_free char *target = read_link(fd);
  char *next = NULL;
  if (target == NULL)
    return -1;
  if (target[0] == '/')
    while (w->n > 0)
      walk_pop(w);
  if (asprintf(&next, "%s/%s", target, *rest) < 0) {
    errno = ENOMEM;
    return -1;
  }
  free(*todo);
  *todo = next;
  *rest = next;
  return 0;
}

static int walk_in_root(int root_fd, const char *path, enum run_inroot_create how) {
  struct walk w = {.root = root_fd};
  char *todo = strdup(path);
  const char *p = todo;
  int links = 0, fd = -1;
  if (todo == NULL) {
    errno = ENOMEM;
    return -1;
  }
  for (;;) {
    char name[NAME_MAX + 1];
    const char *end;
    struct stat st;
    bool last;
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    end = strchrnul(p, '/');
    if ((size_t)(end - p) > NAME_MAX) {
      errno = ENAMETOOLONG;
      goto fail;
    }
    memcpy(name, p, (size_t)(end - p));
    name[end - p] = '\0';
    p = end;
    if (strcmp(name, ".") == 0)
      continue;
    if (strcmp(name, "..") == 0) {
      walk_pop(&w);
      continue;
    }
    last = only_slashes(p);
    fd = open_or_create(walk_top(&w), name,
                        last || how == RUN_INROOT_EXISTING ? how : RUN_INROOT_MKDIR);
    if (fd < 0 || fstat(fd, &st) < 0)
      goto fail;
    if (S_ISLNK(st.st_mode)) {
      if (++links > INROOT_MAX_LINKS) {
        errno = ELOOP;
        goto fail;
      }
      if (walk_follow(&w, fd, &todo, &p) < 0)
        goto fail;
      close(fd);
      fd = -1;
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      goto fail;
    }
    if (walk_push(&w, fd) < 0)
      goto fail;
    fd = -1;
  }
  free(todo);
  if (w.n == 0) {
    walk_free(&w);
    return openat(root_fd, ".", O_PATH | O_CLOEXEC);
  }
  fd = w.fds[--w.n];
  walk_free(&w);
  return fd;
fail:
  if (fd >= 0) {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  free(todo);
  walk_free(&w);
  return -1;
}

int run_inroot_open(int root_fd, const char *path, enum run_inroot_create how) {
  static int no_openat2; /* set once, read by every thread */
  cleanup_free char *clean = run_path_clean(path);
  const char *rel;
  if (clean == NULL)
    return -1;
  rel = clean[1] ? clean + 1 : ".";
  if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
    int fd = openat2_in_root(root_fd, rel);
    if (fd >= 0)
      return fd;
    if (errno == ENOSYS)
      __atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
    else if (errno != ENOENT || how == RUN_INROOT_EXISTING)
      return -1;
  }
  /* Something is missing and must be created (or openat2 is not there):
   * the same resolution, one component at a time. */
  return walk_in_root(root_fd, rel, how);
}
