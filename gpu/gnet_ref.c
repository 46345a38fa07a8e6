/*
 * gnet_ref.c — the CPU twin of the device network's primitives (gnet_impl.h):
 * host memory, plain loops over the per-element functions of gnet_ew.h (the
 * very functions the CUDA kernels call), a triple-loop GEMM and SYRK.  Slow
 * on purpose: it is the reference that the device is compared against, and
 * it shares no BLAS with the engine it is itself compared against.
 */
#include <stdlib.h>
#include <string.h>

#include "gnet_impl.h"

static ttp_status ref_open(ttp_ctx *ctx, int device, void **st)
{
    (void)ctx, (void)device;
    *st = NULL;
    return TTP_OK;
}

static void ref_close(void *st)
{
    (void)st;
}

static ttp_status ref_alloc(void *st, ttp_ctx *ctx, double **p, int64_t n, const char *what)
{
    ttp_status s = TTP_OK;
    (void)st;
    *p = NULL;
    TTP_ALLOC(ctx, s, done, *p, n > 0 ? n : 1, what);
done:
    return s;
}

static void ref_release(void *st, double *p)
{
    (void)st;
    free(p);
}

static ttp_status ref_copy(void *st, ttp_ctx *ctx, double *dst, const double *src, int64_t n,
                           const char *what)
{
    (void)st, (void)ctx, (void)what;
    if (n > 0) memmove(dst, src, (size_t)n * sizeof *dst);
    return TTP_OK;
}

static ttp_status ref_put_async(void *st, ttp_ctx *ctx, int slot, double *dst, const double *src, int64_t n,
                                const char *what)
{
    (void)slot;
    return ref_copy(st, ctx, dst, src, n, what);
}

static ttp_status ref_slot(void *st, ttp_ctx *ctx, int slot)
{
    (void)st, (void)ctx, (void)slot;
    return TTP_OK;
}

static ttp_status ref_ew(void *st, ttp_ctx *ctx, const gnet_ew *e, const char *what)
{
    (void)st, (void)ctx, (void)what;
    for (int64_t i = 0; i < e->n_el; i++) gnet_ew_apply(e, i);
    return TTP_OK;
}

static ttp_status ref_gemm(void *st, ttp_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K,
                           double alpha, const double *A, int64_t lda, int64_t sA, const double *B,
                           int64_t ldb, int64_t sB, double beta, double *C, int64_t ldc, int64_t sC,
                           int64_t batch, const char *what)
{
    (void)st, (void)ctx, (void)what;
    for (int64_t b = 0; b < batch; b++) {
        const double *Ab = A + b * sA, *Bb = B + b * sB;
        double *Cb = C + b * sC;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0.0;
                for (int64_t k = 0; k < K; k++)
                    s += (ta ? Ab[k * lda + i] : Ab[i * lda + k]) * (tb ? Bb[j * ldb + k] : Bb[k * ldb + j]);
                Cb[i * ldc + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * Cb[i * ldc + j]);
            }
    }
    return TTP_OK;
}

static ttp_status ref_syrk(void *st, ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, int64_t ldg,
                           double *Cg, const char *what)
{
    (void)st, (void)ctx, (void)what;
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = i; j < cols; j++) {
            double s = 0.0;
            for (int64_t r = 0; r < rows; r++) s += G[r * ldg + i] * G[r * ldg + j];
            Cg[i * cols + j] += s;
        }
    return TTP_OK;
}

const gnet_ops ttp_gnet_ref_ops = {.name = "ref",
                                   .open = ref_open,
                                   .close = ref_close,
                                   .alloc = ref_alloc,
                                   .release = ref_release,
                                   .put = ref_copy,
                                   .get = ref_copy,
                                   .put_async = ref_put_async,
                                   .wait_put = ref_slot,
                                   .release_put = ref_slot,
                                   .ew = ref_ew,
                                   .gemm = ref_gemm,
                                   .syrk = ref_syrk};
