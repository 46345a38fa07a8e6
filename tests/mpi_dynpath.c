/*
 * mpi_dynpath.c — the two dynamics paths of the prediction give the same
 * result: `eigen` (full eigen-decomposition, dynamics on V Λ Vᵀ) against
 * `direct` (Θ itself, dynamics as products with it, top pairs by Lanczos).
 * The reference for each path is the other, computed independently: ScaLAPACK
 * pdsyevd on the D′ or NC side for one, Θ gathered whole and LAPACK dstev on
 * a Lanczos tridiagonal for the other.  Run at 1, 2 and 4 ranks.
 *
 * Problems: 120 samples of the bundled task (stratified), the bundled model
 * (D = 5589), with (a) a dense Rademacher projection D′ = 256 (NC = 600 >
 * D′: Θ has rank 256 and the eigen path decomposes the D′ side) and (b) the
 * exact kernel (NC side, full rank).  Optimizers: full-batch GD with MSE;
 * SGD with cross-entropy, momentum and weight decay, 4 members; SGD with
 * MSE and Nesterov, 3 members.  Same seeds on both paths.
 *
 * Checked: every member's loss at every step agrees to 1e-10 relative to
 * the initial loss (rounding of two different factorizations of the same
 * Θ, amplified by at most T steps of a contraction); accuracies equal;
 * training times and their bands identical; μ_max to 1e-12 relative; the
 * direct path's top eigenvalues equal the eigen path's to 1e-10 λ_max; the
 * path reported is the one asked; `direct` where it cannot serve (subset)
 * is refused naming the option; auto follows the flop counts.  The
 * automatic subset (option subset auto): its rule's N0 and refusals, and
 * its prediction equal to the explicit subset's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_mpi.h"
#include "ttp_predict.h"
#include "ttp_test.h"

#define NSAMP 120

static void compare(const ttp_prediction *a, const ttp_prediction *b, const char *what)
{
    const ttp_curves *ca = a->main.curves, *cb = b->main.curves;
    CHECK(ca != NULL && cb != NULL);
    if (!ca || !cb) return;
    CHECK(ca->members == cb->members && ca->steps == cb->steps);
    const int64_t T1 = ca->steps + 1;
    const double L0 = fabs(ca->loss[0]);
    double worst = 0.0;
    int acc_diff = 0;
    for (int64_t i = 0; i < T1 * ca->members; i++) {
        const double d = fabs(ca->member_loss[i] - cb->member_loss[i]);
        if (!(d <= worst)) worst = d;
        if (!(ca->member_acc[i] == cb->member_acc[i]) &&
            !(isnan(ca->member_acc[i]) && isnan(cb->member_acc[i])))
            acc_diff++;
    }
    printf("%s: members %d, worst |loss difference| / L0 = %.3g, accuracy differences %d\n", what,
           ca->members, worst / L0, acc_diff);
    CHECK(worst <= 1e-10 * L0);
    CHECK(acc_diff == 0);
    CHECK(a->main.tt[0].steps == b->main.tt[0].steps);
    CHECK(a->main.tt[0].lo == b->main.tt[0].lo);
    CHECK(a->main.tt[0].hi == b->main.tt[0].hi);
    CHECK_CLOSE(a->mu_max, b->mu_max, 0.0, 1e-12);
    const ttp_kernel *ka = a->kernel, *kb = b->kernel;
    CHECK(ka && kb && kb->neig > 0 && kb->neig <= ka->neig);
    for (int64_t j = 0; ka && kb && j < kb->neig; j++)
        CHECK_CLOSE(kb->eigval[j], ka->eigval[j], 1e-10 * ka->eigval[0], 0.0);
}

static void run_pair(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                     const ttp_predict_opts *base, const char *what)
{
    ttp_prediction *pe = NULL, *pd = NULL;
    ttp_predict_opts o = *base;
    o.dynamics = TTP_DYN_EIGEN;
    CHECK_OK(ctx, ttp_predict_run(ctx, comm, m, d, &o, &pe));
    o.dynamics = TTP_DYN_DIRECT;
    CHECK_OK(ctx, ttp_predict_run(ctx, comm, m, d, &o, &pd));
    if (pe && pd) {
        CHECK(pe->path == TTP_DYN_EIGEN && pd->path == TTP_DYN_DIRECT);
        if (comm->rank == 0) compare(pe, pd, what);
    }
    ttp_prediction_destroy(&pe);
    ttp_prediction_destroy(&pd);
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
    const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : "data";
    char mp[2048], dp[2048];
    snprintf(mp, sizeof mp, "%s/default-model.nc", dd);
    snprintf(dp, sizeof dp, "%s/default-data.nc", dd);
    ttp_model *m = NULL;
    ttp_data *all = NULL, *d = NULL;
    CHECK_OK(&ctx, ttp_model_read(&ctx, mp, &m));
    CHECK_OK(&ctx, ttp_data_read(&ctx, dp, &all));
    if (all) CHECK_OK(&ctx, ttp_data_take(&ctx, all, NSAMP, &d));
    int ready = m != NULL && d != NULL, every = 0;
    MPI_Allreduce(&ready, &every, 1, MPI_INT, MPI_MIN, world);
    for (int proj = 0; every && proj < 2; proj++) {
        ttp_predict_opts o;
        ttp_predict_opts_default(&o);
        o.time_reps = 0;
        o.kernel.backend = "cpu";
        o.kernel.block = 16;
        if (proj == 0) {
            o.kernel.proj = TTP_PROJ_RADEMACHER;
            o.kernel.dproj = 256;
            o.kernel.proj_seed = 3;
        } else {
            o.kernel.proj = TTP_PROJ_EXACT;
        }
        const char *pn = proj == 0 ? "rademacher D'=256" : "exact";
        char what[128];
        /* full-batch GD, MSE */
        o.opt.loss = TTP_LOSS_MSE;
        o.opt.lr = 0.005;
        o.opt.batch = 0;
        o.opt.steps = 60;
        snprintf(what, sizeof what, "%s, GD MSE", pn);
        run_pair(&ctx, &comm, m, d, &o, what);
        /* SGD, cross-entropy, momentum, weight decay */
        o.opt.loss = TTP_LOSS_CE;
        o.opt.lr = 0.01;
        o.opt.batch = 20;
        o.opt.momentum = 0.9;
        o.opt.wd = 1e-3;
        o.opt.seed = 7;
        o.sim.ensemble = 4;
        snprintf(what, sizeof what, "%s, SGD CE momentum wd", pn);
        run_pair(&ctx, &comm, m, d, &o, what);
        /* SGD, MSE, Nesterov */
        o.opt.loss = TTP_LOSS_MSE;
        o.opt.lr = 0.002;
        o.opt.wd = 0.0;
        o.opt.nesterov = 1;
        o.opt.batch = 30;
        o.sim.ensemble = 3;
        snprintf(what, sizeof what, "%s, SGD MSE Nesterov", pn);
        run_pair(&ctx, &comm, m, d, &o, what);
    }
    if (every) {
        /* the path choice: direct refused where it cannot serve, auto on flops */
        ttp_predict_opts o;
        ttp_predict_opts_default(&o);
        o.dynamics = TTP_DYN_DIRECT;
        o.subset = 60;
        ttp_dyn_path path = TTP_DYN_AUTO;
        CHECK_FAILS(&ctx, ttp_predict_path(&ctx, &o, m->ntrainable, NSAMP, m->nout, &path, NULL, NULL),
                    TTP_ERR_UNSUPPORTED, "option dynamics");
        o.dynamics = TTP_DYN_AUTO;
        CHECK_OK(&ctx, ttp_predict_path(&ctx, &o, m->ntrainable, NSAMP, m->nout, &path, NULL, NULL));
        CHECK(path == TTP_DYN_EIGEN);
        o.subset = 0;
        double fe = 0, fd = 0;
        CHECK_OK(&ctx, ttp_predict_path(&ctx, &o, m->ntrainable, NSAMP, m->nout, &path, &fe, &fd));
        CHECK(fe > 0 && fd > 0 && path == (fd < fe ? TTP_DYN_DIRECT : TTP_DYN_EIGEN));
        /* a long GD horizon on a low-rank Θ favours the eigen form: a step
         * costs 4·NC·D′ there against 2·NC² */
        o.kernel.proj = TTP_PROJ_RADEMACHER;
        o.kernel.dproj = 64;
        o.opt.steps = 1000000;
        o.opt.batch = 0;
        CHECK_OK(&ctx, ttp_predict_path(&ctx, &o, m->ntrainable, NSAMP, m->nout, &path, &fe, &fd));
        CHECK(path == TTP_DYN_EIGEN && fe < fd);
    }
    if (every) {
        /* subset auto: N0 = max(5 |B|, ⌊N/2⌋) when N0 <= N/2, else the whole
         * set; the prediction it gives is the explicit subset's */
        ttp_predict_opts o;
        ttp_predict_opts_default(&o);
        o.time_reps = 0;
        o.opt.steps = 40;
        o.sim.ensemble = 3;
        char why[128];
        o.opt.batch = 10; /* N0 = max(50, 60) = 60 <= 60 */
        CHECK(ttp_predict_subset_auto(&o, NSAMP, why, sizeof why) == 60 && strstr(why, "N0 = max(5 |B|"));
        CHECK(ttp_predict_subset_auto(&o, 3001, why, sizeof why) == 1500);
        o.opt.batch = 11; /* N0 = max(55, 60) = 60 */
        CHECK(ttp_predict_subset_auto(&o, NSAMP, why, sizeof why) == 60);
        o.opt.batch = 13; /* N0 = 65 > 60 */
        CHECK(ttp_predict_subset_auto(&o, NSAMP, why, sizeof why) == 0 && strstr(why, "below 10 |B|"));
        o.opt.batch = 0;
        CHECK(ttp_predict_subset_auto(&o, NSAMP, why, sizeof why) == 0 && strstr(why, "full batch"));
        o.opt.batch = 10;
        o.opt.wd = 1e-3;
        CHECK(ttp_predict_subset_auto(&o, NSAMP, why, sizeof why) == 0 && strstr(why, "weight decay"));
        o.opt.wd = 0.0;
        ttp_prediction *pa = NULL, *pe = NULL, *pk = NULL;
        o.subset = TTP_SUBSET_AUTO;
        CHECK_OK(&ctx, ttp_predict_run(&ctx, &comm, m, d, &o, &pa));
        o.subset = 60;
        CHECK_OK(&ctx, ttp_predict_run(&ctx, &comm, m, d, &o, &pe));
        if (pa && pe && comm.rank == 0) {
            CHECK(pa->subset_auto == 1 && pe->subset_auto == 0 && pa->n_kernel == 60 && pa->n == NSAMP);
            CHECK(pa->main.tt[0].steps == pe->main.tt[0].steps);
            for (int64_t t = 0; t <= o.opt.steps; t++)
                CHECK(pa->main.curves->loss[t] == pe->main.curves->loss[t]);
        }
        o.subset = TTP_SUBSET_AUTO;
        o.opt.batch = 20; /* N0 = 100 > 60: the whole set */
        CHECK_OK(&ctx, ttp_predict_run(&ctx, &comm, m, d, &o, &pk));
        if (pk && comm.rank == 0)
            CHECK(pk->subset_auto == -1 && pk->n_kernel == NSAMP && strstr(pk->subset_why, "kept all 120"));
        ttp_prediction_destroy(&pa);
        ttp_prediction_destroy(&pe);
        ttp_prediction_destroy(&pk);
    }
    ttp_model_destroy(&m);
    ttp_data_destroy(&all);
    ttp_data_destroy(&d);
    int rc = ttp_test_end("mpi_dynpath"), any = rc;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, world);
    ttp_mpi_finalize();
    return any;
}
