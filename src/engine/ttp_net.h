/*
 * ttp_net.h — the network engine: batched forward and backward passes in
 * float64 over a ttp_model, and per-sample gradients delivered as factors.
 *
 * A ttp_net is a model plus the activation workspace for batches of up to
 * `nbmax` samples.  The parameter slab is passed to every call, so the same
 * net evaluates the pretrained weights, perturbed weights (finite-difference
 * tests) and the weights being trained.
 */
#ifndef TTP_NET_H
#define TTP_NET_H

#include "ttp_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttp_net ttp_net; /* opaque; body in net.c */

ttp_status ttp_net_create(ttp_ctx *ctx, const ttp_model *m, int64_t nbmax, ttp_net **out);
void ttp_net_destroy(ttp_net **net);

/*
 * Forward pass on nb <= nbmax samples.
 *   w    model->nparams, the parameter slab
 *   x    (nb, C, H, W) row-major inputs
 *   out  (nb, nout) outputs
 * Activations are kept in the net for the following backward call.
 */
ttp_status ttp_net_forward(ttp_ctx *ctx, ttp_net *net, const double *w, const double *x, int64_t nb,
                           double *out);

/*
 * Backward pass after ttp_net_forward on the same batch.
 *   dout    (nb, nout) gradient of the objective w.r.t. the outputs
 *   grad_w  model->nparams: the gradient summed over the batch is ADDED here
 *           (entries of non-trainable layers are left untouched); may be NULL
 *   grad_x  (nb, in) input gradient, or NULL
 */
ttp_status ttp_net_backward(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout, double *grad_w,
                            double *grad_x);

/*
 * Per-sample gradient factors of one trainable layer, handed to a sink by
 * ttp_net_backward_factors.  For sample b the layer's weight gradient is
 *   OUTER:  dW_b = Σ_p delta[b, :, p] ⊗ act[b, p, :]   (m × n, row-major, as W)
 *           db_b = Σ_p delta[b, :, p]                    (m, when has_bias)
 *           delta is (nb, m, npos), act is (nb, npos, n); dense layers have
 *           npos = 1; conv layers have npos = out H·W and act holds the
 *           im2col patches (n = in_ch·k·k).
 *   DIRECT: the gradient itself, g is (nb, nw) (batch-norm scale and shift).
 * The pointers are valid only during the callback.
 */
typedef enum { TTP_FACTOR_OUTER, TTP_FACTOR_DIRECT } ttp_factor_kind;

typedef struct ttp_factors {
    ttp_factor_kind kind;
    int layer;          /* index in the model                                   */
    int64_t woff, nw;   /* the layer's parameter range in the slab             */
    int64_t col_off;    /* the layer's first column among trainable parameters */
    int64_t nb;         /* batch size                                          */
    int64_t m, n, npos; /* OUTER shapes                                        */
    int has_bias;
    const double *delta, *act; /* OUTER                                       */
    const double *g;           /* DIRECT                                      */
    int64_t ncot;              /* rows of delta (g) per row of act: row b's activations are act's
                   * row b / ncot (1 but from ttp_net_backward_factors_multi) */
} ttp_factors;

typedef struct ttp_grad_sink {
    void *user;
    ttp_status (*layer)(void *user, const ttp_factors *f, ttp_ctx *ctx);
} ttp_grad_sink;

/*
 * Backward pass that, instead of summing over the batch, hands each
 * trainable layer's per-sample factors to sink->layer (in reverse layer
 * order).  A batch made of C copies of a sample with dout = the C×C
 * identity yields the C Jacobian rows (ttp_net_backward_factors_multi
 * below does the same from one forward pass).
 */
ttp_status ttp_net_backward_factors(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout,
                                    ttp_grad_sink *sink);

/*
 * The same with ncot cotangents per sample, from ONE forward pass: after
 * ttp_net_forward on nb samples, dout is (nb·ncot, nout), sample b's
 * cotangents being rows b·ncot .. b·ncot + ncot − 1, and the sink receives
 * factors of nb·ncot rows (f->nb) whose activations are act's row
 * b / ncot (f->ncot = ncot).  The C Jacobian rows of each sample are then
 * ncot = C with the C×C identity per sample: one forward instead of C.
 * nb·ncot must fit the net's capacity (TTP_ERR_ARG otherwise).
 */
ttp_status ttp_net_backward_factors_multi(ttp_ctx *ctx, ttp_net *net, const double *w, const double *dout,
                                          int64_t ncot, ttp_grad_sink *sink);

/* Rows a net holds (its nbmax): forward samples, or backward cotangent rows. */
int64_t ttp_net_capacity(const ttp_net *net);

/* Losses, shared by training and the simulated dynamics.  Per-sample loss:
 *   MSE  ½‖f − y‖² with y the one-hot label (or the real target)
 *   CE   −log softmax(f)_label
 * ttp_loss_eval returns the MEAN loss over nb samples and the number of
 * correct argmax predictions; when grad is not NULL it receives the
 * per-sample gradients ∂ℓ_b/∂f_b (nb × C, NOT divided by nb). */
typedef enum { TTP_LOSS_MSE = 0, TTP_LOSS_CE = 1 } ttp_loss_kind;
const char *ttp_loss_str(ttp_loss_kind k);
double ttp_loss_eval(ttp_loss_kind kind, const double *f, const int *labels, const double *targets,
                     int64_t nb, int c, double *grad, int64_t *ncorrect);

#ifdef __cplusplus
}
#endif
#endif /* TTP_NET_H */
