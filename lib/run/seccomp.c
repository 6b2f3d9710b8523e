#define _GNU_SOURCE
#include "run/seccomp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"

#ifndef CTR_DATADIR
#define CTR_DATADIR "/usr/local/share"
#endif

#define PROFILE_CTX "seccomp profile"
#define OCI_CTX "linux.seccomp"
#define MAX_ERRNO 4095 /* larger "errors" read as successful returns */
#define NARGS 6        /* syscall arguments a rule can compare */
#define MAX_CONDS 64   /* comparisons in one rule; real profiles use 1-2 */
#define SHOW 64        /* at most this much of a bad value in a message */

static void release_filter(scmp_filter_ctx *ctx) {
  if (*ctx != NULL)
    seccomp_release(*ctx);
}
#define cleanup_filter __attribute__((cleanup(release_filter)))

/* ---- names: actions, operators, architectures, flags ---- */

enum act_kind { ACT_PLAIN, ACT_WITH_RET, ACT_NOTIFY };

static const struct {
  const char *name;
  uint32_t act;
  enum act_kind kind;
} actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, ACT_PLAIN},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ACT_PLAIN},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ACT_PLAIN},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, ACT_PLAIN},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), ACT_WITH_RET},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), ACT_WITH_RET},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ACT_PLAIN},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, ACT_PLAIN},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ACT_NOTIFY},
};

static const struct {
  const char *name;
  enum scmp_compare op;
} operators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

/* Every architecture the formats name. token 0: this libseccomp lacks it.
 * go is Go's GOARCH (what moby's includes.arches compare with), uname the
 * kernel's and libseccomp's spelling; both are accepted in arches lists. */
static const struct arch_name {
  const char *scmp;
  uint32_t token;
  const char *go, *uname;
} arch_names[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86, "386", "x86"},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, "amd64", "x86_64"},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32, "x32", "x32"},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM, "arm", "arm"},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, "arm64", "aarch64"},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, "mips", "mips"},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, "mips64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, "mips64n32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, "mipsle", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, "mips64le", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, "mips64len32",
     "mipsel64n32"},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC, "ppc", "ppc"},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, "ppc64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, "ppc64le", "ppc64le"},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390, "s390", "s390"},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X, "s390x", "s390x"},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC, "parisc", "parisc"},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64, "parisc64", "parisc64"},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64, "riscv64", "riscv64"},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64, "loong64", "loongarch64"},
#else
    {"SCMP_ARCH_LOONGARCH64", 0, "loong64", "loongarch64"},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K", SCMP_ARCH_M68K, "m68k", "m68k"},
#else
    {"SCMP_ARCH_M68K", 0, "m68k", "m68k"},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH", SCMP_ARCH_SH, "sh", "sh"},
    {"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB, "sheb", "sheb"},
#else
    {"SCMP_ARCH_SH", 0, "sh", "sh"},
    {"SCMP_ARCH_SHEB", 0, "sheb", "sheb"},
#endif
};

/* The seccomp(2) filter flags we can honour, as libseccomp attributes. */
static const struct {
  const char *name;
  enum scmp_filter_attr attr;
} filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct arch_name *arch_by_scmp(const char *s) {
  for (size_t i = 0; i < NELEM(arch_names); i++)
    if (strcmp(arch_names[i].scmp, s) == 0)
      return &arch_names[i];
  return NULL;
}

static const struct arch_name *arch_by_token(uint32_t token) {
  for (size_t i = 0; i < NELEM(arch_names); i++)
    if (arch_names[i].token != 0 && arch_names[i].token == token)
      return &arch_names[i];
  return NULL;
}

/* ---- errors naming the field ---- */

/* "<ctx>: <where>.<field>: <why>", where may be "" (a top-level field). */
__attribute__((format(printf, 5, 6))) static int
bad(ctr_err *err, const char *ctx, const char *where, const char *field,
    const char *fmt, ...) {
  va_list ap;
  char *why = NULL;
  int rc;
  va_start(ap, fmt);
  rc = vasprintf(&why, fmt, ap);
  va_end(ap);
  if (rc < 0)
    return ctr_fail(err, ENOMEM, "%s", ctx);
  rc = ctr_fail(err, 0, "%s: %s%s%s: %s", ctx, where,
                *where && *field ? "." : "", field, why);
  free(why);
  return rc;
}

/* A JSON member that is absent or null counts as not given. */
static json_t *member(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_null(v) ? NULL : v;
}

/* A non-negative JSON integer no larger than max. */
static bool get_uint(const json_t *v, uint64_t max, uint64_t *out) {
  json_int_t i;
  if (!json_is_integer(v))
    return false;
  i = json_integer_value(v);
  if (i < 0 || (uint64_t)i > max)
    return false;
  *out = (uint64_t)i;
  return true;
}

/* A member that must be an array of strings when given; *out NULL if not. */
static int string_array(const char *ctx, const char *where, const json_t *obj,
                        const char *key, const json_t **out, ctr_err *err) {
  const json_t *a = member(obj, key), *v;
  size_t i;
  *out = NULL;
  if (a == NULL)
    return 0;
  if (!json_is_array(a))
    return bad(err, ctx, where, key, "not an array");
  json_array_foreach(a, i, v) {
    if (!json_is_string(v))
      return bad(err, ctx, where, key, "element %zu is not a string", i);
  }
  *out = a;
  return 0;
}

/* Every member of obj must be one of known (NULL-terminated): a misspelt
 * "args" or "includes" would otherwise widen a rule without a word. */
static int only_fields(const char *ctx, const char *where, const json_t *obj,
                       const char *const *known, ctr_err *err) {
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    size_t k;
    for (k = 0; known[k] != NULL && strcmp(known[k], key) != 0; k++)
      ;
    if (known[k] == NULL)
      return ctr_fail(err, 0, "%s: %s%sunknown field \"%.*s\"", ctx, where,
                      *where ? ": " : "", SHOW, key);
  }
  return 0;
}

static const char *const arg_fields[] = {"index", "value", "valueTwo", "op",
                                         NULL};
static const char *const oci_rule_fields[] = {"names", "action", "errnoRet",
                                              "args", NULL};
static const char *const oci_fields[] = {
    "defaultAction", "defaultErrnoRet",  "architectures", "flags",
    "listenerPath",  "listenerMetadata", "syscalls",      NULL};
static const char *const profile_rule_fields[] = {
    "name",     "names",    "action",  "errnoRet", "args",
    "includes", "excludes", "comment", NULL};
static const char *const profile_cond_fields[] = {"caps", "arches", "minKernel",
                                                  NULL};
static const char *const profile_archmap_fields[] = {
    "architecture", "subArchitectures", "comment", NULL};
static const char *const profile_fields[] = {
    "defaultAction", "defaultErrnoRet",  "architectures", "archMap", "flags",
    "listenerPath",  "listenerMetadata", "syscalls",      "comment", NULL};

/* ---- actions and argument comparisons (both formats) ---- */

/* The action named by obj[afield], with obj[rfield] as its errno or trace
 * message (EPERM when absent, as runc and crun do). */
static int parse_action(const char *ctx, const char *where, const json_t *obj,
                        const char *afield, const char *rfield, uint32_t *act,
                        ctr_err *err) {
  const json_t *name = member(obj, afield), *ret = member(obj, rfield);
  const char *s;
  uint64_t r = EPERM;
  size_t i;
  if (name == NULL)
    return bad(err, ctx, where, afield, "missing");
  if (!json_is_string(name))
    return bad(err, ctx, where, afield, "not a string");
  s = json_string_value(name);
  for (i = 0; i < NELEM(actions); i++)
    if (strcmp(actions[i].name, s) == 0)
      break;
  if (i == NELEM(actions))
    return bad(err, ctx, where, afield, "unknown action \"%.*s\"", SHOW, s);
  if (actions[i].kind == ACT_NOTIFY)
    return bad(err, ctx, where, afield,
               "SCMP_ACT_NOTIFY needs a seccomp agent, which ctr does not run");
  /* The errno must look like one to libc; a trace message has 16 bits.
   * With other actions the value means nothing but must still be sane. */
  if (ret != NULL &&
      !get_uint(ret, strcmp(s, "SCMP_ACT_ERRNO") == 0 ? MAX_ERRNO : 0xffff, &r))
    return bad(err, ctx, where, rfield, "not an integer from 0 to %d",
               strcmp(s, "SCMP_ACT_ERRNO") == 0 ? MAX_ERRNO : 0xffff);
  *act = actions[i].act;
  if (actions[i].kind == ACT_WITH_RET)
    *act |= (uint32_t)r;
  return 0;
}

/* SCMP_ACT_LOG and SCMP_ACT_KILL_PROCESS need kernel 4.14's seccomp(2)
 * (libseccomp API level 3); without it libseccomp only says EINVAL. */
static int check_supported(const char *ctx, const char *where,
                           const char *field, uint32_t act, ctr_err *err) {
  if ((act == SCMP_ACT_LOG || act == SCMP_ACT_KILL_PROCESS) &&
      seccomp_api_get() < 3)
    return bad(err, ctx, where, field,
               "%s is not supported by this kernel (seccomp API level %u)",
               act == SCMP_ACT_LOG ? "SCMP_ACT_LOG" : "SCMP_ACT_KILL_PROCESS",
               seccomp_api_get());
  return 0;
}

/* One {index, value, valueTwo, op} into c. */
static int parse_arg(const char *ctx, const char *where, const json_t *arg,
                     struct scmp_arg_cmp *c, ctr_err *err) {
  const json_t *index = member(arg, "index"), *op = member(arg, "op");
  const json_t *value = member(arg, "value"), *two = member(arg, "valueTwo");
  uint64_t idx, a = 0, b = 0;
  size_t i;
  if (!json_is_object(arg))
    return bad(err, ctx, where, "", "not an object");
  if (only_fields(ctx, where, arg, arg_fields, err) < 0)
    return -1;
  if (index == NULL)
    return bad(err, ctx, where, "index", "missing");
  if (!get_uint(index, NARGS - 1, &idx))
    return bad(err, ctx, where, "index", "not an integer from 0 to %d",
               NARGS - 1);
  if (value != NULL && !get_uint(value, UINT64_MAX, &a))
    return bad(err, ctx, where, "value", "not a non-negative integer");
  if (two != NULL && !get_uint(two, UINT64_MAX, &b))
    return bad(err, ctx, where, "valueTwo", "not a non-negative integer");
  if (op == NULL)
    return bad(err, ctx, where, "op", "missing");
  if (!json_is_string(op))
    return bad(err, ctx, where, "op", "not a string");
  for (i = 0; i < NELEM(operators); i++)
    if (strcmp(operators[i].name, json_string_value(op)) == 0)
      break;
  if (i == NELEM(operators))
    return bad(err, ctx, where, "op", "unknown operator \"%.*s\"", SHOW,
               json_string_value(op));
  /* For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum. */
  *c = (struct scmp_arg_cmp){
      .arg = (unsigned)idx, .op = operators[i].op, .datum_a = a, .datum_b = b};
  return 0;
}

/* A syscall rule of either format, checked. */
struct rule {
  const json_t *names; /* array of strings, not empty */
  uint32_t act;
  struct scmp_arg_cmp conds[MAX_CONDS];
  size_t nconds;
};

static int parse_args(const char *ctx, const char *where, const json_t *call,
                      struct rule *r, ctr_err *err) {
  const json_t *args = member(call, "args"), *arg;
  char at[64];
  size_t i;
  r->nconds = 0;
  if (args == NULL)
    return 0;
  if (!json_is_array(args))
    return bad(err, ctx, where, "args", "not an array");
  if (json_array_size(args) > MAX_CONDS)
    return bad(err, ctx, where, "args", "more than %d comparisons", MAX_CONDS);
  json_array_foreach(args, i, arg) {
    snprintf(at, sizeof(at), "%s.args[%zu]", where, i);
    if (parse_arg(ctx, at, arg, &r->conds[i], err) < 0)
      return -1;
  }
  r->nconds = json_array_size(args);
  return 0;
}

static int parse_names(const char *ctx, const char *where, const json_t *call,
                       struct rule *r, ctr_err *err) {
  if (string_array(ctx, where, call, "names", &r->names, err) < 0)
    return -1;
  if (r->names == NULL)
    return bad(err, ctx, where, "names", "missing");
  if (json_array_size(r->names) == 0)
    return bad(err, ctx, where, "names", "empty");
  return 0;
}

static int parse_rule(const char *ctx, const char *where, const json_t *call,
                      struct rule *r, ctr_err *err) {
  if (!json_is_object(call))
    return ctr_fail(err, 0, "%s: %s: not an object", ctx, where);
  if (only_fields(ctx, where, call, oci_rule_fields, err) < 0 ||
      parse_names(ctx, where, call, r, err) < 0 ||
      parse_action(ctx, where, call, "action", "errnoRet", &r->act, err) < 0 ||
      parse_args(ctx, where, call, r, err) < 0)
    return -1;
  return 0;
}

/* ---- Docker profile → OCI linux.seccomp ---- */

/* What the profile's conditions are decided against. */
struct target {
  const struct arch_name *arch; /* NULL: an architecture we cannot name */
  int kernel_major, kernel_minor;
  const char *const *caps;
  size_t ncaps;
};

static void target_init(struct target *t, const char *const *caps,
                        size_t ncaps) {
  struct utsname u;
  t->arch = arch_by_token(seccomp_arch_native());
  t->kernel_major = t->kernel_minor = 0;
  if (uname(&u) == 0 &&
      sscanf(u.release, "%d.%d", &t->kernel_major, &t->kernel_minor) != 2)
    t->kernel_major = t->kernel_minor = 0;
  t->caps = caps;
  t->ncaps = ncaps;
}

static const char *cap_base(const char *c) {
  return strncasecmp(c, "CAP_", 4) == 0 ? c + 4 : c;
}

static bool has_cap(const struct target *t, const char *cap) {
  for (size_t i = 0; i < t->ncaps; i++)
    if (t->caps[i] != NULL &&
        strcasecmp(cap_base(t->caps[i]), cap_base(cap)) == 0)
      return true;
  return false;
}

static bool is_native_arch(const struct target *t, const char *name) {
  return t->arch != NULL &&
         (strcmp(name, t->arch->scmp) == 0 || strcmp(name, t->arch->go) == 0 ||
          strcmp(name, t->arch->uname) == 0);
}

/* A condition block (includes or excludes), checked, with its verdicts:
 * all_caps: every listed cap is held; any_cap: one is; arch: the native
 * architecture is listed; kernel: the running kernel is >= minKernel.
 * Unlisted parts are marked absent. */
struct cond_block {
  bool has_caps, has_arches, has_kernel;
  bool all_caps, any_cap, arch, kernel;
};

static int parse_min_kernel(const char *ctx, const char *where, const json_t *v,
                            const struct target *t, bool *at_least,
                            ctr_err *err) {
  const char *s, *p;
  int major = 0, minor = 0;
  if (!json_is_string(v))
    return bad(err, ctx, where, "minKernel", "not a string");
  s = p = json_string_value(v);
  /* Exactly "MAJOR.MINOR", as moby reads it. */
  while (*p >= '0' && *p <= '9' && major < 1000)
    major = major * 10 + (*p++ - '0');
  if (p == s || *p++ != '.' || *p < '0' || *p > '9')
    p = NULL;
  while (p != NULL && *p >= '0' && *p <= '9' && minor < 1000)
    minor = minor * 10 + (*p++ - '0');
  if (p == NULL || *p != '\0')
    return bad(err, ctx, where, "minKernel",
               "\"%.*s\" is not a kernel version like \"5.8\"", SHOW, s);
  *at_least = t->kernel_major > major ||
              (t->kernel_major == major && t->kernel_minor >= minor);
  return 0;
}

static int parse_cond_block(const char *ctx, const char *where,
                            const json_t *call, const char *key,
                            const struct target *t, struct cond_block *b,
                            ctr_err *err) {
  const json_t *blk = member(call, key), *caps, *arches, *v;
  char at[64];
  size_t i;
  *b = (struct cond_block){.all_caps = true};
  if (blk == NULL)
    return 0;
  snprintf(at, sizeof(at), "%s.%s", where, key);
  if (!json_is_object(blk))
    return bad(err, ctx, where, key, "not an object");
  if (only_fields(ctx, at, blk, profile_cond_fields, err) < 0)
    return -1;
  if (string_array(ctx, at, blk, "caps", &caps, err) < 0 ||
      string_array(ctx, at, blk, "arches", &arches, err) < 0)
    return -1;
  b->has_caps = caps != NULL && json_array_size(caps) > 0;
  json_array_foreach(caps, i, v) {
    bool held = has_cap(t, json_string_value(v));
    b->all_caps = b->all_caps && held;
    b->any_cap = b->any_cap || held;
  }
  b->has_arches = arches != NULL && json_array_size(arches) > 0;
  json_array_foreach(arches, i, v) {
    b->arch = b->arch || is_native_arch(t, json_string_value(v));
  }
  v = member(blk, "minKernel");
  b->has_kernel = v != NULL;
  if (v != NULL && parse_min_kernel(ctx, at, v, t, &b->kernel, err) < 0)
    return -1;
  return 0;
}

/* Whether a profile rule applies to the target (moby's semantics). */
static int rule_applies(const char *where, const json_t *call,
                        const struct target *t, bool *applies, ctr_err *err) {
  struct cond_block inc, exc;
  if (parse_cond_block(PROFILE_CTX, where, call, "includes", t, &inc, err) <
          0 ||
      parse_cond_block(PROFILE_CTX, where, call, "excludes", t, &exc, err) < 0)
    return -1;
  *applies = !(exc.has_caps && exc.any_cap) && !(exc.has_arches && exc.arch) &&
             !(exc.has_kernel && exc.kernel) &&
             !(inc.has_caps && !inc.all_caps) &&
             !(inc.has_arches && !inc.arch) && !(inc.has_kernel && !inc.kernel);
  return 0;
}

/* The old single "name" is accepted for "names", but not both. */
static int profile_names(const char *where, const json_t *call, json_t **names,
                         ctr_err *err) {
  const json_t *one = member(call, "name");
  if (one != NULL) {
    if (member(call, "names") != NULL)
      return bad(err, PROFILE_CTX, where, "name",
                 "use either \"name\" or \"names\", not both");
    if (!json_is_string(one) || json_string_length(one) == 0)
      return bad(err, PROFILE_CTX, where, "name", "not a non-empty string");
    *names = json_pack("[O]", one);
  } else {
    struct rule r;
    if (parse_names(PROFILE_CTX, where, call, &r, err) < 0)
      return -1;
    *names = json_deep_copy(r.names);
  }
  if (*names == NULL)
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  return 0;
}

/* The rule's checked comparisons as OCI args of o. */
static int profile_args(const json_t *call, const struct rule *r, json_t *o) {
  const json_t *args = member(call, "args");
  json_t *list = json_array();
  if (list == NULL || json_object_set_new(o, "args", list) < 0)
    return -1;
  for (size_t i = 0; i < r->nconds; i++) {
    json_t *a =
        json_pack("{s:I,s:I,s:I,s:O}", "index", (json_int_t)r->conds[i].arg,
                  "value", (json_int_t)r->conds[i].datum_a, "valueTwo",
                  (json_int_t)r->conds[i].datum_b, "op",
                  json_object_get(json_array_get(args, i), "op"));
    if (json_array_append_new(list, a) < 0)
      return -1;
  }
  return 0;
}

/* One profile rule, checked, as an OCI rule in *out (NULL when it does not
 * apply here). */
static int profile_rule(size_t idx, const json_t *call, const struct target *t,
                        json_t **out, ctr_err *err) {
  cleanup_json json_t *names = NULL, *o = NULL;
  const json_t *ret;
  struct rule r;
  char where[32];
  bool applies;
  *out = NULL;
  snprintf(where, sizeof(where), "syscalls[%zu]", idx);
  if (!json_is_object(call))
    return ctr_fail(err, 0, PROFILE_CTX ": %s: not an object", where);
  if (only_fields(PROFILE_CTX, where, call, profile_rule_fields, err) < 0 ||
      profile_names(where, call, &names, err) < 0 ||
      parse_action(PROFILE_CTX, where, call, "action", "errnoRet", &r.act,
                   err) < 0 ||
      parse_args(PROFILE_CTX, where, call, &r, err) < 0 ||
      rule_applies(where, call, t, &applies, err) < 0)
    return -1;
  if (!applies)
    return 0;
  o = json_pack("{s:O,s:O}", "names", names, "action", member(call, "action"));
  ret = member(call, "errnoRet");
  if (o == NULL ||
      (ret != NULL && json_object_set(o, "errnoRet", (json_t *)ret) < 0))
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  if (r.nconds > 0 && profile_args(call, &r, o) < 0)
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  *out = ctr_steal(o);
  return 0;
}

static int append_unique(json_t *list, const char *s) {
  const json_t *v;
  size_t i;
  json_array_foreach(list, i, v) {
    if (strcmp(json_string_value(v), s) == 0)
      return 0;
  }
  return json_array_append_new(list, json_string(s));
}

/* "architectures" (kept as given) or the archMap entry for the native
 * architecture and its sub-architectures. */
static int profile_arches(const json_t *prof, const struct target *t,
                          json_t *out, ctr_err *err) {
  const json_t *list, *map = member(prof, "archMap"), *ent, *v;
  size_t i, j;
  if (string_array(PROFILE_CTX, "", prof, "architectures", &list, err) < 0)
    return -1;
  if (map != NULL && !json_is_array(map))
    return bad(err, PROFILE_CTX, "", "archMap", "not an array");
  if (json_array_size(list) > 0 && json_array_size(map) > 0)
    return bad(err, PROFILE_CTX, "", "archMap",
               "use either \"architectures\" or \"archMap\", not both");
  json_array_foreach(list, i, v) {
    if (append_unique(out, json_string_value(v)) < 0)
      return ctr_fail(err, ENOMEM, PROFILE_CTX);
  }
  json_array_foreach(map, i, ent) {
    const json_t *arch = member(ent, "architecture"), *subs;
    char at[32];
    snprintf(at, sizeof(at), "archMap[%zu]", i);
    if (!json_is_object(ent))
      return ctr_fail(err, 0, PROFILE_CTX ": %s: not an object", at);
    if (only_fields(PROFILE_CTX, at, ent, profile_archmap_fields, err) < 0)
      return -1;
    if (!json_is_string(arch))
      return bad(err, PROFILE_CTX, at, "architecture",
                 "missing or not a string");
    if (string_array(PROFILE_CTX, at, ent, "subArchitectures", &subs, err) < 0)
      return -1;
    if (t->arch == NULL || strcmp(json_string_value(arch), t->arch->scmp) != 0)
      continue;
    if (append_unique(out, json_string_value(arch)) < 0)
      return ctr_fail(err, ENOMEM, PROFILE_CTX);
    json_array_foreach(subs, j, v) {
      if (append_unique(out, json_string_value(v)) < 0)
        return ctr_fail(err, ENOMEM, PROFILE_CTX);
    }
  }
  return 0;
}

/* flags, listenerPath, listenerMetadata: checked here and at compile. */
static int check_flags_listener(const char *ctx, const json_t *obj,
                                const json_t **flags, ctr_err *err) {
  const json_t *v, *path = member(obj, "listenerPath");
  const json_t *meta = member(obj, "listenerMetadata");
  size_t i, k;
  if (string_array(ctx, "", obj, "flags", flags, err) < 0)
    return -1;
  json_array_foreach(*flags, i, v) {
    for (k = 0; k < NELEM(filter_flags); k++)
      if (strcmp(filter_flags[k].name, json_string_value(v)) == 0)
        break;
    if (k == NELEM(filter_flags))
      return bad(err, ctx, "", "flags", "unsupported flag \"%.*s\"", SHOW,
                 json_string_value(v));
  }
  if (path != NULL && !json_is_string(path))
    return bad(err, ctx, "", "listenerPath", "not a string");
  if (path != NULL && json_string_length(path) > 0)
    return bad(err, ctx, "", "listenerPath",
               "seccomp agents (SCMP_ACT_NOTIFY) are not supported");
  if (meta != NULL && !json_is_string(meta))
    return bad(err, ctx, "", "listenerMetadata", "not a string");
  return 0;
}

static int profile_header(const json_t *prof, const struct target *t,
                          json_t *oci, ctr_err *err) {
  cleanup_json json_t *arches = json_array();
  const json_t *flags;
  uint32_t act;
  if (arches == NULL)
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  if (only_fields(PROFILE_CTX, "", prof, profile_fields, err) < 0 ||
      parse_action(PROFILE_CTX, "", prof, "defaultAction", "defaultErrnoRet",
                   &act, err) < 0 ||
      profile_arches(prof, t, arches, err) < 0 ||
      check_flags_listener(PROFILE_CTX, prof, &flags, err) < 0)
    return -1;
  if (json_object_set(oci, "defaultAction", member(prof, "defaultAction")) <
          0 ||
      (member(prof, "defaultErrnoRet") != NULL &&
       json_object_set(oci, "defaultErrnoRet",
                       member(prof, "defaultErrnoRet")) < 0) ||
      (json_array_size(arches) > 0 &&
       json_object_set(oci, "architectures", arches) < 0) ||
      (json_array_size(flags) > 0 &&
       json_object_set_new(oci, "flags", json_deep_copy(flags)) < 0))
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  return 0;
}

int run_seccomp_from_profile(const char *buf, size_t len,
                             const char *const *caps, size_t ncaps,
                             json_t **oci, ctr_err *err) {
  cleanup_json json_t *prof = NULL, *out = json_object(), *calls = json_array();
  const json_t *list, *call;
  struct target t;
  size_t i;
  if (out == NULL || calls == NULL)
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  if (ctr_json_parse_object(buf, len, PROFILE_CTX, &prof, err) < 0)
    return -1;
  target_init(&t, caps, ncaps);
  if (profile_header(prof, &t, out, err) < 0)
    return -1;
  list = member(prof, "syscalls");
  if (list != NULL && !json_is_array(list))
    return bad(err, PROFILE_CTX, "", "syscalls", "not an array");
  json_array_foreach(list, i, call) {
    json_t *rule;
    if (profile_rule(i, call, &t, &rule, err) < 0)
      return -1;
    if (rule != NULL && json_array_append_new(calls, rule) < 0)
      return ctr_fail(err, ENOMEM, PROFILE_CTX);
  }
  if (json_object_set(out, "syscalls", calls) < 0)
    return ctr_fail(err, ENOMEM, PROFILE_CTX);
  *oci = ctr_steal(out);
  return 0;
}

/* ---- OCI linux.seccomp → libseccomp filter ---- */

static int filter_arches(scmp_filter_ctx ctx, const json_t *oci, ctr_err *err) {
  const json_t *list, *v;
  size_t i;
  if (string_array(OCI_CTX, "", oci, "architectures", &list, err) < 0)
    return -1;
  json_array_foreach(list, i, v) {
    const struct arch_name *a = arch_by_scmp(json_string_value(v));
    int rc;
    if (a == NULL)
      return bad(err, OCI_CTX, "", "architectures",
                 "unknown architecture \"%.*s\"", SHOW, json_string_value(v));
    if (a->token == 0)
      return bad(err, OCI_CTX, "", "architectures",
                 "%s is not supported by this libseccomp", a->scmp);
    rc = seccomp_arch_add(ctx, a->token);
    if (rc < 0 && rc != -EEXIST)
      return ctr_fail(err, -rc, OCI_CTX ": add architecture %s", a->scmp);
  }
  return 0;
}

static int filter_attrs(scmp_filter_ctx ctx, const json_t *oci, ctr_err *err) {
  const json_t *flags, *v;
  size_t i, k;
  int rc;
  /* Never set no_new_privs behind the caller's back (Docker sets it only
   * when asked); report the kernel's errno from seccomp_load, not
   * libseccomp's generic ECANCELED. */
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
      (rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) < 0)
    return ctr_fail(err, -rc, OCI_CTX ": set filter attributes");
  if (check_flags_listener(OCI_CTX, oci, &flags, err) < 0)
    return -1;
  json_array_foreach(flags, i, v) {
    for (k = 0; strcmp(filter_flags[k].name, json_string_value(v)) != 0; k++)
      ;
    if ((rc = seccomp_attr_set(ctx, filter_flags[k].attr, 1)) < 0)
      return ctr_fail(err, -rc, OCI_CTX ": flags: %s", filter_flags[k].name);
  }
  return 0;
}

/* libseccomp takes one comparison per argument in a rule; when a rule
 * compares one argument twice, each comparison becomes its own rule (an
 * OR), as runc does. */
static bool repeats_an_index(const struct rule *r) {
  unsigned seen = 0;
  for (size_t i = 0; i < r->nconds; i++) {
    if (seen & (1u << r->conds[i].arg))
      return true;
    seen |= 1u << r->conds[i].arg;
  }
  return false;
}

static int filter_rule(scmp_filter_ctx ctx, const char *where,
                       const struct rule *r, ctr_err *err) {
  bool split = repeats_an_index(r);
  const json_t *v;
  size_t i;
  json_array_foreach(r->names, i, v) {
    const char *name = json_string_value(v);
    int nr = seccomp_syscall_resolve_name(name), rc = 0;
    if (nr == __NR_SCMP_ERROR) {
      ctr_debug("seccomp: %s: no syscall \"%s\" here, skipped", where, name);
      continue;
    }
    if (!split)
      rc = seccomp_rule_add_array(ctx, r->act, nr, (unsigned)r->nconds,
                                  r->nconds > 0 ? r->conds : NULL);
    for (size_t c = 0; split && rc == 0 && c < r->nconds; c++)
      rc = seccomp_rule_add_array(ctx, r->act, nr, 1, &r->conds[c]);
    if (rc < 0)
      return ctr_fail(err, -rc, OCI_CTX ": %s: rule for %.*s", where, SHOW,
                      name);
  }
  return 0;
}

static int filter_rules(scmp_filter_ctx ctx, const json_t *oci,
                        uint32_t default_act, ctr_err *err) {
  const json_t *list = member(oci, "syscalls"), *call;
  size_t i;
  if (list != NULL && !json_is_array(list))
    return bad(err, OCI_CTX, "", "syscalls", "not an array");
  json_array_foreach(list, i, call) {
    struct rule r;
    char where[32];
    snprintf(where, sizeof(where), "syscalls[%zu]", i);
    if (parse_rule(OCI_CTX, where, call, &r, err) < 0 ||
        check_supported(OCI_CTX, where, "action", r.act, err) < 0)
      return -1;
    /* libseccomp refuses rules that repeat the default; they change
     * nothing anyway. */
    if (r.act != default_act && filter_rule(ctx, where, &r, err) < 0)
      return -1;
  }
  return 0;
}

int run_seccomp_compile(const json_t *oci, scmp_filter_ctx *out, ctr_err *err) {
  cleanup_filter scmp_filter_ctx ctx = NULL;
  uint32_t def;
  if (!json_is_object(oci))
    return ctr_fail(err, 0, OCI_CTX ": not an object");
  if (only_fields(OCI_CTX, "", oci, oci_fields, err) < 0 ||
      parse_action(OCI_CTX, "", oci, "defaultAction", "defaultErrnoRet", &def,
                   err) < 0 ||
      check_supported(OCI_CTX, "", "defaultAction", def, err) < 0)
    return -1;
  ctx = seccomp_init(def);
  if (ctx == NULL)
    return ctr_fail(err, ENOMEM, OCI_CTX ": create filter");
  if (filter_attrs(ctx, oci, err) < 0 || filter_arches(ctx, oci, err) < 0 ||
      filter_rules(ctx, oci, def, err) < 0)
    return -1;
  *out = ctr_steal(ctx);
  return 0;
}

int run_seccomp_install(const json_t *oci, ctr_err *err) {
  cleanup_filter scmp_filter_ctx ctx = NULL;
  int rc;
  if (run_seccomp_compile(oci, &ctx, err) < 0)
    return -1;
  rc = seccomp_load(ctx);
  if (rc == -EACCES)
    return ctr_fail(err, EACCES,
                    "load seccomp filter (needs no_new_privs or "
                    "CAP_SYS_ADMIN)");
  if (rc < 0)
    return ctr_fail(err, -rc, "load seccomp filter");
  return 0;
}

/* ---- where the default profile is ---- */

#define PROFILE_IN_TREE "share/seccomp/default.json"
#define TREE_MARKER "lib/run/seccomp.h"
#define PROFILE_INSTALLED CTR_DATADIR "/ctr/seccomp/default.json"

/* TREE for a binary at TREE/BUILD/DIR/prog, if it looks like our source
 * tree; "" otherwise. */
static void source_tree(char *tree, size_t size) {
  char exe[PATH_MAX], marker[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  tree[0] = '\0';
  if (n <= 0)
    return;
  exe[n] = '\0';
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (slash == NULL || slash == exe)
      return;
    *slash = '\0';
  }
  snprintf(marker, sizeof(marker), "%s/" TREE_MARKER, exe);
  if (access(marker, F_OK) == 0 && strlen(exe) < size)
    snprintf(tree, size, "%s", exe);
}

int run_seccomp_default_path(char **path, ctr_err *err) {
  const char *env = getenv("CTR_SECCOMP_PROFILE");
  char tree[PATH_MAX], cand[PATH_MAX + 32] = "";
  if (env != NULL && *env != '\0') {
    if (access(env, R_OK) < 0)
      return ctr_fail(err, errno, "seccomp profile CTR_SECCOMP_PROFILE=%s",
                      env);
    *path = strdup(env);
  } else {
    source_tree(tree, sizeof(tree));
    if (tree[0] != '\0')
      snprintf(cand, sizeof(cand), "%s/" PROFILE_IN_TREE, tree);
    if (cand[0] != '\0' && access(cand, R_OK) == 0)
      *path = strdup(cand);
    else if (access(PROFILE_INSTALLED, R_OK) == 0)
      *path = strdup(PROFILE_INSTALLED);
    else
      return ctr_fail(err, ENOENT,
                      "default seccomp profile: not in %s%s" PROFILE_INSTALLED
                      " (set CTR_SECCOMP_PROFILE)",
                      cand, cand[0] != '\0' ? " nor " : "");
  }
  if (*path == NULL)
    return ctr_fail(err, ENOMEM, "default seccomp profile");
  return 0;
}
