/* Unit tests for lookaside.c: registries.d parsing and merging, which
 * scope's location an image gets, signature URLs, file:// paths, and
 * reading and writing the lookaside layout on disk. Prints TAP. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "image/lookaside.h"
#include "tap.h"

#define D1 "sha256:5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e"
#define H1 "5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e"

static bool same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int parse(struct lookaside_config *c, const char *yaml, char **msg) {
  ctr_err err = NULL;
  int r = lookaside_config_parse(c, "t.yaml", yaml, strlen(yaml), &err);
  if (msg != NULL)
    *msg = err && err->msg ? strdup(err->msg) : NULL;
  ctr_err_free(&err);
  return r;
}

static void test_scopes(void) {
  struct lookaside_config c = {0};
  static const char yaml[] =
      "# a comment\n"
      "default-docker:\n"
      "  lookaside: https://default.example/sigs\n"
      "  lookaside-staging: file:///srv/default-staging\n"
      "docker:\n"
      "  registry.example.com:\n"
      "    sigstore: https://host.example/sigs\n"
      "  registry.example.com/team:\n"
      "    lookaside: https://team.example/sigs\n"
      "    sigstore-staging: file:///srv/team-staging\n"
      "  registry.example.com/team/app:v1:\n"
      "    lookaside: https://tag.example/sigs\n"
      "  registry.example.com/team/empty:\n"
      "    use-sigstore-attachments: true\n"
      "  \"*.example.org\":\n"
      "    lookaside: file:///srv/wild\n"
      "  localhost:5000:\n"
      "    lookaside: file:///srv/local\n"
      "  docker.io/library:\n"
      "    lookaside: file:///srv/library\n";
  static const struct {
    const char *identity, *read, *write;
  } cases[] = {
      {"registry.example.com/team/app:v1", "https://tag.example/sigs", "https://tag.example/sigs"},
      {"registry.example.com/team/app:v2", "https://team.example/sigs", "file:///srv/team-staging"},
      {"registry.example.com/team/app@" D1, "https://team.example/sigs", "file:///srv/team-staging"},
      {"registry.example.com/team/sub/x:1", "https://team.example/sigs", "file:///srv/team-staging"},
      /* a scope without a location passes on to its parent */
      {"registry.example.com/team/empty:1", "https://team.example/sigs", "file:///srv/team-staging"},
      {"registry.example.com/other:1", "https://host.example/sigs", "https://host.example/sigs"},
      {"a.b.example.org/x:1", "file:///srv/wild", "file:///srv/wild"},
      {"example.org/x:1", "https://default.example/sigs", "file:///srv/default-staging"},
      {"localhost:5000/x:1", "file:///srv/local", "file:///srv/local"},
      /* the port-less host is no parent scope of host:port */
      {"localhost:5001/x:1", "https://default.example/sigs", "file:///srv/default-staging"},
      {"docker.io/library/busybox:latest", "file:///srv/library", "file:///srv/library"},
      {"docker.io/other/busybox:latest", "https://default.example/sigs", "file:///srv/default-staging"},
  };
  ok(parse(&c, yaml, NULL) == 0, "registries.d parses");
  ok(c.n == 7 && c.def != NULL, "seven scopes and a default");
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *r = lookaside_base(&c, cases[i].identity, false);
    const char *w = lookaside_base(&c, cases[i].identity, true);
    ok(same(r, cases[i].read) && same(w, cases[i].write), "%s: read %s, write %s (got %s, %s)",
       cases[i].identity, cases[i].read, cases[i].write, r ? r : "-", w ? w : "-");
  }
  lookaside_config_free(&c);
  ok(parse(&c, "docker:\n  a.example/x:\n    lookaside: file:///x\n", NULL) == 0 &&
         lookaside_base(&c, "b.example/x:1", false) == NULL,
     "no default, no match: no location");
  lookaside_config_free(&c);
}

static void test_merge_and_errors(void) {
  struct lookaside_config c = {0};
  char *msg = NULL;
  static const struct {
    const char *yaml, *msg;
  } bad[] = {
      {"docker: [1, 2", "t.yaml: line 2: "},
      {"just text\n", "t.yaml: line 1: the file must hold a mapping"},
      {"docker: [a]\n", "t.yaml: line 1: docker must be a mapping of scopes"},
      {"docker:\n  h: [x]\n", "t.yaml: line 2: a configuration section must be a mapping"},
      {"docker:\n  h:\n    lookaside: {a: b}\n", "t.yaml: line 3: a location must be a string"},
      {"docker:\n  h: {}\n  h: {}\n", "t.yaml: line 3: duplicate key"},
      {"default-docker: {}\ndefault-docker: {}\n", "t.yaml: line 2: duplicate key"},
      {"docker:\n  ? [a]\n  : {}\n", "t.yaml: line 2: a key must be a string"},
      {"docker:\n  h:\n    lookaside: \"a\\0b\"\n", "t.yaml: line 3: a location must be a string"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ok(parse(&c, bad[i].yaml, &msg) < 0 && msg && strncmp(msg, bad[i].msg, strlen(bad[i].msg)) == 0,
       "refused: %s (%s)", bad[i].msg, msg ? msg : "accepted");
    free(msg);
    msg = NULL;
    lookaside_config_free(&c);
  }
  static const char *const fine[] = {"", "# only a comment\n", "~\n", "docker:\n", "default-docker:\n",
                                     "docker:\n  h:\n", "other: 1\n", "default-docker: {}\n---\nx: [\n"};
  for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
    ok(parse(&c, fine[i], NULL) == 0, "accepted: harmless file %zu", i);
    lookaside_config_free(&c);
  }
  /* two files: the same scope, or default-docker, twice is an error */
  ok(parse(&c, "docker:\n  h:\n    lookaside: file:///a\n", NULL) == 0 &&
         parse(&c, "docker:\n  h:\n    lookaside: file:///b\n", &msg) < 0 && msg &&
         strcmp(msg, "t.yaml: line 2: scope h is defined in t.yaml already") == 0,
     "a scope defined twice across files (%s)", msg ? msg : "accepted");
  free(msg);
  msg = NULL;
  ok(parse(&c, "default-docker:\n  lookaside: file:///a\n", NULL) == 0 &&
         parse(&c, "default-docker:\n  lookaside: file:///b\n", &msg) < 0 && msg &&
         strstr(msg, "default-docker is defined in t.yaml already") != NULL,
     "default-docker defined twice across files");
  free(msg);
  msg = NULL;
  ok(same(lookaside_base(&c, "h/x:1", false), "file:///a"), "the first definition stays");
  lookaside_config_free(&c);
}

static void test_urls(void) {
  ctr_err err = NULL;
  char *u = lookaside_sig_url("https://s.example/sigs", "library/busybox", D1, 3, &err);
  ok(same(u, "https://s.example/sigs/library/busybox@sha256=" H1 "/signature-3"), "signature URL %s",
     u ? u : "-");
  free(u);
  u = lookaside_sig_url("file:///x", "a/b", D1, 0, &err);
  ok(same(u, "file:///x/a/b@sha256=" H1), "directory URL");
  free(u);
  static const char *const bad_paths[] = {"", "/a", "a/../b", "a/./b", "..", "a//b", "a/"};
  for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
    u = lookaside_sig_url("file:///x", bad_paths[i], D1, 1, &err);
    ok(u == NULL && err != NULL, "repository path '%s' refused", bad_paths[i]);
    free(u);
    ctr_err_free(&err);
  }
  u = lookaside_sig_url("file:///x", "a", "sha256:../../etc", 1, &err);
  ok(u == NULL && err != NULL, "a bad digest is refused");
  ctr_err_free(&err);

  static const struct {
    const char *url, *path;
  } paths[] = {{"file:///srv/sigs", "/srv/sigs"},
               {"FILE:///srv/sigs", "/srv/sigs"},
               {"file://localhost/srv/sigs", "/srv/sigs"},
               {"file:///a%20b/c%40d", "/a b/c@d"},
               {"file://host/srv", NULL},
               {"file://relative", NULL},
               {"file:///a%00b", NULL},
               {"file:///a%zz", NULL},
               {"https://x/y", NULL}};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    char *p = lookaside_file_path(paths[i].url, &err);
    ok(same(p, paths[i].path), "%s -> %s (got %s)", paths[i].url, paths[i].path ? paths[i].path : "error",
       p ? p : "error");
    free(p);
    ctr_err_free(&err);
  }
  u = lookaside_identity("busybox", &err);
  ok(same(u, "docker.io/library/busybox:latest"), "identity of busybox: %s", u ? u : "-");
  free(u);
  u = lookaside_identity("127.0.0.1:5000/a/b@" D1, &err);
  ok(same(u, "127.0.0.1:5000/a/b@" D1), "identity of a digest reference");
  free(u);
  ctr_err_free(&err);
}

static void test_disk(void) {
  char tmpl[] = "/tmp/test_lookaside.XXXXXX";
  char *root = mkdtemp(tmpl), *base = NULL, *out = NULL, *d = NULL;
  ctr_err err = NULL;
  size_t n = 99;
  struct lookaside_sig sigs[] = {{"first", 5}, {"second", 6}};
  cleanup_free char *buf = NULL;
  size_t len;
  if (root == NULL || asprintf(&base, "file://%s/stage", root) < 0 ||
      asprintf(&out, "%s/out", root) < 0 || asprintf(&d, "%s/stage/a/b@sha256=" H1, root) < 0) {
    ok(0, "temp dir");
    return;
  }
  mkdir(out, 0700);
  ok(lookaside_fetch(base, "a/b", D1, out, &n, &err) == 0 && n == 0, "nothing there: no signatures");
  ok(lookaside_store(base, "a/b", D1, sigs, 2, &err) == 0, "store two");
  ok(lookaside_fetch(base, "a/b", D1, out, &n, &err) == 0 && n == 2, "fetch two back");
  {
    char p[4096];
    snprintf(p, sizeof(p), "%s/signature-2", out);
    ok(ctr_read_file(AT_FDCWD, p, 100, &buf, &len, &err) == 0 && len == 6 &&
           memcmp(buf, "second", 6) == 0,
       "signature-2 holds the second");
  }
  ok(lookaside_store(base, "a/b", D1, sigs, 1, &err) == 0, "store one over two");
  {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s/signature-2", d);
    ok(stat(p, &st) < 0, "the old signature-2 is gone");
    snprintf(p, sizeof(p), "%s/signature-1", d);
    ok(stat(p, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0644, "signature-1, 0644");
  }
  ok(lookaside_store("https://x/y", "a/b", D1, sigs, 1, &err) < 0 && err &&
         strstr(err->msg, "only be written to file://") != NULL,
     "writing to https is refused");
  ctr_err_free(&err);
  ok(lookaside_fetch("ftp://x/y", "a/b", D1, out, &n, &err) < 0 && err &&
         strstr(err->msg, "unsupported scheme") != NULL,
     "ftp is refused");
  ctr_err_free(&err);
  {
    /* a directory where a signature should be */
    char p[4096];
    snprintf(p, sizeof(p), "%s/signature-2", d);
    mkdir(p, 0700);
    ok(lookaside_fetch(base, "a/b", D1, out, &n, &err) < 0 && err &&
           strstr(err->msg, "not a regular file") != NULL,
       "a directory as signature-2 is an error");
    ctr_err_free(&err);
  }
  ctr_rm_rf(AT_FDCWD, root, &err);
  ctr_err_free(&err);
  free(base);
  free(out);
  free(d);
}

static void test_load_dir(void) {
  char tmpl[] = "/tmp/test_lookaside.XXXXXX";
  char *root = mkdtemp(tmpl);
  struct lookaside_config c;
  ctr_err err = NULL;
  bool must;
  char p[4096];
  int fd;
  if (root == NULL) {
    ok(0, "temp dir");
    return;
  }
  snprintf(p, sizeof(p), "%s/b.yaml", root);
  fd = open(p, O_WRONLY | O_CREAT, 0644);
  ok(fd >= 0 && write(fd, "docker:\n  h:\n    lookaside: file:///b\n", 37) == 37, "b.yaml");
  close(fd);
  snprintf(p, sizeof(p), "%s/a.yml", root);
  fd = open(p, O_WRONLY | O_CREAT, 0644);
  ok(fd >= 0 && write(fd, "garbage: [", 10) == 10, "a.yml (not read: not .yaml)");
  close(fd);
  snprintf(p, sizeof(p), "%s/dir.yaml", root);
  mkdir(p, 0700);
  ok(lookaside_config_load(root, true, &c, &err) == 0 && c.n == 1 &&
         same(lookaside_base(&c, "h/x:1", false), "file:///b"),
     "a directory: only its regular *.yaml files");
  lookaside_config_free(&c);
  snprintf(p, sizeof(p), "%s/missing", root);
  ok(lookaside_config_load(p, false, &c, &err) == 0 && c.n == 0, "a missing default directory is empty");
  ok(lookaside_config_load(p, true, &c, &err) < 0 && err != NULL, "a missing named directory is an error");
  ctr_err_free(&err);
  unsetenv("CTR_REGISTRIES_D");
  ok(same(lookaside_config_dir("/x", &must), "/x") && must, "an option wins");
  setenv("CTR_REGISTRIES_D", "/env", 1);
  ok(same(lookaside_config_dir(NULL, &must), "/env") && must, "then $CTR_REGISTRIES_D");
  unsetenv("CTR_REGISTRIES_D");
  lookaside_config_dir(NULL, &must);
  ok(!must, "the system directories may be missing");
  ctr_rm_rf(AT_FDCWD, root, &err);
  ctr_err_free(&err);
}

int main(void) {
  test_scopes();
  test_merge_and_errors();
  test_urls();
  test_disk();
  test_load_dir();
  return tap_done();
}
