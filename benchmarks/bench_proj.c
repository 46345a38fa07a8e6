/*
 * bench_proj.c — accuracy and cost of the projected Jacobian rows (src/engine/jac.c)
 *   OPENBLAS_NUM_THREADS=1 build/benchmarks/bench_proj [--n N] [--seeds S]
 *                                  [--model M --data D] [--backend cpu|cuda|auto]
 *   OPENBLAS_NUM_THREADS=1 build/benchmarks/bench_proj --stream D,DP,ROWS   (see stream())
 *
 * On the bundled task (data/default-model.nc, data/default-data.nc; else
 * resnet-small on synthetic inputs) with N (default 100) samples:
 *   1. exact rows → Θ = J Jᵀ and its top-5 eigenvalues (LAPACKE_dsyevd);
 *   2. for the dense Rademacher sketch and the structured KRON sketch (its
 *      D′ split by layer size, and "kron-cal": split by each layer's share
 *      of Θ measured on the first 10 samples, ttp_jac_plan_calibrate) at
 *      D′ ∈ {128, 256, 512, 1024, 2048}: relative Frobenius error of
 *      G Gᵀ against Θ and the largest relative error of its top-5
 *      eigenvalues (mean over S seeds, default 3), and the time of
 *      ttp_jac_rows (best over the seeds);
 *   3. at equal requested D′: dense/KRON time ratio (target ≥ 10×) and
 *      KRON/dense error ratio (target ≤ 2×), measured in this run.  Times are
 *      given whole (rows from the net included) and for the projection alone
 *      (minus the time of the same forward/backward passes with a sink that
 *      does nothing).
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_data.h"
#include "ttp_jac.h"
#include "ttp_onnx.h"

#ifndef TTP_DATA_DIR
#define TTP_DATA_DIR "data"
#endif

#define NDP 5
static const int64_t dps[NDP] = {128, 256, 512, 1024, 2048};

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

static void die(ttp_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_proj: %s: %s\n%s", what, ctx->msg, ctx->trace);
    exit(1);
}

static double *gram(const double *G, int64_t rows, int64_t k)
{
    double *T = malloc((size_t)(rows * rows) * sizeof *T);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)k, 1.0, G, (int)k, G,
                (int)k, 0.0, T, (int)rows);
    return T;
}

/* Top-5 eigenvalues (descending) of a symmetric rows × rows matrix. */
static void top5(const double *T, int64_t rows, double *out)
{
    double *a = malloc((size_t)(rows * rows) * sizeof *a), *ev = malloc((size_t)rows * sizeof *ev);
    memcpy(a, T, (size_t)(rows * rows) * sizeof *a);
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)rows, a, (lapack_int)rows, ev);
    if (info != 0) fprintf(stderr, "bench_proj: dsyevd info %d\n", info);
    for (int k = 0; k < 5; k++) out[k] = ev[rows - 1 - k];
    free(a), free(ev);
}

static ttp_status null_sink(void *user, const ttp_factors *f, ttp_ctx *ctx)
{
    (void)user, (void)f, (void)ctx;
    return TTP_OK;
}

/* The net work alone: one forward pass per sample and the backward pass of
 * its C cotangents together (ttp_net_backward_factors_multi), in batches of
 * 16 samples as ttp_jac_rows does. */
static double base_time(ttp_ctx *ctx, ttp_net *net, const ttp_model *m, const double *x, int64_t ns)
{
    const int64_t C = m->nout, in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2], spc = 16;
    double *out = malloc((size_t)(spc * C) * sizeof *out);
    double *dout = calloc((size_t)(spc * C * C), sizeof *dout);
    for (int64_t r = 0; r < spc * C; r++) dout[r * C + r % C] = 1.0;
    ttp_grad_sink sink = {NULL, null_sink};
    double t = ttp_time();
    for (int64_t s0 = 0; s0 < ns; s0 += spc) {
        int64_t cnt = ns - s0 < spc ? ns - s0 : spc;
        if (ttp_net_forward(ctx, net, m->w, x + s0 * in, cnt, out) != TTP_OK ||
            ttp_net_backward_factors_multi(ctx, net, m->w, dout, C, &sink) != TTP_OK)
            die(ctx, "baseline passes");
    }
    t = ttp_time() - t;
    free(out), free(dout);
    return t;
}

typedef struct {
    int64_t dim;
    double t, err, eig;
} result;

/*
 * --stream D,DP,ROWS: the dense sketch's projection alone as the kernel
 * stage drives it, rows of a D-weight Jacobian (random) in blocks of
 * 64 MiB / (8 D) rows (jac.c's buffer of full rows: 27 rows at D = 301k),
 * to D′ = DP, for ROWS rows: P's tiles stored once for every block (the
 * default) against generated again for every block (as before the store;
 * ttp_proj_cpu_store_limit -1).  Prints both times and checks the bits agree.
 */
static int stream(ttp_ctx *ctx, const char *spec)
{
    long long D = 0, DP = 0, rows = 0;
    if (sscanf(spec, "%lld,%lld,%lld", &D, &DP, &rows) != 3 || D < 1 || DP < 1 || rows < 1) {
        fprintf(stderr, "bench_proj: --stream D,DP,ROWS, got '%s'\n", spec);
        return 2;
    }
    const int64_t blk = ((int64_t)64 << 20) / (8 * D) > 1 ? ((int64_t)64 << 20) / (8 * D) : 1;
    double *J = malloc((size_t)(blk * D) * sizeof *J), *G[2];
    G[0] = malloc((size_t)(rows * DP) * sizeof(double));
    G[1] = malloc((size_t)(rows * DP) * sizeof(double));
    if (!J || !G[0] || !G[1]) {
        fprintf(stderr, "bench_proj: out of memory for --stream %s\n", spec);
        return 1;
    }
    for (int64_t i = 0; i < blk * D; i++) J[i] = ttp_rng_normal(5, (uint64_t)i);
    double t[2];
    for (int pass = 0; pass < 2; pass++) {
        ttp_proj_backend b;
        if (ttp_proj_cpu(ctx, &b) != TTP_OK) die(ctx, "cpu backend");
        ttp_proj_cpu_store_limit(&b, pass == 0 ? 0.0 : -1.0);
        double t0 = ttp_time();
        for (int64_t r0 = 0; r0 < rows; r0 += blk) {
            const int64_t nr = rows - r0 < blk ? rows - r0 : blk;
            if (b.project(b.state, TTP_PROJ_RADEMACHER, 7, J, nr, D, DP, G[pass] + r0 * DP, ctx) != TTP_OK)
                die(ctx, "projection");
        }
        t[pass] = ttp_time() - t0;
        ttp_proj_backend_close(&b);
    }
    const int same = memcmp(G[0], G[1], (size_t)(rows * DP) * sizeof(double)) == 0;
    printf("bench_proj --stream: D %lld -> D' %lld, %lld rows in blocks of %lld\n"
           "  P stored once: %.3f s;  P generated per block (before): %.3f s;  speed-up %.1fx;  "
           "bits %s\n",
           D, DP, rows, (long long)blk, t[0], t[1], t[1] / t[0], same ? "identical" : "DIFFER");
    free(J), free(G[0]), free(G[1]);
    return same ? 0 : 1;
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (arg(argc, argv, "--stream", NULL)) return stream(&ctx, arg(argc, argv, "--stream", NULL));
    const int64_t nreq = atoll(arg(argc, argv, "--n", "100"));
    const int seeds = atoi(arg(argc, argv, "--seeds", "3"));
    const char *backend = arg(argc, argv, "--backend", "cpu");
    const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : TTP_DATA_DIR;
    char mpath[4096], dpath[4096];
    snprintf(mpath, sizeof mpath, "%s/default-model.nc", dd);
    snprintf(dpath, sizeof dpath, "%s/default-data.nc", dd);
    const char *mp = arg(argc, argv, "--model", mpath), *dp = arg(argc, argv, "--data", dpath);

    ttp_model *m = NULL;
    ttp_data *data = NULL;
    double *x = NULL;
    int64_t ns = nreq;
    const char *source;
    if (ttp_model_load(&ctx, mp, &m) == TTP_OK && ttp_data_read(&ctx, dp, &data) == TTP_OK) {
        ttp_data *sub = NULL;
        if (ns > data->n) ns = data->n;
        if (ttp_data_take(&ctx, data, ns, &sub) != TTP_OK) die(&ctx, "taking samples");
        x = malloc((size_t)(ns * sub->dim) * sizeof *x);
        memcpy(x, sub->x, (size_t)(ns * sub->dim) * sizeof *x);
        ttp_data_destroy(&sub);
        source = "bundled default-model.nc / default-data.nc";
    } else {
        ttp_error_clear(&ctx);
        ttp_model_destroy(&m);
        const int64_t shape[3] = {1, 8, 8};
        if (ttp_model_resnet_small(&ctx, shape, 5, 1, &m) != TTP_OK) die(&ctx, "resnet-small");
        x = malloc((size_t)(ns * 64) * sizeof *x);
        for (int64_t i = 0; i < ns * 64; i++) x[i] = ttp_rng_uniform(3, (uint64_t)i);
        source = "resnet-small (seed 1) on uniform synthetic inputs";
    }
    ttp_data_destroy(&data);
    const int64_t C = m->nout, D = m->ntrainable, rows = ns * C;
    printf("bench_proj: %s\n  N = %lld samples, C = %lld, NC = %lld rows, D = %lld, seeds %d, backend %s, "
           "OPENBLAS_NUM_THREADS=%s\n",
           source, (long long)ns, (long long)C, (long long)rows, (long long)D, seeds, backend,
           getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "(unset)");

    ttp_net *net = NULL;
    if (ttp_net_create(&ctx, m, 16 * C, &net) != TTP_OK) die(&ctx, "net");
    double tb = 1e300;
    for (int r = 0; r < 3; r++) {
        double t = base_time(&ctx, net, m, x, ns);
        if (t < tb) tb = t;
    }

    /* exact */
    ttp_jac_plan *plan = NULL;
    double *J = malloc((size_t)(rows * D) * sizeof *J), lam[5];
    if (ttp_jac_plan_create(&ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &plan) != TTP_OK) die(&ctx, "exact plan");
    double te = ttp_time();
    if (ttp_jac_rows(&ctx, plan, net, m->w, x, ns, J, NULL, NULL) != TTP_OK) die(&ctx, "exact rows");
    te = ttp_time() - te;
    ttp_jac_plan_destroy(&plan);
    double *T = gram(J, rows, D);
    top5(T, rows, lam);
    double tn = 0;
    for (int64_t i = 0; i < rows * rows; i++) tn += T[i] * T[i];
    tn = sqrt(tn);
    free(J);
    printf(
        "  net passes alone %.3f s; exact rows %.3f s; top-5 eigenvalues of Θ: %.4g %.4g %.4g %.4g %.4g\n\n",
        tb, te, lam[0], lam[1], lam[2], lam[3], lam[4]);

    /* kron-cal: KRON with its split calibrated on the first ncal samples */
    const ttp_proj_kind kinds[3] = {TTP_PROJ_RADEMACHER, TTP_PROJ_KRON, TTP_PROJ_KRON};
    const char *names[3] = {"rademacher", "kron", "kron-cal"};
    const int64_t ncal = ns < 10 ? ns : 10;
    result res[3][NDP];
    printf("| kind | D′ asked | D′ used | time (s) | projection (s) | ‖GGᵀ−Θ‖/‖Θ‖ | top-5 λ max rel err |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int q = 0; q < NDP; q++)
        for (int kk = 0; kk < 3; kk++) {
            result *R = &res[kk][q];
            R->t = 1e300, R->err = 0, R->eig = 0;
            if (dps[q] > D && kinds[kk] != TTP_PROJ_KRON) continue;
            for (int s = 0; s < seeds; s++) {
                double t = ttp_time();
                if (ttp_jac_plan_create(&ctx, m, kinds[kk], dps[q], 100 + s, backend, &plan) != TTP_OK)
                    die(&ctx, "plan");
                if (kk == 2 && ttp_jac_plan_calibrate(&ctx, plan, net, m->w, x, ncal) != TTP_OK)
                    die(&ctx, "calibration");
                R->dim = ttp_jac_plan_dim(plan);
                double *G = malloc((size_t)(rows * R->dim) * sizeof *G);
                if (ttp_jac_rows(&ctx, plan, net, m->w, x, ns, G, NULL, NULL) != TTP_OK) die(&ctx, "rows");
                t = ttp_time() - t;
                ttp_jac_plan_destroy(&plan);
                if (t < R->t) R->t = t;
                double *Q = gram(G, rows, R->dim), e = 0, l5[5], me = 0;
                for (int64_t i = 0; i < rows * rows; i++) e += (Q[i] - T[i]) * (Q[i] - T[i]);
                top5(Q, rows, l5);
                for (int k = 0; k < 5; k++) me = fmax(me, fabs(l5[k] - lam[k]) / lam[k]);
                R->err += sqrt(e) / tn / seeds;
                R->eig += me / seeds;
                free(Q), free(G);
            }
            printf("| %s | %lld | %lld | %.3f | %.3f | %.4f | %.4f |\n", names[kk], (long long)dps[q],
                   (long long)R->dim, R->t, fmax(R->t - tb, 0.0), R->err, R->eig);
        }

    for (int kk = 1; kk < 3; kk++) {
        printf("\n| D′ | time dense/%s (whole) | (projection only) | error %s/dense (Θ) | (top-5 λ) |\n",
               names[kk], names[kk]);
        printf("| --- | --- | --- | --- | --- |\n");
        for (int q = 0; q < NDP; q++) {
            const result *d = &res[0][q], *k = &res[kk][q];
            if (d->t >= 1e300) continue;
            printf("| %lld | %.1f× | %.1f× | %.2f× | %.2f× |\n", (long long)dps[q], d->t / k->t,
                   fmax(d->t - tb, 1e-9) / fmax(k->t - tb, 1e-9), k->err / d->err, k->eig / d->eig);
        }
    }
    printf("targets: time ratio ≥ 10×, error ratio ≤ 2×\n");
    free(T), free(x);
    ttp_net_destroy(&net);
    ttp_model_destroy(&m);
    return 0;
}
