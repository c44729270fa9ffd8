"""Preprocessing inside the model: `Rescaling(1 / 255)` turns uint8 pixels into floats."""

from __future__ import annotations

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
        if not isinstance(inputs, Tensor) or inputs.value.dtype != np.float32:
            inputs = ops.cast(inputs, "float32")
        scale = np.asarray(self.scale, np.float32)
        offset = np.asarray(self.offset, np.float32)
        return ops.add(ops.multiply(inputs, scale), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config
