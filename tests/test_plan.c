/*
 * test_plan.c — ttp_plan_estimate and ttp_plan_check (kernel/ttp_kbuild.h)
 * against byte and flop counts worked out by hand from the closed forms for
 * small cases: a dense projection decomposed on the D′ side with an
 * ensemble, the exact kernel on the NC side with top-k and Θ, the automatic
 * projection (each peak with the runtime's TTP_PLAN_BASELINE); Θ on 2 ranks
 * with the shared and the ring assembly (its row blocks and the gather's
 * transit); the direct dynamics path (Θ and the Lanczos vectors on rank 0);
 * the refusal at one byte less than the peak, naming the rank count that
 * fits.
 */
#include <string.h>

#include "ttp_kbuild.h"
#include "ttp_test.h"

int main(void)
{
    ttp_ctx c;
    ttp_ctx_init(&c);
    ttp_ctx *ctx = &c;
    ttp_model m;
    memset(&m, 0, sizeof m);
    ttp_plan p;

    /* N 100, C 5 (NC 500), D 10000, rademacher D′ 256 on 2 ranks: the D′
     * side (s = K = 256), eigenvectors gathered, ensemble 4 over T 10 steps
     * of batches of 20. */
    m.nout = 5;
    m.ntrainable = 10000;
    m.nparams = 12000;
    ttp_kernel_opts o;
    ttp_kernel_opts_default(&o);
    o.proj = TTP_PROJ_RADEMACHER;
    o.dproj = 256;
    o.want_vectors = 1;
    o.mem_per_rank = TTP_PLAN_BASELINE + 4062720.0;
    ttp_plan_in in = {100, 2, 4, 10, 20, 1e9};
    CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in, &p));
    CHECK(p.side == 1 && p.dim == 256 && p.kept == 256 && p.nc == 500 && p.dproj == 256);
    CHECK_CLOSE(p.model_bytes, 8.0 * 2 * 12000, 0, 0);
    CHECK_CLOSE(p.jac_bytes, 8.0 * (250 * 256 + 250 * 3 + 2 * 500), 0, 0);  /* 526000 */
    CHECK_CLOSE(p.gram_bytes, 8.0 * (500 * 256 / 2 + 256 * 256 / 2), 0, 0); /* 774144 */
    CHECK_CLOSE(p.eig_bytes, 8.0 * (4 * 256 * 256 / 2), 0, 0);              /* 1048576 */
    CHECK_CLOSE(p.gather_bytes, 8.0 * 500 * 256, 0, 0);                     /* 1024000 */
    CHECK_CLOSE(p.work_bytes, 0.0, 0, 0); /* the D′ side without Θ forms no row blocks of Θ */
    CHECK_CLOSE(p.transit_bytes, 8.0 * 2 * 500 * 256 / 2, 0, 0); /* 1024000 */
    CHECK_CLOSE(p.ensemble_bytes, 8.0 * (4 * (4 * 500 + 20 * 5 + 100 + 256 + 2 * 11) + 6 * 11), 0, 0);
    CHECK_CLOSE(p.peak_bytes, TTP_PLAN_BASELINE + 192000.0 + 774144 + 1048576 + 1024000 + 1024000, 0,
                0); /* 4062720 */
    CHECK_CLOSE(p.flops_jac, 100.0 * (2 * 10000 + 4 * 5 * 10000) / 2 + 2.0 * 500 * 10000 * 256 / 2, 0, 1e-15);
    CHECK_CLOSE(p.flops_gram, 256.0 * 500 * 256 / 2, 0, 1e-15);
    CHECK_CLOSE(p.flops_eig, 5.0 * 256 * 256 * 256 / 2, 0, 1e-15);
    CHECK_CLOSE(p.flops_sim, 4.0 * 10 * 4 * 500 * 256, 0, 1e-15);
    /* each stage at its efficiency's share of the rate (1e9) */
    CHECK_CLOSE(p.sec_jac, p.flops_jac / (1e9 * TTP_PLAN_EFF_JAC), 0, 1e-14);
    CHECK_CLOSE(p.sec_total,
                (p.flops_jac / TTP_PLAN_EFF_JAC + p.flops_gram / TTP_PLAN_EFF_GRAM +
                 p.flops_eig / TTP_PLAN_EFF_EIG + p.flops_sim / TTP_PLAN_EFF_SIM) /
                    1e9,
                0, 1e-14);
    CHECK(p.fits);
    CHECK_OK(ctx, ttp_plan_check(ctx, &p));

    /* one byte less: refused; 4 ranks fit (peak 192000 + 8·(32000 + 16384 + 65536) + 1024000 + 512000) */
    o.mem_per_rank = TTP_PLAN_BASELINE + 4062719.0;
    CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in, &p));
    CHECK(!p.fits);
    CHECK(p.fit_ranks == 4);
    CHECK(p.fit_dproj > 0 && p.fit_dproj < 256);
    CHECK(p.fit_subset > 0 && p.fit_subset < 100);
    CHECK_FAILS(ctx, ttp_plan_check(ctx, &p), TTP_ERR_NOMEM, "4 ranks (mpirun -np 4)");
    CHECK_FAILS(ctx, ttp_plan_check(ctx, &p), TTP_ERR_NOMEM, "option mem_per_rank");
    {
        ttp_plan_in in4 = in;
        in4.ranks = 4;
        o.mem_per_rank = TTP_PLAN_BASELINE + 4062719.0;
        CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in4, &p));
        CHECK_CLOSE(p.peak_bytes,
                    TTP_PLAN_BASELINE + 192000.0 + 8.0 * (32000 + 16384 + 65536) + 1024000 + 512000, 0, 0);
        CHECK(p.fits);
    }

    /* exact kernel, N 50, C 2, D 300 on one rank: the NC side (s 100), top-k
     * 10, Θ and the vectors gathered, no ensemble. */
    m.nout = 2;
    m.ntrainable = 300;
    m.nparams = 300;
    ttp_kernel_opts_default(&o);
    o.top_k = 10;
    o.want_vectors = 1;
    o.want_theta = 1;
    o.mem_per_rank = 1e12;
    ttp_plan_in in2 = {50, 1, 0, 0, 0, 0.0};
    CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in2, &p));
    CHECK(p.side == 0 && p.dim == 100 && p.kept == 10 && p.dproj == 300);
    CHECK_CLOSE(p.jac_bytes, 8.0 * (100 * 300 + 100 * 3 + 2 * 100), 0, 0);
    CHECK_CLOSE(p.gram_bytes, 8.0 * (100 * 300 + 100 * 100), 0, 0);
    CHECK_CLOSE(p.gather_bytes, 8.0 * (100 * 10 + 100 * 100), 0, 0);
    CHECK_CLOSE(p.work_bytes, 0.0, 0, 0); /* one rank, NC side: Θ's rows are formed in C */
    CHECK_CLOSE(p.transit_bytes, 8.0 * 2 * (100 * 10 + 100 * 100), 0, 0);
    CHECK_CLOSE(p.ensemble_bytes, 0.0, 0, 0);
    CHECK_CLOSE(p.flops_eig, 4.0 / 3.0 * 1e6 + 2.0 * 1e4 * 10, 0, 1e-14);
    CHECK_CLOSE(p.flops_jac, 50.0 * (2 * 300 + 4 * 2 * 300), 0, 1e-15); /* exact: no projection */
    CHECK_CLOSE(p.rate, TTP_PLAN_RATE, 0, 0);
    CHECK(p.fits);

    /* Θ gathered on 2 ranks on the D′ side (N 100, C 5: NC 500 > D′ 256):
     * the shared assembly's row blocks count NC² on a rank (its own and the
     * pages it wrote into the other's), the ring's NC²/P; the gather NC²
     * and its transit 2 NC²/P */
    {
        m.nout = 5;
        m.ntrainable = 10000;
        m.nparams = 12000;
        ttp_kernel_opts_default(&o);
        o.proj = TTP_PROJ_RADEMACHER;
        o.dproj = 256;
        o.want_theta = 1;
        o.mem_per_rank = 1e12;
        ttp_plan_in in5 = {100, 2, 0, 0, 0, 1e9};
        CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in5, &p));
        CHECK(p.side == 1);
        CHECK_CLOSE(p.work_bytes, 8.0 * 500 * 500, 0, 0);
        CHECK_CLOSE(p.gather_bytes, 8.0 * 500 * 500, 0, 0);
        CHECK_CLOSE(p.transit_bytes, 8.0 * 2 * 500 * 500 / 2, 0, 0);
        /* 192000 + gram 8·(64000 + 32768) + eigen 8·131072 + 3 · 2000000 */
        CHECK_CLOSE(p.peak_bytes, TTP_PLAN_BASELINE + 192000.0 + 774144 + 1048576 + 6000000, 0, 0);
        /* GᵀG (256 · 500 · 256 / 2) and Θ's row blocks (500² · 256 / 2) */
        CHECK_CLOSE(p.flops_gram, 256.0 * 500 * 256 / 2 + 500.0 * 500 * 256 / 2, 0, 1e-15);
        o.assembly = TTP_GRAM_RING;
        CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in5, &p));
        CHECK_CLOSE(p.work_bytes, 8.0 * 500 * 500 / 2, 0, 0);
        CHECK_CLOSE(p.peak_bytes, TTP_PLAN_BASELINE + 192000.0 + 774144 + 1048576 + 5000000, 0, 0);

        /* the direct dynamics path (direct_k 32): the NC side, no
         * decomposition; rank 0 holds Θ (NC²), the Lanczos vectors NC·32
         * and the residual rows 3 NC; Lanczos 2 NC² (4·32 + 40) flops */
        ttp_kernel_opts_default(&o);
        o.proj = TTP_PROJ_RADEMACHER;
        o.dproj = 256;
        o.want_vectors = 1;
        o.direct_k = 32;
        o.mem_per_rank = 1e12;
        CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in5, &p));
        CHECK(p.side == 0 && p.dim == 500 && p.kept == 32);
        CHECK_CLOSE(p.gram_bytes, 8.0 * (500 * 256 / 2 + 500 * 500 / 2), 0, 0); /* 1512000 */
        CHECK_CLOSE(p.eig_bytes, 0.0, 0, 0);
        CHECK_CLOSE(p.work_bytes, 8.0 * 500 * 500, 0, 0);
        CHECK_CLOSE(p.gather_bytes, 8.0 * (500 * 500 + 500 * 32 + 3 * 500), 0, 0); /* 2140000 */
        CHECK_CLOSE(p.transit_bytes, 8.0 * 2 * 500 * 500 / 2, 0, 0);
        CHECK_CLOSE(p.peak_bytes, TTP_PLAN_BASELINE + 192000.0 + 1512000 + 2000000 + 2140000 + 2000000, 0, 0);
        CHECK_CLOSE(p.flops_eig, 2.0 * 500 * 500 * (4 * 32 + 40), 0, 1e-15);
    }
    m.nout = 2;
    m.ntrainable = 300;
    m.nparams = 300;
    ttp_kernel_opts_default(&o);
    o.top_k = 10;
    o.want_vectors = 1;
    o.want_theta = 1;
    o.mem_per_rank = 1e12;

    /* automatic projection: kron at D′ 1024 for D 5000 > 2 · 1024 */
    m.ntrainable = 5000;
    o.proj = TTP_PROJ_AUTO;
    o.dproj = 0;
    CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, &m, &in2, &p));
    CHECK(p.dproj == TTP_KERNEL_AUTO_DPROJ);

    /* a built conv net (1×8×8 → conv3×3 1→4, pad 1 → GAP → dense 4→2): the
     * Jacobian stage runs C copies of each sample forward and back, and a
     * conv layer costs per output position.  Hand count per copy:
     *   conv  forward 2·64·9·4 + 64·4 (bias) = 4864; backward dW 2·64·9·4
     *         + db 64·4 = 4864 (the input gets no gradient)
     *   gap   forward 256; backward 256
     *   dense forward 2·4·2 + 2 = 18; backward dW and db 18, dx 2·4·2 = 16
     * 10292 flops (4864 + 4864 + 256 + 256 + 18 + 34), against 2D + 4CD = 2·50 + 8·50 = 500 for the weights
     * alone. */
    {
        const int64_t shape[3] = {1, 8, 8};
        ttp_model *cm = NULL;
        CHECK_OK(ctx, ttp_model_create(ctx, shape, &cm));
        ttp_layer L;
        memset(&L, 0, sizeof L);
        L.kind = TTP_LAYER_CONV2D, L.input[0] = -1, L.input[1] = -1, L.units = 4, L.kernel = 3, L.stride = 1,
        L.pad = 1, L.trainable = 1;
        CHECK_OK(ctx, ttp_model_add(ctx, cm, &L, NULL));
        memset(&L, 0, sizeof L);
        L.kind = TTP_LAYER_GAP, L.input[0] = 0, L.input[1] = -1;
        CHECK_OK(ctx, ttp_model_add(ctx, cm, &L, NULL));
        memset(&L, 0, sizeof L);
        L.kind = TTP_LAYER_DENSE, L.input[0] = 1, L.input[1] = -1, L.units = 2, L.trainable = 1;
        CHECK_OK(ctx, ttp_model_add(ctx, cm, &L, NULL));
        CHECK_OK(ctx, ttp_model_build(ctx, cm));
        CHECK(cm->ntrainable == 50);
        ttp_kernel_opts_default(&o);
        o.proj = TTP_PROJ_EXACT;
        o.mem_per_rank = 1e12;
        ttp_plan_in in3 = {10, 2, 0, 0, 0, 1e9};
        CHECK_OK(ctx, ttp_plan_estimate(ctx, &o, cm, &in3, &p));
        /* one forward per sample (conv 4864 + GAP 256 + dense 18 = 5138
         * flops) and the backward of its C = 2 cotangents (4864 + 256 + 34 =
         * 5154 each) */
        CHECK_CLOSE(p.flops_jac, 10.0 * (5138 + 2 * 5154) / 2, 0, 1e-15);
        ttp_model_destroy(&cm);
    }

    /* bad sizes */
    in2.n = 0;
    CHECK_FAILS(ctx, ttp_plan_estimate(ctx, &o, &m, &in2, &p), TTP_ERR_ARG, "at least one sample");
    return ttp_test_end("test_plan");
}
