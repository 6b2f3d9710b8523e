/* Seccomp for containers: Docker-format profiles (share/seccomp/default.json
 * or a user's --security-opt seccomp=FILE) made into the OCI runtime-spec
 * linux.seccomp object, and that object compiled and loaded with
 * libseccomp. The profile's semantics are moby's: a rule is kept when all
 * of includes.caps are in the container's capability set, the native
 * architecture is in includes.arches (if any) and the running kernel is at
 * least includes.minKernel; it is dropped when any of excludes.caps is held,
 * the architecture is in excludes.arches, or the kernel is at least
 * excludes.minKernel. */
#ifndef CTR_RUN_SECCOMP_H
#define CTR_RUN_SECCOMP_H

#include <jansson.h>
#include <seccomp.h>
#include <stddef.h>

#include "core/error.h"

/* Turn a Docker-format profile (len bytes at buf, need not be
 * NUL-terminated) into a new OCI linux.seccomp object in *oci (caller
 * decrefs) for this machine's architecture and the capability set caps
 * ("CAP_SYS_ADMIN"; the "CAP_" prefix and case are optional). Every rule is
 * checked, kept or not; malformed input fails with one message naming the
 * field ("seccomp profile: syscalls[3].args[0].op: ..."), never with a
 * filter that allows more. */
int run_seccomp_from_profile(const char *buf, size_t len,
                             const char *const *caps, size_t ncaps,
                             json_t **oci, ctr_err *err);

/* Check an OCI linux.seccomp object (from any config.json) and compile it
 * into a new libseccomp filter in *out (caller seccomp_release()s).
 * Syscall names this libseccomp cannot resolve are skipped, as runc and
 * crun do; unknown actions, operators, architectures or flags, and
 * SCMP_ACT_NOTIFY / listenerPath (we run no listener) are errors. The
 * filter never sets no_new_privs by itself (SCMP_FLTATR_CTL_NNP is 0). */
int run_seccomp_compile(const json_t *oci, scmp_filter_ctx *out, ctr_err *err);

/* Compile oci and load it into the calling thread (with the "flags"
 * SECCOMP_FILTER_FLAG_TSYNC, into all its threads): the container's last
 * step before execve, after which the filter also governs execve itself.
 * The kernel accepts the filter only if the caller has set no_new_privs
 * (prctl(PR_SET_NO_NEW_PRIVS, 1), the default for our containers) or still
 * holds CAP_SYS_ADMIN in its effective set; without no_new_privs, load
 * first and drop capabilities afterwards (capset, prctl and the set*id
 * calls are in the default allow-list). Fails with EACCES otherwise. */
int run_seccomp_install(const json_t *oci, ctr_err *err);

/* Where the default profile is, in this order, into a new string *path:
 *  1. $CTR_SECCOMP_PROFILE when set and non-empty (it must exist);
 *  2. the source tree the running binary was built in: a binary at
 *     TREE/BUILD/DIR/prog (build/bin/ctr-run, build/tests/test_x,
 *     build-fuzz/fuzz/x) uses TREE/share/seccomp/default.json, but only
 *     when TREE/lib/run/seccomp.h also exists, so that an installed
 *     /usr/bin/ctr-run never picks up a stray /usr/share/seccomp/ file;
 *  3. the installed CTR_DATADIR "/ctr/seccomp/default.json" (CTR_DATADIR
 *     is the build's DATADIR, /usr/local/share unless defined).
 * A binary built in a tree thus uses that tree's profile, not an older
 * installed one. Fails naming every place it looked. */
int run_seccomp_default_path(char **path, ctr_err *err);

#endif
