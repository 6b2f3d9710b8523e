#define _GNU_SOURCE
#include "cniexec.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/fs.h"
#include "core/json.h"
#include "net/netconf.h"

extern char **environ;

#define OUTPUT_MAX (1 << 20) /* a result is a few KiB */

static const char *plugin_type(const json_t *pl) {
  const char *t = ctr_json_str(pl, "type");
  return t ? t : "?";
}

/* The executable of a plugin; ctr-net's own type is this program. */
static int plugin_path(const char *type, char **path, ctr_err *err) {
  if (strcmp(type, NET_PLUGIN_TYPE) == 0) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n < 0)
      return ctr_fail(err, errno, "find plugin %s", type);
    buf[n] = '\0';
    *path = strdup(buf);
    return *path ? 0 : ctr_fail(err, ENOMEM, "find plugin %s", type);
  }
  return net_plugin_find(type, path, err);
}

/* One plugin's stdin: its entry, the list's name and version, what the
 * runtime adds. */
static json_t *plugin_input(const struct net_cniexec *x, const json_t *pl,
                            const json_t *prev) {
  json_t *in = json_deep_copy(pl), *rc = json_object();
  const json_t *caps = json_object_get(pl, "capabilities"), *v;
  const char *k;
  if (in == NULL || rc == NULL) {
    json_decref(in);
    json_decref(rc);
    return NULL;
  }
  json_object_set(in, "name", json_object_get(x->conflist, "name"));
  json_object_set(in, "cniVersion", json_object_get(x->conflist, "cniVersion"));
  json_object_foreach((json_t *)caps, k, v) {
    const json_t *arg = json_object_get(x->capabilities, k);
    if (json_is_true(v) && arg != NULL)
      json_object_set(rc, k, (json_t *)arg);
  }
  if (json_object_size(rc) > 0)
    json_object_set(in, "runtimeConfig", rc);
  json_decref(rc);
  if (prev != NULL)
    json_object_set(in, "prevResult", (json_t *)prev);
  return in;
}

static int add_env(char ***env, size_t *n, const char *k, const char *v) {
  char *s = NULL;
  if (v == NULL)
    return 0;
  if (asprintf(&s, "%s=%s", k, v) < 0)
    return -1;
  (*env)[(*n)++] = s;
  return 0;
}

static void env_free(char **env) {
  for (char **e = env; e && *e; e++)
    free(*e);
  free(env);
}

/* Ours plus the caller's environment without its CNI_* variables. */
static char **plugin_env(const struct net_cniexec *x, const char *command) {
  size_t n = 0, count = 0;
  const char *path = getenv("CNI_PATH");
  char **env;
  while (environ[count])
    count++;
  env = calloc(count + 8, sizeof(char *));
  if (env == NULL)
    return NULL;
  for (size_t i = 0; i < count; i++)
    if (strncmp(environ[i], "CNI_", 4) != 0 &&
        (env[n] = strdup(environ[i])) != NULL)
      n++;
  if (add_env(&env, &n, "CNI_COMMAND", command) < 0 ||
      add_env(&env, &n, "CNI_CONTAINERID", x->container_id) < 0 ||
      add_env(&env, &n, "CNI_NETNS", x->netns) < 0 ||
      add_env(&env, &n, "CNI_IFNAME", x->ifname) < 0 ||
      add_env(&env, &n, "CNI_ARGS", x->args) < 0 ||
      add_env(&env, &n, "CNI_PATH", path && path[0] ? path : NET_PLUGIN_DIR) < 0) {
    env_free(env);
    return NULL;
  }
  return env;
}

static int memfd_with(const char *name, const char *buf, size_t len,
                      ctr_err *err) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0)
    return ctr_fail(err, errno, "memfd");
  if ((len > 0 && write(fd, buf, len) != (ssize_t)len) ||
      lseek(fd, 0, SEEK_SET) < 0) {
    int e = errno;
    close(fd);
    return ctr_fail(err, e, "memfd");
  }
  return fd;
}

struct run_output {
  int status; /* the wait status */
  char *out, *errout;
};

static void output_free(struct run_output *o) {
  free(o->out);
  free(o->errout);
}

/* Run the plugin at path with stdin `in`: stdout and stderr collected
 * through memory files, so no pipe can fill up. */
static int run_plugin(const char *path, char **env, const char *in,
                      struct run_output *o, ctr_err *err) {
  cleanup_close int infd = memfd_with("cni-stdin", in, strlen(in), err);
  cleanup_close int outfd = -1;
  cleanup_close int errfd = -1;
  size_t len;
  pid_t pid;
  memset(o, 0, sizeof(*o));
  if (infd < 0 || (outfd = memfd_with("cni-stdout", NULL, 0, err)) < 0 ||
      (errfd = memfd_with("cni-stderr", NULL, 0, err)) < 0)
    return -1;
  pid = fork();
  if (pid < 0)
    return ctr_fail(err, errno, "fork");
  if (pid == 0) {
    char *argv[] = {(char *)path, NULL};
    if (dup2(infd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd, 2) < 0)
      _exit(127);
    execve(path, argv, env);
    dprintf(1, "{\"code\":100,\"msg\":\"exec %s: %s\"}", path, strerror(errno));
    _exit(127);
  }
  while (waitpid(pid, &o->status, 0) < 0)
    if (errno != EINTR)
      return ctr_fail(err, errno, "wait for plugin");
  if (lseek(outfd, 0, SEEK_SET) < 0 || lseek(errfd, 0, SEEK_SET) < 0 ||
      ctr_read_fd(outfd, OUTPUT_MAX, &o->out, &len, err) < 0 ||
      ctr_read_fd(errfd, OUTPUT_MAX, &o->errout, &len, err) < 0) {
    output_free(o);
    return -1;
  }
  return 0;
}

/* The first line of s, at most 200 bytes, for an error message. */
static void first_line(const char *s, char out[201]) {
  size_t n = s ? strcspn(s, "\r\n") : 0;
  while (s && n == 0 && *s) {
    s += strspn(s, "\r\n");
    n = strcspn(s, "\r\n");
  }
  snprintf(out, 201, "%.*s", (int)(n > 200 ? 200 : n), s ? s : "");
}

/* A failed plugin's answer as one line: its error object's msg and
 * details, else what it printed, else how it ended. */
static int plugin_failed(const char *type, const char *command,
                         const struct run_output *o, ctr_err *err) {
  cleanup_json json_t *e = json_loads(o->out ? o->out : "", 0, NULL);
  const char *msg = ctr_json_str(e, "msg"), *details = ctr_json_str(e, "details");
  char line[201];
  if (msg != NULL)
    return ctr_fail(err, 0, "plugin %s: %s%s%s", type, msg,
                    details && details[0] ? ": " : "", details ? details : "");
  first_line(o->errout, line);
  if (line[0] == '\0')
    first_line(o->out, line);
  if (WIFSIGNALED(o->status))
    return ctr_fail(err, 0, "plugin %s: %s killed by signal %d%s%s", type,
                    command, WTERMSIG(o->status), line[0] ? ": " : "", line);
  return ctr_fail(err, 0, "plugin %s: %s failed (exit status %d)%s%s", type,
                  command, WEXITSTATUS(o->status), line[0] ? ": " : "", line);
}

/* Run one plugin; for ADD *result gets its result. */
static int exec_one(const struct net_cniexec *x, const json_t *pl,
                    const char *command, const json_t *prev, json_t **result,
                    ctr_err *err) {
  const char *type = plugin_type(pl);
  cleanup_free char *path = NULL;
  cleanup_free char *in = NULL;
  cleanup_json json_t *input = plugin_input(x, pl, prev);
  char **env = NULL;
  struct run_output o;
  int rc;
  if (plugin_path(type, &path, err) < 0)
    return ctr_wrap(err, "plugin %s", type);
  if (input == NULL || (in = json_dumps(input, JSON_COMPACT)) == NULL ||
      (env = plugin_env(x, command)) == NULL)
    return ctr_fail(err, ENOMEM, "plugin %s", type);
  rc = run_plugin(path, env, in, &o, err);
  env_free(env);
  if (rc < 0)
    return ctr_wrap(err, "plugin %s", type);
  if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
    plugin_failed(type, command, &o, err);
    output_free(&o);
    return -1;
  }
  if (result != NULL) {
    json_error_t je;
    *result = json_loads(o.out ? o.out : "", 0, &je);
    if (!json_is_object(*result) || json_object_get(*result, "code") != NULL) {
      char line[201];
      first_line(o.out, line);
      json_decref(*result);
      *result = NULL;
      output_free(&o);
      return ctr_fail(err, 0, "plugin %s: %s printed no result%s%s", type,
                      command, line[0] ? ": " : " (empty output)", line);
    }
  }
  output_free(&o);
  return 0;
}

static int check_list(const struct net_cniexec *x, ctr_err *err) {
  const json_t *plugins = json_object_get(x->conflist, "plugins");
  if (!json_is_array(plugins) || json_array_size(plugins) == 0)
    return ctr_fail(err, 0, "network configuration: no plugins");
  return 0;
}

/* DEL plugins [0, upto] in reverse; the first failure is kept. */
static int del_upto(const struct net_cniexec *x, size_t upto, const json_t *prev,
                    ctr_err *err) {
  const json_t *plugins = json_object_get(x->conflist, "plugins");
  int rc = 0;
  for (size_t i = upto + 1; i-- > 0;) {
    ctr_err e = NULL;
    if (exec_one(x, json_array_get(plugins, i), "DEL", prev, NULL, &e) < 0) {
      if (rc == 0 && err != NULL)
        *err = e;
      else
        ctr_err_free(&e);
      rc = -1;
    }
  }
  return rc;
}

int net_cniexec_add(const struct net_cniexec *x, json_t **result,
                    ctr_err *err) {
  const json_t *plugins = json_object_get(x->conflist, "plugins");
  json_t *prev = NULL;
  *result = NULL;
  if (check_list(x, err) < 0)
    return -1;
  for (size_t i = 0; i < json_array_size(plugins); i++) {
    json_t *next = NULL;
    if (exec_one(x, json_array_get(plugins, i), "ADD", prev, &next, err) < 0) {
      ctr_err ignored = NULL;
      del_upto(x, i, prev, &ignored);
      ctr_err_free(&ignored);
      json_decref(prev);
      return -1;
    }
    json_decref(prev);
    prev = next;
  }
  *result = prev;
  return 0;
}

int net_cniexec_del(const struct net_cniexec *x, const json_t *prev,
                    ctr_err *err) {
  if (check_list(x, err) < 0)
    return -1;
  return del_upto(x, json_array_size(json_object_get(x->conflist, "plugins")) - 1,
                  prev, err);
}

int net_cniexec_check(const struct net_cniexec *x, const json_t *prev,
                      ctr_err *err) {
  const json_t *plugins = json_object_get(x->conflist, "plugins");
  if (check_list(x, err) < 0)
    return -1;
  for (size_t i = 0; i < json_array_size(plugins); i++)
    if (exec_one(x, json_array_get(plugins, i), "CHECK", prev, NULL, err) < 0)
      return -1;
  return 0;
}

/* ---- the cache ------------------------------------------------------------ */

char *net_cniexec_cache_path(const struct ctr_paths *p, const char *network,
                             const char *id, const char *ifname) {
  char *s = NULL;
  if (asprintf(&s, "%s/networks/cache/%s/%s-%s.json", p->rundir, network, id,
               ifname) < 0)
    return NULL;
  return s;
}

/* CNI_ARGS as libcni records them: [["K","V"],...]. */
static json_t *args_pairs(const char *args) {
  json_t *a = json_array();
  cleanup_free char *copy = args ? strdup(args) : NULL;
  char *save = NULL;
  for (char *kv = copy ? strtok_r(copy, ";", &save) : NULL; a && kv;
       kv = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(kv, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    json_array_append_new(a, json_pack("[s,s]", kv, eq + 1));
  }
  return a;
}

int net_cniexec_cache_save(const struct ctr_paths *p, const char *network,
                           const struct net_cniexec *x, const json_t *result,
                           ctr_err *err) {
  cleanup_free char *dir = NULL;
  cleanup_free char *name = NULL;
  cleanup_free char *list = json_dumps(x->conflist, JSON_COMPACT);
  cleanup_free unsigned char *b64 = NULL;
  cleanup_json json_t *doc = NULL;
  cleanup_close int dfd = -1;
  size_t len = list ? strlen(list) : 0;
  if (list == NULL || (b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL ||
      asprintf(&dir, "%s/networks/cache/%s", p->rundir, network) < 0 ||
      asprintf(&name, "%s-%s.json", x->container_id, x->ifname) < 0)
    return ctr_fail(err, ENOMEM, "cache");
  EVP_EncodeBlock(b64, (const unsigned char *)list, (int)len);
  doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:O, s:O}", "kind",
                  "cniCacheV1", "containerId", x->container_id, "config",
                  (const char *)b64, "ifName", x->ifname, "networkName",
                  network, "netns", x->netns, "cniArgs", args_pairs(x->args),
                  "capabilityArgs",
                  x->capabilities ? (json_t *)x->capabilities : json_object(),
                  "result", (json_t *)result);
  if (doc == NULL)
    return ctr_fail(err, ENOMEM, "cache");
  if (ctr_mkdir_p(AT_FDCWD, dir, 0700, err) < 0 ||
      (dfd = ctr_open_dir(AT_FDCWD, dir, err)) < 0 ||
      ctr_json_save(dfd, name, doc, false, false, err) < 0)
    return ctr_wrap(err, "cache the result of %s", x->container_id);
  return 0;
}

int net_cniexec_cache_load(const struct ctr_paths *p, const char *network,
                           const char *id, const char *ifname, json_t **entry,
                           ctr_err *err) {
  cleanup_free char *path = net_cniexec_cache_path(p, network, id, ifname);
  *entry = NULL;
  if (path == NULL)
    return ctr_fail(err, ENOMEM, "cache");
  if (access(path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (ctr_json_load_object(AT_FDCWD, path, OUTPUT_MAX, entry, err) < 0)
    return -1;
  return 1;
}

json_t *net_cniexec_cache_conflist(const json_t *entry) {
  const char *b64 = ctr_json_str(entry, "config");
  size_t len = b64 ? strlen(b64) : 0;
  cleanup_free unsigned char *raw = NULL;
  int n;
  if (b64 == NULL || (raw = malloc(len / 4 * 3 + 3)) == NULL)
    return NULL;
  n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
  if (n < 0)
    return NULL;
  /* EVP_DecodeBlock counts the padding as zero bytes: JSON ignores NULs
   * only at the end, so cut there */
  while (n > 0 && raw[n - 1] == '\0')
    n--;
  return json_loadb((const char *)raw, (size_t)n, 0, NULL);
}

void net_cniexec_cache_remove(const struct ctr_paths *p, const char *network,
                              const char *id, const char *ifname) {
  cleanup_free char *path = net_cniexec_cache_path(p, network, id, ifname);
  cleanup_free char *dir = NULL;
  if (path != NULL)
    unlink(path);
  if (asprintf(&dir, "%s/networks/cache/%s", p->rundir, network) >= 0)
    rmdir(dir); /* only when empty */
}
