/* libFuzzer target: the network name server reads DNS messages from
 * anyone who can reach its address (containers, peers, upstreams) and a
 * hosts file other tools write. Any bytes must be safe as a query, as a
 * reply and as a hosts file. Invariants checked: a reply the server would
 * send fits its buffer and is a response to the same id; a name read
 * without escapes writes back and reads the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns_server.h"
#include "net/dns_wire.h"

static const char hosts[] = "10.89.0.2 web www\n10.89.0.3 db\n10.89.0.4 many\n10.89.0.5 many\n";

static void as_query(const struct net_dns_records *r, const uint8_t *data, size_t size) {
  uint8_t out[DNS_UDP_MAX];
  struct net_dns_verdict v;
  struct dns_header q, h;
  net_dns_decide(r, data, size, out, sizeof(out), &v);
  if (v.action == NET_DNS_DROP)
    return;
  if (v.len > sizeof(out) || v.len < DNS_HEADER_LEN || dns_header_read(data, size, &q) < 0)
    abort();
  dns_header_read(out, v.len, &h);
  if (h.id != q.id || !(h.flags & DNS_QR))
    abort();
  if (v.action != NET_DNS_REPLY && (v.qend < DNS_HEADER_LEN || v.qend > size))
    abort();
}

static void as_message(const uint8_t *data, size_t size) {
  struct dns_header h;
  struct dns_question *q = malloc(sizeof(*q));
  struct dns_rr *rr = malloc(sizeof(*rr));
  size_t off = DNS_HEADER_LEN;
  unsigned records;
  if (q == NULL || rr == NULL || dns_header_read(data, size, &h) < 0)
    goto out;
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dns_question_read(data, size, &off, q) < 0 || off > size)
      goto out;
  records = (unsigned)h.ancount + h.nscount + h.arcount;
  for (unsigned i = 0; i < records; i++) {
    if (dns_rr_read(data, size, &off, rr) < 0)
      break;
    if (off > size || rr->rdata + rr->rdlength > size)
      abort();
  }
out:
  free(q);
  free(rr);
}

static void name_round_trip(const uint8_t *data, size_t size) {
  char text[DNS_NAME_TEXT_MAX], back[DNS_NAME_TEXT_MAX];
  uint8_t wire[DNS_NAME_WIRE_MAX + 1];
  size_t off = 0, w = 0, r = 0;
  if (dns_name_read(data, size, &off, text, sizeof(text), NULL) < 0)
    return;
  if (off > size || strchr(text, '\\') != NULL)
    return;
  if (dns_name_write(wire, sizeof(wire), &w, text) < 0)
    abort();
  if (dns_name_read(wire, w, &r, back, sizeof(back), NULL) < 0 || strcmp(text, back) != 0 || r != w)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct net_dns_records fixed;
  static int ready;
  struct net_dns_records r;
  if (!ready) {
    net_dns_records_parse(hosts, sizeof(hosts) - 1, &fixed);
    ready = 1;
  }
  as_query(&fixed, data, size);
  as_message(data, size);
  name_round_trip(data, size);
  if (net_dns_records_parse((const char *)data, size, &r) == 0) {
    /* the records of any text answer any query without harm */
    as_query(&r, data, size);
    net_dns_records_free(&r);
  }
  return 0;
}
