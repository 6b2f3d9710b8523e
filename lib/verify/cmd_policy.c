/* ctr-verify policy show|set|rm|import: edit $CTR_ROOT/trust/policy.json
 * (containers-policy.json, so skopeo and podman read the same file) and,
 * through the provenance code, provenance.json, without hand-writing
 * JSON. Every write is checked by parsing the result with the same
 * strict parser verify uses before it replaces the file, and is atomic;
 * bad input changes nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/lock.h"
#include "verify/attest.h"
#include "verify/attest_int.h"
#include "verify/cmd.h"
#include "verify/cmd_int.h"
#include "verify/gpg.h"
#include "verify/policy_int.h"

#define POLICY_FILE "policy.json"
#define POLICY_IN_MAX (1 << 20)
#define KEY_IN_MAX (1 << 20)

enum {
  OPT_SCOPE = CTR_OPT_FIRST_TOOL,
  OPT_ACCEPT,
  OPT_REJECT,
  OPT_SIGNED_BY,
  OPT_MATCH,
  OPT_EXACT_REFERENCE,
  OPT_EXACT_REPOSITORY,
  OPT_REMAP,
  OPT_REQUIRE_ORIGIN,
  OPT_ORIGIN_SIGNED_BY,
  OPT_ORIGIN,
};

#define MAX_LIST 32

struct set_opts {
  const char *scope;
  bool accept, reject, origin_only;
  const char *signed_by[MAX_LIST];
  size_t nsigned_by;
  const char *match, *exact_reference, *exact_repository, *remap;
  char *origins[MAX_LIST];
  size_t norigins;
  char *origin_keys[MAX_LIST];
  size_t norigin_keys;
  bool json;
};

static int push(const char **v, size_t *n, const char *s, const char *opt,
                ctr_err *err) {
  if (*n >= MAX_LIST)
    return ctr_usage(err, "%s: at most %d", opt, MAX_LIST);
  v[(*n)++] = s;
  return 0;
}

static const struct option policy_opts[] = {
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"accept", no_argument, NULL, OPT_ACCEPT},
    {"reject", no_argument, NULL, OPT_REJECT},
    {"signed-by", required_argument, NULL, OPT_SIGNED_BY},
    {"match", required_argument, NULL, OPT_MATCH},
    {"exact-reference", required_argument, NULL, OPT_EXACT_REFERENCE},
    {"exact-repository", required_argument, NULL, OPT_EXACT_REPOSITORY},
    {"remap", required_argument, NULL, OPT_REMAP},
    {"require-origin", required_argument, NULL, OPT_REQUIRE_ORIGIN},
    {"origin-signed-by", required_argument, NULL, OPT_ORIGIN_SIGNED_BY},
    {"origin", no_argument, NULL, OPT_ORIGIN},
    {"format", required_argument, NULL, CTR_OPT_FORMAT},
    {0, 0, 0, 0}};

static int parse_opts(struct ctr_cli *cli, int argc, char **argv,
                      struct set_opts *o, ctr_err *err) {
  int opt;
  memset(o, 0, sizeof(*o));
  while ((opt = verify_next_opt(cli, argc, argv, "h", policy_opts, err)) !=
         -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case OPT_SCOPE:
      o->scope = optarg;
      break;
    case OPT_ACCEPT:
      o->accept = true;
      break;
    case OPT_REJECT:
      o->reject = true;
      break;
    case OPT_SIGNED_BY:
      if (push(o->signed_by, &o->nsigned_by, optarg, "--signed-by", err) < 0)
        return -1;
      break;
    case OPT_MATCH:
      o->match = optarg;
      break;
    case OPT_EXACT_REFERENCE:
      o->exact_reference = optarg;
      break;
    case OPT_EXACT_REPOSITORY:
      o->exact_repository = optarg;
      break;
    case OPT_REMAP:
      o->remap = optarg;
      break;
    case OPT_REQUIRE_ORIGIN:
      if (push((const char **)o->origins, &o->norigins, optarg,
               "--require-origin", err) < 0)
        return -1;
      break;
    case OPT_ORIGIN_SIGNED_BY:
      if (push((const char **)o->origin_keys, &o->norigin_keys, optarg,
               "--origin-signed-by", err) < 0)
        return -1;
      break;
    case OPT_ORIGIN:
      o->origin_only = true;
      break;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(optarg, &o->json, err) < 0)
        return -1;
      break;
    default:
      return ctr_usage(err, "unexpected option");
    }
  }
  return 0;
}

/* ---- reading and writing policy.json ---- */

/* The current policy.json as JSON (NULL when there is none); one that
 * does not parse strictly is an error: we never edit what we cannot
 * read exactly. */
static int policy_read(const char *trust_dir, json_t **out, ctr_err *err) {
  cleanup_free char *path = NULL, *buf = NULL;
  struct policy *p = NULL;
  json_error_t jerr;
  size_t len;

  *out = NULL;
  if (asprintf(&path, "%s/%s", trust_dir, POLICY_FILE) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (ctr_read_file(AT_FDCWD, path, POLICY_IN_MAX, &buf, &len, err) < 0)
    return -1;
  if (policy_parse(buf, len, &p, err) < 0)
    return ctr_wrap(
        err,
        "invalid policy in \"%s\" (fix it, or replace it with `policy import`)",
        path);
  policy_free(p);
  *out = json_loadb(buf, len, 0, &jerr);
  if (*out == NULL)
    return ctr_fail(err, 0, "%s: %s", path, jerr.text);
  return 0;
}

/* Check bytes as verify will read them, then replace policy.json. */
static int policy_write_bytes(const char *trust_dir, const char *buf,
                              size_t len, ctr_err *err) {
  struct policy *p = NULL;
  cleanup_close int fd = -1;

  if (policy_parse(buf, len, &p, err) < 0)
    return ctr_wrap(err, "invalid policy");
  policy_free(p);
  if (ctr_mkdir_p(AT_FDCWD, trust_dir, 0700, err) < 0)
    return -1;
  fd = ctr_open_dir(AT_FDCWD, trust_dir, err);
  if (fd < 0)
    return -1;
  /* Readable by all, as /etc/containers/policy.json is. */
  return ctr_atomic_write(fd, POLICY_FILE, buf, len, 0644, true, err);
}

static int policy_write(const char *trust_dir, const json_t *j, ctr_err *err) {
  cleanup_free char *text = json_dumps(j, JSON_INDENT(4));
  cleanup_free char *withnl = NULL;
  if (text == NULL || asprintf(&withnl, "%s\n", text) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  return policy_write_bytes(trust_dir, withnl, strlen(withnl), err);
}

/* ---- keys for signedBy ---- */

static bool looks_like_fpr(const char *s) {
  size_t n = strlen(s);
  return n >= 16 && n <= VGPG_FPR_LEN &&
         strspn(s, "0123456789abcdefABCDEF") == n;
}

/* A --signed-by argument, resolved before anything is written: a key
 * file stays where it is (its absolute path goes into the policy, as
 * skopeo reads it); a fingerprint is exported from ctr's keyring and
 * lands in trust/keys/<FPR>.gpg. */
struct key_ref {
  char *path;   /* what keyPath will say */
  char *export; /* bytes to write to path, NULL for a file */
  size_t export_len;
};

static int resolve_key_file(const struct ctr_paths *paths, const char *arg,
                            struct key_ref *k, ctr_err *err) {
  cleanup_free char *buf = NULL, *cache = verify_keyring_cache(paths);
  char resolved[PATH_MAX];
  const void *blocks[1];
  struct vgpg *g = NULL;
  size_t len;

  if (ctr_read_file(AT_FDCWD, arg, KEY_IN_MAX, &buf, &len, err) < 0)
    return -1;
  blocks[0] = buf;
  /* Proves the file holds a public key (and warms the keyring cache). */
  if (cache == NULL || vgpg_open_keys(cache, blocks, &len, 1, &g, err) < 0)
    return ctr_wrap(err, "--signed-by %s", arg);
  vgpg_close(g);
  if (realpath(arg, resolved) == NULL)
    return ctr_fail(err, errno, "--signed-by %s", arg);
  k->path = strdup(resolved);
  return k->path ? 0 : ctr_fail(err, ENOMEM, "policy");
}

static int resolve_key_fpr(const char *trust_dir, const char *arg,
                           struct key_ref *k, ctr_err *err) {
  cleanup_free char *home = NULL;
  struct vgpg *g = NULL;
  struct vgpg_key key;
  int ret;

  if (asprintf(&home, "%s/gnupg", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  if (vgpg_open(home, false, &g, err) < 0)
    return ctr_wrap(err, "--signed-by %s: ctr's keyring", arg);
  ret = vgpg_find(g, arg, false, &key, err);
  if (ret == 0) {
    ret = vgpg_export(g, key.fpr, false, &k->export, &k->export_len, err);
    if (ret == 0 &&
        asprintf(&k->path, "%s/keys/%s.gpg", trust_dir, key.fpr) < 0)
      ret = ctr_fail(err, ENOMEM, "policy");
    free(key.uid);
    free(key.algo);
  }
  vgpg_close(g);
  if (ret < 0)
    return ctr_wrap(err, "--signed-by %s", arg);
  return 0;
}

static int resolve_key(const struct ctr_paths *paths, const char *trust_dir,
                       const char *arg, struct key_ref *k, ctr_err *err) {
  struct stat st;
  memset(k, 0, sizeof(*k));
  if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
    return resolve_key_file(paths, arg, k, err);
  if (looks_like_fpr(arg))
    return resolve_key_fpr(trust_dir, arg, k, err);
  return ctr_usage(
      err, "--signed-by %s: neither a key file nor a key fingerprint", arg);
}

static int write_exported_keys(const char *trust_dir, struct key_ref *keys,
                               size_t n, ctr_err *err) {
  cleanup_free char *dir = NULL;
  cleanup_close int fd = -1;
  if (asprintf(&dir, "%s/keys", trust_dir) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  for (size_t i = 0; i < n; i++) {
    if (keys[i].export == NULL)
      continue;
    if (fd < 0) {
      if (ctr_mkdir_p(AT_FDCWD, dir, 0700, err) < 0)
        return -1;
      if ((fd = ctr_open_dir(AT_FDCWD, dir, err)) < 0)
        return -1;
    }
    if (ctr_atomic_write(fd, strrchr(keys[i].path, '/') + 1, keys[i].export,
                         keys[i].export_len, 0644, true, err) < 0)
      return -1;
  }
  return 0;
}

static void key_refs_free(struct key_ref *keys, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(keys[i].path);
    free(keys[i].export);
  }
}

/* ---- building requirements ---- */

static json_t *identity_json(const struct set_opts *o, ctr_err *err) {
  static const struct {
    const char *mode, *type;
  } modes[] = {{"exact", "matchExact"},
               {"repo-digest-or-exact", "matchRepoDigestOrExact"},
               {"repository", "matchRepository"}};
  if (o->exact_reference != NULL)
    return json_pack("{s:s, s:s}", "type", "exactReference", "dockerReference",
                     o->exact_reference);
  if (o->exact_repository != NULL)
    return json_pack("{s:s, s:s}", "type", "exactRepository",
                     "dockerRepository", o->exact_repository);
  if (o->remap != NULL) {
    const char *eq = strchr(o->remap, '=');
    cleanup_free char *prefix =
        eq ? strndup(o->remap, (size_t)(eq - o->remap)) : NULL;
    if (eq == NULL) {
      ctr_usage(err, "--remap %s: want PREFIX=SIGNED-PREFIX", o->remap);
      return NULL;
    }
    return json_pack("{s:s, s:s, s:s}", "type", "remapIdentity", "prefix",
                     prefix ? prefix : "", "signedPrefix", eq + 1);
  }
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
    if (strcmp(o->match ? o->match : "repo-digest-or-exact", modes[i].mode) ==
        0)
      return json_pack("{s:s}", "type", modes[i].type);
  ctr_usage(err, "--match %s: want exact, repo-digest-or-exact or repository",
            o->match);
  return NULL;
}

static json_t *requirement_json(const struct set_opts *o, struct key_ref *keys,
                                ctr_err *err) {
  json_t *req, *ident, *paths;
  if (o->accept)
    return json_pack("{s:s}", "type", "insecureAcceptAnything");
  if (o->reject)
    return json_pack("{s:s}", "type", "reject");
  ident = identity_json(o, err);
  if (ident == NULL)
    return NULL;
  req = json_pack("{s:s, s:s}", "type", "signedBy", "keyType", "GPGKeys");
  if (req == NULL) {
    json_decref(ident);
    return NULL;
  }
  if (o->nsigned_by == 1) {
    json_object_set_new(req, "keyPath", json_string(keys[0].path));
  } else {
    paths = json_array();
    for (size_t i = 0; i < o->nsigned_by; i++)
      json_array_append_new(paths, json_string(keys[i].path));
    json_object_set_new(req, "keyPaths", paths);
  }
  json_object_set_new(req, "signedIdentity", ident);
  return req;
}

static int check_set_opts(const struct set_opts *o, ctr_err *err) {
  int kinds = o->accept + o->reject + (o->nsigned_by > 0);
  int idents = (o->match != NULL) + (o->exact_reference != NULL) +
               (o->exact_repository != NULL) + (o->remap != NULL);
  cleanup_free char *canon = NULL;

  if (o->origin_only)
    return ctr_usage(err, "policy set: --origin is for policy rm");
  if (kinds > 1)
    return ctr_usage(
        err, "policy set: choose one of --accept, --reject and --signed-by");
  if (kinds == 0 && o->norigins == 0 && o->norigin_keys == 0)
    return ctr_usage(err,
                     "policy set: no requirement given (--accept, --reject, "
                     "--signed-by, --require-origin)");
  if (idents > 0 && o->nsigned_by == 0)
    return ctr_usage(
        err, "policy set: --match, --exact-reference, --exact-repository "
             "and --remap go with --signed-by");
  if (idents > 1)
    return ctr_usage(err,
                     "policy set: choose one of --match, --exact-reference, "
                     "--exact-repository and --remap");
  if (o->scope != NULL && *o->scope != '\0' &&
      !policy_scope_valid(o->scope, &canon)) {
    if (canon != NULL)
      return ctr_usage(err, "--scope %s: scopes are fully qualified: %s",
                       o->scope, canon);
    return ctr_usage(err,
                     "--scope %s: want HOST[:PORT][/PATH][:TAG|@DIGEST] or "
                     "*.DOMAIN (e.g. docker.io/library/busybox)",
                     o->scope);
  }
  for (size_t i = 0; i < o->norigins; i++)
    if (!origin_valid(o->origins[i]))
      return ctr_usage(err,
                       "--require-origin %s: want pull:REGISTRY[/PATH] or "
                       "import:sha256:HEX",
                       o->origins[i]);
  return 0;
}

/* Put req as the requirements of the scope (the default when none). */
static int set_scope(json_t *policy, const char *scope, json_t *req,
                     ctr_err *err) {
  json_t *list = json_array(), *transports, *docker;
  if (list == NULL || json_array_append_new(list, req) < 0) {
    json_decref(list);
    return ctr_fail(err, ENOMEM, "policy");
  }
  if (scope == NULL || *scope == '\0')
    return json_object_set_new(policy, "default", list) < 0
               ? ctr_fail(err, ENOMEM, "policy")
               : 0;
  transports = json_object_get(policy, "transports");
  if (!json_is_object(transports)) {
    transports = json_object();
    json_object_set_new(policy, "transports", transports);
  }
  docker = json_object_get(transports, "docker");
  if (!json_is_object(docker)) {
    docker = json_object();
    json_object_set_new(transports, "docker", docker);
  }
  if (docker == NULL || json_object_set_new(docker, scope, list) < 0)
    return ctr_fail(err, ENOMEM, "policy");
  return 0;
}

/* Every check runs before anything is written: the policy side (keys
 * resolved, the new policy.json parsed as verify will) and the origin side
 * (origin_policy_prepare); only then the exported keys, policy.json and
 * provenance.json. So bad input anywhere leaves trust/ as it was. */
static int policy_set(const struct ctr_paths *paths, const struct set_opts *o,
                      ctr_err *err) {
  cleanup_free char *trust_dir = verify_trust_dir(paths);
  cleanup_free char *cache = NULL;
  cleanup_json json_t *policy = NULL;
  cleanup_close int lock = -1;
  struct origin_change *origin = NULL;
  struct key_ref keys[MAX_LIST];
  size_t nkeys = 0;
  json_t *req = NULL;
  int ret = -1;

  if (check_set_opts(o, err) < 0)
    return -1;
  if (trust_dir == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  lock = ctr_lock(paths, "trust-policy", LOCK_EX, err);
  if (lock < 0)
    return -1;
  if (o->accept || o->reject || o->nsigned_by > 0) {
    if (policy_read(trust_dir, &policy, err) < 0)
      return -1;
    /* A new policy leaves what it does not name as it was: accepted. */
    if (policy == NULL &&
        (policy = json_pack("{s:[{s:s}]}", "default", "type",
                            "insecureAcceptAnything")) == NULL)
      return ctr_fail(err, ENOMEM, "policy");
    for (; nkeys < o->nsigned_by; nkeys++)
      if (resolve_key(paths, trust_dir, o->signed_by[nkeys], &keys[nkeys],
                      err) < 0)
        goto out;
    req = requirement_json(o, keys, err);
    if (req == NULL) {
      if (err && *err == NULL)
        ctr_fail(err, ENOMEM, "policy");
      goto out;
    }
    if (set_scope(policy, o->scope, req, err) < 0)
      goto out;
    /* A bad --exact-reference or --remap fails here. */
    {
      cleanup_free char *text = json_dumps(policy, 0);
      struct policy *p = NULL;
      if (text == NULL) {
        ctr_fail(err, ENOMEM, "policy");
        goto out;
      }
      if (policy_parse(text, strlen(text), &p, err) < 0) {
        if (*err != NULL)
          (*err)->exit = 2;
        goto out;
      }
      policy_free(p);
    }
  }
  if (o->norigins > 0 || o->norigin_keys > 0) {
    cache = verify_keyring_cache(paths);
    if (cache == NULL) {
      ctr_fail(err, ENOMEM, "policy");
      goto out;
    }
    if (origin_policy_prepare(trust_dir, cache, o->scope, o->origins,
                              o->norigins, o->origin_keys, o->norigin_keys,
                              false, &origin, err) < 0)
      goto out;
  }
  if (policy != NULL && (write_exported_keys(trust_dir, keys, nkeys, err) < 0 ||
                         policy_write(trust_dir, policy, err) < 0))
    goto out;
  if (origin != NULL && origin_policy_commit(origin, err) < 0)
    goto out;
  ret = 0;
out:
  origin_change_free(origin);
  key_refs_free(keys, nkeys);
  return ret;
}

/* ---- rm ---- */

static int policy_rm(const struct ctr_paths *paths, const struct set_opts *o,
                     ctr_err *err) {
  cleanup_free char *trust_dir = verify_trust_dir(paths);
  cleanup_json json_t *policy = NULL, *prov = NULL;
  cleanup_close int lock = -1;
  struct origin_change *origin = NULL;
  json_t *transports, *docker;
  bool in_policy, in_prov;
  int ret = -1;

  if (o->scope == NULL || *o->scope == '\0')
    return ctr_usage(
        err, "policy rm: --scope SCOPE is required (the default stays)");
  if (o->accept || o->reject || o->nsigned_by || o->norigins ||
      o->norigin_keys || o->match || o->exact_reference ||
      o->exact_repository || o->remap)
    return ctr_usage(err, "policy rm takes only --scope and --origin");
  if (trust_dir == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  lock = ctr_lock(paths, "trust-policy", LOCK_EX, err);
  if (lock < 0)
    return -1;
  if (policy_read(trust_dir, &policy, err) < 0 ||
      origin_policy_show(trust_dir, &prov, err) < 0)
    return -1;
  transports = json_object_get(policy, "transports");
  docker = json_object_get(transports, "docker");
  in_policy = !o->origin_only && json_object_get(docker, o->scope) != NULL;
  in_prov = json_object_get(json_object_get(prov, "scopes"), o->scope) != NULL;
  if (!in_policy && !in_prov)
    return ctr_fail(err, 0, "no %s for scope %s",
                    o->origin_only ? "origin requirement" : "requirements",
                    o->scope);
  /* Both changes checked before either is written. */
  if (in_prov && origin_policy_prepare(trust_dir, NULL, o->scope, NULL, 0, NULL,
                                       0, true, &origin, err) < 0)
    return -1;
  if (in_policy) {
    json_object_del(docker, o->scope);
    if (json_object_size(docker) == 0)
      json_object_del(transports, "docker");
    if (json_object_size(transports) == 0)
      json_object_del(policy, "transports");
    if (policy_write(trust_dir, policy, err) < 0)
      goto out;
  }
  if (origin != NULL && origin_policy_commit(origin, err) < 0)
    goto out;
  ret = 0;
out:
  origin_change_free(origin);
  return ret;
}

/* ---- import ---- */

static int policy_import(const struct ctr_paths *paths, const char *file,
                         ctr_err *err) {
  cleanup_free char *trust_dir = verify_trust_dir(paths), *buf = NULL;
  cleanup_close int lock = -1;
  size_t len;

  if (trust_dir == NULL)
    return ctr_fail(err, ENOMEM, "policy");
  if (strcmp(file, "-") == 0) {
    if (ctr_read_fd(STDIN_FILENO, POLICY_IN_MAX, &buf, &len, err) < 0)
      return -1;
  } else if (ctr_read_file(AT_FDCWD, file, POLICY_IN_MAX, &buf, &len, err) <
             0) {
    return -1;
  }
  lock = ctr_lock(paths, "trust-policy", LOCK_EX, err);
  if (lock < 0)
    return -1;
  /* The file as written (comments-free JSON keeps its layout). */
  return policy_write_bytes(trust_dir, buf, len, err);
}

/* ---- dispatch ---- */

int verify_cmd_policy(struct ctr_cli *cli, int argc, char **argv,
                      ctr_err *err) {
  struct set_opts o;
  struct ctr_paths paths = {0};
  const char *sub;
  int nargs, ret;

  if (parse_opts(cli, argc, argv, &o, err) < 0)
    return ctr_wrap(err, "policy");
  if (ctr_cli_done(cli))
    return 0;
  if (optind >= argc)
    return ctr_usage(err,
                     "policy: expected show, set, rm or import (see --help)");
  sub = argv[optind];
  nargs = argc - optind - 1;
  if (strcmp(sub, "import") == 0 ? nargs != 1 : nargs != 0)
    return ctr_usage(err, "policy %s: %s", sub,
                     strcmp(sub, "import") == 0 ? "expected one FILE or -"
                                                : "unexpected arguments");
  if (strcmp(sub, "show") != 0 && strcmp(sub, "set") != 0 &&
      strcmp(sub, "rm") != 0 && strcmp(sub, "import") != 0)
    return ctr_usage(
        err, "policy: unknown command '%s' (show, set, rm, import)", sub);
  if ((strcmp(sub, "show") == 0 || strcmp(sub, "import") == 0) &&
      (o.scope || o.accept || o.reject || o.nsigned_by || o.match ||
       o.exact_reference || o.exact_repository || o.remap || o.norigins ||
       o.norigin_keys || o.origin_only))
    return ctr_usage(err, "policy %s: takes no requirement options", sub);
  if (strcmp(sub, "show") != 0 && o.json)
    return ctr_usage(err, "policy %s: --format is for policy show", sub);
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  if (strcmp(sub, "show") == 0)
    ret = policy_show(&paths, o.json, err);
  else if (strcmp(sub, "set") == 0)
    ret = policy_set(&paths, &o, err);
  else if (strcmp(sub, "rm") == 0)
    ret = policy_rm(&paths, &o, err);
  else
    ret = policy_import(&paths, argv[optind + 1], err);
  ctr_paths_free(&paths);
  if (ret < 0)
    return ctr_wrap(err, "policy %s", sub);
  return 0;
}
