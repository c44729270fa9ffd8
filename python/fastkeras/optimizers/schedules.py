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
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "get",
    "serialize",
]

_f32 = np.float32


def _step_value(step, schedule_name: str, vector_ok: bool = True):
    """The step as a numpy scalar (integer steps stay integers), or an array of steps (as
    Keras's schedules take one, to plot them: `schedule(np.arange(1000))`)."""
    value = step.value if isinstance(step, Tensor) else step
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - report anything unusable the same way
        arr = None
    if arr is None or (arr.ndim != 0 and not vector_ok) or arr.dtype.kind not in "biuf":
        raise TypeError(f"{schedule_name}: `step` must be a scalar number (the optimizer "
                        f"iteration). Received: step={step!r}")
    return arr[()] if arr.ndim == 0 else arr


def _require_number(value, arg: str, cls_name: str, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{cls_name}: argument `{arg}` must be a number. "
                         f"Received: {arg}={value!r}")


def _rate(value):
    """A schedule's value as Keras returns it: a float32 scalar tensor."""
    return Tensor(np.asarray(value, np.float32))

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


class _RateDecay(LearningRateSchedule):
    """The shared part of ExponentialDecay and InverseTimeDecay: an initial rate decayed at
    `decay_rate` over `step / decay_steps` (floored with `staircase=True`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        kind = type(self).__name__
        _require_number(initial_learning_rate, "initial_learning_rate", kind)
        _require_number(decay_steps, "decay_steps", kind)
        _require_number(decay_rate, "decay_rate", kind)
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or kind

    def _progress(self, step):
        p = _f32(_step_value(step, type(self).__name__)) / _f32(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is floored, so the rate drops every `decay_steps` steps.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _rate(_f32(self.initial_learning_rate)
                     * np.power(_f32(self.decay_rate), self._progress(step)))


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
        s = _step_value(step, "PiecewiseConstantDecay", vector_ok=False)  # (Keras's fails too)
        # Boundaries are compared in the step's type: an integer step sees integer boundaries.
        integer_step = np.asarray(s).dtype.kind in "biu"
        chosen = self.values[-1]
        for b, v in zip(self.boundaries, self.values):
            bound = int(b) if integer_step else b
            if s <= bound:
                chosen = v
                break
        # as Keras: the chosen value keeps its type (integer values give an int32 tensor)
        ints = all(isinstance(v, numbers.Integral) for v in self.values)
        return Tensor(np.asarray(chosen, np.int32 if ints else np.float32))

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
            return _rate(self._decay(np.minimum(s, decay_steps), decay_steps, initial))
        target = _f32(self.warmup_target)
        warmup_steps = _f32(self.warmup_steps)
        s = np.minimum(s, decay_steps + warmup_steps)
        with np.errstate(divide="ignore", invalid="ignore"):  # (no warmup: never chosen)
            warming = (target - initial) * (s / warmup_steps) + initial
        return _rate(np.where(s < warmup_steps, warming,
                              self._decay(s - warmup_steps, decay_steps, target)))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` along a polynomial of degree `power`
    over `decay_steps` steps:
    `(initial - end) * (1 - step / decay_steps) ** power + end`, the step clipped at
    `decay_steps`. With `cycle=True` the step is not clipped: `decay_steps` grows to the first
    multiple of itself at or above the step (1 x at step 0), so the decay restarts."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        for arg, value in (("initial_learning_rate", initial_learning_rate),
                           ("decay_steps", decay_steps),
                           ("end_learning_rate", end_learning_rate), ("power", power)):
            _require_number(value, arg, "PolynomialDecay")
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: "
                             f"decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        initial = _f32(self.initial_learning_rate)
        end = _f32(self.end_learning_rate)
        s = _f32(_step_value(step, "PolynomialDecay"))
        span = _f32(self.decay_steps)
        if self.cycle:
            span = span * np.where(s == 0, _f32(1.0), np.ceil(s / span))
        else:
            s = np.minimum(s, span)
        fraction = s / span
        return _rate((initial - end) * np.power(_f32(1.0) - fraction, _f32(self.power)) + end)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`; with `staircase=True`
    the ratio `step / decay_steps` is floored."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _rate(_f32(self.initial_learning_rate)
                     / (_f32(1.0) + _f32(self.decay_rate) * self._progress(step)))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR). The first period lasts `first_decay_steps`
    steps; each next one is `t_mul` times longer and starts from `m_mul` times the previous
    period's initial rate. Within a period, at fraction `f` of it, the rate is
    `initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)`
    where `i` counts the restarts so far."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        for arg, value in (("initial_learning_rate", initial_learning_rate),
                           ("first_decay_steps", first_decay_steps), ("t_mul", t_mul),
                           ("m_mul", m_mul), ("alpha", alpha)):
            _require_number(value, arg, "CosineDecayRestarts")
        if first_decay_steps <= 0:
            raise ValueError(f"Argument `first_decay_steps` must be > 0. Received: "
                             f"first_decay_steps={first_decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        one = _f32(1.0)
        t_mul = _f32(self._t_mul)
        s = _f32(_step_value(step, "CosineDecayRestarts"))
        done = s / _f32(self.first_decay_steps)  # in units of the first period
        if t_mul == one:
            restarts = np.floor(done)
            within = done - restarts
        else:
            # Periods 1, t, t^2, ...: after i of them, (1 - t^i) / (1 - t) first periods.
            restarts = np.floor(np.log(one - done * (one - t_mul)) / np.log(t_mul))
            before = (one - np.power(t_mul, restarts)) / (one - t_mul)
            within = (done - before) / np.power(t_mul, restarts)
        scale = np.power(_f32(self._m_mul), restarts)
        cosine = _f32(0.5) * scale * (one + np.cos(_f32(math.pi) * within))
        alpha = _f32(self.alpha)
        return _rate(_f32(self.initial_learning_rate) * ((one - alpha) * cosine + alpha))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


ALL_OBJECTS = {
    "LearningRateSchedule": LearningRateSchedule,
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "CosineDecay": CosineDecay,
    "PolynomialDecay": PolynomialDecay,
    "InverseTimeDecay": InverseTimeDecay,
    "CosineDecayRestarts": CosineDecayRestarts,
}


def serialize(learning_rate_schedule) -> dict:
    """The schedule as a JSON-compatible dict in Keras's format
    (`{"module", "class_name", "config", "registered_name"}`)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError("serialize: expected a LearningRateSchedule. Received: "
                        f"{learning_rate_schedule!r}")
    from fastkeras.saving.object_registry import object_spec
    return object_spec(learning_rate_schedule, "keras.optimizers.schedules", ALL_OBJECTS)


def deserialize(config, custom_objects=None):
    """Rebuilds a schedule from `serialize`'s dict (or any `{"class_name", "config"}` dict)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Could not deserialize a learning rate schedule: expected a dict with "
                         f"keys 'class_name' and 'config'. Received: {config!r}")
    from fastkeras.saving.object_registry import lookup
    name = config["class_name"]
    cls = lookup(config, custom_objects) or ALL_OBJECTS.get(name)
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
