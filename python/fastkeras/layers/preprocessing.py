"""Preprocessing inside the model: `Rescaling(1 / 255)` turns uint8 pixels into floats."""

from __future__ import annotations

import itertools

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import Tensor
from fastkeras.layers.layer import Layer


class Rescaling(Layer):
    """inputs * scale + offset, in float32 (integer inputs such as uint8 images are cast
    first). `scale` and `offset` may be numbers or per-channel lists that broadcast."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("scale", scale), ("offset", offset)):
            try:
                np.asarray(value, np.float32)
            except (TypeError, ValueError):
                raise ValueError(f"Rescaling: `{argument}` must be a number or a list of "
                                 f"numbers. Received: {argument}={value!r}") from None
        self.scale, self.offset = scale, offset
        self.supports_masking = True

    def call(self, inputs):
        inputs = _as_float32(inputs)
        scale = np.asarray(self.scale, np.float32)
        offset = np.asarray(self.offset, np.float32)
        return ops.add(ops.multiply(inputs, scale), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config


class Normalization(Layer):
    """Standardizes features: (x - mean) / sqrt(variance), per position along `axis` (-1: per
    feature; None: one mean and variance for everything). The statistics come from `mean` and
    `variance` given here, or from `adapt(data)`; `invert=True` maps standardized values back.

    >>> normalizer = Normalization()
    >>> normalizer.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> normalizer(np.array([[3.0, 10.0]])).numpy()
    array([[ 1., -1.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: pass both `mean` and `variance`, or neither. "
                             f"Received: mean={mean!r}, variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("Normalization: `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {np.shape(mean)}, variance shape "
                                 f"{np.shape(variance)}")
            if np.ndim(mean) > len(axis):
                raise ValueError(f"Normalization: `mean` has rank {np.ndim(mean)}, more than "
                                 f"the {len(axis)} axes of axis={axis}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self.adapt_mean = self.adapt_variance = self.count = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization: every axis must be in [-{ndim}, {ndim}) for inputs "
                             f"of rank {ndim}. Received: axis={self.axis}")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep:
            if shape[a] is None:
                raise ValueError(f"Normalization: axis {a} is kept, so its size must be known. "
                                 f"Received: axis={self.axis}, input shape {shape}")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._broadcast = tuple(shape[d] if d in self._keep else 1 for d in range(ndim))
        stats_shape = tuple(shape[d] for d in self._keep)
        self._build_input_shape = shape
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape,
                                                  initializer="ones", trainable=False)
            # kept for Keras's file layout (its third variable); adapt does not use it
            self.count = self.add_weight(name="count", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)
        self.built = True

    @property
    def mean(self):
        """The mean the inputs are standardized with, shaped to broadcast against them (1 on
        the reduced axes), as Keras's `Normalization.mean`: the `mean` given, or the adapted
        one. None before the layer is built."""
        return Tensor(self._statistics()[0].copy()) if self.built else None

    @property
    def variance(self):
        """The variance the inputs are standardized with, shaped as `mean`. None before the
        layer is built."""
        return Tensor(self._statistics()[1].copy()) if self.built else None

    def finalize_state(self):
        """Keras recomputes `mean` and `variance` from the adapted statistics here (after
        `adapt` and after loading weights). They are always read from the current statistics
        here, so there is nothing to do; kept so code calling it runs."""

    def _statistics(self):
        if self.input_mean is not None:
            stats_shape = tuple(self._broadcast[d] for d in self._keep)
            mean = np.broadcast_to(np.asarray(self.input_mean, np.float32), stats_shape)
            variance = np.broadcast_to(np.asarray(self.input_variance, np.float32), stats_shape)
        else:
            mean, variance = self.adapt_mean.value, self.adapt_variance.value
        return mean.reshape(self._broadcast), variance.reshape(self._broadcast)

    def adapt(self, data):
        """Sets the mean and variance from `data`: an array (or anything `np.asarray` takes,
        such as a DataFrame), or a list / iterable of batches (combined exactly)."""
        batches = iter(_batches(data))
        first = next(batches, None)
        if first is None:
            raise ValueError("Normalization.adapt received no data (an empty iterable).")
        if not self.built:
            self.build(first.shape)
        elif self.input_mean is not None:
            raise ValueError("Normalization.adapt: this layer was given `mean` and `variance`; "
                             "it has no statistics to adapt.")
        total_mean = total_var = None
        count = 0
        for batch in itertools.chain([first], batches):
            for d in self._keep:
                if batch.ndim != len(self._broadcast) or batch.shape[d] != self._broadcast[d]:
                    raise ValueError(f"Normalization.adapt: a batch of shape {batch.shape} does "
                                     "not fit the input shape the layer was built for, "
                                     f"{self._build_input_shape}")
            n = int(np.prod([batch.shape[d] for d in self._reduce])) if self._reduce else 1
            mean = batch.mean(axis=self._reduce)
            var = batch.var(axis=self._reduce)
            if total_mean is None:
                total_mean, total_var, count = mean, var, n
                continue
            # exact merge of two groups' means and variances (population statistics)
            merged = count + n
            delta = mean - total_mean
            new_mean = total_mean + delta * (n / merged)
            total_var = (total_var * count + var * n + delta ** 2 * (count * n / merged)) / merged
            total_mean, count = new_mean, merged
        self.adapt_mean.assign(total_mean.astype(np.float32))
        self.adapt_variance.assign(total_var.astype(np.float32))

    def call(self, inputs):
        inputs = _as_float32(inputs)
        mean, variance = self._statistics()  # float32, shaped to broadcast
        std = np.maximum(np.sqrt(variance), np.float32(1e-7))
        if self.invert:
            return ops.add(ops.multiply(inputs, std), mean)
        return ops.divide(ops.subtract(inputs, mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert,
                       "mean": np.array(self.input_mean).tolist(),
                       "variance": np.array(self.input_variance).tolist()})
        return config


def _batches(data):
    """A list with one float64 array, or an iterator of float64 batches."""
    if isinstance(data, Tensor):
        return [np.asarray(data.value, np.float64)]
    if hasattr(data, "__array__"):  # arrays, DataFrames
        return [np.asarray(data, np.float64)]
    if hasattr(data, "__iter__"):
        return (_as_batch(b) for b in data)
    raise TypeError("Normalization.adapt expects an array, a tensor, or an iterable of "
                    f"batches. Received: {type(data).__name__}")


def _as_batch(batch):
    if isinstance(batch, tuple):  # (x, y) pairs: the features
        batch = batch[0]
    value = batch.value if isinstance(batch, Tensor) else batch
    if not hasattr(value, "shape") and not hasattr(value, "__array__"):
        raise TypeError("Normalization.adapt: an iterable must yield arrays (batches). "
                        f"Received an element of type {type(batch).__name__}")
    return np.asarray(value, np.float64)


def _as_float32(inputs):
    """The inputs as a float32 tensor (integer images, float64 arrays are cast)."""
    if isinstance(inputs, Tensor) and inputs.value.dtype == np.float32:
        return inputs
    return ops.cast(inputs, "float32")
