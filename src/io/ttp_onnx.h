/*
 * ttp_onnx.h — networks from ONNX files: the reader that maps an ONNX graph
 * (as exported by torch.onnx.export and other frameworks) onto the layers of
 * ttp_model.h.
 *
 * Supported (opsets 9 to 20 of the default domain; initializers float32 or
 * float64, raw or typed, little-endian):
 *   Gemm (transA 0, transB 0 or 1, alpha, beta)      -> dense
 *   MatMul by a constant, optionally + Add bias      -> dense
 *   Conv (group 1, square kernel, equal strides, symmetric pads, dilation 1,
 *         auto_pad NOTSET)                           -> conv2d
 *   BatchNormalization (inference)                   -> batchnorm
 *   MaxPool, AveragePool (square, no padding, ceil_mode 0) -> maxpool/avgpool
 *   GlobalAveragePool -> gap;  Flatten (axis 1) and Reshape that flattens
 *   (N,C,H,W) to (N,C·H·W) -> flatten;  Add of two computed tensors -> add
 *   Relu, Sigmoid, Tanh, LeakyRelu (alpha), Gelu (opset 20, exact) and the
 *   exact-erf subgraph x·½·(1 + erf(x/√2)) that exporters emit for GELU at
 *   opsets below 20 -> the activation layers
 *   Identity, Dropout (inference), Constant: no layer
 * The graph has one input, (N, F) or (N, C, H, W) with any batch dimension
 * and fixed other dimensions, and exactly one output.  Anything else is an
 * error naming the file, the node (index and name), the operator or the
 * attribute, and what is supported; never a silently different model.
 * Every layer of the result is trainable; its provenance (title, source,
 * history) names the file and the exporter (producer_name/version).
 */
#ifndef TTP_ONNX_H
#define TTP_ONNX_H

#include "ttp_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build has the ONNX reader (protobuf-c found at build time). */
int ttp_onnx_available(void);

/*
 * Read an ONNX model file into a built model (parameters and batch-norm
 * statistics filled in, every layer trainable).  Sizes in the file are
 * checked against the bytes that hold them before anything is allocated.
 * Without ONNX support in the build: TTP_ERR_UNSUPPORTED.  Not collective.
 */
ttp_status ttp_onnx_read(ttp_ctx *ctx, const char *path, ttp_model **out);

/*
 * Read a model file of either format, chosen by its first bytes: NetCDF
 * ("CDF\x01", "CDF\x02", "CDF\x05" or "\x89HDF") goes to ttp_model_read,
 * anything else to ttp_onnx_read.  The one entry point for every --model.
 */
ttp_status ttp_model_load(ttp_ctx *ctx, const char *path, ttp_model **out);
/* 1 when the file can be opened and does not start with a NetCDF magic
 * number (so ttp_model_load would read it as ONNX), else 0. */
int ttp_model_file_is_onnx(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* TTP_ONNX_H */
