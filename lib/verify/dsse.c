/* DSSE v1: the envelope and the pre-authentication encoding. The
 * signature covers PAE(payloadType, payload), never the JSON around it,
 * so the envelope's own formatting cannot be used to confuse a verifier. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "verify/dsse.h"

char *dsse_pae(const char *type, const void *body, size_t len, size_t *outlen) {
  char head[64 + 32];
  size_t tlen = strlen(type);
  int hn, mn;
  char *out, *p;

  hn = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
  out = malloc((size_t)hn + tlen + 48 + len);
  if (out == NULL)
    return NULL;
  p = out;
  memcpy(p, head, (size_t)hn);
  p += hn;
  memcpy(p, type, tlen);
  p += tlen;
  mn = sprintf(p, " %zu ", len);
  p += mn;
  if (len > 0)
    memcpy(p, body, len);
  p += len;
  *outlen = (size_t)(p - out);
  return out;
}

char *dsse_b64_encode(const void *buf, size_t len) {
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (out == NULL)
    return NULL;
  EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
  return out;
}

int dsse_b64_decode(const char *s, char **out, size_t *outlen, ctr_err *err) {
  size_t n = strlen(s), pad = 0, body;
  cleanup_free char *std = NULL;
  cleanup_free unsigned char *bin = NULL;
  int got;

  while (n > 0 && s[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (n % 4 == 1 || n > (size_t)DSSE_MAX * 2)
    return ctr_fail(err, 0, "bad base64");
  /* Padding present must be exactly what the length asks for. */
  if (pad != 0 && (n + pad) % 4 != 0)
    return ctr_fail(err, 0, "bad base64");
  std = malloc(n + 4);
  if (std == NULL)
    return ctr_fail(err, ENOMEM, "base64");
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return ctr_fail(err, 0, "bad base64");
    std[i] = c;
  }
  body = n;
  while (body % 4 != 0)
    std[body++] = '=';
  std[body] = '\0';
  bin = malloc(body / 4 * 3 + 1);
  if (bin == NULL)
    return ctr_fail(err, ENOMEM, "base64");
  got = body == 0 ? 0
                  : EVP_DecodeBlock(bin, (unsigned char *)std, (int)body);
  if (got < 0)
    return ctr_fail(err, 0, "bad base64");
  /* EVP_DecodeBlock counts the padding's zero bytes too. */
  got -= (int)(body - n);
  bin[got] = '\0';
  *outlen = (size_t)got;
  *out = (char *)ctr_steal(bin);
  return 0;
}

void dsse_free(struct dsse_envelope *env) {
  for (size_t i = 0; i < env->nsigs; i++) {
    free(env->sigs[i].keyid);
    free(env->sigs[i].sig);
  }
  free(env->sigs);
  free(env->payload_type);
  free(env->payload);
  memset(env, 0, sizeof(*env));
}

static int parse_sig(const json_t *js, struct dsse_sig *sig, ctr_err *err) {
  const char *key;
  json_t *v;

  if (!json_is_object(js))
    return ctr_fail(err, 0, "signature is not an object");
  json_object_foreach((json_t *)js, key, v) {
    if (strcmp(key, "sig") != 0 && strcmp(key, "keyid") != 0)
      return ctr_fail(err, 0, "unknown member \"%s\" in a signature", key);
    if (!json_is_string(v))
      return ctr_fail(err, 0, "signature member \"%s\" is not a string", key);
  }
  if (json_object_get(js, "sig") == NULL)
    return ctr_fail(err, 0, "signature without \"sig\"");
  key = ctr_json_str(js, "keyid");
  sig->keyid = strdup(key ? key : "");
  if (sig->keyid == NULL)
    return ctr_fail(err, ENOMEM, "envelope");
  if (dsse_b64_decode(ctr_json_str(js, "sig"), &sig->sig, &sig->siglen,
                      err) < 0)
    return ctr_wrap(err, "signature");
  if (sig->siglen == 0)
    return ctr_fail(err, 0, "empty signature");
  return 0;
}

int dsse_parse(const char *buf, size_t len, struct dsse_envelope *env,
               ctr_err *err) {
  cleanup_json json_t *j = NULL;
  const char *key, *type, *payload;
  json_t *v, *sigs;
  size_t i;

  memset(env, 0, sizeof(*env));
  if (ctr_json_parse_object(buf, len, "envelope", &j, err) < 0)
    return -1;
  json_object_foreach(j, key, v) {
    if (strcmp(key, "payloadType") != 0 && strcmp(key, "payload") != 0 &&
        strcmp(key, "signatures") != 0)
      return ctr_fail(err, 0, "envelope: unknown member \"%s\"", key);
  }
  type = ctr_json_str(j, "payloadType");
  payload = ctr_json_str(j, "payload");
  sigs = json_object_get(j, "signatures");
  if (type == NULL || payload == NULL)
    return ctr_fail(err, 0, "envelope: payloadType and payload must be strings");
  if (!json_is_array(sigs))
    return ctr_fail(err, 0, "envelope: signatures must be an array");
  env->payload_type = strdup(type);
  if (env->payload_type == NULL)
    return ctr_fail(err, ENOMEM, "envelope");
  if (dsse_b64_decode(payload, &env->payload, &env->payload_len, err) < 0) {
    dsse_free(env);
    return ctr_wrap(err, "envelope payload");
  }
  env->sigs = calloc(json_array_size(sigs) + 1, sizeof(*env->sigs));
  if (env->sigs == NULL) {
    dsse_free(env);
    return ctr_fail(err, ENOMEM, "envelope");
  }
  json_array_foreach(sigs, i, v) {
    env->nsigs++;
    if (parse_sig(v, &env->sigs[i], err) < 0) {
      dsse_free(env);
      return ctr_wrap(err, "envelope");
    }
  }
  return 0;
}

json_t *dsse_build(const char *type, const void *payload, size_t len,
                   const char *keyid, const void *sig, size_t siglen) {
  cleanup_free char *p64 = dsse_b64_encode(payload, len);
  cleanup_free char *s64 = NULL;
  json_t *sigs = json_array();

  if (p64 == NULL || sigs == NULL) {
    json_decref(sigs);
    return NULL;
  }
  if (sig != NULL) {
    s64 = dsse_b64_encode(sig, siglen);
    if (s64 == NULL ||
        json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", keyid,
                                              "sig", s64)) < 0) {
      json_decref(sigs);
      return NULL;
    }
  }
  return json_pack("{s:s, s:s, s:o}", "payloadType", type, "payload", p64,
                   "signatures", sigs);
}
