/* ctr-net's nftables rules, through libnftables, in the caller's network
 * namespace, all in a table of ctr's own that nothing else touches:
 *
 *   table inet ctr {
 *     set bridges   { type ifname }                    every ctr bridge
 *     set hostports { type inet_proto . inet_service } published ports,
 *                                      each commented with its owner's tag
 *     chain forward     (filter, forward)   isolation, internal networks
 *     chain input       (filter, input)     no 127/8 from a bridge
 *     chain prerouting  (nat, dstnat)       published ports
 *     chain output      (nat, -100)         published ports, from the host
 *     chain postrouting (nat, srcnat)       masquerade, hairpin, localhost
 *     chain rawprerouting, rawoutput (raw)  an overlay's tunnel: notrack
 *   }
 *
 * A network's rules carry the comment "ctr-net n=NAME", an attachment's
 * "ctr-net n=NAME a=TAG" (TAG: 16 hex, net_bridge_attachment_tag), so
 * each is removed alone by handle. A published port is reserved by
 * `create element` in the same transaction that adds its DNAT rules, so
 * two containers never get one host port, even across networks. */
#ifndef CTR_NET_NFT_H
#define CTR_NET_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "net/plugin_bridge.h"

/* Who a rule belongs to. */
struct net_nft_owner {
  const char *network;
  const char *tag; /* NULL: the network's own rules */
};

/* The table, its chains and sets, and the network's rules unless they
 * are there (one listing; one transaction when something is missing). */
int net_nft_network_ensure(const struct net_bridge_conf *conf, ctr_err *err);
/* An attachment's rules: a port reservation and two DNAT rules (from
 * outside, from the host itself) per published port; nothing without
 * ports or on an internal network (its ports are not published, as with
 * docker). Heals the network's rules if they went missing. One
 * transaction. NET_CNI_E_PORT_IN_USE when a host port is taken. */
int net_nft_attach(const struct net_bridge_conf *conf, const char *attach_tag,
                   uint32_t ip, const struct net_port_mapping *ports,
                   size_t nports, ctr_err *err);
/* Remove an attachment's rules and port reservations (tag given), or the
 * network's own rules and its bridge's set element (tag NULL: the
 * attachments' rules too). Missing table or rules are fine. With a tag,
 * only the hostports set is read unless it holds an element of the tag
 * (an attachment without published ports costs no table listing). */
int net_nft_remove(const struct net_bridge_conf *conf, const char *tag,
                   ctr_err *err);
/* Remove the attachment rules of conf's network whose tag is not in
 * keep[] (ntags entries of 17 bytes). */
int net_nft_gc(const struct net_bridge_conf *conf, const char (*keep)[17],
               size_t nkeep, ctr_err *err);
/* How many rules a network has of its own (what CHECK expects). */
int net_nft_network_rules(const struct net_bridge_conf *conf);
/* How many rules (and port elements) the owner has: for CHECK. */
int net_nft_count(const struct net_bridge_conf *conf, const char *tag,
                  ctr_err *err);
/* nftables answers in this namespace (STATUS). */
int net_nft_ping(ctr_err *err);

/* The nft commands attach sends, for tests (pure; caller frees). The
 * network's rules only when with_network. */
char *net_nft_attach_script(const struct net_bridge_conf *conf,
                            bool with_network, const char *attach_tag,
                            uint32_t ip, const struct net_port_mapping *ports,
                            size_t nports);

#endif
