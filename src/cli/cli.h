/*
 * cli.h — the command-line layer: one function per subcommand
 * (src/cli/cmd_<name>.c), parsing helpers that name the option and the
 * expected value, and the bundled default task.  Only this layer prints for
 * the user and ends the process; everything it runs is a library call.
 */
#ifndef TTP_CLI_H
#define TTP_CLI_H

#include <getopt.h>

#include "ttp_core.h"
#include "ttp_train.h"

typedef struct ttp_cli {
    ttp_ctx *ctx;
    ttp_comm *comm; /* MPI_COMM_WORLD through mpi/ttp_mpi.h */
    const char *prog;
} ttp_cli;

/* Each subcommand: argv[0] is the subcommand's name; returns TTP_OK or the
 * failing status with ctx holding the message (main prints it and ends all
 * ranks).  `--help` prints usage and returns TTP_OK. */
ttp_status ttp_cmd_info(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_convert(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_train(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_kernel(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_predict(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_validate(ttp_cli *cli, int argc, char **argv);

/* The optimizer options shared by train, predict and validate: include
 * TTP_CLI_OPT_OPTIONS in a getopt_long table and hand every code to
 * ttp_cli_opt_option, which says whether it was one of them. */
enum {
    TTP_CLI_O_LOSS = 200, TTP_CLI_O_LR, TTP_CLI_O_BATCH, TTP_CLI_O_MOM, TTP_CLI_O_NEST, TTP_CLI_O_WD,
    TTP_CLI_O_STEPS, TTP_CLI_O_SEED
};
#define TTP_CLI_OPT_OPTIONS                                                                   \
    {"loss", required_argument, NULL, TTP_CLI_O_LOSS}, {"lr", required_argument, NULL, TTP_CLI_O_LR}, \
        {"batch", required_argument, NULL, TTP_CLI_O_BATCH},                                  \
        {"momentum", required_argument, NULL, TTP_CLI_O_MOM},                                 \
        {"nesterov", no_argument, NULL, TTP_CLI_O_NEST},                                      \
        {"wd", required_argument, NULL, TTP_CLI_O_WD},                                        \
        {"steps", required_argument, NULL, TTP_CLI_O_STEPS},                                  \
        {"seed", required_argument, NULL, TTP_CLI_O_SEED}
/* Help text for those options (identical for every command). */
#define TTP_CLI_OPT_HELP                                                                      \
    "  --loss mse|ce         ½‖f − onehot(y)‖² or cross-entropy (default ce)\n"               \
    "  --lr X                learning rate > 0 (default 0.01)\n"                              \
    "  --batch B             batch size in 1..N; omitted (or N): full-batch gradient descent\n" \
    "  --momentum M          heavy-ball momentum in [0, 1) (default 0)\n"                      \
    "  --nesterov            Nesterov momentum\n"                                              \
    "  --wd L                weight decay >= 0 (default 0)\n"                                  \
    "  --steps T             optimizer steps T >= 1 (default 150)\n"                           \
    "  --seed S              seed of the batch permutations (default 1)\n"
/* Parse one option code into o; *handled = 0 (and TTP_OK) when c is not an
 * optimizer option.  steps_min is 1, or 0 where zero steps mean something. */
ttp_status ttp_cli_opt_option(ttp_ctx *ctx, int c, const char *arg, int64_t steps_min, ttp_opt *o, int *handled);

/* Option values: parse or fail naming the option and what was expected. */
ttp_status ttp_cli_double(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                          double hi, double *out);
ttp_status ttp_cli_int(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                       int64_t *out);
/* Comma-separated list of doubles / ints ("0.01,0.02"); *n receives the count. */
ttp_status ttp_cli_double_list(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                               double hi, double *out, int cap, int *n);
ttp_status ttp_cli_int_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                            int64_t *out, int cap, int *n);
/* Training-time definitions "rel:0.05,eps:0.01" (ttp_tt_def_parse each),
 * with the given smoothing window; errors name the option. */
struct ttp_tt_def;
ttp_status ttp_cli_tt_list(ttp_ctx *ctx, const char *opt, const char *val, int smooth, struct ttp_tt_def *out, int cap,
                           int *n);
/* An unknown option or a missing value (getopt's '?' or ':'). */
ttp_status ttp_cli_bad_option(ttp_ctx *ctx, const char *cmd, const char *arg);
/* Before any heavy work: the directory of an output file (or, is_dir, the
 * report directory or its parent) must exist and be writable. */
ttp_status ttp_cli_check_output(ttp_ctx *ctx, const char *opt, const char *path, int is_dir);
/* Print "ttpredict <cmd> <version>" and return TTP_OK. */
ttp_status ttp_cli_version(const char *cmd);

/* The bundled default task: data/default-data.nc (digits 5–9, 150 images
 * each) and data/default-model.nc (a small ResNet pretrained on digits 0–4,
 * with a fresh 5-class head).  Looked up in $TTP_DATA_DIR, then in the
 * source tree's data/ (compiled in), then next to the executable. */
const char *ttp_cli_default_data(void);
const char *ttp_cli_default_model(void);

#endif /* TTP_CLI_H */
