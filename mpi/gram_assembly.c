/*
 * gram_assembly.c — the Gram matrix's assembly strategies, one per
 * ttp_gram_assembly (the table at the end): each forms the lower triangle
 * of Θ = G Gᵀ (NC side) or GᵀG (D′ side) in nb × nb blocks for the
 * eigensolver, and Θ on rank 0 when it is asked for.
 *   SHARED  node_nc: column-panel tasks in node-shared windows, then
 *           shm_to_cyclic; the D′ side by panels_dp
 *   RING    ring_nc: the row shards passed around a ring, then
 *           tri_to_cyclic; the D′ side by panels_dp
 *   PDSYRK  PBLAS pdsyrk on a block-cyclic copy of Gᵀ (the cross-check)
 * The reasons for each are in gram_impl.h and at the functions.
 */
#include "gram_impl.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The block-cyclic A = Gᵀ (K × M, nb × nb) from the equal-block rows: the
 * 1×P column-block layout of A is exactly those rows, so one Cpdgemr2d.
 * Collective; a no-op once built. */
static ttp_status ensure_A(ttp_ctx *ctx, ttp_gram *g)
{
    ttp_status st = TTP_OK;
    size_t na = 0;
    int dl[9];
    if (g->A != NULL) return TTP_OK;
    TTP_CALL(ctx, gram_desc_grid(ctx, g, g->K, g->M, g->descA, &na, "Gᵀ"));
    TTP_ALLOC(ctx, st, agreed, g->A, na, "block-cyclic G");
agreed:
    TTP_CALL(ctx, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
static void gemm_tn(int m, int n, int K, const double *A, const double *B, double *C, int ldc,
                    MPI_Request *req, int nreq)
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
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, n - c0 - w, w, K, 1.0,
                        A + (size_t)(c0 + w) * K, K, A + (size_t)c0 * K, K, 0.0,
                        C + c0 + w + (size_t)c0 * ldc, ldc);
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
            TTP_MPI(ctx, st, done,
                    MPI_Irecv(buf[j % 2], mb, row, (r - 1 + P) % P, 1000 + j, g->comm, &req[0]),
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
    TTP_CALL_GOTO(ctx, st, done, gram_shm_fence(ctx, g, wins, 3, 1));
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
            if (p == q)
                cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, w, K, 1.0, Gk, K, 0.0, Tp + lo, ld);
            if (np - r0 > 0) gemm_tn(np - r0, w, K, g->partG[p] + (size_t)r0 * K, Gk, Tp + r0, ld, NULL, 0);
        }
    }
    open = 0;
    TTP_CALL_GOTO(ctx, st, done, gram_shm_fence(ctx, g, wins, 3, 0));
    gram_shm_release(g->win_G, g->rank, P); /* the other shards are not read again */
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
    TTP_CALL(ctx, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
                st = TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                             "a rank sends %lld Gram entries, beyond 32-bit MPI "
                             "counts: use more ranks",
                             (long long)off);
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
                st = TTP_ERR(ctx, TTP_ERR_INTERNAL,
                             "Gram redistribution: %lld entries placed from rank %d, "
                             "%d received",
                             (long long)k, q, rc[q]);
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
    TTP_CALL(ctx, gram_shm_fence(ctx, g, &win, 1, 1));
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
    return gram_shm_fence(ctx, g, &win, 1, 0);
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
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "shared-memory assembly: the %d ranks are not all on one node; "
                           "use the ring (assembly ring) or auto",
                           g->size);
        if (assembly == TTP_GRAM_SHARED)
            return TTP_ERR(ctx, TTP_ERR_NOMEM,
                           "shared-memory assembly: G's rows need %.1f MiB in %s, %.1f MiB are free there "
                           "(5 %% and 16 MiB kept spare)%s; use the ring (assembly ring) or auto",
                           g->shm_need / 1048576.0, gram_shm_dir(), g->shm_avail / 1048576.0,
                           g->shm_avail > 0 ? "" : ", or it could not be read");
        return TTP_OK;
    }
    TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, &grow, 1, MPI_INT, MPI_MAX, g->comm),
            "MPI_Allreduce of the work space");
    if (grow) {
        if (g->win_W != MPI_WIN_NULL) MPI_Win_free(&g->win_W);
        g->W = NULL;
        g->nW = 0;
        TTP_CALL(ctx, gram_shm_room(ctx, g, sizeof(double) * (double)nw, &room, &need, &avail));
        if (!room && assembly == TTP_GRAM_SHARED)
            return TTP_ERR(ctx, TTP_ERR_NOMEM,
                           "shared-memory assembly: Θ's row blocks need %.1f MiB in %s, %.1f MiB are free "
                           "there (5 %% and 16 MiB kept spare); use the ring (assembly ring) or auto",
                           need / 1048576.0, gram_shm_dir(), avail / 1048576.0);
        if (room) {
            TTP_CALL(ctx, gram_shm_alloc(ctx, g, nw, sizeof(double), "Θ's row block", &g->W, &g->win_W));
            g->nW = nw;
            gram_shm_table(g->win_W, g->size, g->partW);
            /* first touch by the owner: its pages sit on its own socket,
             * and node_nc's tasks do not stall on page faults */
            memset(g->W, 0, sizeof *g->W * nw);
        }
    }
    *shm = room;
done:
    return st;
}

/* ---- the strategies ------------------------------------------------------ */

/* Leading dimension of this rank's row block of Θ (n_r × M, column-major). */
static int ld_rows(const ttp_gram *g)
{
    const int nr = nrow_of(g, g->rank);
    return nr > 1 ? nr : 1;
}

/* Θ from its row blocks T (the P × 1 layout) onto rank 0.  Collective. */
static ttp_status gather_rows(ttp_ctx *ctx, ttp_gram *g, double *T, ttp_gram_result *res)
{
    int d1[9];
    desc_raw(d1, g->ctxt_pcol, g->M, g->M, g->mb, g->M, ld_rows(g));
    return gram_gather_root(ctx, g, g->M, g->M, T, 1, 1, d1, &res->theta);
}

/* SHARED, NC side: Θ's row blocks in the work space (node_nc), then each
 * rank's nb × nb blocks copied out of them (shm_to_cyclic). */
static ttp_status shared_nc(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    const double ta = ttp_time();
    TTP_CALL(ctx, node_nc(ctx, g));
    res->sec_assemble = ttp_time() - ta + job->t_pick;
    if (job->opts->want_theta) /* before shm_to_cyclic's barrier lets the eigenvectors in */
        TTP_CALL(ctx, gather_rows(ctx, g, g->W, res));
    TTP_CALL(ctx, shm_to_cyclic(ctx, g, job->C, job->descC));
    gram_shm_release(g->win_W, g->rank, g->size); /* this rank has done with Θ's other rows */
    return TTP_OK;
}

/* SHARED, D′ side's Θ: the same row blocks, gathered onto rank 0. */
static ttp_status shared_theta(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    (void)job;
    TTP_CALL(ctx, node_nc(ctx, g));
    TTP_CALL(ctx, gather_rows(ctx, g, g->W, res));
    gram_shm_release(g->win_W, g->rank, g->size);
    return TTP_OK;
}

/* RING: Θ's row blocks by ring_nc, gathered onto rank 0 when asked; with
 * `into_C` (the NC side) also sent into C's blocks by tri_to_cyclic, or,
 * on one rank, where the row block is C's own layout, formed in C. */
static ttp_status ring_rows(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res, int into_C)
{
    ttp_status st = TTP_OK;
    const int ldt = ld_rows(g);
    double *T = into_C && g->size == 1 ? job->C : NULL;
    if (T == NULL) TTP_ALLOC(ctx, st, agreed, T, (size_t)ldt * g->M, "Θ row block");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    const double ta = ttp_time();
    TTP_CALL_GOTO(ctx, st, done, ring_nc(ctx, g, T));
    if (into_C) res->sec_assemble = ttp_time() - ta + job->t_pick;
    if (job->opts->want_theta) TTP_CALL_GOTO(ctx, st, done, gather_rows(ctx, g, T, res));
    if (into_C && T != job->C)
        TTP_CALL_GOTO(ctx, st, done, tri_to_cyclic(ctx, g, 'R', job->n, g->mb, T, ldt, job->C, job->descC));
done:
    if (T != job->C) free(T);
    return st;
}

static ttp_status ring_nc_side(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    return ring_rows(ctx, g, job, res, 1);
}

static ttp_status ring_theta(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    return ring_rows(ctx, g, job, res, 0);
}

/* SHARED and RING, D′ side: GᵀG in column blocks (panels_dp), then into
 * C's blocks by tri_to_cyclic; on one rank, formed in C itself. */
static ttp_status panels_dp_side(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    const int kb = (g->K + g->size - 1) / g->size;
    double *V = g->size == 1 ? job->C : NULL;
    if (V == NULL) TTP_ALLOC(ctx, st, agreed, V, (size_t)g->K * kb, "Gram column block");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    const double ta = ttp_time();
    TTP_CALL_GOTO(ctx, st, done, panels_dp(ctx, g, kb, V));
    res->sec_assemble = ttp_time() - ta;
    if (V != job->C)
        TTP_CALL_GOTO(ctx, st, done, tri_to_cyclic(ctx, g, 'C', job->n, kb, V, g->K, job->C, job->descC));
done:
    if (V != job->C) free(V);
    return st;
}

/* PDSYRK: PBLAS on A = Gᵀ, either side: NC C = Aᵀ A = G Gᵀ (gathered as
 * Θ when asked), D′ C = A Aᵀ = Gᵀ G (lower triangles). */
static ttp_status pdsyrk_side(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    const int nc = job->side == 0, k = nc ? g->K : g->M;
    TTP_CALL(ctx, ensure_A(ctx, g));
    const double ta = ttp_time();
    pdsyrk_("L", nc ? "T" : "N", &job->n, &k, &D1, g->A, &I1, &I1, g->descA, &D0, job->C, &I1, &I1,
            job->descC, 1, 1);
    res->sec_assemble = ttp_time() - ta;
    if (nc && job->opts->want_theta)
        TTP_CALL(ctx, gram_gather_root(ctx, g, g->M, g->M, job->C, 1, 1, job->descC, &res->theta));
    return TTP_OK;
}

/* PDSYRK, D′ side's Θ: its own block-cyclic Θ = Aᵀ A, gathered. */
static ttp_status pdsyrk_theta(ttp_ctx *ctx, ttp_gram *g, gram_job *job, ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    double *T = NULL;
    int descT[9];
    size_t nt = 0;
    (void)job;
    TTP_CALL(ctx, ensure_A(ctx, g));
    TTP_CALL(ctx, gram_desc_grid(ctx, g, g->M, g->M, descT, &nt, "Θ"));
    TTP_ALLOC(ctx, st, agreed, T, nt, "distributed Θ");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    pdsyrk_("L", "T", &g->M, &g->K, &D1, g->A, &I1, &I1, g->descA, &D0, T, &I1, &I1, descT, 1, 1);
    st = gram_gather_root(ctx, g, g->M, g->M, T, 1, 1, descT, &res->theta);
done:
    free(T);
    return st;
}

/* One entry per ttp_gram_assembly; AUTO is resolved by gram_pick. */
static const gram_strategy strategies[] = {
    [TTP_GRAM_PDSYRK] = {TTP_GRAM_PDSYRK, pdsyrk_side, pdsyrk_side, pdsyrk_theta},
    [TTP_GRAM_RING] = {TTP_GRAM_RING, ring_nc_side, panels_dp_side, ring_theta},
    [TTP_GRAM_SHARED] = {TTP_GRAM_SHARED, shared_nc, panels_dp_side, shared_theta},
};

ttp_status gram_pick(ttp_ctx *ctx, ttp_gram *g, gram_job *job, const gram_strategy **out)
{
    const ttp_gram_opts *o = job->opts;
    const double t0 = ttp_time();
    int shm = 0;
    *out = NULL;
    if (o->assembly == TTP_GRAM_PDSYRK) {
        *out = &strategies[TTP_GRAM_PDSYRK];
        return TTP_OK;
    }
    /* Θ's row blocks are needed on the NC side, or for want_theta; on one
     * rank the ring forms them in place. */
    if ((job->side == 0 || o->want_theta) && g->size > 1) {
        const size_t nt = (size_t)ld_rows(g) * g->M;
        TTP_CALL(ctx, shm_work(ctx, g, o->assembly, nt > job->nzl ? nt : job->nzl, &shm));
    }
    job->t_pick = ttp_time() - t0;
    *out = &strategies[shm ? TTP_GRAM_SHARED : TTP_GRAM_RING];
    return TTP_OK;
}
