/*
 * ttp_scalapack.h — the distributed Gram interface (core/ttp_gram.h)
 * implemented with BLACS, PBLAS and ScaLAPACK: G's row shards loaded onto a
 * BLACS grid, the Gram matrix assembled with DSYRK/DGEMM per rank (or PBLAS
 * pdsyrk) into nb × nb blocks, its eigen-decomposition with pdsyevd (all
 * pairs) or pdsyevr (top K), and the projections of given NC-vectors.
 *
 * The kernel stage reaches these through ttp_comm.gram (ttp_mpi_comm sets
 * it to ttp_scalapack_ops); tests and benchmarks may call them directly.
 * Memory per rank is O((NC·D′ + min(NC, D′)²)/P): no rank gathers Θ or the
 * eigenvectors unless asked (want_theta, want_vectors), and then only rank 0.
 * These functions take a ttp_comm from ttp_mpi_comm or ttp_mpi_self: BLACS
 * needs MPI even on one rank.
 */
#ifndef TTP_SCALAPACK_H
#define TTP_SCALAPACK_H

#include "ttp_gram.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The operations table for ttp_comm.gram. */
extern const ttp_gram_ops ttp_scalapack_ops;

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
ttp_status ttp_gram_load(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                         int64_t row_lo, int64_t nloc, const double *G, int nrhs, const double *R,
                         ttp_gram **out);
/*
 * ttp_gram_load with G owned: *G was allocated with malloc and the handle
 * takes it on every path (*G is NULL on return).  A shard that already is
 * the rank's equal row block, outside a node-shared window (one rank, or
 * shards that match), is kept as it is: no copy.  Otherwise its rows move
 * in pieces and each piece's memory is given back before the next, so G is
 * never held twice (peak: G plus 1/16 of it).  Results are those of
 * ttp_gram_load.  Collective.
 */
ttp_status ttp_gram_load_owned(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                               int64_t row_lo, int64_t nloc, double **G, int nrhs, const double *R,
                               ttp_gram **out);
/* Free the grid and the distributed arrays.  Collective (BLACS frees its
 * communicators); accepts NULL and sets *g to NULL. */
void ttp_gram_destroy(ttp_gram **g);
/* The BLACS grid shape chosen (for reports). */
void ttp_gram_grid(const ttp_gram *g, int *nprow, int *npcol);
/* The grid shape used for P ranks: nprow the largest divisor of P that is
 * at most √P, npcol = P / nprow (as square as P allows). */
void ttp_gram_grid_shape(int P, int *nprow, int *npcol);

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
ttp_status ttp_gram_decompose(ttp_ctx *ctx, ttp_gram *g, const ttp_gram_opts *opts, ttp_gram_result *res);
#ifdef __cplusplus
}
#endif
#endif /* TTP_SCALAPACK_H */
