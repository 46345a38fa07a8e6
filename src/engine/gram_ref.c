/*
 * gram_ref.c — CPU reference for the local Gram matrix Gᵀ G (see
 * ttp_gramref.h); gpu/gram.cu computes the same with cuBLAS DSYRK.
 */
#include "ttp_gramref.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

ttp_status ttp_gram_local_cpu(ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, double *out)
{
    if (rows < 0 || cols < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_gram_local_cpu: rows %lld, cols %lld; expected "
                       "rows >= 0, cols >= 1",
                       (long long)rows, (long long)cols);
    if (!out || (rows > 0 && !G)) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gram_local_cpu: G or out is NULL");
    if (rows > INT_MAX || cols > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_gram_local_cpu: rows %lld, cols %lld exceed BLAS's 32-bit sizes", (long long)rows,
                       (long long)cols);
    if (rows == 0) {
        memset(out, 0, (size_t)cols * (size_t)cols * sizeof *out);
        return TTP_OK;
    }
    /* Row-major G (rows × cols): C = Gᵀ G is DSYRK with trans = Trans, k = rows. */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)cols, (int)rows, 1.0, G, (int)cols, 0.0, out,
                (int)cols);
    /* DSYRK writes one triangle only; callers want the full matrix. */
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < i; j++) out[i * cols + j] = out[j * cols + i];
    return TTP_OK;
}
