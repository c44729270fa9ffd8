"""Helpers shared by the keras.applications tests: fresh automatic names in both libraries,
probe images, a model's layer structure, output comparison and batch-norm statistics moved
away from their initial values."""

import numpy as np


def fresh(fk, keras):
    """Both libraries count automatic layer names from the start again."""
    fk.utils.clear_session()
    keras.backend.clear_session(free_memory=False)


def images(shape, seed=0, batch=2):
    return np.random.default_rng(seed).uniform(0, 255, (batch,) + tuple(shape)).astype(
        "float32")


def structure(model):
    return [(type(layer).__name__, layer.name, tuple(layer.output.shape))
            for layer in model.layers]


def assert_same_outputs(ours, theirs, shape, seed=0):
    x = images(shape, seed)
    expected = np.asarray(theirs.predict(x, verbose=0))
    got = np.asarray(ours.predict(x, verbose=0))
    assert got.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def randomize_bn(model, seed=1):
    """Moving statistics away from 0/1, so the copied weights are all exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            weights = layer.get_weights()
            weights[-2] = rng.normal(0, 0.1, weights[-2].shape).astype("float32")
            weights[-1] = rng.uniform(0.5, 1.5, weights[-1].shape).astype("float32")
            layer.set_weights(weights)
