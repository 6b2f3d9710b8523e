/* The records of what containers are attached to, and what is made of
 * them: $CTR_RUNDIR/networks/<id>.json, the networks' hosts files and
 * their name servers (see attach.h). */
#define _GNU_SOURCE
#include "net/attach_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/log.h"
#include "net/dns_server.h"
#include "net/ipam.h"
#include "net/plugin_overlay.h"

/* ---- pure helpers ---------------------------------------------------------- */

bool net_alias_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
      return false;
  return true;
}

static int by_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *net_hosts_render(const char *network, const json_t *containers) {
  size_t n = json_object_size(containers), k = 0, len = 0;
  cleanup_free const char **ids = calloc(n + 1, sizeof(char *));
  char *buf = NULL;
  FILE *f;
  const char *id;
  const json_t *v;
  if (ids == NULL || (f = open_memstream(&buf, &len)) == NULL)
    return NULL;
  json_object_foreach((json_t *)containers, id, v) {
    ids[k++] = id;
  }
  qsort(ids, k, sizeof(*ids), by_key); /* the same records, the same file */
  for (size_t i = 0; i < k; i++) {
    const json_t *c = json_object_get(containers, ids[i]), *r, *a;
    const char *name = ctr_json_str(c, "name");
    size_t j, m;
    json_array_foreach(json_object_get(c, "records"), j, r) {
      const char *net = ctr_json_str(r, "network"), *ip = ctr_json_str(r, "ip");
      if (net == NULL || ip == NULL || strcmp(net, network) != 0)
        continue;
      fprintf(f, "%s", ip);
      if (name != NULL && net_alias_valid(name))
        fprintf(f, " %s", name);
      fprintf(f, " %.12s", ids[i]);
      json_array_foreach(json_object_get(r, "aliases"), m, a)
        if (json_is_string(a) && net_alias_valid(json_string_value(a)))
          fprintf(f, " %s", json_string_value(a));
      fprintf(f, " # %s\n", ids[i]);
    }
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

bool attach_json_id(const char *file, char *id, size_t cap) {
  size_t n = strlen(file);
  if (n <= 5 || n >= cap || strcmp(file + n - 5, ".json") != 0)
    return false;
  snprintf(id, cap, "%.*s", (int)(n - 5), file);
  return true;
}

/* ---- records ------------------------------------------------------------------ */

static int records_dir(const struct ctr_paths *p, ctr_err *err) {
  return ctr_paths_open(p->rundir, "networks", err);
}

int net_attachments_load(const struct ctr_paths *p, const char *id,
                         json_t **out, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_free char *buf = NULL;
  json_error_t je;
  size_t len;
  ctr_err e = NULL;
  *out = NULL;
  if (asprintf(&path, "%s/networks/%s.json", p->rundir, id) < 0)
    return ctr_fail(err, ENOMEM, "attachments of %s", id);
  if (ctr_read_file(AT_FDCWD, path, RECORDS_MAX, &buf, &len, &e) < 0) {
    if (e->errnum != ENOENT) {
      *err = e;
      return -1;
    }
    ctr_err_free(&e);
    *out = json_array();
    return *out ? 0 : ctr_fail(err, ENOMEM, "attachments of %s", id);
  }
  *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!json_is_array(*out)) {
    json_decref(*out);
    *out = NULL;
    return ctr_fail(err, 0, "%s: not a JSON array of attachments", path);
  }
  return 0;
}

int attach_records_save(const struct ctr_paths *p, const char *id,
                        const json_t *records, ctr_err *err) {
  cleanup_close int dfd = records_dir(p, err);
  cleanup_free char *name = NULL;
  if (dfd < 0)
    return -1;
  if (asprintf(&name, "%s.json", id) < 0)
    return ctr_fail(err, ENOMEM, "attachments of %s", id);
  if (json_array_size(records) == 0) {
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
      return ctr_fail(err, errno, "remove %s", name);
    return 0;
  }
  /* volatile state of running containers: tmpfs, no fsync */
  return ctr_json_save(dfd, name, records, true, false, err);
}

int attach_gc_lock(const struct ctr_paths *p, int op, ctr_err *err) {
  return ctr_lock(p, "net-gc", op, err);
}

int attach_container_lock(const struct ctr_paths *p, const char *id,
                          ctr_err *err) {
  char name[96];
  snprintf(name, sizeof(name), "net-%.80s", id);
  return ctr_lock(p, name, LOCK_EX, err);
}

/* ---- the network's shared files ---------------------------------------------------- */

/* Where the network's leases (and their lock) are. */
static char *network_data_dir(const struct ctr_paths *p, const json_t *conflist) {
  const json_t *pl = json_array_get(json_object_get(conflist, "plugins"), 0);
  const char *d = ctr_json_str(pl, "dataDir");
  char *out = NULL;
  if (d == NULL)
    d = ctr_json_str(json_object_get(pl, "ipam"), "dataDir");
  if (d != NULL && d[0] == '/')
    return strdup(d);
  if (asprintf(&out, "%s/networks", p->root) < 0)
    return NULL;
  return out;
}

static bool on_network(const json_t *recs, const char *network) {
  const json_t *r;
  size_t i;
  json_array_foreach(recs, i, r) {
    const char *n = ctr_json_str(r, "network");
    if (n != NULL && strcmp(n, network) == 0)
      return true;
  }
  return false;
}

/* The records of every container on `network`: {id: {name, records}}. */
static json_t *collect(const struct ctr_paths *p, const char *network) {
  json_t *all = json_object();
  cleanup_free char *dir = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  if (all == NULL || asprintf(&dir, "%s/networks", p->rundir) < 0)
    return all;
  d = opendir(dir);
  while (d != NULL && (de = readdir(d)) != NULL) {
    char id[256];
    json_t *recs = NULL, *st = NULL;
    cleanup_free char *sp = NULL;
    ctr_err e = NULL;
    if (de->d_name[0] == '.' || !attach_json_id(de->d_name, id, sizeof(id)))
      continue;
    if (net_attachments_load(p, id, &recs, &e) < 0) {
      ctr_err_free(&e);
      continue;
    }
    if (!on_network(recs, network)) {
      json_decref(recs);
      continue;
    }
    if (asprintf(&sp, "%s/containers/%s/state.json", p->root, id) >= 0 &&
        ctr_json_load_object(AT_FDCWD, sp, 1 << 20, &st, &e) < 0)
      ctr_err_free(&e);
    json_object_set_new(all, id,
                        json_pack("{s:s?, s:o}", "name", ctr_json_str(st, "name"),
                                  "records", recs));
    json_decref(st);
  }
  return all;
}

/* Rebuild RUNDIR/networks/<network>.hosts under the lease lock; 1 when
 * it changed, *empty when it has no line (the file is then removed). */
static int hosts_rebuild(const struct ctr_paths *p, const char *network,
                         const char *data_dir, bool *empty, ctr_err *err) {
  struct net_ipam lock = {-1, -1};
  cleanup_json json_t *all = NULL;
  cleanup_free char *text = NULL;
  cleanup_free char *name = NULL;
  cleanup_free char *old = NULL;
  cleanup_close int dfd = records_dir(p, err);
  size_t oldlen = 0;
  int rc = 0;
  ctr_err e = NULL;
  if (dfd < 0)
    return -1;
  if (asprintf(&name, "%s.hosts", network) < 0)
    return ctr_fail(err, ENOMEM, "hosts of %s", network);
  if (data_dir != NULL && net_ipam_open(data_dir, network, &lock, err) < 0)
    return ctr_wrap(err, "hosts of %s", network);
  all = collect(p, network);
  text = all ? net_hosts_render(network, all) : NULL;
  if (text == NULL) {
    net_ipam_close(&lock);
    return ctr_fail(err, ENOMEM, "hosts of %s", network);
  }
  *empty = text[0] == '\0';
  if (ctr_read_file(dfd, name, RECORDS_MAX, &old, &oldlen, &e) < 0)
    ctr_err_free(&e);
  if (old != NULL && strcmp(old, text) == 0)
    rc = 0;
  else if (*empty)
    rc = unlinkat(dfd, name, 0) == 0 ? 1 : 0;
  else
    rc = ctr_atomic_write(dfd, name, text, strlen(text), 0644, false, err) < 0 ? -1 : 1;
  net_ipam_close(&lock);
  return rc;
}

int attach_names_update(const struct ctr_paths *p, const struct net_config *cfg,
                        ctr_err *err) {
  cleanup_free char *data_dir = network_data_dir(p, cfg->conflist);
  bool empty = true;
  int changed;
  if (data_dir == NULL)
    return ctr_fail(err, ENOMEM, "hosts of %s", cfg->name);
  changed = hosts_rebuild(p, cfg->name, data_dir, &empty, err);
  if (changed < 0)
    return -1;
  if (empty) {
    net_dns_stop_if_idle(p, cfg->name);
  } else if (cfg->builtin) {
    cleanup_bridge_conf struct net_bridge_conf bc = {0};
    char gw[NET_IP4_STRLEN], pbuf[NET_OVERLAY_PEERS_MAX][NET_IP4_STRLEN];
    const char *peers[NET_OVERLAY_PEERS_MAX + 1] = {NULL};
    ctr_err e = NULL;
    if (net_bridge_conf_load(p, cfg->name, &bc, &e) == 0) {
      net_ip4_format(bc.gateway, gw);
      /* the name servers of the overlay's other hosts */
      net_overlay_peer_gateways(&bc, pbuf, peers, NET_OVERLAY_PEERS_MAX + 1);
      /* an internal network's names stay inside it: no upstream */
      if (net_dns_ensure_flags(p, cfg->name, gw, peers,
                               bc.internal ? NET_DNS_NO_UPSTREAM : 0, &e) < 0)
        ctr_warn("network %s: name server: %s", cfg->name, e->msg);
    }
    ctr_err_free(&e);
  }
  return changed;
}
