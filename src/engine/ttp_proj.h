/*
 * ttp_proj.h — random projections of Jacobian rows, and the table of
 * backends that apply them (CPU reference always; CUDA when built and a
 * device is present).
 *
 * The projection matrix P (D × D′) is never stored.  Its entries are a pure
 * function of (key, k·D′ + j) for row k and column j, so every rank and every
 * device produce the same P:
 *   RADEMACHER  P[k, j] = ±1/√D′   (sign = lowest bit of ttp_rng_hash)
 *   GAUSSIAN    P[k, j] = z/√D′    (z standard normal, Box–Muller on
 *                                    counters 2(k·D′+j) and 2(k·D′+j)+1)
 * Hence E[P Pᵀ] = I and E[G Gᵀ] = Θ for G = J P.
 */
#ifndef TTP_PROJ_H
#define TTP_PROJ_H

#include "ttp_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of the dense projection (kind RADEMACHER or GAUSSIAN). */
double ttp_proj_entry(ttp_proj_kind kind, uint64_t key, int64_t k, int64_t j, int64_t dproj);

/* The CPU reference: P generated in column tiles, applied with DGEMM. */
ttp_status ttp_proj_cpu(ttp_ctx *ctx, ttp_proj_backend *b);
/* How much memory the CPU backend may keep a large P's tiles in (each tile
 * then generated once for all calls): max_bytes > 0 a cap, 0 the default (a
 * quarter of the memory free at the first call), < 0 never (every call
 * generates its tiles again).  The results are the same bits either way.
 * Drops a stored P; no effect on other backends. */
void ttp_proj_cpu_store_limit(ttp_proj_backend *b, double max_bytes);
/* Select a backend by name: "cpu", a device backend's name from the table
 * gpu/ registers (ttp_gpu_backends: "cuda"), or "auto" (the first device
 * backend with a device present, else cpu).  TTP_ERR_UNSUPPORTED, with the
 * backend's own reason, when a device backend is asked for and cannot open;
 * TTP_ERR_ARG naming the choices for an unknown name. */
ttp_status ttp_proj_backend_open(ttp_ctx *ctx, const char *name, ttp_proj_backend *b);
void ttp_proj_backend_close(ttp_proj_backend *b);

#ifdef __cplusplus
}
#endif
#endif /* TTP_PROJ_H */
