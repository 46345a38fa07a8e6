/*
 * cmd_info.c — `ttpredict info FILE...`: describe a dataset, model, kernel
 * or result file.  The file's global attribute ttp_kind says which; every
 * kind is first read through its own library reader (so `info` also
 * validates the file), then summarised.
 */
#include <getopt.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_data.h"
#include "ttp_kernel.h"
#include "ttp_model.h"
#include "ttp_nc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ttpredict info FILE [FILE...]\n"
               "\n"
               "Describe ttpredict NetCDF files: datasets (samples, shape, classes and their\n"
               "counts, provenance), models (layers, shapes, parameter counts), kernels (sizes,\n"
               "projection, spectrum) and train/predict results (variables and settings).\n"
               "Files are read with the same checks as the other commands, so a file that\n"
               "passes `info` is accepted by them.\n");
    ttp_cli_help_common(f, 0);
}

static void print_provenance(const char *title, const char *source, const char *license, const char *history)
{
    if (title && *title) printf("  title:    %s\n", title);
    if (source && *source) printf("  source:   %s\n", source);
    if (license && *license) printf("  license:  %s\n", license);
    if (history && *history) printf("  history:  %s\n", history);
}

static ttp_status info_dataset(ttp_ctx *ctx, const char *path)
{
    ttp_data *d = NULL;
    TTP_CALL(ctx, ttp_data_read(ctx, path, &d));
    printf("%s: dataset\n  samples:  %lld\n  shape:    ", path, (long long)d->n);
    for (int i = 0; i < d->ndim; i++) printf("%s%lld", i ? " x " : "", (long long)d->shape[i]);
    printf(" (%lld values per sample)\n", (long long)d->dim);
    if (d->nclasses > 0) {
        int64_t *count = calloc((size_t)d->nclasses, sizeof *count);
        for (int64_t i = 0; count && i < d->n; i++) count[d->y[i]]++;
        printf("  classes:  %d\n", d->nclasses);
        for (int k = 0; count && k < d->nclasses; k++)
            printf("    %2d %-12s %lld samples\n", k, d->class_names ? d->class_names[k] : "",
                   (long long)count[k]);
        free(count);
    }
    if (d->ntargets > 0) printf("  targets:  %d real values per sample\n", d->ntargets);
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < d->n * d->dim; i++) {
        if (i == 0 || d->x[i] < lo) lo = d->x[i];
        if (i == 0 || d->x[i] > hi) hi = d->x[i];
    }
    printf("  inputs:   values in [%g, %g]\n", lo, hi);
    print_provenance(d->title, d->source, d->license, d->history);
    ttp_data_destroy(&d);
    return TTP_OK;
}

static ttp_status info_model(ttp_ctx *ctx, const char *path)
{
    ttp_model *m = NULL;
    TTP_CALL(ctx, ttp_model_load(ctx, path, &m));
    printf("%s: model\n", path);
    ttp_model_print(m, stdout);
    print_provenance(m->title, m->source, m->license, m->history);
    ttp_model_destroy(&m);
    return TTP_OK;
}

static ttp_status info_kernel(ttp_ctx *ctx, const char *path)
{
    ttp_kernel *k = NULL;
    TTP_CALL(ctx, ttp_kernel_read(ctx, path, &k));
    printf("%s: kernel (empirical NTK)\n", path);
    printf("  samples N %lld, outputs C %d, weights D %lld, projected D' %lld (%s)\n", (long long)k->n, k->c,
           (long long)k->d, (long long)k->dproj, ttp_proj_kind_str(k->proj));
    printf("  decomposed side: %s;  kept eigenpairs: %lld;  trace(Theta) = %.6g\n",
           k->side ? "D' x D' (G^T G)" : "NC x NC (Theta)", (long long)k->neig, k->trace);
    if (k->neig > 0)
        printf("  eigenvalues of Theta/N: largest %.6g, smallest kept %.6g\n", k->eigval[0] / (double)k->n,
               k->eigval[k->neig - 1] / (double)k->n);
    printf("  stored: %s%s\n", k->eigvec ? "eigenvectors " : "", k->theta ? "Theta" : "");
    printf("  computed for model %s, data %s, on %d rank(s): %.2fs\n", k->model_path, k->data_path, k->nranks,
           k->sec_total);
    ttp_kernel_destroy(&k);
    return TTP_OK;
}

/* Results (train/predict) and unknown kinds: list what the file holds. */
static ttp_status info_generic(ttp_ctx *ctx, const char *path, int nc, const char *kind)
{
    ttp_status st = TTP_OK;
    int ndims, nvars, natts;
    char name[NC_MAX_NAME + 1];
    /* the same size and checksum checks as the dataset, model and kernel readers */
    TTP_CALL_GOTO(ctx, st, done, ttp_nc_verify(ctx, nc, path, NULL));
    TTP_NC(ctx, st, done, nc_inq(nc, &ndims, &nvars, &natts, NULL), "reading '%s'", path);
    printf("%s: %s\n  dimensions:", path, kind[0] ? kind : "NetCDF file (not written by ttpredict)");
    for (int i = 0; i < ndims; i++) {
        size_t len;
        TTP_NC(ctx, st, done, nc_inq_dim(nc, i, name, &len), "reading dimension %d of '%s'", i, path);
        printf(" %s=%zu", name, len);
    }
    printf("\n  variables:");
    for (int i = 0; i < nvars; i++) {
        TTP_NC(ctx, st, done, nc_inq_varname(nc, i, name), "reading variable %d of '%s'", i, path);
        printf(" %s", name);
    }
    printf("\n");
    for (int i = 0; i < natts; i++) {
        nc_type t;
        size_t len;
        TTP_NC(ctx, st, done, nc_inq_attname(nc, NC_GLOBAL, i, name), "reading attribute %d of '%s'", i,
               path);
        TTP_NC(ctx, st, done, nc_inq_att(nc, NC_GLOBAL, name, &t, &len), "reading attribute %s of '%s'", name,
               path);
        if (t == NC_CHAR && len < 4096) {
            char v[4096];
            TTP_NC(ctx, st, done, nc_get_att_text(nc, NC_GLOBAL, name, v), "reading attribute %s of '%s'",
                   name, path);
            v[len] = '\0';
            printf("  %-22s %s\n", name, v);
        } else if ((t == NC_DOUBLE || t == NC_INT || t == NC_INT64 || t == NC_FLOAT) && len == 1) {
            double v;
            TTP_NC(ctx, st, done, nc_get_att_double(nc, NC_GLOBAL, name, &v), "reading attribute %s of '%s'",
                   name, path);
            printf("  %-22s %.10g\n", name, v);
        }
    }
done:
    return st;
}

static ttp_status info_one(ttp_ctx *ctx, const char *path)
{
    ttp_status st = TTP_OK;
    int nc = -1;
    char kind[64] = "";
    if (ttp_model_file_is_onnx(path)) return info_model(ctx, path);
    TTP_CALL(ctx, ttp_nc_precheck(ctx, path));
    TTP_NC(ctx, st, done, nc_open(path, NC_NOWRITE, &nc), "cannot open '%s' as a NetCDF file", path);
    size_t len = 0;
    if (nc_inq_attlen(nc, NC_GLOBAL, "ttp_kind", &len) == NC_NOERR && len < sizeof kind) {
        TTP_NC(ctx, st, done, nc_get_att_text(nc, NC_GLOBAL, "ttp_kind", kind), "reading ttp_kind of '%s'",
               path);
        kind[len] = '\0';
    }
    if (strcmp(kind, "dataset") == 0) {
        nc_close(nc), nc = -1;
        TTP_CALL_GOTO(ctx, st, done, info_dataset(ctx, path));
    } else if (strcmp(kind, "model") == 0) {
        nc_close(nc), nc = -1;
        TTP_CALL_GOTO(ctx, st, done, info_model(ctx, path));
    } else if (strcmp(kind, "kernel") == 0) {
        nc_close(nc), nc = -1;
        TTP_CALL_GOTO(ctx, st, done, info_kernel(ctx, path));
    } else {
        TTP_CALL_GOTO(ctx, st, done, info_generic(ctx, path, nc, kind));
    }
done:
    if (nc >= 0) nc_close(nc);
    return st;
}

ttp_status ttp_cmd_info(ttp_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {TTP_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        int handled;
        TTP_CALL(cli->ctx, ttp_cli_shared_option(cli->ctx, c, optarg, &a, NULL, 0, NULL, &handled));
        if (!handled) return ttp_cli_bad_option(cli->ctx, "info", argv[optind - 1]);
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("info") : TTP_OK;
    }
    cli->ctx->verbose = ttp_cli_verbosity(&a, 0);
    if (optind >= argc)
        return TTP_ERR(cli->ctx, TTP_ERR_ARG,
                       "ttpredict info: no file given (usage: ttpredict info FILE...)");
    if (cli->comm->rank != 0) return TTP_OK; /* reading is cheap; rank 0 reports */
    for (int i = optind; i < argc; i++) TTP_CALL(cli->ctx, info_one(cli->ctx, argv[i]));
    return TTP_OK;
}
