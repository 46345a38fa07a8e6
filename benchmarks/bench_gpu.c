/*
 * bench_gpu.c — the device Jacobian stage (gpu/ttp_gnet.h) against the
 * device's own measured rates and against the CPU path, in one run:
 *   bench_gpu [--task default|wide] [--proj KIND] [--dproj D'] [--samples N]
 *             [--cpu-samples M] [--reps R] [--gnet cuda|ref]
 * (--gnet ref runs the CPU twin instead of the device, without the device
 * measurements: a check of this program and of parity on a machine without
 * a GPU; slow, use few samples.)
 * Prints, with every rate measured here:
 *   stage     seconds per sample of ttp_gnet_rows on N samples, its GEMM flop
 *             rate, and that rate against (a) the same GEMMs alone (the run
 *             repeated with the elementwise ops switched off: the device's
 *             FP64 GEMM rate for exactly these shapes) and (b) a square
 *             DGEMM of 8192³;
 *   proj      generating the Rademacher P (the dense projection's
 *             elementwise part) in GB/s written against the device-to-device
 *             copy bandwidth;
 *   cpu       seconds per sample of ttp_jac_rows on the CPU (this process, M
 *             samples) and the device's speed-up per sample;
 *   parity    ‖G_device − G_cpu‖/‖G_cpu‖ on the M samples (must be < 1e-10:
 *             exit 1 otherwise).
 * Exits 77 with the reason when no device answers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_data.h"
#include "ttp_gpu.h"
#include "ttp_jac.h"
#include "ttp_onnx.h"
#include "ttp_task.h"

#ifndef TTP_DATA_DIR
#define TTP_DATA_DIR "data"
#endif

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static void die(ttp_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_gpu: %s: %s\n%s", what, ctx->msg, ctx->trace);
    exit(1);
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    char why[512], mp[4096], dp[4096];
    ttp_ctx_init(&ctx);
    const char *be = arg(argc, argv, "--gnet", "cuda");
    const int dev = strcmp(be, "cuda") == 0;
    if (dev && ttp_gpu_device_count(why, sizeof why) == 0) {
        printf("SKIP: bench_gpu: %s\n", why);
        return 77;
    }
    const ttp_task_info *task = NULL;
    if (ttp_task_find(&ctx, arg(argc, argv, "--task", "default"), &task) != TTP_OK) die(&ctx, "--task");
    const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : TTP_DATA_DIR;
    snprintf(mp, sizeof mp, "%s/%s", dd, task->model_file);
    snprintf(dp, sizeof dp, "%s/%s", dd, task->data_file);
    ttp_proj_kind kind;
    if (ttp_proj_kind_parse(&ctx, arg(argc, argv, "--proj", "kron"), &kind) != TTP_OK) die(&ctx, "--proj");
    const int reps = atoi(arg(argc, argv, "--reps", "3"));
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    if (ttp_model_load(&ctx, mp, &m) != TTP_OK) die(&ctx, "model");
    if (ttp_data_read(&ctx, dp, &d) != TTP_OK) die(&ctx, "data");
    const int64_t C = m->nout, D = m->ntrainable, in = d->dim;
    if (in != m->in_shape[0] * m->in_shape[1] * m->in_shape[2]) {
        fprintf(stderr, "bench_gpu: the data has %lld values per sample, the model reads %lld\n",
                (long long)in, (long long)(m->in_shape[0] * m->in_shape[1] * m->in_shape[2]));
        return 1;
    }
    int64_t dproj = atoll(arg(argc, argv, "--dproj", "1024"));
    if (kind == TTP_PROJ_EXACT) dproj = D;
    if (dproj > D) dproj = D;
    int64_t N = atoll(arg(argc, argv, "--samples", "0")), M = atoll(arg(argc, argv, "--cpu-samples", "8"));
    if (N <= 0 || N > d->n) N = d->n;
    if (M > N) M = N;

    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    ttp_gnet *g = NULL;
    if (ttp_jac_plan_create(&ctx, m, kind, dproj, 1, "cpu", &plan) != TTP_OK) die(&ctx, "plan");
    if (ttp_net_create(&ctx, m, 16 * C, &net) != TTP_OK) die(&ctx, "net");
    if (kind == TTP_PROJ_KRON &&
        ttp_jac_plan_calibrate(&ctx, plan, net, m->w, d->x, N < 10 ? N : 10) != TTP_OK)
        die(&ctx, "calibration");
    const int64_t K = ttp_jac_plan_dim(plan);
    if (ttp_jac_gnet_open(&ctx, plan, m->w, be, -1, dev ? 0 : 4, C, &g) != TTP_OK)
        die(&ctx, "device network");
    printf("bench_gpu (%s): task %s (%s), N %lld, C %lld, D %lld, projection %s D' %lld\n", be, task->name,
           mp, (long long)N, (long long)C, (long long)D, ttp_proj_kind_str(kind), (long long)K);

    double *G = malloc((size_t)(N * C * K) * sizeof *G), *Gc = malloc((size_t)(M * C * K) * sizeof *Gc);
    if (!G || !Gc) {
        fprintf(stderr, "bench_gpu: out of memory for G (%lld × %lld)\n", (long long)(N * C), (long long)K);
        return 1;
    }
    /* ---- the stage, whole and GEMMs alone ------------------------------- */
    if (ttp_gnet_rows(&ctx, g, d->x, N < 64 ? N : 64, G, NULL, NULL, NULL) != TTP_OK) die(&ctx, "warm-up");
    double t_stage = 1e300, t_gemm = 1e300, flops = 0.0;
    /* the GEMMs alone first: the whole runs after them leave G valid */
    ttp_gnet_set_gemm_only(g, 1);
    for (int r = 0; r < reps; r++) {
        double t = ttp_time();
        if (ttp_gnet_rows(&ctx, g, d->x, N, G, NULL, NULL, NULL) != TTP_OK) die(&ctx, "device GEMMs");
        t = ttp_time() - t;
        if (t < t_gemm) t_gemm = t;
    }
    ttp_gnet_set_gemm_only(g, 0);
    for (int r = 0; r < reps; r++) {
        ttp_gnet_reset_stats(g);
        double t = ttp_time();
        if (ttp_gnet_rows(&ctx, g, d->x, N, G, NULL, NULL, NULL) != TTP_OK) die(&ctx, "device rows");
        t = ttp_time() - t;
        if (t < t_stage) t_stage = t;
        ttp_gnet_stats s;
        ttp_gnet_get_stats(g, &s);
        flops = s.gemm_flops;
    }
    double t_sq = 1.0, t_copy = 1.0, t_gen = 1.0;
    const int64_t sq = 8192, ncopy = (int64_t)1 << 28, gk = 8192, gc = K;
    if (!dev) goto cpu;
    if (ttp_gpu_bench(&ctx, TTP_GPU_BENCH_DGEMM, sq, sq, sq, reps, &t_sq) != TTP_OK) die(&ctx, "DGEMM rate");
    if (ttp_gpu_bench(&ctx, TTP_GPU_BENCH_COPY, ncopy, 0, 0, reps, &t_copy) != TTP_OK) die(&ctx, "bandwidth");
    if (ttp_gpu_bench(&ctx, TTP_GPU_BENCH_PROJ_GEN, gk, gc, 0, reps, &t_gen) != TTP_OK)
        die(&ctx, "P generation");
    const double r_stage = flops / t_stage, r_same = flops / t_gemm, r_sq = 2.0 * sq * sq * (double)sq / t_sq;
    const double bw = 16.0 * (double)ncopy / t_copy, genbw = 8.0 * (double)gk * (double)gc / t_gen;
    printf("stage: %.3e s/sample (%lld samples in %.3f s), GEMM work %.3e flop/sample, %.1f GFLOP/s\n",
           t_stage / N, (long long)N, t_stage, flops / N, r_stage * 1e-9);
    printf("device FP64 GEMM: same shapes alone %.1f GFLOP/s, square %lld^3 %.1f GFLOP/s\n", r_same * 1e-9,
           (long long)sq, r_sq * 1e-9);
    printf("ratio stage/GEMM-same-shapes: %.3f\n", r_stage / r_same);
    printf("ratio stage/GEMM-square: %.3f\n", r_stage / r_sq);
    printf("device copy bandwidth: %.1f GB/s; P generation %lld x %lld: %.1f GB/s\n", bw * 1e-9,
           (long long)gk, (long long)gc, genbw * 1e-9);
    printf("ratio projection/bandwidth: %.3f\n", genbw / bw);
cpu:
    if (!dev) printf("stage (CPU twin): %.3e s/sample; device measurements skipped\n", t_stage / N);

    /* ---- the CPU path and parity ---------------------------------------- */
    double t_cpu = ttp_time();
    if (ttp_jac_rows(&ctx, plan, net, m->w, d->x, M, Gc, NULL, NULL) != TTP_OK) die(&ctx, "CPU rows");
    t_cpu = ttp_time() - t_cpu;
    printf("cpu (this process): %.3e s/sample on %lld samples\n", t_cpu / M, (long long)M);
    printf("ratio device/cpu per sample: %.1f\n", (t_cpu / M) / (t_stage / N));
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < M * C * K; i++) {
        num += (G[i] - Gc[i]) * (G[i] - Gc[i]);
        den += Gc[i] * Gc[i];
    }
    const double err = den > 0 ? sqrt(num / den) : sqrt(num);
    printf("parity ‖G_device − G_cpu‖/‖G_cpu‖ on %lld samples: %.2e (limit 1e-10)\n", (long long)M, err);
    free(G), free(Gc);
    ttp_gnet_destroy(&g);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    if (!(err < 1e-10)) {
        printf("FAIL: device rows differ from the CPU path\n");
        return 1;
    }
    return 0;
}
