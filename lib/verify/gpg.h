/* OpenPGP through gpgme: ctr's keyring ($CTR_ROOT/trust/gnupg, a GnuPG
 * home of ctr's own) and throw-away keyrings that hold exactly the keys a
 * policy names (keyPath, keyPaths, keyData), as containers/image does. */
#ifndef CTR_VERIFY_GPG_H
#define CTR_VERIFY_GPG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"
#include "core/paths.h"

#define VGPG_FPR_LEN 40 /* v4 fingerprints, upper-case hex */

struct vgpg; /* one gpgme context bound to one GnuPG home */

/* ctr's keyring at home (created 0700 when `create`). */
int vgpg_open(const char *home, bool create, struct vgpg **out, ctr_err *err);
/* A keyring holding exactly these key blocks (binary or armored), for
 * verifying against a policy's keys. Cached by the digest of the blocks
 * under cache_dir (a tmpfs: $CTR_RUNDIR/trust/keyrings), so the import
 * is paid once, not at every verification. */
int vgpg_open_keys(const char *cache_dir, const void *const *blocks,
                   const size_t *lens, size_t n, struct vgpg **out,
                   ctr_err *err);
void vgpg_close(struct vgpg *g);

struct vgpg_key {
  char fpr[VGPG_FPR_LEN + 1];
  char *uid;    /* the first user id, "" if none */
  char *algo;   /* "ed25519", "rsa3072", ... */
  time_t created;
  time_t expires; /* 0: never */
  bool secret;    /* we hold its secret part */
  bool revoked, expired, disabled, invalid;
};
void vgpg_keys_free(struct vgpg_key *keys, size_t n);

/* Import key blocks; the fingerprints imported (or already there), and
 * the keys a bare revocation certificate revoked. A revocation, new user
 * ids, signatures or subkeys for a key already there count as imported
 * (they change the keyring). */
int vgpg_import(struct vgpg *g, const void *data, size_t len, char ***fprs,
                size_t *n, ctr_err *err);
int vgpg_list(struct vgpg *g, bool secret_only, struct vgpg_key **keys,
              size_t *n, ctr_err *err);
/* One key by fingerprint (or a unique suffix of 16+ hex digits). */
int vgpg_find(struct vgpg *g, const char *fpr, bool secret,
              struct vgpg_key *key, ctr_err *err);
int vgpg_export(struct vgpg *g, const char *fpr, bool armor, char **data,
                size_t *len, ctr_err *err);
int vgpg_delete(struct vgpg *g, const char *fpr, bool with_secret,
                ctr_err *err);
/* A new signing key without passphrase; expires after `expires` seconds
 * (0: never). */
int vgpg_genkey(struct vgpg *g, const char *uid, unsigned long expires,
                char fpr[VGPG_FPR_LEN + 1], ctr_err *err);

/* Sign with the secret key fpr: an OpenPGP message holding data (what
 * simple signing wants), or a detached signature (DSSE). Binary. */
int vgpg_sign(struct vgpg *g, const char *fpr, const void *data, size_t len,
              bool detached, char **sig, size_t *siglen, ctr_err *err);

/* The outcome of checking one signature. A bad signature is not an error
 * (err is for failures to check at all): valid is false and reason says
 * why, in the words containers/image uses where it has them. */
struct vgpg_verdict {
  bool valid;
  char fpr[VGPG_FPR_LEN + 1]; /* the signing key's fingerprint, if known */
  char *reason;               /* NULL when valid */
  char *payload;              /* the signed message's content (not detached) */
  size_t payload_len;
  /* When a valid verdict stops holding by itself (0: never): the earliest
   * of the signature's own expiry, the signing subkey's and the primary
   * key's. A cached verdict must not outlive it. */
  time_t not_after;
};
void vgpg_verdict_free(struct vgpg_verdict *v);
/* Check an OpenPGP message (data NULL: its content lands in v->payload)
 * or a detached signature over data. */
int vgpg_verify(struct vgpg *g, const void *sig, size_t siglen,
                const void *data, size_t datalen, struct vgpg_verdict *v,
                ctr_err *err);

/* The earlier of two expiry times where 0 means never. */
static inline time_t vgpg_earlier(time_t a, time_t b) {
  return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* ctr's keyring in the layout and the host's signing key. */
/* $CTR_ROOT/trust/gnupg, malloc'd (NULL when out of memory). */
char *vgpg_home(const struct ctr_paths *paths);
/* The fingerprint in $CTR_ROOT/trust/signing-key (malloc'd into *fpr);
 * 0 with *fpr NULL when there is none. */
int vgpg_signing_key(const struct ctr_paths *paths, char **fpr, ctr_err *err);
/* Write (atomically, fsynced) or remove trust/signing-key. */
int vgpg_signing_key_set(const struct ctr_paths *paths, const char *fpr,
                         ctr_err *err);
int vgpg_signing_key_clear(const struct ctr_paths *paths, ctr_err *err);
/* Whether data starts like OpenPGP key material (armored or binary
 * public/secret key packet): a cheap check before touching a keyring. */
bool vgpg_looks_like_keys(const void *data, size_t len);

#endif
