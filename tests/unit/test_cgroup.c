/* Unit tests for lib/run/cgroup: the --memory/--cpus parsers, the v2
 * writer against a fake directory tree, and, as root on a cgroup v1
 * machine, real cgroups: limits in the files, processes added, listed and
 * killed, a real OOM kill, the pids limit, and removal. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "run/cgroup.h"
#include "run/devices_bpf.h"
#include "tap.h"

#define MiB (1024 * 1024)

/* ok() with the condition evaluated before the message's arguments, so a
 * failure prints the values and error the condition produced. */
#define check(cond, ...)                                                      \
  do {                                                                        \
    int cond_ = (cond);                                                       \
    ok(cond_, __VA_ARGS__);                                                   \
  } while (0)

/* ---- helpers ---- */

static char *slurp(const char *dir, const char *file) {
  char path[4096];
  char *text = NULL;
  ctr_err err = NULL;
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  if (ctr_read_file(AT_FDCWD, path, 1 << 20, &text, NULL, &err) < 0) {
    ctr_err_free(&err);
    return NULL;
  }
  for (size_t len = strlen(text); len > 0 && text[len - 1] == '\n'; len--)
    text[len - 1] = '\0';
  return text;
}

/* The file's content (first line, or all of it for several lines) equals want. */
static bool file_is(const char *dir, const char *file, const char *want) {
  cleanup_free char *text = slurp(dir, file);
  return text != NULL && strcmp(text, want) == 0;
}

/* One whole line of the file equals line. */
static bool file_has_line(const char *dir, const char *file, const char *line) {
  cleanup_free char *text = slurp(dir, file);
  size_t len = strlen(line);
  for (const char *p = text; p != NULL; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
      return true;
  return false;
}

static const char *in(const char *dir, const char *file) {
  static char buf[4200];
  snprintf(buf, sizeof(buf), "%s/%s", dir, file);
  return buf;
}

static void put(const char *dir, const char *file, const char *text) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  f = fopen(path, "w");
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

static bool missing(const char *path) {
  struct stat st;
  return stat(path, &st) < 0 && errno == ENOENT;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *msg(ctr_err e) { return e && e->msg ? e->msg : "(no error)"; }

static int usable_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return CPU_COUNT(&set);
  return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* ---- parsers ---- */

static void test_parse_size(void) {
  static const struct {
    const char *in;
    int64_t want;
  } good[] = {
      {"1024", 1024}, {"1b", 1}, {"1B", 1}, {"0", 0}, {"100k", 102400}, {"100K", 102400},
      {"100kb", 102400}, {"100KiB", 102400}, {"512m", 536870912}, {"512M", 536870912},
      {"1g", 1073741824}, {"1.5g", 1610612736}, {"1 g", 1073741824}, {"0.5k", 512},
      {"0.1k", 102}, {"2t", 2LL << 40}, {"1p", 1LL << 50}, {"8191p", 8191LL << 50},
      {"9223372036854775807", INT64_MAX}, {"1.0000000000000000000001g", 1073741824},
  };
  static const char *bad[] = {
      "", "-1", "-1m", "abc", "1x", "1mm", "m", ".5m", "1.", "1..5", "1.5.5",
      "9223372036854775808", "8192p", " 1", "1 ", "1ib", "0x10", "1e3", "1gb ", "+1",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ctr_err err = NULL;
    int64_t b = -2;
    int rc = run_parse_size(good[i].in, &b, &err);
    check(rc == 0 && b == good[i].want, "size '%s' = %" PRId64 " (got %" PRId64 ", %s)", good[i].in,
       good[i].want, b, rc == 0 ? "ok" : msg(err));
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ctr_err err = NULL;
    char want[64];
    int64_t b;
    int rc = run_parse_size(bad[i], &b, &err);
    snprintf(want, sizeof(want), "invalid size: '%s'", bad[i]);
    check(rc < 0 && err && err->exit == 2 && strcmp(err->msg, want) == 0, "size '%s' refused: %s",
       bad[i], msg(err));
    ctr_err_free(&err);
  }
}

static void test_parse_memory(void) {
  static const struct {
    const char *in;
    int64_t want;
    const char *error;
  } cases[] = {
      {"6m", 6 * MiB, NULL},
      {"512m", 512 * MiB, NULL},
      {"1.5g", 1536LL * MiB, NULL},
      {"6291456", 6291456, NULL},
      {"6291455", 0, "Minimum memory limit allowed is 6MB"},
      {"5m", 0, "Minimum memory limit allowed is 6MB"},
      {"4m", 0, "Minimum memory limit allowed is 6MB"},
      {"0", 0, "Minimum memory limit allowed is 6MB"},
      {"-512m", 0, "invalid size: '-512m'"},
      {"lots", 0, "invalid size: 'lots'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ctr_err err = NULL;
    int64_t b = -2;
    int rc = run_parse_memory(cases[i].in, &b, &err);
    if (cases[i].error == NULL)
      check(rc == 0 && b == cases[i].want, "memory '%s' = %" PRId64 " (%s)", cases[i].in, b,
         msg(err));
    else
      check(rc < 0 && err->exit == 2 && strcmp(err->msg, cases[i].error) == 0,
         "memory '%s' refused: %s", cases[i].in, msg(err));
    ctr_err_free(&err);
  }
}

static void test_parse_cpus(void) {
  int n = usable_cpus();
  char max_ok[16], too_many[16], range[128];
  struct {
    const char *in;
    int64_t quota;
    const char *error;
  } cases[] = {
      {"1.5", 150000, NULL},
      {"0.5", 50000, NULL},
      {".5", 50000, NULL},
      {"1", 100000, NULL},
      {"0.01", 1000, NULL},
      {"0.015", 1500, NULL},
      {"1.500000000000", 150000, NULL},
      {max_ok, 100000LL * n, NULL},
      {too_many, 0, range},
      {"0", 0, range},
      {"0.009", 0, range},
      {"-1", 0, range},
      {"99999999999999999999", 0, range},
      {"abc", 0, "failed to parse abc as a rational number"},
      {"1.5x", 0, "failed to parse 1.5x as a rational number"},
      {"", 0, "failed to parse  as a rational number"},
      {".", 0, "failed to parse . as a rational number"},
      {"1.0000000001", 0, "value is too precise"},
  };
  snprintf(max_ok, sizeof(max_ok), "%d", n);
  snprintf(too_many, sizeof(too_many), "%d.5", n);
  snprintf(range, sizeof(range),
           "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ctr_err err = NULL;
    int64_t quota = -2;
    uint64_t period = 0;
    int rc = run_parse_cpus(cases[i].in, &quota, &period, &err);
    if (cases[i].error == NULL)
      check(rc == 0 && quota == cases[i].quota && period == 100000,
         "cpus '%s' = %" PRId64 "/%" PRIu64 " (%s)", cases[i].in, quota, period, msg(err));
    else
      check(rc < 0 && err->exit == 2 && strcmp(err->msg, cases[i].error) == 0,
         "cpus '%s' refused: %s", cases[i].in, msg(err));
    ctr_err_free(&err);
  }
}

/* ---- v2, against a fake tree of plain directories and files ---- */

static void test_v2_fake(void) {
  char root[] = "/tmp/ctr-cgtest.XXXXXX";
  char dir[4096], ctrdir[4096], other[4096];
  struct run_cgroup *cg = NULL, *cg2 = NULL;
  struct run_cgroup_stats st;
  ctr_err err = NULL;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  bool oom = true;
  json_t *res;
  char *d;

  if (mkdtemp(root) == NULL) {
    check(0, "v2 fake: mkdtemp: %s", strerror(errno));
    return;
  }
  put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  put(root, "cgroup.subtree_control", "");
  run_cgroup_set_root_for_tests(root, 2);
  snprintf(dir, sizeof(dir), "%s/ctr/abc", root);
  snprintf(ctrdir, sizeof(ctrdir), "%s/ctr", root);
  snprintf(other, sizeof(other), "%s/other", root);
  check(run_cgroup_version() == 2, "v2 fake: version 2");

  /* device rules need a real cgroup2 directory: test_v2_devices below */
  res = json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I,s:s,s:s},s:{s:I},s:{s:I}}",
                  "memory", "limit", (json_int_t)64 * MiB, "swap", (json_int_t)96 * MiB,
                  "reservation", (json_int_t)32 * MiB, "cpu", "shares", (json_int_t)512, "quota",
                  (json_int_t)50000, "period", (json_int_t)100000, "cpus", "0", "mems", "0",
                  "pids", "limit", (json_int_t)20, "blockIO", "weight", (json_int_t)500);
  check(run_cgroup_create("/ctr/abc", res, &cg, &err) == 0, "v2 fake: create /ctr/abc: %s",
     msg(err));
  ctr_err_free(&err);
  json_decref(res);
  if (cg == NULL)
    goto out;
  check(file_is(root, "cgroup.subtree_control", "+cpuset +cpu +io +memory +pids"),
     "v2 fake: root subtree_control enables cpuset cpu io memory pids");
  check(file_is(ctrdir, "cgroup.subtree_control", "+cpuset +cpu +io +memory +pids"),
     "v2 fake: parent ctr subtree_control enables them too");
  check(missing(in(dir, "cgroup.subtree_control")),
     "v2 fake: the leaf's own subtree_control is left alone");
  check(file_is(dir, "memory.max", "67108864"), "v2 fake: memory.max 67108864");
  check(file_is(dir, "memory.swap.max", "33554432"), "v2 fake: memory.swap.max = swap - limit");
  check(file_is(dir, "memory.low", "33554432"), "v2 fake: memory.low from reservation");
  check(file_is(dir, "cpu.weight", "20"), "v2 fake: cpu.weight 20 from shares 512");
  check(file_is(dir, "cpu.max", "50000 100000"), "v2 fake: cpu.max '50000 100000'");
  check(file_is(dir, "cpuset.cpus", "0") && file_is(dir, "cpuset.mems", "0"), "v2 fake: cpuset");
  check(file_is(dir, "pids.max", "20"), "v2 fake: pids.max 20");
  check(file_is(dir, "io.weight", "4950"), "v2 fake: io.weight 4950 from blkio weight 500");
  d = run_cgroup_dir(cg, "memory");
  check(d && strcmp(d, dir) == 0, "v2 fake: run_cgroup_dir = %s", d ? d : "(null)");
  free(d);

  check(run_cgroup_create("ctr/abc", NULL, &cg2, &err) < 0 && err->errnum == EEXIST,
     "v2 fake: creating it again fails: %s", msg(err));
  ctr_err_free(&err);

  check(run_cgroup_add(cg, 4242, &err) == 0 && file_is(dir, "cgroup.procs", "4242"),
     "v2 fake: add writes the pid to cgroup.procs");
  ctr_err_free(&err);
  put(dir, "cgroup.procs", "4242\n4243\n");
  check(run_cgroup_pids(cg, &pids, &n, &err) == 0 && n == 2 && pids[0] == 4242 && pids[1] == 4243,
     "v2 fake: pids read cgroup.procs (%zu)", n);
  ctr_err_free(&err);
  put(dir, "cgroup.procs", "");

  check(run_cgroup_oom_killed(cg, &oom, &err) == 0 && !oom, "v2 fake: no memory.events, no OOM");
  put(dir, "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
  check(run_cgroup_oom_killed(cg, &oom, &err) == 0 && oom, "v2 fake: memory.events oom_kill 1");
  put(dir, "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 0\n");
  check(run_cgroup_oom_killed(cg, &oom, &err) == 0 && !oom, "v2 fake: oom_kill 0 is no OOM kill");
  ctr_err_free(&err);

  put(dir, "memory.current", "1234\n");
  put(dir, "cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\n");
  check(run_cgroup_stats(cg, &st, &err) == 0 && st.mem_usage == 1234 && st.mem_limit == 64 * MiB &&
         st.cpu_ns == 5000 && st.pids == -1,
     "v2 fake: stats %" PRId64 "/%" PRId64 " cpu %" PRId64 " pids %" PRId64, st.mem_usage,
     st.mem_limit, st.cpu_ns, st.pids);
  ctr_err_free(&err);

  check(run_cgroup_kill(cg, SIGKILL, &err) == 0 && file_is(dir, "cgroup.kill", "1"),
     "v2 fake: SIGKILL writes 1 to cgroup.kill: %s", msg(err));
  ctr_err_free(&err);
  check(run_cgroup_kill(cg, SIGTERM, &err) == 0 && file_is(dir, "cgroup.freeze", "0"),
     "v2 fake: other signals freeze, signal, thaw: %s", msg(err));
  ctr_err_free(&err);

  check(run_cgroup_destroy(cg, &err) == 0 && missing(dir) && is_dir(ctrdir),
     "v2 fake: destroy removes ctr/abc, keeps ctr: %s", msg(err));
  ctr_err_free(&err);
  check(run_cgroup_open("ctr/abc", &cg, &err) < 0 && err->errnum == ENOENT,
     "v2 fake: open after destroy: %s", msg(err));
  ctr_err_free(&err);

  /* Unset, unlimited and defaulted values. */
  res = json_pack("{s:{s:I,s:I},s:{s:I},s:{s:I}}", "memory", "limit", (json_int_t)-1, "swap",
                  (json_int_t)-1, "cpu", "period", (json_int_t)200000, "pids", "limit",
                  (json_int_t)0);
  cg = NULL;
  check(run_cgroup_create("ctr/def", res, &cg, &err) == 0, "v2 fake: create ctr/def: %s", msg(err));
  ctr_err_free(&err);
  json_decref(res);
  snprintf(dir, sizeof(dir), "%s/ctr/def", root);
  check(file_is(dir, "memory.max", "max") && file_is(dir, "memory.swap.max", "max"),
     "v2 fake: -1 memory and swap are 'max'");
  check(file_is(dir, "cpu.max", "max 200000"), "v2 fake: period alone gives cpu.max 'max 200000'");
  check(file_is(dir, "pids.max", "max"), "v2 fake: pids limit 0 gives pids.max 'max'");
  check(missing(in(dir, "cpu.weight")),
     "v2 fake: no shares, no cpu.weight");
  check(run_cgroup_destroy(cg, &err) == 0 && missing(dir), "v2 fake: destroy ctr/def");
  ctr_err_free(&err);

  /* A failure leaves nothing behind, parents included. */
  res = json_pack("{s:{s:I,s:I}}", "memory", "limit", (json_int_t)64 * MiB, "swap",
                  (json_int_t)32 * MiB);
  cg = NULL;
  check(run_cgroup_create("other/x/y", res, &cg, &err) < 0 && strstr(msg(err), "below the memory limit"),
     "v2 fake: swap below limit refused: %s", msg(err));
  check(cg == NULL && missing(other), "v2 fake: failed create removed other/x/y and its parents");
  ctr_err_free(&err);
  json_decref(res);
  res = json_pack("{s:{s:s}}", "memory", "limit", "64m");
  check(run_cgroup_create("other/z", res, &cg, &err) < 0 && missing(other) &&
         strstr(msg(err), "memory.limit: not an integer"),
     "v2 fake: a string limit is refused before anything is made: %s", msg(err));
  ctr_err_free(&err);
  json_decref(res);
  check(run_cgroup_create("ctr/../etc", NULL, &cg, &err) < 0 && err->errnum == EINVAL,
     "v2 fake: '..' in a cgroup path refused: %s", msg(err));
  ctr_err_free(&err);

out:
  run_cgroup_set_root_for_tests(NULL, 0);
  ctr_rm_rf(AT_FDCWD, root, &err);
  ctr_err_free(&err);
  check(missing(root), "v2 fake: tree removed");
}

/* ---- v1, for real ---- */

static const char *const v1_hiers[] = {"memory", "cpu", "cpuacct", "pids", "devices",
                                       "freezer", "cpuset", "blkio", "systemd"};
#define N_HIERS (sizeof(v1_hiers) / sizeof(v1_hiers[0]))

static bool v1_mounted(const char *h) {
  char path[256];
  struct statfs fs;
  snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", h);
  return statfs(path, &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC;
}

/* No dir for path in any mounted hierarchy. */
static bool gone_everywhere(const char *path) {
  for (size_t h = 0; h < N_HIERS; h++) {
    char p[512];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", v1_hiers[h], path);
    if (v1_mounted(v1_hiers[h]) && !missing(p))
      return false;
  }
  return true;
}

static bool present_everywhere(const char *path) {
  for (size_t h = 0; h < N_HIERS; h++) {
    char p[512];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", v1_hiers[h], path);
    if (v1_mounted(v1_hiers[h]) && !is_dir(p))
      return false;
  }
  return true;
}

/* A child that waits for a byte on `go` and then runs `body`. */
static pid_t spawn(int go[2], void (*body)(int out), int out) {
  pid_t pid;
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1)
      _exit(1);
    body(out);
    _exit(0);
  }
  close(go[0]);
  return pid;
}

static void body_pause(int out) {
  (void)out;
  for (;;)
    pause();
}

static void body_hog(int out) {
  size_t len = 200 * MiB;
  volatile char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  (void)out;
  if (m == MAP_FAILED)
    _exit(2);
  for (size_t i = 0; i < len; i += 4096)
    m[i] = 1;
  _exit(3); /* survived: the limit did not hold */
}

static void body_forker(int out) {
  int forks = 0, e = 0;
  for (int i = 0; i < 30; i++) {
    pid_t p = fork();
    if (p == 0)
      for (;;)
        pause();
    if (p < 0) {
      e = errno;
      break;
    }
    forks++;
  }
  int msgbuf[2] = {forks, e};
  if (write(out, msgbuf, sizeof(msgbuf)) != sizeof(msgbuf))
    _exit(1);
  for (;;)
    pause();
}

static bool proc_cgroup_has(pid_t pid, const char *line) {
  char dir[64];
  cleanup_free char *text = NULL;
  snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
  text = slurp(dir, "cgroup");
  for (const char *p = text; p != NULL && (p = strstr(p, line)) != NULL; p++)
    if (p[strlen(line)] == '\n' || p[strlen(line)] == '\0')
      return true;
  return false;
}

static bool contains(const pid_t *pids, size_t n, pid_t pid) {
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* Reap every child (grandchildren too: we are their subreaper). */
static void reap_all(void) {
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
    ;
}

static void v1_limits_and_processes(const char *path) {
  struct run_cgroup *cg = NULL, *cg2 = NULL;
  struct run_cgroup_stats st;
  ctr_err err = NULL;
  char *dirs[N_HIERS] = {0};
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  char want[256];
  int go[2], status = 0;
  pid_t child;
  json_t *res = json_pack(
      "{s:{s:I},s:{s:I,s:I,s:I,s:s},s:{s:I},s:[{s:b,s:s},{s:b,s:s,s:I,s:I,s:s},"
      "{s:b,s:s,s:I,s:I,s:s},{s:b,s:s,s:I,s:s}]}",
      "memory", "limit", (json_int_t)64 * MiB, "cpu", "shares", (json_int_t)512, "quota",
      (json_int_t)50000, "period", (json_int_t)100000, "cpus", "0", "pids", "limit",
      (json_int_t)20, "devices", "allow", 0, "access", "rwm", "allow", 1, "type", "c", "major",
      (json_int_t)1, "minor", (json_int_t)3, "access", "rwm", "allow", 1, "type", "c", "major",
      (json_int_t)1, "minor", (json_int_t)5, "access", "rw", "allow", 1, "type", "c", "major",
      (json_int_t)136, "access", "rwm");

  check(run_cgroup_create(path, res, &cg, &err) == 0, "v1: create %s: %s", path, msg(err));
  ctr_err_free(&err);
  json_decref(res);
  if (cg == NULL)
    return;
  for (size_t h = 0; h < N_HIERS; h++)
    dirs[h] = run_cgroup_dir(cg, v1_hiers[h]);
  check(present_everywhere(path), "v1: a directory in every mounted hierarchy");
  check(dirs[0] && strstr(dirs[0], "/sys/fs/cgroup/memory/") == dirs[0],
     "v1: run_cgroup_dir(memory) = %s", dirs[0] ? dirs[0] : "(null)");
  check(file_is(dirs[0], "memory.limit_in_bytes", "67108864"), "v1: memory.limit_in_bytes 64 MiB");
  check(file_is(dirs[1], "cpu.cfs_quota_us", "50000"), "v1: cpu.cfs_quota_us 50000");
  check(file_is(dirs[1], "cpu.cfs_period_us", "100000"), "v1: cpu.cfs_period_us 100000");
  check(file_is(dirs[1], "cpu.shares", "512"), "v1: cpu.shares 512");
  check(file_is(dirs[3], "pids.max", "20"), "v1: pids.max 20");
  check(file_is(dirs[6], "cpuset.cpus", "0"), "v1: cpuset.cpus 0");
  {
    cleanup_free char *mems = slurp("/sys/fs/cgroup/cpuset", "cpuset.mems");
    check(mems && file_is(dirs[6], "cpuset.mems", mems), "v1: cpuset.mems copied from the root (%s)",
       mems ? mems : "?");
  }
  check(file_has_line(dirs[4], "devices.list", "c 1:3 rwm") &&
         file_has_line(dirs[4], "devices.list", "c 1:5 rw") &&
         file_has_line(dirs[4], "devices.list", "c 136:* rwm") &&
         !file_has_line(dirs[4], "devices.list", "a *:* rwm"),
     "v1: devices.list holds exactly the allowed rules");
  check(run_cgroup_stats(cg, &st, &err) == 0 && st.mem_limit == 64 * MiB && st.pids == 0 &&
         st.cpu_ns >= 0 && st.mem_usage >= 0,
     "v1: stats: limit %" PRId64 ", pids %" PRId64, st.mem_limit, st.pids);
  ctr_err_free(&err);
  check(run_cgroup_open(path, &cg2, &err) == 0, "v1: open %s: %s", path, msg(err));
  ctr_err_free(&err);

  /* A process added, listed, seen in /proc, then killed. */
  if (pipe(go) < 0)
    return;
  child = spawn(go, body_pause, -1);
  check(run_cgroup_add(cg2 ? cg2 : cg, child, &err) == 0, "v1: add pid %d: %s", (int)child, msg(err));
  ctr_err_free(&err);
  if (write(go[1], "x", 1) != 1)
    check(0, "v1: start child");
  close(go[1]);
  check(run_cgroup_pids(cg, &pids, &n, &err) == 0 && n == 1 && contains(pids, n, child),
     "v1: run_cgroup_pids lists the child (%zu pids)", n);
  ctr_err_free(&err);
  snprintf(want, sizeof(want), ":memory:/%s", path);
  check(proc_cgroup_has(child, want), "v1: /proc/%d/cgroup has %s", (int)child, want);
  snprintf(want, sizeof(want), ":name=systemd:/%s", path);
  check(proc_cgroup_has(child, want), "v1: and name=systemd too");
  check(run_cgroup_stats(cg, &st, &err) == 0 && st.pids == 1, "v1: stats count 1 pid");
  ctr_err_free(&err);
  check(run_cgroup_kill(cg, SIGTERM, &err) == 0, "v1: kill SIGTERM: %s", msg(err));
  ctr_err_free(&err);
  check(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
     "v1: the child died of SIGTERM");
  check(file_is(dirs[5], "freezer.state", "THAWED"), "v1: thawed again after the kill");

  if (pipe(go) < 0)
    return;
  child = spawn(go, body_pause, -1);
  run_cgroup_add(cg, child, &err);
  if (write(go[1], "x", 1) != 1)
    check(0, "v1: start child");
  close(go[1]);
  check(run_cgroup_kill(cg, SIGKILL, &err) == 0, "v1: kill SIGKILL: %s", msg(err));
  ctr_err_free(&err);
  check(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
     "v1: the child died of SIGKILL");

  /* The pids limit: 20 tasks, the forker being one of them. */
  {
    int res_pipe[2], got[2] = {-1, -1};
    free(pids);
    pids = NULL;
    if (pipe(go) < 0 || pipe(res_pipe) < 0)
      return;
    child = spawn(go, body_forker, res_pipe[1]);
    close(res_pipe[1]);
    check(run_cgroup_add(cg, child, &err) == 0, "v1: add the forker: %s", msg(err));
    ctr_err_free(&err);
    if (write(go[1], "x", 1) != 1)
      check(0, "v1: start forker");
    close(go[1]);
    check(read(res_pipe[0], got, sizeof(got)) == sizeof(got) && got[0] == 19 && got[1] == EAGAIN,
       "v1: the forker made 19 children, then fork failed with EAGAIN (%d, %s)", got[0],
       strerror(got[1]));
    close(res_pipe[0]);
    check(run_cgroup_pids(cg, &pids, &n, &err) == 0 && n == 20, "v1: 20 pids listed (%zu)", n);
    ctr_err_free(&err);
    check(run_cgroup_kill(cg, SIGKILL, &err) == 0, "v1: kill them all: %s", msg(err));
    ctr_err_free(&err);
    reap_all();
    free(pids);
    pids = NULL;
    check(run_cgroup_pids(cg, &pids, &n, &err) == 0 && n == 0, "v1: none left (%zu)", n);
    ctr_err_free(&err);
  }

  check(run_cgroup_destroy(cg2, &err) == 0, "v1: destroy %s: %s", path, msg(err));
  ctr_err_free(&err);
  run_cgroup_free(cg);
  {
    bool all_gone = true;
    for (size_t h = 0; h < N_HIERS; h++)
      if (dirs[h] != NULL && !missing(dirs[h]))
        all_gone = false;
    check(all_gone && gone_everywhere(path), "v1: every hierarchy's directory removed");
  }
  check(run_cgroup_open(path, &cg, &err) < 0 && err->errnum == ENOENT, "v1: open after destroy: %s",
     msg(err));
  ctr_err_free(&err);
  for (size_t h = 0; h < N_HIERS; h++)
    free(dirs[h]);
}

static void v1_oom(const char *path) {
  struct run_cgroup *cg = NULL;
  ctr_err err = NULL;
  bool oom = true, memsw = !missing("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  int go[2], status = 0;
  pid_t child;
  json_t *res = memsw ? json_pack("{s:{s:I,s:I}}", "memory", "limit", (json_int_t)32 * MiB,
                                  "swap", (json_int_t)32 * MiB)
                      : json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)32 * MiB);
  check(run_cgroup_create(path, res, &cg, &err) == 0, "v1 oom: create %s (memsw %s): %s", path,
     memsw ? "limited" : "absent", msg(err));
  ctr_err_free(&err);
  json_decref(res);
  if (cg == NULL)
    return;
  check(run_cgroup_oom_killed(cg, &oom, &err) == 0 && !oom, "v1 oom: nothing killed yet");
  if (pipe(go) < 0)
    return;
  child = spawn(go, body_hog, -1);
  check(run_cgroup_add(cg, child, &err) == 0, "v1 oom: add the hog: %s", msg(err));
  ctr_err_free(&err);
  if (write(go[1], "x", 1) != 1)
    check(0, "v1 oom: start hog");
  close(go[1]);
  check(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
     "v1 oom: a child touching 200 MiB in 32 MiB is killed by SIGKILL (status %#x)", status);
  check(run_cgroup_oom_killed(cg, &oom, &err) == 0 && oom, "v1 oom: run_cgroup_oom_killed says so");
  ctr_err_free(&err);
  check(run_cgroup_destroy(cg, &err) == 0 && gone_everywhere(path), "v1 oom: destroyed: %s",
     msg(err));
  ctr_err_free(&err);
}

static void v1_failures(const char *path, bool parent_is_new, const char *parent) {
  struct run_cgroup *cg = NULL;
  ctr_err err = NULL;
  json_t *res = json_pack("{s:{s:I,s:I}}", "cpu", "quota", (json_int_t)10, "period",
                          (json_int_t)100000);
  check(run_cgroup_create(path, res, &cg, &err) < 0 && strstr(msg(err), "write 10 to ") &&
         strstr(msg(err), "/cpu.cfs_quota_us: Invalid argument"),
     "v1: a quota of 10us is refused, naming file and value: %s", msg(err));
  ctr_err_free(&err);
  json_decref(res);
  check(gone_everywhere(path), "v1: nothing left of the failed create");
  if (parent_is_new)
    check(gone_everywhere(parent), "v1: not even the parent %s it made", parent);

  res = json_pack("{s:[{s:b,s:s}]}", "devices", "allow", 1, "type", "x");
  check(run_cgroup_create(path, res, &cg, &err) < 0 && strstr(msg(err), "devices[0].type") &&
         gone_everywhere(path),
     "v1: a bad device type is refused before anything is made: %s", msg(err));
  ctr_err_free(&err);
  json_decref(res);
}

static void test_v1_real(void) {
  unsigned char rnd[4] = {0};
  char id[16], path[64], oom_path[64], bad_path[64];
  bool parent_existed[N_HIERS];
  ctr_err err = NULL;
  if (geteuid() != 0 || run_cgroup_version() != 1 || !v1_mounted("memory") ||
      !v1_mounted("pids") || !v1_mounted("freezer") || !v1_mounted("cpu") ||
      !v1_mounted("devices") || !v1_mounted("cpuset")) {
    check(1, "# SKIP real cgroup tests need root and cgroup v1 memory, pids, freezer, cpu, "
          "devices, cpuset mounted under /sys/fs/cgroup");
    return;
  }
  if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
    rnd[0] = (unsigned char)getpid();
  snprintf(id, sizeof(id), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
  snprintf(path, sizeof(path), "ctr-test/%s", id);
  snprintf(oom_path, sizeof(oom_path), "ctr-test/%s-oom", id);
  snprintf(bad_path, sizeof(bad_path), "ctr-test/%s-bad", id);
  for (size_t h = 0; h < N_HIERS; h++) {
    char p[256];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/ctr-test", v1_hiers[h]);
    parent_existed[h] = !missing(p);
  }
  /* Grandchildren of the pids test are reparented to us, to be reaped. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  v1_failures(bad_path, !parent_existed[0], "ctr-test");
  v1_limits_and_processes(path);
  v1_oom(oom_path);

  /* Whatever a failed assertion left behind, then the parents we made. */
  const char *paths[] = {path, oom_path, bad_path};
  for (size_t i = 0; i < 3; i++) {
    struct run_cgroup *cg = NULL;
    if (run_cgroup_open(paths[i], &cg, &err) == 0) {
      run_cgroup_kill(cg, SIGKILL, &err);
      reap_all();
      run_cgroup_destroy(cg, &err);
    }
    ctr_err_free(&err);
  }
  for (size_t h = 0; h < N_HIERS; h++) {
    char p[256];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/ctr-test", v1_hiers[h]);
    if (!parent_existed[h])
      rmdir(p);
  }
  check(gone_everywhere(path) && gone_everywhere(oom_path) && gone_everywhere(bad_path),
     "v1: no test cgroup left");
  if (!parent_existed[0])
    check(gone_everywhere("ctr-test"), "v1: the ctr-test parents removed");
}


/* ---- v2 device rules, enforced by the kernel ---- */

/* In a child placed in the cgroup: can it open path with flags? 0 yes,
 * else the errno. */
static int try_open_in(const char *procs, const char *path, int flags) {
  int st = 0;
  pid_t pid = fork();
  if (pid == 0) {
    char buf[32];
    int fd = open(procs, O_WRONLY | O_CLOEXEC), n = snprintf(buf, sizeof(buf), "%d", getpid());
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
      _exit(250);
    close(fd);
    fd = open(path, flags | O_CLOEXEC);
    _exit(fd >= 0 ? 0 : errno);
  }
  if (pid < 0 || waitpid(pid, &st, 0) < 0)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_v2_devices(void) {
  char mnt[] = "/tmp/ctr-cg2.XXXXXX", dir[4096], procs[4200];
  ctr_err err = NULL;
  json_t *rules;
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  /* a cgroup2 hierarchy of our own (next to v1 here), so this runs on
   * v1, hybrid and v2 hosts alike */
  if (mkdtemp(mnt) == NULL || mount("none", mnt, "cgroup2", 0, NULL) < 0) {
    check(0, "v2 devices: mount cgroup2: %s", strerror(errno));
    return;
  }
  snprintf(dir, sizeof(dir), "%s/ctr-test-devices-%d", mnt, (int)getpid());
  snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
  check(mkdir(dir, 0755) == 0, "v2 devices: mkdir %s", dir);

  /* docker's shape: deny all, allow some, the last match decides */
  rules = json_pack("[{s:b,s:s}, {s:b,s:s,s:I,s:s}, {s:b,s:s,s:I,s:I,s:s}, {s:b,s:s,s:I,s:I,s:s}]",
                    "allow", 0, "access", "rwm",
                    "allow", 1, "type", "c", "major", (json_int_t)1, "access", "rwm",
                    "allow", 0, "type", "c", "major", (json_int_t)1, "minor", (json_int_t)5, "access", "rwm",
                    "allow", 1, "type", "c", "major", (json_int_t)1, "minor", (json_int_t)7, "access", "r");
  check(run_devices_bpf_build(rules, &prog, &n, &err) == 0 && n > 6,
        "v2 devices: a program of %zu instructions", n);
  free(prog);
  check(run_devices_bpf_attach(dir, rules, &err) == 0, "v2 devices: the kernel loads and attaches it: %s",
        msg(err));
  ctr_err_free(&err);
  check(try_open_in(procs, "/dev/null", O_RDWR) == 0, "v2 devices: c 1:3 allowed by c 1:* rwm");
  check(try_open_in(procs, "/dev/zero", O_RDONLY) == EPERM,
        "v2 devices: c 1:5 denied by the later deny rule");
  check(try_open_in(procs, "/dev/full", O_RDONLY) == 0 && try_open_in(procs, "/dev/full", O_WRONLY) == 0,
        "v2 devices: c 1:7: the later 'r' rule does not narrow c 1:* rwm (no match for w)");
  check(try_open_in(procs, "/dev/tty", O_RDONLY) == EPERM, "v2 devices: c 5:0 denied (deny all)");
  json_decref(rules);

  /* attaching again replaces the program: now only /dev/zero, read-only */
  rules = json_pack("[{s:b,s:s}, {s:b,s:s,s:I,s:I,s:s}]", "allow", 0, "access", "rwm", "allow", 1,
                    "type", "c", "major", (json_int_t)1, "minor", (json_int_t)5, "access", "r");
  check(run_devices_bpf_attach(dir, rules, &err) == 0, "v2 devices: replaced: %s", msg(err));
  ctr_err_free(&err);
  check(try_open_in(procs, "/dev/zero", O_RDONLY) == 0, "v2 devices: c 1:5 r now allowed");
  check(try_open_in(procs, "/dev/zero", O_WRONLY) == EPERM, "v2 devices: but not w");
  check(try_open_in(procs, "/dev/null", O_RDONLY) == EPERM, "v2 devices: c 1:3 now denied");
  json_decref(rules);

  rules = json_pack("[{s:b,s:s}]", "allow", 1, "access", "rwz");
  check(run_devices_bpf_attach(dir, rules, &err) < 0 && strstr(msg(err), "not made of r, w, m"),
        "v2 devices: a bad rule is refused: %s", msg(err));
  ctr_err_free(&err);
  json_decref(rules);
  check(run_devices_bpf_attach("/tmp", NULL, &err) < 0 && strstr(msg(err), "not a cgroup2 directory"),
        "v2 devices: not a cgroup2 dir: %s", msg(err));
  ctr_err_free(&err);

  for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
    usleep(20000);
  check(umount(mnt) == 0 && rmdir(mnt) == 0, "v2 devices: cleaned up");
}

int main(void) {
  test_parse_size();
  test_parse_memory();
  test_parse_cpus();
  test_v2_fake();
  test_v2_devices();
  test_v1_real();
  return tap_done();
}
