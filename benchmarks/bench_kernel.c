/*
 * bench_kernel.c — costs of the kernel stage (docs/large-n.md), run as
 *   mpirun -np 1 build/benchmarks/bench_kernel [options]
 *   mpirun -np 2 build/benchmarks/bench_kernel [options] --t1 <total seconds at 1 rank>
 *
 *  1. assembly: flop rate of the distributed Gram SYRK (NC²·D′ flops) per
 *     rank, against this machine's own cblas_dgemm rate measured in the same
 *     run, one DGEMM per rank at the same time (target ratio ≥ 0.8);
 *  2. eigen-decomposition of the same NC × NC Θ at P ranks (pdsyevd) against
 *     LAPACKE_dsyevd on one core;
 *  3. the whole kernel stage (ttp_kernel_build: Jacobian, Gram, eigen) on the
 *     bundled model and data, seconds per stage; with --t1 (or env
 *     TTP_BENCH_T1) the strong-scaling efficiency t1 / (P · tP);
 *  4. peak memory per rank next to the design's model
 *     8·(2·NC·D′/P + 5·n²/P) bytes + the process baseline;
 *  5. the same for the D′ side (synthetic G of --dnc rows × D′, uneven
 *     shards, 2 projected vectors, eigenvectors of Θ gathered on rank 0),
 *     with n = D′ and, on rank 0, the gathered NC × D′ vectors added.
 *
 * Options: --nc NC (default 1536) --dproj D′ (default 1024) --block NB (64)
 *          --model M --data D (default: the bundled task) --proj/--kdproj for
 *          stage 3 (default exact) --t1 SECONDS --skip-build
 *          --assembly auto|shared|ring|pdsyrk (stages 1-2; default auto:
 *          shared on one node)
 *          --dnc NC (stage 5, default 4096; 0 skips it)
 *          --reps R (stages 1-2: the best of R runs, and the first, default 1)
 */
#include <cblas.h>
#include <lapacke.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_kbuild.h"
#include "ttp_onnx.h"
#include "ttp_scalapack.h"
#include "ttp_mpi.h"

#ifndef TTP_DATA_DIR
#define TTP_DATA_DIR "data"
#endif

static double dgemm_rate(void)
{
    /* One core, square sizes like the SYRK's blocks: the best of 3. */
    const int n = 768;
    double *a = malloc(sizeof *a * n * n), *b = malloc(sizeof *b * n * n), *c = malloc(sizeof *c * n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = ttp_rng_normal(1, (uint64_t)i);
        b[i] = ttp_rng_normal(2, (uint64_t)i);
    }
    double best = 1e300;
    for (int r = 0; r < 3; r++) {
        double t = ttp_time();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        t = ttp_time() - t;
        if (t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * (double)n * n / best;
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

static void die(ttp_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_kernel: %s: %s\n%s", what, ctx->msg, ctx->trace);
    ttp_mpi_abort(1);
}

/* Restart the peak-RSS count from the current RSS (Linux ≥ 4.0: writing 5 to
 * clear_refs resets the high-water mark that getrusage reports), so that a
 * later stage's peak is not hidden by an earlier, larger one.  The heap the
 * earlier stages freed goes back to the system first (glibc's malloc_trim):
 * kept, it would count in the new baseline and be reused unseen.  Returns 0
 * when the kernel refuses. */
static int reset_peak_rss(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    const int P = comm.size, rank = comm.rank;
    const int NC = atoi(arg(argc, argv, "--nc", "1536"));
    const int K = atoi(arg(argc, argv, "--dproj", "1024"));
    const int nb = atoi(arg(argc, argv, "--block", "64"));
    const char *t1s = arg(argc, argv, "--t1", getenv("TTP_BENCH_T1"));
    int nprow, npcol;
    ttp_gram_grid_shape(P, &nprow, &npcol);
    const int64_t rss0 = ttp_peak_rss();

    if (rank == 0)
        printf("bench_kernel: %d rank(s), grid %d x %d, block %d, OPENBLAS_NUM_THREADS=%s\n", P, nprow, npcol,
               nb, getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "(unset)");

    /* ---- 1 + 2: synthetic G, NC side -------------------------------------- */
    /* DGEMM on every rank at once: the per-core rate when all P cores are
     * busy (shared caches and memory bandwidth), the fair yardstick. */
    int64_t lo, hi;
    ttp_shard(NC, rank, P, &lo, &hi);
    double *G = malloc(sizeof *G * (size_t)(hi - lo) * K);
    for (int64_t i = lo; i < hi; i++)
        for (int j = 0; j < K; j++) G[(size_t)(i - lo) * K + j] = ttp_rng_normal(5, (uint64_t)(i * K + j));
    ttp_gram *g = NULL;
    ttp_gram_result res;
    MPI_Barrier(world);
    double t_load = ttp_time();
    if (ttp_gram_load(&ctx, &comm, nb, NC, K, lo, hi - lo, G, 0, NULL, &g) != TTP_OK) die(&ctx, "load");
    t_load = ttp_time() - t_load;
    free(G);
    /* all pairs, NC side (Θ is NC × NC); --assembly pdsyrk for PBLAS's SYRK */
    ttp_gram_assembly how = TTP_GRAM_AUTO;
    if (ttp_gram_assembly_parse(&ctx, arg(argc, argv, "--assembly", "auto"), &how) != TTP_OK)
        die(&ctx, "--assembly");
    ttp_gram_opts o = {0, 0, 0, 0, 0.0, how, 0, 0};
    /* --reps R: the best of R runs of both the yardstick and the stage (the
     * maximum over ranks each time), for a machine shared with other work */
    const int reps = atoi(arg(argc, argv, "--reps", "1")) > 1 ? atoi(arg(argc, argv, "--reps", "1")) : 1;
    double rate = 0.0, sec[3] = {1e300, 1e300, 1e300}, rate1 = 0.0, first = 0.0;
    memset(&res, 0, sizeof res);
    for (int it = 0; it < reps; it++) {
        MPI_Barrier(world);
        double rt = dgemm_rate();
        MPI_Allreduce(MPI_IN_PLACE, &rt, 1, MPI_DOUBLE, MPI_SUM, world);
        if (rt / P > rate) rate = rt / P;
        ttp_gram_result_clear(&res);
        MPI_Barrier(world);
        if (ttp_gram_decompose(&ctx, g, &o, &res) != TTP_OK) die(&ctx, "decompose");
        double s3[3] = {res.sec_gram, res.sec_eig, res.sec_assemble};
        MPI_Allreduce(MPI_IN_PLACE, s3, 3, MPI_DOUBLE, MPI_MAX, world);
        if (it ==
            0) { /* the first run on the handle: its pages mapped for the first time, as in a real run */
            rate1 = rt / P;
            first = s3[2];
        }
        for (int i = 0; i < 3; i++)
            if (s3[i] < sec[i]) sec[i] = s3[i];
    }
    ttp_gram_destroy(&g);
    int64_t rss_gram = ttp_peak_rss();
    MPI_Allreduce(MPI_IN_PLACE, &rss_gram, 1, MPI_INT64_T, MPI_MAX, world);
    const double flops = (double)NC * NC * K; /* SYRK: n(n+1)k ≈ n²k */
    if (rank == 0) {
        double per_rank = flops / sec[2] / P;
        printf(
            "\n[1] Gram assembly  NC %d, D' %d (%s, best of %d): SYRK/GEMM work %.3f s = %.2f GF/s in all, "
            "%.2f GF/s per rank\n",
            NC, K,
            res.assembly == TTP_GRAM_PDSYRK   ? "PBLAS pdsyrk"
            : res.assembly == TTP_GRAM_SHARED ? "DSYRK/DGEMM tasks in node-shared memory"
                                              : "ring of DSYRK/DGEMM",
            reps, sec[2], flops / sec[2] * 1e-9, per_rank * 1e-9);
        printf("    cblas_dgemm per core, all %d rank(s) at once (n = 768): %.2f GF/s;  ratio per rank / "
               "dgemm = "
               "%.2f (target >= 0.8)\n",
               P, rate * 1e-9, per_rank / rate);
        if (reps > 1)
            printf("    first of the %d runs (its buffers and windows touched for the first time): %.3f s, "
                   "ratio %.2f\n",
                   reps, first, flops / first / P / rate1);
        printf("    whole Gram stage incl. redistribution into nb x nb blocks: %.3f s (%.2f of DGEMM per "
               "rank)\n",
               sec[0], flops / sec[0] / P / rate);
        printf("    redistribution of G (Cpdgemr2d): %.3f s\n", t_load);
    }
    /* one-core reference eigen-decomposition of the same Θ (rank 0) */
    if (rank == 0) {
        double *th = malloc(sizeof *th * (size_t)NC * NC), *w = malloc(sizeof *w * NC);
        double *Gf = malloc(sizeof *Gf * (size_t)NC * K);
        for (int64_t i = 0; i < NC; i++)
            for (int j = 0; j < K; j++) Gf[(size_t)i * K + j] = ttp_rng_normal(5, (uint64_t)(i * K + j));
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, NC, K, 1.0, Gf, K, 0.0, th, NC);
        free(Gf);
        double t = ttp_time();
        int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', NC, th, NC, w);
        t = ttp_time() - t;
        double err = 0.0;
        for (int64_t k = 0; k < res.neig; k++) {
            double e = fabs(res.eigval[k] - w[NC - 1 - k]) / w[NC - 1];
            if (e > err) err = e;
        }
        printf("\n[2] eigen-decomposition of the %d x %d Θ (all pairs, vectors):\n", NC, NC);
        printf("    pdsyevd at %d rank(s): %.3f s;  LAPACKE_dsyevd on one core: %.3f s (info %d);  "
               "speed-up %.2f;  max |Δλ|/λmax %.1e\n",
               P, sec[1], t, info, t / sec[1], err);
        free(th);
        free(w);
    }
    ttp_gram_result_clear(&res);

    /* ---- 4 (Gram part): measured peak vs the design's model --------------- */
    if (rank == 0) {
        /* NC side with the ring: G's rows twice (the caller's shard and the
         * equal-block copy) + Θ's row block, C, Z and pdsyevd's workspace
         * (≈ 2n²/P) */
        const double n = NC; /* stages 1-2 decompose the NC side */
        double model = 8.0 * (2.0 * NC * (double)K / P + 5.0 * n * n / P);
        printf("\n[4] peak memory per rank after the Gram stage and pdsyevd (max over ranks): %.1f MiB;  "
               "baseline at start %.1f MiB;\n"
               "    model O((NC·D' + n²)/P) = 8·(2·NC·D'/P + 5·n²/P) bytes = %.1f MiB  (+ baseline = %.1f "
               "MiB)\n",
               rss_gram / 1048576.0, rss0 / 1048576.0, model / 1048576.0, (model + rss0) / 1048576.0);
    }

    /* ---- 3: the whole kernel stage on a real model ------------------------ */
    if (!flag(argc, argv, "--skip-build")) {
        char mdef[2048], ddef[2048];
        const char *dd = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : TTP_DATA_DIR;
        snprintf(mdef, sizeof mdef, "%s/default-model.nc", dd);
        snprintf(ddef, sizeof ddef, "%s/default-data.nc", dd);
        const char *mp = arg(argc, argv, "--model", mdef), *dp = arg(argc, argv, "--data", ddef);
        ttp_model *m = NULL;
        ttp_data *d = NULL;
        ttp_kernel *k = NULL;
        ttp_kernel_opts ko;
        ttp_kernel_opts_default(&ko);
        ko.block = nb;
        ko.backend = "cpu";
        ko.proj_seed = 0; /* the seed the recorded numbers were measured with */
        if (ttp_proj_kind_parse(&ctx, arg(argc, argv, "--proj", "exact"), &ko.proj) != TTP_OK)
            die(&ctx, "--proj");
        ko.dproj = atoll(arg(argc, argv, "--kdproj", "0"));
        if (ttp_model_load(&ctx, mp, &m) != TTP_OK) die(&ctx, "model");
        if (ttp_data_read(&ctx, dp, &d) != TTP_OK) die(&ctx, "data");
        MPI_Barrier(world);
        double t = ttp_time();
        if (ttp_kernel_build(&ctx, &comm, m, d, &ko, &k) != TTP_OK) die(&ctx, "kernel build");
        t = ttp_time() - t;
        if (rank == 0) {
            const int64_t NCk = k->n * k->c, n = k->side == 0 ? NCk : k->dproj;
            printf("\n[3] kernel stage on %s + %s: N %lld, C %d, D %lld, D' %lld (%s), side %s\n", mp, dp,
                   (long long)k->n, k->c, (long long)k->d, (long long)k->dproj, ttp_proj_kind_str(k->proj),
                   k->side == 0 ? "NC" : "D'");
            printf(
                "    seconds: jacobian %.3f  gram %.3f  eigen %.3f  total %.3f (wall %.3f) at %d rank(s)\n",
                k->sec_jac, k->sec_gram, k->sec_eig, k->sec_total, t, P);
            if (t1s) {
                double t1 = atof(t1s);
                printf("    strong scaling from 1 rank (t1 = %.3f s): speed-up %.2f, efficiency %.2f\n", t1,
                       t1 / k->sec_total, t1 / (P * k->sec_total));
            } else {
                printf("    (give --t1 <total at 1 rank> or TTP_BENCH_T1 for the scaling efficiency)\n");
            }
            double model =
                8.0 * (2.0 * NCk * (double)k->dproj / P + 5.0 * (double)n * n / P) + 8.0 * (double)m->nparams;
            printf(
                "[4] peak memory per rank (max, whole run so far): %.1f MiB;  model 8·(2·NC·D'/P + 5·n²/P + "
                "params) = %.1f MiB + baseline %.1f MiB\n",
                k->peak_rss_max / 1048576.0, model / 1048576.0, rss0 / 1048576.0);
        }
        ttp_kernel_destroy(&k);
        ttp_model_destroy(&m);
        ttp_data_destroy(&d);
    }

    /* ---- 5: D′-side peak memory --------------------------------------------- */
    const int NCd = atoi(arg(argc, argv, "--dnc", "4096"));
    if (NCd > 0) {
        const int nrhs = 2;
        ttp_shard(NCd, rank, P, &lo, &hi);
        const size_t nl = (size_t)(hi - lo);
        /* the baseline is what this process holds now, before the caller's rows */
        int ok = reset_peak_rss();
        MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, world);
        int64_t base = ttp_peak_rss();
        double *Gd = malloc(sizeof *Gd * nl * K), *Rd = malloc(sizeof *Rd * nl * nrhs);
        if (Gd == NULL || Rd == NULL) {
            fprintf(stderr, "bench_kernel: out of memory for the D' stage\n");
            ttp_mpi_abort(1);
        }
        for (int64_t i = lo; i < hi; i++) {
            for (int j = 0; j < K; j++)
                Gd[(size_t)(i - lo) * K + j] = ttp_rng_normal(6, (uint64_t)(i * K + j)) / (1.0 + j / 64.0);
            for (int r = 0; r < nrhs; r++)
                Rd[(size_t)(i - lo) * nrhs + r] = ttp_rng_normal(7 + r, (uint64_t)i);
        }
        MPI_Barrier(world);
        double t = ttp_time();
        /* the caller's rows stay alive through the decomposition, as in ttp_kernel_build */
        if (ttp_gram_load(&ctx, &comm, nb, NCd, K, lo, hi - lo, Gd, nrhs, Rd, &g) != TTP_OK)
            die(&ctx, "load (D')");
        ttp_gram_opts od = {0, 1, 0, 1, 0.0, 0, 0, 0};
        if (ttp_gram_decompose(&ctx, g, &od, &res) != TTP_OK) die(&ctx, "decompose (D')");
        t = ttp_time() - t;
        ttp_gram_destroy(&g);
        const int64_t neig = res.neig;
        ttp_gram_result_clear(&res);
        free(Gd);
        free(Rd);
        int64_t pk[2] = {ttp_peak_rss(), base}, *all = malloc(sizeof *all * 2 * (size_t)P);
        MPI_Gather(pk, 2, MPI_INT64_T, all, 2, MPI_INT64_T, 0, world);
        if (rank == 0) {
            const double n = K;
            const double model = 8.0 * (2.0 * NCd * (double)K / P + 5.0 * n * n / P);
            const double vecs = 8.0 * NCd * (double)neig; /* rank 0: the gathered eigenvectors of Θ */
            printf(
                "\n[5] D' side, NC %d x D' %d, %d projected vectors, eigenvectors of Θ (neig %lld): %.3f s\n",
                NCd, K, nrhs, (long long)neig, t);
            if (!ok) printf("    (the peak could not be reset: it includes the stages above)\n");
            printf("    model 8·(2·NC·D'/P + 5·D'^2/P) = %.1f MiB per rank; rank 0 also the NC x neig "
                   "vectors, %.1f MiB\n",
                   model / 1048576.0, vecs / 1048576.0);
            for (int q = 0; q < P; q++) {
                const double extra = all[2 * q] - all[2 * q + 1], m = model + (q == 0 ? vecs : 0.0);
                printf(
                    "    rank %d: peak %.1f MiB = baseline %.1f + %.1f MiB;  model %.1f MiB;  ratio %.2f\n",
                    q, all[2 * q] / 1048576.0, all[2 * q + 1] / 1048576.0, extra / 1048576.0, m / 1048576.0,
                    extra / m);
            }
        }
        free(all);
    }
    ttp_mpi_finalize();
    return 0;
}
