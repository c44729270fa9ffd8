"""fastkeras: Keras's API on fast C++ CPU kernels.

    import fastkeras as keras

    model = keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
"""

from fastkeras import (
    _core,  # noqa: F401  (loads the compiled kernels first)
    activations,
    backend,
    callbacks,
    config,
    constraints,
    initializers,
    layers,
    models,
    ops,
    random,
    regularizers,
)
from fastkeras.backend import GradientTape, Variable
from fastkeras.backend.scopes import RematScope, StatelessScope, SymbolicScope, remat
from fastkeras.dtype_policies import DTypePolicy, FloatDTypePolicy
from fastkeras.initializers import Initializer
from fastkeras.layers import Input, InputSpec, Layer
from fastkeras.layers.input_layer import KerasTensor
from fastkeras.models import Model, Sequential
from fastkeras.ops.function import Function, Operation
from fastkeras.regularizers import Regularizer

__version__ = "0.1.0"

# Base classes Keras also exposes at its root, from the submodules imported on first use.
_LAZY_CLASSES = {"Loss": "losses", "Metric": "metrics", "Optimizer": "optimizers"}


_NAME_SCOPES: list = []  # the names of the open name scopes, outermost first


def version():
    """fastkeras's version string."""
    return __version__


class name_scope:
    """`with fastkeras.name_scope("block"):` opens a named scope, as Keras's does; the open
    scopes' names are `name_scope.current()` ("outer/inner"). Layer names are unaffected."""

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string without '/'. "
                             f"Received: name={name!r}")
        self.name, self.caller = name, caller
        self.deduplicate, self.override_parent = deduplicate, override_parent
        self._pushed = False

    @classmethod
    def current(cls):
        return "/".join(_NAME_SCOPES)

    def __enter__(self):
        if not (self.deduplicate and _NAME_SCOPES and _NAME_SCOPES[-1] == self.name):
            _NAME_SCOPES.append(self.name)
            self._pushed = True
        return self

    def __exit__(self, *exc):
        if self._pushed:
            _NAME_SCOPES.pop()
            self._pushed = False
        return False


class device:
    """`with fastkeras.device("cpu"):` places ops on the CPU, the only device fastkeras runs on;
    any other device name raises a ValueError naming it."""

    def __init__(self, device_name):
        import re
        name = device_name.lower().strip() if isinstance(device_name, str) else None
        if name is None or not re.fullmatch(r"/?(device:)?cpu(:0)?", name):
            raise ValueError("fastkeras runs on the CPU only: `device_name` must be 'cpu' "
                             f"(or 'cpu:0', '/device:CPU:0'). Received: "
                             f"device_name={device_name!r}")
        self.device_name = "cpu"

    def __enter__(self):
        return self.device_name

    def __exit__(self, *exc):
        return False


# Submodules imported on first use, which keeps `import fastkeras` light.
_LAZY_MODULES = ("losses", "metrics", "optimizers", "datasets", "utils", "saving",
                 "preprocessing", "tree", "applications", "dtype_policies",
                 "mixed_precision", "visualization", "distillation", "wrappers")


def __getattr__(name):
    import importlib
    if name in _LAZY_CLASSES:
        module = importlib.import_module(f"fastkeras.{_LAZY_CLASSES[name]}")
        return getattr(module, name)
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"fastkeras.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'fastkeras' has no attribute '{name}'")


def __dir__():
    # What a notebook's tab completion lists: the lazy names too, before their first use.
    return sorted(set(globals()) | set(_LAZY_CLASSES) | set(_LAZY_MODULES))


__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "Function",
    "GradientTape",
    "Initializer",
    "Input",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Model",
    "Operation",
    "Regularizer",
    "RematScope",
    "Sequential",
    "StatelessScope",
    "SymbolicScope",
    "Variable",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "device",
    "initializers",
    "layers",
    "models",
    "name_scope",
    "ops",
    "random",
    "regularizers",
    "remat",
    "version",
]
