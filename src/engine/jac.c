/*
 * jac.c — projected per-sample Jacobian rows G = J P (ttp_jac.h).
 *
 * Rows come from the per-sample gradient factors of
 * ttp_net_backward_factors_multi: one forward pass per sample, then its C
 * cotangents (the C×C identity) pushed back together, give that sample's C
 * rows; several samples go through one net call (block-identity output
 * gradients) as far as the net's capacity allows (C rows per sample).  The
 * forward pass and everything computed from a layer's activations alone
 * (im2col, act·P_in, W a_p for u0) are done once per sample, not once per
 * output.  What happens to the factors depends on the kind:
 *
 *   EXACT       the full rows are written straight into G (D′ = D).
 *   RADEMACHER, GAUSSIAN
 *               full rows are built for a block of rows and the backend
 *               (CPU DGEMM or CUDA) applies the dense P: G = J P.
 *   KRON        structured: the full row is never formed.  A trainable
 *               dense/conv layer's sample gradient is dW = Σ_p δ_p a_pᵀ
 *               (m × n, npos positions); its block of the projected row is
 *               one of (chosen per layer, see below)
 *                 kron   Σ_t vec(P_out,tᵀ dW P_in,t) for r replicas t of
 *                        P_out,t (m × k_o) ⊗ P_in,t (n × k_i), computed as
 *                        Σ_p (P_outᵀ δ_p)(P_inᵀ a_p)ᵀ without forming dW:
 *                        O(npos·r·(m k_o + n k_i + k_o k_i)) per row;
 *                 block  a dense Rademacher sketch of this layer's dW alone
 *                        (formed per row, m·n values): O(m n (npos + share));
 *                 exact  dW itself, when the layer's share covers it.
 *               Vector blocks (a layer's bias Σ_p δ_p; DIRECT layers such
 *               as batch-norm) get a dense Rademacher sketch, or stay exact
 *               when small.  Every piece is unbiased (E[P Pᵀ] = I block by
 *               block), so E[G Gᵀ] = Θ.
 *
 * KRON's split of D′ (documented choice).  Vector blocks of at most
 * JAC_KRON_SMALL values stay exact and their columns leave the budget; the
 * rest B is split over the other blocks in proportion to an importance, by
 * water-filling (a block whose share covers its length becomes exact, its
 * columns leave B, and the rest is split again; every block keeps at least
 * one column).  The importance is the block's size by default (the split in
 * proportion to nw), or, after ttp_jac_plan_calibrate, the trace of the
 * block's part of Θ on a few samples.  The error of a block-diagonal sketch
 * is Σ_l V_l ‖Θ_l‖²/s_l, minimised by s_l ∝ √V_l ‖Θ_l‖, so the size split
 * starves a small layer that carries much of Θ: on the bundled model the
 * 165-weight head carries ~85 % of ‖Θ‖, and the size split is 5× less
 * accurate than the dense sketch, the calibrated one 0.3–1.6× (see
 * benchmarks/README.md).
 *
 * Why replicas and not one k_o × k_i block per layer.  With a single
 * Kronecker block of k_o·k_i = s columns both factors are k-dimensional
 * sketches, each with relative variance ≈ 2/k, and the product's variance
 * is ≈ 2/k_o + 2/k_i: with k_o ≈ k_i ≈ √s the error of Θ falls only like
 * D′^(−1/4) asymptotically (tests/test_proj.c measures 2.6× the dense error
 * at D′ = 1024 on a 40 × 50 layer, against 1.1× for the replicas below).
 * Averaging r = s/(k_o k_i) independent replicas of a small block gives variance (k_o k_i/s)·((1 + 2/k_o)(1 + 2/k_i) − 1), i.e.
 * V·(2/s) with V = k_o k_i ((1+2/k_o)(1+2/k_i) − 1)/2 the variance relative
 * to a dense sketch (worst case, parallel gradients): falling like 1/D′
 * again.  V is 4 for k_o = k_i = 1 (rank-one columns u_t ⊗ v_t), m when
 * P_out is the identity (k_o = m), n when P_in is, 1 for block, 0 for exact.
 * Each layer takes the cheapest (by the operation counts above, with npos
 * the layer's output positions) among the candidates with V <= JAC_KRON_VMAX
 * = 4, i.e. at most twice the dense sketch's worst-case error.  Dense layers
 * (npos = 1) then use rank-one replicas, ≈ mn/(m+n) times cheaper than
 * dense; conv layers with many positions and few weights use block, since
 * forming dW is then cheaper than sketching every position.
 *
 * Keys.  The dense kinds use `seed` itself as the key of ttp_proj_entry.
 * KRON block matrices use ttp_rng_key(seed, 4·layer + role), role 0 = P_out
 * (or block's P), 1 = P_in, 2 = P_v (bias / DIRECT), with Rademacher signs
 * from the lowest bit of ttp_rng_hash(key, row·cols + col): P_out entries
 * ±1/√(r·k_o) (the 1/√r makes the sum over replicas unbiased), P_in ±1/√k_i,
 * block and vector sketches ±1/√k.
 *
 * u0 = J_row · w_trainable is computed from the factors, before any
 * projection, for every kind: for an OUTER layer ⟨dW, W⟩ + ⟨db, b⟩ =
 * Σ_p δ_pᵀ (W a_p) + (Σ_p δ_p)ᵀ b, for a DIRECT layer g·w.  So u0 is the same
 * number whatever the projection.
 *
 * Determinism: every row is computed from its own sample only, so the rows
 * do not depend on how samples are grouped into calls (or ranks) beyond
 * rounding.  The layers' DGEMMs run over the whole batch, and OpenBLAS may
 * round a row differently depending on where it sits in the batch (seen on
 * small dense layers: ~4e-16 relative; with one forward pass per sample a
 * sample's place in the forward batch also varies, and tests/test_jac.c
 * sees up to ~1e-15).  The CPU backend projects in fixed-size
 * row blocks so that the projection adds no such dependence; the cuda
 * backend's DGEMM promises rows only to rounding.
 *
 * Device stage.  When the plan's backend resolved to cuda, ttp_jac_rows
 * hands the whole block to gpu/ttp_gnet.h (ttp_jac_gnet_open describes the
 * model and this plan's sketches to it): the same rows, to rounding, from a
 * device forward pass over the samples and one backward pass over their C
 * identity cotangents.  Calibration and ttp_jac_jvp stay on the CPU.
 *
 * Samples per net call: the net's capacity (ttp_net_capacity, in rows) over
 * C, at most JAC_SAMPLES_MAX.
 */
#include "ttp_jac.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ttp_gpu.h"
#include "ttp_rng.h"

/* Samples per net call at most (the net's capacity may lower it). */
#define JAC_SAMPLES_MAX 16
/* Memory for a block of full rows before projection (dense kinds), bytes. */
#define JAC_ROWBUF_BYTES ((int64_t)64 << 20)
/* KRON vector blocks of at most this many values stay exact. */
#define JAC_KRON_SMALL 16
/* KRON: largest variance relative to a dense sketch a layer may take (4 =
 * twice the error, worst case). */
#define JAC_KRON_VMAX 4.0
/* KRON block mode stores its P (m·n × share): not beyond this many doubles. */
#define JAC_KRON_BLOCK_MAX ((int64_t)8 << 20)

typedef enum { KRON_EXACT = 0, KRON_REPL, KRON_BLOCK } kron_mode;

typedef struct {
    int active; /* trainable, with parameters: the net hands factors for it */
    ttp_factor_kind kind;
    int64_t m, n, nw, woff, col_off; /* OUTER: W is m × n; col_off in the exact row */
    int has_bias;
    int64_t npos; /* output positions (1 for dense)                          */
    /* KRON weight block: kw columns at gw.  REPL: r replicas of k_o × k_i;
     * BLOCK: kw = share, Pw (m·n × kw); EXACT: kw = m·n. */
    kron_mode mode;
    int64_t ko, ki, r, kw, gw;
    double *Pout, *Pin; /* m × r·k_o, n × r·k_i row-major; NULL = identity */
    double *Pw;
    /* vector block (OUTER bias or all of a DIRECT layer): lv values → kv
     * columns at gv */
    int64_t lv, kv, gv;
    double *Pv;           /* lv × kv; NULL = identity */
    int w_exact, v_exact; /* the split made the block exact */
    double tw, tv;        /* importance of the weight / vector block */
} jac_layer;

struct ttp_jac_plan {
    const ttp_model *m; /* borrowed */
    ttp_proj_kind kind;
    int64_t D, dim;    /* trainable parameters; columns of G */
    int64_t dproj_req; /* D′ asked for */
    uint64_t seed;
    ttp_proj_backend be; /* dense kinds only */
    int have_be;
    int nl;
    jac_layer *L; /* per model layer */
    /* The device Jacobian stage (gpu/ttp_gnet.h): used for every kind when
     * the backend resolved to cuda; opened at the first ttp_jac_rows (after
     * a KRON calibration has fixed the split). */
    int dev_stage;  /* 1: rows come from the device                        */
    int device;     /* node-local rank's device, -1: from the environment  */
    ttp_gnet *gnet; /* open device network, or NULL                        */
    /* workspaces, grown on demand */
    double *ws[5];
    size_t wcap[5];
};

/* ---- plan ---------------------------------------------------------------- */

static int64_t clip64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A Rademacher matrix rows × cols (row-major) of ±scale, sign from the
 * lowest bit of ttp_rng_hash(key, i·cols + j). */
static ttp_status rademacher_matrix(ttp_ctx *ctx, uint64_t key, int64_t rows, int64_t cols, double scale,
                                    double **out)
{
    ttp_status st = TTP_OK;
    double *P = NULL;
    TTP_ALLOC(ctx, st, fail, P, rows * cols, "KRON block projection");
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            P[i * cols + j] = (ttp_rng_hash(key, (uint64_t)(i * cols + j)) & 1u) ? -scale : scale;
    *out = P;
fail:
    return st;
}

/*
 * Choose a layer's weight sketch for share s (see the file comment): the
 * cheapest candidate with variance factor V <= JAC_KRON_VMAX.  Costs are
 * multiply-adds per Jacobian row.  Only the rank-one candidate has r > 1
 * (k_o = k_i = 1); sink_layer relies on that.
 */
static void kron_choose(jac_layer *J, double s)
{
    const double m = (double)J->m, n = (double)J->n, np = (double)J->npos;
    double best = -1.0, c;
    if (s >= m * n - 0.5) { /* the share covers the layer (to rounding): exact */
        J->mode = KRON_EXACT, J->ko = J->m, J->ki = J->n, J->r = 1, J->kw = J->m * J->n;
        return;
    }
    const int64_t si = s < 1.0 ? 1 : llround(s);
#define KRON_TAKE(md, o, i, rr, kk)                                                                          \
    do {                                                                                                     \
        if (best < 0 || c < best) {                                                                          \
            best = c;                                                                                        \
            J->mode = (md), J->ko = (o), J->ki = (i), J->r = (rr), J->kw = (kk);                             \
        }                                                                                                    \
    } while (0)
    /* rank-one replicas u_t ⊗ v_t: V = 4 */
    c = np * (double)si * (m + n + 1.0);
    KRON_TAKE(KRON_REPL, 1, 1, si, si);
    /* P_out = identity (k_o = m): V = m */
    if (m <= JAC_KRON_VMAX) {
        int64_t ki = clip64(llround(s / m), 1, J->n);
        c = np * (double)ki * (n + m);
        KRON_TAKE(KRON_REPL, J->m, ki, 1, J->m * ki);
    }
    /* P_in = identity (k_i = n): V = n */
    if (n <= JAC_KRON_VMAX) {
        int64_t ko = clip64(llround(s / n), 1, J->m);
        c = np * (double)ko * (m + n);
        KRON_TAKE(KRON_REPL, ko, J->n, 1, ko * J->n);
    }
    /* dense sketch of this layer's dW: V = 1 */
    if (J->m * J->n * si <= JAC_KRON_BLOCK_MAX) {
        c = m * n * (np + (double)si);
        KRON_TAKE(KRON_BLOCK, 0, 0, 1, si);
    }
#undef KRON_TAKE
}

/*
 * The KRON split (see the file comment) and the block matrices.  Each block
 * (a layer's weights; its vector block) has an importance: its size by
 * default, the trace of its part of Θ after ttp_jac_plan_calibrate.  Shares
 * are proportional to importance, by water-filling: a block whose share
 * covers its length becomes exact, its columns leave the budget, and the
 * rest is split again.
 */
static ttp_status plan_kron(ttp_ctx *ctx, ttp_jac_plan *p)
{
    const int64_t dproj = p->dproj_req;
    ttp_gnet_destroy(&p->gnet); /* a device network holds the old split */
    double B = (double)dproj;
    for (int l = 0; l < p->nl; l++) {
        jac_layer *J = &p->L[l];
        free(J->Pout), free(J->Pin), free(J->Pw), free(J->Pv);
        J->Pout = J->Pin = J->Pw = J->Pv = NULL;
        if (!J->active) continue;
        J->lv = J->kind == TTP_FACTOR_DIRECT ? J->nw : (J->has_bias ? J->m : 0);
        J->w_exact = 0;
        J->v_exact = J->lv > 0 && J->lv <= JAC_KRON_SMALL;
        if (J->v_exact) B -= (double)J->lv;
    }
    for (int changed = 1; changed;) {
        double T = 0.0;
        changed = 0;
        for (int l = 0; l < p->nl; l++) {
            const jac_layer *J = &p->L[l];
            if (!J->active) continue;
            if (J->kind == TTP_FACTOR_OUTER && !J->w_exact) T += J->tw;
            if (J->lv > 0 && !J->v_exact) T += J->tv;
        }
        for (int l = 0; l < p->nl && T > 0.0; l++) {
            jac_layer *J = &p->L[l];
            if (!J->active) continue;
            if (J->kind == TTP_FACTOR_OUTER && !J->w_exact && B * J->tw / T >= (double)(J->m * J->n) - 0.5) {
                J->w_exact = 1, changed = 1;
                B -= (double)(J->m * J->n);
            }
            if (J->lv > 0 && !J->v_exact && B * J->tv / T >= (double)J->lv - 0.5) {
                J->v_exact = 1, changed = 1;
                B -= (double)J->lv;
            }
            if (changed) break; /* shares change: recompute T */
        }
    }
    if (B < 0.0) B = 0.0;
    double T = 0.0;
    for (int l = 0; l < p->nl; l++) {
        const jac_layer *J = &p->L[l];
        if (!J->active) continue;
        if (J->kind == TTP_FACTOR_OUTER && !J->w_exact) T += J->tw;
        if (J->lv > 0 && !J->v_exact) T += J->tv;
    }
    int64_t col = 0;
    for (int l = 0; l < p->nl; l++) {
        jac_layer *J = &p->L[l];
        if (!J->active) continue;
        const uint64_t kbase = 4 * (uint64_t)l;
        if (J->kind == TTP_FACTOR_OUTER) {
            kron_choose(J, J->w_exact ? (double)(J->m * J->n) : (T > 0 ? B * J->tw / T : 0.0));
            J->gw = col;
            col += J->kw;
            /* A side at full size with replicas still needs random matrices:
             * identity blocks would be counted r times. */
            if (J->mode == KRON_REPL && (J->ko < J->m || J->r > 1))
                TTP_CALL(ctx, rademacher_matrix(ctx, ttp_rng_key(p->seed, kbase + 0), J->m, J->r * J->ko,
                                                1.0 / sqrt((double)(J->r * J->ko)), &J->Pout));
            if (J->mode == KRON_REPL && (J->ki < J->n || J->r > 1))
                TTP_CALL(ctx, rademacher_matrix(ctx, ttp_rng_key(p->seed, kbase + 1), J->n, J->r * J->ki,
                                                1.0 / sqrt((double)J->ki), &J->Pin));
            if (J->mode == KRON_BLOCK)
                TTP_CALL(ctx, rademacher_matrix(ctx, ttp_rng_key(p->seed, kbase + 0), J->m * J->n, J->kw,
                                                1.0 / sqrt((double)J->kw), &J->Pw));
        }
        if (J->lv > 0) {
            J->kv = J->v_exact ? J->lv : clip64(llround(T > 0 ? B * J->tv / T : 0.0), 1, J->lv);
            J->gv = col;
            col += J->kv;
            if (J->kv < J->lv)
                TTP_CALL(ctx, rademacher_matrix(ctx, ttp_rng_key(p->seed, kbase + 2), J->lv, J->kv,
                                                1.0 / sqrt((double)J->kv), &J->Pv));
        }
    }
    p->dim = col;
    return TTP_OK;
}

/*
 * Whether the rows come from the device stage (gpu/ttp_gnet.h):
 *   cpu   never;
 *   cuda  always, for every kind; no device is an error (with the runtime's
 *         reason), never a silent fallback;
 *   auto  when a CUDA device answers.
 */
static ttp_status resolve_stage(ttp_ctx *ctx, const char *bname, int *dev)
{
    char why[256] = "";
    *dev = 0;
    if (strcmp(bname, "cpu") == 0) return TTP_OK;
    if (strcmp(bname, "auto") == 0) {
        *dev = ttp_gpu_device_count(why, sizeof why) > 0;
        return TTP_OK;
    }
    if (strcmp(bname, "cuda") == 0) {
        if (ttp_gpu_device_count(why, sizeof why) == 0)
            return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "option backend: 'cuda' requested, but %s", why);
        *dev = 1;
        return TTP_OK;
    }
    return TTP_ERR(ctx, TTP_ERR_ARG, "option backend: '%s', expected cpu, cuda or auto", bname);
}

ttp_status ttp_jac_plan_create(ttp_ctx *ctx, const ttp_model *m, ttp_proj_kind kind, int64_t dproj,
                               uint64_t seed, const char *backend, ttp_jac_plan **out)
{
    ttp_status st = TTP_OK;
    ttp_jac_plan *p = NULL;
    if (!out) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_plan_create: out is NULL");
    *out = NULL;
    if (!m) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_plan_create: model is NULL");
    if ((int)kind < 0 || kind >= TTP_PROJ_KIND_COUNT)
        return TTP_ERR(ctx, TTP_ERR_ARG, "projection kind %d: expected exact, rademacher, gaussian or kron",
                       (int)kind);
    if (m->ntrainable < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "Jacobian of a model with no trainable parameters (D = 0): mark a layer trainable");
    const int64_t D = m->ntrainable;
    if ((kind == TTP_PROJ_RADEMACHER || kind == TTP_PROJ_GAUSSIAN) && (dproj < 1 || dproj > D))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "projection %s to D' = %lld dimensions: expected 1 <= D' <= D = %lld "
                       "(the trainable parameters; set option proj to exact for D' = D)",
                       ttp_proj_kind_str(kind), (long long)dproj, (long long)D);
    if (kind == TTP_PROJ_KRON && dproj < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "projection kron to D' = %lld dimensions: expected D' >= 1 (D = %lld)",
                       (long long)dproj, (long long)D);
    /* The name is checked where it is opened (ttp_proj_backend_open) and, for
     * the kernel stage, with its options (ttp_kernel_opts_validate). */
    const char *bname = backend ? backend : "auto";

    TTP_ALLOC(ctx, st, fail, p, 1, "Jacobian plan");
    p->m = m;
    p->kind = kind;
    p->D = D;
    p->seed = seed;
    p->dproj_req = dproj;
    p->nl = m->nlayers;
    p->device = -1;
    TTP_CALL_GOTO(ctx, st, fail, resolve_stage(ctx, bname, &p->dev_stage));
    TTP_ALLOC(ctx, st, fail, p->L, m->nlayers, "Jacobian plan layers");
    {
        int64_t col = 0;
        for (int l = 0; l < m->nlayers; l++) {
            const ttp_layer *Ly = &m->layers[l];
            jac_layer *J = &p->L[l];
            if (!Ly->trainable || Ly->nw <= 0) continue;
            J->active = 1;
            J->nw = Ly->nw;
            J->woff = Ly->woff;
            J->col_off = col;
            col += Ly->nw;
            /* default importance: size (the split in proportion to nw) */
            J->tw = (double)(Ly->nw);
            J->tv = 0.0;
            switch (Ly->kind) {
            case TTP_LAYER_DENSE:
            case TTP_LAYER_CONV2D:
                J->kind = TTP_FACTOR_OUTER;
                J->m = Ly->units;
                J->n = Ly->kind == TTP_LAYER_DENSE ? Ly->in_shape[0] * Ly->in_shape[1] * Ly->in_shape[2]
                                                   : Ly->in_shape[0] * Ly->kernel * Ly->kernel;
                J->npos = Ly->kind == TTP_LAYER_DENSE ? 1 : Ly->out_shape[1] * Ly->out_shape[2];
                J->has_bias = Ly->nw == J->m * J->n + J->m;
                J->tw = (double)(J->m * J->n);
                J->tv = J->has_bias ? (double)J->m : 0.0;
                if (!J->has_bias && Ly->nw != J->m * J->n) {
                    st = TTP_ERR(ctx, TTP_ERR_INTERNAL,
                                 "layer %d '%s' (%s) has %lld parameters, expected %lld × %lld "
                                 "weights (+ %lld biases)",
                                 l, Ly->name, ttp_layer_kind_str(Ly->kind), (long long)Ly->nw,
                                 (long long)J->m, (long long)J->n, (long long)J->m);
                    goto fail;
                }
                break;
            case TTP_LAYER_BATCHNORM:
                J->kind = TTP_FACTOR_DIRECT;
                J->tv = (double)Ly->nw;
                break;
            default:
                st = TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                             "layer %d '%s' (%s) has trainable parameters but no Jacobian rule", l, Ly->name,
                             ttp_layer_kind_str(Ly->kind));
                goto fail;
            }
        }
        if (col != D) {
            st = TTP_ERR(ctx, TTP_ERR_INTERNAL,
                         "trainable layers hold %lld parameters, the model says D = %lld", (long long)col,
                         (long long)D);
            goto fail;
        }
    }

    switch (kind) {
    case TTP_PROJ_EXACT: p->dim = D; break;
    case TTP_PROJ_RADEMACHER:
    case TTP_PROJ_GAUSSIAN:
        p->dim = dproj;
        /* the device stage projects on the device itself; this backend serves
         * the CPU path (and "auto" falling back to it: the CPU throughout) */
        TTP_CALL_GOTO(ctx, st, fail, ttp_proj_backend_open(ctx, p->dev_stage ? "cpu" : bname, &p->be));
        p->have_be = 1;
        break;
    case TTP_PROJ_KRON: TTP_CALL_GOTO(ctx, st, fail, plan_kron(ctx, p)); break;
    default: break;
    }
    *out = p;
    return TTP_OK;
fail:
    ttp_jac_plan_destroy(&p);
    return st;
}

void ttp_jac_plan_destroy(ttp_jac_plan **pp)
{
    if (!pp || !*pp) return;
    ttp_jac_plan *p = *pp;
    if (p->have_be) ttp_proj_backend_close(&p->be);
    ttp_gnet_destroy(&p->gnet);
    if (p->L)
        for (int l = 0; l < p->nl; l++) {
            free(p->L[l].Pout);
            free(p->L[l].Pin);
            free(p->L[l].Pw);
            free(p->L[l].Pv);
        }
    free(p->L);
    for (int i = 0; i < 5; i++) free(p->ws[i]);
    free(p);
    *pp = NULL;
}

int64_t ttp_jac_plan_dim(const ttp_jac_plan *p)
{
    return p ? p->dim : 0;
}

ttp_proj_kind ttp_jac_plan_kind(const ttp_jac_plan *p)
{
    return p ? p->kind : TTP_PROJ_EXACT;
}

/* Who computes the rows: "cuda" for the device stage, else the dense
 * projection's backend ("cpu" for EXACT and KRON on the CPU). */
const char *ttp_jac_plan_backend(const ttp_jac_plan *p)
{
    if (p && p->dev_stage) return "cuda";
    return p && p->have_be && p->be.name ? p->be.name : "cpu";
}

/* ---- rows ---------------------------------------------------------------- */

static ttp_status workspace(ttp_ctx *ctx, ttp_jac_plan *p, int i, size_t n, double **out)
{
    if (n > p->wcap[i]) {
        double *t = realloc(p->ws[i], n * sizeof *t);
        if (!t) return TTP_ERR(ctx, TTP_ERR_NOMEM, "Jacobian workspace of %zu doubles", n);
        p->ws[i] = t;
        p->wcap[i] = n;
    }
    *out = p->ws[i];
    return TTP_OK;
}

/* What the sink writes: rows [0, nb) of R (leading dimension ld), u0 (nb). */
typedef struct {
    ttp_jac_plan *p;
    const double *w;
    double *R;
    int64_t ld;
    double *u0;
    const double *uv; /* the weights u0 is taken against (normally w)   */
} sink_state;

/* out (len → k) = Pᵀ v, or v itself when P is NULL (identity). */
static void vec_block(const double *P, const double *v, int64_t len, int64_t k, double *out)
{
    if (!P) {
        memcpy(out, v, (size_t)len * sizeof *out);
        return;
    }
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)len, (int)k, 1.0, P, (int)k, v, 1, 0.0, out, 1);
}

static ttp_status sink_layer(void *user, const ttp_factors *f, ttp_ctx *ctx)
{
    sink_state *S = user;
    ttp_jac_plan *p = S->p;
    if (f->layer < 0 || f->layer >= p->nl || !p->L[f->layer].active)
        return TTP_ERR(ctx, TTP_ERR_INTERNAL,
                       "gradient factors for layer %d, which the plan has no trainable entry for", f->layer);
    const jac_layer *J = &p->L[f->layer];
    const int64_t nb = f->nb;
    if (f->kind != J->kind || f->col_off != J->col_off || f->nw != J->nw ||
        (f->kind == TTP_FACTOR_OUTER && (f->m != J->m || f->n != J->n || f->has_bias != J->has_bias)))
        return TTP_ERR(ctx, TTP_ERR_INTERNAL,
                       "gradient factors of layer %d (kind %d, %lld × %lld, column %lld) disagree "
                       "with the plan (kind %d, %lld × %lld, column %lld)",
                       f->layer, (int)f->kind, (long long)f->m, (long long)f->n, (long long)f->col_off,
                       (int)J->kind, (long long)J->m, (long long)J->n, (long long)J->col_off);
    const int kron = p->kind == TTP_PROJ_KRON;

    if (f->kind == TTP_FACTOR_DIRECT) {
        const double *wl = S->uv + J->woff;
        for (int64_t b = 0; b < nb; b++) {
            const double *g = f->g + b * J->nw;
            if (S->R) {
                double *row = S->R + b * S->ld;
                if (kron)
                    vec_block(J->Pv, g, J->lv, J->kv, row + J->gv);
                else
                    memcpy(row + J->col_off, g, (size_t)J->nw * sizeof *g);
            }
            if (S->u0) {
                double s = 0.0;
                for (int64_t j = 0; j < J->nw; j++) s += g[j] * wl[j];
                S->u0[b] += s;
            }
        }
        return TTP_OK;
    }

    /* OUTER: delta (nb, m, npos), act (nb / q, npos, n): row b's activations
     * are those of sample b / q (q cotangents per forward sample). */
    const int64_t m = J->m, n = J->n, np = f->npos, q = f->ncot > 0 ? f->ncot : 1, nsmp = nb / q;
    const double *W = S->uv + J->woff, *bias = W + m * n;
    double *db = NULL, *pre = NULL, *A = NULL, *Dt = NULL, *dWall = NULL;
    TTP_CALL(ctx, workspace(ctx, p, 0, (size_t)m, &db));
    if (S->u0) {
        /* pre (nsmp·npos, m) = act · Wᵀ: W a_p for every sample and position. */
        TTP_CALL(ctx, workspace(ctx, p, 1, (size_t)(nsmp * np * m), &pre));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nsmp * np), (int)m, (int)n, 1.0, f->act,
                    (int)n, W, (int)n, 0.0, pre, (int)m);
    }
    const double *Ab = f->act;
    int64_t lda = n;
    const int repl = S->R && kron && J->mode == KRON_REPL, block = S->R && kron && J->mode == KRON_BLOCK;
    if (repl && J->Pin) {
        /* A (nsmp·npos, r·k_i) = act · P_in, for the whole batch at once. */
        lda = J->r * J->ki;
        TTP_CALL(ctx, workspace(ctx, p, 2, (size_t)(nsmp * np * lda), &A));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nsmp * np), (int)lda, (int)n, 1.0,
                    f->act, (int)n, J->Pin, (int)lda, 0.0, A, (int)lda);
        Ab = A;
    }
    if (repl && J->Pout) TTP_CALL(ctx, workspace(ctx, p, 3, (size_t)(J->r * J->ko * np), &Dt));
    if (block) TTP_CALL(ctx, workspace(ctx, p, 4, (size_t)(nb * m * n), &dWall));

    for (int64_t b = 0; b < nb; b++) {
        const double *delta = f->delta + b * m * np;
        double *row = S->R ? S->R + b * S->ld : NULL;
        for (int64_t o = 0; o < m; o++) {
            double s = 0.0;
            for (int64_t q = 0; q < np; q++) s += delta[o * np + q];
            db[o] = s;
        }
        if (!row) {
            /* J v alone (ttp_jac_jvp): no row is written */
        } else if (repl && J->r == 1) {
            /* Dt (k_o, npos) = P_outᵀ delta_b; block (k_o, k_i) = Dt · A_b. */
            const double *Db = delta;
            if (J->Pout) {
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)J->ko, (int)np, (int)m, 1.0,
                            J->Pout, (int)J->ko, delta, (int)np, 0.0, Dt, (int)np);
                Db = Dt;
            }
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)J->ko, (int)J->ki, (int)np, 1.0, Db,
                        (int)np, Ab + b / q * np * lda, (int)lda, 0.0, row + J->gw, (int)J->ki);
        } else if (repl) {
            /* r rank-one replicas (k_o = k_i = 1, see kron_choose):
             * DtT (npos, r) = delta_bᵀ P_out; column t = Σ_p DtT[p,t]·A_b[p,t]. */
            const int64_t rko = J->r;
            const double *Apb = Ab + b / q * np * lda;
            double *blk = row + J->gw;
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)np, (int)rko, (int)m, 1.0, delta,
                        (int)np, J->Pout, (int)rko, 0.0, Dt, (int)rko);
            memset(blk, 0, (size_t)J->kw * sizeof *blk);
            for (int64_t q = 0; q < np; q++) {
                const double *dq = Dt + q * rko, *aq = Apb + q * lda;
                for (int64_t t = 0; t < J->r; t++) blk[t] += dq[t] * aq[t];
            }
        } else {
            /* dW_b (m, n) = delta_b (m, npos) · act_b (npos, n): in place in the
             * row (exact kinds), in the batch's buffer (block), or at gw. */
            double *dst = block ? dWall + b * m * n : row + (kron ? J->gw : J->col_off);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)np, 1.0, delta,
                        (int)np, f->act + b / q * np * n, (int)n, 0.0, dst, (int)n);
        }
        if (row && J->has_bias) {
            if (kron)
                vec_block(J->Pv, db, m, J->kv, row + J->gv);
            else
                memcpy(row + J->col_off + m * n, db, (size_t)m * sizeof *db);
        }
        if (S->u0) {
            double s = 0.0;
            const double *pb = pre + b / q * np * m;
            for (int64_t o = 0; o < m; o++)
                for (int64_t q = 0; q < np; q++) s += delta[o * np + q] * pb[q * m + o];
            if (J->has_bias)
                for (int64_t o = 0; o < m; o++) s += db[o] * bias[o];
            S->u0[b] += s;
        }
    }
    if (block) /* rows' blocks (nb, kw) = dW (nb, m·n) · P_w */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)J->kw, (int)(m * n), 1.0, dWall,
                    (int)(m * n), J->Pw, (int)J->kw, 0.0, S->R + J->gw, (int)S->ld);
    return TTP_OK;
}

/* Calibration sink: add each block's Σ_rows ‖gradient‖² (its trace of Θ). */
static ttp_status calib_layer(void *user, const ttp_factors *f, ttp_ctx *ctx)
{
    ttp_jac_plan *p = user;
    if (f->layer < 0 || f->layer >= p->nl || !p->L[f->layer].active)
        return TTP_ERR(ctx, TTP_ERR_INTERNAL,
                       "gradient factors for layer %d, which the plan has no trainable entry for", f->layer);
    jac_layer *J = &p->L[f->layer];
    if (f->kind == TTP_FACTOR_DIRECT) {
        for (int64_t i = 0; i < f->nb * f->nw; i++) J->tv += f->g[i] * f->g[i];
        return TTP_OK;
    }
    const int64_t m = f->m, n = f->n, np = f->npos, q = f->ncot > 0 ? f->ncot : 1;
    double *dW = NULL;
    TTP_CALL(ctx, workspace(ctx, p, 4, (size_t)(m * n), &dW));
    for (int64_t b = 0; b < f->nb; b++) {
        const double *delta = f->delta + b * m * np;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)np, 1.0, delta, (int)np,
                    f->act + b / q * np * n, (int)n, 0.0, dW, (int)n);
        for (int64_t i = 0; i < m * n; i++) J->tw += dW[i] * dW[i];
        if (f->has_bias)
            for (int64_t o = 0; o < m; o++) {
                double sb = 0.0;
                for (int64_t q = 0; q < np; q++) sb += delta[o * np + q];
                J->tv += sb * sb;
            }
    }
    return TTP_OK;
}

/* Samples per call that the net holds: its rows over C (each sample's C
 * cotangent rows must fit the backward pass), at most JAC_SAMPLES_MAX;
 * TTP_ERR_ARG when not even one sample's C rows fit. */
static ttp_status samples_per_call(ttp_ctx *ctx, const ttp_net *net, int64_t C, int64_t ns, int64_t *spc)
{
    const int64_t cap = ttp_net_capacity(net) / C;
    if (cap < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "Jacobian rows: the network holds %lld rows, fewer than the C = %lld output rows of "
                       "one sample (create it with a capacity of at least C)",
                       (long long)ttp_net_capacity(net), (long long)C);
    int64_t s = cap < JAC_SAMPLES_MAX ? cap : JAC_SAMPLES_MAX;
    *spc = s < ns ? s : ns;
    return TTP_OK;
}

/* The block-identity cotangents: row s·C + c is e_c. */
static void identity_cotangents(double *dout, int64_t spc, int64_t C)
{
    for (int64_t r = 0; r < spc * C; r++) dout[r * C + r % C] = 1.0;
}

ttp_status ttp_jac_plan_calibrate(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w,
                                  const double *x, int64_t ns)
{
    ttp_status st = TTP_OK;
    double *out = NULL, *dout = NULL;
    if (!p || !net || !w || (ns > 0 && !x))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_plan_calibrate: plan, net, w or x is NULL");
    if (ns < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_plan_calibrate: %lld samples, expected >= 1",
                       (long long)ns);
    if (p->kind != TTP_PROJ_KRON) return TTP_OK;
    const ttp_model *M = p->m;
    const int64_t C = M->nout, in = M->in_shape[0] * M->in_shape[1] * M->in_shape[2];
    TTP_ALLOC(ctx, st, done, out, C, "calibration outputs");
    TTP_ALLOC(ctx, st, done, dout, C * C, "identity output gradient");
    identity_cotangents(dout, 1, C);
    for (int l = 0; l < p->nl; l++) p->L[l].tw = p->L[l].tv = 0.0;
    /* One sample per call (its C cotangents from one forward pass):
     * calibration sets are small. */
    for (int64_t s = 0; s < ns; s++) {
        TTP_CALL_GOTO(ctx, st, done, ttp_net_forward(ctx, net, w, x + s * in, 1, out));
        ttp_grad_sink sink = {p, calib_layer};
        TTP_CALL_GOTO(ctx, st, done, ttp_net_backward_factors_multi(ctx, net, w, dout, C, &sink));
    }
    /* A block with no gradient on these samples keeps a token weight, so it
     * still gets its one column (its Θ part is then ~0 anyway). */
    double tot = 0.0;
    for (int l = 0; l < p->nl; l++) tot += p->L[l].tw + p->L[l].tv;
    for (int l = 0; l < p->nl; l++) {
        jac_layer *J = &p->L[l];
        if (!J->active) continue;
        if (J->kind == TTP_FACTOR_OUTER && !(J->tw > 1e-12 * tot)) J->tw = 1e-12 * tot;
        if (J->lv > 0 && !(J->tv > 1e-12 * tot)) J->tv = 1e-12 * tot;
    }
    if (!(tot > 0.0) || !isfinite(tot)) {
        st = TTP_ERR(ctx, TTP_ERR_NUMERIC,
                     "KRON calibration on %lld samples: the Jacobian's squared norm is %g; expected a "
                     "positive finite value",
                     (long long)ns, tot);
        goto done;
    }
    TTP_CALL_GOTO(ctx, st, done, plan_kron(ctx, p));
done:
    free(out), free(dout);
    return st;
}

/* ---- the device stage ------------------------------------------------------ */

ttp_status ttp_jac_plan_set_device(ttp_ctx *ctx, ttp_jac_plan *p, int node_rank, int node_size,
                                   const char *backend)
{
    char why[256] = "";
    if (!p) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_plan_set_device: plan is NULL");
    if (!p->dev_stage) return TTP_OK;
    const int n = ttp_gpu_device_count(why, sizeof why);
    const int asked = backend && strcmp(backend, "cuda") == 0;
    if (node_size > n) {
        if (!asked) { /* auto: the device stage only when every rank of the node has a device */
            p->dev_stage = 0;
            return TTP_OK;
        }
        return TTP_ERR(
            ctx, TTP_ERR_UNSUPPORTED,
            "option backend: 'cuda' with %d ranks on this node (this rank is number %d there), but "
            "the node has %d CUDA device%s; run at most one rank per device",
            node_size, node_rank, n, n == 1 ? "" : "s");
    }
    p->device = node_rank;
    ttp_gnet_destroy(&p->gnet);
    return TTP_OK;
}

static ttp_status gnet_kind_of(ttp_ctx *ctx, const ttp_layer *Ly, int l, ttp_gnet_kind *k)
{
    switch (Ly->kind) {
    case TTP_LAYER_DENSE: *k = TTP_GNET_DENSE; break;
    case TTP_LAYER_CONV2D: *k = TTP_GNET_CONV2D; break;
    case TTP_LAYER_RELU: *k = TTP_GNET_RELU; break;
    case TTP_LAYER_BATCHNORM: *k = TTP_GNET_BATCHNORM; break;
    case TTP_LAYER_MAXPOOL: *k = TTP_GNET_MAXPOOL; break;
    case TTP_LAYER_AVGPOOL: *k = TTP_GNET_AVGPOOL; break;
    case TTP_LAYER_GAP: *k = TTP_GNET_GAP; break;
    case TTP_LAYER_FLATTEN: *k = TTP_GNET_FLATTEN; break;
    case TTP_LAYER_ADD: *k = TTP_GNET_ADD; break;
    case TTP_LAYER_SIGMOID: *k = TTP_GNET_SIGMOID; break;
    case TTP_LAYER_TANH: *k = TTP_GNET_TANH; break;
    case TTP_LAYER_LEAKYRELU: *k = TTP_GNET_LEAKYRELU; break;
    case TTP_LAYER_GELU: *k = TTP_GNET_GELU; break;
    default:
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "layer %d '%s' (%s) has no device kernel", l, Ly->name,
                       ttp_layer_kind_str(Ly->kind));
    }
    return TTP_OK;
}

/* Samples per device block: a budget over what one sample's C rows hold
 * (activations, row gradients, im2col and its gradient, full and projected
 * rows), between 1 and JAC_DEV_SAMPLES_MAX. */
#define JAC_DEV_BYTES ((int64_t)2 << 30)
#define JAC_DEV_SAMPLES_MAX 256
static int64_t device_block(const ttp_jac_plan *p)
{
    const ttp_model *M = p->m;
    const int64_t C = M->nout;
    int64_t per =
        C * (p->dim + ((p->kind == TTP_PROJ_RADEMACHER || p->kind == TTP_PROJ_GAUSSIAN) ? p->D : 0));
    for (int l = 0; l < M->nlayers; l++) {
        const ttp_layer *Ly = &M->layers[l];
        const int64_t sz = Ly->out_shape[0] * Ly->out_shape[1] * Ly->out_shape[2];
        per += sz * (1 + C);
        if (Ly->kind == TTP_LAYER_CONV2D) {
            const int64_t np = Ly->out_shape[1] * Ly->out_shape[2],
                          n = Ly->in_shape[0] * Ly->kernel * Ly->kernel;
            per += np * n * (1 + C) + np * Ly->units * C;
        }
    }
    int64_t nb = JAC_DEV_BYTES / (8 * (per > 0 ? per : 1));
    return nb < 1 ? 1 : nb > JAC_DEV_SAMPLES_MAX ? JAC_DEV_SAMPLES_MAX : nb;
}

/* The description of model M (and of plan p's sketches; p NULL: no
 * trainable layer), then the device network. */
static ttp_status gnet_open(ttp_ctx *ctx, const ttp_model *M, const ttp_jac_plan *p, const double *w,
                            const char *backend, int device, int64_t nbmax, int64_t R, ttp_gnet **out)
{
    ttp_status st = TTP_OK;
    ttp_gnet_layer *lay = NULL;
    TTP_ALLOC(ctx, st, done, lay, M->nlayers, "device layer description");
    for (int l = 0; l < M->nlayers; l++) {
        const ttp_layer *Ly = &M->layers[l];
        const jac_layer *J = p ? &p->L[l] : NULL;
        ttp_gnet_layer *g = &lay[l];
        TTP_CALL_GOTO(ctx, st, done, gnet_kind_of(ctx, Ly, l, &g->kind));
        g->input[0] = Ly->input[0], g->input[1] = Ly->input[1];
        g->units = Ly->units, g->kernel = Ly->kernel, g->stride = Ly->stride, g->pad = Ly->pad;
        g->eps = Ly->eps, g->alpha = Ly->alpha;
        memcpy(g->in_shape, Ly->in_shape, sizeof g->in_shape);
        memcpy(g->out_shape, Ly->out_shape, sizeof g->out_shape);
        g->woff = Ly->woff, g->nw = Ly->nw, g->soff = Ly->soff;
        g->trainable = J && J->active;
        if (!g->trainable) continue;
        g->has_bias = J->has_bias;
        g->col_off = J->col_off;
        g->wmode = J->mode == KRON_REPL    ? TTP_GNET_W_REPL
                   : J->mode == KRON_BLOCK ? TTP_GNET_W_BLOCK
                                           : TTP_GNET_W_EXACT;
        g->ko = J->ko, g->ki = J->ki, g->r = J->r, g->kw = J->kw, g->gw = J->gw;
        g->Pout = J->Pout, g->Pin = J->Pin, g->Pw = J->Pw;
        g->lv = J->lv, g->kv = J->kv, g->gv = J->gv, g->Pv = J->Pv;
    }
    {
        ttp_gnet_desc d;
        memset(&d, 0, sizeof d);
        d.nlayers = M->nlayers;
        d.layers = lay;
        d.in_size = M->in_shape[0] * M->in_shape[1] * M->in_shape[2];
        d.nout = M->nout;
        d.nparams = M->nparams;
        d.nstate = M->nstate;
        d.state = M->state;
        d.D = p ? p->D : 0;
        d.kind = p ? p->kind : TTP_PROJ_EXACT;
        d.key = p ? p->seed : 0;
        d.dim = p ? p->dim : 0;
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_gnet_create(ctx, &d, w, backend, device,
                                      nbmax > 0 ? nbmax : (p ? device_block(p) : JAC_DEV_SAMPLES_MAX), R,
                                      out));
    }
done:
    free(lay);
    return st;
}

ttp_status ttp_jac_gnet_open(ttp_ctx *ctx, const ttp_jac_plan *p, const double *w, const char *backend,
                             int device, int64_t nbmax, int64_t R, ttp_gnet **out)
{
    if (!p || !w || !out) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_gnet_open: plan, w or out is NULL");
    return gnet_open(ctx, p->m, p, w, backend, device, nbmax, R, out);
}

ttp_status ttp_jac_gnet_open_model(ttp_ctx *ctx, const ttp_model *m, const double *w, const char *backend,
                                   int device, int64_t nbmax, int64_t R, ttp_gnet **out)
{
    ttp_status st = TTP_OK;
    ttp_jac_plan *p = NULL;
    if (!m || !w || !out)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_gnet_open_model: model, w or out is NULL");
    if (m->ntrainable > 0) TTP_CALL(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &p));
    st = gnet_open(ctx, m, p, w, backend, device, nbmax > 0 ? nbmax : JAC_DEV_SAMPLES_MAX, R, out);
    ttp_jac_plan_destroy(&p);
    return st;
}

static ttp_status rows_device(ttp_ctx *ctx, ttp_jac_plan *p, const double *w, const double *x, int64_t ns,
                              double *G, double *f0, double *u0)
{
    if (!p->gnet) {
        TTP_CALL(ctx, ttp_jac_gnet_open(ctx, p, w, "cuda", p->device, 0, p->m->nout, &p->gnet));
    } else {
        TTP_CALL(ctx, ttp_gnet_set_weights(ctx, p->gnet, w));
    }
    TTP_CALL(ctx, ttp_gnet_rows(ctx, p->gnet, x, ns, G, f0, u0, NULL));
    return TTP_OK;
}

ttp_status ttp_jac_rows(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w, const double *x,
                        int64_t ns, double *G, double *f0, double *u0)
{
    ttp_status st = TTP_OK;
    double *out = NULL, *dout = NULL, *ub = NULL, *J = NULL;
    if (!p || !net || !w || (ns > 0 && (!x || !G)))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_rows: plan, net, w, x or G is NULL");
    if (ns < 0) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_rows: %lld samples, expected >= 0", (long long)ns);
    if (ns == 0) return TTP_OK;
    if (p->dev_stage) return rows_device(ctx, p, w, x, ns, G, f0, u0);

    const ttp_model *M = p->m;
    const int64_t C = M->nout, D = p->D, K = p->dim;
    const int64_t in = M->in_shape[0] * M->in_shape[1] * M->in_shape[2];
    const int dense = p->kind == TTP_PROJ_RADEMACHER || p->kind == TTP_PROJ_GAUSSIAN;

    /* Samples per net call: what the net holds, lowered so that a block of
     * full rows of one call fits JAC_ROWBUF_BYTES (dense kinds). */
    int64_t spc = 0;
    TTP_CALL(ctx, samples_per_call(ctx, net, C, ns, &spc));
    if (dense) {
        int64_t fit = JAC_ROWBUF_BYTES / (C * D * (int64_t)sizeof(double));
        if (spc > fit) spc = fit > 1 ? fit : 1;
    }
    /* Dense kinds buffer rows of several calls for one backend call (the
     * device wants long blocks), within JAC_ROWBUF_BYTES. */
    int64_t jcap = 0;
    if (dense) {
        int64_t fit = JAC_ROWBUF_BYTES / (D * (int64_t)sizeof(double));
        jcap = fit < ns * C ? fit : ns * C;
        if (jcap < spc * C) jcap = spc * C;
        TTP_ALLOC(ctx, st, done, J, jcap * D, "block of full Jacobian rows");
    }
    TTP_ALLOC(ctx, st, done, out, spc * C, "batch outputs");
    TTP_ALLOC(ctx, st, done, dout, spc * C * C, "block-identity output gradients");
    TTP_ALLOC(ctx, st, done, ub, spc * C, "u0 of a batch");
    identity_cotangents(dout, spc, C);

    int64_t jrows = 0, jrow0 = 0; /* buffered full rows, and G's row of the first */
    for (int64_t s0 = 0; s0 < ns;) {
        const int64_t cnt = ns - s0 < spc ? ns - s0 : spc;
        /* one forward pass per sample; its C cotangents go back together */
        TTP_CALL_GOTO(ctx, st, done, ttp_net_forward(ctx, net, w, x + s0 * in, cnt, out));
        if (f0) memcpy(f0 + s0 * C, out, (size_t)(cnt * C) * sizeof *out);

        if (dense && (jrows + cnt * C > jcap)) {
            TTP_CALL_GOTO(ctx, st, done,
                          p->be.project(p->be.state, p->kind, p->seed, J, jrows, D, K, G + jrow0 * K, ctx));
            jrow0 += jrows;
            jrows = 0;
        }
        sink_state S = {p, w, NULL, 0, u0 ? ub : NULL, w};
        if (dense) {
            S.R = J + jrows * D;
            S.ld = D;
        } else {
            S.R = G + s0 * C * K;
            S.ld = K;
        }
        /* Layers without factors (none today) must read as zero columns. */
        for (int64_t r = 0; r < cnt * C; r++)
            memset(S.R + r * S.ld, 0, (size_t)(dense ? D : K) * sizeof(double));
        memset(ub, 0, (size_t)(cnt * C) * sizeof *ub);
        ttp_grad_sink sink = {&S, sink_layer};
        TTP_CALL_GOTO(ctx, st, done, ttp_net_backward_factors_multi(ctx, net, w, dout, C, &sink));
        if (u0) memcpy(u0 + s0 * C, ub, (size_t)(cnt * C) * sizeof *ub);
        if (dense) jrows += cnt * C;
        s0 += cnt;
    }
    if (dense && jrows > 0)
        TTP_CALL_GOTO(ctx, st, done,
                      p->be.project(p->be.state, p->kind, p->seed, J, jrows, D, K, G + jrow0 * K, ctx));
done:
    free(J);
    free(out);
    free(dout);
    free(ub);
    return st;
}

/*
 * J v by the same per-sample factors as u0 (one forward pass and one
 * backward pass of the C cotangents of each sample), against v instead of
 * w: exact to round-off, with no projection and no finite-difference step.
 * Re-linearization with momentum (docs/METHOD.md §6c) needs the new
 * linearization's image of the carried weight-space velocity.
 */
ttp_status ttp_jac_jvp(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w, const double *v,
                       const double *x, int64_t ns, double *jv)
{
    ttp_status st = TTP_OK;
    double *out = NULL, *dout = NULL;
    if (!p || !net || !w || !v || (ns > 0 && (!x || !jv)))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_jac_jvp: plan, net, w, v, x or jv is NULL");
    if (ns <= 0) return TTP_OK;
    const ttp_model *M = p->m;
    const int64_t C = M->nout, in = M->in_shape[0] * M->in_shape[1] * M->in_shape[2];
    int64_t spc = 0;
    TTP_CALL(ctx, samples_per_call(ctx, net, C, ns, &spc));
    TTP_ALLOC(ctx, st, done, out, spc * C, "batch outputs");
    TTP_ALLOC(ctx, st, done, dout, spc * C * C, "block-identity output gradients");
    identity_cotangents(dout, spc, C);
    for (int64_t s0 = 0; s0 < ns;) {
        const int64_t cnt = ns - s0 < spc ? ns - s0 : spc;
        TTP_CALL_GOTO(ctx, st, done, ttp_net_forward(ctx, net, w, x + s0 * in, cnt, out));
        memset(jv + s0 * C, 0, (size_t)(cnt * C) * sizeof *jv);
        sink_state S = {p, w, NULL, 0, jv + s0 * C, v};
        ttp_grad_sink sink = {&S, sink_layer};
        TTP_CALL_GOTO(ctx, st, done, ttp_net_backward_factors_multi(ctx, net, w, dout, C, &sink));
        s0 += cnt;
    }
done:
    free(out);
    free(dout);
    return st;
}
