#define _GNU_SOURCE
#include "devices_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "core/cleanup.h"

/* What a rule asks, in the program's terms. -1: any. */
struct rule {
  int type;   /* BPF_DEVCG_DEV_CHAR, _BLOCK, or -1 */
  int access; /* BPF_DEVCG_ACC_* bits */
  long major, minor;
  bool allow;
};

int run_device_rule_parse(const json_t *d, size_t i, struct run_device_rule *r, ctr_err *err) {
  const json_t *a = json_object_get(d, "allow");
  const char *type = "a", *access = "rwm";
  const char *keys[2] = {"major", "minor"};
  long *out[2] = {&r->major, &r->minor};
  if (!json_is_object(d) || !json_is_boolean(a))
    return ctr_fail(err, 0, "linux.resources.devices[%zu]: needs a boolean \"allow\"", i);
  r->allow = json_is_true(a);
  if (json_is_string(json_object_get(d, "type")))
    type = json_string_value(json_object_get(d, "type"));
  if (json_is_string(json_object_get(d, "access")))
    access = json_string_value(json_object_get(d, "access"));
  if (strlen(type) != 1 || !strchr("abc", type[0]))
    return ctr_fail(err, 0, "linux.resources.devices[%zu].type: '%s' is not a, b or c", i, type);
  if (access[0] == '\0' || strspn(access, "rwm") != strlen(access) || strlen(access) > 3)
    return ctr_fail(err, 0, "linux.resources.devices[%zu].access: '%s' is not made of r, w, m", i,
                    access);
  r->type = type[0];
  snprintf(r->access, sizeof(r->access), "%s", access);
  for (int k = 0; k < 2; k++) {
    const json_t *v = json_object_get(d, keys[k]);
    *out[k] = -1;
    if (v == NULL || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == -1))
      continue;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xfffff)
      return ctr_fail(err, 0, "linux.resources.devices[%zu].%s: not a device number", i, keys[k]);
    *out[k] = (long)json_integer_value(v);
  }
  return 0;
}

static int parse_rule(const json_t *d, size_t i, struct rule *r, ctr_err *err) {
  struct run_device_rule dr;
  if (run_device_rule_parse(d, i, &dr, err) < 0)
    return -1;
  r->allow = dr.allow;
  r->major = dr.major;
  r->minor = dr.minor;
  r->type = dr.type == 'c' ? BPF_DEVCG_DEV_CHAR : dr.type == 'b' ? BPF_DEVCG_DEV_BLOCK : -1;
  r->access = (strchr(dr.access, 'r') ? BPF_DEVCG_ACC_READ : 0) |
              (strchr(dr.access, 'w') ? BPF_DEVCG_ACC_WRITE : 0) |
              (strchr(dr.access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0);
  return 0;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define ALL_ACCESS (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

/* Instructions of one rule's test: each condition jumps past the rule's
 * end when it does not hold. */
static size_t rule_len(const struct rule *r) {
  return (r->type >= 0 ? 1 : 0) + (r->access != ALL_ACCESS ? 3 : 0) + (r->major >= 0 ? 1 : 0) +
         (r->minor >= 0 ? 1 : 0) + 2;
}

int run_devices_bpf_build(const json_t *rules, struct bpf_insn **prog, size_t *n, ctr_err *err) {
  size_t nr = json_array_size(rules), len = 6 + 2, k = 0; /* loads, default verdict */
  cleanup_free struct rule *rs = calloc(nr ? nr : 1, sizeof(*rs));
  struct bpf_insn *p;
  bool closed = false;
  *prog = NULL;
  *n = 0;
  if (rs == NULL)
    return ctr_fail(err, ENOMEM, "device rules");
  for (size_t i = 0; i < nr; i++) {
    if (parse_rule(json_array_get(rules, i), i, &rs[i], err) < 0)
      return -1;
    len += rule_len(&rs[i]);
  }
  p = calloc(len, sizeof(*p));
  if (p == NULL)
    return ctr_fail(err, ENOMEM, "device rules");
  /* r2 = type, r3 = access, r4 = major, r5 = minor, from
   * struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } */
  p[k++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  p[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  p[k++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  p[k++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  p[k++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  p[k++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
  /* The last rule that matches decides: test them from the last. A rule
   * that matches everything ends the program (the verifier refuses code
   * that cannot be reached). */
  for (size_t i = nr; i-- > 0 && !closed;) {
    const struct rule *r = &rs[i];
    size_t end = k + rule_len(r) - 2; /* the rule's "r0 = verdict" */
#define SKIP ((short)(end - k - 1))
    if (r->type >= 0) {
      p[k] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, r->type);
      p[k].off = SKIP + 2;
      k++;
    }
    if (r->access != ALL_ACCESS) {
      /* what is asked must all be allowed by the rule: (ask & rule) == ask */
      p[k++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
      p[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, r->access);
      p[k] = INSN(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
      p[k].off = SKIP + 2;
      k++;
    }
    if (r->major >= 0) {
      p[k] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int)r->major);
      p[k].off = SKIP + 2;
      k++;
    }
    if (r->minor >= 0) {
      p[k] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int)r->minor);
      p[k].off = SKIP + 2;
      k++;
    }
#undef SKIP
    p[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    p[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    closed = rule_len(r) == 2;
  }
  if (!closed) {
    p[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    p[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  *prog = p;
  *n = k;
  return 0;
}

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int run_devices_bpf_attach(const char *dir, const json_t *rules, ctr_err *err) {
  cleanup_free struct bpf_insn *prog = NULL;
  cleanup_close int dfd = -1;
  cleanup_close int pfd = -1;
  static char license[] = "GPL";
  char log[4096] = "";
  union bpf_attr a;
  struct statfs sf;
  size_t n;
  if (run_devices_bpf_build(rules, &prog, &n, err) < 0)
    return -1;
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return ctr_fail(err, errno, "cgroup %s", dir);
  if (fstatfs(dfd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
    return ctr_fail(err, ENOTDIR, "device rules: %s is not a cgroup2 directory", dir);
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)prog;
  a.insn_cnt = (uint32_t)n;
  a.license = (uint64_t)(uintptr_t)license;
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = sizeof(log);
  a.log_level = 1;
  pfd = (int)bpf(BPF_PROG_LOAD, &a);
  if (pfd < 0 && errno == ENOSPC) {
    /* the verifier's log did not fit: load again without one */
    a.log_buf = 0;
    a.log_size = 0;
    a.log_level = 0;
    pfd = (int)bpf(BPF_PROG_LOAD, &a);
  }
  if (pfd < 0) {
    char *last = strrchr(log, '\n');
    while (last != NULL && last > log && last[1] == '\0') {
      *last = '\0';
      last = strrchr(log, '\n');
    }
    return ctr_fail(err, errno, "device rules: load the BPF program%s%s", log[0] ? ": " : "",
                    last ? last + 1 : log);
  }
  /* one program per cgroup, replacing what a former run left there */
  memset(&a, 0, sizeof(a));
  a.target_fd = (uint32_t)dfd;
  a.attach_bpf_fd = (uint32_t)pfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  if (bpf(BPF_PROG_ATTACH, &a) < 0)
    return ctr_fail(err, errno, "device rules: attach the BPF program to %s", dir);
  return 0;
}
