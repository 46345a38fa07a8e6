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
    double mem_per_rank;                /* bytes a rank may use (0: this node's MemAvailable
                                           shared by its ranks); ttp_plan_check      */
    const char *checkpoint_dir;         /* checkpoint into (and resume from) this directory */
    int resume_required;                /* 1: the directory must hold a matching run      */
    int stop_after_block;               /* test hook: fail after this many Jacobian blocks */
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
 * Then the memory per rank is estimated (ttp_plan_estimate) and a run that
 * would not fit is refused (ttp_plan_check: TTP_ERR_NOMEM naming what would
 * fit).
 *
 * With checkpoint_dir, rank 0 creates the directory and checks or writes its
 * manifest.txt (the model's and data's fingerprints, N, C, projection, D′,
 * projection seed, backend, ranks, block, top_k, side, assembly, theta,
 * vectors, the dynamics path: eigen or direct:direct_k); a different run's directory is TTP_ERR_ARG naming the first
 * difference, and so is a directory without a manifest when
 * resume_required); every rank then writes each block of its Jacobian rows
 * (jac-r<rank>-b<block>.bin) and, after the decomposition, its share of the
 * result (eigen-r<rank>.bin), each atomically (ttp_text_commit), and reads
 * back what is already there, so that a rerun after a kill gives the same
 * kernel bit for bit.  The shared directory must be visible to every rank.
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

/* ---- plan: memory per rank and time, before the heavy stages ---------------
 *
 * The estimate from the problem's sizes alone (N samples, C outputs, D
 * trainable weights, D′ columns of G, P ranks; s = the order of the matrix
 * decomposed, min(NC, D′) on the auto side; K the eigenpairs kept), in
 * doubles of 8 bytes (docs/large-n.md):
 *   jacobian   ⌈N/P⌉C · D′ (this rank's rows of G) + ⌈N/P⌉C · 3 (residual,
 *              gradient) + 2 NC (F0, u0 on every rank)
 *   gram       NC · D′ / P (the distributed copy of G) + s² / P (Θ or GᵀG)
 *   eigen      4 s² / P (eigenvectors and the solver's workspace; with the
 *              Gram, the 5 s² / P measured in docs/large-n.md)
 *   rows of Θ  n_r × NC row blocks, on the NC side or with Θ (option
 *              want_theta or the direct path): NC² with P > 1 and the
 *              shared assembly (auto or shared: a rank also holds the pages
 *              it wrote into the other ranks' blocks until the gather),
 *              NC²/P with the ring or pdsyrk; on one rank NC² for Θ on the
 *              D′ side, 0 on the NC side (formed in place)
 *   gathered   rank 0: NC · K eigenvectors (option want_vectors) + NC² (Θ,
 *              option want_theta); on the direct path (option direct_k > 0:
 *              the NC side, no decomposition) NC² + NC · K Lanczos vectors
 *              + 3 NC residual rows, K = direct_k
 *   transit    rank 0 while the gather runs: 2 × the gathered matrices / P
 *              (pdgemr2d's messages; measured, docs/large-n.md)
 *   ensemble   rank 0 (predict): M (4 NC + B C + N + K + 2 (T + 1)) + 6 (T + 1)
 *   model      2 × the model's parameters (weights and the network's buffers)
 *   runtime    TTP_PLAN_BASELINE (MPI, OpenBLAS, the CUDA runtime)
 * Peak per rank = runtime + model + max(jacobian + NC·D′/P (G while it is copied),
 * gram + eigen + rows of Θ + gathered + transit, gathered + ensemble).
 * Flops: Jacobian N C (F + B) / P, F and B the forward and backward flops of
 * one sample (ttp_model_cost; N (2D + 4CD) / P for a model given by its sizes
 * only), plus the projection (dense 2 NC D D′ / P,
 * kron 2 NC √D D′ / P); Gram s · NC · D′ / P (+ NC² D′ / P for Θ on the D′
 * side); eigen 5 s³ / P (all pairs) or
 * (4/3 s³ + 2 s² K) / P (top-K), on the direct path 2 NC² (4K + 40)
 * (Lanczos on rank 0); ensemble 4 T M NC K on rank 0.  Seconds are
 * flops over a rate (flop/s per rank: measured by ttp_plan_probe_rate, or
 * TTP_PLAN_RATE) times a per-stage efficiency, the fraction of the DGEMM
 * rate each stage reaches (the Jacobian's per-sample passes and small
 * batches, the eigensolver's memory-bound reductions and the ensemble's
 * matrix-vector steps run well below it): a prediction, not a bound.
 * Calibrated on the bundled task (N 750, C 5, eigenvectors, one rank,
 * OpenBLAS one thread), measured seconds against flops at the probe's rate,
 * the geometric mean of kron D′ 512 and 1024 (Jacobian 0.91 and 0.90 s:
 * 0.063 and 0.086; Gram 0.10 and 0.25 s: 0.25 and 0.49; eigen 0.24 and
 * 1.04 s: 0.072 and 0.16) and predict's ensemble (GD, T 50, M 4: 0.26 s,
 * 0.28).  On a machine shared with other work every stage ran up to 2.4×
 * slower than this, the probe's rate varying 31–62 GFLOP/s.
 */
#define TTP_PLAN_EFF_JAC 0.074
#define TTP_PLAN_EFF_GRAM 0.35
#define TTP_PLAN_EFF_EIG 0.11
#define TTP_PLAN_EFF_SIM 0.28
#define TTP_PLAN_RATE 2e9                     /* flop/s per rank when none is measured   */
#define TTP_PLAN_BASELINE (160.0 * 1048576.0) /* bytes of a rank before any work (docs/large-n.md) */

typedef struct ttp_plan_in {
    int64_t n;     /* samples the kernel is built on                      */
    int ranks;     /* P                                                   */
    int ensemble;  /* M trajectories of the dynamics (0: kernel only)     */
    int64_t steps; /* T                                                   */
    int64_t batch; /* B (0: full batch)                                   */
    double rate;   /* flop/s per rank (0: TTP_PLAN_RATE)                  */
} ttp_plan_in;

typedef struct ttp_plan {
    int64_t n, c, d, dproj, nc; /* sizes, D′ resolved (D for exact)           */
    int ranks, side;            /* side 0: NC × NC, 1: D′ × D′                 */
    int64_t dim, kept;          /* s and K                                     */
    double base_bytes, model_bytes, jac_bytes, gram_bytes, eig_bytes, gather_bytes, ensemble_bytes;
    double work_bytes;    /* Θ's row blocks (the assembly's work space)   */
    double transit_bytes; /* rank 0's buffers while the gather runs        */
    double peak_bytes;    /* per rank, rank 0 (the largest)              */
    double flops_jac, flops_gram, flops_eig, flops_sim;
    double sec_jac, sec_gram, sec_eig, sec_sim, sec_total;
    double rate;            /* flop/s per rank used                        */
    double mem_avail;       /* bytes per rank available                    */
    const char *mem_source; /* "MemAvailable" or "option mem_per_rank"     */
    int fits;               /* peak_bytes ≤ mem_avail                      */
    /* what would fit (0: nothing of that kind found) */
    int fit_ranks;
    int64_t fit_dproj, fit_top_k, fit_subset;
} ttp_plan;

/*
 * Estimate memory per rank and time for building the kernel of `model` on
 * in->n samples with the options o (proj auto resolved here) on in->ranks
 * ranks, and for in->ensemble > 0 the dynamics after it.  Available memory:
 * o->mem_per_rank when > 0, else MemAvailable (/proc/meminfo) shared by
 * min(P, online CPUs) ranks on this node.  Also searches what would fit:
 * the fewest ranks (doubling, at the same memory per rank), the largest D′
 * (halving; projected or kron), the largest top_k (halving) and the largest
 * subset (halving).  Not collective; no allocation.
 */
ttp_status ttp_plan_estimate(ttp_ctx *ctx, const ttp_kernel_opts *o, const ttp_model *model,
                             const ttp_plan_in *in, ttp_plan *out);
/* TTP_ERR_NOMEM with the estimate per stage and what would make it fit
 * (options named by field) when !p->fits; TTP_OK otherwise. */
ttp_status ttp_plan_check(ttp_ctx *ctx, const ttp_plan *p);
/* flop/s of this rank measured on a small DGEMM (a few milliseconds). */
double ttp_plan_probe_rate(void);
/* The plan as JSON (`ttpredict plan --json`). */
ttp_status ttp_plan_write_json(ttp_ctx *ctx, const char *path, const ttp_plan *p);

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
