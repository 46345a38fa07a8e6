/*
 * gram_impl.h — private to mpi/gram_*.c: the ScaLAPACK Gram handle, the
 * BLACS/PBLAS/ScaLAPACK prototypes, and what the three parts of the
 * implementation share:
 *   gram_load.c      BLACS grids, ttp_gram_load (rebalance into equal row
 *                    blocks) and ttp_gram_destroy, node-shared windows;
 *   gram_assembly.c  the Gram matrix's assembly strategies, one entry per
 *                    ttp_gram_assembly (gram_strategy);
 *   gram_eig.c       ttp_gram_decompose: pdsyevd/pdsyevr, projections on the
 *                    eigenvectors, gathers onto rank 0.
 * Symbols with the gram_ prefix are internal to mpi/ (declared only here).
 *
 * Layouts.  The caller's row shards are first evened out to equal blocks of
 * mb = ⌈NC/P⌉ rows (Gu, and the same rows of R in Ru).  A rank's rows of G
 * are row-major, which is exactly the column-major storage of the same
 * columns of A = Gᵀ (D′ × NC), so Gu is a 1×P column-block layout of A and
 * one Cpdgemr2d gives the nb×nb block-cyclic A that PBLAS needs (built only
 * for the pdsyrk cross-check: it costs another copy of G).  The vectors to
 * project are also kept as B = Rᵀ (nrhs × NC, nb×nb blocks) for the NC side.
 *
 * Assembly (default): the NC side, when every rank is on one node, by
 * column-panel tasks of DSYRK/DGEMM taken from a shared counter, in MPI-3
 * node-shared windows that hold G and Θ's row blocks (node_nc); across
 * nodes by a ring of DSYRK/DGEMM over the row shards (ring_nc).  The D′
 * side by per-rank column blocks of G_rᵀG_r summed with MPI_Reduce
 * (panels_dp).  Then the lower triangle goes into nb×nb blocks with one
 * MPI_Alltoallv (tri_to_cyclic), or in shared memory by each rank copying
 * its own blocks out of the owners' rows (shm_to_cyclic).  PBLAS pdsyrk
 * on A (Θ = AᵀA, GᵀG = A Aᵀ) stays available as the cross-check
 * (TTP_GRAM_PDSYRK); it ran at about half this machine's DGEMM rate.  Per
 * rank, against DGEMM on all cores at once: 0.88–0.98 on one rank; on two,
 * 0.76–0.87 in shared memory (0.80–0.84 at the benchmark's default size)
 * and 0.53–0.78 for the ring (best of 3–5, two cores shared with other
 * work; benchmarks/README.md).
 * The D′ side's projections and eigenvectors of Θ come from Gu and Ru
 * directly (dp_project), which keeps its peak memory at the design's model.
 *
 * ScaLAPACK ships no C header: the prototypes below are written from its
 * reference sources (LP64: Fortran INTEGER is int; character arguments take
 * hidden size_t lengths, which the PBLAS C routines simply ignore).
 */
#ifndef TTP_GRAM_IMPL_H
#define TTP_GRAM_IMPL_H

#include "ttp_mpi.h"
#include "ttp_scalapack.h"

#include <stddef.h>
#include <stdint.h>

/* ---- BLACS / PBLAS / ScaLAPACK prototypes -------------------------------- */
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern void Cpdgemr2d(int m, int n, double *a, int ia, int ja, int *desca, double *b, int ib, int jb,
                      int *descb, int gctxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
                    const double *a, const int *ia, const int *ja, const int *desca, const double *beta,
                    double *c, const int *ic, const int *jc, const int *descc, size_t luplo, size_t ltrans);
extern void pdgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
                    const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
                    const double *b, const int *ib, const int *jb, const int *descb, const double *beta,
                    double *c, const int *ic, const int *jc, const int *descc, size_t la, size_t lb);
extern void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
                     const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz,
                     const int *descz, double *work, const int *lwork, int *iwork, const int *liwork,
                     int *info, size_t ljobz, size_t luplo);
extern void pdsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                     const int *ia, const int *ja, const int *desca, const double *vl, const double *vu,
                     const int *il, const int *iu, int *m, int *nz, double *w, double *z, const int *iz,
                     const int *jz, const int *descz, double *work, const int *lwork, int *iwork,
                     const int *liwork, int *info, size_t ljobz, size_t lrange, size_t luplo);

static const int I0 = 0, I1 = 1;
static const double D0 = 0.0, D1 = 1.0;

struct ttp_gram {
    MPI_Comm comm; /* private duplicate: BLACS traffic never meets the caller's */
    ttp_comm tc;   /* ttp_comm over comm: ttp_comm_agree on failures       */
    int rank, size;
    int sys;       /* BLACS system handle of comm                         */
    int ctxt;      /* nprow × npcol grid                                  */
    int ctxt_line; /* 1 × P grid: the row-shard layout, and the global context for Cpdgemr2d */
    int ctxt_root; /* 1 × 1 grid holding rank 0 (-1 on the others)        */
    int ctxt_pcol; /* P × 1 grid: Θ in row blocks after the ring assembly  */
    int nprow, npcol, myrow, mycol;
    int nb;
    int M, K, nrhs; /* G is M × K (NC × D′), R is M × nrhs                  */
    double *A;      /* Gᵀ, K × M, nb × nb blocks                           */
    int descA[9];
    double *B; /* Rᵀ, nrhs × M (NULL when nrhs == 0)                  */
    int descB[9];
    double frob2;  /* ‖G‖_F² = trace(Θ)                                   */
    int mb;        /* rows per rank in the equal-block row layout          */
    double *Gu;    /* this rank's rows [rank·mb, +nrow(rank)) of G, row-major */
    double *Ru;    /* the same rows of R, mb × nrhs row-major (NULL when nrhs == 0) */
    int one_node;  /* every rank shares one node's memory                  */
    MPI_Win win_G; /* on one node (P > 1): Gu is this rank's part of a
                           node-shared window that every rank can read        */
    MPI_Win win_W; /* node-shared work space: Θ's row blocks during the
                           assembly, then the eigenvectors (kept until destroy) */
    double *W;     /* this rank's part of win_W, nW doubles               */
    size_t nW;
    double **partG, **partW; /* every rank's part of win_G and win_W (P each) */
    MPI_Win win_N;           /* with win_G: node_nc's task counter, *N on rank 0     */
    int64_t *N;
    double shm_need, shm_avail; /* bytes asked for G on the node, and free, at load */
    int64_t gather_bytes;       /* piece size of gathers to rank 0 (ttp_gram_opts) */
};

/* Rows of G that rank q holds in the equal-block layout. */
static inline int nrow_of(const ttp_gram *g, int q)
{
    int64_t r = (int64_t)g->M - (int64_t)q * g->mb;
    return r <= 0 ? 0 : r < g->mb ? (int)r : g->mb;
}

/* Local rows/columns of a global dimension n (nb blocks) on process p of np. */
static inline int loc(int n, int nb, int p, int np)
{
    return numroc_(&n, &nb, &p, &I0, &np);
}

/* A descriptor filled by hand, for layouts on grids this rank may not be in
 * (Cpdgemr2d wants ctxt = -1 there and ignores the rest). */
static inline void desc_raw(int *desc, int ctxt, int m, int n, int mb, int nb, int lld)
{
    desc[0] = 1;
    desc[1] = ctxt;
    desc[2] = m;
    desc[3] = n;
    desc[4] = mb;
    desc[5] = nb;
    desc[6] = 0;
    desc[7] = 0;
    desc[8] = lld > 1 ? lld : 1;
}

/* ---- gram_load.c ------------------------------------------------------- */

/* A descriptor for a dense nb×nb block-cyclic m × n matrix on the main grid;
 * *nlocal: this rank's doubles of it.  Not collective. */
ttp_status gram_desc_grid(ttp_ctx *ctx, ttp_gram *g, int m, int n, int *desc, size_t *nlocal,
                          const char *what);

/* Node-shared windows (see gram_load.c).  The directory that holds them. */
const char *gram_shm_dir(void);
/* 1 in *ok when `bytes` (this rank's request; the node's total is summed)
 * fit in gram_shm_dir with 5 % and 16 MiB to spare.  Collective. */
ttp_status gram_shm_room(ttp_ctx *ctx, ttp_gram *g, double bytes, int *ok, double *need, double *avail);
/* n elements of `unit` bytes of this rank's in a new window over g->comm
 * (base: the address of a pointer).  Collective. */
ttp_status gram_shm_alloc(ttp_ctx *ctx, ttp_gram *g, size_t n, int unit, const char *what, void *base,
                          MPI_Win *win);
/* Every rank's part of a window (P pointers into part). */
void gram_shm_table(MPI_Win win, int P, double **part);
/* Drop the other ranks' parts of a window from this process's page tables. */
void gram_shm_release(MPI_Win win, int self, int P);
/* Open (open = 1) or close access to nw windows, with the unified model's
 * memory barrier.  Collective. */
ttp_status gram_shm_fence(ttp_ctx *ctx, ttp_gram *g, MPI_Win *w, int nw, int open);

/* ---- gram_eig.c -------------------------------------------------------- */

/* Gather the m × n submatrix of a distributed matrix at (ia, ja) onto rank 0
 * (column-major, leading dimension m).  Collective; *out is NULL elsewhere. */
ttp_status gram_gather_root(ttp_ctx *ctx, ttp_gram *g, int m, int n, double *a, int ia, int ja, int *desca,
                            double **out);

/* ---- gram_assembly.c --------------------------------------------------- */

/* One decomposition in progress: what ttp_gram_decompose hands the
 * assembly strategies. */
typedef struct gram_job {
    const ttp_gram_opts *opts;
    int side;  /* 0: Θ = G Gᵀ (NC × NC); 1: GᵀG (D′ × D′)               */
    int n;     /* order of the matrix decomposed                         */
    int kk;    /* eigenpairs to compute (n, or top_k when smaller)      */
    double *C; /* its lower triangle goes here, nb × nb blocks (descC)   */
    int descC[9];
    size_t nzl;    /* this rank's doubles of the eigenvectors: the shared
                       work space is sized to take them after Θ              */
    double t_pick; /* seconds gram_pick spent (a new shared window is part of
                       the NC side's assembly time)                          */
} gram_job;

/*
 * An assembly strategy: how the lower triangle of the Gram matrix reaches
 * job->C on each side.  Collective, every rank with the same strategy.
 *   nc     Θ = G Gᵀ into C (the NC side), and Θ gathered into res->theta
 *          on rank 0 when opts->want_theta; sets res->sec_assemble
 *   dp     GᵀG into C (the D′ side); sets res->sec_assemble
 *   theta  Θ alone into res->theta on rank 0 (the D′ side's want_theta)
 */
typedef struct gram_strategy {
    ttp_gram_assembly kind; /* reported in res->assembly */
    ttp_status (*nc)(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res);
    ttp_status (*dp)(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res);
    ttp_status (*theta)(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res);
} gram_strategy;

/* The strategy for job->opts->assembly: AUTO resolved to SHARED when the
 * node-shared work space is there (grown for Θ's row blocks and Z here),
 * RING otherwise; SHARED that cannot be had is an error saying why.  The
 * D′ side without Θ wanted uses no work space and reports RING.
 * Collective; the same strategy on every rank. */
ttp_status gram_pick(ttp_ctx *ctx, ttp_gram *g, gram_job *job, const gram_strategy **out);

#endif /* TTP_GRAM_IMPL_H */
