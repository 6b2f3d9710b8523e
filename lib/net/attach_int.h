/* What the pieces of attach.h share: attach_records.c (the record files,
 * the hosts file, the locks), attach_driver.c (attaching and detaching in
 * the network's driver), attach.c (connect, disconnect), attach_gc.c (gc).
 * Not for callers outside them. */
#ifndef CTR_NET_ATTACH_INT_H
#define CTR_NET_ATTACH_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/attach.h"
#include "net/netconf.h"
#include "net/plugin_bridge.h"
#include "run/container.h"

#define RECORDS_MAX (4 << 20)

static inline void conf_freep(struct net_config *c) { net_config_free(c); }
static inline void bridge_conf_freep(struct net_bridge_conf *c) { net_bridge_conf_free(c); }
static inline void container_freep(struct run_container *c) { run_container_free(c); }
#define cleanup_netconf __attribute__((cleanup(conf_freep)))
#define cleanup_bridge_conf __attribute__((cleanup(bridge_conf_freep)))
#define cleanup_container __attribute__((cleanup(container_freep)))

static inline bool attach_status_live(const char *s) {
  return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0 ||
                       strcmp(s, "paused") == 0);
}

/* ---- attach_records.c ---- */

/* "ID.json" -> ID in id[0..cap); false for any other name. */
bool attach_json_id(const char *file, char *id, size_t cap);
/* Write the records of container id (remove the file when empty). */
int attach_records_save(const struct ctr_paths *p, const char *id, const json_t *records,
                        ctr_err *err);
/* connect and disconnect share it (LOCK_SH), gc takes it alone (LOCK_EX):
 * gc never sees a lease whose record is still being written. The fd. */
int attach_gc_lock(const struct ctr_paths *p, int op, ctr_err *err);
/* The container's net lock, held while its records change. The fd. */
int attach_container_lock(const struct ctr_paths *p, const char *id, ctr_err *err);
/* Names after a change: the hosts file, and the name server (bridge and
 * overlay networks: it listens on the gateway). Failures of the server
 * are warnings: addresses work without names. 1 when the file changed. */
int attach_names_update(const struct ctr_paths *p, const struct net_config *cfg,
                        ctr_err *err);

/* ---- attach_driver.c ---- */

/* What connect asked for, parsed. */
struct plan {
  const struct net_connect_opts *o;
  const char *id;
  const char *netns;
  char ifname[16];
  uint32_t ip;
  struct net_port_mapping *ports;
  size_t nports;
};
/* Attach in ctr's own driver (bridge, overlay) or an external CNI
 * plugin; *rec receives the attachment record. */
int attach_bridge(const struct ctr_paths *p, const struct plan *pl,
                  const struct net_config *cfg, json_t **rec, ctr_err *err);
int attach_external(const struct ctr_paths *p, const struct plan *pl,
                    const struct net_config *cfg, json_t **rec, ctr_err *err);
/* Undo one attachment (a record) in whatever driver made it. The network
 * may be gone: a bridge's host side is then deleted by its name, an
 * external plugin is given DEL with the list the cache kept. */
int attach_detach_record(const struct ctr_paths *p, const char *id, const json_t *rec,
                         ctr_err *err);

/* ---- attach.c ---- */

/* What gc released: lines for `ctr-net gc`. */
struct gc {
  const struct ctr_paths *p;
  char **lines;
  size_t n, cap;
  json_t *live; /* id -> records, of containers that run */
};
/* Release the records of id on `network` (NULL: all); lines for gc in
 * g (may be NULL). Records whose release failed stay, for gc. */
int attach_release(const struct ctr_paths *p, const char *id, const char *network,
                   bool *found, struct gc *g, ctr_err *err);
/* Unmount and remove $CTR_RUNDIR/netns/<id>. */
void attach_netns_unpin(const struct ctr_paths *p, const char *id);

/* ---- attach_gc.c ---- */

int attach_gc_line(struct gc *g, ctr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
