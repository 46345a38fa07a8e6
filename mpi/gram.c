/*
 * gram.c — the ScaLAPACK layer of the kernel builder: a BLACS grid, the
 * projected Jacobian G, the Gram matrix on the smaller side, its eigenpairs
 * with pdsyevd/pdsyevr, and the projections of given vectors on the
 * eigenvectors of Θ = G Gᵀ.
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
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED) for shm_release; before any header */
#include "ttp_scalapack.h"
#include "ttp_mpi.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- BLACS / PBLAS / ScaLAPACK prototypes -------------------------------- */
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern void Cpdgemr2d(int m, int n, double *a, int ia, int ja, int *desca, double *b, int ib,
                      int jb, int *descb, int gctxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
                   const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
                      const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
                      int *info);
extern void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                    const double *alpha, const double *a, const int *ia, const int *ja,
                    const int *desca, const double *beta, double *c, const int *ic, const int *jc,
                    const int *descc, size_t luplo, size_t ltrans);
extern void pdgemm_(const char *transa, const char *transb, const int *m, const int *n,
                    const int *k, const double *alpha, const double *a, const int *ia,
                    const int *ja, const int *desca, const double *b, const int *ib, const int *jb,
                    const int *descb, const double *beta, double *c, const int *ic, const int *jc,
                    const int *descc, size_t la, size_t lb);
extern void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
                     const int *ja, const int *desca, double *w, double *z, const int *iz,
                     const int *jz, const int *descz, double *work, const int *lwork, int *iwork,
                     const int *liwork, int *info, size_t ljobz, size_t luplo);
extern void pdsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                     const int *ia, const int *ja, const int *desca, const double *vl,
                     const double *vu, const int *il, const int *iu, int *m, int *nz, double *w,
                     double *z, const int *iz, const int *jz, const int *descz, double *work,
                     const int *lwork, int *iwork, const int *liwork, int *info, size_t ljobz,
                     size_t lrange, size_t luplo);

static const int I0 = 0, I1 = 1;
static const double D0 = 0.0, D1 = 1.0;

struct ttp_gram {
    MPI_Comm comm;      /* private duplicate: BLACS traffic never meets the caller's */
    int rank, size;
    int sys;            /* BLACS system handle of comm                         */
    int ctxt;           /* nprow × npcol grid                                  */
    int ctxt_line;      /* 1 × P grid: the row-shard layout, and the global context for Cpdgemr2d */
    int ctxt_root;      /* 1 × 1 grid holding rank 0 (-1 on the others)        */
    int ctxt_pcol;      /* P × 1 grid: Θ in row blocks after the ring assembly  */
    int nprow, npcol, myrow, mycol;
    int nb;
    int M, K, nrhs;     /* G is M × K (NC × D′), R is M × nrhs                  */
    double *A;          /* Gᵀ, K × M, nb × nb blocks                           */
    int descA[9];
    double *B;          /* Rᵀ, nrhs × M (NULL when nrhs == 0)                  */
    int descB[9];
    double frob2;       /* ‖G‖_F² = trace(Θ)                                   */
    int mb;             /* rows per rank in the equal-block row layout          */
    double *Gu;         /* this rank's rows [rank·mb, +nrow(rank)) of G, row-major */
    double *Ru;         /* the same rows of R, mb × nrhs row-major (NULL when nrhs == 0) */
    int one_node;       /* every rank shares one node's memory                  */
    MPI_Win win_G;      /* on one node (P > 1): Gu is this rank's part of a
                           node-shared window that every rank can read        */
    MPI_Win win_W;      /* node-shared work space: Θ's row blocks during the
                           assembly, then the eigenvectors (kept until destroy) */
    double *W;          /* this rank's part of win_W, nW doubles               */
    size_t nW;
    double **partG, **partW; /* every rank's part of win_G and win_W (P each) */
    MPI_Win win_N;      /* with win_G: node_nc's task counter, *N on rank 0     */
    int64_t *N;
    double shm_need, shm_avail; /* bytes asked for G on the node, and free, at load */
};

/* Rows of G that rank q holds in the equal-block layout. */
static int nrow_of(const ttp_gram *g, int q)
{
    int64_t r = (int64_t)g->M - (int64_t)q * g->mb;
    return r <= 0 ? 0 : r < g->mb ? (int)r : g->mb;
}

/* Local rows/columns of a global dimension n (nb blocks) on process p of np. */
static int loc(int n, int nb, int p, int np)
{
    return numroc_(&n, &nb, &p, &I0, &np);
}

/* Every rank learns whether any rank failed, so that nobody enters the next
 * collective alone; the ranks that did not fail report that another did. */
static ttp_status agree(ttp_ctx *ctx, MPI_Comm comm, ttp_status st)
{
    int v = (int)st;
    if (MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS && st == TTP_OK)
        return TTP_ERR(ctx, TTP_ERR_MPI, "MPI_Allreduce while agreeing on a failure");
    if (v != 0 && st == TTP_OK)
        return TTP_ERR(ctx, (ttp_status)v, "another rank failed in the Gram stage (%s); see its message",
                       ttp_status_str((ttp_status)v));
    return st;
}

/* A descriptor for a dense nb×nb block-cyclic matrix on the main grid. */
static ttp_status desc_grid(ttp_ctx *ctx, ttp_gram *g, int m, int n, int *desc, size_t *nlocal,
                            const char *what)
{
    int mloc = loc(m, g->nb, g->myrow, g->nprow), nloc = loc(n, g->nb, g->mycol, g->npcol);
    int lld = mloc > 1 ? mloc : 1, info = 0;
    descinit_(desc, &m, &n, &g->nb, &g->nb, &I0, &I0, &g->ctxt, &lld, &info);
    if (info != 0)
        return TTP_ERR(ctx, TTP_ERR_LAPACK, "descinit for %s (%d × %d, block %d): info %d", what, m, n,
                       g->nb, info);
    *nlocal = (size_t)lld * (size_t)(nloc > 0 ? nloc : 0);
    return TTP_OK;
}

/* A descriptor filled by hand, for layouts on grids this rank may not be in
 * (Cpdgemr2d wants ctxt = -1 there and ignores the rest). */
static void desc_raw(int *desc, int ctxt, int m, int n, int mb, int nb, int lld)
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

void ttp_gram_grid_shape(int P, int *nprow, int *npcol)
{
    int r = 1;
    for (int p = 1; p * p <= P; p++)
        if (P % p == 0) r = p;
    *nprow = r;
    *npcol = P / r;
}

void ttp_gram_grid(const ttp_gram *g, int *nprow, int *npcol)
{
    *nprow = g ? g->nprow : 0;
    *npcol = g ? g->npcol : 0;
}

/* ---- node-shared memory ----------------------------------------------------
 * When every rank runs on one node, the ring's traffic is pure copying: a
 * shard goes through the shared-memory transport, copied in by its sender
 * and out by its receiver, on the same cores that should be multiplying.
 * MPI-3 shared windows remove it: each rank's rows of G and its row block
 * of Θ live in one window per array (MPI_Win_allocate_shared), every rank
 * reads the shards it needs in place and writes each block it computes
 * straight into the row block of the rank that owns it (node_nc).
 *
 * The windows are files in a memory file system (Open MPI: osc_sm's
 * backing directory, /dev/shm unless OMPI_MCA_osc_sm_backing_directory
 * says otherwise).  An allocation that does not fit there leaves the other
 * ranks waiting forever instead of failing, so the free space is checked
 * first, with every rank's request summed. */
static const char *shm_dir(void)
{
    const char *d = getenv("OMPI_MCA_osc_sm_backing_directory");
    return d != NULL && d[0] != '\0' ? d : "/dev/shm";
}

/* 1 when `bytes` (this rank's request; the node's total is summed) fit in
 * the backing directory with 5 % and 16 MiB to spare, else 0.  Collective. */
static ttp_status shm_room(ttp_ctx *ctx, ttp_gram *g, double bytes, int *ok, double *need, double *avail)
{
    ttp_status st = TTP_OK;
    struct statvfs sv;
    double v[2] = {bytes, 0.0};
    if (statvfs(shm_dir(), &sv) == 0) v[1] = -(double)sv.f_bavail * (double)sv.f_frsize;
    TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_DOUBLE, MPI_SUM, g->comm),
            "MPI_Allreduce of shared-window sizes");
    TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, v + 1, 1, MPI_DOUBLE, MPI_MAX, g->comm),
            "MPI_Allreduce of free shared memory");
    *need = v[0];
    *avail = 0.0 - v[1]; /* not -0.0 when the directory could not be read */
    *ok = *need * 1.05 + 16.0 * 1048576.0 <= *avail;
done:
    return st;
}

/* n elements of `unit` bytes of this rank's in a new window over g->comm
 * (base: the address of a pointer).  alloc_shared_noncontig lets each
 * rank's part be placed on its own; the parts need not start on a page
 * boundary (Open MPI 4.1 puts them 264 bytes past one).  Collective. */
static ttp_status shm_alloc(ttp_ctx *ctx, ttp_gram *g, size_t n, int unit, const char *what, void *base, MPI_Win *win)
{
    ttp_status st = TTP_OK;
    MPI_Info info = MPI_INFO_NULL;
    TTP_MPI(ctx, st, done, MPI_Info_create(&info), "MPI_Info_create");
    TTP_MPI(ctx, st, done, MPI_Info_set(info, "alloc_shared_noncontig", "true"), "MPI_Info_set");
    TTP_MPI(ctx, st, done,
            MPI_Win_allocate_shared((MPI_Aint)(n * (size_t)unit), unit, info, g->comm, base, win),
            "MPI_Win_allocate_shared of %zu × %d bytes for %s (in %s)", n, unit, what, shm_dir());
done:
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    return st;
}

/* Rank q's part of a shared window, and its size in bytes. */
static double *shm_part(MPI_Win win, int q, MPI_Aint *bytes)
{
    int du;
    double *p = NULL;
    *bytes = 0;
    MPI_Win_shared_query(win, q, bytes, &du, &p);
    return p;
}

/* Every rank's part of a window (P pointers), looked up once: the loops of
 * node_nc and shm_to_cyclic index them per block. */
static void shm_table(MPI_Win win, int P, double **part)
{
    MPI_Aint bytes;
    for (int q = 0; q < P; q++) part[q] = shm_part(win, q, &bytes);
}

/* Drop the other ranks' parts of a window from this process's page tables
 * (MADV_DONTNEED on a shared mapping unmaps the pages; their contents stay
 * in the window).  Resident-set counts then charge each page to its owner
 * only: read or written once here, another rank's part would otherwise
 * count in this rank's RSS too, and per-process memory limits would see
 * the node's shared pages twice. */
static void shm_release(MPI_Win win, int self, int P)
{
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int q = 0; q < P; q++) {
        MPI_Aint size = 0;
        if (q == self) continue;
        const char *p = (const char *)shm_part(win, q, &size);
        const uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, b = ((uintptr_t)p + (uintptr_t)size) / pg * pg;
        if (p != NULL && b > a) madvise((void *)a, b - a, MADV_DONTNEED);
    }
}

/* Open or close access to the windows: a passive epoch on every one, and the
 * memory barrier (sync, barrier, sync) of MPI's unified model, so that what
 * any rank wrote before is seen by all after. */
static ttp_status shm_fence(ttp_ctx *ctx, ttp_gram *g, MPI_Win *w, int nw, int open)
{
    ttp_status st = TTP_OK;
    for (int i = 0; open && i < nw; i++)
        TTP_MPI(ctx, st, done, MPI_Win_lock_all(MPI_MODE_NOCHECK, w[i]), "MPI_Win_lock_all");
    for (int i = 0; i < nw; i++) TTP_MPI(ctx, st, done, MPI_Win_sync(w[i]), "MPI_Win_sync");
    TTP_MPI(ctx, st, done, MPI_Barrier(g->comm), "MPI_Barrier of the shared-memory assembly");
    for (int i = 0; i < nw; i++) TTP_MPI(ctx, st, done, MPI_Win_sync(w[i]), "MPI_Win_sync");
    for (int i = 0; !open && i < nw; i++) TTP_MPI(ctx, st, done, MPI_Win_unlock_all(w[i]), "MPI_Win_unlock_all");
done:
    return st;
}

/*
 * Move row shards [lo_q, lo_q + n_q) to equal blocks: rank q receives rows
 * [q·mb, min((q+1)·mb, M)).  Rows are `width` doubles.  dst has room for mb
 * rows.  One MPI_Alltoallv with a row datatype, so counts stay in rows.
 */
static ttp_status rebalance(ttp_ctx *ctx, ttp_gram *g, const int64_t *lo, const int64_t *n, int mb,
                            int width, const double *src, double *dst)
{
    ttp_status st = TTP_OK;
    int P = g->size, r = g->rank;
    int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
    MPI_Datatype row = MPI_DATATYPE_NULL;
    TTP_ALLOC(ctx, st, done, sc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, sd, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, rc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, rd, P, "alltoallv counts");
    int64_t mylo = (int64_t)r * mb, myhi = mylo + mb < g->M ? mylo + mb : g->M;
    if (myhi < mylo) myhi = mylo;
    for (int q = 0; q < P; q++) {
        /* what I send to q: my shard ∩ q's block */
        int64_t qlo = (int64_t)q * mb, qhi = qlo + mb < g->M ? qlo + mb : g->M;
        int64_t a = lo[r] > qlo ? lo[r] : qlo, b = lo[r] + n[r] < qhi ? lo[r] + n[r] : qhi;
        sc[q] = b > a ? (int)(b - a) : 0;
        sd[q] = b > a ? (int)(a - lo[r]) : 0;
        /* what I receive from q: q's shard ∩ my block */
        a = lo[q] > mylo ? lo[q] : mylo;
        b = lo[q] + n[q] < myhi ? lo[q] + n[q] : myhi;
        rc[q] = b > a ? (int)(b - a) : 0;
        rd[q] = b > a ? (int)(a - mylo) : 0;
    }
    TTP_MPI(ctx, st, done, MPI_Type_contiguous(width, MPI_DOUBLE, &row), "MPI_Type_contiguous(%d)", width);
    TTP_MPI(ctx, st, done, MPI_Type_commit(&row), "MPI_Type_commit");
    TTP_MPI(ctx, st, done,
            MPI_Alltoallv(src, sc, sd, row, dst, rc, rd, row, g->comm),
            "MPI_Alltoallv of rows of %d doubles", width);
done:
    if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    return st;
}

ttp_status ttp_gram_load(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows,
                         int64_t ncols, int64_t row_lo, int64_t nloc, const double *G, int nrhs,
                         const double *R, ttp_gram **out)
{
    ttp_status st = TTP_OK;
    ttp_gram *g = NULL;
    int64_t *lo = NULL, *cnt = NULL, mine[2] = {row_lo, nloc};
    MPI_Comm base = MPI_COMM_NULL;
    *out = NULL;

    TTP_CALL(ctx, ttp_gram_check_block(ctx, block));
    TTP_CALL(ctx, ttp_mpi_comm_of(ctx, comm, &base));
    if (nrows < 1 || ncols < 1 || nrows > INT_MAX || ncols > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "G is %lld × %lld: both dimensions must be in [1, %d] (ScaLAPACK indexes "
                       "with 32-bit integers)", (long long)nrows, (long long)ncols, INT_MAX);
    if (nrhs < 0 || (nrhs > 0 && R == NULL && nloc > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG, "nrhs %d with %s right-hand sides", nrhs, R ? "given" : "no");

    TTP_ALLOC(ctx, st, fail, g, 1, "Gram state");
    g->sys = g->ctxt = g->ctxt_line = g->ctxt_root = g->ctxt_pcol = -1;
    g->comm = MPI_COMM_NULL;
    g->win_G = g->win_W = g->win_N = MPI_WIN_NULL;
    TTP_MPI(ctx, st, fail, MPI_Comm_dup(base, &g->comm), "MPI_Comm_dup");
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    {
        MPI_Comm node = MPI_COMM_NULL;
        int nn = 0;
        TTP_MPI(ctx, st, fail, MPI_Comm_split_type(g->comm, MPI_COMM_TYPE_SHARED, g->rank, MPI_INFO_NULL, &node),
                "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
        MPI_Comm_size(node, &nn);
        MPI_Comm_free(&node);
        g->one_node = nn == g->size;
    }
    g->nb = block;
    g->M = (int)nrows;
    g->K = (int)ncols;
    g->nrhs = nrhs;
    const int P = g->size;
    if (nrows < P) {
        st = TTP_ERR(ctx, TTP_ERR_ARG, "more ranks (%d) than rows of G (%lld): run with at most %lld ranks",
                     P, (long long)nrows, (long long)nrows);
        goto fail;
    }

    /* Every rank's shard, to check the layout and plan the rebalance. */
    TTP_ALLOC(ctx, st, fail, lo, P, "shard table");
    TTP_ALLOC(ctx, st, fail, cnt, 2 * (size_t)P, "shard table");
    TTP_MPI(ctx, st, fail, MPI_Allgather(mine, 2, MPI_INT64_T, cnt, 2, MPI_INT64_T, g->comm),
            "MPI_Allgather of row shards");
    {
        int64_t expect = 0;
        for (int q = 0; q < P; q++) {
            lo[q] = cnt[2 * q];
            cnt[q] = cnt[2 * q + 1]; /* compact in place: q ≤ 2q+1 */
        }
        for (int q = 0; q < P; q++) {
            if (lo[q] != expect || cnt[q] < 0) {
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "row shards are not contiguous in rank order: rank %d holds rows [%lld, "
                             "%lld), expected to start at %lld", q, (long long)lo[q],
                             (long long)(lo[q] + cnt[q]), (long long)expect);
                goto fail;
            }
            expect += cnt[q];
        }
        if (expect != nrows) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "row shards cover %lld rows, G has %lld", (long long)expect,
                         (long long)nrows);
            goto fail;
        }
    }

    /* Grids: the main one as square as P allows (nprow ≤ npcol), a 1×P line
     * for the row-shard layout, and 1×1 on rank 0 for gathers. */
    ttp_gram_grid_shape(P, &g->nprow, &g->npcol);
    g->sys = Csys2blacs_handle(g->comm);
    g->ctxt = g->sys;
    Cblacs_gridinit(&g->ctxt, "Row", g->nprow, g->npcol);
    Cblacs_gridinfo(g->ctxt, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
    g->ctxt_line = g->sys;
    Cblacs_gridinit(&g->ctxt_line, "Row", 1, P);
    g->ctxt_root = g->sys;
    Cblacs_gridinit(&g->ctxt_root, "Row", 1, 1);
    g->ctxt_pcol = g->sys;
    Cblacs_gridinit(&g->ctxt_pcol, "Row", P, 1);
    if (g->myrow < 0 || g->mycol < 0) {
        st = TTP_ERR(ctx, TTP_ERR_MPI, "BLACS grid %d × %d: rank %d is not in it", g->nprow, g->npcol,
                     g->rank);
        goto fail;
    }
    {
        int r1, c1, mr, mc;
        Cblacs_gridinfo(g->ctxt_root, &r1, &c1, &mr, &mc);
        if (mr < 0) g->ctxt_root = -1; /* not a member: Cpdgemr2d wants -1 */
    }

    /* Equal row blocks of mb rows: rank q holds [q·mb, (q+1)·mb) in the line
     * layout.  Shards from ttp_shard differ from this by a few rows; when
     * they already match, G is used in place. */
    int mb = (g->M + P - 1) / P;
    int uneven = 0;
    for (int q = 0; q < P; q++) {
        int64_t qlo = (int64_t)q * mb, qhi = qlo + mb < g->M ? qlo + mb : g->M;
        if (qhi < qlo) qhi = qlo;
        if (lo[q] != qlo || cnt[q] != qhi - qlo) uneven = 1;
    }
    /* The equal-block copies of G and R stay in the handle: the ring
     * assembly and the D′ side's products work from them (the caller may
     * free its own rows on return). */
    g->mb = mb;
    if (P > 1 && g->one_node) { /* in node-shared memory when it fits (see node_nc) */
        int room = 0;
        TTP_CALL_GOTO(ctx, st, fail,
                      shm_room(ctx, g, sizeof(double) * (double)mb * (double)g->K, &room, &g->shm_need,
                               &g->shm_avail));
        if (room) {
            int *model = NULL, flag = 0;
            TTP_CALL_GOTO(ctx, st, fail,
                          shm_alloc(ctx, g, (size_t)mb * (size_t)g->K, sizeof(double), "the rows of G", &g->Gu,
                                    &g->win_G));
            TTP_CALL_GOTO(ctx, st, fail,
                          shm_alloc(ctx, g, g->rank == 0, sizeof(int64_t), "a task counter", &g->N, &g->win_N));
            TTP_ALLOC(ctx, st, agreed_t, g->partG, P, "window table");
            TTP_ALLOC(ctx, st, agreed_t, g->partW, P, "window table");
        agreed_t:
            TTP_CALL_GOTO(ctx, st, fail, agree(ctx, g->comm, st));
            shm_table(g->win_G, P, g->partG);
            /* node_nc's loads and stores need the unified memory model (the
             * same on every rank of one MPI library) */
            MPI_Win_get_attr(g->win_G, MPI_WIN_MODEL, &model, &flag);
            if (!flag || *model != MPI_WIN_UNIFIED) {
                MPI_Win_free(&g->win_G);
                MPI_Win_free(&g->win_N);
                free(g->partG);
                free(g->partW);
                g->Gu = NULL;
                g->N = NULL;
                g->partG = g->partW = NULL;
            }
        }
    }
    if (g->win_G == MPI_WIN_NULL)
        TTP_ALLOC(ctx, st, agreed0, g->Gu, (size_t)mb * (size_t)g->K, "equal-block rows of G");
    if (nrhs > 0) TTP_ALLOC(ctx, st, agreed0, g->Ru, (size_t)mb * (size_t)nrhs, "equal-block rows of R");
agreed0:
    TTP_CALL_GOTO(ctx, st, fail, agree(ctx, g->comm, st));
    if (uneven) {
        TTP_CALL_GOTO(ctx, st, fail, rebalance(ctx, g, lo, cnt, mb, g->K, G, g->Gu));
        if (nrhs > 0) TTP_CALL_GOTO(ctx, st, fail, rebalance(ctx, g, lo, cnt, mb, nrhs, R, g->Ru));
    } else if (nloc > 0) {
        memcpy(g->Gu, G, sizeof *G * (size_t)nloc * (size_t)g->K);
        if (nrhs > 0) memcpy(g->Ru, R, sizeof *R * (size_t)nloc * (size_t)nrhs);
    }

    /* trace(Θ) = ‖G‖_F², from the rows this rank holds. */
    {
        double s = 0.0;
        const size_t nv = (size_t)nloc * (size_t)g->K;
        for (size_t i = 0; i < nv; i++) s += G[i] * G[i];
        TTP_MPI(ctx, st, fail, MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, g->comm),
                "MPI_Allreduce of ‖G‖²");
        g->frob2 = s;
    }

    /* Block-cyclic B = Rᵀ (the NC side's projections) now; A = Gᵀ only for
     * the pdsyrk cross-check (ensure_A). */
    size_t nbl = 0;
    if (nrhs > 0) TTP_CALL_GOTO(ctx, st, fail, desc_grid(ctx, g, nrhs, g->M, g->descB, &nbl, "Rᵀ"));
    if (nrhs > 0) TTP_ALLOC(ctx, st, agreed, g->B, nbl, "block-cyclic R");
agreed:
    TTP_CALL_GOTO(ctx, st, fail, agree(ctx, g->comm, st));
    if (nrhs > 0) {
        int dl[9];
        desc_raw(dl, g->ctxt_line, nrhs, g->M, nrhs, mb, nrhs);
        Cpdgemr2d(nrhs, g->M, g->Ru, 1, 1, dl, g->B, 1, 1, g->descB, g->ctxt_line);
    }
    *out = g;
    g = NULL;
fail:
    ttp_gram_destroy(&g);
    free(lo);
    free(cnt);
    return st;
}

void ttp_gram_destroy(ttp_gram **gp)
{
    if (gp == NULL || *gp == NULL) return;
    ttp_gram *g = *gp;
    if (g->ctxt_root >= 0) Cblacs_gridexit(g->ctxt_root);
    if (g->ctxt_pcol >= 0 && g->ctxt_pcol != g->sys) Cblacs_gridexit(g->ctxt_pcol);
    if (g->ctxt_line >= 0 && g->ctxt_line != g->sys) Cblacs_gridexit(g->ctxt_line);
    if (g->ctxt >= 0 && g->ctxt != g->sys) Cblacs_gridexit(g->ctxt);
    if (g->sys >= 0) Cfree_blacs_system_handle(g->sys);
    if (g->win_G != MPI_WIN_NULL) MPI_Win_free(&g->win_G); /* Gu lives in it */
    else free(g->Gu);
    if (g->win_W != MPI_WIN_NULL) MPI_Win_free(&g->win_W);
    if (g->win_N != MPI_WIN_NULL) MPI_Win_free(&g->win_N);
    free(g->partG);
    free(g->partW);
    if (g->comm != MPI_COMM_NULL) MPI_Comm_free(&g->comm);
    free(g->A);
    free(g->B);
    free(g->Ru);
    free(g);
    *gp = NULL;
}

/*
 * Gather the m × n submatrix of a distributed matrix at (ia, ja) onto rank 0
 * (column-major, leading dimension m).  Collective; *out is NULL elsewhere.
 */
static ttp_status gather_root(ttp_ctx *ctx, ttp_gram *g, int m, int n, double *a, int ia, int ja,
                              int *desca, double **out)
{
    ttp_status st = TTP_OK;
    double *buf = NULL;
    int d[9];
    *out = NULL;
    if (g->rank == 0) TTP_ALLOC(ctx, st, agreed, buf, (size_t)m * (size_t)n, "gathered matrix on rank 0");
agreed:
    TTP_CALL(ctx, agree(ctx, g->comm, st));
    desc_raw(d, g->rank == 0 ? g->ctxt_root : -1, m, n, m, n, m);
    double one = 0.0;
    Cpdgemr2d(m, n, a, ia, ja, desca, buf ? buf : &one, 1, 1, d, g->ctxt_line);
    *out = buf;
    return TTP_OK;
}

/* Eigen-decomposition of the lower triangle of C (n × n), Z its vectors.
 * All pairs with pdsyevd, or the top kk with pdsyevr; *m receives how many
 * were computed, w (n entries, every rank) their values, ascending. */
static ttp_status eig(ttp_ctx *ctx, ttp_gram *g, int n, double *C, int *descC, double *Z,
                      int *descZ, int kk, double *w, int *m)
{
    ttp_status st = TTP_OK;
    double *work = NULL, wq = 0.0;
    int *iwork = NULL, iwq = 0, info = 0, lwork = -1, liwork = -1;
    const int use_evr = kk < n;
    const int il = n - kk + 1, iu = n;
    const double vl = 0.0, vu = 0.0;
    int nz = 0;
    const char *name = use_evr ? "pdsyevr" : "pdsyevd";

    if (use_evr)
        pdsyevr_("V", "I", "L", &n, C, &I1, &I1, descC, &vl, &vu, &il, &iu, m, &nz, w, Z, &I1, &I1,
                 descZ, &wq, &lwork, &iwq, &liwork, &info, 1, 1, 1);
    else
        pdsyevd_("V", "L", &n, C, &I1, &I1, descC, w, Z, &I1, &I1, descZ, &wq, &lwork, &iwq, &liwork,
                 &info, 1, 1);
    TTP_LAPACK(ctx, st, done, info, "%s workspace query (n = %d, block %d, grid %d × %d)", name, n,
               g->nb, g->nprow, g->npcol);
    /* Margins: some ScaLAPACK versions under-report pdsyevd's integer
     * workspace; the documented minimum is 7n + 8·npcol + 2. */
    /* pdsyevd's query misses what its back-transformation (pdormtr) needs
     * when the block is large next to n, and pdsyevd then returns info = 0
     * with untransformed vectors; so add pdormtr's documented requirement
     * max(nb(nb−1)/2, (nq + mp)·nb) + nb² on top. */
    const int mp = loc(n + g->nb, g->nb, g->myrow, g->nprow), nq = loc(n + g->nb, g->nb, g->mycol, g->npcol);
    double orm = (double)g->nb * (g->nb - 1) / 2.0;
    if ((double)(nq + mp) * g->nb > orm) orm = (double)(nq + mp) * g->nb;
    orm += (double)g->nb * g->nb;
    double lw = wq + orm + 2.0 * n + 1024.0;
    int64_t liw = iwq;
    if (!use_evr && liw < 7 * (int64_t)n + 8 * (int64_t)g->npcol + 2)
        liw = 7 * (int64_t)n + 8 * (int64_t)g->npcol + 2;
    if (lw > (double)INT_MAX || liw > INT_MAX) {
        st = TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                     "%s needs a workspace of %.0f doubles on a rank, beyond 32-bit indexing: use "
                     "more ranks or a smaller problem", name, lw);
        goto done;
    }
    lwork = (int)lw;
    liwork = (int)liw;
    TTP_ALLOC(ctx, st, agreed, work, (size_t)lwork, "ScaLAPACK eigensolver workspace");
    TTP_ALLOC(ctx, st, agreed, iwork, (size_t)liwork, "ScaLAPACK eigensolver integer workspace");
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    if (use_evr) {
        pdsyevr_("V", "I", "L", &n, C, &I1, &I1, descC, &vl, &vu, &il, &iu, m, &nz, w, Z, &I1, &I1,
                 descZ, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
        if (info == 0 && (*m != kk || nz != kk))
            info = n + 1; /* fewer pairs than asked: report it as a failure */
    } else {
        pdsyevd_("V", "L", &n, C, &I1, &I1, descC, w, Z, &I1, &I1, descZ, work, &lwork, iwork,
                 &liwork, &info, 1, 1);
        *m = n;
    }
    TTP_LAPACK(ctx, st, done, info, "%s (n = %d, block %d, grid %d × %d)", name, n, g->nb, g->nprow,
               g->npcol);
done:
    free(work);
    free(iwork);
    return st;
}

/* The block-cyclic A = Gᵀ (K × M, nb × nb) from the equal-block rows: the
 * 1×P column-block layout of A is exactly those rows, so one Cpdgemr2d.
 * Collective; a no-op once built. */
static ttp_status ensure_A(ttp_ctx *ctx, ttp_gram *g)
{
    ttp_status st = TTP_OK;
    size_t na = 0;
    int dl[9];
    if (g->A != NULL) return TTP_OK;
    TTP_CALL(ctx, desc_grid(ctx, g, g->K, g->M, g->descA, &na, "Gᵀ"));
    TTP_ALLOC(ctx, st, agreed, g->A, na, "block-cyclic G");
agreed:
    TTP_CALL(ctx, agree(ctx, g->comm, st));
    desc_raw(dl, g->ctxt_line, g->K, g->M, g->K, g->mb, g->K);
    Cpdgemr2d(g->K, g->M, g->Gu, 1, 1, dl, g->A, 1, 1, g->descA, g->ctxt_line);
    return TTP_OK;
}

/* Post the send (recv = 0) or the receive of a column-major rows × cols
 * block with ld = rows (counts in columns, so that a block of more than
 * INT_MAX doubles still goes as one message). */
static ttp_status post_block(ttp_ctx *ctx, ttp_gram *g, double *x, int rows, int cols, int peer, int tag,
                             int recv, MPI_Request *req)
{
    ttp_status st = TTP_OK;
    MPI_Datatype col = MPI_DATATYPE_NULL;
    const int n = rows == 0 || cols == 0 ? 0 : cols;
    if (n > 0) {
        TTP_MPI(ctx, st, done, MPI_Type_contiguous(rows, MPI_DOUBLE, &col), "MPI_Type_contiguous(%d)", rows);
        TTP_MPI(ctx, st, done, MPI_Type_commit(&col), "MPI_Type_commit");
    }
    if (recv)
        TTP_MPI(ctx, st, done, MPI_Irecv(x, n, n ? col : MPI_DOUBLE, peer, tag, g->comm, req),
                "MPI_Irecv of a %d × %d block from %d", rows, cols, peer);
    else
        TTP_MPI(ctx, st, done, MPI_Isend(x, n, n ? col : MPI_DOUBLE, peer, tag, g->comm, req),
                "MPI_Isend of a %d × %d block to %d", rows, cols, peer);
done:
    if (col != MPI_DATATYPE_NULL) MPI_Type_free(&col); /* freed once the transfer completes */
    return st;
}

/* Column panels of the local products in ring_nc while shards are in flight:
 * Open MPI's shared-memory transport moves a large message only inside MPI
 * calls, so the ranks call MPI_Testall between panels (≥ 128 columns keep
 * DGEMM at full rate with the D′-long contraction). */
enum { RING_PANELS = 8, RING_PANEL_MIN = 128 };

static int panel_width(int n, int nreq)
{
    const int w = (n + RING_PANELS - 1) / RING_PANELS;
    if (nreq == 0) return n > 0 ? n : 1;
    return w > RING_PANEL_MIN ? w : RING_PANEL_MIN;
}

/* C (m × n, ld ldc) = Aᵀ B, A K × m and B K × n column-major (ld K). */
static void gemm_tn(int m, int n, int K, const double *A, const double *B, double *C, int ldc, MPI_Request *req,
                    int nreq)
{
    const int pw = panel_width(n, nreq);
    for (int c0 = 0; c0 < n && m > 0; c0 += pw) {
        const int w = n - c0 < pw ? n - c0 : pw;
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, w, K, 1.0, A, K, B + (size_t)c0 * K, K, 0.0,
                    C + (size_t)c0 * ldc, ldc);
        if (nreq > 0) {
            int flag;
            MPI_Testall(nreq, req, &flag, MPI_STATUSES_IGNORE);
        }
    }
}

/* Lower triangle of C (n × n, ld ldc) = Aᵀ A, A K × n column-major (ld K):
 * per column panel, DSYRK on its diagonal block and DGEMM below it. */
static void syrk_tn(int n, int K, const double *A, double *C, int ldc, MPI_Request *req, int nreq)
{
    const int pw = panel_width(n, nreq);
    for (int c0 = 0; c0 < n; c0 += pw) {
        const int w = n - c0 < pw ? n - c0 : pw;
        cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, w, K, 1.0, A + (size_t)c0 * K, K, 0.0,
                    C + c0 + (size_t)c0 * ldc, ldc);
        if (n - c0 - w > 0)
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, n - c0 - w, w, K, 1.0, A + (size_t)(c0 + w) * K,
                        K, A + (size_t)c0 * K, K, 0.0, C + c0 + w + (size_t)c0 * ldc, ldc);
        if (nreq > 0) {
            int flag;
            MPI_Testall(nreq, req, &flag, MPI_STATUSES_IGNORE);
        }
    }
}

/*
 * NC side, lower triangle of Θ = G Gᵀ in row blocks: rank r receives
 * Θ[rows_r, :] (n_r × M, column-major, leading dimension max(1, n_r)) in T.
 *
 * Why not pdsyrk: PBLAS updates C in rank-32/64 panels, which ran at about
 * half of this machine's DGEMM rate (benchmarks/README.md); here every block
 * is a DSYRK/DGEMM with the full D′ contraction.  The row shards travel
 * around a ring; at step j rank r holds shard s = r − j and computes block
 * (r, s).  Steps 0..⌊P/2⌋ cover every lower block exactly once: block
 * (r, s) with s < r locally, and an upper one (r, s > r) for rank s, which
 * needs Θ[rows_s, rows_r] = G_s G_rᵀ: that is computed directly (operands
 * swapped), in the receiver's layout with its leading dimension n_s, so it
 * lands by MPI_Irecv straight in the receiver's T, posted before any work.
 * With P even the block at distance P/2 is split in two halves between its
 * two ranks, so the work stays balanced.  The next shard moves while the
 * current one is used (MPI_Isend/MPI_Irecv, progressed between panels of
 * the product), so the ring's traffic hides behind DSYRK/DGEMM.
 * Memory: two shards and at most ⌊P/2⌋ outgoing blocks, O((NC·D′ + NC²)/P).
 */
static ttp_status ring_nc(ttp_ctx *ctx, ttp_gram *g, double *T)
{
    ttp_status st = TTP_OK;
    const int P = g->size, r = g->rank, K = g->K, mb = g->mb, nr = nrow_of(g, r);
    const int ldt = nr > 1 ? nr : 1, jmax = P / 2;
    double *buf[2] = {NULL, NULL}, **xs = NULL;
    MPI_Request *req = NULL; /* [0..1] the shard in flight, then the Θ blocks */
    MPI_Datatype row = MPI_DATATYPE_NULL;
    int nreq = 2;
    /* Step 0 works on this rank's own rows; later steps on shards received
     * into two alternating buffers (none needed on one rank). */
    if (jmax >= 1) TTP_ALLOC(ctx, st, agreed, buf[0], (size_t)mb * K, "ring buffer");
    if (jmax >= 2) TTP_ALLOC(ctx, st, agreed, buf[1], (size_t)mb * K, "ring buffer");
    TTP_ALLOC(ctx, st, agreed, xs, P, "ring blocks");
    TTP_ALLOC(ctx, st, agreed, req, 2 * (size_t)P + 2, "ring requests");
    for (int i = 0; i < 2 * P + 2; i++) req[i] = MPI_REQUEST_NULL;
    for (int j = 1; j <= jmax; j++) /* the outgoing blocks, allocated before any traffic */
        if ((r - j + P) % P > r || (P % 2 == 0 && j == jmax && r < P / 2))
            TTP_ALLOC(ctx, st, agreed, xs[j], (size_t)mb * mb, "outgoing Θ block");
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    TTP_MPI(ctx, st, done, MPI_Type_contiguous(K, MPI_DOUBLE, &row), "MPI_Type_contiguous(%d)", K);
    TTP_MPI(ctx, st, done, MPI_Type_commit(&row), "MPI_Type_commit");
    /* The blocks other ranks compute for this one, from q = r + j at step j:
     * n_r × rows, ld n_r, which is T's own layout at columns q·mb.. */
    for (int j = 1; j <= jmax; j++) {
        const int q = (r + j) % P, tie = P % 2 == 0 && j == jmax;
        if (tie ? r < P / 2 : q >= r) continue;
        const int rows = tie ? nrow_of(g, q) / 2 : nrow_of(g, q);
        TTP_CALL_GOTO(ctx, st, done,
                      post_block(ctx, g, T + (size_t)q * mb * ldt, nr, rows, q, j, 1, &req[nreq++]));
    }
    const double *cur = g->Gu;
    for (int j = 0; j <= jmax; j++) {
        const int s = (r - j + P) % P, ns = nrow_of(g, s);
        const int tie = P % 2 == 0 && j == jmax && j > 0;
        double *Ts = T + (size_t)s * mb * ldt; /* columns of block s */
        if (j < jmax) { /* the next shard moves while this one is used (sending it only reads it) */
            TTP_MPI(ctx, st, done, MPI_Irecv(buf[j % 2], mb, row, (r - 1 + P) % P, 1000 + j, g->comm, &req[0]),
                    "MPI_Irecv of a shard around the ring (step %d)", j);
            TTP_MPI(ctx, st, done, MPI_Isend(cur, mb, row, (r + 1) % P, 1000 + j, g->comm, &req[1]),
                    "MPI_Isend of a shard around the ring (step %d)", j);
        }
        /* every transfer still pending progresses during this step's product */
        const int np = j < jmax ? nreq : 0;
        if (j == 0) {
            if (nr > 0) syrk_tn(nr, K, g->Gu, Ts, ldt, req, np);
        } else if (tie && r < P / 2) { /* Θ[rows_s, first half of rows_r], for rank s */
            const int h = nr / 2, lds = ns > 1 ? ns : 1;
            if (h > 0 && ns > 0) gemm_tn(ns, h, K, cur, g->Gu, xs[j], lds, req, np);
            TTP_CALL_GOTO(ctx, st, done, post_block(ctx, g, xs[j], ns, h, s, j, 0, &req[nreq++]));
        } else if (tie) { /* (r, s), s = r − P/2: the columns past the sender's half */
            const int hs = ns / 2;
            if (nr > 0 && ns - hs > 0)
                gemm_tn(nr, ns - hs, K, g->Gu, cur + (size_t)hs * K, Ts + (size_t)hs * ldt, ldt, req, np);
        } else if (s < r) {
            if (nr > 0 && ns > 0) gemm_tn(nr, ns, K, g->Gu, cur, Ts, ldt, req, np);
        } else { /* upper block: rank s stores Θ[rows_s, rows_r] = G_s G_rᵀ */
            const int lds = ns > 1 ? ns : 1;
            if (nr > 0 && ns > 0) gemm_tn(ns, nr, K, cur, g->Gu, xs[j], lds, req, np);
            TTP_CALL_GOTO(ctx, st, done, post_block(ctx, g, xs[j], ns, nr, s, j, 0, &req[nreq++]));
        }
        if (j < jmax) {
            TTP_MPI(ctx, st, done, MPI_Waitall(2, req, MPI_STATUSES_IGNORE),
                    "MPI_Waitall of a shard around the ring (step %d)", j);
            cur = buf[j % 2];
        }
    }
    TTP_MPI(ctx, st, done, MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE), "MPI_Waitall of ring blocks");
    nreq = 0;
done:
    if (req != NULL && nreq > 0) MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
    if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
    for (int j = 0; xs && j < P; j++) free(xs[j]);
    free(xs);
    free(req);
    free(buf[0]);
    free(buf[1]);
    return st;
}

/*
 * The same lower triangle of Θ when every rank is on one node (G in
 * g->win_G, T each rank's part of g->win_W): no messages, and no fixed
 * schedule either.  Each rank's rows are cut into chunks of about
 * NODE_CHUNK rows; task k is the column panel of chunk k below the
 * diagonal, Θ[rows ≥ chunk k, chunk k]: DSYRK on its diagonal block, then
 * one DGEMM per row block under it, written straight into the owner's T,
 * reading the shards where their ranks keep them.  The ranks take tasks in
 * order from a shared counter (MPI_Fetch_and_op), largest first, so that a
 * rank slowed by anything (a busy core, a slower socket) simply takes fewer;
 * the last tasks are the smallest, which keeps the finish even.
 */
enum { NODE_CHUNK = 256 };

static ttp_status node_nc(ttp_ctx *ctx, ttp_gram *g)
{
    ttp_status st = TTP_OK;
    const int P = g->size, K = g->K, mb = g->mb;
    MPI_Win wins[3] = {g->win_G, g->win_W, g->win_N};
    int *own = NULL, *c0 = NULL, *cw = NULL, nk = 0, open = 0;
    const int64_t one = 1;
    for (int q = 0; q < P; q++) nk += (nrow_of(g, q) + NODE_CHUNK - 1) / NODE_CHUNK;
    TTP_ALLOC(ctx, st, agreed, own, nk > 0 ? nk : 1, "chunk table");
    TTP_ALLOC(ctx, st, agreed, c0, nk > 0 ? nk : 1, "chunk table");
    TTP_ALLOC(ctx, st, agreed, cw, nk > 0 ? nk : 1, "chunk table");
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    /* chunks of near-equal size within each rank's rows, in global order */
    for (int q = 0, k = 0; q < P; q++) {
        const int n = nrow_of(g, q), m = (n + NODE_CHUNK - 1) / NODE_CHUNK;
        for (int i = 0; i < m; i++, k++) {
            own[k] = q;
            c0[k] = q * mb + (int)((int64_t)n * i / m);
            cw[k] = q * mb + (int)((int64_t)n * (i + 1) / m) - c0[k];
        }
    }
    if (g->rank == 0) *g->N = 0; /* the task counter, visible to all after the fence */
    TTP_CALL_GOTO(ctx, st, done, shm_fence(ctx, g, wins, 3, 1));
    open = 1;
    for (;;) {
        int64_t k = 0;
        TTP_MPI(ctx, st, done, MPI_Fetch_and_op(&one, &k, MPI_INT64_T, 0, 0, MPI_SUM, g->win_N),
                "MPI_Fetch_and_op on the task counter");
        TTP_MPI(ctx, st, done, MPI_Win_flush(0, g->win_N), "MPI_Win_flush of the task counter");
        if (k >= nk) break;
        const int q = own[k], w = cw[k], j0 = c0[k], lo = j0 - q * mb; /* lo: row within rank q's block */
        const double *Gk = g->partG[q] + (size_t)lo * K;
        for (int p = q; p < P; p++) {
            const int np = nrow_of(g, p), ld = np > 1 ? np : 1, r0 = p == q ? lo + w : 0;
            double *Tp = g->partW[p] + (size_t)j0 * ld;
            if (p == q) cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, w, K, 1.0, Gk, K, 0.0, Tp + lo, ld);
            if (np - r0 > 0)
                gemm_tn(np - r0, w, K, g->partG[p] + (size_t)r0 * K, Gk, Tp + r0, ld, NULL, 0);
        }
    }
    open = 0;
    TTP_CALL_GOTO(ctx, st, done, shm_fence(ctx, g, wins, 3, 0));
    shm_release(g->win_G, g->rank, P); /* the other shards are not read again */
done:
    for (int i = 0; open && i < 3; i++) MPI_Win_unlock_all(wins[i]); /* after a failure: no barrier */
    free(own);
    free(c0);
    free(cw);
    return st;
}

/*
 * D′ side, lower triangle of GᵀG = Σ_r G_rᵀ G_r in column blocks: rank q
 * receives columns [q·kb, q·kb + w_q) (K × w_q, column-major, ld K) in W.
 * Each rank forms its contribution to one column block at a time (DSYRK on
 * the diagonal block, DGEMM below it) and the blocks are summed onto their
 * owner with MPI_Reduce: one reduction of K²/2 values in all, memory
 * 2·K·kb per rank.
 */
static ttp_status panels_dp(ttp_ctx *ctx, ttp_gram *g, int kb, double *W)
{
    ttp_status st = TTP_OK;
    const int P = g->size, r = g->rank, K = g->K, nr = nrow_of(g, r);
    double *Y = NULL;
    TTP_ALLOC(ctx, st, agreed, Y, (size_t)K * kb, "Gram column block");
agreed:
    TTP_CALL(ctx, agree(ctx, g->comm, st));
    for (int q = 0; q < P; q++) {
        const int c0 = q * kb, w = K - c0 < kb ? K - c0 : kb, h = K - c0;
        if (w <= 0) break;
        /* A_r = G_rᵀ is K × nr column-major (ld K): rows c0.. are its columns c0.. of G_r. */
        if (nr > 0) {
            cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, w, nr, 1.0, g->Gu + c0, K, 0.0, Y, h);
            if (h > w)
                cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, h - w, w, nr, 1.0, g->Gu + c0 + w, K,
                            g->Gu + c0, K, 0.0, Y + w, h);
        } else {
            memset(Y, 0, sizeof *Y * (size_t)h * w);
        }
        /* Open MPI's MPI_SUM takes only basic types: chunks of doubles. */
        const size_t tot = (size_t)h * (size_t)w, chunk = (size_t)1 << 28;
        for (size_t off = 0; off < tot; off += chunk) {
            const int cnt = (int)(tot - off < chunk ? tot - off : chunk);
            TTP_MPI(ctx, st, done,
                    MPI_Reduce(r == q ? MPI_IN_PLACE : Y + off, r == q ? Y + off : NULL, cnt, MPI_DOUBLE,
                               MPI_SUM, q, g->comm),
                    "MPI_Reduce of Gram column block %d (%d × %d)", q, h, w);
        }
        if (r == q)
            for (int c = 0; c < w; c++)
                memcpy(W + (size_t)c * K + c0, Y + (size_t)c * h, sizeof *W * (size_t)h);
    }
done:
    free(Y);
    return st;
}

/*
 * Move the lower triangle of a symmetric n × n matrix from a one-dimensional
 * layout into C (nb × nb block-cyclic, descC).  Rank q holds the contiguous
 * range [q·bs, q·bs + len_q) of rows (major 'R': element (i, j) at
 * (i − lo) + j·ld) or of columns ('C': at i + (j − lo)·ld).
 *
 * Why not Cpdgemr2d: it moved Θ at ~0.4 GB/s here, a third of the whole
 * Gram stage at two ranks; this is one MPI_Alltoallv of the lower triangle
 * only (half the data), with each side walking its own entries once in the
 * same (column, row) order, so nothing but the values travels.
 */
static ttp_status tri_to_cyclic(ttp_ctx *ctx, ttp_gram *g, char major, int n, int bs, const double *src,
                                int ld, double *C, const int *descC)
{
    ttp_status st = TTP_OK;
    const int P = g->size, r = g->rank, nb = g->nb, pr = g->nprow, pc = g->npcol;
    const int lldc = descC[8];
    int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL, *cur = NULL;
    double *sb = NULL, *rb = NULL;
    TTP_ALLOC(ctx, st, agreed, sc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, agreed, sd, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, agreed, rc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, agreed, rd, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, agreed, cur, P, "alltoallv cursors");
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    const int lo = r * bs, hi = lo + bs < n ? lo + bs : n;
    /* the entries this rank holds: columns j, rows i ≥ j, in (j, i) order */
    int64_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            int64_t off = 0;
            for (int q = 0; q < P; q++) {
                if (off > INT_MAX || sc[q] < 0) break;
                sd[q] = (int)off;
                cur[q] = (int)off;
                off += sc[q];
            }
            if (off > INT_MAX) {
                st = TTP_ERR(ctx, TTP_ERR_UNSUPPORTED, "a rank sends %lld Gram entries, beyond 32-bit MPI "
                             "counts: use more ranks", (long long)off);
                break;
            }
            total = off;
            TTP_ALLOC(ctx, st, agreed2, sb, total, "send buffer of the Gram redistribution");
        }
        const int j0 = major == 'R' ? 0 : lo, j1 = major == 'R' ? (hi < n ? hi : n) : hi;
        for (int j = j0; j < j1; j++) {
            const int i0 = major == 'R' ? (lo > j ? lo : j) : j, i1 = major == 'R' ? hi : n;
            const double *colp = major == 'R' ? src + (size_t)j * ld - lo : src + (size_t)(j - lo) * ld;
            const int pcj = (j / nb) % pc;
            /* runs of rows within one block share the destination */
            for (int i = i0; i < i1;) {
                const int end = ((i / nb) + 1) * nb < i1 ? ((i / nb) + 1) * nb : i1;
                const int q = ((i / nb) % pr) * pc + pcj;
                if (pass == 0) {
                    sc[q] += end - i;
                } else {
                    memcpy(sb + cur[q], colp + i, sizeof *sb * (size_t)(end - i));
                    cur[q] += end - i;
                }
                i = end;
            }
        }
    }
agreed2:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    TTP_MPI(ctx, st, done, MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, g->comm), "MPI_Alltoall of counts");
    {
        int64_t off = 0;
        for (int q = 0; q < P; q++) {
            rd[q] = (int)off;
            off += rc[q];
        }
        TTP_ALLOC(ctx, st, agreed3, rb, off, "receive buffer of the Gram redistribution");
    }
agreed3:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    TTP_MPI(ctx, st, done, MPI_Alltoallv(sb, sc, sd, MPI_DOUBLE, rb, rc, rd, MPI_DOUBLE, g->comm),
            "MPI_Alltoallv of the Gram matrix's lower triangle");
    free(sb);
    sb = NULL;
    /* Unpack: for each source q, my columns ascending, my rows ascending,
     * restricted to q's range and the lower triangle (q's own order). */
    {
        const int ncl = loc(n, nb, g->mycol, pc);
        for (int q = 0; q < P; q++) {
            const int qlo = q * bs, qhi = qlo + bs < n ? qlo + bs : n;
            const double *in = rb + rd[q];
            int64_t k = 0;
            if (qlo >= qhi) continue;
            /* local indices of a global range: numroc of its ends */
            const int lj0 = major == 'C' ? loc(qlo, nb, g->mycol, pc) : 0;
            const int lj1 = major == 'C' ? loc(qhi, nb, g->mycol, pc) : ncl;
            for (int lj = lj0; lj < lj1; lj++) {
                const int j = ((lj / nb) * pc + g->mycol) * nb + lj % nb;
                const int imin = major == 'R' ? (qlo > j ? qlo : j) : j, imax = major == 'R' ? qhi : n;
                if (imin >= imax) continue;
                const int li0 = loc(imin, nb, g->myrow, pr), li1 = loc(imax, nb, g->myrow, pr);
                if (li1 <= li0) continue;
                memcpy(C + li0 + (size_t)lj * lldc, in + k, sizeof *C * (size_t)(li1 - li0));
                k += li1 - li0;
            }
            if (k != rc[q]) {
                st = TTP_ERR(ctx, TTP_ERR_INTERNAL, "Gram redistribution: %lld entries placed from rank %d, "
                             "%d received", (long long)k, q, rc[q]);
                break;
            }
        }
    }
done:
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    free(cur);
    free(sb);
    free(rb);
    return st;
}

/*
 * D′ side: projections Pᵀ = Σ⁻¹ W_Kᵀ (Gᵀ R) and eigenvectors U = G W_K Σ⁻¹
 * of Θ from the row shards Gu and Ru, into res->proj and res->eigvec on
 * rank 0 (want_vectors).  W_K is columns jz .. jz+neig−1 of Z (ascending).
 * Collective.
 *
 * Why not PBLAS on a block-cyclic A = Gᵀ: building A from the row shards
 * (Cpdgemr2d) costs another copy of G and, while it moves, a buffer of the
 * same size, which made the D′ side's peak 2.4–3.1× the design's model.
 * Here S = Gᵀ R = Σ_r G_rᵀ R_r is one local DGEMM and one MPI_Reduce of
 * D′ × nrhs values; W_K travels in panels of pb columns (gathered on rank 0,
 * put in descending order and scaled by 1/σ_k there, then broadcast), so
 * that each panel of U is one local DGEMM on the rank's rows that lands in
 * rank 0's row-major eigvec by MPI_Gatherv with a strided receive type:
 * no gathered copy of U and no transposition.  Memory per rank: D′·pb for
 * the panel of W, mb·pb for its rows of U, besides the results on rank 0.
 */
static ttp_status dp_project(ttp_ctx *ctx, ttp_gram *g, double *Z, int *descZ, int jz, int neig,
                             int want_vectors, ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    const int K = g->K, nrhs = g->nrhs, nr = nrow_of(g, g->rank), root = g->rank == 0;
    /* ⌈D′/P⌉ keeps the panel of W within the D′²/P of Z; 128 columns keep a
     * panel of U well below the rank's rows of G while DGEMM still runs at
     * full rate (its inner dimension is D′). */
    int pb = (K + g->size - 1) / g->size;
    if (pb > 128) pb = 128;
    if (pb > neig) pb = neig;
    double *S = NULL, *Wp = NULL, *Up = NULL;
    int *cnt = NULL, *dsp = NULL, dw[9];
    MPI_Datatype col = MPI_DATATYPE_NULL, row = MPI_DATATYPE_NULL, piece = MPI_DATATYPE_NULL;
    if (root && nrhs > 0) TTP_ALLOC(ctx, st, agreed, res->proj, (size_t)nrhs * (size_t)neig, "projections");
    if (root && want_vectors)
        TTP_ALLOC(ctx, st, agreed, res->eigvec, (size_t)g->M * (size_t)neig, "eigenvectors");
    if (nrhs > 0) TTP_ALLOC(ctx, st, agreed, S, (size_t)K * nrhs, "Gᵀ R");
    TTP_ALLOC(ctx, st, agreed, Wp, (size_t)K * pb, "panel of eigenvectors of GᵀG");
    if (want_vectors) {
        TTP_ALLOC(ctx, st, agreed, Up, (size_t)pb * (nr > 0 ? nr : 1), "panel of eigenvectors of Θ");
        TTP_ALLOC(ctx, st, agreed, cnt, g->size, "gather counts");
        TTP_ALLOC(ctx, st, agreed, dsp, g->size, "gather displacements");
    }
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    if (nrhs > 0) {
        /* S (D′ × nrhs, column-major) = G_rᵀ R_r: row-major Gu and Ru are
         * G_rᵀ and R_rᵀ column-major */
        if (nr > 0)
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, K, nrhs, nr, 1.0, g->Gu, K, g->Ru, nrhs, 0.0,
                        S, K);
        for (int c = 0; c < nrhs; c++) /* a column at a time: MPI counts are int, D′ is */
            TTP_MPI(ctx, st, done,
                    MPI_Reduce(root ? MPI_IN_PLACE : S + (size_t)c * K, root ? S + (size_t)c * K : NULL, K,
                               MPI_DOUBLE, MPI_SUM, 0, g->comm),
                    "MPI_Reduce of Gᵀ R (column %d of %d)", c, nrhs);
    }
    TTP_MPI(ctx, st, done, MPI_Type_contiguous(K, MPI_DOUBLE, &col), "MPI_Type_contiguous(%d)", K);
    TTP_MPI(ctx, st, done, MPI_Type_commit(&col), "MPI_Type_commit");
    for (int q = 0; want_vectors && q < g->size; q++) {
        cnt[q] = nrow_of(g, q);
        dsp[q] = q * g->mb;
    }
    desc_raw(dw, root ? g->ctxt_root : -1, K, pb, K, pb, K);
    for (int k0 = 0; k0 < neig; k0 += pb) {
        const int w = neig - k0 < pb ? neig - k0 : pb;
        /* pairs k0 .. k0+w−1 (descending) are columns jz+neig−k0−w .. of Z (ascending) */
        Cpdgemr2d(K, w, Z, 1, jz + neig - k0 - w, descZ, Wp, 1, 1, dw, g->ctxt_line);
        if (root) {
            for (int c = 0; c < w - 1 - c; c++)
                for (int i = 0; i < K; i++) {
                    const double t = Wp[(size_t)c * K + i];
                    Wp[(size_t)c * K + i] = Wp[(size_t)(w - 1 - c) * K + i];
                    Wp[(size_t)(w - 1 - c) * K + i] = t;
                }
            for (int c = 0; c < w; c++) cblas_dscal(K, 1.0 / sqrt(res->eigval[k0 + c]), Wp + (size_t)c * K, 1);
            /* projections k0.. : rows k0.. of proj viewed column-major (neig × nrhs) */
            if (nrhs > 0)
                cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, w, nrhs, K, 1.0, Wp, K, S, K, 0.0,
                            res->proj + k0, neig);
        }
        if (!want_vectors) continue;
        TTP_MPI(ctx, st, done, MPI_Bcast(Wp, w, col, 0, g->comm), "MPI_Bcast of %d eigenvectors of GᵀG", w);
        /* this rank's rows of U's columns k0.. as w × nr column-major = nr × w row-major */
        if (nr > 0)
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, w, nr, K, 1.0, Wp, K, g->Gu, K, 0.0, Up, w);
        /* a row of the panel: w doubles, which on rank 0 repeat every neig */
        TTP_MPI(ctx, st, done, MPI_Type_contiguous(w, MPI_DOUBLE, &row), "MPI_Type_contiguous(%d)", w);
        TTP_MPI(ctx, st, done, MPI_Type_create_resized(row, 0, (MPI_Aint)sizeof(double) * neig, &piece),
                "MPI_Type_create_resized");
        TTP_MPI(ctx, st, done, MPI_Type_commit(&row), "MPI_Type_commit");
        TTP_MPI(ctx, st, done, MPI_Type_commit(&piece), "MPI_Type_commit");
        TTP_MPI(ctx, st, done,
                MPI_Gatherv(Up, nr, row, root ? res->eigvec + k0 : NULL, cnt, dsp, piece, 0, g->comm),
                "MPI_Gatherv of eigenvectors %d..%d of Θ", k0, k0 + w - 1);
        MPI_Type_free(&row);
        MPI_Type_free(&piece);
    }
done:
    if (col != MPI_DATATYPE_NULL) MPI_Type_free(&col);
    if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
    if (piece != MPI_DATATYPE_NULL) MPI_Type_free(&piece);
    free(S);
    free(Wp);
    free(Up);
    free(cnt);
    free(dsp);
    return st;
}

/*
 * tri_to_cyclic for Θ assembled by node_nc: each rank copies the lower
 * triangle of its own nb × nb blocks of C straight from the row blocks in
 * the shared work space, without packing or messages.  Ends with a barrier:
 * the work space then holds the eigenvectors, and no rank may write them
 * while another still reads Θ.
 */
static ttp_status shm_to_cyclic(ttp_ctx *ctx, ttp_gram *g, double *C, const int *descC)
{
    const int n = g->M, nb = g->nb, pr = g->nprow, pc = g->npcol, mb = g->mb, lldc = descC[8];
    const int nrl = loc(n, nb, g->myrow, pr), ncl = loc(n, nb, g->mycol, pc);
    MPI_Win win = g->win_W;
    TTP_CALL(ctx, shm_fence(ctx, g, &win, 1, 1));
    for (int lj = 0; lj < ncl; lj++) {
        const int j = ((lj / nb) * pc + g->mycol) * nb + lj % nb;
        for (int lb = 0; lb * nb < nrl; lb++) { /* local row blocks, from the diagonal down */
            const int i0 = (lb * pr + g->myrow) * nb, i1 = i0 + (nrl - lb * nb < nb ? nrl - lb * nb : nb);
            for (int i = i0 > j ? i0 : j; i < i1;) { /* runs within one owner's rows */
                const int q = i / mb, end = (q + 1) * mb < i1 ? (q + 1) * mb : i1;
                const int nq = nrow_of(g, q), ldq = nq > 1 ? nq : 1;
                memcpy(C + (lb * nb + (i - i0)) + (size_t)lj * lldc,
                       g->partW[q] + (i - q * mb) + (size_t)j * ldq, sizeof *C * (size_t)(end - i));
                i = end;
            }
        }
    }
    return shm_fence(ctx, g, &win, 1, 0);
}

/* Whether the NC side is assembled in node-shared memory (see node_nc):
 * AUTO when G is in a node-shared window (all ranks on one node, and room
 * for it at load) and the work space fits, SHARED or an error saying why
 * not, RING never.  The work space (nw doubles on this rank: Θ's row
 * block, later the eigenvectors) is kept in the handle and grown here.
 * Collective; *shm is the same on every rank. */
static ttp_status shm_work(ttp_ctx *ctx, ttp_gram *g, int assembly, size_t nw, int *shm)
{
    ttp_status st = TTP_OK;
    double need = 0.0, avail = 0.0;
    int grow = nw > g->nW, room = 1;
    *shm = 0;
    if (assembly == TTP_GRAM_RING || assembly == TTP_GRAM_PDSYRK) return TTP_OK;
    if (g->win_G == MPI_WIN_NULL) {
        if (assembly == TTP_GRAM_SHARED && !g->one_node)
            return TTP_ERR(ctx, TTP_ERR_ARG, "shared-memory assembly: the %d ranks are not all on one node; "
                           "use the ring (assembly ring) or auto", g->size);
        if (assembly == TTP_GRAM_SHARED)
            return TTP_ERR(ctx, TTP_ERR_NOMEM,
                           "shared-memory assembly: G's rows need %.1f MiB in %s, %.1f MiB are free there "
                           "(5 %% and 16 MiB kept spare)%s; use the ring (assembly ring) or auto",
                           g->shm_need / 1048576.0, shm_dir(), g->shm_avail / 1048576.0,
                           g->shm_avail > 0 ? "" : ", or it could not be read");
        return TTP_OK;
    }
    TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, &grow, 1, MPI_INT, MPI_MAX, g->comm),
            "MPI_Allreduce of the work space");
    if (grow) {
        if (g->win_W != MPI_WIN_NULL) MPI_Win_free(&g->win_W);
        g->W = NULL;
        g->nW = 0;
        TTP_CALL(ctx, shm_room(ctx, g, sizeof(double) * (double)nw, &room, &need, &avail));
        if (!room && assembly == TTP_GRAM_SHARED)
            return TTP_ERR(ctx, TTP_ERR_NOMEM,
                           "shared-memory assembly: Θ's row blocks need %.1f MiB in %s, %.1f MiB are free "
                           "there (5 %% and 16 MiB kept spare); use the ring (assembly ring) or auto",
                           need / 1048576.0, shm_dir(), avail / 1048576.0);
        if (room) {
            TTP_CALL(ctx, shm_alloc(ctx, g, nw, sizeof(double), "Θ's row block", &g->W, &g->win_W));
            g->nW = nw;
            shm_table(g->win_W, g->size, g->partW);
            /* first touch by the owner: its pages sit on its own socket,
             * and node_nc's tasks do not stall on page faults */
            memset(g->W, 0, sizeof *g->W * nw);
        }
    }
    *shm = room;
done:
    return st;
}

/* Free Θ's row blocks unless they are C itself (one rank, in place) or the
 * handle's work space. */
static void free_rows(double **T, const double *C, const double *W)
{
    if (*T != C && *T != W) free(*T);
    *T = NULL;
}

ttp_status ttp_gram_decompose(ttp_ctx *ctx, ttp_gram *g, const ttp_gram_opts *opts,
                              ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    double *C = NULL, *Z = NULL, *T = NULL, *w = NULL, *Pt = NULL, *V = NULL;
    double *gath = NULL;
    int descC[9], descZ[9], descT[9], descP[9];
    int shm = 0; /* node-shared assembly: T, then Z, in the handle's work space */
    memset(res, 0, sizeof *res);

    const int side = opts->side < 0 ? (g->M <= g->K ? 0 : 1) : opts->side;
    if (side != 0 && side != 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "side %d: expected -1 (auto), 0 (NC × NC) or 1 (D′ × D′)",
                       opts->side);
    if (opts->top_k < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "top-k %lld: expected 0 (all) or a positive count",
                       (long long)opts->top_k);
    if (opts->assembly < TTP_GRAM_AUTO || opts->assembly > TTP_GRAM_SHARED)
        return TTP_ERR(ctx, TTP_ERR_ARG, "assembly %d: expected 0 (auto), 1 (pdsyrk), 2 (ring) or 3 (shared)",
                       opts->assembly);
    const int n = side == 0 ? g->M : g->K;
    const int kk = opts->top_k > 0 && opts->top_k < n ? (int)opts->top_k : n;
    const double rel_tol = opts->rel_tol > 0 ? opts->rel_tol : TTP_GRAM_REL_TOL;
    res->side = side;
    res->dim = n;
    res->trace = g->frob2;

    /* ---- Gram matrix ---------------------------------------------------- */
    double t0 = ttp_time();
    size_t nc = 0, nzl = 0;
    TTP_CALL(ctx, desc_grid(ctx, g, n, n, descC, &nc, "the Gram matrix"));
    TTP_CALL(ctx, desc_grid(ctx, g, n, n, descZ, &nzl, "the eigenvectors"));
    TTP_ALLOC(ctx, st, agreed, C, nc, "distributed Gram matrix");
    TTP_ALLOC(ctx, st, agreed, w, n, "eigenvalues");
agreed:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    if (opts->assembly == TTP_GRAM_PDSYRK) TTP_CALL_GOTO(ctx, st, done, ensure_A(ctx, g));
    res->assembly = opts->assembly == TTP_GRAM_PDSYRK ? TTP_GRAM_PDSYRK : TTP_GRAM_RING;
    if (opts->assembly == TTP_GRAM_PDSYRK) {
        /* PBLAS: NC side C = Aᵀ A = G Gᵀ, D′ side C = A Aᵀ = Gᵀ G (lower). */
        const int k = side == 0 ? g->K : g->M;
        double ta = ttp_time();
        pdsyrk_("L", side == 0 ? "T" : "N", &n, &k, &D1, g->A, &I1, &I1, g->descA, &D0, C, &I1, &I1, descC,
                1, 1);
        res->sec_assemble = ttp_time() - ta;
        if (opts->want_theta) {
            double *tsrc = C;
            int *tdesc = descC;
            if (side == 1) {
                size_t nt = 0;
                TTP_CALL_GOTO(ctx, st, done, desc_grid(ctx, g, g->M, g->M, descT, &nt, "Θ"));
                TTP_ALLOC(ctx, st, agreed_t, T, nt, "distributed Θ");
            agreed_t:
                TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
                pdsyrk_("L", "T", &g->M, &g->K, &D1, g->A, &I1, &I1, g->descA, &D0, T, &I1, &I1, descT, 1, 1);
                tsrc = T;
                tdesc = descT;
            }
            TTP_CALL_GOTO(ctx, st, done, gather_root(ctx, g, g->M, g->M, tsrc, 1, 1, tdesc, &res->theta));
        }
    } else {
        /* Θ in row blocks (node_nc in the shared work space, or ring_nc)
         * when it is the matrix decomposed or asked for; GᵀG in column
         * blocks; then their lower triangle into nb × nb blocks
         * (shm_to_cyclic or tri_to_cyclic). */
        const int nr = nrow_of(g, g->rank), ldt = nr > 1 ? nr : 1;
        const int kb = (g->K + g->size - 1) / g->size;
        /* On one rank the row/column-block layouts are C's own layout:
         * assemble in place, without a copy or a redistribution. */
        const int inplace = g->size == 1;
        int d1[9];
        double ta = ttp_time();
        if ((side == 0 || opts->want_theta) && !inplace) {
            const size_t nt = (size_t)ldt * g->M;
            TTP_CALL_GOTO(ctx, st, done, shm_work(ctx, g, opts->assembly, nt > nzl ? nt : nzl, &shm));
            if (shm) {
                res->assembly = TTP_GRAM_SHARED;
                T = g->W;
            }
        }
        const double t_shm = ttp_time() - ta; /* a new window: part of the assembly */
        if (side == 0 || opts->want_theta) {
            if (inplace && side == 0) T = C;
            else if (!shm) TTP_ALLOC(ctx, st, agreed_r, T, (size_t)ldt * g->M, "Θ row block");
        }
        if (side == 1) {
            if (inplace) V = C;
            else TTP_ALLOC(ctx, st, agreed_r, V, (size_t)g->K * kb, "Gram column block");
        }
    agreed_r:
        TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
        if (T) {
            ta = ttp_time();
            TTP_CALL_GOTO(ctx, st, done, shm ? node_nc(ctx, g) : ring_nc(ctx, g, T));
            if (side == 0) res->sec_assemble = ttp_time() - ta + t_shm;
            desc_raw(d1, g->ctxt_pcol, g->M, g->M, g->mb, g->M, ldt);
            if (opts->want_theta) /* before shm_to_cyclic's barrier lets the eigenvectors in */
                TTP_CALL_GOTO(ctx, st, done, gather_root(ctx, g, g->M, g->M, T, 1, 1, d1, &res->theta));
            if (side == 0 && shm)
                TTP_CALL_GOTO(ctx, st, done, shm_to_cyclic(ctx, g, C, descC));
            else if (side == 0 && T != C)
                TTP_CALL_GOTO(ctx, st, done, tri_to_cyclic(ctx, g, 'R', n, g->mb, T, ldt, C, descC));
            if (shm) shm_release(g->win_W, g->rank, g->size); /* this rank has done with Θ's other rows */
        }
        if (side == 1) {
            ta = ttp_time();
            TTP_CALL_GOTO(ctx, st, done, panels_dp(ctx, g, kb, V));
            res->sec_assemble = ttp_time() - ta;
            if (V != C) TTP_CALL_GOTO(ctx, st, done, tri_to_cyclic(ctx, g, 'C', n, kb, V, g->K, C, descC));
        }
        if (V != C) free(V);
        V = NULL;
    }
    free_rows(&T, C, g->W);
    if (res->theta) { /* rank 0: mirror the lower triangle (column-major = row-major upper) */
        const size_t M = (size_t)g->M;
        for (size_t j = 0; j < M; j++)
            for (size_t i = j + 1; i < M; i++) res->theta[i * M + j] = res->theta[j * M + i];
    }
    res->sec_gram = ttp_time() - t0;

    /* ---- eigenpairs ----------------------------------------------------- */
    t0 = ttp_time();
    /* Z only now: the assembly's buffers are gone, so the peak stays lower. */
    if (shm && nzl <= g->nW) Z = g->W; /* Θ's row blocks are spent: their pages are warm */
    else TTP_ALLOC(ctx, st, agreed_z, Z, nzl, "distributed eigenvectors");
agreed_z:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    int m = 0;
    TTP_CALL_GOTO(ctx, st, done, eig(ctx, g, n, C, descC, Z, descZ, kk, w, &m));
    /* pdsyevd leaves w unsorted on a process that holds no block of the
     * matrix (seen with nb·npcol > n); rank 0 always holds the first block,
     * so its copy is the one every rank uses. */
    TTP_MPI(ctx, st, done, MPI_Bcast(w, m, MPI_DOUBLE, 0, g->comm), "MPI_Bcast of %d eigenvalues", m);
    free(C);
    C = NULL;
    res->ncomp = m;
    const double lmax = m > 0 ? w[m - 1] : 0.0;
    const double thr = rel_tol * (lmax > 0 ? lmax : 0.0) * (double)n;
    int neig = 0;
    while (neig < m && lmax > 0 && w[m - 1 - neig] > thr) neig++;
    res->neig = neig;
    res->lambda_max = lmax;
    res->lambda_min_kept = neig > 0 ? w[m - neig] : 0.0;
    /* Kept pairs are columns jz .. jz+neig-1 of Z (ascending order). */
    const int jz = m - neig + 1;

    if (g->rank == 0) {
        TTP_ALLOC(ctx, st, agreed_e, res->eigval, neig, "eigenvalues");
        for (int k = 0; k < neig; k++) res->eigval[k] = w[m - 1 - k];
    }
agreed_e:
    TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));

    /* Projections and eigenvectors of Θ.  D′ side: from the row shards
     * (dp_project).  NC side: Pᵀ (nrhs × neig) = Rᵀ V, and the columns of Z. */
    if (side == 1 && neig > 0 && (g->nrhs > 0 || opts->want_vectors)) {
        TTP_CALL_GOTO(ctx, st, done, dp_project(ctx, g, Z, descZ, jz, neig, opts->want_vectors, res));
    } else if (side == 0 && g->nrhs > 0 && neig > 0) {
        size_t np = 0;
        TTP_CALL_GOTO(ctx, st, done, desc_grid(ctx, g, g->nrhs, neig, descP, &np, "projections"));
        TTP_ALLOC(ctx, st, agreed_p, Pt, np, "distributed projections");
    agreed_p:
        TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
        pdgemm_("N", "N", &g->nrhs, &neig, &g->M, &D1, g->B, &I1, &I1, g->descB, Z, &I1, &jz, descZ, &D0, Pt,
                &I1, &I1, descP, 1, 1);
        TTP_CALL_GOTO(ctx, st, done, gather_root(ctx, g, g->nrhs, neig, Pt, 1, 1, descP, &gath));
        if (g->rank == 0) {
            TTP_ALLOC(ctx, st, agreed_q, res->proj, (size_t)g->nrhs * (size_t)neig, "projections");
            for (int r = 0; r < g->nrhs; r++)
                for (int k = 0; k < neig; k++)
                    res->proj[(size_t)r * (size_t)neig + (size_t)k] =
                        gath[(size_t)r + (size_t)(neig - 1 - k) * (size_t)g->nrhs];
        }
    agreed_q:
        free(gath);
        gath = NULL;
        TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    }
    if (side == 0 && opts->want_vectors && neig > 0) {
        TTP_CALL_GOTO(ctx, st, done, gather_root(ctx, g, g->M, neig, Z, 1, jz, descZ, &gath));
        if (g->rank == 0) {
            TTP_ALLOC(ctx, st, agreed_w, res->eigvec, (size_t)g->M * (size_t)neig, "eigenvectors");
            const size_t M = (size_t)g->M;
            for (int k = 0; k < neig; k++) {
                const double *col = gath + (size_t)(neig - 1 - k) * M;
                for (size_t i = 0; i < M; i++) res->eigvec[i * (size_t)neig + (size_t)k] = col[i];
            }
        }
    agreed_w:
        TTP_CALL_GOTO(ctx, st, done, agree(ctx, g->comm, st));
    }
    res->sec_eig = ttp_time() - t0;

done:
    free_rows(&T, C, g->W); /* T and V may alias C (one-rank in-place assembly) */
    if (V != C) free(V);
    free(C);
    if (Z != g->W) free(Z);
    free(w);
    free(Pt);
    free(gath);
    if (st != TTP_OK) ttp_gram_result_clear(res);
    return st;
}

const ttp_gram_ops ttp_scalapack_ops = {"scalapack", ttp_gram_load, ttp_gram_decompose, ttp_gram_destroy};
