/*
 * device.cu — finding and choosing a CUDA device, and the error strings and
 * buffer helper that the other gpu/ CUDA sources share (see ttp_cuda.h).
 *
 * "No device" is an ordinary answer here, not an error: a build with CUDA
 * runs on machines without a GPU (or without a driver), and the caller then
 * falls back to the CPU reference or reports why "cuda" cannot be used.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ttp_cuda.h"
#include "ttp_gpu.h"

const char *ttp_cuda_errstr(int rc)
{
    return cudaGetErrorString((cudaError_t)rc);
}

const char *ttp_cublas_errstr(int rc)
{
    switch ((cublasStatus_t)rc) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED (no handle, or the CUDA context failed)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED (device memory exhausted)";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE (a size or leading dimension is out of range)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "CUBLAS_STATUS_ARCH_MISMATCH (the device lacks a required feature)";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR (texture/memory mapping failed)";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED (the kernel failed to run)";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return cublasGetStatusString((cublasStatus_t)rc);
    }
}

int ttp_gpu_device_count(char *why, size_t len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        /* Without a GPU the runtime answers 35 ("insufficient driver") or
         * 100 ("no device"), depending on what is installed: every error
         * means the same thing to us.  Clear it so that it does not stick to
         * a later, unrelated cudaGetLastError. */
        (void)cudaGetLastError();
        if (why && len)
            snprintf(why, len, "no usable CUDA device: cudaGetDeviceCount: %s (code %d)",
                     cudaGetErrorString(e), (int)e);
        return 0;
    }
    if (n <= 0) {
        if (why && len) snprintf(why, len, "no CUDA device present (cudaGetDeviceCount = 0)");
        return 0;
    }
    if (why && len) why[0] = '\0';
    return n;
}

/* Node-local rank from the launcher's environment, or -1 when none is set. */
static int local_rank_from_env(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID",
                                       "MV2_COMM_WORLD_LOCAL_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            char *end = NULL;
            long r = strtol(v, &end, 10);
            if (end != v && r >= 0 && r < 1 << 20) return (int)r;
        }
    }
    return -1;
}

ttp_status ttp_cuda_select_device(ttp_ctx *ctx, int *device)
{
    ttp_status st = TTP_OK;
    char why[256];
    int n = 0, lr = 0, dev = 0;

    n = ttp_gpu_device_count(why, sizeof why);
    if (n == 0) return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "backend 'cuda' requested, but %s", why);
    lr = local_rank_from_env();
    dev = lr < 0 ? 0 : lr % n;
    TTP_CUDA(ctx, st, done, cudaSetDevice(dev), "cudaSetDevice(%d) of %d devices", dev, n);
    *device = dev;
done:
    return st;
}

ttp_status ttp_cuda_reserve(ttp_ctx *ctx, double **p, size_t *cap, size_t n, const char *what)
{
    ttp_status st = TTP_OK;
    if (*cap >= n && *p != NULL) return TTP_OK;
    if (*p) cudaFree(*p);
    *p = NULL;
    *cap = 0;
    TTP_CUDA(ctx, st, done, cudaMalloc((void **)p, n * sizeof(double)),
             "cudaMalloc of %zu doubles (%.1f MiB) for %s", n, (double)n * sizeof(double) / 1048576.0, what);
    *cap = n;
done:
    if (st != TTP_OK) *p = NULL;
    return st;
}
