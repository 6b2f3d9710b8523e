/* ctr-net connect and disconnect (see attach.h): a container's request
 * checked, attached or released under its lock, recorded, named, and
 * kept in its state.json. */
#define _GNU_SOURCE
#include "net/attach_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"
#include "net/cni.h"
#include "net/link.h"
#include "run/state.h"

/* ---- pure helpers ---------------------------------------------------------- */

static bool ifname_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > NET_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '/' || s[i] == ':' || !isgraph((unsigned char)s[i]))
      return false;
  return true;
}

void net_attach_next_ifname(const json_t *records, char out[16]) {
  for (unsigned n = 0;; n++) {
    const json_t *r;
    size_t i;
    bool used = false;
    snprintf(out, 16, "eth%u", n);
    json_array_foreach(records, i, r) {
      const char *f = ctr_json_str(r, "ifname");
      used = used || (f != NULL && strcmp(f, out) == 0);
    }
    if (!used)
      return;
  }
}

/* ---- containers ------------------------------------------------------------------ */


/* state.json changed under the container's lock (the flock on its
 * directory that ctr-stop and the monitor's take-over hold): reloaded,
 * edited by fn, saved. */
static int state_edit(const struct run_container *c,
                      void (*fn)(json_t *state, const void *arg),
                      const void *arg, ctr_err *err) {
  struct run_container fresh = {0};
  cleanup_close int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *path = NULL;
  int rc;
  if (fd < 0)
    return ctr_fail(err, errno, "open %s", c->dir);
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return ctr_fail(err, errno, "lock container %.12s", c->id);
  if (asprintf(&path, "%s/state.json", c->dir) < 0)
    return ctr_fail(err, ENOMEM, "state");
  memcpy(fresh.id, c->id, sizeof(fresh.id));
  fresh.dir = c->dir;
  fresh.ephemeral = c->ephemeral;
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &fresh.state, err) < 0)
    return -1;
  fn(fresh.state, arg);
  rc = run_container_save(&fresh, true, err);
  json_decref(fresh.state);
  return rc;
}

static const char *entry_name(const json_t *e) {
  return json_is_string(e) ? json_string_value(e) : ctr_json_str(e, "name");
}

static void state_drop_network(json_t *state, const void *arg) {
  json_t *nets = json_object_get(state, "networks");
  for (size_t i = json_array_size(nets); i-- > 0;) {
    const char *n = entry_name(json_array_get(nets, i));
    if (n != NULL && strcmp(n, arg) == 0)
      json_array_remove(nets, i);
  }
}

struct state_add {
  const struct net_connect_opts *o;
};

static void state_add_network(json_t *state, const void *arg) {
  const struct net_connect_opts *o = ((const struct state_add *)arg)->o;
  json_t *nets = json_object_get(state, "networks"), *ports, *aliases, *e;
  if (!json_is_array(nets)) {
    nets = json_array();
    json_object_set_new(state, "networks", nets);
  }
  state_drop_network(state, o->network);
  aliases = json_array();
  for (size_t i = 0; i < o->naliases; i++)
    json_array_append_new(aliases, json_string(o->aliases[i]));
  e = json_pack("{s:s, s:o, s:o, s:o}", "name", o->network, "aliases", aliases, "ip",
                o->ip ? json_string(o->ip) : json_null(), "mac",
                o->mac ? json_string(o->mac) : json_null());
  json_array_append_new(nets, e);
  ports = json_object_get(state, "ports");
  if (!json_is_array(ports) && o->nports > 0) {
    ports = json_array();
    json_object_set_new(state, "ports", ports);
  }
  for (size_t i = 0; i < o->nports; i++) {
    const json_t *have;
    size_t k;
    bool dup = false;
    json_array_foreach(ports, k, have) dup = dup || (json_is_string(have) &&
                                                     strcmp(json_string_value(have),
                                                            o->ports[i]) == 0);
    if (!dup)
      json_array_append_new(ports, json_string(o->ports[i]));
  }
}

/* ---- connect ------------------------------------------------------------------------ */

static int plan_parse(const struct net_connect_opts *o, struct plan *pl, ctr_err *err) {
  unsigned char mac[6];
  if (o->ip != NULL && net_ip4_parse(o->ip, &pl->ip) < 0)
    return ctr_usage(err, "invalid --ip '%s': want an IPv4 address", o->ip);
  if (o->mac != NULL && net_mac_parse(o->mac, mac, err) < 0)
    return -1;
  if (o->ifname != NULL && !ifname_valid(o->ifname))
    return ctr_usage(err, "invalid --ifname '%s': want an interface name of 1 to 15 "
                          "characters, no '/', ':' or space", o->ifname);
  for (size_t i = 0; i < o->naliases; i++)
    if (!net_alias_valid(o->aliases[i]))
      return ctr_usage(err, "invalid --alias '%s': want 1 to 63 letters, digits, '_', "
                            "'.', '-', starting with a letter or digit", o->aliases[i]);
  pl->ports = calloc(o->nports + 1, sizeof(*pl->ports));
  if (pl->ports == NULL)
    return ctr_fail(err, ENOMEM, "connect");
  for (size_t i = 0; i < o->nports; i++) {
    if (net_port_parse(o->ports[i], &pl->ports[i], err) < 0)
      return -1;
    for (size_t k = 0; k < i; k++)
      if (pl->ports[i].host_port != 0 && pl->ports[k].host_port == pl->ports[i].host_port &&
          pl->ports[k].proto == pl->ports[i].proto)
        return ctr_usage(err, "port '%s': host port %u is published twice", o->ports[i],
                         pl->ports[i].host_port);
  }
  pl->nports = o->nports;
  return 0;
}

static int network_load(const struct ctr_paths *p, const char *name, struct net_config *cfg,
                        ctr_err *err) {
  if (net_config_load(p, name, cfg, err) < 0)
    return -1;
  if (cfg->on_disk)
    return 0;
  /* the default network: written on first use */
  net_config_free(cfg);
  if (net_default_ensure(p, err) < 0)
    return -1;
  return net_config_load(p, name, cfg, err);
}

static int netns_check(const char *path, ctr_err *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "network namespace %s", path);
  if (!net_fd_is_netns(fd))
    return ctr_fail(err, 0, "%s is not a network namespace", path);
  return 0;
}

/* Under the container's net lock: attach, record, names, state. */
static int connect_locked(const struct ctr_paths *p, struct plan *pl,
                          const struct run_container *c, const struct net_config *cfg,
                          json_t **record, ctr_err *err) {
  cleanup_json json_t *recs = NULL;
  json_t *rec = NULL, *r;
  size_t i;
  ctr_err e = NULL;
  struct state_add sa = {pl->o};
  if (net_attachments_load(p, pl->id, &recs, err) < 0)
    return -1;
  json_array_foreach(recs, i, r) {
    const char *n = ctr_json_str(r, "network"), *f = ctr_json_str(r, "ifname");
    if (n != NULL && strcmp(n, cfg->name) == 0)
      return ctr_fail(err, 0, "container %.12s is already connected to network %s",
                      pl->id, cfg->name);
    if (pl->o->ifname != NULL && f != NULL && strcmp(f, pl->o->ifname) == 0)
      return ctr_fail(err, 0, "container %.12s already has an interface %s (network %s)",
                      pl->id, f, n ? n : "?");
  }
  if (pl->o->ifname != NULL)
    snprintf(pl->ifname, sizeof(pl->ifname), "%s", pl->o->ifname);
  else
    net_attach_next_ifname(recs, pl->ifname);
  if ((cfg->builtin ? attach_bridge(p, pl, cfg, &rec, err)
                    : attach_external(p, pl, cfg, &rec, err)) < 0)
    return -1;
  if (json_array_append(recs, rec) < 0 || attach_records_save(p, pl->id, recs, err) < 0 ||
      attach_names_update(p, cfg, err) < 0 ||
      (pl->o->netns == NULL && state_edit(c, state_add_network, &sa, err) < 0)) {
    if (*err == NULL)
      ctr_fail(err, ENOMEM, "connect");
    /* back to how it was: the record, the attachment, the names */
    json_array_remove(recs, json_array_size(recs) - 1);
    attach_records_save(p, pl->id, recs, &e);
    ctr_err_free(&e);
    attach_detach_record(p, pl->id, rec, &e);
    ctr_err_free(&e);
    attach_names_update(p, cfg, &e);
    ctr_err_free(&e);
    json_decref(rec);
    return -1;
  }
  if (record != NULL)
    *record = json_incref(rec);
  json_decref(rec);
  return 0;
}

int net_connect(const struct ctr_paths *p, const struct net_connect_opts *o, json_t **record,
                ctr_err *err) {
  cleanup_container struct run_container c = {0};
  cleanup_netconf struct net_config cfg = {0};
  cleanup_free char *pin = NULL;
  cleanup_close int lock = -1;
  cleanup_close int gclock = -1;
  struct plan pl = {.o = o};
  int rc = -1;
  if (record != NULL)
    *record = NULL;
  if (plan_parse(o, &pl, err) < 0)
    goto out;
  if (net_name_check(o->network, err) < 0)
    goto out;
  if (run_container_find(p, o->container, &c, err) < 0)
    goto out;
  pl.id = c.id;
  if (o->netns == NULL) {
    if (run_state_refresh(p, &c, err) < 0)
      goto out;
    if (!attach_status_live(ctr_json_str(c.state, "status"))) {
      ctr_fail(err, 0, "container %s is not running (use --netns to connect one "
                       "that is being started)", o->container);
      goto out;
    }
    if (asprintf(&pin, "%s/netns/%s", p->rundir, c.id) < 0) {
      ctr_fail(err, ENOMEM, "connect");
      goto out;
    }
  }
  pl.netns = o->netns ? o->netns : pin;
  if (netns_check(pl.netns, err) < 0 || network_load(p, o->network, &cfg, err) < 0)
    goto out;
  gclock = attach_gc_lock(p, LOCK_SH, err);
  if (gclock < 0 || (lock = attach_container_lock(p, c.id, err)) < 0)
    goto out;
  rc = connect_locked(p, &pl, &c, &cfg, record, err);
out:
  free(pl.ports);
  return rc;
}

/* ---- disconnect --------------------------------------------------------------------- */

void attach_netns_unpin(const struct ctr_paths *p, const char *id) {
  cleanup_free char *pin = NULL;
  if (asprintf(&pin, "%s/netns/%s", p->rundir, id) < 0)
    return;
  if (umount2(pin, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    ctr_debug("umount %s: %s", pin, strerror(errno));
  unlink(pin);
}

static bool is_full_id(const char *s) {
  return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}


int attach_release(const struct ctr_paths *p, const char *id, const char *network,
                   bool *found, struct gc *g, ctr_err *err) {
  cleanup_json json_t *recs = NULL;
  cleanup_json json_t *nets = json_array();
  const json_t *nj;
  ctr_err first = NULL;
  size_t i;
  *found = false;
  if (nets == NULL || net_attachments_load(p, id, &recs, err) < 0)
    return -1;
  for (i = json_array_size(recs); i-- > 0;) {
    const json_t *r = json_array_get(recs, i);
    const char *n = ctr_json_str(r, "network");
    ctr_err e = NULL;
    if (network != NULL && (n == NULL || strcmp(n, network) != 0))
      continue;
    *found = true;
    if (attach_detach_record(p, id, r, &e) < 0) {
      ctr_wrap(&e, "network %s", n ? n : "?");
      if (first == NULL)
        first = e;
      else
        ctr_err_free(&e);
      continue;
    }
    if (g != NULL &&
        attach_gc_line(g, &e, "attachment %s %.12s %s %s", n ? n : "?", id,
                       ctr_json_str(r, "ifname") ? ctr_json_str(r, "ifname") : "?",
                       ctr_json_str(r, "ip") ? ctr_json_str(r, "ip") : "-") < 0)
      ctr_err_free(&e);
    if (n != NULL)
      json_array_append_new(nets, json_string(n));
    json_array_remove(recs, i);
  }
  if (attach_records_save(p, id, recs, err) < 0) {
    ctr_err_free(&first);
    return -1;
  }
  json_array_foreach(nets, i, nj) {
    cleanup_netconf struct net_config cfg = {0};
    ctr_err e = NULL;
    if (net_config_load(p, json_string_value(nj), &cfg, &e) < 0 ||
        attach_names_update(p, &cfg, &e) < 0)
      ctr_err_free(&e);
  }
  if (first != NULL) {
    *err = first;
    return -1;
  }
  return 0;
}

int net_disconnect(const struct ctr_paths *p, const char *network, const char *container,
                   bool force, ctr_err *err) {
  cleanup_container struct run_container c = {0};
  cleanup_close int lock = -1;
  cleanup_close int gclock = -1;
  char id[65];
  bool found, exists = true;
  ctr_err e = NULL;
  if (network != NULL && net_name_check(network, err) < 0)
    return -1;
  if (run_container_find(p, container, &c, &e) < 0) {
    /* --all for a container removed already: by its full id */
    if (network != NULL || !is_full_id(container)) {
      *err = e;
      return -1;
    }
    ctr_err_free(&e);
    exists = false;
    snprintf(id, sizeof(id), "%s", container);
  } else {
    snprintf(id, sizeof(id), "%s", c.id);
  }
  gclock = attach_gc_lock(p, LOCK_SH, err);
  if (gclock < 0 || (lock = attach_container_lock(p, id, err)) < 0 ||
      attach_release(p, id, network, &found, NULL, err) < 0)
    return -1;
  if (network == NULL) {
    attach_netns_unpin(p, id);
    return 0;
  }
  if (!found && !force)
    return ctr_fail(err, 0, "container %s is not connected to network %s", container,
                    network);
  if (exists && state_edit(&c, state_drop_network, network, err) < 0)
    return -1;
  return 0;
}

