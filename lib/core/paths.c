#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"

static char *absolute(const char *path) {
  char *cwd, *out = NULL;
  if (path[0] == '/')
    return strdup(path);
  cwd = getcwd(NULL, 0);
  if (cwd == NULL)
    return NULL;
  if (asprintf(&out, "%s/%s", cwd, path) < 0)
    out = NULL;
  free(cwd);
  return out;
}

static char *pick(const char *opt, const char *env, const char *root_default,
                  const char *xdg, const char *xdg_fallback) {
  const char *v = opt ? opt : getenv(env);
  char *out = NULL;
  if (v != NULL && v[0] != '\0')
    return absolute(v);
  if (geteuid() == 0)
    return strdup(root_default);
  v = getenv(xdg);
  if (v != NULL && v[0] == '/') {
    if (asprintf(&out, "%s/ctr", v) < 0)
      return NULL;
    return out;
  }
  if (xdg_fallback != NULL) {
    const char *home = getenv("HOME");
    if (home == NULL)
      return NULL;
    if (asprintf(&out, "%s/%s/ctr", home, xdg_fallback) < 0)
      return NULL;
    return out;
  }
  if (asprintf(&out, "/tmp/ctr-%u", (unsigned)geteuid()) < 0)
    return NULL;
  return out;
}

int ctr_paths_init(struct ctr_paths *p, const char *root_opt,
                   const char *rundir_opt, ctr_err *err) {
  p->root = pick(root_opt, "CTR_ROOT", "/var/lib/ctr", "XDG_DATA_HOME",
                 ".local/share");
  p->rundir = pick(rundir_opt, "CTR_RUNDIR", "/run/ctr", "XDG_RUNTIME_DIR",
                   NULL);
  if (p->root == NULL || p->rundir == NULL) {
    ctr_paths_free(p);
    return ctr_fail(err, ENOMEM, "resolve the store's location");
  }
  return 0;
}

void ctr_paths_free(struct ctr_paths *p) {
  free(p->root);
  free(p->rundir);
  p->root = p->rundir = NULL;
}

int ctr_paths_open(const char *base, const char *sub, ctr_err *err) {
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s", base, sub) < 0)
    return ctr_fail(err, ENOMEM, "open %s", sub);
  if (ctr_mkdir_p(AT_FDCWD, path, 0700, err) < 0)
    return -1;
  return ctr_open_dir(AT_FDCWD, path, err);
}
