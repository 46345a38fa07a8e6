/*
 * sweep.c — many optimizer settings from one kernel (ttp_sweep.h): the grid,
 * its checks, the collective run and the ordering by wall-clock.  The
 * per-setting work is ttp_predict_setting, the same code `predict` runs.
 */
#include "ttp_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ttp_sweep_opts_default(ttp_sweep_opts *o)
{
    memset(o, 0, sizeof *o);
    ttp_predict_opts_default(&o->base);
    o->faith_all = 1;
}

static int64_t len_or_one(int n)
{
    return n > 0 ? n : 1;
}

int64_t ttp_sweep_count(const ttp_sweep_opts *o)
{
    return len_or_one(o->nbatch) * len_or_one(o->nmom) * len_or_one(o->nwd) * len_or_one(o->nsteps) *
           len_or_one(o->nlr);
}

void ttp_sweep_setting(const ttp_sweep_opts *o, int64_t i, ttp_predict_opts *out)
{
    *out = o->base;
    int64_t r = i;
    const int64_t nl = len_or_one(o->nlr), ns = len_or_one(o->nsteps), nw = len_or_one(o->nwd),
                  nm = len_or_one(o->nmom);
    if (o->nlr > 0) out->opt.lr = o->lrs[r % nl];
    r /= nl;
    if (o->nsteps > 0) out->opt.steps = o->steps[r % ns];
    r /= ns;
    if (o->nwd > 0) out->opt.wd = o->wds[r % nw];
    r /= nw;
    if (o->nmom > 0) out->opt.momentum = o->momenta[r % nm];
    r /= nm;
    if (o->nbatch > 0) out->opt.batch = o->batches[r];
}

ttp_status ttp_sweep_opts_validate(ttp_ctx *ctx, const ttp_sweep_opts *o, int64_t n)
{
    const struct {
        const char *field;
        int len;
    } lists[] = {
        {"lrs", o->nlr}, {"batches", o->nbatch}, {"momenta", o->nmom}, {"wds", o->nwd}, {"steps", o->nsteps}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (lists[i].len < 0 || lists[i].len > TTP_SWEEP_MAX_LIST)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %d values, expected 1..%d", lists[i].field,
                           lists[i].len, TTP_SWEEP_MAX_LIST);
    for (int i = 0; i < o->nlr; i++)
        if (!(o->lrs[i] > 0) || !isfinite(o->lrs[i]))
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "option lrs: value %d is %g, expected a finite learning rate > 0", i + 1,
                           o->lrs[i]);
    for (int i = 0; i < o->nbatch; i++)
        if (o->batches[i] < 0 || (n > 0 && o->batches[i] > n))
            return TTP_ERR(
                ctx, TTP_ERR_ARG,
                "option batches: value %d is %lld, expected 0 (full batch) or 1..%lld (the dataset's "
                "samples)",
                i + 1, (long long)o->batches[i], (long long)n);
    for (int i = 0; i < o->nmom; i++)
        if (!(o->momenta[i] >= 0 && o->momenta[i] < 1))
            return TTP_ERR(ctx, TTP_ERR_ARG, "option momenta: value %d is %g, expected a value in [0, 1)",
                           i + 1, o->momenta[i]);
    for (int i = 0; i < o->nwd; i++)
        if (!(o->wds[i] >= 0) || !isfinite(o->wds[i]))
            return TTP_ERR(ctx, TTP_ERR_ARG, "option wds: value %d is %g, expected a finite value >= 0",
                           i + 1, o->wds[i]);
    for (int i = 0; i < o->nsteps; i++)
        if (o->steps[i] < 1 || o->steps[i] > TTP_MAX_STEPS)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option steps: value %d is %lld, expected 1..%lld", i + 1,
                           (long long)o->steps[i], (long long)TTP_MAX_STEPS);
    const int64_t count = ttp_sweep_count(o);
    if (count > TTP_SWEEP_MAX_SETTINGS)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "options lrs/batches/momenta/wds/steps: %d x %d x %d x %d x %d = %lld settings, more "
                       "than the limit of %d per sweep; split the grid into several sweeps (each can reuse "
                       "the kernel with --kernel)",
                       (int)len_or_one(o->nlr), (int)len_or_one(o->nbatch), (int)len_or_one(o->nmom),
                       (int)len_or_one(o->nwd), (int)len_or_one(o->nsteps), (long long)count,
                       TTP_SWEEP_MAX_SETTINGS);
    if (o->base.relin_every != 0)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "option relin_every: re-linearization rebuilds the kernel for every setting, which "
                       "a sweep exists to avoid; sweep without it, then run predict --relinearize on the "
                       "chosen setting");
    if (o->base.nextrap > 0)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "option extrap: a sweep predicts at one dataset size (N, or from --subset); run "
                       "predict --extrapolate on the chosen setting");
    if (!(o->budget >= 0) || !isfinite(o->budget))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option budget: %g seconds, expected a finite value >= 0",
                       o->budget);
    if (o->budget_steps < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option budget_steps: %lld, expected >= 0",
                       (long long)o->budget_steps);
    if (o->budget > 0 && o->base.time_reps <= 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option budget: a budget in seconds needs the wall-clock, but option time_reps is 0 "
                       "(no step is timed); time steps, or give the budget in steps (option budget_steps)");
    for (int64_t i = 0; i < count; i++) {
        ttp_predict_opts s;
        ttp_sweep_setting(o, i, &s);
        TTP_CALL(ctx, ttp_predict_opts_validate(ctx, &s, n));
    }
    return TTP_OK;
}

void ttp_sweep_result_destroy(ttp_sweep_result **pr)
{
    ttp_sweep_result *r = pr ? *pr : NULL;
    if (r == NULL) return;
    if (r->pred)
        for (int64_t i = 0; i < r->count; i++) ttp_prediction_destroy(&r->pred[i]);
    free(r->pred);
    free(r->opts);
    free(r->order);
    free(r->faith_checked);
    ttp_kernel_destroy(&r->kernel);
    free(r);
    *pr = NULL;
}

/* The ordering key: predicted seconds when timed, else steps; +inf when the
 * setting does not converge within its T. */
static double sort_key(const ttp_sweep_result *r, int64_t i)
{
    const ttp_prediction *p = r->pred[i];
    const int64_t s = p->main.tt[0].steps;
    if (s < 0) return INFINITY;
    return isfinite(p->sec_per_step) ? p->main.wall : (double)s;
}

/* A stable order by key (ties in grid order): insertion sort, as the grid
 * is at most TTP_SWEEP_MAX_SETTINGS long and the library keeps no state. */
static void order_settings(ttp_sweep_result *r)
{
    for (int64_t i = 0; i < r->count; i++) r->order[i] = i;
    for (int64_t i = 1; i < r->count; i++) {
        int64_t v = r->order[i], j = i;
        while (j > 0) {
            const double kv = sort_key(r, v), kp = sort_key(r, r->order[j - 1]);
            if (kp < kv || (kp == kv && r->order[j - 1] < v)) break;
            r->order[j] = r->order[j - 1];
            j--;
        }
        r->order[j] = v;
    }
}

static int within_budget(const ttp_sweep_opts *o, const ttp_prediction *p)
{
    const int64_t s = p->main.tt[0].steps;
    if (!p->valid || s < 0) return 0;
    if (o->budget_steps > 0 && s > o->budget_steps) return 0;
    if (o->budget > 0 && !(p->main.wall <= o->budget)) return 0;
    return 1;
}

/* ---- spreading the settings over the ranks ------------------------------ */

/* Every rank gets rank 0's kernel (the arrays the dynamics and the checks
 * read), so that each can run its share of the settings.  Collective. */
static ttp_status bcast_kernel(ttp_ctx *ctx, const ttp_comm *comm, ttp_kernel **kp)
{
    ttp_status st = TTP_OK;
    ttp_kernel head, *k = comm->rank == 0 ? *kp : NULL;
    if (comm->rank == 0) head = *k;
    TTP_CALL(ctx, comm->bcast(comm, &head, (int64_t)sizeof head, 0, ctx));
    if (comm->rank != 0) {
        TTP_CALL(ctx, ttp_kernel_create(ctx, &k));
        *k = head; /* the scalars; the array pointers are replaced below */
        k->f0 = k->u0 = k->eigval = k->eigvec = k->p_res = k->p_grad = k->theta = k->targets = NULL;
        k->labels = NULL;
        *kp = k;
    }
    const int64_t NC = head.n * head.c;
    struct {
        void **dst;
        const void *present;
        int64_t bytes;
    } arr[] = {
        {(void **)&k->f0, head.f0, NC * (int64_t)sizeof(double)},
        {(void **)&k->u0, head.u0, NC * (int64_t)sizeof(double)},
        {(void **)&k->labels, head.labels, head.n * (int64_t)sizeof(int)},
        {(void **)&k->targets, head.targets, head.n * head.ntargets * (int64_t)sizeof(double)},
        {(void **)&k->eigval, head.eigval, head.neig * (int64_t)sizeof(double)},
        {(void **)&k->eigvec, head.eigvec, NC * head.neig * (int64_t)sizeof(double)},
        {(void **)&k->p_res, head.p_res, head.neig * (int64_t)sizeof(double)},
        {(void **)&k->p_grad, head.p_grad, head.neig * (int64_t)sizeof(double)},
        {(void **)&k->theta, head.theta, NC * NC * (int64_t)sizeof(double)},
    };
    for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++) {
        if (arr[i].present == NULL || arr[i].bytes <= 0) continue;
        if (comm->rank != 0) {
            *arr[i].dst = malloc((size_t)arr[i].bytes);
            if (*arr[i].dst == NULL)
                st = TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate %lld bytes of the kernel's arrays",
                             (long long)arr[i].bytes);
        }
        TTP_CALL(ctx, ttp_comm_agree(ctx, comm, st, "receiving the kernel"));
        TTP_CALL(ctx, comm->bcast(comm, *arr[i].dst, arr[i].bytes, 0, ctx));
    }
    return TTP_OK;
}

/* Setting i's prediction, computed on rank `owner`, to every rank: the
 * struct, then its curves (what the outputs read).  Collective. */
static ttp_status bcast_prediction(ttp_ctx *ctx, const ttp_comm *comm, int owner, ttp_prediction **pp)
{
    ttp_status st = TTP_OK;
    ttp_prediction *p = comm->rank == owner ? *pp : NULL;
    int64_t dims[2] = {0, 0};
    if (comm->rank == owner) dims[0] = p->main.curves->steps, dims[1] = p->main.curves->members;
    TTP_CALL(ctx, comm->bcast(comm, dims, (int64_t)sizeof dims, owner, ctx));
    if (comm->rank != owner) {
        p = calloc(1, sizeof *p);
        if (p == NULL) st = TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate a prediction");
    }
    TTP_CALL(ctx, ttp_comm_agree(ctx, comm, st, "receiving a prediction"));
    ttp_curves *cv = comm->rank == owner ? p->main.curves : NULL;
    TTP_CALL(ctx, comm->bcast(comm, p, (int64_t)sizeof *p, owner, ctx));
    if (comm->rank != owner) {
        p->main.curves = NULL;
        p->kernel = NULL;
        p->faith_trace = NULL;
        for (int i = 0; i < TTP_MAX_EXTRAP; i++) p->extrap[i].curves = NULL;
        p->nextrap = 0;
        *pp = p;
        st = ttp_curves_create(ctx, dims[0], (int)dims[1], &cv);
        p->main.curves = cv;
    }
    TTP_CALL(ctx, ttp_comm_agree(ctx, comm, st, "receiving a prediction"));
    const int64_t T1 = dims[0] + 1, M = dims[1];
    double *a[8] = {cv->loss,   cv->loss_lo, cv->loss_hi,     cv->acc,
                    cv->acc_lo, cv->acc_hi,  cv->member_loss, cv->member_acc};
    for (int i = 0; i < 8; i++)
        TTP_CALL(ctx, comm->bcast(comm, a[i], (i < 6 ? T1 : T1 * M) * (int64_t)sizeof(double), owner, ctx));
    TTP_CALL(ctx, comm->bcast(comm, &cv->diverged, (int64_t)sizeof cv->diverged, owner, ctx));
    return TTP_OK;
}

/* ---- the settings' own stage ------------------------------------------- */

/* Setting i's seconds per step (its batch size's timing). */
static double setting_sps(const ttp_sweep_result *r, int64_t i, int64_t n)
{
    const int64_t b = ttp_opt_batch(&r->opts[i].opt, n);
    for (int j = 0; j < r->nbatch; j++)
        if (r->batch[j] == b) return r->sec_per_step[j];
    return NAN;
}

/* Setting i's prediction as `predict` makes it (pre: its simulated curves,
 * or NULL to simulate here), and its faithfulness when every setting is
 * checked.  Rank-local. */
static ttp_status run_setting(ttp_ctx *ctx, const ttp_model *model, const ttp_data *kdata,
                              const ttp_kernel *k, const ttp_sweep_opts *o, ttp_sweep_result *r, int64_t i,
                              int64_t n, ttp_predict_pre *pre)
{
    ttp_status st;
    const double sps = setting_sps(r, i, n);
    /* one progress line for the sweep, not a "dynamics" line per setting */
    const int verbose = ctx->verbose;
    ctx->verbose = 0;
    if (pre)
        st = ttp_predict_from_sim(ctx, k, &r->opts[i], sps, pre, &r->pred[i]);
    else
        st = ttp_predict_from_kernel(ctx, k, &r->opts[i], n, sps, &r->pred[i]);
    if (st == TTP_OK && o->faith_all) {
        st = ttp_predict_faith(ctx, model, kdata, k, &r->opts[i], r->pred[i]);
        if (st != TTP_OK) ttp_prediction_destroy(&r->pred[i]);
    }
    ctx->verbose = verbose;
    if (st == TTP_OK) r->pred[i]->nranks = r->nranks;
    return st;
}

/* Columns (settings × ensemble members) simulated together at most: the
 * product's width, and 4 NC doubles of state per column. */
#define SWEEP_GROUP_COLUMNS 128

static int same_group(const ttp_predict_opts *a, const ttp_predict_opts *b, int64_t n)
{
    return a->opt.loss == b->opt.loss && ttp_opt_batch(&a->opt, n) == ttp_opt_batch(&b->opt, n) &&
           a->opt.steps == b->opt.steps && a->opt.seed == b->opt.seed && a->sim.seed == b->sim.seed &&
           a->sim.ensemble == b->sim.ensemble && a->sim.band_lo == b->sim.band_lo &&
           a->sim.band_hi == b->sim.band_hi;
}

/* The grouped settings stage (see ttp_sweep_run); owner[i] receives the
 * rank of setting i.  Rank-local work, no collective. */
static ttp_status run_groups(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                             const ttp_data *kdata, const ttp_kernel *k, const ttp_sweep_opts *o,
                             ttp_sweep_result *r, int *owner, double ts)
{
    ttp_status st = TTP_OK;
    const int64_t n = k->n, count = r->count;
    int64_t *group = NULL, *mine = NULL, done_count = 0;
    ttp_opt *opts = NULL;
    ttp_curves **cv = NULL;
    ttp_sim_trace **tr = NULL;
    double *tops = NULL;
    int64_t *sizes = NULL;
    TTP_ALLOC(ctx, st, out, group, (size_t)count, "sweep groups");
    TTP_ALLOC(ctx, st, out, mine, (size_t)count, "sweep groups");
    TTP_ALLOC(ctx, st, out, opts, (size_t)count, "sweep groups");
    TTP_ALLOC(ctx, st, out, cv, (size_t)count, "sweep groups");
    TTP_ALLOC(ctx, st, out, tr, (size_t)count, "sweep groups");
    TTP_ALLOC(ctx, st, out, tops, 32, "batch eigenvalues");
    TTP_ALLOC(ctx, st, out, sizes, 32, "batch sizes");
    /* group[i]: the first setting of i's group; its j-th member goes to rank j mod size */
    for (int64_t i = 0; i < count; i++) {
        int64_t g = i, j = 0;
        for (int64_t h = 0; h < i; h++)
            if (group[h] == h && same_group(&r->opts[h], &r->opts[i], n)) g = h;
        group[i] = g;
        for (int64_t h = 0; h < i; h++) j += group[h] == g;
        owner[i] = (int)(j % comm->size);
    }
    ttp_theta th;
    memset(&th, 0, sizeof th);
    th.n = k->n, th.c = k->c;
    if (k->theta)
        th.dense = k->theta;
    else
        th.k = k->neig, th.vecs = k->eigvec, th.vals = k->eigval;
    ttp_sim_problem prob = {&th, k->n, k->c, k->f0, k->u0, k->labels, k->targets};
    for (int64_t g = 0; g < count && st == TTP_OK; g++) {
        if (group[g] != g) continue;
        /* this rank's settings of the group */
        int64_t S = 0;
        for (int64_t i = g; i < count; i++)
            if (group[i] == g && owner[i] == comm->rank) mine[S++] = i;
        if (S == 0) continue;
        const ttp_predict_opts *po = &r->opts[mine[0]];
        const int64_t B = ttp_opt_batch(&po->opt, n);
        const int M = B >= n ? 1 : po->sim.ensemble;
        ttp_sim_opts so = po->sim;
        if (B >= n) so.ensemble = 1; /* GD is deterministic */
        /* the guard's batch eigenvalues: member 0's schedule, whatever the optimizer */
        int64_t nbt = ttp_predict_guard_batches(n, B);
        if (nbt > 0 && (k->theta || k->eigvec)) {
            ttp_opt bo = po->opt;
            bo.seed = po->sim.seed ? po->sim.seed : po->opt.seed;
            TTP_CALL_GOTO(ctx, st, out, ttp_sim_batch_tops(ctx, &th, &bo, nbt, tops, sizes));
        } else {
            nbt = 0;
        }
        int64_t chunk = SWEEP_GROUP_COLUMNS / M;
        if (chunk < 1) chunk = 1;
        for (int64_t c0 = 0; c0 < S && st == TTP_OK; c0 += chunk) {
            const int64_t Sc = S - c0 < chunk ? S - c0 : chunk;
            for (int64_t j = 0; j < Sc; j++) cv[j] = NULL, tr[j] = NULL;
            for (int64_t j = 0; j < Sc; j++) {
                opts[j] = r->opts[mine[c0 + j]].opt;
                cv[j] = NULL;
                st = ttp_faith_trace_alloc(ctx, opts[j].steps, k->n * k->c, &tr[j]);
                if (st != TTP_OK) break;
            }
            if (st == TTP_OK) st = ttp_sim_run_many(ctx, &prob, (int)Sc, opts, &so, tr, cv);
            for (int64_t j = 0; j < Sc; j++) {
                if (st == TTP_OK) {
                    ttp_predict_pre pre = {cv[j], tr[j], nbt, tops, sizes};
                    st = run_setting(ctx, model, kdata, k, o, r, mine[c0 + j], n, &pre);
                    cv[j] = pre.curves, tr[j] = pre.trace; /* whatever was not taken */
                    done_count++;
                    ttp_progress(ctx, "settings", (double)done_count * comm->size / (double)count, ts);
                }
                ttp_curves_destroy(&cv[j]);
                free(tr[j]);
                tr[j] = NULL;
            }
        }
    }
out:
    free(group), free(mine), free(opts), free(cv), free(tr), free(tops), free(sizes);
    return st;
}

ttp_status ttp_sweep_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                         const ttp_sweep_opts *o, ttp_sweep_result **out)
{
    ttp_status st = TTP_OK;
    ttp_sweep_result *r = NULL;
    ttp_data *sub = NULL;
    int *owner = NULL;
    const double t0 = ttp_time();
    *out = NULL;

    /* Every setting is checked before the kernel is built. */
    TTP_CALL(ctx, ttp_sweep_opts_validate(ctx, o, data->n));
    TTP_CALL(ctx, ttp_train_check(ctx, model, data, o->base.opt.loss));
    TTP_ALLOC(ctx, st, done, r, 1, "sweep result");
    r->count = ttp_sweep_count(o);
    r->best = -1;
    r->n = data->n;
    r->nranks = comm->size;
    TTP_ALLOC(ctx, st, done, r->opts, (size_t)r->count, "sweep settings");
    TTP_ALLOC(ctx, st, done, r->order, (size_t)r->count, "sweep order");
    TTP_ALLOC(ctx, st, done, r->faith_checked, (size_t)r->count, "sweep checks");
    for (int64_t i = 0; i < r->count; i++) ttp_sweep_setting(o, i, &r->opts[i]);

    double tk = ttp_time();
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_kernel(ctx, comm, model, data, &o->base, &sub, &r->kernel));
    const ttp_data *kdata = sub ? sub : data;
    r->sec_kernel = ttp_time() - tk;

    /* One timing per distinct batch size (in the order they first appear). */
    double tt = ttp_time();
    for (int64_t i = 0; i < r->count; i++) {
        const int64_t b = ttp_opt_batch(&r->opts[i].opt, data->n);
        int seen = 0;
        for (int j = 0; j < r->nbatch; j++) seen |= r->batch[j] == b;
        if (seen) continue;
        r->batch[r->nbatch] = b;
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_predict_step_seconds(ctx, comm, model, data, &r->opts[i].opt, o->base.time_reps,
                                               o->base.step_timing, &r->sec_per_step[r->nbatch], NULL));
        r->nbatch++;
    }
    r->sec_timing = ttp_time() - tt;

    /* The settings are spread round-robin over the ranks, each with rank
     * 0's kernel; rank 0 then gathers every prediction.  A setting's numbers
     * do not depend on the rank that computed them (same code, same data). */
    if (comm->size > 1) {
        if (comm->rank != 0) ttp_kernel_destroy(&r->kernel);
        TTP_CALL_GOTO(ctx, st, done, bcast_kernel(ctx, comm, &r->kernel));
    }
    const ttp_kernel *k = r->kernel;
    double ts = ttp_time();
    r->n_kernel = k->n;
    r->c = k->c;
    r->d = k->d;
    r->dproj = k->dproj;
    r->mu_max = k->neig > 0 ? k->eigval[0] / (double)k->n : 0.0;
    TTP_ALLOC(ctx, st, done, r->pred, (size_t)r->count, "sweep predictions");
    TTP_ALLOC(ctx, st, done, owner, (size_t)r->count, "sweep owners");
    for (int64_t i = 0; i < r->count; i++) r->faith_checked[i] = (unsigned char)o->faith_all;
    /* On the kernel's own samples the settings run in groups that share the
     * loss, batch size, steps and seed (ttp_sim_run_many: one product over
     * the eigenvectors a step for the whole group) with the guard's batch
     * eigenvalues computed once per group; a group's settings are dealt
     * round-robin over the ranks.  Otherwise (a subset's extrapolation)
     * each setting runs on its own, round-robin. */
    if (data->n == k->n) {
        st = run_groups(ctx, comm, model, kdata, k, o, r, owner, ts);
    } else {
        for (int64_t i = 0; i < r->count; i++) owner[i] = (int)(i % comm->size);
        for (int64_t i = 0; i < r->count && st == TTP_OK; i++) {
            if (owner[i] != comm->rank) continue;
            st = run_setting(ctx, model, kdata, k, o, r, i, data->n, NULL);
            ttp_progress(ctx, "settings", (double)(i + 1) / (double)r->count, ts);
        }
    }
    if (comm->size > 1) {
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the sweep's settings"));
        for (int64_t i = 0; i < r->count; i++)
            TTP_CALL_GOTO(ctx, st, done, bcast_prediction(ctx, comm, owner[i], &r->pred[i]));
    } else if (st != TTP_OK) {
        goto done;
    }
    r->sec_settings = ttp_time() - ts;
    order_settings(r);
    if (comm->rank == 0) {
        /* Faithfulness can only make a setting invalid and does not move its
         * training time, so measuring it in table order until a candidate
         * survives names the same best setting as measuring every one. */
        for (int64_t q = 0; q < r->count && r->best < 0; q++) {
            const int64_t i = r->order[q];
            if (!within_budget(o, r->pred[i])) continue;
            if (!r->faith_checked[i]) {
                TTP_CALL_GOTO(ctx, st, done,
                              ttp_predict_faith(ctx, model, kdata, k, &r->opts[i], r->pred[i]));
                r->faith_checked[i] = 1;
            }
            if (within_budget(o, r->pred[i])) r->best = i;
        }
        for (int64_t i = 0; i < r->count; i++)
            if (!r->faith_checked[i])
                snprintf(r->pred[i]->faith.note, sizeof r->pred[i]->faith.note,
                         "not measured: the sweep checked faithfulness only up to its best setting");
    }
    r->seconds = ttp_time() - t0;
    *out = r;
    r = NULL;
done:
    ttp_sweep_result_destroy(&r);
    ttp_data_destroy(&sub);
    free(owner);
    return st;
}
