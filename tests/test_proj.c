/*
 * test_proj.c — the random projections (src/engine/proj.c) and the statistical
 * behaviour of the projected Gram matrix, for the dense kinds and for the
 * structured KRON sketch of src/engine/jac.c:
 *   - kind names parse and print; backends open by name;
 *   - entries are the documented function of (key, k, j) (recomputed here
 *     from the generator), bit-stable across calls, and the CPU backend's
 *     P is the same whether it is cached or generated tile by tile;
 *   - moments: E[P Pᵀ] ≈ I, entry mean/variance (and Gaussian kurtosis);
 *   - the CPU backend against a naive triple loop;
 *   - ‖G Gᵀ − J Jᵀ‖_F / ‖J Jᵀ‖_F falls like 1/√D′ (log–log slope over
 *     D′ = 64..1024, averaged over seeds), for rademacher and gaussian on a
 *     low-rank-ish J, and for KRON on the outer-product-structured Jacobian
 *     of a small network; and, as the reason KRON uses replicas, a single
 *     k_o × k_i Kronecker block per layer falls only like D′^(−1/4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ttp_gpu.h"
#include "ttp_jac.h"
#include "ttp_proj.h"
#include "ttp_rng.h"
#include "ttp_test.h"

static void test_kinds(ttp_ctx *ctx)
{
    for (int k = 0; k < TTP_PROJ_KIND_COUNT; k++) {
        ttp_proj_kind out = TTP_PROJ_KIND_COUNT;
        CHECK_OK(ctx, ttp_proj_kind_parse(ctx, ttp_proj_kind_str((ttp_proj_kind)k), &out));
        CHECK(out == (ttp_proj_kind)k);
    }
    CHECK(strcmp(ttp_proj_kind_str(TTP_PROJ_KRON), "kron") == 0);
    ttp_proj_kind out;
    CHECK_FAILS(ctx, ttp_proj_kind_parse(ctx, "srht", &out), TTP_ERR_ARG, "srht");

    ttp_proj_backend b;
    CHECK_OK(ctx, ttp_proj_backend_open(ctx, "cpu", &b));
    CHECK(b.name && strcmp(b.name, "cpu") == 0 && b.project && b.destroy);
    ttp_proj_backend_close(&b);
    CHECK(b.state == NULL && b.project == NULL);
    ttp_proj_backend_close(&b); /* closing twice is harmless */
    CHECK_FAILS(ctx, ttp_proj_backend_open(ctx, "tpu", &b), TTP_ERR_ARG, "tpu");
    CHECK_OK(ctx, ttp_proj_backend_open(ctx, "auto", &b));
    CHECK(b.name != NULL);
    ttp_proj_backend_close(&b);
    if (ttp_gpu_device_count(NULL, 0) == 0)
        CHECK_FAILS(ctx, ttp_proj_backend_open(ctx, "cuda", &b), TTP_ERR_UNSUPPORTED, "cuda");
}

/* Entries recomputed from the definition in ttp_proj.h. */
static void test_entries(void)
{
    const uint64_t keys[3] = {0, 42, 0xdeadbeefcafeULL};
    int bad = 0;
    for (int e = 0; e < 3; e++)
        for (int64_t k = 0; k < 50; k += 7)
            for (int64_t j = 0; j < 37; j += 3) {
                const int64_t dp = 37;
                uint64_t c = (uint64_t)(k * dp + j);
                double s = 1.0 / sqrt((double)dp);
                double r = (ttp_rng_hash(keys[e], c) & 1u) ? -s : s;
                double u1 = ttp_rng_hash_uniform(keys[e], 2 * c),
                       u2 = ttp_rng_hash_uniform(keys[e], 2 * c + 1);
                double g = sqrt(-2.0 * log(u1 < 1e-300 ? 1e-300 : u1)) * cos(6.283185307179586 * u2) * s;
                bad += ttp_proj_entry(TTP_PROJ_RADEMACHER, keys[e], k, j, dp) != r;
                bad += ttp_proj_entry(TTP_PROJ_GAUSSIAN, keys[e], k, j, dp) != g;
                /* a pure function: the same call again gives the same bits */
                bad += ttp_proj_entry(TTP_PROJ_GAUSSIAN, keys[e], k, j, dp) != g;
            }
    CHECK(bad == 0);
    /* counters past 2³²: still ±1/√D′ */
    double big = ttp_proj_entry(TTP_PROJ_RADEMACHER, 7, (int64_t)1 << 40, 5, 1024);
    CHECK(fabs(big) == 1.0 / 32.0);
    CHECK(ttp_proj_entry(TTP_PROJ_EXACT, 7, 1, 1, 4) == 0.0);
    /* a different key gives a different matrix */
    int same = 0;
    for (int64_t k = 0; k < 64; k++)
        same += ttp_proj_entry(TTP_PROJ_RADEMACHER, 1, k, 0, 8) ==
                ttp_proj_entry(TTP_PROJ_RADEMACHER, 2, k, 0, 8);
    CHECK(same > 16 && same < 48);
}

/*
 * The CPU backend reproduces P exactly: with J = unit rows e_k, G's row is
 * P[k, :] bit for bit (every other product is 0·x).  d·D′ = 9·10⁶ exceeds
 * the cache limit, so this runs the tiled path (k-tiles of 8192, column
 * tiles of 256), with the tiles stored once and with them generated per
 * call; the small case runs the cached whole-P path.
 */
static void test_tiles(ttp_ctx *ctx)
{
    const int64_t cases[2][2] = {{10000, 900}, {300, 70}};
    const int64_t ks[5] = {0, 1, 8191, 8192, 9999};
    ttp_proj_backend b;
    CHECK_OK(ctx, ttp_proj_cpu(ctx, &b));
    for (int cs = 0; cs < 2; cs++) {
        const int64_t d = cases[cs][0], dp = cases[cs][1];
        for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
            double *J = calloc((size_t)(5 * d), sizeof *J), *G = calloc((size_t)(5 * dp), sizeof *G);
            for (int r = 0; r < 5; r++) J[r * d + ks[r] % d] = 1.0;
            CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 99, J, 5, d, dp, G, ctx));
            int bad = 0;
            for (int r = 0; r < 5; r++)
                for (int64_t j = 0; j < dp; j++)
                    bad += G[r * dp + j] != ttp_proj_entry((ttp_proj_kind)kind, 99, ks[r] % d, j, dp);
            CHECK(bad == 0);
            /* again: the cached P (small case) gives the same bits */
            double *G2 = calloc((size_t)(5 * dp), sizeof *G2);
            CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 99, J, 5, d, dp, G2, ctx));
            CHECK(memcmp(G, G2, (size_t)(5 * dp) * sizeof *G) == 0);
            /* and with the tiles generated again for every call (no stored P) */
            ttp_proj_cpu_store_limit(&b, -1.0);
            CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 99, J, 5, d, dp, G2, ctx));
            CHECK(memcmp(G, G2, (size_t)(5 * dp) * sizeof *G) == 0);
            ttp_proj_cpu_store_limit(&b, 0.0);
            free(J), free(G), free(G2);
        }
    }
    /* argument checks */
    double x[4] = {0};
    CHECK_FAILS(ctx, b.project(b.state, TTP_PROJ_KRON, 1, x, 1, 2, 2, x, ctx), TTP_ERR_ARG, "kron");
    CHECK_FAILS(ctx, b.project(b.state, TTP_PROJ_EXACT, 1, x, 1, 2, 1, x, ctx), TTP_ERR_ARG, "D'");
    CHECK_FAILS(ctx, b.project(b.state, TTP_PROJ_GAUSSIAN, 1, x, 1, 0, 1, x, ctx), TTP_ERR_ARG, "d 0");
    ttp_proj_backend_close(&b);
}

/* Normalized error of the CPU backend against a naive triple loop. */
static void test_naive(ttp_ctx *ctx)
{
    const int64_t cases[2][3] = {{7, 300, 70}, {3, 9000, 1000}}; /* cached; tiled */
    ttp_proj_backend b;
    CHECK_OK(ctx, ttp_proj_cpu(ctx, &b));
    for (int cs = 0; cs < 2; cs++) {
        const int64_t rows = cases[cs][0], d = cases[cs][1], dp = cases[cs][2];
        double *J = malloc((size_t)(rows * d) * sizeof *J), *G = malloc((size_t)(rows * dp) * sizeof *G);
        double *R = calloc((size_t)(rows * dp), sizeof *R);
        for (int64_t i = 0; i < rows * d; i++) J[i] = ttp_rng_normal(5, (uint64_t)i);
        for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
            memset(R, 0, (size_t)(rows * dp) * sizeof *R);
            for (int64_t k = 0; k < d; k++)
                for (int64_t j = 0; j < dp; j++) {
                    double pk = ttp_proj_entry((ttp_proj_kind)kind, 3, k, j, dp);
                    for (int64_t r = 0; r < rows; r++) R[r * dp + j] += J[r * d + k] * pk;
                }
            CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 3, J, rows, d, dp, G, ctx));
            {
                /* the large case's P stored as tiles (default), in two
                 * calls that split the rows, and generated per call: the
                 * same bits */
                double *G2 = malloc((size_t)(rows * dp) * sizeof *G2);
                CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 3, J, 1, d, dp, G2, ctx));
                CHECK_OK(ctx,
                         b.project(b.state, (ttp_proj_kind)kind, 3, J + d, rows - 1, d, dp, G2 + dp, ctx));
                CHECK(memcmp(G, G2, (size_t)(rows * dp) * sizeof *G) == 0);
                ttp_proj_cpu_store_limit(&b, -1.0);
                CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 3, J, rows, d, dp, G2, ctx));
                CHECK(memcmp(G, G2, (size_t)(rows * dp) * sizeof *G) == 0);
                ttp_proj_cpu_store_limit(&b, 0.0);
                free(G2);
            }
            double num = 0, den = 0;
            for (int64_t i = 0; i < rows * dp; i++) {
                num += (G[i] - R[i]) * (G[i] - R[i]);
                den += R[i] * R[i];
            }
            /* sums of up to 9000 O(1) products in different orders: ~1e-15 */
            CHECK(sqrt(num / den) < 1e-13);
        }
        /* exact: G = J */
        double *E = malloc((size_t)(rows * d) * sizeof *E);
        CHECK_OK(ctx, b.project(b.state, TTP_PROJ_EXACT, 3, J, rows, d, d, E, ctx));
        CHECK(memcmp(E, J, (size_t)(rows * d) * sizeof *E) == 0);
        free(E), free(J), free(G), free(R);
    }
    ttp_proj_backend_close(&b);
}

/* Moments of the entries and of P Pᵀ (D = 400 rows, D′ = 300). */
static void test_moments(void)
{
    const int64_t D = 400, dp = 300, N = D * dp;
    for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
        double *P = malloc((size_t)N * sizeof *P);
        for (int64_t k = 0; k < D; k++)
            for (int64_t j = 0; j < dp; j++)
                P[k * dp + j] = ttp_proj_entry((ttp_proj_kind)kind, 11, k, j, dp);
        double m1 = 0, m2 = 0, m4 = 0;
        for (int64_t i = 0; i < N; i++) {
            double z = P[i] * sqrt((double)dp);
            m1 += z, m2 += z * z, m4 += z * z * z * z;
        }
        m1 /= N, m2 /= N, m4 /= N;
        /* 4σ bands for N = 1.2·10⁵ standard entries */
        CHECK(fabs(m1) < 4.0 / sqrt((double)N));
        CHECK(fabs(m2 - 1.0) < 4.0 * sqrt(2.0 / N) + 1e-12);
        if (kind == TTP_PROJ_GAUSSIAN)
            CHECK(fabs(m4 - 3.0) < 4.0 * sqrt(96.0 / N));
        else
            CHECK(fabs(m4 - 1.0) < 1e-12);
        /* P Pᵀ: diagonal mean 1, off-diagonal mean 0 with variance 1/D′ */
        double *Q = malloc((size_t)(D * D) * sizeof *Q);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)D, (int)D, (int)dp, 1.0, P, (int)dp, P,
                    (int)dp, 0.0, Q, (int)D);
        double dm = 0, om = 0, ov = 0;
        int64_t no = 0;
        for (int64_t a = 0; a < D; a++)
            for (int64_t c = 0; c < D; c++) {
                if (a == c)
                    dm += Q[a * D + c];
                else if (c > a)
                    om += Q[a * D + c], ov += Q[a * D + c] * Q[a * D + c], no++;
            }
        dm /= D, om /= no, ov /= no;
        if (kind == TTP_PROJ_RADEMACHER)
            CHECK(fabs(dm - 1.0) < 1e-12);
        else
            CHECK(fabs(dm - 1.0) < 4.0 * sqrt(2.0 / dp / D));
        CHECK(fabs(om) < 4.0 * sqrt(1.0 / dp / no));
        CHECK(fabs(ov * dp - 1.0) < 0.05);
        free(Q), free(P);
    }
}

/* ---- error of the projected Gram matrix against D′ ---------------------- */

static double gram_err(const double *G, int64_t rows, int64_t k, const double *T)
{
    double *Q = malloc((size_t)(rows * rows) * sizeof *Q), num = 0, den = 0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)k, 1.0, G, (int)k, G,
                (int)k, 0.0, Q, (int)rows);
    for (int64_t i = 0; i < rows * rows; i++) {
        num += (Q[i] - T[i]) * (Q[i] - T[i]);
        den += T[i] * T[i];
    }
    free(Q);
    return sqrt(num / den);
}

/* Least-squares slope of log y against log x. */
static double loglog_slope(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) mx += log(x[i]) / n, my += log(y[i]) / n;
    for (int i = 0; i < n; i++) {
        sxy += (log(x[i]) - mx) * (log(y[i]) - my);
        sxx += (log(x[i]) - mx) * (log(x[i]) - mx);
    }
    return sxy / sxx;
}

#define NDP 5
#define NSEED 4
static const double dps[NDP] = {64, 128, 256, 512, 1024};

static void test_dense_slope(ttp_ctx *ctx)
{
    /* J (60 × 2000) = U diag(1/k) V + 0.05·noise: rank-10 signal, decaying. */
    const int64_t rows = 60, d = 2000, rk = 10;
    double *U = malloc((size_t)(rows * rk) * sizeof *U), *V = malloc((size_t)(rk * d) * sizeof *V);
    double *J = malloc((size_t)(rows * d) * sizeof *J), *T = malloc((size_t)(rows * rows) * sizeof *T);
    double *G = malloc((size_t)(rows * 1024) * sizeof *G);
    for (int64_t i = 0; i < rows * rk; i++) U[i] = ttp_rng_normal(21, (uint64_t)i) / (double)(1 + i % rk);
    for (int64_t i = 0; i < rk * d; i++) V[i] = ttp_rng_normal(22, (uint64_t)i);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)rk, 1.0, U, (int)rk, V,
                (int)d, 0.0, J, (int)d);
    for (int64_t i = 0; i < rows * d; i++) J[i] += 0.05 * ttp_rng_normal(23, (uint64_t)i);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)d, 1.0, J, (int)d, J,
                (int)d, 0.0, T, (int)rows);
    ttp_proj_backend b;
    CHECK_OK(ctx, ttp_proj_cpu(ctx, &b));
    for (int kind = TTP_PROJ_RADEMACHER; kind <= TTP_PROJ_GAUSSIAN; kind++) {
        double err[NDP];
        for (int q = 0; q < NDP; q++) {
            err[q] = 0;
            for (int sd = 0; sd < NSEED; sd++) {
                CHECK_OK(ctx, b.project(b.state, (ttp_proj_kind)kind, 1000 + sd, J, rows, d, (int64_t)dps[q],
                                        G, ctx));
                err[q] += gram_err(G, rows, (int64_t)dps[q], T) / NSEED;
            }
        }
        double sl = loglog_slope(dps, err, NDP);
        printf("%-10s Gram error D'=64..1024: %.4f %.4f %.4f %.4f %.4f  slope %.3f\n",
               ttp_proj_kind_str((ttp_proj_kind)kind), err[0], err[1], err[2], err[3], err[4], sl);
        CHECK(sl > -0.65 && sl < -0.35);
    }
    ttp_proj_backend_close(&b);
    free(U), free(V), free(J), free(T), free(G);
}

/*
 * KRON on a structured Jacobian: f(x) = W2 relu(W1 x + b1) with only the
 * first layer (40 × 50, bias 40) trainable, so every row is δ xᵀ (and δ)
 * with δ = W2[c, :] ∘ 1[z > 0].  20 samples × 3 outputs = 60 rows, D = 2040.
 * The exact rows (kind exact) give the reference Θ.
 */
static void test_kron_slope(ttp_ctx *ctx)
{
    const int64_t nin = 50, nh = 40, C = 3, ns = 20, rows = ns * C;
    const int64_t shape[3] = {nin, 1, 1};
    ttp_model *m = NULL;
    ttp_net *net = NULL;
    ttp_jac_plan *plan = NULL;
    double *x = NULL, *Jx = NULL, *T = NULL, *G = NULL, *Gs = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return;
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.input[0] = -1, L.input[1] = -1;
    L.kind = TTP_LAYER_DENSE, L.units = (int)nh, L.trainable = 1;
    snprintf(L.name, sizeof L.name, "fc1");
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    L.kind = TTP_LAYER_RELU, L.input[0] = 0, L.trainable = 0;
    snprintf(L.name, sizeof L.name, "relu");
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    L.kind = TTP_LAYER_DENSE, L.input[0] = 1, L.units = (int)C, L.trainable = 0;
    snprintf(L.name, sizeof L.name, "fc2");
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    ttp_model_init_weights(m, 5, 0);
    for (int64_t i = 0; i < nh; i++)
        m->w[m->layers[0].woff + nh * nin + i] = 0.1 * ttp_rng_normal(6, (uint64_t)i);
    const int64_t D = m->ntrainable;
    CHECK(D == nh * nin + nh);
    x = malloc((size_t)(ns * nin) * sizeof *x);
    for (int64_t i = 0; i < ns * nin; i++) x[i] = ttp_rng_normal(7, (uint64_t)i);
    CHECK_OK(ctx, ttp_net_create(ctx, m, 8 * C, &net));
    Jx = malloc((size_t)(rows * D) * sizeof *Jx);
    T = malloc((size_t)(rows * rows) * sizeof *T);
    G = malloc((size_t)(rows * 2 * D) * sizeof *G);
    Gs = malloc((size_t)(rows * 1100) * sizeof *Gs);
    CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_EXACT, 0, 0, "cpu", &plan));
    CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, ns, Jx, NULL, NULL));
    ttp_jac_plan_destroy(&plan);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)rows, (int)D, 1.0, Jx, (int)D, Jx,
                (int)D, 0.0, T, (int)rows);

    double err[NDP], err1[NDP], errd[NDP];
    for (int q = 0; q < NDP; q++) {
        err[q] = err1[q] = errd[q] = 0;
        for (int sd = 0; sd < NSEED; sd++) {
            CHECK_OK(ctx,
                     ttp_jac_plan_create(ctx, m, TTP_PROJ_KRON, (int64_t)dps[q], 300 + sd, "cpu", &plan));
            if (!plan) continue;
            int64_t K = ttp_jac_plan_dim(plan);
            CHECK(K >= dps[q] * 0.95 && K <= dps[q] * 1.05);
            CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, ns, G, NULL, NULL));
            err[q] += gram_err(G, rows, K, T) / NSEED;
            ttp_jac_plan_destroy(&plan);
            /* dense rademacher on the same rows, for comparison */
            CHECK_OK(ctx, ttp_jac_plan_create(ctx, m, TTP_PROJ_RADEMACHER, (int64_t)dps[q], 300 + sd, "cpu",
                                              &plan));
            if (!plan) continue;
            CHECK_OK(ctx, ttp_jac_rows(ctx, plan, net, m->w, x, ns, G, NULL, NULL));
            errd[q] += gram_err(G, rows, (int64_t)dps[q], T) / NSEED;
            ttp_jac_plan_destroy(&plan);

            /* One Kronecker block per layer (k_o ≈ √(s·m/n), k_i = s/k_o),
             * built here from the exact rows: vec(P_outᵀ dW P_in), bias exact. */
            const int64_t s = (int64_t)dps[q] - nh;
            int64_t ko = (int64_t)llround(sqrt((double)s * nh / nin)), ki = s / ko, k1 = ko * ki + nh;
            double *Po = malloc((size_t)(nh * ko) * sizeof *Po),
                   *Pi = malloc((size_t)(nin * ki) * sizeof *Pi);
            double *tmp = malloc((size_t)(ko * nin) * sizeof *tmp);
            for (int64_t o = 0; o < nh; o++)
                for (int64_t a = 0; a < ko; a++)
                    Po[o * ko + a] = ttp_proj_entry(TTP_PROJ_RADEMACHER, 500 + sd, o, a, ko);
            for (int64_t i = 0; i < nin; i++)
                for (int64_t c = 0; c < ki; c++)
                    Pi[i * ki + c] = ttp_proj_entry(TTP_PROJ_RADEMACHER, 600 + sd, i, c, ki);
            for (int64_t r = 0; r < rows; r++) {
                const double *dW = Jx + r * D;
                double *out = Gs + r * k1;
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ko, (int)nin, (int)nh, 1.0, Po,
                            (int)ko, dW, (int)nin, 0.0, tmp, (int)nin);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ko, (int)ki, (int)nin, 1.0, tmp,
                            (int)nin, Pi, (int)ki, 0.0, out, (int)ki);
                memcpy(out + ko * ki, dW + nh * nin, (size_t)nh * sizeof *out);
            }
            free(Po), free(Pi), free(tmp);
            err1[q] += gram_err(Gs, rows, k1, T) / NSEED;
        }
    }
    double sl = loglog_slope(dps, err, NDP), sl1 = loglog_slope(dps, err1, NDP);
    printf("kron       Gram error D'=64..1024: %.4f %.4f %.4f %.4f %.4f  slope %.3f\n", err[0], err[1],
           err[2], err[3], err[4], sl);
    printf("dense      Gram error D'=64..1024: %.4f %.4f %.4f %.4f %.4f\n", errd[0], errd[1], errd[2],
           errd[3], errd[4]);
    printf("1 block    Gram error D'=64..1024: %.4f %.4f %.4f %.4f %.4f  slope %.3f\n", err1[0], err1[1],
           err1[2], err1[3], err1[4], sl1);
    CHECK(sl > -0.65 && sl < -0.35);
    /* KRON within twice the dense sketch's error at every D′ (the variance
     * bound of src/engine/jac.c); the single block is what KRON avoids: more than
     * 1.5× KRON's error at the largest D′, a gap that grows with D′. */
    for (int q = 0; q < NDP; q++) CHECK(err[q] < 2.0 * errd[q]);
    CHECK(err1[NDP - 1] > 1.5 * err[NDP - 1]);
    ttp_net_destroy(&net);
    ttp_model_destroy(&m);
    free(x), free(Jx), free(T), free(G), free(Gs);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    test_kinds(&ctx);
    test_entries();
    test_tiles(&ctx);
    test_naive(&ctx);
    test_moments();
    test_dense_slope(&ctx);
    test_kron_slope(&ctx);
    return ttp_test_end("test_proj");
}
