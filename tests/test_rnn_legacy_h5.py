"""Sequence layers in Keras's legacy HDF5 model file (`model.save("x.h5")`): a file real
Keras 3 writes loads here, ours loads in Keras, predictions agree to 1e-5, and the weight
names follow Keras's layout (<model>/<layer>/<sublayers>/<weight>)."""

import h5py
import numpy as np
import pytest

import fastkeras as fk
from fastkeras.saving.legacy_h5 import read_name_list

keras = pytest.importorskip("keras")

ATOL = 1e-5


def build(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input((7,)),
        L.Embedding(12, 4, mask_zero=True, name="embedding"),
        L.Bidirectional(L.LSTM(3, return_sequences=True, name="lstm_a"),
                        name="bidirectional"),
        L.GRU(3, return_sequences=True, name="gru"),
        L.Bidirectional(L.GRU(2, reset_after=False, return_sequences=True, name="gru_b"),
                        merge_mode="sum",
                        name="bidirectional_gru"),
        L.TimeDistributed(L.Dense(2, name="dense"), name="time_distributed"),
        L.LSTM(3, return_sequences=True, name="lstm"),
        L.SimpleRNN(2, name="simple_rnn"),
        L.Dense(1, name="head"),
    ], name="tagger")


def ids(seed):
    x = np.random.default_rng(seed).integers(1, 12, size=(5, 7))
    x[1, 3:] = 0
    x[4, 5:] = 0
    return x


def weight_names(path):
    with h5py.File(path, "r") as f:
        group = f["model_weights"]
        return {name: read_name_list(group[name], "weight_names")
                for name in read_name_list(group, "layer_names")}


def test_keras_h5_with_recurrent_layers_loads_here(tmp_path):
    keras.utils.set_random_seed(7)
    km = build(keras)
    km.set_weights([w * 1.5 for w in km.get_weights()])
    km.save(tmp_path / "keras.h5")
    fm = fk.models.load_model(tmp_path / "keras.h5")
    x = ids(0)
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)


def test_our_h5_loads_in_keras_with_keras_weight_names(tmp_path):
    fm = build(fk)
    fm.build((None, 7))
    fm.set_weights([w + 0.01 for w in fm.get_weights()])
    fm.save(tmp_path / "ours.h5")
    km = keras.models.load_model(tmp_path / "ours.h5")
    x = ids(1)
    np.testing.assert_allclose(np.asarray(km.predict(x, verbose=0)), fm.predict(x, verbose=0),
                               atol=ATOL)
    keras_model = build(keras)
    keras_model.save(tmp_path / "keras.h5")
    assert weight_names(tmp_path / "ours.h5") == weight_names(tmp_path / "keras.h5")
    assert weight_names(tmp_path / "ours.h5")["bidirectional"][0] == \
        "tagger/bidirectional/forward_lstm_a/lstm_cell/kernel"


def test_trained_model_round_trips_through_h5(tmp_path):
    rng = np.random.default_rng(2)
    fm = build(fk)
    fm.compile(fk.optimizers.Adam(learning_rate=0.01), "mse")
    x, y = ids(2), rng.normal(size=(5, 1)).astype(np.float32)
    fm.fit(x, y, epochs=2, verbose=0)
    fm.save(tmp_path / "trained.h5")
    back = fk.models.load_model(tmp_path / "trained.h5")
    np.testing.assert_allclose(back.predict(x, verbose=0), fm.predict(x, verbose=0), atol=1e-6)
    # The optimizer state came back too: one more step stays identical.
    fm.train_on_batch(x, y)
    back.train_on_batch(x, y)
    for a, b in zip(fm.get_weights(), back.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_recurrent_cells_are_named_as_in_keras():
    assert fk.layers.LSTM(2).cell.name == keras.layers.LSTM(2).cell.name == "lstm_cell"
    assert fk.layers.GRU(2).cell.name == keras.layers.GRU(2).cell.name == "gru_cell"
    assert fk.layers.SimpleRNN(2).cell.name == keras.layers.SimpleRNN(2).cell.name


def functional_seq2seq(lib):
    L = lib.layers
    enc_in, dec_in = lib.Input((5, 3), name="enc_in"), lib.Input((4, 2), name="dec_in")
    _, *states = L.Bidirectional(L.LSTM(3, return_state=True, name="enc"), name="bienc")(enc_in)
    seq = L.Bidirectional(L.GRU(3, return_sequences=True, name="dec"), name="bidec")(
        dec_in, initial_state=states[::2])  # the h of each direction
    out = L.TimeDistributed(L.Dense(2, name="inner_dense"), name="td")(seq)
    return lib.Model([enc_in, dec_in], out, name="ed")


def test_functional_model_weight_names_match_keras(tmp_path):
    # A Functional model's layers are built outside its scope: Keras leaves the model's name
    # out of the weight paths, unlike Sequential's.
    functional_seq2seq(fk).save(tmp_path / "ours.h5")
    functional_seq2seq(keras).save(tmp_path / "keras.h5")
    ours = weight_names(tmp_path / "ours.h5")
    assert ours == weight_names(tmp_path / "keras.h5")
    assert ours["bienc"][0] == "bienc/forward_enc/lstm_cell/kernel"
    assert ours["td"] == ["td/inner_dense/kernel", "td/inner_dense/bias"]
