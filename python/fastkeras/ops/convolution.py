"""Keras's `keras.ops.conv`: an N-D convolution (1-D, 2-D or 3-D) with Keras's arguments,
on the layers' kernels: the C++ im2col convolution for 1-D and 2-D, vol2col and the C++ GEMM
for 3-D."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.config import image_data_format
from fastkeras.backend.tape import convert_to_tensor
from fastkeras.ops import math as _m

__all__ = ["conv"]


def _tuple(value, rank, name):
    from fastkeras.layers.reshaping import standardize_tuple
    return standardize_tuple(value, rank, f"conv: {name}")


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """conv(inputs, kernel) over the spatial axes of `inputs`.

    inputs: (batch, *spatial, channels) (or channels first) with 1 to 3 spatial axes;
    kernel: (*kernel_size, channels, filters) as Keras's Conv layers store it. padding:
    'valid' or 'same' (any extra cell of 'same' padding goes after the input, as in Keras).
    Returns (batch, *out_spatial, filters) in the input's data format. Integer and bool
    inputs and kernels give their promoted dtype (exact, no gradient), as in Keras.
    """
    from fastkeras.layers.conv3d import conv3d
    from fastkeras.ops.conv2d import conv2d

    x, w = convert_to_tensor(inputs), convert_to_tensor(kernel)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"conv: `inputs` must have 3, 4 or 5 dimensions (batch, 1 to 3 "
                         f"spatial axes, channels). Received: inputs.shape={tuple(x.shape)}")
    if w.ndim != rank + 2:
        raise ValueError(f"conv: `kernel` must have {rank + 2} dimensions for inputs of rank "
                         f"{x.ndim}. Received: kernel.shape={tuple(w.shape)}")
    data_format = image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"conv: `data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"conv: `padding` must be 'valid' or 'same'. Received: "
                         f"padding={padding!r}")
    padding = padding.lower()
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    if data_format == "channels_first":
        x = _m.transpose(x, (0,) + tuple(range(2, rank + 2)) + (1,))
    channels = x.shape[-1]
    if channels % w.shape[-2]:
        raise ValueError(f"conv: the input's {channels} channels must be a multiple of the "
                         f"kernel's {w.shape[-2]} input channels. Received: inputs.shape="
                         f"{tuple(convert_to_tensor(inputs).shape)}, kernel.shape="
                         f"{tuple(w.shape)}")
    groups = channels // w.shape[-2]
    if padding == "valid":
        sizes = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in
                 zip(x.shape[1:-1], w.shape[:-2], strides, dilation)]
        if min(sizes) <= 0:  # as Keras: an empty output is an error, not a result
            raise ValueError(f"Computed output size would be zero or negative. Received "
                             f"`inputs shape={tuple(convert_to_tensor(inputs).shape)}`, "
                             f"`kernel shape={tuple(w.shape)}`, "
                             f"`dilation_rate={list(dilation)}`, `strides={list(strides)}`, "
                             f"`padding={padding}`.")
    int_dtype = _m.integer_product_dtype(x.value, w.value, int8_widens=False)
    if int_dtype is not None:
        y = _m.integer_product(
            lambda a, b: _integer_conv(a, b, strides, padding, dilation, groups),
            (x.value, w.value), int_dtype)
    elif rank == 2 and groups == 1:
        y = conv2d(x, w, None, strides, padding, dilation)
    elif rank == 1 and groups == 1:
        y = conv2d(_m.expand_dims(x, 1), _m.expand_dims(w, 0), None, (1,) + strides,
                   padding, (1,) + dilation)
        y = _m.squeeze(y, axis=1)
    else:  # 3-D, and grouped convolutions of any rank, as 3-D ones
        lift = 3 - rank
        for _ in range(lift):
            x, w = _m.expand_dims(x, 1), _m.expand_dims(w, 0)
        y = conv3d(x, w, None, (1,) * lift + strides, padding, (1,) * lift + dilation, groups)
        for _ in range(lift):
            y = _m.squeeze(y, axis=1)
    if data_format == "channels_first":
        y = _m.transpose(y, (0, rank + 1) + tuple(range(1, rank + 1)))
    return y


def _integer_conv(x, w, strides, padding, dilation, groups):
    """The convolution of channels-last x with w in numpy (for integer arrays): windows of x,
    dilated and strided, contracted with the kernel group by group."""
    rank = x.ndim - 2
    size = w.shape[:rank]
    span = [(k - 1) * d + 1 for k, d in zip(size, dilation)]
    if padding == "same":
        pads = []
        for n, s, k in zip(x.shape[1:-1], strides, span):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    spatial = tuple(range(1, rank + 1))
    if any(x.shape[a] < k for a, k in zip(spatial, span)):
        return np.zeros((x.shape[0],) + (0,) * rank + (w.shape[-1],), x.dtype)
    win = np.lib.stride_tricks.sliding_window_view(x, span, axis=spatial)
    win = win[(slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),)
              + tuple(slice(None, None, d) for d in dilation)]
    # win: (batch, *out, channels, *size); the kernel: (*size, channels // groups, filters)
    cin, filters = w.shape[-2], w.shape[-1]
    win = win.reshape(win.shape[:rank + 1] + (groups, cin) + size)
    kernel = w.reshape(size + (cin, groups, filters // groups))
    letters = "klm"[:rank]
    out = np.einsum(f"...gc{letters},{letters}cgf->...gf", win, kernel)
    return out.reshape(out.shape[:-2] + (filters,))
