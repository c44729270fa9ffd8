"""Schedule-Free AdamW."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.optimizers.base_optimizer import Optimizer, f32

_f32 = np.float32


class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW (Defazio et al., 2024; Keras 3's
    `keras.optimizers.ScheduleFreeAdamW`): no learning-rate schedule, an interpolation between
    a gradient sequence and its running average instead.

    The model's variable holds the interpolated point y; the "momentum" slot holds the gradient
    sequence z (it starts as a copy of the variable when the optimizer is built) and the
    "velocity" slot Adam's second moment v. At step t, with lr ramped up linearly over
    `warmup_steps`:

        v += (g^2 - v) * (1 - beta_2)
        z -= lr * g / (sqrt(v / (1 - beta_2^t)) + epsilon)
        x = (y - (1 - beta_1) * z) / beta_1
        x = (1 - 1/t) * x + (1/t) * z
        y = (1 - beta_1) * z + beta_1 * x

    In `apply` (and so in `fit`), x is recovered from the *updated* z, which is what Keras
    3.15's PyTorch backend computes there; `stateless_apply` uses the z from before the step,
    as that backend's `stateless_apply` (and the paper) do.
    Like Keras, the optimizer swaps nothing in or out for evaluation: `evaluate`, `predict`
    and saved models use y, the variables as trained.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to
            0.0025.
        beta_1: interpolation weight and first-moment rate. Defaults to 0.9.
        beta_2: decay rate of the second moment. Defaults to 0.999.
        epsilon: added to the denominator. Defaults to 1e-8.
        warmup_steps: steps over which the learning rate ramps up from lr/warmup_steps.
            Defaults to 0.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 warmup_steps=0, weight_decay=None, clipnorm=None, clipvalue=None,
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
        self.warmup_steps = warmup_steps

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        for momentum, variable in zip(self._momentums, var_list):
            momentum.value[...] = variable.value

    def _scalars(self, learning_rate):
        # Keras casts the hyper-parameters to float32 tensors first, so the complements are
        # float32 subtractions too.
        def compute():
            lr = _f32(learning_rate)
            t = _f32(int(self.iterations) + 1)
            beta_1, beta_2 = _f32(self.beta_1), _f32(self.beta_2)
            if self.warmup_steps > 0:
                lr = lr * np.minimum(t / _f32(self.warmup_steps), _f32(1.0))
            weight = _f32(1.0) / t
            return (float(lr), float(_f32(1) - beta_2),
                    float(_f32(1) - np.power(beta_2, t)), f32(self.epsilon), float(beta_1),
                    float(_f32(1) - beta_1), float(weight), float(_f32(1) - weight))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        _core.schedule_free_adamw_update(variable.value, gradient, self._momentums[i].value,
                                         self._velocities[i].value,
                                         *self._scalars(learning_rate),
                                         not self.__dict__.get("_in_stateless_apply", False))

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        # Keras's torch backend reads the slot's value before the update here (a stateless
        # scope hands out values, not the variable's storage): x comes from the previous z.
        self._in_stateless_apply = True
        try:
            return super().stateless_apply(optimizer_variables, grads, trainable_variables)
        finally:
            self._in_stateless_apply = False

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "warmup_steps": self.warmup_steps})
        return config
