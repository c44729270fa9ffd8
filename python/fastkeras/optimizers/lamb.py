"""Lamb: Adam's moments with a layer-wise trust ratio."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32

_f32 = np.float32


class Lamb(Optimizer):
    """Lamb (You et al., 2019): Adam's bias-corrected step, rescaled per variable.

    Per step t: `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
    `u = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)`, then
    `w -= ratio * learning_rate * u` with `ratio = ||w|| / ||u||` (1 when either norm is 0).
    The norms are reduced in the C++ kernel.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        beta_1: decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: added to the denominator. Defaults to 1e-7.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])

    def _scalars(self, learning_rate):
        def compute():
            t = _f32(int(self.iterations) + 1)
            b1p = _f32(1) - np.power(_f32(self.beta_1), t)
            b2p = _f32(1) - np.power(_f32(self.beta_2), t)
            return (f32(learning_rate), f32(1 - self.beta_1), f32(1 - self.beta_2), float(b1p),
                    float(b2p), f32(self.epsilon))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        lr, c1, c2, b1p, b2p, eps = self._scalars(learning_rate)
        i = self._get_variable_index(variable)
        _core.lamb_update(variable.value, gradient, self._momentums[i].value,
                          self._velocities[i].value, lr, c1, c2, b1p, b2p, eps)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
