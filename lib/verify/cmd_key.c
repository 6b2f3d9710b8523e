/* ctr-verify key: ctr's keyring ($CTR_ROOT/trust/gnupg) and the host's
 * signing key ($CTR_ROOT/trust/signing-key). Reading verbs never create
 * the keyring, so a bad `key rm` or `key export` leaves no trace. */
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
#include "verify/cmd.h"
#include "verify/cmd_int.h"
#include "verify/gpg.h"

#define KEY_INPUT_MAX (16u << 20)

enum {
  OPT_SECRET = CTR_OPT_FIRST_TOOL,
  OPT_UID,
  OPT_EXPIRE,
};

struct key_opts {
  bool secret, armor, quiet, json;
  const char *output, *uid, *expire;
};

/* ---- the copies policies name: trust/keys/<FPR>.gpg ----
 * `policy set --signed-by FPR` and `--origin-signed-by FPR` copy a key of
 * the keyring there, and verification reads only the copy. So that a
 * change to the key here (a revocation above all) takes effect, import
 * copies changed keys again, and rm refuses a key a policy still names.
 * Both hold the lock policy edits take (trust-policy). */

#define POLICY_FILE_MAX (4u << 20)

static char *snapshot_path(const char *trust, const char *fpr) {
  char *s;
  if (asprintf(&s, "%s/keys/%s.gpg", trust, fpr) < 0)
    return NULL;
  return s;
}

/* Copy every key of the keyring that has a copy in trust/keys again
 * where it differs: atomically, fsynced, as policy set writes it. */
static int refresh_snapshots(struct vgpg *g, const char *trust, ctr_err *err) {
  cleanup_free char *dir = NULL;
  cleanup_close int dfd = -1;
  struct vgpg_key *keys = NULL;
  size_t nk = 0;
  int rc = 0;

  if (asprintf(&dir, "%s/keys", trust) < 0)
    return ctr_fail(err, ENOMEM, "keys");
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? 0 : ctr_fail(err, errno, "%s", dir);
  if (vgpg_list(g, false, &keys, &nk, err) < 0)
    return -1;
  for (size_t i = 0; i < nk && rc == 0; i++) {
    cleanup_free char *name = NULL, *old = NULL, *now = NULL;
    size_t oldlen = 0, nowlen = 0;
    if (asprintf(&name, "%s.gpg", keys[i].fpr) < 0) {
      rc = ctr_fail(err, ENOMEM, "keys");
      break;
    }
    if (faccessat(dfd, name, F_OK, 0) != 0)
      continue;
    rc = vgpg_export(g, keys[i].fpr, false, &now, &nowlen, err);
    if (rc == 0)
      rc = ctr_read_file(dfd, name, POLICY_FILE_MAX, &old, &oldlen, err);
    if (rc == 0 && (oldlen != nowlen || memcmp(old, now, nowlen) != 0))
      rc = ctr_atomic_write(dfd, name, now, nowlen, 0644, true, err);
    if (rc < 0)
      rc = ctr_wrap(err, "update %s/%s", dir, name);
  }
  vgpg_keys_free(keys, nk);
  return rc;
}

/* Whether the keyPath/keyPaths of j (a policy.json or provenance.json,
 * at any depth) name the file st is; relative paths are under trust. */
static bool names_file(const json_t *j, const char *trust,
                       const struct stat *st) {
  const char *k;
  json_t *v;
  size_t i;
  if (json_is_array(j)) {
    json_array_foreach(j, i, v) {
      if (names_file(v, trust, st))
        return true;
    }
    return false;
  }
  if (!json_is_object(j))
    return false;
  json_object_foreach((json_t *)j, k, v) {
    bool paths = strcmp(k, "keyPaths") == 0 && json_is_array(v);
    size_t n = paths ? json_array_size(v) : 1;
    if (strcmp(k, "keyPath") != 0 && !paths) {
      if (names_file(v, trust, st))
        return true;
      continue;
    }
    for (i = 0; i < n; i++) {
      const char *s = json_string_value(paths ? json_array_get(v, i) : v);
      cleanup_free char *full = NULL;
      struct stat fst;
      if (s == NULL || *s == '\0')
        continue;
      if (s[0] != '/' && asprintf(&full, "%s/%s", trust, s) < 0)
        continue;
      if (stat(full ? full : s, &fst) == 0 && fst.st_dev == st->st_dev &&
          fst.st_ino == st->st_ino)
        return true;
    }
  }
  return false;
}

/* The policy file (policy.json, provenance.json) that names fpr's copy
 * in trust/keys, or NULL (malloc'd path). A file that does not parse
 * is searched as text: a broken policy must not let its key go. */
static int snapshot_user(const char *trust, const char *fpr, char **user,
                         ctr_err *err) {
  static const char *const files[] = {"policy.json", "provenance.json"};
  cleanup_free char *snap = snapshot_path(trust, fpr);
  struct stat st;

  *user = NULL;
  if (snap == NULL)
    return ctr_fail(err, ENOMEM, "keys");
  if (stat(snap, &st) != 0)
    return 0;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    cleanup_free char *path = NULL, *buf = NULL, *needle = NULL;
    cleanup_json json_t *j = NULL;
    size_t len = 0;
    bool named;
    if (asprintf(&path, "%s/%s", trust, files[i]) < 0 ||
        asprintf(&needle, "%s.gpg", fpr) < 0)
      return ctr_fail(err, ENOMEM, "keys");
    if (access(path, F_OK) != 0 && errno == ENOENT)
      continue;
    if (ctr_read_file(AT_FDCWD, path, POLICY_FILE_MAX, &buf, &len, err) < 0)
      return -1;
    j = json_loadb(buf, len, 0, NULL);
    named = j != NULL ? names_file(j, trust, &st)
                      : memmem(buf, len, needle, strlen(needle)) != NULL;
    if (named) {
      *user = ctr_steal(path);
      return 0;
    }
  }
  return 0;
}

static int key_import(const struct ctr_paths *paths, int n, char **args,
                      ctr_err *err) {
  cleanup_free char *home = NULL;
  cleanup_free char *data = NULL;
  struct vgpg *g = NULL;
  char **fprs = NULL;
  size_t len = 0, nf = 0;
  cleanup_free char *trust = NULL;
  cleanup_close int lock = -1;
  const char *undo;
  int rc;

  if (n != 1)
    return ctr_usage(err, "key import takes one FILE (or - for stdin)");
  if (strcmp(args[0], "-") == 0)
    rc = ctr_read_fd(STDIN_FILENO, KEY_INPUT_MAX, &data, &len, err);
  else
    rc = ctr_read_file(AT_FDCWD, args[0], KEY_INPUT_MAX, &data, &len, err);
  if (rc < 0)
    return ctr_wrap(err, "key import %s", args[0]);
  if (len == 0)
    return ctr_fail(err, 0, "key import %s: empty input", args[0]);
  home = vgpg_home(paths);
  if (home == NULL)
    return ctr_fail(err, ENOMEM, "key import");
  /* Check before the keyring exists: bad input must not create it. */
  if (!vgpg_looks_like_keys(data, len))
    return ctr_fail(err, 0, "key import %s: no OpenPGP keys in the input",
                    args[0]);
  trust = verify_trust_dir(paths);
  if (trust == NULL)
    return ctr_fail(err, ENOMEM, "key import");
  /* Held from the import to the last copy refreshed: a policy set in
   * between would copy the key as it was. */
  lock = ctr_lock(paths, "trust-policy", LOCK_EX, err);
  if (lock < 0)
    return ctr_wrap(err, "key import %s", args[0]);
  /* What a failed first import must take away again: the keyring, or
   * the whole trust directory when this made it. */
  undo = access(trust, F_OK) != 0  ? trust
         : access(home, F_OK) != 0 ? home
                                   : NULL;
  if (vgpg_open(home, true, &g, err) < 0)
    return ctr_wrap(err, "key import %s", args[0]);
  rc = vgpg_import(g, data, len, &fprs, &nf, err);
  if (rc == 0 && refresh_snapshots(g, trust, err) < 0) {
    /* The keyring has the key: say what is left to do. */
    for (size_t i = 0; i < nf; i++)
      free(fprs[i]);
    free(fprs);
    vgpg_close(g);
    return ctr_wrap(
        err, "key import %s: imported, but a policy's copy is stale", args[0]);
  }
  vgpg_close(g);
  if (rc < 0) {
    /* Leave no empty keyring behind a failed first import. */
    if (undo != NULL) {
      ctr_err ignore = NULL;
      ctr_rm_rf(AT_FDCWD, undo, &ignore);
      ctr_err_free(&ignore);
    }
    return ctr_wrap(err, "key import %s", args[0]);
  }
  for (size_t i = 0; i < nf; i++) {
    printf("%s\n", fprs[i]);
    free(fprs[i]);
  }
  free(fprs);
  return 0;
}

static void fmt_day(time_t t, char *out, size_t len) {
  struct tm tm;
  if (t == 0 || gmtime_r(&t, &tm) == NULL) {
    snprintf(out, len, "never");
    return;
  }
  strftime(out, len, "%Y-%m-%d", &tm);
}

static const char *key_status(const struct vgpg_key *k) {
  if (k->revoked)
    return "revoked";
  if (k->expired)
    return "expired";
  if (k->disabled)
    return "disabled";
  if (k->invalid)
    return "invalid";
  return "valid";
}

static json_t *key_json(const struct vgpg_key *k, bool host) {
  char created[64], expires[64];
  ctr_format_rfc3339(k->created, 0, created, sizeof(created));
  ctr_format_rfc3339(k->expires, 0, expires, sizeof(expires));
  return json_pack(
      "{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:s}", "fingerprint", k->fpr, "uid",
      k->uid, "algorithm", k->algo, "created", created, "expires",
      k->expires ? json_string(expires) : json_null(), "secret", k->secret,
      "host_signing_key", host, "status", key_status(k));
}

static int key_ls(const struct ctr_paths *paths, const struct key_opts *o,
                  int n, ctr_err *err) {
  static const char *const head[] = {"FINGERPRINT", "TYPE",   "ALGO", "CREATED",
                                     "EXPIRES",     "STATUS", "UID"};
  cleanup_free char *home = NULL;
  cleanup_free char *host = NULL;
  struct vgpg_key *keys = NULL;
  struct vgpg *g = NULL;
  size_t nk = 0;
  int rc = 0;

  if (n != 0)
    return ctr_usage(err, "key ls takes no arguments");
  if (vgpg_signing_key(paths, &host, err) < 0)
    return ctr_wrap(err, "key ls");
  home = vgpg_home(paths);
  if (home == NULL)
    return ctr_fail(err, ENOMEM, "key ls");
  if (access(home, F_OK) == 0) {
    rc = vgpg_open(home, false, &g, err);
    if (rc == 0)
      rc = vgpg_list(g, o->secret, &keys, &nk, err);
    vgpg_close(g);
    if (rc < 0)
      return ctr_wrap(err, "key ls");
  }
  if (o->json) {
    cleanup_json json_t *arr = json_array();
    for (size_t i = 0; arr && i < nk; i++)
      json_array_append_new(
          arr, key_json(&keys[i], host && strcmp(host, keys[i].fpr) == 0));
    vgpg_keys_free(keys, nk);
    return arr ? ctr_json_print(arr, err) : ctr_fail(err, ENOMEM, "key ls");
  }
  if (o->quiet) {
    for (size_t i = 0; i < nk; i++)
      printf("%s\n", keys[i].fpr);
    vgpg_keys_free(keys, nk);
    return 0;
  }
  struct ctr_table *t = ctr_table_new(7, head);
  for (size_t i = 0; t && i < nk; i++) {
    char created[16], expires[16];
    const char *type = keys[i].secret ? "sec" : "pub";
    if (host && strcmp(host, keys[i].fpr) == 0)
      type = "sec*"; /* this host's signing key */
    fmt_day(keys[i].created, created, sizeof(created));
    fmt_day(keys[i].expires, expires, sizeof(expires));
    const char *row[] = {keys[i].fpr, type,    keys[i].algo,
                         created,     expires, key_status(&keys[i]),
                         keys[i].uid};
    if (ctr_table_row(t, row) < 0)
      rc = ctr_fail(err, ENOMEM, "key ls");
  }
  vgpg_keys_free(keys, nk);
  if (t == NULL)
    return ctr_fail(err, ENOMEM, "key ls");
  if (rc == 0)
    ctr_table_print(t, stdout);
  ctr_table_free(t);
  return rc;
}

/* The keyring, opened for keys that must already be there. */
static int open_existing(const struct ctr_paths *paths, const char *fpr,
                         struct vgpg **g, ctr_err *err) {
  cleanup_free char *home = vgpg_home(paths);
  if (home == NULL)
    return ctr_fail(err, ENOMEM, "keyring");
  if (access(home, F_OK) != 0)
    return ctr_fail(err, 0, "no key %s in the keyring", fpr);
  return vgpg_open(home, false, g, err);
}

static int key_export(const struct ctr_paths *paths, const struct key_opts *o,
                      int n, char **args, ctr_err *err) {
  cleanup_free char *all = NULL;
  struct vgpg *g = NULL;
  size_t total = 0;

  if (n < 1)
    return ctr_usage(err, "key export needs a key fingerprint");
  if (open_existing(paths, args[0], &g, err) < 0)
    return ctr_wrap(err, "key export");
  for (int i = 0; i < n; i++) {
    char *data = NULL, *grown;
    size_t len = 0;
    if (vgpg_export(g, args[i], o->armor, &data, &len, err) < 0) {
      vgpg_close(g);
      return ctr_wrap(err, "key export");
    }
    grown = realloc(all, total + len + 1);
    if (grown == NULL) {
      free(data);
      vgpg_close(g);
      return ctr_fail(err, ENOMEM, "key export");
    }
    all = grown;
    memcpy(all + total, data, len);
    total += len;
    free(data);
  }
  vgpg_close(g);
  if (o->output != NULL) {
    if (ctr_atomic_write(AT_FDCWD, o->output, all, total, 0644, true, err) < 0)
      return ctr_wrap(err, "key export");
    return 0;
  }
  if (fwrite(all, 1, total, stdout) != total)
    return ctr_fail(err, errno, "key export: write");
  return 0;
}

static int key_rm(const struct ctr_paths *paths, const struct key_opts *o,
                  int n, char **args, ctr_err *err) {
  cleanup_free char *host = NULL;
  cleanup_free char *trust = verify_trust_dir(paths);
  cleanup_close int lock = -1;
  struct vgpg *g = NULL;
  struct vgpg_key *found;
  int rc = 0;

  if (n < 1)
    return ctr_usage(err, "key rm needs a key fingerprint");
  if (trust == NULL)
    return ctr_fail(err, ENOMEM, "key rm");
  if (vgpg_signing_key(paths, &host, err) < 0)
    return ctr_wrap(err, "key rm");
  if (open_existing(paths, args[0], &g, err) < 0)
    return ctr_wrap(err, "key rm %s", args[0]);
  /* No policy set may copy a key between the check below and its
   * removal. */
  lock = ctr_lock(paths, "trust-policy", LOCK_EX, err);
  if (lock < 0) {
    vgpg_close(g);
    return ctr_wrap(err, "key rm");
  }
  found = calloc((size_t)n, sizeof(*found));
  if (found == NULL) {
    vgpg_close(g);
    return ctr_fail(err, ENOMEM, "key rm");
  }
  /* All or nothing: every key must be there (and removable) before the
   * first goes. */
  for (int i = 0; i < n && rc == 0; i++) {
    rc = vgpg_find(g, args[i], false, &found[i], err);
    if (rc < 0)
      rc = ctr_wrap(err, "key rm %s", args[i]);
    else if (found[i].secret && !o->secret)
      rc = ctr_fail(err, 0,
                    "key rm %s: it has a secret part here: use --secret to "
                    "remove it too",
                    args[i]);
    else {
      /* Removing it here would not stop the policy trusting its copy. */
      cleanup_free char *user = NULL;
      rc = snapshot_user(trust, found[i].fpr, &user, err);
      if (rc < 0)
        rc = ctr_wrap(err, "key rm %s", args[i]);
      else if (user != NULL)
        rc = ctr_fail(err, 0,
                      "key rm %s: %s names its copy %s/keys/%s.gpg: change "
                      "the policy first",
                      args[i], user, trust, found[i].fpr);
    }
  }
  for (int i = 0; i < n && rc == 0; i++) {
    rc = vgpg_delete(g, found[i].fpr, o->secret, err);
    if (rc < 0) {
      rc = ctr_wrap(err, "key rm %s", args[i]);
      break;
    }
    /* The host cannot sign with a key it no longer holds. */
    if (host && o->secret && strcmp(host, found[i].fpr) == 0)
      rc = vgpg_signing_key_clear(paths, err);
  }
  for (int i = 0; i < n; i++) {
    free(found[i].uid);
    free(found[i].algo);
  }
  free(found);
  vgpg_close(g);
  return rc;
}

static int parse_days(const char *s, unsigned long *secs, ctr_err *err) {
  char *end;
  unsigned long d;
  errno = 0;
  d = strtoul(s, &end, 10);
  if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || d == 0 || d > 36500)
    return ctr_usage(err, "--expire: '%s' is not a number of days (1 to 36500)",
                     s);
  *secs = d * 86400;
  return 0;
}

static int key_gen(const struct ctr_paths *paths, const struct key_opts *o,
                   int n, ctr_err *err) {
  cleanup_free char *home = NULL;
  cleanup_free char *uid = NULL;
  char fpr[VGPG_FPR_LEN + 1];
  char host[HOST_NAME_MAX + 1] = "localhost";
  unsigned long expires = 0;
  struct vgpg *g = NULL;
  int rc;

  if (n != 0)
    return ctr_usage(err, "key gen takes no arguments");
  if (o->expire && parse_days(o->expire, &expires, err) < 0)
    return -1;
  if (o->uid != NULL) {
    if (o->uid[0] == '\0' || strpbrk(o->uid, "\n\r") != NULL)
      return ctr_usage(err, "--uid: an empty or multi-line user id");
    uid = strdup(o->uid);
  } else {
    gethostname(host, sizeof(host) - 1);
    if (asprintf(&uid, "ctr on %s", host) < 0)
      uid = NULL;
  }
  home = vgpg_home(paths);
  if (uid == NULL || home == NULL)
    return ctr_fail(err, ENOMEM, "key gen");
  if (vgpg_open(home, true, &g, err) < 0)
    return ctr_wrap(err, "key gen");
  rc = vgpg_genkey(g, uid, expires, fpr, err);
  vgpg_close(g);
  if (rc < 0)
    return ctr_wrap(err, "key gen");
  /* A new key replaces the old one as the host's (rotation); the old
   * key stays in the keyring so what it signed still verifies. */
  if (vgpg_signing_key_set(paths, fpr, err) < 0)
    return ctr_wrap(err, "key gen");
  printf("%s\n", fpr);
  return 0;
}

int verify_cmd_key(struct ctr_cli *cli, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"secret", no_argument, NULL, OPT_SECRET},
      {"armor", no_argument, NULL, 'a'},
      {"output", required_argument, NULL, 'o'},
      {"uid", required_argument, NULL, OPT_UID},
      {"expire", required_argument, NULL, OPT_EXPIRE},
      {"quiet", no_argument, NULL, 'q'},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {0, 0, 0, 0}};
  cleanup_paths struct ctr_paths paths = {0};
  struct key_opts o = {0};
  const char *verb;
  bool fmt = false;
  int opt;

  while ((opt = verify_next_opt(cli, argc, argv, "hao:q", opts, err)) != -1) {
    switch (opt) {
    case VERIFY_OPT_ERROR:
      return -1;
    case OPT_SECRET:
      o.secret = true;
      break;
    case 'a':
      o.armor = true;
      break;
    case 'o':
      o.output = optarg;
      break;
    case OPT_UID:
      o.uid = optarg;
      break;
    case OPT_EXPIRE:
      o.expire = optarg;
      break;
    case 'q':
      o.quiet = true;
      break;
    case CTR_OPT_FORMAT:
      fmt = true;
      if (ctr_cli_format(optarg, &o.json, err) < 0)
        return -1;
      break;
    default:
      return ctr_usage(err, "key: unexpected option");
    }
  }
  if (ctr_cli_done(cli))
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "key: which? import, ls, export, rm or gen");
  verb = argv[optind];
  /* Options belong to one sub-command each; elsewhere they are mistakes. */
  const struct {
    bool given;
    const char *opt, *verbs; /* " ls rm " */
  } owners[] = {
      {o.secret, "--secret", " ls rm "},
      {o.armor, "--armor", " export "},
      {o.output != NULL, "--output", " export "},
      {o.uid != NULL, "--uid", " gen "},
      {o.expire != NULL, "--expire", " gen "},
      {o.quiet, "--quiet", " ls "},
      {fmt, "--format", " ls "},
  };
  char word[32];
  snprintf(word, sizeof(word), " %s ", verb);
  for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
    if (owners[i].given && strstr(owners[i].verbs, word) == NULL)
      return ctr_usage(err, "key %s: %s is not an option of key %s", verb,
                       owners[i].opt, verb);
  if (ctr_cli_paths(cli, &paths, err) < 0)
    return -1;
  int n = argc - optind - 1;
  char **args = argv + optind + 1;
  if (strcmp(verb, "import") == 0)
    return key_import(&paths, n, args, err);
  if (strcmp(verb, "ls") == 0)
    return key_ls(&paths, &o, n, err);
  if (strcmp(verb, "export") == 0)
    return key_export(&paths, &o, n, args, err);
  if (strcmp(verb, "rm") == 0)
    return key_rm(&paths, &o, n, args, err);
  if (strcmp(verb, "gen") == 0)
    return key_gen(&paths, &o, n, err);
  return ctr_usage(
      err, "key: unknown sub-command '%s' (import, ls, export, rm, gen)", verb);
}
