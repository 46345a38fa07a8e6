/*
 * ttp_validate.h — predictions checked against real fine-tuning over a grid
 * of settings (`ttpredict validate`; the paper's Figure 1 and Table 1 on
 * our data).  One kernel per dataset size serves every optimizer setting;
 * every case also trains for real with the same settings, and both curves
 * are measured with the same training-time definitions (ttp_ttime).
 */
#ifndef TTP_VALIDATE_H
#define TTP_VALIDATE_H

#include "ttp_predict.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTP_VAL_MAX_LIST 16
/* The paper's agreement thresholds (docs/METHOD.md §2): a GD prediction is
 * "within" at a relative error of at most 13 %, an SGD one at 20 %. */
#define TTP_VAL_GD_TOL 0.13
#define TTP_VAL_SGD_TOL 0.20

typedef struct ttp_validate_opts {
    int nloss;
    ttp_loss_kind losses[2];
    int gd, sgd; /* which optimizers                                   */
    int nlr;
    double lrs[TTP_VAL_MAX_LIST];
    int nbatch;
    int64_t batches[TTP_VAL_MAX_LIST]; /* SGD only      */
    int nmom;
    double momenta[TTP_VAL_MAX_LIST];
    int nsize;
    int64_t sizes[TTP_VAL_MAX_LIST]; /* 0: all N      */
    int ntt;
    ttp_tt_def tt[TTP_MAX_TT];
    int64_t steps;
    uint64_t seed;
    ttp_predict_opts pred; /* kernel (pred.kernel), ensemble, band; opt is per case */
} ttp_validate_opts;

/* The default grid for the bundled task (docs/validate.md); its kernel is
 * kron at D′ = 1024 (clamped to the model's D by ttp_validate_run). */
void ttp_validate_opts_default(ttp_validate_opts *o);
/* The small grid the tests use. */
void ttp_validate_opts_quick(ttp_validate_opts *o);

typedef struct ttp_val_case {
    int64_t n;
    ttp_opt opt;
    int sgd;
    int valid;                            /* the prediction's regime diagnostic        */
    double stability;                     /* 2 × ttp_sim_stability: the linear model diverges above 2 */
    int diverged;                         /* the real run's loss became non-finite     */
    char warning[TTP_WARNING_MAX];        /* the prediction's warning ("" when none)   */
    double faith_loss_gap, faith_out_gap; /* worst measured gaps (docs/METHOD.md §6b) */
    double kernel_sens;                   /* the function-space time's sensitivity (§6d) */
    double batch_stab_max;                /* 2 × worst per-batch stability (SGD)        */
    int64_t pred[TTP_MAX_TT], pred_lo[TTP_MAX_TT], pred_hi[TTP_MAX_TT], real[TTP_MAX_TT];
    double sec_train, sec_predict, sec_kernel; /* kernel: of its size, shared */
    int kernel_cases;                          /* cases sharing that kernel                  */
    int64_t segments;                          /* linearizations used (1: none re-built)     */
    ttp_faith faith;                           /* the prediction's faithfulness and checks:
                                                  segment gaps, halving (§6g), cross-check
                                                  (§6h), past the figures (§6i), batch
                                                  order (§6j), the cap (§6k)                 */
    int64_t dproj, dproj_first;                /* the kernel's D′, and where it was raised
                                                  (§6l) the shared kernel's (0: not raised) */
    double dproj_first_kgap;                   /* ... whose worst kernel gap raised it      */
    int valid_one;                             /* the one linearization's verdict, and ...   */
    int64_t pred_one[TTP_MAX_TT];              /* ... its times (before re-linearization)    */
    double *real_loss, *pred_loss, *pred_lo_loss, *pred_hi_loss; /* T+1 each */
} ttp_val_case;

typedef struct ttp_val_totals {
    int compared;          /* (case, definition) pairs whose real run met the criterion */
    int excluded;          /* real run never met the criterion or diverged */
    int pred_unreached;    /* compared pairs whose prediction never met it: misses */
    int cases_diverged;    /* cases whose real run diverged               */
    int gd_n, gd_within;   /* GD pairs, and those within 13 %            */
    int sgd_n, sgd_within; /* SGD pairs, and those within 20 %           */
    int gd_valid_n, gd_valid_within, sgd_valid_n, sgd_valid_within; /* valid regime only */
    int in_band, band_n;             /* real time inside the predicted band (SGD)  */
    int valid_in_band, valid_band_n; /* the same among unwarned cases      */
    int cases_warned;                /* cases the prediction marks invalid         */
    double median_rel, median_abs;
    double cost_ratio_oneoff;                  /* median over cases: train s / (kernel + dynamics) s */
    double cost_ratio_amortized;               /* median: train s / (kernel share + dynamics) s      */
    double sec_train, sec_kernel, sec_predict; /* sums over the grid (each kernel once) */
} ttp_val_totals;

typedef struct ttp_validation {
    int ncases;
    ttp_val_case *cases;
    ttp_val_totals tot;
    int64_t steps;
    double seconds;
} ttp_validation;

void ttp_validation_destroy(ttp_validation **v);

/*
 * Run the grid.  Collective over comm (training and kernels are
 * distributed; rank 0 predicts and holds the full result).  Every setting
 * is checked first, naming the field (e.g. "option sizes").  A case whose
 * real training diverges is recorded as such and the grid goes on.
 */
ttp_status ttp_validate_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                            const ttp_validate_opts *o, ttp_validation **out);

/* Rank 0: table on f (one row per case, the totals, the headline figures
 * last), JSON (cases + totals), Markdown report + scatter.svg (predicted vs
 * real, ±13/20 % lines) + example.svg (one real loss curve against the
 * predicted mean and band). */
void ttp_validate_print(FILE *f, const ttp_validation *v, const ttp_validate_opts *o);
ttp_status ttp_validate_write_json(ttp_ctx *ctx, const char *path, const ttp_validation *v,
                                   const ttp_validate_opts *o);
ttp_status ttp_validate_write_report(ttp_ctx *ctx, const char *dir, const ttp_validation *v,
                                     const ttp_validate_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* TTP_VALIDATE_H */
