"""Keras 3's further convolution and pooling ops: `conv_transpose`, `depthwise_conv`,
`separable_conv`, `max_pool`, `average_pool` (1-D, 2-D or 3-D, either data format) and the
adaptive poolings `adaptive_average_pool` / `adaptive_max_pool`.

They run on the layers' kernels: the C++ 2-D kernels (conv2d_transpose, depthwise_conv2d,
max_pool2d, avg_pool2d) for float32 1-D and 2-D inputs (1-D inputs get a height of 1), the
3-D numpy/GEMM kernels for 3-D inputs and for float64 inputs of any rank (lifted to 3-D), so
float64 stays float64. 'same' padding is Keras's (TensorFlow's) rule: the odd extra cell goes
after the input; padded cells never win a max and are not counted in a mean.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import convert_to_tensor, make_op
from fastkeras.ops import math as _m

__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "conv_transpose",
    "depthwise_conv",
    "max_pool",
    "separable_conv",
]

NOT_SYMBOLIC = ()

GRAPH_SPECS = {
    "max_pool": ("nn", "MaxPool", ("pool_size", "strides", "padding", "data_format")),
    "average_pool": ("nn", "AveragePool", ("pool_size", "strides", "padding", "data_format")),
    "adaptive_average_pool": ("nn", "AdaptiveAveragePool", ("output_size", "data_format")),
    "adaptive_max_pool": ("nn", "AdaptiveMaxPool", ("output_size", "data_format")),
    "conv_transpose": ("nn", "ConvTranspose", ("strides", "padding", "output_padding",
                                              "data_format", "dilation_rate")),
    "depthwise_conv": ("nn", "DepthwiseConv", ("strides", "padding", "data_format",
                                              "dilation_rate")),
    "separable_conv": ("nn", "SeparableConv", ("strides", "padding", "data_format",
                                              "dilation_rate")),
}


# --------------------------------------------------------------------------------------------
# argument checks and layout helpers

def _tuple(value, rank, name, op, allow_zero=False):
    from fastkeras.layers.reshaping import standardize_tuple
    try:
        return standardize_tuple(value, rank, name, allow_zero=allow_zero)
    except ValueError as err:
        raise ValueError(f"{op}: {err}") from None


def _data_format(data_format, op):
    from fastkeras.layers.reshaping import standardize_data_format
    try:
        return standardize_data_format(data_format)
    except ValueError as err:
        raise ValueError(f"{op}: {err}") from None


def _padding(padding, op):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{op}: `padding` must be 'valid' or 'same'. Received: "
                         f"padding={padding!r}")
    return padding.lower()


def _rank(x, op, arg="inputs"):
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"{op}: `{arg}` must have 3, 4 or 5 dimensions (batch, 1 to 3 spatial "
                         f"axes, channels). Received: {arg}.shape={tuple(x.shape)}")
    return rank


def _float_input(x):
    """Integer and boolean inputs become float32; float inputs keep their precision."""
    return x if x.value.dtype.kind == "f" else _m.cast(x, "float32")


def _to_last(x, rank, data_format):
    if data_format == "channels_first":
        return _m.transpose(x, (0,) + tuple(range(2, rank + 2)) + (1,))
    return x


def _from_last(y, rank, data_format):
    if data_format == "channels_first":
        return _m.transpose(y, (0, rank + 1) + tuple(range(1, rank + 1)))
    return y


def _lift(x, times):
    """Adds `times` unit spatial axes after the batch axis."""
    for _ in range(times):
        x = _m.expand_dims(x, 1)
    return x


def _lift_kernel(w, times):
    """Adds `times` unit spatial axes in front of a kernel."""
    for _ in range(times):
        w = _m.expand_dims(w, 0)
    return w


def _drop(y, times):
    for _ in range(times):
        y = _m.squeeze(y, axis=1)
    return y


def _use_2d(x, *others):
    """The C++ 2-D kernels compute in float32: used for float32 operands only."""
    return all(t.value.dtype == np.float32 for t in (x,) + others)


def _check_output(x, out, op, what):
    if min(out) < 1:
        raise ValueError(f"{op}: the input of shape {tuple(x.shape)} is too small for {what}; "
                         f"the output would have spatial shape {tuple(out)}")


# --------------------------------------------------------------------------------------------
# pooling

def _pool(inputs, pool_size, strides, padding, data_format, kind, op):
    from fastkeras.layers.conv3d import _pool3d
    from fastkeras.ops.conv2d import avg_pool2d, conv_output_length, max_pool2d

    x = _float_input(convert_to_tensor(inputs))
    rank = _rank(x, op)
    pool = _tuple(pool_size, rank, "pool_size", op)
    strides = pool if strides is None else _tuple(strides, rank, "strides", op)
    padding = _padding(padding, op)
    data_format = _data_format(data_format, op)
    x = _to_last(x, rank, data_format)
    out = [conv_output_length(s, k, st, 1, padding)
           for s, k, st in zip(x.shape[1:-1], pool, strides)]
    _check_output(x, out, op, f"pool_size={pool} with padding='{padding}'")
    if rank <= 2 and _use_2d(x):
        lift = 2 - rank
        fn = max_pool2d if kind == "max" else avg_pool2d
        y = _drop(fn(_lift(x, lift), (1,) * lift + pool, (1,) * lift + strides, padding), lift)
    else:
        lift = 3 - rank
        y = _drop(_pool3d(_lift(x, lift), (1,) * lift + pool, (1,) * lift + strides, padding,
                          kind), lift)
    return _from_last(y, rank, data_format)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The maximum over `pool_size` windows moved by `strides` (default: pool_size) along the
    1 to 3 spatial axes of `inputs` ((batch, *spatial, channels) for 'channels_last',
    (batch, channels, *spatial) for 'channels_first'). The gradient goes to the first maximum
    of each window."""
    return _pool(inputs, pool_size, strides, padding, data_format, "max", "max_pool")


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean over `pool_size` windows moved by `strides` (default: pool_size) along the
    spatial axes of `inputs`. With 'same' padding the padded cells are not counted."""
    return _pool(inputs, pool_size, strides, padding, data_format, "avg", "average_pool")


# --------------------------------------------------------------------------------------------
# adaptive pooling

def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows: window i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _adaptive_axis(x, axis, out, kind):
    """Adaptive pooling of one axis of Tensor x (average: a matrix along the axis; max: the
    largest element of each window, the gradient going to the first one)."""
    size = x.shape[axis]
    starts, ends = _adaptive_bounds(size, out)
    v = x.value
    if kind == "avg":
        weights = np.zeros((out, size), v.dtype)
        for i, (a, b) in enumerate(zip(starts, ends)):
            weights[i, a:b] = 1.0 / (b - a)
        moved = np.moveaxis(v, axis, -1)
        y = np.ascontiguousarray(np.moveaxis(moved @ weights.T, -1, axis))

        def backward(g, needs):
            gm = np.moveaxis(np.asarray(g), axis, -1) @ weights
            return (np.ascontiguousarray(np.moveaxis(gm, -1, axis)),)

        return make_op(y, (x,), backward)
    moved = np.moveaxis(v, axis, -1)
    index = np.empty(moved.shape[:-1] + (out,), np.int64)
    for i, (a, b) in enumerate(zip(starts, ends)):
        index[..., i] = a + np.argmax(moved[..., a:b], axis=-1)
    y = np.take_along_axis(moved, index, axis=-1)
    y = np.ascontiguousarray(np.moveaxis(y, -1, axis))

    def backward_max(g, needs):
        gm = np.moveaxis(np.asarray(g), axis, -1)
        full = np.zeros(moved.shape, gm.dtype)
        flat_full = full.reshape(-1, size)
        rows = np.arange(flat_full.shape[0])[:, None]
        np.add.at(flat_full, (rows, index.reshape(-1, out)), gm.reshape(-1, out))
        return (np.ascontiguousarray(np.moveaxis(full, -1, axis)),)

    return make_op(y, (x,), backward_max)


def _adaptive(inputs, output_size, data_format, kind, op):
    x = _float_input(convert_to_tensor(inputs))
    rank = _rank(x, op)
    data_format = _data_format(data_format, op)
    out = _tuple(output_size, rank, "output_size", op)
    first = 2 if data_format == "channels_first" else 1
    for i, size in enumerate(out):
        if x.shape[first + i] < 1:
            raise ValueError(f"{op}: the spatial axes of `inputs` must not be empty. "
                             f"Received: inputs.shape={tuple(x.shape)}")
        x = _adaptive_axis(x, first + i, size, kind)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed spatial `output_size` (an int or one int per spatial axis):
    output cell i along an axis of length L averages the input cells
    [floor(i * L / out), ceil((i + 1) * L / out)), as PyTorch's adaptive pooling does."""
    return _adaptive(inputs, output_size, data_format, "avg", "adaptive_average_pool")


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed spatial `output_size`, over the windows of
    `adaptive_average_pool`."""
    return _adaptive(inputs, output_size, data_format, "max", "adaptive_max_pool")


# --------------------------------------------------------------------------------------------
# convolutions

def _conv_args(inputs, kernel, strides, padding, data_format, dilation_rate, op):
    x = _float_input(convert_to_tensor(inputs))
    w = _float_input(convert_to_tensor(kernel))
    rank = _rank(x, op)
    if w.ndim != rank + 2:
        raise ValueError(f"{op}: `kernel` must have {rank + 2} dimensions for inputs of rank "
                         f"{x.ndim}. Received: kernel.shape={tuple(w.shape)}")
    strides = _tuple(strides, rank, "strides", op)
    dilation = _tuple(dilation_rate, rank, "dilation_rate", op)
    padding = _padding(padding, op)
    data_format = _data_format(data_format, op)
    if x.value.dtype != w.value.dtype:
        common = np.result_type(x.value.dtype, w.value.dtype)
        x, w = _m.cast(x, common), _m.cast(w, common)
    return x, w, rank, strides, dilation, padding, data_format


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """The transposed convolution (the input gradient of `conv`): `kernel` is
    (*kernel_size, filters, in_channels) as Keras's ConvTranspose layers store it.

    Along each spatial axis of length n the output has n * stride cells ('same') or
    (n - 1) * stride + max(k, stride) ('valid', k the dilated kernel size); with
    `output_padding` p it has (n - 1) * stride + k - 2 * (k // 2 if 'same' else 0) + p.
    """
    from fastkeras.layers.conv3d import conv3d_transpose
    from fastkeras.ops.conv2d import conv2d_transpose, conv_transpose_output_length

    op = "conv_transpose"
    x, w, rank, strides, dilation, padding, data_format = _conv_args(
        inputs, kernel, strides, padding, data_format, dilation_rate, op)
    if output_padding is not None:
        output_padding = _tuple(output_padding, rank, "output_padding", op, allow_zero=True)
    x = _to_last(x, rank, data_format)
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"{op}: the input's {x.shape[-1]} channels must equal the kernel's last "
                         f"axis. Received: inputs.shape={tuple(convert_to_tensor(inputs).shape)}"
                         f", kernel.shape={tuple(w.shape)}")
    ops_ = (None,) * rank if output_padding is None else output_padding
    out = [conv_transpose_output_length(s, k, st, padding, d, p)
           for s, k, st, d, p in zip(x.shape[1:-1], w.shape[:rank], strides, dilation, ops_)]
    _check_output(x, out, op, f"this kernel with output_padding={output_padding}")
    extra = None if output_padding is None else (0,)
    if rank <= 2 and _use_2d(x, w):
        lift = 2 - rank
        y = conv2d_transpose(_lift(x, lift), _lift_kernel(w, lift), None, (1,) * lift + strides,
                             padding, (1,) * lift + dilation,
                             output_padding=None if extra is None
                             else extra * lift + output_padding)
    else:
        lift = 3 - rank
        y = conv3d_transpose(_lift(x, lift), _lift_kernel(w, lift), None, (1,) * lift + strides,
                             padding, (1,) * lift + dilation,
                             None if extra is None else extra * lift + output_padding)
    return _from_last(_drop(y, lift), rank, data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Each input channel convolved with its own `depth_multiplier` filters: `kernel` is
    (*kernel_size, channels, depth_multiplier); output channel c * depth_multiplier + j comes
    from input channel c."""
    from fastkeras.layers.conv3d import conv3d
    from fastkeras.ops.conv2d import conv_output_length
    from fastkeras.ops.depthwise import depthwise_conv2d

    op = "depthwise_conv"
    x, w, rank, strides, dilation, padding, data_format = _conv_args(
        inputs, kernel, strides, padding, data_format, dilation_rate, op)
    x = _to_last(x, rank, data_format)
    channels, mult = w.shape[-2], w.shape[-1]
    if x.shape[-1] != channels:
        raise ValueError(f"{op}: the input's {x.shape[-1]} channels must equal the kernel's "
                         f"{channels} input channels (axis -2). Received: kernel.shape="
                         f"{tuple(w.shape)}")
    out = [conv_output_length(s, k, st, d, padding)
           for s, k, st, d in zip(x.shape[1:-1], w.shape[:rank], strides, dilation)]
    _check_output(x, out, op, f"a kernel of shape {tuple(w.shape)} with dilation_rate="
                              f"{dilation} and padding='{padding}'")
    if rank <= 2 and _use_2d(x, w):
        lift = 2 - rank
        y = depthwise_conv2d(_lift(x, lift), _lift_kernel(w, lift), None, (1,) * lift + strides,
                             padding, (1,) * lift + dilation)
    else:
        lift = 3 - rank
        wg = _m.reshape(w, tuple(w.shape[:rank]) + (1, channels * mult))
        y = conv3d(_lift(x, lift), _lift_kernel(wg, lift), None, (1,) * lift + strides, padding,
                   (1,) * lift + dilation, channels)
    return _from_last(_drop(y, lift), rank, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution mixing channels:
    `pointwise_kernel` is (*ones, channels * depth_multiplier, filters)."""
    op = "separable_conv"
    data_format = _data_format(data_format, op)
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    p = _float_input(convert_to_tensor(pointwise_kernel))
    rank = y.ndim - 2
    if p.ndim != y.ndim or any(k != 1 for k in p.shape[:rank]):
        raise ValueError(f"{op}: `pointwise_kernel` must have shape (*{(1,) * rank}, channels, "
                         f"filters). Received: pointwise_kernel.shape={tuple(p.shape)}")
    y = _to_last(y, rank, data_format)
    if p.shape[-2] != y.shape[-1]:
        raise ValueError(f"{op}: `pointwise_kernel` must take the depthwise output's "
                         f"{y.shape[-1]} channels (axis -2). Received: pointwise_kernel.shape="
                         f"{tuple(p.shape)}")
    if p.value.dtype != y.value.dtype:
        common = np.result_type(p.value.dtype, y.value.dtype)
        y, p = _m.cast(y, common), _m.cast(p, common)
    y = _m.matmul(y, _m.reshape(p, p.shape[-2:]))
    return _from_last(y, rank, data_format)
