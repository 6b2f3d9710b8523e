#define _GNU_SOURCE
#include "nft.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "net/cni.h"
#include "net/plugin_overlay.h"

#define TABLE "inet ctr"

/* libnftables, and libnftnl, libmnl, libxtables and libgmp behind it, are
 * loaded on first use instead of at start-up: most runs of the tools that
 * link lib/net never reach nftables (an attach without published ports
 * does not), and mapping and relocating those five libraries cost every
 * one of those runs ~0.4 ms. The soname is the one of the headers we are
 * built against; every call goes through ctx_new() first. */
#define NFT_SONAME "libnftables.so.1"
static struct {
  __typeof__(nft_ctx_new) *ctx_new;
  __typeof__(nft_ctx_free) *ctx_free;
  __typeof__(nft_ctx_buffer_output) *buffer_output;
  __typeof__(nft_ctx_buffer_error) *buffer_error;
  __typeof__(nft_ctx_output_set_flags) *output_set_flags;
  __typeof__(nft_ctx_get_output_buffer) *get_output_buffer;
  __typeof__(nft_ctx_get_error_buffer) *get_error_buffer;
  __typeof__(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
} nft;
static pthread_once_t nft_once = PTHREAD_ONCE_INIT;
static char nft_load_error[200];

static void nft_load(void) {
  void *h = dlopen(NFT_SONAME, RTLD_NOW | RTLD_LOCAL);
  bool all;
  if (h == NULL) {
    snprintf(nft_load_error, sizeof(nft_load_error), "%s", dlerror());
    return;
  }
#define NFT_SYM(field, name) (nft.field = (__typeof__(nft.field))dlsym(h, #name))
  all = NFT_SYM(ctx_free, nft_ctx_free) &&
        NFT_SYM(buffer_output, nft_ctx_buffer_output) &&
        NFT_SYM(buffer_error, nft_ctx_buffer_error) &&
        NFT_SYM(output_set_flags, nft_ctx_output_set_flags) &&
        NFT_SYM(get_output_buffer, nft_ctx_get_output_buffer) &&
        NFT_SYM(get_error_buffer, nft_ctx_get_error_buffer) &&
        NFT_SYM(run_cmd_from_buffer, nft_run_cmd_from_buffer) &&
        NFT_SYM(ctx_new, nft_ctx_new);
#undef NFT_SYM
  if (!all) {
    nft.ctx_new = NULL; /* the mark of a usable library */
    snprintf(nft_load_error, sizeof(nft_load_error),
             "%s lacks a function ctr-net calls", NFT_SONAME);
  }
}

static void nft_ctx_freep(struct nft_ctx **c) {
  if (*c != NULL)
    nft.ctx_free(*c);
}
#define cleanup_nft __attribute__((cleanup(nft_ctx_freep)))

static struct nft_ctx *ctx_new(bool json, ctr_err *err) {
  struct nft_ctx *ctx;
  pthread_once(&nft_once, nft_load);
  if (nft.ctx_new == NULL) {
    ctr_fail(err, 0, "nftables: cannot load %s: %s", NFT_SONAME,
             nft_load_error);
    return NULL;
  }
  ctx = nft.ctx_new(NFT_CTX_DEFAULT);
  if (ctx == NULL) {
    ctr_fail(err, ENOMEM, "nftables context");
    return NULL;
  }
  nft.buffer_output(ctx);
  nft.buffer_error(ctx);
  if (json)
    nft.output_set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  return ctx;
}

/* nft's own message: "…: Error: Could not process rule: File exists" and
 * the offending command; keep the message part. */
static const char *nft_errmsg(struct nft_ctx *ctx, char *buf, size_t len) {
  const char *e = nft.get_error_buffer(ctx), *p;
  if (e == NULL || *e == '\0')
    return "failed";
  p = strstr(e, "Error: ");
  p = p ? p + 7 : e;
  snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
  return buf;
}

static int run(struct nft_ctx *ctx, const char *cmds, const char *what,
               ctr_err *err) {
  char msg[256];
  if (nft.run_cmd_from_buffer(ctx, cmds) == 0)
    return 0;
  return ctr_fail(err, 0, "nftables: %s: %s", what,
                  nft_errmsg(ctx, msg, sizeof(msg)));
}

static const char *proto_name(int proto) {
  switch (proto) {
  case IPPROTO_TCP: return "tcp";
  case IPPROTO_UDP: return "udp";
  case IPPROTO_SCTP: return "sctp";
  default: return NULL;
  }
}

static void owner_comment(const char *network, const char *tag, char *out,
                          size_t len) {
  if (tag != NULL)
    snprintf(out, len, "ctr-net n=%s a=%s", network, tag);
  else
    snprintf(out, len, "ctr-net n=%s", network);
}

/* ---- the script attach sends ------------------------------------------------ */

static void base_objects(FILE *f) {
  fputs("add table " TABLE "\n"
        "add set " TABLE " bridges { type ifname; }\n"
        "add set " TABLE " hostports { type inet_proto . inet_service; }\n"
        "add chain " TABLE " forward { type filter hook forward priority "
        "filter; policy accept; }\n"
        "add chain " TABLE " input { type filter hook input priority filter; "
        "policy accept; }\n"
        "add chain " TABLE " prerouting { type nat hook prerouting priority "
        "dstnat; policy accept; }\n"
        "add chain " TABLE " output { type nat hook output priority -100; "
        "policy accept; }\n"
        "add chain " TABLE " postrouting { type nat hook postrouting priority "
        "srcnat; policy accept; }\n",
        f);
}

/* An overlay's tunnel packets are not tracked: conntrack has nothing to
 * do for them (no NAT, no state anyone asks for), and skipping it
 * brings the overlay's throughput to the bare VXLAN device's. Only the
 * network's own port to and from this host's underlay address. */
static void overlay_rules(FILE *f, const struct net_overlay *ov, const char *cm) {
  char local[NET_IP4_STRLEN];
  net_ip4_format(ov->local, local);
  fprintf(f,
          "add chain " TABLE " rawprerouting { type filter hook prerouting priority raw; "
          "policy accept; }\n"
          "add chain " TABLE " rawoutput { type filter hook output priority raw; "
          "policy accept; }\n"
          "add rule " TABLE " rawprerouting ip daddr %s udp dport %u notrack comment \"%s\"\n"
          "add rule " TABLE " rawoutput ip saddr %s udp dport %u notrack comment \"%s\"\n",
          local, ov->port, cm, local, ov->port, cm);
}

static void network_rules(FILE *f, const struct net_bridge_conf *c) {
  char net[NET_IP4_STRLEN], cm[128];
  const char *br = c->bridge;
  net_ip4_format(c->subnet.addr, net);
  owner_comment(c->name, NULL, cm, sizeof(cm));
  fprintf(f, "add element " TABLE " bridges { \"%s\" }\n", br);
  if (net_overlay_of(c) != NULL)
    overlay_rules(f, net_overlay_of(c), cm);
  if (c->internal) {
    /* nothing leaves the bridge, nothing enters it from elsewhere */
    fprintf(f,
            "add rule " TABLE " forward iifname \"%s\" oifname != \"%s\" drop "
            "comment \"%s\"\n"
            "add rule " TABLE " forward oifname \"%s\" iifname != \"%s\" drop "
            "comment \"%s\"\n",
            br, br, cm, br, br, cm);
    return;
  }
  fprintf(f,
          /* isolation: no forwarding from this bridge to another ctr bridge
           * (the other's rule covers the way back), but for connections to
           * a published port (DNATed): those are open to anyone, as from
           * another host, so a container on another network reaches them
           * at the host's address too */
          "add rule " TABLE " forward iifname \"%s\" oifname != \"%s\" "
          "oifname @bridges ct status & dnat == 0 drop comment \"%s\"\n"
          /* route_localnet is on for the bridge (published ports on
           * 127.0.0.1): never let a container open a connection to the
           * host's loopback (replies to the host's own are established) */
          "add rule " TABLE " input iifname \"%s\" ip daddr 127.0.0.0/8 ct "
          "state new,invalid,untracked drop comment \"%s\"\n"
          /* out to anything beyond the subnet: masquerade */
          "add rule " TABLE " postrouting ip saddr %s/%u ip daddr != %s/%u "
          "masquerade comment \"%s\"\n"
          /* hairpin: a container reaching a published port of the subnet */
          "add rule " TABLE " postrouting ip saddr %s/%u ip daddr %s/%u ct "
          "status dnat masquerade comment \"%s\"\n"
          /* the host's own 127.0.0.1:PORT, DNATed onto the bridge */
          "add rule " TABLE " postrouting oifname \"%s\" ip saddr 127.0.0.0/8 "
          "masquerade comment \"%s\"\n",
          br, br, cm, br, cm, net, c->subnet.prefix, net, c->subnet.prefix, cm,
          net, c->subnet.prefix, net, c->subnet.prefix, cm, br, cm);
}

static void port_rules(FILE *f, const struct net_bridge_conf *c,
                       const char *tag, uint32_t ip,
                       const struct net_port_mapping *p) {
  static const char *const chains[] = {"prerouting", "output"};
  const char *proto = proto_name(p->proto);
  char cm[128], to[NET_IP4_STRLEN], match[64];
  owner_comment(c->name, tag, cm, sizeof(cm));
  net_ip4_format(ip, to);
  if (p->host_ip != 0) {
    char h[NET_IP4_STRLEN];
    net_ip4_format(p->host_ip, h);
    snprintf(match, sizeof(match), "ip daddr %s", h);
  } else {
    snprintf(match, sizeof(match), "fib daddr type local");
  }
  fprintf(f, "create element " TABLE " hostports { %s . %u comment \"%s\" }\n",
          proto, p->host_port, cm);
  for (size_t i = 0; i < 2; i++)
    fprintf(f,
            "add rule " TABLE " %s meta nfproto ipv4 %s %s dport %u dnat ip to "
            "%s:%u comment \"%s\"\n",
            chains[i], match, proto, p->host_port, to, p->container_port, cm);
}

char *net_nft_attach_script(const struct net_bridge_conf *conf,
                            bool with_network, const char *attach_tag,
                            uint32_t ip, const struct net_port_mapping *ports,
                            size_t nports) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL)
    return NULL;
  base_objects(f);
  if (with_network)
    network_rules(f, conf);
  if (attach_tag != NULL && !conf->internal)
    for (size_t i = 0; i < nports; i++)
      port_rules(f, conf, attach_tag, ip, &ports[i]);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* ---- reading the table back -------------------------------------------------- */

/* A listing as JSON (NULL in *out when the table or set does not exist). */
static int list_json(const char *cmd, json_t **out, ctr_err *err) {
  cleanup_nft struct nft_ctx *ctx = ctx_new(true, err);
  const char *o;
  json_error_t je;
  *out = NULL;
  if (ctx == NULL)
    return -1;
  if (nft.run_cmd_from_buffer(ctx, cmd) != 0) {
    const char *e = nft.get_error_buffer(ctx);
    char msg[256];
    if (e != NULL && strstr(e, "No such file or directory") != NULL)
      return 0;
    return ctr_fail(err, 0, "nftables: %s: %s", cmd,
                    nft_errmsg(ctx, msg, sizeof(msg)));
  }
  o = nft.get_output_buffer(ctx);
  *out = json_loads(o ? o : "", 0, &je);
  if (*out == NULL)
    return ctr_fail(err, 0, "nftables: unreadable JSON listing: %s", je.text);
  return 0;
}

/* The table as JSON (NULL in *out when it does not exist). */
static int list_table(json_t **out, ctr_err *err) {
  return list_json("list table " TABLE, out, err);
}

/* Does a comment belong to the owner? tag NULL: the network's own rules;
 * all_of_network: its attachments' too. */
static bool owned(const char *comment, const char *network, const char *tag,
                  bool all_of_network) {
  char want[128];
  size_t n;
  if (comment == NULL)
    return false;
  owner_comment(network, tag, want, sizeof(want));
  if (strcmp(comment, want) == 0)
    return true;
  n = strlen(want);
  return tag == NULL && all_of_network && strncmp(comment, want, n) == 0 &&
         strncmp(comment + n, " a=", 3) == 0;
}

/* The attachment tag of one of the network's comments ("" if none). */
static const char *comment_tag(const char *comment, const char *network) {
  char want[128];
  size_t n;
  owner_comment(network, NULL, want, sizeof(want));
  n = strlen(want);
  if (comment == NULL || strncmp(comment, want, n) != 0 ||
      strncmp(comment + n, " a=", 3) != 0)
    return "";
  return comment + n + 3;
}

/* A name nft reads back as one word (chains of our table are). */
static bool word(const char *s) {
  if (s == NULL || *s == '\0')
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
      return false;
  return true;
}

/* "tcp . 8080" from an element's value, NULL when of another shape. */
static char *element_key(const json_t *val) {
  const json_t *c = json_object_get(val, "concat");
  const json_t *p = json_array_get(c, 0), *port = json_array_get(c, 1);
  char *s = NULL;
  if (json_array_size(c) != 2 || !json_is_integer(port))
    return NULL;
  if (json_is_string(p)) {
    if (!word(json_string_value(p)))
      return NULL;
    if (asprintf(&s, "%s . %lld", json_string_value(p),
                 (long long)json_integer_value(port)) < 0)
      return NULL;
  } else if (json_is_integer(p)) {
    if (asprintf(&s, "%lld . %lld", (long long)json_integer_value(p),
                 (long long)json_integer_value(port)) < 0)
      return NULL;
  }
  return s;
}

typedef bool (*owner_fn)(const char *comment, void *ctx);

/* Write into f the deletions of every rule and hostports element whose
 * comment `want` accepts; returns how many. */
static int deletions(const json_t *table, owner_fn want, void *ctx, FILE *f) {
  const json_t *items = json_object_get(table, "nftables"), *it;
  size_t i;
  int n = 0;
  json_array_foreach(items, i, it) {
    const json_t *rule = json_object_get(it, "rule");
    const json_t *set = json_object_get(it, "set");
    if (rule != NULL) {
      const char *chain = ctr_json_str(rule, "chain");
      json_t *h = json_object_get(rule, "handle");
      if (!word(chain) || !json_is_integer(h) ||
          !want(ctr_json_str(rule, "comment"), ctx))
        continue;
      if (f != NULL)
        fprintf(f, "delete rule " TABLE " %s handle %lld\n", chain,
                (long long)json_integer_value(h));
      n++;
    } else if (set != NULL &&
               strcmp(ctr_json_str(set, "name") ? ctr_json_str(set, "name")
                                                : "",
                      "hostports") == 0) {
      const json_t *e;
      size_t j;
      json_array_foreach(json_object_get(set, "elem"), j, e) {
        const json_t *el = json_object_get(e, "elem");
        cleanup_free char *key = NULL;
        if (el == NULL || !want(ctr_json_str(el, "comment"), ctx))
          continue;
        key = element_key(json_object_get(el, "val"));
        if (key == NULL)
          continue;
        if (f != NULL)
          fprintf(f, "delete element " TABLE " hostports { %s }\n", key);
        n++;
      }
    }
  }
  return n;
}

struct owner_ctx {
  const char *network;
  const char *tag;
  bool all;
  const char (*keep)[17];
  size_t nkeep;
};

static bool want_owner(const char *comment, void *p) {
  struct owner_ctx *o = p;
  return owned(comment, o->network, o->tag, o->all);
}

static bool want_stale(const char *comment, void *p) {
  struct owner_ctx *o = p;
  const char *tag = comment_tag(comment, o->network);
  if (tag[0] == '\0')
    return false;
  for (size_t i = 0; i < o->nkeep; i++)
    if (strcmp(tag, o->keep[i]) == 0)
      return false;
  return true;
}

static bool has_bridge_element(const json_t *table, const char *bridge) {
  const json_t *items = json_object_get(table, "nftables"), *it, *e;
  size_t i, j;
  json_array_foreach(items, i, it) {
    const json_t *set = json_object_get(it, "set");
    const char *name = ctr_json_str(set, "name");
    if (name == NULL || strcmp(name, "bridges") != 0)
      continue;
    json_array_foreach(json_object_get(set, "elem"), j, e) {
      if (json_is_string(e) && strcmp(json_string_value(e), bridge) == 0)
        return true;
    }
  }
  return false;
}

/* Who holds host port proto/port, by comment ("" when free). */
static const char *port_holder(const json_t *table, int proto, unsigned port) {
  const json_t *items = json_object_get(table, "nftables"), *it, *e;
  size_t i, j;
  char want[32];
  snprintf(want, sizeof(want), "%s . %u", proto_name(proto), port);
  json_array_foreach(items, i, it) {
    const json_t *set = json_object_get(it, "set");
    const char *name = ctr_json_str(set, "name");
    if (name == NULL || strcmp(name, "hostports") != 0)
      continue;
    json_array_foreach(json_object_get(set, "elem"), j, e) {
      const json_t *el = json_object_get(e, "elem");
      cleanup_free char *key =
          element_key(el ? json_object_get(el, "val") : e);
      if (key != NULL && strcmp(key, want) == 0) {
        const char *c = el ? ctr_json_str(el, "comment") : NULL;
        return c ? c : "another owner";
      }
    }
  }
  return "";
}

/* ---- the operations ------------------------------------------------------------ */

/* Send the script: base objects, the network's rules when missing, and
 * the attachment's port rules. */
static int attach(const struct net_bridge_conf *conf, const char *attach_tag,
                  uint32_t ip, const struct net_port_mapping *ports,
                  size_t nports, ctr_err *err) {
  cleanup_json json_t *table = NULL;
  cleanup_free char *script = NULL;
  cleanup_nft struct nft_ctx *ctx = NULL;
  struct owner_ctx own = {.network = conf->name};
  bool with_network;
  if (list_table(&table, err) < 0)
    return -1;
  with_network = table == NULL || deletions(table, want_owner, &own, NULL) == 0;
  if (!with_network && attach_tag == NULL)
    return 0; /* all there */
  for (size_t i = 0; table != NULL && i < nports; i++) {
    const char *who = port_holder(table, ports[i].proto, ports[i].host_port);
    if (who[0] != '\0')
      return net_fail(err, NET_CNI_E_PORT_IN_USE,
                      "host port %s/%u is already published (%s)",
                      proto_name(ports[i].proto), ports[i].host_port, who);
  }
  script = net_nft_attach_script(conf, with_network, attach_tag, ip, ports,
                                 nports);
  if (script == NULL)
    return ctr_fail(err, ENOMEM, "nftables rules");
  ctx = ctx_new(false, err);
  if (ctx == NULL)
    return -1;
  if (nft.run_cmd_from_buffer(ctx, script) != 0) {
    char msg[256];
    const char *e = nft.get_error_buffer(ctx);
    /* a concurrent attach took a port between our look and our write */
    if (e != NULL && strstr(e, "File exists") && strstr(e, "hostports"))
      return net_fail(err, NET_CNI_E_PORT_IN_USE,
                      "a host port is already published: %s",
                      nft_errmsg(ctx, msg, sizeof(msg)));
    return ctr_fail(err, 0, "nftables: add rules of network %s: %s",
                    conf->name, nft_errmsg(ctx, msg, sizeof(msg)));
  }
  return 0;
}

int net_nft_network_ensure(const struct net_bridge_conf *conf, ctr_err *err) {
  return attach(conf, NULL, 0, NULL, 0, err);
}

int net_nft_attach(const struct net_bridge_conf *conf, const char *attach_tag,
                   uint32_t ip, const struct net_port_mapping *ports,
                   size_t nports, ctr_err *err) {
  if (nports == 0 || conf->internal)
    return 0; /* an attachment has rules only for its published ports */
  return attach(conf, attach_tag, ip, ports, nports, err);
}

static int remove_where(const json_t *table, owner_fn want, void *ownctx,
                        const char *extra, const char *what, ctr_err *err) {
  cleanup_free char *script = NULL;
  size_t len = 0;
  cleanup_nft struct nft_ctx *ctx = NULL;
  FILE *f = open_memstream(&script, &len);
  int n;
  if (f == NULL)
    return ctr_fail(err, errno, "nftables rules");
  n = deletions(table, want, ownctx, f);
  if (extra != NULL)
    fputs(extra, f);
  if (fclose(f) != 0)
    return ctr_fail(err, ENOMEM, "nftables rules");
  if (n == 0 && extra == NULL)
    return 0;
  ctx = ctx_new(false, err);
  if (ctx == NULL)
    return -1;
  return run(ctx, script, what, err);
}

int net_nft_remove(const struct net_bridge_conf *conf, const char *tag,
                   ctr_err *err) {
  cleanup_json json_t *table = NULL;
  struct owner_ctx own = {.network = conf->name, .tag = tag, .all = true};
  char extra[64] = "";
  if (tag != NULL) {
    /* an attachment's rules go in and out in one transaction with its
     * port reservations: no element of its, no rule of its. The set alone
     * is a far smaller listing than the table (no chains, no rules). */
    cleanup_json json_t *set = NULL;
    if (list_json("list set " TABLE " hostports", &set, err) < 0)
      return -1;
    if (set == NULL || deletions(set, want_owner, &own, NULL) == 0)
      return 0;
  }
  if (list_table(&table, err) < 0)
    return -1;
  if (table == NULL)
    return 0;
  if (tag == NULL && has_bridge_element(table, conf->bridge))
    snprintf(extra, sizeof(extra), "delete element " TABLE " bridges { \"%s\" }\n",
             conf->bridge);
  return remove_where(table, want_owner, &own, extra[0] ? extra : NULL,
                      tag ? "remove the attachment's rules"
                          : "remove the network's rules",
                      err);
}

int net_nft_gc(const struct net_bridge_conf *conf, const char (*keep)[17],
               size_t nkeep, ctr_err *err) {
  cleanup_json json_t *table = NULL;
  struct owner_ctx own = {.network = conf->name, .keep = keep, .nkeep = nkeep};
  if (list_table(&table, err) < 0)
    return -1;
  if (table == NULL)
    return 0;
  return remove_where(table, want_stale, &own, NULL,
                      "remove stale attachments' rules", err);
}

int net_nft_network_rules(const struct net_bridge_conf *conf) {
  /* as network_rules() writes them */
  return (conf->internal ? 2 : 5) + (net_overlay_of(conf) != NULL ? 2 : 0);
}

int net_nft_count(const struct net_bridge_conf *conf, const char *tag,
                  ctr_err *err) {
  cleanup_json json_t *table = NULL;
  struct owner_ctx own = {.network = conf->name, .tag = tag};
  if (list_table(&table, err) < 0)
    return -1;
  if (table == NULL)
    return 0;
  return deletions(table, want_owner, &own, NULL);
}

int net_nft_ping(ctr_err *err) {
  cleanup_json json_t *table = NULL;
  return list_table(&table, err);
}
