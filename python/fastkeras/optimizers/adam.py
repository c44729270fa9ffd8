"""Adam (with the AMSGrad variant)."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32

_f32 = np.float32


class Adam(Optimizer):
    """Adam: adaptive estimates of the gradient's first and second moments.

    Per step t (1-based): `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
    `w -= alpha * m / (sqrt(v) + epsilon)` with
    `alpha = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)`. With `amsgrad=True` the
    running maximum of `v` replaces `v` in the denominator.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        beta_1: decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: added to the denominator ("epsilon hat"). Defaults to 1e-7.
        amsgrad: bool, use AMSGrad. Defaults to False.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
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
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Keras's order: momentum and velocity interleaved per variable, then (AMSGrad) all
        # the velocity_hat slots.
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def _scalars(self, learning_rate):
        def compute():
            lr = _f32(learning_rate)
            t = _f32(int(self.iterations) + 1)
            beta_1_power = np.power(_f32(self.beta_1), t)
            beta_2_power = np.power(_f32(self.beta_2), t)
            alpha = lr * np.sqrt(_f32(1) - beta_2_power) / (_f32(1) - beta_1_power)
            return (float(alpha), f32(1 - self.beta_1), f32(1 - self.beta_2), f32(self.epsilon))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        alpha, c1, c2, eps = self._scalars(learning_rate)
        i = self._get_variable_index(variable)
        vhat = self._velocity_hats[i].value if self.amsgrad else None
        _core.adam_update(variable.value, gradient, self._momentums[i].value,
                          self._velocities[i].value, vhat, alpha, c1, c2, eps)

    def _update_many(self, grads, variables, learning_rate):
        alpha, c1, c2, eps = self._scalars(learning_rate)
        index = self._trainable_variables_indices
        idx = [index[id(v)] for v in variables]
        vhats = [self._velocity_hats[i].value for i in idx] if self.amsgrad else None
        _core.adam_update_many([v.value for v in variables], list(grads),
                               [self._momentums[i].value for i in idx],
                               [self._velocities[i].value for i in idx], vhats,
                               alpha, c1, c2, eps)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
