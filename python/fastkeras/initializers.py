"""Weight initializers (Keras 3's `keras.initializers`), drawing from fastkeras's seeded
generator so `fastkeras.utils.set_random_seed` makes runs reproducible."""

from __future__ import annotations

import math

import numpy as np

from fastkeras.backend import random as fk_random


def _fans(shape, input_axes=None, output_axes=None):
    """Keras's fan computation: dense (in, out); conv (*receptive, in, out). Given both
    `input_axes` and `output_axes`, the fans are the products of those axes' sizes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        try:
            return (int(np.prod([shape[a] for a in input_axes])),
                    int(np.prod([shape[a] for a in output_axes])))
        except IndexError:
            raise ValueError(f"input_axes={list(input_axes)} / output_axes={list(output_axes)} "
                             f"name an axis that a weight of shape {shape} does not have") \
                from None
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs):
        # The built-in initializers give a tensor, as Keras's do (`float(init((1, 1)))`, ops
        # on it); a user's subclass returns what its own __call__ returns.
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and cls.__module__ == __name__:
            def tensor_call(self, shape, dtype="float32", _call=call):
                from fastkeras.backend.tape import Tensor
                out = _call(self, shape, dtype="float32" if dtype is None else dtype)
                return out if isinstance(out, Tensor) else Tensor(out)
            tensor_call.__doc__ = call.__doc__
            cls.__call__ = tensor_call

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        # Configs written by other Keras versions may carry keys these initializers do not
        # take: keep what we accept.
        import inspect
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in config.items() if k in accepted})


class _Seeded(Initializer):
    def __init__(self, seed=None):
        from fastkeras.random import SeedGenerator
        if isinstance(seed, dict):  # a SeedGenerator as Keras's configs write it
            seed = SeedGenerator.from_config(seed.get("config", seed))
        if seed is not None and not isinstance(seed, (int, np.integer, SeedGenerator)):
            raise ValueError("`seed` must be an integer, a keras.random.SeedGenerator or None. "
                             f"Received: seed={seed!r}")
        self._init_seed = seed  # what the config holds
        # As Keras 3: an unseeded initializer draws its seed once, from the global generator
        # (set_random_seed makes it reproducible), so each instance gives the same values on
        # every call, as one with an integer seed does; a SeedGenerator gives new values.
        self.seed = int(fk_random.generator().integers(1, 10**9)) if seed is None else seed

    def _gen(self):
        if isinstance(self.seed, (int, np.integer)):
            return np.random.default_rng(self.seed)
        from fastkeras.random import _rng
        return _rng(self.seed)

    def _seed_config(self):
        seed = self.__dict__.get("_init_seed", self.seed)
        if isinstance(seed, (int, np.integer)) or seed is None:
            return seed
        return {"module": "keras.random", "class_name": "SeedGenerator",
                "config": seed.get_config(), "registered_name": None}

    def get_config(self):
        return {"seed": self._seed_config()}


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return self._gen().normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self._seed_config()}


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        return self._gen().uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self._seed_config()}


def _truncated_normal(gen, shape, mean, stddev):
    """Normal samples redrawn until within two standard deviations."""
    out = gen.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = gen.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class TruncatedNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return _truncated_normal(self._gen(), shape, self.mean, self.stddev).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self._seed_config()}


class VarianceScaling(_Seeded):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("Invalid `mode` argument: expected one of {'fan_in', 'fan_out', "
                             f"'fan_avg'}}. Received: mode={mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("Invalid `distribution` argument: expected one of {'uniform', "
                             "'truncated_normal', 'untruncated_normal'}. Received: "
                             f"distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        gen = self._gen()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / 0.87962566103423978
            return _truncated_normal(gen, shape, 0.0, stddev).astype(dtype)
        if self.distribution == "untruncated_normal":
            return gen.normal(0.0, math.sqrt(scale), size=shape).astype(dtype)
        limit = math.sqrt(3.0 * scale)
        return gen.uniform(-limit, limit, size=shape).astype(dtype)

    def get_config(self):
        return {"seed": self._seed_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution):
    class Preset(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                             input_axes=input_axes, output_axes=output_axes)

        def get_config(self):
            return {"seed": self._seed_config(), "input_axes": self.input_axes,
                    "output_axes": self.output_axes}

    Preset.__name__ = Preset.__qualname__ = name
    return Preset


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(_Seeded):
    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) < 2:
            raise ValueError("Orthogonal initializer requires a shape with at least 2 "
                             f"dimensions. Received: shape={shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        flat = self._gen().normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self._seed_config()}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer requires a 2D shape. Received: shape={shape}")
        return self.gain * np.eye(*shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


class STFT(Initializer):
    """The kernel of a short-time Fourier transform as a convolution (STFTSpectrogram's): for
    shape (frame_length, 1, bins), cos ("real" side) or sin ("imag") of -2*pi*t*f/n with
    n = 2 * (bins - 1), times `window` (a scipy window name, an array, or None) divided by its
    L2 norm (scaling="density") or L1 norm ("spectrum")."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"side should be 'real' or 'imag', not {side!r}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"Scaling is invalid, it must be `None`, 'density' or "
                             f"'spectrum'. Received scaling={scaling!r}")
        if isinstance(window, str):
            from fastkeras.layers.spectrogram import _check_window_name
            _check_window_name(window)
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def __call__(self, shape, dtype="float32"):
        from fastkeras.layers.spectrogram import stft_kernel
        if len(shape) != 3:
            raise ValueError(f"STFT initializer: `shape` must be (frame_length, 1, bins). "
                             f"Received: shape={tuple(shape)}")
        return stft_kernel(self.side, tuple(shape), self.window, self.scaling,
                           self.periodic).astype(dtype or "float32")

    def get_config(self):
        window = self.window
        if window is not None and not isinstance(window, str):
            window = np.asarray(window).tolist()
        return {"side": self.side, "window": window, "scaling": self.scaling,
                "periodic": self.periodic}


_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "identity": Identity, "uniform": RandomUniform,
    "normal": RandomNormal, "stft": STFT,
}
_CLASSES = {c.__name__: c for c in set(_ALIASES.values())}
_CLASSES.update(IdentityInitializer=Identity, OrthogonalInitializer=Orthogonal,
                STFTInitializer=STFT)


def get(identifier):
    """An initializer from a name ('glorot_uniform'), class name, config dict, instance or
    callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower()) or _CLASSES.get(identifier) or \
            _custom(identifier, None)
        if cls is None:
            raise ValueError(f"Could not interpret initializer identifier: '{identifier}'. "
                             f"Expected one of {sorted(_ALIASES)}.")
        return cls() if isinstance(cls, type) else cls
    if isinstance(identifier, dict):  # a config, custom classes from the registry or a scope
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def _custom(name, custom_objects):
    from fastkeras.saving import object_registry
    return object_registry.get_registered_object(name, custom_objects)


def deserialize(config, custom_objects=None):
    """An initializer from `serialize`'s dict (`{"class_name", "config", ...}`) or a name
    ('glorot_uniform', 'GlorotUniform'). `custom_objects` (and the registered custom objects)
    are looked up first. Unknown names raise a ValueError naming them."""
    if isinstance(config, str):
        obj = _custom(config, custom_objects)
        if obj is None:
            obj = _ALIASES.get(config.lower()) or _CLASSES.get(config)
        if obj is None:
            raise ValueError(f"Could not deserialize initializer: unknown name '{config}'. "
                             f"Expected one of {sorted(_ALIASES)} or a name in "
                             "`custom_objects`.")
        return obj() if isinstance(obj, type) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Could not deserialize initializer: expected a dict with keys "
                         f"'class_name' and 'config', or a name. Received: config={config!r}")
    name = config["class_name"]
    if name == "function":  # a plain function, by (registered) name
        fn_name = config.get("config")
        obj = _custom(config.get("registered_name"), custom_objects) or _custom(
            fn_name, custom_objects)
        if obj is None:
            raise ValueError(f"Could not deserialize initializer: unknown function "
                             f"'{fn_name}'. Pass it in `custom_objects`.")
        return obj
    cls = _custom(config.get("registered_name"), custom_objects) or _custom(
        name, custom_objects) or _CLASSES.get(name) or _ALIASES.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Could not deserialize initializer: unknown class_name '{name}'. "
                         f"Expected one of {sorted(_CLASSES)} or a class in "
                         "`custom_objects`.")
    inner = config.get("config") or {}
    if not isinstance(cls, type):
        return cls
    return cls.from_config(dict(inner)) if hasattr(cls, "from_config") else cls(**inner)


def serialize(init):
    """Keras's config of an initializer (a custom class or function by its registered name)."""
    from fastkeras.saving.object_registry import object_spec
    return None if init is None else object_spec(init, "keras.initializers", _CLASSES)


# Keras 3 exposes every built-in initializer class under a snake_case name too (the class
# itself, not a function), and the Identity/Orthogonal classes under longer names.
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal
OrthogonalInitializer = Orthogonal
identity = Identity
IdentityInitializer = Identity
STFTInitializer = STFT
stft = STFT
