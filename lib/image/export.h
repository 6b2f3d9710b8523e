/* ctr-image export: an image as an oci-archive or a docker-archive. */
#ifndef CTR_IMAGE_EXPORT_H
#define CTR_IMAGE_EXPORT_H

#include "core/error.h"
#include "store.h"

enum export_format { EXPORT_OCI_ARCHIVE, EXPORT_DOCKER_ARCHIVE };

/* Write img as an archive to fd. name (may be NULL) is recorded as the
 * image's name inside the archive; digest (may be NULL) gets the sha256
 * of the bytes written. */
int image_export(struct image_store *s, const struct image *img,
                 const char *name, enum export_format fmt, int fd,
                 char digest[CTR_DIGEST_LEN + 1], ctr_err *err);

#endif
