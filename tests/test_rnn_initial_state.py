"""Recurrent layers whose `initial_state` comes from another layer inside a Functional graph
(an encoder-decoder): the call is recorded with its state tensors, replayed by the model,
trained through, saved in its config and files, and matches real Keras 3 to 1e-5."""

import json

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.models.functional import Functional
from side_by_side import files_cross_load

keras = pytest.importorskip("keras")

ATOL = 1e-5


def encoder_decoder(lib, kind="lstm"):
    L = lib.layers
    enc_in = lib.Input((5, 3), name="encoder_in")
    dec_in = lib.Input((4, 2), name="decoder_in")
    if kind == "lstm":
        _, h, c = L.LSTM(6, return_state=True)(enc_in)
        seq = L.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    elif kind == "gru":
        _, h = L.GRU(6, return_state=True)(enc_in)
        seq = L.GRU(6, return_sequences=True)(dec_in, initial_state=h)
    else:  # a Bidirectional encoder's four states start a Bidirectional decoder
        _, *states = L.Bidirectional(L.LSTM(3, return_state=True))(enc_in)
        seq = L.Bidirectional(L.LSTM(3, return_sequences=True))(dec_in,
                                                                initial_state=states)
    return lib.Model([enc_in, dec_in], L.TimeDistributed(L.Dense(2))(seq))


def data(rng):
    return ([rng.normal(size=(3, 5, 3)).astype(np.float32),
             rng.normal(size=(3, 4, 2)).astype(np.float32)],
            rng.normal(size=(3, 4, 2)).astype(np.float32))


@pytest.mark.parametrize("kind", ["lstm", "gru", "bidirectional"])
def test_symbolic_initial_state_outputs_and_training_step_match_keras(kind):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(3)
    km = encoder_decoder(keras, kind)
    fm = encoder_decoder(fk, kind)
    weights = [w * 1.5 for w in km.get_weights()]
    km.set_weights(weights)
    fm.set_weights(weights)
    x, y = data(rng)
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
    km.compile(keras.optimizers.SGD(learning_rate=0.1), "mse")
    fm.compile(fk.optimizers.SGD(learning_rate=0.1), "mse")
    k_loss = float(km.train_on_batch(x, y))
    f_loss = float(fm.train_on_batch(x, y))
    assert abs(k_loss - f_loss) <= ATOL * max(1.0, abs(k_loss))
    for kw, fw in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(fw, kw, atol=ATOL, rtol=ATOL)


def test_encoder_weights_get_gradients_through_the_state():
    fm = encoder_decoder(fk)
    fm.compile(fk.optimizers.SGD(learning_rate=0.1), "mse")
    x, y = data(np.random.default_rng(1))
    encoder = fm.layers[2] if fm.layers[2].return_state else fm.layers[3]
    before = [w.copy() for w in encoder.get_weights()]
    fm.train_on_batch(x, y)
    assert all(not np.allclose(a, b) for a, b in zip(before, encoder.get_weights()))


def test_config_records_initial_state_and_round_trips():
    fm = encoder_decoder(fk)
    config = fm.get_config()
    decoder = next(l for l in config["layers"] if l["class_name"] == "LSTM"
               and not l["config"]["return_state"])
    states = decoder["inbound_nodes"][0]["kwargs"]["initial_state"]
    assert [s["config"]["keras_history"][2] for s in states] == [1, 2]
    clone = Functional.from_config(json.loads(json.dumps(config)))
    clone.set_weights(fm.get_weights())
    x, _ = data(np.random.default_rng(2))
    np.testing.assert_allclose(clone.predict(x, verbose=0), fm.predict(x, verbose=0),
                               atol=1e-6)


def test_keras_file_loads_here_and_ours_loads_in_keras(tmp_path):
    x, _ = data(np.random.default_rng(4))
    files_cross_load(keras, encoder_decoder(keras), x, tmp_path, atol=ATOL)


def test_wrong_number_of_symbolic_states_is_rejected():
    enc_in, dec_in = fk.Input((5, 3)), fk.Input((4, 2))
    _, h, _ = fk.layers.LSTM(6, return_state=True)(enc_in)
    with pytest.raises(ValueError, match="initial"):
        fk.layers.LSTM(6)(dec_in, initial_state=[h])


def test_legacy_h5_encoder_decoder_both_ways(tmp_path):
    x, _ = data(np.random.default_rng(5))
    km = encoder_decoder(keras, "bidirectional")
    km.save(tmp_path / "k.h5")
    fm = fk.models.load_model(tmp_path / "k.h5")
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
    fm.set_weights([w - 0.01 for w in fm.get_weights()])
    fm.save(tmp_path / "f.h5")
    back = keras.models.load_model(tmp_path / "f.h5")
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), fm.predict(x, verbose=0),
                               atol=ATOL)


def test_summary_connects_the_decoder_to_the_encoder_states():
    fm = encoder_decoder(fk)
    connections = fm._summary_connections()
    rows = {layer.name: connections[id(layer)] for layer in fm._summary_layers()}
    decoder = next(l.name for l in fm.layers if isinstance(l, fk.layers.LSTM)
               and not l.return_state)
    encoder = next(l.name for l in fm.layers if isinstance(l, fk.layers.LSTM) and l.return_state)
    assert rows[decoder] == ["decoder_in[0][0]", f"{encoder}[0][1]", f"{encoder}[0][2]"]
