"""Lion (EvoLved Sign Momentum)."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, _is_real, f32


class Lion(Optimizer):
    """Lion: steps by the sign of an interpolation between the momentum and the gradient.

    Per step: `c = beta_1 * m + (1 - beta_1) * g`; `w -= learning_rate * sign(c)`;
    `m = beta_2 * m + (1 - beta_2) * g`. Every coordinate moves by exactly the learning rate,
    so Lion usually wants a learning rate 3-10x smaller than Adam's.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        beta_1: weight of the momentum in the step's direction, in (0, 1]. Defaults to 0.9.
        beta_2: decay rate of the momentum. Defaults to 0.99.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
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
        if not _is_real(beta_1) or beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                             f"optimizer degenerates to SignSGD. Received: beta_1={beta_1!r}.")
        if not _is_real(beta_2):
            raise ValueError(f"Argument `beta_2` must be a float. Received: beta_2={beta_2!r}.")
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _scalars(self, learning_rate):
        # As Keras's torch backend computes them: the betas rounded to float32, the
        # complements evaluated in double and then rounded.
        return self._step_scalars(learning_rate, lambda: (
            f32(learning_rate), f32(self.beta_1), f32(1 - self.beta_1), f32(self.beta_2),
            f32(1 - self.beta_2)))

    def update_step(self, gradient, variable, learning_rate):
        lr, b1, c1, b2, c2 = self._scalars(learning_rate)
        m = self._momentums[self._get_variable_index(variable)].value
        _core.lion_update(variable.value, gradient, m, lr, b1, c1, b2, c2)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
