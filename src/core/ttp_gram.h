/*
 * ttp_gram.h — the distributed Gram interface that the kernel stage calls:
 * given projected Jacobian rows G (NC × D′) sharded by rows over the ranks,
 * form the Gram matrix on whichever side is smaller (Θ = G Gᵀ, NC × NC, or
 * GᵀG, D′ × D′), decompose it, and project given NC-vectors on Θ's
 * eigenvectors (docs/METHOD.md, docs/large-n.md).
 *
 * The core only names the operations (ttp_gram_ops) and their options and
 * results; a communicator carries the implementation that runs over it
 * (ttp_comm.gram).  mpi/ implements it with BLACS and ScaLAPACK
 * (mpi/ttp_scalapack.h), so that nothing above mpi/ includes <mpi.h>.
 */
#ifndef TTP_GRAM_H
#define TTP_GRAM_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted ScaLAPACK block size: beyond it a 2-D block-cyclic layout
 * degenerates to one block per rank and the grid stops sharing the work. */
#define TTP_GRAM_MAX_BLOCK 4096
/* Default relative threshold for "non-zero" eigenvalues: λ > rel_tol·λmax·n. */
#define TTP_GRAM_REL_TOL 1e-12
/* ScaLAPACK's redistribution (pdgemr2d) sizes its buffers in 32-bit bytes:
 * one call moves less than 2^31 bytes or fails with "xxmr2d: out of
 * memory".  Gathers to rank 0 go in column pieces of at most this many
 * bytes (a margin below 2^31 for the library's own headers). */
#define TTP_GRAM_GATHER_BYTES ((int64_t)1 << 30)

/*
 * Columns per piece when an m × n column-major matrix is gathered in column
 * pieces of at most max_bytes (<= 0: TTP_GRAM_GATHER_BYTES; never above
 * it): *cols in [1, n].  TTP_ERR_UNSUPPORTED, with the sizes, when a single
 * column (8·m bytes) is already over the limit.  Not collective; pure size
 * arithmetic, so a caller can refuse before any heavy work.
 */
ttp_status ttp_gram_gather_cols(ttp_ctx *ctx, int64_t m, int64_t n, int64_t max_bytes, int64_t *cols);

/* Check a block size before any heavy work: 1 ≤ nb ≤ TTP_GRAM_MAX_BLOCK,
 * else TTP_ERR_ARG naming the value and the accepted range.  Not collective. */
ttp_status ttp_gram_check_block(ttp_ctx *ctx, int nb);

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
    int64_t top_k;              /* 0: every eigenpair (pdsyevd); K > 0: the K largest (pdsyevr) */
    int want_vectors;           /* gather the kept eigenvectors of Θ on rank 0          */
    int want_theta;             /* gather Θ (NC × NC) on rank 0                         */
    int side;                   /* -1 auto (the smaller), 0 the NC side, 1 the D′ side  */
    double rel_tol;             /* "non-zero" threshold; 0 means TTP_GRAM_REL_TOL       */
    ttp_gram_assembly assembly; /* how the Gram matrix is formed          */
    int64_t gather_bytes;       /* largest piece of a gather to rank 0, bytes;
                                   0: TTP_GRAM_GATHER_BYTES (tests pass less) */
    int no_eig;                 /* 1: form Θ only (NC side; gathered with want_theta): no
                                 eigenpairs, neig = 0; the caller needs Θ, not its spectrum */
} ttp_gram_opts;

/* What ttp_gram_decompose returns.  Arrays live on rank 0 only (NULL on the
 * other ranks); the scalars are valid on every rank. */
typedef struct ttp_gram_result {
    int side;      /* the side decomposed: 0 NC×NC, 1 D′×D′             */
    int64_t dim;   /* its order n (NC or D′)                             */
    int64_t ncomp; /* eigenpairs computed (n, or min(K, n) with top_k)   */
    int64_t neig;  /* of those, kept as non-zero: λ > rel_tol·λmax·n     */
    double lambda_max, lambda_min_kept;
    double *eigval;             /* neig, descending: eigenvalues of Θ = G Gᵀ          */
    double *eigvec;             /* NC × neig row-major (want_vectors), unit columns   */
    double *proj;               /* nrhs × neig row-major: p[r, k] = v_kᵀ R[:, r]      */
    double *theta;              /* NC × NC row-major (want_theta), symmetric          */
    double trace;               /* trace(Θ) = ‖G‖_F², every rank                      */
    double sec_gram, sec_eig;   /* wall seconds (this rank)                  */
    double sec_assemble;        /* of sec_gram: the SYRK/GEMM work itself, without
                                 redistribution and gathers (this rank)    */
    ttp_gram_assembly assembly; /* what formed Θ or GᵀG (never AUTO)     */
} ttp_gram_result;

/* Free a result's arrays (any rank) and zero it. */
void ttp_gram_result_clear(ttp_gram_result *res);

typedef struct ttp_gram ttp_gram; /* opaque: the implementation's grid and distributed G */

/*
 * The operations an implementation provides; their contracts are those of
 * ttp_gram_load, ttp_gram_decompose, ttp_gram_destroy and
 * ttp_gram_load_owned in mpi/ttp_scalapack.h.  All are collective over the communicator
 * that `load` was given.
 */
typedef struct ttp_gram_ops {
    const char *name; /* "scalapack" */
    ttp_status (*load)(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                       int64_t row_lo, int64_t nloc, const double *G, int nrhs, const double *R,
                       ttp_gram **out);
    ttp_status (*decompose)(ttp_ctx *ctx, ttp_gram *g, const ttp_gram_opts *opts, ttp_gram_result *res);
    void (*destroy)(ttp_gram **g);
    /* load taking ownership of *G (malloc'd; NULL on return): G is not held
     * twice (ttp_gram_load_owned) */
    ttp_status (*load_owned)(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                             int64_t row_lo, int64_t nloc, double **G, int nrhs, const double *R,
                             ttp_gram **out);
} ttp_gram_ops;

#ifdef __cplusplus
}
#endif
#endif /* TTP_GRAM_H */
