"""ConvLSTM1D/2D/3D: LSTMs whose input and recurrent transformations are convolutions
(Shi et al., 2015), in Keras 3's formulation and weight layout: kernel
(*kernel_size, channels, 4 * filters), recurrent_kernel (*kernel_size, filters, 4 * filters)
and bias (4 * filters), gates i, f, c, o side by side. The cell runs step by step under RNN."""

from __future__ import annotations

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.layers.conv2d import _data_format, _padding
from fastkeras.layers.core import _check_positive_int
from fastkeras.layers.layer import Layer
from fastkeras.layers.reshaping import standardize_tuple
from fastkeras.layers.rnn import (
    RNN,
    _cell_setting,
    _ser,
    keep_mask,
    recurrent_arguments_config,
    set_recurrent_arguments,
)
from fastkeras.ops.conv2d import conv_output_length
from fastkeras.ops.convolution import conv

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]


class ConvLSTMCell(Layer):
    """One ConvLSTM step on (batch, *spatial, channels) inputs (or channels first):
    i, f, o = recurrent_activation(conv(x, W_g) + conv(h, U_g) + b_g),
    c' = f * c + i * activation(conv(x, W_c) + conv(h, U_c) + b_c), h' = o * activation(c').
    The input convolution uses the layer's strides, padding and dilation; the recurrent one
    stride 1 and 'same' padding. With dropout, each gate gets its own mask, drawn once per
    sequence."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = f"ConvLSTM{rank}D"
        if rank not in (1, 2, 3):
            raise ValueError(f"Rank {rank} convolutions are not implemented. Received: "
                             f"rank={rank!r}")
        self.rank = rank
        self.filters = _check_positive_int(filters, "filters", owner)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.padding = _padding(padding, owner)
        self.data_format = _data_format(data_format, owner)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{owner}: `strides > 1` is not compatible with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        set_recurrent_arguments(self, owner, locals())
        self.spatial_dims = None
        self.input_dim = None
        self.kernel = self.recurrent_kernel = self.bias = None
        self._dropout_masks = self._recurrent_dropout_masks = None

    # The states are feature maps, not vectors: `state_size` only says there are two.
    state_size = (-1, -1)

    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        owner = f"ConvLSTM{self.rank}D"
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{owner} '{self.name}' expects inputs of rank {self.rank + 3} "
                             f"(batch, time, {self.rank} spatial axes and channels). Received "
                             f"a timestep of shape {input_shape}")
        spatial = input_shape[2:] if self.data_format == "channels_first" else input_shape[1:-1]
        if None in spatial:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the "
                             f"spatial dimensions. Received a timestep of shape {input_shape}")
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(f"{owner} '{self.name}': the channel dimension of the inputs "
                             f"must be defined. Received a timestep of shape {input_shape}")
        self.spatial_dims, self.input_dim = tuple(spatial), channels
        four = 4 * self.filters
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels, four),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=self.kernel_size + (self.filters, four),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(four,),
                                        initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, f = self.bias_initializer, self.filters

        def init(shape, dtype="float32"):
            return np.concatenate([np.asarray(base((f,), dtype=dtype)), np.ones((f,), dtype),
                                   np.asarray(base((2 * f,), dtype=dtype))])
        return init

    def output_spatial_shape(self):
        return tuple(conv_output_length(s, k, st, d, self.padding) for s, k, st, d in zip(
            self.spatial_dims, self.kernel_size, self.strides, self.dilation_rate))

    def get_initial_state(self, batch_size=None):
        spatial = self.output_spatial_shape()
        shape = ((batch_size, self.filters) + spatial if self.data_format == "channels_first"
                 else (batch_size,) + spatial + (self.filters,))
        return [ops.zeros(shape), ops.zeros(shape)]

    def _masks(self, attr, shape, rate):
        masks = getattr(self, attr)
        if masks is None or masks[0].shape != shape:
            masks = [keep_mask(self.seed_generator, shape, rate) for _ in range(4)]
            setattr(self, attr, masks)
        return masks

    def reset_dropout_mask(self):
        self._dropout_masks = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_masks = None

    def _gates(self, x, kernel, masks, **conv_args):
        """conv(x, kernel) for the four gates at once (one convolution), or gate by gate on
        each gate's dropped-out copy of x; the gates side by side on the channel axis."""
        if masks is None:
            return conv(x, kernel, data_format=self.data_format, **conv_args)
        f = self.filters
        parts = [conv(ops.multiply(x, m), kernel[..., g * f:(g + 1) * f],
                      data_format=self.data_format, **conv_args)
                 for g, m in enumerate(masks)]
        return ops.concatenate(parts, axis=self._channel_axis())

    def call(self, inputs, states, training=False):
        shape = tuple(inputs.shape)
        spatial = shape[2:] if self.data_format == "channels_first" else shape[1:-1]
        if spatial != self.spatial_dims:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the "
                             f"spatial dimensions: '{self.name}' was built for "
                             f"{self.spatial_dims} and received a timestep of shape {shape}")
        h, c = states[0], states[1]
        in_masks = rec_masks = None
        if training and 0 < self.dropout < 1:
            in_masks = self._masks("_dropout_masks", tuple(inputs.shape), self.dropout)
        if training and 0 < self.recurrent_dropout < 1:
            rec_masks = self._masks("_recurrent_dropout_masks", tuple(h.shape),
                                    self.recurrent_dropout)
        z = ops.add(
            self._gates(inputs, self.kernel, in_masks, strides=self.strides,
                        padding=self.padding, dilation_rate=self.dilation_rate),
            self._gates(h, self.recurrent_kernel, rec_masks, padding="same"))
        if self.use_bias:
            bias = self.bias if self.data_format == "channels_last" else ops.reshape(
                self.bias, (-1,) + (1,) * self.rank)
            z = ops.add(z, bias)
        zi, zf, zc, zo = ops.split(z, 4, axis=self._channel_axis())
        act, rec = self.activation, self.recurrent_activation
        c = ops.add(ops.multiply(rec(zf), c), ops.multiply(rec(zi), act(zc)))
        h = ops.multiply(rec(zo), act(c))
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(_cell_arguments(self))
        return config


def _cell_arguments(cell):
    """The cell's arguments as Keras's ConvLSTM configs write them."""
    return {
        "filters": cell.filters, "kernel_size": cell.kernel_size, "strides": cell.strides,
        "padding": cell.padding, "data_format": cell.data_format,
        "dilation_rate": cell.dilation_rate,
        "activation": activations_mod.serialize(cell.activation),
        "recurrent_activation": activations_mod.serialize(cell.recurrent_activation),
        "unit_forget_bias": cell.unit_forget_bias,
        **recurrent_arguments_config(cell),
    }


_CELL_SETTINGS = (
    "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
    "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "dropout", "recurrent_dropout",
)


class _ConvLSTM(RNN):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        kwargs.pop("unroll", None)
        kwargs.pop("zero_output_for_mask", None)
        cell = ConvLSTMCell(
            self.rank, filters, kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            name="conv_lstm_cell", dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)
        # Keras's ConvLSTM cell declares its (feature-map) state size as the single int -1.
        self.single_state = True

    def build(self, input_shape):
        if len(input_shape) != self.rank + 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim={self.rank + 3}, found ndim={len(input_shape)}. "
                             f"Full shape received: {tuple(input_shape)}")
        super().build(input_shape)

    def __getattr__(self, name):
        # The cell's other attributes read as the layer's too (layer.seed, ...).
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_"):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        config = super().get_config()
        config.pop("cell", None)
        config.update(_cell_arguments(self.cell))
        config["activity_regularizer"] = _ser(self.activity_regularizer,
                                              regularizers_mod.serialize)
        return config


class ConvLSTM1D(_ConvLSTM):
    """A convolutional LSTM over sequences of 1-D feature maps: input (batch, time, steps,
    channels) (or (batch, time, channels, steps)); output (batch, new_steps, filters), or with
    return_sequences (batch, time, new_steps, filters). Keras's arguments and defaults."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """A convolutional LSTM over sequences of images: input (batch, time, rows, cols,
    channels) (or channels first); output (batch, new_rows, new_cols, filters), or with
    return_sequences (batch, time, new_rows, new_cols, filters). Keras's arguments and
    defaults."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """A convolutional LSTM over sequences of volumes: input (batch, time, d1, d2, d3,
    channels) (or channels first); output (batch, *new_dims, filters), or with
    return_sequences (batch, time, *new_dims, filters). Keras's arguments and defaults."""

    rank = 3


# The cell's arguments as read-only properties of the layers, as Keras's ConvLSTM layers
# expose them (ConvLSTM2D(4, 3).filters).
for _name in _CELL_SETTINGS:
    setattr(_ConvLSTM, _name, _cell_setting(_name))
