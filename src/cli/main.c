/*
 * main.c — the ttpredict command: starts MPI, dispatches to a subcommand,
 * and is the one place that ends the process.  On failure the failing rank
 * prints its message and trace and ends every rank with MPI_Abort, so no
 * rank is left waiting in a collective.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_mpi.h"

typedef struct {
    const char *name;
    ttp_status (*run)(ttp_cli *, int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"predict", ttp_cmd_predict,
     "predict the steps (and wall-clock time) fine-tuning takes to converge, with a band"},
    {"sweep", ttp_cmd_sweep, "predict many optimizer settings from one kernel, sorted by wall-clock"},
    {"kernel", ttp_cmd_kernel, "build the projected empirical NTK and its spectrum with ScaLAPACK"},
    {"train", ttp_cmd_train, "fine-tune for real (the ground truth), recording loss and accuracy"},
    {"validate", ttp_cmd_validate, "run train and predict over a grid and report their agreement"},
    {"info", ttp_cmd_info, "describe a dataset, model, kernel or result file"},
    {"convert", ttp_cmd_convert, "make a dataset file from IDX (MNIST-style), CSV or .npy files"},
    {"split", ttp_cmd_split, "make dataset files from classes, fractions or N per class of one"},
    {"plan", ttp_cmd_plan, "estimate memory per rank and time of predict or kernel before running it"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: [mpirun -np P] ttpredict <command> [options]\n"
               "\n"
               "Predict how many optimizer steps fine-tuning a pretrained network will take,\n"
               "without training it: the network is linearized at its pretrained weights, the\n"
               "empirical neural tangent kernel of the training set is built across MPI ranks,\n"
               "and the linearized training dynamics are simulated.\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "With no --model/--data every command uses the bundled default task: a small\n"
               "ResNet pretrained on 8x8 digits 0-4, fine-tuned on digits 5-9 (150 each).\n"
               "\n"
               "  ttpredict <command> --help     options of one command\n"
               "  ttpredict --version\n");
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_comm comm;
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_status st = ttp_mpi_init(&ctx, &argc, &argv);
    if (st != TTP_OK) {
        fprintf(stderr, "ttpredict: error: %s\n", ctx.msg);
        return 1;
    }
    ttp_mpi_comm(&comm, &world);
    ctx.rank = comm.rank;
    ttp_cli cli = {&ctx, &comm, argv[0]};

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (comm.rank == 0) usage(argc < 2 ? stderr : stdout);
        ttp_mpi_finalize();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (comm.rank == 0) ttp_cli_version(NULL);
        ttp_mpi_finalize();
        return 0;
    }
    const command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
    if (cmd == NULL) {
        st = TTP_ERR(&ctx, TTP_ERR_ARG,
                     "unknown command '%s' (expected one of: predict, sweep, kernel, "
                     "train, validate, info, convert, split, plan; see 'ttpredict --help')",
                     argv[1]);
    } else {
        st = cmd->run(&cli, argc - 1, argv + 1);
    }
    if (st != TTP_OK) {
        /* The library names option fields; the user typed flags. */
        ttp_cli_flag_names(ctx.msg, sizeof ctx.msg);
        /* Option errors are found identically on every rank: rank 0 speaks
         * for all.  Anything else may be one rank's alone, so it says which. */
        if (comm.size == 1)
            fprintf(stderr, "ttpredict: error: %s\n", ctx.msg);
        else if (st != TTP_ERR_ARG || comm.rank == 0)
            fprintf(stderr, "ttpredict: error on rank %d: %s\n", comm.rank, ctx.msg);
        if (getenv("TTP_TRACE")) fprintf(stderr, "%s", ctx.trace);
        fflush(stderr);
        /* One failing rank must not leave the others waiting in a collective. */
        if (comm.size > 1) ttp_mpi_abort(st == TTP_ERR_ARG ? 2 : 1);
        ttp_mpi_finalize();
        return st == TTP_ERR_ARG ? 2 : 1;
    }
    ttp_mpi_finalize();
    return 0;
}
