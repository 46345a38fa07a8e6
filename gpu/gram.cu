/*
 * gram.cu — the local Gram matrix Gᵀ G of a block of projected rows on the
 * device (cuBLAS DSYRK).  CPU reference: ttp_gram_local_cpu (src/engine/gram_ref.c);
 * tests/test_gpu_proj.c compares the two.
 *
 * Layout: G (rows × cols, row-major) is Gᵀ (cols × rows, ld cols) to
 * column-major cuBLAS, so Gᵀ G = A Aᵀ with A = that matrix: DSYRK with
 * trans = N, n = cols, k = rows.  It fills the lower triangle (column-major),
 * which is the upper one in row-major terms; the host mirrors it.
 * Cost: rows·cols² flops against rows·cols·8 bytes moved in, so the device
 * pays off only when cols (D′) is in the thousands.
 */
#include <limits.h>
#include <string.h>

#include "ttp_cuda.h"
#include "ttp_gpu.h"

ttp_status ttp_gpu_gram(ttp_ctx *ctx, const double *G, int64_t rows, int64_t cols, double *out)
{
    ttp_status st = TTP_OK;
    cublasHandle_t blas = NULL;
    double *dG = NULL, *dC = NULL;
    size_t cap_G = 0, cap_C = 0;
    const double one = 1.0, zero = 0.0;
    int dev = 0;

    if (rows < 0 || cols < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_gram: rows %lld, cols %lld; expected rows >= 0, cols >= 1",
                       (long long)rows, (long long)cols);
    if (!out || (rows > 0 && !G)) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_gram: G or out is NULL");
    if (rows > INT_MAX || cols > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_gpu_gram: rows %lld, cols %lld exceed cuBLAS's 32-bit sizes",
                       (long long)rows, (long long)cols);
    TTP_CALL(ctx, ttp_cuda_select_device(ctx, &dev));
    if (rows == 0) {
        memset(out, 0, (size_t)cols * (size_t)cols * sizeof *out);
        return TTP_OK;
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_cuda_reserve(ctx, &dG, &cap_G, (size_t)rows * (size_t)cols, "G"));
    TTP_CALL_GOTO(ctx, st, done, ttp_cuda_reserve(ctx, &dC, &cap_C, (size_t)cols * (size_t)cols, "Gram"));
    TTP_CUBLAS(ctx, st, done, cublasCreate(&blas), "cublasCreate on device %d", dev);
    TTP_CUDA(ctx, st, done,
             cudaMemcpy(dG, G, (size_t)rows * (size_t)cols * sizeof(double), cudaMemcpyHostToDevice),
             "copy G (%lld × %lld) to the device", (long long)rows, (long long)cols);
    TTP_CUBLAS(ctx, st, done,
               cublasDsyrk(blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, (int)cols, (int)rows, &one, dG,
                           (int)cols, &zero, dC, (int)cols),
               "cublasDsyrk (n %lld, k %lld)", (long long)cols, (long long)rows);
    TTP_CUDA(ctx, st, done,
             cudaMemcpy(out, dC, (size_t)cols * (size_t)cols * sizeof(double), cudaMemcpyDeviceToHost),
             "copy the Gram matrix (%lld × %lld) back", (long long)cols, (long long)cols);
    /* Column-major lower = row-major upper: out[i·cols + j] is valid for j >= i. */
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < i; j++) out[i * cols + j] = out[j * cols + i];
done:
    if (blas) cublasDestroy(blas);
    cudaFree(dG);
    cudaFree(dC);
    return st;
}
