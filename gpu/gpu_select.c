/*
 * gpu_select.c — always compiled: the table of device backends (the
 * engine looks backends up there), and the answers for the CUDA backend when the
 * build has none, so callers need no #ifdef.  With CUDA (TTP_HAVE_CUDA == 1)
 * the same functions come from gpu/device.cu, gpu/proj.cu and gpu/gram.cu,
 * and this file defines only the table.
 */
#include "ttp_gpu.h"
#include "gnet_impl.h"

#include <string.h>

#if !TTP_HAVE_CUDA
#define TTP_NO_CUDA_WHY "this ttpredict was built without CUDA"
#define TTP_NO_CUDA_HINT "(rebuild with the CUDA toolkit and -DTTP_ENABLE_CUDA=ON)"

int ttp_gpu_device_count(char *why, size_t len)
{
    if (why && len) snprintf(why, len, TTP_NO_CUDA_WHY);
    return 0;
}

ttp_status ttp_gpu_proj_open(ttp_ctx *ctx, ttp_proj_backend *b)
{
    (void)b;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                   "backend 'cuda' requested, but " TTP_NO_CUDA_WHY " " TTP_NO_CUDA_HINT);
}

ttp_status ttp_gpu_proj_entries(ttp_ctx *ctx, ttp_proj_kind kind, uint64_t key, int64_t k0, int64_t nk,
                                int64_t j0, int64_t nj, int64_t dproj, double *out)
{
    (void)kind, (void)key, (void)k0, (void)nk, (void)j0, (void)nj, (void)dproj, (void)out;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "device projection entries requested, but " TTP_NO_CUDA_WHY);
}

ttp_status ttp_gpu_proj_set_tiles(ttp_ctx *ctx, ttp_proj_backend *b, int64_t max_k, int64_t max_cols)
{
    (void)b, (void)max_k, (void)max_cols;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "cuda tile caps requested, but " TTP_NO_CUDA_WHY);
}

ttp_status ttp_gpu_gram(ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, double *out)
{
    (void)G, (void)rows, (void)cols, (void)out;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                   "GPU Gram matrix requested, but " TTP_NO_CUDA_WHY " " TTP_NO_CUDA_HINT);
}

ttp_status ttp_gpu_bench(ttp_ctx *ctx, ttp_gpu_bench_kind kind, int64_t a, int64_t b, int64_t c, int reps,
                         double *seconds)
{
    (void)kind, (void)a, (void)b, (void)c, (void)reps;
    *seconds = 0.0;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "device benchmark requested, but " TTP_NO_CUDA_WHY);
}

const gnet_ops *ttp_gnet_cuda_ops(char *why, size_t len)
{
    if (why && len) snprintf(why, len, TTP_NO_CUDA_WHY " " TTP_NO_CUDA_HINT);
    return NULL;
}
#endif

/* The registry: always compiled, so the table is the same in every build;
 * without CUDA its entry answers with the stand-ins above. */
static const ttp_proj_backend_desc gpu_backends[] = {
    {"cuda", ttp_gpu_device_count, ttp_gpu_proj_open},
};

const ttp_proj_backend_desc *ttp_gpu_backends(int *n)
{
    *n = (int)(sizeof gpu_backends / sizeof gpu_backends[0]);
    return gpu_backends;
}
