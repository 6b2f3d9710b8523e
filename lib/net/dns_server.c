/* Per-network name server: see dns_server.h. One process per network, one
 * thread, one poll loop: UDP and TCP listeners, one unconnected socket per
 * address family for questions to peers and upstreams, a signalfd. */
#define _GNU_SOURCE
#include "net/dns_server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/log.h"
#include "net/dns_wire.h"
#include "net/netconf.h"

#define MAX_UPSTREAMS 3      /* as many as glibc reads from resolv.conf */
#define MAX_PENDING 64
#define MAX_TCP 8
#define PEER_TIMEOUT_MS 300
#define UPSTREAM_TIMEOUT_MS 1500 /* then the next one; clients wait 2 s or more */
#define TCP_IDLE_MS 10000
#define IDLE_EXIT_MS 5000    /* hosts file empty or gone this long: exit */
#define TICK_MS 1000
#define BUF_SIZE 4096        /* largest message kept: EDNS replies fit */

/* ---- the server ---------------------------------------------------------- */

enum stage { STAGE_PEERS, STAGE_UPSTREAM };

/* A question we passed on, waiting for a peer's or an upstream's reply. */
struct pending {
  bool used;
  enum stage stage;
  uint16_t id;        /* ours, on the wire to peers and upstreams */
  uint16_t client_id; /* the client's, for the reply */
  int tcp;            /* connection index, or -1: the client is UDP */
  unsigned tcp_gen;   /* the connection it was, in case the slot is reused */
  struct dns_addr client;
  unsigned peers_left;
  size_t upstream;    /* the upstream asked now */
  uint64_t deadline;
  uint8_t *query;     /* the client's query, then the fallback reply */
  size_t qlen, qend, flen;
};

struct tcp_conn {
  int fd;
  struct dns_addr peer;
  unsigned gen;
  uint64_t last;
  size_t got;
  uint8_t *buf; /* 2-byte length, then the message */
};

struct server {
  const char *hosts_path, *pid_path;
  struct sockaddr_in listen;
  int udp, tcp, out4, out6, sigfd, pidfd;
  struct dns_addr peers[MAX_PEERS], up[MAX_UPSTREAMS];
  size_t npeers, nup;
  struct net_dns_records rec;
  struct stat hosts_st;
  bool hosts_seen;
  uint64_t empty_since;
  bool quit;
  struct pending pend[MAX_PENDING];
  struct tcp_conn conn[MAX_TCP];
  uint8_t in[BUF_SIZE], out[BUF_SIZE];
};

int dns_addr_parse(const char *s, struct dns_addr *a) {
  struct sockaddr_in *in4 = (struct sockaddr_in *)&a->sa;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
  memset(a, 0, sizeof(*a));
  if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(DNS_PORT);
    a->len = sizeof(*in4);
    return 0;
  }
  if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(DNS_PORT);
    a->len = sizeof(*in6);
    return 0;
  }
  return -1;
}

static bool addr_equal(const struct dns_addr *a, const struct sockaddr_storage *b, socklen_t blen) {
  return a->len == blen && memcmp(&a->sa, b, blen) == 0;
}

/* Our own address: asking ourselves would loop. */
static bool is_self(const struct server *s, const struct dns_addr *a) {
  return a->sa.ss_family == AF_INET &&
         ((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr == s->listen.sin_addr.s_addr;
}

/* The host's resolvers, but our own address (a container's resolv.conf
 * points at us; the host's should not, but a loop costs nothing to avoid). */
static void load_upstreams(struct server *s, const char *const *given) {
  cleanup_fclose FILE *f = NULL;
  char line[256];
  if (given != NULL) {
    for (; *given && s->nup < MAX_UPSTREAMS; given++)
      if (dns_addr_parse(*given, &s->up[s->nup]) == 0 && !is_self(s, &s->up[s->nup]))
        s->nup++;
    return;
  }
  f = fopen("/etc/resolv.conf", "re");
  while (f != NULL && s->nup < MAX_UPSTREAMS && fgets(line, sizeof(line), f) != NULL) {
    char word[32], value[64];
    struct dns_addr *a = &s->up[s->nup];
    if (sscanf(line, "%31s %63s", word, value) != 2 || strcmp(word, "nameserver") != 0)
      continue;
    if (dns_addr_parse(value, a) == 0 && !is_self(s, a))
      s->nup++;
  }
}

/* Re-read the hosts file when it was replaced or changed. */
static void refresh(struct server *s) {
  struct stat st;
  struct net_dns_records r;
  if (stat(s->hosts_path, &st) < 0) {
    if (s->hosts_seen || s->rec.n > 0) {
      net_dns_records_free(&s->rec);
      s->hosts_seen = false;
    }
    return;
  }
  if (s->hosts_seen && st.st_ino == s->hosts_st.st_ino && st.st_dev == s->hosts_st.st_dev &&
      st.st_size == s->hosts_st.st_size && st.st_mtim.tv_sec == s->hosts_st.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == s->hosts_st.st_mtim.tv_nsec)
    return;
  if (net_dns_read_hosts(s->hosts_path, &r) < 0)
    return; /* out of memory: keep the old records */
  net_dns_records_free(&s->rec);
  s->rec = r;
  s->hosts_st = st;
  s->hosts_seen = true;
  ctr_debug("dns: %zu names", s->rec.n);
}

static int open_listeners(struct server *s, ctr_err *err) {
  char ip[INET_ADDRSTRLEN];
  int one = 1;
  inet_ntop(AF_INET, &s->listen.sin_addr, ip, sizeof(ip));
  s->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  s->tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->udp < 0 || s->tcp < 0)
    return ctr_fail(err, errno, "socket");
  /* a TCP port of a server that just stopped may linger in TIME_WAIT */
  setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(s->udp, (struct sockaddr *)&s->listen, sizeof(s->listen)) < 0 ||
      bind(s->tcp, (struct sockaddr *)&s->listen, sizeof(s->listen)) < 0)
    return ctr_fail(err, errno, "listen on %s:%d", ip, DNS_PORT);
  if (listen(s->tcp, 16) < 0)
    return ctr_fail(err, errno, "listen on %s:%d/tcp", ip, DNS_PORT);
  return 0;
}

static void tcp_close(struct tcp_conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  free(c->buf);
  c->fd = -1;
  c->buf = NULL;
  c->got = 0;
  c->gen++;
}

static void close_listeners(struct server *s) {
  if (s->udp >= 0)
    close(s->udp);
  if (s->tcp >= 0)
    close(s->tcp);
  s->udp = s->tcp = -1;
  for (size_t i = 0; i < MAX_TCP; i++)
    tcp_close(&s->conn[i]);
}

static void pending_free(struct pending *p) {
  free(p->query);
  memset(p, 0, sizeof(*p));
}

static void send_to_client(struct server *s, int tcp, unsigned gen, const struct dns_addr *to,
                           const uint8_t *msg, size_t len) {
  if (tcp < 0) {
    if (s->udp >= 0)
      sendto(s->udp, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&to->sa, to->len);
    return;
  }
  struct tcp_conn *c = &s->conn[tcp];
  uint8_t pre[2] = {(uint8_t)(len >> 8), (uint8_t)len};
  struct iovec iov[2] = {{pre, 2}, {(void *)msg, len}};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
  if (c->fd < 0 || c->gen != gen)
    return; /* the client hung up meanwhile */
  /* replies are small: one that does not go out at once ends the
   * connection rather than making the loop keep output buffers */
  if (sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len + 2)
    tcp_close(c);
}

static uint16_t fresh_id(struct server *s) {
  for (;;) {
    uint16_t id;
    bool taken = false;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
      id = (uint16_t)(rand() ^ (int)now_ms());
    for (size_t i = 0; i < MAX_PENDING && !taken; i++)
      taken = s->pend[i].used && s->pend[i].id == id;
    if (!taken)
      return id;
  }
}

static int sock_for(struct server *s, const struct dns_addr *a) {
  if (a->sa.ss_family == AF_INET)
    return s->out4;
  if (s->out6 < 0)
    s->out6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return s->out6;
}

static void finish(struct server *s, struct pending *p, const uint8_t *msg, size_t len) {
  send_to_client(s, p->tcp, p->tcp_gen, &p->client, msg, len);
  pending_free(p);
}

/* Ask the next upstream, or give the client the fallback reply. */
static void ask_upstream(struct server *s, struct pending *p) {
  p->stage = STAGE_UPSTREAM;
  while (p->upstream < s->nup) {
    const struct dns_addr *a = &s->up[p->upstream];
    int fd = sock_for(s, a);
    p->id = fresh_id(s);
    p->query[0] = (uint8_t)(p->id >> 8);
    p->query[1] = (uint8_t)p->id;
    p->deadline = now_ms() + UPSTREAM_TIMEOUT_MS;
    if (fd >= 0 && sendto(fd, p->query, p->qlen, MSG_DONTWAIT, (const struct sockaddr *)&a->sa,
                          a->len) == (ssize_t)p->qlen)
      return;
    p->upstream++;
  }
  finish(s, p, p->query + p->qlen, p->flen);
}

/* Ask every peer at once, with RD clear and without the client's extra
 * records (EDNS): the peers answer from their records only. */
static void ask_peers(struct server *s, struct pending *p) {
  uint8_t q[BUF_SIZE];
  struct dns_header h;
  p->stage = STAGE_PEERS;
  p->id = fresh_id(s);
  memcpy(q, p->query, p->qend);
  dns_header_read(q, p->qend, &h);
  h.id = p->id;
  h.flags &= (uint16_t)~DNS_RD;
  h.qdcount = 1;
  h.ancount = h.nscount = h.arcount = 0;
  dns_header_write(q, &h);
  p->peers_left = 0;
  for (size_t i = 0; i < s->npeers; i++) {
    int fd = sock_for(s, &s->peers[i]);
    if (fd >= 0 && sendto(fd, q, p->qend, MSG_DONTWAIT, (const struct sockaddr *)&s->peers[i].sa,
                          s->peers[i].len) == (ssize_t)p->qend)
      p->peers_left++;
  }
  p->deadline = now_ms() + PEER_TIMEOUT_MS;
  if (p->peers_left == 0)
    ask_upstream(s, p);
}

static void pass_on(struct server *s, const uint8_t *q, size_t len, const struct net_dns_verdict *v,
                    int tcp, const struct dns_addr *client) {
  struct pending *p = NULL;
  for (size_t i = 0; i < MAX_PENDING && p == NULL; i++)
    if (!s->pend[i].used)
      p = &s->pend[i];
  if (p == NULL || (p->query = malloc(len + v->len)) == NULL) {
    /* too busy: the fallback now, the client may retry */
    send_to_client(s, tcp, tcp >= 0 ? s->conn[tcp].gen : 0, client, s->out, v->len);
    return;
  }
  p->used = true;
  p->client_id = (uint16_t)(q[0] << 8 | q[1]);
  p->tcp = tcp;
  p->tcp_gen = tcp >= 0 ? s->conn[tcp].gen : 0;
  p->client = *client;
  memcpy(p->query, q, len);
  memcpy(p->query + len, s->out, v->len);
  p->qlen = len;
  p->qend = v->qend;
  p->flen = v->len;
  p->upstream = 0;
  if (v->action == NET_DNS_ASK_PEERS && s->npeers > 0)
    ask_peers(s, p);
  else
    ask_upstream(s, p);
}

/* Recursion (peers, upstreams) is for the network's containers and this
 * host only: the gateway address must not be an open resolver for
 * whoever can reach it. Anyone gets the network's own names. */
static bool may_recurse(const struct server *s, const struct dns_addr *client) {
  const struct sockaddr_in *in = (const struct sockaddr_in *)&client->sa;
  uint32_t ip = ntohl(in->sin_addr.s_addr);
  if (client->sa.ss_family != AF_INET)
    return false;
  if (in->sin_addr.s_addr == s->listen.sin_addr.s_addr || ip >> 24 == 127)
    return true;
  for (size_t i = 0; i < s->rec.n; i++)
    if (memcmp(s->rec.e[i].addr, &in->sin_addr, 4) == 0)
      return true;
  return false;
}

static void handle_query(struct server *s, const uint8_t *q, size_t len, int tcp,
                         const struct dns_addr *client) {
  struct net_dns_verdict v;
  refresh(s);
  net_dns_decide(&s->rec, q, len, s->out, tcp >= 0 ? sizeof(s->out) : DNS_UDP_MAX, &v);
  if ((v.action == NET_DNS_ASK_PEERS || v.action == NET_DNS_FORWARD) && !may_recurse(s, client)) {
    /* as if it came with RD clear: NXDOMAIN for a single label, REFUSED
     * for the rest */
    if (v.action == NET_DNS_FORWARD)
      s->out[3] = (uint8_t)((s->out[3] & ~DNS_RCODE_MASK) | DNS_REFUSED);
    v.action = NET_DNS_REPLY;
  }
  switch (v.action) {
  case NET_DNS_DROP:
    return;
  case NET_DNS_REPLY:
    send_to_client(s, tcp, tcp >= 0 ? s->conn[tcp].gen : 0, client, s->out, v.len);
    return;
  case NET_DNS_ASK_PEERS:
  case NET_DNS_FORWARD:
    pass_on(s, q, len, &v, tcp, client);
    return;
  }
}

static bool same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  struct dns_question *qa = malloc(2 * sizeof(*qa)), *qb;
  size_t oa = DNS_HEADER_LEN, ob = DNS_HEADER_LEN;
  bool same;
  if (qa == NULL)
    return false;
  qb = qa + 1;
  same = dns_question_read(a, alen, &oa, qa) == 0 && dns_question_read(b, blen, &ob, qb) == 0 &&
         qa->qtype == qb->qtype && qa->qclass == qb->qclass && dns_name_equal(qa->name, qb->name);
  free(qa);
  return same;
}

/* A reply from a peer or an upstream on one of the outgoing sockets. */
static void handle_reply(struct server *s, uint8_t *m, size_t len, const struct sockaddr_storage *from,
                         socklen_t fromlen) {
  struct dns_header h, ch;
  struct pending *p = NULL;
  bool known = false;
  if (dns_header_read(m, len, &h) < 0 || !(h.flags & DNS_QR) || h.qdcount != 1)
    return;
  for (size_t i = 0; i < MAX_PENDING && p == NULL; i++)
    if (s->pend[i].used && s->pend[i].id == h.id)
      p = &s->pend[i];
  if (p == NULL)
    return;
  if (p->stage == STAGE_PEERS)
    for (size_t i = 0; i < s->npeers && !known; i++)
      known = addr_equal(&s->peers[i], from, fromlen);
  else
    known = addr_equal(&s->up[p->upstream], from, fromlen);
  if (!known || !same_question(m, len, p->query, p->qlen))
    return; /* not the reply we wait for: spoofed or late */
  if (p->stage == STAGE_PEERS && (h.flags & DNS_RCODE_MASK) != DNS_NOERROR) {
    if (--p->peers_left == 0)
      ask_upstream(s, p);
    return;
  }
  /* relay it under the client's id, RD as the client asked */
  dns_header_read(p->query, p->qlen, &ch);
  h.id = p->client_id;
  if (p->stage == STAGE_PEERS)
    h.flags = (uint16_t)((h.flags & ~(DNS_RD | DNS_TC)) | (ch.flags & DNS_RD) | DNS_RA);
  dns_header_write(m, &h);
  if (p->tcp < 0 && len > DNS_UDP_MAX && p->stage == STAGE_PEERS) {
    dns_reply_truncate(&(struct dns_msg){.buf = m, .cap = len, .len = len});
    len = DNS_UDP_MAX;
  }
  finish(s, p, m, len);
}

static void read_udp(struct server *s) {
  for (int i = 0; i < 64; i++) {
    struct dns_addr from = {.len = sizeof(from.sa)};
    ssize_t n = recvfrom(s->udp, s->in, sizeof(s->in), MSG_TRUNC, (struct sockaddr *)&from.sa,
                         &from.len);
    if (n < 0)
      return;
    if ((size_t)n > sizeof(s->in))
      continue; /* no query is that long */
    handle_query(s, s->in, (size_t)n, -1, &from);
  }
}

/* A reply bigger than we keep: its header and question, with TC set, so
 * the client asks again over TCP. -1 when not even those are whole. */
static ssize_t cut_to_question(uint8_t *m, size_t len) {
  struct dns_question q;
  struct dns_header h;
  size_t off = DNS_HEADER_LEN;
  if (dns_header_read(m, len, &h) < 0 || h.qdcount != 1 || dns_question_read(m, len, &off, &q) < 0)
    return -1;
  h.flags |= DNS_TC;
  h.ancount = h.nscount = h.arcount = 0;
  dns_header_write(m, &h);
  return (ssize_t)off;
}

static void read_out(struct server *s, int fd) {
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(fd, s->in, sizeof(s->in), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
    if (n < 0)
      return;
    if ((size_t)n > sizeof(s->in) && (n = cut_to_question(s->in, sizeof(s->in))) < 0)
      continue;
    handle_reply(s, s->in, (size_t)n, &from, fromlen);
  }
}

static void accept_tcp(struct server *s) {
  struct dns_addr peer = {.len = sizeof(peer.sa)};
  int fd = accept4(s->tcp, (struct sockaddr *)&peer.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  struct tcp_conn *c = NULL;
  if (fd < 0)
    return;
  for (size_t i = 0; i < MAX_TCP && c == NULL; i++)
    if (s->conn[i].fd < 0)
      c = &s->conn[i];
  if (c == NULL || (c->buf = malloc(2 + BUF_SIZE)) == NULL) {
    close(fd);
    return;
  }
  c->fd = fd;
  c->peer = peer;
  c->got = 0;
  c->last = now_ms();
}

static void read_tcp(struct server *s, size_t idx) {
  struct tcp_conn *c = &s->conn[idx];
  ssize_t n = recv(c->fd, c->buf + c->got, 2 + BUF_SIZE - c->got, 0);
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
      tcp_close(c);
    return;
  }
  c->got += (size_t)n;
  c->last = now_ms();
  /* queries may be pipelined: answer each whole one */
  while (c->fd >= 0 && c->got >= 2) {
    size_t want = (size_t)c->buf[0] << 8 | c->buf[1];
    if (want == 0 || want > BUF_SIZE) {
      tcp_close(c);
      return;
    }
    if (c->got < 2 + want)
      return;
    memcpy(s->in, c->buf + 2, want);
    c->got -= 2 + want;
    memmove(c->buf, c->buf + 2 + want, c->got);
    handle_query(s, s->in, want, (int)idx, &c->peer);
  }
}

static void timeouts(struct server *s, uint64_t now) {
  for (size_t i = 0; i < MAX_PENDING; i++) {
    struct pending *p = &s->pend[i];
    if (!p->used || p->deadline > now)
      continue;
    if (p->stage == STAGE_UPSTREAM)
      p->upstream++;
    ask_upstream(s, p);
  }
  for (size_t i = 0; i < MAX_TCP; i++)
    if (s->conn[i].fd >= 0 && now - s->conn[i].last > TCP_IDLE_MS)
      tcp_close(&s->conn[i]);
}

/* The hosts file has no records: stop answering, look once more (a
 * container may have been connected meanwhile: its ensure saw our lock and
 * waits for an answer), and go only if it is still empty. */
static void stop_if_empty(struct server *s, ctr_err *err) {
  close_listeners(s);
  refresh(s);
  if (s->rec.n > 0) {
    s->empty_since = 0;
    if (open_listeners(s, err) < 0)
      s->quit = true;
    return;
  }
  ctr_debug("dns: no names left, exiting");
  s->quit = true;
}

static void tick(struct server *s, uint64_t now, ctr_err *err) {
  refresh(s);
  if (s->rec.n > 0) {
    s->empty_since = 0;
    return;
  }
  if (s->empty_since == 0)
    s->empty_since = now;
  else if (now - s->empty_since >= IDLE_EXIT_MS)
    stop_if_empty(s, err);
}

static void handle_signal(struct server *s, ctr_err *err) {
  struct signalfd_siginfo si;
  while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    if (si.ssi_signo == SIGHUP) {
      /* net_dns_stop_if_idle's nudge: stop now if nothing is left */
      s->hosts_seen = false;
      refresh(s);
      if (s->rec.n == 0)
        stop_if_empty(s, err);
    } else {
      s->quit = true;
    }
  }
}

static int poll_timeout(struct server *s, uint64_t now, uint64_t next_tick) {
  uint64_t t = next_tick;
  for (size_t i = 0; i < MAX_PENDING; i++)
    if (s->pend[i].used && s->pend[i].deadline < t)
      t = s->pend[i].deadline;
  return t <= now ? 0 : (int)(t - now);
}

static int serve_loop(struct server *s, ctr_err *err) {
  uint64_t next_tick = now_ms() + TICK_MS;
  while (!s->quit) {
    struct pollfd fds[5 + MAX_TCP];
    size_t n = 0, base;
    uint64_t now = now_ms();
    fds[n++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = s->udp, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = s->tcp, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = s->out4, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = s->out6, .events = POLLIN};
    base = n;
    for (size_t i = 0; i < MAX_TCP; i++)
      fds[n++] = (struct pollfd){.fd = s->conn[i].fd, .events = POLLIN};
    if (poll(fds, n, poll_timeout(s, now, next_tick)) < 0 && errno != EINTR)
      return ctr_fail(err, errno, "poll");
    if (fds[0].revents)
      handle_signal(s, err);
    if (s->quit)
      break;
    if (fds[1].revents && s->udp >= 0)
      read_udp(s);
    if (fds[2].revents && s->tcp >= 0)
      accept_tcp(s);
    if (fds[3].revents)
      read_out(s, s->out4);
    if (fds[4].revents && s->out6 >= 0)
      read_out(s, s->out6);
    for (size_t i = 0; i < MAX_TCP; i++)
      if (fds[base + i].revents && s->conn[i].fd >= 0)
        read_tcp(s, i);
    now = now_ms();
    timeouts(s, now);
    if (now >= next_tick) {
      next_tick = now + TICK_MS;
      tick(s, now, err);
    }
  }
  return *err != NULL ? -1 : 0;
}

static void ready(int fd, const char *msg) {
  if (fd < 0)
    return;
  if (write(fd, msg, strlen(msg)) < 0) {
    /* nobody waits any more: serve anyway */
  }
  close(fd);
}

static void server_free(struct server *s) {
  close_listeners(s);
  for (size_t i = 0; i < MAX_PENDING; i++)
    pending_free(&s->pend[i]);
  if (s->out4 >= 0)
    close(s->out4);
  if (s->out6 >= 0)
    close(s->out6);
  if (s->sigfd >= 0)
    close(s->sigfd);
  net_dns_records_free(&s->rec);
}

static int server_setup(struct server *s, const struct net_dns_opts *o, ctr_err *err) {
  sigset_t set;
  s->listen.sin_family = AF_INET;
  s->listen.sin_port = htons(DNS_PORT);
  if (inet_pton(AF_INET, o->listen_ip, &s->listen.sin_addr) != 1)
    return ctr_usage(err, "invalid --listen '%.64s': want an IPv4 address", o->listen_ip);
  for (const char *const *p = o->peers; p && *p; p++) {
    if (s->npeers == MAX_PEERS)
      return ctr_usage(err, "too many peers: at most %d", MAX_PEERS);
    if (dns_addr_parse(*p, &s->peers[s->npeers]) < 0)
      return ctr_usage(err, "invalid --peer '%.64s': want an IP address", *p);
    if (!is_self(s, &s->peers[s->npeers]))
      s->npeers++;
  }
  for (const char *const *p = o->upstreams; p && *p; p++) {
    struct dns_addr a;
    if (dns_addr_parse(*p, &a) < 0)
      return ctr_usage(err, "invalid --upstream '%.64s': want an IP address", *p);
  }
  load_upstreams(s, o->upstreams);
  /* whoever started us may have ignored these (nohup, a shell's
   * background job): an ignored signal never reaches the signalfd */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  s->out4 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->sigfd < 0 || s->out4 < 0)
    return ctr_fail(err, errno, "name server");
  return open_listeners(s, err);
}

static int write_pidfile(int fd, const struct net_dns_opts *o) {
  cleanup_free char *text = net_dns_pidfile_text(getpid(), o->listen_ip, o->peers);
  if (text == NULL) {
    errno = ENOMEM;
    return -1;
  }
  if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
    return -1;
  return 0;
}

int net_dns_serve(const struct ctr_paths *p, const struct net_dns_opts *o, ctr_err *err) {
  cleanup_free char *hosts = NULL, *pid = NULL;
  cleanup_close int pidfd = -1;
  struct server *s;
  int ret;
  if (net_name_check(o->network, err) < 0 ||
      net_dns_path(p, o->network, ".hosts", &hosts, err) < 0 ||
      net_dns_path(p, o->network, ".dns.pid", &pid, err) < 0)
    goto fail;
  {
    cleanup_free char *dir = NULL;
    if (asprintf(&dir, "%s/networks", p->rundir) < 0 || ctr_mkdir_p(AT_FDCWD, dir, 0755, err) < 0)
      goto fail;
  }
  /* an ensure that gave up waiting closes the ready pipe: no SIGPIPE */
  signal(SIGPIPE, SIG_IGN);
  ret = net_dns_pidfile_lock(pid, &pidfd, err);
  if (ret < 0)
    goto fail;
  if (ret == 0) {
    ctr_debug("dns: a server for %s runs already", o->network);
    ready(o->ready_fd, "busy\n");
    return 0;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    ctr_fail(err, ENOMEM, "name server");
    goto fail;
  }
  s->udp = s->tcp = s->out4 = s->out6 = s->sigfd = -1;
  for (size_t i = 0; i < MAX_TCP; i++)
    s->conn[i].fd = -1;
  s->hosts_path = hosts;
  s->pid_path = pid;
  if (server_setup(s, o, err) < 0) {
    server_free(s);
    free(s);
    unlink(pid);
    goto fail;
  }
  if (write_pidfile(pidfd, o) < 0)
    ctr_warn("write %s: %s", pid, strerror(errno));
  refresh(s);
  ready(o->ready_fd, "ok\n");
  ret = serve_loop(s, err);
  /* unlinked while still locked: an ensure that opens the path now gets
   * a new file, and a new server */
  unlink(pid);
  server_free(s);
  free(s);
  return ret;
fail:
  if (o->ready_fd >= 0) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s\n", *err && (*err)->msg ? (*err)->msg : "failed");
    ready(o->ready_fd, msg);
  }
  return -1;
}

