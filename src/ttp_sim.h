/*
 * ttp_sim.h — the linearized training dynamics in function space, the
 * training-time definitions, and the eigenbasis SDE used where only a
 * spectrum is known (docs/METHOD.md).
 *
 * Because F(w) = F₀ + J (w − w₀) is linear in w, every optimizer step maps
 * exactly to function space (DESIGN.md §2); with A_t the image under J of
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
    int ensemble;          /* M ≥ 1 trajectories (SGD)                 */
    uint64_t seed;         /* 0: member m uses batch seed opt.seed + m */
    double band_lo, band_hi; /* quantiles of the band (0.05, 0.95)    */
} ttp_sim_opts;

/* Curves at steps 0..T: mean over members and the band quantiles. */
typedef struct ttp_curves {
    int64_t steps;         /* T                                       */
    int members;           /* M                                       */
    double *loss, *loss_lo, *loss_hi; /* T+1 each                      */
    double *acc, *acc_lo, *acc_hi;    /* T+1 each (NaN without labels) */
    double *member_loss, *member_acc; /* M × (T+1)                     */
    int diverged;          /* members whose loss became non-finite    */
} ttp_curves;

ttp_status ttp_curves_create(ttp_ctx *ctx, int64_t steps, int members, ttp_curves **out);
void ttp_curves_destroy(ttp_curves **c);
/* Fill mean and band from the member curves. */
void ttp_curves_summarize(ttp_curves *c, double band_lo, double band_hi);

/*
 * Simulate the linearized training (rank 0; not collective).  Full batch:
 * one deterministic trajectory.  SGD: M trajectories in lockstep; member m
 * draws its batches with seed opt->seed + m (member 0 repeats the batch
 * sequence of `ttp train --seed opt->seed`).  A member whose loss becomes
 * non-finite stops; its remaining points are +inf and `diverged` counts it.
 */
ttp_status ttp_sim_run(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *opt,
                       const ttp_sim_opts *so, ttp_curves **out);

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

#ifdef __cplusplus
}
#endif
#endif /* TTP_SIM_H */
