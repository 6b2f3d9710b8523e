/* The registry's side of a push, in rounds of parallel requests
 * (registry_do_all), each round for every blob that needs it:
 *
 *   HEAD  <repo>/blobs/<d>            200: there already; 404: to send
 *   POST  <repo>/blobs/uploads/?mount=<d>&from=<other>   (a known source)
 *   POST  <repo>/blobs/uploads/       (none): 201 mounted, 202 a session
 *   PUT   <session>&digest=<d>        the whole blob, streamed from its file
 *
 * then the manifests. A mount the registry refuses (no access to the other
 * repository) becomes an upload; an upload session the registry lost or
 * spoiled (a PUT cut off and retried into the same session) is begun
 * again, twice at most. Transport retries are the registry client's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/log.h"
#include "pull_int.h"
#include "push_int.h"

#define PARALLEL_DEFAULT 6
#define MAX_RESTARTS 2

static const char *const octet_stream[] = {"Content-Type: application/octet-stream",
                                           NULL};

/* One round: requests for the blobs `which`, built by make(); the
 * answers go to take(). A failure is handed to recover(), which may make
 * the failed blob ready for another round (returns 1). */
struct round {
  const char *name;
  int (*make)(struct push_blob *b, struct registry_req *q, char **path, char **scope,
              ctr_err *err);
  int (*take)(struct push_blob *b, const struct registry_resp *resp, ctr_err *err);
  int (*recover)(struct push_blob *b, long status);
  bool (*wants)(const struct push_blob *b);
  bool blame; /* an error names the blob */
};

static size_t parallel(const struct push *p) {
  return p->o->parallel ? p->o->parallel : PARALLEL_DEFAULT;
}

/* Run the round until every blob it wants has had its answer taken. */
static int run_round(struct push *p, const struct round *rd, ctr_err *err) {
  size_t n = p->nblobs ? p->nblobs : 1;
  cleanup_free struct registry_req *reqs = calloc(n, sizeof(*reqs));
  cleanup_free struct registry_resp *resps = calloc(n, sizeof(*resps));
  cleanup_free struct push_blob **which = calloc(n, sizeof(*which));
  cleanup_free char **paths = calloc(n, sizeof(*paths));
  cleanup_free char **scopes = calloc(n, sizeof(*scopes));
  if (reqs == NULL || resps == NULL || which == NULL || paths == NULL || scopes == NULL)
    return ctr_fail(err, ENOMEM, "push");
  for (;;) {
    size_t k = 0, failed = 0;
    int ret = 0;
    for (size_t i = 0; i < p->nblobs; i++) {
      struct push_blob *b = &p->blobs[i];
      if (!rd->wants(b))
        continue;
      reqs[k] = (struct registry_req){.scope = p->scope, .pause_fd = -1, .sink_arg = b};
      which[k++] = b;
      if (rd->make(b, &reqs[k - 1], &paths[k - 1], &scopes[k - 1], err) < 0) {
        ret = -1;
        failed = k - 1;
        break;
      }
      /* The very first request goes alone: it learns the scheme (https,
       * or http for a loopback registry) and the auth, which the rest
       * then share instead of each finding them out at once. */
      if (!p->contacted)
        break;
    }
    if (k == 0)
      return 0;
    if (ret == 0)
      ret = registry_do_all(p->reg, reqs, k, parallel(p), resps, &failed, err);
    p->contacted = true;
    /* Whatever was answered is taken, also in a round that failed. */
    for (size_t i = 0; i < k; i++) {
      if (ret == 0 || (i != failed && resps[i].status / 100 == 2))
        if (rd->take(which[i], &resps[i], ret == 0 ? err : NULL) < 0 && ret == 0)
          ret = -1, failed = i;
    }
    if (ret < 0 && rd->recover != NULL && resps[failed].status != 0 &&
        rd->recover(which[failed], resps[failed].status) > 0) {
      ctr_debug("%s %s: %s; again", rd->name, which[failed]->digest,
                *err ? (*err)->msg : "failed");
      ctr_err_free(err);
      ret = 0;
    } else if (ret < 0 && rd->blame) {
      ctr_wrap(err, "%s %s", which[failed]->kind, which[failed]->digest);
    }
    for (size_t i = 0; i < k; i++) {
      registry_resp_free(&resps[i]);
      free(paths[i]);
      free(scopes[i]);
      paths[i] = scopes[i] = NULL;
    }
    if (ret < 0)
      return -1;
  }
}

static void show(struct push_blob *b, uint64_t done, const char *status) {
  pull_progress_set(b->p->progress, b->line, done, status);
}

/* ---- HEAD: what the repository has ------------------------------------- */

static bool wants_check(const struct push_blob *b) { return b->state == BLOB_UNKNOWN; }

static int make_check(struct push_blob *b, struct registry_req *q, char **path,
                      char **scope, ctr_err *err) {
  (void)scope;
  if (asprintf(path, "%s/blobs/%s", b->p->repo, b->digest) < 0)
    return ctr_fail(err, ENOMEM, "push");
  q->method = "HEAD";
  q->path = *path;
  q->any_status = true;
  return 0;
}

static int take_check(struct push_blob *b, const struct registry_resp *resp, ctr_err *err) {
  char *msg;
  if (resp->status == 200) {
    b->state = BLOB_THERE;
    show(b, (uint64_t)b->size, "Layer already exists");
    return 0;
  }
  if (resp->status == 404) {
    b->state = BLOB_SEND;
    b->from = image_sources_pick(b->p->sources, b->digest, b->p->host, b->p->repo);
    show(b, 0, "Waiting");
    return 0;
  }
  msg = registry_error_message(resp->status, resp->body, resp->len, false);
  ctr_fail(err, 0, "%s", msg ? msg : "registry error");
  free(msg);
  return -1;
}

static const struct round check_round = {
    .name = "HEAD", .make = make_check, .take = take_check, .wants = wants_check};

/* ---- POST: a mount, or an upload session ------------------------------- */

static bool wants_session(const struct push_blob *b) {
  return b->state == BLOB_SEND && b->location == NULL;
}

static int make_session(struct push_blob *b, struct registry_req *q, char **path,
                        char **scope, ctr_err *err) {
  struct push *p = b->p;
  int rc;
  if (b->from != NULL) {
    rc = asprintf(path, "%s/blobs/uploads/?mount=sha256%%3A%s&from=%s", p->repo,
                  ctr_digest_hex(b->digest), b->from);
    if (rc >= 0)
      rc = asprintf(scope, "%s repository:%s:pull", p->scope, b->from);
    q->scope = *scope;
  } else {
    rc = asprintf(path, "%s/blobs/uploads/", p->repo);
  }
  if (rc < 0)
    return ctr_fail(err, ENOMEM, "push");
  q->method = "POST";
  q->path = *path;
  return 0;
}

static int take_session(struct push_blob *b, const struct registry_resp *resp,
                        ctr_err *err) {
  char status[24];
  if (resp->status == 201 && b->from != NULL) {
    b->state = BLOB_MOUNTED;
    snprintf(status, sizeof(status), "Mounted from %s", b->from);
    show(b, (uint64_t)b->size, status);
    return 0;
  }
  if (resp->location == NULL)
    return ctr_fail(err, 0, "the registry answered %ld with no upload location",
                    resp->status);
  b->location = strdup(resp->location);
  return b->location ? 0 : ctr_fail(err, ENOMEM, "push");
}

/* No right to read the other repository, or no such repository: send
 * the bytes instead. (A destination the registry refuses is refused
 * again without the mount, with its own error.) */
static int recover_session(struct push_blob *b, long status) {
  if (b->from == NULL || (status != 401 && status != 403 && status != 404))
    return 0;
  b->from = NULL;
  return 1;
}

static const struct round session_round = {.name = "POST",
                                           .make = make_session,
                                           .take = take_session,
                                           .recover = recover_session,
                                           .wants = wants_session};

/* ---- PUT: the bytes ---------------------------------------------------- */

static bool wants_upload(const struct push_blob *b) {
  return b->state == BLOB_SEND && b->location != NULL;
}

static void upload_done(void *arg, int ok) {
  struct push_blob *b = arg;
  show(b, ok == 0 ? (uint64_t)b->size : 0, ok == 0 ? "Pushed" : "Failed");
}

static int make_upload(struct push_blob *b, struct registry_req *q, char **path,
                       char **scope, ctr_err *err) {
  (void)scope;
  if (b->fd < 0 && (b->fd = image_blob_open(&b->p->s, b->digest, err)) < 0)
    return -1;
  if (asprintf(path, "%s%sdigest=sha256%%3A%s", b->location,
               strchr(b->location, '?') ? "&" : "?", ctr_digest_hex(b->digest)) < 0)
    return ctr_fail(err, ENOMEM, "push");
  q->method = "PUT";
  q->path = *path;
  q->headers = octet_stream;
  q->body_fd = b->fd;
  q->body_len = (size_t)b->size;
  q->done = upload_done;
  show(b, 0, "Pushing");
  return 0;
}

static int take_upload(struct push_blob *b, const struct registry_resp *resp,
                       ctr_err *err) {
  close(b->fd);
  b->fd = -1;
  if (resp->digest != NULL && strcmp(resp->digest, b->digest) != 0)
    return ctr_fail(err, 0, "the registry stored it as %s", resp->digest);
  b->state = BLOB_SENT;
  return 0;
}

/* A session the registry no longer takes (lost, or spoiled by a PUT cut
 * off and retried into it): a new one. Every unfinished upload of the
 * round was stopped, possibly halfway, so each needs a new one too. */
static int recover_upload(struct push_blob *b, long status) {
  struct push *p = b->p;
  if ((status != 400 && status != 404) || b->restarts >= MAX_RESTARTS)
    return 0;
  b->restarts++;
  for (size_t i = 0; i < p->nblobs; i++)
    if (wants_upload(&p->blobs[i])) {
      free(p->blobs[i].location);
      p->blobs[i].location = NULL;
    }
  return 1;
}

static const struct round upload_round = {.name = "PUT",
                                          .make = make_upload,
                                          .take = take_upload,
                                          .recover = recover_upload,
                                          .wants = wants_upload,
                                          .blame = true};

int push_send_blobs(struct push *p, ctr_err *err) {
  for (size_t i = 0; i < p->nblobs; i++) {
    p->blobs[i].p = p;
    p->blobs[i].line = pull_progress_add(p->progress, p->blobs[i].digest,
                                         (uint64_t)p->blobs[i].size, "Preparing");
  }
  if (run_round(p, &check_round, err) < 0)
    return -1;
  /* Sessions, then uploads, until every upload is done: an upload begun
   * again needs a new session first. */
  for (;;) {
    bool left = false;
    if (run_round(p, &session_round, err) < 0)
      return -1;
    if (run_round(p, &upload_round, err) < 0)
      return -1;
    for (size_t i = 0; i < p->nblobs; i++)
      left |= p->blobs[i].state == BLOB_SEND;
    if (!left)
      return 0;
  }
}

/* ---- manifests --------------------------------------------------------- */

/* PUT the manifests, at once, each under its reference. */
static int put_manifests(struct push *p, struct push_manifest **ms,
                         const char *const *refs, size_t n, ctr_err *err) {
  cleanup_free struct registry_req *reqs = calloc(n, sizeof(*reqs));
  cleanup_free struct registry_resp *resps = calloc(n, sizeof(*resps));
  cleanup_free char **paths = calloc(n, sizeof(*paths));
  cleanup_free char **types = calloc(2 * n, sizeof(*types));
  size_t failed = 0;
  int ret = 0;
  if (reqs == NULL || resps == NULL || paths == NULL || types == NULL)
    return ctr_fail(err, ENOMEM, "push");
  for (size_t i = 0; i < n && ret == 0; i++) {
    if (asprintf(&paths[i], "%s/manifests/%s", p->repo, refs[i]) < 0 ||
        asprintf(&types[2 * i], "Content-Type: %s", ms[i]->media_type) < 0)
      ret = ctr_fail(err, ENOMEM, "push");
    reqs[i] = (struct registry_req){.method = "PUT", .path = paths[i], .scope = p->scope,
                                    .headers = (const char *const *)&types[2 * i],
                                    .body = ms[i]->buf, .body_len = ms[i]->len,
                                    .pause_fd = -1};
  }
  if (ret == 0 && registry_do_all(p->reg, reqs, n, parallel(p), resps, &failed, err) < 0)
    ret = ctr_wrap(err, "manifest %s", ms[failed]->digest);
  for (size_t i = 0; i < n; i++) {
    if (ret == 0 && resps[i].digest != NULL && strcmp(resps[i].digest, ms[i]->digest) != 0)
      ret = ctr_fail(err, 0, "manifest %s: the registry stored it as %s", ms[i]->digest,
                     resps[i].digest);
    registry_resp_free(&resps[i]);
    free(paths[i]);
    free(types[2 * i]);
  }
  return ret;
}

int push_send_manifests(struct push *p, ctr_err *err) {
  struct push_manifest *top = &p->top;
  const char *ref = p->reference;
  if (p->nchildren > 0) {
    cleanup_free struct push_manifest **ms = calloc(p->nchildren, sizeof(*ms));
    cleanup_free const char **refs = calloc(p->nchildren, sizeof(*refs));
    if (ms == NULL || refs == NULL)
      return ctr_fail(err, ENOMEM, "push");
    for (size_t i = 0; i < p->nchildren; i++) {
      ms[i] = &p->children[i];
      refs[i] = p->children[i].digest;
    }
    if (put_manifests(p, ms, refs, p->nchildren, err) < 0)
      return -1;
  }
  return put_manifests(p, &top, &ref, 1, err);
}
