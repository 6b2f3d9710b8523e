/* libFuzzer target: network definitions come from outside (a conflist a
 * person or another tool wrote under $CTR_ROOT/networks, a --subnet or
 * --gateway on a command line), so the conflist loader and the CIDR and
 * address parsers must take any bytes. Invariants checked: what parses
 * formats back to the same text, and a loaded ctr-net network has a
 * gateway that is a host of its subnet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/netconf.h"
#include "net/cidr.h"

static void text_parsers(const char *s) {
  struct net_cidr c;
  char back[NET_CIDR_STRLEN], ip_back[NET_IP4_STRLEN];
  uint32_t ip;
  ctr_err err = NULL;
  if (net_cidr_parse(s, &c, &err) == 0) {
    net_cidr_format(&c, back);
    if (strcmp(back, s) != 0 || (c.addr & ~net_cidr_mask(c.prefix)) != 0)
      abort();
  }
  ctr_err_free(&err);
  if (net_ip4_parse(s, &ip) == 0) {
    net_ip4_format(ip, ip_back);
    if (strcmp(ip_back, s) != 0)
      abort();
  }
  net_name_check(s, &err);
  ctr_err_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  struct net_config cfg;
  ctr_err err = NULL;
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  text_parsers(text);
  if (net_config_parse(NULL, (const char *)data, size, &cfg, &err) == 0) {
    if (cfg.name == NULL || cfg.driver == NULL || cfg.conflist == NULL)
      abort();
    if (cfg.builtin && (!cfg.has_subnet || !net_cidr_is_host(&cfg.subnet, cfg.gateway) ||
                        cfg.bridge[0] == '\0'))
      abort();
    net_config_free(&cfg);
  } else if (err == NULL) {
    abort(); /* a refusal always says why */
  }
  ctr_err_free(&err);
  if (net_config_parse("web", (const char *)data, size, &cfg, &err) == 0)
    net_config_free(&cfg);
  ctr_err_free(&err);
  free(text);
  return 0;
}
