/*
 * gram_load.c — the ScaLAPACK Gram handle: BLACS grids, G and R loaded
 * into equal row blocks (rebalanced from the caller's shards), node-shared
 * windows for one-node runs, and the handle's destruction.  The design of
 * the whole implementation is in gram_impl.h.
 */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED) for gram_shm_release; before any header */
#include "gram_impl.h"

#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* A descriptor for a dense nb×nb block-cyclic matrix on the main grid. */
ttp_status gram_desc_grid(ttp_ctx *ctx, ttp_gram *g, int m, int n, int *desc, size_t *nlocal,
                          const char *what)
{
    int mloc = loc(m, g->nb, g->myrow, g->nprow), nloc = loc(n, g->nb, g->mycol, g->npcol);
    int lld = mloc > 1 ? mloc : 1, info = 0;
    descinit_(desc, &m, &n, &g->nb, &g->nb, &I0, &I0, &g->ctxt, &lld, &info);
    if (info != 0)
        return TTP_ERR(ctx, TTP_ERR_LAPACK, "descinit for %s (%d × %d, block %d): info %d", what, m, n, g->nb,
                       info);
    *nlocal = (size_t)lld * (size_t)(nloc > 0 ? nloc : 0);
    return TTP_OK;
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
const char *gram_shm_dir(void)
{
    const char *d = getenv("OMPI_MCA_osc_sm_backing_directory");
    return d != NULL && d[0] != '\0' ? d : "/dev/shm";
}

/* 1 when `bytes` (this rank's request; the node's total is summed) fit in
 * the backing directory with 5 % and 16 MiB to spare, else 0.  Collective. */
ttp_status gram_shm_room(ttp_ctx *ctx, ttp_gram *g, double bytes, int *ok, double *need, double *avail)
{
    ttp_status st = TTP_OK;
    struct statvfs sv;
    double v[2] = {bytes, 0.0};
    if (statvfs(gram_shm_dir(), &sv) == 0) v[1] = -(double)sv.f_bavail * (double)sv.f_frsize;
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
ttp_status gram_shm_alloc(ttp_ctx *ctx, ttp_gram *g, size_t n, int unit, const char *what, void *base,
                          MPI_Win *win)
{
    ttp_status st = TTP_OK;
    MPI_Info info = MPI_INFO_NULL;
    TTP_MPI(ctx, st, done, MPI_Info_create(&info), "MPI_Info_create");
    TTP_MPI(ctx, st, done, MPI_Info_set(info, "alloc_shared_noncontig", "true"), "MPI_Info_set");
    TTP_MPI(ctx, st, done,
            MPI_Win_allocate_shared((MPI_Aint)(n * (size_t)unit), unit, info, g->comm, base, win),
            "MPI_Win_allocate_shared of %zu × %d bytes for %s (in %s)", n, unit, what, gram_shm_dir());
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
void gram_shm_table(MPI_Win win, int P, double **part)
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
void gram_shm_release(MPI_Win win, int self, int P)
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
ttp_status gram_shm_fence(ttp_ctx *ctx, ttp_gram *g, MPI_Win *w, int nw, int open)
{
    ttp_status st = TTP_OK;
    for (int i = 0; open && i < nw; i++)
        TTP_MPI(ctx, st, done, MPI_Win_lock_all(MPI_MODE_NOCHECK, w[i]), "MPI_Win_lock_all");
    for (int i = 0; i < nw; i++) TTP_MPI(ctx, st, done, MPI_Win_sync(w[i]), "MPI_Win_sync");
    TTP_MPI(ctx, st, done, MPI_Barrier(g->comm), "MPI_Barrier of the shared-memory assembly");
    for (int i = 0; i < nw; i++) TTP_MPI(ctx, st, done, MPI_Win_sync(w[i]), "MPI_Win_sync");
    for (int i = 0; !open && i < nw; i++)
        TTP_MPI(ctx, st, done, MPI_Win_unlock_all(w[i]), "MPI_Win_unlock_all");
done:
    return st;
}

/*
 * Move row shards [lo_q, lo_q + n_q) to equal blocks: rank q receives rows
 * [q·mb, min((q+1)·mb, M)).  Rows are `width` doubles.  dst has room for mb
 * rows.  One MPI_Alltoallv with a row datatype, so counts stay in rows.
 */
/*
 * Piece r of npiece of that move: rank q sends the rows
 * [lo_q + ⌊n_q·r/npiece⌋, lo_q + ⌊n_q·(r+1)/npiece⌋) of its shard (src
 * still points at the shard's first row), every rank computing every
 * rank's piece alike.  In pieces, a caller that owns its shard can give
 * back the part already moved before the next piece (ttp_gram_load_owned),
 * so that G is not held twice.  Collective (one MPI_Alltoallv a piece).
 */
static void piece_of(int64_t lo, int64_t n, int npiece, int r, int64_t *a, int64_t *b)
{
    *a = lo + n * r / npiece;
    *b = lo + n * (r + 1) / npiece;
}

static ttp_status rebalance_piece(ttp_ctx *ctx, ttp_gram *g, const int64_t *lo, const int64_t *n, int mb,
                                  int width, const double *src, double *dst, int npiece, int r)
{
    ttp_status st = TTP_OK;
    int P = g->size, me = g->rank;
    int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
    MPI_Datatype row = MPI_DATATYPE_NULL;
    TTP_ALLOC(ctx, st, done, sc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, sd, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, rc, P, "alltoallv counts");
    TTP_ALLOC(ctx, st, done, rd, P, "alltoallv counts");
    int64_t mylo = (int64_t)me * mb, myhi = mylo + mb < g->M ? mylo + mb : g->M, plo, phi;
    if (myhi < mylo) myhi = mylo;
    piece_of(lo[me], n[me], npiece, r, &plo, &phi);
    for (int q = 0; q < P; q++) {
        /* what I send to q: my piece ∩ q's block */
        int64_t qlo = (int64_t)q * mb, qhi = qlo + mb < g->M ? qlo + mb : g->M;
        int64_t a = plo > qlo ? plo : qlo, b = phi < qhi ? phi : qhi;
        sc[q] = b > a ? (int)(b - a) : 0;
        sd[q] = b > a ? (int)(a - lo[me]) : 0;
        /* what I receive from q: q's piece ∩ my block */
        int64_t qa, qb;
        piece_of(lo[q], n[q], npiece, r, &qa, &qb);
        a = qa > mylo ? qa : mylo;
        b = qb < myhi ? qb : myhi;
        rc[q] = b > a ? (int)(b - a) : 0;
        rd[q] = b > a ? (int)(a - mylo) : 0;
    }
    TTP_MPI(ctx, st, done, MPI_Type_contiguous(width, MPI_DOUBLE, &row), "MPI_Type_contiguous(%d)", width);
    TTP_MPI(ctx, st, done, MPI_Type_commit(&row), "MPI_Type_commit");
    TTP_MPI(ctx, st, done, MPI_Alltoallv(src, sc, sd, row, dst, rc, rd, row, g->comm),
            "MPI_Alltoallv of rows of %d doubles", width);
done:
    if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    return st;
}

static ttp_status rebalance(ttp_ctx *ctx, ttp_gram *g, const int64_t *lo, const int64_t *n, int mb, int width,
                            const double *src, double *dst)
{
    return rebalance_piece(ctx, g, lo, n, mb, width, src, dst, 1, 0);
}

/* Pieces in which an owned shard is moved and given back (see
 * rebalance_piece): the shard and the equal-block copy overlap by at most
 * 1/LOAD_PIECES of G. */
#define LOAD_PIECES 16

/* Give back the rows [keep, ·) of an owned shard of `width`-double rows:
 * realloc shrinks a large block in place and unmaps its tail (glibc:
 * mremap), so the pages moved out stop counting. */
static void shrink_rows(double **own, int64_t keep, int width)
{
    if (keep <= 0) {
        free(*own);
        *own = NULL;
        return;
    }
    double *t = realloc(*own, sizeof **own * (size_t)keep * (size_t)width);
    if (t) *own = t; /* a failed shrink keeps the old block: harmless */
}

/* ttp_gram_load and ttp_gram_load_owned: own is NULL (G borrowed) or the
 * caller's pointer to G (the handle adopts or frees it on every path). */
static ttp_status load_impl(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                            int64_t row_lo, int64_t nloc, const double *G, double **own, int nrhs,
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
                       "with 32-bit integers)",
                       (long long)nrows, (long long)ncols, INT_MAX);
    if (nrhs < 0 || (nrhs > 0 && R == NULL && nloc > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG, "nrhs %d with %s right-hand sides", nrhs, R ? "given" : "no");

    TTP_ALLOC(ctx, st, fail, g, 1, "Gram state");
    g->sys = g->ctxt = g->ctxt_line = g->ctxt_root = g->ctxt_pcol = -1;
    g->comm = MPI_COMM_NULL;
    g->win_G = g->win_W = g->win_N = MPI_WIN_NULL;
    TTP_MPI(ctx, st, fail, MPI_Comm_dup(base, &g->comm), "MPI_Comm_dup");
    ttp_mpi_comm(&g->tc, &g->comm); /* g->comm stays put: g is on the heap */
    g->rank = g->tc.rank;
    g->size = g->tc.size;
    {
        MPI_Comm node = MPI_COMM_NULL;
        int nn = 0;
        TTP_MPI(ctx, st, fail,
                MPI_Comm_split_type(g->comm, MPI_COMM_TYPE_SHARED, g->rank, MPI_INFO_NULL, &node),
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
                             "%lld), expected to start at %lld",
                             q, (long long)lo[q], (long long)(lo[q] + cnt[q]), (long long)expect);
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
                      gram_shm_room(ctx, g, sizeof(double) * (double)mb * (double)g->K, &room, &g->shm_need,
                                    &g->shm_avail));
        if (room) {
            int *model = NULL, flag = 0;
            TTP_CALL_GOTO(ctx, st, fail,
                          gram_shm_alloc(ctx, g, (size_t)mb * (size_t)g->K, sizeof(double), "the rows of G",
                                         &g->Gu, &g->win_G));
            TTP_CALL_GOTO(
                ctx, st, fail,
                gram_shm_alloc(ctx, g, g->rank == 0, sizeof(int64_t), "a task counter", &g->N, &g->win_N));
            TTP_ALLOC(ctx, st, agreed_t, g->partG, P, "window table");
            TTP_ALLOC(ctx, st, agreed_t, g->partW, P, "window table");
        agreed_t:
            TTP_CALL_GOTO(ctx, st, fail, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
            gram_shm_table(g->win_G, P, g->partG);
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
    /* trace(Θ) = ‖G‖_F², from the rows this rank holds (before they move). */
    {
        double s = 0.0;
        const size_t nv = (size_t)nloc * (size_t)g->K;
        for (size_t i = 0; i < nv; i++) s += G[i] * G[i];
        TTP_MPI(ctx, st, fail, MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, g->comm),
                "MPI_Allreduce of ‖G‖²");
        g->frob2 = s;
    }
    /* An owned shard that already is this rank's equal block, outside a
     * node-shared window (one rank, or shards that match), is adopted: no
     * copy at all.  Every rank decides alike (uneven and the window are
     * collective facts). */
    const int adopt = own != NULL && !uneven && g->win_G == MPI_WIN_NULL;
    if (adopt) {
        double *t =
            realloc(*own, sizeof *t * ((size_t)mb * (size_t)g->K > 0 ? (size_t)mb * (size_t)g->K : 1));
        if (t == NULL) {
            st = TTP_ERR(ctx, TTP_ERR_NOMEM, "out of memory: equal-block rows of G (%d × %d doubles)", mb,
                         g->K);
        } else {
            g->Gu = t;
            *own = NULL;
        }
    } else if (g->win_G == MPI_WIN_NULL) {
        TTP_ALLOC(ctx, st, agreed0, g->Gu, (size_t)mb * (size_t)g->K, "equal-block rows of G");
    }
    if (nrhs > 0) TTP_ALLOC(ctx, st, agreed0, g->Ru, (size_t)mb * (size_t)nrhs, "equal-block rows of R");
agreed0:
    TTP_CALL_GOTO(ctx, st, fail, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    if (own != NULL && !adopt) {
        /* Moved in pieces from the shard's end, each piece's rows given back
         * before the next: at most 1/LOAD_PIECES of G is held twice. */
        for (int r = LOAD_PIECES - 1; r >= 0; r--) {
            TTP_CALL_GOTO(ctx, st, fail,
                          rebalance_piece(ctx, g, lo, cnt, mb, g->K, *own, g->Gu, LOAD_PIECES, r));
            int64_t a, b;
            piece_of(lo[g->rank], cnt[g->rank], LOAD_PIECES, r, &a, &b);
            shrink_rows(own, a - lo[g->rank], g->K);
        }
        if (nrhs > 0) TTP_CALL_GOTO(ctx, st, fail, rebalance(ctx, g, lo, cnt, mb, nrhs, R, g->Ru));
    } else if (uneven) {
        TTP_CALL_GOTO(ctx, st, fail, rebalance(ctx, g, lo, cnt, mb, g->K, G, g->Gu));
        if (nrhs > 0) TTP_CALL_GOTO(ctx, st, fail, rebalance(ctx, g, lo, cnt, mb, nrhs, R, g->Ru));
    } else if (nloc > 0) {
        if (!adopt) memcpy(g->Gu, G, sizeof *G * (size_t)nloc * (size_t)g->K);
        if (nrhs > 0) memcpy(g->Ru, R, sizeof *R * (size_t)nloc * (size_t)nrhs);
    }

    /* Block-cyclic B = Rᵀ (the NC side's projections) now; A = Gᵀ only for
     * the pdsyrk cross-check (ensure_A). */
    size_t nbl = 0;
    if (nrhs > 0) TTP_CALL_GOTO(ctx, st, fail, gram_desc_grid(ctx, g, nrhs, g->M, g->descB, &nbl, "Rᵀ"));
    if (nrhs > 0) TTP_ALLOC(ctx, st, agreed, g->B, nbl, "block-cyclic R");
agreed:
    TTP_CALL_GOTO(ctx, st, fail, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
    if (own != NULL) {
        free(*own);
        *own = NULL;
    }
    return st;
}

ttp_status ttp_gram_load(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                         int64_t row_lo, int64_t nloc, const double *G, int nrhs, const double *R,
                         ttp_gram **out)
{
    return load_impl(ctx, comm, block, nrows, ncols, row_lo, nloc, G, NULL, nrhs, R, out);
}

ttp_status ttp_gram_load_owned(ttp_ctx *ctx, const ttp_comm *comm, int block, int64_t nrows, int64_t ncols,
                               int64_t row_lo, int64_t nloc, double **G, int nrhs, const double *R,
                               ttp_gram **out)
{
    return load_impl(ctx, comm, block, nrows, ncols, row_lo, nloc, G ? *G : NULL, G, nrhs, R, out);
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
    if (g->win_G != MPI_WIN_NULL)
        MPI_Win_free(&g->win_G); /* Gu lives in it */
    else
        free(g->Gu);
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
