"""keras.preprocessing (its surface, and smart_resize's values against real Keras),
keras.utils.Config, and the interactive-logging switch of keras.utils / keras.config."""

import inspect
import io
import json
import logging

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import utils
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.callbacks.progbar_logger import Progbar
from fastkeras.preprocessing.image import smart_resize


@pytest.fixture(scope="module")
def keras3():
    return pytest.importorskip("keras")


def _public(module):
    return sorted(name for name in dir(module) if not name.startswith("_"))


# --- module surface -------------------------------------------------------------------------

def test_preprocessing_modules_match_keras(keras3):
    assert fk.preprocessing is __import__("fastkeras.preprocessing").preprocessing
    pairs = [(fk.preprocessing, keras3.preprocessing),
             (fk.preprocessing.image, keras3.preprocessing.image),
             (fk.preprocessing.sequence, keras3.preprocessing.sequence)]
    for ours, theirs in pairs:
        assert _public(ours) == _public(theirs), ours.__name__
        for name in _public(theirs):
            if callable(getattr(theirs, name)):
                assert inspect.signature(getattr(ours, name)) == \
                    inspect.signature(getattr(theirs, name)), name


def test_preprocessing_reexports_the_utils_functions():
    assert fk.preprocessing.image_dataset_from_directory is utils.image_dataset_from_directory
    assert fk.preprocessing.text_dataset_from_directory is utils.text_dataset_from_directory
    assert fk.preprocessing.timeseries_dataset_from_array is \
        utils.timeseries_dataset_from_array
    assert fk.preprocessing.sequence.pad_sequences is utils.pad_sequences
    for name in ("array_to_img", "img_to_array", "load_img", "save_img"):
        assert getattr(fk.preprocessing.image, name) is getattr(utils, name)


def test_utils_has_the_new_keras_names_with_keras_signatures(keras3):
    names = ["Config", "array_to_img", "img_to_array", "load_img", "save_img", "get_file",
             "disable_interactive_logging", "enable_interactive_logging",
             "is_interactive_logging_enabled", "image_dataset_from_directory",
             "text_dataset_from_directory", "timeseries_dataset_from_array", "pad_sequences"]
    for name in names:
        assert name in utils.__all__ and hasattr(utils, name), name
        ours, theirs = getattr(utils, name), getattr(keras3.utils, name)
        assert inspect.signature(ours) == inspect.signature(theirs), name
    for name in ("disable_interactive_logging", "enable_interactive_logging",
                 "is_interactive_logging_enabled"):
        assert inspect.signature(getattr(fk.config, name)) == \
            inspect.signature(getattr(keras3.config, name))
    # every keras.utils name of the preprocessing/image/config family is present
    wanted = set(_public(keras3.preprocessing)) | set(_public(keras3.preprocessing.image)) \
        | set(_public(keras3.preprocessing.sequence))
    wanted = (wanted - {"image", "sequence", "smart_resize"}) | {"Config", "get_file"}
    assert wanted <= set(_public(utils))


# --- smart_resize ---------------------------------------------------------------------------

_CASES = [((7, 9, 3), (4, 5)), ((9, 7, 1), (12, 5)), ((2, 10, 6, 3), (3, 3)),
          ((5, 5, 2), (5, 5)), ((3, 17, 2), (8, 2)), ((6, 4, 3), (6, 9)),
          ((1, 1, 3), (4, 4)), ((340, 500, 3), (200, 200))]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_smart_resize_matches_keras_on_float_images(keras3, interpolation, data_format):
    rng = np.random.RandomState(0)
    for shape, size in _CASES:
        for dtype in ("float32", "float64"):
            x = (rng.rand(*shape) * 255).astype(dtype)
            theirs = keras3.preprocessing.image.smart_resize(
                x, size, interpolation=interpolation, data_format=data_format)
            ours = smart_resize(x, size, interpolation=interpolation, data_format=data_format)
            assert isinstance(ours, np.ndarray)
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-3 if dtype == "float32" else 1e-9)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_smart_resize_matches_keras_on_integer_images(keras3, interpolation):
    """Integer images are resized in float32 and rounded back, as Keras does; a value that
    lands within float32 rounding of .5 may round the other way (differ by 1)."""
    rng = np.random.RandomState(1)
    total = differ = 0
    for shape, size in _CASES:
        for dtype in ("uint8", "int32", "float16"):
            x = (rng.rand(*shape) * 255).astype(dtype)
            theirs = keras3.preprocessing.image.smart_resize(x, size,
                                                             interpolation=interpolation)
            ours = smart_resize(x, size, interpolation=interpolation)
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
            gap = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
            assert gap.max() <= (0.25 if dtype == "float16" else 1)
            if dtype != "float16":
                total += gap.size
                differ += int(np.count_nonzero(gap))
    assert differ <= 0.01 * total
    if interpolation == "nearest":
        assert differ == 0


def test_smart_resize_crops_the_centre_without_distortion():
    x = np.arange(6 * 10, dtype=np.float32).reshape(6, 10, 1)
    out = smart_resize(x, (6, 6), interpolation="nearest")
    np.testing.assert_array_equal(out, x[:, 2:8])  # the central 6x6 square, unscaled
    batch = np.stack([x, x + 100])
    out = smart_resize(batch, (3, 3), interpolation="nearest")
    assert out.shape == (2, 3, 3, 1)


def test_smart_resize_of_tensors_returns_tensors_with_gradients():
    x = np.random.RandomState(2).rand(1, 8, 6, 2).astype(np.float32)
    ours = smart_resize(convert_to_tensor(x), (3, 3))
    assert isinstance(ours, Tensor)
    np.testing.assert_allclose(np.asarray(ours.value), smart_resize(x, (3, 3)), rtol=1e-6)
    var = fk.Variable(x)
    with fk.GradientTape() as tape:
        loss = fk.ops.sum(smart_resize(var, (3, 3)))
    grad = tape.gradient(loss, var)
    assert grad.shape == x.shape and float(fk.ops.sum(grad)) == pytest.approx(9 * 2, rel=1e-5)


def test_smart_resize_errors_name_the_argument():
    x = np.zeros((5, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"size=\(3,\)"):
        smart_resize(x, (3,))
    with pytest.raises(ValueError, match="size=5"):
        smart_resize(x, 5)
    with pytest.raises(ValueError, match=r"size=\(3, -1\)"):
        smart_resize(x, (3, -1))
    with pytest.raises(ValueError, match=r"shape \(5, 5\)"):
        smart_resize(np.zeros((5, 5)), (3, 3))
    with pytest.raises(ValueError, match="interpolation='cubic'"):
        smart_resize(x, (3, 3), interpolation="cubic")
    with pytest.raises(NotImplementedError, match="interpolation='lanczos3'"):
        smart_resize(x, (3, 3), interpolation="lanczos3")
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        smart_resize(x, (3, 3), data_format="nhwc")
    with pytest.raises(TypeError, match="foo"):
        smart_resize(x, (3, 3), foo=1)


# --- Config ---------------------------------------------------------------------------------

def _exercise(config_class):
    """The same sequence of operations on a Config class; returns what was observed."""
    seen = []
    config = config_class(learning_rate=0.1, momentum=0.9)
    config.use_ema = True
    config["seed"] = 123
    seen.append((config.seed, config["learning_rate"], config.get("missing", "dflt")))
    seen.append((list(config.keys()), list(config.values()), list(config.items())))
    seen.append((list(config), len(config), "seed" in config, "nope" in config))
    seen.append((json.loads(config.to_json()), config.as_dict(), repr(config)))
    copy = config.as_dict()
    copy["other"] = 1
    seen.append("other" in config)
    config.update({"zeta": 2}, alpha=3)
    seen.append(config.pop("zeta"))
    del config["alpha"]
    config.freeze()
    seen.append(config.frozen)
    for attempt in (lambda: setattr(config, "x", 1), lambda: config.__setitem__("x", 1),
                    lambda: config.update(x=1), lambda: config.pop("seed"),
                    lambda: config.__delitem__("seed")):
        try:
            attempt()
            seen.append("no error")
        except ValueError as exc:
            seen.append(str(exc))
    seen.append(config.seed)
    config.unfreeze()
    config.seed = 7
    seen.append((config.frozen, config.seed))
    for name in ("learnig_rate", "completely_different"):
        try:
            getattr(config, name)
        except AttributeError as exc:
            seen.append(str(exc))
    return seen


def test_config_behaves_like_keras(keras3):
    assert _exercise(utils.Config) == _exercise(keras3.utils.Config)


def test_config_basics():
    config = utils.Config(beta=1, alpha=2)
    assert list(config) == ["alpha", "beta"]  # iteration is in sorted key order
    assert config.to_json() == '{"beta": 1, "alpha": 2}'
    config.freeze()
    with pytest.raises(ValueError, match="frozen"):
        config.c = 3
    assert not hasattr(config, "c")
    with pytest.raises(AttributeError, match="Did you mean 'alpha'"):
        config.alpah  # noqa: B018


# --- interactive logging --------------------------------------------------------------------

@pytest.fixture
def logging_off():
    utils.disable_interactive_logging()
    yield
    utils.enable_interactive_logging()


def test_the_switch_is_shared_by_utils_and_config(keras3):
    assert utils.is_interactive_logging_enabled() is True
    assert keras3.utils.is_interactive_logging_enabled() is True
    try:
        fk.config.disable_interactive_logging()
        assert utils.is_interactive_logging_enabled() is False
        assert fk.config.is_interactive_logging_enabled() is False
        utils.enable_interactive_logging()
        assert fk.config.is_interactive_logging_enabled() is True
    finally:
        utils.enable_interactive_logging()


def test_progbar_goes_to_logging_when_disabled(logging_off, caplog, capsys):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="fastkeras"):
        bar = Progbar(3, stream=stream)
        for step in (1, 2, 3):
            bar.update(step, [("loss", 0.5)])
    assert stream.getvalue() == "" and capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "fastkeras"]
    assert len(messages) == 1
    assert messages[0].startswith("3/3 ") and messages[0].endswith("loss: 0.5000")
    assert "\r" not in messages[0] and "\x1b" not in messages[0]


def test_fit_and_callbacks_log_instead_of_printing(logging_off, caplog, capsys):
    x = np.random.RandomState(0).rand(16, 3).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = fk.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9, verbose=1)
    with caplog.at_level(logging.INFO, logger="fastkeras"):
        model.fit(x, y, epochs=3, batch_size=8, verbose=1, callbacks=[stop])
    assert capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "fastkeras"]
    assert "Epoch 1/3" in messages
    assert any(m.startswith("2/2 ") for m in messages)
    assert any("early stopping" in m for m in messages)


def test_enabled_logging_prints_to_stdout(capsys):
    assert utils.is_interactive_logging_enabled()
    bar = Progbar(2)
    bar.update(2, [("loss", 1.0)])
    assert capsys.readouterr().out.strip().startswith("2/2 ")
