/*
 * ttp_cuda.h — private to the gpu/ CUDA sources: the CUDA and cuBLAS specialisations of
 * the one generic check macro (TTP_CHECK_GEN in ttp_core.h), a launch check,
 * and the small helpers the kernels' host code shares.
 *
 * Every macro here jumps to a cleanup label, so functions that use them
 * declare all their locals before the first check (C++ forbids a goto that
 * skips an initialisation).
 */
#ifndef TTP_CUDA_H
#define TTP_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "ttp_core.h"

/* cudaGetErrorString for an int-typed cudaError_t (TTP_CHECK_GEN passes int). */
const char *ttp_cuda_errstr(int rc);
/* Name and meaning of a cublasStatus_t ("CUBLAS_STATUS_ALLOC_FAILED: ..."). */
const char *ttp_cublas_errstr(int rc);

/* A CUDA runtime call that must return cudaSuccess; `...` says what was done. */
#define TTP_CUDA(ctx, st, label, expr, ...)                                                                  \
    TTP_CHECK_GEN(ctx, st, label, expr, cudaSuccess, ttp_cuda_errstr, TTP_ERR_CUDA, __VA_ARGS__)

/* A cuBLAS call that must return CUBLAS_STATUS_SUCCESS. */
#define TTP_CUBLAS(ctx, st, label, expr, ...)                                                                \
    TTP_CHECK_GEN(ctx, st, label, expr, CUBLAS_STATUS_SUCCESS, ttp_cublas_errstr, TTP_ERR_CUDA, __VA_ARGS__)

/*
 * After every kernel launch: a bad configuration (grid too large, too much
 * shared memory) is reported only by cudaGetLastError, and an earlier
 * asynchronous fault surfaces here too, close to where it happened.
 */
#define TTP_CUDA_LAUNCH(ctx, st, label, ...) TTP_CUDA(ctx, st, label, cudaGetLastError(), __VA_ARGS__)

/*
 * Pick and set this process's device: the node-local MPI rank (from the
 * launcher's environment: OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID,
 * MPI_LOCALRANKID) modulo the device count, so that ranks sharing a node
 * spread over its GPUs; device 0 when run without a launcher.
 * TTP_ERR_UNSUPPORTED, with the runtime's reason, when no device answers.
 */
ttp_status ttp_cuda_select_device(ttp_ctx *ctx, int *device);

/*
 * Grow-only device buffer: (*p, *cap) hold `*cap` doubles; reallocated
 * (contents lost) when fewer than `n` are held.  `what` names the buffer in
 * the error message.
 */
ttp_status ttp_cuda_reserve(ttp_ctx *ctx, double **p, size_t *cap, size_t n, const char *what);

#endif /* TTP_CUDA_H */
