/*
 * data.c — datasets: allocation, the NetCDF dataset format (read, write,
 * checks), class subsets and stratified prefixes, and the converters from
 * IDX (MNIST-style) and CSV files.  The format itself is described in
 * ttp_data.h and, for users, in docs/formats/dataset.md.
 *
 * Every reader names the file and the variable, dimension, attribute, line
 * or column concerned and says what was expected: a user who hands
 * ttpredict a wrong file should learn what to fix without reading the code.
 *
 * Status codes used for bad input: TTP_ERR_IO (cannot open/read),
 * TTP_ERR_FORMAT (the content breaks the format: not NetCDF, missing or
 * misshapen variables, labels out of range, bad CSV/IDX), TTP_ERR_NUMERIC
 * (NaN or Inf among the inputs), TTP_ERR_ARG (bad arguments to a call).
 */
#include "ttp_data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_nc.h"
#include "ttp_rng.h"

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */

static char *dup_str(ttp_ctx *ctx, const char *s, const char *what)
{
    size_t len = strlen(s);
    char *p = ttp_calloc(ctx, len + 1, 1, what);
    if (p) memcpy(p, s, len);
    return p;
}

/* Copy src into a fixed attribute buffer, truncating (attributes are free text). */
static void set_attr(char *dst, const char *src)
{
    snprintf(dst, TTP_ATTR_LEN, "%s", src ? src : "");
}

ttp_status ttp_data_create(ttp_ctx *ctx, int64_t n, int ndim, const int64_t *shape, int nclasses,
                           ttp_data **out)
{
    ttp_status st = TTP_OK;
    ttp_data *d = NULL;
    if (out == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: out is NULL");
    *out = NULL;
    if (n < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: %lld samples, expected at least 1", (long long)n);
    if (ndim != 1 && ndim != 3)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_create: ndim %d, expected 1 (features) or 3 (channel, height, width)", ndim);
    if (shape == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: shape is NULL");
    if (nclasses < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: %d classes, expected >= 0", nclasses);
    int64_t dim = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 31))
            return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: shape[%d] = %lld, expected in [1, 2^31]", i,
                           (long long)shape[i]);
        dim *= shape[i];
        if (dim > ((int64_t)1 << 40))
            return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: %lld values per sample is too many",
                           (long long)dim);
    }
    if (n > INT64_MAX / dim / (int64_t)sizeof(double))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_create: %lld x %lld values overflow", (long long)n,
                       (long long)dim);

    TTP_ALLOC(ctx, st, fail, d, 1, "dataset");
    d->n = n;
    d->ndim = ndim;
    for (int i = 0; i < 3; i++) d->shape[i] = i < ndim ? shape[i] : 1;
    d->dim = dim;
    TTP_ALLOC(ctx, st, fail, d->x, (size_t)(n * dim), "dataset inputs");
    d->nclasses = nclasses;
    if (nclasses > 0) {
        TTP_ALLOC(ctx, st, fail, d->y, (size_t)n, "dataset labels");
        TTP_ALLOC(ctx, st, fail, d->class_names, (size_t)nclasses, "class names");
        for (int k = 0; k < nclasses; k++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%d", k);
            d->class_names[k] = dup_str(ctx, buf, "class name");
            if (d->class_names[k] == NULL) {
                st = TTP_ERR_NOMEM;
                goto fail;
            }
        }
    }
    *out = d;
    return TTP_OK;
fail:
    ttp_data_destroy(&d);
    return st;
}

void ttp_data_destroy(ttp_data **dp)
{
    if (dp == NULL || *dp == NULL) return;
    ttp_data *d = *dp;
    free(d->x);
    free(d->y);
    free(d->targets);
    free(d->mean);
    free(d->scale);
    if (d->class_names) {
        for (int k = 0; k < d->nclasses; k++) free(d->class_names[k]);
        free(d->class_names);
    }
    free(d);
    *dp = NULL;
}

/* Replace class name k (the old string is freed). */
static ttp_status set_class_name(ttp_ctx *ctx, ttp_data *d, int k, const char *name)
{
    char *p = dup_str(ctx, name, "class name");
    if (p == NULL) {
        ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
        return TTP_ERR_NOMEM;
    }
    free(d->class_names[k]);
    d->class_names[k] = p;
    return TTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */

ttp_status ttp_data_validate(ttp_ctx *ctx, const ttp_data *d, const char *where)
{
    const char *w = where ? where : "dataset";
    if (d == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "%s: dataset is NULL", w);
    if (d->n < 1)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: %lld samples, expected at least 1", w, (long long)d->n);
    if (d->ndim != 1 && d->ndim != 3)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: ndim %d, expected 1 or 3", w, d->ndim);
    int64_t dim = 1;
    for (int i = 0; i < 3; i++) {
        if (d->shape[i] < 1)
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: shape[%d] = %lld, expected >= 1", w, i,
                           (long long)d->shape[i]);
        dim *= d->shape[i];
    }
    if (dim != d->dim)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: dim %lld differs from the product of the shape, %lld", w,
                       (long long)d->dim, (long long)dim);
    if (d->x == NULL) return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: inputs missing", w);
    for (int64_t i = 0; i < d->n * d->dim; i++)
        if (!isfinite(d->x[i]))
            return TTP_ERR(ctx, TTP_ERR_NUMERIC,
                           "%s: inputs of sample %lld (value %lld of %lld) is %s; inputs must be finite", w,
                           (long long)(i / d->dim), (long long)(i % d->dim), (long long)d->dim,
                           isnan(d->x[i]) ? "NaN" : "Inf");
    if (d->nclasses < 0) return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: %d classes", w, d->nclasses);
    if (d->nclasses > 0) {
        if (d->y == NULL) return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: %d classes but no labels", w, d->nclasses);
        for (int64_t i = 0; i < d->n; i++)
            if (d->y[i] < 0 || d->y[i] >= d->nclasses)
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               "%s: label of sample %lld is %d, expected a value in [0, %d) (K = %d classes)",
                               w, (long long)i, d->y[i], d->nclasses, d->nclasses);
        if (d->class_names)
            for (int k = 0; k < d->nclasses; k++)
                if (d->class_names[k] == NULL || d->class_names[k][0] == '\0' ||
                    strchr(d->class_names[k], ';'))
                    return TTP_ERR(ctx, TTP_ERR_FORMAT,
                                   "%s: class name %d is %s; names must be non-empty and contain no ';'", w,
                                   k, d->class_names[k] ? d->class_names[k] : "missing");
    }
    if ((d->mean == NULL) != (d->scale == NULL))
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: input_mean and input_scale must be given together", w);
    for (int64_t j = 0; d->mean && j < d->dim; j++)
        if (!isfinite(d->mean[j]) || !isfinite(d->scale[j]) || !(d->scale[j] > 0))
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           "%s: standardization of input value %lld: mean %g, scale %g; expected a finite "
                           "mean and a finite scale > 0",
                           w, (long long)j, d->mean[j], d->scale[j]);
    if (d->ntargets < 0) return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: %d targets", w, d->ntargets);
    if (d->ntargets > 0) {
        if (d->targets == NULL)
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: %d targets declared but none stored", w, d->ntargets);
        for (int64_t i = 0; i < d->n * d->ntargets; i++)
            if (!isfinite(d->targets[i]))
                return TTP_ERR(ctx, TTP_ERR_NUMERIC, "%s: target %lld of sample %lld is not finite", w,
                               (long long)(i % d->ntargets), (long long)(i / d->ntargets));
    }
    return TTP_OK;
}

/* ------------------------------------------------------------------------ */
/* NetCDF read                                                               */

/* Split "a;b;c" into k names; returns -1 when the count differs from k. */
static int count_names(const char *s)
{
    int k = 1;
    for (const char *p = s; *p; p++) k += *p == ';';
    return k;
}

static int is_integer_type(nc_type t)
{
    return t == NC_BYTE || t == NC_UBYTE || t == NC_SHORT || t == NC_USHORT || t == NC_INT || t == NC_UINT ||
           t == NC_INT64 || t == NC_UINT64;
}

static int is_numeric_type(nc_type t)
{
    return is_integer_type(t) || t == NC_FLOAT || t == NC_DOUBLE;
}

/* The optional input_mean / input_scale pair: both or neither, each with
 * the per-sample shape of 'inputs' (nd dimensions of d->shape). */
static ttp_status read_standardization(ttp_ctx *ctx, int ncid, const char *path, int nd, ttp_data *d)
{
    ttp_status st = TTP_OK;
    static const char *names[2] = {"input_mean", "input_scale"};
    int vid[2];
    for (int v = 0; v < 2; v++) {
        int rc = nc_inq_varid(ncid, names[v], &vid[v]);
        if (rc == NC_ENOTVAR)
            vid[v] = -1;
        else
            TTP_NC(ctx, st, done, rc, "%s: variable '%s'", path, names[v]);
    }
    if (vid[0] < 0 && vid[1] < 0) return TTP_OK;
    if (vid[0] < 0 || vid[1] < 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: variable '%s' without '%s'; expected both or neither", path,
                     names[vid[0] < 0], names[vid[0] >= 0]);
        goto done;
    }
    for (int v = 0; v < 2; v++) {
        nc_type t;
        int vnd, vdims[NC_MAX_VAR_DIMS];
        TTP_NC(ctx, st, done, nc_inq_var(ncid, vid[v], NULL, &t, &vnd, vdims, NULL), "%s: variable '%s'",
               path, names[v]);
        int ok = vnd == nd && is_numeric_type(t);
        for (int i = 0; ok && i < nd; i++) {
            size_t l;
            TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, vdims[i], &l), "%s: dimension %d of '%s'", path, i,
                   names[v]);
            ok = (int64_t)l == d->shape[i];
        }
        if (!ok) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable '%s' must be numeric with the per-sample shape of 'inputs' "
                         "(%d dimension%s: %lld values)",
                         path, names[v], nd, nd > 1 ? "s" : "", (long long)d->dim);
            goto done;
        }
        double **dst = v == 0 ? &d->mean : &d->scale;
        TTP_ALLOC(ctx, st, done, *dst, (size_t)d->dim, names[v]);
        TTP_NC(ctx, st, done, nc_get_var_double(ncid, vid[v], *dst), "%s: reading variable '%s'", path,
               names[v]);
    }
done:
    return st;
}

ttp_status ttp_data_read(ttp_ctx *ctx, const char *path, ttp_data **out)
{
    ttp_status st = TTP_OK;
    int ncid = -1;
    ttp_data *d = NULL;
    char *kind = NULL, *names = NULL, *att = NULL;
    int *labels = NULL;
    if (out == NULL || path == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_read: NULL argument");
    *out = NULL;

    /* NetCDF's own message for a missing file is just "No such file or
     * directory"; open it ourselves first to say which file and why. */
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot open dataset file '%s': %s", path, strerror(errno));
    fclose(f);
    TTP_CALL(ctx, ttp_nc_precheck(ctx, path));
    int rc = nc_open(path, NC_NOWRITE, &ncid);
    if (rc == NC_ENOTNC || rc == NC_EHDFERR) {
        ncid = -1;
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "'%s' is not a NetCDF file (%s); expected a dataset written by "
                     "'ttpredict convert' or in the format of docs/formats/dataset.md",
                     path, nc_strerror(rc));
        goto done;
    }
    if (rc != NC_NOERR) ncid = -1;
    TTP_NC(ctx, st, done, rc, "cannot open dataset file '%s'", path);

    TTP_CALL_GOTO(ctx, st, done, ttp_nc_get_text(ctx, ncid, NC_GLOBAL, "ttp_kind", path, &kind));
    if (kind == NULL) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: global attribute 'ttp_kind' is missing; expected ttp_kind = \"dataset\"", path);
        goto done;
    }
    if (strcmp(kind, "dataset") != 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: global attribute ttp_kind is \"%s\", expected \"dataset\" "
                     "(is this a %s file?)",
                     path, kind, kind);
        goto done;
    }

    /* inputs(sample, feature) or inputs(sample, channel, height, width) */
    int vx;
    rc = nc_inq_varid(ncid, "inputs", &vx);
    if (rc == NC_ENOTVAR) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: no variable 'inputs'; expected double inputs(sample, feature) "
                     "or inputs(sample, channel, height, width)",
                     path);
        goto done;
    }
    TTP_NC(ctx, st, done, rc, "%s: variable 'inputs'", path);
    nc_type xtype;
    int xnd, xdims[NC_MAX_VAR_DIMS];
    TTP_NC(ctx, st, done, nc_inq_var(ncid, vx, NULL, &xtype, &xnd, xdims, NULL), "%s: variable 'inputs'",
           path);
    if (xnd != 2 && xnd != 4) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: variable 'inputs' has %d dimensions; expected 2 (sample, feature) "
                     "or 4 (sample, channel, height, width)",
                     path, xnd);
        goto done;
    }
    if (!is_numeric_type(xtype)) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: variable 'inputs' is not numeric (NetCDF type %d); expected double", path,
                     (int)xtype);
        goto done;
    }
    size_t len[4];
    for (int i = 0; i < xnd; i++)
        TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, xdims[i], &len[i]), "%s: dimension %d of 'inputs'", path,
               i);
    if (len[0] == 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "%s: variable 'inputs' has 0 samples (its first dimension); expected at least 1", path);
        goto done;
    }
    int64_t shape[3];
    for (int i = 1; i < xnd; i++) {
        if (len[i] == 0) {
            char dname[NC_MAX_NAME + 1] = "?";
            nc_inq_dimname(ncid, xdims[i], dname);
            st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: dimension '%s' of 'inputs' has length 0", path, dname);
            goto done;
        }
        shape[i - 1] = (int64_t)len[i];
    }
    int64_t n = (int64_t)len[0];
    {
        /* sizes against what will be allocated, before anything is read */
        int64_t per = 1, total = 0;
        for (int i = 1; i < xnd; i++)
            TTP_CALL_GOTO(ctx, st, done,
                          ttp_size_mul(ctx, per, shape[i - 1], TTP_SIZE_INT, &per,
                                       "%s: values per sample of 'inputs'", path));
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_size_mul(ctx, n, per, INT64_MAX / (int64_t)sizeof(double), &total,
                                   "%s: samples x values of 'inputs'", path));
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_nc_verify(ctx, ncid, path, NULL));

    /* labels(sample), optional; K from the class dimension, else from
     * class_names, else max label + 1. */
    int vy = -1, nclasses = 0;
    rc = nc_inq_varid(ncid, "labels", &vy);
    if (rc == NC_ENOTVAR)
        vy = -1;
    else
        TTP_NC(ctx, st, done, rc, "%s: variable 'labels'", path);
    TTP_CALL_GOTO(ctx, st, done, ttp_nc_get_text(ctx, ncid, NC_GLOBAL, "class_names", path, &names));
    if (vy >= 0) {
        nc_type ytype;
        int ynd, ydims[NC_MAX_VAR_DIMS];
        TTP_NC(ctx, st, done, nc_inq_var(ncid, vy, NULL, &ytype, &ynd, ydims, NULL), "%s: variable 'labels'",
               path);
        if (ynd != 1) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: variable 'labels' has %d dimensions; expected 1 (sample)",
                         path, ynd);
            goto done;
        }
        if (!is_integer_type(ytype)) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable 'labels' is not of an integer type (NetCDF type %d); "
                         "expected int labels(sample)",
                         path, (int)ytype);
            goto done;
        }
        size_t ylen;
        TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, ydims[0], &ylen), "%s: dimension of 'labels'", path);
        if ((int64_t)ylen != n) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable 'labels' has %zu entries but 'inputs' has %lld samples; "
                         "expected one label per sample",
                         path, ylen, (long long)n);
            goto done;
        }
        TTP_ALLOC(ctx, st, done, labels, (size_t)n, "labels");
        TTP_NC(ctx, st, done, nc_get_var_int(ncid, vy, labels), "%s: reading variable 'labels'", path);
        int dclass;
        rc = nc_inq_dimid(ncid, "class", &dclass);
        if (rc == NC_NOERR) {
            size_t k;
            TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, dclass, &k), "%s: dimension 'class'", path);
            if (k < 1 || k > TTP_DATA_MAX_CLASSES) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "%s: dimension 'class' has length %zu; expected 1 to %d classes", path, k,
                             TTP_DATA_MAX_CLASSES);
                goto done;
            }
            nclasses = (int)k;
        } else if (rc == NC_EBADDIM) {
            if (names) {
                nclasses = count_names(names);
            } else {
                int mx = 0;
                for (int64_t i = 0; i < n; i++) mx = labels[i] > mx ? labels[i] : mx;
                if (mx >= TTP_DATA_MAX_CLASSES) {
                    st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                                 "%s: variable 'labels' holds the label %d, which would make %lld "
                                 "classes; at most %d are supported",
                                 path, mx, (long long)mx + 1, TTP_DATA_MAX_CLASSES);
                    goto done;
                }
                nclasses = mx + 1;
            }
            if (nclasses > TTP_DATA_MAX_CLASSES) {
                st =
                    TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: class_names lists %d classes; at most %d are supported",
                            path, nclasses, TTP_DATA_MAX_CLASSES);
                goto done;
            }
        } else {
            TTP_NC(ctx, st, done, rc, "%s: dimension 'class'", path);
        }
        if (names && count_names(names) != nclasses) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: global attribute class_names lists %d names (\"%s\") but there are "
                         "K = %d classes; expected %d names separated by ';'",
                         path, count_names(names), names, nclasses, nclasses);
            goto done;
        }
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= nclasses) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "%s: variable 'labels': sample %lld has label %d; expected a value in "
                             "[0, %d) (K = %d classes)",
                             path, (long long)i, labels[i], nclasses, nclasses);
                goto done;
            }
    }

    TTP_CALL_GOTO(ctx, st, done, ttp_data_create(ctx, n, xnd == 2 ? 1 : 3, shape, nclasses, &d));
    TTP_NC(ctx, st, done, nc_get_var_double(ncid, vx, d->x), "%s: reading variable 'inputs'", path);
    if (nclasses > 0) {
        memcpy(d->y, labels, (size_t)n * sizeof *labels);
        if (names) {
            /* Walk by hand: strtok would merge empty names ("a;;b"). */
            int k = 0;
            char *p = names;
            while (k < nclasses) {
                char *semi = strchr(p, ';');
                if (semi) *semi = '\0';
                if (*p == '\0') {
                    st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: global attribute class_names: name %d is empty",
                                 path, k);
                    goto done;
                }
                TTP_CALL_GOTO(ctx, st, done, set_class_name(ctx, d, k, p));
                k++;
                if (!semi) break;
                p = semi + 1;
            }
        }
    }

    /* targets(sample, target), optional */
    int vt;
    rc = nc_inq_varid(ncid, "targets", &vt);
    if (rc == NC_NOERR) {
        int tnd, tdims[NC_MAX_VAR_DIMS];
        nc_type ttype;
        TTP_NC(ctx, st, done, nc_inq_var(ncid, vt, NULL, &ttype, &tnd, tdims, NULL), "%s: variable 'targets'",
               path);
        if (tnd != 2 || !is_numeric_type(ttype)) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable 'targets' must be double targets(sample, target); it has %d "
                         "dimensions (NetCDF type %d)",
                         path, tnd, (int)ttype);
            goto done;
        }
        size_t tl[2];
        TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, tdims[0], &tl[0]), "%s: dimension 0 of 'targets'", path);
        TTP_NC(ctx, st, done, nc_inq_dimlen(ncid, tdims[1], &tl[1]), "%s: dimension 1 of 'targets'", path);
        if ((int64_t)tl[0] != n || tl[1] < 1 || tl[1] > TTP_DATA_MAX_CLASSES) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable 'targets' is %zu x %zu; expected %lld samples x T >= 1 targets", path,
                         tl[0], tl[1], (long long)n);
            goto done;
        }
        d->ntargets = (int)tl[1];
        TTP_ALLOC(ctx, st, done, d->targets, (size_t)n * tl[1], "targets");
        TTP_NC(ctx, st, done, nc_get_var_double(ncid, vt, d->targets), "%s: reading variable 'targets'",
               path);
    } else if (rc != NC_ENOTVAR) {
        TTP_NC(ctx, st, done, rc, "%s: variable 'targets'", path);
    }

    TTP_CALL_GOTO(ctx, st, done, read_standardization(ctx, ncid, path, xnd - 1, d));

    static const char *prov[4] = {"title", "source", "license", "history"};
    char *dst[4] = {d->title, d->source, d->license, d->history};
    for (int i = 0; i < 4; i++) {
        TTP_CALL_GOTO(ctx, st, done, ttp_nc_get_text(ctx, ncid, NC_GLOBAL, prov[i], path, &att));
        set_attr(dst[i], att);
        free(att);
        att = NULL;
    }

    TTP_CALL_GOTO(ctx, st, done, ttp_data_validate(ctx, d, path));
    *out = d;
    d = NULL;
done:
    if (ncid >= 0) nc_close(ncid);
    free(kind);
    free(names);
    free(att);
    free(labels);
    ttp_data_destroy(&d);
    return st;
}

/* ------------------------------------------------------------------------ */
/* NetCDF write                                                              */

ttp_status ttp_data_write(ttp_ctx *ctx, const char *path, const ttp_data *d)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    int ncid = -1;
    char *names = NULL;
    if (path == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_write: path is NULL");
    TTP_CALL(ctx, ttp_data_validate(ctx, d, path));

    /* NetCDF-4 for compression: digits images compress about 10x. */
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_NETCDF4 | NC_CLOBBER));
    ncid = f.id;
    int ds, dims[4], nd = 1;
    TTP_NC(ctx, st, fail, nc_def_dim(ncid, "sample", (size_t)d->n, &ds), "%s: dimension 'sample'", path);
    dims[0] = ds;
    if (d->ndim == 1) {
        TTP_NC(ctx, st, fail, nc_def_dim(ncid, "feature", (size_t)d->shape[0], &dims[1]),
               "%s: dimension 'feature'", path);
        nd = 2;
    } else {
        static const char *dn[3] = {"channel", "height", "width"};
        for (int i = 0; i < 3; i++)
            TTP_NC(ctx, st, fail, nc_def_dim(ncid, dn[i], (size_t)d->shape[i], &dims[1 + i]),
                   "%s: dimension '%s'", path, dn[i]);
        nd = 4;
    }
    int vx, vy = -1, vt = -1, dc, dt;
    if (d->nclasses > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(ncid, "class", (size_t)d->nclasses, &dc), "%s: dimension 'class'",
               path);
    TTP_NC(ctx, st, fail, nc_def_var(ncid, "inputs", NC_DOUBLE, nd, dims, &vx), "%s: variable 'inputs'",
           path);
    TTP_NC(ctx, st, fail, nc_def_var_deflate(ncid, vx, 1, 1, 4), "%s: compression of 'inputs'", path);
    if (d->nclasses > 0) {
        TTP_NC(ctx, st, fail, nc_def_var(ncid, "labels", NC_INT, 1, &ds, &vy), "%s: variable 'labels'", path);
        TTP_NC(ctx, st, fail, nc_def_var_deflate(ncid, vy, 1, 1, 4), "%s: compression of 'labels'", path);
    }
    if (d->ntargets > 0) {
        TTP_NC(ctx, st, fail, nc_def_dim(ncid, "target", (size_t)d->ntargets, &dt), "%s: dimension 'target'",
               path);
        int td[2] = {ds, dt};
        TTP_NC(ctx, st, fail, nc_def_var(ncid, "targets", NC_DOUBLE, 2, td, &vt), "%s: variable 'targets'",
               path);
    }
    int vm = -1, vs = -1;
    if (d->mean) {
        TTP_NC(ctx, st, fail, nc_def_var(ncid, "input_mean", NC_DOUBLE, nd - 1, dims + 1, &vm),
               "%s: variable 'input_mean'", path);
        TTP_NC(ctx, st, fail, nc_def_var(ncid, "input_scale", NC_DOUBLE, nd - 1, dims + 1, &vs),
               "%s: variable 'input_scale'", path);
        TTP_CALL_GOTO(ctx, st, fail,
                      ttp_nc_put_text(ctx, ncid, vm, "long_name",
                                      "per-feature mean subtracted from the raw inputs", path));
        TTP_CALL_GOTO(ctx, st, fail,
                      ttp_nc_put_text(ctx, ncid, vs, "long_name",
                                      "per-feature divisor: inputs = (raw - input_mean) / input_scale",
                                      path));
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, ncid, NC_GLOBAL, "ttp_kind", "dataset", path));
    if (d->nclasses > 0) {
        size_t total = 1;
        for (int k = 0; k < d->nclasses; k++) total += strlen(d->class_names ? d->class_names[k] : "") + 12;
        TTP_ALLOC(ctx, st, fail, names, total, "class names");
        char *p = names;
        for (int k = 0; k < d->nclasses; k++) {
            if (d->class_names)
                p += sprintf(p, "%s%s", k ? ";" : "", d->class_names[k]);
            else
                p += sprintf(p, "%s%d", k ? ";" : "", k);
        }
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, ncid, NC_GLOBAL, "class_names", names, path));
    }
    static const char *prov[4] = {"title", "source", "license", "history"};
    const char *val[4] = {d->title, d->source, d->license, d->history};
    for (int i = 0; i < 4; i++)
        if (val[i][0] != '\0')
            TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, ncid, NC_GLOBAL, prov[i], val[i], path));
    TTP_NC(ctx, st, fail, nc_enddef(ncid), "%s: leaving define mode", path);

    TTP_NC(ctx, st, fail, nc_put_var_double(ncid, vx, d->x), "%s: writing variable 'inputs'", path);
    if (vy >= 0) TTP_NC(ctx, st, fail, nc_put_var_int(ncid, vy, d->y), "%s: writing variable 'labels'", path);
    if (vt >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(ncid, vt, d->targets), "%s: writing variable 'targets'",
               path);
    if (vm >= 0) {
        TTP_NC(ctx, st, fail, nc_put_var_double(ncid, vm, d->mean), "%s: writing variable 'input_mean'",
               path);
        TTP_NC(ctx, st, fail, nc_put_var_double(ncid, vs, d->scale), "%s: writing variable 'input_scale'",
               path);
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    free(names);
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    free(names);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Subsets                                                                   */

/* A new dataset with the samples idx[0..m) of d (labels remapped through
 * map when map != NULL) and d's provenance; history gets `note` appended. */
static ttp_status gather(ttp_ctx *ctx, const ttp_data *d, const int64_t *idx, int64_t m, int nclasses,
                         const int *map, const int *name_of, const char *note, ttp_data **out)
{
    ttp_status st = TTP_OK;
    ttp_data *o = NULL;
    TTP_CALL_GOTO(ctx, st, fail, ttp_data_create(ctx, m, d->ndim, d->shape, nclasses, &o));
    for (int64_t j = 0; j < m; j++) {
        memcpy(o->x + j * d->dim, d->x + idx[j] * d->dim, (size_t)d->dim * sizeof(double));
        if (nclasses > 0) o->y[j] = map ? map[d->y[idx[j]]] : d->y[idx[j]];
    }
    if (nclasses > 0 && d->class_names)
        for (int k = 0; k < nclasses; k++)
            TTP_CALL_GOTO(ctx, st, fail, set_class_name(ctx, o, k, d->class_names[name_of ? name_of[k] : k]));
    if (d->ntargets > 0) {
        o->ntargets = d->ntargets;
        TTP_ALLOC(ctx, st, fail, o->targets, (size_t)(m * d->ntargets), "targets");
        for (int64_t j = 0; j < m; j++)
            memcpy(o->targets + j * d->ntargets, d->targets + idx[j] * d->ntargets,
                   (size_t)d->ntargets * sizeof(double));
    }
    if (d->mean) {
        TTP_ALLOC(ctx, st, fail, o->mean, (size_t)d->dim, "input_mean");
        TTP_ALLOC(ctx, st, fail, o->scale, (size_t)d->dim, "input_scale");
        memcpy(o->mean, d->mean, (size_t)d->dim * sizeof(double));
        memcpy(o->scale, d->scale, (size_t)d->dim * sizeof(double));
    }
    set_attr(o->title, d->title);
    set_attr(o->source, d->source);
    set_attr(o->license, d->license);
    /* A history too long to keep whole loses its end, never the note. */
    size_t room = TTP_ATTR_LEN - strlen(note) - 3;
    snprintf(o->history, TTP_ATTR_LEN, "%.*s%s%s", (int)room, d->history, d->history[0] ? "; " : "", note);
    *out = o;
    return TTP_OK;
fail:
    ttp_data_destroy(&o);
    return st;
}

ttp_status ttp_data_select_classes(ttp_ctx *ctx, const ttp_data *d, const int *classes, int nsel,
                                   int64_t per_class, ttp_data **out)
{
    ttp_status st = TTP_OK;
    int *map = NULL;
    int64_t *idx = NULL, *taken = NULL;
    if (out == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: out is NULL");
    *out = NULL;
    TTP_CALL(ctx, ttp_data_validate(ctx, d, "ttp_data_select_classes"));
    if (d->nclasses == 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: the dataset has no labels");
    if (classes == NULL || nsel < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: %d classes selected, expected at least 1",
                       nsel);
    TTP_ALLOC(ctx, st, done, map, (size_t)d->nclasses, "class map");
    for (int k = 0; k < d->nclasses; k++) map[k] = -1;
    for (int s = 0; s < nsel; s++) {
        if (classes[s] < 0 || classes[s] >= d->nclasses) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: class %d is not in [0, %d)", classes[s],
                         d->nclasses);
            goto done;
        }
        if (map[classes[s]] >= 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: class %d selected twice", classes[s]);
            goto done;
        }
        map[classes[s]] = s;
    }
    TTP_ALLOC(ctx, st, done, idx, (size_t)d->n, "selection");
    TTP_ALLOC(ctx, st, done, taken, (size_t)nsel, "selection counts");
    int64_t m = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int s = map[d->y[i]];
        if (s < 0 || (per_class > 0 && taken[s] >= per_class)) continue;
        taken[s]++;
        idx[m++] = i;
    }
    for (int s = 0; s < nsel; s++)
        if (taken[s] == 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_select_classes: class %d ('%s') has no samples",
                         classes[s], d->class_names ? d->class_names[classes[s]] : "?");
            goto done;
        }
    char note[256];
    if (per_class > 0)
        snprintf(note, sizeof note, "selected %d classes, at most %lld per class, in file order", nsel,
                 (long long)per_class);
    else
        snprintf(note, sizeof note, "selected %d classes, all samples", nsel);
    TTP_CALL_GOTO(ctx, st, done, gather(ctx, d, idx, m, nsel, map, classes, note, out));
done:
    free(map);
    free(idx);
    free(taken);
    return st;
}

ttp_status ttp_data_take(ttp_ctx *ctx, const ttp_data *d, int64_t n, ttp_data **out)
{
    ttp_status st = TTP_OK;
    int64_t *idx = NULL, *count = NULL, *quota = NULL, *taken = NULL;
    if (out == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_take: out is NULL");
    *out = NULL;
    TTP_CALL(ctx, ttp_data_validate(ctx, d, "ttp_data_take"));
    if (n < 1 || n > d->n)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_take: %lld samples requested, expected 1..%lld (the dataset's size)",
                       (long long)n, (long long)d->n);
    TTP_ALLOC(ctx, st, done, idx, (size_t)n, "selection");
    int64_t m = 0;
    if (d->nclasses == 0) {
        for (int64_t i = 0; i < n; i++) idx[m++] = i;
    } else {
        /* Largest-remainder apportionment: quota_k = floor(n·N_k/N), the
         * samples left over go to the largest fractional parts (ties to the
         * lower class), so the class proportions are kept as well as
         * integers allow. */
        int K = d->nclasses;
        TTP_ALLOC(ctx, st, done, count, (size_t)K, "class counts");
        TTP_ALLOC(ctx, st, done, quota, (size_t)K, "class quotas");
        TTP_ALLOC(ctx, st, done, taken, (size_t)K, "class counts");
        for (int64_t i = 0; i < d->n; i++) count[d->y[i]]++;
        int64_t given = 0;
        for (int k = 0; k < K; k++) {
            quota[k] = n * count[k] / d->n;
            given += quota[k];
        }
        for (; given < n; given++) {
            int best = 0;
            int64_t best_rem = -2;
            for (int k = 0; k < K; k++) {
                if (quota[k] >= count[k]) continue;
                /* remainder of n·N_k/N, scaled by N; bumped classes lose it */
                int64_t rem = taken[k] ? -1 : (n * count[k]) % d->n;
                if (rem > best_rem) best_rem = rem, best = k;
            }
            quota[best]++;
            taken[best] = 1;
        }
        memset(taken, 0, (size_t)K * sizeof *taken);
        for (int64_t i = 0; i < d->n && m < n; i++) {
            int k = d->y[i];
            if (taken[k] < quota[k]) {
                taken[k]++;
                idx[m++] = i;
            }
        }
    }
    char note[128];
    snprintf(note, sizeof note, "took %lld of %lld samples, stratified by class, in file order", (long long)n,
             (long long)d->n);
    TTP_CALL_GOTO(ctx, st, done, gather(ctx, d, idx, m, d->nclasses, NULL, NULL, note, out));
done:
    free(idx);
    free(count);
    free(quota);
    free(taken);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Splits                                                                    */

int ttp_split_nparts(const ttp_split_opts *o)
{
    if (o == NULL) return 0;
    if (o->fraction > 0 || o->per_class > 0) return 2;
    if (o->ngroups > 0) return o->ngroups + (o->rest ? 1 : 0);
    return 0;
}

/* Choose which samples of each class go to part 0 (the quota), the others
 * of the eligible ones to part 1: part[i] is -1 (not eligible) on entry for
 * the samples left out.  Classes are cls(i) = y[i], or one class when d is
 * unlabelled. */
static ttp_status split_quota(ttp_ctx *ctx, const ttp_data *d, const ttp_split_opts *o, int *part)
{
    ttp_status st = TTP_OK;
    int nk = d->nclasses > 0 ? d->nclasses : 1;
    int64_t *count = NULL, *start = NULL, *list = NULL, *fill = NULL;
    TTP_ALLOC(ctx, st, done, count, (size_t)nk, "class counts");
    TTP_ALLOC(ctx, st, done, start, (size_t)nk + 1, "class offsets");
    TTP_ALLOC(ctx, st, done, fill, (size_t)nk, "class offsets");
    TTP_ALLOC(ctx, st, done, list, (size_t)d->n, "class members");
    for (int64_t i = 0; i < d->n; i++)
        if (part[i] >= 0) count[d->nclasses > 0 ? d->y[i] : 0]++;
    for (int k = 0; k < nk; k++) start[k + 1] = start[k] + count[k];
    for (int64_t i = 0; i < d->n; i++)
        if (part[i] >= 0) {
            int k = d->nclasses > 0 ? d->y[i] : 0;
            list[start[k] + fill[k]++] = i; /* file order within each class */
        }
    uint64_t counter = 0;
    for (int k = 0; k < nk; k++) {
        int64_t nkk = count[k], q;
        if (nkk == 0) continue; /* a class with no samples here has none to give */
        if (o->per_class > 0) {
            if (nkk < o->per_class) {
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "option per_class: %lld samples of each class asked for, but class %d ('%s') "
                             "has only %lld",
                             (long long)o->per_class, k,
                             d->class_names && d->nclasses > 0 ? d->class_names[k] : "all", (long long)nkk);
                goto done;
            }
            q = o->per_class;
        } else {
            q = llround(o->fraction * (double)nkk);
        }
        int64_t *m = list + start[k];
        if (o->pick == TTP_SPLIT_RANDOM)
            /* partial Fisher-Yates: the first q entries become a uniform
             * random q-subset; the generator is counter-based, so the
             * choice is the same on every machine */
            for (int64_t t = 0; t < q; t++) {
                int64_t j = t + (int64_t)(ttp_rng_hash_uniform(o->seed, counter++) * (double)(nkk - t));
                if (j >= nkk) j = nkk - 1;
                int64_t tmp = m[t];
                m[t] = m[j];
                m[j] = tmp;
            }
        for (int64_t t = 0; t < nkk; t++) part[m[t]] = t < q ? 0 : 1;
    }
done:
    free(count);
    free(start);
    free(fill);
    free(list);
    return st;
}

ttp_status ttp_data_split(ttp_ctx *ctx, const ttp_data *d, const ttp_split_opts *o, const char *note,
                          ttp_data **parts)
{
    ttp_status st = TTP_OK;
    int *group_of = NULL, *part = NULL, *map = NULL, *name_of = NULL;
    int64_t *idx = NULL;
    if (o == NULL || parts == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_split: NULL argument");
    int np = ttp_split_nparts(o);
    for (int p = 0; p < np; p++) parts[p] = NULL;
    TTP_CALL(ctx, ttp_data_validate(ctx, d, "ttp_data_split"));
    int quota = o->fraction > 0 || o->per_class > 0;
    if (np == 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_split: no way of splitting chosen; expected class groups (option "
                       "classes), a fraction (option fraction) or a count per class (option per_class)");
    if (o->fraction != 0 && !(o->fraction > 0 && o->fraction < 1))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option fraction: %g, expected a value in (0, 1)", o->fraction);
    if (o->fraction > 0 && o->per_class > 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "options fraction/per_class: give one of them, not both");
    if (o->per_class < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option per_class: %lld, expected >= 1", (long long)o->per_class);
    if (o->ngroups < 0 || o->ngroups >= TTP_SPLIT_MAX_PARTS)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option classes: %d groups, expected 0 to %d", o->ngroups,
                       TTP_SPLIT_MAX_PARTS - 1);
    if (quota && (o->ngroups > 1 || o->rest))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option classes: with a fraction or a count per class, give one group of classes "
                       "(their samples are split) and no rest");
    if (o->ngroups > 0 && d->nclasses == 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option classes: the dataset has no labels to select classes by");
    if (o->pick != TTP_SPLIT_FIRST && o->pick != TTP_SPLIT_RANDOM)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option pick: %d, expected first or random", (int)o->pick);
    int K = d->nclasses;

    TTP_ALLOC(ctx, st, done, part, (size_t)d->n, "parts");
    if (K > 0) {
        TTP_ALLOC(ctx, st, done, group_of, (size_t)K, "class groups");
        for (int k = 0; k < K; k++) group_of[k] = o->ngroups > 0 ? -1 : 0;
        for (int g = 0; g < o->ngroups; g++) {
            if (o->group_len[g] < 1) {
                st = TTP_ERR(ctx, TTP_ERR_ARG, "option classes: group %d is empty", g + 1);
                goto done;
            }
            for (int j = 0; j < o->group_len[g]; j++) {
                int k = o->groups[g][j];
                if (k < 0 || k >= K) {
                    st = TTP_ERR(ctx, TTP_ERR_ARG,
                                 "option classes: class %d (group %d) does not exist; the dataset has "
                                 "classes 0 to %d",
                                 k, g + 1, K - 1);
                    goto done;
                }
                if (group_of[k] >= 0) {
                    st = TTP_ERR(ctx, TTP_ERR_ARG,
                                 "option classes: class %d is in group %d and again in group %d; expected "
                                 "each class in at most one group",
                                 k, group_of[k] + 1, g + 1);
                    goto done;
                }
                group_of[k] = g;
            }
        }
    }
    for (int64_t i = 0; i < d->n; i++) {
        int g = K > 0 ? group_of[d->y[i]] : 0;
        part[i] = g >= 0 ? g : o->rest ? o->ngroups : -1;
    }
    if (quota) TTP_CALL_GOTO(ctx, st, done, split_quota(ctx, d, o, part));

    TTP_ALLOC(ctx, st, done, idx, (size_t)d->n, "selection");
    if (K > 0) {
        TTP_ALLOC(ctx, st, done, map, (size_t)K, "class map");
        TTP_ALLOC(ctx, st, done, name_of, (size_t)K, "class names");
    }
    for (int p = 0; p < np; p++) {
        int64_t m = 0;
        for (int64_t i = 0; i < d->n; i++)
            if (part[i] == p) idx[m++] = i;
        if (m == 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "ttp_data_split: part %d of %d would hold no samples; expected every part "
                         "non-empty",
                         p + 1, np);
            goto done;
        }
        /* the classes this part is drawn from, in increasing order */
        int kp = K;
        if (K > 0 && o->relabel) {
            int g = quota ? 0 : p < o->ngroups ? p : -1;
            kp = 0;
            for (int k = 0; k < K; k++) {
                int from = o->ngroups == 0 || group_of[k] == g;
                map[k] = from ? kp : -1;
                if (from) name_of[kp++] = k;
            }
        }
        char pnote[TTP_ATTR_LEN];
        /* at most half the attribute, so that gather keeps some of the old history */
        snprintf(pnote, sizeof pnote, "%.*s (part %d of %d%s)", TTP_ATTR_LEN / 2, note ? note : "split",
                 p + 1, np, K > 0 && o->relabel ? ", classes renumbered from 0" : "");
        TTP_CALL_GOTO(ctx, st, done,
                      gather(ctx, d, idx, m, kp, K > 0 && o->relabel ? map : NULL,
                             K > 0 && o->relabel ? name_of : NULL, pnote, &parts[p]));
    }
done:
    if (st != TTP_OK)
        for (int p = 0; p < np; p++) ttp_data_destroy(&parts[p]);
    free(group_of);
    free(part);
    free(map);
    free(name_of);
    free(idx);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Relabelling                                                               */
/* ------------------------------------------------------------------------ */

ttp_status ttp_data_relabel(ttp_ctx *ctx, ttp_data *d, ttp_relabel_mode mode, int *changed)
{
    ttp_status st = TTP_OK;
    int64_t *count = NULL;
    int *map = NULL;
    char **names = NULL;
    int present = 0;
    if (changed) *changed = 0;
    if (d == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_relabel: NULL dataset");
    if (mode != TTP_RELABEL_NO && mode != TTP_RELABEL_ONE && mode != TTP_RELABEL_YES)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_relabel: mode %d; expected no, one-based or yes",
                       (int)mode);
    if (mode == TTP_RELABEL_NO || d->nclasses <= 0 || d->y == NULL) return TTP_OK;
    const int K = d->nclasses;
    TTP_ALLOC(ctx, st, done, count, (size_t)K, "class counts");
    for (int64_t i = 0; i < d->n; i++) {
        if (d->y[i] < 0 || d->y[i] >= K) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT, "ttp_data_relabel: sample %lld has label %d; expected [0, %d)",
                         (long long)i, d->y[i], K);
            goto done;
        }
        count[d->y[i]]++;
    }
    for (int k = 0; k < K; k++) present += count[k] > 0;
    if (present == K) goto done; /* nothing to renumber */
    if (mode == TTP_RELABEL_ONE) {
        /* exactly 1..K-1 present, 0 absent */
        if (count[0] != 0 || present != K - 1) goto done;
    }
    TTP_ALLOC(ctx, st, done, map, (size_t)K, "class map");
    TTP_ALLOC(ctx, st, done, names, (size_t)present, "class names");
    int kp = 0;
    for (int k = 0; k < K; k++) {
        map[k] = count[k] > 0 ? kp : -1;
        if (count[k] > 0) {
            char nb[32];
            snprintf(nb, sizeof nb, "%d", k);
            const char *old = d->class_names && d->class_names[k] ? d->class_names[k] : nb;
            names[kp] = dup_str(ctx, old, "class name");
            if (names[kp] == NULL) {
                st = TTP_ERR_NOMEM;
                ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
                goto done;
            }
            kp++;
        }
    }
    for (int64_t i = 0; i < d->n; i++) d->y[i] = map[d->y[i]];
    for (int k = 0; k < K; k++) free(d->class_names ? d->class_names[k] : NULL);
    free(d->class_names);
    d->class_names = names;
    names = NULL;
    d->nclasses = present;
    if (changed) *changed = 1;
done:
    if (names)
        for (int k = 0; k < present; k++) free(names[k]);
    free(names);
    free(map);
    free(count);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Standardization                                                           */

static ttp_status apply_scaling(ttp_ctx *ctx, ttp_data *d, const double *mean, const double *scale)
{
    ttp_status st = TTP_OK;
    TTP_ALLOC(ctx, st, fail, d->mean, (size_t)d->dim, "input_mean");
    TTP_ALLOC(ctx, st, fail, d->scale, (size_t)d->dim, "input_scale");
    memcpy(d->mean, mean, (size_t)d->dim * sizeof(double));
    memcpy(d->scale, scale, (size_t)d->dim * sizeof(double));
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++)
            d->x[i * d->dim + j] = (d->x[i * d->dim + j] - mean[j]) / scale[j];
    return TTP_OK;
fail:
    free(d->mean);
    free(d->scale);
    d->mean = d->scale = NULL;
    return st;
}

ttp_status ttp_data_standardize(ttp_ctx *ctx, ttp_data *d, unsigned char *constant, int64_t *nconst)
{
    ttp_status st = TTP_OK;
    double *mean = NULL, *scale = NULL;
    TTP_CALL(ctx, ttp_data_validate(ctx, d, "ttp_data_standardize"));
    if (d->mean)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_standardize: the dataset is already standardized (it carries input_mean "
                       "and input_scale)");
    TTP_ALLOC(ctx, st, done, mean, (size_t)d->dim, "means");
    TTP_ALLOC(ctx, st, done, scale, (size_t)d->dim, "scales");
    /* Two passes (mean, then the squared deviations from it): one pass of
     * sums of squares loses the digits of features far from zero. */
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) mean[j] += d->x[i * d->dim + j];
    for (int64_t j = 0; j < d->dim; j++) mean[j] /= (double)d->n;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            double e = d->x[i * d->dim + j] - mean[j];
            scale[j] += e * e;
        }
    int64_t nc = 0;
    for (int64_t j = 0; j < d->dim; j++) {
        scale[j] = sqrt(scale[j] / (double)d->n); /* population deviation, as most scalers use */
        /* zero, or rounding noise of a constant column: centre it only */
        int zero = !(scale[j] > 1e-12 * (fabs(mean[j]) > 1 ? fabs(mean[j]) : 1));
        if (zero) {
            scale[j] = 1;
            nc++;
        }
        if (constant) constant[j] = (unsigned char)zero;
    }
    TTP_CALL_GOTO(ctx, st, done, apply_scaling(ctx, d, mean, scale));
    if (nconst) *nconst = nc;
done:
    free(mean);
    free(scale);
    return st;
}

ttp_status ttp_data_standardize_like(ttp_ctx *ctx, ttp_data *d, const ttp_data *ref, const char *ref_name)
{
    const char *rn = ref_name ? ref_name : "the reference dataset";
    TTP_CALL(ctx, ttp_data_validate(ctx, d, "ttp_data_standardize_like"));
    if (ref == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_standardize_like: ref is NULL");
    if (ref->mean == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "%s is not standardized (it has no input_mean / input_scale); expected a dataset "
                       "made with standardization",
                       rn);
    if (d->mean)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_standardize_like: the dataset is already standardized (it carries "
                       "input_mean and input_scale)");
    if (ref->dim != d->dim)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "%s has %lld values per sample but this dataset %lld; the scaling applies only to "
                       "data of the same features",
                       rn, (long long)ref->dim, (long long)d->dim);
    return apply_scaling(ctx, d, ref->mean, ref->scale);
}

/* ------------------------------------------------------------------------ */
/* Converters                                                                */

/* Whole file into memory (binary); *len receives its size. */
static ttp_status slurp(ttp_ctx *ctx, const char *path, const char *what, unsigned char **buf, size_t *len)
{
    ttp_status st = TTP_OK;
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return TTP_ERR(ctx, TTP_ERR_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot seek in %s '%s': %s", what, path, strerror(errno));
        goto done;
    }
    long size = ftell(f);
    if (size < 0) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot read the size of %s '%s': %s", what, path, strerror(errno));
        goto done;
    }
    rewind(f);
    TTP_ALLOC(ctx, st, done, *buf, (size_t)size + 1, what);
    if (size > 0 && fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot read %s '%s': %s", what, path,
                     ferror(f) ? strerror(errno) : "short read");
        free(*buf);
        *buf = NULL;
        goto done;
    }
    (*buf)[size] = '\0';
    *len = (size_t)size;
done:
    fclose(f);
    return st;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Check an IDX header: ubyte data (type 0x08) with `nd` dimensions. */
static ttp_status idx_header(ttp_ctx *ctx, const char *path, const char *what, const unsigned char *buf,
                             size_t len, int nd, uint32_t *dims)
{
    uint32_t want = 0x00000800u | (uint32_t)nd;
    if (len < 4)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s '%s': %zu bytes, too short for an IDX header", what, path,
                       len);
    uint32_t magic = be32(buf);
    if (magic != want)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s '%s': IDX magic number 0x%08x, expected 0x%08x (unsigned bytes, "
                       "%d dimension%s; big-endian; is the file still gzip-compressed?)",
                       what, path, magic, want, nd, nd > 1 ? "s" : "");
    size_t head = 4 + 4 * (size_t)nd;
    if (len < head)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s '%s': %zu bytes, too short for an IDX header of %zu bytes",
                       what, path, len, head);
    uint64_t total = 1;
    for (int i = 0; i < nd; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        total *= dims[i];
        if (total > ((uint64_t)1 << 40))
            return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s '%s': IDX dimensions too large", what, path);
    }
    if (len != head + total)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s '%s': %zu bytes, expected %llu (a %zu-byte header and %llu values); "
                       "the file is %s",
                       what, path, len, (unsigned long long)(head + total), head, (unsigned long long)total,
                       len < head + total ? "truncated" : "longer than its header says");
    return TTP_OK;
}

ttp_status ttp_data_from_idx(ttp_ctx *ctx, const char *images, const char *labels, ttp_data **out)
{
    ttp_status st = TTP_OK;
    unsigned char *ib = NULL, *lb = NULL;
    size_t ilen = 0, llen = 0;
    ttp_data *d = NULL;
    if (out == NULL || images == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_from_idx: NULL argument");
    *out = NULL;
    uint32_t idim[3], ldim[1];
    TTP_CALL_GOTO(ctx, st, done, slurp(ctx, images, "IDX images file", &ib, &ilen));
    TTP_CALL_GOTO(ctx, st, done, idx_header(ctx, images, "IDX images file", ib, ilen, 3, idim));
    if (idim[0] == 0 || idim[1] == 0 || idim[2] == 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "IDX images file '%s': dimensions %u x %u x %u; expected none zero",
                     images, idim[0], idim[1], idim[2]);
        goto done;
    }
    int K = 0;
    if (labels) {
        TTP_CALL_GOTO(ctx, st, done, slurp(ctx, labels, "IDX labels file", &lb, &llen));
        TTP_CALL_GOTO(ctx, st, done, idx_header(ctx, labels, "IDX labels file", lb, llen, 1, ldim));
        if (ldim[0] != idim[0]) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "IDX labels file '%s' has %u labels but images file '%s' has %u images; "
                         "expected one label per image",
                         labels, ldim[0], images, idim[0]);
            goto done;
        }
        for (uint32_t i = 0; i < ldim[0]; i++) K = lb[8 + i] + 1 > K ? lb[8 + i] + 1 : K;
    }
    int64_t shape[3] = {1, idim[1], idim[2]};
    TTP_CALL_GOTO(ctx, st, done, ttp_data_create(ctx, idim[0], 3, shape, K, &d));
    /* Pixel bytes 0..255 become [0, 1], the usual scaling for MNIST-like data. */
    for (int64_t i = 0; i < d->n * d->dim; i++) d->x[i] = ib[16 + i] / 255.0;
    for (int64_t i = 0; K > 0 && i < d->n; i++) d->y[i] = lb[8 + i];
    snprintf(d->history, TTP_ATTR_LEN, "converted from IDX images '%s'%s%s%s", images,
             labels ? " and labels '" : "", labels ? labels : "", labels ? "'" : "");
    *out = d;
    d = NULL;
done:
    free(ib);
    free(lb);
    ttp_data_destroy(&d);
    return st;
}

/* Trim spaces/tabs/CR at both ends in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* Parse one cell as a number; 1 when it is one (NaN and Inf included: a
 * header is told by its names, a bad value is reported later), 0 if not. */
static int cell_parses(const char *c, double *v)
{
    char *end = NULL;
    if (*c == '\0') return 0;
    errno = 0;
    *v = strtod(c, &end);
    return end != c && *end == '\0';
}

/* Parse one cell as a finite number in double's range. */
static int cell_number(const char *c, double *v)
{
    return cell_parses(c, v) && errno != ERANGE && isfinite(*v);
}

/* Split a line at commas in place; returns the count (at most cap cells are
 * stored, the rest only counted). */
static int64_t split(char *line, char **cells, int64_t cap)
{
    int64_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (n < cap) cells[n] = trim(p);
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

ttp_status ttp_data_from_csv(ttp_ctx *ctx, const char *path, int label_col, ttp_data **out)
{
    ttp_csv_opts o = {label_col, NULL, NULL, 0, -1};
    return ttp_data_from_csv_opts(ctx, path, &o, out);
}

static int64_t count_cells(const char *line)
{
    int64_t n = 1;
    for (const char *p = line; *p; p++) n += *p == ',';
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a column is: 0 feature, 1 label, 2 dropped. */
enum { COL_FEATURE = 0, COL_LABEL = 1, COL_DROP = 2 };

ttp_status ttp_data_from_csv_opts(ttp_ctx *ctx, const char *path, const ttp_csv_opts *o, ttp_data **out)
{
    ttp_status st = TTP_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    char **lines = NULL, **cells = NULL, *copy = NULL, **labtext = NULL, **uniq = NULL;
    int64_t *lineno = NULL, n_lab = 0;
    unsigned char *role = NULL;
    ttp_data *d = NULL;
    if (out == NULL || path == NULL || o == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_from_csv: NULL argument");
    *out = NULL;
    int label_col = o->label_col;
    if (label_col < -1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttp_data_from_csv: label column %d, expected -1 (none) or a column index >= 0",
                       label_col);
    if (o->header < -1 || o->header > 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_from_csv: header %d, expected -1, 0 or 1", o->header);
    if (o->ndrop < 0 || (o->ndrop > 0 && o->drop == NULL))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_from_csv: %d dropped columns but no list", o->ndrop);
    TTP_CALL_GOTO(ctx, st, done, slurp(ctx, path, "CSV file", &buf, &len));
    if (memchr(buf, '\0', len)) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "CSV file '%s' contains NUL bytes; expected text", path);
        goto done;
    }

    /* Lines, with their 1-based numbers; blank lines are skipped. */
    int64_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += buf[i] == '\n';
    TTP_ALLOC(ctx, st, done, lines, (size_t)cap, "CSV lines");
    TTP_ALLOC(ctx, st, done, lineno, (size_t)cap, "CSV lines");
    int64_t nl = 0, ln = 0;
    for (char *p = (char *)buf; p != NULL;) {
        char *nlc = strchr(p, '\n');
        if (nlc) *nlc = '\0';
        ln++;
        if (!blank(p)) {
            lines[nl] = p;
            lineno[nl++] = ln;
        }
        p = nlc ? nlc + 1 : NULL;
    }
    if (nl == 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "CSV file '%s' is empty; expected one sample per line", path);
        goto done;
    }

    /* The header rule (ttp_data_h, ttp_csv_opts): the data lines decide the
     * column count.  wdata is the second line's width, confirmed when the
     * third line has it too; a first line of another width is a header only
     * against a confirmed width, so a ragged two-line file stays an error on
     * its second line rather than a header guess. */
    int64_t w0 = count_cells(lines[0]), wdata = nl >= 2 ? count_cells(lines[1]) : w0;
    int confirmed = nl >= 3 && count_cells(lines[2]) == wdata;
    int64_t cellcap = w0 > wdata ? w0 : wdata;
    TTP_ALLOC(ctx, st, done, cells, (size_t)cellcap, "CSV cells");
    copy = dup_str(ctx, lines[0], "CSV header");
    if (copy == NULL) {
        st = TTP_ERR_NOMEM;
        goto done;
    }
    split(copy, cells, cellcap);

    /* A label column named by its header cell. */
    if (o->label_name) {
        label_col = -1;
        for (int64_t c = 0; c < w0 && label_col < 0; c++)
            if (strcmp(cells[c], o->label_name) == 0) label_col = (int)c;
        if (label_col < 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "CSV file '%s': no cell of the first line (line %lld) is '%s'; expected the "
                         "name of the label column in a header line, or its number (option label_col)",
                         path, (long long)lineno[0], o->label_name);
            goto done;
        }
        if (w0 != wdata) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "CSV file '%s': the header (line %lld) has %lld cells but the data %lld columns, "
                         "so its names do not match the columns; give the label column by number",
                         path, (long long)lineno[0], (long long)w0, (long long)wdata);
            goto done;
        }
    }

    /* Header: forced, or a first line with a non-numeric cell where the
     * data has numbers (label and dropped columns may hold text in the data
     * too, so they do not count), or of another width than the confirmed
     * data width ("178,13,3" above 14 columns). */
    int header = o->header == 1 || o->label_name != NULL;
    const char *why = o->header == 1 ? "as asked" : "its cells name the columns";
    if (o->header == -1 && !header) {
        for (int64_t c = 0; c < w0 && !header; c++) {
            double v;
            int skip = c == label_col;
            for (int i = 0; i < o->ndrop; i++) skip |= o->drop[i] == c;
            if (!skip && !cell_parses(cells[c], &v)) {
                header = 1;
                why = "it has a non-numeric cell";
            }
        }
        if (!header && w0 != wdata && confirmed) {
            header = 1;
            why = "its cell count differs from the data's";
        }
    }
    int64_t ncol = header ? wdata : w0, wref = header ? lineno[1] : lineno[0];
    if (header && nl < 2) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "CSV file '%s' has a header line but no data lines", path);
        goto done;
    }
    if (label_col >= ncol) {
        st = TTP_ERR(ctx, TTP_ERR_ARG,
                     "CSV file '%s': label column %d (1-based) does not exist; the data lines (as line "
                     "%lld) have %lld columns",
                     path, label_col + 1, (long long)wref, (long long)ncol);
        goto done;
    }
    TTP_ALLOC(ctx, st, done, role, (size_t)ncol, "CSV columns");
    if (label_col >= 0) role[label_col] = COL_LABEL;
    for (int i = 0; i < o->ndrop; i++) {
        int c = o->drop[i];
        if (c < 0 || c >= ncol) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "CSV file '%s': dropped column %d (1-based, option drop_cols) does not exist; the "
                         "data lines (as line %lld) have %lld columns",
                         path, c + 1, (long long)wref, (long long)ncol);
            goto done;
        }
        if (c == label_col) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "CSV file '%s': column %d is both the label column and dropped (option drop_cols)",
                         path, c + 1);
            goto done;
        }
        role[c] = COL_DROP;
    }
    int64_t nfeat = 0;
    for (int64_t c = 0; c < ncol; c++) nfeat += role[c] == COL_FEATURE;
    if (nfeat < 1) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "CSV file '%s': no feature column is left (%lld columns: the label and dropped "
                     "ones); expected at least one",
                     path, (long long)ncol);
        goto done;
    }
    int64_t first = header ? 1 : 0, n = nl - first;
    /* a width error on line 2 of a file whose first line may be a header */
    const char *hint =
        !header && o->header == -1 && w0 != wdata ? "; if line 1 is a header, say so (option header)" : "";

    /* Labels: integers when every label cell is a number (each must then be
     * a class index), else strings, each distinct one a class. */
    int string_labels = 0;
    int64_t K = 0;
    if (label_col >= 0) {
        TTP_ALLOC(ctx, st, done, labtext, (size_t)n, "CSV labels");
        n_lab = n;
        for (int64_t r = 0; r < n; r++) {
            int64_t l = first + r;
            /* on a copy: the feature pass below splits the line itself */
            free(copy);
            copy = dup_str(ctx, lines[l], "CSV line");
            if (copy == NULL) {
                st = TTP_ERR_NOMEM;
                goto done;
            }
            int64_t got = split(copy, cells, cellcap);
            if (got != ncol) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "CSV file '%s' line %lld: %lld columns, expected %lld (as on line %lld)%s", path,
                             (long long)lineno[l], (long long)got, (long long)ncol, (long long)wref, hint);
                goto done;
            }
            if (cells[label_col][0] == '\0') {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "CSV file '%s' line %lld, column %lld (the label): empty cell, expected a "
                             "class label",
                             path, (long long)lineno[l], (long long)label_col + 1);
                goto done;
            }
            labtext[r] = dup_str(ctx, cells[label_col], "CSV label");
            if (labtext[r] == NULL) {
                st = TTP_ERR_NOMEM;
                goto done;
            }
            double v;
            if (!cell_parses(labtext[r], &v)) string_labels = 1;
        }
        if (string_labels) {
            TTP_ALLOC(ctx, st, done, uniq, (size_t)n, "CSV labels");
            memcpy(uniq, labtext, (size_t)n * sizeof *uniq);
            qsort(uniq, (size_t)n, sizeof *uniq, cmp_str);
            for (int64_t r = 0; r < n; r++)
                if (K == 0 || strcmp(uniq[r], uniq[K - 1]) != 0) uniq[K++] = uniq[r];
            if (K > TTP_DATA_MAX_CLASSES) {
                st =
                    TTP_ERR(ctx, TTP_ERR_FORMAT,
                            "CSV file '%s' column %lld (the label): %lld distinct labels; at most %d classes "
                            "are supported",
                            path, (long long)label_col + 1, (long long)K, TTP_DATA_MAX_CLASSES);
                goto done;
            }
        }
    }

    int64_t shape[3] = {nfeat, 1, 1};
    TTP_CALL_GOTO(ctx, st, done,
                  ttp_data_create(ctx, n, 1, shape, label_col >= 0 ? (int)(K > 0 ? K : 1) : 0, &d));
    int maxlab = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t l = first + r;
        int64_t got = split(lines[l], cells, cellcap);
        if (got != ncol) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "CSV file '%s' line %lld: %lld columns, expected %lld (as on line %lld)%s", path,
                         (long long)lineno[l], (long long)got, (long long)ncol, (long long)wref, hint);
            goto done;
        }
        int64_t f = 0;
        for (int64_t c = 0; c < ncol; c++) {
            double v;
            if (role[c] == COL_DROP) continue;
            if (role[c] == COL_LABEL && string_labels) {
                /* the label pass's copy of this cell is among the sorted names */
                char **hit = bsearch(&labtext[r], uniq, (size_t)K, sizeof *uniq, cmp_str);
                if (hit == NULL) {
                    st =
                        TTP_ERR(ctx, TTP_ERR_FORMAT, "CSV file '%s' line %lld: label '%s' changed while read",
                                path, (long long)lineno[l], labtext[r]);
                    goto done;
                }
                d->y[r] = (int)(hit - uniq);
                continue;
            }
            if (!cell_number(cells[c], &v)) {
                if (cells[c][0] == '\0')
                    st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                                 "CSV file '%s' line %lld, column %lld: empty cell, expected a number%s",
                                 path, (long long)lineno[l], (long long)(c + 1),
                                 c + 1 == ncol ? " (if every line ends with a comma, drop this last column: "
                                                 "option drop_cols)"
                                               : "");
                else
                    st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                                 "CSV file '%s' line %lld, column %lld: '%s' is not a finite number", path,
                                 (long long)lineno[l], (long long)(c + 1), cells[c]);
                goto done;
            }
            if (role[c] == COL_LABEL) {
                if (v < 0 || v >= TTP_DATA_MAX_CLASSES || v != floor(v)) {
                    st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                                 "CSV file '%s' line %lld, column %lld (the label): '%s' is not a "
                                 "class index; expected an integer in [0, %d) (or text labels)",
                                 path, (long long)lineno[l], (long long)(c + 1), cells[c],
                                 TTP_DATA_MAX_CLASSES);
                    goto done;
                }
                d->y[r] = (int)v;
                maxlab = d->y[r] > maxlab ? d->y[r] : maxlab;
            } else {
                d->x[r * nfeat + f++] = v;
            }
        }
    }
    if (string_labels) {
        for (int64_t k = 0; k < K; k++) {
            if (strchr(uniq[k], ';')) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "CSV file '%s' column %d (the label): label '%s' contains ';', which "
                             "separates class names; expected labels without ';'",
                             path, label_col + 1, uniq[k]);
                goto done;
            }
            TTP_CALL_GOTO(ctx, st, done, set_class_name(ctx, d, (int)k, uniq[k]));
        }
    } else if (label_col >= 0 && maxlab + 1 != d->nclasses) {
        /* Rebuild the names for K = max + 1 classes. */
        for (int k = 0; k < d->nclasses; k++) free(d->class_names[k]);
        free(d->class_names);
        d->class_names = NULL;
        d->nclasses = maxlab + 1;
        TTP_ALLOC(ctx, st, done, d->class_names, (size_t)d->nclasses, "class names");
        for (int k = 0; k < d->nclasses; k++) {
            char nb[32];
            snprintf(nb, sizeof nb, "%d", k);
            TTP_CALL_GOTO(ctx, st, done, set_class_name(ctx, d, k, nb));
        }
    }
    snprintf(d->history, TTP_ATTR_LEN, "converted from CSV '%s'%s%s%s%s", path,
             header ? " (line 1 skipped as a header: " : "", header ? why : "", header ? ")" : "",
             string_labels ? " (text labels, sorted, as class names)" : "");
    *out = d;
    d = NULL;
done:
    free(buf);
    free(lines);
    free(lineno);
    free(cells);
    free(copy);
    for (int64_t r = 0; labtext && r < n_lab; r++) free(labtext[r]);
    free(labtext);
    free(uniq);
    free(role);
    ttp_data_destroy(&d);
    return st;
}
