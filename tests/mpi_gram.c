/*
 * mpi_gram.c — the distributed kernel builder against serial LAPACK.
 *
 * Part 1 (always): synthetic G (NC × D′) distributed by rows, unevenly and
 * evenly.  From both sides and for block sizes 2, 7 and 64 the eigenvalues of
 * G Gᵀ equal LAPACKE_dsyevd on the gathered matrix to 1e-10 relative; top-K
 * (pdsyevr) equals the top K of dsyevd; eigenvectors have small residuals
 * ‖Θv − λv‖; projections p = Vᵀ r agree up to eigenvector signs; Θ gathered
 * equals G Gᵀ; bad block sizes and too many ranks fail clearly.  The D′
 * side's vectors and projections, built from the row shards in panels of
 * eigenvectors of GᵀG, are checked with panels that split unevenly and with
 * more than one panel of 128 (D′ = 150 at one rank).
 * Part 2 (when the engine links): ttp_kernel_build on a small model + data
 * gives the eigenvalues of a serial computation done here (ttp_jac_rows on
 * all samples, then LAPACKE), and the kernel file round-trips.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttp_kbuild.h"
#include "ttp_scalapack.h"
#include "ttp_jac.h"
#include "ttp_mpi.h"
#include "ttp_test.h"

static int g_rank = 0;

/* Synthetic G: Gaussian entries with column j scaled by 1/(1 + j/4), so that
 * the spectrum spreads over ~2 decades but stays well conditioned (errors
 * of a backward-stable solver are then ≤ 1e-13 relative per eigenvalue). */
static double synth(int64_t i, int64_t j, int64_t K)
{
    return ttp_rng_normal(77, (uint64_t)(i * K + j)) / (1.0 + (double)j / 4.0);
}

/* Reference on one rank: Θ = G Gᵀ (M × M), its eigenpairs by dsyevd (ascending). */
static void reference(int M, int K, double *G, double *theta, double *w)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, M, K, 1.0, G, K, G, K, 0.0, theta, M);
    double *z = malloc(sizeof *z * (size_t)M * M);
    memcpy(z, theta, sizeof *z * (size_t)M * M);
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', M, z, M, w);
    CHECK(info == 0);
    memcpy(theta + (size_t)M * M, z, sizeof *z * (size_t)M * M); /* vectors after Θ */
    free(z);
}

typedef struct {
    int M, K, side, nb;
    int64_t topk;
    int even;     /* 1: equal row blocks (G used in place); 0: ttp_shard's uneven split */
    int assembly; /* a ttp_gram_assembly */
} gcase;

/* Gather piece bytes for run_case (0: the default); small values force many pieces. */
static int64_t g_gather = 0;
/* 1: run_case hands G over (ttp_gram_load_owned: adopted, or moved in pieces) */
static int g_owned = 0;

static void run_case(ttp_ctx *ctx, const ttp_comm *comm, gcase c)
{
    const int M = c.M, K = c.K, nrhs = 2;
    double *G = malloc(sizeof *G * (size_t)M * K), *R = malloc(sizeof *R * (size_t)M * nrhs);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < K; j++) G[(size_t)i * K + j] = synth(i, j, K);
        for (int r = 0; r < nrhs; r++) R[(size_t)i * nrhs + r] = ttp_rng_normal(99 + r, (uint64_t)i);
    }
    int64_t lo, hi;
    if (c.even) {
        int64_t mb = (M + comm->size - 1) / comm->size;
        lo = comm->rank * mb < M ? comm->rank * mb : M;
        hi = lo + mb < M ? lo + mb : M;
    } else {
        ttp_shard(M, comm->rank, comm->size, &lo, &hi);
    }
    ttp_gram *g = NULL;
    ttp_gram_result res;
    memset(&res, 0, sizeof res);
    ttp_gram_opts o = {c.topk, 1, 1, c.side, 0.0, c.assembly, g_gather, 0};
    if (g_owned) {
        double *mine = malloc(sizeof *mine * ((size_t)(hi - lo) * K + 1));
        memcpy(mine, G + (size_t)lo * K, sizeof *mine * (size_t)(hi - lo) * K);
        CHECK_OK(ctx, ttp_gram_load_owned(ctx, comm, c.nb, M, K, lo, hi - lo, &mine, nrhs,
                                          R + (size_t)lo * nrhs, &g));
        CHECK(mine == NULL);
    } else {
        CHECK_OK(ctx, ttp_gram_load(ctx, comm, c.nb, M, K, lo, hi - lo, G + (size_t)lo * K, nrhs,
                                    R + (size_t)lo * nrhs, &g));
    }
    if (g) CHECK_OK(ctx, ttp_gram_decompose(ctx, g, &o, &res));
    ttp_gram_destroy(&g);
    /* what formed Θ: the one asked for (AUTO: either of the two defaults; on
     * one rank the ring's single step, in place) */
    if (c.assembly == TTP_GRAM_PDSYRK)
        CHECK(res.assembly == TTP_GRAM_PDSYRK);
    else if (c.assembly == TTP_GRAM_RING || comm->size == 1)
        CHECK(res.assembly == TTP_GRAM_RING);
    else if (c.assembly == TTP_GRAM_SHARED)
        CHECK(res.assembly == TTP_GRAM_SHARED);
    else
        CHECK(res.assembly == TTP_GRAM_SHARED || res.assembly == TTP_GRAM_RING);

    const int rank_g = M < K ? M : K; /* G has full rank min(M, K) */
    const int64_t expect =
        c.topk > 0 && c.topk < (c.side == 0 ? M : K) ? (c.topk < rank_g ? c.topk : rank_g) : rank_g;
    CHECK(res.neig == expect);
    if (res.neig != expect || ctx->code != TTP_OK)
        fprintf(stderr, "case M=%d K=%d side=%d nb=%d topk=%lld even=%d asm=%d: neig %lld expected %lld\n", M,
                K, c.side, c.nb, (long long)c.topk, c.even, c.assembly, (long long)res.neig,
                (long long)expect);
    double fro = 0.0;
    for (size_t i = 0; i < (size_t)M * K; i++) fro += G[i] * G[i];
    CHECK_CLOSE(res.trace, fro, 0.0, 1e-12);

    if (g_rank == 0 && res.eigval != NULL && res.neig == expect) {
        double *ref = malloc(sizeof *ref * 2 * (size_t)M * M), *w = malloc(sizeof *w * (size_t)M);
        reference(M, K, G, ref, w);
        const double *Vr = ref + (size_t)M * M, lmax = w[M - 1];
        int bad = 0;
        for (int64_t k = 0; k < res.neig; k++) {
            const double lr = w[M - 1 - k];
            if (!(fabs(res.eigval[k] - lr) <= 1e-10 * fabs(lr) + 1e-13 * lmax)) bad++;
        }
        if (bad)
            fprintf(stderr, "case M=%d K=%d side=%d nb=%d topk=%lld even=%d: %d eigenvalues off\n", M, K,
                    c.side, c.nb, (long long)c.topk, c.even, bad);
        CHECK(bad == 0);
        /* Θ gathered equals G Gᵀ. */
        double tmax = 0.0;
        for (size_t i = 0; i < (size_t)M * M; i++) {
            double e = fabs(res.theta[i] - ref[i]);
            if (e > tmax) tmax = e;
        }
        CHECK(tmax <= 1e-12 * lmax);
        /* Eigenvectors: ‖Θv − λv‖ ≤ 1e-11·λmax, ‖v‖ = 1. */
        double rmax = 0.0, nerr = 0.0;
        for (int64_t k = 0; k < res.neig; k++) {
            double r2 = 0.0, n2 = 0.0;
            for (int i = 0; i < M; i++) {
                double tv = 0.0;
                for (int j = 0; j < M; j++)
                    tv += ref[(size_t)i * M + j] * res.eigvec[(size_t)j * res.neig + k];
                double e = tv - res.eigval[k] * res.eigvec[(size_t)i * res.neig + k];
                r2 += e * e;
                n2 += res.eigvec[(size_t)i * res.neig + k] * res.eigvec[(size_t)i * res.neig + k];
            }
            if (sqrt(r2) > rmax) rmax = sqrt(r2);
            if (fabs(n2 - 1.0) > nerr) nerr = fabs(n2 - 1.0);
        }
        CHECK(rmax <= 1e-11 * lmax);
        if (rmax > 1e-11 * lmax)
            fprintf(stderr, "case M=%d K=%d side=%d nb=%d topk=%lld even=%d: residual %g, norm err %g\n", M,
                    K, c.side, c.nb, (long long)c.topk, c.even, rmax / lmax, nerr);
        CHECK(nerr <= 1e-10);
        /* Projections against the reference vectors: |p_k| (signs are free;
         * the eigenvalues of random G are simple). */
        double perr = 0.0, rn = 0.0;
        for (int r = 0; r < nrhs; r++) {
            for (int i = 0; i < M; i++) rn += R[(size_t)i * nrhs + r] * R[(size_t)i * nrhs + r];
            for (int64_t k = 0; k < res.neig; k++) {
                double pr = 0.0;
                for (int i = 0; i < M; i++) pr += Vr[(size_t)i * M + (M - 1 - k)] * R[(size_t)i * nrhs + r];
                double e = fabs(fabs(res.proj[(size_t)r * res.neig + k]) - fabs(pr));
                if (e > perr) perr = e;
            }
        }
        CHECK(perr <= 1e-8 * sqrt(rn));
        free(ref);
        free(w);
    }
    ttp_gram_result_clear(&res);
    free(G);
    free(R);
}

static void bad_inputs(ttp_ctx *ctx, const ttp_comm *comm)
{
    double G[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ttp_gram *g = NULL;
    CHECK_FAILS(ctx, ttp_gram_load(ctx, comm, 0, 4, 2, 0, 0, G, 0, NULL, &g), TTP_ERR_ARG, "block size 0");
    CHECK_FAILS(ctx, ttp_gram_load(ctx, comm, 1 << 20, 4, 2, 0, 0, G, 0, NULL, &g), TTP_ERR_ARG,
                "out of range");
    CHECK(g == NULL);
    if (comm->size > 1) {
        /* one row for P ranks: rank 0 holds it, the others nothing */
        CHECK_FAILS(ctx,
                    ttp_gram_load(ctx, comm, 4, 1, 2, comm->rank == 0 ? 0 : 1, comm->rank == 0 ? 1 : 0, G, 0,
                                  NULL, &g),
                    TTP_ERR_ARG, "more ranks");
        /* overlapping shards: every rank claims rows [0, 1) */
        CHECK_FAILS(ctx, ttp_gram_load(ctx, comm, 4, 8, 1, 0, 1, G, 0, NULL, &g), TTP_ERR_ARG,
                    "not contiguous");
    }
    CHECK(g == NULL);
    /* an assembly that does not exist, after a valid load */
    int64_t lo, hi;
    ttp_shard(8, comm->rank, comm->size, &lo, &hi);
    CHECK_OK(ctx, ttp_gram_load(ctx, comm, 2, 8, 1, lo, hi - lo, G + lo, 0, NULL, &g));
    if (g) {
        ttp_gram_result res;
        ttp_gram_opts o = {0, 0, 0, 0, 0.0, 9, 0, 0};
        CHECK_FAILS(ctx, ttp_gram_decompose(ctx, g, &o, &res), TTP_ERR_ARG, "assembly 9");
        ttp_gram_destroy(&g);
    }
}

/* ---- part 2: the whole kernel stage against a serial computation ------- */

/* dense(4→6) → relu → dense(6→3): D = 51, every layer trainable. */
static ttp_model *small_model(ttp_ctx *ctx)
{
    const int64_t in[3] = {4, 1, 1};
    ttp_model *m = NULL;
    ttp_layer L;
    CHECK_OK(ctx, ttp_model_create(ctx, in, &m));
    if (m == NULL) return NULL;
    memset(&L, 0, sizeof L);
    L.kind = TTP_LAYER_DENSE, L.input[0] = -1, L.input[1] = -1, L.units = 6, L.trainable = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    memset(&L, 0, sizeof L);
    L.kind = TTP_LAYER_RELU, L.input[0] = 0, L.input[1] = -1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    memset(&L, 0, sizeof L);
    L.kind = TTP_LAYER_DENSE, L.input[0] = 1, L.input[1] = -1, L.units = 3, L.trainable = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    ttp_model_init_weights(m, 11, 0);
    return m;
}

static ttp_data *small_data(ttp_ctx *ctx, int64_t n, int64_t feat)
{
    const int64_t shape[1] = {feat};
    ttp_data *d = NULL;
    CHECK_OK(ctx, ttp_data_create(ctx, n, 1, shape, 3, &d));
    if (d == NULL) return NULL;
    for (int64_t i = 0; i < n * feat; i++) d->x[i] = ttp_rng_normal(21, (uint64_t)i);
    for (int64_t i = 0; i < n; i++) d->y[i] = (int)(i % 3);
    return d;
}

/* Serial reference: G from ttp_jac_rows on every sample, Θ, dsyevd. */
static void serial_kernel(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, const ttp_kernel_opts *o,
                          int64_t *dim, double **G, double **f0, double **w, double **V)
{
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    const int64_t N = d->n, C = m->nout, NC = N * C;
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, o->proj, o->dproj, o->proj_seed, "cpu", &plan));
    CHECK_OK(ctx, ttp_net_create(ctx, m, C, &net));
    const int64_t K = plan ? ttp_jac_plan_dim(plan) : 1;
    *dim = K;
    *G = calloc((size_t)(NC * K), sizeof **G);
    *f0 = calloc((size_t)NC, sizeof **f0);
    *w = calloc((size_t)NC, sizeof **w);
    *V = calloc((size_t)(NC * NC), sizeof **V);
    if (plan && net) CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, d->x, N, *G, *f0, NULL));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)NC, (int)NC, (int)K, 1.0, *G, (int)K, *G,
                (int)K, 0.0, *V, (int)NC);
    CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', (int)NC, *V, (int)NC, *w) == 0);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
}

static void kernel_case(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                        ttp_proj_kind proj, int64_t dproj, int side, int64_t topk, int roundtrip)
{
    ttp_kernel_opts o;
    ttp_kernel_opts_default(&o);
    o.proj = proj, o.dproj = dproj, o.proj_seed = 5, o.backend = "cpu", o.block = 4, o.side = side;
    o.top_k = topk, o.want_vectors = 1, o.want_theta = 1;
    o.model_path = "small-model", o.data_path = "small-data";
    ttp_kernel *k = NULL;
    CHECK_OK(ctx, ttp_kernel_build(ctx, comm, m, d, &o, &k));
    if (k == NULL) return;
    CHECK(k->nranks == comm->size);
    CHECK(k->n == d->n && k->c == m->nout && k->d == m->ntrainable);
    if (comm->rank != 0) {
        CHECK(k->eigval == NULL && k->f0 == NULL);
        ttp_kernel_destroy(&k);
        return;
    }
    const int64_t N = d->n, C = m->nout, NC = N * C;
    int64_t K = 0;
    double *G = NULL, *f0 = NULL, *w = NULL, *V = NULL;
    serial_kernel(ctx, m, d, &o, &K, &G, &f0, &w, &V);
    CHECK(k->dproj == K);
    const int64_t rank_g = NC < K ? NC : K, expect = topk > 0 && topk < rank_g ? topk : rank_g;
    CHECK(k->neig == expect);
    const double lmax = w[NC - 1];
    double fro = 0.0;
    for (int64_t i = 0; i < NC * K; i++) fro += G[i] * G[i];
    CHECK_CLOSE(k->trace, fro, 0.0, 1e-12);
    for (int64_t i = 0; i < NC; i++) CHECK_CLOSE(k->f0[i], f0[i], 1e-14, 1e-12);
    int bad = 0;
    double perr = 0.0, res2 = 0.0;
    for (int64_t j = 0; j < NC; j++) {
        double r = f0[j] - (d->y[j / C] == j % C ? 1.0 : 0.0);
        res2 += r * r;
    }
    CHECK_CLOSE(k->res_energy, res2, 0.0, 1e-12);
    for (int64_t q = 0; q < k->neig && q < NC; q++) {
        if (!(fabs(k->eigval[q] - w[NC - 1 - q]) <= 1e-10 * w[NC - 1 - q] + 1e-13 * lmax)) bad++;
        double pr = 0.0;
        for (int64_t j = 0; j < NC; j++)
            pr += V[j * NC + (NC - 1 - q)] * (f0[j] - (d->y[j / C] == j % C ? 1.0 : 0.0));
        if (fabs(fabs(k->p_res[q]) - fabs(pr)) > perr) perr = fabs(fabs(k->p_res[q]) - fabs(pr));
    }
    if (bad) fprintf(stderr, "kernel case proj %d side %d: %d eigenvalues off\n", (int)proj, side, bad);
    CHECK(bad == 0);
    CHECK(perr <= 1e-8 * sqrt(res2));
    CHECK(k->p_grad != NULL && k->grad_energy > 0);
    /* Θ as gathered equals G Gᵀ of the serial rows. */
    double terr = 0.0;
    for (int64_t i = 0; i < NC; i++)
        for (int64_t j = 0; j < NC; j++) {
            double t = 0.0;
            for (int64_t c = 0; c < K; c++) t += G[i * K + c] * G[j * K + c];
            if (fabs(k->theta[i * NC + j] - t) > terr) terr = fabs(k->theta[i * NC + j] - t);
        }
    CHECK(terr <= 1e-12 * lmax);

    if (roundtrip) {
        char path[256];
        snprintf(path, sizeof path, "mpi_gram_kernel_%ld.nc", (long)getpid());
        ttp_kernel *r = NULL;
        CHECK_OK(ctx, ttp_kernel_write(ctx, path, k));
        CHECK_OK(ctx, ttp_kernel_read(ctx, path, &r));
        if (r) {
            CHECK(r->n == k->n && r->c == k->c && r->d == k->d && r->dproj == k->dproj && r->proj == k->proj);
            CHECK(r->seed == k->seed && r->side == k->side && r->neig == k->neig && r->nranks == k->nranks);
            CHECK(r->model_fp == k->model_fp && r->data_fp == k->data_fp &&
                  r->peak_rss_max == k->peak_rss_max);
            CHECK(strcmp(r->model_path, "small-model") == 0 && strcmp(r->backend, k->backend) == 0);
            CHECK(r->trace == k->trace && r->res_energy == k->res_energy && r->sec_total == k->sec_total);
            CHECK(memcmp(r->eigval, k->eigval, sizeof *r->eigval * (size_t)k->neig) == 0);
            CHECK(memcmp(r->p_res, k->p_res, sizeof *r->p_res * (size_t)k->neig) == 0);
            CHECK(r->p_grad && memcmp(r->p_grad, k->p_grad, sizeof *r->p_grad * (size_t)k->neig) == 0);
            CHECK(r->eigvec && memcmp(r->eigvec, k->eigvec, sizeof *r->eigvec * (size_t)(NC * k->neig)) == 0);
            CHECK(r->theta && memcmp(r->theta, k->theta, sizeof *r->theta * (size_t)(NC * NC)) == 0);
            CHECK(memcmp(r->f0, k->f0, sizeof *r->f0 * (size_t)NC) == 0);
            CHECK(r->labels && memcmp(r->labels, d->y, sizeof *r->labels * (size_t)N) == 0);
            /* provenance: the same model and data pass; a changed weight or sample fails */
            CHECK_OK(ctx, ttp_kernel_check_provenance(ctx, r, m, d));
            ttp_model *m2 = NULL;
            CHECK_OK(ctx, ttp_model_clone(ctx, m, &m2));
            if (m2) {
                m2->w[0] += 1e-3;
                CHECK_FAILS(ctx, ttp_kernel_check_provenance(ctx, r, m2, d), TTP_ERR_ARG, "another model");
                ttp_model_destroy(&m2);
            }
            ttp_data *d2 = small_data(ctx, d->n, 4);
            if (d2) {
                d2->x[3] += 1e-3;
                CHECK_FAILS(ctx, ttp_kernel_check_provenance(ctx, r, m, d2), TTP_ERR_ARG, "another dataset");
                ttp_data_destroy(&d2);
            }
            ttp_kernel_destroy(&r);
        }
        /* the dynamics need a residual for every output: a kernel file with
         * neither labels nor targets, or with targets narrower than the
         * outputs, is refused when read (not dereferenced later) */
        if (k->labels && k->c > 1) {
            int *lab = k->labels;
            double *tg = calloc((size_t)N, sizeof *tg);
            k->labels = NULL;
            CHECK_OK(ctx, ttp_kernel_write(ctx, path, k));
            CHECK_FAILS(ctx, ttp_kernel_read(ctx, path, &r), TTP_ERR_FORMAT, "neither labels nor targets");
            k->targets = tg, k->ntargets = 1;
            CHECK_OK(ctx, ttp_kernel_write(ctx, path, k));
            CHECK_FAILS(ctx, ttp_kernel_read(ctx, path, &r), TTP_ERR_FORMAT, "targets have 1 column(s)");
            k->targets = NULL, k->ntargets = 0;
            k->labels = lab;
            free(tg);
        }
        /* reading errors name the file */
        CHECK_FAILS(ctx, ttp_kernel_read(ctx, "no-such-kernel.nc", &r), TTP_ERR_IO, "no-such-kernel.nc");
        FILE *f = fopen(path, "w");
        if (f) {
            fputs("not netcdf", f);
            fclose(f);
        }
        CHECK_FAILS(ctx, ttp_kernel_read(ctx, path, &r), TTP_ERR_FORMAT, "not a NetCDF file");
        remove(path);
    }
    free(G);
    free(f0);
    free(w);
    free(V);
    ttp_kernel_destroy(&k);
}

static void kernel_tests(ttp_ctx *ctx, const ttp_comm *comm)
{
    ttp_model *m = small_model(ctx);
    ttp_data *d = small_data(ctx, 12, 4); /* N·C = 36 rows, D = 51 */
    if (m == NULL || d == NULL) goto done;
    kernel_case(ctx, comm, m, d, TTP_PROJ_EXACT, 0, -1, 0, 1);       /* NC side (36 < 51) */
    kernel_case(ctx, comm, m, d, TTP_PROJ_EXACT, 0, 1, 0, 0);        /* D′ side forced      */
    kernel_case(ctx, comm, m, d, TTP_PROJ_RADEMACHER, 16, -1, 0, 0); /* D′ side (16 < 36)   */
    kernel_case(ctx, comm, m, d, TTP_PROJ_GAUSSIAN, 20, 0, 6, 0);    /* top-6, NC side      */

    /* bad input is refused before any heavy work, with what was wrong */
    ttp_kernel *k = NULL;
    ttp_kernel_opts o;
    ttp_kernel_opts_default(&o);
    o.backend = "cpu";
    o.proj = TTP_PROJ_RADEMACHER, o.dproj = 0;
    CHECK_FAILS(ctx, ttp_kernel_build(ctx, comm, m, d, &o, &k), TTP_ERR_ARG, "D′ = 0");
    o.dproj = 52;
    CHECK_FAILS(ctx, ttp_kernel_build(ctx, comm, m, d, &o, &k), TTP_ERR_ARG, "exceeds the model's D = 51");
    ttp_kernel_opts_default(&o);
    o.block = -3;
    CHECK_FAILS(ctx, ttp_kernel_build(ctx, comm, m, d, &o, &k), TTP_ERR_ARG, "block size -3");
    ttp_kernel_opts_default(&o);
    ttp_data *wrong = small_data(ctx, 12, 5);
    if (wrong) CHECK_FAILS(ctx, ttp_kernel_build(ctx, comm, m, wrong, &o, &k), TTP_ERR_ARG, "accepts inputs");
    ttp_data_destroy(&wrong);
    if (comm->size > 1) {
        ttp_data *tiny = small_data(ctx, 1, 4);
        if (tiny) CHECK_FAILS(ctx, ttp_kernel_build(ctx, comm, m, tiny, &o, &k), TTP_ERR_ARG, "more ranks");
        ttp_data_destroy(&tiny);
    }
    CHECK(k == NULL);
done:
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI init: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    g_rank = comm.rank;

    /* SHARED where every rank is on one node, as in CI */
    MPI_Comm node;
    int nnode = 0;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &nnode);
    MPI_Comm_free(&node);
    const int nas = nnode == comm.size ? 4 : 3;
    const int nbs[3] = {2, 7, 64};
    for (int b = 0; b < 3; b++) {
        for (int side = 0; side <= 1; side++)
            for (int as = 0; as < nas; as++) {
                run_case(&ctx, &comm, (gcase){30, 13, side, nbs[b], 0, 0, as}); /* NC > D′ */
                run_case(&ctx, &comm, (gcase){14, 33, side, nbs[b], 0, 1, as}); /* NC < D′ */
            }
    }
    /* auto side, top-K through pdsyevr on both sides */
    run_case(&ctx, &comm, (gcase){30, 13, -1, 7, 0, 1, 0});
    run_case(&ctx, &comm, (gcase){30, 13, 0, 4, 5, 0, 0});
    run_case(&ctx, &comm, (gcase){30, 13, 1, 4, 5, 0, 0});
    run_case(&ctx, &comm, (gcase){14, 33, 1, 3, 6, 0, 0});
    /* ragged shapes for the ring: rows not a multiple of P, a rank with no rows */
    run_case(&ctx, &comm, (gcase){5, 9, 0, 2, 0, 0, 0});
    run_case(&ctx, &comm, (gcase){7, 3, 1, 2, 0, 1, 0});
    run_case(&ctx, &comm, (gcase){23, 40, 0, 3, 0, 1, 0});
    /* several of node_nc's chunks of 256 rows per rank, uneven shards, both
     * assemblies of the NC side */
    run_case(&ctx, &comm, (gcase){1100, 24, 0, 32, 0, 0, TTP_GRAM_AUTO});
    run_case(&ctx, &comm, (gcase){1100, 24, 0, 32, 0, 0, TTP_GRAM_RING});
    /* D′ side past one panel of 128 eigenvectors of GᵀG (dp_project), uneven shards */
    run_case(&ctx, &comm, (gcase){300, 150, 1, 16, 0, 0, 0});
    /* Θ and the eigenvectors gathered to rank 0 in column pieces (below
     * ScaLAPACK's 32-bit buffer sizes): 3 columns of 30 a piece, the last
     * piece short; both sides, every assembly. */
    for (int side = 0; side <= 1; side++) {
        g_gather = 3 * 30 * 8;
        run_case(&ctx, &comm, (gcase){30, 13, side, 4, 0, 0, TTP_GRAM_RING});
        run_case(&ctx, &comm, (gcase){30, 13, side, 4, 0, 1, TTP_GRAM_PDSYRK});
        g_gather = 14 * 8;
        run_case(&ctx, &comm, (gcase){14, 33, side, 3, 0, 0, TTP_GRAM_AUTO});
    }
    g_gather = 0;
    /* G handed over: adopted in place (even shards off a shared window) or
     * moved in pieces (uneven; shared windows), every assembly */
    g_owned = 1;
    for (int as = 0; as < nas; as++) {
        run_case(&ctx, &comm, (gcase){30, 13, 0, 4, 0, 0, as});
        run_case(&ctx, &comm, (gcase){30, 13, 1, 4, 0, 1, as});
        run_case(&ctx, &comm, (gcase){14, 33, -1, 3, 0, 0, as});
    }
    g_owned = 0;
    bad_inputs(&ctx, &comm);
    kernel_tests(&ctx, &comm);

    int rc = ttp_test_end("mpi_gram");
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    ttp_mpi_finalize();
    return all;
}
