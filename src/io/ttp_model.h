/*
 * ttp_model.h — networks: the layer graph, its parameters in one slab, the
 * NetCDF model format, and shape inference/validation.
 *
 * A model is a list of layers in topological order.  Each layer reads one
 * (or, for `add`, two) earlier tensors: input index -1 is the network input,
 * k >= 0 is the output of layer k, and k must be smaller than the layer's own
 * index, which rules out cycles by construction (the reader reports a cycle
 * or a dangling reference as such).  The last layer's output is the network
 * output, a vector of C values per sample.
 *
 * Tensors are per-sample (channel, height, width); a vector of F features is
 * (F, 1, 1).  Parameters live in one slab `w` (llm.c style), each layer
 * owning the range [woff, woff + nw):
 *   dense      W (out × in) row-major, then b (out)
 *   conv2d     W (out_ch × in_ch × k × k), then b (out_ch)
 *   batchnorm  gamma (C), then beta (C); frozen running mean and variance
 *              live in the separate `state` slab at [soff, soff + 2C)
 * Only layers with `trainable` set take part in training and in the
 * Jacobian; the order of the Jacobian's columns is the slab order of the
 * trainable layers.
 *
 * NetCDF model format (docs/formats/model.md): global attributes ttp_kind="model",
 * input_shape (3 ints), num_outputs, title/source/license/history; dimension
 * layer (L); per-layer variables layer_kind(layer) (int, ttp_layer_kind),
 * layer_input0/1(layer), layer_units(layer), layer_kernel, layer_stride,
 * layer_pad, layer_trainable, layer_nweights (optional, checked), layer_eps
 * (double), layer_alpha (double, optional: written when a leaky_relu layer
 * exists, absent means 0.01 for leaky_relu); a char variable layer_name(layer, name_len); dimensions param (P)
 * and state (S) with double variables params(param) and state(state), left
 * out when empty.
 */
#ifndef TTP_MODEL_H
#define TTP_MODEL_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TTP_LAYER_DENSE = 0,
    TTP_LAYER_CONV2D,
    TTP_LAYER_RELU,
    TTP_LAYER_BATCHNORM,
    TTP_LAYER_MAXPOOL,
    TTP_LAYER_AVGPOOL,
    TTP_LAYER_GAP,       /* global average pooling: (C,H,W) -> (C,1,1) */
    TTP_LAYER_FLATTEN,   /* (C,H,W) -> (C*H*W,1,1), no data movement    */
    TTP_LAYER_ADD,       /* residual add of two tensors of equal shape  */
    TTP_LAYER_SIGMOID,   /* elementwise 1 / (1 + exp(-x))                       */
    TTP_LAYER_TANH,      /* elementwise tanh(x)                                 */
    TTP_LAYER_LEAKYRELU, /* elementwise x > 0 ? x : alpha·x                     */
    TTP_LAYER_GELU,      /* elementwise 0.5·x·(1 + erf(x/√2)), the exact form   */
    TTP_LAYER_KIND_COUNT
} ttp_layer_kind;

const char *ttp_layer_kind_str(ttp_layer_kind k);

typedef struct ttp_layer {
    ttp_layer_kind kind;
    char name[64];
    int input[2];                      /* producer of each input: -1 network input, else layer */
    int units;                         /* dense: outputs; conv2d: output channels            */
    int kernel;                        /* conv2d / pooling: square window size               */
    int stride;                        /* conv2d / pooling                                   */
    int pad;                           /* conv2d: zero padding on each side                  */
    double eps;                        /* batchnorm                                          */
    double alpha;                      /* leaky_relu: slope for x < 0 (file default 0.01)    */
    int trainable;                     /* 1: parameters are fine-tuned and in the Jacobian   */
    int64_t in_shape[3], out_shape[3]; /* filled by ttp_model_build          */
    int64_t woff, nw;                  /* parameter range in the slab                        */
    int64_t soff, ns;                  /* frozen state range                                 */
} ttp_layer;

typedef struct ttp_model {
    int nlayers;
    ttp_layer *layers;
    int64_t in_shape[3]; /* per-sample input (C, H, W); features are (F,1,1)    */
    int nout;            /* C: outputs of the last layer                        */
    int64_t nparams;     /* size of w                                           */
    double *w;           /* parameter slab                                      */
    int64_t nstate;
    double *state;      /* frozen batch-norm statistics                        */
    int64_t ntrainable; /* D: parameters in trainable layers                   */
    char title[4096], source[4096], license[4096], history[4096];
} ttp_model;

/* An empty model for inputs of the given shape; add layers, then build. */
ttp_status ttp_model_create(ttp_ctx *ctx, const int64_t in_shape[3], ttp_model **out);
void ttp_model_destroy(ttp_model **m);
/*
 * Append a layer (its shape fields and offsets are filled by build).  Returns
 * the new layer's index in *index (may be NULL).
 */
ttp_status ttp_model_add(ttp_ctx *ctx, ttp_model *m, const ttp_layer *layer, int *index);
/*
 * Infer every shape, assign parameter and state ranges, allocate w and state
 * (zeros; batchnorm gamma = 1 and variance = 1), and check the graph: inputs
 * exist and come earlier, add's operands have equal shapes, windows fit.
 */
ttp_status ttp_model_build(ttp_ctx *ctx, ttp_model *m);
/* He-normal initialisation from a seed of the layers >= first_layer: dense
 * and conv weights N(0, 2/fan_in), biases 0, batch-norm scale 1 and shift 0
 * (statistics untouched).  Layer i draws from stream ttp_rng_key(seed, i). */
void ttp_model_init_weights(ttp_model *m, uint64_t seed, int first_layer);
/* Replace the last dense layer by a fresh one with `nout` outputs (weights
 * normal with std 1/sqrt(3 fan_in), biases 0; see model.c for why), init
 * from seed; rebuilds the slab (earlier weights kept). */
ttp_status ttp_model_replace_head(ttp_ctx *ctx, ttp_model *m, int nout, uint64_t seed);
/* Deep copy. */
ttp_status ttp_model_clone(ttp_ctx *ctx, const ttp_model *m, ttp_model **out);

ttp_status ttp_model_read(ttp_ctx *ctx, const char *path, ttp_model **out);
ttp_status ttp_model_write(ttp_ctx *ctx, const char *path, const ttp_model *m);
/* Check that a dataset's per-sample shape is what the model accepts. */
ttp_status ttp_model_check_input(ttp_ctx *ctx, const ttp_model *m, int ndim, const int64_t *shape,
                                 const char *where);
/* Print layers, shapes and parameter counts. */
void ttp_model_print(const ttp_model *m, FILE *f);

/*
 * The bundled architecture ("resnet-small", ~6k parameters for 1x8x8 inputs):
 *   conv3x3(C→8, pad 1) → BN → ReLU →
 *   [conv3x3(8→8) → BN → ReLU → conv3x3(8→8) → BN → add(skip) → ReLU] →
 *   maxpool 2x2 stride 2 → flatten → dense(→32) → ReLU → dense(32→nclasses)
 * built, every layer trainable, He-initialised from seed.  (Added by the
 * engine; additive to the original API.)
 */
ttp_status ttp_model_resnet_small(ttp_ctx *ctx, const int64_t in_shape[3], int nclasses, uint64_t seed,
                                  ttp_model **out);
/* A 64-bit hash of the input shape, every layer's attributes and the exact
 * bits of the parameters and statistics (for provenance of derived files). */
uint64_t ttp_model_fingerprint(const ttp_model *m);

/*
 * Choose the trainable layers of a built model from a text spec (the
 * --train-layers option):
 *   "all"            every layer with parameters
 *   "last:K"         the last K layers with parameters (K >= 1, at most
 *                    their number); the others frozen
 *   "NAME,NAME,..."  exactly these layers (each must exist and have
 *                    parameters); the others frozen
 * Only layers with parameters change: the flag of a parameter-free layer
 * means nothing and is kept, so "all" on an all-trainable model leaves the
 * fingerprint as it was.  D (m->ntrainable) is recomputed; weights and the
 * slab layout are untouched.  Errors name option train_layers and, for an
 * unknown name, list the layers that have parameters.  On error the model
 * is unchanged.  Not collective (every rank applies the same spec).
 */
ttp_status ttp_model_select_trainable(ttp_ctx *ctx, ttp_model *m, const char *spec);
/* The trainable layers with parameters as text, for provenance and
 * messages: "all" when every layer with parameters is trainable, else
 * their names joined by ',' ("none" when there is none); cut to len with
 * "...". */
void ttp_model_trainable_names(const ttp_model *m, char *buf, size_t len);

/* Copy the trainable parameters (D values, slab order) into/out of dst. */
void ttp_model_get_trainable(const ttp_model *m, const double *w, double *dst);
void ttp_model_set_trainable(const ttp_model *m, const double *src, double *w);

#ifdef __cplusplus
}
#endif
#endif /* TTP_MODEL_H */
