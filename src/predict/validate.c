/*
 * validate.c — the grid of real trainings and predictions behind
 * `ttpredict validate`, its totals, and its outputs.
 */
#include "ttp_validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_kbuild.h"
#include "ttp_report.h"

static void common_defaults(ttp_validate_opts *o)
{
    memset(o, 0, sizeof *o);
    ttp_predict_opts_default(&o->pred);
    /* The grid compares one kernel with many real runs: the structured
     * sketch always (clamped to the model's D, see ttp_validate_run). */
    o->pred.kernel.proj = TTP_PROJ_KRON;
    o->pred.kernel.dproj = TTP_KERNEL_AUTO_DPROJ;
    o->pred.dproj_raise = TTP_DPROJ_RAISES; /* its projection is its own choice (§6l) */
    o->pred.time_reps = 0;
    o->steps = 150;
    o->seed = 1;
    o->gd = o->sgd = 1;
}

void ttp_validate_opts_default(ttp_validate_opts *o)
{
    common_defaults(o);
    o->nloss = 2, o->losses[0] = TTP_LOSS_CE, o->losses[1] = TTP_LOSS_MSE;
    /* Learning rates around the bundled task's linear regime: with
     * mu_max(Θ/N) ≈ 125, η_eff·κ·μ_max runs from 0.6 to 2.5 (MSE; momentum
     * 0.5 doubles η_eff, so lr 0.01 with it lies just outside), half that
     * (CE).  16 cases: a full-batch real run at N = 750 costs 20–30 s on two
     * shared cores, so this grid takes about 4–5 minutes; wider grids are
     * one option away (--lrs 0.0025,0.005,0.01 --batches 32,128 ...). */
    o->nlr = 2, o->lrs[0] = 0.005, o->lrs[1] = 0.01;
    o->nbatch = 1, o->batches[0] = 32;
    o->nmom = 2, o->momenta[0] = 0.0, o->momenta[1] = 0.5;
    o->nsize = 1, o->sizes[0] = 0;
    o->ntt = 3;
    const double f[3] = {0.2, 0.1, 0.05};
    for (int i = 0; i < 3; i++) o->tt[i] = (ttp_tt_def){TTP_TT_REL, f[i], 1};
}

void ttp_validate_opts_quick(ttp_validate_opts *o)
{
    common_defaults(o);
    o->nloss = 1, o->losses[0] = TTP_LOSS_MSE;
    o->nlr = 1, o->lrs[0] = 0.005;
    o->nbatch = 1, o->batches[0] = 32;
    o->nmom = 1, o->momenta[0] = 0.0;
    o->nsize = 1, o->sizes[0] = 150;
    o->ntt = 2;
    o->tt[0] = (ttp_tt_def){TTP_TT_REL, 0.2, 1};
    o->tt[1] = (ttp_tt_def){TTP_TT_REL, 0.1, 1};
    o->steps = 30;
    o->pred.kernel.dproj = 256;
    o->pred.sim.ensemble = 4;
}

void ttp_validation_destroy(ttp_validation **pv)
{
    ttp_validation *v = pv ? *pv : NULL;
    if (v == NULL) return;
    for (int i = 0; i < v->ncases; i++) {
        free(v->cases[i].real_loss);
        free(v->cases[i].pred_loss);
        free(v->cases[i].pred_lo_loss);
        free(v->cases[i].pred_hi_loss);
    }
    free(v->cases);
    free(v);
    *pv = NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * The totals over (case, definition) pairs.  A pair is excluded only when
 * the truth is missing: the real run diverged or never met the criterion
 * (real time −1, or 0 where the loss never fell).  A prediction that never
 * meets the criterion while the real run does is a miss, not an exclusion:
 * it counts in the fractions and in pred_unreached, and only the medians,
 * which need a number, leave it out.
 */
static void totals(ttp_validation *v, const ttp_validate_opts *o)
{
    ttp_val_totals *t = &v->tot;
    memset(t, 0, sizeof *t);
    int npairs = v->ncases * o->ntt, nm = 0;
    double *rel = calloc((size_t)(npairs + 1), sizeof *rel),
           *abse = calloc((size_t)(npairs + 1), sizeof *abse);
    double *c1 = calloc((size_t)(v->ncases + 1), sizeof *c1),
           *c2 = calloc((size_t)(v->ncases + 1), sizeof *c2);
    if (!rel || !abse || !c1 || !c2) goto done;
    int nc = 0;
    for (int i = 0; i < v->ncases; i++) {
        const ttp_val_case *c = &v->cases[i];
        t->sec_train += c->sec_train;
        t->sec_predict += c->sec_predict;
        if (i == 0 || c->n != v->cases[i - 1].n) t->sec_kernel += c->sec_kernel;
        t->cases_diverged += c->diverged;
        t->cases_warned += !c->valid;
        /* a diverged run stopped early: its seconds are no training's cost */
        if (!c->diverged) {
            double pred_cost = c->sec_kernel + c->sec_predict;
            c1[nc] = c->sec_train / pred_cost;
            c2[nc] =
                c->sec_train / (c->sec_kernel / (c->kernel_cases > 0 ? c->kernel_cases : 1) + c->sec_predict);
            nc++;
        }
        for (int d = 0; d < o->ntt; d++) {
            if (c->diverged || c->real[d] <= 0) {
                t->excluded++;
                continue;
            }
            t->compared++;
            int reached = c->pred[d] >= 0;
            double e = reached ? fabs((double)(c->pred[d] - c->real[d])) / (double)c->real[d] : INFINITY;
            if (reached) {
                rel[nm] = e;
                abse[nm] = fabs((double)(c->pred[d] - c->real[d]));
                nm++;
            } else {
                t->pred_unreached++;
            }
            if (c->sgd) {
                t->sgd_n++, t->sgd_within += e <= TTP_VAL_SGD_TOL;
                if (c->valid) t->sgd_valid_n++, t->sgd_valid_within += e <= TTP_VAL_SGD_TOL;
                /* a band edge of −1 lies past the budget T */
                int64_t lo = c->pred_lo[d] < 0 ? v->steps + 1 : c->pred_lo[d];
                int64_t hi = c->pred_hi[d] < 0 ? v->steps + 1 : c->pred_hi[d];
                t->band_n++;
                t->in_band += c->real[d] >= lo && c->real[d] <= hi;
                if (c->valid) t->valid_band_n++, t->valid_in_band += c->real[d] >= lo && c->real[d] <= hi;
            } else {
                t->gd_n++, t->gd_within += e <= TTP_VAL_GD_TOL;
                if (c->valid) t->gd_valid_n++, t->gd_valid_within += e <= TTP_VAL_GD_TOL;
            }
        }
    }
    t->median_rel = median(rel, nm);
    t->median_abs = median(abse, nm);
    t->cost_ratio_oneoff = median(c1, nc);
    t->cost_ratio_amortized = median(c2, nc);
done:
    free(rel), free(abse), free(c1), free(c2);
}

/* One case of the grid before it runs: which dataset size and which
 * optimizer settings (the rest of ttp_opt from ttp_opt_default). */
typedef struct grid_case {
    int size;                      /* index into o->sizes                              */
    int loss, sgd, batch, lr, mom; /* indices into the lists (batch: SGD) */
} grid_case;

/*
 * The grid as a flat list, in the order the table shows it: by dataset size
 * (one kernel each, so cases of a size are consecutive), then loss, GD
 * before SGD, batch size, learning rate, momentum.  Returns the count;
 * cases may be NULL to count only.
 */
static int grid_cases(const ttp_validate_opts *o, grid_case *cases)
{
    int n = 0;
    for (int s = 0; s < o->nsize; s++)
        for (int l = 0; l < o->nloss; l++)
            for (int sgd = 0; sgd < 2; sgd++) {
                if (sgd ? !o->sgd : !o->gd) continue;
                for (int b = 0; b < (sgd ? o->nbatch : 1); b++)
                    for (int a = 0; a < o->nlr; a++)
                        for (int q = 0; q < o->nmom; q++, n++)
                            if (cases) cases[n] = (grid_case){s, l, sgd, b, a, q};
            }
    return n;
}

/* Check every setting before the first (long) training run. */
static ttp_status check_grid(ttp_ctx *ctx, const ttp_model *model, const ttp_data *data,
                             const ttp_validate_opts *o)
{
    if (grid_cases(o, NULL) == 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "validate: the grid is empty (no optimizer, learning rate or loss)");
    if (o->ntt < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "validate: no training-time definition given (option tt)");
    for (int s = 0; s < o->nsize; s++) {
        int64_t n = o->sizes[s] > 0 ? o->sizes[s] : data->n;
        if (n > data->n || n < 2)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option sizes: %lld, expected 2..%lld (0 = all samples)",
                           (long long)o->sizes[s], (long long)data->n);
        for (int b = 0; o->sgd && b < o->nbatch; b++)
            if (o->batches[b] < 1 || o->batches[b] >= n)
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "option batches: %lld, expected 1..%lld (below the dataset size %lld)",
                               (long long)o->batches[b], (long long)n - 1, (long long)n);
    }
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &o->pred.kernel, 0));
    if (o->pred.relin_every < 0 && o->pred.relin_every != TTP_RELIN_AUTO)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option relin_every: %lld, expected K >= 1 steps, 0 (off) or auto",
                       (long long)o->pred.relin_every);
    for (int l = 0; l < o->nloss; l++) TTP_CALL(ctx, ttp_train_check(ctx, model, data, o->losses[l]));
    return TTP_OK;
}

/* The prediction of case c from kernel k (rank 0), re-linearized when asked
 * (collective: every rank helps build the segments' kernels with the grid's
 * kernel options ko), and both curves' times (rank 0). */
static ttp_status predict_case(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *dd,
                               const ttp_kernel *k, const ttp_kernel_opts *ko, const ttp_validate_opts *o,
                               const ttp_train_result *r, ttp_val_case *c)
{
    ttp_status st = TTP_OK;
    ttp_prediction *p = NULL;
    ttp_kernel *kr = NULL; /* this case's own kernel where D′ was raised */
    ttp_predict_opts po = o->pred;
    po.opt = c->opt;
    po.ntt = o->ntt;
    po.kernel = *ko;
    memcpy(po.tt, o->tt, sizeof po.tt);
    const int root = comm->rank == 0;
    double tp = ttp_time();
    if (root) {
        st = ttp_predict_from_kernel(ctx, k, &po, dd->n, NAN, &p);
        if (st == TTP_OK) st = ttp_predict_faith(ctx, model, dd, k, &po, p);
        if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    }
    /* the projection's own error past TTP_FAITH_KGAP_NAMED: this case's
     * kernel at a larger D′ (§6l), its segments' kernels too */
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "prediction"));
    TTP_CALL_GOTO(
        ctx, st, done,
        ttp_predict_dproj_raise(ctx, comm, model, dd, &po, dd->n, NAN, root ? &p : NULL, &kr, &po.kernel));
    if (kr) k = kr;
    if (root && st == TTP_OK) { /* the one linearization's verdict and times, kept for comparison */
        c->dproj = p->dproj;
        c->dproj_first = p->dproj_first;
        c->dproj_first_kgap = p->dproj_first_kgap;
        c->valid_one = p->valid;
        for (int d = 0; d < o->ntt; d++) c->pred_one[d] = p->main.tt[d].steps;
    }
    if (po.relin_every != 0) {
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "prediction"));
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_predict_relinearize(ctx, comm, model, dd, root ? k : NULL, &po, root ? p : NULL));
    }
    if (!root || st != TTP_OK) goto done;
    c->sec_predict = ttp_time() - tp;
    c->segments = p->faith.segments > 0 ? p->faith.segments : 1;
    c->faith = p->faith;
    c->faith_loss_gap = p->faith.worst_loss_gap;
    c->faith_out_gap = p->faith.worst_out_gap;
    c->kernel_sens = p->faith.relin_kernel ? p->faith.relin_sens : NAN;
    c->batch_stab_max = 2.0 * p->batch_stab_max;
    c->valid = p->valid;
    c->stability = 2.0 * p->stability;
    snprintf(c->warning, sizeof c->warning, "%s", p->warning);
    size_t T1 = (size_t)o->steps + 1;
    TTP_ALLOC(ctx, st, done, c->pred_loss, T1, "curves");
    TTP_ALLOC(ctx, st, done, c->pred_lo_loss, T1, "curves");
    TTP_ALLOC(ctx, st, done, c->pred_hi_loss, T1, "curves");
    TTP_ALLOC(ctx, st, done, c->real_loss, T1, "curves");
    memcpy(c->pred_loss, p->main.curves->loss, T1 * sizeof(double));
    memcpy(c->pred_lo_loss, p->main.curves->loss_lo, T1 * sizeof(double));
    memcpy(c->pred_hi_loss, p->main.curves->loss_hi, T1 * sizeof(double));
    for (int d = 0; d < o->ntt; d++) {
        c->pred[d] = p->main.tt[d].steps;
        c->pred_lo[d] = p->main.tt[d].lo;
        c->pred_hi[d] = p->main.tt[d].hi;
        c->real[d] = c->diverged ? -1 : ttp_ttime(&o->tt[d], r->loss, r->acc, o->steps);
    }
    if (r)
        memcpy(c->real_loss, r->loss, T1 * sizeof(double));
    else
        for (size_t t = 0; t < T1; t++) c->real_loss[t] = NAN;
done:
    ttp_prediction_destroy(&p);
    ttp_kernel_destroy(&kr);
    return st;
}

ttp_status ttp_validate_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                            const ttp_validate_opts *o, ttp_validation **out)
{
    ttp_status st = TTP_OK;
    ttp_validation *v = NULL;
    grid_case *grid = NULL;
    ttp_data *sub = NULL;
    ttp_kernel *k = NULL;
    ttp_model *m = NULL;
    ttp_train_result *r = NULL;
    double t0 = ttp_time();
    TTP_CALL(ctx, check_grid(ctx, model, data, o));
    const int ncases = grid_cases(o, NULL), per = ncases / o->nsize;
    TTP_ALLOC(ctx, st, done, grid, (size_t)ncases, "validation grid");
    grid_cases(o, grid);
    TTP_ALLOC(ctx, st, done, v, 1, "validation");
    TTP_ALLOC(ctx, st, done, v->cases, (size_t)ncases, "validation cases");
    v->steps = o->steps;

    /* The kernel's options: the grid's default D′ may exceed a small
     * model's D; then the projection keeps every dimension rather than fail. */
    ttp_kernel_opts ko = o->pred.kernel;
    ko.want_vectors = 1;
    if (ko.proj == TTP_PROJ_EXACT)
        ko.dproj = 0;
    else if (ko.proj != TTP_PROJ_AUTO && ko.dproj > model->ntrainable)
        ko.dproj = model->ntrainable;

    const ttp_data *dd = data;
    double sec_kernel = 0.0;
    for (int i = 0; i < ncases; i++) {
        const grid_case *g = &grid[i];
        if (i == 0 || g->size != grid[i - 1].size) { /* a new dataset size: its kernel */
            ttp_kernel_destroy(&k);
            ttp_data_destroy(&sub);
            dd = data;
            if (o->sizes[g->size] > 0 && o->sizes[g->size] < data->n) {
                TTP_CALL_GOTO(ctx, st, done, ttp_data_take(ctx, data, o->sizes[g->size], &sub));
                dd = sub;
            }
            double tk = ttp_time();
            TTP_CALL_GOTO(ctx, st, done, ttp_kernel_build(ctx, comm, model, dd, &ko, &k));
            sec_kernel = ttp_time() - tk;
        }
        ttp_val_case *c = &v->cases[v->ncases++];
        ttp_opt_default(&c->opt);
        c->opt.loss = o->losses[g->loss];
        c->opt.lr = o->lrs[g->lr];
        c->opt.batch = g->sgd ? o->batches[g->batch] : 0;
        c->opt.momentum = o->momenta[g->mom];
        c->opt.steps = o->steps;
        c->opt.seed = o->seed;
        c->sgd = g->sgd;
        c->n = dd->n;
        c->sec_kernel = sec_kernel;
        c->kernel_cases = per;
        /* the truth: real fine-tuning from the same weights */
        TTP_CALL_GOTO(ctx, st, done, ttp_model_clone(ctx, model, &m));
        double tt = ttp_time();
        st = ttp_train_run(ctx, comm, m, dd, &c->opt, &r);
        c->sec_train = ttp_time() - tt;
        if (st == TTP_ERR_NUMERIC) { /* diverged: recorded, the grid goes on */
            ttp_error_clear(ctx);
            st = TTP_OK;
            c->diverged = 1;
        } else if (st != TTP_OK) {
            ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
            goto done;
        }
        ttp_model_destroy(&m);
        TTP_CALL_GOTO(ctx, st, done, predict_case(ctx, comm, model, dd, k, &ko, o, r, c));
        ttp_train_result_destroy(&r);
        ttp_progress(ctx, "validate", (double)v->ncases / (double)ncases, t0);
    }
    if (comm->rank == 0) totals(v, o);
    v->seconds = ttp_time() - t0;
    *out = v;
    v = NULL;
done:
    ttp_train_result_destroy(&r);
    ttp_model_destroy(&m);
    ttp_kernel_destroy(&k);
    ttp_data_destroy(&sub);
    ttp_validation_destroy(&v);
    free(grid);
    return st;
}

/* ---- outputs ------------------------------------------------------------- */

static const char *opt_name(const ttp_val_case *c)
{
    return c->sgd ? "SGD" : "GD";
}

void ttp_validate_print(FILE *f, const ttp_validation *v, const ttp_validate_opts *o)
{
    fprintf(f, "ttpredict validate: %d cases x %d training-time definitions, T = %lld steps\n", v->ncases,
            o->ntt, (long long)v->steps);
    fprintf(f, "%4s %-4s %-4s %6s %7s %5s %5s %6s  %5s ", "case", "opt", "loss", "N", "lr", "batch", "mom",
            "stab", "gap");
    for (int d = 0; d < o->ntt; d++)
        fprintf(f, " %s:%-5g pred/real ", ttp_tt_kind_str(o->tt[d].kind), o->tt[d].value);
    fprintf(f, " train s  pred s\n");
    for (int i = 0; i < v->ncases; i++) {
        const ttp_val_case *c = &v->cases[i];
        fprintf(f, "%4d %-4s %-4s %6lld %7g %5lld %5g %6.2f%s ", i, opt_name(c), ttp_loss_str(c->opt.loss),
                (long long)c->n, c->opt.lr, (long long)(c->sgd ? c->opt.batch : c->n), c->opt.momentum,
                c->stability, c->valid ? " " : "!");
        if (fabs(c->faith_loss_gap) < 10) /* a blown-up linear model's gap is astronomic: capped */
            fprintf(f, "%4.0f%% ", 100 * c->faith_loss_gap);
        else
            fprintf(f, "%5s ", isfinite(c->faith_loss_gap) ? ">999%" : "inf%");
        for (int d = 0; d < o->ntt; d++) {
            if (c->diverged)
                fprintf(f, "  %18s ", "real run diverged");
            else
                fprintf(f, "  %5lld/%-5lld %5.0f%% ", (long long)c->pred[d], (long long)c->real[d],
                        c->real[d] > 0 && c->pred[d] >= 0
                            ? 100.0 * fabs((double)(c->pred[d] - c->real[d])) / (double)c->real[d]
                            : NAN);
        }
        fprintf(f, " %7.2f %7.2f\n", c->sec_train, c->sec_predict + c->sec_kernel / c->kernel_cases);
    }
    const ttp_val_totals *t = &v->tot;
    fprintf(
        f,
        "(stab = eta*kappa*mu_max against the optimizer's stability limit, scaled so that the limit is 2 "
        "(ttp_sim_stability); '!' = the prediction is warned invalid (outside the regime, blow-up, or not "
        "faithful); gap = worst loss gap of the real network at the linearized weights; times -1 = never met "
        "by T)\n");
    fprintf(f, "  warned (prediction marked invalid): %d of %d cases (%.0f%%)\n", t->cases_warned, v->ncases,
            v->ncases ? 100.0 * t->cases_warned / v->ncases : NAN);
    fprintf(f, "totals over (case, definition) pairs, relative error |pred - real| / real:\n");
    fprintf(
        f,
        "  compared %d pairs; excluded %d whose real run diverged (%d case(s)) or never met the criterion\n",
        t->compared, t->excluded, t->cases_diverged);
    if (t->pred_unreached)
        fprintf(f, "  %d compared pair(s) whose prediction never met the criterion by T count as misses\n",
                t->pred_unreached);
    if (t->band_n)
        fprintf(f, "  real SGD time inside the predicted %g-%g%% band: %d of %d\n", 100 * o->pred.sim.band_lo,
                100 * o->pred.sim.band_hi, t->in_band, t->band_n);
    if (t->valid_band_n)
        fprintf(f, "  ... among unwarned cases: %d of %d (%.0f%%)\n", t->valid_in_band, t->valid_band_n,
                100.0 * t->valid_in_band / t->valid_band_n);
    fprintf(f, "  seconds: training %.1f, kernels %.1f, dynamics %.1f; whole grid %.1f\n", t->sec_train,
            t->sec_kernel, t->sec_predict, v->seconds);
    fprintf(f, "headline (paper: 95%% of GD within 13%%, of SGD within 20%%, prediction 30-45x cheaper):\n");
    if (t->gd_n)
        fprintf(f, "  GD within 13%%:  %d of %d (%.0f%%); in the valid regime %d of %d (%.0f%%)\n",
                t->gd_within, t->gd_n, 100.0 * t->gd_within / t->gd_n, t->gd_valid_within, t->gd_valid_n,
                t->gd_valid_n ? 100.0 * t->gd_valid_within / t->gd_valid_n : NAN);
    if (t->sgd_n)
        fprintf(f, "  SGD within 20%%: %d of %d (%.0f%%); in the valid regime %d of %d (%.0f%%)\n",
                t->sgd_within, t->sgd_n, 100.0 * t->sgd_within / t->sgd_n, t->sgd_valid_within,
                t->sgd_valid_n, t->sgd_valid_n ? 100.0 * t->sgd_valid_within / t->sgd_valid_n : NAN);
    fprintf(f, "  median relative error %.1f%%, median absolute error %.1f steps\n", 100 * t->median_rel,
            t->median_abs);
    fprintf(f,
            "  cost ratio (training s / prediction s, median): %.1fx with the kernel in each prediction, "
            "%.1fx with "
            "the kernel shared by its size's cases\n",
            t->cost_ratio_oneoff, t->cost_ratio_amortized);
}

ttp_status ttp_validate_write_json(ttp_ctx *ctx, const char *path, const ttp_validation *v,
                                   const ttp_validate_opts *o)
{
    ttp_json *j = NULL;
    const ttp_val_totals *t = &v->tot;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    ttp_json_int(j, "steps", v->steps);
    ttp_json_num(j, "seconds", v->seconds);
    ttp_json_begin_array(j, "definitions");
    for (int d = 0; d < o->ntt; d++) {
        ttp_json_begin_object(j, NULL);
        ttp_json_str(j, "kind", ttp_tt_kind_str(o->tt[d].kind));
        ttp_json_num(j, "threshold", o->tt[d].value);
        ttp_json_end_object(j);
    }
    ttp_json_end_array(j);
    ttp_json_begin_array(j, "cases");
    for (int i = 0; i < v->ncases; i++) {
        const ttp_val_case *c = &v->cases[i];
        const ttp_faith *fa = &c->faith;
        ttp_json_begin_object(j, NULL);
        ttp_json_str(j, "optimizer", opt_name(c));
        ttp_json_str(j, "loss", ttp_loss_str(c->opt.loss));
        ttp_json_int(j, "n", c->n);
        ttp_json_num(j, "lr", c->opt.lr);
        ttp_json_int(j, "batch", c->sgd ? c->opt.batch : c->n);
        ttp_json_num(j, "momentum", c->opt.momentum);
        ttp_json_bool(j, "valid", c->valid);
        ttp_json_num(j, "stability", c->stability);
        ttp_json_num(j, "faith_loss_gap", c->faith_loss_gap);
        ttp_json_num(j, "faith_output_gap", c->faith_out_gap);
        ttp_json_num(j, "faith_kernel_gap", ttp_faith_worst_kernel_gap(fa));
        ttp_json_int(j, "dproj", c->dproj);
        ttp_json_int(j, "dproj_raised_from", c->dproj_first);
        if (c->dproj_first > 0) ttp_json_num(j, "dproj_raised_kernel_gap", c->dproj_first_kgap);
        ttp_json_num(j, "relinearize_kernel_sensitivity", c->kernel_sens);
        ttp_json_num(j, "batch_stability_max", c->batch_stab_max);
        ttp_json_bool(j, "real_diverged", c->diverged);
        ttp_json_str(j, "status", c->diverged ? "real run diverged" : "ok");
        ttp_json_str(j, "warning", c->warning);
        ttp_json_num(j, "seconds_train", c->sec_train);
        ttp_json_num(j, "seconds_predict", c->sec_predict);
        ttp_json_int(j, "segments", c->segments);
        ttp_json_bool(j, "valid_one_linearization", c->valid_one);
        ttp_json_num(j, "segment_output_gap", fa->seg_out_gap);
        ttp_json_str(j, "relinearize_halving", ttp_relin_halving_str(fa->relin_halving));
        ttp_json_int(j, "relinearize_halving_levels", fa->halving_levels);
        ttp_json_int(j, "relinearize_cap_start", fa->relin_capped ? fa->cap_start : -1);
        ttp_json_bool(j, "relinearize_cap_late", fa->cap_late);
        ttp_json_num(j, "relinearize_cap_rise", fa->cap_rise); /* 0 unless capped */
        ttp_json_str(j, "relinearize_crosscheck", ttp_relin_crosscheck_str(fa->relin_crosscheck));
        ttp_json_str(j, "batch_order_check", ttp_relin_order_str(fa->order_check));
        ttp_json_bool(j, "relinearize_past_figures", fa->relin_figures);
        ttp_json_num(j, "seconds_kernel", c->sec_kernel);
        ttp_json_int(j, "kernel_shared_by", c->kernel_cases);
        /* both loss curves, so that rules can be studied offline against the real runs */
        if (c->real_loss) ttp_json_nums(j, "real_loss", c->real_loss, v->steps + 1);
        if (c->pred_loss) ttp_json_nums(j, "predicted_loss", c->pred_loss, v->steps + 1);
        ttp_json_begin_array(j, "times");
        for (int d = 0; d < o->ntt; d++) {
            ttp_json_begin_object(j, NULL);
            ttp_json_int(j, "predicted", c->pred[d]);
            ttp_json_int(j, "predicted_lo", c->pred_lo[d]);
            ttp_json_int(j, "predicted_hi", c->pred_hi[d]);
            ttp_json_int(j, "real", c->real[d]);
            int ok = !c->diverged && c->real[d] > 0 && c->pred[d] >= 0;
            ttp_json_num(j, "abs_error", ok ? fabs((double)(c->pred[d] - c->real[d])) : NAN);
            ttp_json_num(j, "rel_error",
                         ok ? fabs((double)(c->pred[d] - c->real[d])) / (double)c->real[d] : NAN);
            /* compared: counts in the totals (a prediction of −1 is then a miss) */
            ttp_json_bool(j, "compared", !c->diverged && c->real[d] > 0);
            ttp_json_int(j, "predicted_one_linearization", c->pred_one[d]);
            /* the checks' other runs, so that their rules can be studied offline too */
            if (fa->relin_halving) ttp_json_int(j, "predicted_halving_other", fa->halving_tt[d]);
            if (fa->relin_crosscheck) ttp_json_int(j, "predicted_crosscheck_other", fa->crosscheck_tt[d]);
            if (fa->order_check) ttp_json_int(j, "predicted_order_other", fa->order_tt[d]);
            if (c->sgd) {
                int64_t lo = c->pred_lo[d] < 0 ? v->steps + 1 : c->pred_lo[d];
                int64_t hi = c->pred_hi[d] < 0 ? v->steps + 1 : c->pred_hi[d];
                ttp_json_bool(j, "in_band", c->real[d] >= lo && c->real[d] <= hi);
            }
            ttp_json_end_object(j);
        }
        ttp_json_end_array(j);
        ttp_json_end_object(j);
    }
    ttp_json_end_array(j);
    ttp_json_begin_object(j, "totals");
    ttp_json_int(j, "compared", t->compared);
    ttp_json_int(j, "excluded", t->excluded);
    ttp_json_int(j, "predicted_unreached", t->pred_unreached);
    ttp_json_int(j, "cases_real_diverged", t->cases_diverged);
    ttp_json_int(j, "gd_pairs", t->gd_n);
    ttp_json_num(j, "gd_within_13pct", t->gd_n ? (double)t->gd_within / t->gd_n : NAN);
    ttp_json_num(j, "gd_valid_within_13pct",
                 t->gd_valid_n ? (double)t->gd_valid_within / t->gd_valid_n : NAN);
    ttp_json_int(j, "sgd_pairs", t->sgd_n);
    ttp_json_num(j, "sgd_within_20pct", t->sgd_n ? (double)t->sgd_within / t->sgd_n : NAN);
    ttp_json_num(j, "sgd_valid_within_20pct",
                 t->sgd_valid_n ? (double)t->sgd_valid_within / t->sgd_valid_n : NAN);
    ttp_json_num(j, "sgd_real_in_band", t->band_n ? (double)t->in_band / t->band_n : NAN);
    ttp_json_num(j, "sgd_valid_real_in_band",
                 t->valid_band_n ? (double)t->valid_in_band / t->valid_band_n : NAN);
    ttp_json_int(j, "cases_warned", t->cases_warned);
    ttp_json_num(j, "share_warned", v->ncases ? (double)t->cases_warned / v->ncases : NAN);
    ttp_json_num(j, "median_rel_error", t->median_rel);
    ttp_json_num(j, "median_abs_error", t->median_abs);
    ttp_json_num(j, "cost_ratio_oneoff", t->cost_ratio_oneoff);
    ttp_json_num(j, "cost_ratio_amortized", t->cost_ratio_amortized);
    ttp_json_num(j, "seconds_train", t->sec_train);
    ttp_json_num(j, "seconds_kernel", t->sec_kernel);
    ttp_json_num(j, "seconds_predict", t->sec_predict);
    ttp_json_end_object(j);
    return ttp_json_close(ctx, &j);
}

ttp_status ttp_validate_write_report(ttp_ctx *ctx, const char *dir, const ttp_validation *v,
                                     const ttp_validate_opts *o)
{
    ttp_status st = TTP_OK;
    char path[4096];
    int npairs = v->ncases * o->ntt, ng = 0, ns = 0, nx = 0;
    double *gx = NULL, *gy = NULL, *sx = NULL, *sy = NULL, *xx = NULL, *xy = NULL, *steps = NULL;
    FILE *f = NULL;
    ttp_text md = {0};
    TTP_CALL(ctx, ttp_mkdir(ctx, dir));
    TTP_ALLOC(ctx, st, done, gx, npairs + 1, "scatter");
    TTP_ALLOC(ctx, st, done, gy, npairs + 1, "scatter");
    TTP_ALLOC(ctx, st, done, sx, npairs + 1, "scatter");
    TTP_ALLOC(ctx, st, done, sy, npairs + 1, "scatter");
    TTP_ALLOC(ctx, st, done, xx, npairs + 1, "scatter");
    TTP_ALLOC(ctx, st, done, xy, npairs + 1, "scatter");
    for (int i = 0; i < v->ncases; i++)
        for (int d = 0; d < o->ntt; d++) {
            const ttp_val_case *c = &v->cases[i];
            if (c->diverged || c->real[d] <= 0 || c->pred[d] < 0) continue;
            if (!c->valid)
                xx[nx] = (double)c->real[d], xy[nx++] = (double)c->pred[d];
            else if (c->sgd)
                sx[ns] = (double)c->real[d], sy[ns++] = (double)c->pred[d];
            else
                gx[ng] = (double)c->real[d], gy[ng++] = (double)c->pred[d];
        }
    /* the tolerance cones y = (1 ± tol) x up to the largest time shown */
    double top = 1.0;
    for (int i = 0; i < ng; i++) top = fmax(top, fmax(gx[i], gy[i]));
    for (int i = 0; i < ns; i++) top = fmax(top, fmax(sx[i], sy[i]));
    for (int i = 0; i < nx; i++) top = fmax(top, fmax(xx[i], xy[i]));
    /* each cone is one series: both edges, with a NaN point lifting the pen */
    double lx[5] = {0.0, top, NAN, 0.0, top};
    double gcone[5] = {0.0, (1 + TTP_VAL_GD_TOL) * top, NAN, 0.0, (1 - TTP_VAL_GD_TOL) * top};
    double scone[5] = {0.0, (1 + TTP_VAL_SGD_TOL) * top, NAN, 0.0, (1 - TTP_VAL_SGD_TOL) * top};
    ttp_series all[5] = {{"GD", gx, gy, NULL, NULL, ng, "#1f77b4", 0, 1},
                         {"SGD", sx, sy, NULL, NULL, ns, "#d62728", 0, 1},
                         {"outside the regime", xx, xy, NULL, NULL, nx, "#999999", 0, 1},
                         {"GD +-13 %", lx, gcone, NULL, NULL, 5, "#1f77b4", 1, 0},
                         {"SGD +-20 %", lx, scone, NULL, NULL, 5, "#d62728", 1, 0}};
    ttp_series sc[5];
    int nsc = 0;
    for (int i = 0; i < 5; i++) /* no legend entry for a kind the grid lacks */
        if (all[i].n > 0 && (i < 3 || (i == 3 ? ng > 0 : ns > 0))) sc[nsc++] = all[i];
    ttp_plot pl = {"Predicted vs real training time (steps)",
                   "real training time",
                   "predicted training time",
                   0,
                   0,
                   1,
                   NAN,
                   NULL};
    snprintf(path, sizeof path, "%s/scatter.svg", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pl, sc, nsc));
    /* one example: the first SGD case (else the first case) */
    int ex = 0;
    for (int i = 0; i < v->ncases; i++)
        if (v->cases[i].sgd && !v->cases[i].diverged) {
            ex = i;
            break;
        }
    const ttp_val_case *c = &v->cases[ex];
    TTP_ALLOC(ctx, st, done, steps, v->steps + 1, "axis");
    for (int64_t t = 0; t <= v->steps; t++) steps[t] = (double)t;
    ttp_series cu[2] = {{"predicted (mean, band)", steps, c->pred_loss, c->pred_lo_loss, c->pred_hi_loss,
                         v->steps + 1, "#1f77b4", 0, 0},
                        {"real fine-tuning", steps, c->real_loss, NULL, NULL, v->steps + 1, "#d62728", 1, 0}};
    char title[200];
    snprintf(title, sizeof title, "%s, %s loss, lr %g, batch %lld, momentum %g", opt_name(c),
             ttp_loss_str(c->opt.loss), c->opt.lr, (long long)(c->sgd ? c->opt.batch : c->n),
             c->opt.momentum);
    ttp_plot pc = {title, "step", "mean training loss", 0, 0, 0, NAN, NULL};
    snprintf(path, sizeof path, "%s/example.svg", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pc, cu, 2));

    snprintf(path, sizeof path, "%s/report.md", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_text_open(ctx, path, "report", &md));
    f = md.f;
    const ttp_val_totals *t = &v->tot;
    fprintf(f, "# ttpredict validate: predictions against real fine-tuning\n\n");
    fprintf(f, "%d cases × %d training-time definitions, T = %lld steps. ", v->ncases, o->ntt,
            (long long)v->steps);
    fprintf(
        f,
        "%d pairs compared, %d excluded (real run diverged — %d case(s) — or never met the criterion); %d "
        "compared prediction(s) never met the criterion by T and count as misses.\n\n",
        t->compared, t->excluded, t->cases_diverged, t->pred_unreached);
    fprintf(f, "| figure | value | paper |\n| --- | --- | --- |\n");
    if (t->gd_n)
        fprintf(f, "| GD within 13 %% (valid regime) | %.0f %% (%.0f %%) | 95 %% |\n",
                100.0 * t->gd_within / t->gd_n,
                t->gd_valid_n ? 100.0 * t->gd_valid_within / t->gd_valid_n : NAN);
    if (t->sgd_n)
        fprintf(f, "| SGD within 20 %% (valid regime) | %.0f %% (%.0f %%) | 95 %% |\n",
                100.0 * t->sgd_within / t->sgd_n,
                t->sgd_valid_n ? 100.0 * t->sgd_valid_within / t->sgd_valid_n : NAN);
    fprintf(f, "| median relative error | %.1f %% | |\n| median absolute error | %.1f steps | 0–21 steps |\n",
            100 * t->median_rel, t->median_abs);
    fprintf(f,
            "| cost ratio, kernel in each prediction | %.1f× | 30–45× |\n| cost ratio, kernel shared by the "
            "grid | %.1f× | |\n\n",
            t->cost_ratio_oneoff, t->cost_ratio_amortized);
    fprintf(f, "![predicted vs real](scatter.svg)\n\n![example](example.svg)\n\n");
    fprintf(f, "## Cases\n\nCells: predicted [band] / real steps, −1 = never met by T. Stability: η·κ·μ_max "
               "against the optimizer's stability limit, scaled so that the limit is 2 (the linear model "
               "diverges above).\n\n| # | optimizer | loss | N | lr | batch | momentum | stability |");
    for (int d = 0; d < o->ntt; d++) fprintf(f, " %s:%g |", ttp_tt_kind_str(o->tt[d].kind), o->tt[d].value);
    fprintf(f, " train s | predict s | note |\n|");
    for (int d = 0; d < 11 + o->ntt; d++) fprintf(f, " --- |");
    fprintf(f, "\n");
    for (int i = 0; i < v->ncases; i++) {
        const ttp_val_case *q = &v->cases[i];
        fprintf(f, "| %d | %s | %s | %lld | %g | %lld | %g | %.2f |", i, opt_name(q),
                ttp_loss_str(q->opt.loss), (long long)q->n, q->opt.lr,
                (long long)(q->sgd ? q->opt.batch : q->n), q->opt.momentum, q->stability);
        for (int d = 0; d < o->ntt; d++) {
            fprintf(f, " %lld", (long long)q->pred[d]);
            if (q->sgd) fprintf(f, " [%lld, %lld]", (long long)q->pred_lo[d], (long long)q->pred_hi[d]);
            if (q->diverged)
                fprintf(f, " / diverged |");
            else
                fprintf(f, " / %lld |", (long long)q->real[d]);
        }
        fprintf(f, " %.2f | %.2f | %s |\n", q->sec_train, q->sec_predict,
                q->diverged     ? "real run diverged"
                : q->warning[0] ? q->warning
                                : "");
    }
    fprintf(f, "\nDefinitions: ");
    for (int d = 0; d < o->ntt; d++)
        fprintf(f, "%s%s:%g", d ? ", " : "", ttp_tt_kind_str(o->tt[d].kind), o->tt[d].value);
    fprintf(f, " (docs/METHOD.md).\n");
    TTP_CALL_GOTO(ctx, st, done, ttp_text_commit(ctx, &md));
done:
    ttp_text_abort(&md);
    free(gx), free(gy), free(sx), free(sy), free(xx), free(xy), free(steps);
    return st;
}
