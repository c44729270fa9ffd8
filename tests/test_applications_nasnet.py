"""NASNetMobile / NASNetLarge against real Keras 3: the same layers, weights, parameter
counts and outputs once Keras's weights are copied over, the same released files and error
messages, and "imagenet" weights from a local stand-in server.

Keras refuses to build NASNetMobile under its torch backend (a torch-specific bug it works
around); `_keras_unlocked` lifts that check only, so its own graph is the reference."""

import hashlib

import h5py
import numpy as np
import pytest

import fastkeras as fk
from app_compare import assert_same_outputs, fresh, images, randomize_bn, structure
from fastkeras.applications import nasnet
from file_server import Server

k3 = pytest.importorskip("keras")
kapps = k3.applications
from keras.src.applications import nasnet as keras_nasnet
from keras.src.legacy.saving import legacy_h5_format


class _NotTorch:
    """Keras's backend module, except that it does not call itself "torch"."""

    def __init__(self, real):
        self._real = real

    def backend(self):
        return "tensorflow"

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def keras_unlocked(monkeypatch):
    monkeypatch.setattr(keras_nasnet, "backend", _NotTorch(keras_nasnet.backend))


def _weights(model):
    return [("/".join(v.path.split("/")[-2:]), tuple(v.shape)) for v in model.weights]


def _counts(model):
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    return model.count_params(), trainable, model.count_params() - trainable


def assert_same_model(ours, theirs):
    assert ours.name == theirs.name
    assert structure(ours) == structure(theirs)
    assert _weights(ours) == _weights(theirs)
    assert _counts(ours) == _counts(theirs)


def _build_both(ctor, **kwargs):
    fresh(fk, k3)
    theirs = getattr(kapps, ctor)(weights=None, **kwargs)
    fresh(fk, k3)
    ours = getattr(fk.applications, ctor)(weights=None, **kwargs)
    assert isinstance(ours, fk.Model)
    return ours, theirs


# --- the architecture ------------------------------------------------------------------------

def test_mobile_default_matches_keras(keras_unlocked):
    ours, theirs = _build_both("NASNetMobile")
    assert ours.name == "nasnet_mobile"
    assert len(ours.layers) == 771
    assert ours.count_params() == 5326716
    assert_same_model(ours, theirs)
    assert ours.output.shape == (None, 1000)
    randomize_bn(theirs)
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, (224, 224, 3))


@pytest.mark.parametrize("kwargs", [
    dict(include_top=False, pooling="avg", input_shape=(64, 64, 3)),
    dict(include_top=False, pooling="max", input_shape=(45, 53, 3)),
    dict(include_top=True, classes=7, input_shape=(32, 32, 3), classifier_activation=None),
])
def test_mobile_variants_match_keras(keras_unlocked, kwargs):
    ours, theirs = _build_both("NASNetMobile", **kwargs)
    assert_same_model(ours, theirs)
    randomize_bn(theirs, seed=2)
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, kwargs["input_shape"])


def test_mobile_without_top_defaults_to_224(keras_unlocked):
    ours, theirs = _build_both("NASNetMobile", include_top=False)
    assert ours.input_shape == (None, 224, 224, 3)
    assert ours.output_shape == (None, 7, 7, 1056)
    assert structure(ours) == structure(theirs)


@pytest.mark.parametrize("kwargs", [
    dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"),
    dict(include_top=True, classes=10, input_shape=(40, 40, 3)),
])
def test_large_matches_keras(kwargs):
    ours, theirs = _build_both("NASNetLarge", **kwargs)
    assert ours.name == "nasnet_large"
    assert_same_model(ours, theirs)


def test_large_without_top_counts():
    fresh(fk, k3)
    small = fk.applications.NASNetLarge(weights=None, include_top=False,
                                        input_shape=(32, 32, 3), pooling="max")
    assert small.count_params() == 84916818
    assert small.output_shape == (None, 4032)


def test_input_tensor(keras_unlocked):
    def build(lib):
        inputs = lib.Input((40, 40, 3))
        x = lib.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        return lib.applications.NASNetMobile(weights=None, include_top=False,
                                             input_tensor=x, pooling="avg")

    fresh(fk, k3)
    theirs = build(k3)
    fresh(fk, k3)
    ours = build(fk)
    assert structure(ours) == structure(theirs)
    assert type(ours.layers[1]).__name__ == "Rescaling"
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, (40, 40, 3))


def test_config_round_trip():
    fresh(fk, k3)
    model = fk.applications.NASNetMobile(weights=None, include_top=False,
                                         input_shape=(32, 32, 3), pooling="avg")
    clone = fk.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = images((32, 32, 3))
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# --- the module ------------------------------------------------------------------------------

def test_module_exports():
    assert fk.applications.NASNetMobile is nasnet.NASNetMobile
    assert fk.applications.NASNetLarge is nasnet.NASNetLarge
    assert fk.applications.nasnet is nasnet
    for name in ("NASNetMobile", "NASNetLarge", "preprocess_input", "decode_predictions"):
        assert hasattr(kapps.nasnet, name)
        assert hasattr(nasnet, name)


def test_preprocess_input():
    for data_format in (None, "channels_first", "channels_last"):
        x = images((4, 5, 3))
        np.testing.assert_allclose(
            nasnet.preprocess_input(x.copy(), data_format=data_format),
            kapps.nasnet.preprocess_input(x.copy(), data_format=data_format), rtol=1e-6)
    x = images((4, 5, 3))
    got = fk.ops.convert_to_numpy(nasnet.preprocess_input(fk.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, x / 127.5 - 1, rtol=1e-6, atol=1e-6)


def test_released_files_and_hashes():
    for constant in ("BASE_WEIGHTS_PATH", "NASNET_MOBILE_WEIGHT_PATH",
                     "NASNET_MOBILE_WEIGHT_PATH_NO_TOP", "NASNET_LARGE_WEIGHT_PATH",
                     "NASNET_LARGE_WEIGHT_PATH_NO_TOP"):
        assert getattr(nasnet, constant) == getattr(keras_nasnet, constant)


class _Stop(Exception):
    pass


def _recorder(calls):
    def record(fname=None, origin=None, **options):
        calls.append((fname, origin, options.get("cache_subdir"), options.get("file_hash")))
        raise _Stop
    return record


@pytest.mark.parametrize("ctor,kwargs", [
    ("NASNetMobile", dict(include_top=True)),
    ("NASNetMobile", dict(include_top=False, input_shape=(32, 32, 3))),
    ("NASNetLarge", dict(include_top=False, input_shape=(32, 32, 3))),
])
def test_released_file_requests(keras_unlocked, monkeypatch, ctor, kwargs):
    from keras.src.utils import file_utils as keras_file_utils

    from fastkeras.utils import file_utils
    ours, theirs = [], []
    monkeypatch.setattr(file_utils, "get_file", _recorder(ours))
    monkeypatch.setattr(keras_file_utils, "get_file", _recorder(theirs))
    for builder, calls in ((getattr(fk.applications, ctor), ours),
                           (getattr(kapps, ctor), theirs)):
        fresh(fk, k3)
        with pytest.raises(_Stop):
            builder(weights="imagenet", **kwargs)
    assert ours == theirs and len(ours) == 1


def test_large_with_top_file_entry():
    # (the request itself needs the 331x331 network built in both libraries: too slow here)
    fname, url, file_hash = nasnet.WEIGHTS_FILES[331][True]
    assert (fname, getattr(nasnet, url), file_hash) == (
        "nasnet_large.h5", keras_nasnet.NASNET_LARGE_WEIGHT_PATH,
        "11577c9a518f0070763c2b964a382f17")


def test_imagenet_through_a_local_server(keras_unlocked, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    kwargs = dict(include_top=False, input_shape=(48, 48, 3), pooling="avg")
    fresh(fk, k3)
    theirs = kapps.NASNetMobile(weights=None, **kwargs)
    randomize_bn(theirs, seed=3)
    path = tmp_path / "released.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, theirs)
    body = path.read_bytes()
    remote = "NASNet-mobile-no-top.h5"
    files = dict(nasnet.WEIGHTS_FILES)
    files[224] = {True: files[224][True],
                  False: ("nasnet_mobile_no_top.h5", "NASNET_MOBILE_WEIGHT_PATH_NO_TOP",
                          hashlib.md5(body).hexdigest())}
    monkeypatch.setattr(nasnet, "WEIGHTS_FILES", files)
    with Server({remote: body}) as server:
        monkeypatch.setattr(nasnet, "NASNET_MOBILE_WEIGHT_PATH_NO_TOP", server.url + remote)
        fresh(fk, k3)
        ours = fk.applications.NASNetMobile(weights="imagenet", **kwargs)
        assert server.requests == [remote]
    assert (tmp_path / "keras_home" / "models" / "nasnet_mobile_no_top.h5").exists()
    assert_same_outputs(ours, theirs, kwargs["input_shape"])


def test_weights_from_a_file(tmp_path):
    fresh(fk, k3)
    source = fk.applications.NASNetMobile(weights=None, include_top=True, classes=3,
                                          input_shape=(32, 32, 3))
    path = tmp_path / "nasnet.weights.h5"
    source.save_weights(path)
    fresh(fk, k3)
    loaded = fk.applications.NASNetMobile(weights=str(path), include_top=True, classes=3,
                                          input_shape=(32, 32, 3))
    for a, b in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- errors ----------------------------------------------------------------------------------

def _message(fn, **kwargs):
    fresh(fk, k3)
    with pytest.raises(ValueError) as info:
        fn(**kwargs)
    return str(info.value)


@pytest.mark.parametrize("ctor,kwargs", [
    ("NASNetMobile", dict(weights=None, input_shape=(31, 40, 3))),
    ("NASNetMobile", dict(weights=None, include_top=False, input_shape=(64, 64))),
    ("NASNetMobile", dict(weights="imagenet", include_top=True, input_shape=(200, 200, 3))),
    ("NASNetMobile", dict(weights="imagenet", include_top=False, input_shape=(None, None, 3))),
    ("NASNetMobile", dict(weights="imagenet", include_top=False, input_shape=(64, 64, 4))),
    ("NASNetLarge", dict(weights="imagenet", classes=10)),
    ("NASNetLarge", dict(weights="no/such/file.h5")),
    ("NASNetLarge", dict(weights="imagenet", input_shape=(224, 224, 3))),
    ("NASNetLarge", dict(weights=None, include_top=True, input_shape=(None, 64, 3))),
])
def test_errors_like_keras(keras_unlocked, ctor, kwargs):
    ours = _message(getattr(fk.applications, ctor), **kwargs)
    theirs = _message(getattr(kapps, ctor), **kwargs)
    # (the shared input-shape check adds the value received to a few of Keras's messages)
    assert ours == theirs or ours.startswith(theirs.rstrip(".") + ". Received")


def test_classifier_activation_with_imagenet_weights():
    # (Keras's message shows the function object, ours the name it was given)
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations"):
        fk.applications.NASNetMobile(weights="imagenet", include_top=True,
                                     input_shape=(224, 224, 3), classifier_activation="relu")


def test_penultimate_filters_error():
    with pytest.raises(ValueError, match="multiple of 24"):
        nasnet.NASNet(input_shape=(32, 32, 3), penultimate_filters=1000, weights=None)


@pytest.fixture
def channels_first():
    fk.backend.set_image_data_format("channels_first")
    k3.backend.set_image_data_format("channels_first")
    yield
    fk.backend.set_image_data_format("channels_last")
    k3.backend.set_image_data_format("channels_last")


@pytest.mark.parametrize("ctor", ["NASNetMobile", "NASNetLarge"])
def test_refuses_channels_first(keras_unlocked, channels_first, ctor):
    assert _message(getattr(fk.applications, ctor), weights=None) == \
        _message(getattr(kapps, ctor), weights=None)
