"""More keras.applications against real Keras 3 (MobileNetV3, EfficientNetV2, ConvNeXt...):
the same layers, weights and outputs once Keras's weights are copied over, the same
signatures and released files, and "imagenet" weights from a local stand-in server."""

import hashlib
import importlib
import inspect
import re

import h5py
import numpy as np
import pytest

import fastkeras as fk
from app_compare import assert_same_outputs, fresh, images, structure
from file_server import Server

k3 = pytest.importorskip("keras")
kapps = k3.applications
from keras.src.legacy.saving import legacy_h5_format

MODULES = ["mobilenet_v3", "efficientnet_v2", "convnext", "inception_resnet_v2"]


def _weights(model):
    return [(_path(v.path), tuple(v.shape)) for v in model.weights]


def _path(path):
    """A weight's "layer/name", without the names of enclosing models and with unnamed
    weights' global counters left out. (Keras prefixes the weights of a Sequential nested in
    a functional model with its name, which ours do not; and LayerScale's unnamed `gamma` is
    "variable_<n>" with n counted over the whole session in Keras.)"""
    layer, name = path.split("/")[-2:]
    return f"{layer}/{re.sub(r'^variable_[0-9]+$', 'variable', name)}"


def assert_same_model(ours, theirs):
    assert ours.name == theirs.name
    assert structure(ours) == structure(theirs)
    assert _weights(ours) == _weights(theirs)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)


def _randomize(model, seed=1):
    """Moving statistics away from 0/1 and layer scales away from their tiny initial value,
    so the copied weights are all exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            weights = layer.get_weights()
            weights[-2] = rng.normal(0, 0.1, weights[-2].shape).astype("float32")
            weights[-1] = rng.uniform(0.5, 1.5, weights[-1].shape).astype("float32")
            layer.set_weights(weights)
        elif kind == "LayerScale":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                               for w in layer.get_weights()])


# (constructor, kwargs, predict?) -- small inputs; the deepest variants are only built.
CASES = [
    ("MobileNetV3Small", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("MobileNetV3Small", dict(include_top=False, input_shape=(40, 48, 3), alpha=0.75,
                              minimalistic=True, pooling="avg"), True),
    ("MobileNetV3Large", dict(include_top=True, classes=10, input_shape=(33, 35, 3),
                              alpha=1.25, include_preprocessing=False,
                              classifier_activation=None), True),
    ("MobileNetV3Large", dict(include_top=False, input_shape=(32, 32, 3), minimalistic=True,
                              pooling="max"), False),
    ("EfficientNetV2B0", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("EfficientNetV2B1", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"),
     True),
    ("EfficientNetV2B2", dict(include_top=False, input_shape=(32, 32, 3),
                              include_preprocessing=False), False),
    ("EfficientNetV2B3", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("EfficientNetV2S", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("EfficientNetV2M", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("EfficientNetV2L", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"),
     False),
    ("ConvNeXtTiny", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("ConvNeXtSmall", dict(include_top=False, input_shape=(40, 48, 3), pooling="avg",
                           include_preprocessing=False), True),
    ("ConvNeXtBase", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("ConvNeXtLarge", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"), False),
    ("ConvNeXtXLarge", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), False),
    ("InceptionResNetV2", dict(include_top=True, classes=10, input_shape=(75, 75, 3)), True),
    ("InceptionResNetV2", dict(include_top=False, input_shape=(80, 90, 3), pooling="max"),
     False),
]


@pytest.mark.parametrize("ctor,kwargs,predict", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(ctor, kwargs, predict):
    fresh(fk, k3)
    theirs = getattr(kapps, ctor)(weights=None, **kwargs)
    fresh(fk, k3)
    ours = getattr(fk.applications, ctor)(weights=None, **kwargs)
    assert isinstance(ours, fk.Model)
    assert_same_model(ours, theirs)
    if predict:
        _randomize(theirs)
        ours.set_weights(theirs.get_weights())
        assert_same_outputs(ours, theirs, kwargs["input_shape"])


def test_signatures_match_keras():
    names = [n for n in fk.applications.__all__
             if any(n == m or inspect.getmodule(getattr(fk.applications, n)).__name__.endswith(
                 "." + m) for m in MODULES)]
    assert set(MODULES) <= set(names)
    for name in names:
        ours = getattr(fk.applications, name)
        theirs = getattr(kapps, name)
        if inspect.isfunction(ours):
            assert inspect.signature(ours) == inspect.signature(theirs), name
        else:  # a submodule: the same public functions
            public = {n for n in dir(theirs) if not n.startswith("_")}
            assert public <= set(dir(ours)), (name, public - set(dir(ours)))
            for fn in public:
                if inspect.isfunction(getattr(theirs, fn)):
                    assert (inspect.signature(getattr(ours, fn))
                            == inspect.signature(getattr(theirs, fn))), (name, fn)


@pytest.mark.parametrize("module", MODULES)
def test_preprocess_input(module):
    ours = getattr(fk.applications, module)
    theirs = getattr(kapps, module)
    for data_format in (None, "channels_first"):
        x = images((3, 4, 3))
        np.testing.assert_allclose(ours.preprocess_input(x.copy(), data_format=data_format),
                                   theirs.preprocess_input(x.copy(), data_format=data_format),
                                   rtol=1e-6)
        x = fk.ops.convert_to_tensor(x)
        np.testing.assert_allclose(ops_np(ours.preprocess_input(x, data_format=data_format)),
                                   ops_np(theirs.preprocess_input(
                                       k3.ops.convert_to_tensor(ops_np(x)),
                                       data_format=data_format)), rtol=1e-6)
        x = images((4, 4, 3))
        np.testing.assert_allclose(ours.preprocess_input(x.copy(), data_format=data_format),
                                   theirs.preprocess_input(x.copy(), data_format=data_format),
                                   rtol=1e-6)


def test_hash_tables_and_urls():
    for module in MODULES:
        ours = importlib.import_module(f"fastkeras.applications.{module}")
        theirs = importlib.import_module(f"keras.src.applications.{module}")
        if hasattr(theirs, "WEIGHTS_HASHES"):
            assert ours.WEIGHTS_HASHES == theirs.WEIGHTS_HASHES, module
        for constant in ("BASE_WEIGHT_PATH", "BASE_WEIGHTS_PATH", "BASE_WEIGHT_URL"):
            if hasattr(theirs, constant):
                assert getattr(ours, constant) == getattr(theirs, constant), module


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


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined")
@pytest.mark.parametrize("ctor,kwargs", [
    ("MobileNetV3Small", dict(include_top=False, alpha=0.75, input_shape=(32, 32, 3))),
    ("MobileNetV3Large", dict(include_top=True, minimalistic=True)),
    ("EfficientNetV2B0", dict(include_top=False, input_shape=(32, 32, 3))),
    ("EfficientNetV2B3", dict(include_top=True)),
    ("EfficientNetV2S", dict(include_top=False, input_shape=(32, 32, 3))),
    ("EfficientNetV2B1", dict(include_top=True)),
    ("ConvNeXtSmall", dict(include_top=True)),
    ("ConvNeXtTiny", dict(include_top=False, input_shape=(32, 32, 3))),
    ("InceptionResNetV2", dict(include_top=True)),
    ("InceptionResNetV2", dict(include_top=False, input_shape=(75, 75, 3))),
])
def test_released_file_requests(monkeypatch, ctor, kwargs):
    # the get_file call (name, URL, cache folder, hash) each constructor makes, as Keras's
    from keras.src.utils import file_utils as keras_file_utils

    from fastkeras.utils import file_utils
    ours, theirs = [], []
    monkeypatch.setattr(file_utils, "get_file", _recorder(ours))
    monkeypatch.setattr(keras_file_utils, "get_file", _recorder(theirs))
    assert (_requested(getattr(fk.applications, ctor), ours, **kwargs)
            == _requested(getattr(kapps, ctor), theirs, **kwargs))


# --- "imagenet" weights through a local server ----------------------------------------------

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _save_legacy(model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _imagenet_through_server(tmp_path, monkeypatch, module, ctor, url_constant, hash_key,
                             fname, kwargs, warns=None):
    ours_module = importlib.import_module(f"fastkeras.applications.{module}")
    fresh(fk, k3)
    theirs = getattr(kapps, ctor)(weights=None, **kwargs)
    _randomize(theirs)
    path = _save_legacy(theirs, tmp_path / fname)
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    with Server({fname: path.read_bytes()}) as server:
        monkeypatch.setattr(ours_module, url_constant, server.url)
        hashes = dict(ours_module.WEIGHTS_HASHES)
        hashes[hash_key] = (digest, digest)
        monkeypatch.setattr(ours_module, "WEIGHTS_HASHES", hashes)
        fresh(fk, k3)
        if warns:
            with pytest.warns(UserWarning, match=warns):
                ours = getattr(fk.applications, ctor)(weights="imagenet", **kwargs)
        else:
            ours = getattr(fk.applications, ctor)(weights="imagenet", **kwargs)
        assert server.requests == [fname]
    assert_same_outputs(ours, theirs, kwargs["input_shape"])
    return ours


def test_imagenet_mobilenet_v3(tmp_path, keras_home, monkeypatch):
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    ours = _imagenet_through_server(
        tmp_path, monkeypatch, "mobilenet_v3", "MobileNetV3Small", "BASE_WEIGHT_PATH",
        "small_224_1.0_float", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        kwargs, warns="224")
    assert ours.name == "MobileNetV3Small"


def test_imagenet_efficientnet_v2(tmp_path, keras_home, monkeypatch):
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="max")
    ours = _imagenet_through_server(
        tmp_path, monkeypatch, "efficientnet_v2", "EfficientNetV2B0", "BASE_WEIGHTS_PATH",
        "b0", "efficientnetv2-b0_notop.h5", kwargs)
    assert ours.name == "efficientnetv2-b0"


# --- errors -----------------------------------------------------------------------------------

def _message(fn, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("ctor,kwargs", [
    ("MobileNetV3Small", dict(weights=None, input_shape=(31, 40, 3))),
    ("MobileNetV3Large", dict(weights="imagenet", alpha=0.5)),
    ("MobileNetV3Large", dict(weights="imagenet", minimalistic=True, alpha=0.75)),
    ("EfficientNetV2B0", dict(weights=None, include_top=False, input_shape=(31, 40, 3))),
    ("EfficientNetV2S", dict(weights="imagenet", include_top=True,
                             input_shape=(200, 200, 3))),
])
def test_errors_like_keras(ctor, kwargs):
    ours = _message(getattr(fk.applications, ctor), **kwargs)
    theirs = _message(getattr(kapps, ctor), **kwargs)
    assert ours == theirs or ours.startswith(theirs.rstrip("."))


@pytest.fixture
def channels_first():
    fk.backend.set_image_data_format("channels_first")
    k3.backend.set_image_data_format("channels_first")
    yield
    fk.backend.set_image_data_format("channels_last")
    k3.backend.set_image_data_format("channels_last")


@pytest.mark.parametrize("ctor,kwargs", [
    ("MobileNetV3Small", dict(include_top=True, classes=5, input_shape=(3, 32, 32))),
    ("EfficientNetV2B0", dict(include_top=False, input_shape=(3, 32, 32))),
])
def test_channels_first(channels_first, ctor, kwargs):
    fresh(fk, k3)
    theirs = getattr(kapps, ctor)(weights=None, **kwargs)
    fresh(fk, k3)
    ours = getattr(fk.applications, ctor)(weights=None, **kwargs)
    assert_same_model(ours, theirs)
    _randomize(theirs)
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, kwargs["input_shape"])


def test_input_tensor_mobilenet_v3():
    def build(lib):
        inputs = lib.Input((32, 32, 3))
        x = lib.layers.Rescaling(2.0)(inputs)
        return lib.applications.MobileNetV3Small(weights=None, include_top=False,
                                                 input_tensor=x, pooling="avg")

    fresh(fk, k3)
    theirs = build(k3)
    fresh(fk, k3)
    ours = build(fk)
    assert_same_model(ours, theirs)
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, (32, 32, 3))


# --- ConvNeXt ---------------------------------------------------------------------------------

def test_imagenet_convnext(tmp_path, keras_home, monkeypatch):
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    ours = _imagenet_through_server(
        tmp_path, monkeypatch, "convnext", "ConvNeXtTiny", "BASE_WEIGHTS_PATH",
        "convnext_tiny", "convnext_tiny_notop.h5", kwargs)
    assert ours.name == "convnext_tiny"


def test_convnext_imagenet_name_must_hold_the_variant():
    assert _message(fk.applications.ConvNeXtTiny, weights="imagenet", name="mine") == \
        _message(kapps.ConvNeXtTiny, weights="imagenet", name="mine")


def test_convnext_refuses_channels_first(channels_first):
    assert _message(fk.applications.ConvNeXtTiny, weights=None) == \
        _message(kapps.ConvNeXtTiny, weights=None)


def test_convnext_keras_file_loads(tmp_path):
    # a .keras file of Keras's ConvNeXt names its LayerScale layers by their bare class name
    fresh(fk, k3)
    theirs = kapps.ConvNeXtTiny(weights=None, include_top=True, classes=4,
                                input_shape=(32, 32, 3))
    _randomize(theirs)
    path = tmp_path / "convnext.keras"
    theirs.save(path)
    ours = fk.models.load_model(path)
    assert isinstance(ours.get_layer("convnext_tiny_stage_0_block_0_layer_scale"),
                      fk.applications.convnext.LayerScale)
    assert_same_outputs(ours, theirs, (32, 32, 3))


def test_convnext_custom_layers():
    from keras.src.applications import convnext as keras_convnext

    from fastkeras.applications.convnext import LayerScale, StochasticDepth
    x = np.random.default_rng(0).normal(size=(8, 3, 5)).astype("float32")
    scale = LayerScale(0.5, 5)
    np.testing.assert_allclose(ops_np(scale(x)), x * 0.5)
    assert scale.get_config()["init_values"] == 0.5
    assert {k: v for k, v in scale.get_config().items() if k != "dtype"} == \
        {k: v for k, v in keras_convnext.LayerScale(0.5, 5, name=scale.name).get_config()
         .items() if k != "dtype"}
    depth = StochasticDepth(0.5)
    np.testing.assert_allclose(ops_np(depth(x)), x)
    dropped = ops_np(depth(x, training=True))
    for sample, original in zip(dropped, x):  # whole samples dropped or scaled by 2
        assert np.allclose(sample, 0) or np.allclose(sample, 2 * original)
    assert depth.get_config()["drop_path_rate"] == 0.5
    block = fk.applications.convnext.ConvNeXtBlock(8, drop_path_rate=0.1, name="b")
    y = block(fk.Input((4, 4, 8)))
    assert y.shape == (None, 4, 4, 8)


def ops_np(x):
    return np.asarray(fk.ops.convert_to_numpy(x))


def test_nested_sequential_weight_paths():
    fresh(fk, k3)
    theirs = kapps.ConvNeXtTiny(weights=None, include_top=False, input_shape=(32, 32, 3))
    fresh(fk, k3)
    ours = fk.applications.ConvNeXtTiny(weights=None, include_top=False,
                                        input_shape=(32, 32, 3))
    assert ours.weights[0].path == theirs.weights[0].path


def test_imagenet_inception_resnet_v2(tmp_path, keras_home, monkeypatch):
    from fastkeras.applications import inception_resnet_v2
    kwargs = dict(include_top=False, input_shape=(75, 75, 3), pooling="avg")
    fresh(fk, k3)
    theirs = kapps.InceptionResNetV2(weights=None, **kwargs)
    _randomize(theirs)
    fname = inception_resnet_v2.WEIGHTS_FILES[1][0]
    path = _save_legacy(theirs, tmp_path / fname)
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    with Server({fname: path.read_bytes()}) as server:
        monkeypatch.setattr(inception_resnet_v2, "BASE_WEIGHT_URL", server.url)
        monkeypatch.setattr(inception_resnet_v2, "WEIGHTS_FILES",
                            (inception_resnet_v2.WEIGHTS_FILES[0], (fname, digest)))
        fresh(fk, k3)
        ours = fk.applications.InceptionResNetV2(weights="imagenet", **kwargs)
        assert server.requests == [fname]
    assert_same_outputs(ours, theirs, kwargs["input_shape"])
