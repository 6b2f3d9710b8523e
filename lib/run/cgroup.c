#define _GNU_SOURCE
#include "run/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/log.h"
#include "run/devices_bpf.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_MOUNT "/sys/fs/cgroup"
#define CGROUP_FILE_MAX (16 << 20) /* cgroup.procs of a big container */
/* v1 reports "no limit" as PAGE_COUNTER_MAX pages: just under INT64_MAX. */
#define V1_UNLIMITED (INT64_MAX - 2 * 1024 * 1024)

/* Set by tests before any cgroup work; read-only afterwards. */
static char *fake_root;
static int fake_version;

void run_cgroup_set_root_for_tests(const char *root, int version) {
  free(fake_root);
  fake_root = root ? strdup(root) : NULL;
  fake_version = version;
}

static const char *mount_root(void) { return fake_root ? fake_root : CGROUP_MOUNT; }

int run_cgroup_version(void) {
  struct statfs fs;
  if (fake_root != NULL)
    return fake_version;
  if (statfs(CGROUP_MOUNT, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
    return 2;
  return 1;
}

/* The v1 hierarchies a container joins, by their directory under the mount
 * root. cpu and cpuacct are often co-mounted (one is then a symlink). */
enum hier { H_MEMORY, H_CPU, H_CPUACCT, H_PIDS, H_DEVICES, H_FREEZER, H_CPUSET, H_BLKIO, H_SYSTEMD, H_COUNT };
static const char *const hier_dir[H_COUNT] = {
    "memory", "cpu", "cpuacct", "pids", "devices", "freezer", "cpuset", "blkio", "systemd",
};

struct run_cgroup {
  int version;
  char *path;           /* "ctr/<id>", no leading slash */
  char *unified;        /* v2: the cgroup's directory */
  char *dir[H_COUNT];   /* v1: its directory per hierarchy; NULL where absent */
  bool alias[H_COUNT];  /* v1: same hierarchy as an earlier entry: made and removed once */
};

/* ---- small file helpers: every error names the file (and the value) ---- */

static char *join(const char *dir, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, name) < 0)
    return NULL;
  return p;
}

static bool cg_exists(const char *dir, const char *file) {
  cleanup_free char *p = join(dir, file);
  return p != NULL && access(p, F_OK) == 0;
}

/* Optional interface files (memsw, cgroup.kill, …): present on this
 * kernel, or on a fake tree where every file can be written. */
static bool cg_writable(const char *dir, const char *file) {
  return fake_root != NULL || cg_exists(dir, file);
}

static int cg_write(const char *dir, const char *file, const char *value, ctr_err *err) {
  cleanup_free char *p = join(dir, file);
  cleanup_close int fd = -1;
  size_t len = strlen(value);
  ssize_t n;
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "write %s to %s/%s", value, dir, file);
  fd = open(p, O_WRONLY | O_CLOEXEC | (fake_root ? O_CREAT | O_TRUNC : 0), 0644);
  if (fd < 0)
    return ctr_fail(err, errno, "write %s to %s", value, p);
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return ctr_fail(err, errno, "write %s to %s", value, p);
  if ((size_t)n != len)
    return ctr_fail(err, EIO, "write %s to %s: short write", value, p);
  return 0;
}

static int cg_write_int(const char *dir, const char *file, int64_t v, ctr_err *err) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return cg_write(dir, file, buf, err);
}

/* Read a whole interface file. With `optional`, a missing file gives
 * *out == NULL and success. */
static int cg_read(const char *dir, const char *file, bool optional, char **out, ctr_err *err) {
  cleanup_free char *p = join(dir, file);
  ctr_err e = NULL;
  *out = NULL;
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "read %s/%s", dir, file);
  if (ctr_read_file(AT_FDCWD, p, CGROUP_FILE_MAX, out, NULL, &e) < 0) {
    if (optional && e != NULL && e->errnum == ENOENT) {
      ctr_err_free(&e);
      return 0;
    }
    if (err != NULL) {
      ctr_err_free(err);
      *err = e;
    } else {
      ctr_err_free(&e);
    }
    return -1;
  }
  return 0;
}

/* "key value" lines (memory.oom_control, memory.events, cpu.stat). */
static bool kv_get(const char *text, const char *key, int64_t *val) {
  size_t klen = strlen(key);
  for (const char *line = text; line != NULL && *line; line = strchr(line, '\n')) {
    if (*line == '\n')
      line++;
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      *val = strtoll(line + klen + 1, NULL, 10);
      return true;
    }
  }
  return false;
}

/* A single number, or "max" (-1); a missing file gives -1 too. */
static int cg_read_int(const char *dir, const char *file, int64_t *v, ctr_err *err) {
  cleanup_free char *text = NULL;
  char *end;
  *v = -1;
  if (dir == NULL)
    return 0;
  if (cg_read(dir, file, true, &text, err) < 0)
    return -1;
  if (text == NULL || strncmp(text, "max", 3) == 0)
    return 0;
  errno = 0;
  *v = strtoll(text, &end, 10);
  if (errno != 0 || end == text)
    return ctr_fail(err, 0, "%s/%s: not a number: %.40s", dir, file, text);
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ---- directories ---- */

/* The directories this create made, so a failure can take them back. */
struct made {
  char **dirs;
  size_t n, cap;
};

static int made_push(struct made *m, const char *dir, ctr_err *err) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    char **d = realloc(m->dirs, cap * sizeof(*d));
    if (d == NULL)
      return ctr_fail(err, ENOMEM, "create cgroup %s", dir);
    m->dirs = d;
    m->cap = cap;
  }
  if ((m->dirs[m->n] = strdup(dir)) == NULL)
    return ctr_fail(err, ENOMEM, "create cgroup %s", dir);
  m->n++;
  return 0;
}

/* On a fake tree the interface files are plain files that rmdir would
 * refuse; on cgroupfs they vanish with the directory. */
static void fake_unlink_files(const char *dir) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  if (fake_root == NULL || (d = opendir(dir)) == NULL)
    return;
  while ((de = readdir(d)) != NULL)
    if (de->d_type == DT_REG)
      unlinkat(dirfd(d), de->d_name, 0);
}

/* Remove what this create made, deepest first. Only plain rmdir: a parent
 * such as "ctr" may meanwhile hold another container's cgroup, which then
 * keeps it (ENOTEMPTY) and is never touched. */
static void made_rollback(struct made *m) {
  while (m->n > 0) {
    char *dir = m->dirs[--m->n];
    fake_unlink_files(dir);
    if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
      ctr_debug("cgroup: cannot remove %s: %s", dir, strerror(errno));
    free(dir);
  }
}

static void made_free(struct made *m) {
  for (size_t i = 0; i < m->n; i++)
    free(m->dirs[i]);
  free(m->dirs);
  m->dirs = NULL;
  m->n = m->cap = 0;
}

/* mkdir -p base/path, recording each directory made. The last component
 * must be new: an existing cgroup belongs to someone else (or to a
 * container that was never removed). */
static int mkdir_chain(const char *base, const char *path, struct made *made, ctr_err *err) {
  cleanup_free char *full = join(base, path);
  size_t start = strlen(base) + 1;
  if (full == NULL)
    return ctr_fail(err, ENOMEM, "create cgroup %s/%s", base, path);
  /* Another create rolling back may remove a parent between our mkdirs
   * (ENOENT): start over, a few times. */
  for (int tries = 0;; tries++) {
    bool again = false;
    for (char *p = full + start;; p++) {
      char saved = *p;
      if (saved != '/' && saved != '\0')
        continue;
      *p = '\0';
      if (mkdir(full, 0755) == 0) {
        if (made_push(made, full, err) < 0)
          return -1;
      } else if (errno == ENOENT && tries < 3) {
        again = true;
      } else if (errno != EEXIST || saved == '\0') {
        return ctr_fail(err, errno, "create cgroup %s", full);
      }
      *p = saved;
      if (saved == '\0' || again)
        break;
    }
    if (!again)
      return 0;
  }
}

static int rmdir_retry(const char *dir, ctr_err *err) {
  /* EBUSY: processes just killed have not finished exiting yet. */
  for (int i = 0;; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY || i >= 300)
      return ctr_fail(err, errno, "remove cgroup %s", dir);
    sleep_ms(10);
  }
}

/* Remove dir and every cgroup below it, deepest first. */
static int remove_tree(const char *dir, ctr_err *err) {
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  if (d == NULL)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "remove cgroup %s", dir);
  while ((de = readdir(d)) != NULL) {
    cleanup_free char *sub = NULL;
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if ((sub = join(dir, de->d_name)) == NULL)
      return ctr_fail(err, ENOMEM, "remove cgroup %s", dir);
    if (de->d_type == DT_DIR ||
        (de->d_type == DT_UNKNOWN && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))) {
      if (remove_tree(sub, err) < 0)
        return -1;
    } else if (fake_root != NULL) {
      unlink(sub);
    }
  }
  return rmdir_retry(dir, err);
}

/* "ctr/<id>", "/ctr/<id>" -> "ctr/<id>"; refuses "..", "." and "//". */
static int clean_path(const char *path, char **out, ctr_err *err) {
  const char *p = path;
  while (*p == '/')
    p++;
  if (*p == '\0')
    return ctr_fail(err, EINVAL, "cgroup path '%s'", path);
  for (const char *c = p; *c;) {
    size_t len = strcspn(c, "/");
    if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
      return ctr_fail(err, EINVAL, "cgroup path '%s'", path);
    c += len;
    if (*c == '/' && *++c == '\0')
      return ctr_fail(err, EINVAL, "cgroup path '%s'", path);
  }
  if ((*out = strdup(p)) == NULL)
    return ctr_fail(err, ENOMEM, "cgroup path");
  return 0;
}

void run_cgroup_free(struct run_cgroup *cg) {
  if (cg == NULL)
    return;
  for (int h = 0; h < H_COUNT; h++)
    free(cg->dir[h]);
  free(cg->unified);
  free(cg->path);
  free(cg);
}

static int cg_new(const char *path, struct run_cgroup **out, ctr_err *err) {
  struct run_cgroup *cg = calloc(1, sizeof(*cg));
  if (cg == NULL)
    return ctr_fail(err, ENOMEM, "cgroup %s", path);
  if (clean_path(path, &cg->path, err) < 0) {
    free(cg);
    return -1;
  }
  cg->version = run_cgroup_version();
  *out = cg;
  return 0;
}

/* Fill mount[h] for every mounted v1 hierarchy; alias[h] when the same
 * hierarchy appeared earlier under another name. */
static int v1_mounts(char *mount[H_COUNT], bool alias[H_COUNT], ctr_err *err) {
  struct stat seen[H_COUNT];
  for (int h = 0; h < H_COUNT; h++) {
    struct statfs fs;
    mount[h] = NULL;
    alias[h] = false;
    cleanup_free char *m = join(mount_root(), hier_dir[h]);
    if (m == NULL)
      return ctr_fail(err, ENOMEM, "cgroup mounts");
    if (stat(m, &seen[h]) < 0 || !S_ISDIR(seen[h].st_mode))
      continue;
    if (fake_root == NULL && (statfs(m, &fs) < 0 || fs.f_type != CGROUP_SUPER_MAGIC))
      continue;
    for (int j = 0; j < h; j++)
      if (mount[j] && seen[j].st_dev == seen[h].st_dev && seen[j].st_ino == seen[h].st_ino)
        alias[h] = true;
    mount[h] = ctr_steal(m);
  }
  return 0;
}

static void free_mounts(char *mount[H_COUNT]) {
  for (int h = 0; h < H_COUNT; h++)
    free(mount[h]);
}

/* ---- linux.resources: parsed into a plan, then written ---- */

struct limits {
  /* 0 is "not set" for all of these, as runc reads the spec. */
  int64_t mem_limit, mem_swap, mem_reservation;
  int64_t cpu_shares, cpu_quota, cpu_period;
  int64_t blkio_weight;
  bool pids_set;
  int64_t pids_limit;
  const char *cpus, *mems;
  const json_t *devices; /* array, each rule checked */
  size_t n_devices;
};

static int res_object(const json_t *res, const char *key, const json_t **out, ctr_err *err) {
  const json_t *v = res ? json_object_get(res, key) : NULL;
  *out = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_object(v))
    return ctr_fail(err, 0, "linux.resources.%s: not an object", key);
  *out = v;
  return 0;
}

static int res_int(const json_t *obj, const char *objname, const char *key, bool non_negative,
                   int64_t *val, bool *set, ctr_err *err) {
  const json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (set)
    *set = false;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_integer(v))
    return ctr_fail(err, 0, "linux.resources.%s.%s: not an integer", objname, key);
  *val = json_integer_value(v);
  if (non_negative && *val < 0)
    return ctr_fail(err, 0, "linux.resources.%s.%s: %" PRId64 " is negative", objname, key, *val);
  if (set)
    *set = true;
  return 0;
}

static int res_str(const json_t *obj, const char *objname, const char *key, const char **val,
                   ctr_err *err) {
  const json_t *v = obj ? json_object_get(obj, key) : NULL;
  *val = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return ctr_fail(err, 0, "linux.resources.%s.%s: not a string", objname, key);
  if (*json_string_value(v))
    *val = json_string_value(v);
  return 0;
}

/* One OCI device rule as the v1 devices files take it: "c 1:3 rwm". */
static int device_rule(const json_t *d, size_t i, bool *allow, char *buf, size_t len,
                       ctr_err *err) {
  struct run_device_rule r;
  char major[24] = "*", minor[24] = "*";
  if (run_device_rule_parse(d, i, &r, err) < 0)
    return -1;
  *allow = r.allow;
  if (r.major >= 0)
    snprintf(major, sizeof(major), "%ld", r.major);
  if (r.minor >= 0)
    snprintf(minor, sizeof(minor), "%ld", r.minor);
  snprintf(buf, len, "%c %s:%s %s", r.type, major, minor, r.access);
  return 0;
}

static int limits_parse(const json_t *res, struct limits *l, ctr_err *err) {
  const json_t *mem, *cpu, *pids, *blkio, *devices;
  memset(l, 0, sizeof(*l));
  if (res == NULL || json_is_null(res))
    return 0;
  if (!json_is_object(res))
    return ctr_fail(err, 0, "linux.resources: not an object");
  if (res_object(res, "memory", &mem, err) < 0 || res_object(res, "cpu", &cpu, err) < 0 ||
      res_object(res, "pids", &pids, err) < 0 || res_object(res, "blockIO", &blkio, err) < 0)
    return -1;
  if (res_int(mem, "memory", "limit", false, &l->mem_limit, NULL, err) < 0 ||
      res_int(mem, "memory", "swap", false, &l->mem_swap, NULL, err) < 0 ||
      res_int(mem, "memory", "reservation", false, &l->mem_reservation, NULL, err) < 0 ||
      res_int(cpu, "cpu", "shares", true, &l->cpu_shares, NULL, err) < 0 ||
      res_int(cpu, "cpu", "quota", false, &l->cpu_quota, NULL, err) < 0 ||
      res_int(cpu, "cpu", "period", true, &l->cpu_period, NULL, err) < 0 ||
      res_str(cpu, "cpu", "cpus", &l->cpus, err) < 0 ||
      res_str(cpu, "cpu", "mems", &l->mems, err) < 0 ||
      res_int(pids, "pids", "limit", false, &l->pids_limit, &l->pids_set, err) < 0 ||
      res_int(blkio, "blockIO", "weight", true, &l->blkio_weight, NULL, err) < 0)
    return -1;
  devices = json_object_get(res, "devices");
  if (devices != NULL && !json_is_null(devices)) {
    char rule[64];
    bool allow;
    if (!json_is_array(devices))
      return ctr_fail(err, 0, "linux.resources.devices: not an array");
    for (size_t i = 0; i < json_array_size(devices); i++)
      if (device_rule(json_array_get(devices, i), i, &allow, rule, sizeof(rule), err) < 0)
        return -1;
    l->devices = devices;
    l->n_devices = json_array_size(devices);
  }
  return 0;
}

/* The v1 directory of a controller a limit needs. */
static int need(struct run_cgroup *cg, enum hier h, const char *what, const char **dir,
                ctr_err *err) {
  if ((*dir = cg->dir[h]) == NULL)
    return ctr_fail(err, 0, "%s set, but the %s cgroup controller is not mounted", what,
                    hier_dir[h]);
  return 0;
}

static int v1_apply_memory(struct run_cgroup *cg, const struct limits *l, ctr_err *err) {
  const char *dir;
  if (l->mem_limit == 0 && l->mem_swap == 0 && l->mem_reservation == 0)
    return 0;
  if (need(cg, H_MEMORY, "a memory limit", &dir, err) < 0)
    return -1;
  /* A fresh cgroup has both limits unlimited, so the memory limit goes
   * first; memsw may never be below it. */
  if (l->mem_limit != 0 && cg_write_int(dir, "memory.limit_in_bytes", l->mem_limit, err) < 0)
    return -1;
  if (l->mem_swap != 0) {
    if (cg_writable(dir, "memory.memsw.limit_in_bytes")) {
      if (cg_write_int(dir, "memory.memsw.limit_in_bytes", l->mem_swap, err) < 0)
        return -1;
    } else {
      ctr_warn("the kernel does not account swap (no memory.memsw.limit_in_bytes): "
               "memory limited without swap");
    }
  }
  if (l->mem_reservation != 0 &&
      cg_write_int(dir, "memory.soft_limit_in_bytes", l->mem_reservation, err) < 0)
    return -1;
  return 0;
}

static int v1_apply_cpu(struct run_cgroup *cg, const struct limits *l, ctr_err *err) {
  const char *dir;
  if (l->cpu_shares != 0 || l->cpu_period != 0 || l->cpu_quota != 0) {
    if (need(cg, H_CPU, "a CPU limit", &dir, err) < 0)
      return -1;
    if (l->cpu_shares != 0 && cg_write_int(dir, "cpu.shares", l->cpu_shares, err) < 0)
      return -1;
    /* The period first: the kernel checks the quota against it. */
    if (l->cpu_period != 0 && cg_write_int(dir, "cpu.cfs_period_us", l->cpu_period, err) < 0)
      return -1;
    if (l->cpu_quota != 0 && cg_write_int(dir, "cpu.cfs_quota_us", l->cpu_quota, err) < 0)
      return -1;
  }
  if (l->cpus != NULL || l->mems != NULL) {
    if (need(cg, H_CPUSET, "a cpuset", &dir, err) < 0)
      return -1;
    if (l->cpus != NULL && cg_write(dir, "cpuset.cpus", l->cpus, err) < 0)
      return -1;
    if (l->mems != NULL && cg_write(dir, "cpuset.mems", l->mems, err) < 0)
      return -1;
  }
  return 0;
}

static int v1_apply_devices(struct run_cgroup *cg, const struct limits *l, ctr_err *err) {
  const char *dir;
  if (l->devices == NULL)
    return 0;
  if (need(cg, H_DEVICES, "device rules", &dir, err) < 0)
    return -1;
  /* Start from nothing allowed; the rules then apply in order. */
  if (cg_write(dir, "devices.deny", "a", err) < 0)
    return -1;
  for (size_t i = 0; i < l->n_devices; i++) {
    char rule[64];
    bool allow;
    if (device_rule(json_array_get(l->devices, i), i, &allow, rule, sizeof(rule), err) < 0 ||
        cg_write(dir, allow ? "devices.allow" : "devices.deny", rule, err) < 0)
      return -1;
  }
  return 0;
}

static int v1_apply(struct run_cgroup *cg, const struct limits *l, ctr_err *err) {
  const char *dir;
  if (v1_apply_memory(cg, l, err) < 0 || v1_apply_cpu(cg, l, err) < 0 ||
      v1_apply_devices(cg, l, err) < 0)
    return -1;
  if (l->pids_set) {
    if (need(cg, H_PIDS, "a pids limit", &dir, err) < 0)
      return -1;
    if ((l->pids_limit > 0 ? cg_write_int(dir, "pids.max", l->pids_limit, err)
                           : cg_write(dir, "pids.max", "max", err)) < 0)
      return -1;
  }
  if (l->blkio_weight != 0) {
    if (need(cg, H_BLKIO, "a block I/O weight", &dir, err) < 0)
      return -1;
    /* CFQ had blkio.weight; with BFQ it is blkio.bfq.weight. */
    if (cg_exists(dir, "blkio.weight"))
      return cg_write_int(dir, "blkio.weight", l->blkio_weight, err);
    if (cg_exists(dir, "blkio.bfq.weight"))
      return cg_write_int(dir, "blkio.bfq.weight", l->blkio_weight, err);
    return ctr_fail(err, 0,
                    "block I/O weight %" PRId64 ": %s has neither blkio.weight nor "
                    "blkio.bfq.weight (the disk's I/O scheduler has no weights)",
                    l->blkio_weight, dir);
  }
  return 0;
}

static int v2_write_limit(const char *dir, const char *file, int64_t v, ctr_err *err) {
  return v < 0 ? cg_write(dir, file, "max", err) : cg_write_int(dir, file, v, err);
}

static int v2_apply_memory(const char *dir, const struct limits *l, ctr_err *err) {
  if (l->mem_limit != 0 && v2_write_limit(dir, "memory.max", l->mem_limit, err) < 0)
    return -1;
  if (l->mem_swap != 0) {
    /* OCI's swap is memory+swap; v2's memory.swap.max is the swap alone. */
    int64_t swap = l->mem_swap;
    if (swap > 0 && l->mem_limit > 0) {
      if (swap < l->mem_limit)
        return ctr_fail(err, 0,
                        "memory+swap limit %" PRId64 " is below the memory limit %" PRId64, swap,
                        l->mem_limit);
      swap -= l->mem_limit;
    }
    if (cg_writable(dir, "memory.swap.max")) {
      if (v2_write_limit(dir, "memory.swap.max", swap, err) < 0)
        return -1;
    } else {
      ctr_warn("the kernel does not account swap (no memory.swap.max): "
               "memory limited without swap");
    }
  }
  if (l->mem_reservation != 0 && v2_write_limit(dir, "memory.low", l->mem_reservation, err) < 0)
    return -1;
  return 0;
}

static int v2_apply_cpu(const char *dir, const struct limits *l, ctr_err *err) {
  if (l->cpu_shares != 0) {
    /* shares 2..262144 onto weight 1..10000, as runc maps them. */
    int64_t shares = l->cpu_shares < 2 ? 2 : l->cpu_shares > 262144 ? 262144 : l->cpu_shares;
    if (cg_write_int(dir, "cpu.weight", 1 + ((shares - 2) * 9999) / 262142, err) < 0)
      return -1;
  }
  if (l->cpu_quota != 0 || l->cpu_period != 0) {
    char max[64], quota[24] = "max";
    if (l->cpu_quota > 0)
      snprintf(quota, sizeof(quota), "%" PRId64, l->cpu_quota);
    snprintf(max, sizeof(max), "%s %" PRId64, quota, l->cpu_period ? l->cpu_period : 100000);
    if (cg_write(dir, "cpu.max", max, err) < 0)
      return -1;
  }
  if (l->cpus != NULL && cg_write(dir, "cpuset.cpus", l->cpus, err) < 0)
    return -1;
  if (l->mems != NULL && cg_write(dir, "cpuset.mems", l->mems, err) < 0)
    return -1;
  return 0;
}

static int v2_apply(struct run_cgroup *cg, const struct limits *l, ctr_err *err) {
  const char *dir = cg->unified;
  if (v2_apply_memory(dir, l, err) < 0 || v2_apply_cpu(dir, l, err) < 0)
    return -1;
  if (l->pids_set && v2_write_limit(dir, "pids.max", l->pids_limit > 0 ? l->pids_limit : -1, err) < 0)
    return -1;
  if (l->blkio_weight != 0) {
    /* io.bfq.weight takes blkio's 10..1000; io.weight is 1..10000. */
    if (cg_exists(dir, "io.bfq.weight")) {
      if (cg_write_int(dir, "io.bfq.weight", l->blkio_weight, err) < 0)
        return -1;
    } else if (cg_write_int(dir, "io.weight", 1 + (l->blkio_weight - 10) * 9999 / 990, err) < 0) {
      return -1;
    }
  }
  if (l->devices != NULL && run_devices_bpf_attach(dir, l->devices, err) < 0)
    return -1;
  return 0;
}

/* ---- v2: controllers enabled down the tree ---- */

static const char *const v2_controllers[] = {"cpuset", "cpu", "io", "memory", "pids"};
#define N_V2 (sizeof(v2_controllers) / sizeof(v2_controllers[0]))

static unsigned parse_controllers(const char *text) {
  unsigned set = 0;
  cleanup_free char *copy = strdup(text ? text : "");
  char *save = NULL;
  for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
    for (size_t i = 0; i < N_V2; i++)
      if (strcmp(w, v2_controllers[i]) == 0)
        set |= 1u << i;
  return set;
}

/* Enable in cgroup.subtree_control of root and of every ancestor of the
 * leaf whatever of cpuset, cpu, io, memory, pids each one offers. */
static int v2_enable_controllers(const char *root, const char *path, ctr_err *err) {
  cleanup_free char *dir = strdup(root);
  cleanup_free char *text = NULL;
  unsigned avail;
  const char *p = path;
  if (dir == NULL)
    return ctr_fail(err, ENOMEM, "cgroup %s", path);
  if (cg_read(dir, "cgroup.controllers", false, &text, err) < 0)
    return -1;
  avail = parse_controllers(text);
  for (;;) {
    size_t len = strcspn(p, "/");
    char buf[128] = "";
    char *child = NULL;
    for (size_t i = 0; i < N_V2; i++)
      if (avail & (1u << i)) {
        if (buf[0])
          strcat(buf, " ");
        strcat(buf, "+");
        strcat(buf, v2_controllers[i]);
      }
    if (buf[0] && cg_write(dir, "cgroup.subtree_control", buf, err) < 0)
      return -1;
    if (p[len] == '\0')
      return 0; /* dir was the leaf's parent */
    if (asprintf(&child, "%s/%.*s", dir, (int)len, p) < 0)
      return ctr_fail(err, ENOMEM, "cgroup %s", path);
    free(dir);
    dir = child;
    p += len + 1;
    free(text);
    if (cg_read(dir, "cgroup.controllers", true, &text, err) < 0)
      return -1;
    /* A fake tree has no cgroup.controllers below the root: what the
     * parent enabled is what the child is offered. */
    if (text != NULL)
      avail = parse_controllers(text);
  }
}

/* ---- v1: cpuset must be populated before anything can join ---- */

static int v1_cpuset_fill(const char *mount, const char *path, ctr_err *err) {
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  cleanup_free char *parent = strdup(mount);
  const char *p = path;
  if (parent == NULL)
    return ctr_fail(err, ENOMEM, "cgroup %s", path);
  while (*p) {
    size_t len = strcspn(p, "/");
    cleanup_free char *dir = NULL;
    if (asprintf(&dir, "%s/%.*s", parent, (int)len, p) < 0)
      return ctr_fail(err, ENOMEM, "cgroup %s", path);
    for (int i = 0; i < 2; i++) {
      cleanup_free char *mine = NULL, *theirs = NULL;
      if (cg_read(dir, files[i], false, &mine, err) < 0)
        return -1;
      if (mine[strspn(mine, " \n")] != '\0')
        continue;
      if (cg_read(parent, files[i], false, &theirs, err) < 0)
        return -1;
      theirs[strcspn(theirs, "\n")] = '\0';
      if (cg_write(dir, files[i], theirs, err) < 0)
        return -1;
    }
    free(parent);
    parent = ctr_steal(dir);
    p += len;
    if (*p == '/')
      p++;
  }
  return 0;
}

static int v1_create_dirs(struct run_cgroup *cg, struct made *made, ctr_err *err) {
  char *mount[H_COUNT];
  int rc = 0;
  if (v1_mounts(mount, cg->alias, err) < 0)
    return -1;
  for (int h = 0; h < H_COUNT && rc == 0; h++) {
    if (mount[h] == NULL)
      continue;
    if ((cg->dir[h] = join(mount[h], cg->path)) == NULL)
      rc = ctr_fail(err, ENOMEM, "cgroup %s", cg->path);
    else if (!cg->alias[h])
      rc = mkdir_chain(mount[h], cg->path, made, err);
    if (rc == 0 && h == H_CPUSET && !cg->alias[h])
      rc = v1_cpuset_fill(mount[h], cg->path, err);
  }
  if (rc == 0 && cg->dir[H_MEMORY] == NULL && cg->dir[H_PIDS] == NULL && cg->dir[H_FREEZER] == NULL)
    rc = ctr_fail(err, ENOENT, "no cgroup v1 controllers mounted under %s", mount_root());
  free_mounts(mount);
  return rc;
}

int run_cgroup_create(const char *path, const json_t *resources, struct run_cgroup **out,
                      ctr_err *err) {
  struct run_cgroup *cg = NULL;
  struct made made = {0};
  struct limits lim;
  int rc;
  if (limits_parse(resources, &lim, err) < 0 || cg_new(path, &cg, err) < 0)
    return -1;
  if (cg->version == 2) {
    cg->unified = join(mount_root(), cg->path);
    if (cg->unified == NULL)
      rc = ctr_fail(err, ENOMEM, "cgroup %s", path);
    else
      rc = mkdir_chain(mount_root(), cg->path, &made, err);
    if (rc == 0)
      rc = v2_enable_controllers(mount_root(), cg->path, err);
    if (rc == 0)
      rc = v2_apply(cg, &lim, err);
  } else {
    rc = v1_create_dirs(cg, &made, err);
    if (rc == 0)
      rc = v1_apply(cg, &lim, err);
  }
  if (rc < 0) {
    made_rollback(&made);
    made_free(&made);
    run_cgroup_free(cg);
    return -1;
  }
  made_free(&made);
  *out = cg;
  return 0;
}

int run_cgroup_open(const char *path, struct run_cgroup **out, ctr_err *err) {
  struct run_cgroup *cg = NULL;
  bool found = false;
  struct stat st;
  if (cg_new(path, &cg, err) < 0)
    return -1;
  if (cg->version == 2) {
    cg->unified = join(mount_root(), cg->path);
    found = cg->unified != NULL && stat(cg->unified, &st) == 0 && S_ISDIR(st.st_mode);
  } else {
    char *mount[H_COUNT];
    if (v1_mounts(mount, cg->alias, err) < 0) {
      run_cgroup_free(cg);
      return -1;
    }
    for (int h = 0; h < H_COUNT; h++) {
      char *d = mount[h] ? join(mount[h], cg->path) : NULL;
      if (d != NULL && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
        cg->dir[h] = d;
        found = true;
      } else {
        free(d);
      }
    }
    free_mounts(mount);
  }
  if (!found) {
    int rc = ctr_fail(err, ENOENT, "cgroup %s", cg->path);
    run_cgroup_free(cg);
    return rc;
  }
  *out = cg;
  return 0;
}

int run_cgroup_add(struct run_cgroup *cg, pid_t pid, ctr_err *err) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  if (cg->version == 2)
    return cg_write(cg->unified, "cgroup.procs", buf, err);
  for (int h = 0; h < H_COUNT; h++)
    if (cg->dir[h] != NULL && !cg->alias[h] && cg_write(cg->dir[h], "cgroup.procs", buf, err) < 0)
      return -1;
  return 0;
}

int run_cgroup_oom_killed(struct run_cgroup *cg, bool *oom, ctr_err *err) {
  cleanup_free char *text = NULL;
  int64_t kills = 0, failcnt = 0, under = 0;
  *oom = false;
  if (cg->version == 2) {
    if (cg_read(cg->unified, "memory.events", true, &text, err) < 0)
      return -1;
    *oom = text != NULL && kv_get(text, "oom_kill", &kills) && kills > 0;
    return 0;
  }
  if (cg->dir[H_MEMORY] == NULL)
    return 0;
  if (cg_read(cg->dir[H_MEMORY], "memory.oom_control", false, &text, err) < 0)
    return -1;
  if (kv_get(text, "oom_kill", &kills)) { /* Linux 4.13 and later */
    *oom = kills > 0;
    return 0;
  }
  if (cg_read_int(cg->dir[H_MEMORY], "memory.failcnt", &failcnt, err) < 0)
    return -1;
  *oom = failcnt > 0 && kv_get(text, "under_oom", &under) && under > 0;
  return 0;
}

struct pid_list {
  pid_t *pids;
  size_t n, cap;
};

static int collect_pids(const char *dir, struct pid_list *l, ctr_err *err) {
  cleanup_free char *text = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  if (cg_read(dir, "cgroup.procs", true, &text, err) < 0)
    return -1;
  for (char *p = text; p != NULL && *p;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p)
      break;
    if (l->n == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 16;
      pid_t *np = realloc(l->pids, cap * sizeof(*np));
      if (np == NULL)
        return ctr_fail(err, ENOMEM, "list pids of %s", dir);
      l->pids = np;
      l->cap = cap;
    }
    l->pids[l->n++] = (pid_t)v;
    p = end;
  }
  if ((d = opendir(dir)) == NULL)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "list pids of %s", dir);
  while ((de = readdir(d)) != NULL) {
    cleanup_free char *sub = NULL;
    if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if ((sub = join(dir, de->d_name)) == NULL)
      return ctr_fail(err, ENOMEM, "list pids of %s", dir);
    if (collect_pids(sub, l, err) < 0)
      return -1;
  }
  return 0;
}

/* The one directory whose cgroup.procs lists the container's processes. */
static const char *procs_dir(struct run_cgroup *cg) {
  static const enum hier order[] = {H_PIDS, H_MEMORY, H_FREEZER, H_CPU, H_DEVICES, H_SYSTEMD};
  if (cg->version == 2)
    return cg->unified;
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
    if (cg->dir[order[i]] != NULL)
      return cg->dir[order[i]];
  for (int h = 0; h < H_COUNT; h++)
    if (cg->dir[h] != NULL)
      return cg->dir[h];
  return NULL;
}

int run_cgroup_pids(struct run_cgroup *cg, pid_t **pids, size_t *n, ctr_err *err) {
  struct pid_list l = {0};
  const char *dir = procs_dir(cg);
  *pids = NULL;
  *n = 0;
  if (dir != NULL && collect_pids(dir, &l, err) < 0) {
    free(l.pids);
    return -1;
  }
  *pids = l.pids;
  *n = l.n;
  return 0;
}

static int signal_all(struct run_cgroup *cg, int sig, ctr_err *err) {
  cleanup_free pid_t *pids = NULL;
  size_t n;
  if (run_cgroup_pids(cg, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (kill(pids[i], sig) < 0 && errno != ESRCH)
      return ctr_fail(err, errno, "signal %d to pid %d", sig, (int)pids[i]);
  return 0;
}

/* Freeze (or thaw) the cgroup, waiting up to a second for every task to
 * stop. Not reaching FROZEN (a task stuck in the kernel) is not an error:
 * the caller signals what it can. */
static int set_frozen(struct run_cgroup *cg, bool frozen, ctr_err *err) {
  const char *dir = cg->version == 2 ? cg->unified : cg->dir[H_FREEZER];
  const char *file = cg->version == 2 ? "cgroup.freeze" : "freezer.state";
  const char *value = cg->version == 2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
  if (dir == NULL || !cg_writable(dir, file))
    return 0;
  for (int i = 0; i < 100; i++) {
    cleanup_free char *text = NULL;
    int64_t v = 0;
    bool done;
    if (cg_write(dir, file, value, err) < 0)
      return -1;
    if (!frozen)
      return 0;
    if (cg_read(dir, cg->version == 2 ? "cgroup.events" : "freezer.state", true, &text, err) < 0)
      return -1;
    if (text == NULL) /* fake tree */
      return 0;
    done = cg->version == 2 ? kv_get(text, "frozen", &v) && v == 1
                            : strncmp(text, "FROZEN", 6) == 0;
    if (done)
      return 0;
    sleep_ms(10);
  }
  ctr_debug("cgroup %s: not frozen after 1s; signalling anyway", cg->path);
  return 0;
}

int run_cgroup_kill(struct run_cgroup *cg, int sig, ctr_err *err) {
  ctr_err other = NULL;
  int rc;
  if (cg->version == 2 && sig == SIGKILL && cg_writable(cg->unified, "cgroup.kill"))
    return cg_write(cg->unified, "cgroup.kill", "1", err);
  /* Freezing only makes the signal airtight; without it, still signal. */
  if (set_frozen(cg, true, &other) < 0) {
    ctr_debug("cgroup %s: %s; signalling unfrozen", cg->path, other ? other->msg : "cannot freeze");
    ctr_err_free(&other);
  }
  rc = signal_all(cg, sig, err);
  /* Always thaw: a stopped container must not stay frozen. The first
   * error is the one reported. */
  if (set_frozen(cg, false, rc < 0 ? &other : err) < 0)
    rc = -1;
  ctr_err_free(&other);
  return rc;
}

int run_cgroup_destroy(struct run_cgroup *cg, ctr_err *err) {
  int rc = 0;
  if (cg == NULL)
    return 0;
  if (cg->version == 2) {
    rc = remove_tree(cg->unified, err);
  } else {
    for (int h = 0; h < H_COUNT; h++) {
      ctr_err e = NULL;
      if (cg->dir[h] == NULL || cg->alias[h] || remove_tree(cg->dir[h], &e) == 0)
        continue;
      /* Keep going through the other hierarchies; report the first. */
      if (rc == 0 && err != NULL) {
        ctr_err_free(err);
        *err = e;
        e = NULL;
      }
      rc = -1;
      ctr_err_free(&e);
    }
  }
  run_cgroup_free(cg);
  return rc;
}

int run_cgroup_stats(struct run_cgroup *cg, struct run_cgroup_stats *st, ctr_err *err) {
  st->mem_usage = st->mem_limit = st->pids = st->cpu_ns = -1;
  if (cg->version == 2) {
    cleanup_free char *text = NULL;
    int64_t usec;
    if (cg_read_int(cg->unified, "memory.current", &st->mem_usage, err) < 0 ||
        cg_read_int(cg->unified, "memory.max", &st->mem_limit, err) < 0 ||
        cg_read_int(cg->unified, "pids.current", &st->pids, err) < 0 ||
        cg_read(cg->unified, "cpu.stat", true, &text, err) < 0)
      return -1;
    if (text != NULL && kv_get(text, "usage_usec", &usec))
      st->cpu_ns = usec * 1000;
    return 0;
  }
  if (cg_read_int(cg->dir[H_MEMORY], "memory.usage_in_bytes", &st->mem_usage, err) < 0 ||
      cg_read_int(cg->dir[H_MEMORY], "memory.limit_in_bytes", &st->mem_limit, err) < 0 ||
      cg_read_int(cg->dir[H_PIDS], "pids.current", &st->pids, err) < 0 ||
      cg_read_int(cg->dir[H_CPUACCT], "cpuacct.usage", &st->cpu_ns, err) < 0)
    return -1;
  if (st->mem_limit >= V1_UNLIMITED)
    st->mem_limit = -1;
  return 0;
}

char *run_cgroup_dir(struct run_cgroup *cg, const char *controller) {
  if (cg->version == 2)
    return strdup(cg->unified);
  if (controller == NULL)
    return NULL;
  if (strcmp(controller, "name=systemd") == 0)
    controller = "systemd";
  for (int h = 0; h < H_COUNT; h++)
    if (strcmp(controller, hier_dir[h]) == 0)
      return cg->dir[h] ? strdup(cg->dir[h]) : NULL;
  return NULL;
}

/* ---- what users type ---- */

int run_parse_size(const char *s, int64_t *bytes, ctr_err *err) {
  const char *p = s;
  unsigned __int128 whole = 0, frac = 0, scale = 1, mult = 1, total;
  const char *units = "kmgtp", *u;
  if (!isdigit((unsigned char)*p))
    goto bad;
  for (; isdigit((unsigned char)*p); p++) {
    whole = whole * 10 + (unsigned)(*p - '0');
    if (whole > INT64_MAX)
      goto bad;
  }
  if (*p == '.') {
    if (!isdigit((unsigned char)*++p))
      goto bad;
    /* Digits past the 18th cannot change a whole byte. */
    for (; isdigit((unsigned char)*p); p++)
      if (scale < 1000000000000000000ULL) {
        frac = frac * 10 + (unsigned)(*p - '0');
        scale *= 10;
      }
  }
  if (*p == ' ' && p[1] != '\0')
    p++;
  if (*p != '\0' && (u = strchr(units, tolower((unsigned char)*p))) != NULL) {
    mult = (unsigned __int128)1 << (10 * (u - units + 1));
    if (*++p == 'i' || *p == 'I')
      p++;
  }
  if (*p == 'b' || *p == 'B')
    p++;
  if (*p != '\0')
    goto bad;
  total = whole * mult + frac * mult / scale;
  if (total > INT64_MAX)
    goto bad;
  *bytes = (int64_t)total;
  return 0;
bad:
  return ctr_usage(err, "invalid size: '%s'", s);
}

int run_parse_memory(const char *s, int64_t *bytes, ctr_err *err) {
  int64_t b;
  if (run_parse_size(s, &b, err) < 0)
    return -1;
  if (b < 6 * 1024 * 1024)
    return ctr_usage(err, "Minimum memory limit allowed is 6MB");
  *bytes = b;
  return 0;
}

/* The CPUs this process may run on, as Go's runtime.NumCPU counts them. */
static int usable_cpus(void) {
  cpu_set_t set;
  long n;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int run_parse_cpus(const char *s, int64_t *quota, uint64_t *period, ctr_err *err) {
  const char *p = s;
  bool negative = false, digits = false, too_big = false, too_precise = false;
  uint64_t whole = 0, nano_frac = 0, nano;
  int frac_digits = 0, ncpu;
  if (*p == '+' || *p == '-')
    negative = *p++ == '-';
  for (; isdigit((unsigned char)*p); p++, digits = true) {
    if (whole > 1000000000ULL)
      too_big = true;
    else
      whole = whole * 10 + (unsigned)(*p - '0');
  }
  if (*p == '.')
    for (p++; isdigit((unsigned char)*p); p++, digits = true) {
      if (frac_digits < 9) {
        nano_frac = nano_frac * 10 + (unsigned)(*p - '0');
        frac_digits++;
      } else if (*p != '0') {
        too_precise = true;
      }
    }
  if (!digits || *p != '\0')
    return ctr_usage(err, "failed to parse %s as a rational number", s);
  if (too_precise)
    return ctr_usage(err, "value is too precise");
  for (; frac_digits < 9; frac_digits++)
    nano_frac *= 10;
  nano = whole * 1000000000ULL + nano_frac;
  ncpu = usable_cpus();
  /* 0.01 CPU is the smallest quota the kernel takes (1ms per 100ms). */
  if (negative || too_big || nano < 10000000ULL || nano > (uint64_t)ncpu * 1000000000ULL)
    return ctr_usage(err, "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available",
                     ncpu, ncpu);
  *period = 100000;
  *quota = (int64_t)(nano / 10000);
  return 0;
}
