#define _GNU_SOURCE
#include "create.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "image/store.h"
#include "image/trust.h"
#include "image/unpack.h"
#include "inroot.h"
#include "network.h"
#include "rootfs.h"
#include "seccomp.h"
#include "user.h"
#include "userns.h"
#include "volumes.h"

static int write_text(int dfd, const char *name, const char *text, ctr_err *err) {
  return ctr_atomic_write(dfd, name, text, strlen(text), 0644, false, err);
}

/* hostname, hosts and resolv.conf: the last two as network.h makes them,
 * rewritten at each start once the container's addresses are known. */
static int write_etc_files(int dfd, const json_t *config, const json_t *state, bool host_net,
                           ctr_err *err) {
  const char *hostname = ctr_json_str(config, "hostname");
  char buf[512];
  snprintf(buf, sizeof(buf), "%s\n", hostname ? hostname : "");
  if (write_text(dfd, "hostname", buf, err) < 0)
    return -1;
  return run_net_write_etc(dfd, state, hostname, NULL, host_net, err);
}

char *run_beside_self(const char *name) {
  char self[4096], *out = NULL;
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return NULL;
  self[n] = '\0';
  if (strrchr(self, '/') != NULL)
    *strrchr(self, '/') = '\0';
  if (asprintf(&out, "%s/%s", self, name) < 0)
    return NULL;
  if (access(out, X_OK) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static char *sibling_tool(const char *name) {
  char *out = run_beside_self(name);
  return out ? out : strdup(name);
}

/* Missing layers are ctr-image's business: ctr-run runs `ctr-image unpack`
 * rather than carrying an unpacker (and libarchive) in every start. */
static int unpack_with_ctr_image(const struct ctr_paths *p, const char *digest, ctr_err *err) {
  cleanup_free char *tool = sibling_tool("ctr-image");
  char *argv[] = {tool, "--root", p->root, "--rundir", p->rundir, "unpack", (char *)digest, NULL};
  posix_spawn_file_actions_t fa;
  int status = 0, rc;
  pid_t pid;
  if (tool == NULL)
    return ctr_fail(err, ENOMEM, "unpack");
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  rc = posix_spawnp(&pid, tool, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return ctr_fail(err, rc, "run %s", tool);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return ctr_fail(err, 0, "unpack %s: ctr-image failed", digest);
  return 0;
}

/* Resolve the image and its layer dirs. On success the store stays open,
 * holding the gc lock (shared), so no prune removes the layers before the
 * container's state.json lists them; the caller closes it. */
static int load_image(const struct ctr_paths *p, const char *ref, struct image_store *s,
                      struct image *img, json_t **names, char ***lowers,
                      size_t *nlowers, ctr_err *err) {
  int present;
  *names = NULL;
  if (image_store_open(s, p, STORE_READ, err) < 0)
    return -1;
  s->trusted = true;
  if (image_resolve(s, ref, img, err) < 0)
    goto fail;
  /* The names it is judged under are fixed now, policy or not, so a
   * later start judges the same ones whatever happens to the tags. It is
   * judged before anything is made, an unpack included; by the names
   * signatures and scopes use, but reported as the user said it. */
  if (trust_names(s, ref, img, names, err) < 0 ||
      trust_enforce(p, ref, *names, img->digest, err) < 0)
    goto fail;
  present = image_layers_present(s, img, lowers, nlowers, err);
  if (present < 0)
    goto fail;
  if (present == 0) {
    image_store_close(s);
    if (unpack_with_ctr_image(p, img->digest, err) < 0 ||
        image_store_open(s, p, STORE_READ, err) < 0) {
      json_decref(*names);
      *names = NULL;
      return -1;
    }
    s->trusted = true;
    present = image_layers_present(s, img, lowers, nlowers, err);
    if (present <= 0) {
      if (present == 0)
        ctr_fail(err, 0, "image %s: layers missing after unpack", ref);
      goto fail;
    }
  }
  return 0;
fail:
  json_decref(*names);
  *names = NULL;
  image_store_close(s);
  return -1;
}

int run_rootfs_mount(struct run_container *c, ctr_err *err) {
  cleanup_free char *target = NULL, *upper = NULL, *work = NULL;
  json_t *lower = json_object_get(c->state, "lower");
  const char **dirs;
  size_t n = json_array_size(lower);
  struct stat st, parent;
  struct run_idmap m;
  int ret;
  if (asprintf(&target, "%s/rootfs", c->dir) < 0 || asprintf(&upper, "%s/upper", c->dir) < 0 ||
      asprintf(&work, "%s/work", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "rootfs");
  /* Mounted already when the rootfs is on another device than its dir. */
  if (stat(target, &st) == 0 && stat(c->dir, &parent) == 0 && st.st_dev != parent.st_dev)
    return 0;
  dirs = calloc(n ? n : 1, sizeof(*dirs));
  if (dirs == NULL)
    return ctr_fail(err, ENOMEM, "rootfs");
  for (size_t i = 0; i < n; i++)
    dirs[i] = json_string_value(json_array_get(lower, i));
  ret = -2;
  if (run_userns_of(c, &m)) {
    cleanup_close int ns = run_userns_fd(&m, err);
    ret = ns < 0 ? -1 : run_overlay_mount_idmapped(dirs, n, upper, work, target, ns, err);
    if (ret == -2)
      ctr_warn("container %.12s: this kernel cannot idmap its layers: the image's files "
               "show as owned by nobody",
               c->id);
  }
  if (ret == -2)
    ret = run_overlay_mount(dirs, n, upper, work, target, err);
  free(dirs);
  return ret;
}

int run_rootfs_unmount(struct run_container *c, ctr_err *err) {
  cleanup_free char *target = NULL;
  if (asprintf(&target, "%s/rootfs", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "rootfs");
  if (umount2(target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return ctr_fail(err, errno, "unmount %s", target);
  return 0;
}

int run_config_load(struct run_container *c, json_t **config, ctr_err *err) {
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/config.json", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "config");
  return ctr_json_load_object(AT_FDCWD, path, 16 << 20, config, err);
}

static int seccomp_for(const struct run_opts *o, const json_t *caps, json_t **out, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_free char *buf = NULL;
  const char **names;
  size_t len = 0, n = json_array_size(caps);
  int ret;
  *out = NULL;
  if (o->privileged || (o->seccomp && strcmp(o->seccomp, "unconfined") == 0))
    return 0;
  if (o->seccomp != NULL)
    path = strdup(o->seccomp);
  else if (run_seccomp_default_path(&path, err) < 0)
    return -1;
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "seccomp");
  if (ctr_read_file(AT_FDCWD, path, 4 << 20, &buf, &len, err) < 0)
    return ctr_wrap(err, "seccomp profile");
  names = calloc(n ? n : 1, sizeof(*names));
  if (names == NULL)
    return ctr_fail(err, ENOMEM, "seccomp");
  for (size_t i = 0; i < n; i++)
    names[i] = json_string_value(json_array_get(caps, i));
  ret = run_seccomp_from_profile(buf, len, names, n, out, err);
  free(names);
  if (ret < 0)
    return ctr_wrap(err, "seccomp profile %s", path);
  return 0;
}

/* ctr-init lives next to ctr-run (build tree or bindir), or $CTR_INIT. */
static char *find_init(void) {
  const char *env = getenv("CTR_INIT");
  if (env != NULL && *env)
    return access(env, X_OK) == 0 ? strdup(env) : NULL;
  return run_beside_self("ctr-init");
}

/* In a user namespace the container's root is an unprivileged uid that
 * may not create mount points in directories of the image (owned by the
 * host's root): make them now, from here, inside the rootfs. */
static int prepare_userns(int rootfd, const json_t *config, ctr_err *err) {
  const json_t *maps = json_object_get(json_object_get(config, "linux"), "uidMappings");
  size_t i;
  json_t *m;
  if (json_array_size(maps) == 0)
    return 0;
  json_array_foreach(json_object_get(config, "mounts"), i, m) {
    const char *dst = ctr_json_str(m, "destination");
    const char *src = ctr_json_str(m, "source");
    struct stat st;
    int fd;
    bool file = strcmp(ctr_json_str(m, "type"), "bind") == 0 && src && stat(src, &st) == 0 &&
                !S_ISDIR(st.st_mode);
    if (strncmp(dst, "/proc", 5) == 0 || strncmp(dst, "/dev", 4) == 0 ||
        strncmp(dst, "/sys", 4) == 0)
      continue;
    fd = run_inroot_open(rootfd, dst, file ? RUN_INROOT_MKFILE : RUN_INROOT_MKDIR);
    if (fd < 0)
      return ctr_fail(err, errno, "mount point %s", dst);
    close(fd);
  }
  return 0;
}


int run_create(const struct ctr_paths *p, const struct run_opts *o,
               struct run_container *c, json_t **config_out, ctr_err *err) {
  struct image img = {0};
  struct image_store store;
  bool store_open = false;
  struct run_user user = {0};
  char **lowers = NULL;
  size_t nlowers = 0;
  cleanup_free char *cgpath = NULL, *vols = NULL;
  cleanup_free char *init = o->init ? find_init() : NULL;
  cleanup_close int dfd = -1;
  cleanup_close int rootfd = -1;
  json_t *config = NULL, *seccomp = NULL, *lower;
  cleanup_json json_t *anon_names = NULL;
  cleanup_json json_t *anon_used = json_array();
  cleanup_json json_t *vols_made = json_array();
  json_t *judged_names = NULL;
  const json_t *icfg;
  struct run_idmap idmap = {0};
  bool made = false;
  int ret = -1;

  if (load_image(p, o->image, &store, &img, &judged_names, &lowers, &nlowers, err) < 0)
    goto out;
  store_open = true;
  icfg = json_object_get(img.config, "config");
  if (run_container_new(p, o->name, o->rm, c, err) < 0)
    goto out;
  made = true;
  lower = json_array();
  for (size_t i = 0; i < nlowers; i++)
    json_array_append_new(lower, json_string(lowers[i]));
  json_object_set_new(c->state, "lower", lower);
  json_object_set_new(c->state, "image", json_string(o->image));
  json_object_set_new(c->state, "image_digest", json_string(img.digest));
  json_object_set_new(c->state, "image_id", json_string(img.config_digest));
  json_object_set_new(c->state, "trust_names", judged_names);
  judged_names = NULL;
  dfd = ctr_open_dir(AT_FDCWD, c->dir, err);
  if (dfd < 0 || mkdirat(dfd, "rootfs", 0755) < 0 || mkdirat(dfd, "upper", 0755) < 0 ||
      mkdirat(dfd, "work", 0700) < 0) {
    if (dfd >= 0)
      ctr_fail(err, errno, "container directory");
    goto out;
  }
  /* The writable layer's top is the container root's before the overlay
   * is mounted: overlayfs takes the root's owner from it then. */
  if (o->userns != NULL && strcmp(o->userns, "auto") == 0 &&
      (run_userns_allocate(p, c, &idmap, err) < 0 ||
       fchownat(dfd, "upper", idmap.uid, idmap.gid, 0) < 0)) {
    if (*err == NULL)
      ctr_fail(err, errno, "chown the writable layer");
    goto out;
  }
  if (run_rootfs_mount(c, err) < 0)
    goto out;
  rootfd = ctr_open_dir(dfd, "rootfs", err);
  if (rootfd < 0 ||
      run_user_resolve(rootfd, o->user ? o->user : ctr_json_str(icfg, "User"), &user, err) < 0)
    goto out;
  if (asprintf(&cgpath, "%s/%s", o->cgroup_parent ? o->cgroup_parent : "ctr", c->id) < 0 ||
      asprintf(&vols, "%s/volumes", p->root) < 0) {
    ctr_fail(err, ENOMEM, "create");
    goto out;
  }
  {
    struct run_spec_in in = {.opts = o, .image_config = icfg, .id = c->id, .user = &user,
                             .seccomp = NULL, .cgroups_path = cgpath,
                             .container_dir = c->dir, .volumes_dir = vols,
                             .init_path = init};
    if (run_volume_names(run_spec_anon_max(o, icfg), &anon_names, err) < 0)
      goto out;
    in.anon_names = anon_names;
    in.anon_used = anon_used;
    if (o->userns != NULL && strcmp(o->userns, "auto") == 0) {
      in.uid_base = idmap.uid;
      in.gid_base = idmap.gid;
      in.uid_count = idmap.size;
    }
    /* The seccomp profile depends on the final capability set. */
    if (run_spec_build(&in, &config, err) < 0)
      goto out;
    if (seccomp_for(o, json_object_get(json_object_get(json_object_get(config, "process"),
                                                       "capabilities"), "bounding"),
                    &seccomp, err) < 0)
      goto out;
    if (seccomp != NULL)
      json_object_set_new(json_object_get(config, "linux"), "seccomp", seccomp);
  }
  if (run_net_request(o, icfg, c->state, err) < 0 ||
      write_etc_files(dfd, config, c->state, o->network && strcmp(o->network, "host") == 0,
                      err) < 0 ||
      prepare_userns(rootfd, config, err) < 0 ||
      run_volumes_prepare(p, config, rootfd, vols_made, err) < 0 ||
      ctr_json_save(dfd, "config.json", config, true, !o->rm, err) < 0)
    goto out;
  {
    json_t *st = c->state;
    json_object_set(st, "command", json_object_get(json_object_get(config, "process"), "args"));
    json_object_set_new(st, "labels", o->labels ? json_deep_copy(o->labels) : json_object());
    json_object_set_new(st, "rm", json_boolean(o->rm));
    json_object_set_new(st, "stop_signal", json_string(o->stop_signal ? o->stop_signal : "SIGTERM"));
    json_object_set_new(st, "stop_timeout", json_integer(o->stop_timeout >= 0 ? o->stop_timeout : 10));
    json_object_set_new(st, "restart", json_pack("{s:s, s:i}", "name",
                                                 o->restart_policy ? o->restart_policy : "no",
                                                 "max", o->restart_max));
    json_object_set_new(st, "hostname", json_string(ctr_json_str(config, "hostname")));
    json_object_set(st, "anonymous_volumes", anon_used);
  }
  if (run_container_save(c, true, err) < 0)
    goto out;
  *config_out = config;
  config = NULL;
  ret = 0;
out:
  if (ret < 0 && made) {
    ctr_err e = NULL;
    /* what this create made, and nothing else: a named volume that
     * existed stays */
    run_volumes_remove(p, vols_made, &e);
    ctr_err_free(&e);
    run_rootfs_unmount(c, &e);
    ctr_err_free(&e);
    run_container_delete(c, &e);
    ctr_err_free(&e);
    run_container_free(c);
  }
  if (store_open)
    image_store_close(&store);
  json_decref(judged_names);
  json_decref(config);
  run_user_free(&user);
  image_unpack_free(lowers, nlowers);
  image_free(&img);
  return ret;
}
