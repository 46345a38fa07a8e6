// labels: cuda
/*
 * test_gpu_proj.c — parity of the CUDA backend with the CPU reference:
 *   - device-generated projection entries == ttp_proj_entry (src/engine/proj.c);
 *   - G = J P from the cuda backend vs the cpu backend, and vs direct sums;
 *   - tiles that do not divide d or D′, rows = 1, the resident-P cache;
 *   - the local Gram Gᵀ G from cuBLAS DSYRK vs ttp_gram_local_cpu, which is
 *     itself checked against plain loops.
 * Without a device (or without CUDA in the build) the CPU-side checks and
 * the refusal messages are still verified, then the test exits 77 (skip)
 * with the reason, unless one of those checks failed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_core.h"
#include "ttp_gpu.h"
#include "ttp_gramref.h"
#include "ttp_proj.h"
#include "ttp_test.h"

/* ‖a − b‖ / ‖b‖ over n entries (0 when both vanish). */
static double nerr(const double *a, const double *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* J with entries uniform in [−1/2, 1/2), from its own RNG stream. */
static double *random_matrix(int64_t rows, int64_t cols, uint64_t seed)
{
    double *m = malloc((size_t)(rows * cols) * sizeof *m);
    if (!m) return NULL;
    for (int64_t i = 0; i < rows * cols; i++) m[i] = ttp_rng_uniform(seed, (uint64_t)i) - 0.5;
    return m;
}

/* The Gram reference is CPU code: check it against plain loops on every machine. */
static void check_gram_ref(ttp_ctx *ctx)
{
    const int64_t rows = 37, cols = 23;
    double *G = random_matrix(rows, cols, 11);
    double *out = malloc((size_t)(cols * cols) * sizeof *out);
    double *ref = malloc((size_t)(cols * cols) * sizeof *ref);
    CHECK(G && out && ref);
    if (!G || !out || !ref) goto done;
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < cols; j++) {
            double s = 0.0;
            for (int64_t r = 0; r < rows; r++) s += G[r * cols + i] * G[r * cols + j];
            ref[i * cols + j] = s;
        }
    CHECK_OK(ctx, ttp_gram_local_cpu(ctx, G, rows, cols, out));
    /* Sums of 37 products of O(1) terms: rounding is ~1e-15 relative. */
    CHECK(nerr(out, ref, cols * cols) < 1e-14);
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < i; j++) CHECK(out[i * cols + j] == out[j * cols + i]);
    CHECK_OK(ctx, ttp_gram_local_cpu(ctx, G, 0, cols, out));
    CHECK(out[0] == 0.0 && out[cols * cols - 1] == 0.0);
    CHECK_FAILS(ctx, ttp_gram_local_cpu(ctx, G, rows, 0, out), TTP_ERR_ARG, "cols");
done:
    free(G);
    free(out);
    free(ref);
}

/* With no device: every GPU entry point refuses with TTP_ERR_UNSUPPORTED and
 * says why; "auto" falls back to the CPU. */
static void check_refusals(ttp_ctx *ctx)
{
    ttp_proj_backend b;
    double buf[4];
    memset(&b, 0, sizeof b);
    CHECK_FAILS(ctx, ttp_gpu_proj_open(ctx, &b), TTP_ERR_UNSUPPORTED, "CUDA");
    CHECK_FAILS(ctx, ttp_gpu_proj_entries(ctx, TTP_PROJ_RADEMACHER, 1, 0, 2, 0, 2, 4, buf),
                TTP_ERR_UNSUPPORTED, "CUDA");
    CHECK_FAILS(ctx, ttp_gpu_gram(ctx, buf, 2, 2, buf), TTP_ERR_UNSUPPORTED, "CUDA");
    CHECK_FAILS(ctx, ttp_proj_backend_open(ctx, "cuda", &b), TTP_ERR_UNSUPPORTED, "");
    CHECK_OK(ctx, ttp_proj_backend_open(ctx, "auto", &b));
    CHECK(b.name && strcmp(b.name, "cpu") == 0);
    ttp_proj_backend_close(&b);
}

/*
 * Device entries vs ttp_proj_entry on a grid of (k, j), including counters
 * past 2³² (k·D′ large).  Rademacher must match bit for bit: the hash is
 * integer arithmetic and ±1/√D′ is a correctly rounded division and square
 * root on both sides.  Gaussian uses log and cos, whose device versions
 * (CUDA libdevice, ≤ 1–2 ulp) and host versions (glibc, < 1 ulp) are not
 * bit-identical, so those entries must agree to 8 ulp and the count of
 * identical bits is printed.
 */
static void check_entries(ttp_ctx *ctx)
{
    static const int64_t dprojs[] = {1, 7, 1024, 1000003};
    static const int64_t k0s[] = {0, 1, 4999, 123456789};
    static const uint64_t keys[] = {0, 0x5eedULL, 0xfedcba9876543210ULL};
    const int64_t nk = 33;
    double *dev = malloc(33 * 40 * sizeof *dev);
    CHECK(dev != NULL);
    if (!dev) return;
    for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
        int64_t total = 0, same = 0, far = 0;
        for (size_t a = 0; a < sizeof dprojs / sizeof *dprojs; a++)
            for (size_t c = 0; c < sizeof k0s / sizeof *k0s; c++)
                for (size_t e = 0; e < sizeof keys / sizeof *keys; e++) {
                    int64_t dp = dprojs[a], nj = dp < 40 ? dp : 40;
                    int64_t j0 = dp - nj; /* the last columns: j0 > 0 when D′ > 40 */
                    ttp_status s =
                        ttp_gpu_proj_entries(ctx, (ttp_proj_kind)kind, keys[e], k0s[c], nk, j0, nj, dp, dev);
                    CHECK_OK(ctx, s);
                    if (s != TTP_OK) continue;
                    for (int64_t k = 0; k < nk; k++)
                        for (int64_t j = 0; j < nj; j++) {
                            double ref = ttp_proj_entry((ttp_proj_kind)kind, keys[e], k0s[c] + k, j0 + j, dp);
                            double got = dev[k * nj + j];
                            total++;
                            same += memcmp(&ref, &got, sizeof ref) == 0;
                            far += !(fabs(got - ref) <= 8 * 2.220446049250313e-16 * fabs(ref));
                        }
                }
        printf("  %s entries: %lld of %lld bit-identical, %lld beyond 8 ulp\n",
               ttp_proj_kind_str((ttp_proj_kind)kind), (long long)same, (long long)total, (long long)far);
        if (kind == TTP_PROJ_RADEMACHER) CHECK(same == total);
        CHECK(far == 0);
        CHECK(total > 0);
    }
    /* Bad ranges are refused, not clipped. */
    CHECK_FAILS(ctx, ttp_gpu_proj_entries(ctx, TTP_PROJ_GAUSSIAN, 1, 0, 2, 3, 2, 4, dev), TTP_ERR_ARG,
                "j0 + nj");
    CHECK_FAILS(ctx, ttp_gpu_proj_entries(ctx, TTP_PROJ_KRON, 1, 0, 2, 0, 2, 4, dev), TTP_ERR_ARG,
                "not dense");
    free(dev);
}

/*
 * G from the cuda backend vs the cpu backend.  Same entries of P (above), so
 * the only difference is DGEMM's summation order over d terms: the
 * normalized error is ~√d·ε ≈ 1e-14 for d = 5000; 1e-12 leaves margin and
 * still catches any wrong entry, tile or transpose (those give O(1)).
 * A few entries are also checked against the direct sum Σ_k J[r,k] P[k,j],
 * which shares no code with either DGEMM path.
 */
static void check_project(ttp_ctx *ctx, ttp_proj_backend *gpu, ttp_proj_backend *cpu, ttp_proj_kind kind,
                          uint64_t key, int64_t rows, int64_t d, int64_t dproj, const char *label)
{
    double *J = random_matrix(rows, d, key ^ 0xabcdefULL);
    double *Gg = malloc((size_t)(rows * dproj) * sizeof *Gg);
    double *Gc = malloc((size_t)(rows * dproj) * sizeof *Gc);
    double e = 0.0, worst = 0.0;
    CHECK(J && Gg && Gc);
    if (!J || !Gg || !Gc) goto done;
    CHECK_OK(ctx, gpu->project(gpu->state, kind, key, J, rows, d, dproj, Gg, ctx));
    CHECK_OK(ctx, cpu->project(cpu->state, kind, key, J, rows, d, dproj, Gc, ctx));
    e = nerr(Gg, Gc, rows * dproj);
    CHECK(e < 1e-12);
    for (int i = 0; i < 12; i++) {
        int64_t r = (int64_t)(ttp_rng_u64(99, 2 * (uint64_t)i) % (uint64_t)rows);
        int64_t j = (int64_t)(ttp_rng_u64(99, 2 * (uint64_t)i + 1) % (uint64_t)dproj);
        double s = 0.0, sa = 0.0;
        for (int64_t k = 0; k < d; k++) {
            double t = J[r * d + k] * ttp_proj_entry(kind, key, k, j, dproj);
            s += t;
            sa += fabs(t);
        }
        /* Error of a d-term sum is bounded by d·ε·Σ|terms|. */
        double err = fabs(Gg[r * dproj + j] - s) / (sa > 0 ? sa : 1.0);
        if (err > worst) worst = err;
    }
    CHECK(worst < (double)d * 2.220446049250313e-16);
    printf("  %-34s %s rows %lld d %lld D' %lld: nerr vs cpu %.2e, direct sums %.2e\n", label,
           ttp_proj_kind_str(kind), (long long)rows, (long long)d, (long long)dproj, e, worst);
done:
    free(J);
    free(Gg);
    free(Gc);
}

static void check_gram_gpu(ttp_ctx *ctx)
{
    const int64_t rows = 500, cols = 300;
    double *G = random_matrix(rows, cols, 5);
    double *Cg = malloc((size_t)(cols * cols) * sizeof *Cg);
    double *Cc = malloc((size_t)(cols * cols) * sizeof *Cc);
    double e = 0.0;
    int sym = 1;
    CHECK(G && Cg && Cc);
    if (!G || !Cg || !Cc) goto done;
    CHECK_OK(ctx, ttp_gpu_gram(ctx, G, rows, cols, Cg));
    CHECK_OK(ctx, ttp_gram_local_cpu(ctx, G, rows, cols, Cc));
    /* Same products, different summation order over 500 rows. */
    e = nerr(Cg, Cc, cols * cols);
    CHECK(e < 1e-13);
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < i; j++) sym &= Cg[i * cols + j] == Cg[j * cols + i];
    CHECK(sym);
    printf("  gram %lld x %lld: nerr vs cblas_dsyrk %.2e\n", (long long)rows, (long long)cols, e);
done:
    free(G);
    free(Cg);
    free(Cc);
}

int main(void)
{
    ttp_ctx ctx;
    char why[512];
    ttp_proj_backend gpu, cpu;
    ttp_ctx_init(&ctx);
    memset(&gpu, 0, sizeof gpu);
    memset(&cpu, 0, sizeof cpu);

    check_gram_ref(&ctx);
    if (ttp_gpu_device_count(why, sizeof why) == 0) {
        check_refusals(&ctx);
        if (ttp_test_failures) return ttp_test_end("test_gpu_proj");
        printf("SKIP: %s\n", why);
        return 77;
    }

    check_entries(&ctx);

    CHECK_OK(&ctx, ttp_proj_backend_open(&ctx, "cuda", &gpu));
    CHECK_OK(&ctx, ttp_proj_backend_open(&ctx, "cpu", &cpu));
    if (gpu.project && cpu.project) {
        CHECK(strcmp(gpu.name, "cuda") == 0 && strcmp(cpu.name, "cpu") == 0);
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_RADEMACHER, 42, 300, 5000, 1024, "one tile");
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_GAUSSIAN, 42, 300, 5000, 1024, "one tile");
        /* Same shape, new key: the resident P must be regenerated. */
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_GAUSSIAN, 43, 300, 5000, 1024, "new key");
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_RADEMACHER, 42, 1, 5000, 1024, "rows = 1");
        /* Tiles 700 × 300: d = 5000 and D′ = 1000 are not multiples. */
        CHECK_OK(&ctx, ttp_gpu_proj_set_tiles(&ctx, &gpu, 700, 300));
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_RADEMACHER, 7, 300, 5000, 1000, "tiles 700x300");
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_GAUSSIAN, 7, 1, 5000, 1000, "tiles 700x300, rows = 1");
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_GAUSSIAN, 8, 17, 9, 5, "tiles, tiny d and D'");
        CHECK_OK(&ctx, ttp_gpu_proj_set_tiles(&ctx, &gpu, 0, 0));
        check_project(&ctx, &gpu, &cpu, TTP_PROJ_RADEMACHER, 9, 3, 1, 1, "d = D' = 1");
        {
            /* exact: G = J; kron: not a dense kind. */
            double J[6] = {1, 2, 3, 4, 5, 6}, G[6] = {0};
            CHECK_OK(&ctx, gpu.project(gpu.state, TTP_PROJ_EXACT, 1, J, 2, 3, 3, G, &ctx));
            CHECK(memcmp(J, G, sizeof J) == 0);
            CHECK_FAILS(&ctx, gpu.project(gpu.state, TTP_PROJ_KRON, 1, J, 2, 3, 3, G, &ctx), TTP_ERR_ARG,
                        "not dense");
        }
        CHECK_FAILS(&ctx, ttp_gpu_proj_set_tiles(&ctx, &cpu, 1, 1), TTP_ERR_ARG, "not an open cuda");
    }
    ttp_proj_backend_close(&gpu);
    ttp_proj_backend_close(&cpu);

    check_gram_gpu(&ctx);
    return ttp_test_end("test_gpu_proj");
}
