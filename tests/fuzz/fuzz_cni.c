/* libFuzzer target: what a CNI runtime hands ctr-net (the environment's
 * CNI_* variables and the network configuration on stdin) comes from
 * outside, so its parsers must take any bytes. The input is
 *   COMMAND \0 CONTAINERID \0 NETNS \0 IFNAME \0 ARGS \0 STDIN
 * (missing parts are unset variables); a parsed request then goes
 * through what follows parsing without the kernel: the result built on
 * its prevResult, the nft script of its configuration and ports. Lease
 * files and CIDRs take the raw bytes too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/cni.h"
#include "net/ipam.h"
#include "net/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *parts[5] = {NULL, NULL, NULL, NULL, NULL};
  const char *p = (const char *)data, *end = p + size;
  char *copy, *s;
  struct net_cni_env env;
  struct net_cni_request req;
  ctr_err err = NULL;
  copy = malloc(size + 1);
  if (copy == NULL)
    return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  s = copy;
  for (int i = 0; i < 5 && s < copy + size; i++) {
    char *nul = memchr(s, '\0', (size_t)(copy + size - s));
    if (nul == NULL)
      break;
    parts[i] = s;
    s = nul + 1;
  }
  p = (const char *)data + (s - copy);
  env = (struct net_cni_env){parts[0], parts[1], parts[2], parts[3], parts[4], "/usr/lib/cni"};
  if (net_cni_parse(&env, p, (size_t)(end - p), &req, &err) == 0 && req.conf != NULL &&
      req.bridge.name[0] != '\0') {
    struct net_attach_result r = {0};
    json_t *res;
    char *script;
    r.ip = req.bridge.gateway + 1;
    r.prefix = req.bridge.subnet.prefix;
    r.gateway = req.bridge.gateway;
    r.default_route = true;
    res = net_cni_result(&r, req.netns, req.version, req.prev_result);
    json_decref(res);
    script = net_nft_attach_script(&req.bridge, true, "0123456789abcdef", r.ip, req.ports,
                                   req.nports);
    free(script);
  }
  ctr_err_free(&err);
  net_cni_request_free(&req);
  {
    char *id = NULL, *ifname = NULL;
    struct net_cidr c;
    uint32_t ip;
    if (net_lease_parse((const char *)data, size, &id, &ifname) == 0) {
      free(id);
      free(ifname);
    }
    net_cidr_parse(copy, &c, &err);
    ctr_err_free(&err);
    net_ip4_parse(copy, &ip);
  }
  free(copy);
  return 0;
}
