/*
 * gpu_select.c — always compiled: answers for the CUDA backend when the
 * build has none, so callers need no #ifdef.
 */
#include "ttp_gpu.h"

#include <string.h>

#if !TTP_HAVE_CUDA
int ttp_gpu_device_count(char *why, size_t len)
{
    if (why && len) snprintf(why, len, "this ttpredict was built without CUDA");
    return 0;
}

ttp_status ttp_gpu_proj_open(ttp_ctx *ctx, ttp_proj_backend *b)
{
    (void)b;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                   "backend 'cuda' requested, but this ttpredict was built without CUDA "
                   "(rebuild with the CUDA toolkit and -DTTP_ENABLE_CUDA=ON)");
}
#endif
