#define _GNU_SOURCE
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"

int ctr_lock(const struct ctr_paths *paths, const char *name, int op,
             ctr_err *err) {
  cleanup_close int dfd = ctr_paths_open(paths->rundir, "locks", err);
  cleanup_free char *file = NULL;
  int fd;
  if (dfd < 0)
    return ctr_wrap(err, "lock %s", name);
  if (asprintf(&file, "%s.lock", name) < 0)
    return ctr_fail(err, ENOMEM, "lock %s", name);
  fd = openat(dfd, file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return ctr_fail(err, errno, "lock %s", name);
  while (flock(fd, op) < 0) {
    if (errno == EINTR)
      continue;
    close(fd);
    return ctr_fail(err, errno, "lock %s", name);
  }
  return fd;
}
