"""GroupQueryAttention against real Keras 3 (torch backend): outputs, attention scores, weights,
configs, masks, a training step and files; finite-difference gradients; argument errors."""

import json
import re

import numpy as np
import pytest

import fastkeras as fk
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def _np(x):
    import keras
    return keras.ops.convert_to_numpy(x)


def _heads(q, kv, head_dim=3, **kwargs):
    return dict(head_dim=head_dim, num_query_heads=q, num_key_value_heads=kv, **kwargs)


# (layer arguments, call arguments, query shape, value shape, key shape or None)
CASES = [
    (_heads(8, 2), {}, (2, 5, 6), (2, 7, 6), None),
    (_heads(8, 2, use_bias=False), {"return_attention_scores": True}, (2, 5, 6), (2, 7, 4),
     (2, 7, 3)),
    (_heads(4, 4), {"use_causal_mask": True}, (2, 5, 6), (2, 5, 6), None),
    (_heads(4, 4, use_bias=False), {"use_causal_mask": True, "return_attention_scores": True},
     (2, 5, 6), (2, 5, 6), (2, 5, 2)),
    (_heads(4, 1), {"attention_mask": "random"}, (2, 5, 6), (2, 7, 6), None),
    (_heads(4, 1), {"attention_mask": "random", "return_attention_scores": True},
     (2, 5, 6), (2, 7, 6), None),
    (_heads(8, 2), {"query_mask": "random", "value_mask": "random", "key_mask": "random"},
     (2, 5, 6), (2, 7, 6), (2, 7, 5)),
    (_heads(4, 1, use_bias=False), {"query_mask": "random", "value_mask": "random",
                                    "return_attention_scores": True}, (2, 5, 6), (2, 7, 6), None),
    (_heads(4, 2), {"attention_mask": "random", "use_causal_mask": True,
                    "return_attention_scores": True}, (2, 6, 6), (2, 6, 6), None),
    (_heads(4, 2, use_gate=True), {"value_mask": "random"}, (2, 5, 6), (2, 7, 6), None),
    (_heads(8, 2, sliding_window=2), {"use_causal_mask": True}, (2, 6, 6), (2, 6, 6), None),
    (_heads(4, 2, sliding_window=2), {"return_attention_scores": True}, (2, 6, 6), (2, 6, 6),
     None),
]


def _inputs(rng, qs, vs, ks, call):
    q = rng.standard_normal(qs).astype(np.float32)
    v = rng.standard_normal(vs).astype(np.float32)
    k = None if ks is None else rng.standard_normal(ks).astype(np.float32)
    call = dict(call)
    if call.get("attention_mask") == "random":
        mask = rng.random((qs[0], qs[1], vs[1])) > 0.3
        mask[0, 1, :] = False  # a query row that may attend nowhere
        call["attention_mask"] = mask
    for name, length in (("query_mask", qs[1]), ("value_mask", vs[1]), ("key_mask", vs[1])):
        if call.get(name) == "random":
            mask = rng.random((qs[0], length)) > 0.3
            mask[:, 0] = True
            call[name] = mask
    return (q, v) if k is None else (q, v, k), call


def _case_id(case):
    kwargs, call = case[0], case[1]
    return "-".join([f"{kwargs['num_query_heads']}x{kwargs['num_key_value_heads']}"]
                    + [k for k, v in kwargs.items() if k not in _heads(1, 1) and v]
                    + sorted(call) + (["key"] if case[4] else []))


def _same_config(ours, theirs):
    assert json.loads(json.dumps(ours.get_config())) == json.loads(json.dumps(
        {k: v for k, v in theirs.get_config().items() if k != "name"} | {"name": ours.name}))


@pytest.mark.parametrize("kwargs,call,qs,vs,ks", CASES, ids=[_case_id(c) for c in CASES])
def test_outputs_scores_and_weights_match_keras(kwargs, call, qs, vs, ks, rng):
    keras3 = pytest.importorskip("keras")
    args, call = _inputs(rng, qs, vs, ks, call)
    theirs = keras3.layers.GroupQueryAttention(**kwargs)
    ours = fk.layers.GroupQueryAttention(**kwargs)
    want = theirs(*args, **call)
    ours(*args, **call)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    # (the layer's own name counts up differently across tests in the two libraries)
    assert [w.path.replace(ours.name, "L") for w in ours.weights] == \
        [w.path.replace(theirs.name, "L") for w in theirs.weights]
    ours.set_weights([_np(w) for w in theirs.weights])
    got = ours(*args, **call)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), _np(b), rtol=1e-5, atol=1e-5)
    _same_config(ours, theirs)


def test_default_names_and_attributes_follow_keras():
    keras3 = pytest.importorskip("keras")
    theirs = keras3.layers.GroupQueryAttention(head_dim=2, num_query_heads=6,
                                               num_key_value_heads=3)
    ours = fk.layers.GroupQueryAttention(head_dim=2, num_query_heads=6, num_key_value_heads=3)
    for name in (ours.name, theirs.name):
        assert re.fullmatch(r"grouped_query_attention(_\d+)?", name), name
    for attr in ("head_dim", "num_query_heads", "num_key_value_heads", "num_repeats", "dropout",
                 "use_bias", "use_gate", "sliding_window", "seed", "supports_masking"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    x = np.zeros((1, 3, 4), np.float32)
    ours(x, x)
    theirs(x, x)
    assert [type(s).__name__ for s in ours._tracked_layers] == \
        ["EinsumDense", "EinsumDense", "EinsumDense", "Softmax", "Dropout", "EinsumDense"]
    assert ours.compute_output_shape((None, 3, 4), (None, 5, 4)) == \
        tuple(theirs.compute_output_shape((None, 3, 4), (None, 5, 4)))


def _text_model(lib, vocab=20, dim=8):
    inp = lib.Input((None,), dtype="int32")
    x = lib.layers.Embedding(vocab, dim, mask_zero=True)(inp)
    att = lib.layers.GroupQueryAttention(head_dim=4, num_query_heads=4,
                                         num_key_value_heads=2)(x, x)
    x = lib.layers.LayerNormalization()(lib.layers.Add()([x, att]))
    x = lib.layers.GlobalAveragePooling1D()(x)
    return lib.Model(inp, lib.layers.Dense(1)(x))


# Keras's GroupQueryAttention passes masked inputs to its projections, which warn.
_KERAS_PROJECTION_WARNING = "ignore:Layer '.*' \\(of type EinsumDense\\) was passed an input"


@pytest.mark.filterwarnings(_KERAS_PROJECTION_WARNING)
def test_masks_carried_by_inputs_match_keras(rng):
    """Embedding(mask_zero=True) masks reach the attention as query and value masks, and the
    output keeps the query's mask (GlobalAveragePooling1D then skips the padding)."""
    keras3 = pytest.importorskip("keras")
    tokens = rng.integers(1, 20, (6, 9))
    tokens[:3, 6:] = 0
    theirs = _text_model(keras3)
    ours = _text_model(fk)
    ours.set_weights([_np(w) for w in theirs.weights])
    np.testing.assert_allclose(ours.predict(tokens, verbose=0),
                               _np(theirs.predict(tokens, verbose=0)), rtol=1e-5, atol=1e-5)
    longer = np.concatenate([tokens, np.zeros((6, 3), tokens.dtype)], axis=1)
    np.testing.assert_allclose(ours.predict(longer, verbose=0), ours.predict(tokens, verbose=0),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings(_KERAS_PROJECTION_WARNING)
def test_explicit_masks_win_over_carried_ones(rng):
    """As Keras: a mask the input carries is used only where no mask argument is given, and
    the output carries the query's own mask."""
    keras3 = pytest.importorskip("keras")
    q = rng.standard_normal((2, 4, 6)).astype(np.float32)
    v = rng.standard_normal((2, 5, 6)).astype(np.float32)
    carried_q = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    carried_v = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    given_v = np.array([[1, 0, 1, 1, 1], [1, 1, 1, 1, 0]], bool)
    theirs = keras3.layers.GroupQueryAttention(head_dim=3, num_query_heads=4,
                                               num_key_value_heads=2)
    ours = fk.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)
    ours(q, v)
    theirs(q, v)
    ours.set_weights([_np(w) for w in theirs.weights])
    for value_mask in (None, given_v):
        kq, kv = keras3.ops.convert_to_tensor(q), keras3.ops.convert_to_tensor(v)
        kq._keras_mask = keras3.ops.convert_to_tensor(carried_q)
        kv._keras_mask = keras3.ops.convert_to_tensor(carried_v)
        fq, fv = fk.backend.Tensor(q), fk.backend.Tensor(v)
        fq._keras_mask, fv._keras_mask = carried_q, carried_v
        want = theirs(kq, kv, value_mask=value_mask, return_attention_scores=True)
        got = ours(fq, fv, value_mask=value_mask, return_attention_scores=True)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), _np(b), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(got[0]._keras_mask), carried_q)
        np.testing.assert_array_equal(_np(want[0]._keras_mask), carried_q)


def test_training_step_matches_keras(rng):
    """One SGD step on the same weights and data gives the same weights as Keras's."""
    keras3 = pytest.importorskip("keras")
    x = rng.standard_normal((8, 5, 6)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)

    def build(lib):
        inp = lib.Input((5, 6))
        att = lib.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2,
                                             use_gate=True)(inp, inp, use_causal_mask=True)
        out = lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(att))
        model = lib.Model(inp, out)
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
        return model

    theirs, ours = build(keras3), build(fk)
    ours.set_weights([_np(w) for w in theirs.weights])
    theirs.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    ours.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), theirs.weights):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5, atol=1e-5)


def _float64_weights(layer, rng):
    """The layer's projection weights as float64 leaves (for finite differences)."""
    leaves = []
    for sub in [layer._query_dense, layer._key_dense, getattr(layer, "_gate_dense", None),
                layer._value_dense, layer._output_dense]:
        if sub is None:
            continue
        sub.kernel = leaf(rng.standard_normal(sub.kernel.shape) * 0.5)
        leaves.append(sub.kernel)
        if sub.bias is not None:
            sub.bias = leaf(rng.standard_normal(sub.bias.shape) * 0.1)
            leaves.append(sub.bias)
    return leaves


@pytest.mark.parametrize("kwargs,call", [
    (_heads(4, 2, head_dim=2), {}),
    (_heads(2, 1, head_dim=2, use_gate=True), {"use_causal_mask": True}),
    (_heads(4, 2, head_dim=2, use_bias=False), {"attention_mask": "random",
                                                "return_attention_scores": True}),
], ids=["4x2", "2x1-gate-causal", "4x2-mask-scores"])
def test_gradients(kwargs, call, rng):
    args, call = _inputs(rng, (2, 3, 4), (2, 4, 3), None, call)
    if "attention_mask" in call:
        # Every row keeps a key: a row with none adds a huge offset to all its scores, and
        # finite differences in float64 cannot resolve the scores next to that offset.
        call["attention_mask"][:, :, 0] = True
    layer = fk.layers.GroupQueryAttention(**kwargs)
    layer(*args, **call)
    q, v = leaf(args[0]), leaf(args[1])
    leaves = [q, v] + _float64_weights(layer, rng)

    def fn():
        out = layer(q, v, **call)
        return out[0] if isinstance(out, tuple) else out

    check_grads(fn, leaves, rng)
    if call.get("return_attention_scores"):
        check_grads(lambda: layer(q, v, **call)[1], leaves[:2] + leaves[2:4], rng)


def test_dropout_on_attention_weights(rng):
    q = rng.standard_normal((2, 6, 4)).astype(np.float32)
    kwargs = _heads(4, 2, head_dim=4, dropout=0.5, seed=3)
    layer = fk.layers.GroupQueryAttention(**kwargs)
    quiet = layer(q, q).numpy()
    np.testing.assert_array_equal(layer(q, q, training=False).numpy(), quiet)
    _, scores = layer(q, q, training=True, return_attention_scores=True)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-5)  # before dropout
    assert not np.allclose(layer(q, q, training=True).numpy(), quiet)
    again = fk.layers.GroupQueryAttention(**kwargs)
    again(q, q)
    again.set_weights(layer.get_weights())
    fresh = fk.layers.GroupQueryAttention(**kwargs)
    fresh(q, q)
    fresh.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(q, q, training=True).numpy(),
                                  fresh(q, q, training=True).numpy())


def test_config_round_trip():
    layer = fk.layers.GroupQueryAttention(
        head_dim=4, num_query_heads=6, num_key_value_heads=3, dropout=0.1, use_bias=False,
        sliding_window=3, kernel_initializer="he_normal", kernel_regularizer="l2",
        bias_constraint="non_neg", use_gate=True, seed=7, name="gqa")
    config = layer.get_config()
    again = fk.layers.GroupQueryAttention.from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    keras3 = pytest.importorskip("keras")
    _same_config(layer, keras3.layers.GroupQueryAttention.from_config(config))


def _functional(lib):
    q_in, v_in = lib.Input((4, 6)), lib.Input((5, 6))
    out, scores = lib.layers.GroupQueryAttention(head_dim=3, num_query_heads=4,
                                                 num_key_value_heads=2, use_gate=True)(
        q_in, v_in, return_attention_scores=True)
    return lib.Model([q_in, v_in], [lib.layers.Flatten()(out), scores])


def test_functional_model_shapes_and_own_files(tmp_path, rng):
    model = _functional(fk)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 24), (None, 4, 4, 5)]
    entry = next(e for e in model.get_config()["layers"]
                 if e["class_name"] == "GroupQueryAttention")
    assert entry["module"] == "keras.layers"
    assert entry["build_config"] == {"shapes_dict": {"query_shape": [None, 4, 6],
                                                     "value_shape": [None, 5, 6]}}
    x = [rng.standard_normal((3, 4, 6)).astype(np.float32),
         rng.standard_normal((3, 5, 6)).astype(np.float32)]
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    got = fk.models.load_model(tmp_path / "m.keras").predict(x, verbose=0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_keras_files_both_ways(tmp_path, rng):
    pytest.importorskip("keras")
    inp = fk.Input((5, 6))
    att = fk.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)(
        inp, inp, use_causal_mask=True)
    model = fk.Model(inp, fk.layers.Flatten()(att))
    check_keras_file_both_ways(model, rng.standard_normal((3, 5, 6)).astype(np.float32),
                               tmp_path)


def test_argument_errors():
    gqa = fk.layers.GroupQueryAttention
    with pytest.raises(ValueError, match="num_query_heads=6, num_key_value_heads=4"):
        gqa(head_dim=2, num_query_heads=6, num_key_value_heads=4)
    with pytest.raises(ValueError, match="head_dim=0"):
        gqa(head_dim=0, num_query_heads=2, num_key_value_heads=1)
    with pytest.raises(ValueError, match="num_query_heads='4'"):
        gqa(head_dim=2, num_query_heads="4", num_key_value_heads=1)
    with pytest.raises(ValueError, match="num_key_value_heads=None"):
        gqa(head_dim=2, num_query_heads=4, num_key_value_heads=None)
    with pytest.raises(ValueError, match="sliding_window=0"):
        gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1, sliding_window=0)
    with pytest.raises(ValueError, match="dropout=1.5"):
        gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1, dropout=1.5)
    with pytest.raises(ValueError, match="flash_attention=True"):
        gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1, flash_attention=True)
    layer = gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1)
    with pytest.raises(ValueError, match="except the last one"):
        layer(np.zeros((1, 3, 4), np.float32), np.zeros((1, 5, 4), np.float32),
              np.zeros((1, 6, 4), np.float32))
    with pytest.raises(ValueError, match="rank 3"):
        gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1)(
            np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="last dimension of `query_shape` and `value_shape`"):
        gqa(head_dim=2, num_query_heads=2, num_key_value_heads=1)(fk.Input((3, 4)),
                                                                  fk.Input((5, 6)))


@pytest.mark.parametrize("scores", [False, True])
def test_activity_regularizer_losses_match_keras(scores, rng):
    """As Keras: the activity regularizer applies to each projection's output and to the
    layer's own output(s), the attention scores included."""
    keras3 = pytest.importorskip("keras")
    q = rng.standard_normal((2, 4, 6)).astype(np.float32)
    kwargs = _heads(4, 2, activity_regularizer="l2")
    theirs = keras3.layers.GroupQueryAttention(**kwargs)
    ours = fk.layers.GroupQueryAttention(**kwargs)
    theirs(q, q)
    ours(q, q)
    ours.set_weights([_np(w) for w in theirs.weights])
    theirs(q, q, return_attention_scores=scores)
    ours(q, q, return_attention_scores=scores)
    np.testing.assert_allclose(sorted(float(np.asarray(loss)) for loss in ours.losses),
                               sorted(float(_np(loss)) for loss in theirs.losses), rtol=1e-5)
