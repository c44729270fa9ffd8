"""Attention: Keras 3's outputs and attention weights (dot and concat scores, scale, masks,
causal masks), configs, weights and argument errors; finite-difference gradients; a functional
model with Embedding masks trained, saved and read by real Keras."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import Tensor
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")

LAYER_KWARGS = [{}, {"use_scale": True}, {"score_mode": "concat"},
                {"score_mode": "concat", "use_scale": True}]
Q_MASK = np.array([[1, 1, 0], [1, 0, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
CALLS = [{}, {"mask": [Q_MASK, V_MASK]}, {"use_causal_mask": True},
         {"mask": [None, V_MASK], "use_causal_mask": True}]


def _numpy(t):
    return t.numpy() if isinstance(t, Tensor) else keras3.ops.convert_to_numpy(t)


@pytest.mark.parametrize("kwargs", LAYER_KWARGS, ids=str)
@pytest.mark.parametrize("call", CALLS, ids=["plain", "masks", "causal", "causal+mask"])
@pytest.mark.parametrize("with_key", [False, True])
def test_outputs_and_scores_match_keras(kwargs, call, with_key, rng):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 5, 4)).astype(np.float32)
    inputs = [q, v, k] if with_key else [q, v]
    ours, theirs = fk.layers.Attention(**kwargs), keras3.layers.Attention(**kwargs)
    got = ours(inputs, return_attention_scores=True, **call)
    want = theirs(inputs, return_attention_scores=True, **call)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_numpy(g), _numpy(w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_numpy(ours(inputs, **call)), _numpy(got[0]))
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert {k: v for k, v in ours.get_config().items() if k != "name"} == \
        {k: v for k, v in theirs.get_config().items() if k != "name"}


@pytest.mark.parametrize("make", [
    lambda lib, x: lib.layers.Attention(score_mode="sum"),
    lambda lib, x: lib.layers.Attention()(x),
    lambda lib, x: lib.layers.Attention()([x]),
    lambda lib, x: lib.layers.Attention()([x, x, x, x]),
    lambda lib, x: lib.layers.Attention()([x, x], mask=np.ones((2, 3), bool)),
])
def test_argument_errors_match_keras(make):
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError) as ours:
        make(fk, x)
    with pytest.raises(ValueError) as theirs:
        make(keras3, x)
    # (Keras wraps some of its messages in "Exception encountered when calling ...".)
    assert str(ours.value).split("Received")[0].strip() in str(theirs.value)


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_gradients(score_mode, rng):
    layer = fk.layers.Attention(use_scale=True, score_mode=score_mode)
    q, v, k = (leaf(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 4)])
    layer.build([q.shape, v.shape, k.shape])
    layer.scale = leaf(0.7)
    leaves = [q, v, k, layer.scale]
    if score_mode == "concat":
        layer.concat_score_weight = leaf(1.3)
        leaves.append(layer.concat_score_weight)
    check_grads(lambda: layer([q, v, k], mask=[Q_MASK, V_MASK]), leaves, rng,
                rtol=1e-5, atol=1e-7)


def test_functional_model_with_embedding_masks(tmp_path, rng):
    tokens = rng.integers(1, 20, (32, 7))
    tokens[:, 5:] = 0  # padding the Embedding masks out
    y = rng.standard_normal((32, 1)).astype(np.float32)
    inp = fk.Input((None,), dtype="int32")
    emb = fk.layers.Embedding(20, 8, mask_zero=True)(inp)
    att = fk.layers.Attention(use_scale=True)([emb, emb])
    out = fk.layers.Dense(1)(fk.layers.GlobalAveragePooling1D()(att))
    model = fk.Model(inp, out)
    assert att.shape == (None, None, 8)
    model.compile(optimizer="adam", loss="mse")
    model.fit(tokens, y, epochs=2, verbose=0)
    # The file Keras writes again records the Embedding's mask as NotEqual and
    # ConvertToTensor operation nodes, passed to the layers as `mask=` arguments.
    check_keras_file_both_ways(model, tokens, tmp_path, keras_rtol=1e-4)
