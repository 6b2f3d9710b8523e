/* libFuzzer target: -u is resolved in the image's own /etc/passwd and
 * /etc/group, which the image's author wrote, so the parsers must take
 * any bytes: each input is read as both files and looked up by a few
 * names and ids, including ones the input itself mentions. The host's
 * /etc/subuid and /etc/subgid (--userns auto) have the same shape and
 * get the same treatment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run/user.h"
#include "run/userns.h"

static const char *const names[] = {"root", "nobody", "a", "", "x:y"};
static const long ids[] = {0, 1, 65534, 1000, 4294967294L};

static void lookups(const char *text, const char *name, long id) {
  uid_t uid;
  gid_t gid, groups[4];
  char home[32];
  run_passwd_lookup(text, name, id, &uid, &gid, home, sizeof(home));
  run_passwd_lookup(text, NULL, id, &uid, &gid, NULL, 0);
  run_group_lookup(text, name, id, &gid);
  run_group_lookup(text, NULL, id, &gid);
  run_group_members(text, name, groups, sizeof(groups) / sizeof(groups[0]));
  run_group_members(text, name, groups, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  char first[64];
  size_t n;
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    lookups(text, names[i], ids[i]);
  /* the input's first name, so lookups also hit entries that exist */
  n = strcspn(text, ":\n");
  if (n < sizeof(first)) {
    memcpy(first, text, n);
    first[n] = '\0';
    lookups(text, first, -1);
    {
      uint64_t s[8], c[8];
      size_t k = run_subid_parse(text, first, "0", s, c, 8);
      for (size_t i = 0; i < k; i++)
        if (c[i] == 0 || s[i] + c[i] > 0xffffffffull)
          abort(); /* a range the allocator could not use */
    }
  }
  free(text);
  return 0;
}
