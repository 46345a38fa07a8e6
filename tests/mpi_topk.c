/*
 * mpi_topk.c — the large-N path (docs/METHOD.md §9, docs/large-n.md) on a case small enough to
 * check densely: N = 120 samples of the bundled task (data/default-data.nc,
 * stratified), the bundled model (data/default-model.nc, D = 5589), dense
 * Rademacher projection D′ = 256, so NC = 600 > D′ and the D′ × D′ side
 * (GᵀG) is the one decomposed.  Run at 1, 2 and 4 ranks.
 *
 * Reference (rank 0, serial, independent of ScaLAPACK and of the kernel
 * builder): ttp_jac_rows on all samples → G (NC × D′), Θ = G Gᵀ formed
 * here, all its eigenpairs by LAPACKE_dsyevd.
 *
 *  1. ttp_kernel_build(side = 1, top_k = K = 40, want_vectors): the K
 *     eigenvalues equal dsyevd's largest K to 1e-9 relative; every vector
 *     u = G w/σ is a unit eigenvector of the reference Θ
 *     (‖Θu − λu‖ ≤ 1e-9 λmax) and lines up with dsyevd's
 *     (1 − |uᵀv| ≤ 1e-9 where the eigenvalue gap exceeds 1e-4 λmax);
 *     projections p = Uᵀ(F₀ − Y) agree up to the vectors' signs.
 *  2. At K = rank(Θ) (top_k = 0: every non-zero pair, here D′ = 256), the
 *     simulation with Θ ≈ V_K Λ_K V_Kᵀ (ttp_theta eigen form, vectors from
 *     the distributed build) equals the simulation on the dense reference
 *     Θ to 1e-9 relative at every step of every member: SGD cross-entropy
 *     with momentum and weight decay, SGD MSE with Nesterov, full-batch GD.
 *  3. At K = 40 < rank, with E⊥ = ‖F₀ − Y‖² − Σ_{k≤K} p_k² the residual
 *     energy outside the top K (p_k from the reference's eigenvectors):
 *     (a) GD + MSE, exactly: in Θ's eigenbasis the truncated dynamics
 *         leave the tail modes untouched, so
 *           L^K_t − L_t = (1/2N) Σ_{k>K} (1 − (1 − η μ_k)^{2t}) p_k²
 *         (μ_k eigenvalues of Θ/N), checked to 1e-9 L₀, and hence
 *         0 ≤ L^K_t − L_t ≤ E⊥/(2N);
 *     (b) SGD + MSE: the truncated dynamics move F only inside span(V_K),
 *         so its loss never drops below E⊥/(2N) (exact invariant); and the
 *         bound |L^K_t − L_t| ≤ E⊥/(2N) at every step of every member
 *         (the GD bound; for SGD it is the one we test, not a theorem: the
 *         minibatch couples the tail into the top modes, which the margin
 *         printed shows is small next to the tail's own energy).
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_kbuild.h"
#include "ttp_jac.h"
#include "ttp_mpi.h"
#include "ttp_sim.h"
#include "ttp_test.h"

#define NSAMP 120
#define DPROJ 256
#define KTOP 40
#define SEED 3

/* The serial reference: G, F₀, u₀ of all samples with the kernel's plan. */
static int reference_rows(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, double **G, double **f0,
                          double **u0)
{
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    const int64_t NC = d->n * m->nout;
    int ok = 0;
    *G = malloc(sizeof **G * (size_t)NC * DPROJ);
    *f0 = malloc(sizeof **f0 * (size_t)NC);
    *u0 = malloc(sizeof **u0 * (size_t)NC);
    CHECK(*G && *f0 && *u0);
    if (!*G || !*f0 || !*u0) return 0;
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_RADEMACHER, DPROJ, SEED, "cpu", &plan));
    CHECK_OK(ctx, ttp_net_create(ctx, m, 4 * (int64_t)m->nout, &net));
    if (plan && net) {
        CHECK(ttp_jac_plan_dim(plan) == DPROJ);
        ttp_status st = ttp_jac_rows(ctx, plan, net, m->w, d->x, d->n, *G, *f0, *u0);
        CHECK_OK(ctx, st);
        ok = st == TTP_OK;
    }
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    return ok;
}

static ttp_curves *simulate(ttp_ctx *ctx, const ttp_theta *th, const ttp_data *d, const double *f0,
                            const double *u0, const ttp_opt *o)
{
    ttp_sim_problem p = {th, d->n, th->c, f0, u0, d->y, NULL};
    ttp_sim_opts so = {3, 0, 0.05, 0.95};
    ttp_curves *cv = NULL;
    CHECK_OK(ctx, ttp_sim_run(ctx, &p, o, &so, &cv));
    return cv;
}

/* Largest |a − b| / (|b| + floor) over every member's loss curve. */
static double curve_err(const ttp_curves *a, const ttp_curves *b, double floor)
{
    double e = 0.0;
    const size_t n = (size_t)a->members * (size_t)(a->steps + 1);
    for (size_t i = 0; i < n; i++) {
        double r = fabs(a->member_loss[i] - b->member_loss[i]) / (fabs(b->member_loss[i]) + floor);
        if (!(r <= e)) e = r; /* NaN propagates as a failure */
    }
    return e;
}

static void checks_rank0(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel *ktop,
                         const ttp_kernel *kall, int P)
{
    const int64_t N = d->n, C = m->nout, NC = N * C;
    double *G = NULL, *f0 = NULL, *u0 = NULL;
    double *theta = malloc(sizeof *theta * (size_t)NC * NC), *V = malloc(sizeof *V * (size_t)NC * NC);
    double *w = malloc(sizeof *w * (size_t)NC), *r0 = malloc(sizeof *r0 * (size_t)NC);
    double *pref = malloc(sizeof *pref * (size_t)NC);
    CHECK(theta && V && w && r0 && pref);
    if (!theta || !V || !w || !r0 || !pref || !reference_rows(ctx, m, d, &G, &f0, &u0)) goto done;

    /* Θ = G Gᵀ, both triangles; V its eigenvectors (ascending w). */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)NC, (int)NC, DPROJ, 1.0, G, DPROJ, G, DPROJ,
                0.0, theta, (int)NC);
    memcpy(V, theta, sizeof *V * (size_t)NC * NC);
    CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', (int)NC, V, (int)NC, w) == 0);
    const double lmax = w[NC - 1];
    double res2 = 0.0;
    for (int64_t j = 0; j < NC; j++) {
        r0[j] = f0[j] - (d->y[j / C] == j % C ? 1.0 : 0.0);
        res2 += r0[j] * r0[j];
    }
    /* pref[q] = v_qᵀ r0 for the q-th largest eigenpair */
    for (int64_t q = 0; q < NC; q++) {
        double s = 0.0;
        for (int64_t j = 0; j < NC; j++) s += V[j * NC + (NC - 1 - q)] * r0[j];
        pref[q] = s;
    }

    /* ---- 1. top-K eigenpairs through the D′ side ---------------------- */
    CHECK(ktop->side == 1 && kall->side == 1);
    CHECK(ktop->neig == KTOP && ktop->eigvec != NULL && ktop->dproj == DPROJ);
    CHECK(ktop->nranks == P);
    CHECK_CLOSE(ktop->res_energy, res2, 0.0, 1e-12);
    for (int64_t j = 0; j < NC; j++) CHECK_CLOSE(ktop->f0[j], f0[j], 1e-13, 1e-12);
    int bad_val = 0, bad_res = 0, bad_dir = 0, bad_p = 0;
    double worst_val = 0.0, worst_res = 0.0, worst_dir = 0.0;
    double *tu = malloc(sizeof *tu * (size_t)NC);
    for (int64_t q = 0; q < ktop->neig && q < KTOP && tu; q++) {
        const double lr = w[NC - 1 - q], lam = ktop->eigval[q];
        const double ev = fabs(lam - lr) / lr;
        if (ev > worst_val) worst_val = ev;
        if (!(ev <= 1e-9)) bad_val++;
        /* u_q as an eigenvector of the reference Θ */
        double nrm = 0.0, dot = 0.0, res = 0.0, pu = 0.0;
        for (int64_t i = 0; i < NC; i++) {
            const double ui = ktop->eigvec[i * ktop->neig + q];
            nrm += ui * ui;
            dot += ui * V[i * NC + (NC - 1 - q)];
            pu += ui * r0[i];
        }
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)NC, (int)NC, 1.0, theta, (int)NC, ktop->eigvec + q,
                    (int)ktop->neig, 0.0, tu, 1);
        for (int64_t i = 0; i < NC; i++) {
            const double e = tu[i] - lam * ktop->eigvec[i * ktop->neig + q];
            res += e * e;
        }
        res = sqrt(res) / lmax;
        if (res > worst_res) worst_res = res;
        if (!(res <= 1e-9) || !(fabs(sqrt(nrm) - 1.0) <= 1e-9)) bad_res++;
        /* alignment with dsyevd's vector where the eigenvalue is isolated */
        double gap = q > 0 ? w[NC - q] - lr : INFINITY;
        if (w[NC - 2 - q] > 0 && lr - w[NC - 2 - q] < gap) gap = lr - w[NC - 2 - q];
        if (gap > 1e-4 * lmax) {
            const double a = 1.0 - fabs(dot);
            if (a > worst_dir) worst_dir = a;
            if (!(a <= 1e-9)) bad_dir++;
            /* the kernel's projection: its own vector's sign */
            const double pk = ktop->p_res[q], pr = (dot > 0 ? 1.0 : -1.0) * pref[q];
            if (!(fabs(pk - pr) <= 1e-9 * sqrt(res2))) bad_p++;
        }
        if (!(fabs(ktop->p_res[q] - pu) <= 1e-9 * sqrt(res2))) bad_p++; /* p = uᵀ r0 for its u */
    }
    free(tu);
    printf("top-%d via D' side at %d rank(s): max rel eigenvalue error %.2e, max residual/lmax %.2e, "
           "max 1-|u.v| %.2e\n",
           KTOP, P, worst_val, worst_res, worst_dir);
    CHECK(bad_val == 0);
    CHECK(bad_res == 0);
    CHECK(bad_dir == 0);
    CHECK(bad_p == 0);
    /* pdsyevr's top K (ktop) and pdsyevd's all pairs (kall) agree too */
    for (int64_t q = 0; q < KTOP && q < kall->neig; q++)
        CHECK_CLOSE(kall->eigval[q], ktop->eigval[q], 0.0, 1e-9);

    /* ---- 2. K = rank(Θ): eigen operator = dense Θ ---------------------- */
    int64_t rank = 0;
    for (int64_t q = 0; q < NC; q++)
        if (w[q] > 1e-10 * lmax) rank++;
    printf("rank(Theta) = %lld (reference, lambda > 1e-10 lmax); kernel kept %lld pairs\n", (long long)rank,
           (long long)kall->neig);
    CHECK(rank == DPROJ);
    CHECK(kall->neig == rank);
    CHECK(kall->eigvec != NULL);
    if (kall->neig != rank || kall->eigvec == NULL) goto done;
    const double mu_max = lmax / (double)N;
    ttp_theta dense = {N, (int)C, theta, 0, NULL, NULL};
    ttp_theta eig = {N, (int)C, NULL, kall->neig, kall->eigvec, kall->eigval};
    ttp_opt cfg[3];
    for (int i = 0; i < 3; i++) ttp_opt_default(&cfg[i]);
    cfg[0].loss = TTP_LOSS_CE, cfg[0].lr = 0.5 / mu_max, cfg[0].batch = 16, cfg[0].momentum = 0.5;
    cfg[0].wd = 1e-3, cfg[0].steps = 60, cfg[0].seed = 4;
    cfg[1].loss = TTP_LOSS_MSE, cfg[1].lr = 0.4 / mu_max, cfg[1].batch = 10, cfg[1].momentum = 0.5;
    cfg[1].nesterov = 1, cfg[1].steps = 60, cfg[1].seed = 9;
    cfg[2].loss = TTP_LOSS_MSE, cfg[2].lr = 1.0 / mu_max, cfg[2].batch = 0, cfg[2].steps = 60;
    for (int i = 0; i < 3; i++) {
        ttp_curves *a = simulate(ctx, &eig, d, f0, u0, &cfg[i]),
                   *b = simulate(ctx, &dense, d, f0, u0, &cfg[i]);
        if (a && b) {
            const double e = curve_err(a, b, 1e-12);
            printf("K = rank: config %d (%s, batch %lld): max rel loss difference eigen vs dense %.2e; "
                   "loss %.4f -> %.4f\n",
                   i, cfg[i].loss == TTP_LOSS_CE ? "CE" : "MSE", (long long)cfg[i].batch, e, b->loss[0],
                   b->loss[b->steps]);
            CHECK(e <= 1e-9);
            CHECK(a->diverged == 0 && b->diverged == 0);
            for (int64_t t = 0; t <= a->steps; t++)
                CHECK(fabs(a->acc[t] - b->acc[t]) <= 1.0 / (double)N + 1e-12);
            CHECK(b->loss[b->steps] < 0.9 * b->loss[0]); /* it trained: not a vacuous comparison */
        }
        ttp_curves_destroy(&a);
        ttp_curves_destroy(&b);
    }

    /* ---- 3. K < rank: deviation bounded by the energy outside the top K */
    {
        double eout = res2;
        for (int64_t q = 0; q < KTOP; q++) eout -= pref[q] * pref[q];
        const double bound = eout / (2.0 * (double)N);
        printf("K = %d of %lld: energy outside the top K E = %.4e of |r0|^2 = %.4e (bound E/2N = %.4e)\n",
               KTOP, (long long)rank, eout, res2, bound);
        CHECK(eout > 1e-3 * res2); /* the tail matters here: the bound is not vacuous */
        ttp_theta top = {N, (int)C, NULL, ktop->neig, ktop->eigvec, ktop->eigval};
        /* (a) GD + MSE: exact difference from the reference spectrum */
        ttp_opt gd = cfg[2];
        ttp_curves *a = simulate(ctx, &top, d, f0, u0, &gd), *b = simulate(ctx, &dense, d, f0, u0, &gd);
        if (a && b) {
            int bad_form = 0, bad_bound = 0;
            for (int64_t t = 0; t <= gd.steps; t++) {
                double diff = a->loss[t] - b->loss[t], form = 0.0;
                for (int64_t q = KTOP; q < NC; q++) {
                    const double g = 1.0 - gd.lr * w[NC - 1 - q] / (double)N;
                    form += (1.0 - pow(g * g, (double)t)) * pref[q] * pref[q];
                }
                form /= 2.0 * (double)N;
                if (!(fabs(diff - form) <= 1e-9 * b->loss[0])) bad_form++;
                if (!(diff >= -1e-12 * b->loss[0] && diff <= bound * (1 + 1e-9))) bad_bound++;
            }
            printf(
                "GD MSE, K = %d: L^K_T - L_T = %.4e (closed form from the reference spectrum), bound %.4e\n",
                KTOP, a->loss[gd.steps] - b->loss[gd.steps], bound);
            CHECK(bad_form == 0);
            CHECK(bad_bound == 0);
        }
        ttp_curves_destroy(&a);
        ttp_curves_destroy(&b);
        /* (b) SGD + MSE */
        ttp_opt sgd = cfg[1];
        sgd.nesterov = 0, sgd.momentum = 0.0, sgd.lr = 1.0 / mu_max;
        a = simulate(ctx, &top, d, f0, u0, &sgd);
        b = simulate(ctx, &dense, d, f0, u0, &sgd);
        if (a && b) {
            double worst = 0.0, floor_gap = INFINITY;
            const size_t n = (size_t)a->members * (size_t)(sgd.steps + 1);
            for (size_t i = 0; i < n; i++) {
                const double dv = fabs(a->member_loss[i] - b->member_loss[i]);
                if (!(dv <= worst)) worst = dv;
                if (a->member_loss[i] - bound < floor_gap) floor_gap = a->member_loss[i] - bound;
            }
            printf("SGD MSE batch %lld, K = %d: max |L^K_t - L_t| = %.4e = %.2f of the bound E/2N; "
                   "min L^K_t - E/2N = %.2e\n",
                   (long long)sgd.batch, KTOP, worst, worst / bound, floor_gap);
            CHECK(worst <= bound);
            CHECK(floor_gap >= -1e-9 * bound);
        }
        ttp_curves_destroy(&a);
        ttp_curves_destroy(&b);
    }
done:
    free(G), free(f0), free(u0), free(theta), free(V), free(w), free(r0), free(pref);
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
    const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : "data";
    char mp[2048], dp[2048];
    snprintf(mp, sizeof mp, "%s/default-model.nc", dd);
    snprintf(dp, sizeof dp, "%s/default-data.nc", dd);
    ttp_model *m = NULL;
    ttp_data *all = NULL, *d = NULL;
    ttp_kernel *ktop = NULL, *kall = NULL;
    CHECK_OK(&ctx, ttp_model_read(&ctx, mp, &m));
    CHECK_OK(&ctx, ttp_data_read(&ctx, dp, &all));
    if (all) CHECK_OK(&ctx, ttp_data_take(&ctx, all, NSAMP, &d));
    int ready = m != NULL && d != NULL, every = 0;
    MPI_Allreduce(&ready, &every, 1, MPI_INT, MPI_MIN, world);
    if (every) {
        ttp_kernel_opts o;
        ttp_kernel_opts_default(&o);
        o.proj = TTP_PROJ_RADEMACHER, o.dproj = DPROJ, o.proj_seed = SEED, o.backend = "cpu";
        o.block = 16, o.side = 1, o.want_vectors = 1;
        o.top_k = KTOP;
        CHECK_OK(&ctx, ttp_kernel_build(&ctx, &comm, m, d, &o, &ktop));
        o.top_k = 0;
        CHECK_OK(&ctx, ttp_kernel_build(&ctx, &comm, m, d, &o, &kall));
        if (comm.rank == 0 && ktop && kall) checks_rank0(&ctx, m, d, ktop, kall, comm.size);
        if (comm.rank != 0 && ktop)
            CHECK(ktop->eigvec == NULL && ktop->f0 == NULL); /* vectors on rank 0 only */
    }
    ttp_kernel_destroy(&ktop);
    ttp_kernel_destroy(&kall);
    ttp_model_destroy(&m);
    ttp_data_destroy(&all);
    ttp_data_destroy(&d);
    int rc = ttp_test_end("mpi_topk"), any = rc;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, world);
    ttp_mpi_finalize();
    return any;
}
