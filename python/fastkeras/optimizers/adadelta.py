"""Adadelta."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32


class Adadelta(Optimizer):
    """Adadelta: per-coordinate step sizes from running averages of squared gradients and of
    squared updates.

    `acc_g = rho * acc_g + (1 - rho) * g^2`;
    `delta = -sqrt(acc_d + epsilon) * g / sqrt(acc_g + epsilon)`;
    `acc_d = rho * acc_d + (1 - rho) * delta^2`; `w += learning_rate * delta`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001
            (1.0 reproduces the original paper).
        rho: decay rate. Defaults to 0.95.
        epsilon: Defaults to 1e-7.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        _core.adadelta_update(variable.value, gradient, self._accumulated_grads[i].value,
                              self._accumulated_delta_vars[i].value, f32(learning_rate),
                              f32(self.rho), f32(1 - self.rho), f32(self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
