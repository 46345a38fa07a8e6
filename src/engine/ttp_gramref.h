/*
 * ttp_gramref.h — the CPU reference for the local Gram matrix Gᵀ G of a
 * block of projected rows, the counterpart of ttp_gpu_gram (gpu/ttp_gpu.h)
 * that the parity test compares it with.
 */
#ifndef TTP_GRAMREF_H
#define TTP_GRAMREF_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * out = Gᵀ G with BLAS DSYRK, then mirrored so both triangles hold it.
 *   G    rows × cols, row-major, caller-owned (rows >= 0; rows = 0 gives 0)
 *   out  cols × cols, row-major = column-major (symmetric), caller-owned
 * Not collective: each rank forms the Gram of its own rows.
 */
ttp_status ttp_gram_local_cpu(ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, double *out);

#ifdef __cplusplus
}
#endif
#endif /* TTP_GRAMREF_H */
