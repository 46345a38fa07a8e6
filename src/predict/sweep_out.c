/*
 * sweep_out.c — the outputs of a sweep (ttp_sweep.h): the table sorted by
 * predicted wall-clock with the best setting within the budget, JSON, the
 * NetCDF result (one row per setting) and the SVG/Markdown report.  Rank 0
 * only; nothing here computes a prediction.
 */
#include "ttp_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_nc.h"
#include "ttp_report.h"

/* Why a setting is not valid (or has a warning), in a few words; the
 * warning itself says what to change. */
static const char *status_word(const ttp_prediction *p)
{
    if (p->valid && p->faith.npoints == 0 && strncmp(p->faith.note, "not measured: the sweep", 23) == 0)
        return "ok so far (faithfulness not checked)";
    if (p->valid) return p->warning[0] ? "ok, warning" : "ok";
    if (p->stability > 1.0) return "UNSTABLE";
    if (!(p->growth <= 1.0 + 1e-6)) return "BLOWS UP";
    if (p->batch_stab_mean > 1.0) return "SGD UNSTABLE";
    if (p->faith.invalidated) return "NOT FAITHFUL";
    return "NOT VALID";
}

static void fmt_steps(int64_t s, int64_t T, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, ">%lld", (long long)T);
    else
        snprintf(buf, len, "%lld", (long long)s);
}

static void fmt_secs(double v, char *buf, size_t len)
{
    if (isfinite(v))
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "-");
}

static double final_loss(const ttp_prediction *p, const ttp_predict_opts *o)
{
    return p->main.curves ? p->main.curves->loss[o->opt.steps] : NAN;
}

static void print_row(FILE *f, const ttp_sweep_result *r, int64_t i, int64_t rank)
{
    const ttp_prediction *p = r->pred[i];
    const ttp_predict_opts *o = &r->opts[i];
    const int64_t T = o->opt.steps;
    char s[32], lo[32], hi[32], band[72], w[32];
    fmt_steps(p->main.tt[0].steps, T, s, sizeof s);
    fmt_steps(p->main.tt[0].lo, T, lo, sizeof lo);
    fmt_steps(p->main.tt[0].hi, T, hi, sizeof hi);
    snprintf(band, sizeof band, "%s..%s", lo, hi);
    fmt_secs(p->main.wall, w, sizeof w);
    fprintf(f, "  %4lld %10.4g %6lld %6g %8g %6lld %7s %13s %9s %10.5g %9.4g  %s\n", (long long)rank + 1,
            o->opt.lr, (long long)ttp_opt_batch(&o->opt, r->n), o->opt.momentum, o->opt.wd, (long long)T, s,
            band, w, final_loss(p, o), p->lr_stable, status_word(p));
}

void ttp_sweep_print(FILE *f, const ttp_sweep_result *r, const ttp_sweep_opts *o)
{
    char def[160];
    fprintf(f, "ttpredict sweep: %lld samples x %d outputs, D = %lld trainable weights", (long long)r->n,
            r->c, (long long)r->d);
    if (r->dproj != r->d) fprintf(f, ", projected to D' = %lld", (long long)r->dproj);
    fprintf(f, ", %d rank(s); %lld settings from one kernel\n", r->nranks, (long long)r->count);
    if (r->n_kernel != r->n)
        fprintf(f, "  kernel      on %lld of the %lld samples; spectrum extrapolated by power laws\n",
                (long long)r->n_kernel, (long long)r->n);
    ttp_tt_describe(&o->base.tt[0], def, sizeof def);
    fprintf(f, "  target      %s (%s loss%s)\n", def, ttp_loss_str(o->base.opt.loss),
            o->base.opt.nesterov ? ", Nesterov" : "");
    ttp_opt gd = o->base.opt;
    gd.momentum = 0;
    gd.wd = 0;
    fprintf(f,
            "  spectrum    mu_max(Theta/N) = %.5g; plain full-batch GD is stable up to lr %.4g (lr-max: each "
            "setting's own limit)\n",
            r->mu_max, ttp_sim_stability_lr(&gd, r->mu_max));
    fprintf(f, "  step cost  ");
    for (int j = 0; j < r->nbatch; j++) {
        char w[32];
        fmt_secs(r->sec_per_step[j], w, sizeof w);
        fprintf(f, "%s batch %lld: %s s/step", j ? ";" : "", (long long)r->batch[j], w);
    }
    fprintf(f, "%s\n", o->base.time_reps > 0 ? " (measured)" : " (not timed: --time-steps 0)");
    fprintf(f, "  %4s %10s %6s %6s %8s %6s %7s %13s %9s %10s %9s  %s\n", "#", "lr", "batch", "mom", "wd", "T",
            "steps", "band", "wall-s", "final-loss", "lr-max", "status");
    for (int64_t k = 0; k < r->count; k++) print_row(f, r, r->order[k], k);
    char budget[96] = "";
    if (o->budget > 0 || o->budget_steps > 0) {
        snprintf(budget, sizeof budget, " within the budget of");
        if (o->budget > 0)
            snprintf(budget + strlen(budget), sizeof budget - strlen(budget), " %g s", o->budget);
        if (o->budget_steps > 0)
            snprintf(budget + strlen(budget), sizeof budget - strlen(budget), "%s %lld steps",
                     o->budget > 0 ? " and" : "", (long long)o->budget_steps);
    }
    if (r->best >= 0) {
        const ttp_prediction *p = r->pred[r->best];
        const ttp_predict_opts *b = &r->opts[r->best];
        char lo[32], hi[32], w[32];
        fmt_steps(p->main.tt[0].lo, b->opt.steps, lo, sizeof lo);
        fmt_steps(p->main.tt[0].hi, b->opt.steps, hi, sizeof hi);
        fmt_secs(p->main.wall, w, sizeof w);
        fprintf(
            f,
            "  BEST        lr %g, batch %lld, momentum %g, wd %g, T %lld: %lld steps (band %s..%s), %s s, "
            "final loss %.5g: the soonest valid setting%s\n",
            b->opt.lr, (long long)ttp_opt_batch(&b->opt, r->n), b->opt.momentum, b->opt.wd,
            (long long)b->opt.steps, (long long)p->main.tt[0].steps, lo, hi, w, final_loss(p, b), budget);
        if (p->warning[0]) fprintf(f, "  its warning %s\n", p->warning);
    } else {
        fprintf(f,
                "  BEST        none: no valid setting reaches the target%s; try smaller learning rates, more "
                "steps (--steps) or a looser --tt\n",
                budget);
    }
    int64_t invalid = 0;
    for (int64_t i = 0; i < r->count; i++) invalid += !r->pred[i]->valid;
    if (invalid)
        fprintf(f,
                "  %lld setting(s) are outside the method's regime (status); their warnings are in --json\n",
                (long long)invalid);
    fprintf(f, "  cost        %.2f s (kernel %.2f, step timing %.2f, %lld settings %.2f = %.3f each)\n",
            r->seconds, r->sec_kernel, r->sec_timing, (long long)r->count, r->sec_settings,
            r->count ? r->sec_settings / (double)r->count : 0.0);
}

static void json_setting(ttp_json *j, const ttp_sweep_result *r, int64_t i, int64_t rank)
{
    const ttp_prediction *p = r->pred[i];
    const ttp_predict_opts *o = &r->opts[i];
    const int64_t T = o->opt.steps;
    const ttp_curves *cv = p->main.curves;
    ttp_json_begin_object(j, NULL);
    ttp_json_int(j, "index", i);
    ttp_json_int(j, "rank", rank + 1);
    ttp_json_str(j, "optimizer", ttp_opt_describe(&o->opt, r->n));
    ttp_json_num(j, "lr", o->opt.lr);
    ttp_json_int(j, "batch", ttp_opt_batch(&o->opt, r->n));
    ttp_json_num(j, "momentum", o->opt.momentum);
    ttp_json_num(j, "weight_decay", o->opt.wd);
    ttp_json_int(j, "steps", T);
    ttp_json_int(j, "tt_steps", p->main.tt[0].steps);
    ttp_json_int(j, "tt_steps_lo", p->main.tt[0].lo);
    ttp_json_int(j, "tt_steps_hi", p->main.tt[0].hi);
    ttp_json_num(j, "final_loss", cv->loss[T]);
    ttp_json_num(j, "final_loss_lo", cv->loss_lo[T]);
    ttp_json_num(j, "final_loss_hi", cv->loss_hi[T]);
    ttp_json_num(j, "final_accuracy", cv->acc[T]);
    ttp_json_num(j, "wall_seconds_predicted", p->main.wall);
    ttp_json_num(j, "wall_seconds_lo", p->main.wall_lo);
    ttp_json_num(j, "wall_seconds_hi", p->main.wall_hi);
    ttp_json_num(j, "seconds_per_step", p->sec_per_step);
    ttp_json_num(j, "stability", 2.0 * p->stability);
    ttp_json_num(j, "lr_stable", p->lr_stable);
    ttp_json_num(j, "lr_stable_full_batch", p->lr_stable_full);
    ttp_json_num(j, "batch_stability_mean", 2.0 * p->batch_stab_mean);
    ttp_json_num(j, "batch_stability_max", 2.0 * p->batch_stab_max);
    ttp_json_num(j, "loss_growth", p->growth);
    ttp_json_num(j, "faith_worst_loss_gap", p->faith.worst_loss_gap);
    ttp_json_num(j, "faith_worst_output_gap", p->faith.worst_out_gap);
    ttp_json_bool(j, "valid", p->valid);
    ttp_json_bool(j, "faith_checked", r->faith_checked[i]);
    ttp_json_str(j, "status", status_word(p));
    ttp_json_str(j, "warning", p->warning);
    ttp_json_end_object(j);
}

ttp_status ttp_sweep_write_json(ttp_ctx *ctx, const char *path, const ttp_sweep_result *r,
                                const ttp_sweep_opts *o)
{
    ttp_json *j = NULL;
    char def[160];
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    ttp_json_int(j, "count", r->count);
    if (r->best >= 0) {
        ttp_json_int(j, "best", r->best);
        ttp_json_num(j, "best_lr", r->opts[r->best].opt.lr);
        ttp_json_int(j, "best_batch", ttp_opt_batch(&r->opts[r->best].opt, r->n));
        ttp_json_num(j, "best_momentum", r->opts[r->best].opt.momentum);
        ttp_json_num(j, "best_weight_decay", r->opts[r->best].opt.wd);
        ttp_json_int(j, "best_steps", r->opts[r->best].opt.steps);
        ttp_json_int(j, "best_tt_steps", r->pred[r->best]->main.tt[0].steps);
        ttp_json_num(j, "best_wall_seconds", r->pred[r->best]->main.wall);
    } else {
        ttp_json_num(j, "best", NAN);
    }
    ttp_json_num(j, "budget_seconds", o->budget);
    ttp_json_int(j, "budget_steps", o->budget_steps);
    ttp_tt_describe(&o->base.tt[0], def, sizeof def);
    ttp_json_str(j, "target", def);
    ttp_json_str(j, "loss", ttp_loss_str(o->base.opt.loss));
    ttp_json_bool(j, "nesterov", o->base.opt.nesterov);
    ttp_json_num(j, "mu_max", r->mu_max);
    ttp_json_int(j, "n", r->n);
    ttp_json_int(j, "n_kernel", r->n_kernel);
    ttp_json_int(j, "c", r->c);
    ttp_json_int(j, "d", r->d);
    ttp_json_int(j, "dproj", r->dproj);
    ttp_json_int(j, "ranks", r->nranks);
    ttp_json_num(j, "seconds", r->seconds);
    ttp_json_num(j, "seconds_kernel", r->sec_kernel);
    ttp_json_num(j, "seconds_step_timing", r->sec_timing);
    ttp_json_num(j, "seconds_settings", r->sec_settings);
    ttp_json_str(j, "model", o->base.kernel.model_path ? o->base.kernel.model_path : "");
    ttp_json_str(j, "data", o->base.kernel.data_path ? o->base.kernel.data_path : "");
    ttp_json_begin_array(j, "step_cost");
    for (int k = 0; k < r->nbatch; k++) {
        ttp_json_begin_object(j, NULL);
        ttp_json_int(j, "batch", r->batch[k]);
        ttp_json_num(j, "seconds_per_step", r->sec_per_step[k]);
        ttp_json_end_object(j);
    }
    ttp_json_end_array(j);
    ttp_json_begin_array(j, "settings"); /* in the table's order */
    for (int64_t k = 0; k < r->count; k++) json_setting(j, r, r->order[k], k);
    ttp_json_end_array(j);
    return ttp_json_close(ctx, &j);
}

ttp_status ttp_sweep_write_nc(ttp_ctx *ctx, const char *path, const ttp_sweep_result *r,
                              const ttp_sweep_opts *o)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    double *col = NULL;
    long long *icol = NULL;
    char *warn = NULL;
    char def[160];
    enum { WLEN = sizeof(((ttp_prediction *)0)->warning) };
    const int64_t S = r->count;
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_CLOBBER | NC_NETCDF4));
    const int nc = f.id;
    ttp_tt_describe(&o->base.tt[0], def, sizeof def);
    const struct {
        const char *name, *val;
    } texts[] = {
        {"ttp_kind", "sweep"},
        {"loss", ttp_loss_str(o->base.opt.loss)},
        {"target", def},
        {"model", o->base.kernel.model_path ? o->base.kernel.model_path : ""},
        {"data", o->base.kernel.data_path ? o->base.kernel.data_path : ""},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, texts[i].name, texts[i].val, path));
    const struct {
        const char *name;
        double v;
    } attrs[] = {
        {"n", (double)r->n},
        {"n_kernel", (double)r->n_kernel},
        {"c", r->c},
        {"d", (double)r->d},
        {"dproj", (double)r->dproj},
        {"mu_max", r->mu_max},
        {"best", (double)r->best},
        {"budget_seconds", o->budget},
        {"budget_steps", (double)o->budget_steps},
        {"nesterov", o->base.opt.nesterov},
        {"ensemble", o->base.sim.ensemble},
        {"seconds", r->seconds},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        TTP_NC(ctx, st, fail, nc_put_att_double(nc, NC_GLOBAL, attrs[i].name, NC_DOUBLE, 1, &attrs[i].v),
               "writing attribute %s of '%s'", attrs[i].name, path);
    int dset, dw;
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "setting", (size_t)S, &dset), "writing '%s'", path);
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "warning_len", WLEN, &dw), "writing '%s'", path);
    /* grid order; `order` gives the table's ranking */
    enum { NDV = 14, NIV = 6 };
    const char *dname[NDV] = {"lr",
                              "momentum",
                              "weight_decay",
                              "final_loss",
                              "final_accuracy",
                              "wall_seconds",
                              "wall_seconds_lo",
                              "wall_seconds_hi",
                              "seconds_per_step",
                              "stability",
                              "lr_stable",
                              "lr_stable_full_batch",
                              "batch_stability_mean",
                              "faith_worst_output_gap"};
    const char *iname[NIV] = {"batch", "steps", "tt_steps", "tt_steps_lo", "tt_steps_hi", "valid"};
    int dv[NDV], iv[NIV], vorder, vwarn;
    for (int q = 0; q < NDV; q++)
        TTP_NC(ctx, st, fail, nc_def_var(nc, dname[q], NC_DOUBLE, 1, &dset, &dv[q]), "defining %s in '%s'",
               dname[q], path);
    for (int q = 0; q < NIV; q++)
        TTP_NC(ctx, st, fail, nc_def_var(nc, iname[q], NC_INT64, 1, &dset, &iv[q]), "defining %s in '%s'",
               iname[q], path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "order", NC_INT64, 1, &dset, &vorder), "defining order in '%s'",
           path);
    TTP_CALL_GOTO(ctx, st, fail,
                  ttp_nc_put_text(ctx, nc, vorder, "long_name",
                                  "settings by predicted wall-clock (steps when not timed), unconverged last",
                                  path));
    int dims[2] = {dset, dw};
    TTP_NC(ctx, st, fail, nc_def_var(nc, "warning", NC_CHAR, 2, dims, &vwarn), "defining warning in '%s'",
           path);
    TTP_NC(ctx, st, fail, nc_enddef(nc), "writing '%s'", path);
    TTP_ALLOC(ctx, st, fail, col, (size_t)S, "sweep column");
    TTP_ALLOC(ctx, st, fail, icol, (size_t)S, "sweep column");
    TTP_ALLOC(ctx, st, fail, warn, (size_t)S * WLEN, "sweep warnings");
    for (int q = 0; q < NDV; q++) {
        for (int64_t i = 0; i < S; i++) {
            const ttp_prediction *p = r->pred[i];
            const ttp_opt *op = &r->opts[i].opt;
            const double v[NDV] = {op->lr,
                                   op->momentum,
                                   op->wd,
                                   final_loss(p, &r->opts[i]),
                                   p->main.curves->acc[op->steps],
                                   p->main.wall,
                                   p->main.wall_lo,
                                   p->main.wall_hi,
                                   p->sec_per_step,
                                   2.0 * p->stability,
                                   p->lr_stable,
                                   p->lr_stable_full,
                                   2.0 * p->batch_stab_mean,
                                   p->faith.worst_out_gap};
            col[i] = v[q];
        }
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, dv[q], col), "writing %s to '%s'", dname[q], path);
    }
    for (int q = 0; q < NIV; q++) {
        for (int64_t i = 0; i < S; i++) {
            const ttp_prediction *p = r->pred[i];
            const ttp_opt *op = &r->opts[i].opt;
            const long long v[NIV] = {ttp_opt_batch(op, r->n), op->steps,        p->main.tt[0].steps,
                                      p->main.tt[0].lo,        p->main.tt[0].hi, p->valid};
            icol[i] = v[q];
        }
        TTP_NC(ctx, st, fail, nc_put_var_longlong(nc, iv[q], icol), "writing %s to '%s'", iname[q], path);
    }
    for (int64_t i = 0; i < S; i++) icol[i] = r->order[i];
    TTP_NC(ctx, st, fail, nc_put_var_longlong(nc, vorder, icol), "writing order to '%s'", path);
    for (int64_t i = 0; i < S; i++) strncpy(warn + (size_t)i * WLEN, r->pred[i]->warning, WLEN);
    TTP_NC(ctx, st, fail, nc_put_var_text(nc, vwarn, warn), "writing warning to '%s'", path);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    free(col), free(icol), free(warn);
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    free(col), free(icol), free(warn);
    return st;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
#define NPAL ((int)(sizeof palette / sizeof palette[0]))
#define MAX_LINES 24 /* lines drawn; further combinations only in the table */

/* Same setting but for the learning rate (one line of the plots). */
static int same_line(const ttp_opt *a, const ttp_opt *b, int64_t n)
{
    return ttp_opt_batch(a, n) == ttp_opt_batch(b, n) && a->momentum == b->momentum && a->wd == b->wd &&
           a->steps == b->steps;
}

ttp_status ttp_sweep_write_report(ttp_ctx *ctx, const char *dir, const ttp_sweep_result *r,
                                  const ttp_sweep_opts *o)
{
    ttp_status st = TTP_OK;
    const int64_t S = r->count;
    double *x = NULL, *yt = NULL, *yl = NULL, *xi = NULL, *yti = NULL, *yli = NULL;
    char path[4096], labels[MAX_LINES][96], def[160];
    ttp_series ts[MAX_LINES + 1], ls[MAX_LINES + 1];
    int64_t first[MAX_LINES];
    ttp_text md = {0};
    memset(ts, 0, sizeof ts);
    memset(ls, 0, sizeof ls);
    TTP_CALL(ctx, ttp_mkdir(ctx, dir));
    TTP_ALLOC(ctx, st, done, x, (size_t)S, "report axis");
    TTP_ALLOC(ctx, st, done, yt, (size_t)S, "report times");
    TTP_ALLOC(ctx, st, done, yl, (size_t)S, "report losses");
    TTP_ALLOC(ctx, st, done, xi, (size_t)S, "report axis");
    TTP_ALLOC(ctx, st, done, yti, (size_t)S, "report times");
    TTP_ALLOC(ctx, st, done, yli, (size_t)S, "report losses");
    const int timed = o->base.time_reps > 0;
    /* Lines: one per combination of the other settings, points by lr
     * ascending (the grid lists lrs in the order given: sort each line). */
    int nl = 0;
    int64_t used = 0, ninv = 0;
    double lr_lim = INFINITY;
    for (int64_t i = 0; i < S; i++) {
        if (r->pred[i]->lr_stable < lr_lim) lr_lim = r->pred[i]->lr_stable;
        int line = -1;
        for (int l = 0; l < nl; l++)
            if (same_line(&r->opts[first[l]].opt, &r->opts[i].opt, r->n)) line = l;
        if (line < 0 && nl < MAX_LINES) first[nl++] = i;
    }
    for (int l = 0; l < nl; l++) {
        const ttp_opt *b = &r->opts[first[l]].opt;
        int64_t start = used;
        for (int64_t i = 0; i < S; i++) {
            if (!same_line(&r->opts[first[l]].opt, &r->opts[i].opt, r->n)) continue;
            const ttp_prediction *p = r->pred[i];
            /* insertion by lr */
            int64_t k = used++;
            while (k > start && x[k - 1] > r->opts[i].opt.lr) {
                x[k] = x[k - 1], yt[k] = yt[k - 1], yl[k] = yl[k - 1];
                k--;
            }
            x[k] = r->opts[i].opt.lr;
            const int64_t s = p->main.tt[0].steps;
            yt[k] = s < 0 ? NAN : timed ? p->main.wall : (double)s;
            yl[k] = final_loss(p, &r->opts[i]);
            if (!p->valid) {
                xi[ninv] = x[k];
                yti[ninv] = yt[k];
                yli[ninv] = yl[k];
                ninv++;
            }
        }
        snprintf(labels[l], sizeof labels[l], "batch %lld, m %g, wd %g, T %lld",
                 (long long)ttp_opt_batch(b, r->n), b->momentum, b->wd, (long long)b->steps);
        ts[l] = (ttp_series){labels[l],    x + start,         yt + start, NULL, NULL,
                             used - start, palette[l % NPAL], l >= NPAL,  0};
        ls[l] = ts[l];
        ls[l].y = yl + start;
    }
    int nts = nl;
    if (ninv > 0) {
        ts[nts] = (ttp_series){"outside the method's regime", xi, yti, NULL, NULL, ninv, "#000000", 0, 1};
        ls[nts] = ts[nts];
        ls[nts].y = yli;
        nts++;
    }
    ttp_plot pt = {timed ? "Predicted time to the target against the learning rate"
                         : "Predicted steps to the target against the learning rate",
                   "learning rate",
                   timed ? "predicted wall-clock (s)" : "predicted steps",
                   1,
                   1,
                   0,
                   lr_lim,
                   "largest stable lr"};
    snprintf(path, sizeof path, "%s/sweep_time.svg", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pt, ts, nts));
    ttp_plot pl = {"Predicted final loss against the learning rate",
                   "learning rate",
                   "final training loss (step T)",
                   1,
                   0,
                   0,
                   lr_lim,
                   "largest stable lr"};
    snprintf(path, sizeof path, "%s/sweep_loss.svg", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pl, ls, nts));

    snprintf(path, sizeof path, "%s/report.md", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_text_open(ctx, path, "report", &md));
    FILE *f = md.f;
    ttp_tt_describe(&o->base.tt[0], def, sizeof def);
    fprintf(f, "# ttpredict sweep: %lld settings from one kernel\n\n", (long long)S);
    fprintf(f, "Target: %s (%s loss). μ_max(Θ/N) = %.5g. N = %lld, C = %d, D = %lld (D′ = %lld).\n\n", def,
            ttp_loss_str(o->base.opt.loss), r->mu_max, (long long)r->n, r->c, (long long)r->d,
            (long long)r->dproj);
    if (r->best >= 0) {
        const ttp_predict_opts *b = &r->opts[r->best];
        fprintf(
            f,
            "**Best valid setting%s:** lr %g, batch %lld, momentum %g, weight decay %g, T = %lld: %lld steps",
            o->budget > 0 || o->budget_steps > 0 ? " within the budget" : "", b->opt.lr,
            (long long)ttp_opt_batch(&b->opt, r->n), b->opt.momentum, b->opt.wd, (long long)b->opt.steps,
            (long long)r->pred[r->best]->main.tt[0].steps);
        if (timed) fprintf(f, ", %.3g s", r->pred[r->best]->main.wall);
        fprintf(f, ".\n\n");
    } else {
        fprintf(f, "**No valid setting reaches the target%s.**\n\n",
                o->budget > 0 || o->budget_steps > 0 ? " within the budget" : "");
    }
    fprintf(f, "![time](sweep_time.svg)\n\n![final loss](sweep_loss.svg)\n\n");
    fprintf(
        f,
        "| # | lr | batch | momentum | wd | T | steps | band | wall-clock (s) | final loss | largest "
        "stable lr | status |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int64_t k = 0; k < S; k++) {
        const int64_t i = r->order[k];
        const ttp_prediction *p = r->pred[i];
        const ttp_opt *op = &r->opts[i].opt;
        char s[32], lo[32], hi[32], w[32];
        fmt_steps(p->main.tt[0].steps, op->steps, s, sizeof s);
        fmt_steps(p->main.tt[0].lo, op->steps, lo, sizeof lo);
        fmt_steps(p->main.tt[0].hi, op->steps, hi, sizeof hi);
        fmt_secs(p->main.wall, w, sizeof w);
        fprintf(f, "| %lld | %g | %lld | %g | %g | %lld | %s | %s – %s | %s | %.5g | %.4g | %s |\n",
                (long long)k + 1, op->lr, (long long)ttp_opt_batch(op, r->n), op->momentum, op->wd,
                (long long)op->steps, s, lo, hi, w, final_loss(p, &r->opts[i]), p->lr_stable, status_word(p));
    }
    fprintf(f, "\nEach row is exactly what `ttpredict predict` gives for that setting on this kernel; "
               "docs/METHOD.md describes the method and its validity checks.\n");
    TTP_CALL_GOTO(ctx, st, done, ttp_text_commit(ctx, &md));
done:
    if (st != TTP_OK) ttp_text_abort(&md);
    free(x), free(yt), free(yl), free(xi), free(yti), free(yli);
    return st;
}
