/* The CNI plugin protocol (spec 1.0.0; GC and STATUS of 1.1.0; results in
 * the shape of 0.3.0, 0.3.1 and 0.4.0 too): `ctr-net` run with CNI_COMMAND
 * set is a CNI plugin of type "ctr-net" that podman, containerd or any
 * libcni runtime can call.
 *
 *   env:    CNI_COMMAND (ADD DEL CHECK VERSION GC STATUS), CNI_CONTAINERID,
 *           CNI_NETNS (a netns path), CNI_IFNAME, CNI_ARGS ("K=V;…": IP=
 *           asks for an address, the rest is ignored), CNI_PATH (unused:
 *           ctr-net delegates to nothing).
 *   stdin:  the plugin entry of the network's conflist with "cniVersion"
 *           and "name" added, plus runtimeConfig.portMappings (capability
 *           "portMappings"), prevResult, cni.dev/valid-attachments (GC).
 *   stdout: the result (ADD), version info (VERSION), nothing (DEL, CHECK,
 *           GC, STATUS), or an error object {"cniVersion","code","msg",
 *           "details"} with a non-zero exit.
 *
 * Errors anywhere in lib/net carry their CNI code: net_fail() stores it
 * in the ctr_err (as a negative errnum; a positive errnum is a system
 * error, code 100), and net_cni_code() reads it back. */
#ifndef CTR_NET_CNI_H
#define CTR_NET_CNI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "net/plugin_bridge.h"

enum net_cni_code {
  NET_CNI_E_VERSION = 1,    /* incompatible CNI version */
  NET_CNI_E_FIELD = 2,      /* unsupported field in network configuration */
  NET_CNI_E_CONTAINER = 3,  /* container unknown or does not exist */
  NET_CNI_E_ENV = 4,        /* invalid necessary environment variables */
  NET_CNI_E_IO = 5,         /* I/O failure (reading stdin) */
  NET_CNI_E_DECODE = 6,     /* failed to decode content */
  NET_CNI_E_CONFIG = 7,     /* invalid network config */
  NET_CNI_E_TRY_AGAIN = 11, /* try again later */
  NET_CNI_E_UNAVAILABLE = 50, /* STATUS: cannot service ADD now */
  /* ours */
  NET_CNI_E_FAILED = 100,      /* a system call, netlink or nftables failed */
  NET_CNI_E_EXHAUSTED = 101,   /* no free address in the subnet */
  NET_CNI_E_PORT_IN_USE = 102, /* a host port is already published */
  NET_CNI_E_CHECK = 103,       /* CHECK: the attachment is not as ADD left it */
  NET_CNI_E_CONFLICT = 104,    /* the host's network conflicts (overlapping
                                  subnet, a device of the bridge's name) */
  NET_CNI_E_EXISTS = 105,      /* already attached / ifname taken */
  NET_CNI_E_ADDR_IN_USE = 106, /* the requested address is taken */
};

/* ctr_fail with a CNI code (errno 0); returns -1. */
int net_fail(ctr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The CNI code of an error: the one net_fail set, else 100. */
int net_cni_code(const ctr_err err);

#define NET_CNI_VERSION "1.1.0" /* the newest spoken */
bool net_cni_version_supported(const char *v);
/* {"cniVersion":"1.1.0","supportedVersions":["0.3.0",…,"1.1.0"]} */
json_t *net_cni_version_info(void);

enum net_cni_command {
  NET_CNI_ADD,
  NET_CNI_DEL,
  NET_CNI_CHECK,
  NET_CNI_VERSION_CMD,
  NET_CNI_GC,
  NET_CNI_STATUS,
};

/* The CNI_* variables as found (NULL when unset). */
struct net_cni_env {
  const char *command, *containerid, *netns, *ifname, *args, *path;
};

struct net_cni_request {
  enum net_cni_command command;
  char version[16];
  const char *containerid, *netns, *ifname; /* borrowed from the env */
  json_t *conf;                              /* stdin, owned */
  struct net_bridge_conf bridge;
  struct net_port_mapping *ports;
  size_t nports;
  uint32_t ip;                /* CNI_ARGS IP= */
  char mac[NET_MAC_STRLEN];   /* runtimeConfig.mac or CNI_ARGS MAC=; "" */
  const json_t *prev_result;  /* in conf */
  uint32_t prev_ip;           /* prevResult's address in our subnet */
  unsigned prev_prefix;
  struct net_attachment *keep; /* GC; strings borrowed from conf */
  size_t nkeep;
};

/* Everything from the environment and stdin, validated, in the order the
 * spec's codes suggest: the command (4), stdin's JSON (6), cniVersion (1),
 * the variables the command needs (4), the configuration (7, 2),
 * runtimeConfig and CNI_ARGS (7, 4). On failure req->version holds the
 * version to answer in. req is always to be freed. */
int net_cni_parse(const struct net_cni_env *env, const char *in, size_t len,
                  struct net_cni_request *req, ctr_err *err);
void net_cni_request_free(struct net_cni_request *req);
/* runtimeConfig.portMappings (NULL or an array) into *out. */
int net_cni_parse_ports(const json_t *mappings, struct net_port_mapping **out,
                        size_t *n, ctr_err *err);

/* The ADD result in version's shape; prev (a prevResult, may be NULL) is
 * extended with ours. */
json_t *net_cni_result(const struct net_attach_result *r, const char *sandbox,
                       const char *version, const json_t *prev);
json_t *net_cni_error(const char *version, int code, const char *msg,
                      const char *details);

/* Run one CNI command from the process's environment and stdin, print the
 * answer on stdout; returns the exit status (0, or 1 with an error object
 * printed). bin/ctr-net.c calls this when CNI_COMMAND is set. */
int net_cni_plugin_main(void);

#endif
