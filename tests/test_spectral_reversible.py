"""SpectralNormalization and ReversibleEmbedding against real Keras: weights and their
order, outputs, training steps (the power iteration updating the kernel in place), configs
and `.keras` files both ways."""

import numpy as np
import pytest

import fastkeras as fk
from keras_files import check_keras_file_both_ways

keras = pytest.importorskip("keras")


def spectral_model(lib, kind):
    L = lib.layers
    if kind == "dense":
        return lib.Sequential([lib.Input((5,)), L.SpectralNormalization(
            L.Dense(3), power_iterations=2)])
    if kind == "conv":
        return lib.Sequential([lib.Input((6, 6, 2)),
                               L.SpectralNormalization(L.Conv2D(3, 3)), L.Flatten(),
                               L.Dense(2)])
    return lib.Sequential([lib.Input((4,), dtype="int32"),
                           L.SpectralNormalization(L.Embedding(10, 3)), L.Flatten(),
                           L.Dense(1)])


def spectral_data(kind, rng):
    if kind == "dense":
        return rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(6, 3))
    if kind == "conv":
        return rng.normal(size=(4, 6, 6, 2)).astype(np.float32), rng.normal(size=(4, 2))
    return rng.integers(0, 10, size=(5, 4)), rng.normal(size=(5, 1))


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_spectral_normalization_trains_like_keras(kind, rng):
    km, fm = spectral_model(keras, kind), spectral_model(fk, kind)
    assert [(w.name, tuple(w.shape)) for w in fm.weights] == \
        [(w.name, tuple(w.shape)) for w in km.weights]
    fm.set_weights(km.get_weights())
    x, y = spectral_data(kind, rng)
    y = y.astype(np.float32)
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=1e-5)
    for lib, m in ((keras, km), (fk, fm)):
        m.compile(lib.optimizers.SGD(0.1), "mse")
    for _ in range(3):
        k_loss, f_loss = float(km.train_on_batch(x, y)), float(fm.train_on_batch(x, y))
        np.testing.assert_allclose(f_loss, k_loss, rtol=1e-4)
    for a, b in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_spectral_normalization_of_an_embedding_keeps_float_outputs(rng):
    """Keras casts the wrapped layer's output to the input's dtype, which turns an
    Embedding's vectors into integer zeros; here the vectors stay float and train."""
    model = spectral_model(fk, "embedding")
    x, y = spectral_data("embedding", rng)
    assert model.predict(x, verbose=0).dtype == np.float32
    model.compile(fk.optimizers.Adam(0.05), "mse")
    history = model.fit(x, y.astype(np.float32), epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_spectral_normalization_bounds_the_norm_and_saves(tmp_path, rng):
    model = spectral_model(fk, "dense")
    layer = model.layers[0]
    layer.layer.kernel.assign(rng.normal(size=(5, 3)) * 10)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    for _ in range(20):  # the power iteration converges over calls
        layer(x, training=True)
    assert abs(np.linalg.norm(layer.layer.kernel.value, 2) - 1.0) < 1e-3
    inference = layer(x).value
    np.testing.assert_array_equal(layer(x).value, inference)  # no update at inference
    check_keras_file_both_ways(model, x, tmp_path)
    config = layer.get_config()
    assert config["power_iterations"] == 2
    assert keras.layers.SpectralNormalization.from_config(config).power_iterations == 2


def test_spectral_normalization_errors():
    with pytest.raises(ValueError, match="power_iterations=0"):
        fk.layers.SpectralNormalization(fk.layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="no attribute 'kernel' nor 'embeddings'"):
        fk.layers.SpectralNormalization(fk.layers.Flatten())(np.zeros((1, 2), np.float32))
    layer = fk.layers.SpectralNormalization(fk.layers.Dense(2))
    layer(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        layer(np.zeros((1, 4), np.float32))


@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("cap", [None, 1.5])
def test_reversible_embedding_matches_keras(tie_weights, cap, rng):
    layers = [lib.layers.ReversibleEmbedding(12, 4, tie_weights=tie_weights,
                                             logit_soft_cap=cap, mask_zero=True)
              for lib in (keras, fk)]
    ids = np.array([[1, 5, 0], [11, 0, 3]])
    for layer in layers:
        layer(ids)
    k, f = layers
    assert [tuple(w.shape) for w in f.weights] == [tuple(w.shape) for w in k.weights]
    f.set_weights(k.get_weights())
    out = f(ids)
    np.testing.assert_allclose(out.value, np.asarray(k(ids).detach()), atol=1e-6)
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    vectors = rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(f(vectors, reverse=True).value,
                               np.asarray(k(vectors, reverse=True).detach()), atol=1e-5)
    assert f.get_config() | {"name": None} == k.get_config() | {"name": None}


def test_reversible_embedding_language_model_trains_and_saves(tmp_path, rng):
    L = fk.layers
    emb = L.ReversibleEmbedding(20, 8, name="tied")
    ids = fk.Input((6,), dtype="int32")
    hidden = L.Dense(8, activation="tanh")(emb(ids))
    logits = emb(hidden, reverse=True)
    model = fk.Model(ids, logits)
    assert model.output_shape == (None, 6, 20)
    x = rng.integers(0, 20, size=(32, 6))
    y = np.roll(x, -1, axis=1)
    model.compile(fk.optimizers.Adam(0.02),
                  fk.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    check_keras_file_both_ways(model, x[:4], tmp_path, back=False)
