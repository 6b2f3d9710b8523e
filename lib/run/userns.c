#define _GNU_SOURCE
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"

#define BLOCK 65536u
#define MAX_RANGES 64
/* systemd's range for container ids (see systemd's UIDS-GIDS.md) */
#define DEFAULT_START 524288u
#define DEFAULT_END 1879048192u

size_t run_subid_parse(const char *text, const char *name, const char *uid, uint64_t *starts,
                       uint64_t *counts, size_t max) {
  size_t n = 0;
  for (const char *line = text; line && *line && n < max;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char buf[256], *who, *s, *c, *end1, *end2;
    unsigned long long start, count;
    if (len < sizeof(buf) && line[0] != '#') {
      memcpy(buf, line, len);
      buf[len] = '\0';
      who = buf;
      s = strchr(who, ':');
      c = s ? strchr(s + 1, ':') : NULL;
      if (c != NULL) {
        *s++ = '\0';
        *c++ = '\0';
        errno = 0;
        start = strtoull(s, &end1, 10);
        count = strtoull(c, &end2, 10);
        if (!errno && end1 != s && !*end1 && end2 != c && !*end2 && count > 0 &&
            start + count <= 0xffffffffull &&
            (strcmp(who, name) == 0 || (uid != NULL && strcmp(who, uid) == 0))) {
          starts[n] = start;
          counts[n] = count;
          n++;
        }
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return n;
}

/* The blocks of 65536 ids the ranges of file hold for "containers". */
static size_t load_ranges(const char *file, uint64_t *starts, uint64_t *counts) {
  cleanup_free char *text = NULL;
  size_t len = 0, n;
  ctr_err e = NULL;
  char uid[32] = "";
  struct passwd *pw = getpwnam("containers");
  if (pw != NULL)
    snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
  if (ctr_read_file(AT_FDCWD, file, 1 << 20, &text, &len, &e) < 0) {
    ctr_err_free(&e);
    text = NULL;
  }
  n = text ? run_subid_parse(text, "containers", uid[0] ? uid : NULL, starts, counts, MAX_RANGES)
           : 0;
  if (n == 0) {
    starts[0] = DEFAULT_START;
    counts[0] = DEFAULT_END - DEFAULT_START;
    n = 1;
  }
  return n;
}

/* The host id of block k across the ranges, or -1 past their end. */
static int64_t block_start(const uint64_t *starts, const uint64_t *counts, size_t n, uint64_t k) {
  for (size_t i = 0; i < n; i++) {
    uint64_t blocks = counts[i] / BLOCK;
    if (k < blocks)
      return (int64_t)(starts[i] + k * BLOCK);
    k -= blocks;
  }
  return -1;
}

static bool overlaps(uint64_t a, uint64_t b) {
  return a < b + BLOCK && b < a + BLOCK;
}

int run_userns_of(const struct run_container *c, struct run_idmap *m) {
  json_t *u = json_object_get(c->state, "userns");
  if (!json_is_object(u))
    return 0;
  m->uid = (uint32_t)json_integer_value(json_object_get(u, "uid"));
  m->gid = (uint32_t)json_integer_value(json_object_get(u, "gid"));
  m->size = (uint32_t)json_integer_value(json_object_get(u, "size"));
  return m->size > 0;
}

int run_userns_allocate(const struct ctr_paths *p, struct run_container *c,
                        struct run_idmap *m, ctr_err *err) {
  uint64_t us[MAX_RANGES], uc[MAX_RANGES], gs[MAX_RANGES], gc[MAX_RANGES];
  size_t nu = load_ranges("/etc/subuid", us, uc), ng = load_ranges("/etc/subgid", gs, gc);
  cleanup_close int lock = ctr_lock(p, "userns", LOCK_EX, err);
  cleanup_json json_t *all = NULL;
  if (lock < 0 || run_container_list(p, &all, err) < 0)
    return -1;
  for (uint64_t k = 0;; k++) {
    int64_t u = block_start(us, uc, nu, k), g = block_start(gs, gc, ng, k);
    bool taken = false;
    size_t i;
    json_t *st;
    if (u < 0 || g < 0)
      return ctr_fail(err, ENOSPC,
                      "--userns auto: every block of %u ids in the subordinate ranges of "
                      "\"containers\" is taken",
                      BLOCK);
    json_array_foreach(all, i, st) {
      json_t *o = json_object_get(st, "userns");
      if (json_is_object(o) && strcmp(ctr_json_str(st, "id") ? ctr_json_str(st, "id") : "", c->id) &&
          (overlaps((uint64_t)u, (uint64_t)json_integer_value(json_object_get(o, "uid"))) ||
           overlaps((uint64_t)g, (uint64_t)json_integer_value(json_object_get(o, "gid")))))
        taken = true;
    }
    if (taken)
      continue;
    m->uid = (uint32_t)u;
    m->gid = (uint32_t)g;
    m->size = BLOCK;
    break;
  }
  /* recorded before the lock goes, so the next container sees it */
  json_object_set_new(c->state, "userns", json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)m->uid,
                                                    "gid", (json_int_t)m->gid, "size",
                                                    (json_int_t)m->size));
  return run_container_save(c, false, err);
}

static int write_map(pid_t pid, const char *file, uint32_t host, uint32_t size, ctr_err *err) {
  char path[64], map[64];
  cleanup_close int fd = -1;
  int len = snprintf(map, sizeof(map), "0 %u %u\n", host, size);
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, map, (size_t)len) != len)
    return ctr_fail(err, errno, "write %s", path);
  return 0;
}

int run_userns_fd(const struct run_idmap *m, ctr_err *err) {
  int ready[2], ns = -1;
  char c;
  pid_t pid;
  if (pipe2(ready, O_CLOEXEC) < 0)
    return ctr_fail(err, errno, "pipe");
  pid = fork();
  if (pid < 0) {
    close(ready[0]);
    close(ready[1]);
    return ctr_fail(err, errno, "fork");
  }
  if (pid == 0) {
    /* a process only to hold the namespace while it is mapped and opened */
    close(ready[0]);
    if (unshare(CLONE_NEWUSER) < 0)
      _exit(1);
    if (write(ready[1], "x", 1) != 1)
      _exit(1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  if (read(ready[0], &c, 1) != 1) {
    ctr_fail(err, 0, "a user namespace for the idmapped layers could not be made");
  } else if (write_map(pid, "uid_map", m->uid, m->size, err) == 0 &&
             write_map(pid, "gid_map", m->gid, m->size, err) == 0) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0)
      ctr_fail(err, errno, "open %s", path);
  }
  close(ready[0]);
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return ns;
}
