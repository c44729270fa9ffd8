"""Global settings and dtype helpers of `fastkeras.backend` (Keras 3's `keras.backend` /
`keras.config`): epsilon, floatx, image data format, dtype names and promotion, name uids.

`backend()` returns ``"fastkeras"``: this library is its own backend (numpy arrays computed by
C++ kernels on the CPU), not one of Keras's ("tensorflow", "jax", "torch", "numpy"), and code
that branches on the backend name should not take a path meant for one of those. Where Keras's
behaviour depends on the backend (the width of `result_type`'s integer results), fastkeras
follows Keras's non-TensorFlow backends.
"""

from __future__ import annotations

import numpy as np

_settings = {"epsilon": 1e-7, "floatx": "float32", "image_data_format": "channels_last"}

_KERAS_FLOATS = ("bfloat16", "float16", "float32", "float64")
_SUPPORTED_FLOATS = ("float32",)


def backend() -> str:
    """The name of the backend: always ``"fastkeras"`` (see the module docstring)."""
    return "fastkeras"


def epsilon() -> float:
    """The fuzz factor used in numeric expressions (losses, metrics); 1e-7 by default."""
    return _settings["epsilon"]


def set_epsilon(value) -> None:
    """Sets the fuzz factor `epsilon()` returns."""
    _settings["epsilon"] = value


def floatx() -> str:
    """The default float dtype, as a string ("float32")."""
    return _settings["floatx"]


def set_floatx(value) -> None:
    """Sets the default float dtype. Keras accepts 'bfloat16', 'float16', 'float32' and
    'float64'; fastkeras computes in float32 only, so the others raise a ValueError saying so."""
    if value not in _KERAS_FLOATS:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of "
                         f"{set(_KERAS_FLOATS)}")
    if value not in _SUPPORTED_FLOATS:
        raise ValueError(f"set_floatx: fastkeras computes in float32 only; "
                         f"floatx={value!r} is not supported. Received: value={value!r}")
    _settings["floatx"] = str(value)


def image_data_format() -> str:
    """The default image data format: 'channels_last' or 'channels_first'."""
    return _settings["image_data_format"]


def set_image_data_format(data_format) -> None:
    """Sets the default image data format ('channels_last' or 'channels_first')."""
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    _settings["image_data_format"] = value


# --- dtypes ----------------------------------------------------------------------------------

_INTS = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
_FLOATS = ("bfloat16", "float16", "float32", "float64")
_COMPLEX = ("complex64", "complex128")
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2")
ALLOWED_DTYPES = ("float16", "float32", "float64", *_INTS[:4], *_INTS[4:], "bfloat16", "bool",
                  "string", *_FLOAT8, "int4", "uint4", *_COMPLEX)
_PYTHON_TYPES = {bool: "bool", int: "int32", float: "float32", str: "string",
                 complex: "complex64", "int": "int32"}


def np_dtype(dtype):
    """The numpy dtype for a `dtype` argument, None giving floatx. As Keras, Python's own
    types name 32-bit dtypes (`float` is float32, `int` int32), not numpy's 64-bit ones."""
    if dtype is None:
        return np.dtype(floatx())
    if dtype is float or dtype is int or dtype is complex:
        return np.dtype(_PYTHON_TYPES[dtype])
    return np.dtype(dtype)


def standardize_dtype(dtype) -> str:
    """A dtype's canonical name ('float32', 'int32', 'bool', 'string', ...): accepts None
    (floatx), Python types (int -> 'int32', float -> 'float32'), numpy dtypes and types, and
    names. Anything else raises a ValueError naming it."""
    if dtype is None:
        return floatx()
    try:
        dtype = _PYTHON_TYPES.get(dtype, dtype)
    except TypeError:  # unhashable
        pass
    if hasattr(dtype, "name"):
        name = dtype.name
    elif hasattr(dtype, "__name__"):
        name = dtype.__name__
    elif "torch" in str(dtype) or "jax.numpy" in str(dtype):
        name = str(dtype).split(".")[-1]
    else:
        name = dtype
    if name not in ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {name}")
    return name


def is_float_dtype(dtype) -> bool:
    name = standardize_dtype(dtype)
    return name.startswith(("float", "bfloat"))


def is_int_dtype(dtype) -> bool:
    name = standardize_dtype(dtype)
    return name.startswith(("int", "uint"))


# Type promotion follows the lattice JAX documents (and Keras adopts): each dtype points at the
# dtypes directly above it; "int" and "float" are the weak types of Python scalars.
_ABOVE = {
    "bool": ("int",),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": ("float",),
    "int": ("uint8", "int8", "complex64"),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}


def _upper_sets():
    ups = {}
    for node in _ABOVE:
        seen, todo = {node}, [node]
        while todo:
            for parent in _ABOVE[todo.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        ups[node] = seen
    return ups


_UPPER = _upper_sets()
# Outside TensorFlow, Keras narrows 64-bit results to 32 bits (int64 stays int64 nowhere).
_NARROW = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}


def _join(names):
    names = set(names)
    for n in names:
        if n not in _UPPER:
            raise ValueError(f"dtype={n!r} is not a valid dtype for Keras type promotion.")
    common = set.intersection(*(_UPPER[n] for n in names))
    least = (common & names) or {c for c in common if common <= _UPPER[c]}
    if len(least) != 1:
        raise ValueError(f"Input dtypes {tuple(sorted(names))} have no available implicit "
                         "dtype promotion path. Try explicitly casting inputs to the desired "
                         "output type.")
    return least.pop()


def _weak(name):
    if name == "bool":
        return name
    for kind in ("float", "int", "complex"):
        if kind in name:
            return kind
    raise ValueError(f"Invalid value for argument `dtype`: {name}")


def _resolve_weak(name):
    bits = floatx()[-2:]
    if name == "bool":
        return name
    if name.startswith("u"):
        return f"uint{bits}"
    if name.startswith("i"):
        return f"int{bits}"
    return f"float{bits}"


def result_type(*dtypes) -> str:
    """The dtype an operation on arguments of these dtypes gives, by Keras's promotion rules:
    Python `int`/`float` are weak (they take the other argument's width), 'int32' with
    'float32' gives 'float32', and no implicit promotion gives 64-bit results."""
    if not dtypes:
        return floatx()
    for d in dtypes:
        if isinstance(d, str) and d in _FLOAT8:
            raise ValueError("There is no implicit conversions from float8 dtypes to others. "
                             f"You must cast it internally. Received: {dtypes}")
    args = [floatx() if d is None else d for d in dtypes]
    names = [standardize_dtype(d) for d in args]
    weak = [d is int or d is float for d in args]
    if len(names) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _join(names), True
    else:
        out = _join(_weak(n) if w else n for n, w in zip(names, weak))
        out_weak = out in ("int", "float")
    if out_weak and out != "bool":
        out = _resolve_weak(out)
    return _NARROW.get(out, out)


def is_keras_tensor(x) -> bool:
    """Whether `x` is a symbolic tensor (from `fastkeras.Input` or a layer called on one)."""
    from fastkeras.layers.input_layer import KerasTensor
    return isinstance(x, KerasTensor)


def get_uid(prefix="") -> int:
    """The next number for `prefix` (1, 2, ...), counted with the automatic layer names: after
    one `Dense()`, `get_uid("dense")` is 2 and the next Dense is named 'dense_2'."""
    from fastkeras.layers import layer as layer_mod
    counts = layer_mod._name_counts
    counts[prefix] = counts.get(prefix, 0) + 1
    return counts[prefix]
