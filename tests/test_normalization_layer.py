"""The Normalization preprocessing layer: adapt() statistics, standardizing and inverting as
Keras 3 does, Keras's variables (mean, variance, count) in files both ways, gradients and
errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients

keras3 = pytest.importorskip("keras")


def to_numpy(t):
    return t.numpy() if isinstance(t, Tensor) else keras3.ops.convert_to_numpy(t)


@pytest.fixture
def data(rng):
    return rng.normal(2.0, 3.0, (60, 3, 4)).astype("float32")


@pytest.mark.parametrize("axis", [-1, 1, (1, 2), None])
def test_adapt_and_standardize_as_keras(axis, data):
    keras3.utils.clear_session()  # both libraries' automatic names count from the start
    ours, theirs = fk.layers.Normalization(axis=axis), keras3.layers.Normalization(axis=axis)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(to_numpy(ours(data)), to_numpy(theirs(data)), rtol=1e-5,
                               atol=1e-5)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert not ours.trainable_weights


def test_adapt_over_batches_equals_adapt_over_the_whole(data):
    whole = fk.layers.Normalization(axis=1)
    whole.adapt(data)
    batched = fk.layers.Normalization(axis=1)
    batched.adapt(iter([data[:7], data[7:40], data[40:]]))
    np.testing.assert_allclose(batched.adapt_mean.numpy(), whole.adapt_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(batched.adapt_variance.numpy(), whole.adapt_variance.numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(whole.adapt_mean.numpy(), data.mean(axis=(0, 2)), rtol=1e-5)


def test_given_statistics_and_invert_match_keras():
    x = np.array([[3.0, 5.0], [1.0, 2.0]], np.float32)
    for invert in (False, True):
        kwargs = {"mean": [1.0, 2.0], "variance": [4.0, 9.0], "invert": invert}
        ours = fk.layers.Normalization(**kwargs)
        np.testing.assert_allclose(to_numpy(ours(x)),
                                   to_numpy(keras3.layers.Normalization(**kwargs)(x)), rtol=1e-6)
        assert not ours.weights
    scalar = fk.layers.Normalization(mean=2.0, variance=4.0)
    np.testing.assert_allclose(scalar(x).numpy(), (x - 2.0) / 2.0)
    back = fk.layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    there = fk.layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    np.testing.assert_allclose(back(there(x)).numpy(), x, rtol=1e-6)


def test_input_gradient_is_one_over_the_deviation(data):
    layer = fk.layers.Normalization(axis=-1)
    layer.adapt(data)
    x = Tensor(data[:5], requires_grad=True)
    with GradientTape():
        loss = ops.sum(layer(x))
    (grad,) = gradients(loss, [x])
    expected = np.broadcast_to(1.0 / np.sqrt(layer.adapt_variance.numpy()), data[:5].shape)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5)


def regression_model(lib, normalizer):
    return lib.Sequential([lib.Input((4,)), normalizer, lib.layers.Dense(16, activation="relu"),
                           lib.layers.Dense(1)])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_regression_notes_pattern_trains_and_files_move_both_ways(tmp_path, rng):
    features = rng.normal([10.0, 200.0, 0.5, 3000.0], [2.0, 50.0, 0.1, 800.0], (256, 4))
    target = features @ [0.5, 0.01, 4.0, 0.001] + rng.normal(0, 0.1, 256)
    normalizer = fk.layers.Normalization(axis=-1)
    normalizer.adapt(np.array(features))
    model = regression_model(fk, normalizer)
    model.compile(optimizer=fk.optimizers.Adam(0.05), loss="mean_absolute_error")
    history = model.fit(features, target, validation_split=0.2, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]

    model.save(tmp_path / "ours.keras")
    theirs = keras3.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(to_numpy(theirs.predict(features[:8], verbose=0)),
                               model.predict(features[:8], verbose=0), rtol=1e-5, atol=1e-5)

    keras_norm = keras3.layers.Normalization(axis=-1)
    keras_norm.adapt(features.astype("float32"))
    keras_model = regression_model(keras3, keras_norm)
    keras_model.save(tmp_path / "theirs.keras")
    loaded = fk.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(loaded.predict(features[:8], verbose=0),
                               to_numpy(keras_model.predict(features[:8], verbose=0)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.layers[0].adapt_mean.numpy(),
                               to_numpy(keras_norm.adapt_mean), rtol=1e-6)


@pytest.mark.parametrize("make_bad, text", [
    (lambda: fk.layers.Normalization(mean=[1.0]), r"both `mean` and `variance`.*mean=\[1.0\]"),
    (lambda: fk.layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), r"same shape"),
    (lambda: fk.layers.Normalization(axis=3).adapt(np.zeros((4, 2))), r"axis=\(3,\)"),
    (lambda: fk.layers.Normalization(axis=None).adapt([]), r"no data"),
    (lambda: fk.layers.Normalization().adapt(iter([np.zeros((4, 2)), np.zeros((4, 3))])),
     r"shape \(4, 3\).*\(4, 2\)"),
    (lambda: fk.layers.Normalization().adapt(5), r"Received: int"),
])
def test_bad_input_names_the_problem(make_bad, text):
    with pytest.raises((ValueError, TypeError), match=text):
        make_bad()
