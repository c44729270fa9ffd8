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
from fastkeras.layers import Input, Layer
from fastkeras.models import Model, Sequential

__version__ = "0.1.0"


def __getattr__(name):
    # These submodules are imported on first use, which keeps `import fastkeras` light.
    import importlib
    if name in ("losses", "metrics", "optimizers", "datasets", "utils", "saving",
                "preprocessing", "tree", "applications", "dtype_policies",
                "mixed_precision"):
        module = importlib.import_module(f"fastkeras.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'fastkeras' has no attribute '{name}'")


__all__ = [
    "GradientTape",
    "Input",
    "Layer",
    "Model",
    "Sequential",
    "Variable",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "initializers",
    "layers",
    "models",
    "ops",
    "random",
    "regularizers",
]
