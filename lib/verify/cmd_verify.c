/* ctr-verify verify: judge an image by $CTR_ROOT/trust/policy.json (and
 * the origin requirements of provenance.json) and say which requirement
 * passed or failed. ctr-image pull and ctr-run ask this at every pull
 * and start (`verify -q --digest D REF`), so an accepted verdict is
 * answered from the verdict cache without starting gpg. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/json.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "image/store.h"
#include "verify/attest.h"
#include "verify/cmd.h"
#include "verify/cmd_int.h"
#include "verify/gpg.h"
#include "verify/policy_int.h"
#include "verify/sigstore.h"

#define TRUST_FILE_MAX (1 << 20)

enum { OPT_DIGEST = CTR_OPT_FIRST_TOOL, OPT_SIGNATURES };

struct verify_opts {
  const char *digest;
  const char *sigdir;
  bool quiet, json;
};

/* The bytes of trust/NAME, NULL when it does not exist. */
static int read_trust_file(const char *trust_dir, const char *name, char **buf,
                           size_t *len, ctr_err *err) {
  cleanup_free char *path = NULL;
  *buf = NULL;
  *len = 0;
  if (asprintf(&path, "%s/%s", trust_dir, name) < 0)
    return ctr_fail(err, ENOMEM, "verify");
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  return ctr_read_file(AT_FDCWD, path, TRUST_FILE_MAX, buf, len, err);
}

/* The index (manifest list) a pull picked the image from, when the
 * store vouches for it: the descriptor's annotation names it, its blob
 * hashes to that digest and it lists the manifest. Signatures of it then
 * cover the image too. Anything less is no index, and *why says what
 * (for the reason of a rejection). */
static void index_of(struct image_store *s, const json_t *desc,
                     const char *digest, char index[CTR_DIGEST_LEN + 1],
                     char **why) {
  const char *want = ctr_json_str(json_object_get(desc, "annotations"),
                                  IMAGE_INDEX_DIGEST_ANNOTATION);
  cleanup_free char *buf = NULL;
  cleanup_json json_t *doc = NULL;
  const json_t *m;
  size_t len = 0, i;
  ctr_err e = NULL;
  bool lists = false;

  index[0] = '\0';
  if (want == NULL)
    return;
  if (!ctr_digest_valid(want)) {
    if (asprintf(why, "the index annotation %s is no digest", want) < 0)
      *why = NULL;
    return;
  }
  /* s->trusted is false: the bytes are hashed, a tampered index is none */
  if (image_blob_read(s, want, IMAGE_JSON_MAX, &buf, &len, &e) < 0 ||
      image_index_parse(buf, len, &doc, &e) < 0) {
    if (asprintf(why, "the index %s it was pulled from is not used: %s", want,
                 e && e->msg ? e->msg : "unreadable") < 0)
      *why = NULL;
    ctr_err_free(&e);
    return;
  }
  json_array_foreach(json_object_get(doc, "manifests"), i, m) {
    if (strcmp(ctr_json_str(m, "digest") ?: "", digest) == 0)
      lists = true;
  }
  if (!lists) {
    if (asprintf(why, "the index %s it was pulled from does not list %s", want,
                 digest) < 0)
      *why = NULL;
    return;
  }
  snprintf(index, CTR_DIGEST_LEN + 1, "%s", want);
}

/* With --digest: the store's descriptor of the image, if it has one —
 * NAME's when NAME points at that digest, else one with that digest that
 * names an index. */
static void index_by_digest(const struct ctr_paths *paths, const char *name,
                            const char *digest,
                            char index[CTR_DIGEST_LEN + 1], char **why) {
  struct image_store s;
  struct image_ref r;
  cleanup_json json_t *idx = NULL;
  cleanup_free char *sname = NULL;
  const json_t *d, *found = NULL;
  ctr_err e = NULL;
  size_t i;

  index[0] = '\0';
  if (image_store_open(&s, paths, STORE_READ, &e) < 0) {
    ctr_err_free(&e);
    return;
  }
  if (image_ref_parse(name, &r, &e) == 0) {
    sname = image_ref_name(&r);
    image_ref_free(&r);
  }
  ctr_err_free(&e);
  if (image_index_load(&s, &idx, &e) < 0) {
    ctr_err_free(&e);
    image_store_close(&s);
    return;
  }
  json_array_foreach(json_object_get(idx, "manifests"), i, d) {
    const json_t *ann = json_object_get(d, "annotations");
    const char *n = ctr_json_str(ann, IMAGE_REF_ANNOTATION);
    if (strcmp(ctr_json_str(d, "digest") ?: "", digest) != 0)
      continue;
    if (sname != NULL && n != NULL && strcmp(n, sname) == 0) {
      found = d;
      break;
    }
    if (found == NULL && ctr_json_str(ann, IMAGE_INDEX_DIGEST_ANNOTATION))
      found = d;
  }
  if (found != NULL)
    index_of(&s, found, digest, index, why);
  image_store_close(&s);
}

/* What is judged: the reference (a name; policy scopes are names) and
 * the manifest digest, from the store unless --digest gave it; and the
 * index it was picked from, when the store has one for it. */
static int resolve_image(const struct ctr_paths *paths, const char *name,
                         const char *digest_opt, char **ref,
                         char digest[CTR_DIGEST_LEN + 1],
                         char index[CTR_DIGEST_LEN + 1], char **index_why,
                         ctr_err *err) {
  struct image_store s;
  struct image img;
  const char *judged;
  struct dref d;
  int ret;

  if (digest_opt != NULL) {
    if (!ctr_digest_valid(digest_opt))
      return ctr_usage(err, "--digest %s: not a sha256:<64 hex> digest",
                       digest_opt);
    snprintf(digest, CTR_DIGEST_LEN + 1, "%s", digest_opt);
    judged = name;
    index_by_digest(paths, name, digest, index, index_why);
  } else {
    memset(&img, 0, sizeof(img));
    if (image_store_open(&s, paths, STORE_READ, err) < 0)
      return -1;
    ret = image_resolve(&s, name, &img, err);
    if (ret == 0)
      index_of(&s, img.desc, img.digest, index, index_why);
    image_store_close(&s);
    if (ret < 0)
      return -1;
    snprintf(digest, CTR_DIGEST_LEN + 1, "%s", img.digest);
    judged = img.name ? img.name : strchr(name, '@') ? name : NULL;
    if (judged == NULL) {
      image_free(&img);
      return ctr_fail(err, 0,
                      "the image has no name to judge it by (policy scopes are "
                      "names): give its name");
    }
    *ref = strdup(judged);
    image_free(&img);
    if (*ref == NULL)
      return ctr_fail(err, ENOMEM, "verify");
    judged = *ref;
  }
  if (dref_parse(judged, &d, err) < 0)
    return -1;
  if (d.digest != NULL && strcmp(d.digest, digest) != 0) {
    dref_free(&d);
    return ctr_usage(err, "%s names another digest than %s", judged, digest);
  }
  if (d.tag == NULL && d.digest == NULL)
    d.tag = strdup("latest");
  free(*ref);
  *ref = d.tag || d.digest ? dref_string(&d) : NULL;
  dref_free(&d);
  if (*ref == NULL)
    return ctr_fail(err, ENOMEM, "verify");
  return 0;
}

/* The manifest's signatures, then the index's (when there is one). */
static int load_signatures(const char *trust_dir, const struct verify_opts *o,
                           const char *ref, const char *digest,
                           const char *index, struct sig_blob **sigs,
                           size_t *n, ctr_err *err) {
  cleanup_free char *base = NULL;
  struct sig_blob *more = NULL, *all;
  size_t nmore = 0;
  if (o->sigdir != NULL)
    return sigstore_list_dir(o->sigdir, sigs, n, err);
  if (asprintf(&base, "%s/sigstore", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "verify");
  if (sigstore_list(base, ref, digest, sigs, n, err) < 0)
    return -1;
  if (index == NULL || !*index)
    return 0;
  if (sigstore_list(base, ref, index, &more, &nmore, err) < 0)
    return -1;
  if (nmore == 0) {
    sig_blobs_free(more, nmore);
    return 0;
  }
  all = realloc(*sigs, (*n + nmore) * sizeof(*all));
  if (all == NULL) {
    sig_blobs_free(more, nmore);
    return ctr_fail(err, ENOMEM, "verify");
  }
  memcpy(all + *n, more, nmore * sizeof(*more));
  free(more); /* its data moved to all */
  *sigs = all;
  *n += nmore;
  return 0;
}

/* The verdict depends on the index too: whether one was found (and
 * which) names another verdict. */
static int key_with_index(struct verdict_key *k, const char *index,
                          ctr_err *err) {
  ctr_sha256 *h;
  char out[CTR_DIGEST_LEN + 1];
  if (!*index)
    return 0;
  if ((h = ctr_sha256_new()) == NULL)
    return ctr_fail(err, ENOMEM, "verdict cache");
  ctr_sha256_update(h, "ctr verdict index v1", 21);
  ctr_sha256_update(h, k->hex, strlen(k->hex));
  ctr_sha256_update(h, index, strlen(index));
  ctr_sha256_final(h, out);
  memcpy(k->hex, ctr_digest_hex(out), sizeof(k->hex));
  return 0;
}

/* A rejection says why an index the image came from did not count. */
static void note_index(struct verify_report *r, const char *why) {
  for (size_t i = 0; why != NULL && i < r->n; i++) {
    char *detail;
    if (r->checks[i].ok)
      continue;
    if (asprintf(&detail, "%s (%s)", r->checks[i].detail, why) >= 0) {
      free(r->checks[i].detail);
      r->checks[i].detail = detail;
    }
    return;
  }
}

static int print_report(const struct verify_report *r,
                        const struct verify_opts *o, ctr_err *err) {
  static const char *const headers[] = {"RESULT", "REQUIREMENT", "DETAIL"};
  struct ctr_table *t;
  bool ok = verify_report_accepted(r);

  if (o->json) {
    cleanup_json json_t *j = verify_report_json(r);
    if (j == NULL)
      return ctr_fail(err, ENOMEM, "verify");
    return ctr_json_print(j, err);
  }
  if (o->quiet)
    return 0;
  printf("%s@%s (scope %s)\n", r->reference ? r->reference : "-",
         r->digest ? r->digest : "-", r->scope ? r->scope : "-");
  t = ctr_table_new(3, headers);
  if (t == NULL)
    return ctr_fail(err, ENOMEM, "verify");
  for (size_t i = 0; i < r->n; i++) {
    const char *cells[3] = {r->checks[i].ok ? "PASS" : "FAIL",
                            r->checks[i].requirement, r->checks[i].detail};
    if (ctr_table_row(t, cells) < 0) {
      ctr_table_free(t);
      return ctr_fail(err, ENOMEM, "verify");
    }
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  puts(ok ? "accepted" : "rejected");
  return 0;
}

/* Everything after the options, with err unwrapped (the caller adds
 * "verify NAME"). Returns 0 accepted, 1 rejected (*reason set), -1. */
static int judge(const struct ctr_paths *paths, const char *name,
                 const struct verify_opts *o, struct verify_report *r,
                 ctr_err *err) {
  cleanup_free char *trust_dir = verify_trust_dir(paths);
  cleanup_free char *keyrings = verify_keyring_cache(paths);
  cleanup_free char *verdicts = NULL, *pol = NULL, *prov = NULL, *ref = NULL;
  cleanup_free char *index_why = NULL;
  char digest[CTR_DIGEST_LEN + 1], index[CTR_DIGEST_LEN + 1] = "";
  const char *indexes[1] = {index};
  struct policy *p = NULL;
  struct sig_blob *sigs = NULL;
  size_t pol_len, prov_len, nsigs = 0;
  struct verdict_key key;
  time_t until = 0;
  int ret = -1;

  if (trust_dir == NULL || keyrings == NULL ||
      asprintf(&verdicts, "%s/trust/verdicts", paths->rundir) < 0)
    return ctr_fail(err, ENOMEM, "verify");
  if (read_trust_file(trust_dir, "policy.json", &pol, &pol_len, err) < 0 ||
      read_trust_file(trust_dir, "provenance.json", &prov, &prov_len, err) < 0)
    return -1;
  if (resolve_image(paths, name, o->digest, &ref, digest, index, &index_why,
                    err) < 0)
    return -1;
  r->reference = strdup(ref);
  r->digest = strdup(digest);
  if (r->reference == NULL || r->digest == NULL)
    return ctr_fail(err, ENOMEM, "verify");
  if (pol == NULL && prov == NULL) {
    r->scope = strdup("none");
    return verify_report_add(
        r, true, "none", err,
        "no policy.json or provenance.json in %s: nothing is enforced",
        trust_dir);
  }
  if (pol != NULL && policy_parse(pol, pol_len, &p, err) < 0)
    return ctr_wrap(err, "invalid policy in \"%s/policy.json\"", trust_dir);
  if (load_signatures(trust_dir, o, ref, digest, index, &sigs, &nsigs, err) <
      0)
    goto out;
  if (policy_cache_key(trust_dir, p, pol, pol_len, prov, prov_len, ref, digest,
                       sigs, nsigs, &key, err) < 0 ||
      key_with_index(&key, index, err) < 0)
    goto out;
  if (policy_cache_lookup(verdicts, &key, r) == 1) {
    ret = 0;
    goto out;
  }
  if (p != NULL &&
      policy_evaluate_image(p, trust_dir, keyrings, ref, digest, indexes,
                            *index ? 1 : 0, sigs, nsigs, r, &until, err) < 0)
    goto out;
  if (prov != NULL) {
    /* The key that signed the origin statement bounds the verdict too. */
    time_t origin_until = 0;
    if (origin_policy_check(trust_dir, keyrings, ref, digest, r, &origin_until, err) < 0)
      goto out;
    until = vgpg_earlier(until, origin_until);
  }
  if (verify_report_accepted(r))
    policy_cache_store(verdicts, &key, r, until);
  else
    note_index(r, index_why);
  ret = verify_report_accepted(r) ? 0 : 1;
out:
  sig_blobs_free(sigs, nsigs);
  policy_free(p);
  return ret;
}

int verify_cmd_verify(struct ctr_cli *cli, int argc, char **argv,
                      ctr_err *err) {
  static const struct option opts[] = {
      {"digest", required_argument, NULL, OPT_DIGEST},
      {"signatures", required_argument, NULL, OPT_SIGNATURES},
      {"quiet", no_argument, NULL, 'q'},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {0, 0, 0, 0}};
  struct verify_opts o = {0};
  struct verify_report r = {0};
  struct ctr_paths paths = {0};
  const char *name;
  int opt, ret;

  while ((opt = verify_next_opt(cli, argc, argv, "qh", opts, err)) != -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case 'q':
      o.quiet = true;
      break;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(optarg, &o.json, err) < 0)
        return -1;
      break;
    case OPT_DIGEST:
      o.digest = optarg;
      break;
    case OPT_SIGNATURES:
      o.sigdir = optarg;
      break;
    default:
      return ctr_usage(err, "verify: unexpected option");
    }
  }
  if (ctr_cli_done(cli))
    return 0;
  if (optind + 1 != argc)
    return ctr_usage(err,
                     "verify: expected one image (NAME or REF), see --help");
  name = argv[optind];
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  ret = judge(&paths, name, &o, &r, err);
  ctr_paths_free(&paths);
  if (ret >= 0 && print_report(&r, &o, err) < 0)
    ret = -1;
  if (ret == 1)
    ret = ctr_fail(err, 0, "%s", verify_report_reason(&r));
  verify_report_free(&r);
  if (ret < 0)
    return ctr_wrap(err, "verify %s", name);
  return 0;
}
