#define _GNU_SOURCE
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "inroot.h"
#include "envopt.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const char *const run_default_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE",  NULL,
};

static const char *const masked_paths[] = {
    "/proc/asound",        "/proc/acpi",        "/proc/kcore",
    "/proc/keys",          "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats",   "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",       "/sys/devices/virtual/powercap", NULL,
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

int run_cap_canonical(const char *name, char *out, size_t len) {
  cap_value_t v;
  char buf[64];
  if (strcasecmp(name, "ALL") == 0) {
    snprintf(out, len, "ALL");
    return 0;
  }
  if (strncasecmp(name, "CAP_", 4) == 0)
    name += 4;
  if (strlen(name) >= sizeof(buf) - 4)
    return -1;
  snprintf(buf, sizeof(buf), "cap_%s", name);
  for (char *p = buf; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  if (cap_from_name(buf, &v) != 0)
    return -1;
  snprintf(out, len, "CAP_%s", name);
  for (char *p = out; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  return 0;
}

static bool in_list(const json_t *arr, const char *s) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                    strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

/* Every capability we hold in our bounding set, for --privileged and
 * --cap-add ALL: more cannot be granted (a host may withhold some). */
static json_t *all_caps(void) {
  json_t *a = json_array();
  for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
    char *n;
    if (prctl(PR_CAPBSET_READ, v, 0, 0, 0) != 1)
      continue;
    n = cap_to_name(v);
    if (n == NULL)
      continue;
    for (char *p = n; *p; p++)
      *p = (char)toupper((unsigned char)*p);
    json_array_append_new(a, json_string(n));
    cap_free(n);
  }
  return a;
}

/* docker's rule: with --cap-drop ALL, only the added ones; otherwise the
 * defaults plus the added, less the dropped. */
static int cap_set(const struct run_opts *o, json_t **out, ctr_err *err) {
  json_t *caps = NULL;
  bool drop_all = false, add_all = false;
  size_t i;
  json_t *v;
  char c[64];
  json_array_foreach(o->cap_drop, i, v) {
    if (run_cap_canonical(json_string_value(v), c, sizeof(c)) < 0)
      return ctr_usage(err, "unknown capability: %s", json_string_value(v));
    drop_all |= strcmp(c, "ALL") == 0;
  }
  json_array_foreach(o->cap_add, i, v) {
    if (run_cap_canonical(json_string_value(v), c, sizeof(c)) < 0)
      return ctr_usage(err, "unknown capability: %s", json_string_value(v));
    add_all |= strcmp(c, "ALL") == 0;
  }
  if (o->privileged || add_all) {
    caps = all_caps();
  } else {
    caps = json_array();
    if (!drop_all)
      for (const char *const *d = run_default_caps; *d; d++)
        json_array_append_new(caps, json_string(*d));
  }
  /* drops apply to the defaults and to "ALL" alike (not to --privileged) */
  if (!o->privileged && !drop_all)
    json_array_foreach(o->cap_drop, i, v) {
      run_cap_canonical(json_string_value(v), c, sizeof(c));
      for (size_t k = json_array_size(caps); k-- > 0;)
        if (strcmp(json_string_value(json_array_get(caps, k)), c) == 0)
          json_array_remove(caps, k);
    }
  json_array_foreach(o->cap_add, i, v) {
    run_cap_canonical(json_string_value(v), c, sizeof(c));
    if (strcmp(c, "ALL") != 0 && !in_list(caps, c))
      json_array_append_new(caps, json_string(c));
  }
  *out = caps;
  return 0;
}

int run_spec_args(const struct run_opts *o, const json_t *image_config,
                  json_t **args, ctr_err *err) {
  const json_t *ep = o->entrypoint ? o->entrypoint
                                   : json_object_get(image_config, "Entrypoint");
  const json_t *cmd = json_array_size(o->cmd) > 0 ? o->cmd
                      : o->entrypoint ? NULL
                                      : json_object_get(image_config, "Cmd");
  json_t *a = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(ep, i, v) if (json_is_string(v)) json_array_append(a, v);
  json_array_foreach(cmd, i, v) if (json_is_string(v)) json_array_append(a, v);
  /* An empty --entrypoint "" clears it, as in docker. */
  if (json_array_size(a) > 0 && strcmp(json_string_value(json_array_get(a, 0)), "") == 0)
    json_array_remove(a, 0);
  if (json_array_size(a) == 0) {
    json_decref(a);
    return ctr_usage(err, "no command specified (the image has none)");
  }
  *args = a;
  return 0;
}

static bool env_has(const json_t *env, const char *key) {
  size_t klen = strcspn(key, "="), i;
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
      return true;
  }
  return false;
}

/* Later settings win: image, then --env-file/-e; PATH and HOSTNAME as
 * docker sets them. */
static json_t *make_env(const struct run_spec_in *in, const char *hostname) {
  json_t *env = json_array(), *v;
  size_t i;
  char buf[512];
  snprintf(buf, sizeof(buf), "HOSTNAME=%s", hostname);
  json_array_append_new(env, json_string(DEFAULT_PATH));
  json_array_append_new(env, json_string(buf));
  json_array_foreach(json_object_get(in->image_config, "Env"), i, v) if (
      json_is_string(v) && strchr(json_string_value(v), '='))
      run_env_set(env, json_string_value(v));
  json_array_foreach(in->opts->env, i, v) run_env_set(env, json_string_value(v));
  if (in->opts->tty && !env_has(env, "TERM="))
    json_array_append_new(env, json_string("TERM=xterm"));
  if (in->user->home != NULL && !env_has(env, "HOME=")) {
    snprintf(buf, sizeof(buf), "HOME=%s", in->user->home);
    json_array_append_new(env, json_string(buf));
  }
  return env;
}

static json_t *mount_entry(const char *dst, const char *type, const char *src,
                           const char *opts_csv) {
  json_t *o = json_array();
  cleanup_free char *copy = strdup(opts_csv);
  char *save = NULL;
  for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(o, json_string(t));
  return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type,
                   "source", src, "options", o);
}

static void drop_mount(json_t *mounts, const char *dst) {
  for (size_t i = json_array_size(mounts); i-- > 0;)
    if (strcmp(ctr_json_str(json_array_get(mounts, i), "destination"), dst) == 0)
      json_array_remove(mounts, i);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_mount(const json_t *mounts, const char *dst) {
  size_t i;
  json_t *m;
  json_array_foreach(mounts, i, m) {
    if (strcmp(ctr_json_str(m, "destination"), dst) == 0)
      return true;
  }
  return false;
}

/* An anonymous volume at dst (clean), named from in->anon_names. */
static int add_anonymous(const struct run_spec_in *in, json_t *mounts, const char *dst,
                         ctr_err *err) {
  size_t used = json_array_size(in->anon_used);
  const char *name = json_string_value(json_array_get(in->anon_names, used));
  cleanup_free char *src = NULL;
  if (name == NULL || in->anon_used == NULL)
    return ctr_fail(err, 0, "volume %s: no name for an anonymous volume", dst);
  if (asprintf(&src, "%s/%s/_data", in->volumes_dir, name) < 0)
    return ctr_fail(err, ENOMEM, "volume %s", dst);
  drop_mount(mounts, dst);
  json_array_append_new(mounts, mount_entry(dst, "bind", src, "rbind,rprivate"));
  json_array_append_new(in->anon_used, json_string(name));
  return 0;
}

size_t run_spec_anon_max(const struct run_opts *o, const json_t *image_config) {
  size_t i, n = json_object_size(json_object_get(image_config, "Volumes"));
  json_t *v;
  json_array_foreach(o->volumes, i, v) {
    if (strchr(json_string_value(v), ':') == NULL)
      n++;
  }
  return n;
}

static int add_volume(const struct run_spec_in *in, json_t *mounts,
                      const char *spec, ctr_err *err) {
  cleanup_free char *copy = strdup(spec);
  cleanup_free char *src = NULL;
  cleanup_free char *clean = NULL;
  char *dst, *mode;
  bool ro = false;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "-v %s", spec);
  dst = strchr(copy, ':');
  if (dst == NULL && copy[0] == '/') {
    /* -v /path: an anonymous volume */
    clean = run_path_clean(copy);
    if (clean == NULL)
      return ctr_fail(err, ENOMEM, "-v %s", spec);
    if (strcmp(clean, "/") == 0)
      return ctr_usage(err, "-v %s: cannot mount over the container's root", spec);
    return add_anonymous(in, mounts, clean, err);
  }
  if (dst == NULL || dst == copy || dst[1] != '/')
    return ctr_usage(err, "-v %s: want HOST-PATH:CONTAINER-PATH[:ro] or NAME:CONTAINER-PATH[:ro]", spec);
  *dst++ = '\0';
  mode = strchr(dst, ':');
  if (mode != NULL) {
    *mode++ = '\0';
    if (strcmp(mode, "ro") == 0)
      ro = true;
    else if (strcmp(mode, "rw") != 0)
      return ctr_usage(err, "-v %s: unknown mode '%s' (ro or rw)", spec, mode);
  }
  clean = run_path_clean(dst);
  if (clean == NULL)
    return ctr_fail(err, ENOMEM, "-v %s", spec);
  if (strcmp(clean, "/") == 0)
    return ctr_usage(err, "-v %s: cannot mount over the container's root", spec);
  dst = clean;
  if (copy[0] == '/') {
    src = strdup(copy);
  } else {
    /* A named volume: a directory of its own under $CTR_ROOT/volumes,
     * named as docker names them, so it cannot climb out of there. */
    bool ok = isalnum((unsigned char)copy[0]) && strlen(copy) >= 2;
    for (const char *p = copy; ok && *p; p++)
      ok = isalnum((unsigned char)*p) || strchr("_.-", *p);
    if (!ok)
      return ctr_usage(err, "-v %s: invalid volume name '%s' (want [a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                       spec, copy);
    if (asprintf(&src, "%s/%s/_data", in->volumes_dir, copy) < 0)
      src = NULL;
  }
  if (src == NULL)
    return ctr_fail(err, ENOMEM, "-v %s", spec);
  drop_mount(mounts, dst);
  json_array_append_new(mounts, mount_entry(dst, "bind", src, ro ? "rbind,ro,rprivate" : "rbind,rprivate"));
  return 0;
}

static int add_tmpfs(json_t *mounts, const char *spec, ctr_err *err) {
  cleanup_free char *copy = strdup(spec);
  cleanup_free char *opts = NULL;
  cleanup_free char *clean = NULL;
  char *colon;
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "--tmpfs %s", spec);
  colon = strchr(copy, ':');
  if (colon != NULL)
    *colon++ = '\0';
  clean = copy[0] == '/' ? run_path_clean(copy) : NULL;
  if (clean == NULL || strcmp(clean, "/") == 0)
    return ctr_usage(err, "--tmpfs %s: want an absolute path other than /", spec);
  if (asprintf(&opts, "nosuid,nodev,noexec%s%s", colon && *colon ? "," : "",
               colon ? colon : "") < 0)
    return ctr_fail(err, ENOMEM, "--tmpfs");
  drop_mount(mounts, clean);
  json_array_append_new(mounts, mount_entry(clean, "tmpfs", "tmpfs", opts));
  return 0;
}

static json_t *default_mounts(const struct run_spec_in *in) {
  const struct run_opts *o = in->opts;
  char path[4096];
  json_t *m = json_array();
  json_array_append_new(m, mount_entry("/proc", "proc", "proc", "nosuid,noexec,nodev"));
  json_array_append_new(m, mount_entry("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
  json_array_append_new(m, mount_entry("/dev/pts", "devpts", "devpts",
                                       "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
  json_array_append_new(m, mount_entry("/sys", "sysfs", "sysfs",
                                       o->privileged ? "nosuid,noexec,nodev" : "nosuid,noexec,nodev,ro"));
  json_array_append_new(m, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup",
                                       o->privileged ? "nosuid,noexec,nodev,relatime" : "nosuid,noexec,nodev,relatime,ro"));
  json_array_append_new(m, mount_entry("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
  json_array_append_new(m, mount_entry("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
  for (const char *const *f = (const char *const[]){"resolv.conf", "hostname", "hosts", NULL}; *f; f++) {
    char dst[64];
    snprintf(path, sizeof(path), "%s/%s", in->container_dir, *f);
    snprintf(dst, sizeof(dst), "/etc/%s", *f);
    json_array_append_new(m, mount_entry(dst, "bind", path, "rbind,rprivate"));
  }
  return m;
}

static json_t *str_array(const char *const *v) {
  json_t *a = json_array();
  for (; *v; v++)
    json_array_append_new(a, json_string(*v));
  return a;
}

static json_t *device_rules(bool privileged) {
  static const struct {
    const char *type;
    int major, minor;
  } allow[] = {{"c", 1, 3}, {"c", 1, 5}, {"c", 1, 7}, {"c", 1, 8}, {"c", 1, 9},
               {"c", 5, 0}, {"c", 5, 1}, {"c", 5, 2}, {"c", 136, -1}};
  json_t *r = json_array();
  if (privileged) {
    json_array_append_new(r, json_pack("{s:b, s:s}", "allow", 1, "access", "rwm"));
    return r;
  }
  json_array_append_new(r, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
  /* mknod of any node is allowed; using one is not, as in docker. */
  json_array_append_new(r, json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "c", "access", "m"));
  json_array_append_new(r, json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "b", "access", "m"));
  for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++) {
    json_t *d = json_pack("{s:b, s:s, s:I, s:s}", "allow", 1, "type", allow[i].type,
                          "major", (json_int_t)allow[i].major, "access", "rwm");
    if (allow[i].minor >= 0)
      json_object_set_new(d, "minor", json_integer(allow[i].minor));
    json_array_append_new(r, d);
  }
  return r;
}

static json_t *resources(const struct run_opts *o) {
  json_t *r = json_pack("{s:o}", "devices", device_rules(o->privileged));
  json_t *mem = json_object(), *cpu = json_object();
  if (o->memory > 0)
    json_object_set_new(mem, "limit", json_integer(o->memory));
  if (o->memory_swap != 0)
    json_object_set_new(mem, "swap", json_integer(o->memory_swap));
  else if (o->memory > 0)
    json_object_set_new(mem, "swap", json_integer(o->memory * 2)); /* docker's default */
  if (o->memory_reservation > 0)
    json_object_set_new(mem, "reservation", json_integer(o->memory_reservation));
  if (o->cpu_shares > 0)
    json_object_set_new(cpu, "shares", json_integer((json_int_t)o->cpu_shares));
  if (o->cpu_quota > 0) {
    json_object_set_new(cpu, "quota", json_integer(o->cpu_quota));
    json_object_set_new(cpu, "period", json_integer((json_int_t)(o->cpu_period ? o->cpu_period : 100000)));
  }
  if (json_object_size(mem) > 0)
    json_object_set(r, "memory", mem);
  if (json_object_size(cpu) > 0)
    json_object_set(r, "cpu", cpu);
  json_decref(mem);
  json_decref(cpu);
  if (o->pids_limit != 0)
    json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids_limit));
  return r;
}

static json_t *namespaces(const struct run_spec_in *in) {
  const struct run_opts *o = in->opts;
  json_t *ns = json_array();
  const char *kinds[] = {"pid", "ipc", "uts", "mount", "cgroup", NULL};
  for (const char *const *k = kinds; *k; k++)
    json_array_append_new(ns, json_pack("{s:s}", "type", *k));
  if (o->network == NULL || strcmp(o->network, "host") != 0)
    json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
  if (in->uid_count > 0)
    json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
  return ns;
}

static bool have_sys_resource(void) {
  cap_t c = cap_get_proc();
  cap_flag_value_t v = CAP_CLEAR;
  if (c != NULL) {
    cap_get_flag(c, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &v);
    cap_free(c);
  }
  return v == CAP_SET;
}

static json_t *rlimits(const struct run_opts *o) {
  json_t *r = json_array(), *u;
  size_t i;
  bool nofile = false;
  json_array_foreach(o->ulimits, i, u) {
    json_array_append(r, u);
    nofile |= strcmp(ctr_json_str(u, "type"), "RLIMIT_NOFILE") == 0;
  }
  /* docker's daemon default, unless we may not raise our own hard limit
   * that far (no CAP_SYS_RESOURCE): then ours, as rootless podman does */
  if (!nofile) {
    struct rlimit cur;
    json_int_t n = 1048576;
    if (!have_sys_resource() && getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < (rlim_t)n)
      n = (json_int_t)cur.rlim_max;
    json_array_append_new(r, json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_NOFILE",
                                       "hard", n, "soft", n));
  }
  return r;
}

int run_spec_build(const struct run_spec_in *in, json_t **config, ctr_err *err) {
  const struct run_opts *o = in->opts;
  cleanup_json json_t *c = NULL;
  json_t *args = NULL, *caps = NULL, *mounts, *lx, *process, *groups, *v;
  char hostname[65];
  const char *cwd;
  size_t i;

  if (run_spec_args(o, in->image_config, &args, err) < 0)
    return -1;
  if (o->init) {
    /* A tiny init as pid 1 reaps zombies and forwards signals. */
    if (in->init_path == NULL) {
      json_decref(args);
      return ctr_fail(err, 0, "--init: ctr-init not found next to ctr-run");
    }
    json_array_insert_new(args, 0, json_string("--"));
    json_array_insert_new(args, 0, json_string(RUN_INIT_PATH));
  }
  if (cap_set(o, &caps, err) < 0) {
    json_decref(args);
    return -1;
  }
  snprintf(hostname, sizeof(hostname), "%s", o->hostname ? o->hostname : in->id);
  if (o->hostname == NULL)
    hostname[12] = '\0';
  cwd = o->workdir ? o->workdir : ctr_json_str(in->image_config, "WorkingDir");
  if (cwd == NULL || cwd[0] == '\0')
    cwd = "/";
  if (cwd[0] != '/') {
    json_decref(args);
    json_decref(caps);
    return ctr_usage(err, "working directory %s is not absolute", cwd);
  }
  groups = json_array();
  for (i = 0; i < in->user->ngroups; i++)
    json_array_append_new(groups, json_integer(in->user->groups[i]));
  process = json_pack(
      "{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:[], s:[]}, s:o, s:b, s:I}",
      "terminal", o->tty, "user", "uid", (json_int_t)in->user->uid, "gid",
      (json_int_t)in->user->gid, "additionalGids", groups, "args", args, "env",
      make_env(in, hostname), "cwd", cwd, "capabilities", "bounding", caps,
      "effective", caps, "permitted", caps, "inheritable", "ambient", "rlimits",
      rlimits(o), "noNewPrivileges", o->no_new_privs, "oomScoreAdj", (json_int_t)0);
  json_decref(caps);
  if (process == NULL)
    return ctr_fail(err, ENOMEM, "config");

  mounts = default_mounts(in);
  json_array_foreach(o->tmpfs, i, v) {
    if (add_tmpfs(mounts, json_string_value(v), err) < 0)
      goto fail_mounts;
  }
  json_array_foreach(o->volumes, i, v) {
    if (add_volume(in, mounts, json_string_value(v), err) < 0)
      goto fail_mounts;
  }
  {
    /* the image's VOLUMEs, in a stable order, where nothing else is */
    json_t *vols = json_object_get(in->image_config, "Volumes");
    size_t n = 0;
    const char *path;
    json_t *ignored;
    cleanup_free const char **paths = calloc(json_object_size(vols) + 1, sizeof(*paths));
    if (paths == NULL) {
      ctr_fail(err, ENOMEM, "volumes");
      goto fail_mounts;
    }
    json_object_foreach(vols, path, ignored) paths[n++] = path;
    qsort(paths, n, sizeof(*paths), cmp_str);
    for (size_t k = 0; k < n; k++) {
      cleanup_free char *clean = run_path_clean(paths[k]);
      if (clean == NULL) {
        ctr_fail(err, ENOMEM, "volumes");
        goto fail_mounts;
      }
      if (strcmp(clean, "/") == 0 || has_mount(mounts, clean))
        continue;
      if (add_anonymous(in, mounts, clean, err) < 0)
        goto fail_mounts;
    }
  }
  if (o->init)
    json_array_append_new(mounts, mount_entry(RUN_INIT_PATH, "bind", in->init_path,
                                              "rbind,ro,nosuid,nodev,rprivate"));

  lx = json_pack("{s:o, s:o, s:s, s:o}", "namespaces", namespaces(in),
                    "resources", resources(o), "cgroupsPath", in->cgroups_path,
                    "rootfsPropagation", json_string("rprivate"));
  if (!o->privileged) {
    json_object_set_new(lx, "maskedPaths", str_array(masked_paths));
    json_object_set_new(lx, "readonlyPaths", str_array(readonly_paths));
  }
  if (in->seccomp != NULL)
    json_object_set_new(lx, "seccomp", json_deep_copy(in->seccomp));
  if (in->uid_count > 0) {
    json_object_set_new(lx, "uidMappings",
                        json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                  (json_int_t)in->uid_base, "size", (json_int_t)in->uid_count));
    json_object_set_new(lx, "gidMappings",
                        json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                  (json_int_t)in->gid_base, "size", (json_int_t)in->uid_count));
  }
  c = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2",
                "process", process, "root", "path", "rootfs", "readonly", o->read_only,
                "hostname", hostname, "mounts", mounts, "linux", lx, "annotations",
                json_pack("{s:s}", "io.ctr.image", o->image));
  if (c == NULL)
    return ctr_fail(err, ENOMEM, "config");
  if (o->stop_signal != NULL)
    json_object_set_new(json_object_get(c, "annotations"), "io.ctr.stop-signal",
                        json_string(o->stop_signal));
  *config = ctr_steal(c);
  return 0;
fail_mounts:
  json_decref(mounts);
  json_decref(process);
  return -1;
}
