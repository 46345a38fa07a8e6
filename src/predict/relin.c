/*
 * relin.c — piecewise re-linearization (issue 12; docs/METHOD.md §6c): one
 * linearization at w₀ is too fast where the tangent kernel changes during
 * fine-tuning, so every K steps the kernel is rebuilt at the linearized
 * weights w₀ + Jᵀ a_t (faith.c) and the dynamics continue from the real
 * network's outputs there.  With momentum the weight-space velocity v_s is
 * carried: each new linearization starts from V = J_new v_s, computed
 * exactly from the per-sample gradient factors (ttp_jac_jvp).  SGD follows
 * ensemble member 0, whose batches are the real run's (METHOD §3).
 */
#include "ttp_predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_jac.h"
#include "ttp_kbuild.h"
#include "ttp_net.h"

ttp_status ttp_predict_relinearize(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *d,
                                   const ttp_kernel *k0, const ttp_predict_opts *o, ttp_prediction *p)
{
    ttp_status st = TTP_OK;
    const int64_t T = o->opt.steps, K = o->relin_every;
    const int64_t NC = d->n * model->nout;
    const int root = comm->rank == 0;
    ttp_model *m = NULL;
    ttp_kernel *kr = NULL;
    double *fkeep = NULL, *L = NULL, *A = NULL, *flin = NULL, *a = NULL, *c = NULL, *ll = NULL, *w = NULL;
    double *vs = NULL, *vn = NULL, *jv = NULL, *al = NULL;
    ttp_jac_plan *plan = NULL;
    ttp_net *jnet = NULL;
    int64_t *steps = NULL;
    const int mom = o->opt.momentum > 0;
    const uint64_t seed0 = o->sim.seed ? o->sim.seed : o->opt.seed; /* member 0's batches */
    if (K <= 0) return TTP_OK;
    if (root && (p == NULL || k0 == NULL || p->main.curves == NULL || p->n != k0->n))
        return TTP_ERR(ctx, TTP_ERR_ARG, "re-linearization needs the prediction on the kernel's own samples");
    const int64_t seg = K < T ? K : T;
    TTP_CALL_GOTO(ctx, st, done, ttp_model_clone(ctx, model, &m));
    TTP_ALLOC(ctx, st, done, w, model->nparams, "linearized weights");
    if (root) {
        TTP_ALLOC(ctx, st, done, L, T + 1, "stitched loss");
        TTP_ALLOC(ctx, st, done, A, T + 1, "stitched accuracy");
        TTP_ALLOC(ctx, st, done, flin, (size_t)(seg + 1) * NC, "linearized outputs");
        TTP_ALLOC(ctx, st, done, a, (size_t)(seg + 1) * NC, "cotangents");
        TTP_ALLOC(ctx, st, done, c, seg + 1, "decay coefficients");
        TTP_ALLOC(ctx, st, done, ll, seg + 1, "linearized losses");
        TTP_ALLOC(ctx, st, done, steps, seg + 1, "steps");
        if (mom) {
            TTP_ALLOC(ctx, st, done, vs, model->nparams, "carried velocity");
            TTP_ALLOC(ctx, st, done, vn, model->nparams, "next velocity");
            TTP_ALLOC(ctx, st, done, jv, NC, "J v");
            TTP_ALLOC(ctx, st, done, al, NC, "momentum cotangent");
            TTP_CALL_GOTO(ctx, st, done, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &plan));
            TTP_CALL_GOTO(ctx, st, done, ttp_net_create(ctx, m, 64 * model->nout, &jnet));
        }
    }
    double worst = 0;
    const double *fprev = NULL; /* the last segment's start outputs (flin's slot 0) */
    if (root) TTP_ALLOC(ctx, st, done, fkeep, NC, "segment end outputs");
    int64_t nseg = 0;
    for (int64_t t0 = 0; t0 < T; t0 += K) {
        const int64_t k = T - t0 < K ? T - t0 : K;
        const ttp_kernel *ks = k0;
        if (t0 > 0) { /* the kernel at the current weights, as predict_run builds it */
            TTP_CALL_GOTO(ctx, st, done, ttp_kernel_build(ctx, comm, m, d, &o->kernel, &kr));
            ks = kr;
        }
        if (root) {
            ttp_theta th;
            memset(&th, 0, sizeof th);
            th.n = ks->n, th.c = ks->c;
            if (ks->theta) th.dense = ks->theta;
            else th.k = ks->neig, th.vecs = ks->eigvec, th.vals = ks->eigval;
            if (th.dense == NULL && th.vecs == NULL) {
                st = TTP_ERR(ctx, TTP_ERR_ARG, "re-linearization: the kernel holds neither Theta nor eigenvectors");
                goto done;
            }
            /* the real network here against where the last segment's linear model ended */
            if (fprev) {
                double num = 0, den = 0;
                for (int64_t r = 0; r < NC; r++) {
                    num += (ks->f0[r] - fkeep[r]) * (ks->f0[r] - fkeep[r]);
                    den += (fkeep[r] - fprev[r]) * (fkeep[r] - fprev[r]);
                }
                if (den > 0 && sqrt(num / den) > worst) worst = sqrt(num / den);
            }
            ttp_sim_problem prob = {&th, ks->n, ks->c, ks->f0, ks->u0, ks->labels, ks->targets};
            for (int64_t j = 0; j <= k; j++) steps[j] = j;
            ttp_faith_seg sg = {t0, NULL, al, 0, 0, 0};
            if (mom && t0 > 0) { /* the carried velocity in this linearization: V = J_new v_s, exact */
                TTP_CALL_GOTO(ctx, st, done, ttp_jac_jvp(ctx, plan, jnet, m->w, vs, d->x, d->n, jv));
                sg.v0 = jv;
            }
            TTP_CALL_GOTO(ctx, st, done, ttp_faith_trace_seg(ctx, &prob, &o->opt, seed0, &sg, (int)(k + 1), steps,
                                                             flin, a, c, ll));
            for (int64_t j = 0; j <= k; j++) {
                L[t0 + j] = ll[j];
                int64_t correct = 0;
                ttp_loss_eval(o->opt.loss, flin + (size_t)j * NC, ks->labels, ks->targets, ks->n, ks->c, NULL,
                              &correct);
                A[t0 + j] = ks->labels ? (double)correct / (double)ks->n : NAN;
            }
            memcpy(fkeep, flin + (size_t)k * NC, sizeof(double) * (size_t)NC);
            fprev = flin; /* slot 0: this segment's start, the real outputs ks->f0 */
            TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, a + (size_t)k * NC, c[k], w));
            if (mom) { /* w = w_s + Jᵀa + c w_s + e v_s;  v = Jᵀα + γ w_s + ε v_s (vs is 0 off the trainable) */
                TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, al, sg.gam, vn));
                for (int64_t j = 0; j < model->nparams; j++) {
                    w[j] += sg.e * vs[j];
                    vn[j] = vn[j] - m->w[j] + sg.eps * vs[j];
                }
                memcpy(vs, vn, sizeof(double) * (size_t)model->nparams);
            }
        } else {
            memset(w, 0, sizeof(double) * (size_t)model->nparams);
        }
        /* every rank needs the new weights: rank 0's, the others' zeros */
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, w, model->nparams, ctx));
        memcpy(m->w, w, sizeof(double) * (size_t)model->nparams);
        nseg++;
        ttp_kernel_destroy(&kr);
    }
    /* the last segment's end, at the real network */
    if (root && nseg > 0) {
        ttp_net *net = NULL;
        double *fr = NULL;
        TTP_ALLOC(ctx, st, done, fr, NC, "real outputs");
        st = ttp_net_create(ctx, m, 64, &net);
        for (int64_t i0 = 0; st == TTP_OK && i0 < d->n; i0 += 64) {
            int64_t nb = d->n - i0 < 64 ? d->n - i0 : 64;
            st = ttp_net_forward(ctx, net, m->w, d->x + i0 * d->dim, nb, fr + i0 * model->nout);
        }
        ttp_net_destroy(&net);
        if (st == TTP_OK) {
            double num = 0, den = 0;
            for (int64_t r = 0; r < NC; r++) {
                num += (fr[r] - fkeep[r]) * (fr[r] - fkeep[r]);
                den += (fkeep[r] - fprev[r]) * (fkeep[r] - fprev[r]);
            }
            if (den > 0 && sqrt(num / den) > worst) worst = sqrt(num / den);
        }
        free(fr);
        if (st != TTP_OK) goto done;
    }
    if (root) {
        ttp_curves *cv = p->main.curves;
        for (int64_t t = 0; t <= T; t++) {
            cv->loss[t] = cv->loss_lo[t] = cv->loss_hi[t] = cv->member_loss[t] = L[t];
            cv->acc[t] = cv->acc_lo[t] = cv->acc_hi[t] = cv->member_acc[t] = A[t];
        }
        for (int i = 0; i < p->main.ntt; i++) {
            ttp_tt_result *r = &p->main.tt[i];
            r->steps = r->lo = r->hi = ttp_ttime(&r->def, cv->loss, cv->acc, T);
        }
        p->main.wall = p->main.tt[0].steps >= 0 ? (double)p->main.tt[0].steps * p->sec_per_step : NAN;
        ttp_faith *fa = &p->faith;
        fa->relin_every = K;
        fa->segments = nseg;
        fa->seg_out_gap = worst;
        ttp_faith_widen_band(p, T, worst);
        /* the single linearization's verdict is replaced by the segments' one */
        if (fa->invalidated && fa->valid_before && worst <= TTP_FAITH_OUT_GAP) {
            p->valid = 1;
            p->warning[fa->warn_at] = '\0';
            size_t u = strlen(p->warning);
            while (u > 0 && (p->warning[u - 1] == ' ' || p->warning[u - 1] == ';')) p->warning[--u] = '\0';
        } else if (worst > TTP_FAITH_OUT_GAP) {
            p->valid = 0;
            size_t u = strlen(p->warning);
            snprintf(p->warning + u, sizeof p->warning - u,
                     "%sre-linearized every %lld steps, the real network still leaves a segment's linear model by "
                     "%.0f%% of its movement (limit %.0f%%): use a smaller --relinearize K",
                     u ? "; " : "", (long long)K, 100 * worst, 100 * TTP_FAITH_OUT_GAP);
        }
    }
done:
    ttp_kernel_destroy(&kr);
    ttp_net_destroy(&jnet);
    ttp_jac_plan_destroy(&plan);
    ttp_model_destroy(&m);
    free(vs), free(vn), free(jv), free(al);
    free(L), free(A), free(flin), free(a), free(c), free(ll), free(w), free(steps), free(fkeep);
    return st;
}
