#!/usr/bin/python3
"""onnx_bad.py — small ONNX files, good and bad, made with the onnx package's
helpers (no torch) for tests/cli_onnx.sh and as fuzzing seeds; the good ones
come with inputs and numpy's outputs (x.bin, y.bin, manifest.txt) for
tests/onnx_check.c.

    /usr/bin/python3 tests/onnx_bad.py OUTDIR

good.onnx: Conv(1->4, 3x3, pad 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm(64->5)
on (N,1,8,8) inputs, float32 weights, default opset 13.  Each bad_*.onnx
differs from it in one way the reader must refuse with a clear message.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(14)


def init(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def model(nodes, inits, inputs=None, outputs=None, opset=13, check=True):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])]
    outputs = outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])]
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, producer_name="onnx_bad.py", producer_version="1",
                          opset_imports=[helper.make_opsetid("", opset)])
    if check:
        onnx.checker.check_model(m)
    return m


def good_nodes(conv_attrs=None, pool_attrs=None, conv_w="W"):
    conv_attrs = conv_attrs if conv_attrs is not None else {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]}
    pool_attrs = pool_attrs if pool_attrs is not None else {"kernel_shape": [2, 2], "strides": [2, 2]}
    return [helper.make_node("Conv", ["x", conv_w, "B"], ["c"], name="conv", **conv_attrs),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("MaxPool", ["r"], ["p"], name="pool", **pool_attrs),
            helper.make_node("Flatten", ["p"], ["f"], name="flat"),
            helper.make_node("Gemm", ["f", "FW", "FB"], ["y"], name="fc", transB=1)]


def good_inits(cin=1):
    return [init("W", 4, cin, 3, 3), init("B", 4), init("FW", 5, 64), init("FB", 5)]


def save(m, name):
    onnx.save(m, os.path.join(OUT, name))


good = model(good_nodes(), good_inits())
save(good, "good.onnx")
raw = good.SerializeToString()
with open(os.path.join(OUT, "bad_truncated.onnx"), "wb") as f:
    f.write(raw[: len(raw) // 2])
with open(os.path.join(OUT, "bad_notprotobuf.onnx"), "wb") as f:
    f.write(b"not a model, just text\n")
# a cycle: two Relu nodes feeding each other
n = good_nodes()
n[1] = helper.make_node("Relu", ["c2"], ["r"], name="relu")
n.insert(2, helper.make_node("Relu", ["r"], ["c2"], name="relu_back"))
save(model(n, good_inits(), check=False), "bad_cycle.onnx")
# a missing initializer: the conv weights are named but not stored
save(model(good_nodes(), good_inits()[1:], check=False), "bad_missing_init.onnx")
# an unsupported operator at the end
n = good_nodes()
n[-1].output[0] = "logits"
n.append(helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1))
save(model(n, good_inits()), "bad_unsupported_op.onnx")
# a grouped convolution (group 2 on 2 input channels)
save(model(good_nodes({"pads": [1, 1, 1, 1], "group": 2}),
           [init("W", 4, 1, 3, 3), init("B", 4), init("FW", 5, 64), init("FB", 5)],
           inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8, 8])]), "bad_grouped_conv.onnx")
save(model(good_nodes({"pads": [1, 1, 1, 1], "dilations": [2, 2]}), good_inits(), check=False),
     "bad_dilated_conv.onnx")
save(model(good_nodes({"pads": [1, 1, 0, 0]}), good_inits(), check=False), "bad_asymmetric_pads.onnx")
save(model(good_nodes(pool_attrs={"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}), good_inits()),
     "bad_ceil_mode.onnx")
save(model(good_nodes(), good_inits(),
           outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5]),
                    helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 8, 8])]), "bad_two_outputs.onnx")
save(model(good_nodes(), good_inits(),
           inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", 8])]), "bad_dynamic_shape.onnx")
save(model(good_nodes(), good_inits(), opset=7, check=False), "bad_opset.onnx")

# ---- good variants, forward checked against numpy by onnx_check ------------
# (forms torch does not export: MatMul without bias, a scalar Gemm bias,
# Reshape to (0, -1) from a Constant node, the Gelu operator of opset 20,
# typed float32 data, strided Conv and AveragePool)
from math import erf, sqrt


def np_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    m, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, m, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


def np_pool(x, k, stride, op):
    n, c, h, wd = x.shape
    ho, wo = (h - k) // stride + 1, (wd - k) // stride + 1
    y = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, :, i, j] = op(x[:, :, i * stride:i * stride + k, j * stride:j * stride + k], axis=(2, 3))
    return y


def f64(name, a, typed=False):
    a = np.asarray(a, dtype=np.float64)
    if typed:
        return helper.make_tensor(name, TensorProto.DOUBLE, a.shape, a.reshape(-1).tolist())
    return numpy_helper.from_array(a, name)


manifest = []
xs = rng.standard_normal((6, 1, 8, 8))
W1, B1 = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
M1 = rng.standard_normal((3 * 2 * 2, 6))
G2, C2 = rng.standard_normal((6, 4)), 0.7
n = [helper.make_node("Conv", ["x", "W1", "B1"], ["c"], name="conv_s2", strides=[2, 2], pads=[1, 1, 1, 1]),
     helper.make_node("Gelu", ["c"], ["g"], name="gelu"),
     helper.make_node("AveragePool", ["g"], ["p"], name="avg", kernel_shape=[2, 2], strides=[2, 2]),
     helper.make_node("Constant", [], ["shape"], name="shape", value_ints=[0, -1]),
     helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"),
     helper.make_node("MatMul", ["f", "M1"], ["mm"], name="matmul_nobias"),
     helper.make_node("Gemm", ["mm", "G2", "C2"], ["y"], name="gemm_scalar_bias")]
inits = [f64("W1", W1), helper.make_tensor("B1", TensorProto.FLOAT, [3], B1.astype(np.float32).tolist()),
         f64("M1", M1, typed=True), f64("G2", G2), f64("C2", [C2])]
m = model(n, inits, inputs=[helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 1, 8, 8])],
          outputs=[helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 4])], opset=20, check=False)
save(m, "good_variants.onnx")
h = np_conv(xs, W1, B1.astype(np.float32).astype(np.float64), 2, 1)
h = 0.5 * h * (1.0 + np.vectorize(erf)(h / sqrt(2.0)))
h = np_pool(h, 2, 2, np.mean).reshape(6, -1)
y = (h @ M1) @ G2 + C2
xs.astype("<f8").tofile(os.path.join(OUT, "good_variants.x.bin"))
y.astype("<f8").tofile(os.path.join(OUT, "good_variants.y.bin"))
manifest.append("good_variants f64 6 4 0 0 0.1 1")
# the good model itself (float32 weights, float32 reference in float64 arithmetic)
ini = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in good.graph.initializer}
h = np.maximum(np_conv(xs, ini["W"], ini["B"], 1, 1), 0.0)
h = np_pool(h, 2, 2, np.max).reshape(6, -1)
y = h @ ini["FW"].T + ini["FB"]
xs.astype("<f8").tofile(os.path.join(OUT, "good.x.bin"))
y.astype("<f8").tofile(os.path.join(OUT, "good.y.bin"))
manifest.append("good f64 6 5 0 0 0.1 1")
with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("onnx_bad.py: wrote", len([f for f in os.listdir(OUT) if f.endswith(".onnx")]), "files to", OUT)
