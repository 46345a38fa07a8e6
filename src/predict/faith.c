/*
 * faith.c — predictions users can trust (issue 12): the guard that never lets
 * an exploding predicted loss pass as valid, and the measured faithfulness of
 * the linearization (the real network evaluated at the linearized weights,
 * which are known without storing J: w_t = w₀ + Jᵀ a_t + c_t w₀,
 * docs/METHOD.md §6b).
 */
#include "ttp_predict.h"
#include "ttp_text.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append "; text" (or "text" when empty) to the prediction's warning. */
void ttp_prediction_warn(ttp_prediction *p, const char *fmt, ...)
{
    size_t u = strlen(p->warning);
    if (u + 3 >= sizeof p->warning) return;
    if (u) { /* after a full sentence a space, else a semicolon */
        if (p->warning[u - 1] != '.') p->warning[u++] = ';';
        p->warning[u++] = ' ';
        p->warning[u] = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->warning + u, sizeof p->warning - u, fmt, ap);
    va_end(ap);
}

static int theta_of_kernel(const ttp_kernel *k, ttp_theta *th)
{
    memset(th, 0, sizeof *th);
    th->n = k->n;
    th->c = k->c;
    if (k->theta) {
        th->dense = k->theta;
    } else if (k->eigvec && k->neig > 0) {
        th->k = k->neig;
        th->vecs = k->eigvec;
        th->vals = k->eigval;
    } else {
        return 0;
    }
    return 1;
}

/* ---- the guard ------------------------------------------------------------ */

/*
 * Round-off tolerance on "grows past L₀": a curve that stays flat (a tiny
 * learning rate) must not trip it, a real blow-up exceeds it by orders.
 */
#define GROWTH_TOL 1e-6

int64_t ttp_predict_guard_batches(int64_t n, int64_t b)
{
    if (b <= 0 || b >= n) return 0;
    int64_t nb = (n + b - 1) / b;
    return nb > 32 ? 32 : nb;
}

ttp_status ttp_predict_guard(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o, ttp_prediction *p)
{
    return ttp_predict_guard_tops(ctx, k, o, 0, NULL, NULL, p);
}

ttp_status ttp_predict_guard_tops(ttp_ctx *ctx, const ttp_kernel *k, const ttp_predict_opts *o,
                                  int64_t nbatch, const double *tops, const int64_t *sizes, ttp_prediction *p)
{
    const int64_t T = o->opt.steps;
    double worst = 0;
    int64_t worst_t = -1, nonfinite_t = -1, worst_n = p->n;
    int worst_band = 0, diverged = 0;
    for (int i = -1; i < p->nextrap; i++) {
        const ttp_pred_curve *pc = i < 0 ? &p->main : &p->extrap[i];
        const ttp_curves *cv = pc->curves;
        if (cv == NULL) continue;
        diverged += cv->diverged;
        double L0 = cv->loss[0];
        for (int64_t t = 0; t <= T; t++) {
            if (!isfinite(cv->loss[t]) || !isfinite(cv->loss_hi[t])) {
                if (nonfinite_t < 0 || t < nonfinite_t) nonfinite_t = t, worst_n = pc->n;
                break;
            }
            double r = fmax(cv->loss[t], cv->loss_hi[t]) / L0;
            if (r > worst) worst = r, worst_t = t, worst_band = cv->loss_hi[t] > cv->loss[t], worst_n = pc->n;
        }
    }
    p->growth = nonfinite_t >= 0 ? INFINITY : worst;

    /* SGD: does a single batch overshoot on its own samples? */
    ttp_theta th;
    const int64_t N = k->n, B = ttp_opt_batch(&o->opt, N);
    p->batch_stab_mean = p->batch_stab_max = 0;
    if (B < N && p->n == k->n && theta_of_kernel(k, &th)) {
        const int64_t nb = ttp_predict_guard_batches(N, B);
        ttp_opt bo = o->opt;
        bo.seed = o->sim.seed ? o->sim.seed : o->opt.seed; /* member 0's batches */
        if (nbatch == nb && tops && sizes)
            ttp_sim_stability_tops(&bo, nb, tops, sizes, &p->batch_stab_mean, &p->batch_stab_max);
        else
            TTP_CALL(ctx,
                     ttp_sim_stability_batch(ctx, &th, &bo, nb, &p->batch_stab_mean, &p->batch_stab_max));
    }

    const double lr_limit = ttp_sim_stability_lr(&o->opt, p->mu_max);
    char advice[400];
    snprintf(advice, sizeof advice,
             "lower the learning rate (full-batch limit %.3g for this optimizer%s)%s%s", lr_limit,
             B < N ? ", less with small batches" : "", o->opt.momentum > 0 ? ", use a smaller momentum" : "",
             B < N ? ", or use a larger batch" : "");
    p->blowup = nonfinite_t >= 0 || diverged > 0 || p->growth > 1.0 + GROWTH_TOL;
    if (p->blowup) {
        p->valid = 0;
        if (nonfinite_t >= 0 || diverged > 0) {
            char where[96] = "";
            if (nonfinite_t >= 0) snprintf(where, sizeof where, " from step %lld", (long long)nonfinite_t);
            ttp_prediction_warn(
                p,
                "the predicted loss blows up (non-finite%s%s at N = %lld): the linearized dynamics diverge "
                "at these settings and the predicted time is not meaningful; %s",
                where, diverged ? ", diverged ensemble members" : "", (long long)worst_n, advice);
        } else {
            ttp_prediction_warn(
                p,
                "the predicted %s loss grows past its initial value (x%.3g at step %lld, N = %lld): the "
                "linearized dynamics blow up at these settings and the predicted time is not meaningful; %s",
                worst_band ? "upper-band" : "mean", p->growth, (long long)worst_t, (long long)worst_n,
                advice);
        }
    }
    if (p->batch_stab_mean > 1.0) {
        p->valid = 0;
        ttp_prediction_warn(
            p,
            "SGD batches overshoot: per-batch stability %.3g on average (max %.3g; limit 2), so the "
            "linearized SGD diverges on typical batches; %s",
            2 * p->batch_stab_mean, 2 * p->batch_stab_max, advice);
    } else if (p->batch_stab_max > 1.0) {
        ttp_prediction_warn(
            p,
            "some SGD batches overshoot on their own samples (per-batch stability max %.3g, mean %.3g; "
            "limit 2): expect a noisier real run than predicted",
            2 * p->batch_stab_max, 2 * p->batch_stab_mean);
    }
    return TTP_OK;
}

/* ---- linearized weights --------------------------------------------------- */

ttp_status ttp_faith_trace(ttp_ctx *ctx, const ttp_sim_problem *prob, const ttp_opt *opt, uint64_t seed,
                           int npts, const int64_t *steps, double *f_lin, double *a_out, double *c_out,
                           double *loss)
{
    return ttp_faith_trace_seg(ctx, prob, opt, seed, NULL, npts, steps, f_lin, a_out, c_out, loss);
}

ttp_status ttp_faith_trace_seg(ttp_ctx *ctx, const ttp_sim_problem *prob, const ttp_opt *opt, uint64_t seed,
                               ttp_faith_seg *sg, int npts, const int64_t *steps, double *f_lin,
                               double *a_out, double *c_out, double *loss)
{
    ttp_status st = TTP_OK;
    const int64_t N = prob->n, C = prob->c, NC = N * C;
    const int64_t B = ttp_opt_batch(opt, N);
    const int full = B >= N;
    const double lr = opt->lr, mom = opt->momentum, wd = opt->wd;
    double *F = NULL, *V = NULL, *A = NULL, *g = NULL, *gb = NULL, *b = NULL, *a = NULL, *al = NULL;
    int64_t *perm = NULL, *idx = NULL, epoch = -1;
    if (npts < 1) return TTP_OK;
    for (int i = 0; i < npts; i++)
        if (steps[i] < 0 || (i > 0 && steps[i] <= steps[i - 1]))
            return TTP_ERR(ctx, TTP_ERR_ARG, "faithfulness: steps must ascend from 0 (point %d is %lld)", i,
                           (long long)steps[i]);
    if (wd > 0 && prob->u0 == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "weight decay needs u0 = J w0, which this kernel does not carry");
    TTP_ALLOC(ctx, st, done, F, NC, "linearized outputs");
    TTP_ALLOC(ctx, st, done, V, NC, "momentum (function space)");
    TTP_ALLOC(ctx, st, done, A, NC, "step (function space)");
    TTP_ALLOC(ctx, st, done, g, NC, "loss gradient");
    TTP_ALLOC(ctx, st, done, gb, B * C, "batch gradient");
    TTP_ALLOC(ctx, st, done, b, NC, "cotangent of the step");
    TTP_ALLOC(ctx, st, done, a, NC, "accumulated cotangent a_t");
    TTP_ALLOC(ctx, st, done, al, NC, "accumulated momentum cotangent");
    TTP_ALLOC(ctx, st, done, perm, N, "batch permutation");
    TTP_ALLOC(ctx, st, done, idx, B, "batch indices");
    memcpy(F, prob->f0, sizeof(double) * (size_t)NC);
    /* A carried velocity v_s enters as V = J v_s in function space and as
     * the scalars e, ε of w = w_s + Jᵀ a + c w_s + e v_s, v = Jᵀ α + γ w_s + ε v_s. */
    double c = 0, gam = 0, e = 0, eps = 0;
    const int64_t t_start = sg ? sg->t_start : 0;
    if (sg && sg->v0) {
        memcpy(V, sg->v0, sizeof(double) * (size_t)NC);
        eps = 1;
    }
    int ip = 0;
    for (int64_t t = 0; ip < npts; t++) {
        double L = ttp_loss_eval(opt->loss, F, prob->labels, prob->targets, N, (int)C, g, NULL);
        while (ip < npts && steps[ip] == t) {
            memcpy(f_lin + (size_t)ip * NC, F, sizeof(double) * (size_t)NC);
            memcpy(a_out + (size_t)ip * NC, a, sizeof(double) * (size_t)NC);
            c_out[ip] = c;
            loss[ip] = L;
            if (sg && sg->e_pts) sg->e_pts[ip] = e;
            if (sg && sg->gam_pts) sg->gam_pts[ip] = gam;
            if (sg && sg->eps_pts) sg->eps_pts[ip] = eps;
            if (sg && sg->alpha_pts) memcpy(sg->alpha_pts + (size_t)ip * NC, al, sizeof(double) * (size_t)NC);
            ip++;
            if (ip == npts && sg) {
                if (sg->alpha) memcpy(sg->alpha, al, sizeof(double) * (size_t)NC);
                if (sg->v_end) memcpy(sg->v_end, V, sizeof(double) * (size_t)NC);
                sg->gam = gam, sg->e = e, sg->eps = eps;
            }
        }
        if (ip == npts) break;
        if (!isfinite(L)) { /* blown up: the remaining points are not defined */
            for (; ip < npts; ip++) {
                for (int64_t r = 0; r < NC; r++)
                    f_lin[(size_t)ip * NC + r] = a_out[(size_t)ip * NC + r] = NAN;
                c_out[ip] = loss[ip] = NAN;
            }
            break;
        }
        /* b: the step's gradient as an output cotangent, grad_w = Jᵀ b + λ w */
        double scale;
        if (full) {
            scale = 1.0 / (double)N;
            TTP_CALL_GOTO(ctx, st, done, ttp_theta_apply(ctx, prob->theta, NULL, N, g, A));
            for (int64_t r = 0; r < NC; r++) b[r] = scale * g[r];
        } else {
            int64_t nb = ttp_batch_indices(seed, N, B, t_start + t, perm, &epoch, idx);
            scale = 1.0 / (double)nb;
            memset(b, 0, sizeof(double) * (size_t)NC);
            for (int64_t s = 0; s < nb; s++) {
                memcpy(gb + s * C, g + idx[s] * C, sizeof(double) * (size_t)C);
                for (int64_t q = 0; q < C; q++) b[idx[s] * C + q] = scale * g[idx[s] * C + q];
            }
            TTP_CALL_GOTO(ctx, st, done, ttp_theta_apply(ctx, prob->theta, idx, nb, gb, A));
        }
        /* function space, exactly as ttp_sim_run ... */
        for (int64_t r = 0; r < NC; r++) {
            double ar = scale * A[r];
            if (wd > 0) ar += wd * (F[r] - prob->f0[r] + prob->u0[r]);
            V[r] = mom * V[r] + ar;
            F[r] -= lr * (opt->nesterov ? ar + mom * V[r] : V[r]);
            /* ... and its preimage: w_t − w₀ = Jᵀ a + c w₀, v = Jᵀ α + γ w₀ */
            double br = b[r] + wd * a[r];
            al[r] = mom * al[r] + br;
            a[r] -= lr * (opt->nesterov ? br + mom * al[r] : al[r]);
        }
        double bc = wd * (1.0 + c), be = wd * e;
        gam = mom * gam + bc;
        c -= lr * (opt->nesterov ? bc + mom * gam : gam);
        eps = mom * eps + be;
        e -= lr * (opt->nesterov ? be + mom * eps : eps);
    }
done:
    free(F), free(V), free(A), free(g), free(gb), free(b), free(a), free(al), free(perm), free(idx);
    return st;
}

#define FAITH_CHUNK 64

ttp_status ttp_faith_weights(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const double *a, double c,
                             double *w)
{
    ttp_status st = TTP_OK;
    ttp_net *net = NULL;
    double *out = NULL, *w0d = NULL, *wd = NULL;
    const int64_t C = m->nout, D = m->ntrainable;
    TTP_CALL_GOTO(ctx, st, done, ttp_net_create(ctx, m, FAITH_CHUNK, &net));
    TTP_ALLOC(ctx, st, done, out, FAITH_CHUNK * C, "outputs");
    TTP_ALLOC(ctx, st, done, w0d, D, "trainable weights");
    TTP_ALLOC(ctx, st, done, wd, D, "trainable weights");
    memset(w, 0, sizeof(double) * (size_t)m->nparams);
    for (int64_t i0 = 0; i0 < d->n; i0 += FAITH_CHUNK) {
        int64_t nb = d->n - i0 < FAITH_CHUNK ? d->n - i0 : FAITH_CHUNK;
        TTP_CALL_GOTO(ctx, st, done, ttp_net_forward(ctx, net, m->w, d->x + i0 * d->dim, nb, out));
        TTP_CALL_GOTO(ctx, st, done, ttp_net_backward(ctx, net, m->w, a + i0 * C, w, NULL));
    }
    /* w now holds Jᵀ a on the trainable entries and 0 elsewhere */
    for (int64_t j = 0; j < m->nparams; j++) w[j] += m->w[j];
    if (c != 0) {
        ttp_model_get_trainable(m, m->w, w0d);
        ttp_model_get_trainable(m, w, wd);
        for (int64_t j = 0; j < D; j++) wd[j] += c * w0d[j];
        ttp_model_set_trainable(m, wd, w);
    }
done:
    ttp_net_destroy(&net);
    free(out), free(w0d), free(wd);
    return st;
}

static double norm2(const double *x, int64_t n)
{
    return cblas_dnrm2((int)n, x, 1);
}

/* ---- the measurement ------------------------------------------------------ */

/*
 * The band of the members' times covers batch noise only; the measured gap
 * between the network and its linearization is the model's own uncertainty.
 * Scaling the band ends by (1 ∓ u) with u the relative output gap needs no
 * tuned constant; docs/METHOD.md §6b gives its measured coverage.  An end
 * past T (or never reached) stays "not within the budget" (−1).
 */
void ttp_faith_widen_band(ttp_prediction *p, int64_t T, double gap)
{
    double u = isfinite(gap) ? fmin(fmax(gap, 0.0), 1.0) : 0.0;
    p->faith.band_widen = u;
    for (int i = 0; i < p->main.ntt; i++) {
        ttp_tt_result *r = &p->main.tt[i];
        r->noise_lo = r->lo, r->noise_hi = r->hi;
        int64_t lo = r->lo < 0 ? T + 1 : r->lo, hi = r->hi < 0 ? T + 1 : r->hi;
        lo = (int64_t)floor((double)lo * (1.0 - u));
        hi = (int64_t)ceil((double)hi * (1.0 + u));
        r->lo = lo > T ? -1 : lo;
        r->hi = hi > T ? -1 : hi;
    }
    double sps = p->sec_per_step;
    p->main.wall_lo = p->main.tt[0].lo >= 0 ? (double)p->main.tt[0].lo * sps : NAN;
    p->main.wall_hi = p->main.tt[0].hi >= 0 ? (double)p->main.tt[0].hi * sps : NAN;
}

/* Central-difference step for J Δw: the second-order term cancels, the
 * third is ~1e-6 of the first, and round-off stays ~1e-13 (ε = 10⁻³). */
#define FD_EPS 1e-3

int ttp_faith_points(int64_t T, int64_t *steps)
{
    int np = 0;
    const int64_t want[3] = {(T + 2) / 4, (T + 1) / 2, T};
    for (int i = 0; i < 3; i++)
        if (want[i] >= 1 && (np == 0 || want[i] > steps[np - 1])) steps[np++] = want[i];
    return np;
}

/* A trace of np points of NC outputs in one block (free() releases it). */
static ttp_status trace_alloc(ttp_ctx *ctx, int np, const int64_t *steps, int64_t nc, ttp_sim_trace **out)
{
    const size_t bytes = sizeof(ttp_sim_trace) + sizeof(double) * (size_t)np * (size_t)(2 * nc + 2);
    ttp_sim_trace *tr = calloc(1, bytes);
    *out = NULL;
    if (tr == NULL)
        return TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate %zu bytes for the faithfulness trace", bytes);
    tr->npts = np;
    if (steps) memcpy(tr->step, steps, sizeof(int64_t) * (size_t)np);
    tr->f_lin = (double *)(tr + 1);
    tr->a = tr->f_lin + (size_t)np * nc;
    tr->c = tr->a + (size_t)np * nc;
    tr->loss = tr->c + np;
    *out = tr;
    return TTP_OK;
}

ttp_status ttp_faith_trace_alloc(ttp_ctx *ctx, int64_t T, int64_t nc, ttp_sim_trace **out)
{
    int64_t steps[TTP_FAITH_MAX];
    const int np = ttp_faith_points(T, steps);
    return trace_alloc(ctx, np, steps, nc, out);
}

/* Outputs of the samples [lo, hi) of x (dim features each) at weights w
 * into f (row i at f + i·C; other rows untouched). */
static ttp_status forward_range(ttp_ctx *ctx, ttp_net *net, const double *x, int64_t dim, int64_t lo,
                                int64_t hi, const double *w, int64_t C, double *f)
{
    for (int64_t i0 = lo; i0 < hi; i0 += FAITH_CHUNK) {
        int64_t nb = hi - i0 < FAITH_CHUNK ? hi - i0 : FAITH_CHUNK;
        TTP_CALL(ctx, ttp_net_forward(ctx, net, w, x + i0 * dim, nb, f + i0 * C));
    }
    return TTP_OK;
}

/* The kernel gap's samples: every s-th, s = ⌈N / want⌉ (all of them on a
 * small set or want ≤ 0); the same on every rank. */
static int64_t kgap_stride(int64_t n, int64_t want)
{
    return want <= 0 || want >= n ? 1 : (n + want - 1) / want;
}

/*
 * W_j += Jᵀ a_j over samples [lo, hi) for the nv cotangents a_j (N × C
 * each): one forward at w₀ per block of samples serves every point's
 * backward (the activations do not depend on the cotangent), so nv points
 * cost one forward and nv backwards instead of nv of each.  The sums over a
 * block follow ttp_faith_weights' order, so one rank reproduces it bit for bit.
 */
static ttp_status backward_points(ttp_ctx *ctx, ttp_net *net, const ttp_model *m, const ttp_data *d,
                                  int64_t lo, int64_t hi, int nv, const double *const *a, double *W,
                                  double *out)
{
    const int64_t C = m->nout;
    for (int64_t i0 = lo; i0 < hi; i0 += FAITH_CHUNK) {
        int64_t nb = hi - i0 < FAITH_CHUNK ? hi - i0 : FAITH_CHUNK;
        TTP_CALL(ctx, ttp_net_forward(ctx, net, m->w, d->x + i0 * d->dim, nb, out));
        for (int j = 0; j < nv; j++)
            TTP_CALL(ctx, ttp_net_backward(ctx, net, m->w, a[j] + i0 * C, W + (size_t)j * (size_t)m->nparams,
                                           NULL));
    }
    return TTP_OK;
}

/* Sum n doubles over the ranks (nothing to do on one). */
static ttp_status sum_ranks(ttp_ctx *ctx, const ttp_comm *comm, double *buf, int64_t n)
{
    if (comm->size > 1) TTP_CALL(ctx, comm->allreduce_sum(comm, buf, n, ctx));
    return TTP_OK;
}

ttp_status ttp_predict_faith(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel *k,
                             const ttp_predict_opts *o, ttp_prediction *p)
{
    ttp_comm serial;
    ttp_comm_serial(&serial);
    return ttp_predict_faith_comm(ctx, &serial, m, d, k, o, p);
}

ttp_status ttp_predict_faith_comm(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                                  const ttp_kernel *k, const ttp_predict_opts *o, ttp_prediction *p)
{
    ttp_status st = TTP_OK;
    const int root = comm->rank == 0;
    ttp_faith *fa = root ? &p->faith : NULL;
    ttp_net *net = NULL;
    ttp_sim_trace *tr = NULL; /* the dynamics' trace, or one made here */
    double *W = NULL, *fr = NULL, *fp = NULL, *fm = NULL, *out = NULL;
    double *w0d = NULL, *wtd = NULL, *wpm = NULL, *xs = NULL;
    const double t0 = ttp_time();
    const int64_t C = m->nout, D = m->ntrainable, P = m->nparams;
    /* head: points (0: not measured), N·C of the kernel */
    int64_t head[2] = {0, 0};
    ttp_theta th;
    if (root) {
        memset(fa, 0, sizeof *fa);
        if (d->n != k->n) {
            snprintf(fa->note, sizeof fa->note,
                     "not measured: the data has %lld samples, the kernel %lld", (long long)d->n, (long long)k->n);
        } else if (m->nout != k->c) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "faithfulness: the model has %d outputs, the kernel %d",
                         (int)m->nout, k->c);
        } else if (!theta_of_kernel(k, &th)) {
            snprintf(fa->note, sizeof fa->note,
                     "not measured: the kernel holds neither Theta nor its eigenvectors");
        } else {
            /* The dynamics carried member 0's weights along (ttp_sim_run_traced);
             * only a prediction made without them pays a second simulation.
             * A prediction extrapolated from a subset is checked on the
             * subset's own training (same optimizer, batch and steps: the
             * weights move about as far), traced here. */
            if (p->n != k->n)
                snprintf(fa->note, sizeof fa->note,
                         "measured on the kernel's %lld samples trained alone (the prediction is for %lld)",
                         (long long)k->n, (long long)p->n);
            const int64_t NC = k->n * k->c;
            tr = p->faith_trace;
            p->faith_trace = NULL;
            int64_t want[TTP_FAITH_MAX];
            const int np = ttp_faith_points(o->opt.steps, want);
            if (tr && (p->n != k->n || tr->npts != np || memcmp(tr->step, want, sizeof(int64_t) * (size_t)np) != 0))
                free(tr), tr = NULL;
            if (tr == NULL) {
                st = ttp_faith_trace_alloc(ctx, o->opt.steps, NC, &tr);
                ttp_sim_problem prob = {&th, k->n, k->c, k->f0, k->u0, k->labels, k->targets};
                if (st == TTP_OK)
                    st = ttp_faith_trace(ctx, &prob, &o->opt, o->sim.seed ? o->sim.seed : o->opt.seed,
                                         tr->npts, tr->step, tr->f_lin, tr->a, tr->c, tr->loss);
            }
            if (st == TTP_OK) head[0] = tr->npts, head[1] = NC;
        }
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the faithfulness check"));
    TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, head, (int64_t)sizeof head, 0, ctx));
    const int np = (int)head[0];
    const int64_t NC = head[1];
    if (np == 0) goto done;
    if (!root) st = trace_alloc(ctx, np, NULL, NC, &tr);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the faithfulness check"));
    /* every rank needs the cotangents, the decay coefficients and which points are defined */
    TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, tr->a, (int64_t)sizeof(double) * np * NC, 0, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, tr->c, (int64_t)sizeof(double) * np, 0, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, tr->loss, (int64_t)sizeof(double) * np, 0, ctx));
    int vi[TTP_FAITH_MAX], nv = 0;
    const double *av[TTP_FAITH_MAX];
    for (int i = 0; i < np; i++)
        if (isfinite(tr->loss[i])) vi[nv] = i, av[nv++] = tr->a + (size_t)i * NC;
    int64_t lo, hi, slo, shi;
    ttp_shard(d->n, comm->rank, comm->size, &lo, &hi);
    /* J Δw (the kernel gap: it decides no verdict, only whether D′ is
     * raised, ttp_predict_dproj_raise) on a strided
     * subset: its two forwards per point cost 2·ns sample passes, not 2·N */
    const int64_t stride = kgap_stride(d->n, o->faith_kgap_samples), ns = (d->n + stride - 1) / stride, nsc = ns * C;
    ttp_shard(ns, comm->rank, comm->size, &slo, &shi);
    TTP_ALLOC(ctx, st, fail, W, (size_t)(nv > 0 ? nv : 1) * (size_t)P, "linearized weights");
    TTP_ALLOC(ctx, st, fail, wpm, P, "perturbed weights");
    TTP_ALLOC(ctx, st, fail, fr, NC + 2 * nsc, "real and perturbed outputs");
    TTP_ALLOC(ctx, st, fail, xs, (size_t)ns * (size_t)d->dim, "the kernel gap's samples");
    TTP_ALLOC(ctx, st, fail, out, FAITH_CHUNK * C, "outputs");
    TTP_ALLOC(ctx, st, fail, w0d, D, "trainable weights");
    TTP_ALLOC(ctx, st, fail, wtd, D, "trainable weights");
    fp = fr + NC, fm = fp + nsc;
    for (int64_t i = 0; i < ns; i++)
        memcpy(xs + (size_t)i * (size_t)d->dim, d->x + (size_t)(i * stride) * (size_t)d->dim,
               sizeof(double) * (size_t)d->dim);
    TTP_CALL_GOTO(ctx, st, fail, ttp_net_create(ctx, m, FAITH_CHUNK, &net));
    /* w_j = w₀ + Jᵀ a_j + c_j w₀ (as ttp_faith_weights), the data split over the ranks */
    TTP_CALL_GOTO(ctx, st, fail, backward_points(ctx, net, m, d, lo, hi, nv, av, W, out));
fail:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the faithfulness check"));
    TTP_CALL_GOTO(ctx, st, done, sum_ranks(ctx, comm, W, (int64_t)nv * P));
    ttp_model_get_trainable(m, m->w, w0d);
    const double w0n = norm2(w0d, D);
    double L0 = root ? ttp_loss_eval(o->opt.loss, k->f0, k->labels, k->targets, k->n, (int)C, NULL, NULL) : 0;
    for (int i = 0; i < np; i++) {
        if (root) {
            fa->step[i] = tr->step[i];
            fa->loss_lin[i] = tr->loss[i];
        }
        int j = 0;
        while (j < nv && vi[j] != i) j++;
        if (j == nv) { /* the guard has already said why */
            if (root)
                fa->out_gap[i] = fa->loss_gap[i] = fa->kernel_gap[i] = fa->dw_rel[i] = fa->loss_real[i] = NAN;
            continue;
        }
        double *w = W + (size_t)j * (size_t)P;
        for (int64_t q = 0; q < P; q++) w[q] += m->w[q];
        if (tr->c[i] != 0) {
            ttp_model_get_trainable(m, w, wtd);
            for (int64_t q = 0; q < D; q++) wtd[q] += tr->c[i] * w0d[q];
            ttp_model_set_trainable(m, wtd, w);
        }
        /* the real outputs at w_t, and J Δw by central differences along Δw */
        memset(fr, 0, sizeof(double) * (size_t)(NC + 2 * nsc));
        st = forward_range(ctx, net, d->x, d->dim, lo, hi, w, C, fr);
        for (int sgn = -1; sgn <= 1 && st == TTP_OK; sgn += 2) {
            for (int64_t q = 0; q < P; q++) wpm[q] = m->w[q] + sgn * FD_EPS * (w[q] - m->w[q]);
            st = forward_range(ctx, net, xs, d->dim, slo, shi, wpm, C, sgn < 0 ? fm : fp);
        }
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the faithfulness check"));
        TTP_CALL_GOTO(ctx, st, done, sum_ranks(ctx, comm, fr, NC + 2 * nsc)); /* disjoint rows: exact */
        if (!root) continue;
        const double *fl = tr->f_lin + (size_t)i * NC;
        fa->loss_real[i] = ttp_loss_eval(o->opt.loss, fr, k->labels, k->targets, k->n, (int)C, NULL, NULL);
        ttp_model_get_trainable(m, w, wtd);
        double dwn2 = 0;
        for (int64_t q = 0; q < D; q++) dwn2 += (wtd[q] - w0d[q]) * (wtd[q] - w0d[q]);
        fa->dw_rel[i] = w0n > 0 ? sqrt(dwn2) / w0n : NAN;
        double mv = 0, og = 0, kg = 0, mvs = 0;
        for (int64_t r = 0; r < NC; r++) {
            double lin = fl[r] - k->f0[r];
            mv += lin * lin;
            og += (fr[r] - fl[r]) * (fr[r] - fl[r]);
        }
        for (int64_t is = 0; is < ns; is++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t r = is * stride * C + c, rs = is * C + c;
                double jdw = (fp[rs] - fm[rs]) / (2 * FD_EPS), lin = fl[r] - k->f0[r];
                mvs += lin * lin;
                kg += (k->f0[r] + jdw - fl[r]) * (k->f0[r] + jdw - fl[r]);
            }
        mv = sqrt(mv), mvs = sqrt(mvs);
        fa->out_gap[i] = mv > 0 ? sqrt(og) / mv : 0;
        fa->kernel_gap[i] = mvs > 0 ? sqrt(kg) / mvs : 0;
        double drop = L0 - tr->loss[i];
        fa->loss_gap[i] = fabs(drop) > 1e-300 ? (tr->loss[i] - fa->loss_real[i]) / fabs(drop) : 0;
        if (fabs(fa->out_gap[i]) > fa->worst_out_gap) fa->worst_out_gap = fabs(fa->out_gap[i]);
        if (fabs(fa->loss_gap[i]) > fa->worst_loss_gap) fa->worst_loss_gap = fabs(fa->loss_gap[i]);
    }
    if (!root) goto done;
    const int64_t T = o->opt.steps;
    fa->npoints = np;
    fa->seconds = ttp_time() - t0;
    ttp_faith_widen_band(p, T, fa->worst_out_gap);
    fa->valid_before = p->valid;
    fa->warn_at = strlen(p->warning);
    if (fa->worst_loss_gap > TTP_FAITH_LOSS_GAP || fa->worst_out_gap > TTP_FAITH_OUT_GAP) {
        fa->invalidated = 1;
        int iw = 0;
        for (int i = 0; i < np; i++)
            if (fa->out_gap[i] >= fa->out_gap[iw]) iw = i;
        p->valid = 0;
        ttp_prediction_warn(
            p,
            "the linearization is not faithful here: at step %lld the real network at the linearized "
            "weights is off the linear model by %.0f%% of the outputs' movement (limit %.0f%%) and has loss "
            "%.4g where the linear model has %.4g (%+.0f%% of the predicted drop; limit %.0f%%); the "
            "weights move too far for a linear model, so the real training time can differ a lot; lower "
            "the learning rate%s to stay in the linear regime, or re-linearize (--relinearize auto, "
            "docs/METHOD.md 6e)",
            (long long)fa->step[iw], 100 * fa->out_gap[iw], 100 * TTP_FAITH_OUT_GAP, fa->loss_real[iw],
            fa->loss_lin[iw], 100 * fa->loss_gap[iw], 100 * TTP_FAITH_LOSS_GAP,
            o->opt.momentum > 0 ? " or the momentum" : "");
        /* The kernel gap is the projected kernel's share of that gap: no
         * re-linearization shrinks it (each segment's kernel is projected
         * alike), a larger D′ does (METHOD.md §6b). */
        if (p->dproj < p->d && fa->kernel_gap[iw] >= TTP_FAITH_KGAP_NAMED)
            ttp_prediction_warn(
                p,
                "%.0f%% of the outputs' movement is the projected kernel's own error (kernel gap "
                "at step %lld, D' = %lld of %lld weights), which re-linearizing cannot remove; "
                "a larger --dproj or --proj exact does",
                100 * fa->kernel_gap[iw], (long long)fa->step[iw], (long long)p->dproj, (long long)p->d);
    }
done:
    if (root && fa && fa->npoints == 0 && st == TTP_OK) fa->seconds = ttp_time() - t0;
    ttp_net_destroy(&net);
    free(tr), free(W), free(fr), free(out), free(w0d), free(wtd), free(wpm), free(xs);
    return st;
}

/* " 12, 30, -1": the times of one check, after its words */
static void print_times(FILE *f, const int64_t *tt, int n)
{
    for (int i = 0; i < n; i++) fprintf(f, "%s %lld", i ? "," : "", (long long)tt[i]);
}

void ttp_faith_print(FILE *f, const ttp_prediction *p)
{
    const ttp_faith *fa = &p->faith;
    if (p->batch_stab_max > 0)
        fprintf(f,
                "  batches     per-batch stability mean %.3g, max %.3g (limit 2; ttp_sim_stability_batch)\n",
                2 * p->batch_stab_mean, 2 * p->batch_stab_max);
    if (fa->npoints == 0) {
        if (fa->note[0]) fprintf(f, "  faithful    %s\n", fa->note);
        return;
    }
    fprintf(f,
            "  faithful    real net at the linearized weights (step: loss real/linear, loss gap, output gap, "
            "kernel gap, |dw|/|w0|):\n");
    for (int i = 0; i < fa->npoints; i++)
        fprintf(f, "              %5lld: %.4g/%.4g  %+.1f%%  %.1f%%  %.1f%%  %.3g\n", (long long)fa->step[i],
                fa->loss_real[i], fa->loss_lin[i], 100 * fa->loss_gap[i], 100 * fa->out_gap[i],
                100 * fa->kernel_gap[i], fa->dw_rel[i]);
    if (fa->note[0]) fprintf(f, "              %s\n", fa->note);
    if (fa->relin_kernel)
        fprintf(
            f,
            "  relinear.   in function space: %lld segments, kernels rebuilt at their midpoints (%.1f s); a "
            "kernel used half a segment late moves the time by %.1f%%, which widens the band (the figures "
            "above are those of the first linearization)\n",
            (long long)fa->segments, fa->relin_seconds, 100 * fa->relin_sens);
    else if (fa->relin_every > 0)
        fprintf(f,
                "  relinear.   every %lld steps (%lld kernels, %.1f s); worst output gap at a segment's end "
                "%.1f%% "
                "(the figures above are those of the first linearization)\n",
                (long long)fa->relin_every, (long long)fa->segments, fa->relin_seconds,
                100 * fa->seg_out_gap);
    else if (fa->relin_every == TTP_RELIN_AUTO) {
        const double sc = fa->relin_scale > 0 ? fa->relin_scale : 1.0;
        fprintf(
            f,
            "  relinear.   auto: %lld segments, %lld kernels rebuilt (%lld lengths tried, %.1f s; the first "
            "kernel took %.1f s); worst of a segment: output gap %.1f%% (target %.3g%%), loss gap %.1f%% "
            "(target %.3g%%), kernel drift %.1f%% (target %.3g%%)%s (the figures above are those of the "
            "first "
            "linearization)\n",
            (long long)fa->segments, (long long)fa->segments - 1, (long long)fa->relin_trials,
            fa->relin_seconds, p->sec_kernel, 100 * fa->seg_out_gap, 100 * sc * TTP_RELIN_AUTO_GAP,
            100 * fa->seg_loss_gap, 100 * sc * TTP_RELIN_AUTO_LOSS_GAP, 100 * fa->seg_drift,
            100 * sc * TTP_RELIN_AUTO_DRIFT, fa->relin_capped ? ", missed at the cap of linearizations" : "");
        if (fa->cap_late)
            fprintf(f,
                    "              the cap's last segment (steps %lld..%lld) is off its linear model by "
                    "%.0f%% of its "
                    "outputs' movement, but every time falls before it (docs/METHOD.md 6k)\n",
                    (long long)fa->cap_start, (long long)p->main.curves->steps, 100 * fa->cap_gap);
        if (fa->relin_halving) { /* 1: the other run is the halved targets'; 2: these doubled */
            const int kept = fa->relin_halving == 1;
            fprintf(f, "              halving check%s: %s (%lld segments) the times %s",
                    fa->halving_levels > 1 ? " (after a first refinement)" : "",
                    kept ? "with the targets halved" : "at twice these targets",
                    (long long)fa->halving_segments, kept ? "would be" : "were");
            print_times(f, fa->halving_tt, p->main.ntt);
            fprintf(f, ": %s %.0f%%%s (docs/METHOD.md 6g)\n", kept ? "within" : "more than",
                    100 * TTP_RELIN_HALVING_TOL,
                    kept ? (fa->halving_levels > 1 ? ", so these finer segments' prediction above stands"
                                                   : ", the prediction above stands")
                         : " apart, so the finer segments' prediction is the one above");
        }
    }
    if (fa->relin_crosscheck) {
        const int c = fa->relin_crosscheck;
        fprintf(f, "              momentum cross-check: the %s's times were",
                c == 2 ? "real-output restarts" : "function-space prediction");
        print_times(f, fa->crosscheck_tt, p->main.ntt);
        fprintf(f, "; %s (docs/METHOD.md 6h)\n",
                c == 1   ? "the restarts from the real network's outputs are valid and reported above"
                : c == 2 ? "the restarts are invalid but agree, so the function-space prediction stands"
                         : "the restarts are invalid and disagree: their prediction, invalid, is above");
    }
    if (fa->order_check) {
        fprintf(f, "              batch-order check: with member 1's batches (seed %llu) the times are",
                (unsigned long long)fa->order_seed);
        print_times(f, fa->order_tt, p->main.ntt);
        fprintf(f, "; %s (the band holds both; docs/METHOD.md 6j)\n",
                fa->order_check == 1 ? "within the tolerance, the prediction above stands"
                                     : "they disagree: the time is the batch order's");
    }
    if (fa->relin_figures)
        fprintf(f, "              (past the stability figures at w0, which bound the recurrence; the "
                   "function-space loss stays below its initial value, so it stands; docs/METHOD.md 6i)\n");
    if (fa->relin_fallback)
        fprintf(f,
                "              (auto: the function-space prediction was invalid — %s — so the segments "
                "restart from the real network's outputs; docs/METHOD.md 6e)\n",
                fa->relin_fallback_why);
    if (fa->spike_checked) {
        fprintf(f, "              without one-step loss spikes the times would be");
        print_times(f, fa->spike_tt, p->main.ntt);
        fprintf(f, " (%d of %d more than %.0f%% off: decided by a single batch or step; docs/METHOD.md 6f)\n",
                fa->spike, p->main.ntt, 100 * TTP_SPIKE_LIMIT);
    }
    fprintf(f,
            "              band: batch noise %lld .. %lld, widened by the %s (+-%.0f%%) to %lld .. %lld "
            "(-1: past T)\n",
            (long long)p->main.tt[0].noise_lo, (long long)p->main.tt[0].noise_hi,
            fa->relin_kernel ? "time's sensitivity" : "output gap", 100 * fa->band_widen,
            (long long)p->main.tt[0].lo, (long long)p->main.tt[0].hi);
}

/* key: [12, 30, -1], the times of one check */
static void json_times(struct ttp_json *j, const char *key, const int64_t *tt, int n)
{
    double v[TTP_MAX_TT];
    for (int i = 0; i < n; i++) v[i] = (double)tt[i];
    ttp_json_nums(j, key, v, n);
}

void ttp_faith_json(struct ttp_json *j, const ttp_prediction *p)
{
    const ttp_faith *fa = &p->faith;
    ttp_json_num(j, "batch_stability_mean", 2.0 * p->batch_stab_mean);
    ttp_json_num(j, "batch_stability_max", 2.0 * p->batch_stab_max);
    ttp_json_num(j, "loss_growth", p->growth);
    ttp_json_begin_object(j, "faithfulness");
    ttp_json_int(j, "points", fa->npoints);
    if (fa->note[0]) ttp_json_str(j, "note", fa->note);
    if (fa->npoints > 0) {
        double st[TTP_FAITH_MAX];
        for (int i = 0; i < fa->npoints; i++) st[i] = (double)fa->step[i];
        ttp_json_nums(j, "steps", st, fa->npoints);
        ttp_json_nums(j, "loss_linear", fa->loss_lin, fa->npoints);
        ttp_json_nums(j, "loss_real", fa->loss_real, fa->npoints);
        ttp_json_nums(j, "loss_gap", fa->loss_gap, fa->npoints);
        ttp_json_nums(j, "output_gap", fa->out_gap, fa->npoints);
        ttp_json_nums(j, "kernel_gap", fa->kernel_gap, fa->npoints);
        ttp_json_nums(j, "weight_change", fa->dw_rel, fa->npoints);
        ttp_json_num(j, "worst_loss_gap", fa->worst_loss_gap);
        ttp_json_num(j, "worst_output_gap", fa->worst_out_gap);
        ttp_json_num(j, "loss_gap_limit", TTP_FAITH_LOSS_GAP);
        ttp_json_num(j, "output_gap_limit", TTP_FAITH_OUT_GAP);
        ttp_json_num(j, "band_widening", fa->band_widen);
        ttp_json_int(j, "relinearize_every", fa->relin_every);
        ttp_json_int(j, "segments", fa->segments);
        ttp_json_int(j, "relinearize_trials", fa->relin_trials);
        ttp_json_num(j, "relinearize_seconds", fa->relin_seconds);
        ttp_json_num(j, "segment_output_gap", fa->seg_out_gap);
        ttp_json_num(j, "segment_loss_gap", fa->seg_loss_gap);
        ttp_json_num(j, "segment_kernel_drift", fa->seg_drift);
        ttp_json_bool(j, "relinearize_capped", fa->relin_capped);
        if (fa->relin_capped) {
            ttp_json_int(j, "relinearize_cap_start", fa->cap_start);
            ttp_json_bool(j, "relinearize_cap_late", fa->cap_late);
            ttp_json_num(j, "relinearize_cap_rise", fa->cap_rise);
        }
        ttp_json_str(j, "relinearize_mode",
                     fa->relin_every == 0 ? "off" : fa->relin_kernel ? "kernel" : "real");
        ttp_json_bool(j, "relinearize_fallback", fa->relin_fallback);
        ttp_json_str(j, "relinearize_halving", ttp_relin_halving_str(fa->relin_halving));
        if (fa->relin_halving) {
            json_times(j, "relinearize_halving_tt_steps", fa->halving_tt, p->main.ntt);
            ttp_json_int(j, "relinearize_halving_levels", fa->halving_levels);
            ttp_json_int(j, "relinearize_halving_segments", fa->halving_segments);
        }
        if (fa->relin_fallback) ttp_json_str(j, "relinearize_fallback_why", fa->relin_fallback_why);
        ttp_json_bool(j, "relinearize_past_figures", fa->relin_figures);
        ttp_json_str(j, "batch_order_check", ttp_relin_order_str(fa->order_check));
        if (fa->order_check) {
            json_times(j, "batch_order_tt_steps", fa->order_tt, p->main.ntt);
            ttp_json_int(j, "batch_order_seed", (int64_t)fa->order_seed);
        }
        ttp_json_str(j, "relinearize_crosscheck", ttp_relin_crosscheck_str(fa->relin_crosscheck));
        if (fa->relin_crosscheck) {
            json_times(j, "relinearize_crosscheck_tt_steps", fa->crosscheck_tt, p->main.ntt);
        }
        if (fa->spike_checked) {
            json_times(j, "tt_steps_despiked", fa->spike_tt, p->main.ntt);
            ttp_json_int(j, "spike_decided", fa->spike);
        }
        ttp_json_int(j, "tt_steps_noise_lo", p->main.tt[0].noise_lo);
        ttp_json_int(j, "tt_steps_noise_hi", p->main.tt[0].noise_hi);
        ttp_json_num(j, "seconds", fa->seconds);
    }
    ttp_json_end_object(j);
}
