#define _GNU_SOURCE
#include "volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"
#include "inroot.h"

extern char **environ;

int run_volume_names(size_t n, json_t **names, ctr_err *err) {
  cleanup_close int fd = -1;
  *names = json_array();
  if (*names == NULL)
    return ctr_fail(err, ENOMEM, "volumes");
  if (n > 0)
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  for (size_t i = 0; i < n; i++) {
    unsigned char r[32];
    char hex[65];
    if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
      json_decref(*names);
      *names = NULL;
      return ctr_fail(err, errno, "read /dev/urandom");
    }
    for (int k = 0; k < 32; k++)
      snprintf(hex + 2 * k, 3, "%02x", r[k]);
    json_array_append_new(*names, json_string(hex));
  }
  return 0;
}

/* The image's files at dst into the new, empty data directory: `cp -a`
 * from a directory opened inside the root, so no symlink of the image
 * can make it read the host (cp -a copies links as links). */
static int populate(int root_fd, const char *dst, const char *data, ctr_err *err) {
  cleanup_close int dir = -1;
  int src_fd, status = 0, rc;
  char src[64];
  struct stat st;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  dir = run_inroot_open(root_fd, dst, RUN_INROOT_EXISTING);
  if (dir < 0 || fstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
    return 0; /* nothing there in the image: the volume starts empty */
  /* owner and mode of the mount point are the image's, as docker does */
  if (chown(data, st.st_uid, st.st_gid) < 0 || chmod(data, st.st_mode & 07777) < 0)
    return ctr_fail(err, errno, "volume %s", data);
  src_fd = fcntl(dir, F_DUPFD, 10); /* without CLOEXEC: cp reads it */
  if (src_fd < 0)
    return ctr_fail(err, errno, "volume %s", dst);
  snprintf(src, sizeof(src), "/proc/self/fd/%d/.", src_fd);
  {
    char *argv[] = {"cp", "-a", "--", src, (char *)data, NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, "cp", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
  }
  close(src_fd);
  if (rc != 0)
    return ctr_fail(err, rc, "volume %s: run cp", dst);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return ctr_fail(err, 0, "volume %s: copying the image's files failed", dst);
  return 0;
}

int run_volumes_prepare(const struct ctr_paths *p, const json_t *config, int root_fd,
                        json_t *made, ctr_err *err) {
  cleanup_free char *vols = NULL;
  cleanup_close int lock = -1;
  size_t i, vlen;
  json_t *m;
  if (asprintf(&vols, "%s/volumes/", p->root) < 0)
    return ctr_fail(err, ENOMEM, "volumes");
  vlen = strlen(vols);
  json_array_foreach(json_object_get(config, "mounts"), i, m) {
    const char *src = ctr_json_str(m, "source"), *dst = ctr_json_str(m, "destination");
    const char *name;
    cleanup_free char *vdir = NULL;
    struct stat st;
    if (src == NULL || dst == NULL || strcmp(ctr_json_str(m, "type"), "bind") != 0)
      continue;
    if (strncmp(src, vols, vlen) != 0) {
      /* a host path: made if missing, as docker does */
      if (stat(src, &st) < 0 && ctr_mkdir_p(AT_FDCWD, src, 0755, err) < 0)
        return ctr_wrap(err, "-v %s", src);
      continue;
    }
    /* two containers making the same new volume: one fills it */
    if (lock < 0 && (lock = ctr_lock(p, "volumes", LOCK_EX, err)) < 0)
      return -1;
    if (stat(src, &st) == 0)
      continue;
    name = src + vlen;
    if (asprintf(&vdir, "%.*s", (int)(strcspn(name, "/")), name) < 0)
      return ctr_fail(err, ENOMEM, "volumes");
    if (ctr_mkdir_p(AT_FDCWD, src, 0755, err) < 0)
      return ctr_wrap(err, "volume %s", vdir);
    json_array_append_new(made, json_string(vdir));
    if (populate(root_fd, dst, src, err) < 0)
      return -1;
  }
  return 0;
}

int run_volumes_remove(const struct ctr_paths *p, const json_t *list, ctr_err *err) {
  cleanup_close int lock = -1;
  cleanup_close int dfd = -1;
  ctr_err first = NULL, e = NULL;
  size_t i;
  json_t *v;
  if (json_array_size(list) == 0)
    return 0;
  lock = ctr_lock(p, "volumes", LOCK_EX, err);
  if (lock < 0)
    return -1;
  dfd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int vfd = openat(dfd, "volumes", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    close(dfd);
    dfd = vfd;
  }
  if (dfd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "%s/volumes", p->root);
  json_array_foreach(list, i, v) {
    const char *name = json_is_string(v) ? json_string_value(v) : ctr_json_str(v, "name");
    if (name == NULL || name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL) {
      ctr_warn("not removing volume %s: not a volume name", name ? name : "(none)");
      continue;
    }
    if (ctr_rm_rf(dfd, name, &e) < 0) {
      ctr_wrap(&e, "remove volume %s", name);
      if (first == NULL)
        first = e;
      else
        ctr_err_free(&e);
      e = NULL;
    }
  }
  if (first != NULL) {
    *err = first;
    return -1;
  }
  return 0;
}
