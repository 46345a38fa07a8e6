/*
 * cmd_convert.c — `ttpredict convert`: make a dataset file (the NetCDF
 * format of docs/formats/dataset.md) from IDX (MNIST-style), CSV or NumPy
 * .npy files, optionally standardized, or a model file (docs/formats/model.md)
 * from an ONNX network.  Parsing and printing only; the
 * conversion is ttp_data_from_idx / _from_csv_opts / _from_npy,
 * ttp_data_standardize(_like) and ttp_data_write.  Under MPI only rank 0 reads and
 * writes; the other ranks wait for it so that none finishes early.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_data.h"
#include "ttp_onnx.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ttpredict convert --idx-images F [--idx-labels F] --out OUT.nc [options]\n"
               "       ttpredict convert --csv F [--label-col K] --out OUT.nc [options]\n"
               "       ttpredict convert --npy-inputs X.npy [--npy-labels Y.npy] --out OUT.nc [options]\n"
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
                      "one sample per line, comma-separated; the data lines set the\n"
                      "column count; a first line of another width, or with a\n"
                      "non-numeric feature cell, is a header and skipped");
    ttp_cli_help_line(f, "--label-col K",
                      "CSV column holding the class label, counting from 1, or the\n"
                      "header's name for it (default: no labels); integer labels\n"
                      "are class indices, text labels (M/B) become classes in\n"
                      "sorted order and name them");
    ttp_cli_help_line(f, "--drop-cols L",
                      "CSV columns to ignore, counting from 1 (\"1\", \"1,33\", \"2-4\")");
    ttp_cli_help_line(f, "--header H",
                      "CSV first line: auto (default, the rule above), yes (always\n"
                      "a header) or no (always data)");
    ttp_cli_help_line(f, "--npy-inputs F",
                      "NumPy .npy features, shape (N,F), (N,H,W) or (N,C,H,W),\n"
                      "float32/float64/integer, little-endian, C order");
    ttp_cli_help_line(f, "--npy-labels F", "NumPy .npy labels, shape (N,), an integer type");
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
    ttp_cli_help_line(f, "--relabel R",
                      "integer labels: auto (default: labels 1..K, with no 0, become\n"
                      "classes 0..K-1), yes (renumber whenever a class has no\n"
                      "samples) or no; renumbered classes keep their labels as names");
    ttp_cli_help_line(f, "--standardize",
                      "subtract each input value's mean and divide by its standard\n"
                      "deviation (1 where it is zero); both are stored in the file");
    ttp_cli_help_line(f, "--standardize-like F",
                      "apply the mean and scale stored in dataset F (e.g. scale a\n"
                      "fine-tuning set like its pretraining set)");
    ttp_cli_help_line(f, "--title T", "provenance: the dataset's title");
    ttp_cli_help_line(f, "--source S", "provenance: where the data comes from");
    ttp_cli_help_line(f, "--license L",
                      "provenance: the data's license (the history attribute\n"
                      "records this command line)");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\n"
               "Integer labels: classes 0..K-1 with K = max label + 1 (see --relabel).\n"
               "examples:\n"
               "  ttpredict convert --csv wdbc.csv --label-col 2 --drop-cols 1 --standardize --out bc.nc\n"
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

/* What the command line asked for. */
typedef struct {
    const char *idx_images, *idx_labels, *csv, *npy_x, *npy_y;
    ttp_csv_opts csv_opts;
    int64_t shape[3];
    int nshape;
    int standardize;
    ttp_relabel_mode relabel;
    const char *like;
    const char *class_names, *out, *title, *source, *license, *history;
} conv_args;

/* The conversion itself (rank 0). */
static ttp_status convert(ttp_cli *cli, const conv_args *c)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_data *d = NULL, *ref = NULL;
    unsigned char *constant = NULL;
    const char *in = c->idx_images ? c->idx_images : c->csv ? c->csv : c->npy_x;
    if (c->idx_images)
        TTP_CALL_GOTO(ctx, st, done, ttp_data_from_idx(ctx, c->idx_images, c->idx_labels, &d));
    else if (c->csv)
        TTP_CALL_GOTO(ctx, st, done, ttp_data_from_csv_opts(ctx, c->csv, &c->csv_opts, &d));
    else
        TTP_CALL_GOTO(ctx, st, done, ttp_data_from_npy(ctx, c->npy_x, c->npy_y, &d));
    if (c->nshape == 3) {
        int64_t prod = c->shape[0] * c->shape[1] * c->shape[2];
        if (prod != d->dim) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "option --shape: %lld x %lld x %lld = %lld values per sample, but '%s' has %lld "
                         "features per sample",
                         (long long)c->shape[0], (long long)c->shape[1], (long long)c->shape[2],
                         (long long)prod, in, (long long)d->dim);
            goto done;
        }
        d->ndim = 3;
        for (int i = 0; i < 3; i++) d->shape[i] = c->shape[i];
    }
    int k_before = d->nclasses, relabelled = 0;
    TTP_CALL_GOTO(ctx, st, done, ttp_data_relabel(ctx, d, c->relabel, &relabelled));
    if (c->class_names) TTP_CALL_GOTO(ctx, st, done, set_names(ctx, d, c->class_names));
    int64_t nconst = 0;
    if (c->standardize) {
        TTP_ALLOC(ctx, st, done, constant, (size_t)d->dim, "zero-variance flags");
        TTP_CALL_GOTO(ctx, st, done, ttp_data_standardize(ctx, d, constant, &nconst));
    }
    if (c->like) {
        TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, c->like, &ref));
        TTP_CALL_GOTO(ctx, st, done, ttp_data_standardize_like(ctx, d, ref, c->like));
    }
    if (c->title) snprintf(d->title, TTP_ATTR_LEN, "%s", c->title);
    if (c->source) snprintf(d->source, TTP_ATTR_LEN, "%s", c->source);
    if (c->license) snprintf(d->license, TTP_ATTR_LEN, "%s", c->license);
    {
        /* the command line, then what the converter noted (a skipped header) */
        char note[TTP_ATTR_LEN];
        snprintf(note, sizeof note, "%s", d->history);
        snprintf(d->history, TTP_ATTR_LEN, "%s: %.*s", c->history, TTP_ATTR_LEN / 2, note);
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_data_write(ctx, c->out, d));
    printf("wrote %s: %lld samples of shape ", c->out, (long long)d->n);
    if (d->ndim == 1)
        printf("(%lld)", (long long)d->shape[0]);
    else
        printf("(%lld,%lld,%lld)", (long long)d->shape[0], (long long)d->shape[1], (long long)d->shape[2]);
    if (d->nclasses > 0) {
        printf(", %d classes (", d->nclasses);
        for (int k = 0; k < d->nclasses && k < 12; k++) printf("%s%s", k ? ";" : "", d->class_names[k]);
        printf("%s)", d->nclasses > 12 ? ";..." : "");
    } else {
        printf(", no labels");
    }
    printf("\n");
    if (relabelled)
        printf("note: the labels present were renumbered to classes 0..%d (of %d label values 0..%d); the "
               "class names keep the labels; --relabel no keeps them as they are\n",
               d->nclasses - 1, k_before, k_before - 1);
    if (d->nclasses > 0) {
        int64_t *count = calloc((size_t)d->nclasses, sizeof *count);
        int empty = 0;
        for (int64_t i = 0; count && i < d->n; i++) count[d->y[i]]++;
        for (int k = 0; count && k < d->nclasses; k++) empty += count[k] == 0;
        if (empty)
            printf("note: %d of the %d classes have no samples (integer labels are class indices, K = max "
                   "label + 1; --relabel yes renumbers)\n",
                   empty, d->nclasses);
        free(count);
    }
    if (c->standardize)
        printf("standardized: mean and scale of each of the %lld input values stored (input_mean, "
               "input_scale)%s\n",
               (long long)d->dim, nconst ? "" : "; no feature is constant");
    if (c->standardize && nconst) {
        printf("note: %lld input value%s zero variance, so scale 1 (only centred):", (long long)nconst,
               nconst > 1 ? "s have" : " has");
        int shown = 0;
        for (int64_t j = 0; j < d->dim && shown < 20; j++)
            if (constant[j]) {
                printf(" %lld", (long long)j + 1);
                shown++;
            }
        printf("%s (counting from 1)\n", nconst > shown ? " ..." : "");
    }
    if (c->like) printf("standardized like %s (its input_mean and input_scale, stored here too)\n", c->like);
done:
    free(constant);
    ttp_data_destroy(&d);
    ttp_data_destroy(&ref);
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
        O_DROP,
        O_HEADER,
        O_NPYX,
        O_NPYY,
        O_STD,
        O_LIKE,
        O_ONNX,
        O_RELABEL
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
                                         {"drop-cols", required_argument, NULL, O_DROP},
                                         {"header", required_argument, NULL, O_HEADER},
                                         {"npy-inputs", required_argument, NULL, O_NPYX},
                                         {"npy-labels", required_argument, NULL, O_NPYY},
                                         {"standardize", no_argument, NULL, O_STD},
                                         {"standardize-like", required_argument, NULL, O_LIKE},
                                         {"onnx", required_argument, NULL, O_ONNX},
                                         {"relabel", required_argument, NULL, O_RELABEL},
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    conv_args ca;
    memset(&ca, 0, sizeof ca);
    ca.csv_opts.label_col = -1;
    ca.csv_opts.header = -1;
    ca.relabel = TTP_RELABEL_ONE;
    int64_t label_col = 0;
    int drop[4096];
    int ndrop = 0;
    const char *onnx = NULL;

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
        case O_IMAGES: ca.idx_images = optarg; break;
        case O_LABELS: ca.idx_labels = optarg; break;
        case O_CSV: ca.csv = optarg; break;
        case O_LABELCOL:
            /* a number counts columns; anything else names a header cell */
            if ((optarg[0] >= '0' && optarg[0] <= '9') || optarg[0] == '-' || optarg[0] == '+') {
                TTP_CALL(ctx, ttp_cli_int(ctx, "--label-col", optarg, 1, 1000000, &label_col));
                ca.csv_opts.label_name = NULL;
            } else {
                if (optarg[0] == '\0')
                    return TTP_ERR(ctx, TTP_ERR_ARG,
                                   "option --label-col: empty; expected a column number or a header name");
                ca.csv_opts.label_name = optarg;
                label_col = 0;
            }
            break;
        case O_DROP:
            TTP_CALL(ctx, ttp_cli_range_list(ctx, "--drop-cols", optarg, 1, 1000000, drop,
                                             (int)(sizeof drop / sizeof drop[0]), &ndrop));
            break;
        case O_HEADER:
            if (strcmp(optarg, "auto") == 0)
                ca.csv_opts.header = -1;
            else if (strcmp(optarg, "yes") == 0)
                ca.csv_opts.header = 1;
            else if (strcmp(optarg, "no") == 0)
                ca.csv_opts.header = 0;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --header: '%s', expected auto, yes or no", optarg);
            break;
        case O_RELABEL:
            if (strcmp(optarg, "auto") == 0)
                ca.relabel = TTP_RELABEL_ONE;
            else if (strcmp(optarg, "yes") == 0)
                ca.relabel = TTP_RELABEL_YES;
            else if (strcmp(optarg, "no") == 0)
                ca.relabel = TTP_RELABEL_NO;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --relabel: '%s', expected auto, yes or no", optarg);
            break;
        case O_NPYX: ca.npy_x = optarg; break;
        case O_NPYY: ca.npy_y = optarg; break;
        case O_STD: ca.standardize = 1; break;
        case O_LIKE: ca.like = optarg; break;
        case O_ONNX: onnx = optarg; break;
        case O_SHAPE:
            TTP_CALL(ctx, ttp_cli_int_list(ctx, "--shape", optarg, 1, 1 << 30, ca.shape, 3, &ca.nshape));
            if (ca.nshape != 3)
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "option --shape: '%s' has %d values, expected C,H,W (3 values)", optarg,
                               ca.nshape);
            break;
        case O_NAMES: ca.class_names = optarg; break;
        case O_TITLE: ca.title = optarg; break;
        case O_SOURCE: ca.source = optarg; break;
        case O_LICENSE: ca.license = optarg; break;
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
    if (ca.idx_labels && !ca.idx_images)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict convert: --idx-labels needs --idx-images");
    if (ca.npy_y && !ca.npy_x)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict convert: --npy-labels needs --npy-inputs");
    if ((ca.idx_images != NULL) + (ca.csv != NULL) + (ca.npy_x != NULL) + (onnx != NULL) != 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: give exactly one input, --idx-images F, --csv F, "
                       "--npy-inputs F or --onnx F (see 'ttpredict convert --help')");
    if (onnx &&
        (label_col > 0 || ca.csv_opts.label_name || ca.nshape || ca.class_names || ca.standardize || ca.like))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: --onnx takes no dataset options (--label-col, --shape, "
                       "--class-names, --standardize, --standardize-like)");
    if ((label_col > 0 || ca.csv_opts.label_name || ndrop > 0 || ca.csv_opts.header != -1) && !ca.csv)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: --label-col, --drop-cols and --header apply to --csv input only");
    if (ca.standardize && ca.like)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: give --standardize (this file's own mean and scale) or "
                       "--standardize-like F (another file's), not both");
    if (out == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict convert: missing --out OUT.nc (the dataset file to write)");
    const ttp_path_use paths[] = {
        {ca.idx_images, "--idx-images", TTP_PATH_IN},
        {ca.idx_labels, "--idx-labels", TTP_PATH_IN},
        {ca.csv, "--csv", TTP_PATH_IN},
        {ca.npy_x, "--npy-inputs", TTP_PATH_IN},
        {ca.npy_y, "--npy-labels", TTP_PATH_IN},
        {ca.like, "--standardize-like", TTP_PATH_IN},
        {onnx, "--onnx", TTP_PATH_IN},
        {out, "--out", TTP_PATH_OUT},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));
    ca.csv_opts.label_col = (int)label_col - 1;
    for (int i = 0; i < ndrop; i++) drop[i]--;
    ca.csv_opts.drop = drop;
    ca.csv_opts.ndrop = ndrop;
    ca.out = out;
    ca.history = history;

    ttp_status st = TTP_OK;
    if (cli->comm->rank == 0 && onnx)
        st = convert_onnx(cli, onnx, out, ca.title, ca.source, ca.license, history);
    else if (cli->comm->rank == 0)
        st = convert(cli, &ca);
    /* Every rank waits for rank 0's outcome so that none leaves early. */
    st = ttp_comm_agree(ctx, cli->comm, st, "convert (rank 0 writes)");
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    return st;
}
