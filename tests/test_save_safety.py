"""Damaged, foreign or mismatched files give a clear error naming the file and the problem,
never a crash; saves are atomic (a failure leaves the previous file and no temporary files)."""

import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import fastkeras as keras


def small(units=(8, 3)):
    model = keras.Sequential([keras.Input(shape=(5,))] +
                             [keras.layers.Dense(u, activation="relu") for u in units])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture
def saved(tmp_path):
    model = small()
    model.fit(np.ones((4, 5), np.float32), np.ones((4, 3), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "good.keras")
    model.save(tmp_path / "good.h5")
    model.save_weights(tmp_path / "good.weights.h5")
    return model


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        keras.models.load_model(tmp_path / "nope.keras")
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        small().load_weights(tmp_path / "nope.weights.h5")
    with pytest.raises(ValueError, match="is a directory"):
        keras.models.load_model(tmp_path)


@pytest.mark.parametrize("name", ["random.keras", "random.h5", "random.weights.h5"])
def test_random_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        small().load_weights(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("model: a dense net\n")
    with pytest.raises(ValueError, match=r"notes\.h5.*neither a \.keras zip nor an HDF5"):
        keras.models.load_model(path)


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_keras_zip(tmp_path, saved, keep):
    data = (tmp_path / "good.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"cut\.keras.*(truncated|damaged)"):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match=r"cut\.keras"):
        saved.load_weights(path)


def test_truncated_h5(tmp_path, saved):
    for name in ("good.h5", "good.weights.h5"):
        data = (tmp_path / name).read_bytes()
        path = tmp_path / ("cut_" + name)
        path.write_bytes(data[:len(data) // 2])
        with pytest.raises(ValueError, match="cut_"):
            keras.models.load_model(path)
        with pytest.raises(ValueError, match="cut_"):
            saved.load_weights(path)


def _rezip(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for item in z.namelist():
            if item in drop:
                continue
            out.writestr(item, (replace or {}).get(item, z.read(item)))


def test_zip_without_config_or_weights(tmp_path, saved):
    _rezip(tmp_path / "good.keras", tmp_path / "noconfig.keras", drop=["config.json"])
    with pytest.raises(ValueError, match=r"noconfig\.keras.*no 'config\.json'"):
        keras.models.load_model(tmp_path / "noconfig.keras")
    _rezip(tmp_path / "good.keras", tmp_path / "noweights.keras", drop=["model.weights.h5"])
    with pytest.raises(ValueError, match=r"noweights\.keras.*no 'model\.weights\.h5'"):
        keras.models.load_model(tmp_path / "noweights.keras")
    _rezip(tmp_path / "good.keras", tmp_path / "badjson.keras",
           replace={"config.json": b"{not json"})
    with pytest.raises(ValueError, match=r"badjson\.keras.*config\.json is not valid JSON"):
        keras.models.load_model(tmp_path / "badjson.keras")
    _rezip(tmp_path / "good.keras", tmp_path / "badweights.keras",
           replace={"model.weights.h5": b"garbage"})
    with pytest.raises(ValueError, match=r"badweights\.keras.*model\.weights\.h5"):
        keras.models.load_model(tmp_path / "badweights.keras")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"other\.zip.*no 'config\.json'"):
        keras.models.load_model(tmp_path / "other.zip")


def test_h5_without_model_config(tmp_path, saved):
    with pytest.raises(ValueError, match=r"good\.weights\.h5.*no 'model_config'"):
        keras.models.load_model(tmp_path / "good.weights.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(ValueError, match=r"plain\.h5.*no 'model_config'"):
        keras.models.load_model(tmp_path / "plain.h5")
    with pytest.raises(ValueError, match=r"plain\.h5.*not a Keras \.weights\.h5"):
        saved.load_weights(tmp_path / "plain.h5")
    with h5py.File(tmp_path / "badconfig.h5", "w") as f:
        f.attrs["model_config"] = "{oops"
        f.create_group("model_weights")
    with pytest.raises(ValueError, match=r"badconfig\.h5.*model_config.*not valid JSON"):
        keras.models.load_model(tmp_path / "badconfig.h5")
    with h5py.File(tmp_path / "unknown.h5", "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Mystery", "config": {}})
        f.create_group("model_weights")
    with pytest.raises(ValueError, match=r"unknown\.h5.*Unknown model class 'Mystery'"):
        keras.models.load_model(tmp_path / "unknown.h5")


@pytest.mark.parametrize("name", ["good.weights.h5", "good.keras", "good.h5"])
def test_loading_into_a_different_architecture_names_layer_and_shapes(tmp_path, saved, name):
    other = small(units=(8, 4))  # the second Dense differs: (8, 3) saved, (8, 4) here
    before = [w.numpy().copy() for w in other.weights]
    with pytest.raises(ValueError, match=r"dense_3.*\(8, 4\).*\(8, 3\)") as info:
        other.load_weights(tmp_path / name)
    assert name in str(info.value)
    # Nothing was changed, not even the first (matching) layer.
    for w, b in zip(other.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_missing_layer_in_file_is_named(tmp_path, saved):
    deeper = small(units=(8, 3, 2))
    with pytest.raises(ValueError, match=r"dense_4.*no entry 'layers/dense_2/vars'"):
        deeper.load_weights(tmp_path / "good.weights.h5")


def test_skip_mismatch_loads_what_fits(tmp_path, saved):
    other = small(units=(8, 4))
    with pytest.warns(UserWarning, match="dense_3"):
        other.load_weights(tmp_path / "good.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.layers[0].kernel.numpy(), saved.layers[0].kernel.numpy())


def _fail_midway(monkeypatch):
    """Every HDF5 dataset write after the second fails, as on a full disk."""
    real = h5py.Group.create_dataset
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", flaky)


@pytest.mark.parametrize("name", ["good.weights.h5", "good.keras", "good.h5"])
def test_failed_saves_leave_the_previous_file(tmp_path, saved, monkeypatch, name):
    path = tmp_path / name
    before = path.read_bytes()
    _fail_midway(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        if name.endswith(".weights.h5"):
            saved.save_weights(path)
        else:
            saved.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
    with pytest.raises(FileExistsError):
        saved.save_weights(tmp_path / "good.weights.h5", overwrite=False)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        saved.save_weights(tmp_path / "w.h5")


def test_model_checkpoint_writes_atomically(tmp_path, monkeypatch):
    model = small()
    x, y = np.ones((8, 5), np.float32), np.ones((8, 3), np.float32)
    for path, weights_only in ((tmp_path / "ckpt.weights.h5", True),
                               (tmp_path / "ckpt.keras", False)):
        cb = keras.callbacks.ModelCheckpoint(str(path), save_weights_only=weights_only)
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
        before = path.read_bytes()
        _fail_midway(monkeypatch)
        with pytest.raises(OSError, match="disk full"):
            model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
        loaded = small()
        loaded.load_weights(path)


def test_load_weights_reads_a_keras_file(tmp_path, saved):
    # A .keras file's weights can be loaded with load_weights, as in Keras.
    fresh = small()
    fresh.load_weights(tmp_path / "good.keras")
    x = np.ones((2, 5), np.float32)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), saved.predict(x, verbose=0))
