/* Unit tests for the simple signing payload (strict parsing as
 * containers/image does it, and the JSON we sign), the lookaside names
 * of the sigstore, and the key-material sniff. Prints TAP. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "tap.h"
#include "verify/gpg.h"
#include "verify/sigpayload.h"
#include "verify/sigstore.h"

#define D1                                                                     \
  "sha256:5c1ae855ef2995ddeaf08fe227819390bfa5e4970ea5d0b95afd693742862b2e"
#define GOOD_CRIT                                                              \
  "\"critical\":{\"type\":\"atomic container signature\","                     \
  "\"image\":{\"docker-manifest-digest\":\"" D1 "\"},"                         \
  "\"identity\":{\"docker-reference\":\"docker.io/library/busybox:latest\"}}"

static bool parses(const char *json, struct sig_payload *p, char **why) {
  ctr_err err = NULL;
  int rc = sig_payload_parse(json, strlen(json), p, &err);
  if (why)
    *why = err ? strdup(err->msg) : NULL;
  ctr_err_free(&err);
  return rc == 0;
}

static void test_parse_good(void) {
  struct sig_payload p;
  /* What skopeo standalone-sign writes (creator "atomic …"). */
  const char *skopeo =
      "{\"critical\":{\"identity\":{\"docker-reference\":\"docker.io/library/"
      "busybox:latest\"},\"image\":{\"docker-manifest-digest\":\"" D1
      "\"},\"type\":\"atomic container signature\"},\"optional\":{\"creator\":"
      "\"atomic 2.0.0\",\"timestamp\":1700000000}}";
  ok(parses(skopeo, &p, NULL), "a skopeo payload parses");
  ok(p.docker_reference &&
         strcmp(p.docker_reference, "docker.io/library/busybox:latest") == 0,
     "docker-reference");
  ok(p.manifest_digest && strcmp(p.manifest_digest, D1) == 0, "digest");
  ok(p.creator && strcmp(p.creator, "atomic 2.0.0") == 0, "creator");
  ok(p.timestamp == 1700000000, "timestamp");
  sig_payload_free(&p);

  ok(parses("{" GOOD_CRIT ",\"optional\":{}}", &p, NULL) && p.creator == NULL &&
         p.timestamp == 0,
     "optional may be empty");
  sig_payload_free(&p);
  ok(parses("{" GOOD_CRIT
            ",\"optional\":{\"x-extra\":[1,{}],\"timestamp\":1.7e9}}",
            &p, NULL) &&
         p.timestamp == 1700000000,
     "optional carries unknown members; an integral float timestamp is fine");
  sig_payload_free(&p);
  ok(parses(" \n{\"optional\":{}, " GOOD_CRIT "}\n", &p, NULL),
     "member order and white space do not matter");
  sig_payload_free(&p);
}

static void test_parse_bad(void) {
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"", "signature payload"},
      {"[]", "JSON object expected"},
      {"{\"critical\":{}}", "missing in a JSON object"},
      {"{" GOOD_CRIT "}", "Key \"optional\" missing"},
      {"{\"optional\":{}}", "Key \"critical\" missing"},
      {"{" GOOD_CRIT ",\"optional\":{},\"extra\":1}", "Unknown key \"extra\""},
      {"{" GOOD_CRIT ",\"optional\":{}," GOOD_CRIT "}", "duplicate"},
      {"{" GOOD_CRIT ",\"optional\":[]}", "optional"},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
       "\"docker-manifest-digest\":\"" D1 "\"}},\"optional\":{}}",
       "Key \"identity\" missing"},
      {"{\"critical\":{\"type\":\"other\",\"image\":{\"docker-manifest-"
       "digest\":"
       "\"" D1
       "\"},\"identity\":{\"docker-reference\":\"a\"}},\"optional\":{}}",
       "Unrecognized signature type other"},
      {"{\"critical\":{\"type\":1,\"image\":{\"docker-manifest-digest\":\"" D1
       "\"},\"identity\":{\"docker-reference\":\"a\"}},\"optional\":{}}",
       "critical.type"},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
       "\"docker-manifest-digest\":\"" D1 "\",\"x\":1},\"identity\":{"
       "\"docker-reference\":\"a\"}},\"optional\":{}}",
       "Unknown key \"x\""},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
       "\"docker-manifest-digest\":5},\"identity\":{\"docker-reference\":\"a\"}"
       "},"
       "\"optional\":{}}",
       "docker-manifest-digest"},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
       "\"docker-manifest-digest\":\"" D1 "\"},\"identity\":{"
       "\"docker-reference\":null}},\"optional\":{}}",
       "docker-reference"},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
       "\"docker-manifest-digest\":\"" D1
       "\"},\"identity\":{}},\"optional\":{}}",
       "Key \"docker-reference\" missing"},
      {"{\"critical\":{\"type\":\"atomic container signature\",\"image\":\"x\","
       "\"identity\":{\"docker-reference\":\"a\"}},\"optional\":{}}",
       "critical.image"},
      {"{" GOOD_CRIT ",\"optional\":{\"timestamp\":1.5}}", "not an integer"},
      {"{" GOOD_CRIT ",\"optional\":{\"timestamp\":\"1\"}}", "not an integer"},
      {"{" GOOD_CRIT ",\"optional\":{\"timestamp\":1e300}}", "not an integer"},
      {"{" GOOD_CRIT ",\"optional\":{\"creator\":7}}", "optional.creator"},
      {"{" GOOD_CRIT ",\"optional\":{}} trailing", "signature payload"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct sig_payload p;
    char *why = NULL;
    bool parsed = parses(bad[i].json, &p, &why);
    ok(!parsed && why && strstr(why, bad[i].why) != NULL,
       "bad payload %zu refused: %s", i, why ? why : "(parsed!)");
    if (parsed)
      sig_payload_free(&p);
    else
      ok(p.docker_reference == NULL && p.manifest_digest == NULL &&
             p.creator == NULL,
         "bad payload %zu leaves nothing allocated", i);
    free(why);
  }
  /* A NUL inside a string must not shorten what the signature vouches for. */
  {
    static const char nul[] =
        "{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
        "\"docker-manifest-digest\":\"" D1 "\"},\"identity\":{"
        "\"docker-reference\":\"docker.io/a/b\\u0000evil\"}},\"optional\":{}}";
    struct sig_payload p;
    char *why = NULL;
    ok(!parses(nul, &p, &why) && why && strstr(why, "NUL"),
       "NUL in a string refused");
    free(why);
  }
}

static void test_build(void) {
  struct sig_payload p;
  char *why = NULL;
  char *j = sig_payload_build("docker.io/library/busybox:latest", D1,
                              "ctr-verify 0.1.0", 1700000000);
  ok(j && strcmp(j, "{\"critical\":{\"identity\":{\"docker-reference\":"
                    "\"docker.io/library/busybox:latest\"},\"image\":{"
                    "\"docker-manifest-digest\":\"" D1 "\"},\"type\":\"atomic "
                    "container signature\"},\"optional\":{\"creator\":"
                    "\"ctr-verify 0.1.0\",\"timestamp\":1700000000}}") == 0,
     "build: sorted, compact, as containers/image marshals it");
  ok(j && parses(j, &p, &why) && p.timestamp == 1700000000 &&
         strcmp(p.creator, "ctr-verify 0.1.0") == 0,
     "what we build we parse back");
  if (why == NULL)
    sig_payload_free(&p);
  free(why);
  free(j);
  j = sig_payload_build("a.io/b:c", D1, NULL, 0);
  ok(j && strstr(j, "\"optional\":{}") != NULL,
     "no creator, no timestamp: an empty optional");
  free(j);
  j = sig_payload_build("quote\"and\\back", D1, NULL, 0);
  ok(j && parses(j, &p, NULL) &&
         strcmp(p.docker_reference, "quote\"and\\back") == 0,
     "strings are escaped");
  if (j)
    sig_payload_free(&p);
  free(j);
}

static void test_sigstore_dir(void) {
  static const struct {
    const char *ref, *want;
  } cases[] = {
      {"busybox", "library/busybox"},
      {"busybox:1.36", "library/busybox"},
      {"docker.io/library/busybox:latest", "library/busybox"},
      {"quay.io/a/b/c:1", "a/b/c"},
      {"127.0.0.1:5000/team/app:v2", "team/app"},
      {"localhost/x@" D1, "x"},
      {"user/repo", "user/repo"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *out = NULL, want[512];
    ctr_err err = NULL;
    snprintf(want, sizeof(want), "%s@sha256=%s", cases[i].want, D1 + 7);
    int rc = sigstore_dir(cases[i].ref, D1, &out, &err);
    ok(rc == 0 && strcmp(out, want) == 0, "sigstore_dir(%s) = %s", cases[i].ref,
       out ? out : err->msg);
    free(out);
    ctr_err_free(&err);
  }
  char *out = NULL;
  ctr_err err = NULL;
  ok(sigstore_dir("busybox", "sha256:abc", &out, &err) < 0,
     "a bad digest is refused");
  ctr_err_free(&err);
  ok(sigstore_dir("Bad Ref", D1, &out, &err) < 0, "a bad reference is refused");
  ctr_err_free(&err);
}

static void test_sigstore_files(void) {
  char base[] = "/tmp/test_sigpayload.XXXXXX";
  struct sig_blob *s = NULL;
  size_t n = 9;
  int idx = 0;
  ctr_err err = NULL;

  if (mkdtemp(base) == NULL) {
    ok(0, "mkdtemp");
    return;
  }
  ok(sigstore_list(base, "busybox", D1, &s, &n, &err) == 0 && n == 0,
     "nothing stored: an empty list");
  ok(sigstore_add(base, "busybox", D1, "one", 3, &idx, &err) == 0 && idx == 1,
     "first signature is signature-1");
  ok(sigstore_add(base, "busybox", D1, "two", 3, &idx, &err) == 0 && idx == 2,
     "second is signature-2");
  ok(sigstore_add(base, "busybox", D1, "one", 3, &idx, &err) == 0 && idx == 1,
     "the same bytes again: signature-1, not a third file");
  ok(sigstore_add(base, "busybox", D1, "", 0, &idx, &err) < 0, "empty refused");
  ctr_err_free(&err);
  ok(sigstore_list(base, "docker.io/library/busybox:other", D1, &s, &n, &err) ==
             0 &&
         n == 2 && s[0].index == 1 && s[0].len == 3 &&
         memcmp(s[0].data, "one", 3) == 0 && s[1].index == 2 &&
         memcmp(s[1].data, "two", 3) == 0,
     "listed in order, for any tag of the repository");
  sig_blobs_free(s, n);
  /* A gap ends the list, as it ends containers/image's reading. */
  char path[512];
  snprintf(path, sizeof(path), "%s/library/busybox@sha256=%s/signature-4", base,
           D1 + 7);
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  if (fd >= 0)
    close(fd);
  ok(sigstore_list(base, "busybox", D1, &s, &n, &err) == 0 && n == 2,
     "signature-4 after a gap is not read");
  sig_blobs_free(s, n);
  snprintf(path, sizeof(path), "%s/library/busybox@sha256=%s", base, D1 + 7);
  ok(sigstore_list_dir(path, &s, &n, &err) == 0 && n == 2,
     "list_dir reads a signature directory itself");
  sig_blobs_free(s, n);
  ok(sigstore_list_dir("/nonexistent/dir", &s, &n, &err) < 0,
     "list_dir of nothing fails");
  ctr_err_free(&err);
  /* A symlink planted as signature-N is not followed. */
  snprintf(path, sizeof(path), "%s/library/busybox@sha256=%s/signature-3", base,
           D1 + 7);
  ok(symlink("/etc/passwd", path) == 0 &&
         sigstore_list(base, "busybox", D1, &s, &n, &err) < 0,
     "a symlinked signature is refused");
  ctr_err_free(&err);
  ctr_rm_rf(AT_FDCWD, base, &err);
  ctr_err_free(&err);
}

static void test_sniff(void) {
  static const unsigned char oldpub[] = {0x99, 0x01, 0x0d, 0x04};
  static const unsigned char newpub[] = {0xc6, 0x33, 0x04};
  static const unsigned char oldsec[] = {0x95, 0x01, 0x0d};
  static const unsigned char sig[] = {0x89, 0x01, 0x33};
  ok(vgpg_looks_like_keys(oldpub, sizeof(oldpub)),
     "old-format public key packet");
  ok(vgpg_looks_like_keys(newpub, sizeof(newpub)),
     "new-format public key packet");
  ok(vgpg_looks_like_keys(oldsec, sizeof(oldsec)), "secret key packet");
  ok(!vgpg_looks_like_keys(sig, sizeof(sig)),
     "a signature packet is not a key");
  ok(!vgpg_looks_like_keys("hello", 5), "text is not a key");
  ok(vgpg_looks_like_keys("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nx", 39),
     "armored key block");
  ok(!vgpg_looks_like_keys("-----BEGIN PGP MESSAGE-----\n", 28),
     "an armored message is not a key");
}

int main(void) {
  test_parse_good();
  test_parse_bad();
  test_build();
  test_sigstore_dir();
  test_sigstore_files();
  test_sniff();
  return tap_done();
}
