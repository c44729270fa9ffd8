"""Optimizers (Keras 3's `keras.optimizers`): the update rules run in C++ kernels, one call per
variable per step.

    opt = fastkeras.optimizers.get("adam")
    opt.apply(grads, model.trainable_variables)
"""

from __future__ import annotations

from fastkeras.optimizers import legacy, schedules
from fastkeras.optimizers.adadelta import Adadelta
from fastkeras.optimizers.adafactor import Adafactor
from fastkeras.optimizers.adagrad import Adagrad
from fastkeras.optimizers.adam import Adam
from fastkeras.optimizers.adamax import Adamax
from fastkeras.optimizers.adamw import AdamW
from fastkeras.optimizers.base_optimizer import BaseOptimizer, Optimizer
from fastkeras.optimizers.ftrl import Ftrl
from fastkeras.optimizers.lamb import Lamb
from fastkeras.optimizers.lion import Lion
from fastkeras.optimizers.loss_scale_optimizer import LossScaleOptimizer
from fastkeras.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from fastkeras.optimizers.muon import Muon
from fastkeras.optimizers.nadam import Nadam
from fastkeras.optimizers.rmsprop import RMSprop
from fastkeras.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from fastkeras.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "BaseOptimizer",
    "Ftrl",
    "Lamb",
    "Lion",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "Muon",
    "Nadam",
    "Optimizer",
    "OptimizerMap",
    "RMSprop",
    "ScheduleFreeAdamW",
    "deserialize",
    "get",
    "legacy",
    "schedules",
    "serialize",
]

ALL_OBJECTS = {Optimizer, SGD, Adam, AdamW, RMSprop, Adadelta, Adagrad, Nadam, Adamax, Lion,
               Ftrl, Lamb, Adafactor, Muon, ScheduleFreeAdamW, LossScaleOptimizer,
               MultiOptimizer, OptimizerMap}
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def serialize(optimizer) -> dict:
    """The optimizer as a JSON-compatible dict in Keras's format
    (`{"module", "class_name", "config", "registered_name"}`). An OptimizerMap serializes
    the same way."""
    from fastkeras.saving.object_registry import keras_module_and_name
    if not isinstance(optimizer, (Optimizer, OptimizerMap)):
        raise TypeError(f"serialize: expected an Optimizer instance. Received: {optimizer!r}")
    builtin = ALL_OBJECTS_DICT.get(type(optimizer).__name__.lower()) is type(optimizer)
    return {
        "module": "keras.optimizers" if builtin else keras_module_and_name(type(optimizer))[0],
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None if builtin else type(optimizer).__name__,
    }


def deserialize(config, custom_objects=None):
    """An optimizer from `serialize`'s dict (or any `{"class_name": ..., "config": ...}`).
    Built-in class names match case-insensitively; `custom_objects` maps names to classes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Could not deserialize an optimizer: expected a dict with keys "
                         f"'class_name' and 'config'. Received: {config!r}")
    name = config["class_name"]
    if not isinstance(name, str):
        raise ValueError(f"Could not deserialize an optimizer: 'class_name' must be a string. "
                         f"Received: {name!r}")
    custom_objects = custom_objects or {}
    cls = custom_objects.get(name) or ALL_OBJECTS_DICT.get(name.lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: '{name}'. Known "
                         f"optimizers: {sorted(ALL_OBJECTS_DICT)}; pass other classes in "
                         "`custom_objects`.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"Could not deserialize optimizer '{name}': 'config' must be a dict. "
                         f"Received: {inner!r}")
    return cls.from_config(dict(inner), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name ('adam', case-insensitive), a serialized dict, or an instance
    (returned as is). None gives None."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (expected an "
                         "optimizer name such as 'adam', a config dict or an Optimizer)")
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")

