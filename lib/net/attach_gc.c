/* ctr-net gc (see attach.h): what containers that no longer run left
 * behind (records, leases, veths, rules, cached CNI results, netns pins,
 * names), released. */
#define _GNU_SOURCE
#include "net/attach_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "run/state.h"

/* ---- gc --------------------------------------------------------------------------------- */

/* Container id exists and has a live process (lib/run's own check). */
static bool container_running(const struct ctr_paths *p, const char *id) {
  struct run_container c = {0};
  cleanup_free char *path = NULL;
  ctr_err e = NULL;
  bool live;
  snprintf(c.id, sizeof(c.id), "%s", id);
  if (asprintf(&path, "%s/containers/%s/state.json", p->root, id) < 0)
    return true; /* when in doubt, keep */
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &c.state, &e) < 0) {
    bool gone = e->errnum == ENOENT;
    ctr_err_free(&e);
    return !gone;
  }
  if (run_state_refresh(p, &c, &e) < 0)
    ctr_err_free(&e);
  live = attach_status_live(ctr_json_str(c.state, "status"));
  json_decref(c.state);
  return live;
}

int attach_gc_line(struct gc *g, ctr_err *err, const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  if (g->n + 1 >= g->cap) {
    char **l = realloc(g->lines, (g->cap * 2 + 16) * sizeof(char *));
    if (l == NULL)
      return ctr_fail(err, ENOMEM, "gc");
    g->lines = l;
    g->cap = g->cap * 2 + 16;
  }
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "gc");
  g->lines[g->n++] = s;
  g->lines[g->n] = NULL;
  return 0;
}

/* Names of the entries of RUNDIR/sub (NULL-ended; empty when missing). */
static char **list_dir(const char *base, const char *sub) {
  cleanup_free char *dir = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  size_t n = 0, cap = 16;
  char **out = calloc(cap + 1, sizeof(char *));
  if (out == NULL || asprintf(&dir, "%s/%s", base, sub) < 0)
    return out;
  d = opendir(dir);
  while (d != NULL && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **o = realloc(out, (cap * 2 + 1) * sizeof(char *));
      if (o == NULL)
        break;
      out = o;
      cap *= 2;
    }
    if ((out[n] = strdup(de->d_name)) != NULL)
      n++;
    out[n] = NULL;
  }
  return out;
}

/* Attachments of containers that do not run any more. */
static int gc_records(struct gc *g, ctr_err *err) {
  char **files = list_dir(g->p->rundir, "networks");
  int rc = 0;
  for (char **f = files; f && *f && rc == 0; f++) {
    char id[256];
    cleanup_close int lock = -1;
    json_t *recs = NULL;
    bool found;
    ctr_err e = NULL;
    if (!attach_json_id(*f, id, sizeof(id)))
      continue;
    if (container_running(g->p, id)) {
      if (net_attachments_load(g->p, id, &recs, &e) == 0)
        json_object_set_new(g->live, id, recs);
      ctr_err_free(&e);
      continue;
    }
    lock = attach_container_lock(g->p, id, err);
    if (lock < 0) {
      rc = -1;
      break;
    }
    if (attach_release(g->p, id, NULL, &found, g, &e) < 0) {
      ctr_warn("gc: container %.12s: %s", id, e->msg);
      ctr_err_free(&e);
    }
  }
  net_names_free(files);
  return rc;
}

/* A lease of id belongs to a running container (no connect is in
 * progress: gc holds the gc lock). */
static bool lease_kept(struct gc *g, const char *id) {
  return json_object_get(g->live, id) != NULL || container_running(g->p, id);
}

/* ctr's own networks: what the leases, veths and rules of containers
 * without a record left (a connect killed half-way). */
static int gc_builtin(struct gc *g, const struct net_config *cfg, ctr_err *err) {
  cleanup_bridge_conf struct net_bridge_conf bc = {0};
  struct net_lease_info *before = NULL;
  struct net_attachment *keep = NULL;
  size_t nb = 0, nkeep = 0;
  int rc = -1;
  if (net_bridge_conf_load(g->p, cfg->name, &bc, err) < 0 ||
      net_lease_info_list(g->p, cfg->name, &before, &nb, err) < 0)
    return -1;
  keep = calloc(nb + 1, sizeof(*keep));
  if (keep == NULL) {
    ctr_fail(err, ENOMEM, "gc");
    goto out;
  }
  for (size_t i = 0; i < nb; i++)
    if (before[i].container != NULL && lease_kept(g, before[i].container))
      keep[nkeep++] = (struct net_attachment){before[i].container,
                                              before[i].ifname ? before[i].ifname : ""};
  if (net_bridge_gc(&bc, keep, nkeep, err) < 0)
    goto out;
  rc = 0;
  for (size_t i = 0; i < nb && rc == 0; i++) {
    bool kept = false;
    for (size_t k = 0; k < nkeep; k++)
      kept = kept || keep[k].id == before[i].container;
    if (!kept)
      rc = attach_gc_line(g, err, "lease %s %s %.12s", cfg->name, before[i].address,
                          before[i].container ? before[i].container : "?");
  }
out:
  free(keep);
  net_lease_info_free(before, nb);
  return rc;
}

/* External networks: cached ADD results of containers that do not run
 * and have no record (a connect killed after ADD). */
static int gc_cache(struct gc *g, ctr_err *err) {
  cleanup_free char *sub = NULL;
  char **nets = list_dir(g->p->rundir, "networks/cache");
  int rc = 0;
  for (char **n = nets; n && *n && rc == 0; n++) {
    char **files;
    free(sub);
    if (asprintf(&sub, "networks/cache/%s", *n) < 0) {
      sub = NULL;
      continue;
    }
    files = list_dir(g->p->rundir, sub);
    for (char **f = files; f && *f && rc == 0; f++) {
      char id[256], *dash;
      json_t *rec;
      ctr_err e = NULL;
      if (!attach_json_id(*f, id, sizeof(id)))
        continue;
      dash = strrchr(id, '-');
      if (dash == NULL)
        continue;
      *dash = '\0';
      if (lease_kept(g, id))
        continue;
      rec = json_pack("{s:s, s:s, s:s}", "network", *n, "ifname", dash + 1, "driver", "");
      if (rec != NULL && attach_detach_record(g->p, id, rec, &e) == 0)
        rc = attach_gc_line(g, err, "attachment %s %.12s %s -", *n, id, dash + 1);
      else if (e != NULL)
        ctr_warn("gc: network %s, container %.12s: %s", *n, id, e->msg);
      ctr_err_free(&e);
      json_decref(rec);
    }
    net_names_free(files);
  }
  net_names_free(nets);
  return rc;
}

static int gc_netns(struct gc *g, ctr_err *err) {
  char **pins = list_dir(g->p->rundir, "netns");
  int rc = 0;
  for (char **n = pins; n && *n && rc == 0; n++) {
    if (container_running(g->p, *n))
      continue;
    attach_netns_unpin(g->p, *n);
    rc = attach_gc_line(g, err, "netns %.12s", *n);
  }
  net_names_free(pins);
  return rc;
}

/* Hosts files: rebuilt for every network there is, removed for the rest. */
static int gc_names(struct gc *g, const struct net_config *nets, size_t n, ctr_err *err) {
  char **files = list_dir(g->p->rundir, "networks");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    ctr_err e = NULL;
    cleanup_free char *before = NULL, *path = NULL;
    size_t len;
    if (asprintf(&path, "%s/networks/%s.hosts", g->p->rundir, nets[i].name) < 0 ||
        ctr_read_file(AT_FDCWD, path, RECORDS_MAX, &before, &len, &e) < 0) {
      ctr_err_free(&e);
      continue; /* no names: nothing stale */
    }
    switch (attach_names_update(g->p, &nets[i], &e)) {
    case -1: ctr_err_free(&e); break;
    case 1: rc = attach_gc_line(g, err, "names %s", nets[i].name); break;
    default: break;
    }
  }
  for (char **f = files; f && *f && rc == 0; f++) {
    size_t len = strlen(*f);
    bool known = false;
    if (len <= 6 || strcmp(*f + len - 6, ".hosts") != 0)
      continue;
    for (size_t i = 0; i < n; i++)
      known = known || (strlen(nets[i].name) == len - 6 &&
                        strncmp(nets[i].name, *f, len - 6) == 0);
    if (!known) {
      cleanup_free char *path = NULL;
      if (asprintf(&path, "%s/networks/%s", g->p->rundir, *f) >= 0)
        unlink(path);
      rc = attach_gc_line(g, err, "names %.*s", (int)(len - 6), *f);
    }
  }
  net_names_free(files);
  return rc;
}

int net_gc(const struct ctr_paths *p, char ***released, ctr_err *err) {
  struct gc g = {.p = p, .live = json_object()};
  struct net_config *nets = NULL;
  cleanup_close int gclock = attach_gc_lock(p, LOCK_EX, err);
  size_t n = 0;
  int rc = -1;
  *released = NULL;
  if (gclock < 0) {
    json_decref(g.live);
    return -1;
  }
  g.lines = calloc(17, sizeof(char *));
  g.cap = 16;
  if (g.lines == NULL || g.live == NULL) {
    ctr_fail(err, ENOMEM, "gc");
    goto out;
  }
  if (gc_records(&g, err) < 0 || net_config_list(p, &nets, &n, err) < 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    ctr_err e = NULL;
    if (!nets[i].builtin || !nets[i].on_disk)
      continue;
    if (gc_builtin(&g, &nets[i], &e) < 0) {
      if (e != NULL && e->errnum == ENOMEM) {
        *err = e;
        goto out;
      }
      ctr_warn("gc: network %s: %s", nets[i].name, e ? e->msg : "failed");
      ctr_err_free(&e);
    }
  }
  if (gc_cache(&g, err) < 0 || gc_netns(&g, err) < 0)
    goto out;
  /* names last, from the records that are left */
  if (gc_names(&g, nets, n, err) < 0)
    goto out;
  rc = 0;
out:
  net_config_list_free(nets, n);
  json_decref(g.live);
  if (rc < 0) {
    net_names_free(g.lines);
    return -1;
  }
  *released = g.lines;
  return 0;
}
