"""Activations by name or as functions (Keras 3's `keras.activations`)."""

from __future__ import annotations

import inspect

import numpy as np

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
    from fastkeras.backend.tape import convert_to_tensor
    x = convert_to_tensor(x)
    v = x.value
    # Keras's composition: the part above the threshold (0 below it, NaN to 0 when there is a
    # threshold), capped at max_value, minus negative_slope * relu(threshold - x). No 0 * inf
    # products, so -inf gives 0 (or -inf with a slope), as in Keras.
    above = v > threshold
    out = np.where(above, v, 0) if threshold != 0 else np.maximum(v, 0)
    slope = above.astype(v.dtype)
    if max_value is not None:
        slope = np.where(out >= max_value, 0, slope)
        out = np.clip(out, 0, max_value)
    if negative_slope != 0.0:
        out = out - negative_slope * np.maximum(threshold - v, 0)
        slope = slope + negative_slope * (v < threshold)
    out, slope = out.astype(v.dtype), slope.astype(v.dtype)
    from fastkeras.backend.tape import make_op
    return make_op(out, (x,), lambda g, needs: (g * slope,))


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def celu(x, alpha=1.0):
    """x for x >= 0, alpha * (exp(x / alpha) - 1) below."""
    return ops.celu(x, alpha=alpha)


def glu(x, axis=-1):
    """The gated linear unit: a * sigmoid(b) for x's two halves a, b along `axis`."""
    return ops.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return ops.hard_shrink(x, threshold=threshold)


def hard_tanh(x):
    """x clipped to [-1, 1]."""
    return ops.hard_tanh(x)


def log_sigmoid(x):
    """log(sigmoid(x))."""
    return ops.log_sigmoid(x)


def mish(x):
    """x * tanh(softplus(x))."""
    from fastkeras.backend.tape import make_op
    from fastkeras.ops.math import _float, _t
    x = _t(x)
    v = _float(x)
    sp = np.logaddexp(0, v)               # softplus without overflow
    t = np.tanh(sp)
    sig = np.exp(-np.logaddexp(0, -v))    # sigmoid
    out = (v * t).astype(v.dtype)
    slope = (t + v * (1 - t * t) * sig).astype(v.dtype)
    return make_op(out, (x,), lambda g, needs: (g * slope,))


def soft_shrink(x, threshold=0.5):
    """x moved towards 0 by `threshold` (0 within it)."""
    return ops.soft_shrink(x, threshold=threshold)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)**2 / 4 for -1 < x < 1, x for x >= 1."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    return ops.sparse_sigmoid(x)


def squareplus(x, b=4):
    """(x + sqrt(x**2 + b)) / 2."""
    return ops.squareplus(x, b=b)


def tanh_shrink(x):
    """x - tanh(x)."""
    return ops.tanh_shrink(x)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return ops.threshold(x, threshold, default_value)


def sparsemax(x, axis=-1):
    """The projection of x onto the probability simplex along `axis` (a sparse softmax)."""
    return ops.sparsemax(x, axis=axis)


hard_swish = hard_silu
swish = silu  # one function, named "silu" in configs, as Keras's

_BY_NAME = {
    "linear": linear, "relu": relu, "relu6": relu6, "sigmoid": sigmoid, "softmax": softmax,
    "tanh": tanh, "elu": elu, "selu": selu, "softplus": softplus, "softsign": softsign,
    "swish": swish, "silu": silu, "gelu": gelu, "leaky_relu": leaky_relu,
    "exponential": exponential, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu,
    "hard_swish": hard_swish, "log_softmax": log_softmax, "celu": celu, "glu": glu,
    "hard_shrink": hard_shrink, "hard_tanh": hard_tanh, "log_sigmoid": log_sigmoid,
    "mish": mish, "soft_shrink": soft_shrink, "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid, "squareplus": squareplus, "tanh_shrink": tanh_shrink,
    "threshold": threshold, "sparsemax": sparsemax,
}


def get(identifier):
    """An activation function from a name, a function, a config dict or None (linear). A
    name that is not built in is looked up among custom objects (an active
    `custom_object_scope`, `load_model`'s `custom_objects`) and registered functions."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier.lower())
        if fn is None:
            from fastkeras.saving import object_registry
            fn = object_registry.get_registered_object(identifier)
        if fn is None:
            raise ValueError(f"Unknown activation function: '{identifier}'. Expected one of "
                             f"{sorted(_BY_NAME)}, a registered or custom function, or a "
                             f"callable.")
        return fn
    if isinstance(identifier, dict):
        if identifier.get("class_name") == "function" or "config" not in identifier:
            return get(identifier.get("config", identifier.get("class_name")))
        from fastkeras.saving import deserialize_keras_object
        return deserialize_keras_object(identifier)  # an activation object (a layer)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn):
    """A built-in activation's name; any other function as Keras writes it, a function config
    naming its registered name ("package>name") or its own name; an activation object (a
    layer) as its config."""
    own = getattr(fn, "__name__", None)
    if _BY_NAME.get(own) is fn:  # an alias ("swish") is written by the function's own name
        return own
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    if inspect.isfunction(fn) or inspect.isbuiltin(fn):
        from fastkeras.saving import object_registry
        return {"module": "builtins", "class_name": "function",
                "config": object_registry.get_registered_name(fn), "registered_name": "function"}
    if hasattr(fn, "get_config"):
        from fastkeras.saving import serialize_keras_object
        return serialize_keras_object(fn)
    return getattr(fn, "__name__", str(fn))


def deserialize(config, custom_objects=None):
    from fastkeras.saving import object_registry
    with object_registry.CustomObjectScope(custom_objects or {}):
        return get(config)
