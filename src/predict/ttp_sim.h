/*
 * ttp_sim.h — the linearized training dynamics in function space, the
 * training-time definitions, and the eigenbasis SDE used where only a
 * spectrum is known (docs/METHOD.md).
 *
 * Because F(w) = F₀ + J (w − w₀) is linear in w, every optimizer step maps
 * exactly to function space (docs/METHOD.md §2); with A_t the image under J of
 * the step's gradient,
 *   A   = (1/|B|) Θ[:, B] g_B(F) + λ (F − F₀ + u₀)       (u₀ = J w₀)
 *   V   ← m V + A
 *   F   ← F − η V                  (heavy ball)
 *   F   ← F − η (A + m V)          (Nesterov)
 * with the batches of ttp_batch_indices, the same as `ttp train`.  So the
 * simulation needs only Θ (or its eigenpairs), F₀, u₀ and the labels.
 */
#ifndef TTP_SIM_H
#define TTP_SIM_H

#include "ttp_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Θ as an operator.  Either dense (NC × NC row-major, symmetric) or in
 * eigen form Θ ≈ V diag(vals) Vᵀ with V (NC × k) row-major, orthonormal
 * columns.  Arrays are borrowed.
 */
typedef struct ttp_theta {
    int64_t n;           /* samples N                                 */
    int c;               /* outputs C                                 */
    const double *dense; /* NC × NC, or NULL for the eigen form        */
    int64_t k;           /* eigen form: number of pairs                */
    const double *vecs;  /* NC × k                                     */
    const double *vals;  /* k eigenvalues of Θ (not divided by N)     */
} ttp_theta;

/*
 * out = Θ[:, columns of the samples] v.
 *   samples  ns sample indices (NULL: all N samples in order, ns = N)
 *   v        ns·C values, sample-major in the order of `samples`
 *   out      NC values, overwritten
 * Cost: dense O(NC·ns·C); eigen O(ns·C·k + NC·k).
 */
ttp_status ttp_theta_apply(ttp_ctx *ctx, const ttp_theta *th, const int64_t *samples, int64_t ns,
                           const double *v, double *out);

typedef struct ttp_sim_problem {
    const ttp_theta *theta;
    int64_t n;
    int c;
    const double *f0;      /* NC outputs at w₀                       */
    const double *u0;      /* NC values J w₀ (weight decay); may be NULL when λ = 0 */
    const int *labels;     /* N labels, or NULL                      */
    const double *targets; /* N × C real targets when no labels      */
} ttp_sim_problem;

typedef struct ttp_sim_opts {
    int ensemble;            /* M ≥ 1 trajectories (SGD)                 */
    uint64_t seed;           /* 0: member m uses batch seed opt.seed + m */
    double band_lo, band_hi; /* quantiles of the band (0.05, 0.95)    */
} ttp_sim_opts;

/* Curves at steps 0..T: mean over members and the band quantiles. */
typedef struct ttp_curves {
    int64_t steps;                    /* T                                       */
    int members;                      /* M                                       */
    double *loss, *loss_lo, *loss_hi; /* T+1 each                      */
    double *acc, *acc_lo, *acc_hi;    /* T+1 each (NaN without labels) */
    double *member_loss, *member_acc; /* M × (T+1)                     */
    int diverged;                     /* members whose loss became non-finite    */
} ttp_curves;

ttp_status ttp_curves_create(ttp_ctx *ctx, int64_t steps, int members, ttp_curves **out);
void ttp_curves_destroy(ttp_curves **c);
/* Fill mean and band from the member curves (the band at each step:
 * ttp_quantile, LINEAR, of the members' values). */
void ttp_curves_summarize(ttp_curves *c, double band_lo, double band_hi);

/*
 * Simulate the linearized training (rank 0; not collective).  Full batch:
 * one deterministic trajectory.  SGD: M trajectories in lockstep; member m
 * draws its batches with seed opt->seed + m (member 0 repeats the batch
 * sequence of `ttp train --seed opt->seed`).  A member whose loss becomes
 * non-finite stops; its remaining points are +inf and `diverged` counts it.
 */
ttp_status ttp_sim_run(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *opt, const ttp_sim_opts *so,
                       ttp_curves **out);

/*
 * Ensemble member 0's linearized weights at a few steps, carried along the
 * simulation (docs/METHOD.md §6b): at step[i] the outputs F (NC), the
 * cotangent a (NC) and the decay coefficient c of w_t = w₀ + Jᵀ a + c w₀,
 * and the loss, as ttp_faith_trace computes them with a second simulation
 * (equal to rounding; bit for bit where member 0 runs the same products,
 * i.e. full batch).  Points after a non-finite loss are NaN.  The arrays
 * are the caller's: f_lin and a npts × NC, c and loss npts.
 */
#define TTP_SIM_TRACE_MAX 4
typedef struct ttp_sim_trace {
    int npts;                        /* 0..TTP_SIM_TRACE_MAX           */
    int64_t step[TTP_SIM_TRACE_MAX]; /* ascending, in 0..T             */
    double *f_lin, *a, *c, *loss;
} ttp_sim_trace;

/* ttp_sim_run that also fills tr (NULL: none).  Rank 0; not collective. */
ttp_status ttp_sim_run_traced(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *opt,
                              const ttp_sim_opts *so, ttp_sim_trace *tr, ttp_curves **out);

/*
 * S settings at once: opts[s] may differ in the learning rate, momentum,
 * Nesterov flag and weight decay, and must share the loss, batch size,
 * steps and seed (TTP_ERR_ARG otherwise).  On the eigen form the settings'
 * ensemble members advance together, S·M columns a step: one DGEMM over V
 * for all of them (V read once a step, not S·M times) and, for SGD, each
 * batch's rows of V read once for the S settings that share it (member m
 * draws the same batches in every setting).  out[s] (S curves) and tr[s]
 * (tr, or any tr[s], may be NULL) are what ttp_sim_run_traced gives for
 * opts[s], to rounding: only the order of the sums in the products differs.
 * The dense form runs each setting on its own.  Memory 3·S·M·NC + K·S·M
 * doubles.  Rank 0; not collective.
 */
ttp_status ttp_sim_run_many(ttp_ctx *ctx, const ttp_sim_problem *p, int S, const ttp_opt *opts,
                            const ttp_sim_opts *so, ttp_sim_trace *const *tr, ttp_curves **out);

/*
 * Closed form of full-batch GD with MSE on the spectrum:
 *   L_t = (1/2N) Σ_k (1 − η μ_k)^{2t} p_k² + rest
 * mu: eigenvalues of Θ/N; p: Vᵀ(F₀ − Y); rest: constant loss from the
 * residual outside the k modes.  loss receives T+1 values.
 */
ttp_status ttp_sim_gd_mse_closed(ttp_ctx *ctx, const double *mu, const double *p, int64_t k, int64_t n,
                                 double lr, int64_t steps, double rest, double *loss);

/*
 * Eigenbasis SDE (MSE) for when only a spectrum is known: per mode
 *   z_k ← z_k − η u_k,  u_k ← m u_k + μ_k z_k + λ-term + ξ_k
 * with ξ_k Gaussian, Var ξ_k = s · (N−B)/(B(N−1)) · μ_k² · ‖r‖²/C, the
 * diagonal of the minibatch covariance for eigenvectors spread evenly over
 * the samples (docs/METHOD.md; validated in tests/test_sde.c against the
 * exact minibatch simulation).  `noise_scale` is s (1 by default).
 * Loss = (1/2N) Σ z_k² + rest.  Accuracy is NaN.  Weight decay is not
 * modelled here (TTP_ERR_UNSUPPORTED).
 */
ttp_status ttp_sim_sde(ttp_ctx *ctx, const double *mu, const double *p, int64_t k, int64_t n, int c,
                       const ttp_opt *opt, const ttp_sim_opts *so, double rest, double noise_scale,
                       ttp_curves **out);

/*
 * Cross-entropy on a spectrum (docs/METHOD.md §9).  The CE step is not linear
 * in F, so a spectrum alone cannot run it; what a spectrum does give is how
 * fast the loss gradient's modes decay.  Near F₀ the CE gradient moves as
 * g ← (I − η κ Θ/N) g with κ the softmax curvature; the "progress" of a
 * dynamics is its gradient energy S(t)/S(0), from the MSE machinery run on
 * the projections of g₀ at learning rate η κ.  The CE curves simulated
 * exactly on the measured kernel (size N₀) are then re-timed: the curve at
 * N′ at step t is the measured one at the (fractional) step τ(t) where the
 * N₀ progress equals the N′ progress at t.  The CE nonlinearity is thus
 * taken from the exact simulation and only the time scale from the spectrum.
 */

/*
 * κ = Σᵢ gᵢᵀ Hᵢ gᵢ / Σᵢ ‖gᵢ‖²: the curvature of the mean CE loss along its
 * own gradient at F (N × C), Hᵢ = diag(pᵢ) − pᵢpᵢᵀ, pᵢ = softmax(Fᵢ),
 * gᵢ = pᵢ − e_{yᵢ}.  In (0, ½]; 1/C for uniform pᵢ.  0 when every gᵢ is 0.
 */
double ttp_sim_ce_curvature(const double *f, const int *labels, int64_t n, int c);

/*
 * Re-time curves: out (steps T) at step t is src at τ(t), the first
 * (linearly interpolated) step at which the running minimum of s0 (src's
 * progress, src->steps + 1 values) falls to s1(t)/s1(0) · s0(0), with s1
 * the target progress (T + 1 values; its running minimum is used, so τ
 * never decreases).  Mean, band and every member are interpolated at τ.
 * Steps whose τ would lie past src->steps take src's last value; *clamped
 * (may be NULL) receives how many there were.
 */
ttp_status ttp_curves_warp(ttp_ctx *ctx, const ttp_curves *src, const double *s0, const double *s1,
                           int64_t steps, ttp_curves **out, int64_t *clamped);

/* ---- training time -------------------------------------------------------- */
typedef enum {
    TTP_TT_EPS = 0, /* |L_t − L_T| < ε   (mean loss)            */
    TTP_TT_REL,     /* L_t − L_T ≤ ε (L_0 − L_T)                */
    TTP_TT_LOSS,    /* L_t ≤ ε                                 */
    TTP_TT_ACC,     /* accuracy_t ≥ ε                           */
    TTP_TT_KIND_COUNT
} ttp_tt_kind;

const char *ttp_tt_kind_str(ttp_tt_kind k);

typedef struct ttp_tt_def {
    ttp_tt_kind kind;
    double value;
    int smooth; /* trailing moving average over this many steps (1: none) */
} ttp_tt_def;

/*
 * Training time of a curve (T+1 points): the first step from which the
 * (smoothed) criterion holds at every later step up to T, or −1 if it does
 * not hold at T.  "Holds from then on" rather than "first crossing" makes
 * the time robust to a noisy SGD curve dipping below the threshold early.
 * The same function measures real and predicted curves.
 */
int64_t ttp_ttime(const ttp_tt_def *def, const double *loss, const double *acc, int64_t steps);
/*
 * The same time on the curve without its one-step excursions: loss and
 * accuracy replaced by their 3-step running median (the first and last
 * points kept), so that one batch's spike or dip cannot decide it
 * (docs/METHOD.md §6f).  acc may be NULL.  Not collective.
 */
ttp_status ttp_ttime_despiked(ttp_ctx *ctx, const ttp_tt_def *def, const double *loss, const double *acc,
                              int64_t steps, int64_t *t);

/*
 * Parse a training-time kind ("eps", "rel", "loss", "acc") or a whole
 * definition "KIND:VALUE" (smooth set to 1).  Values are checked: eps > 0,
 * 0 <= rel < 1, loss finite, 0 <= acc <= 1.  TTP_ERR_ARG names the text and
 * what was expected.
 */
ttp_status ttp_tt_kind_parse(ttp_ctx *ctx, const char *s, ttp_tt_kind *out);
ttp_status ttp_tt_def_parse(ttp_ctx *ctx, const char *s, ttp_tt_def *out);

/*
 * Training time of an ensemble with its band (rank 0; not collective):
 *   *t       ttp_ttime of the MEAN curve (what the report's curve shows)
 *   *t_lo/hi the band_lo / band_hi quantiles (ttp_quantile's nearest
 *            rank, index floor(q (M−1) + ½) of the sorted times) of the
 *            members' own training times.
 * A member that never meets the criterion within T counts as T + 1
 * ("later than the budget") so that it widens the band honestly; a band
 * end that lands there is returned as −1.  With one member t_lo = t_hi = t.
 * Accuracy kinds use cv->acc / member_acc.  TTP_ERR_ARG for a bad band.
 */
ttp_status ttp_ttime_band(ttp_ctx *ctx, const ttp_tt_def *def, const ttp_curves *cv, double band_lo,
                          double band_hi, int64_t *t, int64_t *t_lo, int64_t *t_hi);

/* ---- validity ---------------------------------------------------------------
 *
 * Along an eigen-direction of Θ/N with eigenvalue μ the linearized step
 * multiplies the error by the roots of a fixed recurrence in h = η (κ μ + λ)
 * (κ: the loss's curvature in function space, 1 for MSE, at most ½ for
 * cross-entropy, the largest eigenvalue of the softmax Hessian; λ: weight
 * decay).  It is stable exactly while
 *   plain GD     h < 2
 *   heavy ball   h < 2 (1 + m)            (roots of x² − (1 + m − h) x + m)
 *   Nesterov     h < 2 (1 + m)/(1 + 2m)    (roots of x² − (1 + m)(1 − h) x + m(1 − h))
 * η_eff = η/(1 − m) is the rate at which SLOW modes (h ≪ 1) decay, which
 * is what sets the training time, but it is not the stability limit: with
 * m = 0.9 the linear model diverges only at η κ μ_max = 3.8, not 0.2.
 */

/*
 * η (κ μ_max + λ) divided by the limit above for opt's momentum form: < 1
 * stable, > 1 the linearized model diverges (the prediction is then
 * meaningless; callers warn).  mu_max is the top eigenvalue of Θ/N.
 * Checked in tests/test_sim.c against ttp_sim_run just below and above 1.
 */
double ttp_sim_stability(const ttp_opt *opt, double mu_max);
/* The largest learning rate with ttp_sim_stability(opt, mu_max) < 1 (that
 * limit itself); opt->lr is ignored. */
double ttp_sim_stability_lr(const ttp_opt *opt, double mu_max);

/*
 * The same number for SGD's batches.  One SGD step acts on the batch's own
 * outputs through (η/|B|) Θ_BB, whose top eigenvalue λ_max(Θ_BB)/|B| is
 * larger than μ_max for small batches (the diagonal of Θ dominates a small
 * block; at |B| = 1 it is ‖x_i‖'s kernel value), so SGD can diverge where
 * full-batch GD is stable.  This takes the first `nbatches` batches of the
 * training schedule (ttp_batch_indices with opt->seed), forms Θ_BB (dense:
 * gathered; eigen form: through the k × k matrix Λ^½ V_Bᵀ V_B Λ^½ when
 * k < |B|C) and returns the mean and the largest of
 * η (κ λ_max(Θ_BB)/|B| + λ) / limit over them.  Full batch: the exact
 * full-Θ value (one batch, Θ itself).  A value above 1 says that batch
 * overshoots on its own samples: a warning sign, not a sharp limit (SGD's
 * divergence depends on how often such batches recur; the simulation shows
 * the outcome and flags diverged members).  Cost O(nbatches·(min(|B|C, k))³)
 * plus the gathers; LAPACK dsyevr, rank 0, not collective.
 */
ttp_status ttp_sim_stability_batch(ttp_ctx *ctx, const ttp_theta *th, const ttp_opt *opt, int64_t nbatches,
                                   double *mean, double *max);
/*
 * The two halves of ttp_sim_stability_batch, for callers that price many
 * optimizers on the same batches: the top eigenvalue λ_max(Θ_BB) of each
 * batch and its size (tops, sizes: nbatches, or 1 for full batch) depend
 * only on Θ, the batch size and opt->seed; the figures then follow for any
 * learning rate, momentum and weight decay, bit for bit as
 * ttp_sim_stability_batch computes them.
 */
ttp_status ttp_sim_batch_tops(ttp_ctx *ctx, const ttp_theta *th, const ttp_opt *opt, int64_t nbatches,
                              double *tops, int64_t *sizes);
void ttp_sim_stability_tops(const ttp_opt *opt, int64_t nbatches, const double *tops, const int64_t *sizes,
                            double *mean, double *max);

#ifdef __cplusplus
}
#endif
#endif /* TTP_SIM_H */
