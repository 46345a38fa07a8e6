/*
 * backend.c — names of the projection kinds (core/ttp_backend.h).
 */
#include "ttp_backend.h"

#include <string.h>

static const char *const kind_names[TTP_PROJ_KIND_COUNT] = {"exact", "rademacher", "gaussian", "kron"};

const char *ttp_proj_kind_str(ttp_proj_kind k)
{
    if (k == TTP_PROJ_AUTO) return "auto";
    if ((int)k < 0 || k >= TTP_PROJ_KIND_COUNT) return "unknown";
    return kind_names[k];
}

ttp_status ttp_proj_kind_parse(ttp_ctx *ctx, const char *s, ttp_proj_kind *k)
{
    for (int i = 0; s && i < TTP_PROJ_KIND_COUNT; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (ttp_proj_kind)i;
            return TTP_OK;
        }
    if (s && strcmp(s, "auto") == 0) {
        *k = TTP_PROJ_AUTO;
        return TTP_OK;
    }
    return TTP_ERR(ctx, TTP_ERR_ARG,
                   "projection '%s': expected one of exact, rademacher, gaussian, kron, auto",
                   s ? s : "(null)");
}
