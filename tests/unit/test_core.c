/* Unit tests for pure logic: references, digests, times, sizes, errors,
 * atomic files, manifest validation. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "tap.h"

static void test_refs(void) {
  static const struct {
    const char *in, *name, *full;
  } good[] = {
      {"busybox", "busybox:latest", "docker.io/library/busybox"},
      {"busybox:1.36", "busybox:1.36", "docker.io/library/busybox"},
      {"docker.io/library/busybox", "busybox:latest", "docker.io/library/busybox"},
      {"docker.io/user/app:v2", "user/app:v2", "docker.io/user/app"},
      {"localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b"},
      {"localhost/x", "localhost/x:latest", "localhost/x"},
      {"quay.io/org/img", "quay.io/org/img:latest", "quay.io/org/img"},
      {"x/a__b.c-d", "x/a__b.c-d:latest", "docker.io/x/a__b.c-d"},
      {"127.0.0.1:5000/x:_t.1-2", "127.0.0.1:5000/x:_t.1-2", "127.0.0.1:5000/x"},
  };
  static const char *bad[] = {
      "", "UPPER", "a:b:c", "@sha256:abc", "x@sha256:xyz", "a/", "/a", "a//b",
      "a:", "a:-tag", "a..b", "-a", "a_", "busybox@md5:0000",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct image_ref r;
    ctr_err err = NULL;
    char *name = NULL, *full = NULL;
    int rc = image_ref_parse(good[i].in, &r, &err);
    if (rc == 0) {
      name = image_ref_name(&r);
      full = image_ref_full_repo(&r);
    }
    ok(rc == 0 && name && strcmp(name, good[i].name) == 0 && full &&
           strcmp(full, good[i].full) == 0,
       "ref %s -> %s (%s); got %s (%s)", good[i].in, good[i].name, good[i].full,
       name ? name : "-", full ? full : "-");
    free(name);
    free(full);
    if (rc == 0)
      image_ref_free(&r);
    ctr_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct image_ref r;
    ctr_err err = NULL;
    int rc = image_ref_parse(bad[i], &r, &err);
    ok(rc < 0 && err && err->exit == 2 && err->msg, "ref '%s' rejected: %s", bad[i],
       err && err->msg ? err->msg : "(accepted)");
    if (rc == 0)
      image_ref_free(&r);
    ctr_err_free(&err);
  }
  {
    struct image_ref r;
    ctr_err err = NULL;
    const char *d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char in[128];
    snprintf(in, sizeof(in), "busybox@%s", d);
    ok(image_ref_parse(in, &r, &err) == 0 && r.tag == NULL && r.digest &&
           strcmp(r.digest, d) == 0 && image_ref_name(&r) == NULL,
       "repo@digest has a digest and no tag");
    image_ref_free(&r);
    ctr_err_free(&err);
  }
}

static void test_digests(void) {
  char out[CTR_DIGEST_LEN + 1];
  ctr_sha256 *h = ctr_sha256_new();
  ctr_sha256_buf("", 0, out);
  ok(strcmp(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
     "sha256 of empty");
  ctr_sha256_update(h, "ab", 2);
  ctr_sha256_update(h, "c", 1);
  ctr_sha256_final(h, out);
  ok(strcmp(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
     "streaming sha256 of abc");
  ok(ctr_digest_valid(out), "valid digest");
  ok(!ctr_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
     "uppercase hex rejected");
  ok(!ctr_digest_valid("sha256:abc"), "short digest rejected");
  ok(!ctr_digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
     "other algorithm rejected");
  ok(!ctr_digest_valid(NULL), "NULL rejected");
}

static void test_times_sizes(void) {
  time_t t;
  char buf[64];
  ok(ctr_parse_rfc3339("2024-01-02T03:04:05Z", &t) == 0 && t == 1704164645, "rfc3339 Z");
  ok(ctr_parse_rfc3339("2024-01-02T03:04:05.123456789+01:00", &t) == 0 &&
         t == 1704164645 - 3600,
     "rfc3339 fraction and offset");
  ok(ctr_parse_rfc3339("2024-01-02 03:04:05", &t) < 0, "rfc3339 without zone rejected");
  ok(ctr_parse_rfc3339("2024-01-02T03:04:05Zjunk", &t) < 0, "trailing junk rejected");
  ctr_format_rfc3339(1704164645, 0, buf, sizeof(buf));
  ok(strcmp(buf, "2024-01-02T03:04:05Z") == 0, "format rfc3339: %s", buf);
  ctr_format_rfc3339(1704164645, 5, buf, sizeof(buf));
  ok(strcmp(buf, "2024-01-02T03:04:05.000000005Z") == 0, "format rfc3339 nanos: %s", buf);
  {
    /* the calendar arithmetic against libc's, over 1900..2200 */
    bool same = true;
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 200000 && same; i++) {
      struct tm tm;
      char want[64];
      time_t s, back;
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s = (time_t)(x % 9467280000ULL) - 2208988800LL;
      gmtime_r(&s, &tm);
      strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
      ctr_format_rfc3339(s, 0, buf, sizeof(buf));
      same = strcmp(buf, want) == 0 && ctr_parse_rfc3339(buf, &back) == 0 && back == s;
      if (!same)
        printf("# %lld: %s, libc %s\n", (long long)s, buf, want);
    }
    ok(same, "rfc3339 format and parse agree with gmtime over 1900..2200");
  }
  ok(ctr_parse_rfc3339("2023-02-29T00:00:00Z", &t) < 0, "feb 29 of a common year rejected");
  ok(ctr_parse_rfc3339("2024-02-29T00:00:00Z", &t) == 0 && t == 1709164800, "feb 29 of a leap year");
  ok(ctr_parse_rfc3339("2024-13-01T00:00:00Z", &t) < 0, "month 13 rejected");
  ok(ctr_parse_rfc3339("2024-01-01T00:00:00.Z", &t) < 0, "empty fraction rejected");
  ok(ctr_parse_rfc3339("2024-01-01T00:00:00+0100", &t) < 0, "offset without colon rejected");
  ok(ctr_parse_rfc3339("2024-01-01T00:00:00", &t) < 0, "no zone rejected");
  ctr_human_size(999, buf, sizeof(buf));
  ok(strcmp(buf, "999B") == 0, "999B: %s", buf);
  ctr_human_size(1050000, buf, sizeof(buf));
  ok(strcmp(buf, "1.05MB") == 0, "1.05MB: %s", buf);
  ctr_human_ago("2024-01-02T03:04:05Z", 1704164645 + 7200, buf, sizeof(buf));
  ok(strcmp(buf, "2 hours ago") == 0, "2 hours ago: %s", buf);
}

static void test_errors(void) {
  ctr_err err = NULL;
  ok(ctr_fail(&err, ENOENT, "open %s", "x") == -1 && strcmp(err->msg, "open x: No such file or directory") == 0,
     "ctr_fail adds strerror");
  ctr_wrap(&err, "import %s", "a.tar");
  ok(strcmp(err->msg, "import a.tar: open x: No such file or directory") == 0 && err->exit == 1,
     "ctr_wrap prefixes context: %s", err->msg);
  ctr_err_free(&err);
  ok(err == NULL, "free clears");
  ctr_usage(&err, "bad %d", 1);
  ok(err->exit == 2 && strcmp(err->msg, "bad 1") == 0, "usage error exit 2");
  ctr_err_free(&err);
}

static void test_files(void) {
  char dir[] = "/tmp/ctr-unit.XXXXXX";
  cleanup_close int dfd = -1;
  char *buf = NULL;
  size_t len = 0;
  ctr_err err = NULL;
  struct stat st;
  ok(mkdtemp(dir) != NULL, "temp dir");
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  ok(ctr_atomic_write(dfd, "f", "one", 3, 0640, true, &err) == 0, "atomic write");
  ok(ctr_atomic_write(dfd, "f", "two!", 4, 0644, false, &err) == 0, "atomic replace");
  ok(ctr_read_file(dfd, "f", 100, &buf, &len, &err) == 0 && len == 4 && strcmp(buf, "two!") == 0,
     "read back");
  free(buf);
  ok(fstatat(dfd, "f", &st, 0) == 0 && (st.st_mode & 07777) == 0644, "mode applied");
  ok(ctr_read_file(dfd, "f", 2, &buf, &len, &err) < 0 && err != NULL, "max size enforced");
  ctr_err_free(&err);
  ok(ctr_mkdir_p(dfd, "a/b/c", 0755, &err) == 0 && fstatat(dfd, "a/b/c", &st, 0) == 0,
     "mkdir -p");
  ok(ctr_atomic_write(dfd, "a/b/c/g", "x", 1, 0600, true, &err) == 0, "atomic write in subdir");
  ok(symlinkat("/etc", dfd, "a/link") == 0, "symlink");
  ok(ctr_rm_rf(dfd, "a", &err) == 0 && fstatat(dfd, "a", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
         stat("/etc/passwd", &st) == 0,
     "rm -rf removes the tree and does not follow symlinks");
  ok(ctr_rm_rf(dfd, "missing", &err) == 0, "rm -rf of a missing path is fine");
  ctr_rm_rf(AT_FDCWD, dir, &err);
  ctr_err_free(&err);
}

static void test_manifests(void) {
  static const char *good =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
      "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0},"
      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":"
      "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":1}]}";
  static const struct {
    const char *doc, *why;
  } bad[] = {
      {"", "empty"},
      {"[]", "not an object"},
      {"{\"schemaVersion\":1}", "schema 1"},
      {"{\"schemaVersion\":2,\"config\":{}}", "config without digest"},
      {"{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":{},\"layers\":[]}", "media type"},
      {"{\"schemaVersion\":2,\"schemaVersion\":2}", "duplicate keys"},
      {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":-1},\"layers\":[]}", "negative size"},
      {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":1},\"layers\":[{\"mediaType\":\"application/x-rar\",\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":1}]}", "unknown layer media type"},
  };
  json_t *m = NULL, *c = NULL;
  ctr_err err = NULL;
  ok(image_manifest_parse(good, strlen(good), &m, &err) == 0, "valid manifest");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *j = NULL;
    ok(image_manifest_parse(bad[i].doc, strlen(bad[i].doc), &j, &err) < 0 && err != NULL,
       "manifest rejected: %s (%s)", bad[i].why, err ? err->msg : "accepted");
    ctr_err_free(&err);
    json_decref(j);
  }
  {
    const char *cfg2 = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    const char *cfg1 = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]},\"config\":{\"Cmd\":[\"sh\"]}}";
    ok(image_config_parse(cfg2, strlen(cfg2), m, &c, &err) < 0 && strstr(err->msg, "0 diff_ids for 1 layers"),
       "config diff_ids must match layers");
    ctr_err_free(&err);
    ok(image_config_parse(cfg1, strlen(cfg1), m, &c, &err) == 0, "valid config");
  }
  json_decref(m);
  json_decref(c);
}

int main(void) {
  test_refs();
  test_digests();
  test_times_sizes();
  test_errors();
  test_files();
  test_manifests();
  return tap_done();
}
