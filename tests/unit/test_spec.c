/* config.json from the image's config and the command line, by Docker's
 * rules: the process args, capabilities, masks, environment, workdir,
 * hostname, volumes and tmpfs, resources, namespaces, user namespace
 * mappings and --init; and the passwd/group text parsers behind -u. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "run/spec.h"
#include "run/user.h"
#include "run/userns.h"
#include "tap.h"

/* A jansson array of the NULL-terminated strings given. */
static json_t *strs(const char *first, ...) {
  json_t *a = json_array();
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *))
    json_array_append_new(a, json_string(s));
  va_end(ap);
  return a;
}

/* args as one space-separated string, "" for none, to compare in one ok(). */
static const char *joined(const json_t *a) {
  static char buf[1024];
  size_t i, n = 0;
  json_t *v;
  buf[0] = '\0';
  json_array_foreach(a, i, v) n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
                                                  i ? " " : "", json_string_value(v));
  return buf;
}

static bool has_str(const json_t *a, const char *s) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

static json_t *path(json_t *j, const char *dotted) {
  char copy[256], *save = NULL;
  snprintf(copy, sizeof(copy), "%s", dotted);
  for (char *k = strtok_r(copy, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
    j = json_object_get(j, k);
  return j;
}

static json_t *mount_at(json_t *c, const char *dst) {
  size_t i;
  json_t *m, *found = NULL;
  json_array_foreach(json_object_get(c, "mounts"), i, m) {
    const char *d = json_string_value(json_object_get(m, "destination"));
    if (d && strcmp(d, dst) == 0)
      found = m;
  }
  return found;
}

static bool has_ns(json_t *c, const char *type) {
  size_t i;
  json_t *n;
  json_array_foreach(path(c, "linux.namespaces"), i, n) {
    const char *t = json_string_value(json_object_get(n, "type"));
    if (t && strcmp(t, type) == 0)
      return true;
  }
  return false;
}

static const char *env_get(json_t *c, const char *key) {
  size_t i, k = strlen(key);
  json_t *v;
  json_array_foreach(path(c, "process.env"), i, v) {
    const char *s = json_string_value(v);
    if (strncmp(s, key, k) == 0 && s[k] == '=')
      return s + k + 1;
  }
  return NULL;
}

static long env_index(json_t *c, const char *key) {
  size_t i, k = strlen(key);
  json_t *v;
  json_array_foreach(path(c, "process.env"), i, v) {
    const char *s = json_string_value(v);
    if (strncmp(s, key, k) == 0 && s[k] == '=')
      return (long)i;
  }
  return -1;
}

static const char *const docker_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",  NULL,
};

static bool caps_exactly(json_t *c, const char *set, const char *const *want) {
  json_t *a = path(c, set);
  size_t n = 0;
  for (const char *const *w = want; *w; w++, n++)
    if (!has_str(a, *w))
      return false;
  return json_array_size(a) == n;
}

/* ---- fixture: an image config and the inputs run_spec_build takes ---- */

static const char *const ID = "0123456789abcdef0123456789abcdef";

struct fixture {
  struct run_opts o;
  json_t *image;
  struct run_user user;
  struct run_spec_in in;
};

static void fixture_init(struct fixture *f) {
  memset(f, 0, sizeof(*f));
  f->o.image = "busybox";
  f->image = json_pack("{s:[s], s:[s, s], s:s}", "Cmd", "sh", "Env", "PATH=/image/bin",
                       "FOO=image", "WorkingDir", "");
  f->user.uid = 1000;
  f->user.gid = 1000;
  f->user.groups[0] = 10;
  f->user.groups[1] = 20;
  f->user.ngroups = 2;
  f->user.home = "/home/u";
  f->in.opts = &f->o;
  f->in.image_config = f->image;
  f->in.id = ID;
  f->in.user = &f->user;
  f->in.cgroups_path = "ctr/x";
  f->in.container_dir = "/var/lib/ctr/containers/x";
  f->in.volumes_dir = "/var/lib/ctr/volumes";
  f->in.init_path = "/usr/libexec/ctr/ctr-init";
}

/* Drop every jansson list the test hung on the options. */
static void fixture_clear(struct fixture *f) {
  json_t **lists[] = {&f->o.cmd,   &f->o.entrypoint, &f->o.env,      &f->o.volumes,
                      &f->o.tmpfs, &f->o.cap_add,    &f->o.cap_drop, &f->o.labels,
                      &f->o.ulimits, &f->image};
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    json_decref(*lists[i]);
    *lists[i] = NULL;
  }
}

/* Build and hand back config (NULL and the error's exit status on failure). */
static json_t *build(struct fixture *f, int *exit_status) {
  json_t *c = NULL;
  ctr_err err = NULL;
  *exit_status = 0;
  if (run_spec_build(&f->in, &c, &err) < 0) {
    *exit_status = err ? err->exit : -1;
    ctr_err_free(&err);
    return NULL;
  }
  return c;
}

/* ---- run_spec_args ---- */

/* Check run_spec_args: want is the joined args, or NULL for a usage error. */
static void check_args(json_t *ep, json_t *cmd, const json_t *image, const char *want,
                       const char *desc) {
  struct run_opts o = {.entrypoint = ep, .cmd = cmd};
  json_t *a = NULL;
  ctr_err err = NULL;
  int ret = run_spec_args(&o, image, &a, &err);
  if (want == NULL) {
    ok(ret < 0 && err && err->exit == 2, "args: %s -> usage error", desc);
  } else {
    ok(ret == 0 && strcmp(joined(a), want) == 0, "args: %s -> '%s' (got '%s')", desc, want,
       ret == 0 ? joined(a) : err->msg);
  }
  ctr_err_free(&err);
  json_decref(a);
  json_decref(ep);
  json_decref(cmd);
}

static void test_args(void) {
  json_t *img = json_pack("{s:[s, s], s:[s, s]}", "Entrypoint", "/ep", "-x", "Cmd", "c1", "c2");
  json_t *cmd_only = json_pack("{s:[s]}", "Cmd", "sh");
  json_t *empty = json_object();

  check_args(NULL, NULL, img, "/ep -x c1 c2", "image Entrypoint then Cmd");
  check_args(NULL, strs("a", "b", NULL), img, "/ep -x a b", "args replace Cmd, keep Entrypoint");
  check_args(NULL, json_array(), img, "/ep -x c1 c2", "an empty args list keeps the image Cmd");
  check_args(strs("/new", NULL), NULL, img, "/new", "--entrypoint replaces Entrypoint, drops image Cmd");
  check_args(strs("/new", NULL), strs("x", NULL), img, "/new x", "--entrypoint with args");
  check_args(strs("", NULL), strs("echo", "hi", NULL), img, "echo hi", "--entrypoint \"\" with args");
  check_args(strs("", NULL), NULL, img, NULL, "--entrypoint \"\" and no args (image Cmd dropped)");
  check_args(NULL, NULL, cmd_only, "sh", "image with only Cmd");
  check_args(NULL, strs("ls", "-l", NULL), cmd_only, "ls -l", "args replace an only-Cmd image");
  check_args(NULL, NULL, empty, NULL, "no command anywhere");
  check_args(NULL, NULL, NULL, NULL, "no image config and no args");
  check_args(NULL, strs("true", NULL), NULL, "true", "no image config, args given");
  json_decref(img);
  json_decref(cmd_only);
  json_decref(empty);
}

/* ---- run_cap_canonical ---- */

static void test_cap_canonical(void) {
  char out[64];
  static const char *const chown_forms[] = {"chown", "CHOWN", "CAP_CHOWN", "cap_chown", "Cap_Chown"};
  for (size_t i = 0; i < sizeof(chown_forms) / sizeof(chown_forms[0]); i++) {
    strcpy(out, "?");
    ok(run_cap_canonical(chown_forms[i], out, sizeof(out)) == 0 && strcmp(out, "CAP_CHOWN") == 0,
       "cap: %s -> %s", chown_forms[i], out);
  }
  ok(run_cap_canonical("net_admin", out, sizeof(out)) == 0 && strcmp(out, "CAP_NET_ADMIN") == 0,
     "cap: net_admin -> CAP_NET_ADMIN");
  ok(run_cap_canonical("ALL", out, sizeof(out)) == 0 && strcmp(out, "ALL") == 0, "cap: ALL");
  ok(run_cap_canonical("all", out, sizeof(out)) == 0 && strcmp(out, "ALL") == 0, "cap: all -> ALL");
  ok(run_cap_canonical("bogus", out, sizeof(out)) == -1, "cap: unknown name -> -1");
  ok(run_cap_canonical("CAP_", out, sizeof(out)) == -1, "cap: bare CAP_ -> -1");
  ok(run_cap_canonical("", out, sizeof(out)) == -1, "cap: empty -> -1");
  char longname[200];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  ok(run_cap_canonical(longname, out, sizeof(out)) == -1, "cap: over-long name -> -1");
}

/* ---- run_spec_build ---- */

static void test_defaults(void) {
  struct fixture f;
  int st;
  json_t *c;
  fixture_init(&f);
  c = build(&f, &st);
  ok(c != NULL, "build: defaults build");
  if (c == NULL) {
    fixture_clear(&f);
    return;
  }
  ok(strcmp(joined(path(c, "process.args")), "sh") == 0, "build: args from the image Cmd");
  ok(caps_exactly(c, "process.capabilities.bounding", docker_caps), "build: bounding = docker's 14");
  ok(caps_exactly(c, "process.capabilities.effective", docker_caps), "build: effective = docker's 14");
  ok(caps_exactly(c, "process.capabilities.permitted", docker_caps), "build: permitted = docker's 14");
  ok(json_array_size(path(c, "process.capabilities.inheritable")) == 0 &&
         json_is_array(path(c, "process.capabilities.inheritable")),
     "build: inheritable empty");
  ok(json_array_size(path(c, "process.capabilities.ambient")) == 0 &&
         json_is_array(path(c, "process.capabilities.ambient")),
     "build: ambient empty");
  ok(json_array_size(path(c, "linux.maskedPaths")) == 11 &&
         has_str(path(c, "linux.maskedPaths"), "/proc/kcore") &&
         has_str(path(c, "linux.maskedPaths"), "/sys/devices/virtual/powercap"),
     "build: docker's masked paths");
  ok(json_array_size(path(c, "linux.readonlyPaths")) == 5 &&
         has_str(path(c, "linux.readonlyPaths"), "/proc/sysrq-trigger"),
     "build: docker's read-only paths");
  ok(has_str(json_object_get(mount_at(c, "/sys"), "options"), "ro"), "build: /sys is ro");
  ok(has_str(json_object_get(mount_at(c, "/sys/fs/cgroup"), "options"), "ro"), "build: cgroupfs is ro");
  json_t *dev0 = json_array_get(path(c, "linux.resources.devices"), 0);
  ok(json_is_false(json_object_get(dev0, "allow")) &&
         json_array_size(path(c, "linux.resources.devices")) > 1,
     "build: devices deny all first, then allow some");
  ok(strcmp(json_string_value(path(c, "process.cwd")), "/") == 0, "build: empty WorkingDir -> /");
  ok(strcmp(json_string_value(json_object_get(c, "hostname")), "0123456789ab") == 0,
     "build: hostname = first 12 chars of the id");
  ok(strcmp(env_get(c, "HOSTNAME"), "0123456789ab") == 0, "build: HOSTNAME in env");
  ok(strcmp(env_get(c, "PATH"), "/image/bin") == 0, "build: image PATH replaces the default");
  ok(env_index(c, "PATH") == 0 && env_index(c, "HOSTNAME") == 1, "build: PATH then HOSTNAME first");
  ok(strcmp(env_get(c, "HOME"), "/home/u") == 0, "build: HOME from the user");
  ok(env_get(c, "TERM") == NULL, "build: no TERM without a tty");
  ok(json_integer_value(path(c, "process.user.uid")) == 1000 &&
         json_integer_value(path(c, "process.user.gid")) == 1000 &&
         json_array_size(path(c, "process.user.additionalGids")) == 2 &&
         json_integer_value(json_array_get(path(c, "process.user.additionalGids"), 1)) == 20,
     "build: user uid/gid/additionalGids");
  static const char *const ns[] = {"pid", "ipc", "uts", "mount", "cgroup", "network"};
  for (size_t i = 0; i < 6; i++)
    ok(has_ns(c, ns[i]), "build: %s namespace", ns[i]);
  ok(!has_ns(c, "user"), "build: no user namespace without a uid range");
  ok(path(c, "linux.uidMappings") == NULL && path(c, "linux.gidMappings") == NULL,
     "build: no id mappings without a uid range");
  ok(path(c, "linux.resources.memory") == NULL && path(c, "linux.resources.cpu") == NULL &&
         path(c, "linux.resources.pids") == NULL,
     "build: no memory/cpu/pids limits by default");
  ok(mount_at(c, RUN_INIT_PATH) == NULL, "build: no ctr-init mount without --init");
  ok(strcmp(json_string_value(path(c, "linux.cgroupsPath")), "ctr/x") == 0, "build: cgroupsPath");
  ok(strcmp(json_string_value(json_object_get(json_object_get(c, "annotations"), "io.ctr.image")),
            "busybox") == 0,
     "build: image annotation");
  ok(json_is_false(path(c, "root.readonly")), "build: root not read-only by default");
  json_decref(c);
  fixture_clear(&f);
}

static void test_caps(void) {
  struct fixture f;
  int st;
  json_t *c;

  fixture_init(&f);
  f.o.cap_drop = strs("ALL", NULL);
  f.o.cap_add = strs("NET_ADMIN", NULL);
  c = build(&f, &st);
  static const char *const net_admin[] = {"CAP_NET_ADMIN", NULL};
  ok(c && caps_exactly(c, "process.capabilities.bounding", net_admin) &&
         caps_exactly(c, "process.capabilities.effective", net_admin) &&
         caps_exactly(c, "process.capabilities.permitted", net_admin),
     "caps: --cap-drop ALL --cap-add NET_ADMIN -> only NET_ADMIN");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.cap_drop = strs("chown", NULL);
  c = build(&f, &st);
  ok(c && !has_str(path(c, "process.capabilities.bounding"), "CAP_CHOWN") &&
         json_array_size(path(c, "process.capabilities.bounding")) == 13,
     "caps: --cap-drop chown removes CAP_CHOWN only");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.cap_add = strs("sys_admin", "CAP_CHOWN", NULL);
  c = build(&f, &st);
  ok(c && has_str(path(c, "process.capabilities.bounding"), "CAP_SYS_ADMIN") &&
         json_array_size(path(c, "process.capabilities.bounding")) == 15,
     "caps: --cap-add adds to the defaults without duplicates");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.cap_add = strs("nonsense", NULL);
  c = build(&f, &st);
  ok(c == NULL && st == 2, "caps: unknown --cap-add is a usage error");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.cap_drop = strs("nonsense", NULL);
  c = build(&f, &st);
  ok(c == NULL && st == 2, "caps: unknown --cap-drop is a usage error");
  json_decref(c);
  fixture_clear(&f);
}

static void test_privileged(void) {
  struct fixture f;
  int st;
  json_t *c;
  fixture_init(&f);
  f.o.privileged = true;
  c = build(&f, &st);
  ok(c != NULL, "privileged: builds");
  ok(c && path(c, "linux.maskedPaths") == NULL, "privileged: no maskedPaths");
  ok(c && path(c, "linux.readonlyPaths") == NULL, "privileged: no readonlyPaths");
  ok(c && !has_str(json_object_get(mount_at(c, "/sys"), "options"), "ro"), "privileged: /sys not ro");
  ok(c && !has_str(json_object_get(mount_at(c, "/sys/fs/cgroup"), "options"), "ro"),
     "privileged: cgroupfs not ro");
  json_t *devs = c ? path(c, "linux.resources.devices") : NULL;
  json_t *d0 = json_array_get(devs, 0);
  ok(json_array_size(devs) == 1 && json_is_true(json_object_get(d0, "allow")) &&
         strcmp(json_string_value(json_object_get(d0, "access")), "rwm") == 0 &&
         json_object_get(d0, "type") == NULL,
     "privileged: one device rule allowing all");
  ok(c && json_array_size(path(c, "process.capabilities.bounding")) >= 1,
     "privileged: holds the caps we have (%zu)",
     c ? json_array_size(path(c, "process.capabilities.bounding")) : 0);
  json_decref(c);
  fixture_clear(&f);
}

static void test_env(void) {
  struct fixture f;
  int st;
  json_t *c;
  fixture_init(&f);
  f.o.env = strs("FOO=opt", "BAR=1", "HOSTNAME=mine", NULL);
  f.o.tty = true;
  c = build(&f, &st);
  ok(c != NULL, "env: builds");
  if (c) {
    ok(strcmp(env_get(c, "FOO"), "opt") == 0, "env: -e overrides the image's FOO");
    ok(env_index(c, "FOO") == 2, "env: overridden key keeps its place (%ld)", env_index(c, "FOO"));
    ok(strcmp(env_get(c, "BAR"), "1") == 0 && env_index(c, "BAR") == 3, "env: new key appended");
    ok(strcmp(env_get(c, "HOSTNAME"), "mine") == 0 && env_index(c, "HOSTNAME") == 1,
       "env: -e HOSTNAME overrides in place");
    ok(env_get(c, "TERM") && strcmp(env_get(c, "TERM"), "xterm") == 0, "env: TERM=xterm with a tty");
    ok(json_is_true(path(c, "process.terminal")), "env: terminal true with a tty");
    ok(strcmp(env_get(c, "HOME"), "/home/u") == 0, "env: HOME from the user, last");
    ok(env_index(c, "HOME") == (long)json_array_size(path(c, "process.env")) - 1, "env: HOME last");
  }
  json_decref(c);
  fixture_clear(&f);

  /* -e TERM and -e HOME win over tty and the user's home */
  fixture_init(&f);
  json_decref(f.image);
  f.image = json_pack("{s:[s]}", "Cmd", "sh");
  f.in.image_config = f.image;
  f.o.env = strs("TERM=vt100", "HOME=/elsewhere", NULL);
  f.o.tty = true;
  c = build(&f, &st);
  ok(c && strcmp(env_get(c, "TERM"), "vt100") == 0, "env: -e TERM beats the tty default");
  ok(c && strcmp(env_get(c, "HOME"), "/elsewhere") == 0, "env: -e HOME beats the user's home");
  ok(c && strncmp(env_get(c, "PATH"), "/usr/local/sbin:", 16) == 0, "env: default PATH");
  long n = 0;
  size_t i;
  json_t *v;
  json_array_foreach(c ? path(c, "process.env") : NULL, i, v) n += strncmp(json_string_value(v), "TERM=", 5) == 0;
  ok(n == 1, "env: one TERM only");
  json_decref(c);
  fixture_clear(&f);

  /* no home: no HOME */
  fixture_init(&f);
  f.user.home = NULL;
  c = build(&f, &st);
  ok(c && env_get(c, "HOME") == NULL, "env: no HOME when the user has none");
  json_decref(c);
  fixture_clear(&f);
}

static void test_workdir_hostname(void) {
  struct fixture f;
  int st;
  json_t *c;

  fixture_init(&f);
  json_object_set_new(f.image, "WorkingDir", json_string("/app"));
  c = build(&f, &st);
  ok(c && strcmp(json_string_value(path(c, "process.cwd")), "/app") == 0, "workdir: from the image");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  json_object_set_new(f.image, "WorkingDir", json_string("/app"));
  f.o.workdir = "/srv";
  c = build(&f, &st);
  ok(c && strcmp(json_string_value(path(c, "process.cwd")), "/srv") == 0, "workdir: -w wins");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.workdir = "rel/dir";
  c = build(&f, &st);
  ok(c == NULL && st == 2, "workdir: relative -w is a usage error");
  fixture_clear(&f);

  fixture_init(&f);
  f.o.hostname = "web";
  c = build(&f, &st);
  ok(c && strcmp(json_string_value(json_object_get(c, "hostname")), "web") == 0 &&
         strcmp(env_get(c, "HOSTNAME"), "web") == 0,
     "hostname: --hostname used as given");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.in.id = "short";
  c = build(&f, &st);
  ok(c && strcmp(json_string_value(json_object_get(c, "hostname")), "short") == 0,
     "hostname: an id under 12 chars whole");
  json_decref(c);
  fixture_clear(&f);
}

static json_t *with_volume(const char *spec, int *st) {
  struct fixture f;
  json_t *c;
  fixture_init(&f);
  f.o.volumes = strs(spec, NULL);
  c = build(&f, st);
  fixture_clear(&f);
  return c;
}

static void test_volumes(void) {
  int st;
  json_t *c, *m;

  c = with_volume("/host:/ctr:ro", &st);
  m = c ? mount_at(c, "/ctr") : NULL;
  ok(m && strcmp(json_string_value(json_object_get(m, "type")), "bind") == 0 &&
         strcmp(json_string_value(json_object_get(m, "source")), "/host") == 0 &&
         has_str(json_object_get(m, "options"), "ro") &&
         has_str(json_object_get(m, "options"), "rbind"),
     "volume: /host:/ctr:ro -> ro bind");
  json_decref(c);

  c = with_volume("/host:/ctr", &st);
  m = c ? mount_at(c, "/ctr") : NULL;
  ok(m && !has_str(json_object_get(m, "options"), "ro"), "volume: /host:/ctr -> rw bind");
  json_decref(c);

  c = with_volume("/host:/ctr:rw", &st);
  m = c ? mount_at(c, "/ctr") : NULL;
  ok(m && !has_str(json_object_get(m, "options"), "ro"), "volume: :rw -> rw bind");
  json_decref(c);

  c = with_volume("data:/ctr", &st);
  m = c ? mount_at(c, "/ctr") : NULL;
  ok(m && strcmp(json_string_value(json_object_get(m, "type")), "bind") == 0 &&
         strcmp(json_string_value(json_object_get(m, "source")), "/var/lib/ctr/volumes/data/_data") == 0,
     "volume: name:/ctr -> $volumes_dir/name/_data");
  json_decref(c);

  c = with_volume("/h:/etc/hosts", &st);
  size_t n = 0, i;
  json_t *v;
  json_array_foreach(c ? json_object_get(c, "mounts") : NULL, i, v) n +=
      strcmp(json_string_value(json_object_get(v, "destination")), "/etc/hosts") == 0;
  ok(c && n == 1 && strcmp(json_string_value(json_object_get(mount_at(c, "/etc/hosts"), "source")), "/h") == 0,
     "volume: replaces a default mount at the same place");
  json_decref(c);

  static const char *const bad[] = {"x", "/a:b", "/a:/b:rx", "/a:/", ":/b", "/a:/b:ro:x",
                                    "bad/name:/b", "na me:/b"};
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    c = with_volume(bad[i], &st);
    ok(c == NULL && st == 2, "volume: '%s' is a usage error", bad[i]);
    json_decref(c);
  }
}

static void test_tmpfs(void) {
  struct fixture f;
  int st;
  json_t *c, *m;

  fixture_init(&f);
  f.o.tmpfs = strs("/t:size=1m", "/u", NULL);
  c = build(&f, &st);
  m = c ? mount_at(c, "/t") : NULL;
  ok(m && strcmp(json_string_value(json_object_get(m, "type")), "tmpfs") == 0 &&
         strcmp(joined(json_object_get(m, "options")), "nosuid nodev noexec size=1m") == 0,
     "tmpfs: /t:size=1m -> nosuid,nodev,noexec,size=1m (%s)",
     m ? joined(json_object_get(m, "options")) : "none");
  m = c ? mount_at(c, "/u") : NULL;
  ok(m && strcmp(joined(json_object_get(m, "options")), "nosuid nodev noexec") == 0,
     "tmpfs: /u without options");
  json_decref(c);
  fixture_clear(&f);

  static const char *const bad[] = {"/", "rel", ":size=1m"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fixture_init(&f);
    f.o.tmpfs = strs(bad[i], NULL);
    c = build(&f, &st);
    ok(c == NULL && st == 2, "tmpfs: '%s' is a usage error", bad[i]);
    json_decref(c);
    fixture_clear(&f);
  }
}

static void test_resources(void) {
  struct fixture f;
  int st;
  json_t *c;

  fixture_init(&f);
  f.o.memory = 64 << 20;
  f.o.cpu_quota = 50000;
  f.o.pids_limit = 100;
  f.o.cpu_shares = 512;
  f.o.memory_reservation = 32 << 20;
  f.o.ulimits = json_pack("[{s:s, s:i, s:i}]", "type", "RLIMIT_NPROC", "soft", 10, "hard", 20);
  c = build(&f, &st);
  ok(c && json_integer_value(path(c, "linux.resources.memory.limit")) == 64 << 20,
     "resources: memory limit");
  ok(c && json_integer_value(path(c, "linux.resources.memory.swap")) == 128 << 20,
     "resources: swap defaults to twice the memory");
  ok(c && json_integer_value(path(c, "linux.resources.memory.reservation")) == 32 << 20,
     "resources: memory reservation");
  ok(c && json_integer_value(path(c, "linux.resources.cpu.quota")) == 50000 &&
         json_integer_value(path(c, "linux.resources.cpu.period")) == 100000,
     "resources: cpu quota with the default period");
  ok(c && json_integer_value(path(c, "linux.resources.cpu.shares")) == 512, "resources: cpu shares");
  ok(c && json_integer_value(path(c, "linux.resources.pids.limit")) == 100, "resources: pids limit");
  json_t *rl = c ? path(c, "process.rlimits") : NULL, *r0 = json_array_get(rl, 0);
  ok(r0 && strcmp(json_string_value(json_object_get(r0, "type")), "RLIMIT_NPROC") == 0 &&
         json_integer_value(json_object_get(r0, "soft")) == 10 &&
         json_integer_value(json_object_get(r0, "hard")) == 20,
     "resources: ulimits passed through");
  ok(json_array_size(rl) == 2 &&
         strcmp(json_string_value(json_object_get(json_array_get(rl, 1), "type")), "RLIMIT_NOFILE") == 0,
     "resources: a default RLIMIT_NOFILE beside them");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.memory = 64 << 20;
  f.o.memory_swap = -1;
  f.o.cpu_quota = 25000;
  f.o.cpu_period = 50000;
  f.o.ulimits = json_pack("[{s:s, s:i, s:i}]", "type", "RLIMIT_NOFILE", "soft", 100, "hard", 200);
  c = build(&f, &st);
  ok(c && json_integer_value(path(c, "linux.resources.memory.swap")) == -1,
     "resources: --memory-swap -1 kept");
  ok(c && json_integer_value(path(c, "linux.resources.cpu.quota")) == 25000 &&
         json_integer_value(path(c, "linux.resources.cpu.period")) == 50000,
     "resources: cpu quota/period as given");
  rl = c ? path(c, "process.rlimits") : NULL;
  ok(json_array_size(rl) == 1 && json_integer_value(json_object_get(json_array_get(rl, 0), "hard")) == 200,
     "resources: a given RLIMIT_NOFILE replaces the default");
  json_decref(c);
  fixture_clear(&f);
}

static void test_namespaces(void) {
  struct fixture f;
  int st;
  json_t *c;

  fixture_init(&f);
  f.o.network = "host";
  c = build(&f, &st);
  ok(c && !has_ns(c, "network") && has_ns(c, "pid"), "ns: --network host -> no network namespace");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.network = "none";
  c = build(&f, &st);
  ok(c && has_ns(c, "network"), "ns: --network none -> network namespace");
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.userns = "auto";
  f.in.uid_base = 100000;
  f.in.gid_base = 300000;
  f.in.uid_count = 65536;
  c = build(&f, &st);
  ok(c && has_ns(c, "user"), "ns: uid_count -> user namespace");
  for (const char *const *k = (const char *const[]){"linux.uidMappings", "linux.gidMappings", NULL}; *k; k++) {
    json_t *m = c ? json_array_get(path(c, *k), 0) : NULL;
    json_int_t host = strstr(*k, "gid") ? 300000 : 100000;
    ok(json_array_size(c ? path(c, *k) : NULL) == 1 &&
           json_integer_value(json_object_get(m, "containerID")) == 0 &&
           json_integer_value(json_object_get(m, "hostID")) == host &&
           json_integer_value(json_object_get(m, "size")) == 65536,
       "ns: %s 0 -> %lld x 65536", *k, (long long)host);
  }
  json_decref(c);
  fixture_clear(&f);
}

static void test_init(void) {
  struct fixture f;
  int st;
  json_t *c, *m;

  fixture_init(&f);
  f.o.init = true;
  f.o.cmd = strs("sleep", "1", NULL);
  c = build(&f, &st);
  ok(c && strcmp(joined(path(c, "process.args")), RUN_INIT_PATH " -- sleep 1") == 0,
     "init: args start with " RUN_INIT_PATH " -- (%s)", c ? joined(path(c, "process.args")) : "none");
  m = c ? mount_at(c, RUN_INIT_PATH) : NULL;
  ok(m && strcmp(json_string_value(json_object_get(m, "type")), "bind") == 0 &&
         strcmp(json_string_value(json_object_get(m, "source")), "/usr/libexec/ctr/ctr-init") == 0 &&
         has_str(json_object_get(m, "options"), "ro"),
     "init: ro bind of init_path at " RUN_INIT_PATH);
  json_decref(c);
  fixture_clear(&f);

  fixture_init(&f);
  f.o.init = true;
  f.in.init_path = NULL;
  c = build(&f, &st);
  ok(c == NULL && st != 0, "init: no init_path is an error");
  fixture_clear(&f);

  /* failures after the process is made must not leak (valgrind checks) */
  fixture_init(&f);
  f.o.tmpfs = strs("/ok", "rel", NULL);
  c = build(&f, &st);
  ok(c == NULL && st == 2, "build: a bad mount after good ones fails cleanly");
  fixture_clear(&f);

  fixture_init(&f);
  f.o.stop_signal = "SIGINT";
  f.o.read_only = true;
  c = build(&f, &st);
  ok(c && strcmp(json_string_value(json_object_get(json_object_get(c, "annotations"), "io.ctr.stop-signal")),
                 "SIGINT") == 0,
     "build: stop signal annotation");
  ok(c && json_is_true(path(c, "root.readonly")), "build: --read-only -> root.readonly");
  json_decref(c);
  fixture_clear(&f);
}

/* ---- passwd / group text ---- */

static const char passwd[] =
    "# a comment line\n"
    "root:x:0:0:root:/root:/bin/sh\n"
    "short:x:5:5\n"
    "bad:x:abc:1:bad:/bad:/bin/sh\n"
    "neg:x:-1:1:neg:/neg:/bin/sh\n"
    "\n"
    "alice:x:1000:1001:Alice:/home/alice:/bin/bash\n"
    "bob:x:1002:1003::/home/bob:/bin/sh\n"
    "#carol:x:2000:2000::/home/carol:/bin/sh\n"
    "alice:x:3000:3000:dup:/dup:/bin/sh\n";

static const char group[] =
    "# groups\n"
    "root:x:0:\n"
    "wheel:x:10:alice,bob\n"
    "audio:x:29:bob\n"
    "video:x:44:alice\n"
    "nomembers:x:50\n"
    "bad:x:zz:alice\n"
    "staff:x:60:carol,alice\n"
    "#old:x:70:alice\n";

static void test_passwd(void) {
  uid_t uid = 99;
  gid_t gid = 99;
  char home[64] = "";

  ok(run_passwd_lookup(passwd, "alice", -1, &uid, &gid, home, sizeof(home)) == 1 && uid == 1000 &&
         gid == 1001 && strcmp(home, "/home/alice") == 0,
     "passwd: by name (first match)");
  ok(run_passwd_lookup(passwd, NULL, 1002, &uid, &gid, home, sizeof(home)) == 1 && uid == 1002 &&
         gid == 1003 && strcmp(home, "/home/bob") == 0,
     "passwd: by id");
  ok(run_passwd_lookup(passwd, NULL, 0, &uid, &gid, NULL, 0) == 1 && uid == 0 && gid == 0,
     "passwd: root by id, no home wanted");
  ok(run_passwd_lookup(passwd, "carol", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: commented-out entry not found");
  ok(run_passwd_lookup(passwd, "short", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: short line skipped");
  ok(run_passwd_lookup(passwd, "bad", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: non-numeric uid skipped");
  ok(run_passwd_lookup(passwd, "neg", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: negative uid skipped");
  ok(run_passwd_lookup(passwd, NULL, 5, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: id of a short line not found");
  ok(run_passwd_lookup(passwd, "nobody", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: unknown name");
  ok(run_passwd_lookup("", "root", -1, &uid, &gid, home, sizeof(home)) == 0, "passwd: empty text");
  char tiny[4];
  ok(run_passwd_lookup(passwd, "alice", -1, &uid, &gid, tiny, sizeof(tiny)) == 1 &&
         strcmp(tiny, "/ho") == 0,
     "passwd: home truncated to the buffer");
  ok(run_passwd_lookup("u:x:7:8:g:/h:/s:extra:more", "u", -1, &uid, &gid, home, sizeof(home)) == 1 &&
         uid == 7 && strcmp(home, "/h") == 0,
     "passwd: extra fields tolerated");
  ok(run_passwd_lookup("u:x:4294967295:1:g:/h:/s\n", "u", -1, &uid, &gid, home, sizeof(home)) == 0,
     "passwd: uid 2^32-1 refused");
}

static void test_group(void) {
  gid_t gid = 99, out[8];
  size_t n;

  ok(run_group_lookup(group, "wheel", -1, &gid) == 1 && gid == 10, "group: by name");
  ok(run_group_lookup(group, NULL, 44, &gid) == 1 && gid == 44, "group: by id");
  ok(run_group_lookup(group, "nomembers", -1, &gid) == 1 && gid == 50, "group: three-field line");
  ok(run_group_lookup(group, "bad", -1, &gid) == 0, "group: non-numeric gid skipped");
  ok(run_group_lookup(group, "old", -1, &gid) == 0, "group: comment skipped");
  ok(run_group_lookup(group, "nope", -1, &gid) == 0, "group: unknown name");
  ok(run_group_lookup("g:x\n", "g", -1, &gid) == 0, "group: two-field line skipped");

  n = run_group_members(group, "alice", out, 8);
  ok(n == 3 && out[0] == 10 && out[1] == 44 && out[2] == 60, "members: alice in wheel, video, staff (%zu)", n);
  n = run_group_members(group, "bob", out, 8);
  ok(n == 2 && out[0] == 10 && out[1] == 29, "members: bob in wheel, audio");
  n = run_group_members(group, "alice", out, 2);
  ok(n == 2 && out[0] == 10 && out[1] == 44, "members: max respected");
  n = run_group_members(group, "alice", out, 0);
  ok(n == 0, "members: max 0");
  ok(run_group_members(group, "carol", out, 8) == 1 && out[0] == 60, "members: carol only in staff");
  ok(run_group_members(group, "ali", out, 8) == 0, "members: a prefix of a name is no match");
  ok(run_group_members(group, "nobody", out, 8) == 0, "members: user in none");
  ok(run_group_members("g:x:1:a,,a\n", "a", out, 8) == 1, "members: counted once per group");
}

/* Regressions: a volume name or destination that escapes, drops with ALL. */
static int build_with(json_t *vols, json_t *add, json_t *drop, json_t **c) {
  struct run_opts o = {.image = "i", .volumes = vols, .cap_add = add, .cap_drop = drop};
  struct run_user u = {0};
  json_t *img = json_pack("{s:[s]}", "Cmd", "sh");
  struct run_spec_in in = {.opts = &o, .image_config = img, .id = "abc", .user = &u,
                           .cgroups_path = "c", .container_dir = "/cd", .volumes_dir = "/v"};
  ctr_err e = NULL;
  int r = run_spec_build(&in, c, &e);
  ctr_err_free(&e);
  json_decref(img);
  json_decref(vols);
  json_decref(add);
  json_decref(drop);
  return r;
}

static void test_regressions(void) {
  json_t *c = NULL, *b, *v;
  size_t i;
  int has = 0;
  for (const char *const *s = (const char *const[]){"..:/x", ".:/x", "/a://", "/a:/.", "/a:/x/..", NULL};
       *s; s++) {
    c = NULL;
    ok(build_with(json_pack("[s]", *s), NULL, NULL, &c) < 0, "-v %s is a usage error", *s);
    json_decref(c);
  }
  c = NULL;
  build_with(NULL, json_pack("[s]", "ALL"), json_pack("[s]", "NET_RAW"), &c);
  b = json_object_get(json_object_get(json_object_get(c, "process"), "capabilities"), "bounding");
  json_array_foreach(b, i, v) has |= !strcmp(json_string_value(v), "CAP_NET_RAW");
  ok(c && !has, "--cap-add ALL --cap-drop NET_RAW drops NET_RAW (docker)");
  json_decref(c);
}

/* /etc/subuid lines: only the named user's (or its uid's), well formed,
 * within 32 bits. */
static void test_subid(void) {
  uint64_t s[4], c[4];
  const char *text = "# comment\n"
                     "alice:100000:65536\n"
                     "containers:200000:131072\n"
                     "containers:bad:5\n"
                     "containers:300000:0\n"
                     "containers:4294967295:2\n"
                     "999:500000:65536\n"
                     "containers:600000:65536";
  size_t n = run_subid_parse(text, "containers", "999", s, c, 4);
  ok(n == 3 && s[0] == 200000 && c[0] == 131072 && s[1] == 500000 && c[1] == 65536 &&
         s[2] == 600000 && c[2] == 65536,
     "subid: the user's and its uid's ranges, bad and empty ones skipped (%zu)", n);
  ok(run_subid_parse(text, "containers", NULL, s, c, 1) == 1, "subid: at most max ranges");
  ok(run_subid_parse("", "containers", NULL, s, c, 4) == 0, "subid: none in an empty file");
  ok(run_subid_parse("containers:1:2:3\n", "containers", NULL, s, c, 4) == 0,
     "subid: a line with a fourth field is not one");
}

int main(void) {
  test_subid();
  test_args();
  test_cap_canonical();
  test_defaults();
  test_caps();
  test_privileged();
  test_env();
  test_workdir_hostname();
  test_volumes();
  test_tmpfs();
  test_resources();
  test_namespaces();
  test_init();
  test_passwd();
  test_group();
  test_regressions();
  return tap_done();
}
