/* cgroup v2 has no devices files: device rules are a BPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup, which
 * the kernel runs on every open or mknod of a device node (as crun and
 * runc do it). */
#ifndef CTR_RUN_DEVICES_BPF_H
#define CTR_RUN_DEVICES_BPF_H

#include <jansson.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* One OCI linux.resources.devices rule, checked: type 'a', 'b' or 'c';
 * access letters of "rwm"; major and minor -1 for any. */
struct run_device_rule {
  char type;
  char access[4];
  long major, minor;
  bool allow;
};
/* Rule i of the array (for messages). */
int run_device_rule_parse(const json_t *d, size_t i, struct run_device_rule *r, ctr_err *err);

/* The program for OCI linux.resources.devices (checked as the v1 code
 * checks them): the last rule that matches decides, as with the v1
 * devices.allow/deny files; nothing matching is denied. *prog is
 * malloc'd. */
int run_devices_bpf_build(const json_t *rules, struct bpf_insn **prog, size_t *n, ctr_err *err);

/* Build, load and attach it to the cgroup2 directory dir. Programs
 * already attached there (by us, earlier) are replaced. */
int run_devices_bpf_attach(const char *dir, const json_t *rules, ctr_err *err);

#endif
