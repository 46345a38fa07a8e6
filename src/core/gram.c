/*
 * gram.c — the parts of the distributed Gram interface (ttp_gram.h) that
 * need no communication: option words, checks and result clean-up.  The
 * implementation of the interface itself lives in mpi/.
 */
#include "ttp_gram.h"

#include <stdlib.h>
#include <string.h>

ttp_status ttp_gram_check_block(ttp_ctx *ctx, int nb)
{
    if (nb < 1 || nb > TTP_GRAM_MAX_BLOCK)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ScaLAPACK block size %d is out of range: expected 1..%d (typical 32-256; "
                       "default 64)",
                       nb, TTP_GRAM_MAX_BLOCK);
    return TTP_OK;
}

ttp_status ttp_gram_gather_cols(ttp_ctx *ctx, int64_t m, int64_t n, int64_t max_bytes, int64_t *cols)
{
    const int64_t cap =
        max_bytes > 0 && max_bytes < TTP_GRAM_GATHER_BYTES ? max_bytes : TTP_GRAM_GATHER_BYTES;
    *cols = 0;
    if (m < 1 || n < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "gather of a %lld × %lld matrix: expected both sizes >= 1",
                       (long long)m, (long long)n);
    /* one column must fit: 8·m <= cap, written so that it cannot overflow */
    if (m > cap / (int64_t)sizeof(double))
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "gather of a %lld × %lld matrix to rank 0: one column is %lld bytes, beyond the "
                       "%lld bytes that ScaLAPACK's redistribution moves in one call (32-bit sizes); "
                       "use fewer samples or outputs",
                       (long long)m, (long long)n, (long long)(m * (int64_t)sizeof(double)), (long long)cap);
    int64_t c = cap / ((int64_t)sizeof(double) * m);
    *cols = c < n ? c : n;
    return TTP_OK;
}

static const char *const assembly_names[] = {"auto", "pdsyrk", "ring", "shared"};

const char *ttp_gram_assembly_str(ttp_gram_assembly a)
{
    return a >= TTP_GRAM_AUTO && a <= TTP_GRAM_SHARED ? assembly_names[a] : "?";
}

ttp_status ttp_gram_assembly_parse(ttp_ctx *ctx, const char *s, ttp_gram_assembly *out)
{
    for (int a = TTP_GRAM_AUTO; a <= TTP_GRAM_SHARED; a++)
        if (strcmp(s, assembly_names[a]) == 0) {
            *out = (ttp_gram_assembly)a;
            return TTP_OK;
        }
    return TTP_ERR(ctx, TTP_ERR_ARG, "assembly '%s': expected auto, shared, ring or pdsyrk", s);
}

void ttp_gram_result_clear(ttp_gram_result *res)
{
    if (res == NULL) return;
    free(res->eigval);
    free(res->eigvec);
    free(res->proj);
    free(res->theta);
    memset(res, 0, sizeof *res);
}
