"""Keras 3 layers built on fastkeras's existing ones: the noise layers GaussianDropout and
AlphaDropout, ActivityRegularization, the 1-D convolutions Conv1DTranspose, SeparableConv1D and
DepthwiseConv1D (the 2-D layers run on sequences as images one row high), AdditiveAttention,
RMSNormalization and CategoryEncoding."""

from __future__ import annotations

import math

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend.tape import Tensor
from fastkeras.layers.attention import Attention
from fastkeras.layers.conv1d import _check_rank3, _from_nwc, _single, _to_nwc, expose_1d
from fastkeras.layers.conv2d import (
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
    _data_format,
    _padding,
)
from fastkeras.layers.core import Dropout, _check_positive_int
from fastkeras.layers.layer import Layer
from fastkeras.layers.normalization import _as_float, _incompatible
from fastkeras.ops.conv2d import conv2d, conv2d_transpose, conv_output_length
from fastkeras.ops.depthwise import depthwise_conv2d

# --- noise and regularization layers --------------------------------------------------------


class GaussianDropout(Dropout):
    """Multiplies inputs by Gaussian noise of mean 1 and standard deviation
    sqrt(rate / (1 - rate)) while training (the variance Dropout(rate) gives); passes inputs
    through at inference. `seed` makes the noise reproducible."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            raise ValueError(f"Layer '{self.name}': GaussianDropout with rate=1 has infinite "
                             "noise variance (sqrt(rate / (1 - rate))) and cannot run in "
                             "training. Received: rate=1.0")
        gen = self._generator()
        stddev = np.float32(math.sqrt(self.rate / (1.0 - self.rate)))
        noise = gen.standard_normal(inputs.shape, dtype=np.float32) * stddev + np.float32(1)
        return ops.multiply(inputs, noise)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config


# SELU's constants: the negative saturation value of selu is -_SELU_ALPHA * _SELU_SCALE.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(Dropout):
    """Dropout for self-normalizing (SELU) networks: while training, each input is kept with
    probability 1 - rate or set to SELU's negative saturation value alpha' = -alpha * scale,
    then all go through the affine map a * x + b chosen so that zero-mean unit-variance inputs
    keep mean 0 and variance 1: a = ((1 - rate) * (1 + rate * alpha'^2)) ** -0.5,
    b = -a * alpha' * rate. `noise_shape` shares the keep mask along axes of size 1, as in
    Dropout. Passes inputs through at inference."""

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            raise ValueError(f"Layer '{self.name}': AlphaDropout with rate=1 drops every input "
                             "and its affine correction ((1 - rate) ** -0.5) is infinite; it "
                             "cannot run in training. Received: rate=1.0")
        gen = self._generator()
        keep = gen.random(self._noise_shape(inputs.shape), dtype=np.float32) >= self.rate
        saturated = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * saturated ** 2)) ** -0.5
        b = -a * saturated * self.rate
        # a * (x * keep + saturated * (1 - keep)) + b, as x * factor + offset
        factor = np.where(keep, np.float32(a), np.float32(0))
        offset = np.where(keep, np.float32(b), np.float32(a * saturated + b))
        return ops.add(ops.multiply(inputs, factor), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ActivityRegularization(Layer):
    """Passes its inputs through unchanged and adds `l1 * sum(|x|) + l2 * sum(x ** 2)` of them,
    divided by the batch size (as Keras 3 does for activity regularizers), to the layer's
    losses, which `model.losses` and the training loss include."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers_mod.L1L2(l1=l1, l2=l2)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config


# --- 1-D convolutions on the 2-D layers ------------------------------------------------------


def _single_non_negative(value, arg, layer):
    """An int >= 0 (or a 1-element list/tuple of one)."""
    received = value
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"The `{arg}` argument of {layer} must be a non-negative integer. "
                         f"Received: {arg}={received!r}")
    return int(value)


class _RowKernels(Layer):
    """Stores the kernels a 2-D parent layer creates for images one row high without their
    leading kernel-row axis of size 1: (1, k, ...) becomes (k, ...), Keras's 1-D shape. Sits
    between the 2-D layer and Layer in a 1-D layer's bases, so the parent's own weight layout
    (e.g. Conv2DTranspose's (kh, kw, filters, in)) is applied first."""

    _row_kernels = ()

    def add_weight(self, shape=None, name=None, **kwargs):
        if name in self._row_kernels:
            shape = tuple(shape)[1:]
        return super().add_weight(shape=shape, name=name, **kwargs)


class _Sequence1D:
    """The 1-D side of a convolution layer built on a 2-D one: validates the 1-D arguments,
    builds the 2-D parent for (batch, 1, steps, channels) images and runs the 2-D kernels on
    the sequence with its kernels given back their row axis. The 2-D parent's geometry
    (`_kernel_hw`, `_strides_hw`, ...) holds (1, n) pairs; the public attributes, and so the
    config, Keras's 1-tuples.

    Subclasses: `class X(_Sequence1D, TwoDLayer, _RowKernels)` with `_row_kernels` naming the
    kernel weights, whose `__init__` ends with `expose_1d(self)`."""

    rank = 1  # spatial axes, Keras's `rank`

    @staticmethod
    def _args_1d(layer, kernel_size, strides, padding, data_format, dilation_rate):
        """Validated (kernel_size, strides, dilation_rate) as 2-D pairs (1, n), padding and
        data_format."""
        pairs = [(1, _single(v, arg, layer)) for v, arg in
                 ((kernel_size, "kernel_size"), (strides, "strides"),
                  (dilation_rate, "dilation_rate"))]
        return (*pairs, _padding(padding, layer), _data_format(data_format, layer))

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(input_shape)}. Full shape "
                             f"received: {tuple(input_shape)}")
        first = self.data_format == "channels_first"
        channels = input_shape[1] if first else input_shape[2]
        if channels is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel dimension of "
                             f"the inputs must be defined. Received input shape "
                             f"{tuple(input_shape)}")
        steps = input_shape[2] if first else input_shape[1]
        super().build((input_shape[0], channels, 1, steps) if first
                      else (input_shape[0], 1, steps, channels))
        self._channels = channels
        self._build_input_shape = tuple(input_shape)

    def _image(self, inputs, fits=False):
        """The (batch, steps, channels) or (batch, channels, steps) input as a channels-last
        image one row high. fits: check the kernel fits (a convolution's output is not
        empty)."""
        _check_rank3(self, inputs)
        x = _to_nwc(inputs, self.data_format)
        if x.shape[-1] != self._channels:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected {self._channels} input channels, received input with "
                             f"shape {(None,) + tuple(inputs.shape[1:])}")
        if fits and conv_output_length(x.shape[1], self.kernel_size[0], self.strides[0],
                                       self.dilation_rate[0], self.padding) < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for kernel_size={self.kernel_size[0]} with "
                             f"dilation_rate={self.dilation_rate[0]} and "
                             f"padding='{self.padding}'")
        return ops.expand_dims(x, 1)

    @staticmethod
    def _row(kernel):
        """A 1-D kernel (k, ...) as the 2-D kernel (1, k, ...) of an image one row high."""
        return ops.expand_dims(kernel, 0)

    def _finish(self, y):
        """The 2-D output (batch, 1, steps, channels) as the layer's output: activation,
        data_format."""
        y = ops.squeeze(y, 1)
        if self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        if config.get("output_padding") is not None:  # Conv2DTranspose writes a list
            config["output_padding"] = tuple(config["output_padding"])
        return config


class Conv1DTranspose(_Sequence1D, Conv2DTranspose, _RowKernels):
    """Transposed 1-D convolution (the gradient of Conv1D with respect to its input): upsamples
    a (batch, steps, channels) sequence by `strides`. Kernel (kernel_size, filters,
    in_channels) and bias (filters,), as Keras stores them.

    Output length, with k = dilation_rate * (kernel_size - 1) + 1: without output_padding,
    'valid': steps * strides + max(k - strides, 0), 'same': steps * strides; with
    output_padding p (< strides): (steps - 1) * strides + k - 2 * pad + p, pad = k // 2 for
    'same', 0 for 'valid'. strides > 1 and dilation_rate > 1 cannot be combined.
    """

    _row_kernels = ("kernel",)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):
        name = "Conv1DTranspose"
        filters = _check_positive_int(filters, "filters", name)
        kernel_size, strides, dilation_rate, padding, data_format = self._args_1d(
            name, kernel_size, strides, padding, data_format, dilation_rate)
        if strides[1] > 1 and dilation_rate[1] > 1:
            raise ValueError(f"{name}: `strides > 1` is not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={strides[1]} and "
                             f"dilation_rate={dilation_rate[1]}")
        if output_padding is not None:
            op = _single_non_negative(output_padding, "output_padding", name)
            if op >= strides[1]:
                raise ValueError(f"{name}: `output_padding` must be strictly less than "
                                 f"`strides`. Received: output_padding={output_padding!r}, "
                                 f"strides={strides[1]}")
            output_padding = (0, op)
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
        expose_1d(self)

    def call(self, inputs):
        y = conv2d_transpose(self._image(inputs), self._row(self.kernel),
                             self.bias if self.use_bias else None, self._strides_hw,
                             self.padding, self._dilation_hw,
                             output_padding=self._output_padding_hw)
        return self._finish(y)


class DepthwiseConv1D(_Sequence1D, DepthwiseConv2D, _RowKernels):
    """Each input channel of a (batch, steps, channels) sequence convolved with its own
    `depth_multiplier` filters: channels * depth_multiplier outputs, output channel
    c * depth_multiplier + j from input channel c. Kernel (kernel_size, channels,
    depth_multiplier) and bias (channels * depth_multiplier,), as Keras stores them."""

    _row_kernels = ("kernel",)

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, **kwargs):
        name = "DepthwiseConv1D"
        kernel_size, strides, dilation_rate, padding, data_format = self._args_1d(
            name, kernel_size, strides, padding, data_format, dilation_rate)
        depth_multiplier = _check_positive_int(depth_multiplier, "depth_multiplier", name)
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
        expose_1d(self)

    def call(self, inputs):
        y = depthwise_conv2d(self._image(inputs, fits=True), self._row(self.kernel), self.bias,
                             self._strides_hw, self.padding, self._dilation_hw)
        return self._finish(y)


class SeparableConv1D(_Sequence1D, SeparableConv2D, _RowKernels):
    """A depthwise 1-D convolution followed by a pointwise (size-1) convolution to `filters`
    channels. Weights, as Keras stores them: depthwise_kernel (kernel_size, channels,
    depth_multiplier), pointwise_kernel (1, channels * depth_multiplier, filters), bias
    (filters,)."""

    _row_kernels = ("depthwise_kernel", "pointwise_kernel")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, **kwargs):
        name = "SeparableConv1D"
        filters = _check_positive_int(filters, "filters", name)
        kernel_size, strides, dilation_rate, padding, data_format = self._args_1d(
            name, kernel_size, strides, padding, data_format, dilation_rate)
        depth_multiplier = _check_positive_int(depth_multiplier, "depth_multiplier", name)
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         depth_multiplier=depth_multiplier, **kwargs)
        expose_1d(self)

    def call(self, inputs):
        mid = depthwise_conv2d(self._image(inputs, fits=True), self._row(self.depthwise_kernel),
                               None, self._strides_hw, self.padding, self._dilation_hw)
        y = conv2d(mid, self._row(self.pointwise_kernel), self.bias, (1, 1), "valid", (1, 1))
        return self._finish(y)


Convolution1DTranspose = Conv1DTranspose
SeparableConvolution1D = SeparableConv1D


# --- attention, normalization, encoding ----------------------------------------------------


class AdditiveAttention(Attention):
    """Bahdanau-style attention, `AdditiveAttention()([query, value])` or `([query, value,
    key])` with inputs (batch, T, dim): scores[i, j] = sum(scale * tanh(query[i] + key[j]))
    over dim, with a learned `scale` vector (dim,) when use_scale (else 1), then as
    `Attention`: masks, causal masks, softmax over the value steps, dropout while training,
    the weighted sum of the values, `return_attention_scores`."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(input_shape[0][-1],),
                                         initializer="glorot_uniform", trainable=True)
        Layer.build(self, input_shape)

    def _scores(self, query, key):
        summed = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        if self.scale is not None:
            summed = ops.multiply(summed, self.scale)
        return ops.sum(summed, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode")
        return config


class RMSNormalization(Layer):
    """Root-mean-square normalization over `axis` (an int or a list of ints, default the last
    axis): `x / sqrt(mean(x ** 2) + epsilon) * scale`, the mean over the normalized axes of
    each sample, with a learned `scale` (initialized to ones) spanning those axes. Unlike
    LayerNormalization(rms_scaling=True) the inputs are not centered first."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            ok = bool(axis) and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                                    for a in axis)
        else:
            ok = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
        if not ok:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis' of "
                            f"RMSNormalization. Received: axis={axis!r}")
        self.axis = axis
        self.epsilon = _as_float(epsilon, "epsilon", "RMSNormalization")
        self.scale = None

    def _axes(self, shape):
        """The normalized axes, each as given (Keras's order: sorted) after a range check."""
        axes = sorted(self.axis) if isinstance(self.axis, (list, tuple)) else [self.axis]
        for a in axes:
            if not -len(shape) <= a < len(shape):
                raise ValueError(f"Axis {a} is out of bounds for input shape {tuple(shape)}. "
                                 f"Received: axis={self.axis}")
        return axes

    def build(self, input_shape):
        self.axis = self._axes(input_shape)
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(f"The normalized axes {self.axis} of the input to RMSNormalization "
                             f"layer '{self.name}' must have known sizes. Received input shape: "
                             f"{tuple(input_shape)}")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        super().build(input_shape)

    def call(self, inputs):
        ndim = len(self._build_input_shape)
        expected = tuple(self.scale.shape)
        if inputs.ndim != ndim or tuple(inputs.shape[a] for a in self.axis) != expected:
            raise _incompatible(self, f"expected ndim={ndim} with axes {self.axis} of sizes "
                                f"{expected}", inputs.shape)
        axes = tuple(a % ndim for a in self.axis)
        mean_square = ops.mean(ops.square(inputs), axis=axes, keepdims=True)
        inv_rms = ops.divide(1.0, ops.sqrt(ops.add(mean_square, self.epsilon)))
        broadcast = tuple(inputs.shape[d] if d in axes else 1 for d in range(ndim))
        return ops.multiply(ops.multiply(inputs, inv_rms), ops.reshape(self.scale, broadcast))

    def compute_output_shape(self, input_shape):
        self._axes(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "epsilon": self.epsilon})
        return config


def encode_categories(ids, mode, depth, dtype, count_weights=None):
    """int64 ids (negative: no token) as "one_hot", "multi_hot" or "count" vectors of `depth`
    in `dtype`; a sample is the last axis (one_hot: each id; a trailing axis of 1 is one id);
    a scalar is one sample. Shared by CategoryEncoding and the lookup layers."""
    if ids.ndim == 0:
        ids = ids[None]
    if mode == "one_hot" and ids.ndim > 1 and ids.shape[-1] == 1:
        ids = ids[..., 0]
    hot = ids[..., None] == np.arange(depth)
    if mode == "one_hot":
        out = hot
    elif mode == "multi_hot":
        out = hot.any(axis=-2)
    else:
        weights = 1 if count_weights is None else np.asarray(count_weights, dtype)[..., None]
        out = (hot * weights).sum(axis=-2)
    return np.ascontiguousarray(out, dtype=dtype)


def encoded_shape(input_shape, mode, depth):
    """The output shape of `encode_categories` for inputs of `input_shape`."""
    input_shape = tuple(input_shape)
    if not input_shape:
        return (depth,)
    if mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


class CategoryEncoding(Layer):
    """Encodes integer token ids in [0, num_tokens) as vectors of num_tokens floats.

    output_mode: "multi_hot" (default; "binary" is its alias) marks every token a sample
    (the last input axis) contains, (batch, n) -> (batch, num_tokens); "count" counts them,
    or sums `count_weights` (a call argument, the inputs' shape) per token; "one_hot" encodes
    each id, (batch,) or (batch, 1) -> (batch, num_tokens), (batch, n) -> (batch, n,
    num_tokens). A scalar input is one sample. Negative ids encode as zeros; ids of
    num_tokens or more raise an error. Sparse outputs are not supported.
    """

    _MODES = ("multi_hot", "one_hot", "count")

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in self._MODES:
            raise ValueError("Unknown arg for output_mode: expected one of 'multi_hot', "
                             f"'one_hot', 'count'. Received: output_mode={output_mode!r}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer (the number of token ids). "
                             "Received: num_tokens=None")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) \
                or num_tokens < 1:
            raise ValueError(f"`num_tokens` must be an integer >= 1. "
                             f"Received: num_tokens={num_tokens!r}")
        if sparse:
            raise ValueError("CategoryEncoding: sparse outputs are not supported; use "
                             f"sparse=False. Received: sparse={sparse!r}")
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not 'count'. "
                             f"Received: output_mode={self.output_mode!r} and count_weights of "
                             f"shape {np.shape(getattr(count_weights, 'value', count_weights))}")
        ids = np.asarray(getattr(inputs, "value", inputs))
        if ids.dtype.kind == "f":
            ids = np.trunc(ids)
        ids = ids.astype(np.int64)
        if ids.size and ids.max() >= self.num_tokens:
            raise ValueError(f"Layer '{self.name}': token ids must be smaller than num_tokens="
                             f"{self.num_tokens}. Received an input containing {ids.max()}")
        weights = None if count_weights is None else getattr(count_weights, "value",
                                                             count_weights)
        return Tensor(encode_categories(ids, self.output_mode, self.num_tokens,
                                        np.dtype(self.dtype), weights))

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config
