"""keras.utils image helpers (load_img, img_to_array, array_to_img, save_img) compared with
real Keras on the same small generated files, and keras.utils.get_file against a local HTTP
server: caching, hash checks, archive extraction and no partial files after failures."""

import hashlib
import io
import os
import pathlib
import tarfile
import zipfile

import numpy as np
import pytest

from fastkeras import utils
from fastkeras.utils import file_utils
from file_server import Server

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def keras3():
    return pytest.importorskip("keras")


def _random_pixels(seed, shape):
    return np.random.RandomState(seed).randint(0, 256, size=shape).astype(np.uint8)


@pytest.fixture
def image_files(tmp_path):
    """Small images of several formats and modes: {name: path}."""
    files = {}
    rgb = _random_pixels(0, (9, 13, 3))
    files["rgb.png"] = tmp_path / "rgb.png"
    Image.fromarray(rgb, "RGB").save(files["rgb.png"])
    files["rgba.png"] = tmp_path / "rgba.png"
    Image.fromarray(_random_pixels(1, (11, 6, 4)), "RGBA").save(files["rgba.png"])
    files["gray.png"] = tmp_path / "gray.png"
    Image.fromarray(_random_pixels(2, (7, 10)), "L").save(files["gray.png"])
    files["gray16.png"] = tmp_path / "gray16.png"
    deep = (np.random.RandomState(3).randint(0, 65536, size=(6, 8))).astype(np.uint16)
    Image.fromarray(deep).save(files["gray16.png"])
    files["photo.jpg"] = tmp_path / "photo.jpg"
    Image.fromarray(rgb, "RGB").save(files["photo.jpg"], quality=90)
    files["picture.bmp"] = tmp_path / "picture.bmp"
    Image.fromarray(_random_pixels(4, (10, 5, 3)), "RGB").save(files["picture.bmp"])
    files["palette.png"] = tmp_path / "palette.png"
    Image.fromarray(rgb, "RGB").convert("P").save(files["palette.png"])
    return files


# --- load_img / img_to_array ----------------------------------------------------------------

def _same_image(ours, theirs):
    assert ours.mode == theirs.mode
    assert ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_load_img_matches_keras_for_every_format_and_color_mode(image_files, keras3):
    for path in image_files.values():
        for color_mode in ("rgb", "rgba", "grayscale"):
            _same_image(utils.load_img(path, color_mode=color_mode),
                        keras3.utils.load_img(path, color_mode=color_mode))


@pytest.mark.parametrize("interpolation",
                         ["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"])
def test_load_img_resizing_matches_keras(image_files, keras3, interpolation):
    for name in ("rgb.png", "rgba.png", "gray.png", "photo.jpg"):
        path = str(image_files[name])
        for target_size in [(5, 7), (12, 4), (9, 13), (3, 3)]:
            for keep in (False, True):
                kwargs = dict(target_size=target_size, interpolation=interpolation,
                              keep_aspect_ratio=keep)
                ours = utils.load_img(path, **kwargs)
                assert ours.size == (target_size[1], target_size[0])
                _same_image(ours, keras3.utils.load_img(path, **kwargs))


def test_load_img_accepts_paths_bytes_and_file_objects(image_files):
    path = image_files["rgb.png"]
    expected = np.asarray(utils.load_img(str(path)))
    data = path.read_bytes()
    for source in (path, str(path).encode(), io.BytesIO(data)):
        np.testing.assert_array_equal(np.asarray(utils.load_img(source)), expected)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(np.asarray(utils.load_img(f)), expected)


def test_img_to_array_matches_keras(image_files, keras3):
    for path in image_files.values():
        for color_mode in ("rgb", "rgba", "grayscale"):
            img = utils.load_img(path, color_mode=color_mode)
            for data_format in (None, "channels_last", "channels_first"):
                for dtype in (None, "float64", "uint8", "int32"):
                    ours = utils.img_to_array(img, data_format=data_format, dtype=dtype)
                    theirs = keras3.utils.img_to_array(img, data_format=data_format,
                                                       dtype=dtype)
                    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
                    np.testing.assert_array_equal(ours, theirs)


def test_img_to_array_shapes_and_default_dtype(image_files):
    x = utils.img_to_array(utils.load_img(image_files["gray.png"], color_mode="grayscale"))
    assert x.shape == (7, 10, 1) and x.dtype == np.float32
    x = utils.img_to_array(utils.load_img(image_files["rgba.png"], color_mode="rgba"),
                           data_format="channels_first")
    assert x.shape == (4, 11, 6)


# --- array_to_img / save_img ----------------------------------------------------------------

def test_array_to_img_matches_keras(keras3):
    rng = np.random.RandomState(5)
    arrays = [rng.rand(6, 7, 3), rng.rand(6, 7, 4) * 10 - 3, rng.rand(5, 4, 1),
              rng.randint(0, 256, (4, 6, 3)).astype(np.uint8), np.full((3, 3, 3), 7.0),
              rng.rand(3, 5, 8) * 255]
    for x in arrays:
        for data_format in ("channels_last", "channels_first"):
            if data_format == "channels_first":
                x = np.transpose(x, (2, 0, 1))
            channels = x.shape[0] if data_format == "channels_first" else x.shape[-1]
            if channels not in (1, 3, 4):
                continue
            for scale in (True, False):
                for dtype in (None, "float64"):
                    kwargs = dict(data_format=data_format, scale=scale, dtype=dtype)
                    _same_image(utils.array_to_img(x, **kwargs),
                                keras3.utils.array_to_img(x, **kwargs))


def test_array_to_img_wide_grayscale_is_32_bit(keras3):
    x = np.arange(12, dtype=np.float32).reshape(3, 4, 1) * 1000
    ours = utils.array_to_img(x, scale=False)
    assert ours.mode == "I"
    _same_image(ours, keras3.utils.array_to_img(x, scale=False))


@pytest.mark.parametrize("name", ["out.png", "out.bmp", "out.jpg", "out.jpeg"])
def test_save_img_round_trip_and_matches_keras(tmp_path, keras3, name):
    x = _random_pixels(6, (8, 12, 3)).astype(np.float32)
    ours_path, theirs_path = tmp_path / name, tmp_path / f"keras_{name}"
    utils.save_img(ours_path, x, scale=False)
    keras3.utils.save_img(theirs_path, x, scale=False)
    ours = utils.img_to_array(utils.load_img(ours_path))
    np.testing.assert_array_equal(ours, utils.img_to_array(utils.load_img(theirs_path)))
    if not name.endswith(("jpg", "jpeg")):  # lossless formats give the pixels back
        np.testing.assert_array_equal(ours, x)
    expected_format = {"png": "PNG", "bmp": "BMP", "jpg": "JPEG", "jpeg": "JPEG"}
    with Image.open(ours_path) as img:
        assert img.format == expected_format[name.rsplit(".", 1)[1]]


def test_save_img_channels_first_rgba_and_file_objects(tmp_path):
    x = _random_pixels(7, (4, 5, 6)).astype(np.float32)  # channels first RGBA
    path = tmp_path / "rgba.png"
    utils.save_img(str(path), x, data_format="channels_first", scale=False)
    back = utils.img_to_array(utils.load_img(path, color_mode="rgba"),
                              data_format="channels_first")
    np.testing.assert_array_equal(back, x)
    buffer = io.BytesIO()
    utils.save_img(buffer, x, data_format="channels_first", file_format="png", scale=False)
    buffer.seek(0)
    np.testing.assert_array_equal(
        utils.img_to_array(utils.load_img(buffer, color_mode="rgba"),
                           data_format="channels_first"), x)


def test_save_img_rgba_as_jpeg_warns_and_drops_alpha(tmp_path):
    x = _random_pixels(8, (5, 5, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="JPEG"):
        utils.save_img(tmp_path / "a.jpg", x)
    with Image.open(tmp_path / "a.jpg") as img:
        assert img.mode == "RGB"


def test_image_helpers_reject_bad_input_naming_the_argument(image_files, tmp_path):
    path = image_files["rgb.png"]
    with pytest.raises(ValueError, match="color_mode='cmyk'"):
        utils.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match=r"target_size=\(5, 0\)"):
        utils.load_img(path, target_size=(5, 0))
    with pytest.raises(ValueError, match="target_size=7"):
        utils.load_img(path, target_size=7)
    with pytest.raises(ValueError, match="interpolation='cubic'"):
        utils.load_img(path, target_size=(4, 4), interpolation="cubic")
    with pytest.raises(TypeError, match="path=12"):
        utils.load_img(12)
    with pytest.raises(FileNotFoundError):
        utils.load_img(tmp_path / "missing.png")
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        utils.array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="2 channels"):
        utils.array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="data_format='channels_middle'"):
        utils.img_to_array(utils.load_img(path), data_format="channels_middle")
    with pytest.raises(ValueError, match="data_format='nchw'"):
        utils.array_to_img(np.zeros((4, 4, 3)), data_format="nchw")


# --- get_file -------------------------------------------------------------------------------

def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_MEMBERS = {"pack/a.txt": b"alpha", "pack/sub/b.txt": b"beta" * 100, "top.txt": b"top"}


def _tree(folder):
    """{relative path: bytes} of every file under folder."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder).replace(os.sep, "/")] = \
                pathlib.Path(path).read_bytes()
    return found


def _all_files(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


def test_get_file_downloads_once_then_uses_the_cache(tmp_path, capsys):
    payload = os.urandom(5000)
    with Server({"data/blob.bin": payload}) as srv:
        url = srv.url + "data/blob.bin"
        path = utils.get_file(origin=url, cache_dir=tmp_path)
        assert path == os.path.join(str(tmp_path), "datasets", "blob.bin")
        assert pathlib.Path(path).read_bytes() == payload
        assert f"Downloading data from {url}" in capsys.readouterr().out
        assert utils.get_file(origin=url, cache_dir=tmp_path) == path
        assert srv.requests == ["data/blob.bin"]  # the second call used the cache
        again = utils.get_file("named.bin", url, cache_dir=tmp_path, cache_subdir="mine",
                               force_download=False)
        assert again == os.path.join(str(tmp_path), "mine", "named.bin")
        utils.get_file(origin=url, cache_dir=tmp_path, force_download=True)
        assert srv.requests == ["data/blob.bin"] * 3
    absolute = tmp_path / "elsewhere"
    with Server({"blob.bin": payload}) as srv:
        path = utils.get_file(origin=srv.url + "blob.bin", cache_dir=tmp_path / "unused",
                              cache_subdir=str(absolute))
    assert path == os.path.join(str(absolute), "blob.bin")


def test_get_file_uses_keras_home_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with Server({"f.txt": b"hello"}) as srv:
        path = utils.get_file(origin=srv.url + "f.txt")
    assert path == os.path.join(str(tmp_path / "home"), "datasets", "f.txt")


def test_get_file_hash_checks(tmp_path, capsys):
    payload = b"some bytes to check" * 50
    sha256 = hashlib.sha256(payload).hexdigest()
    md5 = hashlib.md5(payload).hexdigest()
    with Server({"f.bin": payload}) as srv:
        url = srv.url + "f.bin"
        for kwargs in (dict(file_hash=sha256), dict(file_hash=md5),
                       dict(file_hash=sha256, hash_algorithm="sha256"),
                       dict(file_hash=md5, hash_algorithm="md5"), dict(md5_hash=md5),
                       dict(file_hash=sha256.upper())):
            path = utils.get_file(origin=url, cache_dir=tmp_path, force_download=True,
                                  **kwargs)
            assert pathlib.Path(path).read_bytes() == payload
        # a cached copy that no longer matches is downloaded again
        pathlib.Path(path).write_bytes(b"stale")
        capsys.readouterr()
        utils.get_file(origin=url, cache_dir=tmp_path, file_hash=sha256)
        assert "re-download" in capsys.readouterr().out
        assert pathlib.Path(path).read_bytes() == payload
        # a download that does not match is refused and nothing is written
        wrong = "0" * 64
        with pytest.raises(ValueError, match=f"file_hash='{wrong}'") as info:
            utils.get_file(origin=url, cache_dir=tmp_path / "fresh", file_hash=wrong)
        assert url in str(info.value) and "sha256" in str(info.value)
        assert _all_files(tmp_path / "fresh") == []


def test_get_file_failed_downloads_leave_no_file(tmp_path):
    payload = os.urandom(100_000)
    with Server({"big.bin": payload}, truncate={"big.bin"}) as srv:
        url = srv.url + "big.bin"
        with pytest.raises(OSError, match="big.bin"):
            utils.get_file(origin=url, cache_dir=tmp_path)
        with pytest.raises(OSError, match="404") as info:
            utils.get_file(origin=srv.url + "missing.bin", cache_dir=tmp_path)
        assert srv.url + "missing.bin" in str(info.value)
    assert _all_files(tmp_path) == []


def test_get_file_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    payload = os.urandom(300_000)

    def interrupt(self, n):
        raise KeyboardInterrupt

    with Server({"big.bin": payload}) as srv:
        monkeypatch.setattr(file_utils._Progress, "add", interrupt)
        with pytest.raises(KeyboardInterrupt):
            utils.get_file(origin=srv.url + "big.bin", cache_dir=tmp_path)
    assert _all_files(tmp_path) == []
    # an interrupted re-download keeps the old cached copy as it was
    target = tmp_path / "datasets" / "big.bin"
    target.write_bytes(b"old")
    with Server({"big.bin": payload}) as srv, pytest.raises(KeyboardInterrupt):
        utils.get_file(origin=srv.url + "big.bin", cache_dir=tmp_path,
                       force_download=True)
    assert _all_files(tmp_path) == [os.path.join("datasets", "big.bin")]
    assert target.read_bytes() == b"old"


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
@pytest.mark.parametrize("fname", [None, "named.{kind}", "plainname"])
def test_get_file_extracts_archives_like_keras(tmp_path, keras3, kind, fname):
    blob = _tar_gz(_MEMBERS) if kind == "tar.gz" else _zip(_MEMBERS)
    archive_name = f"bundle.{kind}"
    if fname is not None:
        fname = fname.format(kind=kind)
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "keras"
    theirs_dir.mkdir()  # Keras falls back to /tmp/.keras for a cache_dir that does not exist
    with Server({archive_name: blob}) as srv:
        url = srv.url + archive_name
        ours = utils.get_file(fname, url, extract=True, cache_dir=ours_dir)
        theirs = keras3.utils.get_file(fname, url, extract=True, cache_dir=theirs_dir)
        # the cached archive is reused and extracted again
        assert utils.get_file(fname, url, extract=True, cache_dir=ours_dir) == ours
        assert len(srv.requests) == 2
    assert os.path.relpath(ours, ours_dir) == os.path.relpath(theirs, theirs_dir)
    assert os.path.isdir(ours)
    assert _tree(ours) == _tree(theirs) == {k: v for k, v in _MEMBERS.items()}
    assert _all_files(ours_dir) == _all_files(theirs_dir)


def test_get_file_untar_and_archive_format(tmp_path):
    blob = _tar_gz(_MEMBERS)
    with Server({"x.tgz": blob, "y.zip": _zip(_MEMBERS)}) as srv:
        out = utils.get_file("tarball", srv.url + "x.tgz", untar=True, cache_dir=tmp_path)
        assert out == os.path.join(str(tmp_path), "datasets", "tarball")
        assert _tree(out) == _MEMBERS
        with pytest.warns(UserWarning, match="Could not extract"):
            out = utils.get_file("zipped", srv.url + "y.zip", extract=True,
                                 archive_format="tar", cache_dir=tmp_path)
        assert not os.path.exists(out)
        with pytest.raises(NotImplementedError, match="archive_format='rar'"):
            utils.get_file("zipped", srv.url + "y.zip", extract=True, archive_format="rar",
                           cache_dir=tmp_path)


def test_get_file_skips_archive_members_outside_the_folder(tmp_path):
    blob = _tar_gz({"ok.txt": b"fine", "../escape.txt": b"bad"})
    with Server({"evil.tar.gz": blob}) as srv, pytest.warns(UserWarning, match="outside"):
        out = utils.get_file("evil", srv.url + "evil.tar.gz", extract=True,
                             cache_dir=tmp_path)
    assert _tree(out) == {"ok.txt": b"fine"}
    assert not (tmp_path / "datasets" / "escape.txt").exists()
    blob = _zip({"ok.txt": b"fine", "../../escape.txt": b"bad"})
    with Server({"evil.zip": blob}) as srv, pytest.warns(UserWarning, match="outside"):
        out = utils.get_file("evilzip", srv.url + "evil.zip", extract=True,
                             cache_dir=tmp_path)
    assert _tree(out) == {"ok.txt": b"fine"}
    assert not (tmp_path / "escape.txt").exists()


def test_get_file_from_local_paths_and_file_urls(tmp_path):
    source = tmp_path / "src" / "local.bin"
    source.parent.mkdir()
    source.write_bytes(b"local data")
    path = utils.get_file(origin=str(source), cache_dir=tmp_path / "c1")
    assert path == os.path.join(str(tmp_path / "c1"), "datasets", "local.bin")
    assert pathlib.Path(path).read_bytes() == b"local data"
    path = utils.get_file(origin=source.as_uri(), cache_dir=tmp_path / "c2")
    assert pathlib.Path(path).read_bytes() == b"local data"
    archive = tmp_path / "src" / "files.zip"
    archive.write_bytes(_zip(_MEMBERS))
    out = utils.get_file("files", str(archive), extract=True, cache_dir=tmp_path / "c3")
    assert _tree(out) == _MEMBERS


def test_get_file_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("a.txt", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="fname='sub/a.txt'"):
        utils.get_file("sub/a.txt", "http://127.0.0.1:9/a.txt", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="hash_algorithm='sha1'"):
        utils.get_file("a.txt", "http://127.0.0.1:9/a.txt", file_hash="00",
                       hash_algorithm="sha1", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="fname"):
        utils.get_file(origin="http://127.0.0.1:9/", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="origin='not-a-file-anywhere'"):
        utils.get_file("x", "not-a-file-anywhere", cache_dir=tmp_path)
