/*
 * gnet.c — the Jacobian stage's one algorithm (ttp_gnet.h), written against
 * the primitives of gnet_impl.h so that the CPU twin ("ref") and the device
 * ("cuda") run the same layer walk, the same index math and the same
 * projection steps; they differ only in who runs an elementwise op and a
 * GEMM.  Always compiled (plain C).
 *
 * Forward: the engine's net.c, layer by layer, on nb samples (not C copies
 * of each): activations (nb, size_l).  Backward: nr = nb·R cotangent rows at
 * once, gradients (nr, size_l); a layer reads the activation of row r's
 * sample r / R.  Dense and conv layers are GEMMs (conv on an im2col layout);
 * everything else is one elementwise op (gnet_ew.h).
 *
 * Per-row parameter gradients (a Jacobian row's block for each trainable
 * layer), with δ = the layer's output gradient of the row, a = its input
 * (im2col patches for conv) of the row's sample:
 *   dense   dW = δ aᵀ (outer product, one op), db = δ
 *   conv    dW = δ (m × npos) · col (npos × n): one strided-batched GEMM
 *           per cotangent index c < R (the sample's col is shared by its R
 *           rows), db = Σ_p δ
 *   BN      (dγ, dβ) per channel: one op
 * and u0 = J_row·w = Σ over trainable layers of ⟨δ_row, y_sample⟩ (y the
 * layer's output: ⟨dW, W⟩ + ⟨db, b⟩ = Σ δ·(W a + b)), independent of the
 * projection.  Projection: EXACT writes the blocks into G; the dense kinds
 * build full rows, then G = J P with P generated in row tiles on the
 * backend; KRON applies engine/jac.c's per-layer sketch to the factors.
 */
#include "ttp_gnet.h"

#include <stdlib.h>
#include <string.h>

#include "gnet_impl.h"

/* Bytes of a dense projection's P tile on the backend. */
#define GNET_PTILE_BYTES ((int64_t)256 << 20)

struct ttp_gnet {
    const gnet_ops *ops;
    void *st;
    ttp_gnet_desc d;
    ttp_gnet_layer *L; /* copy of the descriptor's layers (host matrices not kept) */
    int64_t nbmax, R, nb;
    int64_t *size; /* values per sample of each layer's output */
    char *up;      /* the layer's output gradient is needed    */
    double *w_host;
    /* backend memory */
    double *w, *state, *x, *gx, *wsa, *wsb;
    double *xslot[2]; /* double-buffered inputs of ttp_gnet_rows (x is one of them) */
    double **act, **grad, **col;
    double **Pout, **Pin, **Pw, **Pv;
    double *dout, *Jfull, *G, *u0, *gram, *ptile, *f0;
    double *kA, *kDt, *kdW, *kdb;
    int64_t tile_k;
    ttp_gnet_stats stats;
    int gemm_only;
};

static int64_t prod3(const int64_t s[3])
{
    return s[0] * s[1] * s[2];
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int is_act(ttp_gnet_kind k, int *act)
{
    switch (k) {
    case TTP_GNET_RELU: *act = GNET_ACT_RELU; return 1;
    case TTP_GNET_SIGMOID: *act = GNET_ACT_SIGMOID; return 1;
    case TTP_GNET_TANH: *act = GNET_ACT_TANH; return 1;
    case TTP_GNET_LEAKYRELU: *act = GNET_ACT_LEAKY; return 1;
    case TTP_GNET_GELU: *act = GNET_ACT_GELU; return 1;
    default: return 0;
    }
}

/* GEMM-side sizes of a dense/conv layer: W is m × n, npos output positions. */
static void mn_of(const ttp_gnet_layer *Ly, int64_t *m, int64_t *n, int64_t *np)
{
    *m = Ly->units;
    if (Ly->kind == TTP_GNET_DENSE) {
        *n = prod3(Ly->in_shape);
        *np = 1;
    } else {
        *n = Ly->in_shape[0] * Ly->kernel * Ly->kernel;
        *np = Ly->out_shape[1] * Ly->out_shape[2];
    }
}

static gnet_ew ew_new(int op, int64_t n_el)
{
    gnet_ew e;
    memset(&e, 0, sizeof e);
    e.op = op;
    e.n_el = n_el;
    e.R = 1;
    return e;
}

static void ew_shape(gnet_ew *e, const ttp_gnet_layer *Ly)
{
    e->C = Ly->in_shape[0], e->H = Ly->in_shape[1], e->W = Ly->in_shape[2];
    e->Ho = Ly->out_shape[1], e->Wo = Ly->out_shape[2];
    e->k = Ly->kernel, e->s = Ly->stride, e->pad = Ly->pad;
}

/* Every elementwise op and GEMM goes through these two: they count the work
 * (ttp_gnet_get_stats) and honour the benchmark's GEMM-only switch. */
static ttp_status run_ew(ttp_gnet *g, ttp_ctx *ctx, const gnet_ew *e, const char *what)
{
    g->stats.ew_elements += (double)e->n_el;
    if (g->gemm_only) return TTP_OK;
    return g->ops->ew(g->st, ctx, e, what);
}

static ttp_status gemm(ttp_gnet *g, ttp_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K,
                       double alpha, const double *A, int64_t lda, int64_t sA, const double *B, int64_t ldb,
                       int64_t sB, double beta, double *C, int64_t ldc, int64_t sC, int64_t batch,
                       const char *what)
{
    g->stats.gemm_flops += 2.0 * (double)M * (double)N * (double)K * (double)batch;
    g->stats.gemm_calls += 1.0;
    return g->ops->gemm(g->st, ctx, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch,
                        what);
}

#define EW(g, ctx, e, what) TTP_CALL(ctx, run_ew(g, ctx, &(e), what))

void ttp_gnet_destroy(ttp_gnet **pg)
{
    if (!pg || !*pg) return;
    ttp_gnet *g = *pg;
    const gnet_ops *o = g->ops;
    if (g->L) {
        for (int l = 0; l < g->d.nlayers; l++) {
            if (g->act) o->release(g->st, g->act[l]);
            if (g->grad) o->release(g->st, g->grad[l]);
            if (g->col) o->release(g->st, g->col[l]);
            if (g->Pout) o->release(g->st, g->Pout[l]);
            if (g->Pin) o->release(g->st, g->Pin[l]);
            if (g->Pw) o->release(g->st, g->Pw[l]);
            if (g->Pv) o->release(g->st, g->Pv[l]);
        }
    }
    double *bufs[] = {g->w, g->state, g->xslot[0], g->xslot[1], g->gx, g->wsa, g->wsb, g->dout, g->Jfull,
                      g->G, g->u0,    g->gram,     g->ptile,    g->f0, g->kA,  g->kDt, g->kdW,  g->kdb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) o->release(g->st, bufs[i]);
    o->close(g->st);
    free(g->act), free(g->grad), free(g->col), free(g->Pout), free(g->Pin), free(g->Pw), free(g->Pv);
    free(g->L), free(g->size), free(g->up), free(g->w_host);
    free(g);
    *pg = NULL;
}

const char *ttp_gnet_backend(const ttp_gnet *g)
{
    return g ? g->ops->name : "none";
}

static ttp_status up_mat(ttp_ctx *ctx, ttp_gnet *g, const double *h, int64_t n, double **out,
                         const char *what)
{
    *out = NULL;
    if (!h) return TTP_OK;
    TTP_CALL(ctx, g->ops->alloc(g->st, ctx, out, n, what));
    TTP_CALL(ctx, g->ops->put(g->st, ctx, *out, h, n, what));
    return TTP_OK;
}

ttp_status ttp_gnet_create(ttp_ctx *ctx, const ttp_gnet_desc *desc, const double *w, const char *backend,
                           int device, int64_t nbmax, int64_t R, ttp_gnet **out)
{
    ttp_status st = TTP_OK;
    ttp_gnet *g = NULL;
    const gnet_ops *ops = NULL;
    char why[256] = "";
    if (!out || !desc || !w || !backend)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gnet_create: desc, w, backend or out is NULL");
    *out = NULL;
    if (strcmp(backend, "ref") == 0)
        ops = &ttp_gnet_ref_ops;
    else if (strcmp(backend, "cuda") == 0) {
        ops = ttp_gnet_cuda_ops(why, sizeof why);
        if (!ops) return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "backend 'cuda' requested, but %s", why);
    } else
        return TTP_ERR(ctx, TTP_ERR_ARG, "device network backend '%s', expected ref or cuda", backend);
    if (nbmax < 1 || R < 1 || desc->nlayers < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gnet_create: nbmax %lld, R %lld, %d layers; expected >= 1 each",
                       (long long)nbmax, (long long)R, desc->nlayers);
    const int L = desc->nlayers;
    TTP_ALLOC(ctx, st, fail, g, 1, "device network");
    g->ops = ops;
    g->d = *desc;
    g->nbmax = nbmax;
    g->R = R;
    TTP_CALL_GOTO(ctx, st, fail, ops->open(ctx, device, &g->st));
    TTP_ALLOC(ctx, st, fail, g->L, L, "device network layers");
    memcpy(g->L, desc->layers, (size_t)L * sizeof *g->L);
    g->d.layers = g->L;
    g->d.state = NULL;
    TTP_ALLOC(ctx, st, fail, g->size, L, "device network sizes");
    TTP_ALLOC(ctx, st, fail, g->up, L, "device network flags");
    TTP_ALLOC(ctx, st, fail, g->act, L, "device network activations");
    TTP_ALLOC(ctx, st, fail, g->grad, L, "device network gradients");
    TTP_ALLOC(ctx, st, fail, g->col, L, "device network im2col");
    TTP_ALLOC(ctx, st, fail, g->Pout, L, "KRON matrices");
    TTP_ALLOC(ctx, st, fail, g->Pin, L, "KRON matrices");
    TTP_ALLOC(ctx, st, fail, g->Pw, L, "KRON matrices");
    TTP_ALLOC(ctx, st, fail, g->Pv, L, "KRON matrices");
    TTP_ALLOC(ctx, st, fail, g->w_host, desc->nparams > 0 ? desc->nparams : 1, "parameter copy");
    memcpy(g->w_host, w, (size_t)desc->nparams * sizeof *w);

    const int64_t nr = nbmax * R, C = desc->nout, K = desc->dim;
    int64_t wsa = 1, wsb = 1, kA = 1, kDt = 1, kdW = 1, kdb = 1;
    int seen_trainable = 0;
    for (int l = 0; l < L; l++) {
        const ttp_gnet_layer *Ly = &g->L[l];
        if ((int)Ly->kind < 0 || Ly->kind >= TTP_GNET_KIND_COUNT) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "device network: layer %d has unknown kind %d", l, (int)Ly->kind);
            goto fail;
        }
        for (int k = 0; k < (Ly->kind == TTP_GNET_ADD ? 2 : 1); k++)
            if (Ly->input[k] < -1 || Ly->input[k] >= l) {
                st = TTP_ERR(ctx, TTP_ERR_ARG, "device network: layer %d reads layer %d, expected -1..%d", l,
                             Ly->input[k], l - 1);
                goto fail;
            }
        g->size[l] = prod3(Ly->out_shape);
        seen_trainable |= Ly->trainable;
        g->up[l] = (char)seen_trainable;
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->act[l], nbmax * g->size[l], "activations"));
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->grad[l], nr * g->size[l], "row gradients"));
        if (Ly->kind == TTP_GNET_CONV2D || Ly->kind == TTP_GNET_DENSE) {
            int64_t m, n, np;
            mn_of(Ly, &m, &n, &np);
            if (Ly->kind == TTP_GNET_CONV2D) {
                TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->col[l], nbmax * np * n, "im2col"));
                wsa = max64(wsa, nr * np * m);
                wsb = max64(wsb, nr * np * n);
            }
            if (Ly->trainable && desc->kind == TTP_PROJ_KRON) {
                const int64_t lda = Ly->Pin ? Ly->r * Ly->ki : n;
                if (Ly->wmode == TTP_GNET_W_REPL) {
                    kA = max64(kA, nbmax * np * lda);
                    kDt = max64(kDt, nr * np * Ly->r * Ly->ko);
                }
                if (Ly->wmode == TTP_GNET_W_BLOCK) kdW = max64(kdW, nr * m * n);
                TTP_CALL_GOTO(ctx, st, fail,
                              up_mat(ctx, g, Ly->Pout, m * Ly->r * Ly->ko, &g->Pout[l], "P_out"));
                TTP_CALL_GOTO(ctx, st, fail, up_mat(ctx, g, Ly->Pin, n * Ly->r * Ly->ki, &g->Pin[l], "P_in"));
                TTP_CALL_GOTO(ctx, st, fail, up_mat(ctx, g, Ly->Pw, m * n * Ly->kw, &g->Pw[l], "P_w"));
            }
        }
        if (Ly->trainable && desc->kind == TTP_PROJ_KRON && Ly->lv > 0) {
            kdb = max64(kdb, nr * Ly->lv);
            TTP_CALL_GOTO(ctx, st, fail, up_mat(ctx, g, Ly->Pv, Ly->lv * Ly->kv, &g->Pv[l], "P_v"));
        }
    }
    g->d.layers = g->L;
    for (int l = 0; l < L; l++) g->L[l].Pout = g->L[l].Pin = g->L[l].Pw = g->L[l].Pv = NULL;
    TTP_CALL_GOTO(ctx, st, fail, up_mat(ctx, g, w, desc->nparams > 0 ? desc->nparams : 1, &g->w, "weights"));
    if (desc->nstate > 0)
        TTP_CALL_GOTO(ctx, st, fail,
                      up_mat(ctx, g, desc->state, desc->nstate, &g->state, "batch-norm state"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->xslot[0], nbmax * desc->in_size, "inputs"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->xslot[1], nbmax * desc->in_size, "inputs"));
    g->x = g->xslot[0];
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->gx, nr * desc->in_size, "input gradients"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->wsa, wsa, "conv workspace"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->wsb, wsb, "conv workspace"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->dout, nr * C, "cotangents"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->u0, nr, "u0"));
    TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->f0, nbmax * C, "outputs"));
    if (desc->kind == TTP_PROJ_KRON) {
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->kA, kA, "KRON workspace"));
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->kDt, kDt, "KRON workspace"));
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->kdW, kdW, "KRON workspace"));
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->kdb, kdb, "KRON workspace"));
    }
    if (K > 0) TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->G, nr * K, "projected rows"));
    if (desc->kind == TTP_PROJ_RADEMACHER || desc->kind == TTP_PROJ_GAUSSIAN) {
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->Jfull, nr * desc->D, "full rows"));
        g->tile_k = GNET_PTILE_BYTES / (8 * (K > 0 ? K : 1));
        if (g->tile_k < 1) g->tile_k = 1;
        if (g->tile_k > desc->D) g->tile_k = desc->D;
        TTP_CALL_GOTO(ctx, st, fail, ops->alloc(g->st, ctx, &g->ptile, g->tile_k * K, "tile of P"));
    }
    *out = g;
    return TTP_OK;
fail:
    ttp_gnet_destroy(&g);
    return st;
}

void ttp_gnet_get_stats(const ttp_gnet *g, ttp_gnet_stats *s)
{
    *s = g->stats;
}

void ttp_gnet_reset_stats(ttp_gnet *g)
{
    memset(&g->stats, 0, sizeof g->stats);
}

void ttp_gnet_set_gemm_only(ttp_gnet *g, int on)
{
    g->gemm_only = on != 0;
}

ttp_status ttp_gnet_set_weights(ttp_ctx *ctx, ttp_gnet *g, const double *w)
{
    if (memcmp(g->w_host, w, (size_t)g->d.nparams * sizeof *w) == 0) return TTP_OK;
    memcpy(g->w_host, w, (size_t)g->d.nparams * sizeof *w);
    TTP_CALL(ctx, g->ops->put(g->st, ctx, g->w, w, g->d.nparams, "weights"));
    return TTP_OK;
}

static const double *tensor(const ttp_gnet *g, int j)
{
    return j < 0 ? g->x : g->act[j];
}

/* ---- forward --------------------------------------------------------------- */

static ttp_status forward_dev(ttp_ctx *ctx, ttp_gnet *g, int64_t nb)
{
    for (int l = 0; l < g->d.nlayers; l++) {
        const ttp_gnet_layer *Ly = &g->L[l];
        const double *in = tensor(g, Ly->input[0]);
        double *y = g->act[l];
        const int64_t sz = g->size[l];
        int act = 0;
        gnet_ew e = ew_new(GNET_EW_COPY, nb * sz);
        ew_shape(&e, Ly);
        if (is_act(Ly->kind, &act)) {
            e.op = GNET_EW_ACT_FWD, e.act = act, e.alpha = Ly->alpha, e.a = in, e.out = y;
            EW(g, ctx, e, "activation forward");
            continue;
        }
        switch (Ly->kind) {
        case TTP_GNET_DENSE: {
            /* y (nb, m) = x (nb, n) Wᵀ + b */
            int64_t m, n, np;
            mn_of(Ly, &m, &n, &np);
            const double *W = g->w + Ly->woff;
            TTP_CALL(ctx,
                     gemm(g, ctx, 0, 1, nb, m, n, 1.0, in, n, 0, W, n, 0, 0.0, y, m, 0, 1, "dense forward"));
            e.op = GNET_EW_DENSE_BIAS, e.m = m, e.p0 = W + m * n, e.out = y;
            EW(g, ctx, e, "dense bias");
            break;
        }
        case TTP_GNET_CONV2D: {
            /* col (nb, npos, n); T (nb·npos, m) = col Wᵀ; y (nb, m, npos) = Tᵀ + b */
            int64_t m, n, np;
            mn_of(Ly, &m, &n, &np);
            const double *W = g->w + Ly->woff;
            gnet_ew c = ew_new(GNET_EW_IM2COL, nb * np * n);
            ew_shape(&c, Ly);
            c.n = n, c.npos = np, c.a = in, c.out = g->col[l];
            EW(g, ctx, c, "im2col");
            TTP_CALL(ctx, gemm(g, ctx, 0, 1, nb * np, m, n, 1.0, g->col[l], n, 0, W, n, 0, 0.0, g->wsa, m, 0,
                               1, "conv forward"));
            e.op = GNET_EW_CONV_OUT, e.m = m, e.npos = np, e.a = g->wsa, e.p0 = W + m * n, e.out = y;
            EW(g, ctx, e, "conv output");
            break;
        }
        case TTP_GNET_BATCHNORM: {
            const int64_t Cc = Ly->in_shape[0];
            e.op = GNET_EW_BN_FWD, e.eps = Ly->eps, e.a = in, e.out = y;
            e.p0 = g->w + Ly->woff, e.p1 = e.p0 + Cc, e.p2 = g->state + Ly->soff, e.p3 = e.p2 + Cc;
            EW(g, ctx, e, "batch norm forward");
            break;
        }
        case TTP_GNET_MAXPOOL:
        case TTP_GNET_AVGPOOL:
            e.op = GNET_EW_POOL_FWD, e.is_max = Ly->kind == TTP_GNET_MAXPOOL, e.a = in, e.out = y;
            EW(g, ctx, e, "pooling forward");
            break;
        case TTP_GNET_GAP:
            e.op = GNET_EW_GAP_FWD, e.n_el = nb * Ly->in_shape[0], e.a = in, e.out = y;
            EW(g, ctx, e, "global average pooling");
            break;
        case TTP_GNET_FLATTEN:
            e.a = in, e.out = y;
            EW(g, ctx, e, "flatten");
            break;
        case TTP_GNET_ADD:
            e.op = GNET_EW_ADD2, e.a = in, e.b = tensor(g, Ly->input[1]), e.out = y;
            EW(g, ctx, e, "residual add");
            break;
        default: return TTP_ERR(ctx, TTP_ERR_INTERNAL, "device network: layer %d kind %d", l, (int)Ly->kind);
        }
    }
    g->nb = nb;
    return TTP_OK;
}

ttp_status ttp_gnet_forward(ttp_ctx *ctx, ttp_gnet *g, const double *x, int64_t nb, double *out)
{
    if (nb < 1 || nb > g->nbmax)
        return TTP_ERR(ctx, TTP_ERR_ARG, "device forward pass on %lld samples, the network holds 1..%lld",
                       (long long)nb, (long long)g->nbmax);
    TTP_CALL(ctx, g->ops->put(g->st, ctx, g->x, x, nb * g->d.in_size, "inputs"));
    TTP_CALL(ctx, forward_dev(ctx, g, nb));
    if (out) TTP_CALL(ctx, g->ops->get(g->st, ctx, out, g->act[g->d.nlayers - 1], nb * g->d.nout, "outputs"));
    return TTP_OK;
}

/* ---- per-row parameter blocks ------------------------------------------------ */

/* Where a row's blocks go: full rows (EXACT, dense kinds) or KRON's sketch. */
typedef struct {
    double *out; /* rows (nr, ld) */
    int64_t ld;
    int kron;
} row_target;

/* The weight gradient dW (m × n) of every row into out[r·ld + off ..] (dense:
 * one outer-product op; conv: a strided-batched GEMM per cotangent index). */
static ttp_status weight_rows(ttp_ctx *ctx, ttp_gnet *g, int l, const double *dy, const double *in,
                              int64_t nb, double *out, int64_t ld, int64_t off, int with_bias)
{
    const ttp_gnet_layer *Ly = &g->L[l];
    const int64_t nr = nb * g->R, R = g->R;
    int64_t m, n, np;
    mn_of(Ly, &m, &n, &np);
    if (Ly->kind == TTP_GNET_DENSE) {
        gnet_ew e = ew_new(GNET_EW_OUTER, nr * (m * n + (with_bias ? m : 0)));
        e.m = m, e.n = n, e.R = R, e.ld = ld, e.off = off, e.has_bias = with_bias, e.dy = dy, e.a = in;
        e.out = out;
        EW(g, ctx, e, "dense row gradients");
        return TTP_OK;
    }
    for (int64_t c = 0; c < R; c++)
        TTP_CALL(ctx, gemm(g, ctx, 0, 0, m, n, np, 1.0, dy + c * m * np, np, R * m * np, g->col[l], n, np * n,
                           0.0, out + c * ld + off, n, R * ld, nb, "conv row gradients"));
    if (with_bias) {
        gnet_ew e = ew_new(GNET_EW_ROWSUM, nr * m);
        e.m = m, e.npos = np, e.ld = ld, e.off = off + m * n, e.dy = dy, e.out = out;
        EW(g, ctx, e, "conv bias row gradients");
    }
    return TTP_OK;
}

/* KRON: the layer's weight block and vector block of every row into G. */
static ttp_status kron_rows(ttp_ctx *ctx, ttp_gnet *g, int l, const double *dy, const double *in, int64_t nb,
                            double *G, int64_t K)
{
    const ttp_gnet_layer *Ly = &g->L[l];
    const int64_t nr = nb * g->R, R = g->R;
    if (Ly->kind == TTP_GNET_BATCHNORM) {
        double *dst = g->Pv[l] ? g->kdb : G;
        gnet_ew e = ew_new(GNET_EW_BN_GRAD, nr * Ly->in_shape[0]);
        ew_shape(&e, Ly);
        e.R = R, e.ld = g->Pv[l] ? Ly->lv : K, e.off = g->Pv[l] ? 0 : Ly->gv, e.dy = dy, e.a = in;
        e.p2 = g->state + Ly->soff, e.p3 = e.p2 + Ly->in_shape[0], e.eps = Ly->eps, e.out = dst;
        EW(g, ctx, e, "batch-norm row gradients");
        if (g->Pv[l])
            TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr, Ly->kv, Ly->lv, 1.0, g->kdb, Ly->lv, 0, g->Pv[l], Ly->kv, 0,
                               0.0, G + Ly->gv, K, 0, 1, "KRON vector block"));
        return TTP_OK;
    }
    int64_t m, n, np;
    mn_of(Ly, &m, &n, &np);
    const double *act = Ly->kind == TTP_GNET_CONV2D ? g->col[l] : in; /* (nb, np, n) */
    switch (Ly->wmode) {
    case TTP_GNET_W_EXACT: TTP_CALL(ctx, weight_rows(ctx, g, l, dy, in, nb, G, K, Ly->gw, 0)); break;
    case TTP_GNET_W_BLOCK:
        TTP_CALL(ctx, weight_rows(ctx, g, l, dy, in, nb, g->kdW, m * n, 0, 0));
        TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr, Ly->kw, m * n, 1.0, g->kdW, m * n, 0, g->Pw[l], Ly->kw, 0, 0.0,
                           G + Ly->gw, K, 0, 1, "KRON block sketch"));
        break;
    case TTP_GNET_W_REPL: {
        /* A (nb·np, r·ki) = act · P_in, or act itself (ki = n) */
        const double *A = act;
        int64_t lda = n;
        if (g->Pin[l]) {
            lda = Ly->r * Ly->ki;
            TTP_CALL(ctx, gemm(g, ctx, 0, 0, nb * np, lda, n, 1.0, act, n, 0, g->Pin[l], lda, 0, 0.0, g->kA,
                               lda, 0, 1, "KRON act · P_in"));
            A = g->kA;
        }
        if (Ly->r == 1) {
            /* Dt_r (ko, np) = P_outᵀ δ_r; block (ko, ki) = Dt_r · A_sample */
            const double *Db = dy;
            if (g->Pout[l]) {
                TTP_CALL(ctx, gemm(g, ctx, 1, 0, Ly->ko, np, m, 1.0, g->Pout[l], Ly->ko, 0, dy, np, m * np,
                                   0.0, g->kDt, np, Ly->ko * np, nr, "KRON P_outᵀ δ"));
                Db = g->kDt;
            }
            const int64_t ko = Ly->ko;
            for (int64_t c = 0; c < R; c++)
                TTP_CALL(ctx, gemm(g, ctx, 0, 0, ko, Ly->ki, np, 1.0, Db + c * ko * np, np, R * ko * np, A,
                                   lda, np * lda, 0.0, G + c * K + Ly->gw, Ly->ki, R * K, nb, "KRON block"));
        } else {
            /* rank-one replicas: DtT_r (np, r) = δ_rᵀ P_out; column t = Σ_q DtT[q,t]·A[q,t] */
            TTP_CALL(ctx, gemm(g, ctx, 1, 0, np, Ly->r, m, 1.0, dy, np, m * np, g->Pout[l], Ly->r, 0, 0.0,
                               g->kDt, Ly->r, np * Ly->r, nr, "KRON δᵀ P_out"));
            gnet_ew e = ew_new(GNET_EW_REPL, nr * Ly->r);
            e.m = Ly->r, e.npos = np, e.n = lda, e.R = R, e.ld = K, e.off = Ly->gw, e.dy = g->kDt, e.a = A;
            e.out = G;
            EW(g, ctx, e, "KRON replicas");
        }
        break;
    }
    }
    if (Ly->has_bias) {
        double *dst = g->Pv[l] ? g->kdb : G;
        gnet_ew e = ew_new(GNET_EW_ROWSUM, nr * m);
        e.m = m, e.npos = np, e.ld = g->Pv[l] ? m : K, e.off = g->Pv[l] ? 0 : Ly->gv, e.dy = dy, e.out = dst;
        EW(g, ctx, e, "bias row gradients");
        if (g->Pv[l])
            TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr, Ly->kv, m, 1.0, g->kdb, m, 0, g->Pv[l], Ly->kv, 0, 0.0,
                               G + Ly->gv, K, 0, 1, "KRON vector block"));
    }
    return TTP_OK;
}

/* A trainable layer's blocks of every row, into `t`. */
static ttp_status layer_rows(ttp_ctx *ctx, ttp_gnet *g, int l, const double *dy, const double *in, int64_t nb,
                             const row_target *t)
{
    const ttp_gnet_layer *Ly = &g->L[l];
    if (t->kron) return kron_rows(ctx, g, l, dy, in, nb, t->out, t->ld);
    if (Ly->kind == TTP_GNET_BATCHNORM) {
        gnet_ew e = ew_new(GNET_EW_BN_GRAD, nb * g->R * Ly->in_shape[0]);
        ew_shape(&e, Ly);
        e.R = g->R, e.ld = t->ld, e.off = Ly->col_off, e.dy = dy, e.a = in;
        e.p2 = g->state + Ly->soff, e.p3 = e.p2 + Ly->in_shape[0], e.eps = Ly->eps, e.out = t->out;
        EW(g, ctx, e, "batch-norm row gradients");
        return TTP_OK;
    }
    return weight_rows(ctx, g, l, dy, in, nb, t->out, t->ld, Ly->col_off, Ly->has_bias);
}

/* ---- backward ------------------------------------------------------------------ */

/*
 * Backward for the nr = nb·R rows in g->grad[last] (already set): per-row
 * input gradients into g->gx when want_gx, parameter blocks into `t` (when
 * not NULL), u0 (nr, added) when u0 is not NULL.
 */
static ttp_status backward_dev(ttp_ctx *ctx, ttp_gnet *g, const row_target *t, double *u0, int want_gx)
{
    const int64_t nb = g->nb, R = g->R, nr = nb * R;
    const int Lc = g->d.nlayers;
    for (int l = 0; l < Lc - 1; l++) {
        gnet_ew z = ew_new(GNET_EW_ZERO, nr * g->size[l]);
        z.out = g->grad[l];
        EW(g, ctx, z, "zero gradients");
    }
    if (want_gx) {
        gnet_ew z = ew_new(GNET_EW_ZERO, nr * g->d.in_size);
        z.out = g->gx;
        EW(g, ctx, z, "zero input gradients");
    }
    for (int l = Lc - 1; l >= 0; l--) {
        const ttp_gnet_layer *Ly = &g->L[l];
        const double *dy = g->grad[l], *in = tensor(g, Ly->input[0]);
        const int j0 = Ly->input[0];
        double *dx = j0 < 0 ? (want_gx ? g->gx : NULL) : (want_gx || g->up[j0] ? g->grad[j0] : NULL);
        const int params = Ly->trainable && Ly->nw > 0;
        const int64_t sz = g->size[l], isz = prod3(Ly->in_shape);
        int act = 0;
        if (params && (t || u0)) {
            if (t) TTP_CALL(ctx, layer_rows(ctx, g, l, dy, in, nb, t));
            if (u0) {
                gnet_ew e = ew_new(GNET_EW_DOT, nr);
                e.n = sz, e.R = R, e.dy = dy, e.a = g->act[l], e.out = u0;
                EW(g, ctx, e, "u0");
            }
        }
        gnet_ew e = ew_new(GNET_EW_ACC, nr * isz);
        ew_shape(&e, Ly);
        e.R = R, e.dy = dy, e.a = dy, e.out = dx;
        if (Ly->kind == TTP_GNET_ADD) {
            const int j1 = Ly->input[1];
            double *dx2 = j1 < 0 ? (want_gx ? g->gx : NULL) : (want_gx || g->up[j1] ? g->grad[j1] : NULL);
            if (dx) EW(g, ctx, e, "residual add backward");
            if (dx2) {
                e.out = dx2;
                EW(g, ctx, e, "residual add backward");
            }
            continue;
        }
        if (!dx) continue;
        if (is_act(Ly->kind, &act)) {
            e.op = GNET_EW_ACT_BWD, e.act = act, e.alpha = Ly->alpha, e.n = sz, e.a = in, e.b = g->act[l];
            EW(g, ctx, e, "activation backward");
            continue;
        }
        switch (Ly->kind) {
        case TTP_GNET_DENSE: {
            int64_t m, n, np;
            mn_of(Ly, &m, &n, &np);
            TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr, n, m, 1.0, dy, m, 0, g->w + Ly->woff, n, 0, 1.0, dx, n, 0, 1,
                               "dense backward"));
            break;
        }
        case TTP_GNET_CONV2D: {
            /* DT (nr·np, m) = dy per row transposed; dcol (nr·np, n) = DT W; dx += col2im */
            int64_t m, n, np;
            mn_of(Ly, &m, &n, &np);
            gnet_ew tr = ew_new(GNET_EW_TRANSPOSE, nr * np * m);
            tr.m = m, tr.npos = np, tr.dy = dy, tr.out = g->wsa;
            EW(g, ctx, tr, "conv gradient transpose");
            TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr * np, n, m, 1.0, g->wsa, m, 0, g->w + Ly->woff, n, 0, 0.0,
                               g->wsb, n, 0, 1, "conv backward"));
            e.op = GNET_EW_COL2IM, e.m = m, e.n = n, e.npos = np, e.dy = g->wsb;
            EW(g, ctx, e, "col2im");
            break;
        }
        case TTP_GNET_BATCHNORM: {
            const int64_t Cc = Ly->in_shape[0];
            e.op = GNET_EW_BN_BWD, e.eps = Ly->eps, e.p0 = g->w + Ly->woff, e.p3 = g->state + Ly->soff + Cc;
            EW(g, ctx, e, "batch norm backward");
            break;
        }
        case TTP_GNET_MAXPOOL:
        case TTP_GNET_AVGPOOL:
            e.op = GNET_EW_POOL_BWD, e.is_max = Ly->kind == TTP_GNET_MAXPOOL, e.a = in;
            EW(g, ctx, e, "pooling backward");
            break;
        case TTP_GNET_GAP:
            e.op = GNET_EW_GAP_BWD;
            EW(g, ctx, e, "global average pooling backward");
            break;
        case TTP_GNET_FLATTEN: EW(g, ctx, e, "flatten backward"); break;
        default: return TTP_ERR(ctx, TTP_ERR_INTERNAL, "device network: layer %d kind %d", l, (int)Ly->kind);
        }
    }
    return TTP_OK;
}

ttp_status ttp_gnet_backward_rows(ttp_ctx *ctx, ttp_gnet *g, const double *dout, double *J, double *gx)
{
    if (g->nb < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "device backward pass without a forward pass");
    const int64_t nr = g->nb * g->R, D = g->d.D;
    double *Jd = NULL;
    ttp_status st = TTP_OK;
    TTP_CALL(ctx, g->ops->put(g->st, ctx, g->grad[g->d.nlayers - 1], dout, nr * g->d.nout, "cotangents"));
    if (J) TTP_CALL(ctx, g->ops->alloc(g->st, ctx, &Jd, nr * D, "full rows"));
    row_target t = {Jd, D, 0};
    TTP_CALL_GOTO(ctx, st, done, backward_dev(ctx, g, J ? &t : NULL, NULL, gx != NULL));
    if (J) TTP_CALL_GOTO(ctx, st, done, g->ops->get(g->st, ctx, J, Jd, nr * D, "full rows"));
    if (gx)
        TTP_CALL_GOTO(ctx, st, done,
                      g->ops->get(g->st, ctx, gx, g->gx, nr * g->d.in_size, "input gradients"));
done:
    g->ops->release(g->st, Jd);
    return st;
}

/* ---- the Jacobian stage ------------------------------------------------------- */

/* G (nr, K) = Jfull (nr, D) · P, P generated in row tiles of tile_k. */
static ttp_status dense_project(ttp_ctx *ctx, ttp_gnet *g, int64_t nr)
{
    const int64_t D = g->d.D, K = g->d.dim;
    for (int64_t k0 = 0; k0 < D; k0 += g->tile_k) {
        const int64_t nk = D - k0 < g->tile_k ? D - k0 : g->tile_k;
        gnet_ew e = ew_new(GNET_EW_PROJ_GEN, nk * K);
        e.kind = (int)g->d.kind, e.key = g->d.key, e.k0 = k0, e.m = K, e.dproj = K;
        e.scale = 1.0 / sqrt((double)K);
        e.out = g->ptile;
        EW(g, ctx, e, "projection tile");
        TTP_CALL(ctx, gemm(g, ctx, 0, 0, nr, K, nk, 1.0, g->Jfull + k0, D, 0, g->ptile, K, 0,
                           k0 == 0 ? 0.0 : 1.0, g->G, K, 0, 1, "G = J P"));
    }
    return TTP_OK;
}

ttp_status ttp_gnet_rows(ttp_ctx *ctx, ttp_gnet *g, const double *x, int64_t ns, double *G, double *f0,
                         double *u0, double *gram)
{
    ttp_status st = TTP_OK;
    const gnet_ops *o = g->ops;
    const int64_t C = g->d.nout, K = g->d.dim, D = g->d.D, in = g->d.in_size;
    double *hgram = NULL;
    if (g->R != C)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "device Jacobian rows: the network was opened for %lld rows per "
                       "sample, the model has C = %lld outputs",
                       (long long)g->R, (long long)C);
    if (ns < 0 || (ns > 0 && !x))
        return TTP_ERR(ctx, TTP_ERR_ARG, "device Jacobian rows: %lld samples, x %p", (long long)ns,
                       (void *)x);
    if (gram) {
        TTP_CALL(ctx, o->alloc(g->st, ctx, &g->gram, K * K, "local Gram matrix"));
    }
    {
        gnet_ew e = ew_new(GNET_EW_IDENTITY_ROWS, g->nbmax * C * C);
        e.m = C, e.out = g->dout;
        EW(g, ctx, e, "identity cotangents");
    }
    const int kron = g->d.kind == TTP_PROJ_KRON,
              dense = g->d.kind == TTP_PROJ_RADEMACHER || g->d.kind == TTP_PROJ_GAUSSIAN;
    row_target t = {dense ? g->Jfull : g->G, dense ? D : K, kron};
    /* Inputs are double-buffered: block i+1 is copied in (on its own stream)
     * while block i computes. */
    if (ns > 0) {
        const int64_t nb0 = ns < g->nbmax ? ns : g->nbmax;
        TTP_CALL_GOTO(ctx, st, done, o->put_async(g->st, ctx, 0, g->xslot[0], x, nb0 * in, "inputs"));
    }
    for (int64_t s0 = 0, blk = 0; s0 < ns; s0 += g->nbmax, blk++) {
        const int64_t nb = ns - s0 < g->nbmax ? ns - s0 : g->nbmax, nr = nb * C;
        const int slot = (int)(blk & 1);
        TTP_CALL_GOTO(ctx, st, done, o->wait_put(g->st, ctx, slot));
        g->x = g->xslot[slot];
        TTP_CALL_GOTO(ctx, st, done, forward_dev(ctx, g, nb));
        {
            gnet_ew e = ew_new(GNET_EW_COPY, nr * C);
            e.a = g->dout, e.out = g->grad[g->d.nlayers - 1];
            TTP_CALL_GOTO(ctx, st, done, run_ew(g, ctx, &e, "cotangents"));
        }
        if (u0) {
            gnet_ew e = ew_new(GNET_EW_ZERO, nr);
            e.out = g->u0;
            TTP_CALL_GOTO(ctx, st, done, run_ew(g, ctx, &e, "zero u0"));
        }
        TTP_CALL_GOTO(ctx, st, done, backward_dev(ctx, g, &t, u0 ? g->u0 : NULL, 0));
        TTP_CALL_GOTO(ctx, st, done, o->release_put(g->st, ctx, slot));
        if (s0 + g->nbmax < ns) {
            const int64_t s1 = s0 + g->nbmax, nb1 = ns - s1 < g->nbmax ? ns - s1 : g->nbmax;
            TTP_CALL_GOTO(
                ctx, st, done,
                o->put_async(g->st, ctx, slot ^ 1, g->xslot[slot ^ 1], x + s1 * in, nb1 * in, "inputs"));
        }
        if (dense) TTP_CALL_GOTO(ctx, st, done, dense_project(ctx, g, nr));
        if (gram)
            TTP_CALL_GOTO(ctx, st, done, o->syrk(g->st, ctx, g->G, nr, K, K, g->gram, "local Gram GᵀG"));
        if (G)
            TTP_CALL_GOTO(ctx, st, done, o->get(g->st, ctx, G + s0 * C * K, g->G, nr * K, "projected rows"));
        if (f0)
            TTP_CALL_GOTO(ctx, st, done,
                          o->get(g->st, ctx, f0 + s0 * C, g->act[g->d.nlayers - 1], nb * C, "outputs"));
        if (u0) TTP_CALL_GOTO(ctx, st, done, o->get(g->st, ctx, u0 + s0 * C, g->u0, nr, "u0"));
    }
    if (gram) {
        TTP_ALLOC(ctx, st, done, hgram, K * K, "local Gram matrix");
        TTP_CALL_GOTO(ctx, st, done, o->get(g->st, ctx, hgram, g->gram, K * K, "local Gram matrix"));
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = i; j < K; j++) {
                gram[i * K + j] += hgram[i * K + j];
                if (j > i) gram[j * K + i] += hgram[i * K + j];
            }
    }
done:
    free(hgram);
    if (g->gram) {
        o->release(g->st, g->gram);
        g->gram = NULL;
    }
    return st;
}
