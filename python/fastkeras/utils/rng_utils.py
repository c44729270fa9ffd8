"""Global seeding: one call makes Python, numpy and fastkeras's own draws reproducible."""

from __future__ import annotations

import random

import numpy as np

from fastkeras.backend import random as _backend_random

_global_seed: int | None = None


def set_random_seed(seed) -> None:
    """Seeds every random source a fastkeras program uses.

    Equivalent to::

        random.seed(seed)                          # Python's `random`
        np.random.seed(seed)                       # numpy's legacy global generator
        fastkeras.backend.random.set_seed(seed)    # initializers, dropout, shuffling

    Args:
        seed: a non-negative integer below 2**32 (Python int or numpy integer).

    Raises:
        ValueError: ``seed`` is not an integer (floats, strings, None and bools are refused)
            or is outside ``[0, 2**32)``.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Expected `seed` argument to be an integer. "
                         f"Received: seed={seed!r} (of type {type(seed)})")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError("Expected `seed` argument to be an integer in [0, 2**32). "
                         f"Received: seed={seed}")
    global _global_seed
    _global_seed = seed
    random.seed(seed)
    np.random.seed(seed)
    _backend_random.set_seed(seed)


def get_random_seed() -> int | None:
    """The seed last passed to `set_random_seed`, or None if it was never called."""
    return _global_seed
