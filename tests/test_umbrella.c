/*
 * test_umbrella.c — the umbrella header compiles on its own and its example
 * runs: a prediction on the bundled task through the public API alone,
 * checked against the closed form of GD with MSE on the same kernel.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_mpi.h"
#include "ttpredict.h"
#include "ttp_test.h"

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    CHECK_OK(&ctx, ttp_mpi_init(&ctx, &argc, &argv));
    ttp_mpi_comm(&comm, &world);
    const char *dir = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : TTP_DATA_DIR;
    char mp[1024], dp[1024];
    snprintf(mp, sizeof mp, "%s/default-model.nc", dir);
    snprintf(dp, sizeof dp, "%s/default-data.nc", dir);
    ttp_model *m = NULL;
    ttp_data *d = NULL, *sub = NULL;
    ttp_prediction *p = NULL;
    CHECK_OK(&ctx, ttp_model_read(&ctx, mp, &m));
    CHECK_OK(&ctx, ttp_data_read(&ctx, dp, &d));
    if (m == NULL || d == NULL) return ttp_test_end("test_umbrella");
    CHECK_OK(&ctx, ttp_data_take(&ctx, d, 100, &sub));
    ttp_predict_opts o;
    ttp_predict_opts_default(&o);
    o.opt.loss = TTP_LOSS_MSE;
    o.opt.lr = 0.005;
    o.opt.steps = 40;
    o.kernel.proj = TTP_PROJ_EXACT;
    o.time_reps = 0;
    o.dynamics = TTP_DYN_EIGEN; /* the closed form below needs every eigenpair */
    CHECK_OK(&ctx, ttp_predict_run(&ctx, &comm, m, sub, &o, &p));
    if (p && p->kernel && p->main.curves) {
        /* GD + MSE: the simulated curve equals the closed form over the spectrum. */
        const ttp_kernel *k = p->kernel;
        double *mu = calloc((size_t)k->neig, sizeof *mu), *loss = calloc(41, sizeof *loss);
        double kept = 0;
        for (int64_t i = 0; i < k->neig; i++)
            mu[i] = k->eigval[i] / (double)k->n, kept += k->p_res[i] * k->p_res[i];
        double rest = (k->res_energy - kept) / (2.0 * (double)k->n);
        CHECK_OK(&ctx, ttp_sim_gd_mse_closed(&ctx, mu, k->p_res, k->neig, k->n, o.opt.lr, 40, rest, loss));
        for (int t = 0; t <= 40; t++) CHECK_CLOSE(p->main.curves->loss[t], loss[t], 1e-12, 1e-9);
        CHECK(p->main.tt[0].steps >= 1 && p->main.tt[0].steps <= 40);
        free(mu);
        free(loss);
    }
    ttp_prediction_destroy(&p);
    CHECK(p == NULL);
    ttp_data_destroy(&sub);
    ttp_data_destroy(&d);
    ttp_model_destroy(&m);
    ttp_mpi_finalize();
    return ttp_test_end("test_umbrella");
}
