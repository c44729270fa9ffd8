"""Adafactor: Adam-like steps with factored second moments."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.backend.variable import Variable
from fastkeras.optimizers.base_optimizer import Optimizer, f32

_f32 = np.float32


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018).

    For a variable of rank >= 2 the second moment of the gradient is kept as running means
    over its last two axes (a "row" statistic of shape `shape[:-1]` and a "column" statistic of
    shape `shape[:-2] + shape[-1:]`) and rebuilt as their normalized outer product; smaller
    variables keep a full running mean. With `t` the step (1-based),
    `beta = 1 - t^beta_2_decay`, `rho = min(learning_rate, 1/sqrt(t))`, the step is
    `w -= max(epsilon_2, rms(w)) * rho * u / max(1, rms(u) / clip_threshold)` where
    `u = g / sqrt(v)` and `v` averages `g^2 + epsilon_1`. The statistics and all the means are
    reduced in the C++ kernel.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        beta_2_decay: exponent of the second-moment decay schedule. Defaults to -0.8.
        epsilon_1: added to the squared gradients. Defaults to 1e-30.
        epsilon_2: lower bound of the variable's rms in the step size. Defaults to 1e-3.
        clip_threshold: the update's rms above this is scaled down to it (independent of
            `clipnorm` and the like). Defaults to 1.0.
        relative_step: bool; with a constant learning rate, cap it at `1/sqrt(t)`. Defaults to
            True. (The cap at `1/sqrt(t)` also applies in `rho`, so, as in Keras, the value
            does not change the steps.)
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Keras's order, per variable: row statistic, column statistic, velocity. Variables of
        # rank < 2 get two int32 scalar placeholders in the statistics' places.
        self._r, self._c, self._v = [], [], []
        for var in var_list:
            shape = tuple(var.shape)
            if len(shape) < 2:
                for slots in (self._r, self._c):
                    dummy = Variable(np.int32(0), name=var.name, trainable=False, path=var.name,
                                     dtype="int32")
                    self._track_variable(dummy)
                    slots.append(dummy)
            else:
                self._r.append(self.add_variable(shape=shape[:-1], dtype="float32",
                                                 name=var.name))
                self._c.append(self.add_variable(shape=shape[:-2] + shape[-1:], dtype="float32",
                                                 name=var.name))
            self._v.append(self.add_variable_from_reference(var, name="velocity"))

    def _scalars(self, learning_rate):
        def compute():
            t = _f32(int(self.iterations) + 1)
            inv_sqrt_t = _f32(1) / np.sqrt(t)
            rho = min(_f32(learning_rate), inv_sqrt_t)
            beta = _f32(1) - np.power(t, _f32(self.beta_2_decay))
            return (float(rho), f32(self.epsilon_1), f32(self.epsilon_2), float(beta),
                    float(_f32(1) - beta), f32(self.clip_threshold))
        return self._step_scalars(learning_rate, compute)

    def update_step(self, gradient, variable, learning_rate):
        rho, eps1, eps2, beta, one_minus_beta, clip = self._scalars(learning_rate)
        i = self._get_variable_index(variable)
        factored = variable.value.ndim >= 2
        r = self._r[i].value if factored else None
        c = self._c[i].value if factored else None
        _core.adafactor_update(variable.value, gradient, r, c, self._v[i].value, rho, eps1,
                               eps2, beta, one_minus_beta, clip)

    def get_config(self):
        config = super().get_config()
        config.update({
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        })
        return config
