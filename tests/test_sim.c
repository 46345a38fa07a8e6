/*
 * test_sim.c — the function-space simulation of the linearized training
 * (src/predict/sim.c) against references computed here, independently of it:
 *   1. GD + MSE: ttp_sim_run and ttp_sim_gd_mse_closed against the closed
 *      form evaluated from LAPACKE_dsyevd eigenpairs of Θ = G Gᵀ;
 *   2. the key check: an explicit WEIGHT-space run of the linear model
 *      f(w) = F₀ + J (w − w₀) with the optimizer exactly as ttp_train.h
 *      documents it (batch-mean gradient, λ w, heavy ball / Nesterov, the
 *      batches of ttp_batch_indices) against ttp_sim_run on Θ = J Jᵀ, for
 *      GD, SGD, momentum, Nesterov, weight decay, MSE and cross-entropy,
 *      every ensemble member against its own weight-space run, with Θ
 *      dense and in eigen form;
 *   3. ttp_theta_apply on a sample subset: dense vs eigen vs naive loops;
 *   4. ttp_ttime on hand-made curves (every kind, smoothing, "holds from
 *      then on", never reached), and ttp_ttime_despiked: a one-step spike
 *      or dip no longer decides the time, a two-step one and the end do;
 *   5. divergence far above the stability limit: +inf, counted, no error;
 *   6. training-time parsing and the ensemble band on hand-made members,
 *      and the two readings of ttp_quantile (linear, nearest rank);
 *   7. the stability number against the simulation itself: just below its
 *      limit (plain, heavy ball, Nesterov, weight decay) ttp_sim_run
 *      converges, just above it blows up; the batch version against
 *      power iteration on gathered blocks, dense vs eigen form, and an SGD
 *      run that diverges while full-batch GD with the same η is stable.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "ttp_sim.h"
#include "ttp_test.h"

/* Gaussian matrix with entries N(0, scale²) from a fixed key. */
static void randn(double *a, int64_t n, uint64_t key, double scale)
{
    for (int64_t i = 0; i < n; i++) a[i] = scale * ttp_rng_normal(key, (uint64_t)i);
}

static void rand_labels(int *y, int64_t n, int c, uint64_t key)
{
    for (int64_t i = 0; i < n; i++) y[i] = (int)(ttp_rng_u64(key, (uint64_t)i) % (uint64_t)c);
}

/* Θ = J Jᵀ (NC × NC) for J (NC × D), row-major. */
static void gram(const double *J, int64_t nc, int64_t d, double *theta)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nc, (int)nc, (int)d, 1.0, J, (int)d, J, (int)d,
                0.0, theta, (int)nc);
}

/* All eigenpairs of a symmetric n × n matrix, DESCENDING: vals (n), vecs
 * (n × n row-major, column j the j-th vector).  Returns LAPACK's info. */
static int eig_desc(const double *a, int64_t n, double *vals, double *vecs)
{
    double *w = malloc(sizeof *w * (size_t)n), *z = malloc(sizeof *z * (size_t)(n * n));
    memcpy(z, a, sizeof *z * (size_t)(n * n));
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, z, (lapack_int)n, w);
    for (int64_t j = 0; j < n; j++) {
        vals[j] = w[n - 1 - j];
        for (int64_t i = 0; i < n; i++) vecs[i * n + j] = z[i * n + (n - 1 - j)];
    }
    free(w);
    free(z);
    return info;
}

static double max_rel_diff(const double *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300);
        if (!(d <= worst)) worst = d; /* NaN propagates as "worst" */
    }
    return worst;
}

/* ---- 1. closed form -------------------------------------------------------- */

static void test_closed_form(ttp_ctx *ctx)
{
    const int64_t N = 40, C = 3, NC = N * C, D = 60, T = 120;
    double *G = malloc(sizeof *G * (size_t)(NC * D)), *th = malloc(sizeof *th * (size_t)(NC * NC));
    double *vals = malloc(sizeof *vals * (size_t)NC), *vecs = malloc(sizeof *vecs * (size_t)(NC * NC));
    double *f0 = malloc(sizeof *f0 * (size_t)NC), *r0 = malloc(sizeof *r0 * (size_t)NC);
    double *mu = malloc(sizeof *mu * (size_t)NC), *p = malloc(sizeof *p * (size_t)NC);
    double *ref = malloc(sizeof *ref * (size_t)(T + 1)), *lib = malloc(sizeof *lib * (size_t)(T + 1));
    int *y = malloc(sizeof *y * (size_t)N);
    randn(G, NC * D, 11, 1.0 / sqrt((double)D));
    randn(f0, NC, 12, 0.3);
    rand_labels(y, N, (int)C, 13);
    gram(G, NC, D, th);
    CHECK(eig_desc(th, NC, vals, vecs) == 0);
    for (int64_t i = 0; i < NC; i++) r0[i] = f0[i] - ((i % C) == y[i / C] ? 1.0 : 0.0);
    for (int64_t k = 0; k < NC; k++) {
        mu[k] = vals[k] / (double)N;
        double s = 0;
        for (int64_t i = 0; i < NC; i++) s += vecs[i * NC + k] * r0[i];
        p[k] = s;
    }
    double lr = 1.5 / mu[0]; /* oscillating top mode: 1 − ημ = −0.5 */
    for (int64_t t = 0; t <= T; t++) {
        double s = 0;
        for (int64_t k = 0; k < NC; k++) s += pow(1.0 - lr * mu[k], 2.0 * (double)t) * p[k] * p[k];
        ref[t] = s / (2.0 * (double)N);
    }
    ttp_theta theta = {N, (int)C, th, 0, NULL, NULL};
    ttp_sim_problem prob = {&theta, N, (int)C, f0, NULL, y, NULL};
    ttp_opt opt;
    ttp_opt_default(&opt);
    opt.loss = TTP_LOSS_MSE;
    opt.lr = lr;
    opt.batch = 0;
    opt.steps = T;
    ttp_sim_opts so = {4, 0, 0.05, 0.95};
    ttp_curves *cv = NULL;
    CHECK_OK(ctx, ttp_sim_run(ctx, &prob, &opt, &so, &cv));
    if (cv) {
        CHECK(cv->members == 1); /* GD is deterministic: one trajectory whatever the ensemble */
        double e = max_rel_diff(cv->loss, ref, T + 1);
        printf("closed form vs ttp_sim_run (GD, MSE, N=%lld C=%lld D=%lld): max rel diff %.2e; L0 %.4g -> LT "
               "%.4g\n",
               (long long)N, (long long)C, (long long)D, e, ref[0], ref[T]);
        CHECK(e < 1e-10);
        /* the test is not vacuous: the loss moves (half the modes are Θ's null
         * space, D < NC, so it cannot fall below about half) */
        CHECK(ref[T] < 0.7 * ref[0]);
        CHECK_CLOSE(cv->loss_lo[T], cv->loss[T], 0, 1e-15);
        CHECK(cv->diverged == 0);
    }
    ttp_curves_destroy(&cv);
    CHECK(cv == NULL);
    CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu, p, NC, N, lr, T, 0.0, lib));
    CHECK(max_rel_diff(lib, ref, T + 1) < 1e-12);
    /* `rest` is a constant offset */
    CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu, p, NC, N, lr, T, 0.25, lib));
    CHECK_CLOSE(lib[T], ref[T] + 0.25, 0, 1e-12);
    free(G), free(th), free(vals), free(vecs), free(f0), free(r0), free(mu), free(p), free(ref), free(lib),
        free(y);
}

/* ---- 2. weight space ------------------------------------------------------ */

typedef struct wsys {
    int64_t n, c, d;
    double *J;  /* NC × D   */
    double *w0; /* D        */
    double *f0; /* NC       */
    int *y;
} wsys;

/*
 * The linear model trained in weight space with the ttp_train.h
 * conventions, written from the documentation and not from sim.c:
 *   F(w) = F₀ + J (w − w₀);  L = ttp_loss_eval(F) (mean over N)
 *   grad = (1/|B|) Σ_{i∈B} J_iᵀ ∂ℓ_i/∂f_i + λ w
 *   heavy ball: v ← m v + grad, w ← w − η v;  Nesterov: w ← w − η (grad + m v)
 * loss/acc receive T+1 values.
 */
static void weight_run(const wsys *s, const ttp_opt *o, uint64_t seed, double *loss, double *acc)
{
    const int64_t N = s->n, C = s->c, NC = N * C, D = s->d, T = o->steps;
    const int64_t B = ttp_opt_batch(o, N);
    double *w = malloc(sizeof *w * (size_t)D), *v = calloc((size_t)D, sizeof *v);
    double *F = malloc(sizeof *F * (size_t)NC), *g = malloc(sizeof *g * (size_t)NC),
           *gr = malloc(sizeof *gr * (size_t)D);
    double *dw = malloc(sizeof *dw * (size_t)D);
    int64_t *perm = malloc(sizeof *perm * (size_t)N), *idx = malloc(sizeof *idx * (size_t)N), epoch = -1;
    memcpy(w, s->w0, sizeof *w * (size_t)D);
    for (int64_t t = 0; t <= T; t++) {
        for (int64_t j = 0; j < D; j++) dw[j] = w[j] - s->w0[j];
        for (int64_t r = 0; r < NC; r++) {
            double a = s->f0[r];
            for (int64_t j = 0; j < D; j++) a += s->J[r * D + j] * dw[j];
            F[r] = a;
        }
        int64_t correct = 0;
        loss[t] = ttp_loss_eval(o->loss, F, s->y, NULL, N, (int)C, g, &correct);
        acc[t] = (double)correct / (double)N;
        if (t == T) break;
        int64_t nb = ttp_batch_indices(seed, N, B, t, perm, &epoch, idx);
        for (int64_t j = 0; j < D; j++) gr[j] = 0;
        for (int64_t b = 0; b < nb; b++)
            for (int64_t cc = 0; cc < C; cc++) {
                int64_t r = idx[b] * C + cc;
                for (int64_t j = 0; j < D; j++) gr[j] += s->J[r * D + j] * g[r];
            }
        for (int64_t j = 0; j < D; j++) {
            double gj = gr[j] / (double)nb + o->wd * w[j];
            v[j] = o->momentum * v[j] + gj;
            w[j] -= o->lr * (o->nesterov ? gj + o->momentum * v[j] : v[j]);
        }
    }
    free(w), free(v), free(F), free(g), free(gr), free(dw), free(perm), free(idx);
}

/* Linear-interpolation quantile of n values (sorted copy), as numpy's default. */
static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double quantile_ref(const double *v, int n, double q)
{
    double *s = malloc(sizeof *s * (size_t)n);
    memcpy(s, v, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmpd);
    double pos = q * (n - 1), r;
    int i = (int)floor(pos);
    r = i >= n - 1 ? s[n - 1] : s[i] + (pos - i) * (s[i + 1] - s[i]);
    free(s);
    return r;
}

/* One optimizer case: every member of ttp_sim_run (dense and eigen Θ)
 * against the weight-space run with seed opt.seed + m. */
static void weight_case(ttp_ctx *ctx, const char *name, const wsys *s, const ttp_theta *dense,
                        const ttp_theta *eig, const double *u0, const ttp_opt *o, int M)
{
    const int64_t T = o->steps, T1 = T + 1;
    double *wl = malloc(sizeof *wl * (size_t)(T1 * M)), *wa = malloc(sizeof *wa * (size_t)(T1 * M));
    int full = ttp_opt_batch(o, s->n) >= s->n;
    int Mr = full ? 1 : M;
    for (int m = 0; m < Mr; m++) weight_run(s, o, o->seed + (uint64_t)m, wl + m * T1, wa + m * T1);
    const ttp_theta *forms[2] = {dense, eig};
    for (int f = 0; f < 2; f++) {
        ttp_sim_problem prob = {forms[f], s->n, (int)s->c, s->f0, u0, s->y, NULL};
        ttp_sim_opts so = {M, 0, 0.05, 0.95};
        ttp_curves *cv = NULL;
        CHECK_OK(ctx, ttp_sim_run(ctx, &prob, o, &so, &cv));
        if (cv == NULL) continue;
        CHECK(cv->members == Mr);
        double worst = 0, worst_acc = 0;
        int nm = cv->members < Mr ? cv->members : Mr;
        for (int m = 0; m < nm; m++) {
            double e = max_rel_diff(cv->member_loss + m * T1, wl + m * T1, T1);
            if (!(e <= worst)) worst = e;
            for (int64_t t = 0; t < T1; t++)
                worst_acc = fmax(worst_acc, fabs(cv->member_acc[m * T1 + t] - wa[m * T1 + t]));
        }
        printf("weight space vs %s simulation, %-32s (%d member%s): max rel loss diff %.2e, acc diff %.2g, "
               "L0 %.4g -> LT %.4g\n",
               f ? "eigen" : "dense", name, Mr, Mr > 1 ? "s" : "", worst, worst_acc, wl[0], wl[T]);
        CHECK(worst < 1e-9);
        CHECK(worst_acc == 0);
        CHECK(cv->diverged == 0);
        /* member 0 replays `ttp train --seed opt.seed`: checked above as m = 0;
         * the mean and band are those of the member curves */
        double *col = malloc(sizeof *col * (size_t)Mr);
        int bad = 0;
        for (int64_t t = 0; t < T1; t++) {
            double mean = 0;
            for (int m = 0; m < Mr; m++) mean += (col[m] = wl[m * T1 + t]);
            mean /= Mr;
            if (fabs(cv->loss[t] - mean) > 1e-9 * fabs(mean)) bad++;
            if (fabs(cv->loss_lo[t] - quantile_ref(col, Mr, 0.05)) > 1e-9 * fabs(mean)) bad++;
            if (fabs(cv->loss_hi[t] - quantile_ref(col, Mr, 0.95)) > 1e-9 * fabs(mean)) bad++;
        }
        CHECK(bad == 0);
        free(col);
        ttp_curves_destroy(&cv);
    }
    /* The curve must move for the comparison to mean something. */
    CHECK(wl[T] < 0.9 * wl[0]);
    free(wl), free(wa);
}

static void test_weight_space(ttp_ctx *ctx)
{
    const int64_t N = 30, C = 3, NC = N * C, D = 50;
    wsys s = {N, C, D, NULL, NULL, NULL, NULL};
    s.J = malloc(sizeof *s.J * (size_t)(NC * D));
    s.w0 = malloc(sizeof *s.w0 * (size_t)D);
    s.f0 = malloc(sizeof *s.f0 * (size_t)NC);
    s.y = malloc(sizeof *s.y * (size_t)N);
    double *u0 = malloc(sizeof *u0 * (size_t)NC), *th = malloc(sizeof *th * (size_t)(NC * NC));
    double *vals = malloc(sizeof *vals * (size_t)NC), *vecs = malloc(sizeof *vecs * (size_t)(NC * NC));
    randn(s.J, NC * D, 21, 1.0 / sqrt((double)D));
    randn(s.w0, D, 22, 1.0);
    randn(s.f0, NC, 23, 0.5);
    rand_labels(s.y, N, (int)C, 24);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)NC, (int)D, 1.0, s.J, (int)D, s.w0, 1, 0.0, u0, 1);
    gram(s.J, NC, D, th);
    CHECK(eig_desc(th, NC, vals, vecs) == 0);
    ttp_theta dense = {N, (int)C, th, 0, NULL, NULL};
    ttp_theta eig = {N, (int)C, NULL, NC, vecs, vals}; /* all NC pairs, the ~0 ones included */
    double mu_max = vals[0] / (double)N;
    printf("weight-space system: N=%lld C=%lld D=%lld, mu_max(Theta/N) = %.4g\n", (long long)N, (long long)C,
           (long long)D, mu_max);

    ttp_opt o;
    ttp_opt_default(&o);
    o.steps = 60;
    o.seed = 7;

    o.loss = TTP_LOSS_MSE, o.lr = 1.0 / mu_max, o.batch = 0;
    weight_case(ctx, "GD + MSE", &s, &dense, &eig, NULL, &o, 5);

    o.loss = TTP_LOSS_MSE, o.lr = 0.5 / mu_max, o.batch = 7; /* 30 = 4·7 + 2: a short last batch */
    weight_case(ctx, "SGD(B=7) + MSE", &s, &dense, &eig, NULL, &o, 4);

    o.loss = TTP_LOSS_CE, o.lr = 1.0 / mu_max, o.batch = 7, o.momentum = 0.8;
    weight_case(ctx, "SGD(B=7) + momentum 0.8 + CE", &s, &dense, &eig, NULL, &o, 3);

    o.loss = TTP_LOSS_MSE, o.lr = 0.3 / mu_max, o.batch = 0, o.momentum = 0.9, o.nesterov = 1, o.wd = 0.05;
    weight_case(ctx, "Nesterov 0.9 + MSE + wd 0.05", &s, &dense, &eig, u0, &o, 1);

    o.loss = TTP_LOSS_MSE, o.lr = 0.3 / mu_max, o.batch = 7, o.momentum = 0.5, o.nesterov = 1, o.wd = 0.02;
    weight_case(ctx, "SGD Nesterov 0.5 + MSE + wd 0.02", &s, &dense, &eig, u0, &o, 3);

    o.loss = TTP_LOSS_CE, o.lr = 2.0 / mu_max, o.batch = 0, o.momentum = 0, o.nesterov = 0, o.wd = 0;
    weight_case(ctx, "GD + CE", &s, &dense, &eig, NULL, &o, 1);

    /* weight decay without u0, and CE without labels, are refused */
    ttp_curves *cv = NULL;
    ttp_sim_opts so = {1, 0, 0.05, 0.95};
    ttp_sim_problem prob = {&dense, N, (int)C, s.f0, NULL, s.y, NULL};
    o.wd = 0.1;
    CHECK_FAILS(ctx, ttp_sim_run(ctx, &prob, &o, &so, &cv), TTP_ERR_ARG, "u0");
    o.wd = 0;
    prob.labels = NULL;
    prob.targets = s.f0;
    CHECK_FAILS(ctx, ttp_sim_run(ctx, &prob, &o, &so, &cv), TTP_ERR_ARG, "labels");
    CHECK(cv == NULL);

    free(s.J), free(s.w0), free(s.f0), free(s.y), free(u0), free(th), free(vals), free(vecs);
}

/* ---- 3. Θ on a sample subset ------------------------------------------------ */

static void test_theta_apply(ttp_ctx *ctx)
{
    const int64_t N = 17, C = 2, NC = N * C, D = 25;
    double *J = malloc(sizeof *J * (size_t)(NC * D)), *th = malloc(sizeof *th * (size_t)(NC * NC));
    double *vals = malloc(sizeof *vals * (size_t)NC), *vecs = malloc(sizeof *vecs * (size_t)(NC * NC));
    double v[NC], ref[NC], a[NC], b[NC];
    randn(J, NC * D, 31, 1.0);
    gram(J, NC, D, th);
    CHECK(eig_desc(th, NC, vals, vecs) == 0);
    ttp_theta dense = {N, (int)C, th, 0, NULL, NULL}, eig = {N, (int)C, NULL, NC, vecs, vals};
    const int64_t samples[5] = {11, 0, 16, 4, 9}; /* unordered, first and last sample */
    randn(v, 5 * C, 32, 1.0);
    for (int64_t r = 0; r < NC; r++) { /* naive: Θ[r, (s, c)] = Σ_j J[r, j] J[s·C + c, j] */
        double acc = 0;
        for (int64_t s = 0; s < 5; s++)
            for (int64_t c = 0; c < C; c++) {
                double t = 0;
                for (int64_t j = 0; j < D; j++) t += J[r * D + j] * J[(samples[s] * C + c) * D + j];
                acc += t * v[s * C + c];
            }
        ref[r] = acc;
    }
    double scale = 0;
    for (int64_t r = 0; r < NC; r++) scale = fmax(scale, fabs(ref[r]));
    CHECK_OK(ctx, ttp_theta_apply(ctx, &dense, samples, 5, v, a));
    CHECK_OK(ctx, ttp_theta_apply(ctx, &eig, samples, 5, v, b));
    double ea = 0, eb = 0;
    for (int64_t r = 0; r < NC; r++) ea = fmax(ea, fabs(a[r] - ref[r])), eb = fmax(eb, fabs(b[r] - ref[r]));
    CHECK(ea < 1e-12 * scale);
    CHECK(eb < 1e-11 * scale);
    /* all samples (NULL) against the naive full product */
    double vf[NC];
    randn(vf, NC, 33, 1.0);
    CHECK_OK(ctx, ttp_theta_apply(ctx, &dense, NULL, N, vf, a));
    CHECK_OK(ctx, ttp_theta_apply(ctx, &eig, NULL, N, vf, b));
    ea = eb = scale = 0;
    for (int64_t r = 0; r < NC; r++) {
        double t = 0;
        for (int64_t q = 0; q < NC; q++) t += th[r * NC + q] * vf[q];
        scale = fmax(scale, fabs(t));
        ea = fmax(ea, fabs(a[r] - t)), eb = fmax(eb, fabs(b[r] - t));
    }
    CHECK(ea < 1e-12 * scale);
    CHECK(eb < 1e-11 * scale);
    printf("theta_apply: subset and full, dense and eigen vs naive loops: max abs err %.2e / %.2e (scale "
           "%.3g)\n",
           ea, eb, scale);
    ttp_theta none = {N, (int)C, NULL, 0, NULL, NULL};
    CHECK_FAILS(ctx, ttp_theta_apply(ctx, &none, NULL, N, vf, a), TTP_ERR_ARG, "eigenpairs");
    free(J), free(th), free(vals), free(vecs);
}

/* ---- 4. training times ---------------------------------------------------- */

static int64_t tt(ttp_tt_kind kind, double value, int smooth, const double *loss, const double *acc,
                  int64_t T)
{
    ttp_tt_def d = {kind, value, smooth};
    return ttp_ttime(&d, loss, acc, T);
}

static void test_ttime(void)
{
    /* Expected values worked out by hand from the definitions in ttp_sim.h. */
    const double eps[] = {10, 5, 2, 1.5, 1.1, 1.0};   /* L_T = 1 */
    CHECK(tt(TTP_TT_EPS, 0.2, 1, eps, NULL, 5) == 4); /* |1.1 − 1| = 0.1 < 0.2; |1.5 − 1| no */
    CHECK(tt(TTP_TT_EPS, 0.6, 1, eps, NULL, 5) == 3);
    CHECK(tt(TTP_TT_EPS, 100, 1, eps, NULL, 5) == 0);
    CHECK(tt(TTP_TT_EPS, 0.01, 1, eps, NULL, 5) == 5); /* only L_T itself */
    const double rel[] = {10, 6, 3, 1.5, 1.2, 1.0};    /* L0 − LT = 9 */
    CHECK(tt(TTP_TT_REL, 0.1, 1, rel, NULL, 5) == 3);  /* 0.5 ≤ 0.9 < 2 */
    CHECK(tt(TTP_TT_REL, 0.25, 1, rel, NULL, 5) == 2); /* 2 ≤ 2.25 < 5 */
    CHECK(tt(TTP_TT_LOSS, 1.3, 1, rel, NULL, 5) == 4);
    CHECK(tt(TTP_TT_LOSS, 0.5, 1, rel, NULL, 5) == -1); /* never reached */
    const double acc[] = {0.2, 0.5, 0.8, 0.95, 0.97, 0.99};
    CHECK(tt(TTP_TT_ACC, 0.9, 1, rel, acc, 5) == 3);
    CHECK(tt(TTP_TT_ACC, 0.995, 1, rel, acc, 5) == -1);
    CHECK(tt(TTP_TT_ACC, 0.9, 1, rel, NULL, 5) == -1); /* no accuracy curve */
    /* "holds from then on": an early dip that rises above the threshold again */
    const double dip[] = {10, 0.5, 3, 2, 0.8, 0.7};
    CHECK(tt(TTP_TT_LOSS, 1.0, 1, dip, NULL, 5) == 4);
    const double adip[] = {0.1, 0.95, 0.3, 0.5, 0.92, 0.93};
    CHECK(tt(TTP_TT_ACC, 0.9, 1, dip, adip, 5) == 4);
    /* holds earlier but not at T: never (from then on) */
    const double late[] = {3, 0.5, 0.4, 0.3, 0.2, 2.0};
    CHECK(tt(TTP_TT_LOSS, 1.0, 1, late, NULL, 5) == -1);
    /* smoothing, trailing window of 3 (shorter at the start):
     *   raw:      t=4 is 1.1 > 0.9, so 5
     *   smoothed: t=3 (2+1+0.5)/3 = 1.17, t=4 (1+0.5+1.1)/3 = 0.87, then 0.7, 0.7, 0.5… → 4 */
    const double noisy[] = {4, 2, 1, 0.5, 1.1, 0.5, 0.5, 0.5, 0.5};
    CHECK(tt(TTP_TT_LOSS, 0.9, 1, noisy, NULL, 8) == 5);
    CHECK(tt(TTP_TT_LOSS, 0.9, 3, noisy, NULL, 8) == 4);
    /* smoothing also applies to L_T for eps: smoothed end (0.5·3)/3 = 0.5,
     * |s_t − 0.5| < 0.1: t=8,7 ok (0.5), t=6 (1.1+0.5+0.5)/3 = 0.7 no → 7;
     * raw: t=5..8 ok, t=4 (1.1) no → 5 */
    CHECK(tt(TTP_TT_EPS, 0.1, 3, noisy, NULL, 8) == 7);
    CHECK(tt(TTP_TT_EPS, 0.1, 1, noisy, NULL, 8) == 5);
    /* non-finite end: −1 */
    const double blown[] = {1, 0.5, 0.4, INFINITY};
    CHECK(tt(TTP_TT_REL, 0.5, 1, blown, NULL, 3) == -1);
    CHECK(tt(TTP_TT_LOSS, 10, 1, blown, NULL, 3) == -1);
    CHECK(
        strcmp(ttp_tt_kind_str(TTP_TT_EPS), "eps") == 0 && strcmp(ttp_tt_kind_str(TTP_TT_REL), "rel") == 0 &&
        strcmp(ttp_tt_kind_str(TTP_TT_LOSS), "loss") == 0 && strcmp(ttp_tt_kind_str(TTP_TT_ACC), "acc") == 0);
}

/* The time without one-step excursions, worked out by hand on the 3-step
 * running median (first and last points kept): raw and despiked times. */
static void despiked_is(ttp_ctx *ctx, ttp_tt_kind kind, double value, const double *loss, const double *acc,
                        int64_t raw, int64_t despiked)
{
    ttp_tt_def d = {kind, value, 1};
    int64_t t = -2;
    CHECK(ttp_ttime(&d, loss, acc, 8) == raw);
    CHECK_OK(ctx, ttp_ttime_despiked(ctx, &d, loss, acc, 8, &t));
    CHECK(t == despiked);
}

static void test_ttime_despiked(ttp_ctx *ctx)
{
    /* a one-step spike at t=4: raw 5; medians 2, 1, 1 (t=3: 1, 0.5, 1.1), 0.5 … → 4 */
    const double spike[] = {4, 2, 1, 0.5, 1.1, 0.5, 0.5, 0.5, 0.5};
    despiked_is(ctx, TTP_TT_LOSS, 0.9, spike, NULL, 5, 4);
    /* a two-step excursion is the curve's own: medians 1.1, 1.1 at t=4, 5 → 6, as raw */
    const double two[] = {4, 2, 1, 0.5, 1.1, 1.2, 0.5, 0.5, 0.5};
    despiked_is(ctx, TTP_TT_LOSS, 0.9, two, NULL, 6, 6);
    /* the end is kept: a last point above the level is never reached either way */
    const double end[] = {4, 2, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 1.1};
    despiked_is(ctx, TTP_TT_LOSS, 0.9, end, NULL, -1, -1);
    /* rel on the spike curve: L_T = 0.5, level 0.5 + 0.1·3.5 = 0.85 → 5 raw, 4 despiked */
    despiked_is(ctx, TTP_TT_REL, 0.1, spike, NULL, 5, 4);
    /* accuracy with a one-step dip at t=4: raw 5; medians 0.8 at t=3, 0.95 at t=4 → 4 */
    const double acc[] = {0.1, 0.5, 0.8, 0.95, 0.6, 0.95, 0.96, 0.97, 0.97};
    despiked_is(ctx, TTP_TT_ACC, 0.9, spike, acc, 5, 4);
}

/* ---- 5. divergence -------------------------------------------------------- */

static void test_divergence(ttp_ctx *ctx)
{
    const int64_t N = 20, C = 2, NC = N * C, D = 30, T = 400;
    double *J = malloc(sizeof *J * (size_t)(NC * D)), *th = malloc(sizeof *th * (size_t)(NC * NC));
    double *vals = malloc(sizeof *vals * (size_t)NC), *vecs = malloc(sizeof *vecs * (size_t)(NC * NC));
    double f0[NC];
    int y[N];
    randn(J, NC * D, 41, 1.0 / sqrt((double)D));
    randn(f0, NC, 42, 0.5);
    rand_labels(y, N, (int)C, 43);
    gram(J, NC, D, th);
    CHECK(eig_desc(th, NC, vals, vecs) == 0);
    double mu_max = vals[0] / (double)N;
    ttp_theta dense = {N, (int)C, th, 0, NULL, NULL};
    ttp_sim_problem prob = {&dense, N, (int)C, f0, NULL, y, NULL};
    ttp_opt o;
    ttp_opt_default(&o);
    o.loss = TTP_LOSS_MSE;
    o.lr = 20.0 * 2.0 / mu_max; /* |1 − η μ_max| = 39: overflows within ~200 steps */
    o.steps = T;
    for (int sgd = 0; sgd < 2; sgd++) {
        o.batch = sgd ? 5 : 0;
        ttp_sim_opts so = {4, 0, 0.05, 0.95};
        ttp_curves *cv = NULL;
        CHECK_OK(ctx, ttp_sim_run(ctx, &prob, &o, &so, &cv));
        if (cv == NULL) continue;
        int M = cv->members;
        CHECK(M == (sgd ? 4 : 1));
        CHECK(cv->diverged == M);
        int64_t first_inf = -1, bad = 0;
        for (int m = 0; m < M; m++) {
            const double *l = cv->member_loss + (size_t)m * (T + 1);
            int64_t f = -1;
            for (int64_t t = 0; t <= T; t++) {
                if (f < 0 && isinf(l[t])) f = t;
                if (f >= 0 && !(isinf(l[t]) && l[t] > 0)) bad++; /* +inf from then on */
            }
            if (f < 0) bad++;
            if (m == 0) first_inf = f;
        }
        CHECK(bad == 0);
        CHECK(isinf(cv->loss[T]) && cv->loss[T] > 0);
        ttp_tt_def d = {TTP_TT_REL, 0.05, 1};
        CHECK(ttp_ttime(&d, cv->loss, cv->acc, T) == -1);
        printf("divergence (%s, eta*mu_max = %.0f): member 0 +inf from step %lld, %d/%d diverged\n",
               sgd ? "SGD B=5" : "GD", o.lr * mu_max, (long long)first_inf, cv->diverged, M);
        ttp_curves_destroy(&cv);
    }
    free(J), free(th), free(vals), free(vecs);
}

/* ---- 6. training-time parsing and band ------------------------------------ */

static void test_tt_band(ttp_ctx *ctx)
{
    ttp_tt_def d;
    ttp_tt_kind k;
    CHECK_OK(ctx, ttp_tt_def_parse(ctx, "rel:0.05", &d));
    CHECK(d.kind == TTP_TT_REL && d.value == 0.05 && d.smooth == 1);
    CHECK_OK(ctx, ttp_tt_def_parse(ctx, "acc:0.9", &d));
    CHECK(d.kind == TTP_TT_ACC && d.value == 0.9);
    CHECK_OK(ctx, ttp_tt_def_parse(ctx, "loss:-1e-3", &d)); /* any finite loss threshold */
    CHECK(d.kind == TTP_TT_LOSS && d.value == -1e-3);
    CHECK_OK(ctx, ttp_tt_kind_parse(ctx, "eps", &k));
    CHECK(k == TTP_TT_EPS);
    CHECK_FAILS(ctx, ttp_tt_kind_parse(ctx, "epsilon", &k), TTP_ERR_ARG, "expected eps, rel, loss or acc");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "rel", &d), TTP_ERR_ARG, "KIND:VALUE");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "rel:", &d), TTP_ERR_ARG, "KIND:VALUE");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "rel:abc", &d), TTP_ERR_ARG, "not a finite number");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "rel:1.5", &d), TTP_ERR_ARG, "in [0, 1)");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "eps:0", &d), TTP_ERR_ARG, "> 0");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "acc:1.2", &d), TTP_ERR_ARG, "in [0, 1]");
    CHECK_FAILS(ctx, ttp_tt_def_parse(ctx, "foo:1", &d), TTP_ERR_ARG, "'foo'");

    /* Five members, T = 6: member m's loss is 1 up to step s_m, then 0.
     * s = {1, 4, 2, 5, never}.  With loss:0.5 the members' times are
     * s + 1 = 2, 5, 3, 6, never (counted T + 1 = 7); sorted 2 3 5 6 7.
     * Nearest rank: q = 0.25 → index 1 → 3; q = 0.75 → index 3 → 6;
     * q = 1 → index 4 → 7 > T → −1; q = 0 → 2.
     * Mean curve: (5 − #members down)/5 ≤ 0.5 from step 5 on (3 of 5
     * down at step 5: 0.4; step 4: 2 of 5 down, 0.6) → 5. */
    const int M = 5;
    const int64_t T = 6, sw[5] = {1, 4, 2, 5, 100};
    ttp_curves *cv = NULL;
    CHECK_OK(ctx, ttp_curves_create(ctx, T, M, &cv));
    if (cv == NULL) return;
    for (int m = 0; m < M; m++)
        for (int64_t t = 0; t <= T; t++) {
            cv->member_loss[m * (T + 1) + t] = t > sw[m] ? 0.0 : 1.0;
            cv->member_acc[m * (T + 1) + t] = t > sw[m] ? 1.0 : 0.0;
        }
    ttp_curves_summarize(cv, 0.25, 0.75);
    int64_t t, lo, hi;
    ttp_tt_def loss = {TTP_TT_LOSS, 0.5, 1}, acc = {TTP_TT_ACC, 0.5, 1};
    CHECK_OK(ctx, ttp_ttime_band(ctx, &loss, cv, 0.25, 0.75, &t, &lo, &hi));
    CHECK(t == 5 && lo == 3 && hi == 6);
    CHECK_OK(ctx, ttp_ttime_band(ctx, &acc, cv, 0.25, 0.75, &t, &lo, &hi)); /* the same times on accuracy */
    CHECK(t == 5 && lo == 3 && hi == 6);
    CHECK_OK(ctx, ttp_ttime_band(ctx, &loss, cv, 0.0, 1.0, &t, &lo, &hi));
    CHECK(t == 5 && lo == 2 && hi == -1);
    CHECK_FAILS(ctx, ttp_ttime_band(ctx, &loss, cv, 0.9, 0.1, &t, &lo, &hi), TTP_ERR_ARG, "band");
    ttp_curves_destroy(&cv);
    CHECK(cv == NULL);
    /* one member: the band collapses onto the curve's time */
    CHECK_OK(ctx, ttp_curves_create(ctx, T, 1, &cv));
    if (cv == NULL) return;
    for (int64_t u = 0; u <= T; u++) cv->member_loss[u] = u > 3 ? 0.0 : 1.0, cv->member_acc[u] = NAN;
    ttp_curves_summarize(cv, 0.05, 0.95);
    CHECK_OK(ctx, ttp_ttime_band(ctx, &loss, cv, 0.05, 0.95, &t, &lo, &hi));
    CHECK(t == 4 && lo == 4 && hi == 4);
    ttp_curves_destroy(&cv);
}

/* ---- 7. stability --------------------------------------------------------- */

/* Loss at T relative to L0 for full-batch MSE on a problem. */
static double loss_ratio(ttp_ctx *ctx, const ttp_sim_problem *prob, const ttp_opt *o)
{
    ttp_sim_opts so = {4, 0, 0.05, 0.95};
    ttp_curves *cv = NULL;
    CHECK_OK(ctx, ttp_sim_run(ctx, prob, o, &so, &cv));
    if (cv == NULL) return NAN;
    double r = cv->loss[o->steps] / cv->loss[0];
    ttp_curves_destroy(&cv);
    return r;
}

/* Top eigenvalue of a symmetric n × n row-major matrix by power iteration
 * (the reference for the batch blocks; independent of LAPACK). */
static double power_top(const double *a, int64_t n)
{
    double *x = malloc(sizeof *x * (size_t)n), *y = malloc(sizeof *y * (size_t)n), lam = 0;
    for (int64_t i = 0; i < n; i++) x[i] = 1.0 + 0.01 * (double)i;
    for (int it = 0; it < 5000; it++) {
        double nn = 0, ray = 0;
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = 0; j < n; j++) s += a[i * n + j] * x[j];
            y[i] = s;
        }
        for (int64_t i = 0; i < n; i++) nn += y[i] * y[i], ray += x[i] * y[i];
        nn = sqrt(nn);
        double xx = 0;
        for (int64_t i = 0; i < n; i++) xx += x[i] * x[i];
        lam = ray / xx;
        for (int64_t i = 0; i < n; i++) x[i] = y[i] / nn;
    }
    free(x), free(y);
    return lam;
}

static void test_stability(ttp_ctx *ctx)
{
    const int64_t N = 20, C = 2, NC = N * C, D = 30;
    double *J = malloc(sizeof *J * (size_t)(NC * D)), *th = malloc(sizeof *th * (size_t)(NC * NC));
    double *vals = malloc(sizeof *vals * (size_t)NC), *vecs = malloc(sizeof *vecs * (size_t)(NC * NC));
    double f0[NC], u0[NC], tg[NC];
    randn(J, NC * D, 51, 1.0 / sqrt((double)D));
    randn(f0, NC, 52, 0.5);
    randn(u0, NC, 53, 0.5);
    randn(tg, NC, 54, 1.0);
    gram(J, NC, D, th);
    CHECK(eig_desc(th, NC, vals, vecs) == 0);
    const double mu_max = vals[0] / (double)N;
    ttp_theta dense = {N, (int)C, th, 0, NULL, NULL};
    ttp_sim_problem prob = {&dense, N, (int)C, f0, u0, NULL, tg};
    ttp_opt o;
    ttp_opt_default(&o);
    o.loss = TTP_LOSS_MSE;
    o.steps = 1500;
    /* The limits written out by hand (ttp_sim.h), for h = η (μ_max + λ):
     * 2, 2(1 + m), 2(1 + m)/(1 + 2m). */
    struct {
        const char *name;
        double m, wd;
        int nest;
        double hlim;
    } cases[] = {
        {"plain GD", 0, 0, 0, 2.0},
        {"heavy ball 0.9", 0.9, 0, 0, 3.8},
        {"heavy ball 0.5 + wd 0.3", 0.5, 0.3, 0, 3.0},
        {"Nesterov 0.9", 0.9, 0, 1, 3.8 / 2.8},
        {"Nesterov 0.5 + wd 0.3", 0.5, 0.3, 1, 1.5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        o.momentum = cases[c].m, o.nesterov = cases[c].nest, o.wd = cases[c].wd;
        double lr_lim = ttp_sim_stability_lr(&o, mu_max);
        CHECK_CLOSE(lr_lim, cases[c].hlim / (mu_max + cases[c].wd), 0, 1e-14);
        o.lr = 0.97 * lr_lim;
        CHECK_CLOSE(ttp_sim_stability(&o, mu_max), 0.97, 0, 1e-14);
        double below = loss_ratio(ctx, &prob, &o);
        o.lr = 1.03 * lr_lim;
        double above = loss_ratio(ctx, &prob, &o);
        /* below: every mode contracts, the loss ends below its start;
         * above: the top mode grows by a fixed factor > 1 a step. */
        CHECK(below < 1.0);
        CHECK(!(above < 1e6));
        printf("stability %-24s limit eta*(mu_max+wd) = %.4f: L_T/L_0 at 0.97x %.3g, at 1.03x %.3g "
               "(eta/(1-m)*mu_max at 0.97x: %.3g)\n",
               cases[c].name, cases[c].hlim, below, above, 0.97 * lr_lim * mu_max / (1 - cases[c].m));
    }
    /* CE: curvature bound ½ doubles the limit */
    o.loss = TTP_LOSS_CE, o.momentum = 0, o.nesterov = 0, o.wd = 0, o.lr = 1.0;
    CHECK_CLOSE(ttp_sim_stability(&o, mu_max), 0.25 * mu_max, 0, 1e-14);
    o.loss = TTP_LOSS_MSE;

    /* Batch version.  Full batch: Θ itself, λ_max/N = μ_max. */
    double mean, max;
    o.lr = 1.0 / mu_max, o.batch = 0;
    CHECK_OK(ctx, ttp_sim_stability_batch(ctx, &dense, &o, 3, &mean, &max));
    CHECK_CLOSE(max, ttp_sim_stability(&o, mu_max), 0, 1e-12);
    CHECK_CLOSE(mean, max, 0, 1e-15);
    /* B = 6 (20 = 3·6 + 2: the short batch is the 4th), momentum and wd:
     * reference by power iteration on the gathered blocks of the schedule;
     * eigen form with all pairs (gathered side) and with the top 5 (the
     * k × k side) against dense Θ_K = V_K Λ_K V_Kᵀ. */
    o.batch = 6, o.momentum = 0.5, o.wd = 0.1, o.seed = 11;
    const int64_t nb = 4, K = 5;
    double *thk = calloc((size_t)(NC * NC), sizeof *thk);
    for (int64_t i = 0; i < NC; i++)
        for (int64_t j = 0; j < NC; j++)
            for (int64_t q = 0; q < K; q++) thk[i * NC + j] += vecs[i * NC + q] * vals[q] * vecs[j * NC + q];
    double *vk = malloc(sizeof *vk * (size_t)(NC * K));
    for (int64_t i = 0; i < NC; i++)
        for (int64_t q = 0; q < K; q++) vk[i * K + q] = vecs[i * NC + q];
    for (int trunc = 0; trunc < 2; trunc++) {
        const double *ref = trunc ? thk : th;
        double rmean = 0, rmax = 0, blk[12 * 12];
        int64_t perm[20], idx[6], ep = -1;
        for (int64_t b = 0; b < nb; b++) {
            int64_t n = ttp_batch_indices(o.seed, N, o.batch, b, perm, &ep, idx);
            for (int64_t i = 0; i < n * C; i++)
                for (int64_t j = 0; j < n * C; j++)
                    blk[i * n * C + j] = ref[(idx[i / C] * C + i % C) * NC + idx[j / C] * C + j % C];
            double r = o.lr * (power_top(blk, n * C) / (double)n + o.wd) / 3.0; /* limit 2(1 + 0.5) */
            rmean += r / (double)nb;
            rmax = fmax(rmax, r);
        }
        ttp_theta dref = {N, (int)C, ref, 0, NULL, NULL};
        ttp_theta eg = {N, (int)C, NULL, trunc ? K : NC, trunc ? vk : vecs, vals};
        for (int form = 0; form < 2; form++) {
            CHECK_OK(ctx, ttp_sim_stability_batch(ctx, form ? &eg : &dref, &o, nb, &mean, &max));
            CHECK_CLOSE(mean, rmean, 0, 1e-9);
            CHECK_CLOSE(max, rmax, 0, 1e-9);
        }
        printf("batch stability B=6, %s: mean %.4f max %.4f (full-batch %.4f)\n",
               trunc ? "top-5 pairs" : "all pairs", rmean, rmax,
               ttp_sim_stability(&o, trunc ? vals[0] / N : mu_max));
    }
    CHECK_FAILS(ctx, ttp_sim_stability_batch(ctx, &dense, &o, 0, &mean, &max), TTP_ERR_ARG, "at least 1");

    /* The batch effect, seen in the simulation: Θ = diag(1, …, 1, 10) with
     * C = 1, N = 20, η = 0.3.  Full batch h = 0.3·10/20 = 0.15, the
     * stability number h/2 = 0.075;
     * B = 1 multiplies sample 0's residual by 1 − 3 = −2 once an epoch:
     * the loss grows ~4× per epoch.  The batch number's largest value over
     * an epoch is 0.3·10/2 = 1.5, its mean 0.3·(10 + 19)/20/2. */
    {
        double dg[20 * 20] = {0}, y0[20], t0[20];
        for (int i = 0; i < 20; i++) dg[i * 20 + i] = i == 0 ? 10.0 : 1.0, y0[i] = 0.0, t0[i] = 1.0;
        ttp_theta dth = {20, 1, dg, 0, NULL, NULL};
        ttp_sim_problem dp = {&dth, 20, 1, y0, NULL, NULL, t0};
        ttp_opt q;
        ttp_opt_default(&q);
        q.loss = TTP_LOSS_MSE, q.lr = 0.3, q.steps = 400, q.batch = 0;
        double full = loss_ratio(ctx, &dp, &q);
        CHECK_OK(ctx, ttp_sim_stability_batch(ctx, &dth, &q, 20, &mean, &max));
        CHECK_CLOSE(max, 0.075, 0, 1e-12);
        q.batch = 1;
        double sgd = loss_ratio(ctx, &dp, &q);
        CHECK_OK(ctx, ttp_sim_stability_batch(ctx, &dth, &q, 20, &mean, &max));
        CHECK_CLOSE(max, 1.5, 0, 1e-12);
        CHECK_CLOSE(mean, 0.3 * 29.0 / 40.0, 0, 1e-12);
        CHECK(full < 1e-3);
        CHECK(!(sgd < 1e6));
        printf("batch effect: diag(10, 1...) eta 0.3: full-batch stability 0.075, L_T/L_0 %.3g; B=1 batch "
               "stability max 1.5, L_T/L_0 %.3g\n",
               full, sgd);
    }
    free(J), free(th), free(vals), free(vecs), free(thk), free(vk);
}

/* ttp_quantile at h = q (n − 1): linear between neighbours for curves, the
 * nearest rank for step counts; ends and clamping. */
static void test_quantile(void)
{
    const double v[4] = {10, 20, 30, 50}, one = 7;
    CHECK_CLOSE(ttp_quantile(v, 2, 0.25, TTP_QUANTILE_LINEAR), 12.5, 1e-12, 0);
    CHECK(ttp_quantile(v, 2, 0.25, TTP_QUANTILE_NEAREST) == 10);
    CHECK(ttp_quantile(v, 2, 0.75, TTP_QUANTILE_NEAREST) == 20);               /* h = 0.75 rounds up */
    CHECK_CLOSE(ttp_quantile(v, 4, 0.9, TTP_QUANTILE_LINEAR), 44.0, 1e-12, 0); /* h = 2.7 */
    CHECK(ttp_quantile(v, 4, 0.9, TTP_QUANTILE_NEAREST) == 50);
    CHECK(ttp_quantile(v, 4, 1.0, TTP_QUANTILE_LINEAR) == 50);
    CHECK(ttp_quantile(v, 4, 0.0, TTP_QUANTILE_LINEAR) == 10);
    CHECK(ttp_quantile(v, 4, 1.5, TTP_QUANTILE_NEAREST) == 50); /* clamped */
    CHECK(ttp_quantile(&one, 1, 0.3, TTP_QUANTILE_LINEAR) == 7);
    CHECK(ttp_quantile(&one, 1, 0.3, TTP_QUANTILE_NEAREST) == 7);
    double u[5] = {3, -1, 2, 9, 0};
    ttp_sort_doubles(u, 5);
    CHECK(u[0] == -1 && u[1] == 0 && u[2] == 2 && u[3] == 3 && u[4] == 9);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    test_closed_form(&ctx);
    test_weight_space(&ctx);
    test_theta_apply(&ctx);
    test_ttime();
    test_ttime_despiked(&ctx);
    test_divergence(&ctx);
    test_tt_band(&ctx);
    test_quantile();
    test_stability(&ctx);
    return ttp_test_end("test_sim");
}
