"""The callback snippets of the Keras notes (../shared/seeds) run unchanged with
`import fastkeras as keras`, on a small regression problem."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.layers.layer import reset_names


@pytest.fixture
def notes_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the notes write my_keras_model.h5 in the current directory
    reset_names()
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 8)).astype(np.float32)
    y = (x @ rng.standard_normal(8) + 0.1 * rng.standard_normal(120)).astype(np.float32)
    model = keras.models.Sequential([keras.layers.Dense(30, activation="relu", input_shape=[8]),
                                     keras.layers.Dense(1)])
    model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=0.01))
    return model, (x[:80], y[:80]), (x[80:], y[80:])


def test_checkpoint_best_only_then_early_stopping(notes_data):
    model, (X_train, y_train), (X_valid, y_valid) = notes_data
    # --- the notes, verbatim
    checkpoint_cb = keras.callbacks.ModelCheckpoint("my_keras_model.h5", save_best_only=True)
    history = model.fit(X_train, y_train, epochs=10, validation_data=(X_valid, y_valid),
                        callbacks=[checkpoint_cb])
    model = keras.models.load_model("my_keras_model.h5")

    early_stopping_cb = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    history = model.fit(X_train, y_train, epochs=100, validation_data=(X_valid, y_valid),
                        callbacks=[checkpoint_cb, early_stopping_cb])
    # ---
    val = history.history["val_loss"]
    assert len(val) <= 100
    if len(val) < 100:  # stopped early: exactly `patience` epochs after the best one
        assert len(val) - 1 - int(np.argmin(val)) == 10
    # The model ends with its best weights, and the checkpoint holds the overall best.
    assert model.evaluate(X_valid, y_valid, verbose=0) == pytest.approx(min(val), rel=1e-5)
    best = keras.models.load_model("my_keras_model.h5")
    assert best.evaluate(X_valid, y_valid, verbose=0) == pytest.approx(checkpoint_cb.best,
                                                                       rel=1e-5)


def test_checkpoint_every_epoch_and_without_validation(notes_data):
    model, (X_train, y_train), (X_valid, y_valid) = notes_data
    # --- the notes, verbatim
    checkpoint_cb = keras.callbacks.ModelCheckpoint("my_keras_model.h5")
    history = model.fit(X_train, y_train, epochs=10, callbacks=[checkpoint_cb])

    checkpoint_cb = keras.callbacks.ModelCheckpoint("my_keras_model.h5", save_best_only=True)
    history = model.fit(X_train, y_train, epochs=10, callbacks=[checkpoint_cb],
                        validation_data=(X_valid, y_valid))

    early_stopping_cb = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    with pytest.warns(UserWarning, match="val_loss"):  # no validation data: as Keras, a warning
        history = model.fit(X_train, y_train,
                            epochs=100,
                            callbacks=[checkpoint_cb, early_stopping_cb])
    # ---
    assert len(history.epoch) == 100  # nothing to monitor: never stops early
    saved = keras.models.load_model("my_keras_model.h5")  # saved every epoch, as Keras
    for a, b in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
