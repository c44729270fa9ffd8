"""Normalization and padding/repetition ops with their gradients.

Batch normalization runs on the fused C++ kernels for float32 data (any axis, no transposes);
other float dtypes (float64, used by the gradient checks) take an equivalent numpy path.
"""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.backend.config import epsilon as backend_epsilon
from fastkeras.backend.tape import Tensor, make_op
from fastkeras.ops.math import _float, _t
from fastkeras.ops.math import mean as _mean
from fastkeras.ops.math import square as _square
from fastkeras.ops.math import squeeze as _squeeze
from fastkeras.ops.math import subtract as _subtract

__all__ = [
    "batch_normalization",
    "fused_batch_normalization",
    "layer_normalization",
    "moments",
    "pad",
    "repeat",
]



def _axis_index(axis, ndim, arg="axis"):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"Argument `{arg}` must be an integer. Received: {arg}={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"Argument `{arg}` is out of range for an input of rank {ndim}. "
                         f"Received: {arg}={axis}")
    return int(axis) % ndim


def _channel_shape(ndim, axis, c):
    shape = [1] * ndim
    shape[axis] = c
    return tuple(shape)


def _reduce_axes(ndim, axis):
    return tuple(d for d in range(ndim) if d != axis)


def _vec(v, c, name):
    """A per-channel parameter (Tensor/array/None) as a 1-D array of length c, or None."""
    if v is None:
        return None
    arr = v.value if isinstance(v, Tensor) else np.asarray(v)
    if arr.ndim == 0:
        arr = np.full((c,), arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float32)
    arr = arr.reshape(-1)
    if arr.shape[0] != c:
        raise ValueError(f"`{name}` must have one value per channel ({c}); received shape "
                         f"{np.shape(v)}")
    return arr


def _kernel_ok(*arrays):
    return all(a is None or a.dtype == np.float32 for a in arrays)


def _c32(a):
    return None if a is None else np.ascontiguousarray(a, dtype=np.float32)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset` with per-channel vectors along
    `axis` (Keras's `ops.batch_normalization`). Differentiable in x, mean, variance, offset and
    scale; mean and variance are constants of the op (no gradient flows from them into x)."""
    x = _t(x)
    xv = _float(x)
    ax = _axis_index(axis, xv.ndim)
    c = xv.shape[ax]
    mv, vv = _vec(mean, c, "mean"), _vec(variance, c, "variance")
    sv, ov = _vec(scale, c, "scale"), _vec(offset, c, "offset")
    eps = float(epsilon)
    if _kernel_ok(xv, mv, vv, sv, ov):
        xc = np.ascontiguousarray(xv)
        mc, vc, sc, oc = _c32(mv), _c32(vv), _c32(sv), _c32(ov)
        y = _core.batchnorm_forward_infer(xc, ax, mc, vc, sc, oc, eps)
        inv = (1.0 / np.sqrt(vc.astype(np.float64) + eps)).astype(np.float32)
    else:
        dt = np.result_type(*(a for a in (xv, mv, vv, sv, ov) if a is not None))
        bshape = _channel_shape(xv.ndim, ax, c)
        inv = 1.0 / np.sqrt(vv.astype(dt) + eps)
        y = (xv - mv.reshape(bshape)) * (inv if sv is None else inv * sv).reshape(bshape)
        if ov is not None:
            y = y + ov.reshape(bshape)
        y = y.astype(dt, copy=False)
        xc = mc = sc = None

    parents = [x]
    roles = []
    for role, p in (("mean", mean), ("variance", variance), ("offset", offset), ("scale", scale)):
        if isinstance(p, Tensor):
            parents.append(p)
            roles.append(role)

    def backward(g, needs):
        want = dict(zip(roles, needs[1:]))
        need_x = needs[0]
        need_scale = want.get("scale", False)
        need_offset = want.get("offset", False)
        need_mean = want.get("mean", False)
        need_var = want.get("variance", False)
        bshape = _channel_shape(xv.ndim, ax, c)
        red = _reduce_axes(xv.ndim, ax)
        need_sums = need_scale or need_offset or need_mean or need_var
        if xc is not None:
            gc = np.ascontiguousarray(g, dtype=np.float32)
            dx, s_dyxh, s_dy = _core.batchnorm_backward(
                xc, gc, ax, mc, inv, sc, False, need_x, need_sums, need_sums)
        else:
            xhat = (xv - mv.reshape(bshape)) * inv.reshape(bshape)
            a = inv if sv is None else inv * sv
            dx = g * a.reshape(bshape) if need_x else None
            s_dyxh = (g * xhat).sum(axis=red) if need_sums else None
            s_dy = g.sum(axis=red) if need_sums else None
        grads = {}
        sfac = 1.0 if sv is None else sv
        if need_mean:
            grads["mean"] = (-(sfac * inv) * s_dy).reshape(np.shape(mean.value))
        if need_var:
            grads["variance"] = (-0.5 * sfac * inv * inv * s_dyxh).reshape(
                np.shape(variance.value))
        if need_offset:
            grads["offset"] = s_dy.reshape(np.shape(offset.value))
        if need_scale:
            grads["scale"] = s_dyxh.reshape(np.shape(scale.value))
        return (dx,) + tuple(grads.get(r) for r in roles)

    return make_op(y, parents, backward)


def fused_batch_normalization(x, scale=None, offset=None, axis=-1, epsilon=1e-3):
    """Training-mode batch normalization: normalizes x with its own per-channel batch mean and
    biased variance (over every axis but `axis`), in one fused kernel.

    Returns `(outputs, mean, variance)`. The gradient of `outputs` flows into x through the batch
    statistics as well as directly, and into scale and offset; the returned mean and variance
    are plain values (for updating moving averages) and carry no gradient.
    """
    x = _t(x)
    xv = _float(x)
    ax = _axis_index(axis, xv.ndim)
    c = xv.shape[ax]
    sv, ov = _vec(scale, c, "scale"), _vec(offset, c, "offset")
    eps = float(epsilon)
    bshape = _channel_shape(xv.ndim, ax, c)
    red = _reduce_axes(xv.ndim, ax)
    use_kernel = _kernel_ok(xv, sv, ov)
    if use_kernel:
        xc = np.ascontiguousarray(xv)
        sc, oc = _c32(sv), _c32(ov)
        y, bmean, bvar, inv = _core.batchnorm_forward_train(xc, ax, sc, oc, eps)
    else:
        dt = np.result_type(*(a for a in (xv, sv, ov) if a is not None))
        xc, sc = xv.astype(dt, copy=False), sv
        n = xv.size // c if c else 0
        if n:
            bmean = xc.mean(axis=red)
            bvar = np.square(xc - bmean.reshape(bshape)).mean(axis=red)
        else:
            bmean = np.zeros((c,), dt)
            bvar = np.zeros((c,), dt)
        inv = 1.0 / np.sqrt(bvar + eps)
        y = (xc - bmean.reshape(bshape)) * (inv if sv is None else inv * sv).reshape(bshape)
        if ov is not None:
            y = y + ov.reshape(bshape)
        y = y.astype(dt, copy=False)

    parents = [x]
    roles = []
    for role, p in (("offset", offset), ("scale", scale)):
        if isinstance(p, Tensor):
            parents.append(p)
            roles.append(role)

    def backward(g, needs):
        want = dict(zip(roles, needs[1:]))
        need_x = needs[0]
        need_scale = want.get("scale", False)
        need_offset = want.get("offset", False)
        if use_kernel:
            gc = np.ascontiguousarray(g, dtype=np.float32)
            dx, dscale, doffset = _core.batchnorm_backward(
                xc, gc, ax, bmean, inv, sc, True, need_x, need_scale, need_offset)
        else:
            n = xv.size // c if c else 1
            xhat = (xc - bmean.reshape(bshape)) * inv.reshape(bshape)
            s_dy = g.sum(axis=red)
            s_dyxh = (g * xhat).sum(axis=red)
            a = inv if sc is None else inv * sc
            dx = None
            if need_x:
                dx = a.reshape(bshape) * (g - (s_dy / n).reshape(bshape)
                                          - xhat * (s_dyxh / n).reshape(bshape))
            dscale, doffset = s_dyxh, s_dy
        grads = {}
        if need_offset:
            grads["offset"] = doffset.reshape(np.shape(offset.value))
        if need_scale:
            grads["scale"] = dscale.reshape(np.shape(scale.value))
        return (dx,) + tuple(grads.get(r) for r in roles)

    out = make_op(y, parents, backward)
    return out, Tensor(np.asarray(bmean)), Tensor(np.asarray(bvar))


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and (biased) variance of x over `axes`, both differentiable (Keras's
    `ops.moments`). `synchronized` has no effect on one device."""
    x = _t(x)
    if isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    axes = tuple(int(a) for a in axes)
    m = _mean(x, axis=axes, keepdims=True)
    v = _mean(_square(_subtract(x, m)), axis=axes, keepdims=keepdims)
    if not keepdims:
        m = _squeeze(m, axis=tuple(a % x.ndim for a in axes))
    return m, v


def _value(v):
    return v.value if isinstance(v, Tensor) else np.asarray(v)


def _norm_axes(axis, ndim):
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if not axes:
        raise ValueError(f"Argument `axis` must name at least one axis. Received: axis={axis!r}")
    out = []
    for a in axes:
        out.append(_axis_index(a, ndim))
    if len(set(out)) != len(out):
        raise ValueError(f"Argument `axis` has repeated axes. Received: axis={axis!r}")
    return sorted(out)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False):
    """Normalizes each sample over `axis` (an int or a list of ints): `(x - mean) / sqrt(var +
    epsilon) * gamma + beta`, statistics per sample (Keras's `ops.layer_normalization`).

    gamma and beta span the normalized axes (shape `[x.shape[a] for a in sorted(axis)]`).
    With `rms_scaling=True` the output is `x / sqrt(var + epsilon) * gamma` (no centering of
    the output, no beta), using the variance as Keras does.
    """
    x = _t(x)
    xv = _float(x)
    nd = xv.ndim
    axes = _norm_axes(axis, nd)
    eps = backend_epsilon() if epsilon is None else float(epsilon)
    red = tuple(axes)
    batch_axes = tuple(d for d in range(nd) if d not in axes)
    pshape = tuple(xv.shape[d] if d in axes else 1 for d in range(nd))
    gv = None if gamma is None else _value(gamma)
    bv = None if beta is None or rms_scaling else _value(beta)
    dt = np.result_type(*(a for a in (xv, gv, bv) if a is not None))
    xw = xv.astype(dt, copy=False)
    g_b = None if gv is None else gv.astype(dt, copy=False).reshape(pshape)
    b_b = None if bv is None else bv.astype(dt, copy=False).reshape(pshape)
    n = int(np.prod([xv.shape[d] for d in axes]))
    mu = xw.mean(axis=red, keepdims=True)
    xc = xw - mu
    var = np.square(xc).mean(axis=red, keepdims=True)
    inv = (1.0 / np.sqrt(var + eps)).astype(dt, copy=False)
    if rms_scaling:
        base = xw * inv
    else:
        base = xc * inv
    y = base if g_b is None else base * g_b
    if b_b is not None:
        y = y + b_b
    y = np.asarray(y, dtype=dt)

    parents = [x]
    roles = []
    if isinstance(gamma, Tensor):
        parents.append(gamma)
        roles.append("gamma")
    if isinstance(beta, Tensor) and not rms_scaling:
        parents.append(beta)
        roles.append("beta")

    def backward(g, needs):
        want = dict(zip(roles, needs[1:]))
        dbase = g if g_b is None else g * g_b
        dx = None
        if needs[0]:
            if rms_scaling:
                # base = x * inv(x), d inv / dx = -inv^3 (x - mean) / n.
                s = (dbase * xw).sum(axis=red, keepdims=True)
                dx = dbase * inv - (inv ** 3) * xc * (s / n)
            else:
                xhat = base
                m1 = dbase.mean(axis=red, keepdims=True)
                m2 = (dbase * xhat).mean(axis=red, keepdims=True)
                dx = inv * (dbase - m1 - xhat * m2)
        out = [dx]
        for r in roles:
            if not want.get(r):
                out.append(None)
            elif r == "gamma":
                out.append((g * base).sum(axis=batch_axes).reshape(np.shape(gamma.value)))
            else:
                out.append(g.sum(axis=batch_axes).reshape(np.shape(beta.value)))
        return tuple(out)

    return make_op(y, parents, backward)


def _pad_width(pad_width, ndim):
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((ndim, 2), int(pw))
    elif pw.shape in ((2,), (1, 2)):
        pw = np.tile(pw.reshape(2), (ndim, 1))
    if pw.shape != (ndim, 2):
        raise ValueError(f"Argument `pad_width` must give (before, after) for each of the {ndim} "
                         f"axes. Received: pad_width={pad_width!r}")
    if (pw < 0).any():
        raise ValueError(f"Argument `pad_width` cannot be negative. Received: "
                         f"pad_width={pad_width!r}")
    return [tuple(int(v) for v in row) for row in pw]


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pads x (numpy's `pad`, Keras's `ops.pad`). Differentiable for the modes that copy
    elements: constant, edge, reflect, symmetric and wrap."""
    x = _t(x)
    xv = x.value if x.value.dtype.kind != "f" else _float(x)
    pw = _pad_width(pad_width, xv.ndim)
    if mode == "constant":
        cv = 0 if constant_values is None else constant_values
        out = np.pad(xv, pw, mode="constant", constant_values=cv)
        inner = tuple(slice(b, b + n) for (b, _), n in zip(pw, xv.shape))

        def backward(g, needs):
            return (np.ascontiguousarray(g[inner]),)
    elif mode in ("edge", "reflect", "symmetric", "wrap"):
        if constant_values is not None:
            raise ValueError(f"Argument `constant_values` can only be used with "
                             f"mode='constant'. Received: mode={mode!r}")
        out = np.pad(xv, pw, mode=mode)
        index = np.pad(np.arange(xv.size).reshape(xv.shape), pw, mode=mode)

        def backward(g, needs):
            flat = np.bincount(index.reshape(-1), weights=np.asarray(g).reshape(-1),
                               minlength=xv.size)
            return (flat.reshape(xv.shape).astype(g.dtype, copy=False),)
    else:
        raise ValueError(f"Argument `mode` must be one of 'constant', 'edge', 'reflect', "
                         f"'symmetric' or 'wrap'. Received: mode={mode!r}")
    if xv.dtype.kind != "f":
        return Tensor(out)
    return make_op(out, (x,), backward)


def repeat(x, repeats, axis=None):
    """Repeats each element of x `repeats` times along `axis` (flattened when None), as numpy's
    and Keras's `repeat`."""
    x = _t(x)
    xv = x.value if x.value.dtype.kind != "f" else _float(x)
    src = xv.reshape(-1) if axis is None else xv
    ax = 0 if axis is None else _axis_index(axis, xv.ndim)
    reps = repeats.value if isinstance(repeats, Tensor) else repeats
    out = np.repeat(src, reps, axis=ax)
    n = src.shape[ax]

    def backward(g, needs):
        if np.ndim(reps) == 0 or np.size(reps) == 1:
            r = int(np.reshape(reps, -1)[0])
            shape = src.shape[:ax] + (n, r) + src.shape[ax + 1:]
            grad = g.reshape(shape).sum(axis=ax + 1)
        else:
            owner = np.repeat(np.arange(n), np.asarray(reps).reshape(-1))
            moved = np.moveaxis(g, ax, 0)
            acc = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
            np.add.at(acc, owner, moved)
            grad = np.moveaxis(acc, 0, ax)
        return (np.ascontiguousarray(grad).reshape(xv.shape),)

    if xv.dtype.kind != "f":
        return Tensor(out)
    return make_op(out, (x,), backward)
