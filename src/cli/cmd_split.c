/*
 * cmd_split.c — `ttpredict split`: make new dataset files from one, by
 * class groups (a pretraining / fine-tuning pair), stratified fractions
 * (train / test halves) or a number of samples per class (a small
 * fine-tuning set).  Parsing and printing only; the split is ttp_data_split
 * (src/io/ttp_data.h).  Under MPI only rank 0 reads and writes.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_data.h"

#define MAX_CLASS_VALUES 100000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ttpredict split --data IN.nc --classes 0-4[/5-9...] --out A.nc[,B.nc...] [--rest R.nc]\n"
            "       ttpredict split --data IN.nc --fraction F --out A.nc [--rest B.nc]\n"
            "       ttpredict split --data IN.nc --per-class N --out A.nc [--rest B.nc]\n"
            "\n"
            "Make dataset files from parts of one (see docs/formats/dataset.md).  Every\n"
            "output keeps the samples' file order, the class names, the standardization\n"
            "(input_mean, input_scale) and the provenance; its history attribute gets this\n"
            "command line appended.\n");
    ttp_cli_help_section(f, "input and output");
    ttp_cli_help_line(f, "--data FILE", "the dataset to split (required)");
    ttp_cli_help_line(f, "--out FILES",
                      "the files to write, separated by ',': one per class group,\n"
                      "or one for --fraction / --per-class (the chosen samples)");
    ttp_cli_help_line(f, "--rest FILE",
                      "also write the samples of no output: the classes of no\n"
                      "group, or the samples --fraction / --per-class left");
    ttp_cli_help_section(f, "how to split (one of --classes, --fraction, --per-class)");
    ttp_cli_help_line(f, "--classes G",
                      "class groups separated by '/', each a list of labels and\n"
                      "ranges (\"0-4/5-9\", \"0,2,4\"); group i goes to output i.  With\n"
                      "--fraction or --per-class, one group: the classes they split");
    ttp_cli_help_line(f, "--fraction F",
                      "stratified: the first output gets round(F * N_k) samples of\n"
                      "each class k, F in (0, 1)");
    ttp_cli_help_line(f, "--per-class N",
                      "the first output gets N samples of each class (a class with\n"
                      "fewer is an error)");
    ttp_cli_help_line(f, "--pick P",
                      "which samples of a class --fraction / --per-class choose:\n"
                      "first (file order, default) or random");
    ttp_cli_help_line(f, "--seed S",
                      "seed of --pick random (default 0); the same seed, the same\n"
                      "choice on every machine");
    ttp_cli_help_line(f, "--relabel",
                      "renumber each output's classes 0..K'-1 in increasing order of\n"
                      "their labels (the classes of its group; names follow), as\n"
                      "fine-tuning on classes 5-9 usually wants labels 0-4");
    ttp_cli_help_line(f, "--title T", "the outputs' title attribute (default: the input's)");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\n"
               "examples:\n"
               "  ttpredict split --data digits.nc --classes 5-9/0-4 --relabel --out pre.nc,fine.nc\n"
               "  ttpredict split --data wine.nc --fraction 0.5 --pick random --seed 1 --out train.nc \\\n"
               "      --rest test.nc\n");
}

/* Split "a,b,c" into at most cap pieces in buf (modified in place). */
static int split_list(char *buf, char sep, char **pieces, int cap)
{
    int n = 0;
    for (char *p = buf; p && n < cap;) {
        char *q = strchr(p, sep);
        if (q) *q = '\0';
        pieces[n++] = p;
        p = q ? q + 1 : NULL;
    }
    return n;
}

static void print_part(const char *path, const ttp_data *d)
{
    printf("wrote %s: %lld samples", path, (long long)d->n);
    if (d->nclasses > 0) {
        int64_t *count = calloc((size_t)d->nclasses, sizeof *count);
        for (int64_t i = 0; count && i < d->n; i++) count[d->y[i]]++;
        printf(", %d classes:", d->nclasses);
        for (int k = 0; count && k < d->nclasses && k < 20; k++)
            printf(" %s=%lld", d->class_names[k], (long long)count[k]);
        printf("%s", d->nclasses > 20 ? " ..." : "");
        free(count);
    }
    printf("\n");
}

typedef struct {
    const char *in, *rest, *title, *history;
    char **outs;
    int nouts;
    ttp_split_opts o;
} split_args;

static ttp_status run_split(ttp_cli *cli, const split_args *a)
{
    ttp_ctx *ctx = cli->ctx;
    ttp_status st = TTP_OK;
    ttp_data *d = NULL, *parts[TTP_SPLIT_MAX_PARTS] = {NULL};
    int np = ttp_split_nparts(&a->o);
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, a->in, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_data_split(ctx, d, &a->o, a->history, parts));
    /* every part is made before any file is written: a split that fails
     * leaves no outputs behind */
    for (int p = 0; p < np; p++) {
        const char *path = p < a->nouts ? a->outs[p] : a->rest;
        if (path == NULL) continue;
        if (a->title) snprintf(parts[p]->title, TTP_ATTR_LEN, "%s", a->title);
        TTP_CALL_GOTO(ctx, st, done, ttp_data_write(ctx, path, parts[p]));
        print_part(path, parts[p]);
    }
done:
    ttp_data_destroy(&d);
    for (int p = 0; p < np; p++) ttp_data_destroy(&parts[p]);
    return st;
}

ttp_status ttp_cmd_split(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum { O_REST = TTP_CLI_O_FIRST_OWN, O_CLASSES, O_FRACTION, O_PER, O_PICK, O_SEED, O_RELABEL, O_TITLE };
    static const struct option opts[] = {{"data", required_argument, NULL, TTP_CLI_O_DATA},
                                         TTP_CLI_OUT_OPTION,
                                         {"rest", required_argument, NULL, O_REST},
                                         {"classes", required_argument, NULL, O_CLASSES},
                                         {"fraction", required_argument, NULL, O_FRACTION},
                                         {"per-class", required_argument, NULL, O_PER},
                                         {"pick", required_argument, NULL, O_PICK},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"relabel", no_argument, NULL, O_RELABEL},
                                         {"title", required_argument, NULL, O_TITLE},
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    split_args s;
    memset(&s, 0, sizeof s);
    const char *classes = NULL;
    int have_seed = 0;

    char history[TTP_ATTR_LEN];
    size_t used = (size_t)snprintf(history, sizeof history, "ttpredict");
    for (int i = 0; i < argc && used < sizeof history; i++)
        used += (size_t)snprintf(history + used, sizeof history - used, " %s", argv[i]);

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_REST: s.rest = optarg; break;
        case O_CLASSES: classes = optarg; break;
        case O_FRACTION:
            TTP_CALL(ctx, ttp_cli_double(ctx, "--fraction", optarg, 0, 0, 1, &s.o.fraction));
            if (s.o.fraction >= 1)
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --fraction: %s, expected a value in (0, 1)", optarg);
            break;
        case O_PER:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--per-class", optarg, 1, INT64_MAX / 2, &s.o.per_class));
            break;
        case O_PICK:
            if (strcmp(optarg, "first") == 0)
                s.o.pick = TTP_SPLIT_FIRST;
            else if (strcmp(optarg, "random") == 0)
                s.o.pick = TTP_SPLIT_RANDOM;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --pick: '%s', expected first or random", optarg);
            break;
        case O_SEED: {
            int64_t v;
            TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", optarg, 0, INT64_MAX, &v));
            s.o.seed = (uint64_t)v;
            have_seed = 1;
            break;
        }
        case O_RELABEL: s.o.relabel = 1; break;
        case O_TITLE: s.title = optarg; break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, NULL, 0, NULL, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "split", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("split") : TTP_OK;
    }
    ctx->verbose = ttp_cli_verbosity(&a, 0);
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict split: unexpected argument '%s' (see 'ttpredict split --help')",
                       argv[optind]);
    if (a.data == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict split: missing --data IN.nc (the dataset to split)");
    if (a.out == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict split: missing --out FILE[,FILE...] (the files to write)");
    int quota = s.o.fraction > 0 || s.o.per_class > 0;
    if (s.o.fraction > 0 && s.o.per_class > 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict split: give --fraction or --per-class, not both");
    if (!quota && classes == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict split: say how to split: --classes G, --fraction F or --per-class N "
                       "(see 'ttpredict split --help')");
    if (!quota && (s.o.pick != TTP_SPLIT_FIRST || have_seed))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict split: --pick and --seed apply to --fraction and --per-class");
    if (have_seed && s.o.pick != TTP_SPLIT_RANDOM)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict split: --seed applies to --pick random only");

    ttp_status st = TTP_OK;
    char outbuf[4096], clsbuf[4096];
    char *outs[TTP_SPLIT_MAX_PARTS], *grp[TTP_SPLIT_MAX_PARTS];
    int *values = NULL, group_len[TTP_SPLIT_MAX_PARTS];
    const int *groups[TTP_SPLIT_MAX_PARTS];
    if (strlen(a.out) >= sizeof outbuf || (classes && strlen(classes) >= sizeof clsbuf))
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict split: --out or --classes is too long");
    strcpy(outbuf, a.out);
    s.nouts = split_list(outbuf, ',', outs, TTP_SPLIT_MAX_PARTS);
    s.outs = outs;
    int ngroups = 0;
    if (classes) {
        strcpy(clsbuf, classes);
        ngroups = split_list(clsbuf, '/', grp, TTP_SPLIT_MAX_PARTS - 1);
        TTP_ALLOC(ctx, st, done, values, (size_t)MAX_CLASS_VALUES, "class list");
        int used_values = 0;
        for (int g = 0; g < ngroups; g++) {
            TTP_CALL_GOTO(ctx, st, done,
                          ttp_cli_range_list(ctx, "--classes", grp[g], 0, TTP_DATA_MAX_CLASSES - 1,
                                             values + used_values, MAX_CLASS_VALUES - used_values,
                                             &group_len[g]));
            groups[g] = values + used_values;
            used_values += group_len[g];
        }
        s.o.ngroups = ngroups;
        s.o.groups = groups;
        s.o.group_len = group_len;
    }
    int want = quota ? 1 : ngroups;
    if (quota && ngroups > 1) {
        st =
            TTP_ERR(ctx, TTP_ERR_ARG,
                    "ttpredict split: with --fraction or --per-class, --classes takes one group (the classes "
                    "to split), not %d",
                    ngroups);
        goto done;
    }
    if (s.nouts != want) {
        st = TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict split: --out names %d file%s, expected %d (%s)", s.nouts,
                     s.nouts == 1 ? "" : "s", want,
                     quota ? "the chosen samples; --rest names the file for the others"
                           : "one per class group");
        goto done;
    }
    s.o.rest = !quota && s.rest != NULL;
    s.in = a.data;
    s.history = history;
    {
        ttp_path_use paths[TTP_SPLIT_MAX_PARTS + 2];
        int np = 0;
        paths[np++] = (ttp_path_use){a.data, "--data", TTP_PATH_IN};
        for (int i = 0; i < s.nouts; i++) paths[np++] = (ttp_path_use){outs[i], "--out", TTP_PATH_OUT};
        if (s.rest) paths[np++] = (ttp_path_use){s.rest, "--rest", TTP_PATH_OUT};
        TTP_CALL_GOTO(ctx, st, done, ttp_path_check(ctx, paths, np));
    }
    if (cli->comm->rank == 0) st = run_split(cli, &s);
    st = ttp_comm_agree(ctx, cli->comm, st, "split (rank 0 writes)");
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
done:
    free(values);
    return st;
}
