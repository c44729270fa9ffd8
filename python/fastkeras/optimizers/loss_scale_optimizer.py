"""LossScaleOptimizer: dynamic loss scaling around another optimizer."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor
from fastkeras.optimizers.base_optimizer import Optimizer

_f32 = np.float32

# The base-optimizer arguments LossScaleOptimizer accepts only at their defaults (older Keras
# configs wrote them all out).
_BASE_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _array(g):
    return g.value if isinstance(g, Tensor) else np.asarray(g)


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling (Keras 3's `keras.optimizers.LossScaleOptimizer`, also
    `keras.mixed_precision.LossScaleOptimizer`).

    The training step multiplies the loss by the current scale (`scale_loss`) before taking
    gradients; `apply` divides the gradients by it again and hands them to `inner_optimizer`.
    If any gradient is not finite the update is skipped and the scale halved; after
    `dynamic_growth_steps` consecutive finite steps the scale doubles.

    State: `step_counter` (finite steps since the scale last changed) and `dynamic_scale`,
    created when the optimizer is built, after the iteration counter and the (unused) learning
    rate of its own; `variables` lists them followed by the inner optimizer's. `iterations`
    and `learning_rate` are the inner optimizer's.

    A training step takes its gradients from `scale_loss(loss)`, as `fit` does (a custom loop
    does the same with `tape.gradient(opt.scale_loss(loss), variables)`).

    Args:
        inner_optimizer: the Optimizer to wrap. Its own `loss_scale_factor` is cleared.
        initial_scale: the starting scale. Defaults to 2**15.
        dynamic_growth_steps: finite steps between doublings. Defaults to 2000.
        name: the optimizer's name.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, "
                             "simply set `loss_scale_factor` directly on the `inner_optimizer`.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg not in kwargs:
                continue
            value = kwargs.pop(arg)
            if (default is None and value is not None) or value != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set "
                                 f"`{arg}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError("LossScaleOptimizer does not support arguments: "
                             f"`{'`, `'.join(kwargs.keys())}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("LossScaleOptimizer: `inner_optimizer` must be an Optimizer "
                            f"instance. Received: inner_optimizer={inner_optimizer!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        # The gradients arrive unscaled from here; the inner optimizer must not unscale again.
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list):
        if self.built:
            return
        var_list = list(var_list)
        self.step_counter = self.add_variable(shape=(), dtype="int32", initializer="zeros",
                                              name="step_counter")
        self.dynamic_scale = self.add_variable(shape=(), dtype="float32",
                                               initializer=float(self.initial_scale),
                                               name="dynamic_scale")
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self) -> list:
        return self._variables[:] + list(self.inner_optimizer.variables)

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    # --- applying gradients ------------------------------------------------------------------

    def check_finite(self, grads) -> bool:
        """Whether every (non-None) gradient is finite everywhere."""
        for g in grads:
            if g is None:
                continue
            a = _array(g)
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                return False
        return True

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not self.built:
            if trainable_variables is None:
                self._require_built_for_bare_grads()
            self.build(list(trainable_variables))
        if self.check_finite(grads):
            self._handle_finite_grads(grads, trainable_variables)
        else:
            # Skip the step: halve the scale and restart the count.
            self.step_counter.value[...] = 0
            self.dynamic_scale.value[...] = self.dynamic_scale.value * _f32(0.5)

    def _handle_finite_grads(self, grads, trainable_variables):
        scale = _f32(self.dynamic_scale.value)
        variables = (list(trainable_variables) if trainable_variables is not None
                     else self._trainable_variables)
        unscaled = [g if g is None or getattr(v, "overwrite_with_gradient", False)
                    else _array(g) / scale for g, v in zip(grads, variables)]
        self.inner_optimizer.apply(unscaled, trainable_variables=trainable_variables)
        if int(self.step_counter.value) == self.dynamic_growth_steps - 1:
            self.step_counter.value[...] = 0
            self.dynamic_scale.value[...] = self.dynamic_scale.value * _f32(2.0)
        else:
            self.step_counter.value[...] += 1

    def _plain_step_possible(self) -> bool:
        return False  # the training loop's update goes through `apply`

    def scale_loss(self, loss):
        """The loss times the current scale (the initial one until the optimizer is built)."""
        scale = _f32(self.dynamic_scale.value) if self.built else _f32(self.initial_scale)
        if isinstance(loss, (Tensor, np.ndarray, np.generic)):
            return loss * scale
        return float(_f32(loss) * scale)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    # --- state ---------------------------------------------------------------------------------

    def _saveable_children(self):
        """Where Keras's weight files also hold the inner optimizer's own state."""
        return [("inner_optimizer", self.inner_optimizer)]

    def get_weights(self) -> list:
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        """Sets this optimizer's own variables (Keras's behaviour), or, given one array per
        entry of `variables`, the inner optimizer's as well."""
        weights = list(weights)
        own = len(self._variables)
        if self.built and len(weights) == len(self.variables) and len(weights) > own:
            super().set_weights(weights[:own])
            self.inner_optimizer.set_weights(weights[own:])
            return
        super().set_weights(weights)

    # --- config ----------------------------------------------------------------------------

    def get_config(self):
        from fastkeras.optimizers import serialize
        return {
            "name": self.name,
            "inner_optimizer": serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastkeras.optimizers import deserialize
        config = dict(config)
        if "inner_optimizer" not in config:
            raise ValueError("A LossScaleOptimizer config needs an 'inner_optimizer' entry (the "
                             f"serialized optimizer it wraps). Received: {config!r}")
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = deserialize(inner, custom_objects=custom_objects)
        return cls(inner, **config)
