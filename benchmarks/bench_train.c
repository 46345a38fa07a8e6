/*
 * bench_train.c — training throughput of the engine, and how close its dense
 * and conv layers come to the BLAS they are built on.
 *
 *   bench_train [seconds_per_measurement]     (default 1.0)
 *
 * 1. The engine's dense (128→32, resnet-small's fc1) and conv (8→8, 3×3,
 *    pad 1 on 8×8, the residual block's conv) layers, forward and
 *    forward+backward, at batch 256, against one plain cblas_dgemm of the same
 *    M, N, K (forward: M = batch·positions, N = outputs, K = inputs·k²).  The
 *    ratio engine/dgemm says how much im2col, transposes and bias cost on top.
 * 2. resnet-small forward+backward (gradient w.r.t. every weight) in samples
 *    per second at batch 64 and 256 — the figure `predict` turns into
 *    wall-clock time.  Printed last.
 * Run with OPENBLAS_NUM_THREADS=1 for a one-core figure.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_net.h"

static double budget = 1.0;

/* Repeat fn until `budget` seconds have passed (after one warm-up call);
 * returns seconds per call. */
typedef void (*bench_fn)(void *);
static double timeit(bench_fn fn, void *arg)
{
    fn(arg);
    int64_t reps = 0;
    double t0 = ttp_time(), t;
    do {
        fn(arg);
        reps++;
        t = ttp_time() - t0;
    } while (t < budget);
    return t / (double)reps;
}

typedef struct {
    ttp_ctx *ctx;
    ttp_net *net;
    const ttp_model *m;
    double *x, *out, *dout, *gw;
    int64_t nb;
    int backward;
} net_arg;

static void run_net(void *p)
{
    net_arg *a = p;
    if (ttp_net_forward(a->ctx, a->net, a->m->w, a->x, a->nb, a->out) != TTP_OK) return;
    if (a->backward) ttp_net_backward(a->ctx, a->net, a->m->w, a->dout, a->gw, NULL);
}

typedef struct {
    int M, N, K;
    double *A, *B, *C;
} gemm_arg;

static void run_gemm(void *p)
{
    gemm_arg *g = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->M, g->N, g->K, 1.0, g->A, g->K, g->B, g->K, 0.0,
                g->C, g->N);
}

static int setup(ttp_ctx *ctx, net_arg *a, const ttp_model *m, int64_t nb)
{
    int64_t in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    memset(a, 0, sizeof *a);
    a->ctx = ctx, a->m = m, a->nb = nb;
    a->x = malloc((size_t)(nb * in) * sizeof(double));
    a->out = malloc((size_t)(nb * m->nout) * sizeof(double));
    a->dout = malloc((size_t)(nb * m->nout) * sizeof(double));
    a->gw = calloc((size_t)m->nparams, sizeof(double));
    if (!a->x || !a->out || !a->dout || !a->gw) return 0;
    for (int64_t i = 0; i < nb * in; i++) a->x[i] = ttp_rng_normal(1, (uint64_t)i);
    for (int64_t i = 0; i < nb * m->nout; i++) a->dout[i] = ttp_rng_normal(2, (uint64_t)i);
    return ttp_net_create(ctx, m, nb, &a->net) == TTP_OK;
}

static void teardown(net_arg *a)
{
    ttp_net_destroy(&a->net);
    free(a->x), free(a->out), free(a->dout), free(a->gw);
}

/* Engine layer vs dgemm of the forward's M, N, K. */
static int layer_vs_gemm(ttp_ctx *ctx, const char *name, const int64_t shape[3], ttp_layer L, int64_t nb)
{
    ttp_model *m = NULL;
    net_arg a;
    if (ttp_model_create(ctx, shape, &m) != TTP_OK || ttp_model_add(ctx, m, &L, NULL) != TTP_OK ||
        ttp_model_build(ctx, m) != TTP_OK)
        return 0;
    ttp_model_init_weights(m, 1, 0);
    if (!setup(ctx, &a, m, nb)) return 0;
    const ttp_layer *Ly = &m->layers[0];
    int64_t npos = Ly->out_shape[1] * Ly->out_shape[2];
    gemm_arg g;
    g.M = (int)(nb * npos), g.N = Ly->units;
    g.K = (int)(Ly->kind == TTP_LAYER_DENSE ? shape[0] * shape[1] * shape[2]
                                            : shape[0] * Ly->kernel * Ly->kernel);
    g.A = calloc((size_t)g.M * (size_t)g.K, sizeof(double));
    g.B = calloc((size_t)g.N * (size_t)g.K, sizeof(double));
    g.C = calloc((size_t)g.M * (size_t)g.N, sizeof(double));
    for (int64_t i = 0; i < (int64_t)g.M * g.K; i++) g.A[i] = ttp_rng_normal(3, (uint64_t)i);
    for (int64_t i = 0; i < (int64_t)g.N * g.K; i++) g.B[i] = ttp_rng_normal(4, (uint64_t)i);
    double tg = timeit(run_gemm, &g);
    a.backward = 0;
    double tf = timeit(run_net, &a);
    a.backward = 1;
    double tfb = timeit(run_net, &a);
    double gf = 2.0 * g.M * g.N * g.K / tg * 1e-9;
    printf("%-34s dgemm M=%d N=%d K=%d: %8.1f us (%5.2f GFLOP/s)\n", name, g.M, g.N, g.K, tg * 1e6, gf);
    printf("%-34s engine forward %8.1f us = %5.2f x dgemm;  forward+backward %8.1f us = %5.2f x dgemm "
           "(3 GEMMs' worth)\n",
           "", tf * 1e6, tf / tg, tfb * 1e6, tfb / tg);
    free(g.A), free(g.B), free(g.C);
    teardown(&a);
    ttp_model_destroy(&m);
    return 1;
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (argc > 1) budget = atof(argv[1]);
    if (!(budget > 0)) budget = 1.0;
    const char *thr = getenv("OPENBLAS_NUM_THREADS");
    printf("bench_train: OPENBLAS_NUM_THREADS=%s, %.1f s per measurement\n\n", thr ? thr : "(unset)", budget);

    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.input[0] = L.input[1] = -1, L.trainable = 1;
    L.kind = TTP_LAYER_DENSE, L.units = 32;
    int64_t s_dense[3] = {128, 1, 1};
    if (!layer_vs_gemm(&ctx, "dense 128->32, batch 256", s_dense, L, 256)) goto fail;
    L.kind = TTP_LAYER_CONV2D, L.units = 8, L.kernel = 3, L.stride = 1, L.pad = 1;
    int64_t s_conv[3] = {8, 8, 8};
    if (!layer_vs_gemm(&ctx, "conv 8->8 3x3 pad1 on 8x8, batch 256", s_conv, L, 256)) goto fail;
    printf("\n");

    int64_t shape[3] = {1, 8, 8};
    ttp_model *m = NULL;
    if (ttp_model_resnet_small(&ctx, shape, 5, 1, &m) != TTP_OK) goto fail;
    double sps[2];
    int64_t nbs[2] = {64, 256};
    for (int i = 0; i < 2; i++) {
        net_arg a;
        if (!setup(&ctx, &a, m, nbs[i])) goto fail;
        a.backward = 0;
        double tf = timeit(run_net, &a);
        a.backward = 1;
        double tfb = timeit(run_net, &a);
        sps[i] = (double)nbs[i] / tfb;
        printf(
            "resnet-small (%lld params) batch %3lld: forward %.3f ms, forward+backward %.3f ms per batch\n",
            (long long)m->nparams, (long long)nbs[i], tf * 1e3, tfb * 1e3);
        teardown(&a);
    }
    ttp_model_destroy(&m);
    printf("\nsamples/s (forward+backward, resnet-small): batch 64: %.0f   batch 256: %.0f\n", sps[0],
           sps[1]);
    return 0;
fail:
    fprintf(stderr, "bench_train: %s\n", ctx.msg);
    return 1;
}
