/*
 * test_fit.c — power-law fits and spectrum extrapolation (src/predict/fit.c):
 *   - exact power-law data: a, α recovered to 1e-10;
 *   - the weighted log-log least squares against LAPACKE_dgels on the
 *     √w-scaled system, with R² and the RMS residual recomputed here;
 *   - multiplicative log-normal noise (5 %): α within a stated tolerance,
 *     and the reported standard error against the scatter over 200 seeds;
 *   - the automatic range on a spectrum with a non-power-law head and a
 *     round-off floor; too few usable modes; an exponential decay (ok = 0);
 *   - extrapolation: arguments, kept modes, tail shape, the rank bound and
 *     the per-sample energy;
 *   - a kernel family with a known operator spectrum k^(−1.5): the fit on
 *     LAPACK eigenvalues of Θ recovers 1.5, and the GD-MSE prediction
 *     extrapolated from N₀ = N/4 matches the direct one at N.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "ttp_fit.h"
#include "ttp_sim.h"
#include "ttp_test.h"

/* ---- exact data and the least-squares reference ---------------------------- */

static void test_exact(ttp_ctx *ctx)
{
    double y[100];
    for (int k = 1; k <= 100; k++) y[k - 1] = 3.0 * pow(k, -1.3);
    ttp_powerlaw f;
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, y, 100, 1, 100, &f));
    CHECK_CLOSE(f.a, 3.0, 0, 1e-10);
    CHECK_CLOSE(f.alpha, 1.3, 0, 1e-10);
    CHECK(f.ok == 1 && f.r2 > 1 - 1e-12 && f.rms_log_resid < 1e-12 && f.alpha_err < 1e-10);
    CHECK(f.k_lo == 1 && f.k_hi == 100);
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, y, 100, 7, 61, &f));
    CHECK_CLOSE(f.a, 3.0, 0, 1e-10);
    CHECK_CLOSE(f.alpha, 1.3, 0, 1e-10);
    /* bad ranges and values */
    CHECK_FAILS(ctx, ttp_fit_powerlaw(ctx, y, 100, 0, 50, &f), TTP_ERR_ARG, "range 0..50");
    CHECK_FAILS(ctx, ttp_fit_powerlaw(ctx, y, 100, 10, 101, &f), TTP_ERR_ARG, "of 100 values");
    CHECK_FAILS(ctx, ttp_fit_powerlaw(ctx, y, 100, 10, 11, &f), TTP_ERR_ARG, "at least 3");
    y[20] = 0;
    CHECK_FAILS(ctx, ttp_fit_powerlaw(ctx, y, 100, 1, 100, &f), TTP_ERR_ARG, "mode 21");
}

/* Weighted least squares of log y on log k (weights 1/k) by LAPACKE_dgels. */
static void wls_ref(const double *y, int k_lo, int k_hi, double *a, double *alpha, double *r2, double *rms)
{
    int m = k_hi - k_lo + 1;
    double *A = malloc(sizeof *A * (size_t)(2 * m)), *b = malloc(sizeof *b * (size_t)m);
    for (int k = k_lo; k <= k_hi; k++) {
        double sw = sqrt(1.0 / k);
        A[(k - k_lo) * 2] = sw;
        A[(k - k_lo) * 2 + 1] = sw * log((double)k);
        b[k - k_lo] = sw * log(y[k - 1]);
    }
    LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', m, 2, 1, A, 2, b, 1);
    double c0 = b[0], c1 = b[1];
    *a = exp(c0), *alpha = -c1;
    double sw = 0, swl = 0, res = 0, tot = 0;
    for (int k = k_lo; k <= k_hi; k++) sw += 1.0 / k, swl += log(y[k - 1]) / k;
    for (int k = k_lo; k <= k_hi; k++) {
        double l = log(y[k - 1]), r = l - c0 - c1 * log((double)k);
        res += r * r / k, tot += (l - swl / sw) * (l - swl / sw) / k;
    }
    *r2 = 1 - res / tot, *rms = sqrt(res / sw);
    free(A), free(b);
}

static void noisy_powerlaw(double *y, int n, double a, double alpha, double sigma, uint64_t key)
{
    for (int k = 1; k <= n; k++)
        y[k - 1] = a * pow(k, -alpha) * exp(sigma * ttp_rng_normal(key, (uint64_t)k));
}

/*
 * Noise: 5 % multiplicative log-normal on 1000 modes.  The tolerance on α,
 * 0.02, is about 4 standard deviations of the estimator (its scatter over
 * 200 seeds, printed, is ≈ 0.005).
 */
static void test_noisy(ttp_ctx *ctx)
{
    enum { n = 1000, SEEDS = 200 };
    double y[n];
    ttp_powerlaw f;
    noisy_powerlaw(y, n, 2.0, 1.5, 0.05, 77);
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, y, n, 1, n, &f));
    double a, alpha, r2, rms;
    wls_ref(y, 1, n, &a, &alpha, &r2, &rms);
    CHECK_CLOSE(f.alpha, alpha, 0, 1e-10);
    CHECK_CLOSE(f.a, a, 0, 1e-10);
    CHECK_CLOSE(f.r2, r2, 0, 1e-10);
    CHECK_CLOSE(f.rms_log_resid, rms, 0, 1e-10);
    CHECK(fabs(f.alpha - 1.5) < 0.02);
    CHECK(fabs(log(f.a / 2.0)) < 0.05);
    CHECK(f.ok == 1);
    /* a sub-range against the reference too */
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, y, n, 13, 400, &f));
    wls_ref(y, 13, 400, &a, &alpha, &r2, &rms);
    CHECK_CLOSE(f.alpha, alpha, 0, 1e-10);
    CHECK_CLOSE(f.a, a, 0, 1e-10);
    CHECK_CLOSE(f.r2, r2, 0, 1e-10);

    /* scatter of α over seeds against the reported standard error */
    /* The weights 1/k are design weights, not inverse variances (the noise
     * in log y is the same at every k), so the slope's variance is the
     * sandwich σ² Σw²(x−x̄)² / (Σw(x−x̄)²)² with σ² from the unweighted
     * residuals; computed here as the reference for the reported error. */
    double s = 0, s2 = 0, err = 0, sand = 0;
    for (int sd = 0; sd < SEEDS; sd++) {
        noisy_powerlaw(y, n, 2.0, 1.5, 0.05, 1000 + (uint64_t)sd);
        CHECK_OK(ctx, ttp_fit_powerlaw(ctx, y, n, 1, n, &f));
        s += f.alpha, s2 += f.alpha * f.alpha, err += f.alpha_err;
        double sw = 0, sx = 0, rr = 0, q1 = 0, q2 = 0;
        for (int k = 1; k <= n; k++) sw += 1.0 / k, sx += log((double)k) / k;
        for (int k = 1; k <= n; k++) {
            double dx = log((double)k) - sx / sw, r = log(y[k - 1]) - log(f.a) + f.alpha * log((double)k);
            rr += r * r, q1 += dx * dx / k, q2 += dx * dx / ((double)k * k);
        }
        sand += sqrt(rr / (n - 2) * q2 / (q1 * q1));
    }
    double mean = s / SEEDS, sdv = sqrt(fmax(0, s2 / SEEDS - mean * mean)), rep = err / SEEDS;
    printf("noisy power law (5 %%, 1000 modes, %d seeds): alpha mean %.5f, scatter %.5f, mean reported "
           "alpha_err %.5f (ratio %.2f), sandwich estimate %.5f (ratio %.2f)\n",
           SEEDS, mean, sdv, rep, rep / sdv, sand / SEEDS, sand / SEEDS / sdv);
    CHECK(fabs(mean - 1.5) < 3 * sdv / sqrt(SEEDS) + 1e-4);       /* unbiased */
    CHECK(sand / SEEDS > 0.8 * sdv && sand / SEEDS < 1.25 * sdv); /* the reference is right */
    CHECK(rep > 0.5 * sdv && rep < 2.0 * sdv);
}

/* ---- automatic range ------------------------------------------------------ */

static void test_auto(ttp_ctx *ctx)
{
    /* 200 modes of 0.5·k^(−1.5), a head (modes 1–3) far above the law, then a
     * round-off floor of 60 modes at ~1e-16 of the top (one negative) */
    enum { n = 260 };
    double y[n];
    for (int k = 1; k <= n; k++) y[k - 1] = k <= 200 ? 0.5 * pow(k, -1.5) : 1e-16 * (1.5 + sin((double)k));
    y[0] = 40, y[1] = 25, y[2] = 12;
    y[230] = -3e-17;
    ttp_powerlaw f;
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, y, n, &f));
    printf("auto range (head 1-3, floor after 200): modes %lld-%lld, alpha %.6f, a %.6f, r2 %.6f\n",
           (long long)f.k_lo, (long long)f.k_hi, f.alpha, f.a, f.r2);
    CHECK(f.k_lo >= 4 && f.k_hi <= 200);
    CHECK(f.k_hi - f.k_lo + 1 >= TTP_FIT_MIN_POINTS && f.k_hi >= 3 * f.k_lo);
    CHECK_CLOSE(f.alpha, 1.5, 0, 1e-8);
    CHECK_CLOSE(f.a, 0.5, 0, 1e-8);
    CHECK(f.ok == 1);

    /* too few usable modes: the message names both counts */
    double s[20];
    for (int k = 1; k <= 20; k++) s[k - 1] = k <= 5 ? pow(k, -1.0) : 1e-14;
    ttp_status st = ttp_fit_powerlaw_auto(ctx, s, 20, &f);
    CHECK(st == TTP_ERR_ARG);
    CHECK(strstr(ctx->msg, "5 usable") != NULL);
    char need[32];
    snprintf(need, sizeof need, "%d needed", TTP_FIT_MIN_POINTS);
    CHECK(strstr(ctx->msg, need) != NULL);
    if (st != TTP_ERR_ARG || strstr(ctx->msg, need) == NULL) fprintf(stderr, "  message: %s\n", ctx->msg);
    ttp_error_clear(ctx);

    /* not a power law: exponential decay */
    double e[200];
    for (int k = 1; k <= 200; k++) e[k - 1] = exp(-0.05 * k);
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, e, 200, &f));
    printf("exponential decay exp(-k/20), 200 modes: auto range %lld-%lld, r2 %.3f, ok %d, note \"%s\"\n",
           (long long)f.k_lo, (long long)f.k_hi, f.r2, f.ok, f.note);
    { /* what the suggested fix would see: the chosen law over k_lo..usable */
        double sw = 0, sl = 0, rr = 0, tot = 0;
        for (int k = (int)f.k_lo; k <= 200; k++) sw += 1.0 / k, sl += log(e[k - 1]) / k;
        for (int k = (int)f.k_lo; k <= 200; k++) {
            double l = log(e[k - 1]), r = l - log(f.a) + f.alpha * log((double)k);
            rr += r * r / k, tot += (l - sl / sw) * (l - sl / sw) / k;
        }
        printf("  the chosen law over modes %lld-200: weighted R2 %.3f\n", (long long)f.k_lo, 1 - rr / tot);
    }
    CHECK(f.ok == 0 && strstr(f.note, "not a power law") != NULL);
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, e, 200, 1, 200, &f));
    CHECK(f.ok == 0 && f.r2 < TTP_FIT_R2_MIN);
}

/* ---- extrapolation mechanics ------------------------------------------------ */

static void test_extrapolate(ttp_ctx *ctx)
{
    enum { k0 = 100 };
    const int c = 2;
    const int64_t n0 = 50;
    double mu[k0], p2n[k0];
    for (int k = 1; k <= k0; k++) mu[k - 1] = 0.8 * pow(k, -1.4), p2n[k - 1] = 0.1 * pow(k, -1.1);
    mu[k0 - 1] *= 3; /* the last measured modes are not on the law: they must go */
    ttp_powerlaw fm, fp;
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, mu, k0, 1, 60, &fm));
    CHECK_OK(ctx, ttp_fit_powerlaw(ctx, p2n, k0, 1, 80, &fp));
    double held = 0, energy = 0;
    for (int k = 0; k < k0; k++) energy += p2n[k];
    energy *= 1.2; /* 20 % of the per-sample energy outside the measured modes */
    /* kept: the modes inside the spectrum's fit, at most the first half */
    const int keep = 60 < k0 / 2 ? 60 : k0 / 2;
    for (int k = 0; k < keep; k++) held += p2n[k];
    double *m1 = NULL, *e1 = NULL;
    int64_t k1 = 0;
    /* smaller target: an error naming both sizes */
    ttp_status st = ttp_fit_extrapolate(ctx, mu, p2n, k0, energy, n0, c, 30, 0, &fm, &fp, &m1, &e1, &k1);
    CHECK(st == TTP_ERR_ARG && strstr(ctx->msg, "30") && strstr(ctx->msg, "50"));
    CHECK(m1 == NULL && e1 == NULL);
    ttp_error_clear(ctx);

    CHECK_OK(ctx, ttp_fit_extrapolate(ctx, mu, p2n, k0, energy, n0, c, 400, 0, &fm, &fp, &m1, &e1, &k1));
    if (m1 && e1) {
        CHECK(k1 == 400 * c); /* min(N′C, no rank bound) */
        int bad = 0;
        for (int k = 0; k < keep; k++) bad += m1[k] != mu[k] || e1[k] != p2n[k]; /* kept exactly */
        for (int k = keep; k < k1; k++) bad += fabs(m1[k] - 0.8 * pow(k + 1.0, -1.4)) > 1e-12 * m1[k];
        /* tail energies follow b·k^(−β) up to one common scale */
        double sc = e1[keep] / (0.1 * pow(keep + 1.0, -1.1));
        for (int k = keep; k < k1; k++) bad += fabs(e1[k] - sc * 0.1 * pow(k + 1.0, -1.1)) > 1e-10 * e1[k];
        CHECK(bad == 0);
        double tot = 0;
        for (int k = 0; k < k1; k++) tot += e1[k];
        CHECK_CLOSE(tot, energy, 0, 1e-12); /* per-sample energy conserved */
        CHECK(sc > 0 && sc < 1.0); /* the tail carries energy − held, spread thinner than b·k^−β */
        printf("extrapolate N0=%lld -> 400 (C=%d): %lld modes, kept 60, energy %.6g (held %.6g), tail scale "
               "%.4f\n",
               (long long)n0, c, (long long)k1, tot, held, sc);
    }
    free(m1), free(e1);
    m1 = e1 = NULL;
    /* the rank bound D′ caps the mode count */
    CHECK_OK(ctx, ttp_fit_extrapolate(ctx, mu, p2n, k0, energy, n0, c, 400, 300, &fm, &fp, &m1, &e1, &k1));
    if (m1 && e1) {
        CHECK(k1 == 300);
        double tot = 0;
        for (int k = 0; k < k1; k++) tot += e1[k];
        CHECK_CLOSE(tot, energy, 0, 1e-12);
    }
    free(m1), free(e1);
}

/* ---- a kernel family with a known operator spectrum -------------------------- */

/* Random orthonormal n × n (row-major) from the QR of a Gaussian matrix. */
static void orthonormal(double *U, int n, uint64_t key)
{
    double *tau = malloc(sizeof *tau * (size_t)n);
    for (int i = 0; i < n * n; i++) U[i] = ttp_rng_normal(key, (uint64_t)i);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, n, U, n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, n, n, U, n, tau);
    free(tau);
}

/*
 * The designed family, consistent with what extrapolation assumes: the
 * operator has μ_k = k^(−1.5) and residual energies c_k² = 0.3·k^(−1.5) for
 * k ≤ KTOT = 400 (the largest NC used here).  At N samples (C = 2),
 * Θ_N/N = U diag(μ_1..μ_NC) Uᵀ (U random orthonormal) and r₀ = U p with
 * p_k²/N = c_k² for k < NC while the last mode holds Σ_{NC ≤ j ≤ KTOT} c_j²
 * (the finite kernel aliases the unresolved energy into its tail).  So the
 * spectrum does not depend on N, nor does the per-sample energy.  The
 * "measurement" is LAPACKE_dsyevd of the assembled Θ_N and Uᵀ r₀ from its
 * eigenvectors, as the kernel stage produces them.  mu, p: NC values.
 */
enum { KTOT = 400 };

static double family_p2n(int k, int nc)
{
    if (k < nc) return 0.3 * pow(k, -1.5);
    double s = 0;
    for (int j = nc; j <= KTOT; j++) s += 0.3 * pow(j, -1.5);
    return s;
}

static int measure_family(int n, int c, uint64_t key, double *mu, double *p)
{
    int nc = n * c;
    double *U = malloc(sizeof *U * (size_t)nc * nc), *th = malloc(sizeof *th * (size_t)nc * nc);
    double *G = malloc(sizeof *G * (size_t)nc * nc), *r = malloc(sizeof *r * (size_t)nc),
           *w = malloc(sizeof *w * (size_t)nc);
    orthonormal(U, nc, key);
    for (int i = 0; i < nc; i++)
        for (int k = 0; k < nc; k++) G[i * nc + k] = U[i * nc + k] * sqrt((double)n * pow(k + 1.0, -1.5));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc, nc, nc, 1.0, G, nc, G, nc, 0.0, th, nc);
    for (int i = 0; i < nc; i++) r[i] = 0;
    for (int k = 0; k < nc; k++) {
        double pk =
            (ttp_rng_u64(key + 1, (uint64_t)k) & 1 ? 1 : -1) * sqrt((double)n * family_p2n(k + 1, nc));
        cblas_daxpy(nc, pk, U + k, nc, r, 1);
    }
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', nc, th, nc, w);
    for (int j = 0; j < nc; j++) { /* descending */
        int col = nc - 1 - j;
        mu[j] = w[col] / n;
        p[j] = cblas_ddot(nc, th + col, nc, r, 1);
    }
    free(U), free(th), free(G), free(r), free(w);
    return info;
}

/*
 * The designed family.  α from the LAPACK spectrum to 1e-6 (the eigenvalues
 * are the designed ones up to round-off).  Extrapolating from N₀ = N/4 must
 * rebuild the spectrum at N: the kept modes are measured, the tail follows
 * the exact laws and carries exactly the aliased energy, so the GD-MSE curve
 * matches the direct closed form on the measured Θ_N to 1e-8 (round-off of
 * the eigen-decompositions and the fits); the N₀ curve itself, printed for
 * scale, does not.
 */
static void test_family(ttp_ctx *ctx)
{
    const int N = 200, C = 2, NC = N * C, N0 = N / 4, K0 = N0 * C, T = 150;
    double *mu = malloc(sizeof *mu * NC), *p = malloc(sizeof *p * NC);
    double *mu0 = malloc(sizeof *mu0 * K0), *p0 = malloc(sizeof *p0 * K0), *p2n0 = malloc(sizeof *p2n0 * K0);
    double *direct = malloc(sizeof *direct * (T + 1)), *extra = malloc(sizeof *extra * (T + 1));
    double *small = malloc(sizeof *small * (T + 1));
    CHECK(measure_family(N, C, 501, mu, p) == 0);
    CHECK(measure_family(N0, C, 601, mu0, p0) == 0);
    ttp_powerlaw fmu, fp;
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, mu, NC, &fmu));
    printf("designed spectrum k^-1.5 (NC = %d, LAPACK eigenvalues): auto fit modes %lld-%lld alpha %.8f a "
           "%.8f\n",
           NC, (long long)fmu.k_lo, (long long)fmu.k_hi, fmu.alpha, fmu.a);
    CHECK_CLOSE(fmu.alpha, 1.5, 0, 1e-6);
    CHECK_CLOSE(fmu.a, 1.0, 0, 1e-6);

    double lr = 1.0;
    CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu, p, NC, N, lr, T, 0.0, direct));
    double energy = 0;
    for (int k = 0; k < K0; k++) p2n0[k] = p0[k] * p0[k] / N0, energy += p2n0[k];
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, mu0, K0, &fmu));
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, p2n0, K0, &fp));
    CHECK_CLOSE(fp.alpha, 1.5, 0, 1e-6);
    double *m1 = NULL, *e1 = NULL;
    int64_t k1 = 0;
    CHECK_OK(ctx, ttp_fit_extrapolate(ctx, mu0, p2n0, K0, energy, N0, C, N, 0, &fmu, &fp, &m1, &e1, &k1));
    CHECK(k1 == NC);
    if (m1 && e1 && k1 == NC) {
        double *pv = malloc(sizeof *pv * (size_t)k1), held = 0;
        for (int k = 0; k < k1; k++) pv[k] = sqrt(e1[k] * N), held += e1[k];
        CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, m1, pv, k1, N, lr, T, fmax(0, energy - held) / 2, extra));
        CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu0, p0, K0, N0, lr, T, 0.0, small));
        double e = 0, e_small = 0;
        for (int t = 0; t <= T; t++) {
            e = fmax(e, fabs(extra[t] - direct[t]) / direct[t]);
            e_small = fmax(e_small, fabs(small[t] - direct[t]) / direct[t]);
        }
        ttp_tt_def d = {TTP_TT_REL, 0.05, 1};
        int64_t td = ttp_ttime(&d, direct, NULL, T), tx = ttp_ttime(&d, extra, NULL, T),
                ts = ttp_ttime(&d, small, NULL, T);
        printf("  extrapolated N0=%d -> N=%d (kept %lld modes; fits mu %lld-%lld, p %lld-%lld) vs direct, "
               "GD-MSE "
               "lr %.1f T %d: max rel loss diff %.2e (N0 curve itself %.4f); rel-0.05 time direct %lld, "
               "extrapolated %lld, N0 %lld\n",
               N0, N, (long long)(fmu.k_hi < K0 ? fmu.k_hi : K0), (long long)fmu.k_lo, (long long)fmu.k_hi,
               (long long)fp.k_lo, (long long)fp.k_hi, lr, T, e, e_small, (long long)td, (long long)tx,
               (long long)ts);
        CHECK(e < 1e-8);
        CHECK(td > 10 && tx == td);
        CHECK(e_small > 0.05); /* not vacuous: extrapolation had something to correct */
        /* The same with the μ law fitted over ALL measured modes (what the
         * auto range picks on a clean spectrum, e.g. the drawn family below):
         * the data are the same exact laws, so the result should not change. */
        ttp_powerlaw fall;
        double *m2 = NULL, *e2 = NULL, *x2 = malloc(sizeof *x2 * (T + 1));
        int64_t k2 = 0;
        CHECK_OK(ctx, ttp_fit_powerlaw(ctx, mu0, K0, 1, K0, &fall));
        CHECK_OK(ctx,
                 ttp_fit_extrapolate(ctx, mu0, p2n0, K0, energy, N0, C, N, 0, &fall, &fp, &m2, &e2, &k2));
        if (m2 && e2) {
            double h2 = 0, e2max = 0;
            for (int k = 0; k < k2; k++) pv[k] = sqrt(e2[k] * N), h2 += e2[k];
            CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, m2, pv, k2, N, lr, T, fmax(0, energy - h2) / 2, x2));
            for (int t = 0; t <= T; t++) e2max = fmax(e2max, fabs(x2[t] - direct[t]) / direct[t]);
            printf("  same, mu law fitted over all %d measured modes: max rel loss diff %.4f, rel-0.05 time "
                   "%lld\n",
                   K0, e2max, (long long)ttp_ttime(&d, x2, NULL, T));
            CHECK(e2max < 1e-8);
        }
        free(m2), free(e2), free(x2);
        free(pv);
    }
    free(m1), free(e1);
    free(mu), free(p), free(mu0), free(p0), free(p2n0), free(direct), free(extra), free(small);
}

/*
 * Data drawn from a known operator: sample i has features φ_k(x_i) ~ N(0, 1)
 * i.i.d. for k = 1..KOP, the kernel is Θ_ij = Σ_k σ_k φ_k(x_i) φ_k(x_j) with
 * σ_k = k^(−1.5) (C = 1), and the initial residual is r₀(x_i) =
 * Σ_k c_k φ_k(x_i) with c_k² = 0.3·k^(−1.6).  So E[Θ/N] has the operator's
 * spectrum, the μ_k of Θ_N/N converge to σ_k as N grows, the per-sample
 * residual energy is Σ c_k² at every N, and the energy of modes beyond N
 * aliases into the measured ones as it does for a real kernel.  The first
 * N₀ samples are the subset (nested, like --subset).  mu, p: n values,
 * descending, from LAPACKE_dsyevd.
 */
enum { KOP = 4000 };

static int measure_rf(int n, double *mu, double *p)
{
    double *G = malloc(sizeof *G * (size_t)n * KOP), *th = malloc(sizeof *th * (size_t)n * n);
    double *r = calloc((size_t)n, sizeof *r), *w = malloc(sizeof *w * (size_t)n);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < KOP; k++) {
            double phi = ttp_rng_normal(4242, (uint64_t)i * KOP + (uint64_t)k);
            G[(size_t)i * KOP + k] = phi * pow(k + 1.0, -0.75);
            r[i] += phi * sqrt(0.3 * pow(k + 1.0, -1.6));
        }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, KOP, 1.0, G, KOP, 0.0, th, n);
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', n, th, n, w);
    for (int j = 0; j < n; j++) {
        int col = n - 1 - j;
        mu[j] = w[col] / n;
        p[j] = cblas_ddot(n, th + col, n, r, 1);
    }
    free(G), free(th), free(r), free(w);
    return info;
}

/*
 * Fit and extrapolation on the drawn family, N = 400, N₀ = 100, with the
 * fits predict uses (ttp_fit_powerlaw_auto for μ, ttp_fit_energy_law for
 * p_k²/N).
 *   α of the spectrum at N within 0.1 of the operator's 1.5 (measured 1.43:
 *   finite-N eigenvalues bend away from σ_k in the tail);
 *   the rel-0.05 training time extrapolated from N₀ within 20 % of the
 *   direct one at N (measured 44 vs 47; β of the octave-averaged energies
 *   1.61 for the true 1.6).  The loss curves themselves are only printed:
 *   one draw of the data makes the late loss depend on the χ²-fluctuating
 *   energies of a few slow modes (measured 35 % apart at T; the N₀ curve
 *   itself is 47 % off).
 */
static void test_drawn(ttp_ctx *ctx)
{
    const int N = 400, N0 = 100, T = 150;
    double *mu = malloc(sizeof *mu * N), *p = malloc(sizeof *p * N);
    double *mu0 = malloc(sizeof *mu0 * N0), *p0 = malloc(sizeof *p0 * N0), *p2n0 = malloc(sizeof *p2n0 * N0);
    double *direct = malloc(sizeof *direct * (T + 1)), *extra = malloc(sizeof *extra * (T + 1));
    double *small = malloc(sizeof *small * (T + 1));
    CHECK(measure_rf(N, mu, p) == 0);
    CHECK(measure_rf(N0, mu0, p0) == 0);
    ttp_powerlaw fmu, fp;
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, mu, N, &fmu));
    printf("drawn family (operator k^-1.5, N = %d): auto fit modes %lld-%lld alpha %.4f a %.4f r2 %.4f\n", N,
           (long long)fmu.k_lo, (long long)fmu.k_hi, fmu.alpha, fmu.a, fmu.r2);
    CHECK(fabs(fmu.alpha - 1.5) < 0.1);

    double lr = 1.0 / mu[0];
    CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu, p, N, N, lr, T, 0.0, direct));
    double energy = 0;
    for (int k = 0; k < N0; k++) p2n0[k] = p0[k] * p0[k] / N0, energy += p2n0[k];
    CHECK_OK(ctx, ttp_fit_powerlaw_auto(ctx, mu0, N0, &fmu));
    CHECK_OK(ctx, ttp_fit_energy_law(ctx, p2n0, N0, &fp)); /* what predict uses */
    printf("  fits at N0 = %d: mu modes %lld-%lld alpha %.4f; p^2/N modes %lld-%lld beta %.4f (r2 %.3f)\n",
           N0, (long long)fmu.k_lo, (long long)fmu.k_hi, fmu.alpha, (long long)fp.k_lo, (long long)fp.k_hi,
           fp.alpha, fp.r2);
    double *m1 = NULL, *e1 = NULL;
    int64_t k1 = 0;
    CHECK_OK(ctx, ttp_fit_extrapolate(ctx, mu0, p2n0, N0, energy, N0, 1, N, 0, &fmu, &fp, &m1, &e1, &k1));
    CHECK(k1 == N);
    if (m1 && e1 && k1 == N) {
        double *pv = malloc(sizeof *pv * (size_t)k1), held = 0;
        for (int k = 0; k < k1; k++) pv[k] = sqrt(e1[k] * N), held += e1[k];
        CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, m1, pv, k1, N, lr, T, fmax(0, energy - held) / 2, extra));
        CHECK_OK(ctx, ttp_sim_gd_mse_closed(ctx, mu0, p0, N0, N0, lr, T, 0.0, small));
        double e = 0, e_small = 0;
        for (int t = 0; t <= T; t++) {
            e = fmax(e, fabs(extra[t] - direct[t]) / direct[t]);
            e_small = fmax(e_small, fabs(small[t] - direct[t]) / direct[t]);
        }
        ttp_tt_def d = {TTP_TT_REL, 0.05, 1};
        int64_t td = ttp_ttime(&d, direct, NULL, T), tx = ttp_ttime(&d, extra, NULL, T),
                ts = ttp_ttime(&d, small, NULL, T);
        printf(
            "  GD-MSE (lr 1/mu_max, T %d): extrapolated N0=%d -> N=%d vs direct at N: max rel loss diff %.4f "
            "(the N0 curve itself: %.4f); rel-0.05 time direct %lld, extrapolated %lld, N0 %lld; L_T %.4g / "
            "%.4g\n",
            T, N0, N, e, e_small, (long long)td, (long long)tx, (long long)ts, direct[T], extra[T]);
        CHECK(td > 10 && fabs((double)(tx - td)) <= 0.20 * (double)td);
        free(pv);
    }
    free(m1), free(e1);
    free(mu), free(p), free(mu0), free(p0), free(p2n0), free(direct), free(extra), free(small);
}

/* ---- energy laws through tail sums ------------------------------------------ */

/* Per-mode energies e_k = b k^(−β) · χ²₁ (a Gaussian coefficient squared, as
 * p_k² of a random residual): the octave-average fit recovers β and b, the
 * direct fit of single e_k is far noisier. */
static void test_energy_law(ttp_ctx *ctx)
{
    enum { n = 800, seeds = 20 };
    const double b = 2.0, beta = 1.8;
    double e[n], err_oct = 0, err_direct = 0;
    for (int s = 0; s < seeds; s++) {
        uint64_t key = ttp_rng_key(77, (uint64_t)s);
        for (int k = 1; k <= n; k++) {
            double z = ttp_rng_normal(key, (uint64_t)k);
            e[k - 1] = b * pow(k, -beta) * z * z;
        }
        ttp_powerlaw ft, fd;
        CHECK_OK(ctx, ttp_fit_energy_law(ctx, e, n, &ft));
        CHECK_OK(ctx, ttp_fit_powerlaw(ctx, e, n, 1, n, &fd));
        err_oct += fabs(ft.alpha - beta) / seeds;
        err_direct += fabs(fd.alpha - beta) / seeds;
    }
    printf("energy law (beta %.2f, chi2_1 scatter, %d seeds): mean |error| octave-average fit %.4f, direct "
           "fit %.4f\n",
           beta, seeds, err_oct, err_direct);
    CHECK(err_oct < 0.2);
    CHECK(err_oct < 0.75 * err_direct);
    /* exact law: exponent and amplitude back, up to the discreteness of the
     * octave sums at small k (a continuum approximation: 1 %) */
    for (int k = 1; k <= n; k++) e[k - 1] = b * pow(k, -beta);
    ttp_powerlaw f;
    CHECK_OK(ctx, ttp_fit_energy_law(ctx, e, n, &f));
    CHECK_CLOSE(f.alpha, beta, 0, 0.01);
    CHECK_CLOSE(f.a, b, 0, 0.05);
    /* too few modes: an error naming the count */
    CHECK_FAILS(ctx, ttp_fit_energy_law(ctx, e, 10, &f), TTP_ERR_ARG, "10");
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    test_exact(&ctx);
    test_noisy(&ctx);
    test_auto(&ctx);
    test_extrapolate(&ctx);
    test_family(&ctx);
    test_drawn(&ctx);
    test_energy_law(&ctx);
    return ttp_test_end("test_fit");
}
