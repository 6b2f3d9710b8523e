/* Registry credentials in auth files (see auth.h for where and how). */
#define _GNU_SOURCE
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"

#define AUTH_FILE_MAX (4 << 20)

void auth_creds_free(struct auth_creds *c) {
  if (c->pass != NULL)
    explicit_bzero(c->pass, strlen(c->pass));
  free(c->user);
  free(c->pass);
  free(c->file);
  memset(c, 0, sizeof(*c));
}

static const char *config_home(char **owned) {
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  *owned = NULL;
  if (xdg != NULL && xdg[0] == '/')
    return xdg;
  if (home == NULL || home[0] == '\0' ||
      asprintf(owned, "%s/.config", home) < 0)
    return NULL;
  return *owned;
}

int auth_file_path(const char *explicit_path, char **out, ctr_err *err) {
  const char *env = getenv("REGISTRY_AUTH_FILE");
  cleanup_free char *owned = NULL;
  const char *base;
  *out = NULL;
  if (explicit_path != NULL && explicit_path[0] != '\0')
    *out = strdup(explicit_path);
  else if (env != NULL && env[0] != '\0')
    *out = strdup(env);
  else if ((base = config_home(&owned)) == NULL)
    return ctr_fail(err, 0, "no auth file: set HOME, XDG_CONFIG_HOME or "
                            "REGISTRY_AUTH_FILE, or use --authfile");
  else if (asprintf(out, "%s/ctr/auth.json", base) < 0)
    *out = NULL;
  return *out ? 0 : ctr_fail(err, ENOMEM, "auth file");
}

char *auth_normalize_key(const char *key) {
  const char *p = key;
  bool url = false;
  char *out;
  size_t n;
  if (strncmp(p, "https://", 8) == 0 || strncmp(p, "http://", 7) == 0) {
    p = strchr(p, '/') + 2;
    url = true;
  }
  /* A URL names a host; its path is the API's ("/v1/", "/v2/"). */
  n = url ? strcspn(p, "/") : strlen(p);
  while (n > 0 && p[n - 1] == '/')
    n--;
  out = strndup(p, n);
  if (out == NULL)
    return NULL;
  static const char *const hubs[] = {"index.docker.io", "registry-1.docker.io"};
  for (size_t i = 0; i < sizeof(hubs) / sizeof(hubs[0]); i++) {
    size_t h = strlen(hubs[i]);
    if (strncmp(out, hubs[i], h) == 0 && (out[h] == '\0' || out[h] == '/')) {
      char *again = NULL;
      if (asprintf(&again, "docker.io%s", out + h) < 0)
        again = NULL;
      free(out);
      return again;
    }
  }
  return out;
}

/* base64 through OpenSSL; *out is NUL-terminated. */
static int b64_decode(const char *in, char **out) {
  size_t n = strlen(in), pad = 0;
  unsigned char *buf;
  int got;
  if (n == 0 || n % 4 != 0 || n > AUTH_FILE_MAX)
    return -1;
  buf = malloc(n / 4 * 3 + 1);
  if (buf == NULL)
    return -1;
  got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
  if (got < 0) {
    free(buf);
    return -1;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes. */
  pad = (in[n - 1] == '=') + (in[n - 2] == '=');
  got -= (int)pad;
  buf[got] = '\0';
  if (memchr(buf, '\0', (size_t)got) != NULL) {
    free(buf);
    return -1;
  }
  *out = (char *)buf;
  return 0;
}

static char *b64_encode(const char *in, size_t n) {
  char *out = malloc((n + 2) / 3 * 4 + 1);
  if (out != NULL)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
  return out;
}

/* How well a (normalised) key names host/repo: 0 not at all, else the
 * length of what it names, so the most specific entry wins. */
static size_t key_score(const char *key, const char *host, const char *repo) {
  size_t h = strlen(host), k = strlen(key);
  if (strncmp(key, host, h) != 0)
    return 0;
  if (key[h] == '\0')
    return h;
  if (key[h] != '/' || repo == NULL)
    return 0;
  /* "host/a/b" names repository a/b and everything below a/b/. */
  if (strncmp(key + h + 1, repo, k - h - 1) == 0 &&
      (repo[k - h - 1] == '\0' || repo[k - h - 1] == '/'))
    return k;
  return 0;
}

static int entry_creds(const json_t *entry, const char *what, const char *key,
                       struct auth_creds *c, ctr_err *err) {
  const char *auth = ctr_json_str(entry, "auth");
  const char *user = ctr_json_str(entry, "username");
  const char *pass = ctr_json_str(entry, "password");
  char *plain = NULL, *colon;
  if (auth != NULL && auth[0] != '\0') {
    if (b64_decode(auth, &plain) < 0 || (colon = strchr(plain, ':')) == NULL) {
      free(plain);
      return ctr_fail(err, 0, "%s: the entry for %s is not base64 of "
                              "user:password", what, key);
    }
    *colon = '\0';
    c->user = strdup(plain);
    c->pass = strdup(colon + 1);
    explicit_bzero(colon + 1, strlen(colon + 1));
    free(plain);
  } else if (user != NULL && pass != NULL) {
    c->user = strdup(user);
    c->pass = strdup(pass);
  } else {
    return 0; /* e.g. a credential helper's placeholder: not ours to use */
  }
  c->file = strdup(what);
  if (c->user == NULL || c->pass == NULL || c->file == NULL) {
    auth_creds_free(c);
    return ctr_fail(err, ENOMEM, "%s", what);
  }
  return 1;
}

int auth_parse(const char *buf, size_t len, const char *what, const char *host,
               const char *repo, struct auth_creds *c, ctr_err *err) {
  cleanup_json json_t *doc = NULL;
  const json_t *auths, *best = NULL;
  const char *key, *best_key = NULL;
  size_t best_score = 0;
  json_t *entry;

  memset(c, 0, sizeof(*c));
  if (ctr_json_parse_object(buf, len, what, &doc, err) < 0)
    return -1;
  auths = json_object_get(doc, "auths");
  if (auths == NULL)
    return 0;
  if (!json_is_object(auths))
    return ctr_fail(err, 0, "%s: \"auths\" is not an object", what);
  json_object_foreach((json_t *)auths, key, entry) {
    cleanup_free char *norm = auth_normalize_key(key);
    size_t score;
    if (norm == NULL)
      return ctr_fail(err, ENOMEM, "%s", what);
    score = key_score(norm, host, repo);
    if (score > best_score && json_is_object(entry)) {
      best = entry;
      best_key = key;
      best_score = score;
    }
  }
  if (best == NULL)
    return 0;
  return entry_creds(best, what, best_key, c, err);
}

/* Read one file; a missing one has no credentials. */
static int lookup_file(const char *path, bool foreign, const char *host,
                       const char *repo, struct auth_creds *c, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int r;
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0
                                               : ctr_fail(err, errno, "%s", path);
  if (ctr_read_fd(fd, AUTH_FILE_MAX, &buf, &len, err) < 0)
    return ctr_wrap(err, "%s", path);
  r = auth_parse(buf, len, path, host, repo, c, err);
  explicit_bzero(buf, len);
  if (r < 0 && foreign) {
    /* Another tool's broken file should not stop us; ours should. */
    ctr_warn("ignoring %s", (*err)->msg);
    ctr_err_free(err);
    return 0;
  }
  return r;
}

int auth_lookup(const char *authfile, const char *host, const char *repo,
                struct auth_creds *c, ctr_err *err) {
  cleanup_free char *mine = NULL;
  cleanup_free char *owned = NULL;
  const char *cfg, *rt = getenv("XDG_RUNTIME_DIR"), *docker = getenv("DOCKER_CONFIG");
  const char *home = getenv("HOME");
  char *others[3] = {NULL, NULL, NULL};
  bool named = (authfile && authfile[0]) ||
               (getenv("REGISTRY_AUTH_FILE") && getenv("REGISTRY_AUTH_FILE")[0]);
  int r;

  memset(c, 0, sizeof(*c));
  if (auth_file_path(authfile, &mine, err) < 0)
    return -1;
  r = lookup_file(mine, false, host, repo, c, err);
  if (r != 0 || named)
    return r;
  cfg = config_home(&owned);
  if (rt != NULL && rt[0] == '/' &&
      asprintf(&others[0], "%s/containers/auth.json", rt) < 0)
    others[0] = NULL;
  if (cfg != NULL && asprintf(&others[1], "%s/containers/auth.json", cfg) < 0)
    others[1] = NULL;
  if (docker != NULL && docker[0] != '\0') {
    if (asprintf(&others[2], "%s/config.json", docker) < 0)
      others[2] = NULL;
  } else if (home != NULL && home[0] != '\0' &&
             asprintf(&others[2], "%s/.docker/config.json", home) < 0) {
    others[2] = NULL;
  }
  for (size_t i = 0; i < 3 && r == 0; i++)
    if (others[i] != NULL)
      r = lookup_file(others[i], true, host, repo, c, err);
  for (size_t i = 0; i < 3; i++)
    free(others[i]);
  return r;
}

/* Load the file to edit, or a new document when it does not exist yet. */
static int load_for_edit(const char *path, json_t **doc, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  json_t *auths;
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      return ctr_fail(err, errno, "%s", path);
    *doc = json_pack("{s:{}}", "auths");
    return *doc ? 0 : ctr_fail(err, ENOMEM, "%s", path);
  }
  if (ctr_read_fd(fd, AUTH_FILE_MAX, &buf, &len, err) < 0 ||
      ctr_json_parse_object(buf, len, path, doc, err) < 0) {
    if (buf != NULL)
      explicit_bzero(buf, len);
    return ctr_wrap(err, "%s", path);
  }
  explicit_bzero(buf, len);
  auths = json_object_get(*doc, "auths");
  if (auths == NULL)
    json_object_set_new(*doc, "auths", json_object());
  else if (!json_is_object(auths)) {
    json_decref(*doc);
    *doc = NULL;
    return ctr_fail(err, 0, "%s: \"auths\" is not an object", path);
  }
  return 0;
}

/* Atomic, 0600 from the first byte (the temp file is made 0600), in a
 * directory made 0700. */
static int save(const char *path, const json_t *doc, ctr_err *err) {
  cleanup_free char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  cleanup_free char *dir = strdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  int r;
  if (text == NULL || dir == NULL)
    return ctr_fail(err, ENOMEM, "write %s", path);
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    if (ctr_mkdir_p(AT_FDCWD, dir, 0700, err) < 0)
      return ctr_wrap(err, "write %s", path);
  }
  {
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line == NULL)
      return ctr_fail(err, ENOMEM, "write %s", path);
    text = line;
    memcpy(text + n, "\n", 2);
  }
  r = ctr_atomic_write(AT_FDCWD, path, text, strlen(text), 0600, true, err);
  explicit_bzero(text, strlen(text));
  return r;
}

int auth_store(const char *authfile, const char *host, const char *user,
               const char *pass, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_free char *plain = NULL;
  cleanup_free char *encoded = NULL;
  cleanup_json json_t *doc = NULL;
  int r;
  if (auth_file_path(authfile, &path, err) < 0 || load_for_edit(path, &doc, err) < 0)
    return -1;
  if (asprintf(&plain, "%s:%s", user, pass) < 0)
    return ctr_fail(err, ENOMEM, "credentials");
  encoded = b64_encode(plain, strlen(plain));
  explicit_bzero(plain, strlen(plain));
  if (encoded == NULL)
    return ctr_fail(err, ENOMEM, "credentials");
  json_object_set_new(json_object_get(doc, "auths"), host,
                      json_pack("{s:s}", "auth", encoded));
  r = save(path, doc, err);
  explicit_bzero(encoded, strlen(encoded));
  json_object_clear(json_object_get(doc, "auths"));
  return r;
}

int auth_remove(const char *authfile, const char *host, ctr_err *err) {
  cleanup_free char *path = NULL;
  cleanup_json json_t *doc = NULL;
  json_t *auths, *entry;
  const char *key;
  void *tmp;
  int removed = 0;
  if (auth_file_path(authfile, &path, err) < 0)
    return -1;
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (load_for_edit(path, &doc, err) < 0)
    return -1;
  auths = json_object_get(doc, "auths");
  json_object_foreach_safe(auths, tmp, key, entry) {
    cleanup_free char *norm = auth_normalize_key(key);
    if (norm == NULL)
      return ctr_fail(err, ENOMEM, "%s", path);
    if (host == NULL || strcmp(norm, host) == 0) {
      json_object_del(auths, key);
      removed = 1;
    }
  }
  (void)entry;
  if (removed && save(path, doc, err) < 0)
    return -1;
  return removed;
}

int auth_registry_open(const char *authfile, const char *host, const char *repo,
                       const struct registry_opts *o, struct registry **out,
                       ctr_err *err) {
  struct registry_opts ro = *o;
  struct auth_creds creds = {0};
  int ret;
  if (ro.username == NULL && auth_lookup(authfile, host, repo, &creds, err) < 0)
    return -1;
  if (ro.username == NULL && creds.user != NULL) {
    ro.username = creds.user;
    ro.password = creds.pass;
    ctr_debug("credentials for %s from %s", host, creds.file);
  }
  ret = registry_open(host, &ro, out, err);
  auth_creds_free(&creds);
  return ret;
}
