#define _GNU_SOURCE
#include "seccomp_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "seccomp.h"

static int flags_of(const json_t *oci, unsigned int *flags, ctr_err *err) {
  static const struct {
    const char *name;
    unsigned int flag;
  } known[] = {
      {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
      {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
      {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
  };
  size_t i;
  json_t *f;
  *flags = 0;
  json_array_foreach(json_object_get(oci, "flags"), i, f) {
    size_t k;
    for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
      if (json_is_string(f) && strcmp(json_string_value(f), known[k].name) == 0)
        break;
    if (k == sizeof(known) / sizeof(known[0]))
      return ctr_fail(err, 0, "seccomp: unknown flag %s",
                      json_is_string(f) ? json_string_value(f) : "(not a string)");
    *flags |= known[k].flag;
  }
  return 0;
}

/* What a program is made from: the object as written and the compiler's
 * version. The cache file holds this text, then the program, so a hit is
 * an exact match; the file's name is only a hash of it (FNV-1a, no
 * cryptography needed for that, and none on the start path). */
static char *cache_source(const json_t *oci) {
  const struct scmp_version *v = seccomp_version();
  char *s = json_dumps(oci, JSON_COMPACT | JSON_SORT_KEYS), *out = NULL;
  if (s != NULL && asprintf(&out, "libseccomp %u.%u.%u\n%s\n", v->major, v->minor, v->micro,
                            s) < 0)
    out = NULL;
  free(s);
  return out;
}

static unsigned long long fnv1a(const char *s) {
  unsigned long long h = 14695981039346656037ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static int compile(const json_t *oci, char **buf, size_t *len, ctr_err *err) {
  scmp_filter_ctx ctx = NULL;
  int fd, rc;
  off_t size;
  if (run_seccomp_compile(oci, &ctx, err) < 0)
    return -1;
  fd = memfd_create("ctr-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    seccomp_release(ctx);
    return ctr_fail(err, errno, "seccomp: memfd");
  }
  rc = seccomp_export_bpf(ctx, fd);
  seccomp_release(ctx);
  if (rc < 0) {
    close(fd);
    return ctr_fail(err, -rc, "seccomp: export the filter");
  }
  size = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  rc = ctr_read_fd(fd, (size_t)size + 1, buf, len, err);
  close(fd);
  return rc;
}

int run_seccomp_prepare(const char *cache_dir, const json_t *oci,
                        struct run_seccomp_prog *out, ctr_err *err) {
  cleanup_free char *src = cache_source(oci);
  cleanup_free char *path = NULL;
  cleanup_free char *file = NULL;
  char *buf = NULL;
  size_t len = 0, flen = 0, slen = src ? strlen(src) : 0;
  ctr_err e = NULL;

  memset(out, 0, sizeof(*out));
  if (flags_of(oci, &out->flags, err) < 0)
    return -1;
  if (src == NULL)
    return ctr_fail(err, ENOMEM, "seccomp");
  if (cache_dir != NULL && asprintf(&path, "%s/%016llx.bpf", cache_dir, fnv1a(src)) < 0)
    path = NULL;
  if (path != NULL && ctr_read_file(AT_FDCWD, path, 2 << 20, &file, &flen, &e) == 0 &&
      flen > slen && memcmp(file, src, slen) == 0) {
    len = flen - slen;
    buf = malloc(len);
    if (buf != NULL)
      memcpy(buf, file + slen, len);
  }
  ctr_err_free(&e);
  if (buf == NULL) {
    if (compile(oci, &buf, &len, err) < 0)
      return -1;
    if (path != NULL && ctr_mkdir_p(AT_FDCWD, cache_dir, 0700, &e) == 0) {
      char *whole = malloc(slen + len);
      if (whole != NULL) {
        memcpy(whole, src, slen);
        memcpy(whole + slen, buf, len);
        ctr_atomic_write(AT_FDCWD, path, whole, slen + len, 0600, false, &e);
        free(whole);
      }
    }
    ctr_err_free(&e); /* a cache that cannot be written is no cache */
  }
  if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
      len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    free(buf);
    return ctr_fail(err, 0, "seccomp: bad filter program (%zu bytes)", len);
  }
  out->fprog.len = (unsigned short)(len / sizeof(struct sock_filter));
  out->fprog.filter = (struct sock_filter *)buf;
  return 0;
}

int run_seccomp_load(const struct run_seccomp_prog *prog, ctr_err *err) {
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &prog->fprog);
  /* before seccomp(2) (and under valgrind, which does not know it) */
  if (rc < 0 && errno == ENOSYS && prog->flags == 0)
    rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog->fprog, 0, 0);
  if (rc < 0) {
    if (errno == EACCES)
      return ctr_fail(err, EACCES, "load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
    return ctr_fail(err, errno, "load seccomp filter");
  }
  return 0;
}

void run_seccomp_prog_free(struct run_seccomp_prog *prog) {
  free(prog->fprog.filter);
  prog->fprog.filter = NULL;
  prog->fprog.len = 0;
}
