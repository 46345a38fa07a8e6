/*
 * nc.c — the NetCDF mechanisms that the dataset, model, kernel, training
 * and prediction files share (ttp_nc.h): text attributes, and writing a
 * file under a temporary name that is renamed into place when complete.
 */
#include "ttp_nc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

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
    f->tmp = NULL;
    TTP_CALL(ctx, ttp_tmpname(ctx, path, &f->tmp));
    TTP_NC(ctx, st, done, nc_create(f->tmp, mode, &f->id), "creating '%.400s'", f->tmp);
    f->created = 1;
done:
    return st;
}

/* NetCDF reports a full disk as an HDF5 error (-101): say it in words when
 * the destination's file system has no room left. */
static ttp_status close_error(ttp_ctx *ctx, int rc, const ttp_nc_out *f)
{
    struct statvfs sv;
    const char *slash = strrchr(f->tmp, '/');
    char dir[4096] = ".";
    if (slash && (size_t)(slash - f->tmp) < sizeof dir) {
        memcpy(dir, f->tmp, (size_t)(slash - f->tmp));
        dir[slash - f->tmp] = '\0';
        if (dir[0] == '\0') dir[0] = '/', dir[1] = '\0';
    }
    if (statvfs(dir, &sv) == 0 && (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0)
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot write '%.400s': %s (NetCDF: %s)", f->path, strerror(ENOSPC),
                       nc_strerror(rc));
    return TTP_ERR(ctx, TTP_ERR_NETCDF, "closing '%.400s': %s (code %d)", f->tmp, nc_strerror(rc), rc);
}

ttp_status ttp_nc_out_commit(ttp_ctx *ctx, ttp_nc_out *f)
{
    const int rc = nc_close(f->id);
    f->id = -1;
    if (rc != NC_NOERR) return close_error(ctx, rc, f);
    const ttp_status st = ttp_commit_file(ctx, f->tmp, f->path);
    f->created = 0; /* committed, or removed by ttp_commit_file */
    free(f->tmp);
    f->tmp = NULL;
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    return st;
}

void ttp_nc_out_discard(ttp_nc_out *f)
{
    /* nc_abort, not nc_close: the file is thrown away, nothing to flush */
    if (f->id >= 0) nc_abort(f->id);
    f->id = -1;
    if (f->created && f->tmp) remove(f->tmp);
    f->created = 0;
    free(f->tmp);
    f->tmp = NULL;
}
