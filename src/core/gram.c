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
