/*
 * onnx_check.c — the C side of tests/cli_onnx_torch.sh: reads the networks
 * that tests/onnx_torch.py exported from PyTorch, through ttp_model_load
 * (the reader every --model uses), and compares with torch's reference
 * values:
 *   forward outputs        normalized error max|f − f_torch| / max|f_torch|
 *                          <= 1e-10 (float64 exports), 1e-5 (float32)
 *   Jacobian rows, Θ       (float64) the exact per-sample rows of ttp_jac_rows
 *                          against torch.autograd, columns matched through
 *                          the probe export; normalized error <= 1e-9
 *   one training step      ttp_train_run (what `ttpredict train` runs), full
 *                          batch, mean cross-entropy, plain SGD, against the
 *                          torch step exported after it: max|w − w_torch|
 *                          relative to the step max|w_torch − w0| <= 1e-9
 *   usage: onnx_check DIR [MIN_CASES]   (DIR holds manifest.txt and the case
 *          files; fewer than MIN_CASES cases, default 1, is a failure)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_test.h"
#include "ttpredict.h"

static double *read_bin(const char *dir, const char *name, const char *suffix, int64_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    size_t got = d ? fread(d, sizeof *d, (size_t)n, f) : 0;
    fclose(f);
    if (got != (size_t)n) {
        fprintf(stderr, "%s: %zu values, expected %lld\n", path, got, (long long)n);
        free(d);
        return NULL;
    }
    return d;
}

/* max|a − b| / max|b| */
static double nerr(const double *a, const double *b, int64_t n)
{
    double e = 0.0, s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= e)) e = d; /* NaN propagates */
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return s > 0 ? e / s : e;
}

static ttp_model *load(ttp_ctx *ctx, const char *dir, const char *name, const char *suffix)
{
    char path[1024];
    ttp_model *m = NULL;
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    CHECK_OK(ctx, ttp_model_load(ctx, path, &m));
    return m;
}

static void run_case(ttp_ctx *ctx, const char *dir, const char *name, const char *dtype, int64_t n, int C,
                     int64_t P, int64_t nj, double lr, int fwd_only)
{
    ttp_model *m = load(ctx, dir, name, ".onnx"), *probe = NULL, *step = NULL;
    ttp_net *net = NULL;
    ttp_jac_plan *plan = NULL;
    ttp_data *d = NULL;
    ttp_train_result *res = NULL;
    double *x = NULL, *y = NULL, *f = NULL, *J = NULL, *T = NULL, *G = NULL, *lab = NULL, *w0 = NULL;
    int64_t *perm = NULL;
    if (m == NULL) return;
    CHECK(m->nout == C);
    int64_t in = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    x = read_bin(dir, name, ".x.bin", n * in);
    y = read_bin(dir, name, ".y.bin", n * C);
    f = malloc((size_t)(n * C) * sizeof *f);
    CHECK(x && y && f);
    if (!(x && y && f)) goto done;
    CHECK_OK(ctx, ttp_net_create(ctx, m, n > C ? n : C, &net));
    CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, x, n, f));
    double ef = nerr(f, y, n * C), tol = strcmp(dtype, "f32") == 0 ? 1e-5 : 1e-10;
    printf("%-14s %d layers, %lld parameters: forward error %.3e (limit %.0e)\n", name, m->nlayers,
           (long long)m->nparams, ef, tol);
    CHECK(ef <= tol);
    if (fwd_only) goto done;

    /* columns: slab position j holds torch parameter perm[j] */
    probe = load(ctx, dir, name, ".probe.onnx");
    CHECK(probe && probe->ntrainable == P && m->ntrainable == P);
    if (probe == NULL || probe->ntrainable != P) goto done;
    perm = malloc((size_t)P * sizeof *perm);
    char *seen = calloc((size_t)P, 1);
    int okperm = perm && seen;
    for (int64_t j = 0; okperm && j < P; j++) {
        double v = probe->w[j];
        int64_t k = (int64_t)llround(v);
        if (k < 0 || k >= P || (double)k != v || seen[k])
            okperm = 0;
        else
            seen[k] = 1, perm[j] = k;
    }
    free(seen);
    CHECK(okperm);
    if (!okperm) goto done;

    /* Jacobian rows and Θ */
    J = read_bin(dir, name, ".jac.bin", nj * C * P);
    T = read_bin(dir, name, ".theta.bin", nj * C * nj * C);
    G = malloc((size_t)(nj * C * P) * sizeof *G);
    CHECK(J && T && G);
    if (!(J && T && G)) goto done;
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 1, "cpu", &plan));
    CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, nj, G, NULL, NULL));
    double emax = 0.0, smax = 0.0;
    for (int64_t r = 0; r < nj * C; r++)
        for (int64_t j = 0; j < P; j++) {
            double a = G[r * P + j], b = J[r * P + perm[j]];
            if (!(fabs(a - b) <= emax)) emax = fabs(a - b);
            if (fabs(b) > smax) smax = fabs(b);
        }
    double ej = emax / smax;
    double et = 0.0, ts = 0.0;
    for (int64_t r = 0; r < nj * C; r++)
        for (int64_t s = 0; s < nj * C; s++) {
            double t = 0.0;
            for (int64_t j = 0; j < P; j++) t += G[r * P + j] * G[s * P + j];
            double b = T[r * nj * C + s];
            if (!(fabs(t - b) <= et)) et = fabs(t - b);
            if (fabs(b) > ts) ts = fabs(b);
        }
    et /= ts;
    printf("%-14s Jacobian rows (%lld x %lld) error %.3e, Theta error %.3e (limit 1e-9)\n", name,
           (long long)(nj * C), (long long)P, ej, et);
    CHECK(ej <= 1e-9);
    CHECK(et <= 1e-9);

    /* one full-batch SGD step on the mean cross-entropy */
    lab = read_bin(dir, name, ".labels.bin", n);
    step = load(ctx, dir, name, ".step.onnx");
    CHECK(lab && step);
    if (!(lab && step)) goto done;
    int64_t shape[3] = {m->in_shape[0], m->in_shape[1], m->in_shape[2]};
    int nd = (shape[1] == 1 && shape[2] == 1) ? 1 : 3;
    CHECK_OK(ctx, ttp_data_create(ctx, n, nd, shape, C, &d));
    if (d == NULL) goto done;
    memcpy(d->x, x, (size_t)(n * in) * sizeof *x);
    for (int64_t i = 0; i < n; i++) d->y[i] = (int)lab[i];
    w0 = malloc((size_t)m->nparams * sizeof *w0);
    if (w0 == NULL) goto done;
    memcpy(w0, m->w, (size_t)m->nparams * sizeof *w0);
    ttp_opt o;
    ttp_opt_default(&o);
    o.loss = TTP_LOSS_CE, o.lr = lr, o.batch = 0, o.steps = 1;
    ttp_comm serial;
    ttp_comm_serial(&serial);
    CHECK_OK(ctx, ttp_train_run(ctx, &serial, m, d, &o, &res));
    double es = 0.0, ss = 0.0;
    for (int64_t j = 0; j < m->nparams; j++) {
        if (!(fabs(m->w[j] - step->w[j]) <= es)) es = fabs(m->w[j] - step->w[j]);
        if (fabs(step->w[j] - w0[j]) > ss) ss = fabs(step->w[j] - w0[j]);
    }
    es /= ss;
    printf("%-14s one SGD step (lr %g, %lld samples): weight error %.3e of the step (limit 1e-9)\n", name, lr,
           (long long)n, es);
    CHECK(es <= 1e-9);
done:
    ttp_train_result_destroy(&res);
    ttp_data_destroy(&d);
    ttp_jac_plan_destroy(&plan);
    ttp_net_destroy(&net);
    ttp_model_destroy(&m);
    ttp_model_destroy(&probe);
    ttp_model_destroy(&step);
    free(x), free(y), free(f), free(J), free(T), free(G), free(lab), free(w0), free(perm);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: onnx_check DIR [MIN_CASES]\n");
        return 2;
    }
    ttp_ctx c, *ctx = &c;
    ttp_ctx_init(ctx);
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.txt", argv[1]);
    FILE *mf = fopen(path, "r");
    if (mf == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    char name[128], dtype[8];
    long long n, P, nj;
    int C, fwd;
    double lr;
    int ncases = 0;
    while (fscanf(mf, "%127s %7s %lld %d %lld %lld %lf %d", name, dtype, &n, &C, &P, &nj, &lr, &fwd) == 8) {
        run_case(ctx, argv[1], name, dtype, n, C, P, nj, lr, fwd);
        ncases++;
    }
    fclose(mf);
    CHECK(ncases >= (argc == 3 ? atoi(argv[2]) : 1));
    printf("onnx_check: %d cases, %d checks, %d failures\n", ncases, ttp_test_checks, ttp_test_failures);
    return ttp_test_failures ? 1 : 0;
}
