"""3-D layers: Conv3D / Conv3DTranspose (vol2col + the C++ GEMM), 3-D max/average pooling
(numpy reductions over a strided window view), the global 3-D poolings, UpSampling3D,
ZeroPadding3D and Cropping3D. Everything runs on (N, D, H, W, C) internally; channels_first
inputs are transposed around it."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from fastkeras import _core, ops
from fastkeras import activations as activations_mod
from fastkeras.backend.tape import convert_to_tensor, make_op
from fastkeras.layers.conv2d import (
    _data_format,
    _padding,
    call_through_convolution_op,
    conv_config,
    conv_input_channels,
    convolution_op,
    set_conv_arguments,
)
from fastkeras.layers.layer import Layer
from fastkeras.layers.lora import Absent, LoRA, adapted_weight, lora_arguments_rejected
from fastkeras.layers.regularization import SpatialDropout3D
from fastkeras.layers.reshaping import (
    Cropping2D,
    ZeroPadding2D,
    check_ndim,
    standardize_data_format,
    standardize_tuple,
)
from fastkeras.layers.reshaping import _spatial_axes as spatial_axes
from fastkeras.ops import normalization as norm_ops
from fastkeras.ops.conv2d import conv_output_length, conv_transpose_output_length, same_padding

__all__ = [
    "AveragePooling3D",
    "AvgPool3D",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping3D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool3D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling3D",
    "MaxPool3D",
    "MaxPooling3D",
    "SpatialDropout3D",
    "UpSampling3D",
    "ZeroPadding3D",
]

# vol2col columns of at most this many floats (64 MB) are built at a time (batch chunks).
_CHUNK_FLOATS = 16 << 20


# --- shared 3-D helpers ------------------------------------------------------------------------

def _triple(value, arg, layer, allow_zero=False):
    """An int or 3 ints (positive, or non-negative with allow_zero)."""
    try:
        return standardize_tuple(value, 3, arg, allow_zero=allow_zero)
    except ValueError as err:
        raise ValueError(f"{layer}: {err}") from None


def _to_ndhwc(x, data_format):
    return ops.transpose(x, (0, 2, 3, 4, 1)) if data_format == "channels_first" else x


def _from_ndhwc(y, data_format):
    return ops.transpose(y, (0, 4, 1, 2, 3)) if data_format == "channels_first" else y


def _spatial_axes(data_format):
    return spatial_axes(data_format, 3)


def _work_dtype(*tensors):
    """float64 when any operand is float64 (exact gradient checks), else float32."""
    return np.float64 if any(t.value.dtype == np.float64 for t in tensors) else np.float32


def _windows(xp, out, ksize, strides, dilation):
    """Read-only view (N, od, oh, ow, kd, kh, kw, C) of the windows of padded NDHWC xp."""
    sn, sd, sh, sw, sc = xp.strides
    shape = (xp.shape[0],) + tuple(out) + tuple(ksize) + (xp.shape[4],)
    st = (sn, sd * strides[0], sh * strides[1], sw * strides[2],
          sd * dilation[0], sh * dilation[1], sw * dilation[2], sc)
    return as_strided(xp, shape=shape, strides=st, writeable=False)


def _scatter_windows(buf, cols, out, ksize, strides, dilation):
    """The transpose of _windows: adds cols (N, od, oh, ow, kd, kh, kw, C) into buf."""
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            for k in range(ksize[2]):
                a, b, c = i * dilation[0], j * dilation[1], k * dilation[2]
                buf[:, a:a + (out[0] - 1) * strides[0] + 1:strides[0],
                    b:b + (out[1] - 1) * strides[1] + 1:strides[1],
                    c:c + (out[2] - 1) * strides[2] + 1:strides[2]] += cols[:, :, :, :, i, j, k]


def _pads(spatial, ksize, strides, dilation, padding):
    if padding == "same":
        return tuple(same_padding(s, k, st, d)
                     for s, k, st, d in zip(spatial, ksize, strides, dilation))
    return ((0, 0),) * 3


def _batch_chunk(n, per_sample):
    return max(1, min(n, _CHUNK_FLOATS // max(per_sample, 1)))


def _gemm(a, b, trans_a=False, trans_b=False, bias=None):
    """op(a) @ op(b) + bias: fastkeras's C++ GEMM for float32, numpy for float64."""
    if a.dtype == np.float32 and b.dtype == np.float32:
        return _core.gemm(a, b, None, trans_a, trans_b, 1.0, 0.0, bias, None)
    y = (a.T if trans_a else a) @ (b.T if trans_b else b)
    return y if bias is None else y + bias


def conv3d(x, kernel, bias, strides, padding, dilation, groups=1):
    """conv(x, kernel) + bias on NDHWC x with a (kd, kh, kw, c / groups, f) kernel: the
    windows of each batch chunk gathered into columns (vol2col), then one GEMM per group."""
    x, kernel = convert_to_tensor(x), convert_to_tensor(kernel)
    dt = _work_dtype(x, kernel)
    xv, wv = np.ascontiguousarray(x.value, dt), np.ascontiguousarray(kernel.value, dt)
    n, c = xv.shape[0], xv.shape[4]
    ksize, f = wv.shape[:3], wv.shape[4]
    kvol = int(np.prod(ksize))
    cg, fg = c // groups, f // groups
    pads = _pads(xv.shape[1:4], ksize, strides, dilation, padding)
    xp = np.pad(xv, ((0, 0),) + pads + ((0, 0),)) if padding == "same" else xv
    out = tuple(conv_output_length(s, k, st, d, padding)
                for s, k, st, d in zip(xv.shape[1:4], ksize, strides, dilation))
    m_per = int(np.prod(out))
    w2 = [np.ascontiguousarray(wv[..., g * fg:(g + 1) * fg].reshape(kvol * cg, fg))
          for g in range(groups)]
    bv = None if bias is None else np.ascontiguousarray(convert_to_tensor(bias).value, dt)
    chunk = _batch_chunk(n, m_per * kvol * c)

    def columns(lo, hi, g):
        win = _windows(xp[lo:hi], out, ksize, strides, dilation)[..., g * cg:(g + 1) * cg]
        return np.ascontiguousarray(win).reshape(-1, kvol * cg)

    y = np.empty((n,) + out + (f,), dt)
    y2 = y.reshape(n * m_per, f)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        for g in range(groups):
            y2[lo * m_per:hi * m_per, g * fg:(g + 1) * fg] = _gemm(
                columns(lo, hi, g), w2[g],
                bias=None if bv is None else np.ascontiguousarray(bv[g * fg:(g + 1) * fg]))

    def backward(grad, needs):
        g2 = np.ascontiguousarray(grad, dt).reshape(n * m_per, f)
        dxp = np.zeros(xp.shape, dt) if needs[0] else None
        dw = [np.zeros_like(w) for w in w2] if needs[1] else None
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            for gi in range(groups):
                gg = g2[lo * m_per:hi * m_per, gi * fg:(gi + 1) * fg]
                if needs[1]:
                    dw[gi] += _gemm(columns(lo, hi, gi), gg, trans_a=True)
                if needs[0]:
                    dcols = _gemm(gg, w2[gi], trans_b=True).reshape(
                        (hi - lo,) + out + tuple(ksize) + (cg,))
                    _scatter_windows(dxp[lo:hi, ..., gi * cg:(gi + 1) * cg], dcols, out,
                                     ksize, strides, dilation)
        dx = dkernel = dbias = None
        if needs[0]:
            (a, _), (b, _), (e, _) = pads
            dx = np.ascontiguousarray(dxp[:, a:a + xv.shape[1], b:b + xv.shape[2],
                                          e:e + xv.shape[3]]).astype(x.value.dtype, copy=False)
        if needs[1]:
            dkernel = np.concatenate([d.reshape(tuple(ksize) + (cg, fg)) for d in dw], axis=-1)
            dkernel = dkernel.astype(kernel.value.dtype, copy=False)
        if bias is not None and needs[2]:
            dbias = g2.sum(axis=0).astype(bv.dtype, copy=False)
        return dx, dkernel, dbias

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)


def conv3d_transpose(x, kernel, bias, strides, padding, dilation, output_padding=None):
    """The transpose of conv3d on NDHWC x, kernel (kd, kh, kw, filters, in) as Keras stores it:
    one GEMM to columns, then the columns added into the output volume (col2vol)."""
    x, kernel = convert_to_tensor(x), convert_to_tensor(kernel)
    dt = _work_dtype(x, kernel)
    xv, wv = np.ascontiguousarray(x.value, dt), np.ascontiguousarray(kernel.value, dt)
    n, cin = xv.shape[0], xv.shape[4]
    ksize, f = wv.shape[:3], wv.shape[3]
    kvol = int(np.prod(ksize))
    grid = xv.shape[1:4]
    op = (None,) * 3 if output_padding is None else output_padding
    out = tuple(conv_transpose_output_length(s, k, st, padding, d, p)
                for s, k, st, d, p in zip(grid, ksize, strides, dilation, op))
    full = tuple((s - 1) * st + d * (k - 1) + 1
                 for s, k, st, d in zip(grid, ksize, strides, dilation))
    before = tuple(max(fl - o, 0) // 2 if padding == "same" else 0 for fl, o in zip(full, out))
    buf_size = tuple(max(fl, b + o) for fl, b, o in zip(full, before, out))
    w2 = wv.reshape(kvol * f, cin)  # rows (kd, kh, kw, filters)
    bv = None if bias is None else np.ascontiguousarray(convert_to_tensor(bias).value, dt)
    m_per = int(np.prod(grid))
    x2 = xv.reshape(n * m_per, cin)
    chunk = _batch_chunk(n, m_per * kvol * f)
    crop = tuple(slice(b, b + o) for b, o in zip(before, out))

    y = np.empty((n,) + out + (f,), dt)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cols = _gemm(x2[lo * m_per:hi * m_per], w2, trans_b=True)
        buf = np.zeros((hi - lo,) + buf_size + (f,), dt)
        _scatter_windows(buf, cols.reshape((hi - lo,) + grid + tuple(ksize) + (f,)), grid,
                         ksize, strides, dilation)
        y[lo:hi] = buf[(slice(None),) + crop]
    if bv is not None:
        y += bv

    def backward(grad, needs):
        g = np.ascontiguousarray(grad, dt)
        dx = np.empty_like(x2) if needs[0] else None
        dw = np.zeros_like(w2) if needs[1] else None
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            buf = np.zeros((hi - lo,) + buf_size + (f,), dt)
            buf[(slice(None),) + crop] = g[lo:hi]
            gcols = np.ascontiguousarray(_windows(buf, grid, ksize, strides, dilation))
            gcols = gcols.reshape(-1, kvol * f)
            xs = x2[lo * m_per:hi * m_per]
            if needs[0]:
                dx[lo * m_per:hi * m_per] = _gemm(gcols, w2)
            if needs[1]:
                dw += _gemm(gcols, xs, trans_a=True)
        dxo = dwo = dbo = None
        if needs[0]:
            dxo = dx.reshape(xv.shape).astype(x.value.dtype, copy=False)
        if needs[1]:
            dwo = dw.reshape(wv.shape).astype(kernel.value.dtype, copy=False)
        if bias is not None and needs[2]:
            dbo = g.reshape(-1, f).sum(axis=0)
        return dxo, dwo, dbo

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y, parents, backward)


def _pool3d(x, pool, strides, padding, kind):
    """Max or average pooling on NDHWC x. 'same' padding is TensorFlow's (the odd extra cell
    after); padded cells never win a max and are not counted in a mean. The max's gradient goes
    to the first maximum of each window in (d, h, w) order."""
    x = convert_to_tensor(x)
    xv = x.value if x.value.dtype.kind == "f" else x.value.astype(np.float32)
    pads = _pads(xv.shape[1:4], pool, strides, (1, 1, 1), padding)
    out = tuple(conv_output_length(s, k, st, 1, padding)
                for s, k, st in zip(xv.shape[1:4], pool, strides))
    widths = ((0, 0),) + pads + ((0, 0),)
    pvol = int(np.prod(pool))
    ones = (1, 1, 1)
    if kind == "max":
        xp = np.pad(xv, widths, constant_values=-np.inf) if padding == "same" else xv
        win = _windows(xp, out, pool, strides, ones)
        flat = np.moveaxis(win, 7, 4).reshape(win.shape[:4] + (win.shape[7], pvol))
        arg = np.argmax(flat, axis=-1)
        y = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    else:
        xp = np.pad(xv, widths) if padding == "same" else xv
        win = _windows(xp, out, pool, strides, ones)
        counts = _windows(np.pad(np.ones((1,) + xv.shape[1:4] + (1,), xv.dtype), widths),
                          out, pool, strides, ones).sum(axis=(4, 5, 6))
        y = win.sum(axis=(4, 5, 6)) / counts
    y = np.ascontiguousarray(y, dtype=xv.dtype)

    def backward(grad, needs):
        buf = np.zeros(xp.shape, grad.dtype)
        if kind == "max":
            onehot = np.zeros(arg.shape + (pvol,), grad.dtype)
            np.put_along_axis(onehot, arg[..., None], grad[..., None], axis=-1)
            cols = np.moveaxis(onehot.reshape(arg.shape + tuple(pool)), 4, 7)
        else:
            share = grad / counts
            cols = np.broadcast_to(share[:, :, :, :, None, None, None, :],
                                   share.shape[:4] + tuple(pool) + share.shape[4:])
        _scatter_windows(buf, cols, out, pool, strides, ones)
        (a, _), (b, _), (e, _) = pads
        return (np.ascontiguousarray(buf[:, a:a + xv.shape[1], b:b + xv.shape[2],
                                         e:e + xv.shape[3]]),)

    return make_op(y, (x,), backward)


# --- convolutions ------------------------------------------------------------------------------

class Conv3D(LoRA, Layer):
    """3-D convolution over volumes: `activation(conv3d(inputs, kernel) + bias)`.

    Inputs (batch, depth, height, width, channels) for 'channels_last' or
    (batch, channels, depth, height, width) for 'channels_first' (default: the global
    image_data_format). kernel_size, strides and dilation_rate: an int or 3 ints; padding
    'valid' or 'same'; groups splits input channels and filters into that many independent
    convolutions. Kernel shape (kd, kh, kw, in_channels / groups, filters), bias (filters,).
    lora_rank / lora_alpha / `enable_lora()`: low-rank adaptation of the kernel as Conv2D's,
    factors lora_kernel_a (kd, kh, kw, in_channels / groups, rank), lora_kernel_b (rank,
    filters).
    """

    _name = "Conv3D"
    rank = 3  # spatial axes, Keras's `rank`

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**lora_arguments_rejected(self, kwargs, lora_rank, lora_alpha))
        set_conv_arguments(self, self._name, _triple, filters, kernel_size, strides, padding,
                           data_format, dilation_rate, groups, activation, use_bias,
                           kernel_initializer, bias_initializer, kernel_regularizer,
                           bias_regularizer, activity_regularizer, kernel_constraint,
                           bias_constraint)
        if self._lora_supported:
            self._set_lora_arguments(lora_rank, lora_alpha)

    kernel = adapted_weight("kernel")

    def convolution_op(self, inputs, kernel):
        return convolution_op(self, inputs, kernel)

    def _channels(self, input_shape):
        return conv_input_channels(self, self._name, input_shape, 5)

    def _kernel_shape(self, channels):
        if channels % self.groups:
            raise ValueError(f"Conv3D '{self.name}': the number of input channels must be "
                             f"divisible by `groups`. Received: groups={self.groups}, "
                             f"input channels={channels}")
        return self.kernel_size + (channels // self.groups, self.filters)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(name="kernel", shape=self._kernel_shape(channels),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)
        self._build_lora()

    def _input(self, inputs, expected_channels):
        check_ndim(self, inputs, 5)
        x = _to_ndhwc(inputs, self.data_format)
        if x.shape[-1] != expected_channels:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected {expected_channels} input channels, received input "
                             f"with shape {tuple(inputs.shape)}")
        return x

    def _finish(self, y):
        if self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_ndhwc(y, self.data_format)

    def call(self, inputs):
        if type(self).convolution_op is not Conv3D.convolution_op:
            return call_through_convolution_op(self, inputs)
        kernel = self.kernel
        x = self._input(inputs, kernel.shape[3] * self.groups)
        out = [conv_output_length(s, k, st, d, self.padding) for s, k, st, d in
               zip(x.shape[1:4], self.kernel_size, self.strides, self.dilation_rate)]
        if min(out) < 1:
            raise ValueError(f"Layer '{self.name}': the input {tuple(inputs.shape)} is too "
                             f"small for kernel_size={self.kernel_size} with dilation_rate="
                             f"{self.dilation_rate} and padding='{self.padding}' (output "
                             f"would be {tuple(out)})")
        y = conv3d(x, kernel, self.bias if self.use_bias else None, self.strides,
                   self.padding, self.dilation_rate, self.groups)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        axes = _spatial_axes(self.data_format)
        shape = list(input_shape)
        for axis, k, st, d in zip(axes, self.kernel_size, self.strides, self.dilation_rate):
            shape[axis] = conv_output_length(shape[axis], k, st, d, self.padding)
        shape[1 if self.data_format == "channels_first" else 4] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(conv_config(self))
        return self._lora_config(config)


class Conv3DTranspose(Conv3D):
    """Transposed 3-D convolution (the gradient of Conv3D with respect to its input), which
    upsamples by `strides`. Kernel shape (kd, kh, kw, filters, in_channels) as Keras stores it.

    Output size per axis, with k = dilation * (kernel - 1) + 1: without output_padding,
    'valid': in * stride + max(k - stride, 0), 'same': in * stride; with output_padding p
    (each smaller than its stride): (in - 1) * stride + k - 2 * pad + p, pad = k // 2 for
    'same' and 0 for 'valid'.
    """

    _name = "Conv3DTranspose"
    # Keras's transposed convolutions have no LoRA and no `convolution_op`.
    _lora_supported = False
    enable_lora = Absent()
    convolution_op = Absent()

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, output_padding=None, dilation_rate=(1, 1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        if output_padding is not None:
            output_padding = _triple(output_padding, "output_padding", self._name,
                                     allow_zero=True)
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError("Strides must be greater than output padding. Received "
                                 f"strides={self.strides}, output_padding={output_padding}.")
        self.output_padding = output_padding

    def _kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)

    def call(self, inputs):
        x = self._input(inputs, self.kernel.shape[4])
        y = conv3d_transpose(x, self.kernel, self.bias if self.use_bias else None,
                             self.strides, self.padding, self.dilation_rate,
                             self.output_padding)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        axes = _spatial_axes(self.data_format)
        op = (None,) * 3 if self.output_padding is None else self.output_padding
        shape = list(input_shape)
        for axis, k, st, d, p in zip(axes, self.kernel_size, self.strides, self.dilation_rate,
                                     op):
            if shape[axis] is not None:
                shape[axis] = conv_transpose_output_length(shape[axis], k, st, self.padding,
                                                            d, p)
        shape[1 if self.data_format == "channels_first" else 4] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        config["output_padding"] = self.output_padding
        return config


Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose


# --- pooling -----------------------------------------------------------------------------------

class _Pooling3D(Layer):
    _kind = None
    pool_mode = None  # "max" or "average", as Keras's pooling layers say

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        layer = type(self).__name__
        self.pool_size = _triple(pool_size, "pool_size", layer)
        self.strides = self.pool_size if strides is None else _triple(strides, "strides", layer)
        self.padding = _padding(padding, layer)
        self.data_format = _data_format(data_format, layer)

    def call(self, inputs):
        check_ndim(self, inputs, 5)
        x = _to_ndhwc(inputs, self.data_format)
        out = [conv_output_length(s, k, st, 1, self.padding)
               for s, k, st in zip(x.shape[1:4], self.pool_size, self.strides)]
        if min(out) < 1:
            raise ValueError(f"Layer '{self.name}': the input {tuple(inputs.shape)} is too "
                             f"small for pool_size={self.pool_size} with "
                             f"padding='{self.padding}'")
        y = _pool3d(x, self.pool_size, self.strides, self.padding, self._kind)
        return _from_ndhwc(y, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, k, st in zip(_spatial_axes(self.data_format), self.pool_size, self.strides):
            shape[axis] = conv_output_length(shape[axis], k, st, 1, self.padding)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class MaxPooling3D(_Pooling3D):
    """Max over pool_size windows of volumes moved by strides (default: pool_size)."""
    _kind = "max"
    pool_mode = "max"


class AveragePooling3D(_Pooling3D):
    """Mean over pool_size windows of volumes; with 'same' padding padded cells are not
    counted. pool_size has no default, as in Keras."""
    _kind = "avg"
    pool_mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides=strides, padding=padding, data_format=data_format,
                         name=name, **kwargs)


class _GlobalPooling3D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        axes = _spatial_axes(self.data_format)
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling3D(_GlobalPooling3D):
    """Mean over depth, height and width: (N, D, H, W, C) -> (N, C) (keepdims: 1s kept)."""

    def call(self, inputs):
        check_ndim(self, inputs, 5)
        return ops.mean(inputs, axis=_spatial_axes(self.data_format), keepdims=self.keepdims)


class GlobalMaxPooling3D(_GlobalPooling3D):
    """Max over depth, height and width: (N, D, H, W, C) -> (N, C) (keepdims: 1s kept)."""

    def call(self, inputs):
        check_ndim(self, inputs, 5)
        return ops.max(inputs, axis=_spatial_axes(self.data_format), keepdims=self.keepdims)


MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool3D = GlobalAveragePooling3D


# --- reshaping ---------------------------------------------------------------------------------

def _pairs_3d(value, name, layer):
    """int | (d, h, w) | ((front, back), (top, bottom), (left, right)) -> three pairs."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value!r}")
        return ((int(value),) * 2,) * 3
    if hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 3:
        out = []
        for i, entry in enumerate(value):
            if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
                if entry < 0:
                    raise ValueError(f"`{name}` cannot be negative. Received: {name}={value!r}")
                out.append((int(entry),) * 2)
            else:
                out.append(standardize_tuple(entry, 2, f"entry {i + 1} of {name}",
                                             allow_zero=True))
        return tuple(out)
    raise ValueError(f"{layer}: `{name}` should be an int, a tuple of 3 ints (symmetric_dim1, "
                     f"symmetric_dim2, symmetric_dim3) or a tuple of 3 tuples of 2 ints "
                     f"((left_dim1, right_dim1), (left_dim2, right_dim2), (left_dim3, "
                     f"right_dim3)). Received: {name}={value!r}")


class UpSampling3D(Layer):
    """Repeats each cell of a volume size = (d, h, w) times along the three spatial axes."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.size = _triple(size, "size", "UpSampling3D")

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, f in zip(_spatial_axes(self.data_format), self.size):
            if shape[axis] is not None:
                shape[axis] *= f
        return tuple(shape)

    def call(self, inputs):
        check_ndim(self, inputs, 5)
        x = inputs
        for axis, f in zip(_spatial_axes(self.data_format), self.size):
            if f != 1:
                x = norm_ops.repeat(x, f, axis=axis)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format})
        return config


class ZeroPadding3D(ZeroPadding2D):
    """Adds zeros around volumes: padding is an int, 3 ints (symmetric per axis) or three
    (before, after) pairs."""

    _rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)

    def _pairs(self, value, name):
        return _pairs_3d(value, name, "ZeroPadding3D")


class Cropping3D(Cropping2D):
    """Removes cells from the borders of volumes: cropping is an int, 3 ints (symmetric per
    axis) or three (before, after) pairs."""

    _rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)

    def _pairs(self, value, name):
        return _pairs_3d(value, name, "Cropping3D")
