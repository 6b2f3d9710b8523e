/* Provenance's pure parts: DSSE's PAE and base64, the envelope parser,
 * attest's parameter rules, statements there and back, origins, scopes and
 * provenance.json's parser. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "tap.h"
#include "verify/attest_int.h"
#include "verify/dsse.h"

#define D_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_pae(void) {
  size_t len;
  char *p = dsse_pae("http://example.com/HelloWorld", "hello world", 11, &len);
  static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
  ok(p && len == strlen(want) && memcmp(p, want, len) == 0,
     "PAE of the DSSE spec's example");
  free(p);
  p = dsse_pae("t", "", 0, &len);
  ok(p && len == strlen("DSSEv1 1 t 0 ") && memcmp(p, "DSSEv1 1 t 0 ", len) == 0,
     "PAE of an empty body");
  free(p);
  /* Bytes after a NUL are part of the body: lengths, not strings. */
  p = dsse_pae("t", "a\0b", 3, &len);
  ok(p && len == 16 && memcmp(p, "DSSEv1 1 t 3 a\0b", 16) == 0, "PAE keeps a NUL in the body");
  free(p);
}

static int decodes(const char *s, const char *want, size_t wlen) {
  char *out = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  int rc = dsse_b64_decode(s, &out, &len, &err);
  int good = rc == 0 && len == wlen && memcmp(out, want, wlen) == 0;
  free(out);
  ctr_err_free(&err);
  return want == NULL ? rc < 0 : good;
}

static void test_b64(void) {
  char *e = dsse_b64_encode("hello", 5);
  ok(e && strcmp(e, "aGVsbG8=") == 0, "base64 encodes with padding");
  free(e);
  ok(decodes("aGVsbG8=", "hello", 5), "padded base64 decodes");
  ok(decodes("aGVsbG8", "hello", 5), "unpadded base64 decodes");
  ok(decodes("", "", 0), "empty base64 decodes to nothing");
  ok(decodes("-_8=", "\xfb\xff", 2), "URL-safe base64 decodes");
  ok(decodes("+/8=", "\xfb\xff", 2), "standard base64 decodes the same");
  ok(decodes("aGVsbG8=\n", NULL, 0), "a newline is refused");
  ok(decodes("aGV sbG8=", NULL, 0), "a space is refused");
  ok(decodes("aGVsbG8==", NULL, 0), "too much padding is refused");
  ok(decodes("a", NULL, 0), "a lone character is refused");
  ok(decodes("aGVs=bG8", NULL, 0), "padding inside is refused");
}

static int parses(const char *json) {
  struct dsse_envelope env;
  ctr_err err = NULL;
  int rc = dsse_parse(json, strlen(json), &env, &err);
  if (rc == 0)
    dsse_free(&env);
  ctr_err_free(&err);
  return rc == 0;
}

static void test_envelope(void) {
  struct dsse_envelope env;
  ctr_err err = NULL;
  json_t *j = dsse_build(DSSE_INTOTO_TYPE, "{}", 2, "ABCD", "sig", 3);
  char *text = ctr_json_compact(j);

  ok(text && dsse_parse(text, strlen(text), &env, &err) == 0 &&
         strcmp(env.payload_type, DSSE_INTOTO_TYPE) == 0 &&
         env.payload_len == 2 && memcmp(env.payload, "{}", 2) == 0 &&
         env.nsigs == 1 && strcmp(env.sigs[0].keyid, "ABCD") == 0 &&
         env.sigs[0].siglen == 3 && memcmp(env.sigs[0].sig, "sig", 3) == 0,
     "an envelope built parses back");
  dsse_free(&env);
  free(text);
  json_decref(j);
  j = dsse_build("t", "x", 1, NULL, NULL, 0);
  text = ctr_json_compact(j);
  ok(text && strstr(text, "\"signatures\":[]") != NULL, "unsigned: no signatures");
  free(text);
  json_decref(j);
  ok(parses("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"sig\":\"eA\"}]}"),
     "keyid is optional");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[],\"x\":1}"),
     "an unknown member is refused");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"eA==\"}"), "signatures is required");
  ok(!parses("{\"payloadType\":1,\"payload\":\"eA==\",\"signatures\":[]}"),
     "payloadType must be a string");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"e!==\",\"signatures\":[]}"),
     "bad base64 in the payload is refused");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"sig\":\"\"}]}"),
     "an empty signature is refused");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"k\"}]}"),
     "a signature without sig is refused");
  ok(!parses("{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"sig\":\"eA\",\"x\":\"\"}]}"),
     "an unknown member of a signature is refused");
  ok(!parses("[]"), "an array is not an envelope");
}

static int params_ok(const char *event, int n, ...) {
  char *p[8];
  va_list ap;
  json_t *out = NULL;
  ctr_err err = NULL;
  int rc;
  va_start(ap, n);
  for (int i = 0; i < n; i++)
    p[i] = va_arg(ap, char *);
  va_end(ap);
  rc = attest_params_parse(event, p, (size_t)n, &out, &err);
  if (rc < 0 && err->exit != 2)
    rc = -2; /* bad input must be bad usage */
  json_decref(out);
  ctr_err_free(&err);
  return rc;
}

static void test_params(void) {
  ok(params_ok("import", 2, "source=/x.tar", "source-digest=" D_A) == 0,
     "import with source and source-digest");
  ok(params_ok("import", 0) == -1, "import without source is bad usage");
  ok(params_ok("pull", 2, "reference=127.0.0.1:5000/a/b:1", "index-digest=" D_B) == 0,
     "pull with reference and index-digest");
  ok(params_ok("pull", 1, "reference=UPPER/case") == -1, "a bad reference is refused");
  ok(params_ok("tag", 2, "name=a:1", "from=busybox:latest") == 0, "tag");
  ok(params_ok("tag", 2, "name=a:1", "colour=red") == -1, "an unknown key is refused");
  ok(params_ok("tag", 2, "name=a:1", "name=b:1") == -1, "a key twice is refused");
  ok(params_ok("tag", 1, "name") == -1, "KEY without =VALUE is refused");
  ok(params_ok("tag", 1, "=a:1") == -1, "an empty key is refused");
  ok(params_ok("tag", 1, "Name=a:1") == -1, "an upper-case key is refused");
  ok(params_ok("tag", 1, "name=") == -1, "an empty value is refused");
  ok(params_ok("export", 2, "destination=/o.tar", "destination-digest=sha256:12") == -1,
     "a short digest is refused");
  ok(params_ok("export", 1, "destination=a\nb") == -1, "a newline in a value is refused");
  ok(params_ok("export", 1, "destination=\xff\xfe") == -1, "a value that is not UTF-8 is refused");
  ok(params_ok("build", 2, "context=.", "builder=x") == 0, "build takes any well-formed keys");
  ok(params_ok("rm", 0) == -1, "an unknown event is refused");
  ok(params_ok("", 0) == -1, "an empty event is refused");
}

static void test_statement(void) {
  struct attest_event ev = {0}, back;
  ctr_err err = NULL;
  char *p[] = {"reference=docker.io/library/busybox:1", "index-digest=" D_B};
  json_t *st, *deps;
  char *text;

  attest_params_parse("pull", p, 2, &ev.params, &err);
  ev.event = "pull";
  ev.subject = D_A;
  ev.name = "busybox:1";
  ev.time = "2026-01-02T03:04:05.000000006Z";
  ev.sequence = 2;
  ev.previous = D_B;
  st = attest_statement_build(&ev, "h1");
  text = ctr_json_compact(st);
  ok(strcmp(ctr_json_str(st, "_type"), INTOTO_STATEMENT_V1) == 0 &&
         strcmp(ctr_json_str(st, "predicateType"), SLSA_PROVENANCE_V1) == 0,
     "statement v1 with a SLSA provenance v1 predicate");
  deps = json_object_get(json_object_get(json_object_get(st, "predicate"),
                                         "buildDefinition"),
                         "resolvedDependencies");
  ok(json_array_size(deps) == 1 &&
         strcmp(ctr_json_str(json_array_get(deps, 0), "uri"),
                "docker://docker.io/library/busybox:1") == 0 &&
         strcmp(ctr_json_str(json_object_get(json_array_get(deps, 0), "digest"), "sha256"),
                D_B + 7) == 0,
     "a pull depends on the index at its reference");
  ok(text && attest_statement_parse(text, strlen(text), &back, &err) == 0 &&
         strcmp(back.event, "pull") == 0 && strcmp(back.subject, D_A) == 0 &&
         strcmp(back.name, "busybox:1") == 0 && back.sequence == 2 &&
         strcmp(back.previous, D_B) == 0 &&
         strcmp(back.time, ev.time) == 0 &&
         json_equal(back.params, ev.params),
     "a statement parses back to its event");
  attest_event_free(&back);
  free(text);
  json_decref(st);
  json_decref(ev.params);

  static const char *bad[] = {
      "{}",
      "{\"_type\":\"https://in-toto.io/Statement/v0.1\"}",
      "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"https://slsa.dev/provenance/v1\","
      "\"subject\":[{\"digest\":{\"sha256\":\"zz\"}}]}",
      "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"https://slsa.dev/provenance/v1\","
      "\"subject\":[{\"digest\":{\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"}}],"
      "\"predicate\":{\"buildDefinition\":{\"buildType\":\"https://ctr.dev/image-event/rm/v1\","
      "\"externalParameters\":{},\"internalParameters\":{\"sequence\":1}}}}",
      "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"https://slsa.dev/provenance/v1\","
      "\"subject\":[{\"digest\":{\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"}}],"
      "\"predicate\":{\"buildDefinition\":{\"buildType\":\"https://ctr.dev/image-event/tag/v1\","
      "\"externalParameters\":{},\"internalParameters\":{\"sequence\":0}}}}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = attest_statement_parse(bad[i], strlen(bad[i]), &back, &err);
    ok(rc < 0, "bad statement %zu is refused", i);
    if (rc == 0)
      attest_event_free(&back);
    ctr_err_free(&err);
  }
}

static struct attest_event event_with(const char *event, const char *key,
                                      const char *value) {
  struct attest_event ev = {0};
  ev.event = (char *)event;
  ev.params = json_pack("{s:s}", key, value);
  return ev;
}

static void test_origins(void) {
  struct attest_event pull = event_with("pull", "reference", "127.0.0.1:5000/team/app:1");
  struct attest_event hub = event_with("pull", "reference", "busybox");
  struct attest_event imp = event_with("import", "source-digest", D_A);
  char *s;

  ok(origin_valid("pull:127.0.0.1:5000") && origin_valid("pull:quay.io/team") &&
         origin_valid("import:" D_A),
     "good origins");
  ok(!origin_valid("pull:") && !origin_valid("pull:Host") && !origin_valid("pull:h//a") &&
         !origin_valid("pull:h/a/") && !origin_valid("import:sha256:12") &&
         !origin_valid("fetch:h") && !origin_valid("pull:h:port"),
     "bad origins");
  ok(origin_matches("pull:127.0.0.1:5000", &pull), "a registry matches its pulls");
  ok(origin_matches("pull:127.0.0.1:5000/team", &pull), "a namespace matches");
  ok(origin_matches("pull:127.0.0.1:5000/team/app", &pull), "the repository matches");
  ok(!origin_matches("pull:127.0.0.1:5000/tea", &pull), "a prefix that is not a component does not");
  ok(!origin_matches("pull:127.0.0.1", &pull), "another port does not");
  ok(!origin_matches("pull:127.0.0.1:5000/team/app/x", &pull), "a deeper path does not");
  ok(origin_matches("pull:docker.io/library", &hub), "busybox is pulled from docker.io/library");
  ok(!origin_matches("pull:127.0.0.1:5000", &imp), "an import is no pull");
  ok(origin_matches("import:" D_A, &imp), "an import matches its archive's digest");
  ok(!origin_matches("import:" D_B, &imp), "and no other");
  s = origin_of_event(&pull);
  ok(s && strcmp(s, "pull:127.0.0.1:5000/team/app") == 0, "a pull's origin reads %s", s);
  free(s);
  json_decref(pull.params);
  json_decref(hub.params);
  json_decref(imp.params);
}

static void test_scopes(void) {
  char **s = origin_scopes_for("registry.example.com:5000/a/b:1");
  static const char *want[] = {"registry.example.com:5000/a/b:1",
                               "registry.example.com:5000/a/b",
                               "registry.example.com:5000/a",
                               "registry.example.com:5000",
                               "*.example.com", "*.com", NULL};
  int same = s != NULL;
  for (size_t i = 0; same && want[i]; i++)
    same = s[i] && strcmp(s[i], want[i]) == 0;
  ok(same && s[6] == NULL, "scopes of a reference, most specific first");
  origin_scopes_free(s);
  s = origin_scopes_for("busybox");
  ok(s && strcmp(s[0], "docker.io/library/busybox:latest") == 0 &&
         strcmp(s[1], "docker.io/library/busybox") == 0 &&
         strcmp(s[3], "docker.io") == 0 && strcmp(s[4], "*.io") == 0 && s[5] == NULL,
     "a familiar name is judged fully qualified");
  origin_scopes_free(s);
  s = origin_scopes_for("busybox@" D_A);
  ok(s && strcmp(s[0], "docker.io/library/busybox@" D_A) == 0, "a digest reference's scope");
  origin_scopes_free(s);
  ok(origin_scope_valid("docker.io") && origin_scope_valid("docker.io/library/busybox:1") &&
         origin_scope_valid("h:5000/a@" D_A) && origin_scope_valid("*.example.com"),
     "good scopes");
  ok(!origin_scope_valid("") && !origin_scope_valid("docker.io:latest") &&
         !origin_scope_valid("h/a@sha256:1") && !origin_scope_valid("*.") &&
         !origin_scope_valid("*.a:5000") && !origin_scope_valid("H/a") &&
         !origin_scope_valid("h/a:") && !origin_scope_valid("h/a:t@" D_A),
     "bad scopes");
}

static int policy_ok(const char *text) {
  json_t *out = NULL;
  ctr_err err = NULL;
  int rc = origin_policy_parse(text, strlen(text), &out, &err);
  json_decref(out);
  ctr_err_free(&err);
  return rc == 0;
}

static void test_policy(void) {
  ok(policy_ok("{}"), "an empty provenance.json requires nothing");
  ok(policy_ok("{\"default\":{\"origins\":[\"pull:quay.io\"]},"
               "\"scopes\":{\"docker.io\":{\"keyPaths\":[\"keys/A.gpg\"]}}}"),
     "default and scopes");
  ok(!policy_ok("{\"default\":{}}"), "a requirement of nothing is refused");
  ok(!policy_ok("{\"default\":{\"origins\":[]}}"), "empty origins alone are refused");
  ok(!policy_ok("{\"default\":{\"origins\":[\"pull:Q\"]}}"), "a bad origin is refused");
  ok(!policy_ok("{\"default\":{\"origins\":[\"pull:q\"],\"x\":[]}}"),
     "an unknown member of a requirement is refused");
  ok(!policy_ok("{\"transports\":{}}"), "an unknown top-level member is refused");
  ok(!policy_ok("{\"scopes\":{\"Bad Scope\":{\"origins\":[\"pull:q\"]}}}"),
     "a bad scope is refused");
  ok(!policy_ok("{\"scopes\":[]}"), "scopes must be an object");
  ok(!policy_ok("{\"default\":{\"keyPaths\":[\"\"]}}"), "an empty key path is refused");
  ok(!policy_ok("{\"default\":{\"keyPaths\":\"k\"}}"), "keyPaths must be an array");
}

int main(void) {
  test_pae();
  test_b64();
  test_envelope();
  test_params();
  test_statement();
  test_origins();
  test_scopes();
  test_policy();
  return tap_done();
}
