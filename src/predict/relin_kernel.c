/*
 * relin_kernel.c — re-linearization in function space (docs/METHOD.md §6d):
 * real training moves its outputs by dF = −η Θ(w_t) ∇_F L, so a prediction
 * needs the kernel along the way, not the network's outputs at the
 * linearized weights.  The dynamics therefore run on without a jump: each
 * segment starts from the previous linear model's own outputs F and, with
 * momentum, the carried weight-space velocity seen through the segment's own
 * Jacobian (V = J_mid v_s), and only the kernel is swapped for one rebuilt
 * (factor form, as in relin.c) at the linearized weights halfway through
 * the segment, predicted on the previous kernel — the midpoint rule, whose
 * error is second order in the kernel's change where a kernel taken at the
 * segment's start is first order.  A companion run that uses each kernel
 * half a segment late measures how much the time depends on that change.
 */
#include "ttp_predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_jac.h"
#include "ttp_kbuild.h"
#include "ttp_net.h"

/* Trace the lagged run from step t_from to t_to on kernel kr (k0's own
 * operator when kr is NULL), from its carried outputs F and velocity V;
 * its loss and accuracy go to L, A[t_from..t_to].  Rank 0. */
static ttp_status lag_run(ttp_ctx *ctx, const ttp_predict_opts *o, const ttp_kernel *k0,
                          const ttp_kernel_rows *kr, double *ones, uint64_t seed, int64_t t_from,
                          int64_t t_to, double *F, double *V, double *L, double *A, double *flin, double *a,
                          double *c, double *ll, int64_t *steps)
{
    const int64_t NC = k0->n * k0->c, k = t_to - t_from;
    if (k < 1) return TTP_OK;
    ttp_theta th;
    memset(&th, 0, sizeof th);
    th.n = k0->n, th.c = k0->c;
    if (kr)
        th.k = kr->k, th.vecs = kr->g, th.vals = ones;
    else if (k0->theta)
        th.dense = k0->theta;
    else
        th.k = k0->neig, th.vecs = k0->eigvec, th.vals = k0->eigval;
    const double *u0 = kr ? kr->u0 : k0->u0;
    ttp_sim_problem prob = {&th, k0->n, k0->c, F, k0->u0 ? u0 : NULL, k0->labels, k0->targets};
    ttp_faith_seg sg = {
        t_from, t_from > 0 && o->opt.momentum > 0 ? V : NULL, NULL, 0, 0, 0, V, NULL, NULL, NULL, NULL};
    for (int64_t j = 0; j <= k; j++) steps[j] = j;
    TTP_CALL(ctx, ttp_faith_trace_seg(ctx, &prob, &o->opt, seed, &sg, (int)(k + 1), steps, flin, a, c, ll));
    for (int64_t j = 0; j <= k; j++) {
        L[t_from + j] = ll[j];
        int64_t correct = 0;
        ttp_loss_eval(o->opt.loss, flin + (size_t)j * NC, k0->labels, k0->targets, k0->n, k0->c, NULL,
                      &correct);
        A[t_from + j] = k0->labels ? (double)correct / (double)k0->n : NAN;
    }
    memcpy(F, flin + (size_t)k * NC, sizeof(double) * (size_t)NC);
    return TTP_OK;
}

/* The function-space prediction's verdict: the one linearization's "not
 * faithful" (an output gap at the linearized weights, which real training
 * corrects as it goes) is replaced by the time's sensitivity to the
 * kernel's change; a growing or non-finite stitched loss stays invalid.
 * Where the linearization at w₀ was invalid on its stability figures alone
 * (full batch or per batch, with no blow-up measured by the guard), the
 * stitched trajectory decides too: the figures bound the recurrence with
 * the loss's largest curvature (κ = ½ for cross-entropy, which the softmax
 * at 5 classes meets at 1/5 and less as it grows confident), while the
 * stitched loss is what the dynamics do on the kernels they meet (§6i). */
static void verdict(ttp_prediction *p, const ttp_predict_opts *o, const double *L, int64_t T, double sens)
{
    ttp_faith *fa = &p->faith;
    double growth = 0;
    int64_t tg = -1;
    for (int64_t t = 0; t <= T && isfinite(growth); t++) {
        double r = isfinite(L[t]) ? L[t] / L[0] : INFINITY;
        if (r > growth) growth = r, tg = t;
    }
    const double lim = ttp_opt_batch(&o->opt, p->n) < p->n ? TTP_RELIN_SENS_SGD : TTP_RELIN_SENS_GD;
    const int own_ok = growth <= 1.0 + 1e-6 && !(sens > lim);
    const int figures = !fa->valid_before && !p->blowup && (p->stability > 1.0 || p->batch_stab_mean > 1.0);
    if (fa->invalidated && fa->valid_before) {
        p->valid = 1;
        p->warning[fa->warn_at] = '\0';
        size_t u = strlen(p->warning);
        while (u > 0 && (p->warning[u - 1] == ' ' || p->warning[u - 1] == ';')) p->warning[--u] = '\0';
    } else if (figures && own_ok) {
        p->valid = 1;
        fa->relin_figures = 1;
        char per[96] = "";
        if (p->batch_stab_max > 0)
            snprintf(per, sizeof per, ", per batch %.3g on average", 2 * p->batch_stab_mean);
        snprintf(
            p->warning, sizeof p->warning,
            "past the stability figures at w0 (%.3g%s; limit 2), which bound the linear recurrence with the "
            "%s loss's largest curvature; with the kernel rebuilt along the path the loss falls without "
            "growing past its initial value, and the prediction stands on that trajectory (docs/METHOD.md "
            "6i)",
            2 * p->stability, per, ttp_loss_str(o->opt.loss));
    }
    ttp_faith_widen_band(p, T, sens);
    size_t u = strlen(p->warning);
    if (growth > 1.0 + 1e-6) {
        p->valid = 0;
        snprintf(fa->relin_fallback_why, sizeof fa->relin_fallback_why,
                 "its loss grows past the initial value, x%.3g by step %lld", growth, (long long)tg);
        snprintf(
            p->warning + u, sizeof p->warning - u,
            "%sthe re-linearized loss grows past its initial value (x%.3g by step %lld): with the kernel "
            "rebuilt along the linear model's path its dynamics blow up at these settings, so no time is "
            "predicted; lower the learning rate%s",
            u ? "; " : "", growth, (long long)tg, o->opt.momentum > 0 ? " or the momentum" : "");
    } else if (sens > lim) {
        p->valid = 0;
        snprintf(fa->relin_fallback_why, sizeof fa->relin_fallback_why,
                 "a kernel used half a segment late moves the time by %.0f%% (limit %.0f%%)", 100 * sens,
                 100 * lim);
        snprintf(
            p->warning + u, sizeof p->warning - u,
            "%sthe kernel changes fast here: using each rebuilt kernel half a segment later moves the "
            "training time by %.0f%% (limit %.0f%%), so the time is uncertain by about as much (the band "
            "says how much); a smaller K (--relinearize kernel:K) or a lower learning rate%s narrows it",
            u ? "; " : "", 100 * sens, 100 * lim, o->opt.momentum > 0 ? " or momentum" : "");
    }
}

ttp_status ttp_predict_relinearize_kernel(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                          const ttp_data *d, const ttp_kernel *k0, const ttp_predict_opts *o,
                                          ttp_prediction *p)
{
    ttp_status st = TTP_OK;
    const int64_t T = o->opt.steps;
    const int autok = o->relin_every == TTP_RELIN_AUTO;
    /* auto: TTP_RELIN_KERNEL_SEGMENTS segments of equal length */
    const int64_t K = o->relin_every == TTP_RELIN_AUTO
                          ? (T + TTP_RELIN_KERNEL_SEGMENTS - 1) / TTP_RELIN_KERNEL_SEGMENTS
                          : o->relin_every;
    const int64_t C = model->nout, NC = d->n * C;
    const int root = comm->rank == 0;
    ttp_model *m = NULL;
    ttp_kernel_rows kr = {0}, kp = {0}; /* this segment's kernel, the previous one */
    double *ws = NULL, *wdt = NULL, *wdb = NULL;
    double *ones = NULL;
    int64_t nones = 0;
    double *L = NULL, *A = NULL, *flin = NULL, *a = NULL, *c = NULL, *ll = NULL, *w = NULL;
    double *F = NULL, *V = NULL, *Vn = NULL, *u0 = NULL;
    double *vs = NULL, *vn = NULL, *al = NULL, *jv = NULL;
    ttp_jac_plan *plan = NULL; /* J v of the carried velocity at each new kernel's weights */
    ttp_net *jnet = NULL;
    int64_t *steps = NULL;
    double *Fl = NULL, *Vl = NULL, *Ll = NULL, *Al = NULL; /* the lagged companion run */
    int64_t tl = 0;
    const int mom = o->opt.momentum > 0;
    const uint64_t seed0 = o->sim.seed ? o->sim.seed : o->opt.seed; /* member 0's batches */
    const double t_start = ttp_time();
    if (K == 0) return TTP_OK;
    if (root && (p == NULL || k0 == NULL || p->main.curves == NULL || p->n != k0->n))
        return TTP_ERR(ctx, TTP_ERR_ARG, "re-linearization needs the prediction on the kernel's own samples");
    const int64_t seg = autok || K > T ? T : K; /* the longest trace (auto: a capped last segment) */
    TTP_CALL_GOTO(ctx, st, done, ttp_model_clone(ctx, model, &m));
    TTP_ALLOC(ctx, st, done, w, model->nparams, "linearized weights");
    TTP_ALLOC(ctx, st, done, ws, model->nparams, "segment's starting weights");
    TTP_ALLOC(ctx, st, done, wdt, model->ntrainable, "trainable weights");
    TTP_ALLOC(ctx, st, done, wdb, model->ntrainable, "trainable weights");
    if (root) {
        TTP_ALLOC(ctx, st, done, L, T + 1, "stitched loss");
        TTP_ALLOC(ctx, st, done, A, T + 1, "stitched accuracy");
        TTP_ALLOC(ctx, st, done, flin, (size_t)(seg + 1) * NC, "linearized outputs");
        TTP_ALLOC(ctx, st, done, a, (size_t)(seg + 1) * NC, "cotangents");
        TTP_ALLOC(ctx, st, done, c, seg + 1, "decay coefficients");
        TTP_ALLOC(ctx, st, done, ll, seg + 1, "linearized losses");
        TTP_ALLOC(ctx, st, done, steps, seg + 1, "steps");
        TTP_ALLOC(ctx, st, done, F, NC, "outputs carried");
        TTP_ALLOC(ctx, st, done, V, NC, "velocity carried");
        TTP_ALLOC(ctx, st, done, Vn, NC, "velocity at the end");
        TTP_ALLOC(ctx, st, done, u0, NC, "J w");
        TTP_ALLOC(ctx, st, done, al, NC, "momentum cotangent");
        TTP_ALLOC(ctx, st, done, vn, model->nparams, "next velocity");
        memcpy(F, k0->f0, sizeof(double) * (size_t)NC);
        if (k0->u0) memcpy(u0, k0->u0, sizeof(double) * (size_t)NC);
    }
    if (mom) { /* every rank takes J v on its shard */
        TTP_ALLOC(ctx, st, done, vs, model->nparams, "carried velocity");
        TTP_ALLOC(ctx, st, done, jv, NC, "J v of the carried velocity");
        TTP_CALL_GOTO(ctx, st, done, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &plan));
        TTP_CALL_GOTO(ctx, st, done, ttp_net_create(ctx, m, TTP_RELIN_JV_CHUNK * model->nout, &jnet));
    }
    /* A companion run uses each kernel half a segment late
     * (from its midpoint to the next one, k0 before the first): a first-order
     * scheme on the same kernels, whose times differ from the midpoint run's by
     * about the kernel's change over half a segment — the sensitivity that
     * widens the band and decides validity. */
    if (root) {
        TTP_ALLOC(ctx, st, done, Fl, NC, "lagged outputs");
        TTP_ALLOC(ctx, st, done, Vl, NC, "lagged velocity");
        TTP_ALLOC(ctx, st, done, Ll, T + 1, "lagged loss");
        TTP_ALLOC(ctx, st, done, Al, T + 1, "lagged accuracy");
        memcpy(Fl, k0->f0, sizeof(double) * (size_t)NC);
    }
    /* auto starts short: the kernel can change most in the first steps (with
     * momentum tr Θ grew 30-fold between steps 15 and 30 on the bundled task,
     * which a first segment of T/5 steps, checked at its midpoint, misses) */
    int64_t nseg = 0, trials = 0, kcur = K, knext = autok ? (K + 3) / 4 : K;
    int capped = 0, stop = 0;
    double tr_prev = 0; /* tr Θ of the kernel in use (‖G‖² of the factor; Σλ of the first) */
    if (root) {
        if (k0->theta)
            for (int64_t r = 0; r < NC; r++) tr_prev += k0->theta[r * NC + r];
        else
            for (int64_t r = 0; r < k0->neig; r++) tr_prev += k0->eigval[r];
    }
    for (int64_t t0 = 0; t0 < T && !stop;) {
        int64_t k = 0;
        memcpy(ws, m->w, sizeof(double) * (size_t)model->nparams);
        kcur = knext;
        for (;;) { /* auto: retried with half the length while the kernel changes too much */
            trials++;
            const int last = autok && nseg + 1 >= TTP_RELIN_MAX_SEGMENTS;
            if (last) kcur = T - t0, capped = 1;
            /* the weights halfway through this segment, predicted on the previous kernel */
            const int64_t kh = (T - t0 < kcur ? T - t0 : kcur) / 2;
            memcpy(w, ws, sizeof(double) * (size_t)model->nparams);
            memcpy(m->w, ws, sizeof(double) * (size_t)model->nparams); /* a retry starts over */
            if (root && kh >= 1) {
                ttp_theta th;
                memset(&th, 0, sizeof th);
                th.n = k0->n, th.c = k0->c;
                if (t0 > 0) /* kr still holds the previous segment's kernel */
                    th.k = kr.k, th.vecs = kr.g, th.vals = ones;
                else if (k0->theta)
                    th.dense = k0->theta;
                else
                    th.k = k0->neig, th.vecs = k0->eigvec, th.vals = k0->eigval;
                ttp_sim_problem prob = {&th, k0->n, k0->c, F, k0->u0 ? u0 : NULL, k0->labels, k0->targets};
                ttp_faith_seg sg = {t0, t0 > 0 && mom ? V : NULL, al, 0, 0, 0, NULL, NULL, NULL, NULL, NULL};
                for (int64_t j = 0; j <= kh; j++) steps[j] = j;
                TTP_CALL_GOTO(ctx, st, done,
                              ttp_faith_trace_seg(ctx, &prob, &o->opt, seed0, &sg, (int)(kh + 1), steps, flin,
                                                  a, c, ll));
                TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, a + (size_t)kh * NC, c[kh], w));
                if (mom && t0 > 0)
                    for (int64_t j = 0; j < model->nparams; j++) w[j] += sg.e * vs[j];
                if (!isfinite(ll[kh])) memcpy(w, ws, sizeof(double) * (size_t)model->nparams);
            }
            if (!root) memset(w, 0, sizeof(double) * (size_t)model->nparams);
            TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, w, model->nparams, ctx));
            memcpy(m->w, w, sizeof(double) * (size_t)model->nparams);
            /* the kernel there, in factor form (G Gᵀ, no eigensolver) */
            ttp_kernel_opts ko = o->kernel;
            ko.checkpoint_dir = NULL;
            ko.stop_after_block = 0;
            ttp_kernel_rows_clear(&kp); /* the previous kernel is kept for the lagged run */
            kp = kr;
            memset(&kr, 0, sizeof kr);
            TTP_CALL_GOTO(ctx, st, done, ttp_kernel_factor(ctx, comm, m, d, &ko, &kr));
            double tr = 0;
            for (int64_t r = 0; r < NC * kr.k; r++) tr += kr.g[r] * kr.g[r];
            /* auto: a kernel whose trace moved by more than TTP_RELIN_KERNEL_RATIO from the
             * previous one is too far from it for a midpoint rule; halve and rebuild */
            int64_t retry = autok && !last && kcur > 1 && root &&
                            !(fabs(log(tr / tr_prev)) <= log(TTP_RELIN_KERNEL_RATIO));
            TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, &retry, (int64_t)sizeof retry, 0, ctx));
            if (!retry) {
                knext = kcur;
                if (root && autok && fabs(log(tr / tr_prev)) < 0.5 * log(TTP_RELIN_KERNEL_RATIO))
                    knext = 2 * kcur < K ? 2 * kcur : K; /* the kernel settles: longer segments again */
                tr_prev = tr;
                break;
            }
            ttp_kernel_rows_clear(&kr);
            kr = kp;
            memset(&kp, 0, sizeof kp);
            kcur = (kcur + 1) / 2;
        }
        /* J_s w_s: the weight-decay term's anchor in this linearization; the
         * outputs themselves are the linear model's, carried on */
        if (root && kr.u0)
            for (int64_t r = 0; r < NC; r++) u0[r] = kr.u0[r];
        /* The carried velocity in this segment's linearization: V₀ = J_mid v_s,
         * exact, at the weights where its kernel was built.  The previous
         * segment's V is J_prev v_s; with momentum 0.9 it holds about ten
         * steps of gradients, taken through a Jacobian the network has left
         * (docs/METHOD.md 6d, "the velocity re-taken"). */
        if (mom && t0 > 0) {
            TTP_CALL_GOTO(ctx, st, done, ttp_relin_jv(ctx, comm, plan, jnet, m, d, vs, jv));
            if (root) memcpy(V, jv, sizeof(double) * (size_t)NC);
        }
        if (root) { /* the lagged run up to this segment's midpoint, on the previous kernel */
            const int64_t target = t0 + (T - t0 < kcur ? T - t0 : kcur) / 2;
            TTP_CALL_GOTO(ctx, st, done,
                          lag_run(ctx, o, k0, t0 > 0 ? &kp : NULL, ones, seed0, tl, target, Fl, Vl, Ll, Al,
                                  flin, a, c, ll, steps));
            tl = target;
        }
        if (root) {
            ttp_theta th;
            memset(&th, 0, sizeof th);
            th.n = k0->n, th.c = k0->c;
            if (ones == NULL || nones < kr.k) {
                free(ones);
                nones = kr.k;
                TTP_ALLOC(ctx, st, done, ones, nones, "unit weights");
                for (int64_t j = 0; j < nones; j++) ones[j] = 1.0;
            }
            th.k = kr.k, th.vecs = kr.g, th.vals = ones;
            ttp_sim_problem prob = {&th, k0->n, k0->c, F, k0->u0 ? u0 : NULL, k0->labels, k0->targets};
            ttp_faith_seg sg = {t0, t0 > 0 && mom ? V : NULL, al, 0, 0, 0, Vn, NULL, NULL, NULL, NULL};
            k = T - t0 < kcur ? T - t0 : kcur;
            for (int64_t j = 0; j <= k; j++) steps[j] = j;
            TTP_CALL_GOTO(
                ctx, st, done,
                ttp_faith_trace_seg(ctx, &prob, &o->opt, seed0, &sg, (int)(k + 1), steps, flin, a, c, ll));
            /* the end weights w_s + J_midᵀ a + c w_s (+ e v_s): Jᵀ from the midpoint, where m is now */
            TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, a + (size_t)k * NC, 0, w));
            for (int64_t j = 0; j < model->nparams; j++) w[j] += ws[j] - m->w[j];
            if (c[k] != 0) {
                ttp_model_get_trainable(model, ws, wdb);
                ttp_model_get_trainable(model, w, wdt);
                for (int64_t j = 0; j < model->ntrainable; j++) wdt[j] += c[k] * wdb[j];
                ttp_model_set_trainable(model, wdt, w);
            }
            if (mom && t0 > 0)
                for (int64_t j = 0; j < model->nparams; j++) w[j] += sg.e * vs[j];
            for (int64_t j = 0; j <= k; j++) {
                L[t0 + j] = ll[j];
                int64_t correct = 0;
                ttp_loss_eval(o->opt.loss, flin + (size_t)j * NC, k0->labels, k0->targets, k0->n, k0->c, NULL,
                              &correct);
                A[t0 + j] = k0->labels ? (double)correct / (double)k0->n : NAN;
            }
            /* carry the linear model's own state into the next segment */
            memcpy(F, flin + (size_t)k * NC, sizeof(double) * (size_t)NC);
            memcpy(V, Vn, sizeof(double) * (size_t)NC);
            if (mom) { /* weight-space velocity v = Jᵀα + γ w_s + ε v_s, to place the next weights */
                TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, al, 0, vn));
                for (int64_t j = 0; j < model->nparams; j++)
                    vn[j] = vn[j] - m->w[j] + (t0 > 0 ? sg.eps * vs[j] : 0.0);
                if (sg.gam != 0) { /* + γ w_s on the trainable weights */
                    ttp_model_get_trainable(model, ws, wdb);
                    ttp_model_get_trainable(model, vn, wdt);
                    for (int64_t j = 0; j < model->ntrainable; j++) wdt[j] += sg.gam * wdb[j];
                    ttp_model_set_trainable(model, wdt, vn);
                }
                memcpy(vs, vn, sizeof(double) * (size_t)model->nparams);
            }
        } else {
            memset(w, 0, sizeof(double) * (size_t)model->nparams);
        }
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, w, model->nparams, ctx));
        TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, &k, (int64_t)sizeof k, 0, ctx));
        /* a blown-up segment ends the prediction: its weights are no place to build a kernel */
        int64_t blown = root && !(L[t0 + k] <= L[0]);
        TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, &blown, (int64_t)sizeof blown, 0, ctx));
        if (blown) {
            stop = 1;
            for (int64_t t = t0 + k + 1; root && t <= T; t++) L[t] = INFINITY, A[t] = NAN;
        }
        memcpy(m->w, w, sizeof(double) * (size_t)model->nparams);
        nseg++;
        t0 += k;
    }
    double sens = 0;
    int64_t tt_lag[TTP_MAX_TT] = {0};
    if (root && !stop) {
        TTP_CALL_GOTO(ctx, st, done,
                      lag_run(ctx, o, k0, &kr, ones, seed0, tl, T, Fl, Vl, Ll, Al, flin, a, c, ll, steps));
        for (int i = 0; i < p->main.ntt; i++) {
            int64_t tm = ttp_ttime(&p->main.tt[i].def, L, A, T);
            tt_lag[i] = ttp_ttime(&p->main.tt[i].def, Ll, Al, T);
            double si = tm > 0 && tt_lag[i] > 0 ? fabs((double)(tt_lag[i] - tm)) / (double)tm
                        : tm == tt_lag[i]       ? 0.0
                                                : 1.0;
            if (si > sens) sens = si;
        }
    }
    if (root) {
        ttp_relin_stitch(p, ttp_opt_batch(&o->opt, d->n) < d->n, L, A, T);
        ttp_faith *fa = &p->faith;
        fa->relin_every = K;
        fa->relin_kernel = 1;
        fa->segments = nseg;
        fa->relin_trials = trials;
        fa->relin_capped = capped;
        fa->relin_sens = sens;
        for (int i = 0; i < p->main.ntt; i++) fa->relin_tt_lag[i] = tt_lag[i];
        verdict(p, o, L, T, sens);
        fa->relin_seconds = ttp_time() - t_start;
    }
done:
    free(Fl), free(Vl), free(Ll), free(Al);
    ttp_kernel_rows_clear(&kr);
    ttp_kernel_rows_clear(&kp);
    free(ones), free(ws), free(wdt), free(wdb);
    ttp_net_destroy(&jnet); /* before the model it was made from */
    ttp_jac_plan_destroy(&plan);
    ttp_model_destroy(&m);
    free(L), free(A), free(flin), free(a), free(c), free(ll), free(w), free(F), free(V), free(Vn), free(u0);
    free(vs), free(vn), free(al), free(jv), free(steps);
    return st;
}
