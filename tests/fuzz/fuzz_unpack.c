/* libFuzzer target: bytes as a layer blob, extracted into a fresh temp
 * directory that is removed afterwards. Nothing may crash, leak, or land
 * outside the directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "image/unpack.h"

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The destination is dir/in: anything else appearing in dir escaped. */
static void check_nothing_beside(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  if (d == NULL)
    abort();
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
        strcmp(de->d_name, "in") != 0) {
      fprintf(stderr, "fuzz_unpack: %s escaped the layer\n", de->d_name);
      abort();
    }
  closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char dir[] = "/tmp/fuzz_unpack.XXXXXX";
  ctr_err err = NULL;
  int blob, top, dest;

  blob = memfd_create("layer", MFD_CLOEXEC);
  if (blob < 0 || write_all(blob, data, size) < 0 ||
      lseek(blob, 0, SEEK_SET) < 0 || mkdtemp(dir) == NULL)
    abort();
  top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0 || mkdirat(top, "in", 0755) < 0)
    abort();
  dest = openat(top, "in", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dest < 0)
    abort();
  (void)image_layer_extract(blob, dest, NULL, &err);
  ctr_err_free(&err);
  close(dest);
  close(top);
  close(blob);
  check_nothing_beside(dir);
  if (ctr_rm_rf(AT_FDCWD, dir, &err) < 0) {
    fprintf(stderr, "fuzz_unpack: cleanup: %s\n", err->msg);
    abort();
  }
  return 0;
}
