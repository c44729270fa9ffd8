"""Learning-rate schedules: callables mapping the optimizer step to a learning rate.

An optimizer given a schedule calls it with its iteration count (before that step's increment)
at every update. Values are computed in float32, as Keras computes them, and returned as Python
floats.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastkeras.backend.tape import Tensor

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "deserialize",
    "get",
    "serialize",
]

_f32 = np.float32


def _step_value(step, schedule_name: str):
    """The step as a numpy scalar (integer steps stay integers)."""
    value = step.value if isinstance(step, Tensor) else step
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - report anything unusable the same way
        arr = None
    if arr is None or arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{schedule_name}: `step` must be a scalar number (the optimizer "
                        f"iteration). Received: step={step!r}")
    return arr[()]


def _require_number(value, arg: str, cls_name: str, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{cls_name}: argument `{arg}` must be a number. "
                         f"Received: {arg}={value!r}")


class LearningRateSchedule:
    """Base class of learning-rate schedules.

    Subclasses implement `__call__(step)` returning the learning rate for an optimizer step,
    and `get_config()` (with `from_config(config)` rebuilding the schedule from it) to be
    serializable.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            cfg = self.get_config()
        except NotImplementedError:
            return f"<{type(self).__name__}>"
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is floored, so the rate drops every `decay_steps` steps.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _require_number(initial_learning_rate, "initial_learning_rate", "ExponentialDecay")
        _require_number(decay_steps, "decay_steps", "ExponentialDecay")
        _require_number(decay_rate, "decay_rate", "ExponentialDecay")
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        s = _f32(_step_value(step, "ExponentialDecay"))
        p = s / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) * np.power(_f32(self.decay_rate), p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after `boundaries[-1]`."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries = list(boundaries)
        values = list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        for i, b in enumerate(boundaries):
            _require_number(b, f"boundaries[{i}]", "PiecewiseConstantDecay")
        for i, v in enumerate(values):
            _require_number(v, f"values[{i}]", "PiecewiseConstantDecay")
        for lo, hi in zip(boundaries[:-1], boundaries[1:]):
            if not lo < hi:
                raise ValueError("PiecewiseConstantDecay: `boundaries` must be strictly "
                                 f"increasing. Received: boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        s = _step_value(step, "PiecewiseConstantDecay")
        # Boundaries are compared in the step's type: an integer step sees integer boundaries.
        integer_step = np.asarray(s).dtype.kind in "biu"
        chosen = self.values[-1]
        for b, v in zip(self.boundaries, self.values):
            bound = int(b) if integer_step else b
            if s <= bound:
                chosen = v
                break
        return float(_f32(chosen))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay.

    Without `warmup_target`: `initial_learning_rate * ((1 - alpha) * c + alpha)` with
    `c = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))`.
    With `warmup_target`: for `step < warmup_steps` the rate goes linearly from
    `initial_learning_rate` to `warmup_target`; afterwards the cosine decay above runs from
    `warmup_target` over `decay_steps` steps (counted from the end of the warmup).
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _require_number(initial_learning_rate, "initial_learning_rate", "CosineDecay")
        _require_number(decay_steps, "decay_steps", "CosineDecay")
        _require_number(alpha, "alpha", "CosineDecay")
        _require_number(warmup_target, "warmup_target", "CosineDecay", allow_none=True)
        _require_number(warmup_steps, "warmup_steps", "CosineDecay")
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        if warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be >= 0. Received: "
                             f"warmup_steps={warmup_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, from_lr):
        fraction = step / decay_steps
        cosine = _f32(0.5) * (_f32(1.0) + np.cos(_f32(math.pi) * fraction))
        decayed = _f32(1 - self.alpha) * cosine + _f32(self.alpha)
        return from_lr * decayed

    def __call__(self, step):
        initial = _f32(self.initial_learning_rate)
        decay_steps = _f32(self.decay_steps)
        s = _f32(_step_value(step, "CosineDecay"))
        if self.warmup_target is None:
            return float(self._decay(np.minimum(s, decay_steps), decay_steps, initial))
        target = _f32(self.warmup_target)
        warmup_steps = _f32(self.warmup_steps)
        s = np.minimum(s, decay_steps + warmup_steps)
        if s < warmup_steps:
            return float((target - initial) * (s / warmup_steps) + initial)
        return float(self._decay(s - warmup_steps, decay_steps, target))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


ALL_OBJECTS = {
    "LearningRateSchedule": LearningRateSchedule,
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "CosineDecay": CosineDecay,
}


def serialize(learning_rate_schedule) -> dict:
    """The schedule as a JSON-compatible dict in Keras's format
    (`{"module", "class_name", "config", "registered_name"}`)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError("serialize: expected a LearningRateSchedule. Received: "
                        f"{learning_rate_schedule!r}")
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(learning_rate_schedule).__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """Rebuilds a schedule from `serialize`'s dict (or any `{"class_name", "config"}` dict)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Could not deserialize a learning rate schedule: expected a dict with "
                         f"keys 'class_name' and 'config'. Received: {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS.get(name)
    if cls is None:
        raise ValueError(f"Unknown learning rate schedule: '{name}'. Known schedules: "
                         f"{sorted(ALL_OBJECTS)}; pass custom ones in `custom_objects`.")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A schedule from an instance or a serialized dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret learning rate schedule identifier: {identifier!r}")
