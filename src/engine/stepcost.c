/*
 * stepcost.c — the cost model of one optimizer step (ttp_train.h): flops
 * and bytes of the forward and backward passes layer by layer, as the
 * engine (net.c) performs them, plus the loss and the update.  The seconds
 * come from rates measured on this machine (ttp_train_step_model in
 * train.c); this file is pure arithmetic on the model.
 */
#include "ttp_train.h"

#include <stdlib.h>
#include <string.h>

static double prod3(const int64_t s[3])
{
    return (double)s[0] * (double)s[1] * (double)s[2];
}

void ttp_model_cost(const ttp_model *m, ttp_layer_cost *per_layer, ttp_layer_cost *total)
{
    const double w8 = (double)sizeof(double);
    ttp_layer_cost sum;
    memset(&sum, 0, sizeof sum);
    /* up[l]: layer l's output leads back to a trainable layer, so its
     * gradient is formed (net.c's grad_target).  Without memory for the
     * table every gradient counts as formed (an upper bound). */
    unsigned char *up = calloc((size_t)(m->nlayers > 0 ? m->nlayers : 1), 1);
    for (int l = 0; l < m->nlayers; l++) {
        const ttp_layer *L = &m->layers[l];
        ttp_layer_cost c;
        memset(&c, 0, sizeof c);
        const int params = L->trainable && L->nw > 0;
        int up_in = 0;
        for (int i = 0; i < 2; i++)
            if (L->input[i] >= 0 && (up == NULL || up[L->input[i]])) up_in = 1;
        if (up) up[l] = (unsigned char)(params || up_in);
        const double in = prod3(L->in_shape), out = prod3(L->out_shape);
        switch (L->kind) {
        case TTP_LAYER_DENSE:
            /* y = x Wᵀ + b; dW += dyᵀ x; dx += dy W */
            c.flops_fwd = 2.0 * in * out + out;
            c.flops_bwd = (params ? 2.0 * in * out + out : 0.0) + (up_in ? 2.0 * in * out : 0.0);
            c.bytes = w8 * (2.0 * in + 2.0 * out + (up_in ? in : 0.0));
            c.weight_bytes = w8 * (double)L->nw * (params ? 3.0 : 1.0) * (up_in || params ? 1.0 : 0.5);
            break;
        case TTP_LAYER_CONV2D: {
            /* im2col, one GEMM (nb·npos × out_ch × in_ch·k²), transpose;
             * backward: transpose, dW GEMM, dcol GEMM and col2im */
            const double npos = (double)L->out_shape[1] * (double)L->out_shape[2];
            const double kk = (double)L->in_shape[0] * (double)L->kernel * (double)L->kernel;
            const double oc = (double)L->units, mac = 2.0 * npos * kk * oc;
            c.flops_fwd = mac + npos * oc;
            c.flops_bwd = (params ? mac + npos * oc : 0.0) + (up_in ? mac + npos * kk : 0.0);
            /* col written and read twice, the GEMM's output and its transpose,
             * then the backward's transpose, col read, dcol written and added */
            c.bytes = w8 * (in + 3.0 * npos * kk + 3.0 * out + 2.0 * out + (params ? npos * kk : 0.0) +
                            (up_in ? 3.0 * npos * kk + in : 0.0));
            c.weight_bytes = w8 * (double)L->nw * (params ? 3.0 : 1.0);
            break;
        }
        case TTP_LAYER_BATCHNORM:
            c.flops_fwd = 2.0 * out;
            c.flops_bwd = (params ? 2.0 * out : 0.0) + (up_in ? 2.0 * out : 0.0);
            c.bytes = w8 * (2.0 * in + 4.0 * out);
            c.weight_bytes = w8 * (double)(L->nw + L->ns) * 2.0;
            break;
        case TTP_LAYER_MAXPOOL:
        case TTP_LAYER_AVGPOOL:
            c.flops_fwd = out * (double)L->kernel * (double)L->kernel;
            c.flops_bwd = up_in ? c.flops_fwd : 0.0;
            c.bytes = w8 * (2.0 * in + 4.0 * out);
            break;
        case TTP_LAYER_GAP:
            c.flops_fwd = in;
            c.flops_bwd = up_in ? in : 0.0;
            c.bytes = w8 * (2.0 * in + 2.0 * out);
            break;
        case TTP_LAYER_ADD:
            c.flops_fwd = out;
            c.flops_bwd = up_in ? 2.0 * out : 0.0;
            c.bytes = w8 * (3.0 * out + 4.0 * out);
            break;
        case TTP_LAYER_SIGMOID:
        case TTP_LAYER_TANH:
        case TTP_LAYER_GELU:
            /* a transcendental a value (exp, tanh, erf: counted as 10 flops)
             * and its derivative */
            c.flops_fwd = 10.0 * out;
            c.flops_bwd = up_in ? 3.0 * out : 0.0;
            c.bytes = w8 * (2.0 * in + 4.0 * out);
            break;
        case TTP_LAYER_LEAKYRELU:
        case TTP_LAYER_RELU:
            c.flops_fwd = out;
            c.flops_bwd = up_in ? out : 0.0;
            c.bytes = w8 * (2.0 * in + 4.0 * out);
            break;
        case TTP_LAYER_FLATTEN:
        default: /* copies */ c.bytes = w8 * (2.0 * in + (up_in ? 2.0 * out : 0.0)); break;
        }
        /* every layer's activation and gradient buffers are cleared and
         * written once a step (net.c zeroes the gradients first) */
        c.bytes += w8 * out;
        if (per_layer) per_layer[l] = c;
        sum.flops_fwd += c.flops_fwd;
        sum.flops_bwd += c.flops_bwd;
        sum.bytes += c.bytes;
        sum.weight_bytes += c.weight_bytes;
    }
    free(up);
    /* the loss and its gradient: a softmax (or difference) over C outputs */
    sum.flops_fwd += 4.0 * (double)m->nout;
    sum.bytes += w8 * 4.0 * (double)m->nout;
    /* the update: gradient cleared, gathered, reduced, decayed, stepped and
     * scattered back: about 8 passes over the D trainable weights */
    sum.weight_bytes += w8 * 8.0 * (double)m->ntrainable + w8 * (double)m->nparams;
    if (total) *total = sum;
}
