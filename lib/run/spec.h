/* The OCI runtime-spec config.json of a container, made from the image's
 * config and the command line. Pure: no files, no processes; what it
 * needs from the image's rootfs (the user's ids) is resolved beforehand. */
#ifndef CTR_RUN_SPEC_H
#define CTR_RUN_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* What `ctr-run` was asked for, parsed and checked. Lists are jansson
 * arrays of strings; NULL members mean "not given". */
struct run_opts {
  const char *image;
  json_t *cmd;        /* args after IMAGE */
  json_t *entrypoint; /* --entrypoint, as a one-element array, or NULL */
  const char *name;
  const char *hostname;
  const char *workdir;
  const char *user;   /* -u USER[:GROUP] as given */
  json_t *env;        /* KEY=VALUE from --env-file then -e, in order */
  json_t *volumes;    /* -v HOST:CTR[:ro] / NAME:CTR[:ro] as given */
  json_t *tmpfs;      /* --tmpfs PATH[:OPTS] */
  json_t *cap_add, *cap_drop;
  json_t *labels;     /* object */
  json_t *ulimits;    /* [{type, soft, hard}] */
  const char *seccomp; /* NULL: default profile; "unconfined"; a file */
  const char *network; /* "none", "host"; NULL: on o->networks (network.h) */
  json_t *networks;    /* --network names, in order */
  const char *ip, *mac; /* --ip, --mac-address: for the first network */
  json_t *aliases;     /* --network-alias */
  json_t *dns;         /* --dns */
  json_t *add_hosts;   /* --add-host HOST:IP */
  json_t *publish;     /* -p SPEC */
  bool publish_all;    /* -P */
  const char *userns;  /* NULL or "host": none; "auto": a private range */
  const char *cgroup_parent; /* the container's cgroup is <parent>/<id> */
  const char *stop_signal;
  int stop_timeout;
  const char *restart_policy; /* --restart, as run_restart_name gives it */
  int restart_max;
  int64_t memory, memory_swap, memory_reservation; /* bytes, 0 unset */
  int64_t cpu_quota;
  uint64_t cpu_period, cpu_shares;
  int64_t pids_limit; /* 0 unset */
  bool detach, rm, interactive, tty, init, privileged, read_only, no_new_privs;
};

/* The ids a -u value (or the image's User) resolved to in the image. */
struct run_user {
  uid_t uid;
  gid_t gid;
  gid_t groups[64];
  size_t ngroups;
  const char *home; /* may be NULL */
};

/* Where --init's ctr-init appears inside the container. */
#define RUN_INIT_PATH "/sbin/ctr-init"

/* Docker's 14 default capabilities, NULL-terminated. */
extern const char *const run_default_caps[];

/* Build config.json. image_config is the image config's "config" object
 * (may be NULL); id names the container; seccomp is the OCI linux.seccomp
 * object to embed (NULL for none); cgroups_path e.g. "ctr/<id>";
 * uid_base/uid_count the host range when opts->userns asks for one. */
struct run_spec_in {
  const struct run_opts *opts;
  const json_t *image_config;
  const char *id;
  const struct run_user *user;
  const json_t *seccomp;
  const char *cgroups_path;
  const char *container_dir; /* for the hosts/hostname/resolv.conf binds */
  const char *volumes_dir;   /* $CTR_ROOT/volumes */
  const char *init_path;     /* host path of ctr-init, for --init */
  uid_t uid_base; /* --userns: host ids of the container's 0 */
  gid_t gid_base;
  uid_t uid_count;
  /* Anonymous volumes (-v /path, and the image's VOLUMEs no -v or --tmpfs
   * covers) take their names from anon_names in order (NULL: none are
   * made); the names used are appended to anon_used. */
  const json_t *anon_names;
  json_t *anon_used;
};
/* How many anonymous volumes run_spec_build may need at most. */
size_t run_spec_anon_max(const struct run_opts *o, const json_t *image_config);
int run_spec_build(const struct run_spec_in *in, json_t **config, ctr_err *err);

/* The process args by Docker's rules: --entrypoint replaces the image's
 * Entrypoint and drops its Cmd; args after IMAGE replace Cmd. */
int run_spec_args(const struct run_opts *o, const json_t *image_config,
                  json_t **args, ctr_err *err);
/* Canonical "CAP_X" for "x", "CAP_X", "ALL"; -1 for unknown names. */
int run_cap_canonical(const char *name, char *out, size_t len);

#endif
