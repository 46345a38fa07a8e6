/*
 * ttp_kbuild.h — the kernel stage (docs/METHOD.md §2–3): every rank computes
 * the projected Jacobian rows of its contiguous shard of samples, the
 * communicator's distributed Gram implementation (ttp_comm.gram, core/
 * ttp_gram.h) assembles and decomposes the Gram matrix, and rank 0 receives
 * the spectrum, the projections of the initial residual and loss gradient,
 * and the provenance that lets `predict` reuse the kernel (io/ttp_kernel.h).
 */
#ifndef TTP_KBUILD_H
#define TTP_KBUILD_H

#include "ttp_data.h"
#include "ttp_gram.h"
#include "ttp_kernel.h"
#include "ttp_model.h"
#include "ttp_proj.h"

#ifdef __cplusplus
extern "C" {
#endif

/* D′ of the automatic projection (TTP_PROJ_AUTO) when none is given.  The
 * structured sketch at D′ = 1024 reproduces the exact kernel's training
 * times on the bundled task (30 vs 32 steps; top eigenvalue within 1 %) at
 * a tenth of the cost (benchmarks/README.md, bench_proj). */
#define TTP_KERNEL_AUTO_DPROJ 1024

/* The kernel's options: one struct, embedded (not copied) in
 * ttp_predict_opts.kernel and hence in the validation grid's options.  Error
 * messages name the fields (e.g. "option dproj"). */
typedef struct ttp_kernel_opts {
    ttp_proj_kind proj;  /* EXACT, RADEMACHER, GAUSSIAN, KRON, or AUTO: KRON at */
                         /*   dproj (TTP_KERNEL_AUTO_DPROJ when 0) for a model */
                         /*   of more than 2·D′ weights, else EXACT            */
    int64_t dproj;       /* D′ (ignored for EXACT)                             */
    uint64_t proj_seed;  /* projection key                                     */
    const char *backend; /* "cpu", "cuda" or "auto" (NULL: "auto")             */
    int block;           /* ScaLAPACK block size (0: 64)                       */
    int64_t top_k;       /* 0 = all eigenpairs                                 */
    int want_theta, want_vectors;
    int side;                           /* -1 auto, 0 NC, 1 D′                                */
    ttp_gram_assembly assembly;         /* TTP_GRAM_AUTO unless asked                   */
    int64_t direct_k;                   /* > 0: no eigen-decomposition: Θ gathered (NC  */
                                        /*   side) and its top direct_k pairs by Lanczos */
    const char *model_path, *data_path; /* recorded as provenance (may be NULL) */
} ttp_kernel_opts;

/* Defaults (the one place they live): exact projection, D′ 0, projection
 * seed 1, backend "auto", block 64, all eigenpairs, no Θ,
 * no vectors, side auto, assembly auto. */
void ttp_kernel_opts_default(ttp_kernel_opts *o);
/*
 * Check every option, naming the field: proj, dproj (positive unless exact
 * or auto; at most d for a dense projection when d > 0 is the model's
 * trainable-weight count, 0 when not known yet), backend, block, top_k,
 * side.  The one place D′ and the backend name are checked.
 */
ttp_status ttp_kernel_opts_validate(ttp_ctx *ctx, const ttp_kernel_opts *o, int64_t d);
/* Settle proj = AUTO for a model of d trainable weights (→ KRON at D′, or
 * EXACT).  No-op for the other kinds.
 * ttp_kernel_build applies it to its own copy; outputs that show the
 * projection apply it too. */
void ttp_kernel_opts_resolve(ttp_kernel_opts *o, int64_t d);

/*
 * Build the kernel of `model` on `data`.  Collective over comm; every rank
 * passes the same model, data and options (each rank reads the files
 * itself).  Rank 0 receives the complete ttp_kernel (f0, u0, labels,
 * spectrum, projections, and eigvec/theta when asked); the other ranks get a
 * ttp_kernel holding the scalars only.
 *
 * Checked before any heavy work (the options by ttp_kernel_opts_validate
 * against the model's D), with messages naming the value: D′ ≤ 0,
 * D′ > D for a dense projection, more ranks than samples, a bad block size,
 * a dataset whose sample shape the model does not accept, labels that do
 * not fit the model's outputs, no labels and no targets.
 *
 * Stages (seconds and progress lines for each): per-rank Jacobian rows of
 * its contiguous sample shard (ttp_shard), then ttp_gram_load and
 * ttp_gram_decompose, with R = [F0 − Y, softmax(F0) − onehot(y)] as the
 * vectors projected.  peak_rss_max is the maximum over ranks.
 */
ttp_status ttp_kernel_build(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                            const ttp_kernel_opts *opts, ttp_kernel **out);

/* Ritz residual ‖Θy − θy‖ below which a Lanczos pair counts as converged,
 * relative to the largest eigenvalue: eigenvalues are then exact to
 * rounding (their error goes as the residual squared over the gap). */
#define TTP_KERNEL_LANCZOS_TOL 1e-10

/*
 * The k largest eigenpairs of the dense symmetric n × n matrix theta
 * (row-major; both triangles) by Lanczos with full re-orthogonalisation
 * (kernel/lanczos.c), without a full decomposition: O(n²) a product, a few
 * tens of products.  vals (k) receives the eigenvalues, descending; vecs
 * (n × k row-major) the unit eigenvectors.  *nconv (≤ k) is how many top
 * pairs met the residual test ‖Θy − θy‖ ≤ tol·|θ_max| within the basis
 * cap (8k + 200 vectors, or n, where every pair is exact); only those are
 * written.  *iters: products taken.  Not collective; deterministic.
 */
ttp_status ttp_kernel_top_eigs(ttp_ctx *ctx, const double *theta, int64_t n, int64_t k, double tol,
                               double *vals, double *vecs, int64_t *nconv, int64_t *iters);

/*
 * The kernel's summary as JSON (`ttpredict kernel --json`), rank 0: k as
 * built, d the model's trainable weights, out the kernel file's path, and
 * the nprow × npcol process grid it was decomposed on.
 */
ttp_status ttp_kernel_write_json(ttp_ctx *ctx, const char *path, const ttp_kernel *k, int64_t d,
                                 const char *out, int nprow, int npcol);

#ifdef __cplusplus
}
#endif
#endif /* TTP_KBUILD_H */
