/*
 * cmd_train.c — `ttpredict train`: fine-tune for real (the ground truth a
 * prediction is checked against), or train the bundled architecture from
 * scratch.  A thin layer over ttp_train_run: parse, load, print, write.
 * Every rank trains its share of each batch; only rank 0 prints and writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_train.h"

static void usage(FILE *f)
{
    ttp_opt d;
    ttp_opt_default(&d);
    fprintf(f, "usage: [mpirun -np P] ttpredict train [options]\n"
               "\n"
               "Fine-tune a model on a dataset for real and record the training loss and\n"
               "accuracy on the whole training set after every step (steps 0..T).  The\n"
               "conventions (mean loss, batch-mean gradient, heavy-ball momentum, the seeded\n"
               "epoch-permutation batches) are exactly those `ttpredict predict` simulates.\n");
    ttp_cli_help_task(f);
    ttp_cli_help_line(f, "--arch resnet-small", "train the bundled architecture from scratch instead");
    ttp_cli_help_line(f, "--classes K", "outputs of that architecture (default: the dataset's classes)");
    ttp_cli_help_line(f, "--init-seed S", "its initial-weights seed (default 1)");
    ttp_cli_help_line(f, "--new-head K", "replace the last dense layer by a fresh K-output one");
    ttp_cli_help_line(f, "--head-seed S", "its initial-weights seed (default 1)");
    ttp_cli_help_opt(f, &d);
    ttp_cli_help_section(f, "output (rank 0)");
    ttp_cli_help_line(f, "--out-model FILE", "the trained model (with --steps 0 the only output)");
    ttp_cli_help_line(f, "--out FILE", "loss(step) and accuracy(step) with the settings (NetCDF)");
    ttp_cli_help_line(f, "--json FILE", "summary and curves as JSON");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\nexample:\n"
               "  mpirun -np 2 ttpredict train --loss ce --lr 0.05 --batch 64 --momentum 0.9 \\\n"
               "      --steps 150 --out out/train.nc\n");
}

/* Rank 0's outputs: summary on stdout, files.  Returns rank 0's status. */
static ttp_status write_outputs(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_opt *o,
                                const ttp_train_result *r, const char *model_path, const char *data_path,
                                const char *out_model, const char *out, const char *json)
{
    if (r) {
        int64_t T = r->steps;
        printf("ttpredict train: %s on %s\n", model_path, data_path);
        printf("  %lld samples, %d outputs, %lld trainable parameters; loss %s, lr %g, batch %lld%s, "
               "momentum %g%s, wd %g, %lld steps, seed %llu\n",
               (long long)d->n, m->nout, (long long)m->ntrainable, ttp_loss_str(o->loss), o->lr,
               (long long)ttp_opt_batch(o, d->n), ttp_opt_batch(o, d->n) == d->n ? " (full)" : "",
               o->momentum, o->nesterov ? " (Nesterov)" : "", o->wd, (long long)T,
               (unsigned long long)o->seed);
        printf("  step %4d: loss %.6g  accuracy %.4f\n", 0, r->loss[0], r->acc[0]);
        printf("  step %4lld: loss %.6g  accuracy %.4f\n", (long long)T, r->loss[T], r->acc[T]);
        printf("  %.3f s in all, %.6f s per step (optimizer steps only)\n", r->seconds, r->sec_per_step);
    }
    if (out_model) {
        TTP_CALL(ctx, ttp_model_write(ctx, out_model, m));
        printf("  wrote %s\n", out_model);
    }
    if (out && r) {
        TTP_CALL(ctx, ttp_train_write(ctx, out, r, o, model_path, data_path));
        printf("  wrote %s\n", out);
    }
    if (json && r) {
        TTP_CALL(ctx, ttp_train_write_json(ctx, json, r, o, m, d, model_path, data_path));
        printf("  wrote %s\n", json);
    }
    return TTP_OK;
}

ttp_status ttp_cmd_train(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum { O_ARCH = TTP_CLI_O_FIRST_OWN, O_CLASSES, O_INITSEED, O_NEWHEAD, O_HEADSEED, O_OUTMODEL };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         {"arch", required_argument, NULL, O_ARCH},
                                         {"classes", required_argument, NULL, O_CLASSES},
                                         {"init-seed", required_argument, NULL, O_INITSEED},
                                         {"new-head", required_argument, NULL, O_NEWHEAD},
                                         {"head-seed", required_argument, NULL, O_HEADSEED},
                                         TTP_CLI_OPT_OPTIONS,
                                         {"out-model", required_argument, NULL, O_OUTMODEL},
                                         TTP_CLI_OUT_OPTION,
                                         TTP_CLI_JSON_OPTION,
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *arch = NULL, *out_model = NULL;
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    int64_t classes = 0, init_seed = 1, new_head = 0, head_seed = 1;
    ttp_opt o;
    ttp_opt_default(&o);

    /* The model's history gains this command line as given (before getopt
     * permutes argv): deterministic, so the bundled files reproduce. */
    char history[1024];
    size_t used = (size_t)snprintf(history, sizeof history, "ttpredict");
    for (int i = 0; i < argc && used < sizeof history; i++)
        used += (size_t)snprintf(history + used, sizeof history - used, " %s", argv[i]);

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_ARCH:
            if (strcmp(optarg, "resnet-small") != 0)
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "option --arch: unknown architecture '%s', expected resnet-small", optarg);
            arch = optarg;
            break;
        case O_CLASSES: TTP_CALL(ctx, ttp_cli_int(ctx, "--classes", optarg, 1, 1 << 20, &classes)); break;
        case O_INITSEED:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--init-seed", optarg, 0, INT64_MAX, &init_seed));
            break;
        case O_NEWHEAD: TTP_CALL(ctx, ttp_cli_int(ctx, "--new-head", optarg, 1, 1 << 20, &new_head)); break;
        case O_HEADSEED:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--head-seed", optarg, 0, INT64_MAX, &head_seed));
            break;
        case O_OUTMODEL: out_model = optarg; break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, &o, 0, NULL, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "train", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("train") : TTP_OK;
    }
    const char *model_path = a.model, *data_path = a.data, *out = a.out, *json = a.json;
    ctx->verbose = ttp_cli_verbosity(&a, 0);
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict train: unexpected argument '%s' (see 'ttpredict train --help')",
                       argv[optind]);
    if (arch && model_path)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict train: give --model or --arch, not both");
    if (!arch && (classes > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option --classes: applies to --arch only (use --new-head K for a model file)");
    if (o.steps == 0 && out_model == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option --steps: 0 steps only makes sense with --out-model");
    if (!arch && model_path == NULL) model_path = ttp_cli_default_model();
    if (data_path == NULL) data_path = ttp_cli_default_data();
    const ttp_path_use paths[] = {
        {model_path, "--model", TTP_PATH_IN},     {data_path, "--data", TTP_PATH_IN},
        {out_model, "--out-model", TTP_PATH_OUT}, {out, "--out", TTP_PATH_OUT},
        {json, "--json", TTP_PATH_OUT},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));

    ttp_status st = TTP_OK;
    ttp_data *d = NULL;
    ttp_model *m = NULL;
    ttp_train_result *r = NULL;
    char mdesc[1100];
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    if (arch) {
        int64_t shape[3] = {d->shape[0], d->ndim == 3 ? d->shape[1] : 1, d->ndim == 3 ? d->shape[2] : 1};
        int k = classes > 0 ? (int)classes : d->nclasses > 0 ? d->nclasses : d->ntargets;
        if (k < 1) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "option --classes: the dataset '%s' has no labels, give --classes K", data_path);
            goto done;
        }
        TTP_CALL_GOTO(ctx, st, done, ttp_model_resnet_small(ctx, shape, k, (uint64_t)init_seed, &m));
        snprintf(mdesc, sizeof mdesc, "resnet-small (init seed %lld)", (long long)init_seed);
    } else {
        TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
        snprintf(mdesc, sizeof mdesc, "%s", model_path);
    }
    if (new_head > 0)
        TTP_CALL_GOTO(ctx, st, done, ttp_model_replace_head(ctx, m, (int)new_head, (uint64_t)head_seed));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    if (o.steps > 0) TTP_CALL_GOTO(ctx, st, done, ttp_opt_validate(ctx, &o, d->n));
    TTP_CALL_GOTO(ctx, st, done, ttp_train_check(ctx, m, d, o.loss));
    if (o.steps > 0) TTP_CALL_GOTO(ctx, st, done, ttp_train_run(ctx, cli->comm, m, d, &o, &r));

    /* Provenance of the written model: its history gains this command. */
    {
        size_t hl = strlen(m->history);
        snprintf(m->history + hl, sizeof m->history - hl, "%s%s", hl ? "\n" : "", history);
        if (o.steps > 0 && m->license[0] == '\0' && d->license[0] != '\0')
            snprintf(m->license, sizeof m->license, "weights trained by ttpredict on data under: %.3900s",
                     d->license);
        if (o.steps > 0 && d->title[0] != '\0') {
            size_t sl = strlen(m->source);
            snprintf(m->source + sl, sizeof m->source - sl, "%strained on: %.1000s", sl ? "; " : "",
                     d->title);
        }
    }
    if (cli->comm->rank == 0) st = write_outputs(ctx, m, d, &o, r, mdesc, data_path, out_model, out, json);
    /* Every rank waits for rank 0's outcome: none leaves early. */
    st = ttp_comm_agree(ctx, cli->comm, st, "output (rank 0 writes)");
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
done:
    ttp_train_result_destroy(&r);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    return st;
}
