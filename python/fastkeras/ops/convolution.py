"""Keras's `keras.ops.conv`: an N-D convolution (1-D, 2-D or 3-D) with Keras's arguments,
on the layers' kernels: the C++ im2col convolution for 1-D and 2-D, vol2col and the C++ GEMM
for 3-D."""

from __future__ import annotations

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
    Returns (batch, *out_spatial, filters) in the input's data format.
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
    if rank == 2 and groups == 1:
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
