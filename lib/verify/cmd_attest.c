/* ctr-verify attest: record a lifecycle event of an image as a signed
 * in-toto statement. ctr-image runs it after each import, pull, tag,
 * export and push (lib/image/trust.c trust_record); so can anyone. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "image/store.h"
#include "verify/attest.h"
#include "verify/attest_int.h"
#include "verify/cmd.h"
#include "verify/cmd_int.h"

/* SUBJECT is a manifest digest, or an image in the store by name. A
 * digest is taken as it is: the image may be gone, its history is not. */
static int subject_digest(const struct ctr_paths *paths, const char *subject,
                          char digest[CTR_DIGEST_LEN + 1], ctr_err *err) {
  struct image_store s;
  struct image img = {0};
  int rc;

  if (ctr_digest_valid(subject)) {
    snprintf(digest, CTR_DIGEST_LEN + 1, "%s", subject);
    return 0;
  }
  if (strncmp(subject, "sha256:", 7) == 0)
    return ctr_usage(err, "not a sha256 digest: %s", subject);
  if (image_store_open(&s, paths, STORE_READ, err) < 0)
    return -1;
  rc = image_resolve(&s, subject, &img, err);
  image_store_close(&s);
  if (rc < 0)
    return -1;
  memcpy(digest, img.digest, CTR_DIGEST_LEN + 1);
  image_free(&img);
  return 0;
}

int verify_cmd_attest(struct ctr_cli *cli, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                       {0, 0, 0, 0}};
  cleanup_paths struct ctr_paths paths = {0};
  cleanup_free char *trust = NULL, *path = NULL;
  cleanup_json json_t *params = NULL;
  const char *key = NULL, *event, *subject;
  char digest[CTR_DIGEST_LEN + 1];
  int opt;

  while ((opt = verify_next_opt(cli, argc, argv, "hk:", opts, err)) != -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case 'k':
      key = optarg;
      break;
    default:
      return ctr_usage(err, "attest: unexpected option");
    }
  }
  if (ctr_cli_done(cli))
    return 0;
  if (argc - optind < 2)
    return ctr_usage(err, "attest takes EVENT SUBJECT [KEY=VALUE...]");
  event = argv[optind];
  subject = argv[optind + 1];
  /* Bad usage is refused before the store is looked at. */
  if (attest_params_parse(event, argv + optind + 2, (size_t)(argc - optind - 2),
                          &params, err) < 0)
    return ctr_wrap(err, "attest %s", event);
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  trust = verify_trust_dir(&paths);
  if (trust == NULL)
    return ctr_fail(err, 0, "out of memory");
  if (subject_digest(&paths, subject, digest, err) < 0 ||
      attest_record(trust, event, digest, argv + optind + 2,
                    (size_t)(argc - optind - 2), key, &path, err) < 0)
    return ctr_wrap(err, "attest %s %s", event, subject);
  printf("%s\n", path);
  return 0;
}
