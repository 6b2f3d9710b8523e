/* TLS for a registry: the CAs and client certificate of its certs.d
 * directory, and the settings every curl handle to it (or to its token
 * server) gets. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "registry_int.h"

#define CERT_FILE_MAX (1 << 20)

static int append_file(FILE *pem, int dirfd, const char *name, ctr_err *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (ctr_read_file(dirfd, name, CERT_FILE_MAX, &buf, &len, err) < 0)
    return -1;
  fwrite(buf, 1, len, pem);
  fputc('\n', pem);
  return 0;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && strcmp(s + n - k, suffix) == 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* The system's CA bundle, which per-registry CAs add to (curl takes one
 * CA source: an in-memory bundle replaces its default file). */
static void append_system_cas(FILE *pem) {
  char *path = NULL;
  CURL *h = curl_easy_init();
  ctr_err e = NULL;
  cleanup_close int fd = -1;
  if (h != NULL && curl_easy_getinfo(h, CURLINFO_CAINFO, &path) == CURLE_OK &&
      path != NULL && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 &&
      append_file(pem, fd, ".", &e) < 0)
    ctr_err_free(&e);
  (void)fd;
  if (h != NULL)
    curl_easy_cleanup(h);
}

/* Read dir's *.crt (CAs) and *.cert + *.key (the client's pair). */
static int load_cert_dir(struct registry *r, const char *dir, ctr_err *err) {
  struct dirent **ents = NULL;
  cleanup_close int dfd = ctr_open_dir(AT_FDCWD, dir, err);
  FILE *pem = NULL;
  int n, ret = 0;
  if (dfd < 0)
    return -1;
  n = scandir(dir, &ents, NULL, name_cmp);
  if (n < 0)
    return ctr_fail(err, errno, "read %s", dir);
  pem = open_memstream(&r->ca, &r->ca_len);
  if (pem == NULL)
    ret = ctr_fail(err, ENOMEM, "read %s", dir);
  for (int i = 0; i < n && ret == 0; i++) {
    const char *name = ents[i]->d_name;
    if (has_suffix(name, ".crt")) {
      if (ftell(pem) == 0)
        append_system_cas(pem);
      ret = append_file(pem, dfd, name, err);
    } else if (has_suffix(name, ".cert") && r->cert == NULL) {
      struct stat st;
      if (asprintf(&r->cert, "%s/%s", dir, name) < 0 ||
          asprintf(&r->key, "%s/%.*s.key", dir, (int)(strlen(name) - 5), name) < 0)
        ret = ctr_fail(err, ENOMEM, "read %s", dir);
      else if (stat(r->key, &st) < 0)
        ret = ctr_fail(err, errno, "client certificate %s: key %s", r->cert, r->key);
    }
  }
  for (int i = 0; i < n; i++)
    free(ents[i]);
  free(ents);
  if (pem != NULL && fclose(pem) != 0 && ret == 0)
    ret = ctr_fail(err, ENOMEM, "read %s", dir);
  if (r->ca_len == 0) {
    free(r->ca);
    r->ca = NULL;
  }
  return ret < 0 ? ctr_wrap(err, "certificates for %s", r->host) : 0;
}

/* certs.d as docker and podman lay it out: DIR/HOST[:PORT]/. A directory
 * named on purpose (--cert-dir, $CTR_CERTS_DIR) may also hold the files
 * itself, as podman's --cert-dir does. */
int registry_load_certs(struct registry *r, const char *cert_dir, ctr_err *err) {
  const char *env = getenv("CTR_CERTS_DIR");
  const char *root = cert_dir ? cert_dir : (env && env[0] ? env : "/etc/ctr/certs.d");
  bool named = cert_dir != NULL || (env && env[0]);
  cleanup_free char *dir = NULL;
  struct stat st;
  r->certs_root = strdup(root);
  if (r->certs_root == NULL || asprintf(&dir, "%s/%s", root, r->host) < 0)
    return ctr_fail(err, ENOMEM, "certificates");
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return load_cert_dir(r, dir, err);
  if (named && stat(root, &st) == 0 && S_ISDIR(st.st_mode)) {
    cleanup_dir DIR *d = opendir(root);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
      if (has_suffix(de->d_name, ".crt") || has_suffix(de->d_name, ".cert"))
        return load_cert_dir(r, root, err);
  }
  if (cert_dir != NULL && stat(root, &st) < 0)
    return ctr_fail(err, errno, "--cert-dir %s", root);
  return 0;
}

/* What every handle to this registry (or its token server) gets. */
void registry_setup_handle(struct registry *r, CURL *h, char *errbuf) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "ctr/" CTR_VERSION);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 8L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, r->stall);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, r->stall);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  errbuf[0] = '\0';
  if (r->tls == REGISTRY_TLS_NO_VERIFY) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (r->ca != NULL) {
    struct curl_blob blob = {.data = r->ca, .len = r->ca_len, .flags = CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (r->cert != NULL) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, r->cert);
    curl_easy_setopt(h, CURLOPT_SSLKEY, r->key);
  }
}

/* Docker's daemon.json key, so an operator's list carries over as it is:
 * {"insecure-registries": ["host:5000", "registry.lan"]}. A malformed
 * file is an error: silently ignoring it would turn an intended
 * insecure registry into a confusing TLS failure, or worse the other
 * way round after an edit. */
int registry_insecure_listed(const char *host, bool *listed, ctr_err *err) {
  const char *env = getenv("CTR_REGISTRIES_CONF");
  const char *path = env && env[0] ? env : "/etc/ctr/registries.json";
  cleanup_json json_t *conf = NULL;
  const json_t *list, *v;
  size_t i;
  *listed = false;
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &conf, err) < 0) {
    if ((*err)->errnum == ENOENT && !(env && env[0])) {
      ctr_err_free(err);
      return 0;
    }
    return -1;
  }
  list = json_object_get(conf, "insecure-registries");
  if (list != NULL && !json_is_array(list))
    return ctr_fail(err, 0, "%s: insecure-registries is not an array", path);
  json_array_foreach(list, i, v) {
    if (!json_is_string(v))
      return ctr_fail(err, 0, "%s: insecure-registries[%zu] is not a string", path, i);
    if (strcmp(json_string_value(v), host) == 0)
      *listed = true;
  }
  return 0;
}

