/*
 * predict.c — the prediction pipeline: kernel (distributed), linearized
 * dynamics and training times (rank 0), wall-clock from timed real steps,
 * validity diagnostics, fits and extrapolation.  What a person reads of the
 * result is written by predict_out.c.
 */
#include "ttp_predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_kbuild.h"

void ttp_predict_opts_default(ttp_predict_opts *o)
{
    memset(o, 0, sizeof *o);
    ttp_opt_default(&o->opt);
    ttp_kernel_opts_default(&o->kernel);
    /* Project only where the exact kernel would be the larger one (see
     * TTP_KERNEL_AUTO_DPROJ); the dynamics need the eigenvectors. */
    o->kernel.proj = TTP_PROJ_AUTO;
    o->kernel.want_vectors = 1;
    o->sim.ensemble = 16;
    o->sim.seed = 0;
    o->sim.band_lo = 0.05;
    o->sim.band_hi = 0.95;
    o->ntt = 1;
    o->tt[0].kind = TTP_TT_REL;
    o->tt[0].value = 0.05;
    o->tt[0].smooth = 1;
    o->time_reps = 5;
    o->faith_kgap_samples = TTP_FAITH_KGAP_SAMPLES;
    o->relin_scale = 1.0;
    o->relin_halving = 1;
    o->relin_rise_cut = 1;
    o->relin_crosscheck = 1;
    o->relin_order_check = 1;
    o->dproj_raise = TTP_DPROJ_RAISE_AUTO;
}

const char *ttp_step_timing_str(int t)
{
    return t == TTP_STEP_TIMING_MODEL ? "model" : t == TTP_STEP_TIMING_MEASURE ? "measure" : "none";
}

ttp_status ttp_step_timing_parse(ttp_ctx *ctx, const char *s, int *out)
{
    if (strcmp(s, "model") == 0)
        *out = TTP_STEP_TIMING_MODEL;
    else if (strcmp(s, "measure") == 0)
        *out = TTP_STEP_TIMING_MEASURE;
    else
        return TTP_ERR(ctx, TTP_ERR_ARG, "option step_timing: '%s', expected model or measure", s);
    return TTP_OK;
}

ttp_status ttp_predict_opts_validate(ttp_ctx *ctx, const ttp_predict_opts *o, int64_t n)
{
    TTP_CALL(ctx, ttp_opt_validate(ctx, &o->opt, n));
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &o->kernel, 0));
    /* the dynamics run on Θ = V Λ Vᵀ (or Θ itself): a kernel without either is no use */
    if (o->kernel_in == NULL && !o->kernel.want_vectors && !o->kernel.want_theta)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option want_vectors: the prediction needs the kernel's eigenvectors "
                       "(or option want_theta)");
    if (o->sim.ensemble < 1 || o->sim.ensemble > TTP_MAX_ENSEMBLE)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option ensemble: %d, expected 1..%d trajectories", o->sim.ensemble,
                       TTP_MAX_ENSEMBLE);
    {
        /* every member's loss and accuracy at steps 0..T are kept for the band */
        int64_t vals = 0;
        if (ttp_size_mul(NULL, o->opt.steps + 1, 2 * (int64_t)o->sim.ensemble, (int64_t)1 << 31, &vals,
                         "curve values") != TTP_OK)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "options steps/ensemble: %lld steps x %d trajectories would keep more than 2^31 "
                           "curve values; expected fewer steps or a smaller ensemble",
                           (long long)o->opt.steps, o->sim.ensemble);
    }
    if (!(o->sim.band_lo >= 0 && o->sim.band_lo < o->sim.band_hi && o->sim.band_hi <= 1))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option band: %g..%g, expected 0 <= lo < hi <= 1", o->sim.band_lo,
                       o->sim.band_hi);
    if (o->ntt < 1 || o->ntt > TTP_MAX_TT)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option tt: %d definitions, expected 1..%d", o->ntt, TTP_MAX_TT);
    for (int i = 0; i < o->ntt; i++) {
        const ttp_tt_def *t = &o->tt[i];
        if (!(t->value > 0) || !isfinite(t->value))
            return TTP_ERR(ctx, TTP_ERR_ARG, "option tt: threshold %g of '%s', expected a finite value > 0",
                           t->value, ttp_tt_kind_str(t->kind));
        if ((t->kind == TTP_TT_REL || t->kind == TTP_TT_ACC) && t->value > 1)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option tt: %s threshold %g, expected a fraction in (0, 1]",
                           ttp_tt_kind_str(t->kind), t->value);
        if (t->smooth < 1)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option smooth: %d, expected a window of at least 1 step",
                           t->smooth);
    }
    if ((o->subset < 0 && o->subset != TTP_SUBSET_AUTO) || o->subset > n)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option subset: %lld, expected 1..%lld (the dataset's size) or auto",
                       (long long)o->subset, (long long)n);
    int64_t n0 = o->subset > 0 ? o->subset : n;
    for (int i = 0; i < o->nextrap; i++)
        if (o->extrap[i] < n0)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "option extrap: N' = %lld is smaller than the %lld samples the kernel is "
                           "computed on; extrapolation only goes to larger datasets",
                           (long long)o->extrap[i], (long long)n0);
    /* The spectrum-only dynamics do not carry weight decay (ttp_sim_sde):
     * say so now rather than after the kernel. */
    if ((o->nextrap > 0 || (o->subset > 0 && o->subset < n)) && o->opt.wd > 0)
        return TTP_ERR(
            ctx, TTP_ERR_UNSUPPORTED,
            "options subset/extrap: the spectrum-only dynamics do not model weight decay (option wd)");
    if (!(o->relin_scale >= 0 && o->relin_scale <= 1))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option relin_scale: %g, expected a factor in (0, 1] (0: 1)",
                       o->relin_scale);
    if (o->relin_every < 0 && o->relin_every != TTP_RELIN_AUTO)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option relin_every: %lld, expected K >= 1 steps, 0 (off) or auto",
                       (long long)o->relin_every);
    if (o->relin_every != 0 && (o->nextrap > 0 || (o->subset > 0 && o->subset < n) || o->kernel_in))
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "option relin_every: only on the whole dataset and a kernel built here (options "
                       "subset/extrap/kernel_in unset)");
    if (o->step_timing != TTP_STEP_TIMING_MODEL && o->step_timing != TTP_STEP_TIMING_MEASURE)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option step_timing: %d, expected model or measure", o->step_timing);
    if (o->time_reps < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option time_reps: %d, expected >= 0", o->time_reps);
    return TTP_OK;
}

static void pred_curve_clear(ttp_pred_curve *c)
{
    ttp_curves_destroy(&c->curves);
}

void ttp_prediction_destroy(ttp_prediction **pp)
{
    ttp_prediction *p = pp ? *pp : NULL;
    if (p == NULL) return;
    pred_curve_clear(&p->main);
    for (int i = 0; i < p->nextrap; i++) pred_curve_clear(&p->extrap[i]);
    ttp_kernel_destroy(&p->kernel);
    free(p->faith_trace);
    free(p);
    *pp = NULL;
}

/* ---- training times with their band ------------------------------------ */

/*
 * The headline time is that of the ensemble's mean curve (what the loss
 * curve in the report shows); the band is the quantiles of the members'
 * own times, a member that never meets the criterion counting as later
 * than the budget (ttp_ttime_band).  Rank 0; not collective.
 */
static ttp_status training_times(ttp_ctx *ctx, const ttp_curves *cv, const ttp_predict_opts *o,
                                 ttp_pred_curve *pc)
{
    pc->ntt = o->ntt;
    for (int i = 0; i < o->ntt; i++) {
        ttp_tt_result *r = &pc->tt[i];
        r->def = o->tt[i];
        TTP_CALL(ctx, ttp_ttime_band(ctx, &o->tt[i], cv, o->sim.band_lo, o->sim.band_hi, &r->steps, &r->lo,
                                     &r->hi));
    }
    return TTP_OK;
}

static void wall_clock(ttp_pred_curve *pc, double sps)
{
    const ttp_tt_result *r = &pc->tt[0];
    pc->wall = r->steps >= 0 ? (double)r->steps * sps : NAN;
    pc->wall_lo = r->lo >= 0 ? (double)r->lo * sps : NAN;
    pc->wall_hi = r->hi >= 0 ? (double)r->hi * sps : NAN;
}

/* ---- validity ----------------------------------------------------------- */

/*
 * The linearized dynamics are a faithful model of fine-tuning only while
 * the linear model itself is stable.  ttp_sim_stability gives η(κ μ_max + λ)
 * over the exact limit of the optimizer's recurrence (2 for GD, 2(1+m) for
 * heavy ball, 2(1+m)/(1+2m) for Nesterov; κ = 1 for MSE, ½ for CE): past 1
 * the linear model diverges while the real network may still converge (the
 * "catapult" regime), and the prediction is meaningless, so the result says
 * so wherever it is shown.  The number reported is 2× that ratio, i.e. on
 * the scale of η κ μ_max against 2 without momentum.
 */
static void diagnose(ttp_prediction *p, const ttp_predict_opts *o)
{
    p->stability = ttp_sim_stability(&o->opt, p->mu_max);
    p->valid = 1;
    p->warning[0] = '\0';
    if (p->stability > 1.0) {
        p->valid = 0;
        snprintf(
            p->warning, sizeof p->warning,
            "outside the method's regime: the linearized %s diverges at this learning rate (stability %.3g > "
            "2; "
            "mu_max of Theta/N = %.4g, %s loss). The real network may still converge (catapult regime); the "
            "predicted time is not meaningful. Learning rates below %.3g are inside the regime; "
            "--relinearize auto follows the real network past it (docs/METHOD.md 6e).",
            o->opt.momentum > 0 ? (o->opt.nesterov ? "Nesterov" : "heavy-ball") : "gradient descent",
            2.0 * p->stability, p->mu_max, ttp_loss_str(o->opt.loss),
            ttp_sim_stability_lr(&o->opt, p->mu_max));
    } else if (p->stability > 0.5) {
        snprintf(
            p->warning, sizeof p->warning,
            "close to the stability limit: stability %.3g (limit 2); predictions degrade as the limit nears",
            2.0 * p->stability);
    }
    int64_t T = o->opt.steps;
    if (p->main.curves && !isfinite(p->main.curves->loss[T]) && p->valid) {
        p->valid = 0;
        snprintf(p->warning, sizeof p->warning, "the simulated loss diverged before step %lld", (long long)T);
    }
}

/*
 * The largest stable learning rate of this optimizer, so that a first run is
 * never a blind probe.  Both stability figures are linear in η (η (κ μ + λ)
 * over the optimizer's limit), so the rate at which each reaches 1 is the
 * current rate divided by it: the full-batch limit from μ_max, and for SGD
 * the rate at which the MEAN per-batch figure (what ttp_predict_guard treats
 * as divergence) reaches 1.
 */
static void stable_lr(ttp_prediction *p, const ttp_predict_opts *o)
{
    p->lr_stable_full = ttp_sim_stability_lr(&o->opt, p->mu_max);
    p->lr_stable = p->lr_stable_full;
    if (p->batch_stab_mean > 0) {
        double lb = o->opt.lr / p->batch_stab_mean;
        if (lb < p->lr_stable) p->lr_stable = lb;
    }
}

/* ---- the rank-0 part ---------------------------------------------------- */

/* tr: member 0's weights at the faithfulness points, carried along (NULL: none). */
static ttp_status simulate_measured(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                    ttp_pred_curve *pc, ttp_sim_trace *tr)
{
    ttp_theta th;
    memset(&th, 0, sizeof th);
    th.n = k->n;
    th.c = k->c;
    if (k->theta) {
        th.dense = k->theta;
    } else if (k->eigvec) {
        th.k = k->neig;
        th.vecs = k->eigvec;
        th.vals = k->eigval;
    } else {
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "the kernel holds neither Theta nor its eigenvectors, which the simulation of "
                       "%s needs; rebuild it with its eigenvectors (option want_vectors)",
                       ttp_opt_batch(&o->opt, k->n) < k->n ? "SGD" : "these dynamics");
    }
    ttp_sim_problem prob = {&th, k->n, k->c, k->f0, k->u0, k->labels, k->targets};
    ttp_sim_opts so = o->sim;
    if (ttp_opt_batch(&o->opt, k->n) >= k->n) so.ensemble = 1; /* GD is deterministic */
    TTP_CALL(ctx, ttp_sim_run_traced(ctx, &prob, &o->opt, &so, tr, &pc->curves));
    pc->n = k->n;
    pc->extrapolated = 0;
    return TTP_OK;
}

/*
 * Spectrum-only curves at n1 from the fitted power laws (docs/METHOD.md §9, docs/large-n.md) for
 * the projections pk (energy: their total ‖·‖² over all NC directions):
 * the GD-MSE closed form, or the eigenbasis SDE.  `opt` is the optimizer
 * the curves follow (its loss must be MSE).
 */
static ttp_status spectrum_curves(ttp_ctx *ctx, const ttp_kernel *k, ttp_prediction *p, const double *pk,
                                  double energy, int64_t n1, const ttp_opt *opt, const ttp_sim_opts *so,
                                  ttp_curves **out)
{
    ttp_status st = TTP_OK;
    int64_t n0 = k->n, K = k->neig;
    double *mu = NULL, *p2n = NULL, *mu1 = NULL, *p2n1 = NULL, *pvec = NULL;
    int64_t k1 = 0;
    TTP_ALLOC(ctx, st, done, mu, K, "spectrum");
    TTP_ALLOC(ctx, st, done, p2n, K, "residual energies");
    for (int64_t i = 0; i < K; i++) {
        mu[i] = k->eigval[i] / (double)n0;
        p2n[i] = pk[i] * pk[i] / (double)n0;
    }
    /* The fitted tail carries the residual energy the kept modes miss, up
     * to the rank bound of the true Θ (D, not the projection's D′); what
     * still does not fit stays a floor. */
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_fit_extrapolate(ctx, mu, p2n, K, energy / (double)n0, n0, k->c, n1, k->d, &p->fit_mu,
                                      &p->fit_p, &mu1, &p2n1, &k1));
    double held = 0;
    for (int64_t i = 0; i < k1; i++) held += p2n1[i];
    double rest = fmax(0.0, energy / (double)n0 - held) / 2.0;
    TTP_ALLOC(ctx, st, done, pvec, k1, "projections");
    for (int64_t i = 0; i < k1; i++) pvec[i] = sqrt(p2n1[i] * (double)n1);
    if (ttp_opt_batch(opt, n1) >= n1 && opt->momentum == 0 && opt->wd == 0) {
        ttp_curves *cv = NULL;
        TTP_CALL_GOTO(ctx, st, done, ttp_curves_create(ctx, opt->steps, 1, &cv));
        *out = cv;
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_sim_gd_mse_closed(ctx, mu1, pvec, k1, n1, opt->lr, opt->steps, rest, cv->loss));
        for (int64_t t = 0; t <= opt->steps; t++) {
            cv->loss_lo[t] = cv->loss_hi[t] = cv->member_loss[t] = cv->loss[t];
            cv->acc[t] = cv->acc_lo[t] = cv->acc_hi[t] = cv->member_acc[t] = NAN;
        }
    } else {
        TTP_CALL_GOTO(ctx, st, done, ttp_sim_sde(ctx, mu1, pvec, k1, n1, k->c, opt, so, rest, 1.0, out));
    }
done:
    if (st != TTP_OK) ttp_curves_destroy(out);
    free(mu);
    free(p2n);
    free(mu1);
    free(p2n1);
    free(pvec);
    return st;
}

/*
 * The prediction at n1 from the kernel on n0 < n1 samples.  MSE: the
 * spectrum-only curves themselves.  Cross-entropy (docs/METHOD.md §9): the
 * exact CE curves on the measured kernel, re-timed by the progress of the
 * loss gradient's energy at n0 and at n1 (ttp_curves_warp), the gradient's
 * modes decaying at η κ μ_k with κ the softmax curvature at F₀.
 */
/* What the cross-entropy re-timing needs at n0, whatever n1: the exact
 * curves on the measured kernel (to 2T) and their progress; computed once
 * per prediction, on first use. */
typedef struct ce_base {
    ttp_pred_curve measured;
    ttp_curves *s0;
} ce_base;

static void ce_base_clear(ce_base *b)
{
    pred_curve_clear(&b->measured);
    ttp_curves_destroy(&b->s0);
}

static ttp_status simulate_extrapolated(ttp_ctx *ctx, const ttp_kernel *k, ttp_prediction *p,
                                        const ttp_predict_opts *o, int64_t n1, ce_base *base,
                                        ttp_pred_curve *pc)
{
    ttp_status st = TTP_OK;
    const int ce = o->opt.loss == TTP_LOSS_CE;
    const double *pk = ce ? k->p_grad : k->p_res;
    const double energy = ce ? k->grad_energy : k->res_energy;
    ttp_curves *s1 = NULL;
    if (pk == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "the kernel holds no projections of the initial %s",
                       ce ? "loss gradient" : "residual");
    pc->n = n1;
    pc->extrapolated = 1;
    if (!ce) return spectrum_curves(ctx, k, p, pk, energy, n1, &o->opt, &o->sim, &pc->curves);

    if (k->labels == NULL || k->f0 == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cross-entropy extrapolation needs the kernel's outputs F0 and labels");
    /* Twice the horizon at n0: a larger dataset is slower, but the fits can
     * make n1's progress run a little ahead of n0's at first. */
    ttp_predict_opts o0 = *o;
    o0.opt.steps = 2 * o->opt.steps;
    ttp_opt sur = o->opt, sur0;
    p->ce_kappa = ttp_sim_ce_curvature(k->f0, k->labels, k->n, k->c);
    sur.loss = TTP_LOSS_MSE;
    sur.lr = o->opt.lr * p->ce_kappa;
    sur0 = sur;
    sur0.steps = o0.opt.steps;
    int64_t clamped = 0;
    TTP_CALL_GOTO(ctx, st, done, spectrum_curves(ctx, k, p, pk, energy, n1, &sur, &o->sim, &s1));
    if (base->s0 == NULL) {
        ce_base_clear(base);
        TTP_CALL_GOTO(ctx, st, done, simulate_measured(ctx, k, &o0, &base->measured, NULL));
        TTP_CALL_GOTO(ctx, st, done, spectrum_curves(ctx, k, p, pk, energy, k->n, &sur0, &o->sim, &base->s0));
    }
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_curves_warp(ctx, base->measured.curves, base->s0->loss, s1->loss, o->opt.steps,
                                  &pc->curves, &clamped));
    if (clamped > p->ce_clamped) p->ce_clamped = clamped;
done:
    ttp_curves_destroy(&s1);
    return st;
}

static ttp_status fit_spectrum(ttp_ctx *ctx, const ttp_kernel *k, ttp_prediction *p,
                               const ttp_predict_opts *o)
{
    ttp_status st = TTP_OK;
    double *mu = NULL, *p2n = NULL;
    const double *pk = o->opt.loss == TTP_LOSS_MSE ? k->p_res : k->p_grad;
    TTP_ALLOC(ctx, st, done, mu, k->neig, "spectrum");
    TTP_ALLOC(ctx, st, done, p2n, k->neig, "residual energies");
    for (int64_t i = 0; i < k->neig; i++) {
        mu[i] = k->eigval[i] / (double)k->n;
        p2n[i] = pk ? pk[i] * pk[i] / (double)k->n : 0.0;
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_fit_powerlaw_auto(ctx, mu, k->neig, &p->fit_mu));
    TTP_CALL_GOTO(ctx, st, done, ttp_fit_energy_law(ctx, p2n, k->neig, &p->fit_p));
    p->have_fit = 1;
done:
    free(mu);
    free(p2n);
    return st;
}

/* pre: what the caller simulated already (ttp_predict_from_sim), or NULL */
static ttp_status from_kernel(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o, int64_t n_target,
                              double sec_per_step, ttp_predict_pre *pre, ttp_prediction **out)
{
    ttp_status st = TTP_OK;
    ttp_prediction *p = NULL;
    ce_base base;
    memset(&base, 0, sizeof base);
    double t0 = ttp_time();
    TTP_ALLOC(ctx, st, fail, p, 1, "prediction");
    p->n = n_target > 0 ? n_target : k->n;
    p->n_kernel = k->n;
    p->c = k->c;
    p->d = k->d;
    p->dproj = k->dproj;
    p->sec_per_step = sec_per_step;
    p->step_timing = -1; /* ttp_predict_run says how sec_per_step was found */
    p->mu_max = k->neig > 0 ? k->eigval[0] / (double)k->n : 0.0;
    p->nranks = k->nranks;

    /* The fits are needed to extrapolate; otherwise they are still reported
     * (and drawn), but a spectrum too short to fit is no error then. */
    int need_fit = p->n != k->n || o->nextrap > 0;
    if (need_fit) {
        TTP_CALL_GOTO(ctx, st, fail, fit_spectrum(ctx, k, p, o));
    } else if (fit_spectrum(ctx, k, p, o) != TTP_OK) {
        ttp_error_clear(ctx);
        p->have_fit = 0;
    }
    if (pre) {
        p->main.curves = pre->curves;
        p->main.n = k->n;
        p->faith_trace = pre->trace;
        pre->curves = NULL;
        pre->trace = NULL;
    } else if (p->n == k->n) {
        /* the faithfulness check's trajectory rides along (ttp_predict_faith) */
        TTP_CALL_GOTO(ctx, st, fail, ttp_faith_trace_alloc(ctx, o->opt.steps, k->n * k->c, &p->faith_trace));
        TTP_CALL_GOTO(ctx, st, fail, simulate_measured(ctx, k, o, &p->main, p->faith_trace));
    } else {
        TTP_CALL_GOTO(ctx, st, fail, simulate_extrapolated(ctx, k, p, o, p->n, &base, &p->main));
    }
    TTP_CALL_GOTO(ctx, st, fail, training_times(ctx, p->main.curves, o, &p->main));
    wall_clock(&p->main, sec_per_step);
    for (int i = 0; i < o->nextrap; i++) {
        TTP_CALL_GOTO(ctx, st, fail, simulate_extrapolated(ctx, k, p, o, o->extrap[i], &base, &p->extrap[i]));
        p->nextrap = i + 1;
        TTP_CALL_GOTO(ctx, st, fail, training_times(ctx, p->extrap[i].curves, o, &p->extrap[i]));
        wall_clock(&p->extrap[i], sec_per_step);
    }
    diagnose(p, o);
    TTP_CALL_GOTO(ctx, st, fail,
                  ttp_predict_guard_tops(ctx, k, o, pre ? pre->nbatch : 0, pre ? pre->tops : NULL,
                                         pre ? pre->sizes : NULL, p));
    stable_lr(p, o);
    if (p->ce_clamped > 0) {
        size_t u = strlen(p->warning);
        snprintf(
            p->warning + u, sizeof p->warning - u,
            "%scross-entropy re-timing: %lld step(s) fall past twice the budget at the kernel's size and "
            "take its last value",
            u ? "; " : "", (long long)p->ce_clamped);
    }
    if (need_fit) { /* extrapolated numbers rest on the fits: say when they are poor */
        const ttp_powerlaw *bad = !p->fit_mu.ok ? &p->fit_mu : !p->fit_p.ok ? &p->fit_p : NULL;
        if (bad) {
            size_t u = strlen(p->warning);
            snprintf(p->warning + u, sizeof p->warning - u,
                     "%sextrapolation rests on a poor power-law fit of the %s: %s", u ? "; " : "",
                     bad == &p->fit_mu ? "spectrum" : "residual energies", bad->note);
        }
    }
    p->sec_sim = ttp_time() - t0;
    ce_base_clear(&base);
    *out = p;
    return TTP_OK;
fail:
    ce_base_clear(&base);
    ttp_prediction_destroy(&p);
    return st;
}

ttp_status ttp_predict_from_kernel(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                   int64_t n_target, double sec_per_step, ttp_prediction **out)
{
    return from_kernel(ctx, k, o, n_target, sec_per_step, NULL, out);
}

ttp_status ttp_predict_from_sim(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                double sec_per_step, ttp_predict_pre *pre, ttp_prediction **out)
{
    if (pre == NULL || pre->curves == NULL || pre->curves->steps != o->opt.steps || o->nextrap > 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "prediction from simulated curves: curves of %lld steps for a %lld-step setting%s",
                       pre && pre->curves ? (long long)pre->curves->steps : -1LL, (long long)o->opt.steps,
                       o->nextrap > 0 ? " with extrapolation (not offered)" : "");
    return from_kernel(ctx, k, o, k->n, sec_per_step, pre, out);
}

/* ---- the dynamics path ---------------------------------------------------- */

const char *ttp_dyn_path_str(ttp_dyn_path p)
{
    switch (p) {
    case TTP_DYN_AUTO: return "auto";
    case TTP_DYN_EIGEN: return "eigen";
    case TTP_DYN_DIRECT: return "direct";
    }
    return "?";
}

ttp_status ttp_predict_path(ttp_ctx *ctx, const ttp_predict_opts *o, int64_t d, int64_t n, int c,
                            ttp_dyn_path *out, double *fe, double *fd)
{
    ttp_kernel_opts ko = o->kernel;
    ttp_kernel_opts_resolve(&ko, d);
    const int64_t n0 = o->subset > 0 && o->subset < n ? o->subset : n;
    const double NC = (double)n0 * c, Dp = (double)(ko.proj == TTP_PROJ_EXACT ? d : ko.dproj);
    const double m = NC < Dp ? NC : Dp, big = NC < Dp ? Dp : NC, T = (double)o->opt.steps;
    const int64_t B = ttp_opt_batch(&o->opt, n0);
    const double M = B >= n0 ? 1.0 : (double)o->sim.ensemble, b = (double)B * c;
    const double K = TTP_PREDICT_DIRECT_K;
    const double eig = m * m * big + 4.0 * m * m * m + (Dp < NC ? 2.0 * NC * Dp * m : 0.0) +
                       T * M * (2.0 * b * m + 2.0 * NC * m);
    const double dir = NC * NC * Dp + 2.0 * NC * NC * (4.0 * K + 40.0) + T * M * 2.0 * b * NC;
    if (fe) *fe = eig;
    if (fd) *fd = dir;
    const char *why = o->kernel_in ? "a reused kernel (option kernel_in) holds its eigenpairs"
                      : n0 < n || o->nextrap > 0
                          ? "extrapolation (options subset/extrap) needs the whole spectrum"
                      : o->relin_every != 0 ? "re-linearization (option relin_every) runs on eigenpairs"
                      : o->kernel.top_k > 0 ? "a truncated spectrum (option top_k) is an eigen-path choice"
                                            : NULL;
    if (why) {
        if (o->dynamics == TTP_DYN_DIRECT)
            return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                           "option dynamics: direct cannot serve here: %s; use eigen or auto", why);
        *out = TTP_DYN_EIGEN;
        if (o->kernel_in) { /* nothing is built here: no costs to show */
            if (fe) *fe = 0.0;
            if (fd) *fd = 0.0;
        }
        return TTP_OK;
    }
    *out = o->dynamics != TTP_DYN_AUTO ? o->dynamics : dir < eig ? TTP_DYN_DIRECT : TTP_DYN_EIGEN;
    return TTP_OK;
}

int64_t ttp_predict_subset_auto(const ttp_predict_opts *o, int64_t n, char *why, size_t len)
{
    const int64_t B = ttp_opt_batch(&o->opt, n);
    const int64_t n0 = TTP_SUBSET_AUTO_BATCHES * B > n / TTP_SUBSET_AUTO_DIV ? TTP_SUBSET_AUTO_BATCHES * B
                                                                             : n / TTP_SUBSET_AUTO_DIV;
    const char *no = B >= n                          ? "full batch: no SGD to make cheaper"
                     : 2 * n0 > n                    ? "N is below 10 |B|"
                     : o->opt.wd > 0                 ? "weight decay (the extrapolation does not model it)"
                     : o->relin_every != 0           ? "re-linearization runs on the whole set"
                     : o->kernel_in                  ? "a reused kernel"
                     : o->dynamics == TTP_DYN_DIRECT ? "the direct dynamics"
                     : o->kernel.top_k > 0           ? "a truncated spectrum (option top_k)"
                                                     : NULL;
    if (why && len && no) snprintf(why, len, "subset auto kept all %lld samples: %s", (long long)n, no);
    if (why && len && !no)
        snprintf(why, len, "subset auto: N0 = max(%d |B|, N/%d) since N >= %d |B|", TTP_SUBSET_AUTO_BATCHES,
                 TTP_SUBSET_AUTO_DIV, 2 * TTP_SUBSET_AUTO_BATCHES);
    return no ? 0 : n0;
}

/* ---- the collective pipeline ------------------------------------------- */

ttp_status ttp_predict_step_seconds(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                    const ttp_data *data, const ttp_opt *opt, int reps, int how,
                                    double *sec_per_step, ttp_step_model *sm)
{
    *sec_per_step = NAN;
    if (sm) memset(sm, 0, sizeof *sm);
    if (reps <= 0) return TTP_OK;
    if (how == TTP_STEP_TIMING_MEASURE)
        return ttp_train_time_step(ctx, comm, model, data, opt, reps, sec_per_step);
    ttp_step_model m;
    TTP_CALL(ctx, ttp_train_step_model(ctx, comm, model, data, opt, reps, &m));
    *sec_per_step = m.sec_per_step;
    if (sm) *sm = m;
    return TTP_OK;
}

ttp_status ttp_predict_kernel(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                              const ttp_data *data, const ttp_predict_opts *o, ttp_data **kdata_out,
                              ttp_kernel **k_out)
{
    ttp_status st = TTP_OK;
    ttp_data *sub = NULL;
    ttp_kernel *k = NULL;
    const ttp_data *kdata = data;
    *kdata_out = NULL;
    *k_out = NULL;
    if (o->subset == TTP_SUBSET_AUTO)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "option subset: auto is settled by predict; here give the kernel's sample count N0");
    if (o->subset > 0 && o->subset < data->n) {
        TTP_CALL_GOTO(ctx, st, fail, ttp_data_take(ctx, data, o->subset, &sub));
        kdata = sub;
    }
    if (o->kernel_in) {
        if (comm->rank == 0) {
            TTP_CALL_GOTO(ctx, st, fail, ttp_kernel_read(ctx, o->kernel_in, &k));
            TTP_CALL_GOTO(ctx, st, fail, ttp_kernel_check_provenance(ctx, k, model, kdata));
        }
    } else {
        TTP_CALL_GOTO(ctx, st, fail, ttp_kernel_build(ctx, comm, model, kdata, &o->kernel, &k));
        if (comm->rank == 0 && o->kernel_out)
            TTP_CALL_GOTO(ctx, st, fail, ttp_kernel_write(ctx, o->kernel_out, k));
    }
    *kdata_out = sub;
    *k_out = k;
    return TTP_OK;
fail:
    ttp_kernel_destroy(&k);
    ttp_data_destroy(&sub);
    return st;
}

ttp_status ttp_predict_setting(ttp_ctx *ctx, const ttp_model *model, const ttp_data *kdata,
                               const ttp_kernel *k, const ttp_predict_opts *o, int64_t n_target,
                               double sec_per_step, ttp_prediction **out)
{
    ttp_status st = TTP_OK;
    ttp_prediction *p = NULL;
    *out = NULL;
    TTP_CALL(ctx, ttp_predict_from_kernel(ctx, k, o, n_target, sec_per_step, &p));
    TTP_CALL_GOTO(ctx, st, fail, ttp_predict_faith(ctx, model, kdata, k, o, p));
    *out = p;
    return TTP_OK;
fail:
    ttp_prediction_destroy(&p);
    return st;
}

ttp_status ttp_predict_run(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                           const ttp_predict_opts *o, ttp_prediction **out)
{
    ttp_status st = TTP_OK;
    ttp_data *sub = NULL;
    ttp_kernel *k = NULL;
    ttp_prediction *p = NULL;
    double t0 = ttp_time(), sps = NAN;

    /* Everything that can be checked is checked before the heavy stages. */
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_opts_validate(ctx, o, data->n));
    TTP_CALL_GOTO(ctx, st, done, ttp_train_check(ctx, model, data, o->opt.loss));
    /* option subset auto: the rule settles N0 (or the whole set) here */
    ttp_predict_opts resolved = *o;
    char subset_why[128] = "";
    int subset_auto = 0;
    if (o->subset == TTP_SUBSET_AUTO) {
        resolved.subset = ttp_predict_subset_auto(o, data->n, subset_why, sizeof subset_why);
        subset_auto = resolved.subset > 0 ? 1 : -1;
        o = &resolved;
    }

    ttp_dyn_path path = TTP_DYN_EIGEN;
    double fe = 0.0, fd = 0.0;
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_predict_path(ctx, o, model->ntrainable, data->n, model->nout, &path, &fe, &fd));
    ttp_kernel_opts kopts = o->kernel;
    if (path == TTP_DYN_DIRECT) kopts.direct_k = TTP_PREDICT_DIRECT_K;

    if (o->kernel_in == NULL) {
        /* memory per rank of the kernel and the ensemble after it (the
         * kernel stage checks its own part again), on the path taken: the
         * direct one holds Θ on rank 0 */
        const int64_t nk = o->subset > 0 && o->subset < data->n ? o->subset : data->n; /* kernel samples */
        ttp_plan_in in = {nk, comm->size, o->sim.ensemble, o->opt.steps, o->opt.batch, 0.0};
        ttp_plan plan;
        TTP_CALL_GOTO(ctx, st, done, ttp_plan_estimate(ctx, &kopts, model, &in, &plan));
        TTP_CALL_GOTO(ctx, st, done, ttp_plan_check(ctx, &plan));
    }

    double tk = ttp_time();
    /* the kernel options with the direct path's Lanczos pairs */
    ttp_predict_opts ok = *o;
    ok.kernel = kopts;
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_kernel(ctx, comm, model, data, &ok, &sub, &k));
    const ttp_data *kdata = sub ? sub : data;
    double sec_kernel = ttp_time() - tk;

    double tt = ttp_time();
    ttp_step_model sm;
    TTP_CALL_GOTO(
        ctx, st, done,
        ttp_predict_step_seconds(ctx, comm, model, data, &o->opt, o->time_reps, o->step_timing, &sps, &sm));
    double sec_timing = ttp_time() - tt;

    /* ttp_predict_setting, with the faithfulness check's passes over the
     * data spread over the ranks instead of rank 0 alone */
    if (comm->rank == 0)
        st = ttp_predict_from_kernel(ctx, k, o, data->n, sps, &p);
    else if ((p = calloc(1, sizeof *p)) == NULL)
        st = TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate a prediction");
    else
        p->n = data->n;
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the dynamics"));
    TTP_CALL_GOTO(ctx, st, done, ttp_predict_faith_comm(ctx, comm, model, kdata, k, o, p));
    /* a kernel gap the projection causes: a larger D′ (§6l); the segments
     * of a re-linearization then use it too */
    ttp_predict_opts raised = *o;
    ttp_kernel *kr = NULL;
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_predict_dproj_raise(ctx, comm, model, kdata, o, data->n, sps, &p, &kr, &raised.kernel));
    if (kr) {
        ttp_kernel_destroy(&k);
        k = kr;
        o = &raised;
    }
    if (comm->rank == 0) {
        p->kernel = k;
        k = NULL;
    }
    if (o->relin_every != 0)
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_predict_relinearize(ctx, comm, model, kdata, comm->rank == 0 ? p->kernel : NULL, o,
                                              comm->rank == 0 ? p : NULL));
    p->sec_kernel = sec_kernel;
    p->sec_timing = sec_timing;
    p->step_timing = o->time_reps > 0 ? o->step_timing : -1;
    p->step_model = sm;
    p->path = path;
    p->subset_auto = subset_auto;
    snprintf(p->subset_why, sizeof p->subset_why, "%s", subset_why);
    p->flops_eigen = fe;
    p->flops_direct = fd;
    p->nranks = comm->size;
    p->seconds = ttp_time() - t0;
    *out = p;
    p = NULL;
done:
    ttp_prediction_destroy(&p);
    ttp_kernel_destroy(&k);
    ttp_data_destroy(&sub);
    return st;
}
