/* Paths inside a container's root: nothing in the image — an absolute
 * symlink, "../../..", a /proc magic link — can point a mount, a mount
 * point we create or a device node at the host. */
#ifndef CTR_RUN_INROOT_H
#define CTR_RUN_INROOT_H

enum run_inroot_create {
  RUN_INROOT_EXISTING, /* everything must exist */
  RUN_INROOT_MKDIR,    /* create missing directories (0755), as mkdir -p */
  RUN_INROOT_MKFILE,   /* same, and the last component as an empty file */
};

/* Open path as if root_fd were "/" (absolute or not, it starts there):
 * ".." stops at root_fd and symlinks, followed even as the last
 * component, are resolved inside it. openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) does the work; where something must be created,
 * or openat2 is missing (valgrind), a component-by-component walk that
 * never lets the kernel follow a link does the same. Returns an O_PATH
 * fd, or -1 with errno. */
int run_inroot_open(int root_fd, const char *path, enum run_inroot_create how);

/* path made absolute and lexically clean: no ".", "..", empty or
 * trailing components ("/a/./b//../c/" -> "/a/c", "../x" -> "/x").
 * Malloc'd; NULL with errno ENOMEM. */
char *run_path_clean(const char *path);

#endif
