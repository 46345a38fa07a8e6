/*
 * train.c — real (data-parallel) fine-tuning with the engine of net.c: the
 * ground truth every prediction is checked against, and the way the bundled
 * pretrained model is made.  The conventions (loss normalisation, momentum
 * form, batch schedule, curves at steps 0..T) are those of ttp_train.h and
 * must stay identical to the simulated dynamics of `predict`.
 */
#include "ttp_train.h"
#include "ttp_nc.h"
#include "ttp_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ttp_opt_default(ttp_opt *o)
{
    memset(o, 0, sizeof *o);
    o->loss = TTP_LOSS_CE;
    o->lr = 0.01;
    o->batch = 0;
    o->momentum = 0.0;
    o->nesterov = 0;
    o->wd = 0.0;
    o->steps = 150;
    o->seed = 1;
}

ttp_status ttp_opt_validate(ttp_ctx *ctx, const ttp_opt *o, int64_t n)
{
    if (o->loss != TTP_LOSS_MSE && o->loss != TTP_LOSS_CE)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option loss: unknown loss %d, expected mse or ce", (int)o->loss);
    if (!(o->lr > 0.0) || !isfinite(o->lr))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option lr: learning rate %g, expected a finite value > 0", o->lr);
    if (o->batch < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option batch: %lld, expected 0 (full batch) or 1..N",
                       (long long)o->batch);
    if (n > 0 && o->batch > n)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option batch: %lld is larger than the %lld training "
                       "samples (0 or %lld means full batch)",
                       (long long)o->batch, (long long)n, (long long)n);
    if (o->steps <= 0 || o->steps > TTP_MAX_STEPS)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option steps: %lld, expected 1..%lld", (long long)o->steps,
                       (long long)TTP_MAX_STEPS);
    if (!(o->momentum >= 0.0 && o->momentum < 1.0))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option momentum: %g, expected a value in [0, 1)", o->momentum);
    if (!(o->wd >= 0.0) || !isfinite(o->wd))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option wd: weight decay %g, expected a finite value >= 0", o->wd);
    /* Nesterov without momentum is plain SGD: accepted, nothing to check. */
    return TTP_OK;
}

int64_t ttp_opt_batch(const ttp_opt *o, int64_t n)
{
    return (o->batch <= 0 || o->batch >= n) ? n : o->batch;
}

/* Labels take precedence; real targets are used when there are none. */
static void supervision(const ttp_data *d, const int **labels, const double **targets)
{
    *labels = d->nclasses > 0 ? d->y : NULL;
    *targets = *labels == NULL && d->ntargets > 0 ? d->targets : NULL;
}

ttp_status ttp_train_check(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, ttp_loss_kind loss)
{
    const int *labels;
    const double *targets;
    TTP_CALL(ctx, ttp_model_check_input(ctx, m, d->ndim, d->shape, "dataset"));
    supervision(d, &labels, &targets);
    if (labels == NULL && targets == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "dataset has neither labels nor targets to train on");
    if (labels && d->nclasses != m->nout)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "dataset has %d classes but the model's head has %d outputs (fit a fresh %d-output "
                       "head: option new_head)",
                       d->nclasses, m->nout, d->nclasses);
    if (targets && d->ntargets != m->nout)
        return TTP_ERR(ctx, TTP_ERR_ARG, "dataset has %d targets per sample but the model has %d outputs",
                       d->ntargets, m->nout);
    if (targets && loss == TTP_LOSS_CE)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option loss: cross-entropy needs class labels, the dataset has real targets only");
    if (m->ntrainable == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "the model has no trainable layer");
    return TTP_OK;
}

void ttp_train_result_destroy(ttp_train_result **pr)
{
    if (pr == NULL || *pr == NULL) return;
    free((*pr)->loss);
    free((*pr)->acc);
    free(*pr);
    *pr = NULL;
}

/* Working buffers of one training run (per rank). */
typedef struct {
    ttp_net *net;
    int64_t nbmax;
    double *xb, *tb, *out, *gout;
    int *lb;
} work;

static void work_free(work *k)
{
    ttp_net_destroy(&k->net);
    free(k->xb);
    free(k->tb);
    free(k->out);
    free(k->gout);
    free(k->lb);
}

static ttp_status work_init(ttp_ctx *ctx, work *k, const ttp_model *m, const ttp_data *d, int64_t nbmax)
{
    ttp_status st = TTP_OK;
    memset(k, 0, sizeof *k);
    k->nbmax = nbmax;
    TTP_CALL_GOTO(ctx, st, fail, ttp_net_create(ctx, m, nbmax, &k->net));
    TTP_ALLOC(ctx, st, fail, k->xb, nbmax * d->dim, "batch inputs");
    TTP_ALLOC(ctx, st, fail, k->tb, nbmax * m->nout, "batch targets");
    TTP_ALLOC(ctx, st, fail, k->out, nbmax * m->nout, "batch outputs");
    TTP_ALLOC(ctx, st, fail, k->gout, nbmax * m->nout, "batch output gradients");
    TTP_ALLOC(ctx, st, fail, k->lb, nbmax, "batch labels");
    return TTP_OK;
fail:
    work_free(k);
    return st;
}

/* Gather samples idx[0..nb) (or lo..lo+nb when idx is NULL) into the batch
 * buffers and run the forward pass; returns the summed loss and the count
 * of correct predictions; with grad, leaves ∂ℓ_b/∂f_b · scale in k->gout. */
static ttp_status batch_loss(ttp_ctx *ctx, work *k, const ttp_model *m, const ttp_data *d, const double *w,
                             ttp_loss_kind loss, const int64_t *idx, int64_t lo, int64_t nb, int grad,
                             double scale, double *lsum, int64_t *ncorrect)
{
    const int *labels;
    const double *targets;
    int C = m->nout;
    supervision(d, &labels, &targets);
    for (int64_t b = 0; b < nb; b++) {
        int64_t i = idx ? idx[b] : lo + b;
        memcpy(k->xb + b * d->dim, d->x + i * d->dim, (size_t)d->dim * sizeof(double));
        if (labels)
            k->lb[b] = labels[i];
        else
            memcpy(k->tb + b * C, targets + i * C, (size_t)C * sizeof(double));
    }
    TTP_CALL(ctx, ttp_net_forward(ctx, k->net, w, k->xb, nb, k->out));
    double mean = ttp_loss_eval(loss, k->out, labels ? k->lb : NULL, labels ? NULL : k->tb, nb, C,
                                grad ? k->gout : NULL, ncorrect);
    *lsum = mean * (double)nb;
    if (grad)
        for (int64_t j = 0; j < nb * C; j++) k->gout[j] *= scale;
    return TTP_OK;
}

/* Mean loss and accuracy on the whole training set: each rank its share,
 * one reduction of (loss sum, correct count). */
static ttp_status evaluate(ttp_ctx *ctx, const ttp_comm *comm, work *k, const ttp_model *m, const ttp_data *d,
                           const double *w, ttp_loss_kind loss, double *L, double *acc)
{
    int64_t lo, hi;
    double s[2] = {0.0, 0.0};
    ttp_shard(d->n, comm->rank, comm->size, &lo, &hi);
    for (int64_t a = lo; a < hi; a += k->nbmax) {
        int64_t nb = hi - a < k->nbmax ? hi - a : k->nbmax, nc = 0;
        double ls = 0.0;
        TTP_CALL(ctx, batch_loss(ctx, k, m, d, w, loss, NULL, a, nb, 0, 1.0, &ls, &nc));
        s[0] += ls;
        s[1] += (double)nc;
    }
    TTP_CALL(ctx, comm->allreduce_sum(comm, s, 2, ctx));
    *L = s[0] / (double)d->n;
    *acc = s[1] / (double)d->n;
    return TTP_OK;
}

/* One optimizer step on the batch idx[0..nbt): this rank's contiguous share
 * of the batch, gradients summed over ranks, then the update of ttp_train.h.
 * g is the full-slab gradient scratch; gt, wt, v are D-vectors. */
/* This rank's part of a step: the gradient of its nloc samples idx[0..nloc)
 * of a batch of nbt, into the full-slab scratch g. */
static ttp_status step_grad(ttp_ctx *ctx, work *k, const ttp_model *m, const ttp_data *d, const double *w,
                            const ttp_opt *o, const int64_t *idx, int64_t nloc, int64_t nbt, double *g)
{
    memset(g, 0, (size_t)m->nparams * sizeof(double));
    if (nloc > 0) {
        double ls;
        int64_t nc;
        /* Gradient of (1/|B|) Σ_{i∈B} ℓ_i: the 1/|B| goes into dℓ/df. */
        TTP_CALL(ctx, batch_loss(ctx, k, m, d, w, o->loss, idx, 0, nloc, 1, 1.0 / (double)nbt, &ls, &nc));
        TTP_CALL(ctx, ttp_net_backward(ctx, k->net, w, k->gout, g, NULL));
    }
    return TTP_OK;
}

/* The rest of a step: the gradient summed over ranks and the update. */
static ttp_status step_update(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, double *w,
                              const ttp_opt *o, const double *g, double *gt, double *wt, double *v)
{
    int64_t D = m->ntrainable;
    ttp_model_get_trainable(m, g, gt);
    TTP_CALL(ctx, comm->allreduce_sum(comm, gt, D, ctx));
    ttp_model_get_trainable(m, w, wt);
    for (int64_t j = 0; j < D; j++) {
        double gj = gt[j] + o->wd * wt[j], step = gj;
        if (o->momentum > 0.0) {
            v[j] = o->momentum * v[j] + gj;
            step = o->nesterov ? gj + o->momentum * v[j] : v[j];
        }
        wt[j] -= o->lr * step;
    }
    ttp_model_set_trainable(m, wt, w);
    return TTP_OK;
}

static ttp_status opt_step(ttp_ctx *ctx, const ttp_comm *comm, work *k, const ttp_model *m, const ttp_data *d,
                           double *w, const ttp_opt *o, const int64_t *idx, int64_t nbt, double *g,
                           double *gt, double *wt, double *v)
{
    int64_t lo, hi;
    ttp_shard(nbt, comm->rank, comm->size, &lo, &hi);
    TTP_CALL(ctx, step_grad(ctx, k, m, d, w, o, idx + lo, hi - lo, nbt, g));
    return step_update(ctx, comm, m, w, o, g, gt, wt, v);
}

ttp_status ttp_train_run(ttp_ctx *ctx, const ttp_comm *comm, ttp_model *m, const ttp_data *d,
                         const ttp_opt *o, ttp_train_result **out)
{
    ttp_status st = TTP_OK;
    ttp_train_result *r = NULL;
    work k;
    int64_t *perm = NULL, *idx = NULL, epoch = -1;
    double *g = NULL, *gt = NULL, *wt = NULL, *v = NULL;
    memset(&k, 0, sizeof k);
    *out = NULL;
    TTP_CALL(ctx, ttp_opt_validate(ctx, o, d->n));
    TTP_CALL(ctx, ttp_train_check(ctx, m, d, o->loss));
    int64_t n = d->n, B = ttp_opt_batch(o, n), T = o->steps, D = m->ntrainable;
    int64_t share = (B + comm->size - 1) / comm->size, eshare = (n + comm->size - 1) / comm->size;
    int64_t nbmax = share > (eshare < 256 ? eshare : 256) ? share : (eshare < 256 ? eshare : 256);
    double t_start = ttp_time(), t_steps = 0.0;

    TTP_CALL_GOTO(ctx, st, fail, work_init(ctx, &k, m, d, nbmax));
    TTP_ALLOC(ctx, st, fail, r, 1, "training result");
    r->steps = T;
    TTP_ALLOC(ctx, st, fail, r->loss, T + 1, "loss curve");
    TTP_ALLOC(ctx, st, fail, r->acc, T + 1, "accuracy curve");
    TTP_ALLOC(ctx, st, fail, perm, n, "batch permutation");
    TTP_ALLOC(ctx, st, fail, idx, B, "batch indices");
    TTP_ALLOC(ctx, st, fail, g, m->nparams, "gradient");
    TTP_ALLOC(ctx, st, fail, gt, D, "trainable gradient");
    TTP_ALLOC(ctx, st, fail, wt, D, "trainable weights");
    TTP_ALLOC(ctx, st, fail, v, D, "momentum buffer");

    TTP_CALL_GOTO(ctx, st, fail, evaluate(ctx, comm, &k, m, d, m->w, o->loss, &r->loss[0], &r->acc[0]));
    int64_t every = T / 10 > 0 ? T / 10 : 1;
    for (int64_t t = 0; t < T; t++) {
        double t0 = ttp_time();
        int64_t nbt = ttp_batch_indices(o->seed, n, B, t, perm, &epoch, idx);
        TTP_CALL_GOTO(ctx, st, fail, opt_step(ctx, comm, &k, m, d, m->w, o, idx, nbt, g, gt, wt, v));
        t_steps += ttp_time() - t0;
        TTP_CALL_GOTO(ctx, st, fail,
                      evaluate(ctx, comm, &k, m, d, m->w, o->loss, &r->loss[t + 1], &r->acc[t + 1]));
        if (!isfinite(r->loss[t + 1])) {
            st = TTP_ERR(ctx, TTP_ERR_NUMERIC,
                         "training diverged: the loss is %g after step %lld (lr %g; try a smaller "
                         "option lr)",
                         r->loss[t + 1], (long long)(t + 1), o->lr);
            goto fail;
        }
        if ((t + 1) % every == 0) ttp_progress(ctx, "train", (double)(t + 1) / (double)T, t_start);
    }
    r->seconds = ttp_time() - t_start;
    r->sec_per_step = t_steps / (double)T;
    /* Every rank reports rank 0's timings, so results agree everywhere. */
    double tm[2] = {comm->rank == 0 ? r->seconds : 0.0, comm->rank == 0 ? r->sec_per_step : 0.0};
    TTP_CALL_GOTO(ctx, st, fail, comm->allreduce_sum(comm, tm, 2, ctx));
    r->seconds = tm[0];
    r->sec_per_step = tm[1];
    *out = r;
    r = NULL;
fail:
    ttp_train_result_destroy(&r);
    work_free(&k);
    free(perm);
    free(idx);
    free(g);
    free(gt);
    free(wt);
    free(v);
    return st;
}

ttp_status ttp_train_time_step(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                               const ttp_opt *o, int reps, double *sec_per_step)
{
    ttp_status st = TTP_OK;
    work k;
    int64_t *perm = NULL, *idx = NULL, epoch = -1;
    double *w = NULL, *g = NULL, *gt = NULL, *wt = NULL, *v = NULL;
    memset(&k, 0, sizeof k);
    if (reps < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "step timing: %d repetitions, expected >= 1", reps);
    TTP_CALL(ctx, ttp_opt_validate(ctx, o, d->n));
    TTP_CALL(ctx, ttp_train_check(ctx, m, d, o->loss));
    int64_t n = d->n, B = ttp_opt_batch(o, n), D = m->ntrainable;
    int64_t share = (B + comm->size - 1) / comm->size;
    TTP_CALL_GOTO(ctx, st, done, work_init(ctx, &k, m, d, share));
    TTP_ALLOC(ctx, st, done, perm, n, "batch permutation");
    TTP_ALLOC(ctx, st, done, idx, B, "batch indices");
    /* The steps update a copy: the model's weights are never touched. */
    TTP_ALLOC(ctx, st, done, w, m->nparams, "weight copy");
    memcpy(w, m->w, (size_t)m->nparams * sizeof(double));
    TTP_ALLOC(ctx, st, done, g, m->nparams, "gradient");
    TTP_ALLOC(ctx, st, done, gt, D, "trainable gradient");
    TTP_ALLOC(ctx, st, done, wt, D, "trainable weights");
    TTP_ALLOC(ctx, st, done, v, D, "momentum buffer");
    double t0 = 0.0;
    for (int r = 0; r <= reps; r++) {
        if (r == 1) t0 = ttp_time(); /* step 0 is the warm-up */
        int64_t nbt = ttp_batch_indices(o->seed, n, B, r, perm, &epoch, idx);
        TTP_CALL_GOTO(ctx, st, done, opt_step(ctx, comm, &k, m, d, w, o, idx, nbt, g, gt, wt, v));
    }
    double sps = (ttp_time() - t0) / (double)reps;
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, &sps, 1, ctx));
    *sec_per_step = sps / (double)comm->size;
done:
    work_free(&k);
    free(perm);
    free(idx);
    free(w);
    free(g);
    free(gt);
    free(wt);
    free(v);
    return st;
}

/* Bytes of the last-level cache: /sys's figure for CPU 0's highest level
 * (the cache a core really shares; sysconf may report a package's total),
 * else sysconf, else 32 MiB. */
static double last_level_cache(void)
{
    double best = 0.0;
    for (int i = 0; i < 8; i++) {
        char path[96], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (f == NULL) break;
        if (fgets(buf, sizeof buf, f)) {
            char *end = NULL;
            double v = strtod(buf, &end);
            if (end && (*end == 'K' || *end == 'k')) v *= 1024.0;
            if (end && (*end == 'M' || *end == 'm')) v *= 1048576.0;
            if (v > best) best = v;
        }
        fclose(f);
    }
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (best <= 0.0) best = (double)sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    return best > 0.0 ? best : 32.0 * 1048576.0;
}

/* Seconds of CPU this process has used (user and system). */
static double cpu_time(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fastest of reps timed gradient calls of nb samples (after one untimed). */
static ttp_status time_grad(ttp_ctx *ctx, work *k, const ttp_model *m, const ttp_data *d, const double *w,
                            const ttp_opt *o, const int64_t *idx, int64_t nb, int reps, double *g,
                            double *best)
{
    *best = INFINITY;
    for (int r = 0; r <= reps; r++) {
        double t0 = ttp_time();
        TTP_CALL(ctx, step_grad(ctx, k, m, d, w, o, idx, nb, nb, g));
        double t = ttp_time() - t0;
        if (r > 0 && t < *best) *best = t;
    }
    return TTP_OK;
}

ttp_status ttp_train_step_model(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                                const ttp_opt *o, int reps, ttp_step_model *out)
{
    ttp_status st = TTP_OK;
    work k;
    int64_t *perm = NULL, *idx = NULL, epoch = -1;
    double *w = NULL, *g = NULL, *gt = NULL, *wt = NULL, *v = NULL;
    const double t_start = ttp_time();
    memset(&k, 0, sizeof k);
    memset(out, 0, sizeof *out);
    if (reps < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "step timing: %d repetitions, expected >= 1", reps);
    const int reps_asked = reps;
    TTP_CALL(ctx, ttp_opt_validate(ctx, o, d->n));
    TTP_CALL(ctx, ttp_train_check(ctx, m, d, o->loss));
    const int64_t n = d->n, B = ttp_opt_batch(o, n), D = m->ntrainable, P = comm->size;
    const int64_t share = (B + P - 1) / P;
    ttp_layer_cost tot;
    ttp_model_cost(m, NULL, &tot);
    out->batch = B;
    out->share = share;
    out->nranks = comm->size;
    out->flops_per_sample = tot.flops_fwd + tot.flops_bwd;
    out->bytes_per_sample = tot.bytes;
    out->weight_bytes = tot.weight_bytes;
    /* the probe's batches: the share itself when small, else b and b/2 with
     * b ≈ s/32 (at least 8), so that the probe costs a few percent of a step */
    const int direct = share <= TTP_STEP_PROBE_DIRECT;
    int64_t hi = direct ? share : share / 32;
    if (!direct && hi < 8) hi = 8;
    const int64_t lo = direct ? share : hi / 2;
    out->probe_lo = lo;
    out->probe_hi = hi;
    /* the cap: at most TTP_STEP_PROBE_SAMPLES sample passes per rank over
     * the timed calls and their warm-ups (every rank alike: the update's
     * timing below is collective), at least one timed call per size */
    {
        const int64_t round = direct ? hi : hi + lo, most = TTP_STEP_PROBE_SAMPLES / round - 1;
        if (reps > most) reps = most > 1 ? (int)most : 1;
    }
    out->reps = reps;
    /* the gradient's timing is best of at least 3 calls (when asked for as
     * many): one call's time is too noisy to scale to a whole batch (it read
     * 2-3x high on the bundled task), and a call on the probe's few samples
     * is cheap next to the kernel stage */
    const int grad_reps = reps < 3 && reps_asked >= 3 ? 3 : reps;
    TTP_CALL_GOTO(ctx, st, done, work_init(ctx, &k, m, d, hi));
    TTP_ALLOC(ctx, st, done, perm, n, "batch permutation");
    TTP_ALLOC(ctx, st, done, idx, B, "batch indices");
    TTP_ALLOC(ctx, st, done, w, m->nparams, "weight copy");
    memcpy(w, m->w, (size_t)m->nparams * sizeof(double));
    TTP_ALLOC(ctx, st, done, g, m->nparams, "gradient");
    TTP_ALLOC(ctx, st, done, gt, D, "trainable gradient");
    TTP_ALLOC(ctx, st, done, wt, D, "trainable weights");
    TTP_ALLOC(ctx, st, done, v, D, "momentum buffer");
    /* the first batch's samples; this rank's contiguous part of them */
    int64_t nbt = ttp_batch_indices(o->seed, n, B, 0, perm, &epoch, idx), a, b;
    ttp_shard(nbt, comm->rank, comm->size, &a, &b);
    const int64_t *mine = idx + (b - a >= hi ? a : 0);
    double f[5] = {0.0, 0.0, 0.0, 0.0, 1.0}; /* t_call, s/sample, t_update, bandwidth, cpu share */
    double probe_wall = ttp_time(), probe_cpu = cpu_time();
    {
        double t_hi = 0.0, t_lo = 0.0;
        TTP_CALL_GOTO(ctx, st, done, time_grad(ctx, &k, m, d, w, o, mine, hi, grad_reps, g, &t_hi));
        if (direct) {
            f[1] = t_hi / (double)hi;
        } else {
            TTP_CALL_GOTO(ctx, st, done, time_grad(ctx, &k, m, d, w, o, mine, lo, grad_reps, g, &t_lo));
            f[1] = (t_hi - t_lo) / (double)(hi - lo);
            f[0] = t_hi - f[1] * (double)hi;
            /* timing noise can tilt the line: keep it through the larger
             * probe with a non-negative intercept and slope */
            if (f[1] <= 0.0 || f[0] < 0.0) {
                f[1] = t_hi / (double)hi;
                f[0] = 0.0;
            }
        }
    }
    probe_wall = ttp_time() - probe_wall;
    probe_cpu = cpu_time() - probe_cpu;
    {
        /* the reduction and update, timed on their own (every rank calls) */
        double best = INFINITY;
        for (int r = 0; r <= reps; r++) {
            double t0 = ttp_time();
            TTP_CALL_GOTO(ctx, st, done, step_update(ctx, comm, m, w, o, g, gt, wt, v));
            double t = ttp_time() - t0;
            if (r > 0 && t < best) best = t;
        }
        f[2] = best;
    }
    {
        /* memory bandwidth: a copy from and to twice a rank's part of the
         * cache (at least 16 MiB each), every rank at once as in a step;
         * only where the step's working set leaves the cache */
        const double L = last_level_cache(), Lr = L / (double)P;
        const size_t nbytes = (size_t)(2.0 * Lr > 16.0 * 1048576.0 ? 2.0 * Lr : 16.0 * 1048576.0);
        const int needed = (double)share * out->bytes_per_sample > Lr;
        char *src = needed ? malloc(nbytes) : NULL, *dst = needed ? malloc(nbytes) : NULL;
        double best = INFINITY;
        if (src && dst) {
            memset(src, 1, nbytes);
            memset(dst, 0, nbytes);
            for (int r = 0; r < 3; r++) { /* cheap next to the probe: always best of 3 */
                double t0 = ttp_time();
                memcpy(dst, src, nbytes);
                double t = ttp_time() - t0;
                if (t < best) best = t;
            }
        }
        free(src);
        free(dst);
        f[3] = isfinite(best) && best > 0.0 ? 2.0 * (double)nbytes / best : 0.0;
        out->cache_bytes = L / (double)P;
    }
    {
        /* the share of a core this process got over the gradient probes
         * (local work only: a rank waiting in MPI may sleep): a short call
         * runs within one time slice, a whole step does not */
        const double wall = probe_wall, cpu = probe_cpu;
        f[4] = wall > 0.0 && cpu > 0.0 ? (cpu < wall ? cpu / wall : 1.0) : 1.0;
    }
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, f, 5, ctx));
    out->cpu_share = f[4] / (double)P;
    out->bandwidth = f[3] / (double)P;
    out->sec_call = f[0] / (double)P;
    out->rate = f[1] > 0.0 ? out->flops_per_sample / (f[1] / (double)P) : 0.0;
    out->probe_share = (double)hi;
    out->sec_update = f[2] / (double)P;
    out->sec_per_step = ttp_step_model_eval(out, B);
    {
        double tp = ttp_time() - t_start;
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_max(comm, &tp, 1, ctx));
        out->sec_probe = tp;
    }
done:
    work_free(&k);
    free(perm);
    free(idx);
    free(w);
    free(g);
    free(gt);
    free(wt);
    free(v);
    return st;
}

/* φ(s): the part of s samples' working set beyond a rank's cache. */
static double out_of_cache(const ttp_step_model *sm, double s)
{
    const double ws = s * sm->bytes_per_sample;
    return ws > sm->cache_bytes && ws > 0.0 ? 1.0 - sm->cache_bytes / ws : 0.0;
}

double ttp_step_model_eval(const ttp_step_model *sm, int64_t batch)
{
    const int64_t P = sm->nranks > 0 ? sm->nranks : 1, s = (batch + P - 1) / P;
    double per_sample = sm->rate > 0.0 ? sm->flops_per_sample / sm->rate : 0.0;
    if (sm->bandwidth > 0.0) {
        const double extra = out_of_cache(sm, (double)s) - out_of_cache(sm, sm->probe_share);
        if (extra > 0.0) per_sample += extra * sm->bytes_per_sample / sm->bandwidth;
    }
    return sm->sec_call + (double)s * per_sample + sm->sec_update;
}

ttp_status ttp_train_write(ttp_ctx *ctx, const char *path, const ttp_train_result *r, const ttp_opt *o,
                           const char *model_path, const char *data_path)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    int nc = -1, ds, vstep, vl, va;
    int *steps = NULL;
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_CLOBBER | NC_64BIT_OFFSET));
    nc = f.id;
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "step", (size_t)(r->steps + 1), &ds),
           "defining dimension step in '%s'", path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "step", NC_INT, 1, &ds, &vstep), "defining variable step in '%s'",
           path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "loss", NC_DOUBLE, 1, &ds, &vl), "defining variable loss in '%s'",
           path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "accuracy", NC_DOUBLE, 1, &ds, &va),
           "defining variable accuracy in '%s'", path);
    static const char lname[] = "mean training loss on the whole training set after each step";
    static const char aname[] = "training accuracy (fraction of argmax predictions that are right)";
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, vl, "long_name", lname, path));
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, va, "long_name", aname, path));

    struct {
        const char *name, *val;
    } texts[] = {
        {"ttp_kind", "train_result"},
        {"loss_kind", ttp_loss_str(o->loss)},
        {"model", model_path ? model_path : ""},
        {"data", data_path ? data_path : ""},
        {"conventions", "loss (1/N) sum_i l_i; batch gradient (1/|B|) sum_{i in B} grad l_i + wd w; "
                        "heavy-ball momentum v <- m v + g, w <- w - lr v; curves at steps 0..T"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, texts[i].name, texts[i].val, path));
    struct {
        const char *name;
        double val;
    } nums[] = {
        {"lr", o->lr},           {"momentum", o->momentum},         {"weight_decay", o->wd},
        {"seconds", r->seconds}, {"sec_per_step", r->sec_per_step},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        TTP_NC(ctx, st, fail, nc_put_att_double(nc, NC_GLOBAL, nums[i].name, NC_DOUBLE, 1, &nums[i].val),
               "writing attribute %s in '%s'", nums[i].name, path);
    /* The classic format has no 64-bit integers: counts are int, the seed a
     * double (exact below 2^53). */
    int ints[] = {(int)o->batch, o->nesterov, (int)r->steps};
    const char *inames[] = {"batch", "nesterov", "steps"};
    for (size_t i = 0; i < 3; i++)
        TTP_NC(ctx, st, fail, nc_put_att_int(nc, NC_GLOBAL, inames[i], NC_INT, 1, &ints[i]),
               "writing attribute %s in '%s'", inames[i], path);
    double seed = (double)o->seed;
    TTP_NC(ctx, st, fail, nc_put_att_double(nc, NC_GLOBAL, "seed", NC_DOUBLE, 1, &seed),
           "writing attribute seed in '%s'", path);
    TTP_NC(ctx, st, fail, nc_enddef(nc), "ending the definitions of '%s'", path);
    TTP_ALLOC(ctx, st, fail, steps, r->steps + 1, "step numbers");
    for (int64_t t = 0; t <= r->steps; t++) steps[t] = (int)t;
    TTP_NC(ctx, st, fail, nc_put_var_int(nc, vstep, steps), "writing step to '%s'", path);
    TTP_NC(ctx, st, fail, nc_put_var_double(nc, vl, r->loss), "writing loss to '%s'", path);
    TTP_NC(ctx, st, fail, nc_put_var_double(nc, va, r->acc), "writing accuracy to '%s'", path);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    free(steps);
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    free(steps);
    return st;
}

ttp_status ttp_train_write_json(ttp_ctx *ctx, const char *path, const ttp_train_result *r, const ttp_opt *o,
                                const ttp_model *m, const ttp_data *d, const char *model_path,
                                const char *data_path)
{
    ttp_json *j = NULL;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    /* ttp_json_open has opened the top-level object. */
    ttp_json_str(j, "command", "train");
    ttp_json_str(j, "model", model_path);
    ttp_json_str(j, "data", data_path);
    ttp_json_int(j, "samples", d->n);
    ttp_json_int(j, "outputs", m->nout);
    ttp_json_int(j, "trainable_parameters", m->ntrainable);
    ttp_json_begin_object(j, "settings");
    ttp_json_str(j, "loss", ttp_loss_str(o->loss));
    ttp_json_num(j, "lr", o->lr);
    ttp_json_int(j, "batch", ttp_opt_batch(o, d->n));
    ttp_json_num(j, "momentum", o->momentum);
    ttp_json_bool(j, "nesterov", o->nesterov);
    ttp_json_num(j, "wd", o->wd);
    ttp_json_int(j, "steps", o->steps);
    ttp_json_int(j, "seed", (int64_t)o->seed);
    ttp_json_end_object(j);
    ttp_json_num(j, "initial_loss", r->loss[0]);
    ttp_json_num(j, "final_loss", r->loss[r->steps]);
    ttp_json_num(j, "initial_accuracy", r->acc[0]);
    ttp_json_num(j, "final_accuracy", r->acc[r->steps]);
    ttp_json_num(j, "seconds", r->seconds);
    ttp_json_num(j, "sec_per_step", r->sec_per_step);
    ttp_json_nums(j, "loss", r->loss, r->steps + 1);
    ttp_json_nums(j, "accuracy", r->acc, r->steps + 1);
    return ttp_json_close(ctx, &j);
}
