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
#include "ttp_kbuild.h"
#include "ttp_scalapack.h"
#include "ttp_text.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: [mpirun -np P] ttpredict kernel [options] --out theta.nc\n"
            "\n"
            "Compute every sample's output Jacobian at the pretrained weights (rank r takes\n"
            "a contiguous shard of the samples), project it to D' columns, and assemble the\n"
            "kernel Theta = G G^T (NC x NC) block-cyclic with ScaLAPACK; decompose whichever\n"
            "of Theta or G^T G (D' x D') is smaller.  The file holds the non-zero spectrum of\n"
            "Theta (not divided by N), the projections of the residual F0 - Y and of the\n"
            "cross-entropy gradient on its eigenvectors, F0, and the model/data fingerprints.\n"
            "\n"
            "model and data (default: the bundled task):\n"
            "  --model M.nc           model file\n"
            "  --data D.nc            dataset file (labels or targets)\n"
            "projection:\n"
            "  --proj KIND            exact | rademacher | gaussian | kron (default exact: G = J)\n"
            "  --dproj D'             projected dimension, 1..D (required unless exact)\n"
            "  --seed S               projection seed (default 0)\n"
            "  --backend B            cpu | cuda | auto (default auto)\n"
            "distributed algebra:\n"
            "  --block NB             ScaLAPACK block size 1..%d (default 64)\n"
            "  --top-k K              only the K largest eigenpairs (pdsyevr); default all\n"
            "  --side S               auto | nc | dproj: which Gram matrix to decompose (default auto)\n"
            "  --assembly A           auto | shared | ring | pdsyrk: how Theta is formed (default auto:\n"
            "                         node-shared memory when all ranks are on one node, else the ring)\n"
            "output (rank 0):\n"
            "  --out FILE.nc          the kernel file (required)\n"
            "  --theta                also store Theta itself (NC x NC, gathered on rank 0)\n"
            "  --vectors              also store the eigenvectors (NC x kept modes)\n"
            "  --json FILE            summary as JSON\n"
            "  -v, --verbose          progress lines on stderr\n"
            "  -h, --help             this text;  --version\n"
            "\n"
            "example:\n"
            "  mpirun -np 4 ttpredict kernel --proj rademacher --dproj 2048 --out theta.nc\n",
            TTP_GRAM_MAX_BLOCK);
}

static ttp_status write_outputs(ttp_ctx *ctx, const ttp_kernel *k, int64_t d, const char *out,
                                const char *json, int nprow, int npcol)
{
    const double lmax = k->neig > 0 ? k->eigval[0] : 0.0, lmin = k->neig > 0 ? k->eigval[k->neig - 1] : 0.0;
    printf("ttpredict kernel: %s on %s\n", k->model_path, k->data_path);
    printf("  N %lld samples, C %d outputs, D %lld weights, D' %lld (%s, backend %s)\n", (long long)k->n,
           k->c, (long long)d, (long long)k->dproj, ttp_proj_kind_str(k->proj), k->backend);
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
        ttp_json *j = NULL;
        TTP_CALL(ctx, ttp_json_open(ctx, json, &j));
        ttp_json_str(j, "command", "kernel");
        ttp_json_str(j, "model", k->model_path);
        ttp_json_str(j, "data", k->data_path);
        ttp_json_str(j, "out", out);
        ttp_json_int(j, "N", k->n);
        ttp_json_int(j, "C", k->c);
        ttp_json_int(j, "D", d);
        ttp_json_int(j, "Dproj", k->dproj);
        ttp_json_str(j, "projection", ttp_proj_kind_str(k->proj));
        ttp_json_str(j, "backend", k->backend);
        ttp_json_int(j, "seed", (int64_t)k->seed);
        ttp_json_str(j, "side", k->side == 0 ? "nc" : "dproj");
        ttp_json_int(j, "ranks", k->nranks);
        ttp_json_int(j, "grid_rows", nprow);
        ttp_json_int(j, "grid_cols", npcol);
        ttp_json_str(j, "assembly", k->assembly);
        ttp_json_num(j, "trace", k->trace);
        ttp_json_int(j, "kept_eigenvalues", k->neig);
        ttp_json_num(j, "largest_eigenvalue", lmax);
        ttp_json_num(j, "smallest_kept_eigenvalue", lmin);
        ttp_json_num(j, "residual_energy", k->res_energy);
        ttp_json_num(j, "gradient_energy", k->grad_energy);
        ttp_json_begin_object(j, "seconds");
        ttp_json_num(j, "jacobian", k->sec_jac);
        ttp_json_num(j, "gram", k->sec_gram);
        ttp_json_num(j, "eigen", k->sec_eig);
        ttp_json_num(j, "total", k->sec_total);
        ttp_json_end_object(j);
        ttp_json_int(j, "peak_memory_per_rank_bytes", k->peak_rss_max);
        TTP_CALL(ctx, ttp_json_close(ctx, &j));
        printf("  wrote %s\n", json);
    }
    return TTP_OK;
}

ttp_status ttp_cmd_kernel(ttp_cli *cli, int argc, char **argv)
{
    ttp_ctx *ctx = cli->ctx;
    enum { O_MODEL = 256, O_DATA, O_PROJ, O_DPROJ, O_SEED, O_BACKEND, O_BLOCK, O_TOPK, O_SIDE, O_OUT,
           O_ASSEMBLY, O_THETA, O_VECTORS, O_JSON, O_VERSION };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},     {"data", required_argument, NULL, O_DATA},
        {"proj", required_argument, NULL, O_PROJ},       {"dproj", required_argument, NULL, O_DPROJ},
        {"seed", required_argument, NULL, O_SEED},       {"backend", required_argument, NULL, O_BACKEND},
        {"block", required_argument, NULL, O_BLOCK},     {"top-k", required_argument, NULL, O_TOPK},
        {"side", required_argument, NULL, O_SIDE},       {"out", required_argument, NULL, O_OUT},
        {"assembly", required_argument, NULL, O_ASSEMBLY},
        {"theta", no_argument, NULL, O_THETA},           {"vectors", no_argument, NULL, O_VECTORS},
        {"json", required_argument, NULL, O_JSON},       {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},                {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *data_path = NULL, *out = NULL, *json = NULL;
    int64_t v = 0;
    ttp_kernel_opts ko;
    ttp_kernel_opts_default(&ko);

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_DATA: data_path = optarg; break;
        case O_PROJ: TTP_CALL(ctx, ttp_proj_kind_parse(ctx, optarg, &ko.proj)); break;
        case O_DPROJ: TTP_CALL(ctx, ttp_cli_int(ctx, "--dproj", optarg, 1, INT32_MAX, &ko.dproj)); break;
        case O_SEED:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", optarg, 0, INT64_MAX, &v));
            ko.seed = (uint64_t)v;
            break;
        case O_BACKEND:
            if (strcmp(optarg, "cpu") != 0 && strcmp(optarg, "cuda") != 0 && strcmp(optarg, "auto") != 0)
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --backend: '%s', expected cpu, cuda or auto", optarg);
            ko.backend = optarg;
            break;
        case O_BLOCK:
            TTP_CALL(ctx, ttp_cli_int(ctx, "--block", optarg, 1, TTP_GRAM_MAX_BLOCK, &v));
            ko.block = (int)v;
            break;
        case O_TOPK: TTP_CALL(ctx, ttp_cli_int(ctx, "--top-k", optarg, 1, INT32_MAX, &ko.top_k)); break;
        case O_SIDE:
            if (strcmp(optarg, "auto") == 0) ko.side = -1;
            else if (strcmp(optarg, "nc") == 0) ko.side = 0;
            else if (strcmp(optarg, "dproj") == 0) ko.side = 1;
            else return TTP_ERR(ctx, TTP_ERR_ARG, "option --side: '%s', expected auto, nc or dproj", optarg);
            break;
        case O_ASSEMBLY:
            if (ttp_gram_assembly_parse(ctx, optarg, &ko.assembly) != TTP_OK) {
                ttp_error_clear(ctx);
                return TTP_ERR(ctx, TTP_ERR_ARG, "option --assembly: '%s', expected auto, shared, ring or pdsyrk",
                               optarg);
            }
            break;
        case O_OUT: out = optarg; break;
        case O_THETA: ko.want_theta = 1; break;
        case O_VECTORS: ko.want_vectors = 1; break;
        case O_JSON: json = optarg; break;
        case 'v': ctx->verbose = 1; break;
        case 'h':
            if (cli->comm->rank == 0) usage(stdout);
            return TTP_OK;
        case O_VERSION: return cli->comm->rank == 0 ? ttp_cli_version("kernel") : TTP_OK;
        default: return ttp_cli_bad_option(ctx, "kernel", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict kernel: unexpected argument '%s' (see 'ttpredict kernel --help')",
                       argv[optind]);
    if (out == NULL)
        return TTP_ERR(ctx, TTP_ERR_ARG, "ttpredict kernel: --out FILE.nc is required (where to write the kernel)");
    if (ko.proj != TTP_PROJ_EXACT && ko.dproj <= 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option --dproj: a %s projection needs --dproj D' (1..D)",
                       ttp_proj_kind_str(ko.proj));
    if (model_path == NULL) model_path = ttp_cli_default_model();
    if (data_path == NULL) data_path = ttp_cli_default_data();
    ko.model_path = model_path;
    ko.data_path = data_path;

    ttp_status st = TTP_OK;
    ttp_data *d = NULL;
    ttp_model *m = NULL;
    ttp_kernel *k = NULL;
    TTP_CALL_GOTO(ctx, st, done, ttp_data_read(ctx, data_path, &d));
    TTP_CALL_GOTO(ctx, st, done, ttp_model_read(ctx, model_path, &m));
    TTP_CALL_GOTO(ctx, st, done, ttp_kernel_build(ctx, cli->comm, m, d, &ko, &k));
    if (cli->comm->rank == 0) {
        int nprow, npcol;
        ttp_gram_grid_shape(cli->comm->size, &nprow, &npcol);
        st = write_outputs(ctx, k, m->ntrainable, out, json, nprow, npcol);
    }
    /* Every rank waits for rank 0's outcome: none leaves early. */
    {
        int failed = st != TTP_OK;
        if (cli->comm->size > 1) {
            ttp_ctx other;
            ttp_ctx_init(&other);
            if (cli->comm->allreduce_max_int(cli->comm, &failed, &other) != TTP_OK && st == TTP_OK)
                st = TTP_ERR(ctx, other.code, "%s", other.msg);
            if (failed && st == TTP_OK)
                st = TTP_ERR(ctx, TTP_ERR_IO, "rank 0 failed to write the kernel's outputs");
        }
        if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    }
done:
    ttp_kernel_destroy(&k);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    return st;
}
