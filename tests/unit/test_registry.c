/* Unit tests for the pure logic of pulling: WWW-Authenticate challenges,
 * token answers, the resume cursor and Content-Range, registry error
 * messages, auth files, platform choice, and the references a pull
 * normalises. Prints TAP. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/fs.h"
#include "image/auth.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "image/ref.h"
#include "image/registry.h"
#include "tap.h"

static bool same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void test_challenges(void) {
  static const struct {
    const char *in, *scheme, *realm, *service, *scope;
  } good[] = {
      {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
       "scope=\"repository:library/alpine:pull\"",
       "bearer", "https://auth.docker.io/token", "registry.docker.io",
       "repository:library/alpine:pull"},
      {"Basic realm=\"Registry Realm\"", "basic", "Registry Realm", NULL, NULL},
      {"basic REALM=x", "basic", "x", NULL, NULL},
      /* Bearer wins, wherever it is in the list */
      {"Basic realm=\"b\", Bearer realm=\"http://127.0.0.1:1/token\", service=s",
       "bearer", "http://127.0.0.1:1/token", "s", NULL},
      {"Bearer realm=\"r\",scope=\"repository:a:pull repository:b:pull\"", "bearer", "r",
       NULL, "repository:a:pull repository:b:pull"},
      {"Bearer  realm = \"a\\\"b\" , service=\"svc\"", "bearer", "a\"b", "svc", NULL},
      {"Negotiate, Basic realm=\"x\"", "basic", "x", NULL, NULL},
      {"Basic dXNlcjpwYXNz==, Bearer realm=\"t\"", "bearer", "t", NULL, NULL},
  };
  static const char *bad[] = {
      "", "   ", "Negotiate", "Bearer service=\"no realm\"", "Digest realm=\"x\"",
      "Bearer realm=\"unterminated", "=,=,=", "Bearer realm=",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct registry_challenge c;
    int rc = registry_challenge_parse(good[i].in, &c);
    ok(rc == 0 && strcmp(c.scheme, good[i].scheme) == 0 && same(c.realm, good[i].realm) &&
           same(c.service, good[i].service) && same(c.scope, good[i].scope),
       "challenge %s -> %s realm=%s; got %s realm=%s service=%s scope=%s", good[i].in,
       good[i].scheme, good[i].realm, rc == 0 ? c.scheme : "-",
       rc == 0 && c.realm ? c.realm : "-", rc == 0 && c.service ? c.service : "-",
       rc == 0 && c.scope ? c.scope : "-");
    if (rc == 0)
      registry_challenge_free(&c);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct registry_challenge c;
    int rc = registry_challenge_parse(bad[i], &c);
    ok(rc < 0, "challenge '%s' gives nothing usable", bad[i]);
    if (rc == 0)
      registry_challenge_free(&c);
  }
}

static void test_tokens(void) {
  static const struct {
    const char *in, *token;
    long expires;
  } good[] = {
      {"{\"token\":\"abc\",\"expires_in\":300}", "abc", 300},
      {"{\"access_token\":\"xyz\"}", "xyz", 60},
      {"{\"token\":\"\",\"access_token\":\"a2\",\"expires_in\":5}", "a2", 60},
      {"{\"token\":\"t\",\"expires_in\":\"300\"}", "t", 60},
  };
  static const char *bad[] = {
      "", "[]", "{}", "{\"token\":1}", "{\"token\":\"a b\"}", "{\"token\":\"x\\ny\"}",
      "{\"token\":\"x\"", "not json",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    char *tok = NULL;
    long exp = 0;
    ctr_err err = NULL;
    int rc = registry_token_parse(good[i].in, strlen(good[i].in), &tok, &exp, &err);
    ok(rc == 0 && same(tok, good[i].token) && exp == good[i].expires,
       "token answer %s -> %s, %ld s; got %s, %ld", good[i].in, good[i].token,
       good[i].expires, tok ? tok : "-", exp);
    free(tok);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *tok = NULL;
    long exp = 0;
    ctr_err err = NULL;
    int rc = registry_token_parse(bad[i], strlen(bad[i]), &tok, &exp, &err);
    ok(rc < 0 && tok == NULL && err && err->msg, "token answer '%s' refused: %s", bad[i],
       err && err->msg ? err->msg : "-");
    free(tok);
    ctr_err_free(&err);
  }
}

static void test_token_urls(void) {
  static const struct {
    const char *realm, *service, *scope, *want;
  } cases[] = {
      {"https://auth.docker.io/token", "registry.docker.io", "repository:library/alpine:pull",
       "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull"},
      {"http://t/token?x=1", "a b", NULL, "http://t/token?x=1&service=a%20b"},
      {"http://t/token", NULL, "repository:a:pull,push  repository:b:pull",
       "http://t/token?scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%3Apull"},
      {"http://t/token", "s", "", "http://t/token?service=s"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *u = registry_token_url(cases[i].realm, cases[i].service, cases[i].scope);
    ok(same(u, cases[i].want), "token url %s", u ? u : "-");
    free(u);
  }
}

static void test_content_range(void) {
  off_t s = 0, e = 0, t = 0;
  ok(registry_content_range("bytes 100-199/200", &s, &e, &t) == 0 && s == 100 && e == 199 &&
         t == 200, "Content-Range with a total");
  ok(registry_content_range("bytes 0-0/*", &s, &e, &t) == 0 && s == 0 && e == 0 && t == -1,
     "Content-Range without a total");
  ok(registry_content_range("BYTES 5-9/10\r\n", &s, &e, &t) == 0 && s == 5,
     "Content-Range: case and line end");
  static const char *bad[] = {"", "bytes", "bytes -1-2/3", "bytes 5-4/10", "bytes 1-2/2",
                              "items 1-2/3", "bytes 1-2", "bytes 1-2/3x",
                              "bytes 99999999999999999999-1/2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ok(registry_content_range(bad[i], &s, &e, &t) < 0, "Content-Range '%s' refused", bad[i]);
}

/* Run a cursor through chunks; the sink takes at most `cap` bytes per
 * offer. Returns the bytes handed to the sink, in order, as a string. */
static void cursor_run(struct registry_cursor *c, const char *body, const size_t *chunks,
                       size_t n, size_t cap, char *out) {
  size_t o = 0, pos = 0;
  for (size_t i = 0; i < n;) {
    size_t len = chunks[i];
    size_t skip = registry_cursor_skip(c, len), took = len - skip;
    if (took > cap)
      took = cap;
    memcpy(out + o, body + pos + skip, took);
    o += took;
    if (registry_cursor_advance(c, len, skip, took)) {
      pos += len;
      i++;
    }
  }
  out[o] = '\0';
}

static void test_cursor(void) {
  const char *body = "abcdefghijklmnopqrstuvwxyz";
  size_t whole[] = {10, 10, 6}, ones[] = {26};
  char out[64];
  struct registry_cursor c = {0};
  cursor_run(&c, body, whole, 3, 100, out);
  ok(strcmp(out, body) == 0 && c.next == 26, "cursor: chunks in order");
  memset(&c, 0, sizeof(c));
  cursor_run(&c, body, whole, 3, 3, out);
  ok(strcmp(out, body) == 0, "cursor: a sink taking 3 at a time pauses and gets each byte once");
  memset(&c, 0, sizeof(c));
  cursor_run(&c, body, ones, 1, 0 + 7, out);
  ok(strcmp(out, body) == 0, "cursor: one chunk offered four times");
  /* a server that ignored the Range: the first 12 bytes are had already */
  memset(&c, 0, sizeof(c));
  c.dup = 12;
  cursor_run(&c, body, whole, 3, 100, out);
  ok(strcmp(out, body + 12) == 0, "cursor: duplicate leading bytes dropped (got %s)", out);
  memset(&c, 0, sizeof(c));
  c.dup = 12;
  cursor_run(&c, body, whole, 3, 1, out);
  ok(strcmp(out, body + 12) == 0, "cursor: duplicates and pauses together (got %s)", out);
  memset(&c, 0, sizeof(c));
  c.dup = 30;
  cursor_run(&c, body, whole, 3, 100, out);
  ok(out[0] == '\0', "cursor: a body shorter than what was had gives nothing");
}

static void test_errors(void) {
  static const struct {
    long status;
    const char *body;
    bool creds;
    const char *want;
  } cases[] = {
      {404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}",
       false, "manifest unknown"},
      {404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\"}]}",
       false, "name unknown: repository name not known to registry"},
      {404, "<html>nope</html>", false, "not found"},
      {404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}", false, "blob unknown"},
      {401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
       false, "authentication required"},
      {401, "", true, "unauthorized: bad credentials"},
      {403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}",
       false, "denied: requested access to the resource is denied"},
      {403, "", false, "denied"},
      {429, "slow down", false, "too many requests"},
      {503, "", false, "registry error (HTTP 503)"},
      {500, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"boom\\nline\"}]}", false,
       "registry error (HTTP 500): unknown: boom line"},
      {400, "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":\"manifest invalid\"}]}",
       false, "manifest invalid"},
      {302, "", false, "unexpected answer (HTTP 302)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *m = registry_error_message(cases[i].status, cases[i].body, strlen(cases[i].body),
                                     cases[i].creds);
    ok(same(m, cases[i].want), "HTTP %ld -> '%s'; got '%s'", cases[i].status, cases[i].want,
       m ? m : "-");
    free(m);
  }
}

static void test_auth_parse(void) {
  /* "user:pass" is dXNlcjpwYXNz; "u2:p:w" (a colon in the password) is dTI6cDp3 */
  const char *file =
      "{\"auths\":{"
      "\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"},"
      "\"https://index.docker.io/v1/\":{\"auth\":\"dTI6cDp3\"},"
      "\"quay.io\":{\"username\":\"q\",\"password\":\"qp\"},"
      "\"quay.io/org/app\":{\"auth\":\"dTI6cDp3\"},"
      "\"helper.example\":{}"
      "},\"credsStore\":\"desktop\"}";
  static const struct {
    const char *host, *repo, *user, *pass;
    int rc;
  } cases[] = {
      {"127.0.0.1:5000", "x", "user", "pass", 1},
      {"docker.io", "library/alpine", "u2", "p:w", 1},
      {"quay.io", "other/app", "q", "qp", 1},
      {"quay.io", "org/app", "u2", "p:w", 1},
      {"quay.io", "org/app/sub", "u2", "p:w", 1},
      {"quay.io", "org/application", "q", "qp", 1},
      {"127.0.0.1", "x", NULL, NULL, 0},
      {"127.0.0.1:50000", "x", NULL, NULL, 0},
      {"helper.example", "x", NULL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct auth_creds c;
    ctr_err err = NULL;
    int rc = auth_parse(file, strlen(file), "auth.json", cases[i].host, cases[i].repo, &c, &err);
    ok(rc == cases[i].rc && same(c.user, cases[i].user) && same(c.pass, cases[i].pass),
       "auth for %s/%s -> %s; got rc %d user %s", cases[i].host, cases[i].repo,
       cases[i].user ? cases[i].user : "none", rc, c.user ? c.user : "-");
    auth_creds_free(&c);
    ctr_err_free(&err);
  }
  static const char *bad[] = {
      "", "[]", "{\"auths\":[]}", "{\"auths\":{\"h\":{\"auth\":\"not base64!\"}}}",
      "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
      "{\"auths\":{\"h\":{\"auth\":\"YQBiOmM=\"}}}",     /* a NUL inside */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct auth_creds c;
    ctr_err err = NULL;
    int rc = auth_parse(bad[i], strlen(bad[i]), "auth.json", "h", NULL, &c, &err);
    ok(rc < 0 && err && strstr(err->msg, "auth.json") != NULL, "auth file '%s' refused: %s",
       bad[i], err && err->msg ? err->msg : "-");
    auth_creds_free(&c);
    ctr_err_free(&err);
  }
  {
    struct auth_creds c;
    ctr_err err = NULL;
    ok(auth_parse("{}", 2, "a", "h", NULL, &c, &err) == 0, "a file without auths has none");
  }
}

static void test_auth_keys(void) {
  static const char *cases[][2] = {
      {"https://index.docker.io/v1/", "docker.io"},
      {"index.docker.io", "docker.io"},
      {"registry-1.docker.io", "docker.io"},
      {"docker.io", "docker.io"},
      {"http://127.0.0.1:5000/v2/", "127.0.0.1:5000"},
      {"https://quay.io", "quay.io"},
      {"quay.io/org/app/", "quay.io/org/app"},
      {"index.docker.io/user/app", "docker.io/user/app"},
      {"localhost:5000", "localhost:5000"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *k = auth_normalize_key(cases[i][0]);
    ok(same(k, cases[i][1]), "auth key %s -> %s; got %s", cases[i][0], cases[i][1], k ? k : "-");
    free(k);
  }
}

static void test_auth_files(void) {
  char dir[] = "/tmp/ctr-test-registry.XXXXXX";
  cleanup_free char *file = NULL;
  struct auth_creds c;
  struct stat st;
  ctr_err err = NULL;
  int rc;
  if (mkdtemp(dir) == NULL || asprintf(&file, "%s/sub/auth.json", dir) < 0) {
    ok(0, "temp dir");
    return;
  }
  rc = auth_store(file, "127.0.0.1:5000", "user", "pa:ss", &err);
  ok(rc == 0 && stat(file, &st) == 0 && (st.st_mode & 0777) == 0600,
     "auth_store writes the file 0600 (mode %o)", rc == 0 ? st.st_mode & 0777 : 0);
  rc = auth_store(file, "quay.io", "q", "p", &err);
  rc = rc == 0 ? auth_lookup(file, "127.0.0.1:5000", "x", &c, &err) : -1;
  ok(rc == 1 && same(c.user, "user") && same(c.pass, "pa:ss") && same(c.file, file),
     "auth_lookup reads back what auth_store wrote");
  auth_creds_free(&c);
  ok(auth_remove(file, "127.0.0.1:5000", &err) == 1 &&
         auth_lookup(file, "127.0.0.1:5000", NULL, &c, &err) == 0 &&
         auth_lookup(file, "quay.io", NULL, &c, &err) == 1,
     "auth_remove drops one entry and keeps the others");
  auth_creds_free(&c);
  ok(auth_remove(file, "127.0.0.1:5000", &err) == 0, "removing it again removes nothing");
  ok(auth_remove(file, NULL, &err) == 1 && auth_lookup(file, "quay.io", NULL, &c, &err) == 0,
     "auth_remove of everything");
  auth_creds_free(&c);
  ctr_err_free(&err);
  ctr_rm_rf(AT_FDCWD, dir, &err);
  ctr_err_free(&err);
}

static void test_refs(void) {
  static const struct {
    const char *in, *host, *path, *name;
  } cases[] = {
      {"alpine", "docker.io", "library/alpine", "alpine:latest"},
      {"docker.io/library/alpine:latest", "docker.io", "library/alpine", "alpine:latest"},
      {"index.docker.io/library/alpine:3", "docker.io", "library/alpine", "alpine:3"},
      {"index.docker.io/user/app", "docker.io", "user/app", "user/app:latest"},
      {"docker.io/user/app:v2", "docker.io", "user/app", "user/app:v2"},
      {"127.0.0.1:5000/x:1", "127.0.0.1:5000", "x", "127.0.0.1:5000/x:1"},
      {"localhost/a/b", "localhost", "a/b", "localhost/a/b:latest"},
      {"quay.io/org/img@sha256:0000000000000000000000000000000000000000000000000000000000000000",
       "quay.io", "org/img", NULL},
      {"[::1]:5000/x:t", "[::1]:5000", "x", "[::1]:5000/x:t"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct image_ref r;
    ctr_err err = NULL;
    char *host = NULL, *path = NULL, *name = NULL;
    int rc = image_ref_parse(cases[i].in, &r, &err);
    if (rc == 0) {
      rc = image_ref_registry(&r, &host, &path, &err);
      name = image_ref_name(&r);
      image_ref_free(&r);
    }
    ok(rc == 0 && same(host, cases[i].host) && same(path, cases[i].path) &&
           same(name, cases[i].name),
       "pull %s from %s, repository %s, stored as %s; got %s %s %s", cases[i].in,
       cases[i].host, cases[i].path, cases[i].name ? cases[i].name : "(no name)",
       host ? host : "-", path ? path : "-", name ? name : "-");
    free(host);
    free(path);
    free(name);
    ctr_err_free(&err);
  }
}

static void test_platforms(void) {
  static const struct {
    const char *in, *os, *arch, *variant;
  } good[] = {
      {"linux/arm64", "linux", "arm64", NULL},
      {"linux/arm/v7", "linux", "arm", "v7"},
      {"linux/x86_64", "linux", "amd64", NULL},
      {"linux/aarch64", "linux", "arm64", NULL},
      {"linux/armhf", "linux", "arm", "v7"},
      {"windows/amd64", "windows", "amd64", NULL},
  };
  static const char *bad[] = {"", "linux", "/amd64", "linux/", "linux/arm/", "Linux/AMD64",
                              "linux/amd64/v1/x", "linux/a b"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct image_platform p;
    char buf[64];
    ctr_err err = NULL;
    int rc = image_platform_parse(good[i].in, &p, buf, sizeof(buf), &err);
    ok(rc == 0 && same(p.os, good[i].os) && same(p.arch, good[i].arch) &&
           same(p.variant, good[i].variant),
       "platform %s", good[i].in);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct image_platform p;
    char buf[64];
    ctr_err err = NULL;
    int rc = image_platform_parse(bad[i], &p, buf, sizeof(buf), &err);
    ok(rc < 0 && err && err->exit == 2, "platform '%s' is bad usage", bad[i]);
    ctr_err_free(&err);
  }
}

#define D(c) "\"sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c "\""
static void test_select(void) {
  const char *idx =
      "{\"schemaVersion\":2,\"manifests\":["
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":" D("a") ",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":" D("b") ",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":" D("c") ",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":" D("d") ",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":" D("e") ",\"size\":1,"
      "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}";
  static const struct {
    const char *want;
    char digit;
  } cases[] = {{"linux/amd64", 'a'}, {"linux/arm/v7", 'c'}, {"linux/arm", 'b'},
               {"linux/arm64", 'd'}, {"linux/arm64/v8", 'd'}};
  cleanup_json json_t *index = NULL;
  ctr_err err = NULL;
  ok(image_index_parse(idx, strlen(idx), &index, &err) == 0, "the test index parses");
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && index; i++) {
    struct image_platform p;
    char buf[64];
    const json_t *d = NULL;
    int rc = image_platform_parse(cases[i].want, &p, buf, sizeof(buf), &err);
    rc = rc == 0 ? image_platform_select(index, &p, &d, &err) : rc;
    ok(rc == 0 && json_string_value(json_object_get(d, "digest"))[7] == cases[i].digit,
       "select %s", cases[i].want);
    ctr_err_free(&err);
  }
  {
    struct image_platform p = {"linux", "s390x", NULL};
    const json_t *d = NULL;
    int rc = index ? image_platform_select(index, &p, &d, &err) : 0;
    ok(rc < 0 && err &&
           strcmp(err->msg, "no image for linux/s390x (the index has linux/amd64, "
                            "linux/arm/v6, linux/arm/v7, linux/arm64/v8)") == 0,
       "no match names what there is: %s", err ? err->msg : "-");
    ctr_err_free(&err);
  }
}

int main(void) {
  test_challenges();
  test_tokens();
  test_token_urls();
  test_content_range();
  test_cursor();
  test_errors();
  test_auth_parse();
  test_auth_keys();
  test_auth_files();
  test_refs();
  test_platforms();
  test_select();
  return tap_done();
}
