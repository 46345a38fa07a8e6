/*
 * ttp_sweep.h — many optimizer settings from one kernel (`ttpredict sweep`).
 *
 * The kernel (the expensive, collective stage) does not depend on the
 * optimizer at all, so a sweep builds or reads it once and then runs the
 * per-setting stage of `predict` (dynamics, training times, stability,
 * blow-up guard, faithfulness) for every combination of the lists.  The
 * settings that share the loss, batch size, steps and seed are simulated as
 * one group (ttp_sim_run_many: their ensemble members advance together, one
 * product over the eigenvectors a step), and the guard's per-batch
 * eigenvalues are computed once per group.  Each setting's numbers are
 * those of a `predict` run with the same options on the same kernel: the
 * steps, validity and warnings exactly, the losses to rounding.  The
 * wall-clock scale is one ttp_predict_step_seconds call per distinct batch
 * size.
 *
 *   ttp_sweep_opts so;  ttp_sweep_opts_default(&so);
 *   so.nlr = 3;  so.lrs[0] = 0.01; so.lrs[1] = 0.02; so.lrs[2] = 0.05;
 *   ttp_sweep_run(ctx, comm, model, data, &so, &res);     // collective
 *   // rank 0: res->pred[res->order[0]] is the soonest to converge,
 *   // res->best the soonest valid one within the budget (-1: none).
 */
#ifndef TTP_SWEEP_H
#define TTP_SWEEP_H

#include "ttp_predict.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTP_SWEEP_MAX_LIST 64 /* values per list                          */
#define TTP_SWEEP_MAX_SETTINGS                                                                               \
    256 /* combinations per sweep: each costs about
                                      one `predict` minus its kernel, so a
                                      larger grid is refused rather than left
                                      running for hours                       */

typedef struct ttp_sweep_opts {
    ttp_predict_opts base; /* everything else, and the value of any list left empty */
    int nlr, nbatch, nmom, nwd, nsteps;
    double lrs[TTP_SWEEP_MAX_LIST];
    int64_t batches[TTP_SWEEP_MAX_LIST]; /* 0 or N: full batch */
    double momenta[TTP_SWEEP_MAX_LIST];
    double wds[TTP_SWEEP_MAX_LIST];
    int64_t steps[TTP_SWEEP_MAX_LIST];
    int faith_all;        /* 1 (default): measure every setting's faithfulness, as
                             `predict` does; 0: only as far as needed to name the best
                             setting (in table order, until one stays valid): the best
                             is the same, the others' rows say "not checked"          */
    double budget;        /* seconds of training allowed (0: none)      */
    int64_t budget_steps; /* optimizer steps allowed (0: none)          */
} ttp_sweep_opts;

/* The predict defaults as the base, no lists (one setting), no budget. */
void ttp_sweep_opts_default(ttp_sweep_opts *o);
/* Number of settings: the product of the list lengths (an empty list
 * counts 1). */
int64_t ttp_sweep_count(const ttp_sweep_opts *o);
/* The options of setting i (0 ≤ i < count): lists vary fastest from the
 * last, i.e. batch slowest, then momentum, weight decay, steps, lr. */
void ttp_sweep_setting(const ttp_sweep_opts *o, int64_t i, ttp_predict_opts *out);
/*
 * Check the lists (values, sizes against a dataset of n samples, the number
 * of combinations against TTP_SWEEP_MAX_SETTINGS) and every setting as
 * `predict` would; errors name the option field ("option lrs: ...").
 * Re-linearization and extrapolation are refused (TTP_ERR_UNSUPPORTED):
 * the first rebuilds the kernel per setting, which a sweep exists to avoid.
 */
ttp_status ttp_sweep_opts_validate(ttp_ctx *ctx, const ttp_sweep_opts *o, int64_t n);

typedef struct ttp_sweep_result {
    int64_t count;
    ttp_predict_opts *opts;       /* count: each setting's options            */
    ttp_prediction **pred;        /* count: each setting's prediction (rank 0; NULL elsewhere) */
    int64_t *order;               /* count: settings by predicted wall-clock (by steps when
                               not timed); settings that do not converge within
                               their T last, in grid order               */
    int64_t best;                 /* the first valid converged setting of `order` within the
                               budget; -1 if none                         */
    unsigned char *faith_checked; /* count: 1 where the faithfulness was measured */
    int nbatch;                   /* distinct batch sizes, and their measured seconds per step */
    int64_t batch[TTP_SWEEP_MAX_LIST];
    double sec_per_step[TTP_SWEEP_MAX_LIST];
    ttp_kernel *kernel; /* rank 0 (owned)                               */
    int64_t n, n_kernel;
    int c;
    int64_t d, dproj;
    double mu_max;
    double sec_kernel, sec_timing, sec_settings, seconds;
    int nranks;
} ttp_sweep_result;

void ttp_sweep_result_destroy(ttp_sweep_result **r);

/*
 * The sweep.  Collective over comm (every rank passes the same model, data
 * and options): the kernel across the ranks, one timing per distinct batch
 * size, then the settings spread round-robin over the ranks (each gets the
 * kernel from rank 0) and gathered, so that every rank holds every
 * prediction; the order, the best setting and (with faith_all = 0) the
 * faithfulness checks it needs are rank 0's.
 */
ttp_status ttp_sweep_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                         const ttp_sweep_opts *o, ttp_sweep_result **out);

/* Outputs (rank 0): the table sorted by wall-clock with the best setting
 * within the budget; JSON; NetCDF (one row per setting); an SVG report
 * (time and final loss against the learning rate, a line per batch size and
 * the other settings, the stability limit marked) with a Markdown table. */
void ttp_sweep_print(FILE *f, const ttp_sweep_result *r, const ttp_sweep_opts *o);
ttp_status ttp_sweep_write_json(ttp_ctx *ctx, const char *path, const ttp_sweep_result *r,
                                const ttp_sweep_opts *o);
ttp_status ttp_sweep_write_nc(ttp_ctx *ctx, const char *path, const ttp_sweep_result *r,
                              const ttp_sweep_opts *o);
ttp_status ttp_sweep_write_report(ttp_ctx *ctx, const char *dir, const ttp_sweep_result *r,
                                  const ttp_sweep_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* TTP_SWEEP_H */
