/* DNS messages (RFC 1035) as the network name server reads and writes
 * them: headers, names with compression pointers, questions, resource
 * records, and replies built on a copy of the query. Pure: no I/O, no
 * allocation; every reader is bounded by the message length and rejects
 * compression loops, so any bytes from the network are safe input. */
#ifndef CTR_NET_DNS_WIRE_H
#define CTR_NET_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_UDP_MAX 512      /* a reply to a query without EDNS */
#define DNS_NAME_WIRE_MAX 255
/* A name in presentation form: at most 255 wire bytes, each of which may
 * be escaped as \DDD, and a NUL. */
#define DNS_NAME_TEXT_MAX 1024

#define DNS_QR 0x8000
#define DNS_OPCODE_MASK 0x7800
#define DNS_AA 0x0400
#define DNS_TC 0x0200
#define DNS_RD 0x0100
#define DNS_RA 0x0080
#define DNS_RCODE_MASK 0x000f

enum {
  DNS_TYPE_A = 1,
  DNS_TYPE_NS = 2,
  DNS_TYPE_CNAME = 5,
  DNS_TYPE_SOA = 6,
  DNS_TYPE_PTR = 12,
  DNS_TYPE_TXT = 16,
  DNS_TYPE_AAAA = 28,
  DNS_TYPE_OPT = 41,
  DNS_TYPE_ANY = 255,
};
enum { DNS_CLASS_IN = 1 };
enum {
  DNS_NOERROR = 0,
  DNS_FORMERR = 1,
  DNS_SERVFAIL = 2,
  DNS_NXDOMAIN = 3,
  DNS_NOTIMP = 4,
  DNS_REFUSED = 5,
};

struct dns_header {
  uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

struct dns_question {
  char name[DNS_NAME_TEXT_MAX]; /* "" for the root; no trailing dot */
  unsigned labels;
  uint16_t qtype, qclass;
};

struct dns_rr {
  char name[DNS_NAME_TEXT_MAX];
  uint16_t type, rclass;
  uint32_t ttl;
  uint16_t rdlength;
  size_t rdata; /* offset of the rdata in the message */
};

/* A message being built in a caller's buffer. */
struct dns_msg {
  uint8_t *buf;
  size_t cap, len;
};

/* -1 when the message is shorter than a header. */
int dns_header_read(const uint8_t *m, size_t len, struct dns_header *h);
void dns_header_write(uint8_t *m, const struct dns_header *h);

/* Read the name at *off (following compression pointers, which must point
 * strictly backwards) into out in presentation form: labels joined by
 * dots, no trailing dot, '.', '\\' and bytes outside printable ASCII
 * escaped as \DDD. *off moves past the name as it sits at *off. labels
 * (may be NULL) gets the label count. -1 on a truncated or over-long name,
 * a loop, or a reserved label type. */
int dns_name_read(const uint8_t *m, size_t len, size_t *off, char *out,
                  size_t outlen, unsigned *labels);
/* Append a dotted name (a trailing dot is allowed; no escapes) uncompressed
 * at *off. -1 when it does not fit, a label is empty or longer than 63, or
 * the name is longer than 255 bytes on the wire. */
int dns_name_write(uint8_t *buf, size_t cap, size_t *off, const char *name);

int dns_question_read(const uint8_t *m, size_t len, size_t *off,
                      struct dns_question *q);
/* One resource record at *off; its rdata must lie inside the message. */
int dns_rr_read(const uint8_t *m, size_t len, size_t *off, struct dns_rr *rr);

/* A query we can answer: a header with QR clear and exactly one question.
 * *qend is the offset just past the question. -1 otherwise. */
int dns_query_parse(const uint8_t *m, size_t len, struct dns_header *h,
                    struct dns_question *q, size_t *qend);

/* Build a query for name/qtype (class IN) with the given id; the RD bit
 * as asked. Returns the length, or -1 when the name does not fit. */
int dns_query_build(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                    uint16_t qtype, bool rd);

/* Start a reply in r->buf: the query's header and question (its first qend
 * bytes, as dns_query_parse found them) with QR and RA set, extra_flags
 * (e.g. DNS_AA) added, the query's id, opcode and RD kept, rcode set and
 * no records. -1 when it does not fit. */
int dns_reply_begin(struct dns_msg *r, const uint8_t *query, size_t qend,
                    uint16_t extra_flags, int rcode);
/* Answers for the question's name (written as a pointer to it). -1, and
 * nothing appended, when the record does not fit. */
int dns_reply_add_a(struct dns_msg *r, uint32_t ttl, const uint8_t addr[4]);
int dns_reply_add_ptr(struct dns_msg *r, uint32_t ttl, const char *target);
/* Mark the reply truncated (TC): the client should ask again over TCP. */
void dns_reply_truncate(struct dns_msg *r);
/* A header-only reply with rcode to any message of at least a header's
 * length (id, opcode and RD copied). Returns its length (12) or -1 when
 * the query is too short or cap too small. */
int dns_error_reply(uint8_t *out, size_t cap, const uint8_t *query,
                    size_t len, int rcode);

/* "4.3.2.10.in-addr.arpa" -> 10.2.3.4 (host byte order); case-insensitive.
 * -1 for any other name. */
int dns_reverse_ip4(const char *name, uint32_t *ip);
/* Names equal ignoring ASCII case and one trailing dot on either side. */
bool dns_name_equal(const char *a, const char *b);

#endif
