/*
 * kernel.c — the kernel stage of the pipeline (ttp_kbuild.h): every rank
 * computes the projected Jacobian rows of its contiguous shard of samples,
 * the communicator's Gram builder (ttp_comm.gram) assembles and decomposes the Gram matrix, and
 * rank 0 receives the spectrum, the projections of the initial residual and
 * loss gradient, and the provenance that lets `predict` reuse the file.
 *
 * Every check that can fail on bad input runs before the Jacobian stage, on
 * every rank alike, so that a mistake costs nothing and no rank is left in a
 * collective.  Failures that can differ between ranks (an allocation, a
 * device) are agreed on before the next collective step.
 */
#include "ttp_jac.h"
#include "ttp_kbuild.h"
#include "ttp_net.h"
#include "ttp_text.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Samples per network batch in the Jacobian stage (each is C rows). */
#define KERNEL_SAMPLES_PER_BATCH 4

void ttp_kernel_opts_default(ttp_kernel_opts *o)
{
    memset(o, 0, sizeof *o);
    o->proj = TTP_PROJ_EXACT;
    /* predict's default since the first release: `kernel` and `predict`
     * given the same projection build the same kernel (and predict can
     * reuse it with --kernel) */
    o->proj_seed = 1;
    o->backend = "auto";
    o->block = 64;
    o->side = -1;
}

ttp_status ttp_kernel_opts_validate(ttp_ctx *ctx, const ttp_kernel_opts *o, int64_t d)
{
    if (o->proj != TTP_PROJ_AUTO && (o->proj < 0 || o->proj >= TTP_PROJ_KIND_COUNT))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option proj: projection kind %d is unknown", (int)o->proj);
    const int projected = o->proj != TTP_PROJ_EXACT && o->proj != TTP_PROJ_AUTO;
    if (o->dproj < 0 || (projected && o->dproj == 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option dproj: projected dimension D′ = %lld: a %s projection needs a "
                       "positive count (at most D, the trainable weights)",
                       (long long)o->dproj, ttp_proj_kind_str(o->proj));
    if (projected && d > 0 && o->dproj > d)
        return TTP_ERR(
            ctx, TTP_ERR_ARG,
            "option dproj: projected dimension D′ = %lld exceeds the model's D = %lld trainable weights: "
            "a %s projection must reduce the dimension (set option proj to exact for G = J)",
            (long long)o->dproj, (long long)d, ttp_proj_kind_str(o->proj));
    if (o->backend && strcmp(o->backend, "cpu") != 0 && strcmp(o->backend, "cuda") != 0 &&
        strcmp(o->backend, "auto") != 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option backend: '%s', expected cpu, cuda or auto", o->backend);
    if (o->block != 0 && (o->block < 1 || o->block > TTP_GRAM_MAX_BLOCK)) /* 0: the default 64 */
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option block: ScaLAPACK block size %d is out of range: expected 1..%d "
                       "(typical 32-256; default 64)",
                       o->block, TTP_GRAM_MAX_BLOCK);
    if (o->top_k < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option top_k: %lld, expected 0 (all eigenpairs) or a positive count",
                       (long long)o->top_k);
    if (o->side < -1 || o->side > 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option side: %d, expected -1 (auto), 0 (NC × NC) or 1 (D′ × D′)",
                       o->side);
    return TTP_OK;
}

void ttp_kernel_opts_resolve(ttp_kernel_opts *o, int64_t d)
{
    if (o->proj != TTP_PROJ_AUTO) return;
    const int64_t dp = o->dproj > 0 ? o->dproj : TTP_KERNEL_AUTO_DPROJ;
    /* Projecting pays only where the exact kernel would be the larger one. */
    if (d > 2 * dp) {
        o->proj = TTP_PROJ_KRON;
        o->dproj = dp;
    } else {
        o->proj = TTP_PROJ_EXACT;
    }
}

/* The outputs F0 and the Jacobian rows of samples [s0, s0+cnt) must be
 * finite: an overflow (inputs of 1e308, or weights that blow up) would
 * otherwise become a kernel file full of NaNs that its own reader refuses.
 * TTP_ERR_NUMERIC naming the first sample and the size of its inputs. */
static ttp_status check_finite_rows(ttp_ctx *ctx, const ttp_data *data, int64_t s0, int64_t cnt, int64_t C,
                                    int64_t K, const double *G, const double *f)
{
    for (int64_t i = 0; i < cnt; i++) {
        int bad = 0;
        for (int64_t c = 0; c < C && !bad; c++) bad = !isfinite(f[i * C + c]);
        for (int64_t r = 0; r < C * K && !bad; r++)
            bad = !isfinite(G[(size_t)(i * C) * (size_t)K + (size_t)r]);
        if (!bad) continue;
        double xmax = 0.0;
        const double *x = data->x + (size_t)(s0 + i) * (size_t)data->dim;
        for (int64_t j = 0; j < data->dim; j++)
            xmax = fabs(x[j]) > xmax || !isfinite(x[j]) ? fabs(x[j]) : xmax;
        return TTP_ERR(ctx, TTP_ERR_NUMERIC,
                       "sample %lld of the dataset gives a non-finite %s (its inputs reach |x| = %g): the "
                       "network overflows on these inputs; rescale the dataset (e.g. to [0, 1]) or check it",
                       (long long)(s0 + i), isfinite(f[i * C]) ? "Jacobian row" : "model output", xmax);
    }
    return TTP_OK;
}

/* Input checks, identical on every rank, before any heavy work. */
static ttp_status check_inputs(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                               const ttp_kernel_opts *o)
{
    TTP_CALL(ctx, ttp_model_check_input(ctx, m, d->ndim, d->shape, "the kernel's dataset"));
    const int64_t N = d->n, C = m->nout, D = m->ntrainable;
    if (N < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "the dataset has no samples");
    if (comm->size > N)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "more ranks (%d) than samples (%lld): every rank needs at least one sample; run "
                       "with at most %lld ranks",
                       comm->size, (long long)N, (long long)N);
    if (D < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "the model has no trainable parameters: its kernel is zero");
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, o, D));
    const int64_t Kd = o->proj == TTP_PROJ_EXACT ? D : o->dproj;
    int64_t NC = 0;
    if (__builtin_mul_overflow(N, C, &NC) || NC > INT_MAX || Kd > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "N = %lld samples x C = %lld outputs rows and D′ = %lld columns: ScaLAPACK indexes "
                       "with 32-bit integers (at most %d); project to a smaller D′ or use a subset",
                       (long long)N, (long long)C, (long long)Kd, INT_MAX);
    {
        /* Memory estimate before the heavy stage: this rank's rows of G
         * (⌈N/P⌉·C × D′ doubles) must fit in the machine's memory. */
        const double rows = (double)((N + comm->size - 1) / comm->size) * (double)C;
        const double need = rows * (double)Kd * 8.0;
        const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        if (phys > 0 && need > phys)
            return TTP_ERR(ctx, TTP_ERR_NOMEM,
                           "the Jacobian rows of one rank need %.1f GiB (%.0f rows x D′ = %lld columns) but "
                           "this machine has %.1f GiB: use more ranks (nodes), a smaller D′ (--proj kron "
                           "--dproj) or a subset",
                           need / 1073741824.0, rows, (long long)Kd, phys / 1073741824.0);
    }
    if (d->y != NULL) {
        if (d->nclasses > C)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "the dataset has %d classes but the model has %lld outputs: labels must index "
                           "the outputs (replace the model's head)",
                           d->nclasses, (long long)C);
    } else if (d->targets != NULL) {
        if (d->ntargets != C)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "the dataset has %d targets per sample but the model has %lld "
                           "outputs",
                           d->ntargets, (long long)C);
    } else {
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "the dataset has neither labels nor targets: the kernel's residual projections "
                       "need them");
    }
    return TTP_OK;
}

ttp_status ttp_kernel_build(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                            const ttp_kernel_opts *opts, ttp_kernel **out)
{
    ttp_status st = TTP_OK;
    const double t_start = ttp_time();
    ttp_kernel *k = NULL;
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    ttp_gram *gram = NULL;
    ttp_gram_result res;
    double *G = NULL, *f0 = NULL, *u0 = NULL, *R = NULL, *grad = NULL;
    memset(&res, 0, sizeof res);
    *out = NULL;

    /* The automatic projection is settled here for a caller that left it. */
    ttp_kernel_opts resolved = *opts;
    ttp_kernel_opts_resolve(&resolved, model->ntrainable);
    opts = &resolved;
    const int block = opts->block > 0 ? opts->block : 64;
    if (comm->gram == NULL)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "this communicator has no distributed Gram builder (ttp_comm.gram is NULL): "
                       "the kernel stage needs one, e.g. from ttp_mpi_comm (mpi/ttp_mpi.h), even on one "
                       "rank");
    const ttp_gram_ops *gops = comm->gram;
    TTP_CALL(ctx, check_inputs(ctx, comm, model, data, opts));

    const int64_t N = data->n, C = model->nout;
    const int rank = comm->rank, P = comm->size;
    const int nrhs = data->y ? 2 : 1;
    int64_t lo, hi;
    ttp_shard(N, rank, P, &lo, &hi);
    const int64_t ns = hi - lo, nrow = ns * C;

    /* ---- plan and buffers (a device may exist on one rank only) -------- */
    st = ttp_jac_plan_create(ctx, model, opts->proj, opts->dproj, opts->proj_seed,
                             opts->backend ? opts->backend : "auto", &plan);
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));
    st = ttp_net_create(ctx, model, KERNEL_SAMPLES_PER_BATCH * C, &net);
    /* The structured sketch splits D′ over the layers by their measured share
     * of Θ (the head can carry most of it while holding few weights); every
     * rank measures it on the same first samples, so every rank makes the
     * same split. */
    if (st == TTP_OK && opts->proj == TTP_PROJ_KRON)
        st = ttp_jac_plan_calibrate(ctx, plan, net, model->w, data->x, N < 10 ? N : 10);
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));
    const int64_t K = ttp_jac_plan_dim(plan);
    TTP_ALLOC(ctx, st, agreed, G, (size_t)nrow * (size_t)K, "this rank's rows of G = J P");
    TTP_ALLOC(ctx, st, agreed, f0, (size_t)N * C, "F0");
    TTP_ALLOC(ctx, st, agreed, u0, (size_t)N * C, "u0");
    TTP_ALLOC(ctx, st, agreed, R, (size_t)nrow * nrhs, "residual and gradient rows");
    TTP_ALLOC(ctx, st, agreed, grad, (size_t)nrow, "loss gradient rows");
    TTP_CALL_GOTO(ctx, st, agreed, ttp_kernel_create(ctx, &k));
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));

    /* ---- Jacobian rows of this rank's samples -------------------------- */
    const double t_jac = ttp_time();
    {
        const int64_t chunk = ns / 20 > KERNEL_SAMPLES_PER_BATCH ? ns / 20 : KERNEL_SAMPLES_PER_BATCH;
        for (int64_t s = 0; s < ns && st == TTP_OK; s += chunk) {
            const int64_t cnt = s + chunk < ns ? chunk : ns - s;
            st = ttp_jac_rows(ctx, plan, net, model->w, data->x + (size_t)(lo + s) * (size_t)data->dim, cnt,
                              G + (size_t)(s * C) * (size_t)K, f0 + (size_t)(lo + s) * C,
                              u0 + (size_t)(lo + s) * C);
            if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
            if (st == TTP_OK)
                st = check_finite_rows(ctx, data, lo + s, cnt, C, K, G + (size_t)(s * C) * (size_t)K,
                                       f0 + (size_t)(lo + s) * C);
            ttp_progress(ctx, "jacobian", (double)(s + cnt) / (double)ns, t_jac);
        }
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian"));
    const double sec_jac = ttp_time() - t_jac;

    /* ---- residual F0 − Y and CE gradient softmax(F0) − onehot ---------- */
    double en[2] = {0.0, 0.0};
    {
        const double *f = f0 + (size_t)lo * C;
        if (data->y) ttp_loss_eval(TTP_LOSS_CE, f, data->y + lo, NULL, ns, (int)C, grad, NULL);
        for (int64_t i = 0; i < ns; i++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t row = i * C + c;
                double y = data->y ? (data->y[lo + i] == c ? 1.0 : 0.0)
                                   : data->targets[(size_t)(lo + i) * data->ntargets + c];
                double r = f[row] - y;
                R[row * nrhs] = r;
                en[0] += r * r;
                if (nrhs > 1) {
                    R[row * nrhs + 1] = grad[row];
                    en[1] += grad[row] * grad[row];
                }
            }
    }
    /* F0 and u0 whole on every rank (NC values: small next to G). */
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, f0, N * C, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, u0, N * C, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, en, 2, ctx));
    free(grad);
    grad = NULL;

    /* ---- Gram matrix and eigenpairs ------------------------------------ */
    const double t_gram = ttp_time();
    TTP_CALL_GOTO(ctx, st, done, gops->load(ctx, comm, block, N * C, K, lo * C, nrow, G, nrhs, R, &gram));
    free(G); /* the block-cyclic copy is all that is needed from here */
    G = NULL;
    free(R);
    R = NULL;
    ttp_gram_opts go = {opts->top_k, opts->want_vectors, opts->want_theta, opts->side, 0.0, opts->assembly};
    TTP_CALL_GOTO(ctx, st, done, gops->decompose(ctx, gram, &go, &res));
    gops->destroy(&gram);
    ttp_progress(ctx, "gram+eigen", 1.0, t_gram);

    /* ---- the result ----------------------------------------------------- */
    k->n = N;
    k->c = (int)C;
    k->d = model->ntrainable;
    k->dproj = K;
    k->proj = ttp_jac_plan_kind(plan);
    k->seed = opts->proj_seed;
    snprintf(k->backend, sizeof k->backend, "%s", ttp_jac_plan_backend(plan));
    k->side = res.side;
    k->neig = res.neig;
    k->trace = res.trace;
    k->res_energy = en[0];
    k->grad_energy = data->y ? en[1] : 0.0;
    k->model_fp = ttp_model_fingerprint(model);
    k->data_fp = ttp_data_fingerprint(data);
    snprintf(k->model_path, sizeof k->model_path, "%s", opts->model_path ? opts->model_path : "");
    ttp_model_trainable_names(model, k->trainable, sizeof k->trainable);
    snprintf(k->data_path, sizeof k->data_path, "%s", opts->data_path ? opts->data_path : "");
    k->nranks = P;
    snprintf(k->assembly, sizeof k->assembly, "%s", ttp_gram_assembly_str(res.assembly));
    if (rank == 0) {
        k->f0 = f0;
        k->u0 = u0;
        f0 = u0 = NULL;
        k->eigval = res.eigval;
        k->eigvec = res.eigvec;
        k->theta = res.theta;
        res.eigval = res.eigvec = res.theta = NULL;
        TTP_ALLOC(ctx, st, agreed_r, k->p_res, res.neig, "p_res");
        for (int64_t j = 0; j < res.neig; j++) k->p_res[j] = res.proj[j];
        if (nrhs > 1) {
            TTP_ALLOC(ctx, st, agreed_r, k->p_grad, res.neig, "p_grad");
            for (int64_t j = 0; j < res.neig; j++) k->p_grad[j] = res.proj[res.neig + j];
        }
        if (data->y) {
            TTP_ALLOC(ctx, st, agreed_r, k->labels, N, "labels");
            memcpy(k->labels, data->y, sizeof *k->labels * (size_t)N);
        } else {
            TTP_ALLOC(ctx, st, agreed_r, k->targets, (size_t)N * data->ntargets, "targets");
            memcpy(k->targets, data->targets, sizeof *k->targets * (size_t)N * data->ntargets);
            k->ntargets = data->ntargets;
        }
    }
agreed_r:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "kernel result"));
    {
        /* stage seconds and peak memory: the maximum over ranks */
        double sec[5] = {sec_jac, res.sec_gram, res.sec_eig, ttp_time() - t_start, (double)ttp_peak_rss()};
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_max(comm, sec, 5, ctx));
        k->sec_jac = sec[0];
        k->sec_gram = sec[1];
        k->sec_eig = sec[2];
        k->sec_total = sec[3];
        k->peak_rss_max = (int64_t)sec[4]; /* bytes: exact in a double below 2^53 */
    }
    *out = k;
    k = NULL;
done:
    if (gram) comm->gram->destroy(&gram);
    ttp_gram_result_clear(&res);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    ttp_kernel_destroy(&k);
    free(G);
    free(f0);
    free(u0);
    free(R);
    free(grad);
    return st;
}

ttp_status ttp_kernel_write_json(ttp_ctx *ctx, const char *path, const ttp_kernel *k, int64_t d,
                                 const char *out, int nprow, int npcol)
{
    const double lmax = k->neig > 0 ? k->eigval[0] : 0.0, lmin = k->neig > 0 ? k->eigval[k->neig - 1] : 0.0;
    ttp_json *j = NULL;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    ttp_json_str(j, "command", "kernel");
    ttp_json_str(j, "model", k->model_path);
    ttp_json_str(j, "data", k->data_path);
    ttp_json_str(j, "out", out);
    ttp_json_int(j, "N", k->n);
    ttp_json_int(j, "C", k->c);
    ttp_json_int(j, "D", d);
    ttp_json_str(j, "trainable_layers", k->trainable);
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
    return ttp_json_close(ctx, &j);
}
