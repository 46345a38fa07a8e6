/*
 * ttp_fit.h — power-law fits of a spectrum and of the residual's energy
 * over its modes, and the extrapolation of both to a larger dataset
 * (docs/METHOD.md §9).
 */
#ifndef TTP_FIT_H
#define TTP_FIT_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y_k ≈ a · k^(−alpha) over modes k_lo..k_hi (1-based). */
typedef struct ttp_powerlaw {
    double a, alpha;
    double a_err, alpha_err; /* standard errors of the log-log least squares   */
    double r2;               /* coefficient of determination in log-log         */
    double rms_log_resid;    /* RMS of log(y) − log(fit), natural log            */
    int64_t k_lo, k_hi;
    int ok; /* 0: poor fit (r2 below TTP_FIT_R2_MIN): warn      */
    char note[256];
} ttp_powerlaw;

/* A fit whose log-log R² falls below this is reported as not a power law. */
#define TTP_FIT_R2_MIN 0.9
/* The fewest modes a fit may use. */
#define TTP_FIT_MIN_POINTS 8

/*
 * Least squares of log y on log k over k_lo..k_hi, each point weighted by
 * 1/k so that every decade of modes counts the same (otherwise the many
 * tail modes decide the exponent).  Non-positive y are an error naming the
 * mode.
 */
ttp_status ttp_fit_powerlaw(ttp_ctx *ctx, const double *y, int64_t n, int64_t k_lo, int64_t k_hi,
                            ttp_powerlaw *out);

/*
 * Fit over a range chosen from the data: usable modes are those above the
 * round-off floor (1e-10 of the largest); candidate windows start at
 * k_lo ∈ {1, 2, 4, ...} and end at k_hi ∈ {usable/8, usable/4, usable/2,
 * usable}; the window with the smallest weighted RMS residual per decade
 * of span wins, at least TTP_FIT_MIN_POINTS modes and half a decade long.
 * The chosen law must also hold over two octaves past its window (R² ≥
 * TTP_FIT_R2_MIN there), else ok = 0 with a note: it will be extrapolated.
 * TTP_ERR_ARG, saying how many usable modes there are and how many are
 * needed, when the spectrum is too short.
 */
ttp_status ttp_fit_powerlaw_auto(ttp_ctx *ctx, const double *y, int64_t n, ttp_powerlaw *out);

/*
 * Power law e_k ≈ b·k^(−β) of per-mode energies (p_k²/N) fitted through
 * their octave averages ē_k = mean(e_k … e_{2k−1}), which follow the same
 * exponent: single p_k² scatter like χ²₁ around their trend, and a direct
 * fit sees mostly that noise.  r2 and the range refer to the averages.
 */
ttp_status ttp_fit_energy_law(ttp_ctx *ctx, const double *e, int64_t n, ttp_powerlaw *out);

/*
 * Extrapolate a measured spectrum to a larger dataset.
 *   mu, p2n   k0 measured eigenvalues of Θ/N₀ (descending) and residual
 *             energies p_k²/N₀
 *   energy    total per-sample residual energy ‖r₀‖²/N₀ (kept fixed)
 *   n0, c     measured size and outputs; n1 ≥ n0 the target size
 *   kmax      rank bound of Θ (D or D′), 0 for none
 * The measured modes up to the fit's upper end are kept (the μ_k of Θ/N
 * converge as N grows); beyond, a·k^−α and b·k^−β extend the tail up to
 * min(n1·c, kmax) modes, and the tail energies are scaled so that the total
 * per-sample energy stays `energy` (what the measured modes do not hold is
 * spread over the tail).  Outputs are malloc'd, owned by the caller.
 */
ttp_status ttp_fit_extrapolate(ttp_ctx *ctx, const double *mu, const double *p2n, int64_t k0, double energy,
                               int64_t n0, int c, int64_t n1, int64_t kmax, const ttp_powerlaw *fit_mu,
                               const ttp_powerlaw *fit_p, double **mu_out, double **p2n_out, int64_t *k_out);

#ifdef __cplusplus
}
#endif
#endif /* TTP_FIT_H */
