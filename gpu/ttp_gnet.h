/*
 * ttp_gnet.h — the Jacobian stage on a device: a network's forward pass on
 * a block of samples, its backward pass for R cotangent rows per sample (the
 * C output rows of the Jacobian pushed through together), the per-row
 * gradients projected as the engine's plan says (exact, dense Rademacher /
 * Gaussian with P generated on the device, or the per-layer KRON sketch),
 * and optionally the local Gram GᵀG, all in float64.
 *
 * gpu/ sees no model type: the engine describes the network with the plain
 * structures below (built from a ttp_model and a Jacobian plan by
 * ttp_jac_gnet_desc, engine/ttp_jac.h).  One algorithm (gpu/gnet.c) runs on
 * one of two sets of primitives:
 *   "ref"   the CPU twin: plain C loops over the same per-element functions
 *           (gpu/gnet_ew.h) and a plain triple-loop GEMM; always built, the
 *           reference the device is tested against;
 *   "cuda"  the device: one thread per element of the same functions, and
 *           cuBLAS DGEMM (strided-batched) and DSYRK.
 * Parity: tests/test_gpu_net.c (the twin against the engine's net.c and
 * jac.c and finite differences; the device against the twin).
 */
#ifndef TTP_GNET_H
#define TTP_GNET_H

#include "ttp_backend.h"
#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layer kinds, in the order of the model's ttp_layer_kind (the engine maps
 * them by name, not by value). */
typedef enum {
    TTP_GNET_DENSE = 0,
    TTP_GNET_CONV2D,
    TTP_GNET_RELU,
    TTP_GNET_BATCHNORM,
    TTP_GNET_MAXPOOL,
    TTP_GNET_AVGPOOL,
    TTP_GNET_GAP,
    TTP_GNET_FLATTEN,
    TTP_GNET_ADD,
    TTP_GNET_SIGMOID,
    TTP_GNET_TANH,
    TTP_GNET_LEAKYRELU,
    TTP_GNET_GELU,
    TTP_GNET_KIND_COUNT
} ttp_gnet_kind;

/* How a trainable layer's weight block enters a projected row (KRON only;
 * engine/jac.c explains the modes). */
typedef enum { TTP_GNET_W_EXACT = 0, TTP_GNET_W_REPL, TTP_GNET_W_BLOCK } ttp_gnet_wmode;

typedef struct ttp_gnet_layer {
    ttp_gnet_kind kind;
    int input[2]; /* producer: -1 the network input, else an earlier layer */
    int64_t units, kernel, stride, pad;
    double eps, alpha;
    int64_t in_shape[3], out_shape[3]; /* (C, H, W) per sample */
    int64_t woff, nw, soff;            /* parameter / frozen-state ranges in the slabs */
    int trainable;                     /* has parameters in the Jacobian */
    int has_bias;                      /* dense / conv: nw = m·n + m */
    int64_t col_off;                   /* first column of the layer in a full row */
    /* KRON sketch of a trainable layer (host matrices, borrowed; NULL = identity) */
    ttp_gnet_wmode wmode;
    int64_t ko, ki, r, kw, gw;     /* weight block: kw columns at gw */
    const double *Pout, *Pin, *Pw; /* m × r·ko, n × r·ki, m·n × kw   */
    int64_t lv, kv, gv;            /* vector block (bias, batch norm) */
    const double *Pv;              /* lv × kv */
} ttp_gnet_layer;

typedef struct ttp_gnet_desc {
    int nlayers;
    const ttp_gnet_layer *layers; /* borrowed */
    int64_t in_size;              /* values per input sample */
    int64_t nout;                 /* C */
    int64_t nparams;              /* length of the parameter slab */
    int64_t nstate;
    const double *state; /* frozen batch-norm statistics, borrowed */
    int64_t D;           /* trainable parameters: length of a full row */
    ttp_proj_kind kind;  /* EXACT, RADEMACHER, GAUSSIAN or KRON */
    uint64_t key;        /* the dense kinds' key */
    int64_t dim;         /* D′: columns of a projected row */
} ttp_gnet_desc;

typedef struct ttp_gnet ttp_gnet; /* opaque; body in gnet.c */

/*
 * Open a network on backend "ref" or "cuda", for blocks of up to nbmax
 * samples with R cotangent rows each (R = C for the Jacobian).  The
 * parameter slab w (desc->nparams), the state and the KRON matrices are
 * uploaded once; the descriptor's arrays may be freed after the call.
 *   device  the CUDA device to use (the node-local rank's choice), or -1 to
 *           pick from the launcher's environment; ignored by "ref"
 * TTP_ERR_UNSUPPORTED with the reason when "cuda" cannot run here (no CUDA
 * build, no device, device out of range).  Not collective.
 */
ttp_status ttp_gnet_create(ttp_ctx *ctx, const ttp_gnet_desc *desc, const double *w, const char *backend,
                           int device, int64_t nbmax, int64_t R, ttp_gnet **out);
void ttp_gnet_destroy(ttp_gnet **g);
/* "ref" or "cuda". */
const char *ttp_gnet_backend(const ttp_gnet *g);
/* Replace the parameter slab (uploaded when it differs from the held copy). */
ttp_status ttp_gnet_set_weights(ttp_ctx *ctx, ttp_gnet *g, const double *w);

/*
 * Forward pass of nb <= nbmax samples: x (nb, in) → out (nb, C), host
 * memory.  Activations stay on the backend for ttp_gnet_backward_rows.
 */
ttp_status ttp_gnet_forward(ttp_ctx *ctx, ttp_gnet *g, const double *x, int64_t nb, double *out);

/*
 * Backward pass after ttp_gnet_forward, for R rows of cotangents per sample.
 *   dout  (nb·R, C), row r belongs to sample r / R
 *   J     (nb·R, D) full per-row gradients (trainable parameters in slab
 *         order), or NULL
 *   gx    (nb·R, in) input gradients, or NULL
 */
ttp_status ttp_gnet_backward_rows(ttp_ctx *ctx, ttp_gnet *g, const double *dout, double *J, double *gx);

/*
 * The Jacobian stage on ns samples (any ns >= 0; blocks of nbmax):
 *   G     (ns·C, D′) projected rows, sample-major as ttp_jac_rows, or NULL
 *   f0    ns·C outputs, or NULL;  u0  ns·C values J_row·w_trainable, or NULL
 *   gram  D′ × D′: GᵀG of these rows is ADDED (full symmetric), or NULL
 * Requires R = C.  The dense projection's P is generated on the backend in
 * row tiles (never stored whole); only G (and/or the Gram) comes back.
 */
ttp_status ttp_gnet_rows(ttp_ctx *ctx, ttp_gnet *g, const double *x, int64_t ns, double *G, double *f0,
                         double *u0, double *gram);

/* Work issued since the network was opened (or the last reset): GEMM flops
 * (2·M·N·K per product, the Gram's SYRK counted as rows·K·(K + 1)), GEMM
 * calls, elements of the elementwise ops.  For benchmarks. */
typedef struct ttp_gnet_stats {
    double gemm_flops, gemm_calls, ew_elements;
} ttp_gnet_stats;
void ttp_gnet_get_stats(const ttp_gnet *g, ttp_gnet_stats *s);
void ttp_gnet_reset_stats(ttp_gnet *g);
/* Benchmarks only: skip every elementwise op (the results are then
 * meaningless), so that a run times the stage's GEMMs alone, same shapes. */
void ttp_gnet_set_gemm_only(ttp_gnet *g, int on);

#ifdef __cplusplus
}
#endif
#endif /* TTP_GNET_H */
