/* Unit tests for the trust policy's logic: strict parsing of
 * containers-policy.json, which scope applies to a reference, the
 * signedIdentity rules, and the verdict cache's keys and expiry (in a
 * temporary directory). No keys, no gpg. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "tap.h"
#include "verify/policy_int.h"

#define KEY "\"keyType\":\"GPGKeys\",\"keyPath\":\"/k.gpg\""
#define SIGNED(ident)                                                          \
  "{\"type\":\"signedBy\"," KEY ",\"signedIdentity\":" ident "}"

static void test_parse_good(void) {
  static const char *good[] = {
      "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}",
      "{\"default\":[{\"type\":\"reject\"}],\"transports\":{}}",
      "{\"default\":[{\"type\":\"reject\"}],\"transports\":null}",
      "{\"default\":[{\"type\":\"signedBy\"," KEY "}]}",
      "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
      "\"keyPaths\":[\"/a\",\"b\"]}]}",
      "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
      "\"keyPaths\":[]}]}",
      "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
      "\"keyData\":\"aGVsbG8=\"}]}",
      "{\"default\":[" SIGNED("{\"type\":\"matchExact\"}") "]}",
      "{\"default\":[" SIGNED("{\"type\":\"matchRepository\"}") "]}",
      "{\"default\":[" SIGNED("{\"type\":\"exactReference\","
                              "\"dockerReference\":\"quay.io/a/b:1\"}") "]}",
      "{\"default\":[" SIGNED("{\"type\":\"exactRepository\","
                              "\"dockerRepository\":\"quay.io/a/b\"}") "]}",
      "{\"default\":[" SIGNED("{\"type\":\"remapIdentity\",\"prefix\":\"docker."
                              "io\",\"signedPrefix\":\"quay.io/m\"}") "]}",
      "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"X509Certificates\","
      "\"keyPath\":\"/x\"}]}",
      "{\"default\":[{\"type\":\"signedBaseLayer\",\"baseLayerIdentity\":{"
      "\"type\":\"matchRepository\"}}]}",
      "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"\":[{"
      "\"type\":\"insecureAcceptAnything\"}],"
      "\"docker.io/library/"
      "busybox\":[{\"type\":\"reject\"}]},\"docker-daemon\":{\"\":[{\"type\":"
      "\"insecureAcceptAnything\"}]}}}",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct policy *p = NULL;
    ctr_err err = NULL;
    int rc = policy_parse(good[i], strlen(good[i]), &p, &err);
    ok(rc == 0 && p != NULL, "parses: %s%s%s", good[i], err ? " -- " : "",
       err ? err->msg : "");
    ctr_err_free(&err);
    policy_free(p);
  }
}

static void test_parse_bad(void) {
  static const struct {
    const char *json, *want;
  } bad[] = {
      {"", "'[' or '{' expected"},
      {"[]", "JSON object expected"},
      {"{}", "Default policy is missing"},
      {"{\"default\":[]}", "must not be empty"},
      {"{\"default\":{}}", "cannot unmarshal object"},
      {"{\"default\":[{\"type\":\"reject\"}],\"x\":1}", "Unknown key \"x\""},
      {"{\"default\":[{\"type\":\"reject\",\"x\":1}]}", "Unknown key \"x\""},
      {"{\"default\":[{\"type\":\"reject\"}]} {}", "end of file expected"},
      {"{\"default\":[{\"type\":\"Reject\"}]}",
       "Unknown policy requirement type \"Reject\""},
      {"{\"default\":[{\"type\":1}]}", "cannot unmarshal number"},
      {"{\"default\":[\"reject\"]}", "JSON object expected"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\"}]}",
       "none of them present"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyPath\":\"\"}]}",
       "exactly one of keyPath, keyPaths and keyData must be specified"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyPaths\":null}]}",
       "exactly one of keyPath, keyPaths and keyData must be specified"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyPath\":\"/a\",\"keyPaths\":[]}]}",
       "more than one present"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyPaths\":[1]}]}",
       "cannot unmarshal number"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyData\":\"abc\"}]}",
       "illegal base64"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\","
       "\"keyData\":\"ab=c\"}]}",
       "illegal base64"},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"pgp\",\"keyPath\":"
       "\"/a\"}]}",
       "Unrecognized keyType value \"pgp\""},
      {"{\"default\":[{\"type\":\"signedBy\",\"keyPath\":\"/a\"}]}",
       "invalid keyType \"\""},
      {"{\"default\":[" SIGNED("null") "]}", "JSON object expected"},
      {"{\"default\":[" SIGNED("{}") "]}",
       "Unknown policy reference match type \"\""},
      {"{\"default\":[" SIGNED("{\"type\":\"matchExact\",\"x\":1}") "]}",
       "Unknown key \"x\""},
      {"{\"default\":[" SIGNED(
           "{\"type\":\"exactReference\",\"dockerReference\":\"a/b\"}") "]}",
       "contains neither a tag nor digest"},
      {"{\"default\":[" SIGNED(
           "{\"type\":\"exactReference\",\"dockerReference\":\"A/b:1\"}") "]}",
       "Invalid format of dockerReference"},
      {"{\"default\":[" SIGNED("{\"type\":\"exactRepository\"}") "]}",
       "Key \"dockerRepository\" missing"},
      {"{\"default\":[" SIGNED(
           "{\"type\":\"remapIdentity\",\"prefix\":\"docker.io/"
           "\",\"signedPrefix\":\"quay.io\"}") "]}",
       "prefix \"docker.io/\" is not valid"},
      {"{\"default\":[" SIGNED(
           "{\"type\":\"remapIdentity\",\"prefix\":\"docker.io\"}") "]}",
       "Key \"signedPrefix\" missing"},
      {"{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"/a\"}]}",
       "not supported"},
      {"{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":[]}}",
       "JSON object expected"},
      {"{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"x\":"
       "[]}}}",
       "must not be empty"},
      {"{\"default\":[{\"type\":\"reject\"}],\"default\":[{\"type\":\"reject\"}"
       "]}",
       "duplicate"},
      {"{\"default\":[{\"type\":\"reject\\u0000\"}]}", "NUL"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct policy *p = NULL;
    ctr_err err = NULL;
    int rc = policy_parse(bad[i].json, strlen(bad[i].json), &p, &err);
    ok(rc < 0 && p == NULL && err != NULL &&
           strstr(err->msg, bad[i].want) != NULL,
       "refuses %s: %s (want \"%s\")", bad[i].json,
       err ? err->msg : "(accepted)", bad[i].want);
    ctr_err_free(&err);
    policy_free(p);
  }
}

static void test_scopes(void) {
  static const char *json =
      "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{"
      "\"docker.io/library/busybox:1\":[{\"type\":\"reject\"}],"
      "\"docker.io/library/busybox\":[{\"type\":\"reject\"}],"
      "\"docker.io/library\":[{\"type\":\"reject\"}],"
      "\"quay.io\":[{\"type\":\"reject\"}],"
      "\"*.example.com\":[{\"type\":\"reject\"}],"
      "\"*.com\":[{\"type\":\"reject\"}],"
      "\"localhost:5000/a\":[{\"type\":\"reject\"}],"
      "\"\":[{\"type\":\"reject\"}]}}}";
  static const struct {
    const char *ref, *scope;
  } cases[] = {
      {"busybox:1", "docker.io/library/busybox:1"},
      {"busybox", "docker.io/library/busybox"},
      {"docker.io/library/busybox:2", "docker.io/library/busybox"},
      {"index.docker.io/busybox", "docker.io/library/busybox"},
      {"alpine", "docker.io/library"},
      {"user/app", "docker"},
      {"quay.io/x/y/z:1", "quay.io"},
      {"r.example.com/a", "*.example.com"},
      {"a.b.example.com:443/a", "*.example.com"},
      {"other.com/a", "*.com"},
      {"localhost:5000/a/b", "localhost:5000/a"},
      {"localhost:5001/a/b", "docker"},
      {"busybox@sha256:"
       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
       "docker.io/library/busybox"},
  };
  struct policy *p = NULL;
  ctr_err err = NULL;

  if (!ok(policy_parse(json, strlen(json), &p, &err) == 0,
          "scopes policy parses"))
    return;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct pr_list *reqs = NULL;
    const char *scope = NULL;
    int rc = policy_requirements_for(p, cases[i].ref, &reqs, &scope, &err);
    ok(rc == 0 && scope != NULL && strcmp(scope, cases[i].scope) == 0,
       "%s is judged under %s (got %s)", cases[i].ref, cases[i].scope,
       scope ? scope
       : err ? err->msg
             : "?");
    ctr_err_free(&err);
  }
  policy_free(p);
  /* No docker "" scope: the default. */
  json = "{\"default\":[{\"type\":\"reject\"}]}";
  policy_parse(json, strlen(json), &p, &err);
  {
    const struct pr_list *reqs = NULL;
    const char *scope = NULL;
    ok(policy_requirements_for(p, "busybox", &reqs, &scope, &err) == 0 &&
           strcmp(scope, "default") == 0 && reqs->n == 1 &&
           reqs->v[0].type == PR_REJECT,
       "no scope matches: the default");
    ok(policy_requirements_for(
           p,
           "busybox:1@sha256:"
           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           &reqs, &scope, &err) < 0,
       "a tag and a digest at once are refused, as containers/image does");
    ctr_err_free(&err);
  }
  policy_free(p);
}

static void test_scope_list(void) {
  struct dref d;
  ctr_err err = NULL;
  char **v;
  const char *want[] = {"registry.example.com:5000/team/app:1",
                        "registry.example.com:5000/team/app",
                        "registry.example.com:5000/team",
                        "registry.example.com:5000",
                        "*.example.com",
                        "*.com",
                        NULL};
  size_t i;
  dref_parse("registry.example.com:5000/team/app:1", &d, &err);
  v = dref_scopes(&d);
  for (i = 0; want[i] != NULL && v[i] != NULL; i++)
    if (strcmp(v[i], want[i]) != 0)
      break;
  ok(want[i] == NULL && v[i] == NULL,
     "the scopes of a reference, most specific first");
  dref_scopes_free(v);
  dref_free(&d);
}

static void test_identity(void) {
  static const char *digest =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  static const struct {
    enum prm_type type;
    const char *arg, *signed_prefix, *intended, *signature;
    bool match;
  } cases[] = {
      {PRM_MATCH_EXACT, NULL, NULL, "busybox:latest",
       "docker.io/library/busybox:latest", true},
      {PRM_MATCH_EXACT, NULL, NULL, "busybox:latest", "busybox", false},
      {PRM_MATCH_EXACT, NULL, NULL, "busybox:latest", "busybox:1", false},
      {PRM_MATCH_EXACT, NULL, NULL, "busybox:latest", "busybox:latest", true},
      {PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox:latest",
       "busybox:latest", true},
      {PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox:latest",
       "busybox:1", false},
      {PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox@DIGEST",
       "busybox:1", true},
      {PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox@DIGEST", "alpine:1",
       false},
      {PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox@DIGEST", "busybox",
       false},
      {PRM_MATCH_REPOSITORY, NULL, NULL, "busybox:latest", "busybox:1", true},
      {PRM_MATCH_REPOSITORY, NULL, NULL, "busybox:latest", "busybox", true},
      {PRM_MATCH_REPOSITORY, NULL, NULL, "busybox:latest",
       "quay.io/busybox:latest", false},
      {PRM_EXACT_REFERENCE, "quay.io/a/b:1", NULL, "busybox:latest",
       "quay.io/a/b:1", true},
      {PRM_EXACT_REFERENCE, "quay.io/a/b:1", NULL, "busybox:latest",
       "quay.io/a/b:2", false},
      {PRM_EXACT_REPOSITORY, "quay.io/a/b", NULL, "busybox:latest",
       "quay.io/a/b:2", true},
      {PRM_EXACT_REPOSITORY, "quay.io/a/b", NULL, "busybox:latest",
       "quay.io/a/c:2", false},
      {PRM_REMAP_IDENTITY, "docker.io/library", "quay.io/mirror",
       "busybox:latest", "quay.io/mirror/busybox:latest", true},
      {PRM_REMAP_IDENTITY, "docker.io/library", "quay.io/mirror",
       "busybox:latest", "docker.io/library/busybox:latest", false},
      {PRM_REMAP_IDENTITY, "docker.io/lib", "quay.io/mirror", "busybox:latest",
       "docker.io/library/busybox:latest", true},
      {PRM_REMAP_IDENTITY, "docker.io", "quay.io", "busybox@DIGEST",
       "quay.io/library/busybox:9", true},
      {PRM_MATCH_EXACT, NULL, NULL, "busybox:latest", "Not A Reference", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct prm m = {cases[i].type, (char *)cases[i].arg,
                    (char *)cases[i].signed_prefix};
    struct dref intended;
    ctr_err err = NULL;
    char *ref = NULL;
    const char *at = strstr(cases[i].intended, "DIGEST");
    if (at != NULL)
      asprintf(&ref, "%.*s%s", (int)(at - cases[i].intended), cases[i].intended,
               digest);
    else
      ref = strdup(cases[i].intended);
    dref_parse(ref, &intended, &err);
    ok(prm_matches(&m, &intended, cases[i].signature) == cases[i].match,
       "%s: %s signed as %s: %s", policy_prm_type_name(cases[i].type), ref,
       cases[i].signature, cases[i].match ? "match" : "no match");
    dref_free(&intended);
    ctr_err_free(&err);
    free(ref);
  }
}

static void test_validators(void) {
  static const char *prefixes_ok[] = {"docker.io",      "docker.io/library",
                                      "localhost:5000", "quay.io/a/b-c",
                                      "busybox",        "[::1]:5000/x"};
  static const char *prefixes_bad[] = {
      "", "docker.io/", "docker.io/Lib", "-a.io", "docker.io/a//b", "a:b/c"};
  static const char *scopes_ok[] = {
      "docker.io",
      "docker.io/library/busybox",
      "docker.io/library/busybox:1",
      "localhost",
      "localhost:5000/a",
      "*.example.com",
      "quay.io/"
      "a@sha256:"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
  static const char *scopes_bad[] = {
      "busybox",  "docker.io/busybox", "library/busybox", "*.",
      "*.a:5000", "docker.io/Busybox", "http://x.io/a"};
  for (size_t i = 0; i < sizeof(prefixes_ok) / sizeof(*prefixes_ok); i++)
    ok(dref_valid_remap_prefix(prefixes_ok[i]), "remap prefix %s is valid",
       prefixes_ok[i]);
  for (size_t i = 0; i < sizeof(prefixes_bad) / sizeof(*prefixes_bad); i++)
    ok(!dref_valid_remap_prefix(prefixes_bad[i]), "remap prefix '%s' is not",
       prefixes_bad[i]);
  for (size_t i = 0; i < sizeof(scopes_ok) / sizeof(*scopes_ok); i++)
    ok(policy_scope_valid(scopes_ok[i], NULL), "scope %s is valid",
       scopes_ok[i]);
  for (size_t i = 0; i < sizeof(scopes_bad) / sizeof(*scopes_bad); i++)
    ok(!policy_scope_valid(scopes_bad[i], NULL), "scope '%s' is not",
       scopes_bad[i]);
  {
    char *canon = NULL;
    policy_scope_valid("docker.io/busybox", &canon);
    ok(canon != NULL && strcmp(canon, "docker.io/library/busybox") == 0,
       "a non-canonical scope gets a hint");
    free(canon);
  }
}

static void test_cache(void) {
  char dir[] = "/tmp/test_policy.XXXXXX";
  const char *pol = "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}";
  struct sig_blob sig = {(char *)"sig-bytes", 9, 1},
                  sig2 = {(char *)"sig-bytez", 9, 1};
  struct verdict_key k1, k2, k3, k4;
  struct verify_report r = {0}, back = {0};
  struct policy *p = NULL;
  ctr_err err = NULL;
  const char *digest =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  char *cmd = NULL;

  if (!ok(mkdtemp(dir) != NULL, "temp dir"))
    return;
  policy_parse(pol, strlen(pol), &p, &err);
  policy_cache_key(dir, p, pol, strlen(pol), NULL, 0, "busybox:latest", digest,
                   &sig, 1, &k1, &err);
  policy_cache_key(dir, p, pol, strlen(pol), NULL, 0, "busybox:latest", digest,
                   &sig, 1, &k2, &err);
  ok(strcmp(k1.hex, k2.hex) == 0 && strlen(k1.hex) == 64,
     "the same inputs give the same key");
  policy_cache_key(dir, p, pol, strlen(pol), NULL, 0, "busybox:latest", digest,
                   &sig2, 1, &k3, &err);
  ok(strcmp(k1.hex, k3.hex) != 0, "another signature gives another key");
  policy_cache_key(dir, p, pol, strlen(pol), "{}", 2, "busybox:latest", digest,
                   &sig, 1, &k4, &err);
  ok(strcmp(k1.hex, k4.hex) != 0, "a provenance.json gives another key");
  policy_cache_key(dir, p, pol, strlen(pol), NULL, 0, "busybox:1", digest, &sig,
                   1, &k4, &err);
  ok(strcmp(k1.hex, k4.hex) != 0, "another reference gives another key");

  verify_report_add(&r, false, "reject", &err, "no");
  policy_cache_store(dir, &k1, &r, 0);
  ok(policy_cache_lookup(dir, &k1, &back) == 0, "a rejection is not stored");
  verify_report_free(&r);
  verify_report_add(&r, true, "signedBy", &err, "signature-1 by X");
  policy_cache_store(dir, &k1, &r, 0);
  ok(policy_cache_lookup(dir, &k1, &back) == 1 && back.n == 1 &&
         strcmp(back.checks[0].detail, "signature-1 by X") == 0,
     "an accepted verdict comes back");
  verify_report_free(&back);
  policy_cache_store(dir, &k2, &r, time(NULL) - 1);
  ok(policy_cache_lookup(dir, &k2, &back) == 0,
     "an expired verdict is not used");
  verify_report_free(&back);
  policy_cache_store(dir, &k3, &r, time(NULL) + 3600);
  ok(policy_cache_lookup(dir, &k3, &back) == 1,
     "a verdict within its key's life is used");
  verify_report_free(&back);
  verify_report_free(&r);
  policy_free(p);
  ctr_err_free(&err);
  if (asprintf(&cmd, "rm -rf %s", dir) >= 0 && system(cmd) != 0)
    ok(0, "cleanup");
  free(cmd);
}

int main(void) {
  test_cache();
  test_parse_good();
  test_parse_bad();
  test_scopes();
  test_scope_list();
  test_identity();
  test_validators();
  return tap_done();
}
