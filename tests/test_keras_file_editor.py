"""`fastkeras.saving.KerasFileEditor` against Keras 3's `keras.saving.KerasFileEditor`: the
same nested weights for the same file, the same comparison results and errors, and edited
files that both libraries load."""

import os

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.saving import KerasFileEditor


def _tree(d):
    """A weights dict with plain dicts and numpy arrays (for exact comparison)."""
    return {k: _tree(v) if isinstance(v, dict) else np.asarray(v) for k, v in d.items()}


def _assert_same_tree(a, b):
    a, b = _tree(a), _tree(b)
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], dict):
            assert isinstance(b[key], dict), key
            _assert_same_tree(a[key], b[key])
        else:
            assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key])


def _fk_model(units=(4, 2), compile=False, bn=False):
    layers = [fk.Input((3,)), fk.layers.Dense(units[0])]
    if bn:
        layers.append(fk.layers.BatchNormalization())
    layers.append(fk.layers.Dense(units[1]))
    model = fk.Sequential(layers)
    if compile:
        model.compile("adam", "mse")
        model.fit(np.ones((4, 3), "float32"), np.ones((4, units[1]), "float32"), verbose=0)
    return model


def _keras_model(keras, units=(4, 2), bn=False):
    layers = [keras.Input((3,)), keras.layers.Dense(units[0])]
    if bn:
        layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.Dense(units[1]))
    return keras.Sequential(layers)


def _keras_weights(model):
    import keras
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


@pytest.fixture
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_weights_dict_and_summary_match_keras(keras, tmp_path, capsys, suffix):
    model = _fk_model(compile=True, bn=True)
    path = str(tmp_path / f"m{suffix}")
    model.save(path) if suffix == ".keras" else model.save_weights(path)
    ours = KerasFileEditor(path)
    theirs = keras.saving.KerasFileEditor(path)
    _assert_same_tree(ours.weights_dict, theirs.weights_dict)
    assert ours.weights_dict["layers"]["dense"]["0"].shape == (3, 4)
    np.testing.assert_array_equal(ours.weights_dict["layers"]["dense"]["0"],
                                  np.asarray(model.layers[0].kernel.value))
    assert len(ours.weights_dict["optimizer"]) == len(model.optimizer.variables)
    if suffix == ".keras":
        assert ours.config == theirs.config and ours.metadata == theirs.metadata
    capsys.readouterr()
    ours.summary()
    ours_text = capsys.readouterr().out
    theirs.summary()
    assert ours_text == capsys.readouterr().out
    assert ours_text.startswith("Weights structure\n  > layers\n")
    ours.weights_summary()
    assert capsys.readouterr().out == ours_text


def test_keras_written_file_reads_the_same(keras, tmp_path):
    model = _keras_model(keras, bn=True)
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    model.save(tmp_path / "k.keras")
    ours = KerasFileEditor(tmp_path / "k.keras")
    theirs = keras.saving.KerasFileEditor(str(tmp_path / "k.keras"))
    _assert_same_tree(ours.weights_dict, theirs.weights_dict)
    # (the layer's name is Keras's automatic one, which counts across the whole test run)
    assert ours.object_metadata["/layers/dense"] == theirs.object_metadata["/layers/dense"] \
        == {"name": model.layers[0].name}


def test_compare_matches_keras(keras, tmp_path):
    model = _fk_model(compile=True, bn=True)
    model.save(tmp_path / "m.keras")
    keras_model = keras.saving.load_model(tmp_path / "m.keras")
    ours = KerasFileEditor(tmp_path / "m.keras")
    theirs = keras.saving.KerasFileEditor(str(tmp_path / "m.keras"))
    result = ours.compare(model)
    assert result == theirs.compare(keras_model)
    assert result["status"] == "success" and result["error_count"] == 0
    # A reference model with different shapes, and one without some of the file's objects.
    other = _fk_model(units=(5, 2), bn=True)
    other_keras = _keras_model(keras, units=(5, 2), bn=True)
    result = ours.compare(other)
    assert result == theirs.compare(other_keras)
    assert result["status"] == "error" and result["error_count"] > 0
    small = _fk_model()
    assert ours.compare(small) == theirs.compare(_keras_model(keras))


def _edit_both(path, edits, keras):
    ours = KerasFileEditor(path)
    theirs = keras.saving.KerasFileEditor(str(path))
    for method, args in edits:
        getattr(ours, method)(*args)
        getattr(theirs, method)(*args)
    _assert_same_tree(ours.weights_dict, theirs.weights_dict)
    return ours, theirs


def test_edits_agree_with_keras_and_files_load_in_both(keras, tmp_path):
    model = _fk_model(units=(3, 3))
    model.save_weights(tmp_path / "m.weights.h5")
    (k0, b0), (k1, _) = [[np.asarray(w.value) for w in layer.weights] for layer in model.layers]
    new_bias = np.arange(3, dtype="float32")
    extra = {"0": np.ones((2, 2), "float32")}
    edits = [
        ("rename_object", ("dense", "tmp")),          # swap the two layers' weights
        ("rename_object", ("layers/dense_1", "dense")),
        ("rename_object", ("tmp", "dense_1")),
        ("delete_weight", ("layers/dense", "1")),
        ("add_weights", ("dense", {"1": new_bias})),
        ("add_object", ("layers/extra", extra)),
        ("delete_object", ("extra",)),
        ("add_object", ("top", extra)),
        ("delete_object", ("top",)),
    ]
    ours, theirs = _edit_both(tmp_path / "m.weights.h5", edits, keras)
    ours.save(tmp_path / "ours.weights.h5")
    theirs.save(str(tmp_path / "theirs.weights.h5"))
    _assert_same_tree(KerasFileEditor(tmp_path / "ours.weights.h5").weights_dict,
                      KerasFileEditor(tmp_path / "theirs.weights.h5").weights_dict)
    want = [k1, new_bias, k0, b0]
    for name in ("ours", "theirs"):
        fk_model = _fk_model(units=(3, 3))
        fk_model.load_weights(tmp_path / f"{name}.weights.h5")
        for got, w in zip([np.asarray(v.value) for v in fk_model.weights], want):
            np.testing.assert_array_equal(got, w)
        keras_model = _keras_model(keras, units=(3, 3))
        keras_model.load_weights(tmp_path / f"{name}.weights.h5")
        for got, w in zip(_keras_weights(keras_model), want):
            np.testing.assert_array_equal(got, w)


def test_keras_file_edited_here_loads_in_keras_and_back(keras, tmp_path):
    keras_model = _keras_model(keras)
    keras_model.save(tmp_path / "k.keras")
    editor = KerasFileEditor(tmp_path / "k.keras")
    kernel = np.full((4, 2), 0.5, "float32")
    editor.delete_weight("dense_1", "0")
    editor.add_weights("layers/dense_1", {"0": kernel})
    editor.resave_weights(tmp_path / "k_edited.weights.h5")
    reloaded = _keras_model(keras)
    reloaded.load_weights(tmp_path / "k_edited.weights.h5")
    got = _keras_weights(reloaded)
    np.testing.assert_array_equal(got[2], kernel)
    np.testing.assert_array_equal(got[0], _keras_weights(keras_model)[0])

    # A fastkeras file edited by Keras's editor loads in fastkeras.
    model = _fk_model()
    model.save(tmp_path / "f.keras")
    theirs = keras.saving.KerasFileEditor(str(tmp_path / "f.keras"))
    theirs.add_weights("dense", {"1": np.full((4,), 2.0, "float32")})
    theirs.save(str(tmp_path / "f_edited.weights.h5"))
    again = _fk_model()
    again.load_weights(tmp_path / "f_edited.weights.h5")
    np.testing.assert_array_equal(np.asarray(again.layers[0].bias.value), np.full((4,), 2.0))
    np.testing.assert_array_equal(np.asarray(again.layers[0].kernel.value),
                                  np.asarray(model.layers[0].kernel.value))


@pytest.mark.parametrize("method, args", [
    ("rename_object", ("nope", "x")),
    ("rename_object", ("layers/nope", "x")),
    ("rename_object", ("dense", "a/b")),
    ("rename_object", ("0", "x")),                 # occurs in every layer
    ("delete_object", ("nope",)),
    ("delete_object", ("nowhere/dense",)),
    ("delete_weight", ("dense", "7")),
    ("delete_weight", ("nope", "0")),
    ("add_weights", ("dense", [1, 2])),
    ("add_weights", ("nope", {"0": np.zeros(2)})),
    ("add_object", ("nowhere/new", {"0": np.zeros(2)})),
    ("add_object", ("layers/new", np.zeros(2))),
])
def test_errors_match_keras(keras, tmp_path, method, args):
    _fk_model().save_weights(tmp_path / "m.weights.h5")
    ours = KerasFileEditor(tmp_path / "m.weights.h5")
    theirs = keras.saving.KerasFileEditor(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ValueError) as ours_error:
        getattr(ours, method)(*args)
    with pytest.raises(ValueError) as theirs_error:
        getattr(theirs, method)(*args)
    assert str(ours_error.value) == str(theirs_error.value)


def test_bad_file_names(keras, tmp_path):
    with pytest.raises(ValueError, match="expected a `.keras` `.weights.h5` extension"):
        KerasFileEditor(tmp_path / "m.h5")
    _fk_model().save_weights(tmp_path / "m.weights.h5")
    editor = KerasFileEditor(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError) as ours_error:
        editor.save(tmp_path / "out.keras")
    with pytest.raises(ValueError) as theirs_error:
        keras.saving.KerasFileEditor(str(tmp_path / "m.weights.h5")).save(
            str(tmp_path / "out.keras"))
    assert str(ours_error.value) == str(theirs_error.value)
    assert not os.path.exists(tmp_path / "out.keras")


def test_save_is_atomic(tmp_path, monkeypatch):
    from fastkeras.saving import file_editor
    _fk_model().save_weights(tmp_path / "m.weights.h5")
    before = (tmp_path / "m.weights.h5").read_bytes()
    editor = KerasFileEditor(tmp_path / "m.weights.h5")
    editor.delete_object("dense")

    def fail(f, tree, path=""):
        f.create_group("half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(file_editor, "_write_tree", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        editor.save(tmp_path / "m.weights.h5")
    assert (tmp_path / "m.weights.h5").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.weights.h5"]
    monkeypatch.undo()
    editor.save(tmp_path / "m.weights.h5")
    assert list(KerasFileEditor(tmp_path / "m.weights.h5").weights_dict["layers"]) == ["dense_1"]
