"""Masking: marks timesteps whose features all equal `mask_value` as padding."""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.layers.layer import Layer


class Masking(Layer):
    """For input (batch, timesteps, features), a timestep is masked when every feature equals
    `mask_value`: its features become 0 and the mask (batch, timesteps) tells the following
    recurrent layers to skip it.

    >>> x = np.array([[[1.0], [0.0], [2.0]]], "float32")
    >>> Masking(0.0)(x).shape
    (1, 3, 1)
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise ValueError(f"Masking: `mask_value` must be a number. Received: "
                             f"mask_value={mask_value!r}") from None
        self.supports_masking = True

    def _keep(self, inputs):
        return np.any(np.asarray(inputs.value) != self.mask_value, axis=-1)

    def call(self, inputs):
        keep = self._keep(inputs)
        return ops.multiply(inputs, keep[..., None].astype(np.float32))

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
