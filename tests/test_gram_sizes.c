/*
 * test_gram_sizes.c — the size arithmetic behind gathers to rank 0
 * (ttp_gram_gather_cols, core/ttp_gram.h): ScaLAPACK's redistribution sizes
 * its buffers in 32-bit bytes, so a matrix goes in column pieces below
 * TTP_GRAM_GATHER_BYTES.  The references are closed forms: the piece width
 * is ⌊cap / 8m⌋ clamped to [1, n], and every piece is below 2^31 bytes.
 * The distributed gathers in pieces are checked against LAPACK in
 * mpi_gram.c.
 */
#include <stdint.h>
#include <string.h>

#include "ttp_gram.h"
#include "ttp_test.h"

int main(void)
{
    ttp_ctx c;
    ttp_ctx_init(&c);
    ttp_ctx *ctx = &c;
    int64_t w = -1;
    const int64_t cap = TTP_GRAM_GATHER_BYTES;
    CHECK(cap < ((int64_t)1 << 31));

    /* small matrices go in one piece */
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 100, 100, 0, &w));
    CHECK(w == 100);
    /* NC = 16,384: Θ is exactly 2^31 bytes, where one call failed; now two
     * pieces of 8,192 columns (2^30 bytes each) */
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 16384, 16384, 0, &w));
    CHECK(w == 8192);
    CHECK(16384 * w * 8 <= cap);
    /* NC = 50,000: every piece below 2^31 bytes, enough pieces to cover n */
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 50000, 50000, 0, &w));
    CHECK(w == cap / (8 * 50000));
    CHECK(50000 * w * 8 <= cap && 50000 * (w + 1) * 8 > cap);
    CHECK((50000 + w - 1) / w * w >= 50000);
    /* the largest 32-bit order ScaLAPACK indexes (2^31 − 1 rows): one column
     * is 16 GiB, refused with the sizes before any work */
    CHECK_FAILS(ctx, ttp_gram_gather_cols(ctx, INT32_MAX, INT32_MAX, 0, &w), TTP_ERR_UNSUPPORTED,
                "one column is 17179869176 bytes");
    CHECK(w == 0);
    /* the limit itself: 8m = cap passes with one column a piece, 8m + 8 fails */
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, cap / 8, 5, 0, &w));
    CHECK(w == 1);
    CHECK_FAILS(ctx, ttp_gram_gather_cols(ctx, cap / 8 + 1, 5, 0, &w), TTP_ERR_UNSUPPORTED, "32-bit sizes");
    /* a caller's smaller piece (tests force many pieces); never above the cap */
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 30, 30, 3 * 30 * 8, &w));
    CHECK(w == 3);
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 30, 30, 3 * 30 * 8 + 7, &w));
    CHECK(w == 3);
    CHECK_OK(ctx, ttp_gram_gather_cols(ctx, 16384, 16384, (int64_t)1 << 40, &w));
    CHECK(w == 8192);
    CHECK_FAILS(ctx, ttp_gram_gather_cols(ctx, 30, 30, 16, &w), TTP_ERR_UNSUPPORTED,
                "one column is 240 bytes");
    CHECK_FAILS(ctx, ttp_gram_gather_cols(ctx, 0, 30, 0, &w), TTP_ERR_ARG, "expected both sizes");
    return ttp_test_end("test_gram_sizes");
}
