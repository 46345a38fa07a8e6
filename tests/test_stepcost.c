/*
 * test_stepcost.c — the step cost model (ttp_train.h): per-layer flops of a
 * training step against closed forms counted by hand from net.c's passes
 * (dense: 2·in·out for y = x Wᵀ, the same for dW and for dx; conv: the
 * im2col GEMM's 2·npos·(in_ch·k²)·out_ch, its bias, and so on), gradients
 * counted only where the engine forms them (a frozen first layer needs none
 * below it), and the model's time t(B) against its formula.
 */
#include <math.h>
#include <string.h>

#include "ttp_train.h"
#include "ttp_test.h"

static void add(ttp_ctx *ctx, ttp_model *m, ttp_layer_kind kind, int input, int units, int trainable)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    L.input[0] = input;
    L.input[1] = -1;
    L.units = units;
    L.kernel = kind == TTP_LAYER_CONV2D ? 3 : 0;
    L.stride = 1;
    L.pad = kind == TTP_LAYER_CONV2D ? 1 : 0;
    L.trainable = trainable;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
}

/* flatten(1×8×8) → dense 64→32 → relu → dense 32→5 */
static ttp_model *mlp(ttp_ctx *ctx, int first_trainable)
{
    const int64_t in[3] = {1, 8, 8};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, in, &m));
    add(ctx, m, TTP_LAYER_FLATTEN, -1, 0, 0);
    add(ctx, m, TTP_LAYER_DENSE, 0, 32, first_trainable);
    add(ctx, m, TTP_LAYER_RELU, 1, 0, 0);
    add(ctx, m, TTP_LAYER_DENSE, 2, 5, 1);
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    return m;
}

int main(void)
{
    ttp_ctx c;
    ttp_ctx_init(&c);
    ttp_ctx *ctx = &c;
    ttp_layer_cost per[8], tot;

    /* every layer trainable: dense1 forms dW but no dx (its input is the
     * network's); dense2 forms both; the loss adds 4·C to the forward */
    ttp_model *m = mlp(ctx, 1);
    ttp_model_cost(m, per, &tot);
    CHECK_CLOSE(per[1].flops_fwd, 2.0 * 64 * 32 + 32, 0.0, 0.0);
    CHECK_CLOSE(per[1].flops_bwd, 2.0 * 64 * 32 + 32, 0.0, 0.0);
    CHECK_CLOSE(per[2].flops_bwd, 32.0, 0.0, 0.0);
    CHECK_CLOSE(per[3].flops_fwd, 2.0 * 32 * 5 + 5, 0.0, 0.0);
    CHECK_CLOSE(per[3].flops_bwd, (2.0 * 32 * 5 + 5) + 2.0 * 32 * 5, 0.0, 0.0);
    CHECK_CLOSE(tot.flops_fwd, 4128.0 + 32.0 + 325.0 + 20.0, 0.0, 0.0);
    CHECK_CLOSE(tot.flops_bwd, 4128.0 + 32.0 + 645.0, 0.0, 0.0);
    CHECK(tot.bytes > 0 && tot.weight_bytes >= 8.0 * 8.0 * (double)m->ntrainable);
    ttp_model_destroy(&m);

    /* the first dense frozen: no gradient below the head's input */
    m = mlp(ctx, 0);
    ttp_model_cost(m, per, &tot);
    CHECK_CLOSE(per[1].flops_bwd, 0.0, 0.0, 0.0);
    CHECK_CLOSE(per[2].flops_bwd, 0.0, 0.0, 0.0);
    CHECK_CLOSE(per[3].flops_bwd, 2.0 * 32 * 5 + 5, 0.0, 0.0);
    ttp_model_destroy(&m);

    /* conv 1→4, 3×3, pad 1 on 8×8: 64 positions × (1·9) × 4 multiply-adds,
     * then the bias; backward the same for dW, no dcol (network input) */
    {
        const int64_t in[3] = {1, 8, 8};
        CHECK_OK(ctx, ttp_model_create(ctx, in, &m));
        add(ctx, m, TTP_LAYER_CONV2D, -1, 4, 1);
        add(ctx, m, TTP_LAYER_GAP, 0, 0, 0);
        add(ctx, m, TTP_LAYER_DENSE, 1, 3, 1);
        CHECK_OK(ctx, ttp_model_build(ctx, m));
        ttp_model_cost(m, per, NULL);
        CHECK_CLOSE(per[0].flops_fwd, 2.0 * 64 * 9 * 4 + 64 * 4, 0.0, 0.0);
        CHECK_CLOSE(per[0].flops_bwd, 2.0 * 64 * 9 * 4 + 64 * 4, 0.0, 0.0);
        CHECK_CLOSE(per[1].flops_fwd, 256.0, 0.0, 0.0);
        CHECK_CLOSE(per[1].flops_bwd, 256.0, 0.0, 0.0);
        ttp_model_destroy(&m);
    }

    /* t(B) = t_call + s (F/R + (φ(s) − φ(b)) M/W) + t_update, s = ⌈B/P⌉ */
    {
        ttp_step_model sm;
        memset(&sm, 0, sizeof sm);
        sm.nranks = 2;
        sm.flops_per_sample = 1e6;
        sm.rate = 1e9;
        sm.sec_call = 0.01;
        sm.sec_update = 0.002;
        CHECK_CLOSE(ttp_step_model_eval(&sm, 7), 0.01 + 4 * 1e-3 + 0.002, 1e-15, 1e-12);
        sm.bytes_per_sample = 100.0;
        sm.cache_bytes = 1000.0;
        sm.bandwidth = 1e4;
        sm.probe_share = 5; /* 500 bytes: in cache */
        /* s = 20: 2000 bytes, half beyond the cache: + 0.5·100/1e4 a sample */
        CHECK_CLOSE(ttp_step_model_eval(&sm, 40), 0.01 + 20 * (1e-3 + 0.5 * 100.0 / 1e4) + 0.002, 1e-15,
                    1e-12);
        /* s = 10: exactly the cache, no penalty */
        CHECK_CLOSE(ttp_step_model_eval(&sm, 20), 0.01 + 10 * 1e-3 + 0.002, 1e-15, 1e-12);
        /* the core share is reported, not applied */
        sm.cpu_share = 0.5;
        CHECK_CLOSE(ttp_step_model_eval(&sm, 20), 0.01 + 10 * 1e-3 + 0.002, 1e-15, 1e-12);
    }
    return ttp_test_end("test_stepcost");
}
