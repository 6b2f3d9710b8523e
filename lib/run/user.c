#define _GNU_SOURCE
#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"

/* Split a line into at most n ':'-separated fields, in place. */
static size_t fields(char *line, char **f, size_t n) {
  size_t k = 0;
  f[k++] = line;
  for (char *p = line; *p && k < n; p++)
    if (*p == ':') {
      *p = '\0';
      f[k++] = p + 1;
    }
  return k;
}

static bool parse_id(const char *s, long *out) {
  char *end;
  long v;
  if (*s == '\0')
    return false;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 0xfffffffeL)
    return false;
  *out = v;
  return true;
}

/* Lines of a private copy of a file's text: `for (l = first_line(&it, t);
 * l; l = next_line(&it))`; free it.copy after. */
struct lines {
  char *copy, *save;
};
static char *first_line(struct lines *it, const char *text) {
  it->save = NULL;
  it->copy = strdup(text);
  return it->copy ? strtok_r(it->copy, "\n", &it->save) : NULL;
}
static char *next_line(struct lines *it) { return strtok_r(NULL, "\n", &it->save); }

int run_passwd_lookup(const char *text, const char *name, long id, uid_t *uid,
                      gid_t *gid, char *home, size_t homelen) {
  int found = 0;
  struct lines it;
  for (char *line = first_line(&it, text); line; line = next_line(&it)) {
    char *f[7];
    long u, g;
    if (found || line[0] == '#' || fields(line, f, 7) < 7)
      continue;
    if (!parse_id(f[2], &u) || !parse_id(f[3], &g))
      continue;
    if (name != NULL ? strcmp(f[0], name) != 0 : u != id)
      continue;
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    if (home != NULL)
      snprintf(home, homelen, "%s", f[5]);
    found = 1;
  }
  free(it.copy);
  return found;
}

int run_group_lookup(const char *text, const char *name, long id, gid_t *gid) {
  int found = 0;
  struct lines it;
  for (char *line = first_line(&it, text); line; line = next_line(&it)) {
    char *f[4];
    long g;
    if (found || line[0] == '#' || fields(line, f, 4) < 3 || !parse_id(f[2], &g))
      continue;
    if (name != NULL ? strcmp(f[0], name) != 0 : g != id)
      continue;
    *gid = (gid_t)g;
    found = 1;
  }
  free(it.copy);
  return found;
}

size_t run_group_members(const char *text, const char *name, gid_t *out,
                         size_t max) {
  size_t n = 0;
  struct lines it;
  for (char *line = first_line(&it, text); line; line = next_line(&it)) {
    char *f[4], *save = NULL;
    long g;
    if (n >= max || line[0] == '#' || fields(line, f, 4) < 4 || !parse_id(f[2], &g))
      continue;
    for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
      if (strcmp(m, name) == 0 && n < max) {
        out[n++] = (gid_t)g;
        break;
      }}
  free(it.copy);
  return n;
}

/* Read a file of the image, resolving symlinks as if root were "/". */
static char *read_in_root(int rootfd, const char *path) {
  struct open_how how = {
      .flags = O_RDONLY | O_CLOEXEC,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  cleanup_close int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  char *buf = NULL;
  ctr_err e = NULL;
  if (fd < 0 && errno == ENOSYS)
    fd = ctr_open_beneath(rootfd, path, O_RDONLY); /* no symlinks at all then */
  if (fd < 0)
    return NULL;
  if (ctr_read_fd(fd, 16 << 20, &buf, NULL, &e) < 0) {
    ctr_err_free(&e);
    return NULL;
  }
  return buf;
}

int run_user_resolve(int rootfd, const char *spec, struct run_user *u,
                     ctr_err *err) {
  cleanup_free char *passwd = read_in_root(rootfd, "etc/passwd");
  cleanup_free char *group = read_in_root(rootfd, "etc/group");
  cleanup_free char *copy = NULL;
  char home[4096] = "/";
  char *user, *grp;
  long id;
  uid_t uid = 0;
  gid_t gid = 0;
  bool named = false;

  memset(u, 0, sizeof(*u));
  copy = strdup(spec && *spec ? spec : "0");
  if (copy == NULL)
    return ctr_fail(err, ENOMEM, "user");
  user = copy;
  grp = strchr(copy, ':');
  if (grp != NULL)
    *grp++ = '\0';
  if (*user == '\0')
    return ctr_usage(err, "invalid user '%s'", spec);
  if (parse_id(user, &id)) {
    uid = (uid_t)id;
    /* A bare uid need not exist in passwd; its gid is then 0 (docker). */
    if (passwd == NULL || !run_passwd_lookup(passwd, NULL, id, &uid, &gid, home, sizeof(home)))
      gid = 0;
    else
      named = true;
  } else {
    if (passwd == NULL || !run_passwd_lookup(passwd, user, -1, &uid, &gid, home, sizeof(home)))
      return ctr_fail(err, 0, "unable to find user %s: no matching entries in passwd file", user);
    named = true;
  }
  if (grp != NULL) {
    if (*grp == '\0')
      return ctr_usage(err, "invalid user '%s'", spec);
    if (parse_id(grp, &id))
      gid = (gid_t)id;
    else if (group == NULL || !run_group_lookup(group, grp, -1, &gid))
      return ctr_fail(err, 0, "unable to find group %s: no matching entries in group file", grp);
  }
  u->uid = uid;
  u->gid = gid;
  if (named && group != NULL) {
    char name[256] = "";
    /* the user's name, for membership, when given by uid */
    struct lines it;
    for (char *line = first_line(&it, passwd); line && name[0] == '\0'; line = next_line(&it)) {
      char *f[7];
      long pu;
      if (fields(line, f, 7) == 7 && parse_id(f[2], &pu) && (uid_t)pu == uid)
        snprintf(name, sizeof(name), "%s", f[0]);
    }
    free(it.copy);
    u->ngroups = run_group_members(group, name, u->groups, sizeof(u->groups) / sizeof(u->groups[0]));
  }
  u->home = strdup(home);
  return 0;
}

void run_user_free(struct run_user *u) {
  free((char *)u->home);
  u->home = NULL;
}
