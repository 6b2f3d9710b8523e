#define _GNU_SOURCE
/* The container's filesystem (lib/run/rootfs.h): each case runs in a
 * child with its own mount and pid namespaces, sets up a busybox rootfs
 * from a config.json, checks from inside, and reports on a pipe; the
 * host's mount table must come out unchanged. Needs root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/magic.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "run/inroot.h"
#include "run/mounts.h"
#include "run/rootfs.h"
#include "tap.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

static char base[64], outside[64], bundle[128], rootfs[160];
static dev_t host_pts_dev;
/* A file of /proc the masked paths cover that this kernel has (kcore
 * needs CONFIG_PROC_KCORE). */
static const char *masked_file = "/proc/kcore";
static int report_fd = -1;

/* ---- files --------------------------------------------------------------- */

static char *slurp(const char *path) {
  char *out = NULL;
  ctr_err err = NULL;
  if (ctr_read_file(AT_FDCWD, path, 1 << 20, &out, NULL, &err) < 0)
    ctr_err_free(&err);
  return out;
}

static bool spit(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  bool good = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  if (fd >= 0)
    close(fd);
  return good;
}

static bool text_is(const char *path, const char *want) {
  cleanup_free char *got = slurp(path);
  return got != NULL && strcmp(got, want) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted, space-separated; NULL if unreadable. */
static char *listing(const char *path) {
  cleanup_dir DIR *d = opendir(path);
  char *names[256], *out;
  size_t n = 0, len = 1;
  struct dirent *de;
  if (d == NULL)
    return NULL;
  while ((de = readdir(d)) != NULL && n < 256)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      names[n++] = strdup(de->d_name);
  qsort(names, n, sizeof(names[0]), cmp_str);
  for (size_t i = 0; i < n; i++)
    len += strlen(names[i]) + 1;
  out = calloc(1, len);
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      strcat(out, " ");
    strcat(out, names[i]);
    free(names[i]);
  }
  return out;
}

static bool listing_is(const char *path, const char *want) {
  cleanup_free char *got = listing(path);
  if (got != NULL && strcmp(got, want) != 0)
    printf("# %s has: %s\n", path, got);
  return got != NULL && strcmp(got, want) == 0;
}

static bool fs_is(const char *path, long magic) {
  struct statfs s;
  return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

static unsigned long vflags(const char *path) {
  struct statvfs s;
  return statvfs(path, &s) == 0 ? s.f_flag : 0;
}

static bool write_fails(const char *path, int err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    return false;
  }
  return errno == err;
}

/* ---- reporting from a child ------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static void check(bool cond, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  dprintf(report_fd, "%d %s\n", cond ? 1 : 0, buf);
}

/* Run fn(arg) in a child that reports "1 what" / "0 what" lines, "E msg"
 * for a failed setup; the lines become TAP here. Returns the setup error
 * (malloc'd) or NULL. */
static char *in_child(const char *name, void (*fn)(void *), void *arg) {
  int p[2], status;
  char *line = NULL, *setup_err = NULL;
  size_t cap = 0;
  FILE *f;
  pid_t pid;
  if (pipe2(p, O_CLOEXEC) < 0)
    return NULL;
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    close(p[0]);
    report_fd = p[1];
    alarm(120);
    fn(arg);
    _exit(0);
  }
  close(p[1]);
  f = fdopen(p[0], "r");
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == 'E') {
      free(setup_err);
      setup_err = strdup(line + 2);
    } else if (line[0] == '#') {
      printf("%s\n", line);
    } else {
      ok(line[0] == '1', "%s: %s", name, line + 2);
    }
  }
  free(line);
  fclose(f);
  waitpid(pid, &status, 0);
  ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exits cleanly (status %#x)", name,
     status);
  return setup_err;
}

/* The calls a test makes fail with ENOSYS, as under valgrind or an old
 * kernel, to take the fallback paths. */
static int block_syscalls(const int *nrs, size_t n) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int r = ctx ? 0 : -1;
  for (size_t i = 0; r == 0 && i < n; i++)
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nrs[i], 0);
  if (r == 0)
    r = seccomp_load(ctx);
  seccomp_release(ctx);
  return r;
}

static int sh(const char *cmd, char *out, size_t len) {
  int p[2], status;
  ssize_t n, got = 0;
  pid_t pid;
  if (pipe(p) < 0)
    return -1;
  pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  while ((n = read(p[0], out + got, len - 1 - (size_t)got)) > 0)
    got += n;
  out[got] = '\0';
  close(p[0]);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- a container per case --------------------------------------------------- */

struct ccase {
  const char *config; /* config.json text */
  int flags;          /* namespaces besides mount and pid */
  bool no_openat2;    /* resolve with the walk, not openat2 */
  void (*prep)(void); /* in the child, before the namespaces */
  void (*check)(void);
};

static void map_root(void) {
  if (!spit("/proc/self/setgroups", "deny") || !spit("/proc/self/uid_map", "0 0 1") ||
      !spit("/proc/self/gid_map", "0 0 1"))
    check(false, "write the id maps: %m");
}

/* With LeakSanitizer: a leak check in the child too (it ends in _exit). */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void leak_check(void) {
  if (__lsan_do_recoverable_leak_check != NULL)
    check(__lsan_do_recoverable_leak_check() == 0, "no leaks (LeakSanitizer)");
}

static void container_main(struct ccase *c) {
  json_error_t je;
  json_t *cfg = json_loads(c->config, 0, &je);
  ctr_err err = NULL;
  if (cfg == NULL) {
    check(false, "config.json: %s", je.text);
    return;
  }
  if (c->no_openat2 && block_syscalls((const int[]){SCMP_SYS(openat2)}, 1) < 0)
    dprintf(report_fd, "# cannot block openat2 here\n");
  if (run_rootfs_setup(bundle, cfg, &err) < 0) {
    dprintf(report_fd, "E %s\n", err && err->msg ? err->msg : "?");
    ctr_err_free(&err);
  } else {
    c->check();
  }
  json_decref(cfg);
  leak_check();
}

static void container_case(void *arg) {
  struct ccase *c = arg;
  int status;
  pid_t pid;
  if (c->prep)
    c->prep();
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | c->flags) < 0) {
    check(false, "unshare: %m");
    return;
  }
  if (c->flags & CLONE_NEWUSER)
    map_root();
  /* The pid namespace is for the children. */
  pid = fork();
  if (pid == 0) {
    container_main(c);
    _exit(0);
  }
  waitpid(pid, &status, 0);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 99);
}

static char *run_container(const char *name, struct ccase *c) {
  return in_child(name, container_case, c);
}

/* ---- checks from inside -------------------------------------------------- */

static void check_dev(const char *path, unsigned int maj, unsigned int min, mode_t mode) {
  struct stat st;
  check(lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
            minor(st.st_rdev) == min && (st.st_mode & 07777) == mode,
        "%s is char %u:%u mode %04o", path, maj, min, (unsigned int)mode);
}

static void check_link(const char *path, const char *target) {
  char buf[256];
  ssize_t n = readlink(path, buf, sizeof(buf) - 1);
  buf[n > 0 ? n : 0] = '\0';
  check(strcmp(buf, target) == 0, "%s -> %s (is %s)", path, target, buf);
}

/* The fds open when the test started (inherited ones too). */
static bool fd_at_start[1024];

static void note_fds(bool *open_fds) {
  cleanup_dir DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    int fd = atoi(de->d_name);
    if (de->d_name[0] != '.' && fd != dirfd(d) && fd < 1024)
      open_fds[fd] = true;
  }
}

/* The setup leaves no fd open: only those of the start and the report
 * pipe. (Valgrind's log, reopened in a child, is write-only; the setup
 * opens nothing for writing.) */
static void check_fds(void) {
  bool now[1024] = {false};
  int extra = -1;
  note_fds(now);
  for (int fd = 0; fd < 1024; fd++)
    if (now[fd] && !fd_at_start[fd] && fd != report_fd && extra < 0 &&
        (fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY)
      extra = fd;
  check(extra < 0, "no fd left open by the setup (fd %d)", extra);
}

static bool cgroup_procs_has_1(const char *path) {
  cleanup_free char *procs = slurp(path);
  return procs != NULL && (strncmp(procs, "1\n", 2) == 0 || strstr(procs, "\n1\n") != NULL);
}

static void check_docker(void) {
  char out[256];
  struct stat st;
  int fd, status;
  check_fds();
  check(getpid() == 1, "the container's process is pid 1");
  check(listing_is("/proc/self/task", "1"), "/proc is the container's");
  {
    cleanup_dir DIR *d = opendir("/proc");
    struct dirent *de;
    int pids = 0, others = 0;
    while (d && (de = readdir(d)) != NULL)
      if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
        strcmp(de->d_name, "1") == 0 ? pids++ : others++;
    check(pids == 1 && others == 0, "/proc shows only the container's pids (1, +%d)", others);
  }
  status = sh("echo $$", out, sizeof(out));
  check(status == 0 && atoi(out) > 1 && atoi(out) < 10,
        "busybox sh runs in the rootfs, in the pid namespace (pid %d)", atoi(out));
  check(listing_is("/dev", "fd full mqueue null ptmx pts random shm stderr stdin stdout tty "
                           "urandom zero"),
        "/dev has exactly the default devices");
  check_dev("/dev/null", 1, 3, 0666);
  check_dev("/dev/zero", 1, 5, 0666);
  check_dev("/dev/full", 1, 7, 0666);
  check_dev("/dev/random", 1, 8, 0666);
  check_dev("/dev/urandom", 1, 9, 0666);
  check_dev("/dev/tty", 5, 0, 0666);
  check_link("/dev/ptmx", "pts/ptmx");
  check_link("/dev/fd", "/proc/self/fd");
  check_link("/dev/stdin", "/proc/self/fd/0");
  check_link("/dev/stdout", "/proc/self/fd/1");
  check_link("/dev/stderr", "/proc/self/fd/2");
  check(fs_is("/dev", TMPFS_MAGIC) && (vflags("/dev") & ST_NOSUID), "/dev is a nosuid tmpfs");
  check(fs_is("/dev/pts", DEVPTS_SUPER_MAGIC) && stat("/dev/pts", &st) == 0 &&
            st.st_dev != host_pts_dev,
        "/dev/pts is a new devpts instance");
  fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  check(fd >= 0, "/dev/ptmx opens a pty: %s", fd >= 0 ? "yes" : strerror(errno));
  if (fd >= 0)
    close(fd);
  check(stat("/dev/pts/ptmx", &st) == 0 && (st.st_mode & 0777) == 0666, "ptmxmode=0666");
  check(fs_is("/dev/shm", TMPFS_MAGIC) && stat("/dev/shm", &st) == 0 &&
            (st.st_mode & 07777) == 01777 &&
            (vflags("/dev/shm") & (ST_NOSUID | ST_NODEV | ST_NOEXEC)) ==
                (ST_NOSUID | ST_NODEV | ST_NOEXEC),
        "/dev/shm is a tmpfs, 1777, nosuid,nodev,noexec");
  check(fs_is("/dev/mqueue", MQUEUE_MAGIC), "/dev/mqueue is mqueue");
  check(fs_is("/sys", SYSFS_MAGIC) && (vflags("/sys") & ST_RDONLY), "/sys is sysfs, read-only");
  check(mkdir("/sys/ctr-test", 0755) < 0 && errno == EROFS, "mkdir in /sys: EROFS");
  check(fs_is("/sys/fs/cgroup", TMPFS_MAGIC) && (vflags("/sys/fs/cgroup") & ST_RDONLY),
        "/sys/fs/cgroup is a read-only tmpfs");
  check(access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 &&
            (vflags("/sys/fs/cgroup/memory") & ST_RDONLY),
        "/sys/fs/cgroup/memory is there, read-only");
  check(cgroup_procs_has_1("/sys/fs/cgroup/memory/cgroup.procs"),
        "/sys/fs/cgroup/memory is the container's own cgroup (holds pid 1)");
  check(lstat(masked_file, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
        "masked %s is /dev/null (char 1:3)", masked_file);
  check(text_is(masked_file, ""), "masked %s reads empty", masked_file);
  check(fs_is("/sys/firmware", TMPFS_MAGIC) && (vflags("/sys/firmware") & ST_RDONLY) &&
            listing_is("/sys/firmware", ""),
        "masked /sys/firmware is an empty read-only tmpfs");
  check(access("/proc/acpi", F_OK) < 0 ||
            (fs_is("/proc/acpi", TMPFS_MAGIC) && (vflags("/proc/acpi") & ST_RDONLY)),
        "masked /proc/acpi is a read-only tmpfs (or missing)");
  check(write_fails("/proc/sys/kernel/hostname", EROFS), "write /proc/sys/kernel/hostname: EROFS");
  check(access("/proc/sysrq-trigger", F_OK) < 0 || write_fails("/proc/sysrq-trigger", EROFS),
        "write /proc/sysrq-trigger: EROFS (or missing)");
  check((vflags("/proc/bus") & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC)) ==
            (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC),
        "/proc/bus is ro,nosuid,nodev,noexec");
  check(mkdir("/rw-root", 0755) == 0, "the root is writable without root.readonly");
}

static void check_binds(void) {
  char etc[256], landed[256];
  struct stat st;
  struct statfs sfs;
  check_fds();
  check(text_is("/data/data", "hello"), "rw bind: host file readable");
  check(spit("/data/new", "from the container"), "rw bind: writable");
  check(text_is("/data-ro/data", "ro"), "ro bind: readable");
  check(write_fails("/data-ro/new", EROFS), "ro bind: write fails EROFS");
  check((vflags("/data-ro") & (ST_RDONLY | ST_NOSUID | ST_NODEV)) ==
            (ST_RDONLY | ST_NOSUID | ST_NODEV),
        "ro bind: ro,nosuid,nodev");
  check(text_is("/etc/hosts", "127.0.0.1 testhost\n"), "file bind through /etc -> %s", outside);
  check(text_is("/mnt/x/y/data", "hello"), "bind through /mnt/x -> ../../../..%s", outside);
  check(write_fails("/mnt/x/y/new", EROFS), "bind,ro: write fails EROFS");
  /* /etc is the image's symlink to the outside path: inside, that path is
   * the rootfs's own directory, with the mount points in it. */
  snprintf(etc, sizeof(etc), "%s", outside);
  check(listing_is(etc, "evil hosts y"), "the mounts landed in the rootfs's %s", outside);
  snprintf(landed, sizeof(landed), "%s/evil", outside);
  check(lstat(landed, &st) == 0 && S_ISCHR(st.st_mode), "a device through /etc lands there too");
  check(statfs("/tmp/small", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC &&
            (unsigned long long)sfs.f_blocks * sfs.f_bsize == 1 << 20,
        "tmpfs size=1m");
  check(stat("/tmp/small", &st) == 0 && (st.st_mode & 07777) == 0700, "tmpfs mode=0700");
  check(spit("/tmp/small/f", "x"), "tmpfs is writable under a read-only root");
  check_dev("/dev/mydev", 1, 5, 0640);
  check_dev("/dev/null", 1, 3, 0666);
  check(mkdir("/newdir", 0755) < 0 && errno == EROFS, "root.readonly: mkdir / EROFS");
  check(write_fails("/tmp/x", EROFS), "root.readonly: write /tmp EROFS");
  check(cgroup_procs_has_1("/sys/fs/cgroup/memory/cgroup.procs") &&
            (vflags("/sys/fs/cgroup/memory") & ST_RDONLY),
        "cgroup v1 bind (no cgroup ns): own memory cgroup, read-only");
}

static void check_userns(void) {
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  check(fd >= 0 && write(fd, "x", 1) == 1, "/dev/null works (host node bound: mknod refused)");
  if (fd >= 0)
    close(fd);
  check_dev("/dev/zero", 1, 5, 0666);
  check(fs_is("/dev/pts", DEVPTS_SUPER_MAGIC), "devpts without gid=5 (unmapped)");
  check(fs_is("/sys", SYSFS_MAGIC) && (vflags("/sys") & ST_RDONLY),
        "/sys: the host's bound read-only (sysfs refused)");
  check(fs_is("/dev/mqueue", MQUEUE_MAGIC), "/dev/mqueue (own IPC namespace)");
  check(text_is("/locked/data", "locked"), "bind of a nosuid,nodev,noexec source");
  check(write_fails("/locked/new", EROFS) &&
            (vflags("/locked") & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RDONLY)) ==
                (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RDONLY),
        "...remounted ro, its locked flags kept");
  check(text_is(masked_file, ""), "masked %s", masked_file);
  check(write_fails("/proc/sys/kernel/hostname", EROFS), "read-only /proc/sys");
  check(mkdir("/readonly-root", 0755) < 0 && errno == EROFS, "root.readonly in a user namespace");
}

/* In the child, before the user namespace: a nosuid,nodev,noexec mount,
 * whose flags are then locked for the user namespace. */
static void prep_locked_source(void) {
  char path[192];
  snprintf(path, sizeof(path), "%s/locked", base);
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", "", MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m") < 0)
    check(false, "prepare a locked mount: %m");
  snprintf(path, sizeof(path), "%s/locked/data", base);
  spit(path, "locked");
}

static void check_nothing(void) {}

static void check_rshared(void) {
  char mi[16384] = "", *root, *eol;
  int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, mi, sizeof(mi) - 1) : -1;
  if (fd >= 0)
    close(fd);
  mi[n > 0 ? n : 0] = '\0';
  /* The line whose mount point (5th field) is "/". */
  for (root = strtok_r(mi, "\n", &eol); root; root = strtok_r(NULL, "\n", &eol)) {
    char a[64], b[64], c[64], r[4096], m[4096];
    if (sscanf(root, "%63s %63s %63s %4095s %4095s", a, b, c, r, m) == 5 && strcmp(m, "/") == 0)
      break;
  }
  check(root && strstr(root, " shared:") != NULL, "/ is shared (%s)",
        root ? root : "no / in mountinfo");
}

/* ---- the cases --------------------------------------------------------------- */

static const char docker_config[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\","
    "\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":["
    "\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]}],"
    "\"linux\":{\"rootfsPropagation\":\"rprivate\",\"maskedPaths\":[\"/proc/asound\","
    "\"/proc/acpi\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\","
    "\"/proc/timer_stats\",\"/proc/sched_debug\",\"/proc/scsi\",\"/sys/firmware\","
    "\"/sys/devices/virtual/powercap\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\","
    "\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

static char *binds_config(void) {
  char *s = NULL;
  if (asprintf(&s,
               "{\"root\":{\"path\":\"%s\",\"readonly\":true},\"mounts\":["
               "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
               "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s/hostdir\","
               "\"options\":[\"rbind\",\"rprivate\"]},"
               "{\"destination\":\"/data-ro\",\"type\":\"bind\",\"source\":\"%s/rodir\","
               "\"options\":[\"rbind\",\"ro\",\"nosuid\",\"nodev\"]},"
               "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"hosts\","
               "\"options\":[\"rbind\",\"rprivate\"]},"
               "{\"destination\":\"/mnt/x/y\",\"type\":\"none\",\"source\":\"%s/hostdir\","
               "\"options\":[\"bind\",\"ro\"]},"
               "{\"destination\":\"/tmp/small\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
               "\"options\":[\"nosuid\",\"size=1m\",\"mode=0700\"]},"
               "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
               "\"options\":[\"ro\",\"nosuid\",\"nodev\",\"noexec\"]}],"
               "\"linux\":{\"devices\":["
               "{\"path\":\"/dev/mydev\",\"type\":\"c\",\"major\":1,\"minor\":5,\"fileMode\":416,"
               "\"uid\":0,\"gid\":0},"
               "{\"path\":\"/etc/evil\",\"type\":\"c\",\"major\":1,\"minor\":3}]}}",
               rootfs, base, base, base) < 0)
    return NULL;
  return s;
}

static char *userns_config(void) {
  char *s = NULL;
  if (asprintf(&s,
               "{\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"mounts\":["
               "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
               "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
               "\"options\":[\"nosuid\",\"mode=755\"]},"
               "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
               "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"gid=5\"]},"
               "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
               "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
               "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\"},"
               "{\"destination\":\"/locked\",\"type\":\"bind\",\"source\":\"%s/locked\","
               "\"options\":[\"rbind\",\"ro\"]}],"
               "\"linux\":{\"maskedPaths\":[\"%s\"],\"readonlyPaths\":[\"/proc/sys\"]}}",
               base, masked_file) < 0)
    return NULL;
  return s;
}

/* A config that must fail: its error, checked by prefix. */
static void expect_error(const char *name, const char *config, const char *want) {
  struct ccase c = {.config = config, .check = check_nothing};
  cleanup_free char *got = run_container(name, &c);
  ok(got != NULL && strncmp(got, want, strlen(want)) == 0, "%s: error \"%s\"", name,
     got ? got : "(none)");
}

static void test_errors(void) {
  char cfg[1024], want[512];
  snprintf(cfg, sizeof(cfg),
           "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/etc/hosts\","
           "\"type\":\"bind\",\"source\":\"%s/nope/hosts\",\"options\":[\"rbind\"]}]}",
           base);
  snprintf(want, sizeof(want), "mount /etc/hosts: bind %s/nope/hosts: No such file or directory",
           base);
  expect_error("missing bind source", cfg, want);
  snprintf(cfg, sizeof(cfg),
           "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/proc\","
           "\"type\":\"proc\",\"source\":\"proc\"},{\"destination\":\"/proc/sys/kernel/hostname\","
           "\"type\":\"bind\",\"source\":\"%s/hosts\",\"options\":[\"bind\"]}]}",
           base);
  expect_error("bind over /proc", cfg,
               "mount /proc/sys/kernel/hostname: refusing to mount over a file of /proc");
  expect_error("bad tmpfs option",
               "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/tmp/t\","
               "\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"size=lots\"]}]}",
               "mount /tmp/t: tmpfs size=lots: Invalid argument");
  expect_error("options not strings",
               "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/tmp/t\","
               "\"type\":\"tmpfs\",\"options\":[1]}]}",
               "mount /tmp/t: options: not an array of strings");
  expect_error("mount over /",
               "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/..\","
               "\"type\":\"tmpfs\"}]}",
               "mount /..: cannot mount over the container's root");
  expect_error("unknown propagation",
               "{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"rootfsPropagation\":\"sideways\"}}",
               "linux.rootfsPropagation: unknown value 'sideways'");
  expect_error("no root", "{\"mounts\":[]}", "config.json: root.path is missing");
  expect_error("bad device",
               "{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"devices\":[{\"path\":\"/dev/x\","
               "\"type\":\"c\"}]}}",
               "device /dev/x: major and minor must be numbers");
}

/* ---- resolution inside the root, without mounts ------------------------------ */

static bool same_file(int fd, const char *path) {
  struct stat a, b;
  return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

static void inroot_suite(void *arg) {
  const char *tag = arg;
  cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char path[256], in[256];
  int fd;
  if (strcmp(tag, "walk") == 0 && block_syscalls((const int[]){SCMP_SYS(openat2)}, 1) < 0)
    dprintf(report_fd, "# cannot block openat2 here\n");
  errno = 0;
  fd = run_inroot_open(root, "/etc/marker", RUN_INROOT_EXISTING);
  check(fd < 0 && errno == ENOENT, "absolute symlink: the host's file is not found");
  fd = run_inroot_open(root, "/mnt/x/marker", RUN_INROOT_EXISTING);
  check(fd < 0 && errno == ENOENT, "../../../.. symlink: the host's file is not found");
  fd = run_inroot_open(root, "/../../bin/busybox", RUN_INROOT_EXISTING);
  snprintf(path, sizeof(path), "%s/bin/busybox", rootfs);
  check(same_file(fd, path), "/../../bin/busybox stays in the root");
  if (fd >= 0)
    close(fd);
  fd = run_inroot_open(root, "bin/sh", RUN_INROOT_EXISTING);
  check(same_file(fd, path), "a final symlink is followed (bin/sh -> busybox)");
  if (fd >= 0)
    close(fd);
  snprintf(in, sizeof(in), "/etc/dir-%s/sub", tag);
  fd = run_inroot_open(root, in, RUN_INROOT_MKDIR);
  snprintf(path, sizeof(path), "%s%s/dir-%s/sub", rootfs, outside, tag);
  check(same_file(fd, path), "mkdir -p through the absolute symlink lands in the root");
  if (fd >= 0)
    close(fd);
  snprintf(in, sizeof(in), "/mnt/x/file-%s", tag);
  fd = run_inroot_open(root, in, RUN_INROOT_MKFILE);
  snprintf(path, sizeof(path), "%s%s/file-%s", rootfs, outside, tag);
  check(same_file(fd, path), "a file through the relative symlink lands in the root");
  if (fd >= 0)
    close(fd);
  fd = run_inroot_open(root, "/dangling/z", RUN_INROOT_MKDIR);
  snprintf(path, sizeof(path), "%s/tmp/dangling-target/z", rootfs);
  check(same_file(fd, path), "a dangling symlink is created in the root");
  if (fd >= 0)
    close(fd);
  errno = 0;
  fd = run_inroot_open(root, "/loop/x", RUN_INROOT_MKDIR);
  check(fd < 0 && errno == ELOOP, "a symlink loop: ELOOP");
  errno = 0;
  fd = run_inroot_open(root, "/bin/busybox/x", RUN_INROOT_MKDIR);
  check(fd < 0 && errno == ENOTDIR, "through a file: ENOTDIR");
  fd = run_inroot_open(root, "/", RUN_INROOT_EXISTING);
  check(same_file(fd, rootfs), "/ is the root");
  if (fd >= 0)
    close(fd);
  snprintf(path, sizeof(path), "%s/dir-%s", outside, tag);
  check(access(path, F_OK) < 0, "nothing was made in the host's %s", outside);
}

static void test_pure(void) {
  static const char *const clean[][2] = {
      {"/a/./b//../c/", "/a/c"}, {"../../x", "/x"}, {"", "/"},     {"/..", "/"},
      {"a/b", "/a/b"},           {"/a/b/..", "/a"}, {"//", "/"},   {"/a/../../b", "/b"},
  };
  struct run_mount_opts o;
  ctr_err err = NULL;
  json_t *opts;
  for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
    cleanup_free char *got = run_path_clean(clean[i][0]);
    ok(got && strcmp(got, clean[i][1]) == 0, "clean \"%s\" -> %s", clean[i][0], got);
  }
  opts = json_pack("[sssssssss]", "nosuid", "noexec", "nodev", "ro", "size=65536k", "strictatime",
                   "mode=755", "rprivate", "rw");
  ok(run_mount_opts_parse(opts, &o, &err) == 0 &&
         o.flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_STRICTATIME) && o.cleared == MS_RDONLY &&
         o.npropagation == 1 && o.propagation[0] == (MS_PRIVATE | MS_REC) && o.data &&
         strcmp(o.data, "size=65536k,mode=755") == 0,
     "options: flags, cleared, propagation, data");
  run_mount_opts_free(&o);
  json_decref(opts);
  opts = json_pack("[ss]", "rbind", "ro");
  ok(run_mount_opts_parse(opts, &o, &err) == 0 && o.flags == (MS_BIND | MS_REC | MS_RDONLY) &&
         o.data == NULL,
     "options: rbind,ro");
  json_decref(opts);
  opts = json_pack("[s]", "a,b");
  ok(run_mount_opts_parse(opts, &o, &err) < 0 && strstr(err->msg, "invalid mount option"),
     "options: a comma inside one is refused");
  json_decref(opts);
  ctr_err_free(&err);
}

/* ---- overlay ------------------------------------------------------------------- */

struct ovcase {
  const char **lowers;
  size_t n;
  char upper[192], work[192], target[192];
  bool no_fsopen;
  const char *want_top; /* content of "top" in the merge */
};

static void overlay_child(void *arg) {
  struct ovcase *c = arg;
  ctr_err err = NULL;
  char path[256];
  size_t found = 0;
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", "", MS_REC | MS_PRIVATE, NULL) < 0) {
    check(false, "own mount namespace: %m");
    return;
  }
  if (c->no_fsopen && block_syscalls((const int[]){SCMP_SYS(fsopen)}, 1) < 0)
    dprintf(report_fd, "# cannot block fsopen here\n");
  if (run_overlay_mount((const char *const *)c->lowers, c->n, c->upper, c->work, c->target,
                        &err) < 0) {
    check(false, "mount: %s", err->msg);
    ctr_err_free(&err);
    return;
  }
  check(fs_is(c->target, OVERLAYFS_SUPER_MAGIC), "an overlay is mounted");
  for (size_t i = 0; i < c->n; i++) {
    snprintf(path, sizeof(path), "%s/f%zu", c->target, i);
    found += access(path, F_OK) == 0;
  }
  check(found == c->n, "every layer's file shows (%zu of %zu)", found, c->n);
  snprintf(path, sizeof(path), "%s/top", c->target);
  check(text_is(path, c->want_top), "the topmost layer wins");
  snprintf(path, sizeof(path), "%s/written", c->target);
  check(spit(path, "new"), "the merge is writable");
  snprintf(path, sizeof(path), "%s/written", c->upper);
  check(text_is(path, "new"), "the write went to upperdir");
  leak_check();
}

static void make_layer(const char *dir, size_t i, const char *top) {
  char path[256], name[16];
  ctr_err err = NULL;
  if (ctr_mkdir_p(AT_FDCWD, dir, 0755, &err) < 0)
    ctr_err_free(&err);
  snprintf(name, sizeof(name), "f%zu", i);
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  spit(path, name);
  snprintf(path, sizeof(path), "%s/top", dir);
  spit(path, top);
}

static void overlay_dirs(struct ovcase *c, const char *tag) {
  ctr_err err = NULL;
  snprintf(c->upper, sizeof(c->upper), "%s/%s-u", base, tag);
  snprintf(c->work, sizeof(c->work), "%s/%s-w", base, tag);
  snprintf(c->target, sizeof(c->target), "%s/%s-m", base, tag);
  if (ctr_mkdir_p(AT_FDCWD, c->upper, 0755, &err) < 0 ||
      ctr_mkdir_p(AT_FDCWD, c->work, 0755, &err) < 0 ||
      ctr_mkdir_p(AT_FDCWD, c->target, 0755, &err) < 0)
    ctr_err_free(&err);
}

static void test_overlay(void) {
  char l1[192], l2[192], *many[60];
  const char *two[] = {l1, l2};
  struct ovcase c = {.lowers = two, .n = 2, .want_top = "l1"};
  size_t total = 0;
  ctr_err err = NULL;
  snprintf(l1, sizeof(l1), "%s/ov/l1", base);
  snprintf(l2, sizeof(l2), "%s/ov/l2", base);
  make_layer(l1, 0, "l1");
  make_layer(l2, 1, "l2");
  overlay_dirs(&c, "ov2");
  free(in_child("overlay, 2 lowers", overlay_child, &c));

  for (size_t i = 0; i < 60; i++) {
    char hex[65];
    for (int k = 0; k < 8; k++)
      snprintf(hex + k * 8, 9, "%08x", (unsigned int)(i * 2654435761u + (unsigned int)k));
    if (asprintf(&many[i], "%s/layers/%s", base, hex) < 0)
      return;
    make_layer(many[i], i, i == 0 ? "0" : "lower");
    total += strlen(many[i]) + 1;
  }
  ok(total > 4096, "60 lowerdirs take %zu bytes, more than a page", total);
  c = (struct ovcase){.lowers = (const char **)many, .n = 60, .want_top = "0"};
  overlay_dirs(&c, "ov60");
  free(in_child("overlay, 60 long lowers (fsconfig)", overlay_child, &c));
  c.no_fsopen = true;
  overlay_dirs(&c, "ov60rel");
  free(in_child("overlay, 60 long lowers (relative paths)", overlay_child, &c));

  {
    const char *bad[] = {"/no/such/layer"};
    const char *colon[] = {"/a:b"};
    char want[256];
    int r;
    overlay_dirs(&c, "ovbad");
    snprintf(want, sizeof(want), "mount overlay on %s: No such file or directory", c.target);
    r = run_overlay_mount(bad, 1, c.upper, c.work, c.target, &err);
    ok(r < 0 && strcmp(err->msg, want) == 0, "overlay: a missing layer: %s",
       err ? err->msg : "(no error)");
    ctr_err_free(&err);
    r = run_overlay_mount(colon, 1, c.upper, c.work, c.target, &err);
    ok(r < 0 && strstr(err->msg, "cannot be used") != NULL, "overlay: ':' in a path: %s",
       err ? err->msg : "(no error)");
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < 60; i++)
    free(many[i]);
}

/* ---- setup and teardown -------------------------------------------------------- */

static void cleanup(void) {
  ctr_err err = NULL;
  if (base[0] && ctr_rm_rf(AT_FDCWD, base, &err) < 0) {
    printf("# cleanup %s: %s\n", base, err->msg);
    ctr_err_free(&err);
  }
  if (outside[0] && ctr_rm_rf(AT_FDCWD, outside, &err) < 0) {
    printf("# cleanup %s: %s\n", outside, err->msg);
    ctr_err_free(&err);
  }
  base[0] = outside[0] = '\0';
}

static bool copy_file(const char *from, const char *to, mode_t mode) {
  cleanup_free char *data = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  int fd;
  bool good;
  if (ctr_read_file(AT_FDCWD, from, 64 << 20, &data, &len, &err) < 0) {
    ctr_err_free(&err);
    return false;
  }
  fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  good = fd >= 0 && write(fd, data, len) == (ssize_t)len;
  if (fd >= 0)
    close(fd);
  return good;
}

static bool build_rootfs(void) {
  static const char *const dirs[] = {"bin", "proc", "sys", "dev", "tmp", "mnt", NULL};
  char path[256], target[256];
  ctr_err err = NULL;
  snprintf(bundle, sizeof(bundle), "%s/bundle", base);
  snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
  for (const char *const *d = dirs; *d; d++) {
    snprintf(path, sizeof(path), "%s/%s", rootfs, *d);
    if (ctr_mkdir_p(AT_FDCWD, path, 0755, &err) < 0) {
      ctr_err_free(&err);
      return false;
    }
  }
  snprintf(path, sizeof(path), "%s/bin/busybox", rootfs);
  if (!copy_file("/bin/busybox", path, 0755))
    return false;
  snprintf(path, sizeof(path), "%s/bin/sh", rootfs);
  if (symlink("busybox", path) < 0)
    return false;
  /* The hostile part of the image. */
  snprintf(path, sizeof(path), "%s/etc", rootfs);
  if (symlink(outside, path) < 0)
    return false;
  snprintf(path, sizeof(path), "%s/mnt/x", rootfs);
  snprintf(target, sizeof(target), "../../../..%s", outside);
  if (symlink(target, path) < 0)
    return false;
  snprintf(path, sizeof(path), "%s/dangling", rootfs);
  if (symlink("/tmp/dangling-target", path) < 0)
    return false;
  snprintf(path, sizeof(path), "%s/loop", rootfs);
  if (symlink("loop", path) < 0)
    return false;
  /* The host side. */
  snprintf(path, sizeof(path), "%s/marker", outside);
  spit(path, "untouched");
  snprintf(path, sizeof(path), "%s/hostdir", base);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/hostdir/data", base);
  spit(path, "hello");
  snprintf(path, sizeof(path), "%s/rodir", base);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/rodir/data", base);
  spit(path, "ro");
  snprintf(path, sizeof(path), "%s/hosts", bundle);
  spit(path, "127.0.0.1 testhost\n");
  snprintf(path, sizeof(path), "%s/hosts", base);
  spit(path, "127.0.0.1 testhost\n");
  snprintf(path, sizeof(path), "%s/locked", base);
  mkdir(path, 0755);
  return true;
}

static bool outside_untouched(void) {
  char path[192];
  snprintf(path, sizeof(path), "%s/marker", outside);
  return listing_is(outside, "marker") && text_is(path, "untouched");
}

static bool mountinfo_mentions(const char *s) {
  cleanup_free char *mi = slurp("/proc/self/mountinfo");
  return mi == NULL || strstr(mi, s) != NULL;
}

int main(void) {
  cleanup_free char *before = NULL, *after = NULL, *binds = NULL, *userns = NULL;
  char path[256];
  struct stat st;
  if (geteuid() != 0 || access("/bin/busybox", X_OK) < 0) {
    printf("1..0 # SKIP needs root and /bin/busybox (busybox-static)\n");
    return 0;
  }
  note_fds(fd_at_start);
  strcpy(base, "/tmp/ctr-rootfs-test.XXXXXX");
  strcpy(outside, "/tmp/ctr-rootfs-outside.XXXXXX");
  if (mkdtemp(base) == NULL || mkdtemp(outside) == NULL) {
    printf("Bail out! mkdtemp: %s\n", strerror(errno));
    return 1;
  }
  atexit(cleanup);
  if (!build_rootfs()) {
    printf("Bail out! cannot build the rootfs in %s: %s\n", base, strerror(errno));
    return 1;
  }
  if (access("/proc/kcore", F_OK) < 0)
    masked_file = access("/proc/keys", F_OK) == 0 ? "/proc/keys" : "/proc/timer_list";
  if (stat("/dev/pts", &st) == 0)
    host_pts_dev = st.st_dev;
  before = slurp("/proc/self/mountinfo");

  test_pure();
  free(in_child("in root (openat2)", inroot_suite, "openat2"));
  free(in_child("in root (walk)", inroot_suite, "walk"));
  {
    ctr_err err = NULL;
    snprintf(path, sizeof(path), "%s%s", rootfs, outside);
    if (ctr_rm_rf(AT_FDCWD, path, &err) < 0)
      ctr_err_free(&err);
  }

  {
    struct ccase c = {.config = docker_config, .flags = CLONE_NEWCGROUP, .check = check_docker};
    cleanup_free char *e = run_container("docker defaults", &c);
    ok(e == NULL, "docker defaults: setup %s", e ? e : "ok");
  }
  binds = binds_config();
  {
    struct ccase c = {.config = binds, .check = check_binds};
    cleanup_free char *e = run_container("binds", &c);
    ok(e == NULL, "binds: setup %s", e ? e : "ok");
  }
  snprintf(path, sizeof(path), "%s/hostdir/new", base);
  ok(text_is(path, "from the container"), "binds: the rw bind wrote to the host dir");
  ok(outside_untouched(), "binds: the host's %s is untouched", outside);
  ok(!mountinfo_mentions(outside), "binds: no mount at %s on the host", outside);
  snprintf(path, sizeof(path), "%s%s", rootfs, outside);
  ok(listing_is(path, "evil hosts y"), "binds: the mount points were made inside the rootfs");
  {
    /* The same, resolving with the walk openat2's absence falls back to
     * (valgrind, old kernels); mount points exist by now, so clear them. */
    struct ccase c = {.config = binds, .check = check_binds, .no_openat2 = true};
    cleanup_free char *e = NULL;
    ctr_err err = NULL;
    if (ctr_rm_rf(AT_FDCWD, path, &err) < 0)
      ctr_err_free(&err);
    e = run_container("binds (walk)", &c);
    ok(e == NULL, "binds (walk): setup %s", e ? e : "ok");
    ok(outside_untouched(), "binds (walk): the host's %s is untouched", outside);
  }
  userns = userns_config();
  {
    struct ccase c = {.config = userns,
                      .flags = CLONE_NEWUSER | CLONE_NEWIPC,
                      .prep = prep_locked_source,
                      .check = check_userns};
    cleanup_free char *e = run_container("user namespace", &c);
    ok(e == NULL, "user namespace: setup %s", e ? e : "ok");
  }
  {
    struct ccase c = {.config = "{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":"
                                "\"/proc\",\"type\":\"proc\"}],\"linux\":{"
                                "\"rootfsPropagation\":\"rshared\"}}",
                      .check = check_rshared};
    cleanup_free char *e = run_container("rshared", &c);
    ok(e == NULL, "rshared: setup %s", e ? e : "ok");
  }
  test_errors();
  ok(outside_untouched(), "after every case the host's %s is untouched", outside);
  test_overlay();

  after = slurp("/proc/self/mountinfo");
  ok(before && after && strcmp(before, after) == 0, "the host's mount table is unchanged");
  if (before && after && strcmp(before, after) != 0)
    printf("# before:\n%s# after:\n%s", before, after);
  cleanup();
  return tap_done();
}
