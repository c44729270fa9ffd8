"""Keras 3's dtype policies (`keras.dtype_policies`): the dtype a layer computes in and the
dtype of its variables.

fastkeras computes in float32 (float64 where an op keeps float64 inputs); a policy naming
another compute or variable dtype (mixed_float16, bfloat16, ...) can be made, serialized and
read from a Keras file's config, but setting it globally or on a layer raises an error that
names it, rather than computing in a precision the kernels do not have."""

from __future__ import annotations

import numpy as np

SUPPORTED = ("float32", "float64")


def _standardize(name):
    if isinstance(name, (np.dtype, type)):
        return str(np.dtype(name))
    return name


class DTypePolicy:
    """A policy by name: "float32", "mixed_float16" (float16 compute, float32 variables),
    "mixed_bfloat16", or any dtype name. `name` None means the global policy's name."""

    def __init__(self, name=None):
        if name is None:
            name = global_policy().name
        name = _standardize(name)
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: "
                            f"name={name!r} (of type {type(name).__name__})")
        if name in ("mixed_float16", "mixed_bfloat16"):
            compute, variable = name.split("_")[1], "float32"
        else:
            try:
                compute = variable = str(np.dtype(name)) if name != "bfloat16" else name
            except TypeError:
                raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. "
                                 f"Valid policies include 'mixed_float16', 'mixed_bfloat16', "
                                 f"and the name of any float dtype such as 'float32'.") from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute_dtype

    @property
    def variable_dtype(self):
        return self._variable_dtype

    @property
    def quantization_mode(self):
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


FloatDTypePolicy = DTypePolicy

_global = [DTypePolicy("float32")]


def check_supported(policy, where):
    """The policy's compute dtype, after checking fastkeras can compute in it."""
    if policy.compute_dtype not in SUPPORTED or policy.variable_dtype not in SUPPORTED:
        raise NotImplementedError(
            f"{where}: the dtype policy '{policy.name}' (compute dtype "
            f"{policy.compute_dtype}, variable dtype {policy.variable_dtype}) is not supported: "
            f"fastkeras's kernels compute in float32. Use 'float32'.")
    return policy.compute_dtype


def get(identifier):
    """A DTypePolicy from a policy, a name or a config dict (None: the global policy)."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, (str, np.dtype, type)):
        return DTypePolicy(identifier)
    raise ValueError(f"Cannot interpret `dtype` argument. Expected a string or an instance "
                     f"of DTypePolicy. Received: dtype={identifier!r}")


def serialize(policy):
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return DTypePolicy(config)
    if not isinstance(config, dict) or config.get("class_name") not in (
            "DTypePolicy", "FloatDTypePolicy", "Policy"):
        raise ValueError(f"Could not deserialize a dtype policy from {config!r}")
    return DTypePolicy.from_config(config.get("config", {}))


def global_policy():
    return _global[0]


def set_global_policy(policy):
    """Sets the policy layers take by default; only float32 and float64 policies run here."""
    policy = get(policy) if policy is not None else DTypePolicy("float32")
    check_supported(policy, "set_dtype_policy")
    _global[0] = policy
