/*
 * kernel_io.c — the kernel result (ttp_kernel) and its NetCDF-4 file
 * (docs/formats/kernel.md), dataset fingerprints, and the provenance check
 * that stops a kernel from being reused with another model or dataset.
 *
 * NetCDF-4 (not classic) because the provenance attributes are 64-bit
 * unsigned fingerprints and the counts are 64-bit.
 */
#include "ttp_kernel.h"
#include "ttp_nc.h"
#include "ttp_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TTP_VERSION
#define TTP_VERSION "unknown"
#endif

ttp_status ttp_kernel_create(ttp_ctx *ctx, ttp_kernel **out)
{
    ttp_status st = TTP_OK;
    ttp_kernel *k = NULL;
    TTP_ALLOC(ctx, st, done, k, 1, "kernel");
    k->side = 0;
    snprintf(k->backend, sizeof k->backend, "cpu");
done:
    *out = k;
    return st;
}

void ttp_kernel_destroy(ttp_kernel **kp)
{
    if (kp == NULL || *kp == NULL) return;
    ttp_kernel *k = *kp;
    free(k->f0);
    free(k->u0);
    free(k->labels);
    free(k->targets);
    free(k->eigval);
    free(k->eigvec);
    free(k->p_res);
    free(k->p_grad);
    free(k->theta);
    free(k);
    *kp = NULL;
}

/* ---- fingerprints -------------------------------------------------------- */

#define FP_MIX(h, v)                                                                                         \
    ((h) = ttp_mix64((h) ^ ((uint64_t)(v) + 0x9e3779b97f4a7c15ULL + ((h) << 6) + ((h) >> 2))))

static uint64_t fp_doubles(uint64_t h, const double *x, int64_t n)
{
    for (int64_t i = 0; x && i < n; i++) {
        uint64_t b;
        memcpy(&b, &x[i], sizeof b);
        FP_MIX(h, b);
    }
    return h;
}

uint64_t ttp_data_fingerprint(const ttp_data *d)
{
    /* The samples, their order, shape, labels and targets: everything the
     * kernel depends on; titles and class names are not. */
    uint64_t h = 0x7470706461746121ULL; /* "ttpdata!" */
    FP_MIX(h, d->n);
    FP_MIX(h, d->ndim);
    for (int i = 0; i < 3; i++) FP_MIX(h, d->shape[i]);
    h = fp_doubles(h, d->x, d->n * d->dim);
    FP_MIX(h, d->nclasses);
    for (int64_t i = 0; d->y && i < d->n; i++) FP_MIX(h, (int64_t)d->y[i]);
    FP_MIX(h, d->ntargets);
    h = fp_doubles(h, d->targets, d->n * (int64_t)d->ntargets);
    return h;
}

ttp_status ttp_kernel_check_provenance(ttp_ctx *ctx, const ttp_kernel *k, const ttp_model *model,
                                       const ttp_data *data)
{
    const char *where = k->path[0] ? k->path : "(in memory)";
    if (model != NULL) {
        uint64_t fp = ttp_model_fingerprint(model);
        if (fp != k->model_fp) {
            /* the fingerprint covers the weights and which layers are
             * trainable: name both sides' trainable layers */
            char tr[256];
            ttp_model_trainable_names(model, tr, sizeof tr);
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "kernel file %s was computed for another model (it records model '%s', "
                           "trainable layers %.256s, fingerprint %016llx; the model given has trainable "
                           "layers %s, fingerprint %016llx): rebuild it with 'ttpredict kernel' from the "
                           "same weights and option train_layers",
                           where, k->model_path, k->trainable[0] ? k->trainable : "(not recorded)",
                           (unsigned long long)k->model_fp, tr, (unsigned long long)fp);
        }
        if (model->nout != k->c)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "kernel file %s was computed for another model (%d outputs, the model has %d)",
                           where, k->c, model->nout);
    }
    if (data != NULL) {
        uint64_t fp = ttp_data_fingerprint(data);
        if (fp != k->data_fp)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "kernel file %s was computed for another dataset (it records data '%s', "
                           "fingerprint %016llx; the dataset given has fingerprint %016llx): rebuild "
                           "it with 'ttpredict kernel'",
                           where, k->data_path, (unsigned long long)k->data_fp, (unsigned long long)fp);
        if (data->n != k->n)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "kernel file %s was computed for another dataset (%lld samples, the dataset "
                           "has %lld)",
                           where, (long long)k->n, (long long)data->n);
    }
    return TTP_OK;
}

/* ---- writing ------------------------------------------------------------- */

ttp_status ttp_kernel_write(ttp_ctx *ctx, const char *path, const ttp_kernel *k)
{
    ttp_status st = TTP_OK;
    ttp_nc_out f = TTP_NC_OUT_INIT;
    int nc = -1;
    int d_row, d_col, d_sample, d_target, d_mode;
    int v_f0, v_u0, v_lab = -1, v_tgt = -1, v_val = -1, v_vec = -1, v_pres = -1, v_pgrad = -1, v_theta = -1;
    const int64_t nrow = k->n * (int64_t)k->c;

    if (k->n < 1 || k->c < 1 || k->f0 == NULL || k->u0 == NULL || k->neig < 0 ||
        (k->neig > 0 && (k->eigval == NULL || k->p_res == NULL)))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "kernel to write to %s is incomplete (N %lld, C %d, neig %lld; f0, u0, eigval "
                       "and p_res are required)",
                       path, (long long)k->n, k->c, (long long)k->neig);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_NETCDF4 | NC_CLOBBER));
    nc = f.id;

    /* dimensions */
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "row", (size_t)nrow, &d_row), "defining dimension row in %s", path);
    TTP_NC(ctx, st, fail, nc_def_dim(nc, "sample", (size_t)k->n, &d_sample),
           "defining dimension sample in %s", path);
    if (k->theta)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "col", (size_t)nrow, &d_col), "defining dimension col in %s",
               path);
    if (k->targets && k->ntargets > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "target", (size_t)k->ntargets, &d_target),
               "defining dimension target in %s", path);
    /* A NetCDF dimension of length 0 would be the unlimited one: with no
     * kept eigenpair the mode variables are simply absent. */
    if (k->neig > 0)
        TTP_NC(ctx, st, fail, nc_def_dim(nc, "mode", (size_t)k->neig, &d_mode),
               "defining dimension mode in %s", path);

    /* variables */
    TTP_NC(ctx, st, fail, nc_def_var(nc, "f0", NC_DOUBLE, 1, &d_row, &v_f0), "defining f0 in %s", path);
    TTP_NC(ctx, st, fail, nc_def_var(nc, "u0", NC_DOUBLE, 1, &d_row, &v_u0), "defining u0 in %s", path);
    if (k->labels)
        TTP_NC(ctx, st, fail, nc_def_var(nc, "labels", NC_INT, 1, &d_sample, &v_lab), "defining labels in %s",
               path);
    if (k->targets && k->ntargets > 0) {
        int dd[2] = {d_sample, d_target};
        TTP_NC(ctx, st, fail, nc_def_var(nc, "targets", NC_DOUBLE, 2, dd, &v_tgt), "defining targets in %s",
               path);
    }
    if (k->neig > 0) {
        TTP_NC(ctx, st, fail, nc_def_var(nc, "eigval", NC_DOUBLE, 1, &d_mode, &v_val),
               "defining eigval in %s", path);
        TTP_NC(ctx, st, fail, nc_def_var(nc, "p_res", NC_DOUBLE, 1, &d_mode, &v_pres), "defining p_res in %s",
               path);
        if (k->p_grad)
            TTP_NC(ctx, st, fail, nc_def_var(nc, "p_grad", NC_DOUBLE, 1, &d_mode, &v_pgrad),
                   "defining p_grad in %s", path);
        if (k->eigvec) {
            int dd[2] = {d_row, d_mode};
            TTP_NC(ctx, st, fail, nc_def_var(nc, "eigvec", NC_DOUBLE, 2, dd, &v_vec), "defining eigvec in %s",
                   path);
        }
    }
    if (k->theta) {
        int dd[2] = {d_row, d_col};
        TTP_NC(ctx, st, fail, nc_def_var(nc, "theta", NC_DOUBLE, 2, dd, &v_theta), "defining theta in %s",
               path);
    }

    /* settings and provenance */
    {
        const int G = NC_GLOBAL;
        long long n = k->n, d = k->d, dp = k->dproj, rss = k->peak_rss_max;
        unsigned long long seed = k->seed, mfp = k->model_fp, dfp = k->data_fp;
        int c = k->c, side = k->side, nr = k->nranks;
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "ttp_kind", "kernel", path));
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "ttp_version", TTP_VERSION, path));
        TTP_CALL_GOTO(
            ctx, st, fail,
            ttp_nc_put_text(ctx, nc, G, "conventions",
                            "rows sample-major (i*C + c); eigval: eigenvalues of Theta = G G^T (not "
                            "divided by N), descending, non-zero part; eigvec(row, mode) unit "
                            "columns; p_res = V^T (F0 - Y); p_grad = V^T (softmax(F0) - onehot)",
                            path));
        TTP_CALL_GOTO(ctx, st, fail,
                      ttp_nc_put_text(ctx, nc, G, "projection", ttp_proj_kind_str(k->proj), path));
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "backend", k->backend, path));
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "model_path", k->model_path, path));
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "data_path", k->data_path, path));
        TTP_CALL_GOTO(ctx, st, fail, ttp_nc_put_text(ctx, nc, G, "trainable_layers", k->trainable, path));
        TTP_NC(ctx, st, fail, nc_put_att_longlong(nc, G, "n", NC_INT64, 1, &n), "writing attribute n of %s",
               path);
        TTP_NC(ctx, st, fail, nc_put_att_int(nc, G, "c", NC_INT, 1, &c), "writing attribute c of %s", path);
        TTP_NC(ctx, st, fail, nc_put_att_longlong(nc, G, "d", NC_INT64, 1, &d), "writing attribute d of %s",
               path);
        TTP_NC(ctx, st, fail, nc_put_att_longlong(nc, G, "dproj", NC_INT64, 1, &dp),
               "writing attribute dproj of %s", path);
        TTP_NC(ctx, st, fail, nc_put_att_ulonglong(nc, G, "seed", NC_UINT64, 1, &seed),
               "writing attribute seed of %s", path);
        TTP_NC(ctx, st, fail, nc_put_att_int(nc, G, "side", NC_INT, 1, &side), "writing attribute side of %s",
               path);
        TTP_NC(ctx, st, fail, nc_put_att_ulonglong(nc, G, "model_fingerprint", NC_UINT64, 1, &mfp),
               "writing attribute model_fingerprint of %s", path);
        TTP_NC(ctx, st, fail, nc_put_att_ulonglong(nc, G, "data_fingerprint", NC_UINT64, 1, &dfp),
               "writing attribute data_fingerprint of %s", path);
        const struct {
            const char *name;
            double v;
        } dbl[] = {
            {"trace", k->trace},         {"res_energy", k->res_energy}, {"grad_energy", k->grad_energy},
            {"sec_jac", k->sec_jac},     {"sec_gram", k->sec_gram},     {"sec_eig", k->sec_eig},
            {"sec_total", k->sec_total},
        };
        for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++)
            TTP_NC(ctx, st, fail, nc_put_att_double(nc, G, dbl[i].name, NC_DOUBLE, 1, &dbl[i].v),
                   "writing attribute %s of %s", dbl[i].name, path);
        TTP_NC(ctx, st, fail, nc_put_att_longlong(nc, G, "peak_rss_max", NC_INT64, 1, &rss),
               "writing attribute peak_rss_max of %s", path);
        TTP_NC(ctx, st, fail, nc_put_att_int(nc, G, "nranks", NC_INT, 1, &nr),
               "writing attribute nranks of %s", path);
    }
    TTP_NC(ctx, st, fail, nc_enddef(nc), "ending definitions of %s", path);

    TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_f0, k->f0), "writing f0 to %s", path);
    TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_u0, k->u0), "writing u0 to %s", path);
    if (v_lab >= 0) TTP_NC(ctx, st, fail, nc_put_var_int(nc, v_lab, k->labels), "writing labels to %s", path);
    if (v_tgt >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_tgt, k->targets), "writing targets to %s", path);
    if (v_val >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_val, k->eigval), "writing eigval to %s", path);
    if (v_pres >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_pres, k->p_res), "writing p_res to %s", path);
    if (v_pgrad >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_pgrad, k->p_grad), "writing p_grad to %s", path);
    if (v_vec >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_vec, k->eigvec), "writing eigvec to %s", path);
    if (v_theta >= 0)
        TTP_NC(ctx, st, fail, nc_put_var_double(nc, v_theta, k->theta), "writing theta to %s", path);
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
    return TTP_OK;
fail:
    ttp_nc_out_discard(&f);
    return st;
}

/* ---- reading ------------------------------------------------------------- */

/* Length of a dimension, or -1 when absent. */
static int64_t dim_len(int nc, const char *name)
{
    int id;
    size_t len;
    if (nc_inq_dimid(nc, name, &id) != NC_NOERR) return -1;
    if (nc_inq_dimlen(nc, id, &len) != NC_NOERR) return -1;
    return (int64_t)len;
}

/* Read a double variable of exactly `count` values with the given dimension
 * names; absent and optional → *out stays NULL. */
static ttp_status read_var(ttp_ctx *ctx, int nc, const char *path, const char *name, int ndims,
                           const char *d0, const char *d1, int optional, int is_int, void **out)
{
    ttp_status st = TTP_OK;
    int id, nd, dims[NC_MAX_VAR_DIMS];
    nc_type type;
    size_t count = 1;
    void *buf = NULL;
    *out = NULL;
    if (nc_inq_varid(nc, name, &id) != NC_NOERR) {
        if (optional) return TTP_OK;
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: variable '%s' is missing", path, name);
    }
    TTP_NC(ctx, st, done, nc_inq_var(nc, id, NULL, &type, &nd, dims, NULL), "inspecting '%s' in %s", name,
           path);
    if (nd != ndims) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: variable '%s' has %d dimensions, expected %d",
                     path, name, nd, ndims);
        goto done;
    }
    const char *want[2] = {d0, d1};
    for (int i = 0; i < nd; i++) {
        char dn[NC_MAX_NAME + 1];
        size_t len;
        TTP_NC(ctx, st, done, nc_inq_dim(nc, dims[i], dn, &len), "inspecting '%s' in %s", name, path);
        if (strcmp(dn, want[i]) != 0) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "kernel file %s: variable '%s' dimension %d is '%s', expected '%s'", path, name, i,
                         dn, want[i]);
            goto done;
        }
        count *= len;
    }
    if (is_int) {
        int *p = NULL;
        TTP_ALLOC(ctx, st, done, p, count, name);
        buf = p;
        TTP_NC(ctx, st, done, nc_get_var_int(nc, id, p), "reading '%s' from %s", name, path);
    } else {
        double *p = NULL;
        TTP_ALLOC(ctx, st, done, p, count, name);
        buf = p;
        TTP_NC(ctx, st, done, nc_get_var_double(nc, id, p), "reading '%s' from %s", name, path);
        for (size_t i = 0; i < count; i++)
            if (!isfinite(p[i])) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "kernel file %s: variable '%s' holds a non-finite "
                             "value at index %zu",
                             path, name, i);
                goto done;
            }
    }
    *out = buf;
    buf = NULL;
done:
    free(buf);
    return st;
}

/* A global text attribute into out (cap bytes): absent is "" when
 * optional, else an error; longer than cap − 1 characters is an error. */
static ttp_status get_text(ttp_ctx *ctx, int nc, const char *path, const char *name, char *out, size_t cap,
                           int optional)
{
    char *s = NULL;
    out[0] = '\0';
    TTP_CALL(ctx, ttp_nc_get_text(ctx, nc, NC_GLOBAL, name, path, &s));
    if (s == NULL) {
        if (optional) return TTP_OK;
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: attribute '%s' is missing", path, name);
    }
    const size_t len = strlen(s);
    if (len >= cap) {
        free(s);
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "kernel file %s: attribute '%s' is too long (%zu characters, "
                       "at most %zu)",
                       path, name, len, cap - 1);
    }
    memcpy(out, s, len + 1);
    free(s);
    return TTP_OK;
}

/* A global attribute of exactly one value: nc_get_att_* writes every value
 * it holds, so a longer one would overwrite what follows the destination
 * (found by fuzz_kernel: "c" with several values overwrote the kernel's
 * pointers). */
static int att_scalar(int nc, const char *name)
{
    size_t len = 0;
    return nc_inq_attlen(nc, NC_GLOBAL, name, &len) == NC_NOERR && len == 1;
}

#define GET_ATT(fn, name, ptr)                                                                               \
    do {                                                                                                     \
        if (!att_scalar(nc, name) || fn(nc, NC_GLOBAL, name, ptr) != NC_NOERR) {                             \
            st = TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: attribute '%s' is missing or not one number", \
                         path, name);                                                                        \
            goto fail;                                                                                       \
        }                                                                                                    \
    } while (0)

ttp_status ttp_kernel_read(ttp_ctx *ctx, const char *path, ttp_kernel **out)
{
    ttp_status st = TTP_OK;
    ttp_kernel *k = NULL;
    int nc = -1;
    char buf[256];
    *out = NULL;
    if (access(path, R_OK) != 0)
        return TTP_ERR(ctx, TTP_ERR_IO, "kernel file %s cannot be read (missing or not readable)", path);
    TTP_CALL(ctx, ttp_nc_precheck(ctx, path));
    int rc = nc_open(path, NC_NOWRITE, &nc);
    if (rc != NC_NOERR)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s is not a NetCDF file: %s", path, nc_strerror(rc));
    /* the attributes (sizes, projection, seed, fingerprints) before any is trusted */
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_verify_atts(ctx, nc, path));
    TTP_CALL_GOTO(ctx, st, fail, ttp_kernel_create(ctx, &k));
    snprintf(k->path, sizeof k->path, "%s", path);

    TTP_CALL_GOTO(ctx, st, fail, get_text(ctx, nc, path, "ttp_kind", buf, sizeof buf, 0));
    if (strcmp(buf, "kernel") != 0) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s is a ttpredict '%s' file, not a kernel file", path, buf);
        goto fail;
    }
    long long n = 0, d = 0, dp = 0, rss = 0;
    unsigned long long seed = 0, mfp = 0, dfp = 0;
    GET_ATT(nc_get_att_longlong, "n", &n);
    GET_ATT(nc_get_att_int, "c", &k->c);
    GET_ATT(nc_get_att_longlong, "d", &d);
    GET_ATT(nc_get_att_longlong, "dproj", &dp);
    GET_ATT(nc_get_att_ulonglong, "seed", &seed);
    GET_ATT(nc_get_att_int, "side", &k->side);
    GET_ATT(nc_get_att_ulonglong, "model_fingerprint", &mfp);
    GET_ATT(nc_get_att_ulonglong, "data_fingerprint", &dfp);
    GET_ATT(nc_get_att_double, "trace", &k->trace);
    GET_ATT(nc_get_att_double, "res_energy", &k->res_energy);
    GET_ATT(nc_get_att_double, "grad_energy", &k->grad_energy);
    /* timings and sizes are informative: optional */
    if (att_scalar(nc, "sec_jac")) nc_get_att_double(nc, NC_GLOBAL, "sec_jac", &k->sec_jac);
    if (att_scalar(nc, "sec_gram")) nc_get_att_double(nc, NC_GLOBAL, "sec_gram", &k->sec_gram);
    if (att_scalar(nc, "sec_eig")) nc_get_att_double(nc, NC_GLOBAL, "sec_eig", &k->sec_eig);
    if (att_scalar(nc, "sec_total")) nc_get_att_double(nc, NC_GLOBAL, "sec_total", &k->sec_total);
    if (att_scalar(nc, "peak_rss_max")) nc_get_att_longlong(nc, NC_GLOBAL, "peak_rss_max", &rss);
    if (att_scalar(nc, "nranks")) nc_get_att_int(nc, NC_GLOBAL, "nranks", &k->nranks);
    k->n = n;
    k->d = d;
    k->dproj = dp;
    k->seed = seed;
    k->model_fp = mfp;
    k->data_fp = dfp;
    k->peak_rss_max = rss;
    TTP_CALL_GOTO(ctx, st, fail, get_text(ctx, nc, path, "projection", buf, sizeof buf, 0));
    if (ttp_proj_kind_parse(ctx, buf, &k->proj) != TTP_OK || k->proj == TTP_PROJ_AUTO) {
        /* found by fuzz_kernel: the parser's message did not name the file */
        ttp_error_clear(ctx);
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "kernel file %s: attribute projection is '%.64s', expected exact, "
                     "rademacher, gaussian or kron",
                     path, buf);
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, get_text(ctx, nc, path, "backend", k->backend, sizeof k->backend, 1));
    TTP_CALL_GOTO(ctx, st, fail,
                  get_text(ctx, nc, path, "model_path", k->model_path, sizeof k->model_path, 1));
    TTP_CALL_GOTO(ctx, st, fail, get_text(ctx, nc, path, "data_path", k->data_path, sizeof k->data_path, 1));
    TTP_CALL_GOTO(ctx, st, fail,
                  get_text(ctx, nc, path, "trainable_layers", k->trainable, sizeof k->trainable, 1));
    if (k->n < 1 || k->c < 1 || (k->side != 0 && k->side != 1)) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "kernel file %s: N %lld, C %d, side %d: expected N, C >= 1 and "
                     "side 0 or 1",
                     path, (long long)k->n, k->c, k->side);
        goto fail;
    }

    /* dimensions against the attributes, before anything is allocated or read */
    int64_t nc_rows = 0, sq = 0;
    TTP_CALL_GOTO(ctx, st, fail,
                  ttp_size_mul(ctx, k->n, k->c, TTP_SIZE_INT, &nc_rows, "kernel file %s: rows N·C", path));
    const int64_t nrow = dim_len(nc, "row"), ns = dim_len(nc, "sample"), nmode = dim_len(nc, "mode");
    if (nrow != nc_rows || ns != k->n) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "kernel file %s: dimensions row %lld and sample %lld disagree "
                     "with N %lld, C %d (expected row = N·C and sample = N)",
                     path, (long long)nrow, (long long)ns, (long long)k->n, k->c);
        goto fail;
    }
    k->neig = nmode < 0 ? 0 : nmode;
    if (dim_len(nc, "col") >= 0 && dim_len(nc, "col") != nrow) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: dimension col is %lld, expected N·C = %lld", path,
                     (long long)dim_len(nc, "col"), (long long)nrow);
        goto fail;
    }
    /* Θ = G Gᵀ with G of N·C rows and D′ columns has rank ≤ min(N·C, D′) */
    {
        const int64_t dcols = k->dproj > 0 ? k->dproj : k->d;
        if (k->d < 1 || k->dproj < 0 || k->neig > nrow || k->neig > dcols) {
            st = TTP_ERR(
                ctx, TTP_ERR_FORMAT,
                "kernel file %s: %lld modes (dimension mode) with N·C = %lld rows, "
                "D = %lld parameters and D' = %lld projected: expected D >= 1 and modes <= min(N·C, D')",
                path, (long long)k->neig, (long long)nrow, (long long)k->d, (long long)k->dproj);
            goto fail;
        }
    }
    if (dim_len(nc, "col") >= 0)
        TTP_CALL_GOTO(ctx, st, fail,
                      ttp_size_mul(ctx, nrow, nrow, INT64_MAX / (int64_t)sizeof(double), &sq,
                                   "kernel file %s: theta (N·C)^2", path));
    if (dim_len(nc, "target") > 100000) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: dimension target is %lld, at most 100000", path,
                     (long long)dim_len(nc, "target"));
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, ttp_nc_verify(ctx, nc, path, NULL));
    void *p = NULL;
    TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "f0", 1, "row", NULL, 0, 0, &p));
    k->f0 = p;
    TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "u0", 1, "row", NULL, 0, 0, &p));
    k->u0 = p;
    TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "labels", 1, "sample", NULL, 1, 1, &p));
    k->labels = p;
    TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "targets", 2, "sample", "target", 1, 0, &p));
    k->targets = p;
    k->ntargets = k->targets ? (int)dim_len(nc, "target") : 0;
    /* The dynamics need the residual F0 − Y for every output: labels, or
     * targets with one column per output. */
    if (k->labels == NULL && k->targets == NULL) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "kernel file %s has neither labels nor targets: the dynamics need one of them", path);
        goto fail;
    }
    if (k->labels == NULL && k->ntargets != k->c) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "kernel file %s: targets have %d column(s) (dimension target) but the kernel has "
                     "%d outputs per sample (dimension output)",
                     path, k->ntargets, k->c);
        goto fail;
    }
    TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "theta", 2, "row", "col", 1, 0, &p));
    k->theta = p;
    if (k->labels)
        for (int64_t i = 0; i < k->n; i++)
            if (k->labels[i] < 0 || k->labels[i] >= k->c) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT, "kernel file %s: labels[%lld] = %d is outside [0, %d)",
                             path, (long long)i, k->labels[i], k->c);
                goto fail;
            }
    if (k->neig > 0) {
        TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "eigval", 1, "mode", NULL, 0, 0, &p));
        k->eigval = p;
        TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "p_res", 1, "mode", NULL, 0, 0, &p));
        k->p_res = p;
        TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "p_grad", 1, "mode", NULL, 1, 0, &p));
        k->p_grad = p;
        TTP_CALL_GOTO(ctx, st, fail, read_var(ctx, nc, path, "eigvec", 2, "row", "mode", 1, 0, &p));
        k->eigvec = p;
        for (int64_t i = 0; i < k->neig; i++)
            if (!(k->eigval[i] > 0) || (i > 0 && k->eigval[i] > k->eigval[i - 1])) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             "kernel file %s: eigval[%lld] = %g: eigenvalues must be "
                             "positive and descending",
                             path, (long long)i, k->eigval[i]);
                goto fail;
            }
    }
    nc_close(nc);
    *out = k;
    return TTP_OK;
fail:
    if (nc >= 0) nc_close(nc);
    ttp_kernel_destroy(&k);
    return st;
}
