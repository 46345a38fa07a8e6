/*
 * ttp_predict.h — the main job: predict the training time of fine-tuning
 * from the linearized dynamics, with its band, its wall-clock cost and its
 * validity diagnostics; and the validation of predictions against real
 * training (`ttpredict predict`, `ttpredict validate`).
 *
 * Pipeline (docs/METHOD.md):
 *   every rank   Jacobian rows of its shard → ScaLAPACK Gram + eigenpairs
 *                (ttp_kernel_build, mpi/ttp_gram.h)
 *   rank 0       linearized dynamics in function space (ttp_sim_run on
 *                Θ = V Λ Vᵀ), ensemble band, training times
 *                (or, with a subset, power-law fits and extrapolation)
 *   every rank   a few timed real steps → seconds per step → wall-clock
 */
#ifndef TTP_PREDICT_H
#define TTP_PREDICT_H

#include "ttp_fit.h"
#include "ttp_kbuild.h"
#include "ttp_sim.h"
#include "ttp_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* relin_every = TTP_RELIN_AUTO: segment lengths chosen so that the real
 * network stays within TTP_RELIN_AUTO_GAP of each segment's linear model
 * (half the validity limit TTP_FAITH_OUT_GAP; docs/METHOD.md §6c). */
#define TTP_RELIN_AUTO (-1)
#ifndef TTP_RELIN_AUTO_GAP
#define TTP_RELIN_AUTO_GAP 0.15
#endif
/* ... where the real network's loss there is within this fraction of the
 * linear model's (at the end, at steps 1, 2, 4, ... and at the
 * TTP_RELIN_CHECK_PARTS-th parts), and where the kernel's action on the loss
 * gradient at the segment's end has moved by at most TTP_RELIN_AUTO_DRIFT
 * from the segment's own kernel (drift.c); a prediction whose segments pass
 * twice the loss gap is warned (docs/METHOD.md §6c). */
#ifndef TTP_RELIN_AUTO_LOSS_GAP
#define TTP_RELIN_AUTO_LOSS_GAP 0.15
#endif
#define TTP_RELIN_CHECK_PARTS 4
#ifndef TTP_RELIN_AUTO_DRIFT
#define TTP_RELIN_AUTO_DRIFT 0.2
#endif
/* Auto never builds more than this many linearizations (the first included):
 * at the cap the rest of the horizon is one segment, and its measured gap
 * widens the band and decides validity (docs/METHOD.md §6c). */
#define TTP_RELIN_MAX_SEGMENTS 32
/* ... and the real-output automatic segments (§6c, the fallback of §6e) no
 * more than this many: past the stability limit and with heavy momentum
 * they need one- to few-step segments through the catapult (measured on
 * the accuracy grid: at 32 19 cases stopped at the cap with the last
 * segment 30-165 % off, docs/METHOD.md §6e). */
#define TTP_RELIN_REAL_MAX_SEGMENTS 64
/* The segment-halving check (docs/METHOD.md §6g): real-output automatic
 * segments that end under the cap are redone with their three targets
 * halved (and the cap doubled); where a training time moves by more than
 * this fraction of the finer one, the segments had not resolved the
 * dynamics and the finer prediction is the one reported (bc MLP, MSE GD
 * m 0.9 at stability 1.2: 22/27/37 steps became the real 9/15/21).  5 %,
 * not the 15 % it was: with heavy momentum the times can stall between
 * two coarse levels far from the converged one (wine MLP at seed 21, MSE
 * GD m 0.9 at 1.2: 34 steps, halved 32, a quarter 21, the real 21). */
#define TTP_RELIN_HALVING_TOL 0.05
/* ... and the finer prediction checked the same way, at most this many
 * halvings in all (§6g). */
#define TTP_RELIN_HALVING_LEVELS 2
/* The momentum cross-check (§6h): invalid real-output restarts keep a
 * valid function-space prediction whose times are all within this
 * fraction of theirs. */
#define TTP_RELIN_CROSSCHECK_TOL 0.15
/* With heavy-ball or Nesterov momentum the real-output automatic segments
 * start at this times their targets (and the cap at 1/it times its count):
 * the velocity carries each segment's error into the next ~1/(1 − m) steps,
 * so segments that each meet the targets can still add up to a slow
 * prediction (wine MLP at seed 21, MSE GD m 0.9 at stability 0.3: 12 and
 * 32 segments both 16/21/29, 85 segments the real 14/19/25; §6g). */
#define TTP_RELIN_MOMENTUM_SCALE 0.5
/* At the cap, a last segment whose linear loss ends this many times above
 * its start has a mode past the stability limit growing, which real
 * training does not follow; its times, measured against the loss at T,
 * follow it instead, so the prediction is invalid (§6k). */
#define TTP_RELIN_CAP_RISE 2.0
/* relin_kernel with relin_every = TTP_RELIN_AUTO: this many segments of
 * equal length (docs/METHOD.md §6d: measured against the real runs). */
#define TTP_RELIN_KERNEL_SEGMENTS 5
/* ... starting at a quarter of that length, halved (and the kernel rebuilt)
 * while tr Θ of the new kernel differs from the previous one's by more than
 * this factor, doubled (up to T / TTP_RELIN_KERNEL_SEGMENTS) where it changed
 * by less than its square root; at most TTP_RELIN_MAX_SEGMENTS
 * linearizations. */
#define TTP_RELIN_KERNEL_RATIO 2.0
/* Midpoint kernels (§6d): the prediction is marked uncertain where using the
 * kernels half a segment late moves a training time by more than this: twice
 * the tolerances of 13 % (GD) and 20 % (SGD), because the lagged run is a
 * first-order scheme whose difference overstates the midpoint run's own
 * error (measured against the real runs, docs/METHOD.md §6d). */
#define TTP_RELIN_SENS_GD 0.26
#define TTP_RELIN_SENS_SGD 0.40
/* Re-linearized predictions (for SGD one trajectory, member 0): a time that
 * moves by more than this fraction when the curve's one-step excursions are
 * removed is decided by a single batch or step, and warned (docs/METHOD.md
 * §6f) */
#define TTP_SPIKE_LIMIT 0.2
/* The batch-order check (docs/METHOD.md §6j): a valid re-linearized SGD
 * prediction whose per-batch stability figure passes 2 (single batches
 * overshoot the linear limit) is redone with the batches of ensemble
 * member 1; times further apart than this fraction of the larger (and more
 * than one step) depend on the batch order, as the real run's do (bc MLP,
 * MSE at stability 2.5: rel 0.05 at 6 to 114 steps over six seeds). */
#define TTP_ORDER_TOL 0.3
/* ttp_predict_opts.relin_kernel: where the segments run */
#define TTP_RELIN_REAL 0   /* restart from the real network's outputs (§6c)   */
#define TTP_RELIN_KERNEL 1 /* in function space, kernels swapped (§6d)       */
#define TTP_RELIN_BOTH 2   /* function space; where that prediction is invalid
                              (a blow-up, the kernel changing too fast, or the
                              stability guard), real-output restarts (§6e)   */
#define TTP_MAX_TT 8            /* training-time definitions per prediction */
#define TTP_MAX_ENSEMBLE 100000 /* simulated trajectories per prediction  */
#define TTP_MAX_EXTRAP 16       /* extrapolation targets                    */

/* Option subset = TTP_SUBSET_AUTO: the kernel on a subset where the rule of
 * ttp_predict_subset_auto takes one, else on the whole set (predict only). */
#define TTP_SUBSET_AUTO (-1)
/* The rule's N0 = max(TTP_SUBSET_AUTO_BATCHES·|B|, ⌊N/TTP_SUBSET_AUTO_DIV⌋),
 * taken when N0 <= N/2 (⌊N/2⌋: the headline time and the final loss stay
 * within the projection's own seed-to-seed spread on the bundled and wide
 * tasks; ⌊N/3⌋ moved the final loss by 7-8 %). */
#define TTP_SUBSET_AUTO_BATCHES 5
#define TTP_SUBSET_AUTO_DIV 2

/* How the seconds per step are found: a probe of two small batches and the
 * cost model of the network (ttp_train_step_model; a few percent of one
 * step), or real full steps timed (ttp_train_time_step). */
typedef enum { TTP_STEP_TIMING_MODEL = 0, TTP_STEP_TIMING_MEASURE = 1 } ttp_step_timing;
/* "model", "measure"; and back (TTP_ERR_ARG naming the word and the choices). */
const char *ttp_step_timing_str(int t);
ttp_status ttp_step_timing_parse(ttp_ctx *ctx, const char *s, int *out);
/* How the measured dynamics get Θ (docs/METHOD.md §2).  EIGEN: the full
 * eigen-decomposition, dynamics on V Λ Vᵀ (what extrapolation, the closed
 * form and a reused kernel need).  DIRECT: Θ itself on rank 0, the
 * dynamics as products with it, and only the top TTP_PREDICT_DIRECT_K
 * pairs by Lanczos (μ_max, the report's spectrum and fits).  AUTO: the one
 * with fewer flops (ttp_predict_path). */
typedef enum { TTP_DYN_AUTO = 0, TTP_DYN_EIGEN, TTP_DYN_DIRECT } ttp_dyn_path;
const char *ttp_dyn_path_str(ttp_dyn_path p);
/* Top eigenpairs the direct path computes (Lanczos). */
#define TTP_PREDICT_DIRECT_K 32

typedef struct ttp_predict_opts {
    ttp_opt opt;            /* optimizer settings, as for `train`            */
    ttp_kernel_opts kernel; /* projection, backend, block, top-k, provenance */
                            /*   (model_path, data_path) of the kernel stage */
    ttp_sim_opts sim;       /* ensemble size, seed, band quantiles          */
    int ntt;                /* training-time definitions; tt[0] headlines   */
    ttp_tt_def tt[TTP_MAX_TT];
    const char *kernel_in;  /* reuse a kernel file (provenance checked)     */
    const char *kernel_out; /* also write the kernel                        */
    int64_t subset;         /* N0 < N: kernel on a stratified subset, then  */
                            /*   (TTP_SUBSET_AUTO: ttp_predict_subset_auto) */
    int nextrap;            /*   extrapolate to these sizes (N if none)     */
    int64_t extrap[TTP_MAX_EXTRAP];
    int time_reps;         /* real steps timed for wall-clock (0: skip)    */
    int step_timing;       /* TTP_STEP_TIMING_MODEL (probe + cost model) or
                            TTP_STEP_TIMING_MEASURE (time_reps full steps) */
    int64_t relin_every;   /* K > 0: re-linearize every K steps (momentum
                                 carried, SGD along member 0; docs/METHOD.md
                                 §6c); 0: off                                 */
    ttp_dyn_path dynamics; /* eigen, direct or auto (the default)          */
    int relin_kernel;      /* TTP_RELIN_KERNEL: re-linearize in function
                              space (the linear model's outputs carried, only
                              the kernel rebuilt, at each segment's midpoint;
                              relin_every K steps or TTP_RELIN_AUTO for
                              TTP_RELIN_KERNEL_SEGMENTS segments;
                              relin_kernel.c, docs/METHOD.md §6d);
                              TTP_RELIN_BOTH (relin_every TTP_RELIN_AUTO):
                              that, then real-output restarts where it is
                              invalid (§6e); TTP_RELIN_REAL (0): §6c       */
    int64_t faith_kgap_samples; /* the kernel gap's J Δw on about this many
                                   samples, every ⌈N / it⌉-th (default
                                   TTP_FAITH_KGAP_SAMPLES; ≤ 0: all)       */
    double relin_scale;         /* real-output auto segments: their targets
                                   (TTP_RELIN_AUTO_GAP, _LOSS_GAP, _DRIFT)
                                   times this (in (0, 1]; 0: 1), and with
                                   momentum TTP_RELIN_MOMENTUM_SCALE too   */
    int relin_halving;          /* real-output auto segments: 1 (default)
                                   redo them at half the targets and report
                                   that where the times differ by more than
                                   TTP_RELIN_HALVING_TOL (§6g); 0: not     */
    int relin_crosscheck;       /* TTP_RELIN_BOTH with momentum: 1 (default)
                                   a valid function-space prediction is
                                   cross-checked by real-output restarts
                                   (ttp_relin_crosscheck_outcome, §6h); 0: it
                                   is the answer, as before                */
    int relin_rise_cut;         /* real-output auto, full-batch GD without
                                   momentum: a segment ends before its linear
                                   loss rises (§6k); 1 (default) or 0      */
    int relin_order_check;      /* re-linearized SGD past per-batch stability
                                   2: 1 (default) redo it with another batch
                                   order and warn where the times differ
                                   (ttp_relin_order_agree, §6j); 0: not    */
    int dproj_raise;            /* times D′ may be raised TTP_DPROJ_FACTOR-fold
                                   where the kernel gap reaches
                                   TTP_FAITH_KGAP_NAMED (§6l);
                                   TTP_DPROJ_RAISE_AUTO (default):
                                   TTP_DPROJ_RAISES with the automatic
                                   projection (proj auto, dproj 0), else 0  */
} ttp_predict_opts;

/*
 * The dynamics path for options o on a model of d trainable weights and a
 * dataset of n samples (every rank alike; not collective): EIGEN where
 * the direct path cannot serve (a reused kernel, a subset or
 * extrapolation, re-linearization, a truncated spectrum asked by top_k),
 * else o->dynamics, and for AUTO the path with fewer estimated flops
 * (*fe, *fd; either may be NULL):
 *   m = min(NC, D′), T steps, M members (1 for full batch), b = |B|·C
 *   eigen   m²·max(NC, D′) (Gram) + 4m³ (all eigenpairs) [+ 2·NC·D′·m:
 *           Θ's vectors from the D′ side] + T·M·(2bm + 2·NC·m)
 *   direct  NC²·D′ (Θ) + 2·NC²·(4K + 40) (Lanczos, K pairs) + T·M·2b·NC
 * (both 0 with a reused kernel).  TTP_ERR_UNSUPPORTED when DIRECT is asked
 * where it cannot serve.
 */
ttp_status ttp_predict_path(ttp_ctx *ctx, const ttp_predict_opts *o, int64_t d, int64_t n, int c,
                            ttp_dyn_path *out, double *fe, double *fd);

/*
 * The automatic subset (option subset = TTP_SUBSET_AUTO) for options o on a
 * dataset of n samples: SGD (|B| < N) is priced by T·|B| sample passes while
 * the kernel costs N·(1 + C) and more, so for large N the kernel is built on
 * N0 = max(5·|B|, ⌊N/2⌋) stratified samples and the prediction extrapolated
 * to N (docs/large-n.md), when N0 <= N/2 (N >= 10·|B|).  Returns N0, or 0
 * (the whole set) with the reason in why (size len) when the rule does not
 * apply: full batch, N below 10·|B|, weight decay, re-linearization, a
 * reused kernel, the direct dynamics or a truncated spectrum asked for.
 * Measured (benchmarks/README.md): at N = 750, |B| = 50 (N0 = 375) the
 * headline time and the final loss are within 1 % of the whole-set
 * kernel's on the bundled and wide tasks, but the extrapolated prediction
 * has no faithfulness check and a narrower SGD noise band: hence opt-in,
 * not the default.
 */
int64_t ttp_predict_subset_auto(const ttp_predict_opts *o, int64_t n, char *why, size_t len);

/* Defaults (what `ttpredict predict` uses): the ttp_opt defaults, the
 * ttp_kernel_opts defaults but with the automatic projection (TTP_PROJ_AUTO:
 * kron at D′ = 1024 for a model of more than 2048 trainable weights, else
 * exact) and the eigenvectors kept, ensemble 16, band 5–95 %, one definition
 * (TTP_TT_REL 0.05 of the loss drop), the step-time model from a probe
 * timed 5 times. */
void ttp_predict_opts_default(ttp_predict_opts *o);
/* Check every option against a dataset of n samples (the kernel's options
 * with ttp_kernel_opts_validate), naming the field (e.g. "option lr"). */
ttp_status ttp_predict_opts_validate(ttp_ctx *ctx, const ttp_predict_opts *o, int64_t n);

typedef struct ttp_tt_result {
    ttp_tt_def def;
    int64_t steps, lo, hi;      /* predicted training time and its band; -1 = not reached by T */
    int64_t noise_lo, noise_hi; /* the band of batch noise alone, before the model
                                   uncertainty was added (ttp_predict_faith)     */
} ttp_tt_result;

/* A prediction at one dataset size. */
typedef struct ttp_pred_curve {
    int64_t n;          /* dataset size                                  */
    int extrapolated;   /* 1: from the fitted spectrum, 0: measured Θ    */
    ttp_curves *curves; /* loss/accuracy mean and band at steps 0..T     */
    int ntt;
    ttp_tt_result tt[TTP_MAX_TT];
    double wall, wall_lo, wall_hi; /* seconds: tt × seconds per step         */
} ttp_pred_curve;

/*
 * Faithfulness of the linearization, measured (docs/METHOD.md §6b): at a few
 * steps t of the predicted trajectory (ensemble member 0, the batches of the
 * real run) the real network is evaluated at the linearized weights
 * w_t = w₀ + Jᵀ a_t + c_t w₀ and compared with the linear model there.
 */
#define TTP_FAITH_MAX 4
/* The kernel gap (J Δw by central differences: two forwards per point) is
 * measured by default on about this many samples, every ⌈N / it⌉-th. */
#define TTP_FAITH_KGAP_SAMPLES 128
typedef struct ttp_faith {
    int npoints; /* 0: not measured (see note)                */
    int64_t step[TTP_FAITH_MAX];
    double loss_lin[TTP_FAITH_MAX];       /* linearized loss at step t             */
    double loss_real[TTP_FAITH_MAX];      /* real network's loss at w_t             */
    double out_gap[TTP_FAITH_MAX];        /* ‖F(w_t) − F_lin,t‖ / ‖F_lin,t − F₀‖   */
    double loss_gap[TTP_FAITH_MAX];       /* (L_lin,t − L(w_t)) / (L₀ − L_lin,t)   */
    double kernel_gap[TTP_FAITH_MAX];     /* ‖F₀ + J Δw_t − F_lin,t‖ / ‖F_lin,t − F₀‖:
                                         the projected kernel's share, on the
                                         opts' faith_kgap_samples          */
    double dw_rel[TTP_FAITH_MAX];         /* ‖Δw_t‖ / ‖w₀‖ (trainable part)         */
    double worst_out_gap, worst_loss_gap; /* largest |·| over the points       */
    double band_widen;                    /* u: band ends scaled by (1 − u), (1 + u) */
    int invalidated, valid_before;        /* this check made it invalid; validity before */
    size_t warn_at;                       /* where its text starts in the warning     */
    int64_t relin_every, segments;        /* re-linearization (0: none; TTP_RELIN_AUTO) */
    int64_t relin_trials;                 /* segment lengths tried (auto: > segments) */
    double seg_out_gap;                   /* worst output gap at a segment's end      */
    double seg_loss_gap;                  /* real-output auto: worst |L(w) − L_lin| / L_lin
                                             at a multi-step segment's points          */
    double seg_drift;                     /* real-output auto: worst kernel drift at a
                                             multi-step segment's end (drift.c)       */
    int relin_capped;                     /* auto reached its cap of linearizations   */
    int64_t cap_start;                    /* ... where its last segment starts (-1)   */
    int cap_late;                         /* §6k: every time before that segment, whose
                                             output gap alone was past the limit, so
                                             it did not decide the verdict            */
    double cap_gap;                       /* ... that gap                              */
    double cap_rise;                      /* ... its loss at T over its loss at its start
                                             (invalid past TTP_RELIN_CAP_RISE)         */
    double relin_scale;                   /* real-output auto: targets' scale used    */
    int relin_halving;                    /* §6g: 0 not run, 1 the halved targets'
                                             times agreed (this prediction kept),
                                             2 they did not (theirs reported); of
                                             the last pair compared               */
    int64_t halving_tt[TTP_MAX_TT];       /* the other run's times (1: the halved
                                             targets'; 2: the original targets')     */
    int64_t halving_segments;             /* ... and its segments                     */
    int halving_levels;                   /* halvings run (≤ TTP_RELIN_HALVING_LEVELS) */
    int relin_crosscheck;                 /* §6h: 0 not run, else the outcome of
                                             ttp_relin_crosscheck_outcome            */
    int64_t crosscheck_tt[TTP_MAX_TT];    /* the other mode's times (1, 3: the
                                             function space's; 2: the real-output
                                             restarts')                             */
    double relin_seconds;                 /* the re-linearization's own cost          */
    double kdrift[TTP_FAITH_MAX];         /* ‖Θ(w_t) g − Θ(w₀) g‖ / ‖Θ(w₀) g‖ (drift.c) */
    double krate[TTP_FAITH_MAX];          /* gᵀ Θ(w_t) g / gᵀ Θ(w₀) g                   */
    double worst_kdrift, kdrift_seconds;
    int relin_kernel;                 /* the segments ran in function space (§6d)  */
    int relin_fallback;               /* TTP_RELIN_BOTH: 1 when the function-space
                                         prediction was invalid and real-output
                                         restarts made this one (§6e)              */
    char relin_fallback_why[160];     /* what made the function-space one invalid  */
    int order_check;                  /* §6j: 0 not run, 1 the other batch order's
                                         times agreed, 2 they did not (warned)     */
    int64_t order_tt[TTP_MAX_TT];     /* ... its times                              */
    uint64_t order_seed;              /* ... its member-0 batch seed                */
    int relin_figures;                /* function space: the w0 linearization was
                                         invalid on its stability figures alone and
                                         the stitched trajectory, bounded, stands (§6i) */
    double relin_sens;                /* largest |t_lag − t| / t over definitions  */
    int64_t relin_tt_lag[TTP_MAX_TT]; /* the lagged companion run's times           */
    int spike_checked;                /* re-linearized: the check below ran         */
    int spike;                        /* definitions whose time a one-step excursion
                                         of the curve decides (§6f)                 */
    int64_t spike_tt[TTP_MAX_TT];     /* the times on the curve without one-step
                                         excursions (its 3-step running median)     */
    double seconds;
    char note[160];
} ttp_faith;

/* Bytes of a prediction's warning, its terminator included; a case of
 * validate keeps a copy of the same size. */
#define TTP_WARNING_MAX 2048

typedef struct ttp_prediction {
    int64_t n, n_kernel; /* dataset size; samples in the kernel (subset)  */
    int c;
    int64_t d, dproj;
    ttp_pred_curve main; /* at N (extrapolated from N0 when subset < N)   */
    int nextrap;
    ttp_pred_curve extrap[TTP_MAX_EXTRAP];
    ttp_kernel *kernel; /* rank 0: spectrum, projections (owned)         */
    int have_fit;
    ttp_powerlaw fit_mu, fit_p; /* spectrum and residual-energy power laws   */
    double ce_kappa;            /* cross-entropy extrapolation: softmax curvature κ at F₀ (0 otherwise) */
    int64_t ce_clamped;         /* steps whose re-timing ran past the measured horizon */
    double mu_max;              /* top eigenvalue of Θ/N                          */
    double stability;           /* ttp_sim_stability: > 1 means the linear model diverges */
    double batch_stab_mean, batch_stab_max; /* ttp_sim_stability_batch (SGD; 0 otherwise) */
    double lr_stable_full;                  /* largest stable lr, full batch (ttp_sim_stability_lr) */
    double lr_stable;                       /* largest stable lr of this optimizer: the full-batch
                                               limit, or for SGD the lr at which the mean per-batch
                                               stability reaches 1 when that is lower             */
    double growth;                          /* largest predicted loss (mean or band) over L₀ */
    int blowup; /* the guard measured a blow-up (growth past L₀, a non-finite loss, a diverged member),
                   as opposed to the stability figures, which only bound the linear recurrence */
    ttp_faith faith;                        /* measured faithfulness (ttp_predict_faith)     */
    int valid;                              /* 0: outside the regime where the method holds  */
    char warning[TTP_WARNING_MAX];
    double sec_per_step;       /* at the requested batch size (model or measured) */
    int step_timing;           /* how it was found (ttp_step_timing); -1: not at all */
    ttp_step_model step_model; /* the fitted model (step_timing MODEL)    */
    double sec_kernel, sec_sim, sec_timing, seconds;
    ttp_dyn_path path;                /* the dynamics path that ran (never AUTO)   */
    int subset_auto;                  /* option subset auto: 1 took N0, -1 kept N   */
    char subset_why[128];             /* the rule, or why it kept the whole set     */
    double flops_eigen, flops_direct; /* ttp_predict_path's estimates (0: not asked) */
    int nranks;
    ttp_sim_trace *faith_trace; /* member 0 at the faithfulness points, carried by the
                                   dynamics; owned, consumed by ttp_predict_faith (NULL after) */
    int dproj_raises;           /* times D′ was raised (ttp_predict_dproj_raise, §6l) */
    int64_t dproj_first;        /* ... the first kernel's D′ (0: not raised)          */
    double dproj_first_kgap;    /* ... and its worst kernel gap, which raised it      */
    double sec_dproj;           /* ... seconds of the raised kernels and their checks */
    char dproj_note[192];       /* why D′ was not raised further, where it was wanted */
} ttp_prediction;

void ttp_prediction_destroy(ttp_prediction **p);

/*
 * What the prediction costs against the training it predicts.
 * ttp_prediction_training_seconds: the predicted wall-clock of that
 * training, to the headline time, or all T steps where the time is not
 * reached; NAN without a step time.  ttp_prediction_cost_ratio: that over
 * the prediction's own seconds (below 1: training directly would have been
 * cheaper; NAN where either is unknown).
 */
double ttp_prediction_training_seconds(const ttp_prediction *p, int64_t T);
double ttp_prediction_cost_ratio(const ttp_prediction *p, int64_t T);

/*
 * The whole prediction.  Collective over comm (every rank passes the same
 * model, data and options); rank 0 receives the full result, the other
 * ranks the scalars.  Every option is checked before any heavy work.
 */
ttp_status ttp_predict_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                           const ttp_predict_opts *o, ttp_prediction **out);

/*
 * The stages of ttp_predict_run, shared with the sweep (ttp_sweep.h), which
 * builds one kernel and runs the per-setting stage for many settings.
 *
 * ttp_predict_kernel: the kernel for o (read from o->kernel_in on rank 0
 * with its provenance checked, or built across the ranks and written to
 * o->kernel_out), on a stratified subset of o->subset samples when that is
 * smaller than N: *kdata receives that subset (owned by the caller; NULL
 * when the kernel is on all of data).  Collective; *k is NULL off rank 0
 * for a kernel read from a file.
 */
ttp_status ttp_predict_kernel(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                              const ttp_data *data, const ttp_predict_opts *o, ttp_data **kdata,
                              ttp_kernel **k);
/*
 * Seconds per optimizer step at opt's batch size: the one place that sets
 * the wall-clock scale.  how = TTP_STEP_TIMING_MODEL: the probe and cost
 * model of ttp_train_step_model (its figures in *sm when sm is not NULL);
 * TTP_STEP_TIMING_MEASURE: `reps` real steps timed by ttp_train_time_step.
 * NaN when reps is 0.  Collective.
 */
ttp_status ttp_predict_step_seconds(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                    const ttp_data *data, const ttp_opt *opt, int reps, int how,
                                    double *sec_per_step, ttp_step_model *sm);
/*
 * One setting on an existing kernel: ttp_predict_from_kernel then
 * ttp_predict_faith on kdata (the kernel's samples).  Everything `predict`
 * reports for one setting except the re-linearization.  Rank 0, not
 * collective.
 */
ttp_status ttp_predict_setting(ttp_ctx *ctx, const ttp_model *model, const ttp_data *kdata,
                               const ttp_kernel *k, const ttp_predict_opts *o, int64_t n_target,
                               double sec_per_step, ttp_prediction **out);

/*
 * The rank-0 part alone: dynamics, training times, fits and extrapolation
 * from an existing kernel (no MPI).  `validate` calls it once per grid case
 * on one kernel.  Wall-clock fields use sec_per_step as given.
 */
ttp_status ttp_predict_from_kernel(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                   int64_t n_target, double sec_per_step, ttp_prediction **out);

/*
 * What a caller simulated for several settings at once (the sweep, with
 * ttp_sim_run_many): the main curves at the kernel's N and member 0's
 * faithfulness trace, taken over by the prediction (set to NULL), and the
 * per-batch top eigenvalues of member 0's schedule (ttp_sim_batch_tops with
 * the guard's count of batches), shared by every setting with that batch
 * size and seed (nbatch 0: the guard computes them).
 */
typedef struct ttp_predict_pre {
    ttp_curves *curves;
    ttp_sim_trace *trace;
    int64_t nbatch;
    const double *tops;
    const int64_t *sizes;
} ttp_predict_pre;
/* ttp_predict_from_kernel at the kernel's N on those curves: the same
 * prediction to rounding, without simulating again.  Rank 0. */
ttp_status ttp_predict_from_sim(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                double sec_per_step, ttp_predict_pre *pre, ttp_prediction **out);
/* The guard's count of SGD batches for a batch size B of N (0: full batch). */
int64_t ttp_predict_guard_batches(int64_t n, int64_t b);

/*
 * Never a silent blow-up (called by ttp_predict_from_kernel after the
 * stability diagnostic): any non-finite predicted loss, or a mean or band
 * loss that grows past its initial value, makes the prediction invalid with
 * a message that says what to change; for SGD the per-batch stability
 * (ttp_sim_stability_batch over the first epoch's batches, at most 32) is
 * computed and reported, and a batch above its limit is a warning.  Rank 0.
 */
ttp_status ttp_predict_guard(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o, ttp_prediction *p);
/* The guard with the per-batch top eigenvalues given (nbatch of them, as
 * ttp_sim_batch_tops returns for o's batch size and member 0's seed), or
 * computed when nbatch is 0. */
ttp_status ttp_predict_guard_tops(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                  int64_t nbatch, const double *tops, const int64_t *sizes,
                                  ttp_prediction *p);

/*
 * Linearized weights without J (docs/METHOD.md §6b).  Runs the function-space
 * dynamics of ensemble member 0 (batch seed `seed`, the real run's batches)
 * and accumulates a_t ∈ ℝ^{NC} and c_t with w_t = w₀ + Jᵀ a_t + c_t w₀
 * (c_t ≠ 0 only with weight decay; w₀ the trainable part).  At the npts
 * steps `steps` (ascending, ≤ T) it stores F_lin (npts × NC), a (npts × NC),
 * c (npts) and the linear loss (npts).  Rank 0, not collective.
 */
ttp_status ttp_faith_trace(ttp_ctx *ctx, const ttp_sim_problem *prob, const ttp_opt *opt, uint64_t seed,
                           int npts, const int64_t *steps, double *f_lin, double *a, double *c, double *loss);
/*
 * One segment of a re-linearized run (docs/METHOD.md §6c): the trace starts
 * at step t_start of the batch schedule (SGD) with a carried weight-space
 * velocity v_s whose image v0 = J v_s (NC; NULL: none) is given.  Then
 *   w_t = w_s + Jᵀ a_t + c_t w_s + e v_s,   v_t = Jᵀ α_t + γ_t w_s + ε_t v_s,
 * and at the last point alpha (NC, if not NULL), gam, e, eps are returned.
 */
typedef struct ttp_faith_seg {
    int64_t t_start;    /* in: the step the segment starts at            */
    const double *v0;   /* in: J v_s (NC), or NULL for no velocity       */
    double *alpha;      /* out: α at the last point (NC), may be NULL    */
    double gam, e, eps; /* out: γ, e, ε at the last point                */
    double *v_end;      /* out: the function-space velocity V at the last
                           point (NC), may be NULL                       */
    double *e_pts;      /* out: e at every point (npts), may be NULL      */
    double *gam_pts, *eps_pts; /* out: γ, ε at every point (npts), may be NULL */
    double *alpha_pts;         /* out: α at every point (npts × NC), may be NULL */
} ttp_faith_seg;
ttp_status ttp_faith_trace_seg(ttp_ctx *ctx, const ttp_sim_problem *prob, const ttp_opt *opt, uint64_t seed,
                               ttp_faith_seg *sg, int npts, const int64_t *steps, double *f_lin, double *a,
                               double *c, double *loss);
/*
 * w = w₀ + Jᵀ a + c w₀ on the trainable weights (w: m->nparams, written),
 * by one backward pass over the data with output cotangents a (N × C): the
 * exact J at w₀, whatever projection the kernel used.  Not collective.
 */
ttp_status ttp_faith_weights(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const double *a, double c,
                             double *w);
/*
 * Measure p->faith on the kernel's own samples (skipped, with a note, when
 * the prediction is extrapolated) and let the gaps decide validity: a worst
 * output gap beyond TTP_FAITH_OUT_GAP or loss gap beyond TTP_FAITH_LOSS_GAP
 * (chosen by measurement, docs/METHOD.md §6b) makes the prediction invalid
 * with a message.  The training-time band then adds the model uncertainty to the
 * batch noise: its ends become ⌊lo (1 − u)⌋ and ⌈hi (1 + u)⌉ with u the
 * worst output gap (capped at 1), and the wall-clock band follows.  Rank 0, not collective.
 * Cost: member 0's trajectory comes with the dynamics (p->faith_trace; a
 * second simulation only without it), then one forward at w₀ per block of
 * samples for all the points' backward passes, and three forwards per point.
 */
/* The faithfulness points of a T-step run: ⌊(T+2)/4⌋, ⌊(T+1)/2⌋ and T,
 * those ≥ 1 and distinct (steps: TTP_FAITH_MAX); returns how many. */
int ttp_faith_points(int64_t T, int64_t *steps);
/* A trace of those points for NC outputs, in one block that free() releases. */
ttp_status ttp_faith_trace_alloc(ttp_ctx *ctx, int64_t T, int64_t nc, ttp_sim_trace **out);
#define TTP_FAITH_LOSS_GAP 0.5
#define TTP_FAITH_OUT_GAP 0.3
/* A kernel gap this large (half the output-gap limit) is named in the
 * faithfulness warning as the projection's, with the way to lower it. */
#define TTP_FAITH_KGAP_NAMED (0.5 * TTP_FAITH_OUT_GAP)

/*
 * The projected dimension from the measured kernel gap (docs/METHOD.md §6l).
 * Where the faithfulness check of prediction *p (rank 0, from the kernel
 * built with o->kernel on kd) finds a worst kernel gap of at least
 * TTP_FAITH_KGAP_NAMED with a projected kernel, the kernel is rebuilt at
 * TTP_DPROJ_FACTOR times the requested D′ (more where a kron sketch's
 * floor would leave its D′ unchanged; the automatic projection turns exact
 * at D / 2, a given kind at D), and the setting predicted and checked
 * again, up to ttp_predict_dproj_raises(o) times, while the memory plan
 * fits (else p->dproj_note says why not).  On rank 0 *p is replaced by the
 * last prediction (dproj_raises, dproj_first, dproj_first_kgap, sec_dproj
 * set); *k_raised receives its kernel (owned by the caller; NULL where D′
 * stayed, and off rank 0) and *ko the kernel options it was built with
 * (what re-linearized segments must use).  Collective; p may be NULL off
 * rank 0.
 */
#define TTP_DPROJ_RAISES 2
#define TTP_DPROJ_FACTOR 4
#define TTP_DPROJ_RAISE_AUTO (-1)
int ttp_predict_dproj_raises(const ttp_predict_opts *o);
double ttp_faith_worst_kernel_gap(const ttp_faith *fa);
ttp_status ttp_predict_dproj_raise(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                   const ttp_data *kd, const ttp_predict_opts *o, int64_t n_target,
                                   double sec_per_step, ttp_prediction **p, ttp_kernel **k_raised,
                                   ttp_kernel_opts *ko);
ttp_status ttp_predict_faith(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel *k,
                             const ttp_predict_opts *o, ttp_prediction *p);
/*
 * The same measurement with its passes over the data split across the
 * ranks (each rank its shard of samples; the weights and outputs summed).
 * Collective: every rank passes the model and data; k, o and p are read on
 * rank 0 only (NULL elsewhere is fine for k and p).  The result equals
 * ttp_predict_faith's to rounding.  Uses p->faith_trace when the dynamics
 * left it (ttp_sim_run_traced), else runs ttp_faith_trace.
 */
ttp_status ttp_predict_faith_comm(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                                  const ttp_kernel *k, const ttp_predict_opts *o, ttp_prediction *p);
/*
 * Piecewise re-linearization (docs/METHOD.md §6c): every o->relin_every
 * steps the kernel is rebuilt at the linearized weights and the dynamics
 * continue from the real network's outputs there; rank 0's prediction p
 * (from ttp_predict_from_kernel and ttp_predict_faith, with k0 its kernel)
 * gets the stitched curve, its training times, and a validity measured on
 * the segments.  Collective over comm (p and k0 may be NULL off rank 0).
 * A momentum buffer is carried into each new linearization (V = J_new v,
 * ttp_jac_jvp); SGD follows ensemble member 0 (the real run's batches) and
 * its curve becomes the prediction; a time that a one-step excursion of
 * the stitched curve decides is warned (TTP_SPIKE_LIMIT, §6f).  On the kernel's own samples only
 * (TTP_ERR_UNSUPPORTED otherwise, checked by ttp_predict_opts_validate).
 */
ttp_status ttp_predict_relinearize(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                   const ttp_data *d, const ttp_kernel *k0, const ttp_predict_opts *o,
                                   ttp_prediction *p);

/*
 * The tangent kernel's drift along the predicted path (drift.c, docs/METHOD.md
 * §6d).  A workspace for model m on data d (borrowed); ttp_drift_action sets
 * act = J_w J_wᵀ g (NC; may be NULL) and *gtg = ‖J_wᵀ g‖² = gᵀ Θ(w) g, J_w the
 * exact Jacobian at slab w (central difference along J_wᵀ g for act);
 * ttp_drift_between compares the actions at w_s and w_t on the same g
 * (drift ‖a_t − a_s‖/‖a_s‖, rate gᵀΘ_t g / gᵀΘ_s g; a0, a1: NC scratch).
 * ttp_predict_drift measures both at the faithfulness points of p (after
 * ttp_predict_faith; predict and validate do not call it: docs/METHOD.md §6d
 * found it no validity signal, and it costs 3 backward and 4 forward passes
 * per point).  Rank 0, not collective.
 */
typedef struct ttp_drift_ws ttp_drift_ws;
ttp_status ttp_drift_ws_create(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, ttp_drift_ws **out);
void ttp_drift_ws_destroy(ttp_drift_ws **ws);
ttp_status ttp_drift_action(ttp_ctx *ctx, ttp_drift_ws *ws, const double *w, const double *g, double *act,
                            double *gtg);
ttp_status ttp_drift_between(ttp_ctx *ctx, ttp_drift_ws *ws, const double *ws_w, const double *wt,
                             const double *g, double *a0, double *a1, double *drift, double *rate);
ttp_status ttp_predict_drift(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel *k,
                             const ttp_predict_opts *o, ttp_prediction *p);

/* The function-space variant (relin_kernel.c), called by
 * ttp_predict_relinearize when o->relin_kernel is set; same contract. */
ttp_status ttp_predict_relinearize_kernel(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                          const ttp_data *d, const ttp_kernel *k0, const ttp_predict_opts *o,
                                          ttp_prediction *p);

/* J(w) v over the whole set, exact (ttp_jac_jvp on every rank's shard, the
 * sum on every rank): the carried momentum velocity v (rank 0's, broadcast)
 * seen through the Jacobian at m->w.  plan: TTP_PROJ_EXACT; net made from m
 * for TTP_RELIN_JV_CHUNK · C rows.  Collective (relin.c, relin_kernel.c). */
#define TTP_RELIN_JV_CHUNK 64
struct ttp_jac_plan;
struct ttp_net;
ttp_status ttp_relin_jv(ttp_ctx *ctx, const ttp_comm *comm, struct ttp_jac_plan *plan, struct ttp_net *net,
                        const ttp_model *m, const ttp_data *d, double *v, double *jv);

/* The stitched curves of a re-linearized run (T + 1 steps) become p's curves,
 * training times and wall-clock; SGD keeps the one linearization's noise band
 * as ratios (relin.c, shared by relin_kernel.c).  Rank 0. */
void ttp_relin_stitch(ttp_prediction *p, int sgd, const double *L, const double *A, int64_t T);
/* The segment-halving check's rule (§6g): 1 when every time a[i] equals
 * b[i] or both converged (≥ 0) within TTP_RELIN_HALVING_TOL · b[i]. */
int ttp_relin_halving_agree(const int64_t *a, const int64_t *b, int n);
/* ... and its outcome in words (ttp_faith.relin_halving 0, 1, 2): "not run", "agreed", "refined". */
const char *ttp_relin_halving_str(int h);
/* The momentum cross-check's rule (§6h): the same, within TTP_RELIN_CROSSCHECK_TOL · b[i]. */
int ttp_relin_crosscheck_agree(const int64_t *a, const int64_t *b, int n);
/*
 * The momentum cross-check (§6h): a valid function-space prediction with
 * heavy-ball or Nesterov momentum, times kt[], against real-output restarts
 * of the same settings, verdict real_valid and times rt[]:
 *   1  the restarts are valid: theirs is reported (they follow the real
 *      network, whose nonlinearity damps the oscillation that the linear
 *      path keeps);
 *   2  they are not (the cap of linearizations reached, most often) but
 *      every time agrees (ttp_relin_crosscheck_agree(kt, rt)): the
 *      function-space prediction stands;
 *   3  neither: the restarts' invalid prediction is reported, with the
 *      function space's times beside it.
 */
int ttp_relin_crosscheck_outcome(int real_valid, const int64_t *kt, const int64_t *rt, int n);
/* ... in words: "not run", "real-output reported", "function space kept", "disagreed". */
const char *ttp_relin_crosscheck_str(int c);
/*
 * The rise cut (§6k), for real-output automatic segments of full-batch GD
 * without momentum: ll[0..k] the linear loss along a k-step trial segment.
 * While every mode is within the stability limit that loss does not rise;
 * where it first exceeds ll[0], at step j, a mode past the limit is growing
 * where the real network's nonlinearity would catapult and settle, so the
 * segment ends at j − 1 (one step at least: a one-step segment is the real
 * network's own gradient step).  Returns the length, k where no rise.
 */
int64_t ttp_relin_rise_cut(const double *ll, int64_t k);
/* The cap's last segment (§6k): L[0..T] the stitched loss, t0 where that
 * segment starts; L[T] / L[t0], or 0 where there is no such segment
 * (t0 ≤ 0 or ≥ T) or L[t0] is not positive and finite.  Past
 * TTP_RELIN_CAP_RISE the prediction is invalid. */
double ttp_relin_cap_rise(const double *L, int64_t t0, int64_t T);
/* The batch-order check's rule (§6j): 1 when every time a[i] equals b[i],
 * or both converged (≥ 0) at most max(1, TTP_ORDER_TOL · max(a[i], b[i]))
 * steps apart. */
int ttp_relin_order_agree(const int64_t *a, const int64_t *b, int n);
/* ... its outcome in words (ttp_faith.order_check 0, 1, 2): "not run", "agreed", "disagreed". */
const char *ttp_relin_order_str(int c);
/* Append a sentence to p->warning (after "; ", or a space after a full
 * stop), truncated to its size (faith.c). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void ttp_prediction_warn(ttp_prediction *p, const char *fmt, ...);
/* Scale the training-time band ends by (1 ∓ u), u = gap capped at 1 (faith.c). */
void ttp_faith_widen_band(ttp_prediction *p, int64_t T, double gap);
/* Print / JSON lines for the faithfulness and guard figures (predict_out.c, validate.c). */
void ttp_faith_print(FILE *f, const ttp_prediction *p);
struct ttp_json;
void ttp_faith_json(struct ttp_json *j, const ttp_prediction *p);

/* A training-time definition in words ("L_t <= 0.3"), and the optimizer's
 * name for a dataset of n samples ("SGD+momentum"); predict_out.c. */
void ttp_tt_describe(const ttp_tt_def *t, char *buf, size_t len);
const char *ttp_opt_describe(const ttp_opt *o, int64_t n);

/* Outputs (rank 0): human summary, JSON, NetCDF result, Markdown+SVG report. */
void ttp_predict_print(FILE *f, const ttp_prediction *p, const ttp_predict_opts *o);
ttp_status ttp_predict_write_json(ttp_ctx *ctx, const char *path, const ttp_prediction *p,
                                  const ttp_predict_opts *o);
ttp_status ttp_predict_write_nc(ttp_ctx *ctx, const char *path, const ttp_prediction *p,
                                const ttp_predict_opts *o);
ttp_status ttp_predict_write_report(ttp_ctx *ctx, const char *dir, const ttp_prediction *p,
                                    const ttp_predict_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* TTP_PREDICT_H */
