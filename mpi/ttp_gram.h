/*
 * ttp_gram.h — the distributed kernel builder: projected Jacobian rows
 * G (NC × D′) sharded by rows over the ranks, the Gram matrix on whichever
 * side is smaller (Θ = G Gᵀ, NC × NC, or GᵀG, D′ × D′) assembled with
 * DSYRK/DGEMM per rank (or PBLAS pdsyrk) into nb × nb blocks on a BLACS
 * grid, its eigen-decomposition with pdsyevd (all pairs) or pdsyevr (top K),
 * and the projections of given NC-vectors on the eigenvectors of Θ
 * (DESIGN.md §3–4).
 *
 * Two layers:
 *   ttp_gram_*        the ScaLAPACK layer on any row-sharded G (no network:
 *                     the tests drive it with synthetic G);
 *   ttp_kernel_build  the whole kernel stage: shard samples, Jacobian rows on
 *                     every rank (ttp_jac_rows), then the ScaLAPACK layer,
 *                     gathering a ttp_kernel on rank 0.
 *
 * Memory per rank is O((NC·D′ + min(NC, D′)²)/P): no rank gathers Θ or the
 * eigenvectors unless asked (want_theta, want_vectors), and then only rank 0.
 * These functions take a ttp_comm, which must be the MPI one (mpi/ttp_mpi.h)
 * or the serial one with MPI initialised (it then runs on MPI_COMM_SELF):
 * BLACS needs MPI even on one rank.
 */
#ifndef TTP_GRAM_H
#define TTP_GRAM_H

#include "ttp_core.h"
#include "ttp_data.h"
#include "ttp_kernel.h"
#include "ttp_model.h"
#include "ttp_proj.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted ScaLAPACK block size: beyond it a 2-D block-cyclic layout
 * degenerates to one block per rank and the grid stops sharing the work. */
#define TTP_GRAM_MAX_BLOCK 4096
/* Default relative threshold for "non-zero" eigenvalues: λ > rel_tol·λmax·n. */
#define TTP_GRAM_REL_TOL 1e-12

/* Check a block size before any heavy work: 1 ≤ nb ≤ TTP_GRAM_MAX_BLOCK,
 * else TTP_ERR_ARG naming the value and the accepted range.  Not collective. */
ttp_status ttp_gram_check_block(ttp_ctx *ctx, int nb);

typedef struct ttp_gram ttp_gram; /* opaque: the grid and the distributed G */

/*
 * Distribute G over a BLACS grid as square as the rank count allows.
 * Collective over comm.
 *   nrows, ncols   global shape of G (NC × D′), both in [1, INT_MAX]; nrows
 *                  must be at least the number of ranks
 *   row_lo, nloc   this rank's rows [row_lo, row_lo + nloc): the shards must
 *                  be contiguous, in rank order, and cover [0, nrows)
 *   G              nloc × ncols row-major (borrowed: may be freed on return)
 *   nrhs, R        nloc × nrhs row-major: this rank's rows of nrhs NC-vectors
 *                  to project on the eigenvectors of Θ (nrhs may be 0, R NULL)
 *   block          ScaLAPACK block size (checked by ttp_gram_check_block)
 * G and R are copied into equal row blocks (MPI_Alltoallv when the shards
 * are uneven) that the handle keeps; R also goes into nb×nb blocks
 * (Cpdgemr2d) for the NC side's projections.  When every rank is on one
 * node (MPI_COMM_TYPE_SHARED) and its shared-memory file system has room,
 * G's rows go into an MPI-3 node-shared window instead of the heap, so that
 * the shared assembly reads them in place.
 */
ttp_status ttp_gram_load(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows,
                         int64_t ncols, int64_t row_lo, int64_t nloc, const double *G, int nrhs,
                         const double *R, ttp_gram **out);
/* Free the grid and the distributed arrays.  Collective (BLACS frees its
 * communicators); accepts NULL and sets *g to NULL. */
void ttp_gram_destroy(ttp_gram **g);
/* The BLACS grid shape chosen (for reports). */
void ttp_gram_grid(const ttp_gram *g, int *nprow, int *npcol);
/* The grid shape used for P ranks: nprow the largest divisor of P that is
 * at most √P, npcol = P / nprow (as square as P allows). */
void ttp_gram_grid_shape(int P, int *nprow, int *npcol);

/* How the Gram matrix is assembled.  The NC side: column-panel tasks of
 * DSYRK/DGEMM taken from a shared counter, with G and Θ's row blocks in
 * MPI-3 node-shared windows (SHARED, no message and no copy; every rank on
 * one node), or a ring of DSYRK/DGEMM passing the row shards by messages
 * (RING, any layout of nodes).  AUTO takes SHARED when the ranks share a
 * node and its shared-memory file system has room for G and Θ's row
 * blocks, RING otherwise.  The D′ side is column blocks summed with
 * MPI_Reduce, reported as RING.  PDSYRK: PBLAS on a block-cyclic copy of
 * G, the cross-check. */
typedef enum {
    TTP_GRAM_AUTO = 0,
    TTP_GRAM_PDSYRK = 1,
    TTP_GRAM_RING = 2,
    TTP_GRAM_SHARED = 3
} ttp_gram_assembly;

/* "auto", "pdsyrk", "ring", "shared"; and back (TTP_ERR_ARG naming the
 * word and the choices). */
const char *ttp_gram_assembly_str(ttp_gram_assembly a);
ttp_status ttp_gram_assembly_parse(ttp_ctx *ctx, const char *s, ttp_gram_assembly *out);

typedef struct ttp_gram_opts {
    int64_t top_k;    /* 0: every eigenpair (pdsyevd); K > 0: the K largest (pdsyevr) */
    int want_vectors; /* gather the kept eigenvectors of Θ on rank 0          */
    int want_theta;   /* gather Θ (NC × NC) on rank 0                         */
    int side;         /* -1 auto (the smaller), 0 the NC side, 1 the D′ side  */
    double rel_tol;   /* "non-zero" threshold; 0 means TTP_GRAM_REL_TOL       */
    ttp_gram_assembly assembly; /* how the Gram matrix is formed          */
} ttp_gram_opts;

/* What ttp_gram_decompose returns.  Arrays live on rank 0 only (NULL on the
 * other ranks); the scalars are valid on every rank. */
typedef struct ttp_gram_result {
    int side;        /* the side decomposed: 0 NC×NC, 1 D′×D′             */
    int64_t dim;     /* its order n (NC or D′)                             */
    int64_t ncomp;   /* eigenpairs computed (n, or min(K, n) with top_k)   */
    int64_t neig;    /* of those, kept as non-zero: λ > rel_tol·λmax·n     */
    double lambda_max, lambda_min_kept;
    double *eigval;  /* neig, descending: eigenvalues of Θ = G Gᵀ          */
    double *eigvec;  /* NC × neig row-major (want_vectors), unit columns   */
    double *proj;    /* nrhs × neig row-major: p[r, k] = v_kᵀ R[:, r]      */
    double *theta;   /* NC × NC row-major (want_theta), symmetric          */
    double trace;    /* trace(Θ) = ‖G‖_F², every rank                      */
    double sec_gram, sec_eig; /* wall seconds (this rank)                  */
    double sec_assemble;      /* of sec_gram: the SYRK/GEMM work itself, without
                                 redistribution and gathers (this rank)    */
    ttp_gram_assembly assembly; /* what formed Θ or GᵀG (never AUTO)     */
} ttp_gram_result;

/*
 * Gram matrix and eigen-decomposition.  Collective.  With the shared
 * assembly, Θ's row blocks and then the distributed eigenvectors share one
 * node-shared work space that the handle keeps for the next call (freed by
 * ttp_gram_destroy).  On the D′ side the
 * eigenvalues of GᵀG = W Σ² Wᵀ are those of Θ, its eigenvectors are
 * u_k = G w_k / σ_k, and projections are Uᵀ r = Σ⁻¹ Wᵀ (Gᵀ r): Θ is never
 * formed (unless want_theta).  Eigenvector signs are those ScaLAPACK returns.
 * ScaLAPACK failures are TTP_ERR_LAPACK naming the routine and info.
 */
ttp_status ttp_gram_decompose(ttp_ctx *ctx, ttp_gram *g, const ttp_gram_opts *opts,
                              ttp_gram_result *res);
/* Free a result's arrays (any rank) and zero it. */
void ttp_gram_result_clear(ttp_gram_result *res);

/* ---------------------------------------------------------------------------
 * The whole kernel stage.
 */
typedef struct ttp_kernel_opts {
    ttp_proj_kind proj;  /* EXACT, RADEMACHER, GAUSSIAN or KRON                */
    int64_t dproj;       /* D′ (ignored for EXACT)                             */
    uint64_t seed;       /* projection key                                     */
    const char *backend; /* "cpu", "cuda" or "auto" (NULL: "auto")             */
    int block;           /* ScaLAPACK block size (0: 64)                       */
    int64_t top_k;       /* 0 = all eigenpairs                                 */
    int want_theta, want_vectors;
    int side;            /* -1 auto, 0 NC, 1 D′                                */
    ttp_gram_assembly assembly; /* TTP_GRAM_AUTO unless asked                   */
    const char *model_path, *data_path; /* recorded as provenance (may be NULL) */
} ttp_kernel_opts;

/* Defaults: exact projection, D′ 0, seed 0, backend "auto", block 64, all
 * eigenpairs, no Θ, no vectors, side auto. */
void ttp_kernel_opts_default(ttp_kernel_opts *o);

/*
 * Build the kernel of `model` on `data`.  Collective over comm; every rank
 * passes the same model, data and options (each rank reads the files
 * itself).  Rank 0 receives the complete ttp_kernel (f0, u0, labels,
 * spectrum, projections, and eigvec/theta when asked); the other ranks get a
 * ttp_kernel holding the scalars only.
 *
 * Checked before any heavy work, with messages naming the value: D′ ≤ 0,
 * D′ > D for a dense projection, more ranks than samples, a bad block size,
 * a dataset whose sample shape the model does not accept, labels that do
 * not fit the model's outputs, no labels and no targets.
 *
 * Stages (seconds and progress lines for each): per-rank Jacobian rows of
 * its contiguous sample shard (ttp_shard), then ttp_gram_load and
 * ttp_gram_decompose, with R = [F0 − Y, softmax(F0) − onehot(y)] as the
 * vectors projected.  peak_rss_max is the maximum over ranks.
 */
ttp_status ttp_kernel_build(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                            const ttp_data *data, const ttp_kernel_opts *opts, ttp_kernel **out);

#ifdef __cplusplus
}
#endif
#endif /* TTP_GRAM_H */
