/*
 * test_jac.c — per-sample Jacobian rows (src/engine/jac.c) against independent
 * references, on two tiny models built with ttp_model_*:
 *   A  dense(6→7) → relu → dense(7→3)
 *   B  conv3x3(2→3) → BN → relu → conv3x3(3→3) → BN → add(skip) → relu →
 *      maxpool 2 → flatten → dense(27→4)        (inputs 2×6×6)
 *   C  conv3x3(2→3) → gelu → flatten → dense(48→6) → sigmoid → dense(6→5)
 *      → tanh → dense(5→5) → leaky_relu(0.2) → dense(5→3)  (inputs 2×4×4),
 *      the smooth activations (central differences are then exact to
 *      O(h²) ≈ 1e-12 instead of to rounding)
 * Checks:
 *   - EXACT rows against central finite differences of the forward pass in
 *     every trainable weight (both nets are piecewise linear in any single
 *     weight, so the difference quotient is exact up to rounding);
 *   - f0 equals ttp_net_forward, u0 equals J·w_trainable;
 *   - for A, Θ = G Gᵀ against the closed form of the NTK of a one-hidden-
 *     layer ReLU network, computed here from the weights;
 *   - dense kinds: G equals J P with P from ttp_proj_entry (triple loop here);
 *   - KRON is unbiased, with its D′ split by size and after
 *     ttp_jac_plan_calibrate: the Gram matrix averaged over 1024 seeds
 *     approaches Θ as 1/√(seeds) predicts (no floor from a bias); u0 is the
 *     same as for EXACT; KRON with D′ = D gives the exact rows;
 *   - rows do not depend on how samples are batched (seven calls of one
 *     sample vs one call of seven), to rounding (1e-13 relative: the
 *     forward DGEMMs round a sample by its place in the batch), every kind;
 *   - the rows of one forward pass per sample with its C cotangents pushed
 *     back together (ttp_net_backward_factors_multi) equal the C separate
 *     passes (forward one sample, ttp_net_backward with output gradient
 *     e_c, the summed weight gradient as the row) to 1e-12, on A, B and C;
 *   - D′ out of range is refused, naming D′ and D;
 *   - ttp_jac_jvp equals J v with J the exact rows (C);
 *   - ttp_model_select_trainable (B): the rows with last:1 are the trailing
 *     (head) block of the full rows and their Θ that block's Gram matrix;
 *     with "conv1,fc" they are those two blocks side by side.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ttp_jac.h"
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
    L.trainable = trainable;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
}

/* Non-trivial weights: He-normal, then random biases, BN scale/shift and
 * frozen statistics (so that no parameter sits at a special value). */
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

static ttp_model *model_a(ttp_ctx *ctx)
{
    const int64_t shape[3] = {6, 1, 1};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return NULL;
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc1", -1, -1, 7, 0, 0, 0, 1);
    add_layer(ctx, m, TTP_LAYER_RELU, "relu", 0, -1, 0, 0, 0, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc2", 1, -1, 3, 0, 0, 0, 1);
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m, 17);
    return m;
}

static ttp_model *model_b(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 6, 6};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return NULL;
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv1", -1, -1, 3, 3, 1, 1, 1); /* 0 */
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn1", 0, -1, 0, 0, 0, 0, 1); /* 1 */
    add_layer(ctx, m, TTP_LAYER_RELU, "relu1", 1, -1, 0, 0, 0, 0, 0);    /* 2 */
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv2", 2, -1, 3, 3, 1, 1, 1);  /* 3 */
    add_layer(ctx, m, TTP_LAYER_BATCHNORM, "bn2", 3, -1, 0, 0, 0, 0, 1); /* 4 */
    add_layer(ctx, m, TTP_LAYER_ADD, "add", 4, 2, 0, 0, 0, 0, 0);        /* 5 */
    add_layer(ctx, m, TTP_LAYER_RELU, "relu2", 5, -1, 0, 0, 0, 0, 0);    /* 6 */
    add_layer(ctx, m, TTP_LAYER_MAXPOOL, "pool", 6, -1, 0, 2, 2, 0, 0);  /* 7 */
    add_layer(ctx, m, TTP_LAYER_FLATTEN, "flat", 7, -1, 0, 0, 0, 0, 0);  /* 8 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc", 8, -1, 4, 0, 0, 0, 1);      /* 9 */
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m, 29);
    return m;
}

static ttp_model *model_c(ttp_ctx *ctx)
{
    const int64_t shape[3] = {2, 4, 4};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return NULL;
    add_layer(ctx, m, TTP_LAYER_CONV2D, "conv", -1, -1, 3, 3, 1, 1, 1);    /* 0 */
    add_layer(ctx, m, TTP_LAYER_GELU, "gelu", 0, -1, 0, 0, 0, 0, 0);       /* 1 */
    add_layer(ctx, m, TTP_LAYER_FLATTEN, "flat", 1, -1, 0, 0, 0, 0, 0);    /* 2 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc1", 2, -1, 6, 0, 0, 0, 1);       /* 3 */
    add_layer(ctx, m, TTP_LAYER_SIGMOID, "sig", 3, -1, 0, 0, 0, 0, 0);     /* 4 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc2", 4, -1, 5, 0, 0, 0, 1);       /* 5 */
    add_layer(ctx, m, TTP_LAYER_TANH, "tanh", 5, -1, 0, 0, 0, 0, 0);       /* 6 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc3", 6, -1, 5, 0, 0, 0, 1);       /* 7 */
    add_layer(ctx, m, TTP_LAYER_LEAKYRELU, "leaky", 7, -1, 0, 0, 0, 0, 0); /* 8 */
    add_layer(ctx, m, TTP_LAYER_DENSE, "fc4", 8, -1, 3, 0, 0, 0, 1);       /* 9 */
    if (m->nlayers == 10) m->layers[8].alpha = 0.2;
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m, 41);
    return m;
}

/* Slab index of every trainable column (columns are the trainable layers'
 * parameters in slab order). */
static int64_t *column_map(const ttp_model *m)
{
    int64_t *map = malloc((size_t)m->ntrainable * sizeof *map), col = 0;
    for (int l = 0; l < m->nlayers; l++)
        if (m->layers[l].trainable)
            for (int64_t j = 0; j < m->layers[l].nw; j++) map[col++] = m->layers[l].woff + j;
    return map;
}

static double *inputs(const ttp_model *m, int64_t ns, uint64_t seed)
{
    const int64_t in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    double *x = malloc((size_t)(ns * in) * sizeof *x);
    for (int64_t i = 0; i < ns * in; i++) x[i] = ttp_rng_normal(seed, (uint64_t)i);
    return x;
}

static double *gram(const double *G, int64_t rows, int64_t k)
{
    double *T = malloc((size_t)(rows * rows) * sizeof *T);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)k, 1.0, G, (int)k, G,
                (int)k, 0.0, T, (int)rows);
    return T;
}

static double rel_fro(const double *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

/*
 * EXACT rows vs finite differences; f0 vs forward; u0 vs J·w; dense rows vs
 * the triple loop; batching invariance; D′ checks.  Returns the exact rows
 * (ns·C × D) for further checks.
 */
static double *check_exact(ttp_ctx *ctx, ttp_model *m, const double *x, int64_t ns, const char *name)
{
    const int64_t C = m->nout, D = m->ntrainable, rows = ns * C;
    ttp_net *net = NULL;
    ttp_jac_plan *plan = NULL;
    double *J = calloc((size_t)(rows * D), sizeof *J), *f0 = calloc((size_t)rows, sizeof *f0);
    double *u0 = calloc((size_t)rows, sizeof *u0), *ref = calloc((size_t)rows, sizeof *ref);
    double *fp = calloc((size_t)rows, sizeof *fp), *fm = calloc((size_t)rows, sizeof *fm);
    double *w = malloc((size_t)m->nparams * sizeof *w), *wt = malloc((size_t)D * sizeof *wt);
    int64_t *map = column_map(m);
    memcpy(w, m->w, (size_t)m->nparams * sizeof *w);

    CHECK_OK(ctx, ttp_net_create(ctx, m, 3 * C, &net)); /* 3 samples per call: forces several calls */
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &plan));
    CHECK(ttp_jac_plan_dim(plan) == D);
    CHECK(ttp_jac_plan_kind(plan) == TTP_PROJ_EXACT);
    CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, ns, J, f0, u0));

    /* f0 = forward outputs */
    CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, ns, ref));
    for (int64_t r = 0; r < rows; r++) CHECK_CLOSE(f0[r], ref[r], 1e-14, 1e-13);

    /* finite differences: h = 1e-6 (piecewise linear in one weight: no
     * truncation error; rounding ≈ 1e-16·|f|/h ≈ 1e-10) */
    const double h = 1e-6;
    double maxerr = 0, maxj = 0;
    for (int64_t k = 0; k < D; k++) {
        int64_t s = map[k];
        w[s] = m->w[s] + h;
        CHECK_OK(ctx, ttp_net_forward(ctx, net, w, x, ns, fp));
        w[s] = m->w[s] - h;
        CHECK_OK(ctx, ttp_net_forward(ctx, net, w, x, ns, fm));
        w[s] = m->w[s];
        for (int64_t r = 0; r < rows; r++) {
            double fd = (fp[r] - fm[r]) / (2 * h), e = fabs(fd - J[r * D + k]);
            if (e > maxerr) maxerr = e;
            if (fabs(J[r * D + k]) > maxj) maxj = fabs(J[r * D + k]);
        }
    }
    printf("%s: D = %lld, max |J − FD| = %.2e, max |J| = %.2e\n", name, (long long)D, maxerr, maxj);
    CHECK(maxj > 0.1);
    CHECK(maxerr < 1e-6 * maxj);

    /* u0 = J · w_trainable */
    ttp_model_get_trainable(m, m->w, wt);
    for (int64_t r = 0; r < rows; r++) {
        double s = 0, a = 0;
        for (int64_t k = 0; k < D; k++) s += J[r * D + k] * wt[k], a += fabs(J[r * D + k] * wt[k]);
        CHECK_CLOSE(u0[r], s, 1e-13 * a, 0.0);
    }

    /* dense kinds: G = J P with P from ttp_proj_entry; D′ range checks */
    const int64_t K = D / 3;
    double *G = malloc((size_t)(rows * D) * sizeof *G), *R = malloc((size_t)(rows * K) * sizeof *R);
    for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
        ttp_jac_plan *pd = NULL;
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, (ttp_proj_kind)kind, K, 77, "cpu", &pd));
        if (!pd) continue;
        CHECK(ttp_jac_plan_dim(pd) == K && strcmp(ttp_jac_plan_backend(pd), "cpu") == 0);
        double *u1 = calloc((size_t)rows, sizeof *u1);
        CHECK_OK(ctx, ttp_jac_rows(ctx, pd, net, m->w, x, ns, G, NULL, u1));
        memset(R, 0, (size_t)(rows * K) * sizeof *R);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < D; k++)
                for (int64_t j = 0; j < K; j++)
                    R[r * K + j] += J[r * D + k] * ttp_proj_entry((ttp_proj_kind)kind, 77, k, j, K);
        CHECK(rel_fro(G, R, rows * K) < 1e-13);
        /* u0 is taken before projection: the same as for exact */
        for (int64_t r = 0; r < rows; r++) CHECK(u1[r] == u0[r]);
        free(u1);
        ttp_jac_plan_destroy(&pd);
        CHECK(pd == NULL);
    }
    char needle[64];
    snprintf(needle, sizeof needle, "D = %lld", (long long)D);
    ttp_jac_plan *bad = NULL;
    CHECK_FAILS(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_RADEMACHER, D + 1, 1, "cpu", &bad), TTP_ERR_ARG,
                needle);
    CHECK_FAILS(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_GAUSSIAN, 0, 1, "cpu", &bad), TTP_ERR_ARG,
                "D' = 0");
    CHECK_FAILS(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, -3, 1, "cpu", &bad), TTP_ERR_ARG, "D' = -3");
    CHECK_FAILS(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_RADEMACHER, 4, 1, "fpga", &bad), TTP_ERR_ARG,
                "fpga");
    CHECK(bad == NULL);
    free(G), free(R);

    ttp_jac_plan_destroy(&plan);
    ttp_net_destroy(&net);
    free(f0), free(u0), free(ref), free(fp), free(fm), free(w), free(wt), free(map);
    return J;
}

/*
 * Θ of f(x) = W2 relu(W1 x + b1) + b2, in closed form:
 *   Θ_{(i,c),(j,c')} = δ_cc' (h_i·h_j + 1)
 *                      + Σ_k W2[c,k] W2[c',k] 1[z_ik > 0] 1[z_jk > 0] (x_i·x_j + 1)
 */
static void check_closed_form(const ttp_model *m, const double *x, int64_t ns, const double *J)
{
    const int64_t nin = 6, nh = 7, C = 3, rows = ns * C, D = m->ntrainable;
    const double *W1 = m->w + m->layers[0].woff, *b1 = W1 + nh * nin;
    const double *W2 = m->w + m->layers[2].woff;
    double *z = malloc((size_t)(ns * nh) * sizeof *z), *T = calloc((size_t)(rows * rows), sizeof *T);
    for (int64_t i = 0; i < ns; i++)
        for (int64_t k = 0; k < nh; k++) {
            double s = b1[k];
            for (int64_t a = 0; a < nin; a++) s += W1[k * nin + a] * x[i * nin + a];
            z[i * nh + k] = s;
        }
    for (int64_t i = 0; i < ns; i++)
        for (int64_t j = 0; j < ns; j++) {
            double hh = 0, xx = 1.0;
            for (int64_t k = 0; k < nh; k++) hh += fmax(z[i * nh + k], 0) * fmax(z[j * nh + k], 0);
            for (int64_t a = 0; a < nin; a++) xx += x[i * nin + a] * x[j * nin + a];
            for (int64_t c = 0; c < C; c++)
                for (int64_t c2 = 0; c2 < C; c2++) {
                    double t = c == c2 ? hh + 1.0 : 0.0;
                    for (int64_t k = 0; k < nh; k++)
                        if (z[i * nh + k] > 0 && z[j * nh + k] > 0)
                            t += W2[c * nh + k] * W2[c2 * nh + k] * xx;
                    T[(i * C + c) * rows + j * C + c2] = t;
                }
        }
    double *Q = gram(J, rows, D);
    double e = rel_fro(Q, T, rows * rows);
    printf("model A: ‖G Gᵀ − Θ_closed‖/‖Θ‖ = %.2e\n", e);
    CHECK(e < 1e-13);
    free(z), free(T), free(Q);
}

/* Largest |a − b| over n values, relative to the largest |b|. */
static double rel_max(const double *a, const double *b, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return s > 0 ? e / s : e;
}

/*
 * The exact rows J (one forward per sample, C cotangents together) against
 * the old way of C separate passes: per sample and output c, a forward pass
 * of that sample alone and ttp_net_backward with output gradient e_c, whose
 * weight gradient is the row.  Also u0 against those rows.
 */
static void check_separate_passes(ttp_ctx *ctx, ttp_model *m, const double *x, int64_t ns, const double *J,
                                  const char *name)
{
    const int64_t C = m->nout, D = m->ntrainable, rows = ns * C;
    const int64_t in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    ttp_net *net = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, 1, &net));
    double *R = calloc((size_t)(rows * D), sizeof *R), *gw = malloc((size_t)m->nparams * sizeof *gw);
    double *out = malloc((size_t)C * sizeof *out), *e = calloc((size_t)C, sizeof *e);
    int64_t *map = column_map(m);
    for (int64_t s = 0; s < ns && net; s++)
        for (int64_t c = 0; c < C; c++) {
            CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x + s * in, 1, out));
            memset(gw, 0, (size_t)m->nparams * sizeof *gw);
            e[c] = 1.0;
            CHECK_OK(ctx, ttp_net_backward(ctx, net, m->w, e, gw, NULL));
            e[c] = 0.0;
            for (int64_t k = 0; k < D; k++) R[(s * C + c) * D + k] = gw[map[k]];
        }
    const double err = rel_max(J, R, rows * D);
    printf("%s: one forward + C cotangents vs C separate passes: max |ΔJ| / max |J| = %.2e\n", name, err);
    CHECK(err < 1e-12);
    /* a net that holds one row takes the forward pass but not C cotangents */
    if (C > 1) {
        ttp_jac_plan *p = NULL;
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 5, "cpu", &p));
        CHECK_FAILS(ctx, ttp_jac_rows(ctx, p, net, m->w, x, 1, R, NULL, NULL), TTP_ERR_ARG, "holds 1 rows");
        ttp_jac_plan_destroy(&p);
    }
    ttp_net_destroy(&net);
    free(R), free(gw), free(out), free(e), free(map);
}

/* Rows of every kind: seven calls of one sample == one call of seven, to
 * rounding. */
static void check_batching(ttp_ctx *ctx, ttp_model *m, const double *x, const char *name)
{
    const int64_t C = m->nout, ns = 7, in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    ttp_net *net = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, 8 * C, &net));
    const ttp_proj_kind kinds[4] = {TTP_PROJ_EXACT, TTP_PROJ_RADEMACHER, TTP_PROJ_GAUSSIAN, TTP_PROJ_KRON};
    for (int q = 0; q < 4; q++) {
        ttp_jac_plan *p = NULL;
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, kinds[q], m->ntrainable / 2, 5, "cpu", &p));
        if (!p) continue;
        const int64_t K = ttp_jac_plan_dim(p);
        double *G1 = calloc((size_t)(ns * C * K), sizeof *G1), *G7 = calloc((size_t)(ns * C * K), sizeof *G7);
        double *u1 = calloc((size_t)(ns * C), sizeof *u1), *u7 = calloc((size_t)(ns * C), sizeof *u7);
        double *f1 = calloc((size_t)(ns * C), sizeof *f1), *f7 = calloc((size_t)(ns * C), sizeof *f7);
        CHECK_OK(ctx, ttp_jac_rows(ctx, p, net, m->w, x, ns, G7, f7, u7));
        for (int64_t s = 0; s < ns; s++)
            CHECK_OK(ctx,
                     ttp_jac_rows(ctx, p, net, m->w, x + s * in, 1, G1 + s * C * K, f1 + s * C, u1 + s * C));
        const double eg = rel_max(G1, G7, ns * C * K), eu = rel_max(u1, u7, ns * C),
                     ef = rel_max(f1, f7, ns * C);
        int same = eg < 1e-13 && eu < 1e-13 && ef < 1e-13;
        if (!same) {
            double dg = 0, du = 0, df = 0;
            for (int64_t i = 0; i < ns * C * K; i++) dg = fmax(dg, fabs(G1[i] - G7[i]));
            for (int64_t i = 0; i < ns * C; i++)
                du = fmax(du, fabs(u1[i] - u7[i])), df = fmax(df, fabs(f1[i] - f7[i]));
            fprintf(stderr, "%s: %s rows depend on batching: G %.3g u %.3g f %.3g\n", name,
                    ttp_proj_kind_str(kinds[q]), dg, du, df);
        }
        CHECK(same);
        free(G1), free(G7), free(u1), free(u7), free(f1), free(f7);
        ttp_jac_plan_destroy(&p);
    }
    /* a net too small for one sample's C copies is refused */
    ttp_net *small = NULL;
    ttp_jac_plan *p = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, C - 1, &small));
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 5, "cpu", &p));
    double *G = calloc((size_t)(C * m->ntrainable), sizeof *G);
    CHECK_FAILS(ctx, ttp_jac_rows(ctx, p, small, m->w, x, 1, G, NULL, NULL), TTP_ERR_ARG, "");
    free(G);
    ttp_jac_plan_destroy(&p);
    ttp_net_destroy(&small);
    ttp_net_destroy(&net);
}

/*
 * KRON is unbiased: for independent unbiased sketches the mean of S Gram
 * matrices has E‖mean − Θ‖² = E‖G Gᵀ − Θ‖²/S, so its relative error must be
 * ≈ σ₁/√S with σ₁² the mean squared single-seed error; a bias b would stall
 * it at b.  S = 1024: the bound 2σ₁/√S is σ₁/16.
 */
static void check_kron_unbiased(ttp_ctx *ctx, ttp_model *m, const double *x, int64_t ns, const double *J,
                                int64_t dproj, int calibrate, const char *name)
{
    const int64_t C = m->nout, rows = ns * C, D = m->ntrainable;
    ttp_net *net = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, 4 * C, &net));
    double *T = gram(J, rows, D), *acc = calloc((size_t)(rows * rows), sizeof *acc);
    double *u0 = calloc((size_t)rows, sizeof *u0), *ue = calloc((size_t)rows, sizeof *ue), s2 = 0;
    int64_t K = 0;
    { /* u0 for KRON equals u0 for EXACT (taken before projection) */
        ttp_jac_plan *pe = NULL;
        double *Je = malloc((size_t)(rows * D) * sizeof *Je);
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &pe));
        CHECK_OK(ctx, ttp_jac_rows(ctx, pe, net, m->w, x, ns, Je, NULL, ue));
        ttp_jac_plan_destroy(&pe);
        /* KRON with D′ = D: every block's share covers it, so every block is
         * exact and the layout is the slab's: the exact rows, bit for bit */
        double *Gk = calloc((size_t)(rows * D), sizeof *Gk);
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, D, 9, "cpu", &pe));
        if (pe) {
            CHECK(ttp_jac_plan_dim(pe) == D);
            CHECK_OK(ctx, ttp_jac_rows(ctx, pe, net, m->w, x, ns, Gk, NULL, NULL));
            CHECK(memcmp(Gk, Je, (size_t)(rows * D) * sizeof *Gk) == 0);
        }
        ttp_jac_plan_destroy(&pe);
        free(Je), free(Gk);
    }
    const int S = 1024;
    for (int s = 0; s < S; s++) {
        ttp_jac_plan *p = NULL;
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, dproj, 1000 + s, "cpu", &p));
        if (!p) break;
        /* calibrated on two samples: the split changes, unbiasedness must not */
        if (calibrate) CHECK_OK(ctx, ttp_jac_plan_calibrate(ctx, p, net, m->w, x, 2));
        K = ttp_jac_plan_dim(p);
        double *G = malloc((size_t)(rows * K) * sizeof *G);
        CHECK_OK(ctx, ttp_jac_rows(ctx, p, net, m->w, x, ns, G, NULL, u0));
        if (s == 0)
            for (int64_t r = 0; r < rows; r++) CHECK_CLOSE(u0[r], ue[r], 1e-13, 1e-12);
        double *Q = gram(G, rows, K), e = rel_fro(Q, T, rows * rows);
        s2 += e * e / S;
        for (int64_t i = 0; i < rows * rows; i++) acc[i] += Q[i] / S;
        free(Q), free(G);
        ttp_jac_plan_destroy(&p);
    }
    double eS = rel_fro(acc, T, rows * rows), s1 = sqrt(s2);
    printf("%s KRON%s D'=%lld (asked %lld): Gram error one seed (rms) %.3f, mean of %d seeds %.4f "
           "(σ₁/√S = %.4f)\n",
           name, calibrate ? " calibrated" : "", (long long)K, (long long)dproj, s1, S, eS,
           s1 / sqrt((double)S));
    CHECK(s1 > 0.01); /* the sketch is not secretly exact */
    CHECK(eS < 2.0 * s1 / sqrt((double)S));
    CHECK(K >= dproj - 2 && K <= dproj + 2);
    free(T), free(acc), free(u0), free(ue);
    ttp_net_destroy(&net);
}

/* J v from ttp_jac_jvp against the exact rows times v (the trainable part
 * of a random slab); to rounding of the two summation orders. */
static void check_jvp(ttp_ctx *ctx, ttp_model *m, const double *x, int64_t ns, const double *J)
{
    const int64_t C = m->nout, D = m->ntrainable, rows = ns * C;
    ttp_net *net = NULL;
    ttp_jac_plan *p = NULL;
    double *v = malloc((size_t)m->nparams * sizeof *v), *vt = malloc((size_t)D * sizeof *vt);
    double *jv = calloc((size_t)rows, sizeof *jv);
    for (int64_t j = 0; j < m->nparams; j++) v[j] = ttp_rng_normal(71, (uint64_t)j);
    ttp_model_get_trainable(m, v, vt);
    CHECK_OK(ctx, ttp_net_create(ctx, m, 2 * C, &net));
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, D / 4, 3, "cpu", &p));
    CHECK_OK(ctx, ttp_jac_jvp(ctx, p, net, m->w, v, x, ns, jv));
    double worst = 0;
    for (int64_t r = 0; r < rows; r++) {
        double s = 0, a = 0;
        for (int64_t k = 0; k < D; k++) s += J[r * D + k] * vt[k], a += fabs(J[r * D + k] * vt[k]);
        double e = fabs(jv[r] - s) / (1e-13 * a + 1e-300);
        if (e > worst) worst = e;
    }
    printf("jvp: worst |J v − rows·v| / (1e-13 Σ|J_k v_k|) = %.3g\n", worst);
    CHECK(worst <= 1.0);
    ttp_jac_plan_destroy(&p);
    ttp_net_destroy(&net);
    free(v), free(vt), free(jv);
}

/* Rows of B with a subset of layers trainable against column blocks of the
 * full rows J (D columns).  Each kept column is computed by the same
 * factors either way, so the blocks agree to rounding (1e-14 relative). */
static void check_train_layers(ttp_ctx *ctx, const ttp_model *full, const double *x, int64_t ns,
                               const double *J)
{
    const int64_t C = full->nout, D = full->ntrainable, rows = ns * C;
    const struct {
        const char *spec;
        const char *layers[2];
    } cases[] = {{"last:1", {"fc", NULL}}, {"conv1,fc", {"conv1", "fc"}}, {"fc,conv1", {"conv1", "fc"}}};
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        ttp_model *m = NULL;
        CHECK_OK(ctx, ttp_model_clone(ctx, full, &m));
        if (!m) return;
        CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, cases[q].spec));
        /* the reference: the chosen layers' columns of J, in slab order */
        int64_t D1 = 0, col = 0;
        double *ref = malloc((size_t)(rows * D) * sizeof *ref);
        for (int l = 0; l < full->nlayers; l++) {
            const ttp_layer *L = &full->layers[l];
            if (!L->trainable) continue;
            int keep = 0;
            for (int t = 0; t < 2; t++)
                keep |= cases[q].layers[t] && strcmp(L->name, cases[q].layers[t]) == 0;
            if (keep) {
                for (int64_t r = 0; r < rows; r++)
                    memcpy(ref + r * D + D1, J + r * D + col, (size_t)L->nw * sizeof *ref);
                D1 += L->nw;
            }
            col += L->nw;
        }
        CHECK(m->ntrainable == D1 && D1 > 0 && D1 < D);
        for (int64_t r = 1; r < rows; r++) memmove(ref + r * D1, ref + r * D, (size_t)D1 * sizeof *ref);
        ttp_net *net = NULL;
        ttp_jac_plan *p = NULL;
        double *G = calloc((size_t)(rows * D1), sizeof *G);
        CHECK_OK(ctx, ttp_net_create(ctx, m, 2 * C, &net));
        CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &p));
        CHECK_OK(ctx, ttp_jac_rows(ctx, p, net, m->w, x, ns, G, NULL, NULL));
        double eg = rel_fro(G, ref, rows * D1);
        double *T1 = gram(G, rows, D1), *Tref = gram(ref, rows, D1);
        double et = rel_fro(T1, Tref, rows * rows);
        printf("train layers %-9s D = %lld of %lld: rows vs J's block %.2e, Θ vs the block's Gram %.2e\n",
               cases[q].spec, (long long)D1, (long long)D, eg, et);
        CHECK(eg < 1e-14 && et < 1e-14);
        free(G), free(T1), free(Tref), free(ref);
        ttp_jac_plan_destroy(&p);
        ttp_net_destroy(&net);
        ttp_model_destroy(&m);
    }
}

/* Calibration: a no-op for other kinds, refuses an empty sample set. */
static void check_calibrate_args(ttp_ctx *ctx, ttp_model *m, const double *x)
{
    ttp_net *net = NULL;
    ttp_jac_plan *p = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, m->nout, &net));
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_RADEMACHER, 10, 1, "cpu", &p));
    CHECK_OK(ctx, ttp_jac_plan_calibrate(ctx, p, net, m->w, x, 3));
    CHECK(ttp_jac_plan_dim(p) == 10);
    ttp_jac_plan_destroy(&p);
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, 40, 1, "cpu", &p));
    CHECK_FAILS(ctx, ttp_jac_plan_calibrate(ctx, p, net, m->w, x, 0), TTP_ERR_ARG, "0 samples");
    ttp_jac_plan_destroy(&p);
    ttp_net_destroy(&net);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);

    ttp_model *a = model_a(&ctx), *b = model_b(&ctx);
    if (!a || !b) return ttp_test_end("test_jac");
    const int64_t nsa = 5, nsb = 4;
    double *xa = inputs(a, 8, 3), *xb = inputs(b, 8, 4);

    double *Ja = check_exact(&ctx, a, xa, nsa, "model A");
    check_closed_form(a, xa, nsa, Ja);
    check_kron_unbiased(&ctx, a, xa, nsa, Ja, 24, 0, "model A");
    check_kron_unbiased(&ctx, a, xa, nsa, Ja, 24, 1, "model A");
    check_batching(&ctx, a, xa, "model A");
    check_separate_passes(&ctx, a, xa, nsa, Ja, "model A");

    double *Jb = check_exact(&ctx, b, xb, nsb, "model B");
    check_kron_unbiased(&ctx, b, xb, nsb, Jb, 64, 0, "model B");
    check_kron_unbiased(&ctx, b, xb, nsb, Jb, 64, 1, "model B");
    check_calibrate_args(&ctx, b, xb);
    check_batching(&ctx, b, xb, "model B");
    check_separate_passes(&ctx, b, xb, nsb, Jb, "model B");
    check_train_layers(&ctx, b, xb, nsb, Jb);

    ttp_model *c = model_c(&ctx);
    if (c) {
        double *xc = inputs(c, 8, 5);
        double *Jc = check_exact(&ctx, c, xc, 4, "model C (activations)");
        check_jvp(&ctx, c, xc, 4, Jc);
        check_separate_passes(&ctx, c, xc, 4, Jc, "model C");
        check_batching(&ctx, c, xc, "model C");
        free(Jc), free(xc);
        ttp_model_destroy(&c);
    }

    free(Ja), free(Jb), free(xa), free(xb);
    ttp_model_destroy(&a);
    ttp_model_destroy(&b);
    return ttp_test_end("test_jac");
}
