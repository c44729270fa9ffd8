"""Dataset loaders. Everything here runs offline: downloads go to a local HTTP server on
127.0.0.1 (or a port nobody listens on); only the `slow` test reads the real data, from
Debian's dataset-fashion-mnist package."""

import gzip
import hashlib
import io
import os
import socket
import struct

import numpy as np
import pytest

from fastkeras.datasets import DatasetNotFoundError, _files, fashion_mnist, mnist
from file_server import Server

# ----------------------------------------------------------------------------- helpers

def idx_bytes(arr):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
             np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    code = codes[np.dtype(big.dtype)]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + big.tobytes()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def fake_fashion(n_train=6, n_test=4, seed=0):
    """Fake Fashion-MNIST archives: {file name: gz bytes} and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {
        fashion_mnist.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        fashion_mnist.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        fashion_mnist.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        fashion_mnist.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    payloads = {k: idx_bytes(v) for k, v in arrays.items()}
    archives = {k: gz(v) for k, v in payloads.items()}
    return archives, payloads, arrays


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real cache, no Keras cache, no Debian dir, no network: each test adds what it
    needs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("FASTKERAS_HOME", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTKERAS_DATASETS", str(cache))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "no-debian"))
    monkeypatch.setattr(fashion_mnist, "BASE_URL", f"http://127.0.0.1:{dead_port()}/")
    monkeypatch.setattr(mnist, "URL", f"http://127.0.0.1:{dead_port()}/mnist.npz")
    return tmp_path


@pytest.fixture
def fake(monkeypatch):
    archives, payloads, arrays = fake_fashion()
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", {k: sha(v) for k, v in archives.items()})
    monkeypatch.setattr(fashion_mnist, "PAYLOAD_HASHES",
                        {k: sha(v) for k, v in payloads.items()})
    return archives, payloads, arrays


def write_files(folder, files, plain=False, payloads=None):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if plain:
            (folder / name[:-3]).write_bytes(payloads[name])
        else:
            (folder / name).write_bytes(data)


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_arrays(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, arrays[fashion_mnist.TRAIN_IMAGES])
    np.testing.assert_array_equal(y_train, arrays[fashion_mnist.TRAIN_LABELS])
    np.testing.assert_array_equal(x_test, arrays[fashion_mnist.TEST_IMAGES])
    np.testing.assert_array_equal(y_test, arrays[fashion_mnist.TEST_LABELS])
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8


# ----------------------------------------------------------------------------- IDX reader

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(arr)
    path = tmp_path / ("f.gz" if compress else "f")
    path.write_bytes(gz(data) if compress else data)
    out = _files.read_idx(str(path))
    assert out.shape == arr.shape
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_read_idx_detects_gzip_by_content(tmp_path):
    arr = np.arange(5, dtype=np.uint8)
    p = tmp_path / "labels.gz"  # plain data despite the name
    p.write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(_files.read_idx(str(p)), arr)


@pytest.mark.parametrize("mutate,message", [
    (lambda b: b"\x08\x03" + b[2:], "magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "element type"),
    (lambda b: b[:-10], "truncated IDX data"),
    (lambda b: b + b"xx", "unexpected bytes"),
    (lambda b: b[:10], "truncated IDX header"),
    (lambda b: b[:2], "not an IDX file"),
    (lambda b: b[:2] + b"\x08\x00", "0 dimensions"),
])
def test_read_idx_rejects_bad_files(tmp_path, mutate, message):
    data = idx_bytes(np.zeros((4, 5, 6), dtype=np.uint8))
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(mutate(data))
    with pytest.raises(ValueError, match=message) as info:
        _files.read_idx(str(path))
    assert str(path) in str(info.value)


def test_read_idx_truncated_gzip(tmp_path):
    data = gz(idx_bytes(np.arange(1000, dtype=np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="gzip") as info:
        _files.read_idx(str(path))
    assert "cut.gz" in str(info.value)


# ----------------------------------------------------------------------------- locations

def test_cache_location_env_vars(monkeypatch, tmp_path):
    monkeypatch.delenv("FASTKERAS_DATASETS", raising=False)
    monkeypatch.setenv("FASTKERAS_HOME", str(tmp_path / "fk"))
    assert _files.datasets_dir() == str(tmp_path / "fk" / "datasets")
    assert fashion_mnist.cache_dir() == str(tmp_path / "fk" / "datasets" / "fashion-mnist")
    monkeypatch.setenv("FASTKERAS_DATASETS", str(tmp_path / "data"))
    assert _files.datasets_dir() == str(tmp_path / "data")
    monkeypatch.delenv("FASTKERAS_DATASETS")
    monkeypatch.delenv("FASTKERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert _files.datasets_dir() == str(tmp_path / "h" / ".fastkeras" / "datasets")


def test_fashion_from_cache(isolated, fake):
    archives, _, arrays = fake
    write_files(isolated / "cache" / "fashion-mnist", archives)
    check_arrays(fashion_mnist.load_data(), arrays)


def test_fashion_from_fastkeras_home(isolated, fake, monkeypatch):
    archives, _, arrays = fake
    monkeypatch.delenv("FASTKERAS_DATASETS")
    monkeypatch.setenv("FASTKERAS_HOME", str(isolated / "fkhome"))
    write_files(isolated / "fkhome" / "datasets" / "fashion-mnist", archives)
    check_arrays(fashion_mnist.load_data(), arrays)


def test_fashion_plain_files_accepted(isolated, fake):
    archives, payloads, arrays = fake
    write_files(isolated / "cache" / "fashion-mnist", archives, plain=True, payloads=payloads)
    check_arrays(fashion_mnist.load_data(), arrays)


def test_fashion_from_debian_dir(isolated, fake, monkeypatch):
    archives, payloads, arrays = fake
    debian = isolated / "debian"
    # a re-compressed copy: archive hashes differ, content hashes match
    recompressed = {k: gzip.compress(payloads[k], compresslevel=1) for k in archives}
    assert all(sha(recompressed[k]) != sha(archives[k]) for k in archives)
    write_files(debian, recompressed)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(debian))
    check_arrays(fashion_mnist.load_data(), arrays)
    assert not (isolated / "cache" / "fashion-mnist").exists()  # nothing copied or fetched


def test_fashion_from_keras_cache(isolated, fake):
    archives, _, arrays = fake
    write_files(isolated / "home" / ".keras" / "datasets" / "fashion-mnist", archives)
    check_arrays(fashion_mnist.load_data(), arrays)


def test_fashion_corrupt_cache_file_falls_back_to_debian(isolated, fake, monkeypatch):
    archives, _, arrays = fake
    cache = isolated / "cache" / "fashion-mnist"
    write_files(cache, archives)
    (cache / fashion_mnist.TRAIN_IMAGES).write_bytes(b"garbage")
    debian = isolated / "debian"
    write_files(debian, archives)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(debian))
    with pytest.warns(UserWarning, match="checksum"):
        check_arrays(fashion_mnist.load_data(), arrays)


# ----------------------------------------------------------------------------- downloads

def test_fashion_download_from_local_server(isolated, fake, monkeypatch, capsys):
    archives, _, arrays = fake
    with Server(archives) as srv:
        monkeypatch.setattr(fashion_mnist, "BASE_URL", srv.url)
        check_arrays(fashion_mnist.load_data(), arrays)
        assert sorted(srv.requests) == sorted(archives)
        cache = isolated / "cache" / "fashion-mnist"
        assert sorted(os.listdir(cache)) == sorted(archives)
        for name, data in archives.items():
            assert (cache / name).read_bytes() == data
        err = capsys.readouterr().err
        assert "train-images-idx3-ubyte.gz" in err
        assert len(err.splitlines()) <= 4 * 6  # a few lines per file, not a flood
        # second call: served from the cache, no new requests
        check_arrays(fashion_mnist.load_data(), arrays)
        assert len(srv.requests) == 4


def test_fashion_download_only_missing_files(isolated, fake, monkeypatch):
    archives, _, arrays = fake
    partial = {k: v for k, v in archives.items() if k != fashion_mnist.TEST_LABELS}
    write_files(isolated / "cache" / "fashion-mnist", partial)
    with Server(archives) as srv:
        monkeypatch.setattr(fashion_mnist, "BASE_URL", srv.url)
        check_arrays(fashion_mnist.load_data(), arrays)
        assert srv.requests == [fashion_mnist.TEST_LABELS]


def test_download_checksum_mismatch_leaves_nothing(isolated, fake, monkeypatch):
    archives, _, _ = fake
    tampered = dict(archives)
    tampered[fashion_mnist.TRAIN_LABELS] = gz(idx_bytes(np.zeros(6, dtype=np.uint8)))
    with Server(tampered) as srv:
        monkeypatch.setattr(fashion_mnist, "BASE_URL", srv.url)
        with pytest.raises(ValueError, match="Checksum mismatch"):
            fashion_mnist.load_data()
    cache = isolated / "cache" / "fashion-mnist"
    assert not (cache / fashion_mnist.TRAIN_LABELS).exists()
    assert not [f for f in os.listdir(cache) if f.endswith(".part")]


def test_download_function_checksum(tmp_path):
    payload = b"x" * 5000
    with Server({"blob": payload}) as srv:
        dest = tmp_path / "d" / "blob"
        assert _files.download(srv.url + "blob", str(dest), sha(payload), progress=False)
        assert dest.read_bytes() == payload
        other = tmp_path / "d" / "other"
        with pytest.raises(ValueError, match="Checksum mismatch"):
            _files.download(srv.url + "blob", str(other), "0" * 64, progress=False)
        assert not other.exists()
        assert os.listdir(tmp_path / "d") == ["blob"]


def test_interrupted_download_leaves_nothing(isolated, fake, monkeypatch):
    archives, _, _ = fake
    with Server(archives, truncate={fashion_mnist.TRAIN_IMAGES}) as srv:
        monkeypatch.setattr(fashion_mnist, "BASE_URL", srv.url)
        with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
            fashion_mnist.load_data()
    cache = isolated / "cache" / "fashion-mnist"
    assert not (cache / fashion_mnist.TRAIN_IMAGES).exists()
    assert not [f for f in os.listdir(cache) if f.endswith(".part")]


def test_fashion_offline_error_is_clear(isolated, fake):
    archives, _, _ = fake
    write_files(isolated / "cache" / "fashion-mnist",
                {fashion_mnist.TRAIN_LABELS: archives[fashion_mnist.TRAIN_LABELS]})
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    for name in (fashion_mnist.TRAIN_IMAGES, fashion_mnist.TEST_LABELS,
                 fashion_mnist.TEST_IMAGES):
        assert name in msg
    assert fashion_mnist.TRAIN_LABELS + ":" not in msg  # present, so not listed as missing
    assert str(isolated / "cache" / "fashion-mnist") in msg
    assert isinstance(info.value, FileNotFoundError)


def test_http_error_reported(isolated, fake, monkeypatch):
    with Server({}) as srv:  # every file 404s
        monkeypatch.setattr(fashion_mnist, "BASE_URL", srv.url)
        with pytest.raises(DatasetNotFoundError, match="404"):
            fashion_mnist.load_data()


def test_progress_bar_non_tty_is_short():
    out = io.StringIO()
    bar = _files.ProgressBar("file.bin", 1000, stream=out)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 6
    assert "file.bin" in lines[0]


def test_progress_bar_tty_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = _files.ProgressBar("f", 100, stream=out)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert out.getvalue().count("\n") == 1
    assert "100%" in out.getvalue()


# ----------------------------------------------------------------------------- MNIST

def fake_mnist_npz(path):
    rng = np.random.default_rng(1)
    arrays = dict(x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 5, dtype=np.uint8),
                  x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 3, dtype=np.uint8))
    np.savez(path, **arrays)
    return arrays


def check_mnist(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"),
                     (y_test, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8


def test_mnist_from_cache(isolated, monkeypatch):
    cache = isolated / "cache"
    cache.mkdir()
    arrays = fake_mnist_npz(cache / "mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", sha((cache / "mnist.npz").read_bytes()))
    check_mnist(mnist.load_data(), arrays)


def test_mnist_absolute_path_and_bad_hash(isolated, monkeypatch):
    path = isolated / "elsewhere" / "m.npz"
    path.parent.mkdir()
    arrays = fake_mnist_npz(path)
    monkeypatch.setattr(mnist, "FILE_HASH", sha(path.read_bytes()))
    check_mnist(mnist.load_data(path=str(path)), arrays)
    monkeypatch.setattr(mnist, "FILE_HASH", "0" * 64)
    with pytest.warns(UserWarning, match="checksum"), \
            pytest.raises(DatasetNotFoundError, match="m.npz"):
        mnist.load_data(path=str(path))


def test_mnist_from_idx_files(isolated):
    folder = isolated / "cache" / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    arrays = dict(x_train=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 4, dtype=np.uint8),
                  x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 2, dtype=np.uint8))
    for key, stem in mnist.IDX_FILES.items():
        data = idx_bytes(arrays[key])
        if key.startswith("x"):
            (folder / (stem + ".gz")).write_bytes(gz(data))
        else:
            (folder / stem).write_bytes(data)
    check_mnist(mnist.load_data(), arrays)


def test_mnist_download_from_local_server(isolated, monkeypatch, tmp_path):
    src = tmp_path / "src.npz"
    arrays = fake_mnist_npz(src)
    blob = src.read_bytes()
    monkeypatch.setattr(mnist, "FILE_HASH", sha(blob))
    with Server({"mnist.npz": blob}) as srv:
        monkeypatch.setattr(mnist, "URL", srv.url + "mnist.npz")
        check_mnist(mnist.load_data(), arrays)
        assert (isolated / "cache" / "mnist.npz").read_bytes() == blob
        check_mnist(mnist.load_data(), arrays)
        assert srv.requests == ["mnist.npz"]


def test_mnist_offline_error(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert "mnist.npz" in msg and str(isolated / "cache") in msg


# ----------------------------------------------------------------------------- real data

@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_real_fashion_mnist_from_debian(tmp_path, monkeypatch):
    # an empty cache, so the Debian copy is what gets read (and nothing is downloaded)
    monkeypatch.setenv("FASTKERAS_DATASETS", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(fashion_mnist, "BASE_URL", f"http://127.0.0.1:{dead_port()}/")
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert y_train.min() == 0 and y_train.max() == 9
    # the classes are exactly balanced: 6000 per class in train, 1000 in test
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    # the well-known normalization mean of the training pixels is 0.2860
    assert x_train.mean() / 255.0 == pytest.approx(0.2860, abs=5e-4)
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
