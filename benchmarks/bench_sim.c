/*
 * bench_sim.c — cost of the simulated linearized training (src/predict/sim.c)
 *   OPENBLAS_NUM_THREADS=1 build/benchmarks/bench_sim [--n N] [--c C] [--k K]
 *                                  [--batch B] [--members M] [--steps T]
 *
 * On a synthetic rank-K kernel Θ = V diag(λ) Vᵀ (NC × NC, V from a QR of a
 * Gaussian matrix, λ_k ∝ k^−1.5; defaults N = 500, C = 5, K = 256, the
 * bundled task's shape) held both dense and in eigen form — the same
 * operator, so the two curves must agree (printed as a check):
 *   1. full-batch GD, MSE: seconds per step, dense (DSYMV, O((NC)²)) vs
 *      eigen (two DGEMVs, O(NC·K)), and their ratio;
 *   2. SGD (batch B, default 32), one member: dense (gathered columns,
 *      O(NC·BC)) vs eigen (O(BC·K + NC·K));
 *   3. SGD ensembles of M members (default 16): member-steps per second,
 *      dense (one trajectory after another) vs eigen (members in lockstep,
 *      one DGEMM per step), and the ensemble's speed-up over M single runs;
 *   4. the eigenbasis SDE on the same K modes (the extrapolation path):
 *      member-steps per second.
 * Loss evaluation on all N samples at every step is included in every time,
 * as in a real prediction.  Each time is the best of 3 runs.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_sim.h"

static int64_t iarg(int argc, char **argv, const char *name, int64_t dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoll(argv[i + 1]);
    return dflt;
}

static void die(ttp_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_sim: %s: %s\n%s", what, ctx->msg, ctx->trace);
    exit(1);
}

/* Seconds per step of ttp_sim_run, best of 3 (the cores are shared);
 * *cv receives the last run's curves. */
static double run(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *o, int members, ttp_curves **cv)
{
    ttp_sim_opts so = {members, 0, 0.05, 0.95};
    double best = INFINITY;
    for (int r = 0; r < 3; r++) {
        ttp_curves_destroy(cv);
        double t = ttp_time();
        if (ttp_sim_run(ctx, p, o, &so, cv) != TTP_OK) die(ctx, "ttp_sim_run");
        best = fmin(best, (ttp_time() - t) / (double)o->steps);
    }
    return best;
}

static double max_rel(const double *a, const double *b, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
    return w;
}

int main(int argc, char **argv)
{
    const int64_t N = iarg(argc, argv, "--n", 500), C = iarg(argc, argv, "--c", 5), NC = N * C;
    const int64_t K = iarg(argc, argv, "--k", 256), B = iarg(argc, argv, "--batch", 32);
    const int M = (int)iarg(argc, argv, "--members", 16);
    const int64_t T = iarg(argc, argv, "--steps", 100);
    if (K > NC || K < 1 || B < 1 || B >= N || M < 1 || T < 1) {
        fprintf(stderr, "bench_sim: need 1 <= K <= N*C, 1 <= B < N, M >= 1, T >= 1\n");
        return 1;
    }
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    double *V = malloc(sizeof *V * (size_t)(NC * K)), *tau = malloc(sizeof *tau * (size_t)K);
    double *lam = malloc(sizeof *lam * (size_t)K), *VL = malloc(sizeof *VL * (size_t)(NC * K));
    double *th = malloc(sizeof *th * (size_t)(NC * NC)), *f0 = malloc(sizeof *f0 * (size_t)NC);
    double *mu = malloc(sizeof *mu * (size_t)K), *p = malloc(sizeof *p * (size_t)K);
    int *y = malloc(sizeof *y * (size_t)N);
    if (!V || !tau || !lam || !VL || !th || !f0 || !mu || !p || !y) {
        fprintf(stderr, "bench_sim: out of memory for N*C = %lld\n", (long long)NC);
        return 1;
    }
    uint64_t key = ttp_rng_key(2020, 1);
    for (int64_t i = 0; i < NC * K; i++) V[i] = ttp_rng_normal(key, (uint64_t)i);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)NC, (lapack_int)K, V, (lapack_int)K, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)NC, (lapack_int)K, (lapack_int)K, V, (lapack_int)K, tau);
    /* λ_k of Θ = N · 50 k^−1.5: μ_max of Θ/N is 50, as on the bundled task's scale */
    for (int64_t k = 0; k < K; k++) lam[k] = (double)N * 50.0 * pow((double)(k + 1), -1.5);
    for (int64_t i = 0; i < NC; i++)
        for (int64_t k = 0; k < K; k++) VL[i * K + k] = V[i * K + k] * lam[k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)NC, (int)NC, (int)K, 1.0, VL, (int)K, V, (int)K,
                0.0, th, (int)NC);
    for (int64_t i = 0; i < NC; i++) f0[i] = 0.3 * ttp_rng_normal(ttp_rng_key(2020, 2), (uint64_t)i);
    for (int64_t i = 0; i < N; i++)
        y[i] = (int)(ttp_rng_u64(ttp_rng_key(2020, 3), (uint64_t)i) % (uint64_t)C);

    ttp_theta dense = {N, (int)C, th, 0, NULL, NULL}, eig = {N, (int)C, NULL, K, V, lam};
    ttp_sim_problem pd = {&dense, N, (int)C, f0, NULL, y, NULL}, pe = {&eig, N, (int)C, f0, NULL, y, NULL};
    ttp_opt o;
    ttp_opt_default(&o);
    o.loss = TTP_LOSS_MSE;
    o.lr = 1.0 / 50.0;
    o.steps = T;
    printf("bench_sim: N = %lld, C = %lld (NC = %lld), K = %lld modes, T = %lld steps, mu_max(Theta/N) = 50, "
           "eta = %.3g\n\n",
           (long long)N, (long long)C, (long long)NC, (long long)K, (long long)T, o.lr);

    ttp_curves *a = NULL, *b = NULL;
    o.batch = 0;
    double gd_d = run(&ctx, &pd, &o, 1, &a), gd_e = run(&ctx, &pe, &o, 1, &b);
    printf("1. GD (full batch)       dense %9.3f ms/step   eigen %9.3f ms/step   dense/eigen %6.2fx   "
           "(curves agree to %.1e)\n",
           1e3 * gd_d, 1e3 * gd_e, gd_d / gd_e, max_rel(a->loss, b->loss, T + 1));
    ttp_curves_destroy(&a), ttp_curves_destroy(&b);

    o.batch = B;
    double s1_d = run(&ctx, &pd, &o, 1, &a), s1_e = run(&ctx, &pe, &o, 1, &b);
    printf("2. SGD B=%-4lld 1 member  dense %9.3f ms/step   eigen %9.3f ms/step   dense/eigen %6.2fx   "
           "(curves agree to %.1e)\n",
           (long long)B, 1e3 * s1_d, 1e3 * s1_e, s1_d / s1_e, max_rel(a->loss, b->loss, T + 1));
    ttp_curves_destroy(&a), ttp_curves_destroy(&b);

    double sm_d = run(&ctx, &pd, &o, M, &a), sm_e = run(&ctx, &pe, &o, M, &b);
    double diff = max_rel(a->member_loss, b->member_loss, (int64_t)M * (T + 1));
    printf(
        "3. SGD B=%-4lld M=%-3d      dense %9.0f member-steps/s   eigen %9.0f member-steps/s   eigen/dense "
        "%6.2fx\n",
        (long long)B, M, M / sm_d, M / sm_e, sm_d / sm_e);
    printf(
        "   ensemble vs M single runs: dense %.2fx, eigen (lockstep DGEMM) %.2fx   (members agree to %.1e)\n",
        M * s1_d / sm_d, M * s1_e / sm_e, diff);
    ttp_curves_destroy(&a), ttp_curves_destroy(&b);

    /* 4. SDE on the same K modes: p = Vᵀ(F₀ − Y) */
    for (int64_t i = 0; i < NC; i++) VL[i] = f0[i] - ((int64_t)y[i / C] == i % C ? 1.0 : 0.0);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)NC, (int)K, 1.0, V, (int)K, VL, 1, 0.0, p, 1);
    for (int64_t k = 0; k < K; k++) mu[k] = lam[k] / (double)N;
    ttp_sim_opts so = {M, 0, 0.05, 0.95};
    double sde = INFINITY;
    for (int r = 0; r < 3; r++) {
        ttp_curves_destroy(&a);
        double t = ttp_time();
        if (ttp_sim_sde(&ctx, mu, p, K, N, (int)C, &o, &so, 0.0, 1.0, &a) != TTP_OK) die(&ctx, "ttp_sim_sde");
        sde = fmin(sde, (ttp_time() - t) / (double)T);
    }
    printf("4. SDE B=%-4lld M=%-3d      %9.0f member-steps/s   vs exact eigen ensemble %.1fx faster\n",
           (long long)B, M, M / sde, sm_e / sde);
    ttp_curves_destroy(&a);

    free(V), free(tau), free(lam), free(VL), free(th), free(f0), free(mu), free(p), free(y);
    return 0;
}
