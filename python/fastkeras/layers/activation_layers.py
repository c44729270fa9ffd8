"""Activation layers with arguments of their own (Keras 3's `ReLU`, `LeakyReLU`, `ELU`,
`Softmax`); a plain `Activation("relu")` lives in core."""

from __future__ import annotations

import warnings

import numpy as np

from fastkeras import activations, initializers, ops, regularizers
from fastkeras import constraints as constraints_mod
from fastkeras.layers.layer import Layer


def _non_negative(layer, argument, value, allow_none=False):
    if value is None and allow_none:
        return None
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value < 0:
        raise ValueError(f"{argument} of a {layer} layer cannot be None or a negative value. "
                         f"Received: {argument}={value!r}")
    return float(value)


class ReLU(Layer):
    """max(x, 0) with Keras's options: `negative_slope` below `threshold` (outputs
    negative_slope * (x - threshold) there) and a cap `max_value`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)
        self.supports_masking = True

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x below (Keras 3's default slope is 0.3; the older
    argument name `alpha` is accepted too)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: the argument `alpha` is deprecated; use `negative_slope`.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("Leaky ReLU", "negative_slope", negative_slope)
        self.supports_masking = True

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class Softmax(Layer):
    """Softmax over `axis` (an int or a tuple of axes). A `mask` passed to the call (True or
    > 0.5: keep) gives masked positions zero probability."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            keep = np.asarray(getattr(mask, "value", mask))
            keep = keep if keep.dtype == bool else keep > 0.5
            inputs = ops.where(keep, inputs, np.float32(-1e9))
        axes = self.axis if isinstance(self.axis, (tuple, list)) else (self.axis,)
        if len(axes) == 1:
            outputs = ops.softmax(inputs, axis=axes[0])
        else:
            axes = tuple(axes)
            shifted = ops.subtract(inputs, ops.max(inputs, axis=axes, keepdims=True))
            e = ops.exp(shifted)
            outputs = ops.divide(e, ops.sum(e, axis=axes, keepdims=True))
        if mask is not None:  # a row masked everywhere gets zeros, not a uniform spread
            outputs = ops.multiply(outputs, keep.astype(np.float32))
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class PReLU(Layer):
    """A leaky ReLU whose negative slope is learned: x for x >= 0, alpha * x below, with one
    alpha per input position (`shared_axes` share it along those axes, e.g. [1, 2] for one
    alpha per channel of an image)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints_mod.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (int, np.integer)):
            self.shared_axes = [int(shared_axes)]
        else:
            self.shared_axes = [int(a) for a in shared_axes]
        self.supports_masking = True

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(input_shape):
                raise ValueError(f"PReLU '{self.name}': shared_axes={self.shared_axes} names "
                                 f"axis {axis}, but inputs of shape {tuple(input_shape)} have "
                                 f"axes 1..{len(input_shape) - 1} besides the batch")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU '{self.name}': every axis that is not shared needs a known "
                             f"size. Received input shape {tuple(input_shape)}")
        self.alpha = self.add_weight(name="alpha", shape=tuple(shape),
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        positive = ops.relu(inputs)
        negative = ops.multiply(self.alpha, ops.relu(ops.negative(inputs)))
        return ops.subtract(positive, negative)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha_initializer": initializers.serialize(self.alpha_initializer),
                       "alpha_regularizer": None if self.alpha_regularizer is None
                       else regularizers.serialize(self.alpha_regularizer),
                       "alpha_constraint": constraints_mod.serialize(self.alpha_constraint),
                       "shared_axes": self.shared_axes})
        return config
