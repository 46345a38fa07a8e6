// labels: cuda
/*
 * test_gpu_net.c — the device Jacobian stage (gpu/ttp_gnet.h) and its CPU
 * twin.  On every machine, the twin ("ref": plain loops over the same
 * per-element functions the CUDA kernels run, gpu/gnet_ew.h) against
 * independent references, on four small models that cover every layer kind
 * (dense, conv2d with stride and padding, relu, sigmoid, tanh, leaky_relu,
 * gelu, batch norm, max/avg/global-average pooling, flatten, residual add,
 * a frozen first layer, and vector blocks wide enough for KRON to sketch):
 *   - every layer kind alone (its output is the model's), forward and the
 *     input and weight gradients of R = 2 cotangent rows per sample, against
 *     the engine (1e-12, 1e-10);
 *   - forward outputs against the engine's ttp_net_forward (src/engine/net.c,
 *     BLAS): 1e-12 relative (plus 1e-12 of the largest output for values near
 *     zero): different summation order only;
 *   - backward with R = 1 random cotangent per sample: the rows summed over
 *     the batch against ttp_net_backward's weight gradient, the per-row input
 *     gradients against its input gradient: 1e-10;
 *   - backward with R = 3 random cotangents per sample against the same
 *     combinations of the engine's exact Jacobian rows: 1e-10;
 *   - the Jacobian stage (R = C, identity cotangents, blocks of 3 samples over
 *     7) for every projection kind against ttp_jac_rows on the CPU (G, f0, u0,
 *     normalized error 1e-10), and its local Gram against plain loops;
 *   - the bundled models (default: exact; the wide ResNet: kron D' = 1024)
 *     on two real samples against ttp_jac_rows, when TTP_DATA_DIR is set;
 *   - exact rows against central finite differences of the twin's own
 *     forward pass (h = 1e-6; piecewise-linear nets have no truncation error,
 *     the smooth one O(h²)): max error < 1e-6 of the largest entry.
 * With a device, every check runs again on "cuda" against the twin at the
 * same tolerances.  Without one, the refusals are checked (backend cuda,
 * a plan asking for cuda) and the test exits 77 with the reason.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_data.h"
#include "ttp_gpu.h"
#include "ttp_jac.h"
#include "ttp_onnx.h"
#include "ttp_test.h"

static void add_layer(ttp_ctx *ctx, ttp_model *m, ttp_layer_kind kind, const char *name, int in0, int in1,
                      int units, int kernel, int stride, int pad, int trainable)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    snprintf(L.name, sizeof L.name, "%s", name);
    L.input[0] = in0, L.input[1] = in1;
    L.units = units, L.kernel = kernel, L.stride = stride, L.pad = pad;
    L.eps = 1e-5;
    L.alpha = 0.2;
    L.trainable = trainable;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
}

/* He-normal weights, random biases, BN scale/shift and frozen statistics. */
static void randomize(ttp_model *m, uint64_t seed)
{
    ttp_model_init_weights(m, seed, 0);
    for (int l = 0; l < m->nlayers; l++) {
        ttp_layer *L = &m->layers[l];
        if (L->kind == TTP_LAYER_DENSE || L->kind == TTP_LAYER_CONV2D) {
            for (int64_t o = 0; o < L->units; o++)
                m->w[L->woff + L->nw - L->units + o] =
                    0.2 * ttp_rng_normal(seed + 1, (uint64_t)(L->woff + o));
        } else if (L->kind == TTP_LAYER_BATCHNORM) {
            int64_t C = L->in_shape[0];
            for (int64_t c = 0; c < C; c++) {
                m->w[L->woff + c] = 1.0 + 0.3 * ttp_rng_normal(seed + 2, (uint64_t)(L->woff + c));
                m->w[L->woff + C + c] = 0.3 * ttp_rng_normal(seed + 3, (uint64_t)(L->woff + c));
                m->state[L->soff + c] = 0.2 * ttp_rng_normal(seed + 4, (uint64_t)(L->soff + c));
                m->state[L->soff + C + c] = 0.5 + ttp_rng_uniform(seed + 5, (uint64_t)(L->soff + c));
            }
        }
    }
}

static ttp_model *finish(ttp_ctx *ctx, ttp_model *m, uint64_t seed)
{
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m, seed);
    return m;
}

/* A: dense → relu → dense. */
static ttp_model *model_a(ttp_ctx *ctx)
{
    const int64_t shape[3] = {6, 1, 1};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc1", -1, -1, 7, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu", 0, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc2", 1, -1, 3, 0, 0, 0, 1);
    return finish(ctx, m, 17);
}

/* B: conv → BN → relu → conv → BN → add(skip) → relu → maxpool → flatten → dense. */
static ttp_model *model_b(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 6, 6};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv1", -1, -1, 3, 3, 1, 1, 1);
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn1", 0, -1, 0, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu1", 1, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv2", 2, -1, 3, 3, 1, 1, 1);
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn2", 3, -1, 0, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_ADD, "add", 4, 2, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu2", 5, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_MAXPOOL, "pool", 6, -1, 0, 2, 2, 0, 0);
    add_layer(ctx, m, TTP_LAYER_FLATTEN, "flat", 7, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc", 8, -1, 4, 0, 0, 0, 1);
    return finish(ctx, m, 29);
}

/* C: the smooth activations. */
static ttp_model *model_c(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 4, 4};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv", -1, -1, 3, 3, 1, 1, 1);
    add_layer(ctx, m, TTP_LAYER_GELU, "gelu", 0, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_FLATTEN, "flat", 1, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc1", 2, -1, 6, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_SIGMOID, "sig", 3, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc2", 4, -1, 5, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_TANH, "tanh", 5, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc3", 6, -1, 5, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_LEAKYRELU, "leaky", 7, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc4", 8, -1, 3, 0, 0, 0, 1);
    return finish(ctx, m, 41);
}

/* D: a frozen strided, padded conv, leaky relu, average pooling of an odd
 * plane, a trainable conv without padding, tanh, global average pooling,
 * a dense head. */
static ttp_model *model_d(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 9, 9};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv1", -1, -1, 4, 3, 2, 1, 0); /* 4×5×5 */
    add_layer(ctx, m, TTP_LAYER_LEAKYRELU, "leaky", 0, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_AVGPOOL, "avg", 1, -1, 0, 2, 1, 0, 0);  /* 4×4×4 */
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv2", 2, -1, 5, 2, 2, 0, 1); /* 5×2×2 */
    add_layer(ctx, m, TTP_LAYER_TANH, "tanh", 3, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_GAP, "gap", 4, -1, 0, 0, 0, 0, 0); /* 5 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc", 5, -1, 3, 0, 0, 0, 1);
    return finish(ctx, m, 53);
}

/* E: wide vector blocks (a bias of 20, batch norm over 20 features: sketched
 * by KRON) and a 3-input dense layer (KRON keeps P_in the identity and
 * sketches the output side). */
static ttp_model *model_e(ttp_ctx *ctx)
{
    const int64_t shape[3] = {3, 1, 1};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc1", -1, -1, 20, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn", 0, -1, 0, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu", 1, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc2", 2, -1, 3, 0, 0, 0, 1);
    return finish(ctx, m, 67);
}

/* F: model B with 9 and 17 channels, so that KRON sketches the batch-norm
 * and bias vector blocks of conv layers (more than 16 values each). */
static ttp_model *model_f(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 5, 5};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv1", -1, -1, 9, 3, 1, 1, 1);
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn1", 0, -1, 0, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu1", 1, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv2", 2, -1, 17, 3, 2, 1, 1);
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn2", 3, -1, 0, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu2", 4, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_GAP, "gap", 5, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc", 6, -1, 4, 0, 0, 0, 1);
    return finish(ctx, m, 79);
}

static double *randv(int64_t n, uint64_t seed)
{
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = ttp_rng_normal(seed, (uint64_t)i);
    return v;
}

/* ‖a − b‖ / ‖b‖ (‖a − b‖ when b vanishes). */
static double nerr(const double *a, const double *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* max_i |a_i − b_i| / (|b_i| + max_j |b_j|·floor): elementwise relative,
 * with an absolute term for entries that vanish up to cancellation. */
static double elerr(const double *a, const double *b, int64_t n, double floor)
{
    double mx = 0.0, worst = 0.0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i]));
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / (fabs(b[i]) + floor * mx + 1e-300);
        if (!(d <= worst)) worst = d; /* NaN counts */
    }
    return worst;
}

typedef struct {
    const char *name;
    ttp_model *m;
    int64_t in, C, D;
} tcase;

/* Forward and backward of backend `be` against the engine (be = "ref") or
 * against the twin (be = "cuda"). */
static void check_passes(ttp_ctx *ctx, const tcase *t, const char *be)
{
    const ttp_model *m = t->m;
    const int64_t nb = 5, C = t->C, D = t->D, in = t->in;
    const int vs_engine = strcmp(be, "ref") == 0;
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    ttp_gnet *g = NULL, *r = NULL, *g3 = NULL, *r3 = NULL;
    double *x = randv(nb * in, 7), *dout = randv(nb * C, 8), *dout3 = randv(3 * nb * C, 9);
    double *out = calloc((size_t)(nb * C), sizeof(double)), *ref = calloc((size_t)(nb * C), sizeof(double));
    double *J = calloc((size_t)(nb * D), sizeof(double)), *gx = calloc((size_t)(nb * in), sizeof(double));
    double *Jr = calloc((size_t)(3 * nb * D), sizeof(double)),
           *Jref = calloc((size_t)(3 * nb * D), sizeof(double));
    double *gw = calloc((size_t)m->nparams, sizeof(double)), *gwt = calloc((size_t)D, sizeof(double));
    double *gxr = calloc((size_t)(nb * in), sizeof(double)), *sumJ = calloc((size_t)D, sizeof(double));
    double *Jex = calloc((size_t)(nb * C * D), sizeof(double));

    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 1, "cpu", &plan));
    if (!plan) goto done;
    CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, be, -1, nb, 1, &g));
    CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, be, -1, nb, 3, &g3));
    if (!g || !g3) goto done;
    CHECK(strcmp(ttp_gnet_backend(g), be) == 0);

    /* forward */
    CHECK_OK(ctx, ttp_gnet_forward(ctx, g, x, nb, out));
    if (vs_engine) {
        CHECK_OK(ctx, ttp_net_create(ctx, m, nb * C, &net));
        CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, nb, ref));
    } else {
        CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, "ref", -1, nb, 1, &r));
        CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, "ref", -1, nb, 3, &r3));
        CHECK_OK(ctx, ttp_gnet_forward(ctx, r, x, nb, ref));
    }
    double e_fwd = elerr(out, ref, nb * C, 1.0);
    CHECK(e_fwd < 1e-12);

    /* backward, R = 1: Σ_rows J = the weight gradient; gx per row */
    CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, g, dout, J, gx));
    if (vs_engine) {
        CHECK_OK(ctx, ttp_net_backward(ctx, net, m->w, dout, gw, gxr));
        ttp_model_get_trainable(m, gw, gwt);
        for (int64_t r0 = 0; r0 < nb; r0++)
            for (int64_t k = 0; k < D; k++) sumJ[k] += J[r0 * D + k];
        CHECK(nerr(sumJ, gwt, D) < 1e-10);
    } else {
        double *Jt = calloc((size_t)(nb * D), sizeof(double));
        CHECK_OK(ctx, ttp_gnet_forward(ctx, r, x, nb, NULL));
        CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, r, dout, Jt, gxr));
        CHECK(nerr(J, Jt, nb * D) < 1e-10);
        free(Jt);
    }
    double e_gx = nerr(gx, gxr, nb * in);
    CHECK(e_gx < 1e-10);

    /* backward, R = 3 general cotangents: row (b, c) = Σ_k dout3[b,c,k] · J_exact[b, k, :] */
    CHECK_OK(ctx, ttp_gnet_forward(ctx, g3, x, nb, NULL));
    CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, g3, dout3, Jr, NULL));
    if (vs_engine) {
        CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, nb, Jex, NULL, NULL));
        for (int64_t b = 0; b < nb; b++)
            for (int64_t c = 0; c < 3; c++)
                for (int64_t k = 0; k < D; k++) {
                    double s = 0.0;
                    for (int64_t o = 0; o < C; o++)
                        s += dout3[(b * 3 + c) * C + o] * Jex[(b * C + o) * D + k];
                    Jref[(b * 3 + c) * D + k] = s;
                }
    } else {
        CHECK_OK(ctx, ttp_gnet_forward(ctx, r3, x, nb, NULL));
        CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, r3, dout3, Jref, NULL));
    }
    double e_r3 = nerr(Jr, Jref, 3 * nb * D);
    CHECK(e_r3 < 1e-10);
    printf("%-4s %-4s forward %.2e  Σ rows vs grad / gx %.2e  R=3 rows %.2e\n", t->name, be, e_fwd, e_gx,
           e_r3);
done:
    ttp_gnet_destroy(&g), ttp_gnet_destroy(&g3), ttp_gnet_destroy(&r), ttp_gnet_destroy(&r3);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    free(x), free(dout), free(dout3), free(out), free(ref), free(J), free(gx), free(Jr), free(Jref);
    free(gw), free(gwt), free(gxr), free(sumJ), free(Jex);
}

/* The Jacobian stage of backend `be` for one projection kind, against
 * ttp_jac_rows on the CPU (be = "ref") or against the twin (be = "cuda"). */
static void check_stage(ttp_ctx *ctx, const tcase *t, const char *be, ttp_proj_kind kind, int64_t dproj,
                        int calibrate)
{
    const ttp_model *m = t->m;
    const int64_t ns = 7, C = t->C, in = t->in;
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    ttp_gnet *g = NULL;
    double *x = randv(ns * in, 21), *G = NULL, *Gr = NULL, *gram = NULL, *gref = NULL;
    double f0[64], u0[64], f0r[64], u0r[64];
    CHECK(ns * C <= 64);
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, kind, dproj, 99, "cpu", &plan));
    CHECK_OK(ctx, ttp_net_create(ctx, m, 4 * C, &net));
    if (!plan || !net) goto done;
    if (calibrate) CHECK_OK(ctx, ttp_jac_plan_calibrate(ctx, plan, net, m->w, x, 3));
    const int64_t K = ttp_jac_plan_dim(plan);
    G = calloc((size_t)(ns * C * K), sizeof *G);
    Gr = calloc((size_t)(ns * C * K), sizeof *Gr);
    gram = calloc((size_t)(K * K), sizeof *gram);
    gref = calloc((size_t)(K * K), sizeof *gref);
    CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, be, -1, 3, C, &g));
    if (!g) goto done;
    CHECK_OK(ctx, ttp_gnet_rows(ctx, g, x, ns, G, f0, u0, gram));
    if (strcmp(be, "ref") == 0) {
        CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, ns, Gr, f0r, u0r));
    } else {
        ttp_gnet *r = NULL;
        CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, "ref", -1, 3, C, &r));
        if (r) CHECK_OK(ctx, ttp_gnet_rows(ctx, r, x, ns, Gr, f0r, u0r, NULL));
        ttp_gnet_destroy(&r);
    }
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < K; j++) {
            double s = 0.0;
            for (int64_t r0 = 0; r0 < ns * C; r0++) s += Gr[r0 * K + i] * Gr[r0 * K + j];
            gref[i * K + j] = s;
        }
    double eg = nerr(G, Gr, ns * C * K), ef = nerr(f0, f0r, ns * C), eu = nerr(u0, u0r, ns * C);
    double et = nerr(gram, gref, K * K);
    CHECK(eg < 1e-10 && ef < 1e-12 && eu < 1e-10 && et < 1e-10);
    int sym = 1;
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < i; j++) sym &= gram[i * K + j] == gram[j * K + i];
    CHECK(sym);
    printf("%-4s %-4s %-10s%s D'=%-4lld G %.2e  f0 %.2e  u0 %.2e  GᵀG %.2e\n", t->name, be,
           ttp_proj_kind_str(kind), calibrate ? "+cal" : "    ", (long long)K, eg, ef, eu, et);
done:
    ttp_gnet_destroy(&g);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    free(x), free(G), free(Gr), free(gram), free(gref);
}

/* Exact rows of the twin against central differences of its own forward. */
static void check_fd(ttp_ctx *ctx, const tcase *t)
{
    ttp_model *m = t->m;
    const int64_t ns = 2, C = t->C, D = t->D, in = t->in;
    ttp_jac_plan *plan = NULL;
    ttp_gnet *g = NULL;
    double *x = randv(ns * in, 31), *J = calloc((size_t)(ns * C * D), sizeof(double));
    double *w = malloc((size_t)m->nparams * sizeof *w), fp[64], fm[64];
    int64_t *map = malloc((size_t)D * sizeof *map), col = 0;
    for (int l = 0; l < m->nlayers; l++)
        if (m->layers[l].trainable)
            for (int64_t j = 0; j < m->layers[l].nw; j++) map[col++] = m->layers[l].woff + j;
    memcpy(w, m->w, (size_t)m->nparams * sizeof *w);
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 1, "cpu", &plan));
    if (plan) CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, "ref", -1, ns, C, &g));
    if (!g) goto done;
    CHECK_OK(ctx, ttp_gnet_rows(ctx, g, x, ns, J, NULL, NULL, NULL));
    const double h = 1e-6;
    double maxerr = 0.0, maxj = 0.0;
    for (int64_t k = 0; k < D; k++) {
        const double w0 = w[map[k]];
        w[map[k]] = w0 + h;
        CHECK_OK(ctx, ttp_gnet_set_weights(ctx, g, w));
        CHECK_OK(ctx, ttp_gnet_forward(ctx, g, x, ns, fp));
        w[map[k]] = w0 - h;
        CHECK_OK(ctx, ttp_gnet_set_weights(ctx, g, w));
        CHECK_OK(ctx, ttp_gnet_forward(ctx, g, x, ns, fm));
        w[map[k]] = w0;
        for (int64_t r = 0; r < ns * C; r++) {
            double fd = (fp[r] - fm[r]) / (2 * h);
            maxerr = fmax(maxerr, fabs(fd - J[r * D + k]));
            maxj = fmax(maxj, fabs(J[r * D + k]));
        }
    }
    CHECK(maxerr < 1e-6 * maxj);
    printf("%-4s ref  finite differences: max error %.2e of max |J| %.2e (D = %lld)\n", t->name, maxerr, maxj,
           (long long)D);
done:
    ttp_gnet_destroy(&g);
    ttp_jac_plan_destroy(&plan);
    free(x), free(J), free(w), free(map);
}

/* The bundled models (TTP_DATA_DIR): the twin's rows against ttp_jac_rows on
 * a few real samples, for the shapes the tool runs (the wide ResNet has
 * strided 1×1 shortcut convs and 1.2 M weights). */
static void check_bundled(ttp_ctx *ctx, const char *be)
{
    const char *dd = getenv("TTP_DATA_DIR");
    const char *names[2][3] = {{"default-model.nc", "default-data.nc", "exact"},
                               {"wide-model.nc", "default-data.nc", "kron"}};
    if (!dd) {
        printf("bundled models: TTP_DATA_DIR not set, not checked\n");
        return;
    }
    for (int t = 0; t < 2; t++) {
        char mp[4096], dp[4096];
        snprintf(mp, sizeof mp, "%s/%s", dd, names[t][0]);
        snprintf(dp, sizeof dp, "%s/%s", dd, names[t][1]);
        ttp_model *m = NULL;
        ttp_data *d = NULL;
        ttp_jac_plan *plan = NULL;
        ttp_net *net = NULL;
        ttp_gnet *g = NULL, *r = NULL;
        double *G = NULL, *Gr = NULL, f0[16], f0r[16], u0[16], u0r[16];
        ttp_proj_kind kind = t == 0 ? TTP_PROJ_EXACT : TTP_PROJ_KRON;
        const int64_t ns = 2;
        CHECK_OK(ctx, ttp_model_load(ctx, mp, &m));
        CHECK_OK(ctx, ttp_data_read(ctx, dp, &d));
        if (!m || !d) goto next;
        const int64_t C = m->nout;
        CHECK(C * ns <= 16);
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, kind, 1024, 5, "cpu", &plan));
        CHECK_OK(ctx, ttp_net_create(ctx, m, 4 * C, &net));
        if (!plan || !net) goto next;
        if (kind == TTP_PROJ_KRON) CHECK_OK(ctx, ttp_jac_plan_calibrate(ctx, plan, net, m->w, d->x, 3));
        const int64_t K = ttp_jac_plan_dim(plan);
        G = calloc((size_t)(ns * C * K), sizeof *G);
        Gr = calloc((size_t)(ns * C * K), sizeof *Gr);
        CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, be, -1, 2, C, &g));
        if (!g) goto next;
        CHECK_OK(ctx, ttp_gnet_rows(ctx, g, d->x, ns, G, f0, u0, NULL));
        if (strcmp(be, "ref") == 0) {
            CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, d->x, ns, Gr, f0r, u0r));
        } else {
            CHECK_OK(ctx, ttp_jac_gnet_open(ctx, plan, m->w, "ref", -1, 2, C, &r));
            if (r) CHECK_OK(ctx, ttp_gnet_rows(ctx, r, d->x, ns, Gr, f0r, u0r, NULL));
        }
        double eg = nerr(G, Gr, ns * C * K), ef = nerr(f0, f0r, ns * C), eu = nerr(u0, u0r, ns * C);
        CHECK(eg < 1e-10 && ef < 1e-12 && eu < 1e-10);
        printf("%-16s %-4s %-5s D'=%-5lld G %.2e  f0 %.2e  u0 %.2e\n", names[t][0], be, names[t][2],
               (long long)K, eg, ef, eu);
    next:
        ttp_gnet_destroy(&g), ttp_gnet_destroy(&r);
        ttp_net_destroy(&net);
        ttp_jac_plan_destroy(&plan);
        ttp_model_destroy(&m);
        ttp_data_destroy(&d);
        free(G), free(Gr);
    }
}

/*
 * Every layer kind alone (its output is the model's): forward within 1e-12
 * (elementwise, plus 1e-12 of the largest value) of ttp_net_forward, and
 * for R = 2 random cotangents per sample the input gradient of each row
 * within 1e-10 of ttp_net_backward's for that cotangent, the rows' weight
 * gradients summed likewise (trainable kinds).  be = "cuda": against the twin.
 */
static void check_single(ttp_ctx *ctx, const char *be)
{
    typedef struct {
        const char *name;
        ttp_layer_kind kind;
        int64_t shape[3];
        int units, kernel, stride, pad, trainable, second;
    } one;
    const one cases[] = {
        {"dense", TTP_LAYER_DENSE, {5, 1, 1}, 4, 0, 0, 0, 1, -2},
        {"conv2d", TTP_LAYER_CONV2D, {2, 5, 5}, 3, 3, 2, 1, 1, -2},
        {"conv2d-1x1", TTP_LAYER_CONV2D, {3, 4, 4}, 2, 1, 1, 0, 1, -2},
        {"relu", TTP_LAYER_RELU, {2, 3, 3}, 0, 0, 0, 0, 0, -2},
        {"sigmoid", TTP_LAYER_SIGMOID, {2, 3, 3}, 0, 0, 0, 0, 0, -2},
        {"tanh", TTP_LAYER_TANH, {2, 3, 3}, 0, 0, 0, 0, 0, -2},
        {"leaky_relu", TTP_LAYER_LEAKYRELU, {2, 3, 3}, 0, 0, 0, 0, 0, -2},
        {"gelu", TTP_LAYER_GELU, {2, 3, 3}, 0, 0, 0, 0, 0, -2},
        {"batchnorm", TTP_LAYER_BATCHNORM, {3, 2, 2}, 0, 0, 0, 0, 1, -2},
        {"maxpool", TTP_LAYER_MAXPOOL, {2, 4, 4}, 0, 2, 2, 0, 0, -2},
        {"maxpool-overlap", TTP_LAYER_MAXPOOL, {2, 5, 5}, 0, 3, 1, 0, 0, -2},
        {"avgpool", TTP_LAYER_AVGPOOL, {2, 5, 5}, 0, 3, 2, 0, 0, -2},
        {"gap", TTP_LAYER_GAP, {3, 2, 3}, 0, 0, 0, 0, 0, -2},
        {"flatten", TTP_LAYER_FLATTEN, {2, 2, 3}, 0, 0, 0, 0, 0, -2},
        {"add", TTP_LAYER_ADD, {2, 2, 2}, 0, 0, 0, 0, 0, -1},
    };
    const int64_t nb = 3, R = 2;
    double worst_f = 0.0, worst_b = 0.0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const one *k = &cases[c];
        ttp_model *m = NULL;
        ttp_net *net = NULL;
        ttp_gnet *g = NULL, *r = NULL;
        CHECK_OK(ctx, ttp_model_create(ctx, k->shape, &m));
        if (!m) continue;
        add_layer(ctx, m, k->kind, k->name, -1, k->second == -2 ? -1 : k->second, k->units, k->kernel,
                  k->stride, k->pad, k->trainable);
        m = finish(ctx, m, 100 + c);
        const int64_t in = k->shape[0] * k->shape[1] * k->shape[2], C = m->nout, D = m->ntrainable;
        double *x = randv(nb * in, 200 + c), *dout = randv(nb * R * C, 300 + c);
        double *out = calloc((size_t)(nb * C), sizeof(double)),
               *ref = calloc((size_t)(nb * C), sizeof(double));
        double *gx = calloc((size_t)(nb * R * in), sizeof(double)),
               *gxr = calloc((size_t)(nb * R * in), sizeof(double));
        double *J = calloc((size_t)(nb * R * (D > 0 ? D : 1)), sizeof(double));
        double *Jr = calloc((size_t)(nb * R * (D > 0 ? D : 1)), sizeof(double));
        double *gw = calloc((size_t)(m->nparams > 0 ? m->nparams : 1), sizeof(double));
        double *gwt = calloc((size_t)(D > 0 ? D : 1), sizeof(double)),
               *sumJ = calloc((size_t)(D > 0 ? D : 1), sizeof(double));
        double *d1 = calloc((size_t)(nb * C), sizeof(double)),
               *g1 = calloc((size_t)(nb * in), sizeof(double));
        CHECK_OK(ctx, ttp_jac_gnet_open_model(ctx, m, m->w, be, -1, nb, R, &g));
        if (!g) goto next;
        CHECK_OK(ctx, ttp_gnet_forward(ctx, g, x, nb, out));
        CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, g, dout, D > 0 ? J : NULL, gx));
        if (strcmp(be, "ref") == 0) {
            CHECK_OK(ctx, ttp_net_create(ctx, m, nb, &net));
            if (!net) goto next;
            CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, nb, ref));
            for (int64_t q = 0; q < R; q++) {
                /* cotangent q of every sample, one engine backward pass */
                for (int64_t b = 0; b < nb; b++)
                    memcpy(d1 + b * C, dout + (b * R + q) * C, (size_t)C * sizeof *d1);
                memset(gw, 0, (size_t)m->nparams * sizeof *gw);
                CHECK_OK(ctx, ttp_net_backward(ctx, net, m->w, d1, D > 0 ? gw : NULL, g1));
                for (int64_t b = 0; b < nb; b++)
                    memcpy(gxr + (b * R + q) * in, g1 + b * in, (size_t)in * sizeof *g1);
                if (D > 0) {
                    ttp_model_get_trainable(m, gw, gwt);
                    memset(sumJ, 0, (size_t)D * sizeof *sumJ);
                    for (int64_t b = 0; b < nb; b++)
                        for (int64_t j = 0; j < D; j++) sumJ[j] += J[(b * R + q) * D + j];
                    double e = nerr(sumJ, gwt, D);
                    CHECK(e < 1e-10);
                    worst_b = fmax(worst_b, e);
                }
            }
        } else {
            CHECK_OK(ctx, ttp_jac_gnet_open_model(ctx, m, m->w, "ref", -1, nb, R, &r));
            if (!r) goto next;
            CHECK_OK(ctx, ttp_gnet_forward(ctx, r, x, nb, ref));
            CHECK_OK(ctx, ttp_gnet_backward_rows(ctx, r, dout, D > 0 ? Jr : NULL, gxr));
            if (D > 0) {
                double e = nerr(J, Jr, nb * R * D);
                CHECK(e < 1e-10);
                worst_b = fmax(worst_b, e);
            }
        }
        {
            double ef = elerr(out, ref, nb * C, 1.0), eb = nerr(gx, gxr, nb * R * in);
            CHECK(ef < 1e-12);
            CHECK(eb < 1e-10);
            if (!(ef < 1e-12) || !(eb < 1e-10))
                printf("single %s (%s): forward %.2e, input gradient %.2e\n", k->name, be, ef, eb);
            worst_f = fmax(worst_f, ef);
            worst_b = fmax(worst_b, eb);
        }
    next:
        ttp_gnet_destroy(&g), ttp_gnet_destroy(&r);
        ttp_net_destroy(&net);
        ttp_model_destroy(&m);
        free(x), free(dout), free(out), free(ref), free(gx), free(gxr), free(J), free(Jr), free(gw),
            free(gwt);
        free(sumJ), free(d1), free(g1);
    }
    printf("every layer kind alone (%s): worst forward %.2e, worst backward %.2e\n", be, worst_f, worst_b);
}

static void check_all(ttp_ctx *ctx, const tcase *t, const char *be)
{
    const int64_t D = t->D;
    check_passes(ctx, t, be);
    check_stage(ctx, t, be, TTP_PROJ_EXACT, 0, 0);
    check_stage(ctx, t, be, TTP_PROJ_RADEMACHER, D / 3 > 0 ? D / 3 : 1, 0);
    check_stage(ctx, t, be, TTP_PROJ_GAUSSIAN, D / 2 > 0 ? D / 2 : 1, 0);
    check_stage(ctx, t, be, TTP_PROJ_KRON, D / 2 > 0 ? D / 2 : 1, 0);
    check_stage(ctx, t, be, TTP_PROJ_KRON, D / 4 > 0 ? D / 4 : 1, 1);
    check_stage(ctx, t, be, TTP_PROJ_KRON, D, 0);
    check_stage(ctx, t, be, TTP_PROJ_KRON, 12, 1); /* one column for most blocks */
}

int main(void)
{
    ttp_ctx ctx;
    char why[512];
    ttp_ctx_init(&ctx);
    enum { NCASE = 6 };
    tcase cases[NCASE] = {{"A", model_a(&ctx), 0, 0, 0}, {"B", model_b(&ctx), 0, 0, 0},
                          {"C", model_c(&ctx), 0, 0, 0}, {"D", model_d(&ctx), 0, 0, 0},
                          {"E", model_e(&ctx), 0, 0, 0}, {"F", model_f(&ctx), 0, 0, 0}};
    for (int i = 0; i < NCASE; i++) {
        ttp_model *m = cases[i].m;
        if (!m) return 1;
        cases[i].in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
        cases[i].C = m->nout;
        cases[i].D = m->ntrainable;
    }
    for (int i = 0; i < NCASE; i++) {
        check_all(&ctx, &cases[i], "ref");
        check_fd(&ctx, &cases[i]);
    }
    check_single(&ctx, "ref");
    check_bundled(&ctx, "ref");
    int have = ttp_gpu_device_count(why, sizeof why) > 0;
    if (have) {
        for (int i = 0; i < NCASE; i++) check_all(&ctx, &cases[i], "cuda");
        check_single(&ctx, "cuda");
        check_bundled(&ctx, "cuda");
    } else {
        /* no device: "cuda" refuses with the reason, never falls back */
        ttp_jac_plan *plan = NULL;
        ttp_gnet *g = NULL;
        CHECK_OK(&ctx, ttp_jac_plan_create(&ctx, cases[0].m, TTP_PROJ_EXACT, 0, 1, "cpu", &plan));
        if (plan)
            CHECK_FAILS(&ctx, ttp_jac_gnet_open(&ctx, plan, cases[0].m->w, "cuda", -1, 2, 3, &g),
                        TTP_ERR_UNSUPPORTED, "cuda");
        CHECK(g == NULL);
        ttp_jac_plan_destroy(&plan);
        CHECK_FAILS(&ctx, ttp_jac_plan_create(&ctx, cases[0].m, TTP_PROJ_KRON, 10, 1, "cuda", &plan),
                    TTP_ERR_UNSUPPORTED, "cuda");
        CHECK_OK(&ctx, ttp_jac_plan_create(&ctx, cases[0].m, TTP_PROJ_KRON, 10, 1, "auto", &plan));
        CHECK(plan && strcmp(ttp_jac_plan_backend(plan), "cpu") == 0);
        ttp_jac_plan_destroy(&plan);
    }
    for (int i = 0; i < NCASE; i++) ttp_model_destroy(&cases[i].m);
    if (!have && ttp_test_failures == 0) {
        printf("%d checks passed on the CPU twin\nSKIP: device parity: %s\n", ttp_test_checks, why);
        return 77;
    }
    return ttp_test_end("test_gpu_net");
}
