/*
 * test_stable_lr.c — the largest stable learning rate a prediction reports
 * (ttp_prediction.lr_stable, lr_stable_full), against closed forms on a tiny
 * kernel whose spectrum the test computes itself:
 *   - full batch: 2 / (κ μ_max + λ) for GD, 2 (1 + m) / (κ μ_max + λ) for
 *     heavy ball, 2 (1 + m) / (1 + 2m) / (κ μ_max + λ) for Nesterov, with
 *     μ_max = λ_max(Θ)/N by power iteration on the dense Θ (the kernel's
 *     eigenpairs come from LAPACK dsyev, so the two routes are independent);
 *   - it is the limit it claims: the GD prediction at 0.98 of it is valid,
 *     at 1.02 of it unstable and marked invalid;
 *   - SGD: the rate at which the mean per-batch figure reaches the limit,
 *     h / mean_b(κ λ_max(Θ_BB)/|B| + λ), from the first epoch's batches
 *     (ttp_batch_indices) and LAPACK's top eigenvalue of each Θ_BB, or the
 *     full-batch limit when lower.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "ttpredict.h"
#include "ttp_test.h"

enum { N = 12, C = 2, R = 7, NC = N * C };

typedef struct {
    double theta[NC * NC], vecs[NC * NC], vals[NC], f0[NC], u0[NC];
    int labels[N];
    ttp_kernel k;
    double mu_max; /* by power iteration */
} fixture;

static void make(fixture *fx)
{
    /* Θ = G Gᵀ, G (NC × R) with a spread of scales: rank R */
    double g[NC * R], w[NC], a[NC * NC];
    for (int i = 0; i < NC * R; i++) g[i] = ttp_rng_normal(3, (uint64_t)i) * (1.0 + (i % R));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NC, NC, R, 1.0, g, R, g, R, 0.0, fx->theta, NC);
    memcpy(a, fx->theta, sizeof a);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', NC, a, NC, w);
    CHECK(info == 0);
    /* descending, non-zero part only (as the kernel stage keeps it) */
    int k = 0;
    for (int j = NC - 1; j >= 0; j--)
        if (w[j] > 1e-9 * w[NC - 1]) k++;
    CHECK(k == R);
    for (int q = 0; q < k; q++) {
        int j = NC - 1 - q;
        fx->vals[q] = w[j];
        for (int r = 0; r < NC; r++) fx->vecs[r * k + q] = a[r * NC + j];
    }
    for (int r = 0; r < NC; r++) {
        fx->f0[r] = 0.3 * ttp_rng_normal(5, (uint64_t)r);
        fx->u0[r] = 0.1 * ttp_rng_normal(6, (uint64_t)r);
    }
    for (int i = 0; i < N; i++) fx->labels[i] = i % C;
    memset(&fx->k, 0, sizeof fx->k);
    fx->k.n = N, fx->k.c = C, fx->k.d = fx->k.dproj = R;
    fx->k.f0 = fx->f0, fx->k.u0 = fx->u0, fx->k.labels = fx->labels;
    fx->k.neig = k, fx->k.eigval = fx->vals, fx->k.eigvec = fx->vecs;
    /* μ_max by power iteration on the dense Θ: the independent route */
    double v[NC], y[NC], lam = 0;
    for (int r = 0; r < NC; r++) v[r] = 1.0 + 0.01 * r;
    for (int it = 0; it < 2000; it++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, NC, NC, 1.0, fx->theta, NC, v, 1, 0.0, y, 1);
        lam = cblas_dnrm2(NC, y, 1);
        for (int r = 0; r < NC; r++) v[r] = y[r] / lam;
    }
    fx->mu_max = lam / N;
}

static ttp_prediction *predict(ttp_ctx *ctx, fixture *fx, const ttp_predict_opts *o)
{
    ttp_prediction *p = NULL;
    CHECK_OK(ctx, ttp_predict_from_kernel(ctx, &fx->k, o, N, NAN, &p));
    return p;
}

static void opts(ttp_predict_opts *o, ttp_loss_kind loss, double m, int nesterov, double wd, int64_t batch)
{
    ttp_predict_opts_default(o);
    o->opt.loss = loss;
    o->opt.momentum = m;
    o->opt.nesterov = nesterov;
    o->opt.wd = wd;
    o->opt.batch = batch;
    o->opt.steps = 60;
    o->opt.lr = 1e-3;
    o->sim.ensemble = 2;
    o->time_reps = 0;
}

static void check_full_batch(ttp_ctx *ctx, fixture *fx)
{
    const struct {
        ttp_loss_kind loss;
        double m;
        int nest;
        double wd;
    } cases[] = {{TTP_LOSS_MSE, 0, 0, 0},   {TTP_LOSS_MSE, 0.5, 0, 0.01}, {TTP_LOSS_MSE, 0.9, 1, 0},
                 {TTP_LOSS_CE, 0, 0, 0.02}, {TTP_LOSS_CE, 0.7, 0, 0},     {TTP_LOSS_CE, 0.3, 1, 0.05}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ttp_predict_opts o;
        opts(&o, cases[i].loss, cases[i].m, cases[i].nest, cases[i].wd, 0);
        const double kappa = cases[i].loss == TTP_LOSS_MSE ? 1.0 : 0.5, m = cases[i].m;
        const double h = m == 0 ? 2.0 : cases[i].nest ? 2.0 * (1 + m) / (1 + 2 * m) : 2.0 * (1 + m);
        const double want = h / (kappa * fx->mu_max + cases[i].wd);
        ttp_prediction *p = predict(ctx, fx, &o);
        if (!p) return;
        /* power iteration converged to round-off: the gap λ₂/λ₁ is well below 1 */
        CHECK_CLOSE(p->lr_stable_full, want, 0, 1e-10);
        CHECK(p->lr_stable == p->lr_stable_full);
        printf("  full batch %s m %.1f%s wd %.2f: lr_stable %.6g, closed form %.6g\n",
               ttp_loss_str(cases[i].loss), m, cases[i].nest ? " Nesterov" : "", cases[i].wd, p->lr_stable,
               want);
        ttp_prediction_destroy(&p);
    }
}

/* The figure is the limit: just below it the linear model is stable, just above it not. */
static void check_is_limit(ttp_ctx *ctx, fixture *fx)
{
    ttp_predict_opts o;
    opts(&o, TTP_LOSS_MSE, 0, 0, 0, 0);
    ttp_prediction *p = predict(ctx, fx, &o);
    if (!p) return;
    const double lim = p->lr_stable;
    ttp_prediction_destroy(&p);
    o.opt.steps = 400;
    o.opt.lr = 0.98 * lim;
    p = predict(ctx, fx, &o);
    if (!p) return;
    CHECK(p->stability < 1.0);
    CHECK(p->valid);
    CHECK(p->main.curves->loss[o.opt.steps] < p->main.curves->loss[0]);
    ttp_prediction_destroy(&p);
    o.opt.lr = 1.02 * lim;
    p = predict(ctx, fx, &o);
    if (!p) return;
    CHECK(p->stability > 1.0);
    CHECK(!p->valid);
    /* the top mode grows as |1 − η μ_max|^t = 1.04^t: past L₀ within 400 steps */
    CHECK(!(p->main.curves->loss[o.opt.steps] < p->main.curves->loss[0]));
    ttp_prediction_destroy(&p);
}

static void check_sgd(ttp_ctx *ctx, fixture *fx)
{
    const int64_t B = 4, nb = N / B;
    const double m = 0.5, wd = 0.01, h = 2.0 * (1 + m);
    ttp_predict_opts o;
    opts(&o, TTP_LOSS_MSE, m, 0, wd, B);
    o.opt.seed = 11;
    ttp_prediction *p = predict(ctx, fx, &o);
    if (!p) return;
    int64_t perm[N], idx[N], epoch = -1;
    double sum = 0;
    for (int64_t b = 0; b < nb; b++) {
        int64_t n = ttp_batch_indices(o.opt.seed, N, B, b, perm, &epoch, idx);
        CHECK(n == B);
        double a[B * C * B * C], w[B * C];
        for (int64_t i = 0; i < B; i++)
            for (int ci = 0; ci < C; ci++)
                for (int64_t j = 0; j < B; j++)
                    for (int cj = 0; cj < C; cj++)
                        a[(i * C + ci) * B * C + j * C + cj] =
                            fx->theta[(idx[i] * C + ci) * NC + idx[j] * C + cj];
        CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)(B * C), a, (lapack_int)(B * C), w) == 0);
        sum += w[B * C - 1] / (double)B + wd; /* ascending: the last is the top */
    }
    const double full = h / (fx->mu_max + wd), sgd = h / (sum / (double)nb);
    printf("  SGD batch %lld m %.1f wd %.2f: lr_stable %.6g, closed form min(%.6g, %.6g)\n", (long long)B, m,
           wd, p->lr_stable, full, sgd);
    CHECK_CLOSE(p->lr_stable_full, full, 0, 1e-10);
    CHECK_CLOSE(p->lr_stable, fmin(full, sgd), 0, 1e-10);
    /* small batches: each batch's own block overshoots first */
    CHECK(sgd < full);
    ttp_prediction_destroy(&p);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    fixture *fx = calloc(1, sizeof *fx);
    make(fx);
    check_full_batch(&ctx, fx);
    check_is_limit(&ctx, fx);
    check_sgd(&ctx, fx);
    free(fx);
    return ttp_test_end("test_stable_lr");
}
