"""1-D convolution and pooling on (batch, steps, channels) inputs, run on the 2-D kernels as
images one row high."""

from __future__ import annotations

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import ops
from fastkeras.layers.conv2d import Conv2D, _data_format, _GlobalPooling2D, _padding
from fastkeras.layers.layer import Layer
from fastkeras.ops.conv2d import avg_pool2d, conv2d, conv_output_length, max_pool2d, same_padding


def _single(value, arg, layer):
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"The `{arg}` argument of {layer} must be a positive integer. "
                         f"Received: {arg}={value!r}")
    return int(value)


def _check_rank3(layer, inputs):
    if inputs.ndim != 3:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: "
                         f"expected ndim=3, found ndim={inputs.ndim}. Full shape received: "
                         f"{(None,) + tuple(inputs.shape[1:])}")


def expose_1d(layer):
    """Sets a 1-D layer's public kernel_size / strides / dilation_rate (and output_padding
    when it has one) to Keras's 1-tuples, from the (1, n) pairs its 2-D base runs with
    (`_kernel_hw`, `_strides_hw`, `_dilation_hw`, `_output_padding_hw`)."""
    layer.kernel_size = (layer._kernel_hw[1],)
    layer.strides = (layer._strides_hw[1],)
    layer.dilation_rate = (layer._dilation_hw[1],)
    output_padding = layer.__dict__.get("_output_padding_hw")
    if output_padding is not None:
        layer.output_padding = (output_padding[1],)


def _to_nwc(x, data_format):
    return ops.transpose(x, (0, 2, 1)) if data_format == "channels_first" else x


def _from_nwc(y, data_format):
    return ops.transpose(y, (0, 2, 1)) if data_format == "channels_first" else y


class Conv1D(Conv2D):
    """1-D convolution over steps: kernel (kernel_size, in_channels, filters) as Keras stores it.

    padding: 'valid', 'same' or 'causal' (left padding only, so output t never sees input
    after t). lora_rank / lora_alpha / `enable_lora()` as Conv2D's, with factors
    lora_kernel_a (kernel_size, in_channels, rank) and lora_kernel_b (rank, filters).
    """

    rank = 1  # spatial axes, Keras's `rank`

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, **kwargs):
        causal = isinstance(padding, str) and padding.lower() == "causal"
        super().__init__(filters, (1, _single(kernel_size, "kernel_size", "Conv1D")),
                         strides=(1, _single(strides, "strides", "Conv1D")),
                         padding="valid" if causal else padding, data_format=data_format,
                         dilation_rate=(1, _single(dilation_rate, "dilation_rate", "Conv1D")),
                         groups=groups, activation=activation, use_bias=use_bias, **kwargs)
        expose_1d(self)
        if causal:
            self.padding = "causal"

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(input_shape)}. Full shape "
                             f"received: {tuple(input_shape)}")
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        super().build((input_shape[0], 1, None, channels) if self.data_format == "channels_last"
                      else (input_shape[0], channels, 1, None))
        self._build_input_shape = tuple(input_shape)

    def _kernel_2d(self):
        return ops.reshape(self.kernel, (1,) + tuple(self.kernel.shape))

    def add_weight(self, shape=None, name=None, **kwargs):
        if name == "kernel":  # stored as Keras stores Conv1D kernels: (k, in, filters)
            shape = tuple(shape)[1:]
        return super().add_weight(shape=shape, name=name, **kwargs)

    def call(self, inputs):
        _check_rank3(self, inputs)
        x = _to_nwc(inputs, self.data_format)
        steps = x.shape[1]
        (k,), (d,), (s,) = self.kernel_size, self.dilation_rate, self.strides
        if self.padding == "causal":
            pads = ((0, 0), (d * (k - 1), 0))
        elif self.padding == "same":
            pads = ((0, 0), same_padding(steps, k, s, d))
        else:
            pads = ((0, 0), (0, 0))
        out = conv_output_length(steps + sum(pads[1]), k, s, d, "valid")
        if out < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for kernel_size={k} with dilation_rate={d} and "
                             f"padding='{self.padding}'")
        fuse_relu = self.activation is activations_mod.relu
        image, kernel = ops.expand_dims(x, 1), self._kernel_2d()
        bias = self.bias if self.use_bias else None
        if self.groups == 1:
            y = conv2d(image, kernel, bias, self._strides_hw, pads, self._dilation_hw,
                       relu=fuse_relu)
        else:  # each group: its slice of input channels with its slice of filters
            cg, fg = x.shape[-1] // self.groups, self.filters // self.groups
            parts = [conv2d(ops.getitem(image, (Ellipsis, slice(g * cg, (g + 1) * cg))),
                            ops.getitem(kernel, (Ellipsis, slice(g * fg, (g + 1) * fg))),
                            None if bias is None else ops.getitem(bias, slice(g * fg, (g + 1) * fg)),
                            self._strides_hw, pads, self._dilation_hw, relu=fuse_relu)
                     for g in range(self.groups)]
            y = ops.concatenate(parts, axis=-1)
        y = ops.squeeze(y, 1)
        if not fuse_relu and self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nwc(y, self.data_format)


class _Pooling1D(Layer):
    _pool = None
    _name = ""
    pool_mode = None  # "max" or "average", as Keras's pooling layers say

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        # One-element tuples, as Keras keeps them.
        self.pool_size = (_single(pool_size, "pool_size", self._name),)
        self.strides = self.pool_size if strides is None else (
            _single(strides, "strides", self._name),)
        self.padding = _padding(padding, self._name)
        self.data_format = _data_format(data_format, self._name)

    def call(self, inputs):
        _check_rank3(self, inputs)
        x = _to_nwc(inputs, self.data_format)
        (size,), (stride,) = self.pool_size, self.strides
        if conv_output_length(x.shape[1], size, stride, 1, self.padding) < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for pool_size={size}")
        y = type(self)._pool(ops.expand_dims(x, 1), (1, size), (1, stride), self.padding)
        return _from_nwc(ops.squeeze(y, 1), self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class MaxPooling1D(_Pooling1D):
    """Max over windows of pool_size steps (strides default to pool_size)."""
    _pool = staticmethod(max_pool2d)
    _name = "MaxPooling1D"
    pool_mode = "max"


class AveragePooling1D(_Pooling1D):
    """Mean over windows of pool_size steps (padding cells not counted)."""
    _pool = staticmethod(avg_pool2d)
    _name = "AveragePooling1D"
    pool_mode = "average"


class GlobalAveragePooling1D(_GlobalPooling2D):
    """Mean over steps: (N, steps, C) -> (N, C). With a mask (e.g. from
    Embedding(mask_zero=True)), the mean of the unmasked steps only, as Keras's."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        _check_rank3(self, inputs)
        axis = 2 if self.data_format == "channels_first" else 1
        if mask is None:
            return ops.mean(inputs, axis=axis, keepdims=self.keepdims)
        keep = np.asarray(getattr(mask, "value", mask), dtype=bool)
        keep = np.expand_dims(keep, 1 if self.data_format == "channels_first" else 2)
        weights = keep.astype(np.float32)
        total = ops.sum(ops.multiply(inputs, weights), axis=axis, keepdims=self.keepdims)
        return ops.divide(total, np.sum(weights, axis=axis, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling1D(_GlobalPooling2D):
    """Max over steps: (N, steps, C) -> (N, C)."""

    def call(self, inputs):
        _check_rank3(self, inputs)
        axis = 2 if self.data_format == "channels_first" else 1
        return ops.max(inputs, axis=axis, keepdims=self.keepdims)


Convolution1D = Conv1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
