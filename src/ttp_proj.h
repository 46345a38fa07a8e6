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

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TTP_PROJ_EXACT = 0,  /* no projection: G = J, D′ = D                   */
    TTP_PROJ_RADEMACHER, /* dense ±1/√D′                                   */
    TTP_PROJ_GAUSSIAN,   /* dense N(0, 1/D′)                               */
    TTP_PROJ_KRON,       /* structured (P_out ⊗ P_in) sketch per layer     */
    TTP_PROJ_KIND_COUNT
} ttp_proj_kind;

const char *ttp_proj_kind_str(ttp_proj_kind k);
/* Parse "exact", "rademacher", "gaussian", "kron"; TTP_ERR_ARG otherwise. */
ttp_status ttp_proj_kind_parse(ttp_ctx *ctx, const char *s, ttp_proj_kind *k);

/* One entry of the dense projection (kind RADEMACHER or GAUSSIAN). */
double ttp_proj_entry(ttp_proj_kind kind, uint64_t key, int64_t k, int64_t j, int64_t dproj);

/*
 * A backend computes G = J P for a block of rows.
 *   J     rows × d, row-major
 *   G     rows × dproj, row-major (overwritten)
 * `state` is the backend's own (device buffers, cuBLAS handle).
 */
typedef struct ttp_proj_backend {
    const char *name; /* "cpu", "cuda" */
    void *state;
    ttp_status (*project)(void *state, ttp_proj_kind kind, uint64_t key, const double *J,
                          int64_t rows, int64_t d, int64_t dproj, double *G, ttp_ctx *ctx);
    void (*destroy)(void *state);
} ttp_proj_backend;

/* The CPU reference: P generated in column tiles, applied with DGEMM. */
ttp_status ttp_proj_cpu(ttp_ctx *ctx, ttp_proj_backend *b);
/* Select a backend by name: "cpu", "cuda" or "auto" (cuda when a device
 * answers, else cpu).  TTP_ERR_UNSUPPORTED, with the reason, when "cuda" is
 * asked for and the build has no CUDA or no device is present. */
ttp_status ttp_proj_backend_open(ttp_ctx *ctx, const char *name, ttp_proj_backend *b);
void ttp_proj_backend_close(ttp_proj_backend *b);

#ifdef __cplusplus
}
#endif
#endif /* TTP_PROJ_H */
