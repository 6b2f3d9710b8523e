/* ctr-image: the image store. Each verb parses its own options, then
 * calls into lib/image; errors come back as one ctr_err, printed once. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "image/auth.h"
#include "image/export.h"
#include "image/gc.h"
#include "image/import.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/push.h"
#include "image/ref.h"
#include "image/registry.h"
#include "image/store.h"
#include "image/trust.h"
#include "image/unpack.h"

static const char usage[] =
    "Usage: ctr-image [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "The image store: an OCI image layout at $CTR_ROOT/images.\n"
    "\n"
    "Commands:\n"
    "  import [--name NAME] [--rootfs] [-f] [-q] FILE|-\n"
    "                           load a docker-archive, oci-archive, OCI layout\n"
    "                           directory, or (--rootfs) a root filesystem tarball\n"
    "  import --from-host busybox [--name NAME]\n"
    "                           build a base image from the host's busybox-static\n"
    "  export [--format oci-archive|docker-archive] [-o FILE] NAME [FILE|-]\n"
    "  ls [-q] [--digests] [--no-trunc] [--format table|json]\n"
    "  inspect [--format table|json] NAME...\n"
    "  tag [-f] SRC DST        add a name to an image\n"
    "  rm [-f] NAME...         remove names; delete images left without one\n"
    "  prune [-q]              remove unreferenced blobs, layers, nameless images\n"
    "  history [--no-trunc] [--format table|json] NAME\n"
    "  unpack NAME             unpack layers; print overlay lowerdirs, top first\n"
    "  pull [-q] [--platform OS/ARCH[/VARIANT]] [--all-platforms] NAME\n"
    "                           fetch an image from a registry; print its ID\n"
    "  push [-q] [--digestfile FILE] [--sign-by FPR] NAME [REF]\n"
    "                           send an image to a registry (REF: NAME itself)\n"
    "  login [-u USER] [-p PASS | --password-stdin] REGISTRY\n"
    "                           check credentials with the registry and save them\n"
    "  logout [-a] [REGISTRY]   forget saved credentials\n"
    "\n"
    "Registry options (pull, push, login): --authfile FILE, --cert-dir DIR,\n"
    "  --tls-verify=false; logout takes --authfile.\n"
    "Signatures (pull, push): --registries.d DIR  where lookaside locations are\n"
    "  configured (default $CTR_REGISTRIES_D, /etc/ctr/registries.d or\n"
    "  /etc/containers/registries.d); push --sign-by FPR  sign REF first.\n"
    "\n"
    "Options (before or after the command):\n"
    "  --root DIR       store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "  --rundir DIR     volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "  --debug          debug output on stderr\n"
    "  -h, --help       this help\n"
    "  --version        version and features\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 bad usage. See ctr-image(1).\n";

static const char features[] =
    "+LIBARCHIVE +GZIP +ZSTD +XZ +BZIP2 +JANSSON +OPENSSL +OCI-LAYOUT "
    "+DOCKER-ARCHIVE +OCI-ARCHIVE +REGISTRY +TLS +PUSH";

enum {
  OPT_NAME = CTR_OPT_FIRST_TOOL,
  OPT_ROOTFS,
  OPT_FROM_HOST,
  OPT_DIGESTS,
  OPT_NO_TRUNC,
  OPT_PLATFORM,
  OPT_ALL_PLATFORMS,
  OPT_AUTHFILE,
  OPT_CERT_DIR,
  OPT_TLS_VERIFY,
  OPT_PASSWORD_STDIN,
  OPT_DIGESTFILE,
  OPT_REGISTRIES_D,
  OPT_SIGN_BY,
};

/* Everything one invocation needs: the parsed shared options and, once
 * opened, the store. */
struct ctx {
  struct ctr_cli cli;
  struct ctr_paths paths;
  struct image_store store;
  bool store_open;
};

static int open_store(struct ctx *c, enum image_store_mode mode, ctr_err *err) {
  if (ctr_cli_paths(&c->cli, &c->paths, err) < 0)
    return -1;
  if (image_store_open(&c->store, &c->paths, mode, err) < 0)
    return -1;
  c->store_open = true;
  return 0;
}

/* getopt over a verb's arguments, with the shared options mixed in. */
static int next_opt(struct ctx *c, int argc, char **argv, const char *short_opts,
                    const struct option *tool_opts, const char **arg,
                    ctr_err *err) {
  static const struct option common[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct option all[32];
  size_t n = 0;
  int opt;
  for (const struct option *o = tool_opts; o && o->name; o++)
    all[n++] = *o;
  for (const struct option *o = common; o->name; o++)
    all[n++] = *o;
  memset(&all[n], 0, sizeof(all[n]));
  for (;;) {
    opt = getopt_long(argc, argv, short_opts, all, NULL);
    *arg = optarg;
    if (opt == 'h') {
      c->cli.help = true;
      continue;
    }
    if (opt == -1 || !ctr_cli_common(&c->cli, opt, optarg))
      break;
  }
  if (opt == '?' || opt == ':')
    return ctr_cli_bad_option(&c->cli, argc, argv, err) - 1; /* -2 */
  return opt;
}

#define OPT_ERROR (-2)

static void split_name(const char *name, char **repo, const char **tag) {
  const char *slash = name ? strrchr(name, '/') : NULL;
  const char *colon = name ? strrchr(slash ? slash : name, ':') : NULL;
  if (name == NULL || colon == NULL) {
    *repo = strdup(name ? name : "<none>");
    *tag = "<none>";
    return;
  }
  *repo = strndup(name, (size_t)(colon - name));
  *tag = colon + 1;
}

static json_int_t image_size(const struct image *img) {
  json_int_t size = json_integer_value(
      json_object_get(json_object_get(img->manifest, "config"), "size"));
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(img->manifest, "layers"), i, l)
      size += json_integer_value(json_object_get(l, "size"));
  return size;
}

/* Verbs whose only option is one flag (-f or -q). */
static int parse_flag(struct ctx *c, int argc, char **argv, int flag,
                      const char *long_name, bool *set, ctr_err *err) {
  const struct option opts[] = {{long_name, no_argument, NULL, flag}, {0, 0, 0, 0}};
  char shorts[4] = {(char)flag, 'h', '\0'};
  const char *arg;
  int opt;
  while ((opt = next_opt(c, argc, argv, shorts, opts, &arg, err)) != -1) {
    if (opt != flag)
      return -1;
    *set = true;
  }
  return 0;
}

/* Open the store for garbage collection: gc lock exclusive, index lock
 * held (returned), index loaded. */
static int open_for_gc(struct ctx *c, json_t **index, ctr_err *err) {
  int lock;
  if (open_store(c, STORE_GC, err) < 0)
    return -1;
  lock = image_index_lock(&c->store, err);
  if (lock < 0)
    return -1;
  if (image_index_load(&c->store, index, err) < 0) {
    close(lock);
    return -1;
  }
  return lock;
}

/* ---- import ------------------------------------------------------------- */

/* The import event of each image, after the store has them (provenance
 * never undoes an import): where it came from and that input's digest.
 * One per image, under its first name; none for an image the import did
 * not change (a re-import is a no-op, on the trust tree too). */
static void record_import(struct ctx *c, const struct image_imported *res, size_t n,
                          const char *path, const char *from_host) {
  cleanup_free char *abs = NULL, *source = NULL;
  if (from_host != NULL) {
    if (asprintf(&source, "source=host:%s", from_host) < 0)
      source = NULL;
  } else {
    /* a file by its absolute path: the record outlives the cwd */
    abs = strcmp(path, "-") == 0 ? NULL : realpath(path, NULL);
    if (asprintf(&source, "source=%s", abs ? abs : path) < 0)
      source = NULL;
  }
  for (size_t i = 0; i < n; i++) {
    cleanup_free char *name = NULL, *sd = NULL;
    const char *params[4];
    size_t k = 0;
    if (res[i].unchanged || (i > 0 && strcmp(res[i].digest, res[i - 1].digest) == 0))
      continue;
    if (res[i].name != NULL && asprintf(&name, "name=%s", res[i].name) >= 0)
      params[k++] = name;
    if (source != NULL)
      params[k++] = source;
    if (res[i].source_digest[0] != '\0' &&
        asprintf(&sd, "source-digest=%s", res[i].source_digest) >= 0)
      params[k++] = sd;
    params[k] = NULL;
    trust_record(&c->paths, "import", res[i].digest, params);
  }
}

static int cmd_import(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"name", required_argument, NULL, OPT_NAME},
      {"rootfs", no_argument, NULL, OPT_ROOTFS},
      {"from-host", required_argument, NULL, OPT_FROM_HOST},
      {"force", no_argument, NULL, 'f'},
      {"quiet", no_argument, NULL, 'q'},
      {0, 0, 0, 0}};
  struct image_import_opts o = {0};
  struct image_imported *res = NULL;
  size_t n = 0;
  bool quiet = false;
  const char *arg, *path = NULL;
  int opt;

  while ((opt = next_opt(c, argc, argv, "fqh", opts, &arg, err)) != -1) {
    switch (opt) {
    case OPT_NAME: o.name = arg; break;
    case OPT_ROOTFS: o.rootfs = true; break;
    case OPT_FROM_HOST: o.from_host = arg; break;
    case 'f': o.force = true; break;
    case 'q': quiet = true; break;
    default: return -1;
    }
  }
  if (c->cli.help)
    return 0;
  ctr_progress_allow(!quiet);
  if (o.from_host != NULL) {
    if (optind != argc || o.rootfs)
      return ctr_usage(err, "import --from-host takes no FILE and no --rootfs");
  } else {
    if (optind + 1 != argc)
      return ctr_usage(err, "import needs one FILE or - (see --help)");
    path = argv[optind];
  }
  if (open_store(c, STORE_WRITE, err) < 0 ||
      image_import(&c->store, path, &o, &res, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (quiet)
      printf("%s\n", res[i].digest);
    else
      printf("Loaded image: %s\n", res[i].name ? res[i].name : res[i].digest);
  }
  record_import(c, res, n, path, o.from_host);
  image_imported_free(res, n);
  return 0;
}

/* ---- export ------------------------------------------------------------- */

/* The export event, once the archive is whole (and renamed into place):
 * where it went and the digest of the bytes written. */
static void record_export(struct ctx *c, const struct image *img, const char *out,
                          const char *written) {
  cleanup_free char *abs = NULL, *name = NULL, *dest = NULL, *dd = NULL;
  const char *params[4];
  size_t k = 0;
  if (out != NULL)
    abs = realpath(out, NULL);
  if (img->name != NULL && asprintf(&name, "name=%s", img->name) >= 0)
    params[k++] = name;
  if (asprintf(&dest, "destination=%s", out ? (abs ? abs : out) : "-") >= 0)
    params[k++] = dest;
  if (asprintf(&dd, "destination-digest=%s", written) >= 0)
    params[k++] = dd;
  params[k] = NULL;
  trust_record(&c->paths, "export", img->digest, params);
}

static int cmd_export(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {"output", required_argument, NULL, 'o'},
      {0, 0, 0, 0}};
  enum export_format fmt = EXPORT_OCI_ARCHIVE;
  char written[CTR_DIGEST_LEN + 1];
  const char *arg, *out = NULL, *ref;
  struct image img = {0};
  cleanup_free char *tmp = NULL;
  cleanup_free char *dir = NULL;
  cleanup_close int dfd = -1;
  int opt, fd = -1, ret;

  while ((opt = next_opt(c, argc, argv, "o:h", opts, &arg, err)) != -1) {
    switch (opt) {
    case CTR_OPT_FORMAT:
      if (strcmp(arg, "oci-archive") == 0 || strcmp(arg, "oci") == 0)
        fmt = EXPORT_OCI_ARCHIVE;
      else if (strcmp(arg, "docker-archive") == 0 || strcmp(arg, "docker") == 0)
        fmt = EXPORT_DOCKER_ARCHIVE;
      else
        return ctr_usage(err, "unknown export format '%s' (oci-archive or docker-archive)", arg);
      break;
    case 'o': out = arg; break;
    default: return -1;
    }
  }
  if (c->cli.help)
    return 0;
  if (optind >= argc || argc - optind > 2 || (out && argc - optind == 2))
    return ctr_usage(err, "export needs NAME and at most one FILE (see --help)");
  ref = argv[optind];
  if (out == NULL && argc - optind == 2)
    out = argv[optind + 1];
  if (out == NULL || strcmp(out, "-") == 0) {
    if (isatty(STDOUT_FILENO))
      return ctr_usage(err, "refusing to write an archive to a terminal (use -o FILE)");
    out = NULL;
  }
  if (open_store(c, STORE_READ, err) < 0 || image_resolve(&c->store, ref, &img, err) < 0)
    return -1;
  if (out != NULL) {
    /* A temp file beside the target, renamed when whole: a failed export
     * leaves whatever was there before. */
    const char *slash = strrchr(out, '/');
    dir = slash ? strndup(out, (size_t)(slash - out) + 1) : strdup(".");
    dfd = dir ? ctr_open_dir(AT_FDCWD, dir, err) : -1;
    if (dfd < 0 || (fd = ctr_mkstemp_at(dfd, ".ctr-export", &tmp, err)) < 0) {
      image_free(&img);
      return ctr_wrap(err, "export %s", ref);
    }
  } else {
    fd = STDOUT_FILENO;
  }
  ret = image_export(&c->store, &img, img.name, fmt, fd, written, err);
  if (out != NULL) {
    if (ret == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
      ret = ctr_fail(err, errno, "write %s", out);
    close(fd);
    if (ret == 0 && renameat(dfd, tmp, AT_FDCWD, out) < 0)
      ret = ctr_fail(err, errno, "rename to %s", out);
    if (ret < 0)
      unlinkat(dfd, tmp, 0);
  }
  if (ret == 0)
    record_export(c, &img, out, written);
  image_free(&img);
  if (ret < 0)
    return ctr_wrap(err, "export %s", ref);
  return 0;
}

/* ---- ls ----------------------------------------------------------------- */

static int cmd_ls(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'},
      {"digests", no_argument, NULL, OPT_DIGESTS},
      {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {0, 0, 0, 0}};
  static const char *const head[] = {"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"};
  bool quiet = false, digests = false, notrunc = false, json = false;
  cleanup_json json_t *index = NULL;
  cleanup_json json_t *out = json_array();
  struct ctr_table *t = NULL;
  const char *arg;
  json_t *d;
  size_t i;
  int opt;

  while ((opt = next_opt(c, argc, argv, "qh", opts, &arg, err)) != -1) {
    switch (opt) {
    case 'q': quiet = true; break;
    case OPT_DIGESTS: digests = true; break;
    case OPT_NO_TRUNC: notrunc = true; break;
    case CTR_OPT_FORMAT:
      if (ctr_cli_format(arg, &json, err) < 0)
        return -1;
      break;
    default: return -1;
    }
  }
  if (c->cli.help)
    return 0;
  if (optind != argc)
    return ctr_usage(err, "ls takes no arguments");
  if (open_store(c, STORE_READ, err) < 0 || image_index_load(&c->store, &index, err) < 0)
    return -1;
  json_array_foreach(json_object_get(index, "manifests"), i, d) {
    struct image img = {0};
    ctr_err e = NULL;
    cleanup_free char *repo = NULL;
    const char *tag;
    if (image_load(&c->store, d, &img, &e) < 0) {
      ctr_warn("skipping %s: %s", ctr_json_str(d, "digest"), e->msg);
      ctr_err_free(&e);
      continue;
    }
    split_name(img.name, &repo, &tag);
    json_array_append_new(
        out, json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s?, s:I}", "Name", img.name,
                       "Repository", repo ? repo : "<none>", "Tag", tag,
                       "Digest", img.digest, "Id", img.config_digest, "Created",
                       ctr_json_str(img.config, "created"), "Size",
                       image_size(&img)));
    image_free(&img);
  }
  if (json)
    return ctr_json_print(out, err);
  if (quiet) {
    json_array_foreach(out, i, d) {
      const char *id = ctr_json_str(d, "Id");
      printf("%.*s\n", notrunc ? CTR_DIGEST_LEN : 12, notrunc ? id : id + 7);
    }
    return 0;
  }
  {
    const char *h[6];
    int nc = 0;
    for (int k = 0; k < 6; k++)
      if (k != 2 || digests)
        h[nc++] = head[k];
    t = ctr_table_new(nc, h);
  }
  if (t == NULL)
    return ctr_fail(err, ENOMEM, "ls");
  json_array_foreach(out, i, d) {
    char id[CTR_DIGEST_LEN + 1], created[64], size[32];
    const char *row[6];
    const char *full = ctr_json_str(d, "Id");
    int nc = 0;
    snprintf(id, sizeof(id), "%.*s", notrunc ? CTR_DIGEST_LEN : 12,
             notrunc ? full : full + 7);
    ctr_human_ago(ctr_json_str(d, "Created"), time(NULL), created, sizeof(created));
    ctr_human_size((double)json_integer_value(json_object_get(d, "Size")), size,
                   sizeof(size));
    row[nc++] = ctr_json_str(d, "Repository");
    row[nc++] = ctr_json_str(d, "Tag");
    if (digests)
      row[nc++] = ctr_json_str(d, "Digest");
    row[nc++] = id;
    row[nc++] = created;
    row[nc++] = size;
    ctr_table_row(t, row);
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  return 0;
}

/* ---- inspect ------------------------------------------------------------ */

static void print_strings(const char *label, const json_t *arr) {
  size_t i;
  json_t *v;
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return;
  printf("%-14s", label);
  json_array_foreach(arr, i, v) printf("%s%s", i ? " " : "",
                                       json_is_string(v) ? json_string_value(v) : "?");
  printf("\n");
}

static void inspect_text(const struct image *img) {
  const json_t *cfg = json_object_get(img->config, "config");
  json_t *layers = json_object_get(img->manifest, "layers"), *l;
  const char *key;
  json_t *v;
  size_t i;
  char size[32];
  ctr_human_size((double)image_size(img), size, sizeof(size));
  printf("%-14s%s\n", "Name:", img->name ? img->name : "<none>");
  printf("%-14s%s\n", "Digest:", img->digest);
  printf("%-14s%s\n", "Id:", img->config_digest);
  printf("%-14s%s\n", "Created:", ctr_json_str(img->config, "created") ?: "");
  printf("%-14s%s\n", "Architecture:", ctr_json_str(img->config, "architecture") ?: "");
  printf("%-14s%s\n", "Os:", ctr_json_str(img->config, "os") ?: "");
  printf("%-14s%s\n", "Size:", size);
  printf("%-14s%zu\n", "Layers:", json_array_size(layers));
  json_array_foreach(layers, i, l) {
    ctr_human_size((double)json_integer_value(json_object_get(l, "size")), size, sizeof(size));
    printf("  %s  %s  %s\n", ctr_json_str(l, "digest"), size, ctr_json_str(l, "mediaType"));
  }
  print_strings("Entrypoint:", json_object_get(cfg, "Entrypoint"));
  print_strings("Cmd:", json_object_get(cfg, "Cmd"));
  json_array_foreach(json_object_get(cfg, "Env"), i, v) printf(
      "%-14s%s\n", i ? "" : "Env:", json_string_value(v) ?: "");
  if (ctr_json_str(cfg, "WorkingDir") && *ctr_json_str(cfg, "WorkingDir"))
    printf("%-14s%s\n", "WorkingDir:", ctr_json_str(cfg, "WorkingDir"));
  if (ctr_json_str(cfg, "User") && *ctr_json_str(cfg, "User"))
    printf("%-14s%s\n", "User:", ctr_json_str(cfg, "User"));
  i = 0;
  json_object_foreach((json_t *)json_object_get(cfg, "Labels"), key, v) printf(
      "%-14s%s=%s\n", i++ ? "" : "Labels:", key, json_string_value(v) ?: "");
}

static int cmd_inspect(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, CTR_OPT_FORMAT}, {0, 0, 0, 0}};
  cleanup_json json_t *out = json_array();
  bool json = false;
  const char *arg;
  int opt;
  while ((opt = next_opt(c, argc, argv, "h", opts, &arg, err)) != -1) {
    if (opt != CTR_OPT_FORMAT || ctr_cli_format(arg, &json, err) < 0)
      return -1;
  }
  if (c->cli.help)
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "inspect needs at least one NAME");
  if (open_store(c, STORE_READ, err) < 0)
    return -1;
  for (int i = optind; i < argc; i++) {
    struct image img = {0};
    if (image_resolve(&c->store, argv[i], &img, err) < 0)
      return -1;
    if (json) {
      json_array_append_new(
          out, json_pack("{s:s?, s:s, s:s, s:O, s:O, s:O}", "Name", img.name,
                         "Digest", img.digest, "Id", img.config_digest,
                         "Descriptor", img.desc, "Manifest", img.manifest,
                         "Config", img.config));
    } else {
      if (i > optind)
        printf("\n");
      inspect_text(&img);
    }
    image_free(&img);
  }
  return json ? ctr_json_print(out, err) : 0;
}

/* ---- tag, rm, prune ----------------------------------------------------- */

static int cmd_tag(struct ctx *c, int argc, char **argv, ctr_err *err) {
  bool force = false;
  struct image img = {0};
  struct image_ref r;
  cleanup_free char *name = NULL;
  cleanup_close int lock = -1;
  cleanup_json json_t *index = NULL;
  int ret;
  if (parse_flag(c, argc, argv, 'f', "force", &force, err) < 0)
    return -1;
  if (c->cli.help)
    return 0;
  if (argc - optind != 2)
    return ctr_usage(err, "tag needs SRC and DST");
  if (image_ref_parse(argv[optind + 1], &r, err) < 0)
    return -1;
  name = image_ref_name(&r);
  image_ref_free(&r);
  if (name == NULL)
    return ctr_usage(err, "%s: a name needs a tag, not a digest", argv[optind + 1]);
  if (open_store(c, STORE_WRITE, err) < 0)
    return -1;
  lock = image_index_lock(&c->store, err);
  if (lock < 0 || image_resolve(&c->store, argv[optind], &img, err) < 0 ||
      image_index_load(&c->store, &index, err) < 0) {
    image_free(&img);
    return -1;
  }
  ret = image_index_set_name(index, name, img.desc, force, err);
  if (ret < 0 || image_index_save(&c->store, index, err) < 0) {
    image_free(&img);
    return ctr_wrap(err, "tag %s %s", argv[optind], argv[optind + 1]);
  }
  close(lock);
  lock = -1;
  {
    cleanup_free char *to = NULL, *from = NULL;
    const char *params[3] = {NULL, NULL, NULL};
    if (asprintf(&to, "name=%s", name) >= 0)
      params[0] = to;
    if (asprintf(&from, "from=%s", img.name ? img.name : argv[optind]) >= 0)
      params[params[0] ? 1 : 0] = from;
    trust_record(&c->paths, "tag", img.digest, params);
  }
  image_free(&img);
  return 0;
}

static int untag(json_t *index, const char *ref, struct image *img,
                 json_t *untagged, json_t *digests) {
  json_t *manifests = json_object_get(index, "manifests");
  bool by_name = img->name != NULL && strstr(ref, img->name) != NULL;
  struct image_ref r;
  ctr_err e = NULL;
  cleanup_free char *name = NULL;
  if (image_ref_parse(ref, &r, &e) == 0) {
    name = image_ref_name(&r);
    image_ref_free(&r);
  }
  ctr_err_free(&e);
  by_name = name != NULL && img->name != NULL && strcmp(name, img->name) == 0;
  for (size_t i = json_array_size(manifests); i-- > 0;) {
    json_t *d = json_array_get(manifests, i);
    const char *n = ctr_json_str(json_object_get(d, "annotations"), IMAGE_REF_ANNOTATION);
    bool hit = by_name ? (n && strcmp(n, img->name) == 0)
                       : strcmp(ctr_json_str(d, "digest"), ctr_json_str(img->desc, "digest")) == 0;
    if (!hit)
      continue;
    json_array_append_new(untagged, json_string(n ? n : ctr_json_str(d, "digest")));
    json_array_append_new(digests, json_string(ctr_json_str(d, "digest")));
    json_array_remove(manifests, i);
  }
  return 0;
}

static void print_gc(const struct gc_report *r) {
  char size[32];
  ctr_human_size((double)r->bytes, size, sizeof(size));
  printf("Removed %zu blob%s, %zu layer%s, %zu dangling image%s, %zu temp file%s; "
         "reclaimed %s\n",
         r->blobs, r->blobs == 1 ? "" : "s", r->layers, r->layers == 1 ? "" : "s",
         r->images, r->images == 1 ? "" : "s", r->temps, r->temps == 1 ? "" : "s",
         size);
}

static int cmd_rm(struct ctx *c, int argc, char **argv, ctr_err *err) {
  cleanup_close int lock = -1;
  cleanup_json json_t *index = NULL;
  cleanup_json json_t *untagged = json_array();
  cleanup_json json_t *digests = json_array();
  struct gc_report rep = {0};
  bool force = false;
  size_t i;
  json_t *v;
  if (parse_flag(c, argc, argv, 'f', "force", &force, err) < 0)
    return -1;
  if (c->cli.help)
    return 0;
  if (optind >= argc)
    return ctr_usage(err, "rm needs at least one NAME");
  lock = open_for_gc(c, &index, err);
  if (lock < 0)
    return -1;
  /* Resolve everything first: one unknown name changes nothing. */
  for (int k = optind; k < argc; k++) {
    struct image img = {0};
    if (image_resolve(&c->store, argv[k], &img, err) < 0) {
      if (force) {
        ctr_err_free(err);
        continue;
      }
      return -1;
    }
    untag(index, argv[k], &img, untagged, digests);
    image_free(&img);
  }
  if (image_index_save(&c->store, index, err) < 0)
    return -1;
  json_array_foreach(untagged, i, v) {
    if (strncmp(json_string_value(v), "sha256:", 7) != 0)
      printf("Untagged: %s\n", json_string_value(v));
  }
  if (image_gc(&c->store, index, false, &rep, err) < 0)
    return -1;
  json_array_foreach(digests, i, v) {
    const char *d = json_string_value(v);
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++)
      dup = strcmp(json_string_value(json_array_get(digests, k)), d) == 0;
    if (!dup && !image_blob_exists(&c->store, d))
      printf("Deleted: %s\n", d);
  }
  gc_report_free(&rep);
  return 0;
}

static int cmd_prune(struct ctx *c, int argc, char **argv, ctr_err *err) {
  cleanup_close int lock = -1;
  cleanup_json json_t *index = NULL;
  struct gc_report rep = {0};
  bool quiet = false;
  if (parse_flag(c, argc, argv, 'q', "quiet", &quiet, err) < 0)
    return -1;
  if (c->cli.help)
    return 0;
  if (optind != argc)
    return ctr_usage(err, "prune takes no arguments");
  lock = open_for_gc(c, &index, err);
  if (lock < 0 || image_gc(&c->store, index, true, &rep, err) < 0)
    return ctr_wrap(err, "prune");
  if (!quiet)
    print_gc(&rep);
  gc_report_free(&rep);
  return 0;
}

/* ---- history, unpack ---------------------------------------------------- */

static int cmd_history(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
      {"format", required_argument, NULL, CTR_OPT_FORMAT},
      {0, 0, 0, 0}};
  static const char *const head[] = {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"};
  bool notrunc = false, json = false;
  struct image img = {0};
  cleanup_json json_t *rows = json_array();
  json_t *hist, *layers, *h;
  struct ctr_table *t;
  const char *arg;
  size_t i, layer;
  int opt;

  while ((opt = next_opt(c, argc, argv, "h", opts, &arg, err)) != -1) {
    if (opt == OPT_NO_TRUNC)
      notrunc = true;
    else if (opt != CTR_OPT_FORMAT || ctr_cli_format(arg, &json, err) < 0)
      return -1;
  }
  if (c->cli.help)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "history needs one NAME");
  if (open_store(c, STORE_READ, err) < 0 || image_resolve(&c->store, argv[optind], &img, err) < 0)
    return -1;
  hist = json_object_get(img.config, "history");
  layers = json_object_get(img.manifest, "layers");
  /* History entries map to layers in order, skipping empty_layer ones. */
  layer = 0;
  json_array_foreach(hist, i, h) {
    bool empty = json_is_true(json_object_get(h, "empty_layer"));
    json_int_t size = 0;
    if (!empty) {
      size = json_integer_value(json_object_get(json_array_get(layers, layer), "size"));
      layer++;
    }
    json_array_insert_new(
        rows, 0,
        json_pack("{s:s?, s:s, s:s, s:I, s:s, s:b}", "Created",
                  ctr_json_str(h, "created"), "CreatedBy",
                  ctr_json_str(h, "created_by") ?: "", "Comment",
                  ctr_json_str(h, "comment") ?: "", "Size", size, "Id",
                  "<missing>", "EmptyLayer", empty));
  }
  if (json_array_size(rows) > 0)
    json_object_set_new(json_array_get(rows, 0), "Id", json_string(img.config_digest));
  image_free(&img);
  if (json)
    return ctr_json_print(rows, err);
  t = ctr_table_new(5, head);
  if (t == NULL)
    return ctr_fail(err, ENOMEM, "history");
  json_array_foreach(rows, i, h) {
    char created[64], size[32], id[80], by[64];
    const char *cb = ctr_json_str(h, "CreatedBy");
    const char *row[5] = {id, created, cb, size, ctr_json_str(h, "Comment")};
    const char *hid = ctr_json_str(h, "Id");
    snprintf(id, sizeof(id), "%.*s", notrunc || hid[0] == '<' ? 71 : 12,
             hid[0] == '<' || notrunc ? hid : hid + 7);
    ctr_human_ago(ctr_json_str(h, "Created"), time(NULL), created, sizeof(created));
    ctr_human_size((double)json_integer_value(json_object_get(h, "Size")), size, sizeof(size));
    if (!notrunc && strlen(cb) > 45) {
      snprintf(by, sizeof(by), "%.42s...", cb);
      row[2] = by;
    }
    ctr_table_row(t, row);
  }
  ctr_table_print(t, stdout);
  ctr_table_free(t);
  return 0;
}

static int cmd_unpack(struct ctx *c, int argc, char **argv, ctr_err *err) {
  struct image img = {0};
  char **dirs = NULL;
  size_t n = 0;
  const char *arg;
  int opt, ret;
  while ((opt = next_opt(c, argc, argv, "h", NULL, &arg, err)) != -1)
    return -1;
  if (c->cli.help)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "unpack needs one NAME");
  if (open_store(c, STORE_WRITE, err) < 0 || image_resolve(&c->store, argv[optind], &img, err) < 0)
    return -1;
  ret = image_unpack(&c->store, &img, &dirs, &n, err);
  image_free(&img);
  if (ret < 0)
    return ctr_wrap(err, "unpack %s", argv[optind]);
  for (size_t i = 0; i < n; i++)
    printf("%s\n", dirs[i]);
  image_unpack_free(dirs, n);
  return 0;
}

/* ---- registry: pull, push, login, logout -------------------------------- */

/* What every verb that talks to a registry takes. */
#define REGISTRY_LONGOPTS                                                      \
  {"authfile", required_argument, NULL, OPT_AUTHFILE},                         \
      {"cert-dir", required_argument, NULL, OPT_CERT_DIR},                     \
      {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY}

struct registry_flags {
  const char *authfile;
  struct registry_opts reg;
};

/* Handle one registry option: 1 if it was one, 0 if not, -1 bad value. */
static int registry_flag(int opt, const char *arg, struct registry_flags *f,
                         ctr_err *err) {
  switch (opt) {
  case OPT_AUTHFILE:
    f->authfile = arg;
    return 1;
  case OPT_CERT_DIR:
    f->reg.cert_dir = arg;
    return 1;
  case OPT_TLS_VERIFY:
    if (arg == NULL || strcmp(arg, "true") == 0 || strcmp(arg, "1") == 0)
      f->reg.tls = REGISTRY_TLS_VERIFY;
    else if (strcmp(arg, "false") == 0 || strcmp(arg, "0") == 0)
      f->reg.tls = REGISTRY_TLS_NO_VERIFY;
    else
      return ctr_usage(err, "--tls-verify takes true or false, not '%s'", arg);
    return 1;
  default:
    return 0;
  }
}

static int cmd_pull(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'},
      {"platform", required_argument, NULL, OPT_PLATFORM},
      {"all-platforms", no_argument, NULL, OPT_ALL_PLATFORMS},
      {"registries.d", required_argument, NULL, OPT_REGISTRIES_D},
      REGISTRY_LONGOPTS,
      {0, 0, 0, 0}};
  struct registry_flags f = {0};
  struct image_pull_opts o = {0};
  struct image_pulled res;
  const char *arg, *id;
  int opt, r;

  while ((opt = next_opt(c, argc, argv, "qh", opts, &arg, err)) != -1) {
    if ((r = registry_flag(opt, arg, &f, err)) != 0) {
      if (r < 0)
        return -1;
      continue;
    }
    switch (opt) {
    case 'q': o.quiet = true; break;
    case OPT_PLATFORM: o.platform = arg; break;
    case OPT_ALL_PLATFORMS: o.all_platforms = true; break;
    case OPT_REGISTRIES_D: o.registries_d = arg; break;
    default: return -1;
    }
  }
  if (c->cli.help)
    return 0;
  if (argc - optind != 1)
    return ctr_usage(err, "pull needs one NAME (see --help)");
  o.authfile = f.authfile;
  o.reg = f.reg;
  ctr_progress_allow(!o.quiet);
  if (ctr_cli_paths(&c->cli, &c->paths, err) < 0 ||
      image_pull(&c->paths, argv[optind], &o, &res, err) < 0)
    return -1;
  /* As podman: the image ID, which -q prints alone too. */
  id = res.id[0] ? res.id : res.digest;
  printf("%s\n", ctr_digest_hex(id));
  image_pulled_free(&res);
  return 0;
}

static int cmd_push(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'},
      {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
      {"sign-by", required_argument, NULL, OPT_SIGN_BY},
      {"registries.d", required_argument, NULL, OPT_REGISTRIES_D},
      REGISTRY_LONGOPTS,
      {0, 0, 0, 0}};
  struct registry_flags f = {0};
  struct image_push_opts o = {0};
  struct image_pushed res;
  const char *arg, *digestfile = NULL;
  int opt, r;

  while ((opt = next_opt(c, argc, argv, "qh", opts, &arg, err)) != -1) {
    if ((r = registry_flag(opt, arg, &f, err)) != 0) {
      if (r < 0)
        return -1;
      continue;
    }
    switch (opt) {
    case 'q': o.quiet = true; break;
    case OPT_DIGESTFILE: digestfile = arg; break;
    case OPT_SIGN_BY: o.sign_by = arg; break;
    case OPT_REGISTRIES_D: o.registries_d = arg; break;
    default: return -1;
    }
  }
  if (c->cli.help)
    return 0;
  if (argc - optind != 1 && argc - optind != 2)
    return ctr_usage(err, "push needs NAME and at most one REF (see --help)");
  o.authfile = f.authfile;
  o.reg = f.reg;
  ctr_progress_allow(!o.quiet);
  if (ctr_cli_paths(&c->cli, &c->paths, err) < 0 ||
      image_push(&c->paths, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL,
                 &o, &res, err) < 0)
    return -1;
  /* As podman: nothing on stdout; the digest, without a newline, in
   * --digestfile. */
  if (digestfile != NULL &&
      ctr_atomic_write(AT_FDCWD, digestfile, res.digest, strlen(res.digest), 0644,
                       false, err) < 0)
    return ctr_wrap(err, "--digestfile");
  return 0;
}

/* A line from the terminal; without echo for secrets. NULL when stdin is
 * not a terminal. */
static char *prompt(const char *what, bool secret) {
  struct termios old, quiet;
  bool restore = false;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  if (!isatty(STDIN_FILENO))
    return NULL;
  fprintf(stderr, "%s: ", what);
  fflush(stderr);
  if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  n = getline(&line, &cap, stdin);
  if (restore) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (n < 0) {
    free(line);
    return NULL;
  }
  line[strcspn(line, "\r\n")] = '\0';
  return line;
}

static int password_from_stdin(char **out, ctr_err *err) {
  size_t len = 0;
  if (ctr_read_fd(STDIN_FILENO, 64 << 10, out, &len, err) < 0)
    return ctr_wrap(err, "--password-stdin");
  /* One final newline is the shell's, not the password's. */
  if (len > 0 && (*out)[len - 1] == '\n')
    (*out)[--len] = '\0';
  if (len > 0 && (*out)[len - 1] == '\r')
    (*out)[--len] = '\0';
  return 0;
}

static void free_secret(char *s) {
  if (s != NULL)
    explicit_bzero(s, strlen(s));
  free(s);
}

/* LOGIN's registry: "https://host:5000/v2/" is host:5000; a path after a
 * bare host makes credentials for that repository only (as podman). */
static int login_target(const char *arg, char **key, char **host, ctr_err *err) {
  *key = auth_normalize_key(arg);
  if (*key == NULL)
    return ctr_fail(err, ENOMEM, "login");
  *host = strndup(*key, strcspn(*key, "/"));
  if (*host == NULL)
    return ctr_fail(err, ENOMEM, "login");
  if ((*host)[0] == '\0' || strchr(*key, '@') != NULL || strchr(*key, ' ') != NULL)
    return ctr_usage(err, "invalid registry '%s'", arg);
  return 0;
}

static int cmd_login(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"username", required_argument, NULL, 'u'},
      {"password", required_argument, NULL, 'p'},
      {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
      REGISTRY_LONGOPTS,
      {0, 0, 0, 0}};
  struct registry_flags f = {0};
  struct registry *reg = NULL;
  cleanup_free char *key = NULL;
  cleanup_free char *host = NULL;
  char *user = NULL, *pass = NULL;
  bool from_stdin = false;
  const char *arg;
  int opt, r, ret = -1;

  while ((opt = next_opt(c, argc, argv, "u:p:h", opts, &arg, err)) != -1) {
    if ((r = registry_flag(opt, arg, &f, err)) != 0) {
      if (r < 0)
        goto out;
      continue;
    }
    switch (opt) {
    case 'u': free(user); user = strdup(arg); break;
    case 'p': free_secret(pass); pass = strdup(arg); break;
    case OPT_PASSWORD_STDIN: from_stdin = true; break;
    default: goto out;
    }
  }
  if (c->cli.help) {
    ret = 0;
    goto out;
  }
  if (argc - optind != 1) {
    ctr_usage(err, "login needs one REGISTRY (see --help)");
    goto out;
  }
  if (from_stdin && pass != NULL) {
    ctr_usage(err, "login: -p and --password-stdin exclude each other");
    goto out;
  }
  if (login_target(argv[optind], &key, &host, err) < 0)
    goto out;
  if (user == NULL && (from_stdin || (user = prompt("Username", false)) == NULL)) {
    ctr_usage(err, "login needs -u USER");
    goto out;
  }
  if (from_stdin ? password_from_stdin(&pass, err) < 0
                 : pass == NULL && (pass = prompt("Password", true)) == NULL) {
    if (!from_stdin)
      ctr_usage(err, "login needs -p PASS or --password-stdin");
    goto out;
  }
  if (user[0] == '\0' || strchr(user, ':') != NULL) {
    ctr_usage(err, "login: the user name must be non-empty and without ':'");
    goto out;
  }
  f.reg.username = user;
  f.reg.password = pass;
  /* Checked with the registry first, as docker does: wrong credentials
   * are never saved. */
  if (registry_open(host, &f.reg, &reg, err) < 0 || registry_login(reg, err) < 0 ||
      auth_store(f.authfile, key, user, pass, err) < 0) {
    ctr_wrap(err, "login %s", key);
    goto out;
  }
  printf("Login Succeeded!\n");
  ret = 0;
out:
  registry_close(reg);
  free(user);
  free_secret(pass);
  return ret;
}

static int cmd_logout(struct ctx *c, int argc, char **argv, ctr_err *err) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},
      {"authfile", required_argument, NULL, OPT_AUTHFILE},
      {0, 0, 0, 0}};
  cleanup_free char *key = NULL;
  struct auth_creds other = {0};
  const char *arg, *authfile = NULL;
  bool all = false;
  int opt, r;

  while ((opt = next_opt(c, argc, argv, "ah", opts, &arg, err)) != -1) {
    if (opt == 'a')
      all = true;
    else if (opt == OPT_AUTHFILE)
      authfile = arg;
    else
      return -1;
  }
  if (c->cli.help)
    return 0;
  if (all ? argc != optind : argc - optind != 1)
    return ctr_usage(err, "logout needs one REGISTRY, or -a and none");
  if (all) {
    if (auth_remove(authfile, NULL, err) < 0)
      return ctr_wrap(err, "logout");
    printf("Removed login credentials for all registries\n");
    return 0;
  }
  key = auth_normalize_key(argv[optind]);
  if (key == NULL)
    return ctr_fail(err, ENOMEM, "logout");
  r = auth_remove(authfile, key, err);
  if (r < 0)
    return ctr_wrap(err, "logout %s", key);
  if (r > 0) {
    printf("Removed login credentials for %s\n", key);
    return 0;
  }
  /* Credentials another tool saved are its to remove. */
  if (authfile == NULL && auth_lookup(NULL, key, NULL, &other, err) > 0) {
    ctr_fail(err, 0, "logout %s: not logged in with ctr-image; the credentials "
                     "in use come from %s", key, other.file);
    auth_creds_free(&other);
    return -1;
  }
  ctr_err_free(err);
  return ctr_fail(err, 0, "logout %s: not logged in", key);
}

/* ---- main --------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*run)(struct ctx *, int, char **, ctr_err *);
} verbs[] = {
    {"import", cmd_import}, {"load", cmd_import},   {"export", cmd_export},
    {"save", cmd_export},   {"ls", cmd_ls},         {"list", cmd_ls},
    {"inspect", cmd_inspect}, {"tag", cmd_tag},     {"rm", cmd_rm},
    {"rmi", cmd_rm},        {"prune", cmd_prune},   {"history", cmd_history},
    {"unpack", cmd_unpack},
    {"pull", cmd_pull},     {"push", cmd_push},     {"login", cmd_login},
    {"logout", cmd_logout},
};

int main(int argc, char **argv) {
  static const struct option opts[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct ctx c;
  ctr_err err = NULL;
  int opt, ret = -1;

  memset(&c, 0, sizeof(c));
  c.cli.prog = "ctr-image";
  c.cli.usage = usage;
  c.cli.features = features;
  ctr_log_init(c.cli.prog, false);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (opt == 'h')
      c.cli.help = true;
    else if (!ctr_cli_common(&c.cli, opt, optarg)) {
      ctr_cli_bad_option(&c.cli, argc, argv, &err);
      return ctr_err_report(c.cli.prog, &err);
    }
  }
  if (ctr_cli_done(&c.cli))
    return 0;
  if (optind >= argc) {
    fputs(usage, stderr);
    return 2;
  }
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    if (strcmp(argv[optind], verbs[i].name) != 0)
      continue;
    {
      int vargc = argc - optind;
      char **vargv = argv + optind;
      optind = 0;
      ret = verbs[i].run(&c, vargc, vargv, &err);
    }
    if (ret == 0 && ctr_cli_done(&c.cli))
      ret = 0;
    break;
  }
  if (ret < 0 && err == NULL)
    ctr_usage(&err, "unknown command '%s' (see --help)", argv[optind]);
  if (c.store_open)
    image_store_close(&c.store);
  ctr_paths_free(&c.paths);
  if (err != NULL)
    return ctr_err_report(c.cli.prog, &err);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    ctr_fail(&err, errno, "write output");
    return ctr_err_report(c.cli.prog, &err);
  }
  return 0;
}
