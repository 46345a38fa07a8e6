/*
 * drift.c — how far the tangent kernel moves along the predicted path
 * (docs/METHOD.md §6d).  Real training obeys dF/dt = −η Θ(w_t) ∇_F L: its
 * path in function space depends on the kernel along the way, not on
 * whether the network at the linearized weights reproduces the linear
 * model's outputs (the output gap of §6b measures the latter, which is
 * dominated by second-order terms that real training corrects as it goes).
 * So the figure that speaks for the predicted time is the kernel's action on
 * the loss gradient at the moved weights against the one at the start:
 *
 *   drift δ = ‖Θ(w_t) g − Θ(w_s) g‖ / ‖Θ(w_s) g‖,   rate ρ = gᵀ Θ(w_t) g / gᵀ Θ(w_s) g,
 *
 * with g = ∇_F L at the linear model's outputs.  Θ(w) g = J_w (J_wᵀ g) is
 * exact up to a central difference: one backward pass (J_wᵀ g) and two
 * forward passes along it; gᵀ Θ g = ‖J_wᵀ g‖² needs no difference at all.
 */
#include "ttp_predict.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_net.h"

#define DRIFT_CHUNK 64
/* Central-difference step along v = J_wᵀ g, relative to ‖w‖: small enough
 * that few ReLU kinks are crossed, large enough that round-off (≈1e-16 of
 * the outputs) stays ≈1e-10 of the difference. */
#define DRIFT_FD_REL 1e-6

struct ttp_drift_ws {
    const ttp_model *m;
    const ttp_data *d;
    ttp_net *net;
    double *jt, *wp, *fp, *fm;
};

ttp_status ttp_drift_ws_create(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, ttp_drift_ws **out)
{
    ttp_status st = TTP_OK;
    ttp_drift_ws *ws = NULL;
    const int64_t NC = d->n * m->nout;
    *out = NULL;
    TTP_ALLOC(ctx, st, fail, ws, 1, "kernel drift workspace");
    ws->m = m, ws->d = d;
    TTP_CALL_GOTO(ctx, st, fail, ttp_net_create(ctx, m, DRIFT_CHUNK, &ws->net));
    TTP_ALLOC(ctx, st, fail, ws->jt, m->nparams, "J^T g");
    TTP_ALLOC(ctx, st, fail, ws->wp, m->nparams, "perturbed weights");
    TTP_ALLOC(ctx, st, fail, ws->fp, NC, "outputs");
    TTP_ALLOC(ctx, st, fail, ws->fm, NC, "outputs");
    *out = ws;
    return TTP_OK;
fail:
    ttp_drift_ws_destroy(&ws);
    return st;
}

void ttp_drift_ws_destroy(ttp_drift_ws **ws)
{
    if (ws == NULL || *ws == NULL) return;
    ttp_net_destroy(&(*ws)->net);
    free((*ws)->jt), free((*ws)->wp), free((*ws)->fp), free((*ws)->fm);
    free(*ws);
    *ws = NULL;
}

static ttp_status forward_all(ttp_ctx *ctx, ttp_drift_ws *ws, const double *w, double *f)
{
    const ttp_data *d = ws->d;
    for (int64_t i0 = 0; i0 < d->n; i0 += DRIFT_CHUNK) {
        int64_t nb = d->n - i0 < DRIFT_CHUNK ? d->n - i0 : DRIFT_CHUNK;
        TTP_CALL(ctx, ttp_net_forward(ctx, ws->net, w, d->x + i0 * d->dim, nb, f + i0 * ws->m->nout));
    }
    return TTP_OK;
}

ttp_status ttp_drift_action(ttp_ctx *ctx, ttp_drift_ws *ws, const double *w, const double *g, double *act,
                            double *gtg)
{
    const ttp_model *m = ws->m;
    const ttp_data *d = ws->d;
    const int64_t C = m->nout, NC = d->n * C, P = m->nparams;
    memset(ws->jt, 0, sizeof(double) * (size_t)P);
    for (int64_t i0 = 0; i0 < d->n; i0 += DRIFT_CHUNK) {
        int64_t nb = d->n - i0 < DRIFT_CHUNK ? d->n - i0 : DRIFT_CHUNK;
        TTP_CALL(ctx, ttp_net_forward(ctx, ws->net, w, d->x + i0 * d->dim, nb, ws->fp + i0 * C));
        TTP_CALL(ctx, ttp_net_backward(ctx, ws->net, w, g + i0 * C, ws->jt, NULL));
    }
    const double vn = cblas_dnrm2((int)P, ws->jt, 1);
    if (gtg) *gtg = vn * vn;
    if (act == NULL) return TTP_OK;
    if (!(vn > 0) || !isfinite(vn)) {
        for (int64_t r = 0; r < NC; r++) act[r] = isfinite(vn) ? 0.0 : NAN;
        return TTP_OK;
    }
    const double wn = cblas_dnrm2((int)P, w, 1);
    const double h = DRIFT_FD_REL * fmax(wn, 1.0) / vn;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        for (int64_t j = 0; j < P; j++) ws->wp[j] = w[j] + sgn * h * ws->jt[j];
        TTP_CALL(ctx, forward_all(ctx, ws, ws->wp, sgn < 0 ? ws->fm : ws->fp));
    }
    for (int64_t r = 0; r < NC; r++) act[r] = (ws->fp[r] - ws->fm[r]) / (2 * h);
    return TTP_OK;
}

ttp_status ttp_drift_between(ttp_ctx *ctx, ttp_drift_ws *ws, const double *ws_w, const double *wt,
                             const double *g, double *a0, double *a1, double *drift, double *rate)
{
    const int64_t NC = ws->d->n * ws->m->nout;
    double r0 = 0, r1 = 0;
    TTP_CALL(ctx, ttp_drift_action(ctx, ws, ws_w, g, a0, &r0));
    TTP_CALL(ctx, ttp_drift_action(ctx, ws, wt, g, a1, &r1));
    double num = 0, den = 0;
    for (int64_t r = 0; r < NC; r++) {
        num += (a1[r] - a0[r]) * (a1[r] - a0[r]);
        den += a0[r] * a0[r];
    }
    *drift = den > 0 ? sqrt(num / den) : 0.0;
    *rate = r0 > 0 ? r1 / r0 : 1.0;
    if (!isfinite(*drift) || !isfinite(*rate)) *drift = *rate = NAN;
    return TTP_OK;
}

ttp_status ttp_predict_drift(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel *k,
                             const ttp_predict_opts *o, ttp_prediction *p)
{
    ttp_status st = TTP_OK;
    ttp_faith *fa = &p->faith;
    ttp_drift_ws *ws = NULL;
    double *flin = NULL, *a = NULL, *c = NULL, *ll = NULL, *w = NULL, *g = NULL, *a0 = NULL, *a1 = NULL;
    const int np = fa->npoints;
    fa->worst_kdrift = 0;
    if (np == 0) return TTP_OK;
    ttp_theta th;
    memset(&th, 0, sizeof th);
    th.n = k->n, th.c = k->c;
    if (k->theta)
        th.dense = k->theta;
    else
        th.k = k->neig, th.vecs = k->eigvec, th.vals = k->eigval;
    const double t0 = ttp_time();
    const int64_t N = k->n, C = k->c, NC = N * C;
    ttp_sim_problem prob = {&th, N, k->c, k->f0, k->u0, k->labels, k->targets};
    TTP_ALLOC(ctx, st, done, flin, (size_t)np * NC, "linearized outputs");
    TTP_ALLOC(ctx, st, done, a, (size_t)np * NC, "cotangents");
    TTP_ALLOC(ctx, st, done, c, np, "decay coefficients");
    TTP_ALLOC(ctx, st, done, ll, np, "linearized losses");
    TTP_ALLOC(ctx, st, done, w, m->nparams, "linearized weights");
    TTP_ALLOC(ctx, st, done, g, NC, "loss gradient");
    TTP_ALLOC(ctx, st, done, a0, NC, "kernel action at w0");
    TTP_ALLOC(ctx, st, done, a1, NC, "kernel action at w_t");
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_faith_trace(ctx, &prob, &o->opt, o->sim.seed ? o->sim.seed : o->opt.seed, np, fa->step,
                                  flin, a, c, ll));
    TTP_CALL_GOTO(ctx, st, done, ttp_drift_ws_create(ctx, m, d, &ws));
    for (int i = 0; i < np; i++) {
        fa->kdrift[i] = fa->krate[i] = NAN;
        if (!isfinite(ll[i])) continue;
        ttp_loss_eval(o->opt.loss, flin + (size_t)i * NC, k->labels, k->targets, N, (int)C, g, NULL);
        TTP_CALL_GOTO(ctx, st, done, ttp_faith_weights(ctx, m, d, a + (size_t)i * NC, c[i], w));
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_drift_between(ctx, ws, m->w, w, g, a0, a1, &fa->kdrift[i], &fa->krate[i]));
        if (isfinite(fa->kdrift[i]) && fa->kdrift[i] > fa->worst_kdrift) fa->worst_kdrift = fa->kdrift[i];
    }
    fa->kdrift_seconds = ttp_time() - t0;
done:
    ttp_drift_ws_destroy(&ws);
    free(flin), free(a), free(c), free(ll), free(w), free(g), free(a0), free(a1);
    return st;
}
