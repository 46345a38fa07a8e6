/*
 * gpu_select.c — always compiled: answers for the CUDA backend when the
 * build has none, so callers need no #ifdef.  With CUDA (TTP_HAVE_CUDA == 1)
 * the same functions come from gpu/device.cu, gpu/proj.cu and gpu/gram.cu,
 * and this file defines nothing.
 */
#include "ttp_gpu.h"

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

ttp_status ttp_gpu_proj_entries(ttp_ctx *ctx, ttp_proj_kind kind, uint64_t key, int64_t k0,
                                int64_t nk, int64_t j0, int64_t nj, int64_t dproj, double *out)
{
    (void)kind, (void)key, (void)k0, (void)nk, (void)j0, (void)nj, (void)dproj, (void)out;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                   "device projection entries requested, but " TTP_NO_CUDA_WHY);
}

ttp_status ttp_gpu_proj_set_tiles(ttp_ctx *ctx, ttp_proj_backend *b, int64_t max_k,
                                  int64_t max_cols)
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
#else
/* Keeps this translation unit non-empty (ISO C) in CUDA builds. */
typedef int ttp_gpu_select_unused;
#endif
