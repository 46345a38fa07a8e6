/*
 * cli.h — the command-line layer: one function per subcommand
 * (src/cli/cmd_<name>.c), parsing helpers that name the option and the
 * expected value, and the bundled default task.  Only this layer prints for
 * the user and ends the process; everything it runs is a library call.
 */
#ifndef TTP_CLI_H
#define TTP_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "ttp_core.h"
#include "ttp_path.h"
#include "ttp_task.h"
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
ttp_status ttp_cmd_sweep(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_validate(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_split(ttp_cli *cli, int argc, char **argv);
ttp_status ttp_cmd_plan(ttp_cli *cli, int argc, char **argv);

/*
 * Option groups shared by the commands, so that a flag name means one thing
 * everywhere: model/data, optimizer (train, predict, validate), kernel
 * (kernel, predict, validate), prediction (predict, sweep), output, and the
 * common -v/-q/-h/--version.
 * Include the groups' entries in a getopt_long table (short options
 * TTP_CLI_SHORT) and hand every code to ttp_cli_shared_option, which says
 * whether it was one of them.
 */
enum {
    TTP_CLI_O_LOSS = 200,
    TTP_CLI_O_LR,
    TTP_CLI_O_BATCH,
    TTP_CLI_O_MOM,
    TTP_CLI_O_NEST,
    TTP_CLI_O_WD,
    TTP_CLI_O_STEPS,
    TTP_CLI_O_SEED,
    TTP_CLI_O_MODEL,
    TTP_CLI_O_DATA,
    TTP_CLI_O_PROJ,
    TTP_CLI_O_DPROJ,
    TTP_CLI_O_PSEED,
    TTP_CLI_O_BACKEND,
    TTP_CLI_O_BLOCK,
    TTP_CLI_O_TOPK,
    TTP_CLI_O_OUT,
    TTP_CLI_O_JSON,
    TTP_CLI_O_REPORT,
    TTP_CLI_O_VERSION,
    TTP_CLI_O_TRAINLAYERS,
    TTP_CLI_O_TASK,
    TTP_CLI_O_TT,
    TTP_CLI_O_SMOOTH,
    TTP_CLI_O_ENS,
    TTP_CLI_O_BAND,
    TTP_CLI_O_KERNEL,
    TTP_CLI_O_SAVEK,
    TTP_CLI_O_SUBSET,
    TTP_CLI_O_TSTEPS,
    TTP_CLI_O_STIMING,
    TTP_CLI_O_MEM,
    TTP_CLI_O_FIRST_OWN /* a command's own codes start here */
};
#define TTP_CLI_SHORT ":hvq"
/* The option tables stay as aligned rows (clang-format would split them). */
// clang-format off
#define TTP_CLI_TASK_OPTIONS \
    {"model", required_argument, NULL, TTP_CLI_O_MODEL}, {"data", required_argument, NULL, TTP_CLI_O_DATA}, \
        {"train-layers", required_argument, NULL, TTP_CLI_O_TRAINLAYERS}, \
        {"task", required_argument, NULL, TTP_CLI_O_TASK}
#define TTP_CLI_OPT_OPTIONS                                                                   \
    {"loss", required_argument, NULL, TTP_CLI_O_LOSS}, {"lr", required_argument, NULL, TTP_CLI_O_LR}, \
        {"batch", required_argument, NULL, TTP_CLI_O_BATCH},                                  \
        {"momentum", required_argument, NULL, TTP_CLI_O_MOM},                                 \
        {"nesterov", no_argument, NULL, TTP_CLI_O_NEST},                                      \
        {"wd", required_argument, NULL, TTP_CLI_O_WD},                                        \
        {"steps", required_argument, NULL, TTP_CLI_O_STEPS},                                  \
        {"seed", required_argument, NULL, TTP_CLI_O_SEED}
#define TTP_CLI_KERNEL_OPTIONS                                                                  \
    {"proj", required_argument, NULL, TTP_CLI_O_PROJ}, {"dproj", required_argument, NULL, TTP_CLI_O_DPROJ}, \
        {"proj-seed", required_argument, NULL, TTP_CLI_O_PSEED},                                \
        {"backend", required_argument, NULL, TTP_CLI_O_BACKEND},                                \
        {"block", required_argument, NULL, TTP_CLI_O_BLOCK}, {"top-k", required_argument, NULL, TTP_CLI_O_TOPK}
/* The prediction options of predict and sweep (ttp_cli_predict_option). */
#define TTP_CLI_PREDICT_OPTIONS                                                               \
    {"tt", required_argument, NULL, TTP_CLI_O_TT}, {"smooth", required_argument, NULL, TTP_CLI_O_SMOOTH}, \
        {"ensemble", required_argument, NULL, TTP_CLI_O_ENS},                                 \
        {"band", required_argument, NULL, TTP_CLI_O_BAND},                                    \
        {"kernel", required_argument, NULL, TTP_CLI_O_KERNEL},                                \
        {"save-kernel", required_argument, NULL, TTP_CLI_O_SAVEK},                            \
        {"subset", required_argument, NULL, TTP_CLI_O_SUBSET},                                \
        {"time-steps", required_argument, NULL, TTP_CLI_O_TSTEPS},                            \
        {"step-timing", required_argument, NULL, TTP_CLI_O_STIMING},                          \
        {"mem-per-rank", required_argument, NULL, TTP_CLI_O_MEM}
#define TTP_CLI_OUT_OPTION {"out", required_argument, NULL, TTP_CLI_O_OUT}
#define TTP_CLI_JSON_OPTION {"json", required_argument, NULL, TTP_CLI_O_JSON}
#define TTP_CLI_REPORT_OPTION {"report", required_argument, NULL, TTP_CLI_O_REPORT}
#define TTP_CLI_COMMON_OPTIONS                                                                \
    {"verbose", no_argument, NULL, 'v'}, {"quiet", no_argument, NULL, 'q'},                   \
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, TTP_CLI_O_VERSION}
// clang-format on

/* What the shared groups set besides the library's option structs. */
typedef struct ttp_cli_args {
    const char *model, *data;        /* NULL: the bundled task            */
    const ttp_task_info *task;       /* --task; NULL: the default task    */
    const char *train_layers;        /* NULL: as the model file marks them */
    const char *out, *json, *report; /* NULL: not written                */
    int verbose;                     /* -1: the command's default; 0 -q; 1 -v */
    int help, version;
} ttp_cli_args;

/* Zero everything, verbose -1. */
void ttp_cli_args_init(ttp_cli_args *a);
/*
 * Parse one option code of a shared group: task, output and common always;
 * optimizer into o and kernel into k when given (NULL: the command has no
 * such group).  steps_min is 1, or 0 where zero steps mean something.
 * *handled = 0 (and TTP_OK) when c is none of them.
 */
struct ttp_kernel_opts;
ttp_status ttp_cli_shared_option(ttp_ctx *ctx, int c, const char *arg, ttp_cli_args *a, ttp_opt *o,
                                 int64_t steps_min, struct ttp_kernel_opts *k, int *handled);
/*
 * Parse one option code of TTP_CLI_PREDICT_OPTIONS into o; --smooth goes to
 * *smooth (applied to every --tt definition once all options are read).
 * *handled = 0 (and TTP_OK) when c is none of them.
 */
struct ttp_predict_opts;
ttp_status ttp_cli_predict_option(ttp_ctx *ctx, int c, const char *arg, struct ttp_predict_opts *o,
                                  int *smooth, int *handled);
/*
 * After the options of predict or sweep: the model and data (the bundled
 * task unless given) into o->kernel's model_path and data_path, the
 * verbosity (default on), and every input and output path of the run
 * checked before any file is read.
 */
ttp_status ttp_cli_predict_paths(ttp_ctx *ctx, const ttp_cli_args *a, struct ttp_predict_opts *o);
/* --train-layers, when given, on a loaded model (after --new-head). */
ttp_status ttp_cli_train_layers(ttp_ctx *ctx, const ttp_cli_args *a, ttp_model *m);
/* The verbosity asked for, or the command's default (1 for the commands
 * whose progress lines are on unless -q, 0 for those off unless -v). */
int ttp_cli_verbosity(const ttp_cli_args *a, int dflt);

/*
 * Help, one layout for every command: a section heading ("model and data:"),
 * then one line per option with its description after TTP_CLI_HELP_COL
 * characters; a description's further lines ('\n' inside it) are indented
 * as far.  tests/cli_docs.sh reads the options from that column.  The shared groups print themselves, their
 * defaults taken from the library's own _default structs.
 */
#define TTP_CLI_HELP_COL 24
void ttp_cli_help_section(FILE *f, const char *heading);
void ttp_cli_help_line(FILE *f, const char *opt, const char *fmt, ...);
void ttp_cli_help_task(FILE *f);
void ttp_cli_help_opt(FILE *f, const ttp_opt *dflt);
void ttp_cli_help_kernel(FILE *f, const struct ttp_kernel_opts *dflt, const char *proj_default);
/* -v, -q (verbose_default says which is the default), -h, --version. */
void ttp_cli_help_common(FILE *f, int verbose_default);

/*
 * Library messages name option fields ("option dproj: ..."); a user of the
 * command line typed flags.  Rewrite, in place, every field named after
 * "option " / "options " (several joined by '/') to its flag ("--dproj"),
 * from one table of field → flag.
 */
void ttp_cli_flag_names(char *msg, size_t cap);

/* Option values: parse or fail naming the option and what was expected. */
ttp_status ttp_cli_double(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl, double hi,
                          double *out);
ttp_status ttp_cli_int(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi, int64_t *out);
/* A size in bytes: a number with an optional K, M, G or T suffix (powers of
 * 1024), e.g. "8G"; must be > 0. */
ttp_status ttp_cli_bytes(ttp_ctx *ctx, const char *opt, const char *val, double *out);
/* Help of the run options of kernel and predict: --mem-per-rank, and with
 * checkpoint set --checkpoint and --resume. */
void ttp_cli_help_run(FILE *f, int checkpoint);
/* The test hook TTP_TEST_KILL_AFTER_BLOCK=k from the environment (0 when
 * unset): the kernel stage fails after its k-th checkpointed Jacobian
 * block, as a killed run would stop (tests/cli_resume.sh). */
int ttp_cli_test_stop_after_block(void);
/* Comma-separated list of doubles / ints ("0.01,0.02"); *n receives the count. */
ttp_status ttp_cli_double_list(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                               double hi, double *out, int cap, int *n);
ttp_status ttp_cli_int_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                            int64_t *out, int cap, int *n);
/* Comma-separated integers and ranges ("0-4,7"), each in [lo, hi]; ranges
 * are expanded in order; at most cap values; *n receives the count. */
ttp_status ttp_cli_range_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                              int *out, int cap, int *n);
/* Training-time definitions "rel:0.05,eps:0.01" (ttp_tt_def_parse each),
 * with the given smoothing window; errors name the option. */
struct ttp_tt_def;
ttp_status ttp_cli_tt_list(ttp_ctx *ctx, const char *opt, const char *val, int smooth, struct ttp_tt_def *out,
                           int cap, int *n);
/* --relinearize K|auto|kernel|kernel:K (docs/METHOD.md 6c, 6d): *every gets
 * K, TTP_RELIN_AUTO or 0 (off), *kernel 1 for the function-space variant. */
ttp_status ttp_cli_relinearize(ttp_ctx *ctx, const char *val, int64_t *every, int *kernel);
/* An unknown option or a missing value (getopt's '?' or ':'). */
ttp_status ttp_cli_bad_option(ttp_ctx *ctx, const char *cmd, const char *arg);
/* Print "ttpredict <cmd> <version>" and return TTP_OK. */
ttp_status ttp_cli_version(const char *cmd);

/* The bundled task's files (ttp_task.h): the one --task named, else the
 * default task (data/default-model.nc, a small ResNet pretrained on digits
 * 0–4 with a fresh 5-class head; data/default-data.nc, digits 5–9, 150
 * images each).  Looked up in $TTP_DATA_DIR, then in the source tree's data/
 * (compiled in), then in ../share/ttpredict next to the executable. */
const char *ttp_cli_default_data(const ttp_cli_args *a);
const char *ttp_cli_default_model(const ttp_cli_args *a);

#endif /* TTP_CLI_H */
