/* The verbs of ctr-verify. bin/ctr-verify.c reads the options before the
 * verb and calls one of these with argv[0] the verb; each parses its own
 * options (CTR_CLI_LONGOPTS included, handled by ctr_cli_common on cli)
 * and returns the exit status (0, or 1 for "rejected"/"not valid"), or
 * -1 with err set. After parsing, each calls ctr_cli_done(cli) and returns
 * 0 when it says so (--help or --version after the verb). */
#ifndef CTR_VERIFY_CMD_H
#define CTR_VERIFY_CMD_H

#include "core/cli.h"
#include "core/error.h"

int verify_cmd_key(struct ctr_cli *cli, int argc, char **argv, ctr_err *err);
int verify_cmd_sign(struct ctr_cli *cli, int argc, char **argv, ctr_err *err);
int verify_cmd_verify(struct ctr_cli *cli, int argc, char **argv, ctr_err *err);
int verify_cmd_policy(struct ctr_cli *cli, int argc, char **argv, ctr_err *err);
int verify_cmd_attest(struct ctr_cli *cli, int argc, char **argv, ctr_err *err);
int verify_cmd_provenance(struct ctr_cli *cli, int argc, char **argv,
                          ctr_err *err);

/* $CTR_ROOT/trust (made 0700 when create), malloc'd. */
char *verify_trust_dir(const struct ctr_paths *paths);
/* $CTR_RUNDIR/trust/keyrings, malloc'd. */
char *verify_keyring_cache(const struct ctr_paths *paths);

#endif
