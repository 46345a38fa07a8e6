/*
 * gnet_impl.h — private to gpu/: the primitives the device network's one
 * algorithm (gnet.c) runs on.  Two tables implement it: the CPU twin
 * (gnet_ref.c, plain loops, always built) and the device (gnet_cuda.cu,
 * cuBLAS and one thread per element).  Pointers handed to a table are that
 * backend's memory (host memory for the twin, device memory for cuda) except
 * where a parameter says "host".
 *
 * GEMMs are row-major: C_b = alpha·op(A_b)·op(B_b) + beta·C_b for b < batch,
 * with X_b = X + b·sX (a stride of 0 shares the operand).  op(A) is M × K,
 * op(B) K × N, C M × N.
 */
#ifndef TTP_GNET_IMPL_H
#define TTP_GNET_IMPL_H

#include "gnet_ew.h"
#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gnet_ops {
    const char *name;
    ttp_status (*open)(ttp_ctx *ctx, int device, void **st);
    void (*close)(void *st);
    /* n doubles, zeroed; `what` names the buffer in the message */
    ttp_status (*alloc)(void *st, ttp_ctx *ctx, double **p, int64_t n, const char *what);
    void (*release)(void *st, double *p);
    /* host src → dst (backend), n doubles */
    ttp_status (*put)(void *st, ttp_ctx *ctx, double *dst, const double *src, int64_t n, const char *what);
    /* backend src → host dst; returns after the data arrived */
    ttp_status (*get)(void *st, ttp_ctx *ctx, double *dst, const double *src, int64_t n, const char *what);
    /* Double-buffered inputs, slot 0 or 1: put_async starts copying host src
     * to dst (src may change once it returns, dst must not be read by work
     * queued before the slot's last release_put); wait_put makes work queued
     * after it wait for the slot's copy; release_put marks that the work
     * queued so far is the last to read the slot's dst. */
    ttp_status (*put_async)(void *st, ttp_ctx *ctx, int slot, double *dst, const double *src, int64_t n,
                            const char *what);
    ttp_status (*wait_put)(void *st, ttp_ctx *ctx, int slot);
    ttp_status (*release_put)(void *st, ttp_ctx *ctx, int slot);
    ttp_status (*ew)(void *st, ttp_ctx *ctx, const gnet_ew *e, const char *what);
    ttp_status (*gemm)(void *st, ttp_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha,
                       const double *A, int64_t lda, int64_t sA, const double *B, int64_t ldb, int64_t sB,
                       double beta, double *C, int64_t ldc, int64_t sC, int64_t batch, const char *what);
    /* Cg (cols × cols) += Gᵀ G for G (rows × cols, row stride ldg); only the
     * entries j >= i of row i (row-major upper triangle) are defined */
    ttp_status (*syrk)(void *st, ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, int64_t ldg,
                       double *Cg, const char *what);
} gnet_ops;

extern const gnet_ops ttp_gnet_ref_ops;
/* The cuda table, or NULL with the reason in why when the build has none. */
const gnet_ops *ttp_gnet_cuda_ops(char *why, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* TTP_GNET_IMPL_H */
