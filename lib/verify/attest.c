/* Recording lifecycle events and reading their chain back. Each event is
 * a file trust/attestations/<hex>/NNNNNN-<event>.dsse.json; NNNNNN counts
 * from 1 in the order the events happened here, and every statement names
 * its own number and the sha256 of the file before it, under the
 * signature, so a chain that lost, gained or reordered a statement shows
 * it. Appending holds flock on the subject's directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/rfc3339.h"
#include "verify/attest.h"
#include "verify/attest_chain.h"
#include "verify/attest_int.h"
#include "verify/dsse.h"
#include "verify/gpg.h"

#define ENTRY_SUFFIX ".dsse.json"
#define SIGNING_KEY_MAX 256

static void cleanup_gpg_close(struct vgpg **g) { vgpg_close(*g); }
#define cleanup_gpg __attribute__((cleanup(cleanup_gpg_close)))

/* "NNNNNN-<event>.dsse.json": its number, or 0 for anything else (temp
 * files of an atomic write among them). */
static long entry_number(const char *name) {
  size_t n = strlen(name), sl = strlen(ENTRY_SUFFIX);
  long num = 0;

  if (n <= 7 + sl || name[6] != '-' || strcmp(name + n - sl, ENTRY_SUFFIX) != 0)
    return 0;
  for (int i = 0; i < 6; i++) {
    if (name[i] < '0' || name[i] > '9')
      return 0;
    num = num * 10 + (name[i] - '0');
  }
  for (size_t i = 7; i < n - sl; i++)
    if (name[i] < 'a' || name[i] > 'z')
      return 0;
  return num;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void attest_names_free(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

int attest_list(int dirfd, char ***names, size_t *n, ctr_err *err) {
  cleanup_dir DIR *d = ctr_opendir_at(dirfd);
  struct dirent *de;
  char **list = NULL, **grown;
  size_t count = 0;

  *names = NULL;
  *n = 0;
  if (d == NULL)
    return ctr_fail(err, errno, "list attestations");
  while ((de = readdir(d)) != NULL) {
    if (entry_number(de->d_name) == 0)
      continue;
    grown = realloc(list, (count + 1) * sizeof(*list));
    if (grown == NULL || (grown[count] = strdup(de->d_name)) == NULL) {
      attest_names_free(grown ? grown : list, count);
      return ctr_fail(err, ENOMEM, "list attestations");
    }
    list = grown;
    count++;
  }
  if (count > 0)
    qsort(list, count, sizeof(*list), cmp_names);
  *names = list;
  *n = count;
  return 0;
}

/* $trust/attestations/<hex>, opened; -1 with errno ENOENT (err set) when
 * nothing was ever recorded. */
int attest_open_dir(const char *trust_dir, const char *digest, bool create,
                    ctr_err *err) {
  cleanup_free char *path = NULL;
  if (!ctr_digest_valid(digest))
    return ctr_usage(err, "not a sha256 digest: %s", digest);
  if (asprintf(&path, "%s/attestations/%s", trust_dir, ctr_digest_hex(digest)) < 0)
    return ctr_fail(err, ENOMEM, "attestations");
  if (create && ctr_mkdir_p(AT_FDCWD, path, 0700, err) < 0)
    return -1;
  return ctr_open_dir(AT_FDCWD, path, err);
}

/* The host's signing key (trust/signing-key), NULL when it has none. */
static int host_signing_key(const char *trust_dir, char **fpr, ctr_err *err) {
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;

  *fpr = NULL;
  if (asprintf(&path, "%s/signing-key", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "signing key");
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (ctr_read_file(AT_FDCWD, path, SIGNING_KEY_MAX, &buf, &len, err) < 0)
    return -1;
  buf[strcspn(buf, "\r\n")] = '\0';
  if (strlen(buf) < 16 || strspn(buf, "0123456789ABCDEFabcdef") != strlen(buf))
    return ctr_fail(err, 0, "%s: not a key fingerprint", path);
  *fpr = ctr_steal(buf);
  return 0;
}

/* The next number and the digest of the last file (NULL at the start). */
static int chain_tail(int dirfd, long *next, char **previous, ctr_err *err) {
  char **names = NULL;
  size_t n = 0;
  char digest[CTR_DIGEST_LEN + 1];
  int rc = 0;

  *previous = NULL;
  if (attest_list(dirfd, &names, &n, err) < 0)
    return -1;
  *next = n == 0 ? 1 : entry_number(names[n - 1]) + 1;
  if (*next > 999999)
    rc = ctr_fail(err, 0, "too many events");
  else if (n > 0 && ctr_sha256_file(dirfd, names[n - 1], digest, err) < 0)
    rc = -1;
  else if (n > 0 && (*previous = strdup(digest)) == NULL)
    rc = ctr_fail(err, ENOMEM, "attest");
  attest_names_free(names, n);
  return rc;
}

/* The envelope's bytes: the statement, signed over DSSE's PAE when fpr. */
static char *envelope_bytes(struct vgpg *g, const char *fpr, json_t *statement,
                            size_t *len, ctr_err *err) {
  cleanup_free char *body = ctr_json_compact(statement);
  cleanup_free char *pae = NULL, *sig = NULL, *text = NULL;
  cleanup_json json_t *env = NULL;
  size_t paelen, siglen = 0;
  char *out;

  if (body == NULL)
    return ctr_fail(err, ENOMEM, "attest"), NULL;
  if (g != NULL) {
    pae = dsse_pae(DSSE_INTOTO_TYPE, body, strlen(body), &paelen);
    if (pae == NULL)
      return ctr_fail(err, ENOMEM, "attest"), NULL;
    if (vgpg_sign(g, fpr, pae, paelen, true, &sig, &siglen, err) < 0)
      return NULL;
  }
  env = dsse_build(DSSE_INTOTO_TYPE, body, strlen(body), fpr, sig, siglen);
  text = env ? ctr_json_compact(env) : NULL;
  if (text == NULL || asprintf(&out, "%s\n", text) < 0)
    return ctr_fail(err, ENOMEM, "attest"), NULL;
  *len = strlen(out);
  return out;
}

/* The signing key's full fingerprint and a context to sign with; none
 * (g NULL) when no key was asked for and the host has none. */
static int signer_open(const char *trust_dir, const char *key_fpr,
                       struct vgpg **g, char fpr[VGPG_FPR_LEN + 1],
                       ctr_err *err) {
  cleanup_free char *host = NULL, *home = NULL;
  struct vgpg_key key;

  *g = NULL;
  if (key_fpr == NULL) {
    if (host_signing_key(trust_dir, &host, err) < 0)
      return -1;
    if (host == NULL)
      return 0;
    key_fpr = host;
  }
  if (asprintf(&home, "%s/gnupg", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "attest");
  if (vgpg_open(home, false, g, err) < 0)
    return ctr_wrap(err, "signing key %s", key_fpr);
  if (vgpg_find(*g, key_fpr, true, &key, err) < 0) {
    vgpg_close(*g);
    *g = NULL;
    return ctr_wrap(err, "signing key");
  }
  snprintf(fpr, VGPG_FPR_LEN + 1, "%s", key.fpr);
  free(key.uid);
  free(key.algo);
  return 0;
}

int attest_record(const char *trust_dir, const char *event,
                  const char *subject, char *const *params, size_t nparams,
                  const char *key_fpr, char **path_out, ctr_err *err) {
  struct attest_event ev = {0};
  cleanup_gpg struct vgpg *g = NULL;
  cleanup_json json_t *statement = NULL;
  cleanup_free char *bytes = NULL, *file = NULL;
  cleanup_close int dirfd = -1;
  char fpr[VGPG_FPR_LEN + 1] = "", now[64], host[256] = "";
  size_t len;
  int rc = -1;

  if (!ctr_digest_valid(subject))
    return ctr_usage(err, "subject is not a sha256 digest: %s", subject);
  if (attest_params_parse(event, params, nparams, &ev.params, err) < 0)
    return -1;
  /* Everything that can refuse does so before anything is written. */
  if (signer_open(trust_dir, key_fpr, &g, fpr, err) < 0)
    goto out;
  dirfd = attest_open_dir(trust_dir, subject, true, err);
  if (dirfd < 0)
    goto out;
  if (flock(dirfd, LOCK_EX) < 0) {
    ctr_fail(err, errno, "lock attestations");
    goto out;
  }
  if (chain_tail(dirfd, &ev.sequence, &ev.previous, err) < 0)
    goto out;
  ctr_now_rfc3339(now, sizeof(now));
  gethostname(host, sizeof(host) - 1);
  ev.event = strdup(event);
  ev.subject = strdup(subject);
  ev.name = strdup(ctr_json_str(ev.params, "name")
                       ?: ctr_json_str(ev.params, "reference") ?: "");
  ev.time = strdup(now);
  if (ev.event == NULL || ev.subject == NULL || ev.name == NULL ||
      ev.time == NULL || (statement = attest_statement_build(&ev, host)) == NULL) {
    ctr_fail(err, ENOMEM, "attest");
    goto out;
  }
  bytes = envelope_bytes(g, fpr, statement, &len, err);
  if (bytes == NULL ||
      asprintf(&file, "%06ld-%s%s", ev.sequence, event, ENTRY_SUFFIX) < 0)
    goto out;
  if (ctr_atomic_write(dirfd, file, bytes, len, 0644, true, err) < 0)
    goto out;
  if (path_out != NULL &&
      asprintf(path_out, "%s/attestations/%s/%s", trust_dir,
               ctr_digest_hex(subject), file) < 0) {
    ctr_fail(err, ENOMEM, "attest");
    goto out;
  }
  rc = 0;
out:
  attest_event_free(&ev);
  return rc;
}

static json_t *entry_new(const char *file, long seq) {
  return json_pack("{s:s, s:I, s:b, s:n, s:n, s:n, s:n, s:s}", "file", file,
                   "sequence", (json_int_t)seq, "intact", true, "statement",
                   "envelope", "signer", "uid", "signature", "unsigned");
}

static void entry_invalid(json_t *entry, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void entry_invalid(json_t *entry, const char *fmt, ...) {
  char *s = NULL;
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n >= 0)
    json_object_set_new(entry, "signature", json_string(s));
  free(s);
}

/* What is wrong with the entry itself (not its signature): it is not
 * intact, and that is what its "signature" says. */
#define entry_broken(entry, ...)                                              \
  do {                                                                        \
    json_object_set_new((entry), "intact", json_false());                     \
    entry_invalid((entry), __VA_ARGS__);                                      \
  } while (0)

/* Which of the envelope's signatures verifies over the PAE with g. */
static void entry_signature(json_t *entry, struct vgpg *g,
                            const struct dsse_envelope *env) {
  cleanup_free char *pae = NULL;
  cleanup_free char *first_reason = NULL;
  size_t paelen;

  if (env->nsigs == 0)
    return; /* "unsigned" */
  pae = dsse_pae(env->payload_type, env->payload, env->payload_len, &paelen);
  for (size_t i = 0; pae != NULL && g != NULL && i < env->nsigs; i++) {
    struct vgpg_verdict v;
    struct vgpg_key key;
    ctr_err e = NULL;
    if (vgpg_verify(g, env->sigs[i].sig, env->sigs[i].siglen, pae, paelen, &v,
                    &e) < 0) {
      if (first_reason == NULL)
        first_reason = strdup(e && e->msg ? e->msg : "cannot check");
      ctr_err_free(&e);
      continue;
    }
    if (v.valid) {
      json_object_set_new(entry, "signer", json_string(v.fpr));
      json_object_set_new(entry, "signature", json_string("valid"));
      /* how long this signature holds: bounds a cached verdict */
      if (v.not_after > 0)
        json_object_set_new(entry, "not_after", json_integer((json_int_t)v.not_after));
      if (vgpg_find(g, v.fpr, false, &key, &e) == 0) {
        json_object_set_new(entry, "uid", json_string(key.uid));
        free(key.uid);
        free(key.algo);
      }
      ctr_err_free(&e);
      vgpg_verdict_free(&v);
      return;
    }
    if (first_reason == NULL)
      first_reason = strdup(v.reason ? v.reason : "invalid signature");
    if (v.fpr[0] && json_is_null(json_object_get(entry, "signer")))
      json_object_set_new(entry, "signer", json_string(v.fpr));
    vgpg_verdict_free(&v);
  }
  if (json_is_null(json_object_get(entry, "signer")) && env->sigs[0].keyid[0])
    json_object_set_new(entry, "signer", json_string(env->sigs[0].keyid));
  if (first_reason == NULL && g == NULL)
    entry_invalid(entry, "invalid: %s", "no keyring to check the signature");
  else
    entry_invalid(entry, "invalid: %s", first_reason ? first_reason : "?");
}

/* One file of the chain checked: parsed, in its place (number, previous
 * digest, subject), its signature tried with g (NULL: no keyring). */
int attest_entry_check(int dirfd, const char *file, long index,
                       const char *previous, const char *digest,
                       struct vgpg *g, json_t **entry_out,
                       struct attest_event *ev_out, ctr_err *err) {
  cleanup_json json_t *entry = entry_new(file, index);
  cleanup_free char *buf = NULL;
  struct dsse_envelope env;
  struct attest_event ev = {0};
  ctr_err e = NULL;
  size_t len;
  long num = entry_number(file);
  const char *dash = strchr(file, '-');
  size_t evlen = strlen(dash + 1) - strlen(ENTRY_SUFFIX);

  if (entry == NULL)
    return ctr_fail(err, ENOMEM, "provenance");
  if (ctr_read_file(dirfd, file, DSSE_MAX, &buf, &len, err) < 0)
    return ctr_wrap(err, "attestation %s", file);
  if (dsse_parse(buf, len, &env, &e) < 0) {
    entry_broken(entry, "invalid: %s", e->msg);
    ctr_err_free(&e);
    goto done;
  }
  json_object_set_new(entry, "envelope", json_loadb(buf, len, 0, NULL));
  if (strcmp(env.payload_type, DSSE_INTOTO_TYPE) != 0) {
    entry_broken(entry, "invalid: payloadType %s is not in-toto", env.payload_type);
  } else if (attest_statement_parse(env.payload, env.payload_len, &ev, &e) < 0) {
    entry_broken(entry, "invalid: %s", e->msg);
    ctr_err_free(&e);
  } else {
    json_object_set_new(entry, "statement",
                        json_loadb(env.payload, env.payload_len, 0, NULL));
    entry_signature(entry, g, &env);
    /* The signature is checked first so "invalid" below still names who
     * signed what is out of place. */
    if (strcmp(ev.subject, digest) != 0)
      entry_broken(entry, "invalid: statement is about %s", ev.subject);
    else if (ev.sequence != num || ev.sequence != index)
      entry_broken(entry, "invalid: %s is out of sequence", file);
    else if (strlen(ev.event) != evlen || strncmp(ev.event, dash + 1, evlen) != 0)
      entry_broken(entry, "invalid: %s holds a %s event", file, ev.event);
    else if ((previous == NULL) != (ev.previous == NULL) ||
             (previous != NULL && strcmp(previous, ev.previous) != 0))
      entry_broken(entry, "invalid: %s does not follow the statement before it",
                    file);
  }
  dsse_free(&env);
done:
  if (ev_out != NULL)
    *ev_out = ev;
  else
    attest_event_free(&ev);
  *entry_out = ctr_steal(entry);
  return 0;
}

int attest_chain_with(const char *trust_dir, const char *digest,
                      struct vgpg *g, size_t limit, json_t **out,
                      ctr_err *err) {
  cleanup_close int dirfd = -1;
  cleanup_json json_t *arr = json_array();
  cleanup_free char *previous = NULL;
  char **names = NULL, d[CTR_DIGEST_LEN + 1];
  size_t n = 0, total;
  int rc = 0;

  *out = NULL;
  if (arr == NULL)
    return ctr_fail(err, ENOMEM, "provenance");
  dirfd = attest_open_dir(trust_dir, digest, false, err);
  if (dirfd < 0 && (*err)->errnum == ENOENT) {
    ctr_err_free(err);
    *out = ctr_steal(arr);
    return 0;
  }
  if (dirfd < 0 || attest_list(dirfd, &names, &n, err) < 0)
    return -1;
  total = n;
  if (limit > 0 && n > limit)
    n = limit;
  for (size_t i = 0; i < n && rc == 0; i++) {
    json_t *entry;
    rc = attest_entry_check(dirfd, names[i], (long)i + 1, previous, digest, g,
                            &entry, NULL, err);
    if (rc == 0)
      json_array_append_new(arr, entry);
    free(previous);
    previous = NULL;
    if (rc == 0 && ctr_sha256_file(dirfd, names[i], d, err) < 0)
      rc = -1;
    if (rc == 0 && (previous = strdup(d)) == NULL)
      rc = ctr_fail(err, ENOMEM, "provenance");
  }
  attest_names_free(names, total);
  if (rc < 0)
    return -1;
  *out = ctr_steal(arr);
  return 0;
}

int attest_chain(const char *trust_dir, const char *digest, json_t **out,
                 ctr_err *err) {
  cleanup_gpg struct vgpg *g = NULL;
  cleanup_free char *home = NULL;
  struct stat st;

  if (asprintf(&home, "%s/gnupg", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "provenance");
  /* Without ctr's keyring no signature can be checked: each says so. */
  if (stat(home, &st) == 0 && vgpg_open(home, false, &g, err) < 0)
    return -1;
  return attest_chain_with(trust_dir, digest, g, 0, out, err);
}
