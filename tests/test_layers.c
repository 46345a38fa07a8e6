/*
 * test_layers.c — every layer's forward/backward against central finite
 * differences, on random inputs and shapes, plus residual graphs and the
 * per-sample gradient factors.
 *
 * The objective is J(w, x) = Σ r ⊙ f(w, x) with a random r, so that
 * ttp_net_backward(dout = r) must give ∂J/∂w and ∂J/∂x.  The reference is the
 * central difference (J(·+h) − J(·−h)) / 2h with h = 1e-6: its truncation
 * error is O(h²) ≈ 1e-12 and its rounding error ≈ ε|J|/h ≈ 1e-10·|J|, so an
 * entry passes when |analytic − fd| <= 1e-7·max(1, |J|) + 1e-6·|fd| (the
 * relative error observed is ~1e-8..1e-10).  ReLU and max-pooling kinks are
 * avoided by chance: inputs are continuous random values, and a kink within
 * h of a sampled point has probability ~1e-6 per unit.
 *
 * The factors of ttp_net_backward_factors are checked two independent ways:
 * per-sample gradients rebuilt from the factors must (a) sum to what
 * ttp_net_backward gives for the batch, and (b) equal ttp_net_backward run on
 * that sample alone (itself checked against finite differences above).
 */
#include <string.h>

#include "ttp_net.h"
#include "ttp_test.h"

static uint64_t g_key = 12345;
static uint64_t g_ctr = 0;

static double rnd(void)
{
    return ttp_rng_normal(g_key, g_ctr++);
}

static double unif(void)
{
    return ttp_rng_uniform(g_key, g_ctr++);
}

static ttp_layer lay(ttp_layer_kind kind, int in0, int in1, int units, int kernel, int stride, int pad)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    L.input[0] = in0, L.input[1] = in1;
    L.units = units, L.kernel = kernel, L.stride = stride, L.pad = pad;
    L.eps = 1e-3;
    L.trainable = 1;
    return L;
}

/* Random weights and statistics: biases and batch-norm shifts non-zero, so
 * every term of every gradient is exercised. */
static void randomize(ttp_model *m)
{
    for (int64_t j = 0; j < m->nparams; j++) m->w[j] = 0.5 * rnd();
    for (int i = 0; i < m->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        if (L->kind != TTP_LAYER_BATCHNORM) continue;
        int64_t C = L->nw / 2;
        for (int64_t c = 0; c < C; c++) {
            m->state[L->soff + c] = 0.3 * rnd();
            m->state[L->soff + C + c] = 0.5 + 1.5 * unif();
        }
    }
}

static double objective(ttp_ctx *ctx, ttp_net *net, const double *w, const double *x, int64_t nb,
                        const double *r, double *out, int64_t nout)
{
    CHECK_OK(ctx, ttp_net_forward(ctx, net, w, x, nb, out));
    double s = 0.0;
    for (int64_t i = 0; i < nb * nout; i++) s += r[i] * out[i];
    return s;
}

/* Compare backward with central differences for (a subset of) every
 * trainable weight and every input value.  Returns the worst normalised
 * error (<= 1 passes). */
static double fd_check(ttp_ctx *ctx, const char *what, ttp_model *m, int64_t nb, int check_x)
{
    ttp_net *net = NULL;
    int64_t in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2], C = m->nout;
    double *x = calloc((size_t)(nb * in), sizeof *x), *r = calloc((size_t)(nb * C), sizeof *r);
    double *out = calloc((size_t)(nb * C), sizeof *out), *gw = calloc((size_t)m->nparams, sizeof *gw);
    double *gx = calloc((size_t)(nb * in), sizeof *gx), *w = calloc((size_t)m->nparams, sizeof *w);
    double worst = 0.0, h = 1e-6;
    CHECK_OK(ctx, ttp_net_create(ctx, m, nb, &net));
    if (net == NULL) return 1e9;
    for (int64_t i = 0; i < nb * in; i++) x[i] = rnd();
    for (int64_t i = 0; i < nb * C; i++) r[i] = rnd();
    memcpy(w, m->w, (size_t)m->nparams * sizeof *w);
    /* Pre-filled: backward must ADD its gradient, and leave frozen layers. */
    for (int64_t j = 0; j < m->nparams; j++) gw[j] = 0.25;
    double J = objective(ctx, net, w, x, nb, r, out, C);
    CHECK_OK(ctx, ttp_net_backward(ctx, net, w, r, gw, check_x ? gx : NULL));
    double atol = 1e-7 * (fabs(J) > 1.0 ? fabs(J) : 1.0), rtol = 1e-6;
    const char *worst_what = "";
    int64_t worst_idx = -1;
    double worst_a = 0, worst_b = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const ttp_layer *L = &m->layers[l];
        if (L->nw == 0) continue;
        int64_t stride = L->nw > 150 ? L->nw / 150 + 1 : 1;
        for (int64_t j = L->woff; j < L->woff + L->nw; j++) {
            if (!L->trainable) {
                CHECK(gw[j] == 0.25); /* frozen: untouched */
                continue;
            }
            /* Always the biases at the end; a spread of the rest. */
            if ((j - L->woff) % stride != 0 && j < L->woff + L->nw - L->units) continue;
            double w0 = w[j];
            w[j] = w0 + h;
            double jp = objective(ctx, net, w, x, nb, r, out, C);
            w[j] = w0 - h;
            double jm = objective(ctx, net, w, x, nb, r, out, C);
            w[j] = w0;
            double fd = (jp - jm) / (2 * h), an = gw[j] - 0.25;
            double e = fabs(an - fd) / (atol + rtol * fabs(fd));
            if (e > worst) worst = e, worst_what = "weight", worst_idx = j, worst_a = an, worst_b = fd;
        }
    }
    if (check_x) {
        int64_t stride = nb * in > 300 ? nb * in / 300 + 1 : 1;
        for (int64_t i = 0; i < nb * in; i += stride) {
            double x0 = x[i];
            x[i] = x0 + h;
            double jp = objective(ctx, net, w, x, nb, r, out, C);
            x[i] = x0 - h;
            double jm = objective(ctx, net, w, x, nb, r, out, C);
            x[i] = x0;
            double fd = (jp - jm) / (2 * h);
            double e = fabs(gx[i] - fd) / (atol + rtol * fabs(fd));
            if (e > worst) worst = e, worst_what = "input", worst_idx = i, worst_a = gx[i], worst_b = fd;
        }
    }
    if (worst > 1.0)
        fprintf(stderr, "  %s: worst %s[%lld]: backward %.12g vs finite difference %.12g\n", what, worst_what,
                (long long)worst_idx, worst_a, worst_b);
    printf("  %-44s nb=%lld D=%6lld  worst normalised error %.3g\n", what, (long long)nb,
           (long long)m->ntrainable, worst);
    ttp_net_destroy(&net);
    free(x), free(r), free(out), free(gw), free(gx), free(w);
    return worst;
}

/* One-layer network on input (C,H,W). */
static ttp_model *single(ttp_ctx *ctx, const int64_t shape[3], ttp_layer L)
{
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    L.input[0] = -1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m);
    return m;
}

static void test_single_layers(ttp_ctx *ctx)
{
    char what[128];
    /* dense on vectors and on images (read flattened) */
    for (int rep = 0; rep < 3; rep++) {
        int64_t s1[3] = {2 + (int64_t)(unif() * 9), 1, 1};
        int64_t s3[3] = {1 + rep, 3, 2 + rep};
        int units = 1 + (int)(unif() * 6);
        ttp_model *m = single(ctx, rep == 2 ? s3 : s1, lay(TTP_LAYER_DENSE, -1, -1, units, 0, 0, 0));
        snprintf(what, sizeof what, "dense in=(%lld,%lld,%lld) out=%d", (long long)m->in_shape[0],
                 (long long)m->in_shape[1], (long long)m->in_shape[2], units);
        CHECK(fd_check(ctx, what, m, 1 + rep * 2, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
    /* conv2d: several kernel/stride/pad combinations, random shapes */
    const int combos[][3] = {{1, 1, 0}, {3, 1, 1}, {3, 2, 1}, {2, 2, 0}, {3, 1, 0}, {5, 2, 2}, {2, 1, 1}};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        int k = combos[c][0], s = combos[c][1], p = combos[c][2];
        int64_t shape[3] = {1 + (int64_t)(unif() * 3), k + 1 + (int64_t)(unif() * 4),
                            k + (int64_t)(unif() * 5)};
        int units = 1 + (int)(unif() * 4);
        ttp_model *m = single(ctx, shape, lay(TTP_LAYER_CONV2D, -1, -1, units, k, s, p));
        snprintf(what, sizeof what, "conv2d k%d s%d p%d (%lld,%lld,%lld)->(%lld,%lld,%lld)", k, s, p,
                 (long long)shape[0], (long long)shape[1], (long long)shape[2],
                 (long long)m->layers[0].out_shape[0], (long long)m->layers[0].out_shape[1],
                 (long long)m->layers[0].out_shape[2]);
        CHECK(fd_check(ctx, what, m, 2, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
    /* batch norm */
    {
        int64_t shape[3] = {3, 4, 3};
        ttp_model *m = single(ctx, shape, lay(TTP_LAYER_BATCHNORM, -1, -1, 0, 0, 0, 0));
        CHECK(fd_check(ctx, "batchnorm (3,4,3)", m, 3, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
    /* parameter-free layers: input gradients */
    struct {
        ttp_layer_kind k;
        int kernel, stride;
        const char *name;
    } pl[] = {
        {TTP_LAYER_RELU, 0, 0, "relu"},
        {TTP_LAYER_MAXPOOL, 2, 2, "maxpool k2 s2"},
        {TTP_LAYER_MAXPOOL, 3, 1, "maxpool k3 s1"},
        {TTP_LAYER_MAXPOOL, 3, 2, "maxpool k3 s2"},
        {TTP_LAYER_AVGPOOL, 2, 2, "avgpool k2 s2"},
        {TTP_LAYER_AVGPOOL, 3, 1, "avgpool k3 s1"},
        {TTP_LAYER_AVGPOOL, 2, 1, "avgpool k2 s1"},
        {TTP_LAYER_GAP, 0, 0, "gap"},
        {TTP_LAYER_FLATTEN, 0, 0, "flatten"},
    };
    for (size_t i = 0; i < sizeof pl / sizeof pl[0]; i++) {
        int64_t shape[3] = {2, 5 + (int64_t)(unif() * 3), 4 + (int64_t)(unif() * 3)};
        ttp_model *m = single(ctx, shape, lay(pl[i].k, -1, -1, 0, pl[i].kernel, pl[i].stride, 0));
        snprintf(what, sizeof what, "%s (%lld,%lld,%lld)", pl[i].name, (long long)shape[0],
                 (long long)shape[1], (long long)shape[2]);
        CHECK(fd_check(ctx, what, m, 2, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
}

/*
 * The elementwise activations: forward against closed forms written here
 * independently of net.c (sigmoid as ½(1 + tanh(x/2)), tanh through exp,
 * GELU as ½x(1 + erf(x/√2))) to 1e-14 relative plus a few ulps of |x|; the input gradient of each alone and the weight and
 * input gradients of a dense → act → dense → act … chain against central
 * differences (smooth away from leaky_relu's kink, which random inputs miss
 * as relu's does).
 */
static double closed_form(ttp_layer_kind k, double alpha, double x)
{
    switch (k) {
    case TTP_LAYER_SIGMOID: return 0.5 * (1.0 + tanh(0.5 * x));
    case TTP_LAYER_TANH: return (1.0 - exp(-2.0 * x)) / (1.0 + exp(-2.0 * x));
    case TTP_LAYER_LEAKYRELU: return x >= 0.0 ? x : alpha * x;
    default: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    }
}

static void test_activations(ttp_ctx *ctx)
{
    const ttp_layer_kind kinds[4] = {TTP_LAYER_SIGMOID, TTP_LAYER_TANH, TTP_LAYER_LEAKYRELU, TTP_LAYER_GELU};
    const double alpha = 0.137;
    char what[128];
    for (int q = 0; q < 4; q++) {
        int64_t shape[3] = {2, 4, 3};
        ttp_layer L = lay(kinds[q], -1, -1, 0, 0, 0, 0);
        L.alpha = alpha;
        ttp_model *m = single(ctx, shape, L);
        if (!m) continue;
        const char *kn = ttp_layer_kind_str(kinds[q]);
        /* forward vs closed form, on a spread from -8 to 8 plus random values */
        enum { NB = 2, N = NB * 24 };
        double x[N], y[N], worst = 0.0;
        for (int i = 0; i < N; i++) x[i] = i < 24 ? -8.0 + 16.0 * i / 23.0 : 3.0 * rnd();
        ttp_net *net = NULL;
        CHECK_OK(ctx, ttp_net_create(ctx, m, NB, &net));
        CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, NB, y));
        for (int i = 0; i < N; i++) {
            double ref = closed_form(kinds[q], alpha, x[i]);
            /* the references cancel near 0 (tanh) and far below it
             * (sigmoid, gelu): an absolute term of a few ulps of |x| */
            double e = fabs(y[i] - ref) / (1e-15 * fmax(1.0, fabs(x[i])) + 1e-14 * fabs(ref));
            if (e > worst) worst = e;
        }
        printf("  %-44s forward vs closed form: worst normalised error %.2e\n", kn, worst);
        CHECK(worst <= 1.0);
        ttp_net_destroy(&net);
        snprintf(what, sizeof what, "%s (2,4,3)", kn);
        CHECK(fd_check(ctx, what, m, 3, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
    /* the weights before and after each activation: dense(5→6) → sigmoid →
     * dense(→6) → tanh → dense(→6) → leaky_relu → dense(→6) → gelu → dense(→3) */
    int64_t shape[3] = {5, 1, 1};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return;
    for (int q = 0; q < 4; q++) {
        ttp_layer d = lay(TTP_LAYER_DENSE, 2 * q - 1, -1, 6, 0, 0, 0),
                  a = lay(kinds[q], 2 * q, -1, 0, 0, 0, 0);
        a.alpha = alpha;
        CHECK_OK(ctx, ttp_model_add(ctx, m, &d, NULL));
        CHECK_OK(ctx, ttp_model_add(ctx, m, &a, NULL));
    }
    ttp_layer head = lay(TTP_LAYER_DENSE, 7, -1, 3, 0, 0, 0);
    CHECK_OK(ctx, ttp_model_add(ctx, m, &head, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    randomize(m);
    CHECK(fd_check(ctx, "dense chain through all four activations", m, 3, 1) <= 1.0);
    ttp_model_destroy(&m);
}

/* Graphs: add of two branches, add of a tensor with itself, a tensor with
 * three consumers, a frozen layer inside, and the bundled resnet-small. */
static void test_graphs(ttp_ctx *ctx)
{
    {
        int64_t shape[3] = {2, 5, 5};
        ttp_model *m = NULL;
        CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
        ttp_layer ls[] = {
            lay(TTP_LAYER_CONV2D, -1, -1, 3, 3, 1, 1),   /* 0 */
            lay(TTP_LAYER_CONV2D, -1, -1, 3, 1, 1, 0),   /* 1: second consumer of the input */
            lay(TTP_LAYER_ADD, 0, 1, 0, 0, 0, 0),        /* 2 */
            lay(TTP_LAYER_RELU, 2, -1, 0, 0, 0, 0),      /* 3 */
            lay(TTP_LAYER_BATCHNORM, 3, -1, 0, 0, 0, 0), /* 4 */
            lay(TTP_LAYER_ADD, 4, 3, 0, 0, 0, 0),        /* 5: 3 read twice */
            lay(TTP_LAYER_ADD, 5, 5, 0, 0, 0, 0),        /* 6: same operand twice */
            lay(TTP_LAYER_CONV2D, 3, -1, 3, 3, 2, 1),    /* 7: third consumer of 3 */
            lay(TTP_LAYER_AVGPOOL, 6, -1, 0, 2, 2, 0),   /* 8 */
            lay(TTP_LAYER_GAP, 7, -1, 0, 0, 0, 0),       /* 9 */
            lay(TTP_LAYER_FLATTEN, 8, -1, 0, 0, 0, 0),   /* 10 */
            lay(TTP_LAYER_DENSE, 10, -1, 3, 0, 0, 0),    /* 11 */
            lay(TTP_LAYER_ADD, 11, 9, 0, 0, 0, 0),       /* 12 */
            lay(TTP_LAYER_DENSE, 12, -1, 4, 0, 0, 0),    /* 13 */
        };
        for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++)
            CHECK_OK(ctx, ttp_model_add(ctx, m, &ls[i], NULL));
        CHECK_OK(ctx, ttp_model_build(ctx, m));
        randomize(m);
        CHECK(fd_check(ctx, "residual graph (multi-consumer tensors)", m, 3, 1) <= 1.0);
        /* Freeze the first conv and the BN: their grads must stay untouched,
         * the rest still exact (gradients flow through frozen layers). */
        m->layers[0].trainable = 0;
        m->layers[4].trainable = 0;
        CHECK_OK(ctx, ttp_model_build(ctx, m));
        randomize(m);
        CHECK(fd_check(ctx, "residual graph, two layers frozen", m, 2, 1) <= 1.0);
        ttp_model_destroy(&m);
    }
    {
        int64_t shape[3] = {1, 8, 8};
        ttp_model *m = NULL;
        CHECK_OK(ctx, ttp_model_resnet_small(ctx, shape, 5, 7, &m));
        if (m) {
            CHECK(m->nparams == 5589 && m->nout == 5 && m->ntrainable == m->nparams);
            randomize(m);
            CHECK(fd_check(ctx, "resnet-small", m, 3, 1) <= 1.0);
            ttp_model_destroy(&m);
        }
    }
}

/* ---- factors -------------------------------------------------------------- */

typedef struct {
    const ttp_model *m;
    int64_t nb;
    double *per; /* (nb, D) per-sample gradients rebuilt from the factors */
    int calls, last_layer, order_ok;
} rebuild;

static ttp_status sink_layer(void *user, const ttp_factors *f, ttp_ctx *ctx)
{
    (void)ctx;
    rebuild *rb = user;
    int64_t D = rb->m->ntrainable;
    /* Sinks are called in reverse layer order. */
    if (rb->calls > 0 && f->layer >= rb->last_layer) rb->order_ok = 0;
    rb->last_layer = f->layer;
    rb->calls++;
    for (int64_t b = 0; b < f->nb; b++) {
        double *g = rb->per + b * D + f->col_off;
        if (f->kind == TTP_FACTOR_DIRECT) {
            for (int64_t j = 0; j < f->nw; j++) g[j] += f->g[b * f->nw + j];
            continue;
        }
        for (int64_t i = 0; i < f->m; i++)
            for (int64_t p = 0; p < f->npos; p++) {
                double d = f->delta[(b * f->m + i) * f->npos + p];
                const double *a = f->act + (b * f->npos + p) * f->n;
                for (int64_t j = 0; j < f->n; j++) g[i * f->n + j] += d * a[j];
                if (f->has_bias) g[f->m * f->n + i] += d;
            }
    }
    return TTP_OK;
}

static void test_factors(ttp_ctx *ctx, ttp_model *m, const char *what)
{
    int64_t nb = 4, in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2], C = m->nout, D = m->ntrainable;
    ttp_net *net = NULL, *one = NULL;
    double *x = calloc((size_t)(nb * in), sizeof *x), *r = calloc((size_t)(nb * C), sizeof *r);
    double *out = calloc((size_t)(nb * C), sizeof *out), *gw = calloc((size_t)m->nparams, sizeof *gw);
    double *gt = calloc((size_t)D, sizeof *gt), *sum = calloc((size_t)D, sizeof *sum);
    rebuild rb = {m, nb, calloc((size_t)(nb * D), sizeof(double)), 0, 0, 1};
    ttp_grad_sink sink = {&rb, sink_layer};
    CHECK_OK(ctx, ttp_net_create(ctx, m, nb, &net));
    CHECK_OK(ctx, ttp_net_create(ctx, m, 1, &one));
    for (int64_t i = 0; i < nb * in; i++) x[i] = rnd();
    for (int64_t i = 0; i < nb * C; i++) r[i] = rnd();
    CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, nb, out));
    CHECK_OK(ctx, ttp_net_backward_factors(ctx, net, m->w, r, &sink));
    CHECK(rb.order_ok);
    CHECK_OK(ctx, ttp_net_backward(ctx, net, m->w, r, gw, NULL));
    ttp_model_get_trainable(m, gw, gt);
    double scale = 0.0, err_sum = 0.0, err_one = 0.0;
    for (int64_t j = 0; j < D; j++) {
        for (int64_t b = 0; b < nb; b++) sum[j] += rb.per[b * D + j];
        if (fabs(gt[j]) > scale) scale = fabs(gt[j]);
        if (fabs(sum[j] - gt[j]) > err_sum) err_sum = fabs(sum[j] - gt[j]);
    }
    /* (b) each sample alone through the summed backward */
    for (int64_t b = 0; b < nb; b++) {
        memset(gw, 0, (size_t)m->nparams * sizeof *gw);
        CHECK_OK(ctx, ttp_net_forward(ctx, one, m->w, x + b * in, 1, out));
        CHECK_OK(ctx, ttp_net_backward(ctx, one, m->w, r + b * C, gw, NULL));
        ttp_model_get_trainable(m, gw, gt);
        for (int64_t j = 0; j < D; j++)
            if (fabs(rb.per[b * D + j] - gt[j]) > err_one) err_one = fabs(rb.per[b * D + j] - gt[j]);
    }
    /* Same products summed in a different order: agreement to ~1e-13 of scale. */
    printf("  factors %-36s calls %d, |sum - batch| %.2e, |per-sample - single| %.2e (scale %.3g)\n", what,
           rb.calls, err_sum, err_one, scale);
    CHECK(err_sum <= 1e-12 * (scale > 1 ? scale : 1));
    CHECK(err_one <= 1e-12 * (scale > 1 ? scale : 1));
    ttp_net_destroy(&net);
    ttp_net_destroy(&one);
    free(x), free(r), free(out), free(gw), free(gt), free(sum), free(rb.per);
}

/* ---- losses ---------------------------------------------------------------- */

static void test_losses(void)
{
    enum { NB = 3, C = 4 };
    double f[NB * C], g[NB * C], gfd[NB * C];
    int lab[NB] = {2, 0, 3};
    double tg[NB * C];
    for (int i = 0; i < NB * C; i++) f[i] = rnd(), tg[i] = rnd();
    for (int kind = 0; kind < 2; kind++)
        for (int use_t = 0; use_t < 2; use_t++) {
            const int *L = use_t ? NULL : lab;
            const double *T = use_t ? tg : NULL;
            int64_t nc = -1;
            double v = ttp_loss_eval((ttp_loss_kind)kind, f, L, T, NB, C, g, &nc);
            /* closed form of the mean loss */
            double ref = 0.0;
            for (int b = 0; b < NB; b++) {
                double z = 0.0;
                for (int k = 0; k < C; k++) z += exp(f[b * C + k]);
                for (int k = 0; k < C; k++) {
                    double t = T ? T[b * C + k] : (L[b] == k);
                    ref += kind == TTP_LOSS_MSE ? 0.5 * (f[b * C + k] - t) * (f[b * C + k] - t)
                                                : -t * (f[b * C + k] - log(z));
                }
            }
            CHECK_CLOSE(v, ref / NB, 1e-14, 1e-12);
            /* per-sample gradient (NOT divided by nb) vs finite differences of nb·mean */
            for (int i = 0; i < NB * C; i++) {
                double f0 = f[i], h = 1e-6;
                f[i] = f0 + h;
                double p = ttp_loss_eval((ttp_loss_kind)kind, f, L, T, NB, C, NULL, NULL);
                f[i] = f0 - h;
                double mm = ttp_loss_eval((ttp_loss_kind)kind, f, L, T, NB, C, NULL, NULL);
                f[i] = f0;
                gfd[i] = (p - mm) / (2 * h) * NB;
                CHECK_CLOSE(g[i], gfd[i], 1e-8, 1e-6);
            }
            /* accuracy: argmax against the label (or the target's argmax) */
            int64_t ref_nc = 0;
            for (int b = 0; b < NB; b++) {
                int a = 0, t = 0;
                for (int k = 1; k < C; k++) {
                    if (f[b * C + k] > f[b * C + a]) a = k;
                    if (tg[b * C + k] > tg[b * C + t]) t = k;
                }
                ref_nc += a == (use_t ? t : lab[b]);
            }
            CHECK(nc == ref_nc);
        }
    CHECK(strcmp(ttp_loss_str(TTP_LOSS_MSE), "mse") == 0 && strcmp(ttp_loss_str(TTP_LOSS_CE), "ce") == 0);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    printf("single layers vs central differences (h = 1e-6):\n");
    test_single_layers(&ctx);
    printf("activations (sigmoid, tanh, leaky_relu, gelu):\n");
    test_activations(&ctx);
    printf("graphs:\n");
    test_graphs(&ctx);
    printf("per-sample factors:\n");
    {
        int64_t shape[3] = {1, 8, 8};
        ttp_model *m = NULL;
        CHECK_OK(&ctx, ttp_model_resnet_small(&ctx, shape, 5, 3, &m));
        randomize(m);
        test_factors(&ctx, m, "resnet-small");
        /* only the head trainable: the body's factors must not appear */
        for (int i = 0; i < m->nlayers - 1; i++) m->layers[i].trainable = 0;
        ttp_model *h = NULL;
        CHECK_OK(&ctx, ttp_model_clone(&ctx, m, &h));
        double *keep = malloc((size_t)m->nparams * sizeof *keep);
        memcpy(keep, m->w, (size_t)m->nparams * sizeof *keep);
        double *sk = malloc((size_t)m->nstate * sizeof *sk);
        memcpy(sk, m->state, (size_t)m->nstate * sizeof *sk);
        CHECK_OK(&ctx, ttp_model_build(&ctx, h));
        memcpy(h->w, keep, (size_t)m->nparams * sizeof *keep);
        memcpy(h->state, sk, (size_t)m->nstate * sizeof *sk);
        CHECK(h->ntrainable == 165);
        test_factors(&ctx, h, "resnet-small, head only");
        free(keep), free(sk);
        ttp_model_destroy(&h);
        ttp_model_destroy(&m);
        int64_t s2[3] = {2, 6, 5};
        CHECK_OK(&ctx, ttp_model_create(&ctx, s2, &m));
        ttp_layer ls[] = {
            lay(TTP_LAYER_CONV2D, -1, -1, 3, 3, 2, 1), lay(TTP_LAYER_BATCHNORM, 0, -1, 0, 0, 0, 0),
            lay(TTP_LAYER_RELU, 1, -1, 0, 0, 0, 0),    lay(TTP_LAYER_ADD, 2, 0, 0, 0, 0, 0),
            lay(TTP_LAYER_GAP, 3, -1, 0, 0, 0, 0),     lay(TTP_LAYER_DENSE, 4, -1, 3, 0, 0, 0),
        };
        for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++)
            CHECK_OK(&ctx, ttp_model_add(&ctx, m, &ls[i], NULL));
        CHECK_OK(&ctx, ttp_model_build(&ctx, m));
        randomize(m);
        test_factors(&ctx, m, "strided conv + residual + gap");
        ttp_model_destroy(&m);
    }
    printf("losses:\n");
    test_losses();
    return ttp_test_end("test_layers");
}
