"""Running the same code in fastkeras and in real Keras 3 (PyTorch backend, see conftest):
the two libraries to parametrize over, and their results in comparable form."""

import numpy as np
import pytest

import fastkeras as fk


def both_libraries():
    """(keras, [fastkeras, keras], their test ids); skips the calling module without Keras."""
    keras = pytest.importorskip("keras")
    return keras, [fk, keras], ["fastkeras", "keras"]


def as_numpy(value):
    """A result of either library (a numpy array, a fastkeras or torch tensor) as numpy."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def error_of(fn):
    """(exception type name, message) of what fn() raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type and text are what is compared
        return type(e).__name__, str(e)
    return None
