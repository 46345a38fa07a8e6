/*
 * bench_relin.c — piecewise re-linearization of full-batch GD outside the
 * pipeline (issue 12, item 2; `predict --relinearize K` is the product's
 * form, src/predict/relin.c): the experiment that measured it.
 *
 * Every K steps the kernel is rebuilt at the linearized weights
 * w₀ + Jᵀ a_t (ttp_faith_trace + ttp_faith_weights, docs/METHOD.md §6b) and
 * the dynamics continue from the real network's outputs there.  K ≥ T is
 * the ordinary prediction.  Prints each segment and the rel 0.2/0.1/0.05
 * training times of the stitched loss curve, to compare with
 * `ttpredict train` at the same settings.
 *
 *   mpirun -np 1 build/benchmarks/bench_relin LOSS(mse|ce) LR K [DPROJ=1024] [MODEL DATA]
 *
 * GD without momentum only: with momentum the buffer v = Jᵀ α + γ w₀ would
 * have to be carried into the new linearization (J_new v, a Jacobian-vector
 * product), which this experiment does not do.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_mpi.h"
#include "ttpredict.h"

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) return 1;
    if (argc < 4) {
        fprintf(stderr, "usage: bench_relin mse|ce LR K [DPROJ] [MODEL DATA]\n");
        MPI_Finalize();
        return 2;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    const char *mp = argc > 6 ? argv[5] : "data/default-model.nc",
               *dp = argc > 6 ? argv[6] : "data/default-data.nc";
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    ttp_status st = TTP_OK;
    double *L = NULL, *flin = NULL, *a = NULL, *c = NULL, *ll = NULL, *w = NULL;
    int64_t *steps = NULL;
    if (ttp_model_load(&ctx, mp, &m) != TTP_OK || ttp_data_read(&ctx, dp, &d) != TTP_OK) goto fail;
    ttp_opt o;
    ttp_opt_default(&o);
    o.loss = strcmp(argv[1], "ce") == 0 ? TTP_LOSS_CE : TTP_LOSS_MSE;
    o.lr = atof(argv[2]);
    const int K = atoi(argv[3]);
    const int64_t dproj = argc > 4 ? atoll(argv[4]) : 1024;
    const int64_t T = o.steps, NC = d->n * m->nout;
    if (K < 1) {
        fprintf(stderr, "K must be >= 1\n");
        goto fail;
    }
    L = malloc(sizeof *L * (size_t)(T + 1));
    flin = malloc(sizeof *flin * (size_t)((K + 1) * NC));
    a = malloc(sizeof *a * (size_t)((K + 1) * NC));
    c = malloc(sizeof *c * (size_t)(K + 1));
    ll = malloc(sizeof *ll * (size_t)(K + 1));
    steps = malloc(sizeof *steps * (size_t)(K + 1));
    w = malloc(sizeof *w * (size_t)m->nparams);
    if (!L || !flin || !a || !c || !ll || !steps || !w) goto fail;
    double t0s = ttp_time();
    for (int64_t t0 = 0; t0 < T; t0 += K) {
        int k = (int)(T - t0 < K ? T - t0 : K);
        ttp_kernel_opts ko;
        ttp_kernel_opts_default(&ko);
        ko.proj = dproj > 0 ? TTP_PROJ_KRON : TTP_PROJ_EXACT;
        ko.dproj = dproj;
        ko.proj_seed = 1;
        ko.want_vectors = 1;
        ttp_kernel *kr = NULL;
        if ((st = ttp_kernel_build(&ctx, &comm, m, d, &ko, &kr)) != TTP_OK) goto fail;
        if (comm.rank == 0) {
            ttp_theta th = {kr->n, kr->c, kr->theta, kr->neig, kr->eigvec, kr->eigval};
            ttp_sim_problem prob = {&th, kr->n, kr->c, kr->f0, kr->u0, kr->labels, kr->targets};
            for (int j = 0; j <= k; j++) steps[j] = j;
            if ((st = ttp_faith_trace(&ctx, &prob, &o, o.seed, k + 1, steps, flin, a, c, ll)) != TTP_OK)
                goto fail;
            for (int j = 0; j <= k; j++) L[t0 + j] = ll[j];
            if ((st = ttp_faith_weights(&ctx, m, d, a + (size_t)k * NC, c[k], w)) != TTP_OK) goto fail;
            printf("segment %4lld..%-4lld mu_max(Theta/N) %.4g, linear loss %.4g -> %.4g\n", (long long)t0,
                   (long long)(t0 + k), kr->eigval[0] / (double)kr->n, ll[0], ll[k]);
        }
        ttp_kernel_destroy(&kr);
        /* every rank needs the new weights: rank 0 holds them, the others 0 */
        if (comm.rank != 0) memset(w, 0, sizeof *w * (size_t)m->nparams);
        if ((st = comm.allreduce_sum(&comm, w, m->nparams, &ctx)) != TTP_OK) goto fail;
        memcpy(m->w, w, sizeof *w * (size_t)m->nparams);
    }
    if (comm.rank == 0) {
        const double f[3] = {0.2, 0.1, 0.05};
        printf("K = %d, %s, lr %g, D' = %lld: %.1f s\n", K, ttp_loss_str(o.loss), o.lr, (long long)dproj,
               ttp_time() - t0s);
        for (int i = 0; i < 3; i++) {
            ttp_tt_def def = {TTP_TT_REL, f[i], 1};
            printf("  rel:%-5g %lld steps\n", f[i], (long long)ttp_ttime(&def, L, NULL, T));
        }
    }
fail:
    if (ctx.code != TTP_OK) fprintf(stderr, "bench_relin: %s\n", ctx.msg);
    free(L), free(flin), free(a), free(c), free(ll), free(steps), free(w);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    MPI_Finalize();
    return ctx.code == TTP_OK ? 0 : 1;
}
