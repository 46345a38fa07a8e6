/*
 * nc.c — the NetCDF mechanisms that the dataset, model, kernel, training
 * and prediction files share (ttp_nc.h): text attributes, and writing a
 * file under a temporary name that is renamed into place when complete.
 */
#include "ttp_nc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ttp_status ttp_nc_put_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *val,
                           const char *path)
{
    ttp_status st = TTP_OK;
    TTP_NC(ctx, st, done, nc_put_att_text(nc, var, name, strlen(val), val), "writing attribute '%s' of '%s'",
           name, path);
done:
    return st;
}

ttp_status ttp_nc_get_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *path, char **out)
{
    ttp_status st = TTP_OK;
    nc_type type;
    size_t len = 0;
    char *s = NULL;
    *out = NULL;
    const int rc = nc_inq_att(nc, var, name, &type, &len);
    if (rc == NC_ENOTATT) return TTP_OK;
    TTP_NC(ctx, st, fail, rc, "attribute '%s' of '%s'", name, path);
    if (type == NC_STRING && len == 1) {
        TTP_NC(ctx, st, fail, nc_get_att_string(nc, var, name, &s), "reading attribute '%s' of '%s'", name, path);
        const size_t n = s ? strlen(s) : 0;
        *out = ttp_calloc(ctx, n + 1, 1, "attribute");
        if (*out != NULL && n > 0) memcpy(*out, s, n);
        nc_free_string(1, &s);
        return *out != NULL ? TTP_OK : TTP_ERR_NOMEM;
    }
    if (type != NC_CHAR)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: attribute '%s' is not text (NetCDF type %d), expected a string",
                       path, name, (int)type);
    *out = ttp_calloc(ctx, len + 1, 1, "attribute");
    if (*out == NULL) return TTP_ERR_NOMEM;
    TTP_NC(ctx, st, fail, nc_get_att_text(nc, var, name, *out), "reading attribute '%s' of '%s'", name, path);
    (*out)[len] = '\0';
    return TTP_OK;
fail:
    free(*out);
    *out = NULL;
    return st;
}

ttp_status ttp_nc_out_create(ttp_ctx *ctx, ttp_nc_out *f, const char *path, int mode)
{
    ttp_status st = TTP_OK;
    f->id = -1;
    f->created = 0;
    f->path = path;
    ttp_tmpname(path, f->tmp, sizeof f->tmp);
    TTP_NC(ctx, st, done, nc_create(f->tmp, mode, &f->id), "creating '%.400s'", f->tmp);
    f->created = 1;
done:
    return st;
}

ttp_status ttp_nc_out_commit(ttp_ctx *ctx, ttp_nc_out *f)
{
    ttp_status st = TTP_OK;
    const int rc = nc_close(f->id);
    f->id = -1;
    TTP_NC(ctx, st, done, rc, "closing '%.400s'", f->tmp);
    TTP_CALL(ctx, ttp_commit_file(ctx, f->tmp, f->path));
    f->created = 0;
done:
    return st;
}

void ttp_nc_out_discard(ttp_nc_out *f)
{
    /* nc_abort, not nc_close: the file is thrown away, nothing to flush */
    if (f->id >= 0) nc_abort(f->id);
    f->id = -1;
    if (f->created) remove(f->tmp);
    f->created = 0;
}
