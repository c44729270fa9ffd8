"""Differentiable 2-D convolution and pooling (NHWC), each one C++ call per direction."""

from __future__ import annotations

import math

import numpy as np

from fastkeras import _core
from fastkeras.backend.tape import (
    Tensor,
    convert_to_tensor,
    grad_enabled,
    make_op,
    weight_gradient_buffer,
)

__all__ = [
    "avg_pool2d",
    "conv2d",
    "conv2d_transpose",
    "conv_output_length",
    "max_pool2d",
    "same_padding",
]

# While recording, a convolution's im2col columns up to this many floats (16 MB) are kept from
# the forward pass for the kernel gradient instead of being rebuilt by the backward pass.
_KEEP_COL_FLOATS = 4 << 20


def conv_output_length(size, kernel, stride, dilation, padding):
    """Keras's output length for 'valid' / 'same' (None stays None)."""
    if size is None:
        return None
    span = dilation * (kernel - 1) + 1
    if padding == "same":
        return -(-size // stride)
    return max(0, (size - span) // stride + 1)


def same_padding(size, kernel, stride, dilation):
    """(before, after) padding TF's 'same' uses: the odd extra cell goes after."""
    out = -(-size // stride)
    span = dilation * (kernel - 1) + 1
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _f32(x: Tensor) -> np.ndarray:
    v = x.value
    if v.dtype != np.float32 or not v.flags.c_contiguous:
        v = np.ascontiguousarray(v, dtype=np.float32)
    return v


def _empty_aligned(shape):
    """np.empty float32 whose data starts on a 64-byte boundary (NumPy's large arrays start 16
    bytes past one): the convolution kernels' 16-float vectors then never straddle two cache
    lines, and the sparse backward pass reads such an input in place instead of copying it."""
    size = math.prod(shape)
    buf = np.empty(size + 16, np.float32)
    start = (-buf.ctypes.data % 64) // 4
    return buf[start:start + size].reshape(shape)


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), relu=False):
    """act(conv(x, kernel) + bias) on NHWC x with a (kh, kw, c, f) kernel.

    padding: 'valid', 'same' (TF's rule) or explicit ((top, bottom), (left, right)).
    """
    x = convert_to_tensor(x)
    kernel = convert_to_tensor(kernel)
    xv, wv = _f32(x), _f32(kernel)
    n, h, w, _ = xv.shape
    kh, kw, _, f = wv.shape
    if isinstance(padding, str):
        if padding == "same":
            pads = (same_padding(h, kh, strides[0], dilation[0]),
                    same_padding(w, kw, strides[1], dilation[1]))
        else:
            pads = ((0, 0), (0, 0))
    else:
        pads = tuple(tuple(int(v) for v in p) for p in padding)
    (pt, pb), (pl, pr) = pads
    oh = conv_output_length(h + pt + pb, kh, strides[0], dilation[0], "valid")
    ow = conv_output_length(w + pl + pr, kw, strides[1], dilation[1], "valid")
    y = _empty_aligned((n, oh, ow, f))
    bv = None if bias is None else _f32(bias)
    col = None
    rows, width = n * oh * ow, kh * kw * xv.shape[3]
    if grad_enabled() and getattr(kernel, "requires_grad", False) and \
            rows * width <= _KEEP_COL_FLOATS and \
            _core.conv2d_uses_im2col(xv.shape, wv.shape, strides, (pt, pl), dilation):
        col = np.empty((rows, width), np.float32)
    if not _core.conv2d_forward(xv, wv, bv, y, strides, (pt, pl), dilation, relu, col):
        col = None  # this shape does not use im2col (direct or 1x1 kernels)

    def backward(g, needs):
        g = np.ascontiguousarray(g, dtype=np.float32)
        dx = _empty_aligned(xv.shape) if needs[0] else None
        dw = weight_gradient_buffer(kernel) if needs[1] else None
        db = weight_gradient_buffer(bias) if bias is not None and needs[2] else None
        _core.conv2d_backward(xv, wv, y, g, relu, dx, dw, db, strides, (pt, pl), dilation,
                              col if dw is not None else None)
        return dx, dw, db

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)


def _pool_geometry(xv, pool, strides, padding):
    n, h, w, c = xv.shape
    if padding == "same":
        pt, _ = same_padding(h, pool[0], strides[0], 1)
        pl, _ = same_padding(w, pool[1], strides[1], 1)
    else:
        pt = pl = 0
    oh = conv_output_length(h, pool[0], strides[0], 1, padding)
    ow = conv_output_length(w, pool[1], strides[1], 1, padding)
    return (n, oh, ow, c), (pt, pl)


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    x = convert_to_tensor(x)
    xv = _f32(x)
    strides = tuple(strides or pool_size)
    out_shape, pads = _pool_geometry(xv, pool_size, strides, padding)
    y = _empty_aligned(out_shape)
    argmax = np.empty(out_shape, np.int32)
    _core.maxpool2d_forward(xv, y, argmax, tuple(pool_size), strides, pads)

    def backward(g, needs):
        dx = np.empty_like(xv)
        _core.maxpool2d_backward(np.ascontiguousarray(g, dtype=np.float32), argmax, dx,
                                 tuple(pool_size), strides, pads)
        return (dx,)

    return make_op(y, (x,), backward)


def conv2d_relu_max_pool2d_applicable(x_shape, kernel_shape) -> bool:
    """Whether `conv2d_relu_max_pool2d` runs on these shapes here (few input channels; the
    CPU's fast kernels)."""
    return _core.conv2d_relu_maxpool_applicable(tuple(x_shape), tuple(kernel_shape))


def conv2d_relu_max_pool2d(x, kernel, bias=None):
    """max_pool2d(relu(conv2d(x, kernel, bias)), 2) for stride 1, 'valid' padding, in one C++
    call each way, without the convolution's output in memory (see csrc/kernels/conv2d/
    conv_pool.h). x gets no gradient: this is a first layer's op, on data."""
    x = convert_to_tensor(x)
    kernel = convert_to_tensor(kernel)
    xv, wv = _f32(x), _f32(kernel)
    n, h, w, _ = xv.shape
    kh, kw, _, f = wv.shape
    shape = (n, (h - kh + 1) // 2, (w - kw + 1) // 2, f)
    y = _empty_aligned(shape)
    which = np.empty(shape, np.int32)
    bv = None if bias is None else _f32(bias)
    _core.conv2d_relu_maxpool_forward(xv, wv, bv, y, which)

    def backward(g, needs):
        g = np.ascontiguousarray(g, dtype=np.float32)
        dw = weight_gradient_buffer(kernel) if needs[0] else None
        db = weight_gradient_buffer(bias) if bias is not None and needs[1] else None
        _core.conv2d_relu_maxpool_backward(xv, wv, y, which, g, dw, db)
        return dw, db

    parents = (kernel,) if bias is None else (kernel, bias)
    return make_op(y, parents, backward)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    x = convert_to_tensor(x)
    xv = _f32(x)
    strides = tuple(strides or pool_size)
    out_shape, pads = _pool_geometry(xv, pool_size, strides, padding)
    y = _empty_aligned(out_shape)
    _core.avgpool2d_forward(xv, y, tuple(pool_size), strides, pads)

    def backward(g, needs):
        dx = np.empty_like(xv)
        _core.avgpool2d_backward(np.ascontiguousarray(g, dtype=np.float32), dx,
                                 tuple(pool_size), strides, pads)
        return (dx,)

    return make_op(y, (x,), backward)


def conv_transpose_output_length(size, kernel, stride, padding, dilation=1,
                                 output_padding=None):
    """Keras's output length of a transposed convolution along one axis."""
    k = dilation * (kernel - 1) + 1
    if output_padding is None:
        return size * stride + (max(k - stride, 0) if padding == "valid" else 0)
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * stride + k - 2 * pad + output_padding


def conv2d_transpose(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1),
                     output_size=None, output_padding=None):
    """The transpose (input gradient) of a convolution: NHWC x, kernel (kh, kw, out_c, in_c) as
    Keras stores Conv2DTranspose kernels. output_size (h, w) defaults to Keras's rule (with
    output_padding, a pair or None)."""
    x = convert_to_tensor(x)
    kernel = convert_to_tensor(kernel)
    xv, wv = _f32(x), _f32(kernel)
    n, h, w, _ = xv.shape
    kh, kw, f_out, _ = wv.shape
    if output_size is None:
        op = (None, None) if output_padding is None else output_padding
        output_size = (
            conv_transpose_output_length(h, kh, strides[0], padding, dilation[0], op[0]),
            conv_transpose_output_length(w, kw, strides[1], padding, dilation[1], op[1]))
    oh, ow = output_size
    if padding == "same":
        # the full transposed output, (in - 1) * stride + k long, loses half the excess over
        # the requested size at the start (TensorFlow's rule, which Keras follows)
        pads = (max((h - 1) * strides[0] + dilation[0] * (kh - 1) + 1 - oh, 0) // 2,
                max((w - 1) * strides[1] + dilation[1] * (kw - 1) + 1 - ow, 0) // 2)
    else:
        pads = (0, 0)
    # The forward convolution this is the transpose of maps (n, oh, ow, f_out) -> x's shape.
    y = np.empty((n, oh, ow, f_out), np.float32)
    placeholder = np.empty((n, oh, ow, f_out), np.float32)  # shape only: x is not read
    _core.conv2d_backward(placeholder, wv, None, xv, False, y, None, None, strides, pads,
                          dilation)
    if bias is not None:
        y += _f32(bias)

    def backward(g, needs):
        g = np.ascontiguousarray(g, dtype=np.float32)
        dx = dw = db = None
        if needs[0]:  # the forward convolution of the gradient
            dx = np.empty_like(xv)
            _core.conv2d_forward(g, wv, None, dx, strides, pads, dilation, False)
        if needs[1]:  # col(g)^T x: the kernel gradient of the forward convolution
            dw = np.empty_like(wv)
            _core.conv2d_backward(g, wv, None, xv, False, None, dw, None, strides, pads,
                                  dilation)
        if bias is not None and needs[2]:
            db = g.reshape(-1, f_out).sum(axis=0)
        return dx, dw, db

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)

