/*
 * net.c — the network engine: batched float64 forward and backward passes
 * over a ttp_model's layer graph, and per-sample gradient factors for the
 * Jacobian builder.  Losses (MSE, cross-entropy) live here too, because
 * training and the simulated dynamics must evaluate them identically.
 *
 * Layout: every tensor is row-major (B, C, H, W) with B the batch; a vector
 * of F features is (B, F, 1, 1).  Dense and conv layers go through
 * cblas_dgemm (conv via im2col), so the engine runs at the BLAS rate where
 * the work is.  Each layer's output has its own activation buffer and its
 * own gradient buffer: gradients arriving from several consumers (the skip
 * connection of a residual block) are summed into that buffer, and since a
 * layer only reads earlier layers, walking the layers backwards completes
 * every gradient before it is used.
 */
#include "ttp_net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ttp_net {
    const ttp_model *m;
    int64_t nbmax;
    int64_t nb;       /* batch of the last forward; 0 before the first one   */
    int64_t in_size;  /* values per input sample                            */
    int64_t *size;    /* values per sample of each layer's output           */
    double *x;        /* (nbmax, in) copy of the last input                 */
    double *gx;       /* (nbmax, in) input gradient                         */
    double **act;     /* per layer (nbmax, size[l])                         */
    double **grad;    /* per layer (nbmax, size[l]) gradient of the output  */
    double **col;     /* conv layers: (nbmax, npos, in_ch·k·k) im2col       */
    int64_t **amax;   /* maxpool layers: (nbmax, size[l]) argmax in input   */
    double *wsa;      /* conv workspace (nbmax·npos, out_ch), BN factors    */
    double *wsb;      /* conv workspace (nbmax·npos, in_ch·k·k)             */
    char *up;         /* layer's output gradient matters for some parameter */
    int64_t *col_off; /* first column among trainable parameters            */
};

static int64_t prod3(const int64_t s[3])
{
    return s[0] * s[1] * s[2];
}

void ttp_net_destroy(ttp_net **pn)
{
    if (pn == NULL || *pn == NULL) return;
    ttp_net *n = *pn;
    int L = n->m->nlayers;
    for (int l = 0; l < L; l++) {
        if (n->act) free(n->act[l]);
        if (n->grad) free(n->grad[l]);
        if (n->col) free(n->col[l]);
        if (n->amax) free(n->amax[l]);
    }
    free(n->act);
    free(n->grad);
    free(n->col);
    free(n->amax);
    free(n->size);
    free(n->x);
    free(n->gx);
    free(n->wsa);
    free(n->wsb);
    free(n->up);
    free(n->col_off);
    free(n);
    *pn = NULL;
}

ttp_status ttp_net_create(ttp_ctx *ctx, const ttp_model *m, int64_t nbmax, ttp_net **out)
{
    ttp_status st = TTP_OK;
    ttp_net *n = NULL;
    *out = NULL;
    if (nbmax < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "network batch capacity %lld, expected >= 1", (long long)nbmax);
    if (m->w == NULL || m->nlayers < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "network: the model is not built (call ttp_model_build)");
    int L = m->nlayers;
    TTP_ALLOC(ctx, st, fail, n, 1, "network");
    n->m = m;
    n->nbmax = nbmax;
    n->in_size = prod3(m->in_shape);
    TTP_ALLOC(ctx, st, fail, n->size, L, "network sizes");
    TTP_ALLOC(ctx, st, fail, n->act, L, "network activations");
    TTP_ALLOC(ctx, st, fail, n->grad, L, "network gradients");
    TTP_ALLOC(ctx, st, fail, n->col, L, "network im2col");
    TTP_ALLOC(ctx, st, fail, n->amax, L, "network pooling indices");
    TTP_ALLOC(ctx, st, fail, n->up, L, "network flags");
    TTP_ALLOC(ctx, st, fail, n->col_off, L, "network column offsets");
    TTP_ALLOC(ctx, st, fail, n->x, nbmax * n->in_size, "network input copy");
    TTP_ALLOC(ctx, st, fail, n->gx, nbmax * n->in_size, "network input gradient");
    int64_t wa = 1, wb = 1, coff = 0;
    for (int l = 0; l < L; l++) {
        const ttp_layer *Ly = &m->layers[l];
        n->size[l] = prod3(Ly->out_shape);
        {
            /* BLAS sees batch x positions (the rows of the im2col GEMMs) as
             * an int: checked once here, so that the (int) casts below hold */
            int64_t e = 0;
            const int64_t pos = Ly->in_shape[1] * Ly->in_shape[2] > Ly->out_shape[1] * Ly->out_shape[2]
                                    ? Ly->in_shape[1] * Ly->in_shape[2]
                                    : Ly->out_shape[1] * Ly->out_shape[2];
            TTP_CALL_GOTO(ctx, st, fail,
                          ttp_size_mul(ctx, nbmax, pos, TTP_SIZE_INT, &e,
                                       "network: batch of %lld x positions of layer %d '%s'",
                                       (long long)nbmax, l, Ly->name));
        }
        TTP_ALLOC(ctx, st, fail, n->act[l], nbmax * n->size[l], "layer activations");
        TTP_ALLOC(ctx, st, fail, n->grad[l], nbmax * n->size[l], "layer gradients");
        if (Ly->kind == TTP_LAYER_CONV2D) {
            int64_t npos = Ly->out_shape[1] * Ly->out_shape[2];
            int64_t k = Ly->in_shape[0] * Ly->kernel * Ly->kernel;
            TTP_ALLOC(ctx, st, fail, n->col[l], nbmax * npos * k, "im2col patches");
            if (nbmax * npos * Ly->units > wa) wa = nbmax * npos * Ly->units;
            if (nbmax * npos * k > wb) wb = nbmax * npos * k;
        }
        if (Ly->kind == TTP_LAYER_BATCHNORM && nbmax * Ly->nw > wa) wa = nbmax * Ly->nw;
        if (Ly->kind == TTP_LAYER_MAXPOOL)
            TTP_ALLOC(ctx, st, fail, n->amax[l], nbmax * n->size[l], "pooling indices");
        /* A layer's output gradient is needed when the layer, or anything
         * it reads from, has trainable parameters. */
        int up = Ly->trainable && Ly->nw > 0;
        int nin = Ly->kind == TTP_LAYER_ADD ? 2 : 1;
        for (int k2 = 0; k2 < nin; k2++)
            if (Ly->input[k2] >= 0 && n->up[Ly->input[k2]]) up = 1;
        n->up[l] = (char)up;
        n->col_off[l] = coff;
        if (Ly->trainable) coff += Ly->nw;
    }
    TTP_ALLOC(ctx, st, fail, n->wsa, wa, "conv workspace");
    TTP_ALLOC(ctx, st, fail, n->wsb, wb, "conv workspace");
    *out = n;
    return TTP_OK;
fail:
    ttp_net_destroy(&n);
    return st;
}

static const double *tensor(const ttp_net *n, int j)
{
    return j < 0 ? n->x : n->act[j];
}

/* ---- forward kernels ----------------------------------------------------- */

/* Dense: x (nb, n) → y (nb, m) = x Wᵀ + b, W (m, n) row-major. */
static void dense_fwd(const ttp_layer *L, const double *w, const double *x, int64_t nb, double *y)
{
    int64_t m = L->units, nin = prod3(L->in_shape);
    const double *W = w + L->woff, *bias = W + m * nin;
    for (int64_t b = 0; b < nb; b++) memcpy(y + b * m, bias, (size_t)m * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)m, (int)nin, 1.0, x, (int)nin, W,
                (int)nin, 1.0, y, (int)m);
}

/* im2col of one sample: x (C, H, W) → col (npos, C·k·k), patch entries in
 * the order (c, ki, kj) of the weight layout, zero where the window reads
 * padding. */
static void im2col(const ttp_layer *L, const double *x, double *col)
{
    int64_t C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
    int64_t Ho = L->out_shape[1], Wo = L->out_shape[2], k = L->kernel, s = L->stride, p = L->pad;
    int64_t n = C * k * k;
    for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
            double *row = col + (oh * Wo + ow) * n;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ki = 0; ki < k; ki++) {
                    int64_t ih = oh * s - p + ki;
                    for (int64_t kj = 0; kj < k; kj++) {
                        int64_t iw = ow * s - p + kj;
                        row[(c * k + ki) * k + kj] =
                            (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0;
                    }
                }
        }
}

/* col2im of one sample, accumulating: dx (C, H, W) += scatter of dcol. */
static void col2im_add(const ttp_layer *L, const double *dcol, double *dx)
{
    int64_t C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
    int64_t Ho = L->out_shape[1], Wo = L->out_shape[2], k = L->kernel, s = L->stride, p = L->pad;
    int64_t n = C * k * k;
    for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
            const double *row = dcol + (oh * Wo + ow) * n;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ki = 0; ki < k; ki++) {
                    int64_t ih = oh * s - p + ki;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kj = 0; kj < k; kj++) {
                        int64_t iw = ow * s - p + kj;
                        if (iw >= 0 && iw < W) dx[(c * H + ih) * W + iw] += row[(c * k + ki) * k + kj];
                    }
                }
        }
}

/* Conv: x (nb, C, H, W) → y (nb, m, Ho, Wo).  One GEMM for the whole batch:
 * T (nb·npos, m) = col (nb·npos, n) Wᵀ, then T is transposed per sample
 * into the (m, npos) output planes. */
static void conv_fwd(ttp_net *net, int l, const double *w, const double *x, int64_t nb, double *y)
{
    const ttp_layer *L = &net->m->layers[l];
    int64_t m = L->units, npos = L->out_shape[1] * L->out_shape[2];
    int64_t n = L->in_shape[0] * L->kernel * L->kernel, in = prod3(L->in_shape);
    const double *W = w + L->woff, *bias = W + m * n;
    double *col = net->col[l], *T = net->wsa;
    for (int64_t b = 0; b < nb; b++) im2col(L, x + b * in, col + b * npos * n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nb * npos), (int)m, (int)n, 1.0, col, (int)n,
                W, (int)n, 0.0, T, (int)m);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t o = 0; o < m; o++) {
            double *yo = y + (b * m + o) * npos;
            const double *Tb = T + b * npos * m + o;
            for (int64_t p = 0; p < npos; p++) yo[p] = Tb[p * m] + bias[o];
        }
}

/* Pooling: x (nb, C, H, W) → y (nb, C, Ho, Wo), window k, stride s, no padding. */
static void pool_fwd(const ttp_layer *L, const double *x, int64_t nb, double *y, int64_t *amax)
{
    int64_t C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
    int64_t Ho = L->out_shape[1], Wo = L->out_shape[2], k = L->kernel, s = L->stride;
    int is_max = L->kind == TTP_LAYER_MAXPOOL;
    double inv = 1.0 / (double)(k * k);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c = 0; c < C; c++) {
            const double *xc = x + (b * C + c) * H * W;
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    int64_t o = ((b * C + c) * Ho + oh) * Wo + ow;
                    double acc = is_max ? -INFINITY : 0.0;
                    int64_t arg = 0;
                    for (int64_t ki = 0; ki < k; ki++)
                        for (int64_t kj = 0; kj < k; kj++) {
                            int64_t idx = (oh * s + ki) * W + (ow * s + kj);
                            double v = xc[idx];
                            if (!is_max)
                                acc += v;
                            else if (v > acc)
                                acc = v, arg = idx; /* first maximum wins ties */
                        }
                    y[o] = is_max ? acc : acc * inv;
                    if (is_max) amax[o] = c * H * W + arg;
                }
        }
}

/* Batch norm, inference form, per channel c of (nb, C, HW):
 * y = γ_c (x − μ_c) / sqrt(σ²_c + eps) + β_c with frozen μ, σ². */
static void bn_fwd(const ttp_model *M, const ttp_layer *L, const double *w, const double *x, int64_t nb,
                   double *y)
{
    int64_t C = L->in_shape[0], hw = L->in_shape[1] * L->in_shape[2];
    const double *g = w + L->woff, *be = g + C, *mu = M->state + L->soff, *var = mu + C;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c = 0; c < C; c++) {
            double sc = g[c] / sqrt(var[c] + L->eps), sh = be[c] - sc * mu[c];
            const double *xc = x + (b * C + c) * hw;
            double *yc = y + (b * C + c) * hw;
            for (int64_t p = 0; p < hw; p++) yc[p] = sc * xc[p] + sh;
        }
}

/* ---- elementwise activations ---------------------------------------------
 * Forward values and derivatives, one place for both passes.  The
 * derivative takes the input x and the output y, whichever is cheaper:
 * sigmoid' = y(1 − y), tanh' = 1 − y², gelu' = Φ(x) + x φ(x). */

static double sigmoid(double x)
{
    /* never exp of a large positive number: no overflow, full accuracy */
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

#define TTP_SQRT1_2 0.70710678118654752440     /* 1/√2  */
#define TTP_INV_SQRT2PI 0.39894228040143267794 /* 1/√(2π) */

static void act_fwd(const ttp_layer *L, const double *x, int64_t n, double *y)
{
    switch (L->kind) {
    case TTP_LAYER_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = sigmoid(x[i]);
        break;
    case TTP_LAYER_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanh(x[i]);
        break;
    case TTP_LAYER_LEAKYRELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0 ? x[i] : L->alpha * x[i];
        break;
    default: /* TTP_LAYER_GELU */
        /* erfc(−x/√2) = 1 + erf(x/√2) without the cancellation for x << 0 */
        for (int64_t i = 0; i < n; i++) y[i] = 0.5 * x[i] * erfc(-x[i] * TTP_SQRT1_2);
        break;
    }
}

/* dx += f'(x) ⊙ dy */
static void act_bwd(const ttp_layer *L, const double *x, const double *y, const double *dy, int64_t n,
                    double *dx)
{
    switch (L->kind) {
    case TTP_LAYER_SIGMOID:
        for (int64_t i = 0; i < n; i++) dx[i] += y[i] * (1.0 - y[i]) * dy[i];
        break;
    case TTP_LAYER_TANH:
        for (int64_t i = 0; i < n; i++) dx[i] += (1.0 - y[i] * y[i]) * dy[i];
        break;
    case TTP_LAYER_LEAKYRELU:
        for (int64_t i = 0; i < n; i++) dx[i] += (x[i] > 0.0 ? 1.0 : L->alpha) * dy[i];
        break;
    default: /* TTP_LAYER_GELU */
        for (int64_t i = 0; i < n; i++) {
            double cdf = 0.5 * erfc(-x[i] * TTP_SQRT1_2);
            double pdf = TTP_INV_SQRT2PI * exp(-0.5 * x[i] * x[i]);
            dx[i] += (cdf + x[i] * pdf) * dy[i];
        }
        break;
    }
}

ttp_status ttp_net_forward(ttp_ctx *ctx, ttp_net *net, const double *w, const double *x, int64_t nb,
                           double *out)
{
    const ttp_model *M = net->m;
    if (nb < 1 || nb > net->nbmax)
        return TTP_ERR(ctx, TTP_ERR_ARG, "forward pass on %lld samples, the network holds 1..%lld",
                       (long long)nb, (long long)net->nbmax);
    memcpy(net->x, x, (size_t)(nb * net->in_size) * sizeof(double));
    for (int l = 0; l < M->nlayers; l++) {
        const ttp_layer *L = &M->layers[l];
        const double *in = tensor(net, L->input[0]);
        double *y = net->act[l];
        int64_t sz = net->size[l];
        switch (L->kind) {
        case TTP_LAYER_DENSE: dense_fwd(L, w, in, nb, y); break;
        case TTP_LAYER_CONV2D: conv_fwd(net, l, w, in, nb, y); break;
        case TTP_LAYER_RELU:
            for (int64_t i = 0; i < nb * sz; i++) y[i] = in[i] > 0.0 ? in[i] : 0.0;
            break;
        case TTP_LAYER_SIGMOID:
        case TTP_LAYER_TANH:
        case TTP_LAYER_LEAKYRELU:
        case TTP_LAYER_GELU: act_fwd(L, in, nb * sz, y); break;
        case TTP_LAYER_BATCHNORM: bn_fwd(M, L, w, in, nb, y); break;
        case TTP_LAYER_MAXPOOL:
        case TTP_LAYER_AVGPOOL: pool_fwd(L, in, nb, y, net->amax[l]); break;
        case TTP_LAYER_GAP: {
            int64_t C = L->in_shape[0], hw = L->in_shape[1] * L->in_shape[2];
            for (int64_t bc = 0; bc < nb * C; bc++) {
                double s = 0.0;
                for (int64_t p = 0; p < hw; p++) s += in[bc * hw + p];
                y[bc] = s / (double)hw;
            }
            break;
        }
        case TTP_LAYER_FLATTEN: memcpy(y, in, (size_t)(nb * sz) * sizeof(double)); break;
        case TTP_LAYER_ADD: {
            const double *in2 = tensor(net, L->input[1]);
            for (int64_t i = 0; i < nb * sz; i++) y[i] = in[i] + in2[i];
            break;
        }
        default:
            return TTP_ERR(ctx, TTP_ERR_INTERNAL, "layer %d '%s': unknown kind %d", l, L->name, (int)L->kind);
        }
    }
    net->nb = nb;
    memcpy(out, net->act[M->nlayers - 1], (size_t)(nb * M->nout) * sizeof(double));
    return TTP_OK;
}

/* ---- backward ------------------------------------------------------------ */

/* Where a layer's input gradient goes: the producer's gradient buffer, the
 * network-input buffer, or nowhere (NULL) when nobody needs it. */
static double *grad_target(ttp_net *n, int j, int want_gx)
{
    if (j < 0) return want_gx ? n->gx : NULL;
    return want_gx || n->up[j] ? n->grad[j] : NULL;
}

typedef struct {
    double *grad_w;      /* summed mode: add here (NULL: no weight gradient) */
    ttp_grad_sink *sink; /* factor mode                                      */
    int64_t ncot;        /* cotangent rows per forward sample (factor mode)  */
} bwd_mode;

static ttp_status backward_impl(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout,
                                bwd_mode mode, double *grad_x)
{
    const ttp_model *M = net->m;
    /* nb: cotangent rows; row b belongs to forward sample b / q, whose
     * activations serve all of its q rows (q = 1 but in factor mode) */
    const int64_t q = mode.ncot;
    int64_t nb = net->nb * q;
    int want_gx = grad_x != NULL;
    if (net->nb < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "backward pass without a forward pass on this network");
    if (q < 1 || (q > 1 && (mode.grad_w || want_gx)))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "backward pass with %lld cotangents per sample: expected 1, or more "
                       "in factor mode only",
                       (long long)q);
    if (nb > net->nbmax)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "backward pass on %lld samples x %lld cotangents: the network holds %lld rows",
                       (long long)net->nb, (long long)q, (long long)net->nbmax);
    for (int l = 0; l < M->nlayers; l++)
        memset(net->grad[l], 0, (size_t)(nb * net->size[l]) * sizeof(double));
    if (want_gx) memset(net->gx, 0, (size_t)(nb * net->in_size) * sizeof(double));
    memcpy(net->grad[M->nlayers - 1], dout, (size_t)(nb * M->nout) * sizeof(double));

    for (int l = M->nlayers - 1; l >= 0; l--) {
        const ttp_layer *L = &M->layers[l];
        const double *dy = net->grad[l], *in = tensor(net, L->input[0]);
        double *dx = grad_target(net, L->input[0], want_gx);
        int params = L->trainable && L->nw > 0 && (mode.grad_w || mode.sink);
        int64_t sz = net->size[l], isz = prod3(L->in_shape);
        if (!params && dx == NULL && L->kind != TTP_LAYER_ADD) continue;
        switch (L->kind) {
        case TTP_LAYER_DENSE: {
            /* y (nb, m) = x (nb, n) Wᵀ + b */
            int64_t m = L->units, n = isz;
            const double *W = w + L->woff;
            if (params && mode.grad_w) {
                double *dW = mode.grad_w + L->woff, *db = dW + m * n;
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)n, (int)nb, 1.0, dy, (int)m,
                            in, (int)n, 1.0, dW, (int)n);
                for (int64_t b = 0; b < nb; b++)
                    for (int64_t o = 0; o < m; o++) db[o] += dy[b * m + o];
            } else if (params) {
                ttp_factors f = {
                    TTP_FACTOR_OUTER, l, L->woff, L->nw, net->col_off[l], nb, m, n, 1, 1, dy, in, NULL, q};
                TTP_CALL(ctx, mode.sink->layer(mode.sink->user, &f, ctx));
            }
            if (dx)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n, (int)m, 1.0, dy,
                            (int)m, W, (int)n, 1.0, dx, (int)n);
            break;
        }
        case TTP_LAYER_CONV2D: {
            /* y (nb, m, npos) = W (m, n) colᵀ per sample; col (nb, npos, n) */
            int64_t m = L->units, npos = L->out_shape[1] * L->out_shape[2];
            int64_t n = L->in_shape[0] * L->kernel * L->kernel;
            const double *W = w + L->woff, *col = net->col[l];
            double *DT = net->wsa; /* (nb·npos, m) */
            if (params && mode.sink) {
                ttp_factors f = {TTP_FACTOR_OUTER,
                                 l,
                                 L->woff,
                                 L->nw,
                                 net->col_off[l],
                                 nb,
                                 m,
                                 n,
                                 npos,
                                 1,
                                 dy,
                                 col,
                                 NULL,
                                 q};
                TTP_CALL(ctx, mode.sink->layer(mode.sink->user, &f, ctx));
            }
            if (!(params && mode.grad_w) && dx == NULL) break;
            for (int64_t b = 0; b < nb; b++)
                for (int64_t o = 0; o < m; o++) {
                    const double *d = dy + (b * m + o) * npos;
                    double *t = DT + b * npos * m + o;
                    for (int64_t p = 0; p < npos; p++) t[p * m] = d[p];
                }
            if (params && mode.grad_w) {
                double *dW = mode.grad_w + L->woff, *db = dW + m * n;
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)n, (int)(nb * npos), 1.0,
                            DT, (int)m, col, (int)n, 1.0, dW, (int)n);
                for (int64_t bo = 0; bo < nb * m; bo++) {
                    double s = 0.0;
                    for (int64_t p = 0; p < npos; p++) s += dy[bo * npos + p];
                    db[bo % m] += s;
                }
            }
            if (dx) {
                double *dcol = net->wsb; /* (nb·npos, n) */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * npos), (int)n, (int)m, 1.0,
                            DT, (int)m, W, (int)n, 0.0, dcol, (int)n);
                for (int64_t b = 0; b < nb; b++) col2im_add(L, dcol + b * npos * n, dx + b * isz);
            }
            break;
        }
        case TTP_LAYER_RELU: {
            for (int64_t b = 0; b < nb; b++) {
                const double *y = net->act[l] + b / q * sz, *d = dy + b * sz;
                double *o = dx + b * sz;
                for (int64_t i = 0; i < sz; i++)
                    if (y[i] > 0.0) o[i] += d[i];
            }
            break;
        }
        case TTP_LAYER_SIGMOID:
        case TTP_LAYER_TANH:
        case TTP_LAYER_LEAKYRELU:
        case TTP_LAYER_GELU:
            if (q == 1)
                act_bwd(L, in, net->act[l], dy, nb * sz, dx);
            else
                for (int64_t b = 0; b < nb; b++)
                    act_bwd(L, in + b / q * sz, net->act[l] + b / q * sz, dy + b * sz, sz, dx + b * sz);
            break;
        case TTP_LAYER_BATCHNORM: {
            int64_t C = L->in_shape[0], hw = L->in_shape[1] * L->in_shape[2];
            const double *g = w + L->woff, *mu = M->state + L->soff, *var = mu + C;
            if (params) {
                /* Per-sample (dγ, dβ) rows, (nb, 2C), summed or handed over. */
                double *G = net->wsa;
                for (int64_t b = 0; b < nb; b++)
                    for (int64_t c = 0; c < C; c++) {
                        double inv = 1.0 / sqrt(var[c] + L->eps), sg = 0.0, sb = 0.0;
                        const double *d = dy + (b * C + c) * hw, *xc = in + (b / q * C + c) * hw;
                        for (int64_t p = 0; p < hw; p++) {
                            sg += d[p] * (xc[p] - mu[c]) * inv;
                            sb += d[p];
                        }
                        G[b * 2 * C + c] = sg;
                        G[b * 2 * C + C + c] = sb;
                    }
                if (mode.grad_w) {
                    double *dg = mode.grad_w + L->woff;
                    for (int64_t b = 0; b < nb; b++)
                        for (int64_t j = 0; j < 2 * C; j++) dg[j] += G[b * 2 * C + j];
                } else {
                    ttp_factors f = {TTP_FACTOR_DIRECT,
                                     l,
                                     L->woff,
                                     L->nw,
                                     net->col_off[l],
                                     nb,
                                     0,
                                     0,
                                     0,
                                     0,
                                     NULL,
                                     NULL,
                                     G,
                                     q};
                    TTP_CALL(ctx, mode.sink->layer(mode.sink->user, &f, ctx));
                }
            }
            if (dx)
                for (int64_t b = 0; b < nb; b++)
                    for (int64_t c = 0; c < C; c++) {
                        double sc = g[c] / sqrt(var[c] + L->eps);
                        const double *d = dy + (b * C + c) * hw;
                        double *o = dx + (b * C + c) * hw;
                        for (int64_t p = 0; p < hw; p++) o[p] += sc * d[p];
                    }
            break;
        }
        case TTP_LAYER_MAXPOOL: {
            const int64_t *am = net->amax[l];
            for (int64_t b = 0; b < nb; b++)
                for (int64_t o = 0; o < sz; o++) dx[b * isz + am[b / q * sz + o]] += dy[b * sz + o];
            break;
        }
        case TTP_LAYER_AVGPOOL: {
            int64_t C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
            int64_t Ho = L->out_shape[1], Wo = L->out_shape[2], k = L->kernel, s = L->stride;
            double inv = 1.0 / (double)(k * k);
            for (int64_t bc = 0; bc < nb * C; bc++)
                for (int64_t oh = 0; oh < Ho; oh++)
                    for (int64_t ow = 0; ow < Wo; ow++) {
                        double d = dy[(bc * Ho + oh) * Wo + ow] * inv;
                        for (int64_t ki = 0; ki < k; ki++)
                            for (int64_t kj = 0; kj < k; kj++)
                                dx[bc * H * W + (oh * s + ki) * W + ow * s + kj] += d;
                    }
            break;
        }
        case TTP_LAYER_GAP: {
            int64_t C = L->in_shape[0], hw = L->in_shape[1] * L->in_shape[2];
            for (int64_t bc = 0; bc < nb * C; bc++) {
                double d = dy[bc] / (double)hw;
                for (int64_t p = 0; p < hw; p++) dx[bc * hw + p] += d;
            }
            break;
        }
        case TTP_LAYER_FLATTEN:
            for (int64_t i = 0; i < nb * sz; i++) dx[i] += dy[i];
            break;
        case TTP_LAYER_ADD: {
            /* Both operands receive the whole gradient; when both are the
             * same tensor it arrives twice, as it should. */
            double *dx2 = grad_target(net, L->input[1], want_gx);
            if (dx)
                for (int64_t i = 0; i < nb * sz; i++) dx[i] += dy[i];
            if (dx2)
                for (int64_t i = 0; i < nb * sz; i++) dx2[i] += dy[i];
            break;
        }
        default:
            return TTP_ERR(ctx, TTP_ERR_INTERNAL, "layer %d '%s': unknown kind %d", l, L->name, (int)L->kind);
        }
    }
    if (want_gx) memcpy(grad_x, net->gx, (size_t)(nb * net->in_size) * sizeof(double));
    return TTP_OK;
}

ttp_status ttp_net_backward(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout, double *grad_w,
                            double *grad_x)
{
    bwd_mode mode = {grad_w, NULL, 1};
    TTP_CALL(ctx, backward_impl(ctx, net, w, dout, mode, grad_x));
    return TTP_OK;
}

ttp_status ttp_net_backward_factors(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout,
                                    ttp_grad_sink *sink)
{
    return ttp_net_backward_factors_multi(ctx, net, w, dout, 1, sink);
}

ttp_status ttp_net_backward_factors_multi(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout,
                                          int64_t ncot, ttp_grad_sink *sink)
{
    if (sink == NULL || sink->layer == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "backward factors: no sink given");
    bwd_mode mode = {NULL, sink, ncot};
    TTP_CALL(ctx, backward_impl(ctx, net, w, dout, mode, NULL));
    return TTP_OK;
}

int64_t ttp_net_capacity(const ttp_net *net)
{
    return net ? net->nbmax : 0;
}

/* ---- losses -------------------------------------------------------------- */

const char *ttp_loss_str(ttp_loss_kind k)
{
    switch (k) {
    case TTP_LOSS_MSE: return "mse";
    case TTP_LOSS_CE: return "ce";
    default: return "unknown";
    }
}

static int64_t argmax(const double *v, int c)
{
    int64_t a = 0;
    for (int k = 1; k < c; k++)
        if (v[k] > v[a]) a = k;
    return a;
}

/* Target value k of sample b: the real target when given, else one-hot. */
static double target(const int *labels, const double *targets, int64_t b, int c, int k)
{
    if (targets) return targets[b * c + k];
    return labels[b] == k ? 1.0 : 0.0;
}

double ttp_loss_eval(ttp_loss_kind kind, const double *f, const int *labels, const double *targets,
                     int64_t nb, int c, double *grad, int64_t *ncorrect)
{
    double total = 0.0;
    int64_t correct = 0;
    for (int64_t b = 0; b < nb; b++) {
        const double *fb = f + b * c;
        double *gb = grad ? grad + b * c : NULL;
        int64_t truth = labels ? labels[b] : argmax(targets + b * c, c);
        if (argmax(fb, c) == truth) correct++;
        if (kind == TTP_LOSS_CE) {
            /* −Σ_k t_k log softmax(f)_k, shifted by the max for stability;
             * gradient softmax·Σt − t (Σt = 1 for labels and proper soft targets). */
            double mx = fb[argmax(fb, c)], z = 0.0, tsum = 0.0;
            for (int k = 0; k < c; k++) z += exp(fb[k] - mx), tsum += target(labels, targets, b, c, k);
            double lz = mx + log(z);
            for (int k = 0; k < c; k++) {
                double t = target(labels, targets, b, c, k);
                if (t != 0.0) total -= t * (fb[k] - lz);
                if (gb) gb[k] = exp(fb[k] - lz) * tsum - t;
            }
        } else {
            for (int k = 0; k < c; k++) {
                double r = fb[k] - target(labels, targets, b, c, k);
                total += 0.5 * r * r;
                if (gb) gb[k] = r;
            }
        }
    }
    if (ncorrect) *ncorrect = correct;
    return nb > 0 ? total / (double)nb : 0.0;
}
