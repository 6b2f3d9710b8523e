/* ctr-verify sign: a "simple signing" signature of an image in the store,
 * what `skopeo standalone-sign` and `skopeo copy --sign-by` make, written
 * into $CTR_ROOT/trust/sigstore in the lookaside layout. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "image/ref.h"
#include "image/store.h"
#include "verify/cmd.h"
#include "verify/cmd_int.h"
#include "verify/gpg.h"
#include "verify/sigpayload.h"
#include "verify/sigstore.h"

enum { OPT_IDENTITY = CTR_OPT_FIRST_TOOL };

/* The fully qualified form containers/image compares identities in:
 * docker.io/library/busybox:latest, host/path@sha256:... */
static int qualified(const char *ref, char **out, ctr_err *err) {
  struct image_ref r;
  cleanup_free char *repo = NULL;
  int rc;
  if (image_ref_parse(ref, &r, err) < 0)
    return -1;
  repo = image_ref_full_repo(&r);
  if (repo == NULL) {
    image_ref_free(&r);
    return ctr_fail(err, ENOMEM, "%s", ref);
  }
  rc = asprintf(out, "%s%s%s%s%s", repo, r.tag ? ":" : "", r.tag ? r.tag : "",
                r.digest ? "@" : "", r.digest ? r.digest : "");
  image_ref_free(&r);
  if (rc < 0)
    return ctr_fail(err, ENOMEM, "%s", ref);
  return 0;
}

/* Whether the user named the image by its store name (not by a digest
 * or an id prefix that happens to land on a named image): only then is
 * that name what the signature may vouch for. */
static bool by_name(const char *arg, const char *store_name) {
  struct image_ref r;
  ctr_err e = NULL;
  char *n;
  bool same;
  if (image_ref_parse(arg, &r, &e) < 0) {
    ctr_err_free(&e);
    return false;
  }
  n = r.digest == NULL ? image_ref_name(&r) : NULL;
  same = n != NULL && strcmp(n, store_name) == 0;
  free(n);
  image_ref_free(&r);
  return same;
}

/* The image's manifest digest and, without --identity, the name it is
 * known by (a bare id or digest names no repository to sign for). */
static int sign_target(const struct ctr_paths *paths, const char *name,
                       const char *identity, char digest[CTR_DIGEST_LEN + 1],
                       char **ident, ctr_err *err) {
  struct image_store s;
  struct image img = {0};
  int rc;

  if (image_store_open(&s, paths, STORE_READ, err) < 0)
    return -1;
  rc = image_resolve(&s, name, &img, err);
  image_store_close(&s);
  if (rc < 0)
    return -1;
  memcpy(digest, img.digest, CTR_DIGEST_LEN + 1);
  if (identity != NULL)
    rc = qualified(identity, ident, err);
  else if (img.name != NULL && by_name(name, img.name))
    rc = qualified(img.name, ident, err);
  else
    rc = ctr_usage(err, "%s names no repository: give --identity REF", name);
  image_free(&img);
  return rc;
}

static int sign_image(const struct ctr_paths *paths, const char *name,
                      const char *key, const char *identity, bool quiet,
                      ctr_err *err) {
  char digest[CTR_DIGEST_LEN + 1];
  cleanup_free char *ident = NULL;
  cleanup_free char *host_key = NULL;
  cleanup_free char *home = NULL;
  cleanup_free char *payload = NULL;
  cleanup_free char *sig = NULL;
  cleanup_free char *base = NULL;
  cleanup_free char *sub = NULL;
  struct vgpg *g = NULL;
  size_t siglen = 0;
  int index = 0, rc;

  /* Bad --identity is bad usage, whatever the store holds. */
  if (identity != NULL) {
    struct image_ref r;
    if (image_ref_parse(identity, &r, err) < 0)
      return ctr_wrap(err, "--identity");
    image_ref_free(&r);
  }
  if (sign_target(paths, name, identity, digest, &ident, err) < 0)
    return -1;
  if (key == NULL) {
    if (vgpg_signing_key(paths, &host_key, err) < 0)
      return -1;
    if (host_key == NULL)
      return ctr_fail(err, 0,
                      "no signing key: make one with `ctr-verify key "
                      "gen`, or give --key FPR");
    key = host_key;
  }
  home = vgpg_home(paths);
  if (asprintf(&base, "%s/trust/sigstore", paths->root) < 0 || home == NULL)
    return ctr_fail(err, ENOMEM, "sign");
  if (access(home, F_OK) != 0)
    return ctr_fail(err, 0, "no secret key %s in the keyring", key);
  payload = sig_payload_build(ident, digest, "ctr-verify " CTR_VERSION,
                              (int64_t)time(NULL));
  if (payload == NULL)
    return ctr_fail(err, ENOMEM, "sign");
  if (vgpg_open(home, false, &g, err) < 0)
    return -1;
  rc = vgpg_sign(g, key, payload, strlen(payload), false, &sig, &siglen, err);
  vgpg_close(g);
  if (rc < 0)
    return -1;
  if (sigstore_add(base, ident, digest, sig, siglen, &index, err) < 0 ||
      sigstore_dir(ident, digest, &sub, err) < 0)
    return -1;
  if (!quiet)
    printf("%s/%s/signature-%d\n", base, sub, index);
  return 0;
}

int verify_cmd_sign(struct ctr_cli *cli, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, 'k'},
      {"identity", required_argument, NULL, OPT_IDENTITY},
      {"quiet", no_argument, NULL, 'q'},
      {0, 0, 0, 0}};
  cleanup_paths struct ctr_paths paths = {0};
  const char *key = NULL, *identity = NULL;
  bool quiet = false;
  int opt;

  while ((opt = verify_next_opt(cli, argc, argv, "hk:q", opts, err)) != -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case 'k':
      key = optarg;
      break;
    case OPT_IDENTITY:
      identity = optarg;
      break;
    case 'q':
      quiet = true;
      break;
    default:
      return ctr_usage(err, "sign: unexpected option");
    }
  }
  if (ctr_cli_done(cli))
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "sign takes one image NAME");
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  if (sign_image(&paths, argv[optind], key, identity, quiet, err) < 0)
    return ctr_wrap(err, "sign %s", argv[optind]);
  return 0;
}
