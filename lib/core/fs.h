/* Files and directories as the layout's rules require: atomic replaces,
 * durable where it matters, and recursive removal that never follows a
 * symlink out of the tree it was given. */
#ifndef CTR_CORE_FS_H
#define CTR_CORE_FS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Write buf to dirfd/name atomically: a temp file in the same directory,
 * then rename. With durable, the file and the directory are fsynced. */
int ctr_atomic_write(int dirfd, const char *name, const void *buf, size_t len,
                     mode_t mode, bool durable, ctr_err *err);
int ctr_fsync_dir(int dirfd, ctr_err *err);
/* Like mkdir -p, relative to dirfd (AT_FDCWD for plain paths). */
int ctr_mkdir_p(int dirfd, const char *path, mode_t mode, ctr_err *err);
/* Open a directory (O_DIRECTORY|O_CLOEXEC); returns fd or -1. */
int ctr_open_dir(int dirfd, const char *path, ctr_err *err);
/* A DIR over dirfd's directory with an open file description of its own
 * (a dup would share dirfd's offset, found at its end after an earlier
 * listing); NULL with errno set. */
DIR *ctr_opendir_at(int dirfd);
/* Remove dirfd/name and everything below it; missing is not an error. */
int ctr_rm_rf(int dirfd, const char *name, ctr_err *err);
/* Read a whole (small) file; *out is NUL-terminated and owned by caller. */
int ctr_read_file(int dirfd, const char *path, size_t max, char **out,
                  size_t *len, ctr_err *err);
/* Open dirfd/path without leaving dirfd and without following any symlink
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component-by-component
 * walk where openat2 is missing, as under valgrind). path must be clean:
 * no "..", "." or empty components. Returns fd or -1 with errno (ELOOP
 * for a symlink, EXDEV for an escape). */
int ctr_open_beneath(int dirfd, const char *path, int flags);
/* Read all of fd (at most max bytes). */
int ctr_read_fd(int fd, size_t max, char **out, size_t *len, ctr_err *err);
/* A unique temp name "prefix.XXXXXX" created with mkdtemp/mkstemp under
 * dirfd; returns the fd (file) or 0 (dir) and the name in *name. */
int ctr_mkstemp_at(int dirfd, const char *prefix, char **name, ctr_err *err);
int ctr_mkdtemp_at(int dirfd, const char *prefix, char **name, ctr_err *err);
/* Sum of st_blocks*512 of a tree (du -s). */
int ctr_du(int dirfd, const char *name, off_t *bytes, ctr_err *err);

#endif
