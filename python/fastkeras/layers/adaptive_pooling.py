"""Adaptive pooling layers, as in Keras 3: AdaptiveAveragePooling1D/2D/3D and
AdaptiveMaxPooling1D/2D/3D pool their inputs to a fixed spatial `output_size`, whatever the
input's size (PyTorch's windows: output cell i of an axis of length L covers the input cells
[floor(i * L / out), ceil((i + 1) * L / out)))."""

from __future__ import annotations

from fastkeras.backend.config import image_data_format
from fastkeras.layers.layer import Layer
from fastkeras.ops import nn_more

__all__ = [
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
]

_NAMES = {1: "an integer or tuple of 1 integer", 2: "an integer or (height, width) tuple",
          3: "an integer or (depth, height, width) tuple"}


def _output_size(value, rank, layer):
    if isinstance(value, int) and not isinstance(value, bool):
        size = (value,) * rank
    elif isinstance(value, (tuple, list)) and len(value) == rank:
        size = tuple(value)
    else:
        raise TypeError(f"{layer}: `output_size` must be {_NAMES[rank]}. Received: "
                        f"output_size={value!r} of type {type(value)}")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size):
        raise ValueError(f"{layer}: `output_size` must hold positive integers. Received: "
                         f"output_size={value!r}")
    return size


class _AdaptivePooling(Layer):
    _rank = None
    _kind = None

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.output_size = _output_size(output_size, self._rank, layer)
        self.data_format = data_format or image_data_format()
        if self.data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"{layer}: `data_format` must be 'channels_first' or "
                             f"'channels_last'. Received: data_format={data_format!r}")

    def call(self, inputs):
        if inputs.ndim != self._rank + 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                             f"rank {self._rank + 2}. Received: inputs.shape="
                             f"{tuple(inputs.shape)}")
        fn = nn_more.adaptive_average_pool if self._kind == "avg" else nn_more.adaptive_max_pool
        return fn(inputs, output_size=self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if self.data_format == "channels_last":
            return (batch, *self.output_size, input_shape[-1])
        return (batch, input_shape[1], *self.output_size)

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size, "data_format": self.data_format})
        return config


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average pooling of (batch, steps, channels) inputs ((batch, channels, steps) for
    'channels_first') to `output_size` steps."""
    _rank, _kind = 1, "avg"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average pooling of images to an `output_size` (height, width) grid (an int means a
    square)."""
    _rank, _kind = 2, "avg"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average pooling of volumes to an `output_size` (depth, height, width) grid."""
    _rank, _kind = 3, "avg"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max pooling of (batch, steps, channels) inputs to `output_size` steps."""
    _rank, _kind = 1, "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max pooling of images to an `output_size` (height, width) grid."""
    _rank, _kind = 2, "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max pooling of volumes to an `output_size` (depth, height, width) grid."""
    _rank, _kind = 3, "max"
