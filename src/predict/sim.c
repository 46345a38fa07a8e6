/*
 * sim.c — linearized training dynamics in function space (exact GD/SGD with
 * momentum, Nesterov and weight decay, for MSE and cross-entropy), the GD
 * closed form, the eigenbasis SDE, training times with their band, and the
 * stability (validity) diagnostic.
 */
#include "ttp_sim.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Θ operator ---------------------------------------------------------- */

ttp_status ttp_theta_apply(ttp_ctx *ctx, const ttp_theta *th, const int64_t *samples, int64_t ns,
                           const double *v, double *out)
{
    const int64_t NC = th->n * th->c, C = th->c;
    if (th->dense) {
        /* Θ is symmetric: column j of Θ is row j, so Θ[:, S] v is a sum of
         * contiguous C-row blocks, one DGEMV (transposed) per sample. */
        if (samples == NULL) {
            cblas_dsymv(CblasRowMajor, CblasUpper, (int)NC, 1.0, th->dense, (int)NC, v, 1, 0.0, out, 1);
            return TTP_OK;
        }
        memset(out, 0, sizeof(double) * (size_t)NC);
        for (int64_t s = 0; s < ns; s++)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)C, (int)NC, 1.0, th->dense + samples[s] * C * NC,
                        (int)NC, v + s * C, 1, 1.0, out, 1);
        return TTP_OK;
    }
    if (th->vecs == NULL || th->vals == NULL || th->k <= 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "Theta operator has neither a dense matrix nor eigenpairs");
    double *z = calloc((size_t)th->k, sizeof *z);
    if (z == NULL)
        return TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate %lld eigen coefficients", (long long)th->k);
    if (samples == NULL) {
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)NC, (int)th->k, 1.0, th->vecs, (int)th->k, v, 1, 0.0, z,
                    1);
    } else {
        for (int64_t s = 0; s < ns; s++)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)C, (int)th->k, 1.0, th->vecs + samples[s] * C * th->k,
                        (int)th->k, v + s * C, 1, 1.0, z, 1);
    }
    for (int64_t j = 0; j < th->k; j++) z[j] *= th->vals[j];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)NC, (int)th->k, 1.0, th->vecs, (int)th->k, z, 1, 0.0, out,
                1);
    free(z);
    return TTP_OK;
}

/*
 * The eigen form for M trajectories at once: column m of OUT (NC × M,
 * row-major) = V Λ V_{S_m}ᵀ v_m.  One DGEMM over V for all members instead
 * of M matrix-vector passes: V is read once per step, which is what bounds
 * the ensemble's speed.
 */
static void theta_apply_members(const ttp_theta *th, int M, int64_t *const *samples, const int64_t *ns,
                                double *const *v, double *Z, double *out)
{
    const int64_t NC = th->n * th->c, C = th->c, K = th->k;
    memset(Z, 0, sizeof(double) * (size_t)(K * M));
    for (int m = 0; m < M; m++) {
        /* z_m = V_Sᵀ v_m into column m of Z (K × M, row-major): stride M */
        for (int64_t s = 0; s < ns[m]; s++)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)C, (int)K, 1.0, th->vecs + samples[m][s] * C * K,
                        (int)K, v[m] + s * C, 1, 1.0, Z + m, M);
    }
    for (int64_t j = 0; j < K; j++)
        for (int m = 0; m < M; m++) Z[j * M + m] *= th->vals[j];
    if (M == 1) /* OpenBLAS's DGEMM packs its operands even for one column */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)NC, (int)K, 1.0, th->vecs, (int)K, Z, 1, 0.0, out, 1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)NC, M, (int)K, 1.0, th->vecs, (int)K, Z,
                    M, 0.0, out, M);
}

/* ---- curves -------------------------------------------------------------- */

ttp_status ttp_curves_create(ttp_ctx *ctx, int64_t steps, int members, ttp_curves **out)
{
    ttp_status st = TTP_OK;
    ttp_curves *c = NULL;
    size_t T1 = (size_t)steps + 1;
    TTP_ALLOC(ctx, st, fail, c, 1, "curves");
    c->steps = steps;
    c->members = members;
    TTP_ALLOC(ctx, st, fail, c->loss, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->loss_lo, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->loss_hi, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->acc, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->acc_lo, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->acc_hi, T1, "curves");
    TTP_ALLOC(ctx, st, fail, c->member_loss, T1 * (size_t)members, "member curves");
    TTP_ALLOC(ctx, st, fail, c->member_acc, T1 * (size_t)members, "member curves");
    *out = c;
    return TTP_OK;
fail:
    ttp_curves_destroy(&c);
    return st;
}

void ttp_curves_destroy(ttp_curves **pc)
{
    ttp_curves *c = pc ? *pc : NULL;
    if (c == NULL) return;
    free(c->loss), free(c->loss_lo), free(c->loss_hi);
    free(c->acc), free(c->acc_lo), free(c->acc_hi);
    free(c->member_loss), free(c->member_acc);
    free(c);
    *pc = NULL;
}

void ttp_curves_summarize(ttp_curves *c, double band_lo, double band_hi)
{
    int M = c->members;
    int64_t T1 = c->steps + 1;
    double *tmp = malloc(sizeof *tmp * (size_t)M);
    for (int64_t t = 0; t < T1; t++) {
        for (int q = 0; q < 2; q++) {
            const double *mem = q == 0 ? c->member_loss : c->member_acc;
            double *mean = q == 0 ? c->loss : c->acc, *lo = q == 0 ? c->loss_lo : c->acc_lo,
                   *hi = q == 0 ? c->loss_hi : c->acc_hi;
            double s = 0;
            for (int m = 0; m < M; m++) s += mem[(size_t)m * T1 + t];
            mean[t] = s / M;
            if (tmp == NULL || M == 1) {
                lo[t] = hi[t] = mean[t];
                continue;
            }
            for (int m = 0; m < M; m++) tmp[m] = mem[(size_t)m * T1 + t];
            ttp_sort_doubles(tmp, M);
            lo[t] = ttp_quantile(tmp, M, band_lo, TTP_QUANTILE_LINEAR);
            hi[t] = ttp_quantile(tmp, M, band_hi, TTP_QUANTILE_LINEAR);
        }
    }
    free(tmp);
}

/* ---- cross-entropy on a spectrum: curvature and re-timing --------------- */

double ttp_sim_ce_curvature(const double *f, const int *labels, int64_t n, int c)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double *fi = f + (size_t)i * c;
        double mx = fi[0], z = 0.0, pg = 0.0, pg2 = 0.0;
        for (int j = 1; j < c; j++) mx = fi[j] > mx ? fi[j] : mx;
        for (int j = 0; j < c; j++) z += exp(fi[j] - mx);
        for (int j = 0; j < c; j++) {
            const double p = exp(fi[j] - mx) / z, g = p - (j == labels[i] ? 1.0 : 0.0);
            pg += p * g;      /* pᵀg     */
            pg2 += p * g * g; /* Σ p g²  */
            den += g * g;
        }
        num += pg2 - pg * pg; /* gᵀ(diag p − p pᵀ)g */
    }
    return den > 0 ? num / den : 0.0;
}

/* a at fractional step τ (linear between neighbours; ±inf stays). */
static double at_tau(const double *a, int64_t T0, double tau)
{
    int64_t i = (int64_t)floor(tau);
    if (i >= T0) return a[T0];
    const double f = tau - (double)i;
    if (f == 0.0 || !isfinite(a[i]) || !isfinite(a[i + 1])) return f < 0.5 ? a[i] : a[i + 1];
    return a[i] + f * (a[i + 1] - a[i]);
}

ttp_status ttp_curves_warp(ttp_ctx *ctx, const ttp_curves *src, const double *s0, const double *s1,
                           int64_t steps, ttp_curves **out, int64_t *clamped)
{
    ttp_status st = TTP_OK;
    const int64_t T0 = src->steps, M = src->members;
    double *m0 = NULL, *tau = NULL;
    ttp_curves *cv = NULL;
    int64_t nclamp = 0;
    *out = NULL;
    if (steps < 0 || !(s0[0] > 0) || !(s1[0] > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "re-timing curves: %lld steps, progress starting at %g and %g "
                       "(expected steps >= 0 and positive starting values)",
                       (long long)steps, s0[0], s1[0]);
    TTP_ALLOC(ctx, st, done, m0, (size_t)T0 + 1, "progress envelope");
    TTP_ALLOC(ctx, st, done, tau, (size_t)steps + 1, "re-timed steps");
    /* running minima: progress that only moves forward */
    m0[0] = s0[0];
    for (int64_t u = 1; u <= T0; u++) m0[u] = isfinite(s0[u]) && s0[u] < m0[u - 1] ? s0[u] : m0[u - 1];
    double v1 = s1[0];
    int64_t u = 0;
    for (int64_t t = 0; t <= steps; t++) {
        v1 = isfinite(s1[t]) && s1[t] < v1 ? s1[t] : v1;
        const double target = v1 / s1[0] * s0[0];
        while (u < T0 && m0[u] > target) u++;
        if (m0[u] > target) { /* never reached within src's horizon */
            tau[t] = (double)T0;
            nclamp++;
        } else if (u == 0) {
            tau[t] = 0.0;
        } else { /* u is the first crossing (targets never increase): m0[u-1] > target >= m0[u] */
            tau[t] = (double)(u - 1) + (m0[u - 1] - target) / (m0[u - 1] - m0[u]);
        }
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_curves_create(ctx, steps, (int)M, &cv));
    cv->diverged = src->diverged;
    for (int64_t t = 0; t <= steps; t++) {
        cv->loss[t] = at_tau(src->loss, T0, tau[t]);
        cv->loss_lo[t] = at_tau(src->loss_lo, T0, tau[t]);
        cv->loss_hi[t] = at_tau(src->loss_hi, T0, tau[t]);
        cv->acc[t] = at_tau(src->acc, T0, tau[t]);
        cv->acc_lo[t] = at_tau(src->acc_lo, T0, tau[t]);
        cv->acc_hi[t] = at_tau(src->acc_hi, T0, tau[t]);
        for (int64_t m = 0; m < M; m++) {
            cv->member_loss[(size_t)m * (steps + 1) + t] =
                at_tau(src->member_loss + (size_t)m * (T0 + 1), T0, tau[t]);
            cv->member_acc[(size_t)m * (steps + 1) + t] =
                at_tau(src->member_acc + (size_t)m * (T0 + 1), T0, tau[t]);
        }
    }
    *out = cv;
    cv = NULL;
    if (clamped) *clamped = nclamp;
done:
    ttp_curves_destroy(&cv);
    free(m0);
    free(tau);
    return st;
}

/* ---- exact simulation ---------------------------------------------------- */

ttp_status ttp_sim_run(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *opt, const ttp_sim_opts *so,
                       ttp_curves **out)
{
    return ttp_sim_run_traced(ctx, p, opt, so, NULL, out);
}

/*
 * Member 0's preimage recurrence (docs/METHOD.md §6b), the same arithmetic
 * as ttp_faith_trace: b is the step's output cotangent, w_t − w₀ = Jᵀ a + c w₀,
 * v = Jᵀ α + γ w₀.  O(NC) a step.
 */
static void trace_step(const ttp_opt *opt, int64_t NC, const double *b, double *a, double *al, double *c,
                       double *gam)
{
    const double lr = opt->lr, mom = opt->momentum, wd = opt->wd;
    for (int64_t r = 0; r < NC; r++) {
        double br = b[r] + wd * a[r];
        al[r] = mom * al[r] + br;
        a[r] -= lr * (opt->nesterov ? br + mom * al[r] : al[r]);
    }
    double bc = wd * (1.0 + *c);
    *gam = mom * *gam + bc;
    *c -= lr * (opt->nesterov ? bc + mom * *gam : *gam);
}

/* Record member 0 at step t into the trace's points that fall there; a
 * non-finite loss leaves the later points undefined (NaN), as in
 * ttp_faith_trace.  Returns the next point to fill. */
static int trace_record(ttp_sim_trace *tr, int ip, int64_t t, int64_t NC, const double *F, const double *a,
                        double c, double L)
{
    while (ip < tr->npts && tr->step[ip] == t) {
        memcpy(tr->f_lin + (size_t)ip * NC, F, sizeof(double) * (size_t)NC);
        memcpy(tr->a + (size_t)ip * NC, a, sizeof(double) * (size_t)NC);
        tr->c[ip] = c;
        tr->loss[ip] = L;
        ip++;
    }
    if (!isfinite(L))
        for (; ip < tr->npts; ip++) {
            for (int64_t r = 0; r < NC; r++)
                tr->f_lin[(size_t)ip * NC + r] = tr->a[(size_t)ip * NC + r] = NAN;
            tr->c[ip] = tr->loss[ip] = NAN;
        }
    return ip;
}

ttp_status ttp_sim_run_traced(ttp_ctx *ctx, const ttp_sim_problem *p, const ttp_opt *opt,
                              const ttp_sim_opts *so, ttp_sim_trace *tr, ttp_curves **out)
{
    ttp_status st = TTP_OK;
    const int64_t N = p->n, C = p->c, NC = N * C, T = opt->steps;
    const int64_t B = ttp_opt_batch(opt, N);
    const int full = B >= N;
    const int M = full ? 1 : (so->ensemble > 0 ? so->ensemble : 1);
    /* SGD on the eigen form runs the members in lockstep (one DGEMM a step). */
    const int lock = !full && p->theta->dense == NULL;
    double *F = NULL, *V = NULL, *A = NULL, *g = NULL, *gb = NULL, *Z = NULL;
    int64_t *perm = NULL, *idx = NULL, *epoch = NULL, *nbs = NULL;
    int64_t **idxp = NULL;
    double **gbp = NULL;
    int *dead = NULL;
    ttp_curves *cv = NULL;
    double *ta = NULL, *tal = NULL, *tb = NULL, tc = 0.0, tgam = 0.0;
    int tip = 0;
    if (tr && (tr->npts < 0 || tr->npts > TTP_SIM_TRACE_MAX))
        return TTP_ERR(ctx, TTP_ERR_ARG, "simulation trace: %d points, expected 0..%d", tr->npts,
                       TTP_SIM_TRACE_MAX);
    for (int i = 0; tr && i < tr->npts; i++)
        if (tr->step[i] < 0 || tr->step[i] > T || (i > 0 && tr->step[i] <= tr->step[i - 1]))
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "simulation trace: point %d at step %lld, expected ascending in 0..%lld", i,
                           (long long)tr->step[i], (long long)T);
    if (opt->wd > 0 && p->u0 == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "weight decay needs u0 = J w0, which this kernel does not carry");
    if (opt->loss == TTP_LOSS_CE && p->labels == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "cross-entropy needs integer labels");
    TTP_CALL_GOTO(ctx, st, done, ttp_curves_create(ctx, T, M, &cv));
    TTP_ALLOC(ctx, st, done, F, (size_t)NC * M, "simulated outputs");
    TTP_ALLOC(ctx, st, done, V, (size_t)NC * M, "simulated momentum");
    TTP_ALLOC(ctx, st, done, A, (size_t)NC * (lock ? M : 1), "simulated step");
    TTP_ALLOC(ctx, st, done, g, (size_t)NC * M, "loss gradients");
    TTP_ALLOC(ctx, st, done, gb, (size_t)(B * C) * M, "batch gradients");
    TTP_ALLOC(ctx, st, done, perm, (size_t)N * M, "batch permutations");
    TTP_ALLOC(ctx, st, done, idx, (size_t)B * M, "batch indices");
    TTP_ALLOC(ctx, st, done, nbs, M, "batch sizes");
    TTP_ALLOC(ctx, st, done, idxp, M, "batch index pointers");
    TTP_ALLOC(ctx, st, done, gbp, M, "batch gradient pointers");
    TTP_ALLOC(ctx, st, done, epoch, M, "epoch cache");
    TTP_ALLOC(ctx, st, done, dead, M, "divergence flags");
    if (lock) TTP_ALLOC(ctx, st, done, Z, (size_t)p->theta->k * M, "eigen coefficients");
    if (tr && tr->npts > 0) {
        TTP_ALLOC(ctx, st, done, ta, (size_t)NC, "accumulated cotangent a_t");
        TTP_ALLOC(ctx, st, done, tal, (size_t)NC, "accumulated momentum cotangent");
        TTP_ALLOC(ctx, st, done, tb, (size_t)NC, "cotangent of the step");
    }
    for (int m = 0; m < M; m++) {
        memcpy(F + (size_t)m * NC, p->f0, sizeof(double) * (size_t)NC);
        epoch[m] = -1;
        idxp[m] = idx + (size_t)m * B;
        gbp[m] = gb + (size_t)m * B * C;
    }
    const uint64_t base = so->seed ? so->seed : opt->seed;
    double t0 = ttp_time();
    for (int64_t t = 0; t <= T; t++) {
        /* 1. loss and accuracy of every member at step t; its batch */
        for (int m = 0; m < M; m++) {
            double *Fm = F + (size_t)m * NC, *gm = g + (size_t)m * NC;
            size_t at = (size_t)m * (T + 1) + (size_t)t;
            nbs[m] = 0;
            if (dead[m]) {
                cv->member_loss[at] = INFINITY;
                cv->member_acc[at] = NAN;
                continue;
            }
            int64_t correct = 0;
            double L = ttp_loss_eval(opt->loss, Fm, p->labels, p->targets, N, (int)C, gm, &correct);
            cv->member_loss[at] = L;
            cv->member_acc[at] = p->labels ? (double)correct / (double)N : NAN;
            if (m == 0 && ta && tip < tr->npts) tip = trace_record(tr, tip, t, NC, Fm, ta, tc, L);
            if (!isfinite(L)) {
                dead[m] = 1;
                cv->diverged++;
                cv->member_loss[at] = INFINITY;
                continue;
            }
            if (t == T || full) continue;
            nbs[m] = ttp_batch_indices(base + (uint64_t)m, N, B, t, perm + (size_t)m * N, &epoch[m], idxp[m]);
            for (int64_t s = 0; s < nbs[m]; s++)
                memcpy(gbp[m] + s * C, gm + idxp[m][s] * C, sizeof(double) * (size_t)C);
        }
        if (t == T) break;
        /* 2. the function-space image of each member's gradient */
        if (lock) theta_apply_members(p->theta, M, idxp, nbs, gbp, Z, A);
        for (int m = 0; m < M; m++) {
            if (dead[m]) continue;
            double *Fm = F + (size_t)m * NC, *Vm = V + (size_t)m * NC;
            const double *Am = A;
            int64_t stride = 1;
            double scale;
            if (full) {
                TTP_CALL_GOTO(ctx, st, done, ttp_theta_apply(ctx, p->theta, NULL, N, g, A));
                scale = 1.0 / (double)N;
            } else if (lock) {
                Am = A + m;
                stride = M;
                scale = 1.0 / (double)nbs[m];
            } else {
                TTP_CALL_GOTO(ctx, st, done, ttp_theta_apply(ctx, p->theta, idxp[m], nbs[m], gbp[m], A));
                scale = 1.0 / (double)nbs[m];
            }
            if (m == 0 && ta && tip < tr->npts) { /* member 0's preimage, for the faithfulness check */
                const double *gm = g + (size_t)m * NC;
                if (full) {
                    for (int64_t r = 0; r < NC; r++) tb[r] = scale * gm[r];
                } else {
                    memset(tb, 0, sizeof(double) * (size_t)NC);
                    for (int64_t s = 0; s < nbs[m]; s++)
                        for (int64_t q = 0; q < C; q++)
                            tb[idxp[m][s] * C + q] = scale * gm[idxp[m][s] * C + q];
                }
                trace_step(opt, NC, tb, ta, tal, &tc, &tgam);
            }
            /* 3. A = Θ-term/|B| + λ (F − F₀ + u₀);  V ← m V + A;
             *    F ← F − η V  (Nesterov: F ← F − η (A + m V)) */
            for (int64_t r = 0; r < NC; r++) {
                double a = scale * Am[r * stride];
                if (opt->wd > 0) a += opt->wd * (Fm[r] - p->f0[r] + p->u0[r]);
                Vm[r] = opt->momentum * Vm[r] + a;
                Fm[r] -= opt->lr * (opt->nesterov ? a + opt->momentum * Vm[r] : Vm[r]);
            }
        }
        if (t > 0) ttp_progress(ctx, "dynamics", (double)t / T, t0);
    }
    ttp_progress(ctx, "dynamics", 1.0, t0);
    ttp_curves_summarize(cv, so->band_lo, so->band_hi);
    *out = cv;
    cv = NULL;
done:
    ttp_curves_destroy(&cv);
    free(F), free(V), free(A), free(g), free(gb), free(Z), free(perm), free(idx), free(nbs), free(idxp),
        free(gbp);
    free(epoch), free(dead), free(ta), free(tal), free(tb);
    return st;
}

/* ---- many settings at once ----------------------------------------------- */

static int same_group(const ttp_opt *a, const ttp_opt *b, int64_t n)
{
    return a->loss == b->loss && ttp_opt_batch(a, n) == ttp_opt_batch(b, n) && a->steps == b->steps &&
           a->seed == b->seed;
}

ttp_status ttp_sim_run_many(ttp_ctx *ctx, const ttp_sim_problem *p, int S, const ttp_opt *opts,
                            const ttp_sim_opts *so, ttp_sim_trace *const *tr, ttp_curves **out)
{
    ttp_status st = TTP_OK;
    const ttp_theta *th = p->theta;
    const int64_t N = p->n, C = p->c, NC = N * C, K = th->k;
    double *F = NULL, *V = NULL, *G = NULL, *Z = NULL, *A = NULL, *GB = NULL, *ZB = NULL;
    double *ta = NULL, *tal = NULL, *tb = NULL, *tc = NULL, *tgam = NULL;
    int64_t *perm = NULL, *idx = NULL, *epoch = NULL, *nbs = NULL;
    int *dead = NULL, *tip = NULL;
    if (S < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "simulation of many settings: %d settings, expected >= 1", S);
    for (int s = 0; s < S; s++) out[s] = NULL;
    for (int s = 1; s < S; s++)
        if (!same_group(&opts[0], &opts[s], N))
            return TTP_ERR(
                ctx, TTP_ERR_ARG,
                "simulation of many settings: setting %d differs from the first in its loss, batch "
                "size, steps or seed",
                s);
    /* The dense form has no shared product to gain: each setting on its own. */
    if (th->dense != NULL || S == 1) {
        for (int s = 0; s < S; s++) {
            st = ttp_sim_run_traced(ctx, p, &opts[s], so, tr ? tr[s] : NULL, &out[s]);
            if (st != TTP_OK) goto fail;
        }
        return TTP_OK;
    }
    if (th->vecs == NULL || th->vals == NULL || K <= 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "Theta operator has neither a dense matrix nor eigenpairs");
    const ttp_opt *o0 = &opts[0];
    const int64_t T = o0->steps, B = ttp_opt_batch(o0, N);
    const int full = B >= N;
    const int M = full ? 1 : (so->ensemble > 0 ? so->ensemble : 1);
    const int64_t Q = (int64_t)S * M; /* column q = s·M + m */
    for (int s = 0; s < S; s++) {
        if (opts[s].wd > 0 && p->u0 == NULL)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "weight decay needs u0 = J w0, which this kernel does not carry");
        for (int i = 0; tr && tr[s] && i < tr[s]->npts; i++)
            if (tr[s]->step[i] < 0 || tr[s]->step[i] > T || (i > 0 && tr[s]->step[i] <= tr[s]->step[i - 1]))
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "simulation trace: point %d at step %lld, expected ascending in 0..%lld", i,
                               (long long)tr[s]->step[i], (long long)T);
    }
    if (o0->loss == TTP_LOSS_CE && p->labels == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "cross-entropy needs integer labels");
    TTP_ALLOC(ctx, st, fail, F, (size_t)(Q * NC), "simulated outputs");
    TTP_ALLOC(ctx, st, fail, V, (size_t)(Q * NC), "simulated momentum");
    TTP_ALLOC(ctx, st, fail, G, (size_t)(Q * NC), "loss gradients");
    TTP_ALLOC(ctx, st, fail, Z, (size_t)(K * Q), "eigen coefficients");
    TTP_ALLOC(ctx, st, fail, A, (size_t)(NC * Q), "simulated steps");
    TTP_ALLOC(ctx, st, fail, dead, (size_t)Q, "divergence flags");
    TTP_ALLOC(ctx, st, fail, tip, S, "trace positions");
    TTP_ALLOC(ctx, st, fail, ta, (size_t)(S * NC), "accumulated cotangents a_t");
    TTP_ALLOC(ctx, st, fail, tal, (size_t)(S * NC), "accumulated momentum cotangents");
    TTP_ALLOC(ctx, st, fail, tb, (size_t)NC, "cotangent of the step");
    TTP_ALLOC(ctx, st, fail, tc, S, "decay coefficients");
    TTP_ALLOC(ctx, st, fail, tgam, S, "decay momenta");
    if (!full) {
        TTP_ALLOC(ctx, st, fail, GB, (size_t)(B * C * S), "batch gradients");
        TTP_ALLOC(ctx, st, fail, ZB, (size_t)(K * S), "batch eigen coefficients");
        TTP_ALLOC(ctx, st, fail, perm, (size_t)(N * M), "batch permutations");
        TTP_ALLOC(ctx, st, fail, idx, (size_t)(B * M), "batch indices");
        TTP_ALLOC(ctx, st, fail, epoch, M, "epoch cache");
        TTP_ALLOC(ctx, st, fail, nbs, M, "batch sizes");
    }
    for (int s = 0; s < S; s++) {
        TTP_CALL_GOTO(ctx, st, fail, ttp_curves_create(ctx, T, M, &out[s]));
    }
    for (int64_t q = 0; q < Q; q++) memcpy(F + q * NC, p->f0, sizeof(double) * (size_t)NC);
    for (int m = 0; !full && m < M; m++) epoch[m] = -1;
    const uint64_t base = so->seed ? so->seed : o0->seed;
    for (int64_t t = 0; t <= T; t++) {
        /* 1. every column's loss and accuracy at step t (as ttp_sim_run) */
        for (int64_t q = 0; q < Q; q++) {
            const int s = (int)(q / M), m = (int)(q % M);
            ttp_curves *cv = out[s];
            double *Fq = F + q * NC, *gq = G + q * NC;
            size_t at = (size_t)m * (size_t)(T + 1) + (size_t)t;
            if (dead[q]) {
                cv->member_loss[at] = INFINITY;
                cv->member_acc[at] = NAN;
                continue;
            }
            int64_t correct = 0;
            double L = ttp_loss_eval(o0->loss, Fq, p->labels, p->targets, N, (int)C, gq, &correct);
            cv->member_loss[at] = L;
            cv->member_acc[at] = p->labels ? (double)correct / (double)N : NAN;
            if (m == 0 && tr && tr[s] && tip[s] < tr[s]->npts)
                tip[s] = trace_record(tr[s], tip[s], t, NC, Fq, ta + (size_t)s * NC, tc[s], L);
            if (!isfinite(L)) {
                dead[q] = 1;
                cv->diverged++;
                cv->member_loss[at] = INFINITY;
            }
        }
        if (t == T) break;
        /* 2. Z = Λ V_Bᵀ g_B for every column: the rows of V a batch needs are
         * read once for all settings, and V itself once for all columns */
        if (full) {
            for (int64_t q = 0; q < Q; q++)
                if (dead[q]) memset(G + q * NC, 0, sizeof(double) * (size_t)NC);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)K, (int)Q, (int)NC, 1.0, th->vecs, (int)K,
                        G, (int)NC, 0.0, Z, (int)Q);
        } else {
            for (int m = 0; m < M; m++) {
                int64_t *im = idx + (size_t)m * B;
                nbs[m] = ttp_batch_indices(base + (uint64_t)m, N, B, t, perm + (size_t)m * N, &epoch[m], im);
                /* GB (nb·C × S): the batch's gradients of each setting's member m */
                for (int64_t j = 0; j < nbs[m]; j++)
                    for (int64_t c = 0; c < C; c++)
                        for (int s = 0; s < S; s++) {
                            const int64_t q = (int64_t)s * M + m;
                            GB[(j * C + c) * S + s] = dead[q] ? 0.0 : G[q * NC + im[j] * C + c];
                        }
                memset(ZB, 0, sizeof(double) * (size_t)(K * S));
                for (int64_t j = 0; j < nbs[m]; j++)
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, S, (int)C, 1.0,
                                th->vecs + im[j] * C * K, (int)K, GB + j * C * S, S, 1.0, ZB, S);
                for (int64_t k = 0; k < K; k++)
                    for (int s = 0; s < S; s++) Z[k * Q + (int64_t)s * M + m] = ZB[k * S + s];
            }
        }
        for (int64_t k = 0; k < K; k++)
            for (int64_t q = 0; q < Q; q++) Z[k * Q + q] *= th->vals[k];
        /* A (Q × NC) = (V Z)ᵀ: each column's step contiguous for the update below */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)Q, (int)NC, (int)K, 1.0, Z, (int)Q, th->vecs,
                    (int)K, 0.0, A, (int)NC);
        /* 3. each column's optimizer step in function space (as ttp_sim_run) */
        for (int64_t q = 0; q < Q; q++) {
            if (dead[q]) continue;
            const int s = (int)(q / M), m = (int)(q % M);
            const ttp_opt *o = &opts[s];
            double *Fq = F + q * NC, *Vq = V + q * NC;
            const double scale = 1.0 / (double)(full ? N : nbs[m]);
            if (m == 0 && tr && tr[s] && tip[s] < tr[s]->npts) {
                const double *gq = G + q * NC;
                if (full) {
                    for (int64_t r = 0; r < NC; r++) tb[r] = scale * gq[r];
                } else {
                    const int64_t *im = idx;
                    memset(tb, 0, sizeof(double) * (size_t)NC);
                    for (int64_t j = 0; j < nbs[0]; j++)
                        for (int64_t c = 0; c < C; c++) tb[im[j] * C + c] = scale * gq[im[j] * C + c];
                }
                trace_step(o, NC, tb, ta + (size_t)s * NC, tal + (size_t)s * NC, &tc[s], &tgam[s]);
            }
            for (int64_t r = 0; r < NC; r++) {
                double a = scale * A[q * NC + r];
                if (o->wd > 0) a += o->wd * (Fq[r] - p->f0[r] + p->u0[r]);
                Vq[r] = o->momentum * Vq[r] + a;
                Fq[r] -= o->lr * (o->nesterov ? a + o->momentum * Vq[r] : Vq[r]);
            }
        }
    }
    for (int s = 0; s < S; s++) ttp_curves_summarize(out[s], so->band_lo, so->band_hi);
    goto done;
fail:
    for (int s = 0; s < S; s++) ttp_curves_destroy(&out[s]);
done:
    free(F), free(V), free(G), free(Z), free(A), free(GB), free(ZB);
    free(ta), free(tal), free(tb), free(tc), free(tgam);
    free(perm), free(idx), free(epoch), free(nbs), free(dead), free(tip);
    return st;
}

ttp_status ttp_sim_gd_mse_closed(ttp_ctx *ctx, const double *mu, const double *p, int64_t k, int64_t n,
                                 double lr, int64_t steps, double rest, double *loss)
{
    if (n <= 0 || k < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "closed form: n = %lld, k = %lld", (long long)n, (long long)k);
    for (int64_t t = 0; t <= steps; t++) {
        double s = 0;
        for (int64_t j = 0; j < k; j++) {
            double q = 1.0 - lr * mu[j];
            s += pow(q * q, (double)t) * p[j] * p[j];
        }
        loss[t] = s / (2.0 * (double)n) + rest;
    }
    return TTP_OK;
}

/* ---- eigenbasis SDE ------------------------------------------------------ */

ttp_status ttp_sim_sde(ttp_ctx *ctx, const double *mu, const double *p, int64_t k, int64_t n, int c,
                       const ttp_opt *opt, const ttp_sim_opts *so, double rest, double noise_scale,
                       ttp_curves **out)
{
    ttp_status st = TTP_OK;
    if (opt->loss != TTP_LOSS_MSE)
        return TTP_ERR(
            ctx, TTP_ERR_UNSUPPORTED,
            "the spectrum-only (extrapolated) dynamics model MSE; cross-entropy needs the per-sample "
            "kernel: compute the kernel at the target size, or set option loss to mse");
    if (opt->wd > 0)
        return TTP_ERR(
            ctx, TTP_ERR_UNSUPPORTED,
            "the spectrum-only (extrapolated) dynamics do not model weight decay (it needs J w0 per sample)");
    const int64_t B = ttp_opt_batch(opt, n), T = opt->steps;
    const int full = B >= n;
    const int M = full ? 1 : (so->ensemble > 0 ? so->ensemble : 1);
    const double C = c > 0 ? (double)c : 1.0;
    /* Sampling B of N without replacement: the batch mean's variance is
     * (N − B)/(B (N − 1)) times the per-sample variance. */
    const double f = full ? 0.0 : (double)(n - B) / ((double)B * (double)(n - 1));
    double *z = NULL, *u = NULL;
    ttp_curves *cv = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_curves_create(ctx, T, M, &cv));
    TTP_ALLOC(ctx, st, done, z, k, "SDE modes");
    TTP_ALLOC(ctx, st, done, u, k, "SDE velocities");
    const uint64_t base = so->seed ? so->seed : opt->seed;
    for (int m = 0; m < M; m++) {
        uint64_t key = ttp_rng_key(base + (uint64_t)m, 0x5de);
        memcpy(z, p, sizeof(double) * (size_t)k);
        memset(u, 0, sizeof(double) * (size_t)k);
        for (int64_t t = 0; t <= T; t++) {
            double r2 = 0;
            for (int64_t j = 0; j < k; j++) r2 += z[j] * z[j];
            size_t at = (size_t)m * (T + 1) + (size_t)t;
            cv->member_loss[at] = r2 / (2.0 * (double)n) + rest;
            cv->member_acc[at] = NAN;
            if (t == T) break;
            /* ‖r‖² per sample in the model: (r2 + 2 N rest) / N. */
            double energy = (r2 + 2.0 * (double)n * rest) / (double)n;
            for (int64_t j = 0; j < k; j++) {
                double a = mu[j] * z[j];
                if (f > 0) {
                    double sd = sqrt(noise_scale * f * energy / C) * mu[j] * sqrt((double)n);
                    a += sd * ttp_rng_normal(key, (uint64_t)(t * k + j));
                }
                u[j] = opt->momentum * u[j] + a;
                z[j] -= opt->lr * (opt->nesterov ? a + opt->momentum * u[j] : u[j]);
            }
        }
    }
    ttp_curves_summarize(cv, so->band_lo, so->band_hi);
    *out = cv;
    cv = NULL;
done:
    ttp_curves_destroy(&cv);
    free(z);
    free(u);
    return st;
}

/* ---- training time ------------------------------------------------------- */

const char *ttp_tt_kind_str(ttp_tt_kind k)
{
    static const char *const names[TTP_TT_KIND_COUNT] = {"eps", "rel", "loss", "acc"};
    return (int)k >= 0 && k < TTP_TT_KIND_COUNT ? names[k] : "?";
}

static double smoothed(const double *v, int64_t t, int w)
{
    int64_t lo = t - w + 1 < 0 ? 0 : t - w + 1;
    double s = 0;
    for (int64_t i = lo; i <= t; i++) s += v[i];
    return s / (double)(t - lo + 1);
}

int64_t ttp_ttime(const ttp_tt_def *def, const double *loss, const double *acc, int64_t steps)
{
    int w = def->smooth > 1 ? def->smooth : 1;
    const double *v = def->kind == TTP_TT_ACC ? acc : loss;
    if (v == NULL) return -1;
    double end = smoothed(v, steps, w), start = v[0];
    if (!isfinite(end)) return -1;
    int64_t first = -1;
    for (int64_t t = steps; t >= 0; t--) {
        double s = smoothed(v, t, w);
        int ok;
        switch (def->kind) {
        case TTP_TT_EPS: ok = fabs(s - end) < def->value; break;
        case TTP_TT_REL: ok = s - end <= def->value * (start - end); break;
        case TTP_TT_LOSS: ok = s <= def->value; break;
        case TTP_TT_ACC: ok = s >= def->value; break;
        default: ok = 0; break;
        }
        if (!ok || !isfinite(s)) break;
        first = t;
    }
    return first;
}

static double median3(double a, double b, double c)
{
    return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

ttp_status ttp_ttime_despiked(ttp_ctx *ctx, const ttp_tt_def *def, const double *loss, const double *acc,
                              int64_t steps, int64_t *t)
{
    ttp_status st = TTP_OK;
    double *Lm = NULL, *Am = NULL;
    *t = -1;
    TTP_ALLOC(ctx, st, done, Lm, steps + 1, "despiked loss");
    if (acc) TTP_ALLOC(ctx, st, done, Am, steps + 1, "despiked accuracy");
    for (int64_t s = 0; s <= steps; s++) {
        const int ends = s == 0 || s == steps;
        Lm[s] = ends ? loss[s] : median3(loss[s - 1], loss[s], loss[s + 1]);
        if (acc) Am[s] = ends ? acc[s] : median3(acc[s - 1], acc[s], acc[s + 1]);
    }
    *t = ttp_ttime(def, Lm, Am, steps);
done:
    free(Lm), free(Am);
    return st;
}

ttp_status ttp_tt_kind_parse(ttp_ctx *ctx, const char *s, ttp_tt_kind *out)
{
    for (int k = 0; k < TTP_TT_KIND_COUNT; k++)
        if (s && strcmp(s, ttp_tt_kind_str((ttp_tt_kind)k)) == 0) {
            *out = (ttp_tt_kind)k;
            return TTP_OK;
        }
    return TTP_ERR(ctx, TTP_ERR_ARG, "training-time kind '%s': expected eps, rel, loss or acc",
                   s ? s : "(null)");
}

ttp_status ttp_tt_def_parse(ttp_ctx *ctx, const char *s, ttp_tt_def *out)
{
    char kind[16];
    const char *colon = s ? strchr(s, ':') : NULL;
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof kind || colon[1] == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "training-time definition '%s': expected KIND:VALUE, e.g. rel:0.05",
                       s ? s : "(null)");
    memcpy(kind, s, (size_t)(colon - s));
    kind[colon - s] = '\0';
    ttp_tt_def d = {TTP_TT_REL, 0.0, 1};
    TTP_CALL(ctx, ttp_tt_kind_parse(ctx, kind, &d.kind));
    char *end = NULL;
    d.value = strtod(colon + 1, &end);
    if (end == colon + 1 || *end != '\0' || !isfinite(d.value))
        return TTP_ERR(ctx, TTP_ERR_ARG, "training-time definition '%s': '%s' is not a finite number", s,
                       colon + 1);
    int ok = 1;
    const char *want = "";
    switch (d.kind) {
    case TTP_TT_EPS: ok = d.value > 0, want = "> 0"; break;
    case TTP_TT_REL: ok = d.value >= 0 && d.value < 1, want = "in [0, 1)"; break;
    case TTP_TT_ACC: ok = d.value >= 0 && d.value <= 1, want = "in [0, 1]"; break;
    default: break;
    }
    if (!ok)
        return TTP_ERR(ctx, TTP_ERR_ARG, "training-time definition '%s': %s value %g, expected %s", s, kind,
                       d.value, want);
    *out = d;
    return TTP_OK;
}

ttp_status ttp_ttime_band(ttp_ctx *ctx, const ttp_tt_def *def, const ttp_curves *cv, double band_lo,
                          double band_hi, int64_t *t, int64_t *t_lo, int64_t *t_hi)
{
    ttp_status st = TTP_OK;
    double *tm = NULL; /* step counts: exact in a double */
    if (!(band_lo >= 0 && band_lo <= band_hi && band_hi <= 1))
        return TTP_ERR(ctx, TTP_ERR_ARG, "training-time band [%g, %g]: expected 0 <= lo <= hi <= 1", band_lo,
                       band_hi);
    const int64_t T = cv->steps;
    const int M = cv->members;
    *t = ttp_ttime(def, cv->loss, cv->acc, T);
    *t_lo = *t_hi = *t;
    if (M <= 1 || cv->member_loss == NULL) return TTP_OK;
    TTP_ALLOC(ctx, st, done, tm, M, "member training times");
    for (int m = 0; m < M; m++) {
        int64_t s = ttp_ttime(def, cv->member_loss + (size_t)m * (size_t)(T + 1),
                              cv->member_acc ? cv->member_acc + (size_t)m * (size_t)(T + 1) : NULL, T);
        tm[m] = (double)(s < 0 ? T + 1 : s);
    }
    ttp_sort_doubles(tm, M);
    const int64_t lo = (int64_t)ttp_quantile(tm, M, band_lo, TTP_QUANTILE_NEAREST);
    const int64_t hi = (int64_t)ttp_quantile(tm, M, band_hi, TTP_QUANTILE_NEAREST);
    *t_lo = lo > T ? -1 : lo;
    *t_hi = hi > T ? -1 : hi;
done:
    free(tm);
    return st;
}

/* ---- validity ------------------------------------------------------------ */

/* Largest stable h = η (κ μ + λ) for the momentum form (ttp_sim.h). */
static double stable_h(const ttp_opt *opt)
{
    double m = opt->momentum;
    if (m <= 0) return 2.0;
    return opt->nesterov ? 2.0 * (1.0 + m) / (1.0 + 2.0 * m) : 2.0 * (1.0 + m);
}

static double curvature(const ttp_opt *opt)
{
    return opt->loss == TTP_LOSS_MSE ? 1.0 : 0.5;
}

double ttp_sim_stability(const ttp_opt *opt, double mu_max)
{
    return opt->lr * (curvature(opt) * mu_max + opt->wd) / stable_h(opt);
}

double ttp_sim_stability_lr(const ttp_opt *opt, double mu_max)
{
    return stable_h(opt) / (curvature(opt) * mu_max + opt->wd);
}

/* Largest eigenvalue of a symmetric n × n row-major matrix (destroyed).
 * dsyevr may use W (n) and ISUPPZ (2n) as workspace whatever the range, so
 * they are sized for n, not for the one eigenvalue asked for. */
static ttp_status top_eig(ttp_ctx *ctx, double *a, int64_t n, double *out)
{
    lapack_int found = 0;
    double *w = malloc(sizeof *w * (size_t)n), z[1];
    lapack_int *isupp = malloc(sizeof *isupp * (size_t)(2 * n));
    if (w == NULL || isupp == NULL) {
        free(w), free(isupp);
        return TTP_ERR(ctx, TTP_ERR_NOMEM,
                       "cannot allocate the eigenvalue workspace of a %lld x %lld batch kernel", (long long)n,
                       (long long)n);
    }
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'I', 'U', (lapack_int)n, a, (lapack_int)n, 0.0,
                                     0.0, (lapack_int)n, (lapack_int)n, 0.0, &found, w, z, 1, isupp);
    double top = w[0];
    free(w), free(isupp);
    if (info != 0 || found != 1)
        return TTP_ERR(ctx, TTP_ERR_LAPACK,
                       "dsyevr on the %lld x %lld batch kernel: info %d, %d eigenvalues found", (long long)n,
                       (long long)n, (int)info, (int)found);
    *out = top;
    return TTP_OK;
}

ttp_status ttp_sim_batch_tops(ttp_ctx *ctx, const ttp_theta *th, const ttp_opt *opt, int64_t nbatches,
                              double *tops, int64_t *sizes)
{
    ttp_status st = TTP_OK;
    const int64_t N = th->n, C = th->c, NC = N * C, K = th->k;
    const int64_t B = ttp_opt_batch(opt, N);
    const int full = B >= N;
    double *a = NULL, *vb = NULL;
    int64_t *perm = NULL, *idx = NULL, epoch = -1;
    if (th->dense == NULL && (th->vecs == NULL || th->vals == NULL || K <= 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "stability: Theta operator has neither a dense matrix nor eigenpairs");
    if (!full && nbatches < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "stability: %lld batches sampled, expected at least 1",
                       (long long)nbatches);
    if (full) nbatches = 1;
    const int64_t BC = B * C;
    /* The eigen form goes through the smaller of the two Gram sides. */
    const int small = th->dense == NULL && K < BC;
    const int64_t order = small ? K : BC;
    TTP_ALLOC(ctx, st, done, a, (size_t)(order * order), "batch kernel");
    TTP_ALLOC(ctx, st, done, perm, N, "batch permutation");
    TTP_ALLOC(ctx, st, done, idx, B, "batch indices");
    if (th->dense == NULL) TTP_ALLOC(ctx, st, done, vb, (size_t)(BC * K), "batch eigenvector rows");
    for (int64_t b = 0; b < nbatches; b++) {
        int64_t nb = B;
        if (full)
            for (int64_t i = 0; i < N; i++) idx[i] = i;
        else
            nb = ttp_batch_indices(opt->seed, N, B, b, perm, &epoch, idx);
        const int64_t nbc = nb * C, ord = small ? K : nbc;
        if (th->dense) {
            for (int64_t i = 0; i < nb; i++)
                for (int64_t ci = 0; ci < C; ci++)
                    for (int64_t j = 0; j < nb; j++)
                        memcpy(a + (i * C + ci) * nbc + j * C,
                               th->dense + (idx[i] * C + ci) * NC + idx[j] * C, sizeof(double) * (size_t)C);
        } else {
            /* rows of V Λ^½ for the batch's outputs */
            for (int64_t i = 0; i < nb; i++)
                for (int64_t ci = 0; ci < C; ci++)
                    for (int64_t j = 0; j < K; j++)
                        vb[(i * C + ci) * K + j] =
                            th->vecs[(idx[i] * C + ci) * K + j] * sqrt(th->vals[j] > 0 ? th->vals[j] : 0.0);
            if (small) /* (V_B Λ^½)ᵀ (V_B Λ^½): K × K, same non-zero spectrum */
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)K, (int)nbc, 1.0, vb, (int)K, 0.0, a,
                            (int)K);
            else
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)nbc, (int)K, 1.0, vb, (int)K, 0.0,
                            a, (int)nbc);
        }
        double lmax = 0;
        TTP_CALL_GOTO(ctx, st, done, top_eig(ctx, a, ord, &lmax));
        tops[b] = lmax;
        sizes[b] = nb;
    }
done:
    free(a), free(vb), free(perm), free(idx);
    return st;
}

void ttp_sim_stability_tops(const ttp_opt *opt, int64_t nbatches, const double *tops, const int64_t *sizes,
                            double *mean, double *max)
{
    double sum = 0, worst = 0;
    for (int64_t b = 0; b < nbatches; b++) {
        double r = opt->lr * (curvature(opt) * tops[b] / (double)sizes[b] + opt->wd) / stable_h(opt);
        sum += r;
        if (r > worst) worst = r;
    }
    *mean = sum / (double)nbatches;
    *max = worst;
}

ttp_status ttp_sim_stability_batch(ttp_ctx *ctx, const ttp_theta *th, const ttp_opt *opt, int64_t nbatches,
                                   double *mean, double *max)
{
    ttp_status st = TTP_OK;
    const int full = ttp_opt_batch(opt, th->n) >= th->n;
    const int64_t nb = full || nbatches < 1 ? 1 : nbatches;
    double *tops = NULL;
    int64_t *sizes = NULL;
    TTP_ALLOC(ctx, st, done, tops, nb, "batch eigenvalues");
    TTP_ALLOC(ctx, st, done, sizes, nb, "batch sizes");
    TTP_CALL_GOTO(ctx, st, done, ttp_sim_batch_tops(ctx, th, opt, nbatches, tops, sizes));
    ttp_sim_stability_tops(opt, full ? 1 : nbatches, tops, sizes, mean, max);
done:
    free(tops), free(sizes);
    return st;
}
