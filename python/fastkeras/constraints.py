"""Weight constraints (Keras 3's `keras.constraints`): projections the optimizer applies to a
variable after each update, e.g. `Dense(64, kernel_constraint=keras.constraints.MaxNorm(3))`.

A constraint takes the variable's value and returns the constrained value; it runs on the
NumPy array the optimizer has just updated. Layers write their constraints into their configs
as Keras does ({"module": "keras.constraints", "class_name": ..., "config": ...}), so a saved
model keeps them."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.config import epsilon


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _as_array(w):
    w = np.asarray(getattr(w, "value", w))
    return w if np.issubdtype(w.dtype, np.floating) else w.astype(np.float32)


class Constraint:
    """Base class: the identity. Subclasses override `__call__` and `get_config`."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Scales each slice along `axis` whose L2 norm exceeds `max_value` down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (epsilon() + norms))).astype(w.dtype)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm into [min_value, max_value], by the fraction `rate`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return (w * (desired / (epsilon() + norms))).astype(w.dtype)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative values to zero."""

    def __call__(self, w):
        w = _as_array(w)
        return np.maximum(w, 0).astype(w.dtype)  # as Keras: +0.0, not -0.0, for negatives


class UnitNorm(Constraint):
    """Divides each slice along `axis` by its L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        return (w / (epsilon() + _norms(w, self.axis))).astype(w.dtype)

    def get_config(self):
        return {"axis": self.axis}


# Keras's lower-case aliases.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_BY_NAME = {**_CLASSES, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg,
            "unit_norm": UnitNorm, "constraint": Constraint}


def serialize(constraint):
    """Keras's config of a constraint: None, or {"module", "class_name", "config",
    "registered_name"} (a plain function as Keras writes functions)."""
    from fastkeras.saving.object_registry import object_spec
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint) and getattr(constraint, "__name__", None) is None:
        raise ValueError(f"Cannot serialize constraint {constraint!r}: give a "
                         "keras.constraints.Constraint subclass with get_config()")
    return object_spec(constraint, "keras.constraints", _CLASSES)


def deserialize(config, custom_objects=None):
    """The constraint a `serialize` result (or a Keras config dict) describes; custom classes
    come from `custom_objects`, a custom-object scope or the registry."""
    from fastkeras.saving.object_registry import get_registered_object, lookup
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        return found if found is not None else get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret constraint config: {config!r}")
    if config["class_name"] == "function":  # a plain function, by its (registered) name
        found = get_registered_object(config.get("config"), custom_objects)
        if found is None:
            raise ValueError(f"Unknown constraint function: '{config.get('config')}'. Pass it "
                             "in `custom_objects` or register it with "
                             "keras.saving.register_keras_serializable().")
        return found
    cls = lookup(config, custom_objects) or _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown constraint: '{config['class_name']}'. Pass it in "
                         "`custom_objects` or register it with "
                         "keras.saving.register_keras_serializable().")
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """None, a Constraint or callable (returned as is), a name ('max_norm', 'MaxNorm'...) or a
    config dict, as Keras's `constraints.get`."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        from fastkeras.saving.object_registry import get_registered_object
        cls = _BY_NAME.get(identifier) or get_registered_object(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret constraint identifier: {identifier}")
        return cls() if isinstance(cls, type) else cls
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier}")

