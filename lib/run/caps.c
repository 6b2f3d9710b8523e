#define _GNU_SOURCE
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "core/json.h"

static int cap_value(const char *name, cap_value_t *v) {
  char buf[64];
  size_t i;
  if (name == NULL || strlen(name) >= sizeof(buf))
    return -1;
  for (i = 0; name[i]; i++)
    buf[i] = (char)tolower((unsigned char)name[i]);
  buf[i] = '\0';
  return cap_from_name(buf, v);
}

static bool has(const json_t *list, cap_value_t want) {
  size_t i;
  json_t *n;
  json_array_foreach(list, i, n) {
    cap_value_t v;
    if (cap_value(json_string_value(n), &v) == 0 && v == want)
      return true;
  }
  return false;
}

static int check_names(const json_t *caps, ctr_err *err) {
  const char *set;
  json_t *list;
  json_object_foreach((json_t *)caps, set, list) {
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n) {
      cap_value_t v;
      if (cap_value(json_string_value(n), &v) < 0)
        return ctr_fail(err, 0, "unknown capability %s in %s",
                        json_string_value(n) ? json_string_value(n) : "(not a string)", set);
    }
  }
  return 0;
}

int run_caps_bound(const json_t *caps, ctr_err *err) {
  const json_t *bounding = json_object_get(caps, "bounding");
  if (check_names(caps, err) < 0)
    return -1;
  for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
    if (has(bounding, v))
      continue;
    if (prctl(PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL)
      return ctr_fail(err, errno, "drop capability %d from the bounding set", v);
  }
  return 0;
}

int run_caps_apply(const json_t *caps, ctr_err *err) {
  static const struct {
    const char *key;
    cap_flag_t flag;
  } sets[] = {{"effective", CAP_EFFECTIVE},
              {"permitted", CAP_PERMITTED},
              {"inheritable", CAP_INHERITABLE}};
  const json_t *ambient = json_object_get(caps, "ambient");
  cap_t c = cap_init();
  int ret = 0;
  if (c == NULL)
    return ctr_fail(err, errno, "capabilities");
  for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
    for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++)
      if (has(json_object_get(caps, sets[s].key), v))
        cap_set_flag(c, sets[s].flag, 1, &v, CAP_SET);
  if (cap_set_proc(c) < 0)
    ret = ctr_fail(err, errno, "set capabilities");
  cap_free(c);
  if (ret < 0)
    return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return ctr_fail(err, errno, "clear ambient capabilities");
  for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++)
    if (has(ambient, v) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) < 0)
      return ctr_fail(err, errno, "raise ambient capability %d", v);
  return 0;
}
