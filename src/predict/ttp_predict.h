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

#define TTP_MAX_TT 8       /* training-time definitions per prediction */
#define TTP_MAX_ENSEMBLE 100000 /* simulated trajectories per prediction  */
#define TTP_MAX_EXTRAP 16  /* extrapolation targets                    */

typedef struct ttp_predict_opts {
    ttp_opt opt;             /* optimizer settings, as for `train`            */
    ttp_kernel_opts kernel;  /* projection, backend, block, top-k, provenance */
                             /*   (model_path, data_path) of the kernel stage */
    ttp_sim_opts sim;        /* ensemble size, seed, band quantiles          */
    int ntt;                 /* training-time definitions; tt[0] headlines   */
    ttp_tt_def tt[TTP_MAX_TT];
    const char *kernel_in;   /* reuse a kernel file (provenance checked)     */
    const char *kernel_out;  /* also write the kernel                        */
    int64_t subset;          /* N0 < N: kernel on a stratified subset, then  */
    int nextrap;             /*   extrapolate to these sizes (N if none)     */
    int64_t extrap[TTP_MAX_EXTRAP];
    int time_reps;           /* real steps timed for wall-clock (0: skip)    */
} ttp_predict_opts;

/* Defaults (what `ttpredict predict` uses): the ttp_opt defaults, the
 * ttp_kernel_opts defaults but with the automatic projection (TTP_PROJ_AUTO:
 * kron at D′ = 1024 for a model of more than 2048 trainable weights, else
 * exact) and the eigenvectors kept, ensemble 16, band 5–95 %, one definition
 * (TTP_TT_REL 0.05 of the loss drop), 5 timed steps. */
void ttp_predict_opts_default(ttp_predict_opts *o);
/* Check every option against a dataset of n samples (the kernel's options
 * with ttp_kernel_opts_validate), naming the field (e.g. "option lr"). */
ttp_status ttp_predict_opts_validate(ttp_ctx *ctx, const ttp_predict_opts *o, int64_t n);

typedef struct ttp_tt_result {
    ttp_tt_def def;
    int64_t steps, lo, hi; /* predicted training time and its band; -1 = not reached by T */
} ttp_tt_result;

/* A prediction at one dataset size. */
typedef struct ttp_pred_curve {
    int64_t n;               /* dataset size                                  */
    int extrapolated;        /* 1: from the fitted spectrum, 0: measured Θ    */
    ttp_curves *curves;      /* loss/accuracy mean and band at steps 0..T     */
    int ntt;
    ttp_tt_result tt[TTP_MAX_TT];
    double wall, wall_lo, wall_hi; /* seconds: tt × seconds per step         */
} ttp_pred_curve;

typedef struct ttp_prediction {
    int64_t n, n_kernel;     /* dataset size; samples in the kernel (subset)  */
    int c;
    int64_t d, dproj;
    ttp_pred_curve main;     /* at N (extrapolated from N0 when subset < N)   */
    int nextrap;
    ttp_pred_curve extrap[TTP_MAX_EXTRAP];
    ttp_kernel *kernel;      /* rank 0: spectrum, projections (owned)         */
    int have_fit;
    ttp_powerlaw fit_mu, fit_p; /* spectrum and residual-energy power laws   */
    double ce_kappa;         /* cross-entropy extrapolation: softmax curvature κ at F₀ (0 otherwise) */
    int64_t ce_clamped;      /* steps whose re-timing ran past the measured horizon */
    double mu_max;           /* top eigenvalue of Θ/N                          */
    double stability;        /* ttp_sim_stability: > 1 means the linear model diverges */
    int valid;               /* 0: outside the regime where the method holds  */
    char warning[1024];
    double sec_per_step;     /* measured, at the requested batch size         */
    double sec_kernel, sec_sim, sec_timing, seconds;
    int nranks;
} ttp_prediction;

void ttp_prediction_destroy(ttp_prediction **p);

/*
 * The whole prediction.  Collective over comm (every rank passes the same
 * model, data and options); rank 0 receives the full result, the other
 * ranks the scalars.  Every option is checked before any heavy work.
 */
ttp_status ttp_predict_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                           const ttp_data *data, const ttp_predict_opts *o, ttp_prediction **out);

/*
 * The rank-0 part alone: dynamics, training times, fits and extrapolation
 * from an existing kernel (no MPI).  `validate` calls it once per grid case
 * on one kernel.  Wall-clock fields use sec_per_step as given.
 */
ttp_status ttp_predict_from_kernel(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                   int64_t n_target, double sec_per_step, ttp_prediction **out);

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
