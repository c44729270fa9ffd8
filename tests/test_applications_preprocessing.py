"""The applications' `preprocess_input` and `decode_predictions` against real Keras 3: the
same values (and the same in-place writes on float arrays), and the ImageNet class index
fetched through `get_file` from a local server."""

import hashlib
import json

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.applications import imagenet_utils
from file_server import Server

k3 = pytest.importorskip("keras")
from keras.src.applications import imagenet_utils as keras_imagenet_utils

MODULES = ["vgg16", "vgg19", "resnet", "resnet50", "resnet_v2", "mobilenet", "mobilenet_v2",
           "densenet", "inception_v3", "xception", "efficientnet"]


def _pixels(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype(dtype)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("shape,data_format", [
    ((2, 5, 6, 3), "channels_last"), ((5, 6, 3), "channels_last"),
    ((2, 3, 5, 6), "channels_first"), ((3, 5, 6), None),
])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8", "int32"])
def test_preprocess_input_numpy(module, shape, data_format, dtype):
    if data_format is None and len(shape) == 3 and shape[0] == 3:
        data_format = "channels_first"
    ours_fn = getattr(fk.applications, module).preprocess_input
    theirs_fn = getattr(k3.applications, module).preprocess_input
    x_ours, x_theirs = _pixels(shape, dtype), _pixels(shape, dtype)
    got = ours_fn(x_ours, data_format=data_format)
    expected = theirs_fn(x_theirs, data_format=data_format)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x_ours, x_theirs)  # the same in-place writes


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("shape,data_format", [
    ((2, 4, 5, 3), "channels_last"), ((3, 4, 5), "channels_first"),
    ((2, 3, 4, 5), "channels_first"), ((4, 5, 3), "channels_last"),
])
def test_preprocess_input_tensors(mode, shape, data_format):
    x = _pixels(shape, "float32")
    expected = keras_imagenet_utils.preprocess_input(x.copy(), data_format=data_format,
                                                     mode=mode)
    tensor = fk.ops.convert_to_tensor(x)
    got = imagenet_utils.preprocess_input(tensor, data_format=data_format, mode=mode)
    assert not isinstance(got, np.ndarray)
    np.testing.assert_allclose(fk.ops.convert_to_numpy(got), expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(x, fk.ops.convert_to_numpy(tensor))  # left alone


def test_preprocess_input_in_a_model():
    # the documented use: preprocessing on a symbolic uint8 input, then the network
    inputs = fk.Input((8, 8, 3), dtype="uint8")
    x = fk.ops.cast(inputs, "float32")
    outputs = fk.applications.vgg16.preprocess_input(x)
    model = fk.Model(inputs, outputs)
    images = _pixels((2, 8, 8, 3), "uint8")
    expected = k3.applications.vgg16.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-4)


def test_preprocess_input_errors():
    x = np.zeros((1, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="mode=other"):
        imagenet_utils.preprocess_input(x, mode="other")
    with pytest.raises(ValueError, match="data_format=nhwc"):
        fk.applications.resnet.preprocess_input(x, data_format="nhwc")


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A made-up 1000-class index, served locally under Keras's file name."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    body = json.dumps(index).encode()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(keras_imagenet_utils, "CLASS_INDEX", index)
    with Server({"data/imagenet_class_index.json": body}) as server:
        monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH",
                            server.url + "data/imagenet_class_index.json")
        monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(body).hexdigest())
        yield server, tmp_path / "keras_home" / "models" / "imagenet_class_index.json"


def test_decode_predictions(class_index):
    server, cached = class_index
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    for module in MODULES:
        got = getattr(fk.applications, module).decode_predictions(preds, top=4)
        expected = getattr(k3.applications, module).decode_predictions(preds, top=4)
        assert got == expected
    assert fk.applications.vgg16.decode_predictions(preds) == \
        keras_imagenet_utils.decode_predictions(preds)
    assert len(fk.applications.vgg16.decode_predictions(preds)[0]) == 5
    # fetched once (cached in memory and in KERAS_HOME/models)
    assert server.requests == ["data/imagenet_class_index.json"]
    assert cached.is_file()
    # a tensor works as well
    assert fk.applications.resnet.decode_predictions(fk.ops.convert_to_tensor(preds)) == \
        keras_imagenet_utils.decode_predictions(preds)


def test_decode_predictions_hash_mismatch(class_index, monkeypatch):
    _, cached = class_index
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", "0" * 32)
    with pytest.raises(ValueError, match="hash"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000), "float32"))
    assert not cached.exists()


def test_decode_predictions_shape_error():
    with pytest.raises(ValueError) as ours:
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError) as theirs:
        keras_imagenet_utils.decode_predictions(np.zeros((2, 10)))
    assert str(ours.value) == str(theirs.value)


def test_keras_constants():
    assert imagenet_utils.CLASS_INDEX_PATH == keras_imagenet_utils.CLASS_INDEX_PATH
    import inspect
    assert f'file_hash="{imagenet_utils.CLASS_INDEX_HASH}"' in inspect.getsource(
        keras_imagenet_utils.decode_predictions)


def test_helpers_match_keras():
    for args in [((224, 224, 3), 224, 32, "channels_last", True, None),
                 (None, 224, 32, "channels_last", False, None),
                 (None, 299, 75, "channels_first", True, "imagenet"),
                 ((100, 120, 1), 224, 32, "channels_last", False, None),
                 ((3, None, None), 224, 32, "channels_first", False, None)]:
        assert imagenet_utils.obtain_input_shape(*args) == \
            keras_imagenet_utils.obtain_input_shape(*args)
    for shape in [(None, 33, 34, 3), (None, 32, 32, 3), (None, None, None, 8)]:
        for kernel in (3, 5, (3, 5)):
            assert imagenet_utils.correct_pad(fk.Input(shape[1:]), kernel) == \
                keras_imagenet_utils.correct_pad(k3.Input(shape[1:]), kernel)
