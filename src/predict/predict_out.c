/*
 * predict_out.c — the outputs of a prediction (ttp_predict.h): the summary
 * printed by `predict`, JSON, the NetCDF result file (docs/formats/result.md)
 * and the Markdown report with SVG plots.  Rank 0 only; nothing here
 * computes a prediction.
 */
#include "ttp_predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_nc.h"
#include "ttp_report.h"

/* The projection as the kernel stage settled it (TTP_PROJ_AUTO resolved
 * for the model's D). */
static ttp_proj_kind shown_proj(const ttp_prediction *p, const ttp_predict_opts *o)
{
    ttp_kernel_opts k = o->kernel;
    ttp_kernel_opts_resolve(&k, p->d);
    return k.proj;
}

/* ---- outputs ------------------------------------------------------------- */

void ttp_tt_describe(const ttp_tt_def *t, char *buf, size_t len)
{
    switch (t->kind) {
    case TTP_TT_EPS: snprintf(buf, len, "|L_t - L_T| < %g (mean loss)", t->value); break;
    case TTP_TT_REL: snprintf(buf, len, "L_t - L_T <= %g (L_0 - L_T)", t->value); break;
    case TTP_TT_LOSS: snprintf(buf, len, "L_t <= %g", t->value); break;
    case TTP_TT_ACC: snprintf(buf, len, "accuracy >= %g", t->value); break;
    default: snprintf(buf, len, "?"); break;
    }
    if (t->smooth > 1) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, ", smoothed over %d steps", t->smooth);
    }
}

double ttp_prediction_training_seconds(const ttp_prediction *p, int64_t T)
{
    if (!(isfinite(p->sec_per_step) && p->sec_per_step > 0)) return NAN;
    return isfinite(p->main.wall) ? p->main.wall : (double)T * p->sec_per_step;
}

double ttp_prediction_cost_ratio(const ttp_prediction *p, int64_t T)
{
    const double tr = ttp_prediction_training_seconds(p, T);
    return isfinite(tr) && p->seconds > 0 ? tr / p->seconds : NAN;
}

static void fmt_steps(int64_t s, int64_t T, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "> %lld", (long long)T);
    else
        snprintf(buf, len, "%lld", (long long)s);
}

const char *ttp_opt_describe(const ttp_opt *o, int64_t n)
{
    int sgd = ttp_opt_batch(o, n) < n;
    if (o->momentum > 0)
        return o->nesterov ? (sgd ? "SGD+Nesterov" : "GD+Nesterov") : (sgd ? "SGD+momentum" : "GD+momentum");
    return sgd ? "SGD" : "GD";
}

void ttp_predict_print(FILE *f, const ttp_prediction *p, const ttp_predict_opts *o)
{
    const ttp_opt *op = &o->opt;
    int64_t T = op->steps;
    const ttp_curves *cv = p->main.curves;
    char a[64], b[64], c[64], def[160];
    fprintf(f, "ttpredict predict: %lld samples x %d outputs, D = %lld trainable weights", (long long)p->n,
            p->c, (long long)p->d);
    if (p->kernel && p->kernel->trainable[0] && strcmp(p->kernel->trainable, "all") != 0)
        fprintf(f, " (in %s)", p->kernel->trainable);
    if (p->dproj != p->d)
        fprintf(f, ", projected to D' = %lld (%s)", (long long)p->dproj, ttp_proj_kind_str(shown_proj(p, o)));
    fprintf(f, ", %d rank(s)\n", p->nranks);
    if (p->dproj_raises > 0)
        fprintf(f,
                "  projection  D' raised from %lld to %lld (%d rebuild(s), %.1f s): at D' = %lld the "
                "projected kernel's own error (kernel gap) was %.0f%% of the outputs' movement, at least "
                "%.0f%% (docs/METHOD.md 6l)\n",
                (long long)p->dproj_first, (long long)p->dproj, p->dproj_raises, p->sec_dproj,
                (long long)p->dproj_first, 100 * p->dproj_first_kgap, 100 * TTP_FAITH_KGAP_NAMED);
    if (p->dproj_note[0]) fprintf(f, "  projection  %s\n", p->dproj_note);
    fprintf(f, "  optimizer   %s, lr %g, batch %lld, momentum %g, weight decay %g, %s loss, T = %lld steps\n",
            ttp_opt_describe(op, p->n), op->lr, (long long)ttp_opt_batch(op, p->n), op->momentum, op->wd,
            ttp_loss_str(op->loss), (long long)T);
    if (p->n != p->n_kernel)
        fprintf(f, "  kernel      on %lld of the %lld samples; spectrum extrapolated by power laws\n",
                (long long)p->n_kernel, (long long)p->n);
    if (p->subset_auto) fprintf(f, "  subset      %s\n", p->subset_why);
    if (p->ce_kappa > 0)
        fprintf(f,
                "  cross-ent.  exact dynamics on the %lld samples, re-timed by the spectrum (softmax "
                "curvature %.4g)\n",
                (long long)p->n_kernel, p->ce_kappa);
    fprintf(f,
            "  spectrum    mu_max(Theta/N) = %.5g, stability %.3g (limit 2: eta*kappa*mu_max scaled by the "
            "optimizer's limit)\n",
            p->mu_max, 2.0 * p->stability);
    if (p->path == TTP_DYN_DIRECT)
        fprintf(
            f,
            "  dynamics    direct: products with Theta, top %lld eigenpairs by Lanczos (%.3g flops against "
            "%.3g for the full eigen-decomposition)\n",
            (long long)(p->kernel ? p->kernel->neig : 0), p->flops_direct, p->flops_eigen);
    else if (p->path == TTP_DYN_EIGEN && p->flops_eigen > 0)
        fprintf(f, "  dynamics    eigen: full eigen-decomposition (%.3g flops; products with Theta: %.3g)\n",
                p->flops_eigen, p->flops_direct);
    if (p->lr_stable > 0 && isfinite(p->lr_stable)) {
        fprintf(f, "  stable lr   up to %.4g for this optimizer", p->lr_stable);
        if (p->lr_stable < p->lr_stable_full)
            fprintf(f, " (its SGD batches; full batch %.4g)", p->lr_stable_full);
        fprintf(f, "; lr %g is %.0f%% of it\n", op->lr, 100 * op->lr / p->lr_stable);
    }
    for (int i = 0; i < p->main.ntt; i++) {
        const ttp_tt_result *r = &p->main.tt[i];
        ttp_tt_describe(&r->def, def, sizeof def);
        fmt_steps(r->steps, T, a, sizeof a);
        fmt_steps(r->lo, T, b, sizeof b);
        fmt_steps(r->hi, T, c, sizeof c);
        fprintf(f, "  %s %s steps  [%g-%g%% band: %s .. %s]   (%s)\n",
                i == 0 ? "TRAINING TIME" : "  also       ", a, 100 * o->sim.band_lo, 100 * o->sim.band_hi, b,
                c, def);
    }
    if (cv) {
        fprintf(f, "  loss        %.5g -> %.5g at step %lld (band %.5g .. %.5g)\n", cv->loss[0], cv->loss[T],
                (long long)T, cv->loss_lo[T], cv->loss_hi[T]);
        if (isfinite(cv->acc[0]))
            fprintf(f, "  accuracy    %.4f -> %.4f at step %lld\n", cv->acc[0], cv->acc[T], (long long)T);
    }
    if (isfinite(p->sec_per_step)) {
        /* A time not reached by T reads as "> T steps' seconds", as the steps do. */
        char w[3][32];
        const double wv[3] = {p->main.wall, p->main.wall_lo, p->main.wall_hi};
        for (int i = 0; i < 3; i++) {
            if (isfinite(wv[i]))
                snprintf(w[i], sizeof w[i], "%.3g", wv[i]);
            else
                snprintf(w[i], sizeof w[i], "> %.3g", (double)T * p->sec_per_step);
        }
        char how[160];
        const ttp_step_model *sm = &p->step_model;
        if (p->step_timing == TTP_STEP_TIMING_MODEL)
            snprintf(how, sizeof how,
                     "cost model: %.3g GFLOP/sample at %.3g GFLOP/s from a probe of %lld+%lld samples",
                     sm->flops_per_sample * 1e-9, sm->rate * 1e-9, (long long)sm->probe_hi,
                     (long long)sm->probe_lo);
        else
            snprintf(how, sizeof how, "%s", p->step_timing == TTP_STEP_TIMING_MEASURE ? "measured" : "given");
        fprintf(f, "  wall-clock  %s s predicted [%s .. %s] at %.4g s/step (%s; batch %lld, %d rank(s))%s\n",
                w[0], w[1], w[2], p->sec_per_step, how, (long long)ttp_opt_batch(op, p->n), p->nranks,
                p->valid ? "" : "; NOT meaningful, see WARNING");
    }
    for (int i = 0; i < p->nextrap; i++) {
        const ttp_pred_curve *e = &p->extrap[i];
        fmt_steps(e->tt[0].steps, T, a, sizeof a);
        fmt_steps(e->tt[0].lo, T, b, sizeof b);
        fmt_steps(e->tt[0].hi, T, c, sizeof c);
        fprintf(f, "  N' = %-7lld %s steps [%s .. %s], final loss %.5g, wall-clock %.3g s\n", (long long)e->n,
                a, b, c, e->curves->loss[T], e->wall);
    }
    if (p->have_fit)
        fprintf(f,
                "  fits        mu_k ~ %.3g k^-%.3f (+-%.3f, modes %lld-%lld, R2 %.4f);  p_k^2/N ~ %.3g "
                "k^-%.3f (+-%.3f)\n",
                p->fit_mu.a, p->fit_mu.alpha, p->fit_mu.alpha_err, (long long)p->fit_mu.k_lo,
                (long long)p->fit_mu.k_hi, p->fit_mu.r2, p->fit_p.a, p->fit_p.alpha, p->fit_p.alpha_err);
    fprintf(f, "  cost        %.2f s (kernel %.2f, dynamics %.2f, step timing %.2f", p->seconds,
            p->sec_kernel, p->sec_sim, p->sec_timing);
    if (p->dproj_raises > 0) fprintf(f, ", D' raised %.2f", p->sec_dproj);
    fprintf(f, ")");
    const double train_s = ttp_prediction_training_seconds(p, T), ratio = ttp_prediction_cost_ratio(p, T);
    if (isfinite(ratio)) fprintf(f, "; the training it predicts %.3g s is %.2gx this", train_s, ratio);
    fprintf(f, "\n");
    if (isfinite(ratio) && ratio < 1)
        fprintf(f,
                "  NOTE        this prediction cost more than the training it predicts (%.3g s against "
                "%.3g s)%s\n",
                p->seconds, train_s,
                p->faith.segments > 1
                    ? ": its linear model held only over short segments, each a kernel rebuilt; at these "
                      "settings training directly is cheaper, or --relinearize 0 gives the single "
                      "linearization (with its warning) at the kernel's cost"
                    : ": the kernel and its checks cost more than these steps of training; train directly");
    ttp_faith_print(f, p);
    if (p->faith.npoints > 0 && p->faith.kdrift_seconds > 0) {
        fprintf(f,
                "  kernel      drift |Theta(w_t) g - Theta(w0) g| / |Theta(w0) g| (rate g'Theta g vs w0):");
        for (int i = 0; i < p->faith.npoints; i++)
            fprintf(f, " %lld: %.1f%% (x%.2f)", (long long)p->faith.step[i], 100 * p->faith.kdrift[i],
                    p->faith.krate[i]);
        fprintf(f, "\n");
    }
    if (p->warning[0]) fprintf(f, "  WARNING     %s\n", p->warning);
}

static void json_tt(ttp_json *j, const ttp_pred_curve *pc)
{
    ttp_json_begin_array(j, "training_times");
    for (int i = 0; i < pc->ntt; i++) {
        char def[160];
        ttp_tt_describe(&pc->tt[i].def, def, sizeof def);
        ttp_json_begin_object(j, NULL);
        ttp_json_str(j, "kind", ttp_tt_kind_str(pc->tt[i].def.kind));
        ttp_json_num(j, "threshold", pc->tt[i].def.value);
        ttp_json_int(j, "smooth", pc->tt[i].def.smooth);
        ttp_json_str(j, "definition", def);
        ttp_json_int(j, "steps", pc->tt[i].steps);
        ttp_json_int(j, "steps_lo", pc->tt[i].lo);
        ttp_json_int(j, "steps_hi", pc->tt[i].hi);
        ttp_json_end_object(j);
    }
    ttp_json_end_array(j);
}

static void json_fit(ttp_json *j, const char *key, const ttp_powerlaw *f)
{
    ttp_json_begin_object(j, key);
    ttp_json_num(j, "a", f->a);
    ttp_json_num(j, "alpha", f->alpha);
    ttp_json_num(j, "alpha_err", f->alpha_err);
    ttp_json_num(j, "a_err", f->a_err);
    ttp_json_num(j, "r2", f->r2);
    ttp_json_num(j, "rms_log_resid", f->rms_log_resid);
    ttp_json_int(j, "k_lo", f->k_lo);
    ttp_json_int(j, "k_hi", f->k_hi);
    ttp_json_bool(j, "ok", f->ok);
    ttp_json_str(j, "note", f->note);
    ttp_json_end_object(j);
}

ttp_status ttp_predict_write_json(ttp_ctx *ctx, const char *path, const ttp_prediction *p,
                                  const ttp_predict_opts *o)
{
    ttp_json *j = NULL;
    int64_t T = o->opt.steps;
    const ttp_curves *cv = p->main.curves;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
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
    ttp_json_num(j, "seconds", p->seconds);
    ttp_json_num(j, "training_seconds_predicted", ttp_prediction_training_seconds(p, T));
    ttp_json_num(j, "cost_ratio", ttp_prediction_cost_ratio(p, T));
    ttp_json_num(j, "seconds_kernel", p->sec_kernel);
    ttp_json_num(j, "seconds_dynamics", p->sec_sim);
    ttp_json_num(j, "seconds_step_timing", p->sec_timing);
    ttp_json_str(j, "step_timing", ttp_step_timing_str(p->step_timing));
    if (p->step_timing == TTP_STEP_TIMING_MODEL) {
        const ttp_step_model *sm = &p->step_model;
        ttp_json_begin_object(j, "step_model");
        ttp_json_num(j, "flops_per_sample", sm->flops_per_sample);
        ttp_json_num(j, "bytes_per_sample", sm->bytes_per_sample);
        ttp_json_num(j, "flops_per_second", sm->rate);
        ttp_json_num(j, "seconds_per_call", sm->sec_call);
        ttp_json_num(j, "seconds_update", sm->sec_update);
        ttp_json_num(j, "cpu_share", sm->cpu_share);
        ttp_json_num(j, "bandwidth_bytes_per_second", sm->bandwidth);
        ttp_json_int(j, "probe_batch_hi", sm->probe_hi);
        ttp_json_int(j, "probe_batch_lo", sm->probe_lo);
        ttp_json_int(j, "probe_reps", sm->reps);
        ttp_json_num(j, "probe_seconds", sm->sec_probe);
        ttp_json_end_object(j);
    }
    if (p->kernel) { /* the kernel stage's parts (a reused kernel: as it was built) */
        ttp_json_num(j, "seconds_kernel_jacobian", p->kernel->sec_jac);
        ttp_json_num(j, "seconds_kernel_gram", p->kernel->sec_gram);
        ttp_json_num(j, "seconds_kernel_eigen", p->kernel->sec_eig);
    }
    ttp_json_str(j, "dynamics_path", ttp_dyn_path_str(p->path));
    ttp_json_num(j, "flops_eigen_path", p->flops_eigen);
    ttp_json_num(j, "flops_direct_path", p->flops_direct);
    ttp_json_bool(j, "valid", p->valid);
    ttp_json_str(j, "warning", p->warning);
    ttp_json_num(j, "stability", 2.0 * p->stability);
    ttp_json_num(j, "lr_stable", p->lr_stable);
    ttp_json_num(j, "lr_stable_full_batch", p->lr_stable_full);
    ttp_faith_json(j, p);
    if (p->faith.npoints > 0 && p->faith.kdrift_seconds > 0) {
        ttp_json_nums(j, "kernel_drift", p->faith.kdrift, p->faith.npoints);
        ttp_json_nums(j, "kernel_rate", p->faith.krate, p->faith.npoints);
        ttp_json_num(j, "kernel_drift_worst", p->faith.worst_kdrift);
    }
    if (p->faith.relin_kernel) {
        ttp_json_num(j, "relinearize_kernel_sensitivity", p->faith.relin_sens);
        double tl[TTP_MAX_TT];
        for (int i = 0; i < p->main.ntt; i++) tl[i] = (double)p->faith.relin_tt_lag[i];
        ttp_json_nums(j, "relinearize_kernel_lagged_steps", tl, p->main.ntt);
    }
    ttp_json_num(j, "mu_max", p->mu_max);
    if (p->ce_kappa > 0) ttp_json_num(j, "ce_curvature", p->ce_kappa);
    ttp_json_int(j, "n", p->n);
    ttp_json_int(j, "n_kernel", p->n_kernel);
    if (p->subset_auto) {
        ttp_json_bool(j, "subset_auto", p->subset_auto > 0);
        ttp_json_str(j, "subset_rule", p->subset_why);
    }
    ttp_json_int(j, "c", p->c);
    ttp_json_int(j, "d", p->d);
    if (p->kernel && p->kernel->trainable[0]) ttp_json_str(j, "trainable_layers", p->kernel->trainable);
    ttp_json_int(j, "dproj", p->dproj);
    ttp_json_int(j, "dproj_raised_from", p->dproj_first);
    ttp_json_int(j, "dproj_raises", p->dproj_raises);
    if (p->dproj_raises > 0) {
        ttp_json_num(j, "dproj_raised_kernel_gap", p->dproj_first_kgap);
        ttp_json_num(j, "seconds_dproj_raise", p->sec_dproj);
    }
    if (p->dproj_note[0]) ttp_json_str(j, "dproj_note", p->dproj_note);
    ttp_json_int(j, "ranks", p->nranks);
    ttp_json_begin_object(j, "settings");
    ttp_json_str(j, "optimizer", ttp_opt_describe(&o->opt, p->n));
    ttp_json_str(j, "loss", ttp_loss_str(o->opt.loss));
    ttp_json_num(j, "lr", o->opt.lr);
    ttp_json_int(j, "batch", ttp_opt_batch(&o->opt, p->n));
    ttp_json_num(j, "momentum", o->opt.momentum);
    ttp_json_bool(j, "nesterov", o->opt.nesterov);
    ttp_json_num(j, "weight_decay", o->opt.wd);
    ttp_json_int(j, "steps", T);
    ttp_json_int(j, "seed", (int64_t)o->opt.seed);
    ttp_json_int(j, "ensemble", o->sim.ensemble);
    ttp_json_str(j, "projection", ttp_proj_kind_str(shown_proj(p, o)));
    ttp_json_str(j, "model", o->kernel.model_path ? o->kernel.model_path : "");
    ttp_json_str(j, "data", o->kernel.data_path ? o->kernel.data_path : "");
    ttp_json_end_object(j);
    json_tt(j, &p->main);
    if (p->have_fit) {
        json_fit(j, "fit_eigenvalues", &p->fit_mu);
        json_fit(j, "fit_residual_energy", &p->fit_p);
    }
    if (p->nextrap > 0) {
        ttp_json_begin_array(j, "extrapolation");
        for (int i = 0; i < p->nextrap; i++) {
            const ttp_pred_curve *e = &p->extrap[i];
            ttp_json_begin_object(j, NULL);
            ttp_json_int(j, "n", e->n);
            ttp_json_int(j, "tt_steps", e->tt[0].steps);
            ttp_json_int(j, "tt_steps_lo", e->tt[0].lo);
            ttp_json_int(j, "tt_steps_hi", e->tt[0].hi);
            ttp_json_num(j, "final_loss", e->curves->loss[T]);
            ttp_json_num(j, "wall_seconds_predicted", e->wall);
            json_tt(j, e);
            ttp_json_end_object(j);
        }
        ttp_json_end_array(j);
    }
    ttp_json_nums(j, "loss", cv->loss, T + 1);
    ttp_json_nums(j, "loss_lo", cv->loss_lo, T + 1);
    ttp_json_nums(j, "loss_hi", cv->loss_hi, T + 1);
    ttp_json_nums(j, "accuracy", cv->acc, T + 1);
    return ttp_json_close(ctx, &j);
}

ttp_status ttp_predict_write_nc(ttp_ctx *ctx, const char *path, const ttp_prediction *p,
                                const ttp_predict_opts *o)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    int nc = -1, dstep, dtt, deig = -1, dex = -1;
    int64_t T = o->opt.steps;
    const ttp_curves *cv = p->main.curves;
    const ttp_kernel *k = p->kernel;
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_CLOBBER | NC_NETCDF4));
    nc = f.id;
    const char *mp = o->kernel.model_path ? o->kernel.model_path : "",
               *dp = o->kernel.data_path ? o->kernel.data_path : "";
    const struct {
        const char *name, *val;
    } texts[] = {
        {"ttp_kind", "prediction"},
        {"optimizer", ttp_opt_describe(&o->opt, p->n)},
        {"loss", ttp_loss_str(o->opt.loss)},
        {"model", mp},
        {"data", dp},
        {"warning", p->warning},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, texts[i].name, texts[i].val, path));
    struct {
        const char *name;
        double v;
    } sattr[] = {
        {"lr", o->opt.lr},
        {"batch", (double)ttp_opt_batch(&o->opt, p->n)},
        {"momentum", o->opt.momentum},
        {"nesterov", o->opt.nesterov},
        {"weight_decay", o->opt.wd},
        {"steps", (double)T},
        {"seed", (double)o->opt.seed},
        {"ensemble", o->sim.ensemble},
        {"band_lo", o->sim.band_lo},
        {"band_hi", o->sim.band_hi},
        {"n", (double)p->n},
        {"n_kernel", (double)p->n_kernel},
        {"c", p->c},
        {"d", (double)p->d},
        {"dproj", (double)p->dproj},
        {"dproj_raised_from", (double)p->dproj_first},
        {"mu_max", p->mu_max},
        {"stability", 2.0 * p->stability},
        {"lr_stable", p->lr_stable},
        {"lr_stable_full_batch", p->lr_stable_full},
        {"valid", p->valid},
        {"seconds_per_step", p->sec_per_step},
        {"wall_seconds_predicted", p->main.wall},
        {"seconds", p->seconds},
        {"batch_stability_mean", 2.0 * p->batch_stab_mean},
        {"batch_stability_max", 2.0 * p->batch_stab_max},
        {"loss_growth", p->growth},
        {"faith_points", p->faith.npoints},
        {"faith_worst_loss_gap", p->faith.worst_loss_gap},
        {"faith_worst_output_gap", p->faith.worst_out_gap},
    };
    for (size_t i = 0; i < sizeof sattr / sizeof sattr[0]; i++)
        TTP_NC(ctx, st, fail, nc_put_att_double(nc, NC_GLOBAL, sattr[i].name, NC_DOUBLE, 1, &sattr[i].v),
               "writing attribute %s of '%s'", sattr[i].name, path);
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "step", (size_t)T + 1, &dstep), "writing '%s'", path);
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "tt", (size_t)p->main.ntt, &dtt), "writing '%s'", path);
    if (k && k->neig > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "mode", (size_t)k->neig, &deig), "writing '%s'", path);
    if (p->nextrap > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "extrapolation", (size_t)p->nextrap, &dex), "writing '%s'",
               path);
    const char *cname[6] = {"loss", "loss_lo", "loss_hi", "accuracy", "accuracy_lo", "accuracy_hi"};
    const double *cdat[6] = {cv->loss, cv->loss_lo, cv->loss_hi, cv->acc, cv->acc_lo, cv->acc_hi};
    int vid[6], vtt[3], veig = -1, vex = -1, vexl = -1, vextt = -1;
    for (int i = 0; i < 6; i++)
        TTP_NC(ctx, st, fail, nc_def_var(nc, cname[i], NC_DOUBLE, 1, &dstep, &vid[i]), "defining %s in '%s'",
               cname[i], path);
    const char *tname[3] = {"tt_steps", "tt_steps_lo", "tt_steps_hi"};
    for (int i = 0; i < 3; i++)
        TTP_NC(ctx, st, fail, nc_def_var(nc, tname[i], NC_INT64, 1, &dtt, &vtt[i]), "defining %s in '%s'",
               tname[i], path);
    int vthr;
    TTP_NC(ctx, st, fail, nc_def_var(nc, "tt_threshold", NC_DOUBLE, 1, &dtt, &vthr),
           "defining tt_threshold in '%s'", path);
    {
        /* The definitions in words, in the order of the tt dimension. */
        char defs[TTP_MAX_TT * 170] = "", one[160];
        for (int i = 0; i < p->main.ntt; i++) {
            ttp_tt_describe(&p->main.tt[i].def, one, sizeof one);
            size_t u = strlen(defs);
            snprintf(defs + u, sizeof defs - u, "%s%s: %s", i ? "; " : "",
                     ttp_tt_kind_str(p->main.tt[i].def.kind), one);
        }
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "tt_definitions", defs, path));
        const char *ln = "first step from which the criterion holds until T (-1: not within T)";
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, vtt[0], "long_name", ln, path));
    }
    if (deig >= 0)
        TTP_NC(ctx, st, fail, nc_def_var(nc, "eigenvalue_over_n", NC_DOUBLE, 1, &deig, &veig),
               "defining eigenvalues in '%s'", path);
    if (dex >= 0) {
        int dims[2] = {dex, dstep};
        TTP_NC(ctx, st, fail, nc_def_var(nc, "extrapolation_n", NC_INT64, 1, &dex, &vex), "writing '%s'",
               path);
        TTP_NC(ctx, st, fail, nc_def_var(nc, "extrapolation_tt_steps", NC_INT64, 1, &dex, &vextt),
               "writing '%s'", path);
        TTP_NC(ctx, st, fail, nc_def_var(nc, "extrapolation_loss", NC_DOUBLE, 2, dims, &vexl), "writing '%s'",
               path);
    }
    TTP_NC(ctx, st, fail, nc_enddef(nc), "writing '%s'", path);
    for (int i = 0; i < 6; i++)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, vid[i], cdat[i]), "writing %s to '%s'", cname[i], path);
    for (int i = 0; i < p->main.ntt; i++) {
        size_t idx = (size_t)i;
        TTP_NC(ctx, st, fail, nc_put_var1_double(nc, vthr, &idx, &p->main.tt[i].def.value), "writing '%s'",
               path);
        long long v[3] = {p->main.tt[i].steps, p->main.tt[i].lo, p->main.tt[i].hi};
        for (int q = 0; q < 3; q++)
            TTP_NC(ctx, st, fail, nc_put_var1_longlong(nc, vtt[q], &idx, &v[q]), "writing %s to '%s'",
                   tname[q], path);
    }
    if (veig >= 0)
        for (int64_t i = 0; i < k->neig; i++) {
            size_t idx = (size_t)i;
            double v = k->eigval[i] / (double)k->n;
            TTP_NC(ctx, st, fail, nc_put_var1_double(nc, veig, &idx, &v), "writing eigenvalues to '%s'",
                   path);
        }
    for (int i = 0; i < p->nextrap; i++) {
        size_t idx = (size_t)i, start[2] = {(size_t)i, 0}, count[2] = {1, (size_t)T + 1};
        long long nn = p->extrap[i].n, ts = p->extrap[i].tt[0].steps;
        TTP_NC(ctx, st, fail, nc_put_var1_longlong(nc, vex, &idx, &nn), "writing '%s'", path);
        TTP_NC(ctx, st, fail, nc_put_var1_longlong(nc, vextt, &idx, &ts), "writing '%s'", path);
        TTP_NC(ctx, st, fail, nc_put_vara_double(nc, vexl, start, count, p->extrap[i].curves->loss),
               "writing '%s'", path);
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    return st;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

ttp_status ttp_predict_write_report(ttp_ctx *ctx, const char *dir, const ttp_prediction *p,
                                    const ttp_predict_opts *o)
{
    ttp_status st = TTP_OK;
    char path[4096], def[160], a[64], b[64], c[64];
    int64_t T = o->opt.steps;
    const ttp_curves *cv = p->main.curves;
    const ttp_kernel *k = p->kernel;
    double *steps = NULL, *kx = NULL, *mu = NULL, *fit = NULL, *ex_k = NULL, *ex_mu = NULL;
    FILE *f = NULL;
    ttp_text md = {0};
    TTP_CALL(ctx, ttp_mkdir(ctx, dir));
    TTP_ALLOC(ctx, st, done, steps, T + 1, "report axis");
    for (int64_t t = 0; t <= T; t++) steps[t] = (double)t;

    /* 1. the predicted loss curve with its band (and extrapolations) */
    ttp_series s[1 + TTP_MAX_EXTRAP];
    memset(s, 0, sizeof s);
    int ns = 0;
    s[ns++] = (ttp_series){
        "predicted loss (mean, band)", steps, cv->loss, cv->loss_lo, cv->loss_hi, T + 1, palette[0], 0, 0};
    char labels[TTP_MAX_EXTRAP][64];
    for (int i = 0; i < p->nextrap && ns < 1 + TTP_MAX_EXTRAP; i++) {
        snprintf(labels[i], sizeof labels[i], "extrapolated to N' = %lld", (long long)p->extrap[i].n);
        s[ns++] = (ttp_series){
            labels[i], steps, p->extrap[i].curves->loss, NULL, NULL, T + 1, palette[1 + i % 5], 1, 0};
    }
    ttp_plot pl = {"Predicted training loss of the linearized network",
                   "step",
                   "mean training loss",
                   0,
                   0,
                   0,
                   p->main.tt[0].steps >= 0 ? (double)p->main.tt[0].steps : NAN,
                   "predicted training time"};
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pl, s, ns));

    /* 2. the spectrum on log-log axes, with the fitted law where there is one */
    int have_spec = k && k->neig > 0;
    if (have_spec) {
        TTP_ALLOC(ctx, st, done, kx, k->neig, "report axis");
        TTP_ALLOC(ctx, st, done, mu, k->neig, "report spectrum");
        TTP_ALLOC(ctx, st, done, fit, k->neig, "report fit");
        for (int64_t i = 0; i < k->neig; i++) {
            kx[i] = (double)(i + 1);
            mu[i] = k->eigval[i] / (double)k->n;
            fit[i] = p->have_fit ? p->fit_mu.a * pow(kx[i], -p->fit_mu.alpha) : NAN;
        }
        ttp_series sp[3] = {
            {"eigenvalues of Theta/N (measured)", kx, mu, NULL, NULL, k->neig, palette[0], 0, 1},
            {"power-law fit", kx, fit, NULL, NULL, k->neig, palette[1], 1, 0},
            {NULL, NULL, NULL, NULL, NULL, 0, palette[2], 1, 0}};
        int nsp = p->have_fit ? 2 : 1;
        char exlabel[96];
        int64_t nbig = p->n;
        for (int i = 0; i < p->nextrap; i++) nbig = p->extrap[i].n > nbig ? p->extrap[i].n : nbig;
        if (p->have_fit && nbig > k->n) { /* the spectrum the largest extrapolation uses */
            double *p2n = NULL, *m1 = NULL, *e1 = NULL,
                   energy = o->opt.loss == TTP_LOSS_MSE ? k->res_energy : k->grad_energy;
            const double *pk = o->opt.loss == TTP_LOSS_MSE ? k->p_res : k->p_grad;
            int64_t k1 = 0;
            TTP_ALLOC(ctx, st, done, p2n, k->neig, "report energies");
            for (int64_t i = 0; i < k->neig; i++) p2n[i] = pk ? pk[i] * pk[i] / (double)k->n : 0.0;
            st = ttp_fit_extrapolate(ctx, mu, p2n, k->neig, energy / (double)k->n, k->n, k->c, nbig, k->d,
                                     &p->fit_mu, &p->fit_p, &m1, &e1, &k1);
            free(p2n);
            free(e1);
            if (st != TTP_OK) goto done;
            free(ex_k);
            TTP_ALLOC(ctx, st, done, ex_k, k1, "report axis");
            for (int64_t i = 0; i < k1; i++) ex_k[i] = (double)(i + 1);
            ex_mu = m1;
            snprintf(exlabel, sizeof exlabel, "extrapolated to N' = %lld", (long long)nbig);
            sp[2] = (ttp_series){exlabel, ex_k, ex_mu, NULL, NULL, k1, palette[2], 1, 0};
            nsp = 3;
        }
        ttp_plot pp = {"Spectrum of the empirical NTK", "mode k", "mu_k", 1, 1, 0, NAN, NULL};
        snprintf(path, sizeof path, "%s/spectrum.svg", dir);
        TTP_CALL_GOTO(ctx, st, done, ttp_svg_write(ctx, path, &pp, sp, nsp));
    }

    /* 3. the Markdown page */
    snprintf(path, sizeof path, "%s/report.md", dir);
    TTP_CALL_GOTO(ctx, st, done, ttp_text_open(ctx, path, "report", &md));
    f = md.f;
    ttp_tt_describe(&p->main.tt[0].def, def, sizeof def);
    fmt_steps(p->main.tt[0].steps, T, a, sizeof a);
    fmt_steps(p->main.tt[0].lo, T, b, sizeof b);
    fmt_steps(p->main.tt[0].hi, T, c, sizeof c);
    fprintf(f, "# ttpredict: predicted fine-tuning time\n\n");
    if (p->warning[0]) fprintf(f, "> **Warning.** %s\n\n", p->warning);
    fprintf(f, "**%s steps** (%g–%g %% band: %s – %s) until %s, out of a budget of T = %lld steps.\n\n", a,
            100 * o->sim.band_lo, 100 * o->sim.band_hi, b, c, def, (long long)T);
    if (isfinite(p->main.wall))
        fprintf(f,
                "Wall-clock: **%.3g s** (%.3g – %.3g s) at %.4g s per step, measured on this machine at "
                "batch %lld "
                "with %d rank(s).\n\n",
                p->main.wall, p->main.wall_lo, p->main.wall_hi, p->sec_per_step,
                (long long)ttp_opt_batch(&o->opt, p->n), p->nranks);
    fprintf(f, "| setting | value |\n| --- | --- |\n");
    fprintf(f, "| model | `%s` |\n| data | `%s` |\n", o->kernel.model_path ? o->kernel.model_path : "",
            o->kernel.data_path ? o->kernel.data_path : "");
    fprintf(f, "| samples N × outputs C | %lld × %d |\n", (long long)p->n, p->c);
    fprintf(f, "| trainable weights D, projected D′ | %lld, %lld (%s) |\n", (long long)p->d,
            (long long)p->dproj, ttp_proj_kind_str(shown_proj(p, o)));
    fprintf(f, "| optimizer | %s, lr %g, batch %lld, momentum %g, weight decay %g |\n",
            ttp_opt_describe(&o->opt, p->n), o->opt.lr, (long long)ttp_opt_batch(&o->opt, p->n),
            o->opt.momentum, o->opt.wd);
    fprintf(f, "| loss | %s |\n| ensemble | %d trajectories |\n", ttp_loss_str(o->opt.loss),
            ttp_opt_batch(&o->opt, p->n) < p->n ? o->sim.ensemble : 1);
    if (p->ce_kappa > 0)
        fprintf(f,
                "| cross-entropy at N′ | exact dynamics on the %lld kernel samples, re-timed by the spectrum "
                "(softmax curvature κ = %.4g; docs/METHOD.md §9) |\n",
                (long long)p->n_kernel, p->ce_kappa);
    fprintf(f,
            "| μ_max(Θ/N), stability (η κ μ_max over the optimizer's limit, ×2) | %.5g, %.3g (limit 2) |\n",
            p->mu_max, 2.0 * p->stability);
    fprintf(f, "| final loss (band) | %.5g (%.5g – %.5g) |\n", cv->loss[T], cv->loss_lo[T], cv->loss_hi[T]);
    if (p->batch_stab_max > 0)
        fprintf(f, "| per-batch stability, mean / max (limit 2) | %.3g / %.3g |\n", 2 * p->batch_stab_mean,
                2 * p->batch_stab_max);
    if (p->faith.npoints > 0)
        fprintf(f,
                "| faithfulness: worst loss gap, worst output gap (real net at the linearized weights; "
                "docs/METHOD.md §6b) | %.1f %%, %.1f %% |\n",
                100 * p->faith.worst_loss_gap, 100 * p->faith.worst_out_gap);
    if (isfinite(cv->acc[T])) fprintf(f, "| final accuracy | %.4f |\n", cv->acc[T]);
    fprintf(f, "| cost of this prediction | %.2f s (kernel %.2f s, dynamics %.2f s) |\n", p->seconds,
            p->sec_kernel, p->sec_sim);
    if (isfinite(ttp_prediction_cost_ratio(p, T)))
        fprintf(f, "| the training it predicts, and that over this prediction's cost | %.3g s, %.2f× |\n",
                ttp_prediction_training_seconds(p, T), ttp_prediction_cost_ratio(p, T));
    fprintf(f, "\n");
    if (p->main.ntt > 1) {
        fprintf(f, "| training-time definition | steps | band |\n| --- | --- | --- |\n");
        for (int i = 0; i < p->main.ntt; i++) {
            ttp_tt_describe(&p->main.tt[i].def, def, sizeof def);
            fmt_steps(p->main.tt[i].steps, T, a, sizeof a);
            fmt_steps(p->main.tt[i].lo, T, b, sizeof b);
            fmt_steps(p->main.tt[i].hi, T, c, sizeof c);
            fprintf(f, "| %s | %s | %s – %s |\n", def, a, b, c);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "![predicted loss](loss.svg)\n\n");
    if (have_spec) fprintf(f, "![spectrum](spectrum.svg)\n\n");
    if (p->have_fit)
        fprintf(f,
                "Power laws: μ_k ≈ %.4g·k^−%.3f (±%.3f, modes %lld–%lld, R² %.4f%s); p_k²/N ≈ %.4g·k^−%.3f "
                "(±%.3f, R² %.4f%s).\n\n",
                p->fit_mu.a, p->fit_mu.alpha, p->fit_mu.alpha_err, (long long)p->fit_mu.k_lo,
                (long long)p->fit_mu.k_hi, p->fit_mu.r2, p->fit_mu.ok ? "" : ", poor fit", p->fit_p.a,
                p->fit_p.alpha, p->fit_p.alpha_err, p->fit_p.r2, p->fit_p.ok ? "" : ", poor fit");
    if (p->nextrap > 0) {
        fprintf(f,
                "| N′ | training time | band | final loss | wall-clock |\n| --- | --- | --- | --- | --- |\n");
        for (int i = 0; i < p->nextrap; i++) {
            const ttp_pred_curve *e = &p->extrap[i];
            fmt_steps(e->tt[0].steps, T, a, sizeof a);
            fmt_steps(e->tt[0].lo, T, b, sizeof b);
            fmt_steps(e->tt[0].hi, T, c, sizeof c);
            fprintf(f, "| %lld | %s | %s – %s | %.5g | %.3g s |\n", (long long)e->n, a, b, c,
                    e->curves->loss[T], e->wall);
        }
        fprintf(f, "\n");
    }
    fprintf(f,
            "The method: docs/METHOD.md. The prediction simulates the network linearized at its pretrained "
            "weights; it holds while the fine-tuned weights stay near them and the stability number above "
            "stays well below 2.\n");
    TTP_CALL_GOTO(ctx, st, done, ttp_text_commit(ctx, &md));
done:
    ttp_text_abort(&md);
    free(steps);
    free(kx);
    free(mu);
    free(fit);
    free(ex_k);
    free(ex_mu);
    return st;
}
