"""Differentiable depthwise convolution on the direct C++ kernel (NHWC), one C++ call per
direction."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.backend.tape import (
    convert_to_tensor,
    make_op,
    weight_gradient_buffer,
)
from fastkeras.ops.conv2d import conv_output_length, same_padding

__all__ = ["depthwise_conv2d"]


def _f32(t) -> np.ndarray:
    v = t.value
    if v.dtype != np.float32 or not v.flags.c_contiguous:
        v = np.ascontiguousarray(v, dtype=np.float32)
    return v


def _pair(value, arg):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"depthwise_conv2d: `{arg}` must be an int or a pair of ints. "
                         f"Received: {arg}={value!r}")
    return tuple(int(v) for v in pair)


def depthwise_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Each input channel convolved with its own depth_multiplier filters: NHWC x (n, h, w, c),
    kernel (kh, kw, c, m) as Keras stores DepthwiseConv2D kernels, optional bias (c*m,).
    Output (n, oh, ow, c*m); channel c*m + j comes from input channel c.

    padding: 'valid' or 'same' (TF's rule: an odd extra padding cell goes at the bottom/right).
    """
    x = convert_to_tensor(x)
    kernel = convert_to_tensor(kernel)
    bias = None if bias is None else convert_to_tensor(bias)
    strides, dilation = _pair(strides, "strides"), _pair(dilation, "dilation")
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError("depthwise_conv2d: `padding` must be 'valid' or 'same'. "
                         f"Received: padding={padding!r}")
    padding = padding.lower()
    xv, wv = _f32(x), _f32(kernel)
    if xv.ndim != 4 or wv.ndim != 4:
        raise ValueError("depthwise_conv2d: expected a 4-D input and a 4-D kernel. Received: "
                         f"input shape {xv.shape}, kernel shape {wv.shape}")
    n, h, w, c = xv.shape
    kh, kw, _, m = wv.shape
    if padding == "same":
        pads = (same_padding(h, kh, strides[0], dilation[0])[0],
                same_padding(w, kw, strides[1], dilation[1])[0])
    else:
        pads = (0, 0)
    oh = conv_output_length(h, kh, strides[0], dilation[0], padding)
    ow = conv_output_length(w, kw, strides[1], dilation[1], padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"depthwise_conv2d: the input {xv.shape} is too small for a kernel of "
                         f"shape {wv.shape} with dilation {dilation} and padding '{padding}'")
    y = np.empty((n, oh, ow, c * m), np.float32)
    bv = None if bias is None else _f32(bias)
    _core.depthwise_conv2d_forward(xv, wv, bv, y, strides, pads, dilation)

    def backward(g, needs):
        g = np.ascontiguousarray(g, dtype=np.float32)
        dx = np.empty_like(xv) if needs[0] else None
        dw = weight_gradient_buffer(kernel) if needs[1] else None
        db = weight_gradient_buffer(bias) if bias is not None and needs[2] else None
        _core.depthwise_conv2d_backward(xv, wv, g, dx, dw, db, strides, pads, dilation)
        return dx, dw, db

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)
