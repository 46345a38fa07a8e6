/*
 * gnet_cuda.cu — the device's primitives for the Jacobian stage (gnet_impl.h):
 * one CUDA kernel that runs any elementwise op of gnet_ew.h with one thread
 * per element (the same inline functions the CPU twin loops over), cuBLAS
 * DGEMM (strided-batched) and DSYRK, all on one stream of the chosen device.
 * Every runtime and cuBLAS call is checked, and every launch is followed by
 * TTP_CUDA_LAUNCH; messages name the device and what was being done.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gnet_impl.h"
#include "ttp_cuda.h"
#include "ttp_gpu.h"

typedef struct {
    int device;
    cudaStream_t stream; /* compute: kernels, cuBLAS, synchronous copies */
    cudaStream_t copy;   /* the next block's inputs, while one computes   */
    cublasHandle_t blas;
    double *pinned[2]; /* page-locked staging of the two input slots */
    size_t pcap[2];
    cudaEvent_t copied[2], consumed[2];
} cuda_state;

/*
 * One thread per element of any op of gnet_ew.h.  The kernel is instantiated
 * once per op with the op fixed at compile time, so that each instance keeps
 * only its own case of gnet_ew_apply (fewer registers); the body is the very
 * function the CPU twin loops over.
 */
template <int OP> __global__ void gnet_ew_kernel(gnet_ew e)
{
    e.op = OP;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < e.n_el;
         i += (int64_t)gridDim.x * blockDim.x)
        gnet_ew_apply(&e, i);
}

typedef void (*gnet_ew_kernel_fn)(gnet_ew);

static gnet_ew_kernel_fn ew_kernel_for(int op)
{
#define GNET_EW_CASE(o)                                                                                      \
    case o: return gnet_ew_kernel<o>
    switch (op) {
        GNET_EW_CASE(GNET_EW_ZERO);
        GNET_EW_CASE(GNET_EW_COPY);
        GNET_EW_CASE(GNET_EW_ADD2);
        GNET_EW_CASE(GNET_EW_ACC);
        GNET_EW_CASE(GNET_EW_ACT_FWD);
        GNET_EW_CASE(GNET_EW_ACT_BWD);
        GNET_EW_CASE(GNET_EW_DENSE_BIAS);
        GNET_EW_CASE(GNET_EW_CONV_OUT);
        GNET_EW_CASE(GNET_EW_IM2COL);
        GNET_EW_CASE(GNET_EW_COL2IM);
        GNET_EW_CASE(GNET_EW_TRANSPOSE);
        GNET_EW_CASE(GNET_EW_BN_FWD);
        GNET_EW_CASE(GNET_EW_BN_BWD);
        GNET_EW_CASE(GNET_EW_BN_GRAD);
        GNET_EW_CASE(GNET_EW_POOL_FWD);
        GNET_EW_CASE(GNET_EW_POOL_BWD);
        GNET_EW_CASE(GNET_EW_GAP_FWD);
        GNET_EW_CASE(GNET_EW_GAP_BWD);
        GNET_EW_CASE(GNET_EW_OUTER);
        GNET_EW_CASE(GNET_EW_ROWSUM);
        GNET_EW_CASE(GNET_EW_DOT);
        GNET_EW_CASE(GNET_EW_REPL);
        GNET_EW_CASE(GNET_EW_PROJ_GEN);
        GNET_EW_CASE(GNET_EW_IDENTITY_ROWS);
    default: return NULL;
    }
#undef GNET_EW_CASE
}

static void cu_close(void *p)
{
    cuda_state *s = (cuda_state *)p;
    if (!s) return;
    if (s->blas) cublasDestroy(s->blas);
    if (s->stream) cudaStreamSynchronize(s->stream);
    if (s->copy) cudaStreamSynchronize(s->copy);
    for (int i = 0; i < 2; i++) {
        if (s->pinned[i]) cudaFreeHost(s->pinned[i]);
        if (s->copied[i]) cudaEventDestroy(s->copied[i]);
        if (s->consumed[i]) cudaEventDestroy(s->consumed[i]);
    }
    if (s->stream) cudaStreamDestroy(s->stream);
    if (s->copy) cudaStreamDestroy(s->copy);
    free(s);
}

static ttp_status cu_open(ttp_ctx *ctx, int device, void **out)
{
    ttp_status st = TTP_OK;
    cuda_state *s = NULL;
    char why[256];
    int n = ttp_gpu_device_count(why, sizeof why);
    *out = NULL;
    if (n == 0) return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "backend 'cuda' requested, but %s", why);
    if (device >= n)
        return TTP_ERR(
            ctx, TTP_ERR_UNSUPPORTED,
            "backend 'cuda': this rank is number %d on its node, but the node has %d CUDA device%s; "
            "run at most %d rank%s per node (one device each)",
            device, n, n == 1 ? "" : "s", n, n == 1 ? "" : "s");
    s = (cuda_state *)calloc(1, sizeof *s);
    if (!s) return TTP_ERR(ctx, TTP_ERR_NOMEM, "CUDA backend state");
    if (device < 0) {
        TTP_CALL_GOTO(ctx, st, fail, ttp_cuda_select_device(ctx, &s->device));
    } else {
        s->device = device;
        TTP_CUDA(ctx, st, fail, cudaSetDevice(device), "cudaSetDevice(%d) of %d devices", device, n);
    }
    TTP_CUDA(ctx, st, fail, cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking),
             "cudaStreamCreate on device %d", s->device);
    TTP_CUDA(ctx, st, fail, cudaStreamCreateWithFlags(&s->copy, cudaStreamNonBlocking),
             "cudaStreamCreate (copies) on device %d", s->device);
    for (int i = 0; i < 2; i++) {
        TTP_CUDA(ctx, st, fail, cudaEventCreateWithFlags(&s->copied[i], cudaEventDisableTiming),
                 "cudaEventCreate on device %d", s->device);
        TTP_CUDA(ctx, st, fail, cudaEventCreateWithFlags(&s->consumed[i], cudaEventDisableTiming),
                 "cudaEventCreate on device %d", s->device);
    }
    TTP_CUBLAS(ctx, st, fail, cublasCreate(&s->blas), "cublasCreate on device %d", s->device);
    TTP_CUBLAS(ctx, st, fail, cublasSetStream(s->blas, s->stream), "cublasSetStream on device %d", s->device);
    *out = s;
    return TTP_OK;
fail:
    cu_close(s);
    return st;
}

static ttp_status cu_alloc(void *p, ttp_ctx *ctx, double **ptr, int64_t n, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
    *ptr = NULL;
    TTP_CUDA(ctx, st, done, cudaMalloc((void **)ptr, bytes), "cudaMalloc of %.1f MiB for %s on device %d",
             (double)bytes / 1048576.0, what, s->device);
    TTP_CUDA(ctx, st, done, cudaMemsetAsync(*ptr, 0, bytes, s->stream), "cudaMemsetAsync of %s on device %d",
             what, s->device);
    /* complete before any stream uses the buffer (inputs arrive on the copy stream) */
    TTP_CUDA(ctx, st, done, cudaStreamSynchronize(s->stream), "clear %s on device %d", what, s->device);
done:
    return st;
}

static void cu_release(void *p, double *ptr)
{
    (void)p;
    if (ptr) cudaFree(ptr);
}

static ttp_status cu_put(void *p, ttp_ctx *ctx, double *dst, const double *src, int64_t n, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    if (n <= 0) return TTP_OK;
    TTP_CUDA(ctx, st, done,
             cudaMemcpyAsync(dst, src, (size_t)n * sizeof(double), cudaMemcpyHostToDevice, s->stream),
             "copy %s (%lld doubles) to device %d", what, (long long)n, s->device);
    /* src is the caller's pageable memory: it may change once we return */
    TTP_CUDA(ctx, st, done, cudaStreamSynchronize(s->stream), "copy %s to device %d", what, s->device);
done:
    return st;
}

static ttp_status cu_get(void *p, ttp_ctx *ctx, double *dst, const double *src, int64_t n, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    if (n <= 0) return TTP_OK;
    TTP_CUDA(ctx, st, done,
             cudaMemcpyAsync(dst, src, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, s->stream),
             "copy %s (%lld doubles) from device %d", what, (long long)n, s->device);
    TTP_CUDA(ctx, st, done, cudaStreamSynchronize(s->stream), "wait for %s from device %d", what, s->device);
done:
    return st;
}

static ttp_status cu_put_async(void *p, ttp_ctx *ctx, int slot, double *dst, const double *src, int64_t n,
                               const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    const size_t bytes = (size_t)n * sizeof(double);
    if (n <= 0) return TTP_OK;
    /* the staging buffer is free once its previous copy has completed */
    TTP_CUDA(ctx, st, done, cudaEventSynchronize(s->copied[slot]), "wait for input slot %d on device %d",
             slot, s->device);
    if (s->pcap[slot] < bytes) {
        if (s->pinned[slot]) cudaFreeHost(s->pinned[slot]);
        s->pinned[slot] = NULL;
        s->pcap[slot] = 0;
        TTP_CUDA(ctx, st, done, cudaMallocHost((void **)&s->pinned[slot], bytes),
                 "cudaMallocHost of %.1f MiB (page-locked staging of %s)", (double)bytes / 1048576.0, what);
        s->pcap[slot] = bytes;
    }
    memcpy(s->pinned[slot], src, bytes);
    TTP_CUDA(ctx, st, done, cudaStreamWaitEvent(s->copy, s->consumed[slot], 0),
             "order the copy of %s after its readers on device %d", what, s->device);
    TTP_CUDA(ctx, st, done, cudaMemcpyAsync(dst, s->pinned[slot], bytes, cudaMemcpyHostToDevice, s->copy),
             "copy %s (%lld doubles) to device %d", what, (long long)n, s->device);
    TTP_CUDA(ctx, st, done, cudaEventRecord(s->copied[slot], s->copy), "cudaEventRecord on device %d",
             s->device);
done:
    return st;
}

static ttp_status cu_wait_put(void *p, ttp_ctx *ctx, int slot)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    TTP_CUDA(ctx, st, done, cudaStreamWaitEvent(s->stream, s->copied[slot], 0),
             "wait for input slot %d on device %d", slot, s->device);
done:
    return st;
}

static ttp_status cu_release_put(void *p, ttp_ctx *ctx, int slot)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    TTP_CUDA(ctx, st, done, cudaEventRecord(s->consumed[slot], s->stream),
             "release input slot %d on device %d", slot, s->device);
done:
    return st;
}

static ttp_status cu_ew(void *p, ttp_ctx *ctx, const gnet_ew *e, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    if (e->n_el <= 0) return TTP_OK;
    const int threads = 256;
    int64_t blocks = (e->n_el + threads - 1) / threads;
    if (blocks > (int64_t)1 << 20) blocks = (int64_t)1 << 20; /* grid-stride beyond */
    gnet_ew_kernel_fn k = ew_kernel_for(e->op);
    if (!k) return TTP_ERR(ctx, TTP_ERR_INTERNAL, "elementwise op %d (%s) has no device kernel", e->op, what);
    k<<<(unsigned)blocks, threads, 0, s->stream>>>(*e);
    TTP_CUDA_LAUNCH(ctx, st, done, "launch of the elementwise kernel (op %d, %s, %lld elements) on device %d",
                    e->op, what, (long long)e->n_el, s->device);
done:
    return st;
}

static int fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

static ttp_status cu_gemm(void *p, ttp_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K,
                          double alpha, const double *A, int64_t lda, int64_t sA, const double *B,
                          int64_t ldb, int64_t sB, double beta, double *C, int64_t ldc, int64_t sC,
                          int64_t batch, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    if (M == 0 || N == 0 || batch == 0) return TTP_OK;
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(lda) || !fits_int(ldb) || !fits_int(ldc) ||
        !fits_int(batch))
        return TTP_ERR(ctx, TTP_ERR_ARG, "%s: GEMM sizes %lld × %lld × %lld exceed cuBLAS's 32-bit sizes",
                       what, (long long)M, (long long)N, (long long)K);
    /* row-major C = op(A) op(B)  <=>  column-major Cᵀ = op(B)ᵀ op(A)ᵀ */
    const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1) {
        TTP_CUBLAS(ctx, st, done,
                   cublasDgemm(s->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda,
                               &beta, C, (int)ldc),
                   "cublasDgemm for %s (%lld × %lld × %lld) on device %d", what, (long long)M, (long long)N,
                   (long long)K, s->device);
    } else {
        TTP_CUBLAS(ctx, st, done,
                   cublasDgemmStridedBatched(s->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, sB,
                                             A, (int)lda, sA, &beta, C, (int)ldc, sC, (int)batch),
                   "cublasDgemmStridedBatched for %s (%lld × %lld × %lld, batch %lld) on device %d", what,
                   (long long)M, (long long)N, (long long)K, (long long)batch, s->device);
    }
done:
    return st;
}

static ttp_status cu_syrk(void *p, ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, int64_t ldg,
                          double *Cg, const char *what)
{
    ttp_status st = TTP_OK;
    cuda_state *s = (cuda_state *)p;
    const double one = 1.0;
    if (rows == 0) return TTP_OK;
    if (!fits_int(rows) || !fits_int(cols) || !fits_int(ldg))
        return TTP_ERR(ctx, TTP_ERR_ARG, "%s: %lld × %lld exceeds cuBLAS's 32-bit sizes", what,
                       (long long)rows, (long long)cols);
    /* G row-major is Gᵀ column-major: Gᵀ G = A Aᵀ; column-major lower = row-major upper */
    TTP_CUBLAS(ctx, st, done,
               cublasDsyrk(s->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, (int)cols, (int)rows, &one, G,
                           (int)ldg, &one, Cg, (int)cols),
               "cublasDsyrk for %s (n %lld, k %lld) on device %d", what, (long long)cols, (long long)rows,
               s->device);
done:
    return st;
}

static const gnet_ops cuda_ops = {.name = "cuda",
                                  .open = cu_open,
                                  .close = cu_close,
                                  .alloc = cu_alloc,
                                  .release = cu_release,
                                  .put = cu_put,
                                  .get = cu_get,
                                  .put_async = cu_put_async,
                                  .wait_put = cu_wait_put,
                                  .release_put = cu_release_put,
                                  .ew = cu_ew,
                                  .gemm = cu_gemm,
                                  .syrk = cu_syrk};

const gnet_ops *ttp_gnet_cuda_ops(char *why, size_t len)
{
    if (why && len) why[0] = '\0';
    return &cuda_ops;
}

/* ---- measurements for benchmarks/gpu_check.sh (ttp_gpu.h) --------------------- */

/* Seconds of the best of `reps` runs of body(i), timed with events on s->stream. */
#define BENCH_BEST(ctx, st, label, s, reps, best, body)                                                      \
    do {                                                                                                     \
        for (int rep_ = 0; rep_ <= (reps); rep_++) { /* run 0 warms up */                                    \
            float ms_ = 0.0f;                                                                                \
            TTP_CUDA(ctx, st, label, cudaEventRecord(e0, (s)->stream), "cudaEventRecord");                   \
            body;                                                                                            \
            TTP_CUDA(ctx, st, label, cudaEventRecord(e1, (s)->stream), "cudaEventRecord");                   \
            TTP_CUDA(ctx, st, label, cudaEventSynchronize(e1), "benchmark run on device %d", (s)->device);   \
            TTP_CUDA(ctx, st, label, cudaEventElapsedTime(&ms_, e0, e1), "cudaEventElapsedTime");            \
            if (rep_ > 0 && (best < 0 || ms_ * 1e-3 < best)) best = ms_ * 1e-3;                              \
        }                                                                                                    \
    } while (0)

ttp_status ttp_gpu_bench(ttp_ctx *ctx, ttp_gpu_bench_kind kind, int64_t a, int64_t b, int64_t c, int reps,
                         double *seconds)
{
    ttp_status st = TTP_OK;
    cuda_state *s = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    double *A = NULL, *B = NULL, *C = NULL, best = -1.0;
    void *vs = NULL;
    *seconds = 0.0;
    TTP_CALL(ctx, cu_open(ctx, -1, &vs));
    s = (cuda_state *)vs;
    TTP_CUDA(ctx, st, done, cudaEventCreate(&e0), "cudaEventCreate");
    TTP_CUDA(ctx, st, done, cudaEventCreate(&e1), "cudaEventCreate");
    switch (kind) {
    case TTP_GPU_BENCH_DGEMM: /* C (a × b) = A (a × c) B (c × b) */
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &A, a * c, "benchmark A"));
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &B, c * b, "benchmark B"));
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &C, a * b, "benchmark C"));
        BENCH_BEST(
            ctx, st, done, s, reps, best,
            TTP_CALL_GOTO(ctx, st, done,
                          cu_gemm(s, ctx, 0, 0, a, b, c, 1.0, A, c, 0, B, b, 0, 0.0, C, b, 0, 1, "DGEMM")));
        break;
    case TTP_GPU_BENCH_COPY: /* a doubles, device to device */
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &A, a, "benchmark source"));
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &B, a, "benchmark destination"));
        BENCH_BEST(
            ctx, st, done, s, reps, best,
            TTP_CUDA(ctx, st, done,
                     cudaMemcpyAsync(B, A, (size_t)a * sizeof(double), cudaMemcpyDeviceToDevice, s->stream),
                     "device copy of %lld doubles", (long long)a));
        break;
    case TTP_GPU_BENCH_PROJ_GEN: { /* the Rademacher P, a × b entries, as the stage generates it */
        gnet_ew e;
        memset(&e, 0, sizeof e);
        e.op = GNET_EW_PROJ_GEN, e.n_el = a * b, e.kind = 1, e.key = 7, e.m = b, e.dproj = b;
        e.scale = 1.0 / sqrt((double)b);
        TTP_CALL_GOTO(ctx, st, done, cu_alloc(s, ctx, &A, a * b, "benchmark P"));
        e.out = A;
        BENCH_BEST(ctx, st, done, s, reps, best,
                   TTP_CALL_GOTO(ctx, st, done, cu_ew(s, ctx, &e, "generate P")));
        break;
    }
    default: st = TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_bench: unknown measurement %d", (int)kind); goto done;
    }
    *seconds = best;
done:
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    cudaFree(A), cudaFree(B), cudaFree(C);
    cu_close(s);
    return st;
}
