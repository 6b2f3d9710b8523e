/* DNS messages, RFC 1035 section 4: see dns_wire.h. */
#include "net/dns_wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

int dns_header_read(const uint8_t *m, size_t len, struct dns_header *h) {
  if (len < DNS_HEADER_LEN)
    return -1;
  h->id = get16(m);
  h->flags = get16(m + 2);
  h->qdcount = get16(m + 4);
  h->ancount = get16(m + 6);
  h->nscount = get16(m + 8);
  h->arcount = get16(m + 10);
  return 0;
}

void dns_header_write(uint8_t *m, const struct dns_header *h) {
  put16(m, h->id);
  put16(m + 2, h->flags);
  put16(m + 4, h->qdcount);
  put16(m + 6, h->ancount);
  put16(m + 8, h->nscount);
  put16(m + 10, h->arcount);
}

/* Append one label byte in presentation form; -1 when out is full. */
static int text_byte(char *out, size_t outlen, size_t *o, uint8_t c) {
  if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
    if (*o + 1 >= outlen)
      return -1;
    out[(*o)++] = (char)c;
    return 0;
  }
  if (*o + 4 >= outlen)
    return -1;
  snprintf(out + *o, 5, "\\%03u", c);
  *o += 4;
  return 0;
}

int dns_name_read(const uint8_t *m, size_t len, size_t *off, char *out,
                  size_t outlen, unsigned *labels) {
  size_t pos = *off, end = 0, o = 0, wire = 1;
  /* a pointer may only go back, to before the label that holds it: each
   * jump lowers `limit`, so no chain of pointers can loop */
  size_t limit = *off;
  bool jumped = false;
  unsigned n = 0;
  if (outlen == 0)
    return -1;
  for (;;) {
    uint8_t c;
    if (pos >= len)
      return -1;
    c = m[pos];
    if ((c & 0xc0) == 0xc0) {
      size_t target;
      if (pos + 1 >= len)
        return -1;
      target = (size_t)(c & 0x3f) << 8 | m[pos + 1];
      if (target >= limit)
        return -1;
      if (!jumped)
        end = pos + 2;
      jumped = true;
      limit = target;
      pos = target;
      continue;
    }
    if ((c & 0xc0) != 0) /* 0x40, 0x80: extended and binary labels, obsolete */
      return -1;
    if (c == 0) {
      if (!jumped)
        end = pos + 1;
      break;
    }
    wire += 1u + c;
    if (wire > DNS_NAME_WIRE_MAX || pos + 1 + c > len)
      return -1;
    if (n > 0) {
      if (o + 1 >= outlen)
        return -1;
      out[o++] = '.';
    }
    for (size_t i = 0; i < c; i++)
      if (text_byte(out, outlen, &o, m[pos + 1 + i]) < 0)
        return -1;
    n++;
    pos += 1u + c;
  }
  out[o] = '\0';
  *off = end;
  if (labels != NULL)
    *labels = n;
  return 0;
}

int dns_name_write(uint8_t *buf, size_t cap, size_t *off, const char *name) {
  size_t o = *off, start = *off, total = 1;
  const char *p = name;
  if (strcmp(name, ".") == 0)
    p = "";
  while (*p != '\0') {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    if (l == 0 || l > 63)
      return -1;
    total += l + 1;
    if (total > DNS_NAME_WIRE_MAX || o + 1 + l > cap)
      return -1;
    buf[o++] = (uint8_t)l;
    memcpy(buf + o, p, l);
    o += l;
    p += l;
    if (*p == '.')
      p++;
  }
  if (o + 1 > cap || o - start + 1 > DNS_NAME_WIRE_MAX)
    return -1;
  buf[o++] = 0;
  *off = o;
  return 0;
}

int dns_question_read(const uint8_t *m, size_t len, size_t *off,
                      struct dns_question *q) {
  size_t o = *off;
  if (dns_name_read(m, len, &o, q->name, sizeof(q->name), &q->labels) < 0 || o + 4 > len)
    return -1;
  q->qtype = get16(m + o);
  q->qclass = get16(m + o + 2);
  *off = o + 4;
  return 0;
}

int dns_rr_read(const uint8_t *m, size_t len, size_t *off, struct dns_rr *rr) {
  size_t o = *off;
  if (dns_name_read(m, len, &o, rr->name, sizeof(rr->name), NULL) < 0 || o + 10 > len)
    return -1;
  rr->type = get16(m + o);
  rr->rclass = get16(m + o + 2);
  rr->ttl = get32(m + o + 4);
  rr->rdlength = get16(m + o + 8);
  rr->rdata = o + 10;
  if (rr->rdata + rr->rdlength > len)
    return -1;
  *off = rr->rdata + rr->rdlength;
  return 0;
}

int dns_query_parse(const uint8_t *m, size_t len, struct dns_header *h,
                    struct dns_question *q, size_t *qend) {
  size_t off = DNS_HEADER_LEN;
  if (dns_header_read(m, len, h) < 0 || (h->flags & DNS_QR) || h->qdcount != 1)
    return -1;
  if (dns_question_read(m, len, &off, q) < 0)
    return -1;
  *qend = off;
  return 0;
}

int dns_query_build(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                    uint16_t qtype, bool rd) {
  struct dns_header h = {.id = id, .flags = rd ? DNS_RD : 0, .qdcount = 1};
  size_t off = DNS_HEADER_LEN;
  if (cap < DNS_HEADER_LEN)
    return -1;
  dns_header_write(buf, &h);
  if (dns_name_write(buf, cap, &off, name) < 0 || off + 4 > cap)
    return -1;
  put16(buf + off, qtype);
  put16(buf + off + 2, DNS_CLASS_IN);
  return (int)(off + 4);
}

int dns_reply_begin(struct dns_msg *r, const uint8_t *query, size_t qend,
                    uint16_t extra_flags, int rcode) {
  struct dns_header h;
  if (qend < DNS_HEADER_LEN || qend > r->cap || dns_header_read(query, qend, &h) < 0)
    return -1;
  memmove(r->buf, query, qend);
  h.flags = (uint16_t)((h.flags & (DNS_OPCODE_MASK | DNS_RD)) | DNS_QR | DNS_RA |
                       extra_flags | (rcode & DNS_RCODE_MASK));
  h.qdcount = qend > DNS_HEADER_LEN ? 1 : 0;
  h.ancount = h.nscount = h.arcount = 0;
  dns_header_write(r->buf, &h);
  r->len = qend;
  return 0;
}

/* Name (a pointer to the question's), type, class IN, ttl, rdlength. */
static int rr_head(struct dns_msg *r, uint16_t type, uint32_t ttl, uint16_t rdlength) {
  uint8_t *p;
  if (r->len + 12 + rdlength > r->cap)
    return -1;
  p = r->buf + r->len;
  put16(p, 0xc000 | DNS_HEADER_LEN);
  put16(p + 2, type);
  put16(p + 4, DNS_CLASS_IN);
  put32(p + 6, ttl);
  put16(p + 10, rdlength);
  r->len += 12;
  return 0;
}

static void count_answer(struct dns_msg *r) { put16(r->buf + 6, (uint16_t)(get16(r->buf + 6) + 1)); }

int dns_reply_add_a(struct dns_msg *r, uint32_t ttl, const uint8_t addr[4]) {
  if (rr_head(r, DNS_TYPE_A, ttl, 4) < 0)
    return -1;
  memcpy(r->buf + r->len, addr, 4);
  r->len += 4;
  count_answer(r);
  return 0;
}

int dns_reply_add_ptr(struct dns_msg *r, uint32_t ttl, const char *target) {
  uint8_t name[DNS_NAME_WIRE_MAX + 1];
  size_t n = 0;
  if (dns_name_write(name, sizeof(name), &n, target) < 0 || rr_head(r, DNS_TYPE_PTR, ttl, (uint16_t)n) < 0)
    return -1;
  memcpy(r->buf + r->len, name, n);
  r->len += n;
  count_answer(r);
  return 0;
}

void dns_reply_truncate(struct dns_msg *r) {
  if (r->len >= DNS_HEADER_LEN)
    put16(r->buf + 2, get16(r->buf + 2) | DNS_TC);
}

int dns_error_reply(uint8_t *out, size_t cap, const uint8_t *query, size_t len, int rcode) {
  struct dns_header h;
  if (cap < DNS_HEADER_LEN || dns_header_read(query, len, &h) < 0)
    return -1;
  h.flags = (uint16_t)((h.flags & (DNS_OPCODE_MASK | DNS_RD)) | DNS_QR | DNS_RA |
                       (rcode & DNS_RCODE_MASK));
  h.qdcount = h.ancount = h.nscount = h.arcount = 0;
  dns_header_write(out, &h);
  return DNS_HEADER_LEN;
}

int dns_reverse_ip4(const char *name, uint32_t *ip) {
  static const char suffix[] = "in-addr.arpa";
  unsigned long octet[4];
  const char *p = name;
  size_t n = strlen(name);
  if (n > 0 && name[n - 1] == '.')
    n--;
  for (int i = 0; i < 4; i++) {
    unsigned long v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9' && p - start < 3)
      v = v * 10 + (unsigned long)(*p++ - '0');
    /* no leading zeros: "010" is not how a reverse name writes 10 */
    if (p == start || *p != '.' || v > 255 || (p - start > 1 && *start == '0'))
      return -1;
    octet[i] = v;
    p++;
  }
  if ((size_t)(p - name) + sizeof(suffix) - 1 != n || strncasecmp(p, suffix, sizeof(suffix) - 1) != 0)
    return -1;
  *ip = (uint32_t)(octet[3] << 24 | octet[2] << 16 | octet[1] << 8 | octet[0]);
  return 0;
}

bool dns_name_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 0 && a[la - 1] == '.')
    la--;
  if (lb > 0 && b[lb - 1] == '.')
    lb--;
  return la == lb && strncasecmp(a, b, la) == 0;
}
