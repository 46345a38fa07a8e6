/*
 * lanczos.c — the top of Θ's spectrum without a full eigen-decomposition
 * (ttp_kbuild.h, ttp_kernel_top_eigs): Lanczos with full
 * re-orthogonalisation on the dense Θ gathered on rank 0.
 *
 * Why Lanczos: where the dynamics run as products with Θ (the "direct"
 * path), the spectrum is needed only for the stability diagnostic (μ_max),
 * the report's spectrum and fits, and the residual's energies on the top
 * modes.  A few tens of products with Θ (O(n²) each) give the extremal
 * eigenpairs to working precision, where a full decomposition costs O(n³).
 * Convergence is judged by the Ritz residual ‖Θy − θy‖ = |β_j s_{j,i}|,
 * which Lanczos gives for free; full re-orthogonalisation (classical
 * Gram–Schmidt, twice) keeps the basis orthonormal to rounding so that no
 * ghost copies of converged pairs appear.
 */
#include "ttp_kbuild.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Eigenpairs of the j × j tridiagonal (a, b) into w (ascending) and S
 * (j × j column-major); 0 on success. */
static int tridiag_eig(int j, const double *a, const double *b, double *w, double *e, double *S)
{
    memcpy(w, a, sizeof *w * (size_t)j);
    if (j > 1) memcpy(e, b, sizeof *e * (size_t)(j - 1));
    return LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', j, w, e, S, j);
}

ttp_status ttp_kernel_top_eigs(ttp_ctx *ctx, const double *theta, int64_t n, int64_t k, double tol,
                               double *vals, double *vecs, int64_t *nconv, int64_t *iters)
{
    ttp_status st = TTP_OK;
    double *Q = NULL, *a = NULL, *b = NULL, *w = NULL, *e = NULL, *S = NULL, *h = NULL;
    *nconv = 0;
    *iters = 0;
    if (n < 1 || k < 1 || k > n)
        return TTP_ERR(ctx, TTP_ERR_ARG, "top eigenpairs: k = %lld of n = %lld, expected 1 <= k <= n",
                       (long long)k, (long long)n);
    /* The basis grows until the top k Ritz pairs converge or it spans R^n;
     * 4k + 40 vectors suffice for the decaying spectra of Gram matrices,
     * the cap n makes the last round exact in any case. */
    int64_t mmax = 8 * k + 200;
    if (mmax > n) mmax = n;
    TTP_ALLOC(ctx, st, done, Q, (size_t)(mmax + 1) * (size_t)n, "Lanczos basis");
    TTP_ALLOC(ctx, st, done, a, (size_t)mmax, "Lanczos diagonal");
    TTP_ALLOC(ctx, st, done, b, (size_t)mmax + 1, "Lanczos off-diagonal");
    TTP_ALLOC(ctx, st, done, w, (size_t)mmax, "Ritz values");
    TTP_ALLOC(ctx, st, done, e, (size_t)mmax, "tridiagonal work");
    TTP_ALLOC(ctx, st, done, S, (size_t)mmax * (size_t)mmax, "Ritz vectors of the tridiagonal");
    TTP_ALLOC(ctx, st, done, h, (size_t)mmax + 1, "re-orthogonalisation coefficients");
    {
        /* a fixed start, spread over every row: results repeat run to run */
        double nrm = 0.0;
        for (int64_t i = 0; i < n; i++) {
            Q[i] = 1.0 + 0.5 * ttp_rng_normal(0x1a2c05, (uint64_t)i);
            nrm += Q[i] * Q[i];
        }
        cblas_dscal((int)n, 1.0 / sqrt(nrm), Q, 1);
    }
    int64_t j = 0, next_check = k + 20 < mmax ? k + 20 : mmax, done_k = 0;
    int breakdown = 0;
    while (j < mmax) {
        double *q = Q + (size_t)j * (size_t)n, *r = Q + (size_t)(j + 1) * (size_t)n;
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)n, 1.0, theta, (int)n, q, 1, 0.0, r, 1);
        /* r ⟂ q_0..q_j, twice (h = Qᵀ r, r −= Q h) */
        for (int pass = 0; pass < 2; pass++) {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)n, 1.0, Q, (int)n, r, 1, 0.0, h, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)(j + 1), (int)n, -1.0, Q, (int)n, h, 1, 1.0, r, 1);
            if (pass == 0)
                a[j] = h[j];
            else
                a[j] += h[j];
        }
        const double beta = cblas_dnrm2((int)n, r, 1);
        j++;
        b[j - 1] = beta;
        /* an invariant subspace: its Ritz pairs are exact */
        breakdown = !(beta > 1e-14 * fabs(a[0]) + 1e-300);
        if (!breakdown) cblas_dscal((int)n, 1.0 / beta, r, 1);
        if (j < next_check && j < mmax && !breakdown) continue;
        next_check = j + (j / 4 > 10 ? j / 4 : 10);
        if (tridiag_eig((int)j, a, b, w, e, S) != 0) {
            st = TTP_ERR(ctx, TTP_ERR_NUMERIC, "Lanczos: the %lld × %lld tridiagonal eigensolve failed",
                         (long long)j, (long long)j);
            goto done;
        }
        const double top = fabs(w[j - 1]) > fabs(w[0]) ? fabs(w[j - 1]) : fabs(w[0]);
        /* converged pairs, from the top down */
        done_k = 0;
        for (int64_t i = 0; i < k && i < j; i++) {
            const double res = fabs(beta * S[(size_t)(j - 1 - i) * (size_t)j + (size_t)(j - 1)]);
            if (!(breakdown || j == n || res <= tol * top)) break;
            done_k++;
        }
        if (done_k >= k || breakdown || j == n || j == mmax) break;
    }
    *iters = j;
    /* Ritz vectors y_i = Q_jᵀ s_i for the converged top pairs, descending */
    for (int64_t i = 0; i < done_k; i++) {
        const double *s = S + (size_t)(j - 1 - i) * (size_t)j;
        vals[i] = w[j - 1 - i];
        /* column i of vecs (n × k row-major): stride k */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)j, (int)n, 1.0, Q, (int)n, s, 1, 0.0, vecs + i, (int)k);
    }
    *nconv = done_k;
done:
    free(Q), free(a), free(b), free(w), free(e), free(S), free(h);
    return st;
}
