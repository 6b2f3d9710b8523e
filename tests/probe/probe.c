#define _GNU_SOURCE
/* ctr-probe: a tiny helper that tests copy into images and run inside
 * containers.  `info` reports what the container sees (capabilities,
 * namespaces, mounts, limits, fds...) as one JSON object; the other
 * subcommands behave in a controlled way on demand (exit, signal, pause,
 * hog memory, try one syscall) so tests can check the runtime's reaction.
 *
 * It is one file, libc only, linked statically: it must need nothing from
 * the image it is copied into.  It only writes JSON, never parses it.
 *
 * Exit status: the subcommand's own (see usage), 2 bad usage, 111 when the
 * probe itself could not do its job (a failed fork, sigprocmask...). */

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435 /* the same number on every architecture */
#endif

#define PROG "ctr-probe"
#define EXIT_USAGE 2
#define EXIT_BROKEN 111
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024 * 1024)

extern char **environ;

static void free_ptr(void *p) { free(*(void **)p); }
static void close_fd(const int *fd)
{
  if (*fd >= 0)
    close(*fd);
}
static void close_file(FILE **f)
{
  if (*f)
    fclose(*f);
}
#define cleanup_free __attribute__((cleanup(free_ptr)))
#define cleanup_close __attribute__((cleanup(close_fd)))
#define cleanup_fclose __attribute__((cleanup(close_file)))

/* ---- messages ------------------------------------------------------------ */

static void usage(FILE *out);

__attribute__((noreturn, format(printf, 1, 2))) static void usage_error(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, PROG ": ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  usage(stderr);
  exit(EXIT_USAGE);
}

/* Print "ctr-probe: fatal: unable to WHAT: strerror" and exit 111. */
__attribute__((noreturn)) static void die_errno(const char *what)
{
  int e = errno;
  fflush(stdout);
  fprintf(stderr, PROG ": fatal: unable to %s: %s\n", what, strerror(e));
  exit(EXIT_BROKEN);
}

/* "EPERM" for EPERM, "0" for success, "E123" for a number libc can't name. */
static const char *errno_name(int e)
{
  static char buf[16];
  const char *name;

  if (e == 0)
    return "0";
  name = strerrorname_np(e);
  if (name)
    return name;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line of progress, flushed at once: tests wait on these lines. */
static void say(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* ---- JSON writer --------------------------------------------------------- */

#define JSON_MAX_DEPTH 16

struct json {
  FILE *out;
  int depth;
  bool first[JSON_MAX_DEPTH + 1];
};

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
  size_t len, i;
  unsigned char lo = 0x80, hi = 0xbf;

  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4;
  else
    return 0;
  if (s[0] == 0xe0)
    lo = 0xa0; /* overlong */
  else if (s[0] == 0xed)
    hi = 0x9f; /* surrogates */
  else if (s[0] == 0xf0)
    lo = 0x90; /* overlong */
  else if (s[0] == 0xf4)
    hi = 0x8f; /* above U+10FFFF */
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return len;
}

/* A JSON string literal; invalid UTF-8 bytes become U+FFFD so jq accepts
 * anything a file or a link target may hold. */
static void json_quote(FILE *out, const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, len;

  fputc('"', out);
  while (i < n) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
    } else if (c == '\n') {
      fputs("\\n", out);
    } else if (c == '\t') {
      fputs("\\t", out);
    } else if (c == '\r') {
      fputs("\\r", out);
    } else if (c < 0x20 || c == 0x7f) {
      fprintf(out, "\\u%04x", c);
    } else if (c >= 0x80) {
      len = utf8_sequence(s + i, n - i);
      if (len == 0) {
        fputs("\\ufffd", out);
        i++;
        continue;
      }
      fwrite(s + i, 1, len, out);
      i += len;
      continue;
    } else {
      fputc(c, out);
    }
    i++;
  }
  fputc('"', out);
}

/* The comma before a value and, inside an object, its key. */
static void json_prefix(struct json *j, const char *key)
{
  if (j->depth > 0) {
    if (!j->first[j->depth])
      fputc(',', j->out);
    j->first[j->depth] = false;
  }
  if (key) {
    json_quote(j->out, key, strlen(key));
    fputc(':', j->out);
  }
}

static void json_open(struct json *j, const char *key, char bracket)
{
  json_prefix(j, key);
  fputc(bracket, j->out);
  if (j->depth >= JSON_MAX_DEPTH)
    abort(); /* a bug in this file, not in the container */
  j->first[++j->depth] = true;
}

static void json_close(struct json *j, char bracket)
{
  fputc(bracket, j->out);
  if (--j->depth == 0)
    fputc('\n', j->out);
}

static void json_begin_object(struct json *j, const char *key) { json_open(j, key, '{'); }
static void json_end_object(struct json *j) { json_close(j, '}'); }
static void json_begin_array(struct json *j, const char *key) { json_open(j, key, '['); }
static void json_end_array(struct json *j) { json_close(j, ']'); }

static void json_null(struct json *j, const char *key)
{
  json_prefix(j, key);
  fputs("null", j->out);
}

/* A string, or null when s is NULL. */
static void json_string(struct json *j, const char *key, const char *s)
{
  if (!s) {
    json_null(j, key);
    return;
  }
  json_prefix(j, key);
  json_quote(j->out, s, strlen(s));
}

static void json_string_n(struct json *j, const char *key, const char *s, size_t n)
{
  json_prefix(j, key);
  json_quote(j->out, s, n);
}

static void json_int(struct json *j, const char *key, long long v)
{
  json_prefix(j, key);
  fprintf(j->out, "%lld", v);
}

static void json_bool(struct json *j, const char *key, bool v)
{
  json_prefix(j, key);
  fputs(v ? "true" : "false", j->out);
}

/* Flush stdout; a failed write is the probe's failure, not the test's. */
static int finish_output(void)
{
  if (fflush(stdout) != 0 || ferror(stdout))
    die_errno("write to stdout");
  return 0;
}

/* ---- small readers ------------------------------------------------------- */

/* The whole file, NUL-terminated, malloc'd; NULL with errno on failure. */
static char *read_file(const char *path, size_t *lenp)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t len = 0, cap = 4096;
  char *buf, *bigger;
  ssize_t n;

  if (fd < 0)
    return NULL;
  buf = malloc(cap);
  if (!buf)
    return NULL;
  for (;;) {
    if (cap - len < 2) {
      bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      buf = bigger;
      cap *= 2;
    }
    n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      errno = e;
      return NULL;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  if (lenp)
    *lenp = len;
  return buf;
}

static void trim_right(char *s)
{
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
}

/* The file's contents without trailing whitespace, or NULL. */
static char *read_trimmed(const char *path)
{
  char *s = read_file(path, NULL);
  if (s)
    trim_right(s);
  return s;
}

/* Copy the value of "Key:" from /proc/self/status text into out. */
static bool status_value(const char *status, const char *key, char *out, size_t size)
{
  size_t klen = strlen(key);
  const char *line = status, *end;

  while (line && *line) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      line += klen + 1;
      while (*line == ' ' || *line == '\t')
        line++;
      end = strchrnul(line, '\n');
      snprintf(out, size, "%.*s", (int)(end - line), line);
      return true;
    }
    line = strchr(line, '\n');
    if (line)
      line++;
  }
  return false;
}

static bool parse_ll(const char *s, long long *out)
{
  char *end;
  long long v;

  if (!s || !*s)
    return false;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

/* An int subcommand argument; anything else is a usage error. */
static int arg_int(const char *s, const char *what, long long lo, long long hi)
{
  long long v;
  if (!parse_ll(s, &v) || v < lo || v > hi)
    usage_error("%s: expected an integer in [%lld, %lld], got '%s'", what, lo, hi, s);
  return (int)v;
}

/* ---- info: capabilities and security ------------------------------------- */

#define CAP_NAME(c) [c] = #c
static const char *const cap_names[] = {
  CAP_NAME(CAP_CHOWN),           CAP_NAME(CAP_DAC_OVERRIDE),  CAP_NAME(CAP_DAC_READ_SEARCH),
  CAP_NAME(CAP_FOWNER),          CAP_NAME(CAP_FSETID),        CAP_NAME(CAP_KILL),
  CAP_NAME(CAP_SETGID),          CAP_NAME(CAP_SETUID),        CAP_NAME(CAP_SETPCAP),
  CAP_NAME(CAP_LINUX_IMMUTABLE), CAP_NAME(CAP_NET_BIND_SERVICE), CAP_NAME(CAP_NET_BROADCAST),
  CAP_NAME(CAP_NET_ADMIN),       CAP_NAME(CAP_NET_RAW),       CAP_NAME(CAP_IPC_LOCK),
  CAP_NAME(CAP_IPC_OWNER),       CAP_NAME(CAP_SYS_MODULE),    CAP_NAME(CAP_SYS_RAWIO),
  CAP_NAME(CAP_SYS_CHROOT),      CAP_NAME(CAP_SYS_PTRACE),    CAP_NAME(CAP_SYS_PACCT),
  CAP_NAME(CAP_SYS_ADMIN),       CAP_NAME(CAP_SYS_BOOT),      CAP_NAME(CAP_SYS_NICE),
  CAP_NAME(CAP_SYS_RESOURCE),    CAP_NAME(CAP_SYS_TIME),      CAP_NAME(CAP_SYS_TTY_CONFIG),
  CAP_NAME(CAP_MKNOD),           CAP_NAME(CAP_LEASE),         CAP_NAME(CAP_AUDIT_WRITE),
  CAP_NAME(CAP_AUDIT_CONTROL),   CAP_NAME(CAP_SETFCAP),       CAP_NAME(CAP_MAC_OVERRIDE),
  CAP_NAME(CAP_MAC_ADMIN),       CAP_NAME(CAP_SYSLOG),        CAP_NAME(CAP_WAKE_ALARM),
  CAP_NAME(CAP_BLOCK_SUSPEND),   CAP_NAME(CAP_AUDIT_READ),    CAP_NAME(CAP_PERFMON),
  CAP_NAME(CAP_BPF),             CAP_NAME(CAP_CHECKPOINT_RESTORE),
};

/* The capability names of a hex mask from /proc/self/status; bits newer
 * than this file are named by number ("CAP_41"). */
static void json_cap_names(struct json *j, const char *key, const char *hex, bool have)
{
  unsigned long long bits;
  unsigned bit;
  char unknown[16];

  if (!have) {
    json_null(j, key);
    return;
  }
  bits = strtoull(hex, NULL, 16);
  json_begin_array(j, key);
  for (bit = 0; bit < 64; bit++) {
    if (!(bits & (1ULL << bit)))
      continue;
    if (bit < ARRAY_SIZE(cap_names) && cap_names[bit]) {
      json_string(j, NULL, cap_names[bit]);
    } else {
      snprintf(unknown, sizeof unknown, "CAP_%u", bit);
      json_string(j, NULL, unknown);
    }
  }
  json_end_array(j);
}

static void json_status_string(struct json *j, const char *key, const char *status, const char *field)
{
  char value[256];
  json_string(j, key, status && status_value(status, field, value, sizeof value) ? value : NULL);
}

static void json_status_int(struct json *j, const char *key, const char *status, const char *field)
{
  char value[256];
  long long v;
  if (status && status_value(status, field, value, sizeof value) && parse_ll(value, &v))
    json_int(j, key, v);
  else
    json_null(j, key);
}

static void info_caps(struct json *j, const char *status)
{
  static const struct {
    const char *key, *field;
  } sets[] = {
    {"effective", "CapEff"}, {"permitted", "CapPrm"}, {"inheritable", "CapInh"},
    {"bounding", "CapBnd"},  {"ambient", "CapAmb"},
  };
  char eff[64] = "", bnd[64] = "";
  bool have_eff = status && status_value(status, "CapEff", eff, sizeof eff);
  bool have_bnd = status && status_value(status, "CapBnd", bnd, sizeof bnd);
  size_t i;

  json_begin_object(j, "caps");
  for (i = 0; i < ARRAY_SIZE(sets); i++)
    json_status_string(j, sets[i].key, status, sets[i].field);
  json_cap_names(j, "names", eff, have_eff);
  json_cap_names(j, "bounding_names", bnd, have_bnd);
  json_end_object(j);

  json_status_int(j, "seccomp", status, "Seccomp");
  json_status_int(j, "seccomp_filters", status, "Seccomp_filters");
  json_status_int(j, "no_new_privs", status, "NoNewPrivs");
}

/* ---- info: identity, namespaces, process --------------------------------- */

static void json_file(struct json *j, const char *key, const char *path)
{
  cleanup_free char *s = read_file(path, NULL);
  json_string(j, key, s);
}

static void json_file_trimmed(struct json *j, const char *key, const char *path)
{
  cleanup_free char *s = read_trimmed(path);
  json_string(j, key, s);
}

static void json_file_int(struct json *j, const char *key, const char *path)
{
  cleanup_free char *s = read_trimmed(path);
  long long v;
  if (parse_ll(s, &v))
    json_int(j, key, v);
  else
    json_null(j, key);
}

static void json_groups(struct json *j, const char *key)
{
  int n = getgroups(0, NULL), i;
  cleanup_free gid_t *groups = NULL;

  if (n >= 0) {
    groups = calloc((size_t)n + 1, sizeof *groups);
    if (groups)
      n = getgroups(n, groups);
  }
  if (n < 0 || !groups) {
    json_null(j, key);
    return;
  }
  json_begin_array(j, key);
  for (i = 0; i < n; i++)
    json_int(j, NULL, groups[i]);
  json_end_array(j);
}

static void info_ids(struct json *j)
{
  json_int(j, "uid", getuid());
  json_int(j, "gid", getgid());
  json_int(j, "euid", geteuid());
  json_int(j, "egid", getegid());
  json_groups(j, "groups");
  json_file(j, "uid_map", "/proc/self/uid_map");
  json_file(j, "gid_map", "/proc/self/gid_map");
  json_file_trimmed(j, "setgroups", "/proc/self/setgroups");
}

static void info_namespaces(struct json *j)
{
  static const char *const kinds[] = {"mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time"};
  char path[64], target[256];
  ssize_t n;
  size_t i;

  json_begin_object(j, "ns");
  for (i = 0; i < ARRAY_SIZE(kinds); i++) {
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
    n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
      json_null(j, kinds[i]);
      continue;
    }
    json_string_n(j, kinds[i], target, (size_t)n);
  }
  json_end_object(j);
}

/* From /proc/self/status, which reads it without changing it; else the
 * umask() round trip (the probe is single-threaded). */
static void json_umask(struct json *j, const char *status)
{
  char value[16];
  mode_t mask;

  if (status && status_value(status, "Umask", value, sizeof value)) {
    json_string(j, "umask", value);
    return;
  }
  mask = umask(0);
  umask(mask);
  snprintf(value, sizeof value, "%04o", (unsigned)mask);
  json_string(j, "umask", value);
}

static void info_process(struct json *j, const char *status)
{
  char host[HOST_NAME_MAX + 1], cwd[PATH_MAX];
  struct utsname uts;
  char **e;

  json_int(j, "pid", getpid());
  json_int(j, "ppid", getppid());
  json_int(j, "pgid", getpgrp());
  json_int(j, "sid", getsid(0));
  json_string(j, "hostname", gethostname(host, sizeof host) == 0 ? host : NULL);
  json_string(j, "domainname", uname(&uts) == 0 ? uts.domainname : NULL);
  json_string(j, "cwd", getcwd(cwd, sizeof cwd));
  json_begin_array(j, "env");
  for (e = environ; e && *e; e++)
    json_string(j, NULL, *e);
  json_end_array(j);
  json_umask(j, status);
  json_file_int(j, "oom_score_adj", "/proc/self/oom_score_adj");
  json_file_trimmed(j, "lsm_label", "/proc/self/attr/current");
}

/* ---- info: resource limits and cgroups ----------------------------------- */

static void info_rlimits(struct json *j)
{
  static const struct {
    const char *name;
    int resource;
  } limits[] = {
    {"cpu", RLIMIT_CPU},         {"fsize", RLIMIT_FSIZE},       {"data", RLIMIT_DATA},
    {"stack", RLIMIT_STACK},     {"core", RLIMIT_CORE},         {"rss", RLIMIT_RSS},
    {"nproc", RLIMIT_NPROC},     {"nofile", RLIMIT_NOFILE},     {"memlock", RLIMIT_MEMLOCK},
    {"as", RLIMIT_AS},           {"locks", RLIMIT_LOCKS},       {"sigpending", RLIMIT_SIGPENDING},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},       {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
  };
  struct rlimit rl;
  size_t i;

  json_begin_object(j, "rlimits");
  for (i = 0; i < ARRAY_SIZE(limits); i++) {
    if (getrlimit(limits[i].resource, &rl) < 0) {
      json_null(j, limits[i].name);
      continue;
    }
    json_begin_array(j, limits[i].name);
    json_int(j, NULL, rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur);
    json_int(j, NULL, rl.rlim_max == RLIM_INFINITY ? -1 : (long long)rl.rlim_max);
    json_end_array(j);
  }
  json_end_object(j);
}

/* The lines of a file as an array of strings, or null. */
static void json_lines(struct json *j, const char *key, const char *path)
{
  cleanup_free char *text = read_file(path, NULL);
  char *line, *next;

  if (!text) {
    json_null(j, key);
    return;
  }
  json_begin_array(j, key);
  for (line = text; *line; line = next) {
    next = strchrnul(line, '\n');
    json_string_n(j, NULL, line, (size_t)(next - line));
    if (*next)
      next++;
  }
  json_end_array(j);
}

/* A cgroup limit value: "max" and v1's "no limit" (LONG_MAX rounded down to
 * a page) are -1; unreadable is null. */
static void json_cgroup_value(struct json *j, const char *key, const char *text)
{
  long long v;

  if (text && strcmp(text, "max") == 0)
    json_int(j, key, -1);
  else if (parse_ll(text, &v))
    json_int(j, key, v >= (1LL << 62) ? -1 : v);
  else
    json_null(j, key);
}

static void json_cgroup_file(struct json *j, const char *key, const char *path)
{
  cleanup_free char *text = read_trimmed(path);
  json_cgroup_value(j, key, text);
}

/* v1 mounts cpu as "cpu", or "cpu,cpuacct" when the symlink is missing. */
static void json_cgroup_v1_cpu(struct json *j, const char *key, const char *file)
{
  static const char *const dirs[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
  char path[128];
  size_t i;

  for (i = 0; i < ARRAY_SIZE(dirs); i++) {
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s", dirs[i], file);
    if (access(path, R_OK) == 0)
      break;
  }
  json_cgroup_file(j, key, path);
}

static void info_limits_v2(struct json *j)
{
  cleanup_free char *cpu = read_trimmed("/sys/fs/cgroup/cpu.max");
  char *period = cpu ? strchr(cpu, ' ') : NULL;

  if (period)
    *period++ = '\0';
  json_cgroup_file(j, "memory", "/sys/fs/cgroup/memory.max");
  json_cgroup_value(j, "cpu_quota", cpu);
  json_cgroup_value(j, "cpu_period", period);
  json_cgroup_file(j, "cpu_shares", "/sys/fs/cgroup/cpu.weight");
  json_cgroup_file(j, "pids_max", "/sys/fs/cgroup/pids.max");
}

static void info_limits_v1(struct json *j)
{
  json_cgroup_file(j, "memory", "/sys/fs/cgroup/memory/memory.limit_in_bytes");
  json_cgroup_v1_cpu(j, "cpu_quota", "cpu.cfs_quota_us");
  json_cgroup_v1_cpu(j, "cpu_period", "cpu.cfs_period_us");
  json_cgroup_v1_cpu(j, "cpu_shares", "cpu.shares");
  json_cgroup_file(j, "pids_max", "/sys/fs/cgroup/pids/pids.max");
}

static void info_cgroups(struct json *j)
{
  bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;

  json_lines(j, "cgroup", "/proc/self/cgroup");
  json_begin_object(j, "limits");
  json_int(j, "cgroup_version", v2 ? 2 : 1);
  if (v2)
    info_limits_v2(j);
  else
    info_limits_v1(j);
  json_end_object(j);
}

/* ---- info: mounts -------------------------------------------------------- */

/* Undo mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape_octal(char *s)
{
  char *out = s;

  while (*s) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
        s[3] <= '7') {
      *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 4;
    } else {
      *out++ = *s++;
    }
  }
  *out = '\0';
}

/* Whether the comma-separated list holds item. */
static bool list_has(const char *list, const char *item, size_t len)
{
  const char *p = list, *end;

  while (*p) {
    end = strchrnul(p, ',');
    if ((size_t)(end - p) == len && strncmp(p, item, len) == 0)
      return true;
    p = *end ? end + 1 : end;
  }
  return false;
}

/* Each item of a comma-separated list, skipping those already in skip. */
static void json_split(struct json *j, const char *list, const char *skip)
{
  const char *p = list, *end;

  while (*p) {
    end = strchrnul(p, ',');
    if (end > p && !(skip && list_has(skip, p, (size_t)(end - p))))
      json_string_n(j, NULL, p, (size_t)(end - p));
    p = *end ? end + 1 : end;
  }
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT TARGET OPTS [OPTIONAL...] -
 * FSTYPE SOURCE SUPER_OPTS".  Returns false if it does not look like one. */
static bool json_mount(struct json *j, char *line)
{
  char *field[6], *optional[16], *fstype, *source, *super, *save = NULL;
  size_t i, n_optional = 0;
  char *tok;

  for (i = 0; i < 6; i++) {
    field[i] = strtok_r(i == 0 ? line : NULL, " ", &save);
    if (!field[i])
      return false;
  }
  while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
    if (n_optional < ARRAY_SIZE(optional))
      optional[n_optional++] = tok;
  fstype = strtok_r(NULL, " ", &save);
  source = strtok_r(NULL, " ", &save);
  super = strtok_r(NULL, " ", &save);
  if (!tok || !fstype || !source || !super)
    return false;
  unescape_octal(field[3]);
  unescape_octal(field[4]);
  unescape_octal(source);

  json_begin_object(j, NULL);
  json_int(j, "id", atoll(field[0]));
  json_int(j, "parent", atoll(field[1]));
  json_string(j, "target", field[4]);
  json_string(j, "root", field[3]);
  json_string(j, "fstype", fstype);
  json_string(j, "source", source);
  json_begin_array(j, "options");
  json_split(j, field[5], NULL);
  json_split(j, super, field[5]);
  json_end_array(j);
  json_begin_array(j, "mount_options");
  json_split(j, field[5], NULL);
  json_end_array(j);
  json_begin_array(j, "super_options");
  json_split(j, super, NULL);
  json_end_array(j);
  json_begin_array(j, "propagation");
  for (i = 0; i < n_optional; i++)
    json_string(j, NULL, optional[i]);
  json_end_array(j);
  json_end_object(j);
  return true;
}

static void info_mounts(struct json *j)
{
  cleanup_free char *text = read_file("/proc/self/mountinfo", NULL);
  char *line, *next;

  if (!text) {
    json_null(j, "mounts");
    return;
  }
  json_begin_array(j, "mounts");
  for (line = text; *line; line = next) {
    next = strchrnul(line, '\n');
    if (*next)
      *next++ = '\0';
    json_mount(j, line);
  }
  json_end_array(j);
}

/* ---- info: fds, tty, sysctl ---------------------------------------------- */

static int compare_int(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The open fds, without the one opendir() holds to list them. */
static int *list_fds(size_t *count)
{
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *ent;
  size_t n = 0, cap = 16;
  int *fds, *bigger, self;
  long long fd;

  if (!dir)
    return NULL;
  self = dirfd(dir);
  fds = malloc(cap * sizeof *fds);
  while (fds && (ent = readdir(dir))) {
    if (!parse_ll(ent->d_name, &fd) || fd == self)
      continue;
    if (n == cap) {
      bigger = realloc(fds, (cap *= 2) * sizeof *fds);
      if (!bigger) {
        free(fds);
        fds = NULL;
        break;
      }
      fds = bigger;
    }
    fds[n++] = (int)fd;
  }
  closedir(dir);
  if (fds)
    qsort(fds, n, sizeof *fds, compare_int);
  *count = n;
  return fds;
}

static void info_fds(struct json *j)
{
  size_t n = 0, i;
  cleanup_free int *fds = list_fds(&n);
  char path[64], target[PATH_MAX];
  ssize_t len;

  if (!fds) {
    json_null(j, "fds");
    return;
  }
  json_begin_array(j, "fds");
  for (i = 0; i < n; i++) {
    json_begin_object(j, NULL);
    json_int(j, "fd", fds[i]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
    len = readlink(path, target, sizeof target);
    if (len < 0)
      json_null(j, "target");
    else
      json_string_n(j, "target", target, (size_t)len);
    json_end_object(j);
  }
  json_end_array(j);
}

static void json_tty_fd(struct json *j, const char *key, int fd)
{
  struct winsize ws;
  bool tty = isatty(fd);
  bool size = tty && ioctl(fd, TIOCGWINSZ, &ws) == 0;

  json_begin_object(j, key);
  json_bool(j, "isatty", tty);
  if (size) {
    json_int(j, "rows", ws.ws_row);
    json_int(j, "cols", ws.ws_col);
  } else {
    json_null(j, "rows");
    json_null(j, "cols");
  }
  json_end_object(j);
}

static void info_tty(struct json *j)
{
  json_begin_object(j, "tty");
  json_tty_fd(j, "stdin", 0);
  json_tty_fd(j, "stdout", 1);
  json_tty_fd(j, "stderr", 2);
  json_end_object(j);
}

static void info_sysctl(struct json *j)
{
  static const char *const names[] = {
    "net.ipv4.ip_forward",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "kernel.hostname",
  };
  char path[128], *p;
  size_t i;

  json_begin_object(j, "sysctl");
  for (i = 0; i < ARRAY_SIZE(names); i++) {
    snprintf(path, sizeof path, "/proc/sys/%s", names[i]);
    for (p = path + strlen("/proc/sys/"); *p; p++)
      if (*p == '.')
        *p = '/';
    json_file_trimmed(j, names[i], path);
  }
  json_end_object(j);
}

static int cmd_info(char **argv)
{
  cleanup_free char *status = read_file("/proc/self/status", NULL);
  struct json j = {.out = stdout};

  (void)argv;
  json_begin_object(&j, NULL);
  info_caps(&j, status);
  info_ids(&j);
  info_namespaces(&j);
  info_process(&j, status);
  info_rlimits(&j);
  info_cgroups(&j);
  info_mounts(&j);
  info_fds(&j);
  info_tty(&j);
  info_sysctl(&j);
  json_end_object(&j);
  return finish_output();
}

/* ---- exit, signal, pause, ignore-term, sleep ----------------------------- */

/* Any int: the kernel keeps its low 8 bits, as for any exit(). */
static int cmd_exit(char **argv) { exit(arg_int(argv[0], "exit", INT_MIN, INT_MAX)); }

/* "TERM", "SIGTERM", "15", "RTMIN+2"; -1 if none of those. */
static int parse_signal(const char *s)
{
  long long n;
  int sig;
  const char *abbrev;

  if (parse_ll(s, &n))
    return n > 0 && n < NSIG ? (int)n : -1;
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (sig = 1; sig < NSIG; sig++) {
    abbrev = sigabbrev_np(sig);
    if (abbrev && strcasecmp(abbrev, s) == 0)
      return sig;
  }
  if (strncasecmp(s, "RTMIN+", 6) == 0 && parse_ll(s + 6, &n) && n >= 0 && n <= SIGRTMAX - SIGRTMIN)
    return SIGRTMIN + (int)n;
  if (strncasecmp(s, "RTMAX-", 6) == 0 && parse_ll(s + 6, &n) && n >= 0 && n <= SIGRTMAX - SIGRTMIN)
    return SIGRTMAX - (int)n;
  if (strcasecmp(s, "RTMIN") == 0)
    return SIGRTMIN;
  if (strcasecmp(s, "RTMAX") == 0)
    return SIGRTMAX;
  return -1;
}

static int cmd_signal(char **argv)
{
  int sig = parse_signal(argv[0]);
  sigset_t set;

  if (sig < 0)
    usage_error("signal: unknown signal '%s'", argv[0]);
  fflush(stdout);
  signal(sig, SIG_DFL);
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  kill(getpid(), sig);
  /* Still here: the default action is to ignore (CHLD, WINCH, URG), or we
   * are pid 1 of a pid namespace, where the kernel drops signals that have
   * no handler. */
  fprintf(stderr, PROG ": still alive after signal %d (%s)%s\n", sig, strsignal(sig),
          getpid() == 1 ? ": pid 1 ignores signals without a handler" : "");
  return 1;
}

static int cmd_pause(char **argv)
{
  sigset_t all;
  siginfo_t info;
  bool stdout_broken = false;
  int sig;

  (void)argv;
  /* Blocked signals are queued even for pid 1, so sigwaitinfo sees them
   * all; glibc leaves out the two it reserves for itself. */
  sigfillset(&all);
  if (sigprocmask(SIG_BLOCK, &all, NULL) < 0)
    die_errno("block signals");
  say("ready");
  for (;;) {
    sig = sigwaitinfo(&all, &info);
    if (sig < 0) {
      if (errno == EINTR)
        continue;
      die_errno("wait for a signal");
    }
    /* A reader gone away: each line would raise SIGPIPE again. */
    if (sig == SIGPIPE && stdout_broken)
      continue;
    say("signal %d", sig);
    if (ferror(stdout)) {
      stdout_broken = true;
      clearerr(stdout);
    }
    if (sig == SIGTERM || sig == SIGINT)
      return 0;
  }
}

static int cmd_ignore_term(char **argv)
{
  (void)argv;
  if (signal(SIGTERM, SIG_IGN) == SIG_ERR)
    die_errno("ignore SIGTERM");
  say("ready");
  for (;;)
    pause();
}

static int cmd_sleep(char **argv)
{
  char *end;
  double seconds;
  struct timespec ts;

  errno = 0;
  seconds = strtod(argv[0], &end);
  if (errno || *end || end == argv[0] || seconds < 0 || seconds > 1e9)
    usage_error("sleep: expected a number of seconds, got '%s'", argv[0]);
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
  return 0;
}

/* ---- zombies, memhog, forkbomb ------------------------------------------- */

/* Processes in state Z among those this /proc shows. */
static int count_zombies(void)
{
  DIR *dir = opendir("/proc");
  struct dirent *ent;
  char path[64];
  long long pid;
  int zombies = 0;

  if (!dir)
    return -1;
  while ((ent = readdir(dir))) {
    cleanup_free char *stat = NULL;
    char *paren;
    if (!parse_ll(ent->d_name, &pid))
      continue;
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    stat = read_file(path, NULL);
    paren = stat ? strrchr(stat, ')') : NULL; /* the name may hold ')' */
    if (paren && paren[1] == ' ' && paren[2] == 'Z')
      zombies++;
  }
  closedir(dir);
  return zombies;
}

/* The zombies must be orphans for an init to be able to reap them: a
 * middle process forks them and exits, so they are reparented to pid 1
 * (or a subreaper).  When the probe is pid 1 they become its children,
 * and it never reaps them. */
static int cmd_zombies(char **argv)
{
  int n = arg_int(argv[0], "zombies", 0, 100000), i, round;
  pid_t middle;

  signal(SIGCHLD, SIG_DFL); /* SIG_IGN, inherited, would reap them */
  fflush(stdout);
  middle = fork();
  if (middle < 0)
    die_errno("fork");
  if (middle == 0) {
    for (i = 0; i < n; i++) {
      pid_t child = fork();
      if (child < 0)
        _exit(EXIT_BROKEN);
      if (child == 0)
        _exit(0);
    }
    _exit(0);
  }
  if (waitpid(middle, &i, 0) < 0)
    die_errno("wait for the middle process");
  if (!WIFEXITED(i) || WEXITSTATUS(i) != 0) {
    fprintf(stderr, PROG ": fatal: unable to fork %d children\n", n);
    return EXIT_BROKEN;
  }
  say("ready");
  for (round = 0; round < 3; round++) {
    sleep(1);
    say("zombies %d", count_zombies());
  }
  return 0;
}

static int cmd_memhog(char **argv)
{
  int mb = arg_int(argv[0], "memhog", 0, 1 << 20), i;
  void *p;

  for (i = 0; i < mb; i++) {
    p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      say("failed at %d MiB: %s", i, errno_name(errno));
      return 1;
    }
    memset(p, 0x5a, MIB); /* touch every page: charge it to the cgroup */
    if ((i + 1) % 16 == 0)
      say("allocated %d MiB", i + 1);
  }
  say("done %d MiB", mb);
  return 0;
}

static int cmd_forkbomb(char **argv)
{
  int n = arg_int(argv[0], "forkbomb", 0, 1000000), forked = 0, err = 0;
  pid_t pid;

  fflush(stdout);
  while (forked < n) {
    pid = fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      sleep(2);
      _exit(0);
    }
    forked++;
  }
  say("forked %d failed %s", forked, errno_name(err));
  while (wait(NULL) > 0 || errno == EINTR)
    ;
  return 0;
}

/* ---- syscall ------------------------------------------------------------- */

struct attempt {
  long ret;
  int err;
  const char *detail; /* what it acted on, when that may vary */
};

static void try_unshare_user(struct attempt *a) { a->ret = unshare(CLONE_NEWUSER); }
static void try_unshare_ns(struct attempt *a) { a->ret = unshare(CLONE_NEWNS); }

/* Mount a tmpfs and take it away again at once. */
static void try_mount(struct attempt *a)
{
  struct stat st;

  a->detail = "/mnt";
  if (stat("/mnt", &st) < 0 && mkdir("/mnt", 0755) < 0)
    a->detail = "/tmp"; /* no /mnt and a read-only root */
  a->ret = mount("tmpfs", a->detail, "tmpfs", 0, "size=64k");
  a->err = errno;
  if (a->ret == 0)
    umount2(a->detail, MNT_DETACH);
}

static void try_keyctl(struct attempt *a)
{
  a->ret = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL);
}

/* In a child, so that the probe itself is never traced. */
static void try_ptrace(struct attempt *a)
{
  int pipefd[2], status;
  long result[2] = {-1, EIO};
  pid_t pid;

  if (pipe2(pipefd, O_CLOEXEC) < 0)
    die_errno("create a pipe");
  pid = fork();
  if (pid < 0)
    die_errno("fork");
  if (pid == 0) {
    result[0] = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    result[1] = result[0] < 0 ? errno : 0;
    _exit(write(pipefd[1], result, sizeof result) == sizeof result ? 0 : 1);
  }
  close(pipefd[1]);
  if (read(pipefd[0], result, sizeof result) != sizeof result)
    result[1] = EIO;
  close(pipefd[0]);
  waitpid(pid, &status, 0);
  a->ret = result[0];
  errno = (int)result[1];
}

/* Both magic numbers are wrong, so even when allowed this returns EINVAL:
 * the capability check comes first in the kernel. */
static void try_reboot(struct attempt *a)
{
  a->ret = syscall(SYS_reboot, 0, 0, 0 /* LINUX_REBOOT_CMD_CAD_OFF */, NULL);
}

/* Without arguments clone3 fails: EINVAL when allowed, ENOSYS or EPERM
 * when a seccomp filter answers. */
static void try_clone3(struct attempt *a) { a->ret = syscall(SYS_clone3, NULL, 0); }
static void try_chroot(struct attempt *a) { a->ret = chroot("/"); }
static void try_setuid0(struct attempt *a) { a->ret = setuid(0); }

/* Chown /tmp/x to someone else (uid 1000, or 0 when we are 1000); a file we
 * did not create gets its owner back. */
static void try_chown(struct attempt *a)
{
  uid_t to = geteuid() == 1000 ? 0 : 1000;
  int fd = open("/tmp/x", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool created = fd >= 0;
  struct stat st;
  bool had = !created && stat("/tmp/x", &st) == 0;

  if (fd >= 0)
    close(fd);
  a->detail = "/tmp/x";
  a->ret = chown("/tmp/x", to, to);
  a->err = errno;
  if (created)
    unlink("/tmp/x");
  else if (had && a->ret == 0 && chown("/tmp/x", st.st_uid, st.st_gid) < 0)
    fprintf(stderr, PROG ": warning: could not give /tmp/x back to %u\n", (unsigned)st.st_uid);
}

static void try_mknod(struct attempt *a)
{
  a->detail = "/tmp/n";
  a->ret = mknod("/tmp/n", S_IFCHR | 0666, makedev(1, 3));
  a->err = errno;
  if (a->ret == 0)
    unlink("/tmp/n");
}

static void try_raw_socket(struct attempt *a)
{
  a->ret = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  a->err = errno;
  if (a->ret >= 0)
    close((int)a->ret);
}

/* IP_FREEBIND skips the address check, so a namespace whose loopback is
 * down still answers on the port: EACCES without NET_BIND_SERVICE. */
static void try_bind_80(struct attempt *a)
{
  cleanup_close int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  int one = 1;

  if (fd < 0) {
    a->ret = -1;
    a->err = errno;
    return;
  }
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  a->ret = bind(fd, (struct sockaddr *)&sin, sizeof sin);
  a->err = errno;
}

/* Set the hostname it already has. */
static void try_sethostname(struct attempt *a)
{
  char host[HOST_NAME_MAX + 1];

  if (gethostname(host, sizeof host) < 0)
    die_errno("get the hostname");
  a->ret = sethostname(host, strlen(host));
}

/* settimeofday(NULL, NULL) passes the same SYS_TIME check as clock_settime
 * and then changes nothing, so it is safe even where it is allowed. */
static void try_settime(struct attempt *a) { a->ret = syscall(SYS_settimeofday, NULL, NULL); }

static const struct {
  const char *name;
  void (*attempt)(struct attempt *);
} syscalls[] = {
  {"unshare-user", try_unshare_user}, {"unshare-ns", try_unshare_ns},
  {"mount", try_mount},               {"keyctl", try_keyctl},
  {"ptrace", try_ptrace},             {"reboot", try_reboot},
  {"clone3", try_clone3},             {"chroot", try_chroot},
  {"setuid0", try_setuid0},           {"chown", try_chown},
  {"mknod", try_mknod},               {"raw-socket", try_raw_socket},
  {"bind-80", try_bind_80},           {"sethostname", try_sethostname},
  {"settime", try_settime},
};

static int cmd_syscall(char **argv)
{
  struct attempt a = {.ret = -1, .err = -1};
  struct json j = {.out = stdout};
  size_t i;

  for (i = 0; i < ARRAY_SIZE(syscalls); i++)
    if (strcmp(argv[0], syscalls[i].name) == 0)
      break;
  if (i == ARRAY_SIZE(syscalls))
    usage_error("syscall: unknown name '%s'", argv[0]);
  errno = 0;
  syscalls[i].attempt(&a);
  if (a.err < 0) /* the attempt left it in errno */
    a.err = a.ret < 0 ? errno : 0;
  if (a.ret >= 0)
    a.err = 0;

  json_begin_object(&j, NULL);
  json_string(&j, "syscall", syscalls[i].name);
  json_int(&j, "ret", a.ret);
  json_string(&j, "errno", errno_name(a.err));
  if (a.detail)
    json_string(&j, "detail", a.detail);
  json_end_object(&j);
  finish_output();
  return a.ret < 0;
}

/* ---- write, cat, stdin, env ---------------------------------------------- */

static bool write_all(int fd, const char *buf, size_t n)
{
  ssize_t w;

  while (n > 0) {
    w = write(fd, buf, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    buf += w;
    n -= (size_t)w;
  }
  return true;
}

static int cmd_write(char **argv)
{
  struct json j = {.out = stdout};
  const char *op = "open";
  int err = 0;
  cleanup_close int fd = open(argv[0], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

  if (fd < 0) {
    err = errno;
  } else {
    op = "write";
    if (!write_all(fd, "x", 1))
      err = errno;
    else if (close(fd) < 0) /* NFS and friends report late */
      err = errno, op = "close";
    fd = -1;
  }
  json_begin_object(&j, NULL);
  json_string(&j, "path", argv[0]);
  json_string(&j, "errno", errno_name(err));
  json_string(&j, "op", op);
  json_end_object(&j);
  finish_output();
  return err != 0;
}

/* The file on stdout; on failure its errno name ("EACCES") and status 1. */
static int cmd_cat(char **argv)
{
  cleanup_close int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
  char buf[65536];
  ssize_t n;

  if (fd < 0) {
    say("%s", errno_name(errno));
    return 1;
  }
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      say("%s", errno_name(errno));
      return 1;
    }
    if (!write_all(STDOUT_FILENO, buf, (size_t)n))
      die_errno("write to stdout");
  }
  return 0;
}

static int cmd_stdin(char **argv)
{
  char buf[65536];
  ssize_t n;

  (void)argv;
  while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      die_errno("read stdin");
    if (!write_all(STDOUT_FILENO, buf, (size_t)n))
      die_errno("write to stdout");
  }
  say("eof");
  return 0;
}

static int cmd_env(char **argv)
{
  const char *value = getenv(argv[0]);

  if (!value)
    return 1;
  say("%s", value);
  return 0;
}

/* ---- tty ----------------------------------------------------------------- */

/* One line from fd, byte by byte so nothing is read past it; a tty in raw
 * mode ends lines with '\r'.  Returns its length, -1 at EOF before any. */
static ssize_t read_line(int fd, char *buf, size_t size)
{
  size_t len = 0;
  ssize_t n;
  char c;

  while (len + 1 < size) {
    n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return len > 0 ? (ssize_t)len : -1;
    if (c == '\n' || c == '\r')
      break;
    buf[len++] = c;
  }
  return (ssize_t)len;
}

static int cmd_tty(char **argv)
{
  struct json j = {.out = stdout};
  bool tty = isatty(STDIN_FILENO);
  struct winsize ws;
  struct termios t;
  bool size = tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0;
  bool attrs = tty && tcgetattr(STDIN_FILENO, &t) == 0;
  int ctty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  char line[4096];
  ssize_t len;

  (void)argv;
  if (ctty >= 0)
    close(ctty);
  json_begin_object(&j, NULL);
  json_bool(&j, "isatty", tty);
  if (size) {
    json_int(&j, "rows", ws.ws_row);
    json_int(&j, "cols", ws.ws_col);
  } else {
    json_null(&j, "rows");
    json_null(&j, "cols");
  }
  if (attrs) {
    json_bool(&j, "raw", !(t.c_lflag & ICANON));
    json_bool(&j, "echo", t.c_lflag & ECHO);
  } else {
    json_null(&j, "raw");
    json_null(&j, "echo");
  }
  json_bool(&j, "stdout_isatty", isatty(STDOUT_FILENO));
  json_bool(&j, "ctty", ctty >= 0);
  json_bool(&j, "foreground", tty && tcgetpgrp(STDIN_FILENO) == getpgrp());
  json_end_object(&j);
  finish_output();
  if (!tty)
    return 0;
  len = read_line(STDIN_FILENO, line, sizeof line);
  json_begin_object(&j, NULL);
  if (len < 0)
    json_null(&j, "line");
  else
    json_string_n(&j, "line", line, (size_t)len);
  json_end_object(&j);
  return finish_output();
}

/* ---- whoami -------------------------------------------------------------- */

/* Field `want` (0-based) of the first line of a colon-separated database
 * (/etc/passwd, /etc/group) whose field 2 is id; malloc'd, or NULL.  Read
 * by hand: a static glibc cannot load the NSS modules getpwuid() needs. */
static char *db_lookup(const char *path, unsigned long id, int want)
{
  cleanup_fclose FILE *f = fopen(path, "re");
  char line[4096], *field[7], *p, *save;
  int n;
  long long v;

  if (!f)
    return NULL;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    for (n = 0, p = line; n < 7; n++) {
      field[n] = p;
      save = strchr(p, ':');
      if (!save)
        break;
      *save = '\0';
      p = save + 1;
    }
    if (n >= 2 && n >= want && parse_ll(field[2], &v) && (unsigned long)v == id)
      return strdup(field[want]);
  }
  return NULL;
}

static int cmd_whoami(char **argv)
{
  struct json j = {.out = stdout};
  cleanup_free char *user = db_lookup("/etc/passwd", getuid(), 0);
  cleanup_free char *home = db_lookup("/etc/passwd", getuid(), 5);
  cleanup_free char *group = db_lookup("/etc/group", getgid(), 0);

  (void)argv;
  json_begin_object(&j, NULL);
  json_int(&j, "uid", getuid());
  json_int(&j, "gid", getgid());
  json_int(&j, "euid", geteuid());
  json_string(&j, "user", user);
  json_string(&j, "group", group);
  json_string(&j, "home", home);
  json_groups(&j, "groups");
  json_end_object(&j);
  return finish_output();
}

/* ---- main ---------------------------------------------------------------- */

static const struct command {
  const char *name;
  int nargs;
  int (*run)(char **argv);
  const char *args, *help;
} commands[] = {
  {"info", 0, cmd_info, "", "JSON: caps, ids, namespaces, env, rlimits, cgroup limits, mounts, fds, tty"},
  {"exit", 1, cmd_exit, "N", "exit with status N"},
  {"signal", 1, cmd_signal, "SIG", "kill itself with SIG (TERM, SIGTERM or 15)"},
  {"pause", 0, cmd_pause, "", "print ready, then 'signal N' per signal; exit 0 after TERM or INT"},
  {"ignore-term", 0, cmd_ignore_term, "", "ignore SIGTERM, print ready, sleep forever"},
  {"zombies", 1, cmd_zombies, "N", "leave N orphaned zombies, print ready, then 'zombies K' 3 times"},
  {"memhog", 1, cmd_memhog, "MB", "allocate and touch MB MiB; exit 0 if all were had"},
  {"forkbomb", 1, cmd_forkbomb, "N", "fork N children (2 s each); print 'forked K failed ERRNO'"},
  {"syscall", 1, cmd_syscall, "NAME", "JSON: try one syscall, report ret and errno; 1 if it failed"},
  {"write", 1, cmd_write, "PATH", "JSON: open PATH for writing, write 'x', report errno; 1 if failed"},
  {"cat", 1, cmd_cat, "PATH", "print PATH, or its errno name and exit 1"},
  {"stdin", 0, cmd_stdin, "", "copy stdin to stdout, then print eof"},
  {"tty", 0, cmd_tty, "", "JSON: isatty, rows, cols, raw; on a tty then read a line, print it as JSON"},
  {"sleep", 1, cmd_sleep, "SECONDS", "sleep (fractions allowed)"},
  {"env", 1, cmd_env, "NAME", "print $NAME; exit 1 if unset"},
  {"whoami", 0, cmd_whoami, "", "JSON: uid, gid, user and group names from /etc/passwd, /etc/group"},
};

static void usage(FILE *out)
{
  size_t i;

  fprintf(out, "Usage: " PROG " COMMAND [ARG]\n\nCommands:\n");
  for (i = 0; i < ARRAY_SIZE(commands); i++)
    fprintf(out, "  %-12s %-8s %s\n", commands[i].name, commands[i].args, commands[i].help);
  fprintf(out, "\nsyscall NAME is one of:");
  for (i = 0; i < ARRAY_SIZE(syscalls); i++)
    fprintf(out, " %s", syscalls[i].name);
  fprintf(out, "\n\nExit status: the command's, 2 bad usage, 111 the probe itself failed.\n");
}

int main(int argc, char **argv)
{
  size_t i;

  if (argc < 2)
    usage_error("missing command");
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (i = 0; i < ARRAY_SIZE(commands); i++) {
    if (strcmp(argv[1], commands[i].name) != 0)
      continue;
    if (argc - 2 != commands[i].nargs)
      usage_error("%s takes %s", commands[i].name,
                  commands[i].nargs ? commands[i].args : "no argument");
    return commands[i].run(argv + 2);
  }
  usage_error("unknown command '%s'", argv[1]);
}
