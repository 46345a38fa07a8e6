/*
 * cmd_validate.c — `ttpredict validate`: options → ttp_validate_run → the
 * table, JSON and report.  Only rank 0 prints and writes.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "ttp_validate.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: [mpirun -np P] ttpredict validate [options]\n"
        "\n"
        "Check predictions against real fine-tuning over a grid of settings (the paper's\n"
        "Figure 1 and Table 1 on your data). For every dataset size one kernel is built;\n"
        "for every optimizer setting the model is fine-tuned for real and the training\n"
        "time predicted, and both curves are measured with the same definitions.\n"
        "\n"
        "  --model FILE, --data FILE   the task (default: the bundled one)\n"
        "  --losses LIST         ce,mse (default both)\n"
        "  --optimizers LIST     gd,sgd (default both)\n"
        "  --lrs LIST            learning rates (default 0.005,0.01)\n"
        "  --batches LIST        SGD batch sizes (default 32)\n"
        "  --momenta LIST        momentum values in [0,1) (default 0,0.5)\n"
        "  --sizes LIST          dataset sizes, stratified subsets; 0 = all (default 0)\n"
        "  --tt LIST             training-time definitions (default rel:0.2,rel:0.1,rel:0.05;\n"
        "                        see 'ttpredict predict --help')\n"
        "  --steps T             budget T (default 150)\n"
        "  --seed S              batch-order seed (default 1)\n"
        "  --ensemble M          SGD trajectories per prediction (default 16)\n"
        "  --proj KIND, --dproj D'   kernel projection (default kron, 1024)\n"
        "  --quick               a tiny grid (MSE, GD and SGD, one lr, N 150, T 30) for tests\n"
        "  --json FILE           cases and totals as JSON\n"
        "  --report DIR          report.md with the predicted-vs-real scatter and an example\n"
        "  -q, --quiet           no progress lines\n"
        "  -h, --help, --version\n"
        "\n"
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
    const char *model_path = NULL, *data_path = NULL, *json = NULL, *report = NULL;
    int quiet = 0;
    enum { O_MODEL = 256, O_DATA, O_LOSSES, O_OPTS, O_LRS, O_BATCHES, O_MOMENTA, O_SIZES, O_TT, O_STEPS, O_SEED,
           O_ENS, O_PROJ, O_DPROJ, O_QUICK, O_JSON, O_REPORT, O_VERSION };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL}, {"data", required_argument, NULL, O_DATA},
        {"losses", required_argument, NULL, O_LOSSES}, {"optimizers", required_argument, NULL, O_OPTS},
        {"lrs", required_argument, NULL, O_LRS}, {"batches", required_argument, NULL, O_BATCHES},
        {"momenta", required_argument, NULL, O_MOMENTA}, {"sizes", required_argument, NULL, O_SIZES},
        {"tt", required_argument, NULL, O_TT}, {"steps", required_argument, NULL, O_STEPS},
        {"seed", required_argument, NULL, O_SEED}, {"ensemble", required_argument, NULL, O_ENS},
        {"proj", required_argument, NULL, O_PROJ}, {"dproj", required_argument, NULL, O_DPROJ},
        {"quick", no_argument, NULL, O_QUICK}, {"json", required_argument, NULL, O_JSON},
        {"report", required_argument, NULL, O_REPORT}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, O_VERSION}, {NULL, 0, NULL, 0}};
    /* --quick first, so that later options refine the quick grid */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) ttp_validate_opts_quick(&o);
    int c;
    int64_t iv;
    char buf[256];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        case O_VERSION: return cli->comm->rank == 0 ? ttp_cli_version("validate") : TTP_OK;
        case 'q': quiet = 1; break;
        case O_QUICK: break;
        case O_MODEL: model_path = optarg; break;
        case O_DATA: data_path = optarg; break;
        case O_LOSSES:
        case O_OPTS: {
            int a = 0, b = 0;
            snprintf(buf, sizeof buf, "%s", optarg);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (c == O_LOSSES && !strcmp(t, "ce")) a = 1;
                else if (c == O_LOSSES && !strcmp(t, "mse")) b = 1;
                else if (c == O_OPTS && !strcmp(t, "gd")) a = 1;
                else if (c == O_OPTS && !strcmp(t, "sgd")) b = 1;
                else return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s', expected %s", c == O_LOSSES ? "--losses" : "--optimizers",
                                    t, c == O_LOSSES ? "ce and/or mse" : "gd and/or sgd");
            }
            if (c == O_LOSSES) {
                o.nloss = 0;
                if (a) o.losses[o.nloss++] = TTP_LOSS_CE;
                if (b) o.losses[o.nloss++] = TTP_LOSS_MSE;
            } else {
                o.gd = a, o.sgd = b;
            }
            break;
        }
        case O_LRS: TTP_CALL(ctx, ttp_cli_double_list(ctx, "--lrs", optarg, 0, 0, 1e6, o.lrs, TTP_VAL_MAX_LIST, &o.nlr)); break;
        case O_BATCHES: TTP_CALL(ctx, ttp_cli_int_list(ctx, "--batches", optarg, 1, INT32_MAX, o.batches, TTP_VAL_MAX_LIST, &o.nbatch)); break;
        case O_MOMENTA:
            TTP_CALL(ctx, ttp_cli_double_list(ctx, "--momenta", optarg, 0, 1, 0.999999, o.momenta, TTP_VAL_MAX_LIST, &o.nmom));
            break;
        case O_SIZES: TTP_CALL(ctx, ttp_cli_int_list(ctx, "--sizes", optarg, 0, INT32_MAX, o.sizes, TTP_VAL_MAX_LIST, &o.nsize)); break;
        case O_TT: TTP_CALL(ctx, ttp_cli_tt_list(ctx, "--tt", optarg, 1, o.tt, TTP_MAX_TT, &o.ntt)); break;
        case O_STEPS: TTP_CALL(ctx, ttp_cli_int(ctx, "--steps", optarg, 1, 100000000, &o.steps)); break;
        case O_SEED: TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", optarg, 0, INT64_MAX, &iv)); o.seed = (uint64_t)iv; break;
        case O_ENS: TTP_CALL(ctx, ttp_cli_int(ctx, "--ensemble", optarg, 1, 100000, &iv)); o.pred.sim.ensemble = (int)iv; break;
        case O_PROJ: TTP_CALL(ctx, ttp_proj_kind_parse(ctx, optarg, &o.pred.proj)); break;
        case O_DPROJ: TTP_CALL(ctx, ttp_cli_int(ctx, "--dproj", optarg, 1, INT32_MAX, &o.pred.dproj)); break;
        case O_JSON: json = optarg; break;
        case O_REPORT: report = optarg; break;
        default: return ttp_cli_bad_option(ctx, "validate", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict validate: unexpected argument '%s'", argv[optind]);
    TTP_CALL(ctx, ttp_cli_check_output(ctx, "--json", json, 0));
    TTP_CALL(ctx, ttp_cli_check_output(ctx, "--report", report, 1));
    if (model_path == NULL) model_path = ttp_cli_default_model();
    if (data_path == NULL) data_path = ttp_cli_default_data();
    ctx->verbose = quiet ? 0 : 1;
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    ttp_validation *v = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_read(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    if (o.pred.proj != TTP_PROJ_EXACT && o.pred.dproj > m->ntrainable) o.pred.dproj = m->ntrainable;
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
