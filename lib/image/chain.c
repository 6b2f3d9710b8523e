#define _GNU_SOURCE
/* Chain ids and which of an image's layers are already unpacked: what a
 * runtime needs from the store without pulling in the unpacker. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/json.h"
#include "unpack.h"

int image_chain_ids(const json_t *config, char (**ids)[CTR_DIGEST_LEN + 1],
                    size_t *n, ctr_err *err) {
  const json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"),
                                           "diff_ids");
  char(*out)[CTR_DIGEST_LEN + 1] = NULL;
  size_t count;
  if (!json_is_array(diff_ids))
    return ctr_fail(err, 0, "config: rootfs.diff_ids must be an array");
  count = json_array_size(diff_ids);
  if (count > 0) {
    out = calloc(count, sizeof(*out));
    if (out == NULL)
      return ctr_fail(err, ENOMEM, "chain ids");
  }
  for (size_t i = 0; i < count; i++) {
    const char *d = json_string_value(json_array_get(diff_ids, i));
    char buf[2 * CTR_DIGEST_LEN + 2];
    if (!ctr_digest_valid(d)) {
      free(out);
      return ctr_fail(err, 0, "config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
    }
    if (i == 0) {
      memcpy(out[0], d, CTR_DIGEST_LEN + 1);
      continue;
    }
    snprintf(buf, sizeof(buf), "%s %s", out[i - 1], d);
    ctr_sha256_buf(buf, strlen(buf), out[i]);
  }
  *ids = out;
  *n = count;
  return 0;
}

/* Chain ids are a pure function of the config's diff_ids, so they are
 * remembered per config digest in $CTR_RUNDIR/images: a runtime's warm
 * start then hashes nothing. */
static char *chain_cache_path(const struct image_store *s, const struct image *img) {
  char *path = NULL;
  if (asprintf(&path, "%s/images/%s.chain", s->paths->rundir,
               ctr_digest_hex(img->config_digest)) < 0)
    return NULL;
  return path;
}

static int cached_chain(const struct image_store *s, const struct image *img,
                        char (**ids)[CTR_DIGEST_LEN + 1], size_t *n) {
  size_t want = json_array_size(json_object_get(json_object_get(img->config, "rootfs"), "diff_ids"));
  char *path = chain_cache_path(s, img), *buf = NULL, *save = NULL;
  char(*out)[CTR_DIGEST_LEN + 1];
  size_t len = 0, k = 0;
  ctr_err e = NULL;
  int rc = ctr_read_file(AT_FDCWD, path ? path : "", 1 << 20, &buf, &len, &e);
  free(path);
  ctr_err_free(&e);
  if (rc < 0 || want == 0) {
    free(buf);
    return 0;
  }
  out = calloc(want, sizeof(*out));
  for (char *l = out ? strtok_r(buf, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
    if (k == want || !ctr_digest_valid(l))
      break;
    snprintf(out[k++], CTR_DIGEST_LEN + 1, "%s", l);
  }
  free(buf);
  if (out == NULL || k != want) {
    free(out);
    return 0;
  }
  *ids = out;
  *n = k;
  return 1;
}

void image_chain_remember(const struct image_store *s, const struct image *img,
                          char (*ids)[CTR_DIGEST_LEN + 1], size_t n) {
  char *path = chain_cache_path(s, img), *text = calloc(n + 1, CTR_DIGEST_LEN + 1);
  char *dir = NULL;
  ctr_err e = NULL;
  size_t used = 0;
  if (path != NULL && text != NULL && asprintf(&dir, "%s/images", s->paths->rundir) >= 0 &&
      ctr_mkdir_p(AT_FDCWD, dir, 0700, &e) == 0) {
    for (size_t i = 0; i < n; i++)
      used += (size_t)sprintf(text + used, "%s\n", ids[i]);
    ctr_atomic_write(AT_FDCWD, path, text, used, 0600, false, &e);
  }
  ctr_err_free(&e);
  free(dir);
  free(path);
  free(text);
}

int image_layers_present(struct image_store *s, const struct image *img,
                         char ***dirs, size_t *ndirs, ctr_err *err) {
  char(*chain)[CTR_DIGEST_LEN + 1] = NULL;
  char **out;
  size_t n = 0;
  if (s->layers_fd < 0)
    return 0;
  if (!(s->trusted && cached_chain(s, img, &chain, &n))) {
    if (image_chain_ids(img->config, &chain, &n, err) < 0)
      return -1;
    image_chain_remember(s, img, chain, n);
  }
  out = calloc(n ? n : 1, sizeof(*out));
  if (out == NULL) {
    free(chain);
    return ctr_fail(err, ENOMEM, "layers");
  }
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    const char *hex = ctr_digest_hex(chain[n - 1 - i]); /* topmost first */
    if (fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
        asprintf(&out[i], "%s/layers/%s", s->paths->root, hex) < 0) {
      out[i] = NULL;
      image_unpack_free(out, n);
      free(chain);
      return 0;
    }
  }
  free(chain);
  *dirs = out;
  *ndirs = n;
  return 1;
}

void image_unpack_free(char **dirs, size_t ndirs) {
  if (dirs == NULL)
    return;
  for (size_t i = 0; i < ndirs; i++)
    free(dirs[i]);
  free(dirs);
}
