"""Adamax: Adam with the infinity norm."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32

_f32 = np.float32


class Adamax(Optimizer):
    """Adamax: Adam's variant based on the infinity norm.

    `m += (g - m) * (1 - beta_1)`; `u = max(beta_2 * u, |g|)`;
    `w -= learning_rate * m / ((1 - beta_1^t) * (u + epsilon))`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        beta_1: Defaults to 0.9.
        beta_2: Defaults to 0.999.
        epsilon: Defaults to 1e-7.
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
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def _scalars(self, learning_rate):
        def compute():
            t = _f32(int(self.iterations) + 1)
            bias = _f32(1) - np.power(_f32(self.beta_1), t)
            return (f32(learning_rate), f32(1 - self.beta_1), f32(self.beta_2), float(bias),
                    f32(self.epsilon))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        lr, c1, b2, bias, eps = self._scalars(learning_rate)
        i = self._get_variable_index(variable)
        _core.adamax_update(variable.value, gradient, self._m[i].value, self._u[i].value, lr, c1,
                            b2, bias, eps)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
