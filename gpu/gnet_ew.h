/*
 * gnet_ew.h — private to gpu/: the per-element bodies of the device network
 * (gnet.c), written once as inline functions that compile both as C11 (the
 * CPU twin, gnet_ref.c, loops over them) and as CUDA (gnet_cuda.cu calls
 * them from one thread per element).  Index math, activations and their
 * derivatives, pooling (with the argmax recomputed from the input),
 * im2col/col2im, batch norm, per-row gradient blocks and the dense
 * projection's entries all live here, so the only code the device runs that
 * the CPU twin does not is cuBLAS.
 *
 * Layouts (row-major throughout; "rows" is the backward pass's batch):
 *   activations of layer l   (nb, size_l)           one per sample
 *   gradients of layer l     (nr, size_l), nr = nb·R: R cotangent rows per
 *                            sample, row r belongs to sample r / R
 *   conv im2col              (nb, npos, Cin·k·k), patch order (c, ki, kj)
 *
 * Every op is a pure function of its arguments and the element index i, and
 * writes only element i of its output (gathers, never scatters), so the
 * device result does not depend on scheduling and equals the twin's up to
 * the last bits of exp/tanh/erfc (CUDA's and glibc's libm differ by ulps).
 */
#ifndef TTP_GNET_EW_H
#define TTP_GNET_EW_H

#include <math.h>
#include <stdint.h>

#include "ttp_rng.h" /* TTP_HD, the counter-based generator */

#define GNET_SQRT1_2 0.70710678118654752440     /* 1/√2  */
#define GNET_INV_SQRT2PI 0.39894228040143267794 /* 1/√(2π) */

/* Activation codes (the same formulas as the engine's net.c). */
enum { GNET_ACT_RELU = 0, GNET_ACT_SIGMOID, GNET_ACT_TANH, GNET_ACT_LEAKY, GNET_ACT_GELU };

/* Elementwise op codes; the arguments each reads are listed in gnet_ew_apply. */
typedef enum {
    GNET_EW_ZERO = 0,     /* out[i] = 0                                              */
    GNET_EW_COPY,         /* out[i] = a[i]                                           */
    GNET_EW_ADD2,         /* out[i] = a[i] + b[i]                                    */
    GNET_EW_ACC,          /* out[i] += a[i]                                          */
    GNET_EW_ACT_FWD,      /* out[i] = f(a[i])                                        */
    GNET_EW_ACT_BWD,      /* out[i] += f'(a[s], b[s]) · dy[i], s the sample element   */
    GNET_EW_DENSE_BIAS,   /* out[i] += bias[i % m]                                   */
    GNET_EW_CONV_OUT,     /* out (nb, m, npos) = T (nb·npos, m)ᵀ per sample + bias   */
    GNET_EW_IM2COL,       /* out (nb, npos, n) from a (nb, C, H, W)                  */
    GNET_EW_COL2IM,       /* out (nr, C, H, W) += gather of dy = dcol (nr, npos, n)  */
    GNET_EW_TRANSPOSE,    /* out (nr, npos, m) = dy (nr, m, npos) per row            */
    GNET_EW_BN_FWD,       /* out = γ (a − μ)/√(σ² + eps) + β                          */
    GNET_EW_BN_BWD,       /* out[i] += γ/√(σ² + eps) · dy[i]                          */
    GNET_EW_BN_GRAD,      /* per (row, c): out[r·ld + off + c] = dγ, [.. + C + c] = dβ */
    GNET_EW_POOL_FWD,     /* max or average pooling, window k, stride s, no padding */
    GNET_EW_POOL_BWD,     /* out (nr, C, H, W) += gather of dy through the windows   */
    GNET_EW_GAP_FWD,      /* out (nb, C) = mean over H·W                             */
    GNET_EW_GAP_BWD,      /* out (nr, C, H, W) += dy (nr, C) / (H·W)                 */
    GNET_EW_OUTER,        /* dense row block: out[r·ld + off + o·n + j] = dy[r,o]·a[s,j],
                           * then m biases dy[r, o] when has_bias                      */
    GNET_EW_ROWSUM,       /* out[r·ld + off + o] = Σ_p dy[(r·m + o)·npos + p]          */
    GNET_EW_DOT,          /* out[r] += Σ_j dy[r·n + j] · a[(r/R)·n + j]                 */
    GNET_EW_REPL,         /* out[r·ld + off + t] = Σ_q dy[(r·npos + q)·m + t] ·
                           *                        a[((r/R)·npos + q)·n + t], t < m     */
    GNET_EW_PROJ_GEN,     /* out[kk·m + jj] = P[k0 + kk, jj] of the dense projection  */
    GNET_EW_IDENTITY_ROWS /* out (nr, m) = e_{r mod m}: the Jacobian's cotangents     */
} gnet_ew_op;

/*
 * The arguments of one elementwise op, passed by value to the device kernel.
 * Shapes: C, H, W the input's channels and plane; Ho, Wo the output plane;
 * k, s, pad the window; m, n, npos the GEMM-side sizes; R rows per sample;
 * ld, off the output row stride and column offset.
 */
typedef struct gnet_ew {
    int op, act, is_max, has_bias, kind;
    int64_t n_el; /* elements (threads) */
    int64_t C, H, W, Ho, Wo, k, s, pad;
    int64_t m, n, npos, R, ld, off;
    double alpha, eps, scale;
    uint64_t key;
    int64_t k0, dproj;
    const double *a, *b, *dy, *p0, *p1, *p2, *p3; /* p0..p3: γ, β, μ, σ²; bias in p0 */
    double *out;
} gnet_ew;

TTP_HD double gnet_sigmoid(double x)
{
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

TTP_HD double gnet_act(int act, double alpha, double x)
{
    switch (act) {
    case GNET_ACT_RELU: return x > 0.0 ? x : 0.0;
    case GNET_ACT_SIGMOID: return gnet_sigmoid(x);
    case GNET_ACT_TANH: return tanh(x);
    case GNET_ACT_LEAKY: return x > 0.0 ? x : alpha * x;
    default: return 0.5 * x * erfc(-x * GNET_SQRT1_2); /* GELU, exact (erf) form */
    }
}

/* f'(x), from the input x or the output y, whichever the engine uses. */
TTP_HD double gnet_act_deriv(int act, double alpha, double x, double y)
{
    switch (act) {
    case GNET_ACT_RELU: return y > 0.0 ? 1.0 : 0.0;
    case GNET_ACT_SIGMOID: return y * (1.0 - y);
    case GNET_ACT_TANH: return 1.0 - y * y;
    case GNET_ACT_LEAKY: return x > 0.0 ? 1.0 : alpha;
    default: return 0.5 * erfc(-x * GNET_SQRT1_2) + x * GNET_INV_SQRT2PI * exp(-0.5 * x * x);
    }
}

/* Index of the window's maximum in the (H, W) plane xc; the first maximum
 * wins ties (as net.c). */
TTP_HD int64_t gnet_pool_argmax(const double *xc, int64_t W, int64_t oh, int64_t ow, int64_t k, int64_t s)
{
    double acc = -INFINITY;
    int64_t arg = 0;
    for (int64_t ki = 0; ki < k; ki++)
        for (int64_t kj = 0; kj < k; kj++) {
            int64_t idx = (oh * s + ki) * W + (ow * s + kj);
            if (xc[idx] > acc) acc = xc[idx], arg = idx;
        }
    return arg;
}

/* Dense projection entry P[k, j] (ttp_proj_entry's expression; scale = 1/√D′). */
TTP_HD double gnet_proj_entry(int kind, uint64_t key, int64_t k, int64_t j, int64_t dproj, double scale)
{
    const uint64_t c = (uint64_t)k * (uint64_t)dproj + (uint64_t)j;
    if (kind == 1 /* TTP_PROJ_RADEMACHER */) return (ttp_rng_hash(key, c) & 1u) ? -scale : scale;
    double u1 = ttp_rng_hash_uniform(key, 2 * c);
    double u2 = ttp_rng_hash_uniform(key, 2 * c + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * scale;
}

/* Element i of op e (0 <= i < e->n_el). */
TTP_HD void gnet_ew_apply(const gnet_ew *e, int64_t i)
{
    switch (e->op) {
    case GNET_EW_ZERO: e->out[i] = 0.0; break;
    case GNET_EW_COPY: e->out[i] = e->a[i]; break;
    case GNET_EW_ADD2: e->out[i] = e->a[i] + e->b[i]; break;
    case GNET_EW_ACC: e->out[i] += e->a[i]; break;
    case GNET_EW_ACT_FWD: e->out[i] = gnet_act(e->act, e->alpha, e->a[i]); break;
    case GNET_EW_ACT_BWD: {
        /* i over (nr, n); the activations are per sample */
        const int64_t r = i / e->n, j = i % e->n, si = (r / e->R) * e->n + j;
        e->out[i] += gnet_act_deriv(e->act, e->alpha, e->a[si], e->b[si]) * e->dy[i];
        break;
    }
    case GNET_EW_DENSE_BIAS: e->out[i] += e->p0[i % e->m]; break;
    case GNET_EW_CONV_OUT: {
        /* i over (nb, m, npos) */
        const int64_t p = i % e->npos, o = (i / e->npos) % e->m, b = i / (e->npos * e->m);
        e->out[i] = e->a[(b * e->npos + p) * e->m + o] + e->p0[o];
        break;
    }
    case GNET_EW_IM2COL: {
        /* i over (nb, npos, n) with n = C·k·k, npos = Ho·Wo */
        const int64_t col = i % e->n, pos = (i / e->n) % e->npos, b = i / (e->n * e->npos);
        const int64_t kj = col % e->k, ki = (col / e->k) % e->k, c = col / (e->k * e->k);
        const int64_t ih = (pos / e->Wo) * e->s - e->pad + ki, iw = (pos % e->Wo) * e->s - e->pad + kj;
        e->out[i] = (ih >= 0 && ih < e->H && iw >= 0 && iw < e->W)
                        ? e->a[((b * e->C + c) * e->H + ih) * e->W + iw]
                        : 0.0;
        break;
    }
    case GNET_EW_COL2IM: {
        /* i over (nr, C, H, W): sum the patch entries that read this pixel */
        const int64_t iw = i % e->W, ih = (i / e->W) % e->H, c = (i / (e->W * e->H)) % e->C;
        const int64_t r = i / (e->W * e->H * e->C);
        double sum = 0.0;
        for (int64_t ki = 0; ki < e->k; ki++) {
            const int64_t t = ih + e->pad - ki;
            if (t < 0 || t % e->s != 0 || t / e->s >= e->Ho) continue;
            for (int64_t kj = 0; kj < e->k; kj++) {
                const int64_t u = iw + e->pad - kj;
                if (u < 0 || u % e->s != 0 || u / e->s >= e->Wo) continue;
                const int64_t pos = (t / e->s) * e->Wo + u / e->s;
                sum += e->dy[(r * e->npos + pos) * e->n + (c * e->k + ki) * e->k + kj];
            }
        }
        e->out[i] += sum;
        break;
    }
    case GNET_EW_TRANSPOSE: {
        /* i over (nr, npos, m) */
        const int64_t o = i % e->m, p = (i / e->m) % e->npos, r = i / (e->m * e->npos);
        e->out[i] = e->dy[(r * e->m + o) * e->npos + p];
        break;
    }
    case GNET_EW_BN_FWD: {
        const int64_t c = (i / (e->H * e->W)) % e->C;
        const double sc = e->p0[c] / sqrt(e->p3[c] + e->eps);
        e->out[i] = sc * e->a[i] + (e->p1[c] - sc * e->p2[c]);
        break;
    }
    case GNET_EW_BN_BWD: {
        const int64_t c = (i / (e->H * e->W)) % e->C;
        e->out[i] += e->p0[c] / sqrt(e->p3[c] + e->eps) * e->dy[i];
        break;
    }
    case GNET_EW_BN_GRAD: {
        /* i over (nr, C) */
        const int64_t c = i % e->C, r = i / e->C, hw = e->H * e->W;
        const double inv = 1.0 / sqrt(e->p3[c] + e->eps), mu = e->p2[c];
        const double *d = e->dy + (r * e->C + c) * hw, *xc = e->a + ((r / e->R) * e->C + c) * hw;
        double sg = 0.0, sb = 0.0;
        for (int64_t p = 0; p < hw; p++) {
            sg += d[p] * (xc[p] - mu) * inv;
            sb += d[p];
        }
        e->out[r * e->ld + e->off + c] = sg;
        e->out[r * e->ld + e->off + e->C + c] = sb;
        break;
    }
    case GNET_EW_POOL_FWD: {
        /* i over (nb, C, Ho, Wo) */
        const int64_t ow = i % e->Wo, oh = (i / e->Wo) % e->Ho, bc = i / (e->Wo * e->Ho);
        const double *xc = e->a + bc * e->H * e->W;
        if (e->is_max) {
            e->out[i] = xc[gnet_pool_argmax(xc, e->W, oh, ow, e->k, e->s)];
        } else {
            double acc = 0.0;
            for (int64_t ki = 0; ki < e->k; ki++)
                for (int64_t kj = 0; kj < e->k; kj++) acc += xc[(oh * e->s + ki) * e->W + ow * e->s + kj];
            e->out[i] = acc * (1.0 / (double)(e->k * e->k));
        }
        break;
    }
    case GNET_EW_POOL_BWD: {
        /* i over (nr, C, H, W): the windows that contain this pixel */
        const int64_t iw = i % e->W, ih = (i / e->W) % e->H, c = (i / (e->W * e->H)) % e->C;
        const int64_t r = i / (e->W * e->H * e->C), hw = e->H * e->W;
        const double *xc = e->a + ((r / e->R) * e->C + c) * hw;
        const double *d = e->dy + (r * e->C + c) * e->Ho * e->Wo;
        const double inv = 1.0 / (double)(e->k * e->k);
        const int64_t oh0 = ih - e->k + 1 > 0 ? (ih - e->k + 1 + e->s - 1) / e->s : 0;
        const int64_t ow0 = iw - e->k + 1 > 0 ? (iw - e->k + 1 + e->s - 1) / e->s : 0;
        double sum = 0.0;
        for (int64_t oh = oh0; oh < e->Ho && oh * e->s <= ih; oh++)
            for (int64_t ow = ow0; ow < e->Wo && ow * e->s <= iw; ow++) {
                if (e->is_max) {
                    if (gnet_pool_argmax(xc, e->W, oh, ow, e->k, e->s) == ih * e->W + iw)
                        sum += d[oh * e->Wo + ow];
                } else {
                    sum += d[oh * e->Wo + ow] * inv;
                }
            }
        e->out[i] += sum;
        break;
    }
    case GNET_EW_GAP_FWD: {
        const int64_t hw = e->H * e->W;
        double s = 0.0;
        for (int64_t p = 0; p < hw; p++) s += e->a[i * hw + p];
        e->out[i] = s / (double)hw;
        break;
    }
    case GNET_EW_GAP_BWD: {
        const int64_t hw = e->H * e->W;
        e->out[i] += e->dy[i / hw] / (double)hw;
        break;
    }
    case GNET_EW_OUTER: {
        /* i over (nr, m·n + has_bias·m) */
        const int64_t per = e->m * e->n + (e->has_bias ? e->m : 0), r = i / per, q = i % per;
        double v;
        if (q < e->m * e->n)
            v = e->dy[r * e->m + q / e->n] * e->a[(r / e->R) * e->n + q % e->n];
        else
            v = e->dy[r * e->m + (q - e->m * e->n)];
        e->out[r * e->ld + e->off + q] = v;
        break;
    }
    case GNET_EW_ROWSUM: {
        /* i over (nr, m) */
        const double *d = e->dy + i * e->npos;
        double s = 0.0;
        for (int64_t p = 0; p < e->npos; p++) s += d[p];
        e->out[(i / e->m) * e->ld + e->off + i % e->m] = s;
        break;
    }
    case GNET_EW_DOT: {
        /* i over nr */
        const double *d = e->dy + i * e->n, *y = e->a + (i / e->R) * e->n;
        double s = 0.0;
        for (int64_t j = 0; j < e->n; j++) s += d[j] * y[j];
        e->out[i] += s;
        break;
    }
    case GNET_EW_REPL: {
        /* i over (nr, m): m replicas, npos positions, a has row stride n */
        const int64_t t = i % e->m, r = i / e->m;
        double s = 0.0;
        for (int64_t q = 0; q < e->npos; q++)
            s += e->dy[(r * e->npos + q) * e->m + t] * e->a[((r / e->R) * e->npos + q) * e->n + t];
        e->out[r * e->ld + e->off + t] = s;
        break;
    }
    case GNET_EW_PROJ_GEN: {
        /* i over (nk, m = D′ columns) */
        e->out[i] = gnet_proj_entry(e->kind, e->key, e->k0 + i / e->m, i % e->m, e->dproj, e->scale);
        break;
    }
    case GNET_EW_IDENTITY_ROWS: e->out[i] = (i / e->m) % e->m == i % e->m ? 1.0 : 0.0; break;
    default: break;
    }
}

#endif /* TTP_GNET_EW_H */
