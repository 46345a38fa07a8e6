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

/* ---- the cost of a step without running one (stepcost.c, train.c) ---- */

/* What one layer costs per sample in a training step as the engine runs it
 * (net.c: dense and conv as DGEMM, conv through im2col).  The totals
 * (ttp_model_cost) add the loss to the flops and bytes, and the update of
 * the D trainable weights to weight_bytes. */
typedef struct ttp_layer_cost {
    double flops_fwd, flops_bwd; /* per sample: forward; backward (weight and input gradients) */
    double bytes;                /* per sample: activations, gradients, im2col moved           */
    double weight_bytes;         /* per step, batch independent: W read, dW written, update    */
} ttp_layer_cost;

/* Per-layer costs into per_layer (m->nlayers entries; may be NULL) and their
 * sum into total (may be NULL).  A gradient is counted only where the
 * engine forms it (layers leading back to a trainable one).  Pure. */
void ttp_model_cost(const ttp_model *m, ttp_layer_cost *per_layer, ttp_layer_cost *total);

/*
 * Seconds per optimizer step from a small probe and the cost model.  The
 * step of a batch B on P ranks costs, on the rank with the largest share
 * s = ⌈B/P⌉ (data parallel: the slowest rank sets the pace),
 *     t(B) = t_call + s · (F / R + (φ(s) − φ(b)) · M / W) + t_update
 * where F and M are the model's forward+backward+loss flops and bytes per
 * sample (ttp_model_cost), R the rate at which this machine runs them from
 * cache, t_call the per-call cost that does not grow with the batch
 * (weights read, gradient cleared), t_update the reduction and update of
 * the D weights, W the memory bandwidth, and φ(s) = max(0, 1 − L/(s·M))
 * the part of a batch's working set that falls out of the last-level cache
 * L (its size from /sys, shared by the P ranks of a node).  R and t_call
 * come from timing the gradient of two small batches (b and b/2 samples,
 * b ≈ s/32 and at least 8), t_update from timing the update itself, W from
 * timing a copy larger than the cache; each timed `reps` times after a
 * warm-up, the fastest kept.  Shares of at most TTP_STEP_PROBE_DIRECT
 * samples are timed as they are.  The probe is capped: its gradient calls
 * (warm-ups included) pass at most TTP_STEP_PROBE_SAMPLES samples per rank,
 * `reps` being lowered to fit (at least 1; the gradient calls themselves
 * are still timed best of 3 when 3 or more were asked for, since one
 * call's time is too noisy to scale), so that it stays a small part
 * of the kernel stage (N·(1 + C)/P sample passes per rank; 1.4 % of it on
 * the bundled tasks, N = 750, C = 5, P = 2); the update is then timed as
 * often (collective, every rank alike).  The share of a core the process got over
 * the gradient probes (CPU over wall seconds, 1 on an idle machine) is
 * reported in cpu_share as a sign of a loaded machine; it is not applied
 * (dividing by it overshot on a shared machine, where it also counts the
 * probes' page faults and waits).
 */
#define TTP_STEP_PROBE_DIRECT 16
#define TTP_STEP_PROBE_SAMPLES 32
typedef struct ttp_step_model {
    int64_t batch, share;        /* B and the largest per-rank share s            */
    int nranks;                  /* P                                             */
    int64_t probe_lo, probe_hi;  /* the probe's batch sizes per rank              */
    double probe_share;          /* b, where R was measured                        */
    double flops_per_sample;     /* F (forward + backward + loss)                  */
    double bytes_per_sample;     /* activations moved per sample (for the report)  */
    double weight_bytes;         /* per step, batch independent                    */
    double rate;                 /* R, flop/s measured (0 when timed directly)     */
    double sec_call, sec_update; /* t_call, t_update                               */
    double bandwidth;            /* W, bytes/s of a copy larger than the cache     */
    double cache_bytes;          /* L / P: a rank's part of the last-level cache    */
    double cpu_share;            /* CPU over wall seconds during the probe (<= 1)   */
    double sec_per_step;         /* t(B)                                           */
    double sec_probe;            /* what the probe itself cost                     */
    int reps;                    /* timed repetitions after the cap                */
} ttp_step_model;

/* Probe and fit (above) for the settings o on d.  Collective over comm;
 * every rank returns the same model (the ranks' figures averaged).  The
 * model's weights are never touched (steps update a copy). */
ttp_status ttp_train_step_model(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                                const ttp_opt *o, int reps, ttp_step_model *out);
/* t(B) of a fitted model at another batch size B (>= 1) on its P ranks. */
double ttp_step_model_eval(const ttp_step_model *sm, int64_t batch);

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
