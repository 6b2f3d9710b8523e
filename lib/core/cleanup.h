/* Scope-bound cleanup, as crun does it: a variable declared with one of
 * these is released when it goes out of scope, so error paths need no
 * goto ladders. */
#ifndef CTR_CORE_CLEANUP_H
#define CTR_CORE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void ctr_freep(void *p) {
  void **pp = (void **)p;
  free(*pp);
}
static inline void ctr_closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void ctr_fclosep(FILE **f) {
  if (*f != NULL)
    fclose(*f);
}
static inline void ctr_closedirp(DIR **d) {
  if (*d != NULL)
    closedir(*d);
}
static inline void ctr_json_decrefp(json_t **j) { json_decref(*j); }

#define cleanup_free __attribute__((cleanup(ctr_freep)))
#define cleanup_close __attribute__((cleanup(ctr_closep)))
#define cleanup_fclose __attribute__((cleanup(ctr_fclosep)))
#define cleanup_dir __attribute__((cleanup(ctr_closedirp)))
#define cleanup_json __attribute__((cleanup(ctr_json_decrefp)))

/* Hand ownership out of a cleanup variable. */
#define ctr_steal(p)                                                          \
  ({                                                                          \
    __typeof__(p) tmp_ = (p);                                                 \
    (p) = NULL;                                                               \
    tmp_;                                                                     \
  })
#define ctr_steal_fd(fd)                                                      \
  ({                                                                          \
    int tmp_ = (fd);                                                          \
    (fd) = -1;                                                                \
    tmp_;                                                                     \
  })

#endif
