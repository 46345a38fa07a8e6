/*
 * cmd_validate.c — `ttpredict validate`: options → ttp_validate_run → the
 * table, JSON and report.  Only rank 0 prints and writes.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_validate.h"

/* "0.005,0.01": a default list as the help shows it (from the library's
 * ttp_validate_opts_default, so the help cannot drift from it). */
static const char *list_str(char *buf, size_t len, const double *v, const int64_t *iv, int n)
{
    size_t u = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && u < len; i++)
        u += (size_t)(v ? snprintf(buf + u, len - u, "%s%g", i ? "," : "", v[i])
                        : snprintf(buf + u, len - u, "%s%lld", i ? "," : "", (long long)iv[i]));
    return buf;
}

static void usage(FILE *f)
{
    ttp_validate_opts d;
    ttp_validate_opts_default(&d);
    fprintf(f, "usage: [mpirun -np P] ttpredict validate [options]\n"
               "\n"
               "Check predictions against real fine-tuning over a grid of settings (the paper's\n"
               "Figure 1 and Table 1 on your data). For every dataset size one kernel is built;\n"
               "for every optimizer setting the model is fine-tuned for real and the training\n"
               "time predicted, and both curves are measured with the same definitions.\n");
    ttp_cli_help_task(f);
    ttp_cli_help_section(f, "grid");
    char b[256], tt[256] = "";
    for (int i = 0, u = 0; i < d.ntt && u < (int)sizeof tt; i++)
        u += snprintf(tt + u, sizeof tt - (size_t)u, "%s%s:%g", i ? "," : "", ttp_tt_kind_str(d.tt[i].kind),
                      d.tt[i].value);
    ttp_cli_help_line(f, "--losses LIST", "ce,mse (default %s)",
                      d.nloss == 2 ? "both" : ttp_loss_str(d.losses[0]));
    ttp_cli_help_line(f, "--optimizers LIST", "gd,sgd (default %s)",
                      d.gd && d.sgd ? "both"
                      : d.gd        ? "gd"
                                    : "sgd");
    ttp_cli_help_line(f, "--lrs LIST", "learning rates (default %s)",
                      list_str(b, sizeof b, d.lrs, NULL, d.nlr));
    ttp_cli_help_line(f, "--batches LIST", "SGD batch sizes (default %s)",
                      list_str(b, sizeof b, NULL, d.batches, d.nbatch));
    ttp_cli_help_line(f, "--momenta LIST", "momentum values in [0,1) (default %s)",
                      list_str(b, sizeof b, d.momenta, NULL, d.nmom));
    ttp_cli_help_line(f, "--sizes LIST", "dataset sizes, stratified subsets; 0 = all (default %s)",
                      list_str(b, sizeof b, NULL, d.sizes, d.nsize));
    ttp_cli_help_line(f, "--tt LIST",
                      "training-time definitions (default %s;\n"
                      "see 'ttpredict predict --help')",
                      tt);
    ttp_cli_help_line(f, "--steps T", "budget T (default %lld)", (long long)d.steps);
    ttp_cli_help_line(f, "--seed S", "seed of the batch permutations (default %llu)",
                      (unsigned long long)d.seed);
    ttp_cli_help_line(f, "--ensemble M", "SGD trajectories per prediction (default %d)", d.pred.sim.ensemble);
    ttp_cli_help_line(f, "--relinearize K|real|kernel|kernel:K|auto",
                      "re-linearize each prediction as predict --relinearize does\n"
                      "(default %s; docs/METHOD.md 6c-6e)",
                      d.pred.relin_every == TTP_RELIN_AUTO ? "auto"
                      : d.pred.relin_every == 0            ? "0 = off"
                                                           : "K");
    ttp_cli_help_line(f, "--dproj-raise N",
                      "times a case's D' may be raised %dx where its kernel gap reaches %.0f%%\n"
                      "(default %d; 0 when --proj or --dproj is given; docs/METHOD.md 6l)",
                      TTP_DPROJ_FACTOR, 100 * TTP_FAITH_KGAP_NAMED, TTP_DPROJ_RAISES);
    ttp_cli_help_line(f, "--quick", "a tiny grid (MSE, GD and SGD, one lr, N 150, T 30) for tests");
    char pd[64];
    snprintf(pd, sizeof pd, "%s, D' %lld", ttp_proj_kind_str(d.pred.kernel.proj),
             (long long)d.pred.kernel.dproj);
    ttp_cli_help_kernel(f, &d.pred.kernel, pd);
    ttp_cli_help_section(f, "output (rank 0)");
    ttp_cli_help_line(f, "--json FILE", "cases and totals as JSON");
    ttp_cli_help_line(f, "--report DIR", "report.md with the predicted-vs-real scatter and an example");
    ttp_cli_help_common(f, 1);
    fprintf(f, "\n"
               "Totals: fraction of GD times within 13 %% and SGD times within 20 %% of the real ones\n"
               "(all cases, and those inside the method's regime), median errors, and the cost ratio\n"
               "seconds of training / seconds of prediction.\n");
}

ttp_status ttp_cmd_validate(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_validate_opts o;
    ttp_validate_opts_default(&o);
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    /* --steps and --seed are the grid's own (every case's), not one ttp_opt's */
    enum {
        O_LOSSES = TTP_CLI_O_FIRST_OWN,
        O_OPTS,
        O_LRS,
        O_BATCHES,
        O_MOMENTA,
        O_SIZES,
        O_TT,
        O_STEPS,
        O_SEED,
        O_ENS,
        O_QUICK,
        O_RELIN,
        O_DRAISE
    };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         {"losses", required_argument, NULL, O_LOSSES},
                                         {"optimizers", required_argument, NULL, O_OPTS},
                                         {"lrs", required_argument, NULL, O_LRS},
                                         {"batches", required_argument, NULL, O_BATCHES},
                                         {"momenta", required_argument, NULL, O_MOMENTA},
                                         {"sizes", required_argument, NULL, O_SIZES},
                                         {"tt", required_argument, NULL, O_TT},
                                         {"steps", required_argument, NULL, O_STEPS},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"ensemble", required_argument, NULL, O_ENS},
                                         TTP_CLI_KERNEL_OPTIONS,
                                         {"quick", no_argument, NULL, O_QUICK},
                                         {"relinearize", required_argument, NULL, O_RELIN},
                                         {"dproj-raise", required_argument, NULL, O_DRAISE},
                                         TTP_CLI_JSON_OPTION,
                                         TTP_CLI_REPORT_OPTION,
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    /* --quick first, so that later options refine the quick grid */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) ttp_validate_opts_quick(&o);
    int c, draise = TTP_DPROJ_RAISE_AUTO, pinned = 0;
    int64_t iv;
    char buf[256];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_QUICK: break;
        case O_LOSSES:
        case O_OPTS: {
            int first = 0, second = 0;
            snprintf(buf, sizeof buf, "%s", optarg);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (c == O_LOSSES && !strcmp(t, "ce"))
                    first = 1;
                else if (c == O_LOSSES && !strcmp(t, "mse"))
                    second = 1;
                else if (c == O_OPTS && !strcmp(t, "gd"))
                    first = 1;
                else if (c == O_OPTS && !strcmp(t, "sgd"))
                    second = 1;
                else
                    return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s', expected %s",
                                   c == O_LOSSES ? "--losses" : "--optimizers", t,
                                   c == O_LOSSES ? "ce and/or mse" : "gd and/or sgd");
            }
            if (c == O_LOSSES) {
                o.nloss = 0;
                if (first) o.losses[o.nloss++] = TTP_LOSS_CE;
                if (second) o.losses[o.nloss++] = TTP_LOSS_MSE;
            } else {
                o.gd = first, o.sgd = second;
            }
            break;
        }
        case O_LRS:
            TTP_CALL(ctx,
                     ttp_cli_double_list(ctx, "--lrs", optarg, 0, 0, 1e6, o.lrs, TTP_VAL_MAX_LIST, &o.nlr));
            break;
        case O_BATCHES:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--batches", optarg, 1, INT32_MAX, o.batches,
                                           TTP_VAL_MAX_LIST, &o.nbatch));
            break;
        case O_MOMENTA:
            TTP_CALL(ctx, ttp_cli_double_list(ctx, "--momenta", optarg, 0, 1, 0.999999, o.momenta,
                                              TTP_VAL_MAX_LIST, &o.nmom));
            break;
        case O_SIZES:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--sizes", optarg, 0, INT32_MAX, o.sizes, TTP_VAL_MAX_LIST,
                                           &o.nsize));
            break;
        case O_TT: TTP_CALL(ctx, ttp_cli_tt_list(ctx, "--tt", optarg, 1, o.tt, TTP_MAX_TT, &o.ntt)); break;
        case O_STEPS: TTP_CALL(ctx, ttp_cli_int(ctx, "--steps", optarg, 1, 100000000, &o.steps)); break;
        case O_SEED:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", optarg, 0, INT64_MAX, &iv));
            o.seed = (uint64_t)iv;
            break;
        case O_RELIN:
            TTP_CALL(ctx, ttp_cli_relinearize(ctx, optarg, &o.pred.relin_every, &o.pred.relin_kernel));
            break;
        case O_DRAISE:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--dproj-raise", optarg, 0, 8, &iv));
            draise = (int)iv;
            break;
        case O_ENS:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--ensemble", optarg, 1, 100000, &iv));
            o.pred.sim.ensemble = (int)iv;
            break;
        default: {
            int handled;
            pinned |= c == TTP_CLI_O_PROJ || c == TTP_CLI_O_DPROJ;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, NULL, 1, &o.pred.kernel, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "validate", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("validate") : TTP_OK;
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict validate: unexpected argument '%s'", argv[optind]);
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &o.pred.kernel, 0));
    /* validate's own projection may be raised (§6l); one the user gave stays */
    if (draise != TTP_DPROJ_RAISE_AUTO)
        o.pred.dproj_raise = draise;
    else if (pinned)
        o.pred.dproj_raise = 0;
    const char *json = a.json, *report = a.report;
    const char *model_path = a.model ? a.model : ttp_cli_default_model(&a);
    const char *data_path = a.data ? a.data : ttp_cli_default_data(&a);
    const ttp_path_use paths[] = {
        {model_path, "--model", TTP_PATH_IN},
        {data_path, "--data", TTP_PATH_IN},
        {json, "--json", TTP_PATH_OUT},
        {report, "--report", TTP_PATH_OUT_DIR},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));
    o.pred.kernel.model_path = model_path;
    o.pred.kernel.data_path = data_path;
    ctx->verbose = ttp_cli_verbosity(&a, 1);
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    ttp_validation *v = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_validate_run(ctx, cli->comm, m, d, &o, &v));
    if (cli->comm->rank == 0) {
        ttp_validate_print(stdout, v, &o);
        if (json) TTP_CALL_GOTO(ctx, st, done, ttp_validate_write_json(ctx, json, v, &o));
        if (report) TTP_CALL_GOTO(ctx, st, done, ttp_validate_write_report(ctx, report, v, &o));
    }
done:
    ttp_validation_destroy(&v);
    ttp_data_destroy(&d);
    ttp_model_destroy(&m);
    return st;
}
