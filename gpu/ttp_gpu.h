/*
 * ttp_gpu.h — the CUDA/cuBLAS backend's entry points, callable from plain C.
 * Always declared; when the build has no CUDA (TTP_HAVE_CUDA == 0) they
 * return TTP_ERR_UNSUPPORTED with the reason (gpu/gpu_select.c).
 */
#ifndef TTP_GPU_H
#define TTP_GPU_H

#include "ttp_core.h"
#include "ttp_proj.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices (0 when none, or when the build has no CUDA;
 * any error from the runtime, e.g. "insufficient driver", counts as none).
 * `why` (may be NULL) receives a one-line reason when 0. */
int ttp_gpu_device_count(char *why, size_t len);

/* Open the CUDA projection backend (G = J P with P generated on the device
 * by the same counter-based generator as the CPU reference, then cuBLAS
 * DGEMM).  TTP_ERR_UNSUPPORTED when no CUDA build or no device. */
ttp_status ttp_gpu_proj_open(ttp_ctx *ctx, ttp_proj_backend *b);

#ifdef __cplusplus
}
#endif
#endif /* TTP_GPU_H */
