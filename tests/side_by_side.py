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


def files_cross_load(keras, keras_model, x, folder, atol=1e-5):
    """A Keras model saved as .keras loads here with the same predictions; changed weights
    saved here load back into Keras with ours."""
    keras_model.save(folder / "keras.keras")
    ours = fk.models.load_model(folder / "keras.keras")
    np.testing.assert_allclose(ours.predict(x, verbose=0),
                               as_numpy(keras_model.predict(x, verbose=0)), atol=atol)
    ours.set_weights([w + 0.01 for w in ours.get_weights()])
    ours.save(folder / "ours.keras")
    back = keras.models.load_model(folder / "ours.keras")
    np.testing.assert_allclose(as_numpy(back.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               atol=atol)
