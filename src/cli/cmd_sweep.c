/*
 * cmd_sweep.c — `ttpredict sweep`: options → ttp_sweep_run → the table
 * sorted by wall-clock, JSON, NetCDF and report.  Only rank 0 prints and
 * writes.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_sweep.h"

static void usage(FILE *f)
{
    ttp_sweep_opts d;
    ttp_sweep_opts_default(&d);
    fprintf(f, "usage: [mpirun -np P] ttpredict sweep [options]\n"
               "\n"
               "Predict many optimizer settings from one kernel: every combination of the lists below,\n"
               "each with the checks and warnings of 'predict' (stability, blow-up, faithfulness),\n"
               "sorted by predicted wall-clock, and the soonest valid setting within a budget.  The\n"
               "kernel is built once (or read with --kernel); each setting then costs its dynamics.\n");
    ttp_cli_help_task(f);
    ttp_cli_help_opt(f, &d.base.opt);
    ttp_cli_help_section(f, "the grid (a list overrides its single-value option; at most "
                            "256 combinations)");
    ttp_cli_help_line(f, "--lrs LIST", "learning rates, e.g. 0.005,0.01,0.02");
    ttp_cli_help_line(f, "--batches LIST", "batch sizes in 0..N (0 or N: full batch)");
    ttp_cli_help_line(f, "--momenta LIST", "momentum values in [0, 1)");
    ttp_cli_help_line(f, "--wds LIST", "weight decays >= 0");
    ttp_cli_help_line(f, "--steps LIST", "step budgets T (a single T as for predict, or a list)");
    ttp_cli_help_line(f, "--budget SECONDS",
                      "pick the soonest valid setting whose predicted wall-clock\n"
                      "to the target is within SECONDS (needs --time-steps > 0)");
    ttp_cli_help_line(f, "--budget-steps T", "the same with a budget in optimizer steps");
    ttp_cli_help_line(f, "--faith all|best",
                      "measure the linearization's faithfulness for every setting\n"
                      "(all, the default: each row is what predict gives) or, in\n"
                      "table order, only until the best setting is found (best:\n"
                      "the same answer, cheaper; the other rows say not checked)");
    ttp_cli_help_section(f, "training time (the target)");
    ttp_cli_help_line(f, "--tt LIST",
                      "definitions as for predict, the first is the target (default\n"
                      "rel:%g); loss:V asks for the first setting to reach loss V",
                      d.base.tt[0].value);
    ttp_cli_help_line(f, "--smooth W", "trailing moving average over W steps (default %d)",
                      d.base.tt[0].smooth);
    ttp_cli_help_line(f, "--ensemble M", "SGD trajectories per setting (default %d)", d.base.sim.ensemble);
    ttp_cli_help_line(f, "--band LO,HI", "band quantiles (default %g,%g)", d.base.sim.band_lo,
                      d.base.sim.band_hi);
    ttp_cli_help_kernel(f, &d.base.kernel, ttp_proj_kind_str(d.base.kernel.proj));
    ttp_cli_help_line(f, "--kernel FILE", "reuse a kernel from 'ttpredict kernel --vectors'");
    ttp_cli_help_line(f, "--save-kernel FILE", "also write the kernel built here");
    ttp_cli_help_line(f, "--subset N0", "build the kernel on N0 samples (stratified) and extrapolate to N");
    ttp_cli_help_run(f, 0);
    ttp_cli_help_section(f, "output (rank 0)");
    ttp_cli_help_line(f, "--time-steps R",
                      "timings per distinct batch size for the wall-clock: repetitions\n"
                      "of the probe, or real steps with --step-timing measure\n"
                      "(default %d; 0 = skip, the table is then sorted by steps)",
                      d.base.time_reps);
    ttp_cli_help_line(f, "--step-timing HOW",
                      "model: seconds per step from a probe of two small batches and\n"
                      "the network's cost model (default); measure: time full steps");
    ttp_cli_help_line(f, "--out FILE", "NetCDF result, one row per setting");
    ttp_cli_help_line(f, "--json FILE", "JSON: every setting's numbers and warning, the best setting");
    ttp_cli_help_line(f, "--report DIR", "Markdown report with SVG plots against the learning rate");
    ttp_cli_help_common(f, 1);
}

ttp_status ttp_cmd_sweep(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_sweep_opts o;
    ttp_sweep_opts_default(&o);
    ttp_predict_opts *b = &o.base;
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    int smooth = b->tt[0].smooth;
    enum { O_LRS = TTP_CLI_O_FIRST_OWN, O_BATCHES, O_MOMENTA, O_WDS, O_BUDGET, O_BUDGET_STEPS, O_FAITH };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         TTP_CLI_OPT_OPTIONS,
                                         TTP_CLI_KERNEL_OPTIONS,
                                         TTP_CLI_PREDICT_OPTIONS,
                                         {"lrs", required_argument, NULL, O_LRS},
                                         {"batches", required_argument, NULL, O_BATCHES},
                                         {"momenta", required_argument, NULL, O_MOMENTA},
                                         {"wds", required_argument, NULL, O_WDS},
                                         {"budget", required_argument, NULL, O_BUDGET},
                                         {"budget-steps", required_argument, NULL, O_BUDGET_STEPS},
                                         {"faith", required_argument, NULL, O_FAITH},
                                         TTP_CLI_OUT_OPTION,
                                         TTP_CLI_JSON_OPTION,
                                         TTP_CLI_REPORT_OPTION,
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_LRS:
            TTP_CALL(ctx,
                     ttp_cli_double_list(ctx, "--lrs", optarg, 0, 0, 1e6, o.lrs, TTP_SWEEP_MAX_LIST, &o.nlr));
            break;
        case O_BATCHES:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--batches", optarg, 0, INT64_MAX, o.batches,
                                           TTP_SWEEP_MAX_LIST, &o.nbatch));
            break;
        case O_MOMENTA:
            TTP_CALL(ctx, ttp_cli_double_list(ctx, "--momenta", optarg, 0, 1, 1.0, o.momenta,
                                              TTP_SWEEP_MAX_LIST, &o.nmom));
            for (int i = 0; i < o.nmom; i++)
                if (o.momenta[i] >= 1.0)
                    return TTP_ERR(ctx, TTP_ERR_ARG,
                                   "option --momenta: value %d is %g, expected a value in [0, 1)", i + 1,
                                   o.momenta[i]);
            break;
        case O_WDS:
            TTP_CALL(ctx,
                     ttp_cli_double_list(ctx, "--wds", optarg, 0, 1, 1e6, o.wds, TTP_SWEEP_MAX_LIST, &o.nwd));
            break;
        case TTP_CLI_O_STEPS: /* a list here; one value behaves as for predict */
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--steps", optarg, 1, TTP_MAX_STEPS, o.steps,
                                           TTP_SWEEP_MAX_LIST, &o.nsteps));
            break;
        case O_BUDGET: TTP_CALL(ctx, ttp_cli_double(ctx, "--budget", optarg, 0, 0, 1e12, &o.budget)); break;
        case O_BUDGET_STEPS:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--budget-steps", optarg, 1, TTP_MAX_STEPS, &o.budget_steps));
            break;
        case O_FAITH:
            if (strcmp(optarg, "all") == 0 || strcmp(optarg, "best") == 0)
                o.faith_all = strcmp(optarg, "all") == 0;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --faith: '%s', expected all or best", optarg);
            break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_predict_option(ctx, c, optarg, b, &smooth, &handled));
            if (!handled)
                TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, &b->opt, 1, &b->kernel, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "sweep", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("sweep") : TTP_OK;
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict sweep: unexpected argument '%s' (options start with --)",
                       argv[optind]);
    for (int i = 0; i < b->ntt; i++) b->tt[i].smooth = smooth;
    /* Every option is checked now, before any file is read (the lists
     * against N once the data is read). */
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &b->kernel, 0));
    TTP_CALL(ctx, ttp_sweep_opts_validate(ctx, &o, 0));
    TTP_CALL(ctx, ttp_cli_predict_paths(ctx, &a, b));
    const char *model_path = b->kernel.model_path, *data_path = b->kernel.data_path;
    const char *out = a.out, *json = a.json, *report = a.report;

    ttp_model *m = NULL;
    ttp_data *d = NULL;
    ttp_sweep_result *r = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_sweep_run(ctx, cli->comm, m, d, &o, &r));
    if (cli->comm->rank == 0) {
        ttp_sweep_print(stdout, r, &o);
        if (out) TTP_CALL_GOTO(ctx, st, done, ttp_sweep_write_nc(ctx, out, r, &o));
        if (json) TTP_CALL_GOTO(ctx, st, done, ttp_sweep_write_json(ctx, json, r, &o));
        if (report) TTP_CALL_GOTO(ctx, st, done, ttp_sweep_write_report(ctx, report, r, &o));
        if (out || json || report)
            printf("  written     %s%s%s%s%s%s\n", out ? out : "", out ? " " : "", json ? json : "",
                   json ? " " : "", report ? report : "", report ? "/report.md" : "");
    }
done:
    ttp_sweep_result_destroy(&r);
    ttp_data_destroy(&d);
    ttp_model_destroy(&m);
    return st;
}
