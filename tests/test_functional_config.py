"""Functional configs in Keras 3's format, models saved by Keras 3.15 (wide_deep.*) loaded and
predicting as Keras did, our own functional .keras/.h5 round trips, construction-time checks."""

import json
import os
import zipfile

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.models.functional import Functional
from keras_fixtures import FIXTURES

L = keras.layers
needs_fixtures = pytest.mark.skipif(not FIXTURES.exists() and not os.environ.get("CI"),
                                    reason="../shared/fixtures/keras not found")



def wide_deep(lib=keras, name="wide_deep"):
    input_a = lib.layers.Input(shape=[5], name="wide_input")
    input_b = lib.layers.Input(shape=[6], name="deep_input")
    hidden1 = lib.layers.Dense(30, activation="relu", name="dense_4")(input_b)
    hidden2 = lib.layers.Dense(30, activation="relu", name="dense_5")(hidden1)
    concat = lib.layers.concatenate([input_a, hidden2], name="concatenate")
    output = lib.layers.Dense(1, name="main_output")(concat)
    aux_output = lib.layers.Dense(1, name="aux_output")(hidden2)
    return lib.Model(inputs=[input_a, input_b], outputs=[output, aux_output], name=name)


KERAS_LAYER_ORDER = ["deep_input", "dense_4", "wide_input", "dense_5", "concatenate",
                     "main_output", "aux_output"]


@needs_fixtures
@pytest.mark.parametrize("filename", ["wide_deep.keras", "wide_deep.h5"])
def test_loads_the_keras_wide_and_deep_model(filename):
    io = np.load(FIXTURES / "wide_deep_io.npz")
    model = keras.models.load_model(FIXTURES / filename)
    assert isinstance(model, Functional)
    assert [layer.name for layer in model.layers] == KERAS_LAYER_ORDER
    assert model.input_names == ["wide_input", "deep_input"]
    assert model.output_names == ["main_output", "aux_output"]
    assert model.count_params() == 1207
    main, aux = model.predict([io["x0"], io["x1"]], verbose=0)
    np.testing.assert_allclose(main, io["y0"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(aux, io["y1"], rtol=1e-5, atol=1e-5)
    # Compiled as saved (two mse losses weighted 0.9 / 0.1), so it evaluates and trains.
    total, l_main, l_aux = model.evaluate([io["x0"], io["x1"]], [io["y0"], io["y1"]], verbose=0)
    assert total == pytest.approx(0.9 * l_main + 0.1 * l_aux, abs=1e-9)
    history = model.fit([io["x0"], io["x1"]], [io["y0"], io["y1"]], epochs=1, verbose=0)
    assert "main_output_loss" in history.history


@needs_fixtures
def test_keras_weights_load_into_the_same_architecture_built_here():
    io = np.load(FIXTURES / "wide_deep_io.npz")
    model = wide_deep()
    assert [layer.name for layer in model.layers] == KERAS_LAYER_ORDER  # Keras's layer order
    model.load_weights(FIXTURES / "wide_deep.weights.h5")
    main, aux = model.predict((io["x0"], io["x1"]), verbose=0)
    np.testing.assert_allclose(main, io["y0"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(aux, io["y1"], rtol=1e-5, atol=1e-5)


@needs_fixtures
def test_config_matches_the_one_keras_saved():
    with zipfile.ZipFile(FIXTURES / "wide_deep.keras") as z:
        saved = json.loads(z.read("config.json"))["config"]
    ours = wide_deep().get_config()
    assert ours["name"] == saved["name"]
    assert ours["input_layers"] == saved["input_layers"]
    assert ours["output_layers"] == saved["output_layers"]
    assert [l["name"] for l in ours["layers"]] == [l["name"] for l in saved["layers"]]
    for mine, theirs in zip(ours["layers"], saved["layers"]):
        assert mine["class_name"] == theirs["class_name"]
        assert mine["inbound_nodes"] == theirs["inbound_nodes"], mine["name"]
        assert mine.get("build_config") == theirs.get("build_config"), mine["name"]


def test_shared_and_nested_layers_round_trip_through_the_config():
    inner_in = keras.Input(shape=(4,), name="inner_in")
    inner = keras.Model(inner_in, L.Dense(3, activation="tanh", name="inner_dense")(inner_in),
                        name="inner")
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(4,), name="b")
    shared = L.Dense(4, name="shared")
    merged = L.add([inner(shared(a)), inner(shared(b))], name="merge")
    model = keras.Model({"a": a, "b": b}, [L.Dense(1, name="head")(merged), merged],
                        name="outer")
    config = model.get_config()
    nodes = {l["name"]: l["inbound_nodes"] for l in config["layers"]}
    assert len(nodes["shared"]) == 2 and len(nodes["inner"]) == 2
    # Inside call arguments Keras 3 numbers a nested model's calls from 0 (its node indices
    # in input_layers/output_layers count its own definition as node 0).
    merge_args = nodes["merge"][0]["args"][0]
    assert [t["config"]["keras_history"] for t in merge_args] == [["inner", 0, 0],
                                                                  ["inner", 1, 0]]
    assert config["input_layers"] == {"a": ["a", 0, 0], "b": ["b", 0, 0]}
    rebuilt = Functional.from_config(json.loads(json.dumps(config)))
    assert [l.name for l in rebuilt.layers] == [l.name for l in model.layers]
    assert len(rebuilt.weights) == len(model.weights) == 6
    rebuilt.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    x = {"a": rng.standard_normal((5, 4)).astype(np.float32),
         "b": rng.standard_normal((5, 4)).astype(np.float32)}
    for got, want in zip(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_our_functional_files_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    xa, xb = rng.standard_normal((20, 5)), rng.standard_normal((20, 6))
    y = rng.standard_normal((20, 1))
    model = wide_deep()
    model.compile(loss=["mse", "mae"], loss_weights=[0.9, 0.1], metrics={"main_output": "mae"},
                  optimizer="adam")
    model.fit([xa, xb], [y, y], epochs=1, verbose=0)
    model.save(tmp_path / f"wd{suffix}")
    loaded = keras.models.load_model(tmp_path / f"wd{suffix}")
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for got, want in zip(loaded.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(loaded.evaluate([xa, xb], [y, y], verbose=0),
                               model.evaluate([xa, xb], [y, y], verbose=0), rtol=1e-5)


def test_keras_loads_our_functional_file(tmp_path):
    keras3 = pytest.importorskip("keras")
    model = wide_deep()
    model.save(tmp_path / "ours.keras")
    theirs = keras3.saving.load_model(tmp_path / "ours.keras", compile=False)
    x = [np.ones((2, 5), np.float32), np.ones((2, 6), np.float32)]
    for got, want in zip(theirs.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_shape_mismatch_names_both_layers_and_shapes():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(4,), name="b")
    shared = L.Dense(2, name="shared")
    shared(a)
    with pytest.raises(ValueError) as e:
        shared(b)
    message = str(e.value)  # Keras's input-spec message: the layer, the size it has, the shape
    assert "layer 'shared' is incompatible with the layer" in message
    assert "expected axis -1 of input shape to have value 3" in message
    assert "received input with shape (None, 4)" in message
    with pytest.raises(ValueError, match=r"layer 'x' \(Dense\) with shape \(None, 3\) and layer "
                                         r"'y' \(Dense\) with shape \(None, 4\)"):
        L.add([L.Dense(3, name="x")(a), L.Dense(4, name="y")(a)])


def test_duplicate_layer_names_are_refused():
    a = keras.Input(shape=(3,), name="a")
    out = L.Dense(1, name="a")(a)
    with pytest.raises(ValueError, match="two layers named 'a'"):
        keras.Model(a, out)


def test_from_config_reports_missing_layers():
    config = wide_deep().get_config()
    config["layers"] = [l for l in config["layers"] if l["name"] != "dense_4"]
    with pytest.raises(ValueError, match=r"dense_5"):
        Functional.from_config(config)
