/*
 * plan.c — memory per rank and time of the kernel stage (and the dynamics
 * after it) from the problem's sizes, before any heavy work: the model of
 * ttp_kbuild.h, the search for what would fit, and the refusal that names
 * it.  `ttpredict plan` prints it; ttp_kernel_build and ttp_predict_run
 * refuse a run that would not fit.
 */
#include "ttp_kbuild.h"
#include "ttp_text.h"
#include "ttp_train.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* MemAvailable of this machine in bytes (0 when unknown). */
static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    double kb = 0.0;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
        fclose(f);
    }
    if (kb > 0) return kb * 1024.0;
    const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    return phys > 0 ? phys : 0.0;
}

/* The estimate proper: sizes in, bytes and flops out (no search). */
static void estimate(const ttp_kernel_opts *o, int64_t D, int64_t C, const ttp_model *model,
                     const ttp_plan_in *in, ttp_plan *p)
{
    const int64_t nparams = model->nparams;
    const int P = in->ranks > 0 ? in->ranks : 1;
    const int64_t N = in->n;
    const int64_t Kd = o->proj == TTP_PROJ_EXACT ? D : o->dproj;
    const double nc = (double)N * (double)C, dp = (double)Kd;
    const double rows = (double)((N + P - 1) / P) * (double)C;
    /* the direct dynamics path: Θ on the NC side gathered on rank 0, no
     * decomposition, its top direct_k pairs by Lanczos there */
    const int direct = o->direct_k > 0;
    const int side = direct ? 0 : o->side >= 0 ? o->side : (nc <= dp ? 0 : 1);
    const int theta = o->want_theta || direct;
    const double s = side == 0 ? nc : dp;
    double k = direct ? (double)o->direct_k : o->top_k > 0 && (double)o->top_k < s ? (double)o->top_k : s;
    if (k > nc) k = nc; /* Θ has at most NC non-zero eigenpairs */
    p->n = N;
    p->c = C;
    p->d = D;
    p->dproj = Kd;
    p->nc = (int64_t)nc;
    p->ranks = P;
    p->side = side;
    p->dim = (int64_t)s;
    p->kept = (int64_t)k;

    p->model_bytes = 8.0 * 2.0 * (double)nparams;
    p->jac_bytes = 8.0 * (rows * dp + rows * 3.0 + 2.0 * nc);
    p->gram_bytes = 8.0 * (nc * dp / P + s * s / P);
    p->eig_bytes = direct ? 0.0 : 8.0 * (4.0 * s * s / P);
    /* Θ's row blocks (n_r × NC), formed on the NC side or for Θ itself:
     * with P > 1 the node-shared assembly (what auto takes on one node)
     * keeps them in a window where a rank also holds the pages it wrote
     * into the others' blocks until the gather is done (NC² counted); the
     * ring a private NC²/P; on one rank the NC side forms them in C, Θ
     * alone in a private NC² */
    const int shared = o->assembly == TTP_GRAM_AUTO || o->assembly == TTP_GRAM_SHARED;
    if ((side == 0 || theta) && P > 1)
        p->work_bytes = 8.0 * (shared ? nc * nc : nc * nc / P);
    else
        p->work_bytes = theta && side == 1 ? 8.0 * nc * nc : 0.0;
    const double gathered = (o->want_vectors && !direct ? nc * k : 0.0) + (theta ? nc * nc : 0.0);
    p->gather_bytes = 8.0 * (gathered + (direct ? nc * k + 3.0 * nc : 0.0));
    /* the redistribution to rank 0 (pdgemr2d) holds its messages while it
     * runs: 2 × the gathered matrices / P, measured (docs/large-n.md) */
    p->transit_bytes = 8.0 * 2.0 * gathered / P;
    p->ensemble_bytes = 0.0;
    if (in->ensemble > 0) {
        const double M = in->ensemble, T1 = (double)in->steps + 1.0;
        const double B = in->batch > 0 && in->batch < N ? (double)in->batch : (double)N;
        p->ensemble_bytes = 8.0 * (M * (4.0 * nc + B * (double)C + (double)N + k + 2.0 * T1) + 6.0 * T1);
    }
    const double load = p->jac_bytes + 8.0 * nc * dp / P;
    const double decomp = p->gram_bytes + p->eig_bytes + p->work_bytes + p->gather_bytes + p->transit_bytes;
    const double sim = p->gather_bytes + p->ensemble_bytes;
    double peak = load > decomp ? load : decomp;
    peak = sim > peak ? sim : peak;
    p->base_bytes = TTP_PLAN_BASELINE;
    p->peak_bytes = p->base_bytes + p->model_bytes + peak;

    const double Dd = (double)D;
    /* the engine runs one forward pass of every sample and the backward
     * pass of its C cotangents (jac.c): the network's own per-sample flops,
     * which for a conv layer count every output position, not only its
     * weights */
    double fwd = 0.0, bwd = 0.0; /* the layers' flops, without the loss's */
    if (model->nlayers > 0) {
        ttp_layer_cost *lc = calloc((size_t)model->nlayers, sizeof *lc);
        if (lc) {
            ttp_model_cost(model, lc, NULL);
            for (int l = 0; l < model->nlayers; l++) fwd += lc[l].flops_fwd, bwd += lc[l].flops_bwd;
            free(lc);
        }
    }
    if (model->nlayers > 0 && fwd + bwd > 0)
        p->flops_jac = (double)N * (fwd + (double)C * bwd) / P;
    else /* no layers to count (sizes only): a dense network's count */
        p->flops_jac = (double)N * (2.0 * Dd + 4.0 * (double)C * Dd) / P;
    if (o->proj == TTP_PROJ_KRON)
        p->flops_jac += 2.0 * nc * sqrt(Dd) * dp / P;
    else if (o->proj != TTP_PROJ_EXACT)
        p->flops_jac += 2.0 * nc * Dd * dp / P;
    p->flops_gram = s * nc * dp / P;
    if (theta && side == 1) p->flops_gram += nc * nc * dp / P; /* Θ's row blocks besides GᵀG */
    if (direct) /* Lanczos on rank 0: products with Θ, as ttp_predict_path counts them */
        p->flops_eig = 2.0 * nc * nc * (4.0 * k + 40.0);
    else
        p->flops_eig = (k < s ? 4.0 / 3.0 * s * s * s + 2.0 * s * s * k : 5.0 * s * s * s) / P;
    p->flops_sim = in->ensemble > 0 ? 4.0 * (double)in->steps * in->ensemble * nc * k : 0.0;
    p->rate = in->rate > 0 ? in->rate : TTP_PLAN_RATE;
    /* each stage at its own fraction of the DGEMM rate (ttp_kbuild.h) */
    p->sec_jac = p->flops_jac / (p->rate * TTP_PLAN_EFF_JAC);
    p->sec_gram = p->flops_gram / (p->rate * TTP_PLAN_EFF_GRAM);
    p->sec_eig = p->flops_eig / (p->rate * TTP_PLAN_EFF_EIG);
    p->sec_sim = p->flops_sim / (p->rate * TTP_PLAN_EFF_SIM);
    p->sec_total = p->sec_jac + p->sec_gram + p->sec_eig + p->sec_sim;
    p->fits = p->peak_bytes <= p->mem_avail;
}

ttp_status ttp_plan_estimate(ttp_ctx *ctx, const ttp_kernel_opts *opts, const ttp_model *model,
                             const ttp_plan_in *in, ttp_plan *out)
{
    memset(out, 0, sizeof *out);
    if (in->n < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "the plan needs at least one sample (got N = %lld)",
                       (long long)in->n);
    if (in->ranks < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "the plan needs at least one rank (got %d)", in->ranks);
    if (!(opts->mem_per_rank >= 0) || !isfinite(opts->mem_per_rank))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option mem_per_rank: %g bytes, expected a positive size",
                       opts->mem_per_rank);
    ttp_kernel_opts o = *opts;
    const int64_t D = model->ntrainable, C = model->nout;
    ttp_kernel_opts_resolve(&o, D);
    double avail;
    const char *source;
    if (o.mem_per_rank > 0) {
        avail = o.mem_per_rank;
        source = "option mem_per_rank";
    } else {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const int share = cpus > 0 && cpus < in->ranks ? (int)cpus : in->ranks;
        avail = mem_available() / (share > 0 ? share : 1);
        source = "MemAvailable";
    }
    out->mem_avail = avail;
    estimate(&o, D, C, model, in, out);
    out->mem_source = source;
    if (out->fits || avail <= 0) {
        out->fits = 1; /* nothing known to compare with: no refusal */
        return TTP_OK;
    }
    ttp_plan t;
    /* the fewest ranks at this memory per rank */
    for (int64_t P = (int64_t)in->ranks * 2; P <= (int64_t)1 << 20 && P <= in->n; P *= 2) {
        ttp_plan_in i2 = *in;
        i2.ranks = (int)P;
        t.mem_avail = avail;
        estimate(&o, D, C, model, &i2, &t);
        if (t.fits) {
            out->fit_ranks = (int)P;
            break;
        }
    }
    /* the largest D′ (a kron projection when the run was exact) */
    {
        ttp_kernel_opts o2 = o;
        if (o2.proj == TTP_PROJ_EXACT) o2.proj = TTP_PROJ_KRON;
        int64_t dp = 16;
        while (dp * 2 < (out->dproj < D ? out->dproj : D)) dp *= 2;
        for (; dp >= 16 && dp < out->dproj; dp /= 2) {
            o2.dproj = dp;
            t.mem_avail = avail;
            estimate(&o2, D, C, model, in, &t);
            if (t.fits) {
                out->fit_dproj = dp;
                break;
            }
        }
    }
    /* the largest top_k */
    if (o.want_vectors && out->kept > 1) {
        ttp_kernel_opts o2 = o;
        for (int64_t k = out->kept / 2; k >= 1; k /= 2) {
            o2.top_k = k;
            t.mem_avail = avail;
            estimate(&o2, D, C, model, in, &t);
            if (t.fits) {
                out->fit_top_k = k;
                break;
            }
        }
    }
    /* the largest subset */
    for (int64_t n = in->n / 2; n >= in->ranks && n >= 1; n /= 2) {
        ttp_plan_in i2 = *in;
        i2.n = n;
        t.mem_avail = avail;
        estimate(&o, D, C, model, &i2, &t);
        if (t.fits) {
            out->fit_subset = n;
            break;
        }
    }
    return TTP_OK;
}

/* "1.23 GiB" or "45.6 MiB" into a caller's buffer of 32. */
static const char *human(char *buf, double bytes)
{
    if (bytes >= 1073741824.0)
        snprintf(buf, 32, "%.2f GiB", bytes / 1073741824.0);
    else
        snprintf(buf, 32, "%.1f MiB", bytes / 1048576.0);
    return buf;
}

ttp_status ttp_plan_check(ttp_ctx *ctx, const ttp_plan *p)
{
    if (p->fits) return TTP_OK;
    char fix[512] = "";
    size_t u = 0;
#define ADD(...)                                                                                             \
    do {                                                                                                     \
        if (u < sizeof fix) u += (size_t)snprintf(fix + u, sizeof fix - u, __VA_ARGS__);                     \
    } while (0)
    if (p->fit_ranks) ADD("%s%d ranks (mpirun -np %d)", u ? ", or " : "", p->fit_ranks, p->fit_ranks);
    if (p->fit_dproj)
        ADD("%soption dproj %lld%s", u ? ", or " : "", (long long)p->fit_dproj,
            p->dproj == p->d ? " with option proj kron" : "");
    if (p->fit_top_k) ADD("%soption top_k %lld", u ? ", or " : "", (long long)p->fit_top_k);
    if (p->fit_subset) ADD("%soption subset %lld (predict)", u ? ", or " : "", (long long)p->fit_subset);
    char h[11][32];
    const int none = u == 0;
    if (none)
        ADD("the runtime, the model and rank 0's gathered results alone need %s",
            human(h[0], p->base_bytes + p->model_bytes + p->gather_bytes));
#undef ADD
    return TTP_ERR(
        ctx, TTP_ERR_NOMEM,
        "the run needs an estimated %s per rank (runtime %s, model %s, Jacobian rows %s, Gram %s, eigen %s, "
        "Θ's row blocks %s, gathered on rank 0 %s (+ %s while it moves), ensemble %s; N %lld, C %lld, D′ "
        "%lld, "
        "%d rank(s)) but %s is "
        "available per rank (%s); %s %s (see `ttpredict plan`)",
        human(h[0], p->peak_bytes), human(h[8], p->base_bytes), human(h[1], p->model_bytes),
        human(h[2], p->jac_bytes), human(h[3], p->gram_bytes), human(h[4], p->eig_bytes),
        human(h[9], p->work_bytes), human(h[5], p->gather_bytes), human(h[10], p->transit_bytes),
        human(h[6], p->ensemble_bytes), (long long)p->n, (long long)p->c, (long long)p->dproj, p->ranks,
        human(h[7], p->mem_avail), p->mem_source,
        none ? "no more ranks, smaller D′, top-k or subset would fit:" : "it would fit with", fix);
}

double ttp_plan_probe_rate(void)
{
    enum { n = 192 };
    double *a = malloc(sizeof *a * n * n * 3);
    if (a == NULL) return TTP_PLAN_RATE;
    for (int i = 0; i < 3 * n * n; i++) a[i] = (double)(i % 17) * 0.01;
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        const double t0 = ttp_time();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, a + n * n, n, 0.0,
                    a + 2 * n * n, n);
        const double dt = ttp_time() - t0;
        const double rate = dt > 0 ? 2.0 * n * n * n / dt : 0.0;
        if (rate > best) best = rate;
    }
    free(a);
    return best > 0 ? best : TTP_PLAN_RATE;
}

ttp_status ttp_plan_write_json(ttp_ctx *ctx, const char *path, const ttp_plan *p)
{
    ttp_json *j = NULL;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    ttp_json_str(j, "command", "plan");
    ttp_json_int(j, "N", p->n);
    ttp_json_int(j, "C", p->c);
    ttp_json_int(j, "D", p->d);
    ttp_json_int(j, "Dproj", p->dproj);
    ttp_json_int(j, "ranks", p->ranks);
    ttp_json_str(j, "side", p->side == 0 ? "nc" : "dproj");
    ttp_json_int(j, "side_dim", p->dim);
    ttp_json_int(j, "kept", p->kept);
    ttp_json_begin_object(j, "bytes_per_rank");
    ttp_json_num(j, "runtime", p->base_bytes);
    ttp_json_num(j, "model", p->model_bytes);
    ttp_json_num(j, "jacobian", p->jac_bytes);
    ttp_json_num(j, "gram", p->gram_bytes);
    ttp_json_num(j, "eigen", p->eig_bytes);
    ttp_json_num(j, "theta_row_blocks", p->work_bytes);
    ttp_json_num(j, "gathered", p->gather_bytes);
    ttp_json_num(j, "gather_transit", p->transit_bytes);
    ttp_json_num(j, "ensemble", p->ensemble_bytes);
    ttp_json_num(j, "peak", p->peak_bytes);
    ttp_json_end_object(j);
    ttp_json_begin_object(j, "flops_per_rank");
    ttp_json_num(j, "jacobian", p->flops_jac);
    ttp_json_num(j, "gram", p->flops_gram);
    ttp_json_num(j, "eigen", p->flops_eig);
    ttp_json_num(j, "ensemble", p->flops_sim);
    ttp_json_end_object(j);
    ttp_json_begin_object(j, "seconds");
    ttp_json_num(j, "jacobian", p->sec_jac);
    ttp_json_num(j, "gram", p->sec_gram);
    ttp_json_num(j, "eigen", p->sec_eig);
    ttp_json_num(j, "ensemble", p->sec_sim);
    ttp_json_num(j, "total", p->sec_total);
    ttp_json_end_object(j);
    ttp_json_begin_object(j, "efficiency"); /* each stage's share of the rate */
    ttp_json_num(j, "jacobian", TTP_PLAN_EFF_JAC);
    ttp_json_num(j, "gram", TTP_PLAN_EFF_GRAM);
    ttp_json_num(j, "eigen", TTP_PLAN_EFF_EIG);
    ttp_json_num(j, "ensemble", TTP_PLAN_EFF_SIM);
    ttp_json_end_object(j);
    ttp_json_num(j, "rate_flops_per_rank", p->rate);
    ttp_json_num(j, "available_bytes_per_rank", p->mem_avail);
    ttp_json_str(j, "available_from", p->mem_source);
    ttp_json_bool(j, "fits", p->fits);
    ttp_json_int(j, "fit_ranks", p->fit_ranks);
    ttp_json_int(j, "fit_dproj", p->fit_dproj);
    ttp_json_int(j, "fit_top_k", p->fit_top_k);
    ttp_json_int(j, "fit_subset", p->fit_subset);
    return ttp_json_close(ctx, &j);
}
