/*
 * cmd_plan.c — `ttpredict plan`: the memory per rank and the time that
 * `predict` (or `kernel`) would need with the same options, before running
 * it (ttp_plan_estimate), with what would make it fit.  Reads the model (for
 * D and C) and the dataset's size (or takes --n).  Rank 0 prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_predict.h"

static void usage(FILE *f)
{
    ttp_predict_opts d;
    ttp_predict_opts_default(&d);
    fprintf(f, "usage: ttpredict plan [options]\n"
               "\n"
               "Estimate, before running it, the memory per rank (Jacobian rows, Gram matrix, eigen\n"
               "workspace, what rank 0 gathers, the ensemble) and the time per stage of `predict`\n"
               "(or `kernel`) with the same options, against the memory available per rank, and say\n"
               "what would make it fit (more ranks, a smaller --dproj, --top-k or --subset).\n");
    ttp_cli_help_task(f);
    ttp_cli_help_line(f, "--n N", "plan for N samples without reading the dataset");
    ttp_cli_help_opt(f, &d.opt);
    ttp_cli_help_kernel(f, &d.kernel, "auto (exact for --for kernel)");
    ttp_cli_help_section(f, "the run planned");
    ttp_cli_help_line(f, "--for CMD", "predict | kernel (default predict)");
    ttp_cli_help_line(f, "--ranks P", "MPI ranks (default: the ranks this runs on)");
    ttp_cli_help_line(f, "--ensemble M", "SGD trajectories (predict; default %d)", d.sim.ensemble);
    ttp_cli_help_line(f, "--subset N0", "the kernel on N0 samples (predict)");
    ttp_cli_help_line(f, "--dynamics auto|eigen|direct", "predict's dynamics path (default auto)");
    ttp_cli_help_line(f, "--side S", "auto | nc | dproj (default auto)");
    ttp_cli_help_line(f, "--theta", "kernel: Theta gathered on rank 0");
    ttp_cli_help_line(f, "--vectors", "kernel: eigenvectors gathered on rank 0");
    ttp_cli_help_run(f, 0);
    ttp_cli_help_section(f, "output");
    ttp_cli_help_line(f, "--json FILE", "the plan as JSON");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\nexample:\n"
               "  ttpredict plan --model m.nc --n 50000 --proj kron --dproj 8192 --ranks 8 "
               "--mem-per-rank 8G\n");
}

static void print_plan(const ttp_plan *p, const char *what, int measured)
{
    const double MiB = 1048576.0;
    printf("ttpredict plan: %s of N %lld samples, C %lld outputs, D %lld weights, D' %lld on %d rank(s)\n",
           what, (long long)p->n, (long long)p->c, (long long)p->d, (long long)p->dproj, p->ranks);
    printf("  decomposes the %s side (%lld x %lld), keeps %lld eigenpairs\n", p->side == 0 ? "NC" : "D'",
           (long long)p->dim, (long long)p->dim, (long long)p->kept);
    printf("  memory per rank (MiB):\n");
    printf("    runtime           %12.1f\n", p->base_bytes / MiB);
    printf("    model             %12.1f\n", p->model_bytes / MiB);
    printf("    jacobian block    %12.1f\n", p->jac_bytes / MiB);
    printf("    gram (G, Theta)   %12.1f\n", p->gram_bytes / MiB);
    printf("    eigen workspace   %12.1f\n", p->eig_bytes / MiB);
    printf("    Theta's row blocks%12.1f\n", p->work_bytes / MiB);
    printf("    gathered (rank 0) %12.1f\n", p->gather_bytes / MiB);
    printf("    gather in transit %12.1f\n", p->transit_bytes / MiB);
    printf("    ensemble (rank 0) %12.1f\n", p->ensemble_bytes / MiB);
    printf("    peak              %12.1f of %.1f available per rank (%s): %s\n", p->peak_bytes / MiB,
           p->mem_avail / MiB, strcmp(p->mem_source, "MemAvailable") == 0 ? "MemAvailable" : "--mem-per-rank",
           p->fits ? "fits" : "does NOT fit");
    printf("  seconds predicted, per stage its share of the DGEMM rate %.2f GFLOP/s per rank (%s): jacobian "
           "%.3g, gram "
           "%.3g, eigen %.3g, ensemble %.3g, "
           "total %.3g\n",
           p->rate / 1e9, measured ? "measured" : "assumed", p->sec_jac, p->sec_gram, p->sec_eig, p->sec_sim,
           p->sec_total);
    if (!p->fits) {
        printf("  would fit with:");
        if (p->fit_ranks) printf(" %d ranks;", p->fit_ranks);
        if (p->fit_dproj)
            printf(" --dproj %lld%s;", (long long)p->fit_dproj, p->dproj == p->d ? " --proj kron" : "");
        if (p->fit_top_k) printf(" --top-k %lld;", (long long)p->fit_top_k);
        if (p->fit_subset) printf(" --subset %lld;", (long long)p->fit_subset);
        if (!p->fit_ranks && !p->fit_dproj && !p->fit_top_k && !p->fit_subset) printf(" nothing tried");
        printf("\n");
    }
}

ttp_status ttp_cmd_plan(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum {
        O_N = TTP_CLI_O_FIRST_OWN,
        O_FOR,
        O_RANKS,
        O_ENS,
        O_SUBSET,
        O_SIDE,
        O_THETA,
        O_VECTORS,
        O_MEM,
        O_DYN
    };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         {"n", required_argument, NULL, O_N},
                                         TTP_CLI_OPT_OPTIONS,
                                         TTP_CLI_KERNEL_OPTIONS,
                                         {"for", required_argument, NULL, O_FOR},
                                         {"ranks", required_argument, NULL, O_RANKS},
                                         {"ensemble", required_argument, NULL, O_ENS},
                                         {"subset", required_argument, NULL, O_SUBSET},
                                         {"dynamics", required_argument, NULL, O_DYN},
                                         {"side", required_argument, NULL, O_SIDE},
                                         {"theta", no_argument, NULL, O_THETA},
                                         {"vectors", no_argument, NULL, O_VECTORS},
                                         {"mem-per-rank", required_argument, NULL, O_MEM},
                                         TTP_CLI_JSON_OPTION,
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    ttp_predict_opts o;
    ttp_predict_opts_default(&o);
    int64_t n = 0, ranks = cli->comm->size, iv;
    int for_kernel = 0, proj_given = 0, theta = 0, vectors = 0, side = -1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_N: TTP_CALL(ctx, ttp_cli_int(ctx, "--n", optarg, 1, INT64_MAX, &n)); break;
        case O_FOR:
            if (strcmp(optarg, "predict") == 0)
                for_kernel = 0;
            else if (strcmp(optarg, "kernel") == 0)
                for_kernel = 1;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --for: '%s', expected predict or kernel", optarg);
            break;
        case O_RANKS: TTP_CALL(ctx, ttp_cli_int(ctx, "--ranks", optarg, 1, 1 << 24, &ranks)); break;
        case O_ENS:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--ensemble", optarg, 1, TTP_MAX_ENSEMBLE, &iv));
            o.sim.ensemble = (int)iv;
            break;
        case O_SUBSET: TTP_CALL(ctx, ttp_cli_int(ctx, "--subset", optarg, 1, INT64_MAX, &o.subset)); break;
        case O_SIDE:
            if (strcmp(optarg, "auto") == 0)
                side = -1;
            else if (strcmp(optarg, "nc") == 0)
                side = 0;
            else if (strcmp(optarg, "dproj") == 0)
                side = 1;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --side: '%s', expected auto, nc or dproj", optarg);
            break;
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
        case O_THETA: theta = 1; break;
        case O_VECTORS: vectors = 1; break;
        case O_MEM:
            TTP_CALL(ctx, ttp_cli_bytes(ctx, "--mem-per-rank", optarg, &o.kernel.mem_per_rank));
            break;
        default: {
            int handled;
            if (c == TTP_CLI_O_PROJ) proj_given = 1;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, &o.opt, 1, &o.kernel, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "plan", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("plan") : TTP_OK;
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict plan: unexpected argument '%s' (see 'ttpredict plan --help')",
                       argv[optind]);
    if (a.out || a.report) return ttp_cli_bad_option(ctx, "plan", a.out ? "--out" : "--report");
    if (for_kernel) {
        /* what `ttpredict kernel` does with these flags */
        if (!proj_given) o.kernel.proj = TTP_PROJ_EXACT;
        o.kernel.want_vectors = vectors;
        o.sim.ensemble = 0;
        o.subset = 0;
    }
    o.kernel.want_theta = theta;
    o.kernel.side = side;
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &o.kernel, 0));
    const char *model_path = a.model ? a.model : ttp_cli_default_model(&a);
    const char *data_path = a.data ? a.data : ttp_cli_default_data(&a);
    const ttp_path_use paths[] = {
        {model_path, "--model", TTP_PATH_IN},
        {n > 0 ? NULL : data_path, "--data", TTP_PATH_IN},
        {a.json, "--json", TTP_PATH_OUT},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));

    ttp_status st = TTP_OK;
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    if (n == 0) {
        TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
        n = d->n;
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_kernel_opts_validate(ctx, &o.kernel, m->ntrainable));
    if (o.subset > n)
        TTP_CALL_GOTO(ctx, st, done,
                      TTP_ERR(ctx, TTP_ERR_ARG,
                              "option --subset: %lld, expected 1..%lld (the dataset's size)",
                              (long long)o.subset, (long long)n));
    ttp_dyn_path path = TTP_DYN_EIGEN;
    if (!for_kernel) { /* the direct dynamics path holds Θ on rank 0: plan the path predict takes */
        TTP_CALL_GOTO(ctx, st, done, ttp_predict_path(ctx, &o, m->ntrainable, n, m->nout, &path, NULL, NULL));
        if (path == TTP_DYN_DIRECT) o.kernel.direct_k = TTP_PREDICT_DIRECT_K;
    }
    if (cli->comm->rank == 0) {
        const double rate = ttp_plan_probe_rate();
        ttp_plan_in in = {
            o.subset > 0 ? o.subset : n, (int)ranks, o.sim.ensemble, o.opt.steps, o.opt.batch, rate};
        ttp_plan p;
        TTP_CALL_GOTO(ctx, st, done, ttp_plan_estimate(ctx, &o.kernel, m, &in, &p));
        print_plan(&p,
                   for_kernel               ? "kernel"
                   : path == TTP_DYN_DIRECT ? "predict (direct dynamics)"
                                            : "predict",
                   1);
        if (a.json) {
            TTP_CALL_GOTO(ctx, st, done, ttp_plan_write_json(ctx, a.json, &p));
            printf("  wrote %s\n", a.json);
        }
    }
done:
    st = ttp_comm_agree(ctx, cli->comm, st, "plan (rank 0)");
    ttp_data_destroy(&d);
    ttp_model_destroy(&m);
    return st;
}
