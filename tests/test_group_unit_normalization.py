"""GroupNormalization and UnitNormalization: Keras 3's outputs, configs and argument errors,
finite-difference gradients, and files both ways."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import Tensor
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")

GROUP_CASES = [
    {"groups": 4}, {"groups": -1}, {"groups": 2, "axis": 2},
    {"groups": 8, "center": False, "epsilon": 1e-5}, {"groups": 1, "scale": False},
    {"groups": 2, "axis": 1, "gamma_initializer": "random_normal"},
]


def _numpy(t):
    return keras3.ops.convert_to_numpy(t) if not isinstance(t, Tensor) else t.numpy()


def _unnamed(config):
    """A layer config without its name (Keras's name counters run on across tests)."""
    return {k: v for k, v in config.items() if k != "name"}


@pytest.mark.parametrize("kwargs", GROUP_CASES, ids=[str(k) for k in GROUP_CASES])
def test_group_normalization_matches_keras(kwargs, rng):
    x = rng.standard_normal((3, 4, 6, 8)).astype(np.float32) * 3 + 1
    ours, theirs = fk.layers.GroupNormalization(**kwargs), keras3.layers.GroupNormalization(**kwargs)
    ours.build(x.shape)
    theirs.build(x.shape)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    assert _unnamed(ours.get_config()) == _unnamed(theirs.get_config())
    again = fk.layers.GroupNormalization.from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"axis": 1}, {"axis": (0, -1)}])
def test_unit_normalization_matches_keras(kwargs, rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    x[0, 0] = 0.0  # a zero slice stays zero (the norm is bounded below by 1e-12)
    ours, theirs = fk.layers.UnitNormalization(**kwargs), keras3.layers.UnitNormalization(**kwargs)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-6, atol=1e-7)
    assert _unnamed(ours.get_config()) == _unnamed(theirs.get_config())
    assert ours.compute_output_shape((None, 5, 4)) == (None, 5, 4)


def _message(fn):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.GroupNormalization(groups=0),
    lambda lib: lib.layers.GroupNormalization(groups=2.5),
    lambda lib: lib.layers.GroupNormalization(groups=3).build((None, 4, 8)),
    lambda lib: lib.layers.GroupNormalization(groups=16).build((None, 4, 8)),
    lambda lib: lib.layers.UnitNormalization(axis="last"),
])
def test_argument_errors_match_keras(make):
    assert _message(lambda: make(fk)) == _message(lambda: make(keras3))


def test_unit_normalization_axis_out_of_range():
    # Keras's own message comes from its backend here; ours names the axis and the shape.
    with pytest.raises(ValueError, match=r"Axis 3 is out of bounds for input shape \(2, 3\)"):
        fk.layers.UnitNormalization(axis=3)(np.ones((2, 3), np.float32))


def test_group_normalization_gradients(rng):
    layer = fk.layers.GroupNormalization(groups=2, dtype="float64")
    x = leaf(rng.standard_normal((2, 3, 4)))
    layer.build(x.shape)
    gamma, beta = leaf(rng.standard_normal(4)), leaf(rng.standard_normal(4))
    layer.gamma, layer.beta = gamma, beta
    check_grads(lambda: layer(x), [x, gamma, beta], rng, rtol=1e-5, atol=1e-7)


def test_unit_normalization_gradients(rng):
    x = leaf(rng.standard_normal((3, 4, 2)))
    layer = fk.layers.UnitNormalization(axis=[1, 2])
    check_grads(lambda: ops.multiply(layer(x), 1.0), [x], rng, rtol=1e-5, atol=1e-7)


def test_files_both_ways(tmp_path, rng):
    x = rng.standard_normal((16, 6, 8)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model = fk.Sequential([fk.Input((6, 8)), fk.layers.GroupNormalization(groups=4),
                           fk.layers.UnitNormalization(), fk.layers.Flatten(),
                           fk.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    check_keras_file_both_ways(model, x, tmp_path)
