#!/usr/bin/python3
"""onnx_bad.py — small ONNX files, one good and many bad, made with the onnx
package's helpers (no torch) for tests/cli_onnx.sh and as fuzzing seeds.

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
print("onnx_bad.py: wrote", len([f for f in os.listdir(OUT) if f.endswith(".onnx")]), "files to", OUT)
