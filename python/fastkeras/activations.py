"""Activations by name or as functions (Keras 3's `keras.activations`)."""

from __future__ import annotations

from fastkeras import ops
from fastkeras.ops import (
    elu,
    exponential,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    linear,
    log_softmax,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    softsign,
    tanh,
)


def gelu(x, approximate=False):
    """Keras's gelu activation: exact (erf) by default, unlike `keras.ops.gelu`."""
    return ops.gelu(x, approximate=approximate)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu with its optional slope, cap and threshold."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    import numpy as np

    from fastkeras.backend.tape import convert_to_tensor
    x = convert_to_tensor(x)
    v = x.value
    keep = v > threshold
    out = np.where(keep, v, negative_slope * (v - threshold)).astype(v.dtype)
    slope = np.where(keep, 1.0, negative_slope).astype(v.dtype)
    if max_value is not None:
        capped = out >= max_value
        out = np.where(capped, max_value, out).astype(v.dtype)
        slope = np.where(capped, 0.0, slope).astype(v.dtype)
    from fastkeras.backend.tape import make_op
    return make_op(out, (x,), lambda g, needs: (g * slope,))


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def swish(x):
    return ops.silu(x)


hard_swish = hard_silu

_BY_NAME = {
    "linear": linear, "relu": relu, "relu6": relu6, "sigmoid": sigmoid, "softmax": softmax,
    "tanh": tanh, "elu": elu, "selu": selu, "softplus": softplus, "softsign": softsign,
    "swish": swish, "silu": silu, "gelu": gelu, "leaky_relu": leaky_relu,
    "exponential": exponential, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu,
    "hard_swish": hard_swish, "log_softmax": log_softmax,
}


def get(identifier):
    """An activation function from a name, a function, a config dict or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier.lower())
        if fn is None:
            raise ValueError(f"Unknown activation function: '{identifier}'. Expected one of "
                             f"{sorted(_BY_NAME)} or a callable.")
        return fn
    if isinstance(identifier, dict):
        return get(identifier.get("config", identifier.get("class_name")))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn) -> str:
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", str(fn))


def deserialize(config, custom_objects=None):
    if custom_objects and isinstance(config, str) and config in custom_objects:
        return custom_objects[config]
    return get(config)
