/* libFuzzer target: what provenance reads back from disk and from the
 * command line must be refused cleanly when it is garbage: DSSE envelopes
 * (and the statement inside a good one), in-toto statements, base64,
 * provenance.json, origins and scopes, and attest's EVENT KEY=VALUE...
 * (one per line). Each input is tried as all of them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "verify/attest_int.h"
#include "verify/dsse.h"

static void as_json(const char *data, size_t size) {
  struct dsse_envelope env;
  struct attest_event ev;
  json_t *j = NULL;
  ctr_err err = NULL;

  if (dsse_parse(data, size, &env, &err) == 0) {
    size_t len;
    char *pae = dsse_pae(env.payload_type, env.payload, env.payload_len, &len);
    free(pae);
    if (attest_statement_parse(env.payload, env.payload_len, &ev, &err) == 0)
      attest_event_free(&ev);
    dsse_free(&env);
  }
  ctr_err_free(&err);
  if (attest_statement_parse(data, size, &ev, &err) == 0) {
    char *o = origin_of_event(&ev);
    if (origin_valid(data))
      origin_matches(data, &ev);
    free(o);
    attest_event_free(&ev);
  }
  ctr_err_free(&err);
  if (origin_policy_parse(data, size, &j, &err) == 0)
    json_decref(j);
  ctr_err_free(&err);
}

static void as_text(const char *s) {
  char *out = NULL, **scopes;
  size_t len;
  ctr_err err = NULL;

  if (dsse_b64_decode(s, &out, &len, &err) == 0) {
    char *back = dsse_b64_encode(out, len);
    free(back);
    free(out);
  }
  ctr_err_free(&err);
  origin_valid(s);
  origin_scope_valid(s);
  scopes = origin_scopes_for(s);
  origin_scopes_free(scopes);
}

/* EVENT\nKEY=VALUE\n... */
static void as_params(char *s) {
  char *argv[40], *line;
  size_t n = 0;
  json_t *params = NULL;
  ctr_err err = NULL;

  for (line = strtok(s, "\n"); line != NULL && n < 40; line = strtok(NULL, "\n"))
    argv[n++] = line;
  if (n == 0)
    return;
  if (attest_params_parse(argv[0], argv + 1, n - 1, &params, &err) == 0) {
    struct attest_event ev = {0};
    json_t *st;
    ev.event = argv[0];
    ev.subject = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    ev.name = "";
    ev.time = "2026-01-01T00:00:00Z";
    ev.sequence = 1;
    ev.params = params;
    st = attest_statement_build(&ev, "fuzz");
    json_decref(st);
    json_decref(params);
  }
  ctr_err_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  as_json(s, size);
  as_text(s);
  as_params(s);
  free(s);
  return 0;
}
