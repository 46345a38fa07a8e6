/*
 * cmd_convert.c — `ttpredict convert`: make a dataset file (the NetCDF
 * format of docs/formats/dataset.md) from IDX (MNIST-style) or CSV files,
 * or a model file (docs/formats/model.md) from an ONNX network.
 * Parsing and printing only; the conversion is ttp_data_from_idx /
 * ttp_data_from_csv and ttp_data_write.  Under MPI only rank 0 reads and
 * writes; the other ranks wait for it so that none finishes early.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_data.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ttpredict convert --idx-images F [--idx-labels F] --out OUT.nc [options]\n"
               "       ttpredict convert --csv F [--label-col K] --out OUT.nc [options]\n"
               "       ttpredict convert --onnx NET.onnx --out NET.nc [options]\n"
               "\n"
               "Make a ttpredict dataset file (NetCDF, see docs/formats/dataset.md), or a model\n"
               "file (docs/formats/model.md) from an ONNX network.\n");
    ttp_cli_help_section(f, "input (exactly one)");
    ttp_cli_help_line(f, "--idx-images F",
                      "IDX images file (magic 0x00000803: unsigned bytes, N x H x W,\n"
                      "uncompressed); pixels are scaled by 1/255, shape (1, H, W)");
    ttp_cli_help_line(f, "--idx-labels F", "IDX labels file (magic 0x00000801), one label per image");
    ttp_cli_help_line(f, "--csv F",
                      "one sample per line, comma-separated numbers; a first line\n"
                      "with any non-numeric cell is taken as a header and skipped");
    ttp_cli_help_line(f, "--label-col K",
                      "CSV column holding the integer class label, counting from 1\n"
                      "(default: no labels); the other columns are the features");
    ttp_cli_help_line(f, "--onnx F",
                      "an ONNX network (e.g. from torch.onnx.export) to write as a\n"
                      "model file; README \"Bring your own network\" lists the operators");
    ttp_cli_help_section(f, "output");
    ttp_cli_help_line(f, "--out FILE", "the dataset file to write (replaced only once complete)");
    ttp_cli_help_line(f, "--shape C,H,W",
                      "store CSV features as images of C channels, H x W\n"
                      "(C*H*W must equal the number of features)");
    ttp_cli_help_line(f, "--class-names L",
                      "class names separated by ';' (default \"0;1;...\"); at least\n"
                      "max label + 1 names");
    ttp_cli_help_line(f, "--title T", "provenance: the dataset's title");
    ttp_cli_help_line(f, "--source S", "provenance: where the data comes from");
    ttp_cli_help_line(f, "--license L",
                      "provenance: the data's license (the history attribute\n"
                      "records this command line)");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\n"
               "Classes are the label values 0..K-1 with K = max label + 1.\n"
               "example:\n"
               "  ttpredict convert --idx-images t10k-images-idx3-ubyte \\\n"
               "      --idx-labels t10k-labels-idx1-ubyte --out mnist-test.nc --title \"MNIST test\"\n");
}

/* Replace the class names with the ';'-separated list, growing K when the
 * list names classes that no sample carries. */
static ttp_status set_names(ttp_ctx *ctx, ttp_data *d, const char *list)
{
    ttp_status st = TTP_OK;
    char **names = NULL;
    int k = 1;
    for (const char *p = list; *p; p++) k += *p == ';';
    if (d->nclasses == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "option --class-names: the input has no labels");
    if (k < d->nclasses)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option --class-names: %d names given, but the labels go up to %d; expected "
                       "at least %d names separated by ';'",
                       k, d->nclasses - 1, d->nclasses);
    TTP_ALLOC(ctx, st, fail, names, (size_t)k, "class names");
    const char *p = list;
    for (int i = 0; i < k; i++) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "option --class-names: name %d is empty", i + 1);
            goto fail;
        }
        TTP_ALLOC(ctx, st, fail, names[i], len + 1, "class name");
        memcpy(names[i], p, len);
        p = semi ? semi + 1 : p + len;
    }
    for (int i = 0; i < d->nclasses; i++) free(d->class_names[i]);
    free(d->class_names);
    d->class_names = names;
    d->nclasses = k;
    return TTP_OK;
fail:
    for (int i = 0; names && i < k; i++) free(names[i]);
    free(names);
    return st;
}

/* An ONNX network as a model file (rank 0); the provenance names the ONNX
 * file and its producer unless --title/--source/--license say otherwise. */
static ttp_status convert_onnx(ttp_cli *cli, const char *onnx, const char *out, const char *title,
                               const char *source, const char *license, const char *history)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_model *m = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_onnx_read(ctx, onnx, &m));
    if (title) snprintf(m->title, sizeof m->title, "%s", title);
    if (source) snprintf(m->source, sizeof m->source, "%s", source);
    if (license) snprintf(m->license, sizeof m->license, "%s", license);
    snprintf(m->history, sizeof m->history, "%.1500s (from ONNX: %.2000s)", history, m->source);
    TTP_CALL_GOTO(ctx, st, done, ttp_model_write(ctx, out, m));
    printf("wrote %s: %d layers, %lld parameters (%lld trainable), input (%lld,%lld,%lld), %d outputs\n", out,
           m->nlayers, (long long)m->nparams, (long long)m->ntrainable, (long long)m->in_shape[0],
           (long long)m->in_shape[1], (long long)m->in_shape[2], m->nout);
done:
    ttp_model_destroy(&m);
    return st;
}

/* The conversion itself (rank 0). */
static ttp_status convert(ttp_cli *cli, const char *idx_images, const char *idx_labels, const char *csv,
                          int label_col, const int64_t *shape, int nshape, const char *class_names,
                          const char *out, const char *title, const char *source, const char *license,
                          const char *history)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_data *d = NULL;
    if (idx_images)
        TTP_CALL_GOTO(ctx, st, done, ttp_data_from_idx(ctx, idx_images, idx_labels, &d));
    else
        TTP_CALL_GOTO(ctx, st, done, ttp_data_from_csv(ctx, csv, label_col, &d));
    if (nshape == 3) {
        int64_t prod = shape[0] * shape[1] * shape[2];
        if (prod != d->dim) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "option --shape: %lld x %lld x %lld = %lld values per sample, but '%s' has %lld "
                         "features per sample",
                         (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)prod,
                         idx_images ? idx_images : csv, (long long)d->dim);
            goto done;
        }
        d->ndim = 3;
        for (int i = 0; i < 3; i++) d->shape[i] = shape[i];
    }
    if (class_names) TTP_CALL_GOTO(ctx, st, done, set_names(ctx, d, class_names));
    if (title) snprintf(d->title, TTP_ATTR_LEN, "%s", title);
    if (source) snprintf(d->source, TTP_ATTR_LEN, "%s", source);
    if (license) snprintf(d->license, TTP_ATTR_LEN, "%s", license);
    snprintf(d->history, TTP_ATTR_LEN, "%s", history);
    TTP_CALL_GOTO(ctx, st, done, ttp_data_write(ctx, out, d));
    printf("wrote %s: %lld samples of shape ", out, (long long)d->n);
    if (d->ndim == 1)
        printf("(%lld)", (long long)d->shape[0]);
    else
        printf("(%lld,%lld,%lld)", (long long)d->shape[0], (long long)d->shape[1], (long long)d->shape[2]);
    if (d->nclasses > 0)
        printf(", %d classes", d->nclasses);
    else
        printf(", no labels");
    printf("\n");
done:
    ttp_data_destroy(&d);
    return st;
}

ttp_status ttp_cmd_convert(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum {
        O_IMAGES = TTP_CLI_O_FIRST_OWN,
        O_LABELS,
        O_CSV,
        O_LABELCOL,
        O_SHAPE,
        O_NAMES,
        O_TITLE,
        O_SOURCE,
        O_LICENSE,
        O_ONNX
    };
    static const struct option opts[] = {{"idx-images", required_argument, NULL, O_IMAGES},
                                         {"idx-labels", required_argument, NULL, O_LABELS},
                                         {"csv", required_argument, NULL, O_CSV},
                                         {"label-col", required_argument, NULL, O_LABELCOL},
                                         TTP_CLI_OUT_OPTION,
                                         {"shape", required_argument, NULL, O_SHAPE},
                                         {"class-names", required_argument, NULL, O_NAMES},
                                         {"title", required_argument, NULL, O_TITLE},
                                         {"source", required_argument, NULL, O_SOURCE},
                                         {"license", required_argument, NULL, O_LICENSE},
                                         {"onnx", required_argument, NULL, O_ONNX},
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    const char *images = NULL, *labels = NULL, *csv = NULL, *names = NULL, *title = NULL, *source = NULL,
               *license = NULL, *onnx = NULL;
    int64_t label_col = 0, shape[3] = {0, 0, 0};
    int nshape = 0;

    /* The history attribute: the command line as given (before getopt
     * permutes argv). */
    char history[TTP_ATTR_LEN];
    size_t used = (size_t)snprintf(history, sizeof history, "ttpredict");
    for (int i = 0; i < argc && used < sizeof history; i++)
        used += (size_t)snprintf(history + used, sizeof history - used, " %s", argv[i]);

    opterr = 0; /* our own message names the option and the command */
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_IMAGES: images = optarg; break;
        case O_LABELS: labels = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_LABELCOL:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--label-col", optarg, 1, 1000000, &label_col));
            break;
        case O_SHAPE:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--shape", optarg, 1, 1 << 30, shape, 3, &nshape));
            if (nshape != 3)
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "option --shape: '%s' has %d values, expected C,H,W (3 values)", optarg,
                               nshape);
            break;
        case O_NAMES: names = optarg; break;
        case O_TITLE: title = optarg; break;
        case O_SOURCE: source = optarg; break;
        case O_LICENSE: license = optarg; break;
        case O_ONNX: onnx = optarg; break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, NULL, 0, NULL, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "convert", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("convert") : TTP_OK;
    }
    const char *out = a.out;
    ctx->verbose = ttp_cli_verbosity(&a, 0);
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: unexpected argument '%s' (see 'ttpredict convert --help')",
                       argv[optind]);
    if ((images != NULL) + (csv != NULL) + (onnx != NULL) != 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: give exactly one input, --idx-images F, --csv F or --onnx F "
                       "(see 'ttpredict convert --help')");
    if (onnx && (labels || label_col > 0 || nshape || names))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: --onnx takes no dataset options (--idx-labels, --label-col, "
                       "--shape, --class-names)");
    if (labels && !images)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict convert: --idx-labels needs --idx-images");
    if (label_col > 0 && !csv)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict convert: --label-col applies to --csv input only");
    if (out == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: missing --out OUT.nc (the dataset or model file to write)");
    const ttp_path_use paths[] = {
        {images, "--idx-images", TTP_PATH_IN}, {labels, "--idx-labels", TTP_PATH_IN},
        {csv, "--csv", TTP_PATH_IN},           {onnx, "--onnx", TTP_PATH_IN},
        {out, "--out", TTP_PATH_OUT},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));

    ttp_status st = TTP_OK;
    if (cli->comm->rank == 0 && onnx)
        st = convert_onnx(cli, onnx, out, title, source, license, history);
    else if (cli->comm->rank == 0)
        st = convert(cli, images, labels, csv, (int)label_col - 1, shape, nshape, names, out, title, source,
                     license, history);
    /* Every rank waits for rank 0's outcome so that none leaves early. */
    st = ttp_comm_agree(ctx, cli->comm, st, "convert (rank 0 writes)");
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    return st;
}
