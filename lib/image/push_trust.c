/* ctr-image push and trust: --sign-by signs the destination's identity
 * (by `ctr-verify sign`) before anything is sent; once the manifests are
 * in, every signature of the image's repository path and digest in
 * $CTR_ROOT/trust/sigstore goes to the destination's lookaside-staging
 * (registries.d, file:// only) as containers/image writes it, and the
 * push is recorded as a provenance event. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/tool.h"
#include "lookaside.h"
#include "push_int.h"
#include "trust.h"
#include "verify/sigstore.h"

struct push_sigs {
  char *dest;     /* as the user wrote it */
  char *identity; /* fully qualified */
  char *signed_path; /* the signature --sign-by made, until the push is done */
  char *staging;  /* where signatures go, or NULL */
  /* What the sigstore held before --sign-by signed: the directory its
   * signature goes to, the highest signature-N there, and the deepest
   * directory on the way to it that existed (nothing above it is ours
   * to remove). */
  char *sig_dir;
  long noted;
  char *existed;
};

/* N of a "signature-N" as sigstore.c names them (no sign, no leading
 * zero), else 0. */
static long sig_number(const char *name) {
  const char *d = name + strlen("signature-");
  char *end;
  long n;
  if (strncmp(name, "signature-", strlen("signature-")) != 0 || *d < '1' || *d > '9')
    return 0;
  errno = 0;
  n = strtol(d, &end, 10);
  return errno == 0 && *end == '\0' ? n : 0;
}

/* The highest signature-N in the directory dfd, 0 for none. Every N
 * counts, not only the first run without a gap: removing one below any
 * of them would hide it. */
static long highest_sig(int dfd) {
  DIR *d = ctr_opendir_at(dfd);
  struct dirent *e;
  long top = 0;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    long n = sig_number(e->d_name);
    if (n > top)
      top = n;
  }
  closedir(d);
  return top;
}

/* Before signing: where the signature will go and what is there. A
 * directory that is not there yet holds nothing. */
static int note_sigstore(struct push *p, const struct ctr_paths *paths, struct push_sigs *s,
                         ctr_err *err) {
  cleanup_free char *sub = NULL;
  cleanup_close int dfd = -1;
  char *slash;
  if (sigstore_dir(s->identity, p->top.digest, &sub, err) < 0)
    return -1;
  if (asprintf(&s->sig_dir, "%s/trust/sigstore/%s", paths->root, sub) < 0) {
    s->sig_dir = NULL;
    return ctr_fail(err, ENOMEM, "push");
  }
  if ((s->existed = strdup(s->sig_dir)) == NULL)
    return ctr_fail(err, ENOMEM, "push");
  while (access(s->existed, F_OK) != 0 && (slash = strrchr(s->existed, '/')) != NULL &&
         slash != s->existed)
    *slash = '\0';
  if (strcmp(s->existed, s->sig_dir) != 0)
    return 0;
  if ((dfd = ctr_open_dir(AT_FDCWD, s->sig_dir, err)) < 0)
    return ctr_wrap(err, "sigstore");
  /* sigstore_add's lock: no signature is half-way in while we look */
  if (flock(dfd, LOCK_SH) < 0)
    return ctr_fail(err, errno, "lock %s", s->sig_dir);
  if ((s->noted = highest_sig(dfd)) < 0)
    return ctr_fail(err, errno, "sigstore %s", s->sig_dir);
  return 0;
}

static int sign(struct push *p, const struct ctr_paths *paths, const char *name,
                struct push_sigs *s, ctr_err *err) {
  const char *args[] = {"sign", "-k", p->o->sign_by, "--identity", s->identity, name, NULL};
  cleanup_free char *out = NULL;
  if (ctr_tool_run(paths, "ctr-verify", args, &out, NULL, err) < 0)
    return ctr_wrap(err, "--sign-by %s", p->o->sign_by);
  if (out != NULL) {
    out[strcspn(out, "\n")] = '\0';
    if (out[0] == '/')
      s->signed_path = ctr_steal(out);
  }
  return 0;
}

static int find_staging(struct push *p, struct push_sigs *s, ctr_err *err) {
  char *base = NULL;
  cleanup_free char *path = NULL;
  if (lookaside_find(p->o->registries_d, s->identity, true, &base, err) < 0)
    return -1;
  if (base == NULL)
    return 0;
  if ((path = lookaside_file_path(base, err)) == NULL) {
    ctr_fail(err, 0, "lookaside %s: signatures can only be written to file:// locations", base);
    free(base);
    return -1;
  }
  s->staging = base;
  return 0;
}

int push_trust_prepare(struct push *p, const struct ctr_paths *paths, const char *name,
                       const char *dest, ctr_err *err) {
  struct push_sigs *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return ctr_fail(err, ENOMEM, "push");
  p->sigs = s;
  if ((s->dest = strdup(dest)) == NULL)
    return ctr_fail(err, ENOMEM, "push");
  if ((s->identity = lookaside_identity(dest, err)) == NULL || find_staging(p, s, err) < 0)
    return -1;
  if (p->o->sign_by != NULL &&
      (note_sigstore(p, paths, s, err) < 0 || sign(p, paths, name, s, err) < 0))
    return -1;
  return 0;
}

static int write_staging(struct push *p, const struct ctr_paths *paths, struct push_sigs *s,
                         ctr_err *err) {
  cleanup_free char *base = NULL;
  struct sig_blob *sigs = NULL;
  struct lookaside_sig *ls = NULL;
  size_t n = 0;
  int ret;
  if (s->staging == NULL)
    return 0;
  if (asprintf(&base, "%s/trust/sigstore", paths->root) < 0)
    return ctr_fail(err, ENOMEM, "push");
  if (sigstore_list(base, s->dest, p->top.digest, &sigs, &n, err) < 0)
    return -1;
  if (n == 0)
    return 0;
  if ((ls = calloc(n, sizeof(*ls))) == NULL) {
    sig_blobs_free(sigs, n);
    return ctr_fail(err, ENOMEM, "push");
  }
  for (size_t i = 0; i < n; i++) {
    ls[i].data = sigs[i].data;
    ls[i].len = sigs[i].len;
  }
  ret = lookaside_store(s->staging, p->repo, p->top.digest, ls, n, err);
  if (ret == 0)
    ctr_debug("%zu signature(s) of %s to %s", n, s->identity, s->staging);
  free(ls);
  sig_blobs_free(sigs, n);
  return ret;
}

int push_trust_commit(struct push *p, const struct ctr_paths *paths, ctr_err *err) {
  struct push_sigs *s = p->sigs;
  cleanup_free char *pref = NULL, *preg = NULL;
  const char *params[3];
  size_t n = 0;
  if (write_staging(p, paths, s, err) < 0)
    return ctr_wrap(err, "signatures");
  free(s->signed_path); /* kept: the push it was made for happened */
  s->signed_path = NULL;
  if (asprintf(&pref, "reference=%s", s->identity) >= 0)
    params[n++] = pref;
  if (asprintf(&preg, "registry=%s", p->host) >= 0)
    params[n++] = preg;
  params[n] = NULL;
  trust_record(paths, "push", p->top.digest, params);
  return 0;
}

/* A push that failed takes back the signature --sign-by made for it,
 * when that is safe. sigstore_add hands back the N of identical bytes
 * already there (the same key, image and second), which may be what an
 * earlier push returned; and a concurrent signer may have added N+1 after
 * ours, which a gap at N would hide (readers stop at the first gap). So,
 * under the directory's lock (sigstore_add's), remove it only if it is
 * newer than anything there before we signed and still the newest.
 * Otherwise it stays: one more valid signature does no harm. */
static void unsign(struct push_sigs *s) {
  size_t dlen = s->sig_dir != NULL ? strlen(s->sig_dir) : 0;
  const char *name;
  cleanup_close int dfd = -1;
  ctr_err e = NULL;
  long n, top;
  char *slash;

  if (dlen == 0 || strncmp(s->signed_path, s->sig_dir, dlen) != 0 ||
      s->signed_path[dlen] != '/') {
    ctr_debug("keeping %s: not in %s", s->signed_path, s->sig_dir ? s->sig_dir : "?");
    return;
  }
  name = s->signed_path + dlen + 1;
  if ((n = sig_number(name)) <= s->noted) {
    ctr_debug("keeping %s: it was there before the push", s->signed_path);
    return;
  }
  if ((dfd = ctr_open_dir(AT_FDCWD, s->sig_dir, &e)) < 0 || flock(dfd, LOCK_EX) < 0) {
    ctr_debug("keeping %s: %s", s->signed_path, e ? e->msg : strerror(errno));
    ctr_err_free(&e);
    return;
  }
  if ((top = highest_sig(dfd)) != n) {
    ctr_debug("keeping %s: signature-%ld is newer", s->signed_path, top);
    return;
  }
  if (unlinkat(dfd, name, 0) < 0) {
    ctr_debug("remove %s: %s", s->signed_path, strerror(errno));
    return;
  }
  /* and the directories sign made for it, while they are empty (the
   * lock is on the last one: a signer waiting for it fails rather than
   * writing into a removed directory) */
  while (strlen(s->sig_dir) > strlen(s->existed) && rmdir(s->sig_dir) == 0 &&
         (slash = strrchr(s->sig_dir, '/')) != NULL)
    *slash = '\0';
}

void push_trust_free(struct push *p) {
  struct push_sigs *s = p->sigs;
  if (s == NULL)
    return;
  if (s->signed_path != NULL)
    unsign(s);
  free(s->signed_path);
  free(s->sig_dir);
  free(s->existed);
  free(s->staging);
  free(s->identity);
  free(s->dest);
  free(s);
  p->sigs = NULL;
}
