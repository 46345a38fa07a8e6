#!/usr/bin/python3
"""onnx_torch.py — reference values from PyTorch for the ONNX reader's tests.

    /usr/bin/python3 tests/onnx_torch.py OUTDIR

Builds four networks in torch with random weights (eval mode, batch-norm
running statistics made non-trivial), exports each with torch.onnx.export in
float64 and float32, and writes under OUTDIR (in the build tree; nothing
elsewhere) what tests/onnx_check.c compares against:

  CASE.onnx          the export (float64 or float32)
  CASE.x.bin         N inputs, float64 little-endian, (N, in) row-major
  CASE.y.bin         torch's outputs on them, (N, C), in the export's precision
  CASE.labels.bin    N class labels (float64) for the training step
  CASE.probe.onnx    (float64 cases) the same network whose k-th parameter
                     value, in torch's flat parameter order, is k: read by the
                     reader it gives the slab position of every torch parameter
  CASE.jac.bin       (float64) per-sample Jacobian rows of the first NJ inputs,
                     (NJ*C, P) in torch's parameter order, by autograd
  CASE.theta.bin     (float64) Θ = J Jᵀ, (NJ*C, NJ*C)
  CASE.step.onnx     (float64) the network after one SGD step on the N inputs:
                     the mean cross-entropy over the batch (ttp_train.h's
                     conventions), full batch, learning rate LR
  manifest.txt       one line per case: name dtype N C P NJ LR fwd_only

Every supported operator and activation appears in at least one network.
ONNX stores LeakyRelu's alpha and BatchNormalization's epsilon as float32
attributes, so the networks use values float32 holds exactly (0.25, 2^-10):
otherwise the export itself differs from the torch model by ~1e-9.
A variant of the MLP ("mlp_edit") is rewritten at the ONNX level to carry
what torch never emits: Gemm with transB = 0, alpha and beta; a Dropout and
an Identity; a Constant node; typed (non-raw) double data; a bool input.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(13)
np.random.seed(13)
N, NJ, LR = 12, 3, 0.1


def randomize_bn(model):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = 1.0 + 0.3 * torch.randn(c, dtype=m.weight.dtype)
            m.bias.data = 0.2 * torch.randn(c, dtype=m.weight.dtype)
            m.running_mean = 0.3 * torch.randn(c, dtype=m.weight.dtype)
            m.running_var = 0.5 + torch.rand(c, dtype=m.weight.dtype)
            # ONNX stores epsilon as a float32 attribute: an eps that float32
            # holds exactly keeps the export the same function as the model
            m.eps = 2.0**-10


class MLP(nn.Module):
    """Gemm, MatMul + Add, Tanh, Sigmoid, LeakyRelu."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.W = nn.Parameter(0.4 * torch.randn(16, 10))
        self.b = nn.Parameter(0.1 * torch.randn(10))
        self.fc2 = nn.Linear(10, 9)
        self.fc3 = nn.Linear(9, 5)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.drop(torch.tanh(self.fc1(x)))
        h = torch.sigmoid(h @ self.W + self.b)
        h = F.leaky_relu(self.fc2(h), 0.25)
        return self.fc3(h)


class ConvBN(nn.Module):
    """Conv (padding, stride), BatchNormalization, MaxPool, AveragePool,
    LeakyRelu, GELU (the exact-erf subgraph), Reshape by x.view(N, -1), Gemm."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.c2 = nn.Conv2d(6, 8, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.c3 = nn.Conv2d(8, 8, 2, stride=2)
        self.fc = nn.Linear(8, 6)
        self.gelu = nn.GELU()

    def forward(self, x):  # (N,3,8,8)
        h = F.leaky_relu(self.bn1(self.c1(x)), 0.0625)  # (6,8,8)
        h = F.max_pool2d(h, 2)  # (6,4,4)
        h = self.gelu(self.bn2(self.c2(h)))  # (8,4,4)
        h = F.avg_pool2d(h, 2, stride=1)  # (8,3,3)
        h = torch.tanh(self.c3(h))  # (8,1,1)
        return self.fc(h.view(h.size(0), -1))  # Shape/Gather/Unsqueeze/Concat -> Reshape


class Residual(nn.Module):
    """A residual block (Add of two tensors), Sigmoid, GlobalAveragePool,
    Reshape that flattens, ReLU, GELU."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 7)
        self.fc2 = nn.Linear(7, 3)
        self.gelu = nn.GELU()

    def forward(self, x):  # (N,4,6,6)
        h = torch.relu(self.bn1(self.c1(x)))
        h = self.bn2(self.c2(h))
        h = torch.sigmoid(h + x)
        h = F.adaptive_avg_pool2d(h, 1).reshape(-1, 4)
        return self.fc2(self.gelu(self.fc(h)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, act):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = act
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.act(self.bn1(self.c1(x)))
        h = self.bn2(self.c2(h))
        return self.act(h + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """The ResNet-18 layout (BasicBlocks [2, 2, 2, 2], 1x1 downsampling
    convolutions), narrow (widths 8..64) at a 32x32 input."""

    def __init__(self, widths=(8, 16, 32, 64), classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.bn = nn.BatchNorm2d(widths[0])
        acts = [nn.ReLU(), nn.ReLU(), nn.LeakyReLU(0.125), nn.GELU()]
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(2):
                blocks.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1, acts[i]))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        h = self.blocks(h)
        h = F.adaptive_avg_pool2d(h, 1)
        return self.fc(torch.flatten(h, 1))


def export(model, x, path, opset):
    model.eval()
    torch.onnx.export(model, x[:2], path, opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                      do_constant_folding=True)


def write(path, arr):
    np.ascontiguousarray(np.asarray(arr, dtype="<f8")).tofile(path)


def jacobian(model, x):
    params = list(model.parameters())
    rows = []
    for i in range(x.shape[0]):
        out = model(x[i:i + 1])
        for c in range(out.shape[1]):
            g = torch.autograd.grad(out[0, c], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows)


def probe_copy(model):
    import copy
    m = copy.deepcopy(model)
    k = 0
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.arange(k, k + p.numel(), dtype=p.dtype).reshape(p.shape))
            k += p.numel()
    return m


def sgd_step(model, x, y):
    import copy
    m = copy.deepcopy(model)
    m.eval()  # inference batch norm and no dropout, as ttpredict trains
    loss = F.cross_entropy(m(x), y)  # mean over the batch
    grads = torch.autograd.grad(loss, list(m.parameters()))
    with torch.no_grad():
        for p, g in zip(m.parameters(), grads):
            p -= LR * g
    return m


manifest = []


def case(name, model64, in_shape, opset):
    randomize_bn(model64)
    model64.eval()
    x = torch.randn((N,) + in_shape, dtype=torch.float64)
    with torch.no_grad():
        y64 = model64(x)
    C = y64.shape[1]
    labels = torch.randint(0, C, (N,))
    P = sum(p.numel() for p in model64.parameters())
    base = os.path.join(OUT, name)
    # float64
    export(model64, x, base + ".onnx", opset)
    write(base + ".x.bin", x.numpy())
    write(base + ".y.bin", y64.numpy())
    write(base + ".labels.bin", labels.numpy())
    export(probe_copy(model64), x, base + ".probe.onnx", opset)
    J = jacobian(model64, x[:NJ])
    write(base + ".jac.bin", J.numpy())
    write(base + ".theta.bin", (J @ J.T).numpy())
    export(sgd_step(model64, x, labels), x, base + ".step.onnx", opset)
    manifest.append(f"{name} f64 {N} {C} {P} {NJ} {LR} 0")
    # float32: the same weights rounded, evaluated by torch in float32
    import copy
    m32 = copy.deepcopy(model64).float().eval()
    x32 = x.float()
    with torch.no_grad():
        y32 = m32(x32)
    export(m32, x32, base + "_f32.onnx", opset)
    write(base + "_f32.x.bin", x32.double().numpy())
    write(base + "_f32.y.bin", y32.double().numpy())
    manifest.append(f"{name}_f32 f32 {N} {C} {P} 0 {LR} 1")
    return base, x, y64


def edit_mlp(src, dst):
    """The MLP rewritten with what torch does not emit; same function."""
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    gemm = next(n for n in g.node if n.op_type == "Gemm")
    B = numpy_helper.to_array(inits[gemm.input[1]])
    C = numpy_helper.to_array(inits[gemm.input[2]])
    # transB = 0 with B stored transposed, alpha 0.5 with B doubled, beta 4 with C quartered
    for a in list(gemm.attribute):
        gemm.attribute.remove(a)
    gemm.attribute.extend([helper.make_attribute("transB", 0), helper.make_attribute("alpha", 0.5),
                           helper.make_attribute("beta", 4.0)])
    nb = onnx.TensorProto()
    nb.name, nb.data_type = gemm.input[1] + "_t", onnx.TensorProto.DOUBLE
    nb.dims.extend((2.0 * B).T.shape)
    nb.double_data.extend((2.0 * B).T.reshape(-1).tolist())  # typed, not raw
    g.initializer.append(nb)
    gemm.input[1] = nb.name
    g.initializer.remove(inits[gemm.input[2]])
    cn = helper.make_node("Constant", [], [gemm.input[2] + "_c"], name="bias_const",
                          value=numpy_helper.from_array(C / 4.0))
    gemm.input[2] = cn.output[0]
    g.node.insert(0, cn)
    # Dropout (with ratio and a false training_mode) and Identity after the first Tanh
    tanh = next(n for n in g.node if n.op_type == "Tanh")
    t = tanh.output[0]
    for n in g.node:
        for i, s in enumerate(n.input):
            if s == t:
                n.input[i] = t + "_id"
    g.initializer.append(numpy_helper.from_array(np.array(0.5, dtype=np.float64), "drop_ratio"))
    g.initializer.append(numpy_helper.from_array(np.array(False), "drop_training"))
    pos = list(g.node).index(tanh) + 1
    g.node.insert(pos, helper.make_node("Dropout", [t, "drop_ratio", "drop_training"], [t + "_d"], name="drop"))
    g.node.insert(pos + 1, helper.make_node("Identity", [t + "_d"], [t + "_id"], name="ident"))
    onnx.checker.check_model(m)
    onnx.save(m, dst)


base, x, y = case("mlp", MLP().double(), (12,), 13)
edit_mlp(base + ".onnx", os.path.join(OUT, "mlp_edit.onnx"))
write(os.path.join(OUT, "mlp_edit.x.bin"), x.numpy())
write(os.path.join(OUT, "mlp_edit.y.bin"), y.numpy())
manifest.append(f"mlp_edit f64 {N} {y.shape[1]} 0 0 {LR} 1")
case("convbn", ConvBN().double(), (3, 8, 8), 11)
case("residual", Residual().double(), (4, 6, 6), 17)
case("resnet18", ResNet18().double(), (3, 32, 32), 14)
# the exports together use every operator the reader maps (Gelu appears as
# its Div/Erf/Add/Mul subgraph: torch 1.13 has no opset with the Gelu op)
seen = set()
for fn in os.listdir(OUT):
    if fn.endswith(".onnx"):
        seen |= {n.op_type for n in onnx.load(os.path.join(OUT, fn)).graph.node}
want = {"Gemm", "MatMul", "Add", "Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
        "Flatten", "Reshape", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Div", "Erf", "Mul", "Identity", "Dropout",
        "Constant", "Shape", "Gather", "Unsqueeze", "Concat"}
assert want <= seen, "operators not exercised: %s" % sorted(want - seen)
with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("onnx_torch.py: wrote", len(manifest), "cases to", OUT)
