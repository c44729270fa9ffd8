"""Neural-network ops: activations with stable gradients, softmax, and the fused Dense op."""

from __future__ import annotations

import math as _pymath
import warnings

import numpy as np

from fastkeras import _core
from fastkeras.backend.config import floatx
from fastkeras.backend.tape import (
    UPDATED_IN_PLACE,
    Tensor,
    backward_pass_id,
    convert_to_tensor,
    in_place_update_scale,
    make_op,
    reuse_gradient_buffers,
)
from fastkeras.ops.math import _float, _select, _t

__all__ = [
    "dense",
    "elu",
    "exponential",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "one_hot",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


def _act(x, forward, derivative, passes=None):
    """An elementwise activation; derivative(x, y) gives dy/dx. With `passes(x, y)` (a
    piecewise-linear one whose slope is 0 or 1), the gradient is selected where it passes,
    so an infinite gradient gives 0 where the slope is 0 (not NaN), as in Keras."""
    x = _t(x)
    xv = _float(x)
    y = np.asarray(forward(xv), dtype=xv.dtype)
    if passes is not None:
        return make_op(y, (x,), lambda g, needs: (_select(passes(xv, y), g),))
    return make_op(y, (x,), lambda g, needs: (g * derivative(xv, y),))


def linear(x):
    return _t(x)


def relu(x):
    x = _t(x)
    if x.value.dtype.kind in "iu":  # integers stay integers, as in Keras
        return Tensor(np.maximum(x.value, 0).astype(x.value.dtype, copy=False))
    return _act(x, lambda v: np.maximum(v, 0), None, passes=lambda v, y: v > 0)


def relu6(x):
    return _act(x, lambda v: np.clip(v, 0, 6), None, passes=lambda v, y: (v > 0) & (v < 6))


def leaky_relu(x, negative_slope=0.2):
    return _act(x, lambda v: np.where(v >= 0, v, negative_slope * v),
                lambda v, y: np.where(v >= 0, 1.0, negative_slope).astype(v.dtype))


def _sigmoid_np(v):
    # exp of a non-positive number only: no overflow for either sign.
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e)).astype(v.dtype)


def sigmoid(x):
    x = _t(x)
    out = _act(x, _sigmoid_np, lambda v, y: y * (1 - y))
    out._keras_logits = x
    out._keras_logits_from = "sigmoid"
    return out


def hard_sigmoid(x):
    # Keras 3: relu6(x + 3) / 6
    return _act(x, lambda v: np.clip(v / 6 + 0.5, 0, 1),
                lambda v, y: ((v > -3) & (v < 3)).astype(v.dtype) / 6)


def hard_silu(x):
    return _act(x, lambda v: v * np.clip(v / 6 + 0.5, 0, 1),
                lambda v, y: np.where(v <= -3, 0, np.where(v >= 3, 1, v / 3 + 0.5)).astype(v.dtype))


hard_swish = hard_silu


def tanh(x):
    return _act(x, np.tanh, lambda v, y: 1 - y * y)


def exponential(x):
    return _act(x, np.exp, lambda v, y: y)


def elu(x, alpha=1.0):
    return _act(x, lambda v: np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0))),
                lambda v, y: np.where(v > 0, 1, y + alpha).astype(v.dtype))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    a, s = _SELU_ALPHA, _SELU_SCALE
    return _act(x, lambda v: s * np.where(v > 0, v, a * np.expm1(np.minimum(v, 0))),
                lambda v, y: np.where(v > 0, s, y + s * a).astype(v.dtype))


def softplus(x):
    return _act(x, lambda v: np.logaddexp(0, v), lambda v, y: _sigmoid_np(v))


def softsign(x):
    return _act(x, lambda v: v / (1 + np.abs(v)), lambda v, y: 1 / np.square(1 + np.abs(v)))


def _silu_grad(v, y):
    s = _sigmoid_np(v)
    return s * (1 + v * (1 - s))


def silu(x):
    return _act(x, lambda v: v * _sigmoid_np(v), _silu_grad)


swish = silu

_SQRT_2_OVER_PI = _pymath.sqrt(2 / _pymath.pi)
_erf = np.vectorize(_pymath.erf, otypes=[np.float64])


def gelu(x, approximate=True):
    if approximate:
        def fwd(v):
            return 0.5 * v * (1 + np.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)))

        def der(v, y):
            t = np.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v ** 3))
            return (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _SQRT_2_OVER_PI *
                    (1 + 3 * 0.044715 * v * v)).astype(v.dtype)
        return _act(x, fwd, der)

    def fwd(v):
        return (0.5 * v * (1 + _erf(v / _pymath.sqrt(2)))).astype(v.dtype)

    def der(v, y):
        cdf = 0.5 * (1 + _erf(v / _pymath.sqrt(2)))
        pdf = np.exp(-0.5 * v * v) / _pymath.sqrt(2 * _pymath.pi)
        return (cdf + v * pdf).astype(v.dtype)
    return _act(x, fwd, der)


def _inferring_shapes() -> bool:
    from fastkeras.layers.input_layer import inferring_shapes
    return inferring_shapes()


def softmax(x, axis=-1):
    x = _t(x)
    xv = _float(x)
    if isinstance(axis, int) and -xv.ndim <= axis < xv.ndim and xv.shape[axis] == 1 and \
            not _inferring_shapes():
        # (`Dense(1, activation="softmax")` for two classes: always 1, so nothing is learned;
        # as Keras, said on a real call, with its shape, not on the shape-inference probes)
        warnings.warn(f"You are using a softmax over axis {axis} of a tensor of shape "
                      f"{tuple(xv.shape)}. This axis has size 1. The softmax operation will "
                      "always return the value 1, which is likely not what you intended. Did "
                      "you mean to use a sigmoid instead?", stacklevel=2)
    if xv.ndim == 2 and axis in (-1, 1) and xv.flags.c_contiguous and xv.dtype == np.float32:
        y = _core.softmax_rows(xv)  # the usual classifier output: one kernel call
    else:
        z = xv - xv.max(axis=axis, keepdims=True)
        e = np.exp(z)
        y = e / e.sum(axis=axis, keepdims=True)

    def backward(g, needs):
        return (y * (g - (g * y).sum(axis=axis, keepdims=True)),)

    out = make_op(y, (x,), backward)
    if axis in (-1, xv.ndim - 1):
        out._keras_logits = x
        out._keras_logits_from = "softmax"
    return out


def log_softmax(x, axis=-1):
    x = _t(x)
    xv = _float(x)
    z = xv - xv.max(axis=axis, keepdims=True)
    y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    def backward(g, needs):
        return (g - np.exp(y) * g.sum(axis=axis, keepdims=True),)

    return make_op(y, (x,), backward)


def one_hot(x, num_classes, axis=-1, dtype="float32", sparse=False):
    """A one-hot encoding of the integer labels x along a new `axis`. A label outside
    [0, num_classes) (-1 included) gives a row of zeros, as in Keras."""
    if sparse:
        raise ValueError(f"Sparse outputs are not supported. Received: sparse={sparse!r}")
    idx = np.asarray(x.value if isinstance(x, Tensor) else x).astype(np.int64)
    out = (idx[..., None] == np.arange(int(num_classes))).astype(dtype or floatx())
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor(out)


def _gemm_ready(a) -> bool:
    """Whether the GEMM kernel reads the 2-D float32 `a` in place: one axis of unit stride,
    the other a positive whole number of floats spanning it (a C or Fortran array, or a slice
    of one along its outer axis)."""
    if a.ndim != 2 or 0 in a.shape:
        return True
    (rows, cols), (s0, s1) = a.shape, a.strides
    if (cols <= 1 or s1 == 4) and (rows <= 1 or (s0 > 0 and s0 % 4 == 0 and s0 // 4 >= cols)):
        return True
    return (rows <= 1 or s0 == 4) and (cols <= 1 or (s1 > 0 and s1 % 4 == 0
                                                     and s1 // 4 >= rows))


def dense(x, kernel, bias=None, relu=False):
    """act(x @ kernel + bias) for 2-D x in one GEMM call (bias and relu fused); backward is one
    dense_backward call writing the kernel/bias gradients into buffers the variables own."""
    x = convert_to_tensor(x)
    xv = x.value
    if xv.dtype != np.float32:
        if xv.dtype.kind in "USO":  # as Keras: text is not a number ("1.5" is not parsed)
            raise ValueError(f"Invalid dtype: {xv.dtype} (a Dense layer takes numbers; map "
                             "text to numbers first, e.g. with StringLookup or "
                             "TextVectorization)")
        xv = xv.astype(np.float32)
    if not _gemm_ready(xv):  # e.g. a reversed or stepped slice (`t[:, ::2]`): copied once
        xv = np.ascontiguousarray(xv)
    w = kernel.value
    bv = bias.value if bias is not None else None
    y = np.empty((xv.shape[0], w.shape[1]), dtype=np.float32)
    _core.gemm(xv, w, y, False, False, 1.0, 0.0, bv, "relu" if relu else None)

    def backward(g, needs):
        xc = xv if xv.flags.c_contiguous else np.ascontiguousarray(xv)
        reuse = reuse_gradient_buffers()
        pass_id = backward_pass_id()

        def grad_out(var):
            return var.grad_buffer(pass_id) if reuse else np.empty_like(var.value)

        dx, dw, db = dense_backward_step(
            xc, w, bv, y, g, relu, needs[0],
            in_place_update_scale(kernel) if needs[1] else None,
            in_place_update_scale(bias) if bias is not None and needs[2] else None,
            lambda: (grad_out(kernel) if needs[1] else None,
                     grad_out(bias) if bias is not None and needs[2] else None))
        return (dx, dw) if bias is None else (dx, dw, db)

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)


def dense_backward_step(x, w, b, y, g, relu, need_dx, alpha_w, alpha_b, buffers):
    """A Dense layer's backward in one kernel call, for the tape's Dense op and the training
    loop's Dense chain (trainers/dense_chain.py).

    x: the C-contiguous input, w/b: the kernel and bias arrays (b may be None), y: the output
    (read for relu's mask), g: the output gradient. alpha_w/alpha_b: the plain-SGD scales of the
    kernel and bias this step (None: no in-place step). When the kernel has one and the bias, if
    any, the same, both step in place as the GEMM computes their gradient (dx from the kernel as
    it was) and come back as UPDATED_IN_PLACE; otherwise `buffers()` gives the (dw, db) arrays
    to fill (None for a gradient not wanted). Returns (dx or None, dw, db)."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    dx = np.empty_like(x) if need_dx else None
    if alpha_w is not None and (b is None or alpha_b == alpha_w):
        _core.dense_backward(x, w, y, g, relu, dx, w, b, 1.0, alpha_w)
        return dx, UPDATED_IN_PLACE, None if b is None else UPDATED_IN_PLACE
    dw, db = buffers()
    _core.dense_backward(x, w, y, g, relu, dx, dw, db)
    return dx, dw, db
