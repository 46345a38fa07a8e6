/*
 * gram_eig.c — ttp_gram_decompose: the Gram matrix by one of the assembly
 * strategies (gram_assembly.c), its eigenpairs with pdsyevd (all) or
 * pdsyevr (top K), and the projections and eigenvectors of Θ gathered on
 * rank 0: from Z and B = Rᵀ on the NC side, from the row shards on the D′
 * side (dp_project).  The design is in gram_impl.h.
 */
#include "gram_impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Gather the m × n submatrix of a distributed matrix at (ia, ja) onto rank 0
 * (column-major, leading dimension m).  Collective; *out is NULL elsewhere.
 */
ttp_status gram_gather_root(ttp_ctx *ctx, ttp_gram *g, int m, int n, double *a, int ia, int ja, int *desca,
                            double **out)
{
    ttp_status st = TTP_OK;
    double *buf = NULL;
    int64_t w = 0;
    int d[9];
    *out = NULL;
    /* Column pieces below ScaLAPACK's 32-bit buffer sizes (TTP_GRAM_GATHER_BYTES):
     * an NC × NC Θ passes 2^31 bytes at NC = 16,384.  Every rank computes
     * the same piece width; the check also ran before any work (load). */
    st = ttp_gram_gather_cols(ctx, m, n, g->gather_bytes, &w);
    if (st == TTP_OK && g->rank == 0)
        TTP_ALLOC(ctx, st, agreed, buf, (size_t)m * (size_t)n, "gathered matrix on rank 0");
agreed:
    TTP_CALL(ctx, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    double one = 0.0;
    for (int64_t j0 = 0; j0 < n; j0 += w) {
        const int nc = (int)(n - j0 < w ? n - j0 : w);
        /* the piece lands at its own offset (size_t arithmetic here, not
         * ScaLAPACK's int), as an m × nc matrix with leading dimension m */
        desc_raw(d, g->rank == 0 ? g->ctxt_root : -1, m, nc, m, nc, m);
        Cpdgemr2d(m, nc, a, ia, ja + (int)j0, desca, buf ? buf + (size_t)j0 * (size_t)m : &one, 1, 1, d,
                  g->ctxt_line);
    }
    *out = buf;
    return TTP_OK;
}

/* Eigen-decomposition of the lower triangle of C (n × n), Z its vectors.
 * All pairs with pdsyevd, or the top kk with pdsyevr; *m receives how many
 * were computed, w (n entries, every rank) their values, ascending. */
static ttp_status eig(ttp_ctx *ctx, ttp_gram *g, int n, double *C, int *descC, double *Z, int *descZ, int kk,
                      double *w, int *m)
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
        pdsyevr_("V", "I", "L", &n, C, &I1, &I1, descC, &vl, &vu, &il, &iu, m, &nz, w, Z, &I1, &I1, descZ,
                 &wq, &lwork, &iwq, &liwork, &info, 1, 1, 1);
    else
        pdsyevd_("V", "L", &n, C, &I1, &I1, descC, w, Z, &I1, &I1, descZ, &wq, &lwork, &iwq, &liwork, &info,
                 1, 1);
    TTP_LAPACK(ctx, st, done, info, "%s workspace query (n = %d, block %d, grid %d × %d)", name, n, g->nb,
               g->nprow, g->npcol);
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
                     "more ranks or a smaller problem",
                     name, lw);
        goto done;
    }
    lwork = (int)lw;
    liwork = (int)liw;
    TTP_ALLOC(ctx, st, agreed, work, (size_t)lwork, "ScaLAPACK eigensolver workspace");
    TTP_ALLOC(ctx, st, agreed, iwork, (size_t)liwork, "ScaLAPACK eigensolver integer workspace");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    if (use_evr) {
        pdsyevr_("V", "I", "L", &n, C, &I1, &I1, descC, &vl, &vu, &il, &iu, m, &nz, w, Z, &I1, &I1, descZ,
                 work, &lwork, iwork, &liwork, &info, 1, 1, 1);
        if (info == 0 && (*m != kk || nz != kk))
            info = n + 1; /* fewer pairs than asked: report it as a failure */
    } else {
        pdsyevd_("V", "L", &n, C, &I1, &I1, descC, w, Z, &I1, &I1, descZ, work, &lwork, iwork, &liwork, &info,
                 1, 1);
        *m = n;
    }
    TTP_LAPACK(ctx, st, done, info, "%s (n = %d, block %d, grid %d × %d)", name, n, g->nb, g->nprow,
               g->npcol);
done:
    free(work);
    free(iwork);
    return st;
}

/*
 * D′ side: projections Pᵀ = Σ⁻¹ W_Kᵀ (Gᵀ R) and eigenvectors U = G W_K Σ⁻¹
 * of Θ from the row shards Gu and Ru, into res->proj and res->eigvec on
 * rank 0 (want_vectors).  W_K is columns jz .. jz+neig−1 of Z (ascending).
 * Nothing to do without kept pairs, or with neither.  Collective.
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
    if (neig == 0 || (nrhs == 0 && !want_vectors)) return TTP_OK;
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
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
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
            for (int c = 0; c < w; c++)
                cblas_dscal(K, 1.0 / sqrt(res->eigval[k0 + c]), Wp + (size_t)c * K, 1);
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

/* The m × neig submatrix at column ja of a distributed matrix, onto rank 0
 * as a new m × neig row-major array (*out) with its columns reversed:
 * ScaLAPACK's ascending eigenpairs in descending order.  Collective; *out
 * stays NULL on the other ranks. */
static ttp_status gather_reversed(ttp_ctx *ctx, ttp_gram *g, int m, int neig, double *a, int ja, int *desca,
                                  const char *what, double **out)
{
    ttp_status st = TTP_OK;
    double *gath = NULL;
    TTP_CALL(ctx, gram_gather_root(ctx, g, m, neig, a, 1, ja, desca, &gath));
    if (g->rank == 0) {
        TTP_ALLOC(ctx, st, placed, *out, (size_t)m * (size_t)neig, what);
        for (int k = 0; k < neig; k++) {
            const double *col = gath + (size_t)(neig - 1 - k) * (size_t)m;
            for (size_t i = 0; i < (size_t)m; i++) (*out)[i * (size_t)neig + (size_t)k] = col[i];
        }
    }
placed:
    free(gath);
    return ttp_comm_agree(ctx, &g->tc, st, "Gram");
}

/* NC side: projections Pᵀ (nrhs × neig) = Rᵀ V = B Z[:, jz..] into
 * res->proj on rank 0, rows in descending order of eigenvalues.
 * Collective. */
static ttp_status nc_project(ttp_ctx *ctx, ttp_gram *g, double *Z, int *descZ, int jz, int neig,
                             ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    double *Pt = NULL;
    int descP[9];
    size_t np = 0;
    TTP_CALL(ctx, gram_desc_grid(ctx, g, g->nrhs, neig, descP, &np, "projections"));
    TTP_ALLOC(ctx, st, agreed, Pt, np, "distributed projections");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    pdgemm_("N", "N", &g->nrhs, &neig, &g->M, &D1, g->B, &I1, &I1, g->descB, Z, &I1, &jz, descZ, &D0, Pt, &I1,
            &I1, descP, 1, 1);
    st = gather_reversed(ctx, g, g->nrhs, neig, Pt, 1, descP, "projections", &res->proj);
done:
    free(Pt);
    return st;
}

/* NC side: the projections (nc_project) and the kept columns of Z as
 * eigenvectors (NC × neig row-major, descending), as asked.  Collective. */
static ttp_status nc_outputs(ttp_ctx *ctx, ttp_gram *g, double *Z, int *descZ, int jz, int neig,
                             int want_vectors, ttp_gram_result *res)
{
    if (neig > 0 && g->nrhs > 0) TTP_CALL(ctx, nc_project(ctx, g, Z, descZ, jz, neig, res));
    if (neig > 0 && want_vectors)
        TTP_CALL(ctx, gather_reversed(ctx, g, g->M, neig, Z, jz, descZ, "eigenvectors", &res->eigvec));
    return TTP_OK;
}

/*
 * Eigenpairs of the Gram matrix in job->C, which is freed once decomposed.
 * Z (descZ) goes in the shared work space when the assembly left its pages
 * there, else in *Zp allocated here (the caller frees it unless it is
 * g->W).  Fills res->ncomp, neig, lambda_max, lambda_min_kept and, on rank
 * 0, eigval (descending); *jz is the first kept column of Z (ascending
 * order).  Collective.
 */
static ttp_status eigenpairs(ttp_ctx *ctx, ttp_gram *g, gram_job *job, int *descZ, double **Zp, int *jz,
                             ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    double *w = NULL;
    int m = 0, neig = 0;
    const int n = job->n;
    const double rel_tol = job->opts->rel_tol > 0 ? job->opts->rel_tol : TTP_GRAM_REL_TOL;
    /* Z only now: the assembly's buffers are gone, so the peak stays lower. */
    if (res->assembly == TTP_GRAM_SHARED && job->nzl <= g->nW)
        *Zp = g->W; /* Θ's row blocks are spent: their pages are warm */
    else
        TTP_ALLOC(ctx, st, agreed, *Zp, job->nzl, "distributed eigenvectors");
    TTP_ALLOC(ctx, st, agreed, w, n, "eigenvalues");
    if (g->rank == 0) TTP_ALLOC(ctx, st, agreed, res->eigval, job->kk, "eigenvalues");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    TTP_CALL_GOTO(ctx, st, done, eig(ctx, g, n, job->C, job->descC, *Zp, descZ, job->kk, w, &m));
    /* pdsyevd leaves w unsorted on a process that holds no block of the
     * matrix (seen with nb·npcol > n); rank 0 always holds the first block,
     * so its copy is the one every rank uses. */
    TTP_MPI(ctx, st, done, MPI_Bcast(w, m, MPI_DOUBLE, 0, g->comm), "MPI_Bcast of %d eigenvalues", m);
    free(job->C);
    job->C = NULL;
    const double lmax = m > 0 ? w[m - 1] : 0.0;
    const double thr = rel_tol * (lmax > 0 ? lmax : 0.0) * (double)n;
    while (neig < m && lmax > 0 && w[m - 1 - neig] > thr) neig++;
    res->ncomp = m;
    res->neig = neig;
    res->lambda_max = lmax;
    res->lambda_min_kept = neig > 0 ? w[m - neig] : 0.0;
    for (int k = 0; g->rank == 0 && k < neig; k++) res->eigval[k] = w[m - 1 - k];
    *jz = m - neig + 1;
done:
    free(w);
    return st;
}

/* The side, its order and the pairs asked for, into job; TTP_ERR_ARG
 * naming a bad option.  Not collective (every rank has the same opts). */
static ttp_status plan(ttp_ctx *ctx, const ttp_gram *g, const ttp_gram_opts *opts, gram_job *job)
{
    const int side = opts->side < 0 ? (g->M <= g->K ? 0 : 1) : opts->side;
    if (side != 0 && side != 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "side %d: expected -1 (auto), 0 (NC × NC) or 1 (D′ × D′)",
                       opts->side);
    if (opts->top_k < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "top-k %lld: expected 0 (all) or a positive count",
                       (long long)opts->top_k);
    if (opts->no_eig && opts->side != 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "Gram without eigenpairs: side %d, expected 0 (Θ itself, NC × NC)",
                       opts->side);
    if (opts->assembly < TTP_GRAM_AUTO || opts->assembly > TTP_GRAM_SHARED)
        return TTP_ERR(ctx, TTP_ERR_ARG, "assembly %d: expected 0 (auto), 1 (pdsyrk), 2 (ring) or 3 (shared)",
                       opts->assembly);
    job->opts = opts;
    job->side = side;
    job->n = side == 0 ? g->M : g->K;
    job->kk = opts->top_k > 0 && opts->top_k < job->n ? (int)opts->top_k : job->n;
    return TTP_OK;
}

/* Rank 0's gathered Θ has its lower triangle (column-major = row-major
 * upper): mirror it. */
static void mirror_lower(double *theta, size_t M)
{
    for (size_t j = 0; j < M; j++)
        for (size_t i = j + 1; i < M; i++) theta[i * M + j] = theta[j * M + i];
}

ttp_status ttp_gram_decompose(ttp_ctx *ctx, ttp_gram *g, const ttp_gram_opts *opts, ttp_gram_result *res)
{
    ttp_status st = TTP_OK;
    gram_job job;
    const gram_strategy *how = NULL;
    double *Z = NULL;
    int descZ[9], jz = 0;
    size_t nc = 0;
    memset(res, 0, sizeof *res);
    memset(&job, 0, sizeof job);
    TTP_CALL(ctx, plan(ctx, g, opts, &job));
    g->gather_bytes = opts->gather_bytes;
    {
        /* Θ and the eigenvectors reach rank 0 in column pieces: a piece of
         * one column must be possible, checked before the assembly's work. */
        int64_t w = 0;
        TTP_CALL(ctx, ttp_gram_gather_cols(ctx, g->M, g->M, opts->gather_bytes, &w));
    }
    res->side = job.side;
    res->dim = job.n;
    res->trace = g->frob2;

    /* ---- Gram matrix: its lower triangle in C, by the chosen strategy ---- */
    double t0 = ttp_time();
    TTP_CALL(ctx, gram_desc_grid(ctx, g, job.n, job.n, job.descC, &nc, "the Gram matrix"));
    TTP_CALL(ctx, gram_desc_grid(ctx, g, job.n, job.n, descZ, &job.nzl, "the eigenvectors"));
    TTP_ALLOC(ctx, st, agreed, job.C, nc, "distributed Gram matrix");
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, &g->tc, st, "Gram"));
    TTP_CALL_GOTO(ctx, st, done, gram_pick(ctx, g, &job, &how));
    res->assembly = how->kind;
    TTP_CALL_GOTO(ctx, st, done, job.side == 0 ? how->nc(ctx, g, &job, res) : how->dp(ctx, g, &job, res));
    if (job.side == 1 && opts->want_theta) TTP_CALL_GOTO(ctx, st, done, how->theta(ctx, g, &job, res));
    if (res->theta) mirror_lower(res->theta, (size_t)g->M);
    res->sec_gram = ttp_time() - t0;
    if (opts->no_eig) goto done; /* Θ is the result */

    /* ---- eigenpairs, then projections and eigenvectors of Θ ------------- */
    t0 = ttp_time();
    TTP_CALL_GOTO(ctx, st, done, eigenpairs(ctx, g, &job, descZ, &Z, &jz, res));
    const int neig = (int)res->neig;
    TTP_CALL_GOTO(ctx, st, done,
                  job.side == 0 ? nc_outputs(ctx, g, Z, descZ, jz, neig, opts->want_vectors, res)
                                : dp_project(ctx, g, Z, descZ, jz, neig, opts->want_vectors, res));
    res->sec_eig = ttp_time() - t0;
done:
    free(job.C);
    if (Z != g->W) free(Z);
    if (st != TTP_OK) ttp_gram_result_clear(res);
    return st;
}

const ttp_gram_ops ttp_scalapack_ops = {"scalapack", ttp_gram_load, ttp_gram_decompose, ttp_gram_destroy,
                                        ttp_gram_load_owned};
