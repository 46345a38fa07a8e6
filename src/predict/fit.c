/*
 * fit.c — weighted log-log power-law fits with an automatic range, and
 * spectrum extrapolation to larger datasets.
 */
#include "ttp_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ttp_status ttp_fit_powerlaw(ttp_ctx *ctx, const double *y, int64_t n, int64_t k_lo, int64_t k_hi,
                            ttp_powerlaw *out)
{
    if (k_lo < 1 || k_hi > n || k_hi - k_lo + 1 < 3)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "power-law fit: range %lld..%lld of %lld values, expected at least 3 modes",
                       (long long)k_lo, (long long)k_hi, (long long)n);
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        double v = y[k - 1];
        if (!(v > 0) || !isfinite(v))
            return TTP_ERR(ctx, TTP_ERR_ARG, "power-law fit: value %g at mode %lld, expected > 0", v,
                           (long long)k);
        double w = 1.0 / (double)k, x = log((double)k), l = log(v);
        sw += w, sx += w * x, sy += w * l, sxx += w * x * x, sxy += w * x * l;
    }
    double mx = sx / sw, my = sy / sw, vxx = sxx / sw - mx * mx, vxy = sxy / sw - mx * my;
    if (!(vxx > 0)) return TTP_ERR(ctx, TTP_ERR_NUMERIC, "power-law fit: degenerate range");
    double slope = vxy / vxx, icpt = my - slope * mx;
    double ss_res = 0, ss_tot = 0;
    int64_t m = k_hi - k_lo + 1;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        double w = 1.0 / (double)k, x = log((double)k), l = log(y[k - 1]);
        double r = l - (icpt + slope * x);
        ss_res += w * r * r;
        ss_tot += w * (l - my) * (l - my);
    }
    memset(out, 0, sizeof *out);
    out->alpha = -slope;
    out->a = exp(icpt);
    out->k_lo = k_lo;
    out->k_hi = k_hi;
    out->rms_log_resid = sqrt(ss_res / sw);
    out->r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
    /* Weighted least squares standard errors with the residual variance
     * estimated from the fit (effective sample size m). */
    double rr = 0, q1 = 0, q2 = 0, q0 = 0, qx = 0;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        double w = 1.0 / (double)k, x = log((double)k), r = log(y[k - 1]) - (icpt + slope * x), dx = x - mx;
        rr += r * r, q1 += w * dx * dx, q2 += w * w * dx * dx, q0 += w * w, qx += w * w * dx;
    }
    double s2 = m > 2 ? rr / (double)(m - 2) : 0.0;
    out->alpha_err = sqrt(s2 * q2) / q1;
    /* intercept at x = 0: icpt = my − slope·mx; Var = s2 Σ (w/sw − w dx mx/q1)² */
    double vi = s2 * (q0 / (sw * sw) - 2 * mx * qx / (sw * q1) + mx * mx * q2 / (q1 * q1));
    out->a_err = out->a * sqrt(vi > 0 ? vi : 0);
    out->ok = out->r2 >= TTP_FIT_R2_MIN;
    if (!out->ok)
        snprintf(out->note, sizeof out->note,
                 "not a power law within tolerance: R2 %.3f < %.2f over modes %lld-%lld", out->r2,
                 TTP_FIT_R2_MIN, (long long)k_lo, (long long)k_hi);
    return TTP_OK;
}

ttp_status ttp_fit_powerlaw_auto(ttp_ctx *ctx, const double *y, int64_t n, ttp_powerlaw *out)
{
    int64_t usable = 0;
    double top = n > 0 ? y[0] : 0;
    for (int64_t k = 0; k < n; k++) top = fmax(top, y[k]);
    while (usable < n && y[usable] > 1e-10 * top && isfinite(y[usable])) usable++;
    if (usable < TTP_FIT_MIN_POINTS)
        return TTP_ERR(
            ctx, TTP_ERR_ARG,
            "spectrum too short to fit a power law: %lld usable modes (above 1e-10 of the largest), "
            "at least %d needed",
            (long long)usable, TTP_FIT_MIN_POINTS);
    ttp_powerlaw best;
    double best_score = INFINITY;
    int found = 0;
    for (int64_t lo = 1; lo <= usable / 4; lo *= 2) {
        for (int q = 8; q >= 1; q /= 2) {
            int64_t hi = usable / q;
            if (hi - lo + 1 < TTP_FIT_MIN_POINTS || log10((double)hi / (double)lo) < 0.5) continue;
            ttp_powerlaw f;
            ttp_ctx quiet;
            ttp_ctx_init(&quiet);
            if (ttp_fit_powerlaw(&quiet, y, n, lo, hi, &f) != TTP_OK) continue;
            /* Prefer small residuals and long spans: residual per decade. */
            double score = f.rms_log_resid / sqrt(log10((double)hi / (double)lo));
            if (score < best_score) best_score = score, best = f, found = 1;
        }
    }
    if (!found) /* fewer than a decade and a half: fit everything usable */
        TTP_CALL(ctx, ttp_fit_powerlaw(ctx, y, n, 1, usable, &best));
    /* The law is used beyond its window (extrapolation), so it must keep
     * holding past it — over two more octaves, not to the very end: the last
     * modes of a finite (or projected) kernel fall off at its rank, which
     * says nothing about the operator's tail. */
    {
        int64_t end = best.k_hi * 4 < usable ? best.k_hi * 4 : usable;
        double sw = 0, sl = 0, rr = 0, tot = 0;
        for (int64_t k = best.k_lo; k <= end; k++) sw += 1.0 / (double)k, sl += log(y[k - 1]) / (double)k;
        for (int64_t k = best.k_lo; k <= end; k++) {
            double l = log(y[k - 1]), r = l - log(best.a) + best.alpha * log((double)k);
            rr += r * r / (double)k, tot += (l - sl / sw) * (l - sl / sw) / (double)k;
        }
        double r2all = tot > 0 ? 1.0 - rr / tot : 1.0;
        if (r2all < TTP_FIT_R2_MIN && best.ok) {
            best.ok = 0;
            snprintf(best.note, sizeof best.note,
                     "not a power law within tolerance: the law fitted on modes %lld-%lld has R2 %.3f < %.2f "
                     "over modes %lld-%lld",
                     (long long)best.k_lo, (long long)best.k_hi, r2all, TTP_FIT_R2_MIN, (long long)best.k_lo,
                     (long long)end);
        }
    }
    *out = best;
    return TTP_OK;
}

ttp_status ttp_fit_extrapolate(ttp_ctx *ctx, const double *mu, const double *p2n, int64_t k0, double energy,
                               int64_t n0, int c, int64_t n1, int64_t kmax, const ttp_powerlaw *fit_mu,
                               const ttp_powerlaw *fit_p, double **mu_out, double **p2n_out, int64_t *k_out)
{
    ttp_status st = TTP_OK;
    double *m1 = NULL, *e1 = NULL;
    if (n1 < n0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "extrapolation to N' = %lld, smaller than the %lld samples measured",
                       (long long)n1, (long long)n0);
    int64_t k1 = n1 * (int64_t)c;
    if (kmax > 0 && k1 > kmax) k1 = kmax;
    /* Keep the measured modes the kernel resolves: those inside the
     * spectrum's fit, and at most the first half of the measured ones — the
     * last modes of a finite kernel absorb the energy of the modes it cannot
     * resolve, and that energy belongs to the extrapolated tail.  (The
     * residual-energy fit is not used to cut: single p_k² scatter like χ²₁,
     * and their law is the less reliable of the two.) */
    int64_t keep = fit_mu->k_hi < k0 / 2 ? fit_mu->k_hi : k0 / 2;
    if (keep < 1) keep = k0 < 1 ? k0 : 1;
    if (keep > k1) keep = k1;
    if (k1 < keep) k1 = keep;
    TTP_ALLOC(ctx, st, fail, m1, k1, "extrapolated spectrum");
    TTP_ALLOC(ctx, st, fail, e1, k1, "extrapolated energies");
    double held = 0, tail = 0;
    for (int64_t k = 0; k < keep; k++) {
        m1[k] = mu[k];
        e1[k] = p2n[k];
        held += p2n[k];
    }
    for (int64_t k = keep; k < k1; k++) {
        double kk = (double)(k + 1);
        m1[k] = fit_mu->a * pow(kk, -fit_mu->alpha);
        e1[k] = fit_p->a * pow(kk, -fit_p->alpha);
        tail += e1[k];
    }
    /* The per-sample residual energy stays what was measured: the tail
     * carries exactly what the kept modes do not. */
    double want = energy - held;
    double scale = tail > 0 && want > 0 ? want / tail : 0.0;
    for (int64_t k = keep; k < k1; k++) e1[k] *= scale;
    *mu_out = m1;
    *p2n_out = e1;
    *k_out = k1;
    return TTP_OK;
fail:
    free(m1);
    free(e1);
    return st;
}

ttp_status ttp_fit_energy_law(ttp_ctx *ctx, const double *e, int64_t n, ttp_powerlaw *out)
{
    ttp_status st = TTP_OK;
    double *avg = NULL;
    /* Octave averages ē_k = mean of e_j over k ≤ j < 2k, for k ≤ n/2 (where
     * the window is complete).  For e_j = b j^(−β) they follow the same
     * exponent, ē_k ≈ b c_β k^(−β) with c_β = (1 − 2^(1−β))/(β − 1), while
     * the χ²₁ scatter of single energies shrinks like 1/√k. */
    int64_t m = n / 2;
    if (m < TTP_FIT_MIN_POINTS)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "too few modes to fit the residual energies: %lld, at least %d needed", (long long)n,
                       2 * TTP_FIT_MIN_POINTS);
    TTP_ALLOC(ctx, st, done, avg, m, "octave averages");
    double run = 0; /* Σ e_j for j in [k, 2k): slide by adding 2k−1, 2k and dropping k−1 */
    for (int64_t k = 1; k <= m; k++) {
        if (k == 1)
            run = e[0];
        else
            run += e[2 * k - 3] + e[2 * k - 2] - e[k - 2];
        avg[k - 1] = run / (double)k;
    }
    ttp_powerlaw f;
    TTP_CALL_GOTO(ctx, st, done, ttp_fit_powerlaw_auto(ctx, avg, m, &f));
    double beta = f.alpha;
    double c = fabs(beta - 1.0) < 1e-9 ? log(2.0) : (1.0 - pow(2.0, 1.0 - beta)) / (beta - 1.0);
    *out = f;
    out->a = f.a / c;
    out->a_err = f.a_err / c;
done:
    free(avg);
    return st;
}
