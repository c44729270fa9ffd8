"""Keyword arguments given when a layer is called on KerasTensors (Attention's
use_causal_mask, an explicit mask=, training=True) are part of the recorded call: the model
replays them, writes them into its config as Keras 3 does, and reads them back from either
library's files."""

import json

import numpy as np
import pytest

import fastkeras as fk
from keras_files import check_keras_file_both_ways


def _inbound_kwargs(config, class_name):
    entry = next(e for e in config["layers"] if e["class_name"] == class_name)
    return entry["inbound_nodes"][0]["kwargs"]


def test_attention_call_options_are_replayed_and_saved(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    q = fk.Input((5, 3))
    layer = fk.layers.Attention()
    out, scores = layer([q, q], use_causal_mask=True, return_attention_scores=True)
    model = fk.Model(q, [out, scores])
    want_out, want_scores = layer([x, x], use_causal_mask=True, return_attention_scores=True)
    got_out, got_scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(got_out, want_out.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got_scores, want_scores.numpy(), rtol=1e-6)
    assert np.all(got_scores[:, 0, 1:] == 0)  # causal: the first query sees only itself
    assert _inbound_kwargs(model.get_config(), "Attention") == {
        "use_causal_mask": True, "return_attention_scores": True}
    rebuilt = fk.Model.from_config(json.loads(json.dumps(model.get_config())))
    rebuilt.set_weights(model.get_weights())
    for a, b in zip(rebuilt.predict(x, verbose=0), (got_out, got_scores)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_attention_call_options_match_keras_files(tmp_path):
    keras3 = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    q = fk.Input((5, 3))
    out = fk.layers.Attention(use_scale=True)([q, q], use_causal_mask=True)
    model = fk.Model(q, fk.layers.Dense(2)(out))
    check_keras_file_both_ways(model, x, tmp_path)
    # Keras's own model of the same calls writes the same call arguments.
    kq = keras3.Input((5, 3))
    kout = keras3.layers.Attention(use_scale=True)([kq, kq], use_causal_mask=True)
    theirs = keras3.Model(kq, keras3.layers.Dense(2)(kout))
    assert _inbound_kwargs(model.get_config(), "Attention") == \
        _inbound_kwargs(theirs.get_config(), "Attention")


def test_explicit_mask_overrides_the_carried_one():
    tokens = np.array([[1, 2, 3, 0], [4, 0, 0, 0]], dtype=np.int32)
    only_first = np.array([[True, False, False, False], [True, False, False, False]])
    inp = fk.Input((4,), dtype="int32")
    mask_in = fk.Input((4,), dtype="bool")
    emb = fk.layers.Embedding(5, 2, mask_zero=True)
    pooled = fk.layers.GlobalAveragePooling1D()(emb(inp), mask=mask_in)
    model = fk.Model([inp, mask_in], pooled)
    table = emb.get_weights()[0]
    np.testing.assert_allclose(model.predict([tokens, only_first], verbose=0),
                               table[tokens[:, 0]], rtol=1e-6)
    assert _inbound_kwargs(model.get_config(), "GlobalAveragePooling1D")["mask"][
        "config"]["keras_history"][0] == mask_in._layer.name


def test_training_flag_in_the_graph():
    """Dropout(...)(x, training=True) stays on when the model is called without a training
    flag (Monte Carlo dropout), while predict and evaluate (training=False) turn it off, as in
    Keras 3; the flag is saved with the call."""
    inp = fk.Input((200,))
    model = fk.Model(inp, fk.layers.Dropout(0.5)(inp, training=True))
    x = np.ones((2, 200), dtype=np.float32)
    dropped = np.asarray(model(x))
    assert 0.3 < np.mean(dropped == 0) < 0.7
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
    config = model.get_config()
    assert _inbound_kwargs(config, "Dropout") == {"training": True}
    rebuilt = fk.Model.from_config(json.loads(json.dumps(config)))
    assert 0.3 < np.mean(np.asarray(rebuilt(x)) == 0) < 0.7


def test_training_flag_matches_keras_config():
    keras3 = pytest.importorskip("keras")
    inp = fk.Input((4,))
    ours = fk.Model(inp, fk.layers.Dense(2)(fk.layers.Dropout(0.5)(inp, training=True)))
    kin = keras3.Input((4,))
    theirs = keras3.Model(kin, keras3.layers.Dense(2)(keras3.layers.Dropout(0.5)(kin,
                                                                               training=True)))
    assert _inbound_kwargs(ours.get_config(), "Dropout") == \
        _inbound_kwargs(theirs.get_config(), "Dropout")
    back = fk.Model.from_config(json.loads(json.dumps(theirs.get_config())))
    assert _inbound_kwargs(back.get_config(), "Dropout") == {"training": True}
