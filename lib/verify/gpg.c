/* OpenPGP through gpgme. Each struct vgpg is one gpgme context bound to
 * one GnuPG home: ctr's keyring, or a throw-away keyring holding exactly
 * the keys a policy names, so that "valid" can only mean "signed by one
 * of those keys" (what containers/image's mechanism_gpgme.go does with a
 * temporary home per policy requirement). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gpgme.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/json.h"
#include "verify/gpg.h"

struct vgpg {
  gpgme_ctx_t ctx;
  char *home;
  /* ctr's keyring: a shared flock on the home while open, so the last
   * user out can stop the gpg-agent gpg started for it (secret-key
   * listing, import, signing all wake one; it would outlive the tool). */
  int lock_fd;
  /* A throw-away keyring's listing (keys.json, saved when it was made):
   * a verification then runs gpg once, to verify, not again to list. */
  json_t *listing;
};

/* The key blocks of a policy are small; a bigger blob is not a keyring. */
#define VGPG_MAX_DATA (16u << 20)

static int gpg_fail(ctr_err *err, gpgme_error_t e, const char *what) {
  return ctr_fail(err, 0, "%s: %s", what, gpgme_strerror(e));
}

/* A key that is not there: errnum ENOENT for callers that ask, without
 * strerror's words in the message. */
static int no_key(ctr_err *err, const char *fpr, bool secret) {
  ctr_fail(err, 0, "no %skey %s in the keyring", secret ? "secret " : "", fpr);
  if (err != NULL && *err != NULL)
    (*err)->errnum = ENOENT;
  return -1;
}

static void data_releasep(gpgme_data_t *d) {
  if (*d != NULL)
    gpgme_data_release(*d);
}
static void key_unrefp(gpgme_key_t *k) {
  if (*k != NULL)
    gpgme_key_unref(*k);
}
#define cleanup_data __attribute__((cleanup(data_releasep)))
#define cleanup_key __attribute__((cleanup(key_unrefp)))

static int gpg_init(ctr_err *err) {
  static int done;
  if (done)
    return 0;
  /* gpgme asks gpgconf where everything is and runs every engine it
   * finds with --version (6 processes) before its first context; gpg at
   * its default path is all ctr uses, and ctr-run waits on this. */
  gpgme_set_global_flag("disable-gpgconf", "1");
  if (gpgme_check_version(NULL) == NULL)
    return ctr_fail(err, 0, "gpgme: version check failed");
  done = 1;
  return 0;
}

static int ctx_new(const char *home, struct vgpg **out, ctr_err *err) {
  struct vgpg *g;
  gpgme_error_t e;
  if (gpg_init(err) < 0)
    return -1;
  g = calloc(1, sizeof(*g));
  if (g == NULL || (g->home = strdup(home)) == NULL) {
    free(g);
    return ctr_fail(err, ENOMEM, "gpgme");
  }
  g->lock_fd = -1;
  e = gpgme_new(&g->ctx);
  if (e == 0)
    e = gpgme_set_protocol(g->ctx, GPGME_PROTOCOL_OpenPGP);
  if (e == 0)
    e = gpgme_ctx_set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);
  /* Keys have no passphrase (key gen); loopback keeps any pinentry from
   * popping up on a terminal or hanging without one. */
  if (e == 0)
    e = gpgme_set_pinentry_mode(g->ctx, GPGME_PINENTRY_MODE_LOOPBACK);
  if (e == 0)
    e = gpgme_set_keylist_mode(g->ctx, GPGME_KEYLIST_MODE_LOCAL |
                                           GPGME_KEYLIST_MODE_WITH_SECRET);
  if (e != 0) {
    vgpg_close(g);
    return gpg_fail(err, e, "gpgme");
  }
  /* Never fetch keys from the network while verifying. */
  gpgme_set_offline(g->ctx, 1);
  *out = g;
  return 0;
}

/* Key trust is the policy's business, not gpg's (mechanism_gpgme.go
 * ignores it too): with trust-model always gpg neither consults nor
 * rewrites trustdb.gpg, so reading the keyring leaves it as it was and
 * a verification skips the trustdb check. */
static int home_conf(const char *home, bool throwaway, ctr_err *err) {
  /* A keyring of public keys never needs an agent: no-autostart keeps
   * gpg from leaving one behind for every cached policy keyring. */
  const char *conf =
      throwaway ? "trust-model always\nno-autostart\n" : "trust-model always\n";
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/gpg.conf", home) < 0)
    return ctr_fail(err, ENOMEM, "keyring");
  if (access(path, F_OK) == 0)
    return 0;
  return ctr_atomic_write(AT_FDCWD, path, conf, strlen(conf), 0600, false, err);
}

/* Stop the agent of g's home when no other vgpg has it open. */
static void agent_stop(struct vgpg *g) {
  pid_t pid;
  int st;
  char *argv[] = {"gpgconf", "--homedir", g->home, "--kill", "gpg-agent", NULL};
  cleanup_free char *sock = NULL;
  char rundir[64];
  /* Let go first, then ask for it alone: of users closing together, the
   * last to let go always gets it (or another got it and stops the
   * agent); holding on while asking would let both give up. */
  if (flock(g->lock_fd, LOCK_UN) < 0 ||
      flock(g->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return;
  /* The agent's socket is in the home, or under /run/user/UID when that
   * exists; with neither there is no agent and nothing to spawn. */
  snprintf(rundir, sizeof(rundir), "/run/user/%u/gnupg", (unsigned)getuid());
  if (asprintf(&sock, "%s/S.gpg-agent", g->home) < 0 ||
      (access(sock, F_OK) != 0 && access(rundir, F_OK) != 0))
    return;
  pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
}

int vgpg_open(const char *home, bool create, struct vgpg **out, ctr_err *err) {
  struct stat st;
  if (create) {
    if (ctr_mkdir_p(AT_FDCWD, home, 0700, err) < 0)
      return ctr_wrap(err, "keyring %s", home);
    /* gpg refuses (warns about) a home others can read. */
    if (chmod(home, 0700) < 0)
      return ctr_fail(err, errno, "keyring %s", home);
    if (home_conf(home, false, err) < 0)
      return ctr_wrap(err, "keyring %s", home);
  } else if (stat(home, &st) < 0) {
    return ctr_fail(err, errno, "keyring %s", home);
  }
  if (ctx_new(home, out, err) < 0)
    return -1;
  (*out)->lock_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if ((*out)->lock_fd < 0 || flock((*out)->lock_fd, LOCK_SH) < 0) {
    int e = errno;
    vgpg_close(*out);
    *out = NULL;
    return ctr_fail(err, e, "lock keyring %s", home);
  }
  return 0;
}

void vgpg_close(struct vgpg *g) {
  if (g == NULL)
    return;
  if (g->ctx != NULL)
    gpgme_release(g->ctx);
  if (g->lock_fd >= 0) {
    agent_stop(g);
    close(g->lock_fd);
  }
  json_decref(g->listing);
  free(g->home);
  free(g);
}

/* ---- keys ---- */

void vgpg_keys_free(struct vgpg_key *keys, size_t n) {
  if (keys == NULL)
    return;
  for (size_t i = 0; i < n; i++) {
    free(keys[i].uid);
    free(keys[i].algo);
  }
  free(keys);
}

static int key_fill(gpgme_key_t k, struct vgpg_key *out, ctr_err *err) {
  gpgme_subkey_t sk = k->subkeys;
  memset(out, 0, sizeof(*out));
  if (k->fpr == NULL || sk == NULL)
    return ctr_fail(err, 0, "gpgme: key without fingerprint");
  snprintf(out->fpr, sizeof(out->fpr), "%s", k->fpr);
  out->uid = strdup(k->uids && k->uids->uid ? k->uids->uid : "");
  out->algo = gpgme_pubkey_algo_string(sk);
  if (out->algo == NULL)
    out->algo = strdup("unknown");
  if (out->uid == NULL || out->algo == NULL) {
    free(out->uid);
    free(out->algo);
    return ctr_fail(err, ENOMEM, "gpgme");
  }
  out->created = sk->timestamp > 0 ? (time_t)sk->timestamp : 0;
  out->expires = sk->expires > 0 ? (time_t)sk->expires : 0;
  out->secret = k->secret;
  out->revoked = k->revoked;
  out->expired = k->expired;
  out->disabled = k->disabled;
  out->invalid = k->invalid;
  return 0;
}

/* One key of a saved listing; expiry is judged now, not when saved. */
static int listing_fill(const json_t *k, struct vgpg_key *o, ctr_err *err) {
  memset(o, 0, sizeof(*o));
  snprintf(o->fpr, sizeof(o->fpr), "%s", ctr_json_str(k, "fpr") ?: "");
  o->uid = strdup(ctr_json_str(k, "uid") ?: "");
  o->algo = strdup(ctr_json_str(k, "algo") ?: "unknown");
  if (o->uid == NULL || o->algo == NULL) {
    free(o->uid);
    free(o->algo);
    return ctr_fail(err, ENOMEM, "list keys");
  }
  o->created = (time_t)json_integer_value(json_object_get(k, "created"));
  o->expires = (time_t)json_integer_value(json_object_get(k, "expires"));
  o->revoked = json_is_true(json_object_get(k, "revoked"));
  o->disabled = json_is_true(json_object_get(k, "disabled"));
  o->invalid = json_is_true(json_object_get(k, "invalid"));
  o->expired = json_is_true(json_object_get(k, "expired")) ||
               (o->expires != 0 && o->expires <= time(NULL));
  return 0;
}

static int listing_keys(const json_t *listing, bool secret_only,
                        struct vgpg_key **keys, size_t *n, ctr_err *err) {
  const json_t *arr = json_object_get(listing, "keys");
  size_t cnt = json_array_size(arr), used = 0, i;
  struct vgpg_key *v = calloc(cnt ? cnt : 1, sizeof(*v));
  const json_t *k;

  if (v == NULL)
    return ctr_fail(err, ENOMEM, "list keys");
  json_array_foreach(arr, i, k) {
    if (secret_only)
      continue; /* a throw-away keyring holds no secret keys */
    if (listing_fill(k, &v[used], err) < 0) {
      vgpg_keys_free(v, used);
      return -1;
    }
    used++;
  }
  *keys = v;
  *n = used;
  return 0;
}

/* The key of a saved listing whose primary key or a subkey has the
 * fingerprint (or long key id) want; NULL if none. *sub_expires
 * (optional) gets that subkey's expiry (0: never). */
static const json_t *listing_find(const json_t *listing, const char *want,
                                  time_t *sub_expires) {
  size_t i, j, wl = strlen(want);
  const json_t *k, *sub;
  json_array_foreach(json_object_get(listing, "keys"), i, k) {
    json_array_foreach(json_object_get(k, "subkeys"), j, sub) {
      const char *f = json_string_value(sub);
      size_t fl = f ? strlen(f) : 0;
      if (fl >= wl && strcasecmp(f + fl - wl, want) == 0) {
        if (sub_expires != NULL)
          *sub_expires = (time_t)json_integer_value(
              json_array_get(json_object_get(k, "subkey_expires"), j));
        return k;
      }
    }
  }
  return NULL;
}

/* The listing format: 2 added subkey_expires (a verdict's not_after
 * needs the signing subkey's expiry); an older one is made again. */
#define LISTING_VERSION 2

/* The listing to save beside a new throw-away keyring: every key with
 * the fingerprints of all its subkeys (a signature names the subkey). */
static int listing_make(struct vgpg *g, json_t **out, ctr_err *err) {
  cleanup_json json_t *arr = json_array();
  gpgme_error_t e;
  gpgme_key_t k;
  if (arr == NULL)
    return ctr_fail(err, ENOMEM, "list keys");
  e = gpgme_op_keylist_start(g->ctx, NULL, 0);
  if (e != 0)
    return gpg_fail(err, e, "list keys");
  while ((e = gpgme_op_keylist_next(g->ctx, &k)) == 0) {
    struct vgpg_key one;
    json_t *subs = json_array(), *subexp = json_array(), *obj;
    if (key_fill(k, &one, err) < 0) {
      json_decref(subs);
      json_decref(subexp);
      gpgme_key_unref(k);
      gpgme_op_keylist_end(g->ctx);
      return -1;
    }
    for (gpgme_subkey_t sk = k->subkeys; sk != NULL && subs && subexp;
         sk = sk->next)
      if (sk->fpr) {
        json_array_append_new(subs, json_string(sk->fpr));
        json_array_append_new(subexp,
                              json_integer(sk->expires > 0 ? sk->expires : 0));
      }
    obj = json_pack("{s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:b, s:b, s:b, s:b}",
                    "fpr", one.fpr, "subkeys", subs ? subs : json_array(),
                    "subkey_expires", subexp ? subexp : json_array(), "uid",
                    one.uid, "algo", one.algo, "created",
                    (json_int_t)one.created, "expires", (json_int_t)one.expires,
                    "revoked", one.revoked, "expired", one.expired, "disabled",
                    one.disabled, "invalid", one.invalid);
    free(one.uid);
    free(one.algo);
    gpgme_key_unref(k);
    if (obj == NULL || json_array_append_new(arr, obj) < 0) {
      gpgme_op_keylist_end(g->ctx);
      return ctr_fail(err, ENOMEM, "list keys");
    }
  }
  gpgme_op_keylist_end(g->ctx);
  if (gpgme_err_code(e) != GPG_ERR_EOF)
    return gpg_fail(err, e, "list keys");
  *out = json_pack("{s:i, s:O}", "version", LISTING_VERSION, "keys", arr);
  return *out ? 0 : ctr_fail(err, ENOMEM, "list keys");
}

int vgpg_list(struct vgpg *g, bool secret_only, struct vgpg_key **keys,
              size_t *n, ctr_err *err) {
  struct vgpg_key *v = NULL;
  size_t used = 0, cap = 0;
  gpgme_error_t e;
  gpgme_key_t k;

  if (g->listing != NULL)
    return listing_keys(g->listing, secret_only, keys, n, err);
  e = gpgme_op_keylist_start(g->ctx, NULL, 0);
  if (e != 0)
    return gpg_fail(err, e, "list keys");
  while ((e = gpgme_op_keylist_next(g->ctx, &k)) == 0) {
    if (secret_only && !k->secret) {
      gpgme_key_unref(k);
      continue;
    }
    if (used == cap) {
      struct vgpg_key *nv;
      cap = cap ? cap * 2 : 8;
      nv = realloc(v, cap * sizeof(*v));
      if (nv == NULL) {
        gpgme_key_unref(k);
        gpgme_op_keylist_end(g->ctx);
        vgpg_keys_free(v, used);
        return ctr_fail(err, ENOMEM, "list keys");
      }
      v = nv;
    }
    if (key_fill(k, &v[used], err) < 0) {
      gpgme_key_unref(k);
      gpgme_op_keylist_end(g->ctx);
      vgpg_keys_free(v, used);
      return -1;
    }
    used++;
    gpgme_key_unref(k);
  }
  gpgme_op_keylist_end(g->ctx);
  if (gpgme_err_code(e) != GPG_ERR_EOF) {
    vgpg_keys_free(v, used);
    return gpg_fail(err, e, "list keys");
  }
  *keys = v;
  *n = used;
  return 0;
}

static bool fpr_arg_valid(const char *s) {
  size_t len = strlen(s);
  if (len < 16 || len > VGPG_FPR_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
          (s[i] >= 'A' && s[i] <= 'F')))
      return false;
  return true;
}

/* Whether key k answers to the fingerprint (or suffix) want: the primary
 * key or one of its subkeys, so a signature's subkey finds its key. */
static bool key_matches(gpgme_key_t k, const char *want) {
  size_t wl = strlen(want);
  for (gpgme_subkey_t sk = k->subkeys; sk != NULL; sk = sk->next) {
    size_t fl = sk->fpr ? strlen(sk->fpr) : 0;
    if (fl >= wl && strcasecmp(sk->fpr + fl - wl, want) == 0)
      return true;
  }
  return false;
}

/* The one key answering to fpr; *found NULL when none. */
static int key_lookup(struct vgpg *g, const char *fpr, bool secret,
                      gpgme_key_t *found, ctr_err *err) {
  gpgme_error_t e;
  gpgme_key_t k;
  *found = NULL;
  if (!fpr_arg_valid(fpr))
    return ctr_usage(err, "'%s' is not a key fingerprint (16 to 40 hex digits)",
                     fpr);
  e = gpgme_op_keylist_start(g->ctx, NULL, secret);
  if (e != 0)
    return gpg_fail(err, e, "list keys");
  while ((e = gpgme_op_keylist_next(g->ctx, &k)) == 0) {
    if (!key_matches(k, fpr)) {
      gpgme_key_unref(k);
      continue;
    }
    if (*found != NULL) {
      gpgme_key_unref(k);
      gpgme_op_keylist_end(g->ctx);
      gpgme_key_unref(*found);
      *found = NULL;
      return ctr_fail(err, 0,
                      "key %s is ambiguous: give more of its fingerprint", fpr);
    }
    *found = k;
  }
  gpgme_op_keylist_end(g->ctx);
  if (gpgme_err_code(e) != GPG_ERR_EOF) {
    if (*found != NULL)
      gpgme_key_unref(*found);
    *found = NULL;
    return gpg_fail(err, e, "list keys");
  }
  return 0;
}

int vgpg_find(struct vgpg *g, const char *fpr, bool secret,
              struct vgpg_key *key, ctr_err *err) {
  cleanup_key gpgme_key_t k = NULL;
  if (g->listing != NULL && !secret && fpr_arg_valid(fpr)) {
    const json_t *lk = listing_find(g->listing, fpr, NULL);
    if (lk == NULL)
      return no_key(err, fpr, secret);
    return listing_fill(lk, key, err);
  }
  if (key_lookup(g, fpr, secret, &k, err) < 0)
    return -1;
  if (k == NULL)
    return no_key(err, fpr, secret);
  return key_fill(k, key, err);
}

/* A set of fingerprints, in the order first seen. */
struct fpr_list {
  char **v; /* NULL-terminated */
  size_t n;
  bool oom;
};

static void fpr_list_add(struct fpr_list *l, const char *fpr) {
  char **nv;
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], fpr) == 0)
      return;
  nv = realloc(l->v, (l->n + 2) * sizeof(*nv));
  if (nv == NULL) {
    l->oom = true;
    return;
  }
  l->v = nv;
  if ((nv[l->n] = strdup(fpr)) == NULL) {
    l->oom = true;
    return;
  }
  nv[++l->n] = NULL;
}

static void fpr_list_free(struct fpr_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* gpg names the key a bare revocation certificate is for only in its
 * KEY_CONSIDERED status line: gpgme's import result has no entry then. */
static gpgme_error_t considered_cb(void *opaque, const char *keyword,
                                   const char *args) {
  char fpr[VGPG_FPR_LEN + 1];
  if (strcmp(keyword, "KEY_CONSIDERED") == 0 && args != NULL &&
      strspn(args, "0123456789ABCDEF") == VGPG_FPR_LEN) {
    memcpy(fpr, args, VGPG_FPR_LEN);
    fpr[VGPG_FPR_LEN] = '\0';
    fpr_list_add(opaque, fpr);
  }
  return 0;
}

int vgpg_import(struct vgpg *g, const void *data, size_t len, char ***fprs,
                size_t *n, ctr_err *err) {
  cleanup_data gpgme_data_t in = NULL;
  struct fpr_list out = {0}, considered = {0};
  gpgme_import_result_t r;
  gpgme_error_t e;
  bool changed;
  int considered_n;

  e = gpgme_data_new_from_mem(&in, data, len, 0);
  if (e != 0)
    return gpg_fail(err, e, "import keys");
  /* gpg applies a bare revocation certificate, then dies for want of a
   * trustdb.gpg (which trust-model always never makes) before it reports
   * anything; a model with a trustdb makes one. Imports only: reading
   * and verifying stay on gpg.conf's always. */
  e = gpgme_set_ctx_flag(g->ctx, "trust-model", "pgp");
  if (e == 0)
    e = gpgme_set_ctx_flag(g->ctx, "full-status", "1");
  if (e == 0) {
    gpgme_set_status_cb(g->ctx, considered_cb, &considered);
    e = gpgme_op_import(g->ctx, in);
    gpgme_set_status_cb(g->ctx, NULL, NULL);
  }
  gpgme_set_ctx_flag(g->ctx, "full-status", "0");
  gpgme_set_ctx_flag(g->ctx, "trust-model", "always");
  if (e != 0) {
    fpr_list_free(&considered);
    return gpg_fail(err, e, "import keys");
  }
  r = gpgme_op_import_result(g->ctx);
  if (r == NULL || r->considered == 0) {
    fpr_list_free(&considered);
    return ctr_fail(err, 0, "no OpenPGP keys in the input");
  }
  for (gpgme_import_status_t s = r->imports; s != NULL; s = s->next)
    if (s->result == 0 && s->fpr != NULL)
      fpr_list_add(&out, s->fpr);
  /* What changed a key already there (new_revocations counts bare
   * revocation certificates, the rest merged key material) is an import
   * too: the keyring is not as it was. */
  changed = r->new_revocations > 0 || r->new_signatures > 0 ||
            r->new_sub_keys > 0 || r->new_user_ids > 0;
  considered_n = r->considered;
  /* r is gone once the keyring is listed below. A revoked key the input
   * concerned: revoked by it, or by the same certificate before (which
   * gpg counts nowhere; importing it again is as harmless as a key). */
  for (size_t i = 0; i < considered.n; i++) {
    gpgme_key_t k = NULL;
    ctr_err ignore = NULL;
    if (key_lookup(g, considered.v[i], false, &k, &ignore) == 0 && k != NULL &&
        k->revoked)
      fpr_list_add(&out, k->fpr);
    if (k != NULL)
      gpgme_key_unref(k);
    ctr_err_free(&ignore);
  }
  fpr_list_free(&considered);
  if (out.oom) {
    fpr_list_free(&out);
    return ctr_fail(err, ENOMEM, "import keys");
  }
  if (out.n == 0 && !changed) {
    fpr_list_free(&out);
    return ctr_fail(err, 0, "no usable OpenPGP keys in the input (%d rejected)",
                    considered_n);
  }
  if (out.v == NULL && (out.v = calloc(1, sizeof(*out.v))) == NULL)
    return ctr_fail(err, ENOMEM, "import keys");
  *fprs = out.v;
  *n = out.n;
  return 0;
}

int vgpg_export(struct vgpg *g, const char *fpr, bool armor, char **data,
                size_t *len, ctr_err *err) {
  cleanup_key gpgme_key_t k = NULL;
  cleanup_data gpgme_data_t out = NULL;
  gpgme_key_t keys[2];
  gpgme_error_t e;
  char *buf;
  size_t blen;

  if (key_lookup(g, fpr, false, &k, err) < 0)
    return -1;
  if (k == NULL)
    return no_key(err, fpr, false);
  if ((e = gpgme_data_new(&out)) != 0)
    return gpg_fail(err, e, "export key");
  gpgme_set_armor(g->ctx, armor);
  keys[0] = k;
  keys[1] = NULL;
  e = gpgme_op_export_keys(g->ctx, keys, 0, out);
  gpgme_set_armor(g->ctx, 0);
  if (e != 0)
    return gpg_fail(err, e, "export key");
  buf = gpgme_data_release_and_get_mem(out, &blen);
  out = NULL;
  if (buf == NULL || blen == 0) {
    gpgme_free(buf);
    return ctr_fail(err, 0, "export key %s: nothing exported", fpr);
  }
  *data = malloc(blen + 1);
  if (*data == NULL) {
    gpgme_free(buf);
    return ctr_fail(err, ENOMEM, "export key");
  }
  memcpy(*data, buf, blen);
  (*data)[blen] = '\0';
  *len = blen;
  gpgme_free(buf);
  return 0;
}

int vgpg_delete(struct vgpg *g, const char *fpr, bool with_secret,
                ctr_err *err) {
  cleanup_key gpgme_key_t k = NULL;
  gpgme_error_t e;
  if (key_lookup(g, fpr, false, &k, err) < 0)
    return -1;
  if (k == NULL)
    return no_key(err, fpr, false);
  if (k->secret && !with_secret)
    return ctr_fail(err, 0,
                    "key %s has a secret part here: remove it with --secret",
                    k->fpr);
  e = gpgme_op_delete_ext(g->ctx, k,
                          GPGME_DELETE_FORCE |
                              (with_secret ? GPGME_DELETE_ALLOW_SECRET : 0));
  if (e != 0)
    return gpg_fail(err, e, "remove key");
  return 0;
}

int vgpg_genkey(struct vgpg *g, const char *uid, unsigned long expires,
                char fpr[VGPG_FPR_LEN + 1], ctr_err *err) {
  gpgme_genkey_result_t r;
  gpgme_error_t e;
  unsigned int flags =
      GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD | GPGME_CREATE_FORCE;
  if (expires == 0)
    flags |= GPGME_CREATE_NOEXPIRE;
  e = gpgme_op_createkey(g->ctx, uid, "ed25519", 0, expires, NULL, flags);
  if (e != 0)
    return gpg_fail(err, e, "generate key");
  r = gpgme_op_genkey_result(g->ctx);
  if (r == NULL || r->fpr == NULL || strlen(r->fpr) != VGPG_FPR_LEN)
    return ctr_fail(err, 0, "generate key: gpg gave no fingerprint");
  memcpy(fpr, r->fpr, VGPG_FPR_LEN + 1);
  return 0;
}

/* ---- signatures ---- */

static int data_to_buf(gpgme_data_t *d, char **out, size_t *len, ctr_err *err) {
  size_t blen = 0;
  char *buf = gpgme_data_release_and_get_mem(*d, &blen);
  *d = NULL;
  *out = malloc(blen + 1);
  if (*out == NULL) {
    gpgme_free(buf);
    return ctr_fail(err, ENOMEM, "gpgme");
  }
  if (blen)
    memcpy(*out, buf, blen);
  (*out)[blen] = '\0';
  *len = blen;
  gpgme_free(buf);
  return 0;
}

int vgpg_sign(struct vgpg *g, const char *fpr, const void *data, size_t len,
              bool detached, char **sig, size_t *siglen, ctr_err *err) {
  cleanup_key gpgme_key_t k = NULL;
  cleanup_data gpgme_data_t in = NULL;
  cleanup_data gpgme_data_t out = NULL;
  gpgme_sign_result_t r;
  gpgme_error_t e;

  if (key_lookup(g, fpr, true, &k, err) < 0)
    return -1;
  if (k == NULL)
    return no_key(err, fpr, true);
  if (k->revoked || k->expired || k->disabled || k->invalid || !k->can_sign)
    return ctr_fail(err, 0, "key %s cannot sign (%s)", k->fpr,
                    k->revoked   ? "revoked"
                    : k->expired ? "expired"
                                 : "not a signing key");
  gpgme_signers_clear(g->ctx);
  if ((e = gpgme_signers_add(g->ctx, k)) != 0)
    return gpg_fail(err, e, "sign");
  gpgme_set_armor(g->ctx, 0);
  e = gpgme_data_new_from_mem(&in, data, len, 0);
  if (e == 0)
    e = gpgme_data_new(&out);
  if (e == 0)
    e = gpgme_op_sign(g->ctx, in, out,
                      detached ? GPGME_SIG_MODE_DETACH : GPGME_SIG_MODE_NORMAL);
  gpgme_signers_clear(g->ctx);
  if (e != 0)
    return gpg_fail(err, e, "sign");
  r = gpgme_op_sign_result(g->ctx);
  if (r == NULL || r->invalid_signers != NULL || r->signatures == NULL)
    return ctr_fail(err, 0, "sign: gpg did not sign with %s", k->fpr);
  return data_to_buf(&out, sig, siglen, err);
}

void vgpg_verdict_free(struct vgpg_verdict *v) {
  if (v == NULL)
    return;
  free(v->reason);
  free(v->payload);
  memset(v, 0, sizeof(*v));
}

static int verdict_reject(struct vgpg_verdict *v, ctr_err *err, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));
static int verdict_reject(struct vgpg_verdict *v, ctr_err *err, const char *fmt,
                          ...) {
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = vasprintf(&v->reason, fmt, ap);
  va_end(ap);
  if (r < 0) {
    v->reason = NULL;
    return ctr_fail(err, ENOMEM, "verify signature");
  }
  v->valid = false;
  free(v->payload);
  v->payload = NULL;
  v->payload_len = 0;
  return 0;
}

/* The primary key's fingerprint for a signature made by it or one of its
 * subkeys (policies and trust/keys name primary keys), and when the key
 * stops being good for that signature: the earlier of the signing
 * subkey's expiry and the primary key's (0: never). */
static void signer_key(struct vgpg *g, const char *sigfpr,
                       char out[VGPG_FPR_LEN + 1], time_t *not_after) {
  gpgme_key_t k = NULL;
  ctr_err e = NULL;
  size_t wl = strlen(sigfpr);
  snprintf(out, VGPG_FPR_LEN + 1, "%s", sigfpr);
  *not_after = 0;
  if (g->listing != NULL && sigfpr[0] != '\0') {
    time_t sub = 0;
    const json_t *lk = listing_find(g->listing, sigfpr, &sub);
    if (lk != NULL) {
      snprintf(out, VGPG_FPR_LEN + 1, "%s", ctr_json_str(lk, "fpr") ?: "");
      *not_after = vgpg_earlier(
          sub, (time_t)json_integer_value(json_object_get(lk, "expires")));
    }
    return;
  }
  if (sigfpr[0] == '\0' || key_lookup(g, sigfpr, false, &k, &e) < 0) {
    ctr_err_free(&e);
    return;
  }
  if (k == NULL)
    return;
  snprintf(out, VGPG_FPR_LEN + 1, "%s", k->fpr);
  for (gpgme_subkey_t sk = k->subkeys; sk != NULL; sk = sk->next) {
    size_t fl = sk->fpr ? strlen(sk->fpr) : 0;
    /* The primary key bounds every subkey; the signing one bounds too. */
    if (sk == k->subkeys ||
        (fl >= wl && strcasecmp(sk->fpr + fl - wl, sigfpr) == 0))
      *not_after =
          vgpg_earlier(*not_after, sk->expires > 0 ? (time_t)sk->expires : 0);
  }
  gpgme_key_unref(k);
}

/* Why one signature is not valid, in the terms of gpgme's result (the
 * fields mechanism_gpgme.go checks: Status, Validity, ValidityReason,
 * WrongKeyUsage; key trust is the policy's business, not gpg's). */
static const char *sig_problem(gpgme_signature_t s) {
  switch (gpgme_err_code(s->status)) {
  case GPG_ERR_NO_ERROR:
    break;
  case GPG_ERR_NO_PUBKEY:
    return "signed by an unknown key";
  case GPG_ERR_KEY_EXPIRED:
    return "the signing key has expired";
  case GPG_ERR_CERT_REVOKED:
    return "the signing key has been revoked";
  case GPG_ERR_SIG_EXPIRED:
    return "the signature has expired";
  case GPG_ERR_BAD_SIGNATURE:
    return "bad signature: the signed data was changed";
  default:
    return gpgme_strerror(s->status);
  }
  if (s->wrong_key_usage)
    return "the key is not meant for signing";
  if (s->validity == GPGME_VALIDITY_NEVER)
    return "the signing key is never valid";
  if (s->validity_reason != 0)
    return gpgme_strerror(s->validity_reason);
  return NULL;
}

int vgpg_verify(struct vgpg *g, const void *sig, size_t siglen,
                const void *data, size_t datalen, struct vgpg_verdict *v,
                ctr_err *err) {
  cleanup_data gpgme_data_t sigd = NULL;
  cleanup_data gpgme_data_t signed_text = NULL;
  cleanup_data gpgme_data_t plain = NULL;
  gpgme_verify_result_t r;
  gpgme_signature_t s;
  char sigfpr[VGPG_FPR_LEN + 1];
  const char *why;
  gpgme_error_t e;
  size_t count = 0;
  time_t sig_expires, key_expires;

  memset(v, 0, sizeof(*v));
  if (siglen == 0)
    return verdict_reject(v, err, "Invalid GPG signature: empty signature");
  if (siglen > VGPG_MAX_DATA)
    return verdict_reject(v, err, "Invalid GPG signature: %zu bytes is too big",
                          siglen);
  e = gpgme_data_new_from_mem(&sigd, sig, siglen, 0);
  if (e == 0 && data != NULL)
    e = gpgme_data_new_from_mem(&signed_text, data, datalen, 0);
  if (e == 0 && data == NULL)
    e = gpgme_data_new(&plain);
  if (e != 0)
    return gpg_fail(err, e, "verify signature");
  e = gpgme_op_verify(g->ctx, sigd, signed_text, plain);
  if (e != 0) {
    /* Corrupt or not OpenPGP at all: a rejection, not a failure to check. */
    return verdict_reject(v, err,
                          "Invalid GPG signature: not a valid OpenPGP "
                          "message (%s)",
                          gpgme_strerror(e));
  }
  r = gpgme_op_verify_result(g->ctx);
  for (s = r ? r->signatures : NULL; s != NULL; s = s->next)
    count++;
  if (count != 1)
    return verdict_reject(v, err, "Unexpected GPG signature count %zu", count);
  s = r->signatures;
  why = sig_problem(s);
  snprintf(sigfpr, sizeof(sigfpr), "%s", s->fpr ? s->fpr : "");
  sig_expires = s->exp_timestamp > 0 ? (time_t)s->exp_timestamp : 0;
  /* Listing keys on this context ends the verify result: s is gone. */
  s = NULL;
  r = NULL;
  signer_key(g, sigfpr, v->fpr, &key_expires);
  if (why != NULL)
    return verdict_reject(v, err, "Invalid GPG signature by key %s: %s",
                          v->fpr[0] ? v->fpr : "(unknown)", why);
  if (plain != NULL &&
      data_to_buf(&plain, &v->payload, &v->payload_len, err) < 0)
    return -1;
  v->valid = true;
  v->not_after = vgpg_earlier(sig_expires, key_expires);
  return 0;
}

/* ---- throw-away keyrings of a policy's keys ---- */

static int keys_digest(const void *const *blocks, const size_t *lens, size_t n,
                       char hex[CTR_DIGEST_HEX_LEN + 1], ctr_err *err) {
  char d[CTR_DIGEST_LEN + 1];
  ctr_sha256 *h = ctr_sha256_new();
  if (h == NULL)
    return ctr_fail(err, ENOMEM, "keyring");
  /* Length-prefixed, so two blocks never hash like their concatenation. */
  for (size_t i = 0; i < n; i++) {
    uint64_t l = lens[i];
    unsigned char be[8];
    for (int b = 0; b < 8; b++)
      be[b] = (unsigned char)(l >> (56 - 8 * b));
    ctr_sha256_update(h, be, sizeof(be));
    ctr_sha256_update(h, blocks[i], lens[i]);
  }
  ctr_sha256_final(h, d);
  memcpy(hex, ctr_digest_hex(d), CTR_DIGEST_HEX_LEN + 1);
  return 0;
}

/* Import every block into the fresh home at dir; at least one key must
 * come in (containers/image: "No public keys imported"). */
static int keyring_fill(const char *dir, const void *const *blocks,
                        const size_t *lens, size_t n, ctr_err *err) {
  struct vgpg *g = NULL;
  size_t total = 0;
  int ret = 0;
  if (home_conf(dir, true, err) < 0 || ctx_new(dir, &g, err) < 0)
    return -1;
  for (size_t i = 0; i < n && ret == 0; i++) {
    char **fprs = NULL;
    size_t nf = 0;
    ctr_err ignore = NULL;
    if (vgpg_import(g, blocks[i], lens[i], &fprs, &nf, &ignore) < 0) {
      ctr_err_free(&ignore);
      continue;
    }
    total += nf;
    for (size_t j = 0; j < nf; j++)
      free(fprs[j]);
    free(fprs);
  }
  if (total == 0) {
    vgpg_close(g);
    return ctr_fail(err, 0, "No public keys imported");
  }
  {
    cleanup_json json_t *listing = NULL;
    cleanup_free char *path = NULL;
    if (asprintf(&path, "%s/keys.json", dir) < 0)
      ret = ctr_fail(err, ENOMEM, "keyring");
    if (ret == 0)
      ret = listing_make(g, &listing, err);
    if (ret == 0)
      ret = ctr_json_save(AT_FDCWD, path, listing, false, false, err);
  }
  vgpg_close(g);
  return ret;
}

/* Open a complete throw-away keyring, with its listing when it has one
 * (an unreadable one only costs speed: gpg lists instead). A listing of
 * an older format (the cache is on a tmpfs that outlives upgrades) is
 * made again, once. */
static int keyring_open(const char *dir, struct vgpg **out, ctr_err *err) {
  cleanup_free char *path = NULL;
  ctr_err ignore = NULL;
  if (ctx_new(dir, out, err) < 0)
    return -1;
  if (asprintf(&path, "%s/keys.json", dir) < 0)
    return 0;
  if (ctr_json_load_object(AT_FDCWD, path, 1 << 20, &(*out)->listing, &ignore) <
      0)
    (*out)->listing = NULL;
  ctr_err_free(&ignore);
  if ((*out)->listing != NULL &&
      json_integer_value(json_object_get((*out)->listing, "version")) !=
          LISTING_VERSION) {
    json_decref((*out)->listing);
    (*out)->listing = NULL;
    if (listing_make(*out, &(*out)->listing, &ignore) == 0)
      ctr_json_save(AT_FDCWD, path, (*out)->listing, false, false, &ignore);
    ctr_err_free(&ignore);
  }
  return 0;
}

int vgpg_open_keys(const char *cache_dir, const void *const *blocks,
                   const size_t *lens, size_t n, struct vgpg **out,
                   ctr_err *err) {
  char hex[CTR_DIGEST_HEX_LEN + 1];
  cleanup_free char *dir = NULL;
  cleanup_free char *tmpname = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int cfd = -1;
  struct stat st;

  if (n == 0)
    return ctr_fail(err, 0, "No public keys imported");
  for (size_t i = 0; i < n; i++)
    if (lens[i] > VGPG_MAX_DATA)
      return ctr_fail(err, EFBIG, "key data");
  if (keys_digest(blocks, lens, n, hex, err) < 0)
    return -1;
  if (asprintf(&dir, "%s/%s", cache_dir, hex) < 0)
    return ctr_fail(err, ENOMEM, "keyring");
  /* A cached keyring is complete: it only appears by rename. */
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return keyring_open(dir, out, err);
  if (ctr_mkdir_p(AT_FDCWD, cache_dir, 0700, err) < 0)
    return ctr_wrap(err, "keyring cache");
  cfd = ctr_open_dir(AT_FDCWD, cache_dir, err);
  if (cfd < 0)
    return ctr_wrap(err, "keyring cache");
  if (ctr_mkdtemp_at(cfd, ".new", &tmpname, err) < 0)
    return ctr_wrap(err, "keyring cache");
  if (asprintf(&tmp, "%s/%s", cache_dir, tmpname) < 0) {
    ctr_err ignore = NULL;
    ctr_rm_rf(cfd, tmpname, &ignore);
    ctr_err_free(&ignore);
    return ctr_fail(err, ENOMEM, "keyring");
  }
  if (keyring_fill(tmp, blocks, lens, n, err) < 0) {
    ctr_err ignore = NULL;
    ctr_rm_rf(cfd, tmpname, &ignore);
    ctr_err_free(&ignore);
    return -1;
  }
  if (renameat(cfd, tmpname, cfd, hex) < 0) {
    int e = errno;
    ctr_err ignore = NULL;
    ctr_rm_rf(cfd, tmpname, &ignore);
    ctr_err_free(&ignore);
    /* Someone else cached the same keys meanwhile: use theirs. */
    if (e != EEXIST && e != ENOTEMPTY)
      return ctr_fail(err, e, "keyring cache %s", dir);
  }
  return keyring_open(dir, out, err);
}

/* ---- ctr's keyring in the layout ---- */

char *vgpg_home(const struct ctr_paths *paths) {
  char *s;
  if (asprintf(&s, "%s/trust/gnupg", paths->root) < 0)
    return NULL;
  return s;
}

static char *signing_key_path(const struct ctr_paths *paths) {
  char *s;
  if (asprintf(&s, "%s/trust/signing-key", paths->root) < 0)
    return NULL;
  return s;
}

int vgpg_signing_key(const struct ctr_paths *paths, char **fpr, ctr_err *err) {
  cleanup_free char *path = signing_key_path(paths);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  *fpr = NULL;
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "signing key");
  if (access(path, F_OK) != 0 && errno == ENOENT)
    return 0;
  if (ctr_read_file(AT_FDCWD, path, 4096, &buf, &len, err) < 0)
    return -1;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
    buf[--len] = '\0';
  if (len != VGPG_FPR_LEN || strspn(buf, "0123456789ABCDEF") != len)
    return ctr_fail(err, 0, "%s: not a key fingerprint", path);
  *fpr = ctr_steal(buf);
  return 0;
}

int vgpg_signing_key_set(const struct ctr_paths *paths, const char *fpr,
                         ctr_err *err) {
  cleanup_free char *path = signing_key_path(paths);
  char line[VGPG_FPR_LEN + 2];
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "signing key");
  snprintf(line, sizeof(line), "%s\n", fpr);
  return ctr_atomic_write(AT_FDCWD, path, line, strlen(line), 0644, true, err);
}

int vgpg_signing_key_clear(const struct ctr_paths *paths, ctr_err *err) {
  cleanup_free char *path = signing_key_path(paths);
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "signing key");
  if (unlink(path) < 0 && errno != ENOENT)
    return ctr_fail(err, errno, "remove %s", path);
  return 0;
}

bool vgpg_looks_like_keys(const void *data, size_t len) {
  const unsigned char *p = data;
  unsigned tag;
  if (len >= 15 &&
      memmem(data, len < 4096 ? len : 4096, "-----BEGIN PGP ", 15) != NULL)
    return memmem(data, len, "KEY BLOCK-----", 14) != NULL;
  if (len < 2 || !(p[0] & 0x80))
    return false;
  /* New packet format keeps the tag in 6 bits, the old one in 4. */
  tag = (p[0] & 0x40) ? (p[0] & 0x3fu) : ((p[0] >> 2) & 0x0fu);
  return tag == 6 || tag == 5; /* public key, secret key */
}
