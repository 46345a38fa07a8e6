/*
 * bench_step_model.c — the step-time cost model (ttp_train_step_model)
 * against measured full optimizer steps (ttp_train_time_step), and the
 * networks the cost benchmarks use.
 *
 *   mpirun -np P build/benchmarks/bench_step_model compare TASK [--batches 1,10,...] [--reps R]
 *   build/benchmarks/bench_step_model write DIR [N]
 *
 * TASK is `bundled` (data/default-model.nc on data/default-data.nc), `wide`
 * (the wide CNN below, He-initialised, on default-data.nc), `wide-task`
 * (data/wide-model.nc on default-data.nc: what `--task wide` reads) or
 * `mlp` (the 301k-weight MLP on the first 250 images of digits.nc).  For every batch
 * size (default 1, 2, 5, 10, 25, 50, 100, 250, 500 and N) it prints the
 * model's seconds per step, the probe's own cost, the measured seconds per
 * step (the mean of R full steps after a warm-up: what --step-timing
 * measure gives) and the model's relative error;
 * then the mean and largest |error| over the batches.
 *
 * `write DIR [N]` writes wide-cnn.nc, mlp301k.nc and digits250.nc (with N:
 * digitsN.nc, the first N images of digits.nc) for the command-line
 * benchmarks (benchmarks/cost.sh, the memory check in benchmarks/README.md):
 *   wide CNN  conv3x3 1→64→192→256→256 (pad 1, ReLU after each) on 8×8,
 *             global average pool, dense → 5:  1,145,413 weights
 *   MLP       flatten, dense 64→512, ReLU, dense 512→512, ReLU, dense →10:
 *             301,066 weights
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_mpi.h"
#include "ttp_train.h"

#ifndef TTP_DATA_DIR
#define TTP_DATA_DIR "data"
#endif

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

static ttp_status add(ttp_ctx *ctx, ttp_model *m, ttp_layer_kind kind, int input, int units, int *idx)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    L.input[0] = input;
    L.input[1] = -1;
    L.units = units;
    L.kernel = kind == TTP_LAYER_CONV2D ? 3 : 0;
    L.stride = 1;
    L.pad = kind == TTP_LAYER_CONV2D ? 1 : 0;
    L.trainable = kind == TTP_LAYER_CONV2D || kind == TTP_LAYER_DENSE;
    return ttp_model_add(ctx, m, &L, idx);
}

static ttp_status wide_cnn(ttp_ctx *ctx, ttp_model **out)
{
    const int64_t in[3] = {1, 8, 8};
    const int ch[4] = {64, 192, 256, 256};
    int prev = -1;
    TTP_CALL(ctx, ttp_model_create(ctx, in, out));
    for (int i = 0; i < 4; i++) {
        TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_CONV2D, prev, ch[i], &prev));
        TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_RELU, prev, 0, &prev));
    }
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_GAP, prev, 0, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_DENSE, prev, 5, &prev));
    TTP_CALL(ctx, ttp_model_build(ctx, *out));
    ttp_model_init_weights(*out, 7, 0);
    snprintf((*out)->title, sizeof(*out)->title, "wide CNN 1-64-192-256-256, GAP, dense 5 (He init, seed 7)");
    return TTP_OK;
}

static ttp_status mlp(ttp_ctx *ctx, ttp_model **out)
{
    const int64_t in[3] = {1, 8, 8};
    int prev = -1;
    TTP_CALL(ctx, ttp_model_create(ctx, in, out));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_FLATTEN, prev, 0, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_DENSE, prev, 512, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_RELU, prev, 0, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_DENSE, prev, 512, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_RELU, prev, 0, &prev));
    TTP_CALL(ctx, add(ctx, *out, TTP_LAYER_DENSE, prev, 10, &prev));
    TTP_CALL(ctx, ttp_model_build(ctx, *out));
    ttp_model_init_weights(*out, 7, 0);
    snprintf((*out)->title, sizeof(*out)->title, "MLP 64-512-512-10 (He init, seed 7)");
    return TTP_OK;
}

static ttp_status load_task(ttp_ctx *ctx, const char *task, ttp_model **m, ttp_data **d, int64_t nmlp)
{
    char path[1024];
    *m = NULL;
    *d = NULL;
    if (strcmp(task, "mlp") == 0) {
        ttp_data *all = NULL;
        snprintf(path, sizeof path, "%s/digits.nc", TTP_DATA_DIR);
        TTP_CALL(ctx, ttp_data_read(ctx, path, &all));
        ttp_status st = ttp_data_take(ctx, all, nmlp, d);
        ttp_data_destroy(&all);
        TTP_CALL(ctx, st);
        return mlp(ctx, m);
    }
    snprintf(path, sizeof path, "%s/default-data.nc", TTP_DATA_DIR);
    TTP_CALL(ctx, ttp_data_read(ctx, path, d));
    if (strcmp(task, "wide") == 0) return wide_cnn(ctx, m);
    if (strcmp(task, "bundled") != 0 && strcmp(task, "wide-task") != 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "task '%s': expected bundled, wide, wide-task or mlp", task);
    /* wide-task: what `--task wide` reads (the wide ResNet, 1,226,501 weights) */
    snprintf(path, sizeof path, "%s/%s", TTP_DATA_DIR,
             strcmp(task, "wide-task") == 0 ? "wide-model.nc" : "default-model.nc");
    TTP_CALL(ctx, ttp_model_read(ctx, path, m));
    if ((*m)->nout != (*d)->nclasses) TTP_CALL(ctx, ttp_model_replace_head(ctx, *m, (*d)->nclasses, 1));
    return TTP_OK;
}

static int write_models(ttp_ctx *ctx, const char *dir, int64_t n)
{
    char path[1024];
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    int ok = wide_cnn(ctx, &m) == TTP_OK;
    snprintf(path, sizeof path, "%s/wide-cnn.nc", dir);
    ok = ok && ttp_model_write(ctx, path, m) == TTP_OK;
    if (ok) printf("%s: %lld weights\n", path, (long long)m->ntrainable);
    ttp_model_destroy(&m);
    ok = ok && load_task(ctx, "mlp", &m, &d, n) == TTP_OK;
    snprintf(path, sizeof path, "%s/mlp301k.nc", dir);
    ok = ok && ttp_model_write(ctx, path, m) == TTP_OK;
    if (ok) printf("%s: %lld weights\n", path, (long long)m->ntrainable);
    snprintf(path, sizeof path, "%s/digits%lld.nc", dir, (long long)n);
    ok = ok && ttp_data_write(ctx, path, d) == TTP_OK;
    if (ok) printf("%s: %lld samples\n", path, (long long)d->n);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    if (!ok) fprintf(stderr, "bench_step_model write: %s\n", ctx->msg);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (argc >= 3 && strcmp(argv[1], "write") == 0)
        return write_models(&ctx, argv[2], argc >= 4 ? atoll(argv[3]) : 250);
    if (argc < 3 || strcmp(argv[1], "compare") != 0) {
        fprintf(stderr,
                "usage: bench_step_model compare bundled|wide|wide-task|mlp [--batches LIST] [--reps R]\n"
                "       bench_step_model write DIR\n");
        return 2;
    }
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    ttp_model *m = NULL;
    ttp_data *d = NULL;
    int rc = 1;
    if (load_task(&ctx, argv[2], &m, &d, 250) != TTP_OK) goto done;
    const int reps = atoi(arg(argc, argv, "--reps", "3"));
    int64_t batches[32];
    int nb = 0;
    {
        char list[512];
        snprintf(list, sizeof list, "%s", arg(argc, argv, "--batches", "1,2,5,10,25,50,100,250,500,0"));
        for (char *t = strtok(list, ","); t && nb < 32; t = strtok(NULL, ",")) {
            int64_t b = atoll(t);
            batches[nb++] = b <= 0 || b > d->n ? d->n : b;
        }
    }
    ttp_layer_cost tot;
    ttp_model_cost(m, NULL, &tot);
    if (comm.rank == 0)
        printf("bench_step_model %s: D = %lld, N = %lld, %d rank(s); %.4g MFLOP and %.4g MB a sample, "
               "%.4g MB a step fixed\n"
               "%8s %12s %12s %12s %9s %10s\n",
               argv[2], (long long)m->ntrainable, (long long)d->n, comm.size,
               (tot.flops_fwd + tot.flops_bwd) * 1e-6, tot.bytes * 1e-6, tot.weight_bytes * 1e-6, "batch",
               "model s", "probe s", "measured s", "error", "GFLOP/s");
    double esum = 0.0, emax = 0.0;
    for (int i = 0; i < nb; i++) {
        ttp_opt o;
        ttp_opt_default(&o);
        o.batch = batches[i];
        ttp_step_model sm;
        double meas = 0.0;
        if (ttp_train_step_model(&ctx, &comm, m, d, &o, reps, &sm) != TTP_OK) goto done;
        /* R real full steps after a warm-up, their mean: the figure the
         * measured path (--step-timing measure) gives */
        if (ttp_train_time_step(&ctx, &comm, m, d, &o, reps, &meas) != TTP_OK) goto done;
        const double err = (sm.sec_per_step - meas) / meas;
        esum += fabs(err);
        if (fabs(err) > emax) emax = fabs(err);
        if (comm.rank == 0)
            printf("%8lld %12.5g %12.5g %12.5g %+8.1f%% %10.3g\n", (long long)batches[i], sm.sec_per_step,
                   sm.sec_probe, meas, 100.0 * err, sm.rate * 1e-9);
    }
    if (comm.rank == 0)
        printf("step model vs measured full steps: mean |error| %.1f%%, largest %.1f%% over %d batch sizes\n",
               100.0 * esum / nb, 100.0 * emax, nb);
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench_step_model: %s\n", ctx.msg);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    ttp_mpi_finalize();
    return rc;
}
