/*
 * proj.cu — the CUDA projection backend: G = J P for a block of Jacobian
 * rows, with the dense projection P generated on the device and applied with
 * cuBLAS DGEMM.  The CPU reference is ttp_proj_cpu (src/engine/proj.c); both
 * evaluate the same entry definition (src/engine/ttp_proj.h) with the same inline
 * generator (src/core/ttp_rng.h), so they use the same P and differ only in the
 * DGEMM summation order (tests/test_gpu_proj.c checks both).
 *
 * Layout.  cuBLAS is column-major; J (rows × d, row-major) is Jᵀ (d × rows,
 * ld d) to it and G (rows × D′, row-major) is Gᵀ (D′ × rows, ld D′).  So we
 * compute Gᵀ = Pᵀ Jᵀ, tile by tile: a tile of P covers rows [k0, k0+nk) of D
 * and columns [c0, c0+nc) of D′, stored column-major nk × nc (ld nk, k
 * fastest, so the generator's writes coalesce), and
 *     Gᵀ[c0:c0+nc, :] (+)= P[k0:k0+nk, c0:c0+nc]ᵀ · Jᵀ[k0:k0+nk, :]
 * is one cublasDgemm(OP_T, OP_N, nc, rows, nk) with β = 0 on the first k-tile.
 *
 * Cost model (per project() call; H200 rates are vendor/lead figures, not
 * measured here):
 *   generation  d·D′ entries.  Rademacher: one hash = 3 splitmix64 rounds,
 *               about 9 64-bit multiplies (emulated with 32-bit IMADs), so
 *               integer-bound, roughly 1e11 entries/s.  Gaussian: two hashes
 *               plus FP64 log, cos, sqrt: a few times slower.  Skipped when
 *               the whole P fits one tile (budget below) and the call repeats
 *               (kind, key, d, D′): P then stays on the device across calls.
 *   DGEMM       2·rows·d·D′ flops at the FP64 tensor-core rate (≈ 60 TFLOP/s).
 *               Generation and DGEMM break even near rows ≈ 200–600, so pass
 *               blocks of ≥ 1000 rows when P does not stay resident.
 *   transfers   rows·d·8 bytes in, rows·D′·8 bytes out, from pageable host
 *               memory (≈ 10–25 GB/s).  DGEMM does 2·D′ flops per byte of J
 *               moved, so for D′ below ~10⁴ the call is bound by copying J,
 *               not by arithmetic.
 * Tiles of P are double-buffered: the generator fills one on its own stream
 * while DGEMM reads the other, and the first tile's generation overlaps the
 * copy of J.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_cuda.h"
#include "ttp_gpu.h"
#include "ttp_backend.h"
#include "ttp_rng.h"

/* Widest tile of D′ when P must be split; a multiple of the DGEMM blocking. */
#define PROJ_TILE_COLS 2048
/* Device memory for P tiles: a quarter of what is free, at most 16 GiB, at
 * least 16 MiB (doubles). */
#define PROJ_BUDGET_MAX ((size_t)16 << 27)
#define PROJ_BUDGET_MIN ((size_t)16 << 17)

typedef struct {
    int device;
    cublasHandle_t blas;
    cudaStream_t s_gemm, s_gen;            /* DGEMM + copies; P generation     */
    cudaEvent_t gen_done[2], gemm_done[2]; /* per P buffer                     */
    double *dJ, *dG, *dP[2];
    size_t cap_J, cap_G, cap_P[2]; /* doubles held                            */
    size_t budget;                 /* doubles for P tiles, both buffers       */
    int64_t max_k, max_cols;       /* tile caps from ttp_gpu_proj_set_tiles  */
    /* P resident in dP[0] from an earlier single-tile call. */
    int cached;
    ttp_proj_kind cache_kind;
    uint64_t cache_key;
    int64_t cache_d, cache_dproj;
} gpu_proj_state;

/* 1/√D′: computed on the host exactly as the CPU reference does, passed in. */
static double proj_scale(int64_t dproj)
{
    return 1.0 / sqrt((double)dproj);
}

/* One entry of P: the definition in ttp_proj.h, term for term as in
 * ttp_proj_entry (src/engine/proj.c), so that both sides round alike. */
__device__ __forceinline__ double proj_entry_dev(int kind, uint64_t key, int64_t k, int64_t j, int64_t dproj,
                                                 double scale)
{
    uint64_t c = (uint64_t)k * (uint64_t)dproj + (uint64_t)j;
    if (kind == TTP_PROJ_RADEMACHER) return (ttp_rng_hash(key, c) & 1u) ? -scale : scale;
    double u1 = ttp_rng_hash_uniform(key, 2 * c);
    double u2 = ttp_rng_hash_uniform(key, 2 * c + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * scale;
}

/*
 * out[kk·sk + jj·sj] = P[k0+kk, j0+jj] for kk < nk, jj < nj.
 * Threads run along k (x) and j (y); grid-stride in both, so any grid works.
 */
__global__ void proj_gen_kernel(double *out, int64_t sk, int64_t sj, int kind, uint64_t key, int64_t k0,
                                int64_t nk, int64_t j0, int64_t nj, int64_t dproj, double scale)
{
    for (int64_t jj = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; jj < nj;
         jj += (int64_t)gridDim.y * blockDim.y)
        for (int64_t kk = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; kk < nk;
             kk += (int64_t)gridDim.x * blockDim.x)
            out[kk * sk + jj * sj] = proj_entry_dev(kind, key, k0 + kk, j0 + jj, dproj, scale);
}

/* Enqueue the generator for an nk × nj block on `stream` and check the launch. */
static ttp_status proj_gen_launch(ttp_ctx *ctx, cudaStream_t stream, double *out, int64_t sk, int64_t sj,
                                  ttp_proj_kind kind, uint64_t key, int64_t k0, int64_t nk, int64_t j0,
                                  int64_t nj, int64_t dproj)
{
    ttp_status st = TTP_OK;
    unsigned bx = 0, by = 0;
    int64_t gx = 0, gy = 0;

    if (nk <= 0 || nj <= 0) return TTP_OK;
    /* 256 threads; when nk is small, fewer along k and more along j, so that
     * few threads idle on short tiles (tiny d). */
    bx = nk >= 256 ? 256u : (unsigned)(((nk + 31) / 32) * 32);
    by = 256u / bx;
    gx = (nk + bx - 1) / bx;
    gy = (nj + by - 1) / by;
    if (gx > 4096) gx = 4096;
    if (gy > 65535) gy = 65535;
    proj_gen_kernel<<<dim3((unsigned)gx, (unsigned)gy), dim3(bx, by), 0, stream>>>(
        out, sk, sj, (int)kind, key, k0, nk, j0, nj, dproj, proj_scale(dproj));
    TTP_CUDA_LAUNCH(ctx, st, done, "proj_gen_kernel(%s, rows %lld..%lld, cols %lld..%lld)",
                    ttp_proj_kind_str(kind), (long long)k0, (long long)(k0 + nk), (long long)j0,
                    (long long)(j0 + nj));
done:
    return st;
}

static ttp_status check_dense_kind(ttp_ctx *ctx, ttp_proj_kind kind, const char *who)
{
    if (kind == TTP_PROJ_RADEMACHER || kind == TTP_PROJ_GAUSSIAN) return TTP_OK;
    return TTP_ERR(ctx, TTP_ERR_ARG,
                   "%s: projection kind %d (%s) is not dense; expected rademacher or gaussian", who,
                   (int)kind, (int)kind >= 0 && kind < TTP_PROJ_KIND_COUNT ? ttp_proj_kind_str(kind) : "?");
}

static void gpu_proj_destroy(void *state)
{
    gpu_proj_state *s = (gpu_proj_state *)state;
    if (!s) return;
    /* Errors are ignored here: destroy runs on cleanup paths too, after a
     * failure has already been reported. */
    cudaSetDevice(s->device);
    if (s->s_gemm) cudaStreamSynchronize(s->s_gemm);
    if (s->s_gen) cudaStreamSynchronize(s->s_gen);
    cudaFree(s->dJ);
    cudaFree(s->dG);
    for (int b = 0; b < 2; b++) {
        cudaFree(s->dP[b]);
        if (s->gen_done[b]) cudaEventDestroy(s->gen_done[b]);
        if (s->gemm_done[b]) cudaEventDestroy(s->gemm_done[b]);
    }
    if (s->blas) cublasDestroy(s->blas);
    if (s->s_gemm) cudaStreamDestroy(s->s_gemm);
    if (s->s_gen) cudaStreamDestroy(s->s_gen);
    (void)cudaGetLastError();
    free(s);
}

/* Tile shape (kt rows of D × tc columns of D′) for a d × D′ projection. */
static void plan_tiles(const gpu_proj_state *s, int64_t d, int64_t dproj, int64_t *kt, int64_t *tc)
{
    int64_t k = d, c = dproj;
    if ((uint64_t)d * (uint64_t)dproj > s->budget) {
        /* Two buffers share the budget once P is split. */
        c = dproj < PROJ_TILE_COLS ? dproj : PROJ_TILE_COLS;
        k = (int64_t)(s->budget / 2 / (size_t)c);
        if (k > d) k = d;
        if (k < 1) k = 1;
    }
    if (s->max_cols > 0 && c > s->max_cols) c = s->max_cols;
    if (s->max_k > 0 && k > s->max_k) k = s->max_k;
    *kt = k;
    *tc = c;
}

/* Generate tile t of the plan into buffer t % 2 on the generator stream,
 * after the DGEMM that last read that buffer. */
static ttp_status issue_gen(ttp_ctx *ctx, gpu_proj_state *s, int64_t t, int64_t nkt, int64_t kt, int64_t tc,
                            ttp_proj_kind kind, uint64_t key, int64_t d, int64_t dproj)
{
    ttp_status st = TTP_OK;
    int b = (int)(t % 2);
    int64_t k0 = (t % nkt) * kt, c0 = (t / nkt) * tc;
    int64_t nk = d - k0 < kt ? d - k0 : kt, nc = dproj - c0 < tc ? dproj - c0 : tc;

    if (t >= 2)
        TTP_CUDA(ctx, st, done, cudaStreamWaitEvent(s->s_gen, s->gemm_done[b], 0),
                 "generator waits for DGEMM of tile %lld", (long long)(t - 2));
    TTP_CALL_GOTO(ctx, st, done,
                  proj_gen_launch(ctx, s->s_gen, s->dP[b], 1, nk, kind, key, k0, nk, c0, nc, dproj));
    TTP_CUDA(ctx, st, done, cudaEventRecord(s->gen_done[b], s->s_gen), "record generation of tile %lld",
             (long long)t);
done:
    return st;
}

static ttp_status gpu_project(void *state, ttp_proj_kind kind, uint64_t key, const double *J, int64_t rows,
                              int64_t d, int64_t dproj, double *G, ttp_ctx *ctx)
{
    gpu_proj_state *s = (gpu_proj_state *)state;
    ttp_status st = TTP_OK;
    const double one = 1.0, zero = 0.0;
    int64_t kt = 0, tc = 0, nkt = 0, ntc = 0, ntiles = 0, t = 0;
    int reuse = 0, nbuf = 1;

    if (!s) return TTP_ERR(ctx, TTP_ERR_ARG, "cuda projection: backend state is NULL (not open?)");
    if (rows < 0 || d < 1 || dproj < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cuda projection: rows %lld, d %lld, D' %lld; expected rows >= 0, "
                       "d >= 1, D' >= 1",
                       (long long)rows, (long long)d, (long long)dproj);
    if (rows == 0) return TTP_OK;
    if (!J || !G) return TTP_ERR(ctx, TTP_ERR_ARG, "cuda projection: J or G is NULL");
    if (kind == TTP_PROJ_EXACT) {
        /* G = J: nothing for the device to do. */
        if (dproj != d)
            return TTP_ERR(ctx, TTP_ERR_ARG, "cuda projection: kind exact needs D' = d, got D' %lld, d %lld",
                           (long long)dproj, (long long)d);
        memcpy(G, J, (size_t)rows * (size_t)d * sizeof(double));
        return TTP_OK;
    }
    TTP_CALL(ctx, check_dense_kind(ctx, kind, "cuda projection"));
    if (rows > INT_MAX || d > INT_MAX || dproj > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cuda projection: rows %lld, d %lld, D' %lld exceed cuBLAS's 32-bit "
                       "sizes; pass smaller row blocks",
                       (long long)rows, (long long)d, (long long)dproj);

    TTP_CUDA(ctx, st, fail, cudaSetDevice(s->device), "cudaSetDevice(%d)", s->device);
    plan_tiles(s, d, dproj, &kt, &tc);
    nkt = (d + kt - 1) / kt;
    ntc = (dproj + tc - 1) / tc;
    ntiles = nkt * ntc;
    nbuf = ntiles > 1 ? 2 : 1;
    reuse = ntiles == 1 && s->cached && s->cache_kind == kind && s->cache_key == key && s->cache_d == d &&
            s->cache_dproj == dproj;
    if (!reuse) s->cached = 0; /* dP[0] is about to be overwritten */

    TTP_CALL_GOTO(ctx, st, fail, ttp_cuda_reserve(ctx, &s->dJ, &s->cap_J, (size_t)rows * (size_t)d, "J"));
    TTP_CALL_GOTO(ctx, st, fail, ttp_cuda_reserve(ctx, &s->dG, &s->cap_G, (size_t)rows * (size_t)dproj, "G"));
    for (int b = 0; b < nbuf; b++)
        TTP_CALL_GOTO(ctx, st, fail,
                      ttp_cuda_reserve(ctx, &s->dP[b], &s->cap_P[b], (size_t)kt * (size_t)tc, "a tile of P"));

    /* Tile 0's generation goes first, so that it runs while J is copied. */
    if (!reuse) TTP_CALL_GOTO(ctx, st, fail, issue_gen(ctx, s, 0, nkt, kt, tc, kind, key, d, dproj));
    TTP_CUDA(ctx, st, fail,
             cudaMemcpyAsync(s->dJ, J, (size_t)rows * (size_t)d * sizeof(double), cudaMemcpyHostToDevice,
                             s->s_gemm),
             "copy J (%lld × %lld) to the device", (long long)rows, (long long)d);

    for (t = 0; t < ntiles; t++) {
        int b = (int)(t % 2);
        int64_t ki = t % nkt, k0 = ki * kt, c0 = (t / nkt) * tc;
        int64_t nk = d - k0 < kt ? d - k0 : kt, nc = dproj - c0 < tc ? dproj - c0 : tc;
        if (t + 1 < ntiles)
            TTP_CALL_GOTO(ctx, st, fail, issue_gen(ctx, s, t + 1, nkt, kt, tc, kind, key, d, dproj));
        if (!reuse)
            TTP_CUDA(ctx, st, fail, cudaStreamWaitEvent(s->s_gemm, s->gen_done[b], 0),
                     "DGEMM waits for generation of tile %lld", (long long)t);
        /* Gᵀ[c0:c0+nc, :] (+)= (P tile, nk × nc)ᵀ · Jᵀ[k0:k0+nk, :] */
        TTP_CUBLAS(ctx, st, fail,
                   cublasDgemm(s->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)nc, (int)rows, (int)nk, &one, s->dP[b],
                               (int)nk, s->dJ + k0, (int)d, ki == 0 ? &zero : &one, s->dG + c0, (int)dproj),
                   "cublasDgemm for G tile (cols %lld..%lld, k %lld..%lld, rows %lld)", (long long)c0,
                   (long long)(c0 + nc), (long long)k0, (long long)(k0 + nk), (long long)rows);
        TTP_CUDA(ctx, st, fail, cudaEventRecord(s->gemm_done[b], s->s_gemm), "record DGEMM of tile %lld",
                 (long long)t);
    }

    TTP_CUDA(ctx, st, fail,
             cudaMemcpyAsync(G, s->dG, (size_t)rows * (size_t)dproj * sizeof(double), cudaMemcpyDeviceToHost,
                             s->s_gemm),
             "copy G (%lld × %lld) back to the host", (long long)rows, (long long)dproj);
    TTP_CUDA(ctx, st, fail, cudaStreamSynchronize(s->s_gemm),
             "finish projection of %lld rows (d %lld, D' %lld, %lld tiles)", (long long)rows, (long long)d,
             (long long)dproj, (long long)ntiles);
    if (ntiles == 1) {
        s->cached = 1;
        s->cache_kind = kind;
        s->cache_key = key;
        s->cache_d = d;
        s->cache_dproj = dproj;
    }
    return TTP_OK;

fail:
    /* Leave no work in flight on buffers that the next call may reuse. */
    s->cached = 0;
    cudaStreamSynchronize(s->s_gen);
    cudaStreamSynchronize(s->s_gemm);
    (void)cudaGetLastError();
    return st;
}

ttp_status ttp_gpu_proj_open(ttp_ctx *ctx, ttp_proj_backend *b)
{
    ttp_status st = TTP_OK;
    gpu_proj_state *s = NULL;
    int dev = 0;
    size_t free_b = 0, total_b = 0;

    if (!b) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_proj_open: backend pointer is NULL");
    memset(b, 0, sizeof *b);
    TTP_CALL_GOTO(ctx, st, fail, ttp_cuda_select_device(ctx, &dev));
    s = (gpu_proj_state *)ttp_calloc(ctx, 1, sizeof *s, "cuda projection state");
    if (!s) {
        st = TTP_ERR_NOMEM;
        ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
        goto fail;
    }
    s->device = dev;
    TTP_CUBLAS(ctx, st, fail, cublasCreate(&s->blas), "cublasCreate on device %d", dev);
    TTP_CUDA(ctx, st, fail, cudaStreamCreateWithFlags(&s->s_gemm, cudaStreamNonBlocking),
             "create the DGEMM stream");
    TTP_CUDA(ctx, st, fail, cudaStreamCreateWithFlags(&s->s_gen, cudaStreamNonBlocking),
             "create the generator stream");
    for (int i = 0; i < 2; i++) {
        TTP_CUDA(ctx, st, fail, cudaEventCreateWithFlags(&s->gen_done[i], cudaEventDisableTiming),
                 "create event");
        TTP_CUDA(ctx, st, fail, cudaEventCreateWithFlags(&s->gemm_done[i], cudaEventDisableTiming),
                 "create event");
    }
    TTP_CUBLAS(ctx, st, fail, cublasSetStream(s->blas, s->s_gemm), "cublasSetStream");
    TTP_CUDA(ctx, st, fail, cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo on device %d", dev);
    s->budget = free_b / 4 / sizeof(double);
    if (s->budget > PROJ_BUDGET_MAX) s->budget = PROJ_BUDGET_MAX;
    if (s->budget < PROJ_BUDGET_MIN) s->budget = PROJ_BUDGET_MIN;

    b->name = "cuda";
    b->state = s;
    b->project = gpu_project;
    b->destroy = gpu_proj_destroy;
    return TTP_OK;

fail:
    gpu_proj_destroy(s);
    return st;
}

ttp_status ttp_gpu_proj_set_tiles(ttp_ctx *ctx, ttp_proj_backend *b, int64_t max_k, int64_t max_cols)
{
    gpu_proj_state *s = NULL;
    if (!b || b->project != gpu_project || !b->state)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_proj_set_tiles: backend '%s' is not an open cuda backend",
                       b && b->name ? b->name : "(null)");
    if (max_k < 0 || max_cols < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_gpu_proj_set_tiles: caps %lld × %lld; expected >= 0 (0 = automatic)",
                       (long long)max_k, (long long)max_cols);
    s = (gpu_proj_state *)b->state;
    s->max_k = max_k;
    s->max_cols = max_cols;
    s->cached = 0; /* the resident P may no longer be a single tile */
    return TTP_OK;
}

ttp_status ttp_gpu_proj_entries(ttp_ctx *ctx, ttp_proj_kind kind, uint64_t key, int64_t k0, int64_t nk,
                                int64_t j0, int64_t nj, int64_t dproj, double *out)
{
    ttp_status st = TTP_OK;
    double *d_out = NULL;
    int dev = 0;
    size_t n = 0;

    TTP_CALL(ctx, check_dense_kind(ctx, kind, "ttp_gpu_proj_entries"));
    if (k0 < 0 || nk < 0 || j0 < 0 || nj < 0 || dproj < 1 || j0 + nj > dproj)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_gpu_proj_entries: k %lld+%lld, j %lld+%lld, D' %lld; expected "
                       "non-negative ranges with j0 + nj <= D'",
                       (long long)k0, (long long)nk, (long long)j0, (long long)nj, (long long)dproj);
    if (nk == 0 || nj == 0) return TTP_OK;
    if (!out) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_proj_entries: out is NULL");
    TTP_CALL(ctx, ttp_cuda_select_device(ctx, &dev));
    n = (size_t)nk * (size_t)nj;
    TTP_CUDA(ctx, st, done, cudaMalloc((void **)&d_out, n * sizeof(double)), "cudaMalloc of %zu entries", n);
    /* Row-major nk × nj: k strides by nj, j by 1. */
    TTP_CALL_GOTO(ctx, st, done, proj_gen_launch(ctx, 0, d_out, nj, 1, kind, key, k0, nk, j0, nj, dproj));
    TTP_CUDA(ctx, st, done, cudaMemcpy(out, d_out, n * sizeof(double), cudaMemcpyDeviceToHost),
             "copy %zu entries back", n);
done:
    cudaFree(d_out);
    return st;
}
