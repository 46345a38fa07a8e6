/*
 * cmd_kernel.c — `ttpredict kernel`: build the projected empirical NTK of a
 * training set across the MPI ranks, decompose it with ScaLAPACK and write
 * the kernel file (docs/formats/kernel.md) that `predict` can reuse.  A thin
 * layer over ttp_kernel_build: parse, load, print, write (rank 0 only).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ttp_onnx.h"
#include "ttp_kbuild.h"
#include "ttp_scalapack.h"

static void usage(FILE *f)
{
    ttp_kernel_opts d;
    ttp_kernel_opts_default(&d);
    fprintf(f, "usage: [mpirun -np P] ttpredict kernel [options] --out theta.nc\n"
               "\n"
               "Compute every sample's output Jacobian at the pretrained weights (rank r takes\n"
               "a contiguous shard of the samples), project it to D' columns, and assemble the\n"
               "kernel Theta = G G^T (NC x NC) block-cyclic with ScaLAPACK; decompose whichever\n"
               "of Theta or G^T G (D' x D') is smaller.  The file holds the non-zero spectrum of\n"
               "Theta (not divided by N), the projections of the residual F0 - Y and of the\n"
               "cross-entropy gradient on its eigenvectors, F0, and the model/data fingerprints.\n");
    ttp_cli_help_task(f);
    ttp_cli_help_kernel(f, &d, "exact: G = J");
    ttp_cli_help_line(f, "--side S", "auto | nc | dproj: which Gram matrix to decompose (default auto)");
    ttp_cli_help_line(f, "--assembly A",
                      "auto | shared | ring | pdsyrk: how Theta is formed (default auto:\n"
                      "node-shared memory when all ranks are on one node, else the ring)");
    ttp_cli_help_run(f, 1);
    ttp_cli_help_section(f, "output (rank 0)");
    ttp_cli_help_line(f, "--out FILE", "the kernel file (required; docs/formats/kernel.md)");
    ttp_cli_help_line(f, "--theta", "also store Theta itself (NC x NC, gathered on rank 0)");
    ttp_cli_help_line(f, "--vectors", "also store the eigenvectors (NC x kept modes)");
    ttp_cli_help_line(f, "--json FILE", "summary as JSON");
    ttp_cli_help_common(f, 0);
    fprintf(f, "\nexample:\n"
               "  mpirun -np 4 ttpredict kernel --proj rademacher --dproj 2048 --out theta.nc\n");
}

static ttp_status write_outputs(ttp_ctx *ctx, const ttp_kernel *k, int64_t d, const char *out,
                                const char *json, int nprow, int npcol)
{
    const double lmax = k->neig > 0 ? k->eigval[0] : 0.0, lmin = k->neig > 0 ? k->eigval[k->neig - 1] : 0.0;
    printf("ttpredict kernel: %s on %s\n", k->model_path, k->data_path);
    printf("  N %lld samples, C %d outputs, D %lld weights, D' %lld (%s, backend %s)\n", (long long)k->n,
           k->c, (long long)d, (long long)k->dproj, ttp_proj_kind_str(k->proj), k->backend);
    printf("  trainable layers: %s\n", k->trainable);
    printf("  decomposed the %s side (%lld x %lld) on a %d x %d grid of %d ranks (assembly %s)\n",
           k->side == 0 ? "NC" : "D'", (long long)(k->side == 0 ? k->n * k->c : k->dproj),
           (long long)(k->side == 0 ? k->n * k->c : k->dproj), nprow, npcol, k->nranks, k->assembly);
    printf("  trace(Theta) %.6g; %lld non-zero eigenvalues, largest %.6g, smallest kept %.6g\n", k->trace,
           (long long)k->neig, lmax, lmin);
    double kept = 0.0;
    for (int64_t i = 0; i < k->neig; i++) kept += k->p_res[i] * k->p_res[i];
    printf("  residual energy ||F0 - Y||^2 %.6g, %.2f%% of it in the kept modes\n", k->res_energy,
           k->res_energy > 0 ? 100.0 * kept / k->res_energy : 100.0);
    printf("  seconds: jacobian %.3f, gram %.3f, eigen %.3f, total %.3f; peak memory per rank %.1f MiB\n",
           k->sec_jac, k->sec_gram, k->sec_eig, k->sec_total, (double)k->peak_rss_max / 1048576.0);
    TTP_CALL(ctx, ttp_kernel_write(ctx, out, k));
    printf("  wrote %s\n", out);
    if (json) {
        TTP_CALL(ctx, ttp_kernel_write_json(ctx, json, k, d, out, nprow, npcol));
        printf("  wrote %s\n", json);
    }
    return TTP_OK;
}

ttp_status ttp_cmd_kernel(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum { O_SIDE = TTP_CLI_O_FIRST_OWN, O_ASSEMBLY, O_THETA, O_VECTORS, O_MEM, O_CKPT, O_RESUME };
    static const struct option opts[] = {TTP_CLI_TASK_OPTIONS,
                                         TTP_CLI_KERNEL_OPTIONS,
                                         {"side", required_argument, NULL, O_SIDE},
                                         {"assembly", required_argument, NULL, O_ASSEMBLY},
                                         {"mem-per-rank", required_argument, NULL, O_MEM},
                                         {"checkpoint", required_argument, NULL, O_CKPT},
                                         {"resume", required_argument, NULL, O_RESUME},
                                         TTP_CLI_OUT_OPTION,
                                         {"theta", no_argument, NULL, O_THETA},
                                         {"vectors", no_argument, NULL, O_VECTORS},
                                         TTP_CLI_JSON_OPTION,
                                         TTP_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    ttp_cli_args a;
    ttp_cli_args_init(&a);
    ttp_kernel_opts ko;
    ttp_kernel_opts_default(&ko);

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, TTP_CLI_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case O_SIDE:
            if (strcmp(optarg, "auto") == 0)
                ko.side = -1;
            else if (strcmp(optarg, "nc") == 0)
                ko.side = 0;
            else if (strcmp(optarg, "dproj") == 0)
                ko.side = 1;
            else
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --side: '%s', expected auto, nc or dproj", optarg);
            break;
        case O_ASSEMBLY:
            if (ttp_gram_assembly_parse(ctx, optarg, &ko.assembly) != TTP_OK) {
                ttp_error_clear(ctx);
                return TTP_ERR(ctx, TTP_ERR_ARG,
                               "option --assembly: '%s', expected auto, shared, ring or pdsyrk", optarg);
            }
            break;
        case O_THETA: ko.want_theta = 1; break;
        case O_VECTORS: ko.want_vectors = 1; break;
        case O_MEM: TTP_CALL(ctx, ttp_cli_bytes(ctx, "--mem-per-rank", optarg, &ko.mem_per_rank)); break;
        case O_CKPT:
        case O_RESUME:
            ko.checkpoint_dir = optarg;
            ko.resume_required = c == O_RESUME;
            break;
        default: {
            int handled;
            TTP_CALL(ctx, ttp_cli_shared_option(ctx, c, optarg, &a, NULL, 0, &ko, &handled));
            if (!handled) return ttp_cli_bad_option(ctx, "kernel", argv[optind - 1]);
        }
        }
        if (a.help) {
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        }
        if (a.version) return cli->comm->rank == 0 ? ttp_cli_version("kernel") : TTP_OK;
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict kernel: unexpected argument '%s' (see 'ttpredict kernel --help')",
                       argv[optind]);
    const char *out = a.out, *json = a.json;
    if (out == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "ttpredict kernel: --out FILE.nc is required (where to write the kernel)");
    /* Every option is checked now, before any file is read. */
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, &ko, 0));
    const char *model_path = a.model ? a.model : ttp_cli_default_model();
    const char *data_path = a.data ? a.data : ttp_cli_default_data();
    ko.model_path = model_path;
    ko.data_path = data_path;
    const ttp_path_use paths[] = {
        {model_path, "--model", TTP_PATH_IN},
        {data_path, "--data", TTP_PATH_IN},
        {out, "--out", TTP_PATH_OUT},
        {json, "--json", TTP_PATH_OUT},
    };
    TTP_CALL(ctx, ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0])));
    ctx->verbose = ttp_cli_verbosity(&a, 0);
    ko.stop_after_block = ttp_cli_test_stop_after_block();

    ttp_status st = TTP_OK;
    ttp_data *d = NULL;
    ttp_model *m = NULL;
    ttp_kernel *k = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_model_load(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_cli_train_layers(ctx, &a, m));
    TTP_CALL_GOTO(ctx, st, done, ttp_kernel_build(ctx, cli->comm, m, d, &ko, &k));
    if (cli->comm->rank == 0) {
        int nprow, npcol;
        ttp_gram_grid_shape(cli->comm->size, &nprow, &npcol);
        st = write_outputs(ctx, k, m->ntrainable, out, json, nprow, npcol);
    }
    /* Every rank waits for rank 0's outcome: none leaves early. */
    st = ttp_comm_agree(ctx, cli->comm, st, "output (rank 0 writes)");
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
done:
    ttp_kernel_destroy(&k);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    return st;
}
