"""FTRL-proximal ("Follow The Regularized Leader")."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, _is_real, f32

_f32 = np.float32


def _check_non_negative(value, arg):
    if not _is_real(value) or value < 0.0:
        raise ValueError(f"`{arg}` needs to be positive or zero. Received: {arg}={value!r}.")


class Ftrl(Optimizer):
    """FTRL-proximal with L1, L2 and L2-shrinkage regularization (McMahan et al., 2013).

    With `p = -learning_rate_power`, per step: `n_new = n + g^2`;
    `z += (g + 2 * l2_shrinkage * w) - (n_new^p - n^p) / learning_rate * w`;
    `w = (clip(z, -l1, l1) - z) / (n_new^p / learning_rate + 2 * (l2 + beta / (2 *
    learning_rate)))`. `n` is the "accumulator" slot and `z` the "linear" slot.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        learning_rate_power: <= 0; how fast the per-coordinate step shrinks as the squared
            gradients add up (0 keeps it fixed). Defaults to -0.5.
        initial_accumulator_value: starting value (>= 0) of the accumulators. Defaults to 0.1.
        l1_regularization_strength: >= 0. Defaults to 0.0.
        l2_regularization_strength: >= 0 (the stabilization penalty). Defaults to 0.0.
        l2_shrinkage_regularization_strength: >= 0; an L2 penalty that acts through the
            gradient (magnitude shrinkage). Defaults to 0.0.
        beta: added to the L2 term as `beta / (2 * learning_rate)`. Defaults to 0.0.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
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
        _check_non_negative(initial_accumulator_value, "initial_accumulator_value")
        if not _is_real(learning_rate_power) or learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power!r}.")
        _check_non_negative(l1_regularization_strength, "l1_regularization_strength")
        _check_non_negative(l2_regularization_strength, "l2_regularization_strength")
        _check_non_negative(l2_shrinkage_regularization_strength,
                            "l2_shrinkage_regularization_strength")
        if not _is_real(beta):
            raise ValueError(f"Argument `beta` must be a float. Received: beta={beta!r}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"],
            initializer=[float(self.initial_accumulator_value), "zeros"])

    def _scalars(self, learning_rate):
        def compute():
            lr = _f32(learning_rate)
            # l2 + beta / (2 * lr) in float32, the division as the reciprocal times beta.
            beta_term = (_f32(1) / (_f32(2) * lr)) * _f32(self.beta)
            two_l2 = _f32(2) * (_f32(self.l2_regularization_strength) + beta_term)
            return (float(lr), f32(-self.learning_rate_power),
                    f32(2 * self.l2_shrinkage_regularization_strength),
                    f32(self.l1_regularization_strength), float(two_l2))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        lr, power, two_shrinkage, l1, two_l2 = self._scalars(learning_rate)
        i = self._get_variable_index(variable)
        _core.ftrl_update(variable.value, gradient, self._accumulators[i].value,
                          self._linears[i].value, lr, power, two_shrinkage, l1, two_l2)

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        })
        return config
