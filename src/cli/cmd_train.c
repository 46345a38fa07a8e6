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
#include "ttp_text.h"
#include "ttp_train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: [mpirun -np P] ttpredict train [options]\n"
            "\n"
            "Fine-tune a model on a dataset for real and record the training loss and\n"
            "accuracy on the whole training set after every step (steps 0..T).  The\n"
            "conventions (mean loss, batch-mean gradient, heavy-ball momentum, the seeded\n"
            "epoch-permutation batches) are exactly those `ttpredict predict` simulates.\n"
            "\n"
            "model and data (default: the bundled task, a small ResNet pretrained on digits\n"
            "0-4 with a fresh 5-class head, fine-tuned on digits 5-9):\n"
            "  --model M.nc          model file to fine-tune\n"
            "  --data D.nc           dataset file\n"
            "  --arch resnet-small   train the bundled architecture from scratch instead\n"
            "  --classes K           outputs of that architecture (default: the dataset's classes)\n"
            "  --init-seed S         its initial-weights seed (default 1)\n"
            "  --new-head K          replace the last dense layer by a fresh K-output one\n"
            "  --head-seed S         its initial-weights seed (default 1)\n"
            "optimizer (--steps 0 only writes --out-model):\n"
            TTP_CLI_OPT_HELP
            "output (written by rank 0):\n"
            "  --out-model OUT.nc    the trained model\n"
            "  --out RESULT.nc       loss(step) and accuracy(step) with the settings\n"
            "  --json FILE           summary and curves as JSON\n"
            "  -v, --verbose         progress lines on stderr\n"
            "  -h, --help            this text;  --version\n"
            "\n"
            "example:\n"
            "  mpirun -np 2 ttpredict train --loss ce --lr 0.05 --batch 64 --momentum 0.9 \\\n"
            "      --steps 150 --out out/train.nc\n");
}

/* Rank 0's outputs: summary on stdout, files.  Returns rank 0's status. */
static ttp_status write_outputs(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_opt *o,
                                const ttp_train_result *r, const char *model_path, const char *data_path,
                                const char *out_model, const char *out, const char *json)
{
    ttp_json *j = NULL;
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
        TTP_CALL(ctx, ttp_json_open(ctx, json, &j));
        /* ttp_json_open has opened the top-level object. */
        ttp_json_str(j, "command", "train");
        ttp_json_str(j, "model", model_path);
        ttp_json_str(j, "data", data_path);
        ttp_json_int(j, "samples", d->n);
        ttp_json_int(j, "outputs", m->nout);
        ttp_json_int(j, "trainable_parameters", m->ntrainable);
        ttp_json_begin_object(j, "settings");
        ttp_json_str(j, "loss", ttp_loss_str(o->loss));
        ttp_json_num(j, "lr", o->lr);
        ttp_json_int(j, "batch", ttp_opt_batch(o, d->n));
        ttp_json_num(j, "momentum", o->momentum);
        ttp_json_bool(j, "nesterov", o->nesterov);
        ttp_json_num(j, "wd", o->wd);
        ttp_json_int(j, "steps", o->steps);
        ttp_json_int(j, "seed", (int64_t)o->seed);
        ttp_json_end_object(j);
        ttp_json_num(j, "initial_loss", r->loss[0]);
        ttp_json_num(j, "final_loss", r->loss[r->steps]);
        ttp_json_num(j, "initial_accuracy", r->acc[0]);
        ttp_json_num(j, "final_accuracy", r->acc[r->steps]);
        ttp_json_num(j, "seconds", r->seconds);
        ttp_json_num(j, "sec_per_step", r->sec_per_step);
        ttp_json_nums(j, "loss", r->loss, r->steps + 1);
        ttp_json_nums(j, "accuracy", r->acc, r->steps + 1);
        TTP_CALL(ctx, ttp_json_close(ctx, &j));
        printf("  wrote %s\n", json);
    }
    return TTP_OK;
}

ttp_status ttp_cmd_train(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum { O_MODEL = 256, O_DATA, O_ARCH, O_CLASSES, O_INITSEED, O_NEWHEAD, O_HEADSEED, O_OUTMODEL, O_OUT,
           O_JSON, O_VERSION };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},       {"data", required_argument, NULL, O_DATA},
        {"arch", required_argument, NULL, O_ARCH},         {"classes", required_argument, NULL, O_CLASSES},
        {"init-seed", required_argument, NULL, O_INITSEED}, {"new-head", required_argument, NULL, O_NEWHEAD},
        {"head-seed", required_argument, NULL, O_HEADSEED}, TTP_CLI_OPT_OPTIONS,
        {"out-model", required_argument, NULL, O_OUTMODEL},
        {"out", required_argument, NULL, O_OUT},           {"json", required_argument, NULL, O_JSON},
        {"verbose", no_argument, NULL, 'v'},               {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},         {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *data_path = NULL, *arch = NULL, *out_model = NULL, *out = NULL,
               *json = NULL;
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
    while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_DATA: data_path = optarg; break;
        case O_ARCH:
            if (strcmp(optarg, "resnet-small") != 0)
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --arch: unknown architecture '%s', expected resnet-small",
                               optarg);
            arch = optarg;
            break;
        case O_CLASSES: TTP_CALL(ctx, ttp_cli_int(ctx, "--classes", optarg, 1, 1 << 20, &classes)); break;
        case O_INITSEED: TTP_CALL(ctx, ttp_cli_int(ctx, "--init-seed", optarg, 0, INT64_MAX, &init_seed)); break;
        case O_NEWHEAD: TTP_CALL(ctx, ttp_cli_int(ctx, "--new-head", optarg, 1, 1 << 20, &new_head)); break;
        case O_HEADSEED: TTP_CALL(ctx, ttp_cli_int(ctx, "--head-seed", optarg, 0, INT64_MAX, &head_seed)); break;
        case O_OUTMODEL: out_model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_JSON: json = optarg; break;
        case 'v': ctx->verbose = 1; break;
        case 'h':
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        case O_VERSION: return cli->comm->rank == 0 ? ttp_cli_version("train") : TTP_OK;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_opt_option(ctx, c, optarg, 0, &o, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "train", argv[optind - 1]);
        }
        }
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict train: unexpected argument '%s' (see 'ttpredict train --help')",
                       argv[optind]);
    if (arch && model_path)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict train: give --model or --arch, not both");
    if (!arch && (classes > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option --classes: applies to --arch only (use --new-head K for a model file)");
    if (o.steps == 0 && out_model == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option --steps: 0 steps only makes sense with --out-model");
    if (!arch && model_path == NULL) model_path = ttp_cli_default_model();
    if (data_path == NULL) data_path = ttp_cli_default_data();

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
            st = TTP_ERR(ctx, TTP_ERR_ARG, "option --classes: the dataset '%s' has no labels, give --classes K",
                         data_path);
            goto done;
        }
        TTP_CALL_GOTO(ctx, st, done, ttp_model_resnet_small(ctx, shape, k, (uint64_t)init_seed, &m));
        snprintf(mdesc, sizeof mdesc, "resnet-small (init seed %lld)", (long long)init_seed);
    } else {
        TTP_CALL_GOTO(ctx, st, done, ttp_model_read(ctx, model_path, &m));
        snprintf(mdesc, sizeof mdesc, "%s", model_path);
    }
    if (new_head > 0) TTP_CALL_GOTO(ctx, st, done, ttp_model_replace_head(ctx, m, (int)new_head, (uint64_t)head_seed));
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
            snprintf(m->source + sl, sizeof m->source - sl, "%strained on: %.1000s", sl ? "; " : "", d->title);
        }
    }
    if (cli->comm->rank == 0)
        st = write_outputs(ctx, m, d, &o, r, mdesc, data_path, out_model, out, json);
    /* Every rank waits for rank 0's outcome (as in convert): none leaves early. */
    {
        int failed = st != TTP_OK;
        if (cli->comm->size > 1) {
            ttp_ctx other;
            ttp_ctx_init(&other);
            if (cli->comm->allreduce_max_int(cli->comm, &failed, &other) != TTP_OK && st == TTP_OK)
                st = TTP_ERR(ctx, other.code, "%s", other.msg);
        }
        if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    }
done:
    ttp_train_result_destroy(&r);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    return st;
}
