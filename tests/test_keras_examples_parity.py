"""Keras.io code examples, shrunk to small offline data, run in fastkeras and in real Keras
with identical initial weights: the histories (losses, metrics, learning rates changed by
ReduceLROnPlateau, EarlyStopping's epochs) and the reloaded best checkpoint agree."""

import numpy as np
import pytest


def libs():
    keras = pytest.importorskip("keras")
    import fastkeras
    return fastkeras, keras


def set_weights(model, seed, scale=0.2):
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        value = rng.normal(size=tuple(w.shape)).astype("float32") * scale
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        weights.append(value)
    model.set_weights(weights)


def compare(histories):
    ours, theirs = histories
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-4, atol=2e-5, err_msg=key)


def timeseries_classification(keras, tmp_path):
    """"Timeseries classification from scratch": Conv1D/BatchNormalization/ReLU blocks,
    global average pooling, ModelCheckpoint + ReduceLROnPlateau + EarlyStopping."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 64, 1)).astype("float32")
    y = (x[:, :32, 0].mean(1) > 0).astype("int64")
    inputs = keras.layers.Input(x.shape[1:])
    h = inputs
    for _ in range(2):
        h = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.models.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    set_weights(model, 7)
    path = str(tmp_path / f"best_{keras.__name__}.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2,
                                          min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=8, callbacks=callbacks,
                        validation_split=0.2, verbose=0, shuffle=False).history
    best = keras.models.load_model(path)
    history["reloaded"] = best.evaluate(x, y, verbose=0)
    return {k: np.asarray(v, np.float64) for k, v in history.items()}


def text_classification(keras, tmp_path):
    """"Text classification from scratch" (Embedding, strided Conv1D, GlobalMaxPooling1D) and
    "Bidirectional LSTM on IMDB" (masked Embedding, stacked Bidirectional LSTMs), on token
    ids made here."""
    layers = keras.layers
    rng = np.random.default_rng(0)
    x = rng.integers(0, 200, size=(300, 40))
    x[:, 30:] = 0
    y = (np.isin(x, [5, 7, 11]).sum(1) > 0).astype("float32")
    out = {}
    inputs = keras.Input(shape=(None,), dtype="int64")
    h = layers.Embedding(200, 16)(inputs)
    h = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(h)
    h = layers.Conv1D(32, 3, padding="valid", activation="relu")(h)
    h = layers.GlobalMaxPooling1D()(h)
    h = layers.Dense(32, activation="relu")(h)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    set_weights(model, 3)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x[:240], y[:240], validation_data=(x[240:], y[240:]), epochs=3,
                        batch_size=32, verbose=0, shuffle=False).history
    out.update({f"conv_{k}": v for k, v in history.items()})
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(200, 8, mask_zero=True)(inputs)
    h = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(h)
    h = layers.Bidirectional(layers.LSTM(8))(h)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    set_weights(model, 4)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:240], y[:240], validation_data=(x[240:], y[240:]), epochs=2,
                        batch_size=32, verbose=0, shuffle=False).history
    out.update({f"lstm_{k}": v for k, v in history.items()})
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


@pytest.mark.parametrize("example", [timeseries_classification, text_classification])
def test_example_histories_match_keras(example, tmp_path):
    compare([example(lib, tmp_path) for lib in libs()])
