"""Random draws (Keras 3's `keras.random`): normal, uniform, truncated_normal, randint,
shuffle, dropout, categorical, gamma, binomial, beta, and `SeedGenerator`.

Every function takes `seed=`:

- None: a draw from fastkeras's global generator, so `fastkeras.utils.set_random_seed(n)`
  makes a whole program's unseeded draws reproducible;
- an int: the same values every call with that seed (as Keras, an int seed is a fixed state);
- a `SeedGenerator`: a new state each call, the sequence reproducible for the generator's
  seed. `SeedGenerator(s)`'s first draw equals the draw for the int seed `s`.

The values are numpy's (PCG64), not Keras's streams; distributions, shapes and dtypes are
Keras's.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend import random as _global
from fastkeras.backend.config import floatx as _floatx
from fastkeras.backend.config import np_dtype as _np_dtype
from fastkeras.backend.tape import Tensor
from fastkeras.backend.variable import Variable

__all__ = [
    "SeedGenerator",
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


class SeedGenerator:
    """A stateful source of seeds for the `seed=` argument of the random functions: each draw
    gets a new state, and a generator made with the same `seed` gives the same sequence.

    Without a seed, one is drawn from the global generator (reproducible after
    `fastkeras.utils.set_random_seed`).
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs.pop("backend", None) is not None:
            raise ValueError("SeedGenerator: only fastkeras's own backend is supported.")
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        if name is None:
            from fastkeras.layers.layer import unique_name
            name = unique_name("seed_generator")
        self.name = name
        self._initial_seed = seed
        if seed is None:
            seed = int(_global.generator().integers(1, 10**9))
        if not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        # (seed, number of draws so far), as Keras's seed-generator state.
        self.state = Variable(np.array([int(seed) % 2**32, 0]), name="seed_generator_state",
                              trainable=False, dtype="uint32",
                              path=f"{name}/seed_generator_state")

    def next(self, ordered=True):
        """The current state (a copy); advances the generator."""
        current = self.state.value.copy()
        if ordered:
            self.state.value[1] += 1
        else:
            self.state.value[:] = (self.state.value.astype(np.uint64) + 1) * 5387 % 933199
        return current

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name} seed={self._initial_seed}>"


def _rng(seed) -> np.random.Generator:
    """The generator one draw with `seed=` uses."""
    if seed is None:
        return _global.generator()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng([int(v) for v in seed.next()])
    if isinstance(seed, (int, np.integer)):
        return np.random.default_rng([int(seed) % 2**32, 0])
    if isinstance(seed, (Tensor, np.ndarray, list, tuple)):
        state = np.asarray(seed.value if isinstance(seed, Tensor) else seed)
        if state.shape == (2,) and state.dtype.kind in "iu":
            return np.random.default_rng([int(v) % 2**32 for v in state])
    raise ValueError("Argument `seed` must be either an integer or an instance of "
                     f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _float_dtype(dtype, fn):
    dt = _np_dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"`keras.random.{fn}` requires a floating point `dtype`. "
                         f"Received: dtype={dtype}")
    return dt


def _param(v):
    return np.asarray(v.value if isinstance(v, Tensor) else v, dtype=np.float64)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from a normal distribution with the given mean and standard deviation."""
    dt = _float_dtype(dtype, "normal")
    shape = _shape(shape)
    z = _rng(seed).standard_normal(shape)
    return Tensor((z * _param(stddev) + _param(mean)).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from the uniform distribution on [minval, maxval)."""
    dt = _float_dtype(dtype, "uniform")
    shape = _shape(shape)
    lo, hi = _param(minval), _param(maxval)
    u = _rng(seed).random(shape)
    out = (lo + u * (hi - lo)).astype(dt)
    # Rounding to a narrower dtype may land on maxval; keep the interval half-open.
    out = np.where(out >= hi.astype(dt), np.nextafter(hi.astype(dt), lo.astype(dt)), out)
    return Tensor(out.astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from a normal distribution truncated to two standard deviations of the mean
    (samples beyond are drawn again)."""
    dt = _float_dtype(dtype, "truncated_normal")
    shape = _shape(shape)
    rng = _rng(seed)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return Tensor((z * _param(stddev) + _param(mean)).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    dt = _np_dtype(dtype)
    if dt.kind not in "iu":
        raise ValueError("`keras.random.randint` requires an integer `dtype`. "
                         f"Received: dtype={dtype}")
    shape = _shape(shape)
    lo = np.asarray(minval.value if isinstance(minval, Tensor) else minval)
    hi = np.asarray(maxval.value if isinstance(maxval, Tensor) else maxval)
    return Tensor(_rng(seed).integers(lo, hi, size=shape).astype(dt))


def shuffle(x, axis=0, seed=None):
    """x with its slices along `axis` in a random order (differentiable in x)."""
    from fastkeras import ops
    x = ops.convert_to_tensor(x)
    n = x.value.shape[axis]
    order = _rng(seed).permutation(n)
    return ops.take(x, order, axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs with each element zeroed with probability `rate` and the others scaled by
    1 / (1 - rate). `noise_shape` (None entries: inputs' sizes) shares one draw across the
    axes where it is 1."""
    from fastkeras import ops
    x = ops.convert_to_tensor(inputs)
    shape = x.value.shape
    if noise_shape is None:
        noise = shape
    else:
        noise = tuple(s if n is None else int(n) for n, s in zip(noise_shape, shape))
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1. Received: rate={rate}")
    dt = x.value.dtype if x.value.dtype.kind == "f" else np.dtype(_floatx())
    if rate == 1.0:
        keep = np.zeros(noise, dt)
    else:
        keep = ((_rng(seed).random(noise) >= rate) / (1.0 - rate)).astype(dt)
    return ops.multiply(x, Tensor(keep))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """For each row of the (batch, num_classes) `logits`, `num_samples` class indices drawn
    with probabilities softmax(row)."""
    z = np.asarray(logits.value if isinstance(logits, Tensor) else logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
                         f"Received: logits={z.shape}")
    rng = _rng(seed)
    # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits).
    gumbel = -np.log(-np.log(rng.random((z.shape[0], int(num_samples), z.shape[1])) + 1e-300)
                     + 1e-300)
    return Tensor(np.argmax(z[:, None, :] + gumbel, axis=-1).astype(_np_dtype(dtype)))


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples from the gamma distribution with concentration `alpha` (scale 1)."""
    dt = _float_dtype(dtype, "gamma")
    return Tensor(_rng(seed).standard_gamma(_param(alpha), size=_shape(shape)).astype(dt))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """The number of successes in `counts` trials with success probability `probabilities`,
    as floats."""
    dt = _float_dtype(dtype, "binomial")
    n = np.asarray(counts.value if isinstance(counts, Tensor) else counts)
    out = _rng(seed).binomial(np.rint(n).astype(np.int64), _param(probabilities),
                              size=_shape(shape))
    return Tensor(out.astype(dt))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples from the beta distribution with concentrations `alpha` and `beta`."""
    dt = _float_dtype(dtype, "beta")
    return Tensor(_rng(seed).beta(_param(alpha), _param(beta), size=_shape(shape)).astype(dt))
