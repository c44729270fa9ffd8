"""Models used as layers inside other models: weight files use Keras 3's nested paths
(`layers/functional/layers/dense/vars/0`), and .weights.h5, .keras and legacy .h5 files move
both ways between fastkeras and Keras 3 with the same predictions."""

import json

import h5py
import numpy as np
import pytest

import fastkeras as fk

keras3 = pytest.importorskip("keras")


def build(lib):
    """A Functional and a Sequential model nested in a Functional one (with a Dense of its own
    between them, and a layer after)."""
    i = lib.Input((4,), name="inner_in")
    inner = lib.Model(i, lib.layers.Dense(3, activation="relu")(i))
    seq = lib.Sequential([lib.Input((3,)), lib.layers.Dense(5, activation="tanh"),
                          lib.layers.Dense(2)])
    x = lib.Input((4,), name="outer_in")
    y = seq(inner(x))
    return lib.Model(x, lib.layers.Dense(1)(y))


def build_sequential_outer(lib):
    i = lib.Input((4,))
    inner = lib.Model(i, lib.layers.Dense(3)(i))
    return lib.Sequential([lib.Input((4,)), inner, lib.layers.Dense(2)])


X = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")


def datasets(path):
    out = []
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(out)


def predict(model):
    return np.asarray(model.predict(X, verbose=0))


@pytest.mark.parametrize("builder", [build, build_sequential_outer])
def test_weights_file_paths_are_keras_nested_paths(tmp_path, builder):
    builder(fk).save_weights(tmp_path / "f.weights.h5")
    builder(keras3).save_weights(tmp_path / "k.weights.h5")
    ours, theirs = datasets(tmp_path / "f.weights.h5"), datasets(tmp_path / "k.weights.h5")
    assert ours == theirs
    if builder is build:
        assert "layers/functional/layers/dense/vars/0" in ours
        assert "layers/sequential/layers/dense_1/vars/1" in ours


def _saved_and_loaded(writer_lib, reader_lib, builder, path):
    """(writer's model, the reader's model from the writer's file at `path`)."""
    written = builder(writer_lib)
    if path.name.endswith(".weights.h5"):
        written.save_weights(path)
        read = builder(reader_lib)
        read.load_weights(path)
    else:
        written.save(path)
        read = reader_lib.models.load_model(path)
    return written, read


@pytest.mark.parametrize("builder", [build, build_sequential_outer])
@pytest.mark.parametrize("ext", [".weights.h5", ".keras", ".h5"])
def test_keras_file_loads_in_fastkeras(tmp_path, builder, ext):
    theirs, ours = _saved_and_loaded(keras3, fk, builder, tmp_path / f"k{ext}")
    np.testing.assert_allclose(predict(ours), predict(theirs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("builder", [build, build_sequential_outer])
@pytest.mark.parametrize("ext", [".weights.h5", ".keras", ".h5"])
def test_fastkeras_file_loads_in_keras(tmp_path, builder, ext):
    ours, theirs = _saved_and_loaded(fk, keras3, builder, tmp_path / f"f{ext}")
    np.testing.assert_allclose(predict(theirs), predict(ours), rtol=1e-5, atol=1e-5)


def test_nested_call_references_follow_keras():
    """Keras 3 refers to a nested model's call by its call index inside layers' arguments
    (first call 0) and by its node index in output_layers (first call 1)."""
    i = fk.Input((4,))
    inner = fk.Model(i, fk.layers.Dense(3)(i), name="inner")
    x = fk.Input((4,))
    model = fk.Model(x, inner(x))
    config = json.loads(json.dumps(model.get_config()))
    assert config["output_layers"] == ["inner", 1, 0]
    x2 = fk.Input((4,))
    outer = fk.Model(x2, fk.layers.Dense(2, name="after")(inner(x2)))
    after = next(s for s in outer.get_config()["layers"] if s["name"] == "after")
    # the model's second call overall, its first inside `outer`: Keras writes 0 too
    assert after["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["inner", 0, 0]
    rebuilt = fk.Model.from_config(outer.get_config())
    rebuilt.set_weights(outer.get_weights())
    np.testing.assert_allclose(predict(rebuilt), predict(outer), rtol=1e-6)


def test_nested_model_trains_inside_outer_model():
    model = build(fk)
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, np.ones((5, 1), "float32"), epochs=1, verbose=0)
    assert all(not np.allclose(b, a) for b, a in zip(before, model.get_weights()))


def test_shared_nested_model_config_reloads_in_keras_and_back():
    def shared_build(lib):
        i = lib.Input((4,), name="inner_in")
        inner = lib.Model(i, lib.layers.Dense(3, activation="tanh")(i), name="inner")
        a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
        merged = lib.layers.Concatenate(name="merge")([inner(a), inner(b)])
        return lib.Model([a, b], lib.layers.Dense(1, name="head")(merged))

    ours = shared_build(fk)
    xs = [X, X[::-1].copy()]
    want = np.asarray(ours.predict(xs, verbose=0))
    in_keras = keras3.Model.from_config(json.loads(json.dumps(ours.get_config())))
    in_keras.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(in_keras.predict(xs, verbose=0)), want, rtol=1e-5,
                               atol=1e-6)
    back = fk.Model.from_config(json.loads(json.dumps(in_keras.get_config())))
    back.set_weights(in_keras.get_weights())
    np.testing.assert_allclose(np.asarray(back.predict(xs, verbose=0)), want, rtol=1e-5,
                               atol=1e-6)
