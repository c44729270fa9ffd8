"""A saved and reloaded model carries its optimizer state and continues training exactly where
it stopped: 2 epochs + save + load + 1 epoch gives the weights of 3 uninterrupted epochs."""

import h5py
import numpy as np
import pytest

import fastkeras as keras
from fastkeras.layers.layer import reset_names
from fastkeras.optimizers.base_optimizer import reset_names as reset_optimizer_names


def data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 0.5)
    return x, y


def make_model(optimizer):
    reset_names()
    reset_optimizer_names()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input(shape=(6,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    opt = {"sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
           "adam": lambda: keras.optimizers.Adam(0.01)}[optimizer]()
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, epochs):
    x, y = data()
    return model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_training_resumes_exactly_after_save_and_load(tmp_path, optimizer, ext):
    straight = make_model(optimizer)
    h_straight = fit(straight, 3)

    first = make_model(optimizer)
    fit(first, 2)
    path = tmp_path / f"model{ext}"
    first.save(path)
    resumed = keras.models.load_model(path)
    assert type(resumed.optimizer).__name__ == type(first.optimizer).__name__
    assert int(resumed.optimizer.iterations) == int(first.optimizer.iterations) == 12
    for a, b in zip(resumed.optimizer.variables, first.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    h_resumed = fit(resumed, 1)

    np.testing.assert_allclose(h_resumed.history["loss"][0], h_straight.history["loss"][2],
                               rtol=1e-6)
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations) == 18


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weights_file_carries_the_optimizer_state(tmp_path, optimizer):
    straight = make_model(optimizer)
    fit(straight, 3)
    first = make_model(optimizer)
    fit(first, 2)
    first.save_weights(tmp_path / "w.weights.h5")
    # As Keras: an optimizer not built yet skips the saved state, with Keras's warning...
    fresh = make_model(optimizer)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        fresh.load_weights(tmp_path / "w.weights.h5")
    assert int(fresh.optimizer.iterations) == 0 and not fresh.optimizer.built
    # ... and a built one takes it.
    resumed = make_model(optimizer)
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(tmp_path / "w.weights.h5")
    assert int(resumed.optimizer.iterations) == 12
    fit(resumed, 1)
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_optimizer_state_layout_follows_keras(tmp_path):
    model = make_model("adam")
    fit(model, 1)
    model.save_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.h5")
    n_trainable = len(model.trainable_weights)
    with h5py.File(tmp_path / "w.weights.h5") as f:
        group = f["optimizer/vars"]
        assert group.attrs["name"] == model.optimizer.name
        # iteration, learning rate, then momentum and velocity per trainable variable
        assert len(group) == 2 + 2 * n_trainable
        assert group["0"][()] == 6 and group["0"].dtype == np.int64
        assert group["1"][()] == np.float32(0.01)
        assert group["2"].shape == model.trainable_weights[0].shape
        assert sorted(f["layers"]) == ["batch_normalization", "dense", "dense_1", "dense_2"]
        assert len(f["layers/batch_normalization/vars"]) == 4
    with h5py.File(tmp_path / "m.h5") as f:
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["optimizer_weights"].attrs["weight_names"]]
        assert names[:2] == ["adam/iteration", "adam/learning_rate"]
        assert len(names) == 2 + 2 * n_trainable
        assert f["optimizer_weights"][names[0]][()] == 6


def test_include_optimizer_false_leaves_the_state_out(tmp_path):
    model = make_model("sgd")
    fit(model, 1)
    keras.saving.save_model(model, tmp_path / "m.h5", include_optimizer=False)
    with h5py.File(tmp_path / "m.h5") as f:
        assert "optimizer_weights" not in f
    loaded = keras.models.load_model(tmp_path / "m.h5")
    np.testing.assert_array_equal(loaded.predict(data()[0], verbose=0),
                                  model.predict(data()[0], verbose=0))


def test_model_save_passes_include_optimizer(tmp_path):
    model = make_model("sgd")
    fit(model, 1)
    model.save(tmp_path / "m.h5", include_optimizer=False)
    model.save(tmp_path / "with.h5")
    with h5py.File(tmp_path / "m.h5") as f, h5py.File(tmp_path / "with.h5") as g:
        assert "optimizer_weights" not in f and "optimizer_weights" in g
    # as Keras 3: save_format is deprecated (a warning with a matching extension) and
    # other keywords are rejected
    with pytest.warns(UserWarning, match="save_format"):
        model.save(tmp_path / "x.h5", save_format="h5")
    with pytest.raises(ValueError, match="not supported"):
        model.save(tmp_path / "x.h5", compression=1)
