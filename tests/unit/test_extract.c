/* Layer extraction and unpacking: hostile tars stay inside, special files
 * come out exactly, compressed and plain layers agree, diff_ids and chain
 * ids are checked, and image_unpack leaves no temp directory behind.
 *
 * usage: test_extract [TESTS_DIR]   (else $CTR_TESTS_DIR, else "tests");
 * fixtures come from TESTS_DIR/helpers/mktar.py. Prints TAP. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "image/manifest.h"
#include "image/store.h"
#include "image/unpack.h"
#include "tap.h"

static const char *tests_dir;
static char base[] = "/tmp/ctr-test-extract.XXXXXX";

static char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A path under the test's temp dir, freed at exit by free_paths(). */
static char **paths;
static size_t npaths;
static char *path(const char *fmt, ...) {
  va_list ap;
  char *rel = NULL, *out = NULL;
  char **np = realloc(paths, (npaths + 1) * sizeof(*paths));
  va_start(ap, fmt);
  if (np == NULL || vasprintf(&rel, fmt, ap) < 0)
    abort();
  va_end(ap);
  if (asprintf(&out, "%s/%s", base, rel) < 0)
    abort();
  free(rel);
  paths = np;
  paths[npaths++] = out;
  return out;
}

static void free_paths(void) {
  for (size_t i = 0; i < npaths; i++)
    free(paths[i]);
  free(paths);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
  va_list ap;
  cleanup_free char *cmd = NULL;
  int st;
  va_start(ap, fmt);
  if (vasprintf(&cmd, fmt, ap) < 0)
    abort();
  va_end(ap);
  st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *mktar(const char *kind) {
  char *out = path("%s.tar", kind);
  if (run("python3 '%s/helpers/mktar.py' %s '%s' '%s/outside'", tests_dir, kind,
          out, base) != 0) {
    fprintf(stderr, "# mktar.py %s failed\n", kind);
    exit(1);
  }
  return out;
}

static char *gzip_copy(const char *tar) {
  char *out = path("%s.gz", strrchr(tar, '/') + 1);
  if (run("python3 -c 'import gzip,shutil,sys; "
          "shutil.copyfileobj(open(sys.argv[1],\"rb\"), gzip.open(sys.argv[2],\"wb\"))' "
          "'%s' '%s'",
          tar, out) != 0)
    exit(1);
  return out;
}

static bool exists(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0;
}

/* Extract a file into a new directory dest; returns the error message (or
 * NULL on success) in *msg. */
static int extract(const char *blob, const char *dest, const char *diff_id,
                   char **msg) {
  cleanup_close int fd = open(blob, O_RDONLY | O_CLOEXEC);
  cleanup_close int dfd = -1;
  ctr_err err = NULL;
  int r;
  *msg = NULL;
  if (fd < 0 || ctr_mkdir_p(AT_FDCWD, dest, 0755, &err) < 0 ||
      (dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    fprintf(stderr, "# setup %s: %s\n", dest, err ? err->msg : strerror(errno));
    exit(1);
  }
  r = image_layer_extract(fd, dfd, diff_id, &err);
  if (r < 0) {
    *msg = strdup(err && err->msg ? err->msg : "(no message)");
    printf("# %s: %s\n", strrchr(blob, '/') + 1, *msg);
  }
  ctr_err_free(&err);
  return r;
}

static bool contains(const char *msg, const char *what) {
  return msg != NULL && strstr(msg, what) != NULL;
}

static char *read_all(const char *p, size_t *len) {
  char *buf = NULL;
  ctr_err err = NULL;
  if (ctr_read_file(AT_FDCWD, p, 64 << 20, &buf, len, &err) < 0) {
    ctr_err_free(&err);
    return NULL;
  }
  return buf;
}

static bool file_is(const char *p, const char *content) {
  cleanup_free char *buf = read_all(p, NULL);
  return buf != NULL && strcmp(buf, content) == 0;
}

static bool xattr_is(const char *p, const char *name, const void *value,
                     size_t len) {
  char buf[256];
  ssize_t n = lgetxattr(p, name, buf, sizeof(buf));
  return n == (ssize_t)len && memcmp(buf, value, len) == 0;
}

static char *sha256_of(const char *p) {
  static char d[CTR_DIGEST_LEN + 1];
  ctr_err err = NULL;
  if (ctr_sha256_file(AT_FDCWD, p, d, &err) < 0)
    exit(1);
  return d;
}

/* ---- hostile layers ------------------------------------------------ */

static void test_hostile(void) {
  static const struct {
    const char *kind, *entry, *why;
  } cases[] = {
      {"dotdot", "../ctr-evil", "escapes the layer"},
      {"symlink-escape", "lnk/ctr-evil", "symlink"},
      {"symlink-dotdot", "lnk/ctr-evil", "symlink"},
      {"hardlink-escape", "pw", "escapes the layer"},
      {"hardlink-via-symlink", "pw", "symlink"},
  };
  char *outside = path("outside");
  char *secret = path("outside/passwd");
  struct stat st;
  if (mkdir(outside, 0755) < 0 || run("echo secret > '%s'", secret) != 0)
    exit(1);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    /* dest is base/n1/n2/dest-KIND so "../../.." from it is base itself */
    char *dest = path("n1/n2/dest-%s", cases[i].kind);
    char *msg = NULL;
    int r = extract(mktar(cases[i].kind), dest, NULL, &msg);
    ok(r < 0 && contains(msg, cases[i].entry) && contains(msg, cases[i].why),
       "%s: refused, naming entry %s", cases[i].kind, cases[i].entry);
    ok(!exists(path("ctr-evil")) && !exists(path("n1/n2/ctr-evil")) &&
           !exists(path("n1/ctr-evil")) && !exists(path("outside/ctr-evil")) &&
           !exists("/tmp/ctr-evil") && !exists("/ctr-evil"),
       "%s: nothing written outside the destination", cases[i].kind);
    free(msg);
  }
  ok(stat(secret, &st) == 0 && st.st_nlink == 1 &&
         !exists(path("n1/n2/dest-hardlink-via-symlink/pw")) &&
         !exists(path("n1/n2/dest-hardlink-escape/pw")),
     "hardlinks: no link to an outside file was made");
}

static void test_absolute(void) {
  char *dest = path("dest-absolute");
  char *msg = NULL;
  int r = extract(mktar("absolute"), dest, NULL, &msg);
  ok(r == 0, "absolute: extracts");
  ok(file_is(path("dest-absolute/%s/outside/ctr-evil-abs", base + 1), "inside\n") &&
         !exists(path("outside/ctr-evil-abs")),
     "absolute: leading / stripped, file lands inside the layer");
  free(msg);
}

/* ---- special files ------------------------------------------------- */

static const unsigned char capability[20] = {1, 0, 0, 2, 0, 4};

static void test_special(const char *dest) {
  struct stat st, st2;
  char buf[64];
  ssize_t n;
  char *p;

  p = path("%s/owned", dest);
  ok(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 &&
         st.st_uid == 1000 && st.st_gid == 1000,
     "special: dir 0755 owned 1000:1000");
  ok(st.st_mtim.tv_sec == 1111111111,
     "special: dir mtime set after its children were created");
  ok(lstat(path("%s/owned/file", dest), &st) == 0 &&
         (st.st_mode & 07777) == 0640 && st.st_uid == 1000 && st.st_gid == 1000,
     "special: file 0640 owned 1000:1000");
  ok(lstat(path("%s/suid", dest), &st) == 0 && S_ISREG(st.st_mode) &&
         (st.st_mode & 07777) == 04755 && st.st_uid == 0,
     "special: setuid 4755 root file");
  ok(lstat(path("%s/sgid", dest), &st) == 0 && (st.st_mode & 07777) == 02755 &&
         st.st_gid == 50,
     "special: setgid 2755 file, gid 50");
  ok(lstat(path("%s/sticky", dest), &st) == 0 && S_ISDIR(st.st_mode) &&
         (st.st_mode & 07777) == 01777,
     "special: sticky dir 1777");
  ok(lstat(path("%s/mtime", dest), &st) == 0 && st.st_mtim.tv_sec == 1234567890 &&
         st.st_mtim.tv_nsec == 500000000,
     "special: mtime 1234567890.5");
  p = path("%s/xattr", dest);
  ok(xattr_is(p, "user.foo", "bar", 3), "special: xattr user.foo=bar");
  ok(xattr_is(p, "security.capability", capability, sizeof(capability)),
     "special: security.capability");
  ok(lstat(path("%s/hl-a", dest), &st) == 0 &&
         lstat(path("%s/hl-b", dest), &st2) == 0 && st.st_ino == st2.st_ino &&
         st.st_nlink == 2 && file_is(path("%s/hl-b", dest), "shared\n"),
     "special: hardlink pair shares one inode");
  n = readlink(path("%s/rel", dest), buf, sizeof(buf));
  ok(n == 4 && memcmp(buf, "hl-a", 4) == 0, "special: relative symlink");
  n = readlink(path("%s/abs", dest), buf, sizeof(buf));
  ok(n == 11 && memcmp(buf, "/etc/passwd", 11) == 0,
     "special: absolute symlink stored verbatim");
  ok(lstat(path("%s/null", dest), &st) == 0 && S_ISCHR(st.st_mode) &&
         major(st.st_rdev) == 1 && minor(st.st_rdev) == 3 &&
         (st.st_mode & 07777) == 0666,
     "special: char device 1:3, 0666");
  ok(lstat(path("%s/fifo", dest), &st) == 0 && S_ISFIFO(st.st_mode) &&
         (st.st_mode & 07777) == 0644,
     "special: fifo 0644");
  {
    size_t len = 0;
    cleanup_free char *data = read_all(path("%s/sparse", dest), &len);
    bool content = data != NULL && len == (4 << 20) && data[0] == 0 &&
                   data[(1 << 20) - 1] == 0 && data[1 << 20] == 'x' &&
                   data[(1 << 20) + 4095] == 'x' && data[(1 << 20) + 4096] == 0;
    int r = lstat(path("%s/sparse", dest), &st);
    ok(r == 0 && st.st_size == (4 << 20) &&
           st.st_blocks * 512 <= 256 * 1024 && content,
       "special: sparse file keeps its holes (%lld bytes allocated)",
       (long long)st.st_blocks * 512);
  }
  ok(!exists(path("%s/GNUSparseFile.0", dest)), "special: no sparse map dir");
  ok(lstat(path("%s/empty", dest), &st) == 0 && S_ISDIR(st.st_mode) &&
         (st.st_mode & 07777) == 0750 && st.st_nlink == 2 &&
         st.st_mtim.tv_sec == 1000000000,
     "special: empty dir 0750 with its mtime");
}

static void test_whiteout(void) {
  char *dest = path("dest-whiteout");
  char *msg = NULL;
  struct stat st;
  ok(extract(mktar("whiteout"), dest, NULL, &msg) == 0, "whiteout: extracts");
  ok(lstat(path("dest-whiteout/gone"), &st) == 0 && S_ISCHR(st.st_mode) &&
         st.st_rdev == makedev(0, 0) && !exists(path("dest-whiteout/.wh.gone")),
     "whiteout: .wh.gone became a 0:0 char device named gone");
  ok(xattr_is(path("dest-whiteout/sub"), "trusted.overlay.opaque", "y", 1) &&
         !exists(path("dest-whiteout/sub/.wh..wh..opq")) &&
         file_is(path("dest-whiteout/sub/keep"), "kept\n"),
     "whiteout: opaque dir marked with trusted.overlay.opaque=y");
  free(msg);
}

static void test_overwrite(void) {
  char *dest = path("dest-overwrite");
  char *msg = NULL;
  struct stat st;
  ok(extract(mktar("overwrite"), dest, NULL, &msg) == 0, "overwrite: extracts");
  ok(file_is(path("dest-overwrite/f"), "two\n"), "overwrite: later entry wins");
  ok(lstat(path("dest-overwrite/s"), &st) == 0 && S_ISREG(st.st_mode) &&
         file_is(path("dest-overwrite/f"), "two\n"),
     "overwrite: a file replaces a symlink instead of writing through it");
  ok(lstat(path("dest-overwrite/d"), &st) == 0 && S_ISREG(st.st_mode),
     "overwrite: a file replaces an empty dir");
  ok(file_is(path("dest-overwrite/p/d"), "replaces an empty subdir\n") &&
         file_is(path("dest-overwrite/p/e"), "after it\n") &&
         file_is(path("dest-overwrite/q"), "replaces an opaque empty dir\n") &&
         file_is(path("dest-overwrite/r/x"), "after it\n"),
     "overwrite: replacing empty dirs keeps later entries' parents right");
  free(msg);
}

/* ---- compression and digests --------------------------------------- */

/* Two trees are the same: types, modes, owners, sizes, times, devices,
 * link targets, contents, xattrs. */
static bool same_tree(const char *a, const char *b) {
  cleanup_dir DIR *d = opendir(a);
  struct dirent *de;
  size_t na = 0, nb = 0;
  if (d == NULL)
    return false;
  while ((de = readdir(d)) != NULL) {
    cleanup_free char *pa = NULL, *pb = NULL;
    struct stat sa, sb;
    char xa[1024], xb[1024];
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    na++;
    if (asprintf(&pa, "%s/%s", a, de->d_name) < 0 ||
        asprintf(&pb, "%s/%s", b, de->d_name) < 0 || lstat(pa, &sa) < 0 ||
        lstat(pb, &sb) < 0)
      return false;
    if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid ||
        sa.st_gid != sb.st_gid || sa.st_size != sb.st_size ||
        sa.st_rdev != sb.st_rdev || sa.st_nlink != sb.st_nlink ||
        sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
        sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
      return false;
    if (llistxattr(pa, xa, sizeof(xa)) != llistxattr(pb, xb, sizeof(xb)))
      return false;
    if (S_ISDIR(sa.st_mode) && !same_tree(pa, pb))
      return false;
    if (S_ISREG(sa.st_mode)) {
      size_t la, lb;
      cleanup_free char *ca = read_all(pa, &la);
      cleanup_free char *cb = read_all(pb, &lb);
      if (ca == NULL || cb == NULL || la != lb || memcmp(ca, cb, la) != 0)
        return false;
    }
  }
  closedir(d);
  d = opendir(b);
  while (d != NULL && (de = readdir(d)) != NULL)
    nb += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  return na == nb;
}

static void test_compressed(const char *special_tar, const char *plain_dest) {
  char *diff_id = strdup(sha256_of(special_tar));
  char *gz = gzip_copy(special_tar);
  char *zst = path("special.tar.zst");
  char *msg = NULL;
  ok(extract(gz, path("dest-gz"), diff_id, &msg) == 0,
     "gzip: extracts and its diff_id is the uncompressed tar's");
  ok(same_tree(plain_dest, path("dest-gz")), "gzip: same tree as the plain tar");
  free(msg);
  if (run("command -v zstd >/dev/null") != 0) {
    ok(false, "zstd is installed (run make deps)");
  } else {
    if (run("zstd -q -f '%s' -o '%s'", special_tar, zst) != 0)
      exit(1);
    ok(extract(zst, path("dest-zst"), diff_id, &msg) == 0,
       "zstd: extracts and its diff_id is the uncompressed tar's");
    ok(same_tree(plain_dest, path("dest-zst")), "zstd: same tree as the plain tar");
    free(msg);
  }
  free(diff_id);
}

static void test_bad_streams(void) {
  char *good = mktar("good");
  char *gz = gzip_copy(good);
  char *got = NULL, *msg = NULL;
  char *zero = path("zero.tar"), *junk = path("junk");
  size_t len;
  cleanup_free char *data = NULL;
  static const char wrong[] =
      "sha256:0000000000000000000000000000000000000000000000000000000000000000";

  if (asprintf(&got, "diff_id mismatch (got %s)", sha256_of(good)) < 0)
    exit(1);
  ok(extract(gz, path("dest-wrong"), wrong, &msg) < 0 && contains(msg, got),
     "wrong diff_id: refused, naming the actual one");
  free(msg);
  free(got);

  data = read_all(gz, &len);
  if (data == NULL ||
      ctr_atomic_write(AT_FDCWD, path("trunc.gz"), data, len / 2, 0644, false, NULL) < 0)
    exit(1);
  ok(extract(path("trunc.gz"), path("dest-trunc"), NULL, &msg) < 0 && msg != NULL,
     "truncated gzip: refused");
  free(msg);

  if (run("head -c 1024 /dev/zero > '%s' && head -c 3000 /dev/urandom > '%s'",
          zero, junk) != 0)
    exit(1);
  ok(extract(gzip_copy(zero), path("dest-empty"), "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
             &msg) == 0,
     "empty layer (gzip of 1024 zero bytes): extracts with the known diff_id");
  free(msg);
  ok(extract(junk, path("dest-junk"), NULL, &msg) < 0 && msg != NULL,
     "random bytes: refused");
  free(msg);
}

/* ---- chain ids ----------------------------------------------------- */

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_chain_ids(void) {
  cleanup_json json_t *cfg = json_pack("{s:{s:s, s:[s,s,s]}}", "rootfs", "type",
                                       "layers", "diff_ids", DA, DB, DC);
  cleanup_json json_t *bad = json_pack("{s:{s:s, s:[s,s]}}", "rootfs", "type",
                                       "layers", "diff_ids", DA, "sha256:zz");
  char(*ids)[CTR_DIGEST_LEN + 1] = NULL;
  size_t n = 0;
  ctr_err err = NULL;
  int r = image_chain_ids(cfg, &ids, &n, &err);
  ok(r == 0 && n == 3 && strcmp(ids[0], DA) == 0, "chain ids: first is the diff_id");
  /* printf '%s %s' DA DB | sha256sum, then the same with that and DC */
  ok(r == 0 && strcmp(ids[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c") == 0 &&
         strcmp(ids[2], "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588") == 0,
     "chain ids: sha256(parent + \" \" + diff_id)");
  free(ids);
  ok(image_chain_ids(bad, &ids, &n, &err) < 0 && err != NULL &&
         contains(err->msg, "diff_ids[1]"),
     "chain ids: a bad diff_id is refused");
  ctr_err_free(&err);
}

/* ---- image_unpack -------------------------------------------------- */

struct unpack_fixture {
  struct ctr_paths paths;
  struct image_store s;
  struct image img;
  char (*chain)[CTR_DIGEST_LEN + 1];
  size_t n;
};

static void put_blob(struct image_store *s, const char *file, json_t *layers,
                     json_t *diff_ids, const char *mt, const char *diff_id) {
  cleanup_free char *did = strdup(diff_id ? diff_id : sha256_of(file));
  size_t len;
  cleanup_free char *data = read_all(file, &len);
  char digest[CTR_DIGEST_LEN + 1];
  ctr_err err = NULL;
  if (data == NULL || image_blob_put(s, data, len, digest, &err) < 0) {
    fprintf(stderr, "# put %s: %s\n", file, err ? err->msg : "read");
    exit(1);
  }
  json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", mt,
                                          "digest", digest, "size", (json_int_t)len));
  json_array_append_new(diff_ids, json_string(did));
}

static bool no_temp_dirs(const char *layers) {
  cleanup_dir DIR *d = opendir(layers);
  struct dirent *de;
  while (d != NULL && (de = readdir(d)) != NULL)
    if (strncmp(de->d_name, ".tmp-", 5) == 0)
      return false;
  return d != NULL;
}

static void *unpack_thread(void *arg) {
  struct unpack_fixture *f = arg;
  char **dirs = NULL;
  size_t n = 0;
  ctr_err err = NULL;
  intptr_t r = image_unpack(&f->s, &f->img, &dirs, &n, &err);
  if (r < 0)
    printf("# unpack: %s\n", err->msg);
  ctr_err_free(&err);
  image_unpack_free(dirs, n);
  return (void *)r;
}

static void test_unpack(const char *special_tar) {
  struct unpack_fixture f = {0};
  json_t *layers = json_array(), *diff_ids = json_array();
  char **dirs = NULL;
  size_t n = 0;
  ctr_err err = NULL;
  char *layers_dir = path("root/layers");
  pthread_t t1, t2;
  void *r1, *r2;

  f.paths.root = path("root");
  f.paths.rundir = path("run");
  if (image_store_open(&f.s, &f.paths, STORE_WRITE, &err) < 0) {
    fprintf(stderr, "# store: %s\n", err->msg);
    exit(1);
  }
  char *good = mktar("good"), *wh = mktar("whiteout");
  put_blob(&f.s, gzip_copy(good), layers, diff_ids, MT_OCI_LAYER_GZIP, sha256_of(good));
  put_blob(&f.s, special_tar, layers, diff_ids, MT_OCI_LAYER, NULL);
  put_blob(&f.s, gzip_copy(wh), layers, diff_ids, MT_DOCKER_LAYER_GZIP, sha256_of(wh));
  f.img.manifest = json_pack("{s:o}", "layers", layers);
  f.img.config = json_pack("{s:{s:s, s:o}}", "rootfs", "type", "layers",
                           "diff_ids", diff_ids);
  snprintf(f.img.digest, sizeof(f.img.digest), "%s", DA);
  if (image_chain_ids(f.img.config, &f.chain, &f.n, &err) < 0)
    exit(1);

  ok(image_unpack(&f.s, &f.img, &dirs, &n, &err) == 0 && n == 3,
     "unpack: three layers");
  if (err)
    printf("# %s\n", err->msg);
  ctr_err_free(&err);
  ok(n == 3 && strcmp(dirs[0], path("root/layers/%s", ctr_digest_hex(f.chain[2]))) == 0 &&
         strcmp(dirs[2], path("root/layers/%s", ctr_digest_hex(f.chain[0]))) == 0,
     "unpack: dirs are absolute, topmost layer first");
  ok(n == 3 && file_is(path("root/layers/%s/hello.txt", ctr_digest_hex(f.chain[0])),
                       "hello, layer\n") &&
         exists(path("root/layers/%s/gone", ctr_digest_hex(f.chain[2]))),
     "unpack: layer contents in place");
  ok(no_temp_dirs(layers_dir), "unpack: no temp dirs left");
  image_unpack_free(dirs, n);

  ok(image_unpack(&f.s, &f.img, &dirs, &n, &err) == 0 && n == 3,
     "unpack: again, with every layer present");
  image_unpack_free(dirs, n);
  ctr_err_free(&err);

  /* two unpacks racing for the same missing layers both succeed */
  for (size_t i = 0; i < f.n; i++)
    ctr_rm_rf(f.s.layers_fd, ctr_digest_hex(f.chain[i]), NULL);
  pthread_create(&t1, NULL, unpack_thread, &f);
  pthread_create(&t2, NULL, unpack_thread, &f);
  pthread_join(t1, &r1);
  pthread_join(t2, &r2);
  ok(r1 == NULL && r2 == NULL && no_temp_dirs(layers_dir) &&
         exists(path("root/layers/%s/sparse", ctr_digest_hex(f.chain[1]))),
     "unpack: concurrent unpacks of the same image both succeed");

  /* a layer that does not match its diff_id fails and leaves nothing */
  json_array_set_new(diff_ids, 2, json_string(DC));
  free(f.chain);
  if (image_chain_ids(f.img.config, &f.chain, &f.n, &err) < 0)
    exit(1);
  ok(image_unpack(&f.s, &f.img, &dirs, &n, &err) < 0 && err != NULL &&
         contains(err->msg, json_string_value(json_object_get(
                                 json_array_get(layers, 2), "digest"))) &&
         contains(err->msg, "diff_id mismatch"),
     "unpack: a wrong diff_id fails, naming the layer");
  if (err)
    printf("# %s\n", err->msg);
  ctr_err_free(&err);
  ok(no_temp_dirs(layers_dir) &&
         !exists(path("root/layers/%s", ctr_digest_hex(f.chain[2]))),
     "unpack: failure leaves no temp dir and no layer dir");

  json_object_set_new(json_array_get(layers, 0), "mediaType",
                      json_string("application/x-unknown"));
  ok(image_unpack(&f.s, &f.img, &dirs, &n, &err) < 0 && err != NULL &&
         contains(err->msg, "media type"),
     "unpack: an unknown layer media type is refused");
  ctr_err_free(&err);

  free(f.chain);
  json_decref(f.img.manifest);
  json_decref(f.img.config);
  image_store_close(&f.s);
}

/* Setup failures exit(1) from anywhere: the temp dir goes with them. */
static void remove_base(void) {
  if (base[strlen(base) - 1] != 'X')
    ctr_rm_rf(AT_FDCWD, base, NULL);
}

int main(int argc, char **argv) {
  char *special_tar, *special_dest;
  char *msg = NULL;
  ctr_err err = NULL;

  tests_dir = argc > 1 ? argv[1] : getenv("CTR_TESTS_DIR");
  if (tests_dir == NULL)
    tests_dir = "tests";
  if (mkdtemp(base) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  atexit(remove_base);

  test_hostile();
  test_absolute();
  special_tar = mktar("special");
  special_dest = path("dest-special");
  ok(extract(special_tar, special_dest, sha256_of(special_tar), &msg) == 0,
     "special: extracts with its diff_id");
  free(msg);
  test_special("dest-special");
  test_whiteout();
  test_overwrite();
  test_compressed(special_tar, special_dest);
  test_bad_streams();
  test_chain_ids();
  test_unpack(special_tar);

  ok(ctr_rm_rf(AT_FDCWD, base, &err) == 0, "cleanup removes the test's temp dir%s%s",
     err ? ": " : "", err ? err->msg : "");
  ctr_err_free(&err);
  free_paths();
  return tap_done();
}
