#define _GNU_SOURCE
/* The base image every fresh machine can have with no registry: built from
 * the host's busybox-static Debian package. Everything in it is a function
 * of that package (contents and mtime), so the same package version gives
 * the same image digest on every machine. */
#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/cli.h"
#include "core/fs.h"
#include "import.h"
#include "layer_writer.h"
#include "ref.h"

extern char **environ;

#define BUSYBOX "/bin/busybox"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char passwd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "bin:x:2:2:bin:/bin:/bin/false\n"
    "sys:x:3:3:sys:/dev:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char group[] =
    "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\n"
    "disk:x:6:\nwheel:x:10:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n";
static const char shadow[] = "root:*:0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n";

/* Run argv and capture its stdout (at most 1 MiB). */
static int run_capture(char *const argv[], char **out, ctr_err *err) {
  posix_spawn_file_actions_t fa;
  int pipefd[2], status = 0, rc;
  pid_t pid;
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return ctr_fail(err, errno, "pipe");
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return ctr_fail(err, rc, "run %s", argv[0]);
  }
  rc = ctr_read_fd(pipefd[0], 1 << 20, out, NULL, err);
  close(pipefd[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (rc < 0)
    return ctr_wrap(err, "run %s", argv[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    free(*out);
    *out = NULL;
    return ctr_fail(err, 0, "%s exited with status %d", argv[0],
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return 0;
}

/* A dynamically linked busybox would not run in an empty image: look for
 * a PT_INTERP program header. p_type is the first 32-bit word of a program
 * header in both ELF classes, so one loop serves both. */
static int check_static(int fd, ctr_err *err) {
  union {
    Elf32_Ehdr e32;
    Elf64_Ehdr e64;
  } eh;
  off_t phoff;
  unsigned phnum, phentsize;
  if (pread(fd, &eh, sizeof(eh), 0) < (ssize_t)sizeof(eh.e32) ||
      memcmp(eh.e32.e_ident, ELFMAG, SELFMAG) != 0)
    return ctr_fail(err, 0, BUSYBOX ": not an ELF executable");
  if (eh.e32.e_ident[EI_CLASS] == ELFCLASS64) {
    phoff = (off_t)eh.e64.e_phoff;
    phnum = eh.e64.e_phnum;
    phentsize = eh.e64.e_phentsize;
  } else {
    phoff = (off_t)eh.e32.e_phoff;
    phnum = eh.e32.e_phnum;
    phentsize = eh.e32.e_phentsize;
  }
  for (unsigned i = 0; i < phnum; i++) {
    uint32_t type;
    if (pread(fd, &type, sizeof(type), phoff + (off_t)i * phentsize) !=
        (ssize_t)sizeof(type))
      return ctr_fail(err, 0, BUSYBOX ": truncated ELF header");
    if (type == PT_INTERP)
      return ctr_fail(err, 0, BUSYBOX " is dynamically linked; install the "
                                      "busybox-static package");
  }
  return 0;
}

struct tar_out {
  struct archive *a; /* owned by lw */
  struct layer_writer *lw;
  time_t mtime;
};

static int tar_fail(struct tar_out *t, const char *what, ctr_err *err) {
  return layer_writer_fail(t->lw, t->a, what, err);
}

static int add_entry(struct tar_out *t, const char *path, mode_t type,
                     mode_t perm, const char *link, const void *data,
                     size_t len, ctr_err *err) {
  struct archive_entry *e = archive_entry_new();
  int r;
  if (e == NULL)
    return ctr_fail(err, ENOMEM, "%s", path);
  archive_entry_set_pathname(e, path);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, perm);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_uname(e, "root");
  archive_entry_set_gname(e, "root");
  archive_entry_set_mtime(e, t->mtime, 0);
  if (link != NULL)
    archive_entry_set_symlink(e, link);
  archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
  r = archive_write_header(t->a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return tar_fail(t, path, err);
  if (type == AE_IFREG && len > 0 &&
      archive_write_data(t->a, data, len) != (la_ssize_t)len)
    return tar_fail(t, path, err);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The applets as "dir/name" paths, sorted so the tar is deterministic. */
static int applet_paths(char *list, char ***out, size_t *n, ctr_err *err) {
  char **v = NULL;
  size_t cnt = 0;
  for (char *save = NULL, *l = strtok_r(list, "\n", &save); l;
       l = strtok_r(NULL, "\n", &save)) {
    char **nv;
    while (*l == '/')
      l++;
    if (*l == '\0' || strcmp(l, "bin/busybox") == 0 || strstr(l, "..") != NULL)
      continue;
    nv = realloc(v, (cnt + 1) * sizeof(*v));
    if (nv == NULL) {
      free(v);
      return ctr_fail(err, ENOMEM, "applets");
    }
    v = nv;
    v[cnt++] = l;
  }
  if (cnt == 0) {
    free(v);
    return ctr_fail(err, 0, BUSYBOX " --list-full printed no applets");
  }
  qsort(v, cnt, sizeof(*v), cmp_str);
  *out = v;
  *n = cnt;
  return 0;
}

static int write_busybox_tar(struct tar_out *t, const char *bb, size_t bblen,
                             char **applets, size_t napplets, ctr_err *err) {
  static const struct {
    const char *path;
    mode_t perm;
  } dirs[] = {
      {"bin", 0755},  {"dev", 0755},      {"etc", 0755},     {"home", 0755},
      {"proc", 0555}, {"root", 0700},     {"sbin", 0755},    {"sys", 0555},
      {"tmp", 01777}, {"usr", 0755},      {"usr/bin", 0755}, {"usr/sbin", 0755},
      {"var", 0755},  {"var/tmp", 01777}, {"var/www", 0755},
  };
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
    if (add_entry(t, dirs[i].path, AE_IFDIR, dirs[i].perm, NULL, NULL, 0, err) < 0)
      return -1;
  if (add_entry(t, "bin/busybox", AE_IFREG, 0755, NULL, bb, bblen, err) < 0 ||
      add_entry(t, "etc/group", AE_IFREG, 0644, NULL, group, strlen(group), err) < 0 ||
      add_entry(t, "etc/passwd", AE_IFREG, 0644, NULL, passwd, strlen(passwd), err) < 0 ||
      add_entry(t, "etc/shadow", AE_IFREG, 0640, NULL, shadow, strlen(shadow), err) < 0)
    return -1;
  for (size_t i = 0; i < napplets; i++)
    if (add_entry(t, applets[i], AE_IFLNK, 0777, "/bin/busybox", NULL, 0, err) < 0)
      return -1;
  return 0;
}

static char *package_version(void) {
  char *argv[] = {"/usr/bin/dpkg-query", "-W", "-f", "${Version}",
                  "busybox-static", NULL};
  char *out = NULL;
  ctr_err e = NULL;
  if (run_capture(argv, &out, &e) < 0 || out == NULL || out[0] == '\0') {
    ctr_err_free(&e);
    free(out);
    return NULL;
  }
  return out;
}

static int build_layer(struct import_plan *p, struct tar_out *t,
                       struct image_blob_writer **lw_out, char *diff_id,
                       ctr_err *err) {
  cleanup_free char *bb = NULL;
  cleanup_free char *list = NULL;
  cleanup_free char **applets = NULL;
  cleanup_close int fd = open(BUSYBOX, O_RDONLY | O_CLOEXEC);
  char *argv[] = {BUSYBOX, "--list-full", NULL};
  size_t bblen = 0, napplets = 0;
  struct stat st;

  if (fd < 0)
    return ctr_fail(err, errno, BUSYBOX " (install the busybox-static package)");
  if (fstat(fd, &st) < 0)
    return ctr_fail(err, errno, BUSYBOX);
  if (check_static(fd, err) < 0)
    return -1;
  if (ctr_read_fd(fd, 64 << 20, &bb, &bblen, err) < 0)
    return ctr_wrap(err, BUSYBOX);
  /* the program is the source here: its digest names the import's origin */
  ctr_sha256_buf(bb, bblen, p->src.digest);
  if (run_capture(argv, &list, err) < 0 ||
      applet_paths(list, &applets, &napplets, err) < 0)
    return -1;
  if (t->mtime == 0)
    t->mtime = st.st_mtime;
  if (layer_writer_begin(p->src.s, &t->lw, err) < 0)
    return -1;
  t->a = layer_writer_tar(t->lw, err);
  if (t->a == NULL)
    return -1;
  if (write_busybox_tar(t, bb, bblen, applets, napplets, err) < 0)
    return -1;
  if (layer_writer_finish(t->lw, lw_out, diff_id, err) < 0) {
    t->lw = NULL;
    return -1;
  }
  t->lw = NULL;
  return 0;
}

int image_from_host(struct import_plan *p, const char *package,
                    const char *name, ctr_err *err) {
  struct tar_out t = {0};
  struct image_blob_writer *lw = NULL;
  char diff_id[CTR_DIGEST_LEN + 1], created[64];
  cleanup_free char *version = NULL;
  cleanup_free char *by = NULL;
  cleanup_json json_t *config = NULL;
  json_t *cfg, *names;
  const char *sde = getenv("SOURCE_DATE_EPOCH");
  int ret;

  if (strcmp(package, "busybox") != 0)
    return ctr_usage(err, "unknown host image '%s' (known: busybox)", package);
  if (sde != NULL && *sde != '\0')
    t.mtime = (time_t)strtoll(sde, NULL, 10);
  ret = build_layer(p, &t, &lw, diff_id, err);
  layer_writer_abort(t.lw);
  if (ret < 0)
    return -1;
  version = package_version();
  if (asprintf(&by, "ctr-image import --from-host busybox (busybox-static %s)",
               version ? version : "unknown") < 0)
    by = NULL;
  ctr_format_rfc3339(t.mtime, 0, created, sizeof(created));
  cfg = json_pack("{s:[s], s:[s]}", "Env", DEFAULT_PATH, "Cmd", "sh");
  if (cfg != NULL && version != NULL) {
    json_t *labels = json_object();
    json_object_set_new(labels, "org.opencontainers.image.title", json_string("busybox"));
    json_object_set_new(labels, "org.opencontainers.image.version", json_string(version));
    json_object_set_new(labels, "org.opencontainers.image.source",
                        json_string("debian package busybox-static"));
    json_object_set_new(cfg, "Labels", labels);
  }
  config = import_new_config(diff_id, created, by ? by : "ctr-image import --from-host busybox", cfg);
  json_decref(cfg);
  names = json_array();
  if (config == NULL || names == NULL) {
    image_blob_abort(lw);
    json_decref(names);
    return ctr_fail(err, ENOMEM, "config");
  }
  {
    const char *n = name ? name : "busybox:latest";
    struct image_ref r;
    char *sn;
    if (image_ref_parse(n, &r, err) < 0) {
      image_blob_abort(lw);
      json_decref(names);
      return -1;
    }
    sn = image_ref_name(&r);
    image_ref_free(&r);
    if (sn == NULL) {
      image_blob_abort(lw);
      json_decref(names);
      return ctr_usage(err, "%s: a name needs a tag", n);
    }
    json_array_append_new(names, json_string(sn));
    free(sn);
  }
  return image_from_host_layer(p, lw, diff_id, config, names, err);
}
