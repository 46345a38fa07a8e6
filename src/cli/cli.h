/*
 * cli.h — the command-line layer: one function per subcommand
 * (src/cli/cmd_<name>.c), parsing helpers that name the option and the
 * expected value, and the bundled default task.  Only this layer prints for
 * the user and ends the process; everything it runs is a library call.
 */
#ifndef TTP_CLI_H
#define TTP_CLI_H

#include "ttp_core.h"

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
