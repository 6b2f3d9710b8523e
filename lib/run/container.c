#define _GNU_SOURCE
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"

static int random_bytes(unsigned char *buf, size_t n, ctr_err *err) {
  cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, buf, n) != (ssize_t)n)
    return ctr_fail(err, errno, "read /dev/urandom");
  return 0;
}

static bool valid_name(const char *n) {
  /* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
  if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
        (n[0] >= '0' && n[0] <= '9')) || strlen(n) < 2 || strlen(n) > 128)
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
      return false;
  return true;
}

static const char *const adjectives[] = {
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen",
    "lucid", "merry", "nifty", "proud", "quiet", "rapid", "sharp", "tidy",
    "vivid", "witty", "zesty", "bold", "crisp", "deft", "fond", "glad"};
static const char *const nouns[] = {
    "otter", "falcon", "maple", "comet", "harbor", "lynx", "quartz", "raven",
    "cedar", "delta", "ember", "fjord", "glacier", "heron", "iris", "juniper",
    "kestrel", "lotus", "meadow", "nova", "orchid", "pebble", "ridge", "summit"};

/* Traversable (0711) but not listable by others: a container in a user
 * namespace runs as an unprivileged uid and must reach its own bundle. */
static int containers_dir(const struct ctr_paths *p, ctr_err *err) {
  int fd = ctr_paths_open(p->root, "containers", err);
  struct stat st;
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) == 0 && (st.st_mode & 0111) != 0111)
    fchmod(fd, (st.st_mode & 07777) | 0111);
  if (stat(p->root, &st) == 0 && (st.st_mode & 0111) != 0111)
    chmod(p->root, (st.st_mode & 07777) | 0111);
  return fd;
}

static bool name_taken(int dfd, const char *name) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return true;
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return true;
  }
  /* the dup shares dfd's offset, which an earlier scan left at the end */
  rewinddir(d);
  while ((de = readdir(d)) != NULL) {
    char path[128];
    json_t *st = NULL;
    ctr_err e = NULL;
    bool hit;
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%.70s/state.json", de->d_name);
    if (ctr_json_load_object(dfd, path, 1 << 20, &st, &e) < 0) {
      ctr_err_free(&e);
      continue;
    }
    hit = ctr_json_str(st, "name") && strcmp(ctr_json_str(st, "name"), name) == 0;
    json_decref(st);
    if (hit)
      return true;
  }
  return false;
}

int run_container_new(const struct ctr_paths *p, const char *name, bool ephemeral,
                      struct run_container *c, ctr_err *err) {
  cleanup_close int lock = -1;
  cleanup_close int dfd = -1;
  char gen[64], created[64];
  unsigned char r[34];

  memset(c, 0, sizeof(*c));
  c->ephemeral = ephemeral;
  if (name != NULL && !valid_name(name))
    return ctr_usage(err, "invalid container name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
  lock = ctr_lock(p, "containers", LOCK_EX, err);
  if (lock < 0)
    return -1;
  dfd = containers_dir(p, err);
  if (dfd < 0)
    return -1;
  if (name != NULL && name_taken(dfd, name))
    return ctr_fail(err, 0, "the container name \"%s\" is already in use", name);
  for (int tries = 0; name == NULL; tries++) {
    if (random_bytes(r, 2, err) < 0)
      return -1;
    snprintf(gen, sizeof(gen), "%s_%s", adjectives[r[0] % 24], nouns[r[1] % 24]);
    if (tries > 20) {
      size_t l = strlen(gen);
      snprintf(gen + l, sizeof(gen) - l, "%d", tries);
    }
    if (!name_taken(dfd, gen))
      name = gen;
  }
  if (random_bytes(r, 32, err) < 0)
    return -1;
  for (int i = 0; i < 32; i++)
    snprintf(c->id + 2 * i, 3, "%02x", r[i]);
  if (mkdirat(dfd, c->id, 0711) < 0)
    return ctr_fail(err, errno, "create container directory");
  if (asprintf(&c->dir, "%s/containers/%s", p->root, c->id) < 0)
    return ctr_fail(err, ENOMEM, "container");
  ctr_now_rfc3339(created, sizeof(created));
  c->state = json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "name", name,
                       "created", created, "status", "created");
  if (c->state == NULL || run_container_save(c, true, err) < 0) {
    ctr_err e = NULL;
    ctr_rm_rf(dfd, c->id, &e);
    ctr_err_free(&e);
    run_container_free(c);
    return c->state ? -1 : ctr_fail(err, ENOMEM, "container");
  }
  return 0;
}

int run_container_save(struct run_container *c, bool durable, ctr_err *err) {
  cleanup_close int fd = ctr_open_dir(AT_FDCWD, c->dir, err);
  if (fd < 0)
    return -1;
  return ctr_json_save(fd, "state.json", c->state, true, durable && !c->ephemeral, err);
}

int run_container_save_fresh(struct run_container *c, bool durable, ctr_err *err) {
  static const char *const theirs[] = {"networks", "ports"};
  cleanup_free char *path = NULL;
  cleanup_json json_t *now = NULL;
  ctr_err e = NULL;
  if (asprintf(&path, "%s/state.json", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "container");
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &now, &e) < 0) {
    ctr_err_free(&e); /* gone or unreadable: ours is all there is */
  } else {
    for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++) {
      json_t *v = json_object_get(now, theirs[i]);
      if (v != NULL)
        json_object_set(c->state, theirs[i], v);
      else
        json_object_del(c->state, theirs[i]);
    }
  }
  return run_container_save(c, durable, err);
}

static int load(const struct ctr_paths *p, const char *id, struct run_container *c,
                ctr_err *err) {
  cleanup_free char *path = NULL;
  memset(c, 0, sizeof(*c));
  snprintf(c->id, sizeof(c->id), "%s", id);
  if (asprintf(&c->dir, "%s/containers/%s", p->root, id) < 0 ||
      asprintf(&path, "%s/state.json", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "container");
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &c->state, err) < 0) {
    run_container_free(c);
    return -1;
  }
  c->ephemeral = json_is_true(json_object_get(c->state, "rm"));
  return 0;
}

int run_container_find(const struct ctr_paths *p, const char *ref,
                       struct run_container *c, ctr_err *err) {
  cleanup_json json_t *all = NULL;
  const char *match = NULL;
  size_t i, n = strlen(ref);
  json_t *st;
  if (run_container_list(p, &all, err) < 0)
    return -1;
  json_array_foreach(all, i, st) {
    const char *name = ctr_json_str(st, "name");
    if ((name && strcmp(name, ref) == 0) || strcmp(ctr_json_str(st, "id"), ref) == 0) {
      match = ctr_json_str(st, "id");
      break;
    }
  }
  if (match == NULL && n > 0 && n < 64)
    json_array_foreach(all, i, st) {
      const char *id = ctr_json_str(st, "id");
      if (strncmp(id, ref, n) != 0)
        continue;
      if (match != NULL)
        return ctr_fail(err, 0, "%s: ambiguous, matches more than one container", ref);
      match = id;
    }
  if (match == NULL)
    return ctr_fail(err, 0, "no such container: %s", ref);
  return load(p, match, c, err);
}

int run_container_list(const struct ctr_paths *p, json_t **states, ctr_err *err) {
  cleanup_free char *dir = NULL;
  cleanup_dir DIR *d = NULL;
  json_t *out = json_array();
  struct dirent *de;
  if (asprintf(&dir, "%s/containers", p->root) < 0)
    return ctr_fail(err, ENOMEM, "list");
  d = opendir(dir);
  if (d == NULL && errno != ENOENT) {
    json_decref(out);
    return ctr_fail(err, errno, "%s", dir);
  }
  while (d != NULL && (de = readdir(d)) != NULL) {
    char path[300];
    json_t *st = NULL;
    ctr_err e = NULL;
    if (strlen(de->d_name) != 64)
      continue;
    snprintf(path, sizeof(path), "%s/state.json", de->d_name);
    if (ctr_json_load_object(dirfd(d), path, 1 << 20, &st, &e) < 0) {
      ctr_err_free(&e); /* half-created: not a container yet */
      continue;
    }
    /* A state.json that does not name its own directory is not one of
     * ours (or was damaged): leave it out rather than trust it. */
    if (ctr_json_str(st, "id") == NULL || strcmp(ctr_json_str(st, "id"), de->d_name) != 0 ||
        ctr_json_str(st, "created") == NULL) {
      ctr_warn("ignoring %s/containers/%s: state.json lacks id or created", p->root,
               de->d_name);
      json_decref(st);
      continue;
    }
    json_array_append_new(out, st);
  }
  /* creation order: RFC 3339 UTC strings sort as times do */
  for (size_t i = 1; i < json_array_size(out); i++)
    for (size_t k = i; k > 0; k--) {
      json_t *a = json_array_get(out, k - 1), *b = json_array_get(out, k);
      if (strcmp(ctr_json_str(a, "created"), ctr_json_str(b, "created")) <= 0)
        break;
      json_incref(a);
      json_array_set(out, k - 1, b);
      json_array_set_new(out, k, a);
    }
  *states = out;
  return 0;
}

int run_container_delete(struct run_container *c, ctr_err *err) {
  if (ctr_rm_rf(AT_FDCWD, c->dir, err) < 0)
    return ctr_wrap(err, "remove container %.12s", c->id);
  return 0;
}

void run_container_free(struct run_container *c) {
  free(c->dir);
  json_decref(c->state);
  c->dir = NULL;
  c->state = NULL;
}
