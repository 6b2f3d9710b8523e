/* registries.d (libyaml) and the lookaside layout: where signatures are
 * read from at pull (file://, http(s):// over libcurl) and written to at
 * push (file:// only, as containers/image). */
#define _GNU_SOURCE
#include "lookaside.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/log.h"
#include "ref.h"
#include "registry.h"

/* ---- registries.d -------------------------------------------------------- */

const char *lookaside_config_dir(const char *dir, bool *must_exist) {
  const char *env = getenv("CTR_REGISTRIES_D");
  struct stat st;
  *must_exist = true;
  if (dir != NULL && dir[0] != '\0')
    return dir;
  if (env != NULL && env[0] != '\0')
    return env;
  *must_exist = false;
  if (stat("/etc/ctr/registries.d", &st) == 0)
    return "/etc/ctr/registries.d";
  return "/etc/containers/registries.d";
}

static void ns_free(struct lookaside_ns *ns) {
  free(ns->scope);
  free(ns->lookaside);
  free(ns->lookaside_staging);
  free(ns->sigstore);
  free(ns->sigstore_staging);
  free(ns->file);
}

void lookaside_config_free(struct lookaside_config *c) {
  if (c->def != NULL) {
    ns_free(c->def);
    free(c->def);
  }
  for (size_t i = 0; i < c->n; i++)
    ns_free(&c->docker[i]);
  free(c->docker);
  memset(c, 0, sizeof(*c));
}

/* A YAML null: an empty plain scalar, ~ or null. */
static bool yaml_null(const yaml_node_t *n) {
  const char *v;
  if (n == NULL)
    return true;
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  v = (const char *)n->data.scalar.value;
  return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
         strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* A scalar's text, which must hold no NUL (libyaml allows "\0"). */
static const char *yaml_text(const yaml_node_t *n) {
  if (n == NULL || n->type != YAML_SCALAR_NODE ||
      strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
    return NULL;
  return (const char *)n->data.scalar.value;
}

struct yaml_ctx {
  yaml_document_t *doc;
  const char *file;
  ctr_err *err;
};

static int yaml_bad(struct yaml_ctx *y, const yaml_node_t *n, const char *what) {
  return ctr_fail(y->err, 0, "%s: line %zu: %s", y->file,
                  n ? n->start_mark.line + 1 : 0, what);
}

/* Each key of a mapping once: containers/image refuses duplicates too. */
static int check_unique_keys(struct yaml_ctx *y, const yaml_node_t *map) {
  for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
    const yaml_node_t *ka = yaml_document_get_node(y->doc, a->key);
    const char *ta = yaml_text(ka);
    if (ta == NULL)
      return yaml_bad(y, ka, "a key must be a string");
    for (yaml_node_pair_t *b = a + 1; b < map->data.mapping.pairs.top; b++) {
      const char *tb = yaml_text(yaml_document_get_node(y->doc, b->key));
      if (tb != NULL && strcmp(ta, tb) == 0)
        return yaml_bad(y, yaml_document_get_node(y->doc, b->key), "duplicate key");
    }
  }
  return 0;
}

/* One configuration section: the four locations; other keys (such as
 * use-sigstore-attachments) are not ours and are passed over. */
static int parse_ns(struct yaml_ctx *y, const yaml_node_t *map, struct lookaside_ns *ns) {
  static const char *const keys[] = {"lookaside", "lookaside-staging", "sigstore",
                                     "sigstore-staging"};
  char **slots[] = {&ns->lookaside, &ns->lookaside_staging, &ns->sigstore,
                    &ns->sigstore_staging};
  if (yaml_null(map))
    return 0;
  if (map->type != YAML_MAPPING_NODE)
    return yaml_bad(y, map, "a configuration section must be a mapping");
  if (check_unique_keys(y, map) < 0)
    return -1;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const char *k = yaml_text(yaml_document_get_node(y->doc, p->key));
    const yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
      const char *t;
      if (strcmp(k, keys[i]) != 0)
        continue;
      if (yaml_null(v))
        break;
      if ((t = yaml_text(v)) == NULL)
        return yaml_bad(y, v, "a location must be a string (a URL)");
      if ((*slots[i] = strdup(t)) == NULL)
        return ctr_fail(y->err, ENOMEM, "registries.d");
      break;
    }
  }
  return 0;
}

static struct lookaside_ns *find_scope(const struct lookaside_config *c, const char *scope) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->docker[i].scope, scope) == 0)
      return &c->docker[i];
  return NULL;
}

static int parse_docker(struct yaml_ctx *y, struct lookaside_config *c, const yaml_node_t *map) {
  if (yaml_null(map))
    return 0;
  if (map->type != YAML_MAPPING_NODE)
    return yaml_bad(y, map, "docker must be a mapping of scopes");
  if (check_unique_keys(y, map) < 0)
    return -1;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
    const char *scope = yaml_text(kn);
    struct lookaside_ns *have = find_scope(c, scope), *nv, ns = {0};
    if (have != NULL)
      return ctr_fail(y->err, 0, "%s: line %zu: scope %s is defined in %s already", y->file,
                      kn->start_mark.line + 1, scope, have->file);
    if ((ns.scope = strdup(scope)) == NULL || (ns.file = strdup(y->file)) == NULL) {
      ns_free(&ns);
      return ctr_fail(y->err, ENOMEM, "registries.d");
    }
    if (parse_ns(y, yaml_document_get_node(y->doc, p->value), &ns) < 0 ||
        (nv = realloc(c->docker, (c->n + 1) * sizeof(*nv))) == NULL) {
      ns_free(&ns);
      return y->err && *y->err ? -1 : ctr_fail(y->err, ENOMEM, "registries.d");
    }
    c->docker = nv;
    c->docker[c->n++] = ns;
  }
  return 0;
}

static int parse_default(struct yaml_ctx *y, struct lookaside_config *c, const yaml_node_t *kn,
                         const yaml_node_t *map) {
  struct lookaside_ns *ns;
  if (c->def != NULL)
    return ctr_fail(y->err, 0, "%s: line %zu: default-docker is defined in %s already",
                    y->file, kn->start_mark.line + 1, c->def->file);
  if ((ns = calloc(1, sizeof(*ns))) == NULL || (ns->file = strdup(y->file)) == NULL) {
    free(ns);
    return ctr_fail(y->err, ENOMEM, "registries.d");
  }
  if (parse_ns(y, map, ns) < 0) {
    ns_free(ns);
    free(ns);
    return -1;
  }
  c->def = ns;
  return 0;
}

static int parse_root(struct yaml_ctx *y, struct lookaside_config *c) {
  const yaml_node_t *root = yaml_document_get_root_node(y->doc);
  if (yaml_null(root))
    return 0; /* an empty file, or one of comments only */
  if (root->type != YAML_MAPPING_NODE)
    return yaml_bad(y, root, "the file must hold a mapping (default-docker, docker)");
  if (check_unique_keys(y, root) < 0)
    return -1;
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
    const yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
    const char *k = yaml_text(kn);
    if (strcmp(k, "default-docker") == 0 && parse_default(y, c, kn, v) < 0)
      return -1;
    if (strcmp(k, "docker") == 0 && parse_docker(y, c, v) < 0)
      return -1;
  }
  return 0;
}

int lookaside_config_parse(struct lookaside_config *c, const char *name, const char *buf,
                           size_t len, ctr_err *err) {
  yaml_parser_t parser;
  yaml_document_t doc;
  struct yaml_ctx y = {.doc = &doc, .file = name, .err = err};
  int ret;
  if (len > LOOKASIDE_MAX_CONFIG_SIZE)
    return ctr_fail(err, 0, "%s: larger than %u bytes", name, LOOKASIDE_MAX_CONFIG_SIZE);
  if (!yaml_parser_initialize(&parser))
    return ctr_fail(err, ENOMEM, "%s", name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  if (!yaml_parser_load(&parser, &doc)) {
    ret = ctr_fail(err, 0, "%s: line %zu: %s", name, parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    return ret;
  }
  ret = parse_root(&y, c);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return ret;
}

static int yaml_file_filter(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

int lookaside_config_load(const char *dir, bool must_exist, struct lookaside_config *c,
                          ctr_err *err) {
  struct dirent **names = NULL;
  cleanup_close int dfd = -1;
  int n, ret = 0;
  memset(c, 0, sizeof(*c));
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    if (errno == ENOENT && !must_exist)
      return 0;
    return ctr_fail(err, errno, "registries.d %s", dir);
  }
  n = scandirat(dfd, ".", &names, yaml_file_filter, alphasort);
  if (n < 0)
    return ctr_fail(err, errno, "registries.d %s", dir);
  for (int i = 0; i < n; i++) {
    cleanup_free char *buf = NULL, *path = NULL;
    size_t len = 0;
    struct stat st;
    if (ret < 0 || fstatat(dfd, names[i]->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
      free(names[i]);
      continue;
    }
    if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
      ret = ctr_fail(err, ENOMEM, "registries.d");
    else if (ctr_read_file(dfd, names[i]->d_name, LOOKASIDE_MAX_CONFIG_SIZE, &buf, &len, err) < 0)
      ret = ctr_wrap(err, "%s", path);
    else
      ret = lookaside_config_parse(c, path, buf, len, err);
    free(names[i]);
  }
  free(names);
  if (ret < 0)
    lookaside_config_free(c);
  return ret;
}

/* ---- which location ------------------------------------------------------ */

static const char *ns_location(const struct lookaside_ns *ns, bool write) {
  if (write && ns->lookaside_staging && ns->lookaside_staging[0])
    return ns->lookaside_staging;
  if (write && ns->sigstore_staging && ns->sigstore_staging[0])
    return ns->sigstore_staging;
  if (ns->lookaside && ns->lookaside[0])
    return ns->lookaside;
  if (ns->sigstore && ns->sigstore[0])
    return ns->sigstore;
  return NULL;
}

static const char *scope_location(const struct lookaside_config *c, const char *scope,
                                  bool write) {
  const struct lookaside_ns *ns = find_scope(c, scope);
  return ns ? ns_location(ns, write) : NULL;
}

/* The scopes an image falls under, most specific first, as containers/image
 * lists a docker reference's: itself, its repository, each parent
 * namespace up to the host, then *.domain for the host's domains (without
 * a port). A scope that names no location for the access passes on to
 * the next. */
const char *lookaside_base(const struct lookaside_config *c, const char *identity,
                           bool write) {
  cleanup_free char *name = strdup(identity);
  const char *loc;
  char *cut, *slash;
  if (name == NULL)
    return NULL;
  if ((loc = scope_location(c, identity, write)) != NULL)
    return loc;
  if ((cut = strchr(name, '@')) != NULL)
    *cut = '\0';
  else if ((slash = strrchr(name, '/')) != NULL && (cut = strchr(slash, ':')) != NULL)
    *cut = '\0';
  for (;;) {
    if ((loc = scope_location(c, name, write)) != NULL)
      return loc;
    if ((slash = strrchr(name, '/')) == NULL)
      break;
    *slash = '\0';
  }
  name[strcspn(name, ":")] = '\0';
  for (char *dot = strchr(name, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
    cleanup_free char *wild = NULL;
    if (asprintf(&wild, "*%s", dot) < 0)
      return NULL;
    if ((loc = scope_location(c, wild, write)) != NULL)
      return loc;
  }
  return c->def ? ns_location(c->def, write) : NULL;
}

/* ---- URLs ---------------------------------------------------------------- */

char *lookaside_identity(const char *ref, ctr_err *err) {
  struct image_ref r;
  cleanup_free char *repo = NULL;
  char *out = NULL;
  if (image_ref_parse(ref, &r, err) < 0)
    return NULL;
  repo = image_ref_full_repo(&r);
  if (repo == NULL || asprintf(&out, "%s%s%s", repo, r.digest ? "@" : ":",
                               r.digest ? r.digest : r.tag) < 0) {
    out = NULL;
    ctr_fail(err, ENOMEM, "%s", ref);
  }
  image_ref_free(&r);
  return out;
}

static bool clean_path(const char *p) {
  if (p[0] == '\0' || p[0] == '/')
    return false;
  for (const char *s = p; *s;) {
    size_t n = strcspn(s, "/");
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return false;
    s += n;
    if (*s == '/')
      s++;
    else
      break;
  }
  return p[strlen(p) - 1] != '/';
}

char *lookaside_sig_url(const char *base, const char *repo_path, const char *digest, int n,
                        ctr_err *err) {
  char *url = NULL;
  int r;
  if (!ctr_digest_valid(digest)) {
    ctr_fail(err, 0, "signatures: invalid manifest digest %s", digest ? digest : "(none)");
    return NULL;
  }
  if (!clean_path(repo_path)) {
    ctr_fail(err, 0, "signatures: unexpected repository path %s", repo_path);
    return NULL;
  }
  if (n > 0)
    r = asprintf(&url, "%s/%s@sha256=%s/signature-%d", base, repo_path, ctr_digest_hex(digest), n);
  else
    r = asprintf(&url, "%s/%s@sha256=%s", base, repo_path, ctr_digest_hex(digest));
  if (r < 0) {
    ctr_fail(err, ENOMEM, "signatures");
    return NULL;
  }
  return url;
}

static bool has_scheme(const char *url, const char *scheme) {
  size_t n = strlen(scheme);
  return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

char *lookaside_file_path(const char *url, ctr_err *err) {
  const char *p;
  char *out, *o;
  if (!has_scheme(url, "file")) {
    ctr_fail(err, 0, "%s is not a file:// URL", url);
    return NULL;
  }
  p = url + 7;
  if (strncmp(p, "localhost/", 10) == 0)
    p += 9;
  if (p[0] != '/') {
    ctr_fail(err, 0, "%s: a file:// URL needs an absolute path", url);
    return NULL;
  }
  if ((out = malloc(strlen(p) + 1)) == NULL) {
    ctr_fail(err, ENOMEM, "%s", url);
    return NULL;
  }
  for (o = out; *p; p++) {
    if (*p == '?' || *p == '#')
      break;
    if (*p == '%') {
      int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        free(out);
        ctr_fail(err, 0, "%s: bad %%-escape", url);
        return NULL;
      }
      *o++ = (char)(hi * 16 + lo);
      p += 2;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* ---- reading ------------------------------------------------------------- */

/* One signature: 1 got it, 0 there is none (the end), -1 failure. */
static int read_file_sig(const char *url, char **buf, size_t *len, ctr_err *err) {
  cleanup_free char *path = lookaside_file_path(url, err);
  cleanup_close int fd = -1;
  struct stat st;
  if (path == NULL)
    return -1;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (fd < 0 || fstat(fd, &st) < 0)
    return ctr_fail(err, errno, "reading signature from %s", url);
  if (!S_ISREG(st.st_mode))
    return ctr_fail(err, 0, "reading signature from %s: not a regular file", url);
  if (ctr_read_fd(fd, LOOKASIDE_MAX_SIGNATURE_SIZE, buf, len, err) < 0)
    return ctr_wrap(err, "reading signature from %s", url);
  return 1;
}

static int read_http_sig(CURL *h, const char *url, char **buf, size_t *len, ctr_err *err) {
  struct http_body b = {.max = LOOKASIDE_MAX_SIGNATURE_SIZE};
  long status = 0;
  CURLcode rc;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (b.too_big) {
    free(b.buf);
    return ctr_fail(err, 0, "reading signature from %s: larger than %u bytes", url,
                    LOOKASIDE_MAX_SIGNATURE_SIZE);
  }
  if (rc != CURLE_OK) {
    free(b.buf);
    return ctr_fail(err, 0, "reading signature from %s: %s", url, curl_easy_strerror(rc));
  }
  if (status == 404) {
    free(b.buf);
    return 0;
  }
  if (status != 200) {
    free(b.buf);
    return ctr_fail(err, 0, "reading signature from %s: status %ld", url, status);
  }
  *buf = b.buf ? b.buf : strdup("");
  *len = b.len;
  return *buf ? 1 : ctr_fail(err, ENOMEM, "signature");
}

static CURL *http_open(void) {
  CURL *h;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if ((h = curl_easy_init()) == NULL)
    return NULL;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_body_write);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A server that stalls is a failure, not a wait forever. */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "ctr-image");
  return h;
}

int lookaside_fetch(const char *base, const char *repo_path, const char *digest,
                    const char *dir, size_t *n, ctr_err *err) {
  bool file = has_scheme(base, "file");
  CURL *h = NULL;
  cleanup_close int dfd = -1;
  int ret = 0;
  *n = 0;
  if (!file && !has_scheme(base, "http") && !has_scheme(base, "https"))
    return ctr_fail(err, 0, "lookaside %s: unsupported scheme (file, http, https)", base);
  if ((dfd = ctr_open_dir(AT_FDCWD, dir, err)) < 0)
    return -1;
  if (!file && (h = http_open()) == NULL)
    return ctr_fail(err, ENOMEM, "curl");
  for (int i = 1; ret == 0; i++) {
    cleanup_free char *url = lookaside_sig_url(base, repo_path, digest, i, err);
    cleanup_free char *buf = NULL;
    char name[32];
    size_t len = 0;
    int got;
    if (url == NULL) {
      ret = -1;
      break;
    }
    got = file ? read_file_sig(url, &buf, &len, err) : read_http_sig(h, url, &buf, &len, err);
    if (got <= 0) {
      ret = got;
      break;
    }
    if (i > LOOKASIDE_MAX_SIGNATURES) {
      ret = ctr_fail(err, 0, "lookaside %s: more than %d signatures, taken for a server error",
                     base, LOOKASIDE_MAX_SIGNATURES);
      break;
    }
    snprintf(name, sizeof(name), "signature-%d", i);
    if (ctr_atomic_write(dfd, name, buf, len, 0644, false, err) < 0) {
      ret = -1;
      break;
    }
    (*n)++;
    ctr_debug("signature %d from %s (%zu bytes)", i, url, len);
  }
  if (h != NULL)
    curl_easy_cleanup(h);
  return ret;
}

/* ---- writing ------------------------------------------------------------- */

int lookaside_store(const char *base, const char *repo_path, const char *digest,
                    const struct lookaside_sig *sigs, size_t n, ctr_err *err) {
  cleanup_free char *url = NULL, *path = NULL;
  cleanup_close int dfd = -1;
  if (!has_scheme(base, "file"))
    return ctr_fail(err, 0, "lookaside %s: signatures can only be written to file:// "
                            "locations", base);
  if ((url = lookaside_sig_url(base, repo_path, digest, 0, err)) == NULL ||
      (path = lookaside_file_path(url, err)) == NULL)
    return -1;
  if (ctr_mkdir_p(AT_FDCWD, path, 0755, err) < 0 || (dfd = ctr_open_dir(AT_FDCWD, path, err)) < 0)
    return ctr_wrap(err, "lookaside %s", base);
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "signature-%zu", i + 1);
    if (ctr_atomic_write(dfd, name, sigs[i].data, sigs[i].len, 0644, true, err) < 0)
      return ctr_wrap(err, "lookaside %s", base);
  }
  /* What was there beyond the new set is gone, so it reads as the set. */
  for (size_t i = n + 1;; i++) {
    char name[32];
    snprintf(name, sizeof(name), "signature-%zu", i);
    if (unlinkat(dfd, name, 0) < 0) {
      if (errno == ENOENT)
        break;
      return ctr_fail(err, errno, "lookaside %s: remove %s", base, name);
    }
  }
  return ctr_fsync_dir(dfd, err);
}

int lookaside_find(const char *registries_d, const char *identity, bool write,
                   char **base, ctr_err *err) {
  struct lookaside_config cfg;
  bool must_exist;
  const char *dir = lookaside_config_dir(registries_d, &must_exist), *b;
  int ret = 0;
  *base = NULL;
  if (lookaside_config_load(dir, must_exist, &cfg, err) < 0)
    return -1;
  b = lookaside_base(&cfg, identity, write);
  if (b != NULL && (*base = strdup(b)) == NULL)
    ret = ctr_fail(err, ENOMEM, "lookaside");
  lookaside_config_free(&cfg);
  return ret;
}
