/*
 * cmd_predict.c — `ttpredict predict`: options → ttp_predict_run → the
 * summary, JSON, NetCDF result and report.  Only rank 0 prints and writes.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_predict.h"

static void usage(FILE *f)
{
    ttp_predict_opts d;
    ttp_predict_opts_default(&d);
    fprintf(f, "usage: [mpirun -np P] ttpredict predict [options]\n"
               "\n"
               "Predict how many steps fine-tuning takes to converge, with a band and the wall-clock\n"
               "time, without training: the kernel (empirical NTK) is built across the ranks and the\n"
               "linearized training is simulated on rank 0 (docs/METHOD.md).\n");
    ttp_cli_help_task(f);
    ttp_cli_help_opt(f, &d.opt);
    ttp_cli_help_section(f, "training time");
    ttp_cli_help_line(f, "--tt LIST",
                      "definitions, first is the headline (default rel:%g):\n"
                      "  rel:F   L_t - L_T <= F (L_0 - L_T)\n"
                      "  eps:E   |L_t - L_T| < E (mean loss; the paper's summed-loss\n"
                      "          epsilon is E times N)\n"
                      "  loss:V  L_t <= V          acc:A   accuracy >= A\n"
                      "the time is the first step from which the criterion holds to T",
                      d.tt[0].value);
    ttp_cli_help_line(f, "--smooth W", "trailing moving average over W steps before the test (default %d)",
                      d.tt[0].smooth);
    ttp_cli_help_line(f, "--ensemble M", "SGD trajectories (default %d)", d.sim.ensemble);
    ttp_cli_help_line(f, "--band LO,HI", "band quantiles (default %g,%g)", d.sim.band_lo, d.sim.band_hi);
    ttp_cli_help_kernel(f, &d.kernel, ttp_proj_kind_str(d.kernel.proj));
    ttp_cli_help_line(f, "--kernel FILE",
                      "reuse a kernel from 'ttpredict kernel --vectors' (checked\n"
                      "against the model and data)");
    ttp_cli_help_line(f, "--save-kernel FILE", "also write the kernel built here");
    ttp_cli_help_line(f, "--dproj-raise N",
                      "times D' may be raised %dx where the faithfulness check finds the\n"
                      "projection's own error (kernel gap) at %.0f%% or more of the outputs'\n"
                      "movement (default %d with the automatic projection, 0 with --dproj;\n"
                      "docs/METHOD.md 6l)",
                      TTP_DPROJ_FACTOR, 100 * TTP_FAITH_KGAP_NAMED, TTP_DPROJ_RAISES);
    ttp_cli_help_line(f, "--dynamics auto|eigen|direct",
                      "run the dynamics on Theta's eigenpairs or as products with Theta\n"
                      "(top eigenpairs by Lanczos); auto: fewer flops (default)");
    ttp_cli_help_run(f, 1);
    ttp_cli_help_section(f, "larger datasets");
    ttp_cli_help_line(f, "--subset N0|auto",
                      "build the kernel on N0 samples (stratified) and extrapolate; auto: "
                      "N0 = max(5 |B|, N/2) for SGD when N >= 10 |B|, else all");
    ttp_cli_help_line(f, "--extrapolate LIST", "also predict for these dataset sizes (power-law spectrum)");
    ttp_cli_help_section(f, "output (rank 0)");
    ttp_cli_help_line(f, "--time-steps R",
                      "timings for the wall-clock estimate: repetitions of the probe, or\n"
                      "real steps with --step-timing measure (default %d; 0 = skip)",
                      d.time_reps);
    ttp_cli_help_line(f, "--step-timing HOW",
                      "model: seconds per step from a probe of two small batches and\n"
                      "the network's cost model (default); measure: time full steps");
    ttp_cli_help_line(f, "--relinearize K|real|kernel|kernel:K|auto",
                      "rebuild the kernel at the predicted weights every K steps, or\n"
                      "where the real network leaves the linear model (real), restarting\n"
                      "from its outputs; kernel[:K]: continue in function space, kernels\n"
                      "rebuilt mid-segment (5 segments, or every K steps); auto: kernel,\n"
                      "and real where that is invalid; default %lld = off;\n"
                      "docs/METHOD.md 6c-6e",
                      (long long)d.relin_every);
    ttp_cli_help_line(f, "--out FILE", "NetCDF result (curves, band, spectrum, settings)");
    ttp_cli_help_line(f, "--json FILE", "JSON summary (tt_steps, tt_steps_lo, tt_steps_hi, final_loss, ...)");
    ttp_cli_help_line(f, "--report DIR", "Markdown report with SVG plots");
    ttp_cli_help_common(f, 1);
}

ttp_status ttp_cmd_predict(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_predict_opts o;
    ttp_predict_opts_default(&o);
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    int smooth = o.tt[0].smooth;
    enum { O_EXTRAP = TTP_CLI_O_FIRST_OWN, O_RELIN, O_DYN, O_CKPT, O_RESUME, O_DRAISE };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         TTP_CLI_OPT_OPTIONS,
                                         TTP_CLI_KERNEL_OPTIONS,
                                         TTP_CLI_PREDICT_OPTIONS,
                                         {"extrapolate", required_argument, NULL, O_EXTRAP},
                                         {"relinearize", required_argument, NULL, O_RELIN},
                                         {"dynamics", required_argument, NULL, O_DYN},
                                         {"checkpoint", required_argument, NULL, O_CKPT},
                                         {"resume", required_argument, NULL, O_RESUME},
                                         {"dproj-raise", required_argument, NULL, O_DRAISE},
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
        case O_EXTRAP:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--extrapolate", optarg, 1, INT32_MAX, o.extrap,
                                           TTP_MAX_EXTRAP, &o.nextrap));
            break;
        case O_RELIN: TTP_CALL(ctx, ttp_cli_relinearize(ctx, optarg, &o.relin_every, &o.relin_kernel)); break;
        case O_DYN:
            if (strcmp(optarg, "auto") == 0)
                o.dynamics = TTP_DYN_AUTO;
            else if (strcmp(optarg, "eigen") == 0)
                o.dynamics = TTP_DYN_EIGEN;
            else if (strcmp(optarg, "direct") == 0)
                o.dynamics = TTP_DYN_DIRECT;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --dynamics: '%s', expected auto, eigen or direct",
                               optarg);
            break;
        case O_DRAISE: {
            int64_t v;
            TTP_CALL(ctx, ttp_cli_int(ctx, "--dproj-raise", optarg, 0, 8, &v));
            o.dproj_raise = (int)v;
            break;
        }
        case O_CKPT:
        case O_RESUME:
            o.kernel.checkpoint_dir = optarg;
            o.kernel.resume_required = c == O_RESUME;
            break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_predict_option(ctx, c, optarg, &o, &smooth, &handled));
            if (!handled)
                TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, &o.opt, 1, &o.kernel, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "predict", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("predict") : TTP_OK;
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict predict: unexpected argument '%s' (options start with --)", argv[optind]);
    for (int i = 0; i < o.ntt; i++) o.tt[i].smooth = smooth;
    /* Every option is checked now, before any file is read. */
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &o.kernel, 0));
    TTP_CALL(ctx, ttp_cli_predict_paths(ctx, &a, &o));
    o.kernel.stop_after_block = ttp_cli_test_stop_after_block();
    const char *model_path = o.kernel.model_path, *data_path = o.kernel.data_path;
    const char *out = a.out, *json = a.json, *report = a.report;

    ttp_model *m = NULL;
    ttp_data *d = NULL;
    ttp_prediction *p = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_opts_validate(ctx, &o, d->n));
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_run(ctx, cli->comm, m, d, &o, &p));
    if (cli->comm->rank == 0) {
        ttp_predict_print(stdout, p, &o);
        if (out) TTP_CALL_GOTO(ctx, st, done, ttp_predict_write_nc(ctx, out, p, &o));
        if (json) TTP_CALL_GOTO(ctx, st, done, ttp_predict_write_json(ctx, json, p, &o));
        if (report) TTP_CALL_GOTO(ctx, st, done, ttp_predict_write_report(ctx, report, p, &o));
        if (out || json || report)
            printf("  written    %s%s%s%s%s%s\n", out ? out : "", out ? " " : "", json ? json : "",
                   json ? " " : "", report ? report : "", report ? "/report.md" : "");
    }
done:
    ttp_prediction_destroy(&p);
    ttp_data_destroy(&d);
    ttp_model_destroy(&m);
    return st;
}
