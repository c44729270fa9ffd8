"""Parity with real Keras 3 (torch backend): the same sequence models built in both libraries
with identical weights give the same outputs, and one training step (SGD and Adam) gives the
same loss and the same updated weights, to 1e-5."""

import numpy as np
import pytest

import fastkeras as fk
from side_by_side import files_cross_load

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
    if spec == "other_activations":
        # activations the recurrent kernel does not compute: the cells run them as ops
        return lib.Sequential([
            lib.Input((7,)), L.Embedding(12, 4, mask_zero=True),
            L.LSTM(4, activation="softsign", recurrent_activation="swish",
                   return_sequences=True),
            L.GRU(3, activation="elu", return_sequences=True),
            L.GRU(3, recurrent_activation=lambda t: lib.ops.sigmoid(2.0 * t), reset_after=False,
                  return_sequences=True, go_backwards=True),
            L.Bidirectional(L.SimpleRNN(2, activation="gelu")), L.Dense(1)])
    raise KeyError(spec)


SPECS = ["lstm", "lstm_backwards_state", "gru", "simple_rnn", "bidirectional",
         "embedding_masked", "embedding_time_distributed", "other_activations"]


def data(spec, rng):
    if spec.startswith("embedding") or spec == "other_activations":
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


def test_model_files_with_other_recurrent_activations_load_both_ways(tmp_path):
    x, _ = data("other_activations", np.random.default_rng(4))
    km = keras.Sequential([keras.Input((7,)), keras.layers.Embedding(12, 4, mask_zero=True),
                           keras.layers.LSTM(3, activation="gelu", return_sequences=True),
                           keras.layers.GRU(2, recurrent_activation="softsign")])
    files_cross_load(keras, km, x, tmp_path, atol=ATOL)


# --- masks reaching the loss and the metrics -------------------------------------------------

def build_tagger(lib, head):
    """Per-timestep classifier over padded id sequences: the output carries the padding mask."""
    L = lib.layers
    dense = L.Dense(5, activation="softmax")
    return lib.Sequential([lib.Input((7,)), L.Embedding(12, 4, mask_zero=True),
                           L.LSTM(3, return_sequences=True),
                           L.TimeDistributed(dense) if head == "time_distributed" else dense])


def tagger_data(rng):
    x = rng.integers(1, 12, size=(6, 7))
    x[0, 4:] = 0
    x[2, 1:] = 0
    x[5, 6] = 0
    return x, rng.integers(0, 5, size=(6, 7))


@pytest.mark.parametrize("head", ["time_distributed", "dense"])
def test_masked_output_masks_loss_and_metrics_like_keras(head):
    rng = np.random.default_rng(4)
    keras.utils.set_random_seed(5)
    km = build_tagger(keras, head)
    fm = build_tagger(fk, head)
    weights = [w * 1.5 for w in km.get_weights()]
    km.set_weights(weights)
    fm.set_weights(weights)
    x, y = tagger_data(rng)
    for model, lib in ((km, keras), (fm, fk)):
        model.compile(lib.optimizers.SGD(learning_rate=0.5), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])

    def close(k_logs, f_logs):
        assert set(k_logs) == set(f_logs)
        for key in k_logs:
            k = np.ravel(k_logs[key])[0]
            assert abs(np.ravel(f_logs[key])[0] - k) <= ATOL * max(1.0, abs(k)), key

    # Several batches: the running means add up masked batches as Keras does.
    close(km.evaluate(x, y, batch_size=4, verbose=0, return_dict=True),
          fm.evaluate(x, y, batch_size=4, verbose=0, return_dict=True))
    # Accuracy counts only the unmasked timesteps (an unmasked count would differ).
    pred = fm.predict(x, verbose=0).argmax(-1)
    keep = x != 0
    assert fm.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        (pred == y)[keep].mean(), abs=1e-6)
    # One SGD step on the whole batch, then evaluate again.
    close(km.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0).history,
          fm.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0).history)
    for kw, fw in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(fw, kw, atol=ATOL, rtol=ATOL)
    close(km.evaluate(x, y, batch_size=6, verbose=0, return_dict=True),
          fm.evaluate(x, y, batch_size=6, verbose=0, return_dict=True))


def test_masked_output_weighted_metrics_use_mask_times_weights():
    # Keras (torch backend) rescales per-timestep sample weights in place while masking the
    # loss, so its weighted metrics depend on the batch size; ours are the plain weighted mean.
    rng = np.random.default_rng(6)
    fm = build_tagger(fk, "dense")
    x, y = tagger_data(rng)
    sw = rng.uniform(0.5, 2.0, size=y.shape).astype(np.float32)
    fm.compile("sgd", "sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    hit = (fm.predict(x, verbose=0).argmax(-1) == y).astype(np.float64)
    w = sw * (x != 0)
    expected = (hit * w).sum() / w.sum()
    for batch_size in (2, 6):
        logs = fm.evaluate(x, y, sample_weight=sw, batch_size=batch_size, verbose=0,
                           return_dict=True)
        assert logs["accuracy"] == pytest.approx(expected, abs=1e-6)


def test_per_sample_weights_with_a_masked_output():
    # Keras 3 cannot broadcast (batch,) weights against a (batch, steps) mask; here each
    # sample's weight covers its unmasked steps: loss = sum(l * w * m) / sum(m).
    rng = np.random.default_rng(8)
    fm = build_tagger(fk, "dense")
    x, y = tagger_data(rng)
    sw = rng.uniform(0.5, 2.0, size=len(x)).astype(np.float32)
    fm.compile("sgd", "sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    probs = fm.predict(x, verbose=0).astype(np.float64)
    nll = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0])
    hit = probs.argmax(-1) == y
    m = (x != 0).astype(np.float64)
    w = sw[:, None] * m
    logs = fm.evaluate(x, y, sample_weight=sw, batch_size=len(x), verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx((nll * w).sum() / m.sum(), rel=1e-5)
    assert logs["accuracy"] == pytest.approx((hit * w).sum() / w.sum(), abs=1e-6)
