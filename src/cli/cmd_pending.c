/*
 * cmd_pending.c — subcommands whose stage is not built yet answer so,
 * clearly, instead of pretending.  Each entry leaves this file when its
 * module lands (src/cli/cmd_<name>.c).
 */
#include "cli.h"

static ttp_status pending(ttp_cli *cli, const char *name)
{
    return TTP_ERR(cli->ctx, TTP_ERR_UNSUPPORTED, "ttpredict %s: not available yet in this build", name);
}

ttp_status ttp_cmd_validate(ttp_cli *cli, int argc, char **argv)
{
    (void)argc, (void)argv;
    return pending(cli, "validate");
}
