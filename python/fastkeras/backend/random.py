"""fastkeras's own random state: initializers, dropout and shuffling draw from here, so
`fastkeras.utils.set_random_seed(n)` makes a whole run reproducible."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()
_seed: int | None = None


def set_seed(seed: int | None) -> None:
    """Reseeds the global generator (None: fresh entropy)."""
    global _generator, _seed
    _seed = seed
    _generator = np.random.default_rng(seed)


def get_seed() -> int | None:
    return _seed


def generator() -> np.random.Generator:
    """The global generator. Draw from it; don't keep it (set_seed replaces it)."""
    return _generator


def make_generator(seed: int | None) -> np.random.Generator:
    """A generator for an explicit `seed=` argument, or the global one when seed is None."""
    return _generator if seed is None else np.random.default_rng(seed)
