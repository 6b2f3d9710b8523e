/* Seccomp: the default profile made into OCI linux.seccomp for Docker's
 * default capabilities and with more; malformed profiles and OCI objects
 * refused with a message naming the field; the filter loaded in a child
 * that then probes what it may do; and, where crun is installed, the same
 * object run by crun as a second opinion. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "run/seccomp.h"
#include "tap.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *const docker_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};
#define NDOCKER (sizeof(docker_caps) / sizeof(docker_caps[0]))

static char *profile;
static size_t profile_len;

/* The first rule of oci listing name with the given action ("" any). */
static json_t *find_rule(const json_t *oci, const char *name,
                         const char *action) {
  json_t *rule, *n;
  size_t i, j;
  json_array_foreach(json_object_get(oci, "syscalls"), i, rule) {
    const char *act = json_string_value(json_object_get(rule, "action"));
    if (*action != '\0' && (act == NULL || strcmp(act, action) != 0))
      continue;
    json_array_foreach(json_object_get(rule, "names"), j, n) {
      if (strcmp(json_string_value(n), name) == 0)
        return rule;
    }
  }
  return NULL;
}

static bool allowed(const json_t *oci, const char *name) {
  return find_rule(oci, name, "SCMP_ACT_ALLOW") != NULL;
}

static json_t *convert(const char *const *caps, size_t ncaps) {
  json_t *oci = NULL;
  ctr_err err = NULL;
  if (run_seccomp_from_profile(profile, profile_len, caps, ncaps, &oci, &err) <
      0) {
    printf("# %s\n", err->msg);
    ctr_err_free(&err);
  }
  return oci;
}

static bool compiles(const json_t *oci) {
  scmp_filter_ctx ctx = NULL;
  ctr_err err = NULL;
  int rc = run_seccomp_compile(oci, &ctx, &err);
  if (rc < 0)
    printf("# %s\n", err->msg);
  ctr_err_free(&err);
  if (ctx != NULL)
    seccomp_release(ctx);
  return rc == 0;
}

static void test_default_path(void) {
  char *path = NULL;
  ctr_err err = NULL;
  int rc;
  unsetenv("CTR_SECCOMP_PROFILE");
  rc = run_seccomp_default_path(&path, &err);
  ok(rc == 0 && path != NULL &&
         strstr(path, "/share/seccomp/default.json") != NULL,
     "default profile found in the source tree: %s", path ? path : err->msg);
  if (rc == 0 &&
      ctr_read_file(AT_FDCWD, path, 1 << 20, &profile, &profile_len, &err) < 0)
    printf("# %s\n", err->msg);
  free(path);
  path = NULL;
  ctr_err_free(&err);

  setenv("CTR_SECCOMP_PROFILE", "/etc/hostname", 1);
  rc = run_seccomp_default_path(&path, &err);
  ok(rc == 0 && strcmp(path, "/etc/hostname") == 0, "CTR_SECCOMP_PROFILE wins");
  free(path);
  path = NULL;
  setenv("CTR_SECCOMP_PROFILE", "/nonexistent/profile.json", 1);
  rc = run_seccomp_default_path(&path, &err);
  ok(rc < 0 && err && strstr(err->msg, "/nonexistent/profile.json"),
     "a missing CTR_SECCOMP_PROFILE is an error: %s", err ? err->msg : "-");
  ctr_err_free(&err);
  unsetenv("CTR_SECCOMP_PROFILE");
}

static void test_default_caps(void) {
  cleanup_json json_t *oci = convert(docker_caps, NDOCKER);
  const char *absent[] = {"mount",
                          "umount2",
                          "unshare",
                          "setns",
                          "keyctl",
                          "add_key",
                          "request_key",
                          "ptrace",
                          "reboot",
                          "bpf",
                          "init_module",
                          "kexec_load",
                          "iopl",
                          "acct",
                          "open_by_handle_at",
                          "io_uring_setup",
                          "pivot_root",
                          "process_vm_readv"};
  const char *present[] = {"read", "write", "execve",     "openat", "chroot",
                           "fork", "futex", "exit_group", "capset"};
  json_t *clone, *arg, *clone3, *arches;
  struct utsname u;
  if (!ok(oci != NULL, "default profile converts for Docker's 14 caps"))
    return;
  for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
    ok(find_rule(oci, absent[i], "") == NULL, "%s not allowed", absent[i]);
  for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
    ok(allowed(oci, present[i]), "%s allowed", present[i]);
  clone = find_rule(oci, "clone", "SCMP_ACT_ALLOW");
  arg = json_array_get(json_object_get(clone, "args"), 0);
  ok(clone != NULL && json_array_size(json_object_get(clone, "args")) == 1 &&
         json_integer_value(json_object_get(arg, "index")) == 0 &&
         json_integer_value(json_object_get(arg, "value")) == 0x7E020000 &&
         json_integer_value(json_object_get(arg, "valueTwo")) == 0 &&
         strcmp(json_string_value(json_object_get(arg, "op")),
                "SCMP_CMP_MASKED_EQ") == 0,
     "clone only without namespace flags (arg0 & 0x7E020000 == 0)");
  ok(find_rule(oci, "clone", "SCMP_ACT_ALLOW") == clone &&
         json_array_size(json_object_get(oci, "syscalls")) > 0,
     "no unconditional clone rule");
  clone3 = find_rule(oci, "clone3", "");
  ok(clone3 != NULL &&
         strcmp(json_string_value(json_object_get(clone3, "action")),
                "SCMP_ACT_ERRNO") == 0 &&
         json_integer_value(json_object_get(clone3, "errnoRet")) == ENOSYS,
     "clone3 answers ENOSYS");
  ok(strcmp(json_string_value(json_object_get(oci, "defaultAction")),
            "SCMP_ACT_ERRNO") == 0 &&
         json_integer_value(json_object_get(oci, "defaultErrnoRet")) == EPERM,
     "default action ERRNO(EPERM)");
  arches = json_object_get(oci, "architectures");
  if (uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0)
    ok(json_array_size(arches) == 3 &&
           strcmp(json_string_value(json_array_get(arches, 0)),
                  "SCMP_ARCH_X86_64") == 0 &&
           strcmp(json_string_value(json_array_get(arches, 1)),
                  "SCMP_ARCH_X86") == 0 &&
           strcmp(json_string_value(json_array_get(arches, 2)),
                  "SCMP_ARCH_X32") == 0,
       "architectures from archMap: x86_64, x86, x32");
  ok(allowed(oci, "arch_prctl") == (strcmp(u.machine, "x86_64") == 0),
     "arch-specific rule follows the machine");
  ok(find_rule(oci, "s390_runtime_instr", "") == NULL,
     "another architecture's rule is dropped");
  ok(compiles(oci), "default OCI object compiles");
}

static void test_more_caps(void) {
  const char *caps[NDOCKER + 1];
  const char *all[] = {"CAP_SYS_ADMIN",
                       "CAP_SYS_PTRACE",
                       "CAP_SYS_BOOT",
                       "CAP_SYS_MODULE",
                       "CAP_SYS_PACCT",
                       "CAP_SYS_RAWIO",
                       "CAP_SYS_TIME",
                       "CAP_SYS_TTY_CONFIG",
                       "CAP_SYS_NICE",
                       "CAP_SYSLOG",
                       "CAP_BPF",
                       "CAP_PERFMON",
                       "CAP_DAC_READ_SEARCH",
                       "CAP_SYS_CHROOT"};
  json_t *oci;
  memcpy(caps, docker_caps, sizeof(docker_caps));
  caps[NDOCKER] = "CAP_SYS_ADMIN";
  oci = convert(caps, NDOCKER + 1);
  ok(oci && allowed(oci, "mount") && allowed(oci, "unshare") &&
         allowed(oci, "setns") && allowed(oci, "umount2"),
     "CAP_SYS_ADMIN adds mount, unshare, setns, umount2");
  ok(oci && allowed(oci, "clone") &&
         json_object_get(find_rule(oci, "clone", "SCMP_ACT_ALLOW"), "args") ==
             NULL &&
         allowed(oci, "clone3") &&
         find_rule(oci, "clone3", "SCMP_ACT_ERRNO") == NULL,
     "CAP_SYS_ADMIN: clone and clone3 unrestricted");
  ok(oci && !allowed(oci, "ptrace") && !allowed(oci, "reboot"),
     "CAP_SYS_ADMIN does not add ptrace or reboot");
  ok(oci && compiles(oci), "CAP_SYS_ADMIN object compiles");
  json_decref(oci);

  oci = convert(all, sizeof(all) / sizeof(all[0]));
  ok(oci && allowed(oci, "ptrace") && allowed(oci, "reboot") &&
         allowed(oci, "init_module") && allowed(oci, "iopl") &&
         allowed(oci, "bpf") && allowed(oci, "perf_event_open") &&
         allowed(oci, "open_by_handle_at") && allowed(oci, "vhangup") &&
         allowed(oci, "clock_settime") && allowed(oci, "mbind") &&
         allowed(oci, "acct") && allowed(oci, "syslog"),
     "each capability unlocks its syscalls");
  ok(oci && compiles(oci),
     "every-capability object compiles (overlapping rules)");
  json_decref(oci);

  {
    const char *lower[] = {"sys_ptrace"};
    oci = convert(lower, 1);
    ok(oci && allowed(oci, "ptrace") && !allowed(oci, "chroot"),
       "capability names without CAP_ or in lower case match; chroot needs "
       "CAP_SYS_CHROOT");
    json_decref(oci);
  }
}

/* Profile text → error message (NULL on success). */
static char *profile_error(const char *text, json_t **oci_out) {
  json_t *oci = NULL;
  ctr_err err = NULL;
  char *msg = NULL;
  if (run_seccomp_from_profile(text, strlen(text), docker_caps, NDOCKER, &oci,
                               &err) < 0)
    msg = strdup(err->msg ? err->msg : "?");
  ctr_err_free(&err);
  if (oci_out != NULL)
    *oci_out = oci;
  else
    json_decref(oci);
  return msg;
}

static void test_bad_profiles(void) {
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"not json", "invalid JSON"},
      {"[]", "not a JSON object"},
      {"{}", "defaultAction: missing"},
      {"{\"defaultAction\":\"SCMP_ACT_ALLOWW\"}",
       "defaultAction: unknown action"},
      {"{\"defaultAction\":7}", "defaultAction: not a string"},
      {"{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
       "defaultErrnoRet"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":5000}",
       "defaultErrnoRet"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":{}}",
       "syscalls: not an array"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[1]}",
       "syscalls[0]: not an object"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\",3],"
       "\"action\":\"SCMP_ACT_ALLOW\"}]}",
       "syscalls[0].names: element 1 is not a string"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[],"
       "\"action\":\"SCMP_ACT_ALLOW\"}]}",
       "syscalls[0].names: empty"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"]}]}",
       "syscalls[0].action: missing"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"name\":\"read\","
       "\"names\":[\"write\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
       "either \"name\" or \"names\""},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,"
       "\"op\":\"SCMP_CMP_WHATEVER\"}]}]}",
       "syscalls[0].args[0].op: unknown operator"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":1,"
       "\"op\":\"SCMP_CMP_EQ\"}]}]}",
       "syscalls[0].args[0].index: not an integer from 0 to 5"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"value\":1,\"op\":\"SCMP_CMP_"
       "EQ\"}]}]}",
       "syscalls[0].args[0].index: missing"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":-2,"
       "\"op\":\"SCMP_CMP_EQ\"}]}]}",
       "syscalls[0].args[0].value"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":{}}]}",
       "syscalls[0].args: not an array"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":\"CAP_SYS_ADMIN\"}"
       "}]}",
       "syscalls[0].includes.caps: not an array"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"minKernel\":\"5\"}}]}",
       "syscalls[0].excludes.minKernel"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"4.-1\"}}]}",
       "syscalls[0].includes.minKernel"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_"
       "X86_64\"],"
       "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}",
       "either \"architectures\" or \"archMap\""},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"archMap\":[{"
       "\"subArchitectures\":[]}]}",
       "archMap[0].architecture"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"flags\":[\"SECCOMP_FILTER_FLAG_"
       "NEW_LISTENER\"]}",
       "flags: unsupported flag"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"listenerPath\":\"/run/"
       "agent.sock\"}",
       "listenerPath"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":\"1\"}]}",
       "syscalls[0].errnoRet"},
      /* Misspelt fields would widen a rule if ignored. */
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"mount\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"include\":{\"caps\":[\"CAP_SYS_ADMIN\"]"
       "}}]}",
       "syscalls[0]: unknown field \"include\""},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"mount\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"cap\":[\"CAP_SYS_ADMIN\"]"
       "}}]}",
       "syscalls[0].includes: unknown field \"cap\""},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"socket\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"valeu\":40,"
       "\"op\":\"SCMP_CMP_NE\"}]}]}",
       "syscalls[0].args[0]: unknown field \"valeu\""},
      {"{\"defaultaction\":\"SCMP_ACT_ALLOW\"}",
       "unknown field \"defaultaction\""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *msg = profile_error(bad[i].text, NULL);
    ok(msg != NULL && strncmp(msg, "seccomp profile: ", 17) == 0 &&
           strstr(msg, bad[i].want) != NULL,
       "bad profile %zu refused: %s", i, msg ? msg : "(accepted)");
    free(msg);
  }
}

static void test_profile_semantics(void) {
  json_t *oci = NULL;
  char *msg = profile_error(
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"comment\":\"x\",\"syscalls\":["
      "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
      "\"minKernel\":\"99.0\"}},"
      "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
      "\"minKernel\":\"3.10\"}},"
      "{\"names\":[\"close\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{"
      "\"minKernel\":\"3.0\"}},"
      "{\"name\":\"dup\",\"action\":\"SCMP_ACT_TRAP\"},"
      "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
      "\"caps\":[\"CAP_KILL\",\"CAP_SYS_ADMIN\"]}},"
      "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{"
      "\"caps\":[\"CAP_BPF\",\"CAP_KILL\"]}},"
      "{\"names\":[\"gettid\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
      "\"arches\":[\"s390x\"]}},"
      "{\"names\":[\"brk\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{"
      "\"arches\":[\"s390x\"]}},"
      "{\"names\":[\"nosuchcall\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":null,"
      "\"includes\":null}"
      "]}",
      &oci);
  ok(msg == NULL && oci != NULL, "semantics profile accepted%s%s",
     msg ? ": " : "", msg ? msg : "");
  if (oci != NULL) {
    ok(!allowed(oci, "read"), "includes.minKernel newer than the kernel drops");
    ok(allowed(oci, "write"), "includes.minKernel older than the kernel keeps");
    ok(!allowed(oci, "close"),
       "excludes.minKernel older than the kernel drops");
    ok(find_rule(oci, "dup", "SCMP_ACT_TRAP") != NULL,
       "old \"name\" form read");
    ok(!allowed(oci, "getpid"), "includes.caps needs every cap");
    ok(!allowed(oci, "getppid"), "excludes.caps drops on any cap");
    ok(!allowed(oci, "gettid") && allowed(oci, "brk"),
       "arches include/exclude");
    ok(json_object_get(oci, "architectures") == NULL,
       "no archMap: no architectures (native only)");
    ok(compiles(oci), "unknown syscall names are skipped when compiling");
  }
  json_decref(oci);
  free(msg);
}

/* OCI text → run_seccomp_compile's error (NULL on success). */
static char *compile_error(const char *text) {
  json_error_t je;
  cleanup_json json_t *oci = json_loads(text, 0, &je);
  scmp_filter_ctx ctx = NULL;
  ctr_err err = NULL;
  char *msg = NULL;
  if (oci == NULL)
    return strdup("test's JSON is bad");
  if (run_seccomp_compile(oci, &ctx, &err) < 0)
    msg = strdup(err->msg ? err->msg : "?");
  ctr_err_free(&err);
  if (ctx != NULL)
    seccomp_release(ctx);
  return msg;
}

static void test_compile_checks(void) {
  static const struct {
    const char *text, *want; /* want NULL: must compile */
  } cases[] = {
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\",\"nosuchcall\"],"
       "\"action\":\"SCMP_ACT_ALLOW\"}]}",
       NULL},
      {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\"}]}",
       NULL},
      {"{\"defaultAction\":\"SCMP_ACT_KILL\","
       "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_AARCH64\"],"
       "\"syscalls\":["
       "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
       "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
       "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
       "{\"names\":[\"mmap\"],\"action\":\"SCMP_ACT_TRAP\",\"args\":["
       "{\"index\":2,\"value\":4,\"valueTwo\":4,\"op\":\"SCMP_CMP_MASKED_EQ\"},"
       "{\"index\":3,\"value\":1,\"op\":\"SCMP_CMP_GE\"}]},"
       "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":7}]}",
       NULL},
      {"[]", "linux.seccomp: not an object"},
      {"{\"syscalls\":[]}", "linux.seccomp: defaultAction: missing"},
      {"{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
       "linux.seccomp: syscalls[0].action: SCMP_ACT_NOTIFY"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"ALLOW\"}]}",
       "linux.seccomp: syscalls[0].action: unknown action"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_"
       "EQUAL\"}]}]}",
       "linux.seccomp: syscalls[0].args[0].op: unknown operator"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
       "\"read\"],"
       "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_"
       "EQ\"}]}]}",
       "linux.seccomp: syscalls[0].args[0].index"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"name\":\"read\","
       "\"action\":\"SCMP_ACT_ALLOW\"}]}",
       "linux.seccomp: syscalls[0]: unknown field \"name\""},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_"
       "VAX\"]}",
       "linux.seccomp: architectures: unknown architecture"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"flags\":[\"BOGUS\"]}",
       "linux.seccomp: flags: unsupported flag"},
      {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"listenerPath\":\"/x\"}",
       "linux.seccomp: listenerPath"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *msg = compile_error(cases[i].text);
    if (cases[i].want == NULL)
      ok(msg == NULL, "OCI case %zu compiles%s%s", i, msg ? ": " : "",
         msg ? msg : "");
    else
      ok(msg != NULL && strstr(msg, cases[i].want) != NULL,
         "OCI case %zu refused: %s", i, msg ? msg : "(accepted)");
    free(msg);
  }
  /* Actions of kernel 4.14's seccomp(2): compiled where the kernel (as
   * libseccomp sees it) has them, a clear error where not (valgrind). */
  {
    char *msg = compile_error(
        "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"flags\":["
        "\"SECCOMP_FILTER_FLAG_LOG\"],\"syscalls\":[{\"names\":[\"dup\"],"
        "\"action\":\"SCMP_ACT_LOG\"}]}");
    if (seccomp_api_get() >= 3)
      ok(msg == NULL,
         "SCMP_ACT_KILL_PROCESS, SCMP_ACT_LOG, FLAG_LOG compile%s%s",
         msg ? ": " : "", msg ? msg : "");
    else
      ok(msg != NULL && strstr(msg, "not supported by this kernel") != NULL,
         "SCMP_ACT_KILL_PROCESS refused without seccomp API 3: %s",
         msg ? msg : "(accepted)");
    free(msg);
  }
}

/* ---- the filter in force ---- */

/* What the child saw under the filter: errno of each attempt, 0 when it
 * succeeded. */
struct probe {
  int install, unshare_user, mount, keyctl, clone3, clone_newns, ptrace, vsock,
      bad_personality, reboot;
  int getpid_ok, fork_ok, thread_ok, unix_ok, personality_ok;
  char msg[256];
};

static void *thread_main(void *arg) { return arg; }

static bool under_valgrind(void) {
  const char *pre = getenv("LD_PRELOAD");
  return pre != NULL && strstr(pre, "vgpreload") != NULL;
}

/* Start a process with raw clone/clone3 and reap it; errno or 0. */
static int try_clone(long nr, unsigned long flags) {
  uint64_t args[8] = {0};
  long pid;
  if (nr == SYS_clone3) {
    args[0] = flags;
    args[4] = SIGCHLD; /* exit_signal */
    pid = syscall(SYS_clone3, args, sizeof(args));
  } else {
    pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  }
  if (pid == 0)
    _exit(0);
  if (pid < 0)
    return errno;
  waitpid((pid_t)pid, NULL, 0);
  return 0;
}

#define ERRNO_OF(call) ((call) < 0 ? errno : 0)

static void probe_under_filter(const json_t *oci, const char *dir,
                               struct probe *p) {
  ctr_err err = NULL;
  pthread_t th;
  pid_t pid;
  int status = 0, fd;
  /* Our own mount namespace: should the filter fail, no mount escapes. */
  if (unshare(CLONE_NEWNS) < 0 ||
      mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    p->install = errno;
    snprintf(p->msg, sizeof(p->msg), "setup: %s", strerror(errno));
    return;
  }
  if (run_seccomp_install(oci, &err) < 0) {
    p->install = err->errnum ? err->errnum : -1;
    snprintf(p->msg, sizeof(p->msg), "%s", err->msg);
    ctr_err_free(&err);
    return;
  }
  p->unshare_user = ERRNO_OF(unshare(CLONE_NEWUSER));
  p->mount = ERRNO_OF(mount("none", dir, "tmpfs", 0, NULL));
  p->keyctl = ERRNO_OF(
      syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* SESSION */, 0));
  p->clone3 = try_clone(SYS_clone3, 0);
  p->clone_newns = try_clone(SYS_clone, CLONE_NEWNS);
  /* Not traced by us: ESRCH without the filter, EPERM with it. */
  p->ptrace = ERRNO_OF(ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL));
  p->vsock = ERRNO_OF(socket(AF_VSOCK, SOCK_STREAM, 0));
  p->bad_personality = ERRNO_OF(personality(ADDR_NO_RANDOMIZE));
  /* An invalid magic: EINVAL if it got through, EPERM if stopped. */
  p->reboot = ERRNO_OF(syscall(SYS_reboot, 0, 0, 0, NULL));
  p->personality_ok = personality(0xffffffff) >= 0;
  p->getpid_ok = getpid() == (pid_t)syscall(SYS_getpid) && getpid() > 0;
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  p->unix_ok = fd >= 0;
  if (fd >= 0)
    close(fd);
  pid = fork();
  if (pid == 0)
    _exit(7);
  p->fork_ok = pid > 0 && waitpid(pid, &status, 0) == pid &&
               WIFEXITED(status) && WEXITSTATUS(status) == 7;
  /* glibc tries clone3 for threads and falls back to clone on ENOSYS. */
  p->thread_ok = pthread_create(&th, NULL, thread_main, NULL) == 0 &&
                 pthread_join(th, NULL) == 0;
}

static void test_in_force(const json_t *oci) {
  char dir[] = "/tmp/ctr-seccomp-mnt.XXXXXX";
  struct probe p;
  int fds[2], status = 0;
  pid_t pid;
  ssize_t n;
  memset(&p, 0, sizeof(p));
  if (mkdtemp(dir) == NULL || pipe(fds) < 0) {
    ok(0, "setup: %s", strerror(errno));
    return;
  }
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    probe_under_filter(oci, dir, &p);
    if (write(fds[1], &p, sizeof(p)) != (ssize_t)sizeof(p))
      _exit(2);
    _exit(0); /* no atexit handlers (LeakSanitizer) under the filter */
  }
  close(fds[1]);
  n = read(fds[0], &p, sizeof(p));
  close(fds[0]);
  waitpid(pid, &status, 0);
  rmdir(dir);
  if (!ok(n == (ssize_t)sizeof(p) && WIFEXITED(status) && p.install == 0,
          "child loaded the filter%s%s", p.msg[0] ? ": " : "", p.msg))
    return;
  if (under_valgrind()) {
    /* It answers some syscalls itself (ENOSYS) and makes its own under
     * the filter, so what the child saw says nothing about the filter. */
    ok(1, "filter in force # SKIP under valgrind");
    return;
  }
  ok(p.unshare_user == EPERM, "unshare(CLONE_NEWUSER) -> EPERM (%s)",
     strerror(p.unshare_user));
  ok(p.mount == EPERM, "mount -> EPERM (%s)", strerror(p.mount));
  ok(p.keyctl == EPERM, "keyctl -> EPERM (%s)", strerror(p.keyctl));
  ok(p.clone3 == ENOSYS, "clone3 -> ENOSYS (%s)", strerror(p.clone3));
  ok(p.clone_newns == EPERM, "clone(CLONE_NEWNS) -> EPERM (%s)",
     strerror(p.clone_newns));
  ok(p.ptrace == EPERM, "ptrace -> EPERM (%s)", strerror(p.ptrace));
  ok(p.vsock == EPERM, "socket(AF_VSOCK) -> EPERM (%s)", strerror(p.vsock));
  ok(p.bad_personality == EPERM, "personality(ADDR_NO_RANDOMIZE) -> EPERM (%s)",
     strerror(p.bad_personality));
  ok(p.reboot == EPERM, "reboot -> EPERM (%s)", strerror(p.reboot));
  ok(p.getpid_ok, "getpid works");
  ok(p.fork_ok, "fork works (clone without namespace flags)");
  ok(p.thread_ok, "pthread_create works (clone3 ENOSYS, clone fallback)");
  ok(p.unix_ok, "socket(AF_UNIX) works");
  ok(p.personality_ok, "personality query works");
}

/* The loading contract: we never set no_new_privs ourselves; without it
 * loading needs CAP_SYS_ADMIN, and fails clearly when that is gone. */
static void test_nnp_contract(const json_t *oci) {
  struct {
    int rc, nnp;
    char msg[200];
  } r[2];
  if (getuid() != 0) {
    ok(1, "no_new_privs contract # SKIP needs root");
    return;
  }
  for (int drop = 0; drop < 2; drop++) {
    int fds[2], status;
    pid_t pid;
    memset(&r[drop], 0, sizeof(r[drop]));
    if (pipe(fds) < 0)
      return;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
      ctr_err err = NULL;
      close(fds[0]);
      /* Leaving uid 0 clears the effective capabilities. */
      if (drop && setresuid(65534, 65534, 65534) < 0)
        _exit(3);
      r[drop].rc = run_seccomp_install(oci, &err);
      r[drop].nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
      if (err != NULL)
        snprintf(r[drop].msg, sizeof(r[drop].msg), "%s", err->msg);
      if (write(fds[1], &r[drop], sizeof(r[drop])) < 0)
        _exit(2);
      _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &r[drop], sizeof(r[drop])) != (ssize_t)sizeof(r[drop]))
      r[drop].rc = 99;
    close(fds[0]);
    waitpid(pid, &status, 0);
  }
  ok(r[0].rc == 0 && r[0].nnp == 0,
     "with CAP_SYS_ADMIN the filter loads and no_new_privs stays off%s%s",
     r[0].msg[0] ? ": " : "", r[0].msg);
  ok(r[1].rc < 0 && strstr(r[1].msg, "no_new_privs") != NULL,
     "without no_new_privs or CAP_SYS_ADMIN loading fails clearly: %s",
     r[1].msg);
}

/* ---- second opinion: crun runs a bundle with our linux.seccomp ---- */

static bool in_path(const char *prog) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

static int write_bundle(const char *dir, const json_t *seccomp,
                        const char *const *args) {
  char path[512];
  cleanup_json json_t *caps = json_array(), *argv = json_array(), *cfg = NULL;
  cleanup_free char *bb = NULL;
  size_t bblen = 0;
  ctr_err err = NULL;
  for (size_t i = 0; i < NDOCKER; i++)
    json_array_append_new(caps, json_string(docker_caps[i]));
  for (size_t i = 0; args[i] != NULL; i++)
    json_array_append_new(argv, json_string(args[i]));
  cfg = json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:O, s:[s], s:s, s:b,"
                  " s:{s:O, s:O, s:O}}, s:{s:s, s:b}, s:[],"
                  " s:{s:[{s:s},{s:s},{s:s},{s:s},{s:s}]}}",
                  "ociVersion", "1.0.2", "process", "terminal", 0, "user",
                  "uid", 0, "gid", 0, "args", argv, "env", "PATH=/bin", "cwd",
                  "/", "noNewPrivileges", 1, "capabilities", "bounding", caps,
                  "effective", caps, "permitted", caps, "root", "path",
                  "rootfs", "readonly", 1, "mounts", "linux", "namespaces",
                  "type", "pid", "type", "mount", "type", "ipc", "type", "uts",
                  "type", "network");
  if (cfg == NULL)
    return -1;
  if (seccomp != NULL)
    json_object_set(json_object_get(cfg, "linux"), "seccomp",
                    (json_t *)seccomp);
  snprintf(path, sizeof(path), "%s/rootfs/dev", dir);
  if (ctr_mkdir_p(AT_FDCWD, path, 0755, &err) < 0) {
    ctr_err_free(&err);
    return -1;
  }
  snprintf(path, sizeof(path), "%s/rootfs/bin", dir);
  if (ctr_mkdir_p(AT_FDCWD, path, 0755, &err) < 0 ||
      ctr_read_file(AT_FDCWD, "/bin/busybox", 8 << 20, &bb, &bblen, &err) < 0) {
    ctr_err_free(&err);
    return -1;
  }
  snprintf(path, sizeof(path), "%s/rootfs/bin/busybox", dir);
  if (access(path, X_OK) != 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    ssize_t w = fd < 0 ? -1 : write(fd, bb, bblen);
    if (fd >= 0)
      close(fd);
    if (w != (ssize_t)bblen)
      return -1;
  }
  {
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 ||
        ctr_json_save(dfd, "config.json", cfg, true, false, &err) < 0) {
      ctr_err_free(&err);
      return -1;
    }
  }
  return 0;
}

/* crun refuses a hybrid cgroup setup when the v2 hierarchy at
 * /sys/fs/cgroup/unified has controllers; hide that file from it. */
static void hide_unified_controllers(const char *empty) {
  const char *f = "/sys/fs/cgroup/unified/cgroup.controllers";
  char c;
  int fd = open(f, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? 0 : read(fd, &c, 1);
  if (fd >= 0)
    close(fd);
  if (n <= 0 || c == '\n')
    return;
  if (unshare(CLONE_NEWNS) == 0 &&
      mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0)
    mount(empty, f, "none", MS_BIND, NULL);
}

/* Exit status of `crun run` on a bundle at dir with the given seccomp and
 * args; -1 when it could not be run. */
static int crun_run(const char *dir, const json_t *seccomp,
                    const char *const *args, const char *id) {
  char state[512], log[512], empty[512];
  int status = 0;
  pid_t pid;
  if (write_bundle(dir, seccomp, args) < 0)
    return -1;
  snprintf(state, sizeof(state), "%s/state", dir);
  snprintf(log, sizeof(log), "%s/log", dir);
  snprintf(empty, sizeof(empty), "%s/empty", dir);
  close(open(empty, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    hide_unified_controllers(empty);
    execlp("crun", "crun", "--root", state, "--cgroup-manager=disabled", "run",
           "--bundle", dir, id, (char *)NULL);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(fd, 1);
    dup2(fd, 2);
    execlp("crun", "crun", "--root", state, "delete", "-f", id, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
  return WEXITSTATUS(status);
}

static void test_crun(const json_t *oci) {
  static const char *const user_ns[] = {"/bin/busybox", "unshare", "-U",
                                        "/bin/busybox", "true",    NULL};
  static const char *const plain[] = {"/bin/busybox", "true", NULL};
  char dir[] = "/tmp/ctr-seccomp-crun.XXXXXX", id[64], log[64];
  cleanup_free char *text = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  int control, denied, fine;
  if (getuid() != 0 || !in_path("crun") || access("/bin/busybox", X_OK) != 0) {
    ok(1, "crun check # SKIP needs root, crun and /bin/busybox");
    return;
  }
  if (mkdtemp(dir) == NULL) {
    ok(0, "crun check: mkdtemp: %s", strerror(errno));
    return;
  }
  snprintf(id, sizeof(id), "ctr-seccomp-test-%d", (int)getpid());
  control = crun_run(dir, NULL, user_ns, id);
  if (control != 0) {
    ok(1,
       "crun check # SKIP without seccomp, crun + unshare -U gave %d "
       "(see %s/log)",
       control, dir);
    return; /* leave the log for a look */
  }
  denied = crun_run(dir, oci, user_ns, id);
  fine = crun_run(dir, oci, plain, id);
  snprintf(log, sizeof(log), "%s/log", dir);
  if (ctr_read_file(AT_FDCWD, log, 1 << 16, &text, &len, &err) < 0)
    ctr_err_free(&err);
  ok(denied > 0 && text != NULL &&
         strstr(text, "Operation not permitted") != NULL,
     "crun with our linux.seccomp: busybox unshare -U fails with EPERM (%d)",
     denied);
  ok(fine == 0, "crun with our linux.seccomp: busybox true succeeds (%d)",
     fine);
  if (ctr_rm_rf(AT_FDCWD, dir, &err) < 0)
    ctr_err_free(&err);
}

int main(void) {
  json_t *oci;
  test_default_path();
  if (profile == NULL) {
    ok(0, "cannot read the default profile");
    return tap_done();
  }
  test_default_caps();
  test_more_caps();
  test_bad_profiles();
  test_profile_semantics();
  test_compile_checks();
  oci = convert(docker_caps, NDOCKER);
  if (oci != NULL) {
    test_in_force(oci);
    test_nnp_contract(oci);
    test_crun(oci);
  }
  json_decref(oci);
  free(profile);
  return tap_done();
}
