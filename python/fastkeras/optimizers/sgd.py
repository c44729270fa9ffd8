"""SGD, with optional (Nesterov) momentum."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, _is_float, f32


class SGD(Optimizer):
    """Gradient descent, optionally with momentum.

    Without momentum: `w -= learning_rate * g`. With momentum:
    `velocity = momentum * velocity - learning_rate * g`, then `w += velocity`, or with
    `nesterov=True`, `w += momentum * velocity - learning_rate * g`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.01.
        momentum: float in [0, 1]. Defaults to 0.0 (plain gradient descent).
        nesterov: bool, Nesterov momentum. Defaults to False.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
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
        if not _is_float(momentum) or momentum < 0 or momentum > 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum!r}")
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        m = None
        if self.momentum != 0:
            m = self.momentums[self._get_variable_index(variable)].value
        _core.sgd_update(variable.value, gradient, m, f32(learning_rate), f32(self.momentum),
                         bool(self.nesterov))

    def _in_place_scales(self, variables):
        if (self.momentum != 0 or self.weight_decay is not None or not self.built
                or not self._plain_step_possible()):
            return None
        index = self._trainable_variables_indices
        if any(id(v) not in index for v in variables):
            return None  # `apply` refuses the step before any variable changes
        alpha = -f32(self._current_learning_rate())
        return {id(v): alpha for v in variables if getattr(v, "constraint", None) is None
                and not v.overwrite_with_gradient}

    def _update_many(self, grads, variables, learning_rate):
        moms = None
        if self.momentum != 0:
            index = self._trainable_variables_indices
            moms = [self.momentums[index[id(v)]].value for v in variables]
        _core.sgd_update_many([v.value for v in variables], list(grads), moms,
                              f32(learning_rate), f32(self.momentum), bool(self.nesterov))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
