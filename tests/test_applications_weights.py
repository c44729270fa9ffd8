"""Applications' `weights=`: a file saved by real Keras (a .weights.h5 or a legacy .h5, the
layout of the released ImageNet files), and weights="imagenet" fetched through `get_file`
from a local HTTP server standing in for Keras's storage (the network is never used)."""

import hashlib

import h5py
import numpy as np
import pytest

import fastkeras as fk
from app_compare import fresh, images
from fastkeras.applications import efficientnet, mobilenet, vgg16
from file_server import Server

k3 = pytest.importorskip("keras")
from keras.src.legacy.saving import legacy_h5_format


def _perturb(model, seed=1):
    """Random weights everywhere (batch-norm statistics included), set in place."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1 and w.size and np.all(w == 1):  # variances and scales stay positive
            weights.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
        elif w.ndim == 0:
            weights.append(w)
        else:
            weights.append((w + rng.normal(0, 0.05, w.shape)).astype(w.dtype))
    model.set_weights(weights)


def _save_legacy(model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _close(ours, theirs, shape):
    x = images(shape)
    expected = np.asarray(theirs.predict(x, verbose=0))
    got = np.asarray(ours.predict(x, verbose=0))
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("fmt", ["weights.h5", "h5"])
def test_weights_from_a_keras_file(tmp_path, fmt):
    kwargs = dict(include_top=True, classes=5, input_shape=(32, 32, 3), alpha=0.35)
    fresh(fk, k3)
    theirs = k3.applications.MobileNetV2(weights=None, **kwargs)
    _perturb(theirs)
    path = tmp_path / f"mobilenet_v2.{fmt}"
    if fmt == "h5":
        _save_legacy(theirs, path)
    else:
        theirs.save_weights(path)
    fresh(fk, k3)
    ours = fk.applications.MobileNetV2(weights=str(path), **kwargs)
    _close(ours, theirs, kwargs["input_shape"])
    ours = fk.applications.MobileNetV2(weights=path, **kwargs)  # a Path works as well
    _close(ours, theirs, kwargs["input_shape"])


def test_legacy_file_with_automatic_layer_names(tmp_path):
    # InceptionV3's layers are named automatically; a legacy file is matched by order
    kwargs = dict(include_top=False, input_shape=(75, 75, 3), pooling="max")
    fresh(fk, k3)
    k3.layers.Dense(1)  # the names in the file then differ from ours
    theirs = k3.applications.InceptionV3(weights=None, **kwargs)
    _perturb(theirs)
    path = _save_legacy(theirs, tmp_path / "inception.h5")
    fresh(fk, k3)
    ours = fk.applications.InceptionV3(weights=str(path), **kwargs)
    _close(ours, theirs, kwargs["input_shape"])


def test_weights_file_of_another_architecture(tmp_path):
    fresh(fk, k3)
    theirs = k3.applications.MobileNet(weights=None, include_top=False, alpha=0.25,
                                       input_shape=(32, 32, 3))
    path = tmp_path / "mobilenet.weights.h5"
    theirs.save_weights(path)
    with pytest.raises(ValueError):
        fk.applications.MobileNetV2(weights=str(path), include_top=False, alpha=0.35,
                                    input_shape=(32, 32, 3))


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_imagenet_mobilenet(tmp_path, keras_home, monkeypatch):
    # MobileNet's released files carry no hash; the file name encodes alpha and the size
    kwargs = dict(include_top=False, alpha=0.25, input_shape=(128, 128, 3))
    fresh(fk, k3)
    theirs = k3.applications.MobileNet(weights=None, **kwargs)
    _perturb(theirs)
    fname = "mobilenet_2_5_128_tf_no_top.h5"
    body = _save_legacy(theirs, tmp_path / fname).read_bytes()
    with Server({f"mobilenet/{fname}": body}) as server:
        monkeypatch.setattr(mobilenet, "WEIGHTS_BASE_PATH", server.url + "mobilenet/")
        fresh(fk, k3)
        ours = fk.applications.MobileNet(weights="imagenet", **kwargs)
        assert ours.name == "mobilenet_0.25_128"
        assert (keras_home / "models" / fname).read_bytes() == body
        _close(ours, theirs, kwargs["input_shape"])
        # cached: no second request
        fk.applications.MobileNet(weights="imagenet", **kwargs)
        assert server.requests == [f"mobilenet/{fname}"]


def test_imagenet_mobilenet_falls_back_to_224(tmp_path, keras_home, monkeypatch):
    fname = "mobilenet_2_5_224_tf_no_top.h5"
    fresh(fk, k3)
    theirs = k3.applications.MobileNet(weights=None, include_top=False, alpha=0.25,
                                       input_shape=(100, 100, 3))
    body = _save_legacy(theirs, tmp_path / fname).read_bytes()
    with Server({fname: body}) as server:
        monkeypatch.setattr(mobilenet, "WEIGHTS_BASE_PATH", server.url)
        with pytest.warns(UserWarning, match="224"):
            ours = fk.applications.MobileNet(weights="imagenet", include_top=False,
                                             alpha=0.25, input_shape=(100, 100, 3))
        assert server.requests == [fname]
    assert ours.name == "mobilenet_0.25_224"


def test_imagenet_with_hash(tmp_path, keras_home, monkeypatch):
    kwargs = dict(include_top=True, input_shape=(32, 32, 3))
    fresh(fk, k3)
    theirs = k3.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    fname = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path = _save_legacy(theirs, tmp_path / fname)
    with Server({f"vgg16/{fname}": path.read_bytes()}) as server:
        monkeypatch.setattr(vgg16, "WEIGHTS_BASE_PATH", server.url)
        # a file that does not match the released hash is refused
        with pytest.raises(ValueError, match="hash"):
            fk.applications.VGG16(weights="imagenet", include_top=False,
                                  input_shape=(32, 32, 3))
        assert not (keras_home / "models" / fname).exists()
        monkeypatch.setattr(vgg16, "WEIGHTS_HASHES", (None, _md5(path)))
        ours = fk.applications.VGG16(weights="imagenet", include_top=False,
                                     input_shape=(32, 32, 3))
        assert server.requests == [f"vgg16/{fname}"] * 2
    _close(ours, theirs, (32, 32, 3))
    # with the top, ImageNet weights need the default input shape
    with pytest.raises(ValueError, match=r"input_shape` should be \(224, 224, 3\)"):
        fk.applications.VGG16(weights="imagenet", **kwargs)


def test_imagenet_efficientnet_matches_keras(tmp_path, keras_home, monkeypatch):
    # with ImageNet weights EfficientNet gains a rescaling by 1/sqrt(std) after its
    # normalization: compare with Keras loading the same file as "imagenet"
    from keras.src.applications import efficientnet as keras_efficientnet
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    fresh(fk, k3)
    source = k3.applications.EfficientNetB0(weights=None, **kwargs)
    _perturb(source)
    fname = "efficientnetb0_notop.h5"
    path = _save_legacy(source, tmp_path / fname)

    seen = []

    def fake_get_file(fname_, origin, **options):
        seen.append((fname_, origin, options))
        return str(path)

    monkeypatch.setattr(keras_efficientnet.file_utils, "get_file", fake_get_file)
    fresh(fk, k3)
    theirs = k3.applications.EfficientNetB0(weights="imagenet", **kwargs)
    assert seen[0][0] == fname
    assert seen[0][1] == keras_efficientnet.BASE_WEIGHTS_PATH + fname

    with Server({fname: path.read_bytes()}) as server:
        monkeypatch.setattr(efficientnet, "WEIGHTS_BASE_PATH", server.url)
        hashes = dict(efficientnet.WEIGHTS_HASHES, b0=(None, _md5(path)))
        monkeypatch.setattr(efficientnet, "WEIGHTS_HASHES", hashes)
        fresh(fk, k3)
        ours = fk.applications.EfficientNetB0(weights="imagenet", **kwargs)
        assert server.requests == [fname]
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    _close(ours, theirs, kwargs["input_shape"])


class _Stop(Exception):
    pass


def _recorder(calls):
    def record(fname=None, origin=None, **options):
        calls.append((fname, origin, options.get("cache_subdir"), options.get("file_hash")))
        raise _Stop
    return record


def _requested(builder, calls, **kwargs):
    with pytest.raises(_Stop):
        builder(weights="imagenet", **kwargs)
    return calls[-1]


@pytest.mark.parametrize("ctor,kwargs", [
    ("ResNet50V2", dict(include_top=False, input_shape=(32, 32, 3))),
    ("MobileNet", dict(include_top=False, alpha=0.5, input_shape=(160, 160, 3))),
    ("MobileNet", dict(include_top=True, alpha=0.25, input_shape=(128, 128, 3))),
    ("MobileNetV2", dict(include_top=True, alpha=0.35, input_shape=(96, 96, 3))),
    ("MobileNetV2", dict(include_top=False, alpha=1.3, input_shape=(96, 96, 3))),
])
def test_released_file_requests(monkeypatch, ctor, kwargs):
    # the get_file call (name, URL, cache folder, hash) each constructor makes, as Keras's
    from keras.src.utils import file_utils as keras_file_utils

    from fastkeras.utils import file_utils
    ours, theirs = [], []
    monkeypatch.setattr(file_utils, "get_file", _recorder(ours))
    monkeypatch.setattr(keras_file_utils, "get_file", _recorder(theirs))
    assert (_requested(getattr(fk.applications, ctor), ours, **kwargs)
            == _requested(getattr(k3.applications, ctor), theirs, **kwargs))


@pytest.mark.parametrize("ctor,kwargs,module,constant", [
    ("VGG16", dict(input_shape=(32, 32, 3)), "vgg16", "WEIGHTS_PATH_NO_TOP"),
    ("VGG19", dict(input_shape=(32, 32, 3)), "vgg19", "WEIGHTS_PATH_NO_TOP"),
    ("DenseNet121", dict(input_shape=(32, 32, 3)), "densenet",
     "DENSENET121_WEIGHT_PATH_NO_TOP"),
    ("DenseNet169", dict(input_shape=(32, 32, 3)), "densenet",
     "DENSENET169_WEIGHT_PATH_NO_TOP"),
    ("DenseNet201", dict(input_shape=(32, 32, 3)), "densenet",
     "DENSENET201_WEIGHT_PATH_NO_TOP"),
    ("InceptionV3", dict(input_shape=(75, 75, 3)), "inception_v3", "WEIGHTS_PATH_NO_TOP"),
    ("Xception", dict(input_shape=(71, 71, 3)), "xception", "WEIGHTS_PATH_NO_TOP"),
])
def test_released_file_urls(monkeypatch, ctor, kwargs, module, constant):
    # Keras spells these URLs out as constants (its models need not be built to know them)
    import importlib
    import inspect
    import re

    from fastkeras.utils import file_utils
    theirs = importlib.import_module(f"keras.src.applications.{module}")
    calls = []
    monkeypatch.setattr(file_utils, "get_file", _recorder(calls))
    fname, origin, subdir, file_hash = _requested(getattr(fk.applications, ctor), calls,
                                                  include_top=False, **kwargs)
    assert origin == getattr(theirs, constant)
    assert fname == origin.rsplit("/", 1)[1] and subdir == "models"
    source = inspect.getsource(theirs)
    # the hash given with this file name in Keras's source
    assert re.search(rf'"{fname}",\s*\w+,\s*cache_subdir="models",\s*'
                     rf'file_hash="{file_hash}"', source)


def test_released_hash_tables():
    # the other ResNets and EfficientNets differ only by their entry in these tables
    from keras.src.applications import efficientnet as keras_efficientnet
    from keras.src.applications import resnet as keras_resnet

    from fastkeras.applications import resnet
    assert resnet.WEIGHTS_HASHES == {k: v for k, v in keras_resnet.WEIGHTS_HASHES.items()
                                     if not k.startswith("resnext")}
    assert resnet.WEIGHTS_BASE_PATH == keras_resnet.BASE_WEIGHTS_PATH
    assert efficientnet.WEIGHTS_HASHES == keras_efficientnet.WEIGHTS_HASHES
    assert efficientnet.WEIGHTS_BASE_PATH == keras_efficientnet.BASE_WEIGHTS_PATH


@pytest.mark.parametrize("module", ["vgg16", "vgg19", "densenet", "inception_v3", "xception"])
def test_file_hashes_are_keras_ones(module):
    import importlib
    import inspect
    import re
    keras_source = inspect.getsource(importlib.import_module(f"keras.src.applications.{module}"))
    ours = importlib.import_module(f"fastkeras.applications.{module}")
    table = ours.WEIGHTS_FILES if module == "densenet" else {"": ours.WEIGHTS_HASHES}
    hashes = {h for entry in table.values() for h in entry if re.fullmatch("[0-9a-f]{32}", h)}
    assert hashes == set(re.findall(r'"([0-9a-f]{32})"', keras_source))
