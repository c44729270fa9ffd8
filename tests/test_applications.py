"""keras.applications against real Keras 3: the same layers (names, classes, output shapes),
the same weights (shapes and paths), the same outputs once Keras's weights are copied over,
and weights loaded from a file or from a local stand-in for the "imagenet" download."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from app_compare import assert_same_outputs, fresh, images, randomize_bn, structure

k3 = pytest.importorskip("keras")
kapps = k3.applications


def _weights(model):
    return [(v.path, tuple(v.shape)) for v in model.weights]


def assert_same_model(ours, theirs):
    assert ours.name == theirs.name
    assert structure(ours) == structure(theirs)
    assert _weights(ours) == _weights(theirs)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)


CASES = [
    ("VGG16", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"), True),
    ("VGG19", dict(include_top=True, classes=10, input_shape=(32, 32, 3),
                   classifier_activation=None), True),
    ("ResNet50", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("ResNet101", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"), False),
    ("ResNet152", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"), False),
    ("ResNet50V2", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("ResNet101V2", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("ResNet152V2", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("MobileNet", dict(include_top=True, classes=10, input_shape=(32, 32, 3), alpha=0.5,
                       depth_multiplier=2), True),
    ("MobileNet", dict(include_top=False, input_shape=(40, 48, 3), pooling="avg"), True),
    ("MobileNetV2", dict(include_top=True, classes=10, input_shape=(32, 32, 3), alpha=0.35),
     True),
    ("MobileNetV2", dict(include_top=False, input_shape=(33, 35, 3), alpha=1.4), True),
    ("DenseNet121", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("DenseNet169", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("DenseNet201", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"), False),
    ("InceptionV3", dict(include_top=False, input_shape=(75, 75, 3), pooling="avg"), True),
    ("InceptionV3", dict(include_top=True, classes=10, input_shape=(75, 75, 3)), False),
    ("Xception", dict(include_top=True, classes=10, input_shape=(71, 71, 3)), True),
    ("EfficientNetB0", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), True),
    ("EfficientNetB1", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"), True),
    ("EfficientNetB2", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("EfficientNetB3", dict(include_top=False, input_shape=(32, 32, 3)), False),
    ("EfficientNetB7", dict(include_top=False, input_shape=(32, 32, 3)), False),
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
        randomize_bn(theirs)
        ours.set_weights(theirs.get_weights())
        assert_same_outputs(ours, theirs, kwargs["input_shape"])


@pytest.mark.parametrize("variant", [f"B{i}" for i in range(8)])
def test_efficientnet_variants_pass_keras_arguments(variant, monkeypatch):
    # B4..B6 are not built above: their scaling constants are checked here, as the
    # arguments each variant hands to the shared builder
    from keras.src.applications import efficientnet as theirs_module

    from fastkeras.applications import efficientnet as ours_module

    def recorder(calls):
        def record(*args, **kwargs):
            calls.append((args, kwargs))
        return record

    ours, theirs = [], []
    monkeypatch.setattr(ours_module, "EfficientNet", recorder(ours))
    monkeypatch.setattr(theirs_module, "EfficientNet", recorder(theirs))
    getattr(ours_module, f"EfficientNet{variant}")(weights=None, pooling="avg")
    getattr(theirs_module, f"EfficientNet{variant}")(weights=None, pooling="avg")
    assert ours == theirs


def test_default_names_and_shapes():
    # names that depend on the arguments, and free image sizes without the top
    fresh(fk, k3)
    m = fk.applications.MobileNet(weights=None, include_top=False, alpha=0.25)
    assert m.name == "mobilenet_0.25_None"
    assert m.input.shape == (None, None, None, 3)
    assert m.output.shape == (None, None, None, 256)
    m = fk.applications.MobileNetV2(weights=None, include_top=False, alpha=0.5,
                                    input_shape=(96, 96, 3))
    assert m.name == "mobilenetv2_0.50_96"
    m = fk.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3),
                                    alpha=0.35, name="mine", pooling="avg")
    assert m.name == "mine" and m.output.shape == (None, 1280)
    x = images((40, 56, 3), batch=1)
    assert fk.applications.MobileNet(weights=None, include_top=False, alpha=0.25).predict(
        x, verbose=0).shape == (1, 1, 1, 256)


def test_signatures_match_keras():
    for name in fk.applications.__all__:
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


def test_input_tensor():
    def build(lib):
        inputs = lib.Input((32, 32, 3))
        x = lib.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        base = lib.applications.MobileNetV2(weights=None, include_top=False, input_tensor=x,
                                            alpha=0.35, pooling="avg")
        return base

    fresh(fk, k3)
    theirs = build(k3)
    fresh(fk, k3)
    ours = build(fk)
    assert_same_model(ours, theirs)
    assert [t.shape for t in ours.inputs] == [(None, 32, 32, 3)]
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, (32, 32, 3))


# --- errors -----------------------------------------------------------------------------------

def _message(fn, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("ctor,kwargs", [
    ("VGG16", dict(weights=None, include_top=False, input_shape=(31, 40, 3))),
    ("ResNet50", dict(weights=None, include_top=False, input_shape=(32, 32))),
    ("ResNet50", dict(weights=None, include_top=True, input_shape=(None, None, 3))),
    ("InceptionV3", dict(weights=None, include_top=False, input_shape=(74, 80, 3))),
    ("Xception", dict(weights=None, include_top=False, input_shape=(70, 80, 3))),
    ("VGG16", dict(weights="imagenet", include_top=True, classes=10)),
    ("ResNet50", dict(weights="no/such/file.weights.h5")),
    ("VGG19", dict(weights="imagenet", include_top=False, input_shape=(64, 64, 1))),
    ("ResNet101", dict(weights="imagenet", include_top=True, input_shape=(200, 200, 3))),
    ("MobileNet", dict(weights="imagenet", alpha=0.3)),
    ("MobileNet", dict(weights="imagenet", depth_multiplier=2)),
    ("MobileNetV2", dict(weights="imagenet", alpha=0.6)),
    ("ResNet50", dict(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))),
    ("MobileNetV2", dict(weights=None, include_top=False, input_shape=(32, 32, 3),
                         input_tensor=np.zeros((1, 32, 32, 3)))),
])
def test_errors_match_keras(ctor, kwargs):
    ours = _message(getattr(fk.applications, ctor), **kwargs)
    theirs = _message(getattr(kapps, ctor), **kwargs)
    # the same text; ours may add the received value where Keras's does not name it
    assert ours == theirs or ours.startswith(theirs)


@pytest.mark.parametrize("ctor", ["DenseNet121", "Xception", "EfficientNetB0"])
def test_errors_name_the_value(ctor):
    msg = _message(getattr(fk.applications, ctor), weights="imagenet", classes=7)
    assert "classes=7" in msg and "1000" in msg
    msg = _message(getattr(fk.applications, ctor), weights="bogus")
    assert "weights=bogus" in msg


def test_classifier_activation_with_pretrained_weights(tmp_path):
    path = tmp_path / "m.weights.h5"
    fk.applications.MobileNet(weights=None, alpha=0.25, input_shape=(32, 32, 3),
                              classes=1000).save_weights(path)
    msg = _message(fk.applications.MobileNet, weights=str(path), alpha=0.25,
                   input_shape=(32, 32, 3), classifier_activation="relu")
    assert "classifier_activation" in msg
    model = fk.applications.MobileNet(weights=str(path), alpha=0.25, input_shape=(32, 32, 3),
                                      classifier_activation=None)
    assert model.output.shape == (None, 1000)


@pytest.fixture
def channels_first():
    fk.backend.set_image_data_format("channels_first")
    k3.backend.set_image_data_format("channels_first")
    yield
    fk.backend.set_image_data_format("channels_last")
    k3.backend.set_image_data_format("channels_last")


@pytest.mark.parametrize("ctor,kwargs", [
    ("MobileNetV2", dict(include_top=True, classes=5, input_shape=(3, 32, 32), alpha=0.35)),
    ("EfficientNetB0", dict(include_top=False, input_shape=(3, 32, 32))),
])
def test_channels_first(channels_first, ctor, kwargs):
    fresh(fk, k3)
    theirs = getattr(kapps, ctor)(weights=None, **kwargs)
    fresh(fk, k3)
    ours = getattr(fk.applications, ctor)(weights=None, **kwargs)
    assert_same_model(ours, theirs)
    randomize_bn(theirs)
    ours.set_weights(theirs.get_weights())
    assert_same_outputs(ours, theirs, kwargs["input_shape"])


def test_densenet_refuses_channels_first(channels_first):
    assert _message(fk.applications.DenseNet121, weights=None) == \
        _message(kapps.DenseNet121, weights=None)


def test_saved_model_opens_in_keras(tmp_path):
    ours = fk.applications.EfficientNetB0(weights=None, include_top=True, classes=4,
                                          input_shape=(32, 32, 3))
    path = tmp_path / "efficientnet.keras"
    ours.save(path)
    theirs = k3.models.load_model(path)
    assert theirs.name == "efficientnetb0"
    assert_same_outputs(ours, theirs, (32, 32, 3))
