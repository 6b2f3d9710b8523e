/* Image names by Docker's rules: [registry/]repo[:tag][@sha256:hex].
 * The store keeps the familiar form ("busybox:latest",
 * "localhost:5000/app:1"), as `docker images` shows it. */
#ifndef CTR_IMAGE_REF_H
#define CTR_IMAGE_REF_H

#include "core/error.h"

struct image_ref {
  char *repo;   /* familiar repository, e.g. "busybox", "quay.io/a/b" */
  char *tag;    /* NULL when only a digest was given */
  char *digest; /* NULL or "sha256:<hex>" */
};

/* Parse a reference; a missing tag and digest mean "latest". */
int image_ref_parse(const char *s, struct image_ref *r, ctr_err *err);
void image_ref_free(struct image_ref *r);
/* "repo:tag" (the store's name) or NULL when the ref has no tag. Caller
 * frees. */
char *image_ref_name(const struct image_ref *r);
/* The fully qualified repository ("docker.io/library/busybox"). Caller
 * frees. */
char *image_ref_full_repo(const struct image_ref *r);
/* Where the repository lives, as the distribution API names it: the
 * registry host and the repository's path there. "busybox" is
 * ("docker.io", "library/busybox"), "127.0.0.1:5000/a/b" is
 * ("127.0.0.1:5000", "a/b"). Both malloc'd. */
int image_ref_registry(const struct image_ref *r, char **host, char **path,
                       ctr_err *err);

#endif
