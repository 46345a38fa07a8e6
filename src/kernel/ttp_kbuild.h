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

/*
 * The kernel in factor form, Θ = G Gᵀ with G = J P (NC × D′), without the
 * Gram matrix or its eigenpairs: the rows ttp_kernel_build computes (same
 * settled options, plan, calibration and rows, so G Gᵀ is the Θ it would
 * decompose), summed onto every rank.  What re-linearization needs at each
 * new point (docs/METHOD.md §6c): applying Θ[:, B] v = G (G_Bᵀ v) costs
 * O(NC·D′), and the O(NC²·D′) Gram and the eigensolver are skipped.
 * Collective; every rank receives g, f0 (outputs at model->w) and u0
 * (J w_trainable, exact).  Free with ttp_kernel_rows_clear.
 */
typedef struct ttp_kernel_rows {
    int64_t n, k; /* samples; D′ (columns of g)             */
    int c;        /* outputs per sample                     */
    double *g;    /* (n·c) × k row-major, sample-major rows */
    double *f0;   /* n·c outputs                            */
    double *u0;   /* n·c values J w (trainable part)        */
} ttp_kernel_rows;
ttp_status ttp_kernel_factor(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                             const ttp_kernel_opts *opts, ttp_kernel_rows *out);
void ttp_kernel_rows_clear(ttp_kernel_rows *r);

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
