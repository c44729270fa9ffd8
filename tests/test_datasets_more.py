"""IMDB, Reuters, Boston/California housing and CIFAR-10/100 loaders, on small fake archives
in Keras's formats. Results are compared with real Keras 3's loaders reading the very same
files (their `get_file` patched to return the fake path); nothing is downloaded except from
a local HTTP server on 127.0.0.1."""

import hashlib
import json
import os
import pickle
import socket
import tarfile

import numpy as np
import pytest

from fastkeras.backend import config as fk_config
from fastkeras.datasets import (
    DatasetNotFoundError,
    _files,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    imdb,
    reuters,
)
from file_server import Server

# ----------------------------------------------------------------------------- helpers


def sha(data):
    return hashlib.sha256(data).hexdigest()


def md5(data):
    return hashlib.md5(data).hexdigest()


def dead_url(name):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/{name}"


def object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = s
    return out


def fake_sequences(rng, n, vocab=30, lengths=(0, 14)):
    """Ragged lists of Python ints in [1, vocab], as the real archives store them."""
    return [[int(w) for w in rng.integers(1, vocab + 1, int(rng.integers(*lengths)))]
            for _ in range(n)]


def write_imdb(path, seed=0, n_train=17, n_test=13, equal_length=None):
    rng = np.random.default_rng(seed)
    lengths = (equal_length, equal_length + 1) if equal_length else (1, 14)
    arrays = dict(
        x_train=object_array(fake_sequences(rng, n_train, lengths=lengths)),
        y_train=rng.integers(0, 2, n_train),
        x_test=object_array(fake_sequences(rng, n_test, lengths=lengths)),
        y_test=rng.integers(0, 2, n_test),
    )
    np.savez(path, **arrays)
    return path


def write_reuters(path, seed=1, n=23):
    rng = np.random.default_rng(seed)
    np.savez(path, x=object_array(fake_sequences(rng, n, vocab=40, lengths=(1, 16))),
             y=rng.integers(0, 46, n))
    return path


def write_table(path, rows, cols, seed=2):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.normal(size=(rows, cols)), y=rng.uniform(5, 50, rows))
    return path


def pickled_batch(data, **labels):
    # bytes keys, as in the published (Python 2) pickles; protocol 3 stores bytes natively
    batch = {b"batch_label": b"fake batch", b"data": data,
             b"filenames": [b"img%d.png" % i for i in range(len(data))]}
    batch.update({k.encode(): v for k, v in labels.items()})
    return pickle.dumps(batch, protocol=3)


def write_tree_and_tar(root, inner, files, tar_path):
    """``files`` ({name: bytes}) under ``root/inner/``, and the same in a tar.gz."""
    folder = root / inner
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(folder, arcname=inner)
    return tar_path


def fake_cifar10(root, tar_path, per_batch=3, n_test=4, seed=3):
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(1, 6):
        files[f"data_batch_{i}"] = pickled_batch(
            rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            labels=[int(v) for v in rng.integers(0, 10, per_batch)])
    files["test_batch"] = pickled_batch(
        rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
        labels=[int(v) for v in rng.integers(0, 10, n_test)])
    return write_tree_and_tar(root, "cifar-10-batches-py", files, tar_path)


def fake_cifar100(root, tar_path, n_train=7, n_test=3, seed=4):
    rng = np.random.default_rng(seed)
    files = {}
    for name, n in (("train", n_train), ("test", n_test)):
        files[name] = pickled_batch(
            rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            fine_labels=[int(v) for v in rng.integers(0, 100, n)],
            coarse_labels=[int(v) for v in rng.integers(0, 20, n)])
    files["meta"] = pickle.dumps({b"fine_label_names": [b"x"] * 100}, protocol=3)
    return write_tree_and_tar(root, "cifar-100-python", files, tar_path)


def assert_same(ours, theirs, where="result"):
    """Equal values, types, dtypes and shapes, all the way down."""
    assert type(ours) is type(theirs), f"{where}: {type(ours)} vs {type(theirs)}"
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs), f"{where}: length {len(ours)} vs {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} vs {theirs.dtype}"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} vs {theirs.shape}"
        if ours.dtype == object:
            for i, (a, b) in enumerate(zip(ours.ravel(), theirs.ravel())):
                assert_same(a, b, f"{where}.flat[{i}]")
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty fastkeras and Keras caches, and dead download URLs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("FASTKERAS_HOME", raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FASTKERAS_DATASETS", str(cache))
    for module, names in ((imdb, ("URL", "WORD_INDEX_URL")),
                          (reuters, ("URL", "WORD_INDEX_URL")),
                          (boston_housing, ("URL",)), (california_housing, ("URL",)),
                          (cifar10, ("URL",)), (cifar100, ("URL",))):
        for name in names:
            monkeypatch.setattr(module, name, dead_url(os.path.basename(getattr(module, name))))
    return tmp_path


def in_cache(isolated, monkeypatch, module, writer, name, *args, **kwargs):
    """Writes a fake archive as ``<cache>/<name>`` and makes it the module's release."""
    path = writer(isolated / "cache" / name, *args, **kwargs)
    monkeypatch.setattr(module, "FILE_HASH", sha(path.read_bytes()))
    return path


@pytest.fixture
def kds(monkeypatch):
    """Keras 3's dataset modules, with `get_file` returning whatever ``kds.serve`` set."""
    pytest.importorskip("keras")
    import keras.src.datasets.boston_housing as k_boston
    import keras.src.datasets.california_housing as k_california
    import keras.src.datasets.cifar10 as k_cifar10
    import keras.src.datasets.cifar100 as k_cifar100
    import keras.src.datasets.imdb as k_imdb
    import keras.src.datasets.reuters as k_reuters

    class Keras:
        imdb, reuters, boston_housing = k_imdb, k_reuters, k_boston
        california_housing, cifar10, cifar100 = k_california, k_cifar10, k_cifar100

        def serve(self, module, path):
            monkeypatch.setattr(module, "get_file", lambda *a, **k: str(path))

    return Keras()


# ----------------------------------------------------------------------------- IMDB

IMDB_ARGS = [
    {},
    {"num_words": 10},
    {"num_words": 0},
    {"skip_top": 4},
    {"num_words": 12, "skip_top": 5},
    {"maxlen": 9},
    {"maxlen": 0},
    {"maxlen": 12, "num_words": 15, "skip_top": 2},
    {"seed": 0},
    {"seed": 2**31},
    {"index_from": 0},
    {"index_from": 7, "num_words": 20},
    {"start_char": None},
    {"start_char": None, "index_from": 0},
    {"start_char": 5, "skip_top": 6},
    {"oov_char": None},
    {"oov_char": None, "num_words": 11, "skip_top": 4},
    {"oov_char": 0, "num_words": 11},
    {"start_char": 2, "oov_char": 1, "index_from": 2, "maxlen": 11, "seed": 7},
]


@pytest.mark.parametrize("kwargs", IMDB_ARGS, ids=lambda kw: repr(kw))
def test_imdb_matches_keras(isolated, monkeypatch, kds, kwargs):
    path = in_cache(isolated, monkeypatch, imdb, write_imdb, "imdb.npz")
    kds.serve(kds.imdb, path)
    ours = imdb.load_data(**kwargs)
    assert_same(ours, kds.imdb.load_data(**kwargs))
    (x_train, y_train), (x_test, y_test) = ours
    assert x_train.dtype == object and isinstance(x_train[0], list)
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test)


def test_imdb_equal_lengths_give_2d_object_array_like_keras(isolated, monkeypatch, kds):
    path = in_cache(isolated, monkeypatch, imdb, write_imdb, "imdb.npz", equal_length=5)
    kds.serve(kds.imdb, path)
    ours = imdb.load_data()
    assert ours[0][0].shape == (17, 6)  # numpy builds a 2-D object array from equal lists
    assert_same(ours, kds.imdb.load_data())


def test_imdb_defaults_and_processing(isolated, monkeypatch):
    path = in_cache(isolated, monkeypatch, imdb, write_imdb, "imdb.npz")
    raw = _files.load_npz(str(path))
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    order = np.arange(17)
    rng = np.random.RandomState(113)
    rng.shuffle(order)
    top = max(max(s) for s in list(raw["x_train"]) + list(raw["x_test"])) + 3
    for got, src in zip(x_train, raw["x_train"][order]):
        assert got[0] == 1
        assert got[1:] == [w + 3 if w + 3 < top else 2 for w in src]
    np.testing.assert_array_equal(y_train, raw["y_train"][order])
    assert len(x_test) == 13 and y_test.dtype == raw["y_test"].dtype


def test_imdb_maxlen_too_small_names_it(isolated, monkeypatch, kds):
    in_cache(isolated, monkeypatch, imdb, write_imdb, "imdb.npz")
    with pytest.raises(ValueError, match="maxlen=2"):
        imdb.load_data(maxlen=2)


def test_imdb_unknown_kwargs_warn(isolated, monkeypatch):
    in_cache(isolated, monkeypatch, imdb, write_imdb, "imdb.npz")
    with pytest.warns(UserWarning, match="nb_words"):
        imdb.load_data(nb_words=5)


@pytest.mark.parametrize("kwargs,exc,text", [
    ({"num_words": -1}, ValueError, "num_words=-1"),
    ({"num_words": 2.5}, TypeError, "num_words=2.5"),
    ({"skip_top": None}, TypeError, "skip_top=None"),
    ({"skip_top": -3}, ValueError, "skip_top=-3"),
    ({"maxlen": "10"}, TypeError, "maxlen='10'"),
    ({"index_from": -1}, ValueError, "index_from=-1"),
    ({"start_char": 1.0}, TypeError, "start_char=1.0"),
    ({"oov_char": True}, TypeError, "oov_char=True"),
    ({"seed": -5}, ValueError, "seed=-5"),
])
def test_sequence_argument_errors(isolated, kwargs, exc, text):
    for loader in (imdb.load_data, reuters.load_data):
        with pytest.raises(exc, match=text):
            loader(**kwargs)


def test_imdb_word_index(isolated, monkeypatch, kds):
    blob = json.dumps({"the": 1, "and": 2, "a": 3, "café": 4}).encode()
    path = isolated / "cache" / "imdb_word_index.json"
    path.write_bytes(blob)
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", md5(blob))
    kds.serve(kds.imdb, path)
    assert imdb.get_word_index() == kds.imdb.get_word_index() == json.loads(blob)


def test_imdb_bad_checksum_skipped_then_clear_error(isolated, monkeypatch):
    write_imdb(isolated / "cache" / "imdb.npz")
    with pytest.warns(UserWarning, match="checksum") as record, \
            pytest.raises(DatasetNotFoundError) as info:
        imdb.load_data()
    assert str(isolated / "cache" / "imdb.npz") in str(record[0].message)
    msg = str(info.value)
    assert "imdb.npz" in msg and imdb.URL in msg and str(isolated / "cache") in msg
    assert isinstance(info.value, FileNotFoundError)


def test_imdb_offline_error_names_file_and_url(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_data()
    msg = str(info.value)
    assert "'imdb.npz'" in msg and imdb.URL in msg
    assert os.path.join(str(isolated / "home"), ".keras", "datasets", "imdb.npz") in msg
    with pytest.raises(DatasetNotFoundError, match="imdb_word_index.json") as info:
        imdb.get_word_index()
    assert imdb.WORD_INDEX_URL in str(info.value)


def test_imdb_bad_cache_copy_falls_back_to_keras_cache(isolated, monkeypatch):
    good = write_imdb(isolated / "good.npz")
    monkeypatch.setattr(imdb, "FILE_HASH", sha(good.read_bytes()))
    keras_dir = isolated / "home" / ".keras" / "datasets"
    keras_dir.mkdir(parents=True)
    (keras_dir / "imdb.npz").write_bytes(good.read_bytes())
    write_imdb(isolated / "cache" / "imdb.npz", seed=9)  # a different file: wrong hash
    with pytest.warns(UserWarning, match="checksum"):
        result = imdb.load_data(path="imdb.npz")
    assert_same(result, imdb.load_data(path=str(good)))


def test_keras_home_is_honoured(isolated, monkeypatch):
    (isolated / "kh" / "datasets").mkdir(parents=True)
    path = write_imdb(isolated / "kh" / "datasets" / "imdb.npz")
    monkeypatch.setattr(imdb, "FILE_HASH", sha(path.read_bytes()))
    monkeypatch.setenv("KERAS_HOME", str(isolated / "kh"))
    assert len(imdb.load_data()[0][0]) == 17


def test_imdb_download_verified_and_cached(isolated, monkeypatch, capsys):
    blob = write_imdb(isolated / "src.npz").read_bytes()
    words = json.dumps({"good": 1}).encode()
    monkeypatch.setattr(imdb, "FILE_HASH", sha(blob))
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", md5(words))
    with Server({"imdb.npz": blob, "imdb_word_index.json": words}) as srv:
        monkeypatch.setattr(imdb, "URL", srv.url + "imdb.npz")
        monkeypatch.setattr(imdb, "WORD_INDEX_URL", srv.url + "imdb_word_index.json")
        first = imdb.load_data()
        assert (isolated / "cache" / "imdb.npz").read_bytes() == blob
        assert "imdb.npz" in capsys.readouterr().err  # progress report
        assert_same(imdb.load_data(), first)
        assert imdb.get_word_index() == {"good": 1}
        assert imdb.get_word_index() == {"good": 1}
        assert srv.requests == ["imdb.npz", "imdb_word_index.json"]


def test_download_with_wrong_md5_writes_nothing(isolated, monkeypatch):
    with Server({"imdb_word_index.json": b"{}"}) as srv:
        monkeypatch.setattr(imdb, "WORD_INDEX_URL", srv.url + "imdb_word_index.json")
        monkeypatch.setattr(imdb, "WORD_INDEX_HASH", "0" * 32)
        with pytest.raises(ValueError, match="Checksum mismatch.*MD5"):
            imdb.get_word_index()
    assert os.listdir(isolated / "cache") == []


class _Gadget:
    def __reduce__(self):
        return (os.getcwd, ())


def test_npz_with_code_in_pickle_is_refused(isolated, monkeypatch):
    path = isolated / "cache" / "imdb.npz"
    arrays = dict(x_train=object_array([[1, 2], _Gadget()]), y_train=np.zeros(2, int),
                  x_test=object_array([[1], [2, 3]]), y_test=np.zeros(2, int))
    np.savez(path, **arrays)
    monkeypatch.setattr(imdb, "FILE_HASH", sha(path.read_bytes()))
    with pytest.raises(ValueError, match="refusing to load"):
        imdb.load_data()


def test_not_an_imdb_archive(isolated, monkeypatch):
    path = isolated / "cache" / "imdb.npz"
    np.savez(path, x=np.zeros(3))
    monkeypatch.setattr(imdb, "FILE_HASH", sha(path.read_bytes()))
    with pytest.raises(ValueError, match="not the IMDB archive.*missing arrays"):
        imdb.load_data()


# ----------------------------------------------------------------------------- Reuters

REUTERS_ARGS = [
    {},
    {"test_split": 0.0},
    {"test_split": 0.5},
    {"test_split": 1.0},
    {"test_split": 0.33, "seed": 5},
    {"num_words": 12, "skip_top": 3},
    {"maxlen": 10},
    {"maxlen": 10, "test_split": 0.4, "num_words": 25},
    {"start_char": None, "index_from": 0},
    {"oov_char": None, "num_words": 20},
    {"index_from": 10, "start_char": 3, "oov_char": 4, "skip_top": 5},
]


@pytest.mark.parametrize("kwargs", REUTERS_ARGS, ids=lambda kw: repr(kw))
def test_reuters_matches_keras(isolated, monkeypatch, kds, kwargs):
    path = in_cache(isolated, monkeypatch, reuters, write_reuters, "reuters.npz")
    kds.serve(kds.reuters, path)
    assert_same(reuters.load_data(**kwargs), kds.reuters.load_data(**kwargs))


def test_reuters_split_sizes(isolated, monkeypatch):
    in_cache(isolated, monkeypatch, reuters, write_reuters, "reuters.npz")
    (x_train, y_train), (x_test, y_test) = reuters.load_data()
    assert len(x_train) == len(y_train) == int(23 * 0.8)
    assert len(x_test) == len(y_test) == 23 - int(23 * 0.8)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", None])
def test_reuters_test_split_error(isolated, bad):
    with pytest.raises(ValueError, match=f"test_split={bad!r}"):
        reuters.load_data(test_split=bad)


def test_reuters_word_index_and_labels(isolated, monkeypatch, kds):
    blob = json.dumps({"said": 1, "mln": 2}).encode()
    path = isolated / "cache" / "reuters_word_index.json"
    path.write_bytes(blob)
    monkeypatch.setattr(reuters, "WORD_INDEX_HASH", md5(blob))
    kds.serve(kds.reuters, path)
    assert reuters.get_word_index() == kds.reuters.get_word_index() == {"said": 1, "mln": 2}
    assert reuters.get_label_names() == kds.reuters.get_label_names()
    assert len(reuters.get_label_names()) == 46


def test_reuters_offline_error(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        reuters.load_data()
    assert "'reuters.npz'" in str(info.value) and reuters.URL in str(info.value)


# ----------------------------------------------------------------------------- housing

@pytest.mark.parametrize("kwargs", [{}, {"test_split": 0.0}, {"test_split": 0.5},
                                    {"test_split": 0.9, "seed": 1}, {"seed": 0}])
def test_boston_matches_keras(isolated, monkeypatch, kds, kwargs):
    path = in_cache(isolated, monkeypatch, boston_housing, write_table, "boston_housing.npz",
                    rows=31, cols=13)
    kds.serve(kds.boston_housing, path)
    ours = boston_housing.load_data(**kwargs)
    assert_same(ours, kds.boston_housing.load_data(**kwargs))
    x_train = ours[0][0]
    assert x_train.shape[1:] == (13,) and x_train.dtype == np.float64
    assert len(x_train) == int(31 * (1 - kwargs.get("test_split", 0.2)))


@pytest.mark.parametrize("kwargs", [{}, {"version": "small"}, {"version": "large"},
                                    {"version": "small", "test_split": 0.25, "seed": 3},
                                    {"test_split": 0.0}])
def test_california_matches_keras(isolated, monkeypatch, kds, kwargs):
    path = in_cache(isolated, monkeypatch, california_housing, write_table,
                    "california_housing.npz", rows=650, cols=8)
    kds.serve(kds.california_housing, path)
    ours = california_housing.load_data(**kwargs)
    assert_same(ours, kds.california_housing.load_data(**kwargs))
    rows = 600 if kwargs.get("version") == "small" else 650
    assert len(ours[0][0]) + len(ours[1][0]) == rows


@pytest.mark.parametrize("loader", [boston_housing.load_data, california_housing.load_data])
@pytest.mark.parametrize("bad", [1, 1.0, -0.5, "x"])
def test_housing_test_split_errors(isolated, loader, bad):
    with pytest.raises(ValueError, match=f"test_split={bad!r}"):
        loader(test_split=bad)


def test_california_version_error(isolated):
    with pytest.raises(ValueError, match="version='medium'"):
        california_housing.load_data(version="medium")


def test_housing_bad_checksum_and_offline(isolated, monkeypatch):
    write_table(isolated / "cache" / "boston_housing.npz", 10, 13)
    with pytest.warns(UserWarning, match="checksum"), \
            pytest.raises(DatasetNotFoundError) as info:
        boston_housing.load_data()
    assert "boston_housing.npz" in str(info.value) and boston_housing.URL in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="california_housing.npz"):
        california_housing.load_data()


def test_boston_download(isolated, monkeypatch):
    blob = write_table(isolated / "src.npz", 20, 13).read_bytes()
    monkeypatch.setattr(boston_housing, "FILE_HASH", sha(blob))
    with Server({"boston_housing.npz": blob}) as srv:
        monkeypatch.setattr(boston_housing, "URL", srv.url + "boston_housing.npz")
        (x_train, _), (x_test, _) = boston_housing.load_data()
        boston_housing.load_data()
        assert srv.requests == ["boston_housing.npz"]
    assert x_train.shape == (16, 13) and x_test.shape == (4, 13)


# ----------------------------------------------------------------------------- CIFAR

@pytest.fixture
def cifar10_fake(isolated, monkeypatch):
    tar = fake_cifar10(isolated / "extracted", isolated / "cache" / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    return isolated / "extracted", tar


def test_cifar10_from_archive(cifar10_fake):
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert y_train.shape == (15, 1) and y_test.shape == (4, 1)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    # the first pixel of the first image: its red, green and blue values are bytes 0, 1024
    # and 2048 of the first data row
    with tarfile.open(cifar10_fake[1]) as tar:
        batch = pickle.load(tar.extractfile("cifar-10-batches-py/data_batch_1"),
                            encoding="bytes")
    np.testing.assert_array_equal(x_train[0, 0, 0], batch[b"data"][0, [0, 1024, 2048]])
    np.testing.assert_array_equal(x_train[0, 0, 1], batch[b"data"][0, [1, 1025, 2049]])
    np.testing.assert_array_equal(x_train[0, 1, 0], batch[b"data"][0, [32, 1056, 2080]])
    assert y_train[:3, 0].tolist() == batch[b"labels"]


def test_cifar10_matches_keras(isolated, monkeypatch, kds):
    # Keras fills a preallocated (50000, ...) array 10,000 rows per batch, so with
    # one-image batches each batch's image is broadcast over its 10,000 rows: compare one
    # row per batch, and the test batch (read as is) in full.
    extracted = isolated / "extracted"
    tar = fake_cifar10(extracted, isolated / "cache" / "cifar-10-python.tar.gz",
                       per_batch=1, n_test=5)
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    kds.serve(kds.cifar10, extracted)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    (kx_train, ky_train), (kx_test, ky_test) = kds.cifar10.load_data()
    assert kx_train.shape == (50000, 32, 32, 3)
    assert_same(x_train, kx_train[::10000])
    assert_same(y_train, ky_train[::10000])
    assert_same(x_test, kx_test)
    assert_same(y_test, ky_test)


@pytest.mark.slow
def test_cifar10_full_size_matches_keras(isolated, monkeypatch, kds):
    """Batches of Keras's real sizes (5 x 10,000 + 10,000 images), compared in full."""
    extracted = isolated / "extracted"
    tar = fake_cifar10(extracted, isolated / "cache" / "cifar-10-python.tar.gz",
                       per_batch=10000, n_test=10000)
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    kds.serve(kds.cifar10, extracted)
    ours, theirs = cifar10.load_data(), kds.cifar10.load_data()
    assert ours[0][0].shape == (50000, 32, 32, 3) and ours[1][1].shape == (10000, 1)
    assert_same(ours, theirs)


def test_cifar10_channels_first_like_keras(isolated, monkeypatch, kds):
    import keras

    extracted = isolated / "extracted"
    tar = fake_cifar10(extracted, isolated / "cache" / "cifar-10-python.tar.gz",
                       per_batch=1, n_test=3)
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    kds.serve(kds.cifar10, extracted)
    before_fk, before_k = fk_config.image_data_format(), keras.config.image_data_format()
    try:
        fk_config.set_image_data_format("channels_first")
        keras.config.set_image_data_format("channels_first")
        (x_train, _), (x_test, y_test) = cifar10.load_data()
        (kx_train, _), (kx_test, ky_test) = kds.cifar10.load_data()
    finally:
        fk_config.set_image_data_format(before_fk)
        keras.config.set_image_data_format(before_k)
    assert x_test.shape == (3, 3, 32, 32)
    assert_same(x_train, kx_train[::10000])
    assert_same((x_test, y_test), (kx_test, ky_test))


@pytest.mark.parametrize("layout", ["keras3-folder", "keras3-archive", "keras2-folder",
                                    "keras2-archive", "cache-folder"])
def test_cifar10_found_in_other_places(isolated, monkeypatch, layout):
    staging = isolated / "staging"
    tar = fake_cifar10(staging, isolated / "staging.tgz")
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    keras_dir = isolated / "home" / ".keras" / "datasets"
    keras_dir.mkdir(parents=True)
    inner = staging / "cifar-10-batches-py"
    if layout == "keras3-folder":
        (keras_dir / "cifar-10-batches-py-target").mkdir()
        inner.rename(keras_dir / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    elif layout == "keras3-archive":
        tar.rename(keras_dir / "cifar-10-batches-py-target_archive")
    elif layout == "keras2-folder":
        inner.rename(keras_dir / "cifar-10-batches-py")
    elif layout == "keras2-archive":
        tar.rename(keras_dir / "cifar-10-batches-py.tar.gz")
    else:
        inner.rename(isolated / "cache" / "cifar-10-batches-py")
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (15, 32, 32, 3) and y_test.shape == (4, 1)
    assert y_train.dtype == np.uint8 and x_test.dtype == np.uint8


def test_cifar10_bad_checksum_skipped_then_clear_error(isolated, monkeypatch):
    tar = fake_cifar10(isolated / "x", isolated / "cache" / "cifar-10-python.tar.gz")
    assert tar.exists()  # FILE_HASH is still the real release's: this copy fails it
    with pytest.warns(UserWarning, match="checksum"), \
            pytest.raises(DatasetNotFoundError) as info:
        cifar10.load_data()
    msg = str(info.value)
    assert "cifar-10-python.tar.gz" in msg and cifar10.URL in msg
    assert isinstance(info.value, FileNotFoundError)


def test_cifar_offline_errors(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        cifar10.load_data()
    assert "'cifar-10-python.tar.gz'" in str(info.value) and cifar10.URL in str(info.value)
    assert str(isolated / "home" / ".keras" / "datasets") in str(info.value)
    with pytest.raises(DatasetNotFoundError) as info:
        cifar100.load_data()
    assert "cifar-100-python.tar.gz" in str(info.value) and cifar100.URL in str(info.value)


def test_cifar10_download(isolated, monkeypatch):
    tar = fake_cifar10(isolated / "x", isolated / "src.tgz")
    blob = tar.read_bytes()
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(blob))
    with Server({"cifar-10-python.tar.gz": blob}) as srv:
        monkeypatch.setattr(cifar10, "URL", srv.url + "cifar-10-python.tar.gz")
        first = cifar10.load_data()
        assert_same(cifar10.load_data(), first)
        assert srv.requests == ["cifar-10-python.tar.gz"]
    assert (isolated / "cache" / "cifar-10-python.tar.gz").read_bytes() == blob


def test_cifar_pickle_with_code_is_refused(isolated, monkeypatch):
    files = {f"data_batch_{i}": pickle.dumps({b"data": _Gadget()}) for i in range(1, 6)}
    files["test_batch"] = files["data_batch_1"]
    tar = write_tree_and_tar(isolated / "x", "cifar-10-batches-py", files,
                             isolated / "cache" / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "FILE_HASH", sha(tar.read_bytes()))
    with pytest.warns(UserWarning, match="refusing to load"), \
            pytest.raises(DatasetNotFoundError):
        cifar10.load_data()


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(isolated, monkeypatch, kds, label_mode):
    extracted = isolated / "extracted"
    tar = fake_cifar100(extracted, isolated / "cache" / "cifar-100-python.tar.gz")
    monkeypatch.setattr(cifar100, "FILE_HASH", sha(tar.read_bytes()))
    kds.serve(kds.cifar100, extracted)
    ours = cifar100.load_data(label_mode=label_mode)
    assert_same(ours, kds.cifar100.load_data(label_mode=label_mode))
    (x_train, y_train), (x_test, y_test) = ours
    assert x_train.shape == (7, 32, 32, 3) and y_train.shape == (7, 1)
    assert x_test.shape == (3, 32, 32, 3) and y_test.shape == (3, 1)
    assert y_train.max() < (100 if label_mode == "fine" else 20)


def test_cifar100_default_is_fine(isolated, monkeypatch):
    tar = fake_cifar100(isolated / "x", isolated / "cache" / "cifar-100-python.tar.gz")
    monkeypatch.setattr(cifar100, "FILE_HASH", sha(tar.read_bytes()))
    assert_same(cifar100.load_data(), cifar100.load_data("fine"))


@pytest.mark.parametrize("bad", ["Fine", "medium", None])
def test_cifar100_label_mode_error(isolated, bad):
    with pytest.raises(ValueError, match=f"label_mode={bad!r}"):
        cifar100.load_data(label_mode=bad)


def test_exports():
    import fastkeras as keras

    for name in ("imdb", "reuters", "boston_housing", "california_housing", "cifar10",
                 "cifar100", "mnist", "fashion_mnist"):
        assert hasattr(keras.datasets, name) and name in keras.datasets.__all__
    assert callable(keras.datasets.imdb.get_word_index)
    assert callable(keras.datasets.reuters.get_label_names)
