/* ctr-verify provenance: the chain of lifecycle events recorded about an
 * image, oldest first, and who signed each. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/digest.h"
#include "core/json.h"
#include "image/store.h"
#include "verify/attest.h"
#include "verify/attest_int.h"
#include "verify/cmd.h"
#include "verify/cmd_int.h"

/* NAME|DIGEST to the manifest digest. A digest the store no longer holds
 * still has its history. */
static int target_digest(const struct ctr_paths *paths, const char *target,
                         char digest[CTR_DIGEST_LEN + 1], ctr_err *err) {
  struct image_store s;
  struct image img = {0};
  int rc;

  if (image_store_open(&s, paths, STORE_READ, err) < 0)
    return -1;
  rc = image_resolve(&s, target, &img, err);
  image_store_close(&s);
  if (rc == 0) {
    memcpy(digest, img.digest, CTR_DIGEST_LEN + 1);
    image_free(&img);
    return 0;
  }
  if (!ctr_digest_valid(target))
    return -1;
  ctr_err_free(err);
  snprintf(digest, CTR_DIGEST_LEN + 1, "%s", target);
  return 0;
}

/* "KEY=VALUE ..." of the statement's externalParameters. */
static char *params_text(const json_t *entry) {
  json_t *params = json_object_get(
      json_object_get(json_object_get(json_object_get(entry, "statement"),
                                      "predicate"),
                      "buildDefinition"),
      "externalParameters");
  const char *key;
  json_t *v;
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  bool first = true;

  if (f == NULL)
    return NULL;
  json_object_foreach(params, key, v) {
    const char *val = json_string_value(v);
    /* Digests shortened as docker shows ids; --format json has them whole. */
    if (ctr_digest_valid(val))
      fprintf(f, "%s%s=sha256:%.12s", first ? "" : " ", key, val + 7);
    else
      fprintf(f, "%s%s=%s", first ? "" : " ", key, val);
    first = false;
  }
  fclose(f);
  return out;
}

/* The event and time from the statement; from the file name when the
 * statement could not be read. */
static void entry_event(const json_t *entry, char *event, size_t elen,
                        char *time, size_t tlen) {
  json_t *pred = json_object_get(json_object_get(entry, "statement"), "predicate");
  const char *type = ctr_json_str(json_object_get(pred, "buildDefinition"), "buildType");
  const char *t = ctr_json_str(
      json_object_get(json_object_get(pred, "runDetails"), "metadata"), "startedOn");
  const char *file = ctr_json_str(entry, "file"), *dash = strchr(file, '-');
  size_t plen = strlen(CTR_EVENT_TYPE_PREFIX);

  if (type != NULL && strlen(type) > plen + 3)
    snprintf(event, elen, "%.*s", (int)(strlen(type) - plen - 3), type + plen);
  else
    snprintf(event, elen, "%.*s", (int)strcspn(dash ? dash + 1 : "?", "."),
             dash ? dash + 1 : "?");
  /* Seconds are enough to read; --format json has the rest. */
  snprintf(time, tlen, "%.*s%s", (int)strcspn(t ? t : "-", ".Z"), t ? t : "-",
           t ? "Z" : "");
}

static char *signer_text(const json_t *entry) {
  const char *sig = ctr_json_str(entry, "signature");
  const char *fpr = ctr_json_str(entry, "signer");
  const char *uid = ctr_json_str(entry, "uid");
  char *out = NULL;

  if (strcmp(sig, "valid") == 0)
    (void)(asprintf(&out, "%s%s%s%s", fpr, uid && *uid ? " (" : "",
                    uid && *uid ? uid : "", uid && *uid ? ")" : "") < 0);
  else if (strcmp(sig, "unsigned") == 0)
    out = strdup("unsigned");
  else
    (void)(asprintf(&out, "INVALID: %s", sig + strlen("invalid: ")) < 0);
  return out;
}

static int print_table(const json_t *chain, ctr_err *err) {
  static const char *const headers[] = {"TIME", "EVENT", "DETAILS", "SIGNER"};
  struct ctr_table *t = ctr_table_new(4, headers);
  size_t i;
  json_t *entry;

  if (t == NULL)
    return ctr_fail(err, ENOMEM, "provenance");
  json_array_foreach(chain, i, entry) {
    char event[64], time[64];
    cleanup_free char *details = params_text(entry);
    cleanup_free char *signer = signer_text(entry);
    const char *cells[4] = {time, event, details ? details : "", signer ? signer : ""};
    entry_event(entry, event, sizeof(event), time, sizeof(time));
    if (ctr_table_row(t, cells) < 0) {
      ctr_table_free(t);
      return ctr_fail(err, ENOMEM, "provenance");
    }
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  return 0;
}

/* A chain that is not intact or carries a bad signature is "not valid":
 * exit 1, naming the first such statement. */
static int first_invalid(const json_t *chain, ctr_err *err) {
  size_t i;
  json_t *entry;
  json_array_foreach(chain, i, entry) {
    const char *sig = ctr_json_str(entry, "signature");
    if (strncmp(sig, "invalid: ", 9) == 0)
      return ctr_fail(err, 0, "%s is not valid: %s",
                      ctr_json_str(entry, "file"), sig + 9);
  }
  return 0;
}

int verify_cmd_provenance(struct ctr_cli *cli, int argc, char **argv,
                          ctr_err *err) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, CTR_OPT_FORMAT}, {0, 0, 0, 0}};
  cleanup_paths struct ctr_paths paths = {0};
  cleanup_free char *trust = NULL;
  cleanup_json json_t *chain = NULL;
  char digest[CTR_DIGEST_LEN + 1];
  bool json = false;
  int opt, rc;

  while ((opt = verify_next_opt(cli, argc, argv, "h", opts, err)) != -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(optarg, &json, err) < 0)
        return -1;
      break;
    default:
      return ctr_usage(err, "provenance: unexpected option");
    }
  }
  if (ctr_cli_done(cli))
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "provenance takes one image NAME or DIGEST");
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  trust = verify_trust_dir(&paths);
  if (trust == NULL)
    return ctr_fail(err, ENOMEM, "provenance");
  if (target_digest(&paths, argv[optind], digest, err) < 0 ||
      attest_chain(trust, digest, &chain, err) < 0)
    return ctr_wrap(err, "provenance %s", argv[optind]);
  rc = json ? ctr_json_print(chain, err) : print_table(chain, err);
  if (rc == 0 && first_invalid(chain, err) < 0)
    rc = -1;
  if (rc < 0)
    return ctr_wrap(err, "provenance %s", argv[optind]);
  return 0;
}
