/*
 * ttp_train.h — optimizer settings shared by real fine-tuning and by the
 * simulated linearized dynamics, and `ttp train` itself.
 *
 * Conventions (identical in train and predict; docs/METHOD.md):
 *   loss      L = (1/N) Σ_i ℓ(f_i, y_i) on the training set (ttp_loss_eval)
 *   gradient  of a batch B: (1/|B|) Σ_{i∈B} ∇_w ℓ_i  (+ λ w with weight decay)
 *   momentum  heavy ball, v ← m v + grad, w ← w − η v   (v₀ = 0)
 *   Nesterov  v ← m v + grad, w ← w − η (grad + m v)
 *   batches   ttp_batch_indices: a fresh seeded permutation each epoch,
 *             consecutive chunks, a short last chunk when N mod B ≠ 0;
 *             batch <= 0 or >= N means full-batch gradient descent
 *   curves    loss and accuracy on the whole training set at steps 0..T,
 *             step 0 being the pretrained (or fresh-head) weights
 */
#ifndef TTP_TRAIN_H
#define TTP_TRAIN_H

#include "ttp_data.h"
#include "ttp_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttp_opt {
    ttp_loss_kind loss;
    double lr;       /* η > 0                                  */
    int64_t batch;   /* |B|; <= 0 or >= N: full batch            */
    double momentum; /* m in [0, 1)                            */
    int nesterov;    /* 1: Nesterov momentum                     */
    double wd;       /* λ >= 0                                 */
    int64_t steps;   /* T >= 1                                 */
    uint64_t seed;   /* batch permutation stream               */
} ttp_opt;

/* Defaults: cross-entropy, η = 0.01, full batch, no momentum, no decay, T = 150, seed 1. */
void ttp_opt_default(ttp_opt *o);
/* The most optimizer steps a run or a prediction takes: far beyond any
 * fine-tuning, and low enough that per-step curves (T + 1 values each)
 * stay allocatable. */
#define TTP_MAX_STEPS ((int64_t)100000000)

/* Check values against a dataset of n samples; names the offending option. */
ttp_status ttp_opt_validate(ttp_ctx *ctx, const ttp_opt *o, int64_t n);
/*
 * Check that a model can be trained on a dataset with a loss: the samples'
 * shape is what the model accepts, the class count (labels) or target count
 * equals the model's outputs, cross-entropy has labels, something is
 * trainable.  Labels are used when present; real targets otherwise (MSE).
 * (Added by the engine; additive to the original API.)
 */
ttp_status ttp_train_check(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, ttp_loss_kind loss);
/* Effective batch size for n samples. */
int64_t ttp_opt_batch(const ttp_opt *o, int64_t n);

typedef struct ttp_train_result {
    int64_t steps;       /* T                                             */
    double *loss;        /* T+1 mean training loss                        */
    double *acc;         /* T+1 training accuracy in [0, 1]               */
    double seconds;      /* whole run                                     */
    double sec_per_step; /* optimizer steps only, evaluation excluded     */
} ttp_train_result;

void ttp_train_result_destroy(ttp_train_result **r);

/*
 * Fine-tune m->w in place on d with settings o.  Data-parallel: each rank
 * takes a contiguous share of every batch and of the evaluation set, and
 * gradients and sums are combined with comm->allreduce_sum, so the curves
 * agree across rank counts up to summation order.  Collective over comm;
 * every rank returns the same result.
 */
ttp_status ttp_train_run(ttp_ctx *ctx, const ttp_comm *comm, ttp_model *m, const ttp_data *d,
                         const ttp_opt *o, ttp_train_result **out);

/*
 * Seconds per optimizer step at batch size `batch` on this hardware: times
 * `reps` forward+backward+update steps after one warm-up (weights restored
 * afterwards).  Collective over comm; the figure the prediction turns into
 * wall-clock time.
 */
ttp_status ttp_train_time_step(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                               const ttp_opt *o, int reps, double *sec_per_step);

/* Write a training result (curves, settings, seconds) to NetCDF. */
ttp_status ttp_train_write(ttp_ctx *ctx, const char *path, const ttp_train_result *r, const ttp_opt *o,
                           const char *model_path, const char *data_path);
/* The same as JSON (`ttpredict train --json`; one rank writes): the model
 * trained (m) and the dataset (d) for their sizes, the settings, and the
 * curves. */
ttp_status ttp_train_write_json(ttp_ctx *ctx, const char *path, const ttp_train_result *r, const ttp_opt *o,
                                const ttp_model *m, const ttp_data *d, const char *model_path,
                                const char *data_path);

#ifdef __cplusplus
}
#endif
#endif /* TTP_TRAIN_H */
