/*
 * model.c — the layer graph of a network: construction, shape inference and
 * validation, the parameter and state slabs, He initialisation, head
 * replacement, the NetCDF model file (docs/formats/model.md), and the
 * bundled small ResNet.
 *
 * The graph is a list of layers in topological order (each input refers to
 * an earlier layer or to the network input), so building is one forward
 * sweep: shapes, parameter ranges and checks are all decided in layer order
 * and every error can name the layer it concerns.
 */
#include "ttp_model.h"
#include "ttp_nc.h"
#include "ttp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[TTP_LAYER_KIND_COUNT] = {
    [TTP_LAYER_DENSE] = "dense",     [TTP_LAYER_CONV2D] = "conv2d",
    [TTP_LAYER_RELU] = "relu",       [TTP_LAYER_BATCHNORM] = "batchnorm",
    [TTP_LAYER_MAXPOOL] = "maxpool", [TTP_LAYER_AVGPOOL] = "avgpool",
    [TTP_LAYER_GAP] = "gap",         [TTP_LAYER_FLATTEN] = "flatten",
    [TTP_LAYER_ADD] = "add",         [TTP_LAYER_SIGMOID] = "sigmoid",
    [TTP_LAYER_TANH] = "tanh",       [TTP_LAYER_LEAKYRELU] = "leaky_relu",
    [TTP_LAYER_GELU] = "gelu",
};

const char *ttp_layer_kind_str(ttp_layer_kind k)
{
    if ((int)k < 0 || k >= TTP_LAYER_KIND_COUNT) return "unknown";
    return kind_names[k];
}

ttp_status ttp_model_create(ttp_ctx *ctx, const int64_t in_shape[3], ttp_model **out)
{
    ttp_status st = TTP_OK;
    ttp_model *m = NULL;
    *out = NULL;
    for (int i = 0; i < 3; i++)
        if (in_shape[i] < 1)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "model input shape (%lld, %lld, %lld): every extent must be >= 1",
                           (long long)in_shape[0], (long long)in_shape[1], (long long)in_shape[2]);
    TTP_ALLOC(ctx, st, fail, m, 1, "model");
    memcpy(m->in_shape, in_shape, 3 * sizeof *in_shape);
    *out = m;
    return TTP_OK;
fail:
    free(m);
    return st;
}

void ttp_model_destroy(ttp_model **pm)
{
    if (pm == NULL || *pm == NULL) return;
    ttp_model *m = *pm;
    free(m->layers);
    free(m->w);
    free(m->state);
    free(m);
    *pm = NULL;
}

ttp_status ttp_model_add(ttp_ctx *ctx, ttp_model *m, const ttp_layer *layer, int *index)
{
    if ((int)layer->kind < 0 || layer->kind >= TTP_LAYER_KIND_COUNT)
        return TTP_ERR(ctx, TTP_ERR_ARG, "layer %d: unknown layer kind %d", m->nlayers, (int)layer->kind);
    /* Grow by one: models have tens of layers, so simplicity wins. */
    ttp_layer *nl = realloc(m->layers, (size_t)(m->nlayers + 1) * sizeof *nl);
    if (nl == NULL) return TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot grow the layer list");
    m->layers = nl;
    ttp_layer *L = &m->layers[m->nlayers];
    *L = *layer;
    L->name[sizeof L->name - 1] = '\0';
    if (L->name[0] == '\0') snprintf(L->name, sizeof L->name, "%s%d", kind_names[L->kind], m->nlayers);
    if (index) *index = m->nlayers;
    m->nlayers++;
    return TTP_OK;
}

static int64_t prod3(const int64_t s[3])
{
    return s[0] * s[1] * s[2];
}

/* Every tensor and every layer's weight count stays within what BLAS can
 * index (int): checked before prod3 is ever trusted. */
static ttp_status check_elems(ttp_ctx *ctx, const int64_t s[3], int i, const char *name, const char *what)
{
    int64_t e = 1;
    for (int k = 0; k < 3; k++)
        TTP_CALL(ctx, ttp_size_mul(ctx, e, s[k], TTP_SIZE_INT, &e, "layer %d '%s': %s (%lld,%lld,%lld)", i,
                                   name, what, (long long)s[0], (long long)s[1], (long long)s[2]));
    return TTP_OK;
}

/* Shape inference and validation of layer i, given the shapes of earlier
 * tensors.  Fills in/out shapes and the parameter/state counts. */
static ttp_status infer_layer(ttp_ctx *ctx, ttp_model *m, int i)
{
    ttp_layer *L = &m->layers[i];
    const char *kn = ttp_layer_kind_str(L->kind);
    int nin = L->kind == TTP_LAYER_ADD ? 2 : 1;
    const int64_t *src[2] = {NULL, NULL};
    for (int k = 0; k < nin; k++) {
        int j = L->input[k];
        if (j < -1 || j >= m->nlayers)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (%s): input %d refers to layer %d, which does not exist "
                           "(a dangling input; expected -1 for the network input or 0..%d)",
                           i, L->name, kn, k, j, i - 1);
        if (j >= i)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (%s): input %d refers to layer %d, which is not earlier "
                           "(a cycle: layers may only read the network input or earlier layers)",
                           i, L->name, kn, k, j);
        src[k] = j < 0 ? m->in_shape : m->layers[j].out_shape;
    }
    memcpy(L->in_shape, src[0], 3 * sizeof(int64_t));
    TTP_CALL(ctx, check_elems(ctx, src[0], i, L->name, "input shape"));
    int64_t C = src[0][0], H = src[0][1], W = src[0][2];
    L->nw = 0;
    L->ns = 0;
    switch (L->kind) {
    case TTP_LAYER_DENSE:
        if (L->units < 1)
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "layer %d '%s' (dense): units = %d, expected >= 1", i,
                           L->name, L->units);
        /* A dense layer reads its input flattened: (C,H,W) is C·H·W features. */
        L->out_shape[0] = L->units, L->out_shape[1] = 1, L->out_shape[2] = 1;
        TTP_CALL(ctx, ttp_size_mul(ctx, L->units, prod3(src[0]) + 1, TTP_SIZE_INT, &L->nw,
                                   "layer %d '%s' (dense): weights of %d units", i, L->name, L->units));
        break;
    case TTP_LAYER_CONV2D:
    case TTP_LAYER_MAXPOOL:
    case TTP_LAYER_AVGPOOL: {
        int pad = L->kind == TTP_LAYER_CONV2D ? L->pad : 0;
        if (L->kind != TTP_LAYER_CONV2D && L->pad != 0)
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "layer %d '%s' (%s): pad = %d, pooling takes no padding", i,
                           L->name, kn, L->pad);
        if (L->kernel < 1 || L->stride < 1 || pad < 0)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (%s): kernel %d, stride %d, pad %d; expected kernel >= 1, "
                           "stride >= 1, pad >= 0",
                           i, L->name, kn, L->kernel, L->stride, pad);
        if (pad >= L->kernel)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (%s): pad %d >= kernel %d would add all-padding windows", i,
                           L->name, kn, pad, L->kernel);
        int64_t pad2 = 0;
        TTP_CALL(ctx, ttp_size_mul(ctx, 2, pad, TTP_SIZE_INT, &pad2, "layer %d '%s' (%s): padding", i,
                                   L->name, kn));
        if (H + pad2 < L->kernel || W + pad2 < L->kernel)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (%s): a %dx%d window does not fit its %lldx%lld input "
                           "(padding %d)",
                           i, L->name, kn, L->kernel, L->kernel, (long long)H, (long long)W, pad);
        int64_t Ho = (H + pad2 - L->kernel) / L->stride + 1;
        int64_t Wo = (W + pad2 - L->kernel) / L->stride + 1;
        if (L->kind == TTP_LAYER_CONV2D) {
            if (L->units < 1)
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               "layer %d '%s' (conv2d): units (output channels) = %d, expected >= 1", i,
                               L->name, L->units);
            L->out_shape[0] = L->units;
            int64_t kk = 0, per = 0;
            TTP_CALL(ctx, ttp_size_mul(ctx, L->kernel, L->kernel, TTP_SIZE_INT, &kk,
                                       "layer %d '%s' (conv2d): kernel %d", i, L->name, L->kernel));
            TTP_CALL(ctx, ttp_size_mul(ctx, C, kk, TTP_SIZE_INT, &per,
                                       "layer %d '%s' (conv2d): weights per output channel", i, L->name));
            TTP_CALL(ctx, ttp_size_mul(ctx, L->units, per + 1, TTP_SIZE_INT, &L->nw,
                                       "layer %d '%s' (conv2d): weights of %d output channels", i, L->name,
                                       L->units));
        } else {
            L->out_shape[0] = C;
        }
        L->out_shape[1] = Ho, L->out_shape[2] = Wo;
        break;
    }
    case TTP_LAYER_BATCHNORM:
        if (!(L->eps > 0.0) || !isfinite(L->eps))
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "layer %d '%s' (batchnorm): eps = %g, expected > 0", i,
                           L->name, L->eps);
        memcpy(L->out_shape, src[0], 3 * sizeof(int64_t));
        L->nw = 2 * C;
        L->ns = 2 * C;
        break;
    case TTP_LAYER_LEAKYRELU:
        if (!isfinite(L->alpha))
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (leaky_relu): alpha = %g, expected a finite slope", i, L->name,
                           L->alpha);
        memcpy(L->out_shape, src[0], 3 * sizeof(int64_t));
        break;
    case TTP_LAYER_RELU:
    case TTP_LAYER_SIGMOID:
    case TTP_LAYER_TANH:
    case TTP_LAYER_GELU: memcpy(L->out_shape, src[0], 3 * sizeof(int64_t)); break;
    case TTP_LAYER_GAP: L->out_shape[0] = C, L->out_shape[1] = 1, L->out_shape[2] = 1; break;
    case TTP_LAYER_FLATTEN: L->out_shape[0] = prod3(src[0]), L->out_shape[1] = 1, L->out_shape[2] = 1; break;
    case TTP_LAYER_ADD:
        if (src[0][0] != src[1][0] || src[0][1] != src[1][1] || src[0][2] != src[1][2])
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "layer %d '%s' (add): operand shapes differ: (%lld,%lld,%lld) from "
                           "input %d and (%lld,%lld,%lld) from input %d",
                           i, L->name, (long long)src[0][0], (long long)src[0][1], (long long)src[0][2],
                           L->input[0], (long long)src[1][0], (long long)src[1][1], (long long)src[1][2],
                           L->input[1]);
        memcpy(L->out_shape, src[0], 3 * sizeof(int64_t));
        break;
    default:
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "layer %d '%s': unknown layer kind %d", i, L->name, (int)L->kind);
    }
    TTP_CALL(ctx, check_elems(ctx, L->out_shape, i, L->name, "output shape"));
    return TTP_OK;
}

/* Shapes, ranges and counts only (no allocation). */
static ttp_status layout(ttp_ctx *ctx, ttp_model *m)
{
    if (m->nlayers < 1) return TTP_ERR(ctx, TTP_ERR_FORMAT, "the model has no layers");
    int64_t woff = 0, soff = 0, ntr = 0;
    for (int i = 0; i < m->nlayers; i++) {
        TTP_CALL(ctx, infer_layer(ctx, m, i));
        ttp_layer *L = &m->layers[i];
        L->trainable = L->trainable ? 1 : 0;
        L->woff = woff, L->soff = soff;
        TTP_CALL(ctx, ttp_size_add(ctx, woff, L->nw, TTP_SIZE_INT, &woff, "layer %d '%s': total parameters",
                                   i, L->name));
        TTP_CALL(ctx, ttp_size_add(ctx, soff, L->ns, TTP_SIZE_INT, &soff,
                                   "layer %d '%s': total batch-norm "
                                   "statistics",
                                   i, L->name));
        if (L->trainable) ntr += L->nw;
    }
    m->nparams = woff;
    m->nstate = soff;
    m->ntrainable = ntr;
    m->nout = (int)prod3(m->layers[m->nlayers - 1].out_shape);
    return TTP_OK;
}

/* Neutral parameters: zeros, except batch-norm scale 1 and variance 1, so a
 * freshly built batch-norm layer is the identity (up to eps). */
static void neutral(const ttp_model *m, double *w, double *state)
{
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        if (L->kind != TTP_LAYER_BATCHNORM) continue;
        int64_t C = L->nw / 2;
        for (int64_t c = 0; c < C; c++) {
            w[L->woff + c] = 1.0;
            state[L->soff + C + c] = 1.0;
        }
    }
}

ttp_status ttp_model_build(ttp_ctx *ctx, ttp_model *m)
{
    ttp_status st = TTP_OK;
    double *w = NULL, *s = NULL;
    TTP_CALL(ctx, layout(ctx, m));
    TTP_ALLOC(ctx, st, fail, w, m->nparams, "model parameters");
    TTP_ALLOC(ctx, st, fail, s, m->nstate, "model batch-norm statistics");
    neutral(m, w, s);
    free(m->w);
    free(m->state);
    m->w = w;
    m->state = s;
    return TTP_OK;
fail:
    free(w);
    free(s);
    return st;
}

/* He-normal: N(0, 2/fan_in), one stream per layer index so that a layer's
 * draw does not depend on the layers before it (a new head with the same
 * seed is the same head whatever the body). */
static void init_layer(ttp_model *m, int i, uint64_t seed)
{
    ttp_layer *L = &m->layers[i];
    uint64_t key = ttp_rng_key(seed, (uint64_t)i);
    double *w = m->w + L->woff;
    if (L->kind == TTP_LAYER_DENSE || L->kind == TTP_LAYER_CONV2D) {
        int64_t fan_in =
            L->kind == TTP_LAYER_DENSE ? prod3(L->in_shape) : L->in_shape[0] * L->kernel * L->kernel;
        int64_t nweights = L->nw - L->units;
        double sd = sqrt(2.0 / (double)fan_in);
        for (int64_t j = 0; j < nweights; j++) w[j] = sd * ttp_rng_normal(key, (uint64_t)j);
        for (int64_t j = nweights; j < L->nw; j++) w[j] = 0.0;
    } else if (L->kind == TTP_LAYER_BATCHNORM) {
        int64_t C = L->nw / 2;
        for (int64_t c = 0; c < C; c++) w[c] = 1.0, w[C + c] = 0.0;
    }
}

void ttp_model_init_weights(ttp_model *m, uint64_t seed, int first_layer)
{
    if (m->w == NULL) return;
    for (int i = first_layer < 0 ? 0 : first_layer; i < m->nlayers; i++) init_layer(m, i, seed);
}

ttp_status ttp_model_replace_head(ttp_ctx *ctx, ttp_model *m, int nout, uint64_t seed)
{
    ttp_status st = TTP_OK;
    double *oldw = m->w, *olds = m->state;
    ttp_layer *old = NULL;
    int head = -1;
    if (nout < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "new head: %d outputs, expected >= 1", nout);
    for (int i = m->nlayers - 1; i >= 0 && head < 0; i--)
        if (m->layers[i].kind == TTP_LAYER_DENSE) head = i;
    if (head < 0) return TTP_ERR(ctx, TTP_ERR_ARG, "new head: the model has no dense layer to replace");
    TTP_ALLOC(ctx, st, fail, old, m->nlayers, "layer copy");
    memcpy(old, m->layers, (size_t)m->nlayers * sizeof *old);
    m->layers[head].units = nout;
    m->layers[head].trainable = 1;
    m->w = NULL, m->state = NULL;
    TTP_CALL_GOTO(ctx, st, fail, ttp_model_build(ctx, m));
    /* Keep every other layer's parameters and statistics; layers after the
     * head keep theirs only if their size did not change. */
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i], *O = &old[i];
        if (i == head) continue;
        if (L->nw == O->nw && oldw) memcpy(m->w + L->woff, oldw + O->woff, (size_t)L->nw * sizeof(double));
        if (L->ns == O->ns && olds)
            memcpy(m->state + L->soff, olds + O->soff, (size_t)L->ns * sizeof(double));
    }
    init_layer(m, head, seed);
    /* A fresh head gets the variance of the common default for a new linear
     * layer (std 1/sqrt(3 fan_in), i.e. He-normal scaled by 1/sqrt(6)) rather
     * than He's 2/fan_in: the usual fine-tuning practice, and it keeps the
     * head's initial outputs small, so fine-tuning starts near the
     * pretrained function where the linearized dynamics describe it. */
    {
        const ttp_layer *H = &m->layers[head];
        for (int64_t j = 0; j < H->nw - H->units; j++) m->w[H->woff + j] *= 1.0 / sqrt(6.0);
    }
    free(oldw);
    free(olds);
    free(old);
    return TTP_OK;
fail:
    if (old) memcpy(m->layers, old, (size_t)m->nlayers * sizeof *old);
    if (m->w != oldw) free(m->w);
    if (m->state != olds) free(m->state);
    m->w = oldw, m->state = olds;
    if (old) layout(NULL, m);
    free(old);
    return st;
}

ttp_status ttp_model_clone(ttp_ctx *ctx, const ttp_model *m, ttp_model **out)
{
    ttp_status st = TTP_OK;
    ttp_model *c = NULL;
    *out = NULL;
    TTP_ALLOC(ctx, st, fail, c, 1, "model clone");
    *c = *m;
    c->layers = NULL, c->w = NULL, c->state = NULL;
    TTP_ALLOC(ctx, st, fail, c->layers, m->nlayers, "model clone layers");
    if (m->nlayers) memcpy(c->layers, m->layers, (size_t)m->nlayers * sizeof *c->layers);
    if (m->w) {
        TTP_ALLOC(ctx, st, fail, c->w, m->nparams, "model clone parameters");
        memcpy(c->w, m->w, (size_t)m->nparams * sizeof(double));
    }
    if (m->state) {
        TTP_ALLOC(ctx, st, fail, c->state, m->nstate, "model clone state");
        memcpy(c->state, m->state, (size_t)m->nstate * sizeof(double));
    }
    *out = c;
    return TTP_OK;
fail:
    ttp_model_destroy(&c);
    return st;
}

/* ---- the bundled small ResNet ------------------------------------------- */

static ttp_layer mk(ttp_layer_kind kind, const char *name, int in0, int in1, int units, int kernel,
                    int stride, int pad)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    snprintf(L.name, sizeof L.name, "%s", name);
    L.input[0] = in0, L.input[1] = in1;
    L.units = units, L.kernel = kernel, L.stride = stride, L.pad = pad;
    L.eps = 1e-5;
    L.trainable = 1;
    return L;
}

ttp_status ttp_model_resnet_small(ttp_ctx *ctx, const int64_t in_shape[3], int nclasses, uint64_t seed,
                                  ttp_model **out)
{
    ttp_status st = TTP_OK;
    ttp_model *m = NULL;
    *out = NULL;
    if (nclasses < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "resnet-small: %d classes, expected >= 1", nclasses);
    TTP_CALL(ctx, ttp_model_create(ctx, in_shape, &m));
    const ttp_layer L[] = {
        mk(TTP_LAYER_CONV2D, "stem_conv", -1, -1, 8, 3, 1, 1),   /* 0 */
        mk(TTP_LAYER_BATCHNORM, "stem_bn", 0, -1, 0, 0, 0, 0),   /* 1 */
        mk(TTP_LAYER_RELU, "stem_relu", 1, -1, 0, 0, 0, 0),      /* 2 */
        mk(TTP_LAYER_CONV2D, "block_conv1", 2, -1, 8, 3, 1, 1),  /* 3 */
        mk(TTP_LAYER_BATCHNORM, "block_bn1", 3, -1, 0, 0, 0, 0), /* 4 */
        mk(TTP_LAYER_RELU, "block_relu1", 4, -1, 0, 0, 0, 0),    /* 5 */
        mk(TTP_LAYER_CONV2D, "block_conv2", 5, -1, 8, 3, 1, 1),  /* 6 */
        mk(TTP_LAYER_BATCHNORM, "block_bn2", 6, -1, 0, 0, 0, 0), /* 7 */
        mk(TTP_LAYER_ADD, "block_add", 7, 2, 0, 0, 0, 0),        /* 8: skip from 2 */
        mk(TTP_LAYER_RELU, "block_relu2", 8, -1, 0, 0, 0, 0),    /* 9 */
        mk(TTP_LAYER_MAXPOOL, "pool", 9, -1, 0, 2, 2, 0),        /* 10 */
        mk(TTP_LAYER_FLATTEN, "flatten", 10, -1, 0, 0, 0, 0),    /* 11 */
        mk(TTP_LAYER_DENSE, "fc1", 11, -1, 32, 0, 0, 0),         /* 12 */
        mk(TTP_LAYER_RELU, "fc1_relu", 12, -1, 0, 0, 0, 0),      /* 13 */
        mk(TTP_LAYER_DENSE, "head", 13, -1, nclasses, 0, 0, 0),  /* 14 */
    };
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        TTP_CALL_GOTO(ctx, st, fail, ttp_model_add(ctx, m, &L[i], NULL));
    TTP_CALL_GOTO(ctx, st, fail, ttp_model_build(ctx, m));
    ttp_model_init_weights(m, seed, 0);
    snprintf(m->title, sizeof m->title,
             "resnet-small: conv-bn-relu, one residual block, maxpool, "
             "two dense layers");
    snprintf(m->source, sizeof m->source, "ttpredict ttp_model_resnet_small (init seed %llu)",
             (unsigned long long)seed);
    *out = m;
    return TTP_OK;
fail:
    ttp_model_destroy(&m);
    return st;
}

uint64_t ttp_model_fingerprint(const ttp_model *m)
{
    /* A chain of splitmix finalisers over the structure and the exact bits
     * of every parameter and statistic: any change of either changes it. */
    uint64_t h = 0x7470706d6f64656cULL; /* "ttpmodel" */
#define FP_MIX(v) (h = ttp_mix64(h ^ ((uint64_t)(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2))))
    for (int i = 0; i < 3; i++) FP_MIX(m->in_shape[i]);
    FP_MIX(m->nlayers);
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        FP_MIX(L->kind);
        FP_MIX((int64_t)L->input[0]);
        FP_MIX((int64_t)L->input[1]);
        FP_MIX(L->units);
        FP_MIX(L->kernel);
        FP_MIX(L->stride);
        FP_MIX(L->pad);
        FP_MIX(L->trainable);
        uint64_t b;
        memcpy(&b, &L->eps, sizeof b);
        FP_MIX(b);
        /* only where it acts, so fingerprints of models without leaky_relu
         * (and the kernel files that record them) stay as they were */
        if (L->kind == TTP_LAYER_LEAKYRELU) {
            memcpy(&b, &L->alpha, sizeof b);
            FP_MIX(b);
        }
    }
    for (int64_t j = 0; m->w && j < m->nparams; j++) {
        uint64_t b;
        memcpy(&b, &m->w[j], sizeof b);
        FP_MIX(b);
    }
    for (int64_t j = 0; m->state && j < m->nstate; j++) {
        uint64_t b;
        memcpy(&b, &m->state[j], sizeof b);
        FP_MIX(b);
    }
#undef FP_MIX
    return h;
}

/* ---- checks and printing ------------------------------------------------ */

ttp_status ttp_model_check_input(ttp_ctx *ctx, const ttp_model *m, int ndim, const int64_t *shape,
                                 const char *where)
{
    int64_t s[3] = {1, 1, 1};
    if (ndim == 1)
        s[0] = shape[0];
    else if (ndim == 3)
        memcpy(s, shape, sizeof s);
    else
        return TTP_ERR(ctx, TTP_ERR_ARG, "%s: samples have %d dimensions, expected 1 or 3",
                       where ? where : "input", ndim);
    const int64_t *t = m->in_shape;
    int same = s[0] == t[0] && s[1] == t[1] && s[2] == t[2];
    /* A model whose input is a feature vector reads an image flattened. */
    int flat_ok = t[1] == 1 && t[2] == 1 && prod3(s) == t[0];
    if (!same && !flat_ok)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "%s: samples of shape (%lld, %lld, %lld) (%lld values), but the model "
                       "accepts inputs of shape (%lld, %lld, %lld)",
                       where ? where : "input", (long long)s[0], (long long)s[1], (long long)s[2],
                       (long long)prod3(s), (long long)t[0], (long long)t[1], (long long)t[2]);
    return TTP_OK;
}

void ttp_model_print(const ttp_model *m, FILE *f)
{
    fprintf(f,
            "model: input (%lld, %lld, %lld), %d layers, %d outputs, %lld parameters "
            "(%lld trainable), %lld state values\n",
            (long long)m->in_shape[0], (long long)m->in_shape[1], (long long)m->in_shape[2], m->nlayers,
            m->nout, (long long)m->nparams, (long long)m->ntrainable, (long long)m->nstate);
    fprintf(f, "  %3s  %-16s %-10s %-9s %-16s %-16s %9s %s\n", "#", "name", "kind", "inputs", "in (C,H,W)",
            "out (C,H,W)", "params", "");
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        char in[32], ins[32], outs[32], extra[64] = "";
        if (L->kind == TTP_LAYER_ADD)
            snprintf(in, sizeof in, "%d,%d", L->input[0], L->input[1]);
        else
            snprintf(in, sizeof in, "%d", L->input[0]);
        snprintf(ins, sizeof ins, "%lld,%lld,%lld", (long long)L->in_shape[0], (long long)L->in_shape[1],
                 (long long)L->in_shape[2]);
        snprintf(outs, sizeof outs, "%lld,%lld,%lld", (long long)L->out_shape[0], (long long)L->out_shape[1],
                 (long long)L->out_shape[2]);
        if (L->kind == TTP_LAYER_CONV2D)
            snprintf(extra, sizeof extra, "k%d s%d p%d", L->kernel, L->stride, L->pad);
        else if (L->kind == TTP_LAYER_MAXPOOL || L->kind == TTP_LAYER_AVGPOOL)
            snprintf(extra, sizeof extra, "k%d s%d", L->kernel, L->stride);
        else if (L->kind == TTP_LAYER_BATCHNORM)
            snprintf(extra, sizeof extra, "eps %g", L->eps);
        else if (L->kind == TTP_LAYER_LEAKYRELU)
            snprintf(extra, sizeof extra, "alpha %g", L->alpha);
        if (L->nw > 0 && !L->trainable) strncat(extra, extra[0] ? " frozen" : "frozen", 10);
        fprintf(f, "  %3d  %-16.16s %-10s %-9s %-16s %-16s %9lld %s\n", i, L->name,
                ttp_layer_kind_str(L->kind), in, ins, outs, (long long)L->nw, extra);
    }
}

/* "name (kind), ..." of the layers with parameters, cut to fit buf. */
static void param_layer_names(const ttp_model *m, char *buf, size_t len)
{
    size_t u = 0;
    buf[0] = '\0';
    for (int i = 0; i < m->nlayers && u < len; i++) {
        const ttp_layer *L = &m->layers[i];
        if (L->nw == 0) continue;
        int k =
            snprintf(buf + u, len - u, "%s'%s' (%s)", u ? ", " : "", L->name, ttp_layer_kind_str(L->kind));
        if (k < 0 || (size_t)k >= len - u) { /* cut: end with "..." */
            if (len >= 4) memcpy(buf + len - 4, "...", 4);
            return;
        }
        u += (size_t)k;
    }
}

void ttp_model_trainable_names(const ttp_model *m, char *buf, size_t len)
{
    int all = 1, any = 0;
    size_t u = 0;
    if (len == 0) return;
    buf[0] = '\0';
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].nw > 0) {
            if (!m->layers[i].trainable)
                all = 0;
            else
                any = 1;
        }
    if (all || !any) {
        snprintf(buf, len, "%s", any ? "all" : "none");
        return;
    }
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        if (L->nw == 0 || !L->trainable) continue;
        int k = snprintf(buf + u, len - u, "%s%s", u ? "," : "", L->name);
        if (k < 0 || (size_t)k >= len - u) { /* cut: end with "..." */
            if (len >= 4) memcpy(buf + len - 4, "...", 4);
            return;
        }
        u += (size_t)k;
    }
}

ttp_status ttp_model_select_trainable(ttp_ctx *ctx, ttp_model *m, const char *spec)
{
    ttp_status st = TTP_OK;
    char *want = NULL, *buf = NULL, names[640];
    int nparam = 0;
    if (spec == NULL || spec[0] == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option train_layers: empty, expected all, last:K or NAME,NAME,...");
    if (m == NULL || m->nlayers < 1 || m->w == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option train_layers: the model is not built");
    for (int i = 0; i < m->nlayers; i++) nparam += m->layers[i].nw > 0;
    if (nparam == 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option train_layers: the model has no layer with parameters");
    TTP_ALLOC(ctx, st, done, want, m->nlayers, "trainable flags");
    if (strcmp(spec, "all") == 0) {
        for (int i = 0; i < m->nlayers; i++) want[i] = m->layers[i].nw > 0;
    } else if (strncmp(spec, "last:", 5) == 0) {
        char *end = NULL;
        long k = strtol(spec + 5, &end, 10);
        if (end == spec + 5 || *end != '\0' || k < 1 || k > nparam) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "option train_layers: '%s', expected last:K with K an integer in 1..%d (the model "
                         "has %d layers with parameters)",
                         spec, nparam, nparam);
            goto done;
        }
        for (int i = m->nlayers - 1; i >= 0 && k > 0; i--)
            if (m->layers[i].nw > 0) want[i] = 1, k--;
    } else {
        size_t n = strlen(spec);
        TTP_ALLOC(ctx, st, done, buf, n + 1, "option train_layers");
        memcpy(buf, spec, n + 1);
        char *save = NULL;
        int count = 0;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int found = -1;
            for (int i = 0; i < m->nlayers && found < 0; i++)
                if (strcmp(m->layers[i].name, tok) == 0) found = i;
            if (found < 0) {
                param_layer_names(m, names, sizeof names);
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "option train_layers: the model has no layer named '%s'; the layers with "
                             "parameters are: %s",
                             tok, names);
                goto done;
            }
            if (m->layers[found].nw == 0) {
                param_layer_names(m, names, sizeof names);
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "option train_layers: layer %d '%s' (%s) has no parameters to train; the layers "
                             "with parameters are: %s",
                             found, tok, ttp_layer_kind_str(m->layers[found].kind), names);
                goto done;
            }
            want[found] = 1;
            count++;
        }
        if (count == 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "option train_layers: '%s' names no layer", spec);
            goto done;
        }
    }
    /* the same sum as the layout's: D over the trainable layers */
    m->ntrainable = 0;
    for (int i = 0; i < m->nlayers; i++) {
        ttp_layer *L = &m->layers[i];
        if (L->nw > 0) L->trainable = want[i];
        if (L->trainable) m->ntrainable += L->nw;
    }
done:
    free(want);
    free(buf);
    return st;
}

void ttp_model_get_trainable(const ttp_model *m, const double *w, double *dst)
{
    int64_t k = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        if (!L->trainable || L->nw == 0) continue;
        memcpy(dst + k, w + L->woff, (size_t)L->nw * sizeof(double));
        k += L->nw;
    }
}

void ttp_model_set_trainable(const ttp_model *m, const double *src, double *w)
{
    int64_t k = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        if (!L->trainable || L->nw == 0) continue;
        memcpy(w + L->woff, src + k, (size_t)L->nw * sizeof(double));
        k += L->nw;
    }
}

/* ---- NetCDF --------------------------------------------------------------- */

#define NAME_LEN 64

/* Per-layer integer variables, in file order. */
static const char *const int_vars[] = {"layer_kind",  "layer_input0",    "layer_input1",
                                       "layer_units", "layer_kernel",    "layer_stride",
                                       "layer_pad",   "layer_trainable", "layer_nweights"};
#define N_INT_VARS ((int)(sizeof int_vars / sizeof int_vars[0]))

static int layer_int(const ttp_layer *L, int v)
{
    switch (v) {
    case 0: return (int)L->kind;
    case 1: return L->input[0];
    case 2: return L->input[1];
    case 3: return L->units;
    case 4: return L->kernel;
    case 5: return L->stride;
    case 6: return L->pad;
    case 7: return L->trainable;
    default: return (int)L->nw;
    }
}

static void set_layer_int(ttp_layer *L, int v, int x)
{
    switch (v) {
    case 0: L->kind = (ttp_layer_kind)x; break;
    case 1: L->input[0] = x; break;
    case 2: L->input[1] = x; break;
    case 3: L->units = x; break;
    case 4: L->kernel = x; break;
    case 5: L->stride = x; break;
    case 6: L->pad = x; break;
    case 7: L->trainable = x; break;
    default: break; /* layer_nweights is checked, not stored */
    }
}

ttp_status ttp_model_write(ttp_ctx *ctx, const char *path, const ttp_model *m)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    int nc = -1, dl, dn, dp = -1, ds = -1, vint[N_INT_VARS], veps, valpha = -1, vname, vp = -1, vs = -1;
    int *ibuf = NULL, has_alpha = 0;
    double *dbuf = NULL;
    char *names = NULL;
    int L = m->nlayers;
    if (m->w == NULL || L < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "writing model '%s': the model is not built", path);
    /* 64-bit-offset classic format: no timestamps or library-version
     * attributes, so the same model always gives the same bytes. */
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_CLOBBER | NC_64BIT_OFFSET));
    nc = f.id;
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "layer", (size_t)L, &dl), "defining dimension layer in '%s'", path);
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "name_len", NAME_LEN, &dn), "defining dimension name_len in '%s'",
           path);
    /* A zero-length fixed dimension would be the unlimited one in NetCDF:
     * empty slabs are left out instead (the reader takes absence as 0). */
    if (m->nparams > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "param", (size_t)m->nparams, &dp),
               "defining dimension param in '%s'", path);
    if (m->nstate > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "state", (size_t)m->nstate, &ds),
               "defining dimension state in '%s'", path);
    for (int v = 0; v < N_INT_VARS; v++)
        TTP_NC(ctx, st, fail, nc_def_var(nc, int_vars[v], NC_INT, 1, &dl, &vint[v]),
               "defining variable %s in '%s'", int_vars[v], path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "layer_eps", NC_DOUBLE, 1, &dl, &veps),
           "defining variable layer_eps in '%s'", path);
    /* layer_alpha only where a layer uses it: files of other models keep
     * exactly the variables (and bytes) they always had */
    for (int i = 0; i < L; i++) has_alpha |= m->layers[i].kind == TTP_LAYER_LEAKYRELU;
    if (has_alpha)
        TTP_NC(ctx, st, fail, nc_def_var(nc, "layer_alpha", NC_DOUBLE, 1, &dl, &valpha),
               "defining variable layer_alpha in '%s'", path);
    int dims2[2] = {dl, dn};
    TTP_NC(ctx, st, fail, nc_def_var(nc, "layer_name", NC_CHAR, 2, dims2, &vname),
           "defining variable layer_name in '%s'", path);
    if (dp >= 0)
        TTP_NC(ctx, st, fail, nc_def_var(nc, "params", NC_DOUBLE, 1, &dp, &vp),
               "defining variable params in '%s'", path);
    if (ds >= 0)
        TTP_NC(ctx, st, fail, nc_def_var(nc, "state", NC_DOUBLE, 1, &ds, &vs),
               "defining variable state in '%s'", path);

    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "ttp_kind", "model", path));
    int ishape[3] = {(int)m->in_shape[0], (int)m->in_shape[1], (int)m->in_shape[2]};
    TTP_NC(ctx, st, fail, nc_put_att_int(nc, NC_GLOBAL, "input_shape", NC_INT, 3, ishape),
           "writing attribute input_shape of '%s'", path);
    TTP_NC(ctx, st, fail, nc_put_att_int(nc, NC_GLOBAL, "num_outputs", NC_INT, 1, &m->nout),
           "writing attribute num_outputs of '%s'", path);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "title", m->title, path));
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "source", m->source, path));
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "license", m->license, path));
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, NC_GLOBAL, "history", m->history, path));
    static const char kinds_doc[] = "0 dense, 1 conv2d, 2 relu, 3 batchnorm, 4 maxpool, "
                                    "5 avgpool, 6 gap, 7 flatten, 8 add, 9 sigmoid, 10 tanh, "
                                    "11 leaky_relu, 12 gelu";
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, vint[0], "flag_meanings", kinds_doc, path));
    TTP_NC(ctx, st, fail, nc_enddef(nc), "ending the definitions of '%s'", path);

    TTP_ALLOC(ctx, st, fail, ibuf, L, "layer attribute buffer");
    TTP_ALLOC(ctx, st, fail, dbuf, L, "layer attribute buffer");
    TTP_ALLOC(ctx, st, fail, names, (size_t)L * NAME_LEN, "layer names");
    for (int v = 0; v < N_INT_VARS; v++) {
        for (int i = 0; i < L; i++) ibuf[i] = layer_int(&m->layers[i], v);
        TTP_NC(ctx, st, fail, nc_put_var_int(nc, vint[v], ibuf), "writing %s to '%s'", int_vars[v], path);
    }
    for (int i = 0; i < L; i++) {
        dbuf[i] = m->layers[i].eps;
        strncpy(names + (size_t)i * NAME_LEN, m->layers[i].name, NAME_LEN);
    }
    TTP_NC(ctx, st, fail, nc_put_var_double(nc, veps, dbuf), "writing layer_eps to '%s'", path);
    if (has_alpha) {
        for (int i = 0; i < L; i++)
            dbuf[i] = m->layers[i].kind == TTP_LAYER_LEAKYRELU ? m->layers[i].alpha : 0.0;
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, valpha, dbuf), "writing layer_alpha to '%s'", path);
    }
    TTP_NC(ctx, st, fail, nc_put_var_text(nc, vname, names), "writing layer_name to '%s'", path);
    if (vp >= 0) TTP_NC(ctx, st, fail, nc_put_var_double(nc, vp, m->w), "writing params to '%s'", path);
    if (vs >= 0) TTP_NC(ctx, st, fail, nc_put_var_double(nc, vs, m->state), "writing state to '%s'", path);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    free(ibuf);
    free(dbuf);
    free(names);
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    free(ibuf);
    free(dbuf);
    free(names);
    return st;
}

/* Read an optional text attribute into buf (empty when absent or not
 * text; cut to fit). */
static void get_text(int nc, const char *name, char *buf, size_t len)
{
    char *s = NULL;
    buf[0] = '\0';
    if (ttp_nc_get_text(NULL, nc, NC_GLOBAL, name, "", &s) == TTP_OK && s != NULL)
        snprintf(buf, len, "%s", s);
    free(s);
}

/* Length of an optional 1-D variable's dimension; 0 and *var = -1 when absent. */
static ttp_status opt_var_len(ttp_ctx *ctx, int nc, const char *name, const char *path, int *var, size_t *len)
{
    ttp_status st = TTP_OK;
    int nd = 0, dim;
    *len = 0;
    *var = -1;
    if (nc_inq_varid(nc, name, var) != NC_NOERR) {
        *var = -1;
        return TTP_OK;
    }
    TTP_NC(ctx, st, done, nc_inq_varndims(nc, *var, &nd), "reading variable %s of '%s'", name, path);
    if (nd != 1)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s': variable %s has %d dimensions, expected 1",
                       path, name, nd);
    TTP_NC(ctx, st, done, nc_inq_vardimid(nc, *var, &dim), "reading variable %s of '%s'", name, path);
    TTP_NC(ctx, st, done, nc_inq_dimlen(nc, dim, len), "reading the length of %s in '%s'", name, path);
done:
    return st;
}

/*
 * A per-layer variable must lie on exactly the dimensions the reader
 * allocates for: (layer) for the numeric ones, (layer, name_len) for
 * layer_name.  Anything else (another dimension, a longer one, a second
 * dimension) would make nc_get_var_* write past the buffers, so it is a
 * format error naming the variable, checked before anything is read.
 */
static ttp_status check_layer_var(ttp_ctx *ctx, int nc, int var, const char *name, int dl, int ndims,
                                  const char *path)
{
    ttp_status st = TTP_OK;
    int nd = 0, dims[NC_MAX_VAR_DIMS];
    TTP_NC(ctx, st, done, nc_inq_varndims(nc, var, &nd), "reading variable %s of '%s'", name, path);
    if (nd != ndims)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s': variable %s has %d dimension(s), expected %s",
                       path, name, nd, ndims == 1 ? "1 (layer)" : "2 (layer, name_len)");
    TTP_NC(ctx, st, done, nc_inq_vardimid(nc, var, dims), "reading variable %s of '%s'", name, path);
    if (dims[0] != dl) {
        char dname[NC_MAX_NAME + 1] = "?";
        nc_inq_dimname(nc, dims[0], dname);
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "model file '%s': variable %s lies on dimension '%s', expected 'layer'", path, name,
                       dname);
    }
done:
    return st;
}

/* The reader can name the layer whose weights are missing or extra: with
 * layer_nweights (written by ttpredict) exactly, otherwise from where the
 * declared layers' ranges run past (or stop short of) the stored values. */
static ttp_status check_counts(ttp_ctx *ctx, const ttp_model *m, const int *nw_file, size_t nparams,
                               size_t nstate, const char *path)
{
    if (nw_file) {
        for (int i = 0; i < m->nlayers; i++) {
            const ttp_layer *L = &m->layers[i];
            if (nw_file[i] != L->nw)
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               "model file '%s': layer %d '%s' (%s) stores %d weights but its "
                               "shapes need %lld",
                               path, i, L->name, ttp_layer_kind_str(L->kind), nw_file[i], (long long)L->nw);
        }
    }
    if ((int64_t)nparams != m->nparams) {
        const ttp_layer *bad = NULL;
        int bi = -1;
        for (int i = 0; i < m->nlayers && !bad; i++) {
            const ttp_layer *L = &m->layers[i];
            if (L->nw > 0 && L->woff + L->nw > (int64_t)nparams) bad = L, bi = i;
        }
        if (bad)
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "model file '%s': weights count does not match the layer shapes: params "
                           "holds %zu values, but layer %d '%s' (%s) needs [%lld, %lld) (the "
                           "layers need %lld in all)",
                           path, nparams, bi, bad->name, ttp_layer_kind_str(bad->kind), (long long)bad->woff,
                           (long long)(bad->woff + bad->nw), (long long)m->nparams);
        for (int i = m->nlayers - 1; i >= 0 && !bad; i--)
            if (m->layers[i].nw > 0) bad = &m->layers[i], bi = i;
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "model file '%s': weights count does not match the layer shapes: params "
                       "holds %zu values, %lld more than the layers need (the last layer with "
                       "weights is %d '%s')",
                       path, nparams, (long long)((int64_t)nparams - m->nparams), bi,
                       bad ? bad->name : "none");
    }
    if ((int64_t)nstate != m->nstate) {
        for (int i = 0; i < m->nlayers; i++) {
            const ttp_layer *L = &m->layers[i];
            if (L->ns > 0 && L->soff + L->ns > (int64_t)nstate)
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               "model file '%s': state holds %zu values, but layer %d '%s' "
                               "(batchnorm) needs [%lld, %lld)",
                               path, nstate, i, L->name, (long long)L->soff, (long long)(L->soff + L->ns));
        }
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "model file '%s': state holds %zu values, the batch-norm layers need %lld", path,
                       nstate, (long long)m->nstate);
    }
    return TTP_OK;
}

ttp_status ttp_model_read(ttp_ctx *ctx, const char *path, ttp_model **out)
{
    ttp_status st = TTP_OK;
    int nc = -1, dl, vname, veps, valpha, vp, vs;
    size_t L = 0, nparams = 0, nstate = 0, alen = 0;
    int *ibuf = NULL, *nwf = NULL;
    double *dbuf = NULL;
    char *names = NULL;
    ttp_model *m = NULL;
    char kind[64];
    *out = NULL;
    TTP_CALL(ctx, ttp_nc_precheck(ctx, path));
    TTP_NC(ctx, st, fail, nc_open(path, NC_NOWRITE, &nc), "opening model file '%s'", path);
    get_text(nc, "ttp_kind", kind, sizeof kind);
    if (strcmp(kind, "model") != 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "'%s' is not a ttpredict model file: global attribute ttp_kind is '%s', "
                     "expected 'model'",
                     path, kind);
        goto fail;
    }
    /* model files are small: checksums and size first, before any count is trusted */
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_verify(ctx, nc, path, NULL));
    int ishape[3] = {0, 0, 0}, nout_file = 0;
    nc_type at;
    if (nc_inq_att(nc, NC_GLOBAL, "input_shape", &at, &alen) != NC_NOERR || alen != 3) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "model file '%s': global attribute input_shape is missing or not 3 integers", path);
        goto fail;
    }
    TTP_NC(ctx, st, fail, nc_get_att_int(nc, NC_GLOBAL, "input_shape", ishape), "reading input_shape of '%s'",
           path);
    /* one value only: nc_get_att_int writes every value the attribute holds */
    size_t nlen = 0;
    int have_nout = nc_inq_attlen(nc, NC_GLOBAL, "num_outputs", &nlen) == NC_NOERR && nlen == 1 &&
                    nc_get_att_int(nc, NC_GLOBAL, "num_outputs", &nout_file) == NC_NOERR;
    int64_t in_shape[3] = {ishape[0], ishape[1], ishape[2]};
    if (ishape[0] < 1 || ishape[1] < 1 || ishape[2] < 1) { /* found by fuzz_model: say which file */
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "model file '%s': input_shape (%d, %d, %d): every extent must be >= 1", path, ishape[0],
                     ishape[1], ishape[2]);
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_model_create(ctx, in_shape, &m));
    get_text(nc, "title", m->title, sizeof m->title);
    get_text(nc, "source", m->source, sizeof m->source);
    get_text(nc, "license", m->license, sizeof m->license);
    get_text(nc, "history", m->history, sizeof m->history);

    TTP_NC(ctx, st, fail, nc_inq_dimid(nc, "layer", &dl), "model file '%s': dimension layer", path);
    TTP_NC(ctx, st, fail, nc_inq_dimlen(nc, dl, &L), "model file '%s': length of dimension layer", path);
    if (L < 1 || L > 100000) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s': %zu layers, expected 1..100000", path, L);
        goto fail;
    }
    TTP_ALLOC(ctx, st, fail, ibuf, L, "layer attributes");
    TTP_ALLOC(ctx, st, fail, dbuf, L, "layer attributes");
    TTP_ALLOC(ctx, st, fail, m->layers, L, "layers");
    m->nlayers = (int)L;
    for (size_t i = 0; i < L; i++) m->layers[i].eps = 1e-5;
    for (int v = 0; v < N_INT_VARS; v++) {
        int var;
        if (nc_inq_varid(nc, int_vars[v], &var) != NC_NOERR) {
            /* Optional: layer_nweights (exact per-layer count check), and the
             * attributes a layer kind does not use may be left out. */
            if (v == 0 || v == 1) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s': variable %s is missing", path,
                             int_vars[v]);
                goto fail;
            }
            for (size_t i = 0; i < L; i++)
                set_layer_int(&m->layers[i], v, v == 2 ? -1 : v == 5 ? 1 : v == 7 ? 1 : 0);
            continue;
        }
        TTP_CALL_GOTO(ctx, st, fail, check_layer_var(ctx, nc, var, int_vars[v], dl, 1, path));
        TTP_NC(ctx, st, fail, nc_get_var_int(nc, var, ibuf), "reading %s from '%s'", int_vars[v], path);
        if (v == N_INT_VARS - 1) {
            TTP_ALLOC(ctx, st, fail, nwf, L, "layer weight counts");
            memcpy(nwf, ibuf, L * sizeof *ibuf);
        }
        for (size_t i = 0; i < L; i++) set_layer_int(&m->layers[i], v, ibuf[i]);
    }
    if (nc_inq_varid(nc, "layer_eps", &veps) == NC_NOERR) {
        TTP_CALL_GOTO(ctx, st, fail, check_layer_var(ctx, nc, veps, "layer_eps", dl, 1, path));
        TTP_NC(ctx, st, fail, nc_get_var_double(nc, veps, dbuf), "reading layer_eps from '%s'", path);
        for (size_t i = 0; i < L; i++) m->layers[i].eps = dbuf[i];
    }
    /* optional; only leaky_relu reads it, with the common default slope 0.01 */
    for (size_t i = 0; i < L; i++) m->layers[i].alpha = 0.01;
    if (nc_inq_varid(nc, "layer_alpha", &valpha) == NC_NOERR) {
        TTP_CALL_GOTO(ctx, st, fail, check_layer_var(ctx, nc, valpha, "layer_alpha", dl, 1, path));
        TTP_NC(ctx, st, fail, nc_get_var_double(nc, valpha, dbuf), "reading layer_alpha from '%s'", path);
        for (size_t i = 0; i < L; i++) m->layers[i].alpha = dbuf[i];
    }
    if (nc_inq_varid(nc, "layer_name", &vname) == NC_NOERR) {
        int dims[2];
        size_t nlen = 0;
        TTP_CALL_GOTO(ctx, st, fail, check_layer_var(ctx, nc, vname, "layer_name", dl, 2, path));
        TTP_NC(ctx, st, fail, nc_inq_vardimid(nc, vname, dims), "reading layer_name of '%s'", path);
        TTP_NC(ctx, st, fail, nc_inq_dimlen(nc, dims[1], &nlen), "reading layer_name of '%s'", path);
        if (nlen > 4096) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "model file '%s': layer_name is %zu characters wide, at most 4096", path, nlen);
            goto fail;
        }
        TTP_ALLOC(ctx, st, fail, names, L * nlen + 1, "layer names");
        TTP_NC(ctx, st, fail, nc_get_var_text(nc, vname, names), "reading layer_name from '%s'", path);
        for (size_t i = 0; i < L; i++) {
            size_t k = nlen < sizeof m->layers[i].name - 1 ? nlen : sizeof m->layers[i].name - 1;
            memcpy(m->layers[i].name, names + i * nlen, k);
            m->layers[i].name[k] = '\0';
        }
    }
    for (size_t i = 0; i < L; i++) {
        ttp_layer *Ly = &m->layers[i];
        if ((int)Ly->kind < 0 || Ly->kind >= TTP_LAYER_KIND_COUNT) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s': layer %zu has unknown kind %d", path, i,
                         (int)Ly->kind);
            goto fail;
        }
        if (Ly->name[0] == '\0') snprintf(Ly->name, sizeof Ly->name, "%s%zu", kind_names[Ly->kind], i);
    }
    /* Shapes first: a cycle, a dangling input or a window that does not fit
     * is reported as such before any count is compared. */
    if (layout(ctx, m) != TTP_OK) {
        st = ctx->code;
        char msg[TTP_MSG_LEN];
        snprintf(msg, sizeof msg, "%s", ctx->msg);
        ttp_error_clear(ctx);
        st = TTP_ERR(ctx, st, "model file '%s': %s", path, msg);
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, opt_var_len(ctx, nc, "params", path, &vp, &nparams));
    TTP_CALL_GOTO(ctx, st, fail, opt_var_len(ctx, nc, "state", path, &vs, &nstate));
    TTP_CALL_GOTO(ctx, st, fail, check_counts(ctx, m, nwf, nparams, nstate, path));
    if (have_nout && nout_file != m->nout) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "model file '%s': num_outputs is %d but the last layer '%s' gives %d", path, nout_file,
                     m->layers[L - 1].name, m->nout);
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_model_build(ctx, m));
    if (vp >= 0) TTP_NC(ctx, st, fail, nc_get_var_double(nc, vp, m->w), "reading params from '%s'", path);
    if (vs >= 0) TTP_NC(ctx, st, fail, nc_get_var_double(nc, vs, m->state), "reading state from '%s'", path);
    for (size_t i = 0; i < L; i++) {
        const ttp_layer *Ly = &m->layers[i];
        for (int64_t j = 0; j < Ly->nw; j++)
            if (!isfinite(m->w[Ly->woff + j])) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "model file '%s': layer %zu '%s' has a non-finite "
                             "weight at position %lld",
                             path, i, Ly->name, (long long)j);
                goto fail;
            }
        for (int64_t j = 0; j < Ly->ns; j++) {
            double v = m->state[Ly->soff + j];
            if (!isfinite(v) || (j >= Ly->ns / 2 && v + Ly->eps <= 0.0)) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "model file '%s': layer %zu '%s' has an invalid "
                             "batch-norm statistic %g at position %lld (means finite, variances >= 0)",
                             path, i, Ly->name, v, (long long)j);
                goto fail;
            }
        }
    }
    nc_close(nc);
    free(ibuf);
    free(nwf);
    free(dbuf);
    free(names);
    *out = m;
    return TTP_OK;
fail:
    if (nc >= 0) nc_close(nc);
    free(ibuf);
    free(nwf);
    free(dbuf);
    free(names);
    ttp_model_destroy(&m);
    return st;
}
