/* Shared by the verbs' files (lib/verify/cmd_*.c) only. */
#ifndef CTR_VERIFY_CMD_INT_H
#define CTR_VERIFY_CMD_INT_H

#include <getopt.h>

#include "core/cli.h"
#include "core/error.h"

/* Each verb numbers its own long options from CTR_OPT_FIRST_TOOL and
 * reads them with ctr_cli_next_opt (core/cli.h). */
#define VERIFY_OPT_ERROR CTR_CLI_OPT_ERROR
#define verify_next_opt ctr_cli_next_opt

#endif
