/* Where an image's signatures live outside the registry: containers'
 * registries.d (containers-registries.d(5)) and its lookaside layout.
 *
 * A registries.d directory holds *.yaml files, merged: `default-docker:`
 * and `docker: {SCOPE: ...}` sections with the keys lookaside,
 * lookaside-staging and their old names sigstore, sigstore-staging. A
 * scope is a fully qualified reference (host/path:tag, host/path@digest),
 * a repository, a namespace, a host, or *.domain; the most specific scope
 * that names a location for the access wins (reading: lookaside, else
 * sigstore; writing: the staging keys first), then default-docker. A scope
 * (or default-docker) given twice, in one file or two, is an error, as
 * containers/image makes it.
 *
 * Signature N of repository path P (without its host: "library/busybox")
 * at manifest digest sha256:H is BASE/P@sha256=H/signature-N, N from 1
 * until the first one missing (file://) or answered 404 (http, https). */
#ifndef CTR_IMAGE_LOOKASIDE_H
#define CTR_IMAGE_LOOKASIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* Bounds on what a lookaside server may hand us (containers/image's). */
#define LOOKASIDE_MAX_SIGNATURES 128
#define LOOKASIDE_MAX_SIGNATURE_SIZE (4u << 20)
/* A registries.d file larger than this is refused. */
#define LOOKASIDE_MAX_CONFIG_SIZE (1u << 20)

struct lookaside_ns {
  char *scope; /* NULL for default-docker */
  char *lookaside, *lookaside_staging, *sigstore, *sigstore_staging;
  char *file; /* where it was defined */
};

struct lookaside_config {
  struct lookaside_ns *def; /* default-docker, or NULL */
  struct lookaside_ns *docker;
  size_t n;
};

/* The registries.d directory to read: dir if given, else
 * $CTR_REGISTRIES_D, else /etc/ctr/registries.d when it exists, else
 * /etc/containers/registries.d. *must_exist: it was named explicitly
 * (a missing one is then an error, not an empty configuration). */
const char *lookaside_config_dir(const char *dir, bool *must_exist);
/* Read every *.yaml of dir (sorted by name) into a new config. A missing
 * directory gives an empty config unless must_exist. */
int lookaside_config_load(const char *dir, bool must_exist,
                          struct lookaside_config *c, ctr_err *err);
/* Merge one file's YAML (name for messages) into c. */
int lookaside_config_parse(struct lookaside_config *c, const char *name,
                           const char *buf, size_t len, ctr_err *err);
void lookaside_config_free(struct lookaside_config *c);

/* The base URL for an image, or NULL when none is configured. identity is
 * the fully qualified reference: "docker.io/library/busybox:latest" or
 * "host:5000/a/b@sha256:...". write: for adding signatures (staging).
 * Points into c. */
const char *lookaside_base(const struct lookaside_config *c, const char *identity,
                           bool write);

/* The configuration of registries_d (lookaside_config_dir's rules) read,
 * and the base for identity in it: *base a copy, or NULL when none is
 * configured. */
int lookaside_find(const char *registries_d, const char *identity, bool write,
                   char **base, ctr_err *err);

/* How registries.d scopes and the policy name the image of ref (any
 * reference ctr-image takes): "docker.io/library/busybox:latest", or
 * host/path@digest when ref has a digest. Caller frees; NULL with err. */
char *lookaside_identity(const char *ref, ctr_err *err);

/* BASE/P@sha256=H/signature-N (or without "/signature-N" when n is 0).
 * Caller frees; NULL with err when the digest is not a valid sha256 or P
 * holds "." or ".." components. */
char *lookaside_sig_url(const char *base, const char *repo_path,
                        const char *digest, int n, ctr_err *err);

/* A file:// URL's path (percent-decoded; it must be absolute). Caller
 * frees; NULL with err otherwise. */
char *lookaside_file_path(const char *url, ctr_err *err);

/* Fetch every signature of repo_path@digest under base (file://, http://,
 * https://) into the directory dir as signature-1..N; *n gets N. None is
 * not an error. More than LOOKASIDE_MAX_SIGNATURES, a signature larger
 * than LOOKASIDE_MAX_SIGNATURE_SIZE, or an answer other than 200 and 404
 * is. */
int lookaside_fetch(const char *base, const char *repo_path, const char *digest,
                    const char *dir, size_t *n, ctr_err *err);

/* Write sigs as signature-1..N of repo_path@digest under the file:// base
 * (each atomically, fsynced), then remove any signature-M (M > N) left
 * from before, as containers/image does when it replaces them. Another
 * scheme is an error. */
struct lookaside_sig {
  const void *data;
  size_t len;
};
int lookaside_store(const char *base, const char *repo_path, const char *digest,
                    const struct lookaside_sig *sigs, size_t n, ctr_err *err);

#endif
