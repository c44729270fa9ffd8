"""Comparison and logical ops (`ops.not_equal`, `ops.logical_and`, ...) and
`ops.convert_to_tensor`: boolean values as Keras 3 computes them, Python operators on Tensors
and KerasTensors, and functional graphs that use them (the form in which Keras saves an
Embedding's padding mask) in both libraries' files."""

import inspect
import json

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from keras_files import check_keras_file_both_ways

BINARY = ["equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
          "logical_and", "logical_or", "logical_xor"]
UNARY = ["logical_not", "isnan", "isinf", "isfinite"]
CLASS_NAMES = {"equal": "Equal", "not_equal": "NotEqual", "greater": "Greater",
               "greater_equal": "GreaterEqual", "less": "Less", "less_equal": "LessEqual",
               "logical_and": "LogicalAnd", "logical_or": "LogicalOr",
               "logical_xor": "LogicalXor", "logical_not": "LogicalNot", "isnan": "Isnan",
               "isinf": "Isinf", "isfinite": "Isfinite"}

X1 = np.array([[0.0, 1.5, -2.0, np.nan], [np.inf, 0.0, 3.0, -np.inf]], dtype=np.float32)
X2 = np.array([0.0, 2.0, -2.0, 1.0], dtype=np.float32)  # broadcast over rows


@pytest.mark.parametrize("name", BINARY + UNARY)
def test_values_match_keras(name):
    keras3 = pytest.importorskip("keras")
    args = (X1, X2) if name in BINARY else (X1,)
    ours = getattr(ops, name)(*args)
    theirs = keras3.ops.convert_to_numpy(getattr(keras3.ops, name)(*args))
    assert isinstance(ours, Tensor)
    assert ours.numpy().dtype == np.bool_ and theirs.dtype == np.bool_
    np.testing.assert_array_equal(ours.numpy(), theirs)
    assert list(inspect.signature(getattr(ops, name)).parameters) == \
        list(inspect.signature(getattr(keras3.ops, name)).parameters)


def test_integer_and_python_operands():
    tokens = np.array([[3, 0, 7], [0, 0, 1]], dtype=np.int32)
    np.testing.assert_array_equal(ops.not_equal(tokens, 0).numpy(), tokens != 0)
    np.testing.assert_array_equal(ops.greater_equal(2, tokens).numpy(), 2 >= tokens)
    np.testing.assert_array_equal(ops.logical_and(tokens, [1, 0, 1]).numpy(),
                                  np.logical_and(tokens, [1, 0, 1]))


def test_boolean_results_carry_no_gradient():
    x = Tensor(np.array([1.0, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    with GradientTape():
        y = ops.sum(x * ops.cast(ops.greater(x, 0.0), "float32"))
    (g,) = gradients(y, [x])
    np.testing.assert_allclose(np.asarray(g), [1.0, 0.0, 1.0])


def test_tensor_operators():
    a = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal((a > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((a <= 2.0).numpy(), [True, True, False])
    np.testing.assert_array_equal((1.5 < a).numpy(), [False, True, True])
    both = (a > 1.5) & (a < 2.5)
    np.testing.assert_array_equal(both.numpy(), [False, True, False])
    np.testing.assert_array_equal(((a < 1.5) | (a > 2.5)).numpy(), [True, False, True])
    np.testing.assert_array_equal(((a > 1.5) ^ (a > 2.5)).numpy(), [False, True, False])
    np.testing.assert_array_equal((~(a > 1.5)).numpy(), [True, False, False])
    # == and != compare element by element, as Keras's backend tensors do (the training
    # guide's CategoricalTruePositives metric counts `y_true == y_pred`); Tensors still hash
    # by identity, so they work as dict keys.
    b = Tensor(np.array([1.0, 5.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal((a == b).numpy(), [True, False, True])
    np.testing.assert_array_equal((a != b).numpy(), [False, True, False])
    np.testing.assert_array_equal((a == 2.0).numpy(), [False, True, False])
    assert {a: 1, b: 2}[a] == 1 and a in [a] and len({a, b}) == 2
    assert (a == None) is False and (a != None) is True
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a == b)


def test_convert_to_tensor_casts_and_rejects_sparse():
    t = ops.convert_to_tensor([1, 2, 3], dtype="float32")
    assert t.numpy().dtype == np.float32
    ints = Tensor(np.array([1, 0], dtype=np.int32))
    assert ops.convert_to_tensor(ints) is ints
    assert ops.convert_to_tensor(ints, dtype="bool").numpy().tolist() == [True, False]
    with pytest.raises(ValueError, match="sparse=True"):
        ops.convert_to_tensor([1.0], sparse=True)


@pytest.mark.parametrize("name", BINARY + UNARY)
def test_symbolic_calls_record_keras_nodes(name):
    a = fk.Input((4,))
    b = fk.Input((4,))
    out = getattr(ops, name)(a, b) if name in BINARY else getattr(ops, name)(a)
    assert out.shape == (None, 4) and out.dtype == "bool"
    assert type(out._layer).__name__ == CLASS_NAMES[name]
    model = fk.Model([a, b], out)
    config = model.get_config()
    entry = next(e for e in config["layers"] if e["class_name"] == CLASS_NAMES[name])
    assert entry["module"] == "keras.src.ops.numpy"
    rebuilt = fk.Model.from_config(json.loads(json.dumps(config)))
    x = [X1, np.broadcast_to(X2, X1.shape).copy()]
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_tensor_operators_record_nodes():
    a = fk.Input((3,))
    checks = {a < 0: "Less", a <= 0: "LessEqual", a > 0: "Greater", a >= 0: "GreaterEqual",
              a != 0: "NotEqual", (a > 0) & (a < 1): "LogicalAnd",
              (a > 0) | (a < 1): "LogicalOr", (a > 0) ^ (a < 1): "LogicalXor",
              ~(a > 0): "LogicalNot"}
    for t, class_name in checks.items():
        assert type(t._layer).__name__ == class_name
        assert t.dtype == "bool"
    b = fk.Input((3,))
    assert (a == b) is False and a in [a]  # identity, as in Keras


def _padding_model():
    """Embedding -> mean over the unpadded steps, the mask computed by graph ops and passed
    explicitly: the form of a Keras file that records an Embedding's mask."""
    inp = fk.Input((None,), dtype="int32")
    mask = ops.convert_to_tensor(inp != 0)
    emb = fk.layers.Embedding(12, 4)(inp)
    pooled = fk.layers.GlobalAveragePooling1D()(emb, mask=mask)
    return fk.Model(inp, fk.layers.Dense(1)(pooled))


def test_explicit_mask_model_trains_and_loads_both_ways(tmp_path):
    pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, 12, (24, 6))
    tokens[:12, 4:] = 0
    y = rng.standard_normal((24, 1)).astype(np.float32)
    model = _padding_model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(tokens, y, epochs=2, batch_size=8, verbose=0)
    # The mask keeps padding out of the mean: padding ids do not change the prediction.
    emb = model.get_layer("embedding").get_weights()[0]
    dense_w, dense_b = model.get_layer("dense").get_weights()
    want = np.stack([emb[t[t != 0]].mean(0) for t in tokens]) @ dense_w + dense_b
    np.testing.assert_allclose(model.predict(tokens, verbose=0), want, rtol=1e-5, atol=1e-6)
    check_keras_file_both_ways(model, tokens, tmp_path)


def test_keras_made_graph_with_comparisons_loads(tmp_path):
    keras3 = pytest.importorskip("keras")
    inp = keras3.Input((None,), dtype="int32")
    emb = keras3.layers.Embedding(12, 4)(inp)
    keep = keras3.ops.logical_and(inp != 0, keras3.ops.less(inp, 10))
    pooled = keras3.layers.GlobalAveragePooling1D()(emb, mask=keep)
    gate = keras3.ops.cast(pooled > 0, "float32")
    model = keras3.Model(inp, keras3.layers.Dense(2)(pooled * gate))
    tokens = np.array([[1, 4, 11, 0], [3, 0, 0, 0], [10, 2, 5, 7]], dtype=np.int32)
    want = keras3.ops.convert_to_numpy(model.predict(tokens, verbose=0))
    model.save(tmp_path / "k.keras")
    ours = fk.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(tokens, verbose=0), want, rtol=1e-5, atol=1e-6)
