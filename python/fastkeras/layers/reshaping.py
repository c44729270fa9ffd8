"""Reshaping layers: zero padding, cropping and upsampling (1D and 2D), RepeatVector and
Permute. (Flatten and Reshape live in core.py.)"""

from __future__ import annotations

import operator

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import make_op
from fastkeras.layers.layer import Layer
from fastkeras.ops import normalization as norm_ops

_DATA_FORMATS = ("channels_first", "channels_last")


def standardize_data_format(data_format):
    """None -> the global default (`keras.config.image_data_format()`, 'channels_last' unless
    set); otherwise one of the two formats (case-insensitive)."""
    if data_format is None:
        from fastkeras.backend.config import image_data_format
        return image_data_format()
    value = str(data_format).lower() if isinstance(data_format, str) else data_format
    if value not in _DATA_FORMATS:
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format!r}")
    return value


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or an iterable of n ints as a tuple of n ints, each > 0 (>= 0 with
    allow_zero); otherwise ValueError naming `name` and the received value."""
    kind = "non-negative" if allow_zero else "positive"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                             f"Received: {name}={value!r}") from None
        if len(out) != n:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                             f"Received: {name}={value!r}")
        for v in out:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                                 f"Received: {name}={value!r} including element {v!r} of type "
                                 f"{type(v)}")
        out = tuple(int(v) for v in out)
    bad = [v for v in out if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} {kind} integers. "
                         f"Received: {name}={value!r} including values {bad} that are "
                         f"{'negative' if allow_zero else 'not positive'}")
    return out


def check_ndim(layer, inputs, ndim):
    if inputs.ndim != ndim:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: "
                         f"expected ndim={ndim}, found ndim={inputs.ndim}. Full shape received: "
                         f"{tuple(inputs.shape)}")


def _pairs_2d(value, name):
    """int | (h, w) | ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value!r}")
        return ((int(value),) * 2,) * 2
    if hasattr(value, "__len__") and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"`{name}` should have two elements. Received: {name}={value!r}")
        return (standardize_tuple(value[0], 2, f"1st entry of {name}", allow_zero=True),
                standardize_tuple(value[1], 2, f"2nd entry of {name}", allow_zero=True))
    raise ValueError(f"`{name}` should be either an int, a tuple of 2 ints (symmetric_height, "
                     f"symmetric_width), or a tuple of 2 tuples of 2 ints ((top, bottom), "
                     f"(left, right)). Received: {name}={value!r}")


def _spatial_axes(data_format, rank=2):
    """The `rank` spatial axes of a (batch, ..., channels) or (batch, channels, ...) input."""
    start = 2 if data_format == "channels_first" else 1
    return tuple(range(start, start + rank))


def _crop(x, axis_bounds):
    """x[..] keeping [lo, hi) on each axis in axis_bounds {axis: (lo, hi)}."""
    index = [slice(None)] * x.ndim
    for axis, (lo, hi) in axis_bounds.items():
        index[axis] = slice(lo, hi)
    index = tuple(index)
    xv = x.value

    def backward(g, needs):
        full = np.zeros(xv.shape, dtype=g.dtype)
        full[index] = g
        return (full,)

    return make_op(np.ascontiguousarray(xv[index]), (x,), backward)


class ZeroPadding1D(Layer):
    """Adds zeros at the start and end of the time axis of (batch, steps, features) inputs.

    padding: int (both ends) or (left_pad, right_pad).
    data_format: "channels_last" (batch, steps, features, the default) or "channels_first"
        (batch, features, steps).
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self.data_format = standardize_data_format(data_format)

    def _steps_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        axis = self._steps_axis()
        if out[axis] is not None:
            out[axis] += sum(self.padding)
        return tuple(out)

    def call(self, inputs):
        check_ndim(self, inputs, 3)
        pads = [(0, 0), (0, 0), (0, 0)]
        pads[self._steps_axis()] = self.padding
        return norm_ops.pad(inputs, tuple(pads))

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        config["data_format"] = self.data_format
        return config


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around images.

    padding: int (all sides), (symmetric_height_pad, symmetric_width_pad) or
    ((top_pad, bottom_pad), (left_pad, right_pad)).
    data_format: "channels_last" (batch, rows, cols, channels, the default) or
    "channels_first" (batch, channels, rows, cols).
    """

    _rank = 2  # spatial axes (ZeroPadding3D: 3)

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = self._pairs(padding, "padding")

    def _pairs(self, value, name):
        return _pairs_2d(value, name)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.data_format, self._rank), self.padding):
            if out[axis] is not None:
                out[axis] += a + b
        return tuple(out)

    def call(self, inputs):
        check_ndim(self, inputs, self._rank + 2)
        widths = [(0, 0)] * (self._rank + 2)
        for axis, pair in zip(_spatial_axes(self.data_format, self._rank), self.padding):
            widths[axis] = pair
        return norm_ops.pad(inputs, tuple(widths))

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


class Cropping1D(Layer):
    """Removes steps from the start and end of the time axis of (batch, steps, features).

    cropping: int (both ends) or (left_crop, right_crop).
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)

    def _check(self, length, shape):
        if length is not None and sum(self.cropping) >= length:
            raise ValueError("`cropping` parameter of `Cropping1D` layer must be smaller than "
                             f"the input length. Received: input_shape={tuple(shape)}, "
                             f"cropping={self.cropping}")

    def compute_output_shape(self, input_shape):
        self._check(input_shape[1], input_shape)
        length = None if input_shape[1] is None else input_shape[1] - sum(self.cropping)
        return (input_shape[0], length, input_shape[2])

    def call(self, inputs):
        check_ndim(self, inputs, 3)
        self._check(inputs.shape[1], inputs.shape)
        a, b = self.cropping
        return _crop(inputs, {1: (a, inputs.shape[1] - b)})

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class Cropping2D(Layer):
    """Removes rows and columns from the borders of images.

    cropping: int (all sides), (symmetric_height_crop, symmetric_width_crop) or
    ((top_crop, bottom_crop), (left_crop, right_crop)).
    """

    _rank = 2  # spatial axes (Cropping3D: 3)

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.cropping = self._pairs(cropping, "cropping")

    def _pairs(self, value, name):
        return _pairs_2d(value, name)

    def _check(self, shape):
        for axis, crop in zip(_spatial_axes(self.data_format, self._rank), self.cropping):
            if shape[axis] is not None and sum(crop) >= shape[axis]:
                raise ValueError("Values in `cropping` argument should be smaller than the "
                                 "corresponding spatial dimension of the input. Received: "
                                 f"input_shape={tuple(shape)}, cropping={self.cropping}")

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        out = list(input_shape)
        for axis, crop in zip(_spatial_axes(self.data_format, self._rank), self.cropping):
            if out[axis] is not None:
                out[axis] -= sum(crop)
        return tuple(out)

    def call(self, inputs):
        check_ndim(self, inputs, self._rank + 2)
        self._check(inputs.shape)
        axes = _spatial_axes(self.data_format, self._rank)
        bounds = {axis: (a, inputs.shape[axis] - b)
                  for axis, (a, b) in zip(axes, self.cropping)}
        return _crop(inputs, bounds)

    def get_config(self):
        config = super().get_config()
        config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config


class UpSampling1D(Layer):
    """Repeats each time step `size` times: (batch, steps, features) ->
    (batch, steps * size, features)."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise ValueError("Argument `size` should be a positive integer. "
                             f"Received: size={size!r}")
        self.size = int(size)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], steps, input_shape[2])

    def call(self, inputs):
        check_ndim(self, inputs, 3)
        return norm_ops.repeat(inputs, self.size, axis=1)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


def _linear_weights(n_in, factor):
    """(n_in * factor, n_in) matrix of bilinear (half-pixel centred, edge-clamped) weights."""
    n_out = n_in * factor
    src = (np.arange(n_out, dtype=np.float64) + 0.5) / factor - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    w = np.zeros((n_out, n_in), np.float64)
    rows = np.arange(n_out)
    np.add.at(w, (rows, lo), 1.0 - frac)
    np.add.at(w, (rows, hi), frac)
    return w


def _map_axis(x, axis, matrix):
    """y = matrix applied along `axis` of x (a linear map with its transpose as gradient)."""
    xv = x.value
    m = matrix.astype(xv.dtype if xv.dtype.kind == "f" else np.float32)
    moved = np.moveaxis(xv, axis, -1)
    y = np.ascontiguousarray(np.moveaxis(moved @ m.T, -1, axis))

    def backward(g, needs):
        gm = np.moveaxis(g, axis, -1) @ m
        return (np.ascontiguousarray(np.moveaxis(gm, -1, axis)),)

    return make_op(y, (x,), backward)


_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


class UpSampling2D(Layer):
    """Upsamples images by integer factors (rows, cols).

    interpolation: "nearest" repeats rows and columns; "bilinear" interpolates linearly with
    half-pixel centres (edges clamped), like an image resize; "bicubic" is a bicubic image
    resize to the upsampled size.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.size = standardize_tuple(size, 2, "size")
        if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
            raise ValueError("Argument `interpolation` must be one of 'nearest', 'bilinear' or "
                             "'bicubic'. "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for axis, f in zip(_spatial_axes(self.data_format), self.size):
            if out[axis] is not None:
                out[axis] *= f
        return tuple(out)

    def call(self, inputs):
        check_ndim(self, inputs, 4)
        x = inputs
        if self.interpolation == "bicubic":  # as Keras: a bicubic resize to the new size
            from fastkeras.ops import image as image_ops
            axes = _spatial_axes(self.data_format)
            size = tuple(int(x.shape[a]) * f for a, f in zip(axes, self.size))
            return image_ops.resize(x, size, interpolation="bicubic",
                                    data_format=self.data_format)
        for axis, f in zip(_spatial_axes(self.data_format), self.size):
            if f == 1:
                continue
            if self.interpolation == "nearest":
                x = norm_ops.repeat(x, f, axis=axis)
            else:
                x = _map_axis(x, axis, _linear_weights(x.shape[axis], f))
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: output (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        try:
            n = operator.index(n)
        except (TypeError, OverflowError):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.") from None
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        check_ndim(self, inputs, 2)
        return norm_ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


class Permute(Layer):
    """Permutes the non-batch axes: dims is a permutation of 1..rank-1 (the batch axis is 0
    and stays first). Permute((2, 1)) turns (batch, a, b) into (batch, b, a)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            raise ValueError("Invalid permutation argument `dims` for Permute Layer: expected a "
                             f"tuple of integers. Received: dims={dims!r}") from None
        ok = all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims)
        if not ok or sorted(int(d) for d in dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set of "
                             "indices in `dims` must be consecutive and start from 1. "
                             f"Received: dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        check_ndim(self, inputs, len(self.dims) + 1)
        return ops.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config
