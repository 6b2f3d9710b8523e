/* Unit tests for the network name server's pure parts: DNS messages
 * (lib/net/dns_wire.c) and what the server answers (net_dns_decide). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns_server.h"
#include "net/dns_wire.h"
#include "tap.h"

static const char hosts[] = "# written by ctr-net connect\n"
                            "10.89.0.2 web www Web-Alias # c1\n"
                            "10.89.0.3\tdb\t# c2\n"
                            "10.89.0.4 shared\n"
                            "10.89.0.5 shared # an alias two containers carry\n"
                            "fd00::2 v6only\n"
                            "not-an-ip broken\n"
                            "10.89.0.6 bad/name good.name.\n";

static void test_names(void) {
  uint8_t buf[600];
  char text[DNS_NAME_TEXT_MAX];
  size_t off = 0, roff;
  unsigned labels = 0;
  char big[400];

  ok(dns_name_write(buf, sizeof(buf), &off, "Web.Example.") == 0 && off == 13,
     "a name with a trailing dot writes 13 bytes");
  roff = 0;
  ok(dns_name_read(buf, off, &roff, text, sizeof(text), &labels) == 0 &&
         strcmp(text, "Web.Example") == 0 && labels == 2 && roff == off,
     "and reads back as it was, case kept: %s", text);
  off = 0;
  ok(dns_name_write(buf, sizeof(buf), &off, ".") == 0 && off == 1 && buf[0] == 0, "the root is one byte");
  roff = 0;
  ok(dns_name_read(buf, 1, &roff, text, sizeof(text), &labels) == 0 && text[0] == '\0' && labels == 0,
     "the root reads as \"\", no labels");
  off = 0;
  ok(dns_name_write(buf, sizeof(buf), &off, "a..b") < 0, "an empty label is refused");
  memset(big, 'a', 64);
  big[64] = '\0';
  off = 0;
  ok(dns_name_write(buf, sizeof(buf), &off, big) < 0, "a 64-byte label is refused");
  for (int i = 0; i < 64; i++)
    memcpy(big + i * 4, "abc.", 4);
  big[255] = '\0';
  off = 0;
  ok(dns_name_write(buf, sizeof(buf), &off, big) < 0, "a name over 255 bytes on the wire is refused");
  off = 0;
  ok(dns_name_write(buf, 5, &off, "example") < 0, "a name that does not fit the buffer is refused");

  /* a label with a dot, a backslash and a NUL in it */
  memcpy(buf, "\x05" "a.b\\\x00" "\x00", 7);
  roff = 0;
  ok(dns_name_read(buf, 7, &roff, text, sizeof(text), &labels) == 0 &&
         strcmp(text, "a\\046b\\092\\000") == 0 && labels == 1,
     "odd bytes in a label are escaped: %s", text);
  roff = 0;
  ok(dns_name_read(buf, 7, &roff, text, 8, &labels) < 0, "and an output buffer too small fails");
}

static void test_compression(void) {
  /* header, then at 12 "example.com", at 25 "www" + pointer to 12,
   * at 31 a pointer to 25 */
  uint8_t m[64] = {0};
  char text[DNS_NAME_TEXT_MAX];
  size_t off;
  size_t n = 12;
  memcpy(m + n, "\x07" "example" "\x03" "com" "\x00", 13);
  n += 13;
  memcpy(m + n, "\x03" "www" "\xc0\x0c", 6);
  n += 6;
  memcpy(m + n, "\xc0\x19", 2);
  n += 2;
  off = 25;
  ok(dns_name_read(m, n, &off, text, sizeof(text), NULL) == 0 && strcmp(text, "www.example.com") == 0 &&
         off == 31,
     "a pointer is followed, and the offset moves past it: %s", text);
  off = 31;
  ok(dns_name_read(m, n, &off, text, sizeof(text), NULL) == 0 && strcmp(text, "www.example.com") == 0 &&
         off == 33,
     "a pointer to a name that ends in a pointer");

  /* loops: a pointer to itself, forward, and a two-pointer cycle */
  memcpy(m + 12, "\xc0\x0c", 2);
  off = 12;
  ok(dns_name_read(m, 14, &off, text, sizeof(text), NULL) < 0, "a pointer to itself is refused");
  memcpy(m + 12, "\xc0\x0e" "\xc0\x0c", 4);
  off = 12;
  ok(dns_name_read(m, 16, &off, text, sizeof(text), NULL) < 0, "a forward pointer is refused");
  off = 14;
  ok(dns_name_read(m, 16, &off, text, sizeof(text), NULL) < 0, "a cycle of two pointers is refused");
  memcpy(m + 12, "\x01" "a" "\xc0\x0c", 4);
  off = 12;
  ok(dns_name_read(m, 16, &off, text, sizeof(text), NULL) < 0,
     "a label then a pointer back to it is refused");
  memcpy(m + 12, "\x41" "a", 2);
  off = 12;
  ok(dns_name_read(m, 14, &off, text, sizeof(text), NULL) < 0, "an extended label type is refused");
  memcpy(m + 12, "\xc0", 1);
  off = 12;
  ok(dns_name_read(m, 13, &off, text, sizeof(text), NULL) < 0, "half a pointer is refused");

  /* a chain of pointers, each one back: long but fine */
  {
    uint8_t c[12 + 2 + 2 * 100];
    memset(c, 0, sizeof(c));
    c[12] = 0; /* the root at 12 */
    for (int i = 0; i < 100; i++) {
      c[13 + 2 * i] = 0xc0;
      c[14 + 2 * i] = (uint8_t)(i == 0 ? 12 : 13 + 2 * (i - 1));
    }
    off = 13 + 2 * 99;
    ok(dns_name_read(c, sizeof(c), &off, text, sizeof(text), NULL) == 0 && text[0] == '\0',
       "a chain of 100 backward pointers ends at the root");
  }
}

static void test_query_round_trip(void) {
  uint8_t q[512];
  struct dns_header h;
  struct dns_question qu;
  size_t qend = 0;
  int n = dns_query_build(q, sizeof(q), 0x1234, "db.", DNS_TYPE_AAAA, true);
  ok(n == 12 + 4 + 4, "a query for db. is 20 bytes: %d", n);
  ok(dns_query_parse(q, (size_t)n, &h, &qu, &qend) == 0 && h.id == 0x1234 && (h.flags & DNS_RD) &&
         strcmp(qu.name, "db") == 0 && qu.qtype == DNS_TYPE_AAAA && qu.qclass == DNS_CLASS_IN &&
         qu.labels == 1 && qend == (size_t)n,
     "and parses back: id, RD, name, type, class");
  n = dns_query_build(q, sizeof(q), 7, "x", DNS_TYPE_A, false);
  ok(dns_query_parse(q, (size_t)n, &h, &qu, &qend) == 0 && !(h.flags & DNS_RD), "RD clear when asked");
  for (size_t len = 0; len < (size_t)n; len++)
    if (dns_query_parse(q, len, &h, &qu, &qend) == 0) {
      ok(0, "a query cut to %zu bytes parses", len);
      return;
    }
  ok(1, "a query cut short anywhere does not parse");
  q[2] |= 0x80;
  ok(dns_query_parse(q, (size_t)n, &h, &qu, &qend) < 0, "a response is not a query");
}

static void test_reply(void) {
  uint8_t q[512], r[DNS_UDP_MAX];
  struct dns_msg m = {.buf = r, .cap = sizeof(r)};
  struct dns_header h;
  struct dns_question qu;
  struct dns_rr rr;
  size_t qend, off;
  const uint8_t a[4] = {10, 89, 0, 2};
  int n = dns_query_build(q, sizeof(q), 0xbeef, "WeB", DNS_TYPE_A, true), count = 0;
  dns_query_parse(q, (size_t)n, &h, &qu, &qend);
  ok(dns_reply_begin(&m, q, qend, DNS_AA, DNS_NOERROR) == 0 && dns_reply_add_a(&m, 5, a) == 0 &&
         dns_reply_add_ptr(&m, 5, "web.example") == 0,
     "a reply with an A and a PTR record is built");
  dns_header_read(r, m.len, &h);
  ok(h.id == 0xbeef && (h.flags & DNS_QR) && (h.flags & DNS_AA) && (h.flags & DNS_RD) &&
         (h.flags & DNS_RA) && h.qdcount == 1 && h.ancount == 2 && (h.flags & DNS_RCODE_MASK) == 0,
     "its header: id kept, QR AA RD RA, 1 question, 2 answers");
  off = DNS_HEADER_LEN;
  ok(dns_question_read(r, m.len, &off, &qu) == 0 && strcmp(qu.name, "WeB") == 0,
     "the question is the query's, its case kept");
  ok(dns_rr_read(r, m.len, &off, &rr) == 0 && rr.type == DNS_TYPE_A && rr.ttl == 5 && rr.rdlength == 4 &&
         memcmp(r + rr.rdata, a, 4) == 0 && strcmp(rr.name, "WeB") == 0,
     "the A record names the question through a pointer");
  ok(dns_rr_read(r, m.len, &off, &rr) == 0 && rr.type == DNS_TYPE_PTR, "then the PTR record");
  {
    char target[DNS_NAME_TEXT_MAX];
    size_t t = rr.rdata;
    ok(dns_name_read(r, m.len, &t, target, sizeof(target), NULL) == 0 &&
           strcmp(target, "web.example") == 0 && off == m.len,
       "whose target reads back, and the message ends there");
  }
  ok(dns_rr_read(r, m.len - 1, &(size_t){qend}, &rr) == 0, "the first record still fits a shorter message");
  off = qend;
  dns_rr_read(r, m.len, &off, &rr);
  ok(dns_rr_read(r, m.len - 1, &off, &rr) < 0, "a record whose rdata runs past the end is refused");

  m.len = 0;
  dns_reply_begin(&m, q, qend, 0, DNS_NOERROR);
  while (dns_reply_add_a(&m, 5, a) == 0)
    count++;
  ok(count == (DNS_UDP_MAX - (int)qend) / 16 && m.len <= DNS_UDP_MAX,
     "answers stop when 512 bytes are full (%d)", count);
  dns_reply_truncate(&m);
  dns_header_read(r, m.len, &h);
  ok((h.flags & DNS_TC) && h.ancount == count, "TC marks it truncated; the count matches");

  ok(dns_error_reply(r, sizeof(r), q, 11, DNS_FORMERR) < 0, "no error reply to less than a header");
  ok(dns_error_reply(r, sizeof(r), q, 12, DNS_FORMERR) == 12 && dns_header_read(r, 12, &h) == 0 &&
         h.id == 0xbeef && (h.flags & DNS_RCODE_MASK) == DNS_FORMERR && (h.flags & DNS_QR) &&
         h.qdcount == 0,
     "an error reply is a header: id, QR, the rcode");
}

static void test_reverse(void) {
  uint32_t ip = 0;
  ok(dns_reverse_ip4("4.3.2.10.in-addr.arpa", &ip) == 0 && ip == 0x0a020304, "4.3.2.10.in-addr.arpa");
  ok(dns_reverse_ip4("4.3.2.10.IN-ADDR.ARPA.", &ip) == 0 && ip == 0x0a020304, "in capitals, with a dot");
  ok(dns_reverse_ip4("3.2.10.in-addr.arpa", &ip) < 0, "three octets: no");
  ok(dns_reverse_ip4("256.3.2.10.in-addr.arpa", &ip) < 0, "256: no");
  ok(dns_reverse_ip4("04.3.2.10.in-addr.arpa", &ip) < 0, "a leading zero: no");
  ok(dns_reverse_ip4("4.3.2.10.in-addr.arpa.com", &ip) < 0, "a longer suffix: no");
  ok(dns_name_equal("Web.", "web") && !dns_name_equal("web", "web2") && !dns_name_equal("web..", "web"),
     "names compare without case, one trailing dot allowed");
}

static void test_records(void) {
  struct net_dns_records r;
  ok(net_dns_records_parse(hosts, strlen(hosts), &r) == 0, "the hosts file parses");
  ok(r.n == 7, "7 names: 3 of web, db, 2 shared, good.name (%zu)", r.n);
  ok(r.n > 0 && strcmp(r.e[0].name, "web") == 0 && r.e[0].primary && !r.e[1].primary,
     "a line's first name is its primary one");
  ok(r.n == 7 && strcmp(r.e[6].name, "good.name") == 0, "a trailing dot is dropped, a bad name skipped");
  net_dns_records_free(&r);
  ok(net_dns_records_parse("", 0, &r) == 0 && r.n == 0, "an empty file has no records");
  net_dns_records_free(&r);
}

/* Decide on a query for name/type with rd; returns the verdict and leaves
 * the reply's header and first answer address in h and a. */
static struct net_dns_verdict ask(const struct net_dns_records *r, const char *name, uint16_t type,
                                  bool rd, struct dns_header *h, char *a) {
  uint8_t q[512], out[DNS_UDP_MAX];
  struct net_dns_verdict v;
  struct dns_question qu;
  struct dns_rr rr;
  size_t off = DNS_HEADER_LEN;
  int n = dns_query_build(q, sizeof(q), 42, name, type, rd);
  net_dns_decide(r, q, (size_t)n, out, sizeof(out), &v);
  memset(h, 0, sizeof(*h));
  a[0] = '\0';
  if (v.len >= DNS_HEADER_LEN)
    dns_header_read(out, v.len, h);
  if (h->ancount > 0 && dns_question_read(out, v.len, &off, &qu) == 0 &&
      dns_rr_read(out, v.len, &off, &rr) == 0) {
    if (rr.type == DNS_TYPE_A)
      inet_ntop(AF_INET, out + rr.rdata, a, INET_ADDRSTRLEN);
    else if (rr.type == DNS_TYPE_PTR) {
      size_t t = rr.rdata;
      dns_name_read(out, v.len, &t, a, DNS_NAME_TEXT_MAX, NULL);
    }
  }
  return v;
}

static void test_decide(void) {
  struct net_dns_records r;
  struct net_dns_verdict v;
  struct dns_header h;
  char a[DNS_NAME_TEXT_MAX];
  uint8_t q[512], out[DNS_UDP_MAX];
  int n;
  net_dns_records_parse(hosts, strlen(hosts), &r);

  v = ask(&r, "web", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_REPLY && h.ancount == 1 && strcmp(a, "10.89.0.2") == 0 && (h.flags & DNS_AA),
     "web: A 10.89.0.2, authoritative");
  v = ask(&r, "WEB-ALIAS.", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_REPLY && strcmp(a, "10.89.0.2") == 0, "an alias, in capitals, fully qualified");
  v = ask(&r, "shared", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_REPLY && h.ancount == 2, "an alias two containers carry: both addresses");
  v = ask(&r, "db", DNS_TYPE_AAAA, true, &h, a);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_NOERROR && h.ancount == 0,
     "AAAA of a known name: NOERROR, no answers");
  v = ask(&r, "db", DNS_TYPE_ANY, true, &h, a);
  ok(v.action == NET_DNS_REPLY && h.ancount == 1, "ANY of a known name: its A");
  v = ask(&r, "2.0.89.10.in-addr.arpa", DNS_TYPE_PTR, true, &h, a);
  ok(v.action == NET_DNS_REPLY && strcmp(a, "web") == 0, "PTR of 10.89.0.2: web, its primary name");
  v = ask(&r, "9.0.89.10.in-addr.arpa", DNS_TYPE_PTR, true, &h, a);
  ok(v.action == NET_DNS_ASK_PEERS && (h.flags & DNS_RCODE_MASK) == DNS_NXDOMAIN,
     "PTR of an unknown address: ask the peers; NXDOMAIN if they do not know");
  v = ask(&r, "nobody", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_ASK_PEERS && (h.flags & DNS_RCODE_MASK) == DNS_NXDOMAIN && v.qend == 12 + 8 + 4,
     "an unknown single label: ask the peers, NXDOMAIN the fallback");
  v = ask(&r, "nobody", DNS_TYPE_A, false, &h, a);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_NXDOMAIN,
     "the same with RD clear (a peer asks): NXDOMAIN at once, never passed on");
  v = ask(&r, "example.com", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_FORWARD && (h.flags & DNS_RCODE_MASK) == DNS_SERVFAIL,
     "example.com: forward, SERVFAIL the fallback");
  v = ask(&r, "example.com", DNS_TYPE_A, false, &h, a);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_REFUSED,
     "example.com with RD clear: REFUSED");
  v = ask(&r, "v6only", DNS_TYPE_A, true, &h, a);
  ok(v.action == NET_DNS_ASK_PEERS, "IPv6 lines give no names");

  n = dns_query_build(q, sizeof(q), 1, "web", DNS_TYPE_A, true);
  q[2] |= 0x80;
  net_dns_decide(&r, q, (size_t)n, out, sizeof(out), &v);
  ok(v.action == NET_DNS_DROP, "a response is dropped, never answered");
  q[2] = (uint8_t)((q[2] & ~0x80) | 0x10); /* opcode 2, STATUS */
  net_dns_decide(&r, q, (size_t)n, out, sizeof(out), &v);
  dns_header_read(out, v.len, &h);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_NOTIMP, "another opcode: NOTIMP");
  n = dns_query_build(q, sizeof(q), 1, "web", DNS_TYPE_A, true);
  net_dns_decide(&r, q, (size_t)n - 3, out, sizeof(out), &v);
  dns_header_read(out, v.len, &h);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_FORMERR, "a cut question: FORMERR");
  net_dns_decide(&r, q, 5, out, sizeof(out), &v);
  ok(v.action == NET_DNS_DROP, "5 bytes: dropped");
  q[5] = 2; /* two questions */
  net_dns_decide(&r, q, (size_t)n, out, sizeof(out), &v);
  dns_header_read(out, v.len, &h);
  ok(v.action == NET_DNS_REPLY && (h.flags & DNS_RCODE_MASK) == DNS_FORMERR, "two questions: FORMERR");
  net_dns_records_free(&r);

  {
    /* 40 containers behind one alias: more than 512 bytes of answers */
    char big[2048] = "";
    for (int i = 0; i < 40; i++)
      snprintf(big + strlen(big), sizeof(big) - strlen(big), "10.89.1.%d c%d many\n", i + 1, i);
    net_dns_records_parse(big, strlen(big), &r);
    v = ask(&r, "many", DNS_TYPE_A, true, &h, a);
    ok(v.action == NET_DNS_REPLY && (h.flags & DNS_TC) && h.ancount > 20 && v.len <= DNS_UDP_MAX,
       "40 addresses for one alias: as many as fit, TC set (%u)", h.ancount);
    net_dns_records_free(&r);
  }
}

int main(void) {
  test_names();
  test_compression();
  test_query_round_trip();
  test_reply();
  test_reverse();
  test_records();
  test_decide();
  return tap_done();
}
