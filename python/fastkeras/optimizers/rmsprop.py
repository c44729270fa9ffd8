"""RMSprop (plain or centered, with optional momentum)."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    `v = rho * v + (1 - rho) * g^2`; the step is `learning_rate * g / sqrt(v + epsilon)`
    (centered: `sqrt(v - a^2 + epsilon)` with `a = rho * a + (1 - rho) * g`). With
    `momentum > 0` the step feeds a momentum buffer `mom = momentum * mom + step` and
    `w -= mom`; otherwise `w -= step`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        rho: discounting factor of the squared-gradient average. Defaults to 0.9.
        momentum: float. Defaults to 0.0.
        epsilon: Defaults to 1e-7.
        centered: bool. Defaults to False.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
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
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Keras's order: all velocities, then all momentums, then all average gradients.
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        mom = self._momentums[i].value if self.momentum > 0 else None
        avg = self._average_gradients[i].value if self.centered else None
        _core.rmsprop_update(variable.value, gradient, self._velocities[i].value, mom, avg,
                             f32(learning_rate), f32(self.rho), f32(1 - self.rho),
                             f32(self.momentum), f32(self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
