/*
 * bench_dyn.c — the two dynamics paths of the prediction side by side
 * (docs/cli.md --dynamics): the kernel stage and the dynamics with the full
 * eigen-decomposition (`eigen`) against Θ's products and the top pairs by
 * Lanczos (`direct`), on the small CNN of the neural-tangents comparison
 * (8×8 inputs, conv3×3 1→16, ReLU, conv3×3 16→32, ReLU, global average
 * pooling, dense 32→10; D = 5130, He-initialised from seed 1), exact Θ, on
 * the first N images of data/digits.nc (stratified, C = 10).
 *
 *   mpirun -np P build/benchmarks/bench_dyn [--n N] [--steps T] [--batch B]
 *          [--ensemble M] [--lr LR] [--loss ce|mse]
 *          [--write-model FILE] [--write-data FILE] [--only-write] [--first-direct]
 *
 * Prints, per path, seconds of the Jacobian, Gram, eigen (Lanczos for
 * direct), kernel stage and dynamics, the ratio eigen/direct of
 * kernel + dynamics, and whether the two loss curves and training times
 * agree (max |ΔL|/L₀).  --write-model/--write-data save the network and
 * the N samples in the ttpredict formats (for benchmarks/nt_compare.sh);
 * --only-write stops there; --first-direct runs the direct path first
 * (its line is printed as soon as it is done).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_mpi.h"
#include "ttp_predict.h"

#ifndef TTP_DATA_DIR
#define TTP_DATA_DIR "data"
#endif

/* The comparison CNN (see the file's opening comment). */
static ttp_status small_cnn(ttp_ctx *ctx, ttp_model **out)
{
    const int64_t in[3] = {1, 8, 8};
    ttp_model *m = NULL;
    TTP_CALL(ctx, ttp_model_create(ctx, in, &m));
    ttp_layer l;
    int prev = -1, idx = 0;
#define ADD(KIND, NAME, UNITS, KER, PAD)                                                                     \
    do {                                                                                                     \
        memset(&l, 0, sizeof l);                                                                             \
        l.kind = KIND;                                                                                       \
        snprintf(l.name, sizeof l.name, "%s", NAME);                                                         \
        l.input[0] = prev;                                                                                   \
        l.input[1] = -1;                                                                                     \
        l.units = UNITS;                                                                                     \
        l.kernel = KER;                                                                                      \
        l.stride = 1;                                                                                        \
        l.pad = PAD;                                                                                         \
        l.trainable = 1;                                                                                     \
        if (ttp_model_add(ctx, m, &l, &idx) != TTP_OK) goto fail;                                            \
        prev = idx;                                                                                          \
    } while (0)
    ADD(TTP_LAYER_CONV2D, "conv1", 16, 3, 1);
    ADD(TTP_LAYER_RELU, "relu1", 0, 0, 0);
    ADD(TTP_LAYER_CONV2D, "conv2", 32, 3, 1);
    ADD(TTP_LAYER_RELU, "relu2", 0, 0, 0);
    ADD(TTP_LAYER_GAP, "gap", 0, 0, 0);
    ADD(TTP_LAYER_DENSE, "head", 10, 0, 0);
#undef ADD
    if (ttp_model_build(ctx, m) != TTP_OK) goto fail;
    ttp_model_init_weights(m, 1, 0);
    snprintf(m->title, sizeof m->title, "small CNN: conv3x3(16)-relu-conv3x3(32)-relu-GAP-dense(10)");
    snprintf(m->source, sizeof m->source, "ttpredict benchmarks/bench_dyn.c (He init, seed 1)");
    *out = m;
    return TTP_OK;
fail:
    ttp_model_destroy(&m);
    return ctx->code != TTP_OK ? ctx->code : TTP_ERR_ARG;
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI init: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    ctx.verbose = 0;
    int64_t n = 500, steps = 150, batch = 0;
    int ens = 16, only_write = 0, first_direct = 0;
    double lr = 0.5;
    const char *loss = "ce", *wmodel = NULL, *wdata = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--n"))
            n = atoll(v), i++;
        else if (!strcmp(a, "--steps"))
            steps = atoll(v), i++;
        else if (!strcmp(a, "--batch"))
            batch = atoll(v), i++;
        else if (!strcmp(a, "--ensemble"))
            ens = atoi(v), i++;
        else if (!strcmp(a, "--lr"))
            lr = atof(v), i++;
        else if (!strcmp(a, "--loss"))
            loss = v, i++;
        else if (!strcmp(a, "--write-model"))
            wmodel = v, i++;
        else if (!strcmp(a, "--write-data"))
            wdata = v, i++;
        else if (!strcmp(a, "--only-write"))
            only_write = 1;
        else if (!strcmp(a, "--first-direct"))
            first_direct = 1;
        else {
            if (comm.rank == 0) fprintf(stderr, "bench_dyn: unknown option '%s'\n", a);
            ttp_mpi_finalize();
            return 2;
        }
    }
    int rc = 1;
    ttp_model *m = NULL;
    ttp_data *all = NULL, *d = NULL;
    ttp_prediction *p[2] = {NULL, NULL};
    const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : TTP_DATA_DIR;
    char dpath[2048];
    snprintf(dpath, sizeof dpath, "%s/digits.nc", dd);
    if (small_cnn(&ctx, &m) != TTP_OK || ttp_data_read(&ctx, dpath, &all) != TTP_OK ||
        ttp_data_take(&ctx, all, n, &d) != TTP_OK)
        goto fail;
    if (comm.rank == 0 && wmodel && ttp_model_write(&ctx, wmodel, m) != TTP_OK) goto fail;
    if (comm.rank == 0 && wdata && ttp_data_write(&ctx, wdata, d) != TTP_OK) goto fail;
    if (only_write) {
        rc = 0;
        goto fail;
    }
    ttp_predict_opts o;
    ttp_predict_opts_default(&o);
    o.kernel.proj = TTP_PROJ_EXACT;
    o.kernel.backend = "cpu";
    o.time_reps = 0;
    o.opt.steps = steps;
    o.opt.batch = batch;
    o.opt.lr = lr;
    o.opt.loss = strcmp(loss, "mse") == 0 ? TTP_LOSS_MSE : TTP_LOSS_CE;
    o.sim.ensemble = ens;
    double fe = 0, fd = 0;
    ttp_dyn_path autop = TTP_DYN_AUTO;
    if (ttp_predict_path(&ctx, &o, m->ntrainable, d->n, m->nout, &autop, &fe, &fd) != TTP_OK) goto fail;
    if (comm.rank == 0)
        printf("bench_dyn: small CNN D = %lld, N = %lld, C = %d, NC = %lld, %d rank(s), %s, T = %lld, batch "
               "%lld, "
               "ensemble %d\n  flops: eigen %.3g, direct %.3g -> auto takes %s\n",
               (long long)m->ntrainable, (long long)d->n, m->nout, (long long)(d->n * m->nout), comm.size,
               loss, (long long)steps, (long long)ttp_opt_batch(&o.opt, d->n), ens, fe, fd,
               ttp_dyn_path_str(autop));
    for (int r = 0; r < 2; r++) {
        const int k = first_direct ? 1 - r : r; /* p[0] is always the eigen path's */
        o.dynamics = k == 0 ? TTP_DYN_EIGEN : TTP_DYN_DIRECT;
        if (ttp_predict_run(&ctx, &comm, m, d, &o, &p[k]) != TTP_OK) goto fail;
        if (comm.rank == 0)
            printf("  %-6s  kernel %7.2f  dynamics %6.2f s\n", ttp_dyn_path_str(p[k]->path), p[k]->sec_kernel,
                   p[k]->sec_sim);
        fflush(stdout);
    }
    if (comm.rank == 0) {
        double tot[2];
        for (int k = 0; k < 2; k++) {
            const ttp_kernel *kk = p[k]->kernel;
            tot[k] = p[k]->sec_kernel + p[k]->sec_sim;
            printf(
                "  %-6s  jacobian %7.2f  gram %7.2f  %s %7.2f  kernel %7.2f  dynamics %6.2f  kernel+dynamics "
                "%7.2f s  (pairs %lld, mu_max %.10g, tt %lld)\n",
                ttp_dyn_path_str(p[k]->path), kk->sec_jac, kk->sec_gram, k == 0 ? "eigen  " : "lanczos",
                kk->sec_eig, p[k]->sec_kernel, p[k]->sec_sim, tot[k], (long long)kk->neig, p[k]->mu_max,
                (long long)p[k]->main.tt[0].steps);
        }
        const ttp_curves *a = p[0]->main.curves, *b = p[1]->main.curves;
        double worst = 0;
        for (int64_t i = 0; i < (a->steps + 1) * a->members; i++)
            worst = fmax(worst, fabs(a->member_loss[i] - b->member_loss[i]));
        printf("  ratio eigen/direct (kernel + dynamics) = %.2f; max |dL|/L0 = %.2g; tt %s\n",
               tot[0] / tot[1], worst / a->loss[0],
               p[0]->main.tt[0].steps == p[1]->main.tt[0].steps &&
                       p[0]->main.tt[0].lo == p[1]->main.tt[0].lo &&
                       p[0]->main.tt[0].hi == p[1]->main.tt[0].hi
                   ? "identical"
                   : "DIFFERENT");
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "bench_dyn (rank %d): %s\n", comm.rank, ctx.msg);
    ttp_prediction_destroy(&p[0]);
    ttp_prediction_destroy(&p[1]);
    ttp_model_destroy(&m);
    ttp_data_destroy(&all);
    ttp_data_destroy(&d);
    ttp_mpi_finalize();
    return rc;
}
