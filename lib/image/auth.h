/* Registry credentials kept in files, in the shape of
 * containers-auth.json(5) and Docker's config.json:
 *
 *   {"auths": {"HOST[:PORT]": {"auth": "base64(user:password)"}}}
 *
 * `ctr-image login` writes the auth file: --authfile FILE, else
 * $REGISTRY_AUTH_FILE, else $XDG_CONFIG_HOME/ctr/auth.json (by default
 * ~/.config/ctr/auth.json), atomically and with mode 0600. Lookups read
 * that file and, when no file was named, then the files other tools keep:
 * $XDG_RUNTIME_DIR/containers/auth.json, $XDG_CONFIG_HOME/containers/
 * auth.json and Docker's $DOCKER_CONFIG/config.json (~/.docker/config.json).
 * The first file with an entry for the registry wins; within a file, an
 * entry for "HOST/REPO" beats one for "HOST" (as podman does). Keys may be
 * URLs ("https://index.docker.io/v1/", Docker's key for Docker Hub).
 * Credentials are never printed. */
#ifndef CTR_IMAGE_AUTH_H
#define CTR_IMAGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "registry.h"

struct auth_creds {
  char *user;
  char *pass;
  char *file; /* where they were found */
};
void auth_creds_free(struct auth_creds *c);

/* The file login writes and logout edits: explicit (--authfile) if given,
 * else $REGISTRY_AUTH_FILE, else the default. Caller frees. */
int auth_file_path(const char *explicit_path, char **out, ctr_err *err);

/* Credentials for a registry host (and, for repository-scoped entries,
 * the repository path on it; may be NULL). authfile is --authfile or
 * NULL. Returns 1 when found (c filled), 0 when none, -1 on a file that
 * cannot be read or parsed. */
int auth_lookup(const char *authfile, const char *host, const char *repo,
                struct auth_creds *c, ctr_err *err);
/* Open host's registry with o's credentials, or when o has none, with
 * those the auth files hold for host/repo (auth_lookup). */
int auth_registry_open(const char *authfile, const char *host, const char *repo,
                       const struct registry_opts *o, struct registry **out,
                       ctr_err *err);

/* Pure part of a lookup, for tests and fuzzing: the best entry in one
 * file's text. what names the file in errors. */
int auth_parse(const char *buf, size_t len, const char *what, const char *host,
               const char *repo, struct auth_creds *c, ctr_err *err);

/* Save user:pass for host in authfile (NULL: the default), keeping every
 * other entry and key of the file. */
int auth_store(const char *authfile, const char *host, const char *user,
               const char *pass, ctr_err *err);
/* Remove host's entry (every entry when host is NULL). Returns 1 when
 * something was removed, 0 when there was nothing to remove. */
int auth_remove(const char *authfile, const char *host, ctr_err *err);

/* The registry a key or a login argument names: "https://host:5000/v2/"
 * is "host:5000"; Docker Hub's names (index.docker.io,
 * registry-1.docker.io, https://index.docker.io/v1/) are "docker.io".
 * A path after a bare host is kept ("quay.io/org/repo"). Caller frees. */
char *auth_normalize_key(const char *key);

#endif
