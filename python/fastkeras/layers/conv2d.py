"""2-D convolution and pooling layers: Conv2D, MaxPooling2D, AveragePooling2D and the global
poolings. channels_last runs the C++ kernels directly; channels_first transposes around them."""

from __future__ import annotations

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend.tape import Tensor
from fastkeras.layers.core import _check_positive_int, _serialize
from fastkeras.layers.layer import Layer
from fastkeras.layers.lora import Absent, LoRA, adapted_weight, lora_arguments_rejected
from fastkeras.ops.conv2d import (
    avg_pool2d,
    conv2d,
    conv2d_relu_max_pool2d,
    conv2d_relu_max_pool2d_applicable,
    conv_output_length,
    max_pool2d,
)


def convolution_op(layer, inputs, kernel):
    """Keras's `convolution_op` of the convolution layers: the layer's convolution of `inputs`
    with `kernel` (its strides, padding, dilation and data format), without bias or
    activation."""
    return ops.conv(inputs, kernel, strides=layer.strides, padding=layer.padding,
                    dilation_rate=layer.dilation_rate, data_format=layer.data_format)


def call_through_convolution_op(layer, inputs):
    """Keras's convolution call when a subclass overrides `convolution_op` (keras.io's
    weight-standardized Conv2D): its result, plus the bias, then the activation."""
    outputs = layer.convolution_op(inputs, layer.kernel)
    if layer.use_bias:
        rank = len(layer.kernel_size)
        shape = (1,) * (rank + 1) + (layer.filters,) if layer.data_format == "channels_last" \
            else (1, layer.filters) + (1,) * rank
        outputs = ops.add(outputs, ops.reshape(layer.bias, shape))
    return outputs if layer.activation is None else layer.activation(outputs)


def set_conv_arguments(layer, name, to_tuple, filters, kernel_size, strides, padding,
                       data_format, dilation_rate, groups, activation, use_bias,
                       kernel_initializer, bias_initializer, kernel_regularizer,
                       bias_regularizer, activity_regularizer, kernel_constraint,
                       bias_constraint):
    """Checks and stores a convolution's arguments (Conv2D's and Conv3D's alike); `to_tuple`
    turns an int or a sequence into the layer's per-axis tuple."""
    layer.filters = _check_positive_int(filters, "filters", name)
    layer.kernel_size = to_tuple(kernel_size, "kernel_size", name)
    layer.strides = to_tuple(strides, "strides", name)
    layer.padding = _padding(padding, name)
    layer.data_format = _data_format(data_format, name)
    layer.dilation_rate = to_tuple(dilation_rate, "dilation_rate", name)
    ones = (1,) * len(layer.strides)
    if layer.strides != ones and layer.dilation_rate != ones:
        raise ValueError(f"{name}: `strides > 1` is not compatible with `dilation_rate > 1`. "
                         f"Received: strides={layer.strides}, "
                         f"dilation_rate={layer.dilation_rate}")
    layer.groups = _check_positive_int(groups, "groups", name)
    if layer.filters % layer.groups:
        raise ValueError(f"{name}: `filters` must be divisible by `groups`. Received: "
                         f"filters={layer.filters}, groups={layer.groups}")
    layer.activation = activations_mod.get(activation)
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = initializers_mod.get(kernel_initializer)
    layer.bias_initializer = initializers_mod.get(bias_initializer)
    layer.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
    layer.bias_regularizer = regularizers_mod.get(bias_regularizer)
    layer.activity_regularizer = regularizers_mod.get(activity_regularizer)
    layer.kernel_constraint = constraints_mod.get(kernel_constraint)
    layer.bias_constraint = constraints_mod.get(bias_constraint)
    layer.kernel = None
    layer.bias = None


def conv_input_channels(layer, name, input_shape, ndim):
    """The channel count of a convolution's input shape, after checking its rank and that the
    channel axis is known."""
    if len(input_shape) != ndim:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: "
                         f"expected ndim={ndim}, found ndim={len(input_shape)}. Full shape "
                         f"received: {tuple(input_shape)}")
    channels = input_shape[1] if layer.data_format == "channels_first" else input_shape[-1]
    if channels is None:
        raise ValueError(f"{name} '{layer.name}': the channel dimension of the inputs must be "
                         f"defined. Received input shape {tuple(input_shape)}")
    return channels


def conv_config(layer):
    """The config entries of the arguments `set_conv_arguments` stored, as Keras writes them."""
    return {
        "filters": layer.filters, "kernel_size": layer.kernel_size, "strides": layer.strides,
        "padding": layer.padding, "data_format": layer.data_format,
        "dilation_rate": layer.dilation_rate, "groups": layer.groups,
        "activation": activations_mod.serialize(layer.activation), "use_bias": layer.use_bias,
        "kernel_initializer": _serialize(layer.kernel_initializer),
        "bias_initializer": _serialize(layer.bias_initializer),
        "kernel_regularizer": _serialize(layer.kernel_regularizer),
        "bias_regularizer": _serialize(layer.bias_regularizer),
        "activity_regularizer": _serialize(layer.activity_regularizer),
        "kernel_constraint": constraints_mod.serialize(layer.kernel_constraint),
        "bias_constraint": constraints_mod.serialize(layer.bias_constraint),
    }


def _pair(value, arg, layer):
    """An int or a pair of positive ints, as Keras accepts for kernel_size/strides/..."""
    received = value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or any(v < 1 for v in pair) or any(isinstance(v, bool) for v in value):
        value = received
        raise ValueError(f"The `{arg}` argument of {layer} must be a positive integer or a tuple "
                         f"of 2 positive integers. Received: {arg}={value!r}")
    return pair


def _padding(value, layer):
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"The `padding` argument of {layer} must be 'valid' or 'same' (any "
                         f"case). Received: padding={value!r}")
    return value.lower()


def _data_format(value, layer):
    if value is None:  # the global default, keras.config.set_image_data_format
        from fastkeras.backend.config import image_data_format
        value = image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument of {layer} must be 'channels_last' or "
                         f"'channels_first'. Received: data_format={value!r}")
    return value


def _to_nhwc(x, data_format):
    return ops.transpose(x, (0, 2, 3, 1)) if data_format == "channels_first" else x


def _from_nhwc(y, data_format):
    return ops.transpose(y, (0, 3, 1, 2)) if data_format == "channels_first" else y


def _check_rank4(layer, inputs):
    if inputs.ndim != 4:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: "
                         f"expected ndim=4, found ndim={inputs.ndim}. Full shape received: "
                         f"{(None,) + tuple(inputs.shape[1:])}")


class Conv2D(LoRA, Layer):
    """2-D convolution: `activation(conv2d(inputs, kernel) + bias)`.

    Args:
        filters: number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or pair (default 1). padding: 'valid' or 'same' (TF's rule: the extra
            row/column of padding goes at the bottom/right). data_format: 'channels_last'
            (N, H, W, C) or 'channels_first' (N, C, H, W). dilation_rate: int or pair.
        activation, use_bias, kernel/bias initializers, regularizers as for Dense.
        lora_rank, lora_alpha: build with LoRA of the kernel (see `enable_lora`): factors
            lora_kernel_a (kh, kw, in_channels, rank) and lora_kernel_b (rank, filters).

    Kernel shape (kh, kw, in_channels, filters) as Keras stores it.
    """

    rank = 2  # spatial axes, Keras's `rank`

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**lora_arguments_rejected(self, kwargs, lora_rank, lora_alpha))
        set_conv_arguments(self, "Conv2D", _pair, filters, kernel_size, strides, padding,
                           data_format, dilation_rate, groups, activation, use_bias,
                           kernel_initializer, bias_initializer, kernel_regularizer,
                           bias_regularizer, activity_regularizer, kernel_constraint,
                           bias_constraint)
        # The geometry the 2-D kernels run with. A 1-D layer built on this one keeps (1, n)
        # pairs here and Keras's 1-tuples in the public attributes.
        self._kernel_hw = self.kernel_size
        self._strides_hw = self.strides
        self._dilation_hw = self.dilation_rate
        if self._lora_supported:
            self._set_lora_arguments(lora_rank, lora_alpha)

    kernel = adapted_weight("kernel")

    def convolution_op(self, inputs, kernel):
        return convolution_op(self, inputs, kernel)

    def build(self, input_shape):
        channels = conv_input_channels(self, "Conv2D", input_shape, 4)
        if channels % self.groups:
            raise ValueError(f"Conv2D '{self.name}': the number of input channels must be "
                             f"divisible by `groups`. Received: groups={self.groups}, input "
                             f"shape {tuple(input_shape)}")
        self.kernel = self.add_weight(name="kernel",
                                      shape=self._kernel_hw + (channels // self.groups,
                                                               self.filters),
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

    def call(self, inputs):
        if type(self).convolution_op is not Conv2D.convolution_op:
            return call_through_convolution_op(self, inputs)
        _check_rank4(self, inputs)
        x = _to_nhwc(inputs, self.data_format)
        h, w, c = x.shape[1:]
        kernel = self.kernel
        if c != kernel.shape[2] * self.groups:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected {kernel.shape[2] * self.groups} input channels, "
                             f"received input with shape {(None,) + tuple(inputs.shape[1:])}")
        (kh, kw), (sh, sw), (dh, dw) = self._kernel_hw, self._strides_hw, self._dilation_hw
        oh = conv_output_length(h, kh, sh, dh, self.padding)
        ow = conv_output_length(w, kw, sw, dw, self.padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for kernel_size={self.kernel_size} with "
                             f"dilation_rate={self.dilation_rate} and padding='{self.padding}' "
                             f"(output would be {(oh, ow)})")
        fuse_relu = self.activation is activations_mod.relu
        bias = self.bias if self.use_bias else None
        if self.groups == 1:
            y = conv2d(x, kernel, bias, self._strides_hw, self.padding, self._dilation_hw,
                       relu=fuse_relu)
        else:  # each group: its slice of input channels with its slice of filters
            cg, fg = c // self.groups, self.filters // self.groups
            parts = [conv2d(ops.getitem(x, (Ellipsis, slice(g * cg, (g + 1) * cg))),
                            ops.getitem(kernel, (Ellipsis, slice(g * fg, (g + 1) * fg))),
                            None if bias is None else ops.getitem(bias, slice(g * fg, (g + 1) * fg)),
                            self._strides_hw, self.padding, self._dilation_hw, relu=fuse_relu)
                     for g in range(self.groups)]
            y = ops.concatenate(parts, axis=-1)
        if not fuse_relu and self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nhwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update(conv_config(self))
        return self._lora_config(config)


class _Pooling2D(Layer):
    _pool = None
    _name = ""
    pool_mode = None  # "max" or "average", as Keras's pooling layers say

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", self._name)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides",
                                                                    self._name)
        self.padding = _padding(padding, self._name)
        self.data_format = _data_format(data_format, self._name)

    def call(self, inputs):
        _check_rank4(self, inputs)
        x = _to_nhwc(inputs, self.data_format)
        h, w = x.shape[1:3]
        oh = conv_output_length(h, self.pool_size[0], self.strides[0], 1, self.padding)
        ow = conv_output_length(w, self.pool_size[1], self.strides[1], 1, self.padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for pool_size={self.pool_size} with "
                             f"padding='{self.padding}'")
        y = type(self)._pool(x, self.pool_size, self.strides, self.padding)
        return _from_nhwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class MaxPooling2D(_Pooling2D):
    """Max over pool_size windows moved by strides (default: pool_size, non-overlapping)."""
    _pool = staticmethod(max_pool2d)
    _name = "MaxPooling2D"
    pool_mode = "max"


class AveragePooling2D(_Pooling2D):
    """Mean over pool_size windows; with 'same' padding the padded cells are not counted."""
    _pool = staticmethod(avg_pool2d)
    _name = "AveragePooling2D"
    pool_mode = "average"


def fused_conv_pool(conv, pool, x):
    """`pool(conv(x))` as one op when `conv` is a Conv2D(relu) with stride 1 and 'valid'
    padding on data (x needs no gradient) and `pool` a MaxPooling2D(2): the same result without
    the convolution's output in memory (ops.conv2d_relu_max_pool2d). None when the pair does
    not qualify; the caller then calls the two layers."""
    if not (type(conv) is Conv2D and type(pool) is MaxPooling2D and isinstance(x, Tensor)
            and conv.built and not x.requires_grad and x._keras_mask is None
            and len(x.shape) == 4):
        return None
    if (conv.activation is not activations_mod.relu or conv.groups != 1
            or conv.strides != (1, 1) or conv.dilation_rate != (1, 1) or conv.padding != "valid"
            or conv.data_format != "channels_last" or conv.activity_regularizer is not None
            or pool.pool_size != (2, 2) or pool.strides != (2, 2) or pool.padding != "valid"
            or pool.data_format != "channels_last"):
        return None
    if x.shape[3] != conv.kernel.shape[2] or not conv2d_relu_max_pool2d_applicable(
            x.shape, conv.kernel.shape):
        return None
    return conv2d_relu_max_pool2d(x, conv.kernel, conv.bias if conv.use_bias else None)


class _GlobalPooling2D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes: (N, H, W, C) -> (N, C) (keepdims: (N, 1, 1, C))."""

    def call(self, inputs):
        _check_rank4(self, inputs)
        return ops.mean(inputs, axis=self._axes(), keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over the spatial axes: (N, H, W, C) -> (N, C) (keepdims: (N, 1, 1, C))."""

    def call(self, inputs):
        _check_rank4(self, inputs)
        return ops.max(inputs, axis=self._axes(), keepdims=self.keepdims)


Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution (the gradient of Conv2D with respect to its input): upsamples
    by `strides`. Kernel shape (kh, kw, filters, in_channels) as Keras stores it.

    Output size per axis, with k = dilation * (kernel - 1) + 1: without output_padding,
    'valid': in * stride + max(k - stride, 0), 'same': in * stride; with output_padding p:
    (in - 1) * stride + k - 2 * pad + p, pad = k // 2 for 'same' and 0 for 'valid' (Keras's
    rule). p must be smaller than the stride.
    """

    # Keras's transposed convolutions have no LoRA and no `convolution_op`.
    _lora_supported = False
    enable_lora = Absent()
    convolution_op = Absent()

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        if output_padding is not None:
            received = output_padding
            if isinstance(output_padding, (int, np.integer)) and not isinstance(output_padding,
                                                                                bool):
                output_padding = (int(output_padding),) * 2
            try:
                output_padding = tuple(int(v) for v in output_padding)
            except (TypeError, ValueError):
                output_padding = ()
            if len(output_padding) != 2 or any(v < 0 for v in output_padding):
                raise ValueError("The `output_padding` argument of Conv2DTranspose must be a "
                                 "non-negative integer or a tuple of 2 non-negative integers. "
                                 f"Received: output_padding={received!r}")
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError("Strides must be greater than output padding. Received "
                                 f"strides={self.strides}, output_padding={output_padding}.")
        self.output_padding = output_padding
        self._output_padding_hw = output_padding

    def add_weight(self, shape=None, name=None, **kwargs):
        if name == "kernel":  # (kh, kw, filters, in): output channels before input channels
            kh, kw, channels, filters = shape
            shape = (kh, kw, filters, channels)
        return super().add_weight(shape=shape, name=name, **kwargs)

    def call(self, inputs):
        _check_rank4(self, inputs)
        x = _to_nhwc(inputs, self.data_format)
        if x.shape[-1] != self.kernel.shape[3]:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected {self.kernel.shape[3]} input channels, received input "
                             f"with shape {(None,) + tuple(inputs.shape[1:])}")
        from fastkeras.ops.conv2d import conv2d_transpose
        y = conv2d_transpose(x, self.kernel, self.bias if self.use_bias else None,
                             self._strides_hw, self.padding, self._dilation_hw,
                             output_padding=self._output_padding_hw)
        if self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nhwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        config["output_padding"] = (None if self.output_padding is None
                                    else list(self.output_padding))
        return config


Convolution2DTranspose = Conv2DTranspose


class DepthwiseConv2D(Layer):
    """Each input channel convolved with its own `depth_multiplier` filters; output channels
    in_channels * depth_multiplier. Kernel (kh, kw, in_channels, depth_multiplier)."""

    rank = 2  # spatial axes, Keras's `rank`

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.strides = _pair(strides, "strides", name)
        self.padding = _padding(padding, name)
        self.depth_multiplier = _check_positive_int(depth_multiplier, "depth_multiplier", name)
        self.data_format = _data_format(data_format, name)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", name)
        self.activation = activations_mod.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers_mod.get(depthwise_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.depthwise_regularizer = regularizers_mod.get(depthwise_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.depthwise_constraint = constraints_mod.get(depthwise_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        # The geometry the 2-D kernels run with (see Conv2D.__init__).
        self._kernel_hw = self.kernel_size
        self._strides_hw = self.strides
        self._dilation_hw = self.dilation_rate

    def _channels(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=4, found ndim={len(input_shape)}. Full shape "
                             f"received: {tuple(input_shape)}")
        return input_shape[1] if self.data_format == "channels_first" else input_shape[-1]

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            name="kernel", shape=self._kernel_hw + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)

    def _depthwise(self, inputs, kernel, bias):
        from fastkeras.ops.depthwise import depthwise_conv2d
        _check_rank4(self, inputs)
        x = _to_nhwc(inputs, self.data_format)
        (kh, kw), (sh, sw), (dh, dw) = self._kernel_hw, self._strides_hw, self._dilation_hw
        oh = conv_output_length(x.shape[1], kh, sh, dh, self.padding)
        ow = conv_output_length(x.shape[2], kw, sw, dw, self.padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"Layer '{self.name}': the input {(None,) + tuple(inputs.shape[1:])} "
                             f"is too small for kernel_size={self.kernel_size}")
        return depthwise_conv2d(x, kernel, bias, self._strides_hw, self.padding,
                                self._dilation_hw)

    def call(self, inputs):
        y = self._depthwise(inputs, self.kernel, self.bias)
        if self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nhwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations_mod.serialize(self.activation), "use_bias": self.use_bias,
            "depthwise_initializer": _serialize(self.depthwise_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "depthwise_regularizer": _serialize(self.depthwise_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "depthwise_constraint": constraints_mod.serialize(self.depthwise_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
        })
        return config


class SeparableConv2D(DepthwiseConv2D):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution to `filters`
    channels. Weights: depthwise_kernel (kh, kw, in, depth_multiplier), pointwise_kernel
    (1, 1, in * depth_multiplier, filters), bias (filters,)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         depthwise_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)
        self.filters = _check_positive_int(filters, "filters", "SeparableConv2D")
        self.pointwise_initializer = initializers_mod.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers_mod.get(pointwise_regularizer)
        self.pointwise_constraint = constraints_mod.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=self._kernel_hw + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        Layer.build(self, input_shape)

    def call(self, inputs):
        mid = self._depthwise(inputs, self.depthwise_kernel, None)
        fuse_relu = self.activation is activations_mod.relu
        y = conv2d(mid, self.pointwise_kernel, self.bias, (1, 1), "valid", (1, 1),
                   relu=fuse_relu)
        if not fuse_relu and self.activation is not activations_mod.linear:
            y = self.activation(y)
        return _from_nhwc(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters,
                       "pointwise_initializer": _serialize(self.pointwise_initializer),
                       "pointwise_regularizer": _serialize(self.pointwise_regularizer),
                       "pointwise_constraint":
                           constraints_mod.serialize(self.pointwise_constraint)})
        return config


SeparableConvolution2D = SeparableConv2D
