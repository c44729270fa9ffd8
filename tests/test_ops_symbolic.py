"""`fastkeras.ops` on KerasTensors: a Functional model may use ops between layers, as in Keras 3.
Each op call becomes an operation node (Keras's `Add`, `Mean`, `Concatenate`...) with an
inferred shape; the model predicts and trains through it, lists it in its summary and config,
and its config is Keras's, both ways."""

import json
import re

import numpy as np
import pytest

import fastkeras as fk

keras3 = pytest.importorskip("keras")


def build(lib):
    """The same graph in fastkeras and in Keras: ops, operators and constants between layers."""
    a = lib.Input((4,), name="a")
    b = lib.Input((4,), name="b")
    x = lib.ops.add(a, b)
    y = lib.ops.concatenate([a, x], axis=-1)
    z = lib.layers.Dense(3, name="d")(y)
    w = lib.ops.relu(z) * 2.0
    m = lib.ops.mean(lib.ops.expand_dims(w, 1), axis=1)
    q = (a - b) / 2.0
    s = lib.ops.concatenate([m, q[:, 1:3], lib.ops.square(-a)], axis=-1)
    out = lib.layers.Dense(2, name="d2")(lib.ops.tanh(s))
    return lib.Model([a, b], out)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return ([rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")],
            rng.normal(size=(8, 2)).astype("float32"))


def pair():
    fk.utils.clear_session()
    ours = build(fk)
    keras3.utils.clear_session()
    theirs = build(keras3)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def test_symbolic_ops_infer_shapes_and_names():
    a = fk.Input((None, 4), name="seq")
    assert fk.ops.mean(a, axis=1).shape == (None, 4)
    assert fk.ops.sum(a, axis=-1, keepdims=True).shape == (None, None, 1)
    assert fk.ops.reshape(a, (-1, 2)).shape == (None, 2)
    assert fk.ops.transpose(a, (0, 2, 1)).shape == (None, 4, None)
    assert (a * 2.0).shape == (None, None, 4)
    assert a[:, 0].shape == (None, 4)
    assert fk.ops.shape(a) == (None, None, 4)
    mean, var = fk.ops.moments(a, axes=[1])
    assert mean.shape == var.shape == (None, 4)
    op = fk.ops.relu(a)._layer
    assert type(op).__name__ == "Relu" and op.name.startswith("relu")


def test_symbolic_op_errors_name_the_operation():
    a, b = fk.Input((4,)), fk.Input((3,))
    with pytest.raises(ValueError, match=r"Operation 'add.*' \(Add\) cannot be applied"):
        fk.ops.add(a, b)
    with pytest.raises(TypeError, match="fastkeras.ops.dense cannot be applied to a symbolic"):
        fk.ops.dense(a, np.ones((4, 2), "float32"))


def test_operations_are_graph_nodes_not_layers(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide table: every "name (Type)" on one line
    model = build(fk)
    assert [layer.name for layer in model.layers] == ["a", "b", "d", "d2"]
    assert len(model.trainable_weights) == 4
    text = []
    model.summary(print_fn=text.append)
    text = "\n".join(text)
    for name, kind in (("add", "Add"), ("concatenate", "Concatenate"), ("relu", "Relu"),
                       ("multiply", "Multiply"), ("expand_dims", "ExpandDims"),
                       ("mean", "Mean"), ("get_item", "GetItem")):
        assert re.search(rf"\b{name}(_\d+)? \({kind}\)", text), kind
    assert "a[0][0], b[0][0]" in text


def test_outputs_and_one_training_step_match_keras(data):
    x, y = data
    ours, theirs = pair()
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    ours.compile(optimizer=fk.optimizers.SGD(0.1), loss="mse")
    theirs.compile(optimizer=keras3.optimizers.SGD(0.1), loss="mse")
    l_ours = ours.train_on_batch(x, y)
    l_theirs = theirs.train_on_batch(x, y)
    np.testing.assert_allclose(l_ours, l_theirs, rtol=1e-5, atol=1e-6)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_gradients_flow_through_operations(data):
    x, y = data
    model = build(fk)
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert all(not np.allclose(b, a) for b, a in zip(before, model.get_weights()))


def _layers_without_layer_configs(config):
    """The operation entries and every entry's graph wiring (layer configs differ in details
    outside this feature, such as the dtype policy object)."""
    out = []
    for spec in config["layers"]:
        entry = {k: spec[k] for k in ("class_name", "name", "inbound_nodes")}
        if spec["module"].startswith("keras.src.ops"):
            entry.update(module=spec["module"], config=spec["config"],
                         registered_name=spec["registered_name"])
        out.append(entry)
    return out


def test_config_matches_keras():
    ours, theirs = pair()
    a = json.loads(json.dumps(ours.get_config()))
    b = json.loads(json.dumps(theirs.get_config()))
    assert _layers_without_layer_configs(a) == _layers_without_layer_configs(b)
    assert a["input_layers"] == b["input_layers"]
    assert a["output_layers"] == b["output_layers"]


def test_config_round_trips_both_ways(data):
    x, _ = data
    ours, theirs = pair()
    expected = ours.predict(x, verbose=0)

    rebuilt = fk.Model.from_config(json.loads(json.dumps(theirs.get_config())))
    rebuilt.set_weights(theirs.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)

    in_keras = keras3.Model.from_config(json.loads(json.dumps(ours.get_config())))
    in_keras.set_weights(ours.get_weights())
    np.testing.assert_allclose(in_keras.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_keras_file_with_operations_loads_both_ways(tmp_path, data):
    x, _ = data
    ours, theirs = pair()
    expected = ours.predict(x, verbose=0)
    theirs.save(tmp_path / "k.keras")
    loaded = fk.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    ours.save(tmp_path / "f.keras")
    loaded = keras3.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_eager_ops_are_unchanged():
    assert np.allclose(fk.ops.add(np.ones(3), 2.0), 3.0)
    assert fk.ops.concatenate([np.ones((2, 1)), np.zeros((2, 2))], axis=-1).shape == (2, 3)
