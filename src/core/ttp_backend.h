/*
 * ttp_backend.h — the projection backend interface shared by the engine
 * (its CPU reference, engine/ttp_proj.h) and the device backends in gpu/,
 * which register themselves in a table (ttp_gpu_backends) that the engine
 * looks up by name.  Nothing here computes: kinds, the backend's function
 * table, and the descriptor a registry lists.
 */
#ifndef TTP_BACKEND_H
#define TTP_BACKEND_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TTP_PROJ_AUTO = -1,  /* an option value only: the kernel stage picks KRON
                          * or EXACT from the model's size
                          * (ttp_kernel_opts_resolve); no projection takes it */
    TTP_PROJ_EXACT = 0,  /* no projection: G = J, D′ = D                   */
    TTP_PROJ_RADEMACHER, /* dense ±1/√D′                                   */
    TTP_PROJ_GAUSSIAN,   /* dense N(0, 1/D′)                               */
    TTP_PROJ_KRON,       /* structured (P_out ⊗ P_in) sketch per layer     */
    TTP_PROJ_KIND_COUNT
} ttp_proj_kind;

const char *ttp_proj_kind_str(ttp_proj_kind k);
/* Parse "exact", "rademacher", "gaussian", "kron", "auto"; TTP_ERR_ARG otherwise. */
ttp_status ttp_proj_kind_parse(ttp_ctx *ctx, const char *s, ttp_proj_kind *k);

const char *ttp_proj_kind_str(ttp_proj_kind k);
/* Parse "exact", "rademacher", "gaussian", "kron", "auto"; TTP_ERR_ARG otherwise. */
ttp_status ttp_proj_kind_parse(ttp_ctx *ctx, const char *s, ttp_proj_kind *k);

/*
 * A backend computes G = J P for a block of rows.
 *   J     rows × d, row-major
 *   G     rows × dproj, row-major (overwritten)
 * `state` is the backend's own (device buffers, cuBLAS handle).
 */
typedef struct ttp_proj_backend {
    const char *name; /* "cpu", "cuda" */
    void *state;
    ttp_status (*project)(void *state, ttp_proj_kind kind, uint64_t key, const double *J, int64_t rows,
                          int64_t d, int64_t dproj, double *G, ttp_ctx *ctx);
    void (*destroy)(void *state);
} ttp_proj_backend;

/*
 * A registry entry: how to ask whether a backend can run here, and how to
 * open it.
 *   devices  number of usable devices (0 when none; `why`, may be NULL,
 *            receives a one-line reason then)
 *   open     fill *b (TTP_ERR_UNSUPPORTED with the reason when it cannot)
 */
typedef struct ttp_proj_backend_desc {
    const char *name;
    int (*devices)(char *why, size_t len);
    ttp_status (*open)(ttp_ctx *ctx, ttp_proj_backend *b);
} ttp_proj_backend_desc;

#ifdef __cplusplus
}
#endif
#endif /* TTP_BACKEND_H */
