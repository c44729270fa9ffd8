"""Parity with real Keras 3 (torch backend): the same sequence models built in both libraries
with identical weights give the same outputs, and one training step (SGD and Adam) gives the
same loss and the same updated weights, to 1e-5."""

import numpy as np
import pytest

import fastkeras as fk

keras = pytest.importorskip("keras")

ATOL = 1e-5  # absolute, and relative for the (few) updated weights far from 1


def build(lib, spec):
    L = lib.layers
    if spec == "lstm":
        return lib.Sequential([lib.Input((7, 3)), L.LSTM(5), L.Dense(1)])
    if spec == "lstm_backwards_state":
        inp = lib.Input((7, 3))
        seq, h, c = L.LSTM(4, return_sequences=True, return_state=True, go_backwards=True)(inp)
        out = L.Dense(1)(L.Concatenate()([L.GlobalAveragePooling1D()(seq), h, c]))
        return lib.Model(inp, out)
    if spec == "gru":
        return lib.Sequential([lib.Input((7, 3)), L.GRU(4, return_sequences=True),
                               L.GRU(3, reset_after=False), L.Dense(1)])
    if spec == "simple_rnn":
        return lib.Sequential([lib.Input((7, 3)), L.SimpleRNN(4, activation="relu"),
                               L.Dense(1)])
    if spec == "bidirectional":
        return lib.Sequential([lib.Input((7, 3)),
                               L.Bidirectional(L.LSTM(3, return_sequences=True)),
                               L.Bidirectional(L.GRU(2), merge_mode="sum"), L.Dense(1)])
    if spec == "embedding_masked":
        return lib.Sequential([lib.Input((7,)), L.Embedding(12, 4, mask_zero=True),
                               L.Bidirectional(L.LSTM(3, return_sequences=True)),
                               L.SimpleRNN(3), L.Dense(1)])
    if spec == "embedding_time_distributed":
        return lib.Sequential([lib.Input((7,)), L.Embedding(12, 4), L.GRU(3, return_sequences=True),
                               L.TimeDistributed(L.Dense(2)), L.Flatten(), L.Dense(1)])
    raise KeyError(spec)


SPECS = ["lstm", "lstm_backwards_state", "gru", "simple_rnn", "bidirectional",
         "embedding_masked", "embedding_time_distributed"]


def data(spec, rng):
    if spec.startswith("embedding"):
        x = rng.integers(1, 12, size=(6, 7))
        x[0, 4:] = 0
        x[3, 2:] = 0
        x[5, 6] = 0
    else:
        x = rng.normal(size=(6, 7, 3)).astype(np.float32)
    return x, rng.normal(size=(6, 1)).astype(np.float32)


def optimizer(lib, name):
    return lib.optimizers.SGD(learning_rate=0.1) if name == "sgd" else \
        lib.optimizers.Adam(learning_rate=0.01)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_outputs_and_one_training_step_match_keras(spec, opt):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(1)
    km = build(keras, spec)
    fm = build(fk, spec)
    weights = [w * 1.5 for w in km.get_weights()]  # larger than the defaults: livelier gates
    km.set_weights(weights)
    fm.set_weights(weights)
    assert [w.shape for w in fm.get_weights()] == [w.shape for w in weights]
    x, y = data(spec, rng)
    np.testing.assert_allclose(fm.predict(x, verbose=0),
                               np.asarray(km.predict(x, verbose=0)), atol=ATOL)
    km.compile(optimizer(keras, opt), "mse")
    fm.compile(optimizer(fk, opt), "mse")
    k_loss = float(km.train_on_batch(x, y))
    f_loss = float(fm.train_on_batch(x, y))
    assert abs(k_loss - f_loss) <= ATOL * max(1.0, abs(k_loss))
    for kw, fw in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(fw, kw, atol=ATOL, rtol=ATOL)


def test_keras_weights_file_loads_into_fastkeras(tmp_path):
    rng = np.random.default_rng(2)
    km = build(keras, "embedding_masked")
    path = tmp_path / "seq.weights.h5"
    km.save_weights(path)
    fm = build(fk, "embedding_masked")
    fm.load_weights(path)
    x, _ = data("embedding_masked", rng)
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
    # And back: our file loads into Keras.
    fm.set_weights([w + 0.01 for w in fm.get_weights()])
    ours = tmp_path / "ours.weights.h5"
    fm.save_weights(ours)
    km.load_weights(ours)
    np.testing.assert_allclose(np.asarray(km.predict(x, verbose=0)), fm.predict(x, verbose=0),
                               atol=ATOL)


def test_keras_model_file_with_sequence_layers_loads(tmp_path):
    km = keras.Sequential([keras.Input((7,)), keras.layers.Embedding(12, 4, mask_zero=True),
                           keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True)),
                           keras.layers.GRU(3, dropout=0.1), keras.layers.Dense(1)])
    km.save(tmp_path / "seq.keras")
    fm = fk.models.load_model(tmp_path / "seq.keras")
    assert fm.layers[2].dropout == 0.1
    x, _ = data("embedding_masked", np.random.default_rng(3))
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
