"""Adagrad."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, _is_real, f32


class Adagrad(Optimizer):
    """Adagrad: step sizes shrink with the accumulated squared gradients of each coordinate.

    `acc += g^2`; `w -= learning_rate * g / sqrt(acc + epsilon)`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        initial_accumulator_value: starting value of the accumulators (>= 0). Defaults to 0.1.
        epsilon: Defaults to 1e-7.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
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
        if not _is_real(initial_accumulator_value) or initial_accumulator_value < 0:
            raise ValueError("Argument `initial_accumulator_value` must be a non-negative "
                             f"float. Received: initial_accumulator_value="
                             f"{initial_accumulator_value!r}")
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        _core.adagrad_update(variable.value, gradient, self._accumulators[i].value,
                             f32(learning_rate), f32(self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config
