"""nt_compare.py — ttpredict's exact Θ against neural-tangents' empirical NTK.

Run by benchmarks/nt_compare.sh inside a virtual environment holding jax,
jaxlib, neural-tangents and netCDF4:

    python nt_compare.py MODEL.nc DATA.nc KERNEL.nc [--reps R]

MODEL.nc and DATA.nc are ttpredict's model and dataset files; KERNEL.nc is
a kernel file holding `theta` (N·C × N·C, rows sample-major: row = i·C + c),
as `ttpredict predict --dynamics direct --save-kernel` or `ttpredict kernel
--theta` write it.  The network is rebuilt in JAX from the model file's
layers and its exact float64 weights (conv weights (out, in, kh, kw) then
the biases; dense (out, in) then the biases; cross-correlation with zero
padding, as in ttpredict's engine); only sequential networks of conv2d,
relu, gap, flatten and dense layers are accepted here.

Θ_nt = empirical_ntk_fn(f, trace_axes=(), vmap_axes=0,
implementation=STRUCTURED_DERIVATIVES) on CPU in float64, jitted; its time
is the best of R calls after a first one that compiles (reported apart).
Prints one line `nt_compare: N C D max_rel_err t_first t_best` that the
shell script reads, with max_rel_err = max|Θ_nt − Θ_ttp| / max|Θ_ttp|.
"""

import os
import sys
import time
import types

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import netCDF4  # noqa: E402

# neural-tangents' package imports its TensorFlow port (nt.experimental,
# through jax2tf) on import; the JAX functions used here do not need it, so
# the script installs neural-tangents without TensorFlow and stands an empty
# module in for that sub-package.
sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402

KINDS = {0: "dense", 1: "conv2d", 2: "relu", 3: "batchnorm", 4: "maxpool", 5: "avgpool", 6: "gap",
         7: "flatten", 8: "add"}


def read_model(path):
    with netCDF4.Dataset(path) as nc:
        kinds = [KINDS[int(k)] for k in nc["layer_kind"][:]]
        inp0 = [int(v) for v in nc["layer_input0"][:]]
        units = [int(v) for v in nc["layer_units"][:]]
        ker = [int(v) for v in nc["layer_kernel"][:]]
        stride = [int(v) for v in nc["layer_stride"][:]]
        pad = [int(v) for v in nc["layer_pad"][:]]
        train = [int(v) for v in nc["layer_trainable"][:]]
        nw = [int(v) for v in nc["layer_nweights"][:]]
        w = np.asarray(nc["params"][:], dtype=np.float64)
        shape = [int(v) for v in nc.getncattr("input_shape")]
    layers, params, off = [], [], 0
    chans = shape[0]
    for i, k in enumerate(kinds):
        if inp0[i] != i - 1:
            sys.exit(f"nt_compare: layer {i} ({k}) is not sequential; only sequential networks here")
        if k not in ("dense", "conv2d", "relu", "gap", "flatten"):
            sys.exit(f"nt_compare: layer {i}: kind {k} is not supported here")
        if nw[i] and not train[i]:
            sys.exit(f"nt_compare: layer {i} is frozen; only fully trainable networks here")
        if k == "conv2d":
            m, kk = units[i], ker[i]
            W = w[off:off + m * chans * kk * kk].reshape(m, chans, kk, kk)
            b = w[off + m * chans * kk * kk:off + nw[i]]
            params.append((jnp.asarray(W), jnp.asarray(b)))
            layers.append(("conv2d", stride[i], pad[i]))
            chans = m
        elif k == "dense":
            m = units[i]
            nin = (nw[i] - m) // m
            W = w[off:off + m * nin].reshape(m, nin)
            b = w[off + m * nin:off + nw[i]]
            params.append((jnp.asarray(W), jnp.asarray(b)))
            layers.append(("dense",))
        else:
            params.append(())
            layers.append((k,))
        off += nw[i]
    return layers, params, shape


def make_apply(layers):
    def apply(params, x):  # x: (B, C, H, W)
        h = x
        for (spec, p) in zip(layers, params):
            k = spec[0]
            if k == "conv2d":
                W, b = p
                h = jax.lax.conv_general_dilated(h, W, window_strides=(spec[1], spec[1]),
                                                 padding=[(spec[2], spec[2])] * 2,
                                                 dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                                 precision=jax.lax.Precision.HIGHEST)
                h = h + b[None, :, None, None]
            elif k == "relu":
                h = jax.nn.relu(h)  # derivative 0 at 0, as in ttpredict (jnp.maximum gives ½)
            elif k == "gap":
                h = jnp.mean(h, axis=(2, 3))
            elif k == "flatten":
                h = h.reshape(h.shape[0], -1)
            elif k == "dense":
                W, b = p
                h = h.reshape(h.shape[0], -1)
                h = jnp.dot(h, W.T, precision=jax.lax.Precision.HIGHEST) + b
        return h
    return apply


def main():
    args = sys.argv[1:]
    reps = 2
    if "--reps" in args:
        i = args.index("--reps")
        reps = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        sys.exit(__doc__)
    model, data, kernel = args
    layers, params, shape = read_model(model)
    with netCDF4.Dataset(data) as nc:
        x = jnp.asarray(np.asarray(nc["inputs"][:], dtype=np.float64))
    with netCDF4.Dataset(kernel) as nc:
        theta = np.asarray(nc["theta"][:], dtype=np.float64)
    n = x.shape[0]
    apply = make_apply(layers)
    c = int(apply(params, x[:1]).shape[1])
    d = sum(int(np.prod(a.shape)) for p in params for a in p)
    ntk = jax.jit(nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0,
                                      implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES))
    t = time.perf_counter()
    th = ntk(x, None, params).block_until_ready()
    t_first = time.perf_counter() - t
    t_best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        th = ntk(x, None, params).block_until_ready()
        t_best = min(t_best, time.perf_counter() - t)
    # (N, N, C, C) -> rows i·C + a, columns j·C + b
    th = np.asarray(th).transpose(0, 2, 1, 3).reshape(n * c, n * c)
    if th.shape != theta.shape:
        sys.exit(f"nt_compare: Θ shapes differ: neural-tangents {th.shape}, ttpredict {theta.shape}")
    err = float(np.max(np.abs(th - theta)) / np.max(np.abs(theta)))
    print(f"nt_compare: N {n} C {c} D {d} max_rel_err {err:.3e} t_first {t_first:.3f} t_best {t_best:.3f}")


if __name__ == "__main__":
    main()
